//! Sorted sets: a skip list with spans (order statistics) whose nodes live in the stable-slot
//! [`Table`], so one structure gives both orders.
//!
//! * member -> node: the table's hash index, so ZSCORE/ZMSCORE are O(1);
//! * (score, member) order: a skip list (p = 1/4, at most 32 levels) threaded through the same
//!   nodes by slot id, each link carrying its span (how many nodes it jumps), so ZRANK, "the
//!   n-th element" and "how many elements below x" are all O(log n), and ranges by rank, score
//!   or lex are O(log n + m). ZCOUNT/ZLEXCOUNT are O(log n).
//!
//! A member is stored once (in its node). Why a skip list and not a counted B-tree: it is what
//! Redis uses (so complexity matches command for command), its rank arithmetic is small and
//! well understood, and with slot ids instead of pointers it needs no `unsafe`. A counted
//! B-tree would be denser (better cache use on huge sets) at the price of far more code.

use foldhash::fast::RandomState;

use super::rng::Rng;
use super::score::{LexRange, ScoreRange};
use super::set::Set;
use super::table::{Keyed, Table};
use super::{TypeError, alloc_size, normalize_range};

/// Redis's defaults `zset-max-listpack-entries 128` and `zset-max-listpack-value 64`.
const LISTPACK_MAX_ENTRIES: usize = 128;
const LISTPACK_MAX_VALUE: usize = 64;
const MAX_LEVEL: usize = 32;
/// "No node": the end of a level, or no predecessor.
const NIL: u32 = u32::MAX;
/// The list head, which is not stored in the table.
const HEAD: u32 = u32::MAX - 1;

#[derive(Debug, Clone, Copy)]
struct Link {
    next: u32,
    /// Nodes passed by following `next` (to NIL: the nodes left after this one).
    span: u32,
}

const EMPTY_LINK: Link = Link { next: NIL, span: 0 };

#[derive(Debug, Clone)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    prev: u32,
    /// Level 0 inline; three nodes in four have no other level, so `up` is usually empty
    /// and allocates nothing.
    l0: Link,
    up: Box<[Link]>,
}

impl Node {
    fn height(&self) -> usize {
        1 + self.up.len()
    }

    fn link(&self, i: usize) -> Link {
        if i == 0 { self.l0 } else { self.up[i - 1] }
    }

    fn link_mut(&mut self, i: usize) -> &mut Link {
        if i == 0 {
            &mut self.l0
        } else {
            &mut self.up[i - 1]
        }
    }

    /// Orders before (score, member).
    fn less(&self, score: f64, member: &[u8]) -> bool {
        self.score < score || (self.score == score && *self.member < *member)
    }
}

impl Keyed for Node {
    fn key(&self) -> &[u8] {
        &self.member
    }
}

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
            ZInput::ZSet(z) => z.nodes.values().for_each(|n| f(&n.member, n.score)),
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
pub(crate) struct ZSet {
    nodes: Table<Node>,
    /// The head's links; grows to the tallest level used (most small sets need one or two).
    head: Vec<Link>,
    tail: u32,
    level: usize,
    /// Drives node heights only; fixed seed, so a set's shape is reproducible.
    rng: Rng,
    /// Sticky, like Redis: once past the listpack limits the set reports "skiplist".
    skiplist: bool,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet {
            nodes: Table::default(),
            head: vec![EMPTY_LINK],
            tail: NIL,
            level: 1,
            rng: Rng::new(0x5eed),
            skiplist: false,
        }
    }
}

/// Equal when both hold the same members with the same scores.
impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .nodes
                .values()
                .all(|n| other.score(&n.member) == Some(n.score))
    }
}

impl ZSet {
    /// An empty sorted set.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// ZCARD.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the set has no members (the store then deletes the key).
    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    // ---- skip-list primitives -------------------------------------------------------------

    fn node(&self, x: u32) -> &Node {
        self.nodes.at(x)
    }

    fn link(&self, x: u32, i: usize) -> Link {
        if x == HEAD {
            self.head[i]
        } else {
            self.node(x).link(i)
        }
    }

    fn set_link(&mut self, x: u32, i: usize, l: Link) {
        if x == HEAD {
            self.head[i] = l;
        } else {
            *self.nodes.at_mut(x).link_mut(i) = l;
        }
    }

    fn random_height(&mut self) -> usize {
        let mut h = 1;
        while h < MAX_LEVEL && self.rng.next_u64() & 3 == 0 {
            h += 1;
        }
        h
    }

    /// For each level, the last node ordered before (score, member), and its rank.
    fn predecessors(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i + 1 == self.level { 0 } else { rank[i + 1] };
            loop {
                let l = self.link(x, i);
                if l.next != NIL && self.node(l.next).less(score, member) {
                    rank[i] += l.span;
                    x = l.next;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// Threads node `x` (already in the table, not linked) into the list by its score.
    fn link_in(&mut self, x: u32) {
        let (mut update, mut rank) = {
            let n = self.node(x);
            self.predecessors(n.score, &n.member)
        };
        let h = self.node(x).height();
        // Every node but x is linked; spans are u32 because slot ids are.
        let linked = (self.nodes.len() - 1) as u32;
        if h > self.level {
            if self.head.len() < h {
                self.head.resize(h, EMPTY_LINK);
            }
            for i in self.level..h {
                rank[i] = 0;
                update[i] = HEAD;
                self.head[i].span = linked;
            }
            self.level = h;
        }
        for i in 0..h {
            let ul = self.link(update[i], i);
            let d = rank[0] - rank[i];
            self.set_link(
                x,
                i,
                Link {
                    next: ul.next,
                    span: ul.span - d,
                },
            );
            self.set_link(
                update[i],
                i,
                Link {
                    next: x,
                    span: d + 1,
                },
            );
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(h) {
            let mut l = self.link(u, i);
            l.span += 1;
            self.set_link(u, i, l);
        }
        let prev = if update[0] == HEAD { NIL } else { update[0] };
        self.nodes.at_mut(x).prev = prev;
        match self.node(x).l0.next {
            NIL => self.tail = x,
            next => self.nodes.at_mut(next).prev = x,
        }
    }

    /// Takes node `x` out of the list (it stays in the table).
    fn unlink(&mut self, x: u32) {
        let (update, _) = {
            let n = self.node(x);
            self.predecessors(n.score, &n.member)
        };
        debug_assert_eq!(self.link(update[0], 0).next, x);
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.link(u, i);
            let l = if ul.next == x {
                let xl = self.node(x).link(i);
                Link {
                    next: xl.next,
                    span: ul.span + xl.span - 1,
                }
            } else {
                Link {
                    next: ul.next,
                    span: ul.span - 1,
                }
            };
            self.set_link(u, i, l);
        }
        let (next, prev) = (self.node(x).l0.next, self.node(x).prev);
        match next {
            NIL => self.tail = prev,
            next => self.nodes.at_mut(next).prev = prev,
        }
        while self.level > 1 && self.head[self.level - 1].next == NIL {
            self.level -= 1;
        }
    }

    fn insert_new(&mut self, member: &[u8], score: f64) {
        let h = self.random_height();
        let node = Node {
            member: member.into(),
            score,
            prev: NIL,
            l0: EMPTY_LINK,
            up: vec![EMPTY_LINK; h - 1].into_boxed_slice(),
        };
        let x = self.nodes.insert_new(node);
        self.link_in(x);
        if self.len() > LISTPACK_MAX_ENTRIES || member.len() > LISTPACK_MAX_VALUE {
            self.skiplist = true;
        }
    }

    fn set_score(&mut self, x: u32, score: f64) {
        let n = self.node(x);
        let prev_ok = n.prev == NIL || self.node(n.prev).less(score, &n.member);
        let next_ok = n.l0.next == NIL || !self.node(n.l0.next).less(score, &n.member);
        if prev_ok && next_ok {
            // Still between its neighbours: no relinking (Redis does the same).
            self.nodes.at_mut(x).score = score;
        } else {
            self.unlink(x);
            self.nodes.at_mut(x).score = score;
            self.link_in(x);
        }
    }

    fn remove_node(&mut self, x: u32) -> Node {
        self.unlink(x);
        let node = self.nodes.remove_slot(x);
        if self.nodes.needs_compaction() {
            let map = self.nodes.compact();
            let r = |v: u32| {
                if v == NIL || v == HEAD {
                    v
                } else {
                    map[v as usize]
                }
            };
            for n in self.nodes.values_mut() {
                n.prev = r(n.prev);
                n.l0.next = r(n.l0.next);
                for l in n.up.iter_mut() {
                    l.next = r(l.next);
                }
            }
            for l in &mut self.head {
                l.next = r(l.next);
            }
            self.tail = r(self.tail);
        }
        node
    }

    /// Number of nodes (a prefix of the order) for which `pred` holds; `pred` must be true on
    /// a prefix and false after it. O(log n).
    fn count_while(&self, pred: impl Fn(&Node) -> bool) -> usize {
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != NIL && pred(self.node(l.next)) {
                    rank += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
        }
        rank
    }

    /// The node at 0-based position `pos` (< len). O(log n).
    fn node_at(&self, pos: usize) -> u32 {
        let target = pos + 1;
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != NIL && traversed + l.span as usize <= target {
                    traversed += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
            if traversed == target {
                return x;
            }
        }
        unreachable!("position {pos} is below the length {}", self.len())
    }

    /// The members at positions `range` (ascending order positions), in ascending order, or in
    /// descending order when `rev`. O(log n + m).
    fn collect(&self, range: std::ops::Range<usize>, rev: bool) -> Vec<(&[u8], f64)> {
        if range.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(range.len());
        let mut x = self.node_at(if rev { range.end - 1 } else { range.start });
        for _ in range {
            let n = self.node(x);
            out.push((&*n.member, n.score));
            x = if rev { n.prev } else { n.l0.next };
        }
        out
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
        let start = self.count_while(|n| !range.above_min(n.score));
        let end = self.count_while(|n| range.below_max(n.score));
        start..end.max(start)
    }

    fn lex_positions(&self, range: &LexRange<'_>) -> std::ops::Range<usize> {
        if range.is_empty() {
            return 0..0;
        }
        let start = self.count_while(|n| !range.above_min(&n.member));
        let end = self.count_while(|n| range.below_max(&n.member));
        start..end.max(start)
    }

    // ---- commands ---------------------------------------------------------------------------

    /// ZADD for one pair (flags already validated); ZINCRBY is `incr`.
    ///
    /// # Errors
    /// [`TypeError::ScoreNan`] when INCR makes the score NaN (`+inf` plus `-inf`); nothing
    /// changes then.
    pub(crate) fn add(
        &mut self,
        score: f64,
        member: &[u8],
        flags: &ZAddFlags,
    ) -> Result<ZAddOutcome, TypeError> {
        if score.is_nan() {
            return Err(TypeError::ScoreNan);
        }
        let Some(x) = self.nodes.find(member) else {
            if flags.xx {
                return Ok(ZAddOutcome::Skipped);
            }
            self.insert_new(member, score);
            return Ok(ZAddOutcome::Added(score));
        };
        if flags.nx {
            return Ok(ZAddOutcome::Skipped);
        }
        let cur = self.node(x).score;
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
        self.set_score(x, new);
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
        // Without NX/XX/GT/LT the outcome always carries a score.
        Ok(self
            .add(delta, member, &flags)?
            .score()
            .expect("plain INCR is never skipped"))
    }

    /// ZSCORE. O(1).
    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        self.nodes.get(member).map(|n| n.score)
    }

    /// ZMSCORE.
    pub(crate) fn scores<M: AsRef<[u8]>>(&self, members: &[M]) -> Vec<Option<f64>> {
        members.iter().map(|m| self.score(m.as_ref())).collect()
    }

    /// ZREM for one member: its score if it was present.
    pub(crate) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let x = self.nodes.find(member)?;
        Some(self.remove_node(x).score)
    }

    /// ZRANK: 0-based position in ascending order, with the score. O(log n).
    pub(crate) fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let score = self.score(member)?;
        Some((self.count_while(|n| n.less(score, member)), score))
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
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let mut x = self.head[0].next;
        std::iter::from_fn(move || {
            if x == NIL {
                return None;
            }
            let n = self.node(x);
            x = n.l0.next;
            Some((&*n.member, n.score))
        })
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
        let mut out = Vec::with_capacity(count.min(self.len()));
        while out.len() < count {
            let x = if max { self.tail } else { self.head[0].next };
            if x == NIL {
                break;
            }
            let n = self.remove_node(x);
            out.push((n.member, n.score));
        }
        out
    }

    /// ZRANDMEMBER without a count.
    pub(crate) fn random_member(&self, rng: &mut Rng) -> Option<(&[u8], f64)> {
        let n = self.node(self.nodes.random_slot(rng)?);
        Some((&n.member, n.score))
    }

    /// ZRANDMEMBER with a count: positive = distinct, at most `len`; negative = exactly |count|
    /// members that may repeat; 0 = none.
    pub(crate) fn random_members(&self, rng: &mut Rng, count: i64) -> Vec<(&[u8], f64)> {
        let n = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        let slots = if count >= 0 {
            self.nodes.random_distinct(rng, n)
        } else {
            self.nodes.random_repeated(rng, n)
        };
        slots
            .into_iter()
            .map(|s| {
                let n = self.node(s);
                (&*n.member, n.score)
            })
            .collect()
    }

    /// ZSCAN step: calls `f` for about `count` members, returns the next cursor (0 = done).
    pub(crate) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        self.nodes.scan(cursor, count, |n| f(&n.member, n.score))
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
        if self.skiplist {
            "skiplist"
        } else {
            "listpack"
        }
    }

    /// Approximate heap bytes (MEMORY USAGE, excluding the key).
    pub(crate) fn memory_usage(&self) -> usize {
        self.nodes.overhead_bytes()
            + self
                .nodes
                .values()
                .map(|n| alloc_size(n.member.len()) + alloc_size(n.up.len() * size_of::<Link>()))
                .sum::<usize>()
    }

    /// Checks every skip-list invariant; for tests.
    #[cfg(test)]
    fn check(&self) {
        let order: Vec<(Vec<u8>, f64)> = self.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(order.len(), self.len());
        for w in order.windows(2) {
            assert!(
                w[0].1 < w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0),
                "order"
            );
        }
        // Position of each node in level-0 order; HEAD is position 0.
        let mut pos: hashbrown::HashMap<u32, usize, RandomState> = hashbrown::HashMap::default();
        pos.insert(HEAD, 0);
        let mut x = self.head[0].next;
        let mut p = 1;
        let mut prev = NIL;
        while x != NIL {
            pos.insert(x, p);
            assert_eq!(self.node(x).prev, prev, "backward link");
            prev = x;
            x = self.node(x).l0.next;
            p += 1;
        }
        assert_eq!(self.tail, prev, "tail");
        for i in 0..self.level {
            let mut x = HEAD;
            loop {
                let l = self.link(x, i);
                let here = pos[&x];
                let there = if l.next == NIL {
                    self.len()
                } else {
                    pos[&l.next]
                };
                if l.next != NIL {
                    assert_eq!(l.span as usize, there - here, "span at level {i}");
                }
                if l.next == NIL {
                    break;
                }
                x = l.next;
            }
        }
        for (m, s) in &order {
            assert_eq!(self.score(m), Some(*s));
        }
    }
}

#[cfg(test)]
#[path = "zset_tests.rs"]
mod tests;
