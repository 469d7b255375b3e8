//! Extractors whose rejections are the API's own `{error, message}` JSON (axum's answer plain
//! text), for path segments, query strings and request bodies.

use super::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A query string; an unknown parameter or a bad value is a 400 (with `deny_unknown_fields`).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

/// Path parameters (`/api/v1/events/{id}`); one that does not decode (not UTF-8) is a 400.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| ApiPath(p))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

/// A JSON body; an empty body is the type's default.
pub struct ApiBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for ApiBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ApiBody(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(ApiBody)
            .map_err(|e| ApiError::BadRequest(format!("the body is not valid: {e}")))
    }
}

/// A query value: absent and empty (`?state=`) alike mean "not given".
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// A query value that names a variant of a contract enum (`dead`, `partial`, `verified`, ...).
pub fn variant<T: DeserializeOwned>(
    name: &str,
    value: &Option<String>,
) -> Result<Option<T>, ApiError> {
    given(value)
        .map(|v| {
            serde_json::from_value(serde_json::Value::String(v.to_owned()))
                .map_err(|_| ApiError::BadRequest(format!("{name}: {v:?} is not a valid value")))
        })
        .transpose()
}
