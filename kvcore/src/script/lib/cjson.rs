//! `cjson`: Lua CJSON 2.1.0 as Redis bundles it (`deps/lua/src/lua_cjson.c`): `encode`,
//! `decode`, the configuration functions, `new` and `null`.
//!
//! Each module table (the global one and every `cjson.new()`) has its own configuration,
//! shared by its functions. Numbers are written with `%.14g` (see [`super::fpconv`]); a table
//! is an array when all its keys are positive integers and it is not excessively sparse,
//! otherwise an object; JSON `null` decodes to `cjson.null`, a NULL light userdata.
//!
//! The decoder reads its input as the C code reads a C string: a NUL byte ends it.

use std::sync::Arc;

use mlua::{Function, Lua, Table, Value};
use parking_lot::Mutex;

mod decode;

use super::fpconv;
use super::raise::{self, Args, Outcome, Results, arg_error, error};

/// The settings one module table's functions share.
#[derive(Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0: refuse NaN and infinity; 1: write them (`nan`, `inf`); 2: write `null`.
    encode_invalid_numbers: i32,
    encode_number_precision: i32,
    encode_keep_buffer: bool,
    decode_invalid_numbers: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: true,
            decode_invalid_numbers: true,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

// ===== Configuration =====

/// `json_arg_init`: at most `n` arguments.
fn at_most(args: &Args, n: usize) -> Outcome<()> {
    if args.top() > n {
        return Err(arg_error(n as i32 + 1, "found too many arguments"));
    }
    Ok(())
}

/// `json_integer_option`: sets `setting` from argument `i` unless it is nil, within
/// `min..=max` (the C code blames argument 1 whichever it is), and returns it.
fn integer_option(
    lua: &Lua,
    args: &Args,
    i: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> Outcome<Value> {
    if !args.is_none_or_nil(i) {
        // Kept in a C `int`: the integer's low 32 bits.
        let value = args.check_integer(lua, i)? as i32;
        if !(min..=max).contains(&value) {
            return Err(arg_error(
                1,
                format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = value;
    }
    Ok(Value::Integer((*setting).into()))
}

/// `json_enum_option` with `bool_true` 1: argument `i` as a boolean or one of `options`
/// (`off`/`on` by default); returns the setting as a boolean when it is 0 or 1, else its name.
fn enum_option(
    lua: &Lua,
    args: &Args,
    i: usize,
    setting: &mut i32,
    options: &[&str],
) -> Outcome<Value> {
    match args.get(i) {
        Value::Nil => {}
        Value::Boolean(b) => *setting = i32::from(*b),
        _ => {
            let name = args.check_string(lua, i)?;
            let name = name.as_bytes();
            let Some(k) = options.iter().position(|o| o.as_bytes() == &name[..]) else {
                let mut msg = b"invalid option '".to_vec();
                // The C code formats the name with %s: it stops at a NUL.
                msg.extend(name.iter().take_while(|&&c| c != 0));
                msg.push(b'\'');
                return Err(arg_error(i as i32, msg));
            };
            *setting = k as i32;
        }
    }
    Ok(match *setting {
        0 | 1 => Value::Boolean(*setting == 1),
        k => Value::String(lua.create_string(options[k as usize])?),
    })
}

const ON_OFF: &[&str] = &["off", "on"];

fn encode_sparse_array(lua: &Lua, args: &Args, cfg: &Shared) -> Outcome<Results> {
    at_most(args, 3)?;
    let mut c = cfg.lock();
    let mut convert = i32::from(c.sparse_convert);
    let a = enum_option(lua, args, 1, &mut convert, ON_OFF)?;
    c.sparse_convert = convert != 0;
    let b = integer_option(lua, args, 2, &mut c.sparse_ratio, 0, i32::MAX)?;
    let d = integer_option(lua, args, 3, &mut c.sparse_safe, 0, i32::MAX)?;
    let mut out = Results::new();
    for v in [a, b, d] {
        out.push(lua, v)?;
    }
    Ok(out)
}

fn bool_setting(
    lua: &Lua,
    args: &Args,
    cfg: &Shared,
    field: fn(&mut Config) -> &mut bool,
) -> Outcome<Results> {
    at_most(args, 1)?;
    let mut c = cfg.lock();
    let mut v = i32::from(*field(&mut c));
    let out = enum_option(lua, args, 1, &mut v, ON_OFF)?;
    *field(&mut c) = v != 0;
    Ok(Results::one(out))
}

fn int_setting(
    lua: &Lua,
    args: &Args,
    cfg: &Shared,
    field: fn(&mut Config) -> &mut i32,
    max: i32,
) -> Outcome<Results> {
    at_most(args, 1)?;
    let mut c = cfg.lock();
    Ok(Results::one(integer_option(
        lua,
        args,
        1,
        field(&mut c),
        1,
        max,
    )?))
}

fn encode_invalid_numbers(lua: &Lua, args: &Args, cfg: &Shared) -> Outcome<Results> {
    at_most(args, 1)?;
    let mut c = cfg.lock();
    let out = enum_option(
        lua,
        args,
        1,
        &mut c.encode_invalid_numbers,
        &["off", "on", "null"],
    )?;
    Ok(Results::one(out))
}

// ===== Encoding =====

/// The escape of each byte that needs one in a JSON string: control characters, `"`, `\`,
/// `/` and DEL.
fn escape(c: u8) -> Option<&'static str> {
    const CONTROL: [&str; 32] = [
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f", "\\u0010", "\\u0011",
        "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019",
        "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    ];
    match c {
        0..=31 => Some(CONTROL[c as usize]),
        b'"' => Some("\\\""),
        b'/' => Some("\\/"),
        b'\\' => Some("\\\\"),
        0x7f => Some("\\u007f"),
        _ => None,
    }
}

/// `json_encode_exception`: "Cannot serialise <type>: <reason>".
fn cannot(v: &Value, reason: &str) -> raise::Raise {
    error(format!(
        "Cannot serialise {}: {reason}",
        raise::type_name(v)
    ))
}

struct Encoder {
    cfg: Config,
    out: Vec<u8>,
}

impl Encoder {
    fn string(&mut self, s: &[u8]) {
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        for &c in s {
            match escape(c) {
                Some(e) => self.out.extend_from_slice(e.as_bytes()),
                None => self.out.push(c),
            }
        }
        self.out.push(b'"');
    }

    fn number(&mut self, v: &Value) -> Outcome<()> {
        // Only number values and number keys get here.
        let n = raise::number(v).expect("called on numbers");
        if !n.is_finite() {
            match self.cfg.encode_invalid_numbers {
                0 => return Err(cannot(v, "must not be NaN or Inf")),
                // Written as glibc prints it, except NaN, which may print as "-nan".
                1 if n.is_nan() => {
                    self.out.extend_from_slice(b"nan");
                    return Ok(());
                }
                1 => {}
                _ => {
                    self.out.extend_from_slice(b"null");
                    return Ok(());
                }
            }
        }
        let text = fpconv::format_g(n, self.cfg.encode_number_precision as usize);
        self.out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    /// `lua_array_length`: the length to encode `t` as an array with, or `None` for an
    /// object. Errors on an excessively sparse array unless those convert to objects.
    fn array_length(&self, t: &Table) -> Outcome<Option<usize>> {
        // The C code keeps the largest key in an `int`, assigning doubles to it with C's
        // conversion (`i32::MIN` beyond its range), and counts keys in an `int` too.
        let mut max: i32 = 0;
        let mut items: i32 = 0;
        for pair in t.pairs::<Value, Value>() {
            let (k, _) = pair?;
            match raise::number(&k) {
                Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                    if k > f64::from(max) {
                        max = if k < 2_147_483_648.0 {
                            k as i32
                        } else {
                            i32::MIN
                        };
                    }
                    items = items.wrapping_add(1);
                }
                _ => return Ok(None),
            }
        }
        let c = &self.cfg;
        if c.sparse_ratio > 0 && max > items.wrapping_mul(c.sparse_ratio) && max > c.sparse_safe {
            if !c.sparse_convert {
                return Err(cannot(&Value::Table(t.clone()), "excessively sparse array"));
            }
            return Ok(None);
        }
        Ok((max > 0).then_some(max as usize))
    }

    /// A scalar (anything but a table) as JSON.
    fn scalar(&mut self, v: &Value) -> Outcome<()> {
        match v {
            Value::String(s) => self.string(&s.as_bytes()),
            Value::Integer(_) | Value::Number(_) => self.number(v)?,
            Value::Boolean(true) => self.out.extend_from_slice(b"true"),
            Value::Boolean(false) => self.out.extend_from_slice(b"false"),
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(p) if p.0.is_null() => self.out.extend_from_slice(b"null"),
            _ => return Err(cannot(v, "type not supported")),
        }
        Ok(())
    }

    /// An object key: a number (quoted) or a string.
    fn key(&mut self, k: &Value) -> Outcome<()> {
        match k {
            Value::Integer(_) | Value::Number(_) => {
                self.out.push(b'"');
                self.number(k)?;
                self.out.extend_from_slice(b"\":");
            }
            Value::String(s) => {
                self.string(&s.as_bytes());
                self.out.push(b':');
            }
            _ => return Err(cannot(k, "table key must be a number or string")),
        }
        Ok(())
    }

    /// `json_append_data` on the whole value, depth first, with an explicit stack of the
    /// tables being written: a script decides how deep its tables nest, and Rust frames are
    /// larger than the C ones (the C code stops at `MAX_C_STACK` slots, about 4000 to 8000
    /// levels).
    fn run(&mut self, lua: &Lua, root: &Value, next: &Function) -> Outcome<()> {
        let mut open: Vec<Open> = Vec::new();
        // The open tables and the last key written of each, at 2d-1 and 2d for the d-th
        // open one: mlua keeps every value Rust holds in one bounded Lua stack, too small for
        // the thousands of levels the C code reaches.
        let tables = lua.create_table()?;
        // The C function's stack slots: its argument, then per open table the element it
        // pushed (an array's value; an object's key and value).
        let mut held = 1;
        let mut pending = Some(root.clone());
        loop {
            match pending.take() {
                Some(Value::Table(t)) => {
                    let depth = open.len() as i32 + 1;
                    // Room for a key, a value and an error message (`lua_checkstack(l, 3)`).
                    if depth > self.cfg.encode_max_depth || !raise::stack_ok(held, 3) {
                        return Err(error(format!(
                            "Cannot serialise, excessive nesting ({depth})"
                        )));
                    }
                    let array = self.array_length(&t)?;
                    tables.raw_set(2 * open.len() + 1, t)?;
                    match array {
                        Some(len) => {
                            self.out.push(b'[');
                            open.push(Open::Array { len, i: 0 });
                            held += 1;
                        }
                        None => {
                            self.out.push(b'{');
                            open.push(Open::Object { first: true });
                            held += 2;
                        }
                    }
                }
                Some(v) => self.scalar(&v)?,
                None => {}
            }
            let d = open.len();
            match open.last_mut() {
                None => return Ok(()),
                Some(Open::Array { len, i }) if *i < *len => {
                    if *i > 0 {
                        self.out.push(b',');
                    }
                    *i += 1;
                    let t: Table = tables.raw_get(2 * d - 1)?;
                    pending = Some(t.raw_get(*i)?);
                }
                Some(Open::Object { first }) => {
                    let t: Value = tables.raw_get(2 * d - 1)?;
                    let key: Value = tables.raw_get(2 * d)?;
                    let (k, v): (Value, Value) = next.call((t, key))?;
                    if k.is_nil() {
                        self.out.push(b'}');
                        open.pop();
                        tables.raw_set(2 * d - 1, Value::Nil)?;
                        tables.raw_set(2 * d, Value::Nil)?;
                        held -= 2;
                        continue;
                    }
                    if !*first {
                        self.out.push(b',');
                    }
                    *first = false;
                    self.key(&k)?;
                    tables.raw_set(2 * d, k)?;
                    pending = Some(v);
                }
                Some(Open::Array { .. }) => {
                    self.out.push(b']');
                    open.pop();
                    tables.raw_set(2 * d - 1, Value::Nil)?;
                    held -= 1;
                }
            }
        }
    }
}

/// A table being written (the table itself is kept in a Lua table, see [`Encoder::run`]).
enum Open {
    Array { len: usize, i: usize },
    Object { first: bool },
}

fn encode(lua: &Lua, args: &Args, cfg: &Shared, next: &Function) -> Outcome<Results> {
    if args.top() != 1 {
        return Err(arg_error(1, "expected 1 argument"));
    }
    let mut e = Encoder {
        cfg: *cfg.lock(),
        out: Vec::new(),
    };
    e.run(lua, args.get(1), next)?;
    Ok(Results::one(Value::String(lua.create_string(e.out)?)))
}

// ===== The module =====

/// A `cjson` table with a configuration of its own (the global one, and `cjson.new()`).
pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    type Imp = fn(&Lua, &Args, &Shared) -> Outcome<Results>;
    let f = |imp: Imp| {
        let cfg = cfg.clone();
        raise::function(lua, move |lua, args| imp(lua, &args, &cfg))
    };
    // Lua's own `next` walks objects: mlua's pair iterator borrows its table, so it cannot
    // sit in the encoder's stack of open tables.
    let next: Function = lua.globals().raw_get("next")?;
    t.raw_set("encode", {
        let cfg = cfg.clone();
        raise::function(lua, move |lua, args| encode(lua, &args, &cfg, &next))?
    })?;
    t.raw_set("decode", f(decode::decode)?)?;
    t.raw_set("encode_sparse_array", f(encode_sparse_array)?)?;
    t.raw_set(
        "encode_max_depth",
        f(|l, a, c| int_setting(l, a, c, |c| &mut c.encode_max_depth, i32::MAX))?,
    )?;
    t.raw_set(
        "decode_max_depth",
        f(|l, a, c| int_setting(l, a, c, |c| &mut c.decode_max_depth, i32::MAX))?,
    )?;
    t.raw_set(
        "encode_number_precision",
        f(|l, a, c| int_setting(l, a, c, |c| &mut c.encode_number_precision, 14))?,
    )?;
    t.raw_set(
        "encode_keep_buffer",
        f(|l, a, c| bool_setting(l, a, c, |c| &mut c.encode_keep_buffer))?,
    )?;
    t.raw_set("encode_invalid_numbers", f(encode_invalid_numbers)?)?;
    t.raw_set(
        "decode_invalid_numbers",
        f(|l, a, c| bool_setting(l, a, c, |c| &mut c.decode_invalid_numbers))?,
    )?;
    t.raw_set(
        "new",
        raise::function(lua, |lua, _args| {
            Ok(Results::one(Value::Table(module(lua)?)))
        })?,
    )?;
    t.raw_set("null", Value::NULL)?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::check::check_all;

    /// Recorded from redis-server 7.0.15 by `tools/recordlua.py`.
    const CASES: &[(&str, &[u8])] = &[
        (r#"return cjson._NAME .. ' ' .. cjson._VERSION .. ' ' .. type(cjson.null) .. ' ' .. tostring(cjson.null == nil)"#, b"cjson 2.1.0 userdata false"),
        (r#"local n = 0 for k in pairs(cjson) do n = n + 1 end return tostring(n)"#, b"13"),
        // Scalars and numbers.
        (r#"return cjson.encode({1, 2, 3}) .. cjson.encode('x') .. cjson.encode(true) .. cjson.encode(false) .. cjson.encode(nil) .. cjson.encode(cjson.null)"#, b"[1,2,3]\"x\"truefalsenullnull"),
        (r#"local t = {} for _, n in ipairs({0, -0.0, 1.5, -2.25, 0.1, 1/3, 1e14, 1e15, 123456789012345, 1e-4, 1e-5, 1e100, -1e-300, 2^53, 5e-324, 1.7976931348623157e308, 100, 0.5}) do t[#t + 1] = cjson.encode(n) end return table.concat(t, ' ')"#, b"0 0 1.5 -2.25 0.1 0.33333333333333 1e+14 1e+15 1.2345678901234e+14 0.0001 1e-05 1e+100 -1e-300 9.007199254741e+15 4.9406564584125e-324 1.7976931348623e+308 100 0.5"),
        (r#"local t = {} for p = 1, 14 do cjson.encode_number_precision(p) t[#t + 1] = cjson.encode(math.pi * 1000) .. '/' .. cjson.encode(2.5) .. '/' .. cjson.encode(0.125) .. '/' .. cjson.encode(9.5) end return table.concat(t, ' ')"#, b"3e+03/2/0.1/1e+01 3.1e+03/2.5/0.12/9.5 3.14e+03/2.5/0.125/9.5 3142/2.5/0.125/9.5 3141.6/2.5/0.125/9.5 3141.59/2.5/0.125/9.5 3141.593/2.5/0.125/9.5 3141.5927/2.5/0.125/9.5 3141.59265/2.5/0.125/9.5 3141.592654/2.5/0.125/9.5 3141.5926536/2.5/0.125/9.5 3141.59265359/2.5/0.125/9.5 3141.59265359/2.5/0.125/9.5 3141.5926535898/2.5/0.125/9.5"),
        (r#"return err(cjson.encode, 1/0) .. ' | ' .. err(cjson.encode, 0/0) .. ' | ' .. err(cjson.encode, {-1/0})"#, b"false Cannot serialise number: must not be NaN or Inf | false Cannot serialise number: must not be NaN or Inf | false Cannot serialise number: must not be NaN or Inf"),
        (r#"cjson.encode_invalid_numbers(true) local a = cjson.encode({1/0, -1/0, 0/0, -(0/0)}) cjson.encode_invalid_numbers('null') return a .. ' ' .. cjson.encode({1/0, 0/0, [1.5] = 1})"#, b"[inf,-inf,nan,nan] {\"1\":null,\"2\":null,\"1.5\":1}"),
        (r#"return tostring(cjson.encode_invalid_numbers()) .. ' ' .. tostring(cjson.encode_invalid_numbers('on')) .. ' ' .. tostring(cjson.encode_invalid_numbers('null')) .. ' ' .. tostring(cjson.encode_invalid_numbers(false))"#, b"false true null false"),
        // Strings and escapes.
        (r#"local s = '' for i = 0, 127 do s = s .. string.char(i) end return cjson.encode(s)"#, b"\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f !\\\"#$%&'()*+,-.\\/0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\\u007f\""),
        (r#"return cjson.encode('\128\255\195\169 a/b "q" \\')"#, b"\"\x80\xff\xc3\xa9 a\\/b \\\"q\\\" \\\\\""),
        (r#"return cjson.encode({['a/b'] = 'c\0d'})"#, b"{\"a\\/b\":\"c\\u0000d\"}"),
        // Arrays, objects, sparse arrays.
        (r#"return cjson.encode({}) .. cjson.encode({{}}) .. cjson.encode({a = {}}) .. cjson.encode({[1] = 1, [2] = 2, [4] = 4})"#, b"{}[{}]{\"a\":{}}[1,2,null,4]"),
        (r#"return cjson.encode({a = 1}) .. cjson.encode({[1.5] = 'x'}) .. cjson.encode({[-1] = 'y'}) .. cjson.encode({[0] = 'z'})"#, b"{\"a\":1}{\"1.5\":\"x\"}{\"-1\":\"y\"}{\"0\":\"z\"}"),
        (r#"return cjson.encode({1, 2, nil, 4}) .. ' ' .. cjson.encode({[10] = 1}) .. ' ' .. cjson.encode({[3] = 1, [5] = 2})"#, b"[1,2,null,4] [null,null,null,null,null,null,null,null,null,1] [null,null,1,null,2]"),
        (r#"return err(cjson.encode, {[11] = 1})"#, b"false Cannot serialise table: excessively sparse array"),
        (r#"return err(cjson.encode, {[1] = 1, [20] = 2})"#, b"false Cannot serialise table: excessively sparse array"),
        (r#"return cjson.encode({[1] = 1, [2] = 2, [3] = 3, [12] = 4, [11] = 5, [10] = 6})"#, b"[1,2,3,null,null,null,null,null,null,6,5,4]"),
        (r#"return tostring(cjson.encode_sparse_array()) .. ' ' .. table.concat({select(2, cjson.encode_sparse_array())}, ',')"#, b"false 2,10"),
        (r#"cjson.encode_sparse_array(true) return cjson.encode({[11] = 1}) .. ' ' .. cjson.encode({[1] = 'a', [30] = 'b', x = nil})"#, b"{\"11\":1} {\"1\":\"a\",\"30\":\"b\"}"),
        (r#"cjson.encode_sparse_array(false, 0) return cjson.encode({[20] = 1})"#, b"[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,1]"),
        (r#"cjson.encode_sparse_array(nil, 1, 0) return err(cjson.encode, {[1] = 1, [3] = 3})"#, b"false Cannot serialise table: excessively sparse array"),
        (r#"cjson.encode_sparse_array(nil, 3, 2) return cjson.encode({[1] = 1, [3] = 3}) .. ' ' .. err(cjson.encode, {[4] = 4})"#, b"[1,null,3] false Cannot serialise table: excessively sparse array"),
        (r#"return cjson.encode({[2^31] = 1}) .. ' ' .. cjson.encode({[1] = 1, [2^40] = 2})"#, b"{\"2147483648\":1} {\"1\":1,\"1099511627776\":2}"),
        (r#"return err(cjson.encode, {[true] = 1}) .. ' | ' .. err(cjson.encode, {[{}] = 1}) .. ' | ' .. err(cjson.encode, {tostring})"#, b"false Cannot serialise boolean: table key must be a number or string | false Cannot serialise table: table key must be a number or string | false Cannot serialise function: type not supported"),
        (r#"return err(cjson.encode, {coroutine.create(function() end)}) .. ' | ' .. err(cjson.encode, {1, nil, {a = {x = tostring}}})"#, b"false Cannot serialise thread: type not supported | false Cannot serialise function: type not supported"),
        (r#"return err(cjson.encode, {[1/0] = 1}) .. ' | ' .. err(cjson.encode, {[0/0 == 0/0 and 1 or 2] = 1})"#, b"false Cannot serialise number: must not be NaN or Inf | true [null,1]"),
        (r#"return cjson.encode({x = {y = {z = {1, {true, false, cjson.null}}}}})"#, b"{\"x\":{\"y\":{\"z\":[1,[true,false,null]]}}}"),
        // Nesting depth.
        (r#"local t = {} local c = t for i = 1, 999 do c[1] = {} c = c[1] end return #cjson.encode(t) .. ''"#, b"2000"),
        (r#"local t = {} local c = t for i = 1, 1000 do c[1] = {} c = c[1] end return err(cjson.encode, t)"#, b"false Cannot serialise, excessive nesting (1001)"),
        (r#"local t = {} t[1] = t return err(cjson.encode, t)"#, b"false Cannot serialise, excessive nesting (1001)"),
        (r#"cjson.encode_max_depth(3) local a = cjson.encode({{{1}}}) return a .. ' ' .. err(cjson.encode, {{{{1}}}}) .. ' ' .. tostring(cjson.encode_max_depth())"#, b"[[[1]]] false Cannot serialise, excessive nesting (4) 3"),
        (r#"cjson.decode_max_depth(2) return tostring(cjson.decode('[[1]]')[1][1]) .. ' ' .. err(cjson.decode, '[[[1]]]') .. ' ' .. err(cjson.decode, '{"a":{"b":{}}}')"#, b"1 false Found too many nested data structures (3) at character 3 false Found too many nested data structures (3) at character 11"),
        (r#"return err(cjson.decode, string.rep('[', 1001) .. string.rep(']', 1001))"#, b"false Found too many nested data structures (1001) at character 1001"),
        (r#"return tostring(#cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)))"#, b"1"),
        (r#"cjson.decode_max_depth(100000) local t = cjson.decode(string.rep('[', 5000) .. string.rep(']', 5000)) local n = 0 while t[1] do t = t[1] n = n + 1 end return n .. ' ' .. err(cjson.decode, string.rep('[', 9000))"#, b"4999 false Found too many nested data structures (7999) at character 7999"),
        (r#"cjson.decode_max_depth(100000) return err(cjson.decode, string.rep('{"a":', 5000))"#, b"false Found too many nested data structures (4000) at character 19996"),
        (r#"cjson.encode_max_depth(100000) local t = {} local c = t for i = 1, 5000 do c[1] = {} c = c[1] end return #cjson.encode(t) .. ' ' .. err(cjson.encode, (function() local t = {} local c = t for i = 1, 9000 do c[1] = {} c = c[1] end return t end)())"#, b"10002 false Cannot serialise, excessive nesting (7998)"),
        (r#"cjson.encode_max_depth(100000) return err(cjson.encode, (function() local t = {} local c = t for i = 1, 5000 do c.a = {} c = c.a end return t end)())"#, b"false Cannot serialise, excessive nesting (4000)"),
        // Configuration errors and returns.
        (r#"return err(cjson.encode_max_depth, 0) .. ' | ' .. err(cjson.encode_max_depth, 'x') .. ' | ' .. err(cjson.encode_max_depth, 1, 2)"#, b"false bad argument #1 to '?' (expected integer between 1 and 2147483647) | false bad argument #1 to '?' (number expected, got string) | false bad argument #2 to '?' (found too many arguments)"),
        (r#"return err(cjson.encode_number_precision, 15) .. ' | ' .. err(cjson.encode_number_precision, 0) .. ' | ' .. tostring(cjson.encode_number_precision('3'))"#, b"false bad argument #1 to '?' (expected integer between 1 and 14) | false bad argument #1 to '?' (expected integer between 1 and 14) | 3"),
        (r#"return err(cjson.encode_sparse_array, 'maybe') .. ' | ' .. err(cjson.encode_sparse_array, nil, -1) .. ' | ' .. err(cjson.encode_sparse_array, nil, nil, 'x') .. ' | ' .. err(cjson.encode_sparse_array, 1, 2, 3, 4)"#, b"false bad argument #1 to '?' (invalid option 'maybe') | false bad argument #1 to '?' (expected integer between 0 and 2147483647) | false bad argument #3 to '?' (number expected, got string) | false bad argument #4 to '?' (found too many arguments)"),
        (r#"return err(cjson.encode_keep_buffer, 'yes') .. ' | ' .. err(cjson.encode_keep_buffer, {}) .. ' | ' .. tostring(cjson.encode_keep_buffer('off')) .. ' ' .. tostring(cjson.encode_keep_buffer()) .. ' ' .. cjson.encode({1})"#, b"false bad argument #1 to '?' (invalid option 'yes') | false bad argument #1 to '?' (string expected, got table) | false false [1]"),
        (r#"return err(cjson.encode_invalid_numbers, 'nan') .. ' | ' .. err(cjson.decode_invalid_numbers, 1) .. ' | ' .. tostring(cjson.decode_invalid_numbers(false))"#, b"false bad argument #1 to '?' (invalid option 'nan') | false bad argument #1 to '?' (invalid option '1') | false"),
        (r#"return tostring(cjson.encode_max_depth(2^32 + 5)) .. ' ' .. err(cjson.decode_max_depth, 2^31)"#, b"5 false bad argument #1 to '?' (expected integer between 1 and 2147483647)"),
        (r#"return err(cjson.encode) .. ' | ' .. err(cjson.encode, 1, 2) .. ' | ' .. err(cjson.decode) .. ' | ' .. err(cjson.decode, '1', 2) .. ' | ' .. err(cjson.decode, {})"#, b"false bad argument #1 to '?' (expected 1 argument) | false bad argument #1 to '?' (expected 1 argument) | false bad argument #1 to '?' (expected 1 argument) | false bad argument #1 to '?' (expected 1 argument) | false bad argument #1 to '?' (string expected, got table)"),
        (r#"local ok, e = pcall(function() local x = cjson.encode() return x end) return e"#, b"user_script:4: bad argument #1 to 'encode' (expected 1 argument)"),
        (r#"local ok, e = pcall(function() return cjson.decode('[1,') end) return e"#, b"user_script:4: Expected value but found T_END at character 4"),
        // new(): a separate configuration.
        (r#"local c = cjson.new() c.encode_number_precision(3) return c.encode(math.pi) .. ' ' .. cjson.encode(math.pi) .. ' ' .. tostring(c.null == cjson.null) .. ' ' .. c._VERSION .. ' ' .. type(c.new().encode)"#, b"3.14 3.1415926535898 true 2.1.0 function"),
        // Decoding.
        (r#"local t = cjson.decode('{"a":[1,2,{"b":null}],"c":"d","e":true,"f":false}') return table.concat({tostring(t.a[1]), tostring(t.a[2]), tostring(t.a[3].b == cjson.null), t.c, tostring(t.e), tostring(t.f)}, ' ')"#, b"1 2 true d true false"),
        (r#"local t = {} for _, s in ipairs({'0', '-0', '1.5', '-2.5e3', '1E2', '1e-2', '123456789012345678', '0.1', '1e400', '-1e400', '1e-400'}) do t[#t + 1] = num(cjson.decode(s)) end return table.concat(t, ' ')"#, b"0 -0 1.5 -2500 100 0.01 1.2345678901234568e+17 0.10000000000000001 inf -inf 0"),
        (r#"local t = {} for _, s in ipairs({'+1', '007', '0x1F', '-0x10', 'Infinity', '-Infinity', 'inf', 'NaN', 'nan', '1.', '.5', '0x1p4', '0x.8', ' \t\n\r 5 '}) do local ok, v = pcall(cjson.decode, s) t[#t + 1] = ok and num(v) or v end return table.concat(t, ' | ')"#, b"1 | 7 | 31 | -16 | inf | -inf | inf | nan | nan | 1 | Expected value but found invalid token at character 1 | 16 | 0.5 | 5"),
        (r#"cjson.decode_invalid_numbers(false) local t = {} for _, s in ipairs({'+1', '007', '0x1F', '-0x10', 'Infinity', 'NaN', '-nan', '1.', '0.5', '-', '-a', '5'}) do local ok, v = pcall(cjson.decode, s) t[#t + 1] = ok and num(v) or v end return table.concat(t, ' | ')"#, b"Expected value but found invalid token at character 1 | Expected value but found invalid number at character 1 | Expected value but found invalid number at character 1 | Expected value but found invalid number at character 1 | Expected value but found invalid token at character 1 | Expected value but found invalid token at character 1 | Expected value but found invalid number at character 1 | 1 | 0.5 | Expected value but found invalid number at character 1 | Expected value but found invalid number at character 1 | 5"),
        (r#"local t = {} for _, s in ipairs({'"a\\"b"', '"\\\\ \\/ \\b \\f \\n \\r \\t"', '"\\u00e9\\u20ac"', '"\\ud83d\\ude00"', '"\\u0000x"', '"\\u0041"', '"\\udc00"'}) do local ok, v = pcall(cjson.decode, s) t[#t + 1] = ok and hex(v) or v end return table.concat(t, ' | ')"#, b"612262 | 5c202f2008200c200a200d2009 | c3a9e282ac | f09f9880 | 0078 | 41 | Expected value but found invalid unicode escape code at character 2"),
        (r#"local t = {} for _, s in ipairs({'"\\ud83d"', '"\\ud83dx"', '"\\ud83d\\u0041"', '"\\u12"', '"\\uzzzz"', '"\\x"', '"abc', '"a\tb"', '"\1"'}) do local ok, v = pcall(cjson.decode, s) t[#t + 1] = ok and hex(v) or v end return table.concat(t, ' | ')"#, b"Expected value but found invalid unicode escape code at character 2 | Expected value but found invalid unicode escape code at character 2 | Expected value but found invalid unicode escape code at character 2 | Expected value but found invalid unicode escape code at character 2 | Expected value but found invalid unicode escape code at character 2 | Expected value but found invalid escape code at character 2 | Expected value but found unexpected end of string at character 5 | 610962 | 01"),
        (r#"local t = {} for _, s in ipairs({'', ' ', '[1,', '[1 2]', '{"a" 1}', '{"a":1,}', '{1:2}', '[1,]', '{"a":1 "b"}', ']', 'tru', 'nul', 'x', '[true false]', '1 2', '{"a":}', '[', '{'}) do local ok, v = pcall(cjson.decode, s) t[#t + 1] = v end return table.concat(t, ' | ')"#, b"Expected value but found T_END at character 1 | Expected value but found T_END at character 2 | Expected value but found T_END at character 4 | Expected comma or array end but found T_NUMBER at character 4 | Expected colon but found T_NUMBER at character 6 | Expected object key string but found T_OBJ_END at character 8 | Expected object key string but found T_NUMBER at character 2 | Expected value but found T_ARR_END at character 4 | Expected comma or object end but found T_STRING at character 8 | Expected value but found T_ARR_END at character 1 | Expected value but found invalid token at character 1 | Expected value but found invalid token at character 1 | Expected value but found invalid token at character 1 | Expected comma or array end but found T_BOOLEAN at character 7 | Expected the end but found T_NUMBER at character 3 | Expected value but found T_OBJ_END at character 6 | Expected value but found T_END at character 2 | Expected object key string but found T_END at character 2"),
        (r#"local t = {} for _, s in ipairs({'\0\0', 'a\0', '1\0x', '[1]\0garbage', '"a\0b"', ' 5\0'}) do local ok, v = pcall(cjson.decode, s) t[#t + 1] = ok and (type(v) == 'table' and 'table' or tostring(v)) or v end return table.concat(t, ' | ')"#, b"JSON parser does not support UTF-16 or UTF-32 | JSON parser does not support UTF-16 or UTF-32 | JSON parser does not support UTF-16 or UTF-32 | table | Expected value but found unexpected end of string at character 3 | 5"),
        (r#"return tostring(cjson.decode(42)) .. ' ' .. tostring(cjson.decode('  true  ')) .. ' ' .. tostring(cjson.decode('null') == cjson.null) .. ' ' .. cjson.decode('"x"')"#, b"42 true true x"),
        (r#"local t = cjson.decode('{"1":"a","2":"b"}') return tostring(t[1]) .. ' ' .. t['1'] .. ' ' .. cjson.encode(cjson.decode('[1,null,3]'))"#, b"nil a [1,null,3]"),
        (r#"local t = cjson.decode('{"a":1,"a":2}') return tostring(t.a)"#, b"2"),
        (r#"return hex(cmsgpack.pack(cjson.null, {cjson.null})) .. ' ' .. err(cjson.encode, {[cjson.null] = 1})"#, b"c091c0 false Cannot serialise userdata: table key must be a number or string"),
        // Round trips.
        (r#"local v = {1, 'two', {three = 3, four = {4, 4.5}}, true, false} local s = cjson.encode(v) local u = cjson.decode(s) return s .. ' ' .. cjson.encode(u)"#, b"[1,\"two\",{\"three\":3,\"four\":[4,4.5]},true,false] [1,\"two\",{\"three\":3,\"four\":[4,4.5]},true,false]"),
        (r#"local s = '' for i = 0, 255 do s = s .. string.char(i) end return tostring(cjson.decode(cjson.encode(s)) == s)"#, b"true"),
        (r#"local t = {} for i = 1, 100 do t[i] = i * 1.5 end local u = cjson.decode(cjson.encode(t)) return tostring(#u) .. ' ' .. tostring(u[100])"#, b"100 150"),
        (r#"return cjson.encode(cjson.decode('[{"a":[[]]},{},"\\u00e9",-1e-7,12345678901234567890]'))"#, b"[{\"a\":[{}]},{},\"\xc3\xa9\",-1e-07,1.2345678901235e+19]"),
    ];

    #[test]
    fn cases() {
        check_all(CASES);
    }
}
