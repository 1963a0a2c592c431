use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::read::Replay;
use super::*;
use crate::persist::error::PersistError;
use crate::persist::frame;
use crate::persist::fs::{FaultFs, FileSystem};
use crate::persist::record::{self, Bytes, Op, Record, Value};

fn dir() -> PathBuf {
    PathBuf::from("/data")
}

fn rec(key: &str) -> Record<'static> {
    Record {
        db: 0,
        op: Op::Set {
            key: Bytes::from(key.as_bytes().to_vec()),
            value: Value::Str(Bytes::from(b"value".to_vec())),
            expire_at: None,
        },
    }
}

fn open(fs: &FaultFs, sync: SyncMode, segment_bytes: u64, next_seq: u64, last: Option<u64>) -> Wal {
    let opts = WalOptions {
        sync,
        segment_bytes,
        ..WalOptions::default()
    };
    open_with(fs, opts, next_seq, last)
}

/// Opens the log as recovery does: replays it (as if a snapshot covered `next_seq - 1`) for the
/// logical end, checks that it ends at `last`, and continues there.
fn open_with(fs: &FaultFs, opts: WalOptions, next_seq: u64, last: Option<u64>) -> Wal {
    let r = replay(fs, &dir(), next_seq - 1, |_, _, _| Ok(())).unwrap();
    assert_eq!(r.last_seq, last, "the log ends where the test says");
    Wal::open(Arc::new(fs.clone()), &dir(), opts, next_seq, last, r.end).unwrap()
}

/// Appends and commits `keys`, returning their sequence numbers.
fn write(wal: &Wal, keys: &[&str]) -> Vec<u64> {
    keys.iter()
        .map(|k| {
            let seq = wal.append(&rec(k)).unwrap();
            wal.commit(seq).unwrap();
            seq
        })
        .collect()
}

/// Replays the log after `after`: the (seq, key) pairs and the report.
fn read(fs: &FaultFs, after: u64) -> Result<(Vec<(u64, String)>, Replay)> {
    let mut out = Vec::new();
    let r = replay(fs, &dir(), after, |seq, rec, _| {
        let Op::Set { key, .. } = rec.op else {
            panic!("unexpected op {:?}", rec.op)
        };
        out.push((seq, String::from_utf8(key.into_vec()).unwrap()));
        Ok(())
    })?;
    Ok((out, r))
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("key{i}")).collect()
}

fn seg_path(first: u64) -> PathBuf {
    dir().join(segment_name(first))
}

/// Offsets of the frames in a segment.
fn frame_offsets(data: &[u8]) -> Vec<usize> {
    let mut pos = HEADER_LEN;
    let mut out = Vec::new();
    while let Ok((_, next)) = frame::read(data, pos, MIN_PAYLOAD) {
        out.push(pos);
        pos = next;
    }
    out
}

/// A log of five records in one segment; returns the fs and the frame offsets.
fn five() -> (FaultFs, Vec<usize>) {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 1 << 20, 1, None);
    let ks = keys(5);
    write(&wal, &ks.iter().map(String::as_str).collect::<Vec<_>>());
    let data = fs.contents(&seg_path(1)).unwrap();
    let offs = frame_offsets(&data);
    assert_eq!(offs.len(), 5);
    (fs, offs)
}

#[test]
fn names_round_trip() {
    assert_eq!(segment_name(42), "wal-00000000000000000042.log");
    assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
    for bad in [
        "wal-42.log",
        "wal-0000000000000000004x.log",
        "snap-00000000000000000042.kvs",
        "wal-00000000000000000042.log.tmp",
    ] {
        assert_eq!(parse_segment_name(bad), None, "{bad}");
    }
}

#[test]
fn records_replay_in_order_with_their_sequence_numbers() {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 1 << 20, 1, None);
    let ks = keys(100);
    let seqs = write(&wal, &ks.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    let (got, r) = read(&fs, 0).unwrap();
    assert_eq!(
        got,
        seqs.iter()
            .copied()
            .zip(ks.iter().cloned())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        r,
        Replay {
            applied: 100,
            last_seq: Some(100),
            torn: None,
            end: Some(read_len(&fs) as u64),
        }
    );
    let (after, _) = read(&fs, 60).unwrap();
    assert_eq!(after.first(), Some(&(61, "key60".to_string())));
    assert_eq!(after.len(), 40);
}

#[test]
fn segments_roll_by_size_and_covered_ones_are_removed() {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::No, 300, 1, None);
    let ks = keys(40);
    write(&wal, &ks.iter().map(String::as_str).collect::<Vec<_>>());
    wal.sync().unwrap();
    let segs = segments(&fs, &dir()).unwrap();
    assert!(segs.len() > 3, "{segs:?}");
    assert_eq!(segs[0].first_seq, 1);
    let (got, r) = read(&fs, 0).unwrap();
    assert_eq!(got.len(), 40);
    assert_eq!(r.last_seq, Some(40));
    // Remove what a snapshot at 25 covers: the segment holding 25 and later ones stay.
    let removed = remove_covered(&fs, &dir(), 25).unwrap();
    let left = segments(&fs, &dir()).unwrap();
    assert_eq!(left.len() + removed, segs.len());
    assert!(left[0].first_seq <= 26 && left.len() >= 2);
    let (got, _) = read(&fs, 25).unwrap();
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        (26..=40).collect::<Vec<_>>()
    );
    // Replaying from an older point than the log holds is a gap, not silence.
    let err = read(&fs, 0).unwrap_err().to_string();
    assert!(
        err.contains("the snapshot covers records up to 0 only"),
        "{err}"
    );
}

#[test]
fn reopening_continues_the_last_segment() {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 1 << 20, 1, None);
    write(&wal, &["a", "b"]);
    drop(wal);
    let (_, r) = read(&fs, 0).unwrap();
    let wal = open(
        &fs,
        SyncMode::Always,
        1 << 20,
        r.last_seq.unwrap() + 1,
        r.last_seq,
    );
    assert_eq!(write(&wal, &["c"]), vec![3]);
    assert_eq!(segments(&fs, &dir()).unwrap().len(), 1);
    let (got, _) = read(&fs, 0).unwrap();
    assert_eq!(
        got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
}

#[test]
fn a_snapshot_ahead_of_the_log_starts_a_new_segment() {
    // The log lost its unsynced tail (records 3..) but a snapshot covers up to 5.
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 1 << 20, 1, None);
    write(&wal, &["a", "b"]);
    drop(wal);
    let wal = open(&fs, SyncMode::Always, 1 << 20, 6, Some(2));
    assert_eq!(write(&wal, &["f"]), vec![6]);
    let (got, r) = read(&fs, 5).unwrap();
    assert_eq!(got, vec![(6, "f".to_string())]);
    assert_eq!(r.torn, None);
    // Without a snapshot covering 3..=5 the same gap is damage.
    assert!(read(&fs, 2).is_err());
    assert_eq!(check(&fs, &dir(), 5, false).unwrap().problem, None);
    assert!(check(&fs, &dir(), 0, false).unwrap().problem.is_some());
}

#[test]
fn rotate_seals_the_segment() {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::EverySec, 1 << 20, 1, None);
    write(&wal, &["a", "b", "c"]);
    wal.rotate().unwrap();
    wal.rotate().unwrap(); // nothing new: no empty segment pile-up
    write(&wal, &["d"]);
    let firsts: Vec<u64> = segments(&fs, &dir())
        .unwrap()
        .iter()
        .map(|s| s.first_seq)
        .collect();
    assert_eq!(firsts, [1, 4]);
    // Rotation synced the sealed segment.
    fs.crash();
    let (got, _) = read(&fs, 0).unwrap();
    assert_eq!(
        got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
}

/// Damages the records of `five()` and checks what replay reports: a torn tail at a frame
/// offset (`Some(i)`: the `i`th frame, 5: the end of the fifth), or a clean end (`None`). Each
/// case runs twice: the damaged records alone (a file cut by a crash or by a roll), and
/// followed by zeros (the writer's preallocated space).
#[test]
fn torn_tails_are_reported_with_file_and_offset() {
    type Damage = fn(&mut Vec<u8>, &[usize]);
    let cases: Vec<(&str, Damage, Option<usize>, u64)> = vec![
        (
            "payload cut short",
            |d, _| d.truncate(d.len() - 3),
            Some(4),
            4,
        ),
        (
            "frame header cut short",
            |d, o| d.truncate(o[4] + 5),
            Some(4),
            4,
        ),
        (
            "only the length written",
            |d, o| d.truncate(o[4] + 4),
            Some(4),
            4,
        ),
        (
            "bit flip in the last payload",
            |d, _| *d.last_mut().unwrap() ^= 0x10,
            Some(4),
            4,
        ),
        (
            "bit flip in the last length",
            |d, o| d[o[4]] ^= 0x01,
            Some(4),
            4,
        ),
        (
            "zero-filled tail",
            |d, _| d.extend_from_slice(&[0; 100]),
            None,
            5,
        ),
        ("a single zero byte", |d, _| d.push(0), None, 5),
        (
            "garbage tail",
            |d, _| d.extend_from_slice(b"\xff\xff\xff\x7fjunk"),
            Some(5),
            5,
        ),
        (
            "a non-zero byte in the zero tail",
            |d, _| {
                let at = d.len() + 60;
                d.extend_from_slice(&[0; 100]);
                d[at] = 1;
            },
            Some(5),
            5,
        ),
    ];
    for (name, damage, at, applied) in cases {
        for zeros_after in [false, true] {
            let name = format!("{name}, zeros after: {zeros_after}");
            let (fs, offs) = five();
            let path = seg_path(1);
            let file = fs.contents(&path).unwrap();
            let end = records_end(&file);
            let mut data = file[..end].to_vec();
            damage(&mut data, &offs);
            if zeros_after {
                data.resize(data.len().max(file.len()), 0);
            }
            fs.put(&path, data);
            let (got, r) = read(&fs, 0).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got.len() as u64, applied, "{name}");
            match at {
                None => {
                    assert_eq!(r.torn, None, "{name}: a zero tail is a clean end");
                    assert_eq!(r.end, Some(end as u64), "{name}");
                }
                Some(at) => {
                    let torn = r
                        .torn
                        .unwrap_or_else(|| panic!("{name}: no torn tail reported"));
                    let expected_offset = if at == 5 { end } else { offs[at] };
                    assert_eq!(
                        (torn.path.clone(), torn.offset),
                        (path.clone(), expected_offset as u64),
                        "{name}"
                    );
                    assert_eq!(r.end, Some(expected_offset as u64), "{name}");
                    assert!(torn.torn);
                    cut_torn_tail(&fs, &dir(), &torn).unwrap();
                    assert_eq!(fs.contents(&path).unwrap().len(), expected_offset);
                }
            }
            let (again, r) = read(&fs, 0).unwrap();
            assert_eq!(
                (again.len() as u64, r.torn),
                (applied, None),
                "{name}: after the cut"
            );
            // The log accepts appends after the cut, continuing the sequence; a second
            // reopen finds every record.
            let wal = open(&fs, SyncMode::Always, 1 << 20, applied + 1, Some(applied));
            assert_eq!(write(&wal, &["next"]), vec![applied + 1], "{name}");
            drop(wal);
            let (all, r) = read(&fs, 0).unwrap();
            assert_eq!((all.len() as u64, r.torn), (applied + 1, None), "{name}");
            assert_eq!(all.last().unwrap().1, "next", "{name}");
        }
    }
}

#[test]
fn corruption_before_valid_records_is_a_hard_error() {
    type Damage = fn(&mut Vec<u8>, &[usize]);
    let cases: Vec<(&str, Damage)> = vec![
        ("bit flip in a payload", |d, o| d[o[1] + 12] ^= 0x04),
        ("bit flip in a length (longer)", |d, o| d[o[1]] ^= 0x08),
        ("bit flip in a length (shorter)", |d, o| d[o[1]] ^= 0x01),
        ("bit flip in a crc", |d, o| d[o[1] + 5] ^= 0x80),
        ("bit flip in a sequence number", |d, o| d[o[1] + 8] ^= 0x02),
    ];
    for (name, damage) in cases {
        let (fs, offs) = five();
        let path = seg_path(1);
        let mut data = fs.contents(&path).unwrap();
        damage(&mut data, &offs);
        fs.put(&path, data);
        let err = read(&fs, 0).unwrap_err();
        let PersistError::Corrupt {
            file, offset, hint, ..
        } = &err
        else {
            panic!("{name}: {err}")
        };
        assert_eq!(
            (file.as_str(), *offset),
            (path.to_str().unwrap(), offs[1] as u64),
            "{name}"
        );
        assert!(
            hint.contains("--repair") && hint.contains("dropping 3 later record(s)"),
            "{name}: {hint}"
        );

        let c = check(&fs, &dir(), 0, false).unwrap();
        assert_eq!((c.records, c.dropped, c.repaired), (1, 3, false), "{name}");
        assert_eq!(
            c.problem.as_ref().map(|p| p.offset),
            Some(offs[1] as u64),
            "{name}"
        );
        assert!(
            read(&fs, 0).is_err(),
            "{name}: check without --repair changes nothing"
        );
        let c = check(&fs, &dir(), 0, true).unwrap();
        assert!(c.repaired);
        let (got, r) = read(&fs, 0).unwrap();
        assert_eq!((got.len(), r.torn), (1, None), "{name}: after repair");
        assert_eq!(check(&fs, &dir(), 0, false).unwrap().problem, None);
    }
}

#[test]
fn damage_in_a_sealed_segment_is_a_hard_error() {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 150, 1, None);
    let ks = keys(12);
    write(&wal, &ks.iter().map(String::as_str).collect::<Vec<_>>());
    let segs = segments(&fs, &dir()).unwrap();
    assert!(segs.len() >= 3);
    // Cut the end off the first segment: it would be a torn tail if it were the last.
    let mut data = fs.contents(&segs[0].path).unwrap();
    data.truncate(data.len() - 2);
    let cut_at = frame_offsets(&data)
        .last()
        .map_or(HEADER_LEN, |&o| frame::read(&data, o, 8).unwrap().1);
    fs.put(&segs[0].path, data);
    let err = read(&fs, 0).unwrap_err();
    let PersistError::Corrupt { file, offset, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        (file.as_str(), *offset),
        (segs[0].path.to_str().unwrap(), cut_at as u64)
    );
    // Repair drops the rest of the log and says how much (the cut record itself is unreadable).
    let c = check(&fs, &dir(), 0, true).unwrap();
    assert_eq!((c.records, c.dropped), (3, 8));
    assert_eq!(segments(&fs, &dir()).unwrap().len(), 1);
    assert_eq!(read(&fs, 0).unwrap().0.len() as u64, c.records);
}

#[test]
fn bad_headers_and_empty_files() {
    let fix_crc = |d: &mut Vec<u8>| {
        let crc = crc32fast::hash(&d[0..24]);
        d[24..28].copy_from_slice(&crc.to_le_bytes());
    };
    // (name, damage to the single segment, is it a torn tail?)
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Damage, bool)> = vec![
        ("wrong magic", Box::new(|d| d[0] = b'X'), false),
        (
            "wrong version",
            Box::new(move |d| {
                d[8] = 2;
                fix_crc(d);
            }),
            false,
        ),
        ("header checksum", Box::new(|d| d[20] ^= 1), false),
        (
            "header names another sequence",
            Box::new(move |d| {
                d[16] = 9;
                fix_crc(d);
            }),
            false,
        ),
        ("empty file", Box::new(|d| d.clear()), true),
        ("half a header", Box::new(|d| d.truncate(13)), true),
    ];
    for (name, damage, torn) in cases {
        let (fs, _) = five();
        let path = seg_path(1);
        let mut data = fs.contents(&path).unwrap();
        damage(&mut data);
        fs.put(&path, data);
        match read(&fs, 0) {
            Ok((got, r)) => {
                assert!(torn, "{name}: accepted");
                assert!(got.is_empty());
                let p = r.torn.unwrap();
                assert_eq!(p.offset, 0, "{name}");
                cut_torn_tail(&fs, &dir(), &p).unwrap();
                assert!(
                    segments(&fs, &dir()).unwrap().is_empty(),
                    "{name}: torn segment removed"
                );
            }
            Err(e) => {
                assert!(!torn, "{name}: {e}");
                assert!(
                    matches!(e, PersistError::Corrupt { offset: 0, .. }),
                    "{name}: {e}"
                );
            }
        }
    }
    // An empty segment that is not the last one is damage.
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 100, 1, None);
    write(&wal, &["a", "b", "c", "d"]);
    let segs = segments(&fs, &dir()).unwrap();
    assert!(segs.len() >= 2);
    fs.put(&segs[0].path, Vec::new());
    assert!(matches!(
        read(&fs, 0),
        Err(PersistError::Corrupt { offset: 0, .. })
    ));
}

#[test]
fn an_empty_directory_and_a_header_only_segment_are_fine() {
    let fs = FaultFs::new();
    assert_eq!(read(&fs, 0).unwrap().1, Replay::default());
    let wal = open(&fs, SyncMode::Always, 1 << 20, 1, None);
    drop(wal);
    let header_only = Replay {
        end: Some(HEADER_LEN as u64),
        ..Replay::default()
    };
    assert_eq!(read(&fs, 0).unwrap().1, header_only);
    let wal = open(&fs, SyncMode::Always, 1 << 20, 1, None);
    assert_eq!(write(&wal, &["a"]), vec![1]);
}

#[test]
fn a_failed_write_is_sticky_and_loses_nothing_acknowledged() {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 1 << 20, 1, None);
    write(&wal, &["a", "b"]);
    fs.fail_nth_write(1);
    let seq = wal.append(&rec("c")).unwrap();
    let err = wal.commit(seq).unwrap_err().to_string();
    assert!(
        err.contains("injected write failure") && err.contains("wal-"),
        "{err}"
    );
    // Sticky: no more appends or commits, and the reason is repeated.
    let again = wal.append(&rec("d")).unwrap_err().to_string();
    assert!(again.contains("injected write failure"), "{again}");
    assert!(wal.failure().is_some() && wal.is_failed());
    assert!(wal.sync().is_err());
    fs.crash();
    let (got, _) = read(&fs, 0).unwrap();
    assert_eq!(
        got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
}

/// A failed fsync, met by a commit (`always`) or by the flusher's sync (the mapped log of
/// `everysec`), is sticky: nothing is appended, committed or synced after it, and a crash keeps
/// only what the last good sync covered.
#[test]
fn a_failed_fsync_is_sticky_and_never_retried() {
    for sync in [SyncMode::Always, SyncMode::EverySec] {
        let fs = FaultFs::new();
        let wal = open(&fs, sync, 1 << 20, 1, None);
        write(&wal, &["a", "b"]);
        wal.sync().unwrap();
        let seq = wal.append(&rec("c")).unwrap();
        fs.fail_syncs(1);
        let err = match sync {
            SyncMode::Always => wal.commit(seq).unwrap_err(),
            _ => wal.sync().unwrap_err(),
        };
        assert!(err.to_string().contains("injected fsync failure"), "{err}");
        let syncs = fs.syncs();
        assert!(wal.append(&rec("d")).is_err());
        assert!(
            wal.commit(seq).is_err(),
            "a retried commit must not trust a later fsync"
        );
        assert!(wal.sync().is_err() && wal.rotate().is_err());
        assert_eq!(fs.syncs(), syncs, "no fsync after the failed one");
        fs.crash();
        let (got, _) = read(&fs, 0).unwrap();
        assert_eq!(
            got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
            ["a", "b"],
            "{sync:?}"
        );
    }
}

#[test]
fn a_full_disk_fails_cleanly_and_loses_nothing_acknowledged() {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 1 << 20, 1, None);
    write(&wal, &["a", "b"]);
    let file = fs.contents(&seg_path(1)).unwrap().len() as u64;
    assert_eq!(file, 1 << 20, "zero-filled up to the segment size");
    // Writes into the zero-filled space need no room; a record that passes the end of the
    // file gets room for part of it.
    fs.set_capacity(Some(file + 20));
    write(&wal, &["fits"]);
    let used = read_len(&fs) as u64;
    let big = Record {
        db: 0,
        op: Op::Set {
            key: Bytes::from(b"c".to_vec()),
            value: Value::Str(Bytes::from(vec![7; 1 << 20])),
            expire_at: None,
        },
    };
    let seq = wal.append(&big).unwrap();
    let err = wal.commit(seq).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("No space left on device") || msg.contains("os error 28"),
        "{msg}"
    );
    assert!(wal.append(&rec("d")).is_err());
    drop(wal);
    // Without a crash the torn record is still there; the opener cuts it.
    let (got, r) = read(&fs, 0).unwrap();
    assert_eq!(got.len(), 3);
    let torn = r.torn.unwrap();
    assert_eq!(torn.offset, used);
    cut_torn_tail(&fs, &dir(), &torn).unwrap();
    fs.set_capacity(None);
    let wal = open(&fs, SyncMode::Always, 1 << 20, 4, Some(3));
    write(&wal, &["c"]);
    fs.crash();
    let (got, _) = read(&fs, 0).unwrap();
    assert_eq!(
        got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
        ["a", "b", "fits", "c"]
    );
}

#[test]
fn a_crash_keeps_exactly_what_was_synced() {
    // Always: every acknowledged record survives.
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 200, 1, None);
    let ks = keys(30);
    write(&wal, &ks.iter().map(String::as_str).collect::<Vec<_>>());
    let unacked = wal.append(&rec("unacked")).unwrap();
    fs.crash();
    let (got, _) = read(&fs, 0).unwrap();
    assert_eq!(
        got.iter().map(|g| &g.1).collect::<Vec<_>>(),
        ks.iter().collect::<Vec<_>>()
    );
    assert!(got.iter().all(|g| g.0 != unacked));

    // EverySec: commit hands records to the OS only; the flusher's sync makes them durable.
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::EverySec, 1 << 20, 1, None);
    write(&wal, &["a", "b"]);
    wal.sync().unwrap();
    write(&wal, &["c"]);
    assert_eq!(
        frame_offsets(&fs.contents(&seg_path(1)).unwrap()).len(),
        3,
        "written to the OS"
    );
    fs.crash();
    let (got, _) = read(&fs, 0).unwrap();
    assert_eq!(
        got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
}

/// The logical end of the first segment: just past its last record.
fn read_len(fs: &FaultFs) -> usize {
    records_end(&fs.contents(&seg_path(1)).unwrap())
}

#[test]
fn concurrent_writers_share_syncs() {
    // Every round, each thread appends, all meet at a barrier, then all commit: whoever leads
    // covers every record appended so far, so a round costs one fdatasync however the
    // threads are scheduled (no timing involved).
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 1 << 20, 1, None);
    let threads = 8;
    let rounds = 50;
    let base = fs.syncs();
    let barrier = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (wal, barrier) = (wal.clone(), &barrier);
            s.spawn(move || {
                for i in 0..rounds {
                    let seq = wal.append(&rec(&format!("t{t}-{i}"))).unwrap();
                    barrier.wait();
                    wal.commit(seq).unwrap();
                    barrier.wait();
                }
            });
        }
    });
    let syncs = fs.syncs() - base;
    let appends = (threads * rounds) as u64;
    assert_eq!(wal.syncs(), syncs);
    assert_eq!(
        syncs, rounds as u64,
        "{syncs} syncs for {appends} appends in {rounds} rounds"
    );
    check_all_records(&fs, threads, rounds);
}

#[test]
fn free_running_writers_lose_and_reorder_nothing() {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 1 << 20, 1, None);
    let (threads, per) = (8, 200);
    run_writers(&wal, threads, per);
    assert!(wal.syncs() <= (threads * per) as u64);
    check_all_records(&fs, threads, per);
}

/// `threads` threads each append and commit `per` records `t<thread>-<i>`, free-running.
fn run_writers(wal: &Wal, threads: usize, per: usize) {
    std::thread::scope(|s| {
        for t in 0..threads {
            let wal = wal.clone();
            s.spawn(move || {
                for i in 0..per {
                    let seq = wal.append(&rec(&format!("t{t}-{i}"))).unwrap();
                    wal.commit(seq).unwrap();
                }
            });
        }
    });
}

/// After a crash, every record of every thread is there, numbered 1.., each thread's in order.
fn check_all_records(fs: &FaultFs, threads: usize, per: usize) {
    fs.crash();
    let (got, _) = read(fs, 0).unwrap();
    let total = (threads * per) as u64;
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    for t in 0..threads {
        let prefix = format!("t{t}-");
        let mine: Vec<&str> = got
            .iter()
            .map(|g| g.1.as_str())
            .filter(|k| k.starts_with(&prefix))
            .collect();
        let expected: Vec<String> = (0..per).map(|i| format!("t{t}-{i}")).collect();
        assert_eq!(mine, expected, "thread {t}'s records keep their order");
    }
}

#[test]
fn the_flusher_makes_everysec_writes_durable() {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::EverySec, 1 << 20, 1, None);
    let flusher = wal.start_flusher(Duration::from_millis(5));
    write(&wal, &["a", "b"]);
    let target = wal.next_seq() - 1;
    // Wait (boundedly) until the flusher has synced; not a timing assertion.
    for _ in 0..2000 {
        if wal.synced_for_tests() >= target {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    flusher.stop();
    fs.crash();
    let (got, _) = read(&fs, 0).unwrap();
    assert_eq!(got.len(), 2, "the flusher never synced");
}

#[test]
fn large_values_round_trip() {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::No, 1 << 20, 1, None);
    let big = Record {
        db: 7,
        op: Op::Set {
            key: Bytes::from(b"k".to_vec()),
            value: Value::Str(Bytes::from(vec![0xab; 3 << 20])),
            expire_at: Some(5),
        },
    };
    let seq = wal.append(&big).unwrap();
    wal.commit(seq).unwrap();
    let mut seen = None;
    replay(&fs, Path::new("/data"), 0, |_, r, _| {
        seen = Some(r.db);
        assert_eq!(r.op, big.op);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, Some(7));
}

/// The body of a group record holding `bodies`.
fn group_body(bodies: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    record::group_pieces(bodies, &mut |p| body.extend_from_slice(p));
    body
}

/// A log holding `a` (record 1), the group `b, c` (record 2) and, if `after`, `d` (record 3);
/// returns the fs and the frame offsets.
fn with_group(after: bool) -> (FaultFs, Vec<usize>) {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 1 << 20, 1, None);
    write(&wal, &["a"]);
    let seq = wal
        .append_bodies(&[encode_body(&rec("b")), encode_body(&rec("c"))])
        .unwrap();
    wal.commit(seq).unwrap();
    assert_eq!(seq, 2, "a group takes one sequence number");
    if after {
        write(&wal, &["d"]);
    }
    let offs = frame_offsets(&fs.contents(&seg_path(1)).unwrap());
    assert_eq!(offs.len(), 2 + usize::from(after), "a group is one frame");
    (fs, offs)
}

#[test]
fn a_group_is_one_record_replayed_in_order() {
    let (fs, _) = with_group(true);
    let (got, r) = read(&fs, 0).unwrap();
    let got: Vec<(u64, &str)> = got.iter().map(|(s, k)| (*s, k.as_str())).collect();
    assert_eq!(got, [(1, "a"), (2, "b"), (2, "c"), (3, "d")]);
    assert_eq!((r.applied, r.last_seq, r.torn), (3, Some(3), None));
    let c = check(&fs, &dir(), 0, false).unwrap();
    assert_eq!((c.records, c.seq_range, c.problem), (3, Some((1, 3)), None));
    // A snapshot covering the group skips all of it.
    let (got, _) = read(&fs, 2).unwrap();
    assert_eq!(got, [(3, "d".to_string())]);
    // One body is logged as that plain record, not as a group of one.
    let wal = open(&fs, SyncMode::Always, 1 << 20, 4, Some(3));
    let body = encode_body(&rec("e"));
    let seq = wal.append_bodies(std::slice::from_ref(&body)).unwrap();
    wal.commit(seq).unwrap();
    let end = read_len(&fs);
    let data = fs.contents(&seg_path(1)).unwrap();
    assert_eq!(&data[end - body.len()..end], body);
    assert_eq!(wal.append_bodies(&[]).unwrap(), 4, "nothing to append");
}

/// Cutting the file anywhere inside a group's frame loses the whole operation, never half:
/// replay stops before the group and reports it as a torn tail.
#[test]
fn a_torn_group_recovers_to_before_the_operation() {
    let (whole, offs) = with_group(false);
    let path = seg_path(1);
    let data = whole.contents(&path).unwrap();
    let data = &data[..records_end(&data)];
    for cut in offs[1] + 1..data.len() {
        let fs = FaultFs::new();
        fs.put(&path, data[..cut].to_vec());
        let (got, r) = read(&fs, 0).unwrap();
        assert_eq!(got, [(1, "a".to_string())], "cut at {cut}");
        let torn = r
            .torn
            .unwrap_or_else(|| panic!("cut at {cut}: no torn tail"));
        assert_eq!(torn.offset, offs[1] as u64, "cut at {cut}");
        cut_torn_tail(&fs, &dir(), &torn).unwrap();
        assert_eq!(fs.contents(&path).unwrap().len(), offs[1], "cut at {cut}");
        // Appends continue with the sequence number the lost group had.
        let wal = open(&fs, SyncMode::Always, 1 << 20, 2, Some(1));
        assert_eq!(write(&wal, &["next"]), [2], "cut at {cut}");
    }
}

/// A flipped bit anywhere in a group's frame (length, checksum, sequence number or any inner
/// record) is caught by its one checksum: corruption before a later record, a torn tail at
/// the end; either way none of the group's records is applied.
#[test]
fn a_bit_flip_in_a_group_is_detected() {
    let (clean, offs) = with_group(true);
    let path = seg_path(1);
    let data = clean.contents(&path).unwrap();
    for at in offs[1]..offs[2] {
        let fs = FaultFs::new();
        let mut bad = data.clone();
        bad[at] ^= 0x04;
        fs.put(&path, bad);
        let err = read(&fs, 0).unwrap_err();
        let PersistError::Corrupt { file, offset, .. } = &err else {
            panic!("flip at {at}: {err}")
        };
        assert_eq!(
            (file.as_str(), *offset),
            (path.to_str().unwrap(), offs[1] as u64),
            "flip at {at}"
        );
    }
    let (clean, offs) = with_group(false);
    let data = clean.contents(&path).unwrap();
    for at in offs[1]..records_end(&data) {
        let fs = FaultFs::new();
        let mut bad = data.clone();
        bad[at] ^= 0x40;
        fs.put(&path, bad);
        let (got, r) = read(&fs, 0).unwrap();
        assert_eq!(got, [(1, "a".to_string())], "flip at {at}");
        assert_eq!(
            r.torn.map(|t| t.offset),
            Some(offs[1] as u64),
            "flip at {at}"
        );
    }
}

/// A group whose checksum holds but whose contents are not plain records stops recovery with
/// an error naming the file and the group's offset, before any of its records is applied.
#[test]
fn a_group_that_nests_or_does_not_decode_is_corruption() {
    let b = |k: &str| encode_body(&rec(k));
    let cases = [
        (
            "nested group",
            group_body(&[b("x"), group_body(&[b("y"), b("z")])]),
            "inner record 1); groups never nest",
        ),
        (
            "inner garbage",
            group_body(&[b("x"), vec![0, 200]]),
            "inner record 1 does not decode",
        ),
        (
            "inner trailing bytes",
            group_body(&[b("x"), [b("y"), vec![0]].concat()]),
            "inner record 1 does not decode",
        ),
    ];
    for (name, body, expected) in cases {
        let fs = FaultFs::new();
        let wal = open(&fs, SyncMode::Always, 1 << 20, 1, None);
        write(&wal, &["a"]);
        // One body is framed as it is: here, a hand-made group.
        let seq = wal.append_bodies(&[body]).unwrap();
        wal.commit(seq).unwrap();
        let offs = frame_offsets(&fs.contents(&seg_path(1)).unwrap());
        let mut applied = Vec::new();
        let err = replay(&fs, &dir(), 0, |seq, _, _| {
            applied.push(seq);
            Ok(())
        })
        .unwrap_err();
        let PersistError::Corrupt {
            file,
            offset,
            reason,
            ..
        } = &err
        else {
            panic!("{name}: {err}")
        };
        assert_eq!(
            (file.as_str(), *offset),
            (seg_path(1).to_str().unwrap(), offs[1] as u64),
            "{name}"
        );
        assert!(
            reason.contains("record 2") && reason.contains(expected),
            "{name}: {reason}"
        );
        assert_eq!(applied, [1], "{name}: nothing of the group was applied");
    }
}

/// A log whose records are followed by zeros (the writer's preallocated space) reopens
/// cleanly and continues right after its last record, not at the end of the file.
#[test]
fn a_zero_tail_is_a_clean_end_and_appends_continue_at_the_last_record() {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 64 << 20, 1, None);
    write(&wal, &["a", "b"]);
    drop(wal);
    let file = fs.contents(&seg_path(1)).unwrap();
    let end = read_len(&fs);
    assert_eq!(
        file.len() as u64,
        PREALLOC_BYTES,
        "zero-filled one step ahead"
    );
    assert!(file[end..].iter().all(|&b| b == 0));
    let (got, r) = read(&fs, 0).unwrap();
    assert_eq!((got.len(), &r.torn, r.end), (2, &None, Some(end as u64)));
    assert_eq!(check(&fs, &dir(), 0, false).unwrap().problem, None);

    let wal = open(&fs, SyncMode::Always, 64 << 20, 3, Some(2));
    write(&wal, &["c"]);
    drop(wal);
    let file = fs.contents(&seg_path(1)).unwrap();
    assert_eq!(file.len() as u64, PREALLOC_BYTES, "written into the zeros");
    assert_eq!(frame_offsets(&file).len(), 3, "right after the last record");
    let wal = open(&fs, SyncMode::Always, 64 << 20, 4, Some(3));
    write(&wal, &["d"]);
    drop(wal);
    fs.crash();
    let (got, r) = read(&fs, 0).unwrap();
    assert_eq!(
        got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c", "d"]
    );
    assert_eq!(r.torn, None);
}

/// A crash keeps the synced records and loses exactly the unsynced ones written into the
/// zero-filled space (no torn-tail warning: the disk still holds zeros there).
#[test]
fn a_crash_loses_only_unsynced_writes_in_the_zero_filled_space() {
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::EverySec, 64 << 20, 1, None);
    write(&wal, &["a", "b"]);
    wal.sync().unwrap();
    let synced_end = read_len(&fs);
    write(&wal, &["c", "d"]); // handed to the OS, not synced
    assert_eq!(frame_offsets(&fs.contents(&seg_path(1)).unwrap()).len(), 4);
    fs.crash();
    let (got, r) = read(&fs, 0).unwrap();
    assert_eq!(
        got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!((r.torn, r.end), (None, Some(synced_end as u64)));
    let wal = open(&fs, SyncMode::Always, 64 << 20, 3, Some(2));
    assert_eq!(write(&wal, &["e"]), [3]);
    fs.crash();
    let (got, _) = read(&fs, 0).unwrap();
    assert_eq!(
        got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
        ["a", "b", "e"]
    );

    // A failed fsync of records written over zeros: the disk keeps the zeros (not the
    // records), even after a later fsync "succeeds".
    let fs = FaultFs::new();
    let wal = open(&fs, SyncMode::Always, 64 << 20, 1, None);
    write(&wal, &["a"]);
    fs.fail_syncs(1);
    let seq = wal.append(&rec("b")).unwrap();
    assert!(wal.commit(seq).is_err());
    drop(wal);
    let mut f = fs.open(&seg_path(1)).unwrap();
    f.sync_data().unwrap();
    fs.crash();
    let (got, r) = read(&fs, 0).unwrap();
    assert_eq!((got.len(), r.torn), (1, None));
}

/// Zeros between records are not a zero tail: a valid record after them makes it
/// corruption, named by file and offset.
#[test]
fn zeros_before_a_valid_record_are_corruption() {
    for zeros in [1, 8, 100] {
        let (fs, offs) = five();
        let path = seg_path(1);
        let mut data = fs.contents(&path).unwrap();
        let end = records_end(&data);
        // Records 4 and 5 move back by `zeros` bytes; the file keeps its zero tail.
        let tail = data[offs[3]..end].to_vec();
        data[offs[3]..offs[3] + zeros].fill(0);
        data[offs[3] + zeros..end + zeros].copy_from_slice(&tail);
        fs.put(&path, data);
        let err = read(&fs, 0).unwrap_err();
        let PersistError::Corrupt { file, offset, .. } = &err else {
            panic!("{zeros} zeros: {err}")
        };
        assert_eq!(
            (file.as_str(), *offset),
            (path.to_str().unwrap(), offs[3] as u64),
            "{zeros} zeros"
        );
        let c = check(&fs, &dir(), 0, false).unwrap();
        assert_eq!((c.records, c.dropped), (3, 2), "{zeros} zeros");
    }
}

/// Segments roll at `segment_bytes` of records; a sealed segment is cut to its records, the
/// active one keeps its zeros; a sealed segment left with a zero tail (a crash before the
/// cut) is still read cleanly.
#[test]
fn segments_roll_by_records_and_sealed_ones_hold_no_zeros() {
    let fs = FaultFs::new();
    let opts = WalOptions {
        sync: SyncMode::Always,
        segment_bytes: 1000,
        prealloc_bytes: 256,
        ..WalOptions::default()
    };
    let wal = open_with(&fs, opts.clone(), 1, None);
    let ks = keys(150);
    write(&wal, &ks.iter().map(String::as_str).collect::<Vec<_>>());
    drop(wal);
    let segs = segments(&fs, &dir()).unwrap();
    assert!(segs.len() >= 3, "{segs:?}");
    for (i, seg) in segs.iter().enumerate() {
        let data = fs.contents(&seg.path).unwrap();
        let end = records_end(&data);
        if i + 1 < segs.len() {
            assert_eq!(
                data.len(),
                end,
                "sealed segment {i} ends with its last record"
            );
            assert!(
                end >= 1000,
                "rolled at 1000 bytes of records, not before: {end}"
            );
        } else {
            // Zeros up to the next multiple of the step, but not past the segment size.
            assert_eq!(data.len(), ((end / 256 + 1) * 256).min(1000), "{end}");
            assert!(data.len() > end);
        }
    }
    fs.crash();
    let (got, r) = read(&fs, 0).unwrap();
    assert_eq!((got.len(), r.torn), (150, None));
    assert_eq!(check(&fs, &dir(), 0, false).unwrap().records, 150);

    let mut sealed = fs.contents(&segs[0].path).unwrap();
    sealed.extend_from_slice(&[0; 300]);
    fs.put(&segs[0].path, sealed);
    let (got, r) = read(&fs, 0).unwrap();
    assert_eq!((got.len(), r.torn), (150, None));
    let c = check(&fs, &dir(), 0, false).unwrap();
    assert_eq!(
        (c.records, c.seq_range, c.problem),
        (150, Some((1, 150)), None)
    );
    let wal = open_with(&fs, opts, 151, Some(150));
    assert_eq!(write(&wal, &["more"]), [151]);
    assert_eq!(read(&fs, 0).unwrap().0.len(), 151);
}

/// Options for a mapped log (everysec) with tiny segments and zero-fill steps, so that a few
/// hundred records map many windows and roll many segments.
fn mapped_opts(segment_bytes: u64, prealloc_bytes: u64) -> WalOptions {
    WalOptions {
        sync: SyncMode::EverySec,
        segment_bytes,
        prealloc_bytes,
        ..WalOptions::default()
    }
}

#[test]
fn a_mapped_log_writes_the_same_bytes_as_a_written_one() {
    let run = |map_tail: bool| {
        let fs = FaultFs::new();
        let opts = WalOptions {
            map_tail,
            ..mapped_opts(1000, 300)
        };
        let wal = open_with(&fs, opts, 1, None);
        assert_eq!(wal.is_mapped(), map_tail);
        let ks = keys(100);
        write(&wal, &ks.iter().map(String::as_str).collect::<Vec<_>>());
        let seq = wal
            .append_bodies(&[encode_body(&rec("g1")), encode_body(&rec("g2"))])
            .unwrap();
        wal.commit(seq).unwrap();
        wal.rotate().unwrap();
        write(&wal, &["after"]);
        wal.sync().unwrap();
        segments(&fs, &dir())
            .unwrap()
            .iter()
            .map(|seg| (seg.first_seq, fs.contents(&seg.path).unwrap()))
            .collect::<Vec<_>>()
    };
    let mapped = run(true);
    assert!(mapped.len() > 3, "several segments: {}", mapped.len());
    assert_eq!(mapped, run(false));
}

#[test]
fn a_mapped_log_loses_and_reorders_nothing_across_windows_and_rolls() {
    let fs = FaultFs::new();
    let wal = open_with(&fs, mapped_opts(4000, 512), 1, None);
    let (threads, per) = (8, 200);
    run_writers(&wal, threads, per);
    // Committed means handed to the OS: every record reads back before any sync...
    let (got, r) = read(&fs, 0).unwrap();
    assert_eq!((got.len(), r.torn), (threads * per, None));
    // ... and survives a machine crash after one.
    wal.sync().unwrap();
    let segs = segments(&fs, &dir()).unwrap();
    assert!(segs.len() > 10, "{}", segs.len());
    for seg in &segs[..segs.len() - 1] {
        let data = fs.contents(&seg.path).unwrap();
        assert_eq!(
            records_end(&data),
            data.len(),
            "sealed segments hold no zeros"
        );
    }
    check_all_records(&fs, threads, per);
}

#[test]
fn a_mapped_log_continues_a_reopened_segment() {
    let fs = FaultFs::new();
    let wal = open_with(&fs, mapped_opts(1 << 20, 4096), 1, None);
    write(&wal, &["a", "b"]);
    drop(wal);
    let wal = open_with(&fs, mapped_opts(1 << 20, 4096), 3, Some(2));
    assert_eq!(write(&wal, &["c"]), [3]);
    wal.sync().unwrap();
    fs.crash();
    let (got, r) = read(&fs, 0).unwrap();
    assert_eq!(
        got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert_eq!(r.torn, None);
    assert_eq!(segments(&fs, &dir()).unwrap().len(), 1);
}

#[test]
fn a_mapped_log_on_a_full_disk_fails_cleanly_and_loses_nothing_acknowledged() {
    let fs = FaultFs::new();
    let wal = open_with(&fs, mapped_opts(1 << 20, 1024), 1, None);
    let file = || fs.contents(&seg_path(1)).unwrap().len() as u64;
    write(&wal, &["a"]);
    assert_eq!(file(), 1024, "zero-filled one step ahead");
    // No room for more zeros: records go into the space already filled, then the next fill
    // fails and the log refuses writes.
    fs.set_capacity(Some(file()));
    let mut acked = vec!["a".to_string()];
    let err = loop {
        let key = format!("k{}", acked.len());
        match wal.append(&rec(&key)) {
            Ok(seq) => {
                wal.commit(seq).unwrap();
                acked.push(key);
            }
            Err(e) => break e.to_string(),
        }
        assert!(acked.len() < 1000, "the disk never filled up");
    };
    assert!(
        err.contains("os error 28") && err.contains("zeros"),
        "{err}"
    );
    assert!(acked.len() > 10, "{}", acked.len());
    assert!(wal.is_failed() && wal.commit(1).is_err() && wal.sync().is_err());
    assert!(wal.append(&rec("later")).is_err());
    drop(wal);
    // Everything acknowledged is in the file, which ends cleanly.
    let (got, r) = read(&fs, 0).unwrap();
    assert_eq!(got.into_iter().map(|g| g.1).collect::<Vec<_>>(), acked);
    assert_eq!(r.torn, None);
    fs.set_capacity(None);
    let wal = open_with(
        &fs,
        mapped_opts(1 << 20, 1024),
        acked.len() as u64 + 1,
        Some(acked.len() as u64),
    );
    write(&wal, &["again"]);
    wal.sync().unwrap();
    fs.crash();
    assert_eq!(read(&fs, 0).unwrap().0.len(), acked.len() + 1);
}

/// On real files: a record copied into the mapping is in the file without a write or sync call
/// of its own (only the zero fills and rolls make system calls), so it survives the process
/// (here: the log dropped without a sync), across windows and segment rolls.
#[test]
fn a_mapped_log_on_real_files_needs_no_write_per_record() {
    use crate::persist::fs::RealFs;
    let dir = std::env::temp_dir().join(format!("kv-wal-mapped-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let fs = Arc::new(RealFs);
    let opts = mapped_opts(16 << 10, 4096);
    let wal = Wal::open(fs.clone(), &dir, opts.clone(), 1, None, None).unwrap();
    assert!(wal.is_mapped());
    let n = 3000;
    for i in 0..n {
        let seq = wal.append(&rec(&format!("key{i}"))).unwrap();
        wal.commit(seq).unwrap();
    }
    assert_eq!(
        wal.syncs(),
        segments(&*fs, &dir).unwrap().len() as u64 - 1,
        "rolls only"
    );
    drop(wal);
    let mut seen = Vec::new();
    let r = replay(&*fs, &dir, 0, |seq, rec, _| {
        let Op::Set { key, .. } = rec.op else {
            panic!("unexpected op {:?}", rec.op)
        };
        seen.push((seq, String::from_utf8(key.into_vec()).unwrap()));
        Ok(())
    })
    .unwrap();
    assert!(segments(&*fs, &dir).unwrap().len() > 2);
    let want: Vec<(u64, String)> = (0..n).map(|i| (i as u64 + 1, format!("key{i}"))).collect();
    assert_eq!(seen, want);
    assert_eq!(r.torn, None);
    // And it continues where it stopped.
    let wal = Wal::open(fs.clone(), &dir, opts, n as u64 + 1, r.last_seq, r.end).unwrap();
    let seq = wal.append(&rec("more")).unwrap();
    assert_eq!(seq, n as u64 + 1);
    wal.sync().unwrap();
    drop(wal);
    let again = replay(&*fs, &dir, 0, |_, _, _| Ok(())).unwrap();
    assert_eq!(again.last_seq, Some(n as u64 + 1));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A disk too full for the next step of zeros still takes records until they no longer fit:
/// the failed fill is not a failed write, and nothing acknowledged is lost.
#[test]
fn a_failed_zero_fill_does_not_stop_the_log_early() {
    for sync in [SyncMode::Always, SyncMode::EverySec] {
        let fs = FaultFs::new();
        let opts = WalOptions {
            sync,
            segment_bytes: 1 << 20,
            prealloc_bytes: 1024,
            ..WalOptions::default()
        };
        let wal = open_with(&fs, opts, 1, None);
        write(&wal, &["a"]);
        let filled = fs.contents(&seg_path(1)).unwrap().len();
        assert_eq!(filled, 1024);
        // Room for the zeros already there and 300 bytes more: far less than the next step.
        fs.set_capacity(Some(filled as u64 + 300));
        let mut acked = vec!["a".to_string()];
        let err = loop {
            let key = format!("k{}", acked.len());
            match wal.append(&rec(&key)).and_then(|seq| wal.commit(seq)) {
                Ok(()) => acked.push(key),
                Err(e) => break e.to_string(),
            }
            assert!(acked.len() < 1000, "{sync:?}: the disk never filled up");
        };
        assert!(err.contains("os error 28"), "{sync:?}: {err}");
        assert!(wal.is_failed());
        let end = read_len(&fs);
        assert!(
            end > filled + 200,
            "{sync:?}: records stopped at {end}, {filled} bytes were zero-filled"
        );
        if sync == SyncMode::EverySec {
            // Acknowledged means handed to the OS: still there without a crash.
            drop(wal);
        } else {
            fs.crash();
        }
        let (got, _) = read(&fs, 0).unwrap();
        let got: Vec<String> = got.into_iter().map(|g| g.1).collect();
        assert_eq!(got[..acked.len()], acked[..], "{sync:?}");
    }
}
