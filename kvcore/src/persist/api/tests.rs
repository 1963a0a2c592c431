//! A persistent `Kv` on the fault file system: acknowledged writes survive crashes and faults,
//! a failed log refuses writes but serves reads, snapshots are point-in-time under load.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::access::Admit;
use crate::clock::ManualClock;
use crate::persist::error::PersistError;
use crate::persist::fs::{FaultFs, FileSystem};
use crate::{Deferred, Error, PersistOptions, Store};

const T0: u64 = 1_700_000_000_000;

fn dir() -> PathBuf {
    PathBuf::from("/data")
}

fn open(fs: &FaultFs, sync: SyncMode) -> Kv {
    let opts = Options::new()
        .shards(16)
        .databases(2)
        .clock(Arc::new(ManualClock::new(T0)));
    let persist = PersistOptions::new().sync(sync).wal_segment_bytes(64 << 10);
    Kv::open_with(Arc::new(fs.clone()), &dir(), opts, persist).unwrap()
}

/// A store whose records and snapshot entries may take at most `limit` bytes.
fn open_limited(fs: &FaultFs, limit: usize) -> Kv {
    let opts = Options::new()
        .shards(16)
        .databases(2)
        .clock(Arc::new(ManualClock::new(T0)));
    let persist = PersistOptions::new()
        .sync(SyncMode::Always)
        .max_record_bytes(limit);
    Kv::open_with(Arc::new(fs.clone()), &dir(), opts, persist).unwrap()
}

fn get(kv: &Kv, key: &str) -> Option<String> {
    kv.db(0)
        .unwrap()
        .get(key)
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap())
}

#[test]
fn acknowledged_writes_survive_a_crash() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::Always);
    let db = kv.db(0).unwrap();
    db.set("a", "1").unwrap();
    db.mset(&[("b", "2"), ("c", "3")]).unwrap();
    db.del(&["c"]).unwrap();
    db.incr("n").unwrap();
    kv.db(1).unwrap().set("other", "db").unwrap();
    fs.crash();
    drop(kv);
    let kv = open(&fs, SyncMode::Always);
    assert_eq!(
        (get(&kv, "a"), get(&kv, "b"), get(&kv, "c")),
        (Some("1".into()), Some("2".into()), None)
    );
    assert_eq!(get(&kv, "n").as_deref(), Some("1"));
    assert_eq!(
        kv.db(1).unwrap().get("other").unwrap(),
        Some(b"db".to_vec())
    );
    let info = kv.persistence().unwrap();
    assert_eq!(info.recovery.records_replayed, 5);
    assert_eq!(info.sync, SyncMode::Always);
}

#[test]
fn a_failed_fsync_refuses_writes_but_serves_reads() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::Always);
    let db = kv.db(0).unwrap();
    db.set("a", "1").unwrap();
    fs.fail_syncs(1);
    let err = db.set("b", "2").unwrap_err();
    assert!(matches!(err, Error::PersistenceFailed(_)), "{err:?}");
    assert!(err.to_string().contains("fsync"), "{err}");
    // Refused up front from now on, reads still work.
    assert!(matches!(db.set("c", "3"), Err(Error::PersistenceFailed(_))));
    assert_eq!(get(&kv, "c"), None, "a refused write changes nothing");
    assert_eq!(get(&kv, "a").as_deref(), Some("1"));
    assert!(kv.persistence().unwrap().write_failure.is_some());
    fs.crash();
    drop(kv);
    let kv = open(&fs, SyncMode::Always);
    assert_eq!(get(&kv, "a").as_deref(), Some("1"));
    assert_eq!(get(&kv, "b"), None);
    kv.db(0).unwrap().set("d", "4").unwrap();
}

#[test]
fn a_batch_shares_one_commit() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::Always);
    kv.db(0).unwrap().set("first", "1").unwrap();
    let syncs = kv.persistence().unwrap().log_syncs;
    let batch = kv.batch();
    let db = batch.db(0).unwrap();
    assert!(db.in_a_batch() && !kv.db(0).unwrap().in_a_batch());
    for i in 0..16 {
        db.set(format!("k{i}"), "v").unwrap();
    }
    assert_eq!(
        kv.persistence().unwrap().log_syncs,
        syncs,
        "nothing synced before the commit"
    );
    batch.commit().unwrap();
    assert_eq!(
        kv.persistence().unwrap().log_syncs,
        syncs + 1,
        "one fdatasync for the batch"
    );
    batch.commit().unwrap();
    assert_eq!(
        kv.persistence().unwrap().log_syncs,
        syncs + 1,
        "nothing left to commit"
    );
    fs.crash();
    drop((db, batch, kv));
    let kv = open(&fs, SyncMode::Always);
    assert_eq!(kv.db(0).unwrap().dbsize().unwrap(), 17);

    // A failed commit reports the failure: the batch must not be acknowledged.
    let batch = kv.batch();
    batch.db(0).unwrap().set("x", "1").unwrap();
    fs.fail_syncs(1);
    assert!(matches!(batch.commit(), Err(Error::PersistenceFailed(_))));
    assert!(matches!(batch.db(9), Err(Error::DbIndexOutOfRange)));
}

/// A write is visible in memory before its own commit returns. A batch that only read it
/// must not answer before it is durable: its commit covers it, so a client never sees a
/// value a crash could still take back (found by `tests/e2e/faults.rs`).
#[test]
fn a_batch_that_read_an_uncommitted_write_commits_it() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::Always);
    let writer = kv.batch();
    writer.db(0).unwrap().set("seen", "1").unwrap();
    let syncs = kv.persistence().unwrap().log_syncs;
    let reader = kv.batch();
    assert_eq!(get(&kv, "seen").as_deref(), Some("1"));
    assert_eq!(
        reader.db(0).unwrap().get("seen").unwrap().as_deref(),
        Some(&b"1"[..])
    );
    reader.commit().unwrap();
    assert_eq!(
        kv.persistence().unwrap().log_syncs,
        syncs + 1,
        "the reader's commit synced the write it saw"
    );
    fs.crash();
    drop((writer, reader, kv));
    let kv = open(&fs, SyncMode::Always);
    assert_eq!(get(&kv, "seen").as_deref(), Some("1"));

    // Nothing unsettled: a reader's commit syncs nothing.
    let syncs = kv.persistence().unwrap().log_syncs;
    let reader = kv.batch();
    reader.db(0).unwrap().get("seen").unwrap();
    reader.commit().unwrap();
    assert!(reader.take().is_none());
    assert_eq!(kv.persistence().unwrap().log_syncs, syncs);

    // A token taken from a batch that wrote, once committed, leaves nothing to take.
    let batch = kv.batch();
    batch.db(0).unwrap().set("again", "2").unwrap();
    let token = batch.take().expect("a write to commit");
    token.commit().unwrap();
    assert!(batch.take().is_none(), "taken once");
}

#[test]
fn batches_taken_by_one_thread_are_committed_by_another() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::Always);
    let syncs = kv.persistence().unwrap().log_syncs;
    // Two "connections" write in their own batches and hand the tokens over.
    let tokens: Vec<Deferred> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let kv = &kv;
                s.spawn(move || {
                    let batch = kv.batch();
                    let db = batch.db(0).unwrap();
                    for i in 0..10 {
                        db.set(format!("t{t}:{i}"), "v").unwrap();
                    }
                    // (Taking again may still give a token: the other thread's writes are not
                    // synced, and this batch's reads may have seen them.)
                    batch.take().expect("writes to commit")
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(
        kv.persistence().unwrap().log_syncs,
        syncs,
        "nothing synced yet"
    );
    assert!(tokens[0].same_store(&tokens[1]));
    // The highest token covers both threads' writes: one fdatasync.
    let last = tokens.iter().max_by_key(|t| t.seq()).unwrap();
    assert_eq!(last.seq(), kv.persistence().unwrap().log_seq);
    last.commit().unwrap();
    assert_eq!(kv.persistence().unwrap().log_syncs, syncs + 1);
    for t in &tokens {
        t.commit().unwrap();
    }
    assert_eq!(
        kv.persistence().unwrap().log_syncs,
        syncs + 1,
        "already covered"
    );
    fs.crash();
    drop(kv);
    let kv = open(&fs, SyncMode::Always);
    assert_eq!(kv.db(0).unwrap().dbsize().unwrap(), 20);

    // A failed sync fails the token's commit: its writes must not be acknowledged.
    let batch = kv.batch();
    batch.db(0).unwrap().set("x", "1").unwrap();
    let token = batch.take().unwrap();
    fs.fail_syncs(1);
    assert!(matches!(token.commit(), Err(Error::PersistenceFailed(_))));
    let memory = Kv::in_memory(Options::default());
    let batch = memory.batch();
    batch.db(0).unwrap().set("x", "1").unwrap();
    assert!(
        batch.take().is_none(),
        "an in-memory store has nothing to commit"
    );
    batch.commit().unwrap();
}

/// Issue 12: deferred acknowledgements lived in thread-locals, so a thread writing to two
/// persistent stores acknowledged one store's writes with the other's commit (and deferred
/// the other store's writes without being asked). Each batch belongs to one store now.
#[test]
fn r12_two_stores_on_one_thread_never_acknowledge_each_others_writes() {
    let (fs_a, fs_b) = (FaultFs::new(), FaultFs::new());
    let (a, b) = (open(&fs_a, SyncMode::Always), open(&fs_b, SyncMode::Always));
    let batch = a.batch();
    batch.db(0).unwrap().set("a1", "1").unwrap();
    // A plain handle of the other store on the same thread: acknowledged by itself, durable
    // when `set` returns, and not part of `a`'s batch.
    b.db(0).unwrap().set("b1", "1").unwrap();
    fs_b.crash();
    batch.commit().unwrap();
    fs_a.crash();
    drop((batch, a, b));
    let (a, b) = (open(&fs_a, SyncMode::Always), open(&fs_b, SyncMode::Always));
    assert_eq!(
        get(&a, "a1").as_deref(),
        Some("1"),
        "a's batch commit covered a1"
    );
    assert_eq!(
        get(&b, "b1").as_deref(),
        Some("1"),
        "b1 was durable when acknowledged"
    );
    assert_eq!((get(&a, "b1"), get(&b, "a1")), (None, None));
}

/// Issue 12: a write whose record was too large for one log frame was applied and
/// acknowledged, but the log refused the record without failing, so a restart lost it. Now it
/// is refused before it changes anything, on every path, and the log keeps working.
#[test]
fn r12_a_write_too_large_to_log_is_refused_before_it_changes_anything() {
    use crate::{HashStore, ListStore, SetOp, SetStore, ZAddFlags, ZSetStore};
    let fs = FaultFs::new();
    let kv = open_limited(&fs, 4096);
    let db = kv.db(0).unwrap();
    let big = "x".repeat(5000);
    let many: Vec<String> = (0..400).map(|i| format!("element-{i:04}")).collect();
    let scored: Vec<(f64, &String)> = many.iter().map(|m| (1.0, m)).collect();
    let pairs: Vec<(&String, &String)> = many.iter().map(|m| (m, m)).collect();
    type Write<'a> = Box<dyn Fn(&crate::Db) -> crate::Result<()> + 'a>;
    let writes: Vec<(&str, Write<'_>)> = vec![
        ("set", Box::new(|db| db.set("k", &big))),
        ("append", Box::new(|db| db.append("k", &big).map(drop))),
        (
            "setrange",
            Box::new(|db| db.setrange("k", 3, &big).map(drop)),
        ),
        ("mset", Box::new(|db| db.mset(&pairs))),
        (
            "rpush",
            Box::new(|db| db.push("k", crate::End::Right, &many).map(drop)),
        ),
        ("hset", Box::new(|db| db.hset("k", &pairs).map(drop))),
        ("sadd", Box::new(|db| db.sadd("k", &many).map(drop))),
        (
            "zadd",
            Box::new(|db| db.zadd("k", &scored, &ZAddFlags::default()).map(drop)),
        ),
    ];
    for (name, write) in &writes {
        let err = write(&db).unwrap_err();
        assert!(
            matches!(err, Error::RecordTooLarge { limit: 4096, .. }),
            "{name}: {err:?}"
        );
        assert_eq!(db.dbsize().unwrap(), 0, "{name} changed nothing");
    }
    // STORE forms whose result is too large, built from writes that each fit.
    for (i, m) in many.iter().enumerate() {
        db.sadd(if i % 2 == 0 { "s1" } else { "s2" }, &[m]).unwrap();
        db.zadd(
            if i % 2 == 0 { "z1" } else { "z2" },
            &[(1.0, m)],
            &ZAddFlags::default(),
        )
        .unwrap();
    }
    db.set("dst", "previous").unwrap();
    let err = db.sstore(SetOp::Union, "dst", &["s1", "s2"]).unwrap_err();
    assert!(matches!(err, Error::RecordTooLarge { .. }), "{err:?}");
    let err = db
        .zcombinestore(
            crate::ZOp::Union,
            "dst",
            &["z1", "z2"],
            None,
            crate::Aggregate::Sum,
        )
        .unwrap_err();
    assert!(matches!(err, Error::RecordTooLarge { .. }), "{err:?}");
    assert_eq!(
        get(&kv, "dst").as_deref(),
        Some("previous"),
        "dst untouched"
    );
    // The log still works, and a restart brings back exactly what was acknowledged.
    assert_eq!(kv.persistence().unwrap().write_failure, None);
    db.sstore(SetOp::Union, "small", &["s1"]).unwrap();
    fs.crash();
    drop((db, kv));
    let kv = open_limited(&fs, 4096);
    let db = kv.db(0).unwrap();
    assert_eq!(get(&kv, "dst").as_deref(), Some("previous"));
    assert_eq!(db.scard("small").unwrap(), 200);
    assert_eq!(
        (db.scard("s2").unwrap(), db.zcard("z1").unwrap()),
        (200, 200)
    );
    assert_eq!(db.dbsize().unwrap(), 6);
}

/// The bulk limit (Redis's `proto-max-bulk-len`) holds for the library too: a key, value or
/// element longer than it is refused, and APPEND/SETRANGE cannot grow a string past it.
#[test]
fn r12_the_bulk_limit_bounds_every_stored_string() {
    use crate::{HashStore, ListStore};
    let kv = Kv::in_memory(Options::new().max_bulk_len(100));
    let db = kv.db(0).unwrap();
    let long = "y".repeat(101);
    assert_eq!(db.set("k", &long), Err(Error::StringTooLong));
    assert_eq!(db.set(&long, "v"), Err(Error::StringTooLong));
    assert_eq!(
        db.push("l", crate::End::Left, &["ok", &long]),
        Err(Error::StringTooLong)
    );
    assert_eq!(db.hset("h", &[(&long, "v")]), Err(Error::StringTooLong));
    assert_eq!(db.dbsize().unwrap(), 0);
    db.set("k", "y".repeat(60)).unwrap();
    assert_eq!(db.append("k", "y".repeat(41)), Err(Error::StringTooLong));
    assert_eq!(
        db.setrange("k", 90, "y".repeat(11)),
        Err(Error::StringTooLong)
    );
    assert_eq!(db.append("k", "y".repeat(40)).unwrap(), 100);
    kv.set_max_bulk_len(1000);
    assert_eq!(kv.max_bulk_len(), 1000);
    db.set("k", &long).unwrap();
}

/// Issue 12: a snapshot met an entry too large for one frame and panicked, possibly in a
/// writer thread that was dumping a shard. Now the snapshot fails cleanly, the writer's write
/// goes through, and the previous snapshot stays in place.
#[test]
fn r12_an_entry_too_large_for_a_frame_fails_the_snapshot_cleanly() {
    let fs = FaultFs::new();
    let kv = open_limited(&fs, 4096);
    let db = kv.db(0).unwrap();
    db.set("a", "1").unwrap();
    let first = kv.save().unwrap();
    // Small appends, each record well under the limit, grow a string past it.
    for _ in 0..10 {
        db.append("big", "y".repeat(500)).unwrap();
    }
    let err = kv.save().unwrap_err();
    assert!(err.to_string().contains("4096-byte limit"), "{err}");
    // A writer that finds the big key's shard pending dumps it: that fails the snapshot, not
    // the write.
    let p = kv.inner.persist.get().unwrap();
    let err = p
        .snapshot_with(&kv.inner, || {
            db.append("big", "z").unwrap();
        })
        .unwrap_err();
    assert!(matches!(err, PersistError::TooLarge { .. }), "{err:?}");
    let info = kv.persistence().unwrap();
    assert_eq!(info.last_save_ok, Some(false));
    assert_eq!(info.last_save.map(|s| s.seq), Some(first.seq));
    let names = fs.list(&dir()).unwrap();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    assert_eq!(snapshot::snapshots(&fs, &dir()).unwrap().len(), 1);
    // The save rules do not retry a failed snapshot back to back.
    assert!(!p.save_due(kv.now_ms() + 1));
    db.set("after", "2").unwrap();
    fs.crash();
    drop((db, kv));
    let kv = open_limited(&fs, 4096);
    assert_eq!(get(&kv, "a").as_deref(), Some("1"));
    assert_eq!(get(&kv, "big").map(|v| v.len()), Some(5001));
    assert_eq!(get(&kv, "after").as_deref(), Some("2"));
    assert_eq!(
        kv.persistence().unwrap().recovery.snapshot_seq,
        Some(first.seq)
    );
}

/// The bound a write is checked against before it runs is never below the record it appends,
/// whatever the sizes (varint length prefixes change width at 128 and 16 384 bytes).
#[test]
fn the_admitted_bound_covers_the_record_written() {
    use crate::{HashStore, ListStore, SetOp, SetStore, ZAddFlags, ZSetStore};
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::Always);
    let db = kv.db(0).unwrap();
    let last_record = || {
        let seg = wal::segments(&fs, &dir()).unwrap().pop().unwrap();
        let data = fs.contents(&seg.path).unwrap();
        let end = wal::records_end(&data);
        let mut pos = wal::HEADER_LEN;
        let mut last = 0;
        while pos < end {
            let len = crate::persist::frame::u32_at(&data, pos) as usize;
            last = len;
            pos += crate::persist::frame::FRAME_HEADER + len;
        }
        last
    };
    let inner = &kv.inner;
    for len in [0, 1, 126, 127, 128, 129, 16_383, 16_384, 16_385, 40_000] {
        let v = "v".repeat(len);
        let k = format!("key-{len}");
        let bound = |f: &dyn Fn(Admit<'_>) -> crate::Result<Admit<'_>>| {
            let a = f(inner.admit()).unwrap();
            a.bound_for_tests()
        };
        let b = bound(&|a| a.key(k.as_bytes())?.arg(v.as_bytes()));
        db.set(&k, &v).unwrap();
        assert!(last_record() <= b, "set {len}: {} > {b}", last_record());
        let items = [v.as_str(), "a", v.as_str()];
        let b = bound(&|a| a.key(b"l")?.args(items.iter().map(|s| s.as_bytes())));
        db.push("l", crate::End::Right, &items).unwrap();
        assert!(last_record() <= b, "rpush {len}");
        let pairs = [(v.as_str(), v.as_str()), ("f", "g")];
        let b = bound(&|a| {
            a.key(b"h")?
                .pairs(&[(v.as_bytes(), v.as_bytes()), (b"f", b"g")])
        });
        db.hset("h", &pairs).unwrap();
        assert!(last_record() <= b, "hset {len}");
        let b = bound(&|a| Ok(a.key(b"z")?.arg(v.as_bytes())?.scores(1)));
        db.zadd("z", &[(1.5, &v)], &ZAddFlags::default()).unwrap();
        assert!(last_record() <= b, "zadd {len}");
        // A STORE result: the bound is computed from the value itself.
        db.sadd(format!("s{len}"), &[v.as_str(), "m"]).unwrap();
        let dst = format!("d{len}");
        db.sstore(SetOp::Union, &dst, &[format!("s{len}")]).unwrap();
        let value_bound =
            db.read_entry(dst.as_bytes(), |e| e.unwrap().value.record_bound(dst.len()));
        assert!(last_record() <= value_bound, "sunionstore {len}");
        let zdst = format!("zd{len}");
        db.zcombinestore(
            crate::ZOp::Union,
            &zdst,
            &["z"],
            None,
            crate::Aggregate::Sum,
        )
        .unwrap();
        let value_bound = db.read_entry(zdst.as_bytes(), |e| {
            e.unwrap().value.record_bound(zdst.len())
        });
        assert!(last_record() <= value_bound, "zunionstore {len}");
    }
}

/// A container larger than one frame (grown by writes that each fit) is snapshotted in parts,
/// over consecutive frames of its key, and loads back whole, expiry included.
#[test]
fn containers_larger_than_a_frame_are_snapshotted_in_parts() {
    use crate::{
        HashStore, ListStore, SetStore, StreamStore, XAddId, XAddOptions, ZAddFlags, ZSetStore,
    };
    let fs = FaultFs::new();
    let kv = open_limited(&fs, 4096);
    let db = kv.db(0).unwrap();
    let members: Vec<String> = (0..1000).map(|i| format!("member-{i:06}")).collect();
    for m in &members {
        db.sadd("set", &[m]).unwrap();
        db.push("list", crate::End::Right, &[m]).unwrap();
        db.hset("hash", &[(m, "value")]).unwrap();
        db.zadd("zset", &[(m.len() as f64, m)], &ZAddFlags::default())
            .unwrap();
        db.xadd("stream", XAddId::Auto, &[("m", m)], &XAddOptions::new())
            .unwrap();
    }
    db.xdel("stream", &[crate::StreamId::new(T0, 3)]).unwrap();
    let stream_before = (
        db.xinfo("stream").unwrap(),
        db.xrange("stream", .., None).unwrap(),
    );
    db.pexpire("zset", 60_000, crate::ExpireCondition::None)
        .unwrap();
    db.set("small", "v").unwrap();
    let saved = kv.save().unwrap();
    assert_eq!(saved.keys, 6);
    let (_, path) = snapshot::snapshots(&fs, &dir()).unwrap().remove(0);
    let snap = snapshot::Snapshot::open(&fs, &path).unwrap();
    let mut frames = 0;
    snap.for_each(|_, _| {
        frames += 1;
        Ok(())
    })
    .unwrap();
    assert!(
        frames > 5 * 5,
        "each container split into several frames: {frames}"
    );
    // Recover from the snapshot alone.
    let copy = FaultFs::new();
    copy.put(&path, fs.contents(&path).unwrap());
    drop((db, kv));
    let kv = open_limited(&copy, 4096);
    let db = kv.db(0).unwrap();
    let info = kv.persistence().unwrap().recovery;
    assert_eq!((info.keys_loaded, info.records_replayed), (6, 0));
    assert_eq!(db.scard("set").unwrap(), 1000);
    let stream_after = (
        db.xinfo("stream").unwrap(),
        db.xrange("stream", .., None).unwrap(),
    );
    assert_eq!(stream_after, stream_before);
    assert_eq!(stream_after.1.len(), 999);
    assert_eq!(
        db.lrange("list", 0, -1).unwrap(),
        members
            .iter()
            .map(|m| m.as_bytes().to_vec())
            .collect::<Vec<_>>()
    );
    assert_eq!(db.hlen("hash").unwrap(), 1000);
    assert_eq!(db.zcard("zset").unwrap(), 1000);
    assert!(db.sismember("set", "member-000999").unwrap());
    assert_eq!(
        db.hget("hash", "member-000500").unwrap(),
        Some(b"value".to_vec())
    );
    assert!(
        matches!(db.pttl("zset").unwrap(), crate::Ttl::ExpiresIn(_)),
        "the expiry came with the parts"
    );
    assert_eq!(get(&kv, "small").as_deref(), Some("v"));
}

/// A stream's consumer groups (consumers, PELs with delivery times and counts, counters) are
/// snapshotted after its entries, in parts when a PEL does not fit one frame, and come back
/// whole; the log's group records replay on top.
#[test]
fn stream_groups_survive_a_snapshot_in_parts_and_the_log() {
    use crate::{GroupStart, ReadGroup, StreamStore, XAddId, XAddOptions, XClaimOptions};
    let fs = FaultFs::new();
    let kv = open_limited(&fs, 4096);
    let db = kv.db(0).unwrap();
    for i in 0..600 {
        db.xadd(
            "s",
            XAddId::Auto,
            &[("n", format!("{i}"))],
            &XAddOptions::new(),
        )
        .unwrap();
    }
    for g in ["g1", "g2"] {
        db.xgroup_create("s", g, GroupStart::Id(crate::StreamId::MIN), Some(0), false)
            .unwrap();
        for c in ["alice", "bob"] {
            db.xreadgroup("s", g, c, ReadGroup::New, Some(250), false)
                .unwrap();
        }
    }
    let opts = XClaimOptions::new().time(T0 as i64 - 5).retry_count(9);
    db.xclaim_with(
        "s",
        "g1",
        "carol",
        0,
        &[crate::StreamId::new(T0, 7)],
        &opts,
        |_| {},
    )
    .unwrap();
    db.xgroup_createconsumer("s", "g2", "idle").unwrap();
    let full = |db: &crate::Db| db.xinfo_full_with("s", 0, |_| {}).unwrap();
    let before = full(&db);
    kv.save().unwrap();
    // After the snapshot: the log carries these.
    db.xack("s", "g1", &[crate::StreamId::new(T0, 1)]).unwrap();
    db.xgroup_delconsumer("s", "g2", "bob").unwrap();
    let after_log = full(&db);
    let (_, path) = snapshot::snapshots(&fs, &dir()).unwrap().remove(0);
    let snap = snapshot::Snapshot::open(&fs, &path).unwrap();
    let mut group_parts = 0;
    snap.for_each(|e, _| {
        if matches!(e.value, super::super::record::Value::StreamGroups(_)) {
            group_parts += 1;
        }
        Ok(())
    })
    .unwrap();
    assert!(group_parts > 2, "the PELs were split: {group_parts} parts");
    // The snapshot alone.
    let copy = FaultFs::new();
    copy.put(&path, fs.contents(&path).unwrap());
    drop((db, kv));
    let kv = open_limited(&copy, 4096);
    assert_eq!(full(&kv.db(0).unwrap()), before);
    drop(kv);
    // The snapshot and the log.
    let kv = open_limited(&fs, 4096);
    assert_eq!(full(&kv.db(0).unwrap()), after_log);
}

/// A transaction's operations share one log record, so their admitted bounds add up against the
/// record limit: the operation that would pass it fails (as a failing command inside EXEC), the
/// others stay, and the one record replays them.
#[test]
fn a_transactions_writes_share_the_record_limit() {
    let fs = FaultFs::new();
    let kv = open_limited(&fs, 4096);
    let big = "x".repeat(1500);
    let keys: &[(usize, &[u8])] = &[(0, b"a"), (0, b"b"), (0, b"c"), (0, b"d")];
    let results = kv
        .transaction(crate::Scope::Keys(keys), |tx| {
            let db = tx.db(0)?;
            Ok(["a", "b", "c", "d"].map(|k| db.set(k, &big)))
        })
        .unwrap();
    assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
    assert!(
        matches!(results[2], Err(Error::RecordTooLarge { .. })),
        "{results:?}"
    );
    assert_eq!(kv.persistence().unwrap().write_failure, None);
    fs.crash();
    drop(kv);
    let kv = open_limited(&fs, 4096);
    let db = kv.db(0).unwrap();
    assert_eq!(db.exists(&["a", "b", "c"]).unwrap(), 2);
}

#[test]
fn a_full_disk_gives_clear_errors_and_loses_nothing_acknowledged() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::Always);
    let db = kv.db(0).unwrap();
    db.set("first", "x".repeat(50)).unwrap();
    let mut acked = vec!["first".to_string()];
    // The log's segment is filled with zeros ahead of its records (here up to its 64 KiB):
    // writes land in that space, which needs no room, until one passes its end.
    let used: usize = fs
        .list(&dir())
        .unwrap()
        .iter()
        .map(|n| fs.contents(&dir().join(n)).unwrap().len())
        .sum();
    assert!(used >= 64 << 10, "{used}");
    fs.set_capacity(Some(used as u64 + 100));
    let mut failure = None;
    for i in 0..5000 {
        let key = format!("key{i}");
        match db.set(&key, "x".repeat(50)) {
            Ok(()) => acked.push(key),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let failure = failure.expect("the disk filled up");
    assert!(failure.to_string().contains("os error 28"), "{failure}");
    drop(kv);
    fs.set_capacity(None);
    let kv = open(&fs, SyncMode::Always);
    for key in &acked {
        assert_eq!(get(&kv, key).map(|v| v.len()), Some(50), "{key} lost");
    }
    let warnings = kv.persistence().unwrap().recovery.warnings;
    assert!(
        warnings.iter().any(|w| w.contains("torn tail")),
        "{warnings:?}"
    );
}

#[test]
fn everysec_writes_survive_once_synced_and_a_clean_close_syncs() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::EverySec);
    kv.db(0).unwrap().set("a", "1").unwrap();
    kv.sync_log().unwrap();
    kv.db(0).unwrap().set("b", "2").unwrap();
    fs.crash(); // before any flush of b
    drop(kv);
    let kv = open(&fs, SyncMode::EverySec);
    assert_eq!((get(&kv, "a").as_deref(), get(&kv, "b")), (Some("1"), None));
    kv.db(0).unwrap().set("c", "3").unwrap();
    drop(kv); // a clean close syncs
    fs.crash();
    let kv = open(&fs, SyncMode::No);
    assert_eq!(get(&kv, "c").as_deref(), Some("3"));
}

#[test]
fn save_lastsave_and_reopen_from_the_snapshot() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::No);
    assert_eq!(kv.last_save_ms(), None);
    let db = kv.db(0).unwrap();
    for i in 0..500 {
        db.set(format!("k{i}"), format!("v{i}")).unwrap();
    }
    let info = kv.save().unwrap();
    assert_eq!((info.keys, info.seq), (500, 500));
    assert_eq!(kv.last_save_ms(), Some(T0));
    assert_eq!(kv.persistence().unwrap().changes_since_save, 0);
    assert!(
        info.peak_dump_bytes > 0 && info.peak_dump_bytes * 4 < info.bytes as usize,
        "{info:?}"
    );
    db.set("after", "x").unwrap();
    drop(kv);
    let kv = open(&fs, SyncMode::No);
    let r = kv.persistence().unwrap().recovery;
    assert_eq!(
        (r.snapshot_seq, r.keys_loaded, r.records_replayed),
        (Some(500), 500, 1)
    );
    assert_eq!(get(&kv, "k499").as_deref(), Some("v499"));
    assert_eq!(kv.last_save_ms(), Some(T0));
}

#[test]
fn snapshots_under_concurrent_writes_are_point_in_time() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::No);
    let threads = 4;
    let per = 300;
    let saves = std::sync::atomic::AtomicUsize::new(0);
    let finished = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..threads {
            let db = kv.db(0).unwrap();
            let finished = &finished;
            s.spawn(move || {
                for n in 1..=per {
                    // Two keys written by one MSET (atomic), and two written in order.
                    let v = n.to_string();
                    db.mset(&[(format!("a{t}"), &v), (format!("b{t}"), &v)])
                        .unwrap();
                    db.set(format!("x{t}"), &v).unwrap();
                    db.set(format!("y{t}"), &v).unwrap();
                }
                finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            });
        }
        s.spawn(|| {
            while finished.load(std::sync::atomic::Ordering::Relaxed) < threads {
                kv.save().unwrap();
                saves.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    });
    assert!(saves.into_inner() >= 1);
    // Check each retained snapshot alone: remove the log, open, check the invariants.
    let snaps = snapshot::snapshots(&fs, &dir()).unwrap();
    assert!(!snaps.is_empty() && snaps.len() <= 2);
    for (seq, path) in snaps {
        let copy = FaultFs::new();
        copy.put(
            &dir().join(path.file_name().unwrap()),
            fs.contents(&path).unwrap(),
        );
        let kv = open(&copy, SyncMode::No);
        let num = |k: String| get(&kv, &k).map_or(0, |v| v.parse::<u64>().unwrap());
        for t in 0..threads {
            let (a, b) = (num(format!("a{t}")), num(format!("b{t}")));
            let (x, y) = (num(format!("x{t}")), num(format!("y{t}")));
            assert_eq!(a, b, "snapshot {seq}: MSET half applied");
            assert!(
                y <= x && x <= y + 1,
                "snapshot {seq}: x{t}={x} y{t}={y} is not a moment"
            );
            assert!(
                a >= x && a <= x + 1,
                "snapshot {seq}: a{t}={a} x{t}={x} is not a moment"
            );
        }
    }
}

#[test]
fn a_write_to_a_shard_not_yet_dumped_dumps_it_first() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::No);
    let db = kv.db(0).unwrap();
    for i in 0..100 {
        db.set(format!("k{i}"), "before").unwrap();
    }
    let p = kv.inner.persist.get().unwrap();
    // Between the barrier and the dump, every shard is pending: these writes must first dump
    // their shards as they were at the barrier.
    let stats = p
        .snapshot_with(&kv.inner, || {
            for i in 0..100 {
                db.set(format!("k{i}"), "after").unwrap();
            }
            db.set("new", "after").unwrap();
        })
        .unwrap();
    assert_eq!((stats.seq, stats.entries), (100, 100));
    assert_eq!(get(&kv, "k7").as_deref(), Some("after"));
    let copy = FaultFs::new();
    let (_, path) = snapshot::snapshots(&fs, &dir()).unwrap().remove(0);
    copy.put(&path, fs.contents(&path).unwrap());
    let kv = open(&copy, SyncMode::No);
    for i in 0..100 {
        assert_eq!(
            get(&kv, &format!("k{i}")).as_deref(),
            Some("before"),
            "k{i}"
        );
    }
    assert_eq!(get(&kv, "new"), None);
}

#[test]
fn bgsave_runs_in_the_background_and_refuses_a_second_one() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::No);
    kv.db(0).unwrap().set("a", "1").unwrap();
    kv.bgsave().unwrap();
    // Wait (boundedly) for it to finish; no timing is asserted.
    for _ in 0..2000 {
        if kv.last_save_ms().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(kv.last_save_ms(), Some(T0));
    assert_eq!(kv.persistence().unwrap().last_save_ok, Some(true));
    let p = kv.inner.persist.get().unwrap();
    let _held = p.saving_lock_for_tests();
    assert_eq!(kv.bgsave(), Err(Error::SaveInProgress));
    assert_eq!(kv.save().unwrap_err(), Error::SaveInProgress);
}

#[test]
fn in_memory_stores_have_no_persistence() {
    let kv = Kv::in_memory(Options::new());
    assert!(!kv.is_persistent());
    assert_eq!(kv.save().unwrap_err(), Error::NotPersistent);
    assert_eq!(kv.persistence(), None);
    kv.start_persistence().stop();
}

#[test]
fn check_reports_and_repairs() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::Always);
    for i in 0..10 {
        kv.db(0).unwrap().set(format!("k{i}"), "v").unwrap();
    }
    drop(kv);
    let report = check_with(&fs, &dir(), false).unwrap();
    assert_eq!((report.records, report.problem.clone()), (10, None));
    assert!(report.to_string().contains("log: ok"), "{report}");
    let seg = wal::segments(&fs, &dir()).unwrap().pop().unwrap().path;
    let mut data = fs.contents(&seg).unwrap();
    data[wal::HEADER_LEN + 12] ^= 1; // inside the first record's payload
    fs.put(&seg, data);
    let err = Kv::open_with(
        Arc::new(fs.clone()),
        &dir(),
        Options::new(),
        PersistOptions::new(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Corrupt(_)) && err.to_string().contains("--repair"),
        "{err}"
    );
    let report = check_with(&fs, &dir(), false).unwrap();
    assert_eq!(
        (report.records, report.dropped, report.repaired),
        (0, 9, false)
    );
    let problem = report.problem.clone().expect("the flipped bit is found");
    assert_eq!(
        (&problem.path, problem.offset, problem.torn_tail),
        (&seg, wal::HEADER_LEN as u64, false),
        "{problem:?}"
    );
    assert!(report.to_string().contains("CORRUPT"), "{report}");
    let report = check_with(&fs, &dir(), true).unwrap();
    assert!(
        report.repaired && report.to_string().contains("dropping 9"),
        "{report}"
    );
    let kv = open(&fs, SyncMode::Always);
    assert_eq!(kv.db(0).unwrap().dbsize().unwrap(), 0);
}

#[test]
fn sync_modes_have_redis_names() {
    for (mode, name) in [
        (SyncMode::Always, "always"),
        (SyncMode::EverySec, "everysec"),
        (SyncMode::No, "no"),
    ] {
        assert_eq!(mode.as_str(), name);
        assert_eq!(SyncMode::parse(&name.to_uppercase()), Some(mode));
    }
    assert_eq!(SyncMode::parse("sometimes"), None);
    let _ = Path::new("/");
}

/// Every key of database 0 with its type, contents (sets sorted) and deadline.
fn dump(kv: &Kv) -> Vec<String> {
    use crate::{KeyType, ListStore, SetStore};
    let db = kv.db(0).unwrap();
    let mut keys = db.keys("*").unwrap();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let contents = match db.key_type(&k).unwrap() {
                Some(KeyType::String) => format!("{:?}", db.get(&k).unwrap()),
                Some(KeyType::List) => format!("{:?}", db.lrange(&k, 0, -1).unwrap()),
                Some(KeyType::Set) => {
                    let mut m = db.smembers(&k).unwrap();
                    m.sort();
                    format!("{m:?}")
                }
                other => panic!("unexpected {other:?}"),
            };
            format!(
                "{} {contents} ttl {:?}",
                k.escape_ascii(),
                db.pttl(&k).unwrap()
            )
        })
        .collect()
}

/// Multi-key operations (LMOVE's pop and push, SMOVE, RENAME over a key found expired, the
/// STORE forms, multi-key DEL) each take one log record, and replaying them after a crash
/// rebuilds the same state.
#[test]
fn multi_key_operations_are_one_record_each_and_replay() {
    use crate::{End, ExpireCondition, ListStore, SetOp, SetStore};
    let fs = FaultFs::new();
    let clock = ManualClock::new(T0);
    let open = || {
        let opts = Options::new()
            .shards(16)
            .databases(2)
            .clock(Arc::new(clock.clone()));
        let persist = PersistOptions::new().sync(SyncMode::Always);
        Kv::open_with(Arc::new(fs.clone()), &dir(), opts, persist).unwrap()
    };
    let kv = open();
    let db = kv.db(0).unwrap();
    let mut writes = 0;
    let mut logged = |name: &str, op: &dyn Fn()| {
        let seq = kv.persistence().unwrap().log_seq;
        op();
        assert_eq!(kv.persistence().unwrap().log_seq, seq + 1, "{name}");
        writes += 1;
    };
    logged("rpush", &|| {
        db.push("l1", End::Right, &["a", "b", "c"]).unwrap();
    });
    logged("lmove", &|| {
        db.lmove("l1", "l2", End::Left, End::Right).unwrap();
    });
    logged("lmove rotating", &|| {
        db.lmove("l1", "l1", End::Left, End::Right).unwrap();
    });
    logged("rpush", &|| {
        db.push("l3", End::Right, &["x"]).unwrap();
    });
    logged("lmove emptying its source", &|| {
        db.lmove("l3", "l2", End::Right, End::Left).unwrap();
    });
    logged("sadd", &|| {
        db.sadd("s1", &["m", "n"]).unwrap();
    });
    logged("smove", &|| {
        assert!(db.smove("s1", "s2", "m").unwrap());
    });
    logged("smove emptying its source", &|| {
        assert!(db.smove("s1", "s2", "n").unwrap());
    });
    logged("sunionstore", &|| {
        assert_eq!(db.sstore(SetOp::Union, "s3", &["s2", "s1"]).unwrap(), 2);
    });
    logged("set", &|| db.set("k", "v").unwrap());
    logged("set", &|| db.set("dst", "old").unwrap());
    logged("pexpire", &|| {
        assert!(db.pexpire("dst", 10, ExpireCondition::None).unwrap());
    });
    clock.advance(20);
    logged("rename over a key found expired", &|| {
        db.rename("k", "dst").unwrap();
    });
    logged("mset", &|| db.mset(&[("p", "1"), ("q", "2")]).unwrap());
    logged("del of several keys", &|| {
        assert_eq!(db.del(&["p", "q", "missing"]).unwrap(), 2);
    });
    logged("copy", &|| {
        assert!(db.copy("l2", "l4", None, false).unwrap());
    });
    logged("sinterstore with an empty result", &|| {
        assert_eq!(db.sstore(SetOp::Inter, "s3", &["s2", "l-none"]).unwrap(), 0);
    });
    let expected = dump(&kv);
    assert_eq!(
        expected,
        [
            "dst Some([118]) ttl Persistent",
            "l1 [[99], [98]] ttl Persistent",
            "l2 [[120], [97]] ttl Persistent",
            "l4 [[120], [97]] ttl Persistent",
            "s2 [[109], [110]] ttl Persistent",
        ]
    );
    fs.crash();
    drop(kv);
    let kv = open();
    assert_eq!(dump(&kv), expected);
    let info = kv.persistence().unwrap();
    assert_eq!(info.recovery.records_replayed, writes);
    assert!(
        info.recovery.warnings.is_empty(),
        "{:?}",
        info.recovery.warnings
    );
}

/// On the real file system: the log's segment ends in zero-filled space, which neither
/// `check_data_dir` nor a reopen reports as a problem.
#[test]
fn a_zero_filled_log_is_healthy_on_disk() {
    let dir = std::env::temp_dir().join(format!("kv-prealloc-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let persist = || PersistOptions::new().sync(SyncMode::Always).save_rules(&[]);
    let kv = Kv::open(&dir, Options::new(), persist()).unwrap();
    for i in 0..10 {
        kv.db(0).unwrap().set(format!("k{i}"), "v").unwrap();
    }
    drop(kv);
    let seg = wal::segments(&RealFs, &dir).unwrap().pop().unwrap().path;
    let data = std::fs::read(&seg).unwrap();
    let end = wal::records_end(&data);
    assert_eq!(data.len() as u64, wal::PREALLOC_BYTES);
    assert!(end < data.len() && data[end..].iter().all(|&b| b == 0));
    let report = check_data_dir(&dir, false).unwrap();
    assert_eq!((report.records, report.problem.clone()), (10, None));
    assert!(report.to_string().contains("log: ok"), "{report}");
    let kv = Kv::open(&dir, Options::new(), persist()).unwrap();
    assert!(kv.persistence().unwrap().recovery.warnings.is_empty());
    kv.db(0).unwrap().set("k10", "v").unwrap();
    drop(kv);
    assert_eq!(check_data_dir(&dir, false).unwrap().records, 11);
    let kv = Kv::open(&dir, Options::new(), persist()).unwrap();
    assert_eq!(kv.db(0).unwrap().dbsize().unwrap(), 11);
    drop(kv);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_sync_mode_switched_to_always_makes_the_next_writes_durable() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::No);
    assert_eq!(kv.sync_mode(), Some(SyncMode::No));
    kv.set_sync_mode(SyncMode::Always);
    assert_eq!(kv.persistence().unwrap().sync, SyncMode::Always);
    let db = kv.db(0).unwrap();
    db.set("a", "1").unwrap();
    fs.crash();
    drop(kv);
    let kv = open(&fs, SyncMode::No);
    assert_eq!(
        get(&kv, "a").as_deref(),
        Some("1"),
        "acknowledged under always"
    );
}

#[test]
fn save_rules_change_at_run_time() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::No);
    assert_eq!(
        kv.save_rules(),
        Some(vec![(3600, 1), (300, 100), (60, 10_000)])
    );
    kv.set_save_rules(&[(10, 1)]);
    assert_eq!(kv.save_rules(), Some(vec![(10, 1)]));
    kv.set_save_rules(&[]);
    assert_eq!(kv.save_rules(), Some(vec![]));
    assert_eq!(Kv::in_memory(Options::new()).save_rules(), None);
}
