//! The console's pages, rendered on the server with `maud` (which escapes
//! every value it splices in), plus the style sheet and script they load.

use super::App;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};

/// The style sheet and the script, compiled into the binary.
const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

pub fn routes() -> Router<App> {
    Router::new().route("/", get(overview))
}

/// `/assets/*`: served to anyone, so the login page is styled.
pub fn assets() -> Router<App> {
    Router::new()
        .route(
            "/assets/console.css",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    CSS,
                )
            }),
        )
        .route(
            "/assets/console.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    JS,
                )
            }),
        )
}

/// A page without the navigation (the login page).
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · lts" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body { main { (body) } }
        }
    }
}

async fn overview() -> impl IntoResponse {
    bare_page("Overview", html! { h1 { "lts" } })
}
