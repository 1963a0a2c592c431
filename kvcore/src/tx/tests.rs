//! Optimistic transactions (`Scope::Optimistic`): they run side by side, wait only when they
//! can take the order gate, and are undone, leaving nothing in memory or in the log, when
//! they cannot.

use std::sync::mpsc;
use std::time::Duration;

use super::*;
use crate::{End, ExpireCondition, ListStore, Options, Store, Ttl};

/// How long a test waits for another thread before it calls the run a failure (a hang
/// would otherwise stall the suite; nothing here measures speed).
const PATIENCE: Duration = Duration::from_secs(30);

/// `n` key names whose shards differ from each other and from `avoid`'s.
fn keys_apart(kv: &Kv, n: usize, avoid: &[&str]) -> Vec<String> {
    let shard = |k: &str| kv.inner.shard_of(kv.inner.hash(k.as_bytes()));
    let mut taken: Vec<usize> = avoid.iter().map(|k| shard(k)).collect();
    let mut keys = Vec::new();
    for i in 0.. {
        if keys.len() == n {
            break;
        }
        let k = format!("key{i}");
        if !taken.contains(&shard(&k)) {
            taken.push(shard(&k));
            keys.push(k);
        }
    }
    keys
}

fn str_of(db: &crate::Db, key: &str) -> Option<String> {
    db.get(key).unwrap().map(|v| String::from_utf8(v).unwrap())
}

#[test]
fn optimistic_transactions_on_other_shards_run_while_one_is_open() {
    let kv = Kv::in_memory(Options::new().shards(64));
    let keys = keys_apart(&kv, 9, &[]);
    let (first, others) = keys.split_first().unwrap();
    let (inside_tx, inside_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<String>();
    std::thread::scope(|s| {
        let kv1 = kv.clone();
        let holder = s.spawn(move || {
            let declared: &[(usize, &[u8])] = &[(0, first.as_bytes())];
            kv1.transaction(Scope::Optimistic(declared), |tx| {
                tx.db(0)?.incr(first)?;
                inside_tx.send(()).unwrap();
                // An open transaction would hold the order gate here, and every other
                // one would wait for it: these must finish while this one is open.
                Ok(done_rx.recv_timeout(PATIENCE))
            })
            .unwrap()
        });
        inside_rx.recv_timeout(PATIENCE).unwrap();
        for k in others {
            let (kv, done) = (kv.clone(), done_tx.clone());
            s.spawn(move || {
                let declared: &[(usize, &[u8])] = &[(0, k.as_bytes())];
                kv.transaction(Scope::Optimistic(declared), |tx| tx.db(0)?.incr(k))
                    .unwrap();
                let _ = done.send(k.clone());
            });
        }
        let finished = holder.join().unwrap();
        assert!(
            finished.is_ok(),
            "no other optimistic transaction ran while the first was open"
        );
    });
    let db = kv.db(0).unwrap();
    for k in &keys {
        assert_eq!(str_of(&db, k).as_deref(), Some("1"), "{k}");
    }
}

/// Holds `key`'s shard (in a keyed transaction on another thread) and, if `gate`, the order
/// gate (on a third), until the returned sender is dropped or sent to.
fn hold_others<'s>(
    s: &'s std::thread::Scope<'s, '_>,
    kv: &'s Kv,
    key: &'s str,
    gate: bool,
) -> Vec<mpsc::Sender<()>> {
    let mut releases = Vec::new();
    let (held_tx, held_rx) = mpsc::channel();
    let (release, wait) = mpsc::channel::<()>();
    let held = held_tx.clone();
    s.spawn(move || {
        let declared: &[(usize, &[u8])] = &[(0, key.as_bytes())];
        kv.transaction(Scope::Keys(declared), |_| {
            held.send(()).unwrap();
            let _ = wait.recv();
            Ok(())
        })
        .unwrap();
    });
    releases.push(release);
    if gate {
        let (release, wait) = mpsc::channel::<()>();
        let held = held_tx.clone();
        s.spawn(move || {
            let _gate = kv.hold_gate();
            held.send(()).unwrap();
            let _ = wait.recv();
        });
        releases.push(release);
    }
    for _ in 0..releases.len() {
        held_rx.recv_timeout(PATIENCE).unwrap();
    }
    releases
}

/// Runs `f` while another thread holds the store's order gate.
fn with_gate_taken<R>(kv: &Kv, f: impl FnOnce() -> R) -> R {
    std::thread::scope(|s| {
        let (held_tx, held_rx) = mpsc::channel();
        let (release, wait) = mpsc::channel::<()>();
        s.spawn(move || {
            let _gate = kv.hold_gate();
            held_tx.send(()).unwrap();
            let _ = wait.recv();
        });
        held_rx.recv_timeout(PATIENCE).unwrap();
        let r = f();
        drop(release);
        r
    })
}

/// Runs the writes the undo tests check, then reaches `x` (undeclared).
fn write_then_reach(kv: &Kv, k: &[String], x: &str) -> (Result<()>, bool, Option<Vec<u8>>) {
    let declared: Vec<(usize, &[u8])> = k.iter().map(|s| (0, s.as_bytes())).collect();
    let mut doomed = false;
    let mut seen = None;
    let r = kv.transaction(Scope::Optimistic(&declared), |tx| {
        let db = tx.db(0)?;
        db.set(&k[0], "changed")?;
        db.push(&k[1], End::Right, &["z"])?;
        db.del(&[&k[2]])?;
        db.set(&k[3], "created")?;
        db.set(&k[4], "no ttl now")?;
        assert!(!tx.kv().tx_doomed());
        seen = db.get(x)?;
        doomed = tx.kv().tx_doomed();
        db.set(x, "into a stand-in")?;
        db.set(&k[0], "changed twice")?;
        Ok(())
    });
    (r, doomed, seen)
}

fn prepare(kv: &Kv, k: &[String]) {
    let db = kv.db(0).unwrap();
    db.set(&k[0], "1").unwrap();
    db.push(&k[1], End::Right, &["x", "y"]).unwrap();
    db.set(&k[2], "keep").unwrap();
    db.set(&k[4], "volatile").unwrap();
    db.pexpire(&k[4], 1_000_000, ExpireCondition::None).unwrap();
}

fn assert_untouched(kv: &Kv, k: &[String]) {
    let db = kv.db(0).unwrap();
    assert_eq!(str_of(&db, &k[0]).as_deref(), Some("1"));
    assert_eq!(
        db.lrange(&k[1], 0, -1).unwrap(),
        [b"x".to_vec(), b"y".to_vec()]
    );
    assert_eq!(str_of(&db, &k[2]).as_deref(), Some("keep"));
    assert_eq!(str_of(&db, &k[3]), None);
    assert_eq!(str_of(&db, &k[4]).as_deref(), Some("volatile"));
    assert!(matches!(db.pttl(&k[4]).unwrap(), Ttl::ExpiresIn(_)));
}

#[test]
fn a_transaction_that_cannot_wait_is_undone_in_memory_and_in_the_log() {
    let dir = std::env::temp_dir().join(format!("kv-tx-undo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let persist = || crate::PersistOptions::new().sync(crate::SyncMode::Always);
    let k;
    {
        let kv = Kv::open(&dir, Options::new().shards(16), persist()).unwrap();
        k = keys_apart(&kv, 6, &[]);
        let x = k[5].clone();
        prepare(&kv, &k);
        let (r, doomed, seen) = std::thread::scope(|s| {
            // Another client holds `x`'s shard and a third the gate: waiting for `x` could
            // deadlock, so the transaction gives up.
            let releases = hold_others(s, &kv, &x, true);
            let out = write_then_reach(&kv, &k[..5], &x);
            drop(releases);
            out
        });
        assert!(matches!(r, Err(Error::Conflict)), "{r:?}");
        assert!(doomed, "reaching a held shard without the gate dooms it");
        assert_eq!(seen, None, "a shard it could not lock reads as empty");
        assert_untouched(&kv, &k);
        assert_eq!(str_of(&kv.db(0).unwrap(), &x), None);
        // Run again as an open transaction, it goes through.
        let declared: Vec<(usize, &[u8])> = k[..5].iter().map(|s| (0, s.as_bytes())).collect();
        kv.transaction(Scope::Open(&declared), |tx| tx.db(0)?.incr("after"))
            .unwrap();
    }
    // Nothing of the undone transaction was logged.
    let kv = Kv::open(&dir, Options::new().shards(16), persist()).unwrap();
    assert_untouched(&kv, &k);
    assert_eq!(str_of(&kv.db(0).unwrap(), &k[5]), None);
    assert_eq!(str_of(&kv.db(0).unwrap(), "after").as_deref(), Some("1"));
    drop(kv);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_transaction_that_can_take_the_gate_waits_and_is_kept() {
    let kv = Kv::in_memory(Options::new().shards(16));
    let k = keys_apart(&kv, 6, &[]);
    let x = k[5].clone();
    prepare(&kv, &k);
    let (r, doomed, seen) = std::thread::scope(|s| {
        let releases = hold_others(s, &kv, &x, false);
        // The holder of `x` lets go a little later; the transaction waits for it (holding
        // the gate) instead of giving up. Whether it reaches `x` before or after, it is
        // never doomed.
        s.spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(releases);
        });
        write_then_reach(&kv, &k[..5], &x)
    });
    r.unwrap();
    assert!(!doomed);
    assert_eq!(seen, None);
    let db = kv.db(0).unwrap();
    assert_eq!(str_of(&db, &k[0]).as_deref(), Some("changed twice"));
    assert_eq!(db.llen(&k[1]).unwrap(), 3);
    assert_eq!(str_of(&db, &k[2]), None);
    assert_eq!(str_of(&db, &k[3]).as_deref(), Some("created"));
    assert_eq!(db.pttl(&k[4]).unwrap(), Ttl::Persistent);
    assert_eq!(str_of(&db, &x).as_deref(), Some("into a stand-in"));
}

#[test]
fn pinning_takes_the_gate_or_dooms_before_anything_is_done() {
    let kv = Kv::in_memory(Options::new().shards(16));
    let k = keys_apart(&kv, 2, &[]);
    let declared: Vec<(usize, &[u8])> = k.iter().map(|s| (0, s.as_bytes())).collect();
    // Gate free: pinned, and the undo record is dropped (it can no longer be undone).
    let pinned = kv
        .transaction(Scope::Optimistic(&declared), |tx| {
            tx.db(0)?.set(&k[0], "a")?;
            let pinned = tx.kv().tx_pin();
            let locks = tx.kv().tx_locks().unwrap();
            assert!(locks.logged.undo.borrow().is_none());
            assert!(locks.logged.promoted.borrow().is_some());
            Ok(pinned)
        })
        .unwrap();
    assert!(pinned);
    // Gate taken by another thread: doomed, and undone.
    let r = with_gate_taken(&kv, || {
        kv.transaction(Scope::Optimistic(&declared), |tx| {
            tx.db(0)?.set(&k[1], "b")?;
            assert!(!tx.kv().tx_pin());
            assert!(tx.kv().tx_doomed());
            // A whole-keyspace write is refused the same way.
            assert!(matches!(tx.db(0)?.flushdb(), Err(Error::Conflict)));
            Ok(())
        })
    });
    assert!(matches!(r, Err(Error::Conflict)));
    let db = kv.db(0).unwrap();
    assert_eq!(str_of(&db, &k[0]).as_deref(), Some("a"));
    assert_eq!(str_of(&db, &k[1]), None);
}

#[test]
fn a_large_value_is_not_copied_when_the_gate_is_free() {
    let kv = Kv::in_memory(Options::new().shards(16));
    let k = keys_apart(&kv, 2, &[]);
    let db = kv.db(0).unwrap();
    let big: Vec<String> = (0..20_000).map(|i| format!("element-{i}")).collect();
    db.push(&k[0], End::Right, &big).unwrap();
    db.set(&k[1], "small").unwrap();
    let declared: Vec<(usize, &[u8])> = k.iter().map(|s| (0, s.as_bytes())).collect();
    kv.transaction(Scope::Optimistic(&declared), |tx| {
        let db = tx.db(0)?;
        db.set(&k[1], "changed")?;
        let locks = tx.kv().tx_locks().unwrap();
        assert_eq!(locks.logged.undo.borrow().as_ref().unwrap().saved.len(), 1);
        db.push(&k[0], End::Right, &["one more"])?;
        // The list was not copied: the transaction took the gate instead.
        assert!(locks.logged.undo.borrow().is_none());
        assert!(locks.logged.promoted.borrow().is_some());
        Ok(())
    })
    .unwrap();
    assert_eq!(db.llen(&k[0]).unwrap(), 20_001);
    // The gate was released when the transaction ended.
    drop(kv.hold_gate());
}

#[test]
fn optimistic_runs_as_open_when_changes_are_seen_outside_the_store() {
    let kv = Kv::in_memory(Options::new().shards(16));
    assert!(kv.optimistic_possible());
    let db = kv.db(0).unwrap();
    let watch = db.watch(&["w"]);
    assert!(!kv.optimistic_possible());
    kv.transaction(Scope::Optimistic(&[(0, b"w")]), |tx| {
        assert!(tx.kv().tx_locks().unwrap().optimistic.is_none());
        tx.db(0)?.set("w", "1")
    })
    .unwrap();
    assert!(watch.changed());
    drop(watch);
    assert!(kv.optimistic_possible());
}

#[test]
fn many_changed_keys_are_saved_once_each_and_all_put_back() {
    let kv = Kv::in_memory(Options::new().shards(64));
    let x = keys_apart(&kv, 1, &[])[0].clone();
    let shard = |k: &str| kv.inner.shard_of(kv.inner.hash(k.as_bytes()));
    // Twenty keys, none in `x`'s shard, declared; each changed three times.
    let names: Vec<String> = (0..)
        .map(|i| format!("many{i}"))
        .filter(|k| shard(k) != shard(&x))
        .take(20)
        .collect();
    let db = kv.db(0).unwrap();
    for (i, k) in names.iter().enumerate().step_by(2) {
        db.set(k, i.to_string()).unwrap();
    }
    let declared: Vec<(usize, &[u8])> = names.iter().map(|k| (0, k.as_bytes())).collect();
    let r = std::thread::scope(|s| {
        let releases = hold_others(s, &kv, &x, true);
        let r = kv.transaction(Scope::Optimistic(&declared), |tx| {
            let db = tx.db(0)?;
            for _ in 0..3 {
                for k in &names {
                    db.incr(k)?;
                }
            }
            let locks = tx.kv().tx_locks().unwrap();
            assert_eq!(locks.logged.undo.borrow().as_ref().unwrap().saved.len(), 20);
            db.get(&x)?;
            Ok(())
        });
        drop(releases);
        r
    });
    assert!(matches!(r, Err(Error::Conflict)));
    for (i, k) in names.iter().enumerate() {
        let want = (i % 2 == 0).then(|| i.to_string());
        assert_eq!(str_of(&db, k), want, "{k}");
    }
}

#[test]
fn middling_values_stop_being_copied_once_their_sum_passes_the_limit() {
    let kv = Kv::in_memory(Options::new().shards(16));
    let k = keys_apart(&kv, 6, &[]);
    let db = kv.db(0).unwrap();
    let middling = "x".repeat(20 * 1024);
    for key in &k {
        db.set(key, &middling).unwrap();
    }
    let declared: Vec<(usize, &[u8])> = k.iter().map(|s| (0, s.as_bytes())).collect();
    kv.transaction(Scope::Optimistic(&declared), |tx| {
        let db = tx.db(0)?;
        let locks = tx.kv().tx_locks().unwrap();
        for (i, key) in k.iter().enumerate() {
            db.append(key, "!")?;
            // Three 20 KiB copies fit in 64 KiB; the fourth would not: the gate instead.
            assert_eq!(locks.logged.undo.borrow().is_some(), i < 3, "after key {i}");
        }
        assert!(locks.logged.promoted.borrow().is_some());
        Ok(())
    })
    .unwrap();
    assert_eq!(db.strlen(&k[5]).unwrap(), 20 * 1024 + 1);
}

#[test]
fn a_publish_pins_the_transaction_or_sends_nothing() {
    let kv = Kv::in_memory(Options::new().shards(16));
    let sub = kv.subscribe(["news"]);
    let k = keys_apart(&kv, 1, &[]);
    let declared: Vec<(usize, &[u8])> = vec![(0, k[0].as_bytes())];
    // Gate free: the message goes out, and the transaction can no longer be undone.
    kv.transaction(Scope::Optimistic(&declared), |tx| {
        tx.db(0)?.set(&k[0], "1")?;
        assert_eq!(tx.kv().publish("news", "sent"), 1);
        assert!(tx.kv().tx_locks().unwrap().logged.undo.borrow().is_none());
        Ok(())
    })
    .unwrap();
    let m = sub.recv_timeout(PATIENCE).unwrap().expect("the message");
    assert_eq!(m.payload(), b"sent");
    // Gate taken: nothing is sent, and the transaction is doomed and undone.
    let r = with_gate_taken(&kv, || {
        kv.transaction(Scope::Optimistic(&declared), |tx| {
            tx.db(0)?.set(&k[0], "2")?;
            assert_eq!(tx.kv().publish("news", "never"), 0);
            assert!(tx.kv().tx_doomed());
            Ok(())
        })
    });
    assert!(matches!(r, Err(Error::Conflict)));
    assert_eq!(sub.try_recv().unwrap(), None);
    assert_eq!(str_of(&kv.db(0).unwrap(), &k[0]).as_deref(), Some("1"));
}

/// A transaction's commands see the time it started at: a key whose deadline passes while it
/// runs is still there for all of them, with its TTL as at the start, and expires for
/// the next reader (Redis: a key cannot expire in the middle of a script or an EXEC).
#[test]
fn a_transaction_sees_the_time_it_started_at() {
    let clock = crate::ManualClock::new(1_000_000);
    let kv = Kv::in_memory(Options::default().clock(std::sync::Arc::new(clock.clone())));
    let db = kv.db(0).unwrap();
    db.set("soon", "v").unwrap();
    db.pexpire("soon", 100, ExpireCondition::None).unwrap();
    let declared: [(usize, &[u8]); 2] = [(0, b"soon"), (0, b"late")];
    for scope in [
        Scope::Keys(&declared),
        Scope::Optimistic(&declared),
        Scope::Open(&[]),
    ] {
        let seen = kv
            .transaction(scope, |tx| {
                let db = tx.db(0)?;
                let before = (db.get("soon")?, db.pttl("soon")?);
                clock.advance(1_000);
                let after = (db.get("soon")?, db.pttl("soon")?);
                db.set("late", "x")?;
                db.pexpire("late", 50, ExpireCondition::None)?;
                Ok((before, after, db.pttl("late")?, kv.now_ms()))
            })
            .unwrap();
        let alive = (
            Some(b"v".to_vec()),
            Ttl::ExpiresIn(Duration::from_millis(100)),
        );
        let late = Ttl::ExpiresIn(Duration::from_millis(50));
        assert_eq!(seen, (alive.clone(), alive, late, 1_000_000));
        // Once it ended, this thread reads the clock again.
        assert_eq!(kv.now_ms(), 1_001_000);
        clock.set(1_000_000);
    }
    clock.set(1_000_000 + 100);
    assert_eq!(db.get("soon").unwrap(), None);
}
