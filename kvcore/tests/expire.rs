use std::time::Duration;

use kvcore::{Error, ExpireCondition as C, ExpireTime, SetExpiry, SetOptions, Store, Ttl};

use crate::{T0, at_ms, b, millis, secs, store};

#[test]
fn ttl_reports_missing_persistent_and_rounds() {
    let (_kv, db, clock) = store();
    assert_eq!(
        (
            db.ttl("k").unwrap(),
            db.pttl("k").unwrap(),
            db.expiretime("k").unwrap(),
            db.pexpiretime("k").unwrap()
        ),
        (
            Ttl::Missing,
            Ttl::Missing,
            ExpireTime::Missing,
            ExpireTime::Missing
        )
    );
    db.set("k", "v").unwrap();
    assert_eq!(
        (
            db.ttl("k").unwrap(),
            db.pttl("k").unwrap(),
            db.expiretime("k").unwrap(),
            db.pexpiretime("k").unwrap()
        ),
        (
            Ttl::Persistent,
            Ttl::Persistent,
            ExpireTime::Persistent,
            ExpireTime::Persistent
        )
    );
    // (pexpire ms, expected ttl): Redis rounds the remaining time to the nearest second, and
    // EXPIRETIME the deadline (T0 is a whole second).
    for (ms, ttl) in [(1500, 2), (1499, 1), (500, 1), (499, 0), (10_000, 10)] {
        assert!(db.pexpire("k", ms as i64, C::None).unwrap());
        assert_eq!(db.ttl("k").unwrap(), secs(ttl), "{ms} ms");
        assert_eq!(db.pttl("k").unwrap(), millis(ms));
        assert_eq!(db.pexpiretime("k").unwrap(), at_ms(T0 + ms));
        let at_secs = ExpireTime::ExpiresAt(Duration::from_secs(T0 / 1000 + ttl));
        assert_eq!(db.expiretime("k").unwrap(), at_secs, "{ms} ms");
    }
    // The furthest deadline EXPIRE accepts is reported whole, rounding included.
    assert!(db.pexpireat("far", i64::MAX, C::None).is_ok());
    db.set("far", "v").unwrap();
    assert!(db.pexpireat("far", i64::MAX, C::None).unwrap());
    assert_eq!(db.pexpiretime("far").unwrap(), at_ms(i64::MAX as u64));
    let far_secs = Duration::from_secs((i64::MAX as u64 + 500) / 1000);
    assert_eq!(
        db.expiretime("far").unwrap(),
        ExpireTime::ExpiresAt(far_secs)
    );
    clock.advance(9_999);
    assert_eq!(db.pttl("k").unwrap(), millis(1));
    assert_eq!(
        db.ttl("k").unwrap(),
        secs(0),
        "1 ms left rounds to 0 s, as in Redis"
    );
    clock.advance(1);
    assert_eq!(
        (db.ttl("k").unwrap(), db.get("k").unwrap()),
        (Ttl::Missing, None)
    );
}

#[test]
fn expire_variants_and_deletion() {
    let (_kv, db, _) = store();
    assert!(
        !db.expire("missing", 10, C::None).unwrap(),
        "EXPIRE on a missing key is 0"
    );
    db.set("k", "v").unwrap();
    assert!(db.expire("k", 10, C::None).unwrap());
    assert_eq!(db.pttl("k").unwrap(), millis(10_000));
    assert!(db.pexpire("k", 2500, C::None).unwrap());
    assert_eq!(db.pttl("k").unwrap(), millis(2500));
    assert!(db.expireat("k", (T0 / 1000 + 30) as i64, C::None).unwrap());
    assert_eq!(db.pttl("k").unwrap(), millis(30_000));
    assert!(db.pexpireat("k", (T0 + 42) as i64, C::None).unwrap());
    assert_eq!(db.pttl("k").unwrap(), millis(42));
    // Non-positive relative and past absolute times delete and report 1.
    let deleting: [&dyn Fn() -> kvcore::Result<bool>; 5] = [
        &|| db.expire("k", 0, C::None),
        &|| db.expire("k", -5, C::None),
        &|| db.pexpire("k", 0, C::None),
        &|| db.expireat("k", 1, C::None),
        &|| db.pexpireat("k", T0 as i64, C::None),
    ];
    for (i, f) in deleting.iter().enumerate() {
        db.set("k", "v").unwrap();
        assert!(f().unwrap(), "case {i}");
        assert_eq!(db.get("k").unwrap(), None, "case {i}");
    }
    // Overflow is an error and changes nothing.
    db.set("k", "v").unwrap();
    let overflowing = [
        db.expire("k", i64::MAX, C::None),
        db.expire("k", i64::MAX / 1000, C::None),
        db.pexpire("k", i64::MAX, C::None),
        db.expireat("k", i64::MAX, C::None),
        db.expire("k", i64::MIN, C::None),
    ];
    for r in overflowing {
        assert_eq!(r, Err(Error::InvalidExpireTime));
    }
    assert_eq!(
        (db.get("k").unwrap(), db.ttl("k").unwrap()),
        (b("v"), Ttl::Persistent)
    );
    assert_eq!(
        db.expire("missing", i64::MAX, C::None),
        Err(Error::InvalidExpireTime)
    );
}

#[test]
fn expire_conditions() {
    let (_kv, db, _) = store();
    // (current TTL in s or None, condition, new TTL, applied)
    let cases = [
        (None, C::Nx, 10, true),
        (Some(5), C::Nx, 10, false),
        (None, C::Xx, 10, false),
        (Some(5), C::Xx, 10, true),
        (Some(5), C::Gt, 10, true),
        (Some(5), C::Gt, 3, false),
        (Some(5), C::Gt, 5, false),
        (None, C::Gt, 10, false),
        (Some(5), C::Lt, 3, true),
        (Some(5), C::Lt, 10, false),
        (None, C::Lt, 10, true),
        (Some(5), C::XxLt, 3, true),
        (Some(5), C::XxLt, 10, false),
        (Some(5), C::XxLt, 5, false),
        (None, C::XxLt, 10, false),
        (Some(5), C::None, 100, true),
    ];
    for (i, (current, cond, new, applied)) in cases.into_iter().enumerate() {
        db.set("k", "v").unwrap();
        if let Some(t) = current {
            db.expire("k", t, C::None).unwrap();
        }
        assert_eq!(db.expire("k", new, cond).unwrap(), applied, "case {i}");
        let expected = match if applied { Some(new) } else { current } {
            Some(t) => secs(t as u64),
            None => Ttl::Persistent,
        };
        assert_eq!(db.ttl("k").unwrap(), expected, "case {i}");
    }
    // A condition that fails does not delete, even with a non-positive time.
    db.set("k", "v").unwrap();
    assert!(!db.expire("k", -1, C::Xx).unwrap());
    assert_eq!(db.get("k").unwrap(), b("v"));
    assert!(db.expire("k", -1, C::Lt).unwrap());
    assert_eq!(db.get("k").unwrap(), None);
}

#[test]
fn persist_removes_ttl() {
    let (_kv, db, _) = store();
    assert!(!db.persist("missing").unwrap());
    db.set("k", "v").unwrap();
    assert!(!db.persist("k").unwrap());
    db.expire("k", 10, C::None).unwrap();
    assert!(db.persist("k").unwrap());
    assert_eq!(db.ttl("k").unwrap(), Ttl::Persistent);
}

#[test]
fn expired_keys_are_never_returned() {
    let (kv, db, clock) = store();
    db.setex("k", 1, "v").unwrap();
    db.set("other", "v").unwrap();
    assert_eq!(db.expires(), 1);
    clock.advance(999);
    assert_eq!(db.get("k").unwrap(), b("v"));
    clock.advance(1);
    assert_eq!(db.get("k").unwrap(), None);
    assert_eq!(
        (kv.stats().expired_keys, db.expires()),
        (1, 0),
        "the read reclaimed it"
    );
    assert_eq!(db.exists(&["k", "other"]).unwrap(), 1);
    assert_eq!(db.mget(&["k", "other"]).unwrap(), vec![None, b("v")]);
    assert_eq!(db.key_type("k").unwrap(), None);
    assert_eq!(db.strlen("k").unwrap(), 0);
    assert!(!db.expire("k", 10, C::None).unwrap());
    // Writing over an expired key starts fresh: no TTL, new value, NX succeeds.
    db.setex("k2", 1, "1").unwrap();
    clock.advance(1000);
    assert_eq!(db.incr("k2").unwrap(), 1);
    assert_eq!(db.ttl("k2").unwrap(), Ttl::Persistent);
    db.setex("k3", 1, "v").unwrap();
    clock.advance(1000);
    assert!(db.setnx("k3", "w").unwrap());
    assert_eq!(db.rename("k", "z"), Err(Error::NoSuchKey));
}

#[test]
fn active_expiry_reclaims_without_reads() {
    let (kv, db, clock) = store();
    for i in 0..1000 {
        db.set(format!("p{i}"), "v").unwrap();
        db.setex(format!("v{i}"), 10, "v").unwrap();
    }
    assert_eq!(kv.active_expire_cycle(1000).expired, 0);
    assert_eq!((db.dbsize().unwrap(), db.expires()), (2000, 1000));
    clock.advance(10_000);
    assert_eq!(
        db.dbsize().unwrap(),
        2000,
        "nothing read the expired keys yet"
    );
    let mut total = 0;
    for _ in 0..50 {
        let stats = kv.active_expire_cycle(100);
        assert!(stats.expired <= stats.sampled);
        total += stats.expired;
        if db.dbsize().unwrap() == 1000 {
            break;
        }
    }
    assert_eq!(total, 1000);
    assert_eq!(
        db.dbsize().unwrap(),
        1000,
        "only the persistent keys remain"
    );
    assert_eq!(kv.stats().expired_keys, 1000);
    assert_eq!(db.expires(), 0);
    assert_eq!(
        kv.active_expire_cycle(100).sampled,
        0,
        "only volatile keys are sampled"
    );
}

#[test]
fn background_expiry_task_stops() {
    let (kv, db, clock) = store();
    db.setex("k", 1, "v").unwrap();
    clock.advance(1000);
    let task = kv.start_active_expiry(std::time::Duration::from_millis(1));
    // Bounded wait for the thread's first cycle, then stop it.
    for _ in 0..10_000 {
        if db.dbsize().unwrap() == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    task.stop();
    assert_eq!(db.dbsize().unwrap(), 0);
    let dropped = kv.start_active_expiry(std::time::Duration::from_secs(3600));
    drop(dropped); // returns promptly: drop wakes the thread
}

/// A replica's store (`Kv::set_passive_expiry`): expired keys read as absent but stay, are
/// never counted or journaled as expired, active expiry does nothing, and a write (the
/// primary's command) sees the key as it is; switched off, expiry resumes.
#[test]
fn passive_expiry_hides_expired_keys_but_removes_nothing() {
    let (kv, db, clock) = store();
    kv.set_passive_expiry(true);
    assert!(kv.passive_expiry());
    db.set("k", "5").unwrap();
    db.set("gone", "v").unwrap();
    db.set("other", "v").unwrap();
    for key in ["k", "gone", "other"] {
        assert!(db.pexpire(key, 100, C::None).unwrap());
    }
    clock.advance(100);
    assert_eq!(db.get("k").unwrap(), None);
    assert_eq!(db.ttl("k").unwrap(), Ttl::Missing);
    assert_eq!(db.exists(&["k", "gone"]).unwrap(), 0);
    // Inside a transaction too.
    let seen = db
        .transaction(kvcore::Scope::Everything, |t| t.kv().db(0)?.get("gone"))
        .unwrap();
    assert_eq!(seen, None);
    assert_eq!(kv.active_expire_cycle(1000).expired, 0);
    assert_eq!(db.dbsize().unwrap(), 3, "nothing was removed");
    assert_eq!(kv.stats().expired_keys, 0);
    // The primary's INCR finds the value it had (and its deadline); its DEL removes a key.
    assert_eq!(db.incr("k").unwrap(), 6);
    assert_eq!(db.del(&["gone"]).unwrap(), 1);
    assert_eq!(db.dbsize().unwrap(), 2);
    // Promoted: expired keys go as usual again.
    kv.set_passive_expiry(false);
    assert_eq!(db.get("other").unwrap(), None);
    assert_eq!(kv.stats().expired_keys, 1);
    assert_eq!(kv.active_expire_cycle(1000).expired, 1);
    assert_eq!(db.dbsize().unwrap(), 0);
}

/// On a replica (passive expiry) a deadline already past keeps the key with it, as Redis's
/// replicas do: the primary's next commands find what the primary had, and its DEL removes it.
#[test]
fn passive_expiry_keeps_keys_given_a_past_deadline() {
    let (kv, db, _clock) = store();
    kv.set_passive_expiry(true);
    let past = SetExpiry::PxAt(T0 as i64 - 1);
    db.set_with("s", "v", &SetOptions::new().expiry(past))
        .unwrap();
    db.set("e", "v").unwrap();
    assert!(db.pexpireat("e", T0 as i64 - 1, C::None).unwrap());
    assert_eq!(db.get("s").unwrap(), None, "reads as absent");
    assert_eq!(db.get("e").unwrap(), None, "reads as absent");
    assert_eq!(db.dbsize().unwrap(), 2, "both stay");
    assert!(db.persist("s").unwrap(), "the primary's PERSIST finds it");
    assert_eq!(db.get("s").unwrap(), b("v"));
    // A primary deletes at once.
    kv.set_passive_expiry(false);
    db.set_with("s", "v", &SetOptions::new().expiry(past))
        .unwrap();
    db.set("e", "v").unwrap();
    assert!(db.pexpireat("e", T0 as i64 - 1, C::None).unwrap());
    assert_eq!(db.dbsize().unwrap(), 0);
}
