//! Access control as Redis 7.0 has it: users with passwords and rules (`user.rs`), the
//! permission check of every command (`check.rs`), the ACL log (`log.rs`) and the ACL file
//! (`file.rs`). The ACL command itself is `cmd/acl.rs`; AUTH and HELLO are in
//! `cmd/connection.rs`.
//!
//! Users live in one map behind a lock, each an immutable `Arc<User>`: a change builds a new
//! user and swaps it in, then bumps a generation counter. A connection keeps its user's `Arc`
//! and compares the counter (one atomic load) before each check, fetching its user again only
//! when something changed, so the check takes no lock and allocates nothing.

mod check;
mod file;
mod log;
pub(crate) mod sha256;
mod user;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kvproto::{Request, Writer};
use parking_lot::RwLock;

pub(crate) use check::Denied;
pub(crate) use file::{check_user_line, load_at_startup};
pub(crate) use log::{AclLog, Context, Entry, Reason};
pub(crate) use user::{READ, Selector, User, has_spaces};

#[cfg(test)]
mod tests;

use crate::cmd::table;
use crate::conn::Session;
use crate::stats::Counter;

/// Every user, the ACL log and the ACL file's path.
#[derive(Debug)]
pub(crate) struct Acl {
    users: RwLock<BTreeMap<Vec<u8>, Arc<User>>>,
    /// Bumped after every change of any user.
    generation: AtomicU64,
    /// Whether new connections must authenticate (the default user has a password or is
    /// off): Redis's `authRequired`.
    needs_auth: AtomicBool,
    pub(crate) log: AclLog,
    /// `aclfile`, if set.
    pub(crate) file: Option<PathBuf>,
}

impl Acl {
    /// The `default` user alone, with `requirepass` as its password if set.
    pub(crate) fn new(
        requirepass: Option<&[u8]>,
        log_max_len: usize,
        file: Option<PathBuf>,
    ) -> Acl {
        let acl = Acl {
            users: RwLock::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
            needs_auth: AtomicBool::new(false),
            log: AclLog::new(log_max_len),
            file,
        };
        acl.replace_all(BTreeMap::new());
        acl.set_requirepass(requirepass);
        acl
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether a connection must authenticate before running commands.
    pub(crate) fn requires_auth(&self) -> bool {
        self.needs_auth.load(Ordering::Relaxed)
    }

    fn changed(&self, users: &BTreeMap<Vec<u8>, Arc<User>>) {
        let default = &users[&b"default"[..]];
        self.needs_auth
            .store(!default.nopass() || !default.enabled(), Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Replaces every user (ACL LOAD, start-up); a missing `default` is created as Redis's.
    fn replace_all(&self, mut users: BTreeMap<Vec<u8>, Arc<User>>) {
        users
            .entry(b"default".to_vec())
            .or_insert_with(|| Arc::new(User::default_user()));
        let mut current = self.users.write();
        *current = users;
        self.changed(&current);
    }

    pub(crate) fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    pub(crate) fn default_user(&self) -> Arc<User> {
        // `replace_all` and `del_users` keep the default user.
        self.user(b"default").expect("the default user exists")
    }

    /// Every user, by name.
    pub(crate) fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// `requirepass` (config file, CONFIG SET) is the default user's only password; an empty
    /// one makes it `nopass`.
    pub(crate) fn set_requirepass(&self, password: Option<&[u8]>) {
        let rule: Vec<u8> = match password {
            Some(p) => [&b">"[..], p].concat(),
            None => b"nopass".to_vec(),
        };
        let mut users = self.users.write();
        let mut u = (*users[&b"default"[..]]).clone();
        // Both rules are valid for any password.
        u.apply(b"resetpass").expect("resetpass is valid");
        u.apply(&rule).expect("a password rule is valid");
        users.insert(b"default".to_vec(), Arc::new(u));
        self.changed(&users);
    }

    /// The user these credentials authenticate, if any: it exists, is on, and the password
    /// is one of its own (any password for a `nopass` user).
    pub(crate) fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        let u = self.user(name)?;
        (u.enabled() && u.password_ok(password)).then_some(u)
    }

    /// ACL SETUSER: applies the rules to a copy of the user (a new one if it does not exist)
    /// and stores it only if every rule applied. Returns the user as it was and as it is.
    ///
    /// # Errors
    /// Redis's message for the first bad rule; nothing changed.
    pub(crate) fn set_user(
        &self,
        name: &[u8],
        rules: &[&[u8]],
    ) -> Result<(Option<Arc<User>>, Arc<User>), String> {
        let mut users = self.users.write();
        let old = users.get(name).cloned();
        let mut u = match &old {
            Some(u) => (**u).clone(),
            None => User::new(name),
        };
        u.apply_all(rules)?;
        let u = Arc::new(u);
        users.insert(name.to_vec(), Arc::clone(&u));
        self.changed(&users);
        Ok((old, u))
    }

    /// ACL DELUSER: removes the users that exist, returns how many.
    pub(crate) fn del_users(&self, names: &[&[u8]]) -> usize {
        let mut users = self.users.write();
        let n = names.iter().filter(|n| users.remove(**n).is_some()).count();
        if n > 0 {
            self.changed(&users);
        }
        n
    }
}

/// Whether a rule change may have taken channels away from `old` (Redis's first two tests in
/// `ACLKillPubsubClientsIfNeeded`): no selector of `new` allows every channel, and some
/// channel pattern of `old` (or `old`'s every-channel permission) is not in `new`.
pub(crate) fn channels_shrank(old: &User, new: &User) -> bool {
    if new.selectors.iter().any(|s| s.all_channels) {
        return false;
    }
    let kept = |text: &[u8]| {
        new.selectors
            .iter()
            .any(|s| s.channels.iter().any(|c| c.text == text))
    };
    old.selectors
        .iter()
        .any(|s| s.all_channels || s.channels.iter().any(|c| !kept(&c.text)))
}

/// The user a connection is authenticated as, kept current with the ACL.
#[derive(Debug)]
pub(crate) struct SessionUser {
    user: Arc<User>,
    generation: u64,
}

impl SessionUser {
    pub(crate) fn new(acl: &Acl) -> SessionUser {
        SessionUser {
            generation: acl.generation(),
            user: acl.default_user(),
        }
    }

    /// The user with its current rules (a deleted user's connection, which is being closed,
    /// falls back to the default user, as in Redis).
    #[inline]
    pub(crate) fn current(&mut self, acl: &Acl) -> &Arc<User> {
        let generation = acl.generation();
        if generation != self.generation {
            self.refresh(acl, generation);
        }
        &self.user
    }

    #[cold]
    fn refresh(&mut self, acl: &Acl, generation: u64) {
        self.generation = generation;
        self.user = acl
            .user(&self.user.name)
            .unwrap_or_else(|| acl.default_user());
    }

    pub(crate) fn set(&mut self, user: Arc<User>) {
        self.user = user;
    }

    pub(crate) fn name(&self) -> &[u8] {
        &self.user.name
    }
}

/// The dispatcher's check (`Session::run`, after NOAUTH): true if the session's user may run
/// the request; otherwise it is refused with Redis's `-NOPERM` error, logged, and fails an
/// open transaction.
#[inline]
pub(crate) fn permit(s: &mut Session, slot: usize, req: &Request<'_>, out: &mut Vec<u8>) -> bool {
    let Err(denied) = s.user.current(&s.shared.acl).check(slot, req) else {
        return true;
    };
    refuse(s, slot, req, out, denied);
    false
}

#[cold]
fn refuse(s: &mut Session, slot: usize, req: &Request<'_>, out: &mut Vec<u8>, denied: Denied) {
    let context = if s.multi.is_some() {
        Context::Multi
    } else {
        Context::Toplevel
    };
    log_denied(s, slot, req, denied, context);
    let msg = match denied {
        Denied::Command => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            table::stat_command(slot).name
        ),
        Denied::Key(_) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        Denied::Channel(_) => {
            "NOPERM this user has no permissions to access one of the channels used as \
             arguments"
                .into()
        }
    };
    s.reject(slot, req, out, msg.as_bytes());
    s.fail_transaction();
}

/// Adds a denied command to the ACL log.
fn log_denied(s: &mut Session, slot: usize, req: &Request<'_>, denied: Denied, context: Context) {
    let (reason, object) = match denied {
        Denied::Command => (
            Reason::Command,
            table::stat_command(slot).name.as_bytes().to_vec(),
        ),
        Denied::Key(i) => (Reason::Key, req.arg(i).to_vec()),
        Denied::Channel(i) => (Reason::Channel, req.arg(i).to_vec()),
    };
    let username = s.user.name().to_vec();
    log_event(s, reason, context, object, username);
}

/// Adds an event to the ACL log with this client's CLIENT LIST line.
pub(crate) fn log_event(
    s: &Session,
    reason: Reason,
    context: Context,
    object: Vec<u8>,
    username: Vec<u8>,
) {
    let client_info = crate::cmd::client_info(&s.shared, &s.handle);
    s.shared.acl.log.push(Entry {
        count: 1,
        reason,
        context,
        object,
        username,
        ms: log::now_ms(),
        client_info,
    });
}

/// The check of a command a script calls (`redis.call`): Redis's error text for the script,
/// the event logged with the `lua` context.
///
/// # Errors
/// `The user executing the script ...`, without the `ERR ` prefix.
pub(crate) fn permit_script(s: &mut Session, slot: usize, req: &Request<'_>) -> Result<(), String> {
    let Err(denied) = s.user.current(&s.shared.acl).check(slot, req) else {
        return Ok(());
    };
    log_denied(s, slot, req, denied, Context::Lua);
    Err(format!("The user executing the script {}", why(denied)))
}

/// Redis's `getAclErrorMessage`.
fn why(denied: Denied) -> &'static str {
    match denied {
        Denied::Command => "can't run this command or subcommand",
        Denied::Key(_) => {
            "can't access at least one of the keys mentioned in the command arguments"
        }
        Denied::Channel(_) => "can't publish to the channel mentioned in the command",
    }
}

/// EXEC's check of each queued command, in case the rules changed since it was queued: a
/// refused one answers Redis's error in its place in EXEC's reply and is logged; false then.
pub(crate) fn permit_queued(
    s: &mut Session,
    slot: usize,
    req: &Request<'_>,
    out: &mut Vec<u8>,
) -> bool {
    // A replica's primary is obeyed whatever the ACL says (Redis's `mustObeyClient`).
    if s.master {
        return true;
    }
    let Err(denied) = s.user.current(&s.shared.acl).check(slot, req) else {
        return true;
    };
    log_denied(s, slot, req, denied, Context::Multi);
    let reason = match denied {
        Denied::Command => "no permission to execute the command or subcommand",
        Denied::Key(_) => "no permission to touch the specified keys",
        Denied::Channel(_) => "no permission to access one of the channels used as arguments",
    };
    let msg = format!(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the \
         EXEC call. This command is no longer allowed for the following reason: {reason}"
    );
    let mark = out.len();
    Writer::new(out, s.version).error(msg.as_bytes());
    s.handle.counters.add(Counter::Errors, 1);
    s.shared.errors.record(&out[mark..]);
    false
}

/// ACL DRYRUN's answer for a denied check (`None`: allowed).
pub(crate) fn dryrun_message(denied: Denied, slot: usize, args: &[&[u8]]) -> String {
    let arg = |i: usize| String::from_utf8_lossy(args[i]).into_owned();
    match denied {
        Denied::Command => format!(
            "This user has no permissions to run the '{}' command",
            table::stat_command(slot).name
        ),
        Denied::Key(i) => format!(
            "This user has no permissions to access the '{}' key",
            arg(i)
        ),
        Denied::Channel(i) => format!(
            "This user has no permissions to access the '{}' channel",
            arg(i)
        ),
    }
}
