//! Container operations through the public API on large values: what one command costs when
//! the list, hash, set or sorted set already holds 100k elements (15-byte members).
//!
//! Run: `cargo bench -p kvcore --bench types` (under a minute). Criterion reports the time per
//! operation; `thrpt` is operations per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kvcore::{
    Db, End, HashStore, Kv, ListStore, Options, ScoreRange, SetStore, ZAddFlags, ZRange, ZRangeBy,
    ZSetStore,
};

const N: usize = 100_000;

fn member(i: usize) -> Vec<u8> {
    format!("member:{i:08}").into_bytes()
}

/// A cheap deterministic scramble so scores and lookups are not sequential.
fn scramble(i: usize) -> usize {
    i.wrapping_mul(0x9e37_79b9) % 1_000_003
}

fn loaded() -> Db {
    let db = Kv::in_memory(Options::default()).db(0).unwrap();
    let members: Vec<Vec<u8>> = (0..N).map(member).collect();
    for chunk in members.chunks(1000) {
        db.push("list", End::Right, chunk).unwrap();
        db.sadd("set", chunk).unwrap();
        let pairs: Vec<(&Vec<u8>, &str)> = chunk.iter().map(|m| (m, "value")).collect();
        db.hset("hash", &pairs).unwrap();
    }
    let pairs: Vec<(f64, &Vec<u8>)> = members
        .iter()
        .enumerate()
        .map(|(i, m)| (scramble(i) as f64, m))
        .collect();
    db.zadd("zset", &pairs, &ZAddFlags::default()).unwrap();
    db
}

fn bench(c: &mut Criterion) {
    let db = loaded();
    let mut g = c.benchmark_group("types_100k");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20)
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(300));
    let mut i = 0usize;
    let mut next = || {
        i = i.wrapping_add(1);
        member(scramble(i) % N)
    };
    g.bench_function("lpush+rpop", |b| {
        b.iter(|| {
            db.push("list", End::Left, &[b"member:xxxxxxxx"]).unwrap();
            black_box(db.pop("list", End::Right).unwrap())
        })
    });
    g.bench_function("lindex middle", |b| {
        b.iter(|| black_box(db.lindex("list", (N / 2) as i64).unwrap()))
    });
    g.bench_function("lrange 100", |b| {
        b.iter(|| black_box(db.lrange("list", 5000, 5099).unwrap()))
    });
    g.bench_function("hset existing", |b| {
        b.iter(|| db.hset("hash", &[(next(), "other")]).unwrap())
    });
    g.bench_function("hget", |b| {
        b.iter(|| black_box(db.hget("hash", next()).unwrap()))
    });
    g.bench_function("sadd existing", |b| {
        b.iter(|| db.sadd("set", &[next()]).unwrap())
    });
    g.bench_function("sismember", |b| {
        b.iter(|| black_box(db.sismember("set", next()).unwrap()))
    });
    g.bench_function("zadd update", |b| {
        b.iter(|| {
            let m = next();
            let s = scramble(m.len() + m[14] as usize * 31 + m[13] as usize) as f64;
            db.zadd("zset", &[(s, m)], &ZAddFlags::default()).unwrap()
        })
    });
    g.bench_function("zscore", |b| {
        b.iter(|| black_box(db.zscore("zset", next()).unwrap()))
    });
    g.bench_function("zrank", |b| {
        b.iter(|| black_box(db.zrank("zset", next(), false).unwrap()))
    });
    let window = ZRange::new(ZRangeBy::Score(ScoreRange::inclusive(
        500_000.0,
        f64::INFINITY,
    )))
    .limit(0, 10);
    g.bench_function("zrangebyscore limit 10", |b| {
        b.iter(|| black_box(db.zrange("zset", &window).unwrap()))
    });
    g.finish();
    let mut g = c.benchmark_group("types_100k_whole");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    g.bench_function("hgetall", |b| {
        b.iter(|| black_box(db.hgetall("hash").unwrap()))
    });
    g.bench_function("smembers", |b| {
        b.iter(|| black_box(db.smembers("set").unwrap()))
    });
    g.bench_function("lrange all", |b| {
        b.iter(|| black_box(db.lrange("list", 0, -1).unwrap()))
    });
    g.bench_function("zrange all", |b| {
        b.iter(|| {
            black_box(
                db.zrange("zset", &ZRange::new(ZRangeBy::Rank(0, -1)))
                    .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
