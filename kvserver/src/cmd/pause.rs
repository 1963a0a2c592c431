//! CLIENT PAUSE timeout [WRITE|ALL] and CLIENT UNPAUSE (their entries are in
//! `kvserver/src/cmd/client.rs`), and [`Pause`], the server-wide state the dispatcher consults
//! before a command runs: a paused client's command waits on a condition variable until the
//! pause ends (UNPAUSE, or its deadline), as Redis postpones it in `processCommand`. Under
//! WRITE only the commands Redis 7.0 holds wait: `write` and `may_replicate` ones (PUBLISH,
//! EVAL, FCALL, ...) and an EXEC whose transaction has any.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kvproto::Request;
use parking_lot::{Condvar, Mutex};

use super::ctx::{CmdResult, Ctx, parse_i64};
use super::error::CmdError;

/// What is paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Mode {
    Write,
    All,
}

#[derive(Debug, Default)]
struct State {
    /// The pause in force and its end, if any.
    pause: Option<(Mode, Instant)>,
    /// FAILOVER's own pause of writes (`kvserver/src/repl/failover.rs`), apart from CLIENT
    /// PAUSE's as Redis keeps its pause purposes apart: CLIENT UNPAUSE does not lift it.
    failover: bool,
}

/// The server's client pause.
#[derive(Debug, Default)]
pub(crate) struct Pause {
    /// Whether a pause may be in force: the one load the dispatcher makes per command.
    active: AtomicBool,
    state: Mutex<State>,
    ended: Condvar,
    /// How many clients a pause holds now (part of INFO `blocked_clients`, as Redis counts
    /// its postponed clients).
    held: AtomicUsize,
}

/// A waiting client looks at its connection this often (killed, disconnected).
const RECHECK: Duration = Duration::from_millis(50);

impl Pause {
    /// Whether a pause may be in force (cheap; [`Pause::wait`] decides).
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Starts or extends a pause: the stricter mode and the later end of this and the one in
    /// force, as Redis's `pauseClients`.
    pub(crate) fn pause(&self, mode: Mode, until: Instant) {
        let mut st = self.state.lock();
        st.pause = Some(match st.pause {
            Some((m, end)) => (m.max(mode), end.max(until)),
            None => (mode, until),
        });
        self.active.store(true, Ordering::Release);
    }

    /// Ends the pause and wakes every waiting client.
    pub(crate) fn unpause(&self) {
        let mut st = self.state.lock();
        st.pause = None;
        self.active.store(st.failover, Ordering::Release);
        drop(st);
        self.ended.notify_all();
    }

    /// Starts or ends FAILOVER's pause of writes.
    pub(crate) fn set_failover(&self, on: bool) {
        let mut st = self.state.lock();
        st.failover = on;
        self.active
            .store(on || st.pause.is_some(), Ordering::Release);
        drop(st);
        self.ended.notify_all();
    }

    /// Waits while a command that `writes` (or any, under ALL) is paused; returns early, false,
    /// when `gone` says the client was killed or left. Once the command is held, `shown` runs
    /// and what it returns is kept until the wait ends (CLIENT LIST's `b` flag: Redis shows a
    /// postponed client as blocked), and the client counts in [`Pause::held`].
    pub(crate) fn wait<G>(
        &self,
        writes: bool,
        shown: impl FnOnce() -> G,
        gone: impl Fn() -> bool,
    ) -> bool {
        let mut st = self.state.lock();
        let mut shown = Some(shown);
        let mut _held = None;
        loop {
            let now = Instant::now();
            if st.pause.is_some_and(|(_, end)| now >= end) {
                st.pause = None;
                self.active.store(st.failover, Ordering::Release);
            }
            let held = match st.pause {
                Some((Mode::All, _)) => true,
                Some((Mode::Write, _)) => writes,
                None => false,
            } || (st.failover && writes);
            if !held {
                return true;
            }
            if gone() {
                return false;
            }
            if let Some(shown) = shown.take() {
                _held = Some((Held::new(&self.held), shown()));
            }
            let wait = st
                .pause
                .map_or(RECHECK, |(_, end)| (end - now).min(RECHECK));
            let _ = self.ended.wait_for(&mut st, wait);
        }
    }

    /// How many clients a pause holds now.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

/// One client counted in [`Pause::held`] while it lives.
struct Held<'a>(&'a AtomicUsize);

impl<'a> Held<'a> {
    fn new(count: &'a AtomicUsize) -> Held<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        Held(count)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// CLIENT PAUSE timeout [WRITE|ALL]: the mode is checked first, then the timeout (ms), as
/// Redis does.
pub(super) fn pause(ctx: &mut Ctx<'_>, req: &Request<'_>) -> CmdResult {
    if req.len() > 4 {
        return Err(super::error::subcommand_syntax("client", req.arg(1)));
    }
    let mode = if req.len() == 4 {
        match req.arg(3) {
            m if m.eq_ignore_ascii_case(b"write") => Mode::Write,
            m if m.eq_ignore_ascii_case(b"all") => Mode::All,
            _ => return Err(CmdError::Msg("ERR CLIENT PAUSE mode must be WRITE or ALL")),
        }
    } else {
        Mode::All
    };
    let ms = parse_i64(req.arg(2)).ok_or(CmdError::Msg(
        "ERR timeout is not an integer or out of range",
    ))?;
    if ms < 0 {
        return Err(CmdError::Msg("ERR timeout is negative"));
    }
    let now = Instant::now();
    // A deadline past what Instant holds is as good as never.
    let until = now
        .checked_add(Duration::from_millis(ms as u64))
        .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400));
    ctx.s.shared.pause.pause(mode, until);
    ctx.ok()
}

/// CLIENT UNPAUSE.
pub(super) fn unpause(ctx: &mut Ctx<'_>, _req: &Request<'_>) -> CmdResult {
    ctx.s.shared.pause.unpause();
    ctx.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_pauses_hold_writes_only_and_end() {
        let p = Pause::default();
        assert!(p.wait(true, || (), || false));
        p.pause(Mode::Write, Instant::now() + Duration::from_secs(60));
        assert!(p.active());
        assert!(p.wait(false, || (), || false), "a read goes on");
        assert!(
            !p.wait(true, || (), || true),
            "a killed writer stops waiting"
        );
        assert_eq!(p.held(), 0);
        let shown = AtomicBool::new(false);
        std::thread::scope(|s| {
            let waiter =
                s.spawn(|| p.wait(true, || shown.store(true, Ordering::Relaxed), || false));
            // Held, shown and counted until the pause ends.
            while p.held() == 0 {
                std::thread::yield_now();
            }
            assert!(shown.load(Ordering::Relaxed));
            p.unpause();
            assert!(waiter.join().unwrap());
        });
        assert_eq!(p.held(), 0);
        assert!(!p.active());
        // An expired pause ends at the next look.
        p.pause(Mode::All, Instant::now());
        assert!(p.wait(false, || (), || false));
        assert!(!p.active());
    }
}
