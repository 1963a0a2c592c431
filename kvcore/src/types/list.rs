//! Lists: a double-ended queue of byte strings.
//!
//! `VecDeque<Box<[u8]>>`: O(1) push and pop at both ends, O(1) LINDEX/LSET by position, 16 bytes
//! per element plus its allocation. Middle edits (LINSERT, LREM) shift at most half the deque.

use std::collections::VecDeque;

use super::{TypeError, alloc_size, normalize_index, normalize_range};

/// Which end of a list an operation works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (index 0): LPUSH, LPOP.
    Left,
    /// The tail (index -1): RPUSH, RPOP.
    Right,
}

/// Redis's default `list-max-listpack-size -2`: a list stays a listpack up to 8 KiB.
const LISTPACK_MAX_BYTES: usize = 8 * 1024;

/// A Redis list.
#[derive(Debug, Clone, Default)]
pub(crate) struct List {
    items: VecDeque<Box<[u8]>>,
    /// Sum of the element lengths, for OBJECT ENCODING and MEMORY USAGE.
    payload: usize,
    /// Sticky, like Redis: grows into a quicklist past 8 KiB, shrinks back below half of it.
    quicklist: bool,
}

/// Equal when the elements are (the encoding is a reporting detail).
impl PartialEq for List {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl List {
    /// An empty list.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// LLEN.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the list has no elements (the store then deletes the key).
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn update_encoding(&mut self) {
        // A listpack entry costs its bytes plus about two bytes of header and back-length.
        let approx = self.payload + 2 * self.items.len() + 7;
        if approx > LISTPACK_MAX_BYTES {
            self.quicklist = true;
        } else if approx <= LISTPACK_MAX_BYTES / 2 {
            self.quicklist = false;
        }
    }

    /// Pushes one element at `end`.
    pub(crate) fn push(&mut self, end: End, value: &[u8]) {
        self.payload += value.len();
        let v: Box<[u8]> = value.into();
        match end {
            End::Left => self.items.push_front(v),
            End::Right => self.items.push_back(v),
        }
        self.update_encoding();
    }

    /// LPUSH/RPUSH: pushes each value in turn (so LPUSH a b c leaves c first); returns the length.
    pub(crate) fn push_all<V: AsRef<[u8]>>(&mut self, end: End, values: &[V]) -> usize {
        for v in values {
            self.push(end, v.as_ref());
        }
        self.len()
    }

    /// Pops one element from `end`.
    pub(crate) fn pop(&mut self, end: End) -> Option<Box<[u8]>> {
        let v = match end {
            End::Left => self.items.pop_front(),
            End::Right => self.items.pop_back(),
        }?;
        self.payload -= v.len();
        self.update_encoding();
        Some(v)
    }

    /// LPOP/RPOP with a count: up to `count` elements, in pop order.
    pub(crate) fn pop_many(&mut self, end: End, count: usize) -> Vec<Box<[u8]>> {
        let n = count.min(self.len());
        let out: Vec<Box<[u8]>> = match end {
            End::Left => self.items.drain(..n).collect(),
            End::Right => {
                let at = self.items.len() - n;
                self.items.drain(at..).rev().collect()
            }
        };
        self.payload -= out.iter().map(|v| v.len()).sum::<usize>();
        self.update_encoding();
        out
    }

    /// LRANGE: elements `start..=stop` with Redis's index rules.
    pub(crate) fn range(&self, start: i64, stop: i64) -> Vec<&[u8]> {
        match normalize_range(start, stop, self.len()) {
            Some(r) => self.items.range(r).map(|v| &**v).collect(),
            None => Vec::new(),
        }
    }

    /// All elements, head first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.items.iter().map(|v| &**v)
    }

    /// LINDEX.
    pub(crate) fn index(&self, index: i64) -> Option<&[u8]> {
        normalize_index(index, self.len()).map(|i| &*self.items[i])
    }

    /// LSET.
    ///
    /// # Errors
    /// [`TypeError::IndexOutOfRange`] when `index` is outside the list.
    pub(crate) fn set(&mut self, index: i64, value: &[u8]) -> Result<(), TypeError> {
        let i = normalize_index(index, self.len()).ok_or(TypeError::IndexOutOfRange)?;
        self.payload = self.payload - self.items[i].len() + value.len();
        self.items[i] = value.into();
        self.update_encoding();
        Ok(())
    }

    /// LREM: removes up to |count| occurrences of `value`, from the head when `count > 0`, from
    /// the tail when `count < 0`, all of them when 0. Returns how many were removed.
    pub(crate) fn remove(&mut self, count: i64, value: &[u8]) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        // Scanning from the tail for the last k matches is the same as skipping the first
        // (total - k) matches from the head; retain keeps the order and is one O(n) pass.
        let skip = if count < 0 {
            let total = self.items.iter().filter(|v| ***v == *value).count();
            total.saturating_sub(limit)
        } else {
            0
        };
        let mut seen = 0;
        let mut removed = 0;
        let mut freed = 0;
        self.items.retain(|v| {
            if **v != *value {
                return true;
            }
            seen += 1;
            if seen > skip && removed < limit {
                removed += 1;
                freed += v.len();
                false
            } else {
                true
            }
        });
        self.payload -= freed;
        self.update_encoding();
        removed
    }

    /// LTRIM: keeps only `start..=stop` (Redis index rules); an empty selection empties the list.
    pub(crate) fn trim(&mut self, start: i64, stop: i64) {
        match normalize_range(start, stop, self.len()) {
            Some(r) => {
                self.items.truncate(r.end);
                self.items.drain(..r.start);
            }
            None => self.items.clear(),
        }
        self.payload = self.items.iter().map(|v| v.len()).sum();
        self.update_encoding();
    }

    /// LINSERT: inserts `value` before (or after) the first occurrence of `pivot`. Returns the
    /// new length, or None when the pivot is absent (Redis replies -1).
    pub(crate) fn insert(&mut self, before: bool, pivot: &[u8], value: &[u8]) -> Option<usize> {
        let at = self.items.iter().position(|v| **v == *pivot)?;
        self.items
            .insert(if before { at } else { at + 1 }, value.into());
        self.payload += value.len();
        self.update_encoding();
        Some(self.len())
    }

    /// LPOS: positions (always counted from the head) of matches of `value`.
    ///
    /// `rank` (non-zero) picks the first match to report: 1 the first from the head, -1 the
    /// first from the tail, 2 the second... `count` is how many to report (0 means all);
    /// `maxlen` bounds how many elements are compared (0 means no bound).
    pub(crate) fn positions(
        &self,
        value: &[u8],
        rank: i64,
        count: usize,
        maxlen: usize,
    ) -> Vec<usize> {
        debug_assert!(rank != 0, "the server rejects RANK 0");
        let want = if count == 0 { usize::MAX } else { count };
        let maxlen = if maxlen == 0 { usize::MAX } else { maxlen };
        let skip = rank.unsigned_abs().saturating_sub(1);
        let mut skipped = 0u64;
        let mut out = Vec::new();
        let mut visit = |i: usize, v: &[u8]| {
            if v == value {
                if skipped < skip {
                    skipped += 1;
                } else {
                    out.push(i);
                }
            }
            out.len() < want
        };
        if rank > 0 {
            for (i, v) in self.items.iter().enumerate().take(maxlen) {
                if !visit(i, v) {
                    break;
                }
            }
        } else {
            for (i, v) in self.items.iter().enumerate().rev().take(maxlen) {
                if !visit(i, v) {
                    break;
                }
            }
        }
        out
    }

    /// OBJECT ENCODING as Redis would report it.
    pub(crate) fn encoding(&self) -> &'static str {
        if self.quicklist {
            "quicklist"
        } else {
            "listpack"
        }
    }

    /// Approximate heap bytes (MEMORY USAGE, excluding the key).
    pub(crate) fn memory_usage(&self) -> usize {
        size_of::<Self>()
            + self.items.capacity() * size_of::<Box<[u8]>>()
            + self
                .items
                .iter()
                .map(|v| alloc_size(v.len()))
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(items: &[&str]) -> List {
        let mut l = List::new();
        l.push_all(End::Right, items);
        l
    }

    fn strs(v: Vec<&[u8]>) -> Vec<String> {
        v.into_iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    fn contents(l: &List) -> Vec<String> {
        strs(l.iter().collect())
    }

    #[test]
    fn push_order_matches_redis() {
        assert_eq!(list(&["a", "b"]), list(&["a", "b"]));
        assert_ne!(list(&["a", "b"]), list(&["b", "a"]));
        let mut l = List::new();
        assert_eq!(l.push_all(End::Left, &["a", "b", "c"]), 3);
        assert_eq!(contents(&l), ["c", "b", "a"]);
        assert_eq!(l.push_all(End::Right, &["x", "y"]), 5);
        assert_eq!(contents(&l), ["c", "b", "a", "x", "y"]);
    }

    #[test]
    fn pop_table() {
        let mut l = list(&["a", "b", "c", "d"]);
        assert_eq!(l.pop(End::Left).as_deref(), Some(&b"a"[..]));
        assert_eq!(l.pop(End::Right).as_deref(), Some(&b"d"[..]));
        let cases: &[(End, usize, &[&str], &[&str])] = &[
            (End::Left, 0, &[], &["b", "c"]),
            (End::Right, 1, &["c"], &["b"]),
            (End::Left, 10, &["b"], &[]),
            (End::Left, 3, &[], &[]),
        ];
        for (end, count, popped, rest) in cases {
            let got: Vec<String> = l
                .pop_many(*end, *count)
                .iter()
                .map(|v| String::from_utf8(v.to_vec()).unwrap())
                .collect();
            assert_eq!(got, *popped);
            assert_eq!(contents(&l), *rest);
        }
        assert_eq!(l.pop(End::Right), None);
        let mut l = list(&["a", "b", "c"]);
        let got = l.pop_many(End::Right, 2);
        assert_eq!(got, vec![Box::from(&b"c"[..]), Box::from(&b"b"[..])]);
    }

    #[test]
    fn range_table() {
        let l = list(&["a", "b", "c", "d", "e"]);
        let cases: &[(i64, i64, &[&str])] = &[
            (0, -1, &["a", "b", "c", "d", "e"]),
            (0, 0, &["a"]),
            (-3, 2, &["c"]),
            (-100, 1, &["a", "b"]),
            (3, 100, &["d", "e"]),
            (5, 10, &[]),
            (2, 1, &[]),
            (-1, -2, &[]),
            (-1, -1, &["e"]),
        ];
        for (start, stop, want) in cases {
            assert_eq!(strs(l.range(*start, *stop)), *want, "{start} {stop}");
        }
        assert!(List::new().range(0, -1).is_empty());
    }

    #[test]
    fn index_and_set_table() {
        let mut l = list(&["a", "b", "c"]);
        assert_eq!(l.index(0), Some(&b"a"[..]));
        assert_eq!(l.index(-1), Some(&b"c"[..]));
        assert_eq!(l.index(3), None);
        assert_eq!(l.index(-4), None);
        assert_eq!(l.set(-1, b"z"), Ok(()));
        assert_eq!(l.set(1, b"y"), Ok(()));
        assert_eq!(l.set(3, b"q"), Err(TypeError::IndexOutOfRange));
        assert_eq!(l.set(-4, b"q"), Err(TypeError::IndexOutOfRange));
        assert_eq!(contents(&l), ["a", "y", "z"]);
    }

    #[test]
    fn remove_table() {
        let base = ["a", "x", "b", "x", "c", "x"];
        let cases: &[(i64, &str, usize, &[&str])] = &[
            (0, "x", 3, &["a", "b", "c"]),
            (1, "x", 1, &["a", "b", "x", "c", "x"]),
            (2, "x", 2, &["a", "b", "c", "x"]),
            (-1, "x", 1, &["a", "x", "b", "x", "c"]),
            (-2, "x", 2, &["a", "x", "b", "c"]),
            (-10, "x", 3, &["a", "b", "c"]),
            (0, "nope", 0, &["a", "x", "b", "x", "c", "x"]),
        ];
        for (count, value, removed, rest) in cases {
            let mut l = list(&base);
            assert_eq!(
                l.remove(*count, value.as_bytes()),
                *removed,
                "{count} {value}"
            );
            assert_eq!(contents(&l), *rest, "{count} {value}");
        }
    }

    #[test]
    fn trim_table() {
        let base = ["a", "b", "c", "d", "e"];
        let cases: &[(i64, i64, &[&str])] = &[
            (1, -1, &["b", "c", "d", "e"]),
            (0, 0, &["a"]),
            (-2, -1, &["d", "e"]),
            (2, 1, &[]),
            (10, 20, &[]),
            (-100, 100, &["a", "b", "c", "d", "e"]),
        ];
        for (start, stop, want) in cases {
            let mut l = list(&base);
            l.trim(*start, *stop);
            assert_eq!(contents(&l), *want, "{start} {stop}");
        }
    }

    #[test]
    fn insert_table() {
        let mut l = list(&["a", "b", "a"]);
        assert_eq!(l.insert(true, b"a", b"x"), Some(4));
        assert_eq!(l.insert(false, b"a", b"y"), Some(5));
        assert_eq!(l.insert(false, b"missing", b"z"), None);
        assert_eq!(contents(&l), ["x", "a", "y", "b", "a"]);
        assert_eq!(l.insert(false, b"a", b"end"), Some(6));
        let mut l = list(&["p"]);
        assert_eq!(l.insert(false, b"p", b"q"), Some(2));
        assert_eq!(contents(&l), ["p", "q"]);
    }

    #[test]
    fn positions_table() {
        // Redis docs: RPUSH mylist a b c d 1 2 3 4 3 3 3
        let l = list(&["a", "b", "c", "d", "1", "2", "3", "4", "3", "3", "3"]);
        let cases: &[(&str, i64, usize, usize, &[usize])] = &[
            ("3", 1, 1, 0, &[6]),
            ("3", 1, 0, 0, &[6, 8, 9, 10]),
            ("3", 2, 1, 0, &[8]),
            ("3", -1, 1, 0, &[10]),
            ("3", -1, 2, 0, &[10, 9]),
            ("3", -2, 0, 0, &[9, 8, 6]),
            ("3", 1, 0, 7, &[6]),
            ("3", 1, 0, 6, &[]),
            ("3", -1, 0, 3, &[10, 9, 8]),
            ("3", 5, 1, 0, &[]),
            ("z", 1, 0, 0, &[]),
            ("a", i64::MIN, 1, 0, &[]),
        ];
        for (v, rank, count, maxlen, want) in cases {
            assert_eq!(
                l.positions(v.as_bytes(), *rank, *count, *maxlen),
                *want,
                "{v} {rank} {count} {maxlen}"
            );
        }
    }

    #[test]
    fn binary_elements_are_kept_verbatim() {
        let mut l = List::new();
        l.push(End::Right, b"\x00\xff\r\n");
        l.push(End::Right, b"");
        assert_eq!(l.index(0), Some(&b"\x00\xff\r\n"[..]));
        assert_eq!(l.index(1), Some(&b""[..]));
    }

    #[test]
    fn encoding_follows_size_with_hysteresis() {
        let mut l = List::new();
        assert_eq!(l.encoding(), "listpack");
        let big = vec![b'x'; 5000];
        l.push(End::Right, &big);
        assert_eq!(l.encoding(), "listpack");
        l.push(End::Right, &big);
        assert_eq!(l.encoding(), "quicklist");
        l.pop(End::Right);
        assert_eq!(l.encoding(), "quicklist", "5 KiB is above half the limit");
        l.pop(End::Right);
        assert_eq!(l.encoding(), "listpack");
        assert!(l.memory_usage() >= size_of::<List>());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, u8),
        Pop(bool, usize),
        Set(i64, u8),
        Remove(i64, u8),
        Trim(i64, i64),
        Insert(bool, u8, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<bool>(), 0u8..4).prop_map(|(l, v)| Op::Push(l, v)),
            (any::<bool>(), 0usize..3).prop_map(|(l, n)| Op::Pop(l, n)),
            (-8i64..8, 0u8..4).prop_map(|(i, v)| Op::Set(i, v)),
            (-3i64..3, 0u8..4).prop_map(|(c, v)| Op::Remove(c, v)),
            (-8i64..8, -8i64..8).prop_map(|(a, b)| Op::Trim(a, b)),
            (any::<bool>(), 0u8..4, 0u8..4).prop_map(|(b, p, v)| Op::Insert(b, p, v)),
        ]
    }

    /// The model: a Vec with Redis's rules written out the slow, obvious way.
    fn model_range(m: &[u8], start: i64, stop: i64) -> Vec<u8> {
        let n = m.len() as i64;
        (0..n)
            .filter(|&i| {
                let s = if start < 0 { (start + n).max(0) } else { start };
                let e = if stop < 0 { stop + n } else { stop };
                i >= s && i <= e
            })
            .map(|i| m[i as usize])
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_vec_model(ops in proptest::collection::vec(op(), 0..40)) {
            let mut l = List::new();
            let mut m: Vec<u8> = Vec::new();
            for op in ops {
                match op {
                    Op::Push(left, v) => {
                        l.push(if left { End::Left } else { End::Right }, &[v]);
                        if left { m.insert(0, v) } else { m.push(v) }
                    }
                    Op::Pop(left, n) => {
                        let got = l.pop_many(if left { End::Left } else { End::Right }, n);
                        let k = n.min(m.len());
                        let want: Vec<u8> = if left { m.drain(..k).collect() }
                            else { m.drain(m.len() - k..).rev().collect() };
                        prop_assert_eq!(got.iter().map(|b| b[0]).collect::<Vec<_>>(), want);
                    }
                    Op::Set(i, v) => {
                        let pos = if i < 0 { i + m.len() as i64 } else { i };
                        let ok = l.set(i, &[v]).is_ok();
                        prop_assert_eq!(ok, pos >= 0 && pos < m.len() as i64);
                        if ok { m[pos as usize] = v; }
                    }
                    Op::Remove(c, v) => {
                        let mut idx: Vec<usize> = (0..m.len()).filter(|&i| m[i] == v).collect();
                        if c < 0 { idx.reverse(); }
                        if c != 0 { idx.truncate(c.unsigned_abs() as usize); }
                        prop_assert_eq!(l.remove(c, &[v]), idx.len());
                        idx.sort_unstable();
                        for i in idx.into_iter().rev() { m.remove(i); }
                    }
                    Op::Trim(a, b) => {
                        l.trim(a, b);
                        m = model_range(&m, a, b);
                    }
                    Op::Insert(before, p, v) => {
                        let want = m.iter().position(|&x| x == p).map(|i| {
                            m.insert(if before { i } else { i + 1 }, v);
                            m.len()
                        });
                        prop_assert_eq!(l.insert(before, &[p], &[v]), want);
                    }
                }
                prop_assert_eq!(l.len(), m.len());
                prop_assert_eq!(l.iter().map(|b| b[0]).collect::<Vec<_>>(), m.clone());
                prop_assert_eq!(l.payload, m.len());
            }
            for (a, b) in [(0, -1), (-3, 2), (1, 1), (-1, -3)] {
                let got: Vec<u8> = l.range(a, b).iter().map(|b| b[0]).collect();
                prop_assert_eq!(got, model_range(&m, a, b));
            }
        }
    }
}
