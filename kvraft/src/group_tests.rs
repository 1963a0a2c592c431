//! Groups of nodes in one process, over loopback links: elections, replication of the
//! leader's commands, a new leader after one stops, snapshots sent in chunks, and links that
//! need a shared secret.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use kvcore::{Kv, Options, Store};
use raft::prelude::{Message, MessageType};
use sha2::Sha256;

use crate::ports::free_port;
use crate::transport::{Hello, hello, write_message};
use crate::{Coordinator, LinkSecurity, RaftNode, RaftOptions, Route, SecretLinks};

/// `KVRAFT_LOG=debug cargo test -p kvraft` prints the nodes' log records.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        eprintln!("{} {}: {}", r.level(), r.target(), r.args());
    }
    fn flush(&self) {}
}

fn init_log() {
    if let Ok(level) = std::env::var("KVRAFT_LOG") {
        static LOGGER: StderrLog = StderrLog;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(level.parse().unwrap_or(log::LevelFilter::Debug));
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kvraft-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A group of nodes in this process, each with the `Kv` it serves (`None`: stopped).
pub(crate) struct Group {
    pub(crate) nodes: Vec<Option<(Arc<RaftNode>, Kv)>>,
    peers: Vec<(u64, String)>,
    dir: PathBuf,
    /// Settings every node gets beyond the tests' defaults.
    tune: fn(RaftOptions) -> RaftOptions,
}

impl Group {
    pub(crate) fn start(n: u64, name: &str) -> Group {
        Group::start_with(n, name, |o| o)
    }

    pub(crate) fn start_with(n: u64, name: &str, tune: fn(RaftOptions) -> RaftOptions) -> Group {
        init_log();
        let peers: Vec<(u64, String)> = (1..=n)
            .map(|id| (id, format!("127.0.0.1:{}", free_port())))
            .collect();
        let dir = temp_dir(name);
        let mut g = Group {
            nodes: Vec::new(),
            peers,
            dir,
            tune,
        };
        for id in 1..=n {
            let node = g.node(id);
            g.nodes.push(Some(node));
        }
        g
    }

    fn node(&self, id: u64) -> (Arc<RaftNode>, Kv) {
        let kv = Kv::in_memory(Options::default());
        let opts = RaftOptions::new(id, self.peers.clone(), self.dir.join(id.to_string()))
            .tick(Duration::from_millis(20))
            .client_port(6000 + id as u16);
        let opts = (self.tune)(opts);
        let node = RaftNode::start(kv.clone(), opts).expect("node starts");
        (Arc::new(node), kv)
    }

    /// The index of the node that serves as leader, waiting (up to 20 s) for one.
    pub(crate) fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            for (i, n) in self.nodes.iter().enumerate() {
                if let Some((node, _)) = n
                    && node.status().serving
                {
                    return i;
                }
            }
            assert!(Instant::now() < deadline, "no leader within 20 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SETs on the leader through `RaftNode::run` (run, then settle), retrying until one
    /// settles.
    pub(crate) fn set(&self, key: &str, value: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let i = self.leader();
            let (node, _) = self.nodes[i].as_ref().expect("a running leader");
            if let Ok(done) = node.run(|kv| kv.db(0).unwrap().set(key, value)) {
                done.expect("SET");
                return;
            }
            assert!(Instant::now() < deadline, "SET {key} never settled");
        }
    }

    fn wait_value(&self, i: usize, key: &str, value: &str) {
        let (_, kv) = self.nodes[i].as_ref().expect("a running node");
        eventually(&format!("node {} got {key}={value}", i + 1), || {
            kv.db(0).unwrap().get(key).unwrap().as_deref() == Some(value.as_bytes())
        });
    }
}

/// Waits (polling, up to 20 s) until `done` holds; fails the test naming `what` otherwise.
pub(crate) fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        for n in self.nodes.iter_mut() {
            if let Some((node, _)) = n.take() {
                node.stop();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_group_of_three_elects_one_leader_and_replicates_its_writes() {
    let g = Group::start(3, "three");
    let leader = g.leader();
    g.set("a", "1");
    g.set("b", "2");
    for i in 0..3 {
        g.wait_value(i, "a", "1");
        g.wait_value(i, "b", "2");
    }
    // Exactly one node serves; the others route to it.
    let serving = g
        .nodes
        .iter()
        .filter(|n| n.as_ref().is_some_and(|(node, _)| node.status().serving))
        .count();
    assert_eq!(serving, 1);
    for (i, n) in g.nodes.iter().enumerate() {
        let (node, _) = n.as_ref().unwrap();
        match node.route() {
            Route::Local(_) => assert_eq!(i, leader),
            Route::Forward(to) => {
                assert_ne!(i, leader);
                assert_eq!(to.node(), leader as u64 + 1);
                assert_eq!(to.addr(), format!("127.0.0.1:{}", 6001 + leader as u16));
                assert_eq!(to.tls_addr(), None, "no node announced a TLS client port");
            }
            Route::Unavailable => panic!("node {} knows no leader", i + 1),
        }
    }
}

#[test]
fn when_the_leader_stops_another_takes_over_with_every_settled_write() {
    let mut g = Group::start(3, "failover");
    for i in 0..20 {
        g.set(&format!("k{i}"), &i.to_string());
    }
    let old = g.leader();
    let (node, _) = g.nodes[old].take().unwrap();
    node.stop();
    drop(node);
    let new = g.leader();
    assert_ne!(new, old);
    for i in 0..20 {
        g.wait_value(new, &format!("k{i}"), &i.to_string());
    }
    g.set("after", "x");
    for i in 0..3 {
        if i != old {
            g.wait_value(i, "after", "x");
        }
    }
}

#[test]
fn a_node_joins_through_the_leader_and_a_member_leaves() {
    let mut g = Group::start(3, "members");
    for i in 0..50 {
        g.set(&format!("before{i}"), "x");
    }
    // Node 4 knows where the others are, but not that it is a member: the leader adds it.
    let addr4 = format!("127.0.0.1:{}", free_port());
    let mut peers = g.peers.clone();
    peers.push((4, addr4.clone()));
    let kv4 = Kv::in_memory(Options::default());
    let opts = RaftOptions::new(4, peers.clone(), g.dir.join("4"))
        .tick(Duration::from_millis(20))
        .client_port(6004)
        .join(true);
    let node4 = RaftNode::start(kv4.clone(), opts).expect("node 4 starts");
    g.peers = peers;
    g.nodes.push(Some((Arc::new(node4), kv4)));
    let leader = g.leader();
    let (node, _) = g.nodes[leader].as_ref().unwrap();
    node.add_node(4, &addr4).expect("ADD-NODE 4");
    // It gets the data from before it joined (the snapshot and the log) and after.
    g.set("after-join", "y");
    g.wait_value(3, "before49", "x");
    g.wait_value(3, "after-join", "y");
    eventually("node 4 saw four members", || {
        g.nodes[3].as_ref().unwrap().0.status().peers.len() == 4
    });
    // A follower leaves; the group of three left still commits.
    let leaving = (0..3).find(|&i| i != leader).unwrap();
    let (node, _) = g.nodes[leader].as_ref().unwrap();
    node.remove_node(leaving as u64 + 1).expect("REMOVE-NODE");
    let (gone, _) = g.nodes[leaving].take().unwrap();
    gone.stop();
    g.set("after-leave", "z");
    g.wait_value(3, "after-leave", "z");
    eventually("the leader saw three members", || {
        g.nodes[g.leader()].as_ref().unwrap().0.status().peers.len() == 3
    });
}

#[test]
fn run_on_a_follower_is_refused_and_runs_nothing() {
    let g = Group::start(3, "follower-run");
    let leader = g.leader();
    let follower = (0..3).find(|&i| i != leader).unwrap();
    let (node, kv) = g.nodes[follower].as_ref().unwrap();
    // Wait until the follower knows the leader (route no longer waits for one).
    eventually("the follower knows the leader", || node.leader() != 0);
    let mut ran = false;
    let res = node.run(|_| ran = true);
    assert!(matches!(res, Err(crate::Error::NotLeader)), "{res:?}");
    assert!(!ran);
    assert_eq!(kv.db(0).unwrap().get("x").unwrap(), None);
}

#[test]
fn a_write_settles_by_its_own_commit_and_a_read_by_a_read_round() {
    let g = Group::start(3, "settle");
    // A first write, retried through any change of leader, so the leader below is settled.
    g.set("warm", "1");
    let leader = g.leader();
    let (node, _) = g.nodes[leader].as_ref().unwrap();
    let tickets = |n: &RaftNode| n.status().read_tickets;
    let before = tickets(node);
    for i in 0..20 {
        node.run(|kv| kv.db(0).unwrap().set("k", i.to_string()))
            .expect("a write settles")
            .expect("SET");
    }
    // A write that reads first (INCR) and a transaction end with their own append too.
    node.run(|kv| kv.db(0).unwrap().incr("n")).unwrap().unwrap();
    assert_eq!(tickets(node), before, "writes needed no read confirmation");
    // A read, and a write followed by a read, wait for one.
    let got = node.run(|kv| kv.db(0).unwrap().get("k")).unwrap().unwrap();
    assert_eq!(got.as_deref(), Some(&b"19"[..]));
    assert_eq!(tickets(node), before + 1);
    let got = node
        .run(|kv| {
            let db = kv.db(0).unwrap();
            db.set("k", "20").unwrap();
            db.get("n").unwrap()
        })
        .unwrap();
    assert_eq!(got.as_deref(), Some(&b"1"[..]));
    assert_eq!(tickets(node), before + 2);
    assert!(node.status().read_rounds >= 1);
}

/// Snapshots for the transfer tests: one every 16 entries keeping 4 before it, sent in
/// chunks of 4 KiB.
fn small_chunks(o: RaftOptions) -> RaftOptions {
    o.snapshot_entries(16).keep_entries(4).snapshot_chunk(4096)
}

/// 8 KiB of letters that do not compress (the RDB compresses repeated bytes).
fn value(key: usize) -> String {
    let mut x = (key as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..8 << 10)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// Stops a follower, writes 48 values of 8 KiB (about 400 KiB: a hundred chunks) until the
/// leader's log no longer holds what the follower has, and starts the follower again on its
/// directory. Returns the follower's index and the leader's.
fn lag_a_follower_behind_the_compacted_log(g: &mut Group) -> (usize, usize) {
    g.set("first", "1");
    let leader = g.leader();
    let follower = (0..3).find(|&i| i != leader).unwrap();
    g.wait_value(follower, "first", "1");
    let (node, _) = g.nodes[follower].take().unwrap();
    let behind = node.status().last_index;
    node.stop();
    drop(node);
    let mut i = 0;
    loop {
        g.set(&format!("k{i}"), &value(i));
        i += 1;
        let (node, _) = g.nodes[g.leader()].as_ref().unwrap();
        if i >= 48 && node.status().first_index > behind + 1 {
            break;
        }
        assert!(i < 10_000, "the leader never compacted past index {behind}");
    }
    g.nodes[follower] = Some(g.node(follower as u64 + 1));
    (follower, g.leader())
}

fn every_key_arrives(g: &Group, follower: usize) {
    for i in 0..48 {
        g.wait_value(follower, &format!("k{i}"), &value(i));
    }
    g.set("after", "x");
    g.wait_value(follower, "after", "x");
}

/// The snapshot files a node's log directory holds: adopted ones and received ones.
fn snapshot_files(g: &Group, node: usize) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(g.dir.join((node + 1).to_string()))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("raftsnap"))
        .collect();
    names.sort();
    names
}

/// A snapshot file in `node`'s log directory and no received one left: adopted files are
/// renamed, others removed. (The node's own compaction may be writing its next snapshot,
/// `snap-*.raftsnap.tmp`, meanwhile, and the old one goes once the new one is in place.)
#[track_caller]
fn assert_only_snapshots_left(g: &Group, node: usize) {
    let files = snapshot_files(g, node);
    assert!(files.iter().all(|f| f.starts_with("snap-")), "{files:?}");
    assert!(files.iter().any(|f| f.ends_with(".raftsnap")), "{files:?}");
}

/// Issue 20: a snapshot travels as a file in chunks, never whole in one buffer (before, it
/// was one message holding every byte, on both sides).
#[test]
fn a_follower_behind_the_compacted_log_installs_a_snapshot_sent_in_small_chunks() {
    let mut g = Group::start_with(3, "snap-chunks", small_chunks);
    let (follower, leader) = a_snapshot_reaches_a_lagging_follower(&mut g);
    let sent = g.nodes[leader].as_ref().unwrap().0.transfers();
    let got = g.nodes[follower].as_ref().unwrap().0.transfers();
    let chunks = sent.chunks_sent.load(Ordering::SeqCst);
    assert!(
        chunks >= 48,
        "a snapshot of 400 KiB went in {chunks} chunks"
    );
    assert_eq!(sent.largest_sent.load(Ordering::SeqCst), 4096);
    assert_eq!(got.largest_received.load(Ordering::SeqCst), 4096);
    // Adopted, and nothing received left behind.
    assert_only_snapshots_left(&g, follower);
}

/// A transfer cut after 5 chunks adopts nothing and leaves no file; raft sends the snapshot
/// again and the second transfer installs it.
#[test]
fn a_snapshot_transfer_cut_midway_is_dropped_and_sent_again() {
    let mut g = Group::start_with(3, "snap-cut", small_chunks);
    for (node, _) in g.nodes.iter().flatten() {
        node.transfers().cut_after.store(5, Ordering::SeqCst);
    }
    let (follower, leader) = lag_a_follower_behind_the_compacted_log(&mut g);
    every_key_arrives(&g, follower);
    let sent = g.nodes[leader].as_ref().unwrap().0.transfers();
    let got = g.nodes[follower].as_ref().unwrap().0.transfers();
    assert_eq!(sent.cut_after.load(Ordering::SeqCst), 0, "the cut happened");
    assert!(sent.failed.load(Ordering::SeqCst) >= 1);
    assert!(sent.sent.load(Ordering::SeqCst) >= 1);
    // Only whole files reached raft: the cut one never did.
    assert_eq!(
        got.received.load(Ordering::SeqCst),
        sent.sent.load(Ordering::SeqCst)
    );
    assert_only_snapshots_left(&g, follower);
}

const SECRET: &str = "the group's secret";

fn with_secret(o: RaftOptions) -> RaftOptions {
    o.security(Arc::new(SecretLinks::new(SECRET)))
}

/// A forged hello from "node 9", then heartbeats from it to node `to` at term 1000: taken,
/// they depose any leader (raft-rs follows a higher term).
fn forged_frames(to: u64) -> Vec<u8> {
    let mut frames = hello(Hello {
        id: 9,
        client_port: 1,
        tls_client_port: 0,
    });
    for _ in 0..4 {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgHeartbeat);
        (m.from, m.to, m.term) = (9, to, 1000);
        write_message(&mut frames, &m).unwrap();
    }
    frames
}

/// HMAC-SHA256(secret, tag || role || a || c): a proof as docs/format.md describes it,
/// computed here apart from `SecretLinks`.
fn proof(secret: &str, role: u8, a: &[u8], c: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    for part in [&b"kvraft link secret v1"[..], &[role], a, c] {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// What the node sends on `s` until it closes the link, or as soon as it has sent more than
/// `most` bytes (a node that goes on talking would keep the link open for ever).
fn until_closed(s: &mut TcpStream, most: usize) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() <= most {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the node neither closed the link nor spoke: {e}"),
        }
    }
    got
}

/// Issue 20: a group whose links need the shared secret elects, commits, and sends a
/// follower behind the compacted log its snapshot (a connection of its own, through the same
/// handshake).
#[test]
fn a_group_with_a_secret_elects_commits_and_sends_snapshots() {
    let mut g = Group::start_with(3, "secret", |o| with_secret(small_chunks(o)));
    a_snapshot_reaches_a_lagging_follower(&mut g);
}

/// Lags a follower behind the compacted log, checks that it gets every key, through a
/// snapshot the leader sent and it received; returns (follower, leader).
fn a_snapshot_reaches_a_lagging_follower(g: &mut Group) -> (usize, usize) {
    let (follower, leader) = lag_a_follower_behind_the_compacted_log(g);
    every_key_arrives(g, follower);
    let sent = g.nodes[leader].as_ref().unwrap().0.transfers();
    let got = g.nodes[follower].as_ref().unwrap().0.transfers();
    assert!(sent.sent.load(Ordering::SeqCst) >= 1);
    assert!(got.received.load(Ordering::SeqCst) >= 1);
    (follower, leader)
}

/// Issue 20's gap ("the Raft port has no authentication without tls-cluster"): a stranger
/// who says a valid hello and sends heartbeats at term 1000, without a proof or with a proof
/// made with another secret, has its link closed and reaches nothing; the same frames after a
/// proof made with the secret depose the leader, so it is the proof that keeps them out.
#[test]
fn a_stranger_without_the_secret_cannot_reach_raft() {
    let g = Group::start_with(3, "secret-stranger", with_secret);
    g.set("a", "1");
    let leader = g.leader();
    let addr = g.peers[leader].1.clone();
    let forged = forged_frames(leader as u64 + 1);

    // No proof: what a node without the secret sends, its hello and messages at once. The
    // node's challenge is all it gets back.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(&forged).unwrap();
    let got = until_closed(&mut s, 40);
    assert_eq!(got.len(), 40, "{got:?}");
    assert!(got.starts_with(b"KVRAUTH1"), "{got:?}");

    // A proof over the node's nonce, made with another secret, and the frames right after.
    let mut s = TcpStream::connect(&addr).unwrap();
    let mut challenge = [0u8; 40];
    s.read_exact(&mut challenge).unwrap();
    let c = [5u8; 32];
    let mut answer = c.to_vec();
    answer.extend(proof("another secret", b'C', &challenge[8..], &c));
    answer.extend_from_slice(&forged);
    s.write_all(&answer).unwrap();
    let got = until_closed(&mut s, 0);
    assert!(
        got.is_empty(),
        "the node proved itself to a stranger: {got:?}"
    );

    // A round commits after the strangers; no node took term 1000.
    g.set("b", "2");
    for (node, _) in g.nodes.iter().flatten() {
        assert!(node.status().term < 1000, "{:?}", node.status());
    }

    // The control: the same frames after a proof made with the secret are taken.
    let tcp = TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut link = SecretLinks::new(SECRET)
        .connect(tcp, &addr)
        .expect("the secret opens the link");
    link.write_all(&forged).unwrap();
    link.flush().unwrap();
    let (node, _) = g.nodes[leader].as_ref().unwrap();
    eventually("the forged heartbeats were taken", || {
        node.status().term >= 1000
    });
}

/// A node whose peer's address answers the handshake without the secret (an impostor, or a
/// node given another secret) sends it nothing past its proof: no hello, no message, no log.
#[test]
fn a_node_sends_nothing_to_an_impostor_at_its_peers_address() {
    let impostor = TcpListener::bind("127.0.0.1:0").unwrap();
    let peers = vec![
        (1, format!("127.0.0.1:{}", free_port())),
        (2, impostor.local_addr().unwrap().to_string()),
    ];
    let dir = temp_dir("secret-impostor");
    let opts =
        with_secret(RaftOptions::new(1, peers, dir.join("1")).tick(Duration::from_millis(20)));
    let node = RaftNode::start(Kv::in_memory(Options::default()), opts).expect("node starts");
    // The node's sender to node 2 connects at once (and again after each refusal).
    let (mut s, _) = impostor.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let a = [3u8; 32];
    s.write_all(b"KVRAUTH1").unwrap();
    s.write_all(&a).unwrap();
    let mut answer = [0u8; 64];
    s.read_exact(&mut answer).unwrap();
    assert_eq!(
        answer[32..],
        proof(SECRET, b'C', &a, &answer[..32])[..],
        "the node's proof, over this challenge"
    );
    s.write_all(&proof("another secret", b'A', &a, &answer[..32]))
        .unwrap();
    let got = until_closed(&mut s, 0);
    assert!(got.is_empty(), "the node sent an impostor {got:?}");
    node.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
