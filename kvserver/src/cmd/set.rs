//! Set commands over `kvcore::SetStore`.

use kvcore::{SetOp, SetStore};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is, positive_arg, random_count_arg, random_count_cap};
use super::error::{CmdError, SYNTAX};
use super::keys::{cursor_arg, scan_options, scan_reply};
use super::list::numkeys_or;
use super::spec::{
    Begin::Index,
    Find::{Keynum, Range},
    Group, a, ks,
};
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("sadd", -3, "write denyoom fast", sadd)
        .acl("@set").keys(&[ks("RW insert", Index(1), Range(0, 1, 0))])
        .doc(Group::Set, "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.")
        .complexity("O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
        .history(&[("2.4.0", "Accepts multiple `member` arguments.")])
        .args(&[a("key", "key").key(0), a("member", "string").flags("multiple")]),
    Command::new("scard", 2, "readonly fast", scard)
        .acl("@set").keys(&[ks("RO", Index(1), Range(0, 1, 0))])
        .doc(Group::Set, "1.0.0", "Returns the number of members in a set.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("sdiff", -2, "readonly", sdiff)
        .acl("@set").tips(&["nondeterministic_output_order"]).keys(&[ks("RO access", Index(1), Range(-1, 1, 0))])
        .doc(Group::Set, "1.0.0", "Returns the difference of multiple sets.")
        .complexity("O(N) where N is the total number of elements in all given sets.")
        .args(&[a("key", "key").key(0).flags("multiple")]),
    Command::new("sdiffstore", -3, "write denyoom", sdiffstore)
        .acl("@set").keys(&[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Range(-1, 1, 0))])
        .doc(Group::Set, "1.0.0", "Stores the difference of multiple sets in a key.")
        .complexity("O(N) where N is the total number of elements in all given sets.")
        .args(&[a("destination", "key").key(0), a("key", "key").key(1).flags("multiple")]),
    Command::new("sinter", -2, "readonly", sinter)
        .acl("@set").tips(&["nondeterministic_output_order"]).keys(&[ks("RO access", Index(1), Range(-1, 1, 0))])
        .doc(Group::Set, "1.0.0", "Returns the intersect of multiple sets.")
        .complexity("O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.")
        .args(&[a("key", "key").key(0).flags("multiple")]),
    Command::new("sintercard", -3, "readonly", sintercard)
        .acl("@set").keys(&[ks("RO access", Index(1), Keynum(0, 1, 1))])
        .doc(Group::Set, "7.0.0", "Returns the number of members of the intersect of multiple sets.")
        .complexity("O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.")
        .args(&[
            a("numkeys", "integer"),
            a("key", "key").key(0).flags("multiple"),
            a("limit", "integer").token("LIMIT").flags("optional"),
        ]),
    Command::new("sinterstore", -3, "write denyoom", sinterstore)
        .acl("@set").keys(&[ks("RW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Range(-1, 1, 0))])
        .doc(Group::Set, "1.0.0", "Stores the intersect of multiple sets in a key.")
        .complexity("O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.")
        .args(&[a("destination", "key").key(0), a("key", "key").key(1).flags("multiple")]),
    Command::new("sismember", 3, "readonly fast", sismember)
        .acl("@set").keys(&[ks("RO", Index(1), Range(0, 1, 0))])
        .doc(Group::Set, "1.0.0", "Determines whether a member belongs to a set.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("member", "string")]),
    Command::new("smembers", 2, "readonly", smembers)
        .acl("@set").tips(&["nondeterministic_output_order"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Set, "1.0.0", "Returns all members of a set.")
        .complexity("O(N) where N is the set cardinality.")
        .args(&[a("key", "key").key(0)]),
    Command::new("smismember", -3, "readonly fast", smismember)
        .acl("@set").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Set, "6.2.0", "Determines whether multiple members belong to a set.")
        .complexity("O(N) where N is the number of elements being checked for membership")
        .args(&[a("key", "key").key(0), a("member", "string").flags("multiple")]),
    Command::new("smove", 4, "write fast", smove)
        .acl("@set")
        .keys(&[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("RW insert", Index(2), Range(0, 1, 0))])
        .doc(Group::Set, "1.0.0", "Moves a member from one set to another.")
        .complexity("O(1)")
        .args(&[a("source", "key").key(0), a("destination", "key").key(1), a("member", "string")]),
    Command::new("spop", -2, "write fast", spop)
        .acl("@set").tips(&["nondeterministic_output"]).keys(&[ks("RW access delete", Index(1), Range(0, 1, 0))])
        .doc(Group::Set, "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.")
        .complexity("Without the count argument O(1), otherwise O(N) where N is the value of the passed count.")
        .history(&[("3.2.0", "Added the `count` argument.")])
        .args(&[a("key", "key").key(0), a("count", "integer").since("3.2.0").flags("optional")]),
    Command::new("srandmember", -2, "readonly", srandmember)
        .acl("@set").tips(&["nondeterministic_output"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Set, "1.0.0", "Get one or multiple random members from a set")
        .complexity("Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.")
        .history(&[("2.6.0", "Added the optional `count` argument.")])
        .args(&[a("key", "key").key(0), a("count", "integer").since("2.6.0").flags("optional")]),
    Command::new("srem", -3, "write fast", srem)
        .acl("@set").keys(&[ks("RW delete", Index(1), Range(0, 1, 0))])
        .doc(Group::Set, "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.")
        .complexity("O(N) where N is the number of members to be removed.")
        .history(&[("2.4.0", "Accepts multiple `member` arguments.")])
        .args(&[a("key", "key").key(0), a("member", "string").flags("multiple")]),
    Command::new("sscan", -3, "readonly", sscan)
        .acl("@set").tips(&["nondeterministic_output"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Set, "2.8.0", "Iterates over members of a set.")
        .complexity("O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..")
        .args(&[
            a("key", "key").key(0),
            a("cursor", "integer"),
            a("pattern", "pattern").token("MATCH").flags("optional"),
            a("count", "integer").token("COUNT").flags("optional"),
        ]),
    Command::new("sunion", -2, "readonly", sunion)
        .acl("@set").tips(&["nondeterministic_output_order"]).keys(&[ks("RO access", Index(1), Range(-1, 1, 0))])
        .doc(Group::Set, "1.0.0", "Returns the union of multiple sets.")
        .complexity("O(N) where N is the total number of elements in all given sets.")
        .args(&[a("key", "key").key(0).flags("multiple")]),
    Command::new("sunionstore", -3, "write denyoom", sunionstore)
        .acl("@set").keys(&[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Range(-1, 1, 0))])
        .doc(Group::Set, "1.0.0", "Stores the union of multiple sets in a key.")
        .complexity("O(N) where N is the total number of elements in all given sets.")
        .args(&[a("destination", "key").key(0), a("key", "key").key(1).flags("multiple")]),
];

fn from<'r>(req: &'r Request<'_>, at: usize) -> Vec<&'r [u8]> {
    req.args().skip(at).collect()
}

fn sadd(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() == 3 {
        // One member (the usual SADD): no Vec for the members.
        let n = ctx.s.db.sadd(req.arg(1), &[req.arg(2)])?;
        return ctx.int(n as i64);
    }
    let n = ctx.s.db.sadd(req.arg(1), &from(req, 2))?;
    ctx.int(n as i64)
}

fn srem(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.srem(req.arg(1), &from(req, 2))?;
    ctx.int(n as i64)
}

fn sismember(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let found = ctx.s.db.sismember(req.arg(1), req.arg(2))?;
    ctx.int(i64::from(found))
}

fn smismember(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let found = ctx.s.db.smismember(req.arg(1), &from(req, 2))?;
    let mut w = ctx.w();
    w.array_len(found.len());
    for f in found {
        w.integer(i64::from(f));
    }
    Ok(())
}

fn scard(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.scard(req.arg(1))?;
    ctx.int(n as i64)
}

fn smembers(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.smembers(req.arg(1))?;
    ctx.bulk_set(&items)
}

/// SPOP key [count]
fn spop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    match req.len() {
        2 => {
            let v = ctx.s.db.spop(req.arg(1))?;
            ctx.bulk_or_null(v.as_deref())
        }
        3 => {
            let count = positive_arg(req.arg(2))?;
            let items = ctx.s.db.spop_count(req.arg(1), count)?;
            ctx.bulk_set(&items)
        }
        _ => Err(SYNTAX),
    }
}

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    match req.len() {
        2 => {
            let v = ctx.s.db.srandmember(req.arg(1))?;
            ctx.bulk_or_null(v.as_deref())
        }
        3 => {
            let count = random_count_arg(req.arg(2))?;
            if random_count_cap(count) && ctx.s.db.scard(req.arg(1))? > 0 {
                return Err(CmdError::Msg("ERR value is out of range"));
            }
            let count = if random_count_cap(count) { 0 } else { count };
            let items = ctx.s.db.srandmember_count(req.arg(1), count)?;
            ctx.bulks(&items)
        }
        _ => Err(SYNTAX),
    }
}

fn smove(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let moved = ctx.s.db.smove(req.arg(1), req.arg(2), req.arg(3))?;
    ctx.int(i64::from(moved))
}

fn sinter(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.sinter(&from(req, 1))?;
    ctx.bulk_set(&items)
}

fn sunion(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.sunion(&from(req, 1))?;
    ctx.bulk_set(&items)
}

fn sdiff(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.sdiff(&from(req, 1))?;
    ctx.bulk_set(&items)
}

fn store(ctx: &mut Ctx<'_>, req: &Request<'_>, op: SetOp) -> CmdResult {
    let n = ctx.s.db.sstore(op, req.arg(1), &from(req, 2))?;
    ctx.int(n as i64)
}

fn sinterstore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    store(ctx, req, SetOp::Inter)
}

fn sunionstore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    store(ctx, req, SetOp::Union)
}

fn sdiffstore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    store(ctx, req, SetOp::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (keys, next) = numkeys_or(
        req,
        1,
        CmdError::Msg("ERR Number of keys can't be greater than number of args"),
    )?;
    let limit = limit_arg(req, next)?;
    let n = ctx.s.db.sintercard(&keys, limit)?;
    ctx.int(n as i64)
}

/// `[LIMIT limit]` of SINTERCARD/ZINTERCARD: 0 (none) without it.
pub(super) fn limit_arg(req: &Request<'_>, at: usize) -> Result<usize, CmdError> {
    match req.len() - at {
        0 => Ok(0),
        2 if is(req.arg(at), "limit") => {
            let n = int_arg(req.arg(at + 1))?;
            usize::try_from(n).map_err(|_| CmdError::Msg("ERR LIMIT can't be negative"))
        }
        _ => Err(SYNTAX),
    }
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let cursor = cursor_arg(req.arg(2))?;
    let opts = scan_options(req, 3)?;
    let (next, items) = ctx.s.db.sscan(req.arg(1), cursor, &opts)?;
    scan_reply(ctx, next, &items)
}
