//! The network between the nodes of a group: one [`Proxy`] per ordered pair of nodes, so that
//! every link can be cut, delayed or reset on its own. Node `i` reaches node `j` through the
//! proxy `(i, j)`, which forwards to `j`'s real Raft address; `i`'s `--raft-peers` names its
//! own real address (where it listens) and those proxies for the others.
//!
//! Nodes are numbered from 1, as Raft ids are, so a test can pass the leader id it read from
//! a node straight to [`Mesh::isolate`].
//!
//! A node may use the connection it opened to a peer in both directions (a request out, its
//! response back), so "no bytes from `i` to `j`" is the `Up` direction of proxy `(i, j)` and
//! the `Down` direction of proxy `(j, i)`: [`Mesh::one_way`] cuts both.

use std::net::SocketAddr;
use std::time::Duration;

use super::proxy::{Dir, Link, Proxy};

/// The links of a group of `n` nodes.
pub(crate) struct Mesh {
    /// Node `id`'s real Raft address at `id - 1`.
    targets: Vec<SocketAddr>,
    /// The proxy from `i` to `j` at `[i - 1][j - 1]`; `None` on the diagonal.
    proxies: Vec<Vec<Option<Proxy>>>,
}

impl Mesh {
    /// A mesh for nodes whose real Raft addresses are `targets` (node 1's first); every
    /// link passes.
    pub(crate) fn new(targets: &[SocketAddr]) -> Mesh {
        let proxies = (0..targets.len())
            .map(|i| {
                (0..targets.len())
                    .map(|j| (i != j).then(|| Proxy::start(targets[j])))
                    .collect()
            })
            .collect();
        Mesh {
            targets: targets.to_vec(),
            proxies,
        }
    }

    /// How many nodes.
    pub(crate) fn nodes(&self) -> usize {
        self.targets.len()
    }

    /// Node ids, 1 to n.
    pub(crate) fn ids(&self) -> std::ops::RangeInclusive<usize> {
        1..=self.nodes()
    }

    /// The proxy carrying what node `from` opens to node `to`.
    ///
    /// # Panics
    /// When `from == to` or either is not a node id.
    pub(crate) fn proxy(&self, from: usize, to: usize) -> &Proxy {
        assert!(from != to, "no proxy from node {from} to itself");
        self.proxies[self.index(from)][self.index(to)]
            .as_ref()
            .expect("a proxy off the diagonal")
    }

    /// Node `id`'s real Raft address.
    pub(crate) fn target(&self, id: usize) -> SocketAddr {
        self.targets[self.index(id)]
    }

    fn index(&self, id: usize) -> usize {
        assert!(
            (1..=self.nodes()).contains(&id),
            "node ids are 1 to {}, not {id}",
            self.nodes()
        );
        id - 1
    }

    /// Node `id`'s `--raft-peers` value: `1=host:port,2=host:port,...`, its own entry its real
    /// listen address, the others the proxies it reaches them through.
    pub(crate) fn peers_arg(&self, id: usize) -> String {
        self.ids()
            .map(|j| {
                let addr = if j == id {
                    self.target(id)
                } else {
                    self.proxy(id, j).addr()
                };
                format!("{j}={addr}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Cuts every link between `a` and `b`, both ways.
    fn cut_pair(&self, a: usize, b: usize) {
        self.proxy(a, b).cut();
        self.proxy(b, a).cut();
    }

    /// Cuts node `id` off from every other node, both ways.
    pub(crate) fn isolate(&self, id: usize) {
        for j in self.ids().filter(|&j| j != id) {
            self.cut_pair(id, j);
        }
    }

    /// Cuts every link between a node of `a` and a node of `b`; links inside each side, and
    /// those of nodes in neither, are left as they are.
    ///
    /// # Panics
    /// When a node is on both sides.
    pub(crate) fn split(&self, a: &[usize], b: &[usize]) {
        for &x in a {
            assert!(!b.contains(&x), "node {x} is on both sides of the split");
            for &y in b {
                self.cut_pair(x, y);
            }
        }
    }

    /// Drops every byte from `from` to `to` (on either node's connections); the other way
    /// still passes.
    pub(crate) fn one_way(&self, from: usize, to: usize) {
        self.proxy(from, to).set(Dir::Up, Link::Cut);
        self.proxy(to, from).set(Dir::Down, Link::Cut);
    }

    /// Every link, both ways, forwards each chunk `d` after it arrived.
    pub(crate) fn delay_all(&self, d: Duration) {
        self.each(|p| p.delay(d));
    }

    /// Closes every connection between nodes (they reconnect); every link passes.
    pub(crate) fn reset_all(&self) {
        self.each(Proxy::reset);
    }

    /// Every link passes again.
    pub(crate) fn heal(&self) {
        self.each(Proxy::pass);
    }

    fn each(&self, f: impl Fn(&Proxy)) {
        for p in self.proxies.iter().flatten().flatten() {
            f(p);
        }
    }
}
