//! ACL: CAT, DELUSER, DRYRUN, GENPASS, GETUSER, HELP, LIST, LOAD, LOG, SAVE, SETUSER, USERS,
//! WHOAMI. The users and the checks are in `kvserver/src/acl/`.

use std::io::Read;
use std::sync::Arc;

use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, subcommand_syntax};
use super::spec::{Acl as Category, Group, a};
use super::table::{self, Command, TABLE, run_subcommand};
use crate::acl::{User, has_spaces};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("acl", -2, "", run_subcommand)
        .doc(Group::Server, "6.0.0", "A container for Access List Control commands ")
        .complexity("Depends on subcommand.")
        .subcommands(SUBCOMMANDS),
];

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("acl|cat", -2, "noscript loading stale", cat)
        .doc(Group::Server, "6.0.0", "List the ACL categories or the commands inside a category")
        .complexity("O(1) since the categories and commands are a fixed set.")
        .args(&[a("categoryname", "string").flags("optional")]),
    Command::new("acl|deluser", -3, "admin noscript loading stale", deluser)
        .doc(Group::Server, "6.0.0", "Remove the specified ACL users and the associated rules")
        .complexity("O(1) amortized time considering the typical user.")
        .args(&[a("username", "string").flags("multiple")]),
    Command::new("acl|dryrun", -4, "admin noscript loading stale", dryrun)
        .doc(Group::Server, "7.0.0", "Returns whether the user can execute the given command without executing the command.")
        .complexity("O(1).")
        .args(&[a("username", "string"), a("command", "string"), a("arg", "string").flags("optional multiple")]),
    Command::new("acl|genpass", -2, "noscript loading stale", genpass)
        .doc(Group::Server, "6.0.0", "Generate a pseudorandom secure password to use for ACL users")
        .complexity("O(1)")
        .args(&[a("bits", "integer").flags("optional")]),
    Command::new("acl|getuser", 3, "admin noscript loading stale", getuser)
        .doc(Group::Server, "6.0.0", "Get the rules for a specific ACL user")
        .complexity("O(N). Where N is the number of password, command and pattern rules that the user has.")
        .history(&[("6.2.0", "Added Pub/Sub channel patterns."), ("7.0.0", "Added selectors and changed the format of key and channel patterns from a list to their rule representation.")])
        .args(&[a("username", "string")]),
    Command::new("acl|help", 2, "loading stale", help)
        .doc(Group::Server, "6.0.0", "Show helpful text about the different subcommands")
        .complexity("O(1)"),
    Command::new("acl|list", 2, "admin noscript loading stale", list)
        .doc(Group::Server, "6.0.0", "List the current ACL rules in ACL config file format")
        .complexity("O(N). Where N is the number of configured users."),
    Command::new("acl|load", 2, "admin noscript loading stale", load)
        .doc(Group::Server, "6.0.0", "Reload the ACLs from the configured ACL file")
        .complexity("O(N). Where N is the number of configured users."),
    Command::new("acl|log", -2, "admin noscript loading stale", log)
        .doc(Group::Server, "6.0.0", "List latest events denied because of ACLs in place")
        .complexity("O(N) with N being the number of entries shown.")
        .args(&[a("operation", "oneof").flags("optional").args(&[a("count", "integer"), a("reset", "pure-token").token("RESET")])]),
    Command::new("acl|save", 2, "admin noscript loading stale", save)
        .doc(Group::Server, "6.0.0", "Save the current ACL rules in the configured ACL file")
        .complexity("O(N). Where N is the number of configured users."),
    Command::new("acl|setuser", -3, "admin noscript loading stale", setuser)
        .doc(Group::Server, "6.0.0", "Modify or create the rules for a specific ACL user")
        .complexity("O(N). Where N is the number of rules provided.")
        .history(&[("6.2.0", "Added Pub/Sub channel patterns."), ("7.0.0", "Added selectors and key based permissions.")])
        .args(&[a("username", "string"), a("rule", "string").flags("optional multiple")]),
    Command::new("acl|users", 2, "admin noscript loading stale", users)
        .doc(Group::Server, "6.0.0", "List the username of all the configured ACL rules")
        .complexity("O(N). Where N is the number of configured users."),
    Command::new("acl|whoami", 2, "noscript loading stale", whoami)
        .doc(Group::Server, "6.0.0", "Return the name of the user associated to the current connection")
        .complexity("O(1)"),
];

fn cat(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() == 2 {
        let names: Vec<&str> = Category::all().map(|c| &c.name()[1..]).collect();
        return ctx.bulks(&names);
    }
    if req.len() != 3 {
        return Err(subcommand_syntax("acl", req.arg(1)));
    }
    let Some(category) = Category::named(req.arg(2)) else {
        let name = super::error::c_str(req.arg(2));
        return Err(CmdError::Text(format!(
            "ERR Unknown category '{}'",
            String::from_utf8_lossy(&name[..name.len().min(128)])
        )));
    };
    let mut names = Vec::new();
    for (i, c) in TABLE.iter().enumerate() {
        if c.categories().has(category) {
            names.push(c.name);
        }
        for sub in table::sub_slots(i) {
            let sub = table::stat_command(sub);
            if sub.categories().has(category) {
                names.push(sub.name);
            }
        }
    }
    ctx.bulks(&names)
}

fn setuser(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let name = req.arg(2);
    if has_spaces(name) {
        return Err(CmdError::Msg(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    let rules: Vec<&[u8]> = req.args().skip(3).collect();
    let (old, new) = ctx
        .s
        .shared
        .acl
        .set_user(name, &rules)
        .map_err(|e| CmdError::Text(format!("ERR {e}")))?;
    // A user turned off loses its connections (the brief's rule; Redis 7.0 keeps them).
    if old.as_ref().is_some_and(|o| o.enabled()) && !new.enabled() {
        kill_clients_of(ctx, name, false);
    } else if old
        .as_ref()
        .is_some_and(|o| crate::acl::channels_shrank(o, &new))
    {
        // Its subscribers may hold channels it lost (Redis checks each subscription; kv
        // closes every subscribed connection of the user).
        kill_clients_of(ctx, name, true);
    }
    ctx.ok()
}

/// Closes every connection authenticated as `name` (only those with a subscription when
/// `subscribers`); the caller's own after its reply.
fn kill_clients_of(ctx: &mut Ctx<'_>, name: &[u8], subscribers: bool) {
    let me = ctx.s.handle.id;
    for c in ctx.s.shared.clients.list() {
        if *c.user.lock() != name || subscribers && c.pubsub.counts().total() == 0 {
            continue;
        }
        if c.id == me {
            ctx.s.close = true;
        } else {
            c.kill();
        }
    }
}

fn deluser(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let names: Vec<&[u8]> = req.args().skip(2).collect();
    if names.iter().any(|n| *n == b"default") {
        return Err(CmdError::Msg("ERR The 'default' user cannot be removed"));
    }
    let deleted = ctx.s.shared.acl.del_users(&names);
    for name in &names {
        kill_clients_of(ctx, name, false);
    }
    ctx.w().integer(deleted as i64);
    Ok(())
}

/// One selector's `commands`, `keys` and `channels` fields.
fn write_selector(w: &mut kvproto::Writer<'_>, s: &crate::acl::Selector) {
    w.bulk(b"commands");
    w.bulk(s.describe_commands().as_bytes());
    w.bulk(b"keys");
    w.bulk(s.describe_keys().as_bytes());
    w.bulk(b"channels");
    w.bulk(s.describe_channels().as_bytes());
}

fn getuser(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let Some(u) = ctx.s.shared.acl.user(req.arg(2)) else {
        ctx.w().null();
        return Ok(());
    };
    let mut w = ctx.w();
    w.map_len(6);
    w.bulk(b"flags");
    let flags: Vec<&str> = u.flag_names().collect();
    w.set_len(flags.len());
    for f in flags {
        w.bulk(f.as_bytes());
    }
    w.bulk(b"passwords");
    w.array_len(u.passwords.len());
    for p in &u.passwords {
        w.bulk(p);
    }
    write_selector(&mut w, &u.selectors[0]);
    w.bulk(b"selectors");
    w.array_len(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        w.map_len(3);
        write_selector(&mut w, s);
    }
    Ok(())
}

fn list(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let lines: Vec<Vec<u8>> = ctx
        .s
        .shared
        .acl
        .users()
        .iter()
        .map(|u| [&b"user "[..], &u.name, b" ", u.describe().as_bytes()].concat())
        .collect();
    ctx.bulks(&lines)
}

fn users(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let names: Vec<Vec<u8>> = ctx
        .s
        .shared
        .acl
        .users()
        .iter()
        .map(|u| u.name.clone())
        .collect();
    ctx.bulks(&names)
}

fn whoami(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let name = ctx.s.user.name().to_vec();
    ctx.w().bulk(&name);
    Ok(())
}

const NO_FILE: CmdError = CmdError::Msg(
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify \
     users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a \
     Redis configuration file set) in order to store users in the Redis configuration.",
);

fn load(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let shared = Arc::clone(&ctx.s.shared);
    let path = shared.acl.file.as_ref().ok_or(NO_FILE)?;
    shared
        .acl
        .load(path)
        .map_err(|e| CmdError::Text(format!("ERR {e}")))?;
    // As Redis, the connections of every user but `default` end: their users were replaced.
    let me = ctx.s.handle.id;
    for c in shared.clients.list() {
        if *c.user.lock() != b"default" {
            if c.id == me {
                ctx.s.close = true;
            } else {
                c.kill();
            }
        }
    }
    ctx.ok()
}

fn save(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let shared = Arc::clone(&ctx.s.shared);
    let path = shared.acl.file.as_ref().ok_or(NO_FILE)?;
    if let Err(e) = shared.acl.save(path) {
        crate::log::warning!("ACL SAVE to {}: {e}", path.display());
        return Err(CmdError::Msg(
            "ERR There was an error trying to save the ACLs. Please check the server logs for \
             more information",
        ));
    }
    ctx.ok()
}

fn genpass(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() > 3 {
        return Err(subcommand_syntax("acl", req.arg(1)));
    }
    let bits = if req.len() == 3 {
        int_arg(req.arg(2))?
    } else {
        256
    };
    if !(1..=4096).contains(&bits) {
        return Err(CmdError::Msg(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a \
             positive number up to 4096",
        ));
    }
    let chars = (bits as usize).div_ceil(4);
    let mut random = vec![0u8; chars.div_ceil(2)];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(|e| CmdError::Text(format!("ERR cannot read random bytes: {e}")))?;
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let hex: Vec<u8> = random
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .take(chars)
        .collect();
    ctx.w().bulk(&hex);
    Ok(())
}

fn log(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() > 3 {
        return Err(subcommand_syntax("acl", req.arg(1)));
    }
    let mut count = 10;
    if req.len() == 3 {
        if is(req.arg(2), "reset") {
            ctx.s.shared.acl.log.reset();
            return ctx.ok();
        }
        count = int_arg(req.arg(2))?.max(0);
    }
    let shared = Arc::clone(&ctx.s.shared);
    shared.acl.log.write(&mut ctx.w(), count as usize);
    Ok(())
}

fn dryrun(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let Some(u) = ctx.s.shared.acl.user(req.arg(2)) else {
        return Err(CmdError::Text(format!(
            "ERR User '{}' not found",
            String::from_utf8_lossy(req.arg(2))
        )));
    };
    let args: Vec<&[u8]> = req.args().skip(3).collect();
    let sub = Request::from_args(args.iter().copied());
    // A container named with an unknown subcommand is not found, as in Redis.
    let found =
        table::lookup(args[0]).and_then(|idx| table::known_slot(idx, &sub).map(|slot| (idx, slot)));
    let Some((idx, slot)) = found else {
        return Err(CmdError::Text(format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(args[0])
        )));
    };
    let cmd = table::stat_command(slot);
    if !TABLE[idx].arity_ok(args.len()) || !cmd.arity_ok(args.len()) {
        return Err(CmdError::Text(format!(
            "ERR wrong number of arguments for '{}' command",
            cmd.name
        )));
    }
    match check_user(&u, slot, &sub) {
        Ok(()) => ctx.ok(),
        Err(denied) => {
            let msg = crate::acl::dryrun_message(denied, slot, &args);
            ctx.w().bulk(msg.as_bytes());
            Ok(())
        }
    }
}

fn check_user(u: &User, slot: usize, req: &Request<'_>) -> Result<(), crate::acl::Denied> {
    u.check(slot, req)
}

fn help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.help(&[
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    ])
}
