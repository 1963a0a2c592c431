//! Sets of byte strings over the stable-slot [`Table`].

use super::inline::Writer;
use super::pack::Pack;
use super::rng::{Rng, pick};
use super::slots::{Keyed, Table};
use super::{alloc_size, encoding};
use crate::number::parse_i64;

/// The packed layouts' bounds: up to 512 integers kept sorted, or 128 members of at most 64
/// bytes. These are kv's layout choices; what OBJECT ENCODING reports follows the live
/// `set-max-intset-entries` (see [`Set::encoding`]).
const INTSET_MAX_ENTRIES: usize = 512;
const LISTPACK_MAX_ENTRIES: usize = 128;
const LISTPACK_MAX_VALUE: usize = 64;

#[derive(Clone)]
pub(crate) struct Member(Box<[u8]>);

impl Keyed for Member {
    fn key(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0.escape_ascii())
    }
}

/// The encoding Redis would use; conversions only go forward, as in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Encoding {
    #[default]
    IntSet,
    ListPack,
    HashTable,
}

/// How the members are stored: packed while small (at most 128 members of at most 64 bytes,
/// Redis's listpack limits, or up to 512 integers kept sorted, Redis's intset), a slot table
/// after that (sticky, as in Redis).
#[derive(Debug, Clone)]
enum Repr {
    Small(Pack),
    Large(Box<Table<Member>>),
}

/// A Redis set.
#[derive(Debug, Clone)]
pub(crate) struct Set {
    repr: Repr,
    /// The name Redis would report (intset / listpack / hashtable).
    encoding: Encoding,
}

impl Default for Set {
    fn default() -> Self {
        Set {
            repr: Repr::Small(Pack::default()),
            encoding: Encoding::IntSet,
        }
    }
}

/// Equal when both hold the same members.
impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains(m))
    }
}

fn find_small(p: &Pack, member: &[u8]) -> Option<usize> {
    p.iter().find(|(_, m)| *m == member).map(|(pos, _)| pos)
}

impl Set {
    /// An empty set.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Writes a packed set's inline form (the encoding Redis would report, then the buffer)
    /// into `out`; None if it is a table or does not fit (see `inline.rs`).
    pub(crate) fn encode_inline(&self, out: &mut [u8]) -> Option<usize> {
        let Repr::Small(p) = &self.repr else {
            return None;
        };
        let tag = match self.encoding {
            Encoding::IntSet => 0,
            Encoding::ListPack => 1,
            Encoding::HashTable => 2,
        };
        let mut w = Writer::new(out);
        w.bytes(&[tag])?;
        w.bytes(p.bytes())?;
        Some(w.len())
    }

    /// The length of [`Set::encode_inline`]'s form (its tag, then its buffer), given room.
    pub(crate) fn inline_len(&self) -> Option<usize> {
        let Repr::Small(p) = &self.repr else {
            return None;
        };
        Some(1 + p.bytes().len())
    }

    /// The set [`Set::encode_inline`] wrote.
    pub(crate) fn from_inline(bytes: &[u8]) -> Set {
        let encoding = match bytes[0] {
            0 => Encoding::IntSet,
            1 => Encoding::ListPack,
            _ => Encoding::HashTable,
        };
        Set {
            repr: Repr::Small(Pack::from_bytes(&bytes[1..])),
            encoding,
        }
    }

    /// SCARD.
    pub(crate) fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(p) => p.count(),
            Repr::Large(t) => t.len(),
        }
    }

    /// True when the set has no members (the store then deletes the key).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn note_insert(&mut self, member: &[u8]) {
        let len = self.len();
        let small = len <= LISTPACK_MAX_ENTRIES && member.len() <= LISTPACK_MAX_VALUE;
        self.encoding = match self.encoding {
            Encoding::IntSet
                if parse_i64(member).is_some() && len <= encoding::intset_entries() =>
            {
                Encoding::IntSet
            }
            Encoding::IntSet | Encoding::ListPack if small => Encoding::ListPack,
            _ => Encoding::HashTable,
        };
    }

    /// SADD for one member: returns whether it was new.
    pub(crate) fn add(&mut self, member: &[u8]) -> bool {
        if self.contains(member) {
            return false;
        }
        if let Repr::Small(p) = &mut self.repr {
            let int = parse_i64(member);
            if let (Encoding::IntSet, Some(v)) = (self.encoding, int)
                && p.count() < INTSET_MAX_ENTRIES
            {
                // An intset keeps its integers sorted (SMEMBERS shows them in order), and holds
                // up to 512 of them.
                let at = p
                    .iter()
                    .find(|(_, m)| parse_i64(m).is_some_and(|x| x > v))
                    .map_or(p.end(), |(pos, _)| pos);
                p.insert(at, member);
                self.note_insert(member);
                return true;
            }
            if p.count() < LISTPACK_MAX_ENTRIES && member.len() <= LISTPACK_MAX_VALUE {
                p.push(member);
                self.note_insert(member);
                return true;
            }
            let mut t = Table::default();
            for (_, m) in p.iter() {
                t.insert_new(Member(m.into()));
            }
            self.repr = Repr::Large(Box::new(t));
        }
        let Repr::Large(t) = &mut self.repr else {
            unreachable!("grown above")
        };
        t.insert_new(Member(member.into()));
        self.note_insert(member);
        true
    }

    /// SREM for one member: returns whether it was present.
    pub(crate) fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Small(p) => match find_small(p, member) {
                Some(pos) => {
                    p.remove(pos, 1);
                    true
                }
                None => false,
            },
            Repr::Large(t) => {
                let removed = t.remove(member).is_some();
                t.maybe_compact();
                removed
            }
        }
    }

    /// SISMEMBER.
    pub(crate) fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Small(p) => find_small(p, member).is_some(),
            Repr::Large(t) => t.find(member).is_some(),
        }
    }

    /// SMISMEMBER.
    pub(crate) fn contains_many<M: AsRef<[u8]>>(&self, members: &[M]) -> Vec<bool> {
        members.iter().map(|m| self.contains(m.as_ref())).collect()
    }

    /// SMEMBERS.
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = &[u8]> + '_> {
        match &self.repr {
            Repr::Small(p) => Box::new(p.iter().map(|(_, m)| m)),
            Repr::Large(t) => Box::new(t.values().map(|m| &*m.0)),
        }
    }

    /// SPOP without a count.
    pub(crate) fn pop(&mut self, rng: &mut Rng) -> Option<Box<[u8]>> {
        self.pop_many(rng, 1).pop()
    }

    /// SPOP with a count: up to `count` distinct random members, removed.
    pub(crate) fn pop_many(&mut self, rng: &mut Rng, count: usize) -> Vec<Box<[u8]>> {
        if count >= self.len() {
            let all: Vec<Box<[u8]>> = self.iter().map(Box::from).collect();
            self.repr = Repr::Small(Pack::default());
            return all;
        }
        match &mut self.repr {
            Repr::Small(_) => {
                let picked: Vec<Box<[u8]>> = self
                    .random_members(rng, count as i64)
                    .into_iter()
                    .map(Box::from)
                    .collect();
                for m in &picked {
                    self.remove(m);
                }
                picked
            }
            Repr::Large(t) => {
                let slots = t.random_distinct(rng, count);
                // Slot ids stay valid while removing because compaction waits until the end.
                let out = slots.into_iter().map(|s| t.remove_slot(s).0).collect();
                t.maybe_compact();
                out
            }
        }
    }

    /// SRANDMEMBER without a count.
    pub(crate) fn random_member(&self, rng: &mut Rng) -> Option<&[u8]> {
        self.random_members(rng, 1).pop()
    }

    /// SRANDMEMBER with a count: positive = distinct, at most `len`; negative = exactly |count|
    /// members that may repeat; 0 = none.
    pub(crate) fn random_members(&self, rng: &mut Rng, count: i64) -> Vec<&[u8]> {
        match &self.repr {
            Repr::Small(p) => {
                let all: Vec<&[u8]> = p.iter().map(|(_, m)| m).collect();
                pick(rng, all.len(), count)
                    .into_iter()
                    .map(|i| all[i])
                    .collect()
            }
            Repr::Large(t) => {
                let n = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
                let slots = if count >= 0 {
                    t.random_distinct(rng, n)
                } else {
                    t.random_repeated(rng, n)
                };
                slots.into_iter().map(|s| &*t.at(s).0).collect()
            }
        }
    }

    /// SSCAN step: calls `f` for about `count` members, returns the next cursor (0 = done). A
    /// small set is returned whole in one step, as Redis does for intsets and listpacks.
    pub(crate) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8])) -> u64 {
        match &self.repr {
            Repr::Small(p) => {
                p.iter().for_each(|(_, m)| f(m));
                0
            }
            Repr::Large(t) => t.scan(cursor, count, |m| f(&m.0)),
        }
    }

    /// The given sets ordered smallest first, or None when one is missing or empty (then an
    /// intersection is empty).
    fn smallest_first<'a>(sets: &[Option<&'a Set>]) -> Option<Vec<&'a Set>> {
        let mut present: Vec<&Set> = sets.iter().copied().collect::<Option<_>>()?;
        if present.is_empty() || present.iter().any(|s| s.is_empty()) {
            return None;
        }
        present.sort_by_key(|s| s.len());
        Some(present)
    }

    /// SINTER over sets (None = a missing key). Walks the smallest set and probes the others:
    /// O(smallest * sets).
    pub(crate) fn inter(sets: &[Option<&Set>]) -> Set {
        let mut out = Set::new();
        if let Some(sets) = Self::smallest_first(sets) {
            for m in sets[0]
                .iter()
                .filter(|m| sets[1..].iter().all(|s| s.contains(m)))
            {
                out.add(m);
            }
        }
        out
    }

    /// SINTERCARD: the intersection's size, counting stops at `limit` (0 = no limit).
    pub(crate) fn inter_card(sets: &[Option<&Set>], limit: usize) -> usize {
        let limit = if limit == 0 { usize::MAX } else { limit };
        let Some(sets) = Self::smallest_first(sets) else {
            return 0;
        };
        sets[0]
            .iter()
            .filter(|m| sets[1..].iter().all(|s| s.contains(m)))
            .take(limit)
            .count()
    }

    /// SUNION over sets (None = a missing key).
    pub(crate) fn union(sets: &[Option<&Set>]) -> Set {
        let mut out = Set::new();
        for m in sets.iter().flatten().flat_map(|s| s.iter()) {
            out.add(m);
        }
        out
    }

    /// SDIFF: members of the first set that are in none of the others.
    pub(crate) fn diff(sets: &[Option<&Set>]) -> Set {
        let mut out = Set::new();
        let Some((Some(first), rest)) = sets.split_first() else {
            return out;
        };
        for m in first
            .iter()
            .filter(|m| !rest.iter().flatten().any(|s| s.contains(m)))
        {
            out.add(m);
        }
        out
    }

    /// OBJECT ENCODING as Redis 7.0 reports it: `intset` while the set would be one in Redis
    /// (integers only, at most `set-max-intset-entries`, never converted), else `hashtable`
    /// (Redis 7.0 has no listpack sets; a packed set of strings is a layout detail here).
    pub(crate) fn encoding(&self) -> &'static str {
        match self.encoding {
            Encoding::IntSet => "intset",
            Encoding::ListPack | Encoding::HashTable => "hashtable",
        }
    }

    /// Approximate heap bytes (MEMORY USAGE, excluding the key).
    pub(crate) fn memory_usage(&self) -> usize {
        size_of::<Self>()
            + match &self.repr {
                Repr::Small(p) => alloc_size(p.capacity()),
                Repr::Large(t) => {
                    t.overhead_bytes() + t.values().map(|m| alloc_size(m.0.len())).sum::<usize>()
                }
            }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Rng;
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn set(members: &[&str]) -> Set {
        let mut s = Set::new();
        for m in members {
            s.add(m.as_bytes());
        }
        s
    }

    fn sorted(s: &Set) -> Vec<String> {
        let mut v: Vec<String> = s
            .iter()
            .map(|m| String::from_utf8(m.to_vec()).unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn add_remove_contains_table() {
        assert_eq!(set(&["a", "b"]), set(&["b", "a"]));
        assert_ne!(set(&["a", "b"]), set(&["a"]));
        assert_ne!(set(&["a", "b"]), set(&["a", "c"]));
        let mut s = Set::new();
        assert!(s.add(b"a"));
        assert!(!s.add(b"a"), "duplicate");
        assert!(s.add(b""));
        assert!(s.add(b"\x00\xff"));
        assert_eq!(s.len(), 3);
        assert_eq!(s.contains_many(&["a", "b", ""]), vec![true, false, true]);
        assert!(s.remove(b"a"));
        assert!(!s.remove(b"a"));
        assert!(!s.contains(b"a"));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn pop_table() {
        let mut rng = Rng::new(1);
        let mut s = set(&["a", "b", "c", "d"]);
        let one = s.pop(&mut rng).unwrap();
        assert!(!s.contains(&one));
        assert_eq!(s.len(), 3);
        assert!(s.pop_many(&mut rng, 0).is_empty());
        let two = s.pop_many(&mut rng, 2);
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1]);
        assert_eq!(s.len(), 1);
        let rest = s.pop_many(&mut rng, 10);
        assert_eq!(rest.len(), 1);
        assert!(s.is_empty());
        assert_eq!(s.pop(&mut rng), None);
    }

    #[test]
    fn random_members_count_semantics() {
        let mut rng = Rng::new(5);
        let s = set(&["a", "b", "c"]);
        assert!(s.random_members(&mut rng, 0).is_empty());
        let two = s.random_members(&mut rng, 2);
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1]);
        assert_eq!(s.random_members(&mut rng, 3).len(), 3);
        assert_eq!(s.random_members(&mut rng, 10).len(), 3);
        let rep = s.random_members(&mut rng, -10);
        assert_eq!(rep.len(), 10);
        assert!(rep.iter().all(|m| s.contains(m)));
        assert!(Set::new().random_members(&mut rng, -5).is_empty());
        assert!(Set::new().random_member(&mut rng).is_none());
        assert!(s.contains(s.random_member(&mut rng).unwrap()));
        // SRANDMEMBER with i64::MIN must not overflow.
        assert_eq!(s.random_members(&mut rng, -3).len(), 3);
    }

    #[test]
    fn algebra_table() {
        let a = set(&["a", "b", "c", "d"]);
        let b = set(&["c"]);
        let c = set(&["a", "c", "e"]);
        let e = Set::new();
        type Case<'a> = (
            &'a [Option<&'a Set>],
            &'a [&'a str],
            &'a [&'a str],
            &'a [&'a str],
        );
        // (inputs, inter, union, diff) — the Redis docs' example is the first row.
        let cases: &[Case<'_>] = &[
            (
                &[Some(&a), Some(&b), Some(&c)],
                &["c"],
                &["a", "b", "c", "d", "e"],
                &["b", "d"],
            ),
            (
                &[Some(&a)],
                &["a", "b", "c", "d"],
                &["a", "b", "c", "d"],
                &["a", "b", "c", "d"],
            ),
            (
                &[Some(&a), None],
                &[],
                &["a", "b", "c", "d"],
                &["a", "b", "c", "d"],
            ),
            (&[None, Some(&a)], &[], &["a", "b", "c", "d"], &[]),
            (
                &[Some(&a), Some(&e)],
                &[],
                &["a", "b", "c", "d"],
                &["a", "b", "c", "d"],
            ),
            (
                &[Some(&c), Some(&a)],
                &["a", "c"],
                &["a", "b", "c", "d", "e"],
                &["e"],
            ),
            (
                &[Some(&a), Some(&a)],
                &["a", "b", "c", "d"],
                &["a", "b", "c", "d"],
                &[],
            ),
        ];
        for (i, (inputs, inter, union, diff)) in cases.iter().enumerate() {
            assert_eq!(sorted(&Set::inter(inputs)), *inter, "inter case {i}");
            assert_eq!(sorted(&Set::union(inputs)), *union, "union case {i}");
            assert_eq!(sorted(&Set::diff(inputs)), *diff, "diff case {i}");
            assert_eq!(
                Set::inter_card(inputs, 0),
                inter.len(),
                "intercard case {i}"
            );
        }
        assert_eq!(Set::inter_card(&[Some(&a), Some(&c)], 1), 1);
        assert_eq!(Set::inter_card(&[Some(&a), Some(&c)], 5), 2);
    }

    #[test]
    fn an_intset_lists_its_integers_in_order() {
        let s = set(&["5", "-10", "3", "100", "0", "3"]);
        let got: Vec<&[u8]> = s.iter().collect();
        assert_eq!(got, vec![&b"-10"[..], b"0", b"3", b"5", b"100"]);
        let mut s = Set::new();
        for i in (0..300).rev() {
            s.add(i.to_string().as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        let got: Vec<i64> = s.iter().map(|m| parse_i64(m).unwrap()).collect();
        assert_eq!(got, (0..300).collect::<Vec<_>>());
        // A non-integer ends the intset; the order so far is kept and it is appended.
        let mut s = set(&["2", "1"]);
        s.add(b"a");
        let got: Vec<&[u8]> = s.iter().collect();
        assert_eq!(got, vec![&b"1"[..], b"2", b"a"]);
    }

    #[test]
    fn encoding_table() {
        let mut s = set(&["1", "2", "-3"]);
        assert_eq!(s.encoding(), "intset");
        s.add(b"x");
        assert_eq!(s.encoding(), "hashtable", "Redis 7.0 has no listpack sets");
        s.remove(b"x");
        assert_eq!(s.encoding(), "hashtable", "sticky");
        let mut ints = Set::new();
        for i in 0..512 {
            ints.add(i.to_string().as_bytes());
        }
        assert_eq!(ints.encoding(), "intset");
        ints.add(b"512");
        assert_eq!(ints.encoding(), "hashtable", "513 integers");
        let mut s = set(&["01"]);
        assert_eq!(s.encoding(), "hashtable", "01 is not a canonical integer");
        s.add(&[b'x'; 65]);
        assert_eq!(s.encoding(), "hashtable");
        let mut big = set(&["a"]);
        for i in 0..128 {
            big.add(format!("m{i}").as_bytes());
        }
        assert_eq!(big.encoding(), "hashtable");
        assert!(big.memory_usage() > 129 * 16);
    }

    #[test]
    fn scan_covers_every_member() {
        let mut s = Set::new();
        for i in 0..200 {
            s.add(format!("{i}").as_bytes());
        }
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, 7, |m| {
                seen.insert(m.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 200);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_btreeset_model(ops in proptest::collection::vec((0u8..3, 0u8..16), 0..80),
                                  other in proptest::collection::btree_set(0u8..16, 0..8),
                                  seed in any::<u64>()) {
            let mut s = Set::new();
            let mut m = BTreeSet::new();
            let mut rng = Rng::new(seed);
            if seed % 2 == 0 {
                // A 65-byte member moves the set to the table for good: test both forms.
                s.add(&[b'x'; 65]);
                s.remove(&[b'x'; 65]);
                prop_assert_eq!(s.encoding(), "hashtable");
            }
            for (op, v) in ops {
                match op {
                    0 => prop_assert_eq!(s.add(&[v]), m.insert(vec![v])),
                    1 => prop_assert_eq!(s.remove(&[v]), m.remove(&vec![v])),
                    _ => {
                        if let Some(p) = s.pop(&mut rng) {
                            prop_assert!(m.remove(&p.to_vec()));
                        } else {
                            prop_assert!(m.is_empty());
                        }
                    }
                }
                prop_assert_eq!(s.len(), m.len());
            }
            let got: BTreeSet<Vec<u8>> = s.iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(&got, &m);
            let o = {
                let mut o = Set::new();
                for v in &other { o.add(&[*v]); }
                o
            };
            let om: BTreeSet<Vec<u8>> = other.iter().map(|v| vec![*v]).collect();
            let inter: BTreeSet<Vec<u8>> = Set::inter(&[Some(&s), Some(&o)]).iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(inter, m.intersection(&om).cloned().collect::<BTreeSet<_>>());
            let diff: BTreeSet<Vec<u8>> = Set::diff(&[Some(&s), Some(&o)]).iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(diff, m.difference(&om).cloned().collect::<BTreeSet<_>>());
            let union: BTreeSet<Vec<u8>> = Set::union(&[Some(&s), Some(&o)]).iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(union, m.union(&om).cloned().collect::<BTreeSet<_>>());
        }
    }
}
