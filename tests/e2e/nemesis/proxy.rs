//! A TCP proxy that a test can turn into a bad network while connections run through it:
//! each direction passes, is cut (bytes silently dropped, connections left open), or is
//! delayed; `reset` closes every connection. Two std threads per connection, each reading one
//! direction with a short timeout so that every thread notices a mode change or the proxy's
//! drop within one tick.
//!
//! A cut drops bytes rather than holding them, so the stream of a connection that lost bytes
//! has a gap; such a direction never forwards again, and once it is no longer cut the proxy
//! closes that connection (a peer never receives a stream with bytes missing from its middle:
//! it sees silence, then the connection end, as after a TCP timeout). A connection accepted
//! while either direction is cut never reaches the target (a real partition lets no handshake
//! through) and is closed once nothing is cut any more. A connection that crossed a cut
//! without losing a byte (it was idle) carries on.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a blocked thread looks at the proxy's mode and stop flag.
const TICK: Duration = Duration::from_millis(20);
/// The largest read.
const CHUNK: usize = 64 * 1024;
/// The most bytes one direction of one connection holds back while delayed; past it the
/// proxy stops reading that direction (the sender's socket buffers fill, as on a slow link).
const HELD_MAX: usize = 4 << 20;
/// How long the proxy waits for the target to accept a connection.
const CONNECT: Duration = Duration::from_secs(2);

/// A direction through the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// From the side that connected to the proxy towards the target.
    Up = 0,
    /// From the target back to the side that connected.
    Down = 1,
}

/// What the proxy does with one direction's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// Forward at once.
    Pass,
    /// Drop silently; connections stay open.
    Cut,
    /// Forward each chunk this long after it arrived, in order (until the link passes or is
    /// cut: then what it holds leaves, or is dropped, at once).
    Delay(Duration),
}

struct Mode {
    target: SocketAddr,
    links: [Link; 2],
}

/// One connection through the proxy: the accepted socket and, unless it was accepted during a
/// cut, the socket to the target.
struct Conn {
    client: TcpStream,
    server: Option<TcpStream>,
    /// Per direction: it dropped bytes, so its stream has a gap and it must not forward again.
    lossy: [AtomicBool; 2],
    closed: AtomicBool,
}

impl Conn {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.client.shutdown(Shutdown::Both);
        if let Some(s) = &self.server {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// A connection and the threads that pump it.
type Running = (Arc<Conn>, Vec<JoinHandle<()>>);

struct Inner {
    mode: Mutex<Mode>,
    stop: AtomicBool,
    forwarded: [AtomicU64; 2],
    dropped: [AtomicU64; 2],
    accepted: AtomicU64,
    /// Live connections and their threads (finished ones are pruned at each accept).
    conns: Mutex<Vec<Running>>,
}

impl Inner {
    fn link(&self, dir: Dir) -> Link {
        self.mode.lock().unwrap().links[dir as usize]
    }

    fn any_cut(&self) -> bool {
        self.mode.lock().unwrap().links.contains(&Link::Cut)
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A proxy on a free loopback port forwarding to a target; every thread it started is joined
/// when it is dropped.
pub(crate) struct Proxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy to `target`, passing both directions.
    pub(crate) fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let inner = Arc::new(Inner {
            mode: Mutex::new(Mode {
                target,
                links: [Link::Pass; 2],
            }),
            stop: AtomicBool::new(false),
            forwarded: [AtomicU64::new(0), AtomicU64::new(0)],
            dropped: [AtomicU64::new(0), AtomicU64::new(0)],
            accepted: AtomicU64::new(0),
            conns: Mutex::new(Vec::new()),
        });
        let accept = {
            let inner = Arc::clone(&inner);
            std::thread::spawn(move || accept_loop(&listener, &inner))
        };
        Proxy {
            addr,
            inner,
            accept: Some(accept),
        }
    }

    /// Where to connect to go through the proxy.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// New connections go to `target` from now on (a restarted server on a new port); the
    /// current ones keep theirs.
    pub(crate) fn set_target(&self, target: SocketAddr) {
        self.inner.mode.lock().unwrap().target = target;
    }

    /// Sets what happens to one direction's bytes from now on.
    pub(crate) fn set(&self, dir: Dir, link: Link) {
        self.inner.mode.lock().unwrap().links[dir as usize] = link;
    }

    /// Both directions forward at once.
    pub(crate) fn pass(&self) {
        self.both(Link::Pass);
    }

    /// A partition: both directions drop everything, connections stay open, new ones are
    /// accepted and black-holed.
    pub(crate) fn cut(&self) {
        self.both(Link::Cut);
    }

    /// Both directions forward each chunk `d` after it arrived.
    pub(crate) fn delay(&self, d: Duration) {
        self.both(Link::Delay(d));
    }

    /// Closes every current connection (both peers see it end), then passes.
    pub(crate) fn reset(&self) {
        for (conn, _) in self.inner.conns.lock().unwrap().iter() {
            conn.close();
        }
        self.pass();
    }

    fn both(&self, link: Link) {
        self.inner.mode.lock().unwrap().links = [link; 2];
    }

    /// What the proxy does with `dir`'s bytes now.
    pub(crate) fn link(&self, dir: Dir) -> Link {
        self.inner.link(dir)
    }

    /// Bytes forwarded in `dir` so far, all connections together (counted as their write
    /// starts).
    pub(crate) fn forwarded(&self, dir: Dir) -> u64 {
        self.inner.forwarded[dir as usize].load(Ordering::SeqCst)
    }

    /// Bytes dropped by a cut in `dir` so far.
    pub(crate) fn dropped(&self, dir: Dir) -> u64 {
        self.inner.dropped[dir as usize].load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub(crate) fn accepted(&self) -> u64 {
        self.inner.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop; it sees the flag and returns.
        let _ = TcpStream::connect_timeout(&self.addr, CONNECT);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        let conns = std::mem::take(&mut *self.inner.conns.lock().unwrap());
        for (conn, threads) in conns {
            conn.close();
            for t in threads {
                let _ = t.join();
            }
        }
    }
}

fn accept_loop(listener: &TcpListener, inner: &Arc<Inner>) {
    for client in listener.incoming() {
        if inner.stopping() {
            return;
        }
        let Ok(client) = client else { continue };
        inner.accepted.fetch_add(1, Ordering::SeqCst);
        inner
            .conns
            .lock()
            .unwrap()
            .retain(|(_, threads)| !threads.iter().all(JoinHandle::is_finished));
        let (target, cut) = {
            let mode = inner.mode.lock().unwrap();
            (mode.target, mode.links.contains(&Link::Cut))
        };
        let server = if cut {
            None
        } else {
            match TcpStream::connect_timeout(&target, CONNECT) {
                Ok(s) => Some(s),
                Err(_) => {
                    // The target is down: the client sees its connection end, as a refusal.
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
            }
        };
        let _ = client.set_nodelay(true);
        let _ = client.set_write_timeout(Some(TICK));
        if let Some(s) = &server {
            let _ = s.set_nodelay(true);
            let _ = s.set_write_timeout(Some(TICK));
        }
        let conn = Arc::new(Conn {
            client,
            server,
            lossy: [AtomicBool::new(false), AtomicBool::new(false)],
            closed: AtomicBool::new(false),
        });
        let threads = match start_pumps(inner, &conn) {
            Ok(threads) => threads,
            Err(_) => {
                conn.close();
                continue;
            }
        };
        inner.conns.lock().unwrap().push((conn, threads));
    }
}

fn start_pumps(inner: &Arc<Inner>, conn: &Arc<Conn>) -> io::Result<Vec<JoinHandle<()>>> {
    let spawn = |dir: Dir, from: TcpStream, to: Option<TcpStream>| {
        let (inner, conn) = (Arc::clone(inner), Arc::clone(conn));
        std::thread::spawn(move || {
            match to {
                Some(to) => pump(&inner, &conn, dir, from, to),
                None => black_hole(&inner, &conn, from),
            }
            conn.close();
        })
    };
    let Some(server) = &conn.server else {
        return Ok(vec![spawn(Dir::Up, conn.client.try_clone()?, None)]);
    };
    let (c1, c2) = (conn.client.try_clone()?, conn.client.try_clone()?);
    let (s1, s2) = (server.try_clone()?, server.try_clone()?);
    Ok(vec![
        spawn(Dir::Up, c1, Some(s1)),
        spawn(Dir::Down, s2, Some(c2)),
    ])
}

/// A connection accepted during a cut: reads and drops what the client sends until nothing is
/// cut any more, then returns (and the caller closes the connection).
fn black_hole(inner: &Inner, conn: &Conn, mut from: TcpStream) {
    let mut buf = vec![0; CHUNK];
    let _ = from.set_read_timeout(Some(TICK));
    while !inner.stopping() && !conn.is_closed() && inner.any_cut() {
        match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                inner.dropped[Dir::Up as usize].fetch_add(n as u64, Ordering::SeqCst);
            }
            Err(e) if retry(&e) => {}
            Err(_) => return,
        }
    }
}

fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Copies one direction of `conn` from `from` to `to` as the proxy's mode says, until `from`
/// ends (then the whole connection is closed, once that direction is not cut: an end does not
/// cross a partition), the connection is closed or the proxy stops. Chunks wait in `held` until they
/// are due (a delay), in arrival order whatever the mode does meanwhile.
fn pump(inner: &Inner, conn: &Conn, dir: Dir, mut from: TcpStream, mut to: TcpStream) {
    let d = dir as usize;
    let mut held: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut held_bytes = 0;
    let mut buf = vec![0; CHUNK];
    let mut eof = false;
    while !inner.stopping() && !conn.is_closed() {
        if conn.lossy[d].load(Ordering::SeqCst) && inner.link(dir) != Link::Cut {
            return; // the stream has a gap: end the connection rather than deliver it
        }
        let now = Instant::now();
        // Held chunks leave when due, or at once when the link no longer delays (passing,
        // or cut: then they are dropped).
        let release = !matches!(inner.link(dir), Link::Delay(_));
        while held.front().is_some_and(|(due, _)| release || *due <= now) {
            let (_, chunk) = held.pop_front().expect("the front was just seen");
            held_bytes -= chunk.len();
            if deliver(inner, conn, dir, &mut to, &chunk).is_err() {
                return;
            }
        }
        let wait = held
            .front()
            .map_or(TICK, |(due, _)| {
                due.saturating_duration_since(now).min(TICK)
            })
            .max(Duration::from_millis(1));
        if eof && held.is_empty() {
            if inner.link(dir) != Link::Cut {
                return;
            }
            // The end does not cross a cut either: the other side keeps seeing silence.
            std::thread::sleep(TICK);
            continue;
        }
        if eof || held_bytes >= HELD_MAX {
            std::thread::sleep(wait);
            continue;
        }
        let _ = from.set_read_timeout(Some(wait));
        let n = match from.read(&mut buf) {
            Ok(0) => {
                eof = true;
                continue;
            }
            Ok(n) => n,
            Err(e) if retry(&e) => continue,
            Err(_) => {
                eof = true; // a reset ends the stream as an EOF does
                continue;
            }
        };
        let chunk = &buf[..n];
        match inner.link(dir) {
            Link::Cut => drop_bytes(inner, conn, dir, n),
            Link::Pass if held.is_empty() => {
                if deliver(inner, conn, dir, &mut to, chunk).is_err() {
                    return;
                }
            }
            // Behind delayed chunks: due now, but after them.
            Link::Pass => {
                held.push_back((Instant::now(), chunk.to_vec()));
                held_bytes += n;
            }
            Link::Delay(delay) => {
                held.push_back((Instant::now() + delay, chunk.to_vec()));
                held_bytes += n;
            }
        }
    }
}

fn drop_bytes(inner: &Inner, conn: &Conn, dir: Dir, n: usize) {
    conn.lossy[dir as usize].store(true, Ordering::SeqCst);
    inner.dropped[dir as usize].fetch_add(n as u64, Ordering::SeqCst);
}

/// Writes `chunk` to `to` unless the direction is cut by now (bytes in flight are lost in a
/// partition too) or already lossy. Fails when the connection or the proxy ends first.
fn deliver(
    inner: &Inner,
    conn: &Conn,
    dir: Dir,
    to: &mut TcpStream,
    chunk: &[u8],
) -> io::Result<()> {
    if inner.link(dir) == Link::Cut || conn.lossy[dir as usize].load(Ordering::SeqCst) {
        drop_bytes(inner, conn, dir, chunk.len());
        return Ok(());
    }
    // Counted before the write, so that a test that saw the bytes arrive also sees them
    // counted (a failed write ends the connection anyway).
    inner.forwarded[dir as usize].fetch_add(chunk.len() as u64, Ordering::SeqCst);
    let mut rest = chunk;
    while !rest.is_empty() {
        if inner.stopping() || conn.is_closed() {
            return Err(io::ErrorKind::ConnectionAborted.into());
        }
        match to.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(e) if retry(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
