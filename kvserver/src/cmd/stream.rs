//! Stream commands over `kvcore::StreamStore`: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM,
//! XSETID and XREAD (whose BLOCK waits in line as the blocking list pops do, see
//! `blocking.rs`). Arguments are parsed in Redis's order, so the first error is Redis's.

use std::time::{Duration, Instant};

use kvcore::{StreamEntryRef, StreamId, StreamStore, XAddId, XAddOptions, XSetIdOptions, XTrim};
use kvproto::{Request, Version, Writer};

use super::blocking::block_on;
use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, SYNTAX, arity_error, c_str};
use super::spec::{
    Begin::{Index, Keyword},
    Find::Range,
    Group, a, ks,
};
use super::table::Command;
use crate::waiters::Attempt;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("xadd", -5, "write denyoom fast", xadd)
        .acl("@stream").tips(&["nondeterministic_output"])
        .keys(&[ks("RW update", Index(1), Range(0, 1, 0)).notes("UPDATE instead of INSERT because of the optional trimming feature")])
        .doc(Group::Stream, "5.0.0", "Appends a new message to a stream. Creates the key if it doesn't exist.")
        .complexity("O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.")
        .history(&[
            ("6.2.0", "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` option."),
            ("7.0.0", "Added support for the `<ms>-*` explicit ID form."),
        ])
        .args(&[
            a("key", "key").key(0),
            a("nomkstream", "pure-token").token("NOMKSTREAM").since("6.2.0").flags("optional"),
            a("trim", "block").flags("optional").args(TRIM_ARGS),
            a("id_or_auto", "oneof").args(&[
                a("auto_id", "pure-token").token("*"),
                a("id", "string"),
            ]),
            a("field_value", "block").flags("multiple").args(&[a("field", "string"), a("value", "string")]),
        ]),
    Command::new("xdel", -3, "write fast", xdel)
        .acl("@stream").keys(&[ks("RW delete", Index(1), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Returns the number of messages after removing them from a stream.")
        .complexity("O(1) for each single item to delete in the stream, regardless of the stream size.")
        .args(&[a("key", "key").key(0), a("id", "string").flags("multiple")]),
    Command::new("xlen", 2, "readonly fast", xlen)
        .acl("@stream").keys(&[ks("RO", Index(1), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Return the number of messages in a stream.")
        .complexity("O(1)")
        .args(&[a("key", "key").key(0)]),
    Command::new("xrange", -4, "readonly", xrange)
        .acl("@stream").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Returns the messages from a stream within a range of IDs.")
        .complexity("O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).")
        .history(&[("6.2.0", "Added exclusive ranges.")])
        .args(&[
            a("key", "key").key(0),
            a("start", "string"),
            a("end", "string"),
            a("count", "integer").token("COUNT").flags("optional"),
        ]),
    Command::new("xread", -4, "readonly blocking", xread)
        .acl("@stream").keys(&[ks("RO access", Keyword("STREAMS", 1), Range(-1, 1, 2))])
        .doc(Group::Stream, "5.0.0", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.")
        .complexity("For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.")
        .args(&[
            a("count", "integer").token("COUNT").flags("optional"),
            a("milliseconds", "integer").token("BLOCK").flags("optional"),
            a("streams", "block").token("STREAMS").args(&[
                a("key", "key").key(0).flags("multiple"),
                a("id", "string").flags("multiple"),
            ]),
        ]),
    Command::new("xrevrange", -4, "readonly", xrevrange)
        .acl("@stream").keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Returns the messages from a stream within a range of IDs in reverse order.")
        .complexity("O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).")
        .history(&[("6.2.0", "Added exclusive ranges.")])
        .args(&[
            a("key", "key").key(0),
            a("end", "string"),
            a("start", "string"),
            a("count", "integer").token("COUNT").flags("optional"),
        ]),
    Command::new("xsetid", -3, "write denyoom fast", xsetid)
        .acl("@stream").keys(&[ks("RW update", Index(1), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "An internal command for replicating stream values.")
        .complexity("O(1)")
        .history(&[("7.0.0", "Added the `entries_added` and `max_deleted_entry_id` arguments.")])
        .args(&[
            a("key", "key").key(0),
            a("last-id", "string"),
            a("entries_added", "integer").token("ENTRIESADDED").since("7.0.0").flags("optional"),
            a("max_deleted_entry_id", "string").token("MAXDELETEDID").since("7.0.0").flags("optional"),
        ]),
    Command::new("xtrim", -4, "write", xtrim)
        .acl("@stream").tips(&["nondeterministic_output"])
        .keys(&[ks("RW delete", Index(1), Range(0, 1, 0))])
        .doc(Group::Stream, "5.0.0", "Deletes messages from the beginning of a stream.")
        .complexity("O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.")
        .history(&[("6.2.0", "Added the `MINID` trimming strategy and the `LIMIT` option.")])
        .args(&[a("key", "key").key(0), a("trim", "block").args(TRIM_ARGS)]),
];

static TRIM_ARGS: &[super::spec::Arg] = &[
    a("strategy", "oneof").args(&[
        a("maxlen", "pure-token").token("MAXLEN"),
        a("minid", "pure-token").token("MINID").since("6.2.0"),
    ]),
    a("operator", "oneof").flags("optional").args(&[
        a("equal", "pure-token").token("="),
        a("approximately", "pure-token").token("~"),
    ]),
    a("threshold", "string"),
    a("count", "integer")
        .token("LIMIT")
        .since("6.2.0")
        .flags("optional"),
];

pub(super) const INVALID_ID: CmdError =
    CmdError::Msg("ERR Invalid stream ID specified as stream command argument");

/// Redis's `streamGenericParseIDOrReply`: `-` and `+` (refused when `strict`), `<ms>-<seq>`,
/// or `<ms>` with the sequence `missing_seq`.
pub(super) fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, CmdError> {
    if arg.len() <= 127 {
        match c_str(arg) {
            b"-" | b"+" if strict => return Err(INVALID_ID),
            b"-" => return Ok(StreamId::MIN),
            b"+" => return Ok(StreamId::MAX),
            _ => {}
        }
    }
    StreamId::parse(arg, missing_seq).ok_or(INVALID_ID)
}

/// XADD's ID argument: strict, and `<ms>-*` picks the sequence.
fn parse_add_id(arg: &[u8]) -> Result<XAddId, CmdError> {
    let text = c_str(arg);
    if arg.len() <= 127
        && let Some(ms) = text.strip_suffix(b"-*")
        && !ms.contains(&b'-')
    {
        return kvnum::parse_u64(ms).map(XAddId::AutoSeq).ok_or(INVALID_ID);
    }
    parse_id(arg, 0, true).map(XAddId::Explicit)
}

/// A range bound: `(` makes it exclusive (and strict), which moves it one ID inwards.
pub(super) fn parse_bound(arg: &[u8], missing_seq: u64, start: bool) -> Result<StreamId, CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id(&arg[1..], missing_seq, true)?;
        let moved = if start { id.next() } else { id.prev() };
        moved.ok_or(if start {
            CmdError::Msg("ERR invalid start ID for the interval")
        } else {
            CmdError::Msg("ERR invalid end ID for the interval")
        })
    } else {
        parse_id(arg, missing_seq, false)
    }
}

/// The trimming options of XADD and XTRIM, and for XADD where its ID argument is.
struct AddTrimArgs {
    trim: Option<XTrim>,
    no_mkstream: bool,
    id: Option<XAddId>,
    /// The index of the ID argument (XADD) or past the last argument (XTRIM).
    next: usize,
}

/// Redis's `streamParseAddOrTrimArgsOrReply`, with its checks in its order.
fn parse_add_trim(req: &Request<'_>, xadd: bool) -> Result<AddTrimArgs, CmdError> {
    const BOTH: CmdError = CmdError::Msg(
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
    );
    let mut out = AddTrimArgs {
        trim: None,
        no_mkstream: false,
        id: None,
        next: req.len(),
    };
    let mut limit: Option<i64> = None;
    let mut approx = false;
    let mut i = 2;
    while i < req.len() {
        let more = req.len() - 1 - i;
        let opt = req.arg(i);
        if xadd && c_str(opt) == b"*" {
            out.id = Some(XAddId::Auto);
            out.next = i;
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if out.trim.is_some() {
                return Err(BOTH);
            }
            let next = c_str(req.arg(i + 1));
            approx = more >= 2 && next == b"~";
            if more >= 2 && (approx || next == b"=") {
                i += 1;
            }
            let threshold = req.arg(i + 1);
            let trim = if is(opt, "maxlen") {
                let n = int_arg(threshold)?;
                if n < 0 {
                    return Err(CmdError::Msg("ERR The MAXLEN argument must be >= 0."));
                }
                XTrim::max_len(n as u64)
            } else {
                XTrim::min_id(parse_id(threshold, 0, true)?)
            };
            out.trim = Some(if approx { trim.approx() } else { trim });
            i += 2;
            continue;
        } else if is(opt, "limit") && more > 0 {
            let n = int_arg(req.arg(i + 1))?;
            if n < 0 {
                return Err(CmdError::Msg("ERR The LIMIT argument must be >= 0."));
            }
            limit = Some(n);
            i += 2;
            continue;
        } else if xadd && is(opt, "nomkstream") {
            out.no_mkstream = true;
        } else if xadd {
            out.id = Some(parse_add_id(opt)?);
            out.next = i;
            break;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if limit.is_some_and(|n| n != 0) && out.trim.is_none() {
        return Err(CmdError::Msg(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && out.trim.is_none() {
        return Err(CmdError::Msg(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if let Some(n) = limit {
        if !approx {
            return Err(CmdError::Msg(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        out.trim = out.trim.map(|t| t.limit(n as u64));
    }
    Ok(out)
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
fn xadd(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let args = parse_add_trim(req, true)?;
    // The loop ends at the ID (or runs out, leaving nothing for the pairs).
    let id = args.id.unwrap_or(XAddId::Auto);
    let fields = req.len() - (args.next + 1).min(req.len());
    if args.id.is_none() || fields < 2 || !fields.is_multiple_of(2) {
        return Err(CmdError::Text(arity_error("xadd")));
    }
    let pairs: Vec<(&[u8], &[u8])> = (args.next + 1..req.len())
        .step_by(2)
        .map(|i| (req.arg(i), req.arg(i + 1)))
        .collect();
    let mut opts = XAddOptions::new();
    if args.no_mkstream {
        opts = opts.no_mkstream();
    }
    if let Some(t) = args.trim {
        opts = opts.trim(t);
    }
    let added = ctx.s.db.xadd(req.arg(1), id, &pairs, &opts)?;
    let mut w = ctx.w();
    match added {
        Some(id) => w.bulk(id_text(id, &mut [0; ID_LEN])),
        None => w.null(),
    }
    Ok(())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
fn xtrim(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let args = parse_add_trim(req, false)?;
    // parse_add_trim refuses XTRIM without a strategy.
    let trim = args.trim.ok_or(SYNTAX)?;
    let n = ctx.s.db.xtrim(req.arg(1), &trim)?;
    ctx.int(n as i64)
}

/// The longest ID text: two 20-digit numbers and a dash.
pub(super) const ID_LEN: usize = 41;

pub(super) fn id_text(id: StreamId, buf: &mut [u8; ID_LEN]) -> &[u8] {
    let mut ms = [0; kvnum::I64_LEN];
    let mut seq = [0; kvnum::I64_LEN];
    let (ms, seq) = (
        kvnum::format_u64(id.ms, &mut ms),
        kvnum::format_u64(id.seq, &mut seq),
    );
    let n = ms.len() + 1 + seq.len();
    buf[..ms.len()].copy_from_slice(ms);
    buf[ms.len()] = b'-';
    buf[ms.len() + 1..n].copy_from_slice(seq);
    &buf[..n]
}

/// One entry as Redis replies it: `[id, [field, value, ...]]`.
pub(super) fn write_entry(w: &mut Writer<'_>, e: StreamEntryRef<'_>) {
    w.array_len(2);
    w.bulk(id_text(e.id(), &mut [0; ID_LEN]));
    w.array_len(e.len() * 2);
    for (f, v) in e.fields() {
        w.bulk(f);
        w.bulk(v);
    }
}

fn range(ctx: &mut Ctx<'_>, req: &Request<'_>, rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (req.arg(3), req.arg(2))
    } else {
        (req.arg(2), req.arg(3))
    };
    let start = parse_bound(start_arg, 0, true)?;
    let end = parse_bound(end_arg, u64::MAX, false)?;
    let mut count: Option<usize> = None;
    let mut j = 4;
    while j < req.len() {
        if is(req.arg(j), "count") && j + 1 < req.len() {
            count = Some(usize::try_from(int_arg(req.arg(j + 1))?).unwrap_or(0));
            j += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    let version = ctx.s.version;
    let mut body = Vec::new();
    let n = ctx
        .s
        .db
        .xrange_with(req.arg(1), start..=end, count, rev, |e| {
            write_entry(&mut Writer::new(&mut body, version), e);
        })?;
    // COUNT 0 answers a null array, once the key was found (a missing key is an empty array).
    if count == Some(0) && ctx.s.db.peek_type(req.arg(1)).is_some() {
        ctx.w().null_array();
        return Ok(());
    }
    ctx.w().array_len(n);
    ctx.out.extend_from_slice(&body);
    Ok(())
}

/// XRANGE key start end [COUNT count]
fn xrange(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    range(ctx, req, false)
}

/// XREVRANGE key end start [COUNT count]
fn xrevrange(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    range(ctx, req, true)
}

/// XLEN key
fn xlen(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.s.db.xlen(req.arg(1))?;
    ctx.int(n as i64)
}

/// XDEL key id [id ...]: a missing key answers 0 before the IDs are parsed, as in Redis.
fn xdel(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    match ctx.s.db.peek_type(key) {
        None => return ctx.int(0),
        Some(kvcore::KeyType::Stream) => {}
        Some(_) => return Err(kvcore::Error::WrongType.into()),
    }
    let ids = req
        .args()
        .skip(2)
        .map(|a| parse_id(a, 0, true))
        .collect::<Result<Vec<_>, _>>()?;
    let n = ctx.s.db.xdel(key, &ids)?;
    ctx.int(n as i64)
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
fn xsetid(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let id = parse_id(req.arg(2), 0, true)?;
    let mut opts = XSetIdOptions::new();
    let mut i = 3;
    while i < req.len() {
        let more = req.len() - 1 - i > 0;
        if is(req.arg(i), "entriesadded") && more {
            let n = int_arg(req.arg(i + 1))?;
            if n < 0 {
                return Err(CmdError::Msg("ERR entries_added must be positive"));
            }
            opts = opts.entries_added(n as u64);
        } else if is(req.arg(i), "maxdeletedid") && more {
            let max = parse_id(req.arg(i + 1), 0, true)?;
            if id < max {
                return Err(CmdError::Msg(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            opts = opts.max_deleted_id(max);
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    ctx.s.db.xsetid(req.arg(1), id, &opts)?;
    ctx.ok()
}

/// What XREAD serves from one stream: the key and its entries, encoded.
pub(super) type Served = Vec<(Vec<u8>, usize, Vec<u8>)>;

/// Reads, for each `(key, after)`, up to `count` entries above `after` (0: all), encoded in
/// `version`; only streams that have some. With `first_only` (a blocked reader being served)
/// it stops at the first stream that has some, and a key that now holds another type is
/// passed over rather than an error: Redis 7.0 serves a blocked XREAD only from a key that
/// holds a stream, so the reader keeps waiting.
fn read_after(
    db: &kvcore::Db,
    streams: &[(Vec<u8>, StreamId)],
    count: usize,
    version: Version,
    first_only: bool,
) -> kvcore::Result<Served> {
    let mut served = Vec::new();
    for (key, after) in streams {
        let Some(start) = after.next() else { continue };
        let mut body = Vec::new();
        let limit = if count == 0 { None } else { Some(count) };
        let read = db.xrange_with(key, start.., limit, false, |e| {
            write_entry(&mut Writer::new(&mut body, version), e);
        });
        let n = match read {
            Err(kvcore::Error::WrongType) if first_only => continue,
            other => other?,
        };
        if n > 0 {
            served.push((key.clone(), n, body));
            if first_only {
                break;
            }
        }
    }
    Ok(served)
}

/// The options of XREAD and XREADGROUP, as parsed in Redis's `xreadCommand`.
pub(super) struct ReadOptions<'a> {
    pub(super) count: usize,
    /// `Some` with BLOCK: the deadline, `None` inside for BLOCK 0 (wait for ever).
    pub(super) block: Option<Option<Instant>>,
    /// Where the keys start (the IDs follow them, as many).
    pub(super) streams_at: usize,
    /// XREADGROUP's GROUP group consumer.
    pub(super) group: Option<(&'a [u8], &'a [u8])>,
    pub(super) noack: bool,
}

/// Parses XREAD's (`group_read` false) or XREADGROUP's options up to STREAMS, with Redis's
/// errors for what the other command takes.
pub(super) fn read_options<'a>(
    ctx: &Ctx<'_>,
    req: &'a Request<'_>,
    group_read: bool,
) -> Result<ReadOptions<'a>, CmdError> {
    let mut o = ReadOptions {
        count: 0,
        block: None,
        streams_at: 0,
        group: None,
        noack: false,
    };
    let mut i = 1;
    while i < req.len() {
        let more = req.len() - 1 - i;
        let opt = req.arg(i);
        if is(opt, "block") && more > 0 {
            if ctx.s.in_script {
                return Err(CmdError::Raw(
                    [
                        &b"ERR "[..],
                        req.arg(0),
                        b" command is not allowed with BLOCK option from scripts",
                    ]
                    .concat(),
                ));
            }
            i += 1;
            let ms = int_arg(req.arg(i))
                .map_err(|_| CmdError::Msg("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(CmdError::Msg("ERR timeout is negative"));
            }
            o.block = Some(if ms == 0 {
                None
            } else {
                Instant::now().checked_add(Duration::from_millis(ms as u64))
            });
        } else if is(opt, "count") && more > 0 {
            i += 1;
            o.count = usize::try_from(int_arg(req.arg(i))?).unwrap_or(0);
        } else if is(opt, "streams") && more > 0 {
            o.streams_at = i + 1;
            if !(req.len() - o.streams_at).is_multiple_of(2) {
                return Err(CmdError::Msg(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            break;
        } else if is(opt, "group") && more >= 2 {
            if !group_read {
                return Err(CmdError::Msg(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            o.group = Some((req.arg(i + 1), req.arg(i + 2)));
            i += 2;
        } else if is(opt, "noack") {
            if !group_read {
                return Err(CmdError::Msg(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            o.noack = true;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if o.streams_at == 0 {
        return Err(SYNTAX);
    }
    Ok(o)
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
fn xread(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let ReadOptions {
        count,
        block,
        streams_at,
        ..
    } = read_options(ctx, req, false)?;
    let n = (req.len() - streams_at) / 2;
    let mut streams = Vec::with_capacity(n);
    for k in 0..n {
        let key = req.arg(streams_at + k);
        let arg = req.arg(streams_at + n + k);
        let info = ctx.s.db.xinfo(key)?;
        let after = if c_str(arg) == b"$" {
            info.map_or(StreamId::MIN, |i| i.last_id)
        } else if c_str(arg) == b">" {
            return Err(CmdError::Msg(
                "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
            ));
        } else {
            parse_id(arg, 0, true)?
        };
        streams.push((key.to_vec(), after));
    }
    let version = ctx.s.version;
    let served = read_after(&ctx.s.db, &streams, count, version, false)?;
    if !served.is_empty() {
        return reply(ctx, &served);
    }
    let Some(deadline) = block else {
        ctx.w().null_array();
        return Ok(());
    };
    // Served later: one stream, and at most 1000 entries without a COUNT, as Redis does.
    let count = if count == 0 { 1000 } else { count };
    let db = ctx.s.db.clone();
    let attempt: Attempt<Served> = Box::new(move || {
        let served = read_after(&db, &streams, count, version, true)?;
        Ok((!served.is_empty()).then_some(served))
    });
    let keys: Vec<&[u8]> = (0..n).map(|k| req.arg(streams_at + k)).collect();
    match block_on(ctx, req, deadline, &keys, attempt)? {
        Some(served) => reply(ctx, &served),
        None => {
            ctx.w().null_array();
            Ok(())
        }
    }
}

/// Redis's reply to XREAD: `[[key, entries], ...]`, a map of key to entries in RESP3.
pub(super) fn reply(ctx: &mut Ctx<'_>, served: &Served) -> CmdResult {
    let resp2 = ctx.s.version == Version::Resp2;
    if resp2 {
        ctx.w().array_len(served.len());
    } else {
        ctx.w().map_len(served.len());
    }
    for (key, n, body) in served {
        let mut w = ctx.w();
        if resp2 {
            w.array_len(2);
        }
        w.bulk(key);
        w.array_len(*n);
        ctx.out.extend_from_slice(body);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_as_redis_parses_them() {
        let ok = |a: &str, m, s| parse_id(a.as_bytes(), m, s).ok();
        assert_eq!(ok("-", 0, false), Some(StreamId::MIN));
        assert_eq!(ok("+", 0, false), Some(StreamId::MAX));
        assert_eq!(ok("-", 0, true), None);
        assert_eq!(ok("5", u64::MAX, false), Some(StreamId::new(5, u64::MAX)));
        assert_eq!(parse_add_id(b"5-*").ok(), Some(XAddId::AutoSeq(5)));
        assert_eq!(parse_add_id(b"-*").ok(), None);
        assert_eq!(parse_add_id(b"1-2-*").ok(), None);
        assert_eq!(
            parse_bound(b"(5-0", 0, true).ok(),
            Some(StreamId::new(5, 1))
        );
        assert!(parse_bound(b"(+", 0, true).is_err());
        assert_eq!(
            id_text(StreamId::MAX, &mut [0; ID_LEN]),
            b"18446744073709551615-18446744073709551615"
        );
    }
}
