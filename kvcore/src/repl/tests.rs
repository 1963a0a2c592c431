use std::time::Duration;

use crate::{Kv, ListStore, Options, Store};

fn drain(reader: &mut super::StreamReader) -> String {
    let mut out = Vec::new();
    while reader.read(&mut out, 1 << 20, Duration::ZERO).unwrap() > 0 {}
    out.escape_ascii().to_string()
}

#[test]
fn nothing_is_generated_without_a_backlog() {
    let kv = Kv::in_memory(Options::new().shards(4));
    kv.db(0).unwrap().set("k", "v").unwrap();
    let repl = kv.replication();
    assert!(!repl.is_active());
    assert_eq!(repl.offset(), 0);
    assert!(repl.reader(1).is_none());
}

#[test]
fn writes_become_commands_with_select() {
    let kv = Kv::in_memory(Options::new().shards(4));
    let repl = kv.replication();
    repl.enable();
    let mut r = repl.reader(1).unwrap();
    kv.db(0).unwrap().set("k", "v").unwrap();
    kv.db(0)
        .unwrap()
        .push("l", crate::End::Right, &["a", "b"])
        .unwrap();
    kv.db(3).unwrap().del(&["k"]).unwrap();
    kv.db(3).unwrap().set("k", "v").unwrap();
    kv.db(3).unwrap().set("j", "w").unwrap();
    kv.db(0).unwrap().del(&["k", "l"]).unwrap();
    let got = drain(&mut r);
    assert_eq!(
        got,
        "*2\\r\\n$6\\r\\nSELECT\\r\\n$1\\r\\n0\\r\\n*3\\r\\n$3\\r\\nSET\\r\\n$1\\r\\nk\\r\\n$1\\r\\nv\\r\\n\
         *4\\r\\n$5\\r\\nRPUSH\\r\\n$1\\r\\nl\\r\\n$1\\r\\na\\r\\n$1\\r\\nb\\r\\n\
         *2\\r\\n$6\\r\\nSELECT\\r\\n$1\\r\\n3\\r\\n*3\\r\\n$3\\r\\nSET\\r\\n$1\\r\\nk\\r\\n$1\\r\\nv\\r\\n\
         *3\\r\\n$3\\r\\nSET\\r\\n$1\\r\\nj\\r\\n$1\\r\\nw\\r\\n\
         *2\\r\\n$6\\r\\nSELECT\\r\\n$1\\r\\n0\\r\\n*1\\r\\n$5\\r\\nMULTI\\r\\n\
         *2\\r\\n$3\\r\\nDEL\\r\\n$1\\r\\nk\\r\\n*2\\r\\n$3\\r\\nDEL\\r\\n$1\\r\\nl\\r\\n\
         *1\\r\\n$4\\r\\nEXEC\\r\\n"
    );
    assert_eq!(r.position(), repl.offset() + 1);
}

/// Splits a stream into its commands (each a list of arguments).
fn commands(mut s: &[u8]) -> Vec<Vec<Vec<u8>>> {
    fn line<'a>(s: &mut &'a [u8]) -> &'a [u8] {
        let i = s.windows(2).position(|w| w == b"\r\n").unwrap();
        let l = &s[..i];
        *s = &s[i + 2..];
        l
    }
    let mut out = Vec::new();
    while !s.is_empty() {
        let n: usize = std::str::from_utf8(&line(&mut s)[1..])
            .unwrap()
            .parse()
            .unwrap();
        let mut cmd = Vec::new();
        for _ in 0..n {
            let len: usize = std::str::from_utf8(&line(&mut s)[1..])
                .unwrap()
                .parse()
                .unwrap();
            cmd.push(s[..len].to_vec());
            s = &s[len + 2..];
        }
        out.push(cmd);
    }
    out
}

#[test]
fn a_full_sync_is_the_state_at_its_offset_and_the_stream_has_the_rest() {
    let kv = Kv::in_memory(Options::new().shards(8).databases(2));
    let db = kv.db(0).unwrap();
    for i in 0..200 {
        db.set(format!("k{i}"), "v").unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || i < 2000 {
                db.push("list", crate::End::Right, &[i.to_string()])
                    .unwrap();
                db.set(format!("k{}", i % 200), i.to_string()).unwrap();
                i += 1;
            }
            i
        })
    };
    while db.llen("list").unwrap() < 500 {
        std::thread::yield_now();
    }
    let mut sync = kv.replication().full_sync();
    let offset = sync.offset();
    let mut rdb = Vec::new();
    sync.write_rdb(&mut rdb).unwrap();
    let mut reader = sync.into_reader();
    assert_eq!(reader.position(), offset + 1);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let pushed = writer.join().unwrap();

    let copy = Kv::in_memory(Options::new().shards(4).databases(2));
    copy.load_rdb(&rdb[..]).unwrap();
    let base = copy.db(0).unwrap().lrange("list", 0, -1).unwrap();
    let mut stream = Vec::new();
    while reader.read(&mut stream, 1 << 20, Duration::ZERO).unwrap() > 0 {}
    let pushes: Vec<Vec<u8>> = commands(&stream)
        .into_iter()
        .filter(|c| c[0] == b"RPUSH")
        .map(|c| c[2].clone())
        .collect();
    // The RDB holds 0..n and the stream n..pushed: every push exactly once, in order.
    let all: Vec<Vec<u8>> = base.into_iter().chain(pushes).collect();
    let expected: Vec<Vec<u8>> = (0..pushed).map(|i| i.to_string().into_bytes()).collect();
    assert_eq!(all.len(), expected.len());
    assert!(all == expected);
}

#[test]
fn ids_offsets_and_the_replica_side_interface() {
    let kv = Kv::in_memory(Options::new().shards(4));
    let repl = kv.replication();
    repl.enable();
    let db = kv.db(0).unwrap();
    db.set("k", "v").unwrap();
    let offset = repl.offset();
    assert!(offset > 0);
    let old = repl.replid();
    assert_eq!(old.len(), 40);
    assert_eq!(repl.replid2(), "0".repeat(40));
    assert_eq!(repl.second_offset(), -1);
    // Promotion: the old ID stays valid up to where it ended.
    repl.shift_replid();
    assert_ne!(repl.replid(), old);
    assert_eq!(repl.replid2(), old);
    assert_eq!(repl.second_offset(), offset as i64 + 1);
    assert!(repl.continue_from(&old, offset + 1).is_some());
    assert!(repl.continue_from(&old, 1).is_some());
    db.set("k", "w").unwrap();
    assert!(repl.continue_from(&old, repl.offset() + 1).is_none());
    assert!(
        repl.continue_from(&repl.replid(), repl.offset() + 1)
            .is_some()
    );
    assert!(repl.continue_from(&"f".repeat(40), 1).is_none());
    // A replica: its own writes generate nothing, its primary's bytes go in verbatim.
    repl.set_generating(false);
    let before = repl.offset();
    db.set("x", "1").unwrap();
    assert_eq!(repl.offset(), before);
    let mut r = repl.reader(before + 1).unwrap();
    repl.feed_raw(b"*1\r\n$4\r\nPING\r\n");
    assert_eq!(repl.offset(), before + 14);
    assert_eq!(drain(&mut r), "*1\\r\\n$4\\r\\nPING\\r\\n");
    // After a full sync from its primary: that primary's ID and offset, an empty backlog.
    repl.reset(&"a".repeat(40), 1000).unwrap();
    assert!(
        r.read(&mut Vec::new(), 10, Duration::ZERO).is_err(),
        "readers are dropped"
    );
    assert_eq!(repl.offset(), 1000);
    assert_eq!(repl.replid(), "a".repeat(40));
    assert_eq!(repl.replid2(), "0".repeat(40));
    assert!(repl.reader(1001).is_some());
    assert!(repl.reader(1000).is_none());
    assert!(repl.reset("short", 1).is_err());
    // The primary continues under a new ID (it was promoted): the old one stays valid up to
    // here, for this store's own replicas.
    repl.feed_raw(b"*1\r\n$4\r\nPING\r\n");
    repl.adopt_replid(&"b".repeat(40)).unwrap();
    assert_eq!(repl.replid(), "b".repeat(40));
    assert_eq!(repl.replid2(), "a".repeat(40));
    assert_eq!(repl.second_offset(), 1015);
    assert!(repl.continue_from(&"a".repeat(40), 1015).is_some());
    assert!(repl.continue_from(&"b".repeat(40), 1001).is_some());
    assert!(repl.adopt_replid("short").is_err());
    // A small backlog keeps only its newest bytes.
    repl.set_generating(true);
    repl.set_backlog_size(16);
    for i in 0..10 {
        db.set("k", i.to_string()).unwrap();
    }
    assert_eq!(repl.backlog_histlen(), 16);
    assert_eq!(repl.backlog_first_byte_offset(), repl.offset() - 15);
    assert!(repl.reader(1001).is_none());
}

#[test]
fn a_publish_goes_into_the_stream_and_reaches_a_followers_subscribers() {
    let kv = Kv::in_memory(Options::new().shards(4));
    let repl = kv.replication();
    repl.enable();
    let mut r = repl.reader(1).unwrap();
    assert_eq!(kv.publish("news", "hello"), 0);
    assert_eq!(kv.spublish("shard", "x"), 0);
    let got = drain(&mut r);
    assert_eq!(
        got,
        "*3\\r\\n$7\\r\\nPUBLISH\\r\\n$4\\r\\nnews\\r\\n$5\\r\\nhello\\r\\n\
         *3\\r\\n$8\\r\\nSPUBLISH\\r\\n$5\\r\\nshard\\r\\n$1\\r\\nx\\r\\n"
    );
    // Applied on a follower: its subscribers get the message; its own stream stays quiet.
    let follower = Kv::in_memory(Options::new().shards(4));
    follower.replication().enable();
    follower.replication().set_generating(false);
    let sub = follower.subscribe(["news"]);
    let mut applier = super::StreamApplier::new(follower.clone(), 0);
    let bytes = b"*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
    assert_eq!(applier.apply(bytes).unwrap(), bytes.len() as u64);
    let m = sub.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!((m.channel(), m.payload()), (&b"news"[..], &b"hello"[..]));
    assert_eq!(follower.replication().offset(), 0);
    // Without a backlog nothing is encoded.
    let plain = Kv::in_memory(Options::new().shards(4));
    plain.publish("news", "x");
    assert_eq!(plain.replication().offset(), 0);
}

#[test]
fn a_thread_learns_where_its_own_last_append_ended_the_stream() {
    let kv = Kv::in_memory(Options::new().shards(4));
    let other = Kv::in_memory(Options::new().shards(4));
    other.replication().enable();
    let db = kv.db(0).unwrap();
    // Without a stream nothing is noted.
    db.set("a", "1").unwrap();
    assert_eq!(kv.take_own_append(), None);
    kv.replication().enable();
    db.set("a", "2").unwrap();
    let after_set = kv.replication().offset();
    assert!(after_set > 0);
    // Another store's stream is not this one's.
    assert_eq!(other.take_own_append(), None);
    db.set("b", "3").unwrap();
    assert_eq!(kv.take_own_append(), Some(kv.replication().offset()));
    // Taken: forgotten. A read appends nothing, and one after a write forgets the write.
    assert_eq!(kv.take_own_append(), None);
    db.set("b", "3").unwrap();
    assert_eq!(db.get("a").unwrap(), Some(b"2".to_vec()));
    assert_eq!(kv.take_own_append(), None);
    // Another thread's append is not this thread's.
    let kv2 = kv.clone();
    std::thread::spawn(move || kv2.db(0).unwrap().set("c", "4").unwrap())
        .join()
        .unwrap();
    assert_eq!(kv.take_own_append(), None);
    // A transaction's group, and a PUBLISH, count as appends.
    kv.transaction(crate::Scope::Keys(&[(0, b"a"), (0, b"b")]), |tx| {
        let db = tx.db(0)?;
        db.set("a", "5")?;
        db.set("b", "6")?;
        Ok(())
    })
    .unwrap();
    assert_eq!(kv.take_own_append(), Some(kv.replication().offset()));
    kv.publish("ch", "m");
    assert_eq!(kv.take_own_append(), Some(kv.replication().offset()));
}

#[test]
fn a_publish_inside_a_transaction_travels_in_its_group_and_is_delivered_after_it() {
    let kv = Kv::in_memory(Options::new().shards(4));
    let repl = kv.replication();
    repl.enable();
    let mut r = repl.reader(1).unwrap();
    kv.transaction(crate::Scope::Keys(&[(0, b"k")]), |tx| {
        tx.db(0)?.set("k", "v")?;
        tx.kv().publish("news", "k changed");
        Ok(())
    })
    .unwrap();
    let got = drain(&mut r);
    assert_eq!(
        got,
        "*2\\r\\n$6\\r\\nSELECT\\r\\n$1\\r\\n0\\r\\n*1\\r\\n$5\\r\\nMULTI\\r\\n\
         *3\\r\\n$3\\r\\nSET\\r\\n$1\\r\\nk\\r\\n$1\\r\\nv\\r\\n\
         *3\\r\\n$7\\r\\nPUBLISH\\r\\n$4\\r\\nnews\\r\\n$9\\r\\nk changed\\r\\n\
         *1\\r\\n$4\\r\\nEXEC\\r\\n"
    );
    // A follower delivers a message inside MULTI only once the block is applied: a
    // subscriber who reads on receiving finds the write.
    let follower = Kv::in_memory(Options::new().shards(4));
    let sub = follower.subscribe(["news"]);
    let mut applier = super::StreamApplier::new(follower.clone(), 0);
    let bytes: &[u8] = b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
        *3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$9\r\nk changed\r\n*1\r\n$4\r\nEXEC\r\n";
    let before_exec = bytes.len() - b"*1\r\n$4\r\nEXEC\r\n".len();
    applier.apply(&bytes[..before_exec]).unwrap();
    assert!(sub.recv_timeout(Duration::ZERO).unwrap().is_none());
    applier.apply(&bytes[before_exec..]).unwrap();
    let m = sub.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(m.payload(), b"k changed");
    assert_eq!(
        follower.db(0).unwrap().get("k").unwrap(),
        Some(b"v".to_vec())
    );
}

/// The append hook runs once per append to the stream (a write, a multi-key write as one
/// group), never for a read, and not once it is taken away.
#[test]
fn the_append_hook_runs_after_each_append_until_removed() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let kv = Kv::in_memory(Options::new().shards(4));
    let repl = kv.replication();
    repl.enable();
    let seen = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&seen);
    repl.set_on_append(Some(Arc::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    })));
    let db = kv.db(0).unwrap();
    db.set("a", "1").unwrap();
    db.del(&["a", "b"]).unwrap();
    db.get("a").unwrap(); // a read appends nothing
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    repl.set_on_append(None);
    db.set("b", "2").unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    assert!(repl.offset() > 0);
}
