use kvcore::{Error, KeyType, ListStore, SetExpiry, SetOptions, Store, Ttl};

use crate::{T0, b, secs, store};

#[test]
fn del_and_exists_count() {
    let (_kv, db, _) = store();
    db.mset(&[("a", "1"), ("b", "2"), ("c", "3")]).unwrap();
    let cases: &[(&[&str], u64)] = &[(&["a"], 1), (&["a", "a", "b"], 3), (&["x"], 0), (&[], 0)];
    for &(keys, n) in cases {
        assert_eq!(db.exists(keys).unwrap(), n, "{keys:?}");
    }
    assert_eq!(
        db.del(&["a", "a", "x"]).unwrap(),
        1,
        "a key named twice is deleted once"
    );
    assert_eq!(db.del(&["b", "c"]).unwrap(), 2);
    assert_eq!(db.del(&["b"]).unwrap(), 0);
    assert_eq!(db.dbsize().unwrap(), 0);
}

#[test]
fn keys_patterns() {
    let (_kv, db, clock) = store();
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "user:1", "user:2", "a{b}", "a/b",
    ] {
        db.set(k, "v").unwrap();
    }
    db.set_with("gone", "v", &SetOptions::new().expiry(SetExpiry::Px(5)))
        .unwrap();
    clock.advance(5);
    let cases: &[(&str, &[&str])] = &[
        ("h?llo", &["hallo", "hello", "hxllo"]),
        ("h*llo", &["hallo", "heeeello", "hello", "hllo", "hxllo"]),
        ("h[ae]llo", &["hallo", "hello"]),
        ("h[^e]llo", &["hallo", "hxllo"]),
        ("h[a-b]llo", &["hallo"]),
        ("user:*", &["user:1", "user:2"]),
        ("a{b}", &["a{b}"]),
        ("a/*", &["a/b"]),
        ("nomatch*", &[]),
        ("gone", &[]),
    ];
    for &(pattern, expected) in cases {
        let mut got = db.keys(pattern).unwrap();
        got.sort();
        let expected: Vec<Vec<u8>> = expected.iter().map(|k| k.as_bytes().to_vec()).collect();
        assert_eq!(got, expected, "{pattern}");
    }
    assert_eq!(
        db.keys("*").unwrap().len(),
        9,
        "expired keys are not listed"
    );
}

#[test]
fn key_type_and_meta() {
    let (_kv, db, clock) = store();
    assert_eq!(db.key_type("k").unwrap(), None);
    db.set("k", "v").unwrap();
    assert_eq!(db.key_type("k").unwrap(), Some(KeyType::String));
    assert_eq!(KeyType::String.as_str(), "string");
    assert_eq!(KeyType::parse(b"ZSET"), Some(KeyType::ZSet));
    assert_eq!(KeyType::parse(b"nope"), None);
    clock.advance(2_500);
    db.set("k", "w").unwrap();
    let meta = db.meta("k").unwrap().unwrap();
    // The last write is kept to the second (what OBJECT IDLETIME reports).
    assert_eq!(
        (meta.updated_ms, meta.expire_at_ms),
        ((T0 + 2_500) / 1000 * 1000, None)
    );
    assert_eq!(meta.key_type, KeyType::String);
    assert!(db.memory_usage("k").unwrap().unwrap() > 0);
    assert_eq!(db.memory_usage("missing").unwrap(), None);
    assert_eq!(db.meta("missing").unwrap(), None);
    let encodings = [
        ("12345", "int"),
        ("-1", "int"),
        ("01", "embstr"),
        ("x", "embstr"),
    ];
    for (v, enc) in encodings {
        db.set("e", v).unwrap();
        assert_eq!(db.object_encoding("e").unwrap(), Some(enc), "{v}");
    }
    db.set("e", [b'x'; 44]).unwrap();
    assert_eq!(db.object_encoding("e").unwrap(), Some("embstr"));
    db.set("e", [b'x'; 45]).unwrap();
    assert_eq!(db.object_encoding("e").unwrap(), Some("raw"));
    assert_eq!(db.object_encoding("missing").unwrap(), None);
}

/// Redis 7 answers `raw` for any string APPEND or SETRANGE changed in place, however short,
/// and `int`/`embstr` again once the value is replaced (found by tools/difffuzz_strings.py).
#[test]
fn r_encoding_of_strings_changed_in_place_is_raw() {
    let (_kv, db, _) = store();
    // On a missing key APPEND stores its argument as SET would; SETRANGE builds a raw string.
    db.append("a", "12").unwrap();
    assert_eq!(db.object_encoding("a").unwrap(), Some("int"));
    db.append("a", "3").unwrap();
    assert_eq!(db.object_encoding("a").unwrap(), Some("raw"));
    db.append("e", "").unwrap();
    assert_eq!(db.object_encoding("e").unwrap(), Some("embstr"));
    db.append("e", "").unwrap();
    assert_eq!(db.object_encoding("e").unwrap(), Some("raw"));
    db.setrange("s", 0, "7").unwrap();
    assert_eq!(db.object_encoding("s").unwrap(), Some("raw"));
    // An empty SETRANGE changes nothing, so the encoding stays.
    db.set("t", "7").unwrap();
    db.setrange("t", 3, "").unwrap();
    assert_eq!(db.object_encoding("t").unwrap(), Some("int"));
    db.copy("a", "c", None, false).unwrap();
    assert_eq!(
        db.object_encoding("c").unwrap(),
        Some("raw"),
        "COPY keeps the encoding"
    );
    db.incr("a").unwrap();
    assert_eq!(db.object_encoding("a").unwrap(), Some("int"));
    db.set("s", "x").unwrap();
    assert_eq!(db.object_encoding("s").unwrap(), Some("embstr"));
}

#[test]
fn rename_and_renamenx() {
    let (_kv, db, _) = store();
    assert_eq!(db.rename("missing", "x"), Err(Error::NoSuchKey));
    assert_eq!(db.renamenx("missing", "x"), Err(Error::NoSuchKey));
    assert_eq!(db.rename("missing", "missing"), Err(Error::NoSuchKey));
    db.setex("a", 100, "1").unwrap();
    db.rename("a", "b").unwrap();
    assert_eq!((db.get("a").unwrap(), db.get("b").unwrap()), (None, b("1")));
    assert_eq!(db.ttl("b").unwrap(), secs(100), "RENAME keeps the TTL");
    db.rename("b", "b").unwrap();
    assert_eq!(db.get("b").unwrap(), b("1"));
    assert!(!db.renamenx("b", "b").unwrap());
    db.set("c", "3").unwrap();
    assert!(!db.renamenx("b", "c").unwrap());
    assert_eq!(db.mget(&["b", "c"]).unwrap(), vec![b("1"), b("3")]);
    db.rename("b", "c").unwrap();
    assert_eq!(db.mget(&["b", "c"]).unwrap(), vec![None, b("1")]);
    assert_eq!(
        db.ttl("c").unwrap(),
        secs(100),
        "the destination takes the source's TTL"
    );
    assert!(db.renamenx("c", "d").unwrap());
    // The destination's old TTL goes away with its value.
    db.setex("e", 50, "old").unwrap();
    db.set("f", "new").unwrap();
    db.rename("f", "e").unwrap();
    assert_eq!(db.ttl("e").unwrap(), Ttl::Persistent);
}

#[test]
fn copy_within_and_across_databases() {
    let (kv, db, _) = store();
    let db1 = kv.db(1).unwrap();
    assert!(!db.copy("missing", "x", None, false).unwrap());
    db.setex("src", 60, "v").unwrap();
    assert_eq!(db.copy("src", "src", None, false), Err(Error::SameObject));
    assert_eq!(db.copy("src", "src", Some(0), true), Err(Error::SameObject));
    assert_eq!(
        db.copy("src", "x", Some(4), false),
        Err(Error::DbIndexOutOfRange)
    );
    assert!(db.copy("src", "dst", None, false).unwrap());
    assert_eq!(db.get("dst").unwrap(), b("v"));
    assert_eq!(db.ttl("dst").unwrap(), secs(60));
    db.set("dst", "changed").unwrap();
    assert_eq!(db.get("src").unwrap(), b("v"), "the copy is independent");
    assert!(!db.copy("src", "dst", None, false).unwrap());
    assert!(db.copy("src", "dst", None, true).unwrap());
    assert_eq!(db.get("dst").unwrap(), b("v"));
    assert!(db.copy("src", "src", Some(1), false).unwrap());
    assert_eq!(db1.get("src").unwrap(), b("v"));
    assert_eq!(db1.ttl("src").unwrap(), secs(60));
    assert!(db1.copy("src", "back", Some(0), false).unwrap());
    assert_eq!(db.get("back").unwrap(), b("v"));
}

#[test]
fn move_key_between_databases() {
    let (kv, db, _) = store();
    let db1 = kv.db(1).unwrap();
    assert!(!db.move_key("missing", 1).unwrap());
    db.setex("k", 60, "v").unwrap();
    assert_eq!(db.move_key("k", 0), Err(Error::SameObject));
    assert_eq!(db.move_key("k", 4), Err(Error::DbIndexOutOfRange));
    db1.set("taken", "there").unwrap();
    db.set("taken", "here").unwrap();
    assert!(
        !db.move_key("taken", 1).unwrap(),
        "an existing target refuses"
    );
    assert_eq!(
        (db.get("taken").unwrap(), db1.get("taken").unwrap()),
        (b("here"), b("there"))
    );
    assert!(db.move_key("k", 1).unwrap());
    assert_eq!(db.exists(&["k"]).unwrap(), 0);
    assert_eq!(
        (db1.get("k").unwrap(), db1.ttl("k").unwrap()),
        (b("v"), secs(60))
    );
    db1.push("l", kvcore::End::Left, &["a", "b"]).unwrap();
    assert!(db1.move_key("l", 0).unwrap());
    assert_eq!(db.key_type("l").unwrap(), Some(KeyType::List));
}

#[test]
fn databases_flush_and_swap() {
    let (kv, db0, _) = store();
    assert_eq!(kv.databases(), 4);
    assert!(matches!(kv.db(4), Err(Error::DbIndexOutOfRange)));
    let db1 = kv.db(1).unwrap();
    assert_eq!(db1.index(), 1);
    db0.set("k", "zero").unwrap();
    db1.set("k", "one").unwrap();
    db1.set("only1", "x").unwrap();
    assert_eq!((db0.dbsize().unwrap(), db1.dbsize().unwrap()), (1, 2));
    kv.swapdb(0, 1).unwrap();
    assert_eq!(db0.get("k").unwrap(), b("one"));
    assert_eq!(db1.get("k").unwrap(), b("zero"));
    assert_eq!((db0.dbsize().unwrap(), db1.dbsize().unwrap()), (2, 1));
    kv.swapdb(1, 1).unwrap();
    assert_eq!(kv.swapdb(0, 9), Err(Error::DbIndexOutOfRange));
    db0.flushdb().unwrap();
    assert_eq!((db0.dbsize().unwrap(), db1.dbsize().unwrap()), (0, 1));
    kv.db(2).unwrap().set("x", "y").unwrap();
    kv.flushall().unwrap();
    assert_eq!(
        (0..4)
            .map(|i| kv.db(i).unwrap().dbsize().unwrap())
            .sum::<u64>(),
        0
    );
    db0.set("after", "flush").unwrap();
    assert_eq!(db0.get("after").unwrap(), b("flush"));
}

#[test]
fn randomkey_returns_live_keys() {
    let (_kv, db, clock) = store();
    assert_eq!(db.randomkey().unwrap(), None);
    db.set("only", "v").unwrap();
    assert_eq!(db.randomkey().unwrap(), b("only"));
    for i in 0..50 {
        db.set(format!("k{i}"), "v").unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    for _ in 0..500 {
        seen.insert(db.randomkey().unwrap());
    }
    assert!(
        seen.len() > 10,
        "RANDOMKEY spreads over the keys, saw {}",
        seen.len()
    );
    db.flushdb().unwrap();
    db.setex("dying", 1, "v").unwrap();
    clock.advance(1000);
    assert_eq!(
        db.randomkey().unwrap(),
        None,
        "an expired key is never returned"
    );
}
