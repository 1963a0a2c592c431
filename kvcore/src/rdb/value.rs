//! A key's value in Redis's RDB encoding (version 10, as Redis 7.0 writes it): the type byte
//! and the payload, both ways.
//!
//! Writing picks the encoding Redis would have: a small hash or sorted set (OBJECT ENCODING
//! `listpack`, kv's live thresholds) as one listpack, an integer set as an intset, a list as a
//! quicklist of listpacks cut where Redis's `RPUSH` would cut them, a stream as listpack nodes
//! cut where Redis's `XADD` would (see `stream.rs`). Reading takes every type Redis 7.0 loads
//! but modules and the zipmap hashes of Redis before 2.6.

use crate::entry::Value;
use crate::types::{End, Hash, List, Set, ZAddFlags, ZSet};

use super::listpack::{self, Elem};
use super::{Corrupt, Reader, put_len, put_string};

pub(crate) const TYPE_STRING: u8 = 0;
pub(crate) const TYPE_LIST: u8 = 1;
pub(crate) const TYPE_SET: u8 = 2;
pub(crate) const TYPE_ZSET: u8 = 3;
pub(crate) const TYPE_HASH: u8 = 4;
pub(crate) const TYPE_ZSET_2: u8 = 5;
pub(crate) const TYPE_MODULE: u8 = 6;
pub(crate) const TYPE_MODULE_2: u8 = 7;
pub(crate) const TYPE_HASH_ZIPMAP: u8 = 9;
pub(crate) const TYPE_LIST_ZIPLIST: u8 = 10;
pub(crate) const TYPE_SET_INTSET: u8 = 11;
pub(crate) const TYPE_ZSET_ZIPLIST: u8 = 12;
pub(crate) const TYPE_HASH_ZIPLIST: u8 = 13;
pub(crate) const TYPE_LIST_QUICKLIST: u8 = 14;
pub(crate) const TYPE_STREAM_LISTPACKS: u8 = 15;
pub(crate) const TYPE_HASH_LISTPACK: u8 = 16;
pub(crate) const TYPE_ZSET_LISTPACK: u8 = 17;
pub(crate) const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub(crate) const TYPE_STREAM_LISTPACKS_2: u8 = 19;

/// Why a value does not load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The bytes are damaged or inconsistent.
    Corrupt,
    /// A valid type kv does not hold (a module's, or a zipmap hash).
    Unsupported(u8),
}

impl From<Corrupt> for Refusal {
    fn from(_: Corrupt) -> Refusal {
        Refusal::Corrupt
    }
}

/// Whether `kind` is a value type byte (as opposed to an RDB file opcode).
pub(crate) fn is_value_type(kind: u8) -> bool {
    kind <= TYPE_STREAM_LISTPACKS_2 && kind != 8
}

/// Appends `v`'s type byte and payload.
pub(crate) fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::String(s) => {
            out.push(TYPE_STRING);
            put_string(out, s.as_slice());
        }
        Value::List(l) => {
            out.push(TYPE_LIST_QUICKLIST_2);
            put_quicklist(out, l);
        }
        Value::Set(s) if s.encoding() == "intset" => {
            out.push(TYPE_SET_INTSET);
            let ints: Vec<i64> = s.iter().filter_map(listpack::parse_int).collect();
            put_string(out, &listpack::intset(ints));
        }
        Value::Set(s) => {
            out.push(TYPE_SET);
            put_len(out, s.len() as u64);
            for m in s.iter() {
                put_string(out, m);
            }
        }
        Value::Hash(h) if h.encoding() == "listpack" => {
            out.push(TYPE_HASH_LISTPACK);
            let mut lp = listpack::Writer::new();
            for (f, v) in h.iter() {
                lp.push(f);
                lp.push(v);
            }
            put_string(out, &lp.finish());
        }
        Value::Hash(h) => {
            out.push(TYPE_HASH);
            put_len(out, h.len() as u64);
            for (f, v) in h.iter() {
                put_string(out, f);
                put_string(out, v);
            }
        }
        Value::ZSet(z) if z.encoding() == "listpack" => {
            out.push(TYPE_ZSET_LISTPACK);
            let mut lp = listpack::Writer::new();
            for (m, score) in z.iter() {
                lp.push(m);
                lp.push(score_text(score).as_bytes());
            }
            put_string(out, &lp.finish());
        }
        Value::ZSet(z) => {
            // Redis writes a skip list from its greatest member down.
            out.push(TYPE_ZSET_2);
            put_len(out, z.len() as u64);
            let all: Vec<(&[u8], f64)> = z.iter().collect();
            for (m, score) in all.into_iter().rev() {
                put_string(out, m);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
        Value::Stream(s) => {
            out.push(TYPE_STREAM_LISTPACKS_2);
            super::stream::put_stream(out, s);
        }
    }
}

/// Redis's quicklist node size rule for `list-max-listpack-size -2`: an element joins the
/// tail node while the node's bytes plus the element's length plus 8 stay within 8 KiB.
const NODE_LIMIT: usize = 8192;
const NODE_OVERHEAD: usize = 8;
const CONTAINER_PACKED: u64 = 2;
const CONTAINER_PLAIN: u64 = 1;

fn put_quicklist(out: &mut Vec<u8>, l: &List) {
    let mut nodes: Vec<Vec<u8>> = Vec::new();
    let mut cur: Option<listpack::Writer> = None;
    for e in l.iter() {
        if let Some(w) = &cur
            && w.bytes() + e.len() + NODE_OVERHEAD > NODE_LIMIT
        {
            nodes.push(cur.take().expect("checked above").finish());
        }
        cur.get_or_insert_with(listpack::Writer::new).push(e);
    }
    nodes.extend(cur.map(listpack::Writer::finish));
    put_len(out, nodes.len() as u64);
    for node in nodes {
        put_len(out, CONTAINER_PACKED);
        put_string(out, &node);
    }
}

/// A score as Redis 7.0's `d2string` writes it into a listpack: an integer below 2^52 in
/// decimal, anything else as `%.17g`.
pub(crate) fn score_text(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if v > -4_503_599_627_370_495.0 && v < 4_503_599_627_370_496.0 && v == (v as i64) as f64 {
        return (v as i64).to_string();
    }
    format_g17(v)
}

/// C's `%.17g` of a finite, non-zero double.
pub(crate) fn format_g17(v: f64) -> String {
    // Rust's `{:e}` with a precision rounds exactly, as glibc's printf does.
    let sci = format!("{:.16e}", v);
    let (mantissa, exp) = sci.split_once('e').expect("scientific notation");
    let exp: i32 = exp.parse().expect("an exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if !(-4..17).contains(&exp) {
        let d = digits.trim_end_matches('0');
        out.push_str(&d[..1]);
        if d.len() > 1 {
            out.push('.');
            out.push_str(&d[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits.trim_end_matches('0'));
    } else {
        let point = exp as usize + 1;
        let (int, frac) = digits.split_at(point);
        out.push_str(int);
        let frac = frac.trim_end_matches('0');
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
    }
    out
}

/// A score read from a listpack, ziplist or an old RDB as text (`strtod`).
fn parse_score(e: Elem<'_>) -> Result<f64, Corrupt> {
    let v = match e {
        Elem::Int(v) => v as f64,
        Elem::Str(s) => std::str::from_utf8(s)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or(Corrupt)?,
    };
    if v.is_nan() { Err(Corrupt) } else { Ok(v) }
}

/// Reads a value of type `kind`.
///
/// # Errors
/// [`Refusal::Corrupt`] for damaged bytes, duplicate members or fields, an empty container;
/// [`Refusal::Unsupported`] for a module value or a zipmap hash.
pub(crate) fn read_value(kind: u8, r: &mut Reader<'_>) -> Result<Value, Refusal> {
    let v = match kind {
        TYPE_STRING => Value::string(&r.string()?),
        TYPE_LIST => {
            let n = r.len()?;
            let mut l = List::new();
            for _ in 0..n {
                l.push(End::Right, &r.string()?);
            }
            Value::List(l)
        }
        TYPE_LIST_ZIPLIST => {
            let blob = r.string()?;
            let mut l = List::new();
            for e in listpack::ziplist(&blob)? {
                l.push(End::Right, &e.to_vec());
            }
            Value::List(l)
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let nodes = r.len()?;
            let mut l = List::new();
            for _ in 0..nodes {
                let container = if kind == TYPE_LIST_QUICKLIST_2 {
                    r.len()?
                } else {
                    CONTAINER_PACKED
                };
                let blob = r.string()?;
                match container {
                    CONTAINER_PLAIN => l.push(End::Right, &blob),
                    CONTAINER_PACKED => {
                        let elems = if kind == TYPE_LIST_QUICKLIST_2 {
                            listpack::elements(&blob)?
                        } else {
                            listpack::ziplist(&blob)?
                        };
                        // Redis refuses an empty node.
                        if elems.is_empty() {
                            return Err(Refusal::Corrupt);
                        }
                        for e in elems {
                            l.push(End::Right, &e.to_vec());
                        }
                    }
                    _ => return Err(Refusal::Corrupt),
                }
            }
            Value::List(l)
        }
        TYPE_SET => {
            let n = r.len()?;
            let mut s = Set::new();
            for _ in 0..n {
                if !s.add(&r.string()?) {
                    return Err(Refusal::Corrupt);
                }
            }
            Value::Set(s)
        }
        TYPE_SET_INTSET => {
            let blob = r.string()?;
            let mut s = Set::new();
            for v in listpack::intset_members(&blob)? {
                s.add(v.to_string().as_bytes());
            }
            Value::Set(s)
        }
        TYPE_HASH => {
            let n = r.len()?;
            let mut h = Hash::new();
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                if !h.set(&f, &v) {
                    return Err(Refusal::Corrupt);
                }
            }
            Value::Hash(h)
        }
        TYPE_HASH_LISTPACK | TYPE_HASH_ZIPLIST => {
            let blob = r.string()?;
            let elems = if kind == TYPE_HASH_LISTPACK {
                listpack::elements(&blob)?
            } else {
                listpack::ziplist(&blob)?
            };
            if elems.len() % 2 != 0 {
                return Err(Refusal::Corrupt);
            }
            let mut h = Hash::new();
            for pair in elems.chunks_exact(2) {
                if !h.set(&pair[0].to_vec(), &pair[1].to_vec()) {
                    return Err(Refusal::Corrupt);
                }
            }
            Value::Hash(h)
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.len()?;
            let mut z = ZSet::new();
            for _ in 0..n {
                let m = r.string()?;
                let score = if kind == TYPE_ZSET_2 {
                    f64::from_le_bytes(r.take(8)?.try_into().expect("eight bytes"))
                } else {
                    r.old_double()?
                };
                add_member(&mut z, &m, score)?;
            }
            Value::ZSet(z)
        }
        TYPE_ZSET_LISTPACK | TYPE_ZSET_ZIPLIST => {
            let blob = r.string()?;
            let elems = if kind == TYPE_ZSET_LISTPACK {
                listpack::elements(&blob)?
            } else {
                listpack::ziplist(&blob)?
            };
            if elems.len() % 2 != 0 {
                return Err(Refusal::Corrupt);
            }
            let mut z = ZSet::new();
            for pair in elems.chunks_exact(2) {
                add_member(&mut z, &pair[0].to_vec(), parse_score(pair[1])?)?;
            }
            Value::ZSet(z)
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => Value::Stream(Box::new(
            super::stream::read_stream(r, kind == TYPE_STREAM_LISTPACKS_2)?,
        )),
        TYPE_MODULE | TYPE_MODULE_2 | TYPE_HASH_ZIPMAP => return Err(Refusal::Unsupported(kind)),
        _ => return Err(Refusal::Corrupt),
    };
    // Redis refuses an empty container (`RDB_LOAD_ERR_EMPTY_KEY`); streams may be empty.
    if v.is_empty_container() {
        return Err(Refusal::Corrupt);
    }
    Ok(v)
}

fn add_member(z: &mut ZSet, member: &[u8], score: f64) -> Result<(), Corrupt> {
    if z.score(member).is_some() {
        return Err(Corrupt);
    }
    z.add(score, member, &ZAddFlags::default())
        .map(drop)
        .map_err(|_| Corrupt)
}
