//! DEBUG: the subcommands Redis's test tools and client test suites call (HELP, SLEEP,
//! OBJECT, PROTOCOL, ERROR, RELOAD, SET-ACTIVE-EXPIRE, CHANGE-REPL-ID,
//! QUICKLIST-PACKED-THRESHOLD). Any other subcommand gets Redis's unknown-subcommand error.
//!
//! DEBUG is protected as in Redis 7.0: `enable-debug-command` (default `no`) refuses it, `local`
//! allows it from loopback connections, `yes` from any.

use std::time::Duration;

use kvcore::{ListStore, Store};
use kvproto::{Request, Version};

use super::ctx::{CmdResult, Ctx, is};
use super::error::{CmdError, subcommand_syntax};
use super::spec::Group;
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("debug", -2, "admin noscript loading stale", debug)
        .doc(Group::Server, "1.0.0", "A container for debugging commands")
        .complexity("Depends on subcommand."),
];

const NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is \
                           set to \"local\", you can run it from a local connection, otherwise \
                           you need to set this option in the configuration file, and then \
                           restart the server.";

/// The refusal of a protected command (DEBUG) that `enable-debug-command` does not let this
/// connection run, `None` for any other command. The dispatcher checks it right after the
/// arity, before authentication, as Redis's `processCommand` does: the call counts as
/// rejected, and in a MULTI it fails the transaction (EXECABORT).
#[inline]
pub(crate) fn refusal(s: &crate::conn::Session, cmd: &Command) -> Option<&'static str> {
    // Every command is checked: a pointer comparison (the table holds references to these
    // entries), and the setting is read only for DEBUG itself.
    if std::ptr::eq(cmd, &COMMANDS[0]) {
        debug_refusal(s)
    } else {
        None
    }
}

#[cold]
fn debug_refusal(s: &crate::conn::Session) -> Option<&'static str> {
    let index = crate::params::index("enable-debug-command");
    let allowed = match s.shared.params.lock()[index].as_str() {
        "yes" => true,
        "local" => s.handle.addr.ip().is_loopback(),
        _ => false,
    };
    (!allowed).then_some(NOT_ALLOWED)
}

fn debug(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let sub = req.arg(1);
    let argc = req.len();
    if argc == 2 && is(sub, "help") {
        ctx.help(HELP)
    } else if is(sub, "reload") {
        reload(ctx, req)
    } else if is(sub, "object") && argc == 3 {
        object(ctx, req.arg(2))
    } else if is(sub, "protocol") && argc == 3 {
        protocol(ctx, req.arg(2))
    } else if is(sub, "sleep") && argc == 3 {
        sleep(req.arg(2));
        ctx.ok()
    } else if is(sub, "set-active-expire") && argc == 3 {
        // Redis reads the flag with `atoi`: leading digits, anything else is 0.
        let flag = req.arg(2);
        let digits = flag
            .strip_prefix(b"-")
            .or_else(|| flag.strip_prefix(b"+"))
            .unwrap_or(flag);
        let on = digits
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .any(|&b| b != b'0');
        ctx.s.shared.kv.set_active_expiry_enabled(on);
        ctx.ok()
    } else if is(sub, "change-repl-id") && argc == 2 {
        // kv has no replication IDs yet: accepted, changes nothing.
        ctx.ok()
    } else if is(sub, "quicklist-packed-threshold") && argc == 3 {
        // kv's lists have no packed/plain node threshold; the argument is checked as Redis
        // checks it, then ignored.
        let size = std::str::from_utf8(req.arg(2))
            .ok()
            .and_then(crate::params::memtoull);
        match size {
            Some(n) if n <= (1 << 32) - (1 << 20) => ctx.ok(),
            _ => Err(CmdError::Msg(
                "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
            )),
        }
    } else if is(sub, "error") && argc == 3 {
        // The client's string as the error line, CR and LF turned into spaces.
        ctx.w().error(req.arg(2));
        Ok(())
    } else {
        Err(subcommand_syntax("debug", sub))
    }
}

/// DEBUG RELOAD [MERGE|NOFLUSH|NOSAVE ...]: saves a snapshot (unless NOSAVE) and answers OK.
/// kv does not load the snapshot back: the data in memory is what it has just written.
fn reload(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut save = true;
    for opt in req.args().skip(2) {
        if is(opt, "nosave") {
            save = false;
        } else if !is(opt, "merge") && !is(opt, "noflush") {
            return Err(CmdError::Msg(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    if save {
        match ctx.s.shared.kv.save() {
            // An in-memory store has nothing to save, and a reload would give back the same data.
            Ok(_) | Err(kvcore::Error::NotPersistent) => {}
            Err(e) => return Err(e.into()),
        }
    }
    ctx.ok()
}

/// DEBUG OBJECT key: Redis's status line. `encoding` is OBJECT ENCODING's answer and
/// `lru_seconds_idle` the seconds since the last access (OBJECT IDLETIME's); `serializedlength`
/// is the length of the value's RDB encoding, as Redis computes it (the DUMP payload without
/// its type byte and 10-byte footer); the rest are stand-ins: `Value at` is a hash of the key
/// (kv exposes no addresses), and `lru` is the last access's Unix time in seconds, in 24 bits
/// as Redis's LRU clock counts. A list adds Redis's `ql_` fields (see below).
fn object(ctx: &mut Ctx<'_>, key: &[u8]) -> CmdResult {
    let (Some(idle), Some(encoding), Some(size), Some(dump)) = (
        ctx.s.db.idle_time(key),
        ctx.s.db.object_encoding(key)?,
        ctx.s.db.memory_usage(key)?,
        ctx.s.db.dump(key),
    ) else {
        return Err(CmdError::Msg("ERR no such key"));
    };
    let now = ctx.s.shared.kv.now_ms();
    let lru = (now / 1000).saturating_sub(idle) & ((1 << 24) - 1);
    let at = fnv1a(key) & 0x0000_7fff_ffff_fff0;
    // The payload is the type byte, the value, then the RDB version (2 bytes) and a CRC-64.
    let serialized = dump.len().saturating_sub(11);
    let mut line = format!(
        "Value at:{at:#x} refcount:1 encoding:{encoding} serializedlength:{serialized} lru:{lru} \
         lru_seconds_idle:{idle}"
    );
    if encoding == "quicklist" {
        // Redis's quicklist details. kv's list is not a quicklist: it counts as one node
        // holding every element, with the configured node size and compression, and MEMORY
        // USAGE's estimate as its uncompressed size.
        let len = ctx.s.db.llen(key).unwrap_or(0);
        let (fill, depth) = {
            let params = ctx.s.shared.params.lock();
            let get = |name: &str| params[crate::params::index(name)].clone();
            (get("list-max-listpack-size"), get("list-compress-depth"))
        };
        let compressed = u8::from(depth != "0");
        line.push_str(&format!(
            " ql_nodes:1 ql_avg_node:{len}.00 ql_listpack_max:{fill} ql_compressed:{compressed} \
             ql_uncompressed_size:{size}"
        ));
    }
    ctx.w().simple(line.as_bytes());
    Ok(())
}

fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &c| {
        (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// DEBUG PROTOCOL type: one test value of each reply type, as Redis 7.0 sends them.
fn protocol(ctx: &mut Ctx<'_>, name: &[u8]) -> CmdResult {
    let resp3 = ctx.s.version == Version::Resp3;
    if is(name, "attrib") {
        if resp3 {
            // kvproto's writer has no attribute type: a RESP3-only frame written by hand.
            ctx.out.extend_from_slice(
                b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n",
            );
        }
        ctx.w().bulk(b"Some real reply following the attribute");
        return Ok(());
    }
    let mut w = ctx.w();
    if is(name, "string") {
        w.bulk(b"Hello World");
    } else if is(name, "integer") {
        w.integer(12345);
    } else if is(name, "double") {
        // Redis's test value, not an approximation of pi.
        w.double_text(b"3.141");
    } else if is(name, "bignum") {
        w.big_number(b"1234567999999999999999999999999999999");
    } else if is(name, "null") {
        w.null();
    } else if is(name, "array") || is(name, "set") {
        if is(name, "array") {
            w.array_len(3);
        } else {
            w.set_len(3);
        }
        (0..3).for_each(|j| w.integer(j));
    } else if is(name, "map") {
        w.map_len(3);
        for j in 0..3 {
            w.integer(j);
            w.boolean(j == 1);
        }
    } else if is(name, "push") {
        if !resp3 {
            return Err(CmdError::Msg("ERR RESP2 is not supported by this command"));
        }
        w.push_len(2);
        w.bulk(b"server-cpu-usage");
        w.integer(42);
        w.bulk(b"Some real reply following the push reply");
    } else if is(name, "true") || is(name, "false") {
        w.boolean(is(name, "true"));
    } else if is(name, "verbatim") {
        w.verbatim(b"txt", b"This is a verbatim\nstring");
    } else {
        return Err(CmdError::Msg(
            "ERR Wrong protocol type name. Please use one of the following: \
             string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        ));
    }
    Ok(())
}

/// DEBUG SLEEP seconds: blocks this connection's thread only (other clients are served), for
/// the leading decimal number of the argument as C's `strtod` reads it (none reads as 0).
fn sleep(arg: &[u8]) {
    let secs = leading_float(arg);
    if let Ok(d) = Duration::try_from_secs_f64(secs) {
        std::thread::sleep(d);
    }
}

/// The longest prefix of `arg` (after leading whitespace) that parses as a float; 0 if none.
fn leading_float(arg: &[u8]) -> f64 {
    let s = std::str::from_utf8(arg).unwrap_or("");
    let s = s.trim_start();
    let end = s
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take_while(|&i| i <= 64)
        .filter(|&i| s[..i].parse::<f64>().is_ok())
        .last();
    end.map_or(0.0, |i| s[..i].parse().unwrap_or(0.0))
}

/// Redis 7.0's DEBUG HELP, word for word (kv implements the subcommands listed in the module
/// documentation; the others answer the unknown-subcommand error).
const HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
    "HELP",
    "    Prints this help.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_reads_the_leading_number_as_strtod() {
        assert_eq!(leading_float(b"0.5"), 0.5);
        assert_eq!(leading_float(b" 2abc"), 2.0);
        assert_eq!(leading_float(b"abc"), 0.0);
        assert_eq!(leading_float(b"-1"), -1.0);
        assert_eq!(leading_float(b""), 0.0);
    }
}
