//! kv as a replication primary: real redis-server replicas (`--replicaof`) follow it through a
//! full sync with writes running, partial resyncs, a backlog overrun, WAIT and a replica's
//! kill -9; and the raw stream a PSYNC client reads (SELECT, MULTI/EXEC around a transaction
//! and a script).
//!
//! Without redis-server installed the tests that need it say so and pass, unless
//! `KV_REQUIRE_CLIENTS` is set (as `.ci/run` sets it).

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::Value;

use super::support::{PATIENCE, RedisServer, Server, TempDir, info_field, resp};

/// A redis-server replica of `primary`, and a client of it.
struct Replica {
    server: RedisServer,
}

impl Replica {
    fn start(dir: &TempDir, primary: &Server) -> Option<Replica> {
        let port = primary.port().to_string();
        let server = RedisServer::start(
            dir.path(),
            &[
                "--replicaof",
                "127.0.0.1",
                &port,
                "--repl-diskless-load",
                "disabled",
            ],
        )?;
        Some(Replica { server })
    }

    fn client(&self) -> redis::Connection {
        redis::Client::open(format!("unix://{}", self.server.socket))
            .unwrap()
            .get_connection()
            .expect("replica answers")
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        if Instant::now() >= deadline {
            for log in glob_logs() {
                eprintln!("{log}");
            }
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the replica is linked and has processed everything kv has streamed.
fn caught_up(kv: &mut redis::Connection, replica: &mut redis::Connection) {
    wait_for("the replica to catch up", || {
        let primary = info_field(kv, "replication", "master_repl_offset");
        let link = info_field(replica, "replication", "master_link_status");
        let done = info_field(replica, "replication", "master_repl_offset");
        link.as_deref() == Some("up") && primary.is_some() && primary == done
    });
}

fn q(con: &mut redis::Connection, line: &str) -> Value {
    let mut c = redis::cmd(line.split(' ').next().unwrap());
    for a in line.split(' ').skip(1) {
        c.arg(a);
    }
    c.query(con).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// Every key of every database read back by type (values sorted where order is not data),
/// with its absolute expiry.
fn dataset(con: &mut redis::Connection) -> BTreeMap<(u32, Vec<u8>), String> {
    let mut all = BTreeMap::new();
    for db in 0..16u32 {
        q(con, &format!("SELECT {db}"));
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).unwrap();
        for key in keys {
            let ty: String = redis::cmd("TYPE").arg(&key).query(con).unwrap();
            let read = |c: &str, args: &[&str], con: &mut redis::Connection| -> Value {
                let mut cmd = redis::cmd(c);
                cmd.arg(&key);
                for a in args {
                    cmd.arg(*a);
                }
                cmd.query(con).unwrap()
            };
            let mut value = match ty.as_str() {
                "string" => format!("{:?}", read("GET", &[], con)),
                "list" => format!("{:?}", read("LRANGE", &["0", "-1"], con)),
                "hash" => {
                    let mut m: Vec<(Vec<u8>, Vec<u8>)> =
                        redis::cmd("HGETALL").arg(&key).query(con).unwrap();
                    m.sort();
                    format!("{m:?}")
                }
                "set" => {
                    let mut m: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(&key).query(con).unwrap();
                    m.sort();
                    format!("{m:?}")
                }
                "zset" => {
                    // Scores as numbers: Redis 7.0 prints them with %.17g, kv as 7.2 does.
                    let m: Vec<(Vec<u8>, f64)> = redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query(con)
                        .unwrap();
                    format!("{m:?}")
                }
                "stream" => format!(
                    "{:?} {:?}",
                    read("XRANGE", &["-", "+"], con),
                    read("XLEN", &[], con)
                ),
                other => panic!("unexpected type {other}"),
            };
            if ty == "stream" {
                // Consumer groups: names, last-delivered IDs, pending counts.
                let groups = redis::cmd("XINFO")
                    .arg("GROUPS")
                    .arg(&key)
                    .query::<Value>(con);
                value = format!("{value} {groups:?}");
            }
            let at: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(con).unwrap();
            all.insert((db, key), format!("{ty} {value} at={at}"));
        }
    }
    q(con, "SELECT 0");
    all
}

fn write_every_type(con: &mut redis::Connection, tag: &str) {
    for line in [
        format!("SET {tag}:s hello"),
        format!("SET {tag}:n 12345"),
        format!("SET {tag}:ttl v PX 600000"),
        format!("RPUSH {tag}:l a b c d"),
        format!("LPUSH {tag}:l z"),
        format!("LSET {tag}:l 1 q"),
        format!("HSET {tag}:h f1 v1 f2 v2 f3 3"),
        format!("HINCRBY {tag}:h f3 4"),
        format!("SADD {tag}:is 1 2 3"),
        format!("SADD {tag}:ss a b c"),
        format!("SREM {tag}:ss b"),
        format!("ZADD {tag}:z 1.5 a 2 b -3.25 c"),
        format!("ZINCRBY {tag}:z 0.1 a"),
        format!("XADD {tag}:x 1-1 f v"),
        format!("XADD {tag}:x * g w"),
        format!("XADD {tag}:x MAXLEN 5 * h u"),
        format!("XGROUP CREATE {tag}:x grp 0"),
        format!("XREADGROUP GROUP grp alice COUNT 1 STREAMS {tag}:x >"),
        format!("INCRBYFLOAT {tag}:f 1.25"),
        format!("APPEND {tag}:s !"),
        format!("SETRANGE {tag}:s 1 E"),
        format!("EXPIRE {tag}:n 5000"),
        format!("SET {tag}:gone x"),
        format!("DEL {tag}:gone"),
        format!("RENAME {tag}:f {tag}:f2"),
    ] {
        q(con, &line);
    }
    q(con, "SELECT 2");
    q(con, &format!("SET {tag}:db2 two"));
    q(con, &format!("COPY {tag}:db2 {tag}:copied DB 3"));
    q(con, "SELECT 0");
}

#[test]
fn a_redis_replica_follows_kv_through_a_full_sync_with_writes_running() {
    let dir = TempDir::new("repl-full");
    let kv = Server::start(&[]);
    let mut con = kv.client();
    write_every_type(&mut con, "before");
    q(&mut con, "SET expiring v PX 300");
    // A writer of non-idempotent commands runs across the full sync.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let mut c = kv.client();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) || i < 3000 {
                let _: () = redis::pipe()
                    .cmd("RPUSH")
                    .arg("counter-list")
                    .arg(i)
                    .ignore()
                    .cmd("INCR")
                    .arg("counter")
                    .ignore()
                    .query(&mut c)
                    .unwrap();
                i += 1;
            }
            i
        })
    };
    let Some(replica) = Replica::start(&dir, &kv) else {
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        return;
    };
    let mut rcon = replica.client();
    wait_for("the link", || {
        info_field(&mut rcon, "replication", "master_link_status").as_deref() == Some("up")
    });
    write_every_type(&mut con, "during");
    stop.store(true, Ordering::Relaxed);
    let pushed = writer.join().unwrap();
    write_every_type(&mut con, "after");
    // A transaction, a script, a flush of one database and a swap.
    q(&mut con, "MULTI");
    q(&mut con, "SET tx:a 1");
    q(&mut con, "INCR tx:a");
    q(&mut con, "LPUSH tx:l x");
    q(&mut con, "EXEC");
    let _: Value = redis::cmd("EVAL")
        .arg("redis.call('SET', KEYS[1], 'x'); redis.call('RPUSH', KEYS[2], 'y'); return 1")
        .arg(2)
        .arg("script:a")
        .arg("script:b")
        .query(&mut con)
        .unwrap();
    q(&mut con, "SELECT 5");
    q(&mut con, "SET doomed 1");
    q(&mut con, "FLUSHDB");
    q(&mut con, "SET in5 1");
    q(&mut con, "SELECT 0");
    q(&mut con, "SWAPDB 3 4");
    // A key that expires on kv is deleted on the replica by the stream's DEL.
    wait_for("the key to expire on kv", || {
        q(&mut con, "GET expiring") == Value::Nil
    });
    caught_up(&mut con, &mut rcon);
    let ours = dataset(&mut con);
    let theirs = dataset(&mut rcon);
    assert_eq!(ours.len(), theirs.len());
    for (k, v) in &ours {
        assert_eq!(Some(v), theirs.get(k), "key {k:?}");
    }
    assert!(!theirs.contains_key(&(0, b"expiring".to_vec())));
    // Every push exactly once, in order.
    let list: Vec<u64> = redis::cmd("LRANGE")
        .arg("counter-list")
        .arg(0)
        .arg(-1)
        .query(&mut rcon)
        .unwrap();
    assert_eq!(list, (0..pushed).collect::<Vec<_>>());
    let counter: u64 = redis::cmd("GET").arg("counter").query(&mut rcon).unwrap();
    assert_eq!(counter, pushed);
    assert_eq!(
        info_field(&mut con, "replication", "connected_slaves").as_deref(),
        Some("1")
    );
    let n: i64 = redis::cmd("WAIT").arg(1).arg(0).query(&mut con).unwrap();
    assert_eq!(n, 1);
    let n: i64 = redis::cmd("WAIT").arg(2).arg(100).query(&mut con).unwrap();
    assert_eq!(n, 1, "one replica acknowledged; WAIT 2 times out with 1");
}

#[test]
fn a_killed_replica_connection_resyncs_partially_and_a_lost_backlog_fully() {
    let dir = TempDir::new("repl-partial");
    let kv = Server::start(&[]);
    let mut con = kv.client();
    q(&mut con, "SET a 1");
    let Some(replica) = Replica::start(&dir, &kv) else {
        return;
    };
    let mut rcon = replica.client();
    caught_up(&mut con, &mut rcon);
    assert_eq!(
        info_field(&mut con, "stats", "sync_full").as_deref(),
        Some("1")
    );
    // CLIENT KILL TYPE replica: the replica reconnects and continues from the backlog.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut con)
        .unwrap();
    assert_eq!(killed, 1);
    q(&mut con, "SET b 2");
    wait_for("the partial resync", || {
        info_field(&mut con, "stats", "sync_partial_ok").as_deref() == Some("1")
    });
    caught_up(&mut con, &mut rcon);
    assert_eq!(q(&mut rcon, "GET b"), Value::BulkString(b"2".to_vec()));
    assert_eq!(
        info_field(&mut con, "stats", "sync_full").as_deref(),
        Some("1")
    );

    // A stopped replica whose stream passes the backlog and its output limit is dropped; it
    // comes back with an offset the backlog no longer holds, and gets a full resync.
    q(&mut con, "CONFIG SET repl-backlog-size 16384");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("replica 65536 0 0")
        .query(&mut con)
        .unwrap();
    signal(replica.server.pid(), "STOP");
    let big = "x".repeat(100_000);
    for i in 0..300 {
        let _: () = redis::cmd("SET")
            .arg(format!("big{i}"))
            .arg(&big)
            .query(&mut con)
            .unwrap();
    }
    signal(replica.server.pid(), "CONT");
    wait_for("the full resync", || {
        info_field(&mut con, "stats", "sync_full").as_deref() == Some("2")
    });
    caught_up(&mut con, &mut rcon);
    assert_eq!(
        q(&mut rcon, "STRLEN big299"),
        Value::Int(100_000),
        "the replica has the data written while it was stopped"
    );
}

#[test]
fn a_replica_killed_with_sigkill_leaves_the_primary_serving() {
    let dir = TempDir::new("repl-kill");
    let kv = Server::start(&[]);
    let mut con = kv.client();
    let Some(replica) = Replica::start(&dir, &kv) else {
        return;
    };
    let mut rcon = replica.client();
    q(&mut con, "SET a 1");
    caught_up(&mut con, &mut rcon);
    signal(replica.server.pid(), "KILL");
    for i in 0..1000 {
        q(&mut con, &format!("SET k{i} {i}"));
    }
    wait_for("the replica to be gone", || {
        q(&mut con, "SET tick 1");
        info_field(&mut con, "replication", "connected_slaves").as_deref() == Some("0")
    });
    assert_eq!(q(&mut con, "GET k999"), Value::BulkString(b"999".to_vec()));
    let n: i64 = redis::cmd("WAIT").arg(1).arg(50).query(&mut con).unwrap();
    assert_eq!(n, 0);
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Reads one `\r\n`-terminated line.
fn line(stream: &mut std::net::TcpStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8];
    while !out.ends_with(b"\r\n") {
        stream.read_exact(&mut b).unwrap();
        out.push(b[0]);
    }
    String::from_utf8(out[..out.len() - 2].to_vec()).unwrap()
}

/// Reads exactly `bytes.len()` bytes and checks them.
fn expect(stream: &mut std::net::TcpStream, bytes: &[u8]) {
    let mut got = vec![0u8; bytes.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(
        got.escape_ascii().to_string(),
        bytes.escape_ascii().to_string()
    );
}

#[test]
fn the_stream_a_psync_client_reads_has_select_and_multi_exec() {
    use std::io::Write;
    let kv = Server::start(&[]);
    let mut con = kv.client();
    q(&mut con, "SET before 1");
    let mut s = std::net::TcpStream::connect(kv.addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(&resp(&[b"REPLCONF", b"listening-port", b"4321"]))
        .unwrap();
    assert_eq!(line(&mut s), "+OK");
    s.write_all(&resp(&[b"REPLCONF", b"capa", b"psync2"]))
        .unwrap();
    assert_eq!(line(&mut s), "+OK");
    s.write_all(&resp(&[b"PSYNC", b"?", b"-1"])).unwrap();
    let full = line(&mut s);
    let parts: Vec<&str> = full.split(' ').collect();
    assert_eq!(parts[0], "+FULLRESYNC");
    assert_eq!(parts[1].len(), 40);
    let offset: u64 = parts[2].parse().unwrap();
    let len: usize = line(&mut s)[1..].parse().unwrap();
    let mut rdb = vec![0u8; len];
    s.read_exact(&mut rdb).unwrap();
    assert!(rdb.starts_with(b"REDIS0010"));
    let expected = Value::Array(vec![
        Value::BulkString(b"master".to_vec()),
        Value::Int(offset as i64),
        Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"127.0.0.1".to_vec()),
            Value::BulkString(b"4321".to_vec()),
            Value::BulkString(offset.to_string().into_bytes()),
        ])]),
    ]);
    // The feeder marks the replica online right after the RDB is written.
    wait_for("ROLE to list the replica", || {
        q(&mut con, "ROLE") == expected
    });
    q(&mut con, "MULTI");
    q(&mut con, "SET a 1");
    q(&mut con, "RPUSH l x");
    q(&mut con, "EXEC");
    let _: Value = redis::cmd("EVAL")
        .arg("redis.call('DEL', KEYS[1]); redis.call('SADD', KEYS[2], 'm'); return 1")
        .arg(2)
        .arg("a")
        .arg("s")
        .query(&mut con)
        .unwrap();
    q(&mut con, "SELECT 1");
    q(&mut con, "PEXPIREAT l 4000000000000");
    let _: Value = redis::cmd("PEXPIREAT")
        .arg("nope")
        .arg(1)
        .query(&mut con)
        .unwrap();
    q(&mut con, "SET one 1");
    let mut stream = Vec::new();
    stream.extend(resp(&[b"SELECT", b"0"]));
    stream.extend(resp(&[b"MULTI"]));
    stream.extend(resp(&[b"SET", b"a", b"1"]));
    stream.extend(resp(&[b"RPUSH", b"l", b"x"]));
    stream.extend(resp(&[b"EXEC"]));
    stream.extend(resp(&[b"MULTI"]));
    stream.extend(resp(&[b"DEL", b"a"]));
    stream.extend(resp(&[b"SADD", b"s", b"m"]));
    stream.extend(resp(&[b"EXEC"]));
    stream.extend(resp(&[b"SELECT", b"1"]));
    stream.extend(resp(&[b"SET", b"one", b"1"]));
    expect(&mut s, &stream);
    // The replica acknowledges; WAIT counts it.
    s.write_all(&resp(&[
        b"REPLCONF",
        b"ACK",
        (offset + stream.len() as u64).to_string().as_bytes(),
    ]))
    .unwrap();
    let n: i64 = redis::cmd("WAIT").arg(1).arg(0).query(&mut con).unwrap();
    assert_eq!(n, 1);
}

/// The replicas' logs of this test process, to show when a wait times out.
fn glob_logs() -> Vec<String> {
    let suffix = format!("-{}", std::process::id());
    std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(&suffix))
        .filter_map(|e| std::fs::read_to_string(e.path().join("replica.log")).ok())
        .collect()
}
