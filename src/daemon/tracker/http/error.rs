//! The API's error answer: `{"error": "...", "code": "..."}` with the status
//! its code names (400, 401, 404, 409, 503), mapped once from `WireError`.

use crate::protocol::WireError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An API failure: a status, a code word and one line for people.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// The code word SPEC gives the status.
    pub fn code(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "conflict",
            _ => "unavailable",
        }
    }
}

impl From<WireError> for ApiError {
    fn from(e: WireError) -> Self {
        let status = match &e {
            WireError::InvalidInput(_) | WireError::Ambiguous { .. } => StatusCode::BAD_REQUEST,
            WireError::NotFound { .. } | WireError::Missing(_) => StatusCode::NOT_FOUND,
            WireError::Exists { .. } | WireError::KeyReused { .. } | WireError::Conflict(_) => {
                StatusCode::CONFLICT
            }
            WireError::ShuttingDown | WireError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.message, "code": self.code()});
        (self.status, Json(body)).into_response()
    }
}

/// Anything no route answers.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    let path = crate::model::cut(uri.path(), 80);
    ApiError::not_found(format!("no such page or API route: '{path}'"))
}
