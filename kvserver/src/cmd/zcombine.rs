//! Sorted sets combined: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD (the other
//! sorted-set commands are in `zset.rs`).

use kvcore::{Aggregate, KeyType, Store, ZOp, ZSetStore, parse_score};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, SYNTAX};
use super::set::limit_arg;
use super::spec::{
    Begin::Index,
    Find::{Keynum, Range},
    Group, a, ks,
};
use super::table::Command;
use super::zset::scored;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("zdiff", -3, "readonly", zdiff)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Keynum(0, 1, 1))])
        .doc(Group::SortedSet, "6.2.0", "Returns the difference between multiple sorted sets.")
        .complexity("O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.")
        .args(&[
            a("numkeys", "integer"),
            a("key", "key").key(0).flags("multiple"),
            a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
        ]),
    Command::new("zdiffstore", -4, "write denyoom", zdiffstore)
        .acl("@sortedset")
        .keys(&[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Keynum(0, 1, 1))])
        .doc(Group::SortedSet, "6.2.0", "Stores the difference of multiple sorted sets in a key.")
        .complexity("O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.")
        .args(&[
            a("destination", "key").key(0),
            a("numkeys", "integer"),
            a("key", "key").key(1).flags("multiple"),
        ]),
    Command::new("zinter", -3, "readonly", zinter)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Keynum(0, 1, 1))])
        .doc(Group::SortedSet, "6.2.0", "Returns the intersect of multiple sorted sets.")
        .complexity("O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.")
        .args(&[
            a("numkeys", "integer"),
            a("key", "key").key(0).flags("multiple"),
            a("weight", "integer").token("WEIGHTS").flags("optional multiple"),
            a("aggregate", "oneof").token("AGGREGATE").flags("optional").args(&[
                a("sum", "pure-token").token("SUM"),
                a("min", "pure-token").token("MIN"),
                a("max", "pure-token").token("MAX"),
            ]),
            a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
        ]),
    Command::new("zintercard", -3, "readonly", zintercard)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Keynum(0, 1, 1))])
        .doc(Group::SortedSet, "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.")
        .complexity("O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.")
        .args(&[
            a("numkeys", "integer"),
            a("key", "key").key(0).flags("multiple"),
            a("limit", "integer").token("LIMIT").flags("optional"),
        ]),
    Command::new("zinterstore", -4, "write denyoom", zinterstore)
        .acl("@sortedset")
        .keys(&[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Keynum(0, 1, 1))])
        .doc(Group::SortedSet, "2.0.0", "Stores the intersect of multiple sorted sets in a key.")
        .complexity("O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.")
        .args(&[
            a("destination", "key").key(0),
            a("numkeys", "integer"),
            a("key", "key").key(1).flags("multiple"),
            a("weight", "integer").token("WEIGHTS").flags("optional multiple"),
            a("aggregate", "oneof").token("AGGREGATE").flags("optional").args(&[
                a("sum", "pure-token").token("SUM"),
                a("min", "pure-token").token("MIN"),
                a("max", "pure-token").token("MAX"),
            ]),
        ]),
    Command::new("zunion", -3, "readonly", zunion)
        .acl("@sortedset").keys(&[ks("RO access", Index(1), Keynum(0, 1, 1))])
        .doc(Group::SortedSet, "6.2.0", "Returns the union of multiple sorted sets.")
        .complexity("O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.")
        .args(&[
            a("numkeys", "integer"),
            a("key", "key").key(0).flags("multiple"),
            a("weight", "integer").token("WEIGHTS").flags("optional multiple"),
            a("aggregate", "oneof").token("AGGREGATE").flags("optional").args(&[
                a("sum", "pure-token").token("SUM"),
                a("min", "pure-token").token("MIN"),
                a("max", "pure-token").token("MAX"),
            ]),
            a("withscores", "pure-token").token("WITHSCORES").flags("optional"),
        ]),
    Command::new("zunionstore", -4, "write denyoom", zunionstore)
        .acl("@sortedset")
        .keys(&[ks("OW update", Index(1), Range(0, 1, 0)), ks("RO access", Index(2), Keynum(0, 1, 1))])
        .doc(Group::SortedSet, "2.0.0", "Stores the union of multiple sorted sets in a key.")
        .complexity("O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.")
        .args(&[
            a("destination", "key").key(0),
            a("numkeys", "integer"),
            a("key", "key").key(1).flags("multiple"),
            a("weight", "integer").token("WEIGHTS").flags("optional multiple"),
            a("aggregate", "oneof").token("AGGREGATE").flags("optional").args(&[
                a("sum", "pure-token").token("SUM"),
                a("min", "pure-token").token("MIN"),
                a("max", "pure-token").token("MAX"),
            ]),
        ]),
];

/// `[WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]` of ZUNION/ZINTER(STORE).
struct Combine {
    weights: Option<Vec<f64>>,
    aggregate: Aggregate,
    with_scores: bool,
}

fn combine_options(
    req: &Request<'_>,
    at: usize,
    nkeys: usize,
    allow_weights: bool,
    allow_withscores: bool,
) -> Result<Combine, CmdError> {
    let mut c = Combine {
        weights: None,
        aggregate: Aggregate::Sum,
        with_scores: false,
    };
    let mut i = at;
    while i < req.len() {
        let a = req.arg(i);
        if allow_weights && is(a, "weights") && i + nkeys < req.len() {
            let mut w = Vec::with_capacity(nkeys);
            for j in 0..nkeys {
                w.push(
                    parse_score(req.arg(i + 1 + j))
                        .ok_or(CmdError::Msg("ERR weight value is not a float"))?,
                );
            }
            c.weights = Some(w);
            i += nkeys;
        } else if allow_weights && is(a, "aggregate") && i + 1 < req.len() {
            let v = req.arg(i + 1);
            c.aggregate = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(SYNTAX);
            };
            i += 1;
        } else if allow_withscores && is(a, "withscores") {
            c.with_scores = true;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    Ok(c)
}

/// `numkeys key [key ...]` of ZUNION/ZINTER/ZDIFF(STORE) and ZINTERCARD, with Redis's texts:
/// a non-integer is "not an integer", below 1 names the command, too many is a syntax error.
fn zset_numkeys<'r>(req: &'r Request<'_>, at: usize) -> Result<(Vec<&'r [u8]>, usize), CmdError> {
    let n = int_arg(req.arg(at))?;
    if n < 1 {
        let name = String::from_utf8_lossy(req.arg(0)).to_ascii_lowercase();
        return Err(CmdError::Text(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let n = n as usize;
    if n > req.len() - at - 1 {
        return Err(SYNTAX);
    }
    Ok((req.args().skip(at + 1).take(n).collect(), at + 1 + n))
}

/// Redis reads every input key (a set or a sorted set) before it parses the options after
/// them, so WRONGTYPE wins over a bad WEIGHTS, AGGREGATE or LIMIT. The check here does not
/// count as a read (the store's own read reports a missing key as a `keymiss` event), unless
/// the command fails before it gets there: then [`report_misses`] reports them, as Redis's
/// reads would have.
fn check_input_types(ctx: &Ctx<'_>, keys: &[&[u8]]) -> Result<(), CmdError> {
    for (i, k) in keys.iter().enumerate() {
        if let Some(t) = ctx.s.db.peek_type(k)
            && t != KeyType::Set
            && t != KeyType::ZSet
        {
            report_misses(ctx, &keys[..i]);
            return Err(kvcore::Error::WrongType.into());
        }
    }
    Ok(())
}

/// Reads `keys` as Redis's command did before it failed: a missing one is a `keymiss` event.
fn report_misses(ctx: &Ctx<'_>, keys: &[&[u8]]) {
    for k in keys {
        let _ = ctx.s.db.key_type(k);
    }
}

/// [`combine_options`], reporting the inputs' misses when they are refused.
fn options_after_inputs(
    ctx: &Ctx<'_>,
    req: &Request<'_>,
    keys: &[&[u8]],
    next: usize,
    op: ZOp,
    with_scores: bool,
) -> Result<Combine, CmdError> {
    combine_options(req, next, keys.len(), op != ZOp::Diff, with_scores).inspect_err(|_| {
        report_misses(ctx, keys);
    })
}

fn combine(ctx: &mut Ctx<'_>, req: &Request<'_>, op: ZOp) -> CmdResult {
    let (keys, next) = zset_numkeys(req, 1)?;
    check_input_types(ctx, &keys)?;
    let c = options_after_inputs(ctx, req, &keys, next, op, true)?;
    let items = ctx
        .s
        .db
        .zcombine(op, &keys, c.weights.as_deref(), c.aggregate)?;
    scored(&mut ctx.w(), &items, c.with_scores);
    Ok(())
}

fn combine_store(ctx: &mut Ctx<'_>, req: &Request<'_>, op: ZOp) -> CmdResult {
    let (keys, next) = zset_numkeys(req, 2)?;
    check_input_types(ctx, &keys)?;
    let c = options_after_inputs(ctx, req, &keys, next, op, false)?;
    let n = ctx
        .s
        .db
        .zcombinestore(op, req.arg(1), &keys, c.weights.as_deref(), c.aggregate)?;
    ctx.int(n as i64)
}

fn zunion(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    combine(ctx, req, ZOp::Union)
}

fn zinter(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    combine(ctx, req, ZOp::Inter)
}

fn zdiff(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    combine(ctx, req, ZOp::Diff)
}

fn zunionstore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    combine_store(ctx, req, ZOp::Union)
}

fn zinterstore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    combine_store(ctx, req, ZOp::Inter)
}

fn zdiffstore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    combine_store(ctx, req, ZOp::Diff)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn zintercard(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (keys, next) = zset_numkeys(req, 1)?;
    check_input_types(ctx, &keys)?;
    let limit = limit_arg(req, next)?;
    let n = ctx.s.db.zintercard(&keys, limit)?;
    ctx.int(n as i64)
}
