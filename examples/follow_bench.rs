//! Measures an in-process follower (numbers for docs/benchmarks.md; nothing is asserted): the
//! full sync of 1M keys (16-byte keys, 100-byte values) to a serving follower, SET throughput
//! on the primary from two threads without a backlog and with a follower attached (and how
//! long the follower takes to catch up once they stop), and a `StreamApplier` alone applying a
//! stream of 1M SETs it is handed in 64 KiB pieces.
//!
//! Run: `cargo run --release -p kvcore --example follow_bench`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kvcore::{Follower, Kv, Options, Store, StreamApplier};

const KEYS: u64 = 1_000_000;

fn key(i: u64) -> [u8; 16] {
    let mut k = *b"key:000000000000";
    k[4..].copy_from_slice(format!("{i:012}").as_bytes());
    k
}

/// SETs from `threads` threads for `secs`; returns how many.
fn write_load(kv: &Kv, threads: u64, secs: f64) -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (db, stop, done) = (kv.db(0).unwrap(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                let value = [b'w'; 100];
                let mut i = t * 1_000_000_000;
                while !stop.load(Ordering::Relaxed) {
                    db.set(key(i % 2_000_000 + t * 2_000_000), value).unwrap();
                    i += 1;
                }
                done.fetch_add(i - t * 1_000_000_000, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    done.load(Ordering::Relaxed)
}

fn main() {
    let value = [b'v'; 100];

    // Full sync of 1M keys.
    let primary = Kv::in_memory(Options::new());
    let db = primary.db(0).unwrap();
    for i in 0..KEYS {
        db.set(key(i), value).unwrap();
    }
    let replica = Kv::in_memory(Options::new());
    let started = Instant::now();
    let follower = Follower::start(&primary.replication(), &replica).unwrap();
    let sync = started.elapsed();
    assert_eq!(replica.db(0).unwrap().dbsize().unwrap(), KEYS);
    println!(
        "full sync of {KEYS} keys to a serving follower: {:.2} s",
        sync.as_secs_f64()
    );

    // Its two halves, by hand: the primary writes the RDB, the follower loads it.
    let started = Instant::now();
    let mut full = primary.replication().full_sync();
    let mut rdb = Vec::new();
    full.write_rdb(&mut rdb).unwrap();
    drop(full);
    let written = started.elapsed();
    let other = Kv::in_memory(Options::new());
    other.set_passive_expiry(true);
    let started = Instant::now();
    other.load_rdb(&rdb[..]).unwrap();
    println!(
        "  of which: RDB ({} MiB) written in {:.2} s, loaded in {:.2} s",
        rdb.len() >> 20,
        written.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    drop((other, rdb));

    // Writes with a follower attached, and the catch-up after them.
    let secs = 3.0;
    let plain = Kv::in_memory(Options::new());
    let n = write_load(&plain, 2, secs);
    println!("SET, 2 threads, no backlog: {:.0} ops/s", n as f64 / secs);
    let n = write_load(&primary, 2, secs);
    let stopped = Instant::now();
    let target = primary.replication().offset();
    assert!(follower.wait_for(target, Duration::from_secs(600)).unwrap());
    println!(
        "SET, 2 threads, follower attached: {:.0} ops/s; caught up {:.3} s after the writers stopped",
        n as f64 / secs,
        stopped.elapsed().as_secs_f64()
    );
    drop(follower);

    // The applier alone: 1M SETs of a captured stream, in 64 KiB pieces.
    let source = Kv::in_memory(Options::new());
    let repl = source.replication();
    repl.set_backlog_size(512 << 20);
    repl.enable();
    let mut reader = repl.reader(repl.offset() + 1).unwrap();
    let db = source.db(0).unwrap();
    for i in 0..KEYS {
        db.set(key(i), value).unwrap();
    }
    let mut stream = Vec::new();
    while reader.read(&mut stream, 64 << 20, Duration::ZERO).unwrap() > 0 {}
    let target = Kv::in_memory(Options::new());
    target.set_passive_expiry(true);
    let mut applier = StreamApplier::new(target.clone(), 0);
    let started = Instant::now();
    for piece in stream.chunks(64 << 10) {
        applier.apply(piece).unwrap();
    }
    let took = started.elapsed().as_secs_f64();
    assert_eq!(target.db(0).unwrap().dbsize().unwrap(), KEYS);
    println!(
        "StreamApplier: {KEYS} SETs ({} MiB of stream) in {took:.2} s: {:.0} commands/s",
        stream.len() >> 20,
        KEYS as f64 / took
    );
}
