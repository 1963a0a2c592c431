//! kv as a replica of a real redis-server 7.0.15 primary (skipped without redis-server unless
//! `KV_REQUIRE_CLIENTS` is set): a full sync of every type in several databases (diskless
//! `$EOF:` and on-disk `$<len>`) while a writer runs, then the command stream, compared key by
//! key once the replica's offset reaches the primary's; transactions and scripts applied
//! atomically; expiry arriving as DEL; a link cut by a proxy (partial resync), held past the
//! backlog (full resync); a replica killed with `kill -9` and restarted. The refusals byte for
//! byte are `tests/e2e/replica.txt`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::{Connection, FromRedisValue, Value};

use super::support::proxy::Proxy;
use super::support::{PATIENCE, RedisServer, Server, TempDir, info_field};

/// The databases the tests fill.
const DBS: [i64; 3] = [0, 2, 5];

fn tcp(port: u16) -> Connection {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        match client.get_connection() {
            Ok(c) => return c,
            Err(e) => assert!(Instant::now() < deadline, "cannot connect to {port}: {e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn q<T: FromRedisValue>(con: &mut Connection, args: &[&[u8]]) -> T {
    let mut c = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(args[0])))
}

/// Polls until `f` holds, failing after [`PATIENCE`].
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the replica's link is up and it applied every byte the primary sent.
fn settle(primary: &mut Connection, replica: &mut Connection) {
    wait_for("the replica to reach the primary's offset", || {
        let up = info_field(replica, "replication", "master_link_status");
        let want = info_field(primary, "replication", "master_repl_offset");
        let got = info_field(replica, "replication", "slave_repl_offset");
        up.as_deref() == Some("up") && want.is_some() && want == got
    });
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

/// Every key of [`DBS`], type-aware, with whether it has a TTL.
fn dataset(con: &mut Connection) -> BTreeMap<(i64, Vec<u8>), String> {
    let mut out = BTreeMap::new();
    for db in DBS {
        let _: () = q(con, &[b"SELECT", db.to_string().as_bytes()]);
        let keys: Vec<Vec<u8>> = q(con, &[b"KEYS", b"*"]);
        for key in keys {
            let k = key.as_slice();
            let t: String = q(con, &[b"TYPE", k]);
            let value = match t.as_str() {
                "string" => format!("{:?}", q::<Vec<u8>>(con, &[b"GET", k])),
                "list" => format!("{:?}", q::<Vec<Vec<u8>>>(con, &[b"LRANGE", k, b"0", b"-1"])),
                "hash" => {
                    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = q(con, &[b"HGETALL", k]);
                    pairs.sort();
                    format!("{pairs:?}")
                }
                "set" => format!("{:?}", sorted(q(con, &[b"SMEMBERS", k]))),
                "zset" => format!(
                    "{:?}",
                    q::<Vec<Vec<u8>>>(con, &[b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"])
                ),
                "stream" => format!(
                    "{:?} {:?}",
                    q::<Value>(con, &[b"XRANGE", k, b"-", b"+"]),
                    q::<Value>(con, &[b"XINFO", b"GROUPS", k])
                ),
                _ => continue,
            };
            let ttl: i64 = q(con, &[b"PTTL", k]);
            out.insert((db, key), format!("{t} {value} ttl={}", ttl != -1));
        }
    }
    let _: () = q(con, &[b"SELECT", b"0"]);
    out
}

/// Every type and encoding, in several databases, with expiring keys and a stream group.
fn populate(con: &mut Connection) {
    let big = "x".repeat(10_000);
    for db in DBS {
        let _: () = q(con, &[b"SELECT", db.to_string().as_bytes()]);
        let mut run = |args: &[&str]| {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            let _: Value = q(con, &args);
        };
        run(&["SET", "s", "value"]);
        run(&["SET", "n", "12345"]);
        run(&["SET", "big", &big]);
        run(&["RPUSH", "l", "a", "b", "c", "1", "2"]);
        run(&["HSET", "h", "f1", "v1", "f2", "2"]);
        run(&["SADD", "ints", "1", "2", "3"]);
        run(&["SADD", "strs", "a", "b", "c"]);
        run(&["ZADD", "z", "1", "a", "2.5", "b", "-3", "c"]);
        for i in 0..300 {
            let (i, v) = (i.to_string(), format!("value-{i}-{big:.20}"));
            run(&["RPUSH", "biglist", &v]);
            run(&["HSET", "bighash", &i, &v]);
            run(&["SADD", "bigset", &v]);
            run(&["ZADD", "bigzset", &i, &v]);
        }
        for id in ["1-1", "1-2", "2-1", "3-1"] {
            run(&["XADD", "st", id, "f", "v", "g", id]);
        }
        run(&["XGROUP", "CREATE", "st", "grp", "0"]);
        run(&[
            "XREADGROUP",
            "GROUP",
            "grp",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "st",
            ">",
        ]);
        run(&["XACK", "st", "grp", "1-1"]);
        run(&["SET", "e", "expiring", "PX", "600000"]);
        run(&["EXPIRE", "h", "1000"]);
    }
    let _: () = q(con, &[b"SELECT", b"0"]);
}

/// Non-idempotent writes on the primary until stopped: INCR and RPUSH, and pairs of
/// counters that MULTI/EXEC and EVAL increment together.
fn writer(port: u16, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut con = tcp(port);
        let mut i = 0u64;
        while !stop.load(Ordering::SeqCst) {
            i += 1;
            let _: i64 = q(&mut con, &[b"INCR", b"ctr"]);
            let _: i64 = q(&mut con, &[b"RPUSH", b"log", i.to_string().as_bytes()]);
            if i.is_multiple_of(10) {
                let _: Value = redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg("pa")
                    .cmd("INCR")
                    .arg("pb")
                    .query(&mut con)
                    .unwrap();
            } else if i % 10 == 5 {
                let script = "redis.call('incr', KEYS[1]) redis.call('incr', KEYS[2]) return 1";
                let _: i64 = q(&mut con, &[b"EVAL", script.as_bytes(), b"2", b"pa", b"pb"]);
            }
            done.store(i, Ordering::SeqCst);
        }
    })
}

/// Reads the pair counters on the replica until stopped; a transaction or script seen half
/// applied fails the test. Returns how many reads saw them.
fn pair_reader(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut con = tcp(port);
        let mut seen = 0;
        while !stop.load(Ordering::SeqCst) {
            // LOADING while a full sync replaces the data.
            let Ok((a, b)) = redis::cmd("MGET")
                .arg("pa")
                .arg("pb")
                .query::<(Option<i64>, Option<i64>)>(&mut con)
            else {
                continue;
            };
            assert_eq!(a, b, "a transaction or script was seen half applied");
            seen += u64::from(a.is_some());
        }
        seen
    })
}

fn start_primary(name: &str, extra: &[&str]) -> Option<(RedisServer, u16, TempDir)> {
    let dir = TempDir::new(name);
    let mut args = vec![
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    let (redis, port) = RedisServer::start_tcp(dir.path(), &args)?;
    Some((redis, port, dir))
}

fn replicaof(con: &mut Connection, port: u16) {
    let ok: String = q(
        con,
        &[b"REPLICAOF", b"127.0.0.1", port.to_string().as_bytes()],
    );
    assert_eq!(ok, "OK");
}

#[test]
fn kv_follows_redis_through_a_diskless_full_sync_and_the_stream() {
    let Some((_redis, port, _dir)) =
        start_primary("replica-diskless", &["--repl-diskless-sync", "yes"])
    else {
        return;
    };
    let mut primary = tcp(port);
    populate(&mut primary);
    // A key that expires before the sync and that nobody touches: the primary keeps it (no
    // active expiry) and so must the replica, until the primary's DEL.
    let _: () = q(&mut primary, &[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"]);
    let _: () = q(&mut primary, &[b"SET", b"gone", b"v", b"PX", b"1"]);
    let kv = Server::start(&[]);
    let mut replica = kv.client();
    let _: () = q(&mut replica, &[b"SET", b"old", b"data"]);

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let writes = writer(port, Arc::clone(&stop), Arc::clone(&done));
    wait_for("the writer to start", || done.load(Ordering::SeqCst) > 50);
    replicaof(&mut replica, port);
    let stop_reader = Arc::new(AtomicBool::new(false));
    let reader = pair_reader(kv.port(), Arc::clone(&stop_reader));
    wait_for("the link to come up", || {
        info_field(&mut replica, "replication", "master_link_status").as_deref() == Some("up")
    });
    // The writer goes on while the replica follows the stream.
    let at_sync = done.load(Ordering::SeqCst);
    wait_for("more writes", || {
        done.load(Ordering::SeqCst) > at_sync + 300
    });
    stop.store(true, Ordering::SeqCst);
    writes.join().unwrap();
    settle(&mut primary, &mut replica);
    stop_reader.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0, "the reader saw the counters");

    assert!(kv.log().contains("(diskless)"), "{}", kv.log());
    let sizes = |con: &mut Connection| -> Vec<i64> {
        let sizes = DBS
            .iter()
            .map(|db| {
                let _: () = q(con, &[b"SELECT", db.to_string().as_bytes()]);
                q(con, &[b"DBSIZE"])
            })
            .collect();
        let _: () = q(con, &[b"SELECT", b"0"]);
        sizes
    };
    assert_eq!(
        sizes(&mut replica),
        sizes(&mut primary),
        "expired keys are kept too"
    );
    let want = dataset(&mut primary);
    assert!(want.len() > 30);
    assert_eq!(dataset(&mut replica), want);
    let n = done.load(Ordering::SeqCst) as i64;
    assert_eq!(q::<i64>(&mut replica, &[b"GET", b"ctr"]), n);
    assert_eq!(q::<i64>(&mut replica, &[b"LLEN", b"log"]), n);
    assert_eq!(q::<Option<Vec<u8>>>(&mut replica, &[b"GET", b"old"]), None);

    // Clients cannot write; ROLE and INFO describe the link.
    let err = redis::cmd("SET")
        .arg("x")
        .arg("y")
        .query::<()>(&mut replica)
        .unwrap_err();
    assert_eq!(err.code(), Some("READONLY"), "{err}");
    let role: Vec<Value> = q(&mut replica, &[b"ROLE"]);
    assert_eq!(role[0], Value::BulkString(b"slave".to_vec()));
    assert_eq!(role[3], Value::BulkString(b"connected".to_vec()));
    let masters: String = q(&mut replica, &[b"CLIENT", b"LIST", b"TYPE", b"MASTER"]);
    assert!(masters.contains("flags=M "), "{masters}");
    assert!(masters.contains(" user=(superuser) "), "{masters}");
    let hello: Vec<Value> = q(&mut replica, &[b"HELLO", b"2"]);
    assert!(
        hello.contains(&Value::BulkString(b"replica".to_vec())),
        "{hello:?}"
    );

    // Expiry arrives as the primary's DEL: until then the replica hides the key but keeps it.
    let _: () = q(&mut primary, &[b"SET", b"soon", b"v", b"PX", b"200"]);
    settle(&mut primary, &mut replica);
    wait_for("the key to read as expired on the replica", || {
        q::<Option<Vec<u8>>>(&mut replica, &[b"GET", b"soon"]).is_none()
    });
    let before: i64 = q(&mut primary, &[b"DBSIZE"]);
    assert_eq!(
        q::<i64>(&mut replica, &[b"DBSIZE"]),
        before,
        "the replica keeps it"
    );
    assert_eq!(q::<Option<Vec<u8>>>(&mut primary, &[b"GET", b"soon"]), None);
    settle(&mut primary, &mut replica);
    assert_eq!(q::<i64>(&mut replica, &[b"DBSIZE"]), before - 1);
    assert_eq!(q::<i64>(&mut primary, &[b"DBSIZE"]), before - 1);

    // Promoted: the data stays and it takes writes.
    let ok: String = q(&mut replica, &[b"REPLICAOF", b"NO", b"ONE"]);
    assert_eq!(ok, "OK");
    let got: Vec<String> = q(&mut replica, &[b"CONFIG", b"GET", b"replicaof"]);
    assert_eq!(got, ["replicaof", ""]);
    assert_eq!(q::<i64>(&mut replica, &[b"INCR", b"ctr"]), n + 1);
    assert_eq!(
        info_field(&mut replica, "replication", "role").as_deref(),
        Some("master")
    );
}

#[test]
fn a_cut_link_resyncs_partially_and_one_held_past_the_backlog_fully() {
    let Some((_redis, port, _dir)) = start_primary(
        "replica-proxy",
        &["--repl-diskless-sync", "no", "--repl-backlog-size", "16kb"],
    ) else {
        return;
    };
    let mut primary = tcp(port);
    populate(&mut primary);
    let proxy = Proxy::start(format!("127.0.0.1:{port}").parse().unwrap());
    let kv = Server::start(&[]);
    let mut replica = kv.client();
    replicaof(&mut replica, proxy.port());
    settle(&mut primary, &mut replica);
    assert!(
        kv.log().contains("bytes from master to memory"),
        "{}",
        kv.log()
    );
    let stat = |con: &mut Connection, f: &str| info_field(con, "stats", f).unwrap();
    assert_eq!(stat(&mut primary, "sync_full"), "1");

    // Cut: the writes made meanwhile come from the backlog.
    proxy.cut();
    for i in 0..50 {
        let _: () = q(&mut primary, &[b"SET", format!("cut:{i}").as_bytes(), b"v"]);
        let _: i64 = q(&mut primary, &[b"INCR", b"ctr"]);
    }
    wait_for("a partial resync", || {
        stat(&mut primary, "sync_partial_ok") == "1"
    });
    settle(&mut primary, &mut replica);
    assert_eq!(stat(&mut primary, "sync_full"), "1");
    assert!(kv.log().contains("successful partial resynchronization"));
    assert_eq!(dataset(&mut replica), dataset(&mut primary));

    // Held while the primary writes more than its backlog holds: a full resync.
    proxy.hold();
    proxy.cut();
    let value = "y".repeat(1024);
    for i in 0..64 {
        let _: () = q(
            &mut primary,
            &[b"SET", format!("held:{i}").as_bytes(), value.as_bytes()],
        );
    }
    wait_for("the replica to try again", || proxy.held() > 0);
    proxy.forward();
    wait_for("a full resync", || stat(&mut primary, "sync_full") == "2");
    settle(&mut primary, &mut replica);
    assert_eq!(dataset(&mut replica), dataset(&mut primary));
    assert_eq!(
        q::<Vec<u8>>(&mut replica, &[b"GET", b"held:63"]),
        value.as_bytes()
    );
}

/// Arguments for a persistent kv replica of `port` whose config file (in a temp dir, kept
/// alive by the returned [`TempDir`]) names its primary, so that a restart follows it again.
fn persistent_replica_args(name: &str, port: Option<u16>) -> (TempDir, Vec<String>) {
    let dir = TempDir::new(name);
    std::fs::create_dir_all(dir.path()).unwrap();
    let conf = format!("{}/kv.conf", dir.path());
    // Without a port, no `replicaof` yet: REPLICAOF and CONFIG REWRITE put it there.
    let text = port.map_or_else(
        || "# a replica\n".to_string(),
        |port| format!("replicaof 127.0.0.1 {port}\n"),
    );
    std::fs::write(&conf, text).unwrap();
    let data = format!("{}/data", dir.path());
    let args = [
        "--config",
        &conf,
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        &data,
    ];
    let args = args.iter().map(ToString::to_string).collect();
    (dir, args)
}

#[test]
fn a_replica_killed_with_sigkill_syncs_again_from_its_config_file() {
    let Some((_redis, port, _dir)) = start_primary("replica-kill", &[]) else {
        return;
    };
    let mut primary = tcp(port);
    populate(&mut primary);
    let (_kv_dir, args) = persistent_replica_args("replica-kill-kv", Some(port));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let kv = Server::start_raw(&args);
    let mut replica = kv.client();
    settle(&mut primary, &mut replica);
    for i in 0..100 {
        let _: i64 = q(&mut primary, &[b"RPUSH", b"log", i.to_string().as_bytes()]);
    }
    settle(&mut primary, &mut replica);
    kv.signal("KILL");
    drop(kv);
    for i in 100..200 {
        let _: i64 = q(&mut primary, &[b"RPUSH", b"log", i.to_string().as_bytes()]);
    }
    let kv = Server::start_raw(&args);
    let mut replica = kv.client();
    settle(&mut primary, &mut replica);
    // Only a clean shutdown saves the replication position: after a crash, a full sync.
    let full = info_field(&mut primary, "stats", "sync_full").unwrap();
    assert_eq!(full, "2");
    assert_eq!(q::<i64>(&mut replica, &[b"LLEN", b"log"]), 200);
    assert_eq!(dataset(&mut replica), dataset(&mut primary));
}

#[test]
fn a_replica_restarted_cleanly_resumes_with_a_partial_resync() {
    let Some((_redis, port, _dir)) = start_primary("replica-restart", &[]) else {
        return;
    };
    let mut primary = tcp(port);
    populate(&mut primary);
    let (kv_dir, args) = persistent_replica_args("replica-restart-kv", None);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let conf = format!("{}/kv.conf", kv_dir.path());
    let mut kv = Server::start_raw(&args);
    let mut replica = kv.client();
    replicaof(&mut replica, port);
    for i in 0..100 {
        let _: i64 = q(&mut primary, &[b"RPUSH", b"log", i.to_string().as_bytes()]);
    }
    settle(&mut primary, &mut replica);
    // CONFIG GET and CONFIG REWRITE know the primary, as Redis's do.
    let got: Vec<String> = q(&mut replica, &[b"CONFIG", b"GET", b"replicaof"]);
    assert_eq!(got, ["replicaof".to_string(), format!("127.0.0.1 {port}")]);
    let _: () = q(&mut replica, &[b"CONFIG", b"REWRITE"]);
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains(&format!("replicaof 127.0.0.1 {port}\n")),
        "{text}"
    );
    drop(replica);
    kv.signal("TERM");
    assert!(kv.wait_exit().success());
    for i in 100..200 {
        let _: i64 = q(&mut primary, &[b"RPUSH", b"log", i.to_string().as_bytes()]);
    }
    let kv = Server::start_raw(&args);
    let mut replica = kv.client();
    settle(&mut primary, &mut replica);
    assert!(
        kv.log().contains("resuming replication from"),
        "{}",
        kv.log()
    );
    let stat = |con: &mut Connection, f: &str| info_field(con, "stats", f).unwrap();
    assert_eq!(stat(&mut primary, "sync_full"), "1");
    assert_eq!(stat(&mut primary, "sync_partial_ok"), "1");
    assert_eq!(q::<i64>(&mut replica, &[b"LLEN", b"log"]), 200);
    assert_eq!(dataset(&mut replica), dataset(&mut primary));
}

#[test]
fn a_replica_retries_an_unreachable_primary_until_it_answers() {
    let port = super::ports::free_port();
    let kv = Server::start(&[]);
    let mut replica = kv.client();
    replicaof(&mut replica, port);
    // Nothing listens there yet: the link stays down and the replica keeps its old role.
    let _ = kv.log_with("retrying in a second");
    assert_eq!(
        info_field(&mut replica, "replication", "master_link_status").as_deref(),
        Some("down")
    );
    assert_eq!(
        info_field(
            &mut replica,
            "replication",
            "master_link_down_since_seconds"
        )
        .as_deref(),
        Some("-1"),
        "never up"
    );
    let role: Vec<Value> = q(&mut replica, &[b"ROLE"]);
    assert_eq!(role[4], Value::Int(-1));
    let dir = TempDir::new("replica-late");
    let port_s = port.to_string();
    let args = ["--port", port_s.as_str(), "--bind", "127.0.0.1"];
    let Some(_redis) = RedisServer::start(dir.path(), &args) else {
        return;
    };
    let mut primary = tcp(port);
    let _: () = q(&mut primary, &[b"SET", b"late", b"yes"]);
    settle(&mut primary, &mut replica);
    assert_eq!(q::<Vec<u8>>(&mut replica, &[b"GET", b"late"]), b"yes");
}

/// A scripted primary's side of one connection: reads the replica's commands as RESP arrays.
struct FakePrimary {
    reader: std::io::BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
}

impl FakePrimary {
    fn accept(listener: &std::net::TcpListener) -> FakePrimary {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        FakePrimary {
            reader: std::io::BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut l = String::new();
        self.reader.read_line(&mut l).unwrap();
        l.trim_end().to_string()
    }

    fn command(&mut self) -> Vec<String> {
        use std::io::Read;
        let n: usize = self.line().strip_prefix('*').unwrap().parse().unwrap();
        (0..n)
            .map(|_| {
                let len: usize = self.line().strip_prefix('$').unwrap().parse().unwrap();
                let mut b = vec![0; len + 2];
                self.reader.read_exact(&mut b).unwrap();
                String::from_utf8(b[..len].to_vec()).unwrap()
            })
            .collect()
    }

    /// Answers `reply` to the next command, which must be `want`.
    fn expect(&mut self, want: &[&str], reply: &[u8]) {
        assert_eq!(self.command(), want);
        self.send(reply);
    }

    fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.writer.write_all(bytes).unwrap();
    }

    /// Reads REPLCONF ACKs until one acknowledges `offset` (the replica also sends one a
    /// second).
    fn wait_ack(&mut self, offset: usize) {
        loop {
            let c = self.command();
            assert_eq!(c[..2], ["REPLCONF", "ACK"], "{c:?}");
            let got: usize = c[2].parse().unwrap();
            assert!(got <= offset, "ACK {got} past {offset}");
            if got == offset {
                return;
            }
        }
    }
}

#[test]
fn the_handshake_transfer_acks_and_partial_resync_on_the_wire() {
    // A real RDB holding `k`, written by redis-server.
    let dir = TempDir::new("replica-wire-rdb");
    let Some(redis) = RedisServer::start(dir.path(), &[]) else {
        return;
    };
    let mut con = redis::Client::open(format!("unix://{}", redis.socket))
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = q(&mut con, &[b"SET", b"k", b"v"]);
    let _: () = q(&mut con, &[b"SAVE"]);
    drop(redis);
    let rdb = std::fs::read(format!("{}/dump.rdb", dir.path())).unwrap();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fport = listener.local_addr().unwrap().port();
    let kv = Server::start(&[]);
    let mut replica = kv.client();
    for (name, value) in [("masteruser", "repl"), ("masterauth", "secret")] {
        let _: () = q(
            &mut replica,
            &[b"CONFIG", b"SET", name.as_bytes(), value.as_bytes()],
        );
    }
    replicaof(&mut replica, fport);
    let mut p = FakePrimary::accept(&listener);
    let kv_port = kv.port().to_string();
    p.expect(&["PING"], b"+PONG\r\n");
    p.expect(&["AUTH", "repl", "secret"], b"+OK\r\n");
    p.expect(&["REPLCONF", "listening-port", &kv_port], b"+OK\r\n");
    p.expect(&["REPLCONF", "capa", "eof", "capa", "psync2"], b"+OK\r\n");
    let id = "a".repeat(40);
    p.expect(
        &["PSYNC", "?", "-1"],
        format!("+FULLRESYNC {id} 100\r\n\n\n").as_bytes(),
    );
    // Part of the RDB: the replica reports the transfer.
    p.send(format!("${}\r\n", rdb.len()).as_bytes());
    p.send(&rdb[..10]);
    wait_for("the transfer to show", || {
        info_field(&mut replica, "replication", "master_sync_read_bytes").as_deref() == Some("10")
    });
    let total = rdb.len().to_string();
    assert_eq!(
        info_field(&mut replica, "replication", "master_sync_total_bytes").as_deref(),
        Some(total.as_str())
    );
    assert_eq!(
        info_field(&mut replica, "replication", "master_sync_in_progress").as_deref(),
        Some("1")
    );
    let role: Vec<Value> = q(&mut replica, &[b"ROLE"]);
    assert_eq!(role[3], Value::BulkString(b"sync".to_vec()));
    p.send(&rdb[10..]);
    p.wait_ack(100);
    let stream = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n";
    let getack = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
    p.send(stream);
    p.send(getack);
    // The answer to GETACK counts the stream before it.
    p.wait_ack(100 + stream.len());
    assert_eq!(q::<Vec<u8>>(&mut replica, &[b"GET", b"k"]), b"v");
    assert_eq!(q::<Vec<u8>>(&mut replica, &[b"GET", b"a"]), b"1");
    let offset = 100 + stream.len() + getack.len();
    wait_for("the offset", || {
        info_field(&mut replica, "replication", "slave_repl_offset") == Some(offset.to_string())
    });

    // The link drops: the replica asks for the byte after its offset and keeps its data.
    drop(p);
    let mut p = FakePrimary::accept(&listener);
    p.expect(&["PING"], b"+PONG\r\n");
    p.expect(&["AUTH", "repl", "secret"], b"+OK\r\n");
    p.expect(&["REPLCONF", "listening-port", &kv_port], b"+OK\r\n");
    p.expect(&["REPLCONF", "capa", "eof", "capa", "psync2"], b"+OK\r\n");
    let next = (offset + 1).to_string();
    let new_id = "b".repeat(40);
    p.expect(
        &["PSYNC", &id, &next],
        format!("+CONTINUE {new_id}\r\n").as_bytes(),
    );
    let set_b = b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n";
    p.send(set_b);
    p.wait_ack(offset + set_b.len());
    assert_eq!(q::<Vec<u8>>(&mut replica, &[b"GET", b"k"]), b"v");
    assert_eq!(q::<Vec<u8>>(&mut replica, &[b"GET", b"b"]), b"2");

    // The new replication id is the one asked for next time.
    drop(p);
    let mut p = FakePrimary::accept(&listener);
    for _ in 0..4 {
        let _ = p.command();
        p.send(b"+OK\r\n");
    }
    let next = (offset + set_b.len() + 1).to_string();
    assert_eq!(p.command(), ["PSYNC", &new_id, &next]);
}
