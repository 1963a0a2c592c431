//! A command's latency histogram laid out as Redis 7.0's: an HDR histogram from 1 ns to 1 s
//! with two significant digits (256 sub-buckets, 23 buckets: 3,072 counters), so that LATENCY
//! HISTOGRAM's buckets and INFO latencystats' percentiles come out as Redis computes them.
//!
//! Values below 256 ns count one by one; above, a counter covers `2^b` ns in the range
//! `[128 << b, 256 << b)`. Counters are relaxed atomics: a command adds one to one counter.
//! Redis's code (`deps/hdr_histogram`) was read for the index arithmetic and its iterators'
//! reporting rules; this is a new implementation of those rules.

use std::sync::atomic::{AtomicU64, Ordering};

/// Sub-buckets per bucket: the first power of two above 2 × 10^2 (two significant digits).
const SUB_BUCKETS: u64 = 256;
const HALF_MAGNITUDE: u32 = 7;
/// Buckets needed to reach 1 s: `256 << 22` is the first untrackable power of two.
const BUCKET_COUNT: usize = 23;
/// Counters: `(buckets + 1) × 128`.
pub(crate) const COUNTERS: usize = (BUCKET_COUNT + 1) << HALF_MAGNITUDE;
/// Redis's range: durations are clamped to 1 ns..1 s before they are counted.
const MIN_NS: u64 = 1;
const MAX_NS: u64 = 1_000_000_000;

/// One command's counters.
#[derive(Debug)]
pub(crate) struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: (0..COUNTERS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Histogram {
    /// Counts a duration of `usec` microseconds (Redis records `duration * 1000` ns).
    #[inline]
    pub(crate) fn record_usec(&self, usec: u64) {
        let ns = usec.saturating_mul(1000).clamp(MIN_NS, MAX_NS);
        self.counts[index_of(ns)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// The counters as they are now, with their total.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total = counts.iter().sum();
        Snapshot { counts, total }
    }
}

/// A histogram's counters at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    counts: Vec<u64>,
    pub(crate) total: u64,
}

impl Snapshot {
    /// LATENCY HISTOGRAM's `(µs, cumulative count)` pairs: Redis walks the counters with a
    /// logarithmic iterator (first level 1024 ns, base 2) and reports, at each level, the count
    /// so far and the top of the counter that reached the level; levels that add nothing are
    /// left out. Counters past the last level reachable below 1 s are reported at the
    /// histogram's top.
    pub(crate) fn log_buckets(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let (mut level, mut cumulative, mut reported) = (1024u64, 0u64, 0u64);
        for (i, &c) in self.counts.iter().enumerate() {
            cumulative += c;
            let value = value_at(i);
            if value >= level {
                if cumulative > reported {
                    out.push((highest_equivalent(value) / 1000, cumulative));
                    reported = cumulative;
                }
                level *= 2;
                if cumulative == self.total {
                    return out;
                }
            }
        }
        if cumulative > reported {
            out.push((
                highest_equivalent(value_at(COUNTERS - 1)) / 1000,
                cumulative,
            ));
        }
        out
    }

    /// `hdr_value_at_percentile` in ns: the top of the counter where the count reaches
    /// `percentile`% of the total (rounded half up, at least 1); the bottom of that counter
    /// for percentile 0.
    pub(crate) fn value_at_percentile(&self, percentile: f64) -> u64 {
        let p = percentile.min(100.0);
        let wanted = (((p / 100.0) * self.total as f64) + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut so_far = 0;
        let mut value = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            so_far += c;
            if so_far >= wanted {
                value = value_at(i);
                break;
            }
        }
        if percentile == 0.0 {
            lowest_equivalent(value)
        } else {
            highest_equivalent(value)
        }
    }
}

/// The bucket of a value: how far past 256 its highest bit is.
fn bucket_of(value: u64) -> u32 {
    // The smallest power of two that holds `value`, with everything under 256 in bucket 0.
    (64 - (value | (SUB_BUCKETS - 1)).leading_zeros()) - (HALF_MAGNITUDE + 1)
}

fn index_of(value: u64) -> usize {
    let bucket = bucket_of(value);
    let sub = value >> bucket;
    (((bucket as u64 + 1) << HALF_MAGNITUDE) + sub - (SUB_BUCKETS / 2)) as usize
}

/// The lowest value counter `index` covers.
fn value_at(index: usize) -> u64 {
    let index = index as u64;
    let half = SUB_BUCKETS / 2;
    let bucket = (index >> HALF_MAGNITUDE) as i64 - 1;
    let sub = (index & (half - 1)) + half;
    if bucket < 0 {
        sub - half
    } else {
        sub << bucket
    }
}

fn lowest_equivalent(value: u64) -> u64 {
    let bucket = bucket_of(value);
    (value >> bucket) << bucket
}

fn highest_equivalent(value: u64) -> u64 {
    lowest_equivalent(value) + (1u64 << bucket_of(value)) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(usecs: &[u64]) -> Snapshot {
        let h = Histogram::default();
        for &u in usecs {
            h.record_usec(u);
        }
        h.snapshot()
    }

    #[test]
    fn indexes_and_values_agree() {
        assert_eq!(COUNTERS, 3072);
        for i in 0..COUNTERS {
            assert_eq!(index_of(value_at(i)), i, "counter {i}");
        }
        // One by one below 256 ns; then ranges that double per bucket.
        assert_eq!(
            (index_of(255), index_of(256), index_of(257)),
            (255, 256, 256)
        );
        assert_eq!(highest_equivalent(1024), 1031);
        assert_eq!(index_of(MAX_NS), index_of(999_999_999));
        assert_eq!(highest_equivalent(value_at(COUNTERS - 1)), (1 << 30) - 1);
    }

    #[test]
    fn log_buckets_are_redis_s() {
        // Recorded from redis-server 7.0.15: DEBUG SLEEP 0.0025, 0.7 and 0.04, then LATENCY
        // HISTOGRAM debug: 4227 => 1, 67633 => 2, 1073741 => 3.
        assert_eq!(
            histogram(&[2500, 700_000, 40_000]).log_buckets(),
            [(4227, 1), (67633, 2), (1_073_741, 3)]
        );
        // 1 us and 2 us fit under 1031 and 2063 ns; 66 us under 66047 ns, 67 us does not.
        assert_eq!(
            histogram(&[0, 1, 2, 66, 67]).log_buckets(),
            [(1, 2), (2, 3), (66, 4), (132, 5)]
        );
        // Past 1 s everything is counted at 1 s.
        assert_eq!(histogram(&[5_000_000]).log_buckets(), [(1_073_741, 1)]);
        assert!(histogram(&[]).log_buckets().is_empty());
    }

    #[test]
    fn percentiles_round_like_hdr() {
        // 100 values of 1..=100 us: p50 is the 50th value's counter top.
        let usecs: Vec<u64> = (1..=100).collect();
        let s = histogram(&usecs);
        assert_eq!(s.value_at_percentile(50.0), highest_equivalent(50_000));
        assert_eq!(s.value_at_percentile(99.0), highest_equivalent(99_000));
        assert_eq!(s.value_at_percentile(100.0), highest_equivalent(100_000));
        assert_eq!(s.value_at_percentile(0.0), lowest_equivalent(1000));
        // 99.9% of 100 rounds to 100 (half up).
        assert_eq!(s.value_at_percentile(99.9), highest_equivalent(100_000));
        assert_eq!(highest_equivalent(50_000), 50_175);
    }
}
