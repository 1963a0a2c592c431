//! Pins the worked examples of docs/format.md byte for byte.

use std::path::Path;
use std::sync::Arc;

use super::fs::FaultFs;
use super::record::{Bytes, Op, Record, Value};
use super::wal::{SyncMode, Wal, WalOptions, encode_body};

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn format_example() {
    let fs = FaultFs::new();
    let dir = Path::new("/data");
    let opts = WalOptions {
        sync: SyncMode::Always,
        ..WalOptions::default()
    };
    let wal = Wal::open(Arc::new(fs.clone()), dir, opts, 1, None, None).unwrap();
    let rec = Record {
        db: 0,
        op: Op::Set {
            key: Bytes::from(b"k".to_vec()),
            value: Value::Str(Bytes::from(b"v".to_vec())),
            expire_at: None,
        },
    };
    let seq = wal.append(&rec).unwrap();
    wal.commit(seq).unwrap();
    let expected = hex(
        "4b 56 57 41 4c 53 45 47 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 ed 84 94 d1 00 00 00 00
         10 00 00 00 7a fb ca 1f 01 00 00 00 00 00 00 00 00 00 01 6b 00 01 76 00",
    );
    let data = fs
        .contents(&dir.join("wal-00000000000000000001.log"))
        .unwrap();
    assert_eq!(data[..expected.len()], expected);
    // Then zeros up to 1 MiB: the space the writer filled ahead of its records.
    assert_eq!(data.len(), 1 << 20);
    assert!(data[expected.len()..].iter().all(|&b| b == 0));
}

#[test]
fn group_format_example() {
    let fs = FaultFs::new();
    let dir = Path::new("/data");
    let wal = Wal::open(
        Arc::new(fs.clone()),
        dir,
        WalOptions::default(),
        1,
        None,
        None,
    )
    .unwrap();
    let b = |s: &str| Bytes::from(s.as_bytes().to_vec());
    // LMOVE l m LEFT RIGHT, moving "a".
    let pop = Record {
        db: 0,
        op: Op::ListPop {
            key: b("l"),
            left: true,
            count: 1,
        },
    };
    let push = Record {
        db: 0,
        op: Op::ListPush {
            key: b("m"),
            left: false,
            items: vec![b("a")],
        },
    };
    let seq = wal
        .append_bodies(&[encode_body(&pop), encode_body(&push)])
        .unwrap();
    wal.commit(seq).unwrap();
    let expected = hex(
        "1b 00 00 00 e1 dc 3b 57 01 00 00 00 00 00 00 00 00 18 02 06 00 0d 01 6c 01 01
         08 00 0c 01 6d 00 01 01 61",
    );
    let data = fs
        .contents(&dir.join("wal-00000000000000000001.log"))
        .unwrap();
    assert_eq!(data[32..32 + expected.len()], expected);
    assert!(data[32 + expected.len()..].iter().all(|&b| b == 0));
}

#[test]
fn stream_group_update_format_example() {
    let b = |s: &str| Bytes::from(s.as_bytes().to_vec());
    const T: u64 = 1_700_000_000_000;
    // XREADGROUP GROUP g c COUNT 1 STREAMS s > delivering 5-0 to a new consumer at T.
    let rec = Record {
        db: 0,
        op: Op::StreamGroupUpdate {
            key: b("s"),
            group: b("g"),
            last_id: (5, 0),
            entries_read: Some(1),
            consumer: Some((b("c"), T, Some(T))),
            pending: vec![((5, 0), T, 1)],
            dropped: vec![],
        },
    };
    let mut body = Vec::new();
    super::record::encode_into(&rec, &mut body);
    assert_eq!(
        body,
        hex("00 23 01 73 01 67 05 00 01 01 \
             01 01 63 80 d0 95 ff bc 31 01 80 d0 95 ff bc 31 \
             01 05 00 80 d0 95 ff bc 31 01 00")
    );
}

#[test]
fn stream_add_format_example() {
    let b = |s: &str| Bytes::from(s.as_bytes().to_vec());
    // XADD s MAXLEN 1 1700000000000-0 f v, which trimmed one older entry.
    let rec = Record {
        db: 0,
        op: Op::StreamAdd {
            key: b("s"),
            id: (1_700_000_000_000, 0),
            pairs: vec![(b("f"), b("v"))],
            trimmed: 1,
        },
    };
    let mut body = Vec::new();
    super::record::encode_into(&rec, &mut body);
    assert_eq!(
        body,
        hex("00 19 01 73 80 d0 95 ff bc 31 00 01 01 66 01 76 01")
    );
}
