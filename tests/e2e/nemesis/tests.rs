//! Tests of the nemesis itself, with no Raft in sight: a kvserver and plain TCP targets
//! behind proxies. No test asserts a timing: a short read timeout only bounds how long a test
//! waits to see that nothing arrives through a cut.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Dir, Link, Mesh, Proxy};
use crate::e2e::support::{PATIENCE, Server};

/// How long a test waits to see that nothing comes through a cut (anything that does come
/// would be a failure whenever it came; the wait only has to be long enough to be seen).
const QUIET: Duration = Duration::from_millis(300);

/// A TCP target that writes `greeting` to every connection, then echoes what it reads.
struct Echo {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Echo {
    fn start(greeting: &'static [u8]) -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the echo target");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(mut conn) = conn else { continue };
                    // Each echo thread ends when its connection does (the proxy's drop ends it).
                    std::thread::spawn(move || {
                        let mut back = conn.try_clone().expect("clone a socket");
                        if back.write_all(greeting).is_ok() {
                            let _ = io::copy(&mut conn, &mut back);
                        }
                        let _ = conn.shutdown(Shutdown::Both);
                    });
                }
            })
        };
        Echo {
            addr,
            stop,
            accept: Some(accept),
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s
}

/// Reads exactly `n` bytes (waiting up to [`PATIENCE`]).
fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).expect("bytes arrive");
    buf
}

/// Asserts that nothing arrives on `s` for [`QUIET`] (the connection stays open).
#[track_caller]
fn silent(s: &mut TcpStream) {
    s.set_read_timeout(Some(QUIET)).unwrap();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        other => panic!("expected silence, got {other:?}"),
    }
    s.set_read_timeout(Some(PATIENCE)).unwrap();
}

/// Asserts that the peer ended `s` (EOF or a reset) before anything else arrived.
#[track_caller]
fn ended(s: &mut TcpStream) {
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the connection to end, got {other:?}"),
    }
}

/// Whether `f` holds within [`PATIENCE`] (a proxy thread counts what it dropped after the
/// read, which a loaded machine may delay).
fn eventually(f: impl Fn() -> bool) -> bool {
    let end = std::time::Instant::now() + PATIENCE;
    while !f() {
        if std::time::Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

fn redis_through(proxy: &Proxy, timeout: Duration) -> redis::Connection {
    let client = redis::Client::open(format!("redis://{}/", proxy.addr())).unwrap();
    let con = client
        .get_connection_with_timeout(PATIENCE)
        .expect("connect");
    con.set_read_timeout(Some(timeout)).unwrap();
    con
}

#[test]
fn a_cut_black_holes_a_server_and_a_heal_lets_new_connections_through() {
    let server = Server::start(&[]);
    let proxy = Proxy::start(server.addr);
    let mut con = redis_through(&proxy, QUIET);
    let () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "v");
    let mut raw = connect(proxy.addr());
    raw.write_all(b"PING\r\n").unwrap();
    assert_eq!(read_n(&mut raw, 7), b"+PONG\r\n");
    assert!(proxy.forwarded(Dir::Up) > 0 && proxy.forwarded(Dir::Down) > 0);

    proxy.cut();
    let (up, down) = (proxy.forwarded(Dir::Up), proxy.forwarded(Dir::Down));
    let e = redis::cmd("GET")
        .arg("k")
        .query::<String>(&mut con)
        .expect_err("no answer through a cut");
    assert!(e.is_timeout(), "{e:?}");
    raw.write_all(b"PING\r\n").unwrap();
    silent(&mut raw);
    // A connection made during the cut is accepted and black-holed.
    let mut during = connect(proxy.addr());
    during.write_all(b"PING\r\n").unwrap();
    silent(&mut during);
    assert_eq!(proxy.forwarded(Dir::Up), up, "bytes crossed a cut");
    assert_eq!(proxy.forwarded(Dir::Down), down, "bytes crossed a cut");
    // The GET (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and both PINGs.
    assert!(eventually(|| proxy.dropped(Dir::Up) == 20 + 2 * 6));
    assert_eq!(proxy.accepted(), 3);

    proxy.pass();
    // Connections that lost bytes end rather than carry a stream with a gap.
    ended(&mut raw);
    ended(&mut during);
    let mut after = redis_through(&proxy, PATIENCE);
    let v: String = redis::cmd("GET").arg("k").query(&mut after).unwrap();
    assert_eq!(v, "v");
    assert!(proxy.forwarded(Dir::Up) > up && proxy.forwarded(Dir::Down) > down);
}

#[test]
fn an_idle_connection_survives_a_cut_it_sent_nothing_through() {
    let echo = Echo::start(b"hi");
    let proxy = Proxy::start(echo.addr);
    let mut s = connect(proxy.addr());
    assert_eq!(read_n(&mut s, 2), b"hi");
    proxy.cut();
    proxy.pass();
    s.write_all(b"still here").unwrap();
    assert_eq!(read_n(&mut s, 10), b"still here");
}

#[test]
fn reset_gives_the_client_a_connection_error_and_then_passes() {
    let server = Server::start(&[]);
    let proxy = Proxy::start(server.addr);
    let mut con = redis_through(&proxy, PATIENCE);
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    proxy.reset();
    let e = redis::cmd("PING")
        .query::<String>(&mut con)
        .expect_err("the proxy closed the connection");
    assert!(e.is_io_error() || e.is_connection_dropped(), "{e:?}");
    assert!(!e.is_timeout(), "a reset is not silence: {e:?}");
    assert_eq!(proxy.link(Dir::Up), Link::Pass);
    assert_eq!(proxy.link(Dir::Down), Link::Pass);
    let mut again = redis_through(&proxy, PATIENCE);
    let pong: String = redis::cmd("PING").query(&mut again).unwrap();
    assert_eq!(pong, "PONG");
}

/// 1 MiB from a small xorshift generator.
fn payload() -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

#[test]
fn a_delayed_link_delivers_every_byte_in_order() {
    let echo = Echo::start(b"");
    let proxy = Proxy::start(echo.addr);
    proxy.delay(Duration::from_millis(5));
    let data = payload();
    let mut s = connect(proxy.addr());
    let writer = {
        let mut w = s.try_clone().unwrap();
        let data = data.clone();
        std::thread::spawn(move || {
            // Uneven pieces, so the chunks the proxy reads do not line up with anything.
            let mut at = 0;
            let mut size = 1;
            while at < data.len() {
                let end = (at + size).min(data.len());
                w.write_all(&data[at..end]).unwrap();
                at = end;
                size = size * 7 % 9973 + 1;
            }
        })
    };
    let mut got = Vec::with_capacity(data.len());
    let mut buf = vec![0; 32 * 1024];
    let mut switched = false;
    while got.len() < data.len() {
        let n = s.read(&mut buf).expect("echoed bytes arrive");
        assert!(n > 0, "the connection ended after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
        // Mode changes mid-stream keep the order too.
        if !switched && got.len() > data.len() / 2 {
            proxy.pass();
            proxy.set(Dir::Down, Link::Delay(Duration::from_millis(20)));
            switched = true;
        }
    }
    writer.join().unwrap();
    assert!(got == data, "the echoed bytes differ from those sent");
    assert_eq!(proxy.forwarded(Dir::Up), data.len() as u64);
    assert_eq!(proxy.forwarded(Dir::Down), data.len() as u64);
    assert_eq!(proxy.dropped(Dir::Up) + proxy.dropped(Dir::Down), 0);
}

#[test]
fn a_delay_holds_bytes_until_it_is_over_and_a_heal_releases_them() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = Proxy::start(listener.local_addr().unwrap());
    let (mut client, mut server) = pair(&listener, &proxy);
    proxy.delay(Duration::from_secs(3600));
    client.write_all(b"first ").unwrap();
    server.write_all(b"down").unwrap();
    silent(&mut server);
    silent(&mut client);
    assert_eq!(proxy.forwarded(Dir::Up) + proxy.forwarded(Dir::Down), 0);
    proxy.pass();
    client.write_all(b"second").unwrap();
    assert_eq!(read_n(&mut server, 12), b"first second");
    assert_eq!(read_n(&mut client, 4), b"down");
    // Cut while holding: the held bytes are dropped, not delivered later.
    proxy.delay(Duration::from_secs(3600));
    client.write_all(b"lost").unwrap();
    assert!(eventually(
        || proxy.link(Dir::Up) == Link::Delay(Duration::from_secs(3600))
    ));
    silent(&mut server);
    proxy.cut();
    assert!(eventually(|| proxy.dropped(Dir::Up) == 4));
    assert_eq!(proxy.forwarded(Dir::Up), 12);
}

/// A connection through `proxy` to a plain listener, and the target's end of it.
fn pair(listener: &TcpListener, proxy: &Proxy) -> (TcpStream, TcpStream) {
    let client = connect(proxy.addr());
    let (server, _) = listener.accept().expect("the proxy connects");
    server.set_read_timeout(Some(PATIENCE)).unwrap();
    (client, server)
}

#[test]
fn the_end_of_a_connection_does_not_cross_a_cut() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = Proxy::start(listener.local_addr().unwrap());
    let (mut client, server) = pair(&listener, &proxy);
    proxy.cut();
    drop(server); // the target's end closes (a node dying behind a partition)
    silent(&mut client);
    proxy.pass();
    ended(&mut client);
}

#[test]
fn one_way_forwards_one_direction_only() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = Proxy::start(listener.local_addr().unwrap());

    let (mut client, mut server) = pair(&listener, &proxy);
    proxy.set(Dir::Up, Link::Cut);
    client.write_all(b"lost").unwrap();
    silent(&mut server);
    server.write_all(b"back").unwrap();
    assert_eq!(read_n(&mut client, 4), b"back");
    assert!(eventually(|| proxy.dropped(Dir::Up) == 4));
    assert_eq!(proxy.forwarded(Dir::Up), 0);
    assert_eq!(proxy.forwarded(Dir::Down), 4);
    proxy.pass();
    ended(&mut client); // its upward stream has a gap
    ended(&mut server);

    // The other way round, on a new connection (made while nothing was cut).
    let (mut client, mut server) = pair(&listener, &proxy);
    proxy.set(Dir::Down, Link::Cut);
    server.write_all(b"lost").unwrap();
    silent(&mut client);
    client.write_all(b"there").unwrap();
    assert_eq!(read_n(&mut server, 5), b"there");
    assert!(eventually(|| proxy.dropped(Dir::Down) == 4));
    assert_eq!(proxy.forwarded(Dir::Up), 5);
}

/// Whether a new connection through `proxy` gets `greeting` (through a cut it gets silence):
/// `expected` says which to wait for, so a slow machine only makes a passing link slow.
fn reaches(proxy: &Proxy, greeting: &[u8], expected: bool) -> bool {
    let mut s = connect(proxy.addr());
    s.set_read_timeout(Some(if expected { PATIENCE } else { QUIET }))
        .unwrap();
    let mut buf = vec![0; greeting.len()];
    match s.read_exact(&mut buf) {
        Ok(()) => {
            assert_eq!(buf, greeting, "the proxy reached the wrong target");
            true
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            false
        }
        Err(e) => panic!("{e}"),
    }
}

const GREETINGS: [&[u8]; 3] = [b"node 1", b"node 2", b"node 3"];

/// Which ordered pairs pass (both directions) and which are cut (both directions).
#[track_caller]
fn links(mesh: &Mesh) -> Vec<(usize, usize, Link, Link)> {
    let mut out = Vec::new();
    for i in mesh.ids() {
        for j in mesh.ids().filter(|&j| j != i) {
            let p = mesh.proxy(i, j);
            out.push((i, j, p.link(Dir::Up), p.link(Dir::Down)));
        }
    }
    out
}

#[test]
fn a_mesh_of_three_names_its_peers_and_cuts_the_right_links() {
    let targets: Vec<Echo> = GREETINGS.iter().map(|g| Echo::start(g)).collect();
    let addrs: Vec<SocketAddr> = targets.iter().map(|e| e.addr).collect();
    let mesh = Mesh::new(&addrs);
    assert_eq!(mesh.nodes(), 3);
    for i in mesh.ids() {
        let expected: Vec<String> = mesh
            .ids()
            .map(|j| {
                let addr = if i == j {
                    addrs[j - 1]
                } else {
                    mesh.proxy(i, j).addr()
                };
                format!("{j}={addr}")
            })
            .collect();
        assert_eq!(mesh.peers_arg(i), expected.join(","));
    }
    assert!(
        mesh.peers_arg(2)
            .starts_with(&format!("1={},", mesh.proxy(2, 1).addr()))
    );
    assert!(mesh.peers_arg(2).contains(&format!(",2={},", addrs[1])));
    // Every proxy reaches its own target.
    for i in mesh.ids() {
        for j in mesh.ids().filter(|&j| j != i) {
            assert!(
                reaches(mesh.proxy(i, j), GREETINGS[j - 1], true),
                "{i} -> {j}"
            );
        }
    }
    use Link::{Cut, Pass};

    mesh.isolate(2);
    for (i, j, up, down) in links(&mesh) {
        let cut = i == 2 || j == 2;
        assert_eq!(
            (up, down),
            if cut { (Cut, Cut) } else { (Pass, Pass) },
            "{i} -> {j}"
        );
        assert_eq!(
            reaches(mesh.proxy(i, j), GREETINGS[j - 1], !cut),
            !cut,
            "{i} -> {j}"
        );
    }
    mesh.heal();
    assert!(links(&mesh).iter().all(|l| (l.2, l.3) == (Pass, Pass)));
    assert!(reaches(mesh.proxy(1, 2), GREETINGS[1], true));

    mesh.split(&[1], &[2, 3]);
    for (i, j, up, down) in links(&mesh) {
        let cut = (i == 1) != (j == 1);
        assert_eq!(
            (up, down),
            if cut { (Cut, Cut) } else { (Pass, Pass) },
            "{i} -> {j}"
        );
    }
    mesh.heal();

    // Nothing from 3 to 1: up on 3's connections to 1, down on 1's connections to 3.
    mesh.one_way(3, 1);
    for (i, j, up, down) in links(&mesh) {
        let expected = match (i, j) {
            (3, 1) => (Cut, Pass),
            (1, 3) => (Pass, Cut),
            _ => (Pass, Pass),
        };
        assert_eq!((up, down), expected, "{i} -> {j}");
    }
    // 1's connection to 3 carries 1's bytes to 3 but not 3's greeting back.
    let mut s = connect(mesh.proxy(1, 3).addr());
    silent(&mut s);
    assert!(reaches(mesh.proxy(3, 2), GREETINGS[1], true));
    mesh.heal();

    let d = Duration::from_millis(10);
    mesh.delay_all(d);
    assert!(
        links(&mesh)
            .iter()
            .all(|l| (l.2, l.3) == (Link::Delay(d), Link::Delay(d)))
    );
    assert!(reaches(mesh.proxy(2, 3), GREETINGS[2], true));
    mesh.reset_all();
    assert!(links(&mesh).iter().all(|l| (l.2, l.3) == (Pass, Pass)));
}

#[test]
fn dropping_a_proxy_ends_every_connection_whatever_it_was_doing() {
    // A target that accepts and never reads, so the proxy's writer towards it blocks.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = Proxy::start(listener.local_addr().unwrap());
    let (mut blocked, _target_end) = pair(&listener, &proxy);
    let writer = {
        let mut w = blocked.try_clone().unwrap();
        // Ends with an error once the proxy is gone.
        std::thread::spawn(move || while w.write_all(&[7; 64 * 1024]).is_ok() {})
    };
    assert!(eventually(|| proxy.forwarded(Dir::Up) > 0));
    // One holding delayed bytes.
    let (mut delayed, mut delayed_target) = pair(&listener, &proxy);
    proxy.delay(Duration::from_secs(3600));
    delayed_target.write_all(b"held").unwrap();
    // One black-holed.
    proxy.cut();
    let mut holed = connect(proxy.addr());
    holed.write_all(b"dropped").unwrap();
    assert!(eventually(|| proxy.accepted() == 3));
    drop(proxy);
    ended(&mut delayed);
    ended(&mut holed);
    ended(&mut blocked);
    writer.join().unwrap();
}
