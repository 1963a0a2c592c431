//! Hashes: a field -> value map. Small hashes are one packed buffer ([`Pack`]); larger ones use
//! the stable-slot [`Table`], where each entry is one allocation holding the field followed by
//! the value (plus the field length in the slot): 24 bytes of slot, ~5 bytes of index and one
//! heap block per pair.

use super::inline::Writer;
use super::pack::Pack;
use super::rng::{Rng, pick};
use super::slots::{Keyed, Table};
use super::{TypeError, alloc_size, encoding};
use crate::number::LongDouble;
use crate::number::parse_i64;

/// One field and its value in a single allocation: `data = field ++ value`.
#[derive(Clone)]
pub(crate) struct Pair {
    data: Box<[u8]>,
    field_len: u32,
}

impl Pair {
    fn new(field: &[u8], value: &[u8]) -> Self {
        let mut data = Vec::with_capacity(field.len() + value.len());
        data.extend_from_slice(field);
        data.extend_from_slice(value);
        // Fields are bounded by the protocol's 512 MiB bulk limit.
        let field_len = u32::try_from(field.len()).expect("field longer than 4 GiB");
        Pair {
            data: data.into_boxed_slice(),
            field_len,
        }
    }

    fn field(&self) -> &[u8] {
        &self.data[..self.field_len as usize]
    }

    fn value(&self) -> &[u8] {
        &self.data[self.field_len as usize..]
    }
}

impl Keyed for Pair {
    fn key(&self) -> &[u8] {
        self.field()
    }
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}: {:?}",
            self.field().escape_ascii(),
            self.value().escape_ascii()
        )
    }
}

/// A Redis hash: small ones packed in one buffer, larger ones in a slot table.
#[derive(Debug, Clone)]
pub(crate) enum Hash {
    /// Fields and values alternate. Used while the hash has at most `hash-max-listpack-entries`
    /// fields and every field and value is at most `hash-max-listpack-value` bytes (Redis's
    /// listpack limits, 512 and 64 by default; see [`encoding`]).
    Small(Pack),
    /// Sticky like Redis: once a hash outgrows the listpack limits it stays a table.
    Large(Box<Table<Pair>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Small(Pack::default())
    }
}

/// Equal when both hold the same fields with the same values, whatever the order.
impl PartialEq for Hash {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

/// The positions of the field and of the value of `field` in a small hash.
fn find_small(p: &Pack, field: &[u8]) -> Option<(usize, usize)> {
    let mut it = p.iter();
    while let (Some((fpos, f)), Some((vpos, _))) = (it.next(), it.next()) {
        if f == field {
            return Some((fpos, vpos));
        }
    }
    None
}

fn pairs(p: &Pack) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
    let mut it = p.iter();
    std::iter::from_fn(move || Some((it.next()?.1, it.next()?.1)))
}

impl Hash {
    /// An empty hash.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// HLEN.
    pub(crate) fn len(&self) -> usize {
        match self {
            Hash::Small(p) => p.count() / 2,
            Hash::Large(t) => t.len(),
        }
    }

    /// True when the hash has no fields (the store then deletes the key).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes a packed hash's inline form (its buffer) into `out`; None if it is a table or
    /// does not fit (see `inline.rs`).
    pub(crate) fn encode_inline(&self, out: &mut [u8]) -> Option<usize> {
        let Hash::Small(p) = self else { return None };
        let mut w = Writer::new(out);
        w.bytes(p.bytes())?;
        Some(w.len())
    }

    /// The length of [`Hash::encode_inline`]'s form, given room for it.
    pub(crate) fn inline_len(&self) -> Option<usize> {
        let Hash::Small(p) = self else { return None };
        Some(p.bytes().len())
    }

    /// The hash [`Hash::encode_inline`] wrote.
    pub(crate) fn from_inline(bytes: &[u8]) -> Hash {
        Hash::Small(Pack::from_bytes(bytes))
    }

    /// Moves a small hash into a table.
    fn grow(&mut self) {
        if let Hash::Small(p) = self {
            let mut t = Table::default();
            for (f, v) in pairs(p) {
                t.insert_new(Pair::new(f, v));
            }
            *self = Hash::Large(Box::new(t));
        }
    }

    /// HSET for one pair: returns true when the field is new.
    pub(crate) fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let Hash::Small(p) = self {
            let max = encoding::hash_value();
            let fits = field.len() <= max && value.len() <= max;
            // As Redis's hashTypeSet: the length is checked after every set, so a lowered
            // `hash-max-listpack-entries` converts a hash at its next write.
            let new = match find_small(p, field) {
                Some((_, vpos)) if fits => {
                    p.replace(vpos, value);
                    Some(false)
                }
                None if fits => {
                    p.push(field);
                    p.push(value);
                    Some(true)
                }
                _ => None,
            };
            if let Some(new) = new {
                if p.count() / 2 > encoding::hash_entries() {
                    self.grow();
                }
                return new;
            }
            self.grow();
        }
        let Hash::Large(t) = self else {
            unreachable!("grown above")
        };
        match t.get_mut(field) {
            Some(pair) => {
                *pair = Pair::new(field, value);
                false
            }
            None => {
                t.insert_new(Pair::new(field, value));
                true
            }
        }
    }

    /// HSETNX: sets only a new field; returns whether it did.
    pub(crate) fn set_nx(&mut self, field: &[u8], value: &[u8]) -> bool {
        if self.contains(field) {
            return false;
        }
        self.set(field, value)
    }

    /// HGET.
    pub(crate) fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Small(p) => find_small(p, field).map(|(_, vpos)| p.at(vpos).0),
            Hash::Large(t) => t.get(field).map(Pair::value),
        }
    }

    /// HMGET.
    pub(crate) fn get_many<F: AsRef<[u8]>>(&self, fields: &[F]) -> Vec<Option<&[u8]>> {
        fields.iter().map(|f| self.get(f.as_ref())).collect()
    }

    /// HEXISTS.
    pub(crate) fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// HSTRLEN: 0 for a missing field.
    pub(crate) fn value_len(&self, field: &[u8]) -> usize {
        self.get(field).map_or(0, <[u8]>::len)
    }

    /// HDEL for one field: returns whether it existed.
    pub(crate) fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Small(p) => match find_small(p, field) {
                Some((fpos, _)) => {
                    p.remove(fpos, 2);
                    true
                }
                None => false,
            },
            Hash::Large(t) => {
                let removed = t.remove(field).is_some();
                t.maybe_compact();
                removed
            }
        }
    }

    /// All (field, value) pairs (HGETALL).
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            Hash::Small(p) => Box::new(pairs(p)),
            Hash::Large(t) => Box::new(t.values().map(|p| (p.field(), p.value()))),
        }
    }

    /// HKEYS.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.iter().map(|(f, _)| f)
    }

    /// HVALS.
    pub(crate) fn values(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// HINCRBY: adds `delta` to the field's integer value (0 when missing); returns the result.
    ///
    /// # Errors
    /// [`TypeError::HashValueNotInteger`] when the value is not an integer,
    /// [`TypeError::Overflow`] when the sum leaves the i64 range. The hash is unchanged then.
    pub(crate) fn incr_by(&mut self, field: &[u8], delta: i64) -> Result<i64, TypeError> {
        let current = match self.get(field) {
            Some(v) => parse_i64(v).ok_or(TypeError::HashValueNotInteger)?,
            None => 0,
        };
        let next = current.checked_add(delta).ok_or(TypeError::Overflow)?;
        self.set(field, next.to_string().as_bytes());
        Ok(next)
    }

    /// HINCRBYFLOAT: adds `delta` to the field's numeric value (0 when missing); returns the
    /// stored text of the result (which is also what must be journaled).
    ///
    /// # Errors
    /// [`TypeError::HashValueNotFloat`] when the value is not a number,
    /// [`TypeError::NanOrInfinity`] when the result is not finite. The hash is unchanged then.
    pub(crate) fn incr_by_float(
        &mut self,
        field: &[u8],
        delta: LongDouble,
    ) -> Result<String, TypeError> {
        let current = match self.get(field) {
            Some(v) => LongDouble::parse(v).ok_or(TypeError::HashValueNotFloat)?,
            None => LongDouble::from(0.0),
        };
        let next = current.checked_add(delta).ok_or(TypeError::NanOrInfinity)?;
        let text = next.format_human();
        self.set(field, text.as_bytes());
        Ok(text)
    }

    /// HRANDFIELD without a count: one random pair.
    pub(crate) fn random_field(&self, rng: &mut Rng) -> Option<(&[u8], &[u8])> {
        self.random_fields(rng, 1).pop()
    }

    /// HRANDFIELD with a count: positive = distinct fields, at most `len`; negative = exactly
    /// |count| fields that may repeat; 0 = none.
    pub(crate) fn random_fields(&self, rng: &mut Rng, count: i64) -> Vec<(&[u8], &[u8])> {
        match self {
            Hash::Small(p) => {
                let all: Vec<(&[u8], &[u8])> = pairs(p).collect();
                pick(rng, all.len(), count)
                    .into_iter()
                    .map(|i| all[i])
                    .collect()
            }
            Hash::Large(t) => {
                let n = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
                let slots = if count >= 0 {
                    t.random_distinct(rng, n)
                } else {
                    t.random_repeated(rng, n)
                };
                slots
                    .into_iter()
                    .map(|s| {
                        let p = t.at(s);
                        (p.field(), p.value())
                    })
                    .collect()
            }
        }
    }

    /// HSCAN step: calls `f` for about `count` pairs, returns the next cursor (0 = done). A
    /// small hash is returned whole in one step, as Redis does for listpacks.
    pub(crate) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Small(p) => {
                pairs(p).for_each(|(k, v)| f(k, v));
                0
            }
            Hash::Large(t) => t.scan(cursor, count, |p| f(p.field(), p.value())),
        }
    }

    /// OBJECT ENCODING as Redis would report it.
    pub(crate) fn encoding(&self) -> &'static str {
        match self {
            Hash::Small(_) => "listpack",
            Hash::Large(_) => "hashtable",
        }
    }

    /// Approximate heap bytes (MEMORY USAGE, excluding the key).
    pub(crate) fn memory_usage(&self) -> usize {
        size_of::<Self>()
            + match self {
                Hash::Small(p) => alloc_size(p.capacity()),
                Hash::Large(t) => {
                    t.overhead_bytes() + t.values().map(|p| alloc_size(p.data.len())).sum::<usize>()
                }
            }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Rng;
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn hash(pairs: &[(&str, &str)]) -> Hash {
        let mut h = Hash::new();
        for (f, v) in pairs {
            h.set(f.as_bytes(), v.as_bytes());
        }
        h
    }

    #[test]
    fn set_get_remove_table() {
        assert_eq!(
            hash(&[("a", "1"), ("b", "2")]),
            hash(&[("b", "2"), ("a", "1")])
        );
        assert_ne!(hash(&[("a", "1")]), hash(&[("a", "2")]));
        assert_ne!(hash(&[("a", "1")]), hash(&[("b", "1")]));
        let mut h = Hash::new();
        assert!(h.set(b"f", b"1"));
        assert!(!h.set(b"f", b"2"), "overwrite is not new");
        assert_eq!(h.get(b"f"), Some(&b"2"[..]));
        assert!(!h.set_nx(b"f", b"3"));
        assert!(h.set_nx(b"g", b"3"));
        assert_eq!(h.get(b"g"), Some(&b"3"[..]));
        assert_eq!(
            h.get_many(&["f", "nope", "g"]),
            vec![Some(&b"2"[..]), None, Some(&b"3"[..])]
        );
        assert_eq!(h.value_len(b"g"), 1);
        assert_eq!(h.value_len(b"nope"), 0);
        assert!(h.contains(b"f"));
        assert!(h.remove(b"f"));
        assert!(!h.remove(b"f"));
        assert!(!h.contains(b"f"));
        assert_eq!(h.len(), 1);
        assert!(h.remove(b"g"));
        assert!(h.is_empty());
    }

    #[test]
    fn binary_and_empty_fields() {
        let mut h = Hash::new();
        h.set(b"", b"empty field");
        h.set(b"\x00\xff", b"");
        assert_eq!(h.get(b""), Some(&b"empty field"[..]));
        assert_eq!(h.get(b"\x00\xff"), Some(&b""[..]));
        assert_eq!(h.get(b"\x00"), None);
        let all: BTreeMap<&[u8], &[u8]> = h.iter().collect();
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn incr_by_table() {
        let mut h = hash(&[
            ("n", "10"),
            ("s", "abc"),
            ("big", "9223372036854775807"),
            ("f", "1.5"),
            ("sp", " 1"),
        ]);
        let cases: &[(&str, i64, Result<i64, TypeError>)] = &[
            ("n", 5, Ok(15)),
            ("n", -20, Ok(-5)),
            ("new", 7, Ok(7)),
            ("s", 1, Err(TypeError::HashValueNotInteger)),
            ("f", 1, Err(TypeError::HashValueNotInteger)),
            ("sp", 1, Err(TypeError::HashValueNotInteger)),
            ("big", 1, Err(TypeError::Overflow)),
            ("big", -1, Ok(i64::MAX - 1)),
        ];
        for (field, delta, want) in cases {
            assert_eq!(
                h.incr_by(field.as_bytes(), *delta),
                *want,
                "{field} {delta}"
            );
        }
        assert_eq!(h.incr_by(b"n", i64::MIN), Err(TypeError::Overflow));
        assert_eq!(
            h.get(b"n"),
            Some(&b"-5"[..]),
            "a failed increment changes nothing"
        );
        assert_eq!(h.get(b"new"), Some(&b"7"[..]));
    }

    #[test]
    fn incr_by_float_table() {
        // Expected texts recorded from redis-server 7.0.15 (HSET then HINCRBYFLOAT).
        let ld = |s: &str| LongDouble::parse(s.as_bytes()).unwrap();
        let mut h = hash(&[("x", "10.50"), ("e", "5.0e3"), ("s", "abc"), ("i", "inf")]);
        assert_eq!(h.incr_by_float(b"x", ld("0.1")).as_deref(), Ok("10.6"));
        assert_eq!(h.get(b"x"), Some(&b"10.6"[..]));
        assert_eq!(h.incr_by_float(b"e", ld("2.0e2")).as_deref(), Ok("5200"));
        assert_eq!(
            h.incr_by_float(b"new", (-1.25).into()).as_deref(),
            Ok("-1.25")
        );
        assert_eq!(
            h.incr_by_float(b"s", 1.0.into()),
            Err(TypeError::HashValueNotFloat)
        );
        assert_eq!(
            h.incr_by_float(b"i", 1.0.into()),
            Err(TypeError::NanOrInfinity)
        );
        assert_eq!(
            h.incr_by_float(b"x", f64::INFINITY.into()),
            Err(TypeError::NanOrInfinity)
        );
        let max = "1.18973149535723176502e+4932";
        h.set(b"m", max.as_bytes());
        assert_eq!(
            h.incr_by_float(b"m", ld(max)),
            Err(TypeError::NanOrInfinity)
        );
        assert_eq!(h.get(b"x"), Some(&b"10.6"[..]));
        assert_eq!(h.incr_by_float(b"x", ld("-10.6")).as_deref(), Ok("0"));
        h.set(b"p", b"0.1");
        assert_eq!(h.incr_by_float(b"p", ld("0.2")).as_deref(), Ok("0.3"));
        h.set(b"y", b"5010.6");
        let text = h.incr_by_float(b"y", ld("0"));
        assert_eq!(text.as_deref(), Ok("5010.60000000000000009"));
    }

    #[test]
    fn random_fields_count_semantics() {
        let h = hash(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")]);
        let mut rng = Rng::new(42);
        assert!(h.random_fields(&mut rng, 0).is_empty());
        for count in 1..=5i64 {
            let got = h.random_fields(&mut rng, count);
            assert_eq!(got.len(), count as usize);
            let distinct: BTreeSet<_> = got.iter().collect();
            assert_eq!(
                distinct.len(),
                got.len(),
                "positive count gives distinct fields"
            );
            for (f, v) in got {
                assert_eq!(h.get(f), Some(v));
            }
        }
        assert_eq!(h.random_fields(&mut rng, 100).len(), 5);
        let rep = h.random_fields(&mut rng, -20);
        assert_eq!(rep.len(), 20);
        let distinct: BTreeSet<_> = rep.iter().collect();
        assert!(distinct.len() < 20, "negative count repeats with 5 fields");
        assert!(Hash::new().random_fields(&mut rng, -3).is_empty());
        assert_eq!(Hash::new().random_field(&mut rng), None);
        assert!(h.random_field(&mut rng).is_some());
        // Deterministic for a given seed.
        assert_eq!(
            h.random_fields(&mut Rng::new(9), 2),
            h.random_fields(&mut Rng::new(9), 2)
        );
    }

    #[test]
    fn scan_covers_every_field() {
        let mut h = Hash::new();
        for i in 0..300 {
            h.set(format!("f{i}").as_bytes(), b"v");
        }
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        loop {
            cursor = h.scan(cursor, 10, |f, _| {
                seen.insert(f.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 300);
    }

    #[test]
    fn encoding_table() {
        let mut h = hash(&[("a", "1")]);
        assert_eq!(h.encoding(), "listpack");
        for i in 0..511 {
            h.set(format!("f{i}").as_bytes(), b"v");
        }
        assert_eq!(h.encoding(), "listpack", "512 fields");
        h.set(b"f511", b"v");
        assert_eq!(h.encoding(), "hashtable", "513 fields");
        let mut h = hash(&[("a", "1")]);
        h.set(b"long", &[b'x'; 65]);
        assert_eq!(h.encoding(), "hashtable", "65-byte value");
        h.remove(b"long");
        assert_eq!(h.encoding(), "hashtable", "conversion is sticky");
        assert!(h.memory_usage() > 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_btreemap_model(ops in proptest::collection::vec((0u8..4, 0u8..12, 0u8..4), 0..80),
                                  large in any::<bool>()) {
            let mut h = Hash::new();
            if large {
                // A 65-byte field moves the hash to the table for good: test both forms.
                h.set(&[b'x'; 65], b"v");
                h.remove(&[b'x'; 65]);
                prop_assert_eq!(h.encoding(), "hashtable");
            }
            let mut m: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for (op, f, v) in ops {
                let f = vec![f];
                let v = vec![v];
                match op {
                    0 => prop_assert_eq!(h.set(&f, &v), m.insert(f, v).is_none()),
                    1 => prop_assert_eq!(h.remove(&f), m.remove(&f).is_some()),
                    2 => {
                        let was_new = !m.contains_key(&f);
                        prop_assert_eq!(h.set_nx(&f, &v), was_new);
                        m.entry(f).or_insert(v);
                    }
                    _ => prop_assert_eq!(h.get(&f), m.get(&f).map(|v| v.as_slice())),
                }
                prop_assert_eq!(h.len(), m.len());
            }
            let got: BTreeMap<Vec<u8>, Vec<u8>> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(got, m);
        }
    }
}
