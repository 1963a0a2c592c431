//! Test support for the bundled libraries: run a script in a fresh interpreter with the
//! libraries installed and compare what it returns with what redis-server 7.0.15 returned.
//!
//! Every expected value in the libraries' `CASES` tables was recorded by
//! `tools/recordlua.py`, which runs each case's script through EVAL on a real Redis and writes
//! the reply back into the table; run it again to check the tables still agree with Redis.

use mlua::Lua;

/// Helpers every case may use, defined the same way (the recorder reads this constant) in
/// front of the case on both sides. `hex` shows binary strings; `err` calls a function under
/// `pcall` and shows whether it failed and its error message or first result.
pub(super) const PRELUDE: &str = r#"local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end
local function err(f, ...) local ok, e = pcall(f, ...) return tostring(ok) .. ' ' .. tostring(e) end
local function num(n) return string.format('%.17g', n) end
"#;

/// Runs `script` (after [`PRELUDE`]) in a fresh interpreter with the libraries installed and
/// checks that it returns the string `expected`.
pub(super) fn check(script: &str, expected: &[u8]) {
    let lua = Lua::new();
    super::open(&lua).expect("open");
    let source = format!("{PRELUDE}{script}");
    let got: mlua::Value = match lua.load(&source).set_name("@user_script").eval() {
        Ok(v) => v,
        Err(e) => panic!("script {script:?} failed: {e}"),
    };
    let got = match got {
        mlua::Value::String(s) => s.as_bytes().to_vec(),
        other => panic!("script {script:?} returned {other:?}, not a string"),
    };
    assert!(
        got == expected,
        "script {script:?}\n  returned {:?}\n  expected {:?}",
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected)
    );
}

/// [`check`] on every case of a table.
pub(super) fn check_all(cases: &[(&str, &[u8])]) {
    for (script, expected) in cases {
        check(script, expected);
    }
}
