//! [`Engine`]: one Lua interpreter, its script cache, and the running script's state.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mlua::{
    Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value as Lua_, VmState,
};
use parking_lot::Mutex;

use super::convert::from_lua;
pub(super) use super::convert::invoke;
use super::value::Value;

/// What runs the commands a script sends with `redis.call`/`redis.pcall`: kvserver's command
/// table, or an embedder's own dispatcher.
pub trait Host {
    /// Runs one command (`args[0]` is its name) inside the script's transaction, and returns
    /// its reply in the protocol the script asked for (`call.resp3`) and whether it wrote.
    /// Refusals are error replies: an unknown command, a wrong number of arguments, a command
    /// scripts may not call, a write in a read-only script.
    fn call(&mut self, args: &[&[u8]], call: &Call) -> (Value, bool);

    /// Logs a `redis.log` line at `level` (0 debug, 1 verbose, 2 notice, 3 warning).
    fn log(&mut self, level: u8, message: &[u8]);
}

/// What [`Host::call`] needs to know about the script that calls.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The script switched to RESP3 (`redis.setresp(3)`): replies come as RESP3 types.
    pub resp3: bool,
    /// The script may not write (EVAL_RO, EVALSHA_RO, or the `no-writes` flag).
    pub read_only: bool,
}

/// The flags a script declares in its `#!lua flags=...` line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// `no-writes`: the script only reads.
    pub no_writes: bool,
    /// `allow-oom`: it may run when the store is over its memory limit.
    pub allow_oom: bool,
    /// `allow-stale`: it may run on a replica with a stale link.
    pub allow_stale: bool,
    /// `no-cluster`: it refuses to run in cluster mode.
    pub no_cluster: bool,
    /// `allow-cross-slot-keys`: it may touch keys of several cluster slots.
    pub allow_cross_slot_keys: bool,
    /// The script has a shebang line; without one, Redis runs it in EVAL's compatibility mode
    /// (write-allowed, no flag checks).
    pub shebang: bool,
}

/// Which script to run: its body (EVAL, which caches it) or its SHA-1 (EVALSHA).
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// The script's text.
    Body(&'a [u8]),
    /// The hex SHA-1 of a script run or loaded before.
    Sha(&'a [u8]),
}

/// Options for an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// `redis.REDIS_VERSION`.
    pub version: String,
    /// The most memory the interpreter may allocate; a script that needs more fails.
    pub memory_limit: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            version: "7.0.15".to_string(),
            memory_limit: 256 << 20,
        }
    }
}

/// A cached script.
struct Cached {
    function: Function,
    flags: ScriptFlags,
}

/// The interpreter and what lives in it.
pub(super) struct Vm {
    pub(super) lua: Lua,
    pub(super) compile: Function,
    run: Function,
    /// By SHA-1 hex, with foldhash (per-process seed): SipHash of the 40 bytes was 1% of a
    /// short script's CPU.
    scripts: HashMap<[u8; 40], Cached, foldhash::fast::RandomState>,
    /// A functions interpreter's `engine.load` and `engine.call` (see `prelude.lua`).
    pub(super) load: Option<Function>,
    pub(super) call: Option<Function>,
}

/// The state of the script being run, which the primitives reach through the interpreter's
/// application data.
pub(super) struct RunCtx {
    /// The host of the running script: set while `Engine::execute` runs it, `None` otherwise.
    pub(super) host: Option<std::ptr::NonNull<dyn Host>>,
    pub(super) call: Call,
    /// Whether a command of the script wrote (SCRIPT KILL then refuses).
    pub(super) wrote: Arc<AtomicBool>,
    /// A `redis.call`'s arguments, back to back, and where each ends (reused, so a call
    /// allocates nothing for them in the steady state).
    pub(super) args: Vec<u8>,
    pub(super) ends: Vec<usize>,
    /// The last `redis.call`'s reply, kept here while it is pushed (see `call.rs`).
    pub(super) reply: Value,
}

// SAFETY: the host pointer is set and used only by the thread running the script, inside
// `Engine::execute` (which holds the interpreter's lock), and cleared before it returns.
unsafe impl Send for RunCtx {}

/// Lua scripting over a store, as Redis 7 offers it (EVAL, EVALSHA, SCRIPT): one Lua 5.1
/// interpreter with Redis's sandbox and `redis` API, a cache of scripts by SHA-1, and the
/// state other clients see while a script runs (for BUSY replies and SCRIPT KILL).
///
/// The engine does not lock keys: its caller runs [`Engine::eval`] inside a transaction
/// (`Scope::Open` with the script's declared keys), and its [`Host`] runs each command on the
/// transaction's handles.
pub struct Engine {
    vm: Mutex<Vm>,
    /// FUNCTION's libraries, in an interpreter of their own (as in Redis).
    pub(super) functions: Mutex<super::function::Functions>,
    /// The running function's name and the command that called it (FUNCTION STATS), if a
    /// function runs.
    pub(super) running_function: Mutex<super::function::Running>,
    /// How many libraries and functions are loaded (FUNCTION STATS, which must not wait for
    /// `functions` while an FCALL holds it).
    pub(super) function_counts: Mutex<(usize, usize)>,
    /// When the running script started (ms since the Unix epoch); 0 when none runs.
    started: AtomicU64,
    /// SCRIPT KILL asked the running script to stop.
    pub(super) kill: Arc<AtomicBool>,
    /// The running script wrote.
    wrote: Arc<AtomicBool>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// What [`Engine::kill`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillOutcome {
    /// No script was running.
    NotBusy,
    /// The running script has written: killing it would leave half its work.
    Unkillable,
    /// The running script will stop at its next check (within 100 000 instructions).
    Killed,
}

const KILLED: &str = "Script killed by user with SCRIPT KILL...";

impl Engine {
    /// A new interpreter with Redis's environment.
    ///
    /// # Panics
    /// If the interpreter cannot be built (out of memory at start-up).
    pub fn new(opts: EngineOptions) -> Engine {
        let kill = Arc::new(AtomicBool::new(false));
        let wrote = Arc::new(AtomicBool::new(false));
        // A failure here is a bug in the prelude or no memory at start-up, not bad input.
        let vm = new_vm(&opts, &kill, &wrote, false).expect("the Lua interpreter starts");
        let fvm = new_vm(&opts, &kill, &wrote, true).expect("the Lua interpreter starts");
        Engine {
            vm: Mutex::new(vm),
            functions: Mutex::new(super::function::Functions::new(fvm)),
            running_function: Mutex::new(super::function::Running::default()),
            function_counts: Mutex::new((0, 0)),
            started: AtomicU64::new(0),
            kill,
            wrote,
        }
    }

    /// Compiles and caches a script (SCRIPT LOAD): its SHA-1, or the error reply.
    pub fn load(&self, body: &[u8]) -> Result<String, Value> {
        let mut vm = self.vm.lock();
        let sha = sha1_hex(body);
        cached(&mut vm, &sha, body)?;
        Ok(String::from_utf8_lossy(&sha).into_owned())
    }

    /// Whether a script with this SHA-1 is cached (SCRIPT EXISTS).
    pub fn exists(&self, sha: &[u8]) -> bool {
        let Some(sha) = normalize(sha) else {
            return false;
        };
        self.vm.lock().scripts.contains_key(&sha)
    }

    /// Empties the script cache (SCRIPT FLUSH).
    pub fn flush(&self) {
        let mut vm = self.vm.lock();
        vm.scripts.clear();
        let _ = vm.lua.gc_collect();
    }

    /// The flags of a script, compiling and caching it if it is a body: what the caller
    /// checks before it runs the script (a `no-writes` script may run where writes may not).
    ///
    /// # Errors
    /// The error reply: NOSCRIPT for an unknown SHA-1, a bad shebang, a compile error.
    pub fn flags(&self, source: Source<'_>) -> Result<ScriptFlags, Value> {
        let mut vm = self.vm.lock();
        let sha = resolve(&mut vm, source)?;
        Ok(vm.scripts[&sha].flags)
    }

    /// Runs a script (EVAL, EVALSHA, and their `_RO` forms with `read_only`) with `keys` and
    /// `argv`, sending its commands to `host`, and returns its result or error as a reply.
    pub fn eval(
        &self,
        source: Source<'_>,
        keys: &[&[u8]],
        argv: &[&[u8]],
        read_only: bool,
        host: &mut dyn Host,
    ) -> Value {
        let mut vm = self.vm.lock();
        let sha = match resolve(&mut vm, source) {
            Ok(sha) => sha,
            Err(e) => return e,
        };
        let flags = vm.scripts[&sha].flags;
        let function = vm.scripts[&sha].function.clone();
        let call = Call {
            resp3: false,
            read_only: read_only || flags.no_writes,
        };
        self.execute(&vm, call, host, &sha, |vm| run(vm, &function, keys, argv))
    }

    /// Runs `f` (a script or a function) as the running script: its host and protocol in
    /// the interpreter's application data, the state SCRIPT KILL and BUSY replies read, and
    /// the result or error as a reply (`name`: what an error names, a SHA-1 or a function).
    pub(super) fn execute(
        &self,
        vm: &Vm,
        call: Call,
        host: &mut dyn Host,
        name: &[u8],
        f: impl FnOnce(&Vm) -> mlua::Result<(bool, Lua_)>,
    ) -> Value {
        self.kill.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        self.started.store(now_ms().max(1), Ordering::Release);
        let host: std::ptr::NonNull<dyn Host + '_> = std::ptr::NonNull::from(host);
        // SAFETY: only the lifetime is erased, for the application data (see `RunCtx`); the
        // pointer is cleared below, before `host`'s borrow ends.
        let host: std::ptr::NonNull<dyn Host + 'static> = unsafe { std::mem::transmute(host) };
        with_run_ctx(&vm.lua, |ctx| {
            ctx.host = Some(host);
            ctx.call = call;
        });
        let result = f(vm);
        let resp3 = with_run_ctx(&vm.lua, |ctx| {
            ctx.host = None;
            // The last `redis.call` reply waited here while it was pushed; a large one (an
            // LRANGE of everything) must not stay allocated until the next script.
            ctx.reply = Value::Nil;
            // Likewise the argument buffer, kept for reuse only while it is small.
            if ctx.args.capacity() > 64 * 1024 {
                ctx.args = Vec::new();
            }
            ctx.call.resp3
        })
        .unwrap_or(false);
        self.started.store(0, Ordering::Release);
        if self.kill.swap(false, Ordering::Relaxed) {
            // The kill hook stays on every line after a kill; put the periodic one back.
            set_kill_hook(&vm.lua, &self.kill);
        }
        match result {
            Ok((true, v)) => from_lua(&v, resp3),
            Ok((false, e)) => error_reply(&e, name),
            Err(e) => Value::Error(format!("ERR {e}").into_bytes()),
        }
    }

    /// How long the running script has run, in ms; `None` when none runs.
    pub fn running_for(&self) -> Option<u64> {
        match self.started.load(Ordering::Acquire) {
            0 => None,
            t => Some(now_ms().saturating_sub(t)),
        }
    }

    /// Asks the running script to stop (SCRIPT KILL), unless it has written.
    pub fn kill(&self) -> KillOutcome {
        if self.started.load(Ordering::Acquire) == 0 {
            return KillOutcome::NotBusy;
        }
        if self.wrote.load(Ordering::Relaxed) {
            return KillOutcome::Unkillable;
        }
        self.kill.store(true, Ordering::Relaxed);
        KillOutcome::Killed
    }
}

pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The lowercase hex SHA-1 of `body`.
pub(crate) fn sha1_hex(body: &[u8]) -> [u8; 40] {
    let digest = sha1_smol::Sha1::from(body).digest().bytes();
    let mut out = [0u8; 40];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A SHA-1 as given by a client, lowercased; `None` if it cannot be one.
fn normalize(sha: &[u8]) -> Option<[u8; 40]> {
    let mut out: [u8; 40] = sha.try_into().ok()?;
    out.make_ascii_lowercase();
    Some(out)
}

/// The cache key of `source`, compiling a body on first sight.
fn resolve(vm: &mut Vm, source: Source<'_>) -> Result<[u8; 40], Value> {
    match source {
        Source::Body(body) => {
            let sha = sha1_hex(body);
            cached(vm, &sha, body)?;
            Ok(sha)
        }
        Source::Sha(sha) => normalize(sha)
            .filter(|sha| vm.scripts.contains_key(sha))
            .ok_or_else(|| Value::error("NOSCRIPT No matching script. Please use EVAL.")),
    }
}

/// Compiles `body` into the cache under `sha` unless it is there.
fn cached(vm: &mut Vm, sha: &[u8; 40], body: &[u8]) -> Result<(), Value> {
    if vm.scripts.contains_key(sha) {
        return Ok(());
    }
    let (flags, code) = shebang(body)?;
    let compiled: MultiValue = vm
        .compile
        .call((
            vm.lua.create_string(code).map_err(lua_error)?,
            "@user_script",
        ))
        .map_err(lua_error)?;
    let mut compiled = compiled.into_iter();
    match (compiled.next(), compiled.next()) {
        (Some(Lua_::Function(function)), _) => {
            vm.scripts.insert(*sha, Cached { function, flags });
            Ok(())
        }
        (_, Some(Lua_::String(msg))) => Err(Value::Error(
            [
                &b"ERR Error compiling script (new function): "[..],
                &msg.as_bytes(),
            ]
            .concat(),
        )),
        _ => Err(Value::error("ERR Error compiling script (new function)")),
    }
}

/// A script's `#!lua` line: its flags, and the code to compile (the shebang line blanked,
/// so line numbers stay the user's).
fn shebang(body: &[u8]) -> Result<(ScriptFlags, std::borrow::Cow<'_, [u8]>), Value> {
    let mut flags = ScriptFlags::default();
    if !body.starts_with(b"#!") {
        return Ok((flags, body.into()));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err(Value::error("ERR Invalid script shebang"));
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(Value::Error(
            format!("ERR Unexpected engine in script shebang: {engine}").into_bytes(),
        ));
    }
    flags.shebang = true;
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(Value::Error(
                format!("ERR Unknown lua shebang option: {part}").into_bytes(),
            ));
        };
        for flag in list.split(',') {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" => flags.allow_stale = true,
                "no-cluster" => flags.no_cluster = true,
                "allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
                _ => {
                    return Err(Value::Error(
                        format!("ERR Unexpected flag in script shebang: {flag}").into_bytes(),
                    ));
                }
            }
        }
    }
    Ok((flags, body[end..].to_vec().into()))
}

fn lua_error(e: mlua::Error) -> Value {
    Value::Error(format!("ERR {e}").into_bytes())
}

/// Sets KEYS and ARGV and runs the compiled script: whether it succeeded, and its result or
/// the error handler's table.
fn run(vm: &Vm, function: &Function, keys: &[&[u8]], argv: &[&[u8]]) -> mlua::Result<(bool, Lua_)> {
    invoke(&vm.lua, &vm.run, function, keys, argv)
}

/// The reply of a script that failed with `e` (the error handler's table): its text, and
/// where the script was, as Redis's `luaCallFunction` writes it.
fn error_reply(e: &Lua_, sha: &[u8]) -> Value {
    let Lua_::Table(t) = e else {
        let msg = match e {
            Lua_::String(s) => s.to_string_lossy(),
            _ => "execution failure".to_string(),
        };
        return Value::Error(
            format!(
                "ERR Error running script {}, {msg:.100}",
                String::from_utf8_lossy(sha)
            )
            .into_bytes(),
        );
    };
    let text = |v: Lua_| match v {
        Lua_::String(s) => Some(s.as_bytes().to_vec()),
        Lua_::Number(n) => Some(format_number(n).into_bytes()),
        Lua_::Integer(n) => Some(n.to_string().into_bytes()),
        _ => None,
    };
    let mut out = text(t.raw_get("err").unwrap_or(Lua_::Nil)).unwrap_or_default();
    let source = text(t.raw_get("source").unwrap_or(Lua_::Nil));
    let line = text(t.raw_get("line").unwrap_or(Lua_::Nil));
    if let (Some(source), Some(line)) = (source, line) {
        out.extend_from_slice(b" script: ");
        out.extend_from_slice(sha);
        out.extend_from_slice(b", on ");
        out.extend_from_slice(&source);
        out.push(b':');
        out.extend_from_slice(&line);
        out.push(b'.');
    }
    Value::Error(out)
}

/// A Lua number as Lua 5.1's `tostring` writes it (`%.14g`).
fn format_number(n: f64) -> String {
    format_g(n, 14)
}

/// `n` as C's `%.<precision>g` writes it.
pub(crate) fn format_g(n: f64, precision: usize) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    let p = precision.max(1);
    // The exponent after rounding to `p` significant digits decides the layout.
    let sci = format!("{:.*e}", p - 1, n);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= p as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), exp.unsigned_abs())
    } else {
        strip(&format!("{:.*}", (p as i32 - 1 - exp) as usize, n))
    }
}

/// Checks the kill flag every 100 000 instructions, as Redis's count hook does.
pub(super) fn set_kill_hook(lua: &Lua, kill: &Arc<AtomicBool>) {
    let kill = Arc::clone(kill);
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(100_000),
        move |lua, _| {
            if kill.load(Ordering::Relaxed) {
                // After a kill the hook runs on every line, so a script that catches the
                // error with pcall is stopped again at once.
                let again = Arc::clone(&kill);
                lua.set_hook(HookTriggers::EVERY_LINE, move |_, _| {
                    if again.load(Ordering::Relaxed) {
                        return Err(mlua::Error::runtime(KILLED));
                    }
                    Ok(VmState::Continue)
                })?;
                return Err(mlua::Error::runtime(KILLED));
            }
            Ok(VmState::Continue)
        },
    )
    // Setting a hook only fails on a Luau build, which this is not.
    .expect("a Lua 5.1 hook can be set");
}

/// Builds the interpreter: the standard libraries Redis loads, the bundled ones, the prelude
/// (the `redis` API and the sandbox), and the primitives the prelude calls.
fn new_vm(
    opts: &EngineOptions,
    kill: &Arc<AtomicBool>,
    wrote: &Arc<AtomicBool>,
    functions: bool,
) -> mlua::Result<Vm> {
    // SAFETY: the debug library is loaded only for the prelude, which keeps
    // `debug.getinfo` for its error handler and removes `debug` from the globals.
    let lua = unsafe {
        Lua::unsafe_new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
            LuaOptions::new(),
        )
    };
    lua.set_memory_limit(opts.memory_limit)?;
    // Set once, before anything runs, and never replaced: `redis.call` keeps its address.
    lua.set_app_data(RunCtx {
        host: None,
        call: Call {
            resp3: false,
            read_only: false,
        },
        wrote: Arc::clone(wrote),
        args: Vec::new(),
        ends: Vec::new(),
        reply: Value::Nil,
    });
    let ctx: *mut RunCtx = match lua.app_data_mut::<RunCtx>() {
        Some(mut ctx) => &mut *ctx,
        None => unreachable!("RunCtx was just set"),
    };
    let prim = lua.create_table()?;
    for (name, f) in [
        ("call", super::call::call as mlua::ffi::lua_CFunction),
        ("pcall", super::call::pcall),
    ] {
        // SAFETY: `closure` pushes one value; `ctx` stays valid (see above).
        let f: Function = unsafe { lua.exec_raw((), |state| super::call::closure(state, ctx, f))? };
        prim.set(name, f)?;
    }
    prim.set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise(b"wrong number of arguments"));
            }
            lua.create_string(sha1_hex(&to_text(&args[0]).unwrap_or_default()))
        })?,
    )?;
    prim.set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| match args.front() {
            Some(Lua_::String(s)) if args.len() == 1 => {
                let msg = s.as_bytes();
                let msg = if msg.first() == Some(&b'-') {
                    msg.to_vec()
                } else {
                    [&b"-"[..], &msg].concat()
                };
                err_table(lua, &err_text(&msg))
            }
            _ => err_table(lua, b"ERR wrong number or type of arguments"),
        })?,
    )?;
    prim.set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| match args.front() {
            Some(Lua_::String(s)) if args.len() == 1 => {
                let t = lua.create_table_with_capacity(0, 1)?;
                t.raw_set("ok", s.clone())?;
                Ok(t)
            }
            _ => err_table(lua, b"ERR wrong number or type of arguments"),
        })?,
    )?;
    prim.set(
        "log",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() < 2 {
                return Err(raise(b"redis.log() requires two arguments or more."));
            }
            let Some(level) = to_number(&args[0]) else {
                return Err(raise(b"First argument must be a number (log level)."));
            };
            let level = level as i64;
            if !(0..=3).contains(&level) {
                return Err(raise(b"Invalid debug level."));
            }
            let mut line = Vec::new();
            for (i, piece) in args.iter().skip(1).filter_map(to_text).enumerate() {
                if i > 0 {
                    line.push(b' ');
                }
                line.extend_from_slice(&piece);
            }
            with_ctx(lua, |ctx| {
                if let Some(mut host) = ctx.host {
                    // SAFETY: see `RunCtx`: set only while the script runs on this thread.
                    unsafe { host.as_mut().log(level as u8, &line) };
                }
            });
            Ok(())
        })?,
    )?;
    prim.set(
        "setresp",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise(b"redis.setresp() requires one argument."));
            }
            let v = to_number(&args[0]).unwrap_or(0.0) as i64;
            if v != 2 && v != 3 {
                return Err(raise(b"RESP version must be 2 or 3."));
            }
            with_ctx(lua, |ctx| ctx.call.resp3 = v == 3);
            Ok(())
        })?,
    )?;
    prim.set(
        "set_repl",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise(b"redis.set_repl() requires two arguments."));
            }
            let flags = to_number(&args[0]).unwrap_or(0.0) as i64;
            if flags & !3 != 0 {
                return Err(raise(
                    b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            // Every script's effects are logged as one transaction; there is no replication
            // to steer yet.
            Ok(())
        })?,
    )?;
    // ACL rules arrive with the ACL issue; until then every user may run every command.
    prim.set(
        "acl_check_cmd",
        lua.create_function(|_, args: MultiValue| {
            if args.is_empty() {
                return Err(raise(
                    b"Please specify at least one argument for this redis lib call",
                ));
            }
            Ok(true)
        })?,
    )?;
    prim.set(
        "error_value",
        lua.create_function(|lua, e: Lua_| error_value(lua, e))?,
    )?;
    let rand = Arc::new(Mutex::new(Rand48::new()));
    let next = Arc::clone(&rand);
    prim.set(
        "rand48",
        lua.create_function(move |_, ()| Ok(next.lock().next()))?,
    )?;
    prim.set(
        "srand48",
        lua.create_function(move |_, seed: f64| {
            rand.lock().seed(seed as i64 as i32);
            Ok(())
        })?,
    )?;
    if functions {
        prim.set("functions", true)?;
        prim.set(
            "register_function",
            lua.create_function(super::function::register_function)?,
        )?;
    }
    prim.set("version", opts.version.as_str())?;
    prim.set("version_num", version_num(&opts.version))?;
    let libraries = lua.create_table()?;
    {
        // The bundled libraries install themselves as globals; the prelude protects them.
        super::lib::open(&lua)?;
        for name in ["cjson", "cmsgpack", "bit", "struct"] {
            let lib: Lua_ = lua.globals().get(name)?;
            if let Lua_::Table(t) = lib {
                libraries.set(name, t)?;
            }
        }
    }
    prim.set("libraries", libraries)?;
    let engine: Table = lua
        .load(include_str!("prelude.lua"))
        .set_name("=kv")
        .call(prim)?;
    lua.set_globals(engine.get("globals")?)?;
    set_kill_hook(&lua, kill);
    Ok(Vm {
        compile: engine.get("compile")?,
        run: engine.get("run")?,
        load: engine.get("load")?,
        call: engine.get("call")?,
        lua,
        scripts: HashMap::default(),
    })
}

/// Runs `f` on the running script's context, if a script is running.
fn with_ctx<R>(lua: &Lua, f: impl FnOnce(&mut RunCtx) -> R) -> Option<R> {
    lua.app_data_mut::<RunCtx>()
        .filter(|ctx| ctx.host.is_some())
        .map(|mut ctx| f(&mut ctx))
}

/// Runs `f` on the interpreter's script context, running or not.
fn with_run_ctx<R>(lua: &Lua, f: impl FnOnce(&mut RunCtx) -> R) -> Option<R> {
    lua.app_data_mut::<RunCtx>().map(|mut ctx| f(&mut ctx))
}

/// A failure of a `redis.*` function, carried through Lua as the error of a Rust function:
/// its `{err = ...}` text (code first). The error handler and `pcall` turn it back into the
/// table Redis raises ([`error_value`]).
#[derive(Debug)]
struct ScriptError(Vec<u8>);

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl std::error::Error for ScriptError {}

/// Raises `msg` as Redis's `luaPushError` + `luaError` do.
pub(super) fn raise(msg: &[u8]) -> mlua::Error {
    mlua::Error::external(ScriptError(err_text(msg)))
}

/// The text of a `{err = ...}` table for `msg`, as Redis's `luaPushErrorBuff` builds it:
/// `-CODE rest` gives `CODE rest`; anything else gets the code `ERR`.
pub(super) fn err_text(msg: &[u8]) -> Vec<u8> {
    let (code, rest): (&[u8], &[u8]) = match msg.strip_prefix(b"-") {
        Some(m) => match m.iter().position(|&b| b == b' ') {
            Some(i) => (&m[..i], &m[i + 1..]),
            None => (b"ERR", m),
        },
        None => (b"ERR", msg),
    };
    let mut rest = rest;
    while let [head @ .., b'\r' | b'\n'] = rest {
        rest = head;
    }
    [code, b" ", rest].concat()
}

/// `{err = msg}`.
pub(super) fn err_table(lua: &Lua, msg: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set("err", lua.create_string(msg)?)?;
    Ok(t)
}

/// What a script's error handler or `pcall` sees of an error a Rust function raised: the
/// `{err = ...}` table of a `redis.*` failure, or the message of any other error.
fn error_value(lua: &Lua, e: Lua_) -> mlua::Result<Lua_> {
    let Lua_::Error(e) = e else {
        return Ok(e);
    };
    let mut cur: &mlua::Error = &e;
    loop {
        match cur {
            mlua::Error::CallbackError { cause, .. } => cur = cause,
            mlua::Error::ExternalError(inner) => {
                if let Some(ScriptError(msg)) = inner.downcast_ref::<ScriptError>() {
                    return err_table(lua, msg).map(Lua_::Table);
                }
                return lua.create_string(inner.to_string()).map(Lua_::String);
            }
            mlua::Error::RuntimeError(msg) => {
                return lua.create_string(msg).map(Lua_::String);
            }
            other => return lua.create_string(other.to_string()).map(Lua_::String),
        }
    }
}

/// A Lua value as `lua_tolstring` gives it: strings, and numbers in `%.14g`.
pub(super) fn to_text(v: &Lua_) -> Option<Vec<u8>> {
    match v {
        Lua_::String(s) => Some(s.as_bytes().to_vec()),
        Lua_::Number(n) => Some(format_number(*n).into_bytes()),
        Lua_::Integer(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

/// A Lua value as `lua_isnumber`/`lua_tonumber` see it: numbers and numeric strings.
fn to_number(v: &Lua_) -> Option<f64> {
    match v {
        Lua_::Number(n) => Some(*n),
        Lua_::Integer(n) => Some(*n as f64),
        Lua_::String(s) => s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()),
        _ => None,
    }
}

/// A number as `%.17g` writes it, which is how Redis passes a Lua number to a command.
pub(super) fn format_g17(n: f64) -> String {
    format_g(n, 17)
}

/// `redis.REDIS_VERSION_NUM`: `0x00MMmmpp`.
fn version_num(v: &str) -> i64 {
    let mut parts = v.split('.').map(|p| p.parse::<i64>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a << 16) | (b << 8) | c
}

/// The 48-bit linear congruential generator of `lrand48`, which Redis's `math.random` uses
/// so that scripts draw the same numbers on every machine.
struct Rand48 {
    x: u64,
}

impl Rand48 {
    const A: u64 = 0x5_DEEC_E66D;
    const C: u64 = 0xB;
    const MASK: u64 = (1 << 48) - 1;

    /// The state before any seeding: Redis's initial `x`.
    fn new() -> Rand48 {
        Rand48 {
            x: 0x1234_ABCD_330E,
        }
    }

    fn seed(&mut self, seed: i32) {
        self.x = ((seed as u32 as u64) << 16) | 0x330E;
    }

    /// The next number, 0 ..= 2^31 - 1.
    fn next(&mut self) -> f64 {
        self.x = (Self::A.wrapping_mul(self.x).wrapping_add(Self::C)) & Self::MASK;
        (self.x >> 17) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_of_scripts_as_redis_names_them() {
        assert_eq!(&sha1_hex(b""), b"da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            &sha1_hex(b"return 'loaded'"),
            b"b534286061d4b9e4026607613b95c06c06015ae8"
        );
    }

    #[test]
    fn numbers_format_as_printf_g() {
        for (n, p, want) in [
            (10.7, 17, "10.699999999999999"),
            (1.0, 17, "1"),
            (0.1, 14, "0.1"),
            (1.0 / 3.0, 14, "0.33333333333333"),
            (1e20, 14, "1e+20"),
            (123_456_789_012_345.0, 14, "1.2345678901234e+14"),
            (0.0001, 14, "0.0001"),
            (0.00001, 14, "1e-05"),
            (-2.5, 17, "-2.5"),
            (f64::INFINITY, 14, "inf"),
        ] {
            assert_eq!(format_g(n, p), want, "{n} %.{p}g");
        }
    }

    #[test]
    fn version_numbers() {
        assert_eq!(version_num("7.0.15"), 458_767);
    }
}

#[cfg(test)]
mod host_tests {
    use std::collections::HashMap;

    use super::*;

    /// A host with GET, SET and PING over a map, enough to drive the engine.
    #[derive(Default)]
    struct MapHost {
        data: HashMap<Vec<u8>, Vec<u8>>,
        log: Vec<(u8, Vec<u8>)>,
    }

    impl Host for MapHost {
        fn call(&mut self, args: &[&[u8]], call: &Call) -> (Value, bool) {
            match (args[0].to_ascii_lowercase().as_slice(), args.len()) {
                (b"get", 2) => (
                    self.data
                        .get(args[1])
                        .cloned()
                        .map_or(Value::Nil, Value::Bulk),
                    false,
                ),
                (b"set", 3) if call.read_only => (
                    Value::error("ERR Write commands are not allowed from read-only scripts."),
                    false,
                ),
                (b"set", 3) => {
                    self.data.insert(args[1].to_vec(), args[2].to_vec());
                    (Value::Status(b"OK".to_vec()), true)
                }
                (b"ping", 1) => (Value::Status(b"PONG".to_vec()), false),
                (b"echo", _) => (
                    Value::Array(args[1..].iter().map(|a| Value::Bulk(a.to_vec())).collect()),
                    false,
                ),
                _ => (
                    Value::error("ERR Unknown Redis command called from script"),
                    false,
                ),
            }
        }

        fn log(&mut self, level: u8, message: &[u8]) {
            self.log.push((level, message.to_vec()));
        }
    }

    fn eval(engine: &Engine, host: &mut MapHost, body: &str, keys: &[&str]) -> Value {
        let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
        engine.eval(Source::Body(body.as_bytes()), &keys, &[], false, host)
    }

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn scripts_call_the_host_and_convert_both_ways() {
        let engine = Engine::new(EngineOptions::default());
        let mut host = MapHost::default();
        for (body, want) in [
            (
                "return redis.call('set', KEYS[1], 'v')",
                Value::Status(b"OK".to_vec()),
            ),
            ("return redis.call('get', KEYS[1])", bulk("v")),
            ("return redis.call('get', 'nope')", Value::Nil),
            (
                "return {1, 2.9, 'x', false, true}",
                Value::Array(vec![
                    Value::Int(1),
                    Value::Int(2),
                    bulk("x"),
                    Value::Nil,
                    Value::Int(1),
                ]),
            ),
            ("return redis.call('ping').ok", bulk("PONG")),
            (
                "return redis.pcall('nope').err",
                bulk("ERR Unknown Redis command called from script"),
            ),
            (
                "return select(2, pcall(redis.call, 'nope'))",
                bulk("ERR Unknown Redis command called from script"),
            ),
            (
                "return redis.sha1hex('hello')",
                bulk("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
            ),
            ("return redis.call('get', 10.7) == false", Value::Int(1)),
            (
                "return redis.call('echo', 'a', 2.5, 'c')",
                Value::Array(vec![bulk("a"), bulk("2.5"), bulk("c")]),
            ),
            // More arguments than `call.rs` passes on the stack.
            (
                "local t = {} for i = 1, 40 do t[i] = 'a' .. i end \
                 return redis.call('echo', unpack(t))",
                Value::Array((1..=40).map(|i| bulk(&format!("a{i}"))).collect()),
            ),
        ] {
            assert_eq!(eval(&engine, &mut host, body, &["k"]), want, "{body}");
        }
        assert_eq!(
            eval(
                &engine,
                &mut host,
                "redis.log(redis.LOG_WARNING, 'a', 1)",
                &[]
            ),
            Value::Nil
        );
        assert_eq!(host.log, vec![(3, b"a 1".to_vec())]);
    }

    #[test]
    fn errors_carry_the_script_and_line() {
        let engine = Engine::new(EngineOptions::default());
        let mut host = MapHost::default();
        let sha = String::from_utf8(sha1_hex(b"\nreturn redis.call('nope')").to_vec()).unwrap();
        assert_eq!(
            eval(&engine, &mut host, "\nreturn redis.call('nope')", &[]),
            Value::Error(
                format!(
                    "ERR Unknown Redis command called from script script: {sha}, on @user_script:2."
                )
                .into_bytes()
            )
        );
        let sha = String::from_utf8(sha1_hex(b"x = 1").to_vec()).unwrap();
        assert_eq!(
            eval(&engine, &mut host, "x = 1", &[]),
            Value::Error(format!("ERR user_script:1: Attempt to modify a readonly table script: {sha}, on @user_script:1.").into_bytes())
        );
        assert_eq!(
            eval(&engine, &mut host, "return (", &[]),
            Value::error(
                "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
            )
        );
        assert!(
            matches!(eval(&engine, &mut host, "return os", &[]), Value::Error(e) if e.starts_with(b"ERR user_script:1: Script attempted to access nonexistent global variable 'os'"))
        );
    }
}
