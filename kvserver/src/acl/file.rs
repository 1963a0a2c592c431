//! The ACL file (`aclfile`) and the config file's `user` lines: one `user <name> <rules...>`
//! per line. Loading is all or nothing, as Redis's `ACLLoadFromFile`: every line is applied to
//! a fresh set of users, and any error leaves the current users as they were and names the
//! line. ACL SAVE writes a temporary file next to the target, syncs it and renames it over the
//! target, so a crash leaves the old file or the new one, never a mix.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::Acl;
use super::user::{RuleError, User, has_spaces, merge_selectors};
use crate::shared::Shared;

/// Parses ACL file text into users (a missing `default` is added by the caller).
///
/// # Errors
/// Redis's one-line description of every bad line, naming the file and the line.
pub(crate) fn parse(text: &str, filename: &str) -> Result<BTreeMap<Vec<u8>, Arc<User>>, String> {
    let mut users: BTreeMap<Vec<u8>, Arc<User>> = BTreeMap::new();
    let mut errors = String::new();
    for (i, line) in text.split('\n').enumerate() {
        let linenum = i + 1;
        let line = line.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&[u8]> = line
            .as_bytes()
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .collect();
        if argv.first() != Some(&&b"user"[..]) || argv.len() < 2 {
            errors.push_str(&format!(
                "{filename}:{linenum} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = argv[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{filename}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut u = User::new(name);
        let Ok(rules) = merge_selectors(&argv[2..]) else {
            errors.push_str(&format!(
                "{filename}:{linenum}: Unmatched parenthesis in selector definition."
            ));
            continue;
        };
        let mut syntax_error = false;
        for rule in &rules {
            let rule: &[u8] = trim_tail(rule);
            match u.apply(rule) {
                Ok(()) => {}
                Err(RuleError::Unknown) => errors.push_str(&format!(
                    "{filename}:{linenum}: Error in applying operation '{}': {}. ",
                    String::from_utf8_lossy(rule),
                    RuleError::Unknown.message()
                )),
                Err(e) if !syntax_error => {
                    errors.push_str(&format!("{filename}:{linenum}: {}. ", e.message()));
                    syntax_error = true;
                }
                Err(_) => {}
            }
        }
        users.insert(name.to_vec(), Arc::new(u));
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was \
             performed",
        );
        Err(errors)
    }
}

fn trim_tail(rule: &[u8]) -> &[u8] {
    let start = rule
        .iter()
        .position(|b| !matches!(b, b'\t' | b'\r' | b'\n'))
        .unwrap_or(rule.len());
    let end = rule
        .iter()
        .rposition(|b| !matches!(b, b'\t' | b'\r' | b'\n'))
        .map_or(start, |e| e + 1);
    &rule[start..end.max(start)]
}

impl Acl {
    /// ACL LOAD: replaces every user with the file's, or changes nothing.
    ///
    /// # Errors
    /// Redis's message: the file cannot be read, or its bad lines.
    pub(crate) fn load(&self, path: &Path) -> Result<(), String> {
        let text = std::fs::read(path).map_err(|e| {
            format!(
                "Error loading ACLs, opening file '{}': {}",
                path.display(),
                io_text(&e)
            )
        })?;
        let users = parse(&String::from_utf8_lossy(&text), &path.display().to_string())?;
        self.replace_all(users);
        Ok(())
    }

    /// ACL SAVE: every user, in ACL LIST's form, written atomically.
    ///
    /// # Errors
    /// The I/O error (the old file stays as it was).
    pub(crate) fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut text = String::new();
        for u in self.users() {
            text.push_str("user ");
            text.push_str(&String::from_utf8_lossy(&u.name));
            text.push(' ');
            text.push_str(&u.describe());
            text.push('\n');
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(
            ".tmp-{}-{}",
            std::process::id(),
            super::log::now_ms()
        ));
        let tmp = std::path::PathBuf::from(tmp);
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            // The rename itself is durable once the directory is synced.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

/// C's `strerror` text for the common cases, as Redis's message shows it.
fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => e.to_string(),
    }
}

/// Loads the config file's `user` lines, or the ACL file, at start-up (Redis's
/// `ACLLoadUsersAtStartup`).
///
/// # Errors
/// Both are configured, or a user or the file is bad: the server does not start.
pub(crate) fn load_at_startup(shared: &Shared) -> Result<(), String> {
    let acl = &shared.acl;
    let lines = &shared.cfg.users;
    if acl.file.is_some() && !lines.is_empty() {
        return Err(
            "Configuring Redis with users defined in redis.conf and at the same setting \
                    an ACL file path is invalid. This setup is very likely to lead to \
                    configuration errors and security holes, please define either an ACL file \
                    or declare users directly in your redis.conf, but not both."
                .into(),
        );
    }
    for line in lines {
        let (name, rules) = line.split_first().ok_or("a user line needs a name")?;
        let mut rules: Vec<&[u8]> = rules.iter().map(|r| r.as_bytes()).collect();
        if name == "default" {
            rules.insert(0, b"reset");
        }
        acl.set_user(name.as_bytes(), &rules)
            .map_err(|e| format!("error loading ACL rules for the user named '{name}': {e}"))?;
    }
    if let Some(path) = &acl.file {
        acl.load(path)
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
    }
    Ok(())
}

/// Checks a config file `user` line as Redis does while reading the file.
///
/// # Errors
/// Redis's message for the bad rule.
pub(crate) fn check_user_line(words: &[String]) -> Result<(), String> {
    let (name, rules) = words.split_first().ok_or("wrong number of arguments")?;
    if has_spaces(name.as_bytes()) {
        return Err("Spaces not allowed in ACL usernames".into());
    }
    let mut u = User::new(name.as_bytes());
    u.apply_all(rules)
        .map_err(|e| format!("Error in user declaration '{name}': {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_file_names_its_lines_and_loads_nothing() {
        let err = parse(
            "user a on >x ~* +@all\n\nuser b on +nosuch\nfoo bar\nuser a off\nuser c #zz\n",
            "users.acl",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "users.acl:3: Error in applying operation '+nosuch': Unknown command or category \
             name in ACL. users.acl:4 should start with user keyword followed by the username. \
             WARNING: Duplicate user 'a' found on line 5. users.acl:6: The password hash must \
             be exactly 64 characters and contain only lowercase hexadecimal characters. \
             WARNING: ACL errors detected, no change to the previously active ACL rules was \
             performed"
        );
        let acl = Acl::new(None, 128, None);
        let dir = std::env::temp_dir().join(format!("kv-acl-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users.acl");
        std::fs::write(&path, "user a on nopass ~* +@all\nuser b on +nosuch\n").unwrap();
        assert!(acl.load(&path).is_err());
        assert!(acl.user(b"a").is_none(), "nothing was loaded");
        std::fs::write(&path, "user a on nopass ~* +@all\n").unwrap();
        acl.load(&path).unwrap();
        assert!(acl.user(b"a").is_some());
        acl.set_user(b"z", &[b"on", b">p", b"(~x +get)"]).unwrap();
        acl.save(&path).unwrap();
        let saved = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            saved,
            "user a on nopass ~* resetchannels +@all\nuser default on nopass ~* &* +@all\nuser \
             z on #148de9c5a7a44d19e56cd9ae1a554bf67847afb0c58f6e12fa29ac7ddfca9940 \
             resetchannels -@all (~x resetchannels -@all +get)\n"
        );
        let again = Acl::new(None, 128, None);
        again.load(&path).unwrap();
        assert_eq!(
            again.user(b"z").unwrap().describe(),
            acl.user(b"z").unwrap().describe()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
