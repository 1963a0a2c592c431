//! [`Engine`]: a pool of Lua interpreters, the script cache they share, and the state of the
//! scripts they run.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mlua::{Function, MultiValue, Value as Lua_};
use parking_lot::RwLock;

pub(super) use super::convert::{Entry, invoke};
use super::convert::{Returned, from_lua};
use super::pool::{Overdue, Pool, RunState, Watched, since};
use super::value::Value;
use super::vm::{Cached, Vm, new_vm, set_kill_hook};

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
    /// The most memory one interpreter may allocate; a script that needs more fails. The
    /// bound is per interpreter: the engine has `2 * interpreters + 1` of them (EVAL's,
    /// FUNCTION's, and the one that checks a library before it joins). Default 256 MiB.
    pub memory_limit: usize,
    /// How many scripts (and, apart, how many functions) may run Lua at once: the size of
    /// each interpreter pool (0 counts as 1). Default: four per core, 4 to 16.
    pub interpreters: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            version: "7.0.15".to_string(),
            memory_limit: 256 << 20,
            interpreters: super::pool::default_size(),
        }
    }
}

/// A script the cache knows: what an interpreter that has not compiled it compiles.
struct Script {
    body: Box<[u8]>,
    flags: ScriptFlags,
}

/// The script cache, one per engine as Redis's is one per server: every interpreter of the
/// pool can run every script in it, compiling it on first use.
struct Cache {
    /// By SHA-1 hex (foldhash, as `Vm::scripts`).
    scripts: RwLock<HashMap<[u8; 40], Arc<Script>, foldhash::fast::RandomState>>,
    /// Bumped by SCRIPT FLUSH (under `scripts`' write lock): an interpreter that last saw
    /// an older generation drops what it compiled before it looks anything up.
    generation: AtomicU64,
}

impl Cache {
    /// Brings `vm` to the current generation: after a SCRIPT FLUSH, it forgets its scripts.
    fn sync(&self, vm: &mut Vm) {
        let generation = self.generation.load(Ordering::Acquire);
        if vm.generation != generation {
            vm.scripts.clear();
            let _ = vm.lua.gc_collect();
            vm.generation = generation;
        }
    }

    fn get(&self, sha: &[u8; 40]) -> Option<Arc<Script>> {
        self.scripts.read().get(sha).cloned()
    }

    fn register(&self, sha: [u8; 40], body: &[u8], flags: ScriptFlags) {
        if self.scripts.read().contains_key(&sha) {
            return;
        }
        self.scripts.write().entry(sha).or_insert_with(|| {
            Arc::new(Script {
                body: body.into(),
                flags,
            })
        });
    }
}

/// Lua scripting over a store, as Redis 7 offers it (EVAL, EVALSHA, SCRIPT, FUNCTION, FCALL):
/// Lua 5.1 interpreters with Redis's sandbox and `redis` API, a cache of scripts by SHA-1,
/// and the state other clients see while scripts run (for BUSY replies and SCRIPT KILL).
///
/// Scripts run side by side: the engine has a pool of interpreters for EVAL scripts and
/// another for functions ([`EngineOptions::interpreters`] each), and a thread that reserved
/// one ([`Engine::reserve`]) runs its scripts there; the others share one more. What a client sees does not depend on which: the script cache and the function
/// libraries are the engine's, and an interpreter compiles a cached script, or reloads the
/// libraries, when it first needs them.
///
/// The engine does not lock keys: its caller runs [`Engine::eval`] inside a transaction
/// (`Scope::Open`, or `Scope::Optimistic` after [`Engine::reserve`], with the script's
/// declared keys), and its [`Host`] runs each command on the
/// transaction's handles.
pub struct Engine {
    /// EVAL's interpreters.
    pub(super) scripts: Pool<Vm>,
    cache: Cache,
    /// FUNCTION's interpreters, apart from EVAL's (as in Redis).
    pub(super) functions: Pool<super::function::Functions>,
    /// The libraries every functions interpreter loads, and the changes to them.
    pub(super) libraries: super::function::Libraries,
    /// Whether a script or function has run past busy-reply-threshold.
    overdue: Arc<Overdue>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// An interpreter reserved by [`Engine::reserve`] or [`Engine::reserve_function`], until it
/// drops.
pub struct Reserved<'e>(#[allow(dead_code)] super::pool::Reservation<'e>);

impl std::fmt::Debug for Reserved<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reserved").finish_non_exhaustive()
    }
}

/// What [`Engine::kill`] or [`Engine::kill_function`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillOutcome {
    /// No script (or function) was running.
    NotBusy,
    /// Every running script has written: killing one would leave half its work.
    Unkillable,
    /// The running scripts that have not written will stop at their next check (within
    /// 100 000 instructions).
    Killed,
}

impl Engine {
    /// A new engine: its interpreters, each with Redis's environment.
    ///
    /// # Panics
    /// If an interpreter cannot be built (out of memory at start-up).
    pub fn new(opts: EngineOptions) -> Engine {
        let n = opts.interpreters.max(1);
        let overdue = Arc::new(Overdue::default());
        // A failure here is a bug in the prelude or no memory at start-up, not bad input.
        let scripts = Pool::new(n, &overdue, |run| {
            new_vm(&opts, &run.watched, &run.wrote, false)
        })
        .expect("the Lua interpreter starts");
        let functions = Pool::new(n, &overdue, |run| {
            new_vm(&opts, &run.watched, &run.wrote, true).map(super::function::Functions::new)
        })
        .expect("the Lua interpreter starts");
        // Nothing kills the loader's code (it has its own timeout), reads what it wrote, or
        // reports it busy (its `Overdue` has no threshold).
        let watched = Arc::new(Watched::new(Arc::default()));
        let wrote = Arc::default();
        let loader = new_vm(&opts, &watched, &wrote, true).expect("the Lua interpreter starts");
        Engine {
            scripts,
            cache: Cache {
                scripts: RwLock::new(HashMap::default()),
                generation: AtomicU64::new(0),
            },
            functions,
            libraries: super::function::Libraries::new(loader),
            overdue,
        }
    }

    /// Reserves an interpreter of the EVAL pool for the calling thread until the returned
    /// guard drops; the scripts it runs meanwhile run there, side by side with other
    /// threads' (waiting for one if every interpreter is reserved). Take it *before* locking
    /// the script's keys. Without a reservation a script runs in the engine's one shared
    /// interpreter, one at a time: meant for callers that hold the store's order gate (an
    /// open transaction), which must not wait for an interpreter a thread holding keys has.
    ///
    /// # Panics
    /// If the thread has reserved one already.
    pub fn reserve(&self) -> Reserved<'_> {
        Reserved(self.scripts.reserve())
    }

    /// [`Engine::reserve`] for functions (FCALL): an interpreter of the functions pool.
    ///
    /// # Panics
    /// If the thread has reserved one already.
    pub fn reserve_function(&self) -> Reserved<'_> {
        Reserved(self.functions.reserve())
    }

    /// Compiles and caches a script (SCRIPT LOAD): its SHA-1, or the error reply.
    pub fn load(&self, body: &[u8]) -> Result<String, Value> {
        let (_, mut vm) = self.scripts.pick();
        let (sha, _, _) = self.resolve(&mut vm, Source::Body(body))?;
        Ok(String::from_utf8_lossy(&sha).into_owned())
    }

    /// Whether a script with this SHA-1 is cached (SCRIPT EXISTS).
    pub fn exists(&self, sha: &[u8]) -> bool {
        let Some(sha) = normalize(sha) else {
            return false;
        };
        self.cache.scripts.read().contains_key(&sha)
    }

    /// Empties the script cache (SCRIPT FLUSH). Every interpreter forgets what it compiled:
    /// an idle one now, a busy one before it next looks a script up.
    pub fn flush(&self) {
        {
            let mut scripts = self.cache.scripts.write();
            scripts.clear();
            self.cache.generation.fetch_add(1, Ordering::AcqRel);
        }
        for slot in self.scripts.slots() {
            if let Some(mut vm) = slot.vm.try_lock() {
                self.cache.sync(&mut vm);
            }
        }
    }

    /// The flags of a script, compiling and caching it if it is a body: what the caller
    /// checks before it runs the script (a `no-writes` script may run where writes may not).
    ///
    /// # Errors
    /// The error reply: NOSCRIPT for an unknown SHA-1, a bad shebang, a compile error.
    pub fn flags(&self, source: Source<'_>) -> Result<ScriptFlags, Value> {
        let known = match source {
            Source::Body(body) => self.cache.get(&sha1_hex(body)),
            Source::Sha(sha) => Some(
                normalize(sha)
                    .and_then(|sha| self.cache.get(&sha))
                    .ok_or_else(noscript)?,
            ),
        };
        if let Some(script) = known {
            return Ok(script.flags);
        }
        let (_, mut vm) = self.scripts.pick();
        let (_, _, flags) = self.resolve(&mut vm, source)?;
        Ok(flags)
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
        let (slot, mut vm) = self.scripts.pick();
        let (sha, function, flags) = match self.resolve(&mut vm, source) {
            Ok(found) => found,
            Err(e) => return e,
        };
        let call = Call {
            resp3: false,
            read_only: read_only || flags.no_writes,
        };
        self.execute(&slot.run, &vm, call, host, &sha, |vm| {
            run(vm, &function, keys, argv)
        })
    }

    /// The cache key of `source` in `vm`, its function there and its flags, compiled there: a
    /// body on first sight (which then joins the cache), a SHA-1 from the cache's body if
    /// `vm` has not compiled it yet. One lookup in `vm`'s own map when it has.
    fn resolve(
        &self,
        vm: &mut Vm,
        source: Source<'_>,
    ) -> Result<([u8; 40], Function, ScriptFlags), Value> {
        self.cache.sync(vm);
        let sha = match source {
            Source::Body(body) => sha1_hex(body),
            Source::Sha(sha) => normalize(sha).ok_or_else(noscript)?,
        };
        if let Some(cached) = vm.scripts.get(&sha) {
            return Ok((sha, cached.function.clone(), cached.flags));
        }
        match source {
            Source::Body(body) => {
                let flags = compile(vm, &sha, body)?;
                self.cache.register(sha, body, flags);
            }
            Source::Sha(_) => {
                let script = self.cache.get(&sha).ok_or_else(noscript)?;
                compile(vm, &sha, &script.body)?;
            }
        }
        let cached = &vm.scripts[&sha];
        Ok((sha, cached.function.clone(), cached.flags))
    }

    /// Runs `f` (a script or a function) in the interpreter `vm` of `run` as a running
    /// script: its host and protocol in the interpreter's application data, the state SCRIPT
    /// KILL and BUSY replies read, and the result or error as a reply (`name`: what an error
    /// names, a SHA-1 or a function).
    pub(super) fn execute(
        &self,
        run: &RunState,
        vm: &Vm,
        call: Call,
        host: &mut dyn Host,
        name: &[u8],
        f: impl FnOnce(&Vm) -> mlua::Result<(bool, Returned)>,
    ) -> Value {
        run.watched.kill.store(false, Ordering::Relaxed);
        run.wrote.store(false, Ordering::Relaxed);
        let running = Started::new(&run.watched);
        let host: std::ptr::NonNull<dyn Host + '_> = std::ptr::NonNull::from(host);
        // SAFETY: only the lifetime is erased, for the application data (see `RunCtx`); the
        // pointer is cleared below, before `host`'s borrow ends.
        let host: std::ptr::NonNull<dyn Host + 'static> = unsafe { std::mem::transmute(host) };
        {
            // SAFETY: the caller holds `vm`, and no Lua code runs until `ctx` is gone.
            let ctx = unsafe { vm.run_ctx() };
            ctx.host = Some(host);
            ctx.call = call;
        }
        let result = f(vm);
        let resp3 = {
            // SAFETY: as above: the script has returned.
            let ctx = unsafe { vm.run_ctx() };
            ctx.host = None;
            // The last `redis.call` reply waited here while it was pushed; a large one (an
            // LRANGE of everything) must not stay allocated until the next script.
            ctx.reply = Value::Nil;
            // Likewise the argument buffer, kept for reuse only while it is small.
            if ctx.args.capacity() > 64 * 1024 {
                ctx.args = Vec::new();
            }
            ctx.call.resp3
        };
        drop(running);
        if run.watched.kill.swap(false, Ordering::Relaxed) {
            // The kill hook stays on every line after a kill; put the periodic one back.
            set_kill_hook(&vm.lua, &vm.watched);
        }
        match result {
            Ok((true, Returned::Bytes(b))) => Value::Bulk(b),
            Ok((true, Returned::Other(v))) => from_lua(&v, resp3),
            Ok((false, Returned::Other(e))) => error_reply(&e, name),
            // `invoke` reads a string off the stack only for a success.
            Ok((false, Returned::Bytes(_))) => unreachable!("an error is left as a value"),
            Err(e) => Value::Error(format!("ERR {e}").into_bytes()),
        }
    }

    /// How long the longest-running script or function has run, in ms; `None` when none
    /// runs. It looks at every interpreter: for the rare caller, not every command (see
    /// [`Engine::overdue`]).
    pub fn running_for(&self) -> Option<u64> {
        let oldest = [self.scripts.oldest(), self.functions.oldest()]
            .into_iter()
            .flatten()
            .min()?;
        Some(since(oldest))
    }

    /// How many scripts and functions run now.
    pub fn running(&self) -> usize {
        self.scripts.running() + self.functions.running()
    }

    /// Sets busy-reply-threshold (Redis's `lua-time-limit`), in ms: a script or function
    /// that runs longer makes [`Engine::overdue`] true. 0: never.
    pub fn set_busy_threshold(&self, ms: u64) {
        self.overdue.after_ms.store(ms, Ordering::Relaxed);
    }

    /// busy-reply-threshold, in ms (0: never), as last set.
    pub fn busy_threshold(&self) -> u64 {
        self.overdue.after_ms.load(Ordering::Relaxed)
    }

    /// Whether a script or function has run past the busy threshold: one load, cheap enough
    /// for every command to check. An interpreter notices within 100 000 instructions of its
    /// script passing the threshold, and not while the script waits for a command it called
    /// (as Redis, which notices in the same hook). When it is true, [`Engine::running_for`]
    /// says for how long.
    pub fn overdue(&self) -> bool {
        self.overdue.count.load(Ordering::Acquire) != 0
    }

    /// Asks the running EVAL scripts to stop (SCRIPT KILL): every one that has not written.
    /// `NotBusy` if no EVAL script runs (a function may), `Unkillable` if every running one
    /// wrote, `Killed` if at least one was asked.
    pub fn kill(&self) -> KillOutcome {
        self.scripts.kill()
    }

    /// Asks the running functions to stop (FUNCTION KILL), as [`Engine::kill`] asks EVAL
    /// scripts.
    pub fn kill_function(&self) -> KillOutcome {
        self.functions.kill()
    }
}

/// Marks an interpreter's script as running from its creation to its drop (a panic in the
/// host included).
struct Started<'a>(&'a Watched);

impl<'a> Started<'a> {
    fn new(watched: &'a Watched) -> Started<'a> {
        watched.start();
        Started(watched)
    }
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

fn noscript() -> Value {
    Value::error("NOSCRIPT No matching script. Please use EVAL.")
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

/// Compiles `body` into `vm`'s scripts under `sha`: its flags, or the error reply.
fn compile(vm: &mut Vm, sha: &[u8; 40], body: &[u8]) -> Result<ScriptFlags, Value> {
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
            Ok(flags)
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
fn run(
    vm: &Vm,
    function: &Function,
    keys: &[&[u8]],
    argv: &[&[u8]],
) -> mlua::Result<(bool, Returned)> {
    invoke(vm, Entry::Script, function, keys, argv)
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
pub(super) fn format_number(n: f64) -> String {
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
    fn arguments_past_the_memory_limit_fail_the_call_and_leave_the_interpreter_whole() {
        let engine = Engine::new(EngineOptions {
            memory_limit: 4 << 20,
            interpreters: 1,
            ..EngineOptions::default()
        });
        let mut host = MapHost::default();
        // Distinct strings: Lua keeps one copy of equal ones.
        let big: Vec<Vec<u8>> = (0..8).map(|i| vec![b'a' + i; 1 << 20]).collect();
        let argv: Vec<&[u8]> = big.iter().map(Vec::as_slice).collect();
        let stack_top = || {
            let (_, vm) = engine.scripts.pick();
            // SAFETY: reads the top of the interpreter's stack, locked by `pick`.
            vm.lua
                .exec_raw_lua(|raw| unsafe { mlua::ffi::lua_gettop(raw.state()) })
        };
        let top = stack_top();
        // KEYS and ARGV are built in the interpreter before the script runs: 8 MiB of
        // arguments cannot fit in 4, and the call fails as a whole, leaving the interpreter's
        // stack as it was.
        for _ in 0..20 {
            let reply = engine.eval(Source::Body(b"return 1"), &[], &argv, false, &mut host);
            let Value::Error(e) = reply else {
                panic!("arguments over the limit ran: {reply:?}");
            };
            assert!(
                String::from_utf8_lossy(&e).starts_with("ERR memory error"),
                "{}",
                String::from_utf8_lossy(&e)
            );
        }
        assert_eq!(stack_top(), top);
        // The same interpreter runs scripts afterwards, with their strings and arguments.
        let reply = engine.eval(
            Source::Body(b"return ARGV[1] .. #ARGV"),
            &[],
            &[&b"ok"[..], b"x"],
            false,
            &mut host,
        );
        assert_eq!(reply, bulk("ok2"));
        assert_eq!(eval(&engine, &mut host, "return 7", &[]), Value::Int(7));
        assert_eq!(stack_top(), top);
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

/// The interpreter pool: scripts side by side, one cache for all, SCRIPT KILL of several.
#[cfg(test)]
pub(super) mod pool_tests {
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    use parking_lot::{Condvar, Mutex};

    use super::*;

    /// Long enough for any machine; a test that reaches it failed.
    const PATIENCE: Duration = Duration::from_secs(10);

    fn engine(interpreters: usize) -> Engine {
        Engine::new(EngineOptions {
            interpreters,
            ..EngineOptions::default()
        })
    }

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    /// A host whose `meet` waits (at most `PATIENCE`) until two scripts have called it: 1 if
    /// the other came, 0 if not. With one interpreter the second script cannot start while
    /// the first waits, so both answer 0.
    struct Meet<'a>(&'a (Mutex<usize>, Condvar));

    impl Host for Meet<'_> {
        fn call(&mut self, _args: &[&[u8]], _call: &Call) -> (Value, bool) {
            let (arrived, cv) = self.0;
            let mut arrived = arrived.lock();
            *arrived += 1;
            cv.notify_all();
            let deadline = Instant::now() + PATIENCE;
            while *arrived < 2 {
                if cv.wait_until(&mut arrived, deadline).timed_out() {
                    return (Value::Int(0), false);
                }
            }
            (Value::Int(1), false)
        }

        fn log(&mut self, _level: u8, _message: &[u8]) {}
    }

    /// A host where `set` writes and `get` answers "1" once `stop` is set; `wrote` records
    /// the first write.
    struct Stoppable<'a> {
        stop: &'a AtomicBool,
        wrote: &'a AtomicBool,
    }

    impl Host for Stoppable<'_> {
        fn call(&mut self, args: &[&[u8]], _call: &Call) -> (Value, bool) {
            match args[0] {
                b"set" => {
                    self.wrote.store(true, Ordering::SeqCst);
                    (Value::Status(b"OK".to_vec()), true)
                }
                _ if self.stop.load(Ordering::SeqCst) => (bulk("1"), false),
                _ => (Value::Nil, false),
            }
        }

        fn log(&mut self, _level: u8, _message: &[u8]) {}
    }

    fn eval_in(engine: &Engine, slot: usize, source: Source<'_>) -> Value {
        let _reserved = engine.scripts.reserve_at(slot);
        let (stop, wrote) = (AtomicBool::new(true), AtomicBool::new(false));
        let mut host = Stoppable {
            stop: &stop,
            wrote: &wrote,
        };
        engine.eval(source, &[], &[], false, &mut host)
    }

    /// Sets the flag when dropped: a failing test stops its scripts instead of hanging.
    pub(in crate::script) struct StopOnDrop<'a>(pub(in crate::script) &'a AtomicBool);

    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done() {
            assert!(Instant::now() < deadline, "gave up waiting for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn two_scripts_run_lua_at_once() {
        let engine = engine(2);
        let meet = (Mutex::new(0), Condvar::new());
        let replies: Vec<Value> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let _reserved = engine.reserve();
                        engine.eval(
                            Source::Body(b"return redis.call('meet')"),
                            &[],
                            &[],
                            false,
                            &mut Meet(&meet),
                        )
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(replies, [Value::Int(1), Value::Int(1)]);
    }

    #[test]
    fn a_loaded_script_runs_in_every_interpreter() {
        let engine = engine(3);
        let sha = engine
            .load(b"#!lua flags=no-writes\nreturn 'loaded'")
            .unwrap();
        assert!(engine.exists(sha.to_ascii_uppercase().as_bytes()));
        assert_eq!(
            engine
                .flags(Source::Sha(sha.as_bytes()))
                .map(|f| f.no_writes),
            Ok(true)
        );
        for slot in 0..=3 {
            assert_eq!(
                eval_in(&engine, slot, Source::Sha(sha.as_bytes())),
                bulk("loaded"),
                "interpreter {slot}"
            );
        }
        let sha: [u8; 40] = sha.as_bytes().try_into().unwrap();
        for (i, slot) in engine.scripts.slots().iter().enumerate() {
            assert!(slot.vm.lock().scripts.contains_key(&sha), "interpreter {i}");
        }
        // A script EVAL compiled in one interpreter is cached for the others.
        let body = b"return 'evaluated'";
        assert_eq!(eval_in(&engine, 2, Source::Body(body)), bulk("evaluated"));
        let sha = sha1_hex(body);
        for slot in 0..=3 {
            assert_eq!(eval_in(&engine, slot, Source::Sha(&sha)), bulk("evaluated"));
        }
        // A script that does not compile is cached nowhere.
        assert!(matches!(engine.load(b"return ("), Err(Value::Error(_))));
        assert!(!engine.exists(&sha1_hex(b"return (")));
    }

    #[test]
    fn script_flush_empties_every_interpreter() {
        let engine = engine(3);
        let body = b"return 'again'";
        let sha = sha1_hex(body);
        for slot in 0..=3 {
            assert_eq!(eval_in(&engine, slot, Source::Body(body)), bulk("again"));
        }
        // Interpreter 1 is busy during the flush: it catches up when it is next used.
        let busy = engine.scripts.slots()[1].vm.lock();
        engine.flush();
        drop(busy);
        assert!(!engine.exists(&sha));
        let noscript = Value::error("NOSCRIPT No matching script. Please use EVAL.");
        for slot in 0..=3 {
            assert_eq!(
                eval_in(&engine, slot, Source::Sha(&sha)),
                noscript,
                "interpreter {slot}"
            );
        }
        assert_eq!(engine.flags(Source::Sha(&sha)), Err(noscript));
        assert_eq!(eval_in(&engine, 1, Source::Body(body)), bulk("again"));
        for slot in 0..=3 {
            assert_eq!(eval_in(&engine, slot, Source::Sha(&sha)), bulk("again"));
        }
    }

    #[test]
    fn script_kill_stops_the_scripts_that_did_not_write() {
        let engine = engine(2);
        let (stop, wrote, idle) = (
            AtomicBool::new(false),
            AtomicBool::new(false),
            AtomicBool::new(false),
        );
        assert_eq!(engine.kill(), KillOutcome::NotBusy);
        std::thread::scope(|s| {
            let _stop = StopOnDrop(&stop);
            // The writer in the first interpreter, so SCRIPT KILL meets it first.
            let writer = s.spawn(|| {
                let _reserved = engine.scripts.reserve_at(0);
                let mut host = Stoppable {
                    stop: &stop,
                    wrote: &wrote,
                };
                let body = b"redis.call('set', 'k', 'v')
                    while not redis.call('get', 'stop') do end
                    return 'done'";
                engine.eval(Source::Body(body), &[], &[], false, &mut host)
            });
            wait_for("the writer's write", || wrote.load(Ordering::SeqCst));
            let reader = s.spawn(|| {
                let _reserved = engine.scripts.reserve_at(1);
                let mut host = Stoppable {
                    stop: &stop,
                    wrote: &idle,
                };
                // Lua's loop; it checks `stop` only to end a failed test.
                let body = b"while not redis.call('get', 'stop') do
                        for i = 1, 1000 do end
                    end";
                engine.eval(Source::Body(body), &[], &[], false, &mut host)
            });
            wait_for("both scripts", || engine.running() == 2);
            assert!(engine.running_for().is_some());
            assert_eq!(engine.running_function(), None);
            assert_eq!(engine.kill_function(), KillOutcome::NotBusy);
            assert_eq!(engine.kill(), KillOutcome::Killed);
            let killed = reader.join().unwrap();
            assert!(
                matches!(&killed, Value::Error(e) if e.starts_with(b"ERR Script killed by user with SCRIPT KILL")),
                "{killed:?}"
            );
            // The writer alone runs on, and cannot be killed.
            assert_eq!(engine.running(), 1);
            assert_eq!(engine.kill(), KillOutcome::Unkillable);
            stop.store(true, Ordering::SeqCst);
            assert_eq!(writer.join().unwrap(), bulk("done"));
        });
        assert_eq!(engine.running(), 0);
        assert_eq!(engine.running_for(), None);
        assert_eq!(engine.kill(), KillOutcome::NotBusy);
        // The killed interpreter runs scripts again.
        for slot in 0..=2 {
            assert_eq!(
                eval_in(
                    &engine,
                    slot,
                    Source::Body(b"for i = 1, 300000 do end return 1")
                ),
                Value::Int(1)
            );
        }
    }

    #[test]
    fn a_script_past_the_busy_threshold_is_overdue_until_it_ends() {
        let engine = engine(2);
        let (stop, idle) = (AtomicBool::new(false), AtomicBool::new(false));
        let looping = b"while not redis.call('get', 'stop') do for i = 1, 1000 do end end";
        std::thread::scope(|s| {
            let _stop = StopOnDrop(&stop);
            let spin = || {
                let _reserved = engine.scripts.reserve_at(0);
                let mut host = Stoppable {
                    stop: &stop,
                    wrote: &idle,
                };
                engine.eval(Source::Body(looping), &[], &[], false, &mut host)
            };
            // Without a threshold (0), a script is never overdue, however long it runs: its
            // hook has run a few hundred times by the time it has run 300 ms.
            let runner = s.spawn(spin);
            wait_for("the script to run 300 ms", || {
                engine.running_for().is_some_and(|ms| ms >= 300)
            });
            assert!(!engine.overdue());
            // With one it has passed, the next hook call counts it.
            engine.set_busy_threshold(100);
            wait_for("the script to be overdue", || engine.overdue());
            assert_eq!(engine.kill(), KillOutcome::Killed);
            let killed = runner.join().unwrap();
            assert!(matches!(&killed, Value::Error(e) if e.starts_with(b"ERR Script killed")));
            assert!(!engine.overdue(), "a killed script is not overdue");
            // The same interpreter's next long script is counted afresh, and uncounted when
            // it ends on its own.
            let runner = s.spawn(spin);
            wait_for("the next script to be overdue", || engine.overdue());
            stop.store(true, Ordering::SeqCst);
            assert_eq!(runner.join().unwrap(), Value::Nil);
            assert!(!engine.overdue(), "an ended script is not overdue");
        });
        // A short script after them is not.
        assert_eq!(
            eval_in(&engine, 0, Source::Body(b"return 1")),
            Value::Int(1)
        );
        assert!(!engine.overdue());
    }
}
