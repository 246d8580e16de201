//! [`WebResponse`]: what an endpoint answers, in `http` crate types, for an adapter to write.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::Value;

use super::errors::{ErrorCode, GuardRejection};

/// `Retry-After` seconds when the store is unavailable.
pub(crate) const STORE_RETRY_AFTER: u64 = 5;

/// A response to write: status, headers (`Content-Type` included when there is a body) and
/// body (JSON, or empty for 204).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// The fields an error body may carry besides `error` and `message`, in the order they are
/// written.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ErrorExtras {
    pub(crate) retry_after: Option<u64>,
    pub(crate) reason: Option<&'static str>,
    pub(crate) attempts_left: Option<u32>,
}

// Every error body. With the `openapi` feature the document's error schema is derived from this
// type, and each response narrows `error` (and requires the extras it carries).
/// An error: a stable code, human text, and the extras some codes carry.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = twofactor::Error))]
pub(crate) struct ErrorBody<'a> {
    /// A stable snake_case code.
    pub(crate) error: &'a str,
    /// Human text, never an echo of the request.
    pub(crate) message: &'a str,
    /// Whole seconds until the limit lifts (at least 1), as in `Retry-After`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false, minimum = 1))]
    pub(crate) retry_after: Option<u64>,
    /// Which limit refused (`rate_limited`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub(crate) reason: Option<&'a str>,
    /// Attempts left before the lock (`incorrect_code`), at least 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false, minimum = 1))]
    pub(crate) attempts_left: Option<u32>,
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

impl WebResponse {
    /// A JSON response of `body`.
    pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Self {
        // Serializing the contract's plain structs cannot fail.
        let body = serde_json::to_vec(body)
            .map(Bytes::from)
            .unwrap_or_default();
        Self::raw_json(status, body)
    }

    /// A JSON response of bytes already serialized.
    pub(crate) fn raw_json(status: StatusCode, body: Bytes) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, JSON);
        Self {
            status,
            headers,
            body,
        }
    }

    /// An empty response.
    pub(crate) fn empty(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// The contract's error body for `code`: `{"error": code, "message": message}`.
    pub fn error(code: ErrorCode, message: &str) -> Self {
        Self::error_with(code, message, ErrorExtras::default())
    }

    pub(crate) fn error_with(code: ErrorCode, message: &str, extras: ErrorExtras) -> Self {
        Self::error_body(code.status(), code.as_str(), message, extras)
    }

    pub(crate) fn error_body(
        status: StatusCode,
        code: &str,
        message: &str,
        extras: ErrorExtras,
    ) -> Self {
        let mut r = Self::json(
            status,
            &ErrorBody {
                error: code,
                message,
                retry_after: extras.retry_after,
                reason: extras.reason,
                attempts_left: extras.attempts_left,
            },
        );
        if let Some(secs) = extras.retry_after {
            r.headers
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(message: &str) -> Self {
        Self::error(ErrorCode::InvalidRequest, message)
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large() -> Self {
        Self::error(
            ErrorCode::PayloadTooLarge,
            "request bodies are limited to 4096 bytes",
        )
    }

    /// 400 `invalid_request`, for a body that could not be read (the client broke off, or
    /// sent a malformed chunked encoding).
    pub fn unreadable_body() -> Self {
        Self::invalid_request("the request body could not be read")
    }

    /// 404 `not_found`, for unknown paths under the endpoints' prefix.
    pub fn not_found() -> Self {
        Self::error(ErrorCode::NotFound, "no such endpoint")
    }

    /// 405 `method_not_allowed`, with `Allow`.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut r = Self::error(ErrorCode::MethodNotAllowed, "method not allowed");
        r.headers
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        r
    }

    /// 500 `internal_error`, opaque: for a server misconfiguration (never a client's mistake).
    /// What went wrong goes to the log, not to the client.
    pub fn internal() -> Self {
        Self::error(ErrorCode::InternalError, "internal server error")
    }

    /// 503 `service_unavailable` with `Retry-After`: the store (or the app's session store)
    /// cannot be reached.
    pub fn unavailable() -> Self {
        Self::error_with(
            ErrorCode::ServiceUnavailable,
            "verification is temporarily unavailable",
            ErrorExtras {
                retry_after: Some(STORE_RETRY_AFTER),
                ..ErrorExtras::default()
            },
        )
    }

    /// The answer to a guarded request that was refused: 401 with
    /// `WWW-Authenticate: Bearer realm="phone"`, or 503 when no proof can be checked.
    pub fn rejected(rejection: GuardRejection) -> Self {
        let message = match rejection {
            GuardRejection::Required => "verify your phone number first",
            GuardRejection::Stale => "verify your phone number again",
            GuardRejection::Unavailable => return Self::unavailable(),
            GuardRejection::Misconfigured => return Self::internal(),
        };
        let mut r = Self::error(rejection.code(), message);
        r.headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"phone\""),
        );
        r
    }
}

impl GuardRejection {
    /// The contract's response to this rejection (see [`WebResponse::rejected`]).
    pub fn response(&self) -> WebResponse {
        WebResponse::rejected(*self)
    }
}

/// `body` (a serialized JSON object) with `fields` appended, in their order.
pub(crate) fn append_fields<'a>(
    body: &[u8],
    fields: impl Iterator<Item = (&'a str, &'a Value)>,
) -> Bytes {
    let mut out = body.to_vec();
    if out.last() != Some(&b'}') {
        return Bytes::from(out);
    }
    out.pop();
    let mut empty = out.last() == Some(&b'{');
    for (name, value) in fields {
        if !empty {
            out.push(b',');
        }
        empty = false;
        // A string and a JSON value always serialize.
        let _ = serde_json::to_writer(&mut out, name);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, value);
    }
    out.push(b'}');
    Bytes::from(out)
}
