//! Starting a real server for a test, and talking to it in raw bytes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

pub(crate) mod proxy;

/// How long any single wait in a test may take before the test fails (generous: CI shares
/// two cores between many test binaries).
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// A running kvserver; killed when dropped, so a failing test never leaks a process.
pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// `kvserver --bind 127.0.0.1 --port 0 --in-memory` plus `extra`.
    pub(crate) fn start(extra: &[&str]) -> Server {
        let mut args = vec!["--bind", "127.0.0.1", "--port", "0", "--in-memory"];
        args.extend_from_slice(extra);
        Server::start_raw(&args)
    }

    /// The binary with exactly these arguments; waits for its "listening on" log line.
    pub(crate) fn start_raw(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kvserver"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kvserver starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        {
            let log = Arc::clone(&log);
            // Keep draining stderr for the server's whole life so logging never blocks it.
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some((_, addr)) = line.split_once("listening on ") {
                        let _ = tx.send(addr.trim().to_string());
                    }
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let addr = match rx.recv_timeout(PATIENCE).map(|a| a.parse::<SocketAddr>()) {
            Ok(Ok(addr)) => addr,
            other => {
                // Never leak the process when a test fails here.
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "kvserver did not log its address ({other:?}); log:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        Server {
            child: Some(child),
            addr,
            log,
        }
    }

    /// A persistent server on a free loopback port, its data in `dir`, with `--sync sync`.
    pub(crate) fn durable(dir: &TempDir, sync: &str) -> Server {
        Server::durable_with(dir, sync, &[])
    }

    /// [`Server::durable`] with more flags.
    pub(crate) fn durable_with(dir: &TempDir, sync: &str, extra: &[&str]) -> Server {
        let mut args = vec![
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            dir.path(),
            "--sync",
            sync,
        ];
        args.extend_from_slice(extra);
        Server::start_raw(&args)
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The log once it contains `needle` (the server writes it from another thread than the
    /// one whose effect the test saw), or as it is after [`PATIENCE`].
    pub(crate) fn log_with(&self, needle: &str) -> String {
        let end = Instant::now() + PATIENCE;
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() >= end {
                return log;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is running").id()
    }

    pub(crate) fn client(&self) -> redis::Connection {
        let url = format!("redis://{}/", self.addr);
        redis::Client::open(url)
            .unwrap()
            .get_connection()
            .expect("redis client connects")
    }

    pub(crate) fn raw(&self) -> Raw {
        Raw::connect(self.addr)
    }

    /// Waits for the process to exit by itself (after SHUTDOWN or a signal).
    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let end = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > end {
                let _ = child.kill();
                panic!("kvserver did not exit; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal by name (`TERM`, `INT`) with the `kill` utility.
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A raw TCP connection for byte-exact protocol checks.
pub(crate) struct Raw {
    pub(crate) stream: TcpStream,
}

impl Raw {
    pub(crate) fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connects");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        Raw { stream }
    }

    /// This end's address (what the server calls the client's `addr`).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("a connected socket")
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads exactly `n` bytes.
    pub(crate) fn read_n(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.stream.read_exact(&mut buf).expect("reply arrives");
        buf
    }

    /// Reads exactly as many bytes as `expected` and compares them.
    #[track_caller]
    pub(crate) fn expect(&mut self, expected: &[u8]) {
        let got = self.read_n(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "reply bytes differ"
        );
    }

    /// Sends `request` and checks the reply bytes.
    #[track_caller]
    pub(crate) fn roundtrip(&mut self, request: &[u8], expected: &[u8]) {
        self.send(request);
        self.expect(expected);
    }

    /// Reads one line (through `\n`), for replies whose length the test does not know.
    pub(crate) fn read_line(&mut self) -> String {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\n") {
            let n = self.stream.read(&mut b).expect("reply arrives");
            assert_eq!(n, 1, "connection closed mid-line after {line:?}");
            line.push(b[0]);
        }
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Reads one bulk string reply (`$n\r\n...\r\n`) and returns its payload.
    pub(crate) fn read_bulk(&mut self) -> Vec<u8> {
        let header = self.read_line();
        let n: usize = header
            .strip_prefix('$')
            .and_then(|h| h.trim_end().parse().ok())
            .unwrap_or_else(|| panic!("expected a bulk header, got {header:?}"));
        let mut body = self.read_n(n + 2);
        body.truncate(n);
        body
    }

    /// Asserts that the server closed the connection (EOF or reset) without sending more.
    #[track_caller]
    pub(crate) fn expect_closed(&mut self) {
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("expected EOF, got {:?}", String::from_utf8_lossy(&buf[..n])),
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                ),
                "expected the connection to close, got {e}"
            ),
        }
    }
}

/// Commands and the exact bytes each reply must be, in order.
pub(crate) type Session<'a> = &'a [(&'a [&'a [u8]], &'a [u8])];

/// Sends each command of `session` on `raw` and checks its reply byte for byte.
pub(crate) fn expect_replies(raw: &mut Raw, session: Session<'_>) {
    for (args, expected) in session {
        raw.send(&resp(args));
        let got = raw.read_n(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "{:?}",
            args.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        );
    }
}

/// Builds a RESP array request from its arguments.
pub(crate) fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The full text of a server error reply, as the redis crate reports it (code + detail).
pub(crate) fn error_text(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}

/// Sends one command, given as its words, and returns the raw reply.
pub(crate) fn cmd(con: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

/// Sends a command that must fail and returns its error text as the server wrote it.
#[track_caller]
pub(crate) fn err(con: &mut redis::Connection, args: &[&str]) -> String {
    match cmd(con, args) {
        Err(e) => error_text(&e),
        Ok(v) => panic!("{args:?} should fail, got {v:?}"),
    }
}

/// The value of `field` in INFO `section`, trimmed; `None` if INFO fails or has no such field.
pub(crate) fn info_field(
    con: &mut redis::Connection,
    section: &str,
    field: &str,
) -> Option<String> {
    let text: String = redis::cmd("INFO").arg(section).query(con).ok()?;
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|v| v.trim().to_string())
}

/// A fresh directory under the system temp dir, removed when dropped.
pub(crate) struct TempDir(std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("kvserver-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }

    pub(crate) fn path(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8 here")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A real redis-server (Debian's, found on the PATH) on a Unix socket in `dir`, for tests that
/// compare kv with Redis; killed when dropped. `start` says why and gives `None` when
/// redis-server is not installed, unless `KV_REQUIRE_CLIENTS` is set (as `.ci/run` sets it),
/// which makes that a failure.
pub(crate) struct RedisServer {
    child: Child,
    pub(crate) socket: String,
}

/// Whether Debian's `program` (redis-server, redis-sentinel) is installed; when it is not,
/// says the test is skipped, or fails if `KV_REQUIRE_CLIENTS` is set (as `.ci/run` sets it).
pub(crate) fn installed(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("KV_REQUIRE_CLIENTS").is_none(),
            "{program} is not installed, and KV_REQUIRE_CLIENTS is set"
        );
        eprintln!("skipped: {program} is not installed");
    }
    found
}

impl RedisServer {
    /// Starts redis-server in `dir` (created if missing; a `dump.rdb` there is loaded), with
    /// no persistence and `extra` arguments, and waits until its socket accepts connections.
    pub(crate) fn start(dir: &str, extra: &[&str]) -> Option<RedisServer> {
        if !installed("redis-server") {
            return None;
        }
        std::fs::create_dir_all(dir).expect("temp dir");
        let socket = format!("{dir}/redis.sock");
        let child = Command::new("redis-server")
            .args(["--port", "0", "--unixsocket", &socket, "--save", ""])
            .args(["--appendonly", "no", "--dir", dir])
            .args(extra)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let redis = RedisServer { child, socket };
        let deadline = Instant::now() + PATIENCE;
        while std::os::unix::net::UnixStream::connect(&redis.socket).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(redis)
    }
}

impl RedisServer {
    /// [`RedisServer::start`] also listening on a free loopback TCP port (for a replica to
    /// connect to), returned with it.
    pub(crate) fn start_tcp(dir: &str, extra: &[&str]) -> Option<(RedisServer, u16)> {
        let port = super::ports::free_port();
        let port_s = port.to_string();
        let mut args = vec!["--port", port_s.as_str(), "--bind", "127.0.0.1"];
        args.extend_from_slice(extra);
        let redis = RedisServer::start(dir, &args)?;
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some((redis, port))
    }

    /// The process id (to signal it).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
