//! A persistent `Kv` on the fault file system: acknowledged writes survive crashes and faults,
//! a failed log refuses writes but serves reads, snapshots are point-in-time under load.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::clock::ManualClock;
use crate::persist::fs::FaultFs;
use crate::{Error, PersistOptions, Store};

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
fn deferred_acknowledgements_share_one_commit() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::Always);
    let db = kv.db(0).unwrap();
    db.set("first", "1").unwrap();
    let syncs = kv.persistence().unwrap().log_syncs;
    kv.defer_acks(true);
    for i in 0..16 {
        db.set(format!("k{i}"), "v").unwrap();
    }
    assert_eq!(
        kv.persistence().unwrap().log_syncs,
        syncs,
        "nothing synced before the commit"
    );
    kv.commit_deferred().unwrap();
    kv.defer_acks(false);
    assert_eq!(
        kv.persistence().unwrap().log_syncs,
        syncs + 1,
        "one fdatasync for the batch"
    );
    fs.crash();
    drop(kv);
    let kv = open(&fs, SyncMode::Always);
    assert_eq!(kv.db(0).unwrap().dbsize(), 17);

    // A failed commit reports the failure: the batch must not be acknowledged.
    kv.defer_acks(true);
    kv.db(0).unwrap().set("x", "1").unwrap();
    fs.fail_syncs(1);
    assert!(matches!(
        kv.commit_deferred(),
        Err(Error::PersistenceFailed(_))
    ));
    kv.defer_acks(false);
}

#[test]
fn deferred_writes_taken_by_one_thread_are_committed_by_another() {
    let fs = FaultFs::new();
    let kv = open(&fs, SyncMode::Always);
    let db = kv.db(0).unwrap();
    let syncs = kv.persistence().unwrap().log_syncs;
    // Two "connections" defer their writes and hand the tokens over.
    let tokens: Vec<Deferred> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let (kv, db) = (&kv, &db);
                s.spawn(move || {
                    kv.defer_acks(true);
                    for i in 0..10 {
                        db.set(format!("t{t}:{i}"), "v").unwrap();
                    }
                    let token = kv.take_deferred().expect("writes to commit");
                    assert_eq!(kv.take_deferred(), None, "taken once");
                    token
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
    // The highest token covers both threads' writes: one fdatasync.
    let last = *tokens.iter().max().unwrap();
    assert_eq!(last.seq(), kv.persistence().unwrap().log_seq);
    kv.commit_taken(last).unwrap();
    assert_eq!(kv.persistence().unwrap().log_syncs, syncs + 1);
    for t in tokens {
        kv.commit_taken(t).unwrap();
    }
    assert_eq!(
        kv.persistence().unwrap().log_syncs,
        syncs + 1,
        "already covered"
    );
    fs.crash();
    drop(kv);
    let kv = open(&fs, SyncMode::Always);
    assert_eq!(kv.db(0).unwrap().dbsize(), 20);

    // A failed sync fails the token's commit: its writes must not be acknowledged.
    kv.defer_acks(true);
    kv.db(0).unwrap().set("x", "1").unwrap();
    let token = kv.take_deferred().unwrap();
    kv.defer_acks(false);
    fs.fail_syncs(1);
    assert!(matches!(
        kv.commit_taken(token),
        Err(Error::PersistenceFailed(_))
    ));
    assert_eq!(kv.sync_mode(), Some(SyncMode::Always));
    assert_eq!(Kv::in_memory(Options::default()).take_deferred(), None);
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
    assert_eq!(kv.db(0).unwrap().dbsize(), 0);
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
    let mut keys = db.keys("*");
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let contents = match db.key_type(&k) {
                Some(KeyType::String) => format!("{:?}", db.get(&k).unwrap()),
                Some(KeyType::List) => format!("{:?}", db.lrange(&k, 0, -1).unwrap()),
                Some(KeyType::Set) => {
                    let mut m = db.smembers(&k).unwrap();
                    m.sort();
                    format!("{m:?}")
                }
                other => panic!("unexpected {other:?}"),
            };
            format!("{} {contents} ttl {:?}", k.escape_ascii(), db.pttl(&k))
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
    assert_eq!(kv.db(0).unwrap().dbsize(), 11);
    drop(kv);
    std::fs::remove_dir_all(&dir).unwrap();
}
