//! A real kill: a child process (this test binary, re-run with `KVRAFT_CRASH_CHILD`) appends
//! entries and hard states, syncs and prints what it synced, and compacts with a large
//! snapshot every so often; the parent SIGKILLs it at pseudo-random moments (mid-write,
//! mid-sync, mid-compaction) and checks that every synced entry survived with its term and
//! data, and that the store reopens and goes on.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use kvraft::{LogOptions, LogStore};
use raft::eraftpb::{ConfState, Entry, HardState};
use raft::{GetEntriesContext, Storage};

use crate::TempDir;

const CHILD_ENV: &str = "KVRAFT_CRASH_CHILD";
const TEST: &str = "crash::synced_entries_survive_sigkill";
const CYCLES: u64 = 20;

fn data(index: u64, term: u64) -> Vec<u8> {
    format!("entry {index} of term {term}").into_bytes()
}

/// A snapshot's data: large enough that writing it takes a while, and checkable.
fn snapshot_data(index: u64) -> Vec<u8> {
    let mut v = format!("snapshot {index}:").into_bytes();
    v.resize(1 << 20, (index % 251) as u8);
    v
}

fn options() -> LogOptions {
    LogOptions::new().keep_entries(16)
}

/// The child: appends batches in term `cycle + 1`, syncing each with its hard state, and
/// compacts every 60 entries.
fn child(dir: &Path, cycle: u64) {
    let store = LogStore::open(dir, options()).unwrap();
    if store.is_new() {
        store
            .set_conf_state(ConfState::from((vec![1], vec![])))
            .unwrap();
        store.sync().unwrap();
    }
    let term = cycle + 1;
    println!("READY");
    let mut n = 0u64;
    loop {
        let first = store.last_index() + 1;
        let batch: Vec<Entry> = (first..first + 1 + n % 7)
            .map(|index| Entry {
                index,
                term,
                data: data(index, term).into(),
                ..Entry::default()
            })
            .collect();
        let last = batch.last().unwrap().index;
        store.append(&batch).unwrap();
        let hs = HardState {
            term,
            vote: 1,
            commit: last,
            ..HardState::default()
        };
        store.set_hard_state(&hs).unwrap();
        store.sync().unwrap();
        println!("SYNCED {first} {last} {term}");
        if n % 5 == 4 {
            let at = last - 3;
            println!("COMPACTING {at}");
            store
                .compact(at, store.conf_state(), snapshot_data(at))
                .unwrap();
            println!("COMPACTED {at}");
        }
        n += 1;
    }
}

#[test]
fn synced_entries_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let cycle = std::env::var("KVRAFT_CRASH_CYCLE")
            .unwrap()
            .parse()
            .unwrap();
        child(Path::new(&dir), cycle);
        return;
    }
    let tmp = TempDir::new("crash");
    std::fs::create_dir_all(&tmp.0).unwrap();
    // The children run from a private copy of this binary: cargo may replace the original.
    let exe = tmp.0.join("child-exe");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    let dir = tmp.0.join("raft");
    // index -> term of every synced entry; the newest compaction acknowledged.
    let mut synced: BTreeMap<u64, u64> = BTreeMap::new();
    let mut compacted = 0;
    let mut total = 0;
    let mut compactions = 0;
    let mut mid_compaction = 0;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for cycle in 0..CYCLES {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Even cycles die at a random moment; odd ones a few milliseconds after a compaction
        // began (while its snapshot or new log file is being written, most likely).
        let (delay, at_compaction) = match cycle % 2 {
            0 => (Duration::from_millis(20 + rng % 180), false),
            _ => (Duration::from_millis(rng % 4), true),
        };
        let lines = run_child_and_kill(&exe, &dir, cycle, delay, at_compaction);
        if lines.last().is_some_and(|l| l.contains("COMPACTING")) {
            mid_compaction += 1;
        }
        for line in &lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [.., "SYNCED", first, last, term] => {
                    let (first, last, term) = (
                        first.parse().unwrap(),
                        last.parse().unwrap(),
                        term.parse().unwrap(),
                    );
                    for i in first..=last {
                        synced.insert(i, term);
                    }
                    total += 1;
                }
                [.., "COMPACTED", at] => {
                    compacted = at.parse().unwrap();
                    compactions += 1;
                }
                _ => {}
            }
        }
        verify(&dir, &synced, compacted, cycle);
    }
    assert!(
        total > CYCLES,
        "the children synced almost nothing: {total}"
    );
    eprintln!(
        "crash: {CYCLES} kills ({mid_compaction} mid-compaction), {total} synced batches, \
         {compactions} compactions"
    );
}

fn verify(dir: &Path, synced: &BTreeMap<u64, u64>, compacted: u64, cycle: u64) {
    let store = LogStore::open(dir, options()).unwrap();
    let (snap_index, snap_term) = store.snapshot_index_term();
    // What a kill left half done (temp files, an unused snapshot, an old log) is gone.
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let snaps = usize::from(snap_index > 0);
    assert_eq!(names.len(), 2 + snaps, "cycle {cycle}: {names:?}");
    assert!(
        names[0] == "LOCK" && names[1].starts_with("log-"),
        "{names:?}"
    );
    assert!(
        snap_index >= compacted,
        "cycle {cycle}: snapshot {snap_index} < {compacted}"
    );
    if snap_index > 0 {
        let snap = store.load_snapshot().unwrap().unwrap();
        assert_eq!(snap.get_metadata().index, snap_index);
        assert_eq!(
            snap.get_data(),
            &snapshot_data(snap_index)[..],
            "cycle {cycle}"
        );
        assert_eq!(
            Some(&snap_term),
            synced.get(&snap_index).or(Some(&snap_term))
        );
    }
    let Some((&last, _)) = synced.last_key_value() else {
        return;
    };
    assert!(
        store.last_index() >= last,
        "cycle {cycle}: lost entries after {}",
        store.last_index()
    );
    let first = store.first_index();
    assert!(
        first <= snap_index + 1,
        "cycle {cycle}: a gap before {first}"
    );
    let ctx = GetEntriesContext::empty(false);
    let held = Storage::entries(&store, first, last + 1, None, ctx).unwrap();
    for e in held {
        // An entry written but killed before its sync may be there too (and the next child
        // appended after it): it must be what was written.
        if let Some(&want) = synced.get(&e.index) {
            assert_eq!(e.term, want, "cycle {cycle}: entry {}", e.index);
        }
        assert_eq!(e.data.as_ref(), &data(e.index, e.term)[..], "cycle {cycle}");
    }
    if let Some(&want) = synced.get(&(first - 1)) {
        assert_eq!(Storage::term(&store, first - 1), Ok(want), "cycle {cycle}");
    }
    assert!(store.hard_state().term >= *synced.values().max().unwrap());
    assert_eq!(store.conf_state(), ConfState::from((vec![1], vec![])));
}

fn run_child_and_kill(
    exe: &Path,
    dir: &Path,
    cycle: u64,
    delay: Duration,
    at_compaction: bool,
) -> Vec<String> {
    let mut child = Command::new(exe)
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env("KVRAFT_CRASH_CYCLE", cycle.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let compacting = line.contains("COMPACTING");
            if line.ends_with("READY") && !at_compaction || compacting && at_compaction {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    // Kill once the child opened the store or began a compaction (a bounded wait), after the
    // delay.
    let _ = rx.recv_timeout(Duration::from_secs(60));
    std::thread::sleep(delay);
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap()
}
