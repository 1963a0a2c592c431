//! Sorted sets: small ones packed in one sorted buffer ([`ZPack`], Redis's listpack
//! encoding), larger ones in a span-counted skip list over a hash-indexed slot table
//! ([`SkipList`], Redis's skiplist encoding: O(1) ZSCORE, O(log n) rank, O(log n + m) ranges).
//! A set moves to the skip list past `zset-max-listpack-entries` members (128 by default) or a
//! member longer than `zset-max-listpack-value` (64), for good (see [`super::encoding`]).

use foldhash::fast::RandomState;

use super::rng::Rng;
use super::score::{LexRange, ScoreRange};
use super::set::Set;
use super::skiplist::SkipList;
use super::zpack::{ZPack, less};
use super::{TypeError, alloc_size, encoding, normalize_range};

/// ZADD's flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZAddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update when the new score is greater.
    pub gt: bool,
    /// Only update when the new score is less.
    pub lt: bool,
    /// Count changed members too (affects only the reply).
    pub ch: bool,
    /// The score is an increment (ZINCRBY semantics).
    pub incr: bool,
}

impl ZAddFlags {
    /// Rejects flag combinations Redis rejects, given the number of score/member pairs.
    ///
    /// # Errors
    /// [`TypeError::ZAddNxXx`], [`TypeError::ZAddGtLtNx`], [`TypeError::ZAddIncrPairs`].
    pub(crate) fn validate(&self, pairs: usize) -> Result<(), TypeError> {
        if self.nx && self.xx {
            return Err(TypeError::ZAddNxXx);
        }
        if (self.gt && self.lt) || (self.nx && (self.gt || self.lt)) {
            return Err(TypeError::ZAddGtLtNx);
        }
        if self.incr && pairs > 1 {
            return Err(TypeError::ZAddIncrPairs);
        }
        Ok(())
    }
}

/// What ZADD did to one member.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ZAddOutcome {
    /// New member with this score.
    Added(f64),
    /// Existing member, score changed to this.
    Updated(f64),
    /// Existing member, score already equal to this.
    Unchanged(f64),
    /// Nothing done because of NX/XX/GT/LT (ZADD INCR then replies nil).
    Skipped,
}

impl ZAddOutcome {
    /// The member's score after the call, None when skipped (the ZADD INCR reply).
    pub(crate) fn score(&self) -> Option<f64> {
        match *self {
            ZAddOutcome::Added(s) | ZAddOutcome::Updated(s) | ZAddOutcome::Unchanged(s) => Some(s),
            ZAddOutcome::Skipped => None,
        }
    }

    /// Counted by ZADD without CH.
    pub(crate) fn added(&self) -> bool {
        matches!(self, ZAddOutcome::Added(_))
    }

    /// Counted by ZADD CH.
    pub(crate) fn changed(&self) -> bool {
        matches!(self, ZAddOutcome::Added(_) | ZAddOutcome::Updated(_))
    }
}

/// How ZUNIONSTORE/ZINTERSTORE combine the scores of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregate {
    /// Add (inf + -inf counts as 0, as in Redis).
    #[default]
    Sum,
    /// Keep the least.
    Min,
    /// Keep the greatest.
    Max,
}

impl Aggregate {
    fn apply(self, acc: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *acc += v;
                if acc.is_nan() {
                    *acc = 0.0;
                }
            }
            Aggregate::Min => *acc = acc.min(v),
            Aggregate::Max => *acc = acc.max(v),
        }
    }
}

/// An input of ZUNION/ZINTER/ZDIFF: a sorted set, or a plain set whose members score 1.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ZInput<'a> {
    /// A sorted set.
    ZSet(&'a ZSet),
    /// A set; every member has score 1.
    Set(&'a Set),
}

impl<'a> ZInput<'a> {
    fn len(&self) -> usize {
        match self {
            ZInput::ZSet(z) => z.len(),
            ZInput::Set(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZInput::ZSet(z) => z.score(member),
            ZInput::Set(s) => s.contains(member).then_some(1.0),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&'a [u8], f64)) {
        match *self {
            ZInput::ZSet(z) => z.iter().for_each(|(m, s)| f(m, s)),
            ZInput::Set(s) => s.iter().for_each(|m| f(m, 1.0)),
        }
    }
}

fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() { 0.0 } else { v } // 0 * inf, as Redis
}

/// A Redis sorted set.
#[derive(Debug, Clone)]
pub(crate) enum ZSet {
    /// At most 128 members of at most 64 bytes, packed.
    Small(ZPack),
    /// Everything else; sticky, as Redis never converts back.
    Large(Box<SkipList>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Small(ZPack::default())
    }
}

/// Equal when both hold the same members with the same scores.
impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(m, s)| other.score(m) == Some(s))
    }
}

/// Runs `$e` on whichever representation `$z` has.
macro_rules! each {
    ($self:expr, $z:ident => $e:expr) => {
        match $self {
            ZSet::Small($z) => $e,
            ZSet::Large($z) => $e,
        }
    };
}

impl ZSet {
    /// An empty sorted set.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Writes a packed sorted set's inline form into `out`; None if it is a skip list or
    /// does not fit (see `inline.rs`).
    pub(crate) fn encode_inline(&self, out: &mut [u8]) -> Option<usize> {
        match self {
            ZSet::Small(z) => z.encode_inline(out),
            ZSet::Large(_) => None,
        }
    }

    /// The sorted set [`ZSet::encode_inline`] wrote.
    pub(crate) fn from_inline(bytes: &[u8]) -> ZSet {
        ZSet::Small(ZPack::from_inline(bytes))
    }

    /// ZCARD.
    pub(crate) fn len(&self) -> usize {
        each!(self, z => z.len())
    }

    /// True when the set has no members (the store then deletes the key).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert_new(&mut self, member: &[u8], score: f64) {
        // -0 is stored as 0, as Redis's listpack does (it keeps integral scores as integers).
        let score = score + 0.0;
        if let ZSet::Small(p) = self {
            if p.len() < encoding::zset_entries() && member.len() <= encoding::zset_value() {
                p.insert_new(member, score);
                return;
            }
            let mut sl = SkipList::default();
            for (m, s) in p.iter() {
                sl.insert_new(m, s);
            }
            *self = ZSet::Large(Box::new(sl));
        }
        let ZSet::Large(sl) = self else {
            unreachable!("grown above")
        };
        sl.insert_new(member, score);
    }

    fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        each!(self, z => z.count_while(pred))
    }

    fn collect(&self, range: std::ops::Range<usize>, rev: bool) -> Vec<(&[u8], f64)> {
        if range.is_empty() {
            return Vec::new();
        }
        each!(self, z => z.collect(range, rev))
    }

    /// Positions selected by LIMIT `offset count` within `range` (count < 0: no limit;
    /// offset < 0: nothing, as Redis), counted from the low end, or from the high end if `rev`.
    fn limit(
        range: std::ops::Range<usize>,
        rev: bool,
        offset: i64,
        count: i64,
    ) -> std::ops::Range<usize> {
        let Ok(offset) = usize::try_from(offset) else {
            return 0..0;
        };
        let take = usize::try_from(count).unwrap_or(usize::MAX);
        let len = range.len().saturating_sub(offset).min(take);
        if rev {
            let end = range.end.saturating_sub(offset);
            end - len..end
        } else {
            let start = range.start + offset.min(range.len());
            start..start + len
        }
    }

    fn score_positions(&self, range: &ScoreRange) -> std::ops::Range<usize> {
        if range.is_empty() {
            return 0..0;
        }
        let start = self.count_while(|s, _| !range.above_min(s));
        let end = self.count_while(|s, _| range.below_max(s));
        start..end.max(start)
    }

    /// Positions of the members in a lex range. Lex ranges assume equal scores; when they are
    /// not, this follows Redis's listpack walk (first member at or above the minimum, then
    /// while at or below the maximum), so small sets answer as Redis does. The skip list uses
    /// the same prefix arithmetic as Redis's skip list, which is exact for equal scores.
    fn lex_positions(&self, range: &LexRange<'_>) -> std::ops::Range<usize> {
        let len = self.len();
        if range.is_empty() || len == 0 {
            return 0..0;
        }
        let first = self.collect(0..1, false)[0].0;
        let last = self.collect(len - 1..len, false)[0].0;
        if !range.above_min(last) || !range.below_max(first) {
            return 0..0;
        }
        match self {
            ZSet::Small(z) => {
                let all: Vec<(&[u8], f64)> = z.iter().collect();
                let Some(start) = all.iter().position(|(m, _)| range.above_min(m)) else {
                    return 0..0;
                };
                let n = all[start..]
                    .iter()
                    .take_while(|(m, _)| range.below_max(m))
                    .count();
                start..start + n
            }
            ZSet::Large(_) => {
                let start = self.count_while(|_, m| !range.above_min(m));
                let end = self.count_while(|_, m| range.below_max(m));
                start..end.max(start)
            }
        }
    }

    // ---- commands ---------------------------------------------------------------------------

    /// ZADD for one pair (flags already validated); ZINCRBY is `incr`.
    ///
    /// # Errors
    /// [`TypeError::ScoreNan`] when the score is NaN or INCR makes it NaN (`+inf` plus `-inf`);
    /// nothing changes then.
    pub(crate) fn add(
        &mut self,
        score: f64,
        member: &[u8],
        flags: &ZAddFlags,
    ) -> Result<ZAddOutcome, TypeError> {
        if score.is_nan() {
            return Err(TypeError::ScoreNan);
        }
        let score = score + 0.0; // -0 is stored and reported as 0
        let Some(cur) = self.score(member) else {
            if flags.xx {
                return Ok(ZAddOutcome::Skipped);
            }
            self.insert_new(member, score);
            return Ok(ZAddOutcome::Added(score));
        };
        if flags.nx {
            return Ok(ZAddOutcome::Skipped);
        }
        let new = if flags.incr { cur + score } else { score };
        if new.is_nan() {
            return Err(TypeError::ScoreNan);
        }
        if (flags.lt && new >= cur) || (flags.gt && new <= cur) {
            return Ok(ZAddOutcome::Skipped);
        }
        if new == cur {
            return Ok(ZAddOutcome::Unchanged(cur));
        }
        let new = new + 0.0; // -0 is stored and reported as 0
        each!(self, z => z.set_score(member, new));
        Ok(ZAddOutcome::Updated(new))
    }

    /// ZINCRBY: adds `delta` to the member's score (0 when new); returns the new score.
    ///
    /// # Errors
    /// [`TypeError::ScoreNan`] when the result is NaN.
    #[cfg(test)]
    pub(crate) fn incr_by(&mut self, member: &[u8], delta: f64) -> Result<f64, TypeError> {
        let flags = ZAddFlags {
            incr: true,
            ..ZAddFlags::default()
        };
        Ok(self
            .add(delta, member, &flags)?
            .score()
            .expect("plain INCR is never skipped"))
    }

    /// ZSCORE: O(1) for the skip list, a walk over at most 128 entries when small.
    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        each!(self, z => z.score(member))
    }

    /// ZMSCORE.
    pub(crate) fn scores<M: AsRef<[u8]>>(&self, members: &[M]) -> Vec<Option<f64>> {
        members.iter().map(|m| self.score(m.as_ref())).collect()
    }

    /// ZREM for one member: its score if it was present.
    pub(crate) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        each!(self, z => z.remove(member))
    }

    /// ZRANK: 0-based position in ascending order, with the score. O(log n).
    pub(crate) fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let score = self.score(member)?;
        Some((self.count_while(|s, m| less(s, m, score, member)), score))
    }

    /// ZREVRANK: 0-based position in descending order, with the score.
    pub(crate) fn rev_rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        self.rank(member).map(|(r, s)| (self.len() - 1 - r, s))
    }

    /// ZCOUNT. O(log n).
    pub(crate) fn count_by_score(&self, range: &ScoreRange) -> usize {
        self.score_positions(range).len()
    }

    /// ZLEXCOUNT (meaningful when all scores are equal, as in Redis). O(log n).
    pub(crate) fn count_by_lex(&self, range: &LexRange<'_>) -> usize {
        self.lex_positions(range).len()
    }

    /// ZRANGE by rank (`start..=stop`, negative from the end); with `rev` the ranks count from
    /// the highest score (ZREVRANGE).
    pub(crate) fn range_by_rank(&self, start: i64, stop: i64, rev: bool) -> Vec<(&[u8], f64)> {
        let len = self.len();
        let Some(r) = normalize_range(start, stop, len) else {
            return Vec::new();
        };
        let r = if rev { len - r.end..len - r.start } else { r };
        self.collect(r, rev)
    }

    /// ZRANGE BYSCORE [REV] [LIMIT offset count]. With `rev`, the highest scores come first.
    pub(crate) fn range_by_score(
        &self,
        range: &ScoreRange,
        rev: bool,
        offset: i64,
        count: i64,
    ) -> Vec<(&[u8], f64)> {
        self.collect(
            Self::limit(self.score_positions(range), rev, offset, count),
            rev,
        )
    }

    /// ZRANGE BYLEX [REV] [LIMIT offset count].
    pub(crate) fn range_by_lex(
        &self,
        range: &LexRange<'_>,
        rev: bool,
        offset: i64,
        count: i64,
    ) -> Vec<(&[u8], f64)> {
        self.collect(
            Self::limit(self.lex_positions(range), rev, offset, count),
            rev,
        )
    }

    /// All members in ascending order.
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        match self {
            ZSet::Small(z) => Box::new(z.iter()),
            ZSet::Large(z) => Box::new(z.iter()),
        }
    }

    fn remove_positions(&mut self, r: std::ops::Range<usize>) -> Vec<Box<[u8]>> {
        let members: Vec<Box<[u8]>> = self
            .collect(r, false)
            .into_iter()
            .map(|(m, _)| m.into())
            .collect();
        for m in &members {
            self.remove(m);
        }
        members
    }

    /// ZREMRANGEBYRANK; returns the removed members (in ascending order).
    pub(crate) fn remove_range_by_rank(&mut self, start: i64, stop: i64) -> Vec<Box<[u8]>> {
        match normalize_range(start, stop, self.len()) {
            Some(r) => self.remove_positions(r),
            None => Vec::new(),
        }
    }

    /// ZREMRANGEBYSCORE; returns the removed members.
    pub(crate) fn remove_range_by_score(&mut self, range: &ScoreRange) -> Vec<Box<[u8]>> {
        let r = self.score_positions(range);
        self.remove_positions(r)
    }

    /// ZREMRANGEBYLEX; returns the removed members.
    pub(crate) fn remove_range_by_lex(&mut self, range: &LexRange<'_>) -> Vec<Box<[u8]>> {
        let r = self.lex_positions(range);
        self.remove_positions(r)
    }

    /// ZPOPMIN / ZPOPMAX (`max`): up to `count` members, removed, in pop order.
    pub(crate) fn pop(&mut self, max: bool, count: usize) -> Vec<(Box<[u8]>, f64)> {
        each!(self, z => z.pop(max, count))
    }

    /// ZRANDMEMBER without a count.
    pub(crate) fn random_member(&self, rng: &mut Rng) -> Option<(&[u8], f64)> {
        self.random_members(rng, 1).pop()
    }

    /// ZRANDMEMBER with a count: positive = distinct, at most `len`; negative = exactly |count|
    /// members that may repeat; 0 = none.
    pub(crate) fn random_members(&self, rng: &mut Rng, count: i64) -> Vec<(&[u8], f64)> {
        each!(self, z => z.random_members(rng, count))
    }

    /// ZSCAN step: calls `f` for about `count` members, returns the next cursor (0 = done). A
    /// small set is returned whole in one step, as Redis does for listpacks.
    pub(crate) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Small(z) => {
                z.iter().for_each(|(m, s)| f(m, s));
                0
            }
            ZSet::Large(z) => z.scan(cursor, count, f),
        }
    }

    /// ZUNION: every member of any input, scores weighted then aggregated. `None` inputs are
    /// missing keys. `weights` has one entry per input.
    pub(crate) fn union(
        inputs: &[Option<ZInput<'_>>],
        weights: &[f64],
        aggregate: Aggregate,
    ) -> ZSet {
        debug_assert_eq!(inputs.len(), weights.len());
        let mut acc: hashbrown::HashMap<&[u8], f64, RandomState> = hashbrown::HashMap::default();
        for (input, &w) in inputs.iter().zip(weights) {
            let Some(input) = input else { continue };
            input.for_each(|m, s| {
                let v = weighted(s, w);
                acc.entry(m)
                    .and_modify(|a| aggregate.apply(a, v))
                    .or_insert(v);
            });
        }
        Self::from_scores(acc)
    }

    /// ZINTER: members present in every input (any missing input makes it empty).
    pub(crate) fn inter(
        inputs: &[Option<ZInput<'_>>],
        weights: &[f64],
        aggregate: Aggregate,
    ) -> ZSet {
        debug_assert_eq!(inputs.len(), weights.len());
        let Some(mut sources): Option<Vec<(ZInput<'_>, f64)>> = inputs
            .iter()
            .zip(weights)
            .map(|(i, &w)| i.map(|i| (i, w)))
            .collect()
        else {
            return ZSet::new();
        };
        if sources.is_empty() || sources.iter().any(|(i, _)| i.len() == 0) {
            return ZSet::new();
        }
        // Walk the smallest input, probe the others (Redis orders them the same way).
        sources.sort_by_key(|(i, _)| i.len());
        let mut acc: hashbrown::HashMap<&[u8], f64, RandomState> = hashbrown::HashMap::default();
        let (first, w0) = sources[0];
        first.for_each(|m, s| {
            let mut v = weighted(s, w0);
            for (other, w) in &sources[1..] {
                match other.score(m) {
                    Some(os) => aggregate.apply(&mut v, weighted(os, *w)),
                    None => return,
                }
            }
            acc.insert(m, v);
        });
        Self::from_scores(acc)
    }

    /// ZDIFF: members of the first input in none of the others, with their first-input scores.
    pub(crate) fn diff(inputs: &[Option<ZInput<'_>>]) -> ZSet {
        let mut out = ZSet::new();
        let Some((Some(first), rest)) = inputs.split_first() else {
            return out;
        };
        first.for_each(|m, s| {
            if !rest.iter().flatten().any(|o| o.score(m).is_some()) {
                out.insert_new(m, s);
            }
        });
        out
    }

    fn from_scores(acc: hashbrown::HashMap<&[u8], f64, RandomState>) -> ZSet {
        let mut out = ZSet::new();
        for (m, s) in acc {
            out.insert_new(m, s);
        }
        out
    }

    /// OBJECT ENCODING as Redis would report it.
    pub(crate) fn encoding(&self) -> &'static str {
        match self {
            ZSet::Small(_) => "listpack",
            ZSet::Large(_) => "skiplist",
        }
    }

    /// Approximate heap bytes (MEMORY USAGE, excluding the key).
    pub(crate) fn memory_usage(&self) -> usize {
        size_of::<Self>()
            + match self {
                ZSet::Small(z) => alloc_size(z.capacity()),
                ZSet::Large(z) => size_of::<SkipList>() + z.memory_usage(),
            }
    }

    /// Checks the representation's invariants; for tests.
    #[cfg(test)]
    fn check(&self) {
        match self {
            ZSet::Small(z) => {
                let all: Vec<(&[u8], f64)> = z.iter().collect();
                assert_eq!(all.len(), z.len());
                assert!(
                    all.windows(2).all(|w| less(w[0].1, w[0].0, w[1].1, w[1].0)),
                    "order"
                );
            }
            ZSet::Large(z) => z.check(),
        }
    }

    /// Slots in the skip list's node table; for compaction tests.
    #[cfg(test)]
    fn slot_count(&self) -> usize {
        match self {
            ZSet::Small(z) => z.len(),
            ZSet::Large(z) => z.slot_count(),
        }
    }
}

#[cfg(test)]
#[path = "zset_tests.rs"]
mod tests;
