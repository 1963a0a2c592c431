//! Many threads at once: no lost updates, no torn multi-key writes, no deadlock. Loop counts
//! are bounded; nothing here measures time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use kvcore::{ExpireCondition, Kv, Options, Store};

fn kv() -> Kv {
    Kv::in_memory(Options::new().shards(4).databases(2))
}

#[test]
fn concurrent_incr_loses_no_update() {
    let kv = kv();
    let threads = 8;
    let per_thread = 5_000;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let db = kv.db(0).unwrap();
            thread::spawn(move || {
                for i in 0..per_thread {
                    db.incr("shared").unwrap();
                    db.incrby(format!("c{}", (i + t) % 4), 2).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let db = kv.db(0).unwrap();
    assert_eq!(
        db.get("shared").unwrap(),
        Some((threads * per_thread).to_string().into_bytes())
    );
    let sum: i64 = (0..4)
        .map(|i| String::from_utf8(db.get(format!("c{i}")).unwrap().unwrap()).unwrap())
        .map(|s| s.parse::<i64>().unwrap())
        .sum();
    assert_eq!(sum, 2 * threads as i64 * per_thread as i64);
}

#[test]
fn readers_never_see_a_half_applied_mset() {
    let kv = kv();
    let db = kv.db(0).unwrap();
    // Keys spread over several shards.
    let keys = ["a", "b", "key-c", "another-d", "e5"];
    let pairs: Vec<_> = keys.iter().map(|k| (*k, "0")).collect();
    db.mset(&pairs).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, done) = (db.clone(), Arc::clone(&done));
        thread::spawn(move || {
            for i in 0..20_000 {
                let v = i.to_string();
                let pairs: Vec<_> = keys.iter().map(|k| (*k, v.as_str())).collect();
                db.mset(&pairs).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, done) = (db.clone(), Arc::clone(&done));
            thread::spawn(move || {
                let mut reads = 0;
                while !done.load(Ordering::SeqCst) || reads < 100 {
                    let vals = db.mget(&keys);
                    assert!(
                        vals.iter().all(|v| v == &vals[0]),
                        "torn MSET seen: {vals:?}"
                    );
                    reads += 1;
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn readers_never_see_a_half_applied_rename() {
    let kv = kv();
    let db = kv.db(0).unwrap();
    db.set("left", "token").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mover = {
        let (db, done) = (db.clone(), Arc::clone(&done));
        thread::spawn(move || {
            for i in 0..20_000 {
                let (src, dst) = if i % 2 == 0 {
                    ("left", "right")
                } else {
                    ("right", "left")
                };
                db.rename(src, dst).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let reader = {
        let (db, done) = (db.clone(), Arc::clone(&done));
        thread::spawn(move || {
            let mut reads = 0;
            while !done.load(Ordering::SeqCst) || reads < 100 {
                // Exactly one of the two names holds the token at any instant.
                assert_eq!(db.exists(&["left", "right"]), 1);
                let vals = db.mget(&["left", "right"]);
                assert_eq!(vals.iter().flatten().count(), 1, "{vals:?}");
                reads += 1;
            }
        })
    };
    mover.join().unwrap();
    reader.join().unwrap();
}

#[test]
fn randomized_mix_finishes() {
    let kv = kv();
    let handles: Vec<_> = (0..6u64)
        .map(|t| {
            let kv = kv.clone();
            thread::spawn(move || {
                let mut x = t.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                let mut next = move || {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                };
                for _ in 0..5_000 {
                    let r = next();
                    let db = kv.db((r % 2) as usize).unwrap();
                    let k = |n: u64| format!("k{}", n % 16);
                    let (a, b) = (k(r >> 8), k(r >> 16));
                    match r % 13 {
                        0 => drop(db.set(&a, "v")),
                        1 => drop(db.get(&a)),
                        2 => drop(db.mset(&[(&a, "1"), (&b, "2")])),
                        3 => drop(db.rename(&a, &b)),
                        4 => drop(db.copy(&a, &b, Some(((r >> 4) % 2) as usize), true)),
                        5 => drop(db.del(&[&a, &b])),
                        6 => drop(db.mget(&[&b, &a])),
                        7 => drop(db.expire(&a, 1, ExpireCondition::None)),
                        8 => drop(db.incr(&a)),
                        9 => drop(db.msetnx(&[(&b, "x"), (&a, "y")])),
                        10 => drop(db.scan(0, &kvcore::ScanOptions::new().count(5))),
                        11 if r % 97 == 0 => drop(kv.swapdb(0, 1)),
                        11 if r % 89 == 0 => drop(db.flushdb()),
                        _ => drop(kv.active_expire_cycle(5)),
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
