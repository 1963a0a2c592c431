//! DUMP and RESTORE: a key's value as Redis's DUMP payload (kvcore's `rdb` module), so values
//! move between kv and redis-server with the same commands.

use kvcore::{RestoreOptions, Store};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::SYNTAX;
use super::spec::{Begin::Index, Find::Range, Group, a, ks};
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("dump", 2, "readonly", dump)
        .acl("@keyspace").tips(&["nondeterministic_output"])
        .keys(&[ks("RO access", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "2.6.0", "Return a serialized version of the value stored at the specified key.")
        .complexity("O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).")
        .args(&[a("key", "key").key(0)]),
    Command::new("restore", -4, "write denyoom", restore)
        .acl("@keyspace @dangerous")
        .keys(&[ks("OW update", Index(1), Range(0, 1, 0))])
        .doc(Group::Generic, "2.6.0", "Create a key using the provided serialized value, previously obtained using DUMP.")
        .complexity("O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).")
        .history(&[("3.0.0", "Added the `REPLACE` modifier."), ("5.0.0", "Added the `ABSTTL` modifier."), ("5.0.0", "Added the `IDLETIME` and `FREQ` options.")])
        .args(&[
            a("key", "key").key(0),
            a("ttl", "integer"),
            a("serialized-value", "string"),
            a("replace", "pure-token").token("REPLACE").since("3.0.0").flags("optional"),
            a("absttl", "pure-token").token("ABSTTL").since("5.0.0").flags("optional"),
            a("seconds", "integer").token("IDLETIME").since("5.0.0").flags("optional"),
            a("frequency", "integer").token("FREQ").since("5.0.0").flags("optional"),
        ]),
];

/// DUMP key
fn dump(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let payload = ctx.s.db.dump(req.arg(1));
    ctx.bulk_or_null(payload.as_deref())
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
///
/// The checks run in Redis's order: options, an existing key, the TTL, the payload's footer,
/// its value. IDLETIME sets the key's access clock under an LRU (or random, or no) policy, FREQ
/// its counter under an LFU one; the other is ignored, as in Redis.
fn restore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None::<u64>, None::<u8>);
    let mut i = 4;
    while i < req.len() {
        let opt = req.arg(i);
        let more = i + 1 < req.len();
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "absttl") {
            absttl = true;
        } else if is(opt, "idletime") && more && freq.is_none() {
            let secs = u64::try_from(int_arg(req.arg(i + 1))?).map_err(|_| {
                super::error::CmdError::Msg("ERR Invalid IDLETIME value, must be >= 0")
            })?;
            idle = Some(secs);
            i += 1;
        } else if is(opt, "freq") && more && idle.is_none() {
            let f = u8::try_from(int_arg(req.arg(i + 1))?).map_err(|_| {
                super::error::CmdError::Msg("ERR Invalid FREQ value, must be >= 0 and <= 255")
            })?;
            freq = Some(f);
            i += 1;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    let key = req.arg(1);
    if !replace && ctx.s.db.exists(&[key])? > 0 {
        return Err(kvcore::Error::BusyKey.into());
    }
    let ttl = int_arg(req.arg(2))?;
    let ttl = u64::try_from(ttl)
        .map_err(|_| super::error::CmdError::Msg("ERR Invalid TTL value, must be >= 0"))?;
    let mut options = RestoreOptions::new()
        .ttl_ms(ttl)
        .absolute(absttl)
        .replace(replace);
    if let Some(secs) = idle {
        options = options.idle_time(secs);
    }
    if let Some(f) = freq {
        options = options.frequency(f);
    }
    ctx.s.db.restore(key, req.arg(3), &options)?;
    ctx.ok()
}
