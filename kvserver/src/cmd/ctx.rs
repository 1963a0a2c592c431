//! What a command handler gets: the connection's session and the reply writer, plus the
//! argument parsers every family shares (Redis's strict integer and float rules).

use kvcore::LongDouble;
use kvproto::Writer;

use super::error::{CmdError, NOT_FLOAT, NOT_INTEGER};
use crate::conn::Session;

/// A handler's result: the reply is in the writer; an error replaces whatever it wrote.
pub(crate) type CmdResult = Result<(), CmdError>;

/// The context of one command call.
pub(crate) struct Ctx<'a> {
    pub(crate) s: &'a mut Session,
    pub(crate) out: &'a mut Vec<u8>,
}

impl Ctx<'_> {
    /// A reply writer in the connection's current protocol version (HELLO may change it).
    #[inline]
    pub(crate) fn w(&mut self) -> Writer<'_> {
        Writer::new(self.out, self.s.version)
    }

    /// The session and a writer at once, for replies written while the store is locked
    /// (`get_with`).
    #[inline]
    pub(crate) fn split(&mut self) -> (&mut Session, Writer<'_>) {
        let version = self.s.version;
        (self.s, Writer::new(self.out, version))
    }

    pub(crate) fn ok(&mut self) -> CmdResult {
        self.w().simple(b"OK");
        Ok(())
    }

    pub(crate) fn int(&mut self, n: i64) -> CmdResult {
        self.w().integer(n);
        Ok(())
    }

    /// An array of status lines: what the HELP subcommands answer.
    pub(crate) fn help(&mut self, lines: &[&str]) -> CmdResult {
        let mut w = self.w();
        w.array_len(lines.len());
        for l in lines {
            w.simple(l.as_bytes());
        }
        Ok(())
    }

    /// An array of bulk strings.
    pub(crate) fn bulks<B: AsRef<[u8]>>(&mut self, items: &[B]) -> CmdResult {
        let mut w = self.w();
        w.array_len(items.len());
        for i in items {
            w.bulk(i.as_ref());
        }
        Ok(())
    }

    /// A set of bulk strings (`~` in RESP3, an array in RESP2).
    pub(crate) fn bulk_set<B: AsRef<[u8]>>(&mut self, items: &[B]) -> CmdResult {
        let mut w = self.w();
        w.set_len(items.len());
        for i in items {
            w.bulk(i.as_ref());
        }
        Ok(())
    }

    /// A bulk reply, or null for `None`.
    pub(crate) fn bulk_or_null(&mut self, v: Option<&[u8]>) -> CmdResult {
        let mut w = self.w();
        match v {
            Some(b) => w.bulk(b),
            None => w.null(),
        }
        Ok(())
    }
}

/// Redis's `string2ll` (kvnum's, the one kvcore and kvproto use too).
pub(crate) use kvnum::parse_i64;

/// [`parse_i64`] with Redis's error.
pub(crate) fn int_arg(b: &[u8]) -> Result<i64, CmdError> {
    parse_i64(b).ok_or(NOT_INTEGER)
}

/// Redis's `getIntFromObjectOrReply`: an integer that fits in 32 bits. `msg` (prefix word
/// included) replaces both errors when given, as in Redis.
pub(crate) fn i32_arg(b: &[u8], msg: Option<&'static str>) -> Result<i32, CmdError> {
    let n = parse_i64(b).ok_or(msg.map_or(NOT_INTEGER, CmdError::Msg))?;
    i32::try_from(n).map_err(|_| {
        CmdError::Msg(
            msg.unwrap_or(
                "ERR value is out of range, value must between -2147483648 and 2147483647",
            ),
        )
    })
}

/// A float argument as Redis's `string2ld` takes it, as an exact x87 `long double`: no spaces,
/// not NaN, in range; `inf` is accepted (the command decides what an infinity means).
pub(crate) fn float_arg(b: &[u8]) -> Result<LongDouble, CmdError> {
    LongDouble::parse(b).ok_or(NOT_FLOAT)
}

/// A count argument that must not be negative (LPOP, SPOP, ... `count`).
pub(crate) fn positive_arg(b: &[u8]) -> Result<usize, CmdError> {
    let n = int_arg(b).map_err(|_| CmdError::Msg("ERR value is out of range, must be positive"))?;
    usize::try_from(n).map_err(|_| CmdError::Msg("ERR value is out of range, must be positive"))
}

/// The most elements a negative (repeating) count may ask SRANDMEMBER, HRANDFIELD or
/// ZRANDMEMBER for: each costs memory before the reply is written, so a huge count could
/// exhaust the server. Redis streams such replies; this server refuses them.
pub(crate) const MAX_RANDOM_COUNT: u64 = 1 << 24;

/// The count of SRANDMEMBER/HRANDFIELD/ZRANDMEMBER: `i64::MIN` is out of range, with Redis's
/// text. Repeating counts past [`MAX_RANDOM_COUNT`] are checked by [`random_count_cap`] once
/// the key is known to exist, since Redis answers an empty array for a missing key whatever
/// the count.
pub(crate) fn random_count_arg(b: &[u8]) -> Result<i64, CmdError> {
    let n = int_arg(b)?;
    if n == i64::MIN {
        return Err(CmdError::Msg(
            "ERR value is out of range, value must between -9223372036854775807 and \
             9223372036854775807",
        ));
    }
    Ok(n)
}

/// Whether a repeating count asks for more than [`MAX_RANDOM_COUNT`] elements.
pub(crate) fn random_count_cap(n: i64) -> bool {
    n < 0 && n.unsigned_abs() > MAX_RANDOM_COUNT
}

/// Redis refuses a count past `±i64::MAX / 2` when scores or values double the reply.
pub(crate) fn random_pairs_range(n: i64) -> Result<(), CmdError> {
    if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
        return Err(CmdError::Msg("ERR value is out of range"));
    }
    Ok(())
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
#[inline]
pub(crate) fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i32_arg_follows_get_int_from_object() {
        assert_eq!(i32_arg(b"-2147483648", None).unwrap(), i32::MIN);
        let text = |r: Result<i32, CmdError>| match r {
            Err(CmdError::Msg(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            text(i32_arg(b"2147483648", None)),
            "ERR value is out of range, value must between -2147483648 and 2147483647"
        );
        assert_eq!(
            text(i32_arg(b"x", None)),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(text(i32_arg(b"x", Some("ERR bad"))), "ERR bad");
        assert_eq!(text(i32_arg(b"2147483648", Some("ERR bad"))), "ERR bad");
    }

    #[test]
    fn floats() {
        assert_eq!(float_arg(b"1.5").unwrap(), LongDouble::from(1.5));
        assert_eq!(float_arg(b"-2e3").unwrap(), LongDouble::from(-2000.0));
        assert!(!float_arg(b"inf").unwrap().is_finite());
        assert!(float_arg(b"1e5000").is_err());
        assert!(float_arg(b"nan").is_err());
        assert!(float_arg(b" 1").is_err());
        assert!(float_arg(b"1x").is_err());
        assert!(float_arg(b"").is_err());
    }
}
