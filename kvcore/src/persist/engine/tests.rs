//! The engine against a store, through the fault file system: journal → log → recovery, and
//! snapshot → load, for every kind of effect.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::clock::ManualClock;
use crate::entry::{Entry as MemEntry, Value as MemValue};
use crate::persist::fs::FaultFs;
use crate::{Options, Store};

const T0: u64 = 1_700_000_000_000;

thread_local! {
    /// The operation this test thread is running: the engine's tests drive it directly, one
    /// operation per acknowledgement, as `Inner::durable` does for the store.
    static LOGGED: Logged = Logged::default();
}

/// Drives the engine as the store does, with this thread's current operation.
trait Drive {
    fn journal_op(&self, effect: &Effect<'_>);
    /// Acknowledges the current operation and starts the next.
    fn ack_op(&self) -> Result<()>;
    fn begin_op(&self);
    fn end_op(&self);
}

impl Drive for Persist {
    fn journal_op(&self, effect: &Effect<'_>) {
        LOGGED.with(|l| self.journal(effect, l));
    }

    fn ack_op(&self) -> Result<()> {
        LOGGED.with(|l| {
            let res = self.ack(l, None);
            l.seq.set(0);
            res
        })
    }

    fn begin_op(&self) {
        LOGGED.with(|l| self.begin_group(l));
    }

    fn end_op(&self) {
        LOGGED.with(|l| self.end_group(l));
    }
}

/// What PEXPIRETIME reports for a deadline of `ms` since the Unix epoch.
fn expires_at(ms: u64) -> crate::ExpireTime {
    crate::ExpireTime::ExpiresAt(std::time::Duration::from_millis(ms))
}

fn dir() -> PathBuf {
    PathBuf::from("/data")
}

struct Opened {
    kv: Kv,
    persist: Persist,
    report: Recovery,
}

fn open(fs: &FaultFs, clock: &ManualClock, sync: SyncMode) -> Result<Opened> {
    let rc = Arc::new(RecoveryClock::new(Arc::new(clock.clone())));
    let kv = Kv::in_memory(Options::default().shards(4).databases(4).clock(rc.clone()));
    let config = Config {
        sync,
        segment_bytes: 4096,
        ..Config::default()
    };
    let mut lines = Vec::new();
    let (persist, report) = recover(Arc::new(fs.clone()), &dir(), &kv, rc, config, &mut |l| {
        lines.push(l.to_string())
    })?;
    Ok(Opened {
        kv,
        persist,
        report,
    })
}

fn put(p: &Persist, db: usize, key: &str, value: &str, expire_at: Option<u64>) {
    let entry = MemEntry::with_expiry(MemValue::string(value.as_bytes()), 0, expire_at);
    p.journal_op(&Effect::Put {
        db,
        key: key.as_bytes(),
        entry: &entry,
    });
}

fn get(kv: &Kv, db: usize, key: &str) -> Option<String> {
    kv.db(db)
        .unwrap()
        .get(key)
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap())
}

/// Journals one of every effect and acknowledges each.
fn journal_everything(p: &Persist) {
    type Step = Box<dyn Fn(&Persist)>;
    let steps: Vec<Step> = vec![
        Box::new(|p| put(p, 0, "a", "1", None)),
        Box::new(|p| put(p, 0, "b", "2", Some(T0 + 60_000))),
        Box::new(|p| {
            p.journal_op(&Effect::Append {
                db: 0,
                key: b"a",
                data: b"23",
            })
        }),
        Box::new(|p| {
            p.journal_op(&Effect::SetRange {
                db: 0,
                key: b"a",
                offset: 5,
                data: b"x",
            })
        }),
        Box::new(|p| {
            p.journal_op(&Effect::Expire {
                db: 0,
                key: b"a",
                at: Some(T0 + 5_000),
            })
        }),
        Box::new(|p| {
            p.journal_op(&Effect::Expire {
                db: 0,
                key: b"a",
                at: None,
            })
        }),
        Box::new(|p| {
            p.journal_op(&Effect::Rename {
                db: 0,
                src: b"a",
                dst: b"c",
            })
        }),
        Box::new(|p| {
            p.journal_op(&Effect::Copy {
                src_db: 0,
                src: b"b",
                dst_db: 1,
                dst: b"b1",
            })
        }),
        Box::new(|p| {
            p.journal_op(&Effect::MSet {
                db: 2,
                pairs: &[(b"m1".as_slice(), b"x".as_slice()), (b"m2", b"y")],
            })
        }),
        Box::new(|p| p.journal_op(&Effect::Del { db: 2, key: b"m1" })),
        Box::new(|p| put(p, 3, "gone", "v", None)),
        Box::new(|p| p.journal_op(&Effect::FlushDb { db: 3 })),
        Box::new(|p| p.journal_op(&Effect::SwapDb { a: 1, b: 2 })),
        Box::new(|p| put(p, 0, "expired", "v", Some(T0 - 1))),
    ];
    for step in steps {
        step(p);
        p.ack_op().unwrap();
    }
}

fn check_everything(kv: &Kv) {
    assert_eq!(get(kv, 0, "a"), None);
    assert_eq!(get(kv, 0, "c").as_deref(), Some("123\0\0x"));
    assert_eq!(kv.db(0).unwrap().pttl("c").unwrap(), crate::Ttl::Persistent);
    assert_eq!(get(kv, 0, "b").as_deref(), Some("2"));
    assert_eq!(
        kv.db(0).unwrap().pexpiretime("b").unwrap(),
        expires_at(T0 + 60_000)
    );
    // SWAPDB 1 2: the copy went to db 1, the MSET to db 2, then they swapped.
    assert_eq!(get(kv, 2, "b1").as_deref(), Some("2"));
    assert_eq!(
        kv.db(2).unwrap().pexpiretime("b1").unwrap(),
        expires_at(T0 + 60_000)
    );
    assert_eq!(get(kv, 1, "m2").as_deref(), Some("y"));
    assert_eq!(get(kv, 1, "m1"), None);
    assert_eq!(kv.db(3).unwrap().dbsize().unwrap(), 0);
    assert_eq!(
        get(kv, 0, "expired"),
        None,
        "a key past its deadline stays gone"
    );
}

#[test]
fn an_empty_directory_opens_empty() {
    let fs = FaultFs::new();
    let o = open(&fs, &ManualClock::new(T0), SyncMode::Always).unwrap();
    assert_eq!(o.report, Recovery::default());
    assert_eq!(o.kv.db(0).unwrap().dbsize().unwrap(), 0);
    assert_eq!(o.persist.wal().next_seq(), 1);
}

#[test]
fn every_effect_survives_a_crash_through_the_log() {
    let fs = FaultFs::new();
    let clock = ManualClock::new(T0);
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    journal_everything(&o.persist);
    drop(o);
    fs.crash();
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    assert_eq!(o.report.replayed, 14);
    assert!(o.report.warnings.is_empty(), "{:?}", o.report.warnings);
    check_everything(&o.kv);
    // The log continues where it ended.
    assert_eq!(o.persist.wal().next_seq(), 15);
}

#[test]
fn a_snapshot_captures_the_store_and_the_log_resumes_after_it() {
    let fs = FaultFs::new();
    let clock = ManualClock::new(T0);
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    // Build the state in memory and in the log, as a wired store would.
    journal_everything(&o.persist);
    drop(o);
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    let stats = o.persist.snapshot(&o.kv.inner).unwrap();
    assert_eq!(stats.seq, 14);
    // 4 live keys and the expired one (a snapshot keeps deadlines; loading drops it).
    assert_eq!(stats.entries, 5);
    assert_eq!(o.persist.last_save_ms(), Some(T0));
    assert_eq!(o.persist.dirty(), 0);
    put(&o.persist, 0, "after", "snap", None);
    o.persist.ack_op().unwrap();
    drop(o);
    fs.crash();
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    let (seq, loaded, _expired) = o.report.snapshot.unwrap();
    assert_eq!((seq, loaded), (14, 4));
    assert_eq!(
        o.report.replayed, 1,
        "only the record after the snapshot is replayed"
    );
    check_everything(&o.kv);
    assert_eq!(get(&o.kv, 0, "after").as_deref(), Some("snap"));
}

#[test]
fn keys_that_expire_while_down_are_gone_after_recovery() {
    let fs = FaultFs::new();
    let clock = ManualClock::new(T0);
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    put(&o.persist, 0, "short", "v", Some(T0 + 1_000));
    put(&o.persist, 0, "long", "v", Some(T0 + 100_000));
    o.persist.ack_op().unwrap();
    drop(o);
    clock.advance(10_000);
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    assert_eq!(get(&o.kv, 0, "short"), None);
    assert_eq!(
        o.kv.db(0).unwrap().pttl("long").unwrap(),
        crate::Ttl::ExpiresIn(std::time::Duration::from_millis(90_000)),
        "the TTL kept counting while down"
    );
}

#[test]
fn snapshots_trim_the_log_and_a_damaged_newest_falls_back() {
    let fs = FaultFs::new();
    let clock = ManualClock::new(T0);
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    for round in 0..3 {
        for i in 0..50 {
            put(
                &o.persist,
                0,
                &format!("k{round}-{i}"),
                &"x".repeat(40),
                None,
            );
            o.persist.ack_op().unwrap();
        }
        // Apply to memory as the wired store would, then snapshot.
        drop_in_memory(&o.kv, round);
        o.persist.snapshot(&o.kv.inner).unwrap();
    }
    let names = fs.list(&dir()).unwrap();
    let snaps: Vec<_> = names.iter().filter(|n| n.ends_with(".kvs")).collect();
    assert_eq!(snaps.len(), 2, "{names:?}");
    let first_seg = wal::segments(&fs, &dir()).unwrap()[0].first_seq;
    assert!(
        first_seg > 1,
        "segments covered by the older snapshot were removed: {names:?}"
    );
    // Damage the newest snapshot: the older one plus the log still give everything.
    let newest = dir().join(snaps[1]);
    let mut data = fs.contents(&newest).unwrap();
    data[60] ^= 0xff;
    fs.put(&newest, data);
    drop(o);
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    assert_eq!(o.report.warnings.len(), 1, "{:?}", o.report.warnings);
    assert!(o.report.warnings[0].contains("skipping damaged snapshot"));
    assert_eq!(o.kv.db(0).unwrap().dbsize().unwrap(), 150);
}

/// Mirrors into memory what `snapshots_trim_the_log...` journaled in `round`.
fn drop_in_memory(kv: &Kv, round: usize) {
    let db = kv.db(0).unwrap();
    for i in 0..50 {
        db.set(format!("k{round}-{i}"), "x".repeat(40)).unwrap();
    }
}

#[test]
fn a_torn_tail_is_cut_with_a_warning_and_corruption_refuses_to_open() {
    let fs = FaultFs::new();
    let clock = ManualClock::new(T0);
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    for i in 0..5 {
        put(&o.persist, 0, &format!("k{i}"), "v", None);
        o.persist.ack_op().unwrap();
    }
    drop(o);
    let seg = wal::segments(&fs, &dir()).unwrap().pop().unwrap().path;
    let good = fs.contents(&seg).unwrap();

    // The end of the last record never reached the disk; the zero-filled space follows.
    let end = wal::records_end(&good);
    assert!(end < good.len(), "the segment has a zero tail");
    let mut torn = good.clone();
    torn[end - 3..end].fill(0);
    fs.put(&seg, torn);
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    assert_eq!(o.kv.db(0).unwrap().dbsize().unwrap(), 4);
    assert_eq!(o.report.warnings.len(), 1);
    assert!(o.report.warnings[0].contains("torn tail") && o.report.warnings[0].contains("offset"));
    drop(o);

    let mut flipped = good.clone();
    flipped[wal::HEADER_LEN + 20] ^= 1;
    fs.put(&seg, flipped);
    let err = open(&fs, &clock, SyncMode::Always)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("wal-") && err.contains("--repair"), "{err}");
}

#[test]
fn a_failed_log_refuses_writes_and_acknowledges_nothing() {
    let fs = FaultFs::new();
    let clock = ManualClock::new(T0);
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    put(&o.persist, 0, "a", "1", None);
    o.persist.ack_op().unwrap();
    fs.fail_syncs(1);
    put(&o.persist, 0, "b", "2", None);
    let err = o.persist.ack_op().unwrap_err().to_string();
    assert!(
        err.contains("writes are refused") && err.contains("fsync"),
        "{err}"
    );
    assert!(o.persist.check_writable().is_err());
    drop(o);
    fs.crash();
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    assert_eq!(get(&o.kv, 0, "a").as_deref(), Some("1"));
    assert_eq!(get(&o.kv, 0, "b"), None);
    assert!(
        o.persist.check_writable().is_ok(),
        "reopening clears the failure"
    );
}

#[test]
fn save_rules() {
    let fs = FaultFs::new();
    let clock = ManualClock::new(T0);
    let o = open(&fs, &clock, SyncMode::No).unwrap();
    o.persist.set_save_rules(&[(60, 3), (3600, 1)]);
    o.persist.rules_since_ms.store(T0, Ordering::Relaxed);
    let cases = [
        (0, 0, false),
        (0, 5, false),
        (59_999, 5, false),
        (60_000, 2, false),
        (60_000, 3, true),
        (3_600_000, 1, true),
        (3_600_000, 0, false),
    ];
    for (after, dirty, due) in cases {
        o.persist.dirty.store(dirty, Ordering::Relaxed);
        assert_eq!(
            o.persist.save_due(T0 + after),
            due,
            "after {after} ms with {dirty} changes"
        );
    }
}

/// Regression: with no snapshot on disk the save rules counted from the Unix epoch, so
/// `save 3600 1` snapshotted a freshly opened store right after its first write. Redis
/// considers the data saved at startup; so do we.
#[test]
fn r_save_rules_count_from_the_open_not_the_epoch() {
    let fs = FaultFs::new();
    let clock = ManualClock::new(T0);
    let mut o = open(&fs, &clock, SyncMode::No).unwrap();
    o.persist.config.save = vec![(3600, 1)];
    put(&o.persist, 0, "a", "1", None);
    assert_eq!(o.persist.dirty(), 1);
    assert!(!o.persist.save_due(T0 + 1));
    assert!(!o.persist.save_due(T0 + 3_599_999));
    assert!(o.persist.save_due(T0 + 3_600_000));
}

#[test]
fn recovery_with_the_real_file_system() {
    let dir = std::env::temp_dir().join(format!("kv-engine-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let clock = ManualClock::new(T0);
    let open_real = |dir: &Path| {
        let rc = Arc::new(RecoveryClock::new(Arc::new(clock.clone())));
        let kv = Kv::in_memory(Options::default().shards(4).databases(4).clock(rc.clone()));
        let fs: Arc<dyn FileSystem> = Arc::new(super::super::fs::RealFs);
        let (p, r) = recover(
            fs,
            dir,
            &kv,
            rc,
            Config {
                sync: SyncMode::Always,
                ..Config::default()
            },
            &mut |_| {},
        )
        .unwrap();
        (kv, p, r)
    };
    let (_, p, _) = open_real(&dir);
    journal_everything(&p);
    drop(p);
    let (kv, _, r) = open_real(&dir);
    assert_eq!(r.replayed, 14);
    check_everything(&kv);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Regression: a multi-key operation's records (LMOVE's pop and push, RENAME's delete and
/// put) were appended one by one, so a group commit run by another writer in between could
/// make the first durable without the second, and a crash then kept half of the operation
/// (found by tests/e2e/crash_types.rs: an LMOVE's pop survived kill -9, its push did not).
#[test]
fn r_a_crash_never_keeps_part_of_a_multi_key_operation() {
    let fs = FaultFs::new();
    let clock = ManualClock::new(T0);
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    o.persist.begin_op();
    put(&o.persist, 0, "a", "1", None);
    // Another writer commits everything in the log while the operation is half done.
    std::thread::scope(|s| {
        s.spawn(|| {
            put(&o.persist, 0, "other", "x", None);
            o.persist.ack_op().unwrap();
        });
    });
    put(&o.persist, 0, "b", "2", None);
    // The process dies before the operation ends.
    drop(o);
    fs.crash();
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    assert_eq!(get(&o.kv, 0, "other").as_deref(), Some("x"));
    assert_eq!((get(&o.kv, 0, "a"), get(&o.kv, 0, "b")), (None, None));
    // A finished operation is logged whole, as one record: one sequence number, one frame.
    let before = o.persist.wal().next_seq();
    o.persist.begin_op();
    put(&o.persist, 0, "a", "1", None);
    put(&o.persist, 0, "b", "2", None);
    o.persist.end_op();
    o.persist.ack_op().unwrap();
    assert_eq!(o.persist.wal().next_seq(), before + 1);
    drop(o);
    fs.crash();
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    assert_eq!(get(&o.kv, 0, "a").as_deref(), Some("1"));
    assert_eq!(get(&o.kv, 0, "b").as_deref(), Some("2"));
    assert_eq!(o.report.replayed, 2, "\"other\" and the group");
    // A group of one effect is that plain record.
    o.persist.begin_op();
    put(&o.persist, 0, "c", "3", None);
    o.persist.end_op();
    o.persist.ack_op().unwrap();
    let seg = wal::segments(&fs, &dir()).unwrap().pop().unwrap();
    let data = fs.contents(&seg.path).unwrap();
    let end = wal::records_end(&data);
    let body = wal::encode_body(&record(&Effect::Put {
        db: 0,
        key: b"c",
        entry: &MemEntry::new(MemValue::string(b"3"), 0),
    }));
    assert_eq!(&data[end - body.len()..end], body);
}

/// A write torn inside a multi-key operation's record (the process or the machine died while
/// the frame was half on disk) loses the whole operation, never a prefix of it.
#[test]
fn a_torn_multi_key_record_loses_the_whole_operation() {
    let fs = FaultFs::new();
    let clock = ManualClock::new(T0);
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    put(&o.persist, 0, "a", "0", None);
    o.persist.ack_op().unwrap();
    let seg = wal::segments(&fs, &dir()).unwrap().pop().unwrap();
    let before = wal::records_end(&fs.contents(&seg.path).unwrap());
    o.persist.begin_op();
    put(&o.persist, 0, "a", "1", None);
    put(&o.persist, 0, "b", "2", None);
    o.persist.end_op();
    o.persist.ack_op().unwrap();
    drop(o);
    let whole = fs.contents(&seg.path).unwrap();
    let whole = whole[..wal::records_end(&whole)].to_vec();
    for cut in [
        before + 1,
        before + 12,
        (before + whole.len()) / 2,
        whole.len() - 1,
    ] {
        fs.put(&seg.path, whole[..cut].to_vec());
        let o = open(&fs, &clock, SyncMode::Always).unwrap();
        assert_eq!(
            (get(&o.kv, 0, "a").as_deref(), get(&o.kv, 0, "b")),
            (Some("0"), None),
            "cut at {cut}"
        );
        assert!(
            o.report.warnings.iter().any(|w| w.contains("torn tail")),
            "cut at {cut}: {:?}",
            o.report.warnings
        );
        drop(o);
        assert_eq!(
            fs.contents(&seg.path).unwrap().len(),
            before,
            "cut at {cut}"
        );
    }
}

/// The store refuses writes too large to log before they change memory; a record that still
/// reaches the log too large (a bug in that check) must not be acknowledged: it fails the log,
/// as a failed write does, and a restart brings back only what was acknowledged.
#[test]
fn a_record_too_large_for_the_log_fails_it_instead_of_being_dropped() {
    let fs = FaultFs::new();
    let clock = ManualClock::new(T0);
    let rc = Arc::new(RecoveryClock::new(Arc::new(clock.clone())));
    let kv = Kv::in_memory(Options::default().shards(4).databases(4).clock(rc.clone()));
    let config = Config {
        sync: SyncMode::Always,
        max_record: 1024,
        ..Config::default()
    };
    let (p, _) = recover(Arc::new(fs.clone()), &dir(), &kv, rc, config, &mut |_| {}).unwrap();
    put(&p, 0, "small", "v", None);
    p.ack_op().unwrap();
    put(&p, 0, "big", &"x".repeat(2000), None);
    let err = p.ack_op().unwrap_err().to_string();
    assert!(err.contains("larger than the 1024-byte limit"), "{err}");
    assert!(
        p.check_writable().is_err(),
        "the log refuses writes from now on"
    );
    drop(p);
    fs.crash();
    let o = open(&fs, &clock, SyncMode::Always).unwrap();
    assert_eq!(get(&o.kv, 0, "small").as_deref(), Some("v"));
    assert_eq!(get(&o.kv, 0, "big"), None);
}
