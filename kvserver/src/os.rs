//! The few Linux calls std does not offer, through the `libc` crate's prototypes and constants.
//! Elsewhere they fall back to doing nothing.

use std::io;
use std::net::TcpStream;

/// Runs the calling thread under `SCHED_BATCH`: the scheduler treats it as throughput work,
/// so when it is woken (a request arrived) it does not preempt the thread running on that CPU
/// but waits for its turn. With hundreds of connection threads on a few cores this lets each
/// one finish its batch instead of being switched out mid-way, several times fewer context
/// switches under load; an idle CPU still picks a woken thread up at once, so a lone client
/// sees no delay. Threads that others wait on (the replier) keep the normal policy, and so are
/// the ones that preempt. Best effort: an error leaves the thread as it was.
pub(crate) fn batch_scheduling() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SCHED_BATCH takes no priority: it must be 0.
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param for the call.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// One non-blocking `send`. `MSG_DONTWAIT` makes only this call non-blocking: setting
/// `O_NONBLOCK` would also change the connection thread's reads, which share the socket.
/// `MSG_NOSIGNAL`: a closed peer is an error, not SIGPIPE.
#[cfg(target_os = "linux")]
pub(crate) fn send_nowait(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor belongs to `stream`, borrowed (so open) for the call, and `buf`
    // is valid for `buf.len()` bytes.
    let n = unsafe {
        libc::send(
            stream.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    byte_count(n)
}

/// [`send_nowait`] of several buffers at once (`sendmsg`): a TLS session's records in one
/// call.
#[cfg(target_os = "linux")]
pub(crate) fn sendmsg_nowait(stream: &TcpStream, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed msghdr is valid (no name, no control data); `IoSlice` is ABI-compatible
    // with `iovec` on Unix, and `bufs` outlives the call.
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = bufs.as_ptr().cast_mut().cast();
        msg.msg_iovlen = bufs.len().min(1024) as _;
        libc::sendmsg(
            stream.as_raw_fd(),
            &msg,
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    byte_count(n)
}

/// Not offered off Linux (see [`send_nowait`]).
#[cfg(not(target_os = "linux"))]
pub(crate) fn sendmsg_nowait(_stream: &TcpStream, _bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Waits until `stream` can take more output (or failed, so a send will not block), or
/// `timeout` passes (`None`: no timeout): false on a timeout. A signal ends the wait early
/// (true: the caller's send finds out).
pub(crate) fn wait_writable(
    stream: &TcpStream,
    timeout: Option<std::time::Duration>,
) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = timeout.map_or(-1, |t| {
        i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
    });
    // SAFETY: `fd` is one valid pollfd for the call's duration; its descriptor is open
    // (borrowed from `stream`).
    let n = unsafe { libc::poll(&mut fd, 1, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(true)
        } else {
            Err(e)
        };
    }
    Ok(n > 0)
}

/// An `eventfd`: another thread makes it readable to wake a thread waiting in [`wait_socket`]
/// (a pub/sub client's thread, blocked until its client sends a request, when its output queue
/// needs writing). Counting, non-blocking, closed on exec.
#[cfg(target_os = "linux")]
#[derive(Debug)]
pub(crate) struct Waker(std::os::fd::OwnedFd);

#[cfg(target_os = "linux")]
impl Waker {
    pub(crate) fn new() -> io::Result<Waker> {
        use std::os::fd::FromRawFd;
        // SAFETY: eventfd takes no pointers; a non-negative result is a new descriptor that
        // nothing else owns.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nothing else.
        Ok(Waker(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }

    /// Makes the waker readable. Cannot block; a counter already at its maximum stays readable.
    pub(crate) fn wake(&self) {
        use std::os::fd::AsRawFd;
        let one: u64 = 1;
        // SAFETY: the descriptor is open (owned by `self`) and `one` is 8 readable bytes, the
        // size an eventfd write takes.
        let _ = unsafe { libc::write(self.0.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Makes it unreadable again (reads the counter back to 0).
    pub(crate) fn reset(&self) {
        use std::os::fd::AsRawFd;
        let mut n: u64 = 0;
        // SAFETY: the descriptor is open and `n` is 8 writable bytes, the size an eventfd read
        // takes; non-blocking, so an already reset waker returns EAGAIN at once.
        let _ = unsafe { libc::read(self.0.as_raw_fd(), (&raw mut n).cast(), 8) };
    }
}

/// Not offered off Linux: pub/sub, its only user, refuses to subscribe there.
#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
pub(crate) struct Waker;

#[cfg(not(target_os = "linux"))]
impl Waker {
    pub(crate) fn new() -> io::Result<Waker> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    pub(crate) fn wake(&self) {}
    pub(crate) fn reset(&self) {}
}

/// What [`wait_socket`] found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ready {
    /// The socket has input, or reached its end, or failed: a `read` will not block.
    pub(crate) readable: bool,
    /// The socket can take more output (asked for only with `want_write`).
    pub(crate) writable: bool,
    /// The waker fired.
    pub(crate) woken: bool,
}

/// Waits until `stream` is readable (if `want_read`; its end or failure always counts as
/// readable), writable (if `want_write`), `waker` fires, or `timeout` passes (`None`: no
/// timeout), with one `poll`. A signal ends the wait early with nothing ready.
#[cfg(target_os = "linux")]
pub(crate) fn wait_socket(
    stream: &TcpStream,
    want_read: bool,
    want_write: bool,
    waker: &Waker,
    timeout: Option<std::time::Duration>,
) -> io::Result<Ready> {
    use std::os::fd::AsRawFd;
    let mut fds = [
        libc::pollfd {
            fd: stream.as_raw_fd(),
            events: if want_read { libc::POLLIN } else { 0 }
                | if want_write { libc::POLLOUT } else { 0 },
            revents: 0,
        },
        libc::pollfd {
            fd: waker.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ms = timeout.map_or(-1, |t| {
        // Round up, so a wait for a deadline does not wake just before it, and spin.
        i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
    });
    // SAFETY: `fds` is a valid array of 2 pollfd for the call's duration; both descriptors are
    // open (borrowed from `stream` and `waker`).
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(Ready::default())
        } else {
            Err(e)
        };
    }
    let sock = fds[0].revents;
    Ok(Ready {
        readable: sock & (libc::POLLIN | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0,
        writable: sock & libc::POLLOUT != 0,
        woken: fds[1].revents != 0,
    })
}

/// Not offered off Linux (see [`Waker`]).
#[cfg(not(target_os = "linux"))]
pub(crate) fn wait_socket(
    _stream: &TcpStream,
    _want_read: bool,
    _want_write: bool,
    _waker: &Waker,
    _timeout: Option<std::time::Duration>,
) -> io::Result<Ready> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// A `send`/`recv` result: the byte count, or the call's error.
#[cfg(target_os = "linux")]
fn byte_count(n: isize) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Not offered off Linux: the replier, its only user, runs only on Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn send_nowait(_stream: &TcpStream, _buf: &[u8]) -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn batch_scheduling_applies_to_the_calling_thread_only() {
        let policy = || {
            let sched = std::fs::read_to_string("/proc/thread-self/sched").unwrap();
            sched
                .lines()
                .find_map(|l| l.strip_prefix("policy")?.split(':').nth(1))
                .map(|v| v.trim().to_string())
                .unwrap()
        };
        let before = policy();
        let inside = std::thread::spawn(move || {
            batch_scheduling().unwrap();
            policy()
        })
        .join()
        .unwrap();
        assert_eq!(inside, "3", "SCHED_BATCH");
        assert_eq!(policy(), before, "other threads keep theirs");
    }

    #[test]
    fn wait_socket_reports_input_output_and_wakes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let waker = Waker::new().unwrap();
        let short = Some(std::time::Duration::from_millis(1));
        // Nothing to read, no output wanted: the wait times out with nothing ready.
        assert_eq!(
            wait_socket(&server, true, false, &waker, short).unwrap(),
            Ready::default()
        );
        // An empty socket can take output.
        let r = wait_socket(&server, true, true, &waker, None).unwrap();
        assert!(r.writable && !r.readable && !r.woken, "{r:?}");
        // Another thread's wake ends a wait that would otherwise last forever.
        let waker = std::sync::Arc::new(waker);
        let w2 = std::sync::Arc::clone(&waker);
        let t = std::thread::spawn(move || w2.wake());
        let r = wait_socket(&server, true, false, &waker, None).unwrap();
        assert!(r.woken && !r.readable, "{r:?}");
        t.join().unwrap();
        waker.reset();
        assert!(
            !wait_socket(&server, true, false, &waker, short)
                .unwrap()
                .woken,
            "reset"
        );
        // Input, then the peer's end, make it readable.
        std::io::Write::write_all(&mut client, b"PING\r\n").unwrap();
        assert!(
            wait_socket(&server, true, false, &waker, None)
                .unwrap()
                .readable
        );
        drop(client);
        assert!(
            wait_socket(&server, true, false, &waker, None)
                .unwrap()
                .readable
        );
    }

    #[test]
    fn recv_nowait_reports_an_empty_socket_instead_of_blocking() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut buf = [0u8; 16];
        let err = recv_nowait(&server, &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        std::io::Write::write_all(&mut client, b"PING\r\n").unwrap();
        // Loopback delivers at once, but do not rely on the instant: retry until it is there.
        let n = loop {
            match recv_nowait(&server, &mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buf[..n], b"PING\r\n");
        drop(client);
        let eof = loop {
            match recv_nowait(&server, &mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(eof, 0, "end of stream once the peer closed");
    }

    #[test]
    fn send_nowait_reports_a_full_socket_instead_of_blocking() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _server = listener.accept().unwrap();
        let chunk = vec![0u8; 1 << 20];
        let mut sent = 0usize;
        // Nobody reads: the socket buffers fill and the send says so rather than waiting.
        let err = loop {
            match send_nowait(&client, &chunk) {
                Ok(n) => sent += n,
                Err(e) => break e,
            }
            assert!(sent < 1 << 30, "a gigabyte went into an unread socket");
        };
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(sent > 0);
    }
}

/// One non-blocking `recv` (`MSG_DONTWAIT`, for the same reason as [`send_nowait`]).
#[cfg(target_os = "linux")]
pub(crate) fn recv_nowait(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor belongs to `stream`, borrowed (so open) for the call, and `buf`
    // is valid for writes of `buf.len()` bytes.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    byte_count(n)
}

/// Not offered off Linux: callers fall back to a blocking read.
#[cfg(not(target_os = "linux"))]
pub(crate) fn recv_nowait(_stream: &TcpStream, _buf: &mut [u8]) -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}
