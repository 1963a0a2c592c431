//! Keyspace notifications through the public API: a change feed on the store's own bus, what a
//! subscriber sees from writers on other threads, and expiry events.

use std::time::Duration;

use kvcore::{Kv, ListStore, NotifyFlags, Options, Store};

use crate::store;

/// Generous: CI shares two cores between many test binaries.
const PATIENCE: Duration = Duration::from_secs(30);

fn flags(letters: &str) -> NotifyFlags {
    NotifyFlags::parse(letters).unwrap()
}

#[test]
fn a_subscription_on_the_bus_is_a_change_feed() {
    let kv = Kv::in_memory(Options::new().shards(4));
    kv.set_notify_keyspace_events(flags("KEA"));
    let feed = kv.psubscribe(["__keyevent@0__:*"]);
    let watch = kv.subscribe(["__keyspace@0__:q"]);
    let db = kv.db(0).unwrap();
    db.set("a", "1").unwrap();
    db.push("q", kvcore::End::Right, &["job"]).unwrap();
    db.pop("q", kvcore::End::Left).unwrap();
    db.del(&["a", "missing"]).unwrap();
    let got: Vec<(String, String)> = std::iter::from_fn(|| feed.try_recv().unwrap())
        .map(|m| {
            (
                String::from_utf8(m.channel().to_vec()).unwrap(),
                String::from_utf8(m.payload().to_vec()).unwrap(),
            )
        })
        .collect();
    let want = [
        ("__keyevent@0__:set", "a"),
        ("__keyevent@0__:rpush", "q"),
        ("__keyevent@0__:lpop", "q"),
        ("__keyevent@0__:del", "q"),
        ("__keyevent@0__:del", "a"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(c, p)| (c.to_string(), p.to_string()))
        .collect();
    assert_eq!(got, want);
    let events: Vec<Vec<u8>> = std::iter::from_fn(|| watch.try_recv().unwrap())
        .map(|m| m.payload().to_vec())
        .collect();
    assert_eq!(events, [&b"rpush"[..], b"lpop", b"del"]);
    // Turned off, the feed goes quiet.
    kv.set_notify_keyspace_events(NotifyFlags::default());
    db.set("b", "2").unwrap();
    assert!(feed.try_recv().unwrap().is_none());
}

#[test]
fn writers_on_other_threads_reach_a_blocked_subscriber_in_per_key_order() {
    let kv = Kv::in_memory(Options::new().shards(4));
    kv.set_notify_keyspace_events(flags("K$"));
    let feed = kv.psubscribe(["__keyspace@0__:counter*"]);
    const WRITERS: usize = 4;
    const EACH: usize = 200;
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let db = kv.db(0).unwrap();
            s.spawn(move || {
                let key = format!("counter{w}");
                for _ in 0..EACH / 2 {
                    db.set(&key, "1").unwrap();
                    db.append(&key, "2").unwrap();
                }
            });
        }
        // Each key's events alternate as its writes did, however the writers interleave.
        let mut seen = [0usize; WRITERS];
        for _ in 0..WRITERS * EACH {
            let m = feed.recv_timeout(PATIENCE).unwrap().expect("an event");
            let w: usize = std::str::from_utf8(&m.channel()[b"__keyspace@0__:counter".len()..])
                .unwrap()
                .parse()
                .unwrap();
            let want: &[u8] = if seen[w] % 2 == 0 { b"set" } else { b"append" };
            assert_eq!(m.payload(), want, "event {} of counter{w}", seen[w]);
            seen[w] += 1;
        }
        assert_eq!(seen, [EACH; WRITERS]);
    });
    assert!(feed.try_recv().unwrap().is_none());
}

#[test]
fn expired_keys_are_reported_by_a_read_and_by_active_expiry() {
    let (kv, db, clock) = store();
    kv.set_notify_keyspace_events(flags("Ex"));
    let feed = kv.subscribe(["__keyevent@0__:expired"]);
    db.setex("read", 1, "v").unwrap();
    db.setex("swept", 1, "v").unwrap();
    clock.advance(1000);
    assert_eq!(db.get("read").unwrap(), None);
    let m = feed.try_recv().unwrap().expect("the read reclaimed it");
    assert_eq!(m.payload(), b"read");
    assert_eq!(kv.active_expire_cycle(100).expired, 1);
    let m = feed.try_recv().unwrap().expect("the cycle reclaimed it");
    assert_eq!(m.payload(), b"swept");
    assert!(feed.try_recv().unwrap().is_none());
}
