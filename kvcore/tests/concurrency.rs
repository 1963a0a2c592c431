//! Many threads at once: no lost updates, no torn multi-key writes, no deadlock. Loop counts
//! are bounded; nothing here measures time. Every test runs its threads under `run_workers`,
//! which fails (rather than hangs) if they do not finish.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use kvcore::{
    Db, End, Error, ExpireCondition, HashStore, KeyType, Kv, ListStore, Options, ScanOptions,
    SetStore, Store, ZRange, ZRangeBy, ZSetStore,
};

fn kv() -> Kv {
    Kv::in_memory(Options::new().shards(4).databases(3))
}

/// How long the workers of one test may run before the test calls it a deadlock. They finish
/// in well under a second; this is a hang detector, not a statement about speed.
const DEADLINE: Duration = Duration::from_secs(120);

pub(crate) type Worker<T> = Box<dyn FnOnce() -> T + Send>;

/// Runs each worker on its own thread and returns their results, in order. Panics, naming the
/// workers still running, if they have not all finished within [`DEADLINE`]; re-raises a
/// worker's panic.
pub(crate) fn run_workers<T: Send + 'static>(what: &str, workers: Vec<Worker<T>>) -> Vec<T> {
    /// Reports its worker as finished when dropped: on return and on panic alike.
    struct Done(usize, mpsc::Sender<usize>);
    impl Drop for Done {
        fn drop(&mut self) {
            let _ = self.1.send(self.0);
        }
    }
    let (tx, rx) = mpsc::channel();
    let handles: Vec<_> = workers
        .into_iter()
        .enumerate()
        .map(|(i, work)| {
            let done = Done(i, tx.clone());
            thread::spawn(move || {
                let _done = done;
                work()
            })
        })
        .collect();
    drop(tx);
    let start = Instant::now();
    let mut running: BTreeSet<usize> = (0..handles.len()).collect();
    while !running.is_empty() {
        match rx.recv_timeout(DEADLINE.saturating_sub(start.elapsed())) {
            Ok(i) => {
                running.remove(&i);
            }
            Err(_) => panic!(
                "{what}: workers {running:?} of {} still running after {DEADLINE:?} (deadlock?)",
                handles.len()
            ),
        }
    }
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
        .collect()
}

#[test]
fn concurrent_incr_loses_no_update() {
    let kv = kv();
    let threads = 8;
    let per_thread = 5_000;
    let workers: Vec<Worker<()>> = (0..threads)
        .map(|t| {
            let db = kv.db(0).unwrap();
            Box::new(move || {
                for i in 0..per_thread {
                    db.incr("shared").unwrap();
                    db.incrby(format!("c{}", (i + t) % 4), 2).unwrap();
                }
            }) as Worker<()>
        })
        .collect();
    run_workers("incr", workers);
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
    let mut workers: Vec<Worker<()>> = Vec::new();
    let (w, flag) = (db.clone(), Arc::clone(&done));
    workers.push(Box::new(move || {
        for i in 0..20_000 {
            let v = i.to_string();
            let pairs: Vec<_> = keys.iter().map(|k| (*k, v.as_str())).collect();
            w.mset(&pairs).unwrap();
        }
        flag.store(true, Ordering::SeqCst);
    }));
    for _ in 0..2 {
        let (r, done) = (db.clone(), Arc::clone(&done));
        workers.push(Box::new(move || {
            let mut reads = 0;
            while !done.load(Ordering::SeqCst) || reads < 100 {
                let vals = r.mget(&keys).unwrap();
                assert!(
                    vals.iter().all(|v| v == &vals[0]),
                    "torn MSET seen: {vals:?}"
                );
                reads += 1;
            }
        }));
    }
    run_workers("mset", workers);
}

#[test]
fn readers_never_see_a_half_applied_rename() {
    let kv = kv();
    let db = kv.db(0).unwrap();
    db.set("left", "token").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let (mover, flag) = (db.clone(), Arc::clone(&done));
    let move_it: Worker<()> = Box::new(move || {
        for i in 0..20_000 {
            let (src, dst) = if i % 2 == 0 {
                ("left", "right")
            } else {
                ("right", "left")
            };
            mover.rename(src, dst).unwrap();
        }
        flag.store(true, Ordering::SeqCst);
    });
    let (reader, done) = (db.clone(), Arc::clone(&done));
    let read_it: Worker<()> = Box::new(move || {
        let mut reads = 0;
        while !done.load(Ordering::SeqCst) || reads < 100 {
            // Exactly one of the two names holds the token at any instant.
            assert_eq!(reader.exists(&["left", "right"]).unwrap(), 1);
            let vals = reader.mget(&["left", "right"]).unwrap();
            assert_eq!(vals.iter().flatten().count(), 1, "{vals:?}");
            reads += 1;
        }
    });
    run_workers("rename", vec![move_it, read_it]);
}

/// The type every key of the mix holds, by its first letter.
fn type_of_name(key: &[u8]) -> KeyType {
    match key[0] {
        b'c' | b'k' | b'm' | b's' => KeyType::String,
        b'l' => KeyType::List,
        b'h' => KeyType::Hash,
        b'e' => KeyType::Set,
        b'z' => KeyType::ZSet,
        other => panic!("unexpected key {:?} ({})", key.escape_ascii(), other),
    }
}

/// Tokens that LMOVE and SMOVE shuffle between two lists and two sets in database 2.
const TOKENS: usize = 8;

/// What one worker of the mix did to the shared keys, to check the totals against.
#[derive(Default)]
struct Tally {
    incrs: i64,
    hincrs: i64,
    zincrs: i64,
    logged: u64,
}

/// The keys only worker `t` touches (in database 2), and what they must hold: a sequential
/// model of its own operations. Nothing else may change them.
struct Own {
    t: u64,
    strings: HashMap<String, Vec<u8>>,
    /// The string keys that carry a TTL.
    volatile: BTreeSet<String>,
    list: VecDeque<Vec<u8>>,
    hash: BTreeMap<Vec<u8>, i64>,
    set: BTreeSet<Vec<u8>>,
    zset: BTreeMap<Vec<u8>, f64>,
}

impl Own {
    fn new(t: u64) -> Own {
        Own {
            t,
            strings: HashMap::new(),
            volatile: BTreeSet::new(),
            list: VecDeque::new(),
            hash: BTreeMap::new(),
            set: BTreeSet::new(),
            zset: BTreeMap::new(),
        }
    }

    fn s(&self, i: u64) -> String {
        format!("s{}.{}", self.t, i % 3)
    }

    fn names(&self) -> [String; 4] {
        let t = self.t;
        [
            format!("lo{t}"),
            format!("h{t}"),
            format!("e{t}"),
            format!("z{t}"),
        ]
    }

    /// One random operation on the worker's own keys; its reply must be the model's.
    fn step(&mut self, db: &Db, r: u64) {
        let [l, h, e, z] = self.names();
        let (a, b) = (self.s(r >> 8), self.s(r >> 12));
        let member = format!("m{}", (r >> 16) % 5).into_bytes();
        match r % 14 {
            0 => {
                let v = format!("p{}", r % 100).into_bytes();
                db.set(&a, &v).unwrap();
                self.strings.insert(a.clone(), v);
                self.volatile.remove(&a);
            }
            1 => assert_eq!(db.get(&a).unwrap(), self.strings.get(&a).cloned(), "{a}"),
            2 => {
                let want = match self.strings.get(&a) {
                    None => Ok(1),
                    Some(v) => std::str::from_utf8(v)
                        .ok()
                        .and_then(|v| v.parse::<i64>().ok())
                        .map(|n| n + 1)
                        .ok_or(Error::NotInteger),
                };
                assert_eq!(db.incr(&a), want, "INCR {a}");
                if let Ok(n) = want {
                    self.strings.insert(a.clone(), n.to_string().into_bytes());
                }
            }
            3 => {
                let v = self.strings.entry(a.clone()).or_default();
                v.push(b'a');
                assert_eq!(db.append(&a, "a").unwrap(), v.len(), "APPEND {a}");
            }
            4 => {
                let had = self.strings.remove(&a).is_some();
                self.volatile.remove(&a);
                assert_eq!(db.del(&[&a]).unwrap(), u64::from(had), "DEL {a}");
            }
            5 => match self.strings.remove(&a) {
                None => assert_eq!(db.rename(&a, &b), Err(Error::NoSuchKey), "RENAME {a}"),
                Some(v) => {
                    db.rename(&a, &b).unwrap();
                    let ttl = self.volatile.remove(&a);
                    self.volatile.remove(&b);
                    if ttl {
                        self.volatile.insert(b.clone());
                    }
                    self.strings.insert(b, v);
                }
            },
            6 => {
                let exists = self.strings.contains_key(&a);
                assert_eq!(db.expire(&a, 1000, ExpireCondition::None), Ok(exists));
                if exists {
                    self.volatile.insert(a);
                }
            }
            7 => {
                let had_ttl = self.volatile.remove(&a);
                assert_eq!(db.persist(&a), Ok(had_ttl), "PERSIST {a}");
            }
            8 => {
                // Out of the worker's database into a shared one: a cross-database lock pair.
                let dst = format!("k{}", (r >> 20) % 16);
                let copied = db.copy(&a, dst, Some(((r >> 24) % 2) as usize), true);
                assert_eq!(copied, Ok(self.strings.contains_key(&a)), "COPY {a}");
            }
            9 => {
                let v = format!("p{}", r % 100).into_bytes();
                self.list.push_back(v.clone());
                assert_eq!(db.push(&l, End::Right, &[v]).unwrap(), self.list.len());
            }
            10 => assert_eq!(db.pop(&l, End::Left).unwrap(), self.list.pop_front()),
            11 => {
                let n = self.hash.entry(member.clone()).or_default();
                *n += 2;
                assert_eq!(db.hincrby(&h, &member, 2).unwrap(), *n);
            }
            12 => {
                if r & (1 << 30) == 0 {
                    let added = self.set.insert(member.clone());
                    assert_eq!(db.sadd(&e, &[&member]).unwrap(), usize::from(added));
                } else {
                    let removed = self.set.remove(&member);
                    assert_eq!(db.srem(&e, &[&member]).unwrap(), usize::from(removed));
                }
            }
            _ => {
                if r & (1 << 30) == 0 {
                    let s = self.zset.entry(member.clone()).or_default();
                    *s += 0.5;
                    assert_eq!(db.zincrby(&z, 0.5, &member).unwrap(), *s);
                } else {
                    let removed = self.zset.remove(&member).is_some();
                    assert_eq!(db.zrem(&z, &[&member]).unwrap(), usize::from(removed));
                }
            }
        }
    }

    /// The whole of the worker's keys, against the model.
    fn check(&self, db: &Db) {
        let [l, h, e, z] = self.names();
        for i in 0..3 {
            let a = self.s(i);
            assert_eq!(db.get(&a).unwrap(), self.strings.get(&a).cloned(), "{a}");
            assert_eq!(db.persist(&a), Ok(self.volatile.contains(&a)), "TTL of {a}");
        }
        assert_eq!(db.lrange(&l, 0, -1).unwrap(), Vec::from(self.list.clone()));
        let hash: BTreeMap<Vec<u8>, i64> = db
            .hgetall(&h)
            .unwrap()
            .into_iter()
            .map(|(f, v)| (f, String::from_utf8(v).unwrap().parse().unwrap()))
            .collect();
        assert_eq!(hash, self.hash);
        let set: BTreeSet<Vec<u8>> = db.smembers(&e).unwrap().into_iter().collect();
        assert_eq!(set, self.set);
        let zset: BTreeMap<Vec<u8>, f64> = db
            .zrange(&z, &ZRange::new(ZRangeBy::Rank(0, -1)))
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(zset, self.zset);
    }
}

/// One worker of the mix: a random walk over (1) its own keys, checked against `Own`; (2)
/// shared counters, an append-only log, a group of keys written only whole (MSET, DEL) and
/// tokens moved between two lists and two sets, all in database 2; (3) a free-for-all of string
/// and list commands on databases 0 and 1, where keys are renamed, copied across databases,
/// swapped, flushed and expired under each other's feet, and the only rules are that no command
/// meets a key of the wrong type and no read sees a torn group.
fn mix_worker(kv: &Kv, t: u64, steps: usize) -> Tally {
    let mut x = (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mine = kv.db(2).unwrap();
    let mut own = Own::new(t);
    let mut tally = Tally::default();
    let group = ["m0", "m1", "m2", "m3"];
    for step in 0..steps {
        let r = next();
        match r % 8 {
            0..=2 => own.step(&mine, next()),
            3 => match (r >> 4) % 4 {
                0 => {
                    mine.incr(format!("c{}", (r >> 8) % 4)).unwrap();
                    tally.incrs += 1;
                }
                1 => {
                    mine.hincrby("hc", format!("f{}", (r >> 8) % 4), 1).unwrap();
                    tally.hincrs += 1;
                }
                2 => {
                    mine.zincrby("zc", 1.0, format!("m{}", (r >> 8) % 4))
                        .unwrap();
                    tally.zincrs += 1;
                }
                _ => {
                    let entry = format!("{t}.{}", tally.logged);
                    mine.push("llog", End::Right, &[entry]).unwrap();
                    tally.logged += 1;
                }
            },
            4 => match (r >> 4) % 4 {
                0 => {
                    let v = format!("{t}.{step}");
                    let pairs: Vec<_> = group.iter().map(|k| (*k, v.as_str())).collect();
                    mine.mset(&pairs).unwrap();
                }
                1 => drop(mine.del(&group).unwrap()),
                _ => {
                    let vals = mine.mget(&group).unwrap();
                    let shown: Vec<_> = vals
                        .iter()
                        .map(|v| v.as_ref().map(|v| v.escape_ascii().to_string()))
                        .collect();
                    assert!(vals.iter().all(|v| v == &vals[0]), "torn group: {shown:?}");
                }
            },
            5 => {
                let (from, to) = if r & 16 == 0 { (0, 1) } else { (1, 0) };
                if r & 32 == 0 {
                    let (src, dst) = (format!("lq{from}"), format!("lq{to}"));
                    mine.lmove(src, dst, End::Left, End::Right).unwrap();
                } else {
                    let token = format!("t{}", (r >> 8) % TOKENS as u64);
                    mine.smove(format!("eq{from}"), format!("eq{to}"), token)
                        .unwrap();
                }
            }
            _ => chaos_step(kv, next()),
        }
    }
    own.check(&mine);
    tally
}

/// Errors a free-for-all command may meet: a renamed-away source, INCR of a non-number,
/// COPY onto itself. Never WRONGTYPE.
fn expected(r: Result<(), Error>) {
    match r {
        Ok(()) | Err(Error::NoSuchKey | Error::NotInteger | Error::SameObject) => {}
        Err(e) => panic!("free-for-all command failed: {e:?}"),
    }
}

fn chaos_step(kv: &Kv, r: u64) {
    let db = kv.db((r % 2) as usize).unwrap();
    let other = Some(((r >> 4) % 2) as usize);
    let k = |n: u64| format!("k{}", n % 16);
    let l = |n: u64| format!("l{}", n % 16);
    let (a, b) = (k(r >> 8), k(r >> 16));
    let (la, lb) = (l(r >> 8), l(r >> 16));
    let end = if r & (1 << 40) == 0 {
        End::Left
    } else {
        End::Right
    };
    match (r >> 32) % 19 {
        0 => expected(db.set(&a, "v")),
        1 => {
            // A string key holds what some command wrote: "v", "x", "y", a number, or a copy
            // of a worker's own string (made of digits, "p" and appended "a"s).
            if let Some(v) = db.get(&a).unwrap() {
                let known = [&b"v"[..], b"x", b"y"].contains(&v.as_slice())
                    || v.iter().all(|c| c.is_ascii_digit() || b"-pa".contains(c));
                assert!(known, "{a} holds {:?}", v.escape_ascii());
            }
        }
        2 => expected(db.mset(&[(&a, "1"), (&b, "2")])),
        3 => expected(db.rename(&a, &b)),
        4 => expected(db.copy(&a, &b, other, true).map(drop)),
        5 => expected(db.del(&[&a, &b]).map(drop)),
        6 => drop(db.mget(&[&b, &a]).unwrap()),
        7 => expected(db.expire(&a, 1, ExpireCondition::None).map(drop)),
        8 => expected(db.incr(&a).map(drop)),
        9 => expected(db.msetnx(&[(&b, "x"), (&a, "y")]).map(drop)),
        10 => {
            let (_, keys) = db.scan(0, &ScanOptions::new().count(5)).unwrap();
            for key in keys {
                if let Some(t) = db.key_type(&key).unwrap() {
                    assert_eq!(t, type_of_name(&key), "{:?}", key.escape_ascii());
                }
            }
        }
        11 => expected(db.push(&la, end, &["v"]).map(drop)),
        12 => expected(db.pop(&la, end).map(drop)),
        13 => expected(db.lmove(&la, &lb, end, End::Right).map(drop)),
        14 => expected(db.rename(&la, &lb)),
        15 => expected(db.copy(&la, &lb, other, true).map(drop)),
        16 if r.is_multiple_of(7) => expected(kv.swapdb(0, 1)),
        16 if r.is_multiple_of(11) => expected(db.flushdb()),
        _ => drop(kv.active_expire_cycle(5)),
    }
}

#[test]
fn randomized_mix_keeps_its_invariants() {
    let kv = kv();
    let shared = kv.db(2).unwrap();
    let tokens: Vec<String> = (0..TOKENS).map(|i| format!("t{i}")).collect();
    shared.push("lq0", End::Right, &tokens).unwrap();
    shared.sadd("eq0", &tokens).unwrap();
    let threads = 6u64;
    let workers: Vec<Worker<Tally>> = (0..threads)
        .map(|t| {
            let kv = kv.clone();
            Box::new(move || mix_worker(&kv, t, 5_000)) as Worker<Tally>
        })
        .collect();
    let tallies = run_workers("randomized mix", workers);

    // Shared counters add up to the increments made.
    let incrs: i64 = tallies.iter().map(|t| t.incrs).sum();
    let counted: i64 = (0..4)
        .filter_map(|i| shared.get(format!("c{i}")).unwrap())
        .map(|v| String::from_utf8(v).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(counted, incrs, "INCR");
    let hincrs: i64 = tallies.iter().map(|t| t.hincrs).sum();
    let hcounted: i64 = shared
        .hgetall("hc")
        .unwrap()
        .into_iter()
        .map(|(_, v)| String::from_utf8(v).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(hcounted, hincrs, "HINCRBY");
    let zincrs: i64 = tallies.iter().map(|t| t.zincrs).sum();
    let all = ZRange::new(ZRangeBy::Rank(0, -1));
    let zcounted: f64 = shared.zrange("zc", &all).unwrap().iter().map(|m| m.1).sum();
    assert_eq!(zcounted, zincrs as f64, "ZINCRBY");

    // The log holds every worker's entries, each worker's in the order it pushed them.
    let log = shared.lrange("llog", 0, -1).unwrap();
    assert_eq!(
        log.len() as u64,
        tallies.iter().map(|t| t.logged).sum::<u64>()
    );
    let mut next_seq = vec![0u64; threads as usize];
    for entry in &log {
        let entry = String::from_utf8(entry.clone()).unwrap();
        let (t, seq) = entry.split_once('.').unwrap();
        let (t, seq): (usize, u64) = (t.parse().unwrap(), seq.parse().unwrap());
        assert_eq!(seq, next_seq[t], "worker {t}'s log entries out of order");
        next_seq[t] += 1;
    }

    // LMOVE and SMOVE neither lost nor duplicated a token.
    let mut listed: Vec<Vec<u8>> = shared.lrange("lq0", 0, -1).unwrap();
    listed.extend(shared.lrange("lq1", 0, -1).unwrap());
    listed.sort();
    let mut sets = shared.smembers("eq0").unwrap();
    sets.extend(shared.smembers("eq1").unwrap());
    sets.sort();
    let mut want: Vec<Vec<u8>> = tokens.iter().map(|t| t.clone().into_bytes()).collect();
    want.sort();
    assert_eq!(listed, want, "LMOVE tokens");
    assert_eq!(sets, want, "SMOVE tokens");

    // No key of the wrong type anywhere (a free-for-all key may expire between the two calls).
    for i in 0..3 {
        let db = kv.db(i).unwrap();
        for key in db.keys("*").unwrap() {
            if let Some(t) = db.key_type(&key).unwrap() {
                assert_eq!(t, type_of_name(&key), "{:?} in db {i}", key.escape_ascii());
            }
        }
    }
}
