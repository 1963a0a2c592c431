//! On-disk record types: what the log stores for each change, and what a snapshot stores per key.
//!
//! These are not the API types: they only change by appending variants at the end (postcard
//! encodes an enum variant as its index), and every field is an effect, not a command: deadlines
//! are absolute unix milliseconds, and results computed from time, randomness or prior state
//! (INCRBYFLOAT, SPOP) are logged as the values they produced. Byte strings borrow from the buffer
//! they are decoded from, and from the store's memory while encoding, so neither way copies them.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A byte string, encoded as postcard bytes: a varint length, then the bytes.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub(crate) struct Bytes<'a>(pub(crate) Cow<'a, [u8]>);

impl<'a> Bytes<'a> {
    /// Borrows `b`.
    pub(crate) fn from_slice(b: &'a [u8]) -> Self {
        Bytes(Cow::Borrowed(b))
    }
    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.0
    }
    /// The bytes, owned.
    #[cfg(test)]
    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.0.into_owned()
    }
}

impl<'a> From<&'a [u8]> for Bytes<'a> {
    fn from(b: &'a [u8]) -> Self {
        Bytes(Cow::Borrowed(b))
    }
}

impl From<Vec<u8>> for Bytes<'static> {
    fn from(b: Vec<u8>) -> Self {
        Bytes(Cow::Owned(b))
    }
}

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bytes<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
                Ok(Bytes(Cow::Borrowed(v)))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(Bytes(Cow::Owned(v.to_vec())))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
                Ok(Bytes(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(b) = seq.next_element()? {
                    v.push(b);
                }
                Ok(Bytes(Cow::Owned(v)))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A whole value as stored on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Value<'a> {
    /// A string.
    #[serde(borrow)]
    Str(Bytes<'a>),
    /// A list, head first.
    #[serde(borrow)]
    List(Vec<Bytes<'a>>),
    /// A hash: (field, value) pairs.
    #[serde(borrow)]
    Hash(Vec<(Bytes<'a>, Bytes<'a>)>),
    /// A set's members.
    #[serde(borrow)]
    Set(Vec<Bytes<'a>>),
    /// A sorted set: (score, member) pairs.
    #[serde(borrow)]
    ZSet(Vec<(f64, Bytes<'a>)>),
    /// A stream: its counters and its live entries, oldest first.
    #[serde(borrow)]
    Stream(Stream<'a>),
    /// Not a key's value: the code of a function library (FUNCTION LOAD), in a snapshot
    /// entry whose `db` is [`LIBRARY_DB`] and whose key is the library's name.
    #[serde(borrow)]
    Library(Bytes<'a>),
    /// Never a whole value: a later part of a stream's snapshot entry holding (some of) its
    /// consumer groups, added to the stream the earlier parts loaded.
    #[serde(borrow)]
    StreamGroups(Vec<StreamGroup<'a>>),
}

/// A consumer group (or part of one: a later part with the same name adds to it) as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StreamGroup<'a> {
    /// Its name.
    #[serde(borrow)]
    pub(crate) name: Bytes<'a>,
    /// Its last-delivered ID.
    pub(crate) last_id: Id,
    /// Its entries-read counter (None: unknown).
    pub(crate) entries_read: Option<u64>,
    /// Consumers: name, seen time, active time (unix ms).
    #[serde(borrow)]
    pub(crate) consumers: Vec<(Bytes<'a>, u64, Option<u64>)>,
    /// Pending entries: ID, owner's name, delivery time (unix ms), delivery count.
    #[serde(borrow)]
    pub(crate) pending: Vec<(Id, Bytes<'a>, u64, u64)>,
}

/// The `db` of a snapshot entry that holds a function library rather than a key.
pub(crate) const LIBRARY_DB: u32 = u32::MAX;

/// A stream ID as stored: milliseconds, sequence.
pub(crate) type Id = (u64, u64);

/// One stream entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StreamEntry<'a> {
    /// Its ID.
    pub(crate) id: Id,
    /// Its (field, value) pairs.
    #[serde(borrow)]
    pub(crate) pairs: Vec<(Bytes<'a>, Bytes<'a>)>,
}

/// A whole stream as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stream<'a> {
    /// The last ID added or set.
    pub(crate) last_id: Id,
    /// How many entries were ever added.
    pub(crate) entries_added: u64,
    /// The largest ID ever deleted.
    pub(crate) max_deleted_id: Id,
    /// The live entries, oldest first.
    #[serde(borrow)]
    pub(crate) entries: Vec<StreamEntry<'a>>,
}

/// One change to the store, as logged. Append new variants at the end only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Op<'a> {
    /// Put a whole value under `key` (replacing any), with an absolute deadline or none.
    /// SET, SETEX, GETSET, INCR* (their result), RESTORE-like puts of any type.
    Set {
        #[serde(borrow)]
        key: Bytes<'a>,
        #[serde(borrow)]
        value: Value<'a>,
        expire_at: Option<u64>,
    },
    /// Remove keys (missing ones are ignored on replay).
    Del {
        #[serde(borrow)]
        keys: Vec<Bytes<'a>>,
    },
    /// Give `key` an absolute deadline (unix ms).
    Expire {
        #[serde(borrow)]
        key: Bytes<'a>,
        at_ms: u64,
    },
    /// Drop `key`'s deadline.
    Persist {
        #[serde(borrow)]
        key: Bytes<'a>,
    },
    /// Put several strings without deadlines (MSET, MSETNX).
    MSet {
        #[serde(borrow)]
        pairs: Vec<(Bytes<'a>, Bytes<'a>)>,
    },
    /// Move `src`'s value and deadline to `dst`, replacing `dst`.
    Rename {
        #[serde(borrow)]
        src: Bytes<'a>,
        #[serde(borrow)]
        dst: Bytes<'a>,
    },
    /// Copy `src`'s value and deadline to `dst` in database `dst_db`, replacing `dst`.
    Copy {
        #[serde(borrow)]
        src: Bytes<'a>,
        #[serde(borrow)]
        dst: Bytes<'a>,
        dst_db: u32,
    },
    /// Empty the record's database.
    FlushDb,
    /// Empty every database.
    FlushAll,
    /// Swap the contents of two databases.
    SwapDb { a: u32, b: u32 },
    /// Append bytes to a string (creating it).
    Append {
        #[serde(borrow)]
        key: Bytes<'a>,
        #[serde(borrow)]
        data: Bytes<'a>,
    },
    /// Overwrite part of a string at `offset`, zero-padding (SETRANGE).
    SetRange {
        #[serde(borrow)]
        key: Bytes<'a>,
        offset: u64,
        #[serde(borrow)]
        data: Bytes<'a>,
    },
    /// Push items onto a list (creating it), each in turn, at the head or the tail.
    ListPush {
        #[serde(borrow)]
        key: Bytes<'a>,
        left: bool,
        #[serde(borrow)]
        items: Vec<Bytes<'a>>,
    },
    /// Pop `count` items from the head or the tail of a list (deleting it when empty).
    ListPop {
        #[serde(borrow)]
        key: Bytes<'a>,
        left: bool,
        count: u64,
    },
    /// Replace the item at an index (LSET's, negative from the tail; replay sees the same list).
    ListSet {
        #[serde(borrow)]
        key: Bytes<'a>,
        index: i64,
        #[serde(borrow)]
        item: Bytes<'a>,
    },
    /// Keep only items `start..=stop`, as LTRIM with the same arguments.
    ListTrim {
        #[serde(borrow)]
        key: Bytes<'a>,
        start: i64,
        stop: i64,
    },
    /// Remove items equal to `item`, as LREM with the same count.
    ListRem {
        #[serde(borrow)]
        key: Bytes<'a>,
        count: i64,
        #[serde(borrow)]
        item: Bytes<'a>,
    },
    /// Insert `item` before or after the first `pivot`.
    ListInsert {
        #[serde(borrow)]
        key: Bytes<'a>,
        before: bool,
        #[serde(borrow)]
        pivot: Bytes<'a>,
        #[serde(borrow)]
        item: Bytes<'a>,
    },
    /// Set hash fields (creating the hash).
    HashSet {
        #[serde(borrow)]
        key: Bytes<'a>,
        #[serde(borrow)]
        pairs: Vec<(Bytes<'a>, Bytes<'a>)>,
    },
    /// Remove hash fields (deleting the hash when empty).
    HashDel {
        #[serde(borrow)]
        key: Bytes<'a>,
        #[serde(borrow)]
        fields: Vec<Bytes<'a>>,
    },
    /// Add set members (creating the set).
    SetAdd {
        #[serde(borrow)]
        key: Bytes<'a>,
        #[serde(borrow)]
        members: Vec<Bytes<'a>>,
    },
    /// Remove set members (deleting the set when empty).
    SetRem {
        #[serde(borrow)]
        key: Bytes<'a>,
        #[serde(borrow)]
        members: Vec<Bytes<'a>>,
    },
    /// Add or re-score sorted-set members (creating the sorted set).
    ZAdd {
        #[serde(borrow)]
        key: Bytes<'a>,
        #[serde(borrow)]
        pairs: Vec<(f64, Bytes<'a>)>,
    },
    /// Remove sorted-set members (deleting the sorted set when empty).
    ZRem {
        #[serde(borrow)]
        key: Bytes<'a>,
        #[serde(borrow)]
        members: Vec<Bytes<'a>>,
    },
    /// The effects of one multi-key operation (LMOVE's pop and push, RENAME's delete and put),
    /// in one record so that a torn write keeps all of them or none: each element is the
    /// encoded body of a plain record (never another group), applied in order. The record's
    /// `db` is 0 and ignored. Written by [`group_pieces`], never by serde.
    Group {
        #[serde(borrow)]
        records: Vec<Bytes<'a>>,
    },
    /// Append an entry with this ID to a stream (creating it), then remove its `trimmed`
    /// oldest entries.
    StreamAdd {
        #[serde(borrow)]
        key: Bytes<'a>,
        id: Id,
        #[serde(borrow)]
        pairs: Vec<(Bytes<'a>, Bytes<'a>)>,
        trimmed: u64,
    },
    /// Delete the entries with these IDs from a stream.
    StreamDel {
        #[serde(borrow)]
        key: Bytes<'a>,
        ids: Vec<Id>,
    },
    /// Remove a stream's `count` oldest entries.
    StreamTrim {
        #[serde(borrow)]
        key: Bytes<'a>,
        count: u64,
    },
    /// Set a stream's counters (XSETID).
    StreamSetId {
        #[serde(borrow)]
        key: Bytes<'a>,
        last_id: Id,
        entries_added: u64,
        max_deleted_id: Id,
    },
    /// Store function library `name` with this code, replacing one of the same name
    /// (FUNCTION LOAD). `db` is 0 and ignored.
    FunctionLoad {
        #[serde(borrow)]
        name: Bytes<'a>,
        #[serde(borrow)]
        code: Bytes<'a>,
    },
    /// Delete function library `name` (FUNCTION DELETE). `db` is 0 and ignored.
    FunctionDelete {
        #[serde(borrow)]
        name: Bytes<'a>,
    },
    /// Delete every function library (FUNCTION FLUSH). `db` is 0 and ignored.
    FunctionFlush,
    /// Add consumer group `group` to a stream (creating an empty stream if missing: MKSTREAM).
    StreamGroupCreate {
        #[serde(borrow)]
        key: Bytes<'a>,
        #[serde(borrow)]
        group: Bytes<'a>,
        last_id: Id,
        entries_read: Option<u64>,
    },
    /// Remove consumer group `group` from a stream.
    StreamGroupDestroy {
        #[serde(borrow)]
        key: Bytes<'a>,
        #[serde(borrow)]
        group: Bytes<'a>,
    },
    /// Remove consumer `consumer` of `group`, with its pending entries.
    StreamConsumerDel {
        #[serde(borrow)]
        key: Bytes<'a>,
        #[serde(borrow)]
        group: Bytes<'a>,
        #[serde(borrow)]
        consumer: Bytes<'a>,
    },
    /// Set a group's last-delivered ID and entries-read counter; create or update `consumer`
    /// (name, seen time, active time); make each `pending` entry (ID, delivery time, delivery
    /// count) the consumer's; remove the `dropped` IDs from the PEL.
    StreamGroupUpdate {
        #[serde(borrow)]
        key: Bytes<'a>,
        #[serde(borrow)]
        group: Bytes<'a>,
        last_id: Id,
        entries_read: Option<u64>,
        #[serde(borrow)]
        consumer: Option<(Bytes<'a>, u64, Option<u64>)>,
        pending: Vec<(Id, u64, u64)>,
        dropped: Vec<Id>,
    },
}

/// `Op::Group`'s variant index.
const GROUP_INDEX: u8 = 24;

/// The postcard-encoded body of a log record; the sequence number precedes it on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record<'a> {
    /// The database the change applies to (ignored by FLUSHALL and SWAPDB).
    pub(crate) db: u32,
    /// The change.
    #[serde(borrow)]
    pub(crate) op: Op<'a>,
}

/// One key of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry<'a> {
    /// The key's database.
    pub(crate) db: u32,
    /// The key.
    #[serde(borrow)]
    pub(crate) key: Bytes<'a>,
    /// Its value.
    #[serde(borrow)]
    pub(crate) value: Value<'a>,
    /// Its absolute deadline (unix ms), if any.
    pub(crate) expire_at: Option<u64>,
}

/// Appends the postcard encoding of `v` to `out`.
pub(crate) fn encode_into<T: Serialize>(v: &T, out: &mut Vec<u8>) {
    // Serializing into a growable Vec fails only on an out-of-memory condition that would abort
    // first, or on types postcard cannot represent, which ours (no maps, no unsized sequences)
    // are not.
    let bytes = postcard::to_extend(v, std::mem::take(out)).expect("postcard encodes our types");
    *out = bytes;
}

/// The postcard varint (LEB128) of `n`, in `buf`.
fn varint(mut n: u64, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = 0;
    while n >= 0x80 {
        buf[i] = (n as u8 & 0x7f) | 0x80;
        n >>= 7;
        i += 1;
    }
    buf[i] = n as u8;
    &buf[..=i]
}

/// Hands the body of a group record holding `bodies` (each a plain record's body) to `out`
/// piece by piece, so that it can be checksummed and copied into the log buffer without being
/// assembled first. The pieces are exactly the postcard encoding of
/// `Record { db: 0, op: Op::Group { records: bodies } }`.
pub(crate) fn group_pieces(bodies: &[Vec<u8>], out: &mut dyn FnMut(&[u8])) {
    let mut buf = [0; 10];
    // db 0, then the variant index (a one-byte varint: below 0x80).
    out(&[0, GROUP_INDEX]);
    out(varint(bodies.len() as u64, &mut buf));
    for body in bodies {
        out(varint(body.len() as u64, &mut buf));
        out(body);
    }
}

/// Decodes a record body, borrowing byte strings from `buf`; trailing bytes are an error.
pub(crate) fn decode<'a, T: Deserialize<'a>>(buf: &'a [u8]) -> Result<T, postcard::Error> {
    let (v, rest) = postcard::take_from_bytes(buf)?;
    if rest.is_empty() {
        Ok(v)
    } else {
        Err(postcard::Error::DeserializeBadEncoding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes<'static> {
        Bytes::from(s.as_bytes().to_vec())
    }

    fn check(op: Op<'static>) {
        let rec = Record { db: 3, op };
        let mut buf = Vec::new();
        encode_into(&rec, &mut buf);
        let back: Record<'_> = decode(&buf).unwrap();
        assert_eq!(back, rec);
        // Decoding borrows byte strings instead of copying them.
        if let Op::Set { key, .. } = &back.op {
            assert!(matches!(key.0, Cow::Borrowed(_)));
        }
    }

    #[test]
    fn every_op_round_trips() {
        let value_cases = [
            Value::Str(b("v")),
            Value::List(vec![b("a"), b("b")]),
            Value::Hash(vec![(b("f"), b("v"))]),
            Value::Set(vec![b("m")]),
            Value::ZSet(vec![(1.5, b("m")), (f64::NEG_INFINITY, b("n"))]),
        ];
        for value in value_cases {
            check(Op::Set {
                key: b("k"),
                value,
                expire_at: Some(1_700_000_000_000),
            });
        }
        let ops = vec![
            Op::Del {
                keys: vec![b("a"), b("")],
            },
            Op::Expire {
                key: b("k"),
                at_ms: u64::MAX,
            },
            Op::Persist { key: b("k") },
            Op::MSet {
                pairs: vec![(b("a"), b("1")), (b("b"), b("2"))],
            },
            Op::Rename {
                src: b("a"),
                dst: b("b"),
            },
            Op::Copy {
                src: b("a"),
                dst: b("b"),
                dst_db: 15,
            },
            Op::FlushDb,
            Op::FlushAll,
            Op::SwapDb { a: 0, b: 1 },
            Op::Append {
                key: b("k"),
                data: b("xy"),
            },
            Op::SetRange {
                key: b("k"),
                offset: 7,
                data: b("z"),
            },
            Op::ListPush {
                key: b("l"),
                left: true,
                items: vec![b("1")],
            },
            Op::ListPop {
                key: b("l"),
                left: false,
                count: 2,
            },
            Op::ListSet {
                key: b("l"),
                index: 0,
                item: b("x"),
            },
            Op::ListTrim {
                key: b("l"),
                start: 1,
                stop: 0,
            },
            Op::ListRem {
                key: b("l"),
                count: -2,
                item: b("x"),
            },
            Op::ListInsert {
                key: b("l"),
                before: true,
                pivot: b("p"),
                item: b("i"),
            },
            Op::HashSet {
                key: b("h"),
                pairs: vec![(b("f"), b("v"))],
            },
            Op::HashDel {
                key: b("h"),
                fields: vec![b("f")],
            },
            Op::SetAdd {
                key: b("s"),
                members: vec![b("m")],
            },
            Op::SetRem {
                key: b("s"),
                members: vec![b("m")],
            },
            Op::ZAdd {
                key: b("z"),
                pairs: vec![(-0.0, b("m"))],
            },
            Op::ZRem {
                key: b("z"),
                members: vec![b("m")],
            },
            Op::Group {
                records: vec![b("body one"), b("")],
            },
        ];
        for op in ops {
            check(op);
        }
    }

    /// The group body `group_pieces` writes by hand is postcard's encoding of `Op::Group`,
    /// and decodes back to the inner bodies, for inner lengths around every varint boundary.
    #[test]
    fn group_pieces_are_the_encoding_of_a_group_record() {
        let inner = |key_len: usize| {
            let mut body = Vec::new();
            let rec = Record {
                db: 2,
                op: Op::Persist {
                    key: Bytes::from(vec![b'k'; key_len]),
                },
            };
            encode_into(&rec, &mut body);
            body
        };
        let cases: Vec<Vec<Vec<u8>>> = vec![
            vec![],
            vec![inner(0)],
            vec![inner(1), inner(2)],
            vec![inner(124), inner(125), inner(126)],
            vec![inner(16_380), inner(16_381), inner(1 << 20)],
            (0..200).map(inner).collect(),
        ];
        for bodies in cases {
            let mut pieces = Vec::new();
            group_pieces(&bodies, &mut |p| pieces.extend_from_slice(p));
            let rec = Record {
                db: 0,
                op: Op::Group {
                    records: bodies.iter().map(|b| Bytes::from_slice(b)).collect(),
                },
            };
            let mut expected = Vec::new();
            encode_into(&rec, &mut expected);
            assert_eq!(pieces, expected, "{} bodies", bodies.len());
            let back: Record<'_> = decode(&pieces).unwrap();
            let Op::Group { records } = back.op else {
                panic!("not a group: {back:?}")
            };
            let records: Vec<&[u8]> = records.iter().map(Bytes::as_slice).collect();
            let bodies: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
            assert_eq!(records, bodies);
        }
    }

    #[test]
    fn varints_match_postcard() {
        for n in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut buf = [0; 10];
            assert_eq!(
                varint(n, &mut buf),
                postcard::to_allocvec(&n).unwrap(),
                "{n}"
            );
        }
    }

    #[test]
    fn binary_bytes_are_encoded_as_length_and_raw_bytes() {
        let rec = Record {
            db: 0,
            op: Op::Persist {
                key: b("\u{0}\u{ff}k"),
            },
        };
        let mut buf = Vec::new();
        encode_into(&rec, &mut buf);
        // db varint 0, variant index 3, key length 4, key bytes.
        assert_eq!(buf, [0, 3, 4, 0, 0xc3, 0xbf, b'k']);
    }

    #[test]
    fn trailing_or_truncated_bytes_are_rejected() {
        let rec = Record {
            db: 1,
            op: Op::Del {
                keys: vec![b("abc")],
            },
        };
        let mut buf = Vec::new();
        encode_into(&rec, &mut buf);
        let mut longer = buf.clone();
        longer.push(0);
        assert!(decode::<Record<'_>>(&longer).is_err());
        assert!(decode::<Record<'_>>(&buf[..buf.len() - 1]).is_err());
        assert!(decode::<Record<'_>>(&[0, 200]).is_err(), "unknown variant");
    }
}
