//! Client-side caching (CLIENT TRACKING): which clients may hold which keys, and the
//! invalidation messages Redis 7.0 sends them when those keys change.
//!
//! - **Default mode**: after a read-only command of a tracking client, the keys it named (by
//!   the command table's key specifications) are remembered for it ([`Tracking::remember`]);
//!   OPTIN remembers only after `CLIENT CACHING yes`, OPTOUT all but after `CLIENT CACHING no`.
//!   The first change of such a key sends the client one invalidation and forgets the key.
//! - **BCAST**: no reads are remembered; every changed key that starts with one of the
//!   client's prefixes is sent to it, the keys of one writer's batch in one message per
//!   prefix.
//! - **Delivery**: RESP3 clients get `>2 invalidate [keys]` pushes on their own connection; with
//!   REDIRECT the message goes to the other client instead (a push if it speaks RESP3, a
//!   `message` on `__redis__:invalidate` if it is a RESP2 subscriber), and a client whose
//!   redirect target is gone gets `tracking-redir-broken` (RESP3). FLUSHALL/FLUSHDB send every
//!   tracking client a null invalidation and forget every key.
//!
//! Changes are observed through kvcore's [`ChangeObserver`](kvcore::ChangeObserver), the
//! journal's seam that WATCH uses too, so writes, expiries (active and lazy) and writes inside
//! scripts and transactions all count; it is installed only while some client tracks, so a
//! server without tracking clients pays one relaxed load per change. The observer runs under
//! the writer's shard locks: it only appends to the targets' output queues and wakes their
//! threads (`pubsub.rs`), never writes a socket. A tracking client is therefore a queued client
//! (as a subscriber or a monitor is). As in Redis, a change made by the tracking client itself
//! is announced after the reply of the command that made it (after EXEC's for a
//! transaction), and NOLOOP suppresses those; thread-locals carry what the connection thread
//! must send once its command (or batch, for BCAST) is done.
//!
//! Bounds: the table holds at most `tracking-table-max-keys` keys (0: unbounded); past it the
//! oldest remembered keys are invalidated and forgotten, as Redis evicts (Redis picks them at
//! random). Keys are names without a database, as in Redis.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::registry::ClientHandle;
use crate::shared::Shared;

/// The modes of CLIENT TRACKING ON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Mode {
    pub(crate) bcast: bool,
    pub(crate) optin: bool,
    pub(crate) optout: bool,
    pub(crate) noloop: bool,
}

/// A tracking client, as other threads see it.
#[derive(Debug)]
struct Client {
    handle: Arc<ClientHandle>,
    mode: Mode,
    /// The client that receives the invalidations (0: this one).
    redirect: u64,
    /// The redirect target was gone when an invalidation was due (`broken_redirect`).
    broken: bool,
    /// BCAST prefixes, sorted.
    prefixes: Vec<Vec<u8>>,
}

#[derive(Debug, Default)]
struct Table {
    clients: HashMap<u64, Client>,
    /// Remembered key → the clients that may cache it.
    keys: HashMap<Vec<u8>, Vec<u64>>,
    /// Keys in the order they were first remembered, for eviction (may hold keys already
    /// forgotten; rebuilt when it grows well past `keys`).
    order: VecDeque<Vec<u8>>,
    /// Client ids over all keys (INFO's `tracking_total_items`).
    items: usize,
    /// BCAST prefix → its clients.
    prefixes: BTreeMap<Vec<u8>, Vec<u64>>,
}

/// What an invalidation says.
enum Msg<'a> {
    Keys(&'a [&'a [u8]]),
    /// Every key (a flush).
    Null,
}

thread_local! {
    /// The client whose connection runs on this thread (0: not a connection thread).
    static CURRENT: Cell<u64> = const { Cell::new(0) };
    /// What this connection thread must send once its command / batch is done.
    static PENDING: RefCell<Pending> = RefCell::default();
}

#[derive(Default)]
struct Pending {
    /// The running client's own invalidations (`None`: a flush), sent after its reply.
    own: Vec<Option<Vec<u8>>>,
    /// Keys changed in this batch that match some BCAST prefix.
    bcast: Vec<Vec<u8>>,
}

/// Marks this thread as client `id`'s connection thread.
pub(crate) fn set_current(id: u64) {
    CURRENT.with(|c| c.set(id));
}

fn current() -> u64 {
    CURRENT.with(Cell::get)
}

/// The server's tracking state (in [`Shared`]).
#[derive(Debug)]
pub(crate) struct Tracking {
    /// Tracking clients: read without the lock on every command.
    count: AtomicUsize,
    table: Arc<Mutex<Table>>,
    /// `tracking-table-max-keys`.
    max_keys: AtomicU64,
}

impl Default for Tracking {
    fn default() -> Tracking {
        Tracking {
            count: AtomicUsize::new(0),
            table: Arc::default(),
            max_keys: AtomicU64::new(1_000_000),
        }
    }
}

/// The counts INFO reports.
pub(crate) struct Totals {
    pub(crate) clients: usize,
    pub(crate) keys: usize,
    pub(crate) items: usize,
    pub(crate) prefixes: usize,
}

/// Why CLIENT TRACKING ON was refused (the messages are Redis's, without `ERR `).
pub(crate) type Refusal = String;

impl Tracking {
    /// Whether any client tracks (one relaxed load).
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    pub(crate) fn set_max_keys(&self, n: u64) {
        self.max_keys.store(n, Ordering::Relaxed);
    }

    pub(crate) fn totals(&self) -> Totals {
        let t = self.table.lock();
        Totals {
            clients: t.clients.len(),
            keys: t.keys.len(),
            items: t.items,
            prefixes: t.prefixes.len(),
        }
    }

    /// CLIENT TRACKING ON for `handle`, after the option checks that need no state. Checks
    /// what depends on the client's current mode and prefixes, as Redis does, then enables.
    pub(crate) fn enable(
        &self,
        shared: &Arc<Shared>,
        handle: &Arc<ClientHandle>,
        mode: Mode,
        redirect: u64,
        prefixes: &[&[u8]],
    ) -> Result<(), Refusal> {
        let mut t = self.table.lock();
        let id = handle.id;
        if let Some(old) = t.clients.get(&id)
            && old.mode.bcast != mode.bcast
        {
            return Err(
                "You can't switch BCAST mode on/off before disabling tracking for this \
                        client, and then re-enabling it with a different mode."
                    .into(),
            );
        }
        if mode.bcast && (mode.optin || mode.optout) {
            return Err("OPTIN and OPTOUT are not compatible with BCAST".into());
        }
        if mode.optin && mode.optout {
            return Err("You can't specify both OPTIN mode and OPTOUT mode".into());
        }
        if let Some(old) = t.clients.get(&id)
            && (mode.optin && old.mode.optout || mode.optout && old.mode.optin)
        {
            return Err(
                "You can't switch OPTIN/OPTOUT mode before disabling tracking for this \
                        client, and then re-enabling it with a different mode."
                    .into(),
            );
        }
        if mode.bcast {
            check_prefixes(
                t.clients.get(&id).map_or(&[][..], |c| &c.prefixes),
                prefixes,
            )?;
        }
        let was = t.clients.len();
        let mut added: Vec<Vec<u8>> = Vec::new();
        if mode.bcast {
            if prefixes.is_empty() {
                added.push(Vec::new());
            }
            added.extend(prefixes.iter().map(|p| p.to_vec()));
        }
        let client = t.clients.entry(id).or_insert_with(|| Client {
            handle: Arc::clone(handle),
            mode,
            redirect,
            broken: false,
            prefixes: Vec::new(),
        });
        client.mode = mode;
        client.redirect = redirect;
        client.broken = false;
        let mut fresh = Vec::new();
        for p in added {
            if let Err(at) = client.prefixes.binary_search(&p) {
                client.prefixes.insert(at, p.clone());
                fresh.push(p);
            }
        }
        for p in fresh {
            t.prefixes.entry(p).or_default().push(id);
        }
        let now = t.clients.len();
        self.count.store(now, Ordering::Relaxed);
        if was == 0 && now > 0 {
            let observer = Arc::new(Invalidator {
                table: Arc::clone(&self.table),
                shared: Arc::downgrade(shared),
            });
            shared.kv.set_change_observer(Some(observer));
        }
        Ok(())
    }

    /// CLIENT TRACKING OFF, RESET, the connection's end.
    pub(crate) fn disable(&self, shared: &Shared, id: u64) {
        let mut t = self.table.lock();
        let Some(c) = t.clients.remove(&id) else {
            return;
        };
        for p in c.prefixes {
            if let Some(ids) = t.prefixes.get_mut(&p) {
                ids.retain(|&i| i != id);
                if ids.is_empty() {
                    t.prefixes.remove(&p);
                }
            }
        }
        self.count.store(t.clients.len(), Ordering::Relaxed);
        if t.clients.is_empty() {
            // Nobody can be told any more: forget everything rather than keep stale entries.
            t.keys = HashMap::new();
            t.order = VecDeque::new();
            t.items = 0;
            shared.kv.set_change_observer(None);
        }
    }

    /// CLIENT TRACKINGINFO / GETREDIR: mode, redirect, broken, prefixes; `None` when off.
    pub(crate) fn info(&self, id: u64) -> Option<(Mode, u64, bool, Vec<Vec<u8>>)> {
        let t = self.table.lock();
        t.clients
            .get(&id)
            .map(|c| (c.mode, c.redirect, c.broken, c.prefixes.clone()))
    }

    /// After a read-only command of tracking client `id` (default mode, caching allowed):
    /// remembers `keys` for it, then evicts past `tracking-table-max-keys`.
    pub(crate) fn remember(&self, shared: &Shared, id: u64, keys: &[&[u8]]) {
        let mut t = self.table.lock();
        let t = &mut *t;
        for &key in keys {
            match t.keys.get_mut(key) {
                Some(ids) => {
                    if !ids.contains(&id) {
                        ids.push(id);
                        t.items += 1;
                    }
                }
                None => {
                    t.keys.insert(key.to_vec(), vec![id]);
                    t.order.push_back(key.to_vec());
                    t.items += 1;
                }
            }
        }
        let max = self.max_keys.load(Ordering::Relaxed) as usize;
        while max > 0 && t.keys.len() > max {
            let Some(oldest) = t.order.pop_front() else {
                break;
            };
            // Nobody's change: NOLOOP does not hold it back; the reader's own message still
            // waits for its reply.
            invalidate_key(t, shared, &oldest, current(), false);
        }
        if t.order.len() > 2 * t.keys.len() + 1024 {
            t.order = t.keys.keys().cloned().collect();
        }
    }

    /// The connection thread, after a command's reply: its own invalidations (Redis sends them
    /// after the reply that caused them).
    pub(crate) fn after_command(&self, shared: &Shared) {
        let own = PENDING.with(|p| std::mem::take(&mut p.borrow_mut().own));
        if own.is_empty() {
            return;
        }
        let me = current();
        let mut t = self.table.lock();
        for key in own {
            match &key {
                Some(k) => send(&mut t, shared, me, &Msg::Keys(&[k]), me),
                None => send(&mut t, shared, me, &Msg::Null, me),
            }
        }
    }

    /// The connection thread, at the end of a batch: the BCAST messages for the keys it
    /// changed, one per prefix.
    pub(crate) fn end_batch(&self, shared: &Shared) {
        let mut keys = PENDING.with(|p| std::mem::take(&mut p.borrow_mut().bcast));
        if keys.is_empty() {
            return;
        }
        keys.sort_unstable();
        keys.dedup();
        let mut t = self.table.lock();
        broadcast(&mut t, shared, &keys, current());
    }
}

/// Redis's `checkPrefixCollisionsOrReply`.
fn check_prefixes(existing: &[Vec<u8>], new: &[&[u8]]) -> Result<(), Refusal> {
    let overlap = |a: &[u8], b: &[u8]| {
        let n = a.len().min(b.len());
        a[..n] == b[..n]
    };
    for (i, p) in new.iter().enumerate() {
        if let Some(old) = existing.iter().find(|o| overlap(o, p)) {
            return Err(format!(
                "Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single \
                 client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(old)
            ));
        }
        if let Some(other) = new[i + 1..].iter().find(|o| overlap(o, p)) {
            return Err(format!(
                "Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a \
                 single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(other)
            ));
        }
    }
    Ok(())
}

/// Forgets `key` and tells the default-mode clients that may cache it (`writer`: the client
/// of this thread, 0 if none; its own message waits for its reply; `change`: the key was
/// changed by it, which NOLOOP keeps quiet, rather than evicted).
fn invalidate_key(t: &mut Table, shared: &Shared, key: &[u8], writer: u64, change: bool) {
    let Some(ids) = t.keys.remove(key) else {
        return;
    };
    t.items -= ids.len();
    for id in ids {
        let Some(c) = t.clients.get(&id) else {
            continue;
        };
        if c.mode.bcast || change && c.mode.noloop && id == writer {
            continue;
        }
        if id == writer {
            PENDING.with(|p| p.borrow_mut().own.push(Some(key.to_vec())));
        } else {
            send(t, shared, id, &Msg::Keys(&[key]), writer);
        }
    }
}

/// Sends every BCAST client the keys of `keys` (sorted, distinct) under its prefixes.
fn broadcast(t: &mut Table, shared: &Shared, keys: &[Vec<u8>], writer: u64) {
    let mut sends: Vec<(u64, Vec<&[u8]>)> = Vec::new();
    for (prefix, ids) in &t.prefixes {
        let matched: Vec<&[u8]> = keys
            .iter()
            .filter(|k| k.starts_with(prefix))
            .map(Vec::as_slice)
            .collect();
        if matched.is_empty() {
            continue;
        }
        for &id in ids {
            let noloop = t.clients.get(&id).is_some_and(|c| c.mode.noloop);
            if !(noloop && id == writer) {
                sends.push((id, matched.clone()));
            }
        }
    }
    for (id, matched) in &sends {
        send(t, shared, *id, &Msg::Keys(matched), writer);
    }
}

/// Sends tracking client `id` an invalidation, where it wants it (Redis's
/// `sendTrackingMessage`). `me`: the client of this thread, whose queue it holds.
fn send(t: &mut Table, shared: &Shared, id: u64, msg: &Msg<'_>, me: u64) {
    let Some(c) = t.clients.get_mut(&id) else {
        return;
    };
    let own_resp3 = c.handle.resp.load(Ordering::Relaxed) == 3;
    let (target, redirected) = if c.redirect == 0 {
        (Arc::clone(&c.handle), false)
    } else {
        match shared.clients.get(c.redirect) {
            Some(h) => (h, true),
            None => {
                c.broken = true;
                if own_resp3 {
                    let mut out = b">2\r\n$21\r\ntracking-redir-broken\r\n".to_vec();
                    out.extend_from_slice(format!(":{}\r\n", c.redirect).as_bytes());
                    let handle = Arc::clone(&c.handle);
                    deliver(shared, &handle, &out, me);
                }
                return;
            }
        }
    };
    let subscribed = target.pubsub.counts().total() > 0;
    let mut out = Vec::new();
    if target.resp.load(Ordering::Relaxed) == 3 {
        out.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
    } else if redirected && subscribed {
        out.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    } else {
        return;
    }
    match msg {
        // The null of the tracking client's protocol, as Redis writes it.
        Msg::Null if own_resp3 => out.extend_from_slice(b"_\r\n"),
        Msg::Null => out.extend_from_slice(b"$-1\r\n"),
        Msg::Keys(keys) => {
            out.extend_from_slice(format!("*{}\r\n", keys.len()).as_bytes());
            for k in *keys {
                out.extend_from_slice(format!("${}\r\n", k.len()).as_bytes());
                out.extend_from_slice(k);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    // Only a client whose thread sends its queue can take it: a tracking client, a
    // subscriber or a monitor (a RESP3 redirect target that is none of them gets nothing).
    if t.clients.contains_key(&target.id) || subscribed || target.monitoring.load(Ordering::Relaxed)
    {
        deliver(shared, &target, &out, me);
    }
}

/// Appends `bytes` to `target`'s queue; another thread's client is woken to send them.
fn deliver(shared: &Shared, target: &ClientHandle, bytes: &[u8], me: u64) {
    let limit = shared.live.output_limits.pubsub.get();
    if target.id == me {
        target.pubsub.append(bytes, limit);
    } else {
        target.pubsub.push(bytes, limit);
    }
}

/// The store's observer while some client tracks.
struct Invalidator {
    table: Arc<Mutex<Table>>,
    shared: Weak<Shared>,
}

impl kvcore::ChangeObserver for Invalidator {
    fn changed(&self, _db: usize, key: &[u8]) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let writer = current();
        let mut t = self.table.lock();
        if t.prefixes.keys().any(|p| key.starts_with(p)) {
            if writer != 0 {
                PENDING.with(|p| p.borrow_mut().bcast.push(key.to_vec()));
            } else {
                broadcast(&mut t, &shared, &[key.to_vec()], 0);
            }
        }
        invalidate_key(&mut t, &shared, key, writer, true);
    }

    fn flushed(&self, _db: Option<usize>) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let writer = current();
        let mut t = self.table.lock();
        t.keys = HashMap::new();
        t.order = VecDeque::new();
        t.items = 0;
        let ids: Vec<u64> = t.clients.keys().copied().collect();
        for id in ids {
            if id == writer {
                PENDING.with(|p| p.borrow_mut().own.push(None));
            } else {
                send(&mut t, &shared, id, &Msg::Null, writer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_must_not_overlap() {
        assert!(check_prefixes(&[], &[b"a", b"b"]).is_ok());
        assert_eq!(
            check_prefixes(&[b"ab".to_vec()], &[b"a"]).unwrap_err(),
            "Prefix 'a' overlaps with an existing prefix 'ab'. Prefixes for a single client \
             must not overlap."
        );
        assert_eq!(
            check_prefixes(&[], &[b"x", b"xy"]).unwrap_err(),
            "Prefix 'x' overlaps with another provided prefix 'xy'. Prefixes for a single \
             client must not overlap."
        );
        assert!(
            check_prefixes(&[], &[b"", b"a"]).is_err(),
            "the empty prefix overlaps all"
        );
    }
}
