use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn pairs(n: u8) -> Pairs {
    (0..n)
        .map(|i| (vec![b'f' + i], vec![b'a' + i; usize::from(i) + 1]))
        .collect()
}

fn add(s: &mut Stream, at: StreamId, p: &[(Vec<u8>, Vec<u8>)]) {
    let p: Vec<(&[u8], &[u8])> = p.iter().map(|(f, v)| (&f[..], &v[..])).collect();
    s.append(at, &p);
}

fn ids(s: &Stream, start: StreamId, end: StreamId, rev: bool) -> Vec<StreamId> {
    let mut out = Vec::new();
    s.range(start, end, rev, |e| {
        out.push(e.id());
        true
    });
    out
}

#[test]
fn ids_parse_as_redis_reads_them() {
    let check = |text: &str, missing: u64, expected: Option<(u64, u64)>| {
        let got = StreamId::parse(text.as_bytes(), missing).map(|i| (i.ms, i.seq));
        assert_eq!(got, expected, "{text:?}");
    };
    check("1-2", 0, Some((1, 2)));
    check("5", 0, Some((5, 0)));
    check("5", u64::MAX, Some((5, u64::MAX)));
    check(
        "18446744073709551615-18446744073709551615",
        0,
        Some((u64::MAX, u64::MAX)),
    );
    check("18446744073709551616-0", 0, None);
    check("1-", 0, None);
    check("-1", 0, None);
    check("1-2-3", 0, None);
    check("abc", 0, None);
    check("", 0, None);
    check("007-+3", 0, Some((7, 3)));
    check("1--0", 0, Some((1, 0)));
    check("1--1", 0, None);
    check("1-*", 0, None);
    check(&"1".repeat(128), 0, None);
    check("3\0-9", 0, Some((3, 0)));
    assert_eq!(id(1, u64::MAX).next(), Some(id(2, 0)));
    assert_eq!(StreamId::MAX.next(), None);
    assert_eq!(id(2, 0).prev(), Some(id(1, u64::MAX)));
    assert_eq!(StreamId::MIN.prev(), None);
    assert_eq!(id(12, 3).to_string(), "12-3");
}

#[test]
fn entries_keep_their_fields_with_and_without_the_master_fields() {
    let mut s = Stream::new();
    add(&mut s, id(1, 0), &pairs(2));
    add(&mut s, id(1, 1), &pairs(2)); // packed against the master fields
    add(&mut s, id(3, 0), &pairs(3)); // its own fields
    add(&mut s, id(u64::MAX / 2, 7), &pairs(1)); // a large ms jump starts a new block
    let got: Vec<(StreamId, Pairs)> = s
        .iter()
        .map(|e| {
            let f = e.fields().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            (e.id(), f)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (id(1, 0), pairs(2)),
            (id(1, 1), pairs(2)),
            (id(3, 0), pairs(3)),
            (id(u64::MAX / 2, 7), pairs(1)),
        ]
    );
    assert_eq!(s.blocks(), 2);
    assert_eq!(s.first_id(), id(1, 0));
    assert_eq!(s.last_live_id(), id(u64::MAX / 2, 7));
}

/// Blocks end where Redis's nodes end: at 100 entries (deleted ones included), or when the
/// listpack would reach 4096 bytes.
#[test]
fn blocks_end_where_redis_nodes_end() {
    let mut s = Stream::new();
    for i in 0..250 {
        add(&mut s, id(i, 0), &pairs(1));
    }
    assert_eq!(s.blocks(), 3);
    // A deleted entry still counts towards its block's 100.
    let mut s = Stream::new();
    for i in 0..100 {
        add(&mut s, id(i, 0), &pairs(1));
        if i == 50 {
            assert!(s.delete(id(i, 0)));
        }
    }
    add(&mut s, id(100, 0), &pairs(1));
    assert_eq!(s.blocks(), 2);
    // 100-byte values: a Redis listpack entry of one such value weighs 2 (flags) + 2 + 2 (ID
    // deltas) + 103 (the value) + 2 (its element count) = 111 bytes, after a master of 18
    // (header and end, two counters, the field count, "f", the terminator). A node takes
    // another entry while 18 + 111 k + 101 (the entry's field and value bytes) < 4096: 36
    // entries. redis-server 7.0.15 answers XTRIM MAXLEN ~ 5 with 0 and MAXLEN ~ 4 with 36.
    let mut s = Stream::new();
    let big = vec![(b"f".to_vec(), vec![b'v'; 100])];
    for i in 0..40 {
        add(&mut s, id(i + 1, 0), &big);
    }
    assert_eq!(s.blocks(), 2);
    let approx = |n| Trim {
        by: TrimBy::MaxLen(n),
        approx: true,
        limit: 0,
    };
    assert_eq!(s.trim(approx(5)), 0);
    assert_eq!(s.trim(approx(4)), 36);
}

#[test]
fn deleting_the_last_live_entry_of_a_block_drops_it() {
    let mut s = Stream::new();
    for i in 0..150 {
        add(&mut s, id(i, 0), &pairs(1));
    }
    for i in 100..150 {
        assert!(s.delete(id(i, 0)));
    }
    assert!(!s.delete(id(120, 0)));
    assert!(!s.delete(id(500, 0)));
    assert_eq!(s.blocks(), 1);
    assert_eq!(s.len(), 100);
    assert_eq!(s.max_deleted(), id(149, 0));
    assert_eq!(s.last_id(), id(149, 0));
    assert_eq!(s.last_live_id(), id(99, 0));
}

/// MINID trims a block whose last entry (deleted or not) is below the ID; with `~` only whole
/// blocks, and LIMIT stops before a block that would pass it.
#[test]
fn trims_as_redis_stream_trim() {
    let fill = || {
        let mut s = Stream::new();
        for i in 0..250 {
            add(&mut s, id(i, 0), &pairs(1));
        }
        s
    };
    let trim = |s: &mut Stream, by, approx, limit| s.trim(Trim { by, approx, limit });
    let mut s = fill();
    assert_eq!(trim(&mut s, TrimBy::MaxLen(120), true, 0), 100);
    assert_eq!(trim(&mut s, TrimBy::MaxLen(120), false, 0), 30);
    assert_eq!(s.first_id(), id(130, 0));
    let mut s = fill();
    assert_eq!(trim(&mut s, TrimBy::MinId(id(199, 0)), true, 0), 100);
    assert_eq!(trim(&mut s, TrimBy::MinId(id(199, 0)), false, 0), 99);
    assert_eq!(s.first_id(), id(199, 0));
    let mut s = fill();
    assert_eq!(trim(&mut s, TrimBy::MaxLen(0), true, 150), 100);
    assert_eq!(trim(&mut s, TrimBy::MaxLen(0), true, 99), 0);
    assert_eq!(trim(&mut s, TrimBy::MaxLen(0), false, 0), 150);
    assert_eq!(s.len(), 0);
    assert_eq!(s.last_id(), id(249, 0));
}

/// What a stream of small entries costs per entry: a few bytes of header plus the value, far
/// below a Redis listpack entry's 11 or more.
#[test]
fn small_entries_cost_a_few_bytes_each() {
    let mut s = Stream::new();
    let n = 100_000u64;
    for i in 0..n {
        add(
            &mut s,
            id(1_700_000_000_000 + i / 3, i % 3),
            &[(b"f".to_vec(), b"v".to_vec())],
        );
    }
    let per_entry = s.memory_usage() as f64 / n as f64;
    assert!(per_entry < 6.5, "{per_entry} bytes per entry");
}

#[derive(Debug, Clone)]
enum Op {
    Add(u64, u8),
    Del(u64),
    Trim(bool, bool, u64, u64),
    Range(u64, u64, bool, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1..4u64, 1..4u8).prop_map(|(gap, n)| Op::Add(gap, n)),
        2 => (0..400u64).prop_map(Op::Del),
        1 => (any::<bool>(), any::<bool>(), 0..300u64, 0..250u64)
            .prop_map(|(max, approx, n, limit)| Op::Trim(max, approx, n, limit)),
        2 => (0..400u64, 0..400u64, any::<bool>(), 0..50usize)
            .prop_map(|(a, b, rev, count)| Op::Range(a, b, rev, count)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Random adds, deletes, trims and ranges against a `BTreeMap`; approximate trims are
    /// checked for what they may do (remove the oldest entries only, never below the target).
    #[test]
    fn matches_a_sorted_model(ops in proptest::collection::vec(op(), 0..400)) {
        let mut s = Stream::new();
        let mut model: BTreeMap<StreamId, u8> = BTreeMap::new();
        let mut next = 0u64;
        for op in ops {
            match op {
                Op::Add(gap, n) => {
                    next += gap;
                    let at = id(next / 2, next % 2);
                    add(&mut s, at, &pairs(n));
                    model.insert(at, n);
                }
                Op::Del(i) => {
                    let at = id(i / 2, i % 2);
                    prop_assert_eq!(s.delete(at), model.remove(&at).is_some());
                }
                Op::Trim(by_len, approx, n, limit) => {
                    let by = if by_len { TrimBy::MaxLen(n) } else { TrimBy::MinId(id(n / 2, n % 2)) };
                    let limit = if approx { limit } else { 0 };
                    let removed = s.trim(Trim { by, approx, limit });
                    for _ in 0..removed {
                        model.pop_first();
                    }
                    if !approx {
                        match by {
                            TrimBy::MaxLen(n) => prop_assert!(model.len() as u64 <= n),
                            TrimBy::MinId(min) => prop_assert!(model.keys().all(|&k| k >= min)),
                        }
                    }
                    if let TrimBy::MaxLen(n) = by {
                        prop_assert!(removed == 0 || model.len() as u64 >= n);
                    }
                }
                Op::Range(a, b, rev, count) => {
                    let (start, end) = (id(a / 2, a % 2), id(b / 2, b % 2));
                    let mut got = ids(&s, start, end, rev);
                    got.truncate(count.max(1));
                    let mut want: Vec<StreamId> = if start <= end {
                        model.range(start..=end).map(|(k, _)| *k).collect()
                    } else {
                        Vec::new()
                    };
                    if rev {
                        want.reverse();
                    }
                    want.truncate(count.max(1));
                    prop_assert_eq!(got, want);
                }
            }
            prop_assert_eq!(s.len(), model.len() as u64);
            let all: Vec<(StreamId, usize)> = s.iter().map(|e| (e.id(), e.len())).collect();
            let want: Vec<(StreamId, usize)> =
                model.iter().map(|(k, n)| (*k, usize::from(*n))).collect();
            prop_assert_eq!(all, want);
        }
        for e in s.iter() {
            let n = model[&e.id()];
            let f: Vec<(Vec<u8>, Vec<u8>)> =
                e.fields().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(f, pairs(n));
        }
    }
}
