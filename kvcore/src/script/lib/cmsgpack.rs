//! `cmsgpack`: lua-cmsgpack 0.4.0 as Redis bundles it (`deps/lua/src/lua_cmsgpack.c`):
//! `pack` (every argument, concatenated), `unpack`, `unpack_one` and `unpack_limit`.
//!
//! Numbers that are integers (in 64 bits) pack as the smallest MessagePack integer, others as
//! a float32 when that is exact and a float64 otherwise. A table whose keys are exactly 1..n
//! packs as an array (the empty table too), any other as a map; tables nested 16 deep pack as
//! nil, which is how the C code survives cycles. Strings always pack as str (fixstr, str8,
//! str16, str32); unpacking knows no bin or ext type.
//!
//! The C code holds every value it works on in its Lua stack frame, which `lua_checkstack`
//! bounds at [`raise::MAX_C_STACK`] slots; the Rust code counts the same slots (`held`) to fail
//! where it fails, on long argument lists, long streams and deep nesting alike.

use mlua::{Lua, Table, Value};

use super::raise::{self, Args, Outcome, Raise, Results, arg_error, error};

/// How deep tables pack before they pack as nil (`LUACMSGPACK_MAX_NESTING`).
const MAX_NESTING: usize = 16;

fn overflow(what: &str) -> Raise {
    error(format!("stack overflow ({what})"))
}

/// `IS_INT_TYPE_EQUIVALENT` for 64 bits: the C cast of `n` converts back to `n`.
fn is_int64(n: f64) -> bool {
    !n.is_infinite() && raise::number_to_integer(n) as f64 == n
}

/// The same for C's `int` (x86-64's cast gives `i32::MIN` out of range).
fn is_int32(n: f64) -> bool {
    let i = if (-2_147_483_648.0..2_147_483_648.0).contains(&n) {
        n as i32
    } else {
        i32::MIN
    };
    !n.is_infinite() && f64::from(i) == n
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend([0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend((n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend((n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend(n.to_be_bytes());
            }
        }
    } else {
        match n {
            -32..=-1 => out.push(n as u8),
            -128..=-33 => out.extend([0xd0, n as u8]),
            -32768..=-129 => {
                out.push(0xd1);
                out.extend((n as i16).to_be_bytes());
            }
            -2_147_483_648..=-32769 => {
                out.push(0xd2);
                out.extend((n as i32).to_be_bytes());
            }
            _ => {
                out.push(0xd3);
                out.extend(n.to_be_bytes());
            }
        }
    }
}

fn encode_double(out: &mut Vec<u8>, d: f64) {
    let f = d as f32;
    if f64::from(f) == d {
        out.push(0xca);
        out.extend(f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend(d.to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend([0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend((len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend((len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// The header of an array (`map == false`) or a map of `n` entries.
fn encode_len(out: &mut Vec<u8>, n: usize, map: bool) {
    let (fix, b16) = if map { (0x80, 0xde) } else { (0x90, 0xdc) };
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend((n as u16).to_be_bytes());
    } else {
        out.push(b16 + 1);
        out.extend((n as u32).to_be_bytes());
    }
}

/// `mp_encode_lua_type`: appends `v`, which sits at the top of `held` stack slots.
fn encode(out: &mut Vec<u8>, v: &Value, level: usize, held: usize) -> Outcome<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(_) | Value::Number(_) => {
            // This arm matched a number.
            let n = raise::number(v).expect("a number");
            if is_int64(n) {
                encode_int(out, raise::number_to_integer(n));
            } else {
                encode_double(out, n);
            }
        }
        Value::Table(t) if level < MAX_NESTING => encode_table(out, t, level, held)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_table(out: &mut Vec<u8>, t: &Table, level: usize, held: usize) -> Outcome<()> {
    // `table_is_an_array`: every key a positive integer (as an `int`), and as many keys as the
    // largest one.
    if !raise::stack_ok(held, 2) {
        return Err(overflow("in function table_is_an_array"));
    }
    // Two passes over the pairs, as the C code makes: holding them all at once would take a
    // slot of mlua's bounded reference stack per string or table.
    let (mut count, mut max, mut array) = (0i64, 0i64, true);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        match raise::number(&k) {
            Some(n) if n > 0.0 && is_int32(n) => {
                max = max.max(n as i64);
                count += 1;
            }
            _ => {
                array = false;
                break;
            }
        }
    }
    if array && max == count {
        if !raise::stack_ok(held, 1) {
            return Err(overflow("in function mp_encode_lua_table_as_array"));
        }
        let len = t.raw_len();
        encode_len(out, len, false);
        for i in 1..=len {
            let v: Value = t.raw_get(i)?;
            encode(out, &v, level + 1, held + 1)?;
        }
    } else {
        if !raise::stack_ok(held, 3) {
            return Err(overflow("in function mp_encode_lua_table_as_map"));
        }
        let mut n = 0;
        for pair in t.pairs::<Value, Value>() {
            pair?;
            n += 1;
        }
        encode_len(out, n, true);
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            // The C code encodes a copy of the key above the key and the value.
            encode(out, &k, level + 1, held + 3)?;
            encode(out, &v, level + 1, held + 2)?;
        }
    }
    Ok(())
}

fn pack(lua: &Lua, args: &Args) -> Outcome<Results> {
    let nargs = args.top();
    if nargs == 0 {
        return Err(arg_error(0, "MessagePack pack needs input."));
    }
    if !raise::stack_ok(nargs, nargs) {
        return Err(arg_error(0, "Too many arguments for MessagePack pack."));
    }
    let mut out = Vec::new();
    for i in 1..=nargs {
        // Each argument's encoding stays on the stack until they are concatenated at the end.
        let held = nargs + (i - 1);
        if !raise::stack_ok(held, 1) {
            return Err(overflow("in function mp_check"));
        }
        encode(&mut out, args.get(i), 0, held + 1)?;
    }
    Ok(Results::one(Value::String(lua.create_string(out)?)))
}

/// Why decoding stopped short.
enum Stop {
    /// Not enough bytes (`MP_CUR_ERROR_EOF`).
    Eof,
    /// A type byte this library does not know (`MP_CUR_ERROR_BADFMT`).
    BadFormat,
    /// An error raised on the spot (stack overflow, a nil or NaN map key).
    Raise(raise::Raise),
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Self {
        Stop::Raise(e.into())
    }
}

/// A container being filled while decoding.
enum Open {
    Array {
        table: Table,
        left: usize,
        next: usize,
    },
    Map {
        table: Table,
        left: usize,
        key: Option<Value>,
    },
}

/// A read position in the input.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.at
    }

    /// The `n` bytes after the type byte, consuming `1 + n`.
    fn take(&mut self, n: usize) -> Result<&[u8], Stop> {
        if self.left() < 1 + n {
            return Err(Stop::Eof);
        }
        let s = &self.data[self.at + 1..self.at + 1 + n];
        self.at += 1 + n;
        Ok(s)
    }

    /// A big-endian length of `n` bytes after the type byte, consumed.
    fn len(&mut self, n: usize) -> Result<usize, Stop> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0usize, |l, &b| (l << 8) | usize::from(b)))
    }

    /// A string of `len` bytes after a header of `hdr` bytes (type byte included).
    fn string(&mut self, lua: &Lua, hdr: usize, len: usize) -> Result<Value, Stop> {
        // The C code checks for the header and the string together, except for str32 which it
        // checks in two steps; the outcome is the same.
        if self.left() < hdr + len {
            return Err(Stop::Eof);
        }
        let s = &self.data[self.at + hdr..self.at + hdr + len];
        self.at += hdr + len;
        Ok(Value::String(lua.create_string(s)?))
    }
}

fn be<const N: usize>(s: &[u8]) -> [u8; N] {
    s.try_into().expect("take returns the length asked for")
}

/// `mp_decode_to_lua_type` for one complete value, nested ones included, with `held` stack
/// slots in use. Iterative, so deep input cannot exhaust the Rust stack first.
fn decode_one(lua: &Lua, c: &mut Cursor<'_>, mut held: usize) -> Result<Value, Stop> {
    let mut open: Vec<Open> = Vec::new();
    loop {
        if let Some(Open::Array { .. }) = open.last() {
            held += 1; // the element's index, pushed before the element
        }
        if c.left() < 1 {
            return Err(Stop::Eof);
        }
        if !raise::stack_ok(held, 1) {
            return Err(Stop::Raise(overflow(
                "too many return values at once; use unpack_one or unpack_limit instead.",
            )));
        }
        let tag = c.data[c.at];
        let num = |n: f64| Value::Number(n);
        let (mut value, container) = match tag {
            0xcc => (num(f64::from(c.take(1)?[0])), None),
            0xcd => (num(f64::from(u16::from_be_bytes(be(c.take(2)?)))), None),
            0xce => (num(f64::from(u32::from_be_bytes(be(c.take(4)?)))), None),
            // Pushed as a signed `lua_Integer`: the top half wraps negative.
            0xcf => (num(u64::from_be_bytes(be(c.take(8)?)) as i64 as f64), None),
            0xd0 => (num(f64::from(c.take(1)?[0] as i8)), None),
            0xd1 => (num(f64::from(i16::from_be_bytes(be(c.take(2)?)))), None),
            0xd2 => (num(f64::from(i32::from_be_bytes(be(c.take(4)?)))), None),
            0xd3 => (num(i64::from_be_bytes(be(c.take(8)?)) as f64), None),
            0xc0 => (c.take(0).map(|_| Value::Nil)?, None),
            0xc2 | 0xc3 => (c.take(0).map(|_| Value::Boolean(tag == 0xc3))?, None),
            0xca => (num(f64::from(f32::from_be_bytes(be(c.take(4)?)))), None),
            0xcb => (num(f64::from_be_bytes(be(c.take(8)?))), None),
            0xd9..=0xdb => {
                let n = 1 << (tag - 0xd9);
                if c.left() < 1 + n {
                    return Err(Stop::Eof);
                }
                let len = c.data[c.at + 1..c.at + 1 + n]
                    .iter()
                    .fold(0usize, |l, &b| (l << 8) | usize::from(b));
                (c.string(lua, 1 + n, len)?, None)
            }
            0xdc => (Value::Nil, Some((c.len(2)?, false))),
            0xdd => (Value::Nil, Some((c.len(4)?, false))),
            0xde => (Value::Nil, Some((c.len(2)?, true))),
            0xdf => (Value::Nil, Some((c.len(4)?, true))),
            0x00..=0x7f => (c.take(0).map(|_| num(f64::from(tag)))?, None),
            0xe0..=0xff => (c.take(0).map(|_| num(f64::from(tag as i8)))?, None),
            0xa0..=0xbf => (c.string(lua, 1, usize::from(tag & 0x1f))?, None),
            0x90..=0x9f => (
                c.take(0).map(|_| Value::Nil)?,
                Some((usize::from(tag & 0xf), false)),
            ),
            0x80..=0x8f => (
                c.take(0).map(|_| Value::Nil)?,
                Some((usize::from(tag & 0xf), true)),
            ),
            _ => return Err(Stop::BadFormat),
        };
        held += 1; // the value (or the new table)
        if let Some((len, map)) = container {
            let table = lua.create_table()?;
            if !map && !raise::stack_ok(held, 1) {
                return Err(Stop::Raise(overflow("in function mp_decode_to_lua_array")));
            }
            if len > 0 {
                open.push(if map {
                    Open::Map {
                        table,
                        left: len,
                        key: None,
                    }
                } else {
                    Open::Array {
                        table,
                        left: len,
                        next: 1,
                    }
                });
                continue;
            }
            value = Value::Table(table);
        }
        // Store the finished value in its container; a container it completes is in turn a
        // finished value of the one around it.
        loop {
            match open.last_mut() {
                None => return Ok(value),
                Some(Open::Array { table, left, next }) => {
                    table.raw_set(*next, value)?;
                    held -= 2;
                    *next += 1;
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
                Some(Open::Map { table, left, key }) => {
                    let Some(k) = key.take() else {
                        *key = Some(value);
                        break;
                    };
                    match k {
                        Value::Nil => {
                            return Err(Stop::Raise(Raise::Plain(b"table index is nil".to_vec())));
                        }
                        Value::Number(n) if n.is_nan() => {
                            return Err(Stop::Raise(Raise::Plain(b"table index is NaN".to_vec())));
                        }
                        k => table.raw_set(k, value)?,
                    }
                    held -= 2;
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
            }
            let (Some(Open::Array { table, .. }) | Some(Open::Map { table, .. })) = open.pop()
            else {
                unreachable!("the loop matched a container above");
            };
            value = Value::Table(table);
        }
    }
}

/// `mp_unpack_full`: decodes from `offset` up to `limit` values (all of them when both are
/// 0); the bounded forms return the next offset (-1 at the end) before the values.
fn unpack_full(lua: &Lua, args: &Args, limit: i64, offset: i64, held: usize) -> Outcome<Results> {
    let s = args.check_string(lua, 1)?;
    let s = s.as_bytes();
    let len = s.len();
    if offset < 0 || limit < 0 {
        // The C code prints the input's length where it means the limit.
        return Err(error(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(error(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut c = Cursor {
        data: &s[..],
        at: offset as usize,
    };
    let mut out = Results::new();
    if !decode_all {
        // The next offset comes first; it is known at the end.
        out.push(lua, Value::Nil)?;
    }
    let first = out.len();
    let mut count = 0i64;
    while c.left() > 0 && count < limit {
        match decode_one(lua, &mut c, held + (out.len() - first)) {
            Ok(v) => out.push(lua, v)?,
            Err(Stop::Eof) => return Err(error("Missing bytes in input.")),
            Err(Stop::BadFormat) => return Err(error("Bad data format in input.")),
            Err(Stop::Raise(r)) => return Err(r),
        }
        count += 1;
    }
    if !decode_all {
        if !raise::stack_ok(held + (out.len() - first), 1) {
            return Err(overflow("in function mp_unpack_full"));
        }
        let next = if c.left() == 0 { -1 } else { c.at as i64 };
        out.set(1, Value::Integer(next))?;
    }
    Ok(out)
}

fn unpack(lua: &Lua, args: &Args) -> Outcome<Results> {
    // Every argument stays on the stack.
    unpack_full(lua, args, 0, 0, args.top())
}

fn unpack_one(lua: &Lua, args: &Args) -> Outcome<Results> {
    let offset = args.opt_integer(lua, 2, 0)?;
    // Only the first argument stays on the stack (none if there was none).
    unpack_full(lua, args, 1, offset, args.top().min(1))
}

fn unpack_limit(lua: &Lua, args: &Args) -> Outcome<Results> {
    let limit = args.check_integer(lua, 2)?;
    let offset = args.opt_integer(lua, 3, 0)?;
    unpack_full(lua, args, limit, offset, args.top().min(1))
}

/// The `cmsgpack` table.
pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let f = |imp: fn(&Lua, &Args) -> Outcome<Results>| {
        raise::function(lua, move |lua, args| imp(lua, &args))
    };
    t.raw_set("pack", f(pack)?)?;
    t.raw_set("unpack", f(unpack)?)?;
    t.raw_set("unpack_one", f(unpack_one)?)?;
    t.raw_set("unpack_limit", f(unpack_limit)?)?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::check::check_all;

    /// Recorded from redis-server 7.0.15 by `tools/recordlua.py`.
    const CASES: &[(&str, &[u8])] = &[
        (r#"return cmsgpack._NAME .. ' ' .. cmsgpack._VERSION .. ' ' .. cmsgpack._COPYRIGHT .. ' ' .. cmsgpack._DESCRIPTION"#, b"cmsgpack lua-cmsgpack 0.4.0 Copyright (C) 2012, Salvatore Sanfilippo MessagePack C implementation for Lua"),
        // Integers at every size boundary.
        (r#"return hex(cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536, 2^32 - 1, 2^32, 2^53))"#, b"00017fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000cf0020000000000000"),
        (r#"return hex(cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31 - 1, -2^53, -2^63))"#, b"ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffd3ffe0000000000000d38000000000000000"),
        (r#"return hex(cmsgpack.pack(2^63, 2^64, -2^64, -0.0))"#, b"ca5f000000ca5f800000cadf80000000"),
        // Floats: float32 when exact, float64 otherwise.
        (r#"return hex(cmsgpack.pack(0.5, -1.25, 0.1, 1e300, 1/0, -1/0, 3.4028234663852886e38, 1e-45))"#, b"ca3f000000cabfa00000cb3fb999999999999acb7e37e43c8800759cca7f800000caff800000ca7f7fffffcb3696d601ad376ab9"),
        (r#"return hex(cmsgpack.pack(0/0))"#, b"cbfff8000000000000"),
        // Strings at every size boundary.
        (r#"local t = {} for _, n in ipairs({0, 1, 31, 32, 255, 256, 65535, 65536}) do t[#t + 1] = hex(cmsgpack.pack(string.rep('x', n)):sub(1, 12)) end return table.concat(t, ' ')"#, b"a0 a178 bf7878787878787878787878 d92078787878787878787878 d9ff78787878787878787878 da0100787878787878787878 daffff787878787878787878 db0001000078787878787878"),
        (r#"return hex(cmsgpack.pack('a\0b', true, false, nil))"#, b"a3610062c3c2c0"),
        (r#"return hex(cmsgpack.pack(tostring, coroutine.create(function() end)))"#, b"c0c0"),
        // Tables: arrays, maps, sizes, nesting.
        (r#"return hex(cmsgpack.pack({}, {1, 2, 3}, {a = 1}, {[1] = 'x', [3] = 'y'}, {[0] = 1}, {[1.5] = 1}, {1, nil, 3}))"#, b"909301020381a161018201a17803a17981000181ca3fc00000018201010303"),
        (r#"local t = {} for i = 1, 16 do t[i] = i end return hex(cmsgpack.pack(t):sub(1, 3))"#, b"dc0010"),
        (r#"local t = {} for i = 1, 65536 do t[i] = 0 end local s = cmsgpack.pack(t) return hex(s:sub(1, 6)) .. ' ' .. #s"#, b"dd0001000000 65541"),
        (r#"local t = {} for i = 1, 16 do t['k' .. i] = i end return hex(cmsgpack.pack(t):sub(1, 3))"#, b"de0010"),
        (r#"local t = {} for i = 1, 65536 do t['k' .. i] = 0 end return hex(cmsgpack.pack(t):sub(1, 5))"#, b"df00010000"),
        (r#"local t = {} t.self = t return hex(cmsgpack.pack(t))"#, b"81a473656c6681a473656c6681a473656c6681a473656c6681a473656c6681a473656c6681a473656c6681a473656c6681a473656c6681a473656c6681a473656c6681a473656c6681a473656c6681a473656c6681a473656c6681a473656c66c0"),
        (r#"local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return hex(cmsgpack.pack(t))"#, b"91919191919191919191919191919191c0"),
        (r#"return hex(cmsgpack.pack({[2^31] = 1, [1] = 2}))"#, b"82ce80000000010102"),
        // Errors of pack.
        (r#"return err(cmsgpack.pack)"#, b"false bad argument #0 to '?' (MessagePack pack needs input.)"),
        (r#"local ok, e = pcall(function() local x = cmsgpack.pack() return x end) return e"#, b"user_script:4: bad argument #0 to 'pack' (MessagePack pack needs input.)"),
        (r#"return err(cmsgpack.pack, unpack((function() local t = {} for i = 1, 4001 do t[i] = i end return t end)()))"#, b"false bad argument #0 to '?' (Too many arguments for MessagePack pack.)"),
        (r#"return tostring(#cmsgpack.pack(unpack((function() local t = {} for i = 1, 4000 do t[i] = i end return t end)())))"#, b"11618"),
        // Round trips.
        (r#"local a, b, c, d, e = cmsgpack.unpack(cmsgpack.pack(1, -1, 'x', true, 0.25)) return table.concat({tostring(a), tostring(b), c, tostring(d), tostring(e)}, ' ')"#, b"1 -1 x true 0.25"),
        (r#"local t = cmsgpack.unpack(cmsgpack.pack({1, {2, {3, 'four'}}, {k = 'v', n = {5}}})) return t[1] .. t[2][1] .. t[2][2][1] .. t[2][2][2] .. t[3].k .. t[3].n[1]"#, b"123fourv5"),
        (r#"local t = {} for _, n in ipairs({0, 127, 128, 255, 256, 65535, 65536, 2^32 - 1, 2^32, 2^53, -1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31 - 1, -2^53, -2^63, 0.5, 0.1, 1e300, 1/0}) do t[#t + 1] = num(cmsgpack.unpack(cmsgpack.pack(n))) end return table.concat(t, ' ')"#, b"0 127 128 255 256 65535 65536 4294967295 4294967296 9007199254740992 -1 -32 -33 -128 -129 -32768 -32769 -2147483648 -2147483649 -9007199254740992 -9.2233720368547758e+18 0.5 0.10000000000000001 1.0000000000000001e+300 inf"),
        (r#"local t = {} for _, n in ipairs({0, 31, 32, 255, 256, 65535, 65536}) do local s = string.rep('y', n) t[#t + 1] = tostring(cmsgpack.unpack(cmsgpack.pack(s)) == s) end return table.concat(t, ' ')"#, b"true true true true true true true"),
        (r#"local t = {} for i = 1, 70000 do t[i] = i end local u = cmsgpack.unpack(cmsgpack.pack(t)) return #u .. ' ' .. u[70000]"#, b"70000 70000"),
        (r#"local t = {} for i = 1, 20 do t['k' .. i] = i end local u = cmsgpack.unpack(cmsgpack.pack(t)) local s = 0 for k, v in pairs(u) do s = s + v end return tostring(s)"#, b"210"),
        (r#"return tostring(select('#', cmsgpack.unpack(cmsgpack.pack(nil, 1, nil))))"#, b"3"),
        // Decoding every type byte.
        (r#"return table.concat({cmsgpack.unpack('\204\200\205\1\0\206\0\1\0\0\208\128\209\255\0\210\128\0\0\0')}, ' ')"#, b"200 256 65536 -128 -256 -2147483648"),
        (r#"return num(cmsgpack.unpack('\207\255\255\255\255\255\255\255\255')) .. ' ' .. num(cmsgpack.unpack('\207\128\0\0\0\0\0\0\0')) .. ' ' .. num(cmsgpack.unpack('\211\128\0\0\0\0\0\0\0'))"#, b"-1 -9.2233720368547758e+18 -9.2233720368547758e+18"),
        (r#"return num(cmsgpack.unpack('\202\63\192\0\0')) .. ' ' .. num(cmsgpack.unpack('\203\63\185\153\153\153\153\153\154'))"#, b"1.5 0.10000000000000001"),
        (r#"return table.concat({cmsgpack.unpack('\217\3abc\218\0\2de\219\0\0\0\1f\162gh')}, ' ')"#, b"abc de f gh"),
        (r#"local t = cmsgpack.unpack('\220\0\2\1\2') local u = cmsgpack.unpack('\221\0\0\0\1\3') local m = cmsgpack.unpack('\222\0\1\161a\1') local n = cmsgpack.unpack('\223\0\0\0\1\161b\2') return t[1] .. t[2] .. u[1] .. m.a .. n.b"#, b"12312"),
        (r#"local t = cmsgpack.unpack('\147\1\192\3') return tostring(#t) .. tostring(t[2]) .. t[3]"#, b"1nil3"),
        (r#"local t = cmsgpack.unpack('\130\161a\192\161b\1') return tostring(t.a) .. t.b"#, b"nil1"),
        (r#"return tostring(select('#', cmsgpack.unpack('\192\195\194')))"#, b"3"),
        // Errors of unpack.
        (r#"return err(cmsgpack.unpack, '\193')"#, b"false Bad data format in input."),
        (r#"return err(cmsgpack.unpack, '\196\1a')"#, b"false Bad data format in input."),
        (r#"return err(cmsgpack.unpack, '\212\1\1')"#, b"false Bad data format in input."),
        (r#"return err(cmsgpack.unpack, '\205\1')"#, b"false Missing bytes in input."),
        (r#"return err(cmsgpack.unpack, '\147\1\2')"#, b"false Missing bytes in input."),
        (r#"return err(cmsgpack.unpack, '\219\0\0\1\0abc')"#, b"false Missing bytes in input."),
        (r#"return err(cmsgpack.unpack, '\221\255\255\255\255\1')"#, b"false Missing bytes in input."),
        (r#"return err(cmsgpack.unpack, '\129\192\1')"#, b"false table index is nil"),
        (r#"return err(cmsgpack.unpack, '\129\203\127\248\0\0\0\0\0\0\1')"#, b"false table index is NaN"),
        (r#"return err(cmsgpack.unpack, '\129\192\205')"#, b"false Missing bytes in input."),
        (r#"return err(cmsgpack.unpack)"#, b"false bad argument #1 to '?' (string expected, got no value)"),
        (r#"return err(cmsgpack.unpack, {})"#, b"false bad argument #1 to '?' (string expected, got table)"),
        (r#"return tostring(select('#', cmsgpack.unpack(''))) .. ' ' .. tostring(cmsgpack.unpack(5))"#, b"0 53"),
        (r#"local ok, e = pcall(function() return cmsgpack.unpack('\1\2\3\205') end) return e"#, b"user_script:4: Missing bytes in input."),
        // unpack_one and unpack_limit.
        (r#"local s = cmsgpack.pack(1, 'two', {3}) local o1, a = cmsgpack.unpack_one(s) local o2, b = cmsgpack.unpack_one(s, o1) local o3, c = cmsgpack.unpack_one(s, o2) return table.concat({o1, a, o2, b, o3, c[1]}, ' ')"#, b"1 1 5 two -1 3"),
        (r#"local s = cmsgpack.pack(1, 2, 3, 4, 5) local t = {cmsgpack.unpack_limit(s, 2)} local u = {cmsgpack.unpack_limit(s, 10, t[1])} return table.concat(t, ' ') .. ' | ' .. table.concat(u, ' ')"#, b"2 1 2 | -1 3 4 5"),
        (r#"local s = cmsgpack.pack(1, 2, 3) return table.concat({cmsgpack.unpack_limit(s, 0)}, ' ') .. ' | ' .. table.concat({cmsgpack.unpack_limit(s, 0, 1)}, ' ') .. ' | ' .. table.concat({cmsgpack.unpack_limit(s, 0, 3)}, ' ')"#, b"1 2 3 | 1 | -1"),
        (r#"local s = cmsgpack.pack(1, 2) return table.concat({cmsgpack.unpack_one(s, 0)}, ' ') .. ' | ' .. table.concat({cmsgpack.unpack_one(s, 2)}, ' ') .. ' | ' .. table.concat({cmsgpack.unpack_one(s, '1')}, ' ')"#, b"1 1 | -1 | -1 2"),
        (r#"return err(cmsgpack.unpack_one, '\1', -1)"#, b"false Invalid request to unpack with offset of -1 and limit of 1."),
        (r#"return err(cmsgpack.unpack_limit, '\1\2', -5)"#, b"false Invalid request to unpack with offset of 0 and limit of 2."),
        (r#"return err(cmsgpack.unpack_one, '\1', 3)"#, b"false Start offset 3 greater than input length 1."),
        (r#"return err(cmsgpack.unpack_one, '\1', 'x')"#, b"false bad argument #2 to '?' (number expected, got string)"),
        (r#"return err(cmsgpack.unpack_limit, '\1')"#, b"false bad argument #2 to '?' (number expected, got no value)"),
        (r#"return err(cmsgpack.unpack_one)"#, b"false bad argument #1 to '?' (string expected, got no value)"),
        (r#"return err(cmsgpack.unpack_one, nil, 0)"#, b"false bad argument #1 to '?' (string expected, got nil)"),
        // The stack bound: long streams and deep nesting.
        (r#"return tostring(select('#', cmsgpack.unpack(string.rep('\1', 7999))))"#, b"7999"),
        (r#"return err(cmsgpack.unpack, string.rep('\1', 8000))"#, b"false stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"),
        (r#"return tostring(select('#', cmsgpack.unpack_limit(string.rep('\1', 7998), 7998)))"#, b"7999"),
        (r#"return err(cmsgpack.unpack_limit, string.rep('\1', 7999), 7999)"#, b"false stack overflow (in function mp_unpack_full)"),
        (r#"local t = cmsgpack.unpack(string.rep('\145', 3999) .. '\7') for i = 1, 3999 do t = t[1] end return tostring(t)"#, b"7"),
        (r#"return err(cmsgpack.unpack, string.rep('\145', 4000) .. '\7')"#, b"false stack overflow (in function mp_decode_to_lua_array)"),
        (r#"return err(cmsgpack.unpack, string.rep('\129\1', 5000) .. '\7')"#, b"false stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"),
    ];

    #[test]
    fn cases() {
        check_all(CASES);
    }
}
