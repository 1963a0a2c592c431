//! The skip list behind large sorted sets: a skip list with spans (order statistics) whose
//! nodes live in the stable-slot [`Table`], so one structure gives both orders.
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

use super::alloc_size;
use super::rng::Rng;
use super::slots::{Keyed, Table};

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

/// The skip list; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct SkipList {
    nodes: Table<Node>,
    /// The head's links; grows to the tallest level used.
    head: Vec<Link>,
    tail: u32,
    level: usize,
    /// Drives node heights only; fixed seed, so a set's shape is reproducible.
    rng: Rng,
}

impl Default for SkipList {
    fn default() -> Self {
        SkipList {
            nodes: Table::default(),
            head: vec![EMPTY_LINK],
            tail: NIL,
            level: 1,
            rng: Rng::new(0x5eed),
        }
    }
}

impl SkipList {
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

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

    /// Adds a member that is not present yet.
    pub(crate) fn insert_new(&mut self, member: &[u8], score: f64) {
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
    }

    fn set_score_at(&mut self, x: u32, score: f64) {
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
    pub(crate) fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != NIL && {
                    let n = self.node(l.next);
                    pred(n.score, &n.member)
                } {
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
    pub(crate) fn collect(&self, range: std::ops::Range<usize>, rev: bool) -> Vec<(&[u8], f64)> {
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

    /// Changes the score of a present member.
    pub(crate) fn set_score(&mut self, member: &[u8], score: f64) {
        // Callers only update members they found.
        let x = self.nodes.find(member).expect("member is present");
        self.set_score_at(x, score);
    }

    /// ZSCORE. O(1).
    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        self.nodes.get(member).map(|n| n.score)
    }

    /// Removes a member, returning its score.
    pub(crate) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let x = self.nodes.find(member)?;
        Some(self.remove_node(x).score)
    }

    /// Removes up to `count` members from the low end (or the high end when `max`).
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

    /// Random members with Redis's count rules (see `ZSet::random_members`).
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

    /// One ZSCAN step over the slot table.
    pub(crate) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        self.nodes.scan(cursor, count, |n| f(&n.member, n.score))
    }

    /// Approximate heap bytes.
    pub(crate) fn memory_usage(&self) -> usize {
        self.nodes.overhead_bytes()
            + self.head.capacity() * size_of::<Link>()
            + self
                .nodes
                .values()
                .map(|n| alloc_size(n.member.len()) + alloc_size(n.up.len() * size_of::<Link>()))
                .sum::<usize>()
    }

    /// Slots in the node table (entries plus holes); for compaction tests.
    #[cfg(test)]
    pub(crate) fn slot_count(&self) -> usize {
        self.nodes.slot_count()
    }

    /// Checks every skip-list invariant; for tests.
    #[cfg(test)]
    pub(crate) fn check(&self) {
        let order: Vec<(Vec<u8>, f64)> = self.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(order.len(), self.len());
        for w in order.windows(2) {
            assert!(
                w[0].1 < w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0),
                "order"
            );
        }
        // Position of each node in level-0 order; HEAD is position 0.
        let mut pos: hashbrown::HashMap<u32, usize, foldhash::fast::RandomState> =
            hashbrown::HashMap::default();
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
