//! Get/set throughput of kvcore against `parking_lot::RwLock<HashMap>` (one lock, and 16
//! shards) and `dashmap`, in the same run: 1M keys of 16 bytes with 100-byte values, mixes of
//! 90% GET / 10% SET and 50/50, on 1 and 2 threads. Every GET copies the value out (as a
//! server reply would); keys are drawn uniformly at random.
//!
//! Run: `cargo bench -p kvcore` (about two minutes); `KV_BENCH_ONLY=kvcore,dashmap` limits
//! the contenders. On a machine shared with other work, `KV_BENCH_CLOCK=cpu` measures each
//! thread's on-CPU time (Linux) instead of wall time and reports the largest: close to the
//! wall time of an idle machine, except that time a thread spends parked on a lock is not
//! counted, which flatters the single-lock map on 2 threads. Criterion reports `thrpt` in elements
//! per second: one element is one operation.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dashmap::DashMap;
use kvcore::{Kv, Options, Store};
use parking_lot::RwLock;

const KEYS: usize = 1_000_000;
const VALUE: [u8; 100] = [b'v'; 100];

fn key(i: usize) -> [u8; 16] {
    let mut k = *b"key:000000000000";
    let digits = format!("{i:012}");
    k[4..].copy_from_slice(digits.as_bytes());
    k
}

/// The operations every contender offers.
trait Map: Sync {
    fn get(&self, k: &[u8]) -> Option<Vec<u8>>;
    fn set(&self, k: &[u8], v: &[u8]);
}

impl Map for kvcore::Db {
    fn get(&self, k: &[u8]) -> Option<Vec<u8>> {
        Store::get(self, k).expect("string values only")
    }
    fn set(&self, k: &[u8], v: &[u8]) {
        Store::set(self, k, v).expect("in-memory set cannot fail");
    }
}

struct Locked(RwLock<HashMap<Vec<u8>, Vec<u8>>>);

impl Map for Locked {
    fn get(&self, k: &[u8]) -> Option<Vec<u8>> {
        self.0.read().get(k).cloned()
    }
    fn set(&self, k: &[u8], v: &[u8]) {
        self.0.write().insert(k.to_vec(), v.to_vec());
    }
}

struct Sharded {
    hasher: RandomState,
    shards: Vec<RwLock<HashMap<Vec<u8>, Vec<u8>>>>,
}

impl Sharded {
    fn shard(&self, k: &[u8]) -> &RwLock<HashMap<Vec<u8>, Vec<u8>>> {
        &self.shards[self.hasher.hash_one(k) as usize % self.shards.len()]
    }
}

impl Map for Sharded {
    fn get(&self, k: &[u8]) -> Option<Vec<u8>> {
        self.shard(k).read().get(k).cloned()
    }
    fn set(&self, k: &[u8], v: &[u8]) {
        self.shard(k).write().insert(k.to_vec(), v.to_vec());
    }
}

struct Dash(DashMap<Vec<u8>, Vec<u8>>);

impl Map for Dash {
    fn get(&self, k: &[u8]) -> Option<Vec<u8>> {
        self.0.get(k).map(|v| v.clone())
    }
    fn set(&self, k: &[u8], v: &[u8]) {
        self.0.insert(k.to_vec(), v.to_vec());
    }
}

/// Makes an empty contender.
type Builder = fn() -> Box<dyn Map>;

/// On-CPU time of the calling thread (Linux `/proc/thread-self/schedstat`, first field).
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

/// Whether to report on-CPU time instead of wall time (`KV_BENCH_CLOCK=cpu`).
fn cpu_clock() -> bool {
    std::env::var("KV_BENCH_CLOCK").is_ok_and(|v| v == "cpu")
}

/// Runs `iters` operations split over `threads` threads; returns the wall time, or with
/// `KV_BENCH_CLOCK=cpu` the largest per-thread on-CPU time.
fn run(map: &dyn Map, keys: &[[u8; 16]], threads: usize, get_pct: u64, iters: u64) -> Duration {
    let per_thread = iters.div_ceil(threads as u64);
    let barrier = Barrier::new(threads + 1);
    let cpu = cpu_clock();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut x = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(t as u64 + 1) | 1;
                    barrier.wait();
                    let start = thread_cpu();
                    for _ in 0..per_thread {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let k = &keys[(x >> 20) as usize % keys.len()];
                        if x % 100 < get_pct {
                            black_box(map.get(k));
                        } else {
                            map.set(k, &VALUE);
                        }
                    }
                    let end = thread_cpu();
                    barrier.wait();
                    start.zip(end).map(|(a, b)| b.saturating_sub(a))
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        let wall = start.elapsed();
        let cpu_times: Vec<_> = workers
            .into_iter()
            .map(|w| w.join().expect("benchmark thread panicked"))
            .collect();
        match cpu_times.into_iter().collect::<Option<Vec<_>>>() {
            Some(times) if cpu => times.into_iter().max().unwrap_or(wall),
            _ => wall,
        }
    })
}

fn contenders(c: &mut Criterion) {
    let keys: Vec<[u8; 16]> = (0..KEYS).map(key).collect();
    let builders: [(&str, Builder); 4] = [
        ("kvcore", || {
            Box::new(
                Kv::in_memory(Options::default())
                    .db(0)
                    .expect("db 0 exists"),
            )
        }),
        ("rwlock_hashmap", || {
            Box::new(Locked(RwLock::new(HashMap::new())))
        }),
        ("rwlock_hashmap_16_shards", || {
            let shards = (0..16).map(|_| RwLock::new(HashMap::new())).collect();
            Box::new(Sharded {
                hasher: RandomState::new(),
                shards,
            })
        }),
        ("dashmap", || Box::new(Dash(DashMap::new()))),
    ];
    // All contenders stay loaded (about 1 GB) so that each workload measures them back to
    // back: on a shared machine, load drifts less between neighbours than between groups.
    // KV_BENCH_ONLY=kvcore,dashmap limits the run to those contenders.
    let only = std::env::var("KV_BENCH_ONLY").ok();
    let maps: Vec<(&str, Box<dyn Map>)> = builders
        .into_iter()
        .filter(|(name, _)| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|n| n == *name))
        })
        .map(|(name, build)| {
            let map = build();
            for k in &keys {
                map.set(k, &VALUE);
            }
            (name, map)
        })
        .collect();
    for (mix, get_pct) in [("get90_set10", 90), ("get50_set50", 50)] {
        for threads in [1, 2] {
            let mut group = c.benchmark_group(format!("{mix}/{threads}t"));
            group.throughput(Throughput::Elements(1));
            for (name, map) in &maps {
                group.bench_function(*name, |b| {
                    b.iter_custom(|iters| run(&**map, &keys, threads, get_pct, iters))
                });
            }
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = contenders
}
criterion_main!(benches);
