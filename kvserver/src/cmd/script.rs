//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT.
//!
//! The interpreters, their sandbox and the script cache are kvcore's ([`kvcore::script::Engine`],
//! one per server in `Shared::scripts`). This file parses the commands, runs a script inside
//! a kvcore transaction over its declared keys (`Scope::Optimistic`, in an interpreter it
//! reserved: scripts run side by side, and one that meets another where it cannot wait is
//! undone and run again under `Scope::Open`, which holds the order gate; undeclared keys are
//! locked when the script reaches them), and is the engine's [`Host`]: each `redis.call` goes through the command table like a client's command, with
//! Redis's script checks first, and its reply comes back decoded into a [`Value`].

use kvcore::script::{Call, Host, KillOutcome, Source, Value};
use kvproto::{Frame, Request, Version};

use super::ctx::{CmdResult, Ctx, int_arg};
use super::error::CmdError;
use super::spec::{Find, Flags, Group, a, ks};
use super::table::{self, Command, TABLE};
use crate::conn::Session;

use super::spec::Begin::Index;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("eval", -3, "noscript skip_monitor no_mandatory_keys stale", eval)
        .acl("@scripting")
        .keys(&[ks("RW access update", Index(2), Find::Keynum(0, 1, 1))
            .notes("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")])
        .doc(Group::Scripting, "2.6.0", "Execute a Lua script server side")
        .complexity("Depends on the script that is executed.")
        .args(ARGS_SCRIPT),
    Command::new("eval_ro", -3, "noscript skip_monitor no_mandatory_keys stale readonly", eval_ro)
        .acl("@scripting")
        .keys(&[ks("RO access", Index(2), Find::Keynum(0, 1, 1))
            .notes("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS")])
        .doc(Group::Scripting, "7.0.0", "Execute a read-only Lua script server side")
        .complexity("Depends on the script that is executed.")
        .args(ARGS_SCRIPT),
    Command::new("evalsha", -3, "noscript skip_monitor no_mandatory_keys stale", evalsha)
        .acl("@scripting")
        .keys(&[ks("RW access update", Index(2), Find::Keynum(0, 1, 1))])
        .doc(Group::Scripting, "2.6.0", "Execute a Lua script server side")
        .complexity("Depends on the script that is executed.")
        .args(ARGS_SHA),
    Command::new("evalsha_ro", -3, "noscript skip_monitor no_mandatory_keys stale readonly", evalsha_ro)
        .acl("@scripting")
        .keys(&[ks("RO access", Index(2), Find::Keynum(0, 1, 1))])
        .doc(Group::Scripting, "7.0.0", "Execute a read-only Lua script server side")
        .complexity("Depends on the script that is executed.")
        .args(ARGS_SHA),
    Command::new("script", -2, "", super::table::run_subcommand)
        .doc(Group::Scripting, "2.6.0", "A container for Lua scripts management commands")
        .complexity("Depends on subcommand.")
        .subcommands(SUBCOMMANDS),
];

static ARGS_SCRIPT: &[super::spec::Arg] = &[
    a("script", "string"),
    a("numkeys", "integer"),
    a("key", "key").key(0).flags("optional multiple"),
    a("arg", "string").flags("optional multiple"),
];

static ARGS_SHA: &[super::spec::Arg] = &[
    a("sha1", "string"),
    a("numkeys", "integer"),
    a("key", "key").key(0).flags("optional multiple"),
    a("arg", "string").flags("optional multiple"),
];

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("script|exists", -3, "noscript", exists)
        .acl("@scripting")
        .tips(&["request_policy:all_shards", "response_policy:agg_logical_and"])
        .doc(Group::Scripting, "2.6.0", "Check existence of scripts in the script cache.")
        .complexity("O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).")
        .args(&[a("sha1", "string").flags("multiple")]),
    Command::new("script|flush", -2, "noscript", flush)
        .acl("@scripting")
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(Group::Scripting, "2.6.0", "Remove all the scripts from the script cache.")
        .complexity("O(N) with N being the number of scripts in cache")
        .history(&[("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers.")])
        .args(&[a("async", "oneof").flags("optional").since("6.2.0").args(&[
            a("async", "pure-token").token("ASYNC"),
            a("sync", "pure-token").token("SYNC"),
        ])]),
    Command::new("script|help", 2, "loading stale", help)
        .acl("@scripting")
        .doc(Group::Scripting, "5.0.0", "Show helpful text about the different subcommands")
        .complexity("O(1)"),
    Command::new("script|kill", 2, "noscript allow_busy", kill)
        .acl("@scripting")
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
        .doc(Group::Scripting, "2.6.0", "Kill the script currently in execution.")
        .complexity("O(1)"),
    Command::new("script|load", 3, "noscript stale", load)
        .acl("@scripting")
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(Group::Scripting, "2.6.0", "Load the specified Lua script into the script cache.")
        .complexity("O(N) with N being the length in bytes of the script body.")
        .args(&[a("script", "string")]),
];

fn eval(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    eval_generic(ctx, req, Source::Body(req.arg(1)), false)
}

fn eval_ro(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    eval_generic(ctx, req, Source::Body(req.arg(1)), true)
}

fn evalsha(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    eval_generic(ctx, req, Source::Sha(req.arg(1)), false)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    eval_generic(ctx, req, Source::Sha(req.arg(1)), true)
}

fn eval_generic(
    ctx: &mut Ctx<'_>,
    req: &Request<'_>,
    source: Source<'_>,
    read_only: bool,
) -> CmdResult {
    let numkeys = int_arg(req.arg(2))?;
    // Out of memory when the command started: a script that declared its flags is a
    // `denyoom` command unless it allows it (`allow-oom`, or `no-writes`), as Redis derives
    // EVAL's flags from the script's, and one that allows it writes freely; a script without
    // a shebang is checked at its first write.
    // A read-only replica refuses a script that declared it may write, before it runs.
    if !ctx.s.master
        && crate::replica::refuses_write(&ctx.s.shared, true)
        && let Ok(flags) = ctx.s.shared.scripts.flags(source)
        && flags.shebang
        && !flags.no_writes
    {
        return Err(CmdError::Msg(
            "READONLY You can't write against a read only replica.",
        ));
    }
    let oom = ctx.s.oom;
    if oom && let Ok(flags) = ctx.s.shared.scripts.flags(source) {
        if flags.shebang && !flags.allow_oom && !flags.no_writes {
            return Err(CmdError::Msg(
                "OOM command not allowed when used memory > 'maxmemory'.",
            ));
        }
        ctx.s.oom = !flags.allow_oom;
    }
    let ran = run(ctx, req, numkeys, false, |engine, keys, argv, host| {
        engine.eval(source, keys, argv, read_only, host)
    });
    ctx.s.oom = oom;
    ran
}

/// Redis's reply to a command refused while an EVAL script runs (SCRIPT KILL ends it).
pub(crate) const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// Redis's reply to a command refused while a function runs (FUNCTION KILL ends it).
pub(crate) const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// The BUSY reply for whatever runs now: an EVAL script or a function.
pub(crate) fn busy(engine: &kvcore::script::Engine) -> &'static str {
    if engine.running_function().is_some() {
        BUSY_FUNCTION
    } else {
        BUSY_EVAL
    }
}

/// Runs a script or function (`f`) with the keys and arguments after `numkeys`: inside an
/// open transaction over its declared keys (or inside EXEC's, when queued), with the
/// connection's database selected, which a SELECT in the script does not change for the
/// connection.
pub(super) fn run(
    ctx: &mut Ctx<'_>,
    req: &Request<'_>,
    numkeys: i64,
    function: bool,
    f: impl Fn(&kvcore::script::Engine, &[&[u8]], &[&[u8]], &mut dyn Host) -> Value,
) -> CmdResult {
    if numkeys < 0 {
        return Err(CmdError::Msg("ERR Number of keys can't be negative"));
    }
    // The arguments as one slice, on the stack for the usual handful.
    let mut few: [&[u8]; FEW_ARGS] = [&[]; FEW_ARGS];
    let many: Vec<&[u8]>;
    let args: &[&[u8]] = if req.len() <= FEW_ARGS {
        for (slot, arg) in few.iter_mut().zip(req.args()) {
            *slot = arg;
        }
        &few[..req.len()]
    } else {
        many = req.args().collect();
        &many
    };
    if numkeys as u64 > (args.len() - 3) as u64 {
        return Err(CmdError::Msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let (keys, argv) = args[3..].split_at(numkeys as usize);
    // Redis shows EVAL and FCALL before the commands they run.
    ctx.s.show_on_monitors(req);
    let shared = std::sync::Arc::clone(&ctx.s.shared);
    let engine = &shared.scripts;
    let db_index = ctx.s.db_index;
    let (s, out) = (&mut *ctx.s, &mut *ctx.out);
    let mut host = ScriptHost {
        s,
        wrote: false,
        out: REPLY_BUF.with(std::cell::Cell::take),
    };
    let reply = if host.s.in_exec() {
        let reply = f(engine, keys, argv, &mut host);
        host.s.db_index = db_index;
        host.s.db = host.s.select_db(db_index)?;
        reply
    } else {
        // The declared keys as the transaction's scope, on the stack for the usual handful.
        let mut few_keys: [(usize, &[u8]); FEW_ARGS] = [(0, &[]); FEW_ARGS];
        let many_keys: Vec<(usize, &[u8])>;
        let scope: &[(usize, &[u8])] = if keys.len() <= FEW_ARGS {
            for (slot, &key) in few_keys.iter_mut().zip(keys) {
                *slot = (db_index, key);
            }
            &few_keys[..keys.len()]
        } else {
            many_keys = keys.iter().map(|&k| (db_index, k)).collect();
            &many_keys
        };
        let db = host.s.db.clone();
        // Scripts run side by side, each locking its own keys (`Scope::Optimistic`), unless
        // something outside the store would see their changes before they end (keyspace
        // notifications, a WATCH, a MONITOR showing their commands), or this thread keeps
        // the gate for a pipeline of them.
        let mut optimistic =
            !gate_held() && db.kv().optimistic_possible() && !host.s.shared.monitors.active();
        if !optimistic {
            hold_gate(&db);
        }
        // Its own interpreter, taken before its keys (with nothing held, it may wait for
        // one); a script under the gate runs in the shared one (see `Engine::reserve`).
        let _interpreter = optimistic.then(|| {
            if function {
                engine.reserve_function()
            } else {
                engine.reserve()
            }
        });
        loop {
            let scope = if optimistic {
                kvcore::Scope::Optimistic(scope)
            } else {
                kvcore::Scope::Open(scope)
            };
            let mut reply = None;
            let ran = db.transaction(scope, |t| {
                host.s.enter_exec(t.kv().clone())?;
                reply = Some(f(engine, keys, argv, &mut host));
                Ok(())
            });
            host.s.db_index = db_index;
            host.s.leave_exec();
            match ran {
                // Undone, and killed meanwhile (SCRIPT KILL or FUNCTION KILL): it did
                // nothing, as a killed script must not have; it is not run again.
                Err(kvcore::Error::Conflict)
                    if optimistic
                        && matches!(&reply, Some(Value::Error(e))
                            if e.starts_with(b"ERR Script killed by user")) =>
                {
                    break reply.expect("the closure ran");
                }
                // It met another script (or transaction) and was undone: run it again, as
                // an open transaction, which may wait for the keys it reaches.
                Err(kvcore::Error::Conflict) if optimistic => {
                    optimistic = false;
                    host.wrote = false;
                    continue;
                }
                Err(e) => return Err(e.into()),
                Ok(()) => break reply.expect("the closure ran"),
            }
        }
    };
    let wrote = host.wrote;
    if host.out.capacity() <= KEEP_REPLY_BUF {
        REPLY_BUF.with(|b| b.set(std::mem::take(&mut host.out)));
    }
    let version = ctx.s.version;
    kvproto::encode(&to_frame(reply), version, out);
    if wrote && !ctx.s.in_exec() && ctx.s.shared.waiters.any() {
        // Clients blocked on keys the script pushed to are served now that its locks are
        // released (and the gate: their pops run here).
        release_gate();
        ctx.s.shared.waiters.serve();
    }
    Ok(())
}

/// What a script's command gets once the script is doomed (`Scope::Optimistic`): never seen
/// by a client, as the script is undone and run again.
const CONFLICT: &str = "ERR the script met another and will run again";

/// How many arguments (the command and its script or SHA-1 included) `run` takes on the stack.
const FEW_ARGS: usize = 16;

/// The largest reply buffer a connection thread keeps for its next script.
const KEEP_REPLY_BUF: usize = 64 * 1024;

thread_local! {
    /// The buffer a script's commands write their replies into (`ScriptHost::out`), kept by
    /// the connection thread from one script to the next while it is small.
    static REPLY_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
    /// The store's order gate, held by this connection thread across its client's consecutive
    /// scripts (a pipeline of EVALSHAs takes it once, not once per script against every other
    /// client's scripts), and how many scripts it has served. See [`release_gate`].
    static GATE: std::cell::RefCell<Option<(kvcore::GateHold, u32)>> =
        const { std::cell::RefCell::new(None) };
}

/// How many scripts one hold of the gate serves before it hands the gate to a waiting thread
/// and takes it back, so that a long pipeline of scripts lets other clients' scripts (and
/// snapshots) in between.
const HOLD_SCRIPTS: u32 = 64;

/// Takes (or keeps) the order gate for the script about to run on this thread.
fn hold_gate(db: &kvcore::Db) {
    GATE.with(|g| {
        let mut g = g.borrow_mut();
        if let Some((hold, served)) = g.as_mut() {
            if *served == HOLD_SCRIPTS {
                // Let a waiting client's script (or a snapshot) in first.
                hold.bump();
                *served = 0;
            }
            *served += 1;
            return;
        }
        *g = Some((db.kv().hold_gate(), 1));
    });
}

/// Releases the order gate this thread's scripts kept (see [`hold_gate`]). The connection
/// calls it before it runs anything but a script ([`keeps_gate`]), before it waits (CLIENT
/// PAUSE, a blocked command) and before it writes to its socket or reads from it again: the
/// gate is kept only between scripts that follow each other in one batch of requests, with
/// no I/O or waiting in between.
pub(crate) fn release_gate() {
    let hold = GATE.with(|g| g.borrow_mut().take());
    drop(hold);
}

/// Whether this thread holds the order gate for its scripts.
pub(crate) fn gate_held() -> bool {
    GATE.with(|g| g.borrow().is_some())
}

/// Whether `req` is a command that runs a script (EVAL, EVALSHA, FCALL and their `_RO`
/// forms), which may keep the gate the previous script held.
pub(crate) fn keeps_gate(req: &Request<'_>) -> bool {
    let name = req.arg(0);
    [
        &b"evalsha"[..],
        b"fcall",
        b"eval",
        b"evalsha_ro",
        b"fcall_ro",
        b"eval_ro",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
}

/// The engine's host: runs a script's commands through the command table on the
/// connection's session, which holds the script's transaction.
struct ScriptHost<'a> {
    s: &'a mut Session,
    wrote: bool,
    /// A command's reply bytes, reused across the script's calls.
    out: Vec<u8>,
}

impl Host for ScriptHost<'_> {
    fn call(&mut self, args: &[&[u8]], call: &Call) -> (Value, bool) {
        let refuse = |msg: &str| (Value::error(msg), false);
        // Undone when it ends (it met another script): nothing it runs now would stay.
        if self.s.exec.as_ref().is_some_and(kvcore::Kv::tx_doomed) {
            return refuse(CONFLICT);
        }
        let Some(idx) = table::lookup(args[0]) else {
            return refuse("ERR Unknown Redis command called from script");
        };
        let req = Request::from_args(args.iter().copied());
        let Some(slot) = table::known_slot(idx, &req) else {
            return refuse("ERR Unknown Redis command called from script");
        };
        let cmd = table::stat_command(slot);
        if !TABLE[idx].arity_ok(args.len()) || !cmd.arity_ok(args.len()) {
            return refuse("ERR Wrong number of args calling Redis command from script");
        }
        if TABLE[idx].flags.has(Flags::NO_SCRIPT) || cmd.flags.has(Flags::NO_SCRIPT) {
            return refuse("ERR This Redis command is not allowed from script");
        }
        if let Err(msg) = crate::acl::permit_script(self.s, slot, &req) {
            return refuse(&format!("ERR {msg}"));
        }
        let write = cmd.flags.has(Flags::WRITE) || TABLE[idx].flags.has(Flags::WRITE);
        if write && call.read_only {
            return refuse("ERR Write commands are not allowed from read-only scripts.");
        }
        // A read-only replica: a script's write is refused, unless it already wrote.
        if write
            && !self.wrote
            && !self.s.master
            && crate::replica::refuses_write(&self.s.shared, true)
        {
            return refuse("READONLY You can't write against a read only replica.");
        }
        // Out of memory when the script started: its first write may not add memory
        // (Redis's `scriptVerifyOOM`); once it wrote, it cannot stop half-way.
        if self.s.oom && !self.wrote && cmd.flags.has(Flags::DENYOOM) {
            return refuse("OOM command not allowed when used memory > 'maxmemory'.");
        }
        let saved = self.s.version;
        self.s.version = if call.resp3 {
            Version::Resp3
        } else {
            Version::Resp2
        };
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        self.s.in_script = true;
        self.s.call(idx, slot, &req, &mut out);
        self.s.in_script = false;
        self.s.version = saved;
        let value = match scalar_reply(&out) {
            Some(value) => value,
            None => match kvproto::decode_frame(&out, &kvproto::Limits::new()) {
                Ok(kvproto::Status::Complete((frame, _))) => from_frame(frame),
                _ => Value::error("ERR the command's reply could not be read"),
            },
        };
        self.out = out;
        let wrote = write && !matches!(value, Value::Error(_));
        self.wrote |= wrote;
        (value, wrote)
    }

    fn log(&mut self, level: u8, message: &[u8]) {
        let text = String::from_utf8_lossy(message);
        match level {
            3 => crate::log::warning!("{text}"),
            2 => crate::log::notice!("{text}"),
            _ => crate::log::verbose!("{text}"),
        }
    }
}

/// The usual reply of a script's command, an integer or a bulk string (or none), read
/// straight into a script value: the whole of `out` is that one reply, as the command wrote
/// it. `None` for anything else, which the general decoder reads.
fn scalar_reply(out: &[u8]) -> Option<Value> {
    let body = out.strip_suffix(b"\r\n")?;
    match *body.first()? {
        b':' => kvnum::parse_i64(&body[1..]).map(Value::Int),
        b'$' if body == b"$-1" => Some(Value::Nil),
        b'$' => {
            let cr = body.iter().position(|&b| b == b'\r')?;
            let len = usize::try_from(kvnum::parse_i64(&body[1..cr])?).ok()?;
            let payload = body.get(cr + 2..)?;
            (body.get(cr + 1) == Some(&b'\n') && payload.len() == len)
                .then(|| Value::Bulk(payload.to_vec()))
        }
        _ => None,
    }
}

/// A decoded reply as a script value.
fn from_frame(f: Frame) -> Value {
    match f {
        Frame::Simple(s) => Value::Status(s),
        Frame::Error(e) | Frame::BulkError(e) => Value::Error(e),
        Frame::Integer(n) => Value::Int(n),
        Frame::Bulk(b) => Value::Bulk(b),
        Frame::Null | Frame::NullArray => Value::Nil,
        Frame::Array(items) | Frame::Push(items) => {
            Value::Array(items.into_iter().map(from_frame).collect())
        }
        Frame::Boolean(b) => Value::Bool(b),
        Frame::Double(d) => Value::Double(d),
        Frame::BigNumber(n) => Value::BigNumber(n),
        Frame::Verbatim { format, text } => Value::Verbatim(format.to_vec(), text),
        Frame::Map(pairs) => Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (from_frame(k), from_frame(v)))
                .collect(),
        ),
        Frame::Set(items) => Value::Set(items.into_iter().map(from_frame).collect()),
        Frame::Attribute { data, .. } => from_frame(*data),
    }
}

/// A script's result as a reply frame (encoded in the client's protocol afterwards).
pub(super) fn to_frame(v: Value) -> Frame {
    match v {
        Value::Status(s) => Frame::Simple(s),
        Value::Error(e) => Frame::Error(e),
        Value::Int(n) => Frame::Integer(n),
        Value::Bulk(b) => Frame::Bulk(b),
        Value::Nil => Frame::Null,
        Value::Array(items) => Frame::Array(items.into_iter().map(to_frame).collect()),
        Value::Map(pairs) => Frame::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (to_frame(k), to_frame(v)))
                .collect(),
        ),
        Value::Set(items) => Frame::Set(items.into_iter().map(to_frame).collect()),
        Value::Double(d) => Frame::Double(d),
        Value::Bool(b) => Frame::Boolean(b),
        Value::BigNumber(n) => Frame::BigNumber(n),
        Value::Verbatim(format, text) => {
            let mut f = *b"txt";
            for (dst, src) in f.iter_mut().zip(format) {
                *dst = src;
            }
            Frame::Verbatim { format: f, text }
        }
    }
}

fn load(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    match ctx.s.shared.scripts.load(req.arg(2)) {
        Ok(sha) => {
            ctx.w().bulk(sha.as_bytes());
            Ok(())
        }
        Err(e) => Err(error_of(e)),
    }
}

fn exists(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let found: Vec<bool> = req
        .args()
        .skip(2)
        .map(|sha| ctx.s.shared.scripts.exists(sha))
        .collect();
    let mut w = ctx.w();
    w.array_len(found.len());
    for f in found {
        w.integer(i64::from(f));
    }
    Ok(())
}

fn flush(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    match req.len() {
        2 => {}
        3 if req.arg(2).eq_ignore_ascii_case(b"async")
            || req.arg(2).eq_ignore_ascii_case(b"sync") => {}
        _ => {
            return Err(CmdError::Msg(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            ));
        }
    }
    ctx.s.shared.scripts.flush();
    ctx.ok()
}

fn kill(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let scripts = &ctx.s.shared.scripts;
    // Every running EVAL script that has not written is asked to stop; with none, a running
    // function is FUNCTION KILL's, as Redis answers.
    match scripts.kill() {
        KillOutcome::NotBusy if scripts.running_function().is_some() => {
            Err(CmdError::Msg(BUSY_FUNCTION))
        }
        KillOutcome::NotBusy => Err(CmdError::Msg("NOTBUSY No scripts in execution right now.")),
        KillOutcome::Unkillable => Err(CmdError::Msg(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        )),
        KillOutcome::Killed => ctx.ok(),
    }
}

fn help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let lines = [
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.help(&lines)
}

/// An engine error reply as a command error.
pub(super) fn error_of(v: Value) -> CmdError {
    match v {
        Value::Error(e) => CmdError::Raw(e),
        _ => CmdError::Msg("ERR unexpected script reply"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The general decoder's reading of `out`, as the script host makes it.
    fn decoded(out: &[u8]) -> Value {
        match kvproto::decode_frame(out, &kvproto::Limits::new()) {
            Ok(kvproto::Status::Complete((frame, end))) if end == out.len() => from_frame(frame),
            other => panic!("{out:?} is not one reply: {other:?}"),
        }
    }

    #[test]
    fn scalar_replies_read_as_the_decoder_reads_them() {
        let read: &[&[u8]] = &[
            b":0\r\n",
            b":-1\r\n",
            b":9223372036854775807\r\n",
            b":-9223372036854775808\r\n",
            b"$0\r\n\r\n",
            b"$1\r\n5\r\n",
            b"$4\r\na\r\nb\r\n",
            b"$-1\r\n",
        ];
        for &out in read {
            let quick = scalar_reply(out).unwrap_or_else(|| panic!("{out:?} not read"));
            assert_eq!(quick, decoded(out), "{out:?}");
        }
        // Everything else goes to the decoder: other types, and bytes that are not exactly
        // one integer or bulk string.
        let left: &[&[u8]] = &[
            b"+OK\r\n",
            b"-ERR x\r\n",
            b"_\r\n",
            b"*1\r\n:1\r\n",
            b",1.5\r\n",
            b":1\r\n:2\r\n",
            b"$3\r\nab\r\n",
            b"$1\r\nab\r\n",
            b"$1\n5\r\n",
            b":01\r\n",
            b":\r\n",
            b"",
        ];
        for &out in left {
            assert_eq!(scalar_reply(out), None, "{out:?}");
        }
    }
}
