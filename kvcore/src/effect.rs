//! Effects: what a mutation did, described for the durability layer.
//!
//! Every mutation calls [`Inner::journal`](crate::kv::Inner::journal) exactly once per effect,
//! while it still holds the write lock(s) of the shards it changed, so the order of effects on
//! one key is the order in which they were applied. Effects are deterministic to replay: they
//! carry absolute deadlines instead of relative TTLs and results instead of commands
//! (INCRBYFLOAT journals the value it stored, an expired key found lazily journals a `Del`).
//! MSET and MSETNX journal one [`Effect::MSet`] so that they replay all-or-nothing; the several
//! effects of any other multi-key operation (run under `Db::write_many`) become one log record
//! too, a group (see `persist/engine.rs`, `begin_group`).

use crate::entry::Entry;
use crate::types::StreamId;

#[derive(Debug)]
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
    /// `values` were pushed one by one onto the list at `key` (created if absent), at the
    /// head when `left` (LPUSH order), else at the tail.
    ListPush {
        db: usize,
        key: &'a [u8],
        left: bool,
        values: &'a [&'a [u8]],
    },
    /// `count` elements were popped from the head (`left`) or tail of the list at `key`.
    ListPop {
        db: usize,
        key: &'a [u8],
        left: bool,
        count: usize,
    },
    /// LSET: the element at `index` (Redis index rules) became `value`.
    ListSet {
        db: usize,
        key: &'a [u8],
        index: i64,
        value: &'a [u8],
    },
    /// LREM with its count and value.
    ListRem {
        db: usize,
        key: &'a [u8],
        count: i64,
        value: &'a [u8],
    },
    /// LTRIM with its indexes.
    ListTrim {
        db: usize,
        key: &'a [u8],
        start: i64,
        stop: i64,
    },
    /// LINSERT that found its pivot.
    ListInsert {
        db: usize,
        key: &'a [u8],
        before: bool,
        pivot: &'a [u8],
        value: &'a [u8],
    },
    /// Each field was set to its value in the hash at `key` (created if absent).
    HashSet {
        db: usize,
        key: &'a [u8],
        pairs: &'a [(&'a [u8], &'a [u8])],
    },
    /// The fields were removed from the hash at `key`.
    HashDel {
        db: usize,
        key: &'a [u8],
        fields: &'a [&'a [u8]],
    },
    /// The members were added to the set at `key` (created if absent).
    SetAdd {
        db: usize,
        key: &'a [u8],
        members: &'a [&'a [u8]],
    },
    /// The members were removed from the set at `key`.
    SetRem {
        db: usize,
        key: &'a [u8],
        members: &'a [&'a [u8]],
    },
    /// Each member now has its score in the sorted set at `key` (created if absent).
    ZAdd {
        db: usize,
        key: &'a [u8],
        pairs: &'a [(f64, &'a [u8])],
    },
    /// The members were removed from the sorted set at `key`.
    ZRem {
        db: usize,
        key: &'a [u8],
        members: &'a [&'a [u8]],
    },
    /// An entry with this ID (the one XADD chose) and these pairs was appended to the stream
    /// at `key` (created if absent), then its `trimmed` oldest entries were removed.
    StreamAdd {
        db: usize,
        key: &'a [u8],
        id: StreamId,
        pairs: &'a [(&'a [u8], &'a [u8])],
        trimmed: u64,
    },
    /// The entries with these IDs were deleted from the stream at `key`.
    StreamDel {
        db: usize,
        key: &'a [u8],
        ids: &'a [StreamId],
    },
    /// The `count` oldest entries of the stream at `key` were removed.
    StreamTrim {
        db: usize,
        key: &'a [u8],
        count: u64,
    },
    /// The stream at `key` now has these counters (XSETID).
    StreamSetId {
        db: usize,
        key: &'a [u8],
        last_id: StreamId,
        entries_added: u64,
        max_deleted_id: StreamId,
    },
    /// Consumer group `group` was created on the stream at `key` (the stream too, when it was
    /// missing: MKSTREAM).
    StreamGroupCreate {
        db: usize,
        key: &'a [u8],
        group: &'a [u8],
        last_id: StreamId,
        entries_read: Option<u64>,
    },
    /// Consumer group `group` of the stream at `key` was destroyed.
    StreamGroupDestroy {
        db: usize,
        key: &'a [u8],
        group: &'a [u8],
    },
    /// Consumer `consumer` of `group` was deleted, with its pending entries.
    StreamConsumerDel {
        db: usize,
        key: &'a [u8],
        group: &'a [u8],
        consumer: &'a [u8],
    },
    /// Group `group` now has this last-delivered ID and entries-read counter; `consumer` (if
    /// any) exists with these times; the `pending` entries (ID, delivery time, delivery count)
    /// are now `consumer`'s; the `dropped` ones are no longer pending (XREADGROUP, XCLAIM,
    /// XAUTOCLAIM, XACK, XGROUP SETID and CREATECONSUMER).
    StreamGroupUpdate {
        db: usize,
        key: &'a [u8],
        group: &'a [u8],
        last_id: StreamId,
        entries_read: Option<u64>,
        consumer: Option<ConsumerState<'a>>,
        pending: &'a [(StreamId, u64, u64)],
        dropped: &'a [StreamId],
    },
    /// Function library `name` now has this code (FUNCTION LOAD).
    FunctionLoad { name: &'a [u8], code: &'a [u8] },
    /// Function library `name` was deleted (FUNCTION DELETE).
    FunctionDelete { name: &'a [u8] },
    /// Every function library was deleted (FUNCTION FLUSH).
    FunctionFlush,
}

/// A consumer as a [`Effect::StreamGroupUpdate`] leaves it: its name, seen time and active
/// time (unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConsumerState<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) seen: u64,
    pub(crate) active: Option<u64>,
}

impl Effect<'_> {
    /// Calls `f` with every `(database, key)` the effect changed. Whole-database effects
    /// (FLUSHDB, FLUSHALL, SWAPDB) name no key: their callers handle what they affect.
    pub(crate) fn for_each_key(&self, mut f: impl FnMut(usize, &[u8])) {
        match *self {
            Effect::Put { db, key, .. }
            | Effect::Del { db, key }
            | Effect::Append { db, key, .. }
            | Effect::SetRange { db, key, .. }
            | Effect::Expire { db, key, .. }
            | Effect::ListPush { db, key, .. }
            | Effect::ListPop { db, key, .. }
            | Effect::ListSet { db, key, .. }
            | Effect::ListRem { db, key, .. }
            | Effect::ListTrim { db, key, .. }
            | Effect::ListInsert { db, key, .. }
            | Effect::HashSet { db, key, .. }
            | Effect::HashDel { db, key, .. }
            | Effect::SetAdd { db, key, .. }
            | Effect::SetRem { db, key, .. }
            | Effect::ZAdd { db, key, .. }
            | Effect::ZRem { db, key, .. }
            | Effect::StreamAdd { db, key, .. }
            | Effect::StreamDel { db, key, .. }
            | Effect::StreamTrim { db, key, .. }
            | Effect::StreamSetId { db, key, .. }
            | Effect::StreamGroupCreate { db, key, .. }
            | Effect::StreamGroupDestroy { db, key, .. }
            | Effect::StreamConsumerDel { db, key, .. }
            | Effect::StreamGroupUpdate { db, key, .. } => f(db, key),
            Effect::Rename { db, src, dst } => {
                f(db, src);
                f(db, dst);
            }
            Effect::Copy { dst_db, dst, .. } => f(dst_db, dst),
            Effect::MSet { db, pairs } => {
                for &(key, _) in pairs {
                    f(db, key);
                }
            }
            Effect::FlushDb { .. } | Effect::FlushAll | Effect::SwapDb { .. } => {}
            // Function libraries are not keys.
            Effect::FunctionLoad { .. } | Effect::FunctionDelete { .. } | Effect::FunctionFlush => {
            }
        }
    }
}

#[cfg(test)]
impl Effect<'_> {
    /// A one-line description for tests.
    pub(crate) fn describe(&self) -> String {
        let t = |b: &[u8]| b.escape_ascii().to_string();
        match self {
            Effect::Put { db, key, entry } => {
                let value = match &entry.value {
                    crate::entry::Value::String(s) => t(s),
                    #[allow(unreachable_patterns)]
                    other => format!("{other:?}"),
                };
                format!("put {db} {} {value} at={:?}", t(key), entry.expire_at())
            }
            Effect::Del { db, key } => format!("del {db} {}", t(key)),
            Effect::Append { db, key, data } => format!("append {db} {} {}", t(key), t(data)),
            Effect::SetRange {
                db,
                key,
                offset,
                data,
            } => {
                format!("setrange {db} {} {offset} {}", t(key), t(data))
            }
            Effect::Expire { db, key, at } => format!("expire {db} {} {at:?}", t(key)),
            Effect::Rename { db, src, dst } => format!("rename {db} {} {}", t(src), t(dst)),
            Effect::Copy {
                src_db,
                src,
                dst_db,
                dst,
            } => {
                format!("copy {src_db} {} {dst_db} {}", t(src), t(dst))
            }
            Effect::FlushDb { db } => format!("flushdb {db}"),
            Effect::FlushAll => "flushall".to_string(),
            Effect::SwapDb { a, b } => format!("swapdb {a} {b}"),
            Effect::MSet { db, pairs } => {
                let pairs: Vec<_> = pairs
                    .iter()
                    .map(|(k, v)| format!("{}={}", t(k), t(v)))
                    .collect();
                format!("mset {db} {}", pairs.join(" "))
            }
            // Container effects: their Debug form is descriptive enough.
            other => format!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::{
        ExpireCondition, GetExOption, Kv, ManualClock, Options, SetExpiry, SetOptions, Store,
    };

    /// Runs `op` and checks exactly which effects it journaled.
    fn check(kv: &Kv, op: impl FnOnce(), expected: &[&str]) {
        kv.inner.journal_log.lock().clear();
        op();
        let got = std::mem::take(&mut *kv.inner.journal_log.lock());
        assert_eq!(got, expected);
    }

    #[test]
    fn mutations_journal_their_effects() {
        let clock = ManualClock::new(1000);
        let kv = Kv::in_memory(Options::new().shards(4).clock(Arc::new(clock.clone())));
        let db = kv.db(0).unwrap();
        let ex = |s| SetOptions::new().expiry(SetExpiry::Ex(s));
        let none = ExpireCondition::None;
        check(
            &kv,
            || drop(db.set_with("k", "v", &ex(10))),
            &["put 0 k v at=Some(11000)"],
        );
        check(&kv, || drop(db.set_with("k", "w", &ex(10).nx())), &[]);
        check(
            &kv,
            || drop(db.incrbyfloat("f", 0.5)),
            &["put 0 f 0.5 at=None"],
        );
        check(&kv, || drop(db.incrby("n", 3)), &["put 0 n 3 at=None"]);
        check(&kv, || drop(db.incr("k")), &[]);
        check(
            &kv,
            || drop(db.expire("k", 5, none)),
            &["expire 0 k Some(6000)"],
        );
        check(&kv, || drop(db.persist("k")), &["expire 0 k None"]);
        check(&kv, || drop(db.persist("k")), &[]);
        check(
            &kv,
            || drop(db.pexpire("k", 100, none)),
            &["expire 0 k Some(1100)"],
        );
        check(
            &kv,
            || drop(db.getex("k", GetExOption::Px(50))),
            &["expire 0 k Some(1050)"],
        );
        clock.advance(50);
        check(&kv, || assert_eq!(db.get("k").unwrap(), None), &["del 0 k"]);
        check(&kv, || drop(db.get("k")), &[]);
        check(
            &kv,
            || drop(db.mset(&[("a", "1"), ("b", "2")])),
            &["mset 0 a=1 b=2"],
        );
        check(&kv, || drop(db.msetnx(&[("a", "1"), ("z", "2")])), &[]);
        check(&kv, || drop(db.append("a", "xy")), &["append 0 a xy"]);
        check(
            &kv,
            || drop(db.setrange("a", 5, "q")),
            &["setrange 0 a 5 q"],
        );
        check(&kv, || drop(db.setrange("a", 5, "")), &[]);
        check(&kv, || drop(db.rename("a", "c")), &["rename 0 a c"]);
        check(
            &kv,
            || drop(db.copy("c", "d", Some(1), false)),
            &["copy 0 c 1 d"],
        );
        check(
            &kv,
            || drop(db.del(&["c", "nope", "b"])),
            &["del 0 c", "del 0 b"],
        );
        check(&kv, || drop(db.expire("n", 0, none)), &["del 0 n"]);
        check(&kv, || drop(db.getdel("f")), &["del 0 f"]);
        let past = SetOptions::new().expiry(SetExpiry::PxAt(1));
        check(&kv, || drop(db.set_with("d", "v", &past)), &[]);
        db.set("p", "v").unwrap();
        check(&kv, || drop(db.set_with("p", "v", &past)), &["del 0 p"]);
        check(&kv, || drop(db.flushdb()), &["flushdb 0"]);
        check(&kv, || drop(kv.swapdb(1, 0)), &["swapdb 1 0"]);
        check(&kv, || drop(kv.flushall()), &["flushall"]);
        db.setex("t", 1, "v").unwrap();
        clock.advance(1000);
        check(
            &kv,
            || assert_eq!(kv.active_expire_cycle(10).expired, 1),
            &["del 0 t"],
        );
    }
}
