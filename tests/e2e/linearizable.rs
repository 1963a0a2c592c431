//! A linearizability checker for histories of operations on one integer register (a key
//! holding an integer, or absent), used by the fault tests (`faults.rs`) to check what real
//! clients saw while processes were paused, killed and restarted.
//!
//! Linearizability is compositional (Herlihy and Wing): a history is linearizable if and only
//! if each object's sub-history is, so the tests split a history by key and check each key on
//! its own. The search is Wing and Gong's, with Lowe's memoization of (operations linearized
//! so far, state) pairs, as Porcupine and Knossos do: walk the history's call and return events
//! in time order; at a call, try to linearize that operation now (its output must match the
//! model), lift it out and restart from the first event; at a return whose operation is not
//! linearized yet, undo the last choice. The history is linearizable when every operation has
//! been lifted out.
//!
//! An operation whose outcome is unknown (the client sent it, then its connection failed or
//! timed out) may have taken effect at any moment after its call, or never: it gets a return
//! at the end of time and accepts any output, so the search may place it after everything
//! observed, which is the same as never. A read with an unknown outcome constrains nothing and
//! is dropped.

use std::collections::HashSet;
use std::fmt;

/// The register's state: the key's integer value, or `None` when it does not exist.
pub(crate) type State = Option<i64>;

/// What a client asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// GET.
    Get,
    /// SET to the value.
    Set(i64),
    /// INCR (an absent key counts as 0).
    Incr,
    /// SET ... GET: stores the value and answers the old one (a compare-and-set's building
    /// block).
    Swap(i64),
    /// DEL (answers how many keys it removed).
    Del,
}

/// What the client got back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Out {
    /// GET's or SET GET's answer.
    Value(State),
    /// SET's `OK`.
    Done,
    /// INCR's new value or DEL's count.
    Int(i64),
    /// No answer (the connection failed after the command was sent, or timed out).
    Unknown,
}

/// One operation of a history: who ran it, what it was, what came back, and when the client
/// sent it and got the answer (nanoseconds on one clock shared by all clients; `ret` is
/// `None` for an unknown outcome).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    pub(crate) client: usize,
    pub(crate) op: Op,
    pub(crate) out: Out,
    pub(crate) call: u64,
    pub(crate) ret: Option<u64>,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ret = self.ret.map_or_else(|| "?".to_string(), |r| r.to_string());
        write!(
            f,
            "client {} [{}, {}] {:?} -> {:?}",
            self.client, self.call, ret, self.op, self.out
        )
    }
}

/// Applies `op` to `state` if `out` is what the register would answer: the new state, or
/// `None` if the output contradicts the state.
fn step(state: State, op: Op, out: Out) -> Option<State> {
    let unknown = out == Out::Unknown;
    match op {
        Op::Get => (unknown || out == Out::Value(state)).then_some(state),
        Op::Set(v) => Some(Some(v)),
        Op::Incr => {
            let next = state.unwrap_or(0).checked_add(1)?;
            (unknown || out == Out::Int(next)).then_some(Some(next))
        }
        Op::Swap(v) => (unknown || out == Out::Value(state)).then_some(Some(v)),
        Op::Del => {
            let removed = i64::from(state.is_some());
            (unknown || out == Out::Int(removed)).then_some(None)
        }
    }
}

/// Why a history was refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// No order of the operations explains what the clients saw. `longest` is the longest
    /// sequence of operations the search could linearize (a place to start reading).
    NotLinearizable { longest: Vec<Event> },
    /// The search gave up after this many steps (the history is too concurrent to check).
    TooLong(u64),
}

/// A node of the event list: the call or the return of operation `op`.
#[derive(Clone, Copy)]
struct Node {
    op: usize,
    is_call: bool,
    /// The other event of the same operation.
    partner: usize,
    prev: usize,
    next: usize,
}

const NIL: usize = usize::MAX;

/// The events in time order as a doubly linked list whose head is node 0 (a sentinel), so an
/// operation's two events can be lifted out and put back in O(1).
struct Events {
    nodes: Vec<Node>,
}

impl Events {
    fn new(history: &[Event]) -> Events {
        // (time, calls before returns at the same time so that touching operations count as
        // concurrent: the checker then never refuses a history because of a clock tie), node.
        let mut order: Vec<(u64, bool, usize, bool)> = Vec::with_capacity(history.len() * 2);
        for (i, e) in history.iter().enumerate() {
            order.push((e.call, false, i, true));
            order.push((e.ret.unwrap_or(u64::MAX), true, i, false));
        }
        order.sort_unstable();
        let mut nodes = vec![Node {
            op: NIL,
            is_call: false,
            partner: NIL,
            prev: NIL,
            next: NIL,
        }];
        let mut call_node = vec![NIL; history.len()];
        for &(_, _, op, is_call) in &order {
            let at = nodes.len();
            let prev = at - 1;
            nodes[prev].next = at;
            let partner = if is_call { NIL } else { call_node[op] };
            if is_call {
                call_node[op] = at;
            } else {
                nodes[partner].partner = at;
            }
            nodes.push(Node {
                op,
                is_call,
                partner,
                prev,
                next: NIL,
            });
        }
        Events { nodes }
    }

    fn first(&self) -> usize {
        self.nodes[0].next
    }

    /// Takes a call and its return out of the list.
    fn lift(&mut self, call: usize) {
        for at in [call, self.nodes[call].partner] {
            let Node { prev, next, .. } = self.nodes[at];
            self.nodes[prev].next = next;
            if next != NIL {
                self.nodes[next].prev = prev;
            }
        }
    }

    /// Puts back what the matching `lift` took out (lifts are undone in reverse order).
    fn unlift(&mut self, call: usize) {
        for at in [self.nodes[call].partner, call] {
            let Node { prev, next, .. } = self.nodes[at];
            self.nodes[prev].next = at;
            if next != NIL {
                self.nodes[next].prev = at;
            }
        }
    }
}

/// A set of operation indices.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

/// Checks that `history` (operations on one register that starts absent) is linearizable,
/// giving up after `budget` search steps.
///
/// # Errors
/// [`Refusal`] when it is not, or when the search ran out of budget.
pub(crate) fn check(history: &[Event], budget: u64) -> Result<(), Refusal> {
    let history: Vec<Event> = history
        .iter()
        .filter(|e| !(e.op == Op::Get && e.out == Out::Unknown))
        .copied()
        .collect();
    let mut events = Events::new(&history);
    let mut state: State = None;
    let mut linearized = Bits::new(history.len());
    let mut seen: HashSet<(Bits, State)> = HashSet::new();
    // (operation's call node, state before it)
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut longest: Vec<usize> = Vec::new();
    let mut at = events.first();
    let mut steps = 0u64;
    while events.first() != NIL {
        steps += 1;
        if steps > budget {
            return Err(Refusal::TooLong(steps));
        }
        let node = events.nodes[at];
        if node.is_call {
            let e = history[node.op];
            if let Some(next) = step(state, e.op, e.out) {
                let mut with = linearized.clone();
                with.set(node.op);
                if seen.insert((with.clone(), next)) {
                    stack.push((at, state));
                    state = next;
                    linearized = with;
                    events.lift(at);
                    at = events.first();
                    continue;
                }
            }
            at = node.next;
        } else {
            // This operation returned before anything placed it: undo the last choice.
            if stack.len() > longest.len() {
                longest = stack
                    .iter()
                    .map(|&(call, _)| events.nodes[call].op)
                    .collect();
            }
            let Some((call, before)) = stack.pop() else {
                return Err(Refusal::NotLinearizable {
                    longest: longest.into_iter().map(|i| history[i]).collect(),
                });
            };
            state = before;
            linearized.clear(events.nodes[call].op);
            events.unlift(call);
            at = events.nodes[call].next;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: u64 = 1_000_000;

    fn ev(client: usize, call: u64, ret: u64, op: Op, out: Out) -> Event {
        Event {
            client,
            op,
            out,
            call,
            ret: Some(ret),
        }
    }

    fn pending(client: usize, call: u64, op: Op) -> Event {
        Event {
            client,
            op,
            out: Out::Unknown,
            call,
            ret: None,
        }
    }

    fn linearizable(h: &[Event]) -> bool {
        match check(h, BUDGET) {
            Ok(()) => true,
            Err(Refusal::NotLinearizable { .. }) => false,
            Err(e) => panic!("search gave up: {e:?}"),
        }
    }

    #[test]
    fn a_sequential_history_that_matches_the_register_is_accepted() {
        let h = [
            ev(0, 0, 1, Op::Get, Out::Value(None)),
            ev(0, 2, 3, Op::Set(5), Out::Done),
            ev(1, 4, 5, Op::Incr, Out::Int(6)),
            ev(0, 6, 7, Op::Swap(9), Out::Value(Some(6))),
            ev(1, 8, 9, Op::Get, Out::Value(Some(9))),
            ev(0, 10, 11, Op::Del, Out::Int(1)),
            ev(1, 12, 13, Op::Del, Out::Int(0)),
            ev(1, 14, 15, Op::Incr, Out::Int(1)),
        ];
        assert!(linearizable(&h));
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_refused() {
        let h = [
            ev(0, 0, 10, Op::Set(1), Out::Done),
            ev(1, 20, 30, Op::Get, Out::Value(None)),
        ];
        assert!(!linearizable(&h));
    }

    #[test]
    fn a_read_concurrent_with_a_write_may_see_either_value() {
        for seen in [None, Some(1)] {
            let h = [
                ev(0, 0, 10, Op::Set(1), Out::Done),
                ev(1, 5, 15, Op::Get, Out::Value(seen)),
            ];
            assert!(linearizable(&h), "read of {seen:?}");
        }
        let h = [
            ev(0, 0, 10, Op::Set(1), Out::Done),
            ev(1, 5, 15, Op::Get, Out::Value(Some(2))),
        ];
        assert!(!linearizable(&h), "a value nobody wrote");
    }

    #[test]
    fn two_increments_cannot_both_answer_one_even_when_concurrent() {
        let h = [
            ev(0, 0, 10, Op::Incr, Out::Int(1)),
            ev(1, 5, 15, Op::Incr, Out::Int(1)),
        ];
        assert!(!linearizable(&h), "a lost update");
        let h = [
            ev(0, 0, 10, Op::Incr, Out::Int(2)),
            ev(1, 5, 15, Op::Incr, Out::Int(1)),
        ];
        assert!(linearizable(&h), "concurrent: either order");
        let h = [
            ev(0, 0, 10, Op::Incr, Out::Int(2)),
            ev(1, 20, 30, Op::Incr, Out::Int(1)),
        ];
        assert!(!linearizable(&h), "real-time order broken");
    }

    #[test]
    fn reads_may_not_go_back_and_forth_between_two_writes() {
        let h = [
            ev(0, 0, 100, Op::Set(1), Out::Done),
            ev(1, 0, 100, Op::Set(2), Out::Done),
            ev(2, 110, 120, Op::Get, Out::Value(Some(1))),
            ev(2, 130, 140, Op::Get, Out::Value(Some(2))),
        ];
        assert!(!linearizable(&h));
        let h = [
            ev(0, 0, 100, Op::Set(1), Out::Done),
            ev(1, 0, 100, Op::Set(2), Out::Done),
            ev(2, 50, 60, Op::Get, Out::Value(Some(1))),
            ev(3, 70, 80, Op::Get, Out::Value(Some(2))),
            ev(2, 110, 120, Op::Get, Out::Value(Some(2))),
        ];
        assert!(linearizable(&h), "1 then 2 while both writes run");
        let h = [
            ev(0, 0, 100, Op::Set(1), Out::Done),
            ev(1, 0, 100, Op::Set(2), Out::Done),
            ev(2, 50, 60, Op::Get, Out::Value(Some(1))),
            ev(3, 70, 80, Op::Get, Out::Value(Some(2))),
            ev(2, 110, 120, Op::Get, Out::Value(Some(1))),
        ];
        assert!(!linearizable(&h), "1, 2, then 1 again");
    }

    #[test]
    fn swap_must_answer_the_value_it_replaced() {
        let h = [
            ev(0, 0, 10, Op::Set(1), Out::Done),
            ev(1, 20, 30, Op::Swap(2), Out::Value(Some(1))),
            ev(0, 40, 50, Op::Swap(3), Out::Value(Some(1))),
        ];
        assert!(!linearizable(&h), "two swaps replaced the same value");
    }

    #[test]
    fn a_write_with_unknown_outcome_may_have_happened_or_not() {
        let applied = [
            pending(0, 0, Op::Set(1)),
            ev(1, 20, 30, Op::Get, Out::Value(Some(1))),
        ];
        assert!(linearizable(&applied));
        let lost = [
            pending(0, 0, Op::Set(1)),
            ev(1, 20, 30, Op::Get, Out::Value(None)),
        ];
        assert!(linearizable(&lost));
        let flickers = [
            pending(0, 0, Op::Set(1)),
            ev(1, 20, 30, Op::Get, Out::Value(Some(1))),
            ev(1, 40, 50, Op::Get, Out::Value(None)),
        ];
        assert!(!linearizable(&flickers), "once seen, a write stays");
        let not_before_its_call = [
            ev(1, 0, 10, Op::Get, Out::Value(Some(1))),
            pending(0, 20, Op::Set(1)),
        ];
        assert!(!linearizable(&not_before_its_call));
    }

    #[test]
    fn an_acknowledged_write_lost_by_a_crash_is_refused() {
        // What a store that acknowledged before its log was durable would show after a
        // restart: an increment answered, then the counter back where it was.
        let h = [
            ev(0, 0, 10, Op::Incr, Out::Int(1)),
            ev(0, 20, 30, Op::Incr, Out::Int(2)),
            pending(1, 25, Op::Incr),
            ev(1, 40, 50, Op::Get, Out::Value(Some(1))),
        ];
        assert!(!linearizable(&h));
    }

    #[test]
    fn a_long_concurrent_history_is_checked_within_budget() {
        // Five clients, each incrementing 200 times with overlapping calls; the answers are a
        // permutation of 1..=1000 consistent with real time.
        let mut h = Vec::new();
        let mut next = 1;
        for round in 0..200u64 {
            for c in 0..5usize {
                let call = round * 100 + c as u64;
                h.push(ev(c, call, call + 50, Op::Incr, Out::Int(next)));
                next += 1;
            }
        }
        assert!(linearizable(&h));
        // Swap two answers across rounds: no longer consistent with real time.
        let (a, b) = (7, 700);
        let tmp = h[a].out;
        h[a].out = h[b].out;
        h[b].out = tmp;
        assert!(!linearizable(&h));
    }
}
