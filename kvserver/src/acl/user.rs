//! A user and its selectors, changed by ACL rules (`on`, `>pass`, `+@read`, `~key*`,
//! `(...)`, ...) exactly as Redis 7.0's `ACLSetUser` applies them, and described back in the
//! form ACL LIST, ACL GETUSER and ACL SAVE show.
//!
//! A command's permission bit is indexed by its statistics slot (`table::stat_slot`): every
//! command and every subcommand has one, as every Redis command has an ACL id. The categories
//! come from the command table (`Command::categories`), the one place they are written.

use crate::cmd::Category;
use crate::cmd::table::{self, TABLE};

/// Read permission on a key pattern (`%R~`).
pub(crate) const READ: u8 = 1;
/// Write permission on a key pattern (`%W~`).
pub(crate) const WRITE: u8 = 2;

/// Why a rule was refused, in Redis's words (`ACLSetUserStringError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleError {
    Syntax,
    Unknown,
    KeyAfterAll,
    ChannelAfterAll,
    NoSuchPassword,
    BadHash,
    SubcommandFirstArg,
}

impl RuleError {
    pub(crate) fn message(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::KeyAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and \
                 does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid \
                 and does not have any effect. Try 'resetchannels' to start with an empty list of \
                 channels"
            }
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase \
                 hexadecimal characters"
            }
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// A compiled key or channel pattern. ACL patterns are mostly `*`, a literal or a literal
/// prefix (`cache:*`): those are matched by a comparison, the rest by Redis's full glob
/// (`kvcore::Pattern`, tens of times slower per match).
#[derive(Clone, Debug)]
pub(crate) enum Glob {
    Any,
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
    Other(kvcore::Pattern),
}

impl Glob {
    pub(crate) fn new(pattern: &[u8]) -> Glob {
        let special = |b: &u8| matches!(b, b'*' | b'?' | b'[' | b'\\');
        match pattern.split_last() {
            Some((b'*', [])) => Glob::Any,
            _ if !pattern.iter().any(special) => Glob::Exact(pattern.to_vec()),
            Some((b'*', prefix)) if !prefix.iter().any(special) => Glob::Prefix(prefix.to_vec()),
            _ => Glob::Other(kvcore::Pattern::new(pattern)),
        }
    }

    /// Whether `subject` matches, as Redis's `stringmatchlen`.
    #[inline]
    pub(crate) fn matches(&self, subject: &[u8]) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(e) => subject == e.as_slice(),
            Glob::Prefix(p) => subject.starts_with(p),
            Glob::Other(g) => g.matches(subject),
        }
    }
}

/// A key pattern with the access it grants.
#[derive(Clone, Debug)]
pub(crate) struct KeyPattern {
    pub(crate) text: Vec<u8>,
    pub(crate) perm: u8,
    pub(crate) glob: Glob,
}

/// A channel pattern.
#[derive(Clone, Debug)]
pub(crate) struct ChannelPattern {
    pub(crate) text: Vec<u8>,
    pub(crate) glob: Glob,
}

/// What one selector allows: the root selector (the user's own rules) or a `(...)` one.
#[derive(Clone, Debug)]
pub(crate) struct Selector {
    pub(crate) all_keys: bool,
    pub(crate) all_channels: bool,
    /// Redis's `SELECTOR_FLAG_ALLCOMMANDS`: every bit is set, skip the test.
    pub(crate) all_commands: bool,
    /// Redis's reserved "future commands" bit: set by `+@all`, cleared only by `-@all`; it
    /// decides whether the description starts from `+@all` or `-@all`.
    future: bool,
    /// One bit per statistics slot.
    allowed: Box<[u64]>,
    /// `+select|0`: first arguments allowed for a command whose bit is clear.
    pub(crate) first_args: Vec<(usize, Vec<Vec<u8>>)>,
    pub(crate) keys: Vec<KeyPattern>,
    pub(crate) channels: Vec<ChannelPattern>,
}

fn words() -> usize {
    table::stat_slots().div_ceil(64)
}

impl Selector {
    /// A selector that allows nothing (`acl-pubsub-default` is `resetchannels`, Redis 7's
    /// default).
    pub(crate) fn empty() -> Selector {
        Selector {
            all_keys: false,
            all_channels: false,
            all_commands: false,
            future: false,
            allowed: vec![0; words()].into_boxed_slice(),
            first_args: Vec::new(),
            keys: Vec::new(),
            channels: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn bit(&self, slot: usize) -> bool {
        self.allowed[slot / 64] & (1 << (slot % 64)) != 0
    }

    fn set_bit(&mut self, slot: usize, on: bool) {
        if on {
            self.allowed[slot / 64] |= 1 << (slot % 64);
        } else {
            self.allowed[slot / 64] &= !(1 << (slot % 64));
            self.all_commands = false;
        }
    }

    /// Allows or denies a command and, for a container, all its subcommands; forgets its
    /// allowed first arguments (Redis's `ACLChangeSelectorPerm`).
    fn change(&mut self, slot: usize, on: bool) {
        self.set_bit(slot, on);
        self.first_args.retain(|(s, _)| *s != slot);
        for sub in table::sub_slots(slot) {
            self.set_bit(sub, on);
        }
    }

    fn all(&mut self, on: bool) {
        self.allowed.fill(if on { u64::MAX } else { 0 });
        self.all_commands = on;
        self.future = on;
        self.first_args.clear();
    }

    /// Every command of a category, as Redis walks them: a command in it changes with its
    /// subcommands, then each subcommand in it changes too.
    fn category(&mut self, cat: Category, on: bool) {
        for (i, c) in TABLE.iter().enumerate() {
            if c.categories().has(cat) {
                self.change(i, on);
            }
            for sub in table::sub_slots(i) {
                if table::stat_command(sub).categories().has(cat) {
                    self.change(sub, on);
                }
            }
        }
    }

    /// How many commands of a category this selector allows and denies.
    fn count(&self, cat: Category) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for slot in 0..table::stat_slots() {
            if table::stat_command(slot).categories().has(cat) {
                if self.bit(slot) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    /// Applies one selector rule (Redis's `ACLSetSelector`).
    pub(crate) fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("allkeys") || is("~*") {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || is("&*") {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.all(true);
        } else if is("nocommands") || is("-@all") {
            self.all(false);
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelAfterAll);
            }
            let text = &op[1..];
            if has_spaces(text) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c.text == text) {
                self.channels.push(ChannelPattern {
                    text: text.to_vec(),
                    glob: Glob::new(text),
                });
            }
        } else if op.len() > 1 && (op[0] == b'+' || op[0] == b'-') && op[1] == b'@' {
            let cat = Category::named(&op[2..]).ok_or(RuleError::Unknown)?;
            self.category(cat, op[0] == b'+');
        } else if op[0] == b'+' {
            self.allow(&op[1..])?;
        } else if op[0] == b'-' {
            let slot = table::stat_slot_by_name(&op[1..]).ok_or(RuleError::Unknown)?;
            self.change(slot, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAll);
        }
        let mut perm = 0;
        let mut offset = 1;
        if op[0] == b'%' {
            loop {
                match op.get(offset).map(u8::to_ascii_uppercase) {
                    Some(b'R') if perm & READ == 0 => perm |= READ,
                    Some(b'W') if perm & WRITE == 0 => perm |= WRITE,
                    Some(b'~') => {
                        offset += 1;
                        break;
                    }
                    // Redis accepts `%R` without `~` as the pattern of that empty rest.
                    None => break,
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
        } else {
            perm = READ | WRITE;
        }
        let text = &op[offset.min(op.len())..];
        if has_spaces(text) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.text == text) {
            Some(k) => k.perm |= perm,
            None => self.keys.push(KeyPattern {
                text: text.to_vec(),
                perm,
                glob: Glob::new(text),
            }),
        }
        self.all_keys = false;
        Ok(())
    }

    /// `+cmd`, `+container|sub`, or `+cmd|firstarg` for a command without subcommands.
    fn allow(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let slot = table::stat_slot_by_name(name).ok_or(RuleError::Unknown)?;
            self.change(slot, true);
            return Ok(());
        };
        let (parent, sub) = (&name[..bar], &name[bar + 1..]);
        let slot = table::stat_slot_by_name(parent).ok_or(RuleError::Unknown)?;
        if table::stat_command(slot).name.contains('|') {
            return Err(RuleError::SubcommandFirstArg);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if table::sub_slots(slot).is_empty() {
            crate::log::warning!(
                "Deprecation warning: Allowing a first arg of an otherwise blocked command is a \
                 misuse of ACL and may get disabled in the future (offender: +{})",
                String::from_utf8_lossy(name)
            );
            match self.first_args.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, args)) => {
                    if !args.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                        args.push(sub.to_vec());
                    }
                }
                None => self.first_args.push((slot, vec![sub.to_vec()])),
            }
        } else {
            let slot = table::stat_slot_by_name(name).ok_or(RuleError::Unknown)?;
            self.change(slot, true);
        }
        Ok(())
    }

    fn same_commands(&self, other: &Selector) -> bool {
        self.allowed == other.allowed
    }

    /// The command rules that rebuild this selector's bits, as Redis derives them
    /// (`ACLDescribeSelectorCommandRules`): `+@all` or `-@all`, then the categories that fit
    /// best, then single commands. Singles come in command-table order (Redis's follow its
    /// hash table's).
    pub(crate) fn describe_commands(&self) -> String {
        let mut rules = String::new();
        let mut fake = Selector::empty();
        let additive = !self.future;
        if additive {
            rules.push_str("-@all ");
        } else {
            rules.push_str("+@all ");
            fake.all(true);
        }
        let mut temp = self.clone();
        let mut applied = [false; 32];
        loop {
            let mut best = None;
            let (mut min_diff, mut max_same) = (usize::MAX, 0);
            for (j, cat) in Category::all().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count(cat);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                    best = Some((j, cat));
                    min_diff = diff;
                    max_same = same;
                }
            }
            let Some((j, cat)) = best else { break };
            fake.category(cat, additive);
            temp.category(cat, !additive);
            rules.push(if additive { '+' } else { '-' });
            rules.push_str(cat.name());
            rules.push(' ');
            applied[j] = true;
        }
        for (i, _) in TABLE.iter().enumerate() {
            for slot in std::iter::once(i).chain(table::sub_slots(i)) {
                let mine = self.bit(slot);
                if mine != fake.bit(slot) {
                    rules.push(if mine { '+' } else { '-' });
                    rules.push_str(table::stat_command(slot).name);
                    rules.push(' ');
                    fake.change(slot, mine);
                }
            }
            if !self.bit(i)
                && let Some((_, args)) = self.first_args.iter().find(|(s, _)| *s == i)
            {
                for a in args {
                    rules.push('+');
                    rules.push_str(TABLE[i].name);
                    rules.push('|');
                    rules.push_str(&String::from_utf8_lossy(a));
                    rules.push(' ');
                }
            }
        }
        rules.pop();
        debug_assert!(fake.same_commands(self), "described rules rebuild the bits");
        rules
    }

    /// The key patterns as Redis writes them (`~k* %R~r*`, or `~*`).
    pub(crate) fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let parts: Vec<String> = self
            .keys
            .iter()
            .map(|k| {
                let prefix = match k.perm {
                    READ => "%R~",
                    WRITE => "%W~",
                    _ => "~",
                };
                format!("{prefix}{}", String::from_utf8_lossy(&k.text))
            })
            .collect();
        parts.join(" ")
    }

    /// The channel patterns as ACL GETUSER shows them (`&ch*`, or `&*`).
    pub(crate) fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let parts: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(&c.text)))
            .collect();
        parts.join(" ")
    }

    /// The selector in ACL LIST's form: keys, channels, commands.
    fn describe(&self) -> String {
        let mut out = String::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            out.push_str(&keys);
            out.push(' ');
        }
        if self.all_channels {
            out.push_str("&* ");
        } else {
            out.push_str("resetchannels ");
            for c in &self.channels {
                out.push('&');
                out.push_str(&String::from_utf8_lossy(&c.text));
                out.push(' ');
            }
        }
        out.push_str(&self.describe_commands());
        out
    }
}

/// Whether `s` has a space (C's `isspace`) or a NUL byte: not allowed in names and patterns.
pub(crate) fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0))
}

/// User flags, in the order ACL LIST shows them.
const ON: u8 = 1;
const OFF: u8 = 2;
const NOPASS: u8 = 4;
const SKIP_SANITIZE: u8 = 8;
const SANITIZE: u8 = 16;
const FLAG_NAMES: [(u8, &str); 5] = [
    (ON, "on"),
    (OFF, "off"),
    (NOPASS, "nopass"),
    (SKIP_SANITIZE, "skip-sanitize-payload"),
    (SANITIZE, "sanitize-payload"),
];

/// One ACL user.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub(crate) name: Vec<u8>,
    flags: u8,
    /// The SHA-256 hex of each password, in the order they were added.
    pub(crate) passwords: Vec<[u8; 64]>,
    /// The root selector first, then the `(...)` ones.
    pub(crate) selectors: Vec<Selector>,
    /// Whether the root selector allows every command, key and channel: the check's fast path.
    pub(crate) unrestricted: bool,
}

impl User {
    /// A new user as Redis creates it: off, no password, no permissions.
    pub(crate) fn new(name: &[u8]) -> User {
        User {
            name: name.to_vec(),
            flags: OFF,
            passwords: Vec::new(),
            selectors: vec![Selector::empty()],
            unrestricted: false,
        }
    }

    /// The `default` user as Redis starts it: on, nopass, every command, key and channel.
    pub(crate) fn default_user() -> User {
        let mut u = User::new(b"default");
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            // These rules are valid by construction.
            u.apply(op.as_bytes())
                .expect("the default user's rules are valid");
        }
        u
    }

    pub(crate) fn enabled(&self) -> bool {
        self.flags & ON != 0
    }

    pub(crate) fn nopass(&self) -> bool {
        self.flags & NOPASS != 0
    }

    fn set_flag(&mut self, on: u8, off: u8) {
        self.flags = (self.flags | on) & !off;
    }

    /// Applies one rule (Redis's `ACLSetUser`).
    ///
    /// # Errors
    /// The rule is not understood or cannot apply; the user may be partly changed (callers
    /// stage changes on a copy).
    pub(crate) fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let result = self.apply_inner(op);
        let root = &self.selectors[0];
        self.unrestricted = root.all_commands && root.all_keys && root.all_channels;
        result
    }

    fn apply_inner(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("on") {
            self.set_flag(ON, OFF);
        } else if is("off") {
            self.set_flag(OFF, ON);
        } else if is("skip-sanitize-payload") {
            self.set_flag(SKIP_SANITIZE, SANITIZE);
        } else if is("sanitize-payload") {
            self.set_flag(SANITIZE, SKIP_SANITIZE);
        } else if is("nopass") {
            self.set_flag(NOPASS, 0);
            self.passwords.clear();
        } else if is("resetpass") {
            self.set_flag(0, NOPASS);
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = password_hash(op)?;
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.set_flag(0, NOPASS);
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = password_hash(op)?;
            let at = self
                .passwords
                .iter()
                .position(|p| *p == hash)
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut s = Selector::empty();
            for word in op[1..op.len() - 1]
                .split(|&b| b == b' ')
                .filter(|w| !w.is_empty())
            {
                s.apply(word)?;
            }
            self.selectors.push(s);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for op in [
                "resetpass",
                "resetkeys",
                "resetchannels",
                "off",
                "sanitize-payload",
                "clearselectors",
                "-@all",
            ] {
                self.apply_inner(op.as_bytes())?;
            }
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// Applies rules as ACL SETUSER and `user` lines give them: a selector split over several
    /// arguments (`(~k*`, `+get)`) is joined first.
    ///
    /// # Errors
    /// Redis's message for the first bad rule (the user may be partly changed).
    pub(crate) fn apply_all<A: AsRef<[u8]>>(&mut self, ops: &[A]) -> Result<(), String> {
        let merged = merge_selectors(ops).map_err(|open| {
            format!(
                "Unmatched parenthesis in acl selector starting at '{}'.",
                String::from_utf8_lossy(open)
            )
        })?;
        for op in &merged {
            self.apply(op).map_err(|e| {
                format!(
                    "Error in ACL SETUSER modifier '{}': {}",
                    String::from_utf8_lossy(op),
                    e.message()
                )
            })?;
        }
        Ok(())
    }

    /// Whether `password` is one of the user's (or the user has none to check), compared in
    /// constant time.
    pub(crate) fn password_ok(&self, password: &[u8]) -> bool {
        if self.nopass() {
            return true;
        }
        let hash = crate::acl::sha256::hex(password);
        // Every stored hash is compared in full, whichever matches.
        self.passwords
            .iter()
            .fold(false, |ok, p| constant_time_eq(p, &hash) | ok)
    }

    /// The flag names, in Redis's order.
    pub(crate) fn flag_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        FLAG_NAMES
            .iter()
            .filter(|(f, _)| self.flags & f != 0)
            .map(|(_, n)| *n)
    }

    /// The rules that rebuild this user, as ACL LIST shows them after `user <name> `.
    pub(crate) fn describe(&self) -> String {
        let mut out = String::new();
        for name in self.flag_names() {
            out.push_str(name);
            out.push(' ');
        }
        for p in &self.passwords {
            out.push('#');
            out.push_str(std::str::from_utf8(p).unwrap_or_default());
            out.push(' ');
        }
        out.push_str(&self.selectors[0].describe());
        for s in &self.selectors[1..] {
            out.push_str(" (");
            out.push_str(&s.describe());
            out.push(')');
        }
        out
    }
}

/// The stored form of a `>pass`/`<pass` (hashed) or `#hash`/`!hash` (checked) rule.
fn password_hash(op: &[u8]) -> Result<[u8; 64], RuleError> {
    if matches!(op[0], b'>' | b'<') {
        return Ok(crate::acl::sha256::hex(&op[1..]));
    }
    let hash = &op[1..];
    if hash.len() != 64 || !hash.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(RuleError::BadHash);
    }
    let mut out = [0u8; 64];
    out.copy_from_slice(hash);
    Ok(out)
}

/// Compares without an early exit on the first differing byte.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Joins a selector spread over several arguments (Redis's `ACLMergeSelectorArguments`);
/// `Err` carries the argument that opened a selector never closed.
pub(crate) fn merge_selectors<A: AsRef<[u8]>>(ops: &[A]) -> Result<Vec<Vec<u8>>, &[u8]> {
    let mut out = Vec::with_capacity(ops.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, op) in ops.iter().enumerate() {
        let op = op.as_ref();
        if open.is_none() && op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((i, op.to_vec()));
            continue;
        }
        if let Some((_, sel)) = &mut open {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.last() == Some(&b')') {
                out.push(open.take().map(|(_, s)| s).unwrap_or_default());
            }
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((i, _)) => Err(ops[i].as_ref()),
        None => Ok(out),
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

    #[test]
    fn described_as_redis_describes() {
        // As redis-server 7.0.15 lists these users (ACL LIST).
        assert_eq!(User::default_user().describe(), "on nopass ~* &* +@all");
        assert_eq!(User::new(b"foo").describe(), "off resetchannels -@all");
        assert_eq!(
            user(&["reset"]).describe(),
            "off sanitize-payload resetchannels -@all"
        );
        assert_eq!(
            user(&["on", ">p1", "~k*", "%R~r*", "&ch*", "+get", "(+set ~w*)"]).describe(),
            "on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a ~k* %R~r* \
             resetchannels &ch* -@all +get (~w* resetchannels -@all +set)"
        );
        assert_eq!(
            user(&["+@all", "-get"]).describe(),
            "off resetchannels +@all -get"
        );
        assert_eq!(
            user(&["-@all", "+config|get"]).describe(),
            "off resetchannels -@all +config|get"
        );
        assert_eq!(
            user(&["+select|0"]).describe(),
            "off resetchannels -@all +select|0"
        );
    }

    #[test]
    fn described_rules_rebuild_the_user() {
        for rules in [
            &["+@read", "-@string"][..],
            &["+@all", "-@dangerous", "+flushdb"],
            &["+@hash", "+@set", "-hset", "+@pubsub"],
            &["+@write", "-@list", "+config|get"],
        ] {
            let u = user(rules);
            let d = u.selectors[0].describe_commands();
            let words: Vec<&str> = d.split(' ').collect();
            let again = user(&words);
            assert!(
                u.selectors[0].same_commands(&again.selectors[0]),
                "{rules:?}: {d}"
            );
        }
    }

    #[test]
    fn rule_errors() {
        let mut u = User::new(b"u");
        assert_eq!(u.apply(b"+nosuch"), Err(RuleError::Unknown));
        assert_eq!(u.apply(b"+@nosuch"), Err(RuleError::Unknown));
        assert_eq!(u.apply(b"bogus"), Err(RuleError::Syntax));
        assert_eq!(u.apply(b"#abc"), Err(RuleError::BadHash));
        assert_eq!(u.apply(b"<nope"), Err(RuleError::NoSuchPassword));
        assert_eq!(
            u.apply(b"+config|get|x"),
            Err(RuleError::SubcommandFirstArg)
        );
        assert_eq!(u.apply(b"+select|"), Err(RuleError::Syntax));
        assert_eq!(u.apply(b"%X~k"), Err(RuleError::Syntax));
        assert_eq!(u.apply(b"~a b"), Err(RuleError::Syntax));
        u.apply(b"allkeys").unwrap();
        assert_eq!(u.apply(b"~k"), Err(RuleError::KeyAfterAll));
        u.apply(b"allchannels").unwrap();
        assert_eq!(u.apply(b"&c"), Err(RuleError::ChannelAfterAll));
        assert_eq!(
            User::new(b"u").apply_all(&["(+get", "~x"]).unwrap_err(),
            "Unmatched parenthesis in acl selector starting at '(+get'."
        );
    }

    #[test]
    fn passwords() {
        let mut u = user(&[">a", ">b", ">a"]);
        assert_eq!(u.passwords.len(), 2);
        assert!(u.password_ok(b"a") && u.password_ok(b"b") && !u.password_ok(b"c"));
        u.apply(b"<a").unwrap();
        assert!(!u.password_ok(b"a"));
        u.apply(b"nopass").unwrap();
        assert!(u.password_ok(b"anything") && u.passwords.is_empty());
        u.apply(b"resetpass").unwrap();
        assert!(!u.password_ok(b"anything"));
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
    }

    #[test]
    fn globs_match_as_redis_patterns() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"*", b"", true),
            (b"*", b"anything", true),
            (b"", b"", true),
            (b"", b"a", false),
            (b"key", b"key", true),
            (b"key", b"key2", false),
            (b"key:*", b"key:", true),
            (b"key:*", b"key:1", true),
            (b"key:*", b"ke", false),
            (b"key:*", b"", false),
            (b"k?y", b"key", true),
            (b"k[ae]y", b"kay", true),
            (b"k[ae]y", b"kiy", false),
            (b"*:1", b"a:1", true),
            (b"a\\*", b"a*", true),
            (b"a\\*", b"ab", false),
        ];
        for (pattern, subject, expected) in cases {
            let glob = Glob::new(pattern);
            assert_eq!(glob.matches(subject), *expected, "{pattern:?} {subject:?}");
            // The fast forms agree with the full matcher.
            assert_eq!(kvcore::Pattern::new(pattern).matches(subject), *expected);
        }
        assert!(matches!(Glob::new(b"cache:*"), Glob::Prefix(_)));
        assert!(matches!(Glob::new(b"a**"), Glob::Other(_)));
    }

    #[test]
    fn selectors_merge() {
        let merged = merge_selectors(&["on", "(~a", "+get", ")", "(+set)"]).unwrap();
        assert_eq!(merged, [&b"on"[..], b"(~a +get )", b"(+set)"]);
        assert_eq!(merge_selectors(&["(~a", "+get"]).unwrap_err(), b"(~a");
    }
}
