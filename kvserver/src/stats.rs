//! Per-command statistics for `INFO commandstats` and `INFO stats`.
//!
//! Every connection owns a [`CmdStats`] and is its only writer, so counting is a relaxed load and
//! store on a cache line no other core writes: no lock prefix, no contention between connection
//! threads. Readers (`INFO`) sum the live connections and the totals of closed ones; `CONFIG
//! RESETSTAT` records a baseline that later reports subtract.

use std::sync::OnceLock;
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

/// Statistics slots per lazily allocated chunk of a [`CmdStats`].
const CHUNK: usize = 16;

/// One counter set per command in the table, indexed like it. The counters live in chunks of
/// [`CHUNK`] commands, each allocated when one of its commands first runs: a connection that
/// runs a few commands holds a chunk or two (512 bytes each) instead of the whole table's
/// 32 bytes per slot (about 12 KiB), which mattered for idle connections (ARCHITECTURE.md).
#[derive(Debug)]
pub(crate) struct CmdStats {
    chunks: Box<[OnceLock<Box<[CmdStat; CHUNK]>>]>,
    len: usize,
}

impl CmdStats {
    pub(crate) fn new(commands: usize) -> CmdStats {
        CmdStats {
            chunks: (0..commands.div_ceil(CHUNK))
                .map(|_| OnceLock::new())
                .collect(),
            len: commands,
        }
    }

    /// The counters of `cmd`, allocating their chunk if no command of it has run yet.
    #[inline]
    fn slot(&self, cmd: usize) -> &CmdStat {
        &self.chunks[cmd / CHUNK].get_or_init(Default::default)[cmd % CHUNK]
    }

    /// Records one call. Single writer only (the owning connection).
    #[inline]
    pub(crate) fn record(&self, cmd: usize, failed: bool) {
        let s = self.slot(cmd);
        bump(&s.calls, 1);
        if failed {
            bump(&s.failed, 1);
        }
    }

    /// Adds time spent in a command. Single writer only.
    #[inline]
    pub(crate) fn add_usec(&self, cmd: usize, usec: u64) {
        bump(&self.slot(cmd).usec, usec);
    }

    /// Records a call refused before it ran (wrong arity, NOAUTH). Single writer only.
    pub(crate) fn reject(&self, cmd: usize) {
        bump(&self.slot(cmd).rejected, 1);
    }

    pub(crate) fn totals(&self, cmd: usize) -> CmdTotals {
        assert!(cmd < self.len, "statistics slot {cmd} out of range");
        let Some(chunk) = self.chunks[cmd / CHUNK].get() else {
            return CmdTotals::default();
        };
        let s = &chunk[cmd % CHUNK];
        CmdTotals {
            calls: s.calls.load(Ordering::Relaxed),
            usec: s.usec.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            rejected: s.rejected.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds every counter of `other` into `self` (any number of writers: uses `fetch_add`).
    pub(crate) fn absorb(&self, other: &CmdStats) {
        for (mine, theirs) in self.chunks.iter().zip(other.chunks.iter()) {
            let Some(theirs) = theirs.get() else {
                continue;
            };
            let mine = mine.get_or_init(Default::default);
            for (mine, theirs) in mine.iter().zip(theirs.iter()) {
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
    /// Commands run (for the `instantaneous_ops_per_sec` sampler, which so need not sum the
    /// per-command table of every client).
    pub(crate) commands: AtomicU64,
}

/// A copy of [`ConnCounters`].
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct CounterTotals {
    pub(crate) net_in: u64,
    pub(crate) net_out: u64,
    pub(crate) errors: u64,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) commands: u64,
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
            Counter::Commands => &self.commands,
        }
    }

    pub(crate) fn totals(&self) -> CounterTotals {
        CounterTotals {
            net_in: self.net_in.load(Ordering::Relaxed),
            net_out: self.net_out.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            commands: self.commands.load(Ordering::Relaxed),
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
        self.commands.fetch_add(t.commands, Ordering::Relaxed);
    }
}

impl CounterTotals {
    pub(crate) fn add(&mut self, o: CounterTotals) {
        self.net_in += o.net_in;
        self.net_out += o.net_out;
        self.errors += o.errors;
        self.hits += o.hits;
        self.misses += o.misses;
        self.commands += o.commands;
    }

    pub(crate) fn minus(self, o: CounterTotals) -> CounterTotals {
        CounterTotals {
            net_in: self.net_in.saturating_sub(o.net_in),
            net_out: self.net_out.saturating_sub(o.net_out),
            errors: self.errors.saturating_sub(o.errors),
            hits: self.hits.saturating_sub(o.hits),
            misses: self.misses.saturating_sub(o.misses),
            commands: self.commands.saturating_sub(o.commands),
        }
    }
}

/// Error replies per error code (the reply's first word: `ERR`, `WRONGTYPE`, ...), for
/// `INFO errorstats`. Only error paths touch it, so its lock is never on a successful command's
/// path; Redis keeps the same table (and, like Redis, it holds at most [`ErrorStats::MAX`] codes).
#[derive(Default, Debug)]
pub(crate) struct ErrorStats {
    counts: parking_lot::Mutex<std::collections::BTreeMap<Box<str>, u64>>,
}

impl ErrorStats {
    /// Redis stops adding new codes past 128 (so a client cannot grow the table without bound).
    pub(crate) const MAX: usize = 128;

    /// Counts one error reply; `reply` is its RESP text (`-CODE message\r\n`).
    pub(crate) fn record(&self, reply: &[u8]) {
        let body = reply.strip_prefix(b"-").unwrap_or(reply);
        let end = body
            .iter()
            .position(|&b| b == b' ' || b == b'\r')
            .unwrap_or(body.len());
        let code = String::from_utf8_lossy(&body[..end]);
        let mut counts = self.counts.lock();
        if let Some(n) = counts.get_mut(code.as_ref()) {
            *n += 1;
        } else if counts.len() < Self::MAX {
            counts.insert(code.into(), 1);
        }
    }

    /// The codes seen, in byte order (as Redis lists them), with their counts.
    pub(crate) fn snapshot(&self) -> Vec<(Box<str>, u64)> {
        self.counts
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// CONFIG RESETSTAT.
    pub(crate) fn reset(&self) {
        self.counts.lock().clear();
    }
}

/// Redis's `instantaneous_*` figures: a sampler thread records the running totals every
/// [`Instantaneous::PERIOD`]; the rates are the mean over the last [`Instantaneous::SAMPLES`]
/// periods, as Redis's `serverCron` computes them.
#[derive(Default, Debug)]
pub(crate) struct Instantaneous {
    ring: parking_lot::Mutex<Ring>,
}

#[derive(Default, Debug)]
struct Ring {
    /// The previous sample: when (ms since start) and the totals (ops, net in, net out).
    last: Option<(u64, [u64; 3])>,
    /// Per-second rates of each period, oldest overwritten first.
    rates: Vec<[f64; 3]>,
    next: usize,
}

impl Instantaneous {
    pub(crate) const PERIOD: std::time::Duration = std::time::Duration::from_millis(100);
    pub(crate) const SAMPLES: usize = 16;

    /// Records the running totals (commands, bytes in, bytes out) at `now_ms`.
    pub(crate) fn sample(&self, now_ms: u64, totals: [u64; 3]) {
        let mut r = self.ring.lock();
        if let Some((t, prev)) = r.last
            && now_ms > t
        {
            let secs = (now_ms - t) as f64 / 1000.0;
            let rate = [0, 1, 2].map(|i| totals[i].saturating_sub(prev[i]) as f64 / secs);
            if r.rates.len() < Self::SAMPLES {
                r.rates.push(rate);
            } else {
                let i = r.next;
                r.rates[i] = rate;
            }
            r.next = (r.next + 1) % Self::SAMPLES;
        }
        r.last = Some((now_ms, totals));
    }

    /// Mean rates: commands per second, bytes in per second, bytes out per second.
    pub(crate) fn rates(&self) -> [f64; 3] {
        let r = self.ring.lock();
        if r.rates.is_empty() {
            return [0.0; 3];
        }
        let n = r.rates.len() as f64;
        [0, 1, 2].map(|i| r.rates.iter().map(|x| x[i]).sum::<f64>() / n)
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
    Commands,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_live_in_chunks_allocated_on_first_use() {
        let a = CmdStats::new(3 * CHUNK + 1);
        assert_eq!(a.len(), 3 * CHUNK + 1);
        assert_eq!(a.chunks.len(), 4);
        assert!(a.chunks.iter().all(|c| c.get().is_none()));
        // Reading a slot allocates nothing.
        assert_eq!(a.totals(3 * CHUNK), CmdTotals::default());
        assert!(a.chunks.iter().all(|c| c.get().is_none()));
        a.record(3 * CHUNK, true);
        a.reject(CHUNK + 2);
        let allocated: Vec<bool> = a.chunks.iter().map(|c| c.get().is_some()).collect();
        assert_eq!(allocated, [false, true, false, true]);
        // Folding into the totals allocates only the chunks that counted something.
        let totals = CmdStats::new(3 * CHUNK + 1);
        totals.absorb(&a);
        totals.absorb(&a);
        let allocated: Vec<bool> = totals.chunks.iter().map(|c| c.get().is_some()).collect();
        assert_eq!(allocated, [false, true, false, true]);
        let t = totals.totals(3 * CHUNK);
        assert_eq!((t.calls, t.failed, t.rejected), (2, 2, 0));
        assert_eq!(totals.totals(CHUNK + 2).rejected, 2);
    }

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

    #[test]
    fn instantaneous_rates_are_the_mean_of_the_last_periods() {
        let i = Instantaneous::default();
        assert_eq!(i.rates(), [0.0; 3]);
        i.sample(0, [0, 0, 0]);
        i.sample(100, [10, 1000, 2000]);
        assert_eq!(i.rates(), [100.0, 10_000.0, 20_000.0]);
        i.sample(200, [30, 1000, 2000]);
        assert_eq!(i.rates(), [150.0, 5_000.0, 10_000.0]);
        for k in 3..40 {
            i.sample(k * 100, [30, 1000, 2000]);
        }
        assert_eq!(i.rates(), [0.0; 3]);
    }

    #[test]
    fn error_codes_are_the_first_word() {
        let e = ErrorStats::default();
        e.record(b"-ERR unknown command 'x'\r\n");
        e.record(b"-WRONGTYPE Operation against a key\r\n");
        e.record(b"-ERR syntax error\r\n");
        e.record(b"-NOAUTH\r\n");
        let got = e.snapshot();
        let got: Vec<(&str, u64)> = got.iter().map(|(k, v)| (&**k, *v)).collect();
        assert_eq!(got, [("ERR", 2), ("NOAUTH", 1), ("WRONGTYPE", 1)]);
        for i in 0..200 {
            e.record(format!("-E{i} x\r\n").as_bytes());
        }
        assert_eq!(e.snapshot().len(), ErrorStats::MAX);
        e.reset();
        assert!(e.snapshot().is_empty());
    }
}
