//! The store against raft-rs's `MemStorage` (the reference for every `Storage` method), reopen
//! after every kind of write, torn tails at every byte and damage in the middle.

use std::path::{Path, PathBuf};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::storage::MemStorage;
use raft::{GetEntriesContext, Storage, StorageError};

use super::{LogOptions, LogStore};
use crate::Error;

/// A directory under the system's temp dir, removed on drop.
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kvraft-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: format!("data {index} {term}").into_bytes().into(),
        ..Entry::default()
    }
}

fn conf(voters: &[u64]) -> ConfState {
    ConfState {
        voters: voters.to_vec(),
        ..ConfState::default()
    }
}

fn hard(term: u64, vote: u64, commit: u64) -> HardState {
    HardState {
        term,
        vote,
        commit,
        ..HardState::default()
    }
}

fn snapshot(index: u64, term: u64, voters: &[u64]) -> Snapshot {
    let mut s = Snapshot::default();
    s.mut_metadata().index = index;
    s.mut_metadata().term = term;
    s.mut_metadata().set_conf_state(conf(voters));
    s.set_data(format!("snapshot {index}").into_bytes().into());
    s
}

/// `s` as the transport hands it to raft: its bytes written as a received file of `store`
/// (in pieces of 5 bytes), its data a descriptor naming that file.
fn received(store: &LogStore, s: &Snapshot) -> Snapshot {
    let bytes = super::file::snapshot_bytes(s.get_metadata(), s.get_data());
    let want = super::SnapshotRef {
        index: s.get_metadata().index,
        term: s.get_metadata().term,
        len: bytes.len() as u64,
        crc: u32::from_le_bytes(bytes[bytes.len() - 8..][..4].try_into().unwrap()),
        file: String::new(),
    };
    let mut incoming = store.receive_snapshot(&want).unwrap();
    for piece in bytes.chunks(5) {
        incoming.write(piece).unwrap();
    }
    let local = incoming.finish().unwrap();
    let mut out = s.clone();
    out.set_data(local.encode().into());
    out
}

#[derive(Debug, Clone)]
enum Op {
    /// Entries `(index, term)`.
    Append(&'static [(u64, u64)]),
    Hard(u64, u64, u64),
    Commit(u64),
    Conf(&'static [u64]),
    /// A snapshot from the leader at `(index, term)`.
    Install(u64, u64),
    /// A snapshot of our own at `index`.
    Compact(u64),
}

/// What an op should do: succeed, or fail as `MemStorage` fails or panics.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Ok,
    BadAppend,
    OutOfDate,
    CompactOutOfRange,
}

const KEEP: u64 = 2;

/// Runs `op` on both stores; `MemStorage` gets the same change in its own terms.
fn run(ours: &LogStore, mem: &MemStorage, op: &Op) -> Want {
    let got = match op {
        Op::Append(es) => {
            let es: Vec<Entry> = es.iter().map(|&(i, t)| entry(i, t)).collect();
            let r = ours.append(&es);
            if r.is_ok() {
                mem.wl().append(&es).unwrap();
            }
            r
        }
        Op::Hard(t, v, c) => {
            mem.wl().set_hardstate(hard(*t, *v, *c));
            ours.set_hard_state(&hard(*t, *v, *c))
        }
        Op::Commit(c) => {
            mem.wl().mut_hard_state().commit = *c;
            ours.set_commit(*c)
        }
        Op::Conf(v) => {
            mem.wl().set_conf_state(conf(v));
            ours.set_conf_state(conf(v))
        }
        Op::Install(i, t) => {
            let s = snapshot(*i, *t, &[1, 2, 3]);
            let newest = ours.snapshot_index_term().0;
            let r = ours.apply_snapshot(&received(ours, &s));
            if *i <= newest {
                // Older than our own newest snapshot, which MemStorage does not know of (its
                // compact keeps no snapshot): raft never sends one (it is not after commit).
                assert!(r.is_err());
                return Want::OutOfDate;
            }
            let m = mem.wl().apply_snapshot(s.clone());
            assert_eq!(r.is_ok(), m.is_ok(), "{op:?}: {r:?} {m:?}");
            // A log holding the snapshot's last entry keeps the entries after it (the Raft
            // paper's InstallSnapshot rule); MemStorage drops them all.
            if r.is_ok() && ours.last_index() > *i {
                let ctx = GetEntriesContext::empty(false);
                let kept = ours
                    .entries(i + 1, ours.last_index() + 1, None, ctx)
                    .unwrap();
                mem.wl().append(&kept).unwrap();
            }
            r
        }
        Op::Compact(i) => {
            let data = format!("own snapshot {i}").into_bytes();
            let r = ours.compact(*i, conf(&[1, 2, 3]), data);
            if r.is_ok() {
                // MemStorage's compact(n) keeps the entries from n on.
                mem.wl().compact(i.saturating_sub(KEEP) + 1).unwrap();
            }
            r
        }
    };
    ours.sync().unwrap();
    match got {
        Ok(()) => Want::Ok,
        Err(Error::BadAppend { .. }) => Want::BadAppend,
        Err(Error::SnapshotOutOfDate { .. }) => Want::OutOfDate,
        Err(Error::CompactOutOfRange { .. }) => Want::CompactOutOfRange,
        Err(e) => panic!("{op:?}: {e}"),
    }
}

/// Every `Storage` answer of `ours` equals `mem`'s, except that `ours` also knows the term of
/// the entry before its first (MemStorage forgets it after a compact).
fn check_same(ours: &LogStore, mem: &MemStorage, what: &str) {
    let (first, last) = (mem.first_index().unwrap(), mem.last_index().unwrap());
    assert_eq!(Storage::first_index(ours).unwrap(), first, "{what}: first");
    assert_eq!(Storage::last_index(ours).unwrap(), last, "{what}: last");
    let (o, m) = (ours.initial_state().unwrap(), mem.initial_state().unwrap());
    assert_eq!(o.hard_state, m.hard_state, "{what}: hard state");
    assert_eq!(o.conf_state, m.conf_state, "{what}: conf state");
    for i in 0..=last + 2 {
        let (o, m) = (ours.term(i), mem.term(i));
        if i + 1 < first {
            // MemStorage still answers for the snapshot it installed last, even below the
            // entries a later compact dropped; the log answers only from its base on.
            assert_eq!(
                o,
                Err(raft::Error::Store(StorageError::Compacted)),
                "{what}: {i}"
            );
            continue;
        }
        if i + 1 == first && o.is_ok() {
            assert!(m.is_ok() || m == Err(raft::Error::Store(StorageError::Compacted)));
            continue;
        }
        assert_eq!(o, m, "{what}: term({i})");
    }
    let ctx = || GetEntriesContext::empty(false);
    let one = entry(1, 1).data.len() as u64 + 6;
    for low in first.saturating_sub(1)..=last + 1 {
        for high in low.max(first)..=last + 1 {
            for max in [None, Some(0), Some(one), Some(2 * one + 1)] {
                let o = ours.entries(low, high, max, ctx());
                if low == high && low >= first {
                    // MemStorage indexes its (maybe empty) Vec before slicing: no answer to
                    // compare with, and none is needed.
                    assert_eq!(o, Ok(vec![]));
                    continue;
                }
                assert_eq!(
                    o,
                    mem.entries(low, high, max, ctx()),
                    "{what}: {low}..{high}"
                );
            }
        }
    }
}

fn reopen(dir: &Path, store: LogStore) -> LogStore {
    drop(store);
    LogStore::open(dir, LogOptions::new().keep_entries(KEEP)).unwrap()
}

#[test]
fn storage_semantics_match_memstorage_and_survive_reopen() {
    use Op::*;
    use Want::{BadAppend as Bad, CompactOutOfRange as Range, Ok as Done, OutOfDate as Old};
    let cases: Vec<(&str, Vec<(Op, Want)>)> = vec![
        ("empty", vec![(Conf(&[1]), Done)]),
        (
            "append and overwrite a suffix",
            vec![
                (Conf(&[1, 2, 3]), Done),
                (Append(&[(1, 1), (2, 1), (3, 2)]), Done),
                (Hard(2, 1, 2), Done),
                (Append(&[(4, 2), (5, 2)]), Done),
                (Append(&[(3, 3), (4, 3)]), Done),
                (Commit(3), Done),
                (Append(&[(6, 3)]), Bad),
                (Append(&[(0, 3)]), Bad),
                (Append(&[(5, 3), (7, 3)]), Bad),
                (Append(&[(5, 3)]), Done),
                (Append(&[(1, 4)]), Done),
            ],
        ),
        (
            "compact keeps entries for followers",
            vec![
                (Conf(&[1, 2, 3]), Done),
                (
                    Append(&[(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3)]),
                    Done,
                ),
                (Hard(3, 1, 6), Done),
                (Compact(5), Done),
                (Compact(5), Range),
                (Compact(4), Range),
                (Compact(7), Range),
                (Append(&[(7, 3), (8, 4)]), Done),
                (Append(&[(3, 4)]), Bad),
                (Append(&[(4, 4)]), Done),
                (Compact(4), Range),
                (Append(&[(5, 4), (6, 4), (7, 4)]), Done),
                (Compact(7), Done),
                (Compact(1), Range),
            ],
        ),
        (
            "install a snapshot the log does not match",
            vec![
                (Conf(&[1]), Done),
                (Append(&[(1, 1), (2, 1), (3, 2)]), Done),
                (Hard(2, 0, 2), Done),
                (Install(5, 3), Done),
                (Install(4, 3), Old),
                (Install(5, 3), Old),
                (Append(&[(5, 3)]), Bad),
                (Append(&[(6, 3), (7, 4)]), Done),
                (Install(9, 4), Done),
                (Compact(9), Range),
                (Append(&[(10, 4)]), Done),
                (Compact(10), Done),
            ],
        ),
        (
            "install a snapshot the log holds",
            vec![
                (Append(&[(1, 1), (2, 1), (3, 2), (4, 2)]), Done),
                (Hard(2, 2, 1), Done),
                (Install(3, 2), Done),
            ],
        ),
        (
            "install after a compaction",
            vec![
                (
                    Append(&[(1, 1), (2, 1), (3, 1), (4, 1), (5, 2), (6, 2)]),
                    Done,
                ),
                (Compact(5), Done),
                (Install(2, 1), Old),
                (Install(5, 2), Old),
                (Install(8, 3), Done),
            ],
        ),
    ];
    for (name, ops) in cases {
        let dir = TempDir::new(&format!("semantics-{}", name.replace(' ', "-")));
        let mut ours = LogStore::open(&dir.0, LogOptions::new().keep_entries(KEEP)).unwrap();
        assert!(ours.is_new());
        let mem = MemStorage::new();
        for (step, (op, want)) in ops.iter().enumerate() {
            let what = format!("{name}, step {step} {op:?}");
            assert_eq!(run(&ours, &mem, op), *want, "{what}");
            check_same(&ours, &mem, &what);
            let snap = ours.load_snapshot().unwrap();
            ours = reopen(&dir.0, ours);
            assert!(!ours.is_new());
            check_same(&ours, &mem, &format!("{what}, reopened"));
            assert_eq!(
                ours.load_snapshot().unwrap(),
                snap,
                "{what}: snapshot after reopen"
            );
        }
    }
}

#[test]
fn snapshots_hold_their_data_and_metadata() {
    let dir = TempDir::new("snapshots");
    let store = LogStore::open(&dir.0, LogOptions::new().keep_entries(1)).unwrap();
    let ctx = |i| Storage::snapshot(&store, i, 2);
    assert_eq!(
        ctx(0),
        Err(raft::Error::Store(
            StorageError::SnapshotTemporarilyUnavailable
        ))
    );
    assert_eq!(store.load_snapshot().unwrap(), None);
    store.set_conf_state(conf(&[1, 2])).unwrap();
    let es: Vec<Entry> = (1..=10).map(|i| entry(i, 1 + i / 4)).collect();
    store.append(&es).unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    store.compact(6, conf(&[1, 2, 3]), data.clone()).unwrap();
    let s = store.load_snapshot().unwrap().unwrap();
    assert_eq!((s.get_metadata().index, s.get_metadata().term), (6, 2));
    assert_eq!(s.get_metadata().get_conf_state(), &conf(&[1, 2, 3]));
    assert_eq!(s.get_data(), &data[..]);
    // What raft gets is the metadata and a descriptor of the file, not the data.
    let sent = ctx(6).unwrap();
    assert_eq!(sent.get_metadata(), s.get_metadata());
    let file_len = std::fs::metadata(dir.0.join(super::file::snap_name(6)))
        .unwrap()
        .len();
    let r = super::SnapshotRef::decode(sent.get_data()).expect("a descriptor");
    assert_eq!(
        (r.index, r.term, r.len, r.file.as_str()),
        (6, 2, file_len, "")
    );
    assert!(sent.get_data().len() < 64);
    assert_eq!(
        ctx(7),
        Err(raft::Error::Store(
            StorageError::SnapshotTemporarilyUnavailable
        ))
    );
    // The log keeps one entry before the snapshot and still knows the term before it.
    assert_eq!((store.first_index(), store.last_index()), (6, 10));
    assert_eq!(store.term(5), Ok(2));
    assert_eq!(store.entry_count(), 4);
    // The configuration state is the log's, not the snapshot's.
    assert_eq!(store.conf_state(), conf(&[1, 2]));
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    store
        .compact(9, conf(&[1, 2, 3]), b"nine".to_vec())
        .unwrap();
    assert_eq!(
        names(&dir.0),
        [
            "LOCK",
            &super::file::log_name(3),
            &super::file::snap_name(9)
        ]
    );
    assert_eq!(store.load_snapshot().unwrap().unwrap().get_data(), b"nine");
}

#[test]
fn a_second_store_cannot_open_the_directory() {
    let dir = TempDir::new("locked");
    let store = LogStore::open(&dir.0, LogOptions::new()).unwrap();
    let clone = store.clone();
    match LogStore::open(&dir.0, LogOptions::new()) {
        Err(Error::Locked(d)) => assert_eq!(d, dir.0),
        other => panic!("{other:?}"),
    }
    drop(store);
    assert!(LogStore::open(&dir.0, LogOptions::new()).is_err());
    drop(clone);
    LogStore::open(&dir.0, LogOptions::new()).unwrap();
}

/// What a store shows: hard state, conf state, first index, entries.
type Shown = (HardState, ConfState, u64, Vec<Entry>);

/// The state a store shows, to compare after reopening.
fn state(s: &LogStore) -> Shown {
    let entries = s
        .entries(
            s.first_index(),
            s.last_index() + 1,
            None,
            GetEntriesContext::empty(false),
        )
        .unwrap();
    (s.hard_state(), s.conf_state(), s.first_index(), entries)
}

/// Writes a log of several records, one write each, returning the state and the file's length
/// after each write (the first after the file's own records).
fn build(dir: &Path) -> (PathBuf, Vec<(u64, Shown)>) {
    let store = LogStore::open(dir, LogOptions::new()).unwrap();
    let mut after = vec![(store.log_bytes(), state(&store))];
    let mut step = |f: &dyn Fn(&LogStore)| {
        f(&store);
        store.sync().unwrap();
        after.push((store.log_bytes(), state(&store)));
    };
    step(&|s| s.set_conf_state(conf(&[1, 2, 3])).unwrap());
    step(&|s| s.append(&[entry(1, 1)]).unwrap());
    step(&|s| s.append(&[entry(2, 1)]).unwrap());
    step(&|s| s.set_hard_state(&hard(1, 2, 1)).unwrap());
    step(&|s| s.append(&[entry(3, 2)]).unwrap());
    step(&|s| s.set_commit(3).unwrap());
    // One record per step, so every prefix of the file is a state a step left.
    step(&|s| s.append(&[entry(2, 3)]).unwrap());
    step(&|s| s.append(&[entry(3, 3)]).unwrap());
    step(&|s| s.append(&[entry(4, 3)]).unwrap());
    step(&|s| s.set_hard_state(&hard(3, 1, 4)).unwrap());
    let path = store.inner.core.read().writer.path.clone();
    (path, after)
}

/// The log file's bytes up to `len` (its records), checking that only zeros follow them.
fn records(path: &Path, len: u64) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    assert!(
        bytes[len as usize..].iter().all(|&b| b == 0),
        "zeros follow the records"
    );
    bytes.truncate(len as usize);
    bytes
}

#[test]
fn a_torn_tail_is_cut_at_every_byte() {
    let dir = TempDir::new("torn");
    let (path, after) = build(&dir.0.join("src"));
    let full = records(&path, after.last().unwrap().0);
    let name = path.file_name().unwrap();
    let from = after[1].0 as usize;
    for cut in from..=full.len() {
        let d = dir.0.join(format!("cut-{cut}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), &full[..cut]).unwrap();
        let store = LogStore::open(&d, LogOptions::new()).unwrap();
        let (len, want) = after
            .iter()
            .rev()
            .find(|(len, _)| *len as usize <= cut)
            .unwrap();
        assert_eq!(&state(&store), want, "cut at {cut}");
        assert_eq!(store.log_bytes(), *len, "cut at {cut}");
        assert_eq!(std::fs::metadata(d.join(name)).unwrap().len(), *len);
        // It keeps appending where the valid records end.
        store.append(&[entry(store.last_index() + 1, 9)]).unwrap();
        store.sync().unwrap();
        let want = state(&store);
        drop(store);
        let store = LogStore::open(&d, LogOptions::new()).unwrap();
        assert_eq!(state(&store), want, "cut at {cut}, appended");
        drop(store);
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[test]
fn damage_before_the_last_record_refuses_to_open_naming_the_offset() {
    let dir = TempDir::new("flip");
    let (path, after) = build(&dir.0.join("src"));
    let full = records(&path, after.last().unwrap().0);
    let name = path.file_name().unwrap();
    // Every byte of every record but the last one, and of the file's header.
    let last = after[after.len() - 2].0 as usize;
    let mut starts = vec![];
    let mut pos = 32;
    while pos < full.len() {
        starts.push(pos);
        pos += 8 + u32::from_le_bytes(full[pos..pos + 4].try_into().unwrap()) as usize;
    }
    for at in 0..last {
        let d = dir.0.join(format!("flip-{at}"));
        std::fs::create_dir_all(&d).unwrap();
        let mut bytes = full.clone();
        bytes[at] ^= 0x40;
        std::fs::write(d.join(name), &bytes).unwrap();
        let err = LogStore::open(&d, LogOptions::new()).unwrap_err();
        let Error::Corrupt { file, offset, .. } = &err else {
            panic!("flip at {at}: {err}")
        };
        assert_eq!(file, &d.join(name));
        let offset = *offset as usize;
        // The offset is the start of the damaged record, or in the header, the field.
        if at < 32 {
            assert!(offset < 32, "flip at {at}: {err}");
        } else {
            let record = starts.iter().rev().find(|&&s| s <= at).unwrap();
            assert_eq!(offset, *record, "flip at {at}: {err}");
        }
        assert!(err.to_string().contains(&format!("offset {offset}")));
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[test]
fn a_damaged_snapshot_refuses_to_open() {
    let dir = TempDir::new("snapflip");
    let store = LogStore::open(&dir.0, LogOptions::new()).unwrap();
    store.append(&[entry(1, 1), entry(2, 1)]).unwrap();
    store.compact(2, conf(&[1]), vec![7; 100]).unwrap();
    drop(store);
    let path = dir.0.join(super::file::snap_name(2));
    let good = std::fs::read(&path).unwrap();
    for at in (0..good.len()).step_by(7) {
        let mut bytes = good.clone();
        bytes[at] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        match LogStore::open(&dir.0, LogOptions::new()) {
            Err(Error::Corrupt { file, .. }) => assert_eq!(file, path, "flip at {at}"),
            other => panic!("flip at {at}: {other:?}"),
        }
    }
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        LogStore::open(&dir.0, LogOptions::new()),
        Err(Error::Io { .. })
    ));
    std::fs::write(&path, &good).unwrap();
    LogStore::open(&dir.0, LogOptions::new()).unwrap();
}

/// The worked example of docs/format.md, *The Raft log*, byte for byte.
#[test]
fn format_example() {
    let dir = TempDir::new("format");
    let store = LogStore::open(&dir.0, LogOptions::new()).unwrap();
    store.set_conf_state(conf(&[1])).unwrap();
    store.append(&[entry(1, 1)]).unwrap();
    store.sync().unwrap();
    let bytes = records(&dir.0.join(super::file::log_name(1)), store.log_bytes());
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let want = [
        // header
        "4b 56 52 41 46 54 4c 47 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00",
        "b5 40 35 7f 00 00 00 00",
        // record 1: base (0, 0), snapshot (0, 0)
        "29 00 00 00 f8 80 68 b0 01 00 00 00 00 00 00 00 01",
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        // record 2: hard state (0, 0, 0)
        "21 00 00 00 38 ad 74 22 02 00 00 00 00 00 00 00 03",
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        // record 3: conf state (empty), record 4: conf state voters [1]
        "09 00 00 00 72 ec e9 d8 03 00 00 00 00 00 00 00 04",
        "0b 00 00 00 2c d0 89 63 04 00 00 00 00 00 00 00 04 08 01",
        // record 5: entry 1 of term 1, data "data 1 1"
        "17 00 00 00 77 f2 87 cd 05 00 00 00 00 00 00 00 02",
        "10 01 18 01 22 08 64 61 74 61 20 31 20 31",
    ];
    assert_eq!(hex.join(" "), want.join(" "));
}

/// What a crash leaves between the steps of a compaction (a temp file, a snapshot the log does
/// not name yet, the previous generation not yet removed) is ignored and removed at open.
#[test]
fn leftovers_of_an_interrupted_compaction_are_removed() {
    use super::file::{log_name, snap_name};
    let dir = TempDir::new("leftovers");
    let store = LogStore::open(&dir.0, LogOptions::new().keep_entries(0)).unwrap();
    store
        .append(&[entry(1, 1), entry(2, 1), entry(3, 2)])
        .unwrap();
    store.compact(2, conf(&[1]), b"two".to_vec()).unwrap();
    store.append(&[entry(4, 2)]).unwrap();
    store.sync().unwrap();
    let want = state(&store);
    drop(store);
    let d = &dir.0;
    // Generation 2 is the log; an old generation 1, an unnamed newer snapshot, temp files.
    std::fs::write(d.join(log_name(1)), b"the previous generation").unwrap();
    std::fs::write(d.join(snap_name(3)), b"a snapshot the log does not name").unwrap();
    std::fs::write(d.join(format!("{}.tmp", log_name(3))), b"half").unwrap();
    std::fs::write(d.join(format!("{}.tmp", snap_name(4))), b"half").unwrap();
    std::fs::write(d.join("unrelated"), b"kept").unwrap();
    let store = LogStore::open(d, LogOptions::new()).unwrap();
    assert_eq!(state(&store), want);
    assert_eq!(store.load_snapshot().unwrap().unwrap().get_data(), b"two");
    let mut names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["LOCK", &log_name(2), &snap_name(2), "unrelated"]);
    drop(store);
    // A snapshot without any log is not a new node: refused.
    std::fs::remove_file(d.join(log_name(2))).unwrap();
    assert!(matches!(
        LogStore::open(d, LogOptions::new()),
        Err(Error::Corrupt { .. })
    ));
}

/// A failed write, fsync or directory sync is never retried: every later write is refused,
/// reads go on, and reopening finds a consistent state.
#[test]
fn a_failed_write_or_sync_refuses_later_writes() {
    use super::file::{FAULT, Fault};
    let arm = |f, after| FAULT.with(|c| c.set(Some((f, after))));
    let failed = |r: crate::Result<()>| matches!(r, Err(Error::Failed));
    let dir = TempDir::new("faults");
    let open = || LogStore::open(&dir.0, LogOptions::new().keep_entries(0)).unwrap();

    // A failed fsync: the entry written before it may or may not be durable; here, with no
    // crash, the operating system still has it.
    let store = open();
    store.append(&[entry(1, 1)]).unwrap();
    store.sync().unwrap();
    store.append(&[entry(2, 1)]).unwrap();
    arm(Fault::Sync, 0);
    assert!(matches!(store.sync(), Err(Error::Io { .. })));
    assert!(failed(store.append(&[entry(3, 1)])));
    assert!(failed(store.set_hard_state(&hard(1, 1, 1))));
    assert!(failed(store.set_commit(1)));
    assert!(failed(store.set_conf_state(conf(&[1]))));
    assert!(failed(store.sync()));
    assert!(failed(store.compact(1, conf(&[1]), vec![1])));
    assert_eq!(store.last_index(), 2, "reads go on");
    drop(store);
    let store = open();
    assert_eq!(store.last_index(), 2);

    // A failed write changes nothing in memory or on disk.
    arm(Fault::Write, 0);
    assert!(matches!(
        store.append(&[entry(3, 2)]),
        Err(Error::Io { .. })
    ));
    assert_eq!(store.last_index(), 2);
    assert!(failed(store.append(&[entry(3, 2)])));
    drop(store);
    let store = open();
    assert_eq!(state(&store).3, [entry(1, 1), entry(2, 1)]);

    // A failed directory sync after the snapshot's rename: the log is not rewritten, and
    // reopening finds the old log (the unused snapshot is removed).
    arm(Fault::DirSync, 0);
    assert!(matches!(
        store.compact(2, conf(&[1]), b"x".to_vec()),
        Err(Error::Io { .. })
    ));
    drop(store);
    let store = open();
    assert_eq!(
        (store.snapshot_index_term(), store.last_index()),
        ((0, 0), 2)
    );

    // A failed directory sync after the new log's rename: the compaction may or may not have
    // happened, so later records would risk going to a file the next open ignores.
    arm(Fault::DirSync, 1);
    assert!(matches!(
        store.compact(2, conf(&[1]), b"x".to_vec()),
        Err(Error::Io { .. })
    ));
    assert!(failed(store.append(&[entry(3, 2)])));
    drop(store);
    let store = open();
    assert_eq!(store.snapshot_index_term(), (2, 1));
    assert_eq!(store.load_snapshot().unwrap().unwrap().get_data(), b"x");
    store.append(&[entry(3, 2)]).unwrap();
    store.sync().unwrap();
}

#[test]
fn the_store_is_send_and_sync() {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<LogStore>();
    fn error<T: std::error::Error + Send + Sync + 'static>() {}
    error::<Error>();
}

/// A snapshot written through `compact_with` in small pieces is the same file as one written
/// whole, and `open_snapshot` reads its data back in pieces, checking its CRC at the end, or
/// maps it into memory, checking its CRC first.
#[test]
fn a_snapshot_is_written_and_read_in_pieces() {
    use std::io::Read as _;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let write = |name: &str, pieces: bool| {
        let dir = TempDir::new(name);
        let store = LogStore::open(&dir.0, LogOptions::new()).unwrap();
        store.append(&[entry(1, 1), entry(2, 1)]).unwrap();
        if pieces {
            store
                .compact_with(2, conf(&[1]), |w| {
                    data.chunks(777).try_for_each(|c| w.write_all(c))
                })
                .unwrap();
        } else {
            store.compact(2, conf(&[1]), data.clone()).unwrap();
        }
        let bytes = std::fs::read(dir.0.join(super::file::snap_name(2))).unwrap();
        (dir, store, bytes)
    };
    let (_whole_dir, _whole, whole) = write("pieces-whole", false);
    let (dir, store, pieces) = write("pieces", true);
    assert!(whole == pieces, "the same file either way");
    let mut reader = store.open_snapshot().unwrap().expect("a snapshot");
    assert_eq!(reader.metadata().index, 2);
    let mut head = vec![0; 1000];
    reader.read_exact(&mut head).unwrap();
    assert_eq!(head, data[..1000]);
    reader.finish().unwrap();
    // A flipped data byte: read to the end, the reader refuses it.
    let path = dir.0.join(super::file::snap_name(2));
    let mut bad = pieces.clone();
    bad[pieces.len() / 2] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    let mut reader = store.open_snapshot().unwrap().expect("a snapshot");
    let mut all = Vec::new();
    reader.read_to_end(&mut all).unwrap();
    assert_eq!(all.len(), data.len());
    assert!(matches!(reader.finish(), Err(Error::Corrupt { .. })));
    // Mapped, the damage is found before the data is handed out.
    let reader = store.open_snapshot().unwrap().expect("a snapshot");
    assert!(matches!(reader.map(), Err(Error::Corrupt { .. })));
    std::fs::write(&path, &pieces).unwrap();
    let mapped = store
        .open_snapshot()
        .unwrap()
        .expect("a snapshot")
        .map()
        .unwrap();
    assert_eq!(mapped.metadata().index, 2);
    assert!(
        mapped.data() == &data[..],
        "the mapped data is the snapshot's"
    );
}

/// A received file that is cut short, or whose bytes do not match the sender's CRC, is
/// refused and removed; one that arrived whole is adopted by `apply_snapshot` (renamed).
#[test]
fn a_received_snapshot_is_checked_whole_and_adopted_by_its_rename() {
    let dir = TempDir::new("received");
    let store = LogStore::open(&dir.0, LogOptions::new()).unwrap();
    let s = snapshot(5, 2, &[1, 2]);
    let bytes = super::file::snapshot_bytes(s.get_metadata(), s.get_data());
    let want = super::SnapshotRef {
        index: 5,
        term: 2,
        len: bytes.len() as u64,
        crc: u32::from_le_bytes(bytes[bytes.len() - 8..][..4].try_into().unwrap()),
        file: String::new(),
    };
    let files = || {
        let mut v: Vec<String> = std::fs::read_dir(&dir.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains("raftsnap"))
            .collect();
        v.sort();
        v
    };
    // Cut short: dropped unfinished, or finished early.
    let mut cut = store.receive_snapshot(&want).unwrap();
    cut.write(&bytes[..10]).unwrap();
    assert_eq!(files().len(), 1);
    drop(cut);
    assert!(files().is_empty());
    let mut short = store.receive_snapshot(&want).unwrap();
    short.write(&bytes[..bytes.len() - 1]).unwrap();
    assert!(matches!(short.finish(), Err(Error::Corrupt { .. })));
    assert!(files().is_empty());
    // A flipped byte, and a descriptor whose CRC is not the file's.
    let mut flipped = bytes.clone();
    flipped[40] ^= 1;
    let mut bad = store.receive_snapshot(&want).unwrap();
    bad.write(&flipped).unwrap();
    assert!(matches!(bad.finish(), Err(Error::Corrupt { .. })));
    let other = super::SnapshotRef {
        crc: want.crc ^ 1,
        ..want.clone()
    };
    let mut bad = store.receive_snapshot(&other).unwrap();
    bad.write(&bytes).unwrap();
    assert!(matches!(bad.finish(), Err(Error::Corrupt { .. })));
    // Too many bytes.
    let mut long = store.receive_snapshot(&want).unwrap();
    assert!(long.write(&[bytes.clone(), vec![0]].concat()).is_err());
    drop(long);
    assert!(files().is_empty());
    // Whole: adopted under its own name, its data what was sent.
    let got = received(&store, &s);
    store.apply_snapshot(&got).unwrap();
    assert_eq!(files(), [super::file::snap_name(5)]);
    let loaded = store.load_snapshot().unwrap().unwrap();
    assert_eq!(loaded.get_data(), s.get_data());
    // Data that is not a received file's descriptor is refused (and changes nothing).
    let plain = snapshot(9, 2, &[1, 2]);
    assert!(matches!(
        store.apply_snapshot(&plain),
        Err(Error::Invalid(_))
    ));
    assert_eq!(store.snapshot_index_term(), (5, 2));
}

#[test]
fn a_snapshot_that_would_not_fit_on_the_disk_is_refused_before_a_byte_is_written() {
    let dir = TempDir::new("nospace");
    let store = LogStore::open(&dir.0, LogOptions::new()).unwrap();
    let free = super::file::free_space(&dir.0).unwrap();
    let reserve = super::SNAPSHOT_DISK_RESERVE;
    assert!(
        free > 4 * reserve,
        "the test needs {} MiB free",
        (4 * reserve) >> 20
    );
    let sized = |len: u64| super::SnapshotRef {
        index: 5,
        term: 2,
        len,
        crc: 0,
        file: String::new(),
    };
    let files = || {
        std::fs::read_dir(&dir.0)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("raftsnap")
            })
            .count()
    };
    // Larger than the disk (twice, so that another process freeing space meanwhile does not
    // matter): refused, no file.
    let err = store.receive_snapshot(&sized(2 * free)).unwrap_err();
    assert!(
        matches!(err, Error::NoSpace { pending: 0, reserve: r, .. } if r == reserve),
        "{err:?}"
    );
    assert_eq!(files(), 0);
    // One that fits, then a second that fits alone but not beside the first (the first's
    // bytes are promised while it is received, before they are written).
    let first = store.receive_snapshot(&sized(free / 4 * 3)).unwrap();
    assert_eq!(files(), 1);
    let second = store.receive_snapshot(&sized(free / 2));
    assert!(
        matches!(&second, Err(Error::NoSpace { pending, .. }) if *pending == free / 4 * 3),
        "{second:?}"
    );
    assert_eq!(files(), 1);
    // The first transfer ends (cut short here): its promise is given back.
    drop(first);
    assert_eq!(files(), 0);
    let again = store.receive_snapshot(&sized(free / 2)).unwrap();
    drop(again);
    assert_eq!(
        store
            .inner
            .receiving
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

/// The file keeps zeros ahead of its records (a MiB at a time), so that a write's fdatasync
/// does not change the file's size; reopening reads them as the end of the log (nothing cut,
/// no warning), and appending goes on at the end of the records, into the zeros.
#[test]
fn the_log_keeps_zeros_ahead_of_its_records_and_reopens_at_their_end() {
    use super::logfile::ZERO_STEP;
    let dir = TempDir::new("zeros");
    let store = LogStore::open(&dir.0, LogOptions::new()).unwrap();
    store.set_conf_state(conf(&[1])).unwrap();
    store.append(&[entry(1, 1)]).unwrap();
    store.sync().unwrap();
    let path = store.inner.core.read().writer.path.clone();
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert_eq!(size(&path), ZERO_STEP, "zeros to the first MiB");
    let first = store.log_bytes();
    records(&path, first);
    // Writes land in the zeros: the file's size stays until the records pass it.
    store.append(&[entry(2, 1)]).unwrap();
    store.sync().unwrap();
    assert!(store.log_bytes() > first);
    assert_eq!(size(&path), ZERO_STEP);
    let big = Entry {
        index: 3,
        term: 1,
        data: vec![7u8; ZERO_STEP as usize].into(),
        ..Entry::default()
    };
    store.append(&[big]).unwrap();
    store.sync().unwrap();
    let len = store.log_bytes();
    assert!(len > ZERO_STEP);
    assert_eq!(
        size(&path),
        2 * ZERO_STEP,
        "zeros to the next MiB past the records"
    );
    records(&path, len);
    let want = state(&store);
    drop(store);

    let store = LogStore::open(&dir.0, LogOptions::new()).unwrap();
    assert_eq!(state(&store), want);
    assert_eq!(
        store.log_bytes(),
        len,
        "appending resumes at the records' end"
    );
    assert_eq!(
        size(&path),
        2 * ZERO_STEP,
        "the zeros were not cut as a torn tail"
    );
    store.append(&[entry(4, 2)]).unwrap();
    store.sync().unwrap();
    let want = state(&store);
    drop(store);
    let store = LogStore::open(&dir.0, LogOptions::new()).unwrap();
    assert_eq!(state(&store), want);
    assert_eq!(store.last_index(), 4);
}

/// Zeros end the log only when nothing but zeros follows: a record begun in them and cut
/// short is a torn tail (cut), and a valid record after zeros is damage (refused).
#[test]
fn zeros_end_the_log_only_when_nothing_else_follows() {
    let dir = TempDir::new("zerotail");
    let (path, after) = build(&dir.0.join("src"));
    let name = path.file_name().unwrap();
    let (len, want) = after.last().unwrap().clone();
    let full = records(&path, len);
    let (before, _) = &after[after.len() - 2];
    let last = full[*before as usize..].to_vec();

    // The last record's first half, then zeros: torn, cut where that record began.
    let d = dir.0.join("half");
    std::fs::create_dir_all(&d).unwrap();
    let mut bytes = full[..*before as usize].to_vec();
    bytes.extend_from_slice(&last[..last.len() / 2]);
    bytes.resize(bytes.len() + 4096, 0);
    std::fs::write(d.join(name), &bytes).unwrap();
    let store = LogStore::open(&d, LogOptions::new()).unwrap();
    assert_eq!(store.log_bytes(), *before);
    assert_eq!(std::fs::metadata(d.join(name)).unwrap().len(), *before);
    assert_eq!(&state(&store), &after[after.len() - 2].1);
    drop(store);

    // Zeros, then a valid record: refused, naming where the zeros begin.
    let d = dir.0.join("gap");
    std::fs::create_dir_all(&d).unwrap();
    let mut bytes = full[..*before as usize].to_vec();
    bytes.resize(bytes.len() + 64, 0);
    bytes.extend_from_slice(&last);
    std::fs::write(d.join(name), &bytes).unwrap();
    let err = LogStore::open(&d, LogOptions::new()).unwrap_err();
    let Error::Corrupt { offset, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*offset, *before, "{err}");

    // The records and zeros only: the whole state.
    let d = dir.0.join("clean");
    std::fs::create_dir_all(&d).unwrap();
    let mut bytes = full.clone();
    bytes.resize(bytes.len() + 3, 0);
    std::fs::write(d.join(name), &bytes).unwrap();
    let store = LogStore::open(&d, LogOptions::new()).unwrap();
    assert_eq!(state(&store), want);
    assert_eq!(store.log_bytes(), len);
}
