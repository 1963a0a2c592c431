//! Functions: FUNCTION LOAD / DELETE / FLUSH / LIST / STATS / KILL / HELP, FCALL, FCALL_RO.
//!
//! The libraries live in kvcore's script engine (`kvcore::script::Engine`, its functions
//! interpreters); FCALL runs a function as EVAL runs a script (`script::run`): in an open
//! transaction over its declared keys, with this server's command table as its host.

use kvcore::script::{KillOutcome, Policy};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, SYNTAX};
use super::script::{error_of, run, to_frame};
use super::spec::{Find, Group, a, ks};
use super::table::Command;

use super::spec::Begin::Index;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("fcall", -3, "noscript skip_monitor no_mandatory_keys stale", fcall)
        .acl("@scripting")
        .keys(&[ks("RW access update", Index(2), Find::Keynum(0, 1, 1))
            .notes("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")])
        .doc(Group::Scripting, "7.0.0", "Invoke a function")
        .complexity("Depends on the function that is executed.")
        .args(ARGS),
    Command::new("fcall_ro", -3, "noscript skip_monitor no_mandatory_keys stale readonly", fcall_ro)
        .acl("@scripting")
        .keys(&[ks("RO access", Index(2), Find::Keynum(0, 1, 1))
            .notes("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS")])
        .doc(Group::Scripting, "7.0.0", "Invoke a read-only function")
        .complexity("Depends on the function that is executed.")
        .args(ARGS),
    Command::new("function", -2, "", super::table::run_subcommand)
        .doc(Group::Scripting, "7.0.0", "A container for function commands")
        .complexity("Depends on subcommand.")
        .subcommands(SUBCOMMANDS),
];

static ARGS: &[super::spec::Arg] = &[
    a("function", "string"),
    a("numkeys", "integer"),
    a("key", "key").key(0).flags("optional multiple"),
    a("arg", "string").flags("optional multiple"),
];

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("function|delete", 3, "write noscript", delete)
        .acl("@scripting")
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Scripting, "7.0.0", "Delete a function by name")
        .complexity("O(1)")
        .args(&[a("library-name", "string")]),
    Command::new("function|dump", 2, "noscript", dump)
        .acl("@scripting")
        .doc(Group::Scripting, "7.0.0", "Dump all functions into a serialized binary payload")
        .complexity("O(N) where N is the number of functions"),
    Command::new("function|flush", -2, "write noscript", flush)
        .acl("@scripting")
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Scripting, "7.0.0", "Deleting all functions")
        .complexity("O(N) where N is the number of functions deleted")
        .args(&[a("async", "oneof").flags("optional").args(&[
            a("async", "pure-token").token("ASYNC"),
            a("sync", "pure-token").token("SYNC"),
        ])]),
    Command::new("function|help", 2, "loading stale", help)
        .acl("@scripting")
        .doc(Group::Scripting, "7.0.0", "Show helpful text about the different subcommands")
        .complexity("O(1)"),
    Command::new("function|kill", 2, "noscript allow_busy", kill)
        .acl("@scripting")
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
        .doc(Group::Scripting, "7.0.0", "Kill the function currently in execution.")
        .complexity("O(1)"),
    Command::new("function|list", -2, "noscript", list)
        .acl("@scripting")
        .tips(&["nondeterministic_output_order"])
        .doc(Group::Scripting, "7.0.0", "List information about all the functions")
        .complexity("O(N) where N is the number of functions")
        .args(&[
            a("library-name-pattern", "string").token("LIBRARYNAME").flags("optional"),
            a("withcode", "pure-token").token("WITHCODE").flags("optional"),
        ]),
    Command::new("function|load", -3, "write denyoom noscript", load)
        .acl("@scripting")
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Scripting, "7.0.0", "Create a function with the given arguments (name, code, description)")
        .complexity("O(1) (considering compilation time is redundant)")
        .args(&[
            a("replace", "pure-token").token("REPLACE").flags("optional"),
            a("function-code", "string"),
        ]),
    Command::new("function|restore", -3, "write denyoom noscript", restore)
        .acl("@scripting")
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Scripting, "7.0.0", "Restore all the functions on the given payload")
        .complexity("O(N) where N is the number of functions on the payload")
        .args(&[
            a("serialized-value", "string"),
            a("policy", "oneof").flags("optional").args(&[
                a("flush", "pure-token").token("FLUSH"),
                a("append", "pure-token").token("APPEND"),
                a("replace", "pure-token").token("REPLACE"),
            ]),
        ]),
    Command::new("function|stats", 2, "noscript allow_busy", stats)
        .acl("@scripting")
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
        .doc(Group::Scripting, "7.0.0", "Return information about the function currently running (name, description, duration)")
        .complexity("O(1)"),
];

fn fcall(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    fcall_generic(ctx, req, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    fcall_generic(ctx, req, true)
}

fn fcall_generic(ctx: &mut Ctx<'_>, req: &Request<'_>, read_only: bool) -> CmdResult {
    let numkeys =
        int_arg(req.arg(2)).map_err(|_| CmdError::Msg("ERR Bad number of keys provided"))?;
    let name = req.arg(1);
    // Out of memory when the command started: FCALL is `denyoom` unless the function allows
    // it (`allow-oom` or `no-writes`), as Redis derives its flags from the function's; with
    // `allow-oom` the function's writes are not checked.
    // A read-only replica refuses a script that declared it may write, before it runs.
    if !ctx.s.master
        && crate::replica::refuses_write(&ctx.s.shared, true)
        && let Some(flags) = ctx.s.shared.scripts.function_flags(name)
        && !flags.no_writes
    {
        return Err(CmdError::Msg(
            "READONLY You can't write against a read only replica.",
        ));
    }
    let oom = ctx.s.oom;
    if oom && let Some(flags) = ctx.s.shared.scripts.function_flags(name) {
        if !flags.allow_oom && !flags.no_writes {
            return Err(CmdError::Msg(
                "OOM command not allowed when used memory > 'maxmemory'.",
            ));
        }
        ctx.s.oom = !flags.allow_oom;
    }
    let ran = run(ctx, req, numkeys, true, |engine, keys, argv, host| {
        engine.fcall(name, keys, argv, read_only, host)
    });
    ctx.s.oom = oom;
    ran
}

fn load(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (policy, code) = match req.len() {
        3 => (Policy::Append, req.arg(2)),
        4 if is(req.arg(2), "replace") => (Policy::Replace, req.arg(3)),
        4 => {
            return Err(CmdError::Raw(
                [&b"ERR Unknown option given: "[..], req.arg(2)].concat(),
            ));
        }
        _ => return Err(SYNTAX),
    };
    // The store keeps the library, so it survives a restart (inside EXEC the change joins
    // the transaction's record); its order gate serializes the change with the others.
    let kv = ctx.s.db.kv();
    let store = kv.function_store();
    let name = ctx
        .s
        .shared
        .scripts
        .function_load(code, policy, |name, code| {
            store.set(name.as_bytes(), code).map_err(store_error)
        })
        .map_err(error_of)?;
    store.commit()?;
    ctx.w().bulk(name.as_bytes());
    Ok(())
}

fn delete(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let kv = ctx.s.db.kv();
    let store = kv.function_store();
    let name = req.arg(2);
    ctx.s
        .shared
        .scripts
        .function_delete(name, || store.delete(name).map(drop).map_err(store_error))
        .map_err(error_of)?;
    store.commit()?;
    ctx.ok()
}

fn flush(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    match req.len() {
        2 => {}
        3 if is(req.arg(2), "async") || is(req.arg(2), "sync") => {}
        _ => {
            return Err(CmdError::Msg(
                "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
            ));
        }
    }
    let kv = ctx.s.db.kv();
    let store = kv.function_store();
    ctx.s
        .shared
        .scripts
        .function_flush(|| store.flush().map_err(store_error))
        .map_err(error_of)?;
    store.commit()?;
    ctx.ok()
}

fn dump(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let payload = ctx.s.shared.scripts.function_dump();
    ctx.w().bulk(&payload);
    Ok(())
}

fn restore(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let policy = match req.len() {
        3 => Policy::Append,
        4 if is(req.arg(3), "append") => Policy::Append,
        4 if is(req.arg(3), "replace") => Policy::Replace,
        4 if is(req.arg(3), "flush") => Policy::Flush,
        4 => {
            return Err(CmdError::Msg(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ));
        }
        _ => return Err(super::error::subcommand_syntax("function", req.arg(1))),
    };
    // As FUNCTION LOAD: the libraries are logged (one record with the flush, if any) before
    // they are installed, under the store's order gate.
    let kv = ctx.s.db.kv();
    let store = kv.function_store();
    ctx.s
        .shared
        .scripts
        .function_restore(req.arg(2), policy, |flush, libraries| {
            let libraries: Vec<(&[u8], &[u8])> = libraries
                .iter()
                .map(|(name, code)| (name.as_bytes(), &code[..]))
                .collect();
            store.restore(flush, &libraries).map_err(store_error)
        })
        .map_err(error_of)?;
    store.commit()?;
    ctx.ok()
}

/// A store error as a script error reply.
fn store_error(e: kvcore::Error) -> kvcore::script::Value {
    kvcore::script::Value::Error(super::error::text("function", CmdError::Core(e)).into_owned())
}

fn list(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let (mut pattern, mut with_code) = (None, false);
    let mut i = 2;
    while i < req.len() {
        let arg = req.arg(i);
        if is(arg, "withcode") {
            with_code = true;
        } else if is(arg, "libraryname") {
            if i + 1 >= req.len() {
                return Err(CmdError::Msg("ERR library name argument was not given"));
            }
            if pattern.is_some() {
                return Err(CmdError::Msg("ERR library name can be given only once"));
            }
            i += 1;
            pattern = Some(kvcore::Pattern::new(req.arg(i)));
        } else {
            return Err(CmdError::Raw([&b"ERR Unknown argument "[..], arg].concat()));
        }
        i += 1;
    }
    let reply = ctx
        .s
        .shared
        .scripts
        .function_list(pattern.as_ref(), with_code);
    let version = ctx.s.version;
    kvproto::encode(&to_frame(reply), version, ctx.out);
    Ok(())
}

fn stats(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let reply = ctx.s.shared.scripts.function_stats();
    let version = ctx.s.version;
    kvproto::encode(&to_frame(reply), version, ctx.out);
    Ok(())
}

fn kill(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let scripts = &ctx.s.shared.scripts;
    // Every running function that has not written is asked to stop; with none, a running
    // EVAL script is SCRIPT KILL's, as Redis answers.
    match scripts.kill_function() {
        KillOutcome::NotBusy if scripts.running_for().is_some() => {
            Err(CmdError::Msg(super::script::BUSY_EVAL))
        }
        KillOutcome::NotBusy => Err(CmdError::Msg("NOTBUSY No scripts in execution right now.")),
        KillOutcome::Unkillable => Err(CmdError::Msg(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        )),
        KillOutcome::Killed => ctx.ok(),
    }
}

fn help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let lines = [
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ];
    ctx.help(&lines)
}
