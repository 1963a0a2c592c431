//! `cjson.decode`: JSON text to Lua values, token by token as Lua CJSON reads it, with its
//! error texts ("Expected value but found invalid token at character 1").

use mlua::{Lua, LuaString, Table, Value};

use super::super::fpconv;
use super::super::raise::{self, Args, Outcome, Results, error};
use super::{Config, Shared};

enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    /// Not a token: why, for the error message.
    Error(&'static str),
}

impl Token {
    /// How an error message names what was found.
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::String(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(why) => why,
        }
    }
}

/// `json_is_invalid_number`: whether the number at the start of `p` is one strict JSON does
/// not allow (a leading `+` or zero, hexadecimal, infinity, NaN), as far as this quick look
/// can tell.
fn is_invalid_number(p: &[u8]) -> bool {
    let at = |i: usize| p.get(i).copied().unwrap_or(0);
    let mut i = 0;
    if at(0) == b'+' {
        return true;
    }
    if at(0) == b'-' {
        i = 1;
    }
    if at(i) == b'0' {
        let c = at(i + 1);
        return c | 0x20 == b'x' || c.is_ascii_digit();
    }
    if at(i) <= b'9' {
        return false;
    }
    let rest = &p[i.min(p.len())..];
    rest.len() >= 3
        && (rest[..3].eq_ignore_ascii_case(b"inf") || rest[..3].eq_ignore_ascii_case(b"nan"))
}

struct Parser<'a> {
    lua: &'a Lua,
    cfg: Config,
    /// The input up to its first NUL.
    data: &'a [u8],
    ptr: usize,
    depth: i32,
}

fn hex4(s: &[u8]) -> Option<u32> {
    if s.len() < 4 {
        return None;
    }
    s[..4]
        .iter()
        .try_fold(0u32, |acc, &c| Some(acc << 4 | char::from(c).to_digit(16)?))
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    /// The next token and where it starts (0-based).
    fn next_token(&mut self) -> (Token, usize) {
        while matches!(self.at(self.ptr), b' ' | b'\t' | b'\n' | b'\r') {
            self.ptr += 1;
        }
        let start = self.ptr;
        let c = self.at(self.ptr);
        let single = match c {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b',' => Some(Token::Comma),
            b':' => Some(Token::Colon),
            _ => None,
        };
        if let Some(t) = single {
            self.ptr += 1;
            return (t, start);
        }
        let rest = &self.data[self.ptr.min(self.data.len())..];
        let token = match c {
            0 => return (Token::End, start),
            b'"' => return self.string(),
            b'-' | b'0'..=b'9' => {
                if !self.cfg.decode_invalid_numbers && is_invalid_number(rest) {
                    Token::Error("invalid number")
                } else {
                    self.number()
                }
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if rest.starts_with(b"true") {
                    self.ptr += 4;
                    Token::Boolean(true)
                } else if rest.starts_with(b"false") {
                    self.ptr += 5;
                    Token::Boolean(false)
                } else if rest.starts_with(b"null") {
                    self.ptr += 4;
                    Token::Null
                } else if self.cfg.decode_invalid_numbers && is_invalid_number(rest) {
                    self.number()
                } else {
                    Token::Error("invalid token")
                }
            }
            _ => Token::Error("invalid token"),
        };
        // An error token is reported where reading stopped, which is where it started.
        (token, start)
    }

    fn number(&mut self) -> Token {
        match fpconv::strtod(&self.data[self.ptr..]) {
            Some((v, n)) if n > 0 => {
                self.ptr += n;
                Token::Number(v)
            }
            _ => Token::Error("invalid number"),
        }
    }

    /// A string token; errors are reported at the byte they were found at.
    fn string(&mut self) -> (Token, usize) {
        let start = self.ptr;
        self.ptr += 1;
        let mut out = Vec::new();
        loop {
            let c = self.at(self.ptr);
            match c {
                b'"' => break,
                0 => return (Token::Error("unexpected end of string"), self.ptr),
                b'\\' => {
                    let mapped = match self.at(self.ptr + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 0x0c,
                        b'r' => b'\r',
                        b'u' => {
                            if self.unicode_escape(&mut out) {
                                continue;
                            }
                            return (Token::Error("invalid unicode escape code"), self.ptr);
                        }
                        _ => return (Token::Error("invalid escape code"), self.ptr),
                    };
                    out.push(mapped);
                    self.ptr += 2;
                }
                c => {
                    out.push(c);
                    self.ptr += 1;
                }
            }
        }
        self.ptr += 1;
        (Token::String(out), start)
    }

    /// `\uXXXX` (a surrogate pair takes two) at `ptr`, as UTF-8; false if malformed.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let d = &self.data[self.ptr.min(self.data.len())..];
        let Some(mut cp) = hex4(d.get(2..).unwrap_or(&[])) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xf800 == 0xd800 {
            // A high surrogate, then a low one.
            if cp & 0x400 != 0 || d.get(6) != Some(&b'\\') || d.get(7) != Some(&b'u') {
                return false;
            }
            let Some(low) = hex4(d.get(8..).unwrap_or(&[])) else {
                return false;
            };
            if low & 0xfc00 != 0xdc00 {
                return false;
            }
            cp = (((cp & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000;
            len = 12;
        }
        // Every code point here is at most 0x10FFFF, so char::from_u32 fails only for a
        // lone low surrogate, which UTF-8 encodes as the C code does by hand.
        let mut buf = [0u8; 4];
        match char::from_u32(cp) {
            Some(ch) => out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes()),
            None => out.extend([
                0xe0 | (cp >> 12) as u8,
                0x80 | ((cp >> 6) & 0x3f) as u8,
                0x80 | (cp & 0x3f) as u8,
            ]),
        }
        self.ptr += len;
        true
    }

    fn fail(&self, expected: &str, token: &Token, index: usize) -> raise::Raise {
        error(format!(
            "Expected {expected} but found {} at character {}",
            token.name(),
            index + 1
        ))
    }

    /// `json_decode_descend`: one level deeper, with room for `slots` more stack slots.
    fn descend(&mut self, held: usize, slots: usize) -> Outcome<()> {
        self.depth += 1;
        if self.depth <= self.cfg.decode_max_depth && raise::stack_ok(held, slots) {
            return Ok(());
        }
        Err(error(format!(
            "Found too many nested data structures ({}) at character {}",
            self.depth, self.ptr
        )))
    }

    /// After an object's `{` or `,`: the key, the colon, and the token that starts the
    /// value.
    fn member(&mut self, token: Token, index: usize) -> Outcome<(LuaString, Token, usize)> {
        let Token::String(key) = token else {
            return Err(self.fail("object key string", &token, index));
        };
        let key = self.lua.create_string(key)?;
        let (colon, at) = self.next_token();
        if !matches!(colon, Token::Colon) {
            return Err(self.fail("colon", &colon, at));
        }
        let (token, index) = self.next_token();
        Ok((key, token, index))
    }

    /// The value `token` starts, nested ones included. Iterative, with an explicit stack of
    /// the open arrays and objects: a script may raise `decode_max_depth` to where the C code
    /// stops at `MAX_C_STACK` slots, thousands of levels.
    fn parse(&mut self, mut token: Token, mut index: usize) -> Outcome<Value> {
        let mut open: Vec<Parent> = Vec::new();
        // The open tables and the keys being read, at 2d-1 and 2d for the d-th open one:
        // mlua keeps every value Rust holds in one bounded Lua stack, too small for the
        // thousands of levels the C code reaches.
        let tables = self.lua.create_table()?;
        // The C function's stack slots: the input, then per open array its table, per open
        // object its table and the key whose value is being read.
        let mut held = 1;
        loop {
            let mut value = match token {
                Token::String(s) => Value::String(self.lua.create_string(s)?),
                Token::Number(n) => Value::Number(n),
                Token::Boolean(b) => Value::Boolean(b),
                Token::Null => Value::NULL,
                Token::ArrBegin => {
                    self.descend(held, 2)?;
                    let t = self.lua.create_table()?;
                    let (next, at) = self.next_token();
                    if let Token::ArrEnd = next {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        tables.raw_set(2 * open.len() + 1, t)?;
                        open.push(Parent::Array(1));
                        held += 1;
                        (token, index) = (next, at);
                        continue;
                    }
                }
                Token::ObjBegin => {
                    self.descend(held, 3)?;
                    let t = self.lua.create_table()?;
                    let (next, at) = self.next_token();
                    if let Token::ObjEnd = next {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        let (key, next, at) = self.member(next, at)?;
                        tables.raw_set(2 * open.len() + 1, t)?;
                        tables.raw_set(2 * open.len() + 2, key)?;
                        open.push(Parent::Object);
                        held += 2;
                        (token, index) = (next, at);
                        continue;
                    }
                }
                t => return Err(self.fail("value", &t, index)),
            };
            // Store the value in its parent; a parent it completes is in turn a finished
            // value of its own parent.
            loop {
                let d = open.len();
                let Some(parent) = open.last_mut() else {
                    return Ok(value);
                };
                let t: Table = tables.raw_get(2 * d - 1)?;
                match parent {
                    Parent::Array(i) => {
                        t.raw_set(*i, value)?;
                        *i += 1;
                        let (next, at) = self.next_token();
                        match next {
                            Token::ArrEnd => {}
                            Token::Comma => {
                                (token, index) = self.next_token();
                                break;
                            }
                            _ => return Err(self.fail("comma or array end", &next, at)),
                        }
                        held -= 1;
                    }
                    Parent::Object => {
                        let k: LuaString = tables.raw_get(2 * d)?;
                        t.raw_set(k, value)?;
                        held -= 1;
                        let (next, at) = self.next_token();
                        match next {
                            Token::ObjEnd => {}
                            Token::Comma => {
                                let (next, at) = self.next_token();
                                let (k, next, at) = self.member(next, at)?;
                                tables.raw_set(2 * d, k)?;
                                held += 1;
                                (token, index) = (next, at);
                                break;
                            }
                            _ => return Err(self.fail("comma or object end", &next, at)),
                        }
                        held -= 1;
                    }
                }
                self.depth -= 1;
                open.pop();
                tables.raw_set(2 * d - 1, Value::Nil)?;
                tables.raw_set(2 * d, Value::Nil)?;
                value = Value::Table(t);
            }
        }
    }
}

/// An array or object being read: an array with the index of its next element.
enum Parent {
    Array(usize),
    Object,
}

pub(super) fn decode(lua: &Lua, args: &Args, cfg: &Shared) -> Outcome<Results> {
    if args.top() != 1 {
        return Err(raise::arg_error(1, "expected 1 argument"));
    }
    let s = args.check_string(lua, 1)?;
    let s = s.as_bytes();
    if s.len() >= 2 && (s[0] == 0 || s[1] == 0) {
        return Err(error("JSON parser does not support UTF-16 or UTF-32"));
    }
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    let mut p = Parser {
        lua,
        cfg: *cfg.lock(),
        data: &s[..end],
        ptr: 0,
        depth: 0,
    };
    let (token, index) = p.next_token();
    let v = p.parse(token, index)?;
    let (token, index) = p.next_token();
    if !matches!(token, Token::End) {
        return Err(p.fail("the end", &token, index));
    }
    Ok(Results::one(v))
}
