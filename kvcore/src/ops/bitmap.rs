//! Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD.
//!
//! A bitmap is a plain string (bit 0 is the top bit of the first byte), so the arithmetic is in
//! `types/bits.rs` and this file only reads and writes string values. Writes journal what they
//! changed, never the whole bitmap: SETBIT one byte (`SetRange`, which also records how far
//! the string grew), BITFIELD the bytes of each field it wrote (one group record), BITOP its
//! result (`Put`, it is a new value).

use crate::bytes::SmallBytes;
use crate::effect::Effect;
use crate::entry::Value;
use crate::error::{Error, Result};
use crate::kv::Db;
use crate::notify::Class;
use crate::types::bits::{self, BitRange, BitfieldOp};

/// BITOP's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    /// Bitwise AND of every source.
    And,
    /// Bitwise OR.
    Or,
    /// Bitwise XOR.
    Xor,
    /// The complement of a single source.
    Not,
}

/// Bitmap operations, as Redis's bit commands, on string values (a missing key reads as an
/// empty string, that is all zeros).
///
/// Every method fails with [`Error::WrongType`](crate::Error::WrongType) when a key holds
/// another type, and those taking an offset with
/// [`Error::BitOffsetOutOfRange`](crate::Error::BitOffsetOutOfRange) when the offset is at or
/// past `8 *` [`Kv::max_bulk_len`](crate::Kv::max_bulk_len) (512 MiB: bit 2^32 - 1 is the last).
///
/// ```
/// use kvcore::{BitRange, BitmapStore, Kv, Options, Store};
///
/// let db = Kv::in_memory(Options::default()).db(0)?;
/// assert!(!db.setbit("flags", 7, true)?); // the previous value
/// assert!(db.getbit("flags", 7)?);
/// assert_eq!(db.get("flags")?, Some(vec![1]));
/// db.set("text", "foobar")?;
/// assert_eq!(db.bitcount("text", None)?, 26);
/// assert_eq!(db.bitcount("text", Some(BitRange::bits(5, 30)))?, 17);
/// assert_eq!(db.bitpos("text", true, None)?, 1);
/// # Ok::<(), kvcore::Error>(())
/// ```
pub trait BitmapStore {
    /// SETBIT: sets or clears the bit at `offset`, growing the string with zeros (creating
    /// it) as needed; returns the bit's previous value.
    fn setbit(&self, key: impl AsRef<[u8]>, offset: u64, value: bool) -> Result<bool>;
    /// GETBIT: the bit at `offset` (false past the end or for a missing key).
    fn getbit(&self, key: impl AsRef<[u8]>, offset: u64) -> Result<bool>;
    /// BITCOUNT: the set bits of the whole string, or of a range.
    fn bitcount(&self, key: impl AsRef<[u8]>, range: Option<BitRange>) -> Result<u64>;
    /// BITPOS: the position of the first bit equal to `bit` in the string or the range; -1
    /// when there is none. Looking for a clear bit without an explicit end finds the first
    /// bit past the string (which reads as zeros); a missing key answers 0 for a clear bit
    /// and -1 for a set one.
    fn bitpos(&self, key: impl AsRef<[u8]>, bit: bool, range: Option<BitRange>) -> Result<i64>;
    /// BITOP: stores `op` of the sources (missing ones read as empty; shorter ones are padded
    /// with zeros) at `dest`, replacing it and its TTL, and returns the result's length; an
    /// empty result deletes `dest`.
    ///
    /// # Errors
    /// [`Error::IncompatibleOptions`](crate::Error::IncompatibleOptions) for NOT with other
    /// than one source; [`RecordTooLarge`](crate::Error::RecordTooLarge) for a result a
    /// persistent store cannot log.
    fn bitop<K: AsRef<[u8]>>(&self, op: BitOp, dest: impl AsRef<[u8]>, keys: &[K])
    -> Result<usize>;
    /// BITFIELD: runs the operations in order and returns one reply each (None: an OVERFLOW
    /// FAIL refused the write). The string grows to hold the farthest field written; reads
    /// past the end read zeros. With only GETs nothing is written (BITFIELD_RO).
    fn bitfield(&self, key: impl AsRef<[u8]>, ops: &[BitfieldOp]) -> Result<Vec<Option<i64>>>;
}

impl BitmapStore for Db {
    fn setbit(&self, key: impl AsRef<[u8]>, offset: u64, value: bool) -> Result<bool> {
        setbit(self, key.as_ref(), offset, value)
    }

    fn getbit(&self, key: impl AsRef<[u8]>, offset: u64) -> Result<bool> {
        self.check_bit_offset(offset)?;
        self.read_entry(key.as_ref(), |e| {
            let Some(e) = e else { return Ok(false) };
            let s = e.value.as_string()?;
            Ok(s.get((offset >> 3) as usize)
                .is_some_and(|b| b >> (7 - (offset & 7)) & 1 == 1))
        })
    }

    fn bitcount(&self, key: impl AsRef<[u8]>, range: Option<BitRange>) -> Result<u64> {
        self.read_entry(key.as_ref(), |e| match e {
            None => Ok(0),
            Some(e) => Ok(bits::count(e.value.as_string()?, range)),
        })
    }

    fn bitpos(&self, key: impl AsRef<[u8]>, bit: bool, range: Option<BitRange>) -> Result<i64> {
        self.read_entry(key.as_ref(), |e| match e {
            None => Ok(if bit { -1 } else { 0 }),
            Some(e) => Ok(bits::pos(e.value.as_string()?, bit, range)),
        })
    }

    fn bitop<K: AsRef<[u8]>>(
        &self,
        op: BitOp,
        dest: impl AsRef<[u8]>,
        keys: &[K],
    ) -> Result<usize> {
        let keys: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
        bitop(self, op, dest.as_ref(), &keys)
    }

    fn bitfield(&self, key: impl AsRef<[u8]>, ops: &[BitfieldOp]) -> Result<Vec<Option<i64>>> {
        bitfield(self, key.as_ref(), ops)
    }
}

impl Db {
    /// Redis's bound on bit offsets: the byte must lie within `proto-max-bulk-len`.
    fn check_bit_offset(&self, offset: u64) -> Result<()> {
        if offset >> 3 >= self.inner.max_bulk_len() as u64 {
            return Err(Error::BitOffsetOutOfRange);
        }
        Ok(())
    }
}

/// A raw (heap) string, as Redis's bit commands leave the values they write.
fn raw(bytes: Vec<u8>) -> Value {
    Value::String(SmallBytes::Heap(bytes))
}

fn setbit(db: &Db, key: &[u8], offset: u64, on: bool) -> Result<bool> {
    db.check_bit_offset(offset)?;
    db.admit().key(key)?.check()?;
    let byte = (offset >> 3) as usize;
    let shift = 7 - (offset & 7) as u32;
    db.write_entry(key, |slot| {
        match slot.entry() {
            Some(e) => {
                e.value.as_string()?;
            }
            None => slot.put(raw(Vec::new()), None),
        }
        let Some(v) = slot.value_mut() else {
            unreachable!("checked or created just above")
        };
        let s = v.as_string_mut()?.make_vec();
        let grown = s.len() <= byte;
        if grown {
            s.resize(byte + 1, 0);
        }
        let old = s[byte] >> shift & 1 == 1;
        if grown || old != on {
            s[byte] = s[byte] & !(1 << shift) | u8::from(on) << shift;
            let data = [s[byte]];
            slot.journal(Effect::SetRange {
                db: slot.db(),
                key,
                offset: byte,
                data: &data,
            });
            slot.notify(Class::String, "setbit");
        }
        Ok(old)
    })
}

fn bitop(db: &Db, op: BitOp, dest: &[u8], keys: &[&[u8]]) -> Result<usize> {
    if op == BitOp::Not && keys.len() != 1 {
        return Err(Error::IncompatibleOptions(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    db.admit().key(dest)?.keys(keys)?.check()?;
    let d = db.index;
    let mut ids = Vec::with_capacity(keys.len() + 1);
    ids.push((d, dest));
    ids.extend(keys.iter().map(|&k| (d, k)));
    db.write_many(&ids, |locked| {
        let result = {
            let mut sources = Vec::with_capacity(keys.len());
            for &k in keys {
                sources.push(match locked.source(d, k) {
                    Some(e) => e.value.as_string()?.as_slice(),
                    None => &[],
                });
            }
            combine(op, &sources)
        };
        let len = result.len();
        let mut slot = locked.slot(d, dest);
        if result.is_empty() {
            if slot.remove().is_some() {
                slot.journal(Effect::Del { db: d, key: dest });
                slot.notify(Class::Generic, "del");
            }
        } else {
            slot.store(raw(result), None)?;
            slot.notify(Class::String, "set");
        }
        Ok(len)
    })
}

/// BITOP's result: as long as the longest source, shorter ones read as zero-padded.
fn combine(op: BitOp, sources: &[&[u8]]) -> Vec<u8> {
    let max = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    if max == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(max);
    out.extend_from_slice(sources[0]);
    out.resize(max, 0);
    if op == BitOp::Not {
        out.iter_mut().for_each(|b| *b = !*b);
        return out;
    }
    for s in &sources[1..] {
        let (head, tail) = out.split_at_mut(s.len());
        match op {
            BitOp::And => {
                head.iter_mut().zip(*s).for_each(|(o, b)| *o &= b);
                tail.fill(0);
            }
            BitOp::Or => head.iter_mut().zip(*s).for_each(|(o, b)| *o |= b),
            BitOp::Xor => head.iter_mut().zip(*s).for_each(|(o, b)| *o ^= b),
            BitOp::Not => unreachable!("answered above"),
        }
    }
    out
}

fn bitfield(db: &Db, key: &[u8], ops: &[BitfieldOp]) -> Result<Vec<Option<i64>>> {
    for op in ops {
        db.check_bit_offset(op.field().1)?;
    }
    let writes = ops
        .iter()
        .filter(|op| !matches!(op, BitfieldOp::Get { .. }));
    let Some(highest) = writes
        .map(|op| {
            let (ty, offset) = op.field();
            offset + u64::from(ty.bits()) - 1
        })
        .max()
    else {
        // Only GETs: a read.
        return db.read_entry(key, |e| {
            let s = match e {
                Some(e) => e.value.as_string()?.as_slice(),
                None => &[],
            };
            Ok(ops
                .iter()
                .map(|op| {
                    let (ty, offset) = op.field();
                    Some(bits::read_field(s, ty, offset))
                })
                .collect())
        });
    };
    db.admit().key(key)?.check()?;
    let d = db.index;
    // One group record for the fields written, so a crash keeps all of them or none.
    db.write_many(&[(d, key)], |locked| {
        let mut slot = locked.slot(d, key);
        match slot.entry() {
            Some(e) => {
                e.value.as_string()?;
            }
            None => slot.put(raw(Vec::new()), None),
        }
        let Some(v) = slot.value_mut() else {
            unreachable!("checked or created just above")
        };
        let s = v.as_string_mut()?.make_vec();
        let last = (highest >> 3) as usize;
        let grown = s.len() <= last;
        if grown {
            s.resize(last + 1, 0);
        }
        let mut replies = Vec::with_capacity(ops.len());
        let mut changes = 0;
        // The bytes of each field written, copied out to be journaled once `s` is released.
        let mut written: Vec<(usize, Vec<u8>)> = Vec::new();
        for &op in ops {
            let (reply, changed) = bits::write_field(s, op);
            if reply.is_some() && !matches!(op, BitfieldOp::Get { .. }) {
                if grown || changed {
                    changes += 1;
                }
                if changed {
                    let (ty, offset) = op.field();
                    let lo = (offset >> 3) as usize;
                    let hi = ((offset + u64::from(ty.bits()) - 1) >> 3) as usize;
                    written.push((lo, s[lo..=hi].to_vec()));
                }
            }
            replies.push(reply);
        }
        if grown {
            // How far the string grew, even if no field reached its last byte.
            written.push((last, vec![s[last]]));
        }
        for (offset, data) in &written {
            slot.journal(Effect::SetRange {
                db: d,
                key,
                offset: *offset,
                data,
            });
        }
        if changes > 0 {
            slot.notify(Class::String, "setbit");
        }
        Ok(replies)
    })
}

#[cfg(test)]
mod tests {
    use crate::{
        BitOp, BitRange, BitfieldOp, BitfieldType, BitmapStore, Error, Kv, Options, Overflow,
        SetStore, Store,
    };

    fn db() -> crate::Db {
        Kv::in_memory(Options::new().shards(2)).db(0).unwrap()
    }

    #[test]
    fn setbit_grows_and_answers_the_old_bit() {
        let db = db();
        assert!(!db.setbit("k", 10, true).unwrap());
        assert_eq!(db.get("k").unwrap(), Some(vec![0, 0b0010_0000]));
        assert!(db.setbit("k", 10, false).unwrap());
        assert!(!db.getbit("k", 10).unwrap());
        assert!(!db.getbit("k", 1000).unwrap());
        assert_eq!(db.object_encoding("k").unwrap(), Some("raw"));
        assert_eq!(
            db.setbit("k", 8 << 29, true),
            Err(Error::BitOffsetOutOfRange)
        );
        db.sadd("set", &["a"]).unwrap();
        assert_eq!(db.setbit("set", 1, true), Err(Error::WrongType));
        assert_eq!(db.getbit("set", 1), Err(Error::WrongType));
    }

    #[test]
    fn bitop_combines_and_deletes_on_empty() {
        let db = db();
        db.set("a", b"\xff\x0f").unwrap();
        db.set("b", b"\x0f").unwrap();
        assert_eq!(db.bitop(BitOp::And, "d", &["a", "b"]).unwrap(), 2);
        assert_eq!(db.get("d").unwrap(), Some(vec![0x0f, 0]));
        assert_eq!(db.bitop(BitOp::Or, "d", &["a", "b"]).unwrap(), 2);
        assert_eq!(db.get("d").unwrap(), Some(vec![0xff, 0x0f]));
        assert_eq!(db.bitop(BitOp::Xor, "d", &["a", "b"]).unwrap(), 2);
        assert_eq!(db.get("d").unwrap(), Some(vec![0xf0, 0x0f]));
        assert_eq!(db.bitop(BitOp::Not, "d", &["b"]).unwrap(), 1);
        assert_eq!(db.get("d").unwrap(), Some(vec![0xf0]));
        assert_eq!(db.bitop(BitOp::Or, "d", &["x", "y"]).unwrap(), 0);
        assert_eq!(db.exists(&["d"]).unwrap(), 0);
        assert!(matches!(
            db.bitop(BitOp::Not, "d", &["a", "b"]),
            Err(Error::IncompatibleOptions(_))
        ));
    }

    #[test]
    fn bitfield_reads_writes_and_fails_softly() {
        let db = db();
        let u8t = BitfieldType::unsigned(8).unwrap();
        let ops = [
            BitfieldOp::Set {
                ty: u8t,
                offset: 0,
                value: 255,
                overflow: Overflow::Wrap,
            },
            BitfieldOp::IncrBy {
                ty: u8t,
                offset: 0,
                by: 1,
                overflow: Overflow::Fail,
            },
            BitfieldOp::Get { ty: u8t, offset: 0 },
        ];
        assert_eq!(
            db.bitfield("k", &ops).unwrap(),
            vec![Some(0), None, Some(255)]
        );
        assert_eq!(db.get("k").unwrap(), Some(vec![255]));
        let get = [BitfieldOp::Get {
            ty: BitfieldType::signed(4).unwrap(),
            offset: 4,
        }];
        assert_eq!(db.bitfield("k", &get).unwrap(), vec![Some(-1)]);
        assert_eq!(db.bitfield("missing", &get).unwrap(), vec![Some(0)]);
        assert_eq!(db.exists(&["missing"]).unwrap(), 0, "a GET creates nothing");
        assert_eq!(db.bitcount("k", Some(BitRange::bits(0, 3))).unwrap(), 4);
    }
}
