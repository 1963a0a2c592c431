//! Redis 7 functions: libraries loaded with FUNCTION LOAD, whose code registers functions
//! with `redis.register_function`, called with FCALL. They live in interpreters of their
//! own, as in Redis, so SCRIPT FLUSH and FUNCTION FLUSH do not touch each other.
//!
//! The libraries are the engine's ([`Libraries`]): a change runs the library's code in an
//! interpreter kept for that (the loader), and publishes the new set with a new generation;
//! each functions interpreter of the pool reloads every library when it finds its generation
//! stale, before it runs an FCALL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mlua::{Function, Lua, MultiValue, Table, Value as Lua_};
use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

use super::engine::{Call, Engine, Entry, Host, ScriptFlags, invoke};
use super::pool::since;
use super::value::Value;
use super::vm::{Vm, err_text, raise, set_kill_hook};

/// A registered function, in the interpreter that ran its library's code.
pub(super) struct Registered {
    function: Function,
    info: Info,
}

/// What FUNCTION LIST and FCALL's callers need to know of a function.
#[derive(Clone)]
pub(super) struct Info {
    flags: ScriptFlags,
    description: Option<Vec<u8>>,
}

/// A loaded library: its code and its functions, by name.
pub(super) struct Library {
    pub(super) code: Vec<u8>,
    pub(super) functions: BTreeMap<String, Info>,
}

impl Library {
    /// The library `code` whose code registered `registered`.
    pub(super) fn new(code: Vec<u8>, registered: Vec<(String, Registered)>) -> Library {
        Library {
            code,
            functions: registered.into_iter().map(|(n, r)| (n, r.info)).collect(),
        }
    }
}

/// The libraries, as every functions interpreter is to have them.
#[derive(Clone, Default)]
pub(super) struct Catalog {
    pub(super) libraries: BTreeMap<String, Arc<Library>>,
    /// Function name → its library.
    pub(super) index: BTreeMap<String, String>,
    generation: u64,
}

impl Catalog {
    /// Adds (or replaces) library `name`.
    pub(super) fn insert(&mut self, name: String, library: Library) {
        self.remove(&name);
        for function in library.functions.keys() {
            self.index.insert(function.clone(), name.clone());
        }
        self.libraries.insert(name, Arc::new(library));
    }

    pub(super) fn remove(&mut self, name: &str) {
        if let Some(old) = self.libraries.remove(name) {
            for function in old.functions.keys() {
                self.index.remove(function);
            }
        }
    }

    /// An empty catalog that follows this one.
    pub(super) fn cleared(&self) -> Catalog {
        Catalog {
            generation: self.generation,
            ..Catalog::default()
        }
    }
}

/// The engine's libraries, which every functions interpreter loads.
pub(super) struct Libraries {
    /// The current set. Changed only by `publish`, and read without waiting for a running
    /// FCALL: FUNCTION LIST, STATS and DUMP, the flags a caller checks before FCALL.
    catalog: RwLock<Arc<Catalog>>,
    /// The current set's generation, read on every FCALL.
    generation: AtomicU64,
    /// The interpreter that runs a library's code before it joins (FUNCTION LOAD, RESTORE),
    /// so a change never waits for a pooled interpreter (which a running FCALL holds); its
    /// lock serializes the changes.
    loader: Mutex<Vm>,
}

impl Libraries {
    pub(super) fn new(loader: Vm) -> Libraries {
        Libraries {
            catalog: RwLock::new(Arc::new(Catalog::default())),
            generation: AtomicU64::new(0),
            loader: Mutex::new(loader),
        }
    }

    pub(super) fn read(&self) -> RwLockReadGuard<'_, Arc<Catalog>> {
        self.catalog.read()
    }

    /// Starts a change: the loader (held until the change is published or given up, so
    /// changes happen one at a time) and the set it changes.
    pub(super) fn change(&self) -> (MutexGuard<'_, Vm>, Arc<Catalog>) {
        let loader = self.loader.lock();
        let current = Arc::clone(&self.catalog.read());
        (loader, current)
    }

    /// Makes `next` the current set, under a new generation. `loader` is the change's.
    pub(super) fn publish(&self, loader: &Vm, mut next: Catalog) {
        {
            let mut catalog = self.catalog.write();
            next.generation = catalog.generation + 1;
            let generation = next.generation;
            *catalog = Arc::new(next);
            self.generation.store(generation, Ordering::Release);
        }
        // The code it ran and the functions it registered are garbage now.
        let _ = loader.lua.gc_collect();
    }
}

/// One functions interpreter and the functions its libraries' code registered there.
pub(super) struct Functions {
    pub(super) vm: Vm,
    /// By name, as of `vm.generation` of the libraries.
    functions: BTreeMap<String, Registered>,
}

/// The running function and the command that called it, for FUNCTION STATS. Its buffers are
/// reused from one FCALL to the next, so a call allocates nothing for it.
#[derive(Default)]
pub(super) struct Running {
    active: bool,
    name: String,
    command: Vec<Vec<u8>>,
}

impl Running {
    /// Marks function `name` as running, called by `command` (its `len` words, copied into
    /// the buffers kept from the last call).
    fn set<'c>(&mut self, name: &str, len: usize, command: impl Iterator<Item = &'c [u8]>) {
        self.active = true;
        self.name.clear();
        self.name.push_str(name);
        self.command.resize_with(len, Vec::new);
        for (dst, src) in self.command.iter_mut().zip(command) {
            dst.clear();
            dst.extend_from_slice(src);
        }
    }
}

/// What a library's code registered while FUNCTION LOAD ran it (application data of the
/// functions interpreter during the load).
struct LoadCtx {
    registered: Vec<(String, Registered)>,
}

impl Functions {
    pub(super) fn new(vm: Vm) -> Functions {
        Functions {
            vm,
            functions: BTreeMap::new(),
        }
    }
}

/// What FUNCTION FLUSH and FUNCTION RESTORE do with the libraries already loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Keep them; a name collision fails (FUNCTION LOAD, RESTORE APPEND).
    Append,
    /// Replace a library of the same name (FUNCTION LOAD REPLACE, RESTORE REPLACE).
    Replace,
    /// Drop them all first (FUNCTION RESTORE FLUSH; FUNCTION LOAD treats it as `Replace`).
    Flush,
}

/// A library or function name: letters, digits and underscores, at least one.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

const BAD_NAME: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// A library's `#!<engine> name=<name>` line: its name, and the code to compile (the line
/// blanked, so line numbers stay the user's).
pub(super) fn metadata(code: &[u8]) -> Result<(String, &[u8]), Value> {
    let err = |m: String| Value::Error(format!("ERR {m}").into_bytes());
    if !code.starts_with(b"#!") {
        return Err(err("Missing library metadata".into()));
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err(err("Invalid library metadata".into()));
    };
    let line = String::from_utf8_lossy(&code[..end]);
    let mut parts = line.split_ascii_whitespace();
    let engine = parts.next().unwrap_or("#!")[2..].to_string();
    let mut name = None;
    for part in parts {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case("name=") {
            if name.is_some() {
                return Err(err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                ));
            }
            name = Some(part[5..].to_string());
            continue;
        }
        return Err(err(format!("Invalid metadata value given: {part}")));
    }
    let Some(name) = name else {
        return Err(err("Library name was not given".into()));
    };
    if !valid_name(name.as_bytes()) {
        return Err(Value::error(BAD_NAME));
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(err(format!("Engine '{engine}' not found")));
    }
    Ok((name, &code[end..]))
}

/// `redis.register_function(name, callback)` or `redis.register_function{function_name = ...,
/// callback = ..., flags = {...}, description = ...}`, during FUNCTION LOAD.
pub(super) fn register_function(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    let (name, function, flags, description) = match args.len() {
        1 => named_args(&args[0])?,
        2 => {
            let name = match &args[0] {
                Lua_::String(s) => s.as_bytes().to_vec(),
                Lua_::Number(_) | Lua_::Integer(_) => {
                    super::vm::to_text(&args[0]).unwrap_or_default()
                }
                _ => {
                    return Err(raise(
                        b"first argument to redis.register_function must be a string",
                    ));
                }
            };
            let Lua_::Function(f) = &args[1] else {
                return Err(raise(
                    b"second argument to redis.register_function must be a function",
                ));
            };
            (name, f.clone(), ScriptFlags::default(), None)
        }
        _ => {
            return Err(raise(
                b"wrong number of arguments to redis.register_function",
            ));
        }
    };
    let Some(mut ctx) = lua.app_data_mut::<LoadCtx>() else {
        return Err(raise(
            b"redis.register_function can only be called on FUNCTION LOAD command",
        ));
    };
    if !valid_name(&name) {
        return Err(raise(&BAD_NAME.as_bytes()[4..]));
    }
    let name = String::from_utf8_lossy(&name).into_owned();
    if ctx.registered.iter().any(|(n, _)| *n == name) {
        return Err(raise(b"Function already exists in the library"));
    }
    ctx.registered.push((
        name,
        Registered {
            function,
            info: Info { flags, description },
        },
    ));
    Ok(())
}

type Parsed = (Vec<u8>, Function, ScriptFlags, Option<Vec<u8>>);

fn named_args(v: &Lua_) -> mlua::Result<Parsed> {
    let Lua_::Table(t) = v else {
        return Err(raise(b"calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."));
    };
    let (mut name, mut callback, mut flags, mut description) =
        (None, None, ScriptFlags::default(), None);
    for pair in t.pairs::<Lua_, Lua_>() {
        let (k, v) = pair?;
        let Lua_::String(k) = k else {
            return Err(raise(
                b"named argument key given to redis.register_function is not a string",
            ));
        };
        let key = k.to_string_lossy().to_ascii_lowercase();
        match key.as_str() {
            "function_name" => match v {
                Lua_::String(s) => name = Some(s.as_bytes().to_vec()),
                _ => {
                    return Err(raise(
                        b"function_name argument given to redis.register_function must be a string",
                    ));
                }
            },
            "description" => match v {
                Lua_::String(s) => description = Some(s.as_bytes().to_vec()),
                _ => {
                    return Err(raise(
                        b"description argument given to redis.register_function must be a string",
                    ));
                }
            },
            "callback" => match v {
                Lua_::Function(f) => callback = Some(f),
                _ => {
                    return Err(raise(
                        b"callback argument given to redis.register_function must be a function",
                    ));
                }
            },
            "flags" => {
                let Lua_::Table(list) = v else {
                    return Err(raise(b"flags argument to redis.register_function must be a table representing function flags"));
                };
                flags = read_flags(&list)?;
            }
            _ => return Err(raise(b"unknown argument given to redis.register_function")),
        }
    }
    let Some(name) = name else {
        return Err(raise(
            b"redis.register_function must get a function name argument",
        ));
    };
    let Some(callback) = callback else {
        return Err(raise(
            b"redis.register_function must get a callback argument",
        ));
    };
    Ok((name, callback, flags, description))
}

fn read_flags(list: &Table) -> mlua::Result<ScriptFlags> {
    let mut flags = ScriptFlags::default();
    for v in list.sequence_values::<Lua_>() {
        let flag = match v? {
            Lua_::String(s) => s.to_string_lossy(),
            _ => return Err(raise(b"unknown flag given")),
        };
        match flag.as_str() {
            "no-writes" => flags.no_writes = true,
            "allow-oom" => flags.allow_oom = true,
            "allow-stale" => flags.allow_stale = true,
            "no-cluster" => flags.no_cluster = true,
            "allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
            _ => return Err(raise(b"unknown flag given")),
        }
    }
    Ok(flags)
}

/// Redis's flag names of `flags`, in its order.
fn flag_names(flags: ScriptFlags) -> Vec<&'static str> {
    [
        (flags.no_writes, "no-writes"),
        (flags.allow_oom, "allow-oom"),
        (flags.allow_stale, "allow-stale"),
        (flags.no_cluster, "no-cluster"),
        (flags.allow_cross_slot_keys, "allow-cross-slot-keys"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

fn bulk(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec())
}

impl Engine {
    /// FUNCTION LOAD [REPLACE]: compiles the library, runs its code to register its
    /// functions, calls `persist` with its name and code (to keep it: `Kv::set_function_library`),
    /// and installs it; the library's name, or the error reply (nothing is installed if
    /// `persist` fails).
    pub fn function_load(
        &self,
        code: &[u8],
        policy: Policy,
        persist: impl FnOnce(&str, &[u8]) -> Result<(), Value>,
    ) -> Result<String, Value> {
        let (name, body) = metadata(code)?;
        let (loader, catalog) = self.libraries.change();
        if catalog.libraries.contains_key(&name) && policy == Policy::Append {
            return Err(Value::Error(
                format!("ERR Library '{name}' already exists").into_bytes(),
            ));
        }
        let registered = load_code(&loader, body, Some(LOAD_TIMEOUT))?;
        if registered.is_empty() {
            return Err(Value::error("ERR No functions registered"));
        }
        for (fname, _) in &registered {
            if let Some(owner) = catalog.index.get(fname)
                && *owner != name
            {
                return Err(Value::Error(
                    format!("ERR Function {fname} already exists").into_bytes(),
                ));
            }
        }
        persist(&name, code)?;
        let mut next = Catalog::clone(&catalog);
        next.insert(name.clone(), Library::new(code.to_vec(), registered));
        self.libraries.publish(&loader, next);
        Ok(name)
    }

    /// FUNCTION DELETE: `persist` (`Kv::delete_function_library`) first, then the library.
    ///
    /// # Errors
    /// The error reply for a library that does not exist, or `persist`'s.
    pub fn function_delete(
        &self,
        name: &[u8],
        persist: impl FnOnce() -> Result<(), Value>,
    ) -> Result<(), Value> {
        let name = String::from_utf8_lossy(name);
        let (loader, catalog) = self.libraries.change();
        if !catalog.libraries.contains_key(name.as_ref()) {
            return Err(Value::error("ERR Library not found"));
        }
        persist()?;
        let mut next = Catalog::clone(&catalog);
        next.remove(&name);
        self.libraries.publish(&loader, next);
        Ok(())
    }

    /// FUNCTION FLUSH: `persist` (`Kv::flush_function_libraries`) first, then every library.
    ///
    /// # Errors
    /// `persist`'s.
    pub fn function_flush(&self, persist: impl FnOnce() -> Result<(), Value>) -> Result<(), Value> {
        let (loader, catalog) = self.libraries.change();
        persist()?;
        self.libraries.publish(&loader, catalog.cleared());
        Ok(())
    }

    /// Every library's name and code, in name order (what persistence keeps).
    pub fn function_libraries(&self) -> Vec<(String, Vec<u8>)> {
        self.libraries
            .read()
            .libraries
            .iter()
            .map(|(n, l)| (n.clone(), l.code.clone()))
            .collect()
    }

    /// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE], as Redis replies (maps, which a RESP2
    /// client gets as flat arrays).
    pub fn function_list(&self, pattern: Option<&crate::Pattern>, with_code: bool) -> Value {
        let catalog = self.libraries.read();
        let libs = catalog
            .libraries
            .iter()
            .filter(|(name, _)| pattern.is_none_or(|p| p.matches(name.as_bytes())))
            .map(|(name, lib)| {
                let functions = lib
                    .functions
                    .iter()
                    .map(|(fname, info)| {
                        Value::Map(vec![
                            (bulk("name"), bulk(fname)),
                            (
                                bulk("description"),
                                info.description.clone().map_or(Value::Nil, Value::Bulk),
                            ),
                            (
                                bulk("flags"),
                                Value::Set(
                                    flag_names(info.flags)
                                        .into_iter()
                                        .map(|n| Value::Status(n.as_bytes().to_vec()))
                                        .collect(),
                                ),
                            ),
                        ])
                    })
                    .collect();
                let mut fields = vec![
                    (bulk("library_name"), bulk(name)),
                    (bulk("engine"), bulk("LUA")),
                    (bulk("functions"), Value::Array(functions)),
                ];
                if with_code {
                    fields.push((bulk("library_code"), Value::Bulk(lib.code.clone())));
                }
                Value::Map(fields)
            })
            .collect();
        Value::Array(libs)
    }

    /// FUNCTION STATS: the running function, if any (the longest-running, if several run),
    /// and the engine's counts.
    pub fn function_stats(&self) -> Value {
        let running = match self.longest_function(|r| (r.name.clone(), r.command.clone())) {
            Some((started, (name, command))) => Value::Map(vec![
                (bulk("name"), bulk(&name)),
                (
                    bulk("command"),
                    Value::Array(command.into_iter().map(Value::Bulk).collect()),
                ),
                (bulk("duration_ms"), Value::Int(since(started) as i64)),
            ]),
            None => Value::Nil,
        };
        let (libraries, functions) = {
            let catalog = self.libraries.read();
            let functions: usize = catalog.libraries.values().map(|l| l.functions.len()).sum();
            (catalog.libraries.len(), functions)
        };
        Value::Map(vec![
            (bulk("running_script"), running),
            (
                bulk("engines"),
                Value::Map(vec![(
                    bulk("LUA"),
                    Value::Map(vec![
                        (bulk("libraries_count"), Value::Int(libraries as i64)),
                        (bulk("functions_count"), Value::Int(functions as i64)),
                    ]),
                )]),
            ),
        ])
    }

    /// `what` of the function that has run longest, and when it started, if a function runs.
    fn longest_function<R>(&self, what: impl Fn(&Running) -> R) -> Option<(u64, R)> {
        let mut longest: Option<(u64, R)> = None;
        for slot in self.functions.slots() {
            let started = slot.run.watched.started.load(Ordering::Acquire);
            if started == 0 || longest.as_ref().is_some_and(|(t, _)| *t <= started) {
                continue;
            }
            let r = slot.run.function.lock();
            if r.active {
                longest = Some((started, what(&r)));
            }
        }
        longest
    }

    /// The name of the running function, if a function (not an EVAL script) is what has run
    /// longest: what a BUSY reply is about (with one script at a time, simply the running
    /// function).
    pub fn running_function(&self) -> Option<String> {
        let (started, name) = self.longest_function(|r| r.name.clone())?;
        match self.scripts.oldest() {
            Some(script) if script < started => None,
            _ => Some(name),
        }
    }

    /// The flags of function `name`, if it exists.
    pub fn function_flags(&self, name: &[u8]) -> Option<ScriptFlags> {
        let catalog = self.libraries.read();
        let name = String::from_utf8_lossy(name);
        let lib = catalog.index.get(name.as_ref())?;
        Some(catalog.libraries[lib].functions[name.as_ref()].flags)
    }

    /// FCALL and FCALL_RO (`read_only`): runs function `name` with `keys` and `args`.
    pub fn fcall(
        &self,
        name: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        read_only: bool,
        host: &mut dyn Host,
    ) -> Value {
        let (slot, mut f) = self.functions.pick();
        if let Err(e) = self.sync_functions(&mut f) {
            return e;
        }
        // Function names are letters, digits and underscores: other bytes name none.
        let Some((fname, registered)) = std::str::from_utf8(name)
            .ok()
            .and_then(|n| f.functions.get_key_value(n))
        else {
            return Value::error("ERR Function not found");
        };
        let flags = registered.info.flags;
        if read_only && !flags.no_writes {
            return Value::error(
                "ERR Can not execute a script with write flag using *_ro command.",
            );
        }
        let call = Call {
            resp3: false,
            read_only: flags.no_writes,
        };
        let function = registered.function.clone();
        // The command as FUNCTION STATS shows it.
        let verb: &[u8] = if read_only { b"fcall_ro" } else { b"fcall" };
        let mut digits = [0u8; kvnum::I64_LEN];
        let numkeys = kvnum::format_u64(keys.len() as u64, &mut digits);
        let words = [verb, name, numkeys];
        let command = words.iter().chain(keys).chain(args).copied();
        let len = words.len() + keys.len() + args.len();
        slot.run.function.lock().set(fname, len, command);
        let reply = self.execute(&slot.run, &f.vm, call, host, fname.as_bytes(), |vm| {
            invoke(vm, Entry::Function, &function, keys, args)
        });
        slot.run.function.lock().active = false;
        reply
    }

    /// Brings a functions interpreter to the current libraries: if a change was published
    /// since it last looked, it runs every library's code again (the old functions become
    /// garbage). The code ran in the loader already, so it registers the same functions;
    /// it runs without the load timeout, as the code cannot reach a clock or anything that
    /// varies, so it takes as long as it took there.
    ///
    /// # Errors
    /// The error reply of a library that failed (out of the interpreter's memory); the
    /// interpreter then tries again on the next FCALL.
    fn sync_functions(&self, f: &mut Functions) -> Result<(), Value> {
        if f.vm.generation == self.libraries.generation.load(Ordering::Acquire) {
            return Ok(());
        }
        let catalog = Arc::clone(&self.libraries.read());
        f.functions.clear();
        let _ = f.vm.lua.gc_collect();
        for library in catalog.libraries.values() {
            let (_, body) = metadata(&library.code)?;
            f.functions.extend(load_code(&f.vm, body, None)?);
        }
        f.vm.generation = catalog.generation;
        Ok(())
    }
}

/// How long a library's code may run while it registers its functions (Redis's
/// `LOAD_TIMEOUT_MS`): past it the load fails, so a library that never returns cannot hold
/// the loader (every change to the libraries), and the order gate, forever.
pub(super) const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Compiles and runs a library's code in `vm`, collecting what it registers; `timeout`
/// bounds how long the code may run. The interpreter's kill hook goes back in place
/// afterwards.
pub(super) fn load_code(
    vm: &Vm,
    body: &[u8],
    timeout: Option<std::time::Duration>,
) -> Result<Vec<(String, Registered)>, Value> {
    let lua = &vm.lua;
    let fail = |e: mlua::Error| Value::Error(format!("ERR {e}").into_bytes());
    let compiled: MultiValue = vm
        .compile
        .call((lua.create_string(body).map_err(fail)?, "@user_function"))
        .map_err(fail)?;
    let mut compiled = compiled.into_iter();
    let chunk = match (compiled.next(), compiled.next()) {
        (Some(Lua_::Function(chunk)), _) => chunk,
        (_, Some(Lua_::String(msg))) => {
            return Err(Value::Error(
                [&b"ERR Error compiling function: "[..], &msg.as_bytes()].concat(),
            ));
        }
        _ => return Err(Value::error("ERR Error compiling function")),
    };
    lua.set_app_data(LoadCtx {
        registered: Vec::new(),
    });
    let load = vm
        .load
        .as_ref()
        .expect("a functions interpreter has engine.load");
    if let Some(timeout) = timeout {
        let started = std::time::Instant::now();
        lua.set_hook(
            mlua::HookTriggers::new().every_nth_instruction(100_000),
            move |_, _| {
                // Raised once: a library cannot catch it (its load-time globals have no
                // `pcall`), and the prelude's code after the library's must run on.
                if started.elapsed() > timeout {
                    return Err(raise(b"FUNCTION LOAD timeout"));
                }
                Ok(mlua::VmState::Continue)
            },
        )
        .map_err(fail)?;
    }
    let outcome: mlua::Result<(bool, Lua_)> = load.call(chunk);
    set_kill_hook(lua, &vm.watched);
    let ctx = lua.remove_app_data::<LoadCtx>();
    match outcome {
        Ok((true, _)) => Ok(ctx.map(|c| c.registered).unwrap_or_default()),
        Ok((false, e)) => {
            let msg = match e {
                Lua_::Table(t) => match t.raw_get::<Lua_>("err") {
                    Ok(Lua_::String(s)) => s.as_bytes().to_vec(),
                    _ => b"ERR unknown error".to_vec(),
                },
                Lua_::String(s) => err_text(&s.as_bytes()),
                other => err_text(format!("{other:?}").as_bytes()),
            };
            Err(Value::Error(
                [&b"ERR Error registering functions: "[..], &msg].concat(),
            ))
        }
        Err(e) => Err(fail(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::script::{EngineOptions, KillOutcome};

    /// A host whose commands fail, except `set` (which writes) and `get` (nil until `stop`).
    struct Plain<'a> {
        stop: &'a AtomicBool,
    }

    impl Host for Plain<'_> {
        fn call(&mut self, args: &[&[u8]], _call: &Call) -> (Value, bool) {
            match args[0] {
                b"set" => (Value::Status(b"OK".to_vec()), true),
                b"get" if self.stop.load(Ordering::SeqCst) => (bulk("1"), false),
                b"get" => (Value::Nil, false),
                _ => (Value::error("ERR unknown command"), false),
            }
        }

        fn log(&mut self, _level: u8, _message: &[u8]) {}
    }

    fn engine(interpreters: usize) -> Engine {
        Engine::new(EngineOptions {
            interpreters,
            ..EngineOptions::default()
        })
    }

    /// FCALL of `name` in functions interpreter `slot`.
    fn fcall_in(engine: &Engine, slot: usize, name: &str) -> Value {
        let _reserved = engine.functions.reserve_at(slot);
        let stop = AtomicBool::new(true);
        engine.fcall(name.as_bytes(), &[], &[], false, &mut Plain { stop: &stop })
    }

    /// What FCALL of `name` answers in each of the `n` interpreters.
    fn everywhere(engine: &Engine, n: usize, name: &str) -> Vec<Value> {
        (0..n).map(|slot| fcall_in(engine, slot, name)).collect()
    }

    fn load(engine: &Engine, code: &str, policy: Policy) -> Result<String, Value> {
        engine.function_load(code.as_bytes(), policy, |_, _| Ok(()))
    }

    const LIB: &str = "#!lua name=lib\nredis.register_function('f', function() return 'v1' end)";

    #[test]
    fn libraries_change_in_every_functions_interpreter() {
        let engine = engine(3);
        let not_found = Value::error("ERR Function not found");
        assert_eq!(everywhere(&engine, 4, "f"), vec![not_found.clone(); 4]);
        assert_eq!(load(&engine, LIB, Policy::Append), Ok("lib".into()));
        assert_eq!(everywhere(&engine, 4, "f"), vec![bulk("v1"); 4]);
        // Interpreter 2 is busy during the change: it reloads when it is next used.
        let busy = engine.functions.slots()[2].vm.lock();
        let v2 = "#!lua name=lib\nredis.register_function{function_name = 'g', \
                  callback = function() return 'v2' end, flags = {'no-writes'}}";
        assert_eq!(load(&engine, v2, Policy::Replace), Ok("lib".into()));
        drop(busy);
        assert_eq!(everywhere(&engine, 4, "g"), vec![bulk("v2"); 4]);
        assert_eq!(everywhere(&engine, 4, "f"), vec![not_found.clone(); 4]);
        assert_eq!(engine.function_flags(b"g").map(|f| f.no_writes), Some(true));
        // A failed load changes nothing anywhere.
        assert!(load(&engine, LIB, Policy::Append).is_err());
        assert_eq!(everywhere(&engine, 4, "g"), vec![bulk("v2"); 4]);

        assert_eq!(engine.function_delete(b"lib", || Ok(())), Ok(()));
        assert_eq!(everywhere(&engine, 4, "g"), vec![not_found.clone(); 4]);
        assert_eq!(engine.function_flags(b"g"), None);

        assert_eq!(load(&engine, LIB, Policy::Append), Ok("lib".into()));
        assert_eq!(everywhere(&engine, 4, "f"), vec![bulk("v1"); 4]);
        let dump = engine.function_dump();
        assert_eq!(engine.function_flush(|| Ok(())), Ok(()));
        assert_eq!(everywhere(&engine, 4, "f"), vec![not_found; 4]);
        assert!(engine.function_libraries().is_empty());

        assert_eq!(
            engine.function_restore(&dump, Policy::Append, |_, _| Ok(())),
            Ok(())
        );
        assert_eq!(everywhere(&engine, 4, "f"), vec![bulk("v1"); 4]);
    }

    #[test]
    fn function_kill_stops_the_functions_that_did_not_write() {
        let engine = engine(2);
        let code = "#!lua name=loops\n\
            redis.register_function('spin', function() \
              while not redis.call('get', 'stop') do for i = 1, 1000 do end end end)\n\
            redis.register_function('wait', function() \
              redis.call('set', 'k', 'v') \
              while not redis.call('get', 'stop') do end return 'done' end)";
        assert_eq!(load(&engine, code, Policy::Append), Ok("loops".into()));
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let _stop = crate::script::engine::pool_tests::StopOnDrop(&stop);
            let writer = s.spawn(|| {
                let _reserved = engine.functions.reserve_at(0);
                engine.fcall(b"wait", &[], &[], false, &mut Plain { stop: &stop })
            });
            let spinner = s.spawn(|| {
                let _reserved = engine.functions.reserve_at(1);
                engine.fcall(b"spin", &[], &[], false, &mut Plain { stop: &stop })
            });
            let deadline = Instant::now() + Duration::from_secs(10);
            // Both run, and the writer has written (its `get` calls follow its `set`).
            while engine.running() < 2
                || !engine.functions.slots()[0].run.wrote.load(Ordering::SeqCst)
            {
                assert!(Instant::now() < deadline, "the functions did not start");
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(engine.running_function().is_some());
            assert!(matches!(
                engine.function_stats(),
                Value::Map(fields) if matches!(&fields[0].1, Value::Map(_))
            ));
            assert_eq!(engine.kill(), KillOutcome::NotBusy);
            assert_eq!(engine.kill_function(), KillOutcome::Killed);
            let killed = spinner.join().unwrap();
            assert!(
                matches!(&killed, Value::Error(e) if e.starts_with(b"ERR Script killed by user")),
                "{killed:?}"
            );
            assert_eq!(engine.running_function(), Some("wait".into()));
            assert_eq!(engine.kill_function(), KillOutcome::Unkillable);
            stop.store(true, Ordering::SeqCst);
            assert_eq!(writer.join().unwrap(), bulk("done"));
        });
        assert_eq!(engine.running_function(), None);
        assert_eq!(engine.kill_function(), KillOutcome::NotBusy);
    }
}
