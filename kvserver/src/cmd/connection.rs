//! Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, RESET.

use std::sync::atomic::Ordering;

use kvproto::{Request, Version};

use super::ctx::{CmdResult, Ctx, i32_arg, is};
use super::error::{CmdError, OUT_OF_RANGE_DB, SYNTAX, c_str, raw_error};
use super::spec::{Group, a};
use super::table::Command;
use crate::conn::ReplyMode;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("auth", -2, "noscript loading stale fast no_auth allow_busy", auth)
        .acl("@connection")
        .doc(Group::Connection, "1.0.0", "Authenticates the connection.")
        .complexity("O(N) where N is the number of passwords defined for the user")
        .history(&[("6.0.0", "Added ACL style (username and password).")])
        .args(&[a("username", "string").since("6.0.0").flags("optional"), a("password", "string")]),
    Command::new("echo", 2, "loading stale fast", echo)
        .acl("@connection")
        .doc(Group::Connection, "1.0.0", "Returns the given string.")
        .complexity("O(1)")
        .args(&[a("message", "string")]),
    Command::new("hello", -1, "noscript loading stale fast no_auth allow_busy", hello)
        .acl("@connection")
        .doc(Group::Connection, "6.0.0", "Handshakes with the Redis server.")
        .complexity("O(1)")
        .history(&[
            ("6.2.0", "`protover` made optional; when called without arguments the command reports the current connection's context."),
        ])
        .args(&[
            a("arguments", "block").flags("optional").args(&[
                a("protover", "integer"),
                a("username_password", "block").token("AUTH").flags("optional").args(&[
                    a("username", "string"),
                    a("password", "string"),
                ]),
                a("clientname", "string").token("SETNAME").flags("optional"),
            ]),
        ]),
    Command::new("ping", -1, "fast", ping)
        .acl("@connection").tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Connection, "1.0.0", "Returns the server's liveliness response.")
        .complexity("O(1)")
        .args(&[a("message", "string").flags("optional")]),
    Command::new("quit", -1, "noscript loading stale fast no_auth allow_busy", quit)
        .acl("@connection")
        .doc(Group::Connection, "1.0.0", "Closes the connection.")
        .complexity("O(1)"),
    Command::new("reset", 1, "noscript loading stale fast no_auth allow_busy", reset)
        .acl("@connection")
        .doc(Group::Connection, "6.2.0", "Resets the connection.")
        .complexity("O(1)"),
    Command::new("select", 2, "loading stale fast", select)
        .acl("@connection")
        .doc(Group::Connection, "1.0.0", "Changes the selected database.")
        .complexity("O(1)")
        .args(&[a("index", "integer")]),
];

const WRONGPASS: CmdError =
    CmdError::Msg("WRONGPASS invalid username-password pair or user is disabled.");

fn ping(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    // A RESP2 client with a subscription gets `pong` as a message-shaped array (Redis).
    if ctx.s.pubsub.subscribed && ctx.s.version == Version::Resp2 && req.len() <= 2 {
        let mut w = ctx.w();
        w.array_len(2);
        w.bulk(b"pong");
        w.bulk(if req.len() == 2 { req.arg(1) } else { b"" });
        return Ok(());
    }
    match req.len() {
        1 => ctx.w().simple(b"PONG"),
        2 => ctx.w().bulk(req.arg(1)),
        _ => return Err(CmdError::Text(super::arity_error("ping"))),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    ctx.w().bulk(req.arg(1));
    Ok(())
}

fn quit(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.s.close = true;
    ctx.ok()
}

/// Authenticates the connection as `user` if the password is one of its own (Redis's
/// `ACLAuthenticateUser`); a failure is logged in the ACL log with the command's name.
fn authenticate(ctx: &mut Ctx<'_>, req: &Request<'_>, user: &[u8], pass: &[u8]) -> bool {
    match ctx.s.shared.acl.authenticate(user, pass) {
        Some(u) => {
            *ctx.s.handle.user.lock() = u.name.clone();
            ctx.s.user.set(u);
            ctx.s.authenticated = true;
            if ctx.s.shared.coordinator.get().is_some() {
                ctx.s.forward_creds = Some(Box::new(crate::raft::Creds {
                    user: user.to_vec(),
                    pass: pass.to_vec(),
                }));
            }
            true
        }
        None => {
            let context = if ctx.s.multi.is_some() {
                crate::acl::Context::Multi
            } else {
                crate::acl::Context::Toplevel
            };
            crate::acl::log_event(
                ctx.s,
                crate::acl::Reason::Auth,
                context,
                req.arg(0).to_vec(),
                user.to_vec(),
            );
            false
        }
    }
}

fn auth(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (user, pass) = match req.len() {
        2 => {
            if ctx.s.shared.acl.default_user().nopass() {
                return Err(CmdError::Msg(
                    "ERR AUTH <password> called without any password configured for the default \
                     user. Are you sure your configuration is correct?",
                ));
            }
            (&b"default"[..], req.arg(1))
        }
        3 => (req.arg(1), req.arg(2)),
        _ => return Err(SYNTAX),
    };
    if authenticate(ctx, req, user, pass) {
        ctx.ok()
    } else {
        Err(WRONGPASS)
    }
}

/// Whether `name` is acceptable to CLIENT SETNAME: no spaces, newlines or other special bytes.
pub(super) fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

pub(super) const BAD_CLIENT_NAME: CmdError =
    CmdError::Msg("ERR Client names cannot contain spaces, newlines or special characters.");

fn hello(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut version = ctx.s.version;
    let mut i = 1;
    if req.len() >= 2 {
        let v = super::ctx::parse_i64(req.arg(1)).ok_or(CmdError::Msg(
            "ERR Protocol version is not an integer or out of range",
        ))?;
        version = match v {
            2 => Version::Resp2,
            3 => Version::Resp3,
            _ => return Err(CmdError::Msg("NOPROTO unsupported protocol version")),
        };
        i = 2;
    }
    let mut creds = None;
    let mut name = None;
    while i < req.len() {
        let opt = req.arg(i);
        if is(opt, "auth") && i + 2 < req.len() {
            creds = Some((req.arg(i + 1), req.arg(i + 2)));
            i += 3;
        } else if is(opt, "setname") && i + 1 < req.len() {
            name = Some(req.arg(i + 1));
            i += 2;
        } else {
            return Err(raw_error(&[
                b"ERR Syntax error in HELLO option '",
                c_str(opt),
                b"'",
            ]));
        }
    }
    if let Some((user, pass)) = creds
        && !authenticate(ctx, req, user, pass)
    {
        return Err(WRONGPASS);
    }
    if !ctx.s.authenticated {
        return Err(CmdError::Msg(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        ));
    }
    if let Some(n) = name {
        if !valid_client_name(n) {
            return Err(BAD_CLIENT_NAME);
        }
        *ctx.s.handle.name.lock() = n.to_vec();
    }
    ctx.s.version = version;
    ctx.s.handle.resp.store(
        if version == Version::Resp3 { 3 } else { 2 },
        Ordering::Relaxed,
    );
    let id = ctx.s.handle.id as i64;
    let replica = ctx.s.shared.replica.enabled();
    let mut w = ctx.w();
    w.map_len(7);
    w.bulk(b"server");
    w.bulk(b"redis");
    w.bulk(b"version");
    w.bulk(crate::cmd::info::REDIS_VERSION.as_bytes());
    w.bulk(b"proto");
    w.integer(if version == Version::Resp3 { 3 } else { 2 });
    w.bulk(b"id");
    w.integer(id);
    w.bulk(b"mode");
    w.bulk(b"standalone");
    w.bulk(b"role");
    // Redis names a replica's role `replica` here (and `slave` in ROLE and INFO).
    w.bulk(if replica {
        b"replica" as &[u8]
    } else {
        b"master"
    });
    w.bulk(b"modules");
    w.array_len(0);
    Ok(())
}

fn select(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let index = i32_arg(req.arg(1), None)?;
    let index = usize::try_from(index).map_err(|_| OUT_OF_RANGE_DB)?;
    let db = ctx.s.select_db(index).map_err(|_| OUT_OF_RANGE_DB)?;
    ctx.s.db = db;
    ctx.s.db_index = index;
    ctx.s.handle.db.store(index, Ordering::Relaxed);
    ctx.ok()
}

fn reset(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let s = &mut *ctx.s;
    // Database 0 always exists: the config check refuses `databases 0`.
    s.db = s.writes.db(0).expect("database 0 exists");
    s.db_index = 0;
    s.handle.db.store(0, Ordering::Relaxed);
    s.version = Version::Resp2;
    s.handle.resp.store(2, Ordering::Relaxed);
    s.reply = ReplyMode::On;
    s.authenticated = !s.shared.requires_auth();
    s.user.set(s.shared.acl.default_user());
    *s.handle.user.lock() = b"default".to_vec();
    s.handle.name.lock().clear();
    // A transaction in progress is discarded and every key unwatched; in the Raft mode the
    // link to the leader goes too (a transaction, watches or a user may live on it).
    s.discard_transaction();
    s.upstream = None;
    s.forwarded_state = false;
    s.forward_creds = None;
    // Every subscription ends, without confirmations; a monitor stops.
    s.pubsub.reset(&s.handle);
    s.stop_monitoring();
    // Client-side caching stops (Redis's `disableTracking`).
    if s.tracking.take().is_some() {
        s.shared.tracking.disable(&s.shared, s.handle.id);
    }
    s.pubsub.tracking = false;
    s.caching = false;
    // NO-TOUCH ends too (Redis 7.2's `clearClientConnectionState`); NO-EVICT stays, as in
    // redis-server 7.0.15 (7.2 clears it as well).
    s.no_touch = false;
    s.handle.no_touch.store(false, Ordering::Relaxed);
    ctx.w().simple(b"RESET");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names() {
        assert!(valid_client_name(b"worker-1"));
        assert!(valid_client_name(b""));
        assert!(!valid_client_name(b"has space"));
        assert!(!valid_client_name(b"line\nbreak"));
    }
}
