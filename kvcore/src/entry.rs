//! The entry model: what the store keeps per key.

use crate::bytes::SmallBytes;
use crate::types::{Hash, List, Set, Stream, ZSet};

/// The type of the value a key holds, as Redis's TYPE reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// A byte string.
    String,
    /// A list.
    List,
    /// A hash.
    Hash,
    /// A set.
    Set,
    /// A sorted set.
    ZSet,
    /// A stream.
    Stream,
}

impl KeyType {
    /// The name Redis's TYPE replies with: `string`, `list`, `hash`, `set`, `zset` or
    /// `stream`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::List => "list",
            KeyType::Hash => "hash",
            KeyType::Set => "set",
            KeyType::ZSet => "zset",
            KeyType::Stream => "stream",
        }
    }

    /// Parses a TYPE name (ASCII case-insensitive), as SCAN's TYPE option takes it.
    pub fn parse(name: &[u8]) -> Option<KeyType> {
        [
            KeyType::String,
            KeyType::List,
            KeyType::Hash,
            KeyType::Set,
            KeyType::ZSet,
            KeyType::Stream,
        ]
        .into_iter()
        .find(|t| t.as_str().as_bytes().eq_ignore_ascii_case(name))
    }
}

/// A stored value, 104 bytes: a string inline up to 102 bytes. Lists, hashes, sets and
/// sorted sets fit in that room and live in the slot too (their headers are 32-40 bytes), which
/// saves a small container a heap block; a stream's header is larger and is boxed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    String(SmallBytes),
    List(List),
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
    Stream(Box<Stream>),
}

impl Value {
    pub(crate) fn string(bytes: &[u8]) -> Value {
        Value::String(SmallBytes::new(bytes))
    }

    pub(crate) fn key_type(&self) -> KeyType {
        match self {
            Value::String(_) => KeyType::String,
            Value::List(_) => KeyType::List,
            Value::Hash(_) => KeyType::Hash,
            Value::Set(_) => KeyType::Set,
            Value::ZSet(_) => KeyType::ZSet,
            Value::Stream(_) => KeyType::Stream,
        }
    }

    /// A container that became empty is deleted, as in Redis; strings may be empty, and so
    /// may streams (Redis keeps an emptied stream: its last ID still matters).
    pub(crate) fn is_empty_container(&self) -> bool {
        match self {
            Value::String(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            Value::Stream(_) => false,
        }
    }

    /// Heap bytes owned by the value (an estimate for containers). The headers of lists,
    /// hashes, sets and sorted sets live in the slot, so they are not counted here.
    pub(crate) fn heap_size(&self) -> usize {
        use std::mem::size_of;
        match self {
            Value::String(s) => s.heap_size(),
            Value::List(l) => l.memory_usage() - size_of::<List>(),
            Value::Hash(h) => h.memory_usage() - size_of::<Hash>(),
            Value::Set(s) => s.memory_usage() - size_of::<Set>(),
            Value::ZSet(z) => z.memory_usage() - size_of::<ZSet>(),
            Value::Stream(s) => s.memory_usage(),
        }
    }

    /// Writes a small list, hash, set or sorted set's inline form into `out` (a container
    /// slot's room, see `shard.rs`): its kind (0..4) and length. None for a string, a stream
    /// or a container whose form does not fit.
    pub(crate) fn encode_inline(&self, out: &mut [u8]) -> Option<(u8, usize)> {
        match self {
            Value::List(l) => Some((0, l.encode_inline(out)?)),
            Value::Hash(h) => Some((1, h.encode_inline(out)?)),
            Value::Set(s) => Some((2, s.encode_inline(out)?)),
            Value::ZSet(z) => Some((3, z.encode_inline(out)?)),
            Value::String(_) | Value::Stream(_) => None,
        }
    }

    /// Whether [`Value::encode_inline`] would succeed with `room` bytes: O(1) for a hash or
    /// a set (their form is their packed buffer), an encoding into scratch for the others.
    pub(crate) fn fits_inline(&self, room: usize) -> bool {
        match self {
            Value::Hash(h) => h.inline_len().is_some_and(|n| n <= room),
            Value::Set(s) => s.inline_len().is_some_and(|n| n <= room),
            _ => {
                let mut scratch = [0u8; 64];
                room <= scratch.len() && self.encode_inline(&mut scratch[..room]).is_some()
            }
        }
    }

    /// The type of the value [`Value::encode_inline`] wrote as `kind`.
    pub(crate) fn inline_type(kind: u8) -> KeyType {
        match kind {
            0 => KeyType::List,
            1 => KeyType::Hash,
            2 => KeyType::Set,
            _ => KeyType::ZSet,
        }
    }

    /// The value [`Value::encode_inline`] wrote as `kind`.
    pub(crate) fn decode_inline(kind: u8, bytes: &[u8]) -> Value {
        match kind {
            0 => Value::List(List::from_inline(bytes)),
            1 => Value::Hash(Hash::from_inline(bytes)),
            2 => Value::Set(Set::from_inline(bytes)),
            _ => Value::ZSet(ZSet::from_inline(bytes)),
        }
    }

    /// An upper bound on the size of the log record that stores this value under a key of
    /// `key_len` bytes (see [`Admit`](crate::access::Admit)); O(elements).
    pub(crate) fn record_bound(&self, key_len: usize) -> usize {
        use crate::access::{RECORD_OVERHEAD, SCORE_BYTES, STREAM_ENTRY_BYTES, item_bound};
        let items = |lens: &mut dyn Iterator<Item = usize>| {
            lens.fold(0usize, |sum, len| sum.saturating_add(len))
        };
        let body = match self {
            Value::String(s) => item_bound(s.len()),
            Value::List(l) => items(&mut l.iter().map(|e| item_bound(e.len()))),
            Value::Hash(h) => items(
                &mut h
                    .iter()
                    .map(|(f, v)| item_bound(f.len()) + item_bound(v.len())),
            ),
            Value::Set(s) => items(&mut s.iter().map(|m| item_bound(m.len()))),
            Value::ZSet(z) => items(&mut z.iter().map(|(m, _)| item_bound(m.len()) + SCORE_BYTES)),
            Value::Stream(s) => items(&mut s.iter().map(|e| {
                e.fields()
                    .map(|(f, v)| item_bound(f.len()) + item_bound(v.len()))
                    .sum::<usize>()
                    + STREAM_ENTRY_BYTES
            })),
        };
        body.saturating_add(item_bound(key_len))
            .saturating_add(RECORD_OVERHEAD)
    }

    /// The string, or `Err(WrongType)`.
    pub(crate) fn as_string(&self) -> crate::Result<&SmallBytes> {
        match self {
            Value::String(s) => Ok(s),
            _ => Err(crate::Error::WrongType),
        }
    }

    pub(crate) fn as_string_mut(&mut self) -> crate::Result<&mut SmallBytes> {
        match self {
            Value::String(s) => Ok(s),
            _ => Err(crate::Error::WrongType),
        }
    }
}

/// The `expire` of an entry without an expiry. A deadline of `u64::MAX` ms is stored as
/// `u64::MAX - 1` (both lie beyond any clock).
const NO_EXPIRY: u64 = u64::MAX;

/// One key's value with its expiry and times. `repr(C)`: the expiry and the value come first,
/// right after the key in the slot (see `shard.rs`). 128 bytes: the expiry is one `u64` with
/// a sentinel (an `Option<u64>` takes 16), the last write is kept in seconds (what OBJECT
/// IDLETIME reports), and no creation time is kept (nothing read it).
#[derive(Debug, Clone)]
#[repr(C)]
pub(crate) struct Entry {
    /// Absolute deadline in clock milliseconds, [`NO_EXPIRY`] for none. Changed only through
    /// the shard (it keeps an index of the entries that carry one).
    expire: u64,
    pub(crate) value: Value,
    /// Clock seconds of the last write of the value or expiry (saturates in 2106).
    updated_s: u32,
    /// Position of this entry's slot in its shard's volatile index, valid while the entry
    /// has an expiry.
    pub(crate) volatile_pos: u32,
    /// The eviction policy's per-key state (LRU clock or LFU counter), updated by reads under
    /// the shard's read lock (`kvcore/src/evict.rs`).
    pub(crate) access: crate::evict::Access,
}

impl Entry {
    pub(crate) fn new(value: Value, now: u64) -> Entry {
        let mut e = Entry {
            expire: NO_EXPIRY,
            value,
            updated_s: 0,
            volatile_pos: 0,
            access: crate::evict::Access::new(now),
        };
        e.touch(now);
        e
    }

    /// A new entry with expiry `at`, to hand to the shard's `insert`.
    pub(crate) fn with_expiry(value: Value, now: u64, at: Option<u64>) -> Entry {
        let mut e = Entry::new(value, now);
        e.expire = encode_expiry(at);
        e
    }

    /// The absolute deadline in clock milliseconds, if any.
    #[inline]
    pub(crate) fn expire_at(&self) -> Option<u64> {
        (self.expire != NO_EXPIRY).then_some(self.expire)
    }

    /// Sets the deadline; only the shard calls this (it keeps the volatile index exact).
    pub(crate) fn set_expire_at(&mut self, at: Option<u64>) {
        self.expire = encode_expiry(at);
    }

    /// The value and last-write seconds of an entry without an expiry: what a packed slot
    /// may hold (see `shard.rs`).
    pub(crate) fn packable(&self) -> Option<(&Value, u32)> {
        (self.expire == NO_EXPIRY).then_some((&self.value, self.updated_s))
    }

    /// The entry a packed slot holds (see [`Entry::packable`]).
    pub(crate) fn unpacked(value: Value, updated_s: u32, access: crate::evict::Access) -> Entry {
        Entry {
            expire: NO_EXPIRY,
            value,
            updated_s,
            volatile_pos: 0,
            access,
        }
    }

    /// Records a write at clock time `now` (ms).
    pub(crate) fn touch(&mut self, now: u64) {
        self.updated_s = seconds(now);
    }

    /// Clock milliseconds of the last write, to the second.
    pub(crate) fn updated_ms(&self) -> u64 {
        u64::from(self.updated_s) * 1000
    }

    /// Expired entries are dead: never returned, removed by whoever finds them.
    #[inline]
    pub(crate) fn is_expired(&self, now: u64) -> bool {
        // NO_EXPIRY is above every clock value a deadline is compared with.
        self.expire != NO_EXPIRY && self.expire <= now
    }

    pub(crate) fn meta(&self) -> EntryMeta {
        EntryMeta {
            key_type: self.value.key_type(),
            updated_ms: self.updated_ms(),
            expire_at_ms: self.expire_at(),
        }
    }
}

/// The last-write stamp of a write at clock time `now` (ms): seconds, saturating in 2106.
pub(crate) fn seconds(now: u64) -> u32 {
    u32::try_from(now / 1000).unwrap_or(u32::MAX)
}

fn encode_expiry(at: Option<u64>) -> u64 {
    at.map_or(NO_EXPIRY, |at| at.min(NO_EXPIRY - 1))
}

/// What the store knows about a key besides its value (for OBJECT, TYPE, TTL and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryMeta {
    /// The type of the value.
    pub key_type: KeyType,
    /// When the value or expiry was last written (clock milliseconds, to the second).
    pub updated_ms: u64,
    /// The absolute expiry (clock milliseconds), if any.
    pub expire_at_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_headers_live_in_the_value() {
        use std::mem::size_of;
        assert_eq!(size_of::<Value>(), 104);
        for header in [
            size_of::<List>(),
            size_of::<Hash>(),
            size_of::<Set>(),
            size_of::<ZSet>(),
        ] {
            assert!(header <= 40, "{header}");
        }
    }

    #[test]
    fn the_expiry_is_one_word_with_a_sentinel() {
        assert_eq!(std::mem::offset_of!(Entry, expire), 0);
        assert_eq!(std::mem::size_of::<Entry>(), 128);
        let mut e = Entry::new(Value::string(b"v"), 5_000);
        assert_eq!(e.expire_at(), None);
        assert!(!e.is_expired(u64::MAX));
        for at in [0, 1, 7, u64::MAX - 1] {
            e.set_expire_at(Some(at));
            assert_eq!(e.expire_at(), Some(at));
            assert!(e.is_expired(at) && (at == 0 || !e.is_expired(at - 1)));
        }
        // The one deadline that collides with the sentinel is kept 1 ms earlier, still
        // beyond any clock.
        e.set_expire_at(Some(u64::MAX));
        assert_eq!(e.expire_at(), Some(u64::MAX - 1));
        e.set_expire_at(None);
        assert_eq!(e.expire_at(), None);
    }

    #[test]
    fn the_last_write_is_kept_to_the_second() {
        let mut e = Entry::new(Value::string(b"v"), 12_345);
        assert_eq!(e.meta().updated_ms, 12_000);
        e.touch(99_999);
        assert_eq!(e.updated_ms(), 99_000);
        e.touch(u64::MAX);
        assert_eq!(e.updated_ms(), u64::from(u32::MAX) * 1000);
    }
}
