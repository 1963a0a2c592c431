//! LATENCY (LATEST, HISTORY, RESET, GRAPH, DOCTOR, HISTOGRAM, HELP) and what it reads: the
//! latency monitor's events (`command` and `fast-command`, as Redis 7.0's `call()` names them:
//! a command that took at least `latency-monitor-threshold` ms, one sample per second kept,
//! the last 160 per event) and the per-command latency histograms (`latency-tracking`).
//!
//! The histograms are one shared table of counters per statistics slot (the subcommand's for
//! `config|get`), in Redis's buckets (powers of two from 1024 ns, each widened to the end of its
//! `hdr_histogram` sub-bucket, as `hdr_iter_log_init(1024, 2)` reports them); a command adds one to one bucket with a relaxed `fetch_add`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kvproto::Request;
use parking_lot::Mutex;

use super::ctx::{CmdResult, Ctx};
use super::error::{CmdError, subcommand_syntax};
use super::spec::{Group, a};
use super::table::{self, Command, run_subcommand};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("latency", -2, "", run_subcommand)
        .doc(Group::Server, "2.8.13", "A container for latency diagnostics commands")
        .complexity("Depends on subcommand.")
        .subcommands(SUBCOMMANDS),
];

const TIPS: &[&str] = &[
    "nondeterministic_output",
    "request_policy:all_nodes",
    "response_policy:special",
];

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("latency|doctor", 2, "admin noscript loading stale", doctor)
        .tips(TIPS)
        .doc(Group::Server, "2.8.13", "Return a human readable latency analysis report.")
        .complexity("O(1)"),
    Command::new("latency|graph", 3, "admin noscript loading stale", graph)
        .tips(TIPS)
        .doc(Group::Server, "2.8.13", "Return a latency graph for the event.")
        .complexity("O(1)")
        .args(&[a("event", "string")]),
    Command::new("latency|help", 2, "loading stale", help)
        .doc(Group::Server, "2.8.13", "Show helpful text about the different subcommands.")
        .complexity("O(1)"),
    Command::new("latency|histogram", -2, "admin noscript loading stale", histogram)
        .tips(TIPS)
        .doc(Group::Server, "7.0.0", "Return the cumulative distribution of latencies of a subset of commands or all.")
        .complexity("O(N) where N is the number of commands with latency information being retrieved.")
        .args(&[a("COMMAND", "string").flags("optional multiple")]),
    Command::new("latency|history", 3, "admin noscript loading stale", history)
        .tips(TIPS)
        .doc(Group::Server, "2.8.13", "Return timestamp-latency samples for the event.")
        .complexity("O(1)")
        .args(&[a("event", "string")]),
    Command::new("latency|latest", 2, "admin noscript loading stale", latest)
        .tips(TIPS)
        .doc(Group::Server, "2.8.13", "Return the latest latency samples for all events.")
        .complexity("O(1)"),
    Command::new("latency|reset", -2, "admin noscript loading stale", reset)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(Group::Server, "2.8.13", "Reset latency data for one or more events.")
        .complexity("O(1)")
        .args(&[a("event", "string").flags("optional multiple")]),
];

/// Samples kept per event (Redis's `LATENCY_TS_LEN`).
const HISTORY: usize = 160;
/// Histogram buckets as Redis 7.0 reports them: its histogram (1 ns to 1 s, two significant
/// digits) walked by `hdr_iter_log_init(1024, 2)`. Bucket `k < 20` ends at the top of the
/// histogram's sub-bucket that holds `1024 << k` ns, `(1024 << k) * 129 / 128 - 1`; the last
/// ends at the histogram's top, `2^30 - 1` ns, and takes everything from 1 s up (Redis clamps
/// durations to 1 s).
const BUCKETS: usize = 21;
const MAX_NS: u64 = 1_000_000_000;
const TOP_NS: u64 = (1 << 30) - 1;

/// One event's samples: at most one per second, the highest of that second.
#[derive(Debug)]
struct Series {
    name: &'static str,
    /// Where the next sample goes.
    idx: usize,
    /// The highest latency ever seen (ms).
    max: u64,
    /// `(unix seconds, ms)`; time 0: empty.
    samples: [(i64, u64); HISTORY],
}

/// The latency monitor and the per-command histograms.
#[derive(Debug)]
pub(crate) struct Latency {
    /// `latency-monitor-threshold` in ms; 0: off.
    threshold_ms: AtomicU64,
    /// `latency-tracking`.
    tracking: AtomicBool,
    events: Mutex<Vec<Series>>,
    /// Per statistics slot, per bucket.
    histograms: Box<[[AtomicU64; BUCKETS]]>,
}

impl Latency {
    pub(crate) fn new(threshold_ms: u64, tracking: bool) -> Latency {
        Latency {
            threshold_ms: AtomicU64::new(threshold_ms),
            tracking: AtomicBool::new(tracking),
            events: Mutex::new(Vec::new()),
            histograms: (0..table::stat_slots())
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
        }
    }

    pub(crate) fn set_threshold_ms(&self, ms: u64) {
        self.threshold_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn set_tracking(&self, on: bool) {
        self.tracking.store(on, Ordering::Relaxed);
    }

    /// Whether commands are to be timed for the monitor or the histograms.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.tracking.load(Ordering::Relaxed) || self.threshold_ms.load(Ordering::Relaxed) > 0
    }

    /// Records a command of statistics slot `slot` that took `usec` (Redis's `call()`: the
    /// event sample, then the histogram).
    #[inline]
    pub(crate) fn record_command(&self, slot: usize, fast: bool, usec: u64) {
        let threshold = self.threshold_ms.load(Ordering::Relaxed);
        let ms = usec / 1000;
        if threshold > 0 && ms >= threshold {
            let event = if fast { "fast-command" } else { "command" };
            self.add_sample(event, ms);
        }
        if self.tracking.load(Ordering::Relaxed)
            && let Some(row) = self.histograms.get(slot)
        {
            row[bucket(usec)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Redis's `latencyAddSample`.
    fn add_sample(&self, event: &'static str, ms: u64) {
        let now = unix_secs();
        let mut events = self.events.lock();
        let pos = match events.iter().position(|s| s.name == event) {
            Some(p) => p,
            None => {
                events.push(Series {
                    name: event,
                    idx: 0,
                    max: 0,
                    samples: [(0, 0); HISTORY],
                });
                events.len() - 1
            }
        };
        let s = &mut events[pos];
        s.max = s.max.max(ms);
        let prev = (s.idx + HISTORY - 1) % HISTORY;
        if s.samples[prev].0 == now {
            s.samples[prev].1 = s.samples[prev].1.max(ms);
            return;
        }
        s.samples[s.idx] = (now, ms);
        s.idx = (s.idx + 1) % HISTORY;
    }

    /// CONFIG RESETSTAT: the histograms start again, as Redis frees them.
    pub(crate) fn reset_histograms(&self) {
        for row in self.histograms.iter() {
            for b in row {
                b.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Slot `slot`'s `(calls, buckets)`, if it was called since tracking began.
    fn histogram(&self, slot: usize) -> Option<(u64, [u64; BUCKETS])> {
        let row = self.histograms.get(slot)?;
        let counts: [u64; BUCKETS] = std::array::from_fn(|i| row[i].load(Ordering::Relaxed));
        let calls: u64 = counts.iter().sum();
        (calls > 0).then_some((calls, counts))
    }
}

fn unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The bucket of a duration: the first whose upper bound holds it, after Redis's clamp to
/// 1 ns..1 s.
fn bucket(usec: u64) -> usize {
    let ns = usec.saturating_mul(1000).clamp(1, MAX_NS);
    // The power of two at or below `ns`, as a bucket; then the next one if `ns` is past its
    // sub-bucket.
    let k = (ns.ilog2() as usize).saturating_sub(10);
    if ns <= bucket_top_ns(k) {
        k
    } else {
        (k + 1).min(BUCKETS - 1)
    }
}

/// The highest duration (ns) bucket `k` counts.
fn bucket_top_ns(k: usize) -> u64 {
    if k + 1 < BUCKETS {
        let level = 1024u64 << k;
        level + level / 128 - 1
    } else {
        TOP_NS
    }
}

/// The bound Redis reports for bucket `k`, in µs (`highest_equivalent_value / 1000`).
fn bucket_usec(k: usize) -> u64 {
    bucket_top_ns(k) / 1000
}

fn latest(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let shared = std::sync::Arc::clone(&ctx.s.shared);
    let events = shared.latency.events.lock();
    let mut w = ctx.w();
    w.array_len(events.len());
    for s in events.iter() {
        let last = s.samples[(s.idx + HISTORY - 1) % HISTORY];
        w.array_len(4);
        w.bulk(s.name.as_bytes());
        w.integer(last.0);
        w.integer(last.1 as i64);
        w.integer(s.max as i64);
    }
    Ok(())
}

fn history(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let shared = std::sync::Arc::clone(&ctx.s.shared);
    let events = shared.latency.events.lock();
    let mut w = ctx.w();
    let Some(s) = events.iter().find(|s| s.name.as_bytes() == req.arg(2)) else {
        w.array_len(0);
        return Ok(());
    };
    let samples: Vec<(i64, u64)> = (0..HISTORY)
        .map(|j| s.samples[(s.idx + j) % HISTORY])
        .filter(|&(t, _)| t != 0)
        .collect();
    w.array_len(samples.len());
    for (t, ms) in samples {
        w.array_len(2);
        w.integer(t);
        w.integer(ms as i64);
    }
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let shared = std::sync::Arc::clone(&ctx.s.shared);
    let mut events = shared.latency.events.lock();
    let before = events.len();
    if req.len() == 2 {
        events.clear();
    } else {
        events.retain(|s| {
            !req.args()
                .skip(2)
                .any(|e| e.eq_ignore_ascii_case(s.name.as_bytes()))
        });
    }
    let resets = before - events.len();
    drop(events);
    ctx.int(resets as i64)
}

/// LATENCY GRAPH: Redis draws a sparkline; kv answers the same header line and the samples
/// as text (`<seconds ago>s <ms>`), one per line.
fn graph(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let shared = std::sync::Arc::clone(&ctx.s.shared);
    let text = {
        let events = shared.latency.events.lock();
        let Some(s) = events.iter().find(|s| s.name.as_bytes() == req.arg(2)) else {
            let event = String::from_utf8_lossy(req.arg(2));
            return Err(CmdError::Text(format!(
                "ERR No samples available for event '{event}'"
            )));
        };
        let now = unix_secs();
        let samples: Vec<(i64, u64)> = (0..HISTORY)
            .map(|j| s.samples[(s.idx + j) % HISTORY])
            .filter(|&(t, _)| t != 0)
            .collect();
        let high = samples.iter().map(|x| x.1).max().unwrap_or(0);
        let low = samples.iter().map(|x| x.1).min().unwrap_or(0);
        let mut text = format!(
            "{} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
            s.name,
            s.max,
            "-".repeat(80)
        );
        for (t, ms) in samples {
            text.push_str(&format!("{}s {ms}\n", now - t));
        }
        text
    };
    ctx.w().verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// LATENCY DOCTOR: a short report in Redis's spirit (not its exact text).
fn doctor(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let shared = std::sync::Arc::clone(&ctx.s.shared);
    let threshold = shared.latency.threshold_ms.load(Ordering::Relaxed);
    let mut report = String::new();
    if threshold == 0 {
        report.push_str(
            "Latency monitoring is disabled in this kv instance. You may use \"CONFIG SET \
             latency-monitor-threshold <milliseconds>.\" in order to enable it.\n",
        );
    } else {
        let events = shared.latency.events.lock();
        if events.is_empty() {
            report.push_str(
                "No latency spike was observed during the lifetime of this kv instance.\n",
            );
        } else {
            report.push_str("Latency spikes were observed in this kv instance:\n\n");
            for (i, s) in events.iter().enumerate() {
                let samples: Vec<u64> =
                    s.samples.iter().filter(|x| x.0 != 0).map(|x| x.1).collect();
                let avg = samples.iter().sum::<u64>() / samples.len().max(1) as u64;
                report.push_str(&format!(
                    "{}. {}: {} latency spikes (average {avg}ms, worst {}ms).\n",
                    i + 1,
                    s.name,
                    samples.len(),
                    s.max
                ));
            }
            report.push_str(
                "\nCheck SLOWLOG GET for the commands that took longest, and split large \
                 values or ranges into smaller requests.\n",
            );
        }
    }
    ctx.w().verbatim(b"txt", report.as_bytes());
    Ok(())
}

/// LATENCY HISTOGRAM [command ...]: per command called since tracking began, its calls and
/// the cumulative counts of its buckets; a container names its subcommands' histograms.
fn histogram(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let shared = std::sync::Arc::clone(&ctx.s.shared);
    let lat = &shared.latency;
    let mut slots: Vec<usize> = Vec::new();
    if req.len() == 2 {
        slots.extend(0..table::stat_slots());
    } else {
        for name in req.args().skip(2) {
            let Some(slot) = table::stat_slot_by_name(name) else {
                continue;
            };
            slots.push(slot);
            slots.extend(table::sub_slots(slot));
        }
    }
    let rows: Vec<(usize, u64, [u64; BUCKETS])> = slots
        .into_iter()
        .filter_map(|slot| lat.histogram(slot).map(|(c, b)| (slot, c, b)))
        .collect();
    let mut w = ctx.w();
    w.map_len(rows.len());
    for (slot, calls, counts) in rows {
        w.bulk(table::stat_name(slot).as_bytes());
        w.map_len(2);
        w.bulk(b"calls");
        w.integer(calls as i64);
        w.bulk(b"histogram_usec");
        let used = counts.iter().filter(|&&c| c > 0).count();
        w.map_len(used);
        let mut cumulative = 0;
        for (k, &c) in counts.iter().enumerate() {
            if c > 0 {
                cumulative += c;
                w.integer(bucket_usec(k) as i64);
                w.integer(cumulative as i64);
            }
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() != 2 {
        return Err(subcommand_syntax("latency", req.arg(1)));
    }
    ctx.help(&[
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for \
         the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_end_where_redis_reports_them() {
        // Labels recorded from redis-server 7.0.15: DEBUG SLEEP 0.0025, 0.04 and 0.7 give
        // 4227, 67633 and 1073741.
        for (usec, label) in [(2500, 4227), (40_000, 67633), (700_000, 1_073_741)] {
            assert_eq!(bucket_usec(bucket(usec)), label, "{usec} us");
        }
        // The first buckets: 1 us and 2 us fit under 1031 and 2063 ns.
        for (usec, k) in [(0, 0), (1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (1000, 10)] {
            assert_eq!(bucket(usec), k, "{usec} us");
        }
        // A sub-bucket's worth past the power of two stays in its bucket: 66 us is under
        // 66047 ns, and 67 us is not.
        assert_eq!((bucket(66), bucket(67)), (6, 7));
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        // Every duration lands in the first bucket whose top holds it.
        for usec in (0..2_000_000).step_by(7) {
            let ns = (usec * 1000).clamp(1, MAX_NS);
            let first = (0..BUCKETS).find(|&k| ns <= bucket_top_ns(k)).unwrap();
            assert_eq!(bucket(usec), first, "{usec} us");
        }
        assert_eq!(
            [0, 1, 6, 10, 19, 20].map(bucket_usec),
            [1, 2, 66, 1056, 541_065, 1_073_741]
        );
    }

    #[test]
    fn one_sample_per_second_the_highest() {
        let lat = Latency::new(1, false);
        lat.add_sample("command", 5);
        lat.add_sample("command", 9);
        lat.add_sample("command", 3);
        let events = lat.events.lock();
        assert_eq!(events.len(), 1);
        let s = &events[0];
        assert_eq!(s.max, 9);
        // Within one second (or two, if the clock ticked between the calls).
        assert!(s.samples.iter().filter(|x| x.0 != 0).count() <= 2);
        assert_eq!(s.samples.iter().map(|x| x.1).max(), Some(9));
    }
}
