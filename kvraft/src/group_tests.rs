//! Groups of nodes in one process, over loopback links: elections, replication of the
//! leader's commands, and a new leader after one stops.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kvcore::{Kv, Options, Store};

use crate::{RaftNode, RaftOptions, Route};

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

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
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
}

impl Group {
    pub(crate) fn start(n: u64, name: &str) -> Group {
        init_log();
        let peers: Vec<(u64, String)> = (1..=n)
            .map(|id| (id, format!("127.0.0.1:{}", free_port())))
            .collect();
        let dir = temp_dir(name);
        let mut g = Group {
            nodes: Vec::new(),
            peers,
            dir,
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
        let deadline = Instant::now() + Duration::from_secs(20);
        while kv.db(0).unwrap().get(key).unwrap().as_deref() != Some(value.as_bytes()) {
            assert!(
                Instant::now() < deadline,
                "node {} never got {key}={value}",
                i + 1
            );
            std::thread::sleep(Duration::from_millis(5));
        }
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
            Route::Forward(addr) => {
                assert_ne!(i, leader);
                assert_eq!(addr, format!("127.0.0.1:{}", 6001 + leader as u16));
            }
            Route::NoLeader => panic!("node {} knows no leader", i + 1),
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
    let deadline = Instant::now() + Duration::from_secs(20);
    while g.nodes[3].as_ref().unwrap().0.status().peers.len() != 4 {
        assert!(Instant::now() < deadline, "node 4 never saw four members");
        std::thread::sleep(Duration::from_millis(5));
    }
    // A follower leaves; the group of three left still commits.
    let leaving = (0..3).find(|&i| i != leader).unwrap();
    let (node, _) = g.nodes[leader].as_ref().unwrap();
    node.remove_node(leaving as u64 + 1).expect("REMOVE-NODE");
    let (gone, _) = g.nodes[leaving].take().unwrap();
    gone.stop();
    g.set("after-leave", "z");
    g.wait_value(3, "after-leave", "z");
    let deadline = Instant::now() + Duration::from_secs(20);
    while g.nodes[g.leader()].as_ref().unwrap().0.status().peers.len() != 3 {
        assert!(
            Instant::now() < deadline,
            "the leader never saw three members"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn run_on_a_follower_is_refused_and_runs_nothing() {
    let g = Group::start(3, "follower-run");
    let leader = g.leader();
    let follower = (0..3).find(|&i| i != leader).unwrap();
    let (node, kv) = g.nodes[follower].as_ref().unwrap();
    // Wait until the follower knows the leader (route no longer waits for one).
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.leader() == 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
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
