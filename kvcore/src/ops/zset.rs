//! Sorted-set commands: ZADD, ZINCRBY, ZSCORE, ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT, ZRANGE (and
//! ZREVRANGE, ZRANGEBYSCORE, ZRANGEBYLEX...), ZRANGESTORE, ZRANK, ZREVRANK, ZREM,
//! ZREMRANGEBY*, ZPOPMIN, ZPOPMAX, ZMPOP, ZUNION/ZINTER/ZDIFF and their STORE forms,
//! ZINTERCARD, ZRANDMEMBER, ZSCAN.

use crate::effect::Effect;
use crate::entry::{Entry, Value};
use crate::error::{Error, Result};
use crate::glob::Pattern;
use crate::kv::Db;
use crate::notify::Class;
use crate::ops::container::{Container, bytes, read, rng, write};
use crate::options::ScanOptions;
use crate::types::{Aggregate, LexRange, ScoreRange, ZAddFlags, ZInput, ZSet};

/// A member with its score.
pub type ScoredMember = (Vec<u8>, f64);

/// What ZRANGE selects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ZRangeBy<'a> {
    /// By position, `start..=stop`, negative from the end (ZRANGE, ZREVRANGE).
    Rank(i64, i64),
    /// By score (BYSCORE); the range is always (min, max), also with REV.
    Score(ScoreRange),
    /// By member (BYLEX), for members of equal score; always (min, max).
    Lex(LexRange<'a>),
}

/// A ZRANGE request: what to select, in which direction, and LIMIT.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZRange<'a> {
    by: ZRangeBy<'a>,
    rev: bool,
    limit: Option<(i64, i64)>,
}

impl<'a> ZRange<'a> {
    /// Ascending, no LIMIT.
    pub fn new(by: ZRangeBy<'a>) -> Self {
        ZRange {
            by,
            rev: false,
            limit: None,
        }
    }
    /// REV: highest first.
    pub fn rev(mut self, rev: bool) -> Self {
        self.rev = rev;
        self
    }
    /// LIMIT offset count (count < 0: no limit; offset < 0: nothing, as Redis). Ignored for
    /// ranges by rank (Redis rejects that combination as a syntax error).
    pub fn limit(mut self, offset: i64, count: i64) -> Self {
        self.limit = Some((offset, count));
        self
    }
}

/// ZUNION, ZINTER or ZDIFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZOp {
    /// ZUNION
    Union,
    /// ZINTER
    Inter,
    /// ZDIFF (weights and aggregate are ignored)
    Diff,
}

/// Sorted-set operations, as Redis's commands. Members are bytes, scores `f64` (never NaN).
///
/// Every method fails with [`Error::WrongType`] when a key it reads holds another type (the
/// combining commands also accept plain sets, whose members score 1); a sorted set whose last
/// member goes is deleted.
///
/// ```
/// use kvcore::{Kv, Options, ScoreRange, ZAddFlags, ZRange, ZRangeBy, ZSetStore, format_score};
///
/// let db = Kv::in_memory(Options::default()).db(0)?;
/// db.zadd("board", &[(10.0, "ann"), (7.5, "bob"), (12.0, "cy")], &ZAddFlags::default())?;
/// assert_eq!(db.zincrby("board", 3.0, "bob")?, 10.5);
/// let top = db.zrange("board", &ZRange::new(ZRangeBy::Rank(0, 1)).rev(true))?;
/// assert_eq!(top, [(b"cy".to_vec(), 12.0), (b"bob".to_vec(), 10.5)]);
/// let range = ScoreRange::parse(b"(10", b"+inf").unwrap(); // ZCOUNT board (10 +inf
/// assert_eq!(db.zcount("board", &range)?, 2);
/// assert_eq!(format_score(10.5), "10.5");
/// # Ok::<(), kvcore::Error>(())
/// ```
pub trait ZSetStore {
    /// ZADD: returns how many members were added (with `flags.ch`: added or changed).
    ///
    /// # Errors
    /// [`Error::IncompatibleOptions`] for NX with XX, GT with LT, NX with GT/LT;
    /// [`Error::ScoreNan`] for a NaN score. Nothing changes then. Use
    /// [`zadd_incr`](ZSetStore::zadd_incr) for INCR.
    fn zadd<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        pairs: &[(f64, M)],
        flags: &ZAddFlags,
    ) -> Result<usize>;
    /// ZADD INCR: the new score, None when NX/XX/GT/LT prevented the update.
    ///
    /// # Errors
    /// As [`zadd`](ZSetStore::zadd); `ScoreNan` when the sum is NaN.
    fn zadd_incr(
        &self,
        key: impl AsRef<[u8]>,
        delta: f64,
        member: impl AsRef<[u8]>,
        flags: &ZAddFlags,
    ) -> Result<Option<f64>>;
    /// ZINCRBY: the new score.
    fn zincrby(&self, key: impl AsRef<[u8]>, delta: f64, member: impl AsRef<[u8]>) -> Result<f64>;
    /// ZSCORE.
    fn zscore(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<f64>>;
    /// ZMSCORE.
    fn zmscore<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<Option<f64>>>;
    /// ZCARD.
    fn zcard(&self, key: impl AsRef<[u8]>) -> Result<usize>;
    /// ZCOUNT.
    fn zcount(&self, key: impl AsRef<[u8]>, range: &ScoreRange) -> Result<usize>;
    /// ZLEXCOUNT.
    fn zlexcount(&self, key: impl AsRef<[u8]>, range: &LexRange<'_>) -> Result<usize>;
    /// ZRANGE in all its forms.
    fn zrange(&self, key: impl AsRef<[u8]>, range: &ZRange<'_>) -> Result<Vec<ScoredMember>>;
    /// ZRANGESTORE: stores the selection at `dst` (deleting `dst` when empty); its size.
    fn zrangestore(
        &self,
        dst: impl AsRef<[u8]>,
        src: impl AsRef<[u8]>,
        range: &ZRange<'_>,
    ) -> Result<usize>;
    /// ZRANK (`rev` false) / ZREVRANK: 0-based position and score.
    fn zrank(
        &self,
        key: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
        rev: bool,
    ) -> Result<Option<(usize, f64)>>;
    /// ZREM: how many members were present.
    fn zrem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<usize>;
    /// ZREMRANGEBYRANK / ZREMRANGEBYSCORE / ZREMRANGEBYLEX: how many were removed.
    fn zremrange(&self, key: impl AsRef<[u8]>, by: &ZRangeBy<'_>) -> Result<usize>;
    /// ZPOPMIN (`max` false) / ZPOPMAX: up to `count` members, removed, in pop order.
    fn zpop(&self, key: impl AsRef<[u8]>, max: bool, count: usize) -> Result<Vec<ScoredMember>>;
    /// ZMPOP: pops from the first non-empty sorted set of `keys`; that key and the members.
    fn zmpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        max: bool,
        count: usize,
    ) -> Result<Option<(Vec<u8>, Vec<ScoredMember>)>>;
    /// ZRANDMEMBER without a count.
    fn zrandmember(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>>;
    /// ZRANDMEMBER with a count: positive = distinct (at most all), negative = |count| that
    /// may repeat. Scores come along (WITHSCORES).
    fn zrandmember_count(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<ScoredMember>>;
    /// ZUNION / ZINTER / ZDIFF, ascending by score. `weights` (one per key, default 1)
    /// multiply scores before aggregating.
    fn zcombine<K: AsRef<[u8]>>(
        &self,
        op: ZOp,
        keys: &[K],
        weights: Option<&[f64]>,
        aggregate: Aggregate,
    ) -> Result<Vec<ScoredMember>>;
    /// ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE: stores the result at `dst` (deleting it when
    /// empty); the result's size.
    fn zcombinestore<K: AsRef<[u8]>>(
        &self,
        op: ZOp,
        dst: impl AsRef<[u8]>,
        keys: &[K],
        weights: Option<&[f64]>,
        aggregate: Aggregate,
    ) -> Result<usize>;
    /// ZINTERCARD: the intersection's size, counting stops at `limit` (0: no limit).
    fn zintercard<K: AsRef<[u8]>>(&self, keys: &[K], limit: usize) -> Result<usize>;
    /// ZSCAN: one step from `cursor` (0 starts); returns the next cursor (0: done).
    fn zscan(
        &self,
        key: impl AsRef<[u8]>,
        cursor: u64,
        opts: &ScanOptions,
    ) -> Result<(u64, Vec<ScoredMember>)>;
}

fn owned(v: Vec<(&[u8], f64)>) -> Vec<ScoredMember> {
    v.into_iter().map(|(m, s)| (m.to_vec(), s)).collect()
}

fn select<'z>(z: &'z ZSet, r: &ZRange<'_>) -> Vec<(&'z [u8], f64)> {
    let (offset, count) = r.limit.unwrap_or((0, -1));
    match &r.by {
        ZRangeBy::Rank(start, stop) => z.range_by_rank(*start, *stop, r.rev),
        ZRangeBy::Score(range) => z.range_by_score(range, r.rev, offset, count),
        ZRangeBy::Lex(range) => z.range_by_lex(range, r.rev, offset, count),
    }
}

fn input(e: &Entry) -> Result<ZInput<'_>> {
    match &e.value {
        Value::ZSet(z) => Ok(ZInput::ZSet(z)),
        Value::Set(s) => Ok(ZInput::Set(s)),
        _ => Err(Error::WrongType),
    }
}

fn combine(
    op: ZOp,
    inputs: &[Option<ZInput<'_>>],
    weights: Option<&[f64]>,
    agg: Aggregate,
) -> ZSet {
    let ones;
    let weights = match weights {
        Some(w) => w,
        None => {
            ones = vec![1.0; inputs.len()];
            &ones
        }
    };
    match op {
        ZOp::Union => ZSet::union(inputs, weights, agg),
        ZOp::Inter => ZSet::inter(inputs, weights, agg),
        ZOp::Diff => ZSet::diff(inputs),
    }
}

/// Stores a STORE form's result at `slot` (deleting the key for an empty one); refused before
/// anything changes if its log record would be too large. `event` names the command for
/// keyspace notifications.
pub(crate) fn store(
    slot: &mut crate::access::WriteSlot<'_>,
    result: ZSet,
    event: &'static str,
) -> Result<usize> {
    let n = result.len();
    if n == 0 {
        if slot.remove().is_some() {
            slot.journal(Effect::Del {
                db: slot.db(),
                key: slot.key(),
            });
            slot.notify(Class::Generic, "del");
        }
    } else {
        slot.store(result.into_value(), None)?;
        slot.notify(Class::ZSet, event);
    }
    Ok(n)
}

fn pop(db: &Db, key: &[u8], max: bool, count: usize) -> Result<Option<Vec<ScoredMember>>> {
    db.write_entry(key, |slot| {
        let popped = write(slot, false, |z: &mut ZSet| Ok(z.pop(max, count)))?;
        if let Some(p) = popped.as_ref().filter(|p| !p.is_empty()) {
            let members: Vec<&[u8]> = p.iter().map(|(m, _)| &**m).collect();
            slot.journal(Effect::ZRem {
                db: slot.db(),
                key,
                members: &members,
            });
            slot.notify(Class::ZSet, if max { "zpopmax" } else { "zpopmin" });
        }
        Ok(popped.map(|p| p.into_iter().map(|(m, s)| (m.into_vec(), s)).collect()))
    })
}

impl ZSetStore for Db {
    fn zadd<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        pairs: &[(f64, M)],
        flags: &ZAddFlags,
    ) -> Result<usize> {
        let key = key.as_ref();
        let flags = ZAddFlags {
            incr: false,
            ..*flags
        };
        flags.validate(pairs.len())?;
        if pairs.iter().any(|(s, _)| s.is_nan()) {
            return Err(Error::ScoreNan);
        }
        self.inner
            .admit()
            .key(key)?
            .args(pairs.iter().map(|(_, m)| m.as_ref()))?
            .scores(pairs.len())
            .check()?;
        self.write_entry(key, |slot| {
            let mut changed: Vec<(f64, &[u8])> = Vec::new();
            let mut counted = 0;
            write(slot, !flags.xx, |z: &mut ZSet| {
                for (score, m) in pairs {
                    let out = z.add(*score, m.as_ref(), &flags)?;
                    if out.changed() {
                        changed.push((out.score().unwrap_or(*score), m.as_ref()));
                    }
                    if out.added() || (flags.ch && out.changed()) {
                        counted += 1;
                    }
                }
                Ok(())
            })?;
            if !changed.is_empty() {
                slot.journal(Effect::ZAdd {
                    db: slot.db(),
                    key,
                    pairs: &changed,
                });
                slot.notify(Class::ZSet, "zadd");
            }
            Ok(counted)
        })
    }

    fn zadd_incr(
        &self,
        key: impl AsRef<[u8]>,
        delta: f64,
        member: impl AsRef<[u8]>,
        flags: &ZAddFlags,
    ) -> Result<Option<f64>> {
        let (key, member) = (key.as_ref(), member.as_ref());
        let flags = ZAddFlags {
            incr: true,
            ..*flags
        };
        flags.validate(1)?;
        self.inner
            .admit()
            .key(key)?
            .arg(member)?
            .scores(1)
            .check()?;
        self.write_entry(key, |slot| {
            let out = write(slot, !flags.xx, |z: &mut ZSet| {
                Ok(z.add(delta, member, &flags)?)
            })?;
            let Some(out) = out else { return Ok(None) };
            if out.changed() {
                let score = out.score().expect("a change has a score");
                slot.journal(Effect::ZAdd {
                    db: slot.db(),
                    key,
                    pairs: &[(score, member)],
                });
                slot.notify(Class::ZSet, "zincr");
            }
            Ok(out.score())
        })
    }

    fn zincrby(&self, key: impl AsRef<[u8]>, delta: f64, member: impl AsRef<[u8]>) -> Result<f64> {
        // Without NX/XX/GT/LT an increment always yields a score.
        Ok(self
            .zadd_incr(key, delta, member, &ZAddFlags::default())?
            .expect("plain INCR"))
    }

    fn zscore(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<f64>> {
        let member = member.as_ref();
        read(self, key.as_ref(), |z: Option<&ZSet>| {
            z.and_then(|z| z.score(member))
        })
    }

    fn zmscore<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<Option<f64>>> {
        read(self, key.as_ref(), |z: Option<&ZSet>| match z {
            Some(z) => z.scores(members),
            None => vec![None; members.len()],
        })
    }

    fn zcard(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        read(self, key.as_ref(), |z: Option<&ZSet>| {
            z.map_or(0, ZSet::len)
        })
    }

    fn zcount(&self, key: impl AsRef<[u8]>, range: &ScoreRange) -> Result<usize> {
        read(self, key.as_ref(), |z: Option<&ZSet>| {
            z.map_or(0, |z| z.count_by_score(range))
        })
    }

    fn zlexcount(&self, key: impl AsRef<[u8]>, range: &LexRange<'_>) -> Result<usize> {
        read(self, key.as_ref(), |z: Option<&ZSet>| {
            z.map_or(0, |z| z.count_by_lex(range))
        })
    }

    fn zrange(&self, key: impl AsRef<[u8]>, range: &ZRange<'_>) -> Result<Vec<ScoredMember>> {
        read(self, key.as_ref(), |z: Option<&ZSet>| {
            z.map_or_else(Vec::new, |z| owned(select(z, range)))
        })
    }

    fn zrangestore(
        &self,
        dst: impl AsRef<[u8]>,
        src: impl AsRef<[u8]>,
        range: &ZRange<'_>,
    ) -> Result<usize> {
        let (dst, src, d) = (dst.as_ref(), src.as_ref(), self.index);
        self.write_many(&[(d, src), (d, dst)], |locked| {
            let result = {
                let mut out = ZSet::new();
                if let Some(e) = locked.source(d, src) {
                    for (m, s) in select(ZSet::of(&e.value)?, range) {
                        out.add(s, m, &ZAddFlags::default())?;
                    }
                }
                out
            };
            store(&mut locked.slot(d, dst), result, "zrangestore")
        })
    }

    fn zrank(
        &self,
        key: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
        rev: bool,
    ) -> Result<Option<(usize, f64)>> {
        let member = member.as_ref();
        read(self, key.as_ref(), |z: Option<&ZSet>| {
            z.and_then(|z| {
                if rev {
                    z.rev_rank(member)
                } else {
                    z.rank(member)
                }
            })
        })
    }

    fn zrem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<usize> {
        let key = key.as_ref();
        let members = bytes(members);
        self.admit().key(key)?.keys(&members)?.check()?;
        self.write_entry(key, |slot| {
            let removed: Vec<&[u8]> = write(slot, false, |z: &mut ZSet| {
                Ok(members
                    .iter()
                    .copied()
                    .filter(|m| z.remove(m).is_some())
                    .collect())
            })?
            .unwrap_or_default();
            if !removed.is_empty() {
                slot.journal(Effect::ZRem {
                    db: slot.db(),
                    key,
                    members: &removed,
                });
                slot.notify(Class::ZSet, "zrem");
            }
            Ok(removed.len())
        })
    }

    fn zremrange(&self, key: impl AsRef<[u8]>, by: &ZRangeBy<'_>) -> Result<usize> {
        let key = key.as_ref();
        self.write_entry(key, |slot| {
            let removed = write(slot, false, |z: &mut ZSet| {
                Ok(match by {
                    ZRangeBy::Rank(start, stop) => z.remove_range_by_rank(*start, *stop),
                    ZRangeBy::Score(range) => z.remove_range_by_score(range),
                    ZRangeBy::Lex(range) => z.remove_range_by_lex(range),
                })
            })?
            .unwrap_or_default();
            if !removed.is_empty() {
                let members: Vec<&[u8]> = removed.iter().map(|m| &**m).collect();
                slot.journal(Effect::ZRem {
                    db: slot.db(),
                    key,
                    members: &members,
                });
                slot.notify(
                    Class::ZSet,
                    match by {
                        ZRangeBy::Rank(..) => "zremrangebyrank",
                        ZRangeBy::Score(_) => "zremrangebyscore",
                        ZRangeBy::Lex(_) => "zremrangebylex",
                    },
                );
            }
            Ok(removed.len())
        })
    }

    fn zpop(&self, key: impl AsRef<[u8]>, max: bool, count: usize) -> Result<Vec<ScoredMember>> {
        Ok(pop(self, key.as_ref(), max, count)?.unwrap_or_default())
    }

    fn zmpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        max: bool,
        count: usize,
    ) -> Result<Option<(Vec<u8>, Vec<ScoredMember>)>> {
        for key in keys {
            let key = key.as_ref();
            if let Some(popped) = pop(self, key, max, count)? {
                return Ok(Some((key.to_vec(), popped)));
            }
        }
        Ok(None)
    }

    fn zrandmember(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let mut rng = rng(self);
        read(self, key.as_ref(), |z: Option<&ZSet>| {
            z.and_then(|z| z.random_member(&mut rng))
                .map(|(m, _)| m.to_vec())
        })
    }

    fn zrandmember_count(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<ScoredMember>> {
        let mut rng = rng(self);
        read(self, key.as_ref(), |z: Option<&ZSet>| {
            z.map_or_else(Vec::new, |z| owned(z.random_members(&mut rng, count)))
        })
    }

    fn zcombine<K: AsRef<[u8]>>(
        &self,
        op: ZOp,
        keys: &[K],
        weights: Option<&[f64]>,
        aggregate: Aggregate,
    ) -> Result<Vec<ScoredMember>> {
        let d = self.index;
        let ids: Vec<(usize, &[u8])> = keys.iter().map(|k| (d, k.as_ref())).collect();
        let locked = self.lock_read(&ids);
        let inputs = ids
            .iter()
            .map(|&(d, k)| locked.entry(d, k).map(input).transpose())
            .collect::<Result<Vec<_>>>()?;
        let result = combine(op, &inputs, weights, aggregate);
        Ok(result.iter().map(|(m, s)| (m.to_vec(), s)).collect())
    }

    fn zcombinestore<K: AsRef<[u8]>>(
        &self,
        op: ZOp,
        dst: impl AsRef<[u8]>,
        keys: &[K],
        weights: Option<&[f64]>,
        aggregate: Aggregate,
    ) -> Result<usize> {
        let (dst, d) = (dst.as_ref(), self.index);
        let mut ids: Vec<(usize, &[u8])> = keys.iter().map(|k| (d, k.as_ref())).collect();
        ids.push((d, dst));
        self.write_many(&ids, |locked| {
            let result = {
                let inputs = ids[..ids.len() - 1]
                    .iter()
                    .map(|&(d, k)| locked.source(d, k).map(input).transpose())
                    .collect::<Result<Vec<_>>>()?;
                combine(op, &inputs, weights, aggregate)
            };
            let event = match op {
                ZOp::Union => "zunionstore",
                ZOp::Inter => "zinterstore",
                ZOp::Diff => "zdiffstore",
            };
            store(&mut locked.slot(d, dst), result, event)
        })
    }

    fn zintercard<K: AsRef<[u8]>>(&self, keys: &[K], limit: usize) -> Result<usize> {
        let n = self.zcombine(ZOp::Inter, keys, None, Aggregate::Sum)?.len();
        Ok(if limit == 0 { n } else { n.min(limit) })
    }

    fn zscan(
        &self,
        key: impl AsRef<[u8]>,
        cursor: u64,
        opts: &ScanOptions,
    ) -> Result<(u64, Vec<ScoredMember>)> {
        let pattern = opts.pattern.as_deref().map(Pattern::new);
        read(self, key.as_ref(), |z: Option<&ZSet>| {
            let Some(z) = z else { return (0, Vec::new()) };
            let mut out = Vec::new();
            let next = z.scan(cursor, opts.count, |m, s| {
                if pattern.as_ref().is_none_or(|p| p.matches(m)) {
                    out.push((m.to_vec(), s));
                }
            });
            (next, out)
        })
    }
}
