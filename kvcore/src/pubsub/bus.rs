//! The bus: who listens to which channel, pattern and shard channel, and delivery to them.
//!
//! One mutex guards the whole registry, and every publish, subscribe and unsubscribe holds it
//! while it hands its events to the sinks: that is what gives all subscribers one order (see
//! the module docs of `pubsub`). A sink's `deliver` only queues (it must not block), so the
//! lock is held for a hash lookup, a walk over the patterns and one queueing per receiver,
//! as Redis's single thread spends the same work. Whatever may take longer (waking a thread,
//! a socket write) happens in [`Sink::flush`], after the lock is released.
//!
//! Lock order: the bus lock, then a sink's own locks. A sink never calls back into the bus.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::glob::Pattern;
use crate::kv::Kv;

type Hasher = foldhash::fast::RandomState;
type Name = Box<[u8]>;

/// Which namespace a subscription, a confirmation or a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A channel: SUBSCRIBE and PUBLISH; its messages are Redis's `message`.
    Channel,
    /// A glob pattern over channels (Redis's syntax, as KEYS): PSUBSCRIBE; its messages are
    /// Redis's `pmessage`, which name the pattern too.
    Pattern,
    /// A shard channel: SSUBSCRIBE and SPUBLISH, a namespace of its own that patterns never
    /// match; its messages are Redis's `smessage`.
    Shard,
}

impl Kind {
    fn index(self) -> usize {
        match self {
            Kind::Channel => 0,
            Kind::Pattern => 1,
            Kind::Shard => 2,
        }
    }
}

/// What the bus hands a [`Sink`]: a published message, or the confirmation of one of the
/// subscriber's own (un)subscriptions, in the order Redis would write them to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A message published to a channel the subscriber listens to. `kind` is the kind of the
    /// subscription that let it through; `pattern` is that pattern for [`Kind::Pattern`] and
    /// `None` otherwise.
    Message {
        /// [`Kind::Channel`], [`Kind::Pattern`] or [`Kind::Shard`].
        kind: Kind,
        /// The pattern that matched, for [`Kind::Pattern`].
        pattern: Option<&'a [u8]>,
        /// The channel it was published to.
        channel: &'a [u8],
        /// The message itself.
        payload: &'a [u8],
    },
    /// One name of a SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE (sent even when the subscriber
    /// already had it). `count` is what Redis replies: channels plus patterns for
    /// [`Kind::Channel`] and [`Kind::Pattern`], shard channels for [`Kind::Shard`], after it.
    Subscribed {
        /// The kind of subscription.
        kind: Kind,
        /// The channel or pattern.
        name: &'a [u8],
        /// The subscriber's subscriptions of that family afterwards.
        count: usize,
    },
    /// One name of an UNSUBSCRIBE, PUNSUBSCRIBE or SUNSUBSCRIBE (sent even when the subscriber
    /// did not have it). `name` is `None` when an unsubscription from everything of a kind
    /// found nothing (Redis's null reply there); `count` as for [`Event::Subscribed`].
    Unsubscribed {
        /// The kind of subscription.
        kind: Kind,
        /// The channel or pattern, if there was one.
        name: Option<&'a [u8]>,
        /// The subscriber's subscriptions of that family afterwards.
        count: usize,
    },
}

/// What a [`Sink`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued (or deliberately ignored); nothing more to do.
    Queued,
    /// Queued; call [`Sink::flush`] once the bus lock is released.
    Flush,
    /// Refused because the subscriber is over its bound: the bus removes every subscription of
    /// this subscriber at once (it receives nothing more and counts as no receiver from then
    /// on) and calls [`Sink::flush`] once its lock is released, so the sink can report it.
    Overflow,
}

/// A subscriber's side of the bus: where its events go.
///
/// [`Sink::deliver`] runs under the bus lock, in bus order, so it must only queue: never
/// block, never wait for another thread, never call back into the store's bus. What takes
/// longer goes in [`Sink::flush`], which the bus (or, for a deferred publish, the holder of
/// the [`PendingFlush`]) calls after the lock is released, at least once after any `deliver`
/// that asked for it.
pub trait Sink: Send + Sync {
    /// Takes one event.
    fn deliver(&self, event: &Event<'_>) -> Delivery;

    /// Makes queued events go on (wakes a reader, starts a write); called outside the bus
    /// lock. Does nothing by default.
    fn flush(&self) {}
}

/// How many subscriptions of each kind: one subscriber's ([`Subscriber::counts`]), or the
/// whole bus's ([`Kv::pubsub_counts`]: channels and shard channels with at least one
/// subscriber, distinct patterns; Redis's `pubsub_channels`, `pubsub_patterns` and
/// `pubsubshard_channels`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Channels.
    pub channels: usize,
    /// Patterns.
    pub patterns: usize,
    /// Shard channels.
    pub shard_channels: usize,
}

impl Counts {
    /// Every subscription, of every kind.
    pub fn total(&self) -> usize {
        self.channels + self.patterns + self.shard_channels
    }
}

/// The sinks a deferred publish delivered to that still need their [`Sink::flush`], each once.
///
/// A host that publishes many messages in a row (a server running a pipeline of PUBLISH
/// commands) collects them here and flushes once at the end, as Redis writes each client's
/// output once per event-loop pass: one socket write per subscriber instead of one per
/// message. Dropping it flushes.
#[derive(Default)]
pub struct PendingFlush {
    sinks: Vec<Arc<dyn Sink>>,
    seen: HashSet<u64, Hasher>,
}

impl std::fmt::Debug for PendingFlush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingFlush")
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl PendingFlush {
    /// An empty set.
    pub fn new() -> PendingFlush {
        PendingFlush::default()
    }

    /// Whether nothing waits for a flush.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Flushes every sink collected so far, and forgets them.
    pub fn flush(&mut self) {
        for sink in self.sinks.drain(..) {
            sink.flush();
        }
        self.seen.clear();
    }

    fn note(&mut self, l: &Listener, delivery: Delivery, overflowed: &mut Vec<u64>) {
        match delivery {
            Delivery::Queued => return,
            Delivery::Flush => {}
            Delivery::Overflow => overflowed.push(l.id),
        }
        if self.seen.insert(l.id) {
            self.sinks.push(Arc::clone(&l.sink));
        }
    }
}

impl Drop for PendingFlush {
    fn drop(&mut self) {
        self.flush();
    }
}

/// One subscription of one subscriber, as a channel's or pattern's list holds it.
struct Listener {
    id: u64,
    sink: Arc<dyn Sink>,
}

/// A pattern with its subscribers, compiled once.
struct PatternListeners {
    name: Name,
    pattern: Pattern,
    listeners: Vec<Listener>,
}

impl PatternListeners {
    /// Redis's `stringmatchlen`: an empty channel matches only the empty pattern (even `*`
    /// does not match it, unlike KEYS, which treats `*` as "everything" before matching).
    fn matches(&self, channel: &[u8]) -> bool {
        if channel.is_empty() {
            self.name.is_empty()
        } else {
            self.pattern.matches(channel)
        }
    }
}

/// A registered subscriber: its sink and what it listens to, per [`Kind::index`], each name
/// with its subscription order (so "unsubscribe from everything" goes in that order).
struct Member {
    sink: Arc<dyn Sink>,
    names: [HashMap<Name, u64, Hasher>; 3],
    next: u64,
    /// It overflowed: it holds no subscription and takes no new one.
    closed: bool,
}

impl Member {
    fn counts(&self) -> Counts {
        Counts {
            channels: self.names[0].len(),
            patterns: self.names[1].len(),
            shard_channels: self.names[2].len(),
        }
    }

    /// The count Redis replies with for a (un)subscription of `kind`.
    fn count_for(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.names[2].len(),
            Kind::Channel | Kind::Pattern => self.names[0].len() + self.names[1].len(),
        }
    }
}

#[derive(Default)]
struct State {
    channels: HashMap<Name, Vec<Listener>, Hasher>,
    shard: HashMap<Name, Vec<Listener>, Hasher>,
    /// In the order they were first subscribed.
    patterns: Vec<PatternListeners>,
    members: HashMap<u64, Member, Hasher>,
}

impl State {
    fn channel_map(&mut self, kind: Kind) -> &mut HashMap<Name, Vec<Listener>, Hasher> {
        match kind {
            Kind::Shard => &mut self.shard,
            Kind::Channel | Kind::Pattern => &mut self.channels,
        }
    }

    /// Adds `id`'s listener to `name`'s list; the member's own record is the caller's.
    fn add_listener(&mut self, kind: Kind, name: &[u8], l: Listener) {
        if kind == Kind::Pattern {
            match self.patterns.iter_mut().find(|p| *p.name == *name) {
                Some(p) => p.listeners.push(l),
                None => self.patterns.push(PatternListeners {
                    name: name.into(),
                    pattern: Pattern::new(name),
                    listeners: vec![l],
                }),
            }
            return;
        }
        let map = self.channel_map(kind);
        match map.get_mut(name) {
            Some(list) => list.push(l),
            None => {
                map.insert(name.into(), vec![l]);
            }
        }
    }

    /// Removes `id`'s listener from `name`'s list, and the list once empty (so that a million
    /// channels subscribed once and left cost nothing afterwards, as in Redis).
    fn remove_listener(&mut self, kind: Kind, name: &[u8], id: u64) {
        if kind == Kind::Pattern {
            if let Some(i) = self.patterns.iter().position(|p| *p.name == *name) {
                let p = &mut self.patterns[i];
                p.listeners.retain(|l| l.id != id);
                if p.listeners.is_empty() {
                    self.patterns.remove(i);
                }
            }
            return;
        }
        let map = self.channel_map(kind);
        if let Some(list) = map.get_mut(name) {
            list.retain(|l| l.id != id);
            if list.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Drops every subscription of `id`, silently.
    fn clear(&mut self, id: u64) {
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        let names = std::mem::take(&mut m.names);
        for (kind, names) in [Kind::Channel, Kind::Pattern, Kind::Shard]
            .into_iter()
            .zip(names)
        {
            for name in names.into_keys() {
                self.remove_listener(kind, &name, id);
            }
        }
    }

    /// Closes the subscribers whose sink overflowed: every subscription dropped, none taken
    /// from now on.
    fn close(&mut self, overflowed: &[u64]) {
        for &id in overflowed {
            self.clear(id);
            if let Some(m) = self.members.get_mut(&id) {
                m.closed = true;
            }
        }
    }
}

/// The registry of one store's subscribers.
#[derive(Default)]
pub(crate) struct Bus {
    state: Mutex<State>,
    next_id: AtomicU64,
}

impl Bus {
    fn register(self: &Arc<Bus>, sink: Arc<dyn Sink>) -> Subscriber {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let member = Member {
            sink,
            names: Default::default(),
            next: 0,
            closed: false,
        };
        self.state.lock().members.insert(id, member);
        Subscriber {
            bus: Arc::clone(self),
            id,
        }
    }

    fn subscribe(
        &self,
        id: u64,
        kind: Kind,
        names: &[&[u8]],
        pending: &mut PendingFlush,
    ) -> Counts {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        let mut overflowed = Vec::new();
        let Some(m) = st.members.get_mut(&id) else {
            return Counts::default();
        };
        if m.closed {
            return m.counts();
        }
        let sink = Arc::clone(&m.sink);
        for &name in names {
            let m = st
                .members
                .get_mut(&id)
                .expect("checked above, under the same lock");
            let fresh = !m.names[kind.index()].contains_key(name);
            if fresh {
                m.names[kind.index()].insert(name.into(), m.next);
                m.next += 1;
            }
            let count = m.count_for(kind);
            if fresh {
                let l = Listener {
                    id,
                    sink: Arc::clone(&sink),
                };
                st.add_listener(kind, name, l);
            }
            let event = Event::Subscribed { kind, name, count };
            let l = Listener {
                id,
                sink: Arc::clone(&sink),
            };
            pending.note(&l, sink.deliver(&event), &mut overflowed);
        }
        st.close(&overflowed);
        st.members
            .get(&id)
            .map_or_else(Counts::default, Member::counts)
    }

    /// `names` empty: everything of `kind`, in subscription order.
    fn unsubscribe(
        &self,
        id: u64,
        kind: Kind,
        names: &[&[u8]],
        pending: &mut PendingFlush,
    ) -> Counts {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        let mut overflowed = Vec::new();
        let Some(m) = st.members.get(&id) else {
            return Counts::default();
        };
        let sink = Arc::clone(&m.sink);
        let listener = Listener {
            id,
            sink: Arc::clone(&sink),
        };
        let mut deliver = |st: &mut State, name: Option<&[u8]>| {
            if let Some(name) = name
                && let Some(m) = st.members.get_mut(&id)
                && m.names[kind.index()].remove(name).is_some()
            {
                st.remove_listener(kind, name, id);
            }
            let count = st.members.get(&id).map_or(0, |m| m.count_for(kind));
            let event = Event::Unsubscribed { kind, name, count };
            pending.note(&listener, sink.deliver(&event), &mut overflowed);
        };
        if names.is_empty() {
            let mut all: Vec<(u64, Name)> = m.names[kind.index()]
                .iter()
                .map(|(name, &order)| (order, name.clone()))
                .collect();
            all.sort_unstable_by_key(|(order, _)| *order);
            if all.is_empty() {
                deliver(st, None);
            }
            for (_, name) in all {
                deliver(st, Some(&name));
            }
        } else {
            for &name in names {
                deliver(st, Some(name));
            }
        }
        st.close(&overflowed);
        st.members
            .get(&id)
            .map_or_else(Counts::default, Member::counts)
    }

    pub(crate) fn publish(
        &self,
        kind: Kind,
        channel: &[u8],
        payload: &[u8],
        pending: &mut PendingFlush,
    ) -> usize {
        let mut st = self.state.lock();
        let mut receivers = 0;
        let mut overflowed = Vec::new();
        let map = if kind == Kind::Shard {
            &st.shard
        } else {
            &st.channels
        };
        if let Some(listeners) = map.get(channel) {
            let event = Event::Message {
                kind,
                pattern: None,
                channel,
                payload,
            };
            for l in listeners {
                receivers += 1;
                pending.note(l, l.sink.deliver(&event), &mut overflowed);
            }
        }
        if kind == Kind::Channel {
            for p in st.patterns.iter().filter(|p| p.matches(channel)) {
                let event = Event::Message {
                    kind: Kind::Pattern,
                    pattern: Some(&p.name),
                    channel,
                    payload,
                };
                for l in &p.listeners {
                    receivers += 1;
                    pending.note(l, l.sink.deliver(&event), &mut overflowed);
                }
            }
        }
        if !overflowed.is_empty() {
            st.close(&overflowed);
        }
        receivers
    }

    fn remove(&self, id: u64) {
        let mut st = self.state.lock();
        st.clear(id);
        st.members.remove(&id);
    }
}

/// A registered subscriber: its subscriptions, changed through it, and its [`Sink`].
///
/// Dropping it drops every subscription it holds, without confirmations (Redis's RESET and a
/// closed connection). Made by [`Kv::subscriber`]; [`Subscription`](crate::Subscription)
/// wraps one.
pub struct Subscriber {
    bus: Arc<Bus>,
    id: u64,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("id", &self.id)
            .field("counts", &self.counts())
            .finish()
    }
}

/// The names of a (un)subscription, borrowed.
fn names<I>(items: &[I]) -> Vec<&[u8]>
where
    I: AsRef<[u8]>,
{
    items.iter().map(AsRef::as_ref).collect()
}

impl Subscriber {
    /// Its number on the bus, unique for the bus's life.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether its sink overflowed: it holds no subscription and takes no new one.
    pub fn is_closed(&self) -> bool {
        self.bus
            .state
            .lock()
            .members
            .get(&self.id)
            .is_none_or(|m| m.closed)
    }

    /// How many subscriptions of each kind it holds.
    pub fn counts(&self) -> Counts {
        let st = self.bus.state.lock();
        st.members
            .get(&self.id)
            .map_or_else(Counts::default, Member::counts)
    }

    fn change<I>(&self, kind: Kind, subscribe: bool, items: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let items: Vec<I::Item> = items.into_iter().collect();
        let names = names(&items);
        let mut pending = PendingFlush::new();
        if subscribe {
            self.bus.subscribe(self.id, kind, &names, &mut pending)
        } else {
            self.bus.unsubscribe(self.id, kind, &names, &mut pending)
        }
        // Dropping `pending` flushes, outside the bus lock.
    }

    /// Subscribes to channels (SUBSCRIBE); the sink gets one [`Event::Subscribed`] per name.
    pub fn subscribe<I>(&self, channels: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.change(Kind::Channel, true, channels)
    }

    /// Subscribes to glob patterns (PSUBSCRIBE).
    pub fn psubscribe<I>(&self, patterns: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.change(Kind::Pattern, true, patterns)
    }

    /// Subscribes to shard channels (SSUBSCRIBE).
    pub fn ssubscribe<I>(&self, channels: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.change(Kind::Shard, true, channels)
    }

    /// Unsubscribes from channels, or from every channel when `channels` is empty
    /// (UNSUBSCRIBE); the sink gets one [`Event::Unsubscribed`] per name.
    pub fn unsubscribe<I>(&self, channels: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.change(Kind::Channel, false, channels)
    }

    /// Unsubscribes from patterns, or from every pattern when `patterns` is empty
    /// (PUNSUBSCRIBE).
    pub fn punsubscribe<I>(&self, patterns: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.change(Kind::Pattern, false, patterns)
    }

    /// Unsubscribes from shard channels, or from every one when `channels` is empty
    /// (SUNSUBSCRIBE).
    pub fn sunsubscribe<I>(&self, channels: I) -> Counts
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.change(Kind::Shard, false, channels)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.bus.remove(self.id);
    }
}

/// Publishing, subscribers and introspection of the store's bus (see the crate docs,
/// *Publish/subscribe*).
impl Kv {
    /// Publishes `payload` to `channel` (PUBLISH): to its subscribers, then to the subscribers
    /// of every pattern that matches it. With a replication stream, the PUBLISH goes into it
    /// too (a Redis primary propagates it to its replicas), inside the group of the transaction
    /// this handle belongs to, if it runs one. Returns how many subscriptions received it (a
    /// subscriber with the channel and a matching pattern counts twice, as in Redis). The
    /// sinks are flushed before it returns.
    pub fn publish(&self, channel: impl AsRef<[u8]>, payload: impl AsRef<[u8]>) -> usize {
        let mut pending = PendingFlush::new();
        self.publish_deferred(channel, payload, &mut pending)
    }

    /// Publishes `payload` to shard channel `channel` (SPUBLISH): only its own subscribers
    /// receive it, patterns never match a shard channel.
    pub fn spublish(&self, channel: impl AsRef<[u8]>, payload: impl AsRef<[u8]>) -> usize {
        let mut pending = PendingFlush::new();
        self.spublish_deferred(channel, payload, &mut pending)
    }

    /// [`Kv::publish`], leaving the sinks to flush in `pending` (see [`PendingFlush`]).
    ///
    /// Inside a [`Scope::Optimistic`](crate::Scope::Optimistic) transaction it first makes
    /// sure the transaction will not be undone ([`Kv::tx_pin`]); a transaction that cannot
    /// (it is doomed, and will be undone and run again) sends nothing and gets 0.
    pub fn publish_deferred(
        &self,
        channel: impl AsRef<[u8]>,
        payload: impl AsRef<[u8]>,
        pending: &mut PendingFlush,
    ) -> usize {
        let (channel, payload) = (channel.as_ref(), payload.as_ref());
        // A message sent cannot be taken back: an optimistic transaction makes sure it will
        // not be undone first, or (doomed) sends nothing.
        if !self.tx_pin() {
            return 0;
        }
        let logged = self.tx_locks().map(crate::tx::TxLocks::logged);
        self.inner.repl.publish(false, channel, payload, logged);
        self.inner
            .bus
            .publish(Kind::Channel, channel, payload, pending)
    }

    /// [`Kv::spublish`], leaving the sinks to flush in `pending`; in an optimistic
    /// transaction, as [`Kv::publish_deferred`].
    pub fn spublish_deferred(
        &self,
        channel: impl AsRef<[u8]>,
        payload: impl AsRef<[u8]>,
        pending: &mut PendingFlush,
    ) -> usize {
        let (channel, payload) = (channel.as_ref(), payload.as_ref());
        // A message sent cannot be taken back: an optimistic transaction makes sure it will
        // not be undone first, or (doomed) sends nothing.
        if !self.tx_pin() {
            return 0;
        }
        let logged = self.tx_locks().map(crate::tx::TxLocks::logged);
        self.inner.repl.publish(true, channel, payload, logged);
        self.inner
            .bus
            .publish(Kind::Shard, channel, payload, pending)
    }

    /// Registers a subscriber whose events go to `sink`. It starts with no subscription.
    pub fn subscriber(&self, sink: Arc<dyn Sink>) -> Subscriber {
        self.inner.bus.register(sink)
    }

    /// The channels (`Kind::Channel`, PUBSUB CHANNELS), shard channels (`Kind::Shard`, PUBSUB
    /// SHARDCHANNELS) or patterns (`Kind::Pattern`) with at least one subscriber, those that
    /// match `pattern` if given (Redis's glob; an empty name matches only the empty pattern).
    /// In no particular order.
    pub fn pubsub_channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        let filter = pattern.map(|p| PatternListeners {
            name: p.into(),
            pattern: Pattern::new(p),
            listeners: Vec::new(),
        });
        let keep = |name: &[u8]| filter.as_ref().is_none_or(|f| f.matches(name));
        let st = self.inner.bus.state.lock();
        match kind {
            Kind::Pattern => st
                .patterns
                .iter()
                .filter(|p| keep(&p.name))
                .map(|p| p.name.to_vec())
                .collect(),
            Kind::Channel | Kind::Shard => {
                let map = if kind == Kind::Shard {
                    &st.shard
                } else {
                    &st.channels
                };
                map.keys().filter(|c| keep(c)).map(|c| c.to_vec()).collect()
            }
        }
    }

    /// How many subscribers each of `names` has, as a channel (`Kind::Channel`, PUBSUB
    /// NUMSUB: pattern subscribers are not counted), a shard channel (`Kind::Shard`, PUBSUB
    /// SHARDNUMSUB) or a pattern (`Kind::Pattern`).
    pub fn pubsub_numsub<I>(&self, kind: Kind, names: I) -> Vec<usize>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let st = self.inner.bus.state.lock();
        names
            .into_iter()
            .map(|name| {
                let name = name.as_ref();
                match kind {
                    Kind::Channel => st.channels.get(name).map_or(0, Vec::len),
                    Kind::Shard => st.shard.get(name).map_or(0, Vec::len),
                    Kind::Pattern => st
                        .patterns
                        .iter()
                        .find(|p| *p.name == *name)
                        .map_or(0, |p| p.listeners.len()),
                }
            })
            .collect()
    }

    /// Channels and shard channels with at least one subscriber, and distinct patterns
    /// subscribed (PUBSUB NUMPAT is `patterns`; INFO's `pubsub_*` fields).
    pub fn pubsub_counts(&self) -> Counts {
        let st = self.inner.bus.state.lock();
        Counts {
            channels: st.channels.len(),
            patterns: st.patterns.len(),
            shard_channels: st.shard.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every event as text, and overflows after `room` messages.
    struct Recorder {
        log: Mutex<Vec<String>>,
        room: usize,
    }

    impl Recorder {
        fn new(room: usize) -> Arc<Recorder> {
            Arc::new(Recorder {
                log: Mutex::new(Vec::new()),
                room,
            })
        }

        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.log.lock())
        }
    }

    fn text(b: Option<&[u8]>) -> String {
        b.map_or("nil".into(), |b| String::from_utf8_lossy(b).into_owned())
    }

    impl Sink for Recorder {
        fn deliver(&self, event: &Event<'_>) -> Delivery {
            let mut log = self.log.lock();
            let line = match *event {
                Event::Message {
                    kind,
                    pattern,
                    channel,
                    payload,
                } => {
                    let messages = log.iter().filter(|l| l.starts_with("msg")).count();
                    if messages >= self.room {
                        return Delivery::Overflow;
                    }
                    format!(
                        "msg {kind:?} {} {} {}",
                        text(pattern),
                        text(Some(channel)),
                        text(Some(payload))
                    )
                }
                Event::Subscribed { kind, name, count } => {
                    format!("sub {kind:?} {} {count}", text(Some(name)))
                }
                Event::Unsubscribed { kind, name, count } => {
                    format!("unsub {kind:?} {} {count}", text(name))
                }
            };
            log.push(line);
            Delivery::Queued
        }
    }

    fn kv() -> Kv {
        Kv::in_memory(crate::Options::new().shards(1).databases(1))
    }

    #[test]
    fn confirmations_carry_redis_counts() {
        let kv = kv();
        let r = Recorder::new(100);
        let s = kv.subscriber(r.clone());
        s.subscribe(["a", "b", "a"]);
        s.psubscribe(["p*"]);
        s.ssubscribe(["s"]);
        assert_eq!(
            r.take(),
            [
                "sub Channel a 1",
                "sub Channel b 2",
                "sub Channel a 2",
                "sub Pattern p* 3",
                "sub Shard s 1"
            ]
        );
        let none: [&str; 0] = [];
        s.unsubscribe(["zz", "b"]);
        s.unsubscribe(none);
        s.unsubscribe(none);
        s.punsubscribe(none);
        s.punsubscribe(none);
        s.sunsubscribe(none);
        assert_eq!(
            r.take(),
            [
                "unsub Channel zz 3",
                "unsub Channel b 2",
                "unsub Channel a 1",
                "unsub Channel nil 1",
                "unsub Pattern p* 0",
                "unsub Pattern nil 0",
                "unsub Shard s 0"
            ]
        );
        assert_eq!(kv.pubsub_counts(), Counts::default());
    }

    #[test]
    fn unsubscribing_from_everything_goes_in_subscription_order() {
        let kv = kv();
        let r = Recorder::new(100);
        let s = kv.subscriber(r.clone());
        let names: Vec<String> = (0..50).map(|i| format!("ch{}", (i * 7) % 50)).collect();
        s.subscribe(&names);
        r.take();
        s.unsubscribe(Vec::<&str>::new());
        let got: Vec<String> = r
            .take()
            .iter()
            .map(|l| l.split(' ').nth(2).unwrap().to_string())
            .collect();
        assert_eq!(got, names);
    }

    #[test]
    fn publish_reaches_channels_then_patterns_and_counts_subscriptions() {
        let kv = kv();
        let (r1, r2) = (Recorder::new(100), Recorder::new(100));
        let (s1, s2) = (kv.subscriber(r1.clone()), kv.subscriber(r2.clone()));
        s1.psubscribe(["n*"]);
        s1.subscribe(["news"]);
        s2.subscribe(["news"]);
        s2.ssubscribe(["news"]);
        r1.take();
        r2.take();
        assert_eq!(kv.publish("news", "x"), 3);
        assert_eq!(
            r1.take(),
            ["msg Channel nil news x", "msg Pattern n* news x"]
        );
        assert_eq!(r2.take(), ["msg Channel nil news x"]);
        assert_eq!(kv.spublish("news", "y"), 1);
        assert_eq!(r2.take(), ["msg Shard nil news y"]);
        assert_eq!(kv.publish("other", "z"), 0);
        assert_eq!(kv.publish("nx", "z"), 1);
        assert_eq!(kv.pubsub_numsub(Kind::Channel, ["news", "nx"]), [2, 0]);
        assert_eq!(kv.pubsub_numsub(Kind::Shard, ["news"]), [1]);
        assert_eq!(
            kv.pubsub_counts(),
            Counts {
                channels: 1,
                patterns: 1,
                shard_channels: 1
            }
        );
        drop(s1);
        assert_eq!(kv.publish("news", "w"), 1);
        assert_eq!(kv.pubsub_counts().patterns, 0);
    }

    #[test]
    fn an_empty_channel_matches_only_the_empty_pattern() {
        let kv = kv();
        let r = Recorder::new(100);
        let s = kv.subscriber(r.clone());
        s.psubscribe(["*"]);
        assert_eq!(kv.publish("", "x"), 0);
        s.psubscribe([""]);
        assert_eq!(kv.publish("", "x"), 1);
        assert_eq!(kv.publish("a", "x"), 1);
        s.subscribe([""]);
        assert_eq!(
            kv.pubsub_channels(Kind::Channel, Some(b"*")),
            Vec::<Vec<u8>>::new()
        );
        assert_eq!(kv.pubsub_channels(Kind::Channel, Some(b"")), [b""]);
        assert_eq!(kv.pubsub_channels(Kind::Channel, None), [b""]);
    }

    #[test]
    fn an_overflowing_sink_loses_every_subscription() {
        let kv = kv();
        let r = Recorder::new(2);
        let s = kv.subscriber(r.clone());
        s.subscribe(["a", "b"]);
        s.psubscribe(["*"]);
        assert_eq!(kv.publish("a", "1"), 2);
        assert!(!s.is_closed());
        // The third message overflows: it still counts (it was a receiver), then nothing does.
        assert_eq!(kv.publish("b", "2"), 2);
        assert!(s.is_closed());
        assert_eq!(s.counts(), Counts::default());
        assert_eq!(kv.publish("a", "3"), 0);
        assert_eq!(s.subscribe(["c"]), Counts::default());
        assert_eq!(kv.pubsub_counts(), Counts::default());
    }
}
