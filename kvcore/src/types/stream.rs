//! `Stream`: Redis's append-only log of entries with strictly increasing IDs, each entry a list
//! of field/value pairs.
//!
//! Entries live in **blocks**, in ID order, in a `VecDeque` (appends at the back, trims at the
//! front, binary search by ID in between). A block is one byte buffer of packed entries plus
//! its *master fields* (the field names of the first entry put in it):
//!
//! ```text
//! entry = head: varint ((ms - previous ms) << 2 | flags)   flags: 1 deleted, 2 same fields
//!         seq:  varint (seq - previous seq when the ms did not change, else seq)
//!         same fields: (varint len, value bytes) per master field
//!         otherwise:   varint n, then (varint len, field bytes, varint len, value bytes) n times
//! ```
//!
//! "Previous" is the entry before in the block (the first entry's own ID for the first one).
//! Deleting marks the entry's flags in place (the low bits of its first byte), as Redis marks
//! its listpack entries; a block whose last live entry is deleted goes away, and trimming
//! drops whole blocks from the front. Blocks end where Redis's radix-tree nodes end (100
//! entries, deleted ones included, or a listpack of 4096 bytes, computed as Redis would lay the
//! same entries out), so `MAXLEN ~`/`MINID ~` remove exactly what Redis removes.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use super::stream_group::Group;

/// A stream entry ID: milliseconds, then a sequence number; ordered as the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// The milliseconds part.
    pub ms: u64,
    /// The sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The smallest ID, `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID, `18446744073709551615-18446744073709551615`.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// The ID `ms-seq`.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, None after [`StreamId::MAX`].
    pub fn next(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (u64::MAX, u64::MAX) => None,
            (ms, u64::MAX) => Some(StreamId::new(ms + 1, 0)),
            (ms, seq) => Some(StreamId::new(ms, seq + 1)),
        }
    }

    /// The previous ID, None before [`StreamId::MIN`].
    pub fn prev(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (0, 0) => None,
            (ms, 0) => Some(StreamId::new(ms - 1, u64::MAX)),
            (ms, seq) => Some(StreamId::new(ms, seq - 1)),
        }
    }

    /// Parses `<ms>-<seq>` or `<ms>` (the sequence is then `missing_seq`) with Redis's number
    /// rules (`string2ull`); None when malformed. `-` and `+` are not IDs here: callers that
    /// accept them (XRANGE) check them first.
    pub fn parse(text: &[u8], missing_seq: u64) -> Option<StreamId> {
        // Redis copies the argument into a 128-byte C buffer: longer ones are invalid, and the
        // text ends at the first NUL.
        if text.len() > 127 {
            return None;
        }
        let text = text
            .iter()
            .position(|&b| b == 0)
            .map_or(text, |n| &text[..n]);
        match text.iter().position(|&b| b == b'-') {
            Some(dash) => Some(StreamId::new(
                kvnum::parse_u64(&text[..dash])?,
                kvnum::parse_u64(&text[dash + 1..])?,
            )),
            None => Some(StreamId::new(kvnum::parse_u64(text)?, missing_seq)),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Redis's node limits (`stream-node-max-entries`, `stream-node-max-bytes`).
const NODE_MAX_ENTRIES: u32 = 100;
const NODE_MAX_BYTES: usize = 4096;
/// The largest sum of field and value lengths Redis accepts in one entry.
pub(crate) const MAX_ENTRY_BYTES: usize = 1 << 30;
/// A block also ends before an entry whose ms delta would not fit the head varint's 62 bits.
const MAX_MS_DELTA: u64 = 1 << 61;

const DELETED: u8 = 1;
const SAME_FIELDS: u8 = 2;

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a varint at `*pos`. The buffers are written by this module only.
fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return n;
        }
        shift += 7;
    }
}

fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let len = get_varint(buf, pos) as usize;
    let b = &buf[*pos..*pos + len];
    *pos += len;
    b
}

/// Bytes of a listpack integer element (encoding plus back length).
fn lp_int(v: i64) -> usize {
    match v {
        0..=127 => 2,
        -4096..=4095 => 3,
        -32768..=32767 => 4,
        -8_388_608..=8_388_607 => 5,
        -2_147_483_648..=2_147_483_647 => 6,
        _ => 10,
    }
}

/// Bytes of a listpack element holding `s` (stored as an integer when it reads as one).
fn lp_str(s: &[u8]) -> usize {
    if s.len() < 21
        && let Some(v) = kvnum::parse_i64(s)
    {
        return lp_int(v);
    }
    let enc = s.len()
        + match s.len() {
            0..64 => 1,
            64..4096 => 2,
            _ => 5,
        };
    let back = match enc {
        0..=127 => 1,
        128..16383 => 2,
        16383..2_097_151 => 3,
        2_097_151..268_435_455 => 4,
        _ => 5,
    };
    enc + back
}

#[derive(Debug, Clone, PartialEq)]
struct Block {
    /// The ID of the first entry put in the block (Redis's master ID).
    master: StreamId,
    /// The ID of the last entry put in the block, deleted or not.
    last: StreamId,
    live: u32,
    deleted: u32,
    /// What Redis's listpack for this node would weigh, without its two counters.
    lp_bytes: u32,
    /// The master fields: varint count, then (varint len, bytes) each.
    fields: Box<[u8]>,
    data: Vec<u8>,
}

/// One decoded entry of a block: where it starts, its ID and flags, where its body starts.
#[derive(Debug, Clone, Copy)]
struct Pos {
    at: usize,
    id: StreamId,
    flags: u8,
    body: usize,
}

impl Block {
    fn new(id: StreamId, pairs: &[(&[u8], &[u8])]) -> Block {
        let mut fields = Vec::new();
        put_varint(&mut fields, pairs.len() as u64);
        // Listpack header and end, the field count, the fields, the zero terminator.
        let mut lp = 7 + lp_int(pairs.len() as i64) + 2;
        for (f, _) in pairs {
            put_varint(&mut fields, f.len() as u64);
            fields.extend_from_slice(f);
            lp += lp_str(f);
        }
        Block {
            master: id,
            last: id,
            live: 0,
            deleted: 0,
            lp_bytes: lp as u32,
            fields: fields.into_boxed_slice(),
            data: Vec::new(),
        }
    }

    fn master_fields(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut pos = 0;
        let n = get_varint(&self.fields, &mut pos);
        (0..n).map(move |_| get_bytes(&self.fields, &mut pos))
    }

    fn field_count(&self) -> usize {
        get_varint(&self.fields, &mut 0) as usize
    }

    /// Redis's listpack size of this node, counters included.
    fn lp_total(&self) -> usize {
        self.lp_bytes as usize + lp_int(i64::from(self.live)) + lp_int(i64::from(self.deleted))
    }

    /// Whether Redis would start a new node before an entry with these pairs and ID.
    fn full(&self, id: StreamId, elements: usize) -> bool {
        self.lp_total() + elements >= NODE_MAX_BYTES
            || self.live + self.deleted >= NODE_MAX_ENTRIES
            || id.ms - self.last.ms >= MAX_MS_DELTA
    }

    fn push(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])]) {
        let same = pairs.len() == self.field_count()
            && self.master_fields().zip(pairs).all(|(m, (f, _))| m == *f);
        let prev = if self.live + self.deleted == 0 {
            id
        } else {
            self.last
        };
        let flags = if same { SAME_FIELDS } else { 0 };
        let dms = id.ms - prev.ms;
        put_varint(&mut self.data, dms << 2 | u64::from(flags));
        put_varint(
            &mut self.data,
            if dms == 0 { id.seq - prev.seq } else { id.seq },
        );
        let mut lp = 2
            + lp_int(id.ms.wrapping_sub(self.master.ms) as i64)
            + lp_int(id.seq.wrapping_sub(self.master.seq) as i64);
        let mut lp_count = pairs.len() + 3;
        if !same {
            put_varint(&mut self.data, pairs.len() as u64);
            lp += lp_int(pairs.len() as i64);
            lp_count += pairs.len() + 1;
        }
        for (f, v) in pairs {
            if !same {
                put_varint(&mut self.data, f.len() as u64);
                self.data.extend_from_slice(f);
                lp += lp_str(f);
            }
            put_varint(&mut self.data, v.len() as u64);
            self.data.extend_from_slice(v);
            lp += lp_str(v);
        }
        lp += lp_int(lp_count as i64);
        self.lp_bytes = self.lp_bytes.saturating_add(lp as u32);
        self.last = id;
        self.live += 1;
    }

    /// Decodes the entry at `at`, whose predecessor in the block has ID `prev` (None: first).
    fn decode(&self, at: usize, prev: Option<StreamId>) -> (Pos, usize) {
        let mut pos = at;
        let head = get_varint(&self.data, &mut pos);
        let (dms, flags) = (head >> 2, (head & 3) as u8);
        let seq = get_varint(&self.data, &mut pos);
        let prev = prev.unwrap_or(self.master);
        let id = if dms == 0 {
            StreamId::new(prev.ms, prev.seq + seq)
        } else {
            StreamId::new(prev.ms + dms, seq)
        };
        let body = pos;
        let n = if flags & SAME_FIELDS != 0 {
            self.field_count()
        } else {
            get_varint(&self.data, &mut pos) as usize * 2
        };
        for _ in 0..n {
            get_bytes(&self.data, &mut pos);
        }
        (
            Pos {
                at,
                id,
                flags,
                body,
            },
            pos,
        )
    }

    /// Every entry, tombstones included, in order.
    fn positions(&self) -> impl Iterator<Item = Pos> + '_ {
        let mut at = 0;
        let mut prev = None;
        std::iter::from_fn(move || {
            if at >= self.data.len() {
                return None;
            }
            let (p, next) = self.decode(at, prev);
            at = next;
            prev = Some(p.id);
            Some(p)
        })
    }

    fn entry(&self, p: Pos) -> EntryRef<'_> {
        EntryRef {
            id: p.id,
            block: self,
            body: p.body,
            same: p.flags & SAME_FIELDS != 0,
        }
    }

    fn mark_deleted(&mut self, p: Pos) {
        // The flags are the low bits of the head varint's first byte.
        self.data[p.at] |= DELETED;
        self.live -= 1;
        self.deleted += 1;
    }

    fn memory_usage(&self) -> usize {
        std::mem::size_of::<Block>()
            + super::alloc_size(self.fields.len())
            + super::alloc_size(self.data.capacity())
    }
}

/// A live entry, borrowed from its stream.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    id: StreamId,
    block: &'a Block,
    body: usize,
    same: bool,
}

impl fmt::Debug for EntryRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs: Vec<String> = self
            .fields()
            .map(|(k, v)| format!("{}={}", k.escape_ascii(), v.escape_ascii()))
            .collect();
        write!(f, "{} {}", self.id, pairs.join(" "))
    }
}

impl<'a> EntryRef<'a> {
    /// The entry's ID.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// How many field/value pairs it has.
    pub fn len(&self) -> usize {
        if self.same {
            self.block.field_count()
        } else {
            let mut pos = self.body;
            get_varint(&self.block.data, &mut pos) as usize
        }
    }

    /// Whether it has no pairs (never: XADD needs at least one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its field/value pairs, in the order they were added.
    pub fn fields(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let data = &self.block.data[..];
        let mut pos = self.body;
        let mut master = if self.same {
            Some(self.block.master_fields())
        } else {
            None
        };
        let n = if self.same {
            self.block.field_count()
        } else {
            get_varint(data, &mut pos) as usize
        };
        (0..n).map(move |_| {
            let field = match &mut master {
                // The master has `n` fields: the entry was packed against them.
                Some(m) => m.next().unwrap_or_default(),
                None => get_bytes(data, &mut pos),
            };
            (field, get_bytes(data, &mut pos))
        })
    }
}

/// How XADD and XTRIM trim: the strategy, whether only whole blocks go (`~`), and at most how
/// many entries (LIMIT; 0 = no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trim {
    pub(crate) by: TrimBy,
    pub(crate) approx: bool,
    pub(crate) limit: u64,
}

/// What to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrimBy {
    /// At most this many entries.
    MaxLen(u64),
    /// No entry with an ID below this one.
    MinId(StreamId),
}

/// The stream itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Stream {
    blocks: VecDeque<Block>,
    len: u64,
    last_id: StreamId,
    max_deleted: StreamId,
    entries_added: u64,
    /// Consumer groups by name (byte order, as Redis lists them); see `stream_group.rs`.
    groups: BTreeMap<Box<[u8]>, Group>,
}

impl Stream {
    pub(crate) fn new() -> Stream {
        Stream::default()
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The ID of the last entry ever added (or set by XSETID).
    pub(crate) fn last_id(&self) -> StreamId {
        self.last_id
    }

    pub(crate) fn max_deleted(&self) -> StreamId {
        self.max_deleted
    }

    pub(crate) fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// The first live entry's ID (0-0 when empty).
    pub(crate) fn first_id(&self) -> StreamId {
        self.iter().next().map_or(StreamId::MIN, |e| e.id())
    }

    /// The last live entry's ID (0-0 when empty).
    pub(crate) fn last_live_id(&self) -> StreamId {
        let mut last = StreamId::MIN;
        self.range(StreamId::MIN, StreamId::MAX, true, |e| {
            last = e.id();
            false
        });
        last
    }

    /// Appends an entry with `id`, which the caller checked is above [`Stream::last_id`].
    pub(crate) fn append(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])]) {
        let elements = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
        if self.blocks.back().is_none_or(|b| b.full(id, elements)) {
            if let Some(b) = self.blocks.back_mut() {
                b.data.shrink_to_fit();
            }
            self.blocks.push_back(Block::new(id, pairs));
        }
        // There is a block: one was pushed just above when there was none.
        let block = self.blocks.back_mut().expect("a block");
        block.push(id, pairs);
        self.len += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// Adds an entry loaded from a snapshot or replayed, keeping the stream's counters as they
    /// are (the caller restores them).
    pub(crate) fn load(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])]) {
        let (last, added) = (self.last_id, self.entries_added);
        self.append(id, pairs);
        self.last_id = last.max(id);
        self.entries_added = added;
    }

    /// The index of the first block that may hold `id` or later entries.
    fn block_from(&self, id: StreamId) -> usize {
        self.blocks.partition_point(|b| b.last < id)
    }

    /// Visits live entries with IDs in `start..=end`, ascending (descending when `rev`), while
    /// `visit` returns true.
    pub(crate) fn range<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut visit: impl FnMut(EntryRef<'a>) -> bool,
    ) {
        if start > end {
            return;
        }
        if !rev {
            for b in self.blocks.range(self.block_from(start)..) {
                if b.master > end {
                    return;
                }
                for p in b.positions() {
                    if p.id > end {
                        return;
                    }
                    if p.id >= start && p.flags & DELETED == 0 && !visit(b.entry(p)) {
                        return;
                    }
                }
            }
        } else {
            let stop = self.blocks.partition_point(|b| b.master <= end);
            let first = self.block_from(start);
            let mut positions = Vec::new();
            for b in self.blocks.range(first..stop).rev() {
                positions.clear();
                positions.extend(b.positions());
                for &p in positions.iter().rev() {
                    if p.id < start {
                        return;
                    }
                    if p.id <= end && p.flags & DELETED == 0 && !visit(b.entry(p)) {
                        return;
                    }
                }
            }
        }
    }

    /// Every live entry, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        self.blocks.iter().flat_map(|b| {
            b.positions()
                .filter(|p| p.flags & DELETED == 0)
                .map(move |p| b.entry(p))
        })
    }

    /// Deletes the entry `id`; false if there is no such live entry. Keeps the largest deleted
    /// ID, as XDEL does.
    pub(crate) fn delete(&mut self, id: StreamId) -> bool {
        let i = self.block_from(id);
        let Some(b) = self.blocks.get_mut(i) else {
            return false;
        };
        let Some(p) = b
            .positions()
            .find(|p| p.id >= id)
            .filter(|p| p.id == id && p.flags & DELETED == 0)
        else {
            return false;
        };
        if b.live == 1 {
            self.blocks.remove(i);
        } else {
            b.mark_deleted(p);
        }
        self.len -= 1;
        self.max_deleted = self.max_deleted.max(id);
        true
    }

    /// Trims as Redis's `streamTrim`; returns how many entries it removed.
    pub(crate) fn trim(&mut self, t: Trim) -> u64 {
        let mut removed = 0u64;
        while let Some(b) = self.blocks.front_mut() {
            if let TrimBy::MaxLen(max) = t.by
                && self.len <= max
            {
                break;
            }
            let live = u64::from(b.live);
            if t.limit != 0 && removed + live > t.limit {
                break;
            }
            let whole = match t.by {
                TrimBy::MaxLen(max) => self.len - live >= max,
                TrimBy::MinId(min) => b.last < min,
            };
            if whole {
                self.blocks.pop_front();
                self.len -= live;
                removed += live;
                continue;
            }
            if t.approx {
                break;
            }
            let positions: Vec<Pos> = b.positions().collect();
            for p in positions {
                let stop = match t.by {
                    TrimBy::MaxLen(max) => self.len <= max,
                    TrimBy::MinId(min) => p.id >= min,
                };
                if stop {
                    break;
                }
                if p.flags & DELETED == 0 {
                    b.mark_deleted(p);
                    self.len -= 1;
                    removed += 1;
                }
            }
            break;
        }
        removed
    }

    /// XSETID: the last ID, and optionally the entries-added count and largest deleted ID.
    pub(crate) fn set_id(
        &mut self,
        last: StreamId,
        added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) {
        self.last_id = last;
        if let Some(n) = added {
            self.entries_added = n;
        }
        if let Some(id) = max_deleted {
            self.max_deleted = id;
        }
    }

    pub(crate) fn memory_usage(&self) -> usize {
        std::mem::size_of::<Stream>()
            + self.blocks.iter().map(Block::memory_usage).sum::<usize>()
            + self
                .groups
                .iter()
                .map(|(name, g)| 64 + name.len() + g.memory_usage())
                .sum::<usize>()
    }

    /// The live entry `id`, if there is one.
    pub(crate) fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let mut found = None;
        self.range(id, id, false, |e| {
            found = Some(e);
            false
        });
        found
    }

    /// The consumer groups, by name.
    pub(crate) fn groups(&self) -> &BTreeMap<Box<[u8]>, Group> {
        &self.groups
    }

    pub(crate) fn groups_mut(&mut self) -> &mut BTreeMap<Box<[u8]>, Group> {
        &mut self.groups
    }

    /// Whether a deleted entry may lie at or after `start` (Redis's `streamRangeHasTombstones`
    /// with no end): then a group's entries-read counter cannot simply count forward.
    pub(crate) fn tombstones_from(&self, start: StreamId) -> bool {
        if self.len == 0 || self.max_deleted == StreamId::MIN {
            return false;
        }
        if self.first_id() > self.max_deleted {
            return false;
        }
        start <= self.max_deleted
    }

    /// The entries-read counter an ID stands for, when it can be known (Redis's
    /// `streamEstimateDistanceFromFirstEverEntry`): the last ID's is the entries added, an ID
    /// before the first entry's of an unfragmented stream counts the trimmed ones.
    pub(crate) fn read_counter(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.len == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let first = self.first_id();
        if self.max_deleted == StreamId::MIN || self.max_deleted < first {
            if id < first {
                return Some(self.entries_added - self.len);
            } else if id == first {
                return Some(self.entries_added - self.len + 1);
            }
        }
        None
    }

    /// How many entries a group has yet to be delivered (XINFO's `lag`), when it can be known.
    /// Negative when ENTRIESREAD claimed more reads than there were entries, as in Redis.
    pub(crate) fn lag(&self, g: &Group) -> Option<i64> {
        let added = self.entries_added as i64;
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = g.entries_read
            && !self.tombstones_from(g.last_id)
        {
            return Some(added.wrapping_sub(read as i64));
        }
        self.read_counter(g.last_id)
            .map(|read| added.wrapping_sub(read as i64))
    }

    /// Delivers to consumer `owner` of group `name` up to `count` entries after the group's
    /// last-delivered ID (XREADGROUP `>`), at `now`: moves the last-delivered ID and the
    /// entries-read counter, and (unless `noack`) makes each entry pending for `owner`.
    /// Returns the delivered IDs; the group must exist.
    pub(crate) fn deliver(
        &mut self,
        name: &[u8],
        owner: u32,
        count: usize,
        noack: bool,
        now: u64,
    ) -> Vec<StreamId> {
        let Some(g) = self.groups.get(name) else {
            return Vec::new();
        };
        let (mut last, mut read) = (g.last_id, g.entries_read);
        let mut ids = Vec::new();
        if count == 0 {
            return ids;
        }
        if let Some(start) = last.next() {
            self.range(start, StreamId::MAX, false, |e| {
                ids.push(e.id());
                ids.len() < count
            });
        }
        for &id in &ids {
            read = match read {
                Some(r) if !self.tombstones_from(id) => Some(r + 1),
                _ if self.entries_added != 0 => self.read_counter(id),
                other => other,
            };
            last = id;
        }
        // The group exists: it was found above and nothing removed it.
        let g = self.groups.get_mut(name).expect("the group exists");
        g.last_id = last;
        g.entries_read = read;
        if !noack {
            for &id in &ids {
                g.assign(id, owner, now, 1);
            }
        }
        ids
    }

    /// Redis's `radix-tree-nodes` for this stream: the nodes of a radix tree holding the
    /// blocks' first IDs as 16-byte big-endian keys, built by insertions in order.
    pub(crate) fn radix_nodes(&self) -> u64 {
        let keys: Vec<[u8; 16]> = self
            .blocks
            .iter()
            .map(|b| {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&b.master.ms.to_be_bytes());
                k[8..].copy_from_slice(&b.master.seq.to_be_bytes());
                k
            })
            .collect();
        if keys.is_empty() {
            return 1;
        }
        radix_nodes(&keys, 0)
    }

    /// How many blocks hold the entries (XINFO STREAM's `radix-tree-keys`).
    pub(crate) fn block_count(&self) -> usize {
        self.blocks.len()
    }

    #[cfg(test)]
    pub(crate) fn blocks(&self) -> usize {
        self.blocks.len()
    }
}

/// Nodes of a compressed radix tree (Redis's rax) below a point `depth` bytes into sorted,
/// distinct, equal-length `keys`: a compressed node for a shared run of bytes, a branching
/// node where they part, and a leaf node where each key ends.
fn radix_nodes(keys: &[[u8; 16]], depth: usize) -> u64 {
    if depth == 16 {
        return 1;
    }
    let (first, last) = (&keys[0], &keys[keys.len() - 1]);
    let shared = (depth..16).take_while(|&i| first[i] == last[i]).count();
    if shared > 0 {
        // One compressed node for the run, then what follows it.
        return 1 + radix_nodes(keys, depth + shared);
    }
    // A branching node, one child per distinct next byte.
    let mut n = 1;
    let mut i = 0;
    while i < keys.len() {
        let b = keys[i][depth];
        let j = i + keys[i..].iter().take_while(|k| k[depth] == b).count();
        n += radix_nodes(&keys[i..j], depth + 1);
        i = j;
    }
    n
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
