//! kvproto's integration tests: properties over the public API, and fuzz-found regressions.

mod arbitrary;
mod regress;
mod reply;
mod request;
mod strategy;
