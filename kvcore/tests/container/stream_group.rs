//! Consumer groups through `StreamStore`: creation and its errors, XREADGROUP's new and history
//! reads (NOACK, counts, deleted entries), XACK, XPENDING with idle times from the manual clock,
//! XCLAIM's options, XAUTOCLAIM's cursor and deleted list, consumers, lag and entries-read, and
//! the keyspace events Redis sends.

use kvcore::{
    Error, GroupStart, Kv, NotifyFlags, Options, ReadGroup, StreamError, StreamId, StreamStore,
    XAddId, XAddOptions, XClaimOptions,
};

use crate::{T0, store};

fn id(ms: u64) -> StreamId {
    StreamId::new(ms, 0)
}

fn add(db: &kvcore::Db, ms: u64) {
    db.xadd(
        "s",
        XAddId::Explicit(id(ms)),
        &[("f", "v")],
        &XAddOptions::new(),
    )
    .unwrap();
}

fn read_new(db: &kvcore::Db, c: &str, count: Option<usize>) -> Vec<StreamId> {
    db.xreadgroup("s", "g", c, ReadGroup::New, count, false)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

const NO_GROUP: Error = Error::Stream(StreamError::NoGroup);

#[test]
fn groups_are_created_destroyed_and_checked() {
    let (_kv, db, _) = store();
    let start = GroupStart::Id(StreamId::MIN);
    assert_eq!(
        db.xgroup_create("s", "g", start, None, false),
        Err(Error::NoSuchKey)
    );
    db.xgroup_create("s", "g", GroupStart::Last, None, true)
        .unwrap();
    assert_eq!(db.xlen("s"), Ok(0));
    assert_eq!(
        db.xgroup_create("s", "g", start, None, true),
        Err(Error::Stream(StreamError::GroupExists))
    );
    assert_eq!(db.xgroup_setid("s", "nope", start, None), Err(NO_GROUP));
    assert_eq!(db.xgroup_createconsumer("s", "g", "c"), Ok(true));
    assert_eq!(db.xgroup_createconsumer("s", "g", "c"), Ok(false));
    assert_eq!(db.xgroup_delconsumer("s", "g", "zz"), Ok(0));
    assert_eq!(db.xgroup_destroy("s", "g"), Ok(true));
    assert_eq!(db.xgroup_destroy("s", "g"), Ok(false));
    assert_eq!(db.xgroup_destroy("missing", "g"), Err(Error::NoSuchKey));
    assert_eq!(
        db.xreadgroup("s", "g", "c", ReadGroup::New, None, false),
        Err(NO_GROUP)
    );
    db.set_string_for_test();
}

trait SetForTest {
    fn set_string_for_test(&self);
}

impl SetForTest for kvcore::Db {
    /// A key of another type answers WRONGTYPE before any group lookup.
    fn set_string_for_test(&self) {
        use kvcore::Store;
        self.set("str", "v").unwrap();
        assert_eq!(
            self.xgroup_create("str", "g", GroupStart::Last, None, true),
            Err(Error::WrongType)
        );
        assert_eq!(self.xack("str", "g", &[id(1)]), Err(Error::WrongType));
        assert_eq!(self.xpending("str", "g").map(drop), Err(Error::WrongType));
    }
}

#[test]
fn reading_new_entries_makes_them_pending_and_acks_clear_them() {
    let (_kv, db, clock) = store();
    for ms in 1..=5 {
        add(&db, ms);
    }
    db.xgroup_create("s", "g", GroupStart::Id(StreamId::MIN), None, false)
        .unwrap();
    assert_eq!(read_new(&db, "alice", Some(2)), [id(1), id(2)]);
    clock.advance(10);
    assert_eq!(read_new(&db, "bob", Some(2)), [id(3), id(4)]);
    // NOACK moves the group on without pending entries.
    let got = db
        .xreadgroup("s", "g", "carol", ReadGroup::New, None, true)
        .unwrap();
    assert_eq!(got.len(), 1);
    // Nothing new: None, and no consumer is created.
    assert_eq!(
        db.xreadgroup_with("s", "g", "dave", ReadGroup::New, None, false, |_| {}),
        Ok(None)
    );
    let names: Vec<Vec<u8>> = db
        .xinfo_consumers("s", "g")
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, [&b"alice"[..], b"bob", b"carol"]);

    let summary = db.xpending("s", "g").unwrap();
    assert_eq!(summary.count, 4);
    assert_eq!(summary.range, Some((id(1), id(4))));
    assert_eq!(
        summary.consumers,
        [(b"alice".to_vec(), 2), (b"bob".to_vec(), 2)]
    );
    clock.advance(5);
    let all = db
        .xpending_range("s", "g", StreamId::MIN, StreamId::MAX, 10, None, 0)
        .unwrap();
    let idle: Vec<(StreamId, u64, u64)> =
        all.iter().map(|p| (p.id, p.idle, p.deliveries)).collect();
    assert_eq!(
        idle,
        [(id(1), 15, 1), (id(2), 15, 1), (id(3), 5, 1), (id(4), 5, 1)]
    );
    let idle_ones = db
        .xpending_range("s", "g", StreamId::MIN, StreamId::MAX, 10, None, 10)
        .unwrap();
    assert_eq!(idle_ones.len(), 2);
    let bobs = db
        .xpending_range("s", "g", id(4), StreamId::MAX, 10, Some(b"bob"), 0)
        .unwrap();
    assert_eq!(bobs.len(), 1);

    assert_eq!(db.xack("s", "g", &[id(1), id(1), id(9)]), Ok(1));
    assert_eq!(db.xack("s", "nope", &[id(2)]), Ok(0));
    assert_eq!(db.xack("missing", "g", &[id(2)]), Ok(0));
    assert_eq!(db.xpending("s", "g").unwrap().count, 3);

    // History: alice's own pending entries, delivered again; a deleted one comes back empty.
    db.xdel("s", &[id(2)]).unwrap();
    let history = db
        .xreadgroup(
            "s",
            "g",
            "alice",
            ReadGroup::History(StreamId::MIN),
            None,
            false,
        )
        .unwrap();
    assert_eq!(history, [(id(2), None)]);
    let bob = db
        .xreadgroup("s", "g", "bob", ReadGroup::History(id(3)), None, false)
        .unwrap();
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].0, id(4));
    let four = db
        .xpending_range("s", "g", id(4), id(4), 1, None, 0)
        .unwrap();
    assert_eq!((four[0].idle, four[0].deliveries), (0, 2));
}

#[test]
fn claims_move_entries_and_drop_deleted_ones() {
    let (_kv, db, clock) = store();
    for ms in 1..=6 {
        add(&db, ms);
    }
    db.xgroup_create("s", "g", GroupStart::Id(StreamId::MIN), None, false)
        .unwrap();
    assert_eq!(read_new(&db, "a", Some(4)).len(), 4);
    clock.advance(100);
    let plain = XClaimOptions::new();
    // Too recent for a 200 ms minimum.
    let none = db
        .xclaim_with("s", "g", "b", 200, &[id(1)], &plain, |_| {})
        .unwrap();
    assert!(none.is_empty());
    let mut seen = Vec::new();
    let got = db
        .xclaim_with("s", "g", "b", 50, &[id(1), id(5)], &plain, |e| {
            seen.push(e.id())
        })
        .unwrap();
    assert_eq!((got, seen), (vec![id(1)], vec![id(1)]));
    let p = db
        .xpending_range("s", "g", id(1), id(1), 1, None, 0)
        .unwrap();
    assert_eq!((p[0].consumer.as_slice(), p[0].deliveries), (&b"b"[..], 2));
    // FORCE claims an entry nobody read; RETRYCOUNT and TIME set the counters.
    let opts = XClaimOptions::new()
        .force()
        .retry_count(7)
        .time((T0 + 40) as i64)
        .last_id(id(9));
    let got = db
        .xclaim_with("s", "g", "c", 0, &[id(5)], &opts, |_| {})
        .unwrap();
    assert_eq!(got, [id(5)]);
    let p = db
        .xpending_range("s", "g", id(5), id(5), 1, None, 0)
        .unwrap();
    assert_eq!((p[0].delivered_at, p[0].deliveries), (T0 + 40, 7));
    let groups = db.xinfo_groups("s").unwrap().unwrap();
    assert_eq!(groups[0].last_delivered_id, id(9));
    // JUSTID leaves the count alone.
    let just = XClaimOptions::new().just_id();
    db.xclaim_with("s", "g", "c", 0, &[id(1)], &just, |_| {})
        .unwrap();
    let p = db
        .xpending_range("s", "g", id(1), id(1), 1, None, 0)
        .unwrap();
    assert_eq!(p[0].deliveries, 2);
    // A pending entry deleted from the stream leaves the PEL when claimed.
    db.xdel("s", &[id(2)]).unwrap();
    let got = db
        .xclaim_with("s", "g", "c", 0, &[id(2)], &plain, |_| {})
        .unwrap();
    assert!(got.is_empty());
    assert_eq!(db.xpending("s", "g").unwrap().count, 4);

    // XAUTOCLAIM: a cursor, and the deleted IDs it removed.
    db.xdel("s", &[id(3)]).unwrap();
    let first = db
        .xautoclaim_with("s", "g", "d", 0, StreamId::MIN, 2, false, |_| {})
        .unwrap();
    assert_eq!(first.claimed, [id(1)]);
    assert_eq!(first.deleted, [id(3)]);
    assert_eq!(first.next, id(4));
    let rest = db
        .xautoclaim_with("s", "g", "d", 0, first.next, 10, true, |_| {})
        .unwrap();
    assert_eq!(
        (rest.claimed, rest.next),
        (vec![id(4), id(5)], StreamId::MIN)
    );
    assert_eq!(db.xgroup_delconsumer("s", "g", "d"), Ok(3));
    assert_eq!(db.xpending("s", "g").unwrap().count, 0);
}

#[test]
fn lag_and_entries_read_follow_redis() {
    let (_kv, db, _) = store();
    for ms in 1..=4 {
        add(&db, ms);
    }
    db.xgroup_create("s", "g", GroupStart::Id(StreamId::MIN), None, false)
        .unwrap();
    let info = |db: &kvcore::Db| {
        let g = db.xinfo_groups("s").unwrap().unwrap().remove(0);
        (g.entries_read, g.lag)
    };
    // Before the first entry of an unfragmented stream: known.
    assert_eq!(info(&db), (None, Some(4)));
    read_new(&db, "c", Some(1));
    assert_eq!(info(&db), (Some(1), Some(3)));
    // A deletion ahead of the group makes the lag unknown.
    db.xdel("s", &[id(3)]).unwrap();
    assert_eq!(info(&db), (Some(1), None));
    read_new(&db, "c", None);
    assert_eq!(info(&db), (Some(4), Some(0)));
    db.xgroup_setid("s", "g", GroupStart::Id(StreamId::MIN), Some(10))
        .unwrap();
    assert_eq!(info(&db), (Some(10), None));
    let i = db.xinfo("s").unwrap().unwrap();
    assert_eq!((i.groups, i.radix_tree_keys, i.radix_tree_nodes), (1, 1, 2));
}

#[test]
fn group_commands_send_redis_keyspace_events() {
    let kv = Kv::in_memory(Options::new().shards(4));
    kv.set_notify_keyspace_events(NotifyFlags::parse("KEA").unwrap());
    let feed = kv.subscribe(["__keyspace@0__:s"]);
    let db = kv.db(0).unwrap();
    add(&db, 1);
    db.xgroup_create("s", "g", GroupStart::Last, None, false)
        .unwrap();
    db.xgroup_setid("s", "g", GroupStart::Id(StreamId::MIN), None)
        .unwrap();
    db.xgroup_createconsumer("s", "g", "a").unwrap();
    read_new(&db, "b", None);
    db.xack("s", "g", &[id(1)]).unwrap();
    db.xgroup_delconsumer("s", "g", "b").unwrap();
    db.xgroup_destroy("s", "g").unwrap();
    let events: Vec<String> = std::iter::from_fn(|| feed.try_recv().unwrap())
        .map(|m| String::from_utf8(m.payload().to_vec()).unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "xadd",
            "xgroup-create",
            "xgroup-setid",
            "xgroup-createconsumer",
            "xgroup-createconsumer",
            "xgroup-delconsumer",
            "xgroup-destroy"
        ]
    );
}
