//! Measures the durability costs of a persistent store (numbers for the README; nothing is
//! asserted): SET throughput with `--sync always` (group commit) and `everysec` for several
//! writer counts (`everysec` both with the mapped log and with `pwrite`), recovery time for 1M keys (16-byte keys, 100-byte values) from the log alone
//! and from a snapshot, and what taking the snapshot costs.
//!
//! Run: `cargo run --release -p kvcore --example persist_bench [DIR]` (DIR defaults to a
//! directory under the system temp dir; it is removed afterwards).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kvcore::{Kv, Options, PersistOptions, Store, SyncMode};

fn key(i: u64) -> [u8; 16] {
    let mut k = *b"key:000000000000";
    let digits = format!("{i:012}");
    k[4..].copy_from_slice(digits.as_bytes());
    k
}

fn throughput(dir: &Path, sync: SyncMode, mapped: bool, threads: usize, secs: f64) {
    let _ = std::fs::remove_dir_all(dir);
    let persist = PersistOptions::new()
        .sync(sync)
        .save_rules(&[])
        .wal_mapped(mapped);
    let kv = Kv::open(dir, Options::new(), persist).unwrap();
    let task = kv.start_persistence();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let value = [b'v'; 100];
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (db, stop, done) = (kv.db(0).unwrap(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                let mut i = t as u64 * 1_000_000_000;
                while !stop.load(Ordering::Relaxed) {
                    db.set(key(i), value).unwrap();
                    i += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let info = kv.persistence().unwrap();
    let per_sync = match sync {
        SyncMode::Always => format!(
            ", {:.2} writes per fdatasync",
            n as f64 / info.log_syncs.max(1) as f64
        ),
        _ => String::new(),
    };
    let how = match (sync, mapped) {
        (SyncMode::Always, _) => "",
        (_, true) => " (mapped)",
        (_, false) => " (pwrite)",
    };
    println!(
        "sync={:<8} writers={threads:>3}: {:>9.0} SET/s{per_sync}{how}",
        sync.as_str(),
        n as f64 / elapsed
    );
    task.stop();
}

fn recovery(dir: &Path, keys: u64) {
    let _ = std::fs::remove_dir_all(dir);
    let value = [b'v'; 100];
    {
        let persist = PersistOptions::new().sync(SyncMode::No).save_rules(&[]);
        let kv = Kv::open(dir, Options::new(), persist).unwrap();
        let started = Instant::now();
        let threads = 4;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let db = kv.db(0).unwrap();
                std::thread::spawn(move || {
                    for i in (t..keys).step_by(threads as usize) {
                        db.set(key(i), value).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        println!(
            "loaded {keys} keys with sync=no in {:.2}s",
            started.elapsed().as_secs_f64()
        );
    }
    let started = Instant::now();
    let kv = Kv::open(dir, Options::new(), PersistOptions::new()).unwrap();
    let log_only = started.elapsed().as_secs_f64();
    assert_eq!(kv.db(0).unwrap().dbsize().unwrap(), keys);
    println!(
        "recovery from the log alone: {log_only:.2}s ({:.0} records/s)",
        keys as f64 / log_only
    );
    let info = kv.save().unwrap();
    println!(
        "snapshot: {:.2}s, {} keys, {:.1} MiB, writers held {} us at the start, extra memory {:.2} MiB (largest shard dump)",
        info.millis as f64 / 1000.0,
        info.keys,
        info.bytes as f64 / (1 << 20) as f64,
        info.barrier_micros,
        info.peak_dump_bytes as f64 / (1 << 20) as f64
    );
    // A second snapshot lets the log covered by the first one go (two are kept).
    kv.db(0).unwrap().set("one-more", "x").unwrap();
    kv.save().unwrap();
    drop(kv);
    let started = Instant::now();
    let kv = Kv::open(dir, Options::new(), PersistOptions::new()).unwrap();
    let from_snapshot = started.elapsed().as_secs_f64();
    assert_eq!(kv.db(0).unwrap().dbsize().unwrap(), keys + 1);
    println!(
        "recovery from the snapshot: {from_snapshot:.2}s ({:.0} keys/s)",
        keys as f64 / from_snapshot
    );
}

fn main() {
    let dir: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("kv-persist-bench-{}", std::process::id()))
        });
    for threads in [1, 8, 50] {
        throughput(&dir, SyncMode::Always, true, threads, 2.0);
    }
    for threads in [1, 8, 50] {
        for mapped in [true, false] {
            throughput(&dir, SyncMode::EverySec, mapped, threads, 2.0);
        }
    }
    recovery(&dir, 1_000_000);
    let _ = std::fs::remove_dir_all(&dir);
}
