//! kvcore's integration tests: one binary, one module per area.

mod bits;
mod concurrency;
mod container;
mod crash;
mod expire;
mod follow;
mod keys;
mod model;
mod notify;
mod persist;
mod pubsub;
mod scan;
mod string;
mod tx;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kvcore::{Db, ExpireTime, Kv, ManualClock, Options, Ttl};

/// The clock's start: an arbitrary, realistic Unix time in milliseconds.
pub(crate) const T0: u64 = 1_700_000_000_000;

/// A store with 4 databases, 8 shards and a manual clock at [`T0`].
pub(crate) fn store() -> (Kv, Db, ManualClock) {
    let clock = ManualClock::new(T0);
    let kv = Kv::in_memory(
        Options::new()
            .shards(8)
            .databases(4)
            .clock(Arc::new(clock.clone())),
    );
    let db = kv.db(0).unwrap();
    (kv, db, clock)
}

/// [`Ttl::ExpiresIn`] this many seconds (what TTL reports).
pub(crate) fn secs(n: u64) -> Ttl {
    Ttl::ExpiresIn(Duration::from_secs(n))
}

/// [`Ttl::ExpiresIn`] this many milliseconds (what PTTL reports).
pub(crate) fn millis(n: u64) -> Ttl {
    Ttl::ExpiresIn(Duration::from_millis(n))
}

/// [`ExpireTime::ExpiresAt`] this many milliseconds after the Unix epoch.
pub(crate) fn at_ms(n: u64) -> ExpireTime {
    ExpireTime::ExpiresAt(Duration::from_millis(n))
}

pub(crate) fn b(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

/// A fresh directory under the system temp dir (named after the test area, the case and this
/// process), removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(area: &str, name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kv-{area}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
