//! COMMAND: the command table as clients read it (COUNT, INFO, DOCS, LIST, GETKEYS, HELP, and
//! bare COMMAND). Cluster clients and redis-py read the key positions from here.

use kvproto::{Request, Writer};

use super::ctx::{CmdResult, Ctx, is};
use super::error::CmdError;
use super::spec::{Acl, Arg, Begin, Find, Flags, Group, KeySpec, a};
use super::table::{Command, TABLE, lookup, run_subcommand};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("command", -1, "loading stale", command)
        .acl("@connection").tips(&["nondeterministic_output_order"])
        .doc(Group::Server, "2.8.13", "Returns detailed information about all commands.")
        .complexity("O(N) where N is the total number of Redis commands")
        .subcommands(SUBCOMMANDS),
];

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("command|count", 2, "loading stale", count)
        .acl("@connection")
        .doc(Group::Server, "2.8.13", "Returns a count of commands.")
        .complexity("O(1)"),
    Command::new("command|docs", -2, "loading stale", docs)
        .acl("@connection").tips(&["nondeterministic_output_order"])
        .doc(Group::Server, "7.0.0", "Returns documentary information about one, multiple or all commands.")
        .complexity("O(N) where N is the number of commands to look up")
        .args(&[a("command-name", "string").flags("optional multiple")]),
    Command::new("command|getkeys", -4, "loading stale", getkeys)
        .acl("@connection")
        .doc(Group::Server, "2.8.13", "Extracts the key names from an arbitrary command.")
        .complexity("O(N) where N is the number of arguments to the command"),
    Command::new("command|getkeysandflags", -4, "loading stale", getkeysandflags)
        .acl("@connection")
        .doc(Group::Server, "7.0.0", "Extracts the key names and access flags for an arbitrary command.")
        .complexity("O(N) where N is the number of arguments to the command"),
    Command::new("command|help", 2, "loading stale", help)
        .acl("@connection")
        .doc(Group::Server, "5.0.0", "Returns helpful text about the different subcommands.")
        .complexity("O(1)"),
    Command::new("command|info", -2, "loading stale", info)
        .acl("@connection").tips(&["nondeterministic_output_order"])
        .doc(Group::Server, "2.8.13", "Returns information about one, multiple or all commands.")
        .complexity("O(N) where N is the number of commands to look up")
        .history(&[("7.0.0", "Allowed to be called with no argument to get info on all commands.")])
        .args(&[a("command-name", "string").flags("optional multiple")]),
    Command::new("command|list", -2, "loading stale", list)
        .acl("@connection").tips(&["nondeterministic_output_order"])
        .doc(Group::Server, "7.0.0", "Returns a list of command names.")
        .complexity("O(N) where N is the total number of Redis commands")
        .args(&[
            a("filterby", "oneof").token("FILTERBY").flags("optional").args(&[
                a("module-name", "string").token("MODULE"),
                a("category", "string").token("ACLCAT"),
                a("pattern", "pattern").token("PATTERN"),
            ]),
        ]),
];

fn command(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() == 1 {
        let mut w = ctx.w();
        w.array_len(TABLE.len());
        for c in TABLE.iter() {
            write_info(&mut w, c);
        }
        return Ok(());
    }
    run_subcommand(ctx, req)
}

/// Finds a command or subcommand by Redis 7's name (`get`, `client|list`).
fn find(name: &[u8]) -> Option<&'static Command> {
    match name.iter().position(|&b| b == b'|') {
        None => lookup(name).map(|i| TABLE[i]),
        Some(bar) => TABLE[lookup(&name[..bar])?].subcommand(&name[bar + 1..]),
    }
}

/// One COMMAND INFO entry, Redis 7's ten fields, with RESP3 types as Redis sends them.
fn write_info(w: &mut Writer<'_>, c: &Command) {
    w.array_len(10);
    w.bulk(c.name.as_bytes());
    w.integer(i64::from(c.arity));
    let flags = c.info_flags();
    w.set_len(flags.names().count());
    for f in flags.names() {
        w.simple(f.as_bytes());
    }
    let (first, last, step) = c.legacy_keys();
    w.integer(first);
    w.integer(last);
    w.integer(step);
    let cats = c.categories();
    w.set_len(cats.names().count());
    for cat in cats.names() {
        w.simple(cat.as_bytes());
    }
    w.set_len(c.tips.len());
    for tip in c.tips {
        w.bulk(tip.as_bytes());
    }
    w.set_len(c.key_specs.len());
    for spec in c.key_specs {
        write_key_spec(w, spec);
    }
    if c.subcommands.is_empty() {
        w.set_len(0);
    } else {
        w.array_len(c.subcommands.len());
        for s in c.subcommands {
            write_info(w, s);
        }
    }
}

fn write_key_spec(w: &mut Writer<'_>, spec: &KeySpec) {
    w.map_len(if spec.notes.is_some() { 4 } else { 3 });
    if let Some(notes) = spec.notes {
        w.bulk(b"notes");
        w.bulk(notes.as_bytes());
    }
    w.bulk(b"flags");
    w.set_len(spec.flags.split_whitespace().count());
    for f in spec.flags.split_whitespace() {
        w.simple(f.as_bytes());
    }
    w.bulk(b"begin_search");
    w.map_len(2);
    w.bulk(b"type");
    match spec.begin {
        Begin::Index(index) => {
            w.bulk(b"index");
            w.bulk(b"spec");
            w.map_len(1);
            w.bulk(b"index");
            w.integer(index);
        }
        Begin::Keyword(keyword, startfrom) => {
            w.bulk(b"keyword");
            w.bulk(b"spec");
            w.map_len(2);
            w.bulk(b"keyword");
            w.bulk(keyword.as_bytes());
            w.bulk(b"startfrom");
            w.integer(startfrom);
        }
        Begin::Unknown => {
            w.bulk(b"unknown");
            w.bulk(b"spec");
            w.map_len(0);
        }
    }
    w.bulk(b"find_keys");
    w.map_len(2);
    let (kind, fields): (&str, &[(&str, i64)]) = match spec.find {
        Find::Range(lastkey, keystep, limit) => (
            "range",
            &[("lastkey", lastkey), ("keystep", keystep), ("limit", limit)],
        ),
        Find::Keynum(keynumidx, firstkey, keystep) => (
            "keynum",
            &[
                ("keynumidx", keynumidx),
                ("firstkey", firstkey),
                ("keystep", keystep),
            ],
        ),
        Find::Unknown => ("unknown", &[]),
    };
    w.bulk(b"type");
    w.bulk(kind.as_bytes());
    w.bulk(b"spec");
    w.map_len(fields.len());
    for &(name, value) in fields {
        w.bulk(name.as_bytes());
        w.integer(value);
    }
}

fn count(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.int(TABLE.len() as i64)
}

/// COMMAND INFO [name ...]: an entry per name, a null (`$-1`, as Redis sends) for unknown
/// names; all without names.
fn info(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut w = ctx.w();
    if req.len() == 2 {
        w.array_len(TABLE.len());
        for c in TABLE.iter() {
            write_info(&mut w, c);
        }
        return Ok(());
    }
    w.array_len(req.len() - 2);
    for name in req.args().skip(2) {
        match find(name) {
            Some(c) => write_info(&mut w, c),
            None => w.null(),
        }
    }
    Ok(())
}

/// One COMMAND DOCS entry, its fields in Redis's order.
fn write_docs(w: &mut Writer<'_>, c: &Command) {
    let (subs, history, args) = (c.subcommands, c.history, c.args);
    let doc_flags = c.doc_flags();
    // MONITOR is the one command Redis documents without a complexity.
    let fields = 3
        + usize::from(!c.complexity.is_empty())
        + usize::from(!doc_flags.is_empty())
        + if c.deprecated.is_some() { 2 } else { 0 }
        + usize::from(!history.is_empty())
        + usize::from(!args.is_empty())
        + usize::from(!subs.is_empty());
    w.map_len(fields);
    w.bulk(b"summary");
    w.bulk(c.summary.as_bytes());
    w.bulk(b"since");
    w.bulk(c.since.as_bytes());
    w.bulk(b"group");
    w.bulk(c.group.name().as_bytes());
    if !c.complexity.is_empty() {
        w.bulk(b"complexity");
        w.bulk(c.complexity.as_bytes());
    }
    if !doc_flags.is_empty() {
        w.bulk(b"doc_flags");
        w.set_len(doc_flags.len());
        for f in doc_flags {
            w.simple(f.as_bytes());
        }
    }
    if let Some((since, by)) = c.deprecated {
        w.bulk(b"deprecated_since");
        w.bulk(since.as_bytes());
        w.bulk(b"replaced_by");
        w.bulk(by.as_bytes());
    }
    if !history.is_empty() {
        w.bulk(b"history");
        w.set_len(history.len());
        for (version, change) in history {
            w.array_len(2);
            w.bulk(version.as_bytes());
            w.bulk(change.as_bytes());
        }
    }
    if !args.is_empty() {
        w.bulk(b"arguments");
        write_args(w, args);
    }
    if !subs.is_empty() {
        w.bulk(b"subcommands");
        w.map_len(subs.len());
        for s in subs {
            w.bulk(s.name.as_bytes());
            write_docs(w, s);
        }
    }
}

/// Writes an argument list as `COMMAND DOCS` does: an array of maps.
pub(crate) fn write_args(w: &mut Writer<'_>, args: &[Arg]) {
    w.array_len(args.len());
    for arg in args {
        let optional = [
            arg.key_spec_index.is_some(),
            arg.token.is_some(),
            arg.since.is_some(),
            arg.deprecated_since.is_some(),
            !arg.flags.is_empty(),
            !arg.args.is_empty(),
        ];
        w.map_len(2 + optional.iter().filter(|&&on| on).count());
        w.bulk(b"name");
        w.bulk(arg.name.as_bytes());
        w.bulk(b"type");
        w.bulk(arg.kind.as_bytes());
        if let Some(index) = arg.key_spec_index {
            w.bulk(b"key_spec_index");
            w.integer(index);
        }
        for (field, value) in [
            ("token", arg.token),
            ("since", arg.since),
            ("deprecated_since", arg.deprecated_since),
        ] {
            if let Some(value) = value {
                w.bulk(field.as_bytes());
                w.bulk(value.as_bytes());
            }
        }
        if !arg.flags.is_empty() {
            w.bulk(b"flags");
            w.set_len(arg.flags.split_whitespace().count());
            for f in arg.flags.split_whitespace() {
                w.simple(f.as_bytes());
            }
        }
        if !arg.args.is_empty() {
            w.bulk(b"arguments");
            write_args(w, arg.args);
        }
    }
}

/// COMMAND DOCS [name ...]: a map of name to its documentation; unknown names
/// are left out, as in Redis.
fn docs(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let chosen: Vec<&Command> = if req.len() == 2 {
        TABLE.iter().copied().collect()
    } else {
        req.args().skip(2).filter_map(find).collect()
    };
    let mut w = ctx.w();
    w.map_len(chosen.len());
    for c in chosen {
        w.bulk(c.name.as_bytes());
        write_docs(&mut w, c);
    }
    Ok(())
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
fn list(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let all = TABLE
        .iter()
        .flat_map(|&c| std::iter::once(c).chain(c.subcommands));
    let names: Vec<&str> = match req.len() {
        2 => all.map(|c| c.name).collect(),
        5 if is(req.arg(2), "filterby") => {
            let (kind, value) = (req.arg(3), req.arg(4));
            if is(kind, "module") {
                Vec::new()
            } else if is(kind, "aclcat") {
                match Acl::named(value) {
                    Some(cat) => all
                        .filter(|c| c.categories().has(cat))
                        .map(|c| c.name)
                        .collect(),
                    None => Vec::new(),
                }
            } else if is(kind, "pattern") {
                let pattern = super::config::nocase_pattern(value);
                all.filter(|c| pattern.matches(c.name))
                    .map(|c| c.name)
                    .collect()
            } else {
                return Err(super::error::SYNTAX);
            }
        }
        _ => return Err(super::error::SYNTAX),
    };
    let mut w = ctx.w();
    w.array_len(names.len());
    for n in names {
        w.bulk(n.as_bytes());
    }
    Ok(())
}

/// COMMAND GETKEYS command [arg ...]: the key arguments, found by the command's key
/// specifications as Redis finds them, with Redis's errors in Redis's order.
fn getkeys(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let args: Vec<&[u8]> = req.args().skip(2).collect();
    let (_, keys) = keys_of(&args)?;
    let mut w = ctx.w();
    w.array_len(keys.len());
    for (_, i) in keys {
        w.bulk(args[i]);
    }
    Ok(())
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]: each key argument with the flags of the key
/// specification that found it (`RW access delete`), a set of statuses, as Redis 7 answers.
fn getkeysandflags(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let args: Vec<&[u8]> = req.args().skip(2).collect();
    let (c, keys) = keys_of(&args)?;
    let mut w = ctx.w();
    w.array_len(keys.len());
    for (spec, i) in keys {
        w.array_len(2);
        w.bulk(args[i]);
        let flags = c.key_specs.get(spec).map_or("", |k| k.flags);
        let flags = variable_flags(c, flags, &args).unwrap_or(flags);
        w.set_len(flags.split_whitespace().count());
        for flag in flags.split_whitespace() {
            w.simple(flag.as_bytes());
        }
    }
    Ok(())
}

/// The flags a key of a spec marked `variable_flags` has in this request, as Redis's
/// `setGetKeys` and `bitfieldGetKeys` work them out: SET writes blind unless it has a GET
/// argument, BITFIELD only reads when every operation is a whole GET or OVERFLOW (a SET, an
/// INCRBY or anything it cannot read makes it a write, the safe side).
fn variable_flags(c: &Command, flags: &str, args: &[&[u8]]) -> Option<&'static str> {
    if !flags.split_whitespace().any(|f| f == "variable_flags") {
        return None;
    }
    match c.name {
        "set" => Some(if args.iter().skip(3).any(|a| is(a, "get")) {
            "RW access update"
        } else {
            "OW update"
        }),
        "bitfield" => {
            let mut i = 2;
            while i < args.len() {
                let left = args.len() - i - 1;
                if is(args[i], "get") && left >= 2 {
                    i += 3;
                } else if is(args[i], "overflow") && left >= 1 {
                    i += 2;
                } else {
                    return Some("RW access update");
                }
            }
            Some("RO access")
        }
        _ => None,
    }
}

/// A request's keys: `(index of the key spec that found it, position)`.
type SpecKeys = Vec<(usize, usize)>;

/// The command `args` name and its keys, each with the index of the key specification that
/// found it, for COMMAND GETKEYS and GETKEYSANDFLAGS; Redis's errors in Redis's order.
fn keys_of(args: &[&[u8]]) -> Result<(&'static Command, SpecKeys), CmdError> {
    let Some(c) = lookup_with_sub(args) else {
        return Err(CmdError::Msg("ERR Invalid command specified"));
    };
    // Redis's `doesCommandHaveKeys`: a spec not marked `not_key` (SPUBLISH's shard channel is
    // one, for cluster routing only).
    let not_key = |k: &KeySpec| k.flags.split_whitespace().any(|f| f == "not_key");
    if c.key_specs.iter().all(not_key) {
        return Err(CmdError::Msg("ERR The command has no key arguments"));
    }
    if !c.arity_ok(args.len()) {
        return Err(CmdError::Msg(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let found = match c.name {
        // SORT's source is its first spec's, a STORE destination its last's (the one
        // between is BY's and GET's patterns, which name no key of the request).
        "sort" | "sort_ro" => Some(
            super::sort::keys(args)
                .into_iter()
                .enumerate()
                .map(|(n, pos)| (if n == 0 { 0 } else { c.key_specs.len() - 1 }, pos))
                .collect(),
        ),
        _ => spec_keys(c.key_specs, args),
    };
    match found {
        Some(keys) if !keys.is_empty() => Ok((c, keys)),
        // EVAL and FCALL may name no key, or a key count the request does not hold.
        _ if c.flags.has(Flags::NO_MANDATORY_KEYS) => Ok((c, Vec::new())),
        _ => Err(CmdError::Msg("ERR Invalid arguments specified for command")),
    }
}

/// The positions of `c`'s keys in `args` (the command name at 0), as COMMAND GETKEYS finds
/// them (client-side caching remembers these).
pub(crate) fn key_positions(c: &Command, args: &[&[u8]]) -> Option<Vec<usize>> {
    match c.name {
        "sort" | "sort_ro" => Some(super::sort::keys(args)),
        _ => keys_by_specs(c.key_specs, args),
    }
}

/// The command `args` names (`args[0]`), or its subcommand (`args[1]`) when it is a container
/// and a subcommand is given, as Redis's `lookupCommand` resolves it.
fn lookup_with_sub(args: &[&[u8]]) -> Option<&'static Command> {
    let c = TABLE[lookup(args[0])?];
    if c.subcommands.is_empty() || args.len() == 1 {
        return Some(c);
    }
    c.subcommand(args[1])
}

/// The positions of the keys in `args` (the command name at 0) by Redis's key specifications:
/// each spec in order, a begin index, then a range or a key count. `None` when an argument
/// the specs need is missing or the key count is not a count of the arguments that follow.
pub(crate) fn keys_by_specs(specs: &[KeySpec], args: &[&[u8]]) -> Option<Vec<usize>> {
    spec_keys(specs, args).map(|keys| keys.into_iter().map(|(_, pos)| pos).collect())
}

/// [`keys_by_specs`] with the index of the spec that found each key.
fn spec_keys(specs: &[KeySpec], args: &[&[u8]]) -> Option<SpecKeys> {
    let mut keys = Vec::new();
    let complete = walk_key_specs(
        specs,
        args.len(),
        |i| args[i],
        false,
        |spec, pos| {
            keys.push((spec, pos));
            true
        },
    );
    complete.then_some(keys)
}

/// Walks the key positions `specs` give in a request of `argc` arguments (`arg(i)` is
/// argument `i`, the command name at 0): `f(spec index, position)` for each key, in order,
/// until it answers false. A spec whose arguments are missing, or whose key count is not a
/// count of the arguments that follow, is skipped when `partial` (the ACL check's way, Redis's
/// `GET_KEYSPEC_RETURN_PARTIAL`) and ends the walk otherwise (COMMAND GETKEYS's). Returns
/// false when the walk ended early. Allocates nothing.
pub(crate) fn walk_key_specs<'a>(
    specs: &[KeySpec],
    argc: usize,
    arg: impl Fn(usize) -> &'a [u8],
    partial: bool,
    mut f: impl FnMut(usize, usize) -> bool,
) -> bool {
    let argc = argc as i64;
    for (n, spec) in specs.iter().enumerate() {
        let Some((first, last, step)) = spec_range(spec, argc, &arg) else {
            if partial {
                continue;
            }
            return false;
        };
        let mut i = first;
        while i <= last {
            if !f(n, i as usize) {
                return false;
            }
            i += step;
        }
    }
    true
}

/// One spec's `(first, last, step)` key positions, `Some` with `first > last` for a spec that
/// finds no keys here (its begin search is `Unknown`: the command finds them itself, as SORT
/// does; or its keyword is not in the request), `None` when the request does not fit the
/// spec.
fn spec_range<'a>(
    spec: &KeySpec,
    argc: i64,
    arg: &impl Fn(usize) -> &'a [u8],
) -> Option<(i64, i64, i64)> {
    const NONE: Option<(i64, i64, i64)> = Some((1, 0, 1));
    let mut first = match spec.begin {
        Begin::Index(index) => index,
        Begin::Keyword(keyword, startfrom) => {
            let matches = |i: &i64| arg(*i as usize).eq_ignore_ascii_case(keyword.as_bytes());
            // Redis's `getKeysUsingKeySpecs` searches up to, not including, its end: forward,
            // the last argument (a trailing `GEORADIUS ... STORE` names no key, and the spec
            // finds none); backward, the first.
            let found = if startfrom > 0 {
                (startfrom..argc - 1).find(matches)
            } else {
                (2..=(argc + startfrom).min(argc - 1)).rev().find(matches)
            };
            // A keyword that is not there is an optional part left out (GEORADIUS without
            // STORE): the spec finds no key, as Redis's `getKeysUsingKeySpecs` skips it.
            let Some(found) = found else {
                return NONE;
            };
            found + 1
        }
        Begin::Unknown => return NONE,
    };
    let (last, step) = match spec.find {
        Find::Range(lastkey, keystep, limit) => {
            let last = if lastkey >= 0 {
                first + lastkey
            } else if limit == 0 {
                argc + lastkey
            } else {
                first + ((argc - first) / limit + lastkey)
            };
            (last, keystep)
        }
        Find::Keynum(keynumidx, firstkey, keystep) => {
            let at = first + keynumidx;
            if at <= 0 || at >= argc {
                return None;
            }
            let numkeys = kvnum::parse_i64(arg(at as usize)).filter(|n| *n >= 0)?;
            first += firstkey;
            (first + numkeys - 1, keystep)
        }
        Find::Unknown => return NONE,
    };
    if first <= 0 || last >= argc || last < first {
        return None;
    }
    Some((first, last, step.max(1)))
}

/// Redis 7.0's text, line for line.
fn help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let lines = [
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.help(&lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::spec::Begin::Index;
    use crate::cmd::spec::Find::{Keynum, Range};

    fn spec(begin: Begin, find: Find) -> KeySpec {
        KeySpec {
            notes: None,
            flags: "RW",
            begin,
            find,
        }
    }

    #[track_caller]
    fn check(specs: &[KeySpec], line: &str, expected: Option<&[usize]>) {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        assert_eq!(keys_by_specs(specs, &args).as_deref(), expected, "{line}");
    }

    #[test]
    fn keys_by_specs_as_redis_finds_them() {
        let one = [spec(Index(1), Range(0, 1, 0))];
        check(&one, "get k", Some(&[1]));
        check(&one, "get", None);
        let pairs = [spec(Index(1), Range(-1, 2, 0))];
        check(&pairs, "mset a 1 b 2", Some(&[1, 3]));
        check(&pairs, "mset a 1 b", Some(&[1, 3]));
        let blpop = [spec(Index(1), Range(-2, 1, 0))];
        check(&blpop, "blpop a b 0", Some(&[1, 2]));
        // A limit splits what follows the start: half of it here (Redis's XREAD-style spec).
        let halves = [spec(Index(1), Range(-1, 1, 2))];
        check(&halves, "x a b 1 2", Some(&[1, 2]));
        // ZUNIONSTORE: the destination, then a key count.
        let zstore = [
            spec(Index(1), Range(0, 1, 0)),
            spec(Index(2), Keynum(0, 1, 1)),
        ];
        check(&zstore, "zunionstore d 2 a b WEIGHTS 1 2", Some(&[1, 3, 4]));
        check(&zstore, "zunionstore d 3 a b", None);
        check(&zstore, "zunionstore d 0 a", None);
        check(&zstore, "zunionstore d -1 a", None);
        check(&zstore, "zunionstore d x a", None);
        check(&zstore, "zunionstore d", None);
        let object = [spec(Index(2), Range(0, 1, 0))];
        check(&object, "object encoding k", Some(&[2]));
    }
}
