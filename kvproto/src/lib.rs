//! kvproto: a sans-IO codec for the Redis protocol (RESP2, RESP3 and inline commands).
//!
//! Bytes in, frames out; frames in, bytes out. The server reads from its socket into a buffer,
//! asks [`decode_request`] for every complete request at the front of that buffer, keeps the
//! partial one for later, and writes replies with a [`Writer`] into its output buffer.
//!
//! ```
//! use kvproto::{decode_request, Limits, Status, Version, Writer};
//!
//! // Two pipelined requests and the first bytes of a third.
//! let buf = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*3\r\n$3\r\nSET";
//! let limits = Limits::default();
//! let mut pos = 0;
//! let mut out = Vec::new();
//! while let Status::Complete((req, used)) = decode_request(&buf[pos..], &limits)? {
//!     pos += used;
//!     let mut w = Writer::new(&mut out, Version::Resp2);
//!     match req.arg(0) {
//!         b"GET" => w.null(),
//!         b"PING" => w.simple(b"PONG"),
//!         _ => w.error(b"ERR unknown command"),
//!     }
//! }
//! // The partial SET stays in the buffer until more bytes arrive.
//! assert_eq!(&buf[pos..], b"*3\r\n$3\r\nSET");
//! assert_eq!(out, b"$-1\r\n+PONG\r\n");
//! # Ok::<(), kvproto::ProtocolError>(())
//! ```
//!
//! [`RequestDecoder`] does the same, but remembers its progress through a partial request so a
//! huge one arriving over many reads is scanned once. Clients and tests decode replies with
//! [`decode_frame`] and build them with [`encode`].
//!
//! # Invariants
//! - **Sans-IO.** The crate uses no `std::net`, no `Read`/`Write`, no clock and no threads. Every
//!   function is a pure transformation of the bytes it is given; the host owns sockets, buffers
//!   and time.
//! - **Needing more bytes is not an error.** Decoders return [`Status::Incomplete`], so a `?`
//!   never turns a half-arrived frame into a dropped connection, and report how many bytes a
//!   complete value consumed, because the caller owns the buffer. A frame split at any byte
//!   boundary decodes the same once all of it has arrived; a prefix of valid input is never an
//!   error.
//! - **Input is never trusted.** Every length (bulk, array, header and inline line, nesting depth)
//!   is checked against [`Limits`] before anything is allocated, and space reserved up front is
//!   bounded by the bytes actually present. Bad input yields a [`ProtocolError`] naming the
//!   problem in Redis's words; it never panics.
//! - **Encoding cannot fail.** [`encode`] and [`Writer`] append to the caller's `Vec<u8>`.
//! - **Zero copy for requests.** A [`Request`]'s arguments are slices of the input, except quoted
//!   inline arguments, which are unescaped copies.

#![warn(missing_docs)]

mod decode;
mod decoder;
mod error;
mod frame;
mod inline;
mod limits;
mod number;
mod request;
mod status;
mod writer;

pub use decode::decode_frame;
pub use decoder::RequestDecoder;
pub use error::ProtocolError;
pub use frame::{Frame, Version};
pub use inline::split_args;
pub use limits::Limits;
pub use request::{Request, decode_request};
pub use status::Status;
pub use writer::{Writer, encode};
