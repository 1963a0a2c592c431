//! `redis.call` and `redis.pcall` as C functions on Lua's own stack, as Redis's are.
//!
//! They run on every command a script sends, so they skip mlua's callback machinery (a
//! protected trampoline, a `MultiValue` of registry references per call, a conversion of the
//! result back): the arguments are read straight off the stack, the host runs the command,
//! and the reply is pushed with Lua's C API.
//!
//! A Lua error leaves a C function by `longjmp`, which must not cross a Rust frame that still
//! owns something to drop. So the work that owns memory happens in [`dispatch`], which
//! returns (dropping it all) before anything that can raise: pushing the reply (running out
//! of memory raises) and raising `redis.call`'s error.

use std::ffi::c_int;
use std::sync::atomic::Ordering;

use mlua::ffi;

use super::convert::{push, push_bytes};
use super::value::Value;
use super::vm::{RunCtx, format_g17};

/// How many arguments of a `redis.call` [`dispatch`] passes on the stack.
const FEW_ARGS: usize = 16;

/// `redis.call`: a failing command raises `{err = text}`.
pub(super) unsafe extern "C-unwind" fn call(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: Lua calls it as the closure `closure` builds.
    unsafe { command(state, true) }
}

/// `redis.pcall`: a failing command returns `{err = text}`.
pub(super) unsafe extern "C-unwind" fn pcall(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: as in `call`.
    unsafe { command(state, false) }
}

/// Pushes `f` as a C closure over the interpreter's `RunCtx`.
///
/// # Safety
/// `state` is a live Lua state with a free stack slot inside a protected call; `ctx` points
/// at the `RunCtx` in its application data, which stays there (never replaced or removed)
/// for as long as the state lives.
pub(super) unsafe fn closure(state: *mut ffi::lua_State, ctx: *mut RunCtx, f: ffi::lua_CFunction) {
    // SAFETY: the caller's promise.
    unsafe {
        ffi::lua_checkstack(state, 2);
        ffi::lua_pushlightuserdata(state, ctx.cast());
        ffi::lua_pushcclosure(state, f, 1);
    }
}

/// # Safety
/// Called by Lua as a closure built by [`closure`].
unsafe fn command(state: *mut ffi::lua_State, raise_errors: bool) -> c_int {
    // SAFETY: upvalue 1 is the `RunCtx` (see `closure`). Nothing else borrows it while a
    // script runs: the engine's own accesses (`with_run_ctx`) happen before and after the
    // script, and the other primitives that use it do not call back into Lua.
    unsafe {
        let ctx = ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)).cast::<RunCtx>();
        dispatch(state, &mut *ctx);
        // From here on nothing owns memory: the reply stays in the `RunCtx` (the next call
        // replaces it), so a `longjmp` out of `push` or `lua_error` leaks nothing.
        let ctx = &*ctx;
        if let Value::Error(e) = &ctx.reply {
            ffi::lua_checkstack(state, 2);
            ffi::lua_createtable(state, 0, 1);
            push_bytes(state, e);
            ffi::lua_setfield(state, -2, c"err".as_ptr());
            if raise_errors {
                ffi::lua_error(state);
            }
            return 1;
        }
        push(state, &ctx.reply, ctx.call.resp3);
        1
    }
}

/// Reads the command off the stack and runs it on the host: the reply (or the reason there
/// is none, as an error) in `ctx.reply`.
///
/// # Safety
/// `state` is the Lua state running the script `ctx` belongs to.
#[inline(never)]
unsafe fn dispatch(state: *mut ffi::lua_State, ctx: &mut RunCtx) {
    let fail = |ctx: &mut RunCtx, msg: &str| ctx.reply = Value::error(msg);
    // SAFETY: reading the arguments of the running C function; `lua_tolstring` on a string
    // returns its bytes, which live while the string is on the stack, without allocating.
    unsafe {
        let n = ffi::lua_gettop(state);
        if n == 0 {
            return fail(
                ctx,
                "ERR Please specify at least one argument for this redis lib call",
            );
        }
        let Some(mut host) = ctx.host else {
            return fail(
                ctx,
                "ERR redis.call/pcall can only be called inside a script invocation",
            );
        };
        ctx.args.clear();
        ctx.ends.clear();
        for i in 1..=n {
            match ffi::lua_type(state, i) {
                ffi::LUA_TSTRING => {
                    let mut len = 0;
                    let p = ffi::lua_tolstring(state, i, &mut len);
                    ctx.args
                        .extend_from_slice(std::slice::from_raw_parts(p.cast::<u8>(), len));
                }
                // Not `lua_tolstring`: it would turn the number into a string in place (and
                // allocate); Redis formats it with `%.17g`.
                ffi::LUA_TNUMBER => ctx
                    .args
                    .extend_from_slice(format_g17(ffi::lua_tonumber(state, i)).as_bytes()),
                _ => {
                    return fail(
                        ctx,
                        "ERR Lua redis lib command arguments must be strings or integers",
                    );
                }
            }
            ctx.ends.push(ctx.args.len());
        }
        let mut start = 0;
        let mut split = ctx.ends.iter().map(|&end| {
            let a = &ctx.args[start..end];
            start = end;
            a
        });
        // The arguments as one slice: on the stack for the usual handful.
        let mut few: [&[u8]; FEW_ARGS] = [&[]; FEW_ARGS];
        let many: Vec<&[u8]>;
        let argv: &[&[u8]] = if ctx.ends.len() <= FEW_ARGS {
            for (slot, arg) in few.iter_mut().zip(&mut split) {
                *slot = arg;
            }
            &few[..ctx.ends.len()]
        } else {
            many = split.collect();
            &many
        };
        // SAFETY: see `RunCtx`: the host is set only while the script runs on this thread,
        // and it does not re-enter the interpreter.
        let (reply, wrote) = host.as_mut().call(argv, &ctx.call);
        if wrote {
            ctx.wrote.store(true, Ordering::Relaxed);
        }
        ctx.reply = reply;
    }
}
