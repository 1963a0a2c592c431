//! Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM and the group
//! parts of XINFO, as the group methods of [`StreamStore`](crate::StreamStore).
//!
//! Every change journals what it did, with the times it used (`Effect::StreamGroupUpdate`
//! carries each delivered or claimed entry's delivery time and count, the group's new
//! last-delivered ID and counter, and the consumer's times), so a replay does not read the
//! clock. A consumer's seen time refreshed by a read that delivered nothing is not logged.

use crate::effect::{ConsumerState, Effect};
use crate::entry::Value;
use crate::error::{Error, Result, StreamError};
use crate::kv::Db;
use crate::notify::Class;
use crate::ops::container::{read, write};
use crate::types::{Stream, StreamEntryRef, StreamGroup, StreamId};

/// Where XGROUP CREATE and SETID put a group's last-delivered ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStart {
    /// This ID.
    Id(StreamId),
    /// `$`: the stream's last ID.
    Last,
}

/// What XREADGROUP reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadGroup {
    /// `>`: entries never delivered to the group.
    New,
    /// An ID: the consumer's own pending entries with IDs above it (its history).
    History(StreamId),
}

/// One entry XREADGROUP returns.
#[derive(Debug, Clone, Copy)]
pub enum GroupEntry<'a> {
    /// An entry, borrowed from the store.
    Entry(StreamEntryRef<'a>),
    /// A pending entry of the consumer's history that was deleted from the stream since.
    Deleted(StreamId),
}

/// XCLAIM's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XClaimOptions {
    time: Option<i64>,
    idle: Option<i64>,
    retry_count: Option<u64>,
    force: bool,
    just_id: bool,
    last_id: Option<StreamId>,
}

impl XClaimOptions {
    /// No options: the claimed entries' delivery time is now and their count goes up by one.
    pub fn new() -> XClaimOptions {
        XClaimOptions::default()
    }

    /// IDLE: set the delivery time to `ms` milliseconds ago.
    pub fn idle(mut self, ms: i64) -> XClaimOptions {
        self.idle = Some(ms);
        self.time = None;
        self
    }

    /// TIME: set the delivery time to this unix time in milliseconds (a time in the future, or
    /// negative, means now, as in Redis).
    pub fn time(mut self, unix_ms: i64) -> XClaimOptions {
        self.time = Some(unix_ms);
        self.idle = None;
        self
    }

    /// RETRYCOUNT: set the delivery count.
    pub fn retry_count(mut self, n: u64) -> XClaimOptions {
        self.retry_count = Some(n);
        self
    }

    /// FORCE: claim entries of the stream that are not pending at all.
    pub fn force(mut self) -> XClaimOptions {
        self.force = true;
        self
    }

    /// JUSTID: leave the delivery count as it is (the reply lists IDs only).
    pub fn just_id(mut self) -> XClaimOptions {
        self.just_id = true;
        self
    }

    /// Whether JUSTID was asked for.
    pub fn is_just_id(&self) -> bool {
        self.just_id
    }

    /// LASTID: move the group's last-delivered ID up to `id` if it is below.
    pub fn last_id(mut self, id: StreamId) -> XClaimOptions {
        self.last_id = Some(id);
        self
    }
}

/// What XAUTOCLAIM did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoClaim {
    /// Where the next call should start (`0-0`: the scan reached the end).
    pub next: StreamId,
    /// The IDs it claimed, in order.
    pub claimed: Vec<StreamId>,
    /// Pending IDs whose entries no longer exist, removed from the PEL.
    pub deleted: Vec<StreamId>,
}

/// XPENDING's summary of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    /// How many entries are pending.
    pub count: u64,
    /// The smallest and largest pending IDs (None when nothing is pending).
    pub range: Option<(StreamId, StreamId)>,
    /// Consumers with pending entries, by name, and how many each has.
    pub consumers: Vec<(Vec<u8>, u64)>,
}

/// One pending entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    /// Its ID.
    pub id: StreamId,
    /// The consumer it was last delivered to.
    pub consumer: Vec<u8>,
    /// When it was last delivered, unix ms.
    pub delivered_at: u64,
    /// Milliseconds since then (0 if that is in the future).
    pub idle: u64,
    /// How many times it was delivered.
    pub deliveries: u64,
}

/// A consumer group as XINFO GROUPS shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupInfo {
    /// Its name.
    pub name: Vec<u8>,
    /// How many consumers it has.
    pub consumers: u64,
    /// How many entries are pending.
    pub pending: u64,
    /// The last ID delivered to it.
    pub last_delivered_id: StreamId,
    /// How many entries it has read, when known.
    pub entries_read: Option<u64>,
    /// How many entries it has yet to read, when known (negative if ENTRIESREAD overstated).
    pub lag: Option<i64>,
}

/// A consumer as XINFO CONSUMERS shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerInfo {
    /// Its name.
    pub name: Vec<u8>,
    /// How many entries are pending for it.
    pub pending: u64,
    /// When it last read or claimed, unix ms.
    pub seen_time: u64,
    /// When it last got entries, unix ms (None: never).
    pub active_time: Option<u64>,
    /// Milliseconds since `seen_time` (0 if that is in the future).
    pub idle: u64,
}

/// One of a consumer's pending entries: its ID, last delivery time (unix ms), deliveries.
pub type ConsumerPending = (StreamId, u64, u64);

/// A consumer group with its pending entries and consumers (XINFO STREAM FULL).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupFull {
    /// The group's counters.
    pub info: GroupInfo,
    /// Its pending entries, oldest first (at most the COUNT asked for).
    pub pending: Vec<PendingEntry>,
    /// Its consumers by name, each with its pending count and pending entries (at most
    /// COUNT): ID, delivery time, deliveries.
    pub consumers: Vec<(ConsumerInfo, Vec<ConsumerPending>)>,
}

fn stream_of(v: &Value) -> Result<&Stream> {
    match v {
        Value::Stream(s) => Ok(s),
        _ => Err(Error::WrongType),
    }
}

const NO_GROUP: Error = Error::Stream(StreamError::NoGroup);

/// Journals a group's state after a change, with `consumer`'s times if given.
fn journal_update(
    slot: &crate::access::WriteSlot<'_>,
    group: &[u8],
    consumer: Option<u32>,
    pending: &[(StreamId, u64, u64)],
    dropped: &[StreamId],
) {
    let Some(Value::Stream(s)) = slot.entry().map(|e| &e.value) else {
        return;
    };
    let Some(g) = s.groups().get(group) else {
        return;
    };
    let consumer = consumer.and_then(|n| g.consumer(n)).map(|c| ConsumerState {
        name: &c.name,
        seen: c.seen,
        active: c.active,
    });
    slot.journal(Effect::StreamGroupUpdate {
        db: slot.db(),
        key: slot.key(),
        group,
        last_id: g.last_id,
        entries_read: g.entries_read,
        consumer,
        pending,
        dropped,
    });
}

fn group_info(s: &Stream, name: &[u8], g: &StreamGroup) -> GroupInfo {
    GroupInfo {
        name: name.to_vec(),
        consumers: g.consumer_count() as u64,
        pending: g.pel().len() as u64,
        last_delivered_id: g.last_id,
        entries_read: g.entries_read,
        lag: s.lag(g),
    }
}

fn consumer_info(c: &crate::types::StreamConsumer, now: u64) -> ConsumerInfo {
    ConsumerInfo {
        name: c.name.to_vec(),
        pending: c.pel.len() as u64,
        seen_time: c.seen,
        active_time: c.active,
        idle: now.saturating_sub(c.seen),
    }
}

/// What a pending entry (ID, delivery time, count: varints) adds to a log record, at most.
const PENDING_BYTES: usize = 40;

/// How many pending entries fit one log record beside `fixed` bytes of names: a read or an
/// autoclaim delivers no more than its record can hold (only a store configured with a small
/// record limit ever notices).
fn record_room(db: &Db, fixed: &[&[u8]]) -> usize {
    match db.inner.persist.get() {
        Some(p) => {
            let names: usize = fixed
                .iter()
                .map(|b| crate::access::item_bound(b.len()))
                .sum();
            (p.max_record()
                .saturating_sub(crate::access::RECORD_OVERHEAD + names)
                / PENDING_BYTES)
                .max(1)
        }
        None => usize::MAX,
    }
}

/// Milliseconds from `then` to `now`, negative when `then` is later.
fn since(now: u64, then: u64) -> i64 {
    (now as i64).wrapping_sub(then as i64)
}

impl Db {
    pub(crate) fn group_create(
        &self,
        key: &[u8],
        group: &[u8],
        start: GroupStart,
        entries_read: Option<u64>,
        mkstream: bool,
    ) -> Result<()> {
        self.admit().key(key)?.arg(group)?.check()?;
        self.write_entry(key, |slot| {
            match slot.entry() {
                Some(e) => {
                    if stream_of(&e.value)?.groups().contains_key(group) {
                        return Err(Error::Stream(StreamError::GroupExists));
                    }
                }
                None if mkstream => {}
                None => return Err(Error::NoSuchKey),
            }
            let last_id = write(slot, true, |s: &mut Stream| {
                let last_id = match start {
                    GroupStart::Id(id) => id,
                    GroupStart::Last => s.last_id(),
                };
                s.groups_mut()
                    .insert(group.into(), StreamGroup::new(last_id, entries_read));
                Ok(last_id)
            })?
            // Created above when missing.
            .expect("the stream exists");
            slot.journal(Effect::StreamGroupCreate {
                db: slot.db(),
                key,
                group,
                last_id,
                entries_read,
            });
            slot.notify(Class::Stream, "xgroup-create");
            Ok(())
        })
    }

    /// Runs `f` on group `group` of the stream at `key`, which must exist (XGROUP's
    /// subcommands other than CREATE).
    fn with_group<R>(
        &self,
        key: &[u8],
        group: &[u8],
        f: impl FnOnce(&mut crate::access::WriteSlot<'_>) -> Result<R>,
    ) -> Result<R> {
        self.write_entry(key, |slot| {
            let Some(e) = slot.entry() else {
                return Err(Error::NoSuchKey);
            };
            if !stream_of(&e.value)?.groups().contains_key(group) {
                return Err(NO_GROUP);
            }
            f(slot)
        })
    }

    pub(crate) fn group_setid(
        &self,
        key: &[u8],
        group: &[u8],
        start: GroupStart,
        entries_read: Option<u64>,
    ) -> Result<()> {
        self.with_group(key, group, |slot| {
            write(slot, false, |s: &mut Stream| {
                let last_id = match start {
                    GroupStart::Id(id) => id,
                    GroupStart::Last => s.last_id(),
                };
                let g = s.groups_mut().get_mut(group).ok_or(NO_GROUP)?;
                g.last_id = last_id;
                g.entries_read = entries_read;
                Ok(())
            })?;
            journal_update(slot, group, None, &[], &[]);
            slot.notify(Class::Stream, "xgroup-setid");
            Ok(())
        })
    }

    pub(crate) fn group_destroy(&self, key: &[u8], group: &[u8]) -> Result<bool> {
        self.write_entry(key, |slot| {
            if slot.entry().is_none() {
                return Err(Error::NoSuchKey);
            }
            let gone = write(slot, false, |s: &mut Stream| {
                Ok(s.groups_mut().remove(group).is_some())
            })?
            .unwrap_or(false);
            if gone {
                slot.journal(Effect::StreamGroupDestroy {
                    db: slot.db(),
                    key,
                    group,
                });
                slot.notify(Class::Stream, "xgroup-destroy");
            }
            Ok(gone)
        })
    }

    pub(crate) fn consumer_create(&self, key: &[u8], group: &[u8], name: &[u8]) -> Result<bool> {
        self.admit().key(key)?.arg(group)?.arg(name)?.check()?;
        self.with_group(key, group, |slot| {
            let now = slot.now();
            let (n, created) = write(slot, false, |s: &mut Stream| {
                let g = s.groups_mut().get_mut(group).ok_or(NO_GROUP)?;
                Ok(g.create_consumer(name, now))
            })?
            .ok_or(NO_GROUP)?;
            if created {
                journal_update(slot, group, Some(n), &[], &[]);
                slot.notify(Class::Stream, "xgroup-createconsumer");
            }
            Ok(created)
        })
    }

    pub(crate) fn consumer_delete(&self, key: &[u8], group: &[u8], name: &[u8]) -> Result<u64> {
        self.with_group(key, group, |slot| {
            let pending = write(slot, false, |s: &mut Stream| {
                let g = s.groups_mut().get_mut(group).ok_or(NO_GROUP)?;
                Ok(g.delete_consumer(name))
            })?
            .flatten();
            let Some(pending) = pending else {
                return Ok(0);
            };
            slot.journal(Effect::StreamConsumerDel {
                db: slot.db(),
                key,
                group,
                consumer: name,
            });
            slot.notify(Class::Stream, "xgroup-delconsumer");
            Ok(pending as u64)
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn read_group(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        from: ReadGroup,
        count: Option<usize>,
        noack: bool,
        visit: &mut dyn FnMut(GroupEntry<'_>),
    ) -> Result<Option<usize>> {
        self.admit().key(key)?.arg(group)?.arg(consumer)?.check()?;
        let count = count
            .unwrap_or(usize::MAX)
            .min(record_room(self, &[key, group, consumer]));
        self.write_entry(key, |slot| {
            let Some(e) = slot.entry() else {
                return Err(NO_GROUP);
            };
            let s = stream_of(&e.value)?;
            let g = s.groups().get(group).ok_or(NO_GROUP)?;
            if from == ReadGroup::New && (s.len() == 0 || s.last_live_id() <= g.last_id) {
                return Ok(None);
            }
            let now = slot.now();
            let mut pending = Vec::new();
            let (owner, created, n, delivered) = write(slot, false, |s: &mut Stream| {
                let g = s.groups_mut().get_mut(group).ok_or(NO_GROUP)?;
                let (owner, created) = g.create_consumer(consumer, now);
                g.touch(owner, now, None);
                let n = match from {
                    ReadGroup::New => {
                        let ids = s.deliver(group, owner, count, noack, now);
                        if let (Some(&first), Some(&last)) = (ids.first(), ids.last()) {
                            s.range(first, last, false, |e| {
                                visit(GroupEntry::Entry(e));
                                true
                            });
                        }
                        if !noack {
                            pending.extend(ids.iter().map(|&id| (id, now, 1)));
                        }
                        ids.len()
                    }
                    ReadGroup::History(after) => {
                        let ids: Vec<StreamId> = match after.next() {
                            Some(start) => g
                                .consumer(owner)
                                .map(|c| c.pel.range(start..).take(count).copied().collect())
                                .unwrap_or_default(),
                            None => Vec::new(),
                        };
                        for &id in &ids {
                            match s.get(id) {
                                Some(e) => visit(GroupEntry::Entry(e)),
                                None => {
                                    visit(GroupEntry::Deleted(id));
                                    continue;
                                }
                            }
                            let g = s.groups_mut().get_mut(group).ok_or(NO_GROUP)?;
                            let deliveries = g.nack(id).map_or(1, |n| n.count + 1);
                            g.redeliver(id, now, deliveries);
                            pending.push((id, now, deliveries));
                        }
                        ids.len()
                    }
                };
                // New entries (even with NOACK: the group moved on), or history delivered again.
                let delivered = match from {
                    ReadGroup::New => n > 0,
                    ReadGroup::History(_) => !pending.is_empty(),
                };
                if delivered {
                    let g = s.groups_mut().get_mut(group).ok_or(NO_GROUP)?;
                    g.touch(owner, now, Some(now));
                }
                Ok((owner, created, n, delivered))
            })?
            .ok_or(NO_GROUP)?;
            if created || delivered {
                journal_update(slot, group, Some(owner), &pending, &[]);
            }
            if created {
                slot.notify(Class::Stream, "xgroup-createconsumer");
            }
            Ok(Some(n))
        })
    }

    pub(crate) fn ack(&self, key: &[u8], group: &[u8], ids: &[StreamId]) -> Result<u64> {
        self.admit()
            .key(key)?
            .arg(group)?
            .scores(ids.len() * PENDING_BYTES / crate::access::SCORE_BYTES)
            .check()?;
        self.write_entry(key, |slot| {
            let acked: Vec<StreamId> = write(slot, false, |s: &mut Stream| {
                Ok(match s.groups_mut().get_mut(group) {
                    Some(g) => ids.iter().copied().filter(|&id| g.ack(id)).collect(),
                    None => Vec::new(),
                })
            })?
            .unwrap_or_default();
            if !acked.is_empty() {
                journal_update(slot, group, None, &[], &acked);
            }
            Ok(acked.len() as u64)
        })
    }

    pub(crate) fn pending_summary(&self, key: &[u8], group: &[u8]) -> Result<PendingSummary> {
        read(self, key, |s: Option<&Stream>| {
            let g = s.and_then(|s| s.groups().get(group)).ok_or(NO_GROUP)?;
            let pel = g.pel();
            let range = pel
                .keys()
                .next()
                .zip(pel.keys().next_back())
                .map(|(a, b)| (*a, *b));
            let consumers = g
                .consumers()
                .filter(|(_, c)| !c.pel.is_empty())
                .map(|(_, c)| (c.name.to_vec(), c.pel.len() as u64))
                .collect();
            Ok(PendingSummary {
                count: pel.len() as u64,
                range,
                consumers,
            })
        })?
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn pending_range(
        &self,
        key: &[u8],
        group: &[u8],
        start: StreamId,
        end: StreamId,
        count: usize,
        consumer: Option<&[u8]>,
        min_idle: i64,
    ) -> Result<Vec<PendingEntry>> {
        let now = self.inner.now();
        read(self, key, |s: Option<&Stream>| {
            let g = s.and_then(|s| s.groups().get(group)).ok_or(NO_GROUP)?;
            let mut out = Vec::new();
            if start > end || count == 0 {
                return Ok(out);
            }
            let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
                Some(name) => match g.find(name).and_then(|n| g.consumer(n)) {
                    Some(c) => Box::new(c.pel.range(start..=end).copied()),
                    None => return Ok(out),
                },
                None => Box::new(g.pel().range(start..=end).map(|(id, _)| *id)),
            };
            for id in ids {
                let Some(n) = g.nack(id) else { continue };
                let idle = since(now, n.time);
                if min_idle != 0 && idle < min_idle {
                    continue;
                }
                out.push(PendingEntry {
                    id,
                    consumer: g
                        .consumer(n.owner)
                        .map(|c| c.name.to_vec())
                        .unwrap_or_default(),
                    delivered_at: n.time,
                    idle: idle.max(0) as u64,
                    deliveries: n.count,
                });
                if out.len() == count {
                    break;
                }
            }
            Ok(out)
        })?
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn claim(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        min_idle: i64,
        ids: &[StreamId],
        opts: &XClaimOptions,
        visit: &mut dyn FnMut(StreamEntryRef<'_>),
    ) -> Result<Vec<StreamId>> {
        self.admit()
            .key(key)?
            .arg(group)?
            .arg(consumer)?
            .scores(ids.len() * PENDING_BYTES / crate::access::SCORE_BYTES)
            .check()?;
        self.write_entry(key, |slot| {
            let Some(e) = slot.entry() else {
                return Err(NO_GROUP);
            };
            if !stream_of(&e.value)?.groups().contains_key(group) {
                return Err(NO_GROUP);
            }
            let now = slot.now();
            let time = match (opts.time, opts.idle) {
                (Some(t), _) => t,
                (None, Some(idle)) => (now as i64).wrapping_sub(idle),
                (None, None) => now as i64,
            };
            let time = if time < 0 || time as u64 > now {
                now
            } else {
                time as u64
            };
            let (mut claimed, mut pending, mut dropped) = (Vec::new(), Vec::new(), Vec::new());
            let mut owner = None;
            let mut created = false;
            let mut moved = false;
            write(slot, false, |s: &mut Stream| {
                let g = s.groups_mut().get_mut(group).ok_or(NO_GROUP)?;
                if let Some(last) = opts.last_id
                    && last > g.last_id
                {
                    g.last_id = last;
                    moved = true;
                }
                for &id in ids {
                    let exists = s.get(id).is_some();
                    let g = s.groups_mut().get_mut(group).ok_or(NO_GROUP)?;
                    let nack = g.nack(id).copied();
                    if !exists {
                        if nack.is_some() {
                            g.ack(id);
                            dropped.push(id);
                        }
                        continue;
                    }
                    let base = match nack {
                        Some(n) => {
                            if min_idle > 0 && since(now, n.time) < min_idle {
                                continue;
                            }
                            n.count
                        }
                        None if opts.force => 1,
                        None => continue,
                    };
                    let n = match owner {
                        Some(n) => n,
                        None => {
                            let (n, new) = g.create_consumer(consumer, now);
                            g.touch(n, now, Some(now));
                            created = new;
                            owner = Some(n);
                            n
                        }
                    };
                    let deliveries = match opts.retry_count {
                        Some(c) => c,
                        None if !opts.just_id => base + 1,
                        None => base,
                    };
                    g.assign(id, n, time, deliveries);
                    pending.push((id, time, deliveries));
                    claimed.push(id);
                    if !opts.just_id
                        && let Some(e) = s.get(id)
                    {
                        visit(e);
                    }
                }
                Ok(())
            })?;
            if moved || !pending.is_empty() || !dropped.is_empty() {
                journal_update(slot, group, owner, &pending, &dropped);
            }
            if created {
                slot.notify(Class::Stream, "xgroup-createconsumer");
            }
            Ok(claimed)
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn autoclaim(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        min_idle: i64,
        start: StreamId,
        count: usize,
        just_id: bool,
        visit: &mut dyn FnMut(StreamEntryRef<'_>),
    ) -> Result<AutoClaim> {
        self.admit().key(key)?.arg(group)?.arg(consumer)?.check()?;
        let count = count.min(record_room(self, &[key, group, consumer]));
        self.write_entry(key, |slot| {
            let Some(e) = slot.entry() else {
                return Err(NO_GROUP);
            };
            if !stream_of(&e.value)?.groups().contains_key(group) {
                return Err(NO_GROUP);
            }
            let now = slot.now();
            let mut out = AutoClaim {
                next: StreamId::MIN,
                claimed: Vec::new(),
                deleted: Vec::new(),
            };
            let mut pending = Vec::new();
            let mut owner = None;
            let mut created = false;
            write(slot, false, |s: &mut Stream| {
                let mut attempts = count.saturating_mul(10);
                let mut left = count;
                let mut cursor = Some(start);
                while attempts > 0 && left > 0 {
                    attempts -= 1;
                    let Some(from) = cursor else { break };
                    let g = s.groups().get(group).ok_or(NO_GROUP)?;
                    let Some((&id, &nack)) = g.pel().range(from..).next() else {
                        cursor = None;
                        break;
                    };
                    cursor = id.next();
                    let exists = s.get(id).is_some();
                    let g = s.groups_mut().get_mut(group).ok_or(NO_GROUP)?;
                    if !exists {
                        g.ack(id);
                        out.deleted.push(id);
                        left -= 1;
                        continue;
                    }
                    if min_idle > 0 && since(now, nack.time) < min_idle {
                        continue;
                    }
                    let n = match owner {
                        Some(n) => n,
                        None => {
                            let (n, new) = g.create_consumer(consumer, now);
                            g.touch(n, now, Some(now));
                            created = new;
                            owner = Some(n);
                            n
                        }
                    };
                    let deliveries = if just_id { nack.count } else { nack.count + 1 };
                    g.assign(id, n, now, deliveries);
                    pending.push((id, now, deliveries));
                    out.claimed.push(id);
                    left -= 1;
                    if !just_id && let Some(e) = s.get(id) {
                        visit(e);
                    }
                }
                let g = s.groups().get(group).ok_or(NO_GROUP)?;
                out.next = cursor
                    .and_then(|from| g.pel().range(from..).next().map(|(id, _)| *id))
                    .unwrap_or(StreamId::MIN);
                Ok(())
            })?;
            if !pending.is_empty() || !out.deleted.is_empty() {
                journal_update(slot, group, owner, &pending, &out.deleted);
            }
            if created {
                slot.notify(Class::Stream, "xgroup-createconsumer");
            }
            Ok(out)
        })
    }

    pub(crate) fn groups_info(&self, key: &[u8]) -> Result<Option<Vec<GroupInfo>>> {
        read(self, key, |s: Option<&Stream>| {
            s.map(|s| {
                s.groups()
                    .iter()
                    .map(|(name, g)| group_info(s, name, g))
                    .collect()
            })
        })
    }

    pub(crate) fn consumers_info(&self, key: &[u8], group: &[u8]) -> Result<Vec<ConsumerInfo>> {
        let now = self.inner.now();
        read(self, key, |s: Option<&Stream>| {
            let s = s.ok_or(Error::NoSuchKey)?;
            let g = s.groups().get(group).ok_or(NO_GROUP)?;
            Ok(g.consumers().map(|(_, c)| consumer_info(c, now)).collect())
        })?
    }

    pub(crate) fn groups_full(
        &self,
        key: &[u8],
        count: usize,
        visit: &mut dyn FnMut(StreamEntryRef<'_>),
    ) -> Result<Option<Vec<GroupFull>>> {
        let now = self.inner.now();
        let limit = if count == 0 { usize::MAX } else { count };
        read(self, key, |s: Option<&Stream>| {
            let s = s?;
            let mut n = 0;
            s.range(StreamId::MIN, StreamId::MAX, false, |e| {
                visit(e);
                n += 1;
                n < limit
            });
            Some(
                s.groups()
                    .iter()
                    .map(|(name, g)| GroupFull {
                        info: group_info(s, name, g),
                        pending: g
                            .pel()
                            .iter()
                            .take(limit)
                            .map(|(&id, n)| PendingEntry {
                                id,
                                consumer: g
                                    .consumer(n.owner)
                                    .map(|c| c.name.to_vec())
                                    .unwrap_or_default(),
                                delivered_at: n.time,
                                idle: now.saturating_sub(n.time),
                                deliveries: n.count,
                            })
                            .collect(),
                        consumers: g
                            .consumers()
                            .map(|(_, c)| {
                                let pel = c
                                    .pel
                                    .iter()
                                    .take(limit)
                                    .filter_map(|&id| g.nack(id).map(|n| (id, n.time, n.count)))
                                    .collect();
                                (consumer_info(c, now), pel)
                            })
                            .collect(),
                    })
                    .collect(),
            )
        })
    }
}
