//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE,
//! SUNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB (CHANNELS, NUMSUB, NUMPAT, SHARDCHANNELS,
//! SHARDNUMSUB, HELP), over the store's bus (`kvcore::Kv::publish`, `kvcore::Subscriber`).
//!
//! The (un)subscribe commands write no reply of their own: the bus hands their confirmations to
//! the client's sink, in order with the messages (`kvserver/src/pubsub.rs`).

use kvcore::{Counts, Kind, Subscriber};
use kvproto::Request;

use super::ctx::{CmdResult, Ctx};
use super::spec::Begin::Index;
use super::spec::Find::Range;
use super::spec::{Group, a, ks};
use super::table::{Command, run_subcommand};

// Summaries are Redis 7.2's (as the other families'); the rest is 7.0.15's JSON.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("psubscribe", -2, "pubsub noscript loading stale", psubscribe)
        .doc(Group::Pubsub, "2.0.0", "Listens for messages published to channels that match one or more patterns.")
        .complexity("O(N) where N is the number of patterns the client is already subscribed to.")
        .args(&[a("pattern", "block").flags("multiple").args(&[a("pattern", "pattern")])]),
    Command::new("publish", 3, "pubsub loading stale fast", publish)
        .doc(Group::Pubsub, "2.0.0", "Posts a message to a channel.")
        .complexity("O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).")
        .args(&[a("channel", "string"), a("message", "string")]),
    Command::new("pubsub", -2, "", run_subcommand)
        .doc(Group::Pubsub, "2.8.0", "A container for Pub/Sub commands.")
        .complexity("Depends on subcommand.")
        .subcommands(SUBCOMMANDS),
    Command::new("punsubscribe", -1, "pubsub noscript loading stale", punsubscribe)
        .doc(Group::Pubsub, "2.0.0", "Stops listening to messages published to channels that match one or more patterns.")
        .complexity("O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).")
        .args(&[a("pattern", "pattern").flags("optional multiple")]),
    Command::new("spublish", 3, "pubsub loading stale fast", spublish)
        .keys(&[ks("not_key", Index(1), Range(0, 1, 0))])
        .doc(Group::Pubsub, "7.0.0", "Post a message to a shard channel")
        .complexity("O(N) where N is the number of clients subscribed to the receiving shard channel.")
        .args(&[a("shardchannel", "string"), a("message", "string")]),
    Command::new("ssubscribe", -2, "pubsub noscript loading stale", ssubscribe)
        .keys(&[ks("not_key", Index(1), Range(-1, 1, 0))])
        .doc(Group::Pubsub, "7.0.0", "Listens for messages published to shard channels.")
        .complexity("O(N) where N is the number of shard channels to subscribe to.")
        .args(&[a("shardchannel", "string").flags("multiple")]),
    Command::new("subscribe", -2, "pubsub noscript loading stale", subscribe)
        .doc(Group::Pubsub, "2.0.0", "Listens for messages published to channels.")
        .complexity("O(N) where N is the number of channels to subscribe to.")
        .args(&[a("channel", "string").flags("multiple")]),
    Command::new("sunsubscribe", -1, "pubsub noscript loading stale", sunsubscribe)
        .keys(&[ks("not_key", Index(1), Range(-1, 1, 0))])
        .doc(Group::Pubsub, "7.0.0", "Stops listening to messages posted to shard channels.")
        .complexity("O(N) where N is the number of clients already subscribed to a shard channel.")
        .args(&[a("shardchannel", "string").flags("optional multiple")]),
    Command::new("unsubscribe", -1, "pubsub noscript loading stale", unsubscribe)
        .doc(Group::Pubsub, "2.0.0", "Stops listening to messages posted to channels.")
        .complexity("O(N) where N is the number of clients already subscribed to a channel.")
        .args(&[a("channel", "string").flags("optional multiple")]),
];

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("pubsub|channels", -2, "pubsub loading stale", channels)
        .doc(Group::Pubsub, "2.8.0", "Returns the active channels.")
        .complexity("O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)")
        .args(&[a("pattern", "pattern").flags("optional")]),
    Command::new("pubsub|help", 2, "loading stale", help)
        .doc(Group::Pubsub, "6.2.0", "Returns helpful text about the different subcommands.")
        .complexity("O(1)"),
    Command::new("pubsub|numpat", 2, "pubsub loading stale", numpat)
        .doc(Group::Pubsub, "2.8.0", "Returns a count of unique pattern subscriptions.")
        .complexity("O(1)"),
    Command::new("pubsub|numsub", -2, "pubsub loading stale", numsub)
        .doc(Group::Pubsub, "2.8.0", "Returns a count of subscribers to channels.")
        .complexity("O(N) for the NUMSUB subcommand, where N is the number of requested channels")
        .args(&[a("channel", "string").flags("optional multiple")]),
    Command::new("pubsub|shardchannels", -2, "pubsub loading stale", shardchannels)
        .doc(Group::Pubsub, "7.0.0", "Returns the active shard channels.")
        .complexity("O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).")
        .args(&[a("pattern", "pattern").flags("optional")]),
    Command::new("pubsub|shardnumsub", -2, "pubsub loading stale", shardnumsub)
        .doc(Group::Pubsub, "7.0.0", "Returns the count of subscribers of shard channels.")
        .complexity("O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels")
        .args(&[a("shardchannel", "string").flags("optional multiple")]),
];

/// The commands a RESP2 client with a subscription may run (Redis's `processCommand`).
pub(crate) fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

/// The error a RESP2 client with a subscription gets for any other command (`name` as Redis's
/// `fullname`: `config|get`).
pub(crate) fn refused_when_subscribed(name: &str) -> String {
    format!(
        "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
         RESET are allowed in this context"
    )
}

/// Runs a (un)subscription on the client's subscriber (made at its first one).
fn change(
    ctx: &mut Ctx<'_>,
    req: &Request<'_>,
    f: fn(&Subscriber, Vec<&[u8]>) -> Counts,
) -> CmdResult {
    let names: Vec<&[u8]> = req.args().skip(1).collect();
    let s = &mut *ctx.s;
    s.pubsub
        .change(&s.shared, &s.handle, ctx.out, |sub| f(sub, names))
}

fn subscribe(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    change(ctx, req, |s, n| s.subscribe(n))
}

fn unsubscribe(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    change(ctx, req, |s, n| s.unsubscribe(n))
}

fn psubscribe(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    change(ctx, req, |s, n| s.psubscribe(n))
}

fn punsubscribe(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    change(ctx, req, |s, n| s.punsubscribe(n))
}

fn ssubscribe(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    change(ctx, req, |s, n| s.ssubscribe(n))
}

fn sunsubscribe(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    change(ctx, req, |s, n| s.sunsubscribe(n))
}

/// PUBLISH channel message: the number of receiving subscriptions. The subscribers' sockets are
/// written at the end of this client's batch (`kvcore::PendingFlush`).
fn publish(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let s = &mut *ctx.s;
    // Inside EXEC or a script, through its transaction: the message goes into the
    // transaction's replication group, in its place.
    let kv = s.exec.as_ref().unwrap_or(&s.shared.kv);
    let n = kv.publish_deferred(req.arg(1), req.arg(2), &mut s.pubsub.pending);
    ctx.int(n as i64)
}

/// SPUBLISH shardchannel message.
fn spublish(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    let s = &mut *ctx.s;
    // Inside EXEC or a script, through its transaction: the message goes into the
    // transaction's replication group, in its place.
    let kv = s.exec.as_ref().unwrap_or(&s.shared.kv);
    let n = kv.spublish_deferred(req.arg(1), req.arg(2), &mut s.pubsub.pending);
    ctx.int(n as i64)
}

fn syntax_error(req: &Request<'_>) -> super::error::CmdError {
    super::error::subcommand_syntax("pubsub", req.arg(1))
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern].
fn list(ctx: &mut Ctx<'_>, req: &Request<'_>, kind: Kind) -> CmdResult {
    if req.len() > 3 {
        return Err(syntax_error(req));
    }
    let pattern = (req.len() == 3).then(|| req.arg(2));
    let names = ctx.s.shared.kv.pubsub_channels(kind, pattern);
    ctx.bulks(&names)
}

fn channels(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    list(ctx, req, Kind::Channel)
}

fn shardchannels(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    list(ctx, req, Kind::Shard)
}

/// PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: channel, count, ... as a flat array.
fn counts(ctx: &mut Ctx<'_>, req: &Request<'_>, kind: Kind) -> CmdResult {
    let names: Vec<&[u8]> = req.args().skip(2).collect();
    let counts = ctx.s.shared.kv.pubsub_numsub(kind, &names);
    let mut w = ctx.w();
    w.array_len(names.len() * 2);
    for (name, n) in names.iter().zip(counts) {
        w.bulk(name);
        w.integer(n as i64);
    }
    Ok(())
}

fn numsub(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    counts(ctx, req, Kind::Channel)
}

fn shardnumsub(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    counts(ctx, req, Kind::Shard)
}

fn numpat(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let n = ctx.s.shared.kv.pubsub_counts().patterns;
    ctx.int(n as i64)
}

fn help(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let lines = [
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ];
    ctx.help(&lines)
}
