//! Stream commands: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID, and the reads XREAD
//! makes (the blocking form is the host's: it retries after writes, as for lists).

use std::ops::{Bound, RangeBounds};

use crate::effect::Effect;
use crate::entry::Value;
use crate::error::{Error, Result, StreamError};
use crate::kv::Db;
use crate::notify::Class;
use crate::ops::container::{read, write};
use crate::ops::stream_group::{
    AutoClaim, ConsumerInfo, GroupEntry, GroupFull, GroupInfo, GroupStart, PendingEntry,
    PendingSummary, ReadGroup, XClaimOptions,
};
use crate::types::{MAX_ENTRY_BYTES, Stream, StreamEntryRef, StreamId, Trim, TrimBy};

/// How XADD picks the new entry's ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAddId {
    /// `*`: the clock's milliseconds, or the last ID's successor when the clock is not ahead.
    Auto,
    /// `<ms>-*`: these milliseconds, with the next free sequence number.
    AutoSeq(u64),
    /// `<ms>-<seq>`: exactly this ID, which must be above the stream's last ID.
    Explicit(StreamId),
}

/// What to trim a stream to (XTRIM, and XADD's MAXLEN/MINID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XTrim {
    by: TrimBy,
    approx: bool,
    limit: Option<u64>,
}

impl XTrim {
    /// MAXLEN: keep at most `n` entries, removing the oldest.
    pub fn max_len(n: u64) -> XTrim {
        XTrim {
            by: TrimBy::MaxLen(n),
            approx: false,
            limit: None,
        }
    }

    /// MINID: remove the entries with IDs below `id`.
    pub fn min_id(id: StreamId) -> XTrim {
        XTrim {
            by: TrimBy::MinId(id),
            approx: false,
            limit: None,
        }
    }

    /// `~`: remove only whole blocks of entries (about 100 each, as Redis's radix-tree nodes),
    /// so the stream may keep a few more entries than asked, for much less work.
    pub fn approx(mut self) -> XTrim {
        self.approx = true;
        self
    }

    /// LIMIT: with `~`, remove at most about `n` entries (0: no limit). Without a LIMIT an
    /// approximate trim removes at most 10000 (Redis's default, 100 nodes); an exact trim has
    /// no limit and ignores this.
    pub fn limit(mut self, n: u64) -> XTrim {
        self.limit = Some(n);
        self
    }

    fn rule(&self) -> Trim {
        Trim {
            by: self.by,
            approx: self.approx,
            limit: if self.approx {
                self.limit.unwrap_or(10_000)
            } else {
                0
            },
        }
    }
}

/// XADD's options besides the ID and the pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XAddOptions {
    no_mkstream: bool,
    trim: Option<XTrim>,
}

impl XAddOptions {
    /// No options: create the stream if missing, no trimming.
    pub const fn new() -> XAddOptions {
        XAddOptions {
            no_mkstream: false,
            trim: None,
        }
    }

    /// NOMKSTREAM: do nothing (and answer `None`) when the stream does not exist.
    pub fn no_mkstream(mut self) -> XAddOptions {
        self.no_mkstream = true;
        self
    }

    /// MAXLEN/MINID: trim after adding.
    pub fn trim(mut self, trim: XTrim) -> XAddOptions {
        self.trim = Some(trim);
        self
    }
}

/// XSETID's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XSetIdOptions {
    entries_added: Option<u64>,
    max_deleted_id: Option<StreamId>,
}

impl XSetIdOptions {
    /// No options: only the last ID changes.
    pub fn new() -> XSetIdOptions {
        XSetIdOptions::default()
    }

    /// ENTRIESADDED: how many entries were ever added.
    pub fn entries_added(mut self, n: u64) -> XSetIdOptions {
        self.entries_added = Some(n);
        self
    }

    /// MAXDELETEDID: the largest ID ever deleted (`0-0` leaves it unchanged, as in Redis).
    pub fn max_deleted_id(mut self, id: StreamId) -> XSetIdOptions {
        self.max_deleted_id = Some(id);
        self
    }
}

/// A stream entry, copied out of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// Its ID.
    pub id: StreamId,
    /// Its field/value pairs, in the order they were added.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl From<StreamEntryRef<'_>> for StreamEntry {
    fn from(e: StreamEntryRef<'_>) -> StreamEntry {
        StreamEntry {
            id: e.id(),
            fields: e.fields().map(|(f, v)| (f.to_vec(), v.to_vec())).collect(),
        }
    }
}

/// What a stream is besides its entries (XINFO STREAM's counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamInfo {
    /// How many entries it holds.
    pub len: u64,
    /// The last ID added or set (XREAD's `$`).
    pub last_id: StreamId,
    /// The first live entry's ID (`0-0` when empty).
    pub first_id: StreamId,
    /// The last live entry's ID (`0-0` when empty).
    pub last_entry_id: StreamId,
    /// How many entries were ever added.
    pub entries_added: u64,
    /// The largest ID ever deleted (`0-0` when none).
    pub max_deleted_id: StreamId,
    /// How many consumer groups it has.
    pub groups: u64,
    /// Redis's `radix-tree-keys`: how many nodes (blocks) hold the entries.
    pub radix_tree_keys: u64,
    /// Redis's `radix-tree-nodes` for the same nodes.
    pub radix_tree_nodes: u64,
}

/// Stream operations, as Redis's stream commands. Fields and values are bytes.
///
/// Every method fails with [`Error::WrongType`] when the key holds another type. Unlike the
/// other containers, a stream whose entries are all deleted stays (its last ID still rules
/// which IDs may come next).
///
/// ```
/// use std::ops::Bound::{Excluded, Unbounded};
///
/// use kvcore::{Kv, Options, StreamId, StreamStore, XAddId, XAddOptions, XTrim};
///
/// let db = Kv::in_memory(Options::default()).db(0)?;
/// let plain = XAddOptions::new();
/// db.xadd("events", XAddId::Explicit(StreamId::new(1, 0)), &[("kind", "click")], &plain)?;
/// db.xadd("events", XAddId::Explicit(StreamId::new(2, 0)), &[("kind", "click")], &plain)?;
/// // `2-*`: the next sequence number of 2 ms; MAXLEN 2 drops the oldest entry.
/// let capped = XAddOptions::new().trim(XTrim::max_len(2));
/// let id = db.xadd("events", XAddId::AutoSeq(2), &[("kind", "view")], &capped)?;
/// assert_eq!(id, Some(StreamId::new(2, 1)));
/// // XRANGE events (1-0 +
/// let after = db.xrange("events", (Excluded(StreamId::new(1, 0)), Unbounded), None)?;
/// assert_eq!(after.len(), 2);
/// assert_eq!(after[1].fields, vec![(b"kind".to_vec(), b"view".to_vec())]);
/// assert_eq!(db.xlen("events")?, 2);
/// # Ok::<(), kvcore::Error>(())
/// ```
pub trait StreamStore {
    /// XADD: appends an entry of `pairs` (at least one) and trims as asked; returns its ID,
    /// or `None` when the stream is missing and `opts` says NOMKSTREAM.
    ///
    /// # Errors
    /// [`Error::Stream`]: the ID `0-0`, an ID not above the last one, an exhausted stream or
    /// sequence, no pairs, more than 1 GiB of fields and values.
    fn xadd<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        id: XAddId,
        pairs: &[(F, V)],
        opts: &XAddOptions,
    ) -> Result<Option<StreamId>>;
    /// XLEN.
    fn xlen(&self, key: impl AsRef<[u8]>) -> Result<u64>;
    /// XRANGE: the entries with IDs in `range`, oldest first, at most `count`.
    fn xrange(
        &self,
        key: impl AsRef<[u8]>,
        range: impl RangeBounds<StreamId>,
        count: Option<usize>,
    ) -> Result<Vec<StreamEntry>>;
    /// XREVRANGE: the entries with IDs in `range`, newest first, at most `count`.
    fn xrevrange(
        &self,
        key: impl AsRef<[u8]>,
        range: impl RangeBounds<StreamId>,
        count: Option<usize>,
    ) -> Result<Vec<StreamEntry>>;
    /// Visits the entries XRANGE (or, with `rev`, XREVRANGE) would return, borrowed from the
    /// store under the key's shard lock (so a server can encode them without copying); returns
    /// how many it visited.
    fn xrange_with(
        &self,
        key: impl AsRef<[u8]>,
        range: impl RangeBounds<StreamId>,
        count: Option<usize>,
        rev: bool,
        visit: impl FnMut(StreamEntryRef<'_>),
    ) -> Result<usize>;
    /// XDEL: deletes the entries with these IDs; returns how many existed.
    fn xdel(&self, key: impl AsRef<[u8]>, ids: &[StreamId]) -> Result<u64>;
    /// XTRIM: returns how many entries it removed (0 for a missing key).
    fn xtrim(&self, key: impl AsRef<[u8]>, trim: &XTrim) -> Result<u64>;
    /// XSETID: sets the last ID (and the counters `opts` names).
    ///
    /// # Errors
    /// [`Error::NoSuchKey`]; [`Error::Stream`] when the ID is below the last entry or the
    /// given largest deleted ID, or the entries-added count below the length.
    fn xsetid(&self, key: impl AsRef<[u8]>, id: StreamId, opts: &XSetIdOptions) -> Result<()>;
    /// The stream's counters, `None` when the key is missing.
    fn xinfo(&self, key: impl AsRef<[u8]>) -> Result<Option<StreamInfo>>;

    /// XGROUP CREATE: adds consumer group `group`, with this last-delivered ID and
    /// entries-read counter (None: unknown); with `mkstream`, creates an empty stream first
    /// when the key is missing.
    ///
    /// # Errors
    /// [`Error::NoSuchKey`] (without `mkstream`); [`StreamError::GroupExists`].
    fn xgroup_create(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        start: GroupStart,
        entries_read: Option<u64>,
        mkstream: bool,
    ) -> Result<()>;
    /// XGROUP SETID: sets the group's last-delivered ID and entries-read counter.
    ///
    /// # Errors
    /// [`Error::NoSuchKey`]; [`StreamError::NoGroup`].
    fn xgroup_setid(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        start: GroupStart,
        entries_read: Option<u64>,
    ) -> Result<()>;
    /// XGROUP DESTROY: whether the group existed.
    ///
    /// # Errors
    /// [`Error::NoSuchKey`].
    fn xgroup_destroy(&self, key: impl AsRef<[u8]>, group: impl AsRef<[u8]>) -> Result<bool>;
    /// XGROUP CREATECONSUMER: whether the consumer was created.
    ///
    /// # Errors
    /// [`Error::NoSuchKey`]; [`StreamError::NoGroup`].
    fn xgroup_createconsumer(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
    ) -> Result<bool>;
    /// XGROUP DELCONSUMER: deletes the consumer and its pending entries; how many it had.
    ///
    /// # Errors
    /// [`Error::NoSuchKey`]; [`StreamError::NoGroup`].
    fn xgroup_delconsumer(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
    ) -> Result<u64>;
    /// XREADGROUP on one stream: visits what `consumer` reads (`from`), at most `count`
    /// entries, borrowed under the key's lock. New entries become pending for the consumer
    /// (unless `noack`), history entries are delivered again. Returns `None` when there was
    /// nothing new to read (the consumer is then not created), else how many it visited.
    ///
    /// # Errors
    /// [`StreamError::NoGroup`] for a missing key or group.
    #[allow(clippy::too_many_arguments)]
    fn xreadgroup_with(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        from: ReadGroup,
        count: Option<usize>,
        noack: bool,
        visit: impl FnMut(GroupEntry<'_>),
    ) -> Result<Option<usize>>;
    /// XREADGROUP on one stream, copying the entries out (`None` for a deleted one of the
    /// history); see [`StreamStore::xreadgroup_with`].
    ///
    /// # Errors
    /// As [`StreamStore::xreadgroup_with`].
    fn xreadgroup(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        from: ReadGroup,
        count: Option<usize>,
        noack: bool,
    ) -> Result<Vec<(StreamId, Option<StreamEntry>)>> {
        let mut out = Vec::new();
        self.xreadgroup_with(key, group, consumer, from, count, noack, |e| match e {
            GroupEntry::Entry(e) => out.push((e.id(), Some(e.into()))),
            GroupEntry::Deleted(id) => out.push((id, None)),
        })?;
        Ok(out)
    }
    /// XACK: how many of `ids` were pending (0 for a missing key or group).
    fn xack(&self, key: impl AsRef<[u8]>, group: impl AsRef<[u8]>, ids: &[StreamId])
    -> Result<u64>;
    /// XPENDING key group: the summary.
    ///
    /// # Errors
    /// [`StreamError::NoGroup`] for a missing key or group.
    fn xpending(&self, key: impl AsRef<[u8]>, group: impl AsRef<[u8]>) -> Result<PendingSummary>;
    /// XPENDING key group [IDLE min] start end count [consumer]: pending entries with IDs in
    /// `start..=end` (of `consumer` only, if given) idle for at least `min_idle` ms.
    ///
    /// # Errors
    /// [`StreamError::NoGroup`] for a missing key or group.
    #[allow(clippy::too_many_arguments)]
    fn xpending_range(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        start: StreamId,
        end: StreamId,
        count: usize,
        consumer: Option<&[u8]>,
        min_idle: i64,
    ) -> Result<Vec<PendingEntry>>;
    /// XCLAIM: gives `consumer` the pending `ids` idle for at least `min_idle` ms; visits each
    /// claimed entry (not with JUSTID) and returns the claimed IDs. Pending IDs whose entries
    /// were deleted leave the PEL.
    ///
    /// # Errors
    /// [`StreamError::NoGroup`] for a missing key or group.
    #[allow(clippy::too_many_arguments)]
    fn xclaim_with(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        min_idle: i64,
        ids: &[StreamId],
        opts: &XClaimOptions,
        visit: impl FnMut(StreamEntryRef<'_>),
    ) -> Result<Vec<StreamId>>;
    /// XAUTOCLAIM: scans the PEL from `start`, giving `consumer` up to `count` entries idle
    /// for at least `min_idle` ms (visited unless `just_id`), as Redis does (at most
    /// `count * 10` PEL entries looked at).
    ///
    /// # Errors
    /// [`StreamError::NoGroup`] for a missing key or group.
    #[allow(clippy::too_many_arguments)]
    fn xautoclaim_with(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        min_idle: i64,
        start: StreamId,
        count: usize,
        just_id: bool,
        visit: impl FnMut(StreamEntryRef<'_>),
    ) -> Result<AutoClaim>;
    /// Whether the stream at `key` has consumer group `group` (false for a missing key).
    fn xgroup_exists(&self, key: impl AsRef<[u8]>, group: impl AsRef<[u8]>) -> Result<bool>;
    /// XINFO GROUPS: `None` when the key is missing.
    fn xinfo_groups(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<GroupInfo>>>;
    /// XINFO CONSUMERS.
    ///
    /// # Errors
    /// [`Error::NoSuchKey`]; [`StreamError::NoGroup`].
    fn xinfo_consumers(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
    ) -> Result<Vec<ConsumerInfo>>;
    /// XINFO STREAM FULL's entries (at most `count`, 0: all, visited) and groups; `None` when
    /// the key is missing.
    fn xinfo_full_with(
        &self,
        key: impl AsRef<[u8]>,
        count: usize,
        visit: impl FnMut(StreamEntryRef<'_>),
    ) -> Result<Option<Vec<GroupFull>>>;
}

/// `range` as inclusive bounds; None when it selects nothing.
fn bounds(range: &impl RangeBounds<StreamId>) -> Option<(StreamId, StreamId)> {
    let start = match range.start_bound() {
        Bound::Included(&id) => id,
        Bound::Excluded(&id) => id.next()?,
        Bound::Unbounded => StreamId::MIN,
    };
    let end = match range.end_bound() {
        Bound::Included(&id) => id,
        Bound::Excluded(&id) => id.prev()?,
        Bound::Unbounded => StreamId::MAX,
    };
    Some((start, end))
}

/// The ID XADD gives a new entry after `last`, or why it cannot.
fn new_id(spec: XAddId, last: StreamId, now: u64) -> Result<StreamId> {
    if last == StreamId::MAX {
        return Err(Error::Stream(StreamError::Exhausted));
    }
    let id = match spec {
        XAddId::Auto if now > last.ms => StreamId::new(now, 0),
        // `last` is not the largest ID: it has a successor.
        XAddId::Auto => last.next().expect("not the last ID"),
        XAddId::AutoSeq(ms) if ms == last.ms => {
            if last.seq == u64::MAX {
                return Err(Error::Stream(StreamError::SeqExhausted));
            }
            StreamId::new(ms, last.seq + 1)
        }
        XAddId::AutoSeq(ms) => StreamId::new(ms, 0),
        XAddId::Explicit(id) => id,
    };
    if id <= last {
        return Err(Error::Stream(StreamError::IdTooSmall));
    }
    Ok(id)
}

fn stream_of(v: &Value) -> Result<&Stream> {
    match v {
        Value::Stream(s) => Ok(s),
        _ => Err(Error::WrongType),
    }
}

impl StreamStore for Db {
    fn xadd<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        id: XAddId,
        pairs: &[(F, V)],
        opts: &XAddOptions,
    ) -> Result<Option<StreamId>> {
        let key = key.as_ref();
        let pairs: Vec<(&[u8], &[u8])> = pairs
            .iter()
            .map(|(f, v)| (f.as_ref(), v.as_ref()))
            .collect();
        if pairs.is_empty() {
            return Err(Error::Stream(StreamError::NoFields));
        }
        // Redis refuses 0-0 before it looks at the key.
        if id == XAddId::Explicit(StreamId::MIN) {
            return Err(Error::Stream(StreamError::IdZero));
        }
        // The record also carries the ID and the trim count: counted as a few scores' bytes.
        self.admit()
            .key(key)?
            .pairs(&pairs)?
            .scores(crate::access::STREAM_ENTRY_BYTES.div_ceil(crate::access::SCORE_BYTES))
            .check()?;
        self.write_entry(key, |slot| {
            let last = match slot.entry() {
                Some(e) => stream_of(&e.value)?.last_id(),
                None if opts.no_mkstream => return Ok(None),
                None => StreamId::MIN,
            };
            let id = new_id(id, last, slot.now())?;
            let elements: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
            if elements > MAX_ENTRY_BYTES {
                return Err(Error::Stream(StreamError::TooLarge));
            }
            let trimmed = write(slot, true, |s: &mut Stream| {
                s.append(id, &pairs);
                Ok(opts.trim.map_or(0, |t| s.trim(t.rule())))
            })?
            .unwrap_or(0);
            slot.journal(Effect::StreamAdd {
                db: slot.db(),
                key,
                id,
                pairs: &pairs,
                trimmed,
            });
            slot.notify(Class::Stream, "xadd");
            if trimmed > 0 {
                slot.notify(Class::Stream, "xtrim");
            }
            Ok(Some(id))
        })
    }

    fn xlen(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        read(self, key.as_ref(), |s: Option<&Stream>| {
            s.map_or(0, Stream::len)
        })
    }

    fn xrange(
        &self,
        key: impl AsRef<[u8]>,
        range: impl RangeBounds<StreamId>,
        count: Option<usize>,
    ) -> Result<Vec<StreamEntry>> {
        let mut out = Vec::new();
        self.xrange_with(key, range, count, false, |e| out.push(e.into()))?;
        Ok(out)
    }

    fn xrevrange(
        &self,
        key: impl AsRef<[u8]>,
        range: impl RangeBounds<StreamId>,
        count: Option<usize>,
    ) -> Result<Vec<StreamEntry>> {
        let mut out = Vec::new();
        self.xrange_with(key, range, count, true, |e| out.push(e.into()))?;
        Ok(out)
    }

    fn xrange_with(
        &self,
        key: impl AsRef<[u8]>,
        range: impl RangeBounds<StreamId>,
        count: Option<usize>,
        rev: bool,
        mut visit: impl FnMut(StreamEntryRef<'_>),
    ) -> Result<usize> {
        let Some((start, end)) = bounds(&range) else {
            // Still a type check, as Redis reads the key.
            return read(self, key.as_ref(), |_: Option<&Stream>| 0);
        };
        let count = count.unwrap_or(usize::MAX);
        read(self, key.as_ref(), |s: Option<&Stream>| {
            let mut n = 0;
            if let Some(s) = s
                && count > 0
            {
                s.range(start, end, rev, |e| {
                    visit(e);
                    n += 1;
                    n < count
                });
            }
            n
        })
    }

    fn xdel(&self, key: impl AsRef<[u8]>, ids: &[StreamId]) -> Result<u64> {
        let key = key.as_ref();
        self.write_entry(key, |slot| {
            let deleted: Vec<StreamId> = write(slot, false, |s: &mut Stream| {
                Ok(ids.iter().copied().filter(|&id| s.delete(id)).collect())
            })?
            .unwrap_or_default();
            if !deleted.is_empty() {
                slot.journal(Effect::StreamDel {
                    db: slot.db(),
                    key,
                    ids: &deleted,
                });
                slot.notify(Class::Stream, "xdel");
            }
            Ok(deleted.len() as u64)
        })
    }

    fn xtrim(&self, key: impl AsRef<[u8]>, trim: &XTrim) -> Result<u64> {
        let key = key.as_ref();
        self.write_entry(key, |slot| {
            let trimmed =
                write(slot, false, |s: &mut Stream| Ok(s.trim(trim.rule())))?.unwrap_or(0);
            if trimmed > 0 {
                slot.journal(Effect::StreamTrim {
                    db: slot.db(),
                    key,
                    count: trimmed,
                });
                slot.notify(Class::Stream, "xtrim");
            }
            Ok(trimmed)
        })
    }

    fn xsetid(&self, key: impl AsRef<[u8]>, id: StreamId, opts: &XSetIdOptions) -> Result<()> {
        let key = key.as_ref();
        if opts.max_deleted_id.is_some_and(|max| id < max) {
            return Err(Error::Stream(StreamError::SetIdMaxDeleted));
        }
        self.write_entry(key, |slot| {
            let Some(e) = slot.entry() else {
                return Err(Error::NoSuchKey);
            };
            let s = stream_of(&e.value)?;
            if s.len() > 0 {
                if id < s.last_live_id() {
                    return Err(Error::Stream(StreamError::SetIdTooSmall));
                }
                if opts.entries_added.is_some_and(|n| n < s.len()) {
                    return Err(Error::Stream(StreamError::SetIdEntriesAdded));
                }
            }
            let max_deleted = opts.max_deleted_id.filter(|&m| m != StreamId::MIN);
            let (last_id, entries_added, max_deleted_id) = write(slot, false, |s: &mut Stream| {
                s.set_id(id, opts.entries_added, max_deleted);
                Ok((s.last_id(), s.entries_added(), s.max_deleted()))
            })?
            // The key exists: it was checked above.
            .expect("the stream exists");
            slot.journal(Effect::StreamSetId {
                db: slot.db(),
                key,
                last_id,
                entries_added,
                max_deleted_id,
            });
            slot.notify(Class::Stream, "xsetid");
            Ok(())
        })
    }

    fn xinfo(&self, key: impl AsRef<[u8]>) -> Result<Option<StreamInfo>> {
        read(self, key.as_ref(), |s: Option<&Stream>| {
            s.map(|s| StreamInfo {
                len: s.len(),
                last_id: s.last_id(),
                first_id: s.first_id(),
                last_entry_id: s.last_live_id(),
                entries_added: s.entries_added(),
                max_deleted_id: s.max_deleted(),
                groups: s.groups().len() as u64,
                radix_tree_keys: s.block_count() as u64,
                radix_tree_nodes: s.radix_nodes(),
            })
        })
    }

    fn xgroup_create(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        start: GroupStart,
        entries_read: Option<u64>,
        mkstream: bool,
    ) -> Result<()> {
        self.group_create(key.as_ref(), group.as_ref(), start, entries_read, mkstream)
    }

    fn xgroup_setid(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        start: GroupStart,
        entries_read: Option<u64>,
    ) -> Result<()> {
        self.group_setid(key.as_ref(), group.as_ref(), start, entries_read)
    }

    fn xgroup_destroy(&self, key: impl AsRef<[u8]>, group: impl AsRef<[u8]>) -> Result<bool> {
        self.group_destroy(key.as_ref(), group.as_ref())
    }

    fn xgroup_createconsumer(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
    ) -> Result<bool> {
        self.consumer_create(key.as_ref(), group.as_ref(), consumer.as_ref())
    }

    fn xgroup_delconsumer(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
    ) -> Result<u64> {
        self.consumer_delete(key.as_ref(), group.as_ref(), consumer.as_ref())
    }

    fn xreadgroup_with(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        from: ReadGroup,
        count: Option<usize>,
        noack: bool,
        mut visit: impl FnMut(GroupEntry<'_>),
    ) -> Result<Option<usize>> {
        self.read_group(
            key.as_ref(),
            group.as_ref(),
            consumer.as_ref(),
            from,
            count,
            noack,
            &mut visit,
        )
    }

    fn xack(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        ids: &[StreamId],
    ) -> Result<u64> {
        self.ack(key.as_ref(), group.as_ref(), ids)
    }

    fn xpending(&self, key: impl AsRef<[u8]>, group: impl AsRef<[u8]>) -> Result<PendingSummary> {
        self.pending_summary(key.as_ref(), group.as_ref())
    }

    fn xpending_range(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        start: StreamId,
        end: StreamId,
        count: usize,
        consumer: Option<&[u8]>,
        min_idle: i64,
    ) -> Result<Vec<PendingEntry>> {
        self.pending_range(
            key.as_ref(),
            group.as_ref(),
            start,
            end,
            count,
            consumer,
            min_idle,
        )
    }

    fn xclaim_with(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        min_idle: i64,
        ids: &[StreamId],
        opts: &XClaimOptions,
        mut visit: impl FnMut(StreamEntryRef<'_>),
    ) -> Result<Vec<StreamId>> {
        self.claim(
            key.as_ref(),
            group.as_ref(),
            consumer.as_ref(),
            min_idle,
            ids,
            opts,
            &mut visit,
        )
    }

    fn xautoclaim_with(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        min_idle: i64,
        start: StreamId,
        count: usize,
        just_id: bool,
        mut visit: impl FnMut(StreamEntryRef<'_>),
    ) -> Result<AutoClaim> {
        self.autoclaim(
            key.as_ref(),
            group.as_ref(),
            consumer.as_ref(),
            min_idle,
            start,
            count,
            just_id,
            &mut visit,
        )
    }

    fn xgroup_exists(&self, key: impl AsRef<[u8]>, group: impl AsRef<[u8]>) -> Result<bool> {
        read(self, key.as_ref(), |s: Option<&Stream>| {
            s.is_some_and(|s| s.groups().contains_key(group.as_ref()))
        })
    }

    fn xinfo_groups(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<GroupInfo>>> {
        self.groups_info(key.as_ref())
    }

    fn xinfo_consumers(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
    ) -> Result<Vec<ConsumerInfo>> {
        self.consumers_info(key.as_ref(), group.as_ref())
    }

    fn xinfo_full_with(
        &self,
        key: impl AsRef<[u8]>,
        count: usize,
        mut visit: impl FnMut(StreamEntryRef<'_>),
    ) -> Result<Option<Vec<GroupFull>>> {
        self.groups_full(key.as_ref(), count, &mut visit)
    }
}
