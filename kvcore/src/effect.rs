//! Effects: what a mutation did, described for the durability layer (issue 5).
//!
//! Every mutation calls [`Inner::journal`](crate::kv::Inner::journal) exactly once per effect,
//! while it still holds the write lock(s) of the shards it changed, so the order of effects on
//! one key is the order in which they were applied. Effects are deterministic to replay: they
//! carry absolute deadlines instead of relative TTLs and results instead of commands
//! (INCRBYFLOAT journals the value it stored, an expired key found lazily journals a `Del`).
//! MSET and MSETNX journal one [`Effect::MSet`] so that they replay all-or-nothing.

use crate::entry::Entry;

#[derive(Debug)]
#[allow(dead_code)] // read by the journal once issue 5 implements it
pub(crate) enum Effect<'a> {
    /// `key` now holds `entry` (value and expiry), replacing whatever was there.
    Put {
        db: usize,
        key: &'a [u8],
        entry: &'a Entry,
    },
    /// `key` no longer exists (DEL, GETDEL, expiry found lazily or actively, ...).
    Del { db: usize, key: &'a [u8] },
    /// `data` was appended to the string at `key` (created empty if absent).
    Append {
        db: usize,
        key: &'a [u8],
        data: &'a [u8],
    },
    /// `data` was written at `offset` into the string at `key` (zero-padded, created if absent).
    SetRange {
        db: usize,
        key: &'a [u8],
        offset: usize,
        data: &'a [u8],
    },
    /// `key`'s absolute expiry is now `at` (`None`: it persists).
    Expire {
        db: usize,
        key: &'a [u8],
        at: Option<u64>,
    },
    /// `src` was moved to `dst` (replacing `dst`) in database `db`, keeping value and expiry.
    Rename {
        db: usize,
        src: &'a [u8],
        dst: &'a [u8],
    },
    /// `src` in `src_db` was copied over `dst` in `dst_db`, value and expiry.
    Copy {
        src_db: usize,
        src: &'a [u8],
        dst_db: usize,
        dst: &'a [u8],
    },
    /// Database `db` was emptied.
    FlushDb { db: usize },
    /// Every database was emptied.
    FlushAll,
    /// Databases `a` and `b` swapped contents.
    SwapDb { a: usize, b: usize },
    /// Every pair was stored as a string without expiry, atomically (MSET, MSETNX); a later
    /// pair with the same key wins.
    MSet {
        db: usize,
        pairs: &'a [(&'a [u8], &'a [u8])],
    },
}
