//! The reference: Redis's rules written out the slow, obvious way over std collections. It
//! shares no code with kvcore (ranges, bounds and integer parsing are its own).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use kvcore::{End, Error, KeyType, SetOp, Ttl, ZAddFlags};

use super::{Bounds, E, ELEMS, K, KEYS, Lex, Op, Out, SCORES};

type Bytes = Vec<u8>;
type List = VecDeque<Bytes>;
type Hash = BTreeMap<Bytes, Bytes>;
type Set = BTreeSet<Bytes>;
/// Member to score; ordered by (score, member) on demand.
type ZSet = BTreeMap<Bytes, f64>;

#[derive(Debug, Clone)]
enum Val {
    Str(Bytes),
    List(List),
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
}

/// A value as the whole-state comparison shows it (unordered collections sorted).
#[derive(Debug, PartialEq)]
pub(super) enum Shown {
    Str(Bytes),
    List(Vec<Bytes>),
    Hash(Vec<(Bytes, Bytes)>),
    Set(Vec<Bytes>),
    ZSet(Vec<(Bytes, f64)>),
}

/// The container types, for typed access to a key.
trait Kind: Default {
    fn of(v: &Val) -> Option<&Self>;
    fn of_mut(v: &mut Val) -> Option<&mut Self>;
    fn wrap(self) -> Val;
}

macro_rules! kind {
    ($t:ty, $variant:ident) => {
        impl Kind for $t {
            fn of(v: &Val) -> Option<&Self> {
                match v {
                    Val::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Val) -> Option<&mut Self> {
                match v {
                    Val::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn wrap(self) -> Val {
                Val::$variant(self)
            }
        }
    };
}

kind!(List, List);
kind!(Hash, Hash);
kind!(Set, Set);
kind!(ZSet, ZSet);

fn key(k: K) -> Bytes {
    KEYS[k].as_bytes().to_vec()
}

fn el(e: E) -> Bytes {
    ELEMS[e].as_bytes().to_vec()
}

/// Redis's strict integer syntax (string2ll): the canonical decimal form only.
fn parse_int(v: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(v).ok()?;
    let n: i64 = text.parse().ok()?;
    (n.to_string() == text).then_some(n)
}

/// `start..=stop` with negative indexes from the end, clamped, as LRANGE/LTRIM/ZRANGE.
fn range(start: i64, stop: i64, len: usize) -> std::ops::Range<usize> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        stop + len
    } else {
        stop.min(len - 1)
    };
    if start > stop || start >= len {
        0..0
    } else {
        start as usize..stop as usize + 1
    }
}

/// LIMIT offset count: a negative offset selects nothing, a negative count everything after it.
fn limited<T>(v: Vec<T>, limit: Option<(i64, i64)>) -> Vec<T> {
    match limit {
        None => v,
        Some((offset, _)) if offset < 0 => Vec::new(),
        Some((offset, count)) => {
            let rest = v.into_iter().skip(offset as usize);
            if count < 0 {
                rest.collect()
            } else {
                rest.take(count as usize).collect()
            }
        }
    }
}

fn in_score_range(s: f64, (min, min_ex, max, max_ex): Bounds) -> bool {
    let (min, max) = (SCORES[min], SCORES[max]);
    (if min_ex { s > min } else { s >= min }) && (if max_ex { s < max } else { s <= max })
}

fn in_lex_range(m: &[u8], min: Lex, max: Lex) -> bool {
    let above = match min {
        Lex::Min => true,
        Lex::Max => false,
        Lex::Incl(e) => m >= ELEMS[e].as_bytes(),
        Lex::Excl(e) => m > ELEMS[e].as_bytes(),
    };
    let below = match max {
        Lex::Min => false,
        Lex::Max => true,
        Lex::Incl(e) => m <= ELEMS[e].as_bytes(),
        Lex::Excl(e) => m < ELEMS[e].as_bytes(),
    };
    above && below
}

/// A sorted set in rank order: by score, then by member bytes.
fn order(z: &ZSet) -> Vec<(Bytes, f64)> {
    let mut v: Vec<(Bytes, f64)> = z.iter().map(|(m, s)| (m.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn zadd_flags_error(f: &ZAddFlags) -> Option<Error> {
    if f.nx && f.xx {
        Some(Error::IncompatibleOptions(
            "XX and NX options at the same time are not compatible",
        ))
    } else if (f.gt && f.lt) || (f.nx && (f.gt || f.lt)) {
        Some(Error::IncompatibleOptions(
            "GT, LT, and/or NX options at the same time are not compatible",
        ))
    } else {
        None
    }
}

/// ZADD's rules for one member: the new score, or None when NX/XX/GT/LT skip it. `incr` adds to
/// the old score (NaN is an error).
fn zadd_one(
    z: &ZSet,
    m: &[u8],
    score: f64,
    incr: bool,
    f: &ZAddFlags,
) -> Result<Option<f64>, Error> {
    match z.get(m) {
        None if f.xx => Ok(None),
        None => Ok(Some(score)),
        Some(_) if f.nx => Ok(None),
        Some(&old) => {
            let new = if incr { old + score } else { score };
            if new.is_nan() {
                return Err(Error::ScoreNan);
            }
            if (f.gt && new <= old) || (f.lt && new >= old) {
                return Ok(None);
            }
            Ok(Some(new))
        }
    }
}

pub(super) struct Model {
    map: HashMap<Bytes, (Val, Option<u64>)>,
    now: u64,
}

impl Model {
    pub(super) fn new(now: u64) -> Model {
        Model {
            map: HashMap::new(),
            now,
        }
    }

    fn purge(&mut self) {
        let now = self.now;
        self.map.retain(|_, (_, at)| at.is_none_or(|at| at > now));
    }

    /// Redis leaves lex ranges over members of unequal scores unspecified (the result depends
    /// on the encoding): such an operation is skipped, on both sides.
    pub(super) fn is_specified(&mut self, op: &Op) -> bool {
        self.purge();
        match *op {
            Op::ZRangeByLex(k, ..) | Op::ZLexCount(k, ..) | Op::ZRemRangeByLex(k, ..) => {
                match self.get::<ZSet>(&key(k)) {
                    Ok(Some(z)) => {
                        let first = z.values().next().copied();
                        z.values().all(|s| Some(*s) == first)
                    }
                    _ => true,
                }
            }
            _ => true,
        }
    }

    /// The container of type `T` at `k`: None when missing, WRONGTYPE when another type.
    fn get<T: Kind>(&self, k: &[u8]) -> Result<Option<&T>, Error> {
        match self.map.get(k) {
            None => Ok(None),
            Some((v, _)) => T::of(v).map(Some).ok_or(Error::WrongType),
        }
    }

    fn get_mut<T: Kind>(&mut self, k: &[u8]) -> Result<Option<&mut T>, Error> {
        match self.map.get_mut(k) {
            None => Ok(None),
            Some((v, _)) => T::of_mut(v).map(Some).ok_or(Error::WrongType),
        }
    }

    /// The container at `k`, created empty (without a TTL) when missing.
    fn entry<T: Kind>(&mut self, k: &[u8]) -> Result<&mut T, Error> {
        let (v, _) = self
            .map
            .entry(k.to_vec())
            .or_insert_with(|| (T::default().wrap(), None));
        T::of_mut(v).ok_or(Error::WrongType)
    }

    fn string(&self, k: &[u8]) -> Result<Option<&Bytes>, Error> {
        match self.map.get(k) {
            None => Ok(None),
            Some((Val::Str(s), _)) => Ok(Some(s)),
            Some(_) => Err(Error::WrongType),
        }
    }

    /// Applies `op` and returns Redis's reply. `got` is the store's reply, consulted only to
    /// check (and then follow) a random choice: which members SPOP removed.
    pub(super) fn apply(&mut self, op: &Op, got: &Result<Out, Error>) -> Result<Out, Error> {
        self.purge();
        let out = self.step(op, got);
        // Redis deletes a container when its last element goes.
        self.map.retain(|_, (v, _)| match v {
            Val::Str(_) => true,
            Val::List(l) => !l.is_empty(),
            Val::Hash(h) => !h.is_empty(),
            Val::Set(s) => !s.is_empty(),
            Val::ZSet(z) => !z.is_empty(),
        });
        out
    }

    fn step(&mut self, op: &Op, got: &Result<Out, Error>) -> Result<Out, Error> {
        match op {
            Op::Set(..)
            | Op::SetPx(..)
            | Op::SetNx(..)
            | Op::Get(_)
            | Op::GetDel(_)
            | Op::Del(_) => self.strings(op),
            Op::Incr(_) | Op::Append(..) | Op::Pexpire(..) | Op::Persist(_) | Op::Rename(..) => {
                self.strings(op)
            }
            Op::Copy(..) | Op::MSetNx(_) | Op::Type(_) | Op::Advance(_) | Op::ActiveExpire => {
                self.strings(op)
            }
            Op::Push(..) | Op::PushMany(..) | Op::PushX(..) | Op::Pop(..) | Op::PopCount(..) => {
                self.lists(op)
            }
            Op::LLen(_) | Op::LRange(..) | Op::LIndex(..) | Op::LSet(..) | Op::LRem(..) => {
                self.lists(op)
            }
            Op::LTrim(..) | Op::LInsert(..) | Op::LPos(..) | Op::LMove(..) | Op::LMPop(..) => {
                self.lists(op)
            }
            Op::HSet(..) | Op::HSetNx(..) | Op::HGet(..) | Op::HMGet(..) | Op::HDel(..) => {
                self.hashes(op)
            }
            Op::HIncrBy(..) | Op::HLen(_) | Op::HExists(..) | Op::HGetAll(_) => self.hashes(op),
            Op::SAdd(..) | Op::SRem(..) | Op::SIsMember(..) | Op::SCard(_) | Op::SMembers(_) => {
                self.sets(op, got)
            }
            Op::SPop(_) | Op::SPopCount(..) | Op::SRandMember(..) | Op::SMove(..) => {
                self.sets(op, got)
            }
            Op::SStore(..) => self.sets(op, got),
            _ => self.zsets(op),
        }
    }

    fn strings(&mut self, op: &Op) -> Result<Out, Error> {
        Ok(match *op {
            Op::Set(k, v) => {
                self.map.insert(key(k), (Val::Str(el(v)), None));
                Out::Unit
            }
            Op::SetPx(k, v, ms) => {
                self.map
                    .insert(key(k), (Val::Str(el(v)), Some(self.now + ms)));
                Out::Unit
            }
            Op::SetNx(k, v) => {
                let fresh = !self.map.contains_key(&key(k));
                if fresh {
                    self.map.insert(key(k), (Val::Str(el(v)), None));
                }
                Out::Bool(fresh)
            }
            Op::Get(k) => Out::Bytes(self.string(&key(k))?.cloned()),
            Op::GetDel(k) => {
                let v = self.string(&key(k))?.cloned();
                self.map.remove(&key(k));
                Out::Bytes(v)
            }
            Op::Del(ref ks) => Out::Count(
                ks.iter()
                    .filter(|&&k| self.map.remove(&key(k)).is_some())
                    .count() as u64,
            ),
            Op::Incr(k) => {
                let old = self.string(&key(k))?.cloned();
                let n = match old {
                    None => 0,
                    Some(v) => parse_int(&v).ok_or(Error::NotInteger)?,
                };
                let n = n.checked_add(1).ok_or(Error::Overflow)?;
                let at = self.map.get(&key(k)).and_then(|(_, at)| *at);
                self.map
                    .insert(key(k), (Val::Str(n.to_string().into_bytes()), at));
                Out::Int(n)
            }
            Op::Append(k, v) => {
                self.string(&key(k))?;
                let e = self
                    .map
                    .entry(key(k))
                    .or_insert((Val::Str(Vec::new()), None));
                let Val::Str(s) = &mut e.0 else {
                    unreachable!("checked above")
                };
                s.extend_from_slice(&el(v));
                Out::Len(s.len())
            }
            Op::Pexpire(k, ms) => match self.map.get_mut(&key(k)) {
                None => Out::Bool(false),
                Some(_) if ms <= 0 => {
                    self.map.remove(&key(k));
                    Out::Bool(true)
                }
                Some(e) => {
                    e.1 = Some(self.now + ms as u64);
                    Out::Bool(true)
                }
            },
            Op::Persist(k) => match self.map.get_mut(&key(k)) {
                Some(e) if e.1.is_some() => {
                    e.1 = None;
                    Out::Bool(true)
                }
                _ => Out::Bool(false),
            },
            Op::Rename(a, b) => {
                let e = self.map.remove(&key(a)).ok_or(Error::NoSuchKey)?;
                self.map.insert(key(b), e);
                Out::Unit
            }
            Op::Copy(a, b, replace) => {
                if a == b {
                    return Err(Error::SameObject);
                }
                match self.map.get(&key(a)).cloned() {
                    Some(e) if replace || !self.map.contains_key(&key(b)) => {
                        self.map.insert(key(b), e);
                        Out::Bool(true)
                    }
                    _ => Out::Bool(false),
                }
            }
            Op::MSetNx(ref pairs) => {
                if pairs.iter().any(|&(k, _)| self.map.contains_key(&key(k))) {
                    Out::Bool(false)
                } else {
                    for &(k, v) in pairs {
                        self.map.insert(key(k), (Val::Str(el(v)), None));
                    }
                    Out::Bool(true)
                }
            }
            Op::Type(k) => Out::Type(self.map.get(&key(k)).map(|(v, _)| match v {
                Val::Str(_) => KeyType::String,
                Val::List(_) => KeyType::List,
                Val::Hash(_) => KeyType::Hash,
                Val::Set(_) => KeyType::Set,
                Val::ZSet(_) => KeyType::ZSet,
            })),
            Op::Advance(ms) => {
                self.now += ms;
                Out::Unit
            }
            Op::ActiveExpire => Out::Unit,
            _ => unreachable!("not a string or key operation: {op:?}"),
        })
    }

    fn lists(&mut self, op: &Op) -> Result<Out, Error> {
        let push = |l: &mut List, end: End, v: Bytes| match end {
            End::Left => l.push_front(v),
            End::Right => l.push_back(v),
        };
        let pop = |l: &mut List, end: End| match end {
            End::Left => l.pop_front(),
            End::Right => l.pop_back(),
        };
        Ok(match *op {
            Op::Push(k, end, ref vs) => {
                let l = self.entry::<List>(&key(k))?;
                for &v in vs {
                    push(l, end, el(v));
                }
                Out::Len(l.len())
            }
            Op::PushMany(k, end, v, n) => {
                let l = self.entry::<List>(&key(k))?;
                for _ in 0..n {
                    push(l, end, el(v));
                }
                Out::Len(l.len())
            }
            Op::PushX(k, end, v) => match self.get_mut::<List>(&key(k))? {
                None => Out::Len(0),
                Some(l) => {
                    push(l, end, el(v));
                    Out::Len(l.len())
                }
            },
            Op::Pop(k, end) => Out::Bytes(self.get_mut::<List>(&key(k))?.and_then(|l| pop(l, end))),
            Op::PopCount(k, end, n) => Out::MaybeElems(
                self.get_mut::<List>(&key(k))?
                    .map(|l| (0..n).map_while(|_| pop(l, end)).collect()),
            ),
            Op::LLen(k) => Out::Len(self.get::<List>(&key(k))?.map_or(0, List::len)),
            Op::LRange(k, a, b) => Out::Elems(match self.get::<List>(&key(k))? {
                None => Vec::new(),
                Some(l) => l.range(range(a, b, l.len())).cloned().collect(),
            }),
            Op::LIndex(k, i) => Out::Bytes(self.get::<List>(&key(k))?.and_then(|l| {
                let i = if i < 0 { i + l.len() as i64 } else { i };
                usize::try_from(i).ok().and_then(|i| l.get(i)).cloned()
            })),
            Op::LSet(k, i, v) => {
                let l = self.get_mut::<List>(&key(k))?.ok_or(Error::NoSuchKey)?;
                let i = if i < 0 { i + l.len() as i64 } else { i };
                let slot = usize::try_from(i).ok().and_then(|i| l.get_mut(i));
                *slot.ok_or(Error::IndexOutOfRange)? = el(v);
                Out::Unit
            }
            Op::LRem(k, count, v) => {
                let Some(l) = self.get_mut::<List>(&key(k))? else {
                    return Ok(Out::Len(0));
                };
                let target = el(v);
                let mut at: Vec<usize> = (0..l.len()).filter(|&i| l[i] == target).collect();
                if count < 0 {
                    at.reverse();
                }
                if count != 0 {
                    at.truncate(count.unsigned_abs() as usize);
                }
                at.sort_unstable();
                for &i in at.iter().rev() {
                    l.remove(i);
                }
                Out::Len(at.len())
            }
            Op::LTrim(k, a, b) => {
                if let Some(l) = self.get_mut::<List>(&key(k))? {
                    let keep = range(a, b, l.len());
                    *l = l.range(keep).cloned().collect();
                }
                Out::Unit
            }
            Op::LInsert(k, before, pivot, v) => match self.get_mut::<List>(&key(k))? {
                None => Out::Int(0),
                Some(l) => match l.iter().position(|x| *x == el(pivot)) {
                    None => Out::Int(-1),
                    Some(i) => {
                        l.insert(if before { i } else { i + 1 }, el(v));
                        Out::Int(l.len() as i64)
                    }
                },
            },
            Op::LPos(k, v, rank, count, maxlen) => {
                let Some(l) = self.get::<List>(&key(k))? else {
                    return Ok(Out::Positions(Vec::new()));
                };
                let mut scan: Vec<usize> = (0..l.len()).collect();
                if rank < 0 {
                    scan.reverse();
                }
                if maxlen > 0 {
                    scan.truncate(maxlen);
                }
                let found = scan.into_iter().filter(|&i| l[i] == el(v));
                let found = found.skip(rank.unsigned_abs() as usize - 1);
                Out::Positions(if count == 0 {
                    found.collect()
                } else {
                    found.take(count).collect()
                })
            }
            Op::LMove(a, b, from, to) => {
                // Redis: a missing source answers nil before the destination is looked at.
                if self.get::<List>(&key(a))?.is_none() {
                    return Ok(Out::Bytes(None));
                }
                self.get::<List>(&key(b))?;
                let v = pop(self.get_mut::<List>(&key(a))?.expect("checked"), from)
                    .expect("a stored list is never empty");
                // Pushing before the emptied source is deleted: a one-element list rotated onto
                // itself keeps its key and TTL.
                push(self.entry::<List>(&key(b))?, to, v.clone());
                Out::Bytes(Some(v))
            }
            Op::LMPop(ref keys, end, n) => {
                for &k in keys {
                    if let Some(l) = self.get_mut::<List>(&key(k))? {
                        let popped = (0..n).map_while(|_| pop(l, end)).collect();
                        return Ok(Out::KeyElems(Some((key(k), popped))));
                    }
                }
                Out::KeyElems(None)
            }
            _ => unreachable!("not a list operation: {op:?}"),
        })
    }

    fn hashes(&mut self, op: &Op) -> Result<Out, Error> {
        Ok(match *op {
            Op::HSet(k, ref pairs) => {
                let h = self.entry::<Hash>(&key(k))?;
                Out::Len(
                    pairs
                        .iter()
                        .filter(|&&(f, v)| h.insert(el(f), el(v)).is_none())
                        .count(),
                )
            }
            Op::HSetNx(k, f, v) => {
                let h = self.entry::<Hash>(&key(k))?;
                let fresh = !h.contains_key(&el(f));
                if fresh {
                    h.insert(el(f), el(v));
                }
                Out::Bool(fresh)
            }
            Op::HGet(k, f) => Out::Bytes(
                self.get::<Hash>(&key(k))?
                    .and_then(|h| h.get(&el(f)).cloned()),
            ),
            Op::HMGet(k, ref fs) => {
                let h = self.get::<Hash>(&key(k))?;
                Out::Values(
                    fs.iter()
                        .map(|&f| h.and_then(|h| h.get(&el(f)).cloned()))
                        .collect(),
                )
            }
            Op::HDel(k, ref fs) => Out::Len(match self.get_mut::<Hash>(&key(k))? {
                None => 0,
                Some(h) => fs.iter().filter(|&&f| h.remove(&el(f)).is_some()).count(),
            }),
            Op::HIncrBy(k, f, d) => {
                let h = self.entry::<Hash>(&key(k))?;
                let old = match h.get(&el(f)) {
                    None => 0,
                    Some(v) => parse_int(v).ok_or(Error::HashValueNotInteger)?,
                };
                let n = old.checked_add(d).ok_or(Error::Overflow)?;
                h.insert(el(f), n.to_string().into_bytes());
                Out::Int(n)
            }
            Op::HLen(k) => Out::Len(self.get::<Hash>(&key(k))?.map_or(0, Hash::len)),
            Op::HExists(k, f) => Out::Bool(
                self.get::<Hash>(&key(k))?
                    .is_some_and(|h| h.contains_key(&el(f))),
            ),
            Op::HGetAll(k) => Out::Pairs(match self.get::<Hash>(&key(k))? {
                None => Vec::new(),
                Some(h) => h.iter().map(|(f, v)| (f.clone(), v.clone())).collect(),
            }),
            _ => unreachable!("not a hash operation: {op:?}"),
        })
    }

    fn sets(&mut self, op: &Op, got: &Result<Out, Error>) -> Result<Out, Error> {
        Ok(match *op {
            Op::SAdd(k, ref ms) => {
                let s = self.entry::<Set>(&key(k))?;
                Out::Len(ms.iter().filter(|&&m| s.insert(el(m))).count())
            }
            Op::SRem(k, ref ms) => Out::Len(match self.get_mut::<Set>(&key(k))? {
                None => 0,
                Some(s) => ms.iter().filter(|&&m| s.remove(&el(m))).count(),
            }),
            Op::SIsMember(k, m) => Out::Bool(
                self.get::<Set>(&key(k))?
                    .is_some_and(|s| s.contains(&el(m))),
            ),
            Op::SCard(k) => Out::Len(self.get::<Set>(&key(k))?.map_or(0, Set::len)),
            Op::SMembers(k) => Out::Elems(match self.get::<Set>(&key(k))? {
                None => Vec::new(),
                Some(s) => s.iter().cloned().collect(),
            }),
            Op::SPop(k) => {
                let Some(s) = self.get_mut::<Set>(&key(k))? else {
                    return Ok(Out::Bytes(None));
                };
                match got {
                    Ok(Out::Bytes(Some(m))) if s.remove(m) => Out::Bytes(Some(m.clone())),
                    _ => Out::Invalid(format!("SPOP removes one of {s:?}")),
                }
            }
            Op::SPopCount(k, n) => {
                let Some(s) = self.get_mut::<Set>(&key(k))? else {
                    return Ok(Out::Elems(Vec::new()));
                };
                let want = n.min(s.len());
                match got {
                    Ok(Out::Elems(ms))
                        if ms.len() == want
                            && ms.iter().collect::<BTreeSet<_>>().len() == want
                            && ms.iter().all(|m| s.contains(m)) =>
                    {
                        for m in ms {
                            s.remove(m);
                        }
                        Out::Elems(ms.clone())
                    }
                    _ => Out::Invalid(format!("SPOP {n} removes {want} distinct members of {s:?}")),
                }
            }
            Op::SRandMember(k, n) => {
                let s = self.get::<Set>(&key(k))?;
                let s = s.cloned().unwrap_or_default();
                let want = if n < 0 {
                    n.unsigned_abs() as usize
                } else {
                    (n as usize).min(s.len())
                };
                let want = if s.is_empty() { 0 } else { want };
                match got {
                    Ok(Out::Elems(ms))
                        if ms.len() == want
                            && ms.iter().all(|m| s.contains(m))
                            && (n < 0 || ms.iter().collect::<BTreeSet<_>>().len() == want) =>
                    {
                        Out::Elems(ms.clone())
                    }
                    _ => Out::Invalid(format!("SRANDMEMBER {n} picks {want} members of {s:?}")),
                }
            }
            Op::SMove(a, b, m) => {
                // Redis: a missing source answers 0 before the destination's type is checked.
                if self.get::<Set>(&key(a))?.is_none() {
                    return Ok(Out::Bool(false));
                }
                self.get::<Set>(&key(b))?;
                let m = el(m);
                if a == b {
                    return Ok(Out::Bool(
                        self.get::<Set>(&key(a))?.expect("checked").contains(&m),
                    ));
                }
                if !self.get_mut::<Set>(&key(a))?.expect("checked").remove(&m) {
                    return Ok(Out::Bool(false));
                }
                self.entry::<Set>(&key(b))?.insert(m);
                Out::Bool(true)
            }
            Op::SStore(set_op, dst, ref srcs) => {
                // Every source is type-checked, also after a missing one.
                let mut inputs = Vec::new();
                for &k in srcs {
                    inputs.push(self.get::<Set>(&key(k))?.cloned().unwrap_or_default());
                }
                let first = inputs[0].clone();
                let result: Set = match set_op {
                    SetOp::Inter => first
                        .into_iter()
                        .filter(|m| inputs.iter().all(|s| s.contains(m)))
                        .collect(),
                    SetOp::Union => inputs.iter().flatten().cloned().collect(),
                    SetOp::Diff => first
                        .into_iter()
                        .filter(|m| !inputs[1..].iter().any(|s| s.contains(m)))
                        .collect(),
                };
                let n = result.len();
                // The destination is replaced (any type, no TTL), or deleted when empty.
                self.map.insert(key(dst), (Val::Set(result), None));
                Out::Len(n)
            }
            _ => unreachable!("not a set operation: {op:?}"),
        })
    }

    fn zsets(&mut self, op: &Op) -> Result<Out, Error> {
        Ok(match *op {
            Op::ZAdd(k, ref pairs, flags) => {
                if let Some(e) = zadd_flags_error(&flags) {
                    return Err(e);
                }
                let z = if flags.xx {
                    match self.get_mut::<ZSet>(&key(k))? {
                        Some(z) => z,
                        None => return Ok(Out::Len(0)),
                    }
                } else {
                    self.entry::<ZSet>(&key(k))?
                };
                let mut counted = 0;
                for &(s, m) in pairs {
                    let old = z.get(&el(m)).copied();
                    if let Some(new) = zadd_one(z, &el(m), SCORES[s], false, &flags)? {
                        if old.is_none() || (flags.ch && old != Some(new)) {
                            counted += 1;
                        }
                        z.insert(el(m), new);
                    }
                }
                Out::Len(counted)
            }
            Op::ZAddIncr(k, s, m, flags) => {
                if let Some(e) = zadd_flags_error(&flags) {
                    return Err(e);
                }
                let z = if flags.xx {
                    match self.get_mut::<ZSet>(&key(k))? {
                        Some(z) => z,
                        None => return Ok(Out::Score(None)),
                    }
                } else {
                    self.entry::<ZSet>(&key(k))?
                };
                let new = zadd_one(z, &el(m), SCORES[s], true, &flags)?;
                if let Some(new) = new {
                    z.insert(el(m), new);
                }
                Out::Score(new)
            }
            Op::ZIncrBy(k, s, m) => {
                let z = self.entry::<ZSet>(&key(k))?;
                let new = zadd_one(z, &el(m), SCORES[s], true, &ZAddFlags::default())?
                    .expect("a plain increment always scores");
                z.insert(el(m), new);
                Out::Float(new)
            }
            Op::ZRem(k, ref ms) => Out::Len(match self.get_mut::<ZSet>(&key(k))? {
                None => 0,
                Some(z) => ms.iter().filter(|&&m| z.remove(&el(m)).is_some()).count(),
            }),
            Op::ZScore(k, m) => Out::Score(
                self.get::<ZSet>(&key(k))?
                    .and_then(|z| z.get(&el(m)).copied()),
            ),
            Op::ZCard(k) => Out::Len(self.get::<ZSet>(&key(k))?.map_or(0, ZSet::len)),
            Op::ZRank(k, m, rev) => {
                let mut all = self.zordered(k)?;
                if rev {
                    all.reverse();
                }
                Out::Rank(
                    all.iter()
                        .position(|(x, _)| *x == el(m))
                        .map(|i| (i, all[i].1)),
                )
            }
            Op::ZRangeByRank(k, a, b, rev) => {
                let mut all = self.zordered(k)?;
                if rev {
                    all.reverse();
                }
                Out::Scored(all[range(a, b, all.len())].to_vec())
            }
            Op::ZRangeByScore(k, b, rev, limit) => {
                let mut hits: Vec<_> = self
                    .zordered(k)?
                    .into_iter()
                    .filter(|(_, s)| in_score_range(*s, b))
                    .collect();
                if rev {
                    hits.reverse();
                }
                Out::Scored(limited(hits, limit))
            }
            Op::ZRangeByLex(k, min, max, rev, limit) => {
                let mut hits: Vec<_> = self
                    .zordered(k)?
                    .into_iter()
                    .filter(|(m, _)| in_lex_range(m, min, max))
                    .collect();
                if rev {
                    hits.reverse();
                }
                Out::Scored(limited(hits, limit))
            }
            Op::ZCount(k, b) => Out::Len(
                self.zordered(k)?
                    .iter()
                    .filter(|(_, s)| in_score_range(*s, b))
                    .count(),
            ),
            Op::ZLexCount(k, min, max) => Out::Len(
                self.zordered(k)?
                    .iter()
                    .filter(|(m, _)| in_lex_range(m, min, max))
                    .count(),
            ),
            Op::ZRemRangeByRank(k, a, b) => {
                let all = self.zordered(k)?;
                self.zremove(k, &all[range(a, b, all.len())])
            }
            Op::ZRemRangeByScore(k, b) => {
                let hits: Vec<_> = self
                    .zordered(k)?
                    .into_iter()
                    .filter(|(_, s)| in_score_range(*s, b))
                    .collect();
                self.zremove(k, &hits)
            }
            Op::ZRemRangeByLex(k, min, max) => {
                let hits: Vec<_> = self
                    .zordered(k)?
                    .into_iter()
                    .filter(|(m, _)| in_lex_range(m, min, max))
                    .collect();
                self.zremove(k, &hits)
            }
            Op::ZPop(k, max, n) => {
                let mut all = self.zordered(k)?;
                if max {
                    all.reverse();
                }
                all.truncate(n);
                self.zremove(k, &all);
                Out::Scored(all)
            }
            Op::ZMPop(ref keys, max, n) => {
                for &k in keys {
                    if self.get::<ZSet>(&key(k))?.is_some() {
                        let mut all = self.zordered(k)?;
                        if max {
                            all.reverse();
                        }
                        all.truncate(n);
                        self.zremove(k, &all);
                        return Ok(Out::KeyScored(Some((key(k), all))));
                    }
                }
                Out::KeyScored(None)
            }
            Op::ZRangeStore(dst, src, a, b) => {
                let all = self.zordered(src)?;
                let picked: ZSet = all[range(a, b, all.len())].iter().cloned().collect();
                let n = picked.len();
                self.map.insert(key(dst), (Val::ZSet(picked), None));
                Out::Len(n)
            }
            _ => unreachable!("not a sorted-set operation: {op:?}"),
        })
    }

    /// The sorted set at `k` in rank order (empty when missing).
    fn zordered(&self, k: K) -> Result<Vec<(Bytes, f64)>, Error> {
        Ok(self.get::<ZSet>(&key(k))?.map(order).unwrap_or_default())
    }

    fn zremove(&mut self, k: K, members: &[(Bytes, f64)]) -> Out {
        if let Ok(Some(z)) = self.get_mut::<ZSet>(&key(k)) {
            for (m, _) in members {
                z.remove(m);
            }
        }
        Out::Len(members.len())
    }

    /// The model's state in the shape of `super::observe`.
    pub(super) fn observe(&mut self) -> Vec<(&'static str, Option<(Shown, Ttl)>)> {
        self.purge();
        KEYS.iter()
            .map(|&k| {
                let entry = self.map.get(k.as_bytes()).map(|(v, at)| {
                    let shown = match v {
                        Val::Str(s) => Shown::Str(s.clone()),
                        Val::List(l) => Shown::List(l.iter().cloned().collect()),
                        Val::Hash(h) => {
                            Shown::Hash(h.iter().map(|(f, v)| (f.clone(), v.clone())).collect())
                        }
                        Val::Set(s) => Shown::Set(s.iter().cloned().collect()),
                        Val::ZSet(z) => Shown::ZSet(order(z)),
                    };
                    let pttl = at.map_or(Ttl::Persistent, |at| {
                        Ttl::ExpiresIn(Duration::from_millis(at - self.now))
                    });
                    (shown, pttl)
                });
                (k, entry)
            })
            .collect()
    }

    pub(super) fn keys(&mut self) -> Vec<Bytes> {
        self.purge();
        let mut keys: Vec<Bytes> = self.map.keys().cloned().collect();
        keys.sort();
        keys
    }
}
