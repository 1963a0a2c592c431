//! CLIENT: ID, SETNAME, GETNAME, LIST, INFO, KILL, UNBLOCK, REPLY, SETINFO, NO-EVICT, NO-TOUCH,
//! HELP, and the client-side caching subcommands TRACKING, CACHING, GETREDIR, TRACKINGINFO
//! (`tracking.rs`). PAUSE and UNPAUSE live in `pause.rs`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use kvproto::Request;

use super::connection::{BAD_CLIENT_NAME, valid_client_name};
use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, SYNTAX, subcommand_syntax};
use super::spec::{Group, a};
use super::table::{Command, run_subcommand};
use crate::conn::ReplyMode;
use crate::registry::{ClientHandle, NO_COMMAND};
use crate::waiters::Unblock;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("client", -2, "", run_subcommand)
        .doc(Group::Connection, "2.4.0", "A container for client connection commands.")
        .complexity("Depends on subcommand.")
        .subcommands(SUBCOMMANDS),
];

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("client|caching", 3, "noscript loading stale", caching)
        .acl("@connection")
        .doc(Group::Connection, "6.0.0", "Instruct the server about tracking or not keys in the next request")
        .complexity("O(1)")
        .args(&[
            a("mode", "oneof").args(&[
                a("yes", "pure-token").token("YES"),
                a("no", "pure-token").token("NO"),
            ]),
        ]),
    Command::new("client|getredir", 2, "noscript loading stale", getredir)
        .acl("@connection")
        .doc(Group::Connection, "6.0.0", "Get tracking notifications redirection client ID if any")
        .complexity("O(1)"),
    Command::new("client|tracking", -3, "noscript loading stale", tracking)
        .acl("@connection")
        .doc(Group::Connection, "6.0.0", "Enable or disable server assisted client side caching support")
        .complexity("O(1). Some options may introduce additional complexity.")
        .args(&[
            a("status", "oneof").args(&[
                a("on", "pure-token").token("ON"),
                a("off", "pure-token").token("OFF"),
            ]),
            a("client-id", "integer").token("REDIRECT").flags("optional"),
            a("prefix", "string").token("PREFIX").flags("optional multiple multiple_token"),
            a("BCAST", "pure-token").token("BCAST").flags("optional"),
            a("OPTIN", "pure-token").token("OPTIN").flags("optional"),
            a("OPTOUT", "pure-token").token("OPTOUT").flags("optional"),
            a("NOLOOP", "pure-token").token("NOLOOP").flags("optional"),
        ]),
    Command::new("client|trackinginfo", 2, "noscript loading stale", trackinginfo)
        .acl("@connection")
        .doc(Group::Connection, "6.2.0", "Return information about server assisted client side caching for the current connection")
        .complexity("O(1)"),
    Command::new("client|getname", 2, "noscript loading stale", getname)
        .acl("@connection")
        .doc(Group::Connection, "2.6.9", "Returns the name of the connection.")
        .complexity("O(1)"),
    Command::new("client|help", 2, "loading stale", help)
        .acl("@connection")
        .doc(Group::Connection, "5.0.0", "Returns helpful text about the different subcommands.")
        .complexity("O(1)"),
    Command::new("client|id", 2, "noscript loading stale", id)
        .acl("@connection")
        .doc(Group::Connection, "5.0.0", "Returns the unique client ID of the connection.")
        .complexity("O(1)"),
    Command::new("client|info", 2, "noscript loading stale", info)
        .acl("@connection").tips(&["nondeterministic_output"])
        .doc(Group::Connection, "6.2.0", "Returns information about the connection.")
        .complexity("O(1)"),
    Command::new("client|kill", -3, "admin noscript loading stale", kill)
        .acl("@connection")
        .doc(Group::Connection, "2.4.0", "Terminates open connections.")
        .complexity("O(N) where N is the number of client connections")
        .history(&[
            ("2.8.12", "Added new filter format."),
            ("2.8.12", "`ID` option."),
            ("3.2.0", "Added `master` type in for `TYPE` option."),
            ("5.0.0", "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."),
            ("6.2.0", "`LADDR` option."),
        ])
        .args(&[
            a("filter", "oneof").args(&[
                a("ip:port", "string").deprecated("2.8.12"),
                a("new-format", "oneof").flags("multiple").args(&[
                    a("client-id", "integer").token("ID").since("2.8.12").flags("optional"),
                    a("normal_master_slave_pubsub", "oneof").token("TYPE").since("2.8.12").flags("optional").args(&[
                        a("normal", "pure-token").token("NORMAL"),
                        a("master", "pure-token").token("MASTER").since("3.2.0"),
                        a("slave", "pure-token").token("SLAVE"),
                        a("replica", "pure-token").token("REPLICA").since("5.0.0"),
                        a("pubsub", "pure-token").token("PUBSUB"),
                    ]),
                    a("username", "string").token("USER").flags("optional"),
                    a("ip:port", "string").token("ADDR").flags("optional"),
                    a("ip:port", "string").token("LADDR").since("6.2.0").flags("optional"),
                    a("yes/no", "string").token("SKIPME").flags("optional"),
                ]),
            ]),
        ]),
    Command::new("client|list", -2, "admin noscript loading stale", list)
        .acl("@connection").tips(&["nondeterministic_output"])
        .doc(Group::Connection, "2.4.0", "Lists open connections.")
        .complexity("O(N) where N is the number of client connections")
        .history(&[
            ("2.8.12", "Added unique client `id` field."),
            ("5.0.0", "Added optional `TYPE` filter."),
            ("6.0.0", "Added `user` field."),
            ("6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."),
            ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."),
            ("7.0.3", "Added `ssub` field."),
        ])
        .args(&[
            a("normal_master_replica_pubsub", "oneof").token("TYPE").since("5.0.0").flags("optional").args(&[
                a("normal", "pure-token").token("NORMAL"),
                a("master", "pure-token").token("MASTER"),
                a("replica", "pure-token").token("REPLICA"),
                a("pubsub", "pure-token").token("PUBSUB"),
            ]),
            a("id", "block").token("ID").since("6.2.0").flags("optional").args(&[
                a("client-id", "integer").flags("multiple"),
            ]),
        ]),
    Command::new("client|no-evict", 3, "admin noscript loading stale", no_evict)
        .acl("@connection")
        .doc(Group::Connection, "7.0.0", "Sets the client eviction mode of the connection.")
        .complexity("O(1)")
        .args(&[
            a("enabled", "oneof").args(&[
                a("on", "pure-token").token("ON"),
                a("off", "pure-token").token("OFF"),
            ]),
        ]),
    Command::new("client|no-touch", 3, "noscript loading stale", no_touch)
        .acl("@connection")
        .doc(Group::Connection, "7.2.0", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.")
        .complexity("O(1)")
        .args(&[
            a("enabled", "oneof").args(&[
                a("on", "pure-token").token("ON"),
                a("off", "pure-token").token("OFF"),
            ]),
        ]),
    Command::new("client|pause", -3, "admin noscript loading stale", super::pause::pause)
        .acl("@connection")
        .doc(Group::Connection, "2.9.50", "Stop processing commands from clients for some time")
        .complexity("O(1)")
        .history(&[("6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option.")])
        .args(&[
            a("timeout", "integer"),
            a("mode", "oneof").since("6.2.0").flags("optional").args(&[
                a("write", "pure-token").token("WRITE"),
                a("all", "pure-token").token("ALL"),
            ]),
        ]),
    Command::new("client|reply", 3, "noscript loading stale", reply)
        .acl("@connection")
        .doc(Group::Connection, "3.2.0", "Instructs the server whether to reply to commands.")
        .complexity("O(1)")
        .args(&[
            a("on_off_skip", "oneof").args(&[
                a("on", "pure-token").token("ON"),
                a("off", "pure-token").token("OFF"),
                a("skip", "pure-token").token("SKIP"),
            ]),
        ]),
    Command::new("client|setinfo", 4, "noscript loading stale", setinfo)
        .acl("@connection")
        .doc(Group::Connection, "7.2.0", "Sets information specific to the client or connection.")
        .complexity("O(1)"),
    Command::new("client|setname", 3, "noscript loading stale", setname)
        .acl("@connection")
        .doc(Group::Connection, "2.6.9", "Sets the connection name.")
        .complexity("O(1)")
        .args(&[a("connection-name", "string")]),
    Command::new("client|unblock", -3, "admin noscript loading stale", unblock)
        .acl("@connection")
        .doc(Group::Connection, "5.0.0", "Unblock a client blocked in a blocking command from a different connection")
        .complexity("O(log N) where N is the number of client connections")
        .args(&[
            a("client-id", "integer"),
            a("timeout_error", "oneof").flags("optional").args(&[
                a("timeout", "pure-token").token("TIMEOUT"),
                a("error", "pure-token").token("ERROR"),
            ]),
        ]),
    Command::new("client|unpause", 2, "admin noscript loading stale", super::pause::unpause)
        .acl("@connection")
        .doc(Group::Connection, "6.2.0", "Resume processing of clients that were paused")
        .complexity("O(N) Where N is the number of paused clients"),
];

fn id(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let id = ctx.s.handle.id;
    ctx.int(id as i64)
}

fn setname(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let name = req.arg(2);
    if !valid_client_name(name) {
        return Err(BAD_CLIENT_NAME);
    }
    *ctx.s.handle.name.lock() = name.to_vec();
    ctx.ok()
}

fn getname(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let name = ctx.s.handle.name.lock().clone();
    ctx.bulk_or_null((!name.is_empty()).then_some(&name[..]))
}

fn setinfo(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (attr, value) = (req.arg(2), req.arg(3));
    if !valid_client_name(value) {
        return Err(CmdError::Text(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(attr).to_ascii_lowercase()
        )));
    }
    let slot = if is(attr, "lib-name") {
        &ctx.s.handle.lib_name
    } else if is(attr, "lib-ver") {
        &ctx.s.handle.lib_ver
    } else {
        return Err(CmdError::Text(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        )));
    };
    *slot.lock() = value.to_vec();
    ctx.ok()
}

/// CLIENT NO-TOUCH ON|OFF: whether this client's commands (TOUCH excepted) leave the keys'
/// access clocks alone (Redis 7.2).
fn no_touch(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if is(req.arg(2), "on") {
        ctx.s.no_touch = true;
    } else if is(req.arg(2), "off") {
        ctx.s.no_touch = false;
    } else {
        return Err(SYNTAX);
    }
    ctx.s
        .handle
        .no_touch
        .store(ctx.s.no_touch, Ordering::Relaxed);
    ctx.ok()
}

fn no_evict(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    // kv never evicts clients: both settings are trivially honoured, and shown in CLIENT LIST.
    let on = if is(req.arg(2), "on") {
        true
    } else if is(req.arg(2), "off") {
        false
    } else {
        return Err(SYNTAX);
    };
    ctx.s.handle.no_evict.store(on, Ordering::Relaxed);
    ctx.ok()
}

fn reply(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mode = req.arg(2);
    if is(mode, "on") {
        ctx.s.reply = ReplyMode::On;
        ctx.ok()
    } else if is(mode, "off") {
        ctx.s.reply = ReplyMode::Off;
        Ok(())
    } else if is(mode, "skip") {
        // Off already drops everything; SKIP only matters when replies are on.
        if ctx.s.reply == ReplyMode::On {
            ctx.s.reply = ReplyMode::SkipThis;
        }
        Ok(())
    } else {
        Err(SYNTAX)
    }
}

/// CLIENT TRACKING on|off [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP]:
/// options checked in Redis's order and with its errors (`tracking.rs` has the rest).
fn tracking(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut mode = crate::tracking::Mode::default();
    let mut redirect = 0;
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < req.len() {
        let arg = req.arg(j);
        let more = j + 1 < req.len();
        if is(arg, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return Err(CmdError::Msg(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            redirect = int_arg(req.arg(j))?;
            let exists = u64::try_from(redirect)
                .ok()
                .and_then(|id| ctx.s.shared.clients.get(id))
                .is_some();
            if !exists {
                return Err(CmdError::Msg(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
        } else if is(arg, "bcast") {
            mode.bcast = true;
        } else if is(arg, "optin") {
            mode.optin = true;
        } else if is(arg, "optout") {
            mode.optout = true;
        } else if is(arg, "noloop") {
            mode.noloop = true;
        } else if is(arg, "prefix") && more {
            j += 1;
            prefixes.push(req.arg(j));
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let s = &mut *ctx.s;
    if is(req.arg(2), "on") {
        if !mode.bcast && !prefixes.is_empty() {
            return Err(CmdError::Msg(
                "ERR PREFIX option requires BCAST mode to be enabled",
            ));
        }
        // Invalidations reach the client through its output queue (`pubsub.rs`).
        if !s.pubsub.tracking {
            s.pubsub
                .enter_queue(&s.shared, &s.handle, ctx.out, "track keys")?;
            s.pubsub.tracking = true;
        }
        let redirect = redirect as u64;
        let shared = Arc::clone(&s.shared);
        if let Err(e) = shared
            .tracking
            .enable(&shared, &s.handle, mode, redirect, &prefixes)
        {
            // Refused: a client that was not tracking stays as it was.
            s.pubsub.tracking = s.tracking.is_some();
            return Err(CmdError::Text(format!("ERR {e}")));
        }
        s.tracking = Some(mode);
    } else if is(req.arg(2), "off") {
        if s.tracking.take().is_some() {
            s.shared.tracking.disable(&s.shared, s.handle.id);
        }
        s.pubsub.tracking = false;
        s.caching = false;
    } else {
        return Err(SYNTAX);
    }
    ctx.ok()
}

/// CLIENT CACHING yes|no: OPTIN / OPTOUT's say about the next command.
fn caching(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let Some(mode) = ctx.s.tracking else {
        return Err(CmdError::Msg(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with \
             OPTIN or OPTOUT mode enabled",
        ));
    };
    let opt = req.arg(2);
    if is(opt, "yes") {
        if !mode.optin {
            return Err(CmdError::Msg(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(opt, "no") {
        if !mode.optout {
            return Err(CmdError::Msg(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(SYNTAX);
    }
    ctx.s.caching = true;
    ctx.ok()
}

/// CLIENT GETREDIR: the redirect target, 0 for none, -1 when not tracking.
fn getredir(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let redirect = match ctx.s.shared.tracking.info(ctx.s.handle.id) {
        Some((_, redirect, _, _)) => redirect as i64,
        None => -1,
    };
    ctx.w().integer(redirect);
    Ok(())
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as Redis lists them.
fn trackinginfo(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let info = ctx.s.shared.tracking.info(ctx.s.handle.id);
    let caching = ctx.s.caching;
    let mut flags: Vec<&[u8]> = Vec::new();
    let (redirect, prefixes) = match &info {
        None => {
            flags.push(b"off");
            (-1, &[][..])
        }
        Some((mode, redirect, broken, prefixes)) => {
            flags.push(b"on");
            if mode.bcast {
                flags.push(b"bcast");
            }
            if mode.optin {
                flags.push(b"optin");
                if caching {
                    flags.push(b"caching-yes");
                }
            }
            if mode.optout {
                flags.push(b"optout");
                if caching {
                    flags.push(b"caching-no");
                }
            }
            if mode.noloop {
                flags.push(b"noloop");
            }
            if *broken {
                flags.push(b"broken_redirect");
            }
            (*redirect as i64, &prefixes[..])
        }
    };
    let mut w = ctx.w();
    w.map_len(3);
    w.bulk(b"flags");
    w.set_len(flags.len());
    for f in flags {
        w.bulk(f);
    }
    w.bulk(b"redirect");
    w.integer(redirect);
    w.bulk(b"prefixes");
    w.array_len(prefixes.len());
    for p in prefixes {
        w.bulk(p);
    }
    Ok(())
}

/// The CLIENT INFO line of a client, without its newline (the ACL log's `client-info`).
pub(crate) fn client_info(shared: &crate::shared::Shared, c: &ClientHandle) -> String {
    let mut line = String::new();
    describe(c, shared.uptime_ms(), &mut line);
    line.pop();
    line
}

/// One line of CLIENT LIST / CLIENT INFO, with Redis's fields in Redis's order.
fn describe(c: &ClientHandle, now_ms: u64, out: &mut String) {
    let cmd = match c.last_cmd.load(Ordering::Relaxed) {
        NO_COMMAND => "NULL",
        i => super::table::stat_name(i),
    };
    let qbuf = c.qbuf.load(Ordering::Relaxed);
    let multi = c.multi();
    let subs = c.pubsub.counts();
    // Redis's order: O (monitor), P (a subscription), x (in MULTI), b (blocked), e (NO-EVICT),
    // T (NO-TOUCH, 7.2); N when none.
    let mut flags = String::new();
    for (on, letter) in [
        (c.replica.load(Ordering::Relaxed), 'S'),
        (c.monitoring.load(Ordering::Relaxed), 'O'),
        (c.master.load(Ordering::Relaxed), 'M'),
        (subs.total() > 0, 'P'),
        (multi >= 0, 'x'),
        (c.blocked.load(Ordering::Relaxed), 'b'),
        (c.no_evict.load(Ordering::Relaxed), 'e'),
        (c.no_touch.load(Ordering::Relaxed), 'T'),
    ] {
        if on {
            flags.push(letter);
        }
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let flags = flags.as_str();
    let (oll, omem) = c.pubsub.memory();
    let _ = write!(
        out,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={flags} db={} sub={} psub={} \
         ssub={} multi={multi} watch={} qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 \
         rbp=0 obl=0 oll={oll} omem={omem} tot-mem={omem} events=r cmd={cmd} user={} \
         redir=-1 resp={} lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        String::from_utf8_lossy(&c.name.lock()),
        now_ms.saturating_sub(c.created_ms) / 1000,
        now_ms.saturating_sub(c.last_ms.load(Ordering::Relaxed)) / 1000,
        c.db.load(Ordering::Relaxed),
        subs.channels,
        subs.patterns,
        subs.shard_channels,
        c.watched(),
        String::from_utf8_lossy(&c.user.lock()),
        c.resp.load(Ordering::Relaxed),
        String::from_utf8_lossy(&c.lib_name.lock()),
        String::from_utf8_lossy(&c.lib_ver.lock()),
    );
    out.push('\n');
}

fn text_reply(ctx: &mut Ctx<'_>, text: &str) -> CmdResult {
    ctx.w().verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// A client type of CLIENT LIST and CLIENT KILL's TYPE filter, as Redis's `getClientType`
/// sees it: `master` for a replica's link to its primary, `replica` for a replica of this
/// server, `pubsub` with a subscription, `normal` otherwise.
/// `None` for an unknown name.
fn client_type(name: &[u8]) -> Option<fn(&ClientHandle) -> bool> {
    if is(name, "normal") {
        Some(|c| {
            c.pubsub.counts().total() == 0
                && !c.master.load(Ordering::Relaxed)
                && !c.replica.load(Ordering::Relaxed)
        })
    } else if is(name, "pubsub") {
        Some(|c| c.pubsub.counts().total() > 0)
    } else if is(name, "master") {
        // A replica's link to its primary (`replica/link.rs`).
        Some(|c| c.master.load(Ordering::Relaxed))
    } else if is(name, "replica") || is(name, "slave") {
        Some(|c| c.replica.load(Ordering::Relaxed))
    } else {
        None
    }
}

fn unknown_type(name: &[u8]) -> CmdError {
    CmdError::Text(format!(
        "ERR Unknown client type '{}'",
        String::from_utf8_lossy(name)
    ))
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]
fn list(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut of_type: fn(&ClientHandle) -> bool = |_| true;
    if req.len() > 2 {
        if is(req.arg(2), "type") && req.len() == 4 {
            of_type = client_type(req.arg(3)).ok_or_else(|| unknown_type(req.arg(3)))?;
        } else if is(req.arg(2), "id") && req.len() > 3 {
            let mut v = Vec::new();
            for a in req.args().skip(3) {
                let n = int_arg(a)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(CmdError::Msg("ERR Invalid client ID"))?;
                v.push(n as u64);
            }
            ids = Some(v);
        } else {
            return Err(SYNTAX);
        }
    }
    let now = ctx.s.shared.uptime_ms();
    let mut text = String::new();
    for c in ctx.s.shared.clients.list() {
        if of_type(&c) && ids.as_ref().is_none_or(|ids| ids.contains(&c.id)) {
            describe(&c, now, &mut text);
        }
    }
    text_reply(ctx, &text)
}

fn info(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let mut text = String::new();
    describe(&ctx.s.handle, ctx.s.shared.uptime_ms(), &mut text);
    text_reply(ctx, &text)
}

/// A CLIENT KILL condition on a client.
type Filter = Box<dyn Fn(&ClientHandle) -> bool>;

/// CLIENT KILL ip:port, or CLIENT KILL <filter> <value> ... with ID, ADDR, LADDR, USER, TYPE,
/// SKIPME and MAXAGE filters.
fn kill(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let clients = ctx.s.shared.clients.list();
    let me = ctx.s.handle.id;
    if req.len() == 3 {
        let addr = String::from_utf8_lossy(req.arg(2));
        let target = clients.iter().find(|c| c.addr.to_string() == addr);
        let Some(target) = target else {
            return Err(CmdError::Msg("ERR No such client"));
        };
        kill_one(ctx, target, me);
        return ctx.ok();
    }
    if !req.len().is_multiple_of(2) {
        return Err(SYNTAX);
    }
    let mut skipme = true;
    let mut filters: Vec<Filter> = Vec::new();
    let now = ctx.s.shared.uptime_ms();
    for pair in (2..req.len()).step_by(2) {
        let (name, value) = (req.arg(pair), req.arg(pair + 1));
        let text = String::from_utf8_lossy(value).into_owned();
        if is(name, "id") {
            let id = int_arg(value)
                .ok()
                .filter(|n| *n > 0)
                .ok_or(CmdError::Msg("ERR client-id should be greater than 0"))?;
            filters.push(Box::new(move |c| c.id == id as u64));
        } else if is(name, "addr") {
            filters.push(Box::new(move |c| c.addr.to_string() == text));
        } else if is(name, "laddr") {
            filters.push(Box::new(move |c| c.laddr.to_string() == text));
        } else if is(name, "user") {
            if ctx.s.shared.acl.user(value).is_none() {
                return Err(CmdError::Text(format!("ERR No such user '{text}'")));
            }
            let user = value.to_vec();
            filters.push(Box::new(move |c| *c.user.lock() == user));
        } else if is(name, "type") {
            let of_type = client_type(value).ok_or_else(|| unknown_type(value))?;
            filters.push(Box::new(of_type));
        } else if is(name, "skipme") {
            skipme = if is(value, "yes") {
                true
            } else if is(value, "no") {
                false
            } else {
                return Err(SYNTAX);
            };
        } else if is(name, "maxage") {
            let secs = int_arg(value)?;
            filters.push(Box::new(move |c| {
                (now.saturating_sub(c.created_ms) / 1000) as i64 >= secs
            }));
        } else {
            return Err(SYNTAX);
        }
    }
    let mut killed = 0;
    for c in &clients {
        if (skipme && c.id == me) || !filters.iter().all(|f| f(c)) {
            continue;
        }
        kill_one(ctx, c, me);
        killed += 1;
    }
    ctx.int(killed)
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: ends the wait of a client blocked in BLPOP & co.,
/// XREAD/XREADGROUP BLOCK or WAIT (`waiters.rs`, `repl/`), which then answers as its timeout
/// would, or `-UNBLOCKED`. 1 if it was blocked; 0 for an unknown id, a client not blocked (a
/// paused one included), the caller itself. As Redis checks them: the reason before the id.
fn unblock(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() > 4 {
        return Err(subcommand_syntax("client", req.arg(1)));
    }
    let how = match req.get(3) {
        None => Unblock::Timeout,
        Some(r) if is(r, "timeout") => Unblock::Timeout,
        Some(r) if is(r, "error") => Unblock::Error,
        Some(_) => {
            return Err(CmdError::Msg(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    };
    let id = int_arg(req.arg(2))?;
    let shared = &ctx.s.shared;
    // A client waits in one place at a time: its keys' queues or WAIT.
    let done = u64::try_from(id)
        .is_ok_and(|id| shared.waiters.unblock(id, how) || shared.repl.unblock(id, how));
    ctx.int(i64::from(done))
}

/// Kills `target`; killing oneself closes the connection after this reply, as in Redis.
fn kill_one(ctx: &mut Ctx<'_>, target: &Arc<ClientHandle>, me: u64) {
    if target.id == me {
        ctx.s.close = true;
    } else {
        target.kill();
    }
}

/// Redis 7.0's text, line for line (kv has every subcommand it lists; SETINFO and NO-TOUCH,
/// from 7.2, are not in it).
fn help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.help(&lines)
}
