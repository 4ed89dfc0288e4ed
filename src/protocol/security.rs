//! `Security`: what a node needs to connect safely, built once at start-up
//! and handed to `dial` and `accept`: the optional cluster token, the TLS
//! configuration for dialing (whom to trust) and for accepting (what to
//! present). The default is plain TCP without a token.

use super::auth::Token;
use super::tls::{self, TlsError};
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::CertificateDer;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A node's token and TLS settings. Cheap to clone.
#[derive(Clone, Default)]
pub struct Security {
    token: Option<Token>,
    dial_tls: Option<Arc<ClientConfig>>,
    serve_tls: Option<ServeTls>,
}

#[derive(Clone)]
struct ServeTls {
    config: Arc<ServerConfig>,
    leaf: CertificateDer<'static>,
}

impl Security {
    /// Plain TCP, no token.
    pub fn none() -> Self {
        Security::default()
    }

    /// Prove `token` on every connection, and require peers to prove it.
    /// From settings as flags, variables or the config file give them: a
    /// token to prove (an empty one is refused) and a CA to trust for TLS.
    /// The error is one line naming the setting.
    pub fn from_settings(token: Option<&str>, ca: Option<&Path>) -> Result<Self, String> {
        let token = token
            .map(Token::new)
            .transpose()
            .map_err(|e| format!("--token: {e}"))?;
        let security = Security::none().with_token(token);
        match ca {
            Some(ca) => security.trusting(ca).map_err(|e| e.to_string()),
            None => Ok(security),
        }
    }

    pub fn with_token(mut self, token: Option<Token>) -> Self {
        self.token = token;
        self
    }

    /// Dial over TLS, trusting the CA certificate(s) in the PEM file `ca`.
    pub fn trusting(mut self, ca: &Path) -> Result<Self, TlsError> {
        self.dial_tls = Some(tls::client_config(ca)?);
        Ok(self)
    }

    /// Accept only TLS, presenting the PEM certificate chain `cert` and its key.
    pub fn serving(mut self, cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let (config, leaf) = tls::server_config(cert, key)?;
        self.serve_tls = Some(ServeTls { config, leaf });
        Ok(self)
    }

    /// The settings for dialing this node's own listener: the same token,
    /// and when it serves TLS, trust in exactly the certificate it presents.
    pub fn for_own_listener(&self) -> Result<Self, TlsError> {
        let mut own = self.clone();
        if let Some(serve) = &self.serve_tls {
            own.dial_tls = Some(tls::pinned_client_config(serve.leaf.clone())?);
        }
        Ok(own)
    }

    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// Whether dialing speaks TLS.
    pub fn dials_tls(&self) -> bool {
        self.dial_tls.is_some()
    }

    /// Whether accepting requires TLS.
    pub fn serves_tls(&self) -> bool {
        self.serve_tls.is_some()
    }

    pub(crate) fn dial_config(&self) -> Option<&Arc<ClientConfig>> {
        self.dial_tls.as_ref()
    }

    pub(crate) fn serve_config(&self) -> Option<&Arc<ServerConfig>> {
        self.serve_tls.as_ref().map(|s| &s.config)
    }
}

impl fmt::Debug for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Security")
            .field("token", &self.token.is_some())
            .field("dials_tls", &self.dials_tls())
            .field("serves_tls", &self.serves_tls())
            .finish()
    }
}
