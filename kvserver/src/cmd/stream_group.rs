//! Stream consumer groups over `kvcore::StreamStore`: XGROUP (CREATE, SETID, DESTROY,
//! CREATECONSUMER, DELCONSUMER, HELP), XREADGROUP (whose BLOCK waits in line as XREAD does),
//! XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO (STREAM [FULL], GROUPS, CONSUMERS, HELP).
//! Arguments are checked in Redis's order, so the first error is Redis's.

use kvcore::{GroupEntry, GroupStart, KeyType, ReadGroup, StreamId, StreamStore, XClaimOptions};
use kvproto::{Request, Version, Writer};

use super::blocking::block_on;
use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, SYNTAX, c_str, raw_error};
use super::spec::{
    Begin::{Index, Keyword},
    Find::Range,
    Group, a, ks,
};
use super::stream::{
    ID_LEN, ReadOptions, Served, id_text, parse_bound, parse_id, read_options, reply, write_entry,
};
use super::table::{Command, run_subcommand};
use crate::waiters::Attempt;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("xack", -4, "write fast", xack)
        .acl("@stream").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.")
        .complexity("O(1) for each message ID processed.")
        .args(&[a("key", "key").key(0), a("group", "string"), a("id", "string").flags("multiple")]),
    Command::new("xautoclaim", -6, "write fast", xautoclaim)
        .acl("@stream").tips(&["nondeterministic_output"]).keys(&[ks("RW delete", Index(1), Range(0, 1, 0))])
        .doc(Group::Stream, "6.2.0", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.")
        .complexity("O(1) if COUNT is small.")
        .history(&[("7.0.0", "Added an element to the reply array, containing deleted entries the command cleared from the PEL")])
        .args(&[a("key", "key").key(0), a("group", "string"), a("consumer", "string"), a("min-idle-time", "string"), a("start", "string"), a("count", "integer").token("COUNT").flags("optional"), a("justid", "pure-token").token("JUSTID").flags("optional")]),
    Command::new("xclaim", -6, "write fast", xclaim)
        .acl("@stream").tips(&["nondeterministic_output"]).keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.")
        .complexity("O(log N) with N being the number of messages in the PEL of the consumer group.")
        .args(&[a("key", "key").key(0), a("group", "string"), a("consumer", "string"), a("min-idle-time", "string"), a("id", "string").flags("multiple"), a("ms", "integer").token("IDLE").flags("optional"), a("unix-time-milliseconds", "unix-time").token("TIME").flags("optional"), a("count", "integer").token("RETRYCOUNT").flags("optional"), a("force", "pure-token").token("FORCE").flags("optional"), a("justid", "pure-token").token("JUSTID").flags("optional"), a("id", "string").token("LASTID").flags("optional")]),
    Command::new("xgroup", -2, "", run_subcommand)
        .doc(Group::Stream, "5.0.0", "A container for consumer groups commands.")
        .complexity("Depends on subcommand.")
        .subcommands(XGROUP_SUBCOMMANDS),
    Command::new("xinfo", -2, "", run_subcommand)
        .doc(Group::Stream, "5.0.0", "A container for stream introspection commands.")
        .complexity("Depends on subcommand.")
        .subcommands(XINFO_SUBCOMMANDS),
    Command::new("xpending", -3, "readonly", xpending)
        .acl("@stream").tips(&["nondeterministic_output"]).keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Returns the information and entries from a stream consumer group's pending entries list.")
        .complexity("O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.")
        .history(&[("6.2.0", "Added the `IDLE` option and exclusive range intervals.")])
        .args(&[a("key", "key").key(0), a("group", "string"), a("filters", "block").flags("optional").args(&[a("min-idle-time", "integer").token("IDLE").since("6.2.0").flags("optional"), a("start", "string"), a("end", "string"), a("count", "integer"), a("consumer", "string").flags("optional")])]),
    Command::new("xreadgroup", -7, "write blocking", xreadgroup)
        .acl("@stream").keys(&[ks("RO access", Keyword("STREAMS", 4), Range(-1, 1, 2))])
        .doc(Group::Stream, "5.0.0", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.")
        .complexity("For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.")
        .args(&[a("group_consumer", "block").token("GROUP").args(&[a("group", "string"), a("consumer", "string")]), a("count", "integer").token("COUNT").flags("optional"), a("milliseconds", "integer").token("BLOCK").flags("optional"), a("noack", "pure-token").token("NOACK").flags("optional"), a("streams", "block").token("STREAMS").args(&[a("key", "key").key(0).flags("multiple"), a("id", "string").flags("multiple")])]),
];

#[rustfmt::skip]
static XGROUP_SUBCOMMANDS: &[Command] = &[
    Command::new("xgroup|create", -5, "write denyoom", xgroup_create)
        .acl("@stream").keys(&[ks("RW insert", Index(2), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Creates a consumer group.")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added the `entries_read` named argument.")])
        .args(&[a("key", "key").key(0), a("groupname", "string"), a("id", "oneof").args(&[a("id", "string"), a("new_id", "pure-token").token("$")]), a("mkstream", "pure-token").token("MKSTREAM").flags("optional"), a("entries_read", "integer").token("ENTRIESREAD").flags("optional")]),
    Command::new("xgroup|createconsumer", 5, "write denyoom", xgroup_createconsumer)
        .acl("@stream").keys(&[ks("RW insert", Index(2), Range(0, 1, 0))])
        .doc(Group::Stream, "6.2.0", "Creates a consumer in a consumer group.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("groupname", "string"), a("consumername", "string")]),
    Command::new("xgroup|delconsumer", 5, "write", xgroup_delconsumer)
        .acl("@stream").keys(&[ks("RW delete", Index(2), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Deletes a consumer from a consumer group.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("groupname", "string"), a("consumername", "string")]),
    Command::new("xgroup|destroy", 4, "write", xgroup_destroy)
        .acl("@stream").keys(&[ks("RW delete", Index(2), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Destroys a consumer group.")
        .complexity("O(N) where N is the number of entries in the group's pending entries list (PEL).")
        .args(&[a("key", "key").key(0), a("groupname", "string")]),
    Command::new("xgroup|help", 2, "loading stale", xgroup_help)
        .acl("@stream")
        .doc(Group::Stream, "5.0.0", "Returns helpful text about the different subcommands.")
        .complexity("O(1)"),
    Command::new("xgroup|setid", -5, "write", xgroup_setid)
        .acl("@stream").keys(&[ks("RW update", Index(2), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Sets the last-delivered ID of a consumer group.")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added the optional `entries_read` argument.")])
        .args(&[a("key", "key").key(0), a("groupname", "string"), a("id", "oneof").args(&[a("id", "string"), a("new_id", "pure-token").token("$")]), a("entries_read", "integer").token("ENTRIESREAD").flags("optional")]),
];

#[rustfmt::skip]
static XINFO_SUBCOMMANDS: &[Command] = &[
    Command::new("xinfo|consumers", 4, "readonly", xinfo_consumers)
        .acl("@stream").tips(&["nondeterministic_output"]).keys(&[ks("RO access", Index(2), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Returns a list of the consumers in a consumer group.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0), a("groupname", "string")]),
    Command::new("xinfo|groups", 3, "readonly", xinfo_groups)
        .acl("@stream").keys(&[ks("RO access", Index(2), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Returns a list of the consumer groups of a stream.")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added the `entries-read` and `lag` fields")])
        .args(&[a("key", "key").key(0)]),
    Command::new("xinfo|help", 2, "loading stale", xinfo_help)
        .acl("@stream")
        .doc(Group::Stream, "5.0.0", "Returns helpful text about the different subcommands.")
        .complexity("O(1)"),
    Command::new("xinfo|stream", -3, "readonly", xinfo_stream)
        .acl("@stream").keys(&[ks("RO access", Index(2), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Returns information about a stream.")
        .complexity("O(1)")
        .history(&[("6.0.0", "Added the `FULL` modifier."), ("7.0.0", "Added the `max-deleted-entry-id`, `entries-added`, `recorded-first-entry-id`, `entries-read` and `lag` fields")])
        .args(&[a("key", "key").key(0), a("full", "block").token("FULL").flags("optional").args(&[a("count", "integer").token("COUNT").flags("optional")])]),
];

/// Redis's `addReplySubcommandSyntaxError`: the subcommand as the client spelled it.
fn subcommand_error(req: &Request<'_>, container: &[u8]) -> CmdError {
    let sub = c_str(req.arg(1));
    raw_error(&[
        b"ERR unknown subcommand or wrong number of arguments for '",
        &sub[..sub.len().min(128)],
        b"'. Try ",
        container,
        b" HELP.",
    ])
}

/// `-NOGROUP No such key '<key>' or consumer group '<group>'<tail>`.
fn no_key_or_group(key: &[u8], group: &[u8], tail: &[u8]) -> CmdError {
    raw_error(&[
        b"NOGROUP No such key '",
        c_str(key),
        b"' or consumer group '",
        c_str(group),
        b"'",
        tail,
    ])
}

/// `-NOGROUP No such consumer group '<group>' for key name '<key>'`.
fn no_group_for_key(key: &[u8], group: &[u8]) -> CmdError {
    raw_error(&[
        b"NOGROUP No such consumer group '",
        c_str(group),
        b"' for key name '",
        c_str(key),
        b"'",
    ])
}

/// Checks that `key` holds a stream (or nothing): WRONGTYPE otherwise; whether it exists.
fn stream_exists(ctx: &Ctx<'_>, key: &[u8]) -> Result<bool, CmdError> {
    match ctx.s.db.peek_type(key) {
        None => Ok(false),
        Some(KeyType::Stream) => Ok(true),
        Some(_) => Err(kvcore::Error::WrongType.into()),
    }
}

fn id_bulk(w: &mut Writer<'_>, id: StreamId) {
    w.bulk(id_text(id, &mut [0; ID_LEN]));
}

// ---- XGROUP ----

/// What XGROUP's subcommands share: the options after the ID (CREATE and SETID), the key's
/// type, and the key and group checks, in Redis's order.
struct GroupArgs {
    mkstream: bool,
    entries_read: Option<u64>,
    exists: bool,
}

fn xgroup_args(ctx: &Ctx<'_>, req: &Request<'_>) -> Result<GroupArgs, CmdError> {
    let sub = req.arg(1);
    let (create, setid) = (is(sub, "create"), is(sub, "setid"));
    let mut out = GroupArgs {
        mkstream: false,
        entries_read: None,
        exists: false,
    };
    let mut i = 5;
    while i < req.len() {
        if create && is(req.arg(i), "mkstream") {
            out.mkstream = true;
            i += 1;
        } else if (create || setid) && is(req.arg(i), "entriesread") && i + 1 < req.len() {
            let n = int_arg(req.arg(i + 1))?;
            if n < -1 {
                return Err(CmdError::Msg(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            out.entries_read = u64::try_from(n).ok();
            i += 2;
        } else {
            return Err(subcommand_error(req, b"XGROUP"));
        }
    }
    let (key, group) = (req.arg(2), req.arg(3));
    out.exists = stream_exists(ctx, key)?;
    if !out.mkstream {
        if !out.exists {
            return Err(CmdError::Msg(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        }
        if !create && !is(sub, "destroy") && !ctx.s.db.xgroup_exists(key, group)? {
            return Err(no_group_for_key(key, group));
        }
    }
    Ok(out)
}

/// Maps kvcore's group errors of XGROUP to Redis's texts.
fn xgroup_error(e: kvcore::Error, req: &Request<'_>) -> CmdError {
    match e {
        kvcore::Error::Stream(kvcore::StreamError::NoGroup) => {
            no_group_for_key(req.arg(2), req.arg(3))
        }
        kvcore::Error::NoSuchKey => CmdError::Msg(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ),
        other => other.into(),
    }
}

/// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n]
fn xgroup_create(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let args = xgroup_args(ctx, req)?;
    if req.len() > 8 {
        return Err(subcommand_error(req, b"XGROUP"));
    }
    let start = if c_str(req.arg(4)) == b"$" {
        GroupStart::Last
    } else {
        GroupStart::Id(parse_id(req.arg(4), 0, true)?)
    };
    ctx.s
        .db
        .xgroup_create(
            req.arg(2),
            req.arg(3),
            start,
            args.entries_read,
            args.mkstream,
        )
        .map_err(|e| xgroup_error(e, req))?;
    ctx.ok()
}

/// XGROUP SETID key group id|$ [ENTRIESREAD n]
fn xgroup_setid(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let args = xgroup_args(ctx, req)?;
    if req.len() != 5 && req.len() != 7 {
        return Err(subcommand_error(req, b"XGROUP"));
    }
    let start = if c_str(req.arg(4)) == b"$" {
        GroupStart::Last
    } else {
        GroupStart::Id(parse_id(req.arg(4), 0, false)?)
    };
    ctx.s
        .db
        .xgroup_setid(req.arg(2), req.arg(3), start, args.entries_read)
        .map_err(|e| xgroup_error(e, req))?;
    ctx.ok()
}

/// XGROUP DESTROY key group
fn xgroup_destroy(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    xgroup_args(ctx, req)?;
    let gone = ctx
        .s
        .db
        .xgroup_destroy(req.arg(2), req.arg(3))
        .map_err(|e| xgroup_error(e, req))?;
    ctx.int(i64::from(gone))
}

/// XGROUP CREATECONSUMER key group consumer
fn xgroup_createconsumer(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    xgroup_args(ctx, req)?;
    let created = ctx
        .s
        .db
        .xgroup_createconsumer(req.arg(2), req.arg(3), req.arg(4))
        .map_err(|e| xgroup_error(e, req))?;
    ctx.int(i64::from(created))
}

/// XGROUP DELCONSUMER key group consumer
fn xgroup_delconsumer(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    xgroup_args(ctx, req)?;
    let pending = ctx
        .s
        .db
        .xgroup_delconsumer(req.arg(2), req.arg(3), req.arg(4))
        .map_err(|e| xgroup_error(e, req))?;
    ctx.int(pending as i64)
}

fn xgroup_help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.help(&[
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ])
}

// ---- XREADGROUP ----

/// Encodes what one stream gave a group read: `[id, [field, value, ...]]` per entry, or
/// `[id, nil]` for a deleted entry of the consumer's history.
fn encode_group_entry(body: &mut Vec<u8>, version: Version, e: GroupEntry<'_>) {
    let mut w = Writer::new(body, version);
    match e {
        GroupEntry::Entry(e) => write_entry(&mut w, e),
        GroupEntry::Deleted(id) => {
            w.array_len(2);
            id_bulk(&mut w, id);
            w.null_array();
        }
    }
}

/// XREADGROUP's check that `key` is a stream with group `group`.
fn require_group(ctx: &Ctx<'_>, key: &[u8], group: &[u8]) -> Result<(), CmdError> {
    if stream_exists(ctx, key)? && ctx.s.db.xgroup_exists(key, group)? {
        Ok(())
    } else {
        Err(no_key_or_group(
            key,
            group,
            b" in XREADGROUP with GROUP option",
        ))
    }
}

/// What a blocked XREADGROUP is served: its entries, or the error Redis unblocks it with.
type GroupServed = Result<Served, &'static str>;

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] [NOACK] STREAMS key ... id ...
fn xreadgroup(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let ReadOptions {
        count,
        block,
        streams_at,
        group,
        noack,
    } = read_options(ctx, req, true)?;
    let Some((group, consumer)) = group else {
        return Err(CmdError::Msg("ERR Missing GROUP option for XREADGROUP"));
    };
    let n = (req.len() - streams_at) / 2;
    let mut streams: Vec<(Vec<u8>, ReadGroup)> = Vec::with_capacity(n);
    for k in 0..n {
        let key = req.arg(streams_at + k);
        let arg = req.arg(streams_at + n + k);
        // One stream: the read itself checks the key and group, under its lock.
        if n > 1 {
            require_group(ctx, key, group)?;
        }
        let from = match c_str(arg) {
            b"$" => {
                // Redis looks the key and group up before it looks at the ID.
                if n == 1 {
                    require_group(ctx, key, group)?;
                }
                return Err(CmdError::Msg(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            b">" => ReadGroup::New,
            _ => {
                if n == 1 {
                    require_group(ctx, key, group)?;
                }
                ReadGroup::History(parse_id(arg, 0, true)?)
            }
        };
        streams.push((key.to_vec(), from));
    }
    let version = ctx.s.version;
    let limit = (count > 0).then_some(count);
    let mut served: Served = Vec::new();
    for (key, from) in &streams {
        let mut body = Vec::new();
        let got = ctx
            .s
            .db
            .xreadgroup_with(key, group, consumer, *from, limit, noack, |e| {
                encode_group_entry(&mut body, version, e)
            })
            .map_err(|e| match e {
                kvcore::Error::Stream(kvcore::StreamError::NoGroup) => {
                    no_key_or_group(key, group, b" in XREADGROUP with GROUP option")
                }
                other => other.into(),
            })?;
        if let Some(n) = got {
            served.push((key.clone(), n, body));
        }
    }
    if !served.is_empty() {
        return reply(ctx, &served);
    }
    let Some(deadline) = block else {
        ctx.w().null_array();
        return Ok(());
    };
    // Served later from one stream, at most COUNT or 1000 entries, as Redis does.
    let count = if count == 0 { 1000 } else { count };
    let db = ctx.s.db.clone();
    let (group, consumer) = (group.to_vec(), consumer.to_vec());
    let attempt: Attempt<GroupServed> = Box::new(move || {
        for (key, _) in &streams {
            let mut body = Vec::new();
            let got = db.xreadgroup_with(
                key,
                &group,
                &consumer,
                ReadGroup::New,
                Some(count),
                noack,
                |e| encode_group_entry(&mut body, version, e),
            );
            match got {
                Ok(Some(n)) => return Ok(Some(Ok(vec![(key.clone(), n, body)]))),
                Ok(None) => {}
                // Redis 7.0 unblocks a group reader when its key is deleted or changes type,
                // and when its group is destroyed.
                Err(kvcore::Error::WrongType) => {
                    return Ok(Some(Err("UNBLOCKED the stream key no longer exists")));
                }
                Err(kvcore::Error::Stream(kvcore::StreamError::NoGroup)) => {
                    return Ok(Some(Err(if db.peek_type(key).is_none() {
                        "UNBLOCKED the stream key no longer exists"
                    } else {
                        "NOGROUP the consumer group this client was blocked on no longer exists"
                    })));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    });
    let keys: Vec<&[u8]> = (0..n).map(|k| req.arg(streams_at + k)).collect();
    match block_on(ctx, req, deadline, &keys, attempt)? {
        Some(Ok(served)) => reply(ctx, &served),
        Some(Err(text)) => Err(CmdError::Msg(text)),
        None => {
            ctx.w().null_array();
            Ok(())
        }
    }
}

// ---- XACK, XPENDING, XCLAIM, XAUTOCLAIM ----

/// XACK key group id [id ...]: a missing key or group answers 0 before the IDs are parsed.
fn xack(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (key, group) = (req.arg(1), req.arg(2));
    if !stream_exists(ctx, key)? || !ctx.s.db.xgroup_exists(key, group)? {
        return ctx.int(0);
    }
    let ids = req
        .args()
        .skip(3)
        .map(|a| parse_id(a, 0, true))
        .collect::<Result<Vec<_>, _>>()?;
    let n = ctx.s.db.xack(key, group, &ids)?;
    ctx.int(n as i64)
}

/// Maps kvcore's NoGroup to `-NOGROUP No such key '<key>' or consumer group '<group>'`.
fn nogroup<'a>(req: &'a Request<'a>) -> impl Fn(kvcore::Error) -> CmdError + 'a {
    move |e| match e {
        kvcore::Error::Stream(kvcore::StreamError::NoGroup) => {
            no_key_or_group(req.arg(1), req.arg(2), b"")
        }
        other => other.into(),
    }
}

/// XPENDING key group [[IDLE min-idle] start end count [consumer]]
fn xpending(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let argc = req.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(SYNTAX);
    }
    let mut range = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0;
        if is(req.arg(3), "idle") {
            min_idle = int_arg(req.arg(4))?;
            if argc < 8 {
                return Err(SYNTAX);
            }
            at += 2;
        }
        let count = usize::try_from(int_arg(req.arg(at + 2))?).unwrap_or(0);
        let start = parse_bound(req.arg(at), 0, true)?;
        let end = parse_bound(req.arg(at + 1), u64::MAX, false)?;
        let consumer = (at + 3 < argc).then(|| req.arg(at + 3));
        range = Some((min_idle, start, end, count, consumer));
    }
    let (key, group) = (req.arg(1), req.arg(2));
    let Some((min_idle, start, end, count, consumer)) = range else {
        let summary = ctx.s.db.xpending(key, group).map_err(nogroup(req))?;
        let mut w = ctx.w();
        w.array_len(4);
        w.integer(summary.count as i64);
        match summary.range {
            None => {
                w.null();
                w.null();
                w.null_array();
            }
            Some((first, last)) => {
                id_bulk(&mut w, first);
                id_bulk(&mut w, last);
                w.array_len(summary.consumers.len());
                for (name, n) in &summary.consumers {
                    w.array_len(2);
                    w.bulk(name);
                    w.bulk(n.to_string().as_bytes());
                }
            }
        }
        return Ok(());
    };
    let entries = ctx
        .s
        .db
        .xpending_range(key, group, start, end, count, consumer, min_idle)
        .map_err(nogroup(req))?;
    let mut w = ctx.w();
    w.array_len(entries.len());
    for p in &entries {
        w.array_len(4);
        id_bulk(&mut w, p.id);
        w.bulk(&p.consumer);
        w.integer(p.idle as i64);
        w.integer(p.deliveries as i64);
    }
    Ok(())
}

/// An integer argument, or the error text Redis gives for it.
fn int_or(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    int_arg(arg).map_err(|_| CmdError::Msg(msg))
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-ms]
/// [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID id]
fn xclaim(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (key, group) = (req.arg(1), req.arg(2));
    if !stream_exists(ctx, key)? || !ctx.s.db.xgroup_exists(key, group)? {
        return Err(no_key_or_group(key, group, b""));
    }
    let min_idle = int_or(req.arg(4), "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < req.len() {
        match parse_id(req.arg(j), 0, true) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let mut opts = XClaimOptions::new();
    while j < req.len() {
        let more = req.len() - 1 - j > 0;
        let opt = req.arg(j);
        if is(opt, "force") {
            opts = opts.force();
        } else if is(opt, "justid") {
            opts = opts.just_id();
        } else if is(opt, "idle") && more {
            j += 1;
            opts = opts.idle(int_or(
                req.arg(j),
                "ERR Invalid IDLE option argument for XCLAIM",
            )?);
        } else if is(opt, "time") && more {
            j += 1;
            opts = opts.time(int_or(
                req.arg(j),
                "ERR Invalid TIME option argument for XCLAIM",
            )?);
        } else if is(opt, "retrycount") && more {
            j += 1;
            let n = int_or(
                req.arg(j),
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?;
            if let Ok(n) = u64::try_from(n) {
                opts = opts.retry_count(n);
            }
        } else if is(opt, "lastid") && more {
            j += 1;
            opts = opts.last_id(parse_id(req.arg(j), 0, true)?);
        } else {
            return Err(raw_error(&[
                b"ERR Unrecognized XCLAIM option '",
                c_str(opt),
                b"'",
            ]));
        }
        j += 1;
    }
    let version = ctx.s.version;
    let mut body = Vec::new();
    let claimed = ctx
        .s
        .db
        .xclaim_with(key, group, req.arg(3), min_idle, &ids, &opts, |e| {
            write_entry(&mut Writer::new(&mut body, version), e)
        })
        .map_err(nogroup(req))?;
    let mut w = ctx.w();
    w.array_len(claimed.len());
    if opts.is_just_id() {
        for id in claimed {
            id_bulk(&mut w, id);
        }
    } else {
        ctx.out.extend_from_slice(&body);
    }
    Ok(())
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
fn xautoclaim(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let min_idle = int_or(
        req.arg(4),
        "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    )?
    .max(0);
    let start = parse_bound(req.arg(5), 0, true)?;
    let mut count = 100usize;
    let mut just_id = false;
    let mut j = 6;
    while j < req.len() {
        let more = req.len() - 1 - j > 0;
        if is(req.arg(j), "count") && more {
            const MAX: i64 = i64::MAX / 16;
            let n = int_or(req.arg(j + 1), "ERR COUNT must be > 0")?;
            if !(1..=MAX).contains(&n) {
                return Err(CmdError::Msg("ERR COUNT must be > 0"));
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
            j += 1;
        } else if is(req.arg(j), "justid") {
            just_id = true;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let version = ctx.s.version;
    let mut body = Vec::new();
    let got = ctx
        .s
        .db
        .xautoclaim_with(
            req.arg(1),
            req.arg(2),
            req.arg(3),
            min_idle,
            start,
            count,
            just_id,
            |e| write_entry(&mut Writer::new(&mut body, version), e),
        )
        .map_err(nogroup(req))?;
    let mut w = ctx.w();
    w.array_len(3);
    id_bulk(&mut w, got.next);
    w.array_len(got.claimed.len());
    if just_id {
        for id in &got.claimed {
            id_bulk(&mut w, *id);
        }
    } else {
        ctx.out.extend_from_slice(&body);
    }
    let mut w = ctx.w();
    w.array_len(got.deleted.len());
    for id in &got.deleted {
        id_bulk(&mut w, *id);
    }
    Ok(())
}

// ---- XINFO ----

fn xinfo_help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.help(&[
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ])
}

/// XINFO's key check: `ERR no such key`, or WRONGTYPE.
fn xinfo_key(ctx: &Ctx<'_>, key: &[u8]) -> Result<(), CmdError> {
    if stream_exists(ctx, key)? {
        Ok(())
    } else {
        Err(CmdError::Msg("ERR no such key"))
    }
}

fn opt_int(w: &mut Writer<'_>, v: Option<i64>) {
    match v {
        Some(n) => w.integer(n),
        None => w.null(),
    }
}

/// XINFO CONSUMERS key group
fn xinfo_consumers(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (key, group) = (req.arg(2), req.arg(3));
    xinfo_key(ctx, key)?;
    let consumers = ctx.s.db.xinfo_consumers(key, group).map_err(|e| match e {
        kvcore::Error::Stream(kvcore::StreamError::NoGroup) => no_group_for_key(key, group),
        kvcore::Error::NoSuchKey => CmdError::Msg("ERR no such key"),
        other => other.into(),
    })?;
    let mut w = ctx.w();
    w.array_len(consumers.len());
    for c in &consumers {
        w.map_len(3);
        w.bulk(b"name");
        w.bulk(&c.name);
        w.bulk(b"pending");
        w.integer(c.pending as i64);
        w.bulk(b"idle");
        w.integer(c.idle as i64);
    }
    Ok(())
}

/// XINFO GROUPS key
fn xinfo_groups(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(2);
    xinfo_key(ctx, key)?;
    let groups = ctx.s.db.xinfo_groups(key)?.unwrap_or_default();
    let mut w = ctx.w();
    w.array_len(groups.len());
    for g in &groups {
        w.map_len(6);
        w.bulk(b"name");
        w.bulk(&g.name);
        w.bulk(b"consumers");
        w.integer(g.consumers as i64);
        w.bulk(b"pending");
        w.integer(g.pending as i64);
        w.bulk(b"last-delivered-id");
        id_bulk(&mut w, g.last_delivered_id);
        w.bulk(b"entries-read");
        opt_int(&mut w, g.entries_read.map(|n| n as i64));
        w.bulk(b"lag");
        opt_int(&mut w, g.lag);
    }
    Ok(())
}

/// XINFO STREAM key [FULL [COUNT count]]
fn xinfo_stream(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(2);
    xinfo_key(ctx, key)?;
    let full = match req.len() {
        3 => None,
        4 | 6 if is(req.arg(3), "full") => {
            if req.len() == 6 {
                if !is(req.arg(4), "count") {
                    return Err(subcommand_error(req, b"XINFO"));
                }
                let n = int_arg(req.arg(5))?;
                Some(if n < 0 { 10 } else { n as usize })
            } else {
                Some(10)
            }
        }
        _ => return Err(subcommand_error(req, b"XINFO")),
    };
    let version = ctx.s.version;
    let Some(info) = ctx.s.db.xinfo(key)? else {
        return Err(CmdError::Msg("ERR no such key"));
    };
    let head = |w: &mut Writer<'_>| {
        w.bulk(b"length");
        w.integer(info.len as i64);
        w.bulk(b"radix-tree-keys");
        w.integer(info.radix_tree_keys as i64);
        w.bulk(b"radix-tree-nodes");
        w.integer(info.radix_tree_nodes as i64);
        w.bulk(b"last-generated-id");
        id_bulk(w, info.last_id);
        w.bulk(b"max-deleted-entry-id");
        id_bulk(w, info.max_deleted_id);
        w.bulk(b"entries-added");
        w.integer(info.entries_added as i64);
        w.bulk(b"recorded-first-entry-id");
        id_bulk(w, info.first_id);
    };
    let Some(count) = full else {
        let edge = |ctx: &mut Ctx<'_>, rev: bool| -> Result<Vec<u8>, CmdError> {
            let mut body = Vec::new();
            let n = ctx.s.db.xrange_with(key, .., Some(1), rev, |e| {
                write_entry(&mut Writer::new(&mut body, version), e)
            })?;
            if n == 0 {
                Writer::new(&mut body, version).null();
            }
            Ok(body)
        };
        let (first, last) = (edge(ctx, false)?, edge(ctx, true)?);
        let mut w = ctx.w();
        w.map_len(10);
        head(&mut w);
        w.bulk(b"groups");
        w.integer(info.groups as i64);
        w.bulk(b"first-entry");
        ctx.out.extend_from_slice(&first);
        ctx.w().bulk(b"last-entry");
        ctx.out.extend_from_slice(&last);
        return Ok(());
    };
    let mut entries = Vec::new();
    let mut n = 0;
    let groups = ctx
        .s
        .db
        .xinfo_full_with(key, count, |e| {
            write_entry(&mut Writer::new(&mut entries, version), e);
            n += 1;
        })?
        .unwrap_or_default();
    let mut w = ctx.w();
    w.map_len(9);
    head(&mut w);
    w.bulk(b"entries");
    w.array_len(n);
    ctx.out.extend_from_slice(&entries);
    let mut w = ctx.w();
    w.bulk(b"groups");
    w.array_len(groups.len());
    for g in &groups {
        w.map_len(7);
        w.bulk(b"name");
        w.bulk(&g.info.name);
        w.bulk(b"last-delivered-id");
        id_bulk(&mut w, g.info.last_delivered_id);
        w.bulk(b"entries-read");
        opt_int(&mut w, g.info.entries_read.map(|n| n as i64));
        w.bulk(b"lag");
        opt_int(&mut w, g.info.lag);
        w.bulk(b"pel-count");
        w.integer(g.info.pending as i64);
        w.bulk(b"pending");
        w.array_len(g.pending.len());
        for p in &g.pending {
            w.array_len(4);
            id_bulk(&mut w, p.id);
            w.bulk(&p.consumer);
            w.integer(p.delivered_at as i64);
            w.integer(p.deliveries as i64);
        }
        w.bulk(b"consumers");
        w.array_len(g.consumers.len());
        for (c, pel) in &g.consumers {
            w.map_len(4);
            w.bulk(b"name");
            w.bulk(&c.name);
            w.bulk(b"seen-time");
            w.integer(c.seen_time as i64);
            w.bulk(b"pel-count");
            w.integer(c.pending as i64);
            w.bulk(b"pending");
            w.array_len(pel.len());
            for &(id, time, deliveries) in pel {
                w.array_len(3);
                id_bulk(&mut w, id);
                w.integer(time as i64);
                w.integer(deliveries as i64);
            }
        }
    }
    Ok(())
}
