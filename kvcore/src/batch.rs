//! Batches: writes of one store acknowledged together, with one group commit.
//!
//! A [`Db`] from [`Kv::db`] acknowledges each write itself: it returns once the write is as
//! durable as the sync mode promises. A [`Db`] from [`Batch::db`] returns as soon as the write
//! is applied and logged, and remembers its log position in the batch; [`Batch::commit`] then
//! makes every write of the batch durable at once (or [`Batch::take`] hands that commit to
//! another thread as a [`Deferred`]). The batch is a value of one store: a write to another
//! store never joins it, and a [`Deferred`] commits on the store it came from.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::kv::{Db, Inner, Kv};

/// The log position a batch has reached, shared by the batch's [`Db`] handles (which may run
/// on other threads: a blocked client's pop is run by the writer that serves it).
#[derive(Debug, Default)]
pub(crate) struct BatchState {
    /// The highest sequence number logged by a write of the batch and not committed yet.
    seq: AtomicU64,
}

impl BatchState {
    /// Remembers that a write of the batch was logged at `seq`.
    pub(crate) fn note(&self, seq: u64) {
        self.seq.fetch_max(seq, Ordering::AcqRel);
    }

    fn take(&self) -> u64 {
        self.seq.swap(0, Ordering::AcqRel)
    }
}

/// Writes of one store whose acknowledgement is deferred to one group commit.
///
/// ```
/// use kvcore::{Kv, Options, PersistOptions, Store, SyncMode};
///
/// let dir = std::env::temp_dir().join(format!("kv-doc-batch-{}", std::process::id()));
/// let kv = Kv::open(&dir, Options::new(), PersistOptions::new().sync(SyncMode::Always))?;
/// let batch = kv.batch();
/// let db = batch.db(0)?;
/// db.set("a", "1")?; // applied and logged, not yet durable
/// db.set("b", "2")?;
/// batch.commit()?; // one fdatasync for both
/// # drop((db, batch, kv));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), kvcore::Error>(())
/// ```
///
/// A server answering a pipelined request batch runs the requests through the batch's
/// [`Db`], commits once, and only then sends the replies (dropping them and the connection if
/// the commit fails), so nothing is acknowledged to a client before it is durable. Writes are
/// still refused up front once persistence failed. For an in-memory store a batch commits
/// nothing and always succeeds.
#[derive(Clone)]
pub struct Batch {
    inner: Arc<Inner>,
    state: Arc<BatchState>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("uncommitted_seq", &self.state.seq.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Kv {
    /// Starts a batch of writes on this store (see [`Batch`]).
    pub fn batch(&self) -> Batch {
        Batch {
            inner: Arc::clone(&self.inner),
            state: Arc::default(),
        }
    }
}

impl Batch {
    /// A handle to database `index` whose writes join this batch: each returns once applied
    /// and logged, and is durable after the batch's next [`commit`](Batch::commit).
    ///
    /// # Errors
    /// [`Error::DbIndexOutOfRange`] if `index` is not below the store's database count.
    pub fn db(&self, index: usize) -> Result<Db> {
        if index >= self.inner.databases() {
            return Err(Error::DbIndexOutOfRange);
        }
        Ok(Db::in_batch(
            Arc::clone(&self.inner),
            index,
            Arc::clone(&self.state),
        ))
    }

    /// The store the batch writes to.
    pub fn kv(&self) -> Kv {
        Kv::from_inner(Arc::clone(&self.inner))
    }

    /// Makes every write of the batch since the last commit (or take) durable, per the sync
    /// mode, with one group commit, and with them whatever its reads may have seen of other
    /// writers' records. `Ok` at once when there is nothing to commit.
    ///
    /// # Errors
    /// [`Error::PersistenceFailed`] if the log could not be written or synced: none of the
    /// batch's writes may be acknowledged then.
    pub fn commit(&self) -> Result<()> {
        let Some(p) = self.inner.persist.get() else {
            return Ok(());
        };
        match self.state.take().max(self.unsettled()) {
            0 => Ok(p.check_writable()?),
            seq => Ok(p.wal().commit(seq)?),
        }
    }

    /// The last record of the store's log if it is not yet as safe as the sync mode promises
    /// (0 otherwise, and for a failed log: see *Known limits* in ARCHITECTURE.md). A read of
    /// the batch may have seen it: another client's write is visible in memory from the moment
    /// it is applied, before its own commit returns. So a commit covers it too, and a server
    /// that commits before replying never shows a client a write that a crash could still take
    /// back (`tests/e2e/faults.rs` found exactly that under `--sync always` before this).
    fn unsettled(&self) -> u64 {
        match self.inner.persist.get() {
            Some(p) if !p.wal().is_failed() => p.wal().unsettled().unwrap_or(0),
            _ => 0,
        }
    }

    /// Takes what the batch logged and has not committed yet, as a token any thread can
    /// commit ([`Deferred::commit`]); `None` when there is nothing to commit (no write since
    /// the last commit, or an in-memory store).
    ///
    /// A server uses it to hand a request batch's replies to one writer thread, which commits
    /// many connections' batches with one group commit and sends their replies, while each
    /// connection thread goes back to reading instead of sleeping through the sync.
    #[must_use]
    pub fn take(&self) -> Option<Deferred> {
        self.inner.persist.get()?;
        match self.state.take().max(self.unsettled()) {
            0 => None,
            seq => Some(Deferred {
                seq,
                inner: Arc::clone(&self.inner),
            }),
        }
    }
}

/// Writes a [`Batch`] logged and has not committed, taken by [`Batch::take`] so that another
/// thread can commit them. It carries its store: it can only be committed there.
#[derive(Clone)]
#[must_use = "the writes are not durable until the token is committed"]
pub struct Deferred {
    seq: u64,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Deferred {
    /// The log sequence number of the last write it covers. Of several tokens of one store,
    /// committing the one with the highest sequence number covers all of them.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether `other` was taken from the same store.
    pub fn same_store(&self, other: &Deferred) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Makes the writes behind the token (and every write of its store logged before them)
    /// as durable as the sync mode promises. Tokens may be committed in any order and from
    /// any thread.
    ///
    /// # Errors
    /// [`Error::PersistenceFailed`] if the log could not be written or synced: none of the
    /// writes behind the token may be acknowledged then.
    pub fn commit(&self) -> Result<()> {
        match self.inner.persist.get() {
            Some(p) => Ok(p.wal().commit(self.seq)?),
            None => Ok(()),
        }
    }
}
