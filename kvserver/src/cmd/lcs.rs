//! LCS: the longest common subsequence of two strings (a string command in its own file for
//! its dynamic-programming table).

use kvcore::Store;
use kvproto::Request;

use super::ctx::{CmdResult, Ctx, int_arg, is};
use super::error::{CmdError, SYNTAX};
use super::spec::{Begin::Index, Find::Range, Group, a, ks};
use super::table::Command;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("lcs", -3, "readonly", lcs)
        .acl("@string").keys(&[ks("RO access", Index(1), Range(1, 1, 0))])
        .doc(Group::String, "7.0.0", "Finds the longest common substring.")
        .complexity("O(N*M) where N and M are the lengths of s1 and s2, respectively")
        .args(&[
            a("key1", "key").key(0),
            a("key2", "key").key(0),
            a("len", "pure-token").token("LEN").flags("optional"),
            a("idx", "pure-token").token("IDX").flags("optional"),
            a("len", "integer").token("MINMATCHLEN").flags("optional"),
            a("withmatchlen", "pure-token").token("WITHMATCHLEN").flags("optional"),
        ]),
];

/// The table may not take more than `proto-max-bulk-len` bytes, as in Redis.
const MAX_TABLE_BYTES: u64 = 512 * 1024 * 1024;

/// One matching range: start and end (inclusive) in the first and the second string.
#[derive(Debug, PartialEq, Eq)]
struct Match {
    a: (usize, usize),
    b: (usize, usize),
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    // Redis checks the types before the options.
    let mut values = ctx
        .s
        .db
        .get_many(&[req.arg(1), req.arg(2)])
        .map_err(|e| match e {
            kvcore::Error::WrongType => {
                CmdError::Msg("ERR The specified keys must contain string values")
            }
            e => CmdError::Core(e),
        })?;
    let b = values.pop().flatten().unwrap_or_default();
    let a = values.pop().flatten().unwrap_or_default();
    let (mut len, mut idx, mut with_len, mut min_len) = (false, false, false, 0usize);
    let mut i = 3;
    while i < req.len() {
        let opt = req.arg(i);
        if is(opt, "idx") {
            idx = true;
        } else if is(opt, "len") {
            len = true;
        } else if is(opt, "withmatchlen") {
            with_len = true;
        } else if is(opt, "minmatchlen") && i + 1 < req.len() {
            min_len = usize::try_from(int_arg(req.arg(i + 1))?).unwrap_or(0);
            i += 1;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if idx && len {
        return Err(CmdError::Msg(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    if cells.saturating_mul(4) > MAX_TABLE_BYTES {
        return Err(CmdError::Msg(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let table = Table::new(&a, &b);
    let total = table.at(a.len(), b.len()) as i64;
    if len {
        return ctx.int(total);
    }
    let (common, matches) = table.walk(&a, &b);
    if !idx {
        ctx.w().bulk(&common);
        return Ok(());
    }
    let mut w = ctx.w();
    w.map_len(2);
    w.bulk(b"matches");
    let kept: Vec<&Match> = matches
        .iter()
        .filter(|m| m.a.1 - m.a.0 + 1 >= min_len)
        .collect();
    w.array_len(kept.len());
    for m in kept {
        w.array_len(if with_len { 3 } else { 2 });
        for (start, end) in [m.a, m.b] {
            w.array_len(2);
            w.integer(start as i64);
            w.integer(end as i64);
        }
        if with_len {
            w.integer((m.a.1 - m.a.0 + 1) as i64);
        }
    }
    w.bulk(b"len");
    w.integer(total);
    Ok(())
}

/// `at(i, j)`: the LCS length of `a[..i]` and `b[..j]`.
struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    fn new(a: &[u8], b: &[u8]) -> Table {
        let width = b.len() + 1;
        let mut cells = vec![0u32; (a.len() + 1) * width];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Table { cells, width }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Walks back from the end as Redis does: the common subsequence, and its contiguous
    /// ranges from the last to the first (ties move along `b`, so the answers equal Redis's).
    fn walk(&self, a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<Match>) {
        let mut common = Vec::with_capacity(self.at(a.len(), b.len()) as usize);
        let mut matches = Vec::new();
        let mut current: Option<Match> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            if a[i - 1] == b[j - 1] {
                common.push(a[i - 1]);
                match &mut current {
                    // Walking backwards, a match right before the range extends it.
                    Some(m) if m.a.0 == i && m.b.0 == j => {
                        m.a.0 -= 1;
                        m.b.0 -= 1;
                    }
                    _ => {
                        matches.extend(current.take());
                        current = Some(Match {
                            a: (i - 1, i - 1),
                            b: (j - 1, j - 1),
                        });
                    }
                }
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                matches.extend(current.take());
            }
        }
        matches.extend(current.take());
        common.reverse();
        (common, matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (start, end) in the first string and in the second.
    type Range = ((usize, usize), (usize, usize));

    fn check(a: &str, b: &str, common: &str, ranges: &[Range]) {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        let (c, m) = Table::new(a, b).walk(a, b);
        assert_eq!(String::from_utf8(c).unwrap(), common);
        let expected: Vec<Match> = ranges.iter().map(|&(a, b)| Match { a, b }).collect();
        assert_eq!(m, expected);
    }

    #[test]
    fn redis_documentation_example() {
        // LCS key1 key2 IDX on ohmytext / mynewtext, as in Redis's documentation.
        check(
            "ohmytext",
            "mynewtext",
            "mytext",
            &[((4, 7), (5, 8)), ((2, 3), (0, 1))],
        );
        check("", "abc", "", &[]);
        check("abc", "xyz", "", &[]);
        check("aaa", "aaa", "aaa", &[((0, 2), (0, 2))]);
    }
}
