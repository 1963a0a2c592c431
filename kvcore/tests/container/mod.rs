//! The container types through kvcore's public traits (`ListStore`, `HashStore`, `SetStore`,
//! `ZSetStore`): typing, creation and deletion, the multi-key forms, and the commands shared
//! with strings. One module per type; `replay.rs` restarts a persistent store. The data
//! structures themselves are unit-tested beside their code (`kvcore/src/types/`), what each
//! command journals in `kvcore/src/ops/container_tests.rs`, and random sequences of every type
//! against a model in `tests/model/`.

mod hash;
mod list;
mod replay;
mod set;
mod stream;
mod stream_group;
mod zset;

use kvcore::{
    Aggregate, End, Error, ExpireCondition, HashStore, KeyType, ListStore, ScanOptions, SetStore,
    Store, ZAddFlags, ZOp, ZRange, ZRangeBy, ZSetStore,
};

use crate::store;

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

fn wrongtype<T: std::fmt::Debug>(what: &str, r: kvcore::Result<T>) {
    assert!(matches!(r, Err(Error::WrongType)), "{what}: {r:?}");
}

#[test]
fn every_container_command_on_a_string_is_wrongtype_and_changes_nothing() {
    let (_kv, db, _) = store();
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
fn key_commands_work_on_every_type() {
    let (_kv, db, _) = store();
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
        assert_eq!(db.key_type(k).unwrap(), Some(t));
        let (_, keys) = db
            .scan(0, &ScanOptions::new().count(100).key_type(t))
            .unwrap();
        assert_eq!(keys, vec![k.as_bytes().to_vec()], "SCAN TYPE {t:?}");
        assert!(db.memory_usage(k).unwrap().unwrap() > 0);
        db.copy(k, format!("{k}2"), None, false).unwrap();
        assert_eq!(db.key_type(format!("{k}2")).unwrap(), Some(t));
        db.rename(k, format!("{k}3")).unwrap();
        assert!(
            db.expire(format!("{k}3"), 100, ExpireCondition::None)
                .unwrap()
        );
    }
    assert_eq!(db.del(&["l2", "h2", "s2", "z2"]).unwrap(), 4);
    let enc = |k: &str| db.object_encoding(k).unwrap();
    assert_eq!(enc("l3"), Some("quicklist"));
    assert_eq!(enc("h3"), Some("listpack"));
    assert_eq!(enc("s3"), Some("hashtable"));
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
