//! Who may use the console and the API. Without a cluster token (loopback
//! only) everyone on this machine may; with one, every page and API call needs
//! `Authorization: Bearer T` or the session cookie the login page sets:
//! signed with a key derived from the token (so every tracker of the cluster
//! accepts it), HttpOnly, SameSite=Strict, Secure under TLS, expiring.
//!
//! Forge-proofing: the pages' forms carry a CSRF token bound to the session,
//! and a state-changing API call from a browser page of another origin
//! (its `Origin` names another host) is refused.

use super::error::ApiError;
use super::App;
use crate::model::now_ms;
use crate::protocol::auth::{hex, nonce, unhex};
use crate::protocol::{Access, Security};
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use hmac::{Hmac, Mac};
use maud::{html, Markup};
use serde::Deserialize;
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

type HmacSha256 = Hmac<Sha256>;

/// The session cookie's name.
pub const COOKIE: &str = "lts_session";
/// How long a console session lasts.
const SESSION_MS: i64 = 12 * 3_600_000;

/// The console's credentials: the tokens to check (the cluster token, and
/// the read-only one), and the key sessions and CSRF tokens are signed with.
pub struct Auth {
    security: Security,
    key: [u8; 32],
    secure: bool,
}

/// Who a request comes from, as the guard found: handed to handlers.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The CSRF token this caller's forms must carry.
    pub csrf: String,
    /// Whether the console shows a log-out button.
    pub session: bool,
    /// What the caller may do: a read-only token changes nothing.
    pub access: Access,
}

impl Caller {
    /// Whether this caller may change jobs.
    pub fn may_change(&self) -> bool {
        self.access == Access::Full
    }
}

impl Auth {
    pub fn new(security: Security, secure: bool) -> Auth {
        let key = match security.token() {
            Some(token) => token.derive("console session"),
            None => {
                let mut key = [0u8; 32];
                rand::Rng::fill(&mut rand::rng(), &mut key[..]);
                key
            }
        };
        Auth {
            security,
            key,
            secure,
        }
    }

    /// Whether a token is needed.
    pub fn required(&self) -> bool {
        self.security.token().is_some()
    }

    fn mac(&self, parts: &[&str]) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"|");
        }
        hex(&mac.finalize().into_bytes())
    }

    fn verify(&self, parts: &[&str], presented: &str) -> bool {
        let Some(bytes) = unhex(presented) else {
            return false;
        };
        let mut mac = HmacSha256::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"|");
        }
        mac.verify_slice(&bytes).is_ok()
    }

    /// A new session's cookie value: expiry, access, nonce, signature.
    fn new_session(&self, access: Access) -> String {
        let expires = (now_ms() + SESSION_MS).to_string();
        let level = level(access);
        let id = nonce();
        let sig = self.mac(&["session", &expires, level, &id]);
        format!("{expires}.{level}.{id}.{sig}")
    }

    /// The session id and access of a cookie value that is ours and unexpired.
    fn session<'a>(&self, value: &'a str) -> Option<(&'a str, Access)> {
        let mut parts = value.splitn(4, '.');
        let (expires, lvl, id, sig) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let at: i64 = expires.parse().ok()?;
        let access = match lvl {
            "f" => Access::Full,
            "r" => Access::Read,
            _ => return None,
        };
        (at > now_ms() && self.verify(&["session", expires, lvl, id], sig)).then_some((id, access))
    }

    fn csrf_for(&self, session: &str) -> String {
        self.mac(&["csrf", session])
    }

    /// Whether a form's CSRF token belongs to `caller`.
    pub fn csrf_ok(&self, caller: &Caller, presented: &str) -> bool {
        !presented.is_empty() && presented.len() == caller.csrf.len() && {
            // Constant time: compare MACs of both.
            let a = self.mac(&["cmp", presented]);
            let b = self.mac(&["cmp", &caller.csrf]);
            a == b
        }
    }

    fn cookie(&self, value: &str, max_age_s: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}")
    }

    /// Who `headers` come from, or `None` when a token is needed and none
    /// was shown. A wrong bearer token counts against `peer`'s address, as a
    /// wrong proof does on the cluster port, and a barred address is not
    /// even checked.
    fn identify(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Result<Caller, Refusal> {
        let found = self.identify_unguarded(headers, peer);
        if let (Err(Refusal::Wrong), Some(ip)) = (&found, peer) {
            if let Some(wait) = self.security.guard().failed(ip, Instant::now()) {
                return Err(Refusal::Barred(wait));
            }
        }
        found
    }

    fn identify_unguarded(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Result<Caller, Refusal> {
        let session = cookie(headers, COOKIE).and_then(|v| self.session(v));
        if !self.required() {
            // Open console: one anonymous session per key.
            return Ok(Caller {
                csrf: self.csrf_for(session.map_or("open", |(id, _)| id)),
                session: false,
                access: Access::Full,
            });
        }
        if let Some((id, access)) = session {
            return Ok(Caller {
                csrf: self.csrf_for(id),
                session: true,
                access,
            });
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Refusal::Missing)?;
        if let Some(wait) = peer.and_then(|ip| self.security.guard().barred(ip, Instant::now())) {
            return Err(Refusal::Barred(wait));
        }
        let access = self.security.access(bearer).ok_or(Refusal::Wrong)?;
        if let Some(ip) = peer {
            self.security.guard().succeeded(ip);
        }
        Ok(Caller {
            csrf: self.csrf_for("bearer"),
            session: false,
            access,
        })
    }
}

/// Why a request has no caller.
#[derive(Debug)]
enum Refusal {
    /// No token, no session.
    Missing,
    /// A token that is not the cluster's (nor the read-only one).
    Wrong,
    /// Too many wrong tokens from this address: wait this long.
    Barred(Duration),
}

fn barred_text(wait: Duration) -> String {
    format!(
        "Too many wrong tokens from this address: try again in {} s.",
        wait.as_secs().max(1)
    )
}

fn barred(wait: Duration) -> ApiError {
    ApiError::unauthorized(barred_text(wait))
}

/// The caller's address, as the serve loop recorded it.
fn peer_ip(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// How a session cookie names its access.
fn level(access: Access) -> &'static str {
    match access {
        Access::Full => "f",
        Access::Read => "r",
    }
}

/// One cookie's value from the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether a browser sent this request from a page of another origin.
fn cross_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    origin == "null" || origin_host != host
}

/// The guard in front of every page and API route.
pub async fn guard(State(app): State<App>, mut request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/") || request.uri().path() == "/metrics";
    let peer = peer_ip(&request);
    let caller = match app.auth.identify(request.headers(), peer) {
        Ok(caller) => Some(caller),
        Err(Refusal::Barred(wait)) => return barred(wait).into_response(),
        Err(Refusal::Wrong) if api => {
            return ApiError::unauthorized("that is not the cluster token").into_response()
        }
        Err(_) => None,
    };
    let Some(caller) = caller else {
        if api {
            return ApiError::unauthorized("a token is required: Authorization: Bearer T")
                .into_response();
        }
        let next_path = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        return Redirect::to(&format!("/login?next={}", encode(next_path))).into_response();
    };
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes && cross_origin(request.headers()) {
        return ApiError::unauthorized("a request from another origin may not change anything")
            .into_response();
    }
    // Logging out changes nothing; anything else that writes needs full access.
    if changes && !caller.may_change() && request.uri().path() != "/logout" {
        return ApiError::unauthorized("the read-only token may look but not change anything")
            .into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// `/login` and `/logout`.
pub fn routes() -> Router<App> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

/// Only a path on this site: never an absolute URL to go to after login.
fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p,
        _ => "/",
    }
}

async fn login_page(State(app): State<App>, Query(q): Query<NextQuery>) -> Response {
    if !app.auth.required() {
        return Redirect::to(local_path(q.next.as_deref())).into_response();
    }
    login_markup(local_path(q.next.as_deref()), None).into_response()
}

async fn login(
    State(app): State<App>,
    connected: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = local_path(form.next.as_deref()).to_string();
    if !app.auth.required() {
        return Redirect::to(&next).into_response();
    }
    let ip = connected.map(|axum::Extension(ConnectInfo(addr))| addr.ip());
    let guard = app.auth.security.guard();
    if let Some(wait) = ip.and_then(|ip| guard.barred(ip, Instant::now())) {
        let text = barred_text(wait);
        return (StatusCode::UNAUTHORIZED, login_markup(&next, Some(&text))).into_response();
    }
    let access = app.auth.security.access(&form.token);
    let Some(access) = access.filter(|_| !cross_origin(&headers)) else {
        let wait = ip.and_then(|ip| guard.failed(ip, Instant::now()));
        let who = ip.map_or_else(|| "?".to_string(), |ip| ip.to_string());
        app.auth.security.refusals().note(
            &who,
            &format!("console: a login with a wrong token from {who}"),
        );
        let text = wait.map_or_else(|| "That is not the cluster token.".to_string(), barred_text);
        return (StatusCode::UNAUTHORIZED, login_markup(&next, Some(&text))).into_response();
    };
    if let Some(ip) = ip {
        guard.succeeded(ip);
    }
    let value = app.auth.new_session(access);
    (
        [(
            header::SET_COOKIE,
            app.auth.cookie(&value, SESSION_MS / 1000),
        )],
        Redirect::to(&next),
    )
        .into_response()
}

async fn logout(State(app): State<App>) -> Response {
    (
        [(header::SET_COOKIE, app.auth.cookie("", 0))],
        Redirect::to("/login"),
    )
        .into_response()
}

fn login_markup(next: &str, error: Option<&str>) -> Markup {
    super::pages::bare_page(
        "Log in",
        html! {
            form.login method="post" action="/login" {
                h1 { "lts console" }
                p.muted { "This cluster needs its token. It is kept in a session cookie for 12 hours." }
                @if let Some(error) = error { p.error role="alert" { (error) } }
                label for="token" { "Cluster token" }
                input #token type="password" name="token" autocomplete="current-password" autofocus required;
                input type="hidden" name="next" value=(next);
                button.primary type="submit" { "Log in" }
            }
        },
    )
}

/// Percent-encode a path for a query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
