use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kvcore::{KeyType, ScanOptions, SetExpiry, SetOptions, Store};

use crate::store;

fn scan_all(db: &kvcore::Db, opts: &ScanOptions) -> Vec<Vec<u8>> {
    let mut cursor = 0;
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        let (next, keys) = db.scan(cursor, opts).unwrap();
        out.extend(keys);
        if next == 0 {
            return out;
        }
        assert_ne!(next, cursor, "a cursor always moves");
        cursor = next;
    }
    panic!("scan did not finish");
}

#[test]
fn scan_returns_every_key_once_when_nothing_changes() {
    let (_kv, db, clock) = store();
    for i in 0..1000 {
        db.set(format!("key:{i}"), "v").unwrap();
    }
    db.set_with("gone", "v", &SetOptions::new().expiry(SetExpiry::Px(1)))
        .unwrap();
    clock.advance(1);
    for count in [1, 7, 10, 1000, 5000] {
        let mut keys = scan_all(&db, &ScanOptions::new().count(count));
        keys.sort();
        let before = keys.len();
        keys.dedup();
        assert_eq!(
            before,
            keys.len(),
            "no duplicates without writes (count {count})"
        );
        assert_eq!(keys.len(), 1000, "count {count}");
    }
    let matched = scan_all(&db, &ScanOptions::new().pattern("key:1?").count(50));
    assert_eq!(matched.len(), 10);
    assert_eq!(
        scan_all(&db, &ScanOptions::new().key_type(KeyType::String)).len(),
        1000
    );
    assert_eq!(
        scan_all(&db, &ScanOptions::new().key_type(KeyType::List)).len(),
        0
    );
    assert_eq!(
        db.scan(u64::MAX, &ScanOptions::new()).unwrap(),
        (0, vec![]),
        "a garbage cursor ends"
    );
}

#[test]
fn scan_of_empty_database() {
    let (_kv, db, _) = store();
    assert_eq!(db.scan(0, &ScanOptions::new()).unwrap(), (0, vec![]));
}

#[test]
fn scan_sees_stable_keys_despite_concurrent_writes() {
    let (_kv, db, _) = store();
    let stable: HashSet<Vec<u8>> = (0..2000)
        .map(|i| format!("stable:{i}").into_bytes())
        .collect();
    for k in &stable {
        db.set(k, "v").unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let (db, stop) = (db.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) && i < 200_000 {
                    let k = format!("churn:{t}:{}", i % 3000);
                    if i.is_multiple_of(2) {
                        db.set(&k, "x").unwrap();
                    } else {
                        db.del(&[format!("churn:{t}:{}", (i / 2) % 3000)]).unwrap();
                    }
                    i += 1;
                }
            })
        })
        .collect();
    for round in 0..5 {
        let seen: HashSet<Vec<u8>> = scan_all(&db, &ScanOptions::new().count(13))
            .into_iter()
            .collect();
        let missing = stable.iter().filter(|k| !seen.contains(*k)).count();
        assert_eq!(missing, 0, "round {round}: {missing} stable keys missed");
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
}

/// Short strings live in packed slots, longer ones and keys with an expiry in full slots, and
/// a packed key spills and packs back in place (`kvcore/src/shard.rs`): a key that lives
/// through the walk is still returned while writers move it between those forms, and keeps
/// its value.
#[test]
fn scan_sees_keys_that_spill_and_pack_again_during_the_walk() {
    use kvcore::ExpireCondition;
    let (_kv, db, _) = store();
    let keys: Vec<String> = (0..1500).map(|i| format!("k:{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        match i % 3 {
            0 => db.set(k, "1").unwrap(),
            1 => db.set(k, "v".repeat(40)).unwrap(),
            _ => {
                db.set_with(k, "2", &SetOptions::new().expiry(SetExpiry::Ex(1000)))
                    .unwrap();
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop, keys) = (db.clone(), Arc::clone(&stop), keys.clone());
        std::thread::spawn(move || {
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) && round < 200 {
                for k in keys.iter().step_by(3) {
                    match round % 4 {
                        0 => assert!(db.expire(k, 1000, ExpireCondition::None).unwrap()),
                        1 => assert!(db.persist(k).unwrap()),
                        2 => assert_eq!(db.append(k, "x".repeat(30)).unwrap(), 31),
                        _ => {
                            db.set(k, "1").unwrap();
                        }
                    }
                }
                round += 1;
            }
        })
    };
    let all: HashSet<Vec<u8>> = keys.iter().map(|k| k.clone().into_bytes()).collect();
    for round in 0..5 {
        let seen: HashSet<Vec<u8>> = scan_all(&db, &ScanOptions::new().count(17))
            .into_iter()
            .collect();
        assert_eq!(seen, all, "round {round}");
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    for (i, k) in keys.iter().enumerate() {
        let v = db.get(k).unwrap().unwrap();
        match i % 3 {
            0 => assert!(v == b"1" || v.len() == 31, "{k}"),
            1 => assert_eq!(v, "v".repeat(40).as_bytes()),
            _ => assert_eq!(v, b"2"),
        }
    }
    assert_eq!(db.dbsize().unwrap(), 1500);
}
