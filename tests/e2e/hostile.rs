//! Safe defaults and hostile clients (issue 18): protected mode, a slowloris client, a client
//! that never reads its replies, and a burst of connection attempts, each while a well-behaved
//! client keeps being served and the server's memory stays bounded. No timing is asserted:
//! the latency the good client sees meanwhile is measured in docs/benchmarks.md.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::FromRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::support::{PATIENCE, Server};

/// Redis 7.0.15's reply to a client that protected mode refuses, recorded from redis-server
/// (connected from 127.0.0.2, no password, default configuration).
const DENIED: &[u8] = include_bytes!("protected_mode_denied.reply");

/// A connection to `to` from the loopback address `from` (127.0.0.2 is not "local" to Redis's
/// protected mode, which compares the address with 127.0.0.1 and ::1).
fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let SocketAddr::V4(to) = to else {
        panic!("an IPv4 server address")
    };
    let sockaddr = |ip: [u8; 4], port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor this function owns, with valid addresses.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let local = sockaddr(from, 0);
        let r = libc::bind(fd, (&raw const local).cast(), len);
        assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
        let remote = sockaddr(to.ip().octets(), to.port());
        let r = libc::connect(fd, (&raw const remote).cast(), len);
        assert_eq!(r, 0, "connect: {}", std::io::Error::last_os_error());
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream
    }
}

/// Everything the server sends until it closes the connection.
fn read_all(mut s: TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    got
}

/// One `INFO stats` field.
fn stat(con: &mut redis::Connection, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .trim()
        .parse()
        .unwrap()
}

/// The server's resident memory, in KiB.
fn rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// A client that keeps running PING and checks every reply until `stop`; returns how many it
/// got.
fn well_behaved(server: &Server, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    let mut con = server.client();
    std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let pong: String = redis::cmd("PING").query(&mut con).unwrap();
            assert_eq!(pong, "PONG");
            n += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        n
    })
}

#[test]
fn protected_mode_refuses_other_addresses_without_a_password() {
    let server = Server::start(&[]);
    // A loopback client is served...
    let mut local = server.client();
    let pong: String = redis::cmd("PING").query(&mut local).unwrap();
    assert_eq!(pong, "PONG");
    // ...another address gets Redis's explanation and is closed, whatever it sends.
    // (It sends nothing: what a refused client sends may reset the connection before it reads
    // the explanation, with Redis too.)
    let other = connect_from([127, 0, 0, 2], server.addr);
    assert_eq!(
        String::from_utf8_lossy(&read_all(other)),
        String::from_utf8_lossy(DENIED)
    );
    assert_eq!(stat(&mut local, "rejected_connections"), 1);
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut local).unwrap();
    assert_eq!(list.lines().count(), 1, "{list}");

    // With a password the client is let in (and must authenticate).
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("s3cret")
        .exec(&mut local)
        .unwrap();
    let mut other = connect_from([127, 0, 0, 2], server.addr);
    other.write_all(b"PING\r\nQUIT\r\n").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_all(other)),
        "-NOAUTH Authentication required.\r\n+OK\r\n"
    );
    redis::cmd("AUTH").arg("s3cret").exec(&mut local).unwrap();
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("")
        .exec(&mut local)
        .unwrap();

    // CONFIG SET protected-mode no opens the door at once.
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("protected-mode")
        .arg("no")
        .exec(&mut local)
        .unwrap();
    let mut other = connect_from([127, 0, 0, 2], server.addr);
    other.write_all(b"PING\r\nQUIT\r\n").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_all(other)),
        "+PONG\r\n+OK\r\n"
    );
    assert_eq!(stat(&mut local, "rejected_connections"), 1);
}

#[test]
fn slowloris_clients_hold_neither_the_server_nor_its_memory() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    let mut admin = server.client();
    redis::cmd("AUTH").arg("s3cret").exec(&mut admin).unwrap();
    let before = rss_kib(&server);
    let stop = Arc::new(AtomicBool::new(false));
    // Authenticated, so it is not held to the pre-authentication limits.
    let good = {
        let mut con = server.client();
        redis::cmd("AUTH").arg("s3cret").exec(&mut con).unwrap();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let pong: String = redis::cmd("PING").query(&mut con).unwrap();
                assert_eq!(pong, "PONG");
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            n
        })
    };
    // 100 unauthenticated clients dribble a request that never ends, a byte at a time (the
    // test's "second" is 20 ms), and one declares a bulk past the pre-authentication limit.
    let mut slow: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    let request = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n";
    for byte in request {
        for s in &mut slow {
            s.write_all(&[*byte]).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Each was refused at its bulk header: unauthenticated clients may not send a 100 kB bulk.
    for s in slow {
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let got = String::from_utf8_lossy(&read_all(s)).into_owned();
        assert_eq!(got, "-ERR Protocol error: unauthenticated bulk length\r\n");
    }
    // Slow but legal: 50 authenticated clients each keep a request half-sent.
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.set_read_timeout(Some(PATIENCE)).unwrap();
            s.write_all(b"AUTH s3cret\r\n").unwrap();
            let mut ok = [0u8; 5];
            s.read_exact(&mut ok).unwrap();
            assert_eq!(&ok, b"+OK\r\n");
            s
        })
        .collect();
    for byte in b"*2\r\n$3\r\nGET\r\n$5\r\nslow" {
        for s in &mut slow {
            s.write_all(&[*byte]).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let served = good.join().unwrap();
    assert!(served > 0);
    // Their requests complete when their last bytes come, however long it took.
    for s in &mut slow {
        s.write_all(b"k\r\n").unwrap();
        let mut nil = [0u8; 5];
        s.read_exact(&mut nil).unwrap();
        assert_eq!(&nil, b"$-1\r\n");
    }
    let grown = rss_kib(&server).saturating_sub(before);
    assert!(grown < 64 * 1024, "the server grew by {grown} KiB");
    let pong: String = redis::cmd("PING").query(&mut admin).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn a_client_that_never_reads_holds_one_batch_and_is_cut_at_the_soft_limit() {
    let server = Server::start(&[]);
    let mut admin = server.client();
    // A 100 kB value that the hostile client asks for again and again.
    let value = "v".repeat(100_000);
    redis::cmd("SET")
        .arg("big")
        .arg(&value)
        .exec(&mut admin)
        .unwrap();
    let before = rss_kib(&server);
    let stop = Arc::new(AtomicBool::new(false));
    let good = well_behaved(&server, Arc::clone(&stop));

    // Without limits (Redis's default `normal 0 0 0`), a client that never reads blocks only
    // its own thread, which stops reading its requests: 2,000 GETs ask for 200 MB of replies,
    // the server holds at most about one batch of them.
    let mut deaf = TcpStream::connect(server.addr).unwrap();
    deaf.set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let get = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
    let mut sent = 0;
    for _ in 0..2_000 {
        // The kernel's buffers fill up and the write times out: the server stopped reading.
        if deaf.write_all(get).is_err() {
            break;
        }
        sent += 1;
    }
    let grown = rss_kib(&server).saturating_sub(before);
    assert!(
        grown < 64 * 1024,
        "the server grew by {grown} KiB ({sent} GETs sent)"
    );
    // It stays connected: admin, the good client and the deaf one.
    wait_listed(&mut admin, 3);
    // Once it goes away, its thread's blocked write fails and the thread ends (that is not an
    // output limit disconnection).
    drop(deaf);
    wait_listed(&mut admin, 2);

    // With a soft limit of 64 kB for 1 s, the next deaf client is cut once its unwritten
    // replies have stayed above it that long.
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("normal 0 64kb 1")
        .exec(&mut admin)
        .unwrap();
    let mut cut = TcpStream::connect(server.addr).unwrap();
    cut.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    for _ in 0..2_000 {
        if cut.write_all(get).is_err() {
            break;
        }
    }
    // It reads nothing until the server gave up on it...
    let log = server.log_with("output buffer soft limit");
    assert!(
        log.contains("output buffer soft limit (65536) for 1s"),
        "{log}"
    );
    // ...then what the server wrote before cutting it is readable, and the connection ends.
    cut.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match cut.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the deaf client was not cut: {e}"),
        }
    }
    assert_eq!(
        stat(&mut admin, "client_output_buffer_limit_disconnections"),
        1
    );

    stop.store(true, Ordering::Relaxed);
    assert!(good.join().unwrap() > 0);
}

/// Waits until CLIENT LIST shows `n` clients.
#[track_caller]
fn wait_listed(con: &mut redis::Connection, n: usize) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(con).unwrap();
        if list.lines().count() == n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected {n} clients:\n{list}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_burst_of_connections_past_maxclients_is_refused_and_others_are_served() {
    let server = Server::start(&["--maxclients", "64"]);
    let mut admin = server.client();
    let before = rss_kib(&server);
    let stop = Arc::new(AtomicBool::new(false));
    let good = well_behaved(&server, Arc::clone(&stop));
    // 62 idle clients fill the server (with the two above).
    let idle: Vec<TcpStream> = (0..62)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.set_read_timeout(Some(PATIENCE)).unwrap();
            s.write_all(b"PING\r\n").unwrap();
            let mut pong = [0u8; 7];
            s.read_exact(&mut pong).unwrap();
            s
        })
        .collect();
    // 10,000 connection attempts from 8 threads, as fast as they go.
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut refused = 0;
                for _ in 0..1_250 {
                    let Ok(mut s) = TcpStream::connect(addr) else {
                        continue;
                    };
                    s.set_read_timeout(Some(PATIENCE)).unwrap();
                    let mut got = Vec::new();
                    let _ = s.read_to_end(&mut got);
                    if got == b"-ERR max number of clients reached\r\n" {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    let refused: u64 = attempts.into_iter().map(|t| t.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    assert!(good.join().unwrap() > 0);
    assert!(refused > 9_000, "{refused} of 10,000 attempts were refused");
    assert!(stat(&mut admin, "rejected_connections") >= refused);
    let grown = rss_kib(&server).saturating_sub(before);
    assert!(grown < 64 * 1024, "the server grew by {grown} KiB");
    // The idle ones are still there, and a slot freed is a slot taken.
    drop(idle);
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.write_all(b"PING\r\n").unwrap();
        let mut got = [0u8; 7];
        if s.read_exact(&mut got).is_ok() && &got == b"+PONG\r\n" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no slot came free");
        std::thread::sleep(Duration::from_millis(10));
    }
}
