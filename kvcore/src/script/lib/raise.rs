//! How the bundled libraries take their arguments and raise their errors, the way Lua 5.1's
//! auxiliary library does for Redis's C modules.
//!
//! Scripts match on these errors (`pcall` then `string.find`), so they have to be what Redis
//! raises: a Lua *string*, prefixed with the caller's position (`user_script:1: `) as
//! `luaL_error` does, and `bad argument #N to 'NAME' (...)` as `luaL_argerror` does, where NAME is
//! how the caller spelled the function. mlua raises a Rust callback's error as a userdata, and a
//! Lua wrapper function around the callback would lose the caller's frame to a tail call
//! (`return cjson.decode(s)`, the usual way a script ends). So every library function is a small
//! C function, [`trampoline`], that calls the Rust implementation and raises its error with
//! `luaL_error`/`luaL_argerror` from its own frame: exactly where the C module raised it.

use std::ffi::c_int;

use mlua::{Function, Lua, LuaString, MultiValue, Table, Value, ffi};

/// Lua 5.1's `LUAI_MAXCSTACK`: the most stack slots one C function may hold. The C modules grow
/// their stack with `lua_checkstack` as they go and fail at this bound, so their deepest
/// structures and longest result lists stop at it; the Rust versions count the slots the C code
/// would hold and fail at the same point.
pub(super) const MAX_C_STACK: usize = 8000;

/// Whether a C function holding `held` slots may grow by `more` (`lua_checkstack`).
pub(super) fn stack_ok(held: usize, more: usize) -> bool {
    held + more <= MAX_C_STACK
}

/// The most results an implementation returns directly; more go through a table.
const MANY: usize = 64;

/// A function's results. Past [`MANY`] they move into a Lua table as they come: mlua keeps
/// every value it hands to Rust in one Lua thread's stack, bounded like a C function's, so
/// thousands of strings or tables cannot all be held at once.
pub(super) struct Results {
    inline: Vec<Value>,
    table: Option<Table>,
    len: usize,
}

impl Results {
    pub(super) fn new() -> Self {
        Results {
            inline: Vec::new(),
            table: None,
            len: 0,
        }
    }

    /// One result.
    pub(super) fn one(v: Value) -> Self {
        Results {
            inline: vec![v],
            table: None,
            len: 1,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Appends a result.
    ///
    /// # Errors
    /// Out of memory.
    pub(super) fn push(&mut self, lua: &Lua, v: Value) -> mlua::Result<()> {
        self.len += 1;
        if let Some(t) = &self.table {
            return t.raw_set(self.len, v);
        }
        self.inline.push(v);
        if self.inline.len() > MANY {
            let t = lua.create_table_with_capacity(self.inline.len(), 0)?;
            for (i, v) in self.inline.drain(..).enumerate() {
                t.raw_set(i + 1, v)?;
            }
            self.table = Some(t);
        }
        Ok(())
    }

    /// Replaces result `i` (1-based, already pushed).
    ///
    /// # Errors
    /// Out of memory.
    pub(super) fn set(&mut self, i: usize, v: Value) -> mlua::Result<()> {
        match &self.table {
            Some(t) => t.raw_set(i, v),
            None => {
                self.inline[i - 1] = v;
                Ok(())
            }
        }
    }

    /// The last result.
    ///
    /// # Errors
    /// Out of memory.
    pub(super) fn last(&self) -> mlua::Result<Value> {
        match &self.table {
            Some(t) => t.raw_get(self.len),
            None => Ok(self.inline.last().cloned().unwrap_or(Value::Nil)),
        }
    }

    /// Drops the last result.
    ///
    /// # Errors
    /// Out of memory.
    pub(super) fn pop(&mut self) -> mlua::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        match &self.table {
            Some(t) => t.raw_set(self.len, Value::Nil)?,
            None => {
                self.inline.pop();
            }
        }
        self.len -= 1;
        Ok(())
    }
}

/// An error a library function raises.
pub(super) enum Raise {
    /// `luaL_error(msg)`: the caller's position, then the message.
    Error(Vec<u8>),
    /// `luaL_argerror(narg, msg)`.
    Arg(i32, Vec<u8>),
    /// An error the Lua core raises inside the C function (`lua_settable` with a nil key):
    /// the message alone, as the core adds a position only in Lua functions.
    Plain(Vec<u8>),
    /// An error of mlua's own (out of memory), raised as mlua raises it.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Raise {
    fn from(e: mlua::Error) -> Self {
        Raise::Lua(e)
    }
}

/// What a library function's implementation returns.
pub(super) type Outcome<T> = Result<T, Raise>;

/// `luaL_error`.
pub(super) fn error(msg: impl Into<Vec<u8>>) -> Raise {
    Raise::Error(msg.into())
}

/// `luaL_argerror`.
pub(super) fn arg_error(narg: i32, msg: impl Into<Vec<u8>>) -> Raise {
    Raise::Arg(narg, msg.into())
}

/// A function's arguments as the C function sees its stack: 1-based, with "none" past the end
/// (distinct from an explicit `nil`).
#[derive(Clone)]
pub(super) struct Args(Vec<Value>);

impl Args {
    pub(super) fn new(args: MultiValue) -> Self {
        Args(args.into_vec())
    }

    /// `lua_pushnil`: what some C functions do before reading their arguments, which changes
    /// what a missing one looks like.
    pub(super) fn push_nil(&mut self) {
        self.0.push(Value::Nil);
    }

    /// `lua_gettop`.
    pub(super) fn top(&self) -> usize {
        self.0.len()
    }

    /// The argument at `i` (1-based); `nil` past the end.
    pub(super) fn get(&self, i: usize) -> &Value {
        static NIL: Value = Value::Nil;
        i.checked_sub(1).and_then(|i| self.0.get(i)).unwrap_or(&NIL)
    }

    /// `lua_isnone`.
    pub(super) fn is_none(&self, i: usize) -> bool {
        i == 0 || i > self.0.len()
    }

    /// `lua_isnoneornil`.
    pub(super) fn is_none_or_nil(&self, i: usize) -> bool {
        matches!(self.get(i), Value::Nil)
    }

    /// `luaL_typename`: Lua's name for the type of argument `i`, "no value" past the end.
    pub(super) fn type_name(&self, i: usize) -> &'static str {
        if self.is_none(i) {
            "no value"
        } else {
            type_name(self.get(i))
        }
    }

    /// `luaL_typerror`: "`expected` expected, got `actual`".
    pub(super) fn type_error(&self, i: usize, expected: &str) -> Raise {
        arg_error(
            i as i32,
            format!("{expected} expected, got {}", self.type_name(i)),
        )
    }

    /// `luaL_checknumber`: a number, or a string Lua converts to one.
    pub(super) fn check_number(&self, lua: &Lua, i: usize) -> Outcome<f64> {
        to_number(lua, self.get(i))?.ok_or_else(|| self.type_error(i, "number"))
    }

    /// `luaL_checkinteger`: [`Args::check_number`] cut to an integer as `lua_tointeger` does.
    pub(super) fn check_integer(&self, lua: &Lua, i: usize) -> Outcome<i64> {
        Ok(number_to_integer(self.check_number(lua, i)?))
    }

    /// `luaL_optinteger`: `default` for none or `nil`.
    pub(super) fn opt_integer(&self, lua: &Lua, i: usize, default: i64) -> Outcome<i64> {
        if self.is_none_or_nil(i) {
            Ok(default)
        } else {
            self.check_integer(lua, i)
        }
    }

    /// `luaL_checklstring`: a string, or a number converted to one (`%.14g`).
    pub(super) fn check_string(&self, lua: &Lua, i: usize) -> Outcome<LuaString> {
        match self.get(i) {
            Value::String(s) => Ok(s.clone()),
            v @ (Value::Integer(_) | Value::Number(_)) => lua
                .coerce_string(v.clone())?
                .ok_or_else(|| self.type_error(i, "string")),
            _ => Err(self.type_error(i, "string")),
        }
    }
}

/// `lua_typename(lua_type(v))`: light userdata is "userdata" too.
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// A Lua number as an `f64` (mlua hands integral numbers over as `Integer`).
pub(super) fn number(v: &Value) -> Option<f64> {
    match *v {
        Value::Integer(i) => Some(i as f64),
        Value::Number(n) => Some(n),
        _ => None,
    }
}

/// `lua_tonumber`: a number, or a string Lua converts to one; `None` for anything else.
pub(super) fn to_number(lua: &Lua, v: &Value) -> Outcome<Option<f64>> {
    Ok(match v {
        Value::String(_) => lua.coerce_number(v.clone())?,
        v => number(v),
    })
}

/// `lua_number2integer` on x86-64: C's truncating cast, which gives `i64::MIN` for NaN and for
/// anything out of range (what `cvttsd2si` returns).
pub(super) fn number_to_integer(n: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        n as i64
    } else {
        i64::MIN
    }
}

/// A library function: `imp` behind a [`trampoline`], so that its errors are raised as the C
/// module raised them.
///
/// # Errors
/// Out of memory while creating the function.
pub(super) fn function<F>(lua: &Lua, imp: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, Args) -> Outcome<Results> + Send + 'static,
{
    // The implementation reports to the trampoline through its first result: `true` and the
    // results; or the number of results and a table holding them, when there are too many for
    // mlua to return (its own C frame is bounded like any other, and Redis's functions may return
    // up to nearly `MAX_C_STACK` values); or `false`, the message and, for an argument error, the
    // argument's number, or `false` to raise the message as it is.
    let inner = lua.create_function(move |lua, args: MultiValue| {
        let mut out = Vec::new();
        match imp(lua, Args::new(args)) {
            Ok(Results {
                table: Some(t),
                len,
                ..
            }) => {
                out.push(Value::Integer(len as i64));
                out.push(Value::Table(t));
            }
            Ok(Results { inline, .. }) => {
                out.reserve(inline.len() + 1);
                out.push(Value::Boolean(true));
                out.extend(inline);
            }
            Err(Raise::Lua(e)) => return Err(e),
            Err(Raise::Error(msg)) => {
                out.push(Value::Boolean(false));
                out.push(Value::String(lua.create_string(msg)?));
            }
            Err(Raise::Arg(narg, msg)) => {
                out.push(Value::Boolean(false));
                out.push(Value::String(lua.create_string(msg)?));
                out.push(Value::Integer(narg.into()));
            }
            Err(Raise::Plain(msg)) => {
                out.push(Value::Boolean(false));
                out.push(Value::String(lua.create_string(msg)?));
                out.push(Value::Boolean(false));
            }
        }
        Ok(MultiValue::from_vec(out))
    })?;
    // SAFETY: `make_closure` follows the Lua C API contract: called with one argument (checked
    // by Lua's API use below: `call` passes exactly `inner`), it pushes one closure over it.
    let make = unsafe { lua.create_c_function(make_closure)? };
    make.call(inner)
}

/// Turns its argument (the implementation) into a [`trampoline`] closure with it as upvalue 1.
unsafe extern "C-unwind" fn make_closure(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua with its argument at the top of the stack; pushing a C closure
    // consumes that one value and pushes one.
    unsafe {
        ffi::lua_settop(state, 1);
        ffi::lua_pushcclosure(state, trampoline, 1);
    }
    1
}

/// The C function a script calls: runs the implementation (upvalue 1) on its arguments and
/// returns its results, or raises its error from this frame, which is where Redis's C function
/// raised it: `luaL_where(L, 1)` names the caller's line, `luaL_argerror` names this function as
/// the caller spelled it.
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: plain Lua C API use on the running function's own stack. Lua guarantees a C
    // function LUA_MINSTACK free slots, and this pushes at most two beyond what `lua_call`
    // leaves (`lua_call` grows the stack for the results itself), or checks for room first. The error paths longjmp out of
    // this frame, which holds no Rust value with a destructor; the message they read stays on
    // the stack (anchored) until Lua has copied it.
    unsafe {
        let nargs = ffi::lua_gettop(state);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
        if ffi::lua_type(state, 1) == ffi::LUA_TNUMBER {
            // Many results, in the table at 2: only it stays, and they go above it.
            let n = ffi::lua_tointeger(state, 1) as c_int;
            ffi::lua_replace(state, 1);
            if ffi::lua_checkstack(state, n) == 0 {
                ffi::luaL_error(state, c"stack overflow (too many results)".as_ptr());
            }
            for i in 1..=n {
                ffi::lua_rawgeti(state, 1, i.into());
            }
            ffi::lua_remove(state, 1);
            return n;
        }
        if ffi::lua_toboolean(state, 1) != 0 {
            ffi::lua_remove(state, 1);
            return ffi::lua_gettop(state);
        }
        if ffi::lua_gettop(state) >= 3 && ffi::lua_type(state, 3) != ffi::LUA_TNUMBER {
            ffi::lua_settop(state, 2);
            ffi::lua_error(state)
        }
        if ffi::lua_gettop(state) >= 3 {
            let narg = ffi::lua_tointeger(state, 3) as c_int;
            let msg: *const std::ffi::c_char = ffi::lua_tolstring(state, 2, std::ptr::null_mut());
            ffi::luaL_argerror(state, narg, msg);
            unreachable!("luaL_argerror does not return")
        }
        ffi::luaL_where(state, 1);
        ffi::lua_pushvalue(state, 2);
        ffi::lua_concat(state, 2);
        ffi::lua_error(state)
    }
}
