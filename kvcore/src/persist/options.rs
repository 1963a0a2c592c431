//! The settings of a persistent store: what only [`Kv::open`](crate::Kv::open) takes.

use super::engine::Config;
use super::wal::SyncMode;

/// How a persistent store uses its data directory: when writes become durable, when snapshots
/// are taken, and how the log is written. Only [`Kv::open`](crate::Kv::open) takes them; the
/// settings every store has (shards, databases, clock) are [`Options`](crate::Options).
///
/// | setting | default | meaning |
/// |---|---|---|
/// | [`sync`](PersistOptions::sync) | [`SyncMode::EverySec`] | when a write is durable enough to be acknowledged (Redis's `appendfsync`) |
/// | [`save_rules`](PersistOptions::save_rules) | `3600 1 300 100 60 10000` | automatic snapshots, as Redis's `save` |
/// | [`wal_segment_bytes`](PersistOptions::wal_segment_bytes) | 64 MiB | the size at which a log segment is closed and a new one started |
/// | [`wal_mapped`](PersistOptions::wal_mapped) | `true` | `everysec` and `no` copy records into a shared mapping of the log instead of writing them |
/// | [`max_record_bytes`](PersistOptions::max_record_bytes) | 4 GiB − 1 | the largest log record or snapshot frame |
///
/// ```
/// use kvcore::{PersistOptions, SyncMode};
///
/// // Every acknowledged write is on disk; snapshots only when asked for (SAVE / BGSAVE).
/// let persist = PersistOptions::new().sync(SyncMode::Always).save_rules(&[]);
/// # let _ = persist;
/// ```
#[derive(Debug, Clone, Default)]
pub struct PersistOptions {
    pub(crate) config: Config,
}

impl PersistOptions {
    /// The defaults (see the table above).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets when writes are made durable (default [`SyncMode::EverySec`]).
    pub fn sync(mut self, mode: SyncMode) -> Self {
        self.config.sync = mode;
        self
    }

    /// Sets the automatic snapshot rules, as Redis's `save`: a snapshot is taken when, for
    /// some `(seconds, changes)` pair, at least `changes` writes happened and `seconds` have
    /// passed since the last snapshot or, before the first one, since the store opened (as
    /// Redis counts). Default `[(3600, 1), (300, 100), (60, 10000)]`; empty disables them.
    /// They run in the task [`Kv::start_persistence`](crate::Kv::start_persistence) starts.
    pub fn save_rules(mut self, rules: &[(u64, u64)]) -> Self {
        self.config.save = rules.to_vec();
        self
    }

    /// Sets the size at which a log segment is closed and a new one started (default 64 MiB,
    /// at least 4 KiB).
    pub fn wal_segment_bytes(mut self, bytes: u64) -> Self {
        self.config.segment_bytes = bytes.max(4096);
        self
    }

    /// Sets whether, with [`SyncMode::EverySec`] or [`SyncMode::No`], records are copied into a
    /// shared memory mapping of the log's preallocated space (default `true`): no system call
    /// per write and no writer waiting for another. With `false` each batch of records is
    /// written with `pwrite`. Turn it off on copy-on-write file systems (btrfs, ZFS), where a
    /// store into a mapping can need new disk space and a full disk kills the process with
    /// `SIGBUS` instead of failing a write.
    pub fn wal_mapped(mut self, on: bool) -> Self {
        self.config.map_log = on;
        self
    }

    /// Sets the largest log record and snapshot frame, in bytes (default and maximum
    /// 4 GiB − 1, what a frame's 32-bit length can say; at least 1 KiB). A write whose record
    /// would be larger is refused before it changes anything
    /// ([`Error::RecordTooLarge`](crate::Error::RecordTooLarge)); a container whose snapshot
    /// entry would be larger is snapshotted in parts. Lowering it bounds what one write may add
    /// to the log (and lets tests reach the limit without gigabytes).
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        self.config.max_record = bytes.clamp(1024, super::frame::MAX_PAYLOAD);
        self
    }
}
