//! Graceful stop: SIGINT, SIGTERM and the `SHUTDOWN` command all write one byte into a pipe that
//! the main thread blocks on (the classic self-pipe), so the stop sequence runs in ordinary code
//! instead of inside a signal handler.
//!
//! The handler only calls `write(2)`, which POSIX lists as async-signal-safe. It is installed with
//! `sigaction` and `SA_RESTART`, so a blocking call interrupted by the signal on another thread is
//! restarted instead of failing with `EINTR` (the semantics are spelled out rather than left to
//! whichever flavour of `signal()` the C library has).

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// The pipe's write end, for the signal handler (which can only reach statics) and `SHUTDOWN`.
static STOP_FD: AtomicI32 = AtomicI32::new(-1);

/// Why the server is stopping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopReason {
    Interrupt,
    Terminate,
    Command,
}

impl StopReason {
    fn byte(self) -> u8 {
        match self {
            StopReason::Interrupt => 1,
            StopReason::Terminate => 2,
            StopReason::Command => 3,
        }
    }

    fn from_byte(b: u8) -> StopReason {
        match b {
            1 => StopReason::Interrupt,
            2 => StopReason::Terminate,
            _ => StopReason::Command,
        }
    }
}

extern "C" fn on_signal(signum: libc::c_int) {
    let reason = if signum == libc::SIGINT {
        StopReason::Interrupt
    } else {
        StopReason::Terminate
    };
    send(reason);
}

fn send(reason: StopReason) {
    let fd = STOP_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = reason.byte();
        // SAFETY: `fd` is the write end of the pipe created in `install`, which is never closed
        // while the process runs; `&b` is valid for one byte. `write` is async-signal-safe. A full
        // pipe (EAGAIN is impossible: the fd is blocking; it would need 64 KiB of stop requests)
        // or any error leaves an earlier stop byte in the pipe, which is enough.
        unsafe {
            libc::write(fd, (&raw const b).cast(), 1);
        }
    }
}

/// Asks the main thread to stop the server (the `SHUTDOWN` command).
pub(crate) fn request_stop() {
    send(StopReason::Command);
}

/// The read end of the stop pipe.
pub(crate) struct StopPipe {
    read: File,
}

impl StopPipe {
    /// Creates the pipe and routes SIGINT and SIGTERM into it.
    ///
    /// # Errors
    /// When the pipe cannot be created (out of file descriptors).
    pub(crate) fn install() -> io::Result<StopPipe> {
        let mut fds = [-1 as libc::c_int; 2];
        // SAFETY: `fds` is a valid, writable array of two ints, as pipe(2) requires.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe(2) succeeded, so fds[0] is an open descriptor that nothing else owns.
        let read = unsafe { File::from_raw_fd(fds[0]) };
        STOP_FD.store(fds[1], Ordering::Relaxed);
        // SAFETY: an all-zero `sigaction` is a valid value of that plain C struct (no handler,
        // empty mask, no flags); every field that matters is set below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: `action.sa_mask` is a valid, writable sigset_t.
        unsafe { libc::sigemptyset(&raw mut action.sa_mask) };
        for signum in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: `action` is fully initialised; its handler has the `void (*)(int)`
            // signature a handler without SA_SIGINFO must have and does only async-signal-safe
            // work; a null old-action pointer is allowed.
            if unsafe { libc::sigaction(signum, &action, std::ptr::null_mut()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(StopPipe { read })
    }

    /// Blocks until a stop is requested and says why.
    pub(crate) fn wait(&mut self) -> StopReason {
        let mut b = [0u8; 1];
        loop {
            match self.read.read(&mut b) {
                Ok(1) => return StopReason::from_byte(b[0]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EOF or an error cannot happen while we hold the write end; stopping is the
                // safe reading of it.
                _ => return StopReason::Terminate,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The action installed for `signum` right now.
    fn current(signum: libc::c_int) -> libc::sigaction {
        // SAFETY: all-zero is a valid `sigaction`; the call fills it in.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null new action only queries; `old` is valid for writes.
        let rc = unsafe { libc::sigaction(signum, std::ptr::null(), &mut old) };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        old
    }

    #[test]
    fn sigterm_and_sigint_reach_the_pipe_with_restarting_handlers() {
        let before = [current(libc::SIGINT), current(libc::SIGTERM)];
        let mut pipe = StopPipe::install().unwrap();
        for signum in [libc::SIGINT, libc::SIGTERM] {
            let now = current(signum);
            assert_eq!(
                now.sa_sigaction,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t
            );
            assert_ne!(now.sa_flags & libc::SA_RESTART, 0, "SA_RESTART");
        }
        for (signum, reason) in [
            (libc::SIGTERM, StopReason::Terminate),
            (libc::SIGINT, StopReason::Interrupt),
        ] {
            // SAFETY: raise(3) with a signal whose handler is ours, which only writes a byte.
            assert_eq!(unsafe { libc::raise(signum) }, 0);
            assert_eq!(pipe.wait(), reason);
        }
        request_stop();
        assert_eq!(pipe.wait(), StopReason::Command);
        // Give the test process its usual handlers back (Ctrl-C must still end it).
        for (signum, old) in [libc::SIGINT, libc::SIGTERM].into_iter().zip(before) {
            // SAFETY: `old` is an action the kernel reported for this very signal.
            assert_eq!(
                unsafe { libc::sigaction(signum, &old, std::ptr::null_mut()) },
                0
            );
        }
    }
}
