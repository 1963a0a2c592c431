//! The nemesis's network for the fault tests: a [`Proxy`] whose directions pass, are cut
//! (a silent partition), delayed or reset at run time, with byte counters, and a [`Mesh`] of
//! proxies between the nodes of a Raft group (one per ordered pair of nodes) that isolates a
//! node, splits the group, cuts one direction or delays everything. `faults.rs` drives them
//! from a schedule; their own tests are in `nemesis/tests.rs`, against a real kvserver and
//! plain TCP targets.

mod mesh;
mod proxy;
mod tests;

pub(crate) use mesh::Mesh;
pub(crate) use proxy::{Dir, Link, Proxy};
