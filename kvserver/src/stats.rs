//! Per-command statistics for `INFO commandstats` and `INFO stats`.
//!
//! Every connection owns a [`CmdStats`] and is its only writer, so counting is a relaxed load and
//! store on a cache line no other core writes: no lock prefix, no contention between connection
//! threads. Readers (`INFO`) sum the live connections and the totals of closed ones; `CONFIG
//! RESETSTAT` records a baseline that later reports subtract.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one command.
#[derive(Default, Debug)]
pub(crate) struct CmdStat {
    calls: AtomicU64,
    usec: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
}

/// A plain copy of the counters, for sums and baselines.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct CmdTotals {
    pub(crate) calls: u64,
    pub(crate) usec: u64,
    pub(crate) failed: u64,
    pub(crate) rejected: u64,
}

impl CmdTotals {
    fn add(&mut self, o: CmdTotals) {
        self.calls += o.calls;
        self.usec += o.usec;
        self.failed += o.failed;
        self.rejected += o.rejected;
    }

    pub(crate) fn minus(self, o: CmdTotals) -> CmdTotals {
        CmdTotals {
            calls: self.calls.saturating_sub(o.calls),
            usec: self.usec.saturating_sub(o.usec),
            failed: self.failed.saturating_sub(o.failed),
            rejected: self.rejected.saturating_sub(o.rejected),
        }
    }
}

/// Adds to a counter that only one thread writes.
#[inline]
fn bump(c: &AtomicU64, by: u64) {
    c.store(
        c.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

/// One counter set per command in the table, indexed like it.
#[derive(Debug)]
pub(crate) struct CmdStats {
    per_cmd: Box<[CmdStat]>,
}

impl CmdStats {
    pub(crate) fn new(commands: usize) -> CmdStats {
        CmdStats {
            per_cmd: (0..commands).map(|_| CmdStat::default()).collect(),
        }
    }

    /// Records one call. Single writer only (the owning connection).
    #[inline]
    pub(crate) fn record(&self, cmd: usize, failed: bool) {
        let s = &self.per_cmd[cmd];
        bump(&s.calls, 1);
        if failed {
            bump(&s.failed, 1);
        }
    }

    /// Adds time spent in a command. Single writer only.
    #[inline]
    pub(crate) fn add_usec(&self, cmd: usize, usec: u64) {
        bump(&self.per_cmd[cmd].usec, usec);
    }

    /// Records a call refused before it ran (wrong arity, NOAUTH). Single writer only.
    pub(crate) fn reject(&self, cmd: usize) {
        bump(&self.per_cmd[cmd].rejected, 1);
    }

    pub(crate) fn totals(&self, cmd: usize) -> CmdTotals {
        let s = &self.per_cmd[cmd];
        CmdTotals {
            calls: s.calls.load(Ordering::Relaxed),
            usec: s.usec.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            rejected: s.rejected.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.per_cmd.len()
    }

    /// Adds every counter of `other` into `self` (any number of writers: uses `fetch_add`).
    pub(crate) fn absorb(&self, other: &CmdStats) {
        for (mine, theirs) in self.per_cmd.iter().zip(other.per_cmd.iter()) {
            mine.calls
                .fetch_add(theirs.calls.load(Ordering::Relaxed), Ordering::Relaxed);
            mine.usec
                .fetch_add(theirs.usec.load(Ordering::Relaxed), Ordering::Relaxed);
            mine.failed
                .fetch_add(theirs.failed.load(Ordering::Relaxed), Ordering::Relaxed);
            mine.rejected
                .fetch_add(theirs.rejected.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

/// Sums `sets` per command.
pub(crate) fn sum<'a>(commands: usize, sets: impl Iterator<Item = &'a CmdStats>) -> Vec<CmdTotals> {
    let mut out = vec![CmdTotals::default(); commands];
    for set in sets {
        for (i, t) in out.iter_mut().enumerate() {
            t.add(set.totals(i));
        }
    }
    out
}

/// Plain counters of one connection (single writer) that `INFO stats` sums.
#[derive(Default, Debug)]
pub(crate) struct ConnCounters {
    pub(crate) net_in: AtomicU64,
    pub(crate) net_out: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
}

/// A copy of [`ConnCounters`].
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct CounterTotals {
    pub(crate) net_in: u64,
    pub(crate) net_out: u64,
    pub(crate) errors: u64,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
}

impl ConnCounters {
    #[inline]
    pub(crate) fn add(&self, field: Counter, by: u64) {
        bump(self.field(field), by);
    }

    fn field(&self, f: Counter) -> &AtomicU64 {
        match f {
            Counter::NetIn => &self.net_in,
            Counter::NetOut => &self.net_out,
            Counter::Errors => &self.errors,
            Counter::Hits => &self.hits,
            Counter::Misses => &self.misses,
        }
    }

    pub(crate) fn totals(&self) -> CounterTotals {
        CounterTotals {
            net_in: self.net_in.load(Ordering::Relaxed),
            net_out: self.net_out.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Adds `other` into `self` with `fetch_add` (any number of writers).
    pub(crate) fn absorb(&self, other: &ConnCounters) {
        let t = other.totals();
        self.net_in.fetch_add(t.net_in, Ordering::Relaxed);
        self.net_out.fetch_add(t.net_out, Ordering::Relaxed);
        self.errors.fetch_add(t.errors, Ordering::Relaxed);
        self.hits.fetch_add(t.hits, Ordering::Relaxed);
        self.misses.fetch_add(t.misses, Ordering::Relaxed);
    }
}

impl CounterTotals {
    pub(crate) fn add(&mut self, o: CounterTotals) {
        self.net_in += o.net_in;
        self.net_out += o.net_out;
        self.errors += o.errors;
        self.hits += o.hits;
        self.misses += o.misses;
    }

    pub(crate) fn minus(self, o: CounterTotals) -> CounterTotals {
        CounterTotals {
            net_in: self.net_in.saturating_sub(o.net_in),
            net_out: self.net_out.saturating_sub(o.net_out),
            errors: self.errors.saturating_sub(o.errors),
            hits: self.hits.saturating_sub(o.hits),
            misses: self.misses.saturating_sub(o.misses),
        }
    }
}

/// Which [`ConnCounters`] field to bump.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Counter {
    NetIn,
    NetOut,
    Errors,
    Hits,
    Misses,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_sum_and_baseline() {
        let a = CmdStats::new(3);
        let b = CmdStats::new(3);
        a.record(1, false);
        a.add_usec(1, 10);
        a.record(1, true);
        a.add_usec(1, 5);
        b.record(1, false);
        b.add_usec(1, 1);
        b.reject(2);
        let total = sum(3, [&a, &b].into_iter());
        assert_eq!(
            total[1],
            CmdTotals {
                calls: 3,
                usec: 16,
                failed: 1,
                rejected: 0
            }
        );
        assert_eq!(total[2].rejected, 1);
        assert_eq!(total[0], CmdTotals::default());
        let retired = CmdStats::new(3);
        retired.absorb(&a);
        assert_eq!(retired.totals(1).calls, 2);
        assert_eq!(total[1].minus(retired.totals(1)).calls, 1);
    }
}
