//! When the leader proposes what its connections appended: as soon as the writers it expects
//! have all written, or after a bounded wait.
//!
//! Each proposal costs every node a log write and an fdatasync, so many small entries cost
//! more than a few large ones (IOPS-limited volumes, fsyncs of a few hundred microseconds on a
//! shared disk). Clients that wait for their reply before the next write (most of them)
//! come back as a cohort: the writers of an entry all send again once it commits. The leader
//! counts the writes it holds (appended, not yet proposed) and those proposed but not yet
//! committed; when they reach the number in flight it last saw, everybody expected is in and
//! it proposes. A lone writer is never held (one in flight, one expected); a crowd of them
//! shares one entry, and so one fsync per node, per round. When the expected writers do not
//! all come back within [`Cohort::new`]'s `wait` (a client went away, arrivals are random),
//! the leader proposes what it has and expects that many from then on.
//!
//! Counts are of appends to the stream (a command, or a transaction's whole effect), as the
//! stream's append hook reports them through [`Arrivals`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shared with the stream's append hook: how many appends there were, and from which count on
/// the Raft thread wants to hear of them.
#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    appended: AtomicU64,
    wake_at: AtomicU64,
}

impl Arrivals {
    /// Counts one append (called under the stream's lock, after its bytes are in); true when
    /// the Raft thread should be told (when it is not holding, every append qualifies).
    pub(crate) fn arrived(&self) -> bool {
        let n = self.appended.fetch_add(1, Ordering::SeqCst) + 1;
        n >= self.wake_at.load(Ordering::SeqCst)
    }

    fn appended(&self) -> u64 {
        self.appended.load(Ordering::SeqCst)
    }
}

/// What the leader should do with the writes the stream holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Propose them now.
    Propose,
    /// Hold them until this instant, or until [`Arrivals::arrived`] says the cohort is in.
    Hold(Instant),
}

/// The leader's count of writes in flight; see the module docs.
#[derive(Debug)]
pub(crate) struct Cohort {
    arrivals: std::sync::Arc<Arrivals>,
    wait: Duration,
    /// Appends counted into proposals so far.
    proposed: u64,
    /// Proposed entries not known to be committed: (index, appends in it).
    pending: VecDeque<(u64, u64)>,
    /// The sum of `pending`'s appends.
    uncommitted: u64,
    /// How many writes in flight the leader expects.
    expected: u64,
    /// When the current hold began.
    holding_since: Option<Instant>,
}

impl Cohort {
    /// Counts `arrivals`; holds writes at most `wait` (zero: never).
    pub(crate) fn new(arrivals: std::sync::Arc<Arrivals>, wait: Duration) -> Cohort {
        let proposed = arrivals.appended();
        Cohort {
            arrivals,
            wait,
            proposed,
            pending: VecDeque::new(),
            uncommitted: 0,
            expected: 1,
            holding_since: None,
        }
    }

    /// Starts over (leadership began or ended): nothing in flight, one writer expected, and the
    /// hook told of every append.
    pub(crate) fn reset(&mut self) {
        self.proposed = self.arrivals.appended();
        self.pending.clear();
        self.uncommitted = 0;
        self.expected = 1;
        self.holding_since = None;
        self.arrivals.wake_at.store(0, Ordering::SeqCst);
    }

    /// Whether to propose now, given the commit index. On [`Decision::Hold`] the caller must
    /// let the hook tell it of appends again (clear its pending flag) and then ask again with
    /// [`Cohort::recheck`], so that an append in between is not missed.
    pub(crate) fn decide(&mut self, committed: u64, now: Instant) -> Decision {
        while let Some(&(index, n)) = self.pending.front() {
            if index > committed {
                break;
            }
            self.pending.pop_front();
            self.uncommitted -= n;
        }
        // One count for the whole decision: the hook's threshold below must be the count this
        // decision saw plus what it misses, not a later count plus that.
        let appended = self.arrivals.appended();
        if self.wait.is_zero() || appended == self.proposed {
            // Nothing to hold (or holding is off).
            self.holding_since = None;
            return Decision::Propose;
        }
        let in_flight = self.uncommitted + (appended - self.proposed);
        if in_flight >= self.expected {
            self.expected = in_flight;
            return Decision::Propose;
        }
        let since = *self.holding_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.wait {
            // Fewer came back than expected: expect this many from now on.
            self.expected = in_flight.max(1);
            return Decision::Propose;
        }
        let missing = self.expected - in_flight;
        self.arrivals
            .wake_at
            .store(appended + missing, Ordering::SeqCst);
        Decision::Hold(since + self.wait)
    }

    /// After [`Decision::Hold`] and clearing the hook's pending flag: true when appends that
    /// came in meanwhile completed the cohort (then propose).
    pub(crate) fn recheck(&mut self) -> bool {
        let in_flight = self.in_flight();
        if in_flight >= self.expected {
            self.expected = in_flight;
            return true;
        }
        false
    }

    /// The count of appends, taken before the stream is read for a proposal: every append it
    /// counts is in what the read returns (the hook runs after its bytes are in). The read may
    /// return a few more, counted into the next proposal instead: they then count as in flight
    /// a little long, which can end a hold early but never prolong one.
    pub(crate) fn mark(&self) -> u64 {
        self.arrivals.appended()
    }

    /// Records the proposal, as entry `index`, of the appends counted up to `mark`, and has the
    /// hook tell of every append until the next hold.
    pub(crate) fn proposed(&mut self, index: u64, mark: u64) {
        let appended = mark;
        let n = appended - self.proposed;
        self.proposed = appended;
        self.pending.push_back((index, n));
        self.uncommitted += n;
        self.holding_since = None;
        self.arrivals.wake_at.store(0, Ordering::SeqCst);
    }

    /// Writes proposed and not committed, plus writes appended and not proposed.
    fn in_flight(&self) -> u64 {
        self.uncommitted + (self.arrivals.appended() - self.proposed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const WAIT: Duration = Duration::from_millis(2);

    fn cohort() -> (Arc<Arrivals>, Cohort, Instant) {
        let a = Arc::new(Arrivals::default());
        let c = Cohort::new(Arc::clone(&a), WAIT);
        (a, c, Instant::now())
    }

    fn arrive(a: &Arrivals, n: u64) -> Vec<bool> {
        (0..n).map(|_| a.arrived()).collect()
    }

    /// `n` writes arrive and are proposed at once as entry `index` (`committed` so far).
    #[track_caller]
    fn goes(a: &Arrivals, c: &mut Cohort, n: u64, committed: u64, index: u64, t: Instant) {
        arrive(a, n);
        assert_eq!(c.decide(committed, t), Decision::Propose);
        c.proposed(index, c.mark());
    }

    #[test]
    fn a_lone_writer_is_never_held() {
        let (a, mut c, t) = cohort();
        for i in 1..=5 {
            goes(&a, &mut c, 1, i - 1, i, t);
        }
    }

    #[test]
    fn a_cohort_is_held_until_it_is_all_in() {
        let (a, mut c, t) = cohort();
        // Fifty writers: the first proposal takes whoever came, and the count grows to fifty.
        goes(&a, &mut c, 1, 0, 1, t);
        goes(&a, &mut c, 49, 0, 2, t);
        // Both commit; the writers come back one by one.
        arrive(&a, 10);
        assert_eq!(c.decide(2, t), Decision::Hold(t + WAIT));
        // The hook is quiet until the fiftieth, then speaks once.
        let told = arrive(&a, 40);
        assert_eq!(told.iter().filter(|&&b| b).count(), 1);
        assert!(told[39]);
        assert!(c.recheck());
        assert_eq!(c.decide(2, t), Decision::Propose);
        c.proposed(3, c.mark());
        // Once it proposed, every append is told again.
        assert_eq!(arrive(&a, 2), vec![true, true]);
    }

    #[test]
    fn writes_still_uncommitted_count_as_in() {
        let (a, mut c, t) = cohort();
        goes(&a, &mut c, 20, 0, 1, t);
        // Entry 1 (20 writes) is not committed yet: ten more writers make thirty in flight,
        // more than the twenty expected.
        goes(&a, &mut c, 10, 0, 2, t);
        // Entry 1 commits and one of its writers is back: eleven in flight against thirty
        // expected.
        arrive(&a, 1);
        assert_eq!(c.decide(1, t), Decision::Hold(t + WAIT));
    }

    #[test]
    fn a_hold_ends_after_the_wait_and_expects_fewer() {
        let (a, mut c, t) = cohort();
        goes(&a, &mut c, 8, 0, 1, t);
        // One writer of the eight left: seven come back, and the hold times out.
        arrive(&a, 7);
        assert_eq!(c.decide(1, t), Decision::Hold(t + WAIT));
        let later = t + WAIT / 2;
        assert_eq!(c.decide(1, later), Decision::Hold(t + WAIT));
        assert_eq!(c.decide(1, t + WAIT), Decision::Propose);
        c.proposed(2, c.mark());
        // Seven expected now: seven back after the commit go at once.
        arrive(&a, 7);
        assert_eq!(c.decide(2, t + WAIT), Decision::Propose);
    }

    #[test]
    fn an_append_between_hold_and_recheck_is_not_lost() {
        let (a, mut c, t) = cohort();
        goes(&a, &mut c, 3, 0, 1, t);
        arrive(&a, 2);
        assert_eq!(c.decide(1, t), Decision::Hold(t + WAIT));
        // The last writer appends before the caller re-enabled the hook (the hook's flag was
        // still set, so it said nothing useful): the recheck sees it.
        a.arrived();
        assert!(c.recheck());
    }

    #[test]
    fn appends_read_after_the_mark_count_toward_the_next_proposal() {
        let (a, mut c, t) = cohort();
        arrive(&a, 5);
        assert_eq!(c.decide(0, t), Decision::Propose);
        let mark = c.mark();
        // Two more land before the read: proposed with the five, counted with the next.
        arrive(&a, 2);
        c.proposed(1, mark);
        // Entry 1 (all seven) commits: the two still count as in flight, so three writers
        // back make the five expected (a hold ends early, never late).
        arrive(&a, 2);
        assert_eq!(c.decide(1, t), Decision::Hold(t + WAIT));
        arrive(&a, 1);
        assert_eq!(c.decide(1, t), Decision::Propose);
    }

    #[test]
    fn no_wait_proposes_always() {
        let a = Arc::new(Arrivals::default());
        let mut c = Cohort::new(Arc::clone(&a), Duration::ZERO);
        let t = Instant::now();
        goes(&a, &mut c, 10, 0, 1, t);
        arrive(&a, 1);
        assert_eq!(c.decide(1, t), Decision::Propose);
    }

    #[test]
    fn reset_forgets_the_cohort() {
        let (a, mut c, t) = cohort();
        goes(&a, &mut c, 30, 0, 1, t);
        arrive(&a, 1);
        assert_eq!(c.decide(1, t), Decision::Hold(t + WAIT));
        c.reset();
        assert!(a.arrived());
        assert_eq!(c.decide(1, t), Decision::Propose);
    }
}
