//! Redis's RDB between kv and a live redis-server, both ways: a dump.rdb that redis-server
//! saved is imported with `kvserver import` and reads the same from a restarted kvserver;
//! `kvserver export` writes an RDB that `redis-check-rdb` accepts and redis-server loads to
//! the same data; DUMP payloads travel kv → Redis → kv for every type and encoding; a file
//! with a module value or damage is refused naming the key, and nothing of it is stored.
//!
//! redis-server is found on the PATH and started on a Unix socket in a temporary directory;
//! without it the tests say so and pass, unless `KV_REQUIRE_CLIENTS` is set (as `.ci/run`
//! sets it).

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use redis::Value;

use super::support::{PATIENCE, RedisServer, Server, TempDir};

/// A redis-server with DEBUG enabled, and a client that waits out its RDB loading.
struct Redis(RedisServer);

impl Redis {
    /// Starts redis-server in `dir` (loading `dir/dump.rdb` if it is there), or None (after
    /// saying why) when it is not installed.
    fn start(dir: &TempDir) -> Option<Redis> {
        let server = RedisServer::start(dir.path(), &["--enable-debug-command", "yes"])?;
        let redis = Redis(server);
        let deadline = Instant::now() + PATIENCE;
        while redis.try_client().is_none() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(redis)
    }

    fn try_client(&self) -> Option<redis::Connection> {
        let mut c = redis::Client::open(format!("unix://{}", self.0.socket))
            .ok()?
            .get_connection()
            .ok()?;
        // A server still loading its RDB answers -LOADING.
        redis::cmd("PING").query::<String>(&mut c).ok()?;
        Some(c)
    }

    fn client(&self) -> redis::Connection {
        self.try_client().expect("redis-server answers")
    }
}

fn run(con: &mut redis::Connection, args: &[&[u8]]) -> Value {
    let mut c = redis::cmd(std::str::from_utf8(args[0]).expect("a command name"));
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(&args.concat())))
}

fn q(con: &mut redis::Connection, line: &str) -> Value {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    run(con, &args)
}

/// Every type in every encoding, expiring keys, several databases, a function library.
fn populate(con: &mut redis::Connection) {
    let big = "the-quick-brown-fox-".repeat(60);
    for line in [
        "SET s hello".to_string(),
        "SET n 12345".into(),
        format!("SET big {big}"),
        "SET ttl v PX 100000000".into(),
        "RPUSH l a b 1 -2 300 70000 5000000000".into(),
        "HSET h f v g 2".into(),
        format!("HSET hlong f {big}"),
        "SADD si 1 2 3 -40000".into(),
        "SADD ss a b c".into(),
        "ZADD z 1.5 a 2 b -0.1 c inf d".into(),
        format!("ZADD zlong 1 {big} 2 x"),
        "SELECT 2".into(),
        "SET other db2".into(),
        "HSET h2 a 1".into(),
        "SELECT 0".into(),
        "FUNCTION LOAD #!lua\x20name=mylib\nredis.register_function('f1',function()\x20return\x201\x20end)".into(),
    ] {
        let args: Vec<&[u8]> = line.splitn(if line.starts_with("FUNCTION") { 3 } else { 99 }, ' ')
            .map(str::as_bytes)
            .collect();
        run(con, &args);
    }
    for i in 0..3000 {
        q(con, &format!("RPUSH lbig element-{i}"));
    }
    for i in 0..600 {
        q(con, &format!("HSET hbig field{i} {i}"));
        q(con, &format!("SADD sbig member{i}"));
    }
    for i in 0..300 {
        q(con, &format!("ZADD zbig {} m{i}", f64::from(i) / 7.0));
    }
    for i in 1..=250 {
        let extra = if i % 10 == 0 { " other x" } else { "" };
        q(con, &format!("XADD x {i}-1 field value{i}{extra}"));
    }
    for line in [
        "XDEL x 5-1 6-1 120-1",
        "XGROUP CREATE x g 0",
        "XGROUP CREATE x empty $",
        "XREADGROUP GROUP g alice COUNT 5 STREAMS x >",
        "XREADGROUP GROUP g bob COUNT 3 STREAMS x >",
        "XACK x g 2-1",
        "XGROUP CREATECONSUMER x g carol",
        "XADD xe MAXLEN 0 7-7 f v",
    ] {
        q(con, line);
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        Value::Nil => "nil".into(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(text).collect();
            format!("[{}]", parts.join(" "))
        }
        other => format!("{other:?}"),
    }
}

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        _ => Vec::new(),
    }
}

/// The whole dataset as text, in an order that does not depend on either server's hashing:
/// every key of databases 0 to 3 with its type, content, whether it expires, and a stream's
/// counters, groups and pending entries (without times that move).
fn snapshot(con: &mut redis::Connection) -> Vec<String> {
    let mut out = Vec::new();
    for db in 0..4 {
        q(con, &format!("SELECT {db}"));
        let mut keys: Vec<String> = items(&q(con, "KEYS *")).iter().map(text).collect();
        keys.sort();
        for k in keys {
            let t = text(&q(con, &format!("TYPE {k}")));
            let ttl = match q(con, &format!("PTTL {k}")) {
                Value::Int(n) if n > 0 => "expires",
                _ => "persists",
            };
            let content = match t.as_str() {
                "string" => text(&q(con, &format!("GET {k}"))),
                "list" => text(&q(con, &format!("LRANGE {k} 0 -1"))),
                // Scores as numbers: Redis 7.0 prints 17 digits where kv prints the shortest
                // text that reads back the same (a known, documented difference).
                "zset" => items(&q(con, &format!("ZRANGE {k} 0 -1 WITHSCORES")))
                    .chunks(2)
                    .map(|p| {
                        let score: f64 = text(&p[1]).parse().expect("a score");
                        format!("{}={score}", text(&p[0]))
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                "set" | "hash" => {
                    let cmd = if t == "set" { "SMEMBERS" } else { "HGETALL" };
                    let all = items(&q(con, &format!("{cmd} {k}")));
                    let mut parts: Vec<String> = if t == "set" {
                        all.iter().map(text).collect()
                    } else {
                        all.chunks(2)
                            .map(|p| format!("{}={}", text(&p[0]), text(&p[1])))
                            .collect()
                    };
                    parts.sort();
                    parts.join(" ")
                }
                "stream" => stream(con, &k),
                other => panic!("unexpected type {other}"),
            };
            let enc = text(&q(con, &format!("OBJECT ENCODING {k}")));
            out.push(format!("db{db} {k} {t} {enc} {ttl}: {content}"));
        }
    }
    q(con, "SELECT 0");
    out
}

fn stream(con: &mut redis::Connection, k: &str) -> String {
    let mut s = text(&q(con, &format!("XRANGE {k} - +")));
    let info = items(&q(con, &format!("XINFO STREAM {k}")));
    for pair in info.chunks(2) {
        let name = text(&pair[0]);
        if !name.starts_with("radix") {
            s += &format!(" {name}={}", text(&pair[1]));
        }
    }
    for g in items(&q(con, &format!("XINFO GROUPS {k}"))) {
        let fields = items(&g);
        s += &format!(" group{}", text(&Value::Array(fields.clone())));
        let name = text(&fields[1]);
        for p in items(&q(con, &format!("XPENDING {k} {name} - + 100"))) {
            let p = items(&p);
            s += &format!(" pending {} {} {}", text(&p[0]), text(&p[1]), text(&p[3]));
        }
        for c in items(&q(con, &format!("XINFO CONSUMERS {k} {name}"))) {
            let c = items(&c);
            s += &format!(" consumer {} {}", text(&c[1]), text(&c[3]));
        }
    }
    s
}

/// Fails with the lines that differ.
fn same(got: &[String], expected: &[String]) {
    let diff: Vec<String> = got
        .iter()
        .filter(|l| !expected.contains(l))
        .map(|l| format!("+ {l}"))
        .chain(
            expected
                .iter()
                .filter(|l| !got.contains(l))
                .map(|l| format!("- {l}")),
        )
        .collect();
    assert!(diff.is_empty(), "differences:\n{}", diff.join("\n"));
    assert_eq!(got.len(), expected.len());
}

fn kvserver(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kvserver"))
        .args(args)
        .output()
        .expect("kvserver runs")
}

#[test]
fn a_redis_dump_rdb_imports_into_kv() {
    let rdir = TempDir::new("rdb-import-redis");
    let Some(redis) = Redis::start(&rdir) else {
        return;
    };
    let mut rc = redis.client();
    populate(&mut rc);
    // And keys as Redis's DEBUG POPULATE makes them (int-encoded names, embstr values).
    q(&mut rc, "SELECT 1");
    q(&mut rc, "DEBUG POPULATE 2000 pop 30");
    q(&mut rc, "SELECT 0");
    q(&mut rc, "SAVE");
    let expected = snapshot(&mut rc);
    assert!(expected.len() > 15, "{expected:?}");

    let kdir = TempDir::new("rdb-import-kv");
    let file = format!("{}/dump.rdb", rdir.path());
    let out = kvserver(&["--data-dir", kdir.path(), "import", &file]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 function libraries"), "{stdout}");
    // A new process reads the imported data back from the data directory: it was logged.
    let kv = Server::durable(&kdir, "always");
    let mut kc = kv.client();
    same(&snapshot(&mut kc), &expected);
    assert_eq!(q(&mut kc, "FCALL f1 0"), Value::Int(1));
}

#[test]
fn a_kv_rdb_file_loads_into_redis() {
    let kdir = TempDir::new("rdb-export-kv");
    let expected = {
        let kv = Server::durable(&kdir, "always");
        let mut kc = kv.client();
        populate(&mut kc);
        snapshot(&mut kc)
    };
    let rdir = TempDir::new("rdb-export-redis");
    std::fs::create_dir_all(rdir.path()).expect("temp dir");
    let file = format!("{}/dump.rdb", rdir.path());
    let out = kvserver(&["--data-dir", kdir.path(), "export", &file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let Some(redis) = Redis::start(&rdir) else {
        return;
    };
    if let Ok(check) = Command::new("redis-check-rdb").arg(&file).output() {
        let report = String::from_utf8_lossy(&check.stdout);
        assert!(
            check.status.success() && report.contains("RDB looks OK"),
            "{report}"
        );
    }
    let mut rc = redis.client();
    same(&snapshot(&mut rc), &expected);
    assert_eq!(q(&mut rc, "FCALL f1 0"), Value::Int(1));
}

#[test]
fn dump_payloads_travel_kv_to_redis_and_back() {
    let rdir = TempDir::new("rdb-dump-redis");
    let Some(redis) = Redis::start(&rdir) else {
        return;
    };
    let kv = Server::start(&[]);
    let (mut kc, mut rc) = (kv.client(), redis.client());
    populate(&mut kc);
    let expected = snapshot(&mut kc);
    let keys: Vec<String> = items(&q(&mut kc, "KEYS *")).iter().map(text).collect();
    for k in &keys {
        let Value::BulkString(payload) = run(&mut kc, &[b"DUMP", k.as_bytes()]) else {
            panic!("DUMP {k}");
        };
        run(&mut rc, &[b"RESTORE", k.as_bytes(), b"0", &payload]);
        let Value::BulkString(back) = run(&mut rc, &[b"DUMP", k.as_bytes()]) else {
            panic!("DUMP {k} from redis");
        };
        // Redis's bytes are kv's wherever its encoding does not follow its hash order.
        let enc = text(&q(&mut rc, &format!("OBJECT ENCODING {k}")));
        if enc != "hashtable" {
            assert_eq!(back, payload, "{k} ({enc}) dumps the same bytes from both");
        }
        run(
            &mut kc,
            &[b"RESTORE", k.as_bytes(), b"0", &back, b"REPLACE"],
        );
    }
    q(&mut rc, "SELECT 0");
    let mut from_redis = snapshot(&mut rc);
    // TTLs and other databases were not copied: compare database 0's keys, TTLs aside.
    let strip = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|l| l.starts_with("db0 "))
            .map(|l| l.replace(" expires:", " persists:"))
            .collect()
    };
    from_redis.retain(|l| l.starts_with("db0 "));
    same(&strip(&from_redis), &strip(&expected));
    let after = snapshot(&mut kc);
    same(&strip(&after), &strip(&expected));
}

/// An RDB file: the header, `body`, EOF and a zero checksum (what Redis writes with
/// `rdbchecksum no`, which loaders accept unchecked).
fn rdb_with(body: &[u8]) -> Vec<u8> {
    let mut f = b"REDIS0010".to_vec();
    f.extend_from_slice(body);
    f.push(0xff);
    f.extend_from_slice(&[0; 8]); // 0: no checksum, as `rdbchecksum no` writes
    f
}

#[test]
fn a_module_value_or_damage_is_refused_and_nothing_is_loaded() {
    let dir = TempDir::new("rdb-refuse");
    std::fs::create_dir_all(dir.path()).expect("temp dir");
    let file = format!("{}/bad.rdb", dir.path());
    // db 0: a string, then a module value (type 7) under key "modkey".
    let module =
        rdb_with(b"\xfe\x00\x00\x02ok\x02v1\x07\x06modkey\x81\x00\x00\x00\x00\x00\x00\x00\x01");
    std::fs::write(&file, &module).unwrap();
    let data = format!("{}/data", dir.path());
    let out = kvserver(&["--data-dir", &data, "import", &file]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("\"modkey\"") && err.contains("module"),
        "{err}"
    );
    // A value cut short names its key too.
    std::fs::write(
        &file,
        rdb_with(b"\xfe\x00\x00\x02ok\x02v1\x00\x03cut\x10abc"),
    )
    .unwrap();
    let out = kvserver(&["--data-dir", &data, "import", &file]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("\"cut\""), "{err}");
    // A file whose checksum does not match.
    let mut crc = rdb_with(b"\xfe\x00\x00\x02ok\x02v1");
    let n = crc.len();
    crc[n - 1] = 1;
    std::fs::write(&file, &crc).unwrap();
    let out = kvserver(&["--data-dir", &data, "import", &file]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("CRC-64"), "{err}");
    // The good key before the bad one was not stored either.
    let kv = Server::start_raw(&["--bind", "127.0.0.1", "--port", "0", "--data-dir", &data]);
    assert_eq!(q(&mut kv.client(), "DBSIZE"), Value::Int(0));
}

/// RESTOREd values are logged like any write, a stream's consumer groups included (they are
/// logged after the stream's value): a kill -9 right after loses none of them.
#[test]
fn restored_values_survive_kill_9() {
    let dir = TempDir::new("rdb-restore-kill");
    let expected = {
        let kv = Server::durable(&dir, "always");
        let mut kc = kv.client();
        populate(&mut kc);
        let keys: Vec<String> = items(&q(&mut kc, "KEYS *")).iter().map(text).collect();
        for k in &keys {
            let Value::BulkString(payload) = run(&mut kc, &[b"DUMP", k.as_bytes()]) else {
                panic!("DUMP {k}");
            };
            let copy = format!("copy:{k}");
            run(&mut kc, &[b"RESTORE", copy.as_bytes(), b"0", &payload]);
        }
        snapshot(&mut kc)
        // Dropping the server kills it with SIGKILL.
    };
    assert!(expected.iter().any(|l| l.starts_with("db0 copy:x stream")));
    let kv = Server::durable(&dir, "always");
    same(&snapshot(&mut kv.client()), &expected);
}

/// Random values of every type (element counts and sizes around the encoding thresholds,
/// integer-like, binary and long elements, scores of every kind, streams with deletions and
/// groups) built in kv, DUMPed, RESTOREd into redis-server, DUMPed there and RESTOREd back:
/// every copy reads the same as the original, and Redis's bytes equal kv's wherever Redis's
/// encoding does not follow its hash order.
#[test]
fn random_values_round_trip_through_redis() {
    let rdir = TempDir::new("rdb-random-redis");
    let Some(redis) = Redis::start(&rdir) else {
        return;
    };
    let kv = Server::start(&[]);
    let (mut kc, mut rc) = (kv.client(), redis.client());
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n.max(1)
    };
    let element = |rand: &mut dyn FnMut(u64) -> u64| -> Vec<u8> {
        match rand(6) {
            0 => (rand(1 << 40) as i64 - (1 << 39)).to_string().into_bytes(),
            1 => rand(300).to_string().into_bytes(),
            2 => (0..rand(8)).map(|_| rand(256) as u8).collect(),
            3 => vec![b'x'; 60 + rand(10) as usize],
            4 => format!("e{}", rand(1000)).into_bytes(),
            _ => b"abc".repeat(rand(40) as usize),
        }
    };
    let mut keys = Vec::new();
    for round in 0..60 {
        let key = format!("k{round}");
        let n = [1, 5, 100, 127, 129, 511, 513, 700][rand(8) as usize];
        match round % 5 {
            0 => {
                for _ in 0..n {
                    let e = element(&mut rand);
                    run(&mut kc, &[b"RPUSH", key.as_bytes(), &e]);
                }
            }
            1 => {
                let ints = rand(2) == 0;
                for _ in 0..n {
                    let e = if ints {
                        (rand(1 << 20) as i64 - (1 << 19)).to_string().into_bytes()
                    } else {
                        element(&mut rand)
                    };
                    run(&mut kc, &[b"SADD", key.as_bytes(), &e]);
                }
            }
            2 => {
                for _ in 0..n {
                    let (f, v) = (element(&mut rand), element(&mut rand));
                    run(&mut kc, &[b"HSET", key.as_bytes(), &f, &v]);
                }
            }
            3 => {
                for _ in 0..n {
                    let score = match rand(5) {
                        0 => rand(100).to_string(),
                        1 => format!("{}", (rand(1 << 30) as f64) / 1024.0 - 1e5),
                        2 => format!("{}e{}", rand(10), rand(40)),
                        3 => ["inf", "-inf", "0.1", "-0"][rand(4) as usize].to_string(),
                        _ => format!("{}", rand(1 << 53)),
                    };
                    let m = element(&mut rand);
                    run(&mut kc, &[b"ZADD", key.as_bytes(), score.as_bytes(), &m]);
                }
            }
            _ => {
                for i in 1..=n {
                    let (f, v) = (element(&mut rand), element(&mut rand));
                    let id = format!("{}-{}", i / 3 + 1, i % 3);
                    let f = if f.is_empty() { b"f".to_vec() } else { f };
                    run(&mut kc, &[b"XADD", key.as_bytes(), id.as_bytes(), &f, &v]);
                    if rand(7) == 0 {
                        run(&mut kc, &[b"XDEL", key.as_bytes(), id.as_bytes()]);
                    }
                }
                q(&mut kc, &format!("XGROUP CREATE {key} g 0"));
                q(
                    &mut kc,
                    &format!("XREADGROUP GROUP g c{} COUNT 7 STREAMS {key} >", rand(3)),
                );
            }
        }
        keys.push(key);
    }
    let expected = snapshot(&mut kc);
    for k in &keys {
        let Value::BulkString(payload) = run(&mut kc, &[b"DUMP", k.as_bytes()]) else {
            continue; // an emptied stream-less key: nothing to copy
        };
        run(&mut rc, &[b"RESTORE", k.as_bytes(), b"0", &payload]);
        let Value::BulkString(back) = run(&mut rc, &[b"DUMP", k.as_bytes()]) else {
            panic!("DUMP {k} from redis");
        };
        let enc = text(&q(&mut rc, &format!("OBJECT ENCODING {k}")));
        if enc != "hashtable" {
            assert_eq!(back, payload, "{k} ({enc}) dumps the same bytes from both");
        }
        run(
            &mut kc,
            &[b"RESTORE", k.as_bytes(), b"0", &back, b"REPLACE"],
        );
    }
    same(&snapshot(&mut rc), &expected);
    same(&snapshot(&mut kc), &expected);
}
