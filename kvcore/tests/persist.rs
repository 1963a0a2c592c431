//! Restart tests on the real file system: what was written comes back after the store is
//! closed and reopened, TTLs keep counting, expired keys stay gone, every data type survives,
//! from the log alone and from a snapshot plus the log.

use std::sync::Arc;

use kvcore::{
    End, HashStore, Kv, ListStore, ManualClock, Options, PersistOptions, SetExpiry, SetOptions,
    SetStore, Store, SyncMode, ZAddFlags, ZSetStore, check_data_dir,
};

use crate::{T0, TempDir};

fn open(dir: &TempDir, clock: &ManualClock, sync: SyncMode) -> Kv {
    let opts = Options::new()
        .shards(8)
        .databases(4)
        .clock(Arc::new(clock.clone()));
    Kv::open(&dir.0, opts, PersistOptions::new().sync(sync)).unwrap()
}

#[test]
fn a_value_survives_a_restart_in_every_sync_mode() {
    for sync in [SyncMode::Always, SyncMode::EverySec, SyncMode::No] {
        let dir = TempDir::new("persist", &format!("modes-{}", sync.as_str()));
        let clock = ManualClock::new(T0);
        let kv = open(&dir, &clock, sync);
        kv.db(0).unwrap().set("key1", "value1").unwrap();
        drop(kv);
        let kv = open(&dir, &clock, sync);
        assert_eq!(
            kv.db(0).unwrap().get("key1").unwrap(),
            Some(b"value1".to_vec()),
            "{sync:?}"
        );
    }
}

#[test]
fn ttls_keep_counting_across_restarts_and_expired_keys_stay_gone() {
    let dir = TempDir::new("persist", "ttl");
    let clock = ManualClock::new(T0);
    let kv = open(&dir, &clock, SyncMode::Always);
    let db = kv.db(0).unwrap();
    db.set_with(
        "short",
        "v",
        &SetOptions::new().expiry(SetExpiry::Px(1_000)),
    )
    .unwrap();
    db.set_with(
        "long",
        "v",
        &SetOptions::new().expiry(SetExpiry::Px(100_000)),
    )
    .unwrap();
    db.set("forever", "v").unwrap();
    drop((db, kv));
    clock.advance(10_000);
    let kv = open(&dir, &clock, SyncMode::Always);
    let db = kv.db(0).unwrap();
    assert_eq!(db.get("short").unwrap(), None);
    assert_eq!(db.pttl("long").unwrap(), crate::millis(90_000));
    assert_eq!(db.pttl("forever").unwrap(), kvcore::Ttl::Persistent);
    kv.save().unwrap();
    drop((db, kv));
    clock.advance(100_000);
    let kv = open(&dir, &clock, SyncMode::Always);
    let db = kv.db(0).unwrap();
    assert_eq!(
        db.get("long").unwrap(),
        None,
        "expired while down, from the snapshot"
    );
    assert_eq!(db.get("forever").unwrap(), Some(b"v".to_vec()));
}

fn fill_all_types(kv: &Kv) {
    let db = kv.db(1).unwrap();
    db.set("s", "string").unwrap();
    db.push("l", End::Right, &["a", "b", "c"]).unwrap();
    db.push("l", End::Left, &["z"]).unwrap();
    db.pop("l", End::Right).unwrap();
    db.hset("h", &[("f1", "v1"), ("f2", "v2")]).unwrap();
    db.hdel("h", &["f1"]).unwrap();
    db.sadd("set", &["m1", "m2", "m3"]).unwrap();
    db.srem("set", &["m2"]).unwrap();
    db.zadd(
        "z",
        &[(1.5, "one"), (2.5, "two"), (-1.0, "neg")],
        &ZAddFlags::default(),
    )
    .unwrap();
    db.zrem("z", &["two"]).unwrap();
}

fn check_all_types(kv: &Kv) {
    let db = kv.db(1).unwrap();
    assert_eq!(db.get("s").unwrap(), Some(b"string".to_vec()));
    let l: Vec<Vec<u8>> = vec![b"z".to_vec(), b"a".to_vec(), b"b".to_vec()];
    assert_eq!(db.lrange("l", 0, -1).unwrap(), l);
    assert_eq!(db.hget("h", "f2").unwrap(), Some(b"v2".to_vec()));
    assert_eq!(db.hget("h", "f1").unwrap(), None);
    let mut members = db.smembers("set").unwrap();
    members.sort();
    assert_eq!(members, vec![b"m1".to_vec(), b"m3".to_vec()]);
    assert_eq!(db.zscore("z", "one").unwrap(), Some(1.5));
    assert_eq!(db.zscore("z", "neg").unwrap(), Some(-1.0));
    assert_eq!(db.zscore("z", "two").unwrap(), None);
}

#[test]
fn every_data_type_survives_from_the_log_and_from_a_snapshot() {
    let dir = TempDir::new("persist", "types");
    let clock = ManualClock::new(T0);
    let kv = open(&dir, &clock, SyncMode::Always);
    fill_all_types(&kv);
    drop(kv);
    let kv = open(&dir, &clock, SyncMode::Always);
    check_all_types(&kv);
    let info = kv.save().unwrap();
    assert_eq!(info.keys, 5);
    drop(kv);
    let kv = open(&dir, &clock, SyncMode::Always);
    let r = kv.persistence().unwrap().recovery;
    assert_eq!((r.keys_loaded, r.records_replayed), (5, 0));
    check_all_types(&kv);
}

#[test]
fn multi_key_and_whole_store_writes_replay_atomically() {
    let dir = TempDir::new("persist", "multi");
    let clock = ManualClock::new(T0);
    let kv = open(&dir, &clock, SyncMode::Always);
    let db0 = kv.db(0).unwrap();
    db0.mset(&[("a", "1"), ("b", "2")]).unwrap();
    db0.rename("a", "c").unwrap();
    db0.copy("b", "b", Some(2), false).unwrap();
    kv.db(3).unwrap().set("x", "y").unwrap();
    kv.swapdb(2, 3).unwrap();
    kv.db(1).unwrap().set("gone", "soon").unwrap();
    kv.db(1).unwrap().flushdb().unwrap();
    db0.set("m", "moved").unwrap();
    db0.move_key("m", 1).unwrap();
    drop((db0, kv));
    let kv = open(&dir, &clock, SyncMode::Always);
    let get = |db: usize, k: &str| kv.db(db).unwrap().get(k).unwrap();
    assert_eq!((get(0, "a"), get(0, "c")), (None, Some(b"1".to_vec())));
    assert_eq!(
        (get(3, "b"), get(2, "x")),
        (Some(b"2".to_vec()), Some(b"y".to_vec()))
    );
    assert_eq!(kv.db(1).unwrap().dbsize().unwrap(), 1);
    assert_eq!((get(0, "m"), get(1, "m")), (None, Some(b"moved".to_vec())));
    kv.flushall().unwrap();
    drop(kv);
    let kv = open(&dir, &clock, SyncMode::Always);
    assert_eq!(
        (0..4)
            .map(|d| kv.db(d).unwrap().dbsize().unwrap())
            .sum::<u64>(),
        0
    );
}

#[test]
fn a_directory_is_opened_by_one_store_at_a_time() {
    let dir = TempDir::new("persist", "lock");
    let clock = ManualClock::new(T0);
    let kv = open(&dir, &clock, SyncMode::Always);
    let err = Kv::open(&dir.0, Options::new(), PersistOptions::new()).unwrap_err();
    assert!(err.to_string().contains("in use by another store"), "{err}");
    let kvcore::Error::Io(io) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(io.kind(), std::io::ErrorKind::ResourceBusy);
    drop(kv);
    let kv = open(&dir, &clock, SyncMode::Always);
    kv.db(0).unwrap().set("a", "b").unwrap();
}

#[test]
fn check_reports_each_snapshot() {
    let dir = TempDir::new("persist", "check-snapshots");
    let clock = ManualClock::new(T0);
    let kv = open(&dir, &clock, SyncMode::Always);
    kv.db(0).unwrap().set("a", "1").unwrap();
    kv.save().unwrap();
    kv.db(0).unwrap().set("b", "2").unwrap();
    kv.save().unwrap();
    drop(kv);
    let report = check_data_dir(&dir.0, false).unwrap();
    let keys: Vec<_> = report.snapshots.iter().map(|s| s.keys.clone()).collect();
    assert_eq!(keys, [Ok(2), Ok(1)], "newest first: {report}");
    let newest = report.snapshots[0].path.clone();
    assert!(newest.starts_with(&dir.0), "{}", newest.display());
    let mut data = std::fs::read(&newest).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    std::fs::write(&newest, data).unwrap();
    let report = check_data_dir(&dir.0, false).unwrap();
    assert!(report.snapshots[0].keys.is_err(), "{report}");
    assert_eq!(report.snapshots[1].keys, Ok(1), "{report}");
    assert!(report.to_string().contains("DAMAGED"), "{report}");
}

#[test]
fn check_finds_and_repairs_damage() {
    let dir = TempDir::new("persist", "check");
    let clock = ManualClock::new(T0);
    let kv = open(&dir, &clock, SyncMode::Always);
    for i in 0..20 {
        kv.db(0).unwrap().set(format!("k{i}"), "v").unwrap();
    }
    drop(kv);
    let report = check_data_dir(&dir.0, false).unwrap();
    assert_eq!((report.records, report.problem.is_none()), (20, true));
    let seg = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let mut data = std::fs::read(&seg).unwrap();
    // The records are followed by zero-filled space (docs/format.md): damage their middle.
    let records = data.iter().rposition(|&b| b != 0).unwrap() + 1;
    assert!(records < data.len(), "the segment ends in zeros");
    let mid = records / 2;
    data[mid] ^= 0x55;
    std::fs::write(&seg, data).unwrap();
    let err = Kv::open(&dir.0, Options::new(), PersistOptions::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--repair") && err.contains("wal-"), "{err}");
    let report = check_data_dir(&dir.0, true).unwrap();
    assert!(report.repaired && report.records < 20, "{report}");
    let problem = report.problem.as_ref().expect("the damage is reported");
    assert_eq!(
        (&problem.path, problem.torn_tail),
        (&seg, false),
        "{report}"
    );
    let kv = open(&dir, &clock, SyncMode::Always);
    assert_eq!(kv.db(0).unwrap().dbsize().unwrap(), report.records);
}

/// Function libraries survive a restart from the log, from a snapshot, and from a snapshot
/// plus later log records; deletes and flushes too; a change inside a transaction is part of
/// its record.
#[test]
fn function_libraries_survive_restarts() {
    let dir = TempDir::new("persist", "functions");
    let clock = ManualClock::new(T0);
    let libraries = |kv: &Kv| -> Vec<(String, String)> {
        kv.function_libraries()
            .into_iter()
            .map(|(n, c)| (String::from_utf8(n).unwrap(), String::from_utf8(c).unwrap()))
            .collect()
    };
    let pair = |n: &str, c: &str| (n.to_string(), c.to_string());
    {
        let kv = open(&dir, &clock, SyncMode::Always);
        let store = kv.function_store();
        store.set(b"a", b"code a").unwrap();
        store.set(b"b", b"code b").unwrap();
        store.set(b"a", b"code a2").unwrap();
        assert!(store.delete(b"b").unwrap());
        assert!(!store.delete(b"nope").unwrap());
        store.commit().unwrap();
    }
    let kv = open(&dir, &clock, SyncMode::Always);
    assert_eq!(libraries(&kv), vec![pair("a", "code a2")], "from the log");
    kv.save().unwrap();
    let store = kv.function_store();
    store.set(b"c", b"code c").unwrap();
    store.commit().unwrap();
    drop(kv);
    let kv = open(&dir, &clock, SyncMode::Always);
    assert_eq!(
        libraries(&kv),
        vec![pair("a", "code a2"), pair("c", "code c")],
        "from a snapshot and the log after it"
    );
    kv.save().unwrap();
    drop(kv);
    let kv = open(&dir, &clock, SyncMode::Always);
    assert_eq!(libraries(&kv).len(), 2, "from a snapshot alone");
    let before = kv.persistence().unwrap().log_seq;
    kv.transaction(kvcore::Scope::Everything, |tx| {
        tx.db(0)?.set("k", "v")?;
        let store = tx.kv().function_store();
        store.flush()?;
        store.set(b"d", b"code d")?;
        store.commit()
    })
    .unwrap();
    assert_eq!(kv.persistence().unwrap().log_seq, before + 1, "one record");
    drop(kv);
    let kv = open(&dir, &clock, SyncMode::Always);
    assert_eq!(libraries(&kv), vec![pair("d", "code d")]);
    assert_eq!(kv.db(0).unwrap().get("k").unwrap(), Some(b"v".to_vec()));
}
