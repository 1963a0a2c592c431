//! Graceful stop: SIGINT, SIGTERM and the `SHUTDOWN` command all write one byte into a pipe that
//! the main thread blocks on (the classic self-pipe), so the stop sequence runs in ordinary code
//! instead of inside a signal handler.
//!
//! This is a few lines of `extern "C"` against libc rather than a new dependency: the handler only
//! calls `write(2)`, which POSIX lists as async-signal-safe.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

unsafe extern "C" {
    fn pipe(fds: *mut i32) -> i32;
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    fn signal(signum: i32, handler: usize) -> usize;
}

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

extern "C" fn on_signal(signum: i32) {
    let reason = if signum == SIGINT {
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
            write(fd, &b, 1);
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
        let mut fds = [-1i32; 2];
        // SAFETY: `fds` is a valid, writable array of two ints, as pipe(2) requires.
        if unsafe { pipe(fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe(2) succeeded, so fds[0] is an open descriptor that nothing else owns.
        let read = unsafe { File::from_raw_fd(fds[0]) };
        STOP_FD.store(fds[1], Ordering::Relaxed);
        let handler = on_signal as extern "C" fn(i32) as usize;
        // SAFETY: `on_signal` has the `void (*)(int)` signature signal(2) expects and only does
        // async-signal-safe work. glibc's signal() installs it with BSD semantics (SA_RESTART),
        // so blocking calls elsewhere are restarted rather than failing with EINTR.
        unsafe {
            signal(SIGINT, handler);
            signal(SIGTERM, handler);
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
