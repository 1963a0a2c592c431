//! `Subscription`: an in-process subscriber, a bounded queue with a condition variable.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::bus::{Counts, Delivery, Event, Kind, Sink, Subscriber};
use crate::error::{Error, Result};
use crate::kv::Kv;

/// How a [`Subscription`] is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionOptions {
    max_pending_bytes: usize,
}

impl Default for SubscriptionOptions {
    fn default() -> SubscriptionOptions {
        SubscriptionOptions::new()
    }
}

impl SubscriptionOptions {
    /// The defaults: at most 32 MiB of messages waiting to be read (Redis's hard
    /// `client-output-buffer-limit` for pub/sub clients).
    pub const fn new() -> SubscriptionOptions {
        SubscriptionOptions {
            max_pending_bytes: 32 << 20,
        }
    }

    /// The most bytes of messages that may wait to be read (each message counts its channel,
    /// pattern and payload plus the size of a [`Message`]). The message that would pass it is
    /// not queued and the subscription is closed: see [`Subscription`]. At least 1.
    pub const fn max_pending_bytes(self, bytes: usize) -> SubscriptionOptions {
        SubscriptionOptions {
            max_pending_bytes: if bytes == 0 { 1 } else { bytes },
        }
    }
}

/// A message received by a [`Subscription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    kind: Kind,
    pattern: Option<Vec<u8>>,
    channel: Vec<u8>,
    payload: Vec<u8>,
}

impl Message {
    /// The kind of the subscription that let it through: [`Kind::Channel`] (`message`),
    /// [`Kind::Pattern`] (`pmessage`) or [`Kind::Shard`] (`smessage`).
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The pattern that matched, for a [`Kind::Pattern`] subscription.
    pub fn pattern(&self) -> Option<&[u8]> {
        self.pattern.as_deref()
    }

    /// The channel it was published to.
    pub fn channel(&self) -> &[u8] {
        &self.channel
    }

    /// The message itself.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The message itself, without a copy.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }
}

#[derive(Default)]
struct Queue {
    messages: VecDeque<Message>,
    bytes: usize,
    /// A message did not fit: the bus dropped every subscription; what is queued can still be
    /// read, then receiving fails.
    overflowed: bool,
}

/// The sink behind a [`Subscription`].
struct Inbox {
    queue: Mutex<Queue>,
    ready: Condvar,
    limit: usize,
}

impl Sink for Inbox {
    fn deliver(&self, event: &Event<'_>) -> Delivery {
        // Confirmations are for network clients; a program knows what it subscribed to.
        let Event::Message {
            kind,
            pattern,
            channel,
            payload,
        } = *event
        else {
            return Delivery::Queued;
        };
        let cost =
            size_of::<Message>() + pattern.map_or(0, <[u8]>::len) + channel.len() + payload.len();
        let mut q = self.queue.lock();
        if q.overflowed {
            return Delivery::Queued;
        }
        if q.bytes.saturating_add(cost) > self.limit {
            q.overflowed = true;
            return Delivery::Overflow;
        }
        q.bytes += cost;
        q.messages.push_back(Message {
            kind,
            pattern: pattern.map(<[u8]>::to_vec),
            channel: channel.to_vec(),
            payload: payload.to_vec(),
        });
        Delivery::Flush
    }

    fn flush(&self) {
        self.ready.notify_all();
    }
}

/// An in-process subscriber: the messages of its channels, patterns and shard channels, queued
/// until read. Made by [`Kv::subscribe`], [`Kv::psubscribe`], [`Kv::ssubscribe`] or, empty and
/// with chosen bounds, [`Kv::subscription`]; dropping it unsubscribes from everything.
///
/// It shares the store's bus with every other subscriber, network clients of a server
/// included, and sees messages in the bus's one order.
///
/// # A subscriber that does not read
///
/// Messages wait in memory until read, up to [`SubscriptionOptions::max_pending_bytes`]
/// (32 MiB by default). A publish that would pass the bound is not queued, and the
/// subscription is closed, as Redis disconnects a pub/sub client over its output buffer limit:
/// it loses every subscription at once (publishers stop counting it), what was queued can still
/// be read, and then [`Subscription::recv`] and its variants fail with
/// [`Error::SubscriptionOverflowed`] and the iterator ends. Publishers are never slowed by it.
/// Subscribing again on a closed subscription does nothing: make a new one.
pub struct Subscription {
    subscriber: Subscriber,
    inbox: Arc<Inbox>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("subscriber", &self.subscriber)
            .field("pending", &self.pending())
            .finish()
    }
}

impl Subscription {
    fn new(kv: &Kv, options: SubscriptionOptions) -> Subscription {
        let inbox = Arc::new(Inbox {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            limit: options.max_pending_bytes,
        });
        Subscription {
            subscriber: kv.subscriber(Arc::clone(&inbox) as Arc<dyn Sink>),
            inbox,
        }
    }

    /// Adds channels.
    pub fn subscribe<I>(&self, channels: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.subscriber.subscribe(channels)
    }

    /// Adds glob patterns (Redis's syntax, as KEYS).
    pub fn psubscribe<I>(&self, patterns: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.subscriber.psubscribe(patterns)
    }

    /// Adds shard channels.
    pub fn ssubscribe<I>(&self, channels: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.subscriber.ssubscribe(channels)
    }

    /// Removes channels; every channel if `channels` is empty. Messages already queued stay.
    pub fn unsubscribe<I>(&self, channels: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.subscriber.unsubscribe(channels)
    }

    /// Removes patterns; every pattern if `patterns` is empty.
    pub fn punsubscribe<I>(&self, patterns: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.subscriber.punsubscribe(patterns)
    }

    /// Removes shard channels; every one if `channels` is empty.
    pub fn sunsubscribe<I>(&self, channels: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.subscriber.sunsubscribe(channels)
    }

    /// What it is subscribed to.
    pub fn counts(&self) -> Counts {
        self.subscriber.counts()
    }

    /// Messages waiting to be read.
    pub fn pending(&self) -> usize {
        self.inbox.queue.lock().messages.len()
    }

    /// The next message, waiting for one as long as it takes.
    ///
    /// # Errors
    /// [`Error::SubscriptionOverflowed`] once the subscription was closed for not reading
    /// (see [`Subscription`]) and everything queued before was read.
    pub fn recv(&self) -> Result<Message> {
        let mut q = self.inbox.queue.lock();
        loop {
            if let Some(m) = self.take(&mut q)? {
                return Ok(m);
            }
            self.inbox.ready.wait(&mut q);
        }
    }

    /// The next message, waiting up to `timeout` for one; `Ok(None)` if none came.
    ///
    /// # Errors
    /// As [`Subscription::recv`].
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Message>> {
        let deadline = Instant::now().checked_add(timeout);
        let mut q = self.inbox.queue.lock();
        loop {
            if let Some(m) = self.take(&mut q)? {
                return Ok(Some(m));
            }
            match deadline {
                Some(d) => {
                    if self.inbox.ready.wait_until(&mut q, d).timed_out() {
                        return self.take(&mut q);
                    }
                }
                None => self.inbox.ready.wait(&mut q),
            }
        }
    }

    /// The next message if one is waiting.
    ///
    /// # Errors
    /// As [`Subscription::recv`].
    pub fn try_recv(&self) -> Result<Option<Message>> {
        self.take(&mut self.inbox.queue.lock())
    }

    /// A blocking iterator over the messages; it ends when the subscription overflowed (and
    /// everything queued before was read).
    pub fn iter(&self) -> Messages<'_> {
        Messages(self)
    }

    fn take(&self, q: &mut Queue) -> Result<Option<Message>> {
        match q.messages.pop_front() {
            Some(m) => {
                q.bytes -= size_of::<Message>()
                    + m.pattern.as_ref().map_or(0, Vec::len)
                    + m.channel.len()
                    + m.payload.len();
                Ok(Some(m))
            }
            None if q.overflowed => Err(Error::SubscriptionOverflowed {
                limit: self.inbox.limit,
            }),
            None => Ok(None),
        }
    }
}

/// The blocking iterator of [`Subscription::iter`].
#[derive(Debug)]
pub struct Messages<'a>(&'a Subscription);

impl Iterator for Messages<'_> {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        self.0.recv().ok()
    }
}

impl<'a> IntoIterator for &'a Subscription {
    type Item = Message;
    type IntoIter = Messages<'a>;

    fn into_iter(self) -> Messages<'a> {
        self.iter()
    }
}

/// In-process subscriptions.
impl Kv {
    /// An in-process subscription to nothing yet, bounded by `options`.
    pub fn subscription(&self, options: SubscriptionOptions) -> Subscription {
        Subscription::new(self, options)
    }

    /// An in-process subscription to `channels` (SUBSCRIBE), with the default bound.
    pub fn subscribe<I>(&self, channels: I) -> Subscription
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let s = self.subscription(SubscriptionOptions::new());
        s.subscribe(channels);
        s
    }

    /// An in-process subscription to glob `patterns` (PSUBSCRIBE), with the default bound.
    pub fn psubscribe<I>(&self, patterns: I) -> Subscription
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let s = self.subscription(SubscriptionOptions::new());
        s.psubscribe(patterns);
        s
    }

    /// An in-process subscription to shard `channels` (SSUBSCRIBE), with the default bound.
    pub fn ssubscribe<I>(&self, channels: I) -> Subscription
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let s = self.subscription(SubscriptionOptions::new());
        s.ssubscribe(channels);
        s
    }
}
