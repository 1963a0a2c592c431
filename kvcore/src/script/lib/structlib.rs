//! `struct`: Roberto Ierusalimschy's struct library as Redis bundles it
//! (`deps/lua/src/lua_struct.c`): `pack`, `unpack` and `size` of binary records described by a
//! format string.
//!
//! The C library describes the machine it runs on; Redis runs on x86-64 Linux, so the native
//! byte order is little-endian, `long` and `size_t` are 8 bytes, `int` is 4 and the largest
//! alignment `!` asks for is 8. Integers are carried in 64 bits (`long`): wider fields (`i9` to
//! `i32`) pack zeros above them and unpack only their low 8 bytes.

use mlua::{Lua, Table, Value};

use super::raise::{self, Args, Outcome, Results, arg_error, error};

/// The widest integer field (`MAXINTSIZE`).
const MAX_INT_SIZE: usize = 32;

/// The alignment `!` without a number asks for: a double's on x86-64.
const MAX_ALIGN: usize = 8;

/// The state the control options change as a format is read.
struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Self {
        Header {
            little: true,
            align: 1,
        }
    }
}

/// A format string being read, one option at a time. It ends at its first NUL, as the C code
/// reads it as a C string.
struct Format<'a> {
    fmt: &'a [u8],
    at: usize,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Self {
        let end = fmt.iter().position(|&c| c == 0).unwrap_or(fmt.len());
        Format {
            fmt: &fmt[..end],
            at: 0,
        }
    }

    fn next_opt(&mut self) -> Option<u8> {
        let c = *self.fmt.get(self.at)?;
        self.at += 1;
        Some(c)
    }

    /// `getnum`: the number that follows, or `default` when no digit does.
    fn number(&mut self, default: usize) -> Outcome<usize> {
        let mut a: i32 = 0;
        let mut any = false;
        while let Some(&c) = self.fmt.get(self.at).filter(|c| c.is_ascii_digit()) {
            let d = i32::from(c - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(error("integral size overflow"));
            }
            a = a * 10 + d;
            self.at += 1;
            any = true;
        }
        Ok(if any { a as usize } else { default })
    }

    /// `optsize`: the size of option `opt`, reading its number if it takes one; 0 for the
    /// options without a size of their own (`s`, the control options, unknown letters).
    fn size(&mut self, opt: u8) -> Outcome<usize> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE {
                    return Err(error(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                size
            }
            _ => 0,
        })
    }

    /// `controloptions`: applies a byte order, alignment or space option; anything else is not
    /// an option.
    fn control(&mut self, opt: u8, h: &mut Header) -> Outcome<()> {
        match opt {
            b' ' => {}
            b'>' => h.little = false,
            b'<' => h.little = true,
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                // The C code keeps the alignment in an `int`.
                let a = a as i32;
                if a <= 0 || a & (a - 1) != 0 {
                    return Err(error(format!("alignment {a} is not a power of 2")));
                }
                h.align = a as usize;
            }
            _ => {
                let mut msg = b"invalid format option '".to_vec();
                msg.push(opt);
                msg.push(b'\'');
                return Err(arg_error(1, msg));
            }
        }
        Ok(())
    }
}

/// `gettoalign`: the padding before an option of `size` bytes at offset `len`. The arithmetic
/// is the C code's, which assumes a power of two: sizes like `i3` get odd padding there too.
fn padding(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & (size - 1))) & (size - 1)
}

/// C's conversion of a double to an unsigned 64-bit integer as GCC emits it on x86-64: values
/// from 2^63 are converted less 2^63 with the top bit put back, and whatever is out of range
/// comes out as 2^63 or 0.
fn to_u64(n: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if n >= TWO63 {
        (raise::number_to_integer(n - TWO63) as u64) ^ (1 << 63)
    } else {
        raise::number_to_integer(n) as u64
    }
}

fn pack(lua: &Lua, args: &Args) -> Outcome<Results> {
    let fmt = args.check_string(lua, 1)?;
    // The C code pushes a nil above its arguments before its buffer, so the first missing
    // argument is a nil, not "no value". (Past it, it would read the buffer's partial strings
    // once the result passes 8 KiB; that is not emulated.)
    let mut args = args.clone();
    args.push_nil();
    let args = &args;
    let fmt = fmt.as_bytes();
    let mut fmt = Format::new(&fmt);
    let mut h = Header::new();
    let mut arg = 2;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next_opt() {
        let size = fmt.size(opt)?;
        out.resize(out.len() + padding(out.len(), &h, opt, size), 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = args.check_number(lua, arg)?;
                arg += 1;
                let value = if n < 0.0 {
                    raise::number_to_integer(n) as u64
                } else {
                    to_u64(n)
                };
                // Bytes past the 8 of a `long` are zeros: the C code shifts its value right
                // eight bits per byte.
                let byte = |i: usize| if i < 8 { (value >> (8 * i)) as u8 } else { 0 };
                if h.little {
                    out.extend((0..size).map(byte));
                } else {
                    out.extend((0..size).rev().map(byte));
                }
            }
            b'x' => out.push(0),
            b'f' => {
                let f = args.check_number(lua, arg)? as f32;
                arg += 1;
                out.extend(if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                });
            }
            b'd' => {
                let d = args.check_number(lua, arg)?;
                arg += 1;
                out.extend(if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = args.check_string(lua, arg)?;
                let s = s.as_bytes();
                arg += 1;
                let size = if size == 0 { s.len() } else { size };
                if s.len() < size {
                    // The C code has already moved past the argument when it checks it, so
                    // it blames the next one.
                    return Err(arg_error(arg as i32, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => fmt.control(opt, &mut h)?,
        }
    }
    Ok(Results::one(Value::String(lua.create_string(out)?)))
}

/// `getinteger`: `bytes` as an integer; only the low 8 bytes of a wider field survive.
fn integer(bytes: &[u8], little: bool, signed: bool) -> f64 {
    let mut l: u64 = 0;
    let mut add = |b: u8| l = (l << 8) | u64::from(b);
    if little {
        bytes.iter().rev().for_each(|&b| add(b));
    } else {
        bytes.iter().for_each(|&b| add(b));
    }
    if !signed {
        return l as f64;
    }
    // The C shift of a 64-bit mask by `size * 8 - 1` wraps its count mod 64 (x86's `shl`).
    let mask = u64::MAX.wrapping_shl((bytes.len() as u32 * 8).wrapping_sub(1));
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, args: &Args) -> Outcome<Results> {
    let fmt = args.check_string(lua, 1)?;
    let fmt = fmt.as_bytes();
    let data = args.check_string(lua, 2)?;
    let data = data.as_bytes();
    let ld = data.len();
    // `size_t pos = luaL_optinteger(...)`: a negative offset becomes huge and passes this check,
    // then fails the length check of the first option.
    let mut pos = args.opt_integer(lua, 3, 1)? as u64 as usize;
    if pos == 0 {
        return Err(arg_error(3, "offset must be 1 or greater"));
    }
    pos -= 1;
    let mut fmt = Format::new(&fmt);
    let mut h = Header::new();
    let mut out = Results::new();
    let too_short = || arg_error(2, "data string too short");
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.size(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            return Err(too_short());
        }
        // Room for this result and the final position, on top of the arguments.
        if !raise::stack_ok(args.top() + out.len(), 2) {
            return Err(error("stack overflow (too many results)"));
        }
        let field = || &data[pos..pos + size];
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = integer(field(), h.little, opt.is_ascii_lowercase());
                out.push(lua, Value::Number(n))?;
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = field().try_into().expect("an f field is 4 bytes");
                let f = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push(lua, Value::Number(f64::from(f)))?;
            }
            b'd' => {
                let b: [u8; 8] = field().try_into().expect("a d field is 8 bytes");
                let d = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push(lua, Value::Number(d))?;
            }
            b'c' => {
                if size == 0 {
                    // `c0` takes its length from the previous result, which must be a number
                    // or a string Lua reads as one; the length replaces it.
                    let n = match out.len() {
                        0 => None,
                        _ => raise::to_number(lua, &out.last()?)?,
                    };
                    let Some(n) = n else {
                        return Err(error("format 'c0' needs a previous size"));
                    };
                    out.pop()?;
                    size = to_u64(n) as usize;
                    if size > ld || pos > ld - size {
                        return Err(too_short());
                    }
                }
                out.push(
                    lua,
                    Value::String(lua.create_string(&data[pos..pos + size])?),
                )?;
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(error("unfinished string in data"));
                };
                out.push(
                    lua,
                    Value::String(lua.create_string(&data[pos..pos + len])?),
                )?;
                size = len + 1;
            }
            _ => fmt.control(opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(lua, Value::Integer(pos.wrapping_add(1) as i64))?;
    Ok(out)
}

fn size(lua: &Lua, args: &Args) -> Outcome<Results> {
    let fmt = args.check_string(lua, 1)?;
    let fmt = fmt.as_bytes();
    let mut fmt = Format::new(&fmt);
    let mut h = Header::new();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_opt() {
        let size = fmt.size(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_error(1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(1, "option 'c0' has no fixed size"));
        }
        // Letters and digits that are not options add nothing here (pack and unpack refuse
        // them).
        if !opt.is_ascii_alphanumeric() {
            fmt.control(opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(Results::one(Value::Integer(pos as i64)))
}

/// The `struct` table.
pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let f = |imp: fn(&Lua, &Args) -> Outcome<Results>| {
        raise::function(lua, move |lua, args| imp(lua, &args))
    };
    t.raw_set("pack", f(pack)?)?;
    t.raw_set("unpack", f(unpack)?)?;
    t.raw_set("size", f(size)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::check::check_all;

    /// Recorded from redis-server 7.0.15 by `tools/recordlua.py`.
    const CASES: &[(&str, &[u8])] = &[
        // Every integer option, both byte orders, signed and unsigned round trips.
        (
            r#"return hex(struct.pack('bBhHlLTiI', -1, 255, -2, 65534, -3, 3, 4, -5, 5))"#,
            b"fffffefffefffdffffffffffffff03000000000000000400000000000000fbffffff05000000",
        ),
        (
            r#"return hex(struct.pack('>bBhHlLTiI', -1, 255, -2, 65534, -3, 3, 4, -5, 5))"#,
            b"fffffffefffefffffffffffffffd00000000000000030000000000000004fffffffb00000005",
        ),
        (
            r#"return table.concat({struct.unpack('<bBhHlLTiI', struct.pack('<bBhHlLTiI', -1, 255, -2, 65534, -3, 3, 4, -5, 5))}, ' ')"#,
            b"-1 255 -2 65534 -3 3 4 -5 5 39",
        ),
        (
            r#"return table.concat({struct.unpack('>bBhHlLTiI', struct.pack('>bBhHlLTiI', -1, 255, -2, 65534, -3, 3, 4, -5, 5))}, ' ')"#,
            b"-1 255 -2 65534 -3 3 4 -5 5 39",
        ),
        (
            r#"return table.concat({struct.unpack('bBhH', struct.pack('bBhH', 200, -1, 40000, -1))}, ' ')"#,
            b"-56 255 -25536 65535 7",
        ),
        (
            r#"return hex(struct.pack('<i1i2i3i5i7i8', 1, 2, 3, 5, 7, -8))"#,
            b"010200030000050000000007000000000000f8ffffffffffffff",
        ),
        (
            r#"return hex(struct.pack('>i3I5', -2, 2^39 + 1))"#,
            b"fffffe8000000001",
        ),
        (
            r#"return table.concat({struct.unpack('<i3I3>i3I3', struct.pack('<i3I3>i3I3', -2, 2^23, -3, 2^23))}, ' ')"#,
            b"-2 8388608 -3 8388608 13",
        ),
        (
            r#"return hex(struct.pack('<i16', -1)) .. ' ' .. hex(struct.pack('>i10', -2))"#,
            b"ffffffffffffffff0000000000000000 0000fffffffffffffffe",
        ),
        (
            r#"return table.concat({struct.unpack('<i16>I10<i9', string.rep('\255', 16) .. string.rep('\1', 10) .. string.rep('\255', 9))}, ' ')"#,
            b"-1 7.2340172838077e+16 -1 36",
        ),
        (
            r#"return hex(struct.pack('<L', 2^64)) .. ' ' .. hex(struct.pack('<L', 2^63)) .. ' ' .. hex(struct.pack('<l', -2^63)) .. ' ' .. hex(struct.pack('<l', -2^64))"#,
            b"0000000000000000 0000000000000080 0000000000000080 0000000000000080",
        ),
        (
            r#"return hex(struct.pack('<L', 0/0)) .. ' ' .. hex(struct.pack('<l', 1/0)) .. ' ' .. hex(struct.pack('<b', 2.9)) .. ' ' .. hex(struct.pack('<b', -2.9))"#,
            b"0000000000000080 0000000000000000 02 fe",
        ),
        (
            r#"return num(struct.unpack('<L', '\255\255\255\255\255\255\255\255')) .. ' ' .. num(struct.unpack('<l', '\0\0\0\0\0\0\0\128'))"#,
            b"1.8446744073709552e+19 -9.2233720368547758e+18",
        ),
        (
            r#"return hex(struct.pack('i0', 5)) .. ' ' .. table.concat({struct.unpack('i0', '')}, ' ')"#,
            b" 0 1",
        ),
        // Floats.
        (
            r#"return hex(struct.pack('<f>f<d>d', 1.5, -2.25, 0.1, -1e300))"#,
            b"0000c03fc01000009a9999999999b93ffe37e43c8800759c",
        ),
        (
            r#"return table.concat({struct.unpack('<f>f<d>d', struct.pack('<f>f<d>d', 1.5, -2.25, 0.1, -1e300))}, ' ')"#,
            b"1.5 -2.25 0.1 -1e+300 25",
        ),
        (
            r#"return num(struct.unpack('f', struct.pack('f', 0.1))) .. ' ' .. hex(struct.pack('f', 1e40)) .. ' ' .. hex(struct.pack('d', 0/0))"#,
            b"0.10000000149011612 0000807f 000000000000f8ff",
        ),
        // Strings: c with and without count, c0, s.
        (
            r#"return hex(struct.pack('c3c1c', 'abcdef', 'xy', 'q'))"#,
            b"6162637871",
        ),
        (
            r#"return hex(struct.pack('c0s', 'abc', 'de'))"#,
            b"616263646500",
        ),
        (
            r#"return table.concat({struct.unpack('c3c1s', 'abcdxy\0z')}, ' ')"#,
            b"abc d xy 8",
        ),
        (
            r#"return table.concat({struct.unpack('Bc0B', '\3abc\7')}, ' ')"#,
            b"abc 7 6",
        ),
        (
            r#"return table.concat({struct.unpack('c1c0', '3abcd')}, ' ')"#,
            b"abc 5",
        ),
        (
            r#"return err(struct.unpack, 'c0', 'abc')"#,
            b"false format 'c0' needs a previous size",
        ),
        (
            r#"return err(struct.unpack, 'c1c0', 'xabc')"#,
            b"false format 'c0' needs a previous size",
        ),
        (
            r#"return err(struct.unpack, 'Bc0', '\9abc')"#,
            b"false bad argument #2 to '?' (data string too short)",
        ),
        (
            r#"return err(struct.unpack, 's', 'abc')"#,
            b"false unfinished string in data",
        ),
        (
            r#"return err(struct.pack, 'c5', 'abc')"#,
            b"false bad argument #3 to '?' (string too short)",
        ),
        (
            r#"return err(struct.pack, 'i c5', 1, 'abc')"#,
            b"false bad argument #4 to '?' (string too short)",
        ),
        (
            r#"local x = struct.pack('s', 'a\0b') return hex(x)"#,
            b"61006200",
        ),
        // Padding and alignment.
        (
            r#"return hex(struct.pack('bxbxxh', 1, 2, 3))"#,
            b"01000200000300",
        ),
        (
            r#"return hex(struct.pack('!bibhbdbl', 1, 2, 3, 4, 5, 6, 7, 8))"#,
            b"01000000020000000300040005000000000000000000184007000000000000000800000000000000",
        ),
        (
            r#"return hex(struct.pack('!4bdbh!2bi', 1, 2, 3, 4, 5, 6))"#,
            b"01000000000000000000004003000400050006000000",
        ),
        (
            r#"return hex(struct.pack('!8bi3bi5', 1, 2, 3, 4))"#,
            b"010000020000030400000000",
        ),
        (
            r#"return hex(struct.pack('!bc3i', 1, 'abc', 2))"#,
            b"0161626302000000",
        ),
        (
            r#"return table.concat({struct.unpack('!bibd', struct.pack('!bibd', 1, 2, 3, 4.5))}, ' ')"#,
            b"1 2 3 4.5 25",
        ),
        (
            r#"return err(struct.pack, '!3b', 1)"#,
            b"false alignment 3 is not a power of 2",
        ),
        (
            r#"return err(struct.pack, '!0b', 1)"#,
            b"false alignment 0 is not a power of 2",
        ),
        // size.
        (
            r#"return table.concat({struct.size('bhlLTiIfdx'), struct.size('!bd'), struct.size('!4bd'), struct.size('c10i3'), struct.size(''), struct.size('!bxi')}, ' ')"#,
            b"48 16 12 13 0 8",
        ),
        (r#"return tostring(struct.size('zq9 bh'))"#, b"3"),
        (
            r#"return err(struct.size, 'bs')"#,
            b"false bad argument #1 to '?' (option 's' has no fixed size)",
        ),
        (
            r#"return err(struct.size, 'c0')"#,
            b"false bad argument #1 to '?' (option 'c0' has no fixed size)",
        ),
        (
            r#"return err(struct.size, 'b?')"#,
            b"false bad argument #1 to '?' (invalid format option '?')",
        ),
        (
            r#"return err(struct.size, 'i33')"#,
            b"false integral size 33 is larger than limit of 32",
        ),
        (
            r#"return err(struct.size, 'i99999999999')"#,
            b"false integral size overflow",
        ),
        (
            r#"return err(struct.size, '!5')"#,
            b"false alignment 5 is not a power of 2",
        ),
        (
            r#"return tostring(struct.size(12)) .. ' ' .. tostring(struct.size('b\0h'))"#,
            b"0 1",
        ),
        // Bad options and arguments.
        (
            r#"return err(struct.pack, 'bq', 1)"#,
            b"false bad argument #1 to '?' (invalid format option 'q')",
        ),
        (
            r#"return err(struct.pack, 'b')"#,
            b"false bad argument #2 to '?' (number expected, got nil)",
        ),
        (
            r#"return err(struct.pack, 'b', 'x')"#,
            b"false bad argument #2 to '?' (number expected, got string)",
        ),
        (r#"return err(struct.pack, 'b', '12')"#, b"true \x0c"),
        (
            r#"return err(struct.pack, {})"#,
            b"false bad argument #1 to '?' (string expected, got table)",
        ),
        (r#"return err(struct.pack, 'c', 5)"#, b"true 5"),
        (
            r#"return err(struct.unpack, 'z', 'abc')"#,
            b"false bad argument #1 to '?' (invalid format option 'z')",
        ),
        (
            r#"return err(struct.unpack, 'b')"#,
            b"false bad argument #2 to '?' (string expected, got no value)",
        ),
        (
            r#"local ok, e = pcall(function() local x = struct.pack('i', 'z') return x end) return e"#,
            b"user_script:4: bad argument #2 to 'pack' (number expected, got string)",
        ),
        (
            r#"local ok, e = pcall(function() return struct.unpack('>', 'abc', 5) end) return e"#,
            b"user_script:4: bad argument #2 to 'unpack' (data string too short)",
        ),
        // unpack positions.
        (
            r#"return table.concat({struct.unpack('bb', '\1\2\3\4', 2)}, ' ')"#,
            b"2 3 4",
        ),
        (
            r#"return table.concat({struct.unpack('>h', 'xx\1\2', 3)}, ' ')"#,
            b"258 5",
        ),
        (
            r#"return table.concat({struct.unpack('', 'abc', 4)}, ' ')"#,
            b"4",
        ),
        (
            r#"return table.concat({struct.unpack('', 'abc', -1)}, ' ')"#,
            b"-1",
        ),
        (
            r#"return err(struct.unpack, 'b', 'abc', 0)"#,
            b"false bad argument #3 to '?' (offset must be 1 or greater)",
        ),
        (
            r#"return err(struct.unpack, 'b', 'abc', -1)"#,
            b"false bad argument #2 to '?' (data string too short)",
        ),
        (
            r#"return err(struct.unpack, 'b', 'abc', 4)"#,
            b"false bad argument #2 to '?' (data string too short)",
        ),
        (
            r#"return err(struct.unpack, 'i', 'abc')"#,
            b"false bad argument #2 to '?' (data string too short)",
        ),
        (
            r#"return table.concat({struct.unpack('!bi', '\1\0\0\0\2\0\0\0')}, ' ')"#,
            b"1 2 9",
        ),
        (
            r#"return table.concat({struct.unpack('x b x', 'a\5b')}, ' ')"#,
            b"5 4",
        ),
        (
            r#"return tostring(select('#', struct.unpack(string.rep('b', 7997), string.rep('\1', 7997))))"#,
            b"7998",
        ),
        (
            r#"return err(struct.unpack, string.rep('b', 7998), string.rep('\1', 7998))"#,
            b"false stack overflow (too many results)",
        ),
    ];

    #[test]
    fn cases() {
        check_all(CASES);
    }
}
