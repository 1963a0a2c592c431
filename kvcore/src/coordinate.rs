//! `Coordinator`: the seam between the code that runs commands on a [`Kv`] (kvserver's
//! connections, an embedding program) and whatever replicates that store (kvraft's Raft
//! group): where a command may run now, and when what it did may be acknowledged.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::kv::Kv;

/// Decides where a host's commands run and when their results may be given out.
///
/// A host (kvserver, or [`Coordinator::run`] for a program) asks [`route`](Coordinator::route)
/// before each command that touches the data. [`Route::Local`]: it runs the command on its own
/// [`Kv`] while holding the [`Permit`], noting where the replication stream ended after the
/// command if it wrote ([`Kv::take_own_append`]). Before it gives out the results of the
/// commands it ran under permits of one epoch, it calls [`settle`](Coordinator::settle), and
/// gives nothing out if that fails. [`Route::Forward`]: another node runs data commands now.
/// [`Route::Unavailable`]: nobody does; nothing ran and the caller may retry.
///
/// A single server needs no coordinator: every command runs locally, and a batch's writes
/// are acknowledged once its own log has them. kvraft's `RaftNode` is one: it runs commands
/// while it leads, forwards them to the leader otherwise, and settles a batch once what the
/// batch wrote or read is committed by a majority.
///
/// ```
/// use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
/// use kvcore::{Coordinator, Kv, Options, Permit, Route, Store, Unsettled};
///
/// /// A node an operator can fence: once fenced it runs nothing more, and replies to
/// /// commands that ran before are withheld (their epoch is over).
/// #[derive(Debug, Default)]
/// struct Fence {
///     fenced: AtomicBool,
///     epoch: AtomicU64,
///     running: AtomicUsize,
/// }
///
/// impl Coordinator for Fence {
///     fn route(&self) -> Route<'_> {
///         if self.fenced.load(Ordering::SeqCst) {
///             return Route::Unavailable;
///         }
///         Route::Local(Permit::enter(&self.running, self.epoch.load(Ordering::SeqCst)))
///     }
///     fn settle(&self, epoch: u64, _own_append: Option<u64>) -> Result<(), Unsettled> {
///         if self.epoch.load(Ordering::SeqCst) == epoch {
///             Ok(())
///         } else {
///             Err(Unsettled::LostLeadership)
///         }
///     }
///     fn serving(&self) -> bool {
///         !self.fenced.load(Ordering::SeqCst)
///     }
///     fn leader_node(&self) -> Option<u64> {
///         None
///     }
/// }
///
/// let kv = Kv::in_memory(Options::default());
/// let fence = Fence::default();
/// fence.run(&kv, |kv| kv.db(0)?.set("k", "v"))??;
/// fence.fenced.store(true, Ordering::SeqCst);
/// assert!(fence.run(&kv, |kv| kv.db(0)?.get("k")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Coordinator: Send + Sync + std::fmt::Debug {
    /// Where a command that touches the data goes now. May wait a bounded time for a
    /// leader to be known (a host keeps a client waiting that long).
    fn route(&self) -> Route<'_>;

    /// Waits until the results of the commands that ran under permits of `epoch` (a
    /// connection's batch) may be given out. `own_append` is where the replication stream
    /// ended just after the batch's last command, if that command wrote
    /// ([`Kv::take_own_append`] after it ran), `None` otherwise.
    ///
    /// # Errors
    /// [`Unsettled`]: the results must not be given out; what the commands wrote may or may
    /// not survive.
    fn settle(&self, epoch: u64, own_append: Option<u64>) -> Result<(), Unsettled>;

    /// Whether this node runs data commands itself now. While it does not, its store
    /// follows someone else's (a host does not evict from it, and wakes its blocked clients
    /// so they go where the data is served).
    fn serving(&self) -> bool;

    /// The node that runs data commands now, as far as this one knows (`None`: none known).
    /// A host that forwarded a command to it stops waiting for the answer once this names
    /// another node.
    fn leader_node(&self) -> Option<u64>;

    /// Runs `f` on `kv` as a host runs one command: routes, runs `f` under the permit, and
    /// settles before returning its result. `kv` must be the store this coordinator
    /// replicates.
    ///
    /// # Errors
    /// [`Refused::Elsewhere`] or [`Refused::Unavailable`] when the route was not local (`f`
    /// did not run); [`Refused::Unsettled`] when `f` ran but its result cannot be vouched
    /// for.
    fn run<R>(&self, kv: &Kv, f: impl FnOnce(&Kv) -> R) -> Result<R, Refused>
    where
        Self: Sized,
    {
        let permit = match self.route() {
            Route::Local(permit) => permit,
            Route::Forward(to) => return Err(Refused::Elsewhere(to)),
            Route::Unavailable => return Err(Refused::Unavailable),
        };
        kv.take_own_append();
        let out = f(kv);
        // Where the stream ended after `f`'s reads, if its last operation wrote.
        let own = kv.take_own_append();
        let epoch = permit.epoch();
        drop(permit);
        self.settle(epoch, own).map_err(Refused::Unsettled)?;
        Ok(out)
    }
}

/// Where a command goes (see [`Coordinator::route`]).
#[derive(Debug)]
pub enum Route<'a> {
    /// Run it here, holding the permit while it runs.
    Local(Permit<'a>),
    /// Another node runs data commands: send it there.
    Forward(Forward),
    /// No node runs data commands now: nothing ran, retry later.
    Unavailable,
}

/// The node a command is forwarded to, and where its clients connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    node: u64,
    addr: String,
    tls_addr: Option<String>,
}

impl Forward {
    /// Node `node`, whose clients connect to `addr`, and with TLS to `tls_addr` if it
    /// takes TLS clients.
    pub fn new(node: u64, addr: String, tls_addr: Option<String>) -> Forward {
        Forward {
            node,
            addr,
            tls_addr,
        }
    }

    /// The node's ID.
    pub fn node(&self) -> u64 {
        self.node
    }

    /// Its clients' address (`host:port`).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Its TLS clients' address, if it has one.
    pub fn tls_addr(&self) -> Option<&str> {
        self.tls_addr.as_deref()
    }
}

/// The right to run one command locally, in an epoch; dropped when the command has run.
///
/// It holds one count of a coordinator's counter of commands in flight, so that a
/// coordinator that stops serving can wait for the commands still running.
#[derive(Debug)]
pub struct Permit<'a> {
    running: &'a AtomicUsize,
    epoch: u64,
}

impl<'a> Permit<'a> {
    /// Counts one more command in `running` and permits it in `epoch`.
    pub fn enter(running: &'a AtomicUsize, epoch: u64) -> Permit<'a> {
        running.fetch_add(1, Ordering::SeqCst);
        Permit::counted(running, epoch)
    }

    /// Permits a command the caller already counted in `running` (a coordinator that must
    /// count before it checks whether it serves, so that it either refuses the command or
    /// waits for it); the count is given back when the permit drops.
    pub fn counted(running: &'a AtomicUsize, epoch: u64) -> Permit<'a> {
        Permit { running, epoch }
    }

    /// The epoch to [`settle`](Coordinator::settle) the command's result in.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why results cannot be given out (see [`Coordinator::settle`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsettled {
    /// This node stopped running data commands: what they did may or may not survive.
    LostLeadership,
    /// No confirmation came within the coordinator's time limit.
    TimedOut,
}

/// Why [`Coordinator::run`] gave no result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Another node runs data commands (nothing ran).
    Elsewhere(Forward),
    /// No node runs data commands now (nothing ran).
    Unavailable,
    /// The operation ran, but its result cannot be vouched for.
    Unsettled(Unsettled),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Elsewhere(to) => write!(f, "node {} runs data commands", to.node),
            Refused::Unavailable => f.write_str("no node runs data commands now"),
            Refused::Unsettled(Unsettled::LostLeadership) => {
                f.write_str("this node stopped leading after the operation ran")
            }
            Refused::Unsettled(Unsettled::TimedOut) => {
                f.write_str("the operation ran but was not confirmed in time")
            }
        }
    }
}

impl std::error::Error for Refused {}
