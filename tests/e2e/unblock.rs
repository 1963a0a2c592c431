//! CLIENT UNBLOCK with a real second client: every blocking command kv has (the list and
//! sorted-set pops, XREAD and XREADGROUP with BLOCK, WAIT), ended by default, by TIMEOUT and
//! by ERROR, in RESP2 and RESP3, each answered with the bytes redis-server 7.0.15 sent in the
//! same session, and the statistics Redis showed after it; the clients it answers 0 for; and
//! CLIENT UNBLOCK racing a push that serves the same client. The argument errors are
//! byte-compared in `tests/e2e/client.txt`.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use redis::Value;

use super::support::{PATIENCE, Raw, Server, cmd, info_field, resp};

/// Every blocking command kv has, each with the name CLIENT LIST shows for it.
const BLOCKING: &[(&str, &[&str])] = &[
    ("blpop", &["BLPOP", "l1", "l2", "0"]),
    ("brpop", &["BRPOP", "l1", "0"]),
    ("blmove", &["BLMOVE", "l1", "l2", "LEFT", "RIGHT", "0"]),
    ("brpoplpush", &["BRPOPLPUSH", "l1", "l2", "0"]),
    (
        "blmpop",
        &["BLMPOP", "0", "2", "l1", "l2", "LEFT", "COUNT", "2"],
    ),
    ("bzpopmin", &["BZPOPMIN", "z", "0"]),
    ("bzpopmax", &["BZPOPMAX", "z", "0"]),
    ("bzmpop", &["BZMPOP", "0", "1", "z", "MIN"]),
    ("xread", &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
    (
        "xreadgroup",
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    ),
    ("wait", &["WAIT", "1", "0"]),
];

fn send(raw: &mut Raw, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    raw.send(&resp(&args));
}

fn client_id(raw: &mut Raw) -> i64 {
    send(raw, &["CLIENT", "ID"]);
    let line = raw.read_line();
    line[1..].trim_end().parse().expect("an integer reply")
}

/// Switches `raw` to RESP3, HELLO's map read past up to a PING's reply.
fn resp3(raw: &mut Raw) {
    send(raw, &["HELLO", "3"]);
    send(raw, &["PING"]);
    while raw.read_line() != "+PONG\r\n" {}
}

/// Waits (within PATIENCE) until client `id` shows as blocked in `name` in CLIENT LIST.
fn wait_blocked(con: &mut redis::Connection, id: i64, name: &str) {
    let end = Instant::now() + PATIENCE;
    loop {
        let line: String = redis::cmd("CLIENT")
            .arg("LIST")
            .arg("ID")
            .arg(id)
            .query(con)
            .unwrap();
        if line.contains(" flags=b ") && line.contains(&format!(" cmd={name} ")) {
            return;
        }
        assert!(
            Instant::now() < end,
            "client {id} never blocked in {name}: {line}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn unblock(con: &mut redis::Connection, id: i64, reason: Option<&str>) -> Value {
    let id = id.to_string();
    let mut args = vec!["CLIENT", "UNBLOCK", id.as_str()];
    args.extend(reason);
    cmd(con, &args).unwrap()
}

/// The value of `field` in INFO `section`.
fn info(con: &mut redis::Connection, section: &str, field: &str) -> String {
    info_field(con, section, field).unwrap_or_else(|| panic!("no {field} in INFO {section}"))
}

#[test]
fn client_unblock_ends_every_blocking_command_as_redis_does() {
    let server = Server::start(&[]);
    let mut con = server.client();
    cmd(&mut con, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]).unwrap();
    for version in [2, 3] {
        let mut blocked = server.raw();
        if version == 3 {
            resp3(&mut blocked);
        }
        let id = client_id(&mut blocked);
        for reason in [None, Some("TIMEOUT"), Some("ERROR")] {
            for (name, command) in BLOCKING {
                let case = format!("RESP{version} {command:?} {reason:?}");
                send(&mut blocked, command);
                wait_blocked(&mut con, id, name);
                assert_eq!(info(&mut con, "clients", "blocked_clients"), "1", "{case}");
                assert_eq!(unblock(&mut con, id, reason), Value::Int(1), "{case}");
                // What redis-server 7.0.15 answered the blocked client.
                let expected: &[u8] = match (reason, *name, version) {
                    (Some("ERROR"), _, _) => b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
                    (_, "wait", _) => b":0\r\n",
                    (_, _, 2) => b"*-1\r\n",
                    _ => b"_\r\n",
                };
                blocked.expect(expected);
                assert_eq!(
                    unblock(&mut con, id, reason),
                    Value::Int(0),
                    "{case}: again"
                );
                assert_eq!(info(&mut con, "clients", "blocked_clients"), "0", "{case}");
                // The client goes on, with nothing else to read.
                send(&mut blocked, &["PING"]);
                blocked.expect(b"+PONG\r\n");
            }
        }
    }
    // Redis 7.0.15 after the same 66 unblocks: each command counted once per call, every call
    // ended by CLIENT UNBLOCK as failed (TIMEOUT too), only ERROR's replies as errors.
    for (name, _) in BLOCKING {
        let stat = info(&mut con, "commandstats", &format!("cmdstat_{name}"));
        assert!(stat.starts_with("calls=6,"), "{name}: {stat}");
        assert!(
            stat.ends_with(",rejected_calls=0,failed_calls=6"),
            "{name}: {stat}"
        );
    }
    assert_eq!(
        info(&mut con, "errorstats", "errorstat_UNBLOCKED"),
        "count=22"
    );
    assert_eq!(info(&mut con, "stats", "total_error_replies"), "22");
    // Nothing was popped or added for anyone.
    assert_eq!(cmd(&mut con, &["DBSIZE"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut con, &["XLEN", "s"]).unwrap(), Value::Int(0));
}

#[test]
fn client_unblock_answers_zero_for_a_client_not_blocked() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let mut other = server.raw();
    let other_id = client_id(&mut other);
    let own: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    assert_eq!(unblock(&mut con, own, None), Value::Int(0), "the caller");
    assert_eq!(
        unblock(&mut con, other_id, Some("ERROR")),
        Value::Int(0),
        "idle"
    );

    // A blocking command queued in MULTI never blocks.
    send(&mut other, &["MULTI"]);
    other.expect(b"+OK\r\n");
    send(&mut other, &["BLPOP", "q", "0"]);
    other.expect(b"+QUEUED\r\n");
    assert_eq!(unblock(&mut con, other_id, None), Value::Int(0), "in MULTI");
    send(&mut other, &["EXEC"]);
    other.expect(b"*1\r\n*-1\r\n");

    // A client held by CLIENT PAUSE shows as blocked in its command and counts in
    // blocked_clients, as redis-server 7.0.15 showed it, but is not in a blocking command:
    // UNBLOCK answers 0, and the SET runs once the pause ends, answered once. (CLIENT UNBLOCK
    // crashes Redis 7.0.15 with TIMEOUT there, and with ERROR answers the error and, after the
    // pause, the SET's +OK as well.)
    cmd(&mut con, &["CLIENT", "PAUSE", "100000", "WRITE"]).unwrap();
    send(&mut other, &["SET", "k", "v"]);
    wait_blocked(&mut con, other_id, "set");
    assert_eq!(info(&mut con, "clients", "blocked_clients"), "1", "paused");
    assert_eq!(
        unblock(&mut con, other_id, Some("ERROR")),
        Value::Int(0),
        "paused"
    );
    assert_eq!(unblock(&mut con, other_id, None), Value::Int(0), "paused");
    cmd(&mut con, &["CLIENT", "UNPAUSE"]).unwrap();
    other.expect(b"+OK\r\n");
    send(&mut other, &["PING"]);
    other.expect(b"+PONG\r\n");
    assert_eq!(
        info(&mut con, "clients", "blocked_clients"),
        "0",
        "unpaused"
    );

    // A client a push served is no longer blocked.
    send(&mut other, &["BLPOP", "q", "0"]);
    wait_blocked(&mut con, other_id, "blpop");
    cmd(&mut con, &["RPUSH", "q", "x"]).unwrap();
    other.expect(b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    assert_eq!(unblock(&mut con, other_id, None), Value::Int(0), "served");
}

/// Each round a client blocks in BLPOP (or BLMOVE) and, at once, one connection pushes the
/// element it waits for while another unblocks it. Whichever wins, the element is either the
/// client's (and CLIENT UNBLOCK answered 0) or still in the list (and it answered 1).
#[test]
fn client_unblock_racing_a_push_loses_no_element() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let mut pusher = server.client();
    let mut blocked = server.raw();
    let id = client_id(&mut blocked);
    let rounds = 200;
    let (mut served, mut unblocked) = (0, 0);
    for round in 0..rounds {
        let moves = round % 2 == 1;
        let (name, command): (&str, &[&str]) = if moves {
            ("blmove", &["BLMOVE", "q", "dst", "LEFT", "RIGHT", "0"])
        } else {
            ("blpop", &["BLPOP", "q", "0"])
        };
        send(&mut blocked, command);
        wait_blocked(&mut con, id, name);
        let value = format!("v{round}");
        let go = Barrier::new(2);
        let said = std::thread::scope(|s| {
            let (pusher, value, go) = (&mut pusher, &value, &go);
            s.spawn(move || {
                go.wait();
                cmd(pusher, &["RPUSH", "q", value]).unwrap();
            });
            go.wait();
            unblock(&mut con, id, None)
        });
        let head = blocked.read_line();
        if head == "*-1\r\n" {
            assert_eq!(
                said,
                Value::Int(1),
                "round {round}: unblocked, so it said 1"
            );
            unblocked += 1;
            let left = cmd(&mut con, &["LPOP", "q"]).unwrap();
            assert_eq!(
                left,
                Value::BulkString(value.into_bytes()),
                "round {round}: lost"
            );
        } else {
            assert_eq!(said, Value::Int(0), "round {round}: served, so it said 0");
            served += 1;
            if moves {
                assert_eq!(head, format!("${}\r\n", value.len()), "round {round}");
                blocked.expect(format!("{value}\r\n").as_bytes());
                let moved = cmd(&mut con, &["LPOP", "dst"]).unwrap();
                assert_eq!(
                    moved,
                    Value::BulkString(value.into_bytes()),
                    "round {round}"
                );
            } else {
                assert_eq!(head, "*2\r\n", "round {round}");
                blocked.expect(format!("$1\r\nq\r\n${}\r\n{value}\r\n", value.len()).as_bytes());
            }
        }
        assert_eq!(
            cmd(&mut con, &["DBSIZE"]).unwrap(),
            Value::Int(0),
            "round {round}"
        );
    }
    eprintln!("{served} served, {unblocked} unblocked");
    assert_eq!(served + unblocked, rounds);
    assert_eq!(info(&mut con, "clients", "blocked_clients"), "0");
}
