//! COMMAND: the command table as clients read it (COUNT, INFO, DOCS, LIST, GETKEYS, HELP, and
//! bare COMMAND). Cluster clients and redis-py read the key positions from here.

use kvproto::{Request, Writer};

use super::ctx::{CmdResult, Ctx, is};
use super::error::CmdError;
use super::table::{Command, Flags, TABLE, dispatch_sub, lookup, lookup_sub, subcommands};

const ANY: Flags = Flags::LOADING.or(Flags::STALE);

#[rustfmt::skip]
pub(crate) static SUBCOMMANDS: &[Command] = &[
    sub("command|count", 2, "Returns a count of commands.", count),
    sub("command|docs", -2, "Returns documentary information about one, multiple or all commands.", docs),
    sub("command|getkeys", -3, "Extracts the key names from an arbitrary command.", getkeys),
    sub("command|help", 2, "Returns helpful text about the different subcommands.", help),
    sub("command|info", -2, "Returns information about one, multiple or all commands.", info),
    sub("command|list", -2, "Returns a list of command names.", list),
];

const fn sub(
    name: &'static str,
    arity: i32,
    summary: &'static str,
    handler: super::table::Handler,
) -> Command {
    Command {
        name,
        arity,
        flags: ANY,
        keys: (0, 0, 0),
        group: "server",
        since: "2.8.13",
        summary,
        handler,
    }
}

pub(super) fn command(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() == 1 {
        let mut w = ctx.w();
        w.array_len(TABLE.len());
        for c in TABLE {
            write_info(&mut w, c);
        }
        return Ok(());
    }
    dispatch_sub("command", SUBCOMMANDS, ctx, req)
}

/// Finds a command or subcommand by Redis 7's name (`get`, `client|list`).
fn find(name: &[u8]) -> Option<&'static Command> {
    let text = String::from_utf8_lossy(name);
    match text.split_once('|') {
        None => lookup(name).map(|i| &TABLE[i]),
        Some((container, sub)) => {
            let subs = subcommands(&container.to_ascii_lowercase());
            lookup_sub(subs, sub.as_bytes())
        }
    }
}

/// One COMMAND INFO entry, Redis 7's ten fields.
fn write_info(w: &mut Writer<'_>, c: &Command) {
    w.array_len(10);
    w.bulk(c.name.as_bytes());
    w.integer(i64::from(c.arity));
    let flags: Vec<&str> = c.flags.names().collect();
    w.set_len(flags.len());
    for f in flags {
        w.simple(f.as_bytes());
    }
    let (first, last, step) = c.keys;
    w.integer(i64::from(first));
    w.integer(i64::from(last));
    w.integer(i64::from(step));
    let cats = c.categories();
    w.set_len(cats.len());
    for cat in cats {
        w.simple(cat.as_bytes());
    }
    w.set_len(0); // tips
    write_key_specs(w, c);
    let subs = subcommands(c.name);
    w.array_len(subs.len());
    for s in subs {
        write_info(w, s);
    }
}

/// Redis 7 key specifications derived from (first, last, step): an index search, then a range.
fn write_key_specs(w: &mut Writer<'_>, c: &Command) {
    let (first, last, step) = c.keys;
    if first == 0 {
        w.array_len(0);
        return;
    }
    w.array_len(1);
    w.map_len(3);
    w.bulk(b"flags");
    // Redis writes the access kinds in capitals and the operations in lowercase.
    let flags: &[&str] = if c.flags.has(Flags::WRITE) {
        &["RW", "update"]
    } else {
        &["RO", "access"]
    };
    w.set_len(flags.len());
    for f in flags {
        w.simple(f.as_bytes());
    }
    w.bulk(b"begin_search");
    w.map_len(2);
    w.bulk(b"type");
    w.bulk(b"index");
    w.bulk(b"spec");
    w.map_len(1);
    w.bulk(b"index");
    w.integer(i64::from(first));
    w.bulk(b"find_keys");
    w.map_len(2);
    w.bulk(b"type");
    w.bulk(b"range");
    w.bulk(b"spec");
    w.map_len(3);
    w.bulk(b"lastkey");
    w.integer(i64::from(if last < 0 { last } else { last - first }));
    w.bulk(b"keystep");
    w.integer(i64::from(step));
    w.bulk(b"limit");
    w.integer(0);
}

fn count(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.int(TABLE.len() as i64)
}

/// COMMAND INFO [name ...]: an entry per name, null for unknown names; all without names.
fn info(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let mut w = ctx.w();
    if req.len() == 2 {
        w.array_len(TABLE.len());
        for c in TABLE {
            write_info(&mut w, c);
        }
        return Ok(());
    }
    w.array_len(req.len() - 2);
    for name in req.args().skip(2) {
        match find(name) {
            Some(c) => write_info(&mut w, c),
            None => w.null_array(),
        }
    }
    Ok(())
}

fn write_docs(w: &mut Writer<'_>, c: &Command) {
    let subs = subcommands(c.name);
    w.map_len(if subs.is_empty() { 3 } else { 4 });
    w.bulk(b"summary");
    w.bulk(c.summary.as_bytes());
    w.bulk(b"since");
    w.bulk(c.since.as_bytes());
    w.bulk(b"group");
    w.bulk(c.group.as_bytes());
    if !subs.is_empty() {
        w.bulk(b"subcommands");
        w.map_len(subs.len());
        for s in subs {
            w.bulk(s.name.as_bytes());
            write_docs(w, s);
        }
    }
}

/// COMMAND DOCS [name ...]: a map of name to its summary, version and group; unknown names
/// are left out, as in Redis.
fn docs(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let chosen: Vec<&Command> = if req.len() == 2 {
        TABLE.iter().collect()
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
        .flat_map(|c| std::iter::once(c).chain(subcommands(c.name)));
    let names: Vec<&str> = match req.len() {
        2 => all.map(|c| c.name).collect(),
        5 if is(req.arg(2), "filterby") => {
            let (kind, value) = (req.arg(3), req.arg(4));
            if is(kind, "module") {
                Vec::new()
            } else if is(kind, "aclcat") {
                let cat = format!("@{}", String::from_utf8_lossy(value).to_ascii_lowercase());
                all.filter(|c| c.categories().contains(&cat.as_str()))
                    .map(|c| c.name)
                    .collect()
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

/// COMMAND GETKEYS command [arg ...]: the key arguments by the command's key positions.
fn getkeys(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let Some(idx) = lookup(req.arg(2)) else {
        return Err(CmdError::Msg("ERR Invalid command specified"));
    };
    let c = &TABLE[idx];
    let argc = req.len() - 2;
    if !c.arity_ok(argc) {
        return Err(CmdError::Msg(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let (first, last, step) = c.keys;
    if first == 0 {
        return Err(CmdError::Msg("ERR The command has no key arguments"));
    }
    let last = if last < 0 {
        argc as i32 + last
    } else {
        last.min(argc as i32 - 1)
    };
    let keys: Vec<&[u8]> = (first..=last)
        .step_by(step.max(1) as usize)
        .map(|i| req.arg(2 + i as usize))
        .collect();
    let mut w = ctx.w();
    w.array_len(keys.len());
    for k in keys {
        w.bulk(k);
    }
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let lines = [
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands in this server.",
        "LIST",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple commands.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple commands.",
        "GETKEYS <full-command>",
        "    Return the keys from a full command.",
        "HELP",
        "    Print this help.",
    ];
    let mut w = ctx.w();
    w.array_len(lines.len());
    for l in lines {
        w.simple(l.as_bytes());
    }
    Ok(())
}
