//! TLS for connections between nodes, with rustls and its `ring` provider:
//! server and client configurations built from PEM files, a client
//! configuration that trusts exactly one certificate (a node dialing its own
//! listener), the server name to check for an address, and the channel
//! binding the token proofs cover, and a stream adapter that takes a peer
//! hanging up without a TLS goodbye as a plain end of stream.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Why a TLS configuration could not be built from its files.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("{flag} {path}: {detail}")]
    File {
        flag: &'static str,
        path: String,
        detail: String,
    },
    #[error("TLS: {0}")]
    Config(String),
}

/// The first byte of every TLS connection (a handshake record).
pub(crate) const TLS_HANDSHAKE_BYTE: u8 = 0x16;

/// The label under which both sides export the keying material they bind
/// their token proofs to (RFC 5705).
const BINDING_LABEL: &[u8] = b"EXPORTER-lts-cluster-token";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_error(flag: &'static str, path: &Path, detail: impl ToString) -> TlsError {
    TlsError::File {
        flag,
        path: path.display().to_string(),
        detail: detail.to_string(),
    }
}

fn pem_detail(e: rustls_pki_types::pem::Error, what: &str) -> String {
    match e {
        rustls_pki_types::pem::Error::Io(io) => io.to_string(),
        rustls_pki_types::pem::Error::NoItemsFound => format!("no {what} in it (expected PEM)"),
        other => format!("not a PEM file: {other}"),
    }
}

/// The certificates of a PEM file; at least one.
fn read_certs(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(flag, path, pem_detail(e, "certificate")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(flag, path, pem_detail(e, "certificate")))?;
    if certs.is_empty() {
        return Err(file_error(
            flag,
            path,
            "no certificate in it (expected PEM)",
        ));
    }
    Ok(certs)
}

/// A server configuration from a certificate chain and its key, both PEM;
/// also the chain's first (leaf) certificate.
pub fn server_config(
    cert: &Path,
    key: &Path,
) -> Result<(Arc<ServerConfig>, CertificateDer<'static>), TlsError> {
    let chain = read_certs("--tls-cert", cert)?;
    let leaf = chain[0].clone();
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| file_error("--tls-key", key, pem_detail(e, "private key")))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            TlsError::Config(format!("--tls-cert and --tls-key do not make a pair: {e}"))
        })?;
    Ok((Arc::new(config), leaf))
}

/// A client configuration that trusts the CA certificates of a PEM file (a
/// self-signed certificate is its own CA).
pub fn client_config(ca: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs("--tls-ca", ca)? {
        roots
            .add(cert)
            .map_err(|e| file_error("--tls-ca", ca, format!("not a usable CA certificate: {e}")))?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client configuration that accepts exactly `leaf`, whatever name it was
/// dialed by: for a node dialing its own listener (a standalone's worker).
pub fn pinned_client_config(leaf: CertificateDer<'static>) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let verifier = Arc::new(Pinned {
        leaf,
        provider: provider.clone(),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name a server at `addr` (`HOST:PORT`, `[V6]:PORT`) must have in its certificate.
pub fn server_name(addr: &str) -> Option<ServerName<'static>> {
    if let Ok(socket) = addr.parse::<std::net::SocketAddr>() {
        return Some(ServerName::IpAddress(socket.ip().into()));
    }
    let (host, _port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).ok()
}

/// The keying material both ends of an established TLS session share,
/// which the token proofs cover; empty if it cannot be exported.
pub(crate) fn export_binding<D>(conn: &rustls::ConnectionCommon<D>) -> Vec<u8> {
    conn.export_keying_material([0u8; 32], BINDING_LABEL, None)
        .map(|b| b.to_vec())
        .unwrap_or_default()
}

/// A TLS stream whose peer may hang up without a TLS close_notify: that
/// reads as the end of the stream rather than an error. Safe here because
/// every message is length-prefixed, so a cut-off message is still noticed.
pub(crate) struct EndAtEof<S>(pub S);

impl<S: AsyncRead + Unpin> AsyncRead for EndAtEof<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for EndAtEof<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Trusts one certificate, byte for byte; signatures are still checked.
#[derive(Debug)]
struct Pinned {
    leaf: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.leaf.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_come_from_the_host_part() {
        assert_eq!(
            server_name("127.0.0.1:7420"),
            Some(ServerName::IpAddress(
                std::net::IpAddr::from([127, 0, 0, 1]).into()
            ))
        );
        assert!(matches!(
            server_name("[::1]:7420"),
            Some(ServerName::IpAddress(_))
        ));
        assert_eq!(
            server_name("tracker.example:7420"),
            Some(ServerName::try_from("tracker.example".to_string()).unwrap())
        );
        assert_eq!(server_name("no-port"), None);
    }
}
