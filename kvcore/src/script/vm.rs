//! An interpreter ([`Vm`]): how it is built (the standard libraries Redis loads, the bundled
//! ones, `prelude.lua` and the primitives behind `redis.*`), what a running script keeps in
//! its application data ([`RunCtx`]), and its count hook (SCRIPT KILL, busy scripts).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mlua::{
    Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value as Lua_, VmState,
};
use parking_lot::Mutex;

use super::engine::{Call, EngineOptions, Host, ScriptFlags, format_g, format_number, sha1_hex};
use super::pool::Watched;
use super::value::Value;

/// A script compiled in one interpreter.
pub(super) struct Cached {
    pub(super) function: Function,
    pub(super) flags: ScriptFlags,
}

/// An interpreter and what lives in it.
pub(super) struct Vm {
    pub(super) lua: Lua,
    pub(super) compile: Function,
    /// `convert::trampoline`, through which every script and function is called.
    pub(super) invoke: Function,
    /// The prelude's error handler, which turns a script's error into a table with its text
    /// and where it was raised.
    pub(super) handler: Function,
    /// The real global table behind the read-only proxy scripts see: a script's KEYS and ARGV
    /// are set in it.
    pub(super) real_globals: Table,
    /// The scripts compiled here, by SHA-1 hex, with foldhash (per-process seed): SipHash of
    /// the 40 bytes was 1% of a short script's CPU. A subset of the engine's cache, as of
    /// `generation`.
    pub(super) scripts: HashMap<[u8; 40], Cached, foldhash::fast::RandomState>,
    /// Which generation of the shared state this interpreter reflects: the script cache's
    /// (`Cache::generation`), or for a functions interpreter the libraries'.
    pub(super) generation: u64,
    /// What its count hook reads and writes: SCRIPT KILL's flag, the running script's start.
    pub(super) watched: Arc<Watched>,
    /// A functions interpreter's `engine.load` (see `prelude.lua`).
    pub(super) load: Option<Function>,
    /// The cache of freed blocks in front of its allocator (`heap.rs`).
    heap: Option<super::heap::Installed>,
    /// Its `RunCtx`, which lives in its application data at one address (see `new_vm`).
    ctx: RunCtxPtr,
}

/// A pointer to an interpreter's `RunCtx`.
pub(super) struct RunCtxPtr(*mut RunCtx);

// SAFETY: dereferenced only by the thread that holds the interpreter (`Vm::run_ctx`).
unsafe impl Send for RunCtxPtr {}

impl Vm {
    /// The interpreter's script context, reached through its pointer rather than the
    /// application data's type map and borrow flag (about 280 instructions a script, for the
    /// two uses around it, under callgrind).
    ///
    /// # Safety
    /// The caller holds the interpreter (its pool slot's lock), no Lua code runs while the
    /// reference lives, and it takes no other reference to the context meanwhile (the
    /// primitives reach it through their own pointer, and only while Lua code runs).
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn run_ctx(&self) -> &mut RunCtx {
        // SAFETY: the pointer is the application data's, set once by `new_vm` and never
        // replaced or removed while the interpreter lives; exclusivity is the caller's promise.
        unsafe { &mut *self.ctx.0 }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Some(heap) = self.heap.take() {
            // SAFETY: installed in this interpreter by `new_vm`; mlua locks it for the closure.
            self.lua
                .exec_raw_lua(|raw| unsafe { super::heap::uninstall(raw.state(), heap) });
        }
    }
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

const KILLED: &str = "Script killed by user with SCRIPT KILL...";

/// Every 100 000 instructions, as Redis's count hook: checks the kill flag, and whether the
/// script has run past busy-reply-threshold ([`Watched::check`]).
pub(super) fn set_kill_hook(lua: &Lua, watched: &Arc<Watched>) {
    let watched = Arc::clone(watched);
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(100_000),
        move |lua, _| {
            if watched.kill.load(Ordering::Relaxed) {
                // After a kill the hook runs on every line, so a script that catches the
                // error with pcall is stopped again at once.
                let again = Arc::clone(&watched);
                lua.set_hook(HookTriggers::EVERY_LINE, move |_, _| {
                    if again.kill.load(Ordering::Relaxed) {
                        return Err(mlua::Error::runtime(KILLED));
                    }
                    Ok(VmState::Continue)
                })?;
                return Err(mlua::Error::runtime(KILLED));
            }
            watched.check();
            Ok(VmState::Continue)
        },
    )
    // Setting a hook only fails on a Luau build, which this is not.
    .expect("a Lua 5.1 hook can be set");
}

/// Builds the interpreter: the standard libraries Redis loads, the bundled ones, the prelude
/// (the `redis` API and the sandbox), and the primitives the prelude calls.
pub(super) fn new_vm(
    opts: &EngineOptions,
    watched: &Arc<Watched>,
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
    set_kill_hook(&lua, watched);
    let compile = engine.get("compile")?;
    // The trampoline, with the names it sets a script's arrays under as its upvalues: interned
    // once here, not hashed and looked up again for every script.
    // SAFETY: `exec_raw` runs this in a protected call with room checked for; the trampoline
    // is called only by `convert::invoke`, with its arguments.
    let invoke: Function = unsafe {
        lua.exec_raw((), |state| {
            mlua::ffi::lua_pushstring(state, c"KEYS".as_ptr());
            mlua::ffi::lua_pushstring(state, c"ARGV".as_ptr());
            mlua::ffi::lua_pushcclosure(state, super::convert::trampoline, 2);
        })?
    };
    let (handler, real_globals, load) = (
        engine.get("handler")?,
        engine.get("G")?,
        engine.get("load")?,
    );
    // Last, when nothing can fail any more (`Vm`'s drop takes it out again); after the memory
    // limit, which mlua sets only while its own allocator is the state's.
    // SAFETY: a new interpreter, locked by mlua for the closure.
    let heap = lua.exec_raw_lua(|raw| unsafe { super::heap::install(raw.state()) });
    Ok(Vm {
        compile,
        invoke,
        handler,
        real_globals,
        load,
        lua,
        scripts: HashMap::default(),
        generation: 0,
        watched: Arc::clone(watched),
        heap: Some(heap),
        ctx: RunCtxPtr(ctx),
    })
}

/// Runs `f` on the running script's context, if a script is running.
fn with_ctx<R>(lua: &Lua, f: impl FnOnce(&mut RunCtx) -> R) -> Option<R> {
    lua.app_data_mut::<RunCtx>()
        .filter(|ctx| ctx.host.is_some())
        .map(|mut ctx| f(&mut ctx))
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
    fn version_numbers() {
        assert_eq!(version_num("7.0.15"), 458_767);
    }
}
