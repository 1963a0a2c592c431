//! Store-level tests of the container commands: typing, creation and deletion, atomic
//! multi-key forms and what they journal.

use crate::{
    Aggregate, End, Error, HashStore, KeyType, Kv, LexRange, ListStore, Options, ScanOptions,
    ScoreRange, SetOp, SetStore, Store, ZAddFlags, ZOp, ZRange, ZRangeBy, ZSetStore,
};

fn db() -> (Kv, crate::Db) {
    let kv = Kv::in_memory(Options::new().shards(4));
    let db = kv.db(0).unwrap();
    (kv, db)
}

fn journal(kv: &Kv) -> Vec<String> {
    std::mem::take(&mut *kv.inner.journal_log.lock())
}

fn strs(v: Vec<Vec<u8>>) -> Vec<String> {
    v.into_iter()
        .map(|b| String::from_utf8(b).unwrap())
        .collect()
}

fn sorted(v: Vec<Vec<u8>>) -> Vec<String> {
    let mut v = strs(v);
    v.sort();
    v
}

fn wrongtype<T: std::fmt::Debug>(what: &str, r: crate::Result<T>) {
    assert!(matches!(r, Err(Error::WrongType)), "{what}: {r:?}");
}

#[test]
fn every_container_command_on_a_string_is_wrongtype_and_changes_nothing() {
    let (_kv, db) = db();
    db.set("s", "v").unwrap();
    wrongtype("lpush", db.push("s", End::Left, &["x"]));
    wrongtype("lpushx", db.push_existing("s", End::Left, &["x"]));
    wrongtype("lpop", db.pop("s", End::Left));
    wrongtype("llen", db.llen("s"));
    wrongtype("lrange", db.lrange("s", 0, -1));
    wrongtype("lset", db.lset("s", 0, "x"));
    wrongtype("lmove", db.lmove("s", "d", End::Left, End::Left));
    wrongtype("hset", db.hset("s", &[("f", "v")]));
    wrongtype("hget", db.hget("s", "f"));
    wrongtype("hgetall", db.hgetall("s"));
    wrongtype("hincrby", db.hincrby("s", "f", 1));
    wrongtype("sadd", db.sadd("s", &["m"]));
    wrongtype("smembers", db.smembers("s"));
    wrongtype("sinter", db.sinter(&["s"]));
    wrongtype("spop", db.spop("s"));
    wrongtype("zadd", db.zadd("s", &[(1.0, "m")], &ZAddFlags::default()));
    wrongtype("zscore", db.zscore("s", "m"));
    wrongtype(
        "zrange",
        db.zrange("s", &ZRange::new(ZRangeBy::Rank(0, -1))),
    );
    wrongtype(
        "zunion",
        db.zcombine(ZOp::Union, &["s"], None, Aggregate::Sum),
    );
    assert_eq!(db.get("s").unwrap(), Some(b"v".to_vec()));
    // And string commands on containers.
    db.push("l", End::Left, &["x"]).unwrap();
    wrongtype("get", db.get("l"));
    wrongtype("sadd on list", db.sadd("l", &["x"]));
    wrongtype("lpush on set", {
        db.sadd("set", &["m"]).unwrap();
        db.push("set", End::Left, &["x"])
    });
}

#[test]
fn lists_are_created_and_deleted_as_in_redis() {
    let (kv, db) = db();
    assert_eq!(db.push_existing("l", End::Left, &["a"]).unwrap(), 0);
    assert_eq!(db.exists(&["l"]), 0, "LPUSHX creates nothing");
    assert_eq!(db.push("l", End::Left, &["a", "b", "c"]).unwrap(), 3);
    assert_eq!(strs(db.lrange("l", 0, -1).unwrap()), ["c", "b", "a"]);
    assert_eq!(db.push_existing("l", End::Right, &["z"]).unwrap(), 4);
    assert_eq!(db.key_type("l"), Some(KeyType::List));
    assert_eq!(db.llen("l").unwrap(), 4);
    assert_eq!(db.lindex("l", -1).unwrap(), Some(b"z".to_vec()));
    assert_eq!(db.lset("nope", 0, "x"), Err(Error::NoSuchKey));
    assert_eq!(db.lset("l", 9, "x"), Err(Error::IndexOutOfRange));
    db.lset("l", 0, "C").unwrap();
    assert_eq!(db.linsert("l", true, "zz", "q").unwrap(), -1);
    assert_eq!(db.linsert("nope", true, "a", "q").unwrap(), 0);
    assert_eq!(db.linsert("l", false, "a", "q").unwrap(), 5);
    assert_eq!(db.lrem("l", 0, "q").unwrap(), 1);
    assert_eq!(db.lpos("l", "z", 1, 1, 0).unwrap(), vec![3]);
    assert_eq!(db.pop_count("nope", End::Left, 2).unwrap(), None);
    assert_eq!(db.pop_count("l", End::Left, 0).unwrap(), Some(vec![]));
    assert_eq!(
        strs(db.pop_count("l", End::Left, 2).unwrap().unwrap()),
        ["C", "b"]
    );
    db.ltrim("l", 5, 10).unwrap();
    assert_eq!(db.exists(&["l"]), 0, "an emptied list is deleted");
    assert_eq!(db.pop("l", End::Left).unwrap(), None);
    let j = journal(&kv);
    assert!(j.iter().any(|e| e.starts_with("ListPush")), "{j:?}");
    assert!(
        j.iter().all(|e| !e.starts_with("put")),
        "no whole-value puts: {j:?}"
    );
    assert_eq!(j.last().map(String::as_str), Some("del 0 l"));
}

#[test]
fn lmove_checks_both_types_first_and_rotates_in_place() {
    let (_kv, db) = db();
    db.push("src", End::Right, &["a", "b", "c"]).unwrap();
    db.set("str", "v").unwrap();
    wrongtype("dst string", db.lmove("src", "str", End::Left, End::Left));
    assert_eq!(db.llen("src").unwrap(), 3, "nothing moved");
    assert_eq!(
        db.lmove("src", "src", End::Left, End::Right).unwrap(),
        Some(b"a".to_vec())
    );
    assert_eq!(strs(db.lrange("src", 0, -1).unwrap()), ["b", "c", "a"]);
    assert_eq!(
        db.lmove("src", "dst", End::Right, End::Left).unwrap(),
        Some(b"a".to_vec())
    );
    assert_eq!(
        db.lmove("missing", "dst", End::Right, End::Left).unwrap(),
        None
    );
    db.push("solo", End::Left, &["only"]).unwrap();
    assert_eq!(
        db.lmove("solo", "solo", End::Left, End::Left).unwrap(),
        Some(b"only".to_vec())
    );
    assert_eq!(strs(db.lrange("solo", 0, -1).unwrap()), ["only"]);
    let (k, v) = db
        .lmpop(&["missing", "dst", "src"], End::Left, 5)
        .unwrap()
        .unwrap();
    assert_eq!((k, strs(v)), (b"dst".to_vec(), vec!["a".to_string()]));
    assert_eq!(db.lmpop(&["nope"], End::Left, 1).unwrap(), None);
}

#[test]
fn hashes_through_the_store() {
    let (kv, db) = db();
    assert_eq!(
        db.hset("h", &[("a", "1"), ("b", "2"), ("a", "3")]).unwrap(),
        2
    );
    assert_eq!(db.hget("h", "a").unwrap(), Some(b"3".to_vec()));
    assert!(!db.hsetnx("h", "a", "x").unwrap());
    assert_eq!(
        db.hmget("h", &["a", "zz"]).unwrap(),
        vec![Some(b"3".to_vec()), None]
    );
    assert_eq!(db.hmget("nope", &["a"]).unwrap(), vec![None]);
    assert_eq!(db.hincrby("h", "b", 5).unwrap(), 7);
    assert_eq!(db.hincrby("h", "a", i64::MAX), Err(Error::Overflow));
    db.hset("h", &[("s", "abc")]).unwrap();
    assert_eq!(db.hincrby("h", "s", 1), Err(Error::HashValueNotInteger));
    assert_eq!(
        db.hincrbyfloat("h", "s", 1.0),
        Err(Error::HashValueNotFloat)
    );
    assert_eq!(db.hincrbyfloat("h", "f", 1.5).unwrap(), b"1.5".to_vec());
    assert_eq!(db.hlen("h").unwrap(), 4);
    assert_eq!(db.hstrlen("h", "s").unwrap(), 3);
    assert!(db.hexists("h", "s").unwrap());
    assert_eq!(sorted(db.hkeys("h").unwrap()), ["a", "b", "f", "s"]);
    assert_eq!(db.hgetall("h").unwrap().len(), 4);
    assert_eq!(db.hrandfield_count("h", -10).unwrap().len(), 10);
    assert!(db.hrandfield("h").unwrap().is_some());
    let (cursor, pairs) = db
        .hscan("h", 0, &ScanOptions::new().pattern("[ab]").count(100))
        .unwrap();
    assert_eq!(cursor, 0);
    assert_eq!(pairs.len(), 2);
    assert_eq!(db.hdel("h", &["a", "b", "f", "zz"]).unwrap(), 3);
    journal(&kv);
    assert_eq!(db.hdel("h", &["s"]).unwrap(), 1);
    assert_eq!(db.exists(&["h"]), 0);
    let j = journal(&kv);
    assert_eq!(j.len(), 2, "{j:?}");
    assert!(j[0].starts_with("HashDel"));
    assert_eq!(j[1], "del 0 h");
    assert_eq!(db.hlen("h").unwrap(), 0);
}

#[test]
fn sets_through_the_store() {
    let (_kv, db) = db();
    assert_eq!(db.sadd("a", &["1", "2", "3", "2"]).unwrap(), 3);
    db.sadd("b", &["2", "3", "4"]).unwrap();
    assert_eq!(db.srem("a", &["9"]).unwrap(), 0);
    assert!(db.sismember("a", "1").unwrap());
    assert_eq!(db.smismember("a", &["1", "9"]).unwrap(), vec![true, false]);
    assert_eq!(sorted(db.sinter(&["a", "b"]).unwrap()), ["2", "3"]);
    assert_eq!(db.sinter(&["a", "missing"]).unwrap().len(), 0);
    assert_eq!(db.sintercard(&["a", "b"], 1).unwrap(), 1);
    assert_eq!(
        sorted(db.sunion(&["a", "b", "missing"]).unwrap()),
        ["1", "2", "3", "4"]
    );
    assert_eq!(sorted(db.sdiff(&["a", "b"]).unwrap()), ["1"]);
    assert_eq!(db.sstore(SetOp::Inter, "dst", &["a", "b"]).unwrap(), 2);
    assert_eq!(db.scard("dst").unwrap(), 2);
    assert_eq!(
        db.sstore(SetOp::Inter, "dst", &["a", "missing"]).unwrap(),
        0
    );
    assert_eq!(
        db.exists(&["dst"]),
        0,
        "an empty result deletes the destination"
    );
    assert_eq!(
        db.sstore(SetOp::Union, "a", &["a", "b"]).unwrap(),
        4,
        "dst may be a source"
    );
    assert!(db.smove("a", "c", "4").unwrap());
    assert!(!db.smove("a", "c", "4").unwrap());
    assert!(db.smove("c", "c", "4").unwrap());
    db.set("str", "v").unwrap();
    wrongtype("smove to string", db.smove("a", "str", "1"));
    assert!(db.sismember("a", "1").unwrap(), "nothing moved");
    assert_eq!(db.spop_count("a", 10).unwrap().len(), 3);
    assert_eq!(db.exists(&["a"]), 0);
    assert_eq!(db.srandmember_count("b", -5).unwrap().len(), 5);
    assert_eq!(db.srandmember_count("b", 5).unwrap().len(), 3);
    let (_, members) = db.sscan("b", 0, &ScanOptions::new().count(100)).unwrap();
    assert_eq!(members.len(), 3);
}

#[test]
fn sorted_sets_through_the_store() {
    let (kv, db) = db();
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
    assert_eq!(db.exists(&["none"]), 0, "ZADD XX creates nothing");
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
    assert_eq!(db.exists(&["copy"]), 0);
    db.zadd("lex", &[(0.0, "a"), (0.0, "b"), (0.0, "c")], &plain)
        .unwrap();
    let lex = LexRange::parse(b"[b", b"+").unwrap();
    assert_eq!(db.zlexcount("lex", &lex).unwrap(), 2);
    assert_eq!(db.zremrange("lex", &ZRangeBy::Lex(lex)).unwrap(), 2);
    assert_eq!(db.zremrange("lex", &ZRangeBy::Rank(0, -1)).unwrap(), 1);
    assert_eq!(db.exists(&["lex"]), 0);
    journal(&kv);
    let popped = db.zpop("z", true, 2).unwrap();
    assert_eq!(popped, vec![(b"a".to_vec(), 5.0), (b"d".to_vec(), 4.0)]);
    let j = journal(&kv);
    assert_eq!(j.len(), 1);
    assert!(j[0].starts_with("ZRem"), "{j:?}");
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

#[test]
fn key_commands_work_on_every_type() {
    let (_kv, db) = db();
    db.push("l", End::Left, &["a"]).unwrap();
    db.hset("h", &[("f", "v")]).unwrap();
    db.sadd("s", &["m"]).unwrap();
    db.zadd("z", &[(1.0, "m")], &ZAddFlags::default()).unwrap();
    for (k, t) in [
        ("l", KeyType::List),
        ("h", KeyType::Hash),
        ("s", KeyType::Set),
        ("z", KeyType::ZSet),
    ] {
        assert_eq!(db.key_type(k), Some(t));
        let (_, keys) = db.scan(0, &ScanOptions::new().count(100).key_type(t));
        assert_eq!(keys, vec![k.as_bytes().to_vec()], "SCAN TYPE {t:?}");
        assert!(db.memory_usage(k).unwrap() > 0);
        db.copy(k, format!("{k}2"), None, false).unwrap();
        assert_eq!(db.key_type(format!("{k}2")), Some(t));
        db.rename(k, format!("{k}3")).unwrap();
        assert!(
            db.expire(format!("{k}3"), 100, crate::ExpireCondition::None)
                .unwrap()
        );
    }
    assert_eq!(db.del(&["l2", "h2", "s2", "z2"]).unwrap(), 4);
    let enc = |k: &str| db.object_encoding(k);
    assert_eq!(enc("l3"), Some("listpack"));
    assert_eq!(enc("h3"), Some("listpack"));
    assert_eq!(enc("s3"), Some("listpack"));
    assert_eq!(enc("z3"), Some("listpack"));
    db.sadd("ints", &["1", "2"]).unwrap();
    assert_eq!(enc("ints"), Some("intset"));
    let many: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    db.sadd("big", &many).unwrap();
    assert_eq!(enc("big"), Some("hashtable"));
    let pairs: Vec<(f64, &String)> = many.iter().map(|m| (1.0, m)).collect();
    db.zadd("bigz", &pairs, &ZAddFlags::default()).unwrap();
    assert_eq!(enc("bigz"), Some("skiplist"));
    db.hset("bigh", &[("f", "x".repeat(65))]).unwrap();
    assert_eq!(enc("bigh"), Some("hashtable"));
    db.push("bigl", End::Right, &["x".repeat(9000)]).unwrap();
    assert_eq!(enc("bigl"), Some("quicklist"));
    assert_eq!(db.smembers("s3").unwrap(), vec![b"m".to_vec()]);
}

mod model {
    //! The store against a plain model: random commands of every type on a few keys, so
    //! WRONGTYPE, creation and deletion of emptied containers are exercised together.
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    #[derive(Debug, Clone, PartialEq)]
    enum M {
        Str(Vec<u8>),
        List(Vec<u8>),
        Hash(BTreeMap<u8, u8>),
        Set(BTreeSet<u8>),
        ZSet(BTreeMap<u8, i8>),
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8),
        Push(u8, bool, u8),
        Pop(u8, bool),
        Trim(u8, i8, i8),
        HSet(u8, u8, u8),
        HDel(u8, u8),
        SAdd(u8, u8),
        SRem(u8, u8),
        ZAdd(u8, i8, u8),
        ZRem(u8, u8),
        ZRemRank(u8, i8, i8),
        Del(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        let k = 0u8..3;
        prop_oneof![
            k.clone().prop_map(Op::Set),
            (k.clone(), any::<bool>(), 0u8..4).prop_map(|(k, l, v)| Op::Push(k, l, v)),
            (k.clone(), any::<bool>()).prop_map(|(k, l)| Op::Pop(k, l)),
            (k.clone(), -3i8..3, -3i8..3).prop_map(|(k, a, b)| Op::Trim(k, a, b)),
            (k.clone(), 0u8..4, 0u8..4).prop_map(|(k, f, v)| Op::HSet(k, f, v)),
            (k.clone(), 0u8..4).prop_map(|(k, f)| Op::HDel(k, f)),
            (k.clone(), 0u8..4).prop_map(|(k, m)| Op::SAdd(k, m)),
            (k.clone(), 0u8..4).prop_map(|(k, m)| Op::SRem(k, m)),
            (k.clone(), -2i8..2, 0u8..4).prop_map(|(k, s, m)| Op::ZAdd(k, s, m)),
            (k.clone(), 0u8..4).prop_map(|(k, m)| Op::ZRem(k, m)),
            (k.clone(), -2i8..2, -2i8..2).prop_map(|(k, a, b)| Op::ZRemRank(k, a, b)),
            k.prop_map(Op::Del),
        ]
    }

    fn key(k: u8) -> [u8; 1] {
        [b'a' + k]
    }

    /// Applies `op` to the model; Err(()) when Redis would answer WRONGTYPE.
    fn apply(m: &mut HashMap<u8, M>, op: &Op) -> Result<(), ()> {
        match *op {
            Op::Set(k) => {
                m.insert(k, M::Str(b"v".to_vec()));
            }
            Op::Del(k) => {
                m.remove(&k);
            }
            Op::Push(k, left, v) => match m.entry(k).or_insert(M::List(vec![])) {
                M::List(l) => {
                    if left {
                        l.insert(0, v)
                    } else {
                        l.push(v)
                    }
                }
                _ => return Err(()),
            },
            Op::Pop(k, left) => match m.get_mut(&k) {
                None => {}
                Some(M::List(l)) => {
                    if left {
                        l.remove(0)
                    } else {
                        l.pop().unwrap()
                    };
                }
                _ => return Err(()),
            },
            Op::Trim(k, a, b) => match m.get_mut(&k) {
                None => {}
                Some(M::List(l)) => {
                    let r = crate::types::normalize_range(a.into(), b.into(), l.len());
                    *l = r.map(|r| l[r].to_vec()).unwrap_or_default();
                }
                _ => return Err(()),
            },
            Op::HSet(k, f, v) => match m.entry(k).or_insert(M::Hash(BTreeMap::new())) {
                M::Hash(h) => {
                    h.insert(f, v);
                }
                _ => return Err(()),
            },
            Op::HDel(k, f) => match m.get_mut(&k) {
                None => {}
                Some(M::Hash(h)) => {
                    h.remove(&f);
                }
                _ => return Err(()),
            },
            Op::SAdd(k, v) => match m.entry(k).or_insert(M::Set(BTreeSet::new())) {
                M::Set(s) => {
                    s.insert(v);
                }
                _ => return Err(()),
            },
            Op::SRem(k, v) => match m.get_mut(&k) {
                None => {}
                Some(M::Set(s)) => {
                    s.remove(&v);
                }
                _ => return Err(()),
            },
            Op::ZAdd(k, s, v) => match m.entry(k).or_insert(M::ZSet(BTreeMap::new())) {
                M::ZSet(z) => {
                    z.insert(v, s);
                }
                _ => return Err(()),
            },
            Op::ZRem(k, v) => match m.get_mut(&k) {
                None => {}
                Some(M::ZSet(z)) => {
                    z.remove(&v);
                }
                _ => return Err(()),
            },
            Op::ZRemRank(k, a, b) => match m.get_mut(&k) {
                None => {}
                Some(M::ZSet(z)) => {
                    let mut order: Vec<(i8, u8)> = z.iter().map(|(m, s)| (*s, *m)).collect();
                    order.sort();
                    if let Some(r) = crate::types::normalize_range(a.into(), b.into(), order.len())
                    {
                        for (_, member) in &order[r] {
                            z.remove(member);
                        }
                    }
                }
                _ => return Err(()),
            },
        }
        // Redis deletes emptied containers.
        m.retain(|_, v| match v {
            M::Str(_) => true,
            M::List(l) => !l.is_empty(),
            M::Hash(h) => !h.is_empty(),
            M::Set(s) => !s.is_empty(),
            M::ZSet(z) => !z.is_empty(),
        });
        Ok(())
    }

    fn run(db: &crate::Db, op: &Op) -> crate::Result<()> {
        let plain = ZAddFlags::default();
        match *op {
            Op::Set(k) => db.set(key(k), "v"),
            Op::Del(k) => db.del(&[key(k)]).map(drop),
            Op::Push(k, left, v) => db
                .push(key(k), if left { End::Left } else { End::Right }, &[[v]])
                .map(drop),
            Op::Pop(k, left) => db
                .pop(key(k), if left { End::Left } else { End::Right })
                .map(drop),
            Op::Trim(k, a, b) => db.ltrim(key(k), a.into(), b.into()),
            Op::HSet(k, f, v) => db.hset(key(k), &[([f], [v])]).map(drop),
            Op::HDel(k, f) => db.hdel(key(k), &[[f]]).map(drop),
            Op::SAdd(k, v) => db.sadd(key(k), &[[v]]).map(drop),
            Op::SRem(k, v) => db.srem(key(k), &[[v]]).map(drop),
            Op::ZAdd(k, s, v) => db.zadd(key(k), &[(f64::from(s), [v])], &plain).map(drop),
            Op::ZRem(k, v) => db.zrem(key(k), &[[v]]).map(drop),
            Op::ZRemRank(k, a, b) => db
                .zremrange(key(k), &ZRangeBy::Rank(a.into(), b.into()))
                .map(drop),
        }
    }

    fn observe(db: &crate::Db, k: u8) -> Option<M> {
        let k = key(k);
        Some(match db.key_type(k)? {
            KeyType::String => M::Str(db.get(k).unwrap().unwrap()),
            KeyType::List => M::List(
                db.lrange(k, 0, -1)
                    .unwrap()
                    .into_iter()
                    .map(|v| v[0])
                    .collect(),
            ),
            KeyType::Hash => M::Hash(
                db.hgetall(k)
                    .unwrap()
                    .into_iter()
                    .map(|(f, v)| (f[0], v[0]))
                    .collect(),
            ),
            KeyType::Set => M::Set(db.smembers(k).unwrap().into_iter().map(|v| v[0]).collect()),
            KeyType::ZSet => M::ZSet(
                db.zrange(k, &ZRange::new(ZRangeBy::Rank(0, -1)))
                    .unwrap()
                    .into_iter()
                    .map(|(m, s)| (m[0], s as i8))
                    .collect(),
            ),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn store_matches_model(ops in proptest::collection::vec(op(), 0..60)) {
            let (_kv, db) = db();
            let mut m = HashMap::new();
            for op in &ops {
                let want = apply(&mut m, op);
                let got = run(&db, op);
                match want {
                    Ok(()) => prop_assert!(got.is_ok(), "{op:?}: {got:?}"),
                    Err(()) => prop_assert_eq!(got, Err(Error::WrongType), "{:?}", op),
                }
                for k in 0..3u8 {
                    prop_assert_eq!(observe(&db, k), m.get(&k).cloned(), "key {} after {:?}", k, op);
                }
            }
        }
    }
}
