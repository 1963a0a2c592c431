//! The command table: one entry per command and per subcommand, carrying everything kv knows
//! about it (Redis's `redisCommandTable`, one `src/commands/*.json` per entry). Each family
//! file declares its commands' entries next to their handlers (`string::COMMANDS`, ...); this
//! file assembles them into [`TABLE`] and finds them by name. The dispatcher checks arity and
//! auth from the entry and calls its handler, `COMMAND` reports it, and `INFO commandstats` is
//! indexed by it.

use std::sync::LazyLock;

use kvproto::Request;

use super::ctx::{CmdResult, Ctx};
use super::error::{CmdError, unknown_subcommand};
use super::replication;
use super::spec::{Acl, Arg, Group, KeySpec, legacy_range};
use super::{
    acl, bitmap, blocking, client, cluster, command, config, connection, debug, dump, expire,
    function, geo, hash, hll, info, keys, latency, lcs, list, multi, object, pubsub, raft,
    replicaof, script, server, set, slowlog, sort, stream, stream_group, string, zcombine, zset,
};

pub(crate) use super::spec::Flags;

/// A command handler.
pub(crate) type Handler = fn(&mut Ctx<'_>, &Request<'_>) -> CmdResult;

/// One command or subcommand. Written as `Command::new(name, arity, flags, handler)` followed
/// by what Redis's JSON file for it holds (`.acl(..)`, `.keys(..)`, `.doc(..)`, ...), so an
/// entry can be checked line by line against Redis's `src/commands/<name>.json`.
#[derive(Debug)]
pub(crate) struct Command {
    /// Lowercase; a subcommand is `container|sub` as Redis 7 names it.
    pub(crate) name: &'static str,
    /// Exactly `n` arguments (name included) when positive, at least `-n` when negative.
    pub(crate) arity: i32,
    /// As Redis's `command_flags` list them; `movablekeys` is derived ([`Command::info_flags`]).
    pub(crate) flags: Flags,
    pub(crate) handler: Handler,
    /// A container's subcommands (`client|list`, ...), in the order `COMMAND` lists them.
    pub(crate) subcommands: &'static [Command],
    /// The ACL categories Redis's `acl_categories` lists; those the flags imply are added by
    /// [`Command::categories`].
    acl: Acl,
    pub(crate) tips: &'static [&'static str],
    pub(crate) key_specs: &'static [KeySpec],
    pub(crate) group: Group,
    pub(crate) since: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) complexity: &'static str,
    /// `(deprecated_since, replaced_by)` of a deprecated command.
    pub(crate) deprecated: Option<(&'static str, &'static str)>,
    /// The changes to the command, `(version, what changed)`, oldest first.
    pub(crate) history: &'static [(&'static str, &'static str)],
    /// The documented arguments.
    pub(crate) args: &'static [Arg],
}

impl Command {
    /// An entry with its dispatch properties; the builder methods below add the rest.
    /// `flags` are Redis's names, space-separated (`"write denyoom fast"`).
    pub(crate) const fn new(
        name: &'static str,
        arity: i32,
        flags: &str,
        handler: Handler,
    ) -> Command {
        Command {
            name,
            arity,
            flags: Flags::parse(flags),
            handler,
            subcommands: &[],
            acl: Acl::NONE,
            tips: &[],
            key_specs: &[],
            group: Group::Generic,
            since: "",
            summary: "",
            complexity: "",
            deprecated: None,
            history: &[],
            args: &[],
        }
    }

    /// The ACL categories beyond those the flags imply (`"@keyspace @dangerous"`).
    pub(crate) const fn acl(self, categories: &str) -> Command {
        Command {
            acl: Acl::parse(categories),
            ..self
        }
    }

    pub(crate) const fn tips(self, tips: &'static [&'static str]) -> Command {
        Command { tips, ..self }
    }

    pub(crate) const fn keys(self, key_specs: &'static [KeySpec]) -> Command {
        Command { key_specs, ..self }
    }

    /// `COMMAND DOCS`'s group, since and summary.
    pub(crate) const fn doc(
        self,
        group: Group,
        since: &'static str,
        summary: &'static str,
    ) -> Command {
        Command {
            group,
            since,
            summary,
            ..self
        }
    }

    pub(crate) const fn complexity(self, complexity: &'static str) -> Command {
        Command { complexity, ..self }
    }

    pub(crate) const fn deprecated(
        self,
        since: &'static str,
        replaced_by: &'static str,
    ) -> Command {
        Command {
            deprecated: Some((since, replaced_by)),
            ..self
        }
    }

    pub(crate) const fn history(self, history: &'static [(&'static str, &'static str)]) -> Command {
        Command { history, ..self }
    }

    pub(crate) const fn args(self, args: &'static [Arg]) -> Command {
        Command { args, ..self }
    }

    pub(crate) const fn subcommands(self, subcommands: &'static [Command]) -> Command {
        Command {
            subcommands,
            ..self
        }
    }

    #[inline]
    pub(crate) fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The part after `|` for a subcommand, the name otherwise.
    pub(crate) fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }

    /// The subcommand `name` of this container (`list` of `client`), ASCII case-insensitively.
    pub(crate) fn subcommand(&self, name: &[u8]) -> Option<&'static Command> {
        self.subcommands
            .iter()
            .find(|c| c.short_name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// The flags as `COMMAND INFO` reports them: with `movablekeys` when the key specs say so.
    pub(crate) fn info_flags(&self) -> Flags {
        self.flags.with_movable_keys(legacy_range(self.key_specs).1)
    }

    /// The legacy `(first, last, step)` key range `COMMAND INFO` reports, from the key specs.
    pub(crate) fn legacy_keys(&self) -> (i64, i64, i64) {
        legacy_range(self.key_specs).0
    }

    /// Every ACL category of the command, the implied ones included.
    pub(crate) fn categories(&self) -> Acl {
        self.acl.with_implied(self.flags)
    }

    /// `doc_flags`: `deprecated` for a deprecated command.
    pub(crate) fn doc_flags(&self) -> &'static [&'static str] {
        if self.deprecated.is_some() {
            &["deprecated"]
        } else {
            &[]
        }
    }
}

/// Every top-level command, sorted by group, then name: the order `COMMAND` lists them in, and
/// a command's index here is its statistics slot. Each family's entries live in its file.
pub(crate) static TABLE: LazyLock<Vec<&'static Command>> = LazyLock::new(|| {
    let families: [&'static [Command]; 36] = [
        string::COMMANDS,
        raft::COMMANDS,
        lcs::COMMANDS,
        keys::COMMANDS,
        expire::COMMANDS,
        object::COMMANDS,
        list::COMMANDS,
        blocking::COMMANDS,
        hash::COMMANDS,
        set::COMMANDS,
        zset::COMMANDS,
        zcombine::COMMANDS,
        stream::COMMANDS,
        stream_group::COMMANDS,
        pubsub::COMMANDS,
        script::COMMANDS,
        function::COMMANDS,
        connection::COMMANDS,
        client::COMMANDS,
        command::COMMANDS,
        config::COMMANDS,
        server::COMMANDS,
        info::COMMANDS,
        multi::COMMANDS,
        geo::COMMANDS,
        sort::COMMANDS,
        bitmap::COMMANDS,
        hll::COMMANDS,
        slowlog::COMMANDS,
        latency::COMMANDS,
        debug::COMMANDS,
        acl::COMMANDS,
        dump::COMMANDS,
        replicaof::COMMANDS,
        replication::COMMANDS,
        cluster::COMMANDS,
    ];
    let mut table: Vec<&'static Command> = families.into_iter().flatten().collect();
    table.sort_by_key(|c| (c.group, c.name));
    table
});

/// Name to table index, for [`lookup`]: the commands by a bucket of their name's length and
/// first, second, middle and last bytes (ASCII letters folded to lower case), each bucket's
/// names in `names[starts[b]..starts[b + 1]]`. The names are few and fixed, so a bucket holds
/// one or two (a test checks none holds more than three), and finding a command costs a
/// comparison or two instead of hashing a lowercased copy of the name.
struct NameIndex {
    starts: Vec<u16>,
    names: Vec<(&'static [u8], u16)>,
}

const NAME_BUCKETS: usize = 4096;

/// [`NameIndex`]'s bucket of a non-empty name: the same for every ASCII casing of it.
#[inline]
fn name_bucket(name: &[u8]) -> usize {
    let fold = |b: u8| u64::from(b | 0x20);
    let n = name.len();
    let key = (n as u64)
        | fold(name[0]) << 8
        | fold(name[usize::from(n > 1)]) << 16
        | fold(name[n / 2]) << 24
        | fold(name[n - 1]) << 32;
    // Fibonacci hashing: the top bits of the product.
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - NAME_BUCKETS.trailing_zeros())) as usize
}

static INDEX: LazyLock<NameIndex> = LazyLock::new(|| {
    let mut buckets: Vec<Vec<(&'static [u8], u16)>> = vec![Vec::new(); NAME_BUCKETS];
    for (i, c) in TABLE.iter().enumerate() {
        let i = u16::try_from(i).expect("fewer commands than u16::MAX");
        buckets[name_bucket(c.name.as_bytes())].push((c.name.as_bytes(), i));
    }
    let mut starts = Vec::with_capacity(NAME_BUCKETS + 1);
    let mut names = Vec::with_capacity(TABLE.len());
    for bucket in buckets {
        starts.push(u16::try_from(names.len()).expect("fewer commands than u16::MAX"));
        names.extend(bucket);
    }
    starts.push(u16::try_from(names.len()).expect("fewer commands than u16::MAX"));
    NameIndex { starts, names }
});

/// Finds a command by name, ASCII case-insensitively, without allocating.
#[inline]
pub(crate) fn lookup(name: &[u8]) -> Option<usize> {
    if name.is_empty() {
        return None;
    }
    let index = &*INDEX;
    let b = name_bucket(name);
    let bucket = &index.names[usize::from(index.starts[b])..usize::from(index.starts[b + 1])];
    bucket
        .iter()
        .find(|(n, _)| is_name(name, n))
        .map(|&(_, i)| usize::from(i))
}

/// Whether `input` is the lowercase command name `name` in any ASCII casing: a letter of
/// `name` matches either case of it (`input | 0x20` is that letter only for its two cases),
/// any other byte only itself. `eq_ignore_ascii_case`'s answer, without folding both sides.
#[inline]
fn is_name(input: &[u8], name: &[u8]) -> bool {
    input.len() == name.len()
        && input.iter().zip(name).all(|(&a, &n)| {
            let fold = u8::from(n.is_ascii_lowercase()) << 5;
            a | fold == n
        })
}

/// The handler of a container command (CLIENT, CONFIG, OBJECT, MEMORY; COMMAND with
/// arguments): runs the subcommand `req.arg(1)` names, or answers Redis's unknown-subcommand
/// error. The dispatcher runs a known subcommand's handler itself (its statistics slot is the
/// subcommand's) and refuses an unknown one before this could run (both through
/// [`known_slot`]), so the error here is only a safeguard.
pub(crate) fn run_subcommand(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    // The dispatcher called this handler because `req.arg(0)` named its container.
    let container = TABLE[lookup(req.arg(0)).expect("the dispatcher found this command")];
    match container.subcommand(req.arg(1)) {
        Some(sub) => (sub.handler)(ctx, req),
        None => Err(CmdError::Raw(unknown_subcommand(
            container.name,
            req.arg(1),
        ))),
    }
}

/// Statistics slots, as Redis keeps them: one per command (a [`TABLE`] index is its slot) and
/// one per subcommand (`config|get`), so `INFO commandstats` and CLIENT LIST's `cmd=` name the
/// subcommand that ran.
struct StatSlots {
    commands: Vec<&'static Command>,
    /// Per [`TABLE`] index: the slot of its first subcommand, for containers.
    first_sub: Vec<Option<usize>>,
}

static STAT_SLOTS: LazyLock<StatSlots> = LazyLock::new(|| {
    let mut commands: Vec<&'static Command> = TABLE.clone();
    let mut first_sub = vec![None; TABLE.len()];
    for (i, c) in TABLE.iter().enumerate() {
        if !c.subcommands.is_empty() {
            first_sub[i] = Some(commands.len());
            commands.extend(c.subcommands);
        }
    }
    StatSlots {
        commands,
        first_sub,
    }
});

/// How many statistics slots there are.
pub(crate) fn stat_slots() -> usize {
    STAT_SLOTS.commands.len()
}

/// The name a slot's statistics go by (`get`, `config|get`).
pub(crate) fn stat_name(slot: usize) -> &'static str {
    STAT_SLOTS.commands.get(slot).map_or("NULL", |c| c.name)
}

/// The statistics slot of a command or subcommand by its full name (`get`, `config|get`),
/// ASCII case-insensitively.
pub(crate) fn stat_slot_by_name(name: &[u8]) -> Option<usize> {
    STAT_SLOTS
        .commands
        .iter()
        .position(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// The statistics slots of a container's subcommands (none for another slot).
pub(crate) fn sub_slots(slot: usize) -> std::ops::Range<usize> {
    match STAT_SLOTS.first_sub.get(slot).copied().flatten() {
        Some(first) => first..first + TABLE[slot].subcommands.len(),
        None => 0..0,
    }
}

/// The command or subcommand a slot counts (its arity is checked before it runs).
pub(crate) fn stat_command(slot: usize) -> &'static Command {
    STAT_SLOTS.commands[slot]
}

/// The statistics slot of a request to command `idx`: the subcommand's for a container whose
/// subcommand exists, else the command's own (tests; the server asks [`known_slot`]).
#[cfg(test)]
pub(crate) fn stat_slot(idx: usize, req: &Request<'_>) -> usize {
    known_slot(idx, req).unwrap_or(idx)
}

/// The statistics slot of a request to command `idx` (the subcommand's for a container), or
/// `None` when the request names a subcommand that container `idx` does
/// not have: no command at all to Redis (`lookupCommand` finds none), refused before any
/// check or queueing, in no commandstats line, and "Unknown Redis command" to a script.
#[inline]
pub(crate) fn known_slot(idx: usize, req: &Request<'_>) -> Option<usize> {
    let Some(first) = STAT_SLOTS.first_sub[idx] else {
        return Some(idx);
    };
    if req.len() < 2 {
        return Some(idx);
    }
    let sub = req.arg(1);
    TABLE[idx]
        .subcommands
        .iter()
        .position(|c| c.short_name().as_bytes().eq_ignore_ascii_case(sub))
        .map(|p| first + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry, subcommands included.
    fn entries() -> impl Iterator<Item = &'static Command> {
        TABLE
            .iter()
            .flat_map(|&c| std::iter::once(c).chain(c.subcommands))
    }

    #[test]
    fn subcommands_have_their_own_stat_slots() {
        let get = lookup(b"get").unwrap();
        let config = lookup(b"config").unwrap();
        assert_eq!(stat_name(get), "get");
        assert!(stat_slots() > TABLE.len());
        assert!(stat_slots() <= usize::from(u16::MAX));
        let names: Vec<&str> = (0..stat_slots()).map(stat_name).collect();
        assert!(names.contains(&"config|get") && names.contains(&"client|list"));
        assert_eq!(stat_name(config), "config");
        let req = Request::from_args([&b"CONFIG"[..], b"Get", b"x"]);
        assert_eq!(stat_command(stat_slot(config, &req)).name, "config|get");
        let req = Request::from_args([&b"config"[..], b"nosuch"]);
        assert_eq!(stat_slot(config, &req), config);
        assert_eq!(known_slot(config, &req), None);
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in entries() {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.arity != 0, "{}", c.name);
        }
        assert!(
            TABLE.len() < usize::from(u16::MAX),
            "conn.rs keeps indexes in a u16"
        );
    }

    #[test]
    fn subcommand_names_are_qualified() {
        for c in TABLE.iter() {
            for s in c.subcommands {
                assert!(s.name.starts_with(&format!("{}|", c.name)), "{}", s.name);
                assert!(s.subcommands.is_empty(), "{}", s.name);
            }
        }
    }

    #[test]
    fn every_entry_is_documented() {
        for c in entries() {
            // Redis documents MONITOR, SYNC and PSYNC without a complexity.
            assert!(
                !c.since.is_empty()
                    && !c.summary.is_empty()
                    && (!c.complexity.is_empty() || matches!(c.name, "monitor" | "sync" | "psync")),
                "{} lacks its .doc(..) or .complexity(..)",
                c.name
            );
        }
    }

    #[test]
    fn entries_write_only_categories_their_flags_do_not_imply() {
        // As Redis's `acl_categories`, so an entry reads like its JSON file.
        for c in entries() {
            let implied: Vec<&str> = Acl::NONE.with_implied(c.flags).names().collect();
            for cat in c.acl.names() {
                assert!(!implied.contains(&cat), "{}: {cat} is implied", c.name);
            }
        }
    }

    fn key_indexes(args: &[Arg], out: &mut Vec<i64>) {
        for arg in args {
            out.extend(arg.key_spec_index);
            key_indexes(arg.args, out);
        }
    }

    #[test]
    fn arguments_point_at_their_key_specs() {
        for c in entries() {
            let mut indexes = Vec::new();
            key_indexes(c.args, &mut indexes);
            for i in indexes {
                assert!(
                    usize::try_from(i).is_ok_and(|i| i < c.key_specs.len()),
                    "{}: key_spec_index {i} of {} specs",
                    c.name,
                    c.key_specs.len()
                );
            }
        }
    }

    #[test]
    fn entries_report_what_redis_derives() {
        let cmd = |name: &str| TABLE[lookup(name.as_bytes()).unwrap()];
        let cats = |name: &str| cmd(name).categories().names().collect::<Vec<_>>();
        // As redis-server 7.0.15 lists them in COMMAND INFO.
        assert_eq!(cats("get"), ["@read", "@string", "@fast"]);
        assert_eq!(cats("keys"), ["@keyspace", "@read", "@slow", "@dangerous"]);
        assert_eq!(cats("blpop"), ["@write", "@list", "@slow", "@blocking"]);
        assert_eq!(cats("auth"), ["@fast", "@connection"]);
        assert_eq!(cats("bgsave"), ["@admin", "@slow", "@dangerous"]);
        assert_eq!(cats("readonly"), ["@fast", "@connection"]);
        assert_eq!(cats("cluster"), ["@slow"]);
        let sub = |name: &[u8]| cmd("cluster").subcommand(name).unwrap();
        let sub_cats = |name: &[u8]| sub(name).categories().names().collect::<Vec<_>>();
        assert_eq!(sub_cats(b"info"), ["@slow"]);
        assert_eq!(sub_cats(b"reset"), ["@admin", "@slow", "@dangerous"]);
        assert_eq!(sub(b"slaves").doc_flags(), ["deprecated"]);
        assert_eq!(cmd("mset").legacy_keys(), (1, -1, 2));
        assert_eq!(cmd("zunionstore").legacy_keys(), (1, 1, 1));
        let flags = |name: &str| cmd(name).info_flags().names().collect::<Vec<_>>();
        assert_eq!(flags("zunionstore"), ["write", "denyoom", "movablekeys"]);
        assert_eq!(flags("get"), ["readonly", "fast"]);
        assert_eq!(cmd("getset").doc_flags(), ["deprecated"]);
        assert!(cmd("get").doc_flags().is_empty());
    }

    #[test]
    fn every_command_is_found_in_any_case_among_few_candidates() {
        for (i, c) in TABLE.iter().enumerate() {
            let upper = c.name.to_ascii_uppercase();
            let mixed: String = c
                .name
                .chars()
                .enumerate()
                .map(|(j, ch)| {
                    if j % 2 == 0 {
                        ch.to_ascii_uppercase()
                    } else {
                        ch
                    }
                })
                .collect();
            for name in [c.name, upper.as_str(), mixed.as_str()] {
                assert_eq!(lookup(name.as_bytes()), Some(i), "{name}");
            }
        }
        let index = &*INDEX;
        let largest = index.starts.windows(2).map(|w| w[1] - w[0]).max();
        assert!(largest <= Some(3), "a bucket of {largest:?} names");
        // A name that differs from a command's in a byte the folding maps alike is not it.
        for (input, name) in [
            (&b"get"[..], &b"get"[..]),
            (b"GeT", b"get"),
            (b"get", b"gex"),
            (b"gEt", b"ge"),
            (b"@", b"`"),
            (b"_", b"\x7f"),
            (b"G\xc5T", b"get"),
            (b"client|list", b"client|list"),
            (b"CLIENT\\LIST", b"client|list"),
            (b"RESTORE-ASKING", b"restore-asking"),
            (b"RESTORE\rASKING", b"restore-asking"),
        ] {
            assert_eq!(
                is_name(input, name),
                input.eq_ignore_ascii_case(name),
                "{input:?} {name:?}"
            );
        }
        // Every byte against every byte a lowercase name can hold (no uppercase letters).
        for n in (0..=u8::MAX).filter(|n| !n.is_ascii_uppercase()) {
            for a in 0..=u8::MAX {
                assert_eq!(is_name(&[a], &[n]), a.eq_ignore_ascii_case(&n), "{a} {n}");
            }
        }
        assert_eq!(lookup(b"get\x00"), None);
        assert_eq!(lookup(b"ge\x14"), None);
        assert_eq!(lookup(b"g\xc5t"), None);
    }

    #[test]
    fn lookup_ignores_case() {
        let get = lookup(b"GeT").expect("get is in the table");
        assert_eq!(TABLE[get].name, "get");
        assert_eq!(lookup(b"nosuchcommand"), None);
        assert_eq!(lookup(b"averyveryverylongcommandname"), None);
        assert_eq!(lookup(b""), None);
        let client = TABLE[lookup(b"client").unwrap()];
        assert_eq!(client.subcommand(b"LiSt").unwrap().name, "client|list");
        assert!(client.subcommand(b"nosuch").is_none());
    }

    #[test]
    fn arity_rules() {
        let get = TABLE[lookup(b"get").unwrap()];
        assert!(get.arity_ok(2) && !get.arity_ok(1) && !get.arity_ok(3));
        let set = TABLE[lookup(b"set").unwrap()];
        assert!(set.arity_ok(3) && set.arity_ok(7) && !set.arity_ok(2));
    }

    #[test]
    fn sorted_by_group_then_name() {
        assert!(
            TABLE
                .windows(2)
                .all(|w| (w[0].group, w[0].name) < (w[1].group, w[1].name))
        );
        assert_eq!(TABLE[0].name, "append");
    }
}
