//! The groups of single kvservers the fault tests run against until the Raft mode exists:
//! independent servers (one, for the durability runs; two, for the control that shows a
//! client really spreads its commands over nodes), and one server behind several proxies (the
//! nodes' client addresses), so that cuts, delays and resets reach real clients.

use std::net::SocketAddr;

use super::runner::{Group, Net};
use crate::e2e::nemesis::Proxy;
use crate::e2e::support::Server;

/// Independent servers, node `id` started (and restarted) by `start(id)`; there is no network
/// between them to change.
pub(crate) struct Servers<'a> {
    start: Box<dyn Fn(usize) -> Server + 'a>,
    servers: Vec<Option<Server>>,
}

impl<'a> Servers<'a> {
    pub(crate) fn start(nodes: usize, start: impl Fn(usize) -> Server + 'a) -> Servers<'a> {
        let servers = (1..=nodes).map(|id| Some(start(id))).collect();
        Servers {
            start: Box::new(start),
            servers,
        }
    }
}

impl Group for Servers<'_> {
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
        self.servers[id - 1] = Some((self.start)(id));
    }

    fn net(&mut self, net: &Net) {
        panic!("independent servers have no links between them to change ({net:?})");
    }

    fn heal(&mut self) {}
}

/// One server that every node stands for: node `id` is a proxy to it, so a network fault
/// cuts clients off. `Isolate(id)` cuts node `id`'s proxy, `Delay` and `Reset` act on every
/// proxy; a split or a one-way cut has no meaning here. Killing any node kills the server,
/// and the proxies send new connections to it where it restarts.
pub(crate) struct Fronted<'a> {
    start: Box<dyn Fn() -> Server + 'a>,
    server: Option<Server>,
    proxies: Vec<Proxy>,
}

impl<'a> Fronted<'a> {
    pub(crate) fn start(nodes: usize, start: impl Fn() -> Server + 'a) -> Fronted<'a> {
        let server = start();
        let proxies = (0..nodes).map(|_| Proxy::start(server.addr)).collect();
        Fronted {
            start: Box::new(start),
            server: Some(server),
            proxies,
        }
    }

    /// Node `id`'s proxy (for its counters).
    pub(crate) fn proxy(&self, id: usize) -> &Proxy {
        &self.proxies[id - 1]
    }
}

impl Group for Fronted<'_> {
    fn nodes(&self) -> usize {
        self.proxies.len()
    }

    fn addr(&self, id: usize) -> Option<SocketAddr> {
        self.server.as_ref().map(|_| self.proxies[id - 1].addr())
    }

    fn pid(&self, _id: usize) -> Option<u32> {
        self.server.as_ref().map(Server::pid)
    }

    fn kill(&mut self, _id: usize) {
        self.server = None;
    }

    fn restart(&mut self, _id: usize) {
        let server = (self.start)();
        for p in &self.proxies {
            p.set_target(server.addr);
        }
        self.server = Some(server);
    }

    fn net(&mut self, net: &Net) {
        match net {
            Net::Isolate(id) => self.proxies[id - 1].cut(),
            Net::Delay(d) => self.proxies.iter().for_each(|p| p.delay(*d)),
            Net::Reset => self.proxies.iter().for_each(Proxy::reset),
            Net::Split(..) | Net::OneWay(..) => {
                panic!("{net:?} means nothing for one server behind proxies")
            }
        }
    }

    fn heal(&mut self) {
        self.proxies.iter().for_each(Proxy::pass);
    }
}
