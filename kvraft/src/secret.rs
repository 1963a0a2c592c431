//! A shared secret on the Raft port (kvserver's `raft-secret`): a [`LinkSecurity`] hook under
//! which a link carries frames only once both of its ends have proved that they know the
//! group's secret, without either of them sending it.
//!
//! The handshake, before the first frame (the byte layout is in docs/format.md, *Between
//! nodes*):
//!
//! 1. the acceptor sends `KVRAUTH1` and a nonce `a`, 32 fresh bytes from the OS;
//! 2. the connector sends a nonce `c` of its own and its proof,
//!    `HMAC-SHA256(secret, TAG || "C" || a || c)`;
//! 3. the acceptor checks that proof (in constant time) and closes the link, having sent
//!    nothing more, if it is wrong; else it sends its own proof, the same MAC with `"A"`;
//! 4. the connector checks that one before it writes another byte (its hello, its log).
//!
//! A proof covers a nonce the checking side has just drawn, so a proof recorded in one
//! handshake is worth nothing in another (replay); the role byte tells the two directions
//! apart, so a proof cannot be reflected back to the side that would have made it; and the
//! acceptor proves nothing to a connector that has not proved itself first. What a stranger
//! can make the acceptor do is bounded: 40 bytes sent, 64 read into a fixed buffer, all
//! within the transport's handshake deadline from the moment the link was accepted (however
//! slowly the bytes trickle in), and the transport's limit on accepted links still applies.
//!
//! What it does not do: it authenticates who opens a link, not the bytes after the handshake,
//! which travel as they are (readable, and changeable by someone on the path between two
//! nodes who can take over the connection). TLS protects those (`tls-cluster yes`), and
//! [`SecretLinks::over`] runs the handshake inside another hook's stream (TLS first, then the
//! secret). Whoever records a handshake can test guesses of the secret against it offline, so
//! the secret must be long and random (32 random bytes, say), not a word.

use std::fs::File;
use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::transport::{HANDSHAKE_DEADLINE, LinkSecurity, LinkStream};

/// What the acceptor's challenge starts with: this handshake, version 1.
const MAGIC: &[u8; 8] = b"KVRAUTH1";
/// The length of a nonce, and of a proof (an HMAC-SHA256).
const NONCE: usize = 32;
const PROOF: usize = 32;
/// What every proof's MAC starts with, so that it means nothing to any other protocol that
/// might share the secret.
const TAG: &[u8] = b"kvraft link secret v1";
/// The role byte of the connector's proof and of the acceptor's.
const CONNECTOR: u8 = b'C';
const ACCEPTOR: u8 = b'A';

/// Secures the links between nodes with a shared secret (see the module's docs); give it to
/// [`crate::RaftOptions::security`]. Every node of a group needs the same secret: a node
/// refuses a link from a peer that cannot prove it knows the secret, and sends nothing (no
/// hello, no message, no snapshot) over a link to a peer that cannot.
///
/// ```
/// use std::sync::Arc;
/// use kvraft::{RaftOptions, SecretLinks};
///
/// let peers = vec![(1, "10.0.0.1:7001".to_string()), (2, "10.0.0.2:7001".to_string())];
/// let opts = RaftOptions::new(1, peers, "/var/lib/app/raft")
///     .security(Arc::new(SecretLinks::new("a long random string every node is given")));
/// # drop(opts);
/// ```
#[derive(Clone)]
pub struct SecretLinks {
    /// HMAC-SHA256 keyed with the secret, cloned for each proof (the secret is kept only as
    /// this keyed state).
    mac: Hmac<Sha256>,
    /// The hook whose stream the handshake runs in (TLS), if any.
    inner: Option<Arc<dyn LinkSecurity>>,
}

impl SecretLinks {
    /// Links over plain TCP that open only between nodes that know `secret`.
    pub fn new(secret: impl AsRef<[u8]>) -> SecretLinks {
        SecretLinks {
            // HMAC takes a key of any length (a long one is hashed first).
            mac: Hmac::new_from_slice(secret.as_ref()).expect("HMAC takes a key of any length"),
            inner: None,
        }
    }

    /// The same handshake inside the stream `inner` secures (TLS): `inner` runs first on each
    /// link, and a link it refuses is refused.
    pub fn over(secret: impl AsRef<[u8]>, inner: Arc<dyn LinkSecurity>) -> SecretLinks {
        SecretLinks {
            inner: Some(inner),
            ..SecretLinks::new(secret)
        }
    }

    /// The MAC of a proof by `role` over the acceptor's nonce `a` and the connector's `c`.
    fn proof(&self, role: u8, a: &[u8; NONCE], c: &[u8; NONCE]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(TAG);
        mac.update(&[role]);
        mac.update(a);
        mac.update(c);
        mac
    }

    /// The acceptor's side of the handshake on `link` (over the socket `tcp`), by `deadline`.
    fn challenge(
        &self,
        link: &mut dyn LinkStream,
        tcp: &TcpStream,
        deadline: Instant,
    ) -> io::Result<()> {
        let a = nonce()?;
        let mut challenge = [0u8; MAGIC.len() + NONCE];
        challenge[..MAGIC.len()].copy_from_slice(MAGIC);
        challenge[MAGIC.len()..].copy_from_slice(&a);
        link.write_all(&challenge)?;
        link.flush()?;
        let mut answer = [0u8; NONCE + PROOF];
        read_within(link, tcp, &mut answer, deadline)
            .map_err(|e| io::Error::new(e.kind(), format!("no raft-secret proof: {e}")))?;
        let (c, proof) = answer.split_at(NONCE);
        let c: &[u8; NONCE] = c.try_into().expect("the answer starts with a nonce");
        if self.proof(CONNECTOR, &a, c).verify_slice(proof).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "a wrong raft-secret proof (another secret, a replayed or a forged handshake)",
            ));
        }
        let mine = self.proof(ACCEPTOR, &a, c).finalize().into_bytes();
        link.write_all(&mine)?;
        link.flush()
    }

    /// The connector's side of the handshake on `link` (over the socket `tcp`), by
    /// `deadline`. Nothing is written after the proof unless the peer's proof checks.
    fn answer(
        &self,
        link: &mut dyn LinkStream,
        tcp: &TcpStream,
        deadline: Instant,
    ) -> io::Result<()> {
        let mut challenge = [0u8; MAGIC.len() + NONCE];
        read_within(link, tcp, &mut challenge, deadline).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("no raft-secret challenge (is raft-secret set there?): {e}"),
            )
        })?;
        let (magic, a) = challenge.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(io::Error::other(
                "the peer did not send a raft-secret challenge",
            ));
        }
        let a: &[u8; NONCE] = a.try_into().expect("the challenge ends with a nonce");
        let c = nonce()?;
        let mut answer = [0u8; NONCE + PROOF];
        answer[..NONCE].copy_from_slice(&c);
        answer[NONCE..].copy_from_slice(&self.proof(CONNECTOR, a, &c).finalize().into_bytes());
        link.write_all(&answer)?;
        link.flush()?;
        let mut theirs = [0u8; PROOF];
        read_within(link, tcp, &mut theirs, deadline).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("the peer refused this node's raft-secret proof (another secret?): {e}"),
            )
        })?;
        self.proof(ACCEPTOR, a, &c)
            .verify_slice(&theirs)
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "the peer's raft-secret proof is wrong (another secret, or not a node)",
                )
            })
    }
}

impl LinkSecurity for SecretLinks {
    fn accept(&self, tcp: TcpStream) -> io::Result<Box<dyn LinkStream>> {
        let deadline = Instant::now() + HANDSHAKE_DEADLINE;
        let socket = tcp.try_clone()?;
        let mut link = match &self.inner {
            Some(inner) => inner.accept(tcp)?,
            None => Box::new(tcp),
        };
        self.challenge(&mut *link, &socket, deadline)?;
        Ok(link)
    }

    fn connect(&self, tcp: TcpStream, addr: &str) -> io::Result<Box<dyn LinkStream>> {
        let deadline = Instant::now() + HANDSHAKE_DEADLINE;
        let socket = tcp.try_clone()?;
        let mut link = match &self.inner {
            Some(inner) => inner.connect(tcp, addr)?,
            None => Box::new(tcp),
        };
        self.answer(&mut *link, &socket, deadline)?;
        Ok(link)
    }

    /// Without another hook the handshake is all: the link is the socket afterwards.
    fn plain_after_handshake(&self) -> bool {
        self.inner.is_none()
    }
}

impl std::fmt::Debug for SecretLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keyed state.
        f.debug_struct("SecretLinks")
            .field("over_another_hook", &self.inner.is_some())
            .finish_non_exhaustive()
    }
}

/// 32 bytes from the operating system's random source.
fn nonce() -> io::Result<[u8; NONCE]> {
    let mut n = [0u8; NONCE];
    File::open("/dev/urandom")?.read_exact(&mut n)?;
    Ok(n)
}

/// Fills `buf` from `link` by `deadline` however the bytes arrive: the socket's read timeout
/// is what is left before the deadline at each read, so a peer that trickles a byte at a time
/// cannot stretch the handshake past it.
fn read_within(
    link: &mut dyn LinkStream,
    tcp: &TcpStream,
    buf: &mut [u8],
    deadline: Instant,
) -> io::Result<()> {
    let late = || io::Error::new(io::ErrorKind::TimedOut, "the handshake deadline passed");
    let mut filled = 0;
    while filled < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(late());
        }
        tcp.set_read_timeout(Some(left))?;
        match link.read(&mut buf[filled..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A read timed out (unix says WouldBlock): it had until the deadline.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(late());
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{Shutdown, TcpListener};
    use std::thread;
    use std::time::Duration;

    use super::*;

    const SECRET: &str = "the group's secret";

    /// Both ends of a loopback connection: (the connector's, the acceptor's).
    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (a, _) = l.accept().unwrap();
        for s in [&c, &a] {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        (c, a)
    }

    /// Runs `acceptor.accept` on its end of a new pair, on a thread; returns the connector's
    /// end and the thread.
    fn accepting(
        acceptor: SecretLinks,
    ) -> (
        TcpStream,
        thread::JoinHandle<io::Result<Box<dyn LinkStream>>>,
    ) {
        let (c, a) = pair();
        (c, thread::spawn(move || acceptor.accept(a)))
    }

    fn connect(secret: &str, tcp: TcpStream) -> io::Result<Box<dyn LinkStream>> {
        SecretLinks::new(secret).connect(tcp, "127.0.0.1:1")
    }

    #[test]
    fn the_same_secret_opens_a_link_that_carries_bytes_both_ways() {
        let (c, acceptor) = accepting(SecretLinks::new(SECRET));
        let mut link = connect(SECRET, c).expect("the connector accepts the acceptor's proof");
        let mut other = acceptor
            .join()
            .unwrap()
            .expect("the acceptor accepts the connector's proof");
        link.write_all(b"hello").unwrap();
        link.flush().unwrap();
        let mut got = [0u8; 5];
        other.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
        other.write_all(b"back").unwrap();
        other.flush().unwrap();
        let mut got = [0u8; 4];
        link.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"back");
    }

    #[test]
    fn another_secret_is_refused_on_both_sides() {
        let (c, acceptor) = accepting(SecretLinks::new(SECRET));
        let refused = connect("another secret", c).map(|_| ()).unwrap_err();
        assert!(refused.to_string().contains("refused"), "{refused}");
        let e = acceptor.join().unwrap().map(|_| ()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    }

    /// A node that talks to an impostor on its peer's address (someone who answers the
    /// handshake without the secret) sends it nothing past its own proof: not its hello, not
    /// its log.
    #[test]
    fn a_connector_sends_nothing_to_an_acceptor_without_the_secret() {
        for impostor_secret in ["another secret", ""] {
            let (c, mut impostor) = pair();
            let connector = thread::spawn(move || {
                // What the transport does with a secured link: its hello first.
                connect(SECRET, c).and_then(|mut link| {
                    link.write_all(b"a hello and the log")?;
                    link.flush()
                })
            });
            let a = [7u8; NONCE];
            impostor.write_all(MAGIC).unwrap();
            impostor.write_all(&a).unwrap();
            let mut answer = [0u8; NONCE + PROOF];
            impostor.read_exact(&mut answer).unwrap();
            let c: [u8; NONCE] = answer[..NONCE].try_into().unwrap();
            let forged = SecretLinks::new(impostor_secret)
                .proof(ACCEPTOR, &a, &c)
                .finalize()
                .into_bytes();
            impostor.write_all(&forged).unwrap();
            let refused = connector.join().unwrap().unwrap_err();
            assert_eq!(refused.kind(), io::ErrorKind::PermissionDenied, "{refused}");
            let mut rest = Vec::new();
            let _ = impostor.read_to_end(&mut rest);
            assert!(rest.is_empty(), "the impostor got {rest:?}");
        }
    }

    /// An answer recorded from a handshake that succeeded (a valid proof over that
    /// handshake's nonce) is refused in the next one, which has a new nonce.
    #[test]
    fn a_replayed_answer_is_refused() {
        let (mut c, acceptor) = accepting(SecretLinks::new(SECRET));
        let mut challenge = [0u8; MAGIC.len() + NONCE];
        c.read_exact(&mut challenge).unwrap();
        let a: [u8; NONCE] = challenge[MAGIC.len()..].try_into().unwrap();
        let mine = [9u8; NONCE];
        let proof = SecretLinks::new(SECRET)
            .proof(CONNECTOR, &a, &mine)
            .finalize()
            .into_bytes();
        let recorded: Vec<u8> = mine.iter().chain(proof.iter()).copied().collect();
        c.write_all(&recorded).unwrap();
        let mut theirs = [0u8; PROOF];
        c.read_exact(&mut theirs).unwrap();
        assert!(
            acceptor.join().unwrap().is_ok(),
            "the original answer opens"
        );

        let (mut c, acceptor) = accepting(SecretLinks::new(SECRET));
        let mut challenge2 = [0u8; MAGIC.len() + NONCE];
        c.read_exact(&mut challenge2).unwrap();
        assert_ne!(challenge, challenge2, "a fresh nonce");
        c.write_all(&recorded).unwrap();
        let e = acceptor.join().unwrap().map(|_| ()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest);
        assert!(
            rest.is_empty(),
            "the acceptor proved itself to a replay: {rest:?}"
        );
    }

    /// Bytes that arrive one at a time, each well within a read timeout, are still cut at
    /// the deadline.
    #[test]
    fn a_trickling_peer_is_cut_at_the_deadline() {
        let (mut c, a) = pair();
        let trickle = thread::spawn(move || {
            for _ in 0..64 {
                if c.write_all(&[0]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = c.shutdown(Shutdown::Both);
        });
        let mut link: Box<dyn LinkStream> = Box::new(a.try_clone().unwrap());
        let mut buf = [0u8; NONCE + PROOF];
        let deadline = Instant::now() + Duration::from_millis(200);
        let e = read_within(&mut *link, &a, &mut buf, deadline).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        drop(link);
        let _ = a.shutdown(Shutdown::Both);
        trickle.join().unwrap();
    }

    /// The proof's bytes as docs/format.md gives them (HMAC-SHA256 with the key `kv`, over
    /// the tag, `C`, 32 bytes of 01 and 32 of 02).
    #[test]
    fn a_proof_is_hmac_sha256_over_the_tag_the_role_and_both_nonces() {
        let proof = SecretLinks::new("kv")
            .proof(CONNECTOR, &[1; NONCE], &[2; NONCE])
            .finalize()
            .into_bytes();
        let hex: String = proof.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, EXAMPLE_PROOF);
    }

    /// Computed independently (Python's `hmac` module), see the test above.
    const EXAMPLE_PROOF: &str = "0fc9655c0abe0d3a4f06bdac374b03dcbbb704d46fafd5af3f4cb19db8845db6";

    #[test]
    fn debug_shows_no_secret() {
        let shown = format!("{:?}", SecretLinks::new(SECRET));
        assert!(!shown.contains(SECRET), "{shown}");
    }
}
