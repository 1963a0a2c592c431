//! Transactions and watches through the public API: atomic and isolated against concurrent
//! readers and writers, scoped, and check-and-set that loses no update.

use std::panic::{AssertUnwindSafe, catch_unwind};

use kvcore::{Error, Kv, ListStore, Options, Scope, Store, SyncMode, Tx, Watch};

use crate::concurrency::{Worker, run_workers};
use crate::{T0, TempDir, store};

/// Keys spread over several shards (a store of 4 or 8 shards puts them in different ones).
fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("k{i}")).collect()
}

fn scope_of(db: usize, keys: &[String]) -> Vec<(usize, &[u8])> {
    keys.iter().map(|k| (db, k.as_bytes())).collect()
}

fn int(db: &kvcore::Db, key: &str) -> i64 {
    db.get(key)
        .unwrap()
        .map_or(0, |v| std::str::from_utf8(&v).unwrap().parse().unwrap())
}

/// Readers never see a state between two of a transaction's writes, even though each write
/// is a separate operation on a separate shard.
#[test]
fn readers_never_see_half_a_transaction() {
    let kv = Kv::in_memory(Options::new().shards(8).databases(2));
    let names = keys(8);
    let rounds = 2_000;
    let mut workers: Vec<Worker<()>> = Vec::new();
    {
        let (kv, names) = (kv.clone(), names.clone());
        workers.push(Box::new(move || {
            let scope = scope_of(0, &names);
            for i in 0..rounds {
                kv.transaction(Scope::Keys(&scope), |tx| {
                    let db = tx.db(0)?;
                    for k in &names {
                        db.set(k, i.to_string())?;
                    }
                    Ok(())
                })
                .unwrap();
            }
        }));
    }
    for _ in 0..3 {
        let (kv, names) = (kv.clone(), names.clone());
        workers.push(Box::new(move || {
            let db = kv.db(0).unwrap();
            for _ in 0..rounds {
                // MGET reads all keys under their locks at once.
                let values = db.mget(&names).unwrap();
                let first = &values[0];
                assert!(
                    values.iter().all(|v| v == first),
                    "a reader saw half a transaction: {values:?}"
                );
            }
        }));
    }
    run_workers("transactions vs readers", workers);
}

/// Concurrent check-and-set increments with watches: every successful transaction counts, and
/// the final value equals the number of successes (no lost update, no double count).
#[test]
fn check_and_set_loses_no_update() {
    let kv = Kv::in_memory(Options::new().shards(4).databases(1));
    let threads = 6;
    let per_thread = 300;
    let workers: Vec<Worker<(u64, u64)>> = (0..threads)
        .map(|_| {
            let kv = kv.clone();
            Box::new(move || {
                let db = kv.db(0).unwrap();
                let (mut won, mut lost) = (0u64, 0u64);
                while won < per_thread as u64 {
                    let watch = db.watch(&["counter"]);
                    let n = int(&db, "counter");
                    let scope: &[(usize, &[u8])] = &[(0, b"counter")];
                    let done = db
                        .transaction(Scope::Keys(scope), |tx| {
                            if watch.changed() {
                                return Ok(false);
                            }
                            tx.db(0)?.set("counter", (n + 1).to_string())?;
                            Ok(true)
                        })
                        .unwrap();
                    if done {
                        won += 1;
                    } else {
                        lost += 1;
                    }
                }
                (won, lost)
            }) as Worker<(u64, u64)>
        })
        .collect();
    let results = run_workers("check-and-set", workers);
    let wins: u64 = results.iter().map(|r| r.0).sum();
    assert_eq!(int(&kv.db(0).unwrap(), "counter") as u64, wins);
    assert_eq!(wins, (threads * per_thread) as u64);
}

#[test]
fn what_counts_as_a_change_for_a_watch() {
    let (kv, db, clock) = store();
    let other = kv.db(1).unwrap();
    db.set("a", "1").unwrap();
    type Case<'a> = (&'a str, Box<dyn Fn() + 'a>, bool);
    let cases: Vec<Case<'_>> = vec![
        ("a read", Box::new(|| drop(db.get("a"))), false),
        ("a write", Box::new(|| db.set("a", "2").unwrap()), true),
        (
            "a failed write",
            Box::new(|| drop(db.push("a", kvcore::End::Left, &["x"]))),
            false,
        ),
        (
            "SET NX that does nothing",
            Box::new(|| drop(db.set_with("a", "3", &kvcore::SetOptions::new().nx()))),
            false,
        ),
        ("a delete", Box::new(|| drop(db.del(&["a"]))), true),
        (
            "DEL of another key",
            Box::new(|| drop(db.del(&["b"]))),
            false,
        ),
        (
            "a rename onto it",
            Box::new(|| {
                db.set("src", "x").unwrap();
                db.rename("src", "a").unwrap();
            }),
            true,
        ),
        (
            "an expiry set",
            Box::new(|| drop(db.expire("a", 100, kvcore::ExpireCondition::None))),
            true,
        ),
        ("FLUSHDB", Box::new(|| db.flushdb().unwrap()), true),
        (
            "FLUSHDB of another database",
            Box::new(|| other.flushdb().unwrap()),
            false,
        ),
        ("FLUSHALL", Box::new(|| kv.flushall().unwrap()), true),
        ("SWAPDB", Box::new(|| kv.swapdb(0, 1).unwrap()), true),
    ];
    for (what, change, changes) in &cases {
        db.set("a", "1").unwrap();
        let w = db.watch(&["a"]);
        change();
        assert_eq!(w.changed(), *changes, "{what}");
        drop(w);
        kv.flushall().unwrap();
    }

    // A missing key: creating it is a change, FLUSHDB (which finds nothing) is not.
    let w = db.watch(&["missing"]);
    db.flushdb().unwrap();
    assert!(!w.changed(), "flushing a database without the key");
    db.set("missing", "now").unwrap();
    assert!(w.changed(), "creating the key");
    drop(w);

    // SWAPDB changes a watched key that exists in either database, not one in neither.
    other.set("x", "in db 1").unwrap();
    let w = db.watch(&["x", "y"]);
    kv.swapdb(0, 1).unwrap();
    assert!(w.changed(), "x arrives with the other database");
    drop(w);
    kv.flushall().unwrap();
    let w = db.watch(&["y"]);
    kv.swapdb(0, 1).unwrap();
    assert!(!w.changed(), "y is in neither database");
    drop(w);

    // Expiry: a watched key that expires is changed, even before anything removes it.
    db.set("t", "v").unwrap();
    db.pexpire("t", 1_000, kvcore::ExpireCondition::None)
        .unwrap();
    let w = db.watch(&["t"]);
    assert!(!w.changed());
    clock.advance(1_000);
    assert!(w.changed(), "the deadline passed");
    drop(w);
    // A key already expired when watched is missing: its removal changes nothing.
    db.set("u", "v").unwrap();
    db.pexpire("u", 10, kvcore::ExpireCondition::None).unwrap();
    clock.advance(10);
    let w = db.watch(&["u"]);
    assert_eq!(db.get("u").unwrap(), None);
    kv.active_expire_cycle(100);
    assert!(!w.changed(), "an already expired key");
    // Watches of several keys in several databases; dropping one unregisters it.
    let mut w = kv.watch_none();
    w.add(&other, b"p");
    w.add(&db, b"q");
    w.add(&db, b"q");
    assert_eq!(w.len(), 2);
    other.set("p", "1").unwrap();
    assert!(w.changed());
    let _ = T0;
}

/// A transaction's operations run in order, and a failing operation is that operation's error:
/// the closure may go on (as Redis's EXEC does), and what it did stays done.
#[test]
fn an_operation_error_inside_a_transaction_is_its_own() {
    let (kv, db, _) = store();
    db.push("list", kvcore::End::Left, &["x"]).unwrap();
    let names = ["a", "list", "b"];
    let scope: Vec<(usize, &[u8])> = names.iter().map(|k| (0, k.as_bytes())).collect();
    let errors = kv
        .transaction(Scope::Keys(&scope), |tx| {
            let db = tx.db(0)?;
            db.set("a", "1")?;
            let wrong = db.incr("list").unwrap_err();
            db.set("b", "2")?;
            Ok(wrong)
        })
        .unwrap();
    assert_eq!(errors, Error::WrongType);
    assert_eq!((int(&db, "a"), int(&db, "b")), (1, 2));
    // The closure's own error is returned, after what it did.
    let err = kv
        .transaction(Scope::Keys(&scope), |tx| {
            tx.db(0)?.set("a", "9")?;
            Err::<(), _>(Error::NoSuchKey)
        })
        .unwrap_err();
    assert_eq!(err, Error::NoSuchKey);
    assert_eq!(int(&db, "a"), 9);
}

/// Whole-keyspace operations run inside `Scope::Everything`, across databases.
#[test]
fn everything_scope_runs_whole_keyspace_operations() {
    let (kv, db, _) = store();
    for k in keys(20) {
        db.set(&k, "v").unwrap();
    }
    kv.db(2).unwrap().set("elsewhere", "v").unwrap();
    let (count, names, moved) = kv
        .transaction(Scope::Everything, |tx| {
            let db0 = tx.db(0)?;
            let count = db0.dbsize()?;
            let mut names = db0.keys("k1*")?;
            names.sort();
            db0.move_key("k0", 3)?;
            tx.kv().swapdb(2, 1)?;
            let moved = tx.db(3)?.exists(&["k0"])?;
            tx.db(0)?.flushdb()?;
            Ok((count, names, moved))
        })
        .unwrap();
    assert_eq!(count, 20);
    assert_eq!(names.len(), 11); // k1, k10..k19
    assert_eq!(moved, 1);
    assert_eq!(db.dbsize().unwrap(), 0);
    assert_eq!(
        kv.db(1).unwrap().get("elsewhere").unwrap(),
        Some(b"v".to_vec())
    );
    kv.transaction(Scope::Everything, |tx| tx.kv().flushall())
        .unwrap();
    assert_eq!(
        kv.db(1).unwrap().dbsize().unwrap() + kv.db(3).unwrap().dbsize().unwrap(),
        0
    );
}

/// Touching a key outside the scope is a programming error: it panics rather than lock out of
/// order, and the locks are released on the way out.
#[test]
fn a_key_outside_the_scope_panics_and_releases_the_locks() {
    let (kv, db, _) = store();
    let scope: &[(usize, &[u8])] = &[(0, b"declared")];
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        kv.transaction(Scope::Keys(scope), |tx| {
            let db = tx.db(0)?;
            db.set("declared", "1")?;
            // 64 keys cannot all share the declared key's shard.
            for k in keys(64) {
                db.set(&k, "x")?;
            }
            Ok(())
        })
    }));
    let panic = outcome.unwrap_err();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("outside its scope"), "{msg}");
    // Everything is unlocked again.
    db.set("declared", "2").unwrap();
    kv.flushall().unwrap();
    // A second transaction inside the first is refused the same way.
    let nested = catch_unwind(AssertUnwindSafe(|| {
        kv.transaction(Scope::Keys(scope), |tx| {
            tx.db(0)?.transaction(Scope::Keys(scope), |_| Ok(()))
        })
    }));
    assert!(nested.is_err());
    db.set("declared", "3").unwrap();
}

/// A handle that outlives its transaction works as a plain handle afterwards.
#[test]
fn a_handle_that_escapes_its_transaction_locks_normally() {
    let (kv, db, _) = store();
    let scope: &[(usize, &[u8])] = &[(0, b"a")];
    let escaped = kv
        .transaction(Scope::Keys(scope), |tx: &Tx| {
            let d = tx.db(0)?;
            d.set("a", "1")?;
            Ok(d)
        })
        .unwrap();
    escaped.set("b", "2").unwrap();
    let t = std::thread::spawn({
        let escaped = escaped.clone();
        move || escaped.incr("c").unwrap()
    });
    assert_eq!(t.join().unwrap(), 1);
    assert_eq!(db.mget(&["a", "b", "c"]).unwrap().len(), 3);
    assert_eq!(int(&db, "b"), 2);
}

/// In a persistent store a transaction is one log record, acknowledged once, and within a
/// batch it waits for the batch's commit.
#[test]
fn a_transaction_is_one_log_record() {
    let dir = TempDir::new("tx", "one-record");
    let persist = kvcore::PersistOptions::new().sync(SyncMode::Always);
    let kv = Kv::open(&dir.0, Options::new().shards(8), persist.clone()).unwrap();
    let names = keys(10);
    let scope = scope_of(0, &names);
    let before = kv.persistence().unwrap().log_seq;
    kv.transaction(Scope::Keys(&scope), |tx| {
        let db = tx.db(0)?;
        for (i, k) in names.iter().enumerate() {
            db.set(k, i.to_string())?;
        }
        db.del(&["k9"])?;
        Ok(())
    })
    .unwrap();
    let info = kv.persistence().unwrap();
    assert_eq!(info.log_seq, before + 1, "one record for eleven operations");
    let batch = kv.batch();
    let syncs = info.log_syncs;
    batch
        .db(0)
        .unwrap()
        .transaction(Scope::Keys(&scope), |tx| tx.db(0)?.set("k0", "batched"))
        .unwrap();
    assert_eq!(
        kv.persistence().unwrap().log_syncs,
        syncs,
        "left to the batch"
    );
    batch.commit().unwrap();
    drop((batch, kv));
    let kv = Kv::open(&dir.0, Options::new().shards(8), persist).unwrap();
    let db = kv.db(0).unwrap();
    assert_eq!(db.get("k0").unwrap(), Some(b"batched".to_vec()));
    assert_eq!((int(&db, "k8"), db.exists(&["k9"]).unwrap()), (8, 0));
    let _: Option<Watch> = None;
}

/// An open transaction declares nothing it must, locks what it reaches, and is still one
/// atomic step and one log record; after it the shards are free again.
#[test]
fn an_open_transaction_locks_keys_as_it_reaches_them() {
    let dir = TempDir::new("tx", "open");
    let persist = kvcore::PersistOptions::new().sync(SyncMode::Always);
    let kv = Kv::open(&dir.0, Options::new().shards(8), persist.clone()).unwrap();
    let names = keys(40);
    let declared: &[(usize, &[u8])] = &[(0, b"k0")];
    let before = kv.persistence().unwrap().log_seq;
    kv.transaction(Scope::Open(declared), |tx| {
        let db = tx.db(0)?;
        // Undeclared keys, in every shard, in descending order: taken out of order.
        for (i, k) in names.iter().enumerate().rev() {
            db.set(k, i.to_string())?;
        }
        db.mset(&[("m1", "a"), ("m2", "b")])?;
        tx.db(1)?.set("other-db", "x")?;
        tx.kv().swapdb(1, 2)
    })
    .unwrap();
    assert_eq!(kv.persistence().unwrap().log_seq, before + 1, "one record");
    // Every shard is unlocked: each is written from another thread.
    std::thread::scope(|s| {
        s.spawn(|| {
            let db = kv.db(0).unwrap();
            for k in &names {
                db.incr(k).unwrap();
            }
        });
    });
    drop(kv);
    let kv = Kv::open(&dir.0, Options::new().shards(8), persist).unwrap();
    let db = kv.db(0).unwrap();
    assert_eq!((int(&db, "k0"), int(&db, "k39")), (1, 40));
    assert_eq!(db.mget(&["m1", "m2"]).unwrap().len(), 2);
    assert_eq!(
        kv.db(2).unwrap().get("other-db").unwrap(),
        Some(b"x".to_vec())
    );
}

/// Open transactions take shards out of order while MSET, MGET, RENAME, keyed and
/// whole-keyspace transactions, FLUSHDB and snapshots take theirs in order: nothing deadlocks
/// (Invariant 12's order gate), and no reader sees money in flight between accounts.
#[test]
fn open_transactions_among_multi_key_operations_never_deadlock() {
    money_among_multi_key_operations(false);
}

/// The same with optimistic transactions (`Scope::Optimistic`) beside an open one: they take
/// the shards they reach without the gate, take the gate or give up (undone, then run again
/// as open ones) when one is held, and still nothing deadlocks and no money is in flight.
#[test]
fn optimistic_transactions_among_multi_key_operations_never_deadlock() {
    money_among_multi_key_operations(true);
}

fn money_among_multi_key_operations(optimistic: bool) {
    let dir = TempDir::new(
        "tx",
        if optimistic {
            "optimistic-mix"
        } else {
            "open-mix"
        },
    );
    let kv = Kv::open(
        &dir.0,
        Options::new().shards(8).databases(2),
        kvcore::PersistOptions::new().sync(SyncMode::No),
    )
    .unwrap();
    const ACCOUNTS: usize = 12;
    const TOTAL: i64 = 1_200;
    let names = keys(ACCOUNTS);
    let db = kv.db(0).unwrap();
    for k in &names {
        db.set(k, (TOTAL / ACCOUNTS as i64).to_string()).unwrap();
    }
    let rounds = 1_500u64;
    let mut workers: Vec<Worker<()>> = Vec::new();
    // Open transactions moving money, touching accounts in a scrambled order.
    for t in 0..3u64 {
        let (kv, names) = (kv.clone(), names.clone());
        workers.push(Box::new(move || {
            for i in 0..rounds {
                let r = (i * 7919 + t * 104_729).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let from = &names[(r % ACCOUNTS as u64) as usize];
                let to = &names[((r >> 8) % ACCOUNTS as u64) as usize];
                let declared: &[(usize, &[u8])] = &[(0, b"unrelated"), (0, from.as_bytes())];
                let transfer = |tx: &Tx| {
                    let db = tx.db(0)?;
                    db.decrby(to, -5)?; // credited first: a reader would see too much
                    db.decrby(from, 5)?;
                    if r % 5 == 0 {
                        db.set("scratch", "x")?;
                        tx.db(1)?.del(&["scratch"])?;
                    }
                    Ok(())
                };
                if optimistic && t > 0 {
                    match kv.transaction(Scope::Optimistic(declared), transfer) {
                        Err(Error::Conflict) => {
                            kv.transaction(Scope::Open(declared), transfer).unwrap()
                        }
                        r => r.unwrap(),
                    }
                } else {
                    kv.transaction(Scope::Open(declared), transfer).unwrap();
                }
            }
        }));
    }
    // Keyed transactions moving money, readers of every account, MSETs and RENAMEs of other keys.
    {
        let (kv, names) = (kv.clone(), names.clone());
        workers.push(Box::new(move || {
            let db = kv.db(0).unwrap();
            for i in 0..rounds {
                let (a, b) = (
                    &names[i as usize % ACCOUNTS],
                    &names[(i as usize * 5 + 1) % ACCOUNTS],
                );
                let pair = [a.clone(), b.clone()];
                let scope = scope_of(0, &pair);
                db.transaction(Scope::Keys(&scope), |tx| {
                    let db = tx.db(0)?;
                    db.incrby(a, 1)?;
                    db.decrby(b, 1)
                })
                .unwrap();
                let all: i64 = db
                    .mget(&names)
                    .unwrap()
                    .iter()
                    .map(|v| {
                        std::str::from_utf8(v.as_ref().unwrap())
                            .unwrap()
                            .parse::<i64>()
                            .unwrap()
                    })
                    .sum();
                assert_eq!(all, TOTAL, "a reader saw money in flight");
            }
        }));
    }
    {
        let kv = kv.clone();
        workers.push(Box::new(move || {
            let db = kv.db(0).unwrap();
            let other = kv.db(1).unwrap();
            for i in 0..rounds {
                db.mset(&[("scratch", "1"), ("unrelated", "2"), ("m", "3")])
                    .unwrap();
                let _ = db.rename("m", "n");
                if i % 50 == 0 {
                    other.flushdb().unwrap();
                    kv.transaction(Scope::Everything, |tx| tx.db(1)?.dbsize())
                        .unwrap();
                }
                if i % 300 == 0 {
                    kv.save().unwrap();
                }
            }
        }));
    }
    run_workers("open transactions among multi-key operations", workers);
    let all: i64 = names.iter().map(|k| int(&db, k)).sum();
    assert_eq!(all, TOTAL);
}

/// A thread holding the order gate (`Kv::hold_gate`) runs open and whole-keyspace
/// transactions without taking it again; another thread's open transaction waits until the
/// holder bumps it (`GateHold::bump`), while single-key writes and keyed transactions go on
/// meanwhile.
#[test]
fn a_held_gate_serves_its_threads_transactions_and_holds_off_the_others() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let kv = Kv::in_memory(Options::new().shards(8).databases(2));
    let db = kv.db(0).unwrap();
    let names = keys(16);
    let hold = kv.hold_gate();
    // Open transactions on this thread, one after another, reaching undeclared keys.
    for round in 0..3 {
        kv.transaction(Scope::Open(&[(0, b"k0")]), |tx| {
            let db = tx.db(0)?;
            for k in &names {
                db.incr(k)?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(int(&db, "k15"), round + 1);
    }
    kv.transaction(Scope::Everything, |tx| tx.kv().swapdb(0, 1))
        .unwrap();
    kv.transaction(Scope::Everything, |tx| tx.kv().swapdb(0, 1))
        .unwrap();
    let ran = AtomicBool::new(false);
    std::thread::scope(|s| {
        let other = s.spawn(|| {
            kv.transaction(Scope::Open(&[(0, b"k1")]), |tx| {
                ran.store(true, Ordering::SeqCst);
                tx.db(0)?.incr("k2")
            })
            .unwrap()
        });
        // Everyone else who does not need the gate goes on.
        s.spawn(|| {
            let db = kv.db(0).unwrap();
            db.incr("k3").unwrap();
            let pair = scope_of(0, &names[4..6]);
            db.transaction(Scope::Keys(&pair), |tx| tx.db(0)?.incr("k4"))
                .unwrap();
        })
        .join()
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !ran.load(Ordering::SeqCst),
            "an open transaction ran past a held gate"
        );
        // `bump` hands the gate to the waiting thread, and takes it back once it is done.
        let mut hold = hold;
        let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !ran.load(Ordering::SeqCst) {
            hold.bump();
            assert!(
                std::time::Instant::now() < end,
                "bump never let the waiter in"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(other.join().unwrap(), 4);
        // Still held: this thread's open transactions skip the gate.
        kv.transaction(Scope::Open(&[]), |tx| tx.db(0)?.incr("k2"))
            .unwrap();
        drop(hold);
    });
    assert!(ran.load(Ordering::SeqCst));
    assert_eq!((int(&db, "k3"), int(&db, "k4")), (4, 4));
    // Released: this thread takes the gate per transaction again, and may hold it again.
    kv.transaction(Scope::Open(&[]), |tx| tx.db(0)?.incr("k0"))
        .unwrap();
    drop(kv.hold_gate());
}
