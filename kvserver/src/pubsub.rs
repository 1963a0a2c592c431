//! Pub/sub in the server: a subscribed client's output queue, the sink through which the store's
//! bus fills it, and who writes the client's socket when.
//!
//! A connection thread spends its idle time blocked on its client's socket, so messages
//! published by other threads cannot wait for it to write them. From its first (un)subscribe
//! command a client is *queued*: every byte for it — its own replies and the bus's events
//! (confirmations and messages) — is appended to one queue in its [`ClientHandle`] ([`Output`]),
//! under the queue's lock, in the order it must leave, and bytes leave only from the front:
//!
//! - a publisher (any thread) appends a message under the bus lock ([`ClientSink::deliver`]) and,
//!   once its batch of requests is done, sends what the socket takes at once
//!   (`send(MSG_DONTWAIT)`, [`ClientSink::flush`]); if the socket is full it wakes the owner
//!   through an eventfd and leaves; it never waits for the client;
//! - the owner (the client's connection thread) appends each reply right after its command
//!   ran, holding the queue until the batch's writes are committed, then sends what the socket
//!   takes; while idle it waits in `poll` for its client's next request, the socket's room (when
//!   output is pending) and the eventfd together, and sends whenever there is room.
//!
//! Nothing is sent while the owner holds the queue, so no reply leaves before its batch's
//! commit; a message appended during a batch stays behind the replies already queued and ahead
//! of the next ones, so it never lands inside a reply; a subscription's confirmation is
//! appended by the bus under the same lock that publishing takes, so it precedes every message
//! of that channel. Sends take the queue lock, so two threads never write one socket at once.
//!
//! Limits: every append checks `client-output-buffer-limit pubsub` as Redis does after each
//! write to a client's buffer (hard limit reached, or soft limit exceeded for longer than its
//! seconds; the owner also checks the soft limit while idle); a client over it loses its
//! subscriptions at once, its queue is dropped, and it is logged and disconnected.
//!
//! When the last subscription is gone and the queue is empty, the client goes back to writing
//! its replies directly at the end of each batch.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kvcore::{Counts, Delivery, Event, Kind};
use kvproto::{Version, Writer};
use parking_lot::Mutex;

use crate::cmd::CmdError;
use crate::log::warning;
use crate::os::{self, Waker};
use crate::registry::ClientHandle;
use crate::settings::ClassLimit;
use crate::shared::Shared;
use crate::wire::Wire;

/// A drained queue whose buffer grew past this gives it back.
const KEEP: usize = 1024 * 1024;
/// Redis's reply block size: CLIENT LIST's `oll` counts pending output in these.
const BLOCK: usize = 16 * 1024;

/// A client's pending output, in the order it must leave.
#[derive(Debug, Default)]
struct Queue {
    buf: Vec<u8>,
    /// How much of `buf` was sent.
    sent: usize,
    /// The owner's batch has replies in `buf` that are not committed yet: nothing is sent.
    hold: bool,
    /// The owner's waker was written and the owner has not looked since.
    woken: bool,
    /// Over a limit, or the socket failed: nothing more is queued or sent.
    closed: bool,
    /// Why it was cut off, until someone reports it (log, kill, count).
    cut_off: Option<String>,
    /// Since when the pending output has been at or above the soft limit.
    soft_since: Option<Instant>,
    /// Bytes sent that the owner has not added to its `NetOut` counter yet (counters have one
    /// writer each, the owner; publishers send too).
    unreported: u64,
}

impl Queue {
    fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// Redis's `checkClientOutputBufferLimits`: why the pending output is over `limit`, if it
    /// is (hard limit reached, or soft limit reached continuously for more than its seconds).
    fn over(&mut self, limit: ClassLimit) -> Option<String> {
        let used = self.pending() as u64;
        if limit.hard > 0 && used >= limit.hard {
            return Some(format!("{used} bytes pending, hard limit {}", limit.hard));
        }
        if limit.soft == 0 || used < limit.soft {
            self.soft_since = None;
            return None;
        }
        let now = Instant::now();
        let since = *self.soft_since.get_or_insert(now);
        let elapsed = now.duration_since(since);
        (elapsed > Duration::from_secs(limit.secs)).then(|| {
            format!(
                "{used} bytes pending, over the soft limit {} for {}s",
                limit.soft,
                elapsed.as_secs()
            )
        })
    }

    /// Drops everything pending and refuses more; `why` waits to be reported.
    fn cut(&mut self, why: String) {
        self.closed = true;
        self.hold = false;
        self.cut_off = Some(why);
        self.buf = Vec::new();
        self.sent = 0;
        self.soft_since = None;
    }

    /// Sends what the socket takes now, without blocking. `Ok(true)`: some is left (the socket
    /// is full), in the queue or, for a TLS client, encrypted in its session.
    fn send(&mut self, wire: &Wire) -> io::Result<bool> {
        while self.pending() > 0 {
            match wire.send_nowait(&self.buf[self.sent..]) {
                Ok(n) => {
                    self.sent += n;
                    self.unreported += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Keep the dead prefix from growing without bound behind a slow reader.
                    if self.sent >= BLOCK && self.sent >= self.buf.len() / 2 {
                        self.buf.drain(..self.sent);
                        self.sent = 0;
                    }
                    return Ok(true);
                }
                Err(e) => {
                    // The peer is gone: its thread sees it on its next read.
                    self.closed = true;
                    self.buf = Vec::new();
                    self.sent = 0;
                    return Err(e);
                }
            }
        }
        self.buf.clear();
        self.sent = 0;
        if self.buf.capacity() > KEEP {
            self.buf.shrink_to(BLOCK);
        }
        self.soft_since = None;
        wire.flush_nowait()
    }
}

/// A client's pub/sub side that other threads reach: its output queue, the waker of its
/// thread, and its subscription counts (CLIENT LIST, INFO). Lives in its [`ClientHandle`].
#[derive(Debug, Default)]
pub(crate) struct Output {
    q: Mutex<Queue>,
    /// Made at the first subscription: one eventfd per client that ever subscribed.
    waker: OnceLock<Waker>,
    channels: AtomicUsize,
    patterns: AtomicUsize,
    shard_channels: AtomicUsize,
}

impl Output {
    /// Subscriptions per kind (CLIENT LIST's `sub`, `psub`, `ssub`).
    pub(crate) fn counts(&self) -> Counts {
        Counts {
            channels: self.channels.load(Ordering::Relaxed),
            patterns: self.patterns.load(Ordering::Relaxed),
            shard_channels: self.shard_channels.load(Ordering::Relaxed),
        }
    }

    fn set_counts(&self, c: Counts) {
        self.channels.store(c.channels, Ordering::Relaxed);
        self.patterns.store(c.patterns, Ordering::Relaxed);
        self.shard_channels
            .store(c.shard_channels, Ordering::Relaxed);
    }

    /// Pending output: CLIENT LIST's `oll` (in 16 KiB blocks, as Redis's reply list) and
    /// `omem` (bytes).
    pub(crate) fn memory(&self) -> (usize, usize) {
        let pending = self.q.lock().pending();
        (pending.div_ceil(BLOCK), pending)
    }

    /// Queues one bus event for a client speaking `version` (under the bus lock).
    fn deliver(&self, version: Version, event: &Event<'_>, limit: ClassLimit) -> Delivery {
        let mut q = self.q.lock();
        if q.closed {
            return Delivery::Queued;
        }
        encode(event, version, &mut q.buf);
        match q.over(limit) {
            Some(why) => {
                q.cut(why);
                Delivery::Overflow
            }
            None => Delivery::Flush,
        }
    }

    /// Appends bytes for the client from another thread (a MONITOR line), cutting it off if
    /// that puts it over `limit` (the next [`Output::flush`] reports it).
    pub(crate) fn append(&self, bytes: &[u8], limit: ClassLimit) {
        let mut q = self.q.lock();
        if q.closed {
            return;
        }
        q.buf.extend_from_slice(bytes);
        if let Some(why) = q.over(limit) {
            q.cut(why);
        }
    }

    /// Appends bytes for the client from another thread that may hold store locks (a tracking
    /// invalidation) and wakes the client's thread to send them; never touches the socket.
    pub(crate) fn push(&self, bytes: &[u8], limit: ClassLimit) {
        let mut q = self.q.lock();
        if q.closed {
            return;
        }
        q.buf.extend_from_slice(bytes);
        if let Some(why) = q.over(limit) {
            q.cut(why);
        }
        if !q.woken {
            q.woken = true;
            if let Some(w) = self.waker.get() {
                w.wake();
            }
        }
    }

    /// A publisher's flush, outside the bus lock: reports a cut-off, or sends what the socket
    /// takes and, if it is full, wakes the owner to send the rest.
    pub(crate) fn flush(&self, client: &ClientHandle, shared: &Shared) {
        let mut q = self.q.lock();
        if let Some(why) = q.cut_off.take() {
            drop(q);
            cut_off(client, shared, &why);
            return;
        }
        if q.hold || q.closed || q.pending() == 0 {
            return;
        }
        if let Ok(true) = q.send(client.socket())
            && !q.woken
        {
            q.woken = true;
            if let Some(w) = self.waker.get() {
                w.wake();
            }
        }
    }

    /// The owner, during a batch: moves `out` (replies) behind everything queued, and holds
    /// the queue until [`Output::release`] (also when `out` is empty: a batch may have writes
    /// to commit, or replies still with the replier, that no queued byte may overtake).
    /// `false` if that put the client over its limit (it is being cut off: the caller
    /// reports it).
    fn queue_replies(&self, out: &mut Vec<u8>, limit: ClassLimit) -> bool {
        let mut q = self.q.lock();
        if q.closed {
            out.clear();
            return q.cut_off.is_none();
        }
        q.hold = true;
        q.buf.extend_from_slice(out);
        out.clear();
        match q.over(limit) {
            Some(why) => {
                q.cut(why);
                false
            }
            None => true,
        }
    }

    /// The owner, after its batch's commit: lets the queue go and sends what the socket takes.
    fn release(&self, wire: &Wire) -> io::Result<()> {
        let mut q = self.q.lock();
        q.hold = false;
        if q.closed {
            return Ok(());
        }
        q.send(wire).map(drop)
    }

    /// The owner: a cut-off not reported yet, to report now.
    fn take_cut_off(&self) -> Option<String> {
        self.q.lock().cut_off.take()
    }

    /// The owner: bytes sent since it last asked, for its `NetOut` counter.
    fn take_sent(&self) -> u64 {
        std::mem::take(&mut self.q.lock().unreported)
    }

    /// Whether nothing is pending.
    fn is_empty(&self) -> bool {
        self.pending() == 0
    }

    /// Bytes pending.
    pub(crate) fn pending(&self) -> usize {
        self.q.lock().pending()
    }
}

/// Writes `event` as Redis does: `message`, `pmessage`, `smessage` and the (un)subscribe
/// confirmations, arrays in RESP2, push frames in RESP3.
fn encode(event: &Event<'_>, version: Version, out: &mut Vec<u8>) {
    let mut w = Writer::new(out, version);
    match *event {
        Event::Message {
            kind,
            pattern,
            channel,
            payload,
        } => {
            match (kind, pattern) {
                (Kind::Pattern, Some(p)) => {
                    w.push_len(4);
                    w.bulk(b"pmessage");
                    w.bulk(p);
                }
                (Kind::Shard, _) => {
                    w.push_len(3);
                    w.bulk(b"smessage");
                }
                _ => {
                    w.push_len(3);
                    w.bulk(b"message");
                }
            }
            w.bulk(channel);
            w.bulk(payload);
        }
        Event::Subscribed { kind, name, count } => {
            w.push_len(3);
            w.bulk(match kind {
                Kind::Channel => b"subscribe",
                Kind::Pattern => b"psubscribe",
                Kind::Shard => b"ssubscribe",
            });
            w.bulk(name);
            w.integer(count as i64);
        }
        Event::Unsubscribed { kind, name, count } => {
            w.push_len(3);
            w.bulk(match kind {
                Kind::Channel => b"unsubscribe",
                Kind::Pattern => b"punsubscribe",
                Kind::Shard => b"sunsubscribe",
            });
            match name {
                Some(n) => w.bulk(n),
                None => w.null(),
            }
            w.integer(count as i64);
        }
        // Events kvcore may add later have no Redis spelling yet.
        _ => {}
    }
}

/// Reports a client cut off at its limit: counted, logged as Redis logs it, disconnected.
fn cut_off(client: &ClientHandle, shared: &Shared, why: &str) {
    shared
        .output_limit_disconnections
        .fetch_add(1, Ordering::Relaxed);
    let l = shared.live.output_limits.pubsub.get();
    warning!(
        "Client id={} addr={} laddr={} name={} scheduled to be closed ASAP for overcoming of \
         output buffer limits ({why}; client-output-buffer-limit pubsub {} {} {})",
        client.id,
        client.addr,
        client.laddr,
        String::from_utf8_lossy(&client.name.lock()),
        l.hard,
        l.soft,
        l.secs
    );
    client.kill();
}

/// The sink a client's subscriptions deliver to: its [`Output`].
struct ClientSink {
    client: Arc<ClientHandle>,
    shared: Arc<Shared>,
}

impl kvcore::Sink for ClientSink {
    fn deliver(&self, event: &Event<'_>) -> Delivery {
        // The protocol at this point of the client's stream (HELLO may change it).
        let version = if self.client.resp.load(Ordering::Relaxed) == 3 {
            Version::Resp3
        } else {
            Version::Resp2
        };
        let limit = self.shared.live.output_limits.pubsub.get();
        self.client.pubsub.deliver(version, event, limit)
    }

    fn flush(&self) {
        self.client.pubsub.flush(&self.client, &self.shared);
    }
}

/// A connection's pub/sub state; lives in its `Session`.
#[derive(Debug, Default)]
pub(crate) struct ClientPubsub {
    subscriber: Option<kvcore::Subscriber>,
    /// The client has a subscription: in RESP2 it may then run only the (un)subscribe
    /// commands, PING, QUIT and RESET, and PING answers `pong` as an array.
    pub(crate) subscribed: bool,
    /// Every byte for this client goes through its queue (see the module docs).
    pub(crate) queued: bool,
    /// The client monitors (MONITOR): other threads append to its queue, which stays.
    pub(crate) monitor: bool,
    /// The client tracks keys (CLIENT TRACKING): invalidations join its queue, which stays.
    pub(crate) tracking: bool,
    /// Other clients' queues this connection published to in its current batch: flushed at
    /// the end of the batch, before anything that may block.
    pub(crate) pending: kvcore::PendingFlush,
}

impl ClientPubsub {
    /// Runs a (un)subscription: the client becomes queued first (its batch's replies so far
    /// go in ahead of the confirmations), then `change` runs on its subscriber.
    ///
    /// # Errors
    /// The platform cannot wake a connection thread (no eventfd: off Linux, or out of file
    /// descriptors); nothing changed.
    pub(crate) fn change(
        &mut self,
        shared: &Arc<Shared>,
        client: &Arc<ClientHandle>,
        out: &mut Vec<u8>,
        change: impl FnOnce(&kvcore::Subscriber) -> Counts,
    ) -> Result<(), CmdError> {
        if !self.enter_queue(shared, client, out, "subscribe")? {
            // Over the limit already: the end of the batch reports and disconnects.
            return Ok(());
        }
        let subscriber = self.subscriber.get_or_insert_with(|| {
            shared.kv.subscriber(Arc::new(ClientSink {
                client: Arc::clone(client),
                shared: Arc::clone(shared),
            }))
        });
        let counts = change(subscriber);
        self.subscribed = counts.total() > 0;
        client.pubsub.set_counts(counts);
        Ok(())
    }

    /// Makes the client queued (`doing` names the command for the error): its batch's replies
    /// so far go in first. `false` if they put it over its limit (the end of the batch reports
    /// it).
    ///
    /// # Errors
    /// The platform cannot wake a connection thread (no eventfd: off Linux, or out of file
    /// descriptors); nothing changed.
    pub(crate) fn enter_queue(
        &mut self,
        shared: &Shared,
        client: &ClientHandle,
        out: &mut Vec<u8>,
        doing: &str,
    ) -> Result<bool, CmdError> {
        if client.pubsub.waker.get().is_none() {
            let waker = Waker::new().map_err(|e| {
                CmdError::Text(format!("ERR cannot {doing} on this connection: {e}"))
            })?;
            let _ = client.pubsub.waker.set(waker);
        }
        let limit = shared.live.output_limits.pubsub.get();
        self.queued = true;
        Ok(client.pubsub.queue_replies(out, limit))
    }

    /// RESET and the connection's end: every subscription dropped, without confirmations.
    pub(crate) fn reset(&mut self, client: &ClientHandle) {
        self.subscriber = None;
        self.subscribed = false;
        client.pubsub.set_counts(Counts::default());
    }

    /// The owner, in a batch: a blocking command is about to wait (BLPOP & co.): what it published goes out, and a queued client's queue is released
    /// after committing the batch's writes so far, so its messages keep flowing while it
    /// waits. With the replier (`--sync always`) the queue stays held, since a reply of an
    /// earlier batch may still be with the replier.
    ///
    /// # Errors
    /// The commit failed (the connection must close).
    pub(crate) fn before_wait(
        &mut self,
        shared: &Shared,
        client: &ClientHandle,
        writes: &kvcore::Batch,
    ) -> Result<(), kvcore::Error> {
        self.pending.flush();
        if !self.queued || shared.replier.is_some() {
            return Ok(());
        }
        writes.commit()?;
        // A failed socket shows on the connection's next read.
        let _ = client.pubsub.release(client.socket());
        Ok(())
    }

    /// The owner, after a command in queued mode: its reply joins the queue. `false` if the
    /// client is over its limit and must close.
    pub(crate) fn queue_reply(
        &mut self,
        shared: &Shared,
        client: &ClientHandle,
        out: &mut Vec<u8>,
    ) -> bool {
        let limit = shared.live.output_limits.pubsub.get();
        client.pubsub.queue_replies(out, limit) || {
            self.report(shared, client);
            false
        }
    }

    fn report(&mut self, shared: &Shared, client: &ClientHandle) {
        if let Some(why) = client.pubsub.take_cut_off() {
            self.reset(client);
            cut_off(client, shared, &why);
        }
    }

    /// The owner, at the end of a batch whose writes are committed: the queue goes; what the
    /// socket does not take now is sent while the thread waits for the next request. Returns
    /// to direct writing once no subscription is left and nothing is pending.
    ///
    /// # Errors
    /// The socket failed.
    pub(crate) fn end_batch(
        &mut self,
        shared: &Shared,
        client: &ClientHandle,
        wire: &Wire,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        if !self.queue_reply(shared, client, out) {
            return Ok(());
        }
        let sent = client.pubsub.release(wire);
        self.report(shared, client);
        client
            .counters
            .add(crate::stats::Counter::NetOut, client.pubsub.take_sent());
        sent?;
        if !self.subscribed
            && !self.monitor
            && !self.tracking
            && client.pubsub.is_empty()
            && !wire.unsent()
        {
            // Nothing can be appended any more (no subscription), nothing is pending.
            self.subscriber = None;
            self.queued = false;
        }
        Ok(())
    }

    /// The owner, between batches: waits until its client sends something (or hangs up, or
    /// is killed), sending queued output whenever the socket has room, and checking the soft
    /// limit while over it.
    ///
    /// # Errors
    /// `poll` failed.
    pub(crate) fn wait_readable(
        &mut self,
        shared: &Shared,
        client: &ClientHandle,
        wire: &Wire,
    ) -> io::Result<()> {
        let out = &client.pubsub;
        let Some(waker) = out.waker.get() else {
            return Ok(());
        };
        loop {
            let limit = shared.live.output_limits.pubsub.get();
            let (want_write, timeout) = {
                let mut q = out.q.lock();
                q.woken = false;
                if !q.closed
                    && let Some(why) = q.over(limit)
                {
                    q.cut(why);
                }
                let timeout = q.soft_since.map(|since| {
                    (since + Duration::from_secs(limit.secs) + Duration::from_millis(1))
                        .saturating_duration_since(Instant::now())
                });
                // A TLS session may hold encrypted bytes the queue has already handed over.
                let pending = q.pending() > 0 || wire.unsent();
                (pending && !q.closed && !q.hold, timeout)
            };
            self.report(shared, client);
            if client.is_killed() {
                return Ok(());
            }
            let ready = os::wait_socket(wire.tcp(), true, want_write, waker, timeout)?;
            if ready.woken {
                waker.reset();
            }
            if ready.writable {
                let mut q = out.q.lock();
                if !q.closed && !q.hold {
                    // A failed socket shows on the read that follows.
                    let _ = q.send(wire);
                }
            }
            client
                .counters
                .add(crate::stats::Counter::NetOut, out.take_sent());
            if ready.readable {
                return Ok(());
            }
        }
    }

    /// The owner: sends, waiting on its own client's socket as a direct write would, until
    /// fewer than `below` bytes are pending (or the client is cut off or killed).
    ///
    /// # Errors
    /// The socket failed.
    pub(crate) fn drain(&self, client: &ClientHandle, wire: &Wire, below: usize) -> io::Result<()> {
        let Some(waker) = client.pubsub.waker.get() else {
            return Ok(());
        };
        let mut result = Ok(());
        // Draining to nothing includes what a TLS session holds encrypted.
        while !client.is_killed()
            && (client.pubsub.pending() >= below.max(1) || below <= 1 && wire.unsent())
        {
            let ready = os::wait_socket(wire.tcp(), false, true, waker, None)?;
            if ready.woken {
                waker.reset();
            }
            if ready.writable || ready.readable {
                // `readable` here means the socket ended or failed: the send says which.
                let mut q = client.pubsub.q.lock();
                if q.closed {
                    break;
                }
                if let Err(e) = q.send(wire) {
                    result = Err(e);
                    break;
                }
            }
        }
        client
            .counters
            .add(crate::stats::Counter::NetOut, client.pubsub.take_sent());
        result
    }

    /// The owner, when the connection ends: subscriptions dropped; after QUIT (or a protocol
    /// error) what is still queued is written, blocking as a direct reply's write would.
    pub(crate) fn finish(&mut self, client: &ClientHandle, wire: &Wire, drain: bool) {
        self.reset(client);
        if self.queued && drain {
            let _ = self.drain(client, wire, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(event: Event<'_>, resp2: &[u8], resp3: &[u8]) {
        for (version, want) in [(Version::Resp2, resp2), (Version::Resp3, resp3)] {
            let mut out = Vec::new();
            encode(&event, version, &mut out);
            assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(want));
        }
    }

    #[test]
    fn events_are_written_as_redis_writes_them() {
        let message = |kind, pattern| Event::Message {
            kind,
            pattern,
            channel: b"ch",
            payload: b"hi",
        };
        check(
            message(Kind::Channel, None),
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        );
        check(
            message(Kind::Pattern, Some(b"c*")),
            b"*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n",
            b">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        );
        check(
            message(Kind::Shard, None),
            b"*3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
            b">3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        );
        check(
            Event::Subscribed {
                kind: Kind::Pattern,
                name: b"p*",
                count: 3,
            },
            b"*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n",
            b">3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n",
        );
        check(
            Event::Unsubscribed {
                kind: Kind::Shard,
                name: None,
                count: 0,
            },
            b"*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n",
            b">3\r\n$12\r\nsunsubscribe\r\n_\r\n:0\r\n",
        );
    }

    #[test]
    fn limits_follow_check_client_output_buffer_limits() {
        let limit = |hard, soft, secs| ClassLimit { hard, soft, secs };
        let mut q = Queue {
            buf: vec![0; 100],
            ..Queue::default()
        };
        assert_eq!(q.over(limit(0, 0, 0)), None, "0 is no limit");
        assert_eq!(q.over(limit(101, 0, 0)), None);
        assert!(
            q.over(limit(100, 0, 0)).is_some(),
            "the hard limit is reached at its size"
        );
        // Over the soft limit: its time starts; not cut before its seconds passed.
        assert_eq!(q.over(limit(0, 50, 3600)), None);
        assert!(q.soft_since.is_some());
        q.sent = 60;
        assert_eq!(q.over(limit(0, 50, 3600)), None);
        assert_eq!(
            q.soft_since, None,
            "back under the soft limit: the clock resets"
        );
        q.cut("test".into());
        assert!(q.closed && q.pending() == 0 && q.cut_off.as_deref() == Some("test"));
    }
}
