//! kvcore: an embeddable, durable, Redis-compatible key-value store.
#![warn(missing_docs)]

mod persist;
mod types;
