//! Every container type survives `kill -9`. Writer threads run random list, hash, set and
//! sorted-set commands (plus EXPIRE, DEL, RENAME and the two-key LMOVE, SMOVE, S*STORE and
//! Z*STORE) against a real server started with `--sync always`, each on keys of its own, and
//! keep a model of what the server acknowledged. The server is killed at a random moment (in
//! some cycles during or after a snapshot), restarted on the same data directory, and every key
//! is read back in full and compared with the model.
//!
//! Writers send one command at a time or a pipelined batch (committed once, before its
//! replies). Writes in flight when the server died may or may not have been applied: the check
//! accepts any prefix of the writer's unanswered batch, and nothing else. Set `KV_CRASH_SEED`
//! to replay a seed (thread interleaving and kill timing still vary; each writer's operation
//! stream does not).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use redis::Value;

use super::support::{Server, error_text};

const WRITERS: usize = 4;
const CYCLES: usize = 8;
const KEYS_PER_KIND: usize = 3;
/// Lists longer than this are popped rather than pushed, so values stay small.
const MAX_LIST: usize = 24;

/// xorshift64*: a seeded generator without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// 1 to `max` items from `gen`.
    fn some<T>(&mut self, max: u64, mut generate: impl FnMut(&mut Rng) -> T) -> Vec<T> {
        let n = 1 + self.below(max);
        (0..n).map(|_| generate(self)).collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    List,
    Hash,
    Set,
    ZSet,
}

const KINDS: [Kind; 4] = [Kind::List, Kind::Hash, Kind::Set, Kind::ZSet];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::List => "list",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }
}

fn key_name(writer: usize, kind: Kind, i: usize) -> String {
    format!("w{writer}:{}:{i}", kind.name())
}

#[derive(Clone, Debug, PartialEq)]
enum Val {
    List(VecDeque<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, f64>),
}

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    val: Val,
    /// An EXPIRE far in the future was applied (the check wants TTL > 0, not -1).
    expires: bool,
}

/// One writer's keys, as acknowledged.
type Model = BTreeMap<String, Entry>;

#[derive(Clone, Debug)]
enum Op {
    Push {
        key: String,
        left: bool,
        items: Vec<Vec<u8>>,
    },
    Pop {
        key: String,
        left: bool,
        count: Option<u64>,
    },
    HSet {
        key: String,
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    HDel {
        key: String,
        fields: Vec<Vec<u8>>,
    },
    HIncrBy {
        key: String,
        field: Vec<u8>,
        delta: i64,
    },
    SAdd {
        key: String,
        members: Vec<Vec<u8>>,
    },
    SRem {
        key: String,
        members: Vec<Vec<u8>>,
    },
    ZAdd {
        key: String,
        pairs: Vec<(f64, Vec<u8>)>,
    },
    ZIncrBy {
        key: String,
        delta: f64,
        member: Vec<u8>,
    },
    ZRem {
        key: String,
        members: Vec<Vec<u8>>,
    },
    Expire {
        key: String,
        secs: u64,
    },
    Del {
        key: String,
    },
    LMove {
        src: String,
        dst: String,
        from_left: bool,
        to_left: bool,
    },
    SMove {
        src: String,
        dst: String,
        member: Vec<u8>,
    },
    /// SUNIONSTORE, SINTERSTORE or SDIFFSTORE of two sets.
    SStore {
        name: &'static str,
        dst: String,
        keys: [String; 2],
    },
    /// ZUNIONSTORE or ZINTERSTORE of two sorted sets (weights 1, SUM).
    ZStore {
        union: bool,
        dst: String,
        keys: [String; 2],
    },
    /// Generated only when `src` exists and differs from `dst`.
    Rename {
        src: String,
        dst: String,
    },
}

/// The reply an acknowledged operation must have had.
#[derive(Debug)]
enum Reply {
    Ok,
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Vec<u8>>>),
    Score(f64),
}

impl Op {
    fn args(&self) -> Vec<Vec<u8>> {
        let b = |s: &str| s.as_bytes().to_vec();
        let mut out: Vec<Vec<u8>> = Vec::new();
        match self {
            Op::Push { key, left, items } => {
                out.push(b(if *left { "LPUSH" } else { "RPUSH" }));
                out.push(b(key));
                out.extend(items.iter().cloned());
            }
            Op::Pop { key, left, count } => {
                out.push(b(if *left { "LPOP" } else { "RPOP" }));
                out.push(b(key));
                out.extend(count.map(|c| b(&c.to_string())));
            }
            Op::HSet { key, pairs } => {
                out.extend([b("HSET"), b(key)]);
                for (f, v) in pairs {
                    out.extend([f.clone(), v.clone()]);
                }
            }
            Op::HDel { key, fields } => {
                out.extend([b("HDEL"), b(key)]);
                out.extend(fields.iter().cloned());
            }
            Op::HIncrBy { key, field, delta } => {
                out.extend([b("HINCRBY"), b(key), field.clone(), b(&delta.to_string())]);
            }
            Op::SAdd { key, members } | Op::SRem { key, members } | Op::ZRem { key, members } => {
                let name = match self {
                    Op::SAdd { .. } => "SADD",
                    Op::SRem { .. } => "SREM",
                    _ => "ZREM",
                };
                out.extend([b(name), b(key)]);
                out.extend(members.iter().cloned());
            }
            Op::ZAdd { key, pairs } => {
                out.extend([b("ZADD"), b(key)]);
                for (s, m) in pairs {
                    out.extend([b(&s.to_string()), m.clone()]);
                }
            }
            Op::ZIncrBy { key, delta, member } => {
                out.extend([b("ZINCRBY"), b(key), b(&delta.to_string()), member.clone()]);
            }
            Op::Expire { key, secs } => out.extend([b("EXPIRE"), b(key), b(&secs.to_string())]),
            Op::Del { key } => out.extend([b("DEL"), b(key)]),
            Op::LMove {
                src,
                dst,
                from_left,
                to_left,
            } => {
                let side = |left: bool| b(if left { "LEFT" } else { "RIGHT" });
                out.extend([b("LMOVE"), b(src), b(dst), side(*from_left), side(*to_left)]);
            }
            Op::SMove { src, dst, member } => {
                out.extend([b("SMOVE"), b(src), b(dst), member.clone()]);
            }
            Op::SStore { name, dst, keys } => {
                out.extend([b(name), b(dst), b(&keys[0]), b(&keys[1])]);
            }
            Op::ZStore { union, dst, keys } => {
                let name = if *union { "ZUNIONSTORE" } else { "ZINTERSTORE" };
                out.extend([b(name), b(dst), b("2"), b(&keys[0]), b(&keys[1])]);
            }
            Op::Rename { src, dst } => out.extend([b("RENAME"), b(src), b(dst)]),
        }
        out
    }

    /// Applies the operation to `model` as Redis would, and returns the reply Redis gives.
    fn apply(&self, model: &mut Model) -> Reply {
        let fresh = |val: Val| Entry {
            val,
            expires: false,
        };
        let reply = match self {
            Op::Push { key, left, items } => {
                let e = model
                    .entry(key.clone())
                    .or_insert_with(|| fresh(Val::List(VecDeque::new())));
                let Val::List(l) = &mut e.val else {
                    unreachable!("list keys hold lists")
                };
                for item in items {
                    if *left {
                        l.push_front(item.clone());
                    } else {
                        l.push_back(item.clone());
                    }
                }
                Reply::Int(l.len() as i64)
            }
            Op::Pop { key, left, count } => match model.get_mut(key) {
                None if count.is_some() => Reply::Array(None),
                None => Reply::Bulk(None),
                Some(e) => {
                    let Val::List(l) = &mut e.val else {
                        unreachable!("list keys hold lists")
                    };
                    let mut popped = Vec::new();
                    for _ in 0..count.unwrap_or(1) {
                        let item = if *left { l.pop_front() } else { l.pop_back() };
                        popped.extend(item);
                    }
                    match count {
                        Some(_) => Reply::Array(Some(popped)),
                        None => Reply::Bulk(popped.pop()),
                    }
                }
            },
            Op::HSet { key, pairs } => {
                let e = model
                    .entry(key.clone())
                    .or_insert_with(|| fresh(Val::Hash(BTreeMap::new())));
                let Val::Hash(h) = &mut e.val else {
                    unreachable!("hash keys hold hashes")
                };
                let added = pairs
                    .iter()
                    .filter(|(f, v)| h.insert(f.clone(), v.clone()).is_none())
                    .count();
                Reply::Int(added as i64)
            }
            Op::HDel { key, fields } => match model.get_mut(key) {
                None => Reply::Int(0),
                Some(e) => {
                    let Val::Hash(h) = &mut e.val else {
                        unreachable!("hash keys hold hashes")
                    };
                    Reply::Int(fields.iter().filter(|f| h.remove(*f).is_some()).count() as i64)
                }
            },
            Op::HIncrBy { key, field, delta } => {
                let e = model
                    .entry(key.clone())
                    .or_insert_with(|| fresh(Val::Hash(BTreeMap::new())));
                let Val::Hash(h) = &mut e.val else {
                    unreachable!("hash keys hold hashes")
                };
                let old: i64 = h.get(field).map_or(0, |v| {
                    std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .expect("counter fields hold integers")
                });
                h.insert(field.clone(), (old + delta).to_string().into_bytes());
                Reply::Int(old + delta)
            }
            Op::SAdd { key, members } => {
                let e = model
                    .entry(key.clone())
                    .or_insert_with(|| fresh(Val::Set(BTreeSet::new())));
                let Val::Set(s) = &mut e.val else {
                    unreachable!("set keys hold sets")
                };
                Reply::Int(members.iter().filter(|m| s.insert(m.to_vec())).count() as i64)
            }
            Op::SRem { key, members } => match model.get_mut(key) {
                None => Reply::Int(0),
                Some(e) => {
                    let Val::Set(s) = &mut e.val else {
                        unreachable!("set keys hold sets")
                    };
                    Reply::Int(members.iter().filter(|m| s.remove(*m)).count() as i64)
                }
            },
            Op::ZAdd { key, pairs } => {
                let e = model
                    .entry(key.clone())
                    .or_insert_with(|| fresh(Val::ZSet(BTreeMap::new())));
                let Val::ZSet(z) = &mut e.val else {
                    unreachable!("zset keys hold sorted sets")
                };
                let added = pairs
                    .iter()
                    .filter(|(s, m)| z.insert(m.clone(), *s).is_none())
                    .count();
                Reply::Int(added as i64)
            }
            Op::ZIncrBy { key, delta, member } => {
                let e = model
                    .entry(key.clone())
                    .or_insert_with(|| fresh(Val::ZSet(BTreeMap::new())));
                let Val::ZSet(z) = &mut e.val else {
                    unreachable!("zset keys hold sorted sets")
                };
                let score = z.entry(member.clone()).or_insert(0.0);
                *score += delta;
                Reply::Score(*score)
            }
            Op::ZRem { key, members } => match model.get_mut(key) {
                None => Reply::Int(0),
                Some(e) => {
                    let Val::ZSet(z) = &mut e.val else {
                        unreachable!("zset keys hold sorted sets")
                    };
                    Reply::Int(members.iter().filter(|m| z.remove(*m).is_some()).count() as i64)
                }
            },
            Op::Expire { key, .. } => match model.get_mut(key) {
                None => Reply::Int(0),
                Some(e) => {
                    e.expires = true;
                    Reply::Int(1)
                }
            },
            Op::Del { key } => Reply::Int(i64::from(model.remove(key).is_some())),
            Op::LMove {
                src,
                dst,
                from_left,
                to_left,
            } => {
                let item = model.get_mut(src).map(|e| {
                    let Val::List(l) = &mut e.val else {
                        unreachable!("list keys hold lists")
                    };
                    let item = if *from_left {
                        l.pop_front()
                    } else {
                        l.pop_back()
                    };
                    item.expect("empty lists are deleted")
                });
                if let Some(item) = &item {
                    // An emptied source is deleted below, after the push: LMOVE k k rotates.
                    let e = model
                        .entry(dst.clone())
                        .or_insert_with(|| fresh(Val::List(VecDeque::new())));
                    let Val::List(l) = &mut e.val else {
                        unreachable!("list keys hold lists")
                    };
                    if *to_left {
                        l.push_front(item.clone());
                    } else {
                        l.push_back(item.clone());
                    }
                }
                Reply::Bulk(item)
            }
            Op::SMove { src, dst, member } => {
                let present = matches!(model.get(src), Some(Entry { val: Val::Set(s), .. }) if s.contains(member));
                if present && src != dst {
                    if let Some(Entry {
                        val: Val::Set(s), ..
                    }) = model.get_mut(src)
                    {
                        s.remove(member);
                    }
                    let e = model
                        .entry(dst.clone())
                        .or_insert_with(|| fresh(Val::Set(BTreeSet::new())));
                    let Val::Set(s) = &mut e.val else {
                        unreachable!("set keys hold sets")
                    };
                    s.insert(member.clone());
                }
                Reply::Int(i64::from(present))
            }
            Op::SStore { name, dst, keys } => {
                let set = |k: &String| match model.get(k) {
                    Some(Entry {
                        val: Val::Set(s), ..
                    }) => s.clone(),
                    _ => BTreeSet::new(),
                };
                let (a, b) = (set(&keys[0]), set(&keys[1]));
                let result: BTreeSet<Vec<u8>> = match *name {
                    "SUNIONSTORE" => a.union(&b).cloned().collect(),
                    "SINTERSTORE" => a.intersection(&b).cloned().collect(),
                    _ => a.difference(&b).cloned().collect(),
                };
                let n = result.len() as i64;
                // The destination is replaced, TTL included.
                model.insert(dst.clone(), fresh(Val::Set(result)));
                Reply::Int(n)
            }
            Op::ZStore { union, dst, keys } => {
                let zset = |k: &String| match model.get(k) {
                    Some(Entry {
                        val: Val::ZSet(z), ..
                    }) => z.clone(),
                    _ => BTreeMap::new(),
                };
                let (a, b) = (zset(&keys[0]), zset(&keys[1]));
                let mut result = BTreeMap::new();
                for (m, s) in &a {
                    match b.get(m) {
                        Some(t) => {
                            result.insert(m.clone(), s + t);
                        }
                        None if *union => {
                            result.insert(m.clone(), *s);
                        }
                        None => {}
                    }
                }
                if *union {
                    for (m, t) in &b {
                        result.entry(m.clone()).or_insert(*t);
                    }
                }
                let n = result.len() as i64;
                model.insert(dst.clone(), fresh(Val::ZSet(result)));
                Reply::Int(n)
            }
            Op::Rename { src, dst } => {
                let e = model
                    .remove(src)
                    .expect("RENAME is generated for existing keys");
                model.insert(dst.clone(), e);
                Reply::Ok
            }
        };
        // A container that becomes empty is deleted, as in Redis (and its TTL with it).
        model.retain(|_, e| match &e.val {
            Val::List(l) => !l.is_empty(),
            Val::Hash(h) => !h.is_empty(),
            Val::Set(s) => !s.is_empty(),
            Val::ZSet(z) => !z.is_empty(),
        });
        reply
    }
}

impl Reply {
    fn matches(&self, got: &Value) -> bool {
        let bulk_eq = |want: &[u8], got: &Value| matches!(got, Value::BulkString(b) if b == want);
        match (self, got) {
            (Reply::Ok, Value::Okay) => true,
            (Reply::Int(a), Value::Int(b)) => a == b,
            (Reply::Bulk(None) | Reply::Array(None), Value::Nil) => true,
            (Reply::Bulk(Some(a)), got) => bulk_eq(a, got),
            (Reply::Array(Some(a)), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| bulk_eq(a, b))
            }
            (Reply::Score(a), Value::BulkString(b)) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .is_some_and(|b| b == *a),
            _ => false,
        }
    }
}

/// Elements, members and values: short ones, an empty one, binary ones and a few long enough
/// not to be stored inline.
fn element(rng: &mut Rng) -> Vec<u8> {
    match rng.below(10) {
        0 => Vec::new(),
        1 => b"bin\x00\r\n\xff".to_vec(),
        2 => vec![b'x'; 100 + rng.below(200) as usize],
        _ => format!("v{}", rng.below(1000)).into_bytes(),
    }
}

/// Members of sets and sorted sets and hash fields come from a small universe, so adds and
/// removes meet. Fields starting with `c` are counters: they only ever hold integers.
const MEMBERS: [&[u8]; 10] = [
    b"a",
    b"b",
    b"c0",
    b"c1",
    b"",
    b"sp ace",
    b"nl\r\n",
    b"\x00\xff",
    b"m8",
    b"m9",
];

fn member(rng: &mut Rng) -> Vec<u8> {
    rng.pick(&MEMBERS).to_vec()
}

/// Scores: integers, binary fractions and decimal fractions (0.1 has no exact binary form,
/// so its printing and parsing must round-trip).
fn score(rng: &mut Rng) -> f64 {
    let n = rng.below(201) as f64 - 100.0;
    match rng.below(3) {
        0 => n,
        1 => n / 8.0,
        _ => n / 10.0,
    }
}

fn random_op(rng: &mut Rng, writer: usize, model: &Model) -> Op {
    let kind = *rng.pick(&KINDS);
    let key = key_name(writer, kind, rng.below(KEYS_PER_KIND as u64) as usize);
    match rng.below(100) {
        0..=5 => {
            return Op::Expire {
                key,
                secs: 1000 + rng.below(1000),
            };
        }
        6..=7 => return Op::Del { key },
        _ => {}
    }
    // Commands on two keys of the same type, some of them the same key.
    if rng.below(100) < 12 {
        let other = key_name(writer, kind, rng.below(KEYS_PER_KIND as u64) as usize);
        if rng.below(4) == 0 && model.contains_key(&key) && key != other {
            return Op::Rename {
                src: key,
                dst: other,
            };
        }
        match kind {
            Kind::List => {
                return Op::LMove {
                    src: key,
                    dst: other,
                    from_left: rng.below(2) == 0,
                    to_left: rng.below(2) == 0,
                };
            }
            Kind::Set if rng.below(2) == 0 => {
                return Op::SMove {
                    src: key,
                    dst: other,
                    member: member(rng),
                };
            }
            Kind::Set => {
                let third = key_name(writer, kind, rng.below(KEYS_PER_KIND as u64) as usize);
                return Op::SStore {
                    name: ["SUNIONSTORE", "SINTERSTORE", "SDIFFSTORE"][rng.below(3) as usize],
                    dst: third,
                    keys: [key, other],
                };
            }
            Kind::ZSet => {
                let third = key_name(writer, kind, rng.below(KEYS_PER_KIND as u64) as usize);
                return Op::ZStore {
                    union: rng.below(2) == 0,
                    dst: third,
                    keys: [key, other],
                };
            }
            Kind::Hash => {}
        }
    }
    let roll = rng.below(10);
    match kind {
        Kind::List => {
            let long = matches!(model.get(&key), Some(Entry { val: Val::List(l), .. }) if l.len() > MAX_LIST);
            let left = rng.below(2) == 0;
            if roll < 6 && !long {
                Op::Push {
                    key,
                    left,
                    items: rng.some(3, element),
                }
            } else {
                let count = (rng.below(2) == 0).then(|| 1 + rng.below(3));
                Op::Pop { key, left, count }
            }
        }
        Kind::Hash => match roll {
            0..=4 => Op::HSet {
                key,
                pairs: rng.some(3, |rng| {
                    let f = member(rng);
                    let v = if f.starts_with(b"c") {
                        (rng.below(2001) as i64 - 1000).to_string().into_bytes()
                    } else {
                        element(rng)
                    };
                    (f, v)
                }),
            },
            5..=6 => Op::HDel {
                key,
                fields: rng.some(2, member),
            },
            _ => Op::HIncrBy {
                key,
                field: format!("c{}", rng.below(2)).into_bytes(),
                delta: rng.below(201) as i64 - 100,
            },
        },
        Kind::Set => {
            if roll < 6 {
                Op::SAdd {
                    key,
                    members: rng.some(3, member),
                }
            } else {
                Op::SRem {
                    key,
                    members: rng.some(2, member),
                }
            }
        }
        Kind::ZSet => match roll {
            0..=4 => Op::ZAdd {
                key,
                pairs: rng.some(3, |rng| (score(rng), member(rng))),
            },
            5..=6 => Op::ZIncrBy {
                key,
                delta: score(rng),
                member: member(rng),
            },
            _ => Op::ZRem {
                key,
                members: rng.some(2, member),
            },
        },
    }
}

/// What a writer hands back when its connection dies: the acknowledged model, the operations
/// whose replies never came (some prefix of them may have been applied), and how many were
/// acknowledged.
struct Outcome {
    model: Model,
    in_flight: Vec<Op>,
    /// The acknowledged operations, in order, for a failure message.
    history: Vec<Op>,
}

/// Runs random operations, one at a time or in pipelined batches (which the server commits
/// once, before the batch's replies), until the connection breaks (the server was killed),
/// checking every reply against the model.
fn write_until_killed(
    addr: SocketAddr,
    writer: usize,
    seed: u64,
    mut model: Model,
    start: &Barrier,
) -> Outcome {
    let mut con = redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_connection()
        .expect("writer connects");
    let mut rng = Rng::new(seed);
    let mut history = Vec::new();
    start.wait();
    loop {
        let batch = if rng.below(4) == 0 {
            2 + rng.below(5)
        } else {
            1
        };
        // Each operation is chosen knowing the effects of the ones before it in the batch.
        let mut scratch = model.clone();
        let ops: Vec<Op> = (0..batch)
            .map(|_| {
                let op = random_op(&mut rng, writer, &scratch);
                op.apply(&mut scratch);
                op
            })
            .collect();
        let mut pipe = redis::pipe();
        for op in &ops {
            let mut cmd = redis::Cmd::new();
            for a in op.args() {
                cmd.arg(a);
            }
            pipe.add_command(cmd);
        }
        match pipe.query::<Vec<Value>>(&mut con) {
            Ok(replies) => {
                assert_eq!(replies.len(), ops.len(), "one reply per command");
                for (op, got) in ops.iter().zip(&replies) {
                    let want = op.apply(&mut model);
                    assert!(
                        want.matches(got),
                        "writer {writer} (seed {seed}): {} answered {got:?}, the model says \
                         {want:?}",
                        show_ops(std::slice::from_ref(op))
                    );
                }
                history.extend(ops);
            }
            // An error reply is the server answering: none of these commands may fail.
            Err(e) if e.code().is_some() => {
                panic!(
                    "writer {writer} (seed {seed}): {} failed: {}",
                    show_ops(&ops),
                    error_text(&e)
                )
            }
            Err(_) => {
                return Outcome {
                    model,
                    in_flight: ops,
                    history,
                };
            }
        }
    }
}

fn query(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::Cmd::new();
    for a in args {
        cmd.arg(*a);
    }
    cmd.query(con)
        .unwrap_or_else(|e| panic!("{args:?}: {}", error_text(&e)))
}

fn bulks(v: Value) -> Vec<Vec<u8>> {
    let Value::Array(items) = v else {
        panic!("expected an array, got {v:?}")
    };
    items
        .into_iter()
        .map(|i| match i {
            Value::BulkString(b) => b,
            other => panic!("expected a bulk string, got {other:?}"),
        })
        .collect()
}

/// Reads every key `writer` may have written, in full, from the server.
fn observe(con: &mut redis::Connection, writer: usize) -> Model {
    let mut model = Model::new();
    for kind in KINDS {
        for i in 0..KEYS_PER_KIND {
            let key = key_name(writer, kind, i);
            let Value::SimpleString(ty) = query(con, &["TYPE", &key]) else {
                panic!("TYPE answers a status")
            };
            let val = match ty.as_str() {
                "none" => continue,
                "list" => Val::List(bulks(query(con, &["LRANGE", &key, "0", "-1"])).into()),
                "hash" => {
                    let flat = bulks(query(con, &["HGETALL", &key]));
                    let h: BTreeMap<_, _> = flat
                        .chunks(2)
                        .map(|p| (p[0].clone(), p[1].clone()))
                        .collect();
                    assert_eq!(h.len() * 2, flat.len(), "HGETALL {key} repeats a field");
                    Val::Hash(h)
                }
                "set" => {
                    let flat = bulks(query(con, &["SMEMBERS", &key]));
                    let s: BTreeSet<_> = flat.iter().cloned().collect();
                    assert_eq!(s.len(), flat.len(), "SMEMBERS {key} repeats a member");
                    Val::Set(s)
                }
                "zset" => {
                    let flat = bulks(query(con, &["ZRANGE", &key, "0", "-1", "WITHSCORES"]));
                    let pairs: Vec<(Vec<u8>, f64)> = flat
                        .chunks(2)
                        .map(|p| {
                            let s = std::str::from_utf8(&p[1]).unwrap();
                            (p[0].clone(), s.parse().expect("scores parse"))
                        })
                        .collect();
                    let in_order = pairs.windows(2).all(|w| {
                        let (a, b) = (&w[0], &w[1]);
                        a.1 < b.1 || (a.1 == b.1 && a.0 < b.0)
                    });
                    assert!(in_order, "ZRANGE {key} is out of order: {pairs:?}");
                    Val::ZSet(pairs.into_iter().collect())
                }
                other => panic!("{key} has type {other}"),
            };
            let Value::Int(ttl) = query(con, &["TTL", &key]) else {
                panic!("TTL answers an integer")
            };
            assert!(ttl == -1 || ttl > 0, "{key} has TTL {ttl}");
            model.insert(
                key,
                Entry {
                    val,
                    expires: ttl > 0,
                },
            );
        }
    }
    model
}

/// A value, readable in a failure message: escaped, and long ones shortened.
fn show_bytes(b: &[u8]) -> String {
    if b.len() > 24 {
        format!("\"{}\"...({} bytes)", b[..16].escape_ascii(), b.len())
    } else {
        format!("\"{}\"", b.escape_ascii())
    }
}

fn show_entry(e: Option<&Entry>) -> String {
    let Some(e) = e else {
        return "(none)".into();
    };
    let items: Vec<String> = match &e.val {
        Val::List(l) => l.iter().map(|b| show_bytes(b)).collect(),
        Val::Hash(h) => h
            .iter()
            .map(|(f, v)| format!("{}={}", show_bytes(f), show_bytes(v)))
            .collect(),
        Val::Set(s) => s.iter().map(|b| show_bytes(b)).collect(),
        Val::ZSet(z) => z
            .iter()
            .map(|(m, s)| format!("{}:{s}", show_bytes(m)))
            .collect(),
    };
    let ttl = if e.expires { " with a TTL" } else { "" };
    format!("[{}]{ttl}", items.join(", "))
}

fn show_ops(ops: &[Op]) -> String {
    if ops.is_empty() {
        return "nothing".into();
    }
    let ops: Vec<String> = ops
        .iter()
        .map(|op| {
            let args: Vec<String> = op.args().iter().map(|a| show_bytes(a)).collect();
            args.join(" ")
        })
        .collect();
    ops.join("; ")
}

/// Keys on which two models differ, with the last acknowledged writes to each since the
/// previous restart, for a failure message.
fn diff(want: &Model, got: &Model, history: &[Op]) -> String {
    let keys: BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    keys.into_iter()
        .filter(|k| want.get(*k) != got.get(*k))
        .map(|k| {
            let touching: Vec<Op> = history
                .iter()
                .filter(|op| op.args().iter().any(|a| a == k.as_bytes()))
                .cloned()
                .collect();
            let last = &touching[touching.len().saturating_sub(8)..];
            format!(
                "  {k}:\n    model:  {}\n    server: {}\n    last writes since the previous \
                 restart ({} in all): {}\n",
                show_entry(want.get(k)),
                show_entry(got.get(k)),
                touching.len(),
                show_ops(last)
            )
        })
        .collect()
}

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("kvserver-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8 here")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn info_field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO lacks {name}:\n{info}"))
}

#[test]
fn every_container_type_survives_kill_9() {
    let seed = std::env::var("KV_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash_types: KV_CRASH_SEED={seed}");
    let mut rng = Rng::new(seed);
    let dir = TempDir::new("crash-types");
    let start = || {
        Server::start_raw(&[
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            dir.path(),
            "--sync",
            "always",
        ])
    };
    let mut models = vec![Model::new(); WRITERS];
    let mut in_flight: Vec<Vec<Op>> = vec![Vec::new(); WRITERS];
    let mut histories: Vec<Vec<Op>> = vec![Vec::new(); WRITERS];
    let (mut acked, mut ambiguous, mut snapshot_loads, mut log_only) = (0, 0, 0, 0);
    for cycle in 0..=CYCLES {
        let server = start();
        let mut con = server.client();
        for w in 0..WRITERS {
            let got = observe(&mut con, w);
            if got == models[w] {
                continue;
            }
            // Writes in flight at the kill were applied: that is allowed for a prefix of them
            // (the log keeps a connection's writes in order), and from now on it is part of
            // the model.
            let mut applied = models[w].clone();
            let mut matched = false;
            for op in &in_flight[w] {
                op.apply(&mut applied);
                if got == applied {
                    matched = true;
                    break;
                }
            }
            assert!(
                matched,
                "seed {seed}, restart {cycle}, writer {w}: the server lost or invented data \
                 (in flight at the kill: {})\n{}",
                show_ops(&in_flight[w]),
                diff(&models[w], &got, &histories[w])
            );
            models[w] = applied;
            ambiguous += 1;
        }
        let Value::BulkString(info) = query(&mut con, &["INFO", "persistence"]) else {
            panic!("INFO answers a bulk string")
        };
        let info = String::from_utf8_lossy(&info);
        let from_snapshot = info_field(&info, "kv_recovered_keys");
        let replayed = info_field(&info, "kv_recovered_records");
        snapshot_loads += u64::from(from_snapshot > 0);
        log_only += u64::from(from_snapshot == 0 && replayed > 0);
        if cycle == CYCLES {
            break;
        }

        let barrier = Arc::new(Barrier::new(WRITERS + 1));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (addr, barrier) = (server.addr, Arc::clone(&barrier));
                let model = std::mem::take(&mut models[w]);
                let seed = rng.next();
                std::thread::spawn(move || write_until_killed(addr, w, seed, model, &barrier))
            })
            .collect();
        barrier.wait();
        let run = Duration::from_millis(50 + rng.below(251));
        // Cycle 1, 4, 7 take a snapshot in the background, 2 and 5 a foreground one, partway
        // through the writes; either may still be running when the kill comes.
        let snapshot = ["", "BGSAVE", "SAVE"][cycle % 3];
        if snapshot.is_empty() {
            std::thread::sleep(run);
        } else {
            let at = run.mul_f64(rng.below(100) as f64 / 100.0);
            std::thread::sleep(at);
            match redis::cmd(snapshot).query::<Value>(&mut con) {
                Ok(_) => {}
                Err(e) => assert_eq!(
                    error_text(&e),
                    "ERR Background save already in progress",
                    "{snapshot} (seed {seed})"
                ),
            }
            std::thread::sleep(run.saturating_sub(at));
        }
        // Dropping the guard sends SIGKILL: no shutdown path runs.
        drop(server);
        for (w, t) in writers.into_iter().enumerate() {
            let out = t
                .join()
                .unwrap_or_else(|_| panic!("writer {w} failed its checks (seed {seed})"));
            models[w] = out.model;
            in_flight[w] = out.in_flight;
            acked += out.history.len();
            histories[w] = out.history;
        }
    }
    eprintln!(
        "crash_types: {CYCLES} kills, {acked} acknowledged writes, {ambiguous} in-flight writes \
         found applied, {snapshot_loads} restarts loaded a snapshot, {log_only} replayed the log alone"
    );
    assert!(acked > 0, "no write was acknowledged (seed {seed})");
    // Both recovery paths ran: the log alone (after cycle 0, which takes no snapshot), and a
    // snapshot plus the log after it.
    assert!(
        snapshot_loads > 0,
        "no restart loaded a snapshot (seed {seed})"
    );
    assert!(
        log_only > 0,
        "no restart replayed the log alone (seed {seed})"
    );
}
