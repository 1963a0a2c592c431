//! Redis's RDB encoding, the parts kv reads and writes: lengths, strings (integer-encoded and
//! LZF-compressed as Redis writes them), and the DUMP payload's footer (RDB version and
//! CRC-64). FUNCTION DUMP / RESTORE use it today; key DUMP/RESTORE and replication's full
//! sync build on it. The byte layout is in docs/format.md (*Redis's RDB encoding*).

mod crc64;
mod file;
mod key;
mod listpack;
mod lzf;
mod stream;
mod value;

pub(crate) use crc64::crc64;
pub use file::RdbLoadInfo;
pub(crate) use file::{RdbWriter, library_name, shard_block};
pub use key::RestoreOptions;
pub(crate) use key::dump_value;

/// The RDB version Redis 7.0 writes, and the newest kv reads.
pub(crate) const VERSION: u16 = 10;
/// A function library: its code as one string (Redis 7.0 GA and later).
pub(crate) const OPCODE_FUNCTION2: u8 = 245;
/// A function library as 7.0's release candidates wrote it: name, engine, description, code.
pub(crate) const OPCODE_FUNCTION: u8 = 246;

const LEN_6BIT: u8 = 0;
const LEN_14BIT: u8 = 1;
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
const ENCODED: u8 = 3;
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// What a payload that does not decode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Corrupt;

/// Appends a length in the RDB's variable-size encoding.
pub(crate) fn put_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8 | (LEN_6BIT << 6));
    } else if len < 1 << 14 {
        out.extend_from_slice(&[(len >> 8) as u8 | (LEN_14BIT << 6), len as u8]);
    } else if let Ok(len) = u32::try_from(len) {
        out.push(LEN_32BIT);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(LEN_64BIT);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends a string as Redis's `rdbSaveRawString` does with `rdbcompression yes`: a short
/// canonical integer in 32 bits as an integer, a string over 20 bytes LZF-compressed when
/// that saves at least 4 bytes, anything else as a length and the bytes.
pub(crate) fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11
        && let Some(v) = kvnum::parse_i64(s)
    {
        let enc = |kind: u8| (ENCODED << 6) | kind;
        if let Ok(v) = i8::try_from(v) {
            out.extend_from_slice(&[enc(ENC_INT8), v as u8]);
            return;
        } else if let Ok(v) = i16::try_from(v) {
            out.push(enc(ENC_INT16));
            out.extend_from_slice(&v.to_le_bytes());
            return;
        } else if let Ok(v) = i32::try_from(v) {
            out.push(enc(ENC_INT32));
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
    }
    if s.len() > 20
        && let Some(packed) = lzf::compress(s, s.len() - 4)
    {
        out.push((ENCODED << 6) | ENC_LZF);
        put_len(out, packed.len() as u64);
        put_len(out, s.len() as u64);
        out.extend_from_slice(&packed);
        return;
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends the DUMP footer: the RDB version and the CRC-64 of everything before it, both
/// little-endian.
pub(crate) fn seal(out: &mut Vec<u8>) {
    out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc64(0, out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// The body of a DUMP payload and its RDB version, if its footer holds a version kv reads and
/// the right checksum (Redis's `verifyDumpPayload`).
pub(crate) fn open(payload: &[u8]) -> Option<(&[u8], u16)> {
    let body_len = payload.len().checked_sub(10)?;
    let footer = &payload[body_len..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > VERSION {
        return None;
    }
    let crc = u64::from_le_bytes(footer[2..].try_into().expect("eight bytes"));
    (crc64(0, &payload[..body_len + 2]) == crc).then_some((&payload[..body_len], version))
}

/// Reads RDB-encoded items from a buffer.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A length, or the kind of a specially encoded string.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn byte(&mut self) -> Result<u8, Corrupt> {
        let b = *self.buf.get(self.pos).ok_or(Corrupt)?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Corrupt> {
        let end = self.pos.checked_add(n).ok_or(Corrupt)?;
        let s = self.buf.get(self.pos..end).ok_or(Corrupt)?;
        self.pos = end;
        Ok(s)
    }

    fn len_or_encoding(&mut self) -> Result<Len, Corrupt> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            ENCODED => Len::Encoded(b & 0x3f),
            LEN_6BIT => Len::Plain(u64::from(b & 0x3f)),
            LEN_14BIT => Len::Plain((u64::from(b & 0x3f) << 8) | u64::from(self.byte()?)),
            _ if b == LEN_32BIT => Len::Plain(u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().expect("four bytes"),
            ))),
            _ if b == LEN_64BIT => Len::Plain(u64::from_be_bytes(
                self.take(8)?.try_into().expect("eight bytes"),
            )),
            _ => return Err(Corrupt),
        })
    }

    /// A length (an encoded string's marker here is corrupt).
    pub(crate) fn len(&mut self) -> Result<u64, Corrupt> {
        match self.len_or_encoding()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(Corrupt),
        }
    }

    /// A time in milliseconds: 8 bytes, little-endian (`rdbLoadMillisecondTime`).
    pub(crate) fn ms_time(&mut self) -> Result<u64, Corrupt> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("eight bytes"),
        ))
    }

    /// A double as the oldest RDBs write it: a length byte and its text, or 253, 254, 255
    /// for NaN, +inf and -inf (`rdbLoadDoubleValue`). NaN is refused.
    pub(crate) fn old_double(&mut self) -> Result<f64, Corrupt> {
        match self.byte()? {
            253 => Err(Corrupt),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => std::str::from_utf8(self.take(usize::from(n))?)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|v| !v.is_nan())
                .ok_or(Corrupt),
        }
    }

    /// A string, in any of the encodings [`put_string`] writes.
    pub(crate) fn string(&mut self) -> Result<Vec<u8>, Corrupt> {
        let int = |v: i64| v.to_string().into_bytes();
        match self.len_or_encoding()? {
            Len::Plain(n) => Ok(self
                .take(usize::try_from(n).map_err(|_| Corrupt)?)?
                .to_vec()),
            Len::Encoded(ENC_INT8) => Ok(int(i64::from(self.byte()? as i8))),
            Len::Encoded(ENC_INT16) => Ok(int(i64::from(i16::from_le_bytes(
                self.take(2)?.try_into().expect("two bytes"),
            )))),
            Len::Encoded(ENC_INT32) => Ok(int(i64::from(i32::from_le_bytes(
                self.take(4)?.try_into().expect("four bytes"),
            )))),
            Len::Encoded(ENC_LZF) => {
                let packed_len = usize::try_from(self.len()?).map_err(|_| Corrupt)?;
                let len = usize::try_from(self.len()?).map_err(|_| Corrupt)?;
                // A three-byte back reference expands to at most 264 bytes: a longer claim is
                // a lie, refused before anything is allocated for it.
                if len > packed_len.saturating_mul(88).saturating_add(32) {
                    return Err(Corrupt);
                }
                let packed = self.take(packed_len)?;
                lzf::decompress(packed, len).ok_or(Corrupt)
            }
            Len::Encoded(_) => Err(Corrupt),
        }
    }
}

#[cfg(test)]
mod tests;
