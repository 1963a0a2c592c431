use super::super::Rng;
use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn zset(pairs: &[(f64, &str)]) -> ZSet {
    let mut z = ZSet::new();
    for (s, m) in pairs {
        z.add(*s, m.as_bytes(), &ZAddFlags::default()).unwrap();
    }
    z.check();
    z
}

fn names(v: Vec<(&[u8], f64)>) -> Vec<String> {
    v.into_iter()
        .map(|(m, _)| String::from_utf8(m.to_vec()).unwrap())
        .collect()
}

fn with_scores(v: Vec<(&[u8], f64)>) -> Vec<(String, f64)> {
    v.into_iter()
        .map(|(m, s)| (String::from_utf8(m.to_vec()).unwrap(), s))
        .collect()
}

/// (min, max, rev, limit offset, limit count, expected members)
type RangeCase<'a> = (&'a str, &'a str, bool, i64, i64, &'a [&'a str]);

fn sr(min: &str, max: &str) -> ScoreRange {
    ScoreRange::parse(min.as_bytes(), max.as_bytes()).unwrap()
}

fn flags(spec: &str) -> ZAddFlags {
    let mut f = ZAddFlags::default();
    for w in spec.split_whitespace() {
        match w {
            "nx" => f.nx = true,
            "xx" => f.xx = true,
            "gt" => f.gt = true,
            "lt" => f.lt = true,
            "ch" => f.ch = true,
            "incr" => f.incr = true,
            _ => panic!("{w}"),
        }
    }
    f
}

#[test]
fn zadd_flag_validation() {
    let cases: &[(&str, usize, Result<(), TypeError>)] = &[
        ("", 3, Ok(())),
        ("nx xx", 1, Err(TypeError::ZAddNxXx)),
        ("gt lt", 1, Err(TypeError::ZAddGtLtNx)),
        ("nx gt", 1, Err(TypeError::ZAddGtLtNx)),
        ("nx lt", 1, Err(TypeError::ZAddGtLtNx)),
        ("xx gt ch", 2, Ok(())),
        ("incr", 1, Ok(())),
        ("incr", 2, Err(TypeError::ZAddIncrPairs)),
    ];
    for (spec, pairs, want) in cases {
        assert_eq!(flags(spec).validate(*pairs), *want, "{spec}");
    }
}

#[test]
fn zadd_outcome_table() {
    use ZAddOutcome::*;
    // Each case starts from {a: 5}.
    let cases: &[(&str, f64, &str, ZAddOutcome, Option<f64>)] = &[
        ("", 1.0, "b", Added(1.0), Some(5.0)),
        ("", 7.0, "a", Updated(7.0), Some(7.0)),
        ("", 5.0, "a", Unchanged(5.0), Some(5.0)),
        ("nx", 7.0, "a", Skipped, Some(5.0)),
        ("nx", 7.0, "b", Added(7.0), Some(5.0)),
        ("xx", 7.0, "b", Skipped, Some(5.0)),
        ("xx", 7.0, "a", Updated(7.0), Some(7.0)),
        ("gt", 3.0, "a", Skipped, Some(5.0)),
        ("gt", 5.0, "a", Skipped, Some(5.0)),
        ("gt", 9.0, "a", Updated(9.0), Some(9.0)),
        ("gt", 1.0, "b", Added(1.0), Some(5.0)),
        ("lt", 9.0, "a", Skipped, Some(5.0)),
        ("lt", 1.0, "a", Updated(1.0), Some(1.0)),
        ("incr", 2.5, "a", Updated(7.5), Some(7.5)),
        ("incr", 0.0, "a", Unchanged(5.0), Some(5.0)),
        ("incr", 2.0, "b", Added(2.0), Some(5.0)),
        ("incr xx", 2.0, "b", Skipped, Some(5.0)),
        ("incr nx", 2.0, "a", Skipped, Some(5.0)),
        ("incr gt", -1.0, "a", Skipped, Some(5.0)),
        ("incr lt", -1.0, "a", Updated(4.0), Some(4.0)),
        (
            "",
            f64::INFINITY,
            "a",
            Updated(f64::INFINITY),
            Some(f64::INFINITY),
        ),
    ];
    for (spec, score, member, want, a_after) in cases {
        let mut z = zset(&[(5.0, "a")]);
        let got = z.add(*score, member.as_bytes(), &flags(spec)).unwrap();
        assert_eq!(got, *want, "{spec} {score} {member}");
        assert_eq!(z.score(b"a"), *a_after, "{spec} {score} {member}");
        z.check();
    }
    assert!(Added(1.0).added() && Added(1.0).changed());
    assert!(!Updated(1.0).added() && Updated(1.0).changed());
    assert!(!Unchanged(1.0).changed() && Skipped.score().is_none());
}

#[test]
fn nan_scores_are_refused() {
    let mut z = zset(&[(f64::INFINITY, "a")]);
    assert_eq!(z.incr_by(b"a", f64::NEG_INFINITY), Err(TypeError::ScoreNan));
    assert_eq!(z.score(b"a"), Some(f64::INFINITY));
    assert_eq!(
        z.add(f64::NAN, b"b", &ZAddFlags::default()),
        Err(TypeError::ScoreNan)
    );
    assert_eq!(z.len(), 1);
    assert_eq!(z.incr_by(b"a", 1.0), Ok(f64::INFINITY));
    assert_eq!(z.incr_by(b"new", -2.5), Ok(-2.5));
}

#[test]
fn ranks_and_scores() {
    let x = zset(&[(1.0, "a"), (2.0, "b")]);
    let mut y = zset(&[(2.0, "b"), (1.0, "a")]);
    assert_eq!(x, y);
    y.incr_by(b"a", 1.0).unwrap();
    assert_ne!(x, y);
    assert_eq!(x, x.clone());
    let z = zset(&[(1.0, "one"), (2.0, "two"), (3.0, "three"), (2.0, "deux")]);
    assert_eq!(z.len(), 4);
    assert_eq!(z.rank(b"one"), Some((0, 1.0)));
    assert_eq!(z.rank(b"deux"), Some((1, 2.0)), "ties order by member");
    assert_eq!(z.rank(b"two"), Some((2, 2.0)));
    assert_eq!(z.rev_rank(b"three"), Some((0, 3.0)));
    assert_eq!(z.rev_rank(b"one"), Some((3, 1.0)));
    assert_eq!(z.rank(b"four"), None);
    assert_eq!(
        z.scores(&["one", "x", "three"]),
        vec![Some(1.0), None, Some(3.0)]
    );
}

#[test]
fn range_by_rank_table() {
    let z = zset(&[(1.0, "one"), (2.0, "two"), (3.0, "three")]);
    let cases: &[(i64, i64, bool, &[&str])] = &[
        (0, -1, false, &["one", "two", "three"]),
        (2, 3, false, &["three"]),
        (-2, -1, false, &["two", "three"]),
        (0, -1, true, &["three", "two", "one"]),
        (0, 0, true, &["three"]),
        (-1, -1, true, &["one"]),
        (1, 0, false, &[]),
        (5, 10, false, &[]),
        (-100, 100, false, &["one", "two", "three"]),
    ];
    for (start, stop, rev, want) in cases {
        assert_eq!(
            names(z.range_by_rank(*start, *stop, *rev)),
            *want,
            "{start} {stop} {rev}"
        );
    }
    assert!(ZSet::new().range_by_rank(0, -1, false).is_empty());
}

#[test]
fn range_by_score_table() {
    let z = zset(&[
        (1.0, "one"),
        (2.0, "two"),
        (3.0, "three"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "ninf"),
    ]);
    let cases: &[RangeCase<'_>] = &[
        (
            "-inf",
            "+inf",
            false,
            0,
            -1,
            &["ninf", "one", "two", "three", "inf"],
        ),
        ("1", "2", false, 0, -1, &["one", "two"]),
        ("(1", "2", false, 0, -1, &["two"]),
        ("(1", "(2", false, 0, -1, &[]),
        ("(-inf", "(inf", false, 0, -1, &["one", "two", "three"]),
        ("2", "1", false, 0, -1, &[]),
        ("1", "3", false, 1, 1, &["two"]),
        ("1", "3", false, 1, -1, &["two", "three"]),
        ("1", "3", false, 5, -1, &[]),
        ("1", "3", false, -1, 1, &[]),
        ("1", "3", false, 0, 0, &[]),
        // REV: the caller passes the range as (min, max) already.
        ("1", "3", true, 0, -1, &["three", "two", "one"]),
        ("1", "3", true, 1, 1, &["two"]),
        ("(1", "+inf", true, 0, 2, &["inf", "three"]),
        ("4", "5", true, 0, -1, &[]),
    ];
    for (min, max, rev, off, count, want) in cases {
        let got = names(z.range_by_score(&sr(min, max), *rev, *off, *count));
        assert_eq!(got, *want, "{min} {max} rev={rev} limit {off} {count}");
        if *off == 0 && *count == -1 {
            assert_eq!(
                z.count_by_score(&sr(min, max)),
                want.len(),
                "count {min} {max}"
            );
        }
    }
}

#[test]
fn lex_table() {
    let z = zset(&[
        (0.0, "a"),
        (0.0, "b"),
        (0.0, "c"),
        (0.0, "d"),
        (0.0, "e"),
        (0.0, "f"),
        (0.0, "g"),
    ]);
    let lr =
        |a: &'static str, b: &'static str| LexRange::parse(a.as_bytes(), b.as_bytes()).unwrap();
    let cases: &[RangeCase<'static>] = &[
        ("-", "[c", false, 0, -1, &["a", "b", "c"]),
        ("-", "(c", false, 0, -1, &["a", "b"]),
        ("[aaa", "(g", false, 0, -1, &["b", "c", "d", "e", "f"]),
        ("-", "+", false, 2, 2, &["c", "d"]),
        ("-", "+", true, 0, 3, &["g", "f", "e"]),
        ("[c", "[a", false, 0, -1, &[]),
        ("+", "-", false, 0, -1, &[]),
        ("(g", "+", false, 0, -1, &[]),
        ("[g", "+", false, 0, -1, &["g"]),
    ];
    for (min, max, rev, off, count, want) in cases {
        assert_eq!(
            names(z.range_by_lex(&lr(min, max), *rev, *off, *count)),
            *want,
            "{min} {max}"
        );
        if *off == 0 && *count == -1 {
            assert_eq!(z.count_by_lex(&lr(min, max)), want.len());
        }
    }
    assert_eq!(z.count_by_lex(&lr("-", "+")), 7);
    assert_eq!(z.count_by_lex(&lr("[b", "[f")), 5);
}

#[test]
fn lex_ranges_over_unequal_scores_follow_redis_listpack_walk() {
    // Found by differential fuzzing against redis-server: ZADD z 1 b 2 a 3 c; the members are
    // not sorted, and Redis walks from the first member >= min while members are <= max.
    let z = zset(&[(1.0, "b"), (2.0, "a"), (3.0, "c")]);
    let lr =
        |a: &'static str, b: &'static str| LexRange::parse(a.as_bytes(), b.as_bytes()).unwrap();
    assert_eq!(
        z.count_by_lex(&lr("-", "[a")),
        0,
        "first member b is above the max"
    );
    assert_eq!(z.count_by_lex(&lr("[b", "+")), 3);
    assert_eq!(z.count_by_lex(&lr("[c", "+")), 1);
    assert_eq!(
        names(z.range_by_lex(&lr("(a", "[b"), false, 0, -1)),
        ["b", "a"]
    );
    assert_eq!(
        z.count_by_lex(&lr("[d", "+")),
        0,
        "last member c is below the min"
    );
}

#[test]
fn remove_ranges_table() {
    let base: &[(f64, &str)] = &[(1.0, "a"), (2.0, "b"), (3.0, "c"), (4.0, "d"), (5.0, "e")];
    let mut z = zset(base);
    assert_eq!(z.remove_range_by_rank(0, 1).len(), 2);
    assert_eq!(names(z.range_by_rank(0, -1, false)), ["c", "d", "e"]);
    assert_eq!(z.remove_range_by_rank(-1, -1).len(), 1);
    assert_eq!(z.remove_range_by_rank(5, 10).len(), 0);
    z.check();
    let mut z = zset(base);
    assert_eq!(z.remove_range_by_score(&sr("(1", "3")).len(), 2);
    assert_eq!(names(z.range_by_rank(0, -1, false)), ["a", "d", "e"]);
    assert_eq!(z.remove_range_by_score(&sr("-inf", "+inf")).len(), 3);
    assert!(z.is_empty());
    z.check();
    let mut z = zset(&[(0.0, "a"), (0.0, "b"), (0.0, "c")]);
    let lr = LexRange::parse(b"(a", b"+").unwrap();
    assert_eq!(z.remove_range_by_lex(&lr).len(), 2);
    assert_eq!(names(z.range_by_rank(0, -1, false)), ["a"]);
    assert_eq!(z.remove(b"a"), Some(0.0));
    assert_eq!(z.remove(b"a"), None);
}

#[test]
fn pop_table() {
    let mut z = zset(&[(1.0, "a"), (2.0, "b"), (3.0, "c")]);
    let p = z.pop(false, 1);
    assert_eq!(p, vec![(Box::from(&b"a"[..]), 1.0)]);
    let p = z.pop(true, 5);
    assert_eq!(
        p,
        vec![(Box::from(&b"c"[..]), 3.0), (Box::from(&b"b"[..]), 2.0)]
    );
    assert!(z.pop(true, 1).is_empty());
    assert!(zset(&[(1.0, "a")]).pop(false, 0).is_empty());
    z.check();
}

#[test]
fn algebra_table() {
    let a = zset(&[(1.0, "one"), (2.0, "two")]);
    let b = zset(&[(1.0, "one"), (2.0, "two"), (3.0, "three")]);
    let mut s = Set::new();
    s.add(b"two");
    s.add(b"four");
    let ia = Some(ZInput::ZSet(&a));
    let ib = Some(ZInput::ZSet(&b));
    // Redis docs: ZUNIONSTORE out 2 zset1 zset2 WEIGHTS 2 3 -> one 5, three 9, two 10.
    let u = ZSet::union(&[ia, ib], &[2.0, 3.0], Aggregate::Sum);
    assert_eq!(
        with_scores(u.range_by_rank(0, -1, false)),
        [
            ("one".into(), 5.0),
            ("three".into(), 9.0),
            ("two".into(), 10.0)
        ]
    );
    // ZINTERSTORE out 2 zset1 zset2 WEIGHTS 2 3 -> one 5, two 10.
    let i = ZSet::inter(&[ia, ib], &[2.0, 3.0], Aggregate::Sum);
    assert_eq!(
        with_scores(i.range_by_rank(0, -1, false)),
        [("one".into(), 5.0), ("two".into(), 10.0)]
    );
    let i = ZSet::inter(&[ia, ib], &[1.0, 1.0], Aggregate::Max);
    assert_eq!(
        with_scores(i.range_by_rank(0, -1, false)),
        [("one".into(), 1.0), ("two".into(), 2.0)]
    );
    let u = ZSet::union(&[ib, Some(ZInput::Set(&s))], &[1.0, 1.0], Aggregate::Min);
    assert_eq!(u.score(b"four"), Some(1.0));
    assert_eq!(u.score(b"two"), Some(1.0));
    assert_eq!(u.score(b"three"), Some(3.0));
    let i = ZSet::inter(&[ib, Some(ZInput::Set(&s))], &[1.0, 1.0], Aggregate::Sum);
    assert_eq!(
        with_scores(i.range_by_rank(0, -1, false)),
        [("two".into(), 3.0)]
    );
    // Missing inputs: ignored by union, empty intersection.
    assert_eq!(
        ZSet::union(&[None, ia], &[1.0, 1.0], Aggregate::Sum).len(),
        2
    );
    assert!(ZSet::inter(&[ia, None], &[1.0, 1.0], Aggregate::Sum).is_empty());
    assert!(ZSet::inter(&[], &[], Aggregate::Sum).is_empty());
    // ZDIFF
    let d = ZSet::diff(&[ib, ia]);
    assert_eq!(
        with_scores(d.range_by_rank(0, -1, false)),
        [("three".into(), 3.0)]
    );
    assert!(ZSet::diff(&[None, ib]).is_empty());
    assert_eq!(ZSet::diff(&[ib, None]).len(), 3);
}

#[test]
fn infinities_in_aggregates() {
    let p = zset(&[(f64::INFINITY, "m")]);
    let n = zset(&[(f64::NEG_INFINITY, "m")]);
    let inputs = [Some(ZInput::ZSet(&p)), Some(ZInput::ZSet(&n))];
    // inf + -inf is 0, not NaN.
    assert_eq!(
        ZSet::union(&inputs, &[1.0, 1.0], Aggregate::Sum).score(b"m"),
        Some(0.0)
    );
    assert_eq!(
        ZSet::inter(&inputs, &[1.0, 1.0], Aggregate::Sum).score(b"m"),
        Some(0.0)
    );
    assert_eq!(
        ZSet::inter(&inputs, &[1.0, 1.0], Aggregate::Min).score(b"m"),
        Some(f64::NEG_INFINITY)
    );
    // A weight of -1 on a 0 score gives -0, stored as 0 (found by differential fuzzing).
    let zero = zset(&[(0.0, "z")]);
    let u = ZSet::union(&[Some(ZInput::ZSet(&zero))], &[-1.0], Aggregate::Sum);
    assert!(u.score(b"z").unwrap().is_sign_positive());
    // weight 0 times inf is NaN in IEEE, 0 in Redis.
    let u = ZSet::union(&inputs[..1], &[0.0], Aggregate::Sum);
    assert_eq!(u.score(b"m"), Some(0.0));
    let u = ZSet::union(&inputs[..1], &[-1.0], Aggregate::Sum);
    assert_eq!(u.score(b"m"), Some(f64::NEG_INFINITY));
}

#[test]
fn random_members_count_semantics() {
    let z = zset(&[(1.0, "a"), (2.0, "b"), (3.0, "c")]);
    let mut rng = Rng::new(11);
    assert!(z.random_members(&mut rng, 0).is_empty());
    let two = z.random_members(&mut rng, 2);
    assert_eq!(two.len(), 2);
    assert_ne!(two[0].0, two[1].0);
    for (m, s) in &two {
        assert_eq!(z.score(m), Some(*s));
    }
    assert_eq!(z.random_members(&mut rng, 9).len(), 3);
    assert_eq!(z.random_members(&mut rng, -9).len(), 9);
    assert!(ZSet::new().random_member(&mut rng).is_none());
    assert!(z.random_member(&mut rng).is_some());
}

#[test]
fn scan_and_encoding() {
    let mut z = ZSet::new();
    for i in 0..128 {
        z.add(
            f64::from(i),
            format!("m{i}").as_bytes(),
            &ZAddFlags::default(),
        )
        .unwrap();
    }
    assert_eq!(z.encoding(), "listpack");
    z.add(0.5, b"one more", &ZAddFlags::default()).unwrap();
    assert_eq!(z.encoding(), "skiplist");
    z.remove(b"one more");
    assert_eq!(z.encoding(), "skiplist", "sticky");
    let mut seen = BTreeSet::new();
    let mut cursor = 0;
    loop {
        cursor = z.scan(cursor, 10, |m, s| {
            assert_eq!(z.score(m), Some(s));
            seen.insert(m.to_vec());
        });
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 128);
    let mut long = ZSet::new();
    long.add(1.0, &[b'x'; 65], &ZAddFlags::default()).unwrap();
    assert_eq!(long.encoding(), "skiplist");
    assert!(z.memory_usage() > 128 * 24);
}

#[test]
fn many_updates_and_compaction_keep_invariants() {
    let mut z = ZSet::new();
    let mut rng = Rng::new(99);
    for i in 0..2000u32 {
        let s = (rng.below(500) as f64) - 250.0;
        z.add(s, format!("m{i}").as_bytes(), &ZAddFlags::default())
            .unwrap();
    }
    z.check();
    for i in 0..2000u32 {
        if i % 3 == 0 {
            z.incr_by(format!("m{i}").as_bytes(), 17.0).unwrap();
        }
    }
    z.check();
    for i in 0..1900u32 {
        z.remove(format!("m{i}").as_bytes());
    }
    z.check();
    assert_eq!(z.len(), 100);
    assert!(z.slot_count() < 2000, "compacted");
    let all = z.range_by_rank(0, -1, false);
    assert_eq!(all.len(), 100);
    for (pos, (m, _)) in all.iter().enumerate() {
        assert_eq!(z.rank(m).unwrap().0, pos);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Add(i8, u8),
    Incr(i8, u8),
    Rem(u8),
    RemRank(i8, i8),
    RemScore(i8, i8),
    Pop(bool, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (-5i8..5, 0u8..40).prop_map(|(s, m)| Op::Add(s, m)),
        1 => (-3i8..3, 0u8..40).prop_map(|(s, m)| Op::Incr(s, m)),
        3 => (0u8..40).prop_map(Op::Rem),
        1 => (-6i8..6, -6i8..6).prop_map(|(a, b)| Op::RemRank(a, b)),
        1 => (-6i8..6, -6i8..6).prop_map(|(a, b)| Op::RemScore(a, b)),
        1 => (any::<bool>(), 0u8..3).prop_map(|(max, n)| Op::Pop(max, n)),
    ]
}

/// The model: member -> score, ordered on demand by sorting.
fn model_order(m: &BTreeMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
    let mut v: Vec<(Vec<u8>, f64)> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn matches_sorted_model(ops in proptest::collection::vec(op(), 0..150), large in any::<bool>()) {
        let mut z = ZSet::new();
        if large {
            // A 65-byte member moves the set to the skip list for good: test both forms.
            z.add(0.0, &[b'x'; 65], &ZAddFlags::default()).unwrap();
            z.remove(&[b'x'; 65]);
            prop_assert_eq!(z.encoding(), "skiplist");
        }
        let mut m: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Add(s, k) => {
                    let out = z.add(f64::from(s), &[k], &ZAddFlags::default()).unwrap();
                    prop_assert_eq!(out.added(), m.insert(vec![k], f64::from(s)).is_none());
                }
                Op::Incr(s, k) => {
                    let e = m.entry(vec![k]).or_insert(0.0);
                    *e += f64::from(s);
                    prop_assert_eq!(z.incr_by(&[k], f64::from(s)).unwrap(), *e);
                }
                Op::Rem(k) => prop_assert_eq!(z.remove(&[k]), m.remove(&vec![k])),
                Op::RemRank(a, b) => {
                    let order = model_order(&m);
                    let r = normalize_range(a.into(), b.into(), order.len()).unwrap_or(0..0);
                    for (k, _) in &order[r.clone()] { m.remove(k); }
                    prop_assert_eq!(z.remove_range_by_rank(a.into(), b.into()).len(), r.len());
                }
                Op::RemScore(a, b) => {
                    let range = ScoreRange::inclusive(a.into(), b.into());
                    let before = m.len();
                    m.retain(|_, s| !range.contains(*s));
                    prop_assert_eq!(z.remove_range_by_score(&range).len(), before - m.len());
                }
                Op::Pop(max, n) => {
                    let mut order = model_order(&m);
                    if max { order.reverse(); }
                    order.truncate(n.into());
                    for (k, _) in &order { m.remove(k); }
                    let got: Vec<(Vec<u8>, f64)> =
                        z.pop(max, n.into()).into_iter().map(|(k, s)| (k.into_vec(), s)).collect();
                    prop_assert_eq!(got, order);
                }
            }
            prop_assert_eq!(z.len(), m.len());
        }
        z.check();
        let order = model_order(&m);
        let got: Vec<(Vec<u8>, f64)> = z.iter().map(|(k, s)| (k.to_vec(), s)).collect();
        prop_assert_eq!(&got, &order);
        for (pos, (k, s)) in order.iter().enumerate() {
            prop_assert_eq!(z.rank(k), Some((pos, *s)));
        }
        for (a, b) in [(-2.0, 2.0), (0.0, 0.0), (-10.0, 10.0), (3.0, -3.0)] {
            let range = ScoreRange { min: a, max: b, min_exclusive: a == 0.0, max_exclusive: false };
            let want: Vec<&Vec<u8>> = order.iter().filter(|(_, s)| range.contains(*s)).map(|(k, _)| k).collect();
            prop_assert_eq!(z.count_by_score(&range), want.len());
            let fwd: Vec<Vec<u8>> = z.range_by_score(&range, false, 1, 3).into_iter().map(|(k, _)| k.to_vec()).collect();
            let want_fwd: Vec<Vec<u8>> = want.iter().skip(1).take(3).map(|k| (*k).clone()).collect();
            prop_assert_eq!(fwd, want_fwd);
            let rev: Vec<Vec<u8>> = z.range_by_score(&range, true, 1, 3).into_iter().map(|(k, _)| k.to_vec()).collect();
            let want_rev: Vec<Vec<u8>> = want.iter().rev().skip(1).take(3).map(|k| (*k).clone()).collect();
            prop_assert_eq!(rev, want_rev);
        }
        for (a, b) in [(0i64, -1i64), (1, 3), (-3, -1)] {
            let r = normalize_range(a, b, order.len()).unwrap_or(0..0);
            let got: Vec<Vec<u8>> = z.range_by_rank(a, b, false).into_iter().map(|(k, _)| k.to_vec()).collect();
            let want: Vec<Vec<u8>> = order[r].iter().map(|(k, _)| k.clone()).collect();
            prop_assert_eq!(got, want);
            let got: Vec<Vec<u8>> = z.range_by_rank(a, b, true).into_iter().map(|(k, _)| k.to_vec()).collect();
            let rev: Vec<(Vec<u8>, f64)> = order.iter().rev().cloned().collect();
            let r = normalize_range(a, b, rev.len()).unwrap_or(0..0);
            let want: Vec<Vec<u8>> = rev[r].iter().map(|(k, _)| k.clone()).collect();
            prop_assert_eq!(got, want);
        }
    }
}
