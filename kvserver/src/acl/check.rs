//! The permission check of one command against a user (Redis's `ACLCheckAllUserCommandPerm`):
//! each selector in turn, the command bit (or an allowed first argument), then every key the
//! command's key specs name with the access their flags imply, then its channels. Nothing is
//! allocated: keys are walked straight from the key specs, and a user whose root selector
//! allows everything (the default user) returns at the first test.

use std::sync::LazyLock;

use kvproto::Request;

use super::user::{READ, Selector, User, WRITE};
use crate::cmd::table::{self, Flags};

/// What a check refused, with the argument index of the key or channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    /// Redis's order of reasons (`ACL_DENIED_*`), to pick the one to report.
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, i),
            Denied::Channel(i) => (4, i),
        }
    }
}

/// Key spec flag: not a key (SPUBLISH's channel).
const NOT_KEY: u8 = 4;

/// How a command's channels are found (Redis's `commands_with_channels`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Channels {
    None,
    /// Every argument from 1 is a channel (SUBSCRIBE, SSUBSCRIBE).
    Subscribe,
    /// Every argument from 1 is a channel pattern, matched literally (PSUBSCRIBE).
    Patterns,
    /// Argument 1 is a channel (PUBLISH, SPUBLISH).
    Publish,
}

/// Commands whose keys Redis finds with a function of their own (`getkeys_proc`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// By the key specs.
    Specs,
    /// SORT's key and STORE's (`sortGetKeys`).
    Sort,
    /// SET's key: written, and read too with GET (`setGetKeys`).
    Set,
    /// BITFIELD's key: read only with GET alone (`bitfieldGetKeys`).
    Bitfield,
}

/// Per statistics slot: the access each key spec needs, and the channels.
struct SlotInfo {
    spec_perms: Vec<u8>,
    channels: Channels,
    keys: Keys,
}

static SLOTS: LazyLock<Vec<SlotInfo>> = LazyLock::new(|| {
    (0..table::stat_slots())
        .map(|slot| {
            let cmd = table::stat_command(slot);
            let spec_perms = cmd.key_specs.iter().map(|s| spec_perm(s.flags)).collect();
            let channels = match cmd.name {
                "subscribe" | "ssubscribe" => Channels::Subscribe,
                "psubscribe" => Channels::Patterns,
                "publish" | "spublish" => Channels::Publish,
                _ => Channels::None,
            };
            let keys = match cmd.name {
                "sort" | "sort_ro" => Keys::Sort,
                "set" => Keys::Set,
                "bitfield" => Keys::Bitfield,
                _ => Keys::Specs,
            };
            SlotInfo {
                spec_perms,
                channels,
                keys,
            }
        })
        .collect()
});

/// The access a key spec's flags ask for: `access` reads, `insert`/`delete`/`update` write.
fn spec_perm(flags: &str) -> u8 {
    flags.split_whitespace().fold(0, |perm, f| match f {
        "access" => perm | READ,
        "insert" | "delete" | "update" => perm | WRITE,
        "not_key" => perm | NOT_KEY,
        _ => perm,
    })
}

/// Calls `f(position, access)` for each key of the request by the command's key specs (SORT:
/// its key and STORE's); stops at the first `false` and returns it.
fn each_key(slot: usize, req: &Request<'_>, mut f: impl FnMut(usize, u8) -> bool) -> bool {
    let info = &SLOTS[slot];
    let argc = req.len() as i64;
    match info.keys {
        Keys::Specs => {}
        Keys::Sort => return sort_keys(req, f),
        Keys::Set => {
            let get = (3..req.len()).any(|i| req.arg(i).eq_ignore_ascii_case(b"get"));
            return argc < 2 || f(1, if get { READ | WRITE } else { WRITE });
        }
        Keys::Bitfield => {
            return argc < 2
                || f(
                    1,
                    if bitfield_reads_only(req) {
                        READ
                    } else {
                        READ | WRITE
                    },
                );
        }
    }
    spec_keys(slot, req, f)
}

/// Whether a BITFIELD only has GET operations (a syntax error counts as a write).
fn bitfield_reads_only(req: &Request<'_>) -> bool {
    let mut i = 2;
    while i < req.len() {
        let left = req.len() - i - 1;
        let arg = req.arg(i);
        if arg.eq_ignore_ascii_case(b"get") && left >= 2 {
            i += 3;
        } else if arg.eq_ignore_ascii_case(b"overflow") && left >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}

/// SORT's keys: the source (read), then the STORE destination (written), as
/// `crate::cmd::sort::store_key` finds it for COMMAND GETKEYS too.
fn sort_keys(req: &Request<'_>, mut f: impl FnMut(usize, u8) -> bool) -> bool {
    if req.len() > 1 && !f(1, READ) {
        return false;
    }
    match crate::cmd::sort_store_key(req.len(), |i| req.arg(i)) {
        Some(at) => f(at, WRITE),
        None => true,
    }
}

fn spec_keys(slot: usize, req: &Request<'_>, mut f: impl FnMut(usize, u8) -> bool) -> bool {
    let perms = &SLOTS[slot].spec_perms;
    let cmd = table::stat_command(slot);
    crate::cmd::walk_key_specs(
        cmd.key_specs,
        req.len(),
        |i| req.arg(i),
        true,
        |n, pos| {
            let perm = perms.get(n).copied().unwrap_or(NOT_KEY);
            perm & NOT_KEY != 0 || f(pos, perm & (READ | WRITE))
        },
    )
}

fn key_ok(s: &Selector, key: &[u8], need: u8) -> bool {
    s.keys
        .iter()
        .any(|p| p.perm & need == need && p.glob.matches(key))
}

fn check_selector(s: &Selector, slot: usize, req: &Request<'_>) -> Result<(), Denied> {
    let cmd = table::stat_command(slot);
    if !s.all_commands && !cmd.flags.has(Flags::NO_AUTH) && !s.bit(slot) {
        let at = if cmd.name.contains('|') { 2 } else { 1 };
        let allowed = req.len() > at
            && s.first_args
                .iter()
                .find(|(id, _)| *id == slot)
                .is_some_and(|(_, args)| args.iter().any(|a| a.eq_ignore_ascii_case(req.arg(at))));
        if !allowed {
            return Err(Denied::Command);
        }
    }
    if !s.all_keys {
        let mut denied = None;
        each_key(slot, req, |pos, need| {
            let ok = key_ok(s, req.arg(pos), need);
            if !ok {
                denied = Some(pos);
            }
            ok
        });
        if let Some(pos) = denied {
            return Err(Denied::Key(pos));
        }
    }
    if !s.all_channels {
        let info = &SLOTS[slot];
        let range = match info.channels {
            Channels::None => 0..0,
            Channels::Publish => 1..2.min(req.len()),
            Channels::Subscribe | Channels::Patterns => 1..req.len(),
        };
        let literal = info.channels == Channels::Patterns;
        for pos in range {
            let channel = req.arg(pos);
            let ok = s.channels.iter().any(|c| {
                if literal {
                    c.text == channel
                } else {
                    c.glob.matches(channel)
                }
            });
            if !ok {
                return Err(Denied::Channel(pos));
            }
        }
    }
    Ok(())
}

impl User {
    /// Whether this user may run the command or subcommand of statistics slot `slot` with
    /// these arguments.
    ///
    /// # Errors
    /// What was refused: when no selector allows the command, the command; otherwise the
    /// last key or channel no selector allows (Redis's choice).
    #[inline]
    pub(crate) fn check(&self, slot: usize, req: &Request<'_>) -> Result<(), Denied> {
        if self.unrestricted {
            return Ok(());
        }
        self.check_selectors(slot, req)
    }

    fn check_selectors(&self, slot: usize, req: &Request<'_>) -> Result<(), Denied> {
        let mut worst = Denied::Command;
        for s in &self.selectors {
            match check_selector(s, slot, req) {
                Ok(()) => return Ok(()),
                Err(d) => {
                    if d.rank() > worst.rank() {
                        worst = d;
                    }
                }
            }
        }
        Err(worst)
    }

    /// Whether some selector allows the command and gives `need` access to every key (`~*`
    /// or `%R~*` for reads): SORT's BY and GET patterns need that (Redis's
    /// `ACLUserCheckCmdWithUnrestrictedKeyAccess`).
    pub(crate) fn any_key_access(&self, slot: usize, req: &Request<'_>, need: u8) -> bool {
        if self.unrestricted {
            return true;
        }
        self.selectors.iter().any(|s| {
            check_selector(s, slot, req).is_ok()
                && (s.all_keys
                    || s.keys
                        .iter()
                        .any(|p| p.perm & need == need && p.text == b"*"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &[&str]) -> User {
        let mut u = User::new(b"u");
        u.apply_all(rules).unwrap();
        u
    }

    fn check(u: &User, args: &[&str]) -> Result<(), Denied> {
        let req = Request::from_args(args.iter().map(|a| a.as_bytes()));
        let idx = table::lookup(req.arg(0)).unwrap();
        u.check(table::stat_slot(idx, &req), &req)
    }

    #[test]
    fn commands_keys_and_channels() {
        let u = user(&["+@all", "~k*", "%R~r*", "%W~w*", "&ch*"]);
        assert_eq!(check(&u, &["get", "k1"]), Ok(()));
        assert_eq!(check(&u, &["get", "r1"]), Ok(()));
        assert_eq!(check(&u, &["get", "w1"]), Err(Denied::Key(1)));
        // SET writes only, unless GET reads the old value (Redis's `setGetKeys`).
        assert_eq!(check(&u, &["set", "w1", "v"]), Ok(()));
        assert_eq!(check(&u, &["set", "w1", "v", "get"]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["bitfield", "r1", "get", "u8", "0"]), Ok(()));
        assert_eq!(
            check(&u, &["bitfield", "r1", "set", "u8", "0", "1"]),
            Err(Denied::Key(1))
        );
        assert_eq!(check(&u, &["set", "k1", "v"]), Ok(()));
        // DEL deletes: write access is enough.
        assert_eq!(check(&u, &["del", "w1"]), Ok(()));
        assert_eq!(
            check(&u, &["mset", "k1", "v", "x", "v"]),
            Err(Denied::Key(3))
        );
        assert_eq!(check(&u, &["copy", "r1", "w1"]), Ok(()));
        assert_eq!(check(&u, &["copy", "w1", "r1"]), Err(Denied::Key(1)));
        assert_eq!(
            check(&u, &["lmpop", "2", "k1", "x", "left"]),
            Err(Denied::Key(3))
        );
        assert_eq!(check(&u, &["publish", "ch1", "m"]), Ok(()));
        assert_eq!(
            check(&u, &["publish", "other", "m"]),
            Err(Denied::Channel(1))
        );
        assert_eq!(
            check(&u, &["subscribe", "ch1", "x"]),
            Err(Denied::Channel(2))
        );
        // A PSUBSCRIBE pattern must be one of the user's patterns, literally.
        assert_eq!(check(&u, &["psubscribe", "ch*"]), Ok(()));
        assert_eq!(check(&u, &["psubscribe", "ch1*"]), Err(Denied::Channel(1)));
        assert_eq!(
            check(&u, &["sort", "k1", "store", "x"]),
            Err(Denied::Key(3))
        );
        let ro = user(&["-@all", "+get", "+config|get", "+select|0", "allkeys"]);
        assert_eq!(check(&ro, &["get", "a"]), Ok(()));
        assert_eq!(check(&ro, &["set", "a", "b"]), Err(Denied::Command));
        assert_eq!(check(&ro, &["config", "get", "x"]), Ok(()));
        assert_eq!(
            check(&ro, &["config", "set", "x", "y"]),
            Err(Denied::Command)
        );
        assert_eq!(check(&ro, &["select", "0"]), Ok(()));
        assert_eq!(check(&ro, &["select", "1"]), Err(Denied::Command));
        // AUTH and HELLO need no permission.
        assert_eq!(check(&ro, &["auth", "x", "y"]), Ok(()));
    }

    #[test]
    fn selectors_each_allow_on_their_own() {
        let u = user(&["+get", "~a*", "(+set ~b*)"]);
        assert_eq!(check(&u, &["get", "a1"]), Ok(()));
        assert_eq!(check(&u, &["set", "b1", "v"]), Ok(()));
        assert_eq!(check(&u, &["set", "a1", "v"]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["get", "b1"]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["del", "a1"]), Err(Denied::Command));
        assert!(!u.any_key_access(0, &Request::from_args([&b"x"[..]]), READ));
        let full = user(&["+@all", "%R~*"]);
        let req = Request::from_args([&b"sort"[..], b"k", b"by", b"w*"]);
        let slot = table::lookup(b"sort").unwrap();
        assert!(full.any_key_access(slot, &req, READ));
    }
}
