//! Sorted sets through `ZSetStore`.

use kvcore::{
    Aggregate, Error, LexRange, ScanOptions, ScoreRange, SetStore, Store, ZAddFlags, ZOp, ZRange,
    ZRangeBy, ZSetStore,
};

use super::strs;
use crate::store;

#[test]
fn sorted_sets_through_the_store() {
    let (_kv, db, _) = store();
    let plain = ZAddFlags::default();
    assert_eq!(
        db.zadd("z", &[(1.0, "a"), (2.0, "b"), (3.0, "c")], &plain)
            .unwrap(),
        3
    );
    let nx_xx = ZAddFlags {
        nx: true,
        xx: true,
        ..ZAddFlags::default()
    };
    assert!(matches!(
        db.zadd("z", &[(1.0, "a")], &nx_xx),
        Err(Error::IncompatibleOptions(_))
    ));
    assert_eq!(
        db.zadd("z", &[(1.0, "x"), (f64::NAN, "y")], &plain),
        Err(Error::ScoreNan)
    );
    assert_eq!(db.zcard("z").unwrap(), 3, "nothing added by a failed ZADD");
    let ch = ZAddFlags {
        ch: true,
        ..ZAddFlags::default()
    };
    assert_eq!(
        db.zadd("z", &[(5.0, "a"), (2.0, "b"), (4.0, "d")], &ch)
            .unwrap(),
        2
    );
    let xx = ZAddFlags {
        xx: true,
        ..ZAddFlags::default()
    };
    assert_eq!(db.zadd("none", &[(1.0, "a")], &xx).unwrap(), 0);
    assert_eq!(db.exists(&["none"]).unwrap(), 0, "ZADD XX creates nothing");
    assert_eq!(db.zadd_incr("z", 1.0, "zz", &xx).unwrap(), None);
    assert_eq!(db.zincrby("z", 0.5, "b").unwrap(), 2.5);
    db.zadd("inf", &[(f64::INFINITY, "m")], &plain).unwrap();
    assert_eq!(
        db.zincrby("inf", f64::NEG_INFINITY, "m"),
        Err(Error::ScoreNan)
    );
    assert_eq!(db.zscore("z", "a").unwrap(), Some(5.0));
    assert_eq!(db.zmscore("z", &["a", "q"]).unwrap(), vec![Some(5.0), None]);
    assert_eq!(db.zrank("z", "a", false).unwrap(), Some((3, 5.0)));
    assert_eq!(db.zrank("z", "a", true).unwrap(), Some((0, 5.0)));
    assert_eq!(
        db.zcount("z", &ScoreRange::parse(b"(2.5", b"+inf").unwrap())
            .unwrap(),
        3
    );
    let all = ZRange::new(ZRangeBy::Rank(0, -1));
    let names = |v: Vec<(Vec<u8>, f64)>| strs(v.into_iter().map(|(m, _)| m).collect());
    assert_eq!(names(db.zrange("z", &all).unwrap()), ["b", "c", "d", "a"]);
    let by_score = ZRange::new(ZRangeBy::Score(ScoreRange::inclusive(3.0, 5.0)))
        .rev(true)
        .limit(1, 1);
    assert_eq!(names(db.zrange("z", &by_score).unwrap()), ["d"]);
    assert_eq!(db.zrangestore("copy", "z", &all.rev(true)).unwrap(), 4);
    assert_eq!(db.zscore("copy", "c").unwrap(), Some(3.0));
    assert_eq!(db.zrangestore("copy", "missing", &all).unwrap(), 0);
    assert_eq!(db.exists(&["copy"]).unwrap(), 0);
    db.zadd("lex", &[(0.0, "a"), (0.0, "b"), (0.0, "c")], &plain)
        .unwrap();
    let lex = LexRange::parse(b"[b", b"+").unwrap();
    assert_eq!(db.zlexcount("lex", &lex).unwrap(), 2);
    assert_eq!(db.zremrange("lex", &ZRangeBy::Lex(lex)).unwrap(), 2);
    assert_eq!(db.zremrange("lex", &ZRangeBy::Rank(0, -1)).unwrap(), 1);
    assert_eq!(db.exists(&["lex"]).unwrap(), 0);
    let popped = db.zpop("z", true, 2).unwrap();
    assert_eq!(popped, vec![(b"a".to_vec(), 5.0), (b"d".to_vec(), 4.0)]);
    let (k, got) = db.zmpop(&["missing", "z"], false, 1).unwrap().unwrap();
    assert_eq!((k, got), (b"z".to_vec(), vec![(b"b".to_vec(), 2.5)]));
    db.sadd("s", &["c", "e"]).unwrap();
    let u = db
        .zcombine(ZOp::Union, &["z", "s"], Some(&[2.0, 10.0]), Aggregate::Sum)
        .unwrap();
    assert_eq!(u, vec![(b"e".to_vec(), 10.0), (b"c".to_vec(), 16.0)]);
    let i = db
        .zcombine(ZOp::Inter, &["z", "s"], None, Aggregate::Max)
        .unwrap();
    assert_eq!(i, vec![(b"c".to_vec(), 3.0)]);
    assert_eq!(
        db.zcombinestore(ZOp::Diff, "d", &["s", "z"], None, Aggregate::Sum)
            .unwrap(),
        1
    );
    assert_eq!(db.zscore("d", "e").unwrap(), Some(1.0));
    assert_eq!(db.zintercard(&["z", "s"], 0).unwrap(), 1);
    assert_eq!(db.zrandmember_count("z", -3).unwrap().len(), 3);
    let (_, scanned) = db.zscan("z", 0, &ScanOptions::new()).unwrap();
    assert_eq!(scanned, vec![(b"c".to_vec(), 3.0)]);
}
