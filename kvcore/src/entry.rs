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

/// A stored value. Containers are boxed so that a string entry stays small.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    String(SmallBytes),
    List(Box<List>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
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

    /// Heap bytes owned by the value (an estimate for containers).
    pub(crate) fn heap_size(&self) -> usize {
        match self {
            Value::String(s) => s.heap_size(),
            Value::List(l) => l.memory_usage(),
            Value::Hash(h) => h.memory_usage(),
            Value::Set(s) => s.memory_usage(),
            Value::ZSet(z) => z.memory_usage(),
            Value::Stream(s) => s.memory_usage(),
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

/// One key's value with its expiry and times. `repr(C)`: the expiry and the value come first,
/// right after the key in the slot (see `shard.rs`).
#[derive(Debug, Clone)]
#[repr(C)]
pub(crate) struct Entry {
    /// Absolute deadline in clock milliseconds. Changed only through the shard (it keeps an
    /// index of the entries that carry one).
    pub(crate) expire_at: Option<u64>,
    pub(crate) value: Value,
    pub(crate) created_ms: u64,
    pub(crate) updated_ms: u64,
    /// Position of this entry's slot in its shard's volatile index, valid while `expire_at`
    /// is `Some`.
    pub(crate) volatile_pos: u32,
    pub(crate) access: crate::evict::Access,
}

impl Entry {
    pub(crate) fn new(value: Value, now: u64) -> Entry {
        Entry {
            value,
            expire_at: None,
            created_ms: now,
            updated_ms: now,
            volatile_pos: 0,
            access: crate::evict::Access::new(now),
        }
    }

    /// Expired entries are dead: never returned, removed by whoever finds them.
    pub(crate) fn is_expired(&self, now: u64) -> bool {
        self.expire_at.is_some_and(|at| at <= now)
    }

    pub(crate) fn meta(&self) -> EntryMeta {
        EntryMeta {
            key_type: self.value.key_type(),
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            expire_at_ms: self.expire_at,
        }
    }
}

/// What the store knows about a key besides its value (for OBJECT, TYPE, TTL and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryMeta {
    /// The type of the value.
    pub key_type: KeyType,
    /// When the key was created (clock milliseconds); overwriting keeps it, RENAME keeps it.
    pub created_ms: u64,
    /// When the value or expiry was last written (clock milliseconds).
    pub updated_ms: u64,
    /// The absolute expiry (clock milliseconds), if any.
    pub expire_at_ms: Option<u64>,
}
