//! Redis 7 functions: libraries loaded with FUNCTION LOAD, whose code registers functions
//! with `redis.register_function`, called with FCALL. They live in an interpreter of their
//! own, as in Redis, so SCRIPT FLUSH and FUNCTION FLUSH do not touch each other.

use std::collections::BTreeMap;

use mlua::{Function, Lua, MultiValue, Table, Value as Lua_};

use super::engine::{Call, Engine, Host, ScriptFlags, Vm, err_text, invoke, raise, set_kill_hook};
use super::value::Value;

/// A registered function.
pub(super) struct Registered {
    function: Function,
    flags: ScriptFlags,
    description: Option<Vec<u8>>,
}

/// A loaded library: its code and the functions it registered, by name.
pub(super) struct Library {
    pub(super) code: Vec<u8>,
    pub(super) functions: BTreeMap<String, Registered>,
}

/// The libraries and their interpreter.
pub(crate) struct Functions {
    pub(super) vm: Vm,
    pub(super) libraries: BTreeMap<String, Library>,
    /// Function name → its library.
    pub(super) index: BTreeMap<String, String>,
}

/// The running function and the command that called it, for FUNCTION STATS. Its buffers are
/// reused from one FCALL to the next, so a call allocates nothing for it.
#[derive(Default)]
pub(crate) struct Running {
    active: bool,
    name: String,
    command: Vec<Vec<u8>>,
}

impl Running {
    fn set(&mut self, name: &str, command: &[&[u8]]) {
        self.active = true;
        self.name.clear();
        self.name.push_str(name);
        self.command.resize_with(command.len(), Vec::new);
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
            libraries: BTreeMap::new(),
            index: BTreeMap::new(),
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
                    super::engine::to_text(&args[0]).unwrap_or_default()
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
            flags,
            description,
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
        let mut f = self.functions.lock();
        if f.libraries.contains_key(&name) && policy == Policy::Append {
            return Err(Value::Error(
                format!("ERR Library '{name}' already exists").into_bytes(),
            ));
        }
        let registered = load_code(&f.vm, body, &self.kill)?;
        if registered.is_empty() {
            return Err(Value::error("ERR No functions registered"));
        }
        for (fname, _) in &registered {
            if let Some(owner) = f.index.get(fname)
                && *owner != name
            {
                return Err(Value::Error(
                    format!("ERR Function {fname} already exists").into_bytes(),
                ));
            }
        }
        persist(&name, code)?;
        remove_library(&mut f, &name);
        for (fname, _) in &registered {
            f.index.insert(fname.clone(), name.clone());
        }
        f.libraries.insert(
            name.clone(),
            Library {
                code: code.to_vec(),
                functions: registered.into_iter().collect(),
            },
        );
        self.publish_counts(&f);
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
        let mut f = self.functions.lock();
        if !f.libraries.contains_key(name.as_ref()) {
            return Err(Value::error("ERR Library not found"));
        }
        persist()?;
        remove_library(&mut f, &name);
        self.publish_counts(&f);
        Ok(())
    }

    /// FUNCTION FLUSH: `persist` (`Kv::flush_function_libraries`) first, then every library.
    ///
    /// # Errors
    /// `persist`'s.
    pub fn function_flush(&self, persist: impl FnOnce() -> Result<(), Value>) -> Result<(), Value> {
        let mut f = self.functions.lock();
        persist()?;
        f.libraries.clear();
        self.publish_counts(&f);
        f.index.clear();
        let _ = f.vm.lua.gc_collect();
        Ok(())
    }

    /// Every library's name and code, in name order (what persistence keeps).
    pub fn function_libraries(&self) -> Vec<(String, Vec<u8>)> {
        let f = self.functions.lock();
        f.libraries
            .iter()
            .map(|(n, l)| (n.clone(), l.code.clone()))
            .collect()
    }

    /// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE], as Redis replies (maps, which a RESP2
    /// client gets as flat arrays).
    pub fn function_list(&self, pattern: Option<&crate::Pattern>, with_code: bool) -> Value {
        let f = self.functions.lock();
        let libs = f
            .libraries
            .iter()
            .filter(|(name, _)| pattern.is_none_or(|p| p.matches(name.as_bytes())))
            .map(|(name, lib)| {
                let functions = lib
                    .functions
                    .iter()
                    .map(|(fname, r)| {
                        Value::Map(vec![
                            (bulk("name"), bulk(fname)),
                            (
                                bulk("description"),
                                r.description.clone().map_or(Value::Nil, Value::Bulk),
                            ),
                            (
                                bulk("flags"),
                                Value::Set(
                                    flag_names(r.flags)
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

    /// FUNCTION STATS: the running function, if any, and the engine's counts.
    pub fn function_stats(&self) -> Value {
        let current = {
            let r = self.running_function.lock();
            r.active.then(|| (r.name.clone(), r.command.clone()))
        };
        let running = match (current, self.running_for()) {
            (Some((name, command)), Some(ms)) => Value::Map(vec![
                (bulk("name"), bulk(&name)),
                (
                    bulk("command"),
                    Value::Array(command.into_iter().map(Value::Bulk).collect()),
                ),
                (bulk("duration_ms"), Value::Int(ms as i64)),
            ]),
            _ => Value::Nil,
        };
        // Not from `functions`, which a running FCALL holds: STATS answers while one runs.
        let (libraries, functions) = *self.function_counts.lock();
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

    /// Records how many libraries and functions there are, for FUNCTION STATS.
    pub(super) fn publish_counts(&self, f: &Functions) {
        let functions = f.libraries.values().map(|l| l.functions.len()).sum();
        *self.function_counts.lock() = (f.libraries.len(), functions);
    }

    /// The name of the running function, if a function (not an EVAL script) runs.
    pub fn running_function(&self) -> Option<String> {
        let r = self.running_function.lock();
        r.active.then(|| r.name.clone())
    }

    /// The flags of function `name`, if it exists.
    pub fn function_flags(&self, name: &[u8]) -> Option<ScriptFlags> {
        let f = self.functions.lock();
        let name = String::from_utf8_lossy(name);
        let lib = f.index.get(name.as_ref())?;
        Some(f.libraries[lib].functions[name.as_ref()].flags)
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
        let f = self.functions.lock();
        // Function names are letters, digits and underscores: other bytes name none.
        let Some((fname, lib)) = std::str::from_utf8(name)
            .ok()
            .and_then(|n| f.index.get_key_value(n))
        else {
            return Value::error("ERR Function not found");
        };
        let registered = &f.libraries[lib].functions[fname];
        if read_only && !registered.flags.no_writes {
            return Value::error(
                "ERR Can not execute a script with write flag using *_ro command.",
            );
        }
        let call = Call {
            resp3: false,
            read_only: registered.flags.no_writes,
        };
        let function = registered.function.clone();
        // The command as FUNCTION STATS shows it.
        let verb: &[u8] = if read_only { b"fcall_ro" } else { b"fcall" };
        let mut digits = [0u8; kvnum::I64_LEN];
        let numkeys = kvnum::format_u64(keys.len() as u64, &mut digits);
        let command: Vec<&[u8]> = [verb, name, numkeys]
            .into_iter()
            .chain(keys.iter().copied())
            .chain(args.iter().copied())
            .collect();
        self.running_function.lock().set(fname, &command);
        drop(command);
        let reply = self.execute(&f.vm, call, host, fname.as_bytes(), |vm| {
            let run = vm
                .call
                .as_ref()
                .expect("a functions interpreter has engine.call");
            invoke(&vm.lua, run, &function, keys, args)
        });
        self.running_function.lock().active = false;
        reply
    }
}

/// How long a library's code may run while it registers its functions (Redis's
/// `LOAD_TIMEOUT_MS`): past it the load fails, so a library that never returns cannot hold
/// the functions interpreter, and the order gate, forever.
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Compiles and runs a library's code, collecting what it registers. `kill` is the engine's
/// SCRIPT KILL flag, whose hook goes back in place afterwards.
pub(super) fn load_code(
    vm: &Vm,
    body: &[u8],
    kill: &std::sync::Arc<std::sync::atomic::AtomicBool>,
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
    let started = std::time::Instant::now();
    lua.set_hook(
        mlua::HookTriggers::new().every_nth_instruction(100_000),
        move |_, _| {
            // Raised once: a library cannot catch it (its load-time globals have no
            // `pcall`), and the prelude's code after the library's must run on.
            if started.elapsed() > LOAD_TIMEOUT {
                return Err(raise(b"FUNCTION LOAD timeout"));
            }
            Ok(mlua::VmState::Continue)
        },
    )
    .map_err(fail)?;
    let outcome: mlua::Result<(bool, Lua_)> = load.call(chunk);
    set_kill_hook(lua, kill);
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

pub(super) fn remove_library(f: &mut Functions, name: &str) {
    if let Some(old) = f.libraries.remove(name) {
        for fname in old.functions.keys() {
            f.index.remove(fname);
        }
    }
}
