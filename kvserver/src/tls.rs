//! TLS on `tls-port`, through rustls (its `ring` provider).
//!
//! A TLS connection is served by the same connection code as a plaintext one, on its own
//! thread: after the handshake its session ([`Link`]) sits in the connection's
//! [`crate::wire::Wire`], through which the connection's thread reads and writes, and the
//! replier and publishers send without blocking. Every way a reply can reach a client goes
//! through that one session, under its lock, in order; nobody blocks holding the lock.
//!
//! Certificates and settings are read into a [`rustls::ServerConfig`] at start-up and again on
//! CONFIG SET of a `tls-*` parameter; a new connection takes the configuration current when it
//! is accepted, open ones keep theirs (as Redis does).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

/// How long a client has to complete its handshake before it is disconnected (a client that
/// opens a connection and then sends nothing must not hold a thread for ever).
pub(crate) const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// The most encrypted input read from the socket at a time.
const CHUNK: usize = 16 * 1024;

/// The `tls-*` parameters that make up the TLS configuration (CONFIG SET of one rebuilds it).
pub(crate) const PARAMS: &[&str] = &[
    "tls-cert-file",
    "tls-key-file",
    "tls-key-file-pass",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-auth-clients",
    "tls-protocols",
    "tls-ciphersuites",
    "tls-ciphers",
    "tls-prefer-server-ciphers",
    "tls-session-caching",
    "tls-session-cache-size",
];

/// The values of the `tls-*` parameters, as the parameter table holds them.
#[derive(Debug, Default, Clone)]
pub(crate) struct Settings {
    pub(crate) cert_file: String,
    pub(crate) key_file: String,
    /// The key files' passphrase: kv cannot decrypt keys (see [`load_key`]).
    pub(crate) key_file_pass: String,
    pub(crate) ca_cert_file: String,
    /// A directory of CA certificates (every file in it that holds PEM certificates).
    pub(crate) ca_cert_dir: String,
    /// `yes`, `no` or `optional`.
    pub(crate) auth_clients: String,
    /// Space-separated: `TLSv1.2`, `TLSv1.3` (empty: both, Redis's default).
    pub(crate) protocols: String,
    /// TLS 1.3 suites by their OpenSSL names, colon-separated (empty: rustls's).
    pub(crate) ciphersuites: String,
    /// TLS 1.2 suites, an OpenSSL cipher list (empty: rustls's; see [`tls12_suites`]).
    pub(crate) ciphers: String,
    /// `yes`: the server's order of suites wins over the client's.
    pub(crate) prefer_server_ciphers: bool,
    /// `no`: no session resumption.
    pub(crate) session_caching: bool,
    /// Sessions kept for resumption.
    pub(crate) session_cache_size: usize,
    /// The certificate and key kv presents when it is the client (replication links; empty:
    /// `tls-cert-file` and `tls-key-file`, as Redis).
    pub(crate) client_cert_file: String,
    pub(crate) client_key_file: String,
    pub(crate) client_key_file_pass: String,
    /// Whether replication links use TLS.
    #[allow(dead_code)] // for the replication links, which are not built yet
    pub(crate) replication: bool,
}

impl Settings {
    /// The settings from the parameter table's values (`value(name)`).
    pub(crate) fn from_params(value: impl Fn(&str) -> String) -> Settings {
        Settings {
            cert_file: value("tls-cert-file"),
            key_file: value("tls-key-file"),
            key_file_pass: value("tls-key-file-pass"),
            ca_cert_file: value("tls-ca-cert-file"),
            ca_cert_dir: value("tls-ca-cert-dir"),
            auth_clients: value("tls-auth-clients"),
            protocols: value("tls-protocols"),
            ciphersuites: value("tls-ciphersuites"),
            ciphers: value("tls-ciphers"),
            prefer_server_ciphers: value("tls-prefer-server-ciphers") == "yes",
            session_caching: value("tls-session-caching") != "no",
            session_cache_size: value("tls-session-cache-size").parse().unwrap_or(20480),
            client_cert_file: value("tls-client-cert-file"),
            client_key_file: value("tls-client-key-file"),
            client_key_file_pass: value("tls-client-key-file-pass"),
            replication: value("tls-replication") == "yes",
        }
    }

    /// The crypto provider with the suites `tls-ciphersuites` (TLS 1.3) and `tls-ciphers`
    /// (TLS 1.2) name.
    fn provider(&self) -> Result<Arc<rustls::crypto::CryptoProvider>, String> {
        let mut provider = rustls::crypto::ring::default_provider();
        if !self.ciphersuites.is_empty() {
            let wanted: Vec<String> = self
                .ciphersuites
                .split(':')
                .filter(|s| !s.is_empty())
                .map(|s| s.to_ascii_uppercase())
                .collect();
            for name in &wanted {
                if !provider
                    .cipher_suites
                    .iter()
                    .any(|s| openssl_name(s).as_deref() == Some(name.as_str()))
                {
                    return Err(format!(
                        "unknown or unsupported TLS 1.3 cipher suite {name}"
                    ));
                }
            }
            provider.cipher_suites.retain(|s| match openssl_name(s) {
                Some(n) => wanted.contains(&n),
                None => true,
            });
        }
        if !self.ciphers.trim().is_empty() {
            let keep = tls12_suites(&self.ciphers)?;
            provider
                .cipher_suites
                .retain(|s| openssl_name(s).is_some() || keep.contains(&s.suite()));
        }
        Ok(Arc::new(provider))
    }

    /// The protocol versions `tls-protocols` names.
    fn versions(&self) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
        let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
        let protocols = if self.protocols.trim().is_empty() {
            "TLSv1.2 TLSv1.3"
        } else {
            self.protocols.as_str()
        };
        for p in protocols.split_ascii_whitespace() {
            match p.to_ascii_lowercase().as_str() {
                "tlsv1.2" => versions.push(&rustls::version::TLS12),
                "tlsv1.3" => versions.push(&rustls::version::TLS13),
                "tlsv1" | "tlsv1.1" => {} // rustls refuses them as unsafe
                _ => return Err(format!("invalid tls-protocols value {p:?}")),
            }
        }
        if versions.is_empty() {
            return Err(format!(
                "tls-protocols {protocols:?} names no protocol kv supports (TLSv1.2, TLSv1.3)"
            ));
        }
        Ok(versions)
    }

    /// The CA certificates of `tls-ca-cert-file` and `tls-ca-cert-dir`; `None` if neither is
    /// set.
    fn roots(&self) -> Result<Option<RootCertStore>, String> {
        if self.ca_cert_file.is_empty() && self.ca_cert_dir.is_empty() {
            return Ok(None);
        }
        let mut roots = RootCertStore::empty();
        if !self.ca_cert_file.is_empty() {
            let cas = CertificateDer::pem_file_iter(&self.ca_cert_file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot load tls-ca-cert-file {}: {e}", self.ca_cert_file))?;
            let (added, _) = roots.add_parsable_certificates(cas);
            if added == 0 {
                return Err(format!("no CA certificate in {}", self.ca_cert_file));
            }
        }
        if !self.ca_cert_dir.is_empty() {
            let dir = std::fs::read_dir(&self.ca_cert_dir)
                .map_err(|e| format!("cannot read tls-ca-cert-dir {}: {e}", self.ca_cert_dir))?;
            let mut added = 0;
            for entry in dir.flatten() {
                // Files that hold no PEM certificate (OpenSSL's hash links to them are
                // read twice, harmlessly) are skipped, as OpenSSL's lookup skips them.
                if let Ok(it) = CertificateDer::pem_file_iter(entry.path()) {
                    let certs: Vec<_> = it.filter_map(Result::ok).collect();
                    added += roots.add_parsable_certificates(certs).0;
                }
            }
            if added == 0 {
                return Err(format!("no CA certificate in {}", self.ca_cert_dir));
            }
        }
        Ok(Some(roots))
    }

    /// Reads the certificate, key and CA files and builds the server configuration.
    ///
    /// # Errors
    /// What is wrong, for the log: a file that cannot be read or holds no certificate or key,
    /// a key that does not match its certificate, an unknown protocol or suite name.
    pub(crate) fn build(&self) -> Result<Arc<ServerConfig>, String> {
        self.server_config(&self.auth_clients)
    }

    /// The server configuration for the Raft links' accepting side (`tls-cluster yes`): as
    /// [`Settings::build`], but a client certificate signed by the CA is always required,
    /// whatever `tls-auth-clients` says (Redis 7 accepts cluster bus links with
    /// `TLS_CLIENT_AUTH_YES`).
    ///
    /// # Errors
    /// As [`Settings::build`]; no CA set is an error here.
    pub(crate) fn cluster_config(&self) -> Result<Arc<ServerConfig>, String> {
        self.server_config("yes")
    }

    /// The server configuration with `auth_clients` (`yes`, `optional`, `no`).
    fn server_config(&self, auth_clients: &str) -> Result<Arc<ServerConfig>, String> {
        if self.cert_file.is_empty() || self.key_file.is_empty() {
            return Err("tls-cert-file and tls-key-file must be set".into());
        }
        let certs = load_certs(&self.cert_file, "tls-cert-file")?;
        let key = load_key(&self.key_file, "tls-key-file", &self.key_file_pass)?;
        let provider = self.provider()?;
        let versions = self.versions()?;
        let verifier = match auth_clients {
            "no" => WebPkiClientVerifier::no_client_auth(),
            mode => {
                let Some(roots) = self.roots()? else {
                    return Err(
                        "tls-ca-cert-file or tls-ca-cert-dir must be set when tls-auth-clients \
                         is enabled (set tls-auth-clients no to accept clients without a \
                         certificate)"
                            .into(),
                    );
                };
                let builder =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let builder = if mode == "optional" {
                    builder.allow_unauthenticated()
                } else {
                    builder
                };
                builder
                    .build()
                    .map_err(|e| format!("cannot verify client certificates: {e}"))?
            }
        };
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| format!("tls-protocols: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| format!("tls-cert-file and tls-key-file: {e}"))?;
        config.ignore_client_order = self.prefer_server_ciphers;
        if self.session_caching && self.session_cache_size > 0 {
            config.session_storage =
                rustls::server::ServerSessionMemoryCache::new(self.session_cache_size);
        } else {
            config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
            config.send_tls13_tickets = 0;
        }
        Ok(Arc::new(config))
    }

    /// A client configuration from these settings, for kv's outgoing TLS links (replication,
    /// the Raft links and forwarding with `tls-cluster yes`):
    /// the server's certificate checked against `tls-ca-cert-file`/`tls-ca-cert-dir`, kv's
    /// own certificate from `tls-client-cert-file`/`tls-client-key-file` (or, when those are
    /// not set, `tls-cert-file`/`tls-key-file`, as Redis does), the same protocols and
    /// suites as the server side.
    ///
    /// # Errors
    /// What is wrong, for the log, as [`Settings::build`].
    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        let Some(roots) = self.roots()? else {
            return Err(
                "tls-ca-cert-file or tls-ca-cert-dir must be set to verify a server".into(),
            );
        };
        let builder = rustls::ClientConfig::builder_with_provider(self.provider()?)
            .with_protocol_versions(&self.versions()?)
            .map_err(|e| format!("tls-protocols: {e}"))?
            .with_root_certificates(roots);
        let (cert, key, pass, what) = if self.client_cert_file.is_empty() {
            (
                &self.cert_file,
                &self.key_file,
                &self.key_file_pass,
                "tls-cert-file",
            )
        } else {
            (
                &self.client_cert_file,
                &self.client_key_file,
                &self.client_key_file_pass,
                "tls-client-cert-file",
            )
        };
        let config = if cert.is_empty() || key.is_empty() {
            builder.with_no_client_auth()
        } else {
            let certs = load_certs(cert, what)?;
            let key = load_key(key, "the client key file", pass)?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("{what} and its key: {e}"))?
        };
        Ok(Arc::new(config))
    }
}

/// The certificate chain in a PEM file (`what`: the parameter, for the error).
fn load_certs(file: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot load {what} {file}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {file}"));
    }
    Ok(certs)
}

/// The private key in a PEM file. An encrypted key (`ENCRYPTED PRIVATE KEY`, or a legacy
/// `Proc-Type: 4,ENCRYPTED` one) is refused with an error that says so: rustls does not
/// decrypt keys and no crate in kv's dependencies does PKCS#8 decryption, so
/// `tls-key-file-pass` cannot be honoured (store the key decrypted:
/// `openssl pkey -in enc.key -out plain.key`).
fn load_key(file: &str, what: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let text = std::fs::read(file).map_err(|e| format!("cannot load {what} {file}: {e}"))?;
    let encrypted = text.windows(b"ENCRYPTED".len()).any(|w| w == b"ENCRYPTED");
    if encrypted {
        return Err(format!(
            "{what} {file} is encrypted{}: kv cannot decrypt private keys; store it decrypted \
             (openssl pkey -in {file} -out <plain.key>)",
            if pass.is_empty() {
                ""
            } else {
                " (tls-key-file-pass is set)"
            }
        ));
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| format!("cannot load {what} {file}: {e}"))
}

/// The TLS 1.2 suites an OpenSSL cipher list (`tls-ciphers`) selects, among the ones rustls
/// has (ECDHE with AES-GCM or ChaCha20-Poly1305). Names are OpenSSL's
/// (`ECDHE-RSA-AES128-GCM-SHA256`); `DEFAULT`, `ALL`, `HIGH`, `ECDHE`, `EECDH`, `AESGCM`,
/// `CHACHA20` and the like select the suites they cover; `!name` and `-name` take away;
/// names of suites rustls does not have (CBC, RSA key exchange, ...) select nothing, as
/// OpenSSL ignores names it does not know.
///
/// # Errors
/// The list selects no suite (OpenSSL's "no cipher match").
fn tls12_suites(list: &str) -> Result<Vec<rustls::CipherSuite>, String> {
    use rustls::CipherSuite as S;
    const ALL: [(&str, S); 6] = [
        (
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "ECDHE-RSA-AES256-GCM-SHA384",
            S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "ECDHE-RSA-CHACHA20-POLY1305",
            S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "ECDHE-RSA-AES128-GCM-SHA256",
            S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ),
    ];
    // What an OpenSSL name or group word covers.
    let covers = |word: &str, name: &str| -> bool {
        let word = word.to_ascii_uppercase();
        match word.as_str() {
            "DEFAULT"
            | "ALL"
            | "HIGH"
            | "ECDHE"
            | "EECDH"
            | "KECDHE"
            | "AEAD"
            | "TLSV1.2"
            | "COMPLEMENTOFDEFAULT" => true,
            "AESGCM" | "AES" => name.contains("-AES"),
            "AES128" => name.contains("AES128"),
            "AES256" => name.contains("AES256"),
            "CHACHA20" => name.contains("CHACHA20"),
            "ECDSA" | "AECDSA" => name.contains("-ECDSA-"),
            "RSA" | "ARSA" => name.contains("-RSA-"),
            "SHA256" => name.ends_with("SHA256") || name.contains("CHACHA20"),
            "SHA384" => name.ends_with("SHA384"),
            _ => word == name,
        }
    };
    let mut chosen: Vec<S> = Vec::new();
    for token in list.split([':', ',', ' ']).filter(|t| !t.is_empty()) {
        let (remove, word) = match token.strip_prefix(['!', '-']) {
            Some(rest) => (true, rest),
            None => (false, token.strip_prefix('+').unwrap_or(token)),
        };
        // `A+B`: suites both cover.
        let parts: Vec<&str> = word.split('+').collect();
        for (name, suite) in ALL {
            if parts.iter().all(|p| covers(p, name)) {
                if remove {
                    chosen.retain(|s| *s != suite);
                } else if !chosen.contains(&suite) {
                    chosen.push(suite);
                }
            }
        }
    }
    if chosen.is_empty() {
        return Err(format!(
            "tls-ciphers {list:?} selects no TLS 1.2 cipher suite kv supports ({})",
            ALL.map(|(n, _)| n).join(":")
        ));
    }
    Ok(chosen)
}

/// A TLS 1.3 suite's OpenSSL name (`TLS_AES_128_GCM_SHA256`), the one `tls-ciphersuites` uses;
/// `None` for a TLS 1.2 suite.
fn openssl_name(suite: &rustls::SupportedCipherSuite) -> Option<String> {
    let name = format!("{:?}", suite.suite());
    name.strip_prefix("TLS13_")
        .map(|rest| format!("TLS_{rest}"))
}

/// The configuration new TLS connections get; replaced by CONFIG SET.
#[derive(Debug, Default)]
pub(crate) struct Current(RwLock<Option<Arc<ServerConfig>>>);

impl Current {
    pub(crate) fn get(&self) -> Option<Arc<ServerConfig>> {
        self.0.read().clone()
    }

    pub(crate) fn set(&self, config: Arc<ServerConfig>) {
        *self.0.write() = Some(config);
    }
}

/// Completes the TLS handshake on `tcp` (within [`HANDSHAKE_DEADLINE`]) and returns the
/// session, for the connection's [`crate::wire::Wire`]. The socket is left blocking, without
/// timeouts, as a plaintext client's.
///
/// # Errors
/// The handshake failed (the client was refused: no or a bad certificate, no common protocol)
/// or timed out.
pub(crate) fn accept(tcp: &TcpStream, config: Arc<ServerConfig>) -> io::Result<Box<Link>> {
    let mut tls = ServerConnection::new(config).map_err(io::Error::other)?;
    tcp.set_nodelay(true)?;
    handshake(tcp, &mut tls)?;
    // Output is bounded by the callers, which hand over at most SEND_CHUNK at a time and only
    // once what was encrypted before has left.
    tls.set_buffer_limit(None);
    Ok(Box::new(Link {
        session: Mutex::new(tls),
        input: Mutex::new(Input::default()),
    }))
}

/// Runs the handshake with blocking I/O and a deadline.
fn handshake(tcp: &TcpStream, tls: &mut ServerConnection) -> io::Result<()> {
    complete_handshake(tls, tcp, Some(Instant::now() + HANDSHAKE_DEADLINE))?;
    tcp.set_read_timeout(None)?;
    tcp.set_write_timeout(None)
}

/// Runs a handshake (either side's) to its end with blocking I/O, then sends what the session
/// still has (TLS 1.3 session tickets). With a deadline, the socket's timeouts are set to the
/// time left before each step (and left set); without one, the caller's timeouts bound each.
pub(crate) fn complete_handshake<S: rustls::SideData>(
    conn: &mut rustls::ConnectionCommon<S>,
    mut tcp: &TcpStream,
    deadline: Option<Instant>,
) -> io::Result<()> {
    while conn.is_handshaking() {
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake timed out",
                ));
            }
            tcp.set_read_timeout(Some(left))?;
            tcp.set_write_timeout(Some(left))?;
        }
        // `complete_io` reads and writes until the handshake needs the peer; an error (a
        // refused certificate, bytes that are not TLS) has its alert written first.
        match conn.complete_io(&mut tcp) {
            Ok((0, 0)) if conn.is_handshaking() => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed during the TLS handshake",
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake timed out",
                ));
            }
            Err(e) => return Err(e),
        }
    }
    while conn.wants_write() {
        conn.write_tls(&mut tcp)?;
    }
    Ok(())
}

/// The most plaintext handed to the session per send: what is encrypted but not yet taken by
/// the socket stays below about this much (plus one batch's worth the owner may add).
const SEND_CHUNK: usize = 64 * 1024;
/// Decryption stops once this much plaintext waits (rustls refuses input past 16 KiB of it).
const PLAIN_MAX: usize = 16 * 1024;

/// A TLS connection's session, shared by every thread that writes to the client (its own,
/// the replier, publishers), each under the lock for a non-blocking step: records are
/// encrypted in the order the plaintext was handed over and leave in that order. Nobody
/// blocks while holding it: a writer that finds the socket full waits in `poll` without it,
/// and the connection's thread reads the socket into `input` before it takes the lock to
/// decrypt.
#[derive(Debug)]
pub(crate) struct Link {
    session: Mutex<ServerConnection>,
    /// Encrypted input read from the socket, not yet given to the session. Only the
    /// connection's own thread reads, so this lock is never contended; it is taken before
    /// `session` when both are.
    input: Mutex<Input>,
}

#[derive(Debug, Default)]
struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The socket reached its end.
    eof: bool,
}

impl Link {
    /// The connection's thread: decrypted input into `buf`, reading the socket (blocking if
    /// `wait`, else `WouldBlock` when no complete record is there) only when the session holds
    /// none. 0: the client closed (`close_notify` or the socket's end).
    ///
    /// # Errors
    /// The socket's, or the client broke the protocol (its alert is sent).
    #[inline(never)]
    pub(crate) fn read(&self, tcp: &TcpStream, buf: &mut [u8], wait: bool) -> io::Result<usize> {
        let mut input = self.input.lock();
        loop {
            {
                let mut s = self.session.lock();
                match s.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if input.start < input.end {
                    feed(&mut s, &mut input, buf.len(), tcp)?;
                    continue;
                }
            }
            if input.eof {
                return Ok(0);
            }
            if input.buf.is_empty() {
                input.buf = vec![0; CHUNK];
            }
            let n = if wait {
                (&*tcp).read(&mut input.buf)?
            } else {
                crate::os::recv_nowait(tcp, &mut input.buf)?
            };
            if n == 0 {
                input.eof = true;
                return Ok(0);
            }
            input.start = 0;
            input.end = n;
        }
    }

    /// Whether [`Link::read`] would return without the socket: plaintext or undecrypted
    /// input is held, or the client closed.
    pub(crate) fn has_input(&self) -> bool {
        let input = self.input.lock();
        if input.start < input.end || input.eof {
            return true;
        }
        match self.session.lock().process_new_packets() {
            Ok(state) => state.plaintext_bytes_to_read() > 0 || state.peer_has_closed(),
            Err(_) => true,
        }
    }

    /// The connection's thread, while its client is blocked (BLPOP & co.): whether the client
    /// closed (`close_notify`, the socket's end) or the connection failed. Decrypts what has
    /// arrived without losing it.
    #[inline(never)]
    pub(crate) fn peer_closed(&self, tcp: &TcpStream) -> bool {
        let mut input = self.input.lock();
        if input.eof {
            return true;
        }
        if input.start == input.end {
            if input.buf.is_empty() {
                input.buf = vec![0; CHUNK];
            }
            match crate::os::recv_nowait(tcp, &mut input.buf) {
                Ok(0) => {
                    input.eof = true;
                    return true;
                }
                Ok(n) => {
                    input.start = 0;
                    input.end = n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return true,
            }
        }
        let mut s = self.session.lock();
        let Ok(state) = s.process_new_packets() else {
            return true;
        };
        if state.plaintext_bytes_to_read() == 0
            && input.start < input.end
            && feed(&mut s, &mut input, PLAIN_MAX, tcp).is_err()
        {
            return true;
        }
        s.process_new_packets()
            .map_or(true, |state| state.peer_has_closed())
    }

    /// Any thread, without blocking: sends what the session holds encrypted; if all of it
    /// left, encrypts up to [`SEND_CHUNK`] of `buf` and sends what the socket takes. Returns
    /// how much of `buf` was taken (its encrypted form may still be held: [`Link::unsent`]);
    /// `WouldBlock` if none (earlier records are still waiting for room).
    ///
    /// # Errors
    /// The socket's.
    #[inline(never)]
    pub(crate) fn send_nowait(&self, tcp: &TcpStream, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.session.lock();
        flush(&mut s, tcp)?;
        Ok(encrypt(&mut s, tcp, buf)?.0)
    }

    /// Any thread, without blocking: sends what the session holds encrypted; whether some is
    /// still left.
    ///
    /// # Errors
    /// The socket's.
    pub(crate) fn flush_nowait(&self, tcp: &TcpStream) -> io::Result<bool> {
        let mut s = self.session.lock();
        match flush(&mut s, tcp) {
            Ok(()) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Encrypted bytes the socket has not taken yet.
    pub(crate) fn unsent(&self) -> usize {
        let mut s = self.session.lock();
        if !s.wants_write() {
            return 0;
        }
        s.process_new_packets()
            .map_or(1, |state| state.tls_bytes_to_write().max(1))
    }

    /// The connection's thread: writes all of `buf` and everything held before it, waiting for
    /// room in `poll` (without the lock) as long as the socket's send timeout allows each
    /// wait.
    ///
    /// # Errors
    /// The socket's; `WouldBlock` when a wait timed out.
    #[inline(never)]
    pub(crate) fn write_all(&self, tcp: &TcpStream, mut buf: &[u8]) -> io::Result<()> {
        loop {
            let (taken, left) = self.step(tcp, buf)?;
            buf = &buf[taken..];
            if !left && buf.is_empty() {
                return Ok(());
            }
            if left {
                wait_writable(tcp, tcp.write_timeout()?)?;
            }
        }
    }

    /// The connection's thread: takes some of `buf` (not empty), waiting for room as
    /// [`Link::write_all`] does; what it took may still be held encrypted.
    ///
    /// # Errors
    /// As [`Link::write_all`].
    #[inline(never)]
    pub(crate) fn write(&self, tcp: &TcpStream, buf: &[u8]) -> io::Result<usize> {
        loop {
            let (taken, left) = self.step(tcp, buf)?;
            if taken > 0 || buf.is_empty() {
                return Ok(taken);
            }
            if left {
                wait_writable(tcp, tcp.write_timeout()?)?;
            }
        }
    }

    /// The connection's thread: sends everything held encrypted, waiting at most `timeout`
    /// for room each time.
    ///
    /// # Errors
    /// The socket's; `WouldBlock` when a wait timed out.
    pub(crate) fn flush_wait(&self, tcp: &TcpStream, timeout: Option<Duration>) -> io::Result<()> {
        loop {
            if !self.flush_nowait(tcp)? {
                return Ok(());
            }
            wait_writable(tcp, timeout)?;
        }
    }

    /// One non-blocking step of a blocking write: how much of `buf` was taken, and whether
    /// encrypted bytes are still held.
    fn step(&self, tcp: &TcpStream, buf: &[u8]) -> io::Result<(usize, bool)> {
        let mut s = self.session.lock();
        match flush(&mut s, tcp) {
            Ok(()) => encrypt(&mut s, tcp, buf),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok((0, true)),
            Err(e) => Err(e),
        }
    }

    /// The connection's end: `close_notify`, if the socket takes it at once.
    pub(crate) fn close(&self, tcp: &TcpStream) {
        let mut s = self.session.lock();
        s.send_close_notify();
        let _ = flush(&mut s, tcp);
    }
}

/// Gives the session what `input` holds, decrypting as it goes, until it is all taken or
/// `want` bytes of plaintext (at most [`PLAIN_MAX`]) wait; sends what the records call for
/// (an alert, a key update's answer) if the socket takes it.
fn feed(
    s: &mut ServerConnection,
    input: &mut Input,
    want: usize,
    tcp: &TcpStream,
) -> io::Result<()> {
    while input.start < input.end {
        let mut rd = &input.buf[input.start..input.end];
        let n = s.read_tls(&mut rd)?;
        input.start += n;
        let state = match s.process_new_packets() {
            Ok(state) => state,
            Err(e) => {
                // Its alert goes out before the connection closes.
                let _ = flush(s, tcp);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        };
        if state.peer_has_closed() || state.plaintext_bytes_to_read() >= want.clamp(1, PLAIN_MAX) {
            break;
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the TLS session took no more input",
            ));
        }
    }
    match flush(s, tcp) {
        Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
        _ => Ok(()),
    }
}

/// Encrypts up to [`SEND_CHUNK`] of `buf` (the session holds nothing unsent) and sends what
/// the socket takes: how much was taken, and whether encrypted bytes are still held.
fn encrypt(s: &mut ServerConnection, tcp: &TcpStream, buf: &[u8]) -> io::Result<(usize, bool)> {
    let n = buf.len().min(SEND_CHUNK);
    if n > 0 {
        s.writer().write_all(&buf[..n])?;
    }
    match flush(s, tcp) {
        Ok(()) => Ok((n, false)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok((n, true)),
        Err(e) => Err(e),
    }
}

/// Sends what the session holds encrypted, without blocking: `WouldBlock` if the socket is
/// full before all of it left.
fn flush(s: &mut ServerConnection, tcp: &TcpStream) -> io::Result<()> {
    while s.wants_write() {
        match s.write_tls(&mut NoWait(tcp)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Waits until `tcp` can take more (or failed); `WouldBlock` if `timeout` passed first.
fn wait_writable(tcp: &TcpStream, timeout: Option<Duration>) -> io::Result<()> {
    if crate::os::wait_writable(tcp, timeout)? {
        Ok(())
    } else {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

/// The socket as rustls writes records to it: non-blocking sends, several records per call.
struct NoWait<'a>(&'a TcpStream);

impl Write for NoWait<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::os::send_nowait(self.0, buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        crate::os::sendmsg_nowait(self.0, bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CipherSuite as S;

    #[track_caller]
    fn check(list: &str, want: &[S]) {
        let mut got = tls12_suites(list).unwrap();
        got.sort_by_key(|s| u16::from(*s));
        let mut want = want.to_vec();
        want.sort_by_key(|s| u16::from(*s));
        assert_eq!(got, want, "{list}");
    }

    #[test]
    fn tls_ciphers_select_the_suites_openssl_names_cover() {
        let rsa = [
            S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ];
        check("ECDHE-RSA-AES128-GCM-SHA256", &rsa[..1]);
        check(
            "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384",
            &rsa[..2],
        );
        check("HIGH:!ECDSA", &rsa);
        check("DEFAULT:-aECDSA", &rsa);
        check(
            "ECDHE+CHACHA20",
            &[
                S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            ],
        );
        assert_eq!(tls12_suites("ALL").unwrap().len(), 6);
        // Only suites rustls does not have: OpenSSL's "no cipher match".
        assert!(tls12_suites("AES128-SHA:DES-CBC3-SHA").is_err());
    }

    /// Runs `openssl` with `args` in `dir`.
    fn openssl(dir: &std::path::Path, args: &[&str]) {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A CA and a certificate it signed for localhost/127.0.0.1 (`name.crt`, `name.key`).
    fn certs(dir: &std::path::Path) {
        openssl(
            dir,
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ca",
                "-keyout", "ca.key", "-out", "ca.crt",
            ],
        );
        std::fs::write(
            dir.join("ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        for name in ["server", "client"] {
            openssl(
                dir,
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-subj",
                    "/CN=localhost",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                ],
            );
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    "ext",
                    "-out",
                    &format!("{name}.crt"),
                ],
            );
        }
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kv-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn an_encrypted_key_is_refused_with_a_reason() {
        let dir = temp_dir("enc-key");
        openssl(
            &dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-aes256",
                "-pass",
                "pass:secret",
                "-out",
                "enc.key",
            ],
        );
        let file = dir.join("enc.key").to_string_lossy().into_owned();
        let err = load_key(&file, "tls-key-file", "secret").unwrap_err();
        assert!(
            err.contains("is encrypted (tls-key-file-pass is set)"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn client_config_connects_to_a_tls_redis_server_that_wants_a_client_certificate() {
        use std::io::{Read, Write};
        let dir = temp_dir("client-config");
        certs(&dir);
        let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = std::process::Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args([
                "--tls-cert-file",
                &path("server.crt"),
                "--tls-key-file",
                &path("server.key"),
            ])
            .args([
                "--tls-ca-cert-file",
                &path("ca.crt"),
                "--tls-auth-clients",
                "yes",
            ])
            .args(["--save", "", "--appendonly", "no", "--dir", &path("")])
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .spawn();
        let Ok(mut server) = server else {
            assert!(
                std::env::var_os("KV_REQUIRE_CLIENTS").is_none(),
                "redis-server cannot start, and KV_REQUIRE_CLIENTS is set"
            );
            eprintln!("skipped: no redis-server");
            return;
        };
        let settings = Settings {
            ca_cert_dir: path(""),
            client_cert_file: path("client.crt"),
            client_key_file: path("client.key"),
            ..Settings::default()
        };
        let result = (|| -> Result<String, String> {
            let config = settings.client_config()?;
            let deadline = Instant::now() + Duration::from_secs(30);
            let tcp = loop {
                match TcpStream::connect(("127.0.0.1", port)) {
                    Ok(tcp) => break tcp,
                    Err(e) if Instant::now() > deadline => return Err(e.to_string()),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            };
            tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            tls.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
            let mut got = [0u8; 7];
            tls.read_exact(&mut got).map_err(|e| e.to_string())?;
            Ok(String::from_utf8_lossy(&got).into_owned())
        })();
        let _ = server.kill();
        let _ = server.wait();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(result.unwrap(), "+PONG\r\n");
    }
}
