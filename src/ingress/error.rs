//! What the receiver answers when it does not take a request. Never leaks internals to the sender.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode, header};

#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    #[error("body exceeds the limit of {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("the body did not arrive within {0} ms")]
    BodyTimeout(u64),
    #[error("the request body could not be read")]
    BodyRead,
    #[error("too many request bodies are waiting to be stored")]
    Busy,
    #[error("the event could not be stored")]
    NotStored,
    #[error("the request head exceeds the limit of {limit} bytes")]
    HeadersTooLarge { limit: u64 },
    #[error("an HTTP/1.1 request needs a Host header")]
    MissingHost,
    #[error("CONNECT is not served here")]
    Connect,
    /// The request's `Via` names this instance: it relayed the request here itself.
    #[error("this request already went through this hooklens (its Via says so): a relay loop")]
    LoopDetected {
        /// This instance's own `Via` element, sent back so its relay does not retry.
        via: String,
    },
}

impl IngressError {
    pub fn status(&self) -> StatusCode {
        match self {
            IngressError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngressError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            IngressError::BodyRead | IngressError::MissingHost => StatusCode::BAD_REQUEST,
            IngressError::Connect => StatusCode::METHOD_NOT_ALLOWED,
            IngressError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            IngressError::Busy | IngressError::NotStored => StatusCode::SERVICE_UNAVAILABLE,
            IngressError::LoopDetected { .. } => StatusCode::LOOP_DETECTED,
        }
    }

    /// The machine-readable reason, as the sender sees it and `event.rejected` records it.
    pub fn code(&self) -> &'static str {
        match self {
            IngressError::BodyTooLarge { .. } => "body_too_large",
            IngressError::BodyTimeout(_) => "body_timeout",
            IngressError::BodyRead => "bad_body",
            IngressError::MissingHost => "missing_host",
            IngressError::HeadersTooLarge { .. } => "headers_too_large",
            IngressError::Connect => "method_not_allowed",
            IngressError::Busy => "busy",
            IngressError::NotStored => "not_stored",
            IngressError::LoopDetected { .. } => "loop_detected",
        }
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        let mut response = json_response(self.status(), &body);
        match &self {
            IngressError::Busy | IngressError::NotStored => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            }
            IngressError::Connect => {
                response.headers_mut().insert(
                    header::ALLOW,
                    header::HeaderValue::from_static(
                        "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
                    ),
                );
            }
            IngressError::LoopDetected { via } => {
                if let Ok(value) = header::HeaderValue::from_str(via) {
                    response.headers_mut().insert(header::VIA, value);
                }
            }
            _ => {}
        }
        response
    }
}

pub(super) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}
