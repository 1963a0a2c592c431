//! Starting and stopping: flags, config file, warnings, SHUTDOWN and signals.

use super::support::Server;

#[test]
fn help_describes_the_flags_and_the_in_memory_state() {
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
        help.contains("Persistence is not implemented yet"),
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
    assert!(server.log().contains("bye bye"));
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
fn persistence_flags_say_the_server_runs_in_memory() {
    let dir = std::env::temp_dir().join(format!("kvserver-test-{}", std::process::id()));
    let dir_s = dir.display().to_string();
    let server = Server::start_raw(&[
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        &dir_s,
        "--sync",
        "always",
    ]);
    let mut c = server.raw();
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
    assert!(
        server.log().contains("persistence is not implemented yet"),
        "{}",
        server.log()
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
