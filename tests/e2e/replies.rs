//! Byte-exact replies recorded from redis-server 7.0.15, replayed against kvserver.
//!
//! A case file (`tests/e2e/script.txt`, `tests/e2e/function.txt`, `tests/e2e/geo.txt`,
//! `tests/e2e/sort.txt`, `tests/e2e/bitmap.txt`, `tests/e2e/hll.txt`, `tests/e2e/acl.txt`, ...) lists commands as redis-cli takes them, each followed
//! by a `=> ` line with the reply Redis sent (escaped: `\r`, `\n`, `\\`, `\xNN`). It is
//! recorded by `tools/diffreplies.py --record PORT FILE` against a freshly started
//! redis-server; `@resp3`/`@resp2` switch the protocol and `@flush` empties the server
//! between cases. This test starts a fresh kvserver, sends every command on one connection
//! and compares each reply byte for byte.

use super::support::{Raw, Server, resp};

/// The bytes a `=> ` line stands for.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).expect("hex digits");
                    out.push(u8::from_str_radix(hex, 16).expect("a hex escape"));
                    i += 2;
                }
                other => panic!("unknown escape \\{}", other as char),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Reads one whole reply, whatever its type, and returns its bytes. Lines are counted as
/// they come (an aggregate adds its elements), so a 16384-element reply costs one pass.
fn read_reply(raw: &mut Raw) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut pending = 1usize;
    while pending > 0 {
        let line = raw.read_line();
        buf.extend_from_slice(line.as_bytes());
        pending -= 1;
        let n = line[1..].trim_end().parse::<usize>().unwrap_or(0);
        match line.as_bytes()[0] {
            // A bulk payload may hold any bytes: read it by its length.
            b'$' | b'=' | b'!' if !line.starts_with("$-") => {
                buf.extend_from_slice(&raw.read_n(n + 2));
            }
            b'*' | b'~' | b'>' => pending += n,
            b'%' => pending += 2 * n,
            // An attribute's pairs come before the reply they annotate.
            b'|' => pending += 2 * n + 1,
            _ => {}
        }
    }
    match kvproto::decode_frame(&buf, &kvproto::Limits::new()) {
        Ok(kvproto::Status::Complete((_, n))) => {
            assert_eq!(n, buf.len(), "more bytes than one reply");
        }
        other => panic!("kvserver sent a malformed reply ({other:?}): {buf:?}"),
    }
    buf
}

/// Replays a case file against a fresh kvserver and lists every case whose reply differs.
fn replay(file: &str) {
    replay_with(file, &[]);
}

/// [`replay`] against a kvserver started with `extra` arguments.
fn replay_with(file: &str, extra: &[&str]) {
    let server = Server::start(extra);
    let mut raw = server.raw();
    let mut differ = Vec::new();
    let mut lines = file.lines().peekable();
    let mut cases = 0;
    while let Some(line) = lines.next() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let directive: &[&[u8]] = match line {
            "@resp3" => &[b"HELLO", b"3"],
            "@resp2" => &[b"HELLO", b"2"],
            "@flush" => {
                for cmd in [&[&b"FLUSHALL"[..]][..], &[b"SCRIPT", b"FLUSH"]] {
                    raw.send(&resp(cmd));
                    read_reply(&mut raw);
                }
                continue;
            }
            _ => &[],
        };
        if !directive.is_empty() {
            raw.send(&resp(directive));
            read_reply(&mut raw);
            continue;
        }
        let args = kvproto::split_args(line.as_bytes()).expect("a well-quoted case");
        let args: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        let expected = lines
            .next()
            .and_then(|l| l.strip_prefix("=> "))
            .unwrap_or_else(|| panic!("{line}: no recorded reply"));
        // `@read`: nothing to send, the next reply (a push) is the case's.
        if line != "@read" {
            raw.send(&resp(&args));
        }
        let got = read_reply(&mut raw);
        cases += 1;
        if got != unescape(expected) {
            differ.push(format!(
                "{line}\n  redis: {expected}\n  kv:    {}",
                String::from_utf8_lossy(&got).escape_debug()
            ));
        }
    }
    assert!(cases > 0, "the case file has no cases");
    assert!(
        differ.is_empty(),
        "{} of {cases} replies differ from redis-server's:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

#[test]
fn acl_auth_and_noperm_reply_as_redis() {
    replay(include_str!("acl.txt"));
}

#[test]
fn maxmemory_oom_and_access_clocks_reply_as_redis() {
    replay(include_str!("evict.txt"));
}

#[test]
fn cluster_commands_reply_as_a_standalone_redis() {
    replay(include_str!("cluster.txt"));
}

#[test]
fn unknown_subcommands_reply_as_redis() {
    replay(include_str!("subcommands.txt"));
}

#[test]
fn eval_and_script_reply_as_redis() {
    replay(include_str!("script.txt"));
}

#[test]
fn replconf_wait_and_role_reply_as_redis() {
    replay(include_str!("replication.txt"));
}

#[test]
fn function_and_fcall_reply_as_redis() {
    replay(include_str!("function.txt"));
}

#[test]
fn config_and_encodings_reply_as_redis() {
    replay(include_str!("config.txt"));
}

#[test]
fn geo_replies_as_redis() {
    replay(include_str!("geo.txt"));
}

#[test]
fn replica_replies_as_redis() {
    replay(include_str!("replica.txt"));
}

#[test]
fn failover_replies_as_redis() {
    replay(include_str!("failover.txt"));
}

#[test]
fn sort_replies_as_redis() {
    replay(include_str!("sort.txt"));
}

#[test]
fn stream_consumer_groups_reply_as_redis() {
    replay(include_str!("stream_group.txt"));
}

#[test]
fn bitmap_commands_reply_as_redis() {
    replay(include_str!("bitmap.txt"));
}

#[test]
fn hyperloglog_commands_reply_as_redis() {
    replay(include_str!("hll.txt"));
}

#[test]
fn client_tracking_replies_as_redis() {
    replay(include_str!("tracking.txt"));
}

#[test]
fn client_object_and_command_help_reply_as_redis() {
    replay(include_str!("help.txt"));
}

#[test]
fn client_unblock_arguments_reply_as_redis() {
    replay(include_str!("client.txt"));
}

#[test]
fn slowlog_and_latency_reply_as_redis() {
    replay(include_str!("introspect.txt"));
}

#[test]
fn debug_command_replies_as_redis() {
    // Redis 7.0 protects DEBUG (`enable-debug-command no`); the case file was recorded from a
    // redis-server started with `--enable-debug-command yes`, and kvserver gets the same.
    let dir = super::support::TempDir::new("debug-replies");
    std::fs::create_dir_all(dir.path()).unwrap();
    let conf = format!("{}/kv.conf", dir.path());
    std::fs::write(&conf, "enable-debug-command yes\n").unwrap();
    replay_with(include_str!("debug.txt"), &["--config", &conf]);
}

#[test]
fn debug_follows_enable_debug_command() {
    // Redis 7.0's default `no` refuses DEBUG (after the arity check); reply recorded from a
    // redis-server 7.0.15 started without the option.
    let refused: &[u8] = b"-ERR DEBUG command not allowed. If the enable-debug-command option is \
        set to \"local\", you can run it from a local connection, otherwise you need to set this \
        option in the configuration file, and then restart the server.\r\n";
    let server = Server::start(&[]);
    let mut raw = server.raw();
    raw.roundtrip(b"DEBUG SLEEP 0\r\n", refused);
    raw.roundtrip(
        b"DEBUG\r\n",
        b"-ERR wrong number of arguments for 'debug' command\r\n",
    );
    // Refused before it is queued, so the transaction fails, and counted as a rejected call
    // (not a failed one), as in redis-server 7.0.15.
    raw.roundtrip(
        b"MULTI\r\nSET k v\r\nDEBUG HELP\r\nEXEC\r\nEXISTS k\r\n",
        &[
            &b"+OK\r\n+QUEUED\r\n"[..],
            refused,
            b"-EXECABORT Transaction discarded because of previous errors.\r\n:0\r\n",
        ]
        .concat(),
    );
    raw.send(b"INFO commandstats\r\n");
    let stats = String::from_utf8(raw.read_bulk()).unwrap();
    assert!(
        stats.contains(
            "cmdstat_debug:calls=0,usec=0,usec_per_call=0.00,rejected_calls=3,failed_calls=0"
        ),
        "{stats}"
    );
    // `local` allows it from a loopback connection, which this one is.
    let dir = super::support::TempDir::new("debug-local");
    std::fs::create_dir_all(dir.path()).unwrap();
    let conf = format!("{}/kv.conf", dir.path());
    std::fs::write(&conf, "enable-debug-command local\n").unwrap();
    let server = Server::start(&["--config", &conf]);
    let mut raw = server.raw();
    raw.roundtrip(b"DEBUG SLEEP 0\r\n", b"+OK\r\n");
    raw.roundtrip(
        b"SET k v\r\nDEBUG RELOAD\r\nGET k\r\n",
        b"+OK\r\n+OK\r\n$1\r\nv\r\n",
    );
}

#[test]
fn debug_object_reports_the_encoding_and_idle_time() {
    // Redis's line has an address and an LRU clock that differ from run to run, so it cannot
    // be recorded; its shape, the fields kv shares with OBJECT and the serialized length are
    // checked instead.
    let dir = super::support::TempDir::new("debug-object");
    std::fs::create_dir_all(dir.path()).unwrap();
    let conf = format!("{}/kv.conf", dir.path());
    std::fs::write(&conf, "enable-debug-command yes\n").unwrap();
    let server = Server::start(&["--config", &conf]);
    let mut raw = server.raw();
    raw.roundtrip(
        b"SET s v\r\nRPUSH l a b\r\nSET n 12\r\n",
        b"+OK\r\n:2\r\n+OK\r\n",
    );
    for (key, encoding) in [("s", "embstr"), ("l", "quicklist"), ("n", "int")] {
        raw.send(format!("DEBUG OBJECT {key}\r\n").as_bytes());
        let line = raw.read_line();
        let fields: Vec<&str> = line.trim_end().split(' ').collect();
        // A list adds Redis's five `ql_` fields.
        let extra = if key == "l" { 5 } else { 0 };
        assert_eq!(fields.len(), 7 + extra, "{line}");
        assert_eq!(fields[0], "+Value");
        assert!(fields[1].starts_with("at:0x"), "{line}");
        assert_eq!(fields[2], "refcount:1");
        assert_eq!(fields[3], format!("encoding:{encoding}"));
        let names = [
            "serializedlength",
            "lru",
            "lru_seconds_idle",
            "ql_nodes",
            "ql_avg_node",
            "ql_listpack_max",
            "ql_compressed",
            "ql_uncompressed_size",
        ];
        for (field, name) in fields[4..].iter().zip(names) {
            let (n, v) = field.split_once(':').unwrap();
            assert_eq!(n, name, "{line}");
            v.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
        }
    }
    raw.roundtrip(b"DEBUG OBJECT nosuch\r\n", b"-ERR no such key\r\n");

    // serializedlength is the value's RDB encoding, as redis-server 7.0.15 reported it for
    // the same values (an LZF-compressed string for 300 a's).
    let big = "a".repeat(300);
    raw.roundtrip(
        format!("SET s hello\r\nSET n 12345\r\nDEL l\r\nRPUSH l a b c\r\nSET big {big}\r\n")
            .as_bytes(),
        b"+OK\r\n+OK\r\n:1\r\n:3\r\n+OK\r\n",
    );
    for (key, length) in [("s", 6), ("n", 3), ("l", 19), ("big", 16)] {
        raw.send(format!("DEBUG OBJECT {key}\r\n").as_bytes());
        let line = raw.read_line();
        assert!(
            line.contains(&format!(" serializedlength:{length} ")),
            "{key}: {line}"
        );
    }
}

/// DEBUG SET-ACTIVE-EXPIRE 0 stops the active-expiry thread (as Redis's test suite uses it: an
/// expired key nobody reads stays counted), 1 starts it again; CONFIG SET hz changes its pace.
#[test]
fn debug_set_active_expire_pauses_active_expiry() {
    let dir = super::support::TempDir::new("debug-active-expire");
    std::fs::create_dir_all(dir.path()).unwrap();
    let conf = format!("{}/kv.conf", dir.path());
    std::fs::write(&conf, "enable-debug-command yes\nhz 100\n").unwrap();
    let server = Server::start(&["--config", &conf]);
    let mut raw = server.raw();
    raw.roundtrip(b"CONFIG GET hz\r\n", b"*2\r\n$2\r\nhz\r\n$3\r\n100\r\n");
    raw.roundtrip(b"DEBUG SET-ACTIVE-EXPIRE 0\r\n", b"+OK\r\n");
    raw.roundtrip(b"SET k v PX 1\r\n", b"+OK\r\n");
    // 200 ms is 20 cycles at hz 100: with the thread running, the only volatile key would be
    // sampled and removed. Paused, it stays (DBSIZE does not read it).
    std::thread::sleep(std::time::Duration::from_millis(200));
    raw.roundtrip(b"DBSIZE\r\n", b":1\r\n");
    raw.roundtrip(b"DEBUG SET-ACTIVE-EXPIRE 1\r\n", b"+OK\r\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        raw.send(b"DBSIZE\r\n");
        if raw.read_line() == ":0\r\n" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "active expiry never removed the key"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn dump_and_restore_reply_as_redis() {
    replay(include_str!("dump.txt"));
}

#[test]
fn small_containers_across_their_slots_reply_as_redis() {
    replay(include_str!("containers.txt"));
}
