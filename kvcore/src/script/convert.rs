//! Conversions between Lua values and [`Value`]s, by Redis's rules (`redisProtocolToLuaType`
//! and `luaReplyToRedisReply` in Redis's `script_lua.c`).
//!
//! A command's reply reaches the script as: an integer → a number; a bulk string → a string;
//! no value → `false` (RESP2) or `nil` (RESP3); a status → `{ok = text}`; an error →
//! `{err = text}`; an array → a table; a RESP3 map → `{map = {k = v}}`, a set →
//! `{set = {member = true}}`, a double → `{double = n}`, a boolean → `true`/`false`, a big
//! number → `{big_number = digits}`, a verbatim string → `{verbatim_string = {format = f,
//! string = s}}`.
//!
//! A script's result goes back as: a number → an integer (truncated); a string → a bulk
//! string; `true` → 1 (RESP2) or true; `false`/`nil` → no value (RESP2) or false/null; a table
//! with `err` → an error, `ok` → a status, `double`, `big_number`, `verbatim_string`, `map`,
//! `set` → those RESP3 types; any other table → an array of its elements 1, 2, ... up to the
//! first `nil`.

use mlua::{Function, Table, Value as Lua_, ffi};

use super::value::Value;

/// Pushes `v` as the Lua value a script gets from `redis.call`. It holds nothing that needs
/// dropping, so a Lua error (out of memory) may `longjmp` out of it.
///
/// # Safety
/// `state` is a live Lua state inside a protected call.
pub(super) unsafe fn push(state: *mut ffi::lua_State, v: &Value, resp3: bool) {
    // SAFETY: the caller's promise; each level needs at most four slots.
    unsafe {
        ffi::lua_checkstack(state, 4);
        match v {
            Value::Int(n) => ffi::lua_pushnumber(state, *n as f64),
            Value::Bulk(b) => push_bytes(state, b),
            Value::Nil if resp3 => ffi::lua_pushnil(state),
            Value::Nil => ffi::lua_pushboolean(state, 0),
            Value::Bool(b) => ffi::lua_pushboolean(state, i32::from(*b)),
            Value::Status(s) => single(state, c"ok", |st| push_bytes(st, s)),
            Value::Error(e) => single(state, c"err", |st| push_bytes(st, e)),
            Value::Double(d) => single(state, c"double", |st| ffi::lua_pushnumber(st, *d)),
            Value::BigNumber(n) => single(state, c"big_number", |st| push_bytes(st, n)),
            Value::Verbatim(format, text) => single(state, c"verbatim_string", |st| {
                ffi::lua_createtable(st, 0, 2);
                push_bytes(st, format);
                ffi::lua_setfield(st, -2, c"format".as_ptr());
                push_bytes(st, text);
                ffi::lua_setfield(st, -2, c"string".as_ptr());
            }),
            Value::Array(items) => {
                ffi::lua_createtable(state, i32::try_from(items.len()).unwrap_or(0), 0);
                for (i, item) in items.iter().enumerate() {
                    push(state, item, resp3);
                    ffi::lua_rawseti(state, -2, (i + 1) as ffi::lua_Integer);
                }
            }
            Value::Map(pairs) => single(state, c"map", |st| {
                ffi::lua_createtable(st, 0, i32::try_from(pairs.len()).unwrap_or(0));
                for (k, v) in pairs {
                    push(st, k, resp3);
                    push(st, v, resp3);
                    ffi::lua_rawset(st, -3);
                }
            }),
            Value::Set(items) => single(state, c"set", |st| {
                ffi::lua_createtable(st, 0, i32::try_from(items.len()).unwrap_or(0));
                for item in items {
                    push(st, item, resp3);
                    ffi::lua_pushboolean(st, 1);
                    ffi::lua_rawset(st, -3);
                }
            }),
        }
    }
}

/// Pushes a Lua string of `b`.
///
/// # Safety
/// As for [`push`].
pub(super) unsafe fn push_bytes(state: *mut ffi::lua_State, b: &[u8]) {
    // SAFETY: the caller's promise; Lua copies the bytes.
    unsafe {
        ffi::lua_pushlstring(state, b.as_ptr().cast(), b.len());
    }
}

/// Pushes `{field = <what inner pushes>}`.
///
/// # Safety
/// As for [`push`].
unsafe fn single(
    state: *mut ffi::lua_State,
    field: &std::ffi::CStr,
    inner: impl FnOnce(*mut ffi::lua_State),
) {
    // SAFETY: the caller's promise.
    unsafe {
        ffi::lua_createtable(state, 0, 1);
        inner(state);
        ffi::lua_setfield(state, -2, field.as_ptr());
    }
}

/// What a script returned: a string, read off the stack (the usual result, and the one whose
/// handle would cost an allocation to read), or any other value.
pub(crate) enum Returned {
    Bytes(Vec<u8>),
    Other(Lua_),
}

/// How [`invoke`] hands a script or function its keys and arguments.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A script (EVAL): as the globals KEYS and ARGV, set in the real global table.
    Script,
    /// A function (FCALL): as its two arguments.
    Function,
}

/// What [`trampoline`] reads through a light userdata.
struct Arrays<'a> {
    entry: Entry,
    keys: &'a [&'a [u8]],
    argv: &'a [&'a [u8]],
}

/// Calls `f` with its keys and arguments (as `entry` says) under the prelude's error handler:
/// whether `f` succeeded, and its result or the handler's error table.
///
/// One protected call of the interpreter's [`trampoline`] (`vm.invoke`, created once) builds
/// the two arrays and calls `f` in a protected call of its own, with the handler: what Lua's
/// `xpcall` does, without the Lua frames a prelude function calling `xpcall` would add (a
/// sixth of a two-command function's interpreter work). mlua's own protected call
/// (`Lua::exec_raw`) creates two C closures per call, a tenth of a short script's work with
/// their collection; and mlua protects each table or string it creates on its own once a
/// memory limit is set. `Lua::exec_raw_lua` and `RawLua` are mlua's hidden (`#[doc(hidden)]`)
/// API, which a minor release may change: an mlua upgrade rechecks this function (the script
/// tests cover it).
pub(crate) fn invoke(
    vm: &super::vm::Vm,
    entry: Entry,
    f: &Function,
    keys: &[&[u8]],
    argv: &[&[u8]],
) -> mlua::Result<(bool, Returned)> {
    let arrays = Arrays { entry, keys, argv };
    vm.lua.exec_raw_lua(|raw| {
        // SAFETY: the state is this interpreter's, locked by mlua for the closure and by the
        // pool for the script; what is pushed is checked for room first, and the stack is
        // put back as it was before returning. `arrays` outlives the call that reads it.
        unsafe {
            let state = raw.state();
            let base = ffi::lua_gettop(state);
            if ffi::lua_checkstack(state, 6) == 0 {
                return Err(mlua::Error::StackError);
            }
            // Handles of this interpreter: pushing them cannot fail.
            let pushed = raw
                .push(&vm.invoke)
                .and_then(|()| raw.push(&vm.handler))
                .and_then(|()| raw.push(f))
                .and_then(|()| raw.push(&vm.real_globals));
            if let Err(e) = pushed {
                ffi::lua_settop(state, base);
                return Err(e);
            }
            ffi::lua_pushlightuserdata(state, std::ptr::from_ref(&arrays).cast_mut().cast());
            let status = ffi::lua_pcall(state, 4, 2, 0);
            if status != ffi::LUA_OK {
                // Only out of memory, a stack overflow or a kill before the script started
                // reach here: the handler catches the script's own errors. The message is read
                // only if it is a string (converting anything else could allocate, outside
                // any protected call).
                let msg = if ffi::lua_type(state, -1) == ffi::LUA_TSTRING {
                    let mut len = 0;
                    let p = ffi::lua_tolstring(state, -1, &mut len);
                    String::from_utf8_lossy(std::slice::from_raw_parts(p.cast(), len)).into_owned()
                } else {
                    "unknown error".to_string()
                };
                ffi::lua_settop(state, base);
                return Err(if status == ffi::LUA_ERRMEM {
                    mlua::Error::MemoryError(msg)
                } else {
                    mlua::Error::RuntimeError(msg)
                });
            }
            let ok = ffi::lua_toboolean(state, -2) != 0;
            let returned = if ok && ffi::lua_type(state, -1) == ffi::LUA_TSTRING {
                let mut len = 0;
                let p = ffi::lua_tolstring(state, -1, &mut len);
                Returned::Bytes(std::slice::from_raw_parts(p.cast::<u8>(), len).to_vec())
            } else {
                Returned::Other(raw.pop_value())
            };
            ffi::lua_settop(state, base);
            Ok((ok, returned))
        }
    })
}

/// The C function [`invoke`] calls in protected mode with the error handler, `f`, the real
/// global table and the [`Arrays`]: builds KEYS and ARGV and calls `f` in a protected call with
/// the handler, as Lua's `xpcall` does, for two results: whether `f` succeeded, and its first
/// result or the error (the handler's table; Lua's message when out of memory, which skips
/// the handler). No Lua code of the prelude runs after `f` returns or fails: after SCRIPT KILL
/// the kill hook raises on every line. It holds nothing that needs dropping, so a Lua error
/// (out of memory) may `longjmp` out of it.
///
/// # Safety
/// Called by Lua only, from [`invoke`], with a live `Arrays` at 4, as the closure `new_vm` made
/// (its upvalues the strings "KEYS" and "ARGV").
pub(super) unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> std::ffi::c_int {
    const HANDLER: std::ffi::c_int = 1;
    const F: std::ffi::c_int = 2;
    const GLOBALS: std::ffi::c_int = 3;
    // SAFETY: the caller's promise.
    unsafe {
        let arrays = ffi::lua_touserdata(state, 4).cast::<Arrays<'_>>();
        debug_assert!(!arrays.is_null(), "the trampoline is called by invoke only");
        let arrays = &*arrays;
        ffi::lua_settop(state, GLOBALS);
        ffi::lua_checkstack(state, 6);
        ffi::lua_pushvalue(state, F);
        // Upvalues 1 and 2 are the strings "KEYS" and "ARGV" (see `vm::new_vm`).
        for (items, name) in [(arrays.keys, 1), (arrays.argv, 2)] {
            ffi::lua_createtable(state, i32::try_from(items.len()).unwrap_or(0), 0);
            for (i, item) in items.iter().enumerate() {
                push_bytes(state, item);
                ffi::lua_rawseti(state, -2, (i + 1) as ffi::lua_Integer);
            }
            if arrays.entry == Entry::Script {
                // GLOBALS[name] = the array (rawset: the table has no metamethods of note).
                ffi::lua_pushvalue(state, ffi::lua_upvalueindex(name));
                ffi::lua_insert(state, -2);
                ffi::lua_rawset(state, GLOBALS);
            }
        }
        let nargs = if arrays.entry == Entry::Script { 0 } else { 2 };
        let status = ffi::lua_pcall(state, nargs, 1, HANDLER);
        // [handler, f, globals, result or error] -> [.., ok, result or error]
        ffi::lua_pushboolean(state, std::ffi::c_int::from(status == ffi::LUA_OK));
        ffi::lua_insert(state, -2);
        2
    }
}

/// A script's result as a reply. `resp3`: the script's protocol (`redis.setresp`), which
/// decides what a boolean becomes.
pub(crate) fn from_lua(v: &Lua_, resp3: bool) -> Value {
    match v {
        Lua_::String(s) => Value::Bulk(s.as_bytes().to_vec()),
        Lua_::Boolean(true) if !resp3 => Value::Int(1),
        Lua_::Boolean(false) if !resp3 => Value::Nil,
        Lua_::Boolean(b) => Value::Bool(*b),
        Lua_::Number(n) => Value::Int(truncate(*n)),
        Lua_::Integer(n) => Value::Int(*n),
        Lua_::Table(t) => table_reply(t, resp3),
        _ => Value::Nil,
    }
}

/// C's `(long long)` cast of a double on x86-64, which Redis's reply conversion uses: toward
/// zero, and the minimum for NaN and values out of range.
fn truncate(n: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

fn field(t: &Table, name: &str) -> Lua_ {
    t.raw_get(name).unwrap_or(Lua_::Nil)
}

fn table_reply(t: &Table, resp3: bool) -> Value {
    if let Lua_::String(e) = field(t, "err") {
        return Value::Error(e.as_bytes().to_vec());
    }
    if let Lua_::String(s) = field(t, "ok") {
        return Value::Status(no_newlines(&s.as_bytes()));
    }
    if let Lua_::Number(d) = field(t, "double") {
        return Value::Double(d);
    }
    if let Lua_::String(n) = field(t, "big_number") {
        return Value::BigNumber(no_newlines(&n.as_bytes()));
    }
    if let Lua_::Table(v) = field(t, "verbatim_string")
        && let (Lua_::String(f), Lua_::String(s)) = (field(&v, "format"), field(&v, "string"))
    {
        return Value::Verbatim(f.as_bytes().to_vec(), s.as_bytes().to_vec());
    }
    if let Lua_::Table(m) = field(t, "map") {
        let pairs = m
            .pairs::<Lua_, Lua_>()
            .filter_map(Result::ok)
            .map(|(k, v)| (from_lua(&k, resp3), from_lua(&v, resp3)))
            .collect();
        return Value::Map(pairs);
    }
    if let Lua_::Table(s) = field(t, "set") {
        let items = s
            .pairs::<Lua_, Lua_>()
            .filter_map(Result::ok)
            .map(|(k, _)| from_lua(&k, resp3))
            .collect();
        return Value::Set(items);
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Lua_>(i) {
            Ok(Lua_::Nil) | Err(_) => break,
            Ok(v) => items.push(from_lua(&v, resp3)),
        }
    }
    Value::Array(items)
}

/// A status or big number's text with CR and LF turned into spaces, as Redis does.
fn no_newlines(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_truncate_as_c_does() {
        for (n, want) in [
            (3.99, 3),
            (-3.99, -3),
            (1e20, i64::MIN),
            (-1e20, i64::MIN),
            (f64::NAN, i64::MIN),
            (9.2e18, 9_200_000_000_000_000_000),
        ] {
            assert_eq!(truncate(n), want, "{n}");
        }
    }
}
