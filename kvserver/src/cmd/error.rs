//! Every error a command can reply with, and the one place that turns them into Redis's exact
//! strings (clients match on them).

use std::borrow::Cow;

use kvproto::{Request, Writer};

/// Why a command failed. The reply text comes from [`text`].
#[derive(Debug)]
pub(crate) enum CmdError {
    /// An error of the store.
    Core(kvcore::Error),
    /// A fixed reply, prefix word included (`"ERR syntax error"`).
    Msg(&'static str),
    /// A reply built for this call, prefix word included.
    Text(String),
    /// A reply that quotes client bytes (see [`c_str`]), prefix word included.
    Raw(Vec<u8>),
}

impl From<kvcore::Error> for CmdError {
    fn from(e: kvcore::Error) -> Self {
        CmdError::Core(e)
    }
}

pub(crate) const SYNTAX: CmdError = CmdError::Msg("ERR syntax error");
pub(crate) const NOT_INTEGER: CmdError =
    CmdError::Msg("ERR value is not an integer or out of range");
pub(crate) const NOT_FLOAT: CmdError = CmdError::Msg("ERR value is not a valid float");
pub(crate) const OUT_OF_RANGE_DB: CmdError = CmdError::Msg("ERR DB index is out of range");

/// Redis's reply for `e`, raised by command `cmd` (its table name, lowercase).
pub(crate) fn text(cmd: &str, e: CmdError) -> Cow<'static, [u8]> {
    match e {
        CmdError::Raw(b) => Cow::Owned(b),
        e => match text_str(cmd, e) {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        },
    }
}

fn text_str(cmd: &str, e: CmdError) -> Cow<'static, str> {
    use kvcore::Error as E;
    match e {
        CmdError::Msg(m) => Cow::Borrowed(m),
        CmdError::Text(t) => Cow::Owned(t),
        CmdError::Raw(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
        CmdError::Core(core) => match core {
            E::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value".into()
            }
            E::NotInteger => "ERR value is not an integer or out of range".into(),
            E::NotFloat => "ERR value is not a valid float".into(),
            E::Overflow => "ERR increment or decrement would overflow".into(),
            E::NanOrInfinity => "ERR increment would produce NaN or Infinity".into(),
            E::NoSuchKey => "ERR no such key".into(),
            E::SameObject => "ERR source and destination objects are the same".into(),
            E::InvalidExpireTime => format!("ERR invalid expire time in '{cmd}' command").into(),
            E::DbIndexOutOfRange => "ERR DB index is out of range".into(),
            E::IndexOutOfRange => "ERR index out of range".into(),
            E::HashValueNotInteger => "ERR hash value is not an integer".into(),
            E::HashValueNotFloat => "ERR hash value is not a float".into(),
            E::ScoreNan => "ERR resulting score is not a number (NaN)".into(),
            E::IncompatibleOptions(text) => format!("ERR {text}").into(),
            E::PersistenceFailed(why) => {
                format!("MISCONF Errors writing to the AOF file: {why}").into()
            }
            E::Io(e) => format!("ERR {}", crate::log::Chain(&e)).into(),
            E::Corrupt(why) => format!("ERR {why}").into(),
            E::SaveInProgress => "ERR Background save already in progress".into(),
            E::NotPersistent => {
                "ERR The server runs in memory (--in-memory): there is nothing to save".into()
            }
            E::StringTooLong => {
                "ERR string exceeds maximum allowed size (proto-max-bulk-len)".into()
            }
            E::Stream(e) => stream_error(e).into(),
            E::BitOffsetOutOfRange => "ERR bit offset is not an integer or out of range".into(),
            E::NotHyperLogLog => "WRONGTYPE Key is not a valid HyperLogLog string value.".into(),
            E::CorruptHyperLogLog => "INVALIDOBJ Corrupted HLL object detected".into(),
            E::BusyKey => "BUSYKEY Target key name already exists.".into(),
            E::BadDumpPayload => "ERR DUMP payload version or checksum are wrong".into(),
            E::BadDataFormat => "ERR Bad data format".into(),
            // A client retries a TRYAGAIN, as it does the Raft mode's "no leader" reply.
            E::Unavailable { reason, .. } => format!("TRYAGAIN {reason}").into(),
            // Variants added later (persistence) keep their own lowercase message.
            other => format!("ERR {other}").into(),
        },
    }
}

/// Redis's texts for the stream rules kvcore enforces.
fn stream_error(e: kvcore::StreamError) -> &'static str {
    use kvcore::StreamError as S;
    match e {
        S::IdTooSmall => {
            "ERR The ID specified in XADD is equal or smaller than the target stream top item"
        }
        S::IdZero => "ERR The ID specified in XADD must be greater than 0-0",
        S::Exhausted => {
            "ERR The stream has exhausted the last possible ID, unable to add more items"
        }
        // Redis reports a `<ms>-*` with no sequence left as it reports oversized elements.
        S::SeqExhausted | S::TooLarge => "ERR Elements are too large to be stored",
        S::SetIdTooSmall => {
            "ERR The ID specified in XSETID is smaller than the target stream top item"
        }
        S::SetIdEntriesAdded => {
            "ERR The entries_added specified in XSETID is smaller than the target stream length"
        }
        S::SetIdMaxDeleted => {
            "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
        }
        S::NoFields => "ERR wrong number of arguments for 'xadd' command",
        S::GroupExists => "BUSYGROUP Consumer Group name already exists",
        // The commands name the key and group themselves; this is the fallback.
        S::NoGroup => "NOGROUP No such key or consumer group",
        _ => "ERR stream error",
    }
}

/// Writes `e` as an error reply.
pub(crate) fn write_error(w: &mut Writer<'_>, cmd: &str, e: CmdError) {
    w.error(&text(cmd, e));
}

/// `ERR wrong number of arguments for 'get' command`.
pub(crate) fn arity_error(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// An argument as Redis quotes it in an error (`%s` of a C string): the bytes before the
/// first NUL, others unchanged (the writer turns CR and LF into spaces).
pub(crate) fn c_str(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

/// An error reply that quotes client bytes: `parts` are concatenated.
pub(crate) fn raw_error(parts: &[&[u8]]) -> CmdError {
    CmdError::Raw(parts.concat())
}

/// Redis's unknown-command reply: the name (at most 128 bytes) and the arguments quoted, each
/// followed by a space, until the list passes 128 bytes.
pub(crate) fn unknown_command(req: &Request<'_>) -> Vec<u8> {
    let name = c_str(req.arg(0));
    let mut args = Vec::new();
    for a in req.args().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let a = c_str(a);
        let room = 128 - args.len();
        args.push(b'\'');
        args.extend_from_slice(&a[..a.len().min(room)]);
        args.extend_from_slice(b"' ");
    }
    [
        &b"ERR unknown command '"[..],
        &name[..name.len().min(128)],
        b"', with args beginning with: ",
        &args,
    ]
    .concat()
}

/// `ERR unknown subcommand 'foo'. Try CLIENT HELP.`
pub(crate) fn unknown_subcommand(container: &str, sub: &[u8]) -> Vec<u8> {
    let sub = c_str(sub);
    [
        b"ERR unknown subcommand '",
        &sub[..sub.len().min(128)],
        b"'. Try ",
        container.to_ascii_uppercase().as_bytes(),
        b" HELP.",
    ]
    .concat()
}

/// Redis's `addReplySubcommandSyntaxError`, with the subcommand as the client spelled it:
/// `ERR unknown subcommand or wrong number of arguments for 'x'. Try PUBSUB HELP.`
pub(crate) fn subcommand_syntax(container: &str, sub: &[u8]) -> CmdError {
    let sub = c_str(sub);
    raw_error(&[
        b"ERR unknown subcommand or wrong number of arguments for '",
        &sub[..sub.len().min(128)],
        b"'. Try ",
        container.to_ascii_uppercase().as_bytes(),
        b" HELP.",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_command_matches_redis() {
        let check = |args: &[&[u8]], expected: &[u8]| {
            let req = Request::from_args(args.iter().copied());
            let msg = unknown_command(&req);
            assert_eq!(msg, expected, "{}", String::from_utf8_lossy(&msg));
        };
        check(
            &[b"foo", b"bar"],
            b"ERR unknown command 'foo', with args beginning with: 'bar' ",
        );
        check(
            &[b"foo"],
            b"ERR unknown command 'foo', with args beginning with: ",
        );
        // Redis prints C strings: the name and each argument end at a NUL; other bytes stay.
        check(
            &[b"get\0x", b"a\0b", b"\xff"],
            b"ERR unknown command 'get', with args beginning with: 'a' '\xff' ",
        );
        let long = vec![b'x'; 300];
        let req = Request::from_args([&b"foo"[..], &long, b"never"]);
        let msg = String::from_utf8(unknown_command(&req)).unwrap();
        assert!(msg.ends_with("' ") && !msg.contains("never"), "{msg}");
    }

    #[test]
    fn core_errors_map_to_redis_strings() {
        assert_eq!(
            &*text("get", kvcore::Error::WrongType.into()),
            b"WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        assert_eq!(
            &*text("set", kvcore::Error::InvalidExpireTime.into()),
            b"ERR invalid expire time in 'set' command"
        );
        let unavailable = kvcore::Error::Unavailable {
            reason: "raft node 2 is not the leader; node 1 leads".into(),
            retry_at: Some("127.0.0.1:7001".into()),
        };
        assert_eq!(
            &*text("get", unavailable.into()),
            b"TRYAGAIN raft node 2 is not the leader; node 1 leads"
        );
        assert_eq!(
            arity_error("get"),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            &unknown_subcommand("client", b"foo")[..],
            b"ERR unknown subcommand 'foo'. Try CLIENT HELP."
        );
        assert_eq!(
            &unknown_subcommand("object", b"b\0\xff")[..],
            b"ERR unknown subcommand 'b'. Try OBJECT HELP."
        );
    }
}
