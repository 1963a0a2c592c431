//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! MULTI starts queueing: the dispatcher (`Session::run`) answers `+QUEUED` for each command
//! that passes its checks, and remembers a rejected one (unknown, wrong arity, NOAUTH, a
//! `no_multi` command) so that EXEC answers EXECABORT. EXEC runs the queued commands as one
//! `kvcore` transaction ([`kvcore::Db::transaction`]): it locks the shards of every key the
//! commands name (found by the command table's key specs, following the SELECTs among them)
//! or, if any command touches the keyspace as a whole, every shard ([`kvcore::Scope`]), so no
//! other client observes a state between two of them and their writes are one log record.
//! WATCH registers keys in a [`kvcore::Watch`]; EXEC answers a null array if one changed.

use kvproto::Request;

use super::command::keys_by_specs;
use super::ctx::{CmdResult, Ctx, i32_arg};
use super::error::CmdError;
use super::spec::{Find, Group, a, ks};
use super::table::{self, Command, TABLE};

use super::spec::Begin::Index;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("discard", 1, "noscript loading stale fast allow_busy", discard)
        .acl("@transaction")
        .doc(Group::Transactions, "2.0.0", "Discards a transaction.")
        .complexity("O(N), when N is the number of queued commands"),
    Command::new("exec", 1, "noscript loading stale skip_slowlog", exec)
        .acl("@transaction")
        .doc(Group::Transactions, "1.2.0", "Executes all commands in a transaction.")
        .complexity("Depends on commands in the transaction"),
    Command::new("multi", 1, "noscript loading stale fast allow_busy", multi)
        .acl("@transaction")
        .doc(Group::Transactions, "1.2.0", "Starts a transaction.")
        .complexity("O(1)"),
    Command::new("unwatch", 1, "noscript loading stale fast allow_busy", unwatch)
        .acl("@transaction")
        .doc(Group::Transactions, "2.2.0", "Forgets about watched keys of a transaction.")
        .complexity("O(1)"),
    Command::new("watch", -2, "noscript loading stale fast allow_busy", watch)
        .acl("@transaction")
        .keys(&[ks("RO", Index(1), Find::Range(-1, 1, 0))])
        .doc(Group::Transactions, "2.2.0", "Monitors changes to keys to determine the execution of a transaction.")
        .complexity("O(1) for every key.")
        .args(&[a("key", "key").key(0).flags("multiple")]),
];

/// A command queued by MULTI: its table entry (the subcommand's, for a container) and where
/// its arguments are in the transaction's buffer.
#[derive(Debug)]
struct Queued {
    /// The table index of the command (`TABLE`), and its statistics slot (the subcommand's).
    idx: usize,
    slot: usize,
    /// Its arguments' entries in `Transaction::spans`.
    args: std::ops::Range<usize>,
}

/// A connection's open transaction (between MULTI and EXEC/DISCARD). The queued arguments are
/// copied out of the read buffer into one buffer, and a connection reuses its last
/// transaction's allocations ([`Transaction::recycle`]): queueing allocates nothing in the
/// steady state.
#[derive(Debug, Default)]
pub(crate) struct Transaction {
    queued: Vec<Queued>,
    /// Every queued argument, back to back.
    buf: Vec<u8>,
    /// `(start, end)` of each argument in `buf`.
    spans: Vec<(usize, usize)>,
    /// A command was rejected while queueing: EXEC answers EXECABORT.
    failed: bool,
    /// Bytes of arguments queued, bounded by the client query buffer limit.
    bytes: u64,
}

impl Transaction {
    /// Queues a command; false (and the transaction fails) if the queued arguments would pass
    /// `limit` bytes.
    pub(crate) fn queue(&mut self, idx: usize, slot: usize, req: &Request<'_>, limit: u64) -> bool {
        let size: u64 = req.args().map(|a| a.len() as u64 + 16).sum();
        if self.bytes.saturating_add(size) > limit {
            self.failed = true;
            return false;
        }
        self.bytes += size;
        let first = self.spans.len();
        for a in req.args() {
            let start = self.buf.len();
            self.buf.extend_from_slice(a);
            self.spans.push((start, self.buf.len()));
        }
        self.queued.push(Queued {
            idx,
            slot,
            args: first..self.spans.len(),
        });
        true
    }

    /// The arguments of queued command `q`.
    fn args<'a>(&'a self, q: &Queued) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.spans[q.args.clone()]
            .iter()
            .map(|&(start, end)| &self.buf[start..end])
    }

    /// Empties the transaction, keeping its allocations for the connection's next MULTI.
    pub(crate) fn recycle(mut self) -> Transaction {
        self.queued.clear();
        self.buf.clear();
        self.spans.clear();
        self.failed = false;
        self.bytes = 0;
        if self.buf.capacity() > 1 << 20 {
            // A huge transaction does not pin its memory for the connection's life.
            return Transaction::default();
        }
        self
    }

    /// Remembers that a command was rejected while queueing.
    pub(crate) fn fail(&mut self) {
        self.failed = true;
    }

    /// How many commands are queued (CLIENT LIST's `multi=`).
    pub(crate) fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether a queued command writes or may replicate (what CLIENT PAUSE WRITE holds EXEC
    /// for, as Redis's `mstate.cmd_flags`).
    /// Whether a queued command is `denyoom` (EXEC is then refused while out of memory).
    pub(crate) fn denyoom(&self) -> bool {
        self.queued
            .iter()
            .any(|q| table::stat_command(q.slot).flags.has(table::Flags::DENYOOM))
    }

    pub(crate) fn writes(&self) -> bool {
        self.queued.iter().any(|q| {
            table::stat_command(q.slot)
                .flags
                .any(table::Flags::PAUSED_BY_WRITE)
        })
    }

    /// The keys the queued commands touch, by database, following their SELECTs from database
    /// `db`; `None` when a command touches the keyspace as a whole (or its keys cannot be told
    /// from its arguments), so the transaction must lock everything.
    fn scope(&self, mut db: usize, databases: usize) -> Option<Vec<(usize, &[u8])>> {
        let mut keys = Vec::new();
        let mut args: Vec<&[u8]> = Vec::new();
        for q in &self.queued {
            let cmd = table::stat_command(q.slot);
            args.clear();
            args.extend(self.args(q));
            match cmd.name {
                "select" => {
                    // A bad index fails that SELECT; the database stays.
                    if let Ok(i) = i32_arg(args[1], None)
                        && let Ok(i) = usize::try_from(i)
                        && i < databases
                    {
                        db = i;
                    }
                    continue;
                }
                // The whole keyspace, or another database than the selected one.
                "flushall" | "flushdb" | "swapdb" | "dbsize" | "keys" | "scan" | "randomkey"
                | "info" | "move" => return None,
                // A script may touch keys it did not declare.
                "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => {
                    return None;
                }
                // Function libraries change under the order gate, which only an Everything
                // scope holds.
                "function|load" | "function|delete" | "function|flush" | "function|restore" => {
                    return None;
                }
                "copy" if args[3..].iter().any(|a| a.eq_ignore_ascii_case(b"db")) => return None,
                // BY and GET patterns read keys the arguments do not name.
                "sort" | "sort_ro" if super::sort::reads_patterns(&args) => return None,
                "sort" | "sort_ro" => {
                    keys.extend(super::sort::keys(&args).into_iter().map(|p| (db, args[p])));
                    continue;
                }
                _ => {}
            }
            if cmd.key_specs.is_empty() {
                // Keyless commands touch no key (PING, ECHO, CLIENT, CONFIG, TIME, ...).
                continue;
            }
            let positions = keys_by_specs(cmd.key_specs, &args)?;
            keys.extend(positions.into_iter().map(|p| (db, args[p])));
        }
        Some(keys)
    }
}

fn multi(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    if ctx.s.multi.is_some() {
        return Err(CmdError::Msg("ERR MULTI calls can not be nested"));
    }
    ctx.s.multi = Some(std::mem::take(&mut ctx.s.spare_transaction));
    ctx.s.handle.set_multi(0);
    ctx.ok()
}

fn discard(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    if ctx.s.multi.take().is_none() {
        return Err(CmdError::Msg("ERR DISCARD without MULTI"));
    }
    ctx.s.unwatch();
    ctx.s.handle.set_multi(-1);
    ctx.ok()
}

fn watch(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if ctx.s.multi.is_some() {
        return Err(CmdError::Msg("ERR WATCH inside MULTI is not allowed"));
    }
    let s = &mut *ctx.s;
    let w = s.watch.get_or_insert_with(|| s.shared.kv.watch_none());
    for key in req.args().skip(1) {
        w.add(&s.db, key);
    }
    let n = w.len();
    s.handle.set_watched(n);
    ctx.ok()
}

fn unwatch(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.s.unwatch();
    ctx.ok()
}

/// EXEC: EXECABORT if a command was rejected while queueing; a null array if a watched key
/// changed; otherwise the queued commands' replies, run as one transaction.
fn exec(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    let Some(tx) = ctx.s.multi.take() else {
        return Err(CmdError::Msg("ERR EXEC without MULTI"));
    };
    ctx.s.handle.set_multi(-1);
    let watch = ctx.s.watch.take();
    ctx.s.handle.set_watched(0);
    if tx.failed {
        return Err(CmdError::Msg(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    let databases = ctx.s.shared.kv.databases();
    let scope_keys = tx.scope(ctx.s.db_index, databases);
    let scope = match &scope_keys {
        Some(keys) => kvcore::Scope::Keys(keys),
        None => kvcore::Scope::Everything,
    };
    let db = ctx.s.db.clone();
    let mut changed = false;
    let mut wrote = false;
    let (s, out) = (&mut *ctx.s, &mut *ctx.out);
    let mark = out.len();
    let ran = db.transaction(scope, |t| {
        // Checked with the keys locked: nothing can change them until the commands ran.
        if watch.as_ref().is_some_and(kvcore::Watch::changed) {
            changed = true;
            return Ok(());
        }
        s.enter_exec(t.kv().clone())?;
        kvproto::Writer::new(out, s.version).array_len(tx.queued.len());
        for q in &tx.queued {
            let req = Request::from_args(tx.args(q));
            // The rules may have changed since the command was queued.
            if !crate::acl::permit_queued(s, q.slot, &req, out) {
                continue;
            }
            s.call(q.idx, q.slot, &req, out);
            wrote |= TABLE[q.idx].flags.has(super::spec::Flags::WRITE);
        }
        Ok(())
    });
    s.leave_exec();
    drop(watch);
    drop(scope_keys);
    s.spare_transaction = tx.recycle();
    if let Err(e) = ran {
        out.truncate(mark);
        return Err(e.into());
    }
    if changed {
        ctx.w().null_array();
    } else if wrote {
        // Clients blocked on keys the transaction pushed to are served now that its locks are
        // released (serving inside it would need their shards through their own handles).
        ctx.s.shared.waiters.serve();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(cmds: &[&[&str]]) -> Transaction {
        let mut t = Transaction::default();
        for c in cmds {
            let args: Vec<&[u8]> = c.iter().map(|a| a.as_bytes()).collect();
            let req = Request::from_args(args);
            let idx = table::lookup(req.arg(0)).unwrap();
            let slot = table::stat_slot(idx, &req);
            assert!(t.queue(idx, slot, &req, u64::MAX));
        }
        t
    }

    fn scope(t: &Transaction) -> Option<Vec<(usize, String)>> {
        t.scope(0, 16).map(|keys| {
            keys.into_iter()
                .map(|(db, k)| (db, String::from_utf8(k.to_vec()).unwrap()))
                .collect()
        })
    }

    #[test]
    fn the_scope_follows_keys_and_selects() {
        let t = tx(&[
            &["SET", "a", "1"],
            &["PING"],
            &["MSET", "b", "1", "c", "2"],
            &["SELECT", "3"],
            &["LMOVE", "l1", "l2", "LEFT", "RIGHT"],
            &["SELECT", "99"],
            &["ZUNIONSTORE", "d", "2", "z1", "z2"],
            &["OBJECT", "ENCODING", "e"],
        ]);
        let got = scope(&t).unwrap();
        let want: Vec<(usize, String)> = [
            (0, "a"),
            (0, "b"),
            (0, "c"),
            (3, "l1"),
            (3, "l2"),
            (3, "d"),
            (3, "z1"),
            (3, "z2"),
            (3, "e"),
        ]
        .iter()
        .map(|&(d, k)| (d, k.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn whole_keyspace_commands_need_everything() {
        for cmd in [
            &["FLUSHALL"][..],
            &["FLUSHDB"],
            &["SWAPDB", "0", "1"],
            &["DBSIZE"],
            &["KEYS", "*"],
            &["SCAN", "0"],
            &["RANDOMKEY"],
            &["INFO"],
            &["MOVE", "k", "1"],
            &["COPY", "a", "b", "DB", "2"],
            // A key count that is not a count: the keys cannot be told.
            &["ZUNIONSTORE", "d", "x", "z1"],
        ] {
            assert_eq!(scope(&tx(&[&["SET", "a", "1"], cmd])), None, "{cmd:?}");
        }
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut t = Transaction::default();
        let req = Request::from_args([&b"SET"[..], b"k", b"v"]);
        let idx = table::lookup(b"set").unwrap();
        assert!(t.queue(idx, idx, &req, 100));
        assert!(!t.queue(idx, idx, &req, 100));
        assert!(t.failed);
    }

    #[test]
    fn watch_has_redis_s_key_spec() {
        let w = TABLE[table::lookup(b"watch").unwrap()];
        let args: Vec<&[u8]> = vec![b"watch", b"a", b"b"];
        assert_eq!(keys_by_specs(w.key_specs, &args), Some(vec![1, 2]));
    }
}
