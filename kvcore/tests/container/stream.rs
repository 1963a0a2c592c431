//! Streams through `StreamStore`: the ID rules (`*`, `<ms>-*`, explicit, 0-0, exhaustion),
//! NOMKSTREAM, ranges with exclusive bounds and counts, XDEL, XTRIM and XADD's trimming,
//! XSETID's checks, the key commands, keyspace events and watches.

use std::ops::Bound::{Excluded, Included, Unbounded};

use kvcore::{
    Error, KeyType, Kv, NotifyFlags, Options, Store, StreamError, StreamId, StreamStore, XAddId,
    XAddOptions, XSetIdOptions, XTrim,
};

use crate::{T0, store};

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

fn ids(entries: Vec<kvcore::StreamEntry>) -> Vec<StreamId> {
    entries.into_iter().map(|e| e.id).collect()
}

const NONE: XAddOptions = XAddOptions::new();

fn add(db: &kvcore::Db, key: &str, spec: XAddId) -> kvcore::Result<Option<StreamId>> {
    db.xadd(key, spec, &[("f", "v")], &NONE)
}

#[test]
fn ids_follow_redis_rules() {
    let (_kv, db, clock) = store();
    let stream_err = |e| Err(Error::Stream(e));
    assert_eq!(add(&db, "s", XAddId::Auto), Ok(Some(id(T0, 0))));
    assert_eq!(add(&db, "s", XAddId::Auto), Ok(Some(id(T0, 1))));
    clock.advance(5);
    assert_eq!(add(&db, "s", XAddId::Auto), Ok(Some(id(T0 + 5, 0))));
    // A clock behind the last ID: the last ID's successor.
    assert_eq!(
        add(&db, "s", XAddId::Explicit(id(T0 + 100, 7))),
        Ok(Some(id(T0 + 100, 7)))
    );
    assert_eq!(add(&db, "s", XAddId::Auto), Ok(Some(id(T0 + 100, 8))));
    assert_eq!(
        add(&db, "s", XAddId::AutoSeq(T0 + 100)),
        Ok(Some(id(T0 + 100, 9)))
    );
    assert_eq!(
        add(&db, "s", XAddId::AutoSeq(T0 + 200)),
        Ok(Some(id(T0 + 200, 0)))
    );
    assert_eq!(
        add(&db, "s", XAddId::AutoSeq(T0 + 100)),
        stream_err(StreamError::IdTooSmall)
    );
    assert_eq!(
        add(&db, "s", XAddId::Explicit(id(T0 + 200, 0))),
        stream_err(StreamError::IdTooSmall)
    );
    assert_eq!(
        add(&db, "s", XAddId::Explicit(StreamId::MIN)),
        stream_err(StreamError::IdZero)
    );
    // 0-0 is refused before the type is looked at, as Redis does.
    db.set("str", "x").unwrap();
    assert_eq!(
        add(&db, "str", XAddId::Explicit(StreamId::MIN)),
        stream_err(StreamError::IdZero)
    );
    assert_eq!(add(&db, "str", XAddId::Auto), Err(Error::WrongType));
    // The last possible sequence, then the last possible ID.
    add(&db, "e", XAddId::Explicit(id(5, u64::MAX))).unwrap();
    assert_eq!(
        add(&db, "e", XAddId::AutoSeq(5)),
        stream_err(StreamError::SeqExhausted)
    );
    assert_eq!(add(&db, "e", XAddId::Auto), Ok(Some(id(T0 + 5, 0))));
    add(&db, "e", XAddId::Explicit(StreamId::MAX)).unwrap();
    assert_eq!(
        add(&db, "e", XAddId::Auto),
        stream_err(StreamError::Exhausted)
    );
    assert_eq!(db.xlen("e"), Ok(3));
    // A new stream starts after 0-0.
    assert_eq!(add(&db, "z", XAddId::AutoSeq(0)), Ok(Some(id(0, 1))));
    let none: &[(&str, &str)] = &[];
    assert_eq!(
        db.xadd("z", XAddId::Auto, none, &NONE),
        stream_err(StreamError::NoFields)
    );
}

#[test]
fn nomkstream_creates_nothing() {
    let (_kv, db, _) = store();
    let opts = XAddOptions::new().no_mkstream();
    assert_eq!(db.xadd("s", XAddId::Auto, &[("f", "v")], &opts), Ok(None));
    assert_eq!(db.exists(&["s"]).unwrap(), 0);
    add(&db, "s", XAddId::Auto).unwrap();
    assert!(
        db.xadd("s", XAddId::Auto, &[("f", "v")], &opts)
            .unwrap()
            .is_some()
    );
    assert_eq!(db.xlen("s"), Ok(2));
}

#[test]
fn ranges_take_exclusive_bounds_and_counts() {
    let (_kv, db, _) = store();
    for i in 1..=5 {
        let pairs = [("n", i.to_string())];
        db.xadd("s", XAddId::Explicit(id(i, 0)), &pairs, &NONE)
            .unwrap();
    }
    let all = db.xrange("s", .., None).unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[2].fields, vec![(b"n".to_vec(), b"3".to_vec())]);
    assert_eq!(
        ids(db
            .xrange("s", (Excluded(id(2, 0)), Excluded(id(5, 0))), None)
            .unwrap()),
        [id(3, 0), id(4, 0)]
    );
    assert_eq!(
        ids(db.xrange("s", id(2, 0)..=id(4, 0), Some(2)).unwrap()),
        [id(2, 0), id(3, 0)]
    );
    assert_eq!(
        ids(db.xrevrange("s", id(2, 0).., Some(2)).unwrap()),
        [id(5, 0), id(4, 0)]
    );
    assert_eq!(ids(db.xrevrange("s", .., Some(0)).unwrap()), []);
    // Exclusive bounds past the ends select nothing rather than wrapping.
    assert!(
        db.xrange("s", (Excluded(StreamId::MAX), Unbounded), None)
            .unwrap()
            .is_empty()
    );
    assert!(
        db.xrange("s", (Included(id(9, 0)), Included(id(1, 0))), None)
            .unwrap()
            .is_empty()
    );
    assert!(db.xrange("missing", .., None).unwrap().is_empty());
    db.set("str", "x").unwrap();
    assert_eq!(db.xrange("str", .., None), Err(Error::WrongType));
    assert_eq!(
        db.xrange("str", (Excluded(StreamId::MAX), Unbounded), None),
        Err(Error::WrongType)
    );
}

#[test]
fn deletes_trims_and_setid() {
    let (_kv, db, _) = store();
    for i in 1..=250 {
        add(&db, "s", XAddId::Explicit(id(i, 0))).unwrap();
    }
    assert_eq!(db.xdel("s", &[id(1, 0), id(1, 0), id(999, 0)]), Ok(1));
    assert_eq!(db.xdel("missing", &[id(1, 0)]), Ok(0));
    // `~` removes whole blocks of 100 (Redis's nodes) only.
    assert_eq!(db.xtrim("s", &XTrim::max_len(120).approx()), Ok(99));
    assert_eq!(db.xtrim("s", &XTrim::max_len(120)), Ok(30));
    assert_eq!(db.xtrim("s", &XTrim::min_id(id(200, 0)).approx()), Ok(0));
    assert_eq!(db.xtrim("s", &XTrim::min_id(id(200, 0))), Ok(69));
    assert_eq!(db.xtrim("missing", &XTrim::max_len(0)), Ok(0));
    let opts = XAddOptions::new().trim(XTrim::max_len(2));
    db.xadd("s", XAddId::Auto, &[("f", "v")], &opts).unwrap();
    assert_eq!(db.xlen("s"), Ok(2));
    let info = db.xinfo("s").unwrap().unwrap();
    assert_eq!(
        (info.first_id, info.last_entry_id),
        (id(250, 0), info.last_id)
    );
    assert_eq!(info.entries_added, 251);
    assert_eq!(info.max_deleted_id, id(1, 0));
    // XSETID's checks.
    let e = |e| Err(Error::Stream(e));
    assert_eq!(
        db.xsetid("s", id(5, 0), &XSetIdOptions::new()),
        e(StreamError::SetIdTooSmall)
    );
    assert_eq!(
        db.xsetid("s", info.last_id, &XSetIdOptions::new().entries_added(1)),
        e(StreamError::SetIdEntriesAdded)
    );
    let opts = XSetIdOptions::new().max_deleted_id(id(u64::MAX, 0));
    assert_eq!(
        db.xsetid("s", info.last_id, &opts),
        e(StreamError::SetIdMaxDeleted)
    );
    assert_eq!(
        db.xsetid("missing", id(1, 0), &XSetIdOptions::new()),
        Err(Error::NoSuchKey)
    );
    let opts = XSetIdOptions::new()
        .entries_added(1000)
        .max_deleted_id(id(7, 7));
    db.xsetid("s", id(u64::MAX - 1, 0), &opts).unwrap();
    let info = db.xinfo("s").unwrap().unwrap();
    assert_eq!(
        (info.last_id, info.entries_added, info.max_deleted_id),
        (id(u64::MAX - 1, 0), 1000, id(7, 7))
    );
    // An emptied stream stays, with its last ID.
    assert_eq!(db.xtrim("s", &XTrim::max_len(0)), Ok(2));
    assert_eq!(db.key_type("s").unwrap(), Some(KeyType::Stream));
    assert_eq!(
        add(&db, "s", XAddId::Explicit(id(9, 0))),
        Err(Error::Stream(StreamError::IdTooSmall))
    );
    // Any ID goes on an empty stream, as in Redis.
    db.xsetid("s", id(3, 0), &XSetIdOptions::new()).unwrap();
    assert_eq!(
        add(&db, "s", XAddId::Explicit(id(9, 0))),
        Ok(Some(id(9, 0)))
    );
}

#[test]
fn key_commands_see_a_stream() {
    let (_kv, db, _) = store();
    add(&db, "s", XAddId::Auto).unwrap();
    assert_eq!(db.key_type("s").unwrap(), Some(KeyType::Stream));
    assert_eq!(KeyType::Stream.as_str(), "stream");
    assert_eq!(KeyType::parse(b"STREAM"), Some(KeyType::Stream));
    assert_eq!(db.object_encoding("s").unwrap(), Some("stream"));
    assert!(db.rename("s", "t").is_ok());
    assert!(db.copy("t", "u", None, false).unwrap());
    assert_eq!(db.xrange("u", .., None), db.xrange("t", .., None));
    assert_eq!(db.get("t"), Err(Error::WrongType));
    assert_eq!(db.del(&["t", "u"]), Ok(2));
}

#[test]
fn writes_notify_and_invalidate_watches() {
    let kv = Kv::in_memory(Options::new().shards(4));
    kv.set_notify_keyspace_events(NotifyFlags::parse("KEA").unwrap());
    let feed = kv.subscribe(["__keyspace@0__:s"]);
    let db = kv.db(0).unwrap();
    let watch = db.watch(&["s"]);
    assert!(!watch.changed());
    let opts = XAddOptions::new().trim(XTrim::max_len(1));
    db.xadd("s", XAddId::Explicit(id(1, 0)), &[("f", "v")], &opts)
        .unwrap();
    assert!(watch.changed());
    db.xadd("s", XAddId::Explicit(id(2, 0)), &[("f", "v")], &opts)
        .unwrap();
    db.xdel("s", &[id(2, 0), id(9, 0)]).unwrap();
    db.xdel("s", &[id(9, 0)]).unwrap();
    db.xtrim("s", &XTrim::max_len(0)).unwrap();
    db.xsetid("s", id(5, 0), &XSetIdOptions::new()).unwrap();
    db.xlen("s").unwrap();
    let events: Vec<String> = std::iter::from_fn(|| feed.try_recv().unwrap())
        .map(|m| String::from_utf8(m.payload().to_vec()).unwrap())
        .collect();
    assert_eq!(events, ["xadd", "xadd", "xtrim", "xdel", "xsetid"]);
    let watch = db.watch(&["s"]);
    db.xrange("s", .., None).unwrap();
    db.xtrim("s", &XTrim::max_len(0)).unwrap(); // nothing to trim: no change
    assert!(!watch.changed());
    db.xsetid("s", id(6, 0), &XSetIdOptions::new()).unwrap();
    assert!(watch.changed());
}
