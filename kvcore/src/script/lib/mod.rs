//! The libraries Redis bundles with its Lua interpreter: `cjson`, `cmsgpack`, `bit` and
//! `struct`, written in Rust over mlua with the behaviour of Redis 7's C modules.

mod bit;
#[cfg(test)]
mod check;
mod cjson;
mod cmsgpack;
mod fpconv;
mod raise;
mod structlib;

/// Installs `cjson`, `cmsgpack`, `bit` and `struct` as globals of `lua`.
///
/// # Errors
/// A Lua error while building the tables (out of memory).
#[allow(dead_code)] // used by the interpreter, which lands next
pub(crate) fn open(lua: &mlua::Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.raw_set("cjson", cjson::module(lua)?)?;
    globals.raw_set("struct", structlib::module(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack::module(lua)?)?;
    globals.raw_set("bit", bit::module(lua)?)?;
    Ok(())
}
