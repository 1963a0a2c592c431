//! TLS on the Raft mode's links (`tls-cluster yes`, Redis's name for TLS on its cluster bus):
//! the links between nodes (kvraft's transport, through its [`kvraft::LinkSecurity`] hook) and
//! a follower's forwarding links to the leader's `tls-port`.
//!
//! A node accepts a Raft link only from a peer that presents a certificate signed by
//! `tls-ca-cert-file`/`-dir`, whatever `tls-auth-clients` says (Redis 7 does the same on its
//! cluster bus: `connCreateAcceptedTLS(fd, TLS_CLIENT_AUTH_YES)`), and opens its own links
//! with `tls-client-cert-file`/`-key-file` (else `tls-cert-file`/`-key-file`), checking the
//! peer's certificate against the same CA and its name (the host of the peer's address;
//! Redis checks only the chain). CONFIG SET of a `tls-*` parameter rebuilds them with the
//! client port's: links opened or accepted after it use the new certificates, links already
//! open keep their session. With `raft-secret` as well, `kvserver/src/listener.rs` wraps this
//! hook in [`kvraft::SecretLinks::over`]: the secret's handshake runs inside the TLS session.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection, StreamOwned};

/// The Raft links' TLS configurations (the accepting side's, the connecting side's).
#[derive(Debug)]
pub(crate) struct ClusterTls {
    configs: parking_lot::RwLock<(Arc<ServerConfig>, Arc<ClientConfig>)>,
}

/// A TLS connection this node opened (a Raft link, or a forwarding link to the leader).
pub(crate) type ClientStream = StreamOwned<ClientConnection, TcpStream>;

impl ClusterTls {
    /// Both sides' configurations from the `tls-*` settings.
    ///
    /// # Errors
    /// What is wrong, for the log: no certificate, key or CA, or one that does not load.
    pub(crate) fn new(settings: &crate::tls::Settings) -> Result<ClusterTls, String> {
        Ok(ClusterTls {
            configs: parking_lot::RwLock::new(ClusterTls::build(settings)?),
        })
    }

    /// Both configurations from `settings`, for [`ClusterTls::set`] once every part loaded.
    ///
    /// # Errors
    /// As [`ClusterTls::new`].
    pub(crate) fn build(
        settings: &crate::tls::Settings,
    ) -> Result<(Arc<ServerConfig>, Arc<ClientConfig>), String> {
        Ok((settings.cluster_config()?, settings.client_config()?))
    }

    /// The configurations the next links use (CONFIG SET of a `tls-*` parameter).
    pub(crate) fn set(&self, configs: (Arc<ServerConfig>, Arc<ClientConfig>)) {
        *self.configs.write() = configs;
    }

    /// Completes a client handshake over `tcp` to `addr` (`host:port`; the host is the name
    /// the peer's certificate must carry). The socket's timeouts bound it.
    ///
    /// # Errors
    /// The handshake failed (a certificate refused either way, not TLS) or timed out.
    pub(crate) fn connect(&self, tcp: TcpStream, addr: &str) -> io::Result<ClientStream> {
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::other(format!("{host} is not a TLS server name: {e}")))?;
        let client = Arc::clone(&self.configs.read().1);
        let session = ClientConnection::new(client, name).map_err(io::Error::other)?;
        let mut tls = StreamOwned::new(session, tcp);
        handshake(&mut tls.conn, &tls.sock)?;
        Ok(tls)
    }
}

impl kvraft::LinkSecurity for ClusterTls {
    fn accept(&self, tcp: TcpStream) -> io::Result<Box<dyn kvraft::LinkStream>> {
        let server = Arc::clone(&self.configs.read().0);
        let session = ServerConnection::new(server).map_err(io::Error::other)?;
        let mut tls = StreamOwned::new(session, tcp);
        handshake(&mut tls.conn, &tls.sock)?;
        Ok(Box::new(tls))
    }

    fn connect(&self, tcp: TcpStream, addr: &str) -> io::Result<Box<dyn kvraft::LinkStream>> {
        Ok(Box::new(ClusterTls::connect(self, tcp, addr)?))
    }
}

/// Runs a handshake to its end with blocking I/O (the caller's socket timeouts bound each
/// step), then sends what the session still has (TLS 1.3 session tickets).
fn handshake<S: rustls::SideData>(
    conn: &mut rustls::ConnectionCommon<S>,
    tcp: &TcpStream,
) -> io::Result<()> {
    crate::tls::complete_handshake(conn, tcp, None)
        .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake (tls-cluster yes): {e}")))
}
