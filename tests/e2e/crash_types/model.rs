//! The model of the crash test: the operations writers send, what each does to a writer's keys
//! and the reply it must get, and how they are chosen.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use redis::Value;

/// Keys of each type per writer.
pub(super) const KEYS_PER_KIND: usize = 3;
/// Lists longer than this are popped rather than pushed, so values stay small.
const MAX_LIST: usize = 24;

/// xorshift64*: a seeded generator without a dependency.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// 1 to `max` items from `generate`.
    fn some<T>(&mut self, max: u64, mut generate: impl FnMut(&mut Rng) -> T) -> Vec<T> {
        let n = 1 + self.below(max);
        (0..n).map(|_| generate(self)).collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Kind {
    List,
    Hash,
    Set,
    ZSet,
    Stream,
}

pub(super) const KINDS: [Kind; 5] = [Kind::List, Kind::Hash, Kind::Set, Kind::ZSet, Kind::Stream];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::List => "list",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::Stream => "stream",
        }
    }
}

pub(super) fn key_name(writer: usize, kind: Kind, i: usize) -> String {
    format!("w{writer}:{}:{i}", kind.name())
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Val {
    List(VecDeque<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, f64>),
    /// A stream's entries, oldest first. The writers never delete a stream's newest entry (nor
    /// use XSETID), so its last ID is its newest entry's and XADD's `<ms>-*` IDs are
    /// predictable.
    Stream(Vec<StreamEntry>),
}

/// A stream entry: its ID (ms, seq) and its field/value pairs.
pub(super) type StreamEntry = ((u64, u64), Vec<(Vec<u8>, Vec<u8>)>);

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Entry {
    pub(super) val: Val,
    /// An EXPIRE far in the future was applied (the check wants TTL > 0, not -1).
    pub(super) expires: bool,
}

/// One writer's keys, as acknowledged.
pub(super) type Model = BTreeMap<String, Entry>;

#[derive(Clone, Debug)]
pub(super) enum Op {
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
    /// Generated only for an index inside an existing list.
    LSet {
        key: String,
        index: i64,
        item: Vec<u8>,
    },
    LTrim {
        key: String,
        start: i64,
        stop: i64,
    },
    LRem {
        key: String,
        count: i64,
        item: Vec<u8>,
    },
    LInsert {
        key: String,
        before: bool,
        pivot: Vec<u8>,
        item: Vec<u8>,
    },
    /// Generated for fields that are not counters.
    HSetNx {
        key: String,
        field: Vec<u8>,
        value: Vec<u8>,
    },
    /// ZADD with one of NX, XX, GT, LT, and CH or not.
    ZAddWith {
        key: String,
        flag: &'static str,
        ch: bool,
        pairs: Vec<(f64, Vec<u8>)>,
    },
    ZPopMin {
        key: String,
        count: u64,
    },
    ZRemRangeByScore {
        key: String,
        min: f64,
        max: f64,
    },
    Persist {
        key: String,
    },
    /// XADD key [MAXLEN n] <ms>-* field value ...: `ms` is never below the last ID's.
    XAdd {
        key: String,
        ms: u64,
        maxlen: Option<u64>,
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// Generated never to name a stream's newest entry.
    XDel {
        key: String,
        ids: Vec<(u64, u64)>,
    },
    /// XTRIM key MAXLEN n, n >= 1 (the newest entry stays).
    XTrim {
        key: String,
        maxlen: u64,
    },
}

/// The reply an acknowledged operation must have had.
#[derive(Debug)]
pub(super) enum Reply {
    Ok,
    /// Members with their scores, as ZPOPMIN answers (flat, in RESP2).
    Scored(Vec<(Vec<u8>, f64)>),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Vec<u8>>>),
    Score(f64),
}

impl Op {
    pub(super) fn args(&self) -> Vec<Vec<u8>> {
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
            Op::LSet { key, index, item } => {
                out.extend([b("LSET"), b(key), b(&index.to_string()), item.clone()]);
            }
            Op::LTrim { key, start, stop } => {
                out.extend([
                    b("LTRIM"),
                    b(key),
                    b(&start.to_string()),
                    b(&stop.to_string()),
                ]);
            }
            Op::LRem { key, count, item } => {
                out.extend([b("LREM"), b(key), b(&count.to_string()), item.clone()]);
            }
            Op::LInsert {
                key,
                before,
                pivot,
                item,
            } => {
                let side = if *before { "BEFORE" } else { "AFTER" };
                out.extend([b("LINSERT"), b(key), b(side), pivot.clone(), item.clone()]);
            }
            Op::HSetNx { key, field, value } => {
                out.extend([b("HSETNX"), b(key), field.clone(), value.clone()]);
            }
            Op::ZAddWith {
                key,
                flag,
                ch,
                pairs,
            } => {
                out.extend([b("ZADD"), b(key), b(flag)]);
                if *ch {
                    out.push(b("CH"));
                }
                for (s, m) in pairs {
                    out.extend([b(&s.to_string()), m.clone()]);
                }
            }
            Op::ZPopMin { key, count } => {
                out.extend([b("ZPOPMIN"), b(key), b(&count.to_string())]);
            }
            Op::ZRemRangeByScore { key, min, max } => {
                out.extend([
                    b("ZREMRANGEBYSCORE"),
                    b(key),
                    b(&min.to_string()),
                    b(&max.to_string()),
                ]);
            }
            Op::Persist { key } => out.extend([b("PERSIST"), b(key)]),
            Op::XAdd {
                key,
                ms,
                maxlen,
                pairs,
            } => {
                out.extend([b("XADD"), b(key)]);
                if let Some(n) = maxlen {
                    out.extend([b("MAXLEN"), b(&n.to_string())]);
                }
                out.push(b(&format!("{ms}-*")));
                for (f, v) in pairs {
                    out.extend([f.clone(), v.clone()]);
                }
            }
            Op::XDel { key, ids } => {
                out.extend([b("XDEL"), b(key)]);
                out.extend(ids.iter().map(|(ms, seq)| b(&format!("{ms}-{seq}"))));
            }
            Op::XTrim { key, maxlen } => {
                out.extend([b("XTRIM"), b(key), b("MAXLEN"), b(&maxlen.to_string())])
            }
        }
        out
    }

    /// Applies the operation to `model` as Redis would, and returns the reply Redis gives.
    pub(super) fn apply(&self, model: &mut Model) -> Reply {
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
            Op::LSet { key, index, item } => {
                let l = list_mut(model, key).expect("LSET is generated for existing lists");
                let i = if *index < 0 {
                    *index + l.len() as i64
                } else {
                    *index
                };
                l[i as usize] = item.clone();
                Reply::Ok
            }
            Op::LTrim { key, start, stop } => {
                if let Some(l) = list_mut(model, key) {
                    let len = l.len() as i64;
                    let start = if *start < 0 { start + len } else { *start }.max(0);
                    let stop = if *stop < 0 { stop + len } else { *stop }.min(len - 1);
                    if start > stop {
                        l.clear();
                    } else {
                        l.truncate(stop as usize + 1);
                        l.drain(..start as usize);
                    }
                }
                Reply::Ok
            }
            Op::LRem { key, count, item } => match list_mut(model, key) {
                None => Reply::Int(0),
                Some(l) => {
                    let limit = if *count == 0 {
                        usize::MAX
                    } else {
                        count.unsigned_abs() as usize
                    };
                    let mut hits: Vec<usize> = l
                        .iter()
                        .enumerate()
                        .filter(|(_, x)| *x == item)
                        .map(|(i, _)| i)
                        .collect();
                    if *count < 0 {
                        hits.reverse();
                    }
                    hits.truncate(limit);
                    hits.sort_unstable();
                    for i in hits.iter().rev() {
                        l.remove(*i);
                    }
                    Reply::Int(hits.len() as i64)
                }
            },
            Op::LInsert {
                key,
                before,
                pivot,
                item,
            } => match list_mut(model, key) {
                None => Reply::Int(0),
                Some(l) => match l.iter().position(|x| x == pivot) {
                    None => Reply::Int(-1),
                    Some(i) => {
                        l.insert(if *before { i } else { i + 1 }, item.clone());
                        Reply::Int(l.len() as i64)
                    }
                },
            },
            Op::HSetNx { key, field, value } => {
                let e = model
                    .entry(key.clone())
                    .or_insert_with(|| fresh(Val::Hash(BTreeMap::new())));
                let Val::Hash(h) = &mut e.val else {
                    unreachable!("hash keys hold hashes")
                };
                let new = !h.contains_key(field);
                if new {
                    h.insert(field.clone(), value.clone());
                }
                Reply::Int(i64::from(new))
            }
            Op::ZAddWith {
                key,
                flag,
                ch,
                pairs,
            } => {
                let e = model
                    .entry(key.clone())
                    .or_insert_with(|| fresh(Val::ZSet(BTreeMap::new())));
                let Val::ZSet(z) = &mut e.val else {
                    unreachable!("zset keys hold sorted sets")
                };
                let (mut added, mut changed) = (0, 0);
                for (s, m) in pairs {
                    match z.get(m).copied() {
                        None if *flag == "XX" => {}
                        None => {
                            z.insert(m.clone(), *s);
                            added += 1;
                        }
                        Some(old) => {
                            let update = match *flag {
                                "NX" => false,
                                "GT" => *s > old,
                                "LT" => *s < old,
                                _ => true,
                            };
                            if update && *s != old {
                                z.insert(m.clone(), *s);
                                changed += 1;
                            }
                        }
                    }
                }
                Reply::Int(if *ch { added + changed } else { added })
            }
            Op::ZPopMin { key, count } => match model.get_mut(key) {
                None => Reply::Scored(Vec::new()),
                Some(e) => {
                    let Val::ZSet(z) = &mut e.val else {
                        unreachable!("zset keys hold sorted sets")
                    };
                    let mut order: Vec<(Vec<u8>, f64)> =
                        z.iter().map(|(m, s)| (m.clone(), *s)).collect();
                    order.sort_by(|a, b| {
                        a.1.partial_cmp(&b.1)
                            .expect("scores are never NaN")
                            .then_with(|| a.0.cmp(&b.0))
                    });
                    order.truncate(*count as usize);
                    for (m, _) in &order {
                        z.remove(m);
                    }
                    Reply::Scored(order)
                }
            },
            Op::ZRemRangeByScore { key, min, max } => match model.get_mut(key) {
                None => Reply::Int(0),
                Some(e) => {
                    let Val::ZSet(z) = &mut e.val else {
                        unreachable!("zset keys hold sorted sets")
                    };
                    let before = z.len();
                    z.retain(|_, s| !(*min <= *s && *s <= *max));
                    Reply::Int((before - z.len()) as i64)
                }
            },
            Op::XAdd {
                key,
                ms,
                maxlen,
                pairs,
            } => {
                let e = model
                    .entry(key.clone())
                    .or_insert_with(|| fresh(Val::Stream(Vec::new())));
                let Val::Stream(s) = &mut e.val else {
                    unreachable!("stream keys hold streams")
                };
                let last = s.last().map_or((0, 0), |(id, _)| *id);
                let id = if *ms == last.0 {
                    (*ms, last.1 + 1)
                } else {
                    (*ms, 0)
                };
                s.push((id, pairs.clone()));
                if let Some(n) = maxlen {
                    let excess = s.len().saturating_sub(*n as usize);
                    s.drain(..excess);
                }
                Reply::Bulk(Some(format!("{}-{}", id.0, id.1).into_bytes()))
            }
            Op::XDel { key, ids } => match model.get_mut(key) {
                Some(Entry {
                    val: Val::Stream(s),
                    ..
                }) => {
                    let before = s.len();
                    s.retain(|(id, _)| !ids.contains(id));
                    Reply::Int((before - s.len()) as i64)
                }
                _ => Reply::Int(0),
            },
            Op::XTrim { key, maxlen } => match model.get_mut(key) {
                Some(Entry {
                    val: Val::Stream(s),
                    ..
                }) => {
                    let excess = s.len().saturating_sub(*maxlen as usize);
                    s.drain(..excess);
                    Reply::Int(excess as i64)
                }
                _ => Reply::Int(0),
            },
            Op::Persist { key } => match model.get_mut(key) {
                Some(e) if e.expires => {
                    e.expires = false;
                    Reply::Int(1)
                }
                _ => Reply::Int(0),
            },
        };
        // A container that becomes empty is deleted, as in Redis (and its TTL with it).
        model.retain(|_, e| match &e.val {
            Val::List(l) => !l.is_empty(),
            Val::Hash(h) => !h.is_empty(),
            Val::Set(s) => !s.is_empty(),
            Val::ZSet(z) => !z.is_empty(),
            // An emptied stream stays (the writers never empty one anyway).
            Val::Stream(_) => true,
        });
        reply
    }
}

/// The list at `key`, if there is one.
fn list_mut<'m>(model: &'m mut Model, key: &str) -> Option<&'m mut VecDeque<Vec<u8>>> {
    match model.get_mut(key) {
        Some(Entry {
            val: Val::List(l), ..
        }) => Some(l),
        Some(_) => unreachable!("list keys hold lists"),
        None => None,
    }
}

impl Reply {
    pub(super) fn matches(&self, got: &Value) -> bool {
        let bulk_eq = |want: &[u8], got: &Value| matches!(got, Value::BulkString(b) if b == want);
        match (self, got) {
            (Reply::Ok, Value::Okay) => true,
            (Reply::Scored(want), Value::Array(got)) => {
                want.len() * 2 == got.len()
                    && want.iter().zip(got.chunks(2)).all(|((m, s), pair)| {
                        bulk_eq(m, &pair[0]) && Reply::Score(*s).matches(&pair[1])
                    })
            }
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

pub(super) fn random_op(rng: &mut Rng, writer: usize, model: &Model) -> Op {
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
            Kind::Hash | Kind::Stream => {}
        }
    }
    if rng.below(100) < 15
        && let Some(op) = edit_op(rng, kind, key.clone(), model)
    {
        return op;
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
        Kind::Stream => {
            let entries = match model.get(&key) {
                Some(Entry {
                    val: Val::Stream(s),
                    ..
                }) => s.as_slice(),
                _ => &[],
            };
            let last = entries.last().map(|(id, _)| *id);
            match roll {
                0..=5 => Op::XAdd {
                    key,
                    ms: last.map_or(1 + rng.below(3), |(ms, _)| ms + rng.below(2)),
                    maxlen: (rng.below(4) == 0).then(|| 1 + rng.below(6)),
                    pairs: rng.some(2, |rng| (member(rng), element(rng))),
                },
                // Older entries, and IDs that never existed; never the newest.
                6..=7 => {
                    let missing = (1_000_000 + rng.below(10), 0);
                    let mut ids: Vec<(u64, u64)> = entries[..entries.len().saturating_sub(1)]
                        .iter()
                        .map(|(id, _)| *id)
                        .filter(|_| rng.below(3) == 0)
                        .take(2)
                        .collect();
                    ids.push(missing);
                    Op::XDel { key, ids }
                }
                _ => Op::XTrim {
                    key,
                    maxlen: 1 + rng.below(8),
                },
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

/// A value, readable in a failure message: escaped, and long ones shortened.
fn show_bytes(b: &[u8]) -> String {
    if b.len() > 24 {
        format!("\"{}\"...({} bytes)", b[..16].escape_ascii(), b.len())
    } else {
        format!("\"{}\"", b.escape_ascii())
    }
}

pub(super) fn show_entry(e: Option<&Entry>) -> String {
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
        Val::Stream(s) => s
            .iter()
            .map(|((ms, seq), pairs)| {
                let pairs: Vec<String> = pairs
                    .iter()
                    .map(|(f, v)| format!("{}={}", show_bytes(f), show_bytes(v)))
                    .collect();
                format!("{ms}-{seq} {}", pairs.join(" "))
            })
            .collect(),
    };
    let ttl = if e.expires { " with a TTL" } else { "" };
    format!("[{}]{ttl}", items.join(", "))
}

pub(super) fn show_ops(ops: &[Op]) -> String {
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

/// The less common commands: list edits, HSETNX, ZADD's flags, ZPOPMIN, ZREMRANGEBYSCORE and
/// PERSIST. `None` when none fits (LSET on a missing list, sets).
fn edit_op(rng: &mut Rng, kind: Kind, key: String, model: &Model) -> Option<Op> {
    if rng.below(6) == 0 {
        return Some(Op::Persist { key });
    }
    let list = match model.get(&key) {
        Some(Entry {
            val: Val::List(l), ..
        }) => Some(l),
        _ => None,
    };
    // An element of the list half the time, so LREM and LINSERT find something.
    let item = |rng: &mut Rng| match list {
        Some(l) if rng.below(2) == 0 => l[rng.below(l.len() as u64) as usize].clone(),
        _ => element(rng),
    };
    let signed = |rng: &mut Rng, span: u64| rng.below(2 * span + 1) as i64 - span as i64;
    Some(match kind {
        Kind::List => match rng.below(4) {
            0 => {
                let len = list?.len() as u64;
                Op::LSet {
                    key,
                    index: rng.below(2 * len) as i64 - len as i64,
                    item: element(rng),
                }
            }
            1 => Op::LTrim {
                key,
                start: signed(rng, 4),
                stop: signed(rng, 30),
            },
            2 => Op::LRem {
                key,
                count: signed(rng, 2),
                item: item(rng),
            },
            _ => Op::LInsert {
                key,
                before: rng.below(2) == 0,
                pivot: item(rng),
                item: element(rng),
            },
        },
        Kind::Hash => Op::HSetNx {
            key,
            field: [b"a".as_slice(), b"b", b"", b"m8"][rng.below(4) as usize].to_vec(),
            value: element(rng),
        },
        Kind::Set | Kind::Stream => return None,
        Kind::ZSet => match rng.below(3) {
            0 => Op::ZAddWith {
                key,
                flag: ["NX", "XX", "GT", "LT"][rng.below(4) as usize],
                ch: rng.below(2) == 0,
                pairs: rng.some(3, |rng| (score(rng), member(rng))),
            },
            1 => Op::ZPopMin {
                key,
                count: 1 + rng.below(2),
            },
            _ => {
                let (a, b) = (score(rng), score(rng));
                Op::ZRemRangeByScore {
                    key,
                    min: a.min(b),
                    max: a.max(b),
                }
            }
        },
    })
}
