//! A Raft group of kvserver processes for the fault runner: node `id` listens for Raft on a
//! fixed loopback port (the same across restarts) and reaches the others through a [`Mesh`]
//! of proxies, so the nemesis can partition, cut one way, delay and reset the links between
//! nodes; clients reach each node's own port directly.

use std::net::SocketAddr;

use super::runner::{Group, Net};
use crate::e2e::nemesis::Mesh;
use crate::e2e::ports::free_port;
use crate::e2e::support::{Server, TempDir};

pub(crate) struct RaftGroup {
    dir: TempDir,
    mesh: Mesh,
    servers: Vec<Option<Server>>,
}

fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

impl RaftGroup {
    pub(crate) fn start(name: &str, nodes: usize) -> RaftGroup {
        let targets: Vec<SocketAddr> = (0..nodes).map(|_| free_addr()).collect();
        let mut g = RaftGroup {
            dir: TempDir::new(name),
            mesh: Mesh::new(&targets),
            servers: (0..nodes).map(|_| None).collect(),
        };
        for id in 1..=nodes {
            g.restart(id);
        }
        g
    }

    /// The serving leader's ID, if one says so now.
    pub(crate) fn leader(&self) -> Option<usize> {
        (1..=self.servers.len()).find(|&id| {
            self.servers[id - 1].as_ref().is_some_and(|s| {
                let mut c = s.client();
                redis::cmd("INFO")
                    .arg("raft")
                    .query::<String>(&mut c)
                    .is_ok_and(|i| i.contains("raft_serving:1"))
            })
        })
    }

    pub(crate) fn server(&self, id: usize) -> &Server {
        self.servers[id - 1].as_ref().expect("a running node")
    }

    pub(crate) fn mesh(&self) -> &Mesh {
        &self.mesh
    }
}

impl Group for RaftGroup {
    fn nodes(&self) -> usize {
        self.servers.len()
    }

    fn addr(&self, id: usize) -> Option<SocketAddr> {
        self.servers[id - 1].as_ref().map(|s| s.addr)
    }

    fn pid(&self, id: usize) -> Option<u32> {
        self.servers[id - 1].as_ref().map(Server::pid)
    }

    fn kill(&mut self, id: usize) {
        // Dropping a server SIGKILLs it and waits for the process to be gone.
        self.servers[id - 1] = None;
    }

    fn restart(&mut self, id: usize) {
        let data = format!("{}/{id}", self.dir.path());
        let peers = self.mesh.peers_arg(id);
        let id_s = id.to_string();
        self.servers[id - 1] = Some(Server::start_raw(&[
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            &data,
            "--raft-id",
            &id_s,
            "--raft-peers",
            &peers,
            "--raft-snapshot-entries",
            "200",
        ]));
    }

    fn net(&mut self, net: &Net) {
        net.apply(&self.mesh);
    }

    fn heal(&mut self) {
        self.mesh.heal();
    }
}

impl Drop for RaftGroup {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        // What each node was doing when the test failed.
        for (i, s) in self.servers.iter().enumerate() {
            let Some(s) = s else {
                eprintln!("node {}: down", i + 1);
                continue;
            };
            let log = s.log();
            let keep = std::env::temp_dir().join(format!("kv-raft-node-{}.log", i + 1));
            if std::fs::write(&keep, &log).is_ok() {
                eprintln!("node {}'s whole log: {}", i + 1, keep.display());
            }
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("node {} ({}), last log lines:", i + 1, s.addr);
            for l in tail.iter().rev() {
                eprintln!("  {l}");
            }
        }
    }
}
