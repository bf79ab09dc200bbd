//! Errors: [`Error`] for starting and stopping the server, [`ApiError`] for one request (a
//! status and a JSON body `{"error": ..., "field": ...}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The index or the reranker failed to open or to commit.
    #[error(transparent)]
    Search(#[from] search::Error),
    /// The address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(std::net::SocketAddr, std::io::Error),
    /// The runtime or the listener failed.
    #[error(transparent)]
    Io(std::io::Error),
    /// A blocking task was lost (it panicked).
    #[error("a background task failed: {0}")]
    Task(String),
}

/// One request's failure, sent as `{"error": message, "field": name?}` with its status.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: None,
        }
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn status(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }
}

impl From<search::Error> for ApiError {
    fn from(e: search::Error) -> ApiError {
        use search::engine::Error as E;
        let status = match &e {
            search::Error::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            search::Error::Engine(E::InvalidArgument(_) | E::QuerySyntax(_)) => {
                StatusCode::BAD_REQUEST
            }
            search::Error::Engine(E::ReadOnly { .. }) => StatusCode::FORBIDDEN,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::status(status, e.to_string())
    }
}

impl From<search::engine::Error> for ApiError {
    fn from(e: search::engine::Error) -> ApiError {
        search::Error::from(e).into()
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::status(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the request's work failed: {e}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.message });
        if let Some(f) = self.field {
            body["field"] = serde_json::Value::String(f);
        }
        (self.status, Json(body)).into_response()
    }
}
