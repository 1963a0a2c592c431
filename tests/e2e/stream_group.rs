//! Consumer groups through the server beyond the byte-exact case file (`stream_group.txt`):
//! blocked XREADGROUPs served in arrival order by XADD and unblocked with redis-server
//! 7.0.15's errors when their group is destroyed or their key deleted or retyped, and group
//! readers under concurrent writers receiving every entry exactly once.

use std::collections::HashSet;
use std::thread;

use super::support::{Raw, Server, expect_replies, resp};

fn blocked(raw: &mut Raw) -> usize {
    raw.send(&resp(&[b"INFO", b"clients"]));
    let info = String::from_utf8(raw.read_bulk()).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// Waits until `n` clients are blocked.
fn wait_blocked(raw: &mut Raw, n: usize) {
    let end = std::time::Instant::now() + super::support::PATIENCE;
    while blocked(raw) != n {
        assert!(std::time::Instant::now() < end, "{n} readers never blocked");
        thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Starts `args` on a new connection; the thread checks its reply is `expected`.
fn block(server: &Server, args: &[&[u8]], expected: &'static [u8]) -> thread::JoinHandle<()> {
    let mut raw = server.raw();
    let request = resp(args);
    thread::spawn(move || {
        raw.send(&request);
        raw.expect(expected);
    })
}

/// Two consumers blocked on `>` get one new entry each, in the order they blocked; a reader
/// blocked when its group is destroyed gets NOGROUP, when its key is deleted or becomes a
/// string UNBLOCKED (the bytes redis-server 7.0.15 sent for the same session).
#[test]
#[rustfmt::skip]
fn blocked_group_readers_are_served_in_order_and_unblocked_as_redis() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    expect_replies(&mut admin, &[(&[b"XGROUP", b"CREATE", b"s", b"g", b"$", b"MKSTREAM"], b"+OK\r\n")]);
    let first = block(&server, &[b"XREADGROUP", b"GROUP", b"g", b"c1", b"BLOCK", b"0", b"STREAMS", b"s", b">"],
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    wait_blocked(&mut admin, 1);
    let second = block(&server, &[b"XREADGROUP", b"GROUP", b"g", b"c2", b"BLOCK", b"0", b"STREAMS", b"s", b">"],
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$1\r\nw\r\n");
    wait_blocked(&mut admin, 2);
    expect_replies(&mut admin, &[(&[b"XADD", b"s", b"1-0", b"f", b"v"], b"$3\r\n1-0\r\n")]);
    first.join().unwrap();
    assert_eq!(blocked(&mut admin), 1);
    expect_replies(&mut admin, &[(&[b"XADD", b"s", b"2-0", b"f", b"w"], b"$3\r\n2-0\r\n")]);
    second.join().unwrap();
    expect_replies(&mut admin, &[
        (&[b"XPENDING", b"s", b"g"],
         b"*4\r\n:2\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n*2\r\n*2\r\n$2\r\nc1\r\n$1\r\n1\r\n*2\r\n$2\r\nc2\r\n$1\r\n1\r\n"),
        (&[b"XREADGROUP", b"GROUP", b"g", b"c3", b"BLOCK", b"20", b"STREAMS", b"s", b">"], b"*-1\r\n"),
    ]);
    let destroyed = block(&server, &[b"XREADGROUP", b"GROUP", b"g", b"c3", b"BLOCK", b"0", b"STREAMS", b"s", b">"],
        b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n");
    wait_blocked(&mut admin, 1);
    expect_replies(&mut admin, &[(&[b"XGROUP", b"DESTROY", b"s", b"g"], b":1\r\n")]);
    destroyed.join().unwrap();
    expect_replies(&mut admin, &[(&[b"XGROUP", b"CREATE", b"s", b"g", b"$"], b"+OK\r\n")]);
    let deleted = block(&server, &[b"XREADGROUP", b"GROUP", b"g", b"c4", b"BLOCK", b"0", b"STREAMS", b"s", b">"],
        b"-UNBLOCKED the stream key no longer exists\r\n");
    wait_blocked(&mut admin, 1);
    expect_replies(&mut admin, &[(&[b"DEL", b"s"], b":1\r\n")]);
    deleted.join().unwrap();
    expect_replies(&mut admin, &[(&[b"XGROUP", b"CREATE", b"s", b"g", b"$", b"MKSTREAM"], b"+OK\r\n")]);
    let retyped = block(&server, &[b"XREADGROUP", b"GROUP", b"g", b"c5", b"BLOCK", b"0", b"STREAMS", b"s", b">"],
        b"-UNBLOCKED the stream key no longer exists\r\n");
    wait_blocked(&mut admin, 1);
    expect_replies(&mut admin, &[(&[b"SET", b"s", b"x"], b"+OK\r\n")]);
    retyped.join().unwrap();
    assert_eq!(blocked(&mut admin), 0);
}

/// Several writers append while several consumers of one group read with XREADGROUP BLOCK
/// and acknowledge: every entry is delivered to exactly one consumer, and nothing stays
/// pending.
#[test]
fn group_readers_under_concurrent_writers_get_each_entry_once() {
    const WRITERS: usize = 4;
    const EACH: usize = 100;
    const READERS: usize = 3;
    let server = Server::start(&[]);
    let addr = server.addr;
    let mut con = server.client();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("jobs")
        .arg("workers")
        .arg("$")
        .arg("MKSTREAM")
        .query(&mut con)
        .unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let total = WRITERS * EACH;
    let read = move |name: String, done: std::sync::Arc<std::sync::atomic::AtomicUsize>| {
        let mut c = redis::Client::open(format!("redis://{addr}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        let mut got = Vec::new();
        while done.load(std::sync::atomic::Ordering::SeqCst) < total {
            let reply: redis::Value = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg("workers")
                .arg(&name)
                .arg("COUNT")
                .arg(7)
                .arg("BLOCK")
                .arg(100)
                .arg("STREAMS")
                .arg("jobs")
                .arg(">")
                .query(&mut c)
                .unwrap();
            let redis::Value::Array(streams) = reply else {
                continue; // timed out: look at the count again
            };
            let redis::Value::Array(pair) = &streams[0] else {
                panic!("{streams:?}")
            };
            let redis::Value::Array(entries) = &pair[1] else {
                panic!("{pair:?}")
            };
            for e in entries {
                let redis::Value::Array(e) = e else {
                    panic!("{e:?}")
                };
                let id: String = redis::from_redis_value(e[0].clone()).unwrap();
                let fields: Vec<String> = redis::from_redis_value(e[1].clone()).unwrap();
                let acked: i64 = redis::cmd("XACK")
                    .arg("jobs")
                    .arg("workers")
                    .arg(&id)
                    .query(&mut c)
                    .unwrap();
                assert_eq!(acked, 1, "{id} acknowledged once");
                got.push(fields[1].clone());
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        got
    };
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let done = done.clone();
            thread::spawn(move || read(format!("r{r}"), done))
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            thread::spawn(move || {
                let mut c = redis::Client::open(format!("redis://{addr}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap();
                for i in 0..EACH {
                    let _: String = redis::cmd("XADD")
                        .arg("jobs")
                        .arg("*")
                        .arg("job")
                        .arg(format!("{w}-{i}"))
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let mut all = Vec::new();
    for r in readers {
        all.extend(r.join().unwrap());
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), WRITERS * EACH, "every entry delivered once");
    assert_eq!(distinct.len(), WRITERS * EACH);
    let pending: (i64, Option<String>, Option<String>, redis::Value) = redis::cmd("XPENDING")
        .arg("jobs")
        .arg("workers")
        .query(&mut con)
        .unwrap();
    assert_eq!(pending.0, 0);
}
