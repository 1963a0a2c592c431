//! The RDB encoding against what redis-server 7.0.15 wrote: `strings.txt` holds values and
//! their DUMP payloads, recorded by `tools/recordrdb.py`.

use super::{Corrupt, Reader, open, put_len, put_string, seal};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}

#[test]
fn strings_are_encoded_as_redis_encodes_them() {
    let fixture = include_str!("strings.txt");
    let mut cases = 0;
    for line in fixture.lines() {
        let (value, payload) = line.split_once(' ').expect("value and payload");
        let (value, payload) = (hex(value), hex(payload));
        // A string key's DUMP: type 0, the string, the footer.
        let mut ours = vec![0u8];
        put_string(&mut ours, &value);
        seal(&mut ours);
        assert_eq!(
            ours,
            payload,
            "DUMP of {:?}",
            String::from_utf8_lossy(&value)
        );
        // And it reads back.
        let (body, version) = open(&payload).expect("a valid footer");
        assert_eq!(version, 10);
        let mut r = Reader::new(&body[1..]);
        assert_eq!(r.string(), Ok(value));
        assert_eq!(r.remaining(), 0);
        cases += 1;
    }
    assert!(cases > 30, "the fixture has its cases");
}

#[test]
fn lengths_round_trip() {
    for n in [
        0u64,
        63,
        64,
        16383,
        16384,
        u32::MAX as u64,
        u32::MAX as u64 + 1,
        u64::MAX,
    ] {
        let mut out = Vec::new();
        put_len(&mut out, n);
        let mut r = Reader::new(&out);
        assert_eq!(r.len(), Ok(n));
        assert_eq!(r.remaining(), 0);
    }
}

#[test]
fn damaged_payloads_are_refused() {
    let mut payload = vec![0u8];
    put_string(&mut payload, b"hello hello hello hello hello");
    seal(&mut payload);
    assert!(open(&payload).is_some());
    for i in 0..payload.len() {
        let mut bad = payload.clone();
        bad[i] ^= 0x10;
        assert!(
            open(&bad).is_none(),
            "a flipped bit at {i} passes the checksum"
        );
    }
    assert!(open(&payload[..9]).is_none(), "shorter than a footer");
    let mut newer = payload[..payload.len() - 10].to_vec();
    newer.extend_from_slice(&11u16.to_le_bytes());
    let crc = super::crc64(0, &newer);
    newer.extend_from_slice(&crc.to_le_bytes());
    assert!(open(&newer).is_none(), "an RDB version newer than 10");
    // Truncated strings and lies about lengths.
    assert_eq!(Reader::new(b"\x05abc").string(), Err(Corrupt));
    assert_eq!(Reader::new(b"\xc3\x02\x7f\x01a").string(), Err(Corrupt));
    assert_eq!(
        Reader::new(b"\xc3\x02\x80\xff\xff\xff\xff\x01a").string(),
        Err(Corrupt),
        "a claimed size far past what LZF can expand to"
    );
    assert_eq!(Reader::new(b"\xc5").string(), Err(Corrupt));
}
