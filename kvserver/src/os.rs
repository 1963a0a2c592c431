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
