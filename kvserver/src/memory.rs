//! The server's memory figures: the counting allocator it installs (kvcore's), INFO memory,
//! MEMORY STATS and MEMORY DOCTOR, and the `maxmemory` check a command passes before it runs
//! (Redis's `processCommand`: evict first, then refuse `denyoom` commands with `-OOM` if the
//! store is still over the limit).

use std::alloc::System;
use std::fmt::Write as _;

use crate::shared::Shared;

/// Every allocation of the server is counted: `used_memory` and eviction read the count.
#[cfg(not(test))]
#[global_allocator]
static ALLOC: kvcore::CountingAlloc = kvcore::CountingAlloc::new(System);

/// The unit-test binary's allocator: kvcore's counting one, plus a per-thread count of
/// allocations, so that a test can show a path allocates nothing ([`thread_allocations`]).
#[cfg(test)]
#[global_allocator]
static ALLOC: test_alloc::Counting = test_alloc::Counting(kvcore::CountingAlloc::new(System));

/// How many allocations (and reallocations) this thread made so far (test builds only).
#[cfg(test)]
pub(crate) fn thread_allocations() -> usize {
    test_alloc::ALLOCATIONS.with(std::cell::Cell::get)
}

/// Redis's reply to a `denyoom` command while memory stays over `maxmemory`.
pub(crate) const OOM: &[u8] = b"OOM command not allowed when used memory > 'maxmemory'.";

/// What INFO memory and MEMORY STATS report, in bytes.
pub(crate) struct Figures {
    pub(crate) used: u64,
    pub(crate) peak: u64,
    pub(crate) rss: u64,
    pub(crate) startup: u64,
    /// The connections' buffers (query buffers and pending pub/sub output).
    pub(crate) clients: u64,
    pub(crate) total_system: u64,
}

impl Figures {
    pub(crate) fn read(s: &Shared) -> Figures {
        let counted = kvcore::allocated();
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let rss = proc_kb(&status, "VmRSS:");
        let (used, peak) = counted.map_or((rss, rss), |a| (a.used, a.peak.max(a.used)));
        let clients = s
            .clients
            .list()
            .iter()
            .map(|c| {
                c.qbuf.load(std::sync::atomic::Ordering::Relaxed) as u64
                    + c.pubsub.memory().1 as u64
            })
            .sum();
        Figures {
            used,
            peak,
            rss,
            startup: s.startup_memory.min(used),
            clients,
            total_system: proc_kb(
                &std::fs::read_to_string("/proc/meminfo").unwrap_or_default(),
                "MemTotal:",
            ),
        }
    }

    /// What is not the dataset (Redis's `used_memory_overhead`): the memory the server held
    /// at start-up and the connections' buffers.
    pub(crate) fn overhead(&self) -> u64 {
        self.startup + self.clients
    }

    pub(crate) fn dataset(&self) -> u64 {
        self.used.saturating_sub(self.overhead())
    }

    fn dataset_perc(&self) -> f64 {
        let net = self.used.saturating_sub(self.startup);
        if net == 0 {
            0.0
        } else {
            self.dataset() as f64 * 100.0 / net as f64
        }
    }

    fn peak_perc(&self) -> f64 {
        if self.peak == 0 {
            0.0
        } else {
            self.used as f64 * 100.0 / self.peak as f64
        }
    }

    /// RSS over used memory (Redis's `mem_fragmentation_ratio`).
    fn frag(&self) -> f64 {
        if self.used == 0 {
            0.0
        } else {
            self.rss as f64 / self.used as f64
        }
    }
}

/// A `Name:   123 kB` line of a /proc file, in bytes (0 when absent).
fn proc_kb(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Redis's `bytesToHuman`: `123B`, `1.50K`, `2.00M`, ...
pub(crate) fn human(n: u64) -> String {
    let units = [
        (1u64 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (size, unit) in units {
        if n >= size {
            return format!("{:.2}{unit}", n as f64 / size as f64);
        }
    }
    format!("{n}B")
}

macro_rules! line {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
        $out.push_str("\r\n");
    }};
}

/// INFO's memory section, in Redis's order (the allocator and Lua fields kv has no figure
/// for are left out, as an exporter reads a missing field as "no data").
pub(crate) fn info(s: &Shared, out: &mut String) {
    let f = Figures::read(s);
    let kv = &s.kv;
    line!(out, "used_memory:{}", f.used);
    line!(out, "used_memory_human:{}", human(f.used));
    line!(out, "used_memory_rss:{}", f.rss);
    line!(out, "used_memory_rss_human:{}", human(f.rss));
    line!(out, "used_memory_peak:{}", f.peak);
    line!(out, "used_memory_peak_human:{}", human(f.peak));
    line!(out, "used_memory_peak_perc:{:.2}%", f.peak_perc());
    line!(out, "used_memory_overhead:{}", f.overhead());
    line!(out, "used_memory_startup:{}", f.startup);
    line!(out, "used_memory_dataset:{}", f.dataset());
    line!(out, "used_memory_dataset_perc:{:.2}%", f.dataset_perc());
    line!(out, "total_system_memory:{}", f.total_system);
    line!(out, "total_system_memory_human:{}", human(f.total_system));
    let max = kv.max_memory();
    line!(out, "maxmemory:{max}");
    line!(out, "maxmemory_human:{}", human(max));
    line!(out, "maxmemory_policy:{}", kv.eviction_policy().as_str());
    line!(out, "mem_fragmentation_ratio:{:.2}", f.frag());
    line!(
        out,
        "mem_fragmentation_bytes:{}",
        f.rss as i64 - f.used as i64
    );
    line!(out, "mem_not_counted_for_evict:0");
    line!(out, "mem_replication_backlog:0");
    line!(out, "mem_total_replication_buffers:0");
    line!(out, "mem_clients_slaves:0");
    line!(out, "mem_clients_normal:{}", f.clients);
    line!(out, "mem_cluster_links:0");
    line!(out, "mem_aof_buffer:0");
    line!(out, "mem_allocator:libc");
    line!(out, "active_defrag_running:0");
    line!(out, "lazyfree_pending_objects:0");
    line!(out, "lazyfreed_objects:0");
}

/// One value of MEMORY STATS.
pub(crate) enum Stat {
    Int(i64),
    Double(f64),
    /// `db.<n>`: its hashtable overheads.
    Db(Vec<(&'static str, i64)>),
}

/// MEMORY STATS: Redis's fields in Redis's order (kv's one index per database counts as
/// `overhead.hashtable.main`; the allocator's own fields are the counted figure).
pub(crate) fn stats(s: &Shared, kv: &kvcore::Kv) -> Vec<(String, Stat)> {
    use kvcore::Store;
    let f = Figures::read(s);
    let mut out: Vec<(String, Stat)> = vec![
        ("peak.allocated".into(), Stat::Int(f.peak as i64)),
        ("total.allocated".into(), Stat::Int(f.used as i64)),
        ("startup.allocated".into(), Stat::Int(f.startup as i64)),
        ("replication.backlog".into(), Stat::Int(0)),
        ("clients.slaves".into(), Stat::Int(0)),
        ("clients.normal".into(), Stat::Int(f.clients as i64)),
        ("cluster.links".into(), Stat::Int(0)),
        ("aof.buffer".into(), Stat::Int(0)),
        ("lua.caches".into(), Stat::Int(0)),
        ("functions.caches".into(), Stat::Int(0)),
    ];
    let mut keys = 0u64;
    for i in 0..kv.databases() {
        let Ok(db) = kv.db(i) else { continue };
        // A `Db` always answers; a key space that cannot is left out.
        let Ok(n @ 1..) = db.dbsize() else { continue };
        keys += n;
        let expires = db.expires();
        // Per key: its index entry (a u32 and a control byte) and its volatile-index entry.
        out.push((
            format!("db.{i}"),
            Stat::Db(vec![
                ("overhead.hashtable.main", (n * 5) as i64),
                ("overhead.hashtable.expires", (expires * 4) as i64),
                ("overhead.hashtable.slot-to-keys", 0),
            ]),
        ));
    }
    let dataset = f.dataset();
    let net = f.used.saturating_sub(f.startup);
    out.extend([
        ("overhead.total".into(), Stat::Int(f.overhead() as i64)),
        ("keys.count".into(), Stat::Int(keys as i64)),
        (
            "keys.bytes-per-key".into(),
            Stat::Int(net.checked_div(keys).unwrap_or(0) as i64),
        ),
        ("dataset.bytes".into(), Stat::Int(dataset as i64)),
        ("dataset.percentage".into(), Stat::Double(f.dataset_perc())),
        ("peak.percentage".into(), Stat::Double(f.peak_perc())),
        ("allocator.allocated".into(), Stat::Int(f.used as i64)),
        ("allocator.active".into(), Stat::Int(f.used as i64)),
        ("allocator.resident".into(), Stat::Int(f.rss as i64)),
        ("allocator-fragmentation.ratio".into(), Stat::Double(1.0)),
        ("allocator-fragmentation.bytes".into(), Stat::Int(0)),
        ("allocator-rss.ratio".into(), Stat::Double(f.frag())),
        (
            "allocator-rss.bytes".into(),
            Stat::Int(f.rss as i64 - f.used as i64),
        ),
        ("rss-overhead.ratio".into(), Stat::Double(1.0)),
        ("rss-overhead.bytes".into(), Stat::Int(0)),
        ("fragmentation".into(), Stat::Double(f.frag())),
        (
            "fragmentation.bytes".into(),
            Stat::Int(f.rss as i64 - f.used as i64),
        ),
    ]);
    out
}

/// MEMORY DOCTOR's report, from the checks Redis makes that apply to kv (little memory, a
/// past peak, a resident set much larger than what is allocated).
pub(crate) fn doctor(s: &Shared) -> String {
    let f = Figures::read(s);
    if f.used < 5 << 20 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues \
                detector can't be used in these conditions. Please, leave for your mission on \
                Earth and fill it with some data. The new Sam and I will be back to our \
                programming as soon as I finished rebooting.\n"
            .into();
    }
    let big_peak = f.peak as f64 / f.used as f64 > 1.5;
    let high_rss = f.frag() > 1.4 && f.rss.saturating_sub(f.used) > 10 << 20;
    if !big_peak && !high_rss {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for \
                what occurs on this base.\n"
            .into();
    }
    let mut s =
        String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    if big_peak {
        s.push_str(
            " * Peak memory: In the past this instance used more than 150% the memory that is \
             currently using. The allocator is normally not able to release memory after a \
             peak, so you can expect to see a big fragmentation ratio, however this is actually \
             harmless and is only due to the memory peak, and if the Redis instance Resident Set \
             Size (RSS) is currently bigger than expected, the memory will be used as soon as \
             you fill the Redis instance with more data. If the memory peak was only occasional \
             and you want to try to reclaim memory, please try the MEMORY PURGE command, \
             otherwise the only other option is to shutdown and restart the instance.\n\n",
        );
    }
    if high_rss {
        s.push_str(
            " * High total RSS: This instance has a memory fragmentation and RSS overhead \
             greater than 1.4 (this means that the Resident Set Size of the Redis process is \
             much larger than the sum of the logical allocations Redis performed). This problem \
             is usually due either to a large peak memory (check if there is a peak memory entry \
             above in the report) or may result from a workload that causes the allocator to \
             fragment memory a lot. If the problem is a large peak memory, then there is no \
             issue. Otherwise, make sure you are using the Jemalloc allocator and not the \
             default libc malloc. Note: The currently used allocator is \"libc\".\n\n",
        );
    }
    s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    s
}

impl crate::conn::Session {
    /// The `maxmemory` check of a command about to run or be queued (Redis's
    /// `processCommand`): with a limit set, evicts under the policy first; if memory stays
    /// over it, refuses a `denyoom` command, an EXEC whose queue holds one, and, inside MULTI,
    /// any command that would be queued. Remembers the state for the scripts the command runs.
    pub(crate) fn refused_for_memory(&mut self, idx: usize, slot: usize) -> bool {
        use crate::cmd::table::{self, Flags, TABLE};
        let kv = &self.shared.kv;
        if kv.max_memory() == 0 {
            self.oom = false;
            return false;
        }
        // Through the session's handle: its batch's commit covers the evictions' records.
        self.oom = !self.db.make_room();
        if !self.oom {
            return false;
        }
        let name = TABLE[idx].name;
        table::stat_command(slot).flags.has(Flags::DENYOOM)
            || self.multi.as_ref().is_some_and(|tx| {
                if name == "exec" {
                    tx.denyoom()
                } else {
                    !matches!(name, "discard" | "quit" | "reset")
                }
            })
    }
}

#[cfg(test)]
mod test_alloc {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        pub(super) static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    pub(crate) struct Counting(pub(crate) kvcore::CountingAlloc<System>);

    // SAFETY: every call is passed on unchanged to kvcore's allocator; the count is a
    // thread-local `Cell` with a const initializer, which never allocates.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            // SAFETY: the caller's contract is the inner allocator's.
            unsafe { self.0.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from `alloc` above, that is from the inner allocator.
            unsafe { self.0.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            // SAFETY: as for `dealloc`, and the caller's contract for the new size.
            unsafe { self.0.realloc(ptr, layout, new_size) }
        }
    }
}
