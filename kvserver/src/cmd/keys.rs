//! Key-space commands: DEL, UNLINK, EXISTS, KEYS, TYPE, RENAME, RENAMENX, COPY, RANDOMKEY, SCAN.

use kvcore::{KeyType, ScanOptions, Store};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, i32_arg, int_arg, is};
use super::error::{CmdError, OUT_OF_RANGE_DB, SYNTAX, c_str};
use super::spec::{Begin::Index, Find::Range, Group, a, ks};
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("copy", -3, "write denyoom", copy)
        .acl("@keyspace").keys(&[ks("RO access", Index(1), Range(0, 1, 0)), ks("OW update", Index(2), Range(0, 1, 0))])
        .doc(Group::Generic, "6.2.0", "Copies the value of a key to a new key.")
        .complexity("O(N) worst case for collections, where N is the number of nested items. O(1) for string values.")
        .args(&[
            a("source", "key").key(0),
            a("destination", "key").key(1),
            a("destination-db", "integer").token("DB").flags("optional"),
            a("replace", "pure-token").token("REPLACE").flags("optional"),
        ]),
    Command::new("del", -2, "write", del)
        .acl("@keyspace")
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[ks("RM delete", Index(1), Range(-1, 1, 0))])
        .doc(Group::Generic, "1.0.0", "Deletes one or more keys.")
        .complexity("O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).")
        .args(&[a("key", "key").key(0).flags("multiple")]),
    Command::new("exists", -2, "readonly fast", exists)
        .acl("@keyspace")
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[ks("RO", Index(1), Range(-1, 1, 0))])
        .doc(Group::Generic, "1.0.0", "Determines whether one or more keys exist.")
        .complexity("O(N) where N is the number of keys to check.")
        .history(&[("3.0.3", "Accepts multiple `key` arguments.")])
        .args(&[a("key", "key").key(0).flags("multiple")]),
    Command::new("keys", 2, "readonly", keys)
        .acl("@keyspace @dangerous").tips(&["request_policy:all_shards", "nondeterministic_output_order"])
        .doc(Group::Generic, "1.0.0", "Returns all key names that match a pattern.")
        .complexity("O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.")
        .args(&[a("pattern", "pattern")]),
    Command::new("move", 3, "write fast", move_key)
        .acl("@keyspace").keys(&[ks("RW access update", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "1.0.0", "Moves a key to another database.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("db", "integer")]),
    Command::new("randomkey", 1, "readonly", randomkey)
        .acl("@keyspace").tips(&["request_policy:all_shards", "nondeterministic_output"])
        .doc(Group::Generic, "1.0.0", "Returns a random key name from the database.")
        .complexity("O(1)"),
    Command::new("rename", 3, "write", rename)
        .acl("@keyspace")
        .keys(&[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("OW update", Index(2), Range(0, 1, 0))])
        .doc(Group::Generic, "1.0.0", "Renames a key and overwrites the destination.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("newkey", "key").key(1)]),
    Command::new("renamenx", 3, "write fast", renamenx)
        .acl("@keyspace")
        .keys(&[ks("RW access delete", Index(1), Range(0, 1, 0)), ks("OW insert", Index(2), Range(0, 1, 0))])
        .doc(Group::Generic, "1.0.0", "Renames a key only when the target key name doesn't exist.")
        .complexity("O(1)")
        .history(&[("3.2.0", "The command no longer returns an error when source and destination names are the same.")])
        .args(&[a("key", "key").key(0), a("newkey", "key").key(1)]),
    Command::new("scan", -2, "readonly", scan)
        .acl("@keyspace").tips(&["nondeterministic_output", "request_policy:special"])
        .doc(Group::Generic, "2.8.0", "Iterates over the key names in the database.")
        .complexity("O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.")
        .history(&[("6.0.0", "Added the `TYPE` subcommand.")])
        .args(&[
            a("cursor", "integer"),
            a("pattern", "pattern").token("MATCH").flags("optional"),
            a("count", "integer").token("COUNT").flags("optional"),
            a("type", "string").token("TYPE").since("6.0.0").flags("optional"),
        ]),
    Command::new("touch", -2, "readonly fast", touch)
        .acl("@keyspace")
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[ks("RO", Index(1), Range(-1, 1, 0))])
        .doc(Group::Generic, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.")
        .complexity("O(N) where N is the number of keys that will be touched.")
        .args(&[a("key", "key").key(0).flags("multiple")]),
    Command::new("type", 2, "readonly fast", key_type)
        .acl("@keyspace").keys(&[ks("RO", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "1.0.0", "Determines the type of value stored at a key.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("unlink", -2, "write fast", del)
        .acl("@keyspace")
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[ks("RM delete", Index(1), Range(-1, 1, 0))])
        .doc(Group::Generic, "4.0.0", "Asynchronously deletes one or more keys.")
        .complexity("O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.")
        .args(&[a("key", "key").key(0).flags("multiple")]),
];

fn keys_from<'r>(req: &'r Request<'_>, first: usize) -> Vec<&'r [u8]> {
    req.args().skip(first).collect()
}

/// DEL and UNLINK (memory is freed on the calling thread either way; both are atomic).
fn del(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.del(&keys_from(req, 1))?;
    ctx.int(n as i64)
}

/// EXISTS: does not count as an access to the keys, as in Redis.
fn exists(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = kvcore::no_touch(|| ctx.s.db.exists(&keys_from(req, 1)))?;
    ctx.int(n as i64)
}

fn keys(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let found = ctx.s.db.keys(req.arg(1))?;
    let mut w = ctx.w();
    w.array_len(found.len());
    for k in &found {
        w.bulk(k);
    }
    Ok(())
}

/// TOUCH: the number of the keys that exist (duplicates count twice); each counts as an
/// access (OBJECT IDLETIME, LRU/LFU), even for a CLIENT NO-TOUCH client.
fn touch(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.exists(&keys_from(req, 1))?;
    ctx.int(n as i64)
}

fn key_type(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let t = ctx.s.db.key_type(req.arg(1))?;
    ctx.w().simple(t.map_or("none", KeyType::as_str).as_bytes());
    Ok(())
}

fn rename(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    ctx.s.db.rename(req.arg(1), req.arg(2))?;
    ctx.ok()
}

fn renamenx(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let done = ctx.s.db.renamenx(req.arg(1), req.arg(2))?;
    ctx.int(i64::from(done))
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut dst_db = None;
    let mut replace = false;
    let mut i = 3;
    while i < req.len() {
        let opt = req.arg(i);
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "db") && i + 1 < req.len() {
            let n = i32_arg(req.arg(i + 1), None)?;
            dst_db = Some(usize::try_from(n).map_err(|_| OUT_OF_RANGE_DB)?);
            i += 1;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    let done = ctx.s.db.copy(req.arg(1), req.arg(2), dst_db, replace)?;
    ctx.int(i64::from(done))
}

/// MOVE key db
fn move_key(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let db = i32_arg(req.arg(2), None)?;
    let db = usize::try_from(db).map_err(|_| OUT_OF_RANGE_DB)?;
    let done = ctx.s.db.move_key(req.arg(1), db)?;
    ctx.int(i64::from(done))
}

fn randomkey(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let k = ctx.s.db.randomkey()?;
    ctx.bulk_or_null(k.as_deref())
}

/// A SCAN-family cursor, read as Redis reads it (C's `strtoul` over the argument as a C string):
/// no leading space, an optional sign (`-1` wraps to 2^64 - 1), decimal digits up to 2^64 - 1;
/// the empty string is cursor 0.
pub(super) fn cursor_arg(b: &[u8]) -> Result<u64, CmdError> {
    const INVALID: CmdError = CmdError::Msg("ERR invalid cursor");
    let b = c_str(b);
    let (neg, digits) = match b.first() {
        None => return Ok(0),
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        Some(_) => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(INVALID);
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(INVALID)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// `[MATCH pattern] [COUNT count]` of HSCAN, SSCAN and ZSCAN from `req.arg(from)` on.
pub(super) fn scan_options(req: &Request<'_>, from: usize) -> Result<ScanOptions, CmdError> {
    parse_scan_options(req, from, false).map(|(opts, _)| opts)
}

/// `[MATCH pattern] [COUNT count] [TYPE type]` from `req.arg(from)` on; TYPE only for SCAN.
/// The flag is true when TYPE names no type: Redis 7 then walks as usual and returns no keys
/// (Redis 7.2.0 answered an error; its later releases went back to this, for compatibility).
fn parse_scan_options(
    req: &Request<'_>,
    from: usize,
    allow_type: bool,
) -> Result<(ScanOptions, bool), CmdError> {
    let mut opts = ScanOptions::new();
    let mut unknown_type = false;
    let mut i = from;
    while i < req.len() {
        let opt = req.arg(i);
        let Some(value) = req.get(i + 1) else {
            return Err(SYNTAX);
        };
        if is(opt, "match") {
            // `*` matches everything: skip the per-key match, as Redis does.
            if value != b"*" {
                opts = opts.pattern(value);
            }
        } else if is(opt, "count") {
            let n = int_arg(value)?;
            if n < 1 {
                return Err(SYNTAX);
            }
            opts = opts.count(n as usize);
        } else if allow_type && is(opt, "type") {
            match KeyType::parse(value) {
                Some(t) => opts = opts.key_type(t),
                None => unknown_type = true,
            }
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    Ok((opts, unknown_type))
}

/// The reply of every SCAN-family command: the next cursor and a batch of items.
pub(super) fn scan_reply<B: AsRef<[u8]>>(ctx: &mut Ctx<'_>, next: u64, items: &[B]) -> CmdResult {
    let mut w = ctx.w();
    w.array_len(2);
    w.bulk(next.to_string().as_bytes());
    w.array_len(items.len());
    for k in items {
        w.bulk(k.as_ref());
    }
    Ok(())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
fn scan(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let cursor = cursor_arg(req.arg(1))?;
    let (opts, unknown_type) = parse_scan_options(req, 2, true)?;
    let (next, mut found) = ctx.s.db.scan(cursor, &opts)?;
    if unknown_type {
        found.clear();
    }
    scan_reply(ctx, next, &found)
}
