//! The cluster token and the proofs of knowing it. Each side of a handshake
//! sends a fresh random nonce; each proves the token with an HMAC-SHA256 over
//! both nonces, the connecting role, the TLS channel binding (when there is
//! TLS) and its own direction label, so the token never crosses the wire, a
//! proof is good for one connection only, and one side's proof cannot be
//! reflected as the other's. Pure functions: no I/O.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of randomness in a nonce.
const NONCE_BYTES: usize = 32;
/// Names this proof scheme inside every MAC, so a later scheme cannot be confused with it.
const SCHEME: &[u8] = b"lts cluster token proof v1";

/// The cluster's shared secret. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Token(Arc<str>);

/// The fewest bytes a token may have.
pub const MIN_TOKEN_BYTES: usize = 16;

/// Why a string cannot be a token.
#[derive(Debug, Error)]
pub enum TokenError {
    #[error("the cluster token is empty")]
    Empty,
    #[error("the cluster token is {len} bytes; it must be at least {MIN_TOKEN_BYTES} (make one with `ltsd token`)")]
    TooShort { len: usize },
}

impl Token {
    /// A token from its text; surrounding whitespace (a trailing newline from
    /// a file, say) is not part of it. An empty token, or one shorter than
    /// `MIN_TOKEN_BYTES`, is refused: a short secret is guessed.
    pub fn new(text: &str) -> Result<Token, TokenError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TokenError::Empty);
        }
        if text.len() < MIN_TOKEN_BYTES {
            return Err(TokenError::TooShort { len: text.len() });
        }
        Ok(Token(text.into()))
    }

    /// A fresh random token: 32 random bytes as hex.
    pub fn generate() -> Token {
        let mut bytes = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut bytes[..]);
        Token(hex(&bytes).into())
    }

    /// The token's text, for `ltsd token` to print; never log it.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this token; the comparison takes the same time
    /// wherever the two differ (both are MACed under a fresh key first).
    pub fn matches(&self, presented: &str) -> bool {
        let key = nonce();
        let mac = |text: &str| {
            let mut mac = HmacSha256::new_from_slice(key.as_bytes())
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
            mac.update(text.as_bytes());
            mac.finalize().into_bytes()
        };
        let mut check = HmacSha256::new_from_slice(key.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        check.update(presented.trim().as_bytes());
        check.verify_slice(&mac(&self.0)).is_ok()
    }

    /// A key for `purpose` derived from the token, the same on every node
    /// that shares it (so any tracker accepts a console session another
    /// signed).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(b"lts derived key v1|");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail.
        HmacSha256::new_from_slice(self.0.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// Which side of a connection a proof comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The side that dialed.
    Client,
    /// The side that accepted.
    Server,
}

impl Side {
    fn label(self) -> &'static [u8] {
        match self {
            Side::Client => b"client proves",
            Side::Server => b"server proves",
        }
    }
}

/// What both sides of one connection agree on and prove the token over.
#[derive(Debug, Clone, Copy)]
pub struct Transcript<'a> {
    pub client_nonce: &'a str,
    pub server_nonce: &'a str,
    /// The role the client said it has.
    pub role: &'a str,
    /// Keying material exported from the TLS session; empty without TLS.
    pub binding: &'a [u8],
}

impl Transcript<'_> {
    fn mac(&self, token: &Token, side: Side) -> HmacSha256 {
        let mut mac = token.mac();
        for field in [
            SCHEME,
            side.label(),
            self.client_nonce.as_bytes(),
            self.server_nonce.as_bytes(),
            self.role.as_bytes(),
            self.binding,
        ] {
            // Length-prefixed, so no two transcripts encode alike.
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field);
        }
        mac
    }
}

/// A fresh random nonce, as hex.
pub fn nonce() -> String {
    let mut bytes = [0u8; NONCE_BYTES];
    rand::Rng::fill(&mut rand::rng(), &mut bytes[..]);
    hex(&bytes)
}

/// `side`'s proof of `token` over `transcript`, as hex.
pub fn prove(token: &Token, side: Side, transcript: &Transcript<'_>) -> String {
    hex(&transcript.mac(token, side).finalize().into_bytes())
}

/// Whether `proof` is `side`'s proof of `token` over `transcript`; the
/// comparison takes the same time wherever the proof differs.
pub fn verify(token: &Token, side: Side, transcript: &Transcript<'_>, proof: &str) -> bool {
    match unhex(proof) {
        Some(bytes) => transcript.mac(token, side).verify_slice(&bytes).is_ok(),
        None => false,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token from a short word, made long enough.
    fn token(t: &str) -> Token {
        Token::new(&format!("{t} of sixteen bytes")).unwrap()
    }

    fn transcript<'a>(client: &'a str, server: &'a str) -> Transcript<'a> {
        Transcript {
            client_nonce: client,
            server_nonce: server,
            role: "worker",
            binding: b"",
        }
    }

    #[test]
    fn the_right_token_verifies() {
        let (c, s) = (nonce(), nonce());
        let t = transcript(&c, &s);
        let proof = prove(&token("secret"), Side::Client, &t);
        assert!(verify(&token("secret"), Side::Client, &t, &proof));
        // Surrounding whitespace is not part of the token.
        assert!(verify(
            &Token::new(" secret of sixteen bytes\n").unwrap(),
            Side::Client,
            &t,
            &proof
        ));
    }

    #[test]
    fn a_wrong_token_fails() {
        let (c, s) = (nonce(), nonce());
        let t = transcript(&c, &s);
        let proof = prove(&token("secret"), Side::Client, &t);
        assert!(!verify(&token("Secret"), Side::Client, &t, &proof));
        assert!(!verify(&token("secret2"), Side::Client, &t, &proof));
    }

    #[test]
    fn swapped_nonces_fail() {
        let (c, s) = (nonce(), nonce());
        let proof = prove(&token("secret"), Side::Client, &transcript(&c, &s));
        assert!(!verify(
            &token("secret"),
            Side::Client,
            &transcript(&s, &c),
            &proof
        ));
    }

    #[test]
    fn a_replayed_proof_fails_against_a_new_server_nonce() {
        let c = nonce();
        let old = prove(&token("secret"), Side::Client, &transcript(&c, &nonce()));
        assert!(!verify(
            &token("secret"),
            Side::Client,
            &transcript(&c, &nonce()),
            &old
        ));
    }

    #[test]
    fn a_proof_cannot_be_reflected_to_the_other_side() {
        let (c, s) = (nonce(), nonce());
        let t = transcript(&c, &s);
        let client_proof = prove(&token("secret"), Side::Client, &t);
        assert!(!verify(&token("secret"), Side::Server, &t, &client_proof));
    }

    #[test]
    fn the_role_and_the_channel_binding_are_covered() {
        let (c, s) = (nonce(), nonce());
        let t = transcript(&c, &s);
        let proof = prove(&token("secret"), Side::Client, &t);
        let other_role = Transcript {
            role: "client",
            ..t
        };
        assert!(!verify(&token("secret"), Side::Client, &other_role, &proof));
        let other_channel = Transcript {
            binding: b"another tls session",
            ..t
        };
        assert!(!verify(
            &token("secret"),
            Side::Client,
            &other_channel,
            &proof
        ));
    }

    #[test]
    fn malformed_proofs_fail_without_panicking() {
        let (c, s) = (nonce(), nonce());
        let t = transcript(&c, &s);
        for junk in ["", "zz", "abc", "é1", &"00".repeat(32), &"0".repeat(10_000)] {
            assert!(!verify(&token("secret"), Side::Client, &t, junk), "{junk}");
        }
    }

    #[test]
    fn nonces_are_fresh_and_an_empty_token_is_refused() {
        assert_ne!(nonce(), nonce());
        assert_eq!(nonce().len(), NONCE_BYTES * 2);
        assert!(matches!(Token::new("  \n"), Err(TokenError::Empty)));
        assert!(matches!(
            Token::new(" fifteen bytes!\n"),
            Err(TokenError::TooShort { len: 14 })
        ));
        assert!(Token::new("sixteen bytes!!!").is_ok());
        assert_eq!(format!("{:?}", token("secret")), "Token(..)");
        let fresh = Token::generate();
        assert!(Token::new(fresh.reveal()).is_ok());
        assert_ne!(fresh.reveal(), Token::generate().reveal());
    }
}
