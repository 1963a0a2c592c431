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

use mlua::{Lua, Table, Value as Lua_};

use super::value::Value;

/// A reply as the Lua value a script gets from `redis.call`.
pub(crate) fn to_lua(lua: &Lua, v: Value, resp3: bool) -> mlua::Result<Lua_> {
    Ok(match v {
        Value::Int(n) => Lua_::Number(n as f64),
        Value::Bulk(b) => Lua_::String(lua.create_string(b)?),
        Value::Nil if resp3 => Lua_::Nil,
        Value::Nil => Lua_::Boolean(false),
        Value::Status(s) => Lua_::Table(single(lua, "ok", lua.create_string(s)?)?),
        Value::Error(e) => Lua_::Table(single(lua, "err", lua.create_string(e)?)?),
        Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item, resp3)?)?;
            }
            Lua_::Table(t)
        }
        Value::Map(pairs) => {
            let m = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                m.raw_set(to_lua(lua, k, resp3)?, to_lua(lua, v, resp3)?)?;
            }
            Lua_::Table(single(lua, "map", m)?)
        }
        Value::Set(items) => {
            let s = lua.create_table_with_capacity(0, items.len())?;
            for item in items {
                s.raw_set(to_lua(lua, item, resp3)?, true)?;
            }
            Lua_::Table(single(lua, "set", s)?)
        }
        Value::Double(d) => Lua_::Table(single(lua, "double", d)?),
        Value::Bool(b) => Lua_::Boolean(b),
        Value::BigNumber(n) => Lua_::Table(single(lua, "big_number", lua.create_string(n)?)?),
        Value::Verbatim(format, text) => {
            let inner = lua.create_table_with_capacity(0, 2)?;
            inner.raw_set("format", lua.create_string(format)?)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            Lua_::Table(single(lua, "verbatim_string", inner)?)
        }
    })
}

/// `{field = value}`.
fn single(lua: &Lua, field: &str, value: impl mlua::IntoLua) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(field, value)?;
    Ok(t)
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
