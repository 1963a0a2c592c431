use std::path::PathBuf;
use std::sync::Arc;

use super::*;
use crate::persist::fs::{FaultFs, RealFs};
use crate::persist::record::{Bytes, Value};

fn dir() -> PathBuf {
    PathBuf::from("/data")
}

fn b(s: &str) -> Bytes<'static> {
    Bytes::from(s.as_bytes().to_vec())
}

fn sample() -> Vec<Entry<'static>> {
    vec![
        Entry {
            db: 0,
            key: b("str"),
            value: Value::Str(b("hello")),
            expire_at: None,
        },
        Entry {
            db: 0,
            key: b(""),
            value: Value::Str(b("")),
            expire_at: Some(1_800_000_000_000),
        },
        Entry {
            db: 1,
            key: b("list"),
            value: Value::List(vec![b("a"), b("b")]),
            expire_at: None,
        },
        Entry {
            db: 2,
            key: b("hash"),
            value: Value::Hash(vec![(b("f"), b("v"))]),
            expire_at: Some(1),
        },
        Entry {
            db: 3,
            key: b("set"),
            value: Value::Set(vec![b("m1"), b("m2")]),
            expire_at: None,
        },
        Entry {
            db: 15,
            key: Bytes::from(vec![0, 255, 10]),
            value: Value::ZSet(vec![(1.5, b("x")), (f64::INFINITY, b("y"))]),
            expire_at: None,
        },
    ]
}

/// Writes `entries` as the snapshot covering `seq`.
fn write(fs: &FaultFs, seq: u64, entries: &[Entry<'_>]) -> Written {
    let mut w = SnapshotWriter::create(Arc::new(fs.clone()), &dir(), seq, 16, 1234).unwrap();
    for e in entries {
        w.entry(e).unwrap();
    }
    w.finish().unwrap()
}

fn read_all(s: &Snapshot) -> Vec<Entry<'static>> {
    let mut out = Vec::new();
    s.for_each(|e, _| {
        out.push(Entry {
            db: e.db,
            key: Bytes::from(e.key.into_vec()),
            value: own(e.value),
            expire_at: e.expire_at,
        });
        Ok(())
    })
    .unwrap();
    out
}

fn own(v: Value<'_>) -> Value<'static> {
    let o = |x: Bytes<'_>| Bytes::from(x.into_vec());
    match v {
        Value::Str(s) => Value::Str(o(s)),
        Value::List(l) => Value::List(l.into_iter().map(o).collect()),
        Value::Hash(h) => Value::Hash(h.into_iter().map(|(f, v)| (o(f), o(v))).collect()),
        Value::Set(s) => Value::Set(s.into_iter().map(o).collect()),
        Value::ZSet(z) => Value::ZSet(z.into_iter().map(|(s, m)| (s, o(m))).collect()),
        Value::Stream(s) => Value::Stream(super::super::record::Stream {
            entries: s
                .entries
                .into_iter()
                .map(|e| super::super::record::StreamEntry {
                    id: e.id,
                    pairs: e.pairs.into_iter().map(|(f, v)| (o(f), o(v))).collect(),
                })
                .collect(),
            ..s
        }),
        Value::Library(c) => Value::Library(o(c)),
        Value::StreamGroups(groups) => Value::StreamGroups(
            groups
                .into_iter()
                .map(|g| super::super::record::StreamGroup {
                    name: o(g.name),
                    last_id: g.last_id,
                    entries_read: g.entries_read,
                    consumers: g
                        .consumers
                        .into_iter()
                        .map(|(n, seen, active)| (o(n), seen, active))
                        .collect(),
                    pending: g
                        .pending
                        .into_iter()
                        .map(|(id, c, t, n)| (id, o(c), t, n))
                        .collect(),
                })
                .collect(),
        ),
    }
}

#[test]
fn names_round_trip() {
    assert_eq!(snapshot_name(7), "snap-00000000000000000007.kvs");
    assert_eq!(parse_snapshot_name(&snapshot_name(7)), Some(7));
    assert_eq!(
        parse_snapshot_name("snap-00000000000000000007.kvs.tmp"),
        None
    );
    assert_eq!(parse_snapshot_name("wal-00000000000000000007.log"), None);
}

#[test]
fn entries_round_trip_with_header_fields() {
    let fs = FaultFs::new();
    let w = write(&fs, 42, &sample());
    assert_eq!((w.seq, w.entries), (42, 6));
    assert_eq!(w.path, dir().join("snap-00000000000000000042.kvs"));
    assert_eq!(w.bytes, fs.contents(&w.path).unwrap().len() as u64);
    let s = Snapshot::open(&fs, &w.path).unwrap();
    assert_eq!(
        (s.seq(), s.databases(), s.created_ms(), s.entries()),
        (42, 16, 1234, 6)
    );
    assert_eq!(read_all(&s), sample());
}

#[test]
fn pre_framed_blocks_and_an_empty_snapshot() {
    let fs = FaultFs::new();
    let mut block = Vec::new();
    let mut scratch = Vec::new();
    for e in sample() {
        encode_entry(&e, &mut scratch, &mut block, frame::MAX_PAYLOAD).unwrap();
    }
    let mut w = SnapshotWriter::create(Arc::new(fs.clone()), &dir(), 9, 16, 0).unwrap();
    w.block(&block, 6).unwrap();
    w.block(&[], 0).unwrap();
    let written = w.finish().unwrap();
    assert_eq!(
        read_all(&Snapshot::open(&fs, &written.path).unwrap()),
        sample()
    );

    let empty = write(&fs, 10, &[]);
    let s = Snapshot::open(&fs, &empty.path).unwrap();
    assert_eq!((s.entries(), read_all(&s).len()), (0, 0));
    assert_eq!(
        fs.contents(&empty.path).unwrap().len(),
        HEADER_LEN + FOOTER_LEN
    );
}

#[test]
fn large_snapshots_stream_through_several_flushes() {
    let fs = FaultFs::new();
    let value = vec![7u8; 1000];
    let mut w = SnapshotWriter::create(Arc::new(fs.clone()), &dir(), 1, 1, 0).unwrap();
    for i in 0..3000u32 {
        let key = i.to_le_bytes();
        let e = Entry {
            db: 0,
            key: Bytes::from_slice(&key),
            value: Value::Str(Bytes::from_slice(&value)),
            expire_at: None,
        };
        w.entry(&e).unwrap();
    }
    let written = w.finish().unwrap();
    assert!(written.bytes > 2 * FLUSH_AT as u64);
    let s = Snapshot::open(&fs, &written.path).unwrap();
    let mut n = 0u32;
    s.for_each(|e, _| {
        assert_eq!(e.key.as_slice(), n.to_le_bytes());
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 3000);
}

#[test]
fn every_kind_of_damage_is_detected() {
    let fix_header_crc = |d: &mut Vec<u8>| {
        let crc = crc32fast::hash(&d[0..32]);
        d[32..36].copy_from_slice(&crc.to_le_bytes());
    };
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Damage, &str)> = vec![
        ("empty file", Box::new(|d| d.clear()), "truncated (0 bytes)"),
        (
            "cut in half",
            Box::new(|d| d.truncate(d.len() / 2)),
            "footer is missing",
        ),
        (
            "last byte missing",
            Box::new(|d| d.truncate(d.len() - 1)),
            "footer is missing",
        ),
        (
            "header only",
            Box::new(|d| d.truncate(HEADER_LEN)),
            "truncated",
        ),
        ("wrong magic", Box::new(|d| d[1] = b'x'), "magic"),
        (
            "wrong version",
            Box::new(move |d| {
                d[8] = 9;
                fix_header_crc(d);
            }),
            "version 9 is not supported",
        ),
        (
            "bit flip in the header",
            Box::new(|d| d[17] ^= 1),
            "header failed its checksum",
        ),
        (
            "bit flip in an entry",
            Box::new(|d| d[HEADER_LEN + 12] ^= 0x20),
            "contents failed",
        ),
        (
            "bit flip in an entry length",
            Box::new(|d| d[HEADER_LEN] ^= 0x01),
            "contents failed",
        ),
        (
            "bit flip in the footer count",
            Box::new(|d| {
                let at = d.len() - FOOTER_LEN + 8;
                d[at] ^= 1;
            }),
            "footer failed its checksum",
        ),
        (
            "garbage appended",
            Box::new(|d| d.extend_from_slice(b"junk")),
            "footer is missing",
        ),
    ];
    for (name, damage, expected) in cases {
        let fs = FaultFs::new();
        let w = write(&fs, 5, &sample());
        let mut data = fs.contents(&w.path).unwrap();
        damage(&mut data);
        fs.put(&w.path, data);
        let err = Snapshot::open(&fs, &w.path).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, PersistError::Corrupt { .. }), "{name}: {msg}");
        assert!(
            msg.contains(expected) && msg.contains("snap-00000000000000000005.kvs"),
            "{name}: {msg}"
        );
    }
}

#[test]
fn a_bit_flip_names_the_damaged_entry() {
    let fs = FaultFs::new();
    let w = write(&fs, 5, &sample());
    let mut data = fs.contents(&w.path).unwrap();
    let (_, second) = frame::read(&data, HEADER_LEN, 1).unwrap();
    data[second + 9] ^= 0x40;
    fs.put(&w.path, data);
    let Err(PersistError::Corrupt { offset, .. }) = Snapshot::open(&fs, &w.path) else {
        panic!()
    };
    assert_eq!(offset, second as u64);
}

#[test]
fn a_damaged_newest_snapshot_falls_back_to_an_older_one() {
    let fs = FaultFs::new();
    write(&fs, 3, &sample()[..2]);
    let newest = write(&fs, 8, &sample());
    let mut data = fs.contents(&newest.path).unwrap();
    data.truncate(data.len() - 5);
    fs.put(&newest.path, data);
    let (snap, warnings) = newest_valid(&fs, &dir()).unwrap();
    let snap = snap.unwrap();
    assert_eq!(snap.seq(), 3);
    assert_eq!(read_all(&snap), sample()[..2].to_vec());
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("snap-00000000000000000008.kvs"),
        "{warnings:?}"
    );

    // Nothing valid at all: no snapshot, and a warning per damaged file.
    fs.put(snap.path(), b"KVSNAPSH".to_vec());
    let (none, warnings) = newest_valid(&fs, &dir()).unwrap();
    assert!(none.is_none());
    assert_eq!(warnings.len(), 2);
}

#[test]
fn a_crash_before_the_rename_leaves_no_snapshot_and_after_it_a_whole_one() {
    let fs = FaultFs::new();
    let first = write(&fs, 1, &sample()[..1]);
    let mut w = SnapshotWriter::create(Arc::new(fs.clone()), &dir(), 2, 16, 0).unwrap();
    for e in sample() {
        w.entry(&e).unwrap();
    }
    fs.crash(); // mid-write
    drop(w);
    let (snap, warnings) = newest_valid(&fs, &dir()).unwrap();
    assert_eq!((snap.unwrap().seq(), warnings.len()), (1, 0));
    assert_eq!(fs.list(&dir()).unwrap(), vec![snapshot_name(1)]);

    let second = write(&fs, 2, &sample());
    fs.crash(); // after finish: the file and its name are durable
    let s = Snapshot::open(&fs, &second.path).unwrap();
    assert_eq!(read_all(&s), sample());
    assert!(fs.contents(&first.path).is_some());
}

#[test]
fn failed_writes_and_syncs_leave_no_snapshot_behind() {
    for (name, fault) in [("write", 0), ("fsync", 1), ("full disk", 2)] {
        let fs = FaultFs::new();
        let old = write(&fs, 1, &sample()[..1]);
        let mut w = SnapshotWriter::create(Arc::new(fs.clone()), &dir(), 2, 16, 0).unwrap();
        for e in sample() {
            w.entry(&e).unwrap();
        }
        match fault {
            0 => fs.fail_nth_write(1),
            1 => fs.fail_syncs(1),
            _ => fs.set_capacity(Some(fs.contents(&old.path).unwrap().len() as u64 + 30)),
        }
        let err = w.finish().unwrap_err().to_string();
        assert!(
            err.contains("snap-00000000000000000002.kvs.tmp"),
            "{name}: {err}"
        );
        assert_eq!(fs.list(&dir()).unwrap(), vec![snapshot_name(1)], "{name}");
        fs.set_capacity(None);
        let (snap, _) = newest_valid(&fs, &dir()).unwrap();
        assert_eq!(snap.unwrap().seq(), 1, "{name}");
    }
}

#[test]
fn prune_keeps_the_newest_and_removes_temporaries() {
    let fs = FaultFs::new();
    for seq in [1, 5, 9] {
        write(&fs, seq, &sample()[..1]);
    }
    fs.put(
        &dir().join("snap-00000000000000000011.kvs.tmp"),
        b"partial".to_vec(),
    );
    fs.put(&dir().join("wal-00000000000000000001.log"), Vec::new());
    assert_eq!(prune(&fs, &dir(), 2).unwrap(), Some(5));
    assert_eq!(
        fs.list(&dir()).unwrap(),
        vec![
            snapshot_name(5),
            snapshot_name(9),
            "wal-00000000000000000001.log".to_string()
        ]
    );
    assert_eq!(
        prune(&fs, &dir(), 5).unwrap(),
        None,
        "fewer than 5 kept: the log stays whole"
    );
    assert_eq!(prune(&FaultFs::new(), &dir(), 2).unwrap(), None);
}

#[test]
fn the_real_file_system_maps_snapshots() {
    let dir = std::env::temp_dir().join(format!("kv-snap-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fs: Arc<dyn FileSystem> = Arc::new(RealFs);
    let mut w = SnapshotWriter::create(fs.clone(), &dir, 77, 16, 5).unwrap();
    for e in sample() {
        w.entry(&e).unwrap();
    }
    let written = w.finish().unwrap();
    let s = Snapshot::open(&*fs, &written.path).unwrap();
    assert_eq!(read_all(&s), sample());
    assert_eq!(
        snapshots(&*fs, &dir).unwrap(),
        vec![(77, written.path.clone())]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Version 1 files (written before containers could be split over frames) still load; a
/// version from the future is refused by name.
#[test]
fn version_1_snapshots_still_load_and_unknown_versions_are_refused() {
    let fs = FaultFs::new();
    let w = write(&fs, 5, &sample());
    let set_version = |v: u32| {
        let mut data = fs.contents(&w.path).unwrap();
        data[8..12].copy_from_slice(&v.to_le_bytes());
        let crc = crc32fast::hash(&data[0..32]);
        data[32..36].copy_from_slice(&crc.to_le_bytes());
        // The footer's CRC covers the header too.
        let foot = data.len() - FOOTER_LEN;
        let body_crc = crc32fast::hash(&data[..foot]);
        data[foot + 16..foot + 20].copy_from_slice(&body_crc.to_le_bytes());
        let fcrc = crc32fast::hash(&data[foot..foot + 20]);
        data[foot + 20..foot + 24].copy_from_slice(&fcrc.to_le_bytes());
        fs.put(&w.path, data);
    };
    set_version(1);
    assert_eq!(read_all(&Snapshot::open(&fs, &w.path).unwrap()), sample());
    set_version(3);
    let err = Snapshot::open(&fs, &w.path).unwrap_err().to_string();
    assert!(err.contains("version 3 is not supported"), "{err}");
}

/// Consecutive frames of one key are the parts of one value: the reader says which frames
/// continue, and the footer counts keys.
#[test]
fn consecutive_frames_of_a_key_are_one_entry() {
    let fs = FaultFs::new();
    let part = |members: &[&str]| Entry {
        db: 1,
        key: b("big"),
        value: Value::Set(members.iter().map(|m| b(m)).collect()),
        expire_at: Some(7),
    };
    let mut w = SnapshotWriter::create(Arc::new(fs.clone()), &dir(), 3, 16, 0).unwrap();
    let mut block = Vec::new();
    for e in [part(&["a", "b"]), part(&["c"]), part(&["d"])] {
        encode_entry(&e, &mut Vec::new(), &mut block, frame::MAX_PAYLOAD).unwrap();
    }
    let other = Entry {
        db: 2,
        key: b("big"),
        value: Value::Str(b("x")),
        expire_at: None,
    };
    encode_entry(&other, &mut Vec::new(), &mut block, frame::MAX_PAYLOAD).unwrap();
    w.block(&block, 2).unwrap();
    let written = w.finish().unwrap();
    let s = Snapshot::open(&fs, &written.path).unwrap();
    assert_eq!(s.entries(), 2);
    let mut seen = Vec::new();
    s.for_each(|e, continued| {
        seen.push((e.db, continued));
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, [(1, false), (1, true), (1, true), (2, false)]);
}
