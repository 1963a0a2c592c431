//! `bit`: LuaBitOp 1.0.2 as Redis bundles it (`deps/lua/src/lua_bit.c`), 32-bit operations
//! on Lua numbers.
//!
//! Every argument goes through [`to_bits`]: the number plus 2^52+2^51, whose low 32 bits of
//! mantissa are then the number rounded to an integer (half to even) and reduced mod 2^32.
//! Results are those 32 bits read as a signed integer.

use mlua::{Lua, Table, Value};

use super::raise::{self, Args, Outcome, Results};

/// LuaBitOp's `barg`: argument `i` as 32 bits.
///
/// Anything `lua_tonumber` cannot convert counts as 0, and is refused only if its bits come out
/// 0 (they always do for 0), which is how the C code tells "not a number" apart.
fn to_bits(lua: &Lua, args: &Args, i: usize) -> Outcome<u32> {
    let n = raise::to_number(lua, args.get(i))?;
    let bits = ((n.unwrap_or(0.0) + 6_755_399_441_055_744.0).to_bits() & 0xffff_ffff) as u32;
    if bits == 0 && n.is_none() {
        return Err(args.type_error(i, "number"));
    }
    Ok(bits)
}

/// A result: the 32 bits as a signed number.
fn ret(b: u32) -> Outcome<Results> {
    Ok(Results::one(Value::Number(f64::from(b as i32))))
}

/// `band`, `bor`, `bxor`: the first argument combined with every other, taken from the last.
fn fold(lua: &Lua, args: &Args, op: fn(u32, u32) -> u32) -> Outcome<Results> {
    let mut b = to_bits(lua, args, 1)?;
    for i in (2..=args.top()).rev() {
        b = op(b, to_bits(lua, args, i)?);
    }
    ret(b)
}

/// The shifts and rotations: the count is taken mod 32.
fn shift(lua: &Lua, args: &Args, op: fn(u32, u32) -> u32) -> Outcome<Results> {
    let b = to_bits(lua, args, 1)?;
    let n = to_bits(lua, args, 2)? & 31;
    ret(op(b, n))
}

/// `tohex(x [, n])`: the low `|n|` hex digits of `x` (at most 8, default 8), upper case when
/// `n` is negative.
fn tohex(lua: &Lua, args: &Args) -> Outcome<Results> {
    let mut b = to_bits(lua, args, 1)?;
    let n = if args.is_none(2) {
        8
    } else {
        to_bits(lua, args, 2)? as i32
    };
    let (digits, n) = if n < 0 {
        // C negates i32::MIN into itself and then asks for a buffer of 2^64 - 2^31 bytes
        // (LuaBitOp 1.0.3 fixed that by treating it as -(i32::MAX)): take the fix.
        (b"0123456789ABCDEF", n.checked_neg().unwrap_or(i32::MAX))
    } else {
        (b"0123456789abcdef", n)
    };
    let n = n.min(8) as usize;
    let mut out = vec![0u8; n];
    for c in out.iter_mut().rev() {
        *c = digits[(b & 15) as usize];
        b >>= 4;
    }
    Ok(Results::one(Value::String(lua.create_string(out)?)))
}

/// The `bit` table.
pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let f = |imp: fn(&Lua, &Args) -> Outcome<Results>| {
        raise::function(lua, move |lua, args| imp(lua, &args))
    };
    t.raw_set("tobit", f(|lua, a| ret(to_bits(lua, a, 1)?))?)?;
    t.raw_set("bnot", f(|lua, a| ret(!to_bits(lua, a, 1)?))?)?;
    t.raw_set("band", f(|lua, a| fold(lua, a, |x, y| x & y))?)?;
    t.raw_set("bor", f(|lua, a| fold(lua, a, |x, y| x | y))?)?;
    t.raw_set("bxor", f(|lua, a| fold(lua, a, |x, y| x ^ y))?)?;
    t.raw_set("lshift", f(|lua, a| shift(lua, a, |b, n| b << n))?)?;
    t.raw_set("rshift", f(|lua, a| shift(lua, a, |b, n| b >> n))?)?;
    t.raw_set(
        "arshift",
        f(|lua, a| shift(lua, a, |b, n| ((b as i32) >> n) as u32))?,
    )?;
    t.raw_set("rol", f(|lua, a| shift(lua, a, u32::rotate_left))?)?;
    t.raw_set("ror", f(|lua, a| shift(lua, a, u32::rotate_right))?)?;
    t.raw_set("bswap", f(|lua, a| ret(to_bits(lua, a, 1)?.swap_bytes()))?)?;
    t.raw_set("tohex", f(tohex)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::check::check_all;

    /// Recorded from redis-server 7.0.15 by `tools/recordlua.py`.
    const CASES: &[(&str, &[u8])] = &[
        (r#"return tostring(bit.tobit(0xffffffff))"#, b"-1"),
        (r#"return tostring(bit.tobit(2^32 + 5))"#, b"5"),
        (r#"return tostring(bit.tobit(-1))"#, b"-1"),
        (
            r#"return tostring(bit.tobit(1.5)) .. ' ' .. tostring(bit.tobit(2.5)) .. ' ' .. tostring(bit.tobit(-1.5))"#,
            b"2 2 -2",
        ),
        (r#"return tostring(bit.tobit(2^31))"#, b"-2147483648"),
        (
            r#"return tostring(bit.tobit(2^53 + 3)) .. ' ' .. tostring(bit.tobit(2^60))"#,
            b"2 0",
        ),
        (
            r#"return tostring(bit.tobit(0/0)) .. ' ' .. tostring(bit.tobit(1/0)) .. ' ' .. tostring(bit.tobit(-1/0))"#,
            b"0 0 0",
        ),
        (
            r#"return tostring(bit.tobit('0x10')) .. ' ' .. tostring(bit.tobit(' 12 '))"#,
            b"16 12",
        ),
        (
            r#"return err(bit.tobit, 'x')"#,
            b"false bad argument #1 to '?' (number expected, got string)",
        ),
        (
            r#"return err(bit.tobit)"#,
            b"false bad argument #1 to '?' (number expected, got no value)",
        ),
        (
            r#"return err(bit.tobit, {})"#,
            b"false bad argument #1 to '?' (number expected, got table)",
        ),
        (
            r#"return err(bit.tobit, nil)"#,
            b"false bad argument #1 to '?' (number expected, got nil)",
        ),
        (
            r#"return tostring(bit.bnot(0)) .. ' ' .. tostring(bit.bnot(-1)) .. ' ' .. tostring(bit.bnot(0x12345678))"#,
            b"-1 0 -305419897",
        ),
        (
            r#"return tostring(bit.band(0xff, 0x0f0, 0xf00f)) .. ' ' .. tostring(bit.band(7))"#,
            b"0 7",
        ),
        (r#"return tostring(bit.bor(1, 2, 4, 2^31))"#, b"-2147483641"),
        (r#"return tostring(bit.bxor(0xff, 0x0f, 0xf0f0))"#, b"61440"),
        (
            r#"return err(bit.band, 1, 'a', 'b')"#,
            b"false bad argument #3 to '?' (number expected, got string)",
        ),
        (
            r#"local ok, e = pcall(function() local x = bit.band(1, {}) return x end) return e"#,
            b"user_script:4: bad argument #2 to 'band' (number expected, got table)",
        ),
        (
            r#"local ok, e = pcall(function() return bit.bor(1, {}) end) return e"#,
            b"user_script:4: bad argument #2 to 'bor' (number expected, got table)",
        ),
        (
            r#"return tostring(bit.lshift(1, 31)) .. ' ' .. tostring(bit.lshift(1, 32)) .. ' ' .. tostring(bit.lshift(3, -1))"#,
            b"-2147483648 1 -2147483648",
        ),
        (
            r#"return tostring(bit.rshift(-1, 28)) .. ' ' .. tostring(bit.rshift(-256, 4)) .. ' ' .. tostring(bit.rshift(5, 33))"#,
            b"15 268435440 2",
        ),
        (
            r#"return tostring(bit.arshift(-256, 4)) .. ' ' .. tostring(bit.arshift(2^31, 31)) .. ' ' .. tostring(bit.arshift(256, 4))"#,
            b"-16 -1 16",
        ),
        (
            r#"return tostring(bit.rol(0x12345678, 12)) .. ' ' .. tostring(bit.rol(1, 0)) .. ' ' .. tostring(bit.rol(1, 32))"#,
            b"1164411171 1 1",
        ),
        (
            r#"return tostring(bit.ror(0x12345678, 12)) .. ' ' .. tostring(bit.ror(1, 1)) .. ' ' .. tostring(bit.ror(1, 0))"#,
            b"1736516421 -2147483648 1",
        ),
        (
            r#"return tostring(bit.bswap(0x12345678)) .. ' ' .. tostring(bit.bswap(-1)) .. ' ' .. tostring(bit.bswap(0xff))"#,
            b"2018915346 -1 -16777216",
        ),
        (
            r#"return err(bit.lshift, 1)"#,
            b"false bad argument #2 to '?' (number expected, got no value)",
        ),
        (
            r#"return bit.tohex(0x12345678) .. ' ' .. bit.tohex(-1) .. ' ' .. bit.tohex(255, 2) .. ' ' .. bit.tohex(255, -4)"#,
            b"12345678 ffffffff ff 00FF",
        ),
        (
            r#"return bit.tohex(0xabcdef, 12) .. ' ' .. bit.tohex(0xabcdef, -12) .. ' ' .. '[' .. bit.tohex(1, 0) .. ']'"#,
            b"00abcdef 00ABCDEF []",
        ),
        (
            r#"return err(bit.tohex, 1, nil)"#,
            b"false bad argument #2 to '?' (number expected, got nil)",
        ),
        (
            r#"return err(bit.tohex, 1, 'z')"#,
            b"false bad argument #2 to '?' (number expected, got string)",
        ),
        (
            r#"return bit.tohex(-2^31 + 0.4) .. ' ' .. bit.tohex(0x1234, 2^32 + 3)"#,
            b"80000000 234",
        ),
        (
            r#"local n = 0 for k in pairs(bit) do n = n + 1 end return tostring(n)"#,
            b"12",
        ),
    ];

    #[test]
    fn cases() {
        check_all(CASES);
    }
}
