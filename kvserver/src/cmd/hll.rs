//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST (kvcore's `HllStore`,
//! in Redis's own string layout).

use kvcore::{HllDebug, HllDebugInfo, HllStore};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, is};
use super::error::{CmdError, c_str, raw_error};
use super::spec::{Begin::Index, Find::Range, Group, a, ks};
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("pfadd", -2, "write denyoom fast", pfadd)
        .acl("@hyperloglog").keys(&[ks("RW insert", Index(1), Range(0, 1, 0))])
        .doc(Group::Hyperloglog, "2.8.9", "Adds the specified elements to the specified HyperLogLog.")
        .complexity("O(1) to add every element.")
        .args(&[a("key", "key").key(0), a("element", "string").flags("optional multiple")]),
    Command::new("pfcount", -2, "readonly may_replicate", pfcount)
        .acl("@hyperloglog")
        .keys(&[ks("RW access", Index(1), Range(-1, 1, 0))
            .notes("RW because it may change the internal representation of the key, and propagate to replicas")])
        .doc(Group::Hyperloglog, "2.8.9", "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).")
        .complexity("O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.")
        .args(&[a("key", "key").key(0).flags("multiple")]),
    Command::new("pfdebug", 3, "write denyoom admin", pfdebug)
        .acl("@hyperloglog").keys(&[ks("RW access", Index(2), Range(0, 1, 0))])
        .doc(Group::Hyperloglog, "2.8.9", "Internal commands for debugging HyperLogLog values")
        .complexity("N/A")
        .args(&[a("subcommand", "string"), a("key", "key").key(0)]),
    Command::new("pfmerge", -2, "write denyoom", pfmerge)
        .acl("@hyperloglog")
        .keys(&[ks("RW access insert", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Range(-1, 1, 0))])
        .doc(Group::Hyperloglog, "2.8.9", "Merge N different HyperLogLogs into a single one.")
        .complexity("O(N) to merge N HyperLogLogs, but with high constant times.")
        .args(&[a("destkey", "key").key(0), a("sourcekey", "key").key(1).flags("multiple")]),
    Command::new("pfselftest", 1, "admin", pfselftest)
        .acl("@hyperloglog")
        .doc(Group::Hyperloglog, "2.8.9", "An internal command for testing HyperLogLog values")
        .complexity("N/A"),
];

/// PFADD key [element ...]
fn pfadd(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let elements: Vec<&[u8]> = req.args().skip(2).collect();
    let changed = ctx.s.db.pfadd(req.arg(1), &elements)?;
    ctx.int(i64::from(changed))
}

/// PFCOUNT key [key ...]
fn pfcount(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let keys: Vec<&[u8]> = req.args().skip(1).collect();
    let n = ctx.s.db.pfcount(&keys)?;
    ctx.int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// PFMERGE destkey [sourcekey ...]
fn pfmerge(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let sources: Vec<&[u8]> = req.args().skip(2).collect();
    ctx.s.db.pfmerge(req.arg(1), &sources)?;
    ctx.ok()
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key: the key is looked up and checked before the
/// subcommand, as in Redis.
fn pfdebug(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let sub = req.arg(1);
    let what = match sub {
        s if is(s, "getreg") => HllDebug::Registers,
        s if is(s, "decode") => HllDebug::Decode,
        s if is(s, "encoding") => HllDebug::Encoding,
        s if is(s, "todense") => HllDebug::ToDense,
        _ => HllDebug::Check,
    };
    let Some(info) = ctx.s.db.pfdebug(req.arg(2), what)? else {
        return Err(CmdError::Msg("ERR The specified key does not exist"));
    };
    let mut w = ctx.w();
    match info {
        HllDebugInfo::Registers(regs) => {
            w.array_len(regs.len());
            for r in regs {
                w.integer(i64::from(r));
            }
        }
        HllDebugInfo::Decoded(Some(text)) => w.bulk(text.as_bytes()),
        HllDebugInfo::Decoded(None) => {
            return Err(CmdError::Msg("ERR HLL encoding is not sparse"));
        }
        HllDebugInfo::Encoding(name) => w.simple(name.as_bytes()),
        HllDebugInfo::Converted(c) => w.integer(i64::from(c)),
        HllDebugInfo::Checked => {
            return Err(raw_error(&[
                b"ERR Unknown PFDEBUG subcommand '",
                c_str(sub),
                b"'",
            ]));
        }
    }
    Ok(())
}

/// PFSELFTEST: kvcore's register and estimate self-test (about a second: ten million adds).
fn pfselftest(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let seed = ctx.s.db.kv().now_ms() | 1;
    match kvcore::hll_selftest(seed) {
        Ok(()) => ctx.ok(),
        Err(e) => Err(CmdError::Text(format!("ERR {e}"))),
    }
}
