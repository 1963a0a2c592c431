use kvcore::{Error, GetExOption, ListStore, LongDouble, SetExpiry, SetOptions, Store, Ttl};

use crate::{T0, b, millis, secs, store};

#[test]
fn set_get_binary_and_empty() {
    let (_kv, db, _) = store();
    let cases: &[(&[u8], &[u8])] = &[
        (b"k", b"v"),
        (b"", b"empty key"),
        (b"empty value", b""),
        (b"\x00\xff\r\n", b"\xff\x00 binary \r\n"),
        (b"long value", &[b'x'; 1000]),
        (&[b'k'; 300], b"long key"),
    ];
    for &(k, v) in cases {
        db.set(k, v).unwrap();
        assert_eq!(db.get(k).unwrap().as_deref(), Some(v), "{k:?}");
        assert_eq!(db.strlen(k).unwrap(), v.len());
    }
    assert_eq!(db.get("missing").unwrap(), None);
    assert_eq!(db.get_with("k", |v| v.map(<[u8]>::len)).unwrap(), Some(1));
    db.set("k", String::from("owned")).unwrap();
    let owned_key: Vec<u8> = b"k".into();
    assert_eq!(db.get(owned_key).unwrap(), b("owned"));
}

#[test]
fn set_conditions_and_get() {
    let (_kv, db, _) = store();
    let nx = SetOptions::new().nx();
    let xx = SetOptions::new().xx();
    // (options, key exists before, written, previous returned)
    let cases = [
        (nx, false, true, None),
        (nx, true, false, None),
        (xx, false, false, None),
        (xx, true, true, None),
        (SetOptions::new().get(), false, true, None),
        (SetOptions::new().get(), true, true, b("old")),
        (nx.get(), true, false, b("old")),
        (xx.get(), false, false, None),
    ];
    for (i, (opts, exists, written, previous)) in cases.into_iter().enumerate() {
        let key = format!("k{i}");
        if exists {
            db.set(&key, "old").unwrap();
        }
        let out = db.set_with(&key, "new", &opts).unwrap();
        assert_eq!((out.written, out.previous), (written, previous), "case {i}");
        let now = db.get(&key).unwrap();
        let expected = if written {
            b("new")
        } else if exists {
            b("old")
        } else {
            None
        };
        assert_eq!(now, expected, "case {i}");
    }
    assert!(db.setnx("fresh", "1").unwrap());
    assert!(!db.setnx("fresh", "2").unwrap());
    assert_eq!(db.get("fresh").unwrap(), b("1"));
    assert_eq!(db.getset("fresh", "3").unwrap(), b("1"));
    assert_eq!(db.getset("none", "3").unwrap(), None);
}

#[test]
fn set_expiry_options() {
    let (_kv, db, clock) = store();
    let cases = [
        (SetExpiry::Ex(10), Some(T0 + 10_000)),
        (SetExpiry::Px(1500), Some(T0 + 1500)),
        (
            SetExpiry::ExAt((T0 / 1000 + 20) as i64),
            Some((T0 / 1000 + 20) * 1000),
        ),
        (SetExpiry::PxAt((T0 + 7) as i64), Some(T0 + 7)),
        (SetExpiry::None, None),
    ];
    for (i, (e, at)) in cases.into_iter().enumerate() {
        let key = format!("k{i}");
        db.set_with(&key, "v", &SetOptions::new().expiry(e))
            .unwrap();
        assert_eq!(db.meta(&key).unwrap().unwrap().expire_at_ms, at, "case {i}");
    }
    // Plain SET drops a TTL, KEEPTTL keeps it.
    db.set_with("t", "v", &SetOptions::new().expiry(SetExpiry::Ex(5)))
        .unwrap();
    db.set_with("t", "w", &SetOptions::new().expiry(SetExpiry::KeepTtl))
        .unwrap();
    assert_eq!(db.pttl("t").unwrap(), millis(5000));
    db.set("t", "x").unwrap();
    assert_eq!(db.ttl("t").unwrap(), Ttl::Persistent);
    // SETEX / PSETEX.
    db.setex("se", 3, "v").unwrap();
    assert_eq!(db.ttl("se").unwrap(), secs(3));
    db.psetex("pse", 250, "v").unwrap();
    assert_eq!(db.pttl("pse").unwrap(), millis(250));
    clock.advance(250);
    assert_eq!(db.get("pse").unwrap(), None);
    // A PXAT in the past writes nothing that survives.
    db.set("past", "old").unwrap();
    let out = db.set_with(
        "past",
        "v",
        &SetOptions::new().expiry(SetExpiry::PxAt(1)).get(),
    );
    assert_eq!(out.unwrap().previous, b("old"));
    assert_eq!(db.get("past").unwrap(), None);
}

#[test]
fn invalid_expire_times() {
    let (_kv, db, _) = store();
    let bad = [
        SetExpiry::Ex(0),
        SetExpiry::Ex(-1),
        SetExpiry::Px(0),
        SetExpiry::Px(-5),
        SetExpiry::ExAt(0),
        SetExpiry::PxAt(-1),
        SetExpiry::Ex(i64::MAX),
        SetExpiry::Ex(i64::MAX / 1000),
        SetExpiry::Px(i64::MAX),
        SetExpiry::ExAt(i64::MAX / 100),
    ];
    db.set("k", "keep").unwrap();
    for e in bad {
        let r = db.set_with("k", "v", &SetOptions::new().expiry(e));
        assert_eq!(r, Err(Error::InvalidExpireTime), "{e:?}");
    }
    assert_eq!(db.setex("k", 0, "v"), Err(Error::InvalidExpireTime));
    assert_eq!(db.psetex("k", -1, "v"), Err(Error::InvalidExpireTime));
    assert_eq!(
        db.get("k").unwrap(),
        b("keep"),
        "a refused SET writes nothing"
    );
    for opt in [
        GetExOption::Ex(0),
        GetExOption::Px(-1),
        GetExOption::ExAt(i64::MAX),
    ] {
        assert_eq!(db.getex("k", opt), Err(Error::InvalidExpireTime), "{opt:?}");
        // Redis answers a missing key before it looks at the expiry.
        assert_eq!(db.getex("missing", opt), Ok(None), "{opt:?}");
    }
}

#[test]
fn getdel_getex() {
    let (_kv, db, clock) = store();
    db.set("k", "v").unwrap();
    assert_eq!(db.getdel("k").unwrap(), b("v"));
    assert_eq!(db.getdel("k").unwrap(), None);
    assert_eq!(db.exists(&["k"]).unwrap(), 0);

    db.set("k", "v").unwrap();
    let cases = [
        (GetExOption::Keep, Ttl::Persistent),
        (GetExOption::Ex(10), millis(10_000)),
        (GetExOption::Keep, millis(10_000)),
        (GetExOption::Px(500), millis(500)),
        (GetExOption::PxAt((T0 + 900) as i64), millis(900)),
        (
            GetExOption::ExAt((T0 / 1000 + 2) as i64),
            millis((T0 / 1000 + 2) * 1000 - T0),
        ),
        (GetExOption::Persist, Ttl::Persistent),
    ];
    for (opt, pttl) in cases {
        assert_eq!(db.getex("k", opt).unwrap(), b("v"), "{opt:?}");
        assert_eq!(db.pttl("k").unwrap(), pttl, "{opt:?}");
    }
    assert_eq!(db.getex("missing", GetExOption::Ex(5)).unwrap(), None);
    assert_eq!(db.exists(&["missing"]).unwrap(), 0);
    // A past absolute time deletes the key after returning it.
    assert_eq!(db.getex("k", GetExOption::PxAt(5)).unwrap(), b("v"));
    assert_eq!(db.get("k").unwrap(), None);
    db.set("k", "v").unwrap();
    db.getex("k", GetExOption::Px(100)).unwrap();
    clock.advance(100);
    assert_eq!(db.getex("k", GetExOption::Persist).unwrap(), None);
}

#[test]
fn mget_mset_msetnx() {
    let (_kv, db, _) = store();
    db.mset(&[("a", "1"), ("b", "2"), ("a", "3")]).unwrap();
    assert_eq!(
        db.mget(&["a", "b", "c", "a"]).unwrap(),
        vec![b("3"), b("2"), None, b("3")]
    );
    // MSET drops TTLs, like SET.
    db.setex("t", 10, "x").unwrap();
    db.mset(&[("t", "y")]).unwrap();
    assert_eq!(db.ttl("t").unwrap(), Ttl::Persistent);
    // MSETNX: all or nothing.
    assert!(!db.msetnx(&[("new1", "x"), ("a", "x")]).unwrap());
    assert_eq!(db.mget(&["new1", "a"]).unwrap(), vec![None, b("3")]);
    assert!(db.msetnx(&[("new1", "x"), ("new2", "y")]).unwrap());
    assert_eq!(db.mget(&["new1", "new2"]).unwrap(), vec![b("x"), b("y")]);
    let empty: &[(&str, &str)] = &[];
    db.mset(empty).unwrap();
    assert_eq!(db.mget::<&str>(&[]).unwrap(), Vec::<Option<Vec<u8>>>::new());
    // get_many: the same reads, but a non-string is an error rather than a nil.
    assert_eq!(
        db.get_many(&["a", "c", "a"]).unwrap(),
        vec![b("3"), None, b("3")]
    );
    db.push("l", kvcore::End::Right, &["x"]).unwrap();
    assert_eq!(db.get_many(&["a", "l"]), Err(Error::WrongType));
}

#[test]
fn append_strlen_getrange_setrange() {
    let (_kv, db, _) = store();
    assert_eq!(db.append("s", "Hello").unwrap(), 5);
    assert_eq!(db.append("s", " World").unwrap(), 11);
    assert_eq!(db.append("s", "").unwrap(), 11);
    assert_eq!(db.strlen("s").unwrap(), 11);
    assert_eq!(db.strlen("missing").unwrap(), 0);
    // Growing past the inline size and appending many times keeps every byte.
    for i in 0..100 {
        db.append("grow", [i as u8]).unwrap();
    }
    assert_eq!(
        db.get("grow").unwrap().unwrap(),
        (0..100).map(|i| i as u8).collect::<Vec<_>>()
    );

    let ranges: &[(i64, i64, &str)] = &[
        (0, 3, "Hell"),
        (-3, -1, "rld"),
        (0, -1, "Hello World"),
        (10, 100, "d"),
        (5, 3, ""),
        (-100, 2, "Hel"),
        (-100, -50, "H"),
        (-50, -100, ""),
        (-1, -5, ""),
        (11, 20, ""),
        (0, 0, "H"),
        (-1, -1, "d"),
        (i64::MIN, i64::MAX, "Hello World"),
    ];
    for &(start, end, expected) in ranges {
        assert_eq!(
            db.getrange("s", start, end).unwrap(),
            expected.as_bytes(),
            "{start}..{end}"
        );
    }
    assert_eq!(db.getrange("missing", 0, -1).unwrap(), b"");

    assert_eq!(db.setrange("s", 6, "Redis").unwrap(), 11);
    assert_eq!(db.get("s").unwrap(), b("Hello Redis"));
    assert_eq!(db.setrange("pad", 3, "x").unwrap(), 4);
    assert_eq!(db.get("pad").unwrap(), Some(b"\0\0\0x".to_vec()));
    assert_eq!(db.setrange("missing", 5, "").unwrap(), 0);
    assert_eq!(
        db.exists(&["missing"]).unwrap(),
        0,
        "an empty SETRANGE creates nothing"
    );
    assert_eq!(db.setrange("s", 100, "").unwrap(), 11);
    assert_eq!(
        db.setrange("s", 512 * 1024 * 1024, "x"),
        Err(Error::StringTooLong)
    );
    assert_eq!(db.setrange("s", u64::MAX, "x"), Err(Error::StringTooLong));
    assert_eq!(
        db.setrange("none", 512 * 1024 * 1024, "x"),
        Err(Error::StringTooLong)
    );
    assert_eq!(db.exists(&["none"]).unwrap(), 0);
    assert_eq!(db.get("s").unwrap(), b("Hello Redis"));
}

#[test]
fn incr_family() {
    let (_kv, db, _) = store();
    assert_eq!(db.incr("n").unwrap(), 1);
    assert_eq!(db.incrby("n", 10).unwrap(), 11);
    assert_eq!(db.decr("n").unwrap(), 10);
    assert_eq!(db.decrby("n", 20).unwrap(), -10);
    assert_eq!(db.get("n").unwrap(), b("-10"));
    // Not integers.
    for v in [
        "  1",
        "1 ",
        "1.0",
        "abc",
        "",
        "+1",
        "01",
        "-0",
        "9223372036854775808",
    ] {
        db.set("bad", v).unwrap();
        assert_eq!(db.incr("bad"), Err(Error::NotInteger), "{v:?}");
        assert_eq!(
            db.get("bad").unwrap(),
            b(v),
            "a failed INCR changes nothing"
        );
    }
    // Overflow.
    db.set("max", i64::MAX.to_string()).unwrap();
    assert_eq!(db.incr("max"), Err(Error::Overflow));
    db.set("min", i64::MIN.to_string()).unwrap();
    assert_eq!(db.decr("min"), Err(Error::Overflow));
    assert_eq!(db.decrby("zero", i64::MIN), Err(Error::Overflow));
    assert_eq!(db.incrby("min", i64::MAX).unwrap(), -1);
    // INCR keeps the TTL.
    db.setex("ttl", 100, "5").unwrap();
    assert_eq!(db.incr("ttl").unwrap(), 6);
    assert_eq!(db.ttl("ttl").unwrap(), secs(100));
}

#[test]
fn incrbyfloat_formats_like_redis() {
    // Expected texts recorded from redis-server 7.0.15 (SET, then INCRBYFLOAT with the text).
    let (_kv, db, _) = store();
    let ld = |s: &str| LongDouble::parse(s.as_bytes()).unwrap();
    let steps: &[(&str, &str, &str)] = &[
        ("10.50", "0.1", "10.6"),
        ("5.0e3", "2.0e2", "5200"),
        ("3", "1.5", "4.5"),
        ("-1", "1", "0"),
        ("1", "-0.25", "0.75"),
        ("1e20", "0", "100000000000000000000"),
        ("0.1", "0.2", "0.3"),
    ];
    for &(start, by, expected) in steps {
        db.set("f", start).unwrap();
        assert_eq!(
            db.incrbyfloat("f", ld(by)).unwrap(),
            expected.as_bytes(),
            "{start} + {by}"
        );
        assert_eq!(db.get("f").unwrap(), b(expected));
    }
    // An f64 increment is taken exactly: 0.1f64 is 0.1000000000000000055511151231257827...,
    // which Redis, sent those digits, also sums to this.
    db.set("f", "10.50").unwrap();
    assert_eq!(db.incrbyfloat("f", 0.1).unwrap(), b"10.60000000000000001");
    assert_eq!(db.incrbyfloat("new", 2.5).unwrap(), b"2.5");
    db.set("f", "abc").unwrap();
    assert_eq!(db.incrbyfloat("f", 1.0), Err(Error::NotFloat));
    db.set("f", " 1").unwrap();
    assert_eq!(db.incrbyfloat("f", 1.0), Err(Error::NotFloat));
    db.set("f", "1").unwrap();
    assert_eq!(
        db.incrbyfloat("f", f64::INFINITY),
        Err(Error::NanOrInfinity)
    );
    assert_eq!(db.incrbyfloat("f", f64::NAN), Err(Error::NanOrInfinity));
    // f64's overflow is no long double's: 1.7e308 + 1.7e308 is fine, near 1.19e4932 is not.
    db.set("f", "1.7e308").unwrap();
    let sum = db.incrbyfloat("f", ld("1.7e308")).unwrap();
    assert!(sum.starts_with(b"3400000000000000000062735560503951935905"));
    db.set("f", "1.18973149535723176502e+4932").unwrap();
    assert_eq!(db.incrbyfloat("f", ld("1e4931")), Err(Error::NanOrInfinity));
    assert_eq!(db.get("f").unwrap(), b("1.18973149535723176502e+4932"));
}
