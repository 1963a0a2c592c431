//! A client's connection as every thread that touches it sees it: its TCP socket, and for a
//! TLS client the session (`tls::Link`) that every byte in either direction passes through.
//!
//! The connection's own thread reads and writes through it; the replier and publishers send
//! through it without blocking ([`Wire::send_nowait`]); CLIENT KILL and shutdown end it
//! ([`Wire::tcp`]'s `shutdown`). A plaintext client costs one predictable branch per call over
//! the bare socket; the TLS half (`tls::Link`'s entry points are `#[inline(never)]`) stays out
//! of the connection loop's frame, which every connection thread's stack pays for
//! (ARCHITECTURE.md, "What an idle connection costs").

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::tls::Link;

/// One client's byte stream (see the module docs).
#[derive(Debug)]
pub(crate) struct Wire {
    tcp: TcpStream,
    tls: Option<Box<Link>>,
}

impl Wire {
    /// A plaintext client's socket.
    pub(crate) fn plain(tcp: TcpStream) -> Wire {
        Wire { tcp, tls: None }
    }

    /// A TLS client's socket and its session (handshake done).
    pub(crate) fn tls(tcp: TcpStream, link: Box<Link>) -> Wire {
        Wire {
            tcp,
            tls: Some(link),
        }
    }

    /// The socket itself: for shutdown, timeouts, `poll` and the send queue's size. Never
    /// read or written directly (a TLS client's bytes must pass through its session).
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Reads what the client sent, blocking until something arrives (the socket's read
    /// timeout applies). 0: the client closed.
    ///
    /// # Errors
    /// The socket's, a timeout (`WouldBlock`/`TimedOut`), or a TLS protocol error.
    #[inline]
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.tls {
            None => (&self.tcp).read(buf),
            Some(link) => link.read(&self.tcp, buf, true),
        }
    }

    /// Reads what the client sent without blocking: `WouldBlock` if nothing is there (for a
    /// TLS client: no complete record). Only the connection's own thread reads.
    ///
    /// # Errors
    /// As [`Wire::read`]; `Unsupported` off Linux.
    #[inline]
    pub(crate) fn read_nowait(&self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.tls {
            None => crate::os::recv_nowait(&self.tcp, buf),
            Some(link) => link.read(&self.tcp, buf, false),
        }
    }

    /// Whether a read would return at once without the socket having input: a TLS session
    /// holds decrypted bytes (or undecrypted ones already read, or the end).
    pub(crate) fn has_input(&self) -> bool {
        match &self.tls {
            None => false,
            Some(link) => link.has_input(),
        }
    }

    /// Writes all of `buf`, blocking as long as it takes (the socket's send timeout applies
    /// to each wait); for a TLS client, also what earlier sends left encrypted but unsent.
    ///
    /// # Errors
    /// The socket's, or a timeout (`WouldBlock`/`TimedOut`).
    #[inline]
    pub(crate) fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        match &self.tls {
            None => (&self.tcp).write_all(buf),
            Some(link) => link.write_all(&self.tcp, buf),
        }
    }

    /// Writes some of `buf` (not empty), blocking until the socket takes something; the
    /// socket's send timeout ends a wait with `WouldBlock`/`TimedOut`. For a TLS client the
    /// count is of plaintext taken, whose encrypted form may still be waiting: see
    /// [`Wire::unsent`] and [`Wire::flush_wait`].
    ///
    /// # Errors
    /// The socket's, or a timeout.
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match &self.tls {
            None => (&self.tcp).write(buf),
            Some(link) => link.write(&self.tcp, buf),
        }
    }

    /// One non-blocking send, from any thread: how much of `buf` was taken, `WouldBlock` if
    /// nothing could be (the socket is full). For a TLS client, what it took may still be
    /// waiting encrypted ([`Wire::unsent`]); an empty `buf` only sends that.
    ///
    /// # Errors
    /// The socket's; `Unsupported` off Linux.
    #[inline]
    pub(crate) fn send_nowait(&self, buf: &[u8]) -> io::Result<usize> {
        match &self.tls {
            None => crate::os::send_nowait(&self.tcp, buf),
            Some(link) => link.send_nowait(&self.tcp, buf),
        }
    }

    /// Sends what a TLS session holds encrypted, without blocking; whether some is still left
    /// (always false for a plaintext client, which holds nothing).
    ///
    /// # Errors
    /// The socket's.
    #[inline]
    pub(crate) fn flush_nowait(&self) -> io::Result<bool> {
        match &self.tls {
            None => Ok(false),
            Some(link) => link.flush_nowait(&self.tcp),
        }
    }

    /// Whether a TLS session holds encrypted bytes the socket has not taken yet.
    #[inline]
    pub(crate) fn unsent(&self) -> bool {
        match &self.tls {
            None => false,
            Some(link) => link.unsent() > 0,
        }
    }

    /// Encrypted bytes a TLS session holds for the socket (0 for a plaintext client).
    pub(crate) fn unsent_bytes(&self) -> usize {
        self.tls.as_ref().map_or(0, |link| link.unsent())
    }

    /// Sends what a TLS session holds encrypted, waiting for room at most `timeout` between
    /// sends (`None`: no limit).
    ///
    /// # Errors
    /// The socket's; `WouldBlock` if a wait timed out with bytes still unsent.
    pub(crate) fn flush_wait(&self, timeout: Option<Duration>) -> io::Result<()> {
        match &self.tls {
            None => Ok(()),
            Some(link) => link.flush_wait(&self.tcp, timeout),
        }
    }

    /// Whether the peer has closed the connection (or it failed), without losing input: for
    /// blocked clients, whose thread is not reading. Only the connection's own thread calls
    /// it.
    pub(crate) fn peer_closed(&self) -> bool {
        if let Some(link) = &self.tls {
            return link.peer_closed(&self.tcp);
        }
        if self.tcp.set_nonblocking(true).is_err() {
            return true;
        }
        let mut b = [0u8; 1];
        let closed = match self.tcp.peek(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        };
        let _ = self.tcp.set_nonblocking(false);
        closed
    }

    /// The connection's end, by its own thread: a TLS session says goodbye (`close_notify`)
    /// if the socket takes it at once.
    pub(crate) fn finish(&self) {
        if let Some(link) = &self.tls {
            link.close(&self.tcp);
        }
    }
}
