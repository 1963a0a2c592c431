//! Every container command's journaled effect replays to the same value: random list, hash,
//! set and sorted-set commands (single-key, derived and multi-key forms) on a persistent store,
//! then a restart, from the log alone and from a snapshot plus the log.

use std::sync::Arc;

use kvcore::{
    Aggregate, Db, End, GroupStart, HashStore, KeyType, Kv, ListStore, ManualClock, Options,
    PersistOptions, ReadGroup, ScoreRange, SetOp, SetStore, Store, StreamId, StreamStore, SyncMode,
    XAddId, XAddOptions, XClaimOptions, XSetIdOptions, XTrim, ZAddFlags, ZOp, ZRange, ZRangeBy,
    ZSetStore,
};

use crate::{T0, TempDir, b};

fn open(dir: &TempDir) -> Kv {
    let opts = Options::new()
        .shards(4)
        .clock(Arc::new(ManualClock::new(T0)));
    Kv::open(&dir.0, opts, PersistOptions::new().sync(SyncMode::No)).unwrap()
}

/// xorshift64*: the test's own deterministic randomness.
struct Rand(u64);

impl Rand {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next(items.len() as u64) as usize]
    }
}

/// One random command; errors (WRONGTYPE after a type change) are part of the workload.
fn step(db: &Db, r: &mut Rand) {
    let v = ["a", "b", "c", "1", "2", "10", "-3"];
    let long = "x".repeat(80); // pushes hashes, sets and sorted sets out of the packed form
    let member = if r.next(20) == 0 {
        long.as_str()
    } else {
        r.pick(&v)
    };
    let (l, s, z) = (
        r.pick(&["l1", "l2"]),
        r.pick(&["s1", "s2"]),
        r.pick(&["z1", "z2"]),
    );
    let idx = r.next(9) as i64 - 4;
    let end = if r.next(2) == 0 {
        End::Left
    } else {
        End::Right
    };
    let score = [0.0, 1.0, -1.5, 2.0, f64::INFINITY, 7.25][r.next(6) as usize];
    let x = r.pick(&["x1", "x2"]);
    let id = StreamId::new(T0 - 5 + r.next(10), r.next(3));
    let trim = match r.next(4) {
        0 => XTrim::max_len(r.next(150)),
        1 => XTrim::max_len(r.next(150)).approx(),
        2 => XTrim::min_id(id),
        _ => XTrim::min_id(id).approx().limit(r.next(200)),
    };
    let (g, c) = (r.pick(&["g1", "g2"]), r.pick(&["c1", "c2", "c3"]));
    let _ = match r.next(50) {
        38 | 49 => {
            let start = if r.next(2) == 0 {
                GroupStart::Last
            } else {
                GroupStart::Id(StreamId::new(T0 - 5 + r.next(5), 0))
            };
            let read = [None, Some(0), Some(3)][r.next(3) as usize];
            db.xgroup_create(x, g, start, read, r.next(4) != 0)
        }
        39 => db.xgroup_setid(x, g, GroupStart::Id(id), Some(r.next(9))),
        40 if r.next(3) == 0 => db.xgroup_destroy(x, g).map(drop),
        41 => db.xgroup_createconsumer(x, g, c).map(drop),
        42 if r.next(2) == 0 => db.xgroup_delconsumer(x, g, c).map(drop),
        40..=44 => db
            .xreadgroup(
                x,
                g,
                c,
                ReadGroup::New,
                Some(1 + r.next(3) as usize),
                r.next(6) == 0,
            )
            .map(drop),
        45 => db
            .xreadgroup(x, g, c, ReadGroup::History(StreamId::MIN), None, false)
            .map(drop),
        46 => {
            let pending = db
                .xpending_range(x, g, StreamId::MIN, StreamId::MAX, 2, None, 0)
                .unwrap_or_default();
            let mut ids: Vec<StreamId> = pending.iter().map(|p| p.id).collect();
            ids.push(id);
            db.xack(x, g, &ids).map(drop)
        }
        47 => {
            let mut opts = XClaimOptions::new();
            match r.next(4) {
                0 => opts = opts.time((T0 - r.next(100)) as i64).retry_count(r.next(5)),
                1 => opts = opts.idle(r.next(50) as i64).just_id(),
                2 => opts = opts.force().last_id(id),
                _ => {}
            }
            let ids = [id, StreamId::new(id.ms, 0), StreamId::new(T0, 1)];
            db.xclaim_with(x, g, c, r.next(3) as i64, &ids, &opts, |_| {})
                .map(drop)
        }
        48 => db
            .xautoclaim_with(
                x,
                g,
                c,
                0,
                StreamId::MIN,
                1 + r.next(3) as usize,
                r.next(2) == 0,
                |_| {},
            )
            .map(drop),
        30 | 31 => {
            let spec = match r.next(3) {
                0 => XAddId::Auto,
                1 => XAddId::AutoSeq(id.ms),
                _ => XAddId::Explicit(id),
            };
            let opts = if r.next(8) == 0 {
                XAddOptions::new().trim(trim)
            } else {
                XAddOptions::new()
            };
            let fields: &[(&str, &str)] = if r.next(2) == 0 {
                &[("f", "v")]
            } else {
                &[("f", "w"), ("g", "1")]
            };
            db.xadd(x, spec, fields, &opts).map(drop)
        }
        32 => db
            .xadd(x, XAddId::Auto, &[("a", member)], &XAddOptions::new())
            .map(drop),
        33 => db.xdel(x, &[id, StreamId::new(id.ms, 0)]).map(drop),
        34 => db.xtrim(x, &trim).map(drop),
        35 => db
            .xsetid(
                x,
                StreamId::new(T0 + 20, 0),
                &XSetIdOptions::new().entries_added(500),
            )
            .map(drop),
        36 => {
            let first = db.xrange(x, .., Some(1)).unwrap_or_default();
            db.xdel(x, &first.iter().map(|e| e.id).collect::<Vec<_>>())
                .map(drop)
        }
        37 => db.del(&[x]).map(drop),
        0 => db.push(l, end, &[member, r.pick(&v)]).map(drop),
        1 => db.pop_count(l, end, r.next(3) as usize).map(drop),
        2 => db.lset(l, idx, member),
        3 => db.lrem(l, idx, member).map(drop),
        4 => db.ltrim(l, idx, idx + 3),
        5 => db.linsert(l, r.next(2) == 0, r.pick(&v), member).map(drop),
        6 => db
            .lmove(l, r.pick(&["l1", "l2"]), end, End::Right)
            .map(drop),
        7 => db.hset("h", &[(member, r.pick(&v))]).map(drop),
        8 => db.hdel("h", &[member]).map(drop),
        9 => db.hincrby("h", "n", idx).map(drop),
        10 => db.hincrbyfloat("h", "f", 0.25).map(drop),
        11 => db.hsetnx("h", member, "nx").map(drop),
        12 => db.sadd(s, &[member, r.pick(&v)]).map(drop),
        13 => db.srem(s, &[member]).map(drop),
        14 => db.spop_count(s, r.next(3) as usize).map(drop),
        15 => db.smove("s1", "s2", member).map(drop),
        16 => db
            .sstore(
                [SetOp::Inter, SetOp::Union, SetOp::Diff][r.next(3) as usize],
                "s3",
                &["s1", "s2"],
            )
            .map(drop),
        17 => db
            .zadd(z, &[(score, member)], &ZAddFlags::default())
            .map(drop),
        18 => db
            .zadd(
                z,
                &[(score, member)],
                &ZAddFlags {
                    gt: true,
                    ch: true,
                    ..ZAddFlags::default()
                },
            )
            .map(drop),
        19 => db.zincrby(z, 1.0, member).map(drop),
        20 => db.zrem(z, &[member]).map(drop),
        21 => db.zpop(z, r.next(2) == 0, r.next(3) as usize).map(drop),
        22 => db.zremrange(z, &ZRangeBy::Rank(idx, idx + 1)).map(drop),
        23 => db
            .zremrange(z, &ZRangeBy::Score(ScoreRange::inclusive(1.0, 2.0)))
            .map(drop),
        24 => db
            .zcombinestore(
                ZOp::Union,
                "z3",
                &["z1", "z2", "s1"],
                Some(&[2.0, 1.0, 1.0]),
                Aggregate::Max,
            )
            .map(drop),
        25 => db
            .zrangestore("z4", z, &ZRange::new(ZRangeBy::Rank(0, idx)))
            .map(drop),
        26 => db.lmpop(&["l1", "l2"], end, 2).map(drop),
        27 => db.zmpop(&["z2", "z1"], true, 2).map(drop),
        28 => db.del(&[r.pick(&["l1", "h", "s1", "z1"])]).map(drop),
        _ => db.set(r.pick(&["l2", "s2", "z2"]), "now a string"),
    };
}

/// Everything in database 0, in a comparable form.
fn dump(db: &Db) -> Vec<(Vec<u8>, String)> {
    let mut keys = db.keys("*").unwrap();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let v = match db.key_type(&k).unwrap().unwrap() {
                KeyType::String => format!("string {:?}", db.get(&k).unwrap()),
                KeyType::List => format!("list {:?}", db.lrange(&k, 0, -1).unwrap()),
                KeyType::Hash => {
                    let mut h = db.hgetall(&k).unwrap();
                    h.sort();
                    format!("hash {h:?}")
                }
                KeyType::Set => {
                    let mut s = db.smembers(&k).unwrap();
                    s.sort();
                    format!("set {s:?}")
                }
                KeyType::ZSet => format!(
                    "zset {:?}",
                    db.zrange(&k, &ZRange::new(ZRangeBy::Rank(0, -1))).unwrap()
                ),
                KeyType::Stream => format!(
                    "stream {:?} {:?} {:?}",
                    db.xinfo(&k).unwrap(),
                    db.xrange(&k, .., None).unwrap(),
                    db.xinfo_full_with(&k, 0, |_| {}).unwrap()
                ),
            };
            (k, v)
        })
        .collect()
}

#[test]
fn random_container_commands_replay_to_the_same_values() {
    let (mut streams, mut groups, mut pending) = (0, 0, 0);
    for seed in 1..=12u64 {
        let dir = TempDir::new("container", &format!("replay-{seed}"));
        let mut r = Rand(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let kv = open(&dir);
        let db = kv.db(0).unwrap();
        for i in 0..400 {
            step(&db, &mut r);
            if seed % 3 == 0 && i == 200 {
                kv.save().unwrap(); // the rest replays on top of a snapshot
            }
        }
        let before = dump(&db);
        streams += before
            .iter()
            .filter(|(_, v)| v.starts_with("stream"))
            .count();
        for x in ["x1", "x2"] {
            for g in kv
                .db(0)
                .unwrap()
                .xinfo_groups(x)
                .ok()
                .flatten()
                .unwrap_or_default()
            {
                pending += g.pending;
                groups += 1;
            }
        }
        drop(db);
        drop(kv);
        let kv = open(&dir);
        let after = dump(&kv.db(0).unwrap());
        assert_eq!(after, before, "seed {seed}");
    }
    assert!(streams > 6, "the workload made {streams} streams");
    assert!(
        groups > 6 && pending > 0,
        "the workload left {groups} groups, {pending} entries pending"
    );
}

/// Regression: LMOVE (and RPOPLPUSH, BLMOVE) from a one-element list to itself deleted the
/// emptied source and pushed into a fresh list, so the key lost its TTL (Redis keeps it: the
/// list never becomes empty). Replaying the log must not lose it either.
#[test]
fn r_lmove_rotating_a_one_element_list_keeps_its_ttl() {
    let dir = TempDir::new("container", "rotate-ttl");
    let kv = open(&dir);
    let db = kv.db(0).unwrap();
    let ends = [End::Left, End::Right];
    let mut keys = Vec::new();
    for from in ends {
        for to in ends {
            let key = format!("solo-{from:?}-{to:?}");
            db.push(&key, End::Right, &["only"]).unwrap();
            assert!(db.expire(&key, 100, Default::default()).unwrap());
            assert_eq!(db.lmove(&key, &key, from, to).unwrap(), b("only"));
            assert_eq!(
                db.ttl(&key).unwrap(),
                crate::secs(100),
                "{key} right after LMOVE"
            );
            keys.push(key);
        }
    }
    drop(db);
    drop(kv);
    let kv = open(&dir);
    let db = kv.db(0).unwrap();
    for key in &keys {
        assert_eq!(
            db.lrange(key, 0, -1).unwrap(),
            vec![b"only".to_vec()],
            "{key}"
        );
        assert_eq!(
            db.ttl(key).unwrap(),
            crate::secs(100),
            "{key} after replaying the log"
        );
    }
}
