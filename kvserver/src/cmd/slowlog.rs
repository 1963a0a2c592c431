//! SLOWLOG (GET, LEN, RESET, HELP) and the log it reads: the commands that took at least
//! `slowlog-log-slower-than` microseconds, newest first, at most `slowlog-max-len` of them,
//! shared by every connection. The dispatcher (`Session::call` in `kvserver/src/conn.rs`)
//! times each command when a threshold asks for it and hands the slow ones to [`SlowLog::push`];
//! nothing is allocated for a command that is not logged.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use kvproto::Request;
use parking_lot::Mutex;

use super::ctx::{CmdResult, Ctx, parse_i64};
use super::error::CmdError;
use super::spec::{Group, a};
use super::table::{Command, run_subcommand};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("slowlog", -2, "", run_subcommand)
        .doc(Group::Server, "2.2.12", "A container for slow log commands")
        .complexity("Depends on subcommand.")
        .subcommands(SUBCOMMANDS),
];

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("slowlog|get", -2, "admin loading stale", get)
        .tips(&["request_policy:all_nodes", "nondeterministic_output"])
        .doc(Group::Server, "2.2.12", "Get the slow log's entries")
        .complexity("O(N) where N is the number of entries returned")
        .history(&[("4.0.0", "Added client IP address, port and name to the reply.")])
        .args(&[a("count", "integer").flags("optional")]),
    Command::new("slowlog|help", 2, "loading stale", help)
        .doc(Group::Server, "6.2.0", "Show helpful text about the different subcommands")
        .complexity("O(1)"),
    Command::new("slowlog|len", 2, "admin loading stale", len)
        .tips(&["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"])
        .doc(Group::Server, "2.2.12", "Get the slow log's length")
        .complexity("O(1)"),
    Command::new("slowlog|reset", 2, "admin loading stale", reset)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(Group::Server, "2.2.12", "Clear all entries from the slow log")
        .complexity("O(N) where N is the number of entries in the slowlog"),
];

/// At most this many arguments are kept per entry; the last kept one says how many more
/// there were (Redis's `SLOWLOG_ENTRY_MAX_ARGC`).
const MAX_ARGC: usize = 32;
/// A longer argument is cut to this many bytes (Redis's `SLOWLOG_ENTRY_MAX_STRING`).
const MAX_STRING: usize = 128;

/// One logged command.
#[derive(Debug)]
struct Entry {
    id: u64,
    unix_secs: i64,
    usec: u64,
    args: Vec<Vec<u8>>,
    peer: String,
    name: Vec<u8>,
}

/// The slow log and its two live parameters.
#[derive(Debug)]
pub(crate) struct SlowLog {
    /// `slowlog-log-slower-than` in µs; negative: off.
    slower_than: AtomicI64,
    /// `slowlog-max-len`.
    max_len: AtomicU64,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    next_id: u64,
    /// Newest first.
    list: VecDeque<Entry>,
}

impl SlowLog {
    pub(crate) fn new(slower_than: i64, max_len: u64) -> SlowLog {
        SlowLog {
            slower_than: AtomicI64::new(slower_than),
            max_len: AtomicU64::new(max_len),
            inner: Mutex::new(Entries::default()),
        }
    }

    /// `slowlog-log-slower-than`, live.
    pub(crate) fn set_slower_than(&self, usec: i64) {
        self.slower_than.store(usec, Ordering::Relaxed);
    }

    /// `slowlog-max-len`, live: a shorter limit drops the oldest entries at the next push, as
    /// in Redis.
    pub(crate) fn set_max_len(&self, len: u64) {
        self.max_len.store(len, Ordering::Relaxed);
    }

    /// Whether commands are to be timed for the log at all.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.slower_than.load(Ordering::Relaxed) >= 0
    }

    /// Whether a command that took `usec` goes into the log.
    #[inline]
    pub(crate) fn is_slow(&self, usec: u64) -> bool {
        let t = self.slower_than.load(Ordering::Relaxed);
        t >= 0 && usec >= t as u64
    }

    /// Logs a command that [`is_slow`](Self::is_slow), then trims the log to its length
    /// (Redis's `slowlogPushEntryIfNeeded`).
    pub(crate) fn push(&self, req: &Request<'_>, usec: u64, peer: String, name: Vec<u8>) {
        let args = entry_args(req);
        let unix_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let max = self.max_len.load(Ordering::Relaxed);
        let mut inner = self.inner.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.list.push_front(Entry {
            id,
            unix_secs,
            usec,
            args,
            peer,
            name,
        });
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        inner.list.truncate(max);
    }

    fn len(&self) -> usize {
        self.inner.lock().list.len()
    }

    fn reset(&self) {
        self.inner.lock().list.clear();
    }
}

/// The arguments as an entry keeps them: at most [`MAX_ARGC`], the last kept one replaced by
/// `... (N more arguments)`; each longer than [`MAX_STRING`] bytes cut, with `... (N more
/// bytes)` after it.
fn entry_args(req: &Request<'_>) -> Vec<Vec<u8>> {
    let argc = req.len();
    let kept = argc.min(MAX_ARGC);
    let mut args = Vec::with_capacity(kept);
    for (j, arg) in req.args().take(kept).enumerate() {
        if kept != argc && j == kept - 1 {
            args.push(format!("... ({} more arguments)", argc - kept + 1).into_bytes());
        } else if redacted(req, j) {
            args.push(b"(redacted)".to_vec());
        } else if arg.len() > MAX_STRING {
            let mut s = arg[..MAX_STRING].to_vec();
            s.extend_from_slice(format!("... ({} more bytes)", arg.len() - MAX_STRING).as_bytes());
            args.push(s);
        } else {
            args.push(arg.to_vec());
        }
    }
    args
}

/// Whether argument `j` is a secret Redis 7.0 keeps out of the log (`(redacted)`): AUTH's
/// arguments, HELLO's AUTH user and password, ACL SETUSER's user and rules, the value CONFIG SET
/// gives a sensitive parameter.
fn redacted(req: &Request<'_>, j: usize) -> bool {
    let name = req.arg(0);
    if name.eq_ignore_ascii_case(b"auth") {
        return j >= 1;
    }
    if name.eq_ignore_ascii_case(b"hello") {
        return (2..j)
            .any(|k| req.arg(k).eq_ignore_ascii_case(b"auth") && (j == k + 1 || j == k + 2));
    }
    // ACL SETUSER: the user name and every rule (passwords among them).
    if name.eq_ignore_ascii_case(b"acl") && req.arg(1).eq_ignore_ascii_case(b"setuser") {
        return j >= 2;
    }
    if name.eq_ignore_ascii_case(b"config")
        && req.arg(1).eq_ignore_ascii_case(b"set")
        && j >= 3
        && (j - 3).is_multiple_of(2)
    {
        let param = String::from_utf8_lossy(req.arg(j - 1));
        return crate::params::lookup(&param)
            .is_some_and(|(i, _)| crate::params::PARAMS[i].is(crate::params::SENSITIVE));
    }
    false
}

/// SLOWLOG GET [count]: the newest `count` entries (10 by default, all for -1).
fn get(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() > 3 {
        return Err(super::error::subcommand_syntax("slowlog", req.arg(1)));
    }
    let count = if req.len() == 3 {
        match parse_i64(req.arg(2)) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => {
                return Err(CmdError::Msg(
                    "ERR count should be greater than or equal to -1",
                ));
            }
        }
    } else {
        10
    };
    let shared = std::sync::Arc::clone(&ctx.s.shared);
    let inner = shared.slowlog.inner.lock();
    let mut w = ctx.w();
    let n = inner.list.len().min(count);
    w.array_len(n);
    for e in inner.list.iter().take(n) {
        w.array_len(6);
        w.integer(e.id as i64);
        w.integer(e.unix_secs);
        w.integer(e.usec as i64);
        w.array_len(e.args.len());
        for arg in &e.args {
            w.bulk(arg);
        }
        w.bulk(e.peer.as_bytes());
        w.bulk(&e.name);
    }
    Ok(())
}

fn len(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let n = ctx.s.shared.slowlog.len();
    ctx.int(n as i64)
}

fn reset(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.s.shared.slowlog.reset();
    ctx.ok()
}

fn help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.help(&[
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(parts: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut buf = Vec::new();
        buf.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
        for p in parts {
            buf.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
            buf.extend_from_slice(p);
            buf.extend_from_slice(b"\r\n");
        }
        let mut dec = kvproto::RequestDecoder::new(kvproto::Limits::default());
        match dec.decode(&buf) {
            Ok(kvproto::Status::Complete((req, _))) => entry_args(&req),
            _ => panic!("the test's request decodes"),
        }
    }

    #[test]
    fn arguments_are_capped_and_cut_as_redis_does() {
        assert_eq!(
            args_of(&[b"get", b"k"]),
            vec![b"get".to_vec(), b"k".to_vec()]
        );
        let many: Vec<Vec<u8>> = (0..40).map(|i| i.to_string().into_bytes()).collect();
        let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        let got = args_of(&refs);
        assert_eq!(got.len(), 32);
        assert_eq!(got[30], b"30");
        assert_eq!(got[31], b"... (9 more arguments)");
        let long = vec![b'x'; 130];
        let got = args_of(&[b"set", &long]);
        assert_eq!(got[1], [&[b'x'; 128][..], b"... (2 more bytes)"].concat());
        let exact = vec![b'y'; 128];
        assert_eq!(args_of(&[b"set", &exact])[1], exact);
        let r: &[u8] = b"(redacted)";
        assert_eq!(args_of(&[b"AUTH", b"u", b"p"]), vec![&b"AUTH"[..], r, r]);
        assert_eq!(
            args_of(&[b"hello", b"3", b"auth", b"u", b"p", b"setname", b"n"]),
            vec![&b"hello"[..], b"3", b"auth", r, r, b"setname", b"n"]
        );
        assert_eq!(
            args_of(&[b"config", b"set", b"requirepass", b"s", b"timeout", b"0"]),
            vec![&b"config"[..], b"set", b"requirepass", r, b"timeout", b"0"]
        );
        assert_eq!(
            args_of(&[b"acl", b"setuser", b"u", b">pw"]),
            vec![&b"acl"[..], b"setuser", r, r]
        );
    }

    #[test]
    fn the_log_keeps_the_newest_up_to_its_length() {
        let log = SlowLog::new(0, 2);
        assert!(log.is_slow(0));
        let mut dec = kvproto::RequestDecoder::new(kvproto::Limits::default());
        let Ok(kvproto::Status::Complete((req, _))) = dec.decode(b"*1\r\n$4\r\nping\r\n") else {
            panic!("decodes");
        };
        for _ in 0..3 {
            log.push(&req, 5, "127.0.0.1:1".into(), Vec::new());
        }
        assert_eq!(log.len(), 2);
        let ids: Vec<u64> = log.inner.lock().list.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![2, 1]);
        log.set_slower_than(-1);
        assert!(!log.enabled() && !log.is_slow(u64::MAX));
        log.reset();
        assert_eq!(log.len(), 0);
    }
}
