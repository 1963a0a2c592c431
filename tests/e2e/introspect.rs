//! SLOWLOG and LATENCY through a real client: the entries' fields and arguments (capped and cut
//! as Redis 7.0 does), RESET and `slowlog-max-len` applied live, LATENCY HISTOGRAM's calls and
//! cumulative buckets, the latency monitor's `command` event. The byte-exact replies that do
//! not depend on time are in `tests/e2e/introspect.txt`.

use redis::Value;

use super::support::Server;

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => panic!("not an array: {other:?}"),
    }
}

fn pairs(v: Value) -> Vec<(Value, Value)> {
    match v {
        Value::Map(m) => m,
        Value::Array(a) => {
            let mut it = a.into_iter();
            let mut out = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            out
        }
        other => panic!("not a map: {other:?}"),
    }
}

fn slowlog_get(con: &mut redis::Connection, count: i64) -> Vec<Vec<Value>> {
    let v: Value = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(count)
        .query(con)
        .unwrap();
    items(v).into_iter().map(items).collect()
}

#[test]
fn slowlog_keeps_entries_as_redis_does() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("slowpoke")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg(0)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    let long = "x".repeat(200);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg(&long)
        .query(&mut con)
        .unwrap();
    let mut rpush = redis::cmd("RPUSH");
    rpush.arg("list");
    for i in 0..40 {
        rpush.arg(i);
    }
    let _: i64 = rpush.query(&mut con).unwrap();
    let _: redis::RedisResult<()> = redis::cmd("AUTH").arg("secret").query(&mut con);

    let entries = slowlog_get(&mut con, -1);
    // Newest first: AUTH, RPUSH, SET, SLOWLOG RESET.
    assert_eq!(entries.len(), 4, "{entries:?}");
    let names: Vec<String> = entries
        .iter()
        .map(|e| text(&items(e[3].clone())[0]))
        .collect();
    assert_eq!(names, ["AUTH", "RPUSH", "SET", "SLOWLOG"]);
    let ids: Vec<i64> = entries.iter().map(|e| int(&e[0])).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1] + 1), "{ids:?}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for e in &entries {
        assert_eq!(e.len(), 6);
        assert!((now - int(&e[1])).abs() < 600, "a unix time: {e:?}");
        assert!(int(&e[2]) >= 0);
        let peer = text(&e[4]);
        assert!(peer.starts_with("127.0.0.1:"), "{peer}");
        assert_eq!(text(&e[5]), "slowpoke");
    }
    let auth: Vec<String> = items(entries[0][3].clone()).iter().map(text).collect();
    assert_eq!(auth, ["AUTH", "(redacted)"]);
    let rpush: Vec<String> = items(entries[1][3].clone()).iter().map(text).collect();
    assert_eq!(rpush.len(), 32);
    assert_eq!(rpush[30], "28");
    assert_eq!(rpush[31], "... (11 more arguments)");
    let set: Vec<String> = items(entries[2][3].clone()).iter().map(text).collect();
    assert_eq!(set[2], format!("{}... (72 more bytes)", "x".repeat(128)));

    // GET's count, the default of 10, then a shorter log applied at the next entry.
    assert_eq!(slowlog_get(&mut con, 2).len(), 2);
    for _ in 0..12 {
        let _: () = redis::cmd("PING").query(&mut con).unwrap();
    }
    let v: Value = redis::cmd("SLOWLOG").arg("GET").query(&mut con).unwrap();
    assert_eq!(items(v).len(), 10);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-max-len")
        .arg(5)
        .query(&mut con)
        .unwrap();
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert_eq!(len, 5);
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg(-1)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("PING").query(&mut con).unwrap();
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    // Only the RESET and the CONFIG SET before the log was turned off.
    assert_eq!(len, 1);
}

#[test]
fn slowlog_leaves_out_a_blocked_commands_wait() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg(200_000)
        .query(&mut con)
        .unwrap();
    // BLPOP waits ~0.5 s for nothing: the wait is not the command's time.
    let _: Option<(String, String)> = redis::cmd("BLPOP")
        .arg("nothing")
        .arg("0.5")
        .query(&mut con)
        .unwrap();
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert_eq!(len, 0);
}

#[test]
fn latency_histogram_counts_calls() {
    let server = Server::start(&[]);
    let mut con = server.client();
    for _ in 0..7 {
        let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    }
    for _ in 0..3 {
        let _: Value = redis::cmd("CONFIG")
            .arg("GET")
            .arg("port")
            .query(&mut con)
            .unwrap();
    }
    let v: Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .arg("set")
        .arg("config")
        .arg("nosuch")
        .query(&mut con)
        .unwrap();
    let rows = pairs(v);
    let names: Vec<String> = rows.iter().map(|(k, _)| text(k)).collect();
    assert_eq!(names, ["set", "config|get"]);
    for ((_, row), calls) in rows.into_iter().zip([7, 3]) {
        let fields = pairs(row);
        assert_eq!(text(&fields[0].0), "calls");
        assert_eq!(int(&fields[0].1), calls);
        assert_eq!(text(&fields[1].0), "histogram_usec");
        let buckets = pairs(fields[1].1.clone());
        let counts: Vec<i64> = buckets.iter().map(|(_, c)| int(c)).collect();
        let bounds: Vec<i64> = buckets.iter().map(|(b, _)| int(b)).collect();
        assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{bounds:?}");
        assert!(counts.windows(2).all(|w| w[0] < w[1]), "cumulative");
        assert_eq!(counts.last(), Some(&calls));
    }
    // All commands: at least these two, and RESETSTAT empties them.
    let v: Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .query(&mut con)
        .unwrap();
    assert!(pairs(v).len() >= 2);
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    let v: Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .arg("set")
        .query(&mut con)
        .unwrap();
    assert!(pairs(v).is_empty());
    // latency-tracking no: nothing counted.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-tracking")
        .arg("no")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let v: Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .arg("set")
        .query(&mut con)
        .unwrap();
    assert!(pairs(v).is_empty());
}

/// `INFO latencystats`: one line per command timed, at the configured percentiles, in
/// Redis's format; not part of the default INFO.
#[test]
fn info_latencystats_reports_percentiles() {
    let server = Server::start(&[]);
    let mut con = server.client();
    for i in 0..20 {
        let _: () = redis::cmd("SET").arg("k").arg(i).query(&mut con).unwrap();
    }
    let info = |con: &mut redis::Connection, section: &str| -> String {
        let mut cmd = redis::cmd("INFO");
        if !section.is_empty() {
            cmd.arg(section);
        }
        cmd.query(con).unwrap()
    };
    let line = |text: &str, name: &str| -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("latency_percentiles_usec_{name}:")))
            .map(str::to_string)
    };
    let stats = info(&mut con, "latencystats");
    assert!(stats.starts_with("# Latencystats\r\n"), "{stats}");
    let set = line(&stats, "set").expect("a line for SET");
    let values: Vec<(String, f64)> = set
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            let (_, frac) = v.split_once('.').expect("three decimals");
            assert_eq!(frac.len(), 3, "{set}");
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    let names: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["p50", "p99", "p99.9"]);
    assert!(values.windows(2).all(|w| w[0].1 <= w[1].1), "{set}");
    assert!(line(&info(&mut con, ""), "set").is_none());
    assert!(line(&info(&mut con, "everything"), "set").is_some());

    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-tracking-info-percentiles")
        .arg("0 33.3 100")
        .query(&mut con)
        .unwrap();
    let set = line(&info(&mut con, "latencystats"), "set").unwrap();
    let names: Vec<&str> = set
        .split(',')
        .map(|kv| kv.split('=').next().unwrap())
        .collect();
    assert_eq!(names, ["p0", "p33.3", "p100"]);

    // Tracking off: the bare header, as Redis prints it.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-tracking")
        .arg("no")
        .query(&mut con)
        .unwrap();
    assert_eq!(info(&mut con, "latencystats").trim_end(), "# Latencystats");
}

#[test]
fn latency_monitor_records_slow_commands() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-monitor-threshold")
        .arg(1)
        .query(&mut con)
        .unwrap();
    // A script that runs for a few milliseconds (a busy loop): a `command` event.
    let _: Value = redis::cmd("EVAL")
        .arg("local t = redis.call('TIME') local s = t[1]*1000000+t[2] repeat t = redis.call('TIME') until t[1]*1000000+t[2] - s > 20000 return 1")
        .arg(0)
        .query(&mut con)
        .unwrap();
    let v: Value = redis::cmd("LATENCY").arg("LATEST").query(&mut con).unwrap();
    let latest: Vec<Vec<Value>> = items(v).into_iter().map(items).collect();
    let command = latest
        .iter()
        .find(|e| text(&e[0]) == "command")
        .unwrap_or_else(|| panic!("no command event: {latest:?}"));
    assert!(int(&command[2]) >= 1 && int(&command[3]) >= int(&command[2]));
    let v: Value = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("command")
        .query(&mut con)
        .unwrap();
    assert!(!items(v).is_empty());
    let v: Value = redis::cmd("LATENCY").arg("DOCTOR").query(&mut con).unwrap();
    assert!(matches!(
        v,
        Value::BulkString(_) | Value::VerbatimString { .. }
    ));
    let n: i64 = redis::cmd("LATENCY")
        .arg("RESET")
        .arg("command")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
}

/// CLIENT PAUSE WRITE holds a writer (its SET is not applied and not answered) while a reader
/// goes on; UNPAUSE releases it. A killed paused client stops waiting.
#[test]
fn client_pause_write_holds_writers_until_unpause() {
    use std::io::{Read, Write};
    use std::time::Duration;

    let server = Server::start(&[]);
    let mut admin = server.client();
    let mut reader = server.client();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(600_000)
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let mut writer = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    writer.write_all(b"SET k v\r\n").unwrap();
    // Give the SET time to arrive (the checks below hold whether or not it has).
    std::thread::sleep(Duration::from_millis(200));
    let got: Option<String> = redis::cmd("GET").arg("k").query(&mut reader).unwrap();
    assert_eq!(got, None, "the paused SET was not applied");
    let n: i64 = redis::cmd("EXISTS").arg("k").query(&mut reader).unwrap();
    assert_eq!(n, 0);
    writer.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 16];
    assert!(
        matches!(writer.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the paused SET has no reply yet"
    );
    writer.set_nonblocking(false).unwrap();
    writer
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut admin)
        .unwrap();
    let n = writer.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"+OK\r\n");
    let got: Option<String> = redis::cmd("GET").arg("k").query(&mut reader).unwrap();
    assert_eq!(got.as_deref(), Some("v"));

    // A paused client killed by another is let go: its connection ends. (Under ALL the
    // admin's own CLIENT KILL would wait too, as in Redis.)
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(600_000)
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let mut victim = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    victim
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    victim.write_all(b"SET k w\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("SKIPME")
        .arg("yes")
        .arg("ID")
        .arg(victim_id(&mut admin))
        .query(&mut admin)
        .unwrap();
    assert_eq!(killed, 1);
    let n = victim.read(&mut buf).unwrap_or(0);
    assert_eq!(
        n, 0,
        "the killed client's connection closed without a reply"
    );
    let got: Option<String> = redis::cmd("GET").arg("k").query(&mut reader).unwrap();
    assert_eq!(
        got.as_deref(),
        Some("v"),
        "the killed client's SET never ran"
    );
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut admin)
        .unwrap();
}

/// The id of the client that is neither `admin` nor the reader (the newest connection).
fn victim_id(admin: &mut redis::Connection) -> i64 {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(admin).unwrap();
    list.lines()
        .filter_map(|l| l.strip_prefix("id=")?.split(' ').next()?.parse().ok())
        .max()
        .unwrap()
}
