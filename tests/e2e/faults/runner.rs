//! The fault tests' driver: clients run GET, SET, INCR, SET ... GET and DEL on a few keys
//! against the nodes of a [`Group`] (each client sticks to one node or picks one at random per
//! command) while the nemesis plays a schedule of [`Fault`]s: pausing, killing and restarting
//! nodes, and changing the network between them. Every command the clients sent is recorded
//! with its call and return times on one clock, for `linearizable.rs` to check key by key.
//!
//! Each client sends one command at a time with a read timeout; a command whose answer never
//! came (the node was paused, killed, or black-holed by a cut) or that got an error reply has
//! an unknown outcome, which the checker accepts as applied or not. A command that could not
//! be sent (no connection) is not in the history.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::e2e::linearizable::{Event, Op, Out};
use crate::e2e::nemesis::Mesh;

/// A small deterministic generator (xorshift), seeded per client.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Which commands clients send.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mix {
    /// Every command, DEL included.
    All,
    /// No DEL: after a write, nothing can make a key absent again (the in-memory control).
    NoDelete,
}

/// Which node a client sends each command to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Client `c` always uses node `c % nodes + 1`.
    Stick,
    /// A node picked at random for every command (one connection per node, kept).
    Random,
}

/// How the clients run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Options {
    pub(crate) clients: usize,
    /// Keys `lin:0` to `lin:{keys - 1}`.
    pub(crate) keys: usize,
    /// Answered commands to wait for, all phases together (see [`Fault::Progress`]).
    pub(crate) ops: usize,
    pub(crate) mix: Mix,
    pub(crate) route: Route,
    /// Connect, read and write timeout of every command.
    pub(crate) timeout: Duration,
}

impl Options {
    /// 4 clients on 3 keys, each sticking to one node, with a 1 s timeout.
    pub(crate) fn new(ops: usize, mix: Mix) -> Options {
        Options {
            clients: 4,
            keys: 3,
            ops,
            mix,
            route: Route::Stick,
            timeout: Duration::from_secs(1),
        }
    }
}

/// A change to the network between nodes (see [`Mesh`] for what each cuts).
#[derive(Clone, Debug)]
pub(crate) enum Net {
    /// Node cut off from every other.
    Isolate(usize),
    /// Every link between the two sides cut.
    Split(Vec<usize>, Vec<usize>),
    /// No bytes from the first node to the second.
    OneWay(usize, usize),
    /// Every link delayed.
    Delay(Duration),
    /// Every connection closed (the nodes reconnect).
    Reset,
}

impl Net {
    /// Applies the change to a group's mesh (a [`Group::net`] for a group of Raft nodes).
    pub(crate) fn apply(&self, mesh: &Mesh) {
        match self {
            Net::Isolate(id) => mesh.isolate(*id),
            Net::Split(a, b) => mesh.split(a, b),
            Net::OneWay(from, to) => mesh.one_way(*from, *to),
            Net::Delay(d) => mesh.delay_all(*d),
            Net::Reset => mesh.reset_all(),
        }
    }
}

/// One step of the nemesis's schedule. Nodes are numbered from 1, as Raft ids are.
#[derive(Clone, Debug)]
pub(crate) enum Fault {
    /// Wait until the clients have had a phase's worth of answers: `ops / (phases + 1)`,
    /// where `phases` counts the schedule's `Progress` steps (the run ends with one more).
    Progress,
    /// Wait this long (the clients keep running).
    Sleep(Duration),
    /// SIGSTOP the node's process.
    Pause(usize),
    /// SIGCONT it.
    Resume(usize),
    /// SIGKILL the node; it stays down until `Restart`.
    Kill(usize),
    /// Start a killed node again on its data.
    Restart(usize),
    /// Change the network between nodes.
    Net(Net),
    /// Every link passes again.
    Heal,
}

/// SIGSTOP for `d`, then SIGCONT.
pub(crate) fn pause_for(id: usize, d: Duration) -> [Fault; 3] {
    [Fault::Pause(id), Fault::Sleep(d), Fault::Resume(id)]
}

/// SIGKILL, then a restart at once.
pub(crate) fn crash(id: usize) -> [Fault; 2] {
    [Fault::Kill(id), Fault::Restart(id)]
}

/// A network change held for `d`, then healed.
pub(crate) fn net_for(net: Net, d: Duration) -> [Fault; 3] {
    [Fault::Net(net), Fault::Sleep(d), Fault::Heal]
}

/// The processes the clients talk to and the nemesis hurts. A Raft group is its nodes, each
/// started with `--raft-peers` from a [`Mesh`]'s `peers_arg` on a fixed Raft port (the mesh's
/// target, the same across restarts), with `net` as [`Net::apply`] and `heal` as
/// [`Mesh::heal`].
pub(crate) trait Group {
    /// How many nodes (ids 1 to `nodes()`).
    fn nodes(&self) -> usize;
    /// Where clients reach node `id` now; `None` while it is down.
    fn addr(&self, id: usize) -> Option<SocketAddr>;
    /// Node `id`'s process, to pause; `None` while it is down.
    fn pid(&self, id: usize) -> Option<u32>;
    /// SIGKILLs node `id` and waits for it to be gone.
    fn kill(&mut self, id: usize);
    /// Starts node `id` again on its data (after `kill`).
    fn restart(&mut self, id: usize);
    /// Changes the network.
    fn net(&mut self, net: &Net);
    /// Every link passes again.
    fn heal(&mut self);
}

/// A run's outcome: each key's history and what the nemesis did.
pub(crate) struct Run {
    pub(crate) by_key: BTreeMap<usize, Vec<Event>>,
    /// The node each operation went to, by (client, call time).
    pub(crate) node_of: HashMap<(usize, u64), usize>,
    pub(crate) kills: usize,
    pub(crate) pauses: usize,
    pub(crate) nets: usize,
    pub(crate) answered_after_last_restart: usize,
    /// Answered commands per node, node 1's first.
    pub(crate) answered_by_node: Vec<usize>,
}

/// What the clients share with the nemesis.
struct Shared {
    /// Node `id`'s client address at `id - 1`, `None` while it is down.
    addrs: RwLock<Vec<Option<SocketAddr>>>,
    origin: Instant,
    stop: AtomicBool,
    /// Commands answered, all clients together.
    answered: AtomicUsize,
    answered_by_node: Vec<AtomicUsize>,
    /// (key, node, event).
    history: Mutex<Vec<(usize, usize, Event)>>,
}

impl Shared {
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).expect("a test lasts less than 500 years")
    }
}

fn random_op(rng: &mut Rng, mix: Mix, unique: &mut i64) -> Op {
    *unique += 1;
    let limit = match mix {
        Mix::All => 10,
        Mix::NoDelete => 9,
    };
    match rng.below(limit) {
        0..=3 => Op::Get,
        4 | 5 => Op::Set(*unique),
        6 | 7 => Op::Incr,
        8 => Op::Swap(*unique),
        _ => Op::Del,
    }
}

fn args(op: Op, key: &str) -> redis::Cmd {
    let mut c = redis::Cmd::new();
    match op {
        Op::Get => c.arg("GET").arg(key),
        Op::Set(v) => c.arg("SET").arg(key).arg(v),
        Op::Incr => c.arg("INCR").arg(key),
        Op::Swap(v) => c.arg("SET").arg(key).arg(v).arg("GET"),
        Op::Del => c.arg("DEL").arg(key),
    };
    c
}

/// The reply as the checker's output; `None` for an error reply (treated as unknown: a write
/// may have been applied before its acknowledgement failed).
fn output(op: Op, reply: &redis::Value) -> Option<Out> {
    use redis::Value as V;
    let value = |v: &V| match v {
        V::Nil => Some(None),
        V::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok().map(Some),
        _ => None,
    };
    match (op, reply) {
        (Op::Get | Op::Swap(_), v) => value(v).map(Out::Value),
        (Op::Set(_), V::Okay) => Some(Out::Done),
        (Op::Incr | Op::Del, V::Int(n)) => Some(Out::Int(*n)),
        _ => None,
    }
}

fn connect(addr: SocketAddr, timeout: Duration) -> Option<redis::Connection> {
    let client = redis::Client::open(format!("redis://{addr}/")).ok()?;
    let con = client.get_connection_with_timeout(timeout).ok()?;
    con.set_read_timeout(Some(timeout)).ok()?;
    con.set_write_timeout(Some(timeout)).ok()?;
    Some(con)
}

fn run_client(shared: &Shared, client: usize, opts: &Options) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((client as u64 + 1) * 0x2545_f491));
    let mut unique = (client as i64 + 1) * 1_000_000_000;
    let nodes = shared.answered_by_node.len();
    // Per node: the address the connection was made to, and the connection.
    let mut cons: Vec<Option<(SocketAddr, redis::Connection)>> = (0..nodes).map(|_| None).collect();
    while !shared.stop.load(Ordering::Relaxed) {
        let node = match opts.route {
            Route::Stick => client % nodes,
            Route::Random => rng.below(nodes as u64) as usize,
        };
        let Some(addr) = shared.addrs.read().unwrap()[node] else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        // A restarted node listens elsewhere: the old connection is dead anyway.
        if cons[node].as_ref().is_none_or(|(a, _)| *a != addr) {
            cons[node] = connect(addr, opts.timeout).map(|c| (addr, c));
            if cons[node].is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            continue;
        }
        let (_, c) = cons[node].as_mut().expect("connected just above");
        let key = rng.below(opts.keys as u64) as usize;
        let op = random_op(&mut rng, opts.mix, &mut unique);
        let call = shared.now();
        let reply: redis::RedisResult<redis::Value> = args(op, &format!("lin:{key}")).query(c);
        let ret = shared.now();
        let (out, ret) = match &reply {
            Ok(v) => match output(op, v) {
                Some(out) => (out, Some(ret)),
                None => (Out::Unknown, None),
            },
            Err(e)
                if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError) =>
            {
                (Out::Unknown, None)
            }
            Err(_) => {
                cons[node] = None;
                (Out::Unknown, None)
            }
        };
        if ret.is_some() {
            shared.answered.fetch_add(1, Ordering::Relaxed);
            shared.answered_by_node[node].fetch_add(1, Ordering::Relaxed);
        }
        let event = Event {
            client,
            op,
            out,
            call,
            ret,
        };
        shared.history.lock().unwrap().push((key, node + 1, event));
    }
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid}");
}

/// What the nemesis has broken and not mended yet, so that the run can mend it at the end.
#[derive(Default)]
struct Damage {
    paused: Vec<usize>,
    down: Vec<usize>,
    net: bool,
}

/// Runs the clients against `group` while the nemesis plays `schedule`, then mends whatever
/// the schedule left broken (resumes, restarts, heals), waits for one more phase of progress,
/// and returns the history.
///
/// # Panics
/// When the clients stop making progress for 60 s during a `Progress` step, or the schedule
/// pauses or kills a node that is down.
pub(crate) fn run(group: &mut dyn Group, schedule: &[Fault], opts: &Options) -> Run {
    let nodes = group.nodes();
    let addrs = |group: &dyn Group| (1..=nodes).map(|id| group.addr(id)).collect::<Vec<_>>();
    let shared = Arc::new(Shared {
        addrs: RwLock::new(addrs(group)),
        origin: Instant::now(),
        stop: AtomicBool::new(false),
        answered: AtomicUsize::new(0),
        answered_by_node: (0..nodes).map(|_| AtomicUsize::new(0)).collect(),
        history: Mutex::new(Vec::new()),
    });
    let clients: Vec<_> = (0..opts.clients)
        .map(|client| {
            let shared = Arc::clone(&shared);
            let opts = *opts;
            std::thread::spawn(move || run_client(&shared, client, &opts))
        })
        .collect();
    let phases = schedule
        .iter()
        .filter(|f| matches!(f, Fault::Progress))
        .count();
    let per_phase = opts.ops / (phases + 1);
    // Waits until `per_phase` more commands have been answered.
    let next_phase = || {
        let target = shared.answered.load(Ordering::Relaxed) + per_phase;
        let deadline = Instant::now() + Duration::from_secs(60);
        while shared.answered.load(Ordering::Relaxed) < target {
            assert!(Instant::now() < deadline, "clients stopped making progress");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let (mut kills, mut pauses, mut nets, mut after_restart) = (0, 0, 0, 0);
    let mut damage = Damage::default();
    let mut steps: Vec<Fault> = schedule.to_vec();
    let mut mended = false;
    let mut i = 0;
    loop {
        if i == steps.len() {
            if mended {
                break;
            }
            // Mend what is still broken, then one last phase with everything up.
            mended = true;
            steps.extend(damage.paused.iter().map(|&id| Fault::Resume(id)));
            steps.extend(damage.down.iter().map(|&id| Fault::Restart(id)));
            if damage.net {
                steps.push(Fault::Heal);
            }
            steps.push(Fault::Progress);
            continue;
        }
        match &steps[i] {
            Fault::Progress => next_phase(),
            Fault::Sleep(d) => std::thread::sleep(*d),
            &Fault::Pause(id) => {
                let pid = group.pid(id).unwrap_or_else(|| panic!("node {id} is down"));
                signal(pid, "STOP");
                damage.paused.push(id);
                pauses += 1;
            }
            &Fault::Resume(id) => {
                if let Some(pid) = group.pid(id) {
                    signal(pid, "CONT");
                }
                damage.paused.retain(|&p| p != id);
            }
            &Fault::Kill(id) => {
                assert!(group.pid(id).is_some(), "node {id} is down already");
                group.kill(id);
                damage.paused.retain(|&p| p != id);
                damage.down.push(id);
                kills += 1;
            }
            &Fault::Restart(id) => {
                group.restart(id);
                damage.down.retain(|&d| d != id);
                after_restart = shared.answered.load(Ordering::Relaxed);
            }
            Fault::Net(net) => {
                group.net(net);
                damage.net = true;
                nets += 1;
            }
            Fault::Heal => {
                group.heal();
                damage.net = false;
            }
        }
        *shared.addrs.write().unwrap() = addrs(group);
        i += 1;
    }
    shared.stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("a client thread panicked");
    }
    let answered_after_last_restart = shared.answered.load(Ordering::Relaxed) - after_restart;
    let mut by_key: BTreeMap<usize, Vec<Event>> = BTreeMap::new();
    let mut node_of = HashMap::new();
    for (key, node, e) in shared.history.lock().unwrap().drain(..) {
        node_of.insert((e.client, e.call), node);
        by_key.entry(key).or_default().push(e);
    }
    Run {
        by_key,
        node_of,
        kills,
        pauses,
        nets,
        answered_after_last_restart,
        answered_by_node: shared
            .answered_by_node
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::Duration;

    use super::Net;
    use crate::e2e::nemesis::{Dir, Link, Mesh};

    /// A link of the mesh: from, to, and its two directions.
    type Pair = (usize, usize, Link, Link);

    /// The links of every ordered pair that do not pass.
    fn broken(mesh: &Mesh) -> Vec<Pair> {
        let mut out = Vec::new();
        for i in mesh.ids() {
            for j in mesh.ids().filter(|&j| j != i) {
                let p = mesh.proxy(i, j);
                let (up, down) = (p.link(Dir::Up), p.link(Dir::Down));
                if (up, down) != (Link::Pass, Link::Pass) {
                    out.push((i, j, up, down));
                }
            }
        }
        out
    }

    #[test]
    fn each_network_fault_changes_the_links_it_names() {
        // Listening targets that never accept: only the proxies' modes are looked at.
        let listeners: Vec<TcpListener> = (0..3)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let addrs: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        let mesh = Mesh::new(&addrs);
        let d = Duration::from_millis(7);
        use Link::{Cut, Delay, Pass};
        let cases: [(Net, Vec<Pair>); 5] = [
            (
                Net::Isolate(3),
                vec![
                    (1, 3, Cut, Cut),
                    (2, 3, Cut, Cut),
                    (3, 1, Cut, Cut),
                    (3, 2, Cut, Cut),
                ],
            ),
            (
                Net::Split(vec![2], vec![1, 3]),
                vec![
                    (1, 2, Cut, Cut),
                    (2, 1, Cut, Cut),
                    (2, 3, Cut, Cut),
                    (3, 2, Cut, Cut),
                ],
            ),
            (
                Net::OneWay(1, 2),
                vec![(1, 2, Cut, Pass), (2, 1, Pass, Cut)],
            ),
            (
                Net::Delay(d),
                mesh.ids()
                    .flat_map(|i| mesh.ids().map(move |j| (i, j)))
                    .filter(|(i, j)| i != j)
                    .map(|(i, j)| (i, j, Delay(d), Delay(d)))
                    .collect(),
            ),
            (Net::Reset, vec![]),
        ];
        for (net, expected) in cases {
            net.apply(&mesh);
            assert_eq!(broken(&mesh), expected, "{net:?}");
            mesh.heal();
            assert_eq!(broken(&mesh), vec![], "healed after {net:?}");
        }
    }
}
