//! MONITOR as redis-server 7.0.15 shows commands: the lines a monitor receives for another
//! client's session and for its own, the restrictions on a monitoring client, and a monitor
//! that stops reading cut off while another keeps receiving everything. Lines are compared
//! byte for byte after checking and replacing the timestamp and the client address.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};

use super::support::{PATIENCE, Raw, Server, resp};

/// Reads one monitor line, checks its timestamp (`<seconds>.<6 digits>`) and that the address
/// is `from`, and returns it as `+T [<db> ADDR] <args>`.
#[track_caller]
fn line(m: &mut Raw, from: SocketAddr) -> String {
    let l = m.read_line();
    let rest = l
        .strip_prefix('+')
        .unwrap_or_else(|| panic!("not a status line: {l:?}"));
    let (ts, rest) = rest.split_once(' ').expect("a timestamp");
    let (secs, micros) = ts.split_once('.').expect("seconds.micros");
    assert!(
        secs.parse::<u64>().is_ok() && micros.len() == 6,
        "timestamp {ts:?}"
    );
    assert!(
        micros.bytes().all(|b| b.is_ascii_digit()),
        "timestamp {ts:?}"
    );
    let (db, rest) = rest
        .strip_prefix('[')
        .expect("[db addr]")
        .split_once(' ')
        .unwrap();
    let (addr, args) = rest.split_once("] ").expect("addr]");
    assert_eq!(addr, from.to_string(), "the client's address");
    format!("+T [{db} ADDR] {}", args.trim_end())
}

#[test]
fn a_monitor_sees_commands_as_redis_shows_them() {
    let server = Server::start(&[]);
    let mut m = server.raw();
    m.roundtrip(&resp(&[b"MONITOR"]), b"+OK\r\n");
    let mut c = server.raw();
    let session: &[&[&[u8]]] = &[
        &[b"SET", b"k", b"v a\"b\\c\n\r\t\x01\x7f\x07\x08"],
        &[b"SELECT", b"1"],
        &[b"GET", b"k"],
        &[b"SELECT", b"0"],
        &[b"MULTI"],
        &[b"SET", b"a", b"1"],
        &[b"INCR", b"a"],
        &[b"EXEC"],
        &[b"MULTI"],
        &[b"SET", b"a"],
        &[b"EXEC"],
        &[b"EXEC", b"x"],
        &[b"MULTI"],
        &[b"GET", b"a"],
        &[b"EXEC", b"x"],
        &[b"NOSUCH", b"x"],
        &[b"GET"],
        &[b"CONFIG", b"GET", b"maxmemory"],
        &[b"CLIENT", b"LIST"],
        &[b"CLIENT", b"SETNAME", b"x"],
        &[b"CLIENT", b"NOSUCH"],
        &[b"OBJECT", b"ENCODING", b"a"],
        &[b"AUTH", b"pw"],
        &[b"AUTH", b"u", b"pw"],
        &[b"HELLO", b"3", b"AUTH", b"u", b"pw"],
        &[b"HELLO", b"2", b"SETNAME", b"auth", b"AUTH", b"x", b"y"],
        &[b"HELLO", b"2"],
        &[b"PING"],
        &[b"ECHO", b"12"],
        &[b"SET", b"n", b"12"],
        &[b"SUBSCRIBE", b"ch"],
        &[b"UNSUBSCRIBE"],
        &[b"PUBLISH", b"ch", b"m"],
        &[b"BLPOP", b"nolist", b"0.05"],
        &[b"LPUSH", b"l", b"1"],
        &[b"BLPOP", b"l", b"0"],
        &[b"RESET"],
        &[b"SAVE"],
        &[b"INFO", b"server"],
        &[b"SLOWLOG", b"LEN"],
        &[b"DEBUG", b"SLEEP", b"0"],
        &[b"COMMAND", b"COUNT"],
        &[b"FLUSHALL"],
        &[b"QUIT"],
    ];
    let mut pipeline = Vec::new();
    for args in session {
        pipeline.extend_from_slice(&resp(args));
    }
    c.send(&pipeline);
    // Recorded from redis-server 7.0.15: the refused commands, the queued ones before EXEC
    // runs them, the admin ones and the unknown subcommand are missing; EXEC shows after what
    // it ran, and also when refused.
    let want = [
        r#"+T [0 ADDR] "SET" "k" "v a\"b\\c\n\r\t\x01\x7f\a\b""#,
        r#"+T [1 ADDR] "SELECT" "1""#,
        r#"+T [1 ADDR] "GET" "k""#,
        r#"+T [0 ADDR] "SELECT" "0""#,
        r#"+T [0 ADDR] "MULTI""#,
        r#"+T [0 ADDR] "SET" "a" "1""#,
        r#"+T [0 ADDR] "INCR" "a""#,
        r#"+T [0 ADDR] "EXEC""#,
        r#"+T [0 ADDR] "MULTI""#,
        r#"+T [0 ADDR] "EXEC""#,
        r#"+T [0 ADDR] "EXEC" "x""#,
        r#"+T [0 ADDR] "MULTI""#,
        r#"+T [0 ADDR] "EXEC" "x""#,
        r#"+T [0 ADDR] "CLIENT" "SETNAME" "x""#,
        r#"+T [0 ADDR] "OBJECT" "ENCODING" "a""#,
        r#"+T [0 ADDR] "AUTH" "(redacted)""#,
        r#"+T [0 ADDR] "AUTH" "(redacted)" "(redacted)""#,
        r#"+T [0 ADDR] "HELLO" "3" "AUTH" "(redacted)" "(redacted)""#,
        r#"+T [0 ADDR] "HELLO" "2" "SETNAME" "auth" "AUTH" "(redacted)" "(redacted)""#,
        r#"+T [0 ADDR] "HELLO" "2""#,
        r#"+T [0 ADDR] "PING""#,
        r#"+T [0 ADDR] "ECHO" "12""#,
        r#"+T [0 ADDR] "SET" "n" "12""#,
        r#"+T [0 ADDR] "SUBSCRIBE" "ch""#,
        r#"+T [0 ADDR] "UNSUBSCRIBE""#,
        r#"+T [0 ADDR] "PUBLISH" "ch" "m""#,
        r#"+T [0 ADDR] "BLPOP" "nolist" "0.05""#,
        r#"+T [0 ADDR] "LPUSH" "l" "1""#,
        r#"+T [0 ADDR] "BLPOP" "l" "0""#,
        r#"+T [0 ADDR] "RESET""#,
        r#"+T [0 ADDR] "INFO" "server""#,
        r#"+T [0 ADDR] "COMMAND" "COUNT""#,
        r#"+T [0 ADDR] "FLUSHALL""#,
        r#"+T [0 ADDR] "QUIT""#,
    ];
    let from = c.local_addr();
    for w in want {
        assert_eq!(line(&mut m, from), w);
    }
    // Nothing else: the next line is a command sent now.
    let mut d = server.raw();
    d.roundtrip(&resp(&[b"ECHO", b"last"]), b"$4\r\nlast\r\n");
    assert_eq!(line(&mut m, d.local_addr()), r#"+T [0 ADDR] "ECHO" "last""#);
}

/// The monitoring client's own session, recorded from redis-server 7.0.15: its commands show
/// after their replies, a second MONITOR has no reply, keyspace commands are refused, RESET
/// ends monitoring, and MONITOR inside EXEC is refused.
#[test]
fn a_monitoring_client_behaves_as_in_redis() {
    let server = Server::start(&[]);
    let mut m = server.raw();
    let me = m.local_addr();
    let replica: &[u8] = b"-ERR Replica can't interact with the keyspace\r\n";
    m.roundtrip(&resp(&[b"MONITOR"]), b"+OK\r\n");
    m.send(&resp(&[b"MONITOR"])); // no reply
    m.roundtrip(&resp(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(line(&mut m, me), r#"+T [0 ADDR] "PING""#);
    m.roundtrip(&resp(&[b"GET", b"k"]), replica);
    m.roundtrip(&resp(&[b"SET", b"k", b"v"]), replica);
    m.roundtrip(&resp(&[b"SELECT", b"2"]), b"+OK\r\n");
    assert_eq!(line(&mut m, me), r#"+T [2 ADDR] "SELECT" "2""#);
    m.roundtrip(&resp(&[b"DBSIZE"]), replica);
    m.roundtrip(&resp(&[b"OBJECT", b"ENCODING", b"k"]), replica);
    m.roundtrip(&resp(&[b"CLIENT", b"LIST"]), b"");
    let list = String::from_utf8(m.read_bulk()).unwrap();
    assert!(list.contains(" flags=O "), "{list}");
    m.roundtrip(&resp(&[b"RESET"]), b"+RESET\r\n");
    m.roundtrip(&resp(&[b"PING"]), b"+PONG\r\n");
    m.roundtrip(&resp(&[b"GET", b"k"]), b"$-1\r\n");
    m.roundtrip(&resp(&[b"MULTI"]), b"+OK\r\n");
    m.roundtrip(&resp(&[b"MONITOR"]), b"+QUEUED\r\n");
    m.roundtrip(
        &resp(&[b"EXEC"]),
        b"*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n",
    );
    m.roundtrip(&resp(&[b"CLIENT", b"INFO"]), b"");
    let info = String::from_utf8(m.read_bulk()).unwrap();
    assert!(info.contains(" flags=N "), "{info}");
}

/// A monitor that stops reading is cut off at `client-output-buffer-limit pubsub`, while a
/// reading monitor receives every line and writers never wait.
#[test]
fn a_monitor_that_does_not_read_is_cut_off() {
    let server = Server::start(&[]);
    let mut admin = server.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 256kb 0 0")
        .query(&mut admin)
        .unwrap();
    let mut stuck = server.raw();
    stuck.roundtrip(&resp(&[b"MONITOR"]), b"+OK\r\n");
    // The reader reads through a buffer: fast enough to stay far below the limit.
    let mut reader = BufReader::new(TcpStream::connect(server.addr).unwrap());
    reader.get_mut().set_read_timeout(Some(PATIENCE)).unwrap();
    reader.get_mut().write_all(&resp(&[b"MONITOR"])).unwrap();
    let mut ok = String::new();
    reader.read_line(&mut ok).unwrap();
    assert_eq!(ok, "+OK\r\n");
    let reading = std::thread::spawn(move || {
        let (mut n, mut l) = (0, String::new());
        while n < 2000 {
            l.clear();
            assert!(
                reader.read_line(&mut l).unwrap() > 0,
                "the reading monitor was closed"
            );
            if l.contains("\"SET\"") {
                n += 1;
            }
        }
        (n, reader)
    });
    let mut w = server.raw();
    let value = vec![b'x'; 4096];
    let mut pipeline = Vec::new();
    for i in 0..2000 {
        pipeline.extend_from_slice(&resp(&[b"SET", format!("k{i}").as_bytes(), &value]));
    }
    w.send(&pipeline);
    for _ in 0..2000 {
        assert_eq!(w.read_line(), "+OK\r\n");
    }
    let (n, _reader) = reading.join().unwrap();
    assert_eq!(n, 2000);
    // 2000 lines of 4 KiB passed 256 KiB: the stuck monitor was disconnected.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
        let monitors = list.lines().filter(|l| l.contains(" flags=O ")).count();
        if monitors == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still monitoring:\n{list}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        server.log().contains("output buffer limits"),
        "{}",
        server.log()
    );
}

/// EVAL and FCALL show first, then each command their script runs, from `lua` (recorded from
/// redis-server 7.0.15: `[0 lua] "set" "mk" "v"`, `[2 lua] "select" "2"`), in the
/// database the script selected.
#[test]
fn a_monitor_sees_scripts_and_their_commands_from_lua() {
    let server = Server::start(&[]);
    let mut m = server.raw();
    m.roundtrip(&resp(&[b"MONITOR"]), b"+OK\r\n");
    let mut c = server.raw();
    let eval = b"redis.call('set', KEYS[1], 'v'); redis.call('select', 2); return redis.call('get', KEYS[1])";
    c.send(&resp(&[b"EVAL", eval, b"1", b"mk"]));
    c.expect(b"$-1\r\n");
    let from = c.local_addr();
    assert_eq!(
        line(&mut m, from),
        format!(
            "+T [0 ADDR] \"EVAL\" \"{}\" \"1\" \"mk\"",
            String::from_utf8_lossy(eval)
        )
    );
    let lua = |m: &mut Raw| {
        let l = m.read_line();
        let (_, rest) = l.split_once(' ').expect("a timestamp");
        rest.trim_end().to_string()
    };
    assert_eq!(lua(&mut m), "[0 lua] \"set\" \"mk\" \"v\"");
    // Shown after it ran, in the database it selected, as for any client.
    assert_eq!(lua(&mut m), "[2 lua] \"select\" \"2\"");
    assert_eq!(lua(&mut m), "[2 lua] \"get\" \"mk\"");
    c.roundtrip(
        &resp(&[
            b"FUNCTION",
            b"LOAD",
            b"#!lua name=monlib\nredis.register_function('mf', function(keys) return redis.call('incr', keys[1]) end)",
        ]),
        b"$6\r\nmonlib\r\n",
    );
    let _load = line(&mut m, from);
    c.roundtrip(&resp(&[b"FCALL", b"mf", b"1", b"mc"]), b":1\r\n");
    assert_eq!(
        line(&mut m, from),
        "+T [0 ADDR] \"FCALL\" \"mf\" \"1\" \"mc\""
    );
    assert_eq!(lua(&mut m), "[0 lua] \"incr\" \"mc\"");
}
