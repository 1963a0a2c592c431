//! LATENCY (LATEST, HISTORY, RESET, GRAPH, DOCTOR, HISTOGRAM, HELP) and what it reads: the
//! latency monitor's events (`command` and `fast-command`, as Redis 7.0's `call()` names them:
//! a command that took at least `latency-monitor-threshold` ms, one sample per second kept,
//! the last 160 per event) and the per-command latency histograms (`latency-tracking`).
//!
//! The histograms are one shared histogram per statistics slot (the subcommand's for
//! `config|get`), laid out as Redis's (`kvserver/src/histogram.rs`); a command adds one to one
//! counter with a relaxed `fetch_add`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kvproto::Request;
use parking_lot::Mutex;

use crate::histogram::{Histogram, Snapshot};

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
        .args(&[a("command", "string").flags("optional multiple")]),
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
    /// Per statistics slot, allocated when the command is first timed (Redis allocates its
    /// histograms on first use too: 24 KiB each).
    histograms: Box<[OnceLock<Histogram>]>,
}

impl Latency {
    pub(crate) fn new(threshold_ms: u64, tracking: bool) -> Latency {
        Latency {
            threshold_ms: AtomicU64::new(threshold_ms),
            tracking: AtomicBool::new(tracking),
            events: Mutex::new(Vec::new()),
            histograms: (0..table::stat_slots()).map(|_| OnceLock::new()).collect(),
        }
    }

    pub(crate) fn set_threshold_ms(&self, ms: u64) {
        self.threshold_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn set_tracking(&self, on: bool) {
        self.tracking.store(on, Ordering::Relaxed);
    }

    /// `latency-tracking`.
    pub(crate) fn tracking(&self) -> bool {
        self.tracking.load(Ordering::Relaxed)
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
            && let Some(cell) = self.histograms.get(slot)
        {
            cell.get_or_init(Histogram::default).record_usec(usec);
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
        for h in self.histograms.iter().filter_map(OnceLock::get) {
            h.reset();
        }
    }

    /// Slot `slot`'s counters, if it was timed since tracking began (or the last RESETSTAT).
    pub(crate) fn histogram(&self, slot: usize) -> Option<Snapshot> {
        let snap = self.histograms.get(slot)?.get()?.snapshot();
        (snap.total > 0).then_some(snap)
    }
}

fn unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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
    let rows: Vec<(usize, Snapshot)> = slots
        .into_iter()
        .filter_map(|slot| lat.histogram(slot).map(|h| (slot, h)))
        .collect();
    let mut w = ctx.w();
    w.map_len(rows.len());
    for (slot, hist) in rows {
        w.bulk(table::stat_name(slot).as_bytes());
        w.map_len(2);
        w.bulk(b"calls");
        w.integer(hist.total as i64);
        w.bulk(b"histogram_usec");
        let buckets = hist.log_buckets();
        w.map_len(buckets.len());
        for (usec, cumulative) in buckets {
            w.integer(usec as i64);
            w.integer(cumulative as i64);
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
