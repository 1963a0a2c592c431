//! A TCP proxy for tests that need to break a connection between two servers (a replica and
//! its primary): it forwards bytes both ways, can cut every link it carries, and can hold new
//! connections (accept them, forward nothing) until told to forward again.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

struct Inner {
    target: SocketAddr,
    /// Hold new connections instead of forwarding them.
    holding: AtomicBool,
    stop: AtomicBool,
    /// Every socket of the links carried (both ends) and of the held connections.
    sockets: Mutex<Vec<TcpStream>>,
    held: Mutex<Vec<TcpStream>>,
}

/// A proxy on a free loopback port, forwarding to `target`; stopped when dropped.
pub(crate) struct Proxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    pub(crate) fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let inner = Arc::new(Inner {
            target,
            holding: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            sockets: Mutex::new(Vec::new()),
            held: Mutex::new(Vec::new()),
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

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Closes every link the proxy carries now (both sides see the connection end).
    pub(crate) fn cut(&self) {
        for s in self.inner.sockets.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// From now on, new connections are accepted but get nothing forwarded (the peer waits).
    pub(crate) fn hold(&self) {
        self.inner.holding.store(true, Ordering::SeqCst);
    }

    /// Forwards new connections again, and closes the held ones so their peers reconnect.
    pub(crate) fn forward(&self) {
        self.inner.holding.store(false, Ordering::SeqCst);
        for s in self.inner.held.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// How many connections are being held.
    pub(crate) fn held(&self) -> usize {
        self.inner.held.lock().unwrap().len()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        self.forward();
        self.cut();
    }
}

fn accept_loop(listener: &TcpListener, inner: &Arc<Inner>) {
    for conn in listener.incoming() {
        if inner.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = conn else { continue };
        if inner.holding.load(Ordering::SeqCst) {
            inner.held.lock().unwrap().push(client);
            continue;
        }
        let Ok(server) = TcpStream::connect(inner.target) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = (client.set_nodelay(true), server.set_nodelay(true));
        let clones = (client.try_clone(), server.try_clone());
        let (Ok(c2), Ok(s2)) = clones else { continue };
        {
            let mut sockets = inner.sockets.lock().unwrap();
            for s in [&client, &server] {
                if let Ok(s) = s.try_clone() {
                    sockets.push(s);
                }
            }
        }
        std::thread::spawn(move || pump(client, s2));
        std::thread::spawn(move || pump(server, c2));
    }
}

/// Copies `from` to `to` until either side ends, then ends both.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
