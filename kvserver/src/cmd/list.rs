//! List commands over `kvcore::ListStore`.

use kvcore::{End, ListStore};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is, positive_arg};
use super::error::{CmdError, SYNTAX};
use super::spec::{
    Begin::Index,
    Find::{Keynum, Range},
    Group, a, ks,
};
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("lindex", 3, "readonly", lindex)
        .acl("@list").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "1.0.0", "Returns an element from a list by its index.")
        .complexity("O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).")
        .args(&[a("key", "key").key(0), a("index", "integer")]),
    Command::new("linsert", 5, "write denyoom", linsert)
        .acl("@list").keys(&[ks("RW insert", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "2.2.0", "Inserts an element before or after another element in a list.")
        .complexity("O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).")
        .args(&[
            a("key", "key").key(0),
            a("where", "oneof").args(&[
                a("before", "pure-token").token("BEFORE"),
                a("after", "pure-token").token("AFTER"),
            ]),
            a("pivot", "string"),
            a("element", "string"),
        ]),
    Command::new("llen", 2, "readonly fast", llen)
        .acl("@list").keys(&[ks("RO", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "1.0.0", "Returns the length of a list.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("lmove", 5, "write denyoom", lmove)
        .acl("@list")
        .keys(&[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("RW insert", Index(2), Range(0, 1, 0))])
        .doc(Group::List, "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.")
        .complexity("O(1)")
        .args(&[
            a("source", "key").key(0),
            a("destination", "key").key(1),
            a("wherefrom", "oneof").args(&[
                a("left", "pure-token").token("LEFT"),
                a("right", "pure-token").token("RIGHT"),
            ]),
            a("whereto", "oneof").args(&[
                a("left", "pure-token").token("LEFT"),
                a("right", "pure-token").token("RIGHT"),
            ]),
        ]),
    Command::new("lmpop", -4, "write", lmpop)
        .acl("@list").keys(&[ks("RW access delete", Index(1), Keynum(0, 1, 1))])
        .doc(Group::List, "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.")
        .complexity("O(N+M) where N is the number of provided keys and M is the number of elements returned.")
        .args(&[
            a("numkeys", "integer"),
            a("key", "key").key(0).flags("multiple"),
            a("where", "oneof").args(&[
                a("left", "pure-token").token("LEFT"),
                a("right", "pure-token").token("RIGHT"),
            ]),
            a("count", "integer").token("COUNT").flags("optional"),
        ]),
    Command::new("lpop", -2, "write fast", lpop)
        .acl("@list").keys(&[ks("RW access delete", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.")
        .complexity("O(N) where N is the number of elements returned")
        .history(&[("6.2.0", "Added the `count` argument.")])
        .args(&[a("key", "key").key(0), a("count", "integer").since("6.2.0").flags("optional")]),
    Command::new("lpos", -3, "readonly", lpos)
        .acl("@list").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "6.0.6", "Returns the index of matching elements in a list.")
        .complexity("O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.")
        .args(&[
            a("key", "key").key(0),
            a("element", "string"),
            a("rank", "integer").token("RANK").flags("optional"),
            a("num-matches", "integer").token("COUNT").flags("optional"),
            a("len", "integer").token("MAXLEN").flags("optional"),
        ]),
    Command::new("lpush", -3, "write denyoom fast", lpush)
        .acl("@list").keys(&[ks("RW insert", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.")
        .complexity("O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
        .history(&[("2.4.0", "Accepts multiple `element` arguments.")])
        .args(&[a("key", "key").key(0), a("element", "string").flags("multiple")]),
    Command::new("lpushx", -3, "write denyoom fast", lpushx)
        .acl("@list").keys(&[ks("RW insert", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "2.2.0", "Prepends one or more elements to a list only when the list exists.")
        .complexity("O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
        .history(&[("4.0.0", "Accepts multiple `element` arguments.")])
        .args(&[a("key", "key").key(0), a("element", "string").flags("multiple")]),
    Command::new("lrange", 4, "readonly", lrange)
        .acl("@list").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "1.0.0", "Returns a range of elements from a list.")
        .complexity("O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.")
        .args(&[a("key", "key").key(0), a("start", "integer"), a("stop", "integer")]),
    Command::new("lrem", 4, "write", lrem)
        .acl("@list").keys(&[ks("RW delete", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.")
        .complexity("O(N+M) where N is the length of the list and M is the number of elements removed.")
        .args(&[a("key", "key").key(0), a("count", "integer"), a("element", "string")]),
    Command::new("lset", 4, "write denyoom", lset)
        .acl("@list").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "1.0.0", "Sets the value of an element in a list by its index.")
        .complexity("O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).")
        .args(&[a("key", "key").key(0), a("index", "integer"), a("element", "string")]),
    Command::new("ltrim", 4, "write", ltrim)
        .acl("@list").keys(&[ks("RW delete", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.")
        .complexity("O(N) where N is the number of elements to be removed by the operation.")
        .args(&[a("key", "key").key(0), a("start", "integer"), a("stop", "integer")]),
    Command::new("rpop", -2, "write fast", rpop)
        .acl("@list").keys(&[ks("RW access delete", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.")
        .complexity("O(N) where N is the number of elements returned")
        .history(&[("6.2.0", "Added the `count` argument.")])
        .args(&[a("key", "key").key(0), a("count", "integer").since("6.2.0").flags("optional")]),
    Command::new("rpoplpush", 3, "write denyoom", rpoplpush)
        .acl("@list")
        .keys(&[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("RW insert", Index(2), Range(0, 1, 0))])
        .doc(Group::List, "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.")
        .complexity("O(1)")
        .deprecated("6.2.0", "`LMOVE` with the `RIGHT` and `LEFT` arguments")
        .args(&[a("source", "key").key(0), a("destination", "key").key(1)]),
    Command::new("rpush", -3, "write denyoom fast", rpush)
        .acl("@list").keys(&[ks("RW insert", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.")
        .complexity("O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
        .history(&[("2.4.0", "Accepts multiple `element` arguments.")])
        .args(&[a("key", "key").key(0), a("element", "string").flags("multiple")]),
    Command::new("rpushx", -3, "write denyoom fast", rpushx)
        .acl("@list").keys(&[ks("RW insert", Index(1), Range(0, 1, 0))])
        .doc(Group::List, "2.2.0", "Appends an element to a list only when the list exists.")
        .complexity("O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
        .history(&[("4.0.0", "Accepts multiple `element` arguments.")])
        .args(&[a("key", "key").key(0), a("element", "string").flags("multiple")]),
];

fn values<'r>(req: &'r Request<'_>, from: usize) -> Vec<&'r [u8]> {
    req.args().skip(from).collect()
}

pub(super) fn end_arg(b: &[u8]) -> Result<End, CmdError> {
    if is(b, "left") {
        Ok(End::Left)
    } else if is(b, "right") {
        Ok(End::Right)
    } else {
        Err(SYNTAX)
    }
}

fn push(ctx: &mut Ctx<'_>, req: &Request<'_>, end: End, existing: bool) -> CmdResult {
    if req.len() == 3 && !existing {
        // One element (the usual LPUSH/RPUSH): no Vec for the values.
        let n = ctx.s.db.push(req.arg(1), end, &[req.arg(2)])?;
        return ctx.int(n as i64);
    }
    let vals = values(req, 2);
    let n = if existing {
        ctx.s.db.push_existing(req.arg(1), end, &vals)?
    } else {
        ctx.s.db.push(req.arg(1), end, &vals)?
    };
    ctx.int(n as i64)
}

fn lpush(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    push(ctx, req, End::Left, false)
}

fn rpush(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    push(ctx, req, End::Right, false)
}

fn lpushx(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    push(ctx, req, End::Left, true)
}

fn rpushx(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    push(ctx, req, End::Right, true)
}

/// LPOP/RPOP key [count]
fn pop(ctx: &mut Ctx<'_>, req: &Request<'_>, end: End, name: &str) -> CmdResult {
    match req.len() {
        2 => {
            let v = ctx.s.db.pop(req.arg(1), end)?;
            ctx.bulk_or_null(v.as_deref())
        }
        3 => {
            let count = positive_arg(req.arg(2))?;
            match ctx.s.db.pop_count(req.arg(1), end, count)? {
                Some(items) => ctx.bulks(&items),
                None => {
                    ctx.w().null_array();
                    Ok(())
                }
            }
        }
        _ => Err(CmdError::Text(super::arity_error(name))),
    }
}

fn lpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    pop(ctx, req, End::Left, "lpop")
}

fn rpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    pop(ctx, req, End::Right, "rpop")
}

fn llen(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.llen(req.arg(1))?;
    ctx.int(n as i64)
}

fn lrange(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (start, stop) = (int_arg(req.arg(2))?, int_arg(req.arg(3))?);
    let items = ctx.s.db.lrange(req.arg(1), start, stop)?;
    ctx.bulks(&items)
}

fn lindex(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    // Redis looks the key up (null if missing, WRONGTYPE) before it parses the index.
    if ctx.s.db.llen(req.arg(1))? == 0 {
        return ctx.bulk_or_null(None);
    }
    let index = int_arg(req.arg(2))?;
    let v = ctx.s.db.lindex(req.arg(1), index)?;
    ctx.bulk_or_null(v.as_deref())
}

fn lset(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    // Redis looks the key up ("no such key", WRONGTYPE) before it parses the index.
    if ctx.s.db.llen(req.arg(1))? == 0 {
        return Err(CmdError::Msg("ERR no such key"));
    }
    let index = int_arg(req.arg(2))?;
    ctx.s.db.lset(req.arg(1), index, req.arg(3))?;
    ctx.ok()
}

fn lrem(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let count = int_arg(req.arg(2))?;
    let n = ctx.s.db.lrem(req.arg(1), count, req.arg(3))?;
    ctx.int(n as i64)
}

fn ltrim(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (start, stop) = (int_arg(req.arg(2))?, int_arg(req.arg(3))?);
    ctx.s.db.ltrim(req.arg(1), start, stop)?;
    ctx.ok()
}

/// LINSERT key BEFORE|AFTER pivot element
fn linsert(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let before = if is(req.arg(2), "before") {
        true
    } else if is(req.arg(2), "after") {
        false
    } else {
        return Err(SYNTAX);
    };
    let n = ctx
        .s
        .db
        .linsert(req.arg(1), before, req.arg(3), req.arg(4))?;
    ctx.int(n)
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let mut i = 3;
    while i < req.len() {
        let Some(value) = req.get(i + 1) else {
            return Err(SYNTAX);
        };
        let opt = req.arg(i);
        if is(opt, "rank") {
            rank = int_arg(value)?;
            if rank == 0 {
                return Err(CmdError::Msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
            if rank == i64::MIN {
                return Err(CmdError::Msg(
                    "ERR value is out of range, value must between -9223372036854775807 and \
                     9223372036854775807",
                ));
            }
        } else if is(opt, "count") {
            // Redis answers a non-integer COUNT or MAXLEN with the "negative" text too.
            let n = int_arg(value).map_err(|_| CmdError::Msg("ERR COUNT can't be negative"))?;
            count =
                Some(usize::try_from(n).map_err(|_| CmdError::Msg("ERR COUNT can't be negative"))?);
        } else if is(opt, "maxlen") {
            let n = int_arg(value).map_err(|_| CmdError::Msg("ERR MAXLEN can't be negative"))?;
            maxlen =
                usize::try_from(n).map_err(|_| CmdError::Msg("ERR MAXLEN can't be negative"))?;
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    let found = ctx
        .s
        .db
        .lpos(req.arg(1), req.arg(2), rank, count.unwrap_or(1), maxlen)?;
    match count {
        Some(_) => {
            let mut w = ctx.w();
            w.array_len(found.len());
            for p in found {
                w.integer(p as i64);
            }
            Ok(())
        }
        None => match found.first() {
            Some(&p) => ctx.int(p as i64),
            None => ctx.bulk_or_null(None),
        },
    }
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
fn lmove(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (from, to) = (end_arg(req.arg(3))?, end_arg(req.arg(4))?);
    let v = ctx.s.db.lmove(req.arg(1), req.arg(2), from, to)?;
    ctx.bulk_or_null(v.as_deref())
}

fn rpoplpush(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx
        .s
        .db
        .lmove(req.arg(1), req.arg(2), End::Right, End::Left)?;
    ctx.bulk_or_null(v.as_deref())
}

/// `numkeys key [key ...]` starting at `req.arg(at)` of LMPOP/BLMPOP/ZMPOP/BZMPOP: the keys and
/// the index after them. As in Redis, a non-integer count is "not greater than 0" and too many
/// keys is a syntax error.
pub(super) fn numkeys<'r>(
    req: &'r Request<'_>,
    at: usize,
) -> Result<(Vec<&'r [u8]>, usize), CmdError> {
    numkeys_or(req, at, SYNTAX)
}

/// [`numkeys`] with the error for more keys than arguments (SINTERCARD has its own text).
pub(super) fn numkeys_or<'r>(
    req: &'r Request<'_>,
    at: usize,
    too_many: CmdError,
) -> Result<(Vec<&'r [u8]>, usize), CmdError> {
    const NOT_POSITIVE: CmdError = CmdError::Msg("ERR numkeys should be greater than 0");
    let n = int_arg(req.arg(at)).map_err(|_| NOT_POSITIVE)?;
    if n <= 0 {
        return Err(NOT_POSITIVE);
    }
    let n = n as usize;
    if n > req.len() - at - 1 {
        return Err(too_many);
    }
    Ok((req.args().skip(at + 1).take(n).collect(), at + 1 + n))
}

/// `[COUNT count]` at the end of LMPOP/ZMPOP: 1 without it.
pub(super) fn mpop_count(req: &Request<'_>, at: usize) -> Result<usize, CmdError> {
    match req.len() - at {
        0 => Ok(1),
        2 if is(req.arg(at), "count") => {
            let n = int_arg(req.arg(at + 1))
                .map_err(|_| CmdError::Msg("ERR count should be greater than 0"))?;
            if n <= 0 {
                return Err(CmdError::Msg("ERR count should be greater than 0"));
            }
            Ok(n as usize)
        }
        _ => Err(SYNTAX),
    }
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn lmpop(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (keys, next) = numkeys(req, 1)?;
    let end = end_arg(req.get(next).ok_or(SYNTAX)?)?;
    let count = mpop_count(req, next + 1)?;
    match ctx.s.db.lmpop(&keys, end, count)? {
        Some((key, items)) => {
            let mut w = ctx.w();
            w.array_len(2);
            w.bulk(&key);
            w.array_len(items.len());
            for i in &items {
                w.bulk(i);
            }
            Ok(())
        }
        None => {
            ctx.w().null_array();
            Ok(())
        }
    }
}
