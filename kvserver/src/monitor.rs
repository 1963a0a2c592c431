//! MONITOR: every command the server runs, as a line to every monitoring client, in Redis's
//! format: `+<unix seconds>.<microseconds> [<db> <client address>] "arg" "arg"...`, each
//! argument quoted and escaped as Redis's `sdscatrepr` does (`\"`, `\\`, `\n`, `\r`, `\t`,
//! `\a`, `\b`, `\xHH` for other bytes outside printable ASCII), and authentication secrets
//! replaced by `(redacted)`.
//!
//! What is shown follows Redis's `call()`: a command that ran (its reply an error or not), once
//! it ran, with the database selected after it (SELECT shows the new one), except the `admin`
//! and `skip_monitor` commands; commands refused before running (unknown, wrong arity, NOAUTH,
//! queued in MULTI) are not shown, the queued ones are when EXEC runs them, before EXEC's own
//! line; a refused EXEC is shown. A blocking command is shown when it starts to wait.
//!
//! A monitor is a client in queued mode (see `pubsub.rs`): the feeding thread appends the line
//! to each monitor's output queue and, at the end of its batch (or before it blocks), sends
//! what each monitor's socket takes without waiting, as a publisher does. A monitor that does
//! not read is cut off at `client-output-buffer-limit pubsub` (Redis applies the `normal`
//! class, unlimited by default; a bound keeps one idle monitor from taking the server's
//! memory). With no monitor the cost per command is one relaxed load.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::registry::ClientHandle;
use crate::shared::Shared;

/// The monitoring clients.
#[derive(Debug, Default)]
pub(crate) struct Monitors {
    list: Mutex<Vec<Arc<ClientHandle>>>,
    /// `list.len()`, read without the lock on every command.
    count: AtomicUsize,
}

impl Monitors {
    /// Whether any client monitors (one relaxed load).
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Adds a monitor (MONITOR).
    pub(crate) fn add(&self, client: Arc<ClientHandle>) {
        let mut list = self.list.lock();
        list.push(client);
        self.count.store(list.len(), Ordering::Relaxed);
    }

    /// Removes client `id` if it monitors (RESET, the connection's end).
    pub(crate) fn remove(&self, id: u64) {
        let mut list = self.list.lock();
        list.retain(|c| c.id != id);
        self.count.store(list.len(), Ordering::Relaxed);
    }

    /// Appends `line` to every monitor's queue. The caller flushes them later
    /// ([`Monitors::flush`]), once per batch.
    pub(crate) fn feed(&self, shared: &Shared, line: &[u8]) {
        let limit = shared.live.output_limits.pubsub.get();
        for m in self.list.lock().iter() {
            m.pubsub.append(line, limit);
        }
    }

    /// Sends what each monitor's socket takes now, without waiting (a full socket is left to
    /// the monitor's own thread), and disconnects those over their limit.
    pub(crate) fn flush(&self, shared: &Shared) {
        let list: Vec<Arc<ClientHandle>> = self.list.lock().clone();
        for m in list {
            m.pubsub.flush(&m, shared);
        }
    }
}

/// The line MONITOR shows for `args` run by the client at `addr` in database `db`, at `now`.
pub(crate) fn line<'a>(
    now: SystemTime,
    db: usize,
    addr: &str,
    args: impl Iterator<Item = &'a [u8]>,
) -> Vec<u8> {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = format!(
        "+{}.{:06} [{db} {addr}]",
        since.as_secs(),
        since.subsec_micros()
    )
    .into_bytes();
    let args: Vec<&[u8]> = args.collect();
    let secret = redacted(&args);
    for (i, arg) in args.iter().enumerate() {
        out.push(b' ');
        if secret.contains(&i) {
            out.extend_from_slice(b"\"(redacted)\"");
        } else {
            repr(arg, &mut out);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The positions of the arguments Redis redacts: AUTH's, and HELLO's after AUTH.
fn redacted(args: &[&[u8]]) -> Vec<usize> {
    let Some(name) = args.first() else {
        return Vec::new();
    };
    if name.eq_ignore_ascii_case(b"auth") {
        return (1..args.len()).collect();
    }
    if name.eq_ignore_ascii_case(b"hello") {
        let mut out = Vec::new();
        let mut i = 2;
        while i < args.len() {
            if args[i].eq_ignore_ascii_case(b"auth") {
                out.extend([i + 1, i + 2].into_iter().filter(|&j| j < args.len()));
                i += 3;
            } else if args[i].eq_ignore_ascii_case(b"setname") {
                i += 2;
            } else {
                i += 1;
            }
        }
        return out;
    }
    Vec::new()
}

/// `s` quoted and escaped as Redis's `sdscatrepr`.
fn repr(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn show(args: &[&[u8]]) -> String {
        let at = UNIX_EPOCH + Duration::from_micros(1_796_292_780_994_401);
        let l = line(at, 3, "127.0.0.1:57122", args.iter().copied());
        String::from_utf8(l).unwrap()
    }

    /// The bytes redis-server 7.0.15 sent a monitor for the same commands.
    #[test]
    fn lines_are_written_as_redis_writes_them() {
        assert_eq!(
            show(&[b"SET", b"k", b"v a\"b\\c\n\r\t\x01\x7f\xc3\xbf"]),
            "+1796292780.994401 [3 127.0.0.1:57122] \"SET\" \"k\" \
             \"v a\\\"b\\\\c\\n\\r\\t\\x01\\x7f\\xc3\\xbf\"\r\n"
        );
        assert_eq!(
            show(&[b"AUTH", b"u", b"pw"]),
            "+1796292780.994401 [3 127.0.0.1:57122] \"AUTH\" \"(redacted)\" \"(redacted)\"\r\n"
        );
        assert_eq!(
            show(&[b"HELLO", b"3", b"AUTH", b"u", b"pw"]),
            "+1796292780.994401 [3 127.0.0.1:57122] \"HELLO\" \"3\" \"AUTH\" \"(redacted)\" \
             \"(redacted)\"\r\n"
        );
        assert_eq!(
            show(&[b"hello", b"3", b"setname", b"auth", b"auth", b"u", b"p"]),
            "+1796292780.994401 [3 127.0.0.1:57122] \"hello\" \"3\" \"setname\" \"auth\" \"auth\" \
             \"(redacted)\" \"(redacted)\"\r\n"
        );
        assert_eq!(
            show(&[b"ECHO", b"", b"\x07\x08"]),
            "+1796292780.994401 [3 127.0.0.1:57122] \"ECHO\" \"\" \"\\a\\b\"\r\n"
        );
    }
}
