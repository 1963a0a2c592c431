//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO. The work
//! is kvcore's (`BitmapStore`); this file parses arguments in Redis's order, so the first error
//! Redis would report is the one answered.

use std::sync::atomic::Ordering;

use kvcore::{BitOp, BitRange, BitUnit, BitfieldOp, BitfieldType, BitmapStore, Overflow, Store};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is, parse_i64};
use super::error::{CmdError, SYNTAX};
use super::spec::{Begin::Index, Find::Range, Group, a, ks};
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("bitcount", -2, "readonly", bitcount)
        .acl("@bitmap").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Bitmap, "2.6.0", "Count set bits in a string")
        .complexity("O(N)")
        .history(&[("7.0.0", "Added the `BYTE|BIT` option.")])
        .args(&[
            a("key", "key").key(0),
            a("index", "block").flags("optional").args(&[
                a("start", "integer"),
                a("end", "integer"),
                a("index_unit", "oneof").since("7.0.0").flags("optional").args(UNIT),
            ]),
        ]),
    Command::new("bitfield", -2, "write denyoom", bitfield)
        .acl("@bitmap")
        .keys(&[ks("RW access update variable_flags", Index(1), Range(0, 1, 0))
            .notes("This command allows both access and modification of the key")])
        .doc(Group::Bitmap, "3.2.0", "Perform arbitrary bitfield integer operations on strings")
        .complexity("O(1) for each subcommand specified")
        .args(&[
            a("key", "key").key(0),
            a("operation", "oneof").flags("optional multiple").args(&[
                a("encoding_offset", "block").token("GET")
                    .args(&[a("encoding", "string"), a("offset", "integer")]),
                a("write", "block").args(&[
                    a("wrap_sat_fail", "oneof").token("OVERFLOW").flags("optional").args(&[
                        a("wrap", "pure-token").token("WRAP"),
                        a("sat", "pure-token").token("SAT"),
                        a("fail", "pure-token").token("FAIL"),
                    ]),
                    a("write_operation", "oneof").args(&[
                        a("encoding_offset_value", "block").token("SET").args(&[
                            a("encoding", "string"), a("offset", "integer"), a("value", "integer"),
                        ]),
                        a("encoding_offset_increment", "block").token("INCRBY").args(&[
                            a("encoding", "string"), a("offset", "integer"), a("increment", "integer"),
                        ]),
                    ]),
                ]),
            ]),
        ]),
    Command::new("bitfield_ro", -2, "readonly fast", bitfield_ro)
        .acl("@bitmap").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Bitmap, "6.0.0", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD")
        .complexity("O(1) for each subcommand specified")
        .args(&[
            a("key", "key").key(0),
            a("encoding_offset", "block").token("GET").flags("optional multiple multiple_token")
                .args(&[a("encoding", "string"), a("offset", "integer")]),
        ]),
    Command::new("bitop", -4, "write denyoom", bitop)
        .acl("@bitmap")
        .keys(&[ks("OW update", Index(2), Range(0, 1, 0)), ks("RO access", Index(3), Range(-1, 1, 0))])
        .doc(Group::Bitmap, "2.6.0", "Perform bitwise operations between strings")
        .complexity("O(N)")
        .args(&[
            a("operation", "string"),
            a("destkey", "key").key(0),
            a("key", "key").key(1).flags("multiple"),
        ]),
    Command::new("bitpos", -3, "readonly", bitpos)
        .acl("@bitmap").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Bitmap, "2.8.7", "Find first bit set or clear in a string")
        .complexity("O(N)")
        .history(&[("7.0.0", "Added the `BYTE|BIT` option.")])
        .args(&[
            a("key", "key").key(0),
            a("bit", "integer"),
            a("index", "block").flags("optional").args(&[
                a("start", "integer"),
                a("end_index", "block").flags("optional").args(&[
                    a("end", "integer"),
                    a("index_unit", "oneof").since("7.0.0").flags("optional").args(UNIT),
                ]),
            ]),
        ]),
    Command::new("getbit", 3, "readonly fast", getbit)
        .acl("@bitmap").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Bitmap, "2.2.0", "Returns the bit value at offset in the string value stored at key")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("offset", "integer")]),
    Command::new("setbit", 4, "write denyoom", setbit)
        .acl("@bitmap").keys(&[ks("RW access update", Index(1), Range(0, 1, 0))])
        .doc(Group::Bitmap, "2.2.0", "Sets or clears the bit at offset in the string value stored at key")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("offset", "integer"), a("value", "integer")]),
];

#[rustfmt::skip]
static UNIT: &[super::spec::Arg] = &[
    a("byte", "pure-token").token("BYTE"),
    a("bit", "pure-token").token("BIT"),
];

const BAD_OFFSET: CmdError = CmdError::Msg("ERR bit offset is not an integer or out of range");

/// Redis's `getBitOffsetFromArgument`: a bit offset whose byte lies within
/// `proto-max-bulk-len`; with `bits` (BITFIELD) a `#n` offset counts fields of that width.
fn bit_offset_arg(ctx: &Ctx<'_>, b: &[u8], bits: Option<u8>) -> Result<u64, CmdError> {
    let (hash, digits) = match (b.first(), bits) {
        (Some(b'#'), Some(_)) => (true, &b[1..]),
        _ => (false, b),
    };
    let mut n = parse_i64(digits).ok_or(BAD_OFFSET)?;
    if hash {
        n = n.wrapping_mul(i64::from(bits.unwrap_or(1)));
    }
    let max = ctx.s.shared.live.proto_max_bulk_len.load(Ordering::Relaxed);
    match u64::try_from(n) {
        Ok(n) if n >> 3 < max => Ok(n),
        _ => Err(BAD_OFFSET),
    }
}

/// SETBIT key offset value
fn setbit(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let offset = bit_offset_arg(ctx, req.arg(2), None)?;
    const BAD_BIT: CmdError = CmdError::Msg("ERR bit is not an integer or out of range");
    let on = match parse_i64(req.arg(3)) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(BAD_BIT),
    };
    let old = ctx.s.db.setbit(req.arg(1), offset, on)?;
    ctx.int(i64::from(old))
}

/// GETBIT key offset
fn getbit(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let offset = bit_offset_arg(ctx, req.arg(2), None)?;
    let bit = ctx.s.db.getbit(req.arg(1), offset)?;
    ctx.int(i64::from(bit))
}

fn unit_arg(b: &[u8]) -> Result<BitUnit, CmdError> {
    if is(b, "bit") {
        Ok(BitUnit::Bit)
    } else if is(b, "byte") {
        Ok(BitUnit::Byte)
    } else {
        Err(SYNTAX)
    }
}

/// An argument error that Redis finds only once it has looked the key up: a missing key
/// answers `missing` instead, another type WRONGTYPE.
fn after_lookup(ctx: &mut Ctx<'_>, key: &[u8], e: CmdError, missing: i64) -> CmdResult {
    if ctx.s.db.get_with(key, |v| v.is_some())? {
        Err(e)
    } else {
        ctx.int(missing)
    }
}

/// BITCOUNT key [start end [BYTE|BIT]]
fn bitcount(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let range = || -> Result<Option<BitRange>, CmdError> {
        match req.len() {
            2 => Ok(None),
            4 | 5 => {
                let start = int_arg(req.arg(2))?;
                let end = int_arg(req.arg(3))?;
                // Both negative and crossed: empty, whatever the unit says.
                if start < 0 && end < 0 && start > end {
                    return Ok(Some(BitRange::bytes(start, end)));
                }
                let unit = if req.len() == 5 {
                    unit_arg(req.arg(4))?
                } else {
                    BitUnit::Byte
                };
                Ok(Some(BitRange::bytes(start, end).unit(unit)))
            }
            _ => Err(SYNTAX),
        }
    };
    match range() {
        Ok(r) => {
            let n = ctx.s.db.bitcount(req.arg(1), r)?;
            ctx.int(n as i64)
        }
        Err(e) => after_lookup(ctx, req.arg(1), e, 0),
    }
}

/// BITPOS key bit [start [end [BYTE|BIT]]]
fn bitpos(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let bit = match int_arg(req.arg(2))? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::Msg("ERR The bit argument must be 1 or 0.")),
    };
    let range = || -> Result<Option<BitRange>, CmdError> {
        match req.len() {
            3 => Ok(None),
            4..=6 => {
                let start = int_arg(req.arg(3))?;
                let unit = if req.len() == 6 {
                    unit_arg(req.arg(5))?
                } else {
                    BitUnit::Byte
                };
                let r = if req.len() >= 5 {
                    BitRange::bytes(start, int_arg(req.arg(4))?)
                } else {
                    BitRange::from(start)
                };
                Ok(Some(r.unit(unit)))
            }
            _ => Err(SYNTAX),
        }
    };
    match range() {
        Ok(r) => {
            let p = ctx.s.db.bitpos(req.arg(1), bit, r)?;
            ctx.int(p)
        }
        Err(e) => after_lookup(ctx, req.arg(1), e, if bit { -1 } else { 0 }),
    }
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]
fn bitop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let op = match req.arg(1) {
        o if is(o, "and") => BitOp::And,
        o if is(o, "or") => BitOp::Or,
        o if is(o, "xor") => BitOp::Xor,
        o if is(o, "not") => BitOp::Not,
        _ => return Err(SYNTAX),
    };
    let keys: Vec<&[u8]> = req.args().skip(3).collect();
    let n = ctx.s.db.bitop(op, req.arg(2), &keys)?;
    ctx.int(n as i64)
}

/// BITFIELD's operations in Redis's parse order (each op's type, offset and value, in turn).
fn bitfield_ops(ctx: &Ctx<'_>, req: &Request<'_>) -> Result<Vec<BitfieldOp>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < req.len() {
        let rest = req.len() - j - 1;
        let sub = req.arg(j);
        let write = if is(sub, "get") && rest >= 2 {
            false
        } else if (is(sub, "set") || is(sub, "incrby")) && rest >= 3 {
            true
        } else if is(sub, "overflow") && rest >= 1 {
            let t = req.arg(j + 1);
            overflow = if is(t, "wrap") {
                Overflow::Wrap
            } else if is(t, "sat") {
                Overflow::Sat
            } else if is(t, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::Msg("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(SYNTAX);
        };
        let ty = BitfieldType::parse(req.arg(j + 1)).ok_or(CmdError::Msg(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not \
             supported but i64 is.",
        ))?;
        let offset = bit_offset_arg(ctx, req.arg(j + 2), Some(ty.bits()))?;
        ops.push(if !write {
            BitfieldOp::Get { ty, offset }
        } else if is(sub, "set") {
            let value = int_arg(req.arg(j + 3))?;
            BitfieldOp::Set {
                ty,
                offset,
                value,
                overflow,
            }
        } else {
            let by = int_arg(req.arg(j + 3))?;
            BitfieldOp::IncrBy {
                ty,
                offset,
                by,
                overflow,
            }
        });
        j += if write { 4 } else { 3 };
    }
    Ok(ops)
}

fn reply_fields(ctx: &mut Ctx<'_>, replies: &[Option<i64>]) -> CmdResult {
    let mut w = ctx.w();
    w.array_len(replies.len());
    for r in replies {
        match r {
            Some(n) => w.integer(*n),
            None => w.null(),
        }
    }
    Ok(())
}

/// BITFIELD key [GET type offset | [OVERFLOW WRAP|SAT|FAIL] SET|INCRBY type offset value ...]
fn bitfield(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let ops = bitfield_ops(ctx, req)?;
    let replies = ctx.s.db.bitfield(req.arg(1), &ops)?;
    reply_fields(ctx, &replies)
}

/// BITFIELD_RO key [GET type offset ...]
fn bitfield_ro(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let ops = bitfield_ops(ctx, req)?;
    if ops.iter().any(|op| !matches!(op, BitfieldOp::Get { .. })) {
        return Err(CmdError::Msg(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let replies = ctx.s.db.bitfield(req.arg(1), &ops)?;
    reply_fields(ctx, &replies)
}
