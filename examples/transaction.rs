//! A template for transactions in an embedded store: an atomic transfer between two accounts
//! (no reader ever sees the money in flight), and optimistic check-and-set (watch a key, read
//! it, write it only if nobody changed it meanwhile, retry otherwise) from several threads.
//!
//! Run it with `cargo run -p kvcore --example transaction`.

use std::thread;

use kvcore::{Db, Kv, Options, Scope, Store};

fn balance(db: &Db, account: &str) -> kvcore::Result<i64> {
    Ok(db
        .get(account)?
        .and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok())
        .unwrap_or(0))
}

/// Moves `amount` from one account to another, or nothing if the first has too little.
fn transfer(db: &Db, from: &str, to: &str, amount: i64) -> kvcore::Result<bool> {
    let keys: &[(usize, &[u8])] = &[(db.index(), from.as_bytes()), (db.index(), to.as_bytes())];
    db.transaction(Scope::Keys(keys), |tx| {
        let db = tx.db(db.index())?;
        if balance(&db, from)? < amount {
            return Ok(false);
        }
        db.decrby(from, amount)?;
        db.incrby(to, amount)?;
        Ok(true)
    })
}

/// Doubles the value of `key` with check-and-set: the read happens outside any lock, and the
/// write is made only if the watched key did not change since.
fn double(db: &Db, key: &str) -> kvcore::Result<u32> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let watch = db.watch(&[key]);
        let seen = balance(db, key)?;
        let keys: &[(usize, &[u8])] = &[(db.index(), key.as_bytes())];
        let written = db.transaction(Scope::Keys(keys), |tx| {
            if watch.changed() {
                return Ok(false);
            }
            tx.db(db.index())?.set(key, (seen * 2).to_string())?;
            Ok(true)
        })?;
        if written {
            return Ok(attempts);
        }
    }
}

fn main() -> kvcore::Result<()> {
    let kv = Kv::in_memory(Options::default());
    let db = kv.db(0)?;
    db.set("alice", "100")?;
    db.set("bob", "0")?;

    // Transfers from several threads; the total never changes, whoever looks.
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let db = db.clone();
            thread::spawn(move || {
                for _ in 0..1000 {
                    let (from, to) = if i % 2 == 0 {
                        ("alice", "bob")
                    } else {
                        ("bob", "alice")
                    };
                    transfer(&db, from, to, 7).expect("in memory, nothing fails");
                }
            })
        })
        .collect();
    for _ in 0..1000 {
        // MGET reads both keys at one instant: never between a transfer's two writes.
        let both = db
            .mget(&["alice", "bob"])
            .expect("in memory, nothing fails");
        let total: i64 = both
            .iter()
            .map(|v| {
                v.as_deref()
                    .map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap())
            })
            .sum();
        assert_eq!(total, 100);
    }
    for w in workers {
        w.join().expect("a transfer thread panicked");
    }
    println!(
        "after 4000 transfers: alice {}, bob {} (total 100)",
        balance(&db, "alice")?,
        balance(&db, "bob")?
    );

    // Check-and-set from several threads: each doubling lands exactly once.
    db.set("x", "1")?;
    let doublers: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            thread::spawn(move || (0..5).map(|_| double(&db, "x").unwrap()).sum::<u32>())
        })
        .collect();
    let attempts: u32 = doublers.into_iter().map(|t| t.join().unwrap()).sum();
    println!(
        "x doubled 20 times: {} (2^20), in {attempts} attempts",
        balance(&db, "x")?
    );
    assert_eq!(balance(&db, "x")?, 1 << 20);
    Ok(())
}
