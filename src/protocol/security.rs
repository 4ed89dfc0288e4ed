//! `Security`: what a node needs to connect safely, built once at start-up
//! and handed to `dial` and `accept`: the optional cluster token, the TLS
//! configuration for dialing (whom to trust) and for accepting (what to
//! present); on a tracker, an optional read-only token (`Access::Read`);
//! and what every accept shares: the guard against token guessing and the
//! counted log of refusals. The default is plain TCP without a token.

use super::auth::Token;
use super::guard::Guard;
use super::tls::{self, TlsError};
use crate::logging::Summary;
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::CertificateDer;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A node's token and TLS settings. Cheap to clone.
#[derive(Clone)]
pub struct Security {
    token: Option<Token>,
    read_token: Option<Token>,
    dial_tls: Option<Arc<ClientConfig>>,
    serve_tls: Option<ServeTls>,
    guard: Arc<Guard>,
    refusals: Arc<Summary>,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            token: None,
            read_token: None,
            dial_tls: None,
            serve_tls: None,
            guard: Arc::default(),
            refusals: Summary::new("refused connection", std::time::Duration::from_secs(10)),
        }
    }
}

/// What a peer that proved a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Everything: it proved the cluster token (or none is required).
    Full,
    /// Read jobs, logs, nodes and stats, change nothing: it proved the
    /// read-only token.
    Read,
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

    /// Also accept peers that prove `read_token`, for reading only. It must
    /// be long enough and differ from the cluster token, which it needs.
    /// The error is one line naming the setting.
    pub fn with_read_token(mut self, read_token: Option<&str>) -> Result<Self, String> {
        let Some(text) = read_token else {
            self.read_token = None;
            return Ok(self);
        };
        let read = Token::new(text).map_err(|e| format!("--read-token: {e}"))?;
        match &self.token {
            None => {
                return Err(
                    "--read-token needs a cluster token too (--token or LTS_TOKEN): without one, everyone may do everything"
                        .into(),
                )
            }
            Some(full) if full.matches(read.reveal()) => {
                return Err("--read-token must differ from the cluster token".into())
            }
            Some(_) => {}
        }
        self.read_token = Some(read);
        Ok(self)
    }

    /// What a peer presenting `presented` (a console login, a bearer
    /// token) may do: `None` when it is neither token. Without a cluster
    /// token everyone has full access.
    pub fn access(&self, presented: &str) -> Option<Access> {
        let Some(full) = &self.token else {
            return Some(Access::Full);
        };
        if full.matches(presented) {
            return Some(Access::Full);
        }
        match &self.read_token {
            Some(read) if read.matches(presented) => Some(Access::Read),
            _ => None,
        }
    }

    pub fn read_token(&self) -> Option<&Token> {
        self.read_token.as_ref()
    }

    pub(crate) fn guard(&self) -> &Guard {
        &self.guard
    }

    pub(crate) fn refusals(&self) -> &Arc<Summary> {
        &self.refusals
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
            .field("read_token", &self.read_token.is_some())
            .field("dials_tls", &self.dials_tls())
            .field("serves_tls", &self.serves_tls())
            .finish()
    }
}
