//! Hash commands over `kvcore::HashStore`.

use kvcore::HashStore;
use kvproto::Request;

use super::ctx::{
    CmdResult, Ctx, float_arg, int_arg, is, random_count_arg, random_count_cap, random_pairs_range,
};
use super::error::{CmdError, SYNTAX, arity_error};
use super::keys::{cursor_arg, scan_options};
use super::spec::{Begin::Index, Find::Range, Group, a, ks};
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("hdel", -3, "write fast", hdel)
        .acl("@hash").keys(&[ks("RW delete", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.")
        .complexity("O(N) where N is the number of fields to be removed.")
        .history(&[("2.4.0", "Accepts multiple `field` arguments.")])
        .args(&[a("key", "key").key(0), a("field", "string").flags("multiple")]),
    Command::new("hexists", 3, "readonly fast", hexists)
        .acl("@hash").keys(&[ks("RO", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.0.0", "Determines whether a field exists in a hash.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("field", "string")]),
    Command::new("hget", 3, "readonly fast", hget)
        .acl("@hash").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.0.0", "Returns the value of a field in a hash.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("field", "string")]),
    Command::new("hgetall", 2, "readonly", hgetall)
        .acl("@hash").tips(&["nondeterministic_output_order"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.0.0", "Returns all fields and values in a hash.")
        .complexity("O(N) where N is the size of the hash.")
        .args(&[a("key", "key").key(0)]),
    Command::new("hincrby", 4, "write denyoom fast", hincrby)
        .acl("@hash").keys(&[ks("RW access update", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("field", "string"), a("increment", "integer")]),
    Command::new("hincrbyfloat", 4, "write denyoom fast", hincrbyfloat)
        .acl("@hash").keys(&[ks("RW access update", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("field", "string"), a("increment", "double")]),
    Command::new("hkeys", 2, "readonly", hkeys)
        .acl("@hash").tips(&["nondeterministic_output_order"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.0.0", "Returns all fields in a hash.")
        .complexity("O(N) where N is the size of the hash.")
        .args(&[a("key", "key").key(0)]),
    Command::new("hlen", 2, "readonly fast", hlen)
        .acl("@hash").keys(&[ks("RO", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.0.0", "Returns the number of fields in a hash.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("hmget", -3, "readonly fast", hmget)
        .acl("@hash").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.0.0", "Returns the values of all fields in a hash.")
        .complexity("O(N) where N is the number of fields being requested.")
        .args(&[a("key", "key").key(0), a("field", "string").flags("multiple")]),
    Command::new("hmset", -4, "write denyoom fast", hmset)
        .acl("@hash").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.0.0", "Sets the values of multiple fields.")
        .complexity("O(N) where N is the number of fields being set.")
        .deprecated("4.0.0", "`HSET` with multiple field-value pairs")
        .args(&[
            a("key", "key").key(0),
            a("field_value", "block").flags("multiple").args(&[a("field", "string"), a("value", "string")]),
        ]),
    Command::new("hrandfield", -2, "readonly", hrandfield)
        .acl("@hash").tips(&["nondeterministic_output"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "6.2.0", "Returns one or more random fields from a hash.")
        .complexity("O(N) where N is the number of fields returned")
        .args(&[
            a("key", "key").key(0),
            a("options", "block").flags("optional").args(&[
                a("count", "integer"),
                a("withvalues", "pure-token").token("WITHVALUES").flags("optional"),
            ]),
        ]),
    Command::new("hscan", -3, "readonly", hscan)
        .acl("@hash").tips(&["nondeterministic_output"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.8.0", "Iterates over fields and values of a hash.")
        .complexity("O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..")
        .args(&[
            a("key", "key").key(0),
            a("cursor", "integer"),
            a("pattern", "pattern").token("MATCH").flags("optional"),
            a("count", "integer").token("COUNT").flags("optional"),
        ]),
    Command::new("hset", -4, "write denyoom fast", hset)
        .acl("@hash").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.0.0", "Creates or modifies the value of a field in a hash.")
        .complexity("O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.")
        .history(&[("4.0.0", "Accepts multiple `field` and `value` arguments.")])
        .args(&[
            a("key", "key").key(0),
            a("field_value", "block").flags("multiple").args(&[a("field", "string"), a("value", "string")]),
        ]),
    Command::new("hsetnx", 4, "write denyoom fast", hsetnx)
        .acl("@hash").keys(&[ks("RW insert", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("field", "string"), a("value", "string")]),
    Command::new("hstrlen", 3, "readonly fast", hstrlen)
        .acl("@hash").keys(&[ks("RO", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "3.2.0", "Returns the length of the value of a field.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("field", "string")]),
    Command::new("hvals", 2, "readonly", hvals)
        .acl("@hash").tips(&["nondeterministic_output_order"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Hash, "2.0.0", "Returns all values in a hash.")
        .complexity("O(N) where N is the size of the hash.")
        .args(&[a("key", "key").key(0)]),
];

/// Field/value pairs from `req.arg(2)` on.
type Pairs<'r> = Vec<(&'r [u8], &'r [u8])>;

fn pairs<'r>(req: &'r Request<'_>, name: &str) -> Result<Pairs<'r>, CmdError> {
    if !req.len().is_multiple_of(2) {
        return Err(CmdError::Text(arity_error(name)));
    }
    Ok((2..req.len())
        .step_by(2)
        .map(|i| (req.arg(i), req.arg(i + 1)))
        .collect())
}

fn hset(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() == 4 {
        // One field (the usual HSET): no Vec for the pairs.
        let n = ctx.s.db.hset(req.arg(1), &[(req.arg(2), req.arg(3))])?;
        return ctx.int(n as i64);
    }
    let pairs = pairs(req, "hset")?;
    let n = ctx.s.db.hset(req.arg(1), &pairs)?;
    ctx.int(n as i64)
}

fn hmset(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let pairs = pairs(req, "hmset")?;
    ctx.s.db.hset(req.arg(1), &pairs)?;
    ctx.ok()
}

fn hsetnx(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let done = ctx.s.db.hsetnx(req.arg(1), req.arg(2), req.arg(3))?;
    ctx.int(i64::from(done))
}

fn hget(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let v = ctx.s.db.hget(req.arg(1), req.arg(2))?;
    ctx.bulk_or_null(v.as_deref())
}

fn hmget(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let fields: Vec<&[u8]> = req.args().skip(2).collect();
    let values = ctx.s.db.hmget(req.arg(1), &fields)?;
    let mut w = ctx.w();
    w.array_len(values.len());
    for v in &values {
        match v {
            Some(b) => w.bulk(b),
            None => w.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let fields: Vec<&[u8]> = req.args().skip(2).collect();
    let n = ctx.s.db.hdel(req.arg(1), &fields)?;
    ctx.int(n as i64)
}

fn hlen(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.hlen(req.arg(1))?;
    ctx.int(n as i64)
}

fn hstrlen(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.hstrlen(req.arg(1), req.arg(2))?;
    ctx.int(n as i64)
}

fn hexists(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let found = ctx.s.db.hexists(req.arg(1), req.arg(2))?;
    ctx.int(i64::from(found))
}

fn hkeys(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.hkeys(req.arg(1))?;
    ctx.bulks(&items)
}

fn hvals(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.hvals(req.arg(1))?;
    ctx.bulks(&items)
}

/// HGETALL: a map in RESP3, a flat field/value array in RESP2.
fn hgetall(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let items = ctx.s.db.hgetall(req.arg(1))?;
    let mut w = ctx.w();
    w.map_len(items.len());
    for (f, v) in &items {
        w.bulk(f);
        w.bulk(v);
    }
    Ok(())
}

fn hincrby(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let delta = int_arg(req.arg(3))?;
    let n = ctx.s.db.hincrby(req.arg(1), req.arg(2), delta)?;
    ctx.int(n)
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let delta = float_arg(req.arg(3))?;
    if !delta.is_finite() {
        return Err(CmdError::Msg("ERR value is NaN or Infinity"));
    }
    let v = ctx.s.db.hincrbyfloat(req.arg(1), req.arg(2), delta)?;
    ctx.w().bulk(&v);
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() == 2 {
        let v = ctx.s.db.hrandfield(req.arg(1))?;
        return ctx.bulk_or_null(v.as_deref());
    }
    let count = random_count_arg(req.arg(2))?;
    let with_values = match req.len() {
        3 => false,
        4 if is(req.arg(3), "withvalues") => true,
        _ => return Err(SYNTAX),
    };
    if with_values {
        random_pairs_range(count)?;
    }
    if random_count_cap(count) && ctx.s.db.hlen(req.arg(1))? > 0 {
        return Err(CmdError::Msg("ERR value is out of range"));
    }
    let count = if random_count_cap(count) { 0 } else { count };
    let items = ctx.s.db.hrandfield_count(req.arg(1), count)?;
    let mut w = ctx.w();
    if !with_values {
        w.array_len(items.len());
        for (f, _) in &items {
            w.bulk(f);
        }
    } else if w.version() == kvproto::Version::Resp3 {
        // RESP3: one [field, value] pair per entry, as Redis 7 replies.
        w.array_len(items.len());
        for (f, v) in &items {
            w.array_len(2);
            w.bulk(f);
            w.bulk(v);
        }
    } else {
        w.array_len(items.len() * 2);
        for (f, v) in &items {
            w.bulk(f);
            w.bulk(v);
        }
    }
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
fn hscan(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let cursor = cursor_arg(req.arg(2))?;
    let opts = scan_options(req, 3)?;
    let (next, items) = ctx.s.db.hscan(req.arg(1), cursor, &opts)?;
    let mut w = ctx.w();
    w.array_len(2);
    w.bulk(next.to_string().as_bytes());
    w.array_len(items.len() * 2);
    for (f, v) in &items {
        w.bulk(f);
        w.bulk(v);
    }
    Ok(())
}
