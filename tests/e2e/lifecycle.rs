//! Starting and stopping: flags, config file, warnings, SHUTDOWN and signals.

use super::support::{Server, TempDir};

#[test]
fn help_describes_the_flags() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kvserver"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--bind",
        "--port",
        "--data-dir",
        "--sync",
        "--in-memory",
        "--requirepass",
        "--maxclients",
        "--databases",
        "--config",
        "--log-level",
        "--query-buffer-limit",
        "--output-buffer-limit",
        "--idle-timeout",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    assert!(
        help.contains("write-ahead log") && help.contains("everysec"),
        "{help}"
    );
}

#[test]
fn bad_flags_exit_with_an_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kvserver"))
        .args(["--databases", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("databases"));
}

#[test]
fn shutdown_command_exits_zero_after_replying_to_earlier_requests() {
    let mut server = Server::start(&[]);
    let mut c = server.raw();
    c.roundtrip(b"SET a 1\r\nGET a\r\nSHUTDOWN\r\n", b"+OK\r\n$1\r\n1\r\n");
    c.expect_closed();
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log());
    assert!(server.log_with("bye bye").contains("bye bye"));
}

#[test]
fn sigterm_and_sigint_stop_gracefully() {
    for signal in ["TERM", "INT"] {
        let mut server = Server::start(&[]);
        let mut idle = server.raw();
        idle.roundtrip(b"PING\r\n", b"+PONG\r\n");
        server.signal(signal);
        idle.expect_closed();
        assert_eq!(
            server.wait_exit().code(),
            Some(0),
            "SIG{signal}; log:\n{}",
            server.log()
        );
    }
}

#[test]
fn data_survives_a_graceful_restart() {
    let dir = TempDir::new("restart");
    let mut server = Server::durable(&dir, "everysec");
    let mut c = server.raw();
    c.roundtrip(
        b"SET k v\r\nRPUSH l a b\r\nHSET h f 1\r\nSET t x EX 1000\r\nSELECT 3\r\nSET other 3\r\n",
        b"+OK\r\n:2\r\n:1\r\n+OK\r\n+OK\r\n+OK\r\n",
    );
    c.send(b"INFO persistence\r\n");
    let info = String::from_utf8_lossy(&c.read_bulk()).into_owned();
    assert!(info.contains("aof_enabled:1\r\n"), "{info}");
    c.send(b"SHUTDOWN\r\n");
    c.expect_closed();
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
    let log = server.log_with("write-ahead log synced");
    assert!(log.contains("write-ahead log synced"), "{log}");
    // The offline checker agrees the directory is sound.
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_kvserver"))
        .args(["check", "--data-dir", dir.path()])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(!check.stdout.is_empty());

    let server = Server::durable(&dir, "everysec");
    let mut c = server.raw();
    c.roundtrip(
        b"GET k\r\nLRANGE l 0 -1\r\nHGET h f\r\n",
        b"$1\r\nv\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\n1\r\n",
    );
    c.send(b"TTL t\r\n");
    let ttl: i64 = c
        .read_line()
        .trim_start_matches(':')
        .trim_end()
        .parse()
        .unwrap();
    assert!(ttl > 900 && ttl <= 1000, "ttl {ttl}");
    c.roundtrip(b"SELECT 3\r\nGET other\r\n", b"+OK\r\n$1\r\n3\r\n");
}

/// kvcore logs through the `log` facade instead of printing; the server's bridge writes its
/// records as its own lines, in Redis's format, naming the crate.
#[test]
fn kvcore_recovery_warnings_appear_in_the_server_log() {
    let dir = TempDir::new("torn-tail-log");
    let mut server = Server::durable(&dir, "always");
    let mut c = server.raw();
    c.roundtrip(b"SET k v\r\n", b"+OK\r\n");
    c.send(b"SHUTDOWN NOSAVE\r\n");
    c.expect_closed();
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
    // Leave a frame whose checksum fails at the end of the last segment: a torn tail.
    let segment = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max()
        .expect("a log segment");
    let mut data = std::fs::read(&segment).unwrap();
    let end = data.iter().rposition(|&b| b != 0).unwrap() + 1;
    assert!(
        data.len() >= end + 24,
        "the segment ends in zero-filled space"
    );
    data[end..end + 8].copy_from_slice(&[16, 0, 0, 0, 1, 2, 3, 4]);
    std::fs::write(&segment, data).unwrap();

    let server = Server::durable(&dir, "always");
    let log = server.log_with("kvcore: recovery:");
    let line = log
        .lines()
        .find(|l| l.contains("kvcore: recovery:"))
        .unwrap_or_else(|| panic!("no kvcore record in the log:\n{log}"));
    assert!(
        line.contains(" # kvcore: recovery: ") && line.contains("torn"),
        "{line}"
    );
    // The store opened (the frame may have overwritten the end of the last record, which is
    // then cut as part of the torn tail).
    server.raw().roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn acknowledged_writes_survive_kill_9_with_sync_always() {
    let dir = TempDir::new("kill9");
    let server = Server::durable(&dir, "always");
    let mut c = server.raw();
    for i in 0..200 {
        c.roundtrip(format!("SET key:{i} value:{i}\r\n").as_bytes(), b"+OK\r\n");
    }
    c.roundtrip(b"INCRBY counter 200\r\n", b":200\r\n");
    // A pipelined batch is committed once, before its replies: every +OK means durable too.
    let batch: Vec<u8> = (0..100)
        .flat_map(|i| format!("SET piped:{i} {i}\r\n").into_bytes())
        .collect();
    c.roundtrip(&batch, &b"+OK\r\n".repeat(100));
    // Dropping the guard sends SIGKILL: no shutdown path runs.
    drop(server);
    let server = Server::durable(&dir, "always");
    let mut c = server.raw();
    for i in 0..200 {
        let want = format!("value:{i}");
        c.roundtrip(
            format!("GET key:{i}\r\n").as_bytes(),
            format!("${}\r\n{want}\r\n", want.len()).as_bytes(),
        );
    }
    c.roundtrip(b"GET counter\r\n", b"$3\r\n200\r\n");
    c.roundtrip(
        b"GET piped:0\r\nGET piped:99\r\nDBSIZE\r\n",
        b"$1\r\n0\r\n$2\r\n99\r\n:301\r\n",
    );
}

#[test]
fn replies_keep_request_order_when_writes_wait_for_the_disk() {
    let dir = TempDir::new("order");
    let server = Server::durable(&dir, "always");
    let mut c = server.raw();
    // Each request goes out before the reply to the one before it: a write's reply may still
    // be waiting for its fdatasync when the read after it is answered.
    for i in 0..300 {
        c.send(format!("SET k {i}\r\n").as_bytes());
        c.send(b"GET k\r\n");
        let n = i.to_string();
        c.expect(format!("+OK\r\n${}\r\n{n}\r\n", n.len()).as_bytes());
    }
}

#[test]
fn a_client_that_stops_reading_stalls_only_itself_with_sync_always() {
    let dir = TempDir::new("stuck");
    let server = Server::durable(&dir, "always");
    // Under the server's early-flush size, so each batch's replies are sent as one piece.
    let value = "v".repeat(60_000);
    server
        .raw()
        .roundtrip(format!("SET big {value}\r\n").as_bytes(), b"+OK\r\n");
    // About 48 MB of replies the client does not read: more than the socket buffers hold, so
    // sending them blocks part-way.
    let rounds = 800;
    let mut slow = server.raw();
    for _ in 0..rounds {
        slow.send(b"INCR n\r\nGET big\r\n");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // Everyone else is still served, writes included.
    let mut fast = server.raw();
    for i in 0..100 {
        fast.roundtrip(format!("SET f{i} {i}\r\n").as_bytes(), b"+OK\r\n");
    }
    fast.roundtrip(b"GET f99\r\n", b"$2\r\n99\r\n");
    // The slow client gets every reply, whole and in order.
    for i in 1..=rounds {
        assert_eq!(slow.read_line(), format!(":{i}\r\n"));
        assert!(slow.read_bulk() == value.as_bytes(), "reply {i} differs");
    }
}

#[test]
fn save_bgsave_lastsave() {
    let dir = TempDir::new("save");
    let server = Server::durable(&dir, "no");
    let mut c = server.raw();
    c.roundtrip(b"SET a 1\r\nSAVE\r\n", b"+OK\r\n+OK\r\n");
    c.send(b"LASTSAVE\r\n");
    let t: u64 = c
        .read_line()
        .trim_start_matches(':')
        .trim_end()
        .parse()
        .unwrap();
    assert!(t > 1_600_000_000);
    c.send(b"BGSAVE\r\n");
    let line = c.read_line();
    assert!(
        line == "+Background saving started\r\n"
            || line == "-ERR Background save already in progress\r\n",
        "{line}"
    );
    c.roundtrip(
        b"CONFIG GET appendonly\r\n",
        b"*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n",
    );
    let memory = Server::start(&[]);
    let mut m = memory.raw();
    m.roundtrip(
        b"SAVE\r\n",
        b"-ERR The server runs in memory (--in-memory): there is nothing to save\r\n",
    );
}

#[test]
fn non_loopback_bind_without_password_warns() {
    let server = Server::start_raw(&["--bind", "0.0.0.0", "--port", "0", "--in-memory"]);
    assert!(
        server.log().contains("WITHOUT a password"),
        "{}",
        server.log()
    );
    let quiet = Server::start(&[]);
    assert!(!quiet.log().contains("WITHOUT a password"));
}

#[test]
fn config_file_in_redis_format() {
    let path = std::env::temp_dir().join(format!("kvserver-test-{}.conf", std::process::id()));
    std::fs::write(
        &path,
        "# test config\nbind 127.0.0.1\nport 0\nrequirepass \"from file\"\ndatabases 2\n",
    )
    .unwrap();
    let server = Server::start_raw(&["--config", path.to_str().unwrap(), "--in-memory"]);
    let mut c = server.raw();
    c.roundtrip(b"GET k\r\n", b"-NOAUTH Authentication required.\r\n");
    c.roundtrip(
        b"AUTH \"from file\"\r\nSELECT 1\r\nSELECT 2\r\n",
        b"+OK\r\n+OK\r\n-ERR DB index is out of range\r\n",
    );
    let _ = std::fs::remove_file(&path);
}
