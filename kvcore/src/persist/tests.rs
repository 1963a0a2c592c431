//! Pins the worked example of docs/format.md byte for byte.

use std::path::Path;
use std::sync::Arc;

use super::fs::FaultFs;
use super::record::{Bytes, Op, Record, Value};
use super::wal::{SyncMode, Wal, WalOptions};

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
    let wal = Wal::open(Arc::new(fs.clone()), dir, opts, 1, None).unwrap();
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
    assert_eq!(
        fs.contents(&dir.join("wal-00000000000000000001.log"))
            .unwrap(),
        expected
    );
}
