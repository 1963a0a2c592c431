//! What the container commands journal: per-element effects, never the whole value, and the
//! deletion of a container they empty. (Their behaviour through the public traits is tested in
//! `kvcore/tests/container/`, and against a model in `kvcore/tests/model/`.)

use crate::{
    End, HashStore, Kv, ListStore, Options, StreamId, StreamStore, XAddId, XAddOptions,
    XSetIdOptions, XTrim, ZAddFlags, ZSetStore,
};

/// Runs `op` and returns the effects it journaled.
fn journaled(kv: &Kv, op: impl FnOnce()) -> Vec<String> {
    kv.inner.journal_log.lock().clear();
    op();
    std::mem::take(&mut *kv.inner.journal_log.lock())
}

#[test]
fn container_commands_journal_element_effects_and_deletions() {
    let kv = Kv::in_memory(Options::new().shards(4));
    let db = kv.db(0).unwrap();
    let list = journaled(&kv, || {
        db.push_existing("l", End::Left, &["a"]).unwrap();
        db.push("l", End::Left, &["a", "b", "c"]).unwrap();
        db.push_existing("l", End::Right, &["z"]).unwrap();
        db.lset("l", 0, "C").unwrap();
        db.linsert("l", false, "a", "q").unwrap();
        db.lrem("l", 0, "q").unwrap();
        db.pop_count("l", End::Left, 2).unwrap();
        db.ltrim("l", 5, 10).unwrap();
    });
    assert!(list.iter().any(|e| e.starts_with("ListPush")), "{list:?}");
    assert!(
        list.iter().all(|e| !e.starts_with("put")),
        "no whole-value puts: {list:?}"
    );
    assert_eq!(
        list.last().map(String::as_str),
        Some("del 0 l"),
        "LTRIM emptied it"
    );

    db.hset("h", &[("a", "1"), ("s", "abc")]).unwrap();
    db.hdel("h", &["a"]).unwrap();
    let hash = journaled(&kv, || assert_eq!(db.hdel("h", &["s"]).unwrap(), 1));
    assert_eq!(hash.len(), 2, "{hash:?}");
    assert!(hash[0].starts_with("HashDel"), "{hash:?}");
    assert_eq!(hash[1], "del 0 h");

    let plain = ZAddFlags::default();
    db.zadd("z", &[(1.0, "a"), (2.0, "b"), (3.0, "c")], &plain)
        .unwrap();
    let zset = journaled(&kv, || drop(db.zpop("z", true, 2).unwrap()));
    assert_eq!(zset.len(), 1, "one record for the pop: {zset:?}");
    assert!(zset[0].starts_with("ZRem"), "{zset:?}");
}

/// A stream write journals the ID XADD chose (never `*`), and trims as counts of removed
/// entries, so replay does not depend on the clock or on block boundaries.
#[test]
fn stream_commands_journal_ids_and_counts() {
    let kv = Kv::in_memory(Options::new().shards(4));
    let db = kv.db(0).unwrap();
    for i in 1..=3 {
        db.xadd(
            "s",
            XAddId::Explicit(StreamId::new(i, 0)),
            &[("f", "v")],
            &XAddOptions::new(),
        )
        .unwrap();
    }
    let opts = XAddOptions::new().trim(XTrim::max_len(2));
    let before = kv.inner.now();
    let add = journaled(&kv, || {
        db.xadd("s", XAddId::Auto, &[("f", "v")], &opts).unwrap();
    });
    let after = kv.inner.now();
    assert_eq!(add.len(), 1, "{add:?}");
    assert!(add[0].starts_with("StreamAdd"), "{add:?}");
    // The ID's milliseconds are the clock's at the XADD (which may cross a millisecond).
    assert!(
        (before..=after).any(|ms| add[0].contains(&format!("ms: {ms}, seq: 0"))),
        "{add:?}"
    );
    assert!(add[0].contains("trimmed: 2"), "{add:?}");
    let del = journaled(&kv, || {
        db.xdel("s", &[StreamId::new(3, 0), StreamId::new(9, 9)])
            .unwrap();
    });
    assert_eq!(del.len(), 1);
    assert!(
        del[0].contains("ids: [StreamId { ms: 3, seq: 0 }]"),
        "{del:?}"
    );
    let trim = journaled(&kv, || {
        db.xtrim("s", &XTrim::max_len(0)).unwrap();
        db.xtrim("s", &XTrim::max_len(0)).unwrap();
    });
    assert_eq!(trim.len(), 1, "an empty trim journals nothing: {trim:?}");
    assert!(trim[0].contains("count: 1"), "{trim:?}");
    let set = journaled(&kv, || {
        db.xsetid("s", StreamId::new(after + 5, 0), &XSetIdOptions::new())
            .unwrap();
    });
    assert_eq!(set.len(), 1);
    assert!(set[0].starts_with("StreamSetId"), "{set:?}");
    assert!(set[0].contains("entries_added: 4"), "{set:?}");
    // The emptied stream stays: no deletion.
    assert!(
        !set.iter().chain(&trim).any(|e| e.starts_with("del")),
        "{set:?}"
    );
}
