//! The store against a plain model (`reference.rs`: a `HashMap` of keys to strings, `VecDeque`s,
//! `BTreeMap`s and `BTreeSet`s, with deadlines), driven by random operations of every type on a
//! few keys, on a manual clock that moves between operations. So WRONGTYPE, the creation and
//! deletion of emptied containers, TTLs carried by containers, and the multi-key forms meet.
//!
//! Every reply is compared with the model's. The whole keyspace (keys, types, contents, TTLs) is
//! compared every `every` steps and after the last one: reading everything after each step
//! would also expire keys lazily, and hide a write that mishandles an expired key.
//! `PROPTEST_CASES=5000 cargo test -p kvcore model` runs a longer search.

mod reference;

use kvcore::{
    Db, End, Error, ExpireCondition, HashStore, KeyType, Kv, LexBound, LexRange, ListStore,
    ManualClock, ScoreRange, ScoredMember, SetExpiry, SetOp, SetOptions, SetStore, Store, Ttl,
    ZAddFlags, ZRange, ZRangeBy, ZSetStore,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use crate::{T0, store};
use reference::{Model, Shown};

const KEYS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
/// Each type's commands mostly pick their own keys, so containers grow and the multi-key forms
/// meet their own type; the rest of the time any key, so types collide. Zsets and sets share
/// "e"; strings use every key.
const LIST_KEYS: &[K] = &[0, 1];
const HASH_KEYS: &[K] = &[2];
const SET_KEYS: &[K] = &[3, 4];
const ZSET_KEYS: &[K] = &[4, 5];
/// Values, fields and members. The last is longer than 64 bytes: it moves a hash, set or sorted
/// set out of its packed form for good.
const ELEMS: [&str; 7] = [
    "",
    "1",
    "x",
    "-5",
    "9223372036854775807",
    "a value that is longer than thirty bytes!",
    "a member of seventy bytes, which no packed hash, set or sorted set holds",
];
const SCORES: [f64; 7] = [0.0, 1.0, -1.5, 2.0, 7.25, f64::INFINITY, f64::NEG_INFINITY];

/// Indexes into `KEYS`, `ELEMS` and `SCORES`.
type K = usize;
type E = usize;
type S = usize;

/// A score range: (min, min exclusive, max, max exclusive), scores as indexes into `SCORES`.
type Bounds = (S, bool, S, bool);

/// One end of a lex range.
#[derive(Debug, Clone, Copy)]
enum Lex {
    Min,
    Max,
    Incl(E),
    Excl(E),
}

#[derive(Debug, Clone)]
enum Op {
    // Strings, and key commands on every type.
    Set(K, E),
    SetPx(K, E, u64),
    SetNx(K, E),
    Get(K),
    GetDel(K),
    Del(Vec<K>),
    Incr(K),
    Append(K, E),
    Pexpire(K, i64),
    Persist(K),
    Rename(K, K),
    Copy(K, K, bool),
    MSetNx(Vec<(K, E)>),
    Type(K),
    Advance(u64),
    ActiveExpire,
    // Lists.
    Push(K, End, Vec<E>),
    PushMany(K, End, E, usize),
    PushX(K, End, E),
    Pop(K, End),
    PopCount(K, End, usize),
    LLen(K),
    LRange(K, i64, i64),
    LIndex(K, i64),
    LSet(K, i64, E),
    LRem(K, i64, E),
    LTrim(K, i64, i64),
    LInsert(K, bool, E, E),
    LPos(K, E, i64, usize, usize),
    LMove(K, K, End, End),
    LMPop(Vec<K>, End, usize),
    // Hashes.
    HSet(K, Vec<(E, E)>),
    HSetNx(K, E, E),
    HGet(K, E),
    HMGet(K, Vec<E>),
    HDel(K, Vec<E>),
    HIncrBy(K, E, i64),
    HLen(K),
    HExists(K, E),
    HGetAll(K),
    // Sets.
    SAdd(K, Vec<E>),
    SRem(K, Vec<E>),
    SIsMember(K, E),
    SCard(K),
    SMembers(K),
    SPop(K),
    SPopCount(K, usize),
    SRandMember(K, i64),
    SMove(K, K, E),
    SStore(SetOp, K, Vec<K>),
    // Sorted sets.
    ZAdd(K, Vec<(S, E)>, ZAddFlags),
    ZAddIncr(K, S, E, ZAddFlags),
    ZIncrBy(K, S, E),
    ZRem(K, Vec<E>),
    ZScore(K, E),
    ZCard(K),
    ZRank(K, E, bool),
    ZRangeByRank(K, i64, i64, bool),
    ZRangeByScore(K, Bounds, bool, Option<(i64, i64)>),
    ZRangeByLex(K, Lex, Lex, bool, Option<(i64, i64)>),
    ZCount(K, Bounds),
    ZLexCount(K, Lex, Lex),
    ZRemRangeByRank(K, i64, i64),
    ZRemRangeByScore(K, Bounds),
    ZRemRangeByLex(K, Lex, Lex),
    ZPop(K, bool, usize),
    ZMPop(Vec<K>, bool, usize),
    ZRangeStore(K, K, i64, i64),
}

/// Turns one proptest-chosen `u64` into an operation. Proptest still drives the search, saves
/// failures and shrinks a failing run by dropping operations; a flat `u64` per operation is
/// cheap to generate, where a tree of strategies over this many variants cost most of the
/// test's time in a debug build.
struct Pick(u64);

impl Pick {
    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// In `lo..hi`.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }

    fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }

    /// An index into `weights`, chosen in proportion to them.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut n = self.next() % weights.iter().sum::<u64>();
        for (i, &w) in weights.iter().enumerate() {
            if n < w {
                return i;
            }
            n -= w;
        }
        unreachable!("n < the sum of the weights")
    }

    fn key(&mut self) -> K {
        self.below(KEYS.len())
    }

    /// Mostly one of `home`, sometimes any key.
    fn key_in(&mut self, home: &[K]) -> K {
        if self.below(7) == 0 {
            self.key()
        } else {
            home[self.below(home.len())]
        }
    }

    /// Mostly short elements, so containers stay packed for a while; the long one now and then.
    fn elem(&mut self) -> E {
        if self.below(13) == 0 {
            ELEMS.len() - 1
        } else {
            self.below(ELEMS.len() - 1)
        }
    }

    fn elems(&mut self, max: usize) -> Vec<E> {
        (0..1 + self.below(max)).map(|_| self.elem()).collect()
    }

    fn score(&mut self) -> S {
        self.below(SCORES.len())
    }

    fn end(&mut self) -> End {
        if self.bool() { End::Left } else { End::Right }
    }

    fn index(&mut self) -> i64 {
        self.int(-5, 5)
    }

    fn bounds(&mut self) -> Bounds {
        (self.score(), self.bool(), self.score(), self.bool())
    }

    fn lex(&mut self) -> Lex {
        match self.weighted(&[1, 1, 3, 3]) {
            0 => Lex::Min,
            1 => Lex::Max,
            2 => Lex::Incl(self.elem()),
            _ => Lex::Excl(self.elem()),
        }
    }

    fn limit(&mut self) -> Option<(i64, i64)> {
        self.bool().then(|| (self.int(-1, 3), self.int(-1, 3)))
    }

    /// Mostly valid combinations; sometimes NX with XX, GT with LT, NX with GT/LT.
    fn flags(&mut self) -> ZAddFlags {
        let mut f = ZAddFlags {
            ch: self.bool(),
            ..ZAddFlags::default()
        };
        match self.below(16) {
            0 => f.nx = true,
            1 => f.xx = true,
            2 => f.gt = true,
            3 => f.lt = true,
            4 => (f.xx, f.gt) = (true, true),
            5 => (f.xx, f.lt) = (true, true),
            6 => (f.nx, f.xx) = (true, true),
            7 => (f.gt, f.lt) = (true, true),
            8 => (f.nx, f.gt) = (true, true),
            _ => {}
        }
        f
    }

    fn op(&mut self) -> Op {
        match self.weighted(&[2, 3, 2, 2, 3]) {
            0 => self.key_op(),
            1 => self.list_op(),
            2 => self.hash_op(),
            3 => self.set_op(),
            _ => self.zset_op(),
        }
    }

    fn key_op(&mut self) -> Op {
        let k = self.key();
        match self.below(16) {
            0 => Op::Set(k, self.elem()),
            1 => Op::SetPx(k, self.elem(), self.int(1, 2000) as u64),
            2 => Op::SetNx(k, self.elem()),
            3 => Op::Get(k),
            4 => Op::GetDel(k),
            5 => Op::Del((0..self.below(4)).map(|_| self.key()).collect()),
            6 => Op::Incr(k),
            7 => Op::Append(k, self.elem()),
            8 => Op::Pexpire(k, self.int(-100, 2000)),
            9 => Op::Persist(k),
            10 => Op::Rename(k, self.key()),
            11 => Op::Copy(k, self.key(), self.bool()),
            12 => Op::MSetNx(
                (0..1 + self.below(2))
                    .map(|_| (self.key(), self.elem()))
                    .collect(),
            ),
            13 => Op::Type(k),
            14 => Op::Advance(self.int(0, 1500) as u64),
            _ => Op::ActiveExpire,
        }
    }

    fn list_op(&mut self) -> Op {
        let k = self.key_in(LIST_KEYS);
        match self.weighted(&[1, 4, 1, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1]) {
            // Containers carry TTLs too.
            0 => Op::Pexpire(k, self.int(1, 3000)),
            1 => Op::Push(k, self.end(), self.elems(3)),
            2 => Op::PushMany(k, self.end(), self.elem(), 100 + self.below(200)),
            3 => Op::PushX(k, self.end(), self.elem()),
            4 => Op::Pop(k, self.end()),
            5 => Op::PopCount(k, self.end(), self.below(4)),
            6 => Op::LLen(k),
            7 => Op::LRange(k, self.index(), self.index()),
            8 => Op::LIndex(k, self.index()),
            9 => Op::LSet(k, self.index(), self.elem()),
            10 => Op::LRem(k, self.int(-3, 3), self.elem()),
            11 => Op::LTrim(k, self.index(), self.index()),
            12 => Op::LInsert(k, self.bool(), self.elem(), self.elem()),
            13 => {
                let rank = if self.bool() {
                    self.int(-3, 0)
                } else {
                    self.int(1, 4)
                };
                Op::LPos(k, self.elem(), rank, self.below(3), self.below(4))
            }
            14 => Op::LMove(k, self.key_in(LIST_KEYS), self.end(), self.end()),
            _ => {
                let keys = vec![k, self.key_in(LIST_KEYS)][..1 + self.below(2)].to_vec();
                Op::LMPop(keys, self.end(), 1 + self.below(2))
            }
        }
    }

    fn hash_op(&mut self) -> Op {
        let k = self.key_in(HASH_KEYS);
        match self.weighted(&[1, 4, 1, 1, 1, 2, 2, 1, 1, 1]) {
            0 => Op::Pexpire(k, self.int(1, 3000)),
            1 => Op::HSet(
                k,
                (0..1 + self.below(3))
                    .map(|_| (self.elem(), self.elem()))
                    .collect(),
            ),
            2 => Op::HSetNx(k, self.elem(), self.elem()),
            3 => Op::HGet(k, self.elem()),
            4 => Op::HMGet(k, self.elems(2)),
            5 => Op::HDel(k, self.elems(2)),
            6 => {
                let delta = match self.weighted(&[4, 1, 1]) {
                    0 => self.int(-3, 4),
                    1 => i64::MAX,
                    _ => i64::MIN,
                };
                Op::HIncrBy(k, self.elem(), delta)
            }
            7 => Op::HLen(k),
            8 => Op::HExists(k, self.elem()),
            _ => Op::HGetAll(k),
        }
    }

    fn set_op(&mut self) -> Op {
        let k = self.key_in(SET_KEYS);
        match self.weighted(&[1, 4, 2, 1, 1, 1, 1, 1, 1, 2, 1]) {
            0 => Op::Pexpire(k, self.int(1, 3000)),
            1 => Op::SAdd(k, self.elems(3)),
            2 => Op::SRem(k, self.elems(2)),
            3 => Op::SIsMember(k, self.elem()),
            4 => Op::SCard(k),
            5 => Op::SMembers(k),
            6 => Op::SPop(k),
            7 => Op::SPopCount(k, self.below(4)),
            8 => Op::SRandMember(k, self.int(-4, 5)),
            9 => Op::SMove(k, self.key_in(SET_KEYS), self.elem()),
            _ => {
                let op = [SetOp::Inter, SetOp::Union, SetOp::Diff][self.below(3)];
                let srcs = (0..1 + self.below(2))
                    .map(|_| self.key_in(SET_KEYS))
                    .collect();
                Op::SStore(op, self.key_in(SET_KEYS), srcs)
            }
        }
    }

    fn zset_op(&mut self) -> Op {
        let k = self.key_in(ZSET_KEYS);
        let weights = [1, 4, 1, 2, 2, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1];
        match self.weighted(&weights) {
            0 => Op::Pexpire(k, self.int(1, 3000)),
            1 => {
                let pairs = (0..1 + self.below(4))
                    .map(|_| (self.score(), self.elem()))
                    .collect();
                Op::ZAdd(k, pairs, self.flags())
            }
            2 => Op::ZAddIncr(k, self.score(), self.elem(), self.flags()),
            3 => Op::ZIncrBy(k, self.score(), self.elem()),
            4 => Op::ZRem(k, self.elems(2)),
            5 => Op::ZScore(k, self.elem()),
            6 => Op::ZCard(k),
            7 => Op::ZRank(k, self.elem(), self.bool()),
            8 => Op::ZRangeByRank(k, self.index(), self.index(), self.bool()),
            9 => Op::ZRangeByScore(k, self.bounds(), self.bool(), self.limit()),
            10 => Op::ZRangeByLex(k, self.lex(), self.lex(), self.bool(), self.limit()),
            11 => Op::ZCount(k, self.bounds()),
            12 => Op::ZLexCount(k, self.lex(), self.lex()),
            13 => Op::ZRemRangeByRank(k, self.index(), self.index()),
            14 => Op::ZRemRangeByScore(k, self.bounds()),
            15 => Op::ZRemRangeByLex(k, self.lex(), self.lex()),
            16 => Op::ZPop(k, self.bool(), self.below(3)),
            17 => {
                let keys = vec![k, self.key_in(ZSET_KEYS)][..1 + self.below(2)].to_vec();
                Op::ZMPop(keys, self.bool(), 1 + self.below(2))
            }
            _ => Op::ZRangeStore(self.key_in(ZSET_KEYS), k, self.index(), self.index()),
        }
    }
}

/// What an operation answered, in one comparable shape. Unordered replies (SMEMBERS, HGETALL,
/// SSTORE results) are sorted on both sides.
#[derive(Debug, PartialEq)]
enum Out {
    Unit,
    Bool(bool),
    Bytes(Option<Vec<u8>>),
    Int(i64),
    Len(usize),
    Count(u64),
    Type(Option<KeyType>),
    Elems(Vec<Vec<u8>>),
    MaybeElems(Option<Vec<Vec<u8>>>),
    KeyElems(Option<(Vec<u8>, Vec<Vec<u8>>)>),
    Values(Vec<Option<Vec<u8>>>),
    Pairs(Vec<(Vec<u8>, Vec<u8>)>),
    Positions(Vec<usize>),
    Score(Option<f64>),
    Float(f64),
    Rank(Option<(usize, f64)>),
    Scored(Vec<ScoredMember>),
    KeyScored(Option<(Vec<u8>, Vec<ScoredMember>)>),
    /// The model's verdict on a random reply it cannot predict (SPOP, SRANDMEMBER) and that
    /// broke the command's contract.
    Invalid(String),
}

fn key_of(k: K) -> &'static str {
    KEYS[k]
}

fn elem_of(e: E) -> &'static str {
    ELEMS[e]
}

fn score_range((min, min_ex, max, max_ex): Bounds) -> ScoreRange {
    ScoreRange::new(SCORES[min], min_ex, SCORES[max], max_ex)
}

fn lex_range(min: Lex, max: Lex) -> LexRange<'static> {
    let bound = |b: Lex| match b {
        Lex::Min => LexBound::Min,
        Lex::Max => LexBound::Max,
        Lex::Incl(e) => LexBound::Inclusive(elem_of(e).as_bytes()),
        Lex::Excl(e) => LexBound::Exclusive(elem_of(e).as_bytes()),
    };
    LexRange::new(bound(min), bound(max))
}

fn with_limit(range: ZRange<'_>, limit: Option<(i64, i64)>) -> ZRange<'_> {
    match limit {
        Some((offset, count)) => range.limit(offset, count),
        None => range,
    }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Runs `op` against the store.
fn run(db: &Db, kv: &Kv, clock: &ManualClock, op: &Op) -> Result<Out, Error> {
    let k = key_of;
    let e = elem_of;
    let es = |v: &[E]| v.iter().map(|&i| e(i)).collect::<Vec<_>>();
    Ok(match *op {
        Op::Set(key, v) => db.set(k(key), e(v)).map(|()| Out::Unit)?,
        Op::SetPx(key, v, ms) => {
            let opts = SetOptions::new().expiry(SetExpiry::Px(ms as i64));
            db.set_with(k(key), e(v), &opts).map(|_| Out::Unit)?
        }
        Op::SetNx(key, v) => Out::Bool(db.setnx(k(key), e(v))?),
        Op::Get(key) => Out::Bytes(db.get(k(key))?),
        Op::GetDel(key) => Out::Bytes(db.getdel(k(key))?),
        Op::Del(ref keys) => Out::Count(db.del(&keys.iter().map(|&i| k(i)).collect::<Vec<_>>())?),
        Op::Incr(key) => Out::Int(db.incr(k(key))?),
        Op::Append(key, v) => Out::Len(db.append(k(key), e(v))?),
        Op::Pexpire(key, ms) => Out::Bool(db.pexpire(k(key), ms, ExpireCondition::None)?),
        Op::Persist(key) => Out::Bool(db.persist(k(key))?),
        Op::Rename(a, b) => db.rename(k(a), k(b)).map(|()| Out::Unit)?,
        Op::Copy(a, b, replace) => Out::Bool(db.copy(k(a), k(b), None, replace)?),
        Op::MSetNx(ref pairs) => {
            let pairs: Vec<_> = pairs.iter().map(|&(key, v)| (k(key), e(v))).collect();
            Out::Bool(db.msetnx(&pairs)?)
        }
        Op::Type(key) => Out::Type(db.key_type(k(key)).unwrap()),
        Op::Advance(ms) => {
            clock.advance(ms);
            Out::Unit
        }
        Op::ActiveExpire => {
            kv.active_expire_cycle(50);
            Out::Unit
        }

        Op::Push(key, end, ref vs) => Out::Len(db.push(k(key), end, &es(vs))?),
        Op::PushMany(key, end, v, n) => Out::Len(db.push(k(key), end, &vec![e(v); n])?),
        Op::PushX(key, end, v) => Out::Len(db.push_existing(k(key), end, &[e(v)])?),
        Op::Pop(key, end) => Out::Bytes(db.pop(k(key), end)?),
        Op::PopCount(key, end, n) => Out::MaybeElems(db.pop_count(k(key), end, n)?),
        Op::LLen(key) => Out::Len(db.llen(k(key))?),
        Op::LRange(key, a, b) => Out::Elems(db.lrange(k(key), a, b)?),
        Op::LIndex(key, i) => Out::Bytes(db.lindex(k(key), i)?),
        Op::LSet(key, i, v) => db.lset(k(key), i, e(v)).map(|()| Out::Unit)?,
        Op::LRem(key, count, v) => Out::Len(db.lrem(k(key), count, e(v))?),
        Op::LTrim(key, a, b) => db.ltrim(k(key), a, b).map(|()| Out::Unit)?,
        Op::LInsert(key, before, pivot, v) => {
            Out::Int(db.linsert(k(key), before, e(pivot), e(v))?)
        }
        Op::LPos(key, v, rank, count, maxlen) => {
            Out::Positions(db.lpos(k(key), e(v), rank, count, maxlen)?)
        }
        Op::LMove(a, b, from, to) => Out::Bytes(db.lmove(k(a), k(b), from, to)?),
        Op::LMPop(ref keys, end, n) => {
            let keys: Vec<_> = keys.iter().map(|&i| k(i)).collect();
            Out::KeyElems(db.lmpop(&keys, end, n)?)
        }

        Op::HSet(key, ref pairs) => {
            let pairs: Vec<_> = pairs.iter().map(|&(f, v)| (e(f), e(v))).collect();
            Out::Len(db.hset(k(key), &pairs)?)
        }
        Op::HSetNx(key, f, v) => Out::Bool(db.hsetnx(k(key), e(f), e(v))?),
        Op::HGet(key, f) => Out::Bytes(db.hget(k(key), e(f))?),
        Op::HMGet(key, ref fs) => Out::Values(db.hmget(k(key), &es(fs))?),
        Op::HDel(key, ref fs) => Out::Len(db.hdel(k(key), &es(fs))?),
        Op::HIncrBy(key, f, d) => Out::Int(db.hincrby(k(key), e(f), d)?),
        Op::HLen(key) => Out::Len(db.hlen(k(key))?),
        Op::HExists(key, f) => Out::Bool(db.hexists(k(key), e(f))?),
        Op::HGetAll(key) => Out::Pairs(sorted(db.hgetall(k(key))?)),

        Op::SAdd(key, ref ms) => Out::Len(db.sadd(k(key), &es(ms))?),
        Op::SRem(key, ref ms) => Out::Len(db.srem(k(key), &es(ms))?),
        Op::SIsMember(key, m) => Out::Bool(db.sismember(k(key), e(m))?),
        Op::SCard(key) => Out::Len(db.scard(k(key))?),
        Op::SMembers(key) => Out::Elems(sorted(db.smembers(k(key))?)),
        Op::SPop(key) => Out::Bytes(db.spop(k(key))?),
        Op::SPopCount(key, n) => Out::Elems(db.spop_count(k(key), n)?),
        Op::SRandMember(key, n) => Out::Elems(db.srandmember_count(k(key), n)?),
        Op::SMove(a, b, m) => Out::Bool(db.smove(k(a), k(b), e(m))?),
        Op::SStore(op, dst, ref srcs) => {
            let srcs: Vec<_> = srcs.iter().map(|&i| k(i)).collect();
            Out::Len(db.sstore(op, k(dst), &srcs)?)
        }

        Op::ZAdd(key, ref pairs, flags) => {
            let pairs: Vec<_> = pairs.iter().map(|&(s, m)| (SCORES[s], e(m))).collect();
            Out::Len(db.zadd(k(key), &pairs, &flags)?)
        }
        Op::ZAddIncr(key, s, m, flags) => {
            Out::Score(db.zadd_incr(k(key), SCORES[s], e(m), &flags)?)
        }
        Op::ZIncrBy(key, s, m) => Out::Float(db.zincrby(k(key), SCORES[s], e(m))?),
        Op::ZRem(key, ref ms) => Out::Len(db.zrem(k(key), &es(ms))?),
        Op::ZScore(key, m) => Out::Score(db.zscore(k(key), e(m))?),
        Op::ZCard(key) => Out::Len(db.zcard(k(key))?),
        Op::ZRank(key, m, rev) => Out::Rank(db.zrank(k(key), e(m), rev)?),
        Op::ZRangeByRank(key, a, b, rev) => {
            Out::Scored(db.zrange(k(key), &ZRange::new(ZRangeBy::Rank(a, b)).rev(rev))?)
        }
        Op::ZRangeByScore(key, b, rev, limit) => {
            let range = ZRange::new(ZRangeBy::Score(score_range(b))).rev(rev);
            Out::Scored(db.zrange(k(key), &with_limit(range, limit))?)
        }
        Op::ZRangeByLex(key, min, max, rev, limit) => {
            let range = ZRange::new(ZRangeBy::Lex(lex_range(min, max))).rev(rev);
            Out::Scored(db.zrange(k(key), &with_limit(range, limit))?)
        }
        Op::ZCount(key, b) => Out::Len(db.zcount(k(key), &score_range(b))?),
        Op::ZLexCount(key, min, max) => Out::Len(db.zlexcount(k(key), &lex_range(min, max))?),
        Op::ZRemRangeByRank(key, a, b) => Out::Len(db.zremrange(k(key), &ZRangeBy::Rank(a, b))?),
        Op::ZRemRangeByScore(key, b) => {
            Out::Len(db.zremrange(k(key), &ZRangeBy::Score(score_range(b)))?)
        }
        Op::ZRemRangeByLex(key, min, max) => {
            Out::Len(db.zremrange(k(key), &ZRangeBy::Lex(lex_range(min, max)))?)
        }
        Op::ZPop(key, max, n) => Out::Scored(db.zpop(k(key), max, n)?),
        Op::ZMPop(ref keys, max, n) => {
            let keys: Vec<_> = keys.iter().map(|&i| k(i)).collect();
            Out::KeyScored(db.zmpop(&keys, max, n)?)
        }
        Op::ZRangeStore(dst, src, a, b) => {
            let range = ZRange::new(ZRangeBy::Rank(a, b));
            Out::Len(db.zrangestore(k(dst), k(src), &range)?)
        }
    })
}

/// Everything the store holds under `KEYS`, as the model shows it.
fn observe(db: &Db) -> Vec<(&'static str, Option<(Shown, Ttl)>)> {
    KEYS.iter()
        .map(|&k| {
            let shown = db.key_type(k).unwrap().map(|t| match t {
                KeyType::String => Shown::Str(db.get(k).unwrap().unwrap()),
                KeyType::List => Shown::List(db.lrange(k, 0, -1).unwrap()),
                KeyType::Hash => Shown::Hash(sorted(db.hgetall(k).unwrap())),
                KeyType::Set => Shown::Set(sorted(db.smembers(k).unwrap())),
                KeyType::ZSet => {
                    Shown::ZSet(db.zrange(k, &ZRange::new(ZRangeBy::Rank(0, -1))).unwrap())
                }
                other => panic!("the model makes no {other:?}"),
            });
            (k, shown.map(|s| (s, db.pttl(k).unwrap())))
        })
        .collect()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        // The default search is 256 cases (PROPTEST_CASES changes it). A failure is saved here
        // (relative to kvcore/, where cargo runs the tests) and replayed first on later runs:
        // proptest finds no lib.rs above an integration test to place it beside.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/model/proptest-regressions.txt",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]
    #[test]
    fn store_matches_model(seeds in vec(any::<u64>(), 1..250), every in 1..8usize) {
        let ops: Vec<Op> = seeds.into_iter().map(|s| Pick(s).op()).collect();
        let (kv, db, clock) = store();
        let mut model = Model::new(T0);
        for (step, op) in ops.iter().enumerate() {
            if !model.is_specified(op) {
                continue;
            }
            let got = run(&db, &kv, &clock, op);
            let expected = model.apply(op, &got);
            prop_assert_eq!(&got, &expected, "step {} {:?} of {:?}", step, op, &ops[..=step]);
            if step % every == every - 1 || step + 1 == ops.len() {
                prop_assert_eq!(observe(&db), model.observe(), "state after step {} of {:?}", step, &ops[..=step]);
                let mut keys = db.keys("*").unwrap();
                keys.sort();
                prop_assert_eq!(keys, model.keys(), "KEYS * after step {} of {:?}", step, &ops[..=step]);
            }
        }
    }
}
