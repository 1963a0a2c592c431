//! Durability: the write-ahead log, snapshots and the file-system seam beneath them.
// Wired into the store by issue 5; until then nothing outside this module uses them.
#![allow(dead_code)]

mod apply;
mod convert;
mod engine;
mod error;
mod frame;
mod fs;
mod record;
mod snapshot;
mod wal;

#[cfg(test)]
mod tests;
