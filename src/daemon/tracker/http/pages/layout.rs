//! What every page shares: the request context (`Ctx`: the tracker, the
//! caller and its CSRF token, a flash message left by the last action), the
//! layout with the top navigation, and small pieces: state badges, times,
//! the error page, redirects that leave a flash message.

use super::super::auth::Caller;
use super::super::error::ApiError;
use super::super::App;
use super::fmt;
use crate::model::{now_ms, Millis};
use crate::protocol::WireError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono_tz::Tz;
use maud::{html, Markup, DOCTYPE};

/// The cookie that carries a message from an action to the page after its redirect.
const FLASH: &str = "lts_flash";
/// The longest flash message kept.
const FLASH_MAX: usize = 600;

/// Which entry of the navigation a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Jobs,
    Submit,
    Nodes,
    Alerts,
    Flows,
}

const NAV: [(Nav, &str, &str); 6] = [
    (Nav::Overview, "/", "Overview"),
    (Nav::Jobs, "/jobs", "Jobs"),
    (Nav::Flows, "/flows", "Flows"),
    (Nav::Submit, "/submit", "Submit"),
    (Nav::Nodes, "/nodes", "Nodes"),
    (Nav::Alerts, "/alerts", "Alerts"),
];

/// A message for the next page: what an action did, or why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

/// Everything a page handler needs about the request.
pub struct Ctx {
    pub app: App,
    pub caller: Caller,
    flash: Option<Flash>,
    /// The instant the page is rendered at: every relative time is from it.
    pub now: Millis,
}

impl FromRequestParts<App> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Some(caller) = parts.extensions.get::<Caller>().cloned() else {
            // Only a route outside the guard gets here: a wiring mistake.
            return Err((StatusCode::INTERNAL_SERVER_ERROR, "no caller").into_response());
        };
        Ok(Ctx {
            app: app.clone(),
            caller,
            flash: read_flash(&parts.headers),
            now: now_ms(),
        })
    }
}

fn read_flash(headers: &HeaderMap) -> Option<Flash> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == FLASH)
        .map(|(_, v)| fmt::percent_decode(v))?;
    let (kind, text) = value.split_once(':')?;
    Some(Flash {
        ok: kind == "ok",
        text: crate::model::cut(text, FLASH_MAX),
    })
}

/// A 303 to `to` (a path on this site) that leaves `flash` for the page there.
pub fn redirect(to: &str, flash: Flash) -> Response {
    let kind = if flash.ok { "ok" } else { "err" };
    let value = super::super::auth::encode(&format!(
        "{kind}:{}",
        crate::model::cut(&flash.text, FLASH_MAX)
    ));
    let cookie = format!("{FLASH}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=60");
    let mut response = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// Only a path on this site, never an absolute URL: where to go back to.
pub fn local_path(path: &str, fallback: &str) -> String {
    if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') {
        path.to_string()
    } else {
        fallback.to_string()
    }
}

impl Ctx {
    /// The tracker's time zone, in which the pages show times.
    pub fn zone(&self) -> Tz {
        self.app.t.zone
    }

    /// A page of the console, with status 200.
    pub fn page(&self, nav: Option<Nav>, title: &str, body: Markup) -> Response {
        self.page_with(StatusCode::OK, nav, title, body)
    }

    /// A page of the console with `status`.
    pub fn page_with(
        &self,
        status: StatusCode,
        nav: Option<Nav>,
        title: &str,
        body: Markup,
    ) -> Response {
        let t = &self.app.t;
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                (head(title))
                body {
                    header.top {
                        a.brand href="/" { "lts" span.sub { "console" } }
                        nav.main aria-label="Console" {
                            @for (entry, href, label) in NAV {
                                @if Some(entry) == nav {
                                    a href=(href) aria-current="page" { (label) }
                                } @else {
                                    a href=(href) { (label) }
                                }
                            }
                        }
                        div.who {
                            span.cluster title="This tracker and its version" {
                                (t.id) " · v" (crate::VERSION)
                            }
                            @if !self.caller.may_change() {
                                span.muted title="Logged in with the read-only token: actions are refused" { " · read-only" }
                            }
                            @if self.caller.session {
                                form.logout method="post" action="/logout" {
                                    (self.csrf_field())
                                    button.link type="submit" { "Log out" }
                                }
                            }
                        }
                    }
                    main {
                        @if let Some(flash) = &self.flash {
                            @if flash.ok {
                                p.flash.ok role="status" { (flash.text) }
                            } @else {
                                p.flash.error role="alert" { (flash.text) }
                            }
                        }
                        (body)
                    }
                }
            }
        };
        let mut response = (status, markup).into_response();
        if self.flash.is_some() {
            let clear = format!("{FLASH}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
            if let Ok(v) = HeaderValue::from_str(&clear) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        response
    }

    /// The hidden field every state-changing form carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.caller.csrf); }
    }

    /// The groups of the workers this tracker knows, sorted, each once.
    pub fn worker_groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self
            .app
            .t
            .nodes()
            .into_iter()
            .filter(|n| n.role == crate::model::Role::Worker)
            .map(|n| n.group)
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }

    /// Whether a form's CSRF token is this caller's.
    pub fn csrf_ok(&self, presented: &str) -> bool {
        self.app.auth.csrf_ok(&self.caller, presented)
    }

    /// An instant: relative in the text, absolute in the title (the script
    /// keeps the text current and puts the viewer's own zone in the title).
    pub fn time(&self, at: Millis) -> Markup {
        self.time_in(at, self.zone())
    }

    /// An instant shown relative, with its absolute time in `zone` as the title.
    pub fn time_in(&self, at: Millis, zone: Tz) -> Markup {
        html! {
            time datetime=(crate::model::rfc3339(at)) title=(fmt::absolute(at, zone)) data-at=(at) {
                (fmt::relative(self.now, at))
            }
        }
    }

    /// An optional instant, or a dash.
    pub fn maybe_time(&self, at: Option<Millis>) -> Markup {
        match at {
            Some(at) => self.time(at),
            None => html! { span.muted { "–" } },
        }
    }

    /// The page for a failed tracker operation, with the status the API
    /// would answer.
    pub fn failure(&self, nav: Option<Nav>, e: WireError) -> Response {
        let status = ApiError::from(e.clone()).status;
        self.page_with(
            status,
            nav,
            "Error",
            html! {
                h1 { "Something went wrong" }
                p.error role="alert" { (e.to_string()) }
                p { a href="/" { "Back to the overview" } }
            },
        )
    }

    /// The answer to a form whose CSRF token is missing or wrong.
    pub fn forbidden(&self) -> Response {
        self.page_with(
            StatusCode::FORBIDDEN,
            None,
            "Refused",
            html! {
                h1 { "Refused" }
                p.error role="alert" {
                    "This form is out of date or did not come from this console "
                    "(its CSRF token does not match). Go back, reload the page and try again."
                }
            },
        )
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · lts" }
            link rel="stylesheet" href="/assets/console.css";
            script src="/assets/console.js" defer {}
        }
    }
}

/// A page without the navigation (the login page).
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare { main { (body) } }
        }
    }
}

/// A job's or run's state as a coloured badge; `word` is one of the fixed
/// state or outcome names, which are also CSS classes.
pub fn badge(word: &str) -> Markup {
    html! { span class={ "badge st-" (word) } { (word.replace('_', " ")) } }
}
