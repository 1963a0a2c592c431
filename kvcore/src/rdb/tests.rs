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

mod values {
    use proptest::prelude::*;

    use super::super::key::{dump_value, payload_value};
    use super::super::listpack::{self, Elem};
    use super::super::value::format_g17;
    use super::super::{crc64, seal};
    use crate::entry::Value;
    use crate::types::{End, Hash, List, Set, Stream, StreamGroup, StreamId, ZAddFlags, ZSet};

    fn list(items: &[Vec<u8>]) -> Value {
        let mut l = List::new();
        for i in items {
            l.push(End::Right, i);
        }
        Value::List(l)
    }

    fn stream(entries: u64, groups: bool) -> Value {
        let mut s = Stream::new();
        for i in 1..=entries {
            let v = format!("value-{i}");
            let pairs: Vec<(&[u8], &[u8])> = if i % 7 == 0 {
                vec![(b"other", v.as_bytes()), (b"n", b"12")]
            } else {
                vec![(b"field", v.as_bytes())]
            };
            s.append(StreamId::new(1000 + i / 3, i % 3), &pairs);
        }
        if entries > 3 {
            s.delete(StreamId::new(1001, 0));
        }
        if groups {
            let mut g = StreamGroup::new(StreamId::new(1002, 1), Some(5));
            let (alice, _) = g.create_consumer(b"alice", 1_700_000_000_000);
            let (bob, _) = g.create_consumer(b"bob", 1_700_000_000_500);
            g.assign(StreamId::new(1000, 1), alice, 1_700_000_000_100, 1);
            g.assign(StreamId::new(1000, 2), bob, 1_700_000_000_200, 3);
            s.groups_mut().insert(b"g1"[..].into(), g);
            s.groups_mut()
                .insert(b"g0"[..].into(), StreamGroup::new(StreamId::MIN, None));
        }
        Value::Stream(Box::new(s))
    }

    /// Values of every type and encoding.
    fn samples() -> Vec<(&'static str, Value)> {
        let many = |n: usize, len: usize| -> Vec<Vec<u8>> {
            (0..n)
                .map(|i| format!("{i:0len$}-{}", "e".repeat(len)).into_bytes())
                .collect()
        };
        let ints: Vec<Vec<u8>> = [0i64, -1, 127, 128, -4096, 4096, 40000, 1 << 40, i64::MIN]
            .iter()
            .map(|v| v.to_string().into_bytes())
            .collect();
        let mut out = vec![
            ("string", Value::string(b"hello")),
            ("int string", Value::string(b"-12345")),
            ("long string", Value::string(&b"abc".repeat(1000))),
            ("small list", list(&ints)),
            ("long list", list(&many(3000, 5))),
            ("list of large elements", list(&many(4, 9000))),
        ];
        for (name, members) in [
            ("intset", ints.clone()),
            ("set", many(10, 3)),
            ("big set", many(1000, 3)),
        ] {
            let mut s = Set::new();
            for m in &members {
                s.add(m);
            }
            out.push((name, Value::Set(s)));
        }
        for (name, n, len) in [
            ("small hash", 10, 3),
            ("hash table", 1000, 3),
            ("long values", 3, 100),
        ] {
            let mut h = Hash::new();
            for (i, f) in many(n, len).iter().enumerate() {
                h.set(f, i.to_string().as_bytes());
            }
            out.push((name, Value::Hash(h)));
        }
        for (name, n) in [("small zset", 20), ("skip list", 500)] {
            let mut z = ZSet::new();
            for (i, m) in many(n, 2).iter().enumerate() {
                let score = [i as f64 / 7.0, -(i as f64), 1e20, f64::INFINITY][i % 4];
                z.add(score, m, &ZAddFlags::default()).unwrap();
            }
            out.push((name, Value::ZSet(z)));
        }
        out.push(("empty stream", stream(0, false)));
        out.push(("stream", stream(10, false)));
        out.push(("long stream with groups", stream(700, true)));
        out
    }

    #[test]
    fn every_type_round_trips() {
        for (name, v) in samples() {
            let payload = dump_value(&v);
            let back = payload_value(&payload).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(back.key_type(), v.key_type(), "{name}");
            assert_eq!(
                dump_value(&back),
                payload,
                "{name}: dumps the same bytes again"
            );
            match (&v, &back) {
                (Value::List(a), Value::List(b)) => assert!(a.iter().eq(b.iter()), "{name}"),
                (Value::Set(a), Value::Set(b)) => {
                    assert_eq!(a.len(), b.len(), "{name}");
                    assert!(a.iter().all(|m| b.contains(m)), "{name}");
                    assert_eq!(a.encoding(), b.encoding(), "{name}");
                }
                (Value::Hash(a), Value::Hash(b)) => {
                    assert_eq!(a.len(), b.len(), "{name}");
                    assert!(a.iter().all(|(f, v)| b.get(f) == Some(v)), "{name}");
                    assert_eq!(a.encoding(), b.encoding(), "{name}");
                }
                (Value::ZSet(a), Value::ZSet(b)) => {
                    assert!(a.iter().eq(b.iter()), "{name}");
                    assert_eq!(a.encoding(), b.encoding(), "{name}");
                }
                (Value::Stream(a), Value::Stream(b)) => {
                    assert!(
                        a.iter()
                            .map(|e| format!("{e:?}"))
                            .eq(b.iter().map(|e| format!("{e:?}"))),
                        "{name}"
                    );
                    assert_eq!(
                        (a.last_id(), a.entries_added(), a.max_deleted(), a.len()),
                        (b.last_id(), b.entries_added(), b.max_deleted(), b.len()),
                        "{name}"
                    );
                    assert_eq!(a.groups(), b.groups(), "{name}");
                }
                (Value::String(a), Value::String(b)) => assert_eq!(a, b, "{name}"),
                _ => unreachable!("types compared above"),
            }
        }
    }

    /// Redis 5 and 6 wrote streams without the first ID, the largest deleted ID, the
    /// entries-added count and the groups' entries-read: the version 1 layout still loads.
    #[test]
    fn version_1_streams_load() {
        use super::super::put_len;
        let v = stream(3, false);
        let v2 = dump_value(&v);
        let body = &v2[..v2.len() - 10];
        let lens = |ns: &[u64]| {
            let mut out = Vec::new();
            for &n in ns {
                put_len(&mut out, n);
            }
            out
        };
        // Length 3, last ID 1001-0, first ID 1000-1, none deleted, 3 added, no groups.
        let tail_v2 = lens(&[3, 1001, 0, 1000, 1, 0, 0, 3, 0]);
        let nodes = body.strip_suffix(&tail_v2[..]).expect("the version 2 tail");
        let mut v1 = nodes.to_vec();
        v1[0] = super::super::value::TYPE_STREAM_LISTPACKS;
        v1.extend_from_slice(&lens(&[3, 1001, 0, 0]));
        let back = payload_value(&reseal(v1)).expect("a version 1 stream loads");
        assert_eq!(dump_value(&back), v2, "the same stream");
    }

    #[test]
    fn scores_print_as_c_does_with_17_digits() {
        for (v, text) in [
            (0.1, "0.10000000000000001"),
            (1e20, "1e+20"),
            (2.5, "2.5"),
            (1e300, "1.0000000000000001e+300"),
            (-0.25, "-0.25"),
            (1.0 / 7.0, "0.14285714285714285"),
            (123456789.125, "123456789.125"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-1.3, "-1.3"),
        ] {
            assert_eq!(format_g17(v), text, "{v:e}");
        }
    }

    #[test]
    fn listpack_integers_take_the_smallest_encoding() {
        for (v, bytes) in [
            (0i64, &[0x00u8][..]),
            (127, &[0x7f]),
            (-1, &[0xdf, 0xff]),
            (4095, &[0xcf, 0xff]),
            (-4096, &[0xd0, 0x00]),
            (4096, &[0xf1, 0x00, 0x10]),
            (-32768, &[0xf1, 0x00, 0x80]),
            (8_388_607, &[0xf2, 0xff, 0xff, 0x7f]),
            (8_388_608, &[0xf3, 0x00, 0x00, 0x80, 0x00]),
            (1 << 40, &[0xf4, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let mut w = listpack::Writer::new();
            w.push(v.to_string().as_bytes());
            let lp = w.finish();
            assert_eq!(&lp[6..6 + bytes.len()], bytes, "{v}");
            assert_eq!(listpack::elements(&lp), Ok(vec![Elem::Int(v)]));
        }
    }

    /// Reseals a payload whose body was changed, so the decoder (not the checksum) meets it.
    fn reseal(mut body: Vec<u8>) -> Vec<u8> {
        seal(&mut body);
        body
    }

    proptest! {
        #[test]
        fn listpacks_round_trip(items in prop::collection::vec(
            prop_oneof![
                any::<i64>().prop_map(|v| v.to_string().into_bytes()),
                prop::collection::vec(any::<u8>(), 0..5000),
            ],
            0..40,
        )) {
            let mut w = listpack::Writer::new();
            for i in &items {
                w.push(i);
            }
            let lp = w.finish();
            let back: Vec<Vec<u8>> =
                listpack::elements(&lp).unwrap().into_iter().map(Elem::to_vec).collect();
            prop_assert_eq!(back, items);
        }

        /// Damaged payloads of every type, resealed so that they pass the checksum: decoding
        /// never panics, and what decodes dumps again.
        #[test]
        fn damaged_payloads_never_panic(
            which in 0usize..19,
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let samples = samples();
            let (_, v) = &samples[which % samples.len()];
            let payload = dump_value(v);
            let mut body = payload[..payload.len() - 10].to_vec();
            for (at, byte) in edits {
                let i = at.index(body.len());
                body[i] = byte;
            }
            if truncate {
                body.truncate(cut.index(body.len()));
            }
            if let Ok(v) = payload_value(&reseal(body)) {
                let again = dump_value(&v);
                prop_assert!(payload_value(&again).is_ok());
            }
        }
    }

    #[test]
    fn a_failed_restore_changes_nothing() {
        use crate::{Error, Kv, Options, RestoreOptions, Store};
        let kv = Kv::in_memory(Options::default());
        let db = kv.db(0).unwrap();
        db.set("k", "old").unwrap();
        let good = db.dump("k").unwrap();
        let mut bad = good[..good.len() - 10].to_vec();
        bad[1] = 0x3f; // a 63-byte string in a 5-byte body
        let bad = reseal(bad);
        let replace = RestoreOptions::new().replace(true);
        assert_eq!(db.restore("k", &bad, &replace), Err(Error::BadDataFormat));
        let mut flipped = good.clone();
        flipped[2] ^= 1;
        assert_eq!(
            db.restore("k", &flipped, &replace),
            Err(Error::BadDumpPayload)
        );
        assert_eq!(db.get("k").unwrap(), Some(b"old".to_vec()));
        assert_eq!(
            db.restore("k", &good, &RestoreOptions::new()),
            Err(Error::BusyKey)
        );
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca, "CRC-64/Jones");
    }
}

mod files {
    use crate::types::End;
    use crate::{Kv, ListStore, Options, RestoreOptions, Store, ZAddFlags, ZSetStore};

    fn store() -> Kv {
        let kv = Kv::in_memory(Options::default());
        let db = kv.db(0).unwrap();
        db.set("s", "hello").unwrap();
        db.push("l", End::Right, &["a", "b", "1"]).unwrap();
        db.zadd("z", &[(1.5, "a"), (2.0, "b")], &ZAddFlags::default())
            .unwrap();
        let payload = db.dump("s").unwrap();
        db.restore("t", &payload, &RestoreOptions::new().ttl_ms(100_000))
            .unwrap();
        kv.db(3).unwrap().set("other", "db3").unwrap();
        kv
    }

    /// A replica (passive expiry) keeps the keys of an RDB whose time has passed, reading
    /// them as absent; a primary skips them.
    #[test]
    fn a_replica_keeps_expired_keys_of_an_rdb() {
        let clock = crate::ManualClock::new(1_000_000);
        let opts = || Options::default().clock(std::sync::Arc::new(clock.clone()));
        let source = Kv::in_memory(opts());
        let db = source.db(0).unwrap();
        db.set("soon", "v").unwrap();
        db.pexpire("soon", 100, crate::ExpireCondition::None)
            .unwrap();
        db.set("kept", "v").unwrap();
        let mut file = Vec::new();
        source.write_rdb(&mut file).unwrap();
        clock.advance(200);
        let primary = Kv::in_memory(opts());
        let info = primary.load_rdb(&file[..]).unwrap();
        assert_eq!((info.keys, info.expired), (1, 1));
        let replica = Kv::in_memory(opts());
        replica.set_passive_expiry(true);
        let info = replica.load_rdb(&file[..]).unwrap();
        assert_eq!((info.keys, info.expired), (2, 0));
        let db = replica.db(0).unwrap();
        assert_eq!(db.dbsize().unwrap(), 2);
        assert_eq!(db.get("soon").unwrap(), None);
        // RESTORE of an already expired value, as the primary may send it: kept too.
        let payload = db.dump("kept").unwrap();
        db.restore(
            "late",
            &payload,
            &RestoreOptions::new().ttl_ms(1_000).absolute(true),
        )
        .unwrap();
        assert_eq!(db.dbsize().unwrap(), 3);
    }

    #[test]
    fn a_store_written_as_rdb_loads_back() {
        let kv = store();
        let mut file = Vec::new();
        assert_eq!(kv.write_rdb(&mut file).unwrap(), 5);
        assert!(file.starts_with(b"REDIS0010"));
        let copy = Kv::in_memory(Options::default());
        let info = copy.load_rdb(&file[..]).unwrap();
        assert_eq!((info.keys, info.expired, info.version), (5, 0, 10));
        assert!(
            info.aux
                .iter()
                .any(|(k, v)| k == b"redis-ver" && v == b"7.0.15")
        );
        for (db, key) in [(0, "s"), (0, "l"), (0, "z"), (0, "t"), (3, "other")] {
            let (a, b) = (kv.db(db).unwrap(), copy.db(db).unwrap());
            assert_eq!(a.dump(key), b.dump(key), "{key}");
            assert_eq!(a.pexpiretime(key), b.pexpiretime(key), "{key}");
        }
    }

    #[test]
    fn a_damaged_file_loads_nothing() {
        let mut file = Vec::new();
        store().write_rdb(&mut file).unwrap();
        for cut in [9, 20, file.len() / 2, file.len() - 9, file.len() - 1] {
            let copy = Kv::in_memory(Options::default());
            assert!(copy.load_rdb(&file[..cut]).is_err(), "cut at {cut}");
            assert_eq!(copy.db(0).unwrap().dbsize().unwrap(), 0, "cut at {cut}");
        }
        let mut flipped = file.clone();
        let n = flipped.len();
        flipped[n - 20] ^= 0x40;
        let copy = Kv::in_memory(Options::default());
        assert!(copy.load_rdb(&flipped[..]).is_err());
        assert_eq!(copy.db(0).unwrap().dbsize().unwrap(), 0);
    }
}
