//! The links between nodes: one TCP connection per peer for this node's messages to it, and a
//! listener for the peers' connections to this node.
//!
//! A frame is a length (u32, little-endian) and a payload whose first byte says what it is:
//! `0` a hello (the sender's node ID, u64, and the port its clients connect to, u16), sent
//! once when a connection opens; `1` a raft-rs `Message` in protobuf. A sender never blocks
//! the Raft thread: each peer has a bounded queue, and a message that finds it full, or no
//! connection, is dropped (Raft retries what matters: heartbeats, appends, votes).

use std::collections::HashMap;
use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::thread;
use std::time::Duration;

use parking_lot::Mutex;
use protobuf::Message as _;
use raft::prelude::Message;

use crate::node::Event;

/// Messages queued for one peer before new ones are dropped.
const QUEUE: usize = 4096;
/// The largest frame accepted (a snapshot travels in one message).
const MAX_FRAME: usize = u32::MAX as usize;

const HELLO: u8 = 0;
const MESSAGE: u8 = 1;

struct Peer {
    /// Where this node connects to reach the peer (its Raft address, or a proxy).
    addr: String,
    queue: SyncSender<Message>,
}

struct State {
    peers: HashMap<u64, Peer>,
    /// The port each node's clients connect to, from its hello (kept for nodes that are not
    /// peers yet: a joining node says hello before its addition is applied here).
    client_ports: HashMap<u64, u16>,
}

/// The node's links.
pub(crate) struct Transport {
    id: u64,
    client_port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    listen: SocketAddr,
    inbox: Sender<Event>,
}

impl Transport {
    /// Listens on `listen` and starts a sender for each of `peers` (ID, address).
    pub(crate) fn start(
        id: u64,
        listen: &str,
        client_port: u16,
        peers: &[(u64, String)],
        inbox: Sender<Event>,
    ) -> io::Result<Transport> {
        let listener = TcpListener::bind(listen)?;
        let listen = listener.local_addr()?;
        let t = Transport {
            id,
            client_port,
            state: Arc::new(Mutex::new(State {
                peers: HashMap::new(),
                client_ports: HashMap::new(),
            })),
            stop: Arc::new(AtomicBool::new(false)),
            listen,
            inbox,
        };
        for (peer, addr) in peers {
            if *peer != id {
                t.add_peer(*peer, addr);
            }
        }
        let state = Arc::clone(&t.state);
        let stop = Arc::clone(&t.stop);
        let inbox = t.inbox.clone();
        thread::Builder::new()
            .name("raft-accept".into())
            .spawn(move || accept(listener, state, stop, inbox))?;
        Ok(t)
    }

    /// Starts a sender to a peer (a node added to the group); replaces one with that ID.
    pub(crate) fn add_peer(&self, peer: u64, addr: &str) {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        self.state.lock().peers.insert(
            peer,
            Peer {
                addr: addr.to_string(),
                queue: tx,
            },
        );
        let hello = hello(self.id, self.client_port);
        let stop = Arc::clone(&self.stop);
        let addr = addr.to_string();
        let spawned = thread::Builder::new()
            .name(format!("raft-send-{peer}"))
            .spawn(move || send_loop(&addr, &hello, &rx, &stop));
        if let Err(e) = spawned {
            log::error!("cannot start the raft sender to node {peer}: {e}");
        }
    }

    /// Stops sending to a peer (a node removed from the group).
    pub(crate) fn remove_peer(&self, peer: u64) {
        // Dropping the queue's sender ends the peer's thread.
        self.state.lock().peers.remove(&peer);
    }

    /// Queues a message for its peer; dropped when the queue is full or the peer unknown.
    pub(crate) fn send(&self, msg: Message) {
        let st = self.state.lock();
        let Some(peer) = st.peers.get(&msg.to) else {
            return;
        };
        match peer.queue.try_send(msg) {
            Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// The address clients of `peer` connect to: its Raft host and the port it announced.
    pub(crate) fn client_addr(&self, peer: u64) -> Option<String> {
        let st = self.state.lock();
        let p = st.peers.get(&peer)?;
        let port = *st.client_ports.get(&peer)?;
        let host = p.addr.rsplit_once(':').map_or(p.addr.as_str(), |(h, _)| h);
        Some(format!("{host}:{port}"))
    }

    /// Where this node connects to reach `peer`.
    pub(crate) fn peer_addr(&self, peer: u64) -> Option<String> {
        self.state.lock().peers.get(&peer).map(|p| p.addr.clone())
    }

    /// The address this node listens on for its peers.
    pub(crate) fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// Stops every thread of the links.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.state.lock().peers.clear();
        // Wakes the accept loop.
        let _ = TcpStream::connect_timeout(&self.listen, Duration::from_millis(200));
    }
}

fn hello(id: u64, client_port: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(15);
    f.extend_from_slice(&11u32.to_le_bytes());
    f.push(HELLO);
    f.extend_from_slice(&id.to_le_bytes());
    f.extend_from_slice(&client_port.to_le_bytes());
    f
}

fn resolve(addr: &str) -> Option<SocketAddr> {
    addr.to_socket_addrs().ok()?.next()
}

/// One peer's sender: connects (again after any failure), says hello, writes messages.
fn send_loop(addr: &str, hello: &[u8], rx: &Receiver<Message>, stop: &AtomicBool) {
    let mut backoff = Duration::from_millis(20);
    while !stop.load(Ordering::Relaxed) {
        let conn = resolve(addr)
            .ok_or_else(|| io::Error::other("unresolvable"))
            .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)));
        let stream = match conn {
            Ok(s) => s,
            Err(_) => {
                // Messages meanwhile are stale: drop them rather than send old votes later.
                while rx.try_recv().is_ok() {}
                thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(500));
                continue;
            }
        };
        backoff = Duration::from_millis(20);
        let _ = stream.set_nodelay(true);
        // A peer that stops reading (paused, partitioned) must not hold this thread forever.
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        let mut w = BufWriter::with_capacity(64 * 1024, &stream);
        if w.write_all(hello).and_then(|()| w.flush()).is_err() {
            continue;
        }
        loop {
            let first = match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut ok = write_message(&mut w, &first).is_ok();
            while ok && let Ok(m) = rx.try_recv() {
                ok = write_message(&mut w, &m).is_ok();
            }
            if !ok || w.flush().is_err() {
                let _ = stream.shutdown(Shutdown::Both);
                break;
            }
        }
    }
}

fn write_message(w: &mut impl Write, m: &Message) -> io::Result<()> {
    let bytes = m.write_to_bytes().map_err(io::Error::other)?;
    let len = u32::try_from(bytes.len() + 1).map_err(|_| io::Error::other("message too large"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(&[MESSAGE])?;
    w.write_all(&bytes)
}

fn accept(
    listener: TcpListener,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    inbox: Sender<Event>,
) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else { continue };
        let state = Arc::clone(&state);
        let stop = Arc::clone(&stop);
        let inbox = inbox.clone();
        let _ = thread::Builder::new()
            .name("raft-recv".into())
            .spawn(move || {
                if let Err(e) = receive(&stream, &state, &stop, &inbox) {
                    log::debug!(target: "raft", "raft link closed: {e}");
                }
            });
    }
}

/// Reads one peer's frames until the connection ends.
fn receive(
    stream: &TcpStream,
    state: &Mutex<State>,
    stop: &AtomicBool,
    inbox: &Sender<Event>,
) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut r = io::BufReader::with_capacity(64 * 1024, stream);
    let mut from = None;
    let mut buf = Vec::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut len = [0u8; 4];
        r.read_exact(&mut len)?;
        let len = u32::from_le_bytes(len) as usize;
        if len == 0 || len > MAX_FRAME {
            return Err(io::Error::other(format!("a frame of {len} bytes")));
        }
        buf.resize(len, 0);
        r.read_exact(&mut buf)?;
        match buf[0] {
            HELLO if len == 11 => {
                let id = u64::from_le_bytes(buf[1..9].try_into().expect("8 bytes"));
                let port = u16::from_le_bytes(buf[9..11].try_into().expect("2 bytes"));
                state.lock().client_ports.insert(id, port);
                from = Some(id);
            }
            MESSAGE if from.is_some() => {
                let msg = Message::parse_from_bytes(&buf[1..]).map_err(io::Error::other)?;
                if inbox.send(Event::Message(Box::new(msg))).is_err() {
                    return Ok(());
                }
            }
            kind => {
                return Err(io::Error::other(format!(
                    "an unexpected frame of kind {kind}"
                )));
            }
        }
        if buf.capacity() > 1 << 20 {
            buf = Vec::new();
        }
    }
}
