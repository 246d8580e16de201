//! The HTTP contract of DESIGN §3, framework-free.
//!
//! Both adapters (`twofactor-tower`, `twofactor-actix`) are thin: they read the request (method,
//! headers, peer address, body up to [`MAX_BODY`] bytes), call one function here, and write the
//! [`WebResponse`] it returns. Every status, body, header and cookie is decided here, once, so
//! the two adapters answer byte for byte the same.
//!
//! | function | endpoint |
//! |---|---|
//! | [`TwoFactor::send`] | `POST {prefix}/send` |
//! | [`TwoFactor::verify`] | `POST {prefix}/verify` |
//! | [`TwoFactor::status`] | `GET {prefix}/status` |
//! | [`TwoFactor::logout`] | `POST {prefix}/logout` |
//! | [`TwoFactor::authenticate`] | the guard and the extractors |
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use http::{HeaderMap, HeaderValue, StatusCode, header};
//! use twofactor_core::mock::MockProvider;
//! use twofactor_core::web::TwoFactor;
//! use twofactor_core::PhoneVerifier;
//!
//! let tf = TwoFactor::new(PhoneVerifier::builder(MockProvider::new()).build().unwrap());
//! let mut headers = HeaderMap::new();
//! headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
//! let response = tf.send(&headers, None, br#"{"phone":"+919812345678"}"#).await;
//! assert_eq!(response.status, StatusCode::OK);
//! assert_eq!(
//!     &response.body[..],
//!     br#"{"status":"pending","phone":"+919812345678","expires_in":600,"resend_in":30}"#
//! );
//! # }
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::token::{TokenError, VerifiedPhone};
use crate::verifier::{Context, PhoneVerifier, SendError, VerifyError, retry_secs};
use crate::{Channel, ProviderErrorKind};

/// Largest request body accepted; larger ones get 413 `payload_too_large`.
pub const MAX_BODY: usize = 4096;
/// The default cookie name.
pub const DEFAULT_COOKIE: &str = "twofactor_phone";
/// `Allow` of the POST endpoints (`send`, `verify`, `logout`).
pub const ALLOW_POST: &str = "POST";
/// `Allow` of `status`: GET, and HEAD as axum's `get` routes answer it.
pub const ALLOW_STATUS: &str = "GET, HEAD";
/// `Retry-After` seconds when the store is unavailable.
pub const STORE_RETRY_AFTER: u64 = 5;

/// How the endpoints talk HTTP: cookie, token lifetime, client address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebConfig {
    /// The cookie's name (default `twofactor_phone`).
    pub cookie_name: String,
    /// Whether the cookie is `Secure` (default true; turn off only for plain-http development).
    pub cookie_secure: bool,
    /// Token lifetime, instead of the policy's.
    pub token_ttl: Option<Duration>,
    /// Whether to take the client address from `X-Forwarded-For` (default false: the peer
    /// address). Turn on only behind a proxy you control, which sets the header.
    pub trust_forwarded_for: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            cookie_name: DEFAULT_COOKIE.to_owned(),
            cookie_secure: true,
            token_ttl: None,
            trust_forwarded_for: false,
        }
    }
}

/// The engine and its HTTP configuration: the state both adapters mount. Cheap to clone.
///
/// Configure it with the `with_*` methods; see the module docs.
#[derive(Clone)]
pub struct TwoFactor {
    // One `Arc` for everything: the guard's service is cloned for every request in axum, and
    // one atomic increment is cheaper than one per field.
    inner: Arc<Shared>,
}

struct Shared {
    verifier: PhoneVerifier,
    config: WebConfig,
    // Precomputed: the header value of the cookie that logs out.
    clear_cookie: HeaderValue,
}

impl fmt::Debug for TwoFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactor")
            .field("verifier", &self.inner.verifier)
            .field("config", &self.inner.config)
            .finish()
    }
}

/// A response to write, in `http` crate types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers (`Content-Type` included when there is a body).
    pub headers: HeaderMap,
    /// The body (JSON, or empty for 204).
    pub body: Bytes,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_left: Option<u32>,
}

impl WebResponse {
    fn json(status: StatusCode, body: &impl Serialize) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // Serializing these plain structs cannot fail.
        let body = serde_json::to_vec(body)
            .map(Bytes::from)
            .unwrap_or_default();
        Self {
            status,
            headers,
            body,
        }
    }

    /// An error response of the contract: `{"error": code, "message": message}`.
    pub fn error(status: StatusCode, code: &str, message: &str) -> Self {
        Self::json(
            status,
            &ErrorBody {
                error: code,
                message,
                retry_after: None,
                reason: None,
                attempts_left: None,
            },
        )
    }

    fn error_with(
        status: StatusCode,
        code: &str,
        message: &str,
        retry_after: Option<u64>,
        attempts_left: Option<u32>,
    ) -> Self {
        let mut r = Self::json(
            status,
            &ErrorBody {
                error: code,
                message,
                retry_after,
                reason: None,
                attempts_left,
            },
        );
        if let Some(secs) = retry_after {
            r.headers
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(message: &str) -> Self {
        Self::error(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large() -> Self {
        Self::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
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
        Self::error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    }

    /// 405 `method_not_allowed`, with `Allow`.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut r = Self::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
        );
        r.headers
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        r
    }

    /// 500 `internal_error`, opaque: for a server misconfiguration (never a client's mistake).
    pub fn internal(message: &str) -> Self {
        Self::error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }
}

/// Why the guard or an extractor refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardRejection {
    /// No token, or a missing, tampered, expired or unknown-key token.
    #[error("phone verification required")]
    Required,
    /// A valid token older than the route's freshness limit.
    #[error("phone verification is too old for this route")]
    Stale,
}

impl GuardRejection {
    /// The 401 of the contract, with `WWW-Authenticate: Bearer realm="phone"`.
    pub fn response(&self) -> WebResponse {
        let (code, message) = match self {
            Self::Required => (
                "phone_verification_required",
                "verify your phone number first",
            ),
            Self::Stale => ("phone_verification_stale", "verify your phone number again"),
        };
        let mut r = WebResponse::error(StatusCode::UNAUTHORIZED, code, message);
        r.headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"phone\""),
        );
        r
    }
}

#[derive(serde::Deserialize)]
struct SendBody {
    phone: String,
    #[serde(default)]
    channel: Option<Channel>,
}

#[derive(serde::Deserialize)]
struct VerifyBody {
    phone: String,
    code: String,
}

#[derive(Serialize)]
struct SentBody {
    status: &'static str,
    phone: String,
    expires_in: u64,
    resend_in: u64,
}

#[derive(Serialize)]
struct VerifiedBody<'a> {
    status: &'static str,
    phone: String,
    token: &'a str,
    expires_in: u64,
}

#[derive(Serialize)]
struct StatusBody {
    verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verified_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
}

/// Whether `Content-Length` announces more than [`MAX_BODY`] bytes: answer
/// [`WebResponse::payload_too_large`] before reading anything.
pub fn announces_too_large(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY as u64)
}

/// Whether `Content-Type` is JSON (`application/json` or `application/*+json`, any parameters).
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

// The error is the response itself; it is built once per refused request.
#[allow(clippy::result_large_err)]
fn parse_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, WebResponse> {
    if body.len() > MAX_BODY {
        return Err(WebResponse::payload_too_large());
    }
    if !is_json(headers) {
        return Err(WebResponse::invalid_request(
            "Content-Type must be application/json",
        ));
    }
    // serde would also read a struct from a JSON array; the contract's bodies are objects.
    if body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b != b'{')
    {
        return Err(WebResponse::invalid_request(
            "the body must be a JSON object",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        // serde's messages can quote the offending value; only "missing field" is echoed, so
        // that nothing a client sent (a code, say) comes back in a response.
        let message = match e.classify() {
            serde_json::error::Category::Data => {
                let text = e.to_string();
                match text.split(" at line").next() {
                    Some(missing) if missing.starts_with("missing field") => missing.to_owned(),
                    _ => "a field has the wrong type or value".to_owned(),
                }
            }
            _ => "malformed JSON".to_owned(),
        };
        WebResponse::invalid_request(&message)
    })
}

/// The token a request carries: `Authorization: Bearer <token>` if present, else the cookie.
pub fn token<'h>(headers: &'h HeaderMap, cookie_name: &str) -> Option<&'h str> {
    token_from(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        cookie_name,
    )
}

/// [`token`] for adapters whose header types are not `http` 1.x (actix-web): the token in the
/// first `Authorization` value if it is a bearer one, else in the `Cookie` values. Borrows,
/// never allocates — the guard runs it on every protected request.
pub fn token_from<'h>(
    authorization: Option<&'h str>,
    cookies: impl IntoIterator<Item = &'h str>,
    cookie_name: &str,
) -> Option<&'h str> {
    if let Some(auth) = authorization {
        let mut parts = auth.trim().splitn(2, ' ');
        if parts
            .next()
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
        {
            return parts.next().map(str::trim).filter(|t| !t.is_empty());
        }
    }
    cookies
        .into_iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie_name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|t| !t.is_empty())
}

/// The client's address: the peer's, or with `trust_forwarded_for` the right-most valid
/// address of `X-Forwarded-For` (the one your proxy appended; those left of it are whatever
/// the client claimed).
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    if trust_forwarded_for {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .next_back();
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer.map(|p| p.ip())
}

impl TwoFactor {
    /// The endpoints over `verifier`, with the default [`WebConfig`].
    pub fn new(verifier: PhoneVerifier) -> Self {
        Self::with_config(verifier, WebConfig::default())
    }

    /// The endpoints over `verifier` with `config`.
    pub fn with_config(verifier: PhoneVerifier, config: WebConfig) -> Self {
        let clear_cookie = cookie_header(&config, "", 0);
        Self {
            inner: Arc::new(Shared {
                verifier,
                config,
                clear_cookie,
            }),
        }
    }

    fn reconfigure(self, f: impl FnOnce(&mut WebConfig)) -> Self {
        let mut config = self.inner.config.clone();
        f(&mut config);
        Self::with_config(self.inner.verifier.clone(), config)
    }

    /// Sets the cookie's name.
    #[must_use]
    pub fn with_cookie_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.reconfigure(|c| c.cookie_name = name)
    }

    /// Sets whether the cookie is `Secure` (keep it on except for plain-http development).
    #[must_use]
    pub fn with_cookie_secure(self, secure: bool) -> Self {
        self.reconfigure(|c| c.cookie_secure = secure)
    }

    /// Sets the token lifetime (instead of the policy's).
    #[must_use]
    pub fn with_token_ttl(self, ttl: Duration) -> Self {
        self.reconfigure(|c| c.token_ttl = Some(ttl))
    }

    /// Sets whether to trust `X-Forwarded-For` for the client address.
    #[must_use]
    pub fn with_trust_forwarded_for(self, trust: bool) -> Self {
        self.reconfigure(|c| c.trust_forwarded_for = trust)
    }

    /// The engine.
    pub fn verifier(&self) -> &PhoneVerifier {
        &self.inner.verifier
    }

    /// The HTTP configuration.
    pub fn config(&self) -> &WebConfig {
        &self.inner.config
    }

    /// `POST {prefix}/send`.
    pub async fn send(
        &self,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        body: &[u8],
    ) -> WebResponse {
        let req: SendBody = match parse_json(headers, body) {
            Ok(req) => req,
            Err(r) => return r,
        };
        let ctx = Context::new()
            .with_client_ip(client_ip(
                headers,
                peer,
                self.inner.config.trust_forwarded_for,
            ))
            .with_channel(req.channel.unwrap_or_default());
        match self.inner.verifier.send(&req.phone, &ctx).await {
            Ok(sent) => WebResponse::json(
                StatusCode::OK,
                &SentBody {
                    status: "pending",
                    phone: sent.phone.e164(),
                    expires_in: sent.expires_in.as_secs(),
                    resend_in: sent.resend_in.as_secs(),
                },
            ),
            Err(e) => send_error(&e),
        }
    }

    /// `POST {prefix}/verify`.
    pub async fn verify(
        &self,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        body: &[u8],
    ) -> WebResponse {
        let req: VerifyBody = match parse_json(headers, body) {
            Ok(req) => req,
            Err(r) => return r,
        };
        let ctx = Context::new()
            .with_client_ip(client_ip(
                headers,
                peer,
                self.inner.config.trust_forwarded_for,
            ))
            .with_token_ttl(self.inner.config.token_ttl);
        match self
            .inner
            .verifier
            .verify(&req.phone, &req.code, &ctx)
            .await
        {
            Ok(v) => {
                let mut r = WebResponse::json(
                    StatusCode::OK,
                    &VerifiedBody {
                        status: "verified",
                        phone: v.proof.phone().e164(),
                        token: &v.token,
                        expires_in: v.expires_in.as_secs(),
                    },
                );
                r.headers.insert(
                    header::SET_COOKIE,
                    cookie_header(&self.inner.config, &v.token, v.expires_in.as_secs()),
                );
                r
            }
            Err(e) => verify_error(&e),
        }
    }

    /// `GET {prefix}/status`.
    pub fn status(&self, headers: &HeaderMap) -> WebResponse {
        let span = tracing::info_span!(
            "twofactor.status",
            phone = tracing::field::Empty,
            outcome = tracing::field::Empty
        );
        let _entered = span.enter();
        let proof = self.authenticate(headers, None);
        if let Ok(proof) = &proof {
            span.record("phone", tracing::field::display(proof.phone().masked()));
        }
        span.record(
            "outcome",
            if proof.is_ok() {
                "verified"
            } else {
                "unverified"
            },
        );
        let body = match proof {
            Ok(proof) => StatusBody {
                verified: true,
                phone: Some(proof.phone().e164()),
                verified_at: Some(proof.verified_at_unix()),
                expires_in: Some(proof.expires_in(self.inner.verifier.clock().now())),
            },
            Err(_) => StatusBody {
                verified: false,
                phone: None,
                verified_at: None,
                expires_in: None,
            },
        };
        WebResponse::json(StatusCode::OK, &body)
    }

    /// `POST {prefix}/logout`: 204 and a cookie that clears the token's. No body is needed, so
    /// none is read; one announced as over [`MAX_BODY`] is still refused, as on every endpoint.
    pub fn logout(&self, headers: &HeaderMap) -> WebResponse {
        if announces_too_large(headers) {
            return WebResponse::payload_too_large();
        }
        tracing::info_span!("twofactor.logout", outcome = "logged_out")
            .in_scope(|| tracing::debug!("cookie cleared"));
        let mut headers = HeaderMap::new();
        headers.insert(header::SET_COOKIE, self.inner.clear_cookie.clone());
        WebResponse {
            status: StatusCode::NO_CONTENT,
            headers,
            body: Bytes::new(),
        }
    }

    /// The guard's and the extractors' check: a valid token (bearer or cookie), fresh enough
    /// if `max_age` is given.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        max_age: Option<Duration>,
    ) -> Result<VerifiedPhone, GuardRejection> {
        self.authenticate_token(token(headers, &self.inner.config.cookie_name), max_age)
    }

    /// [`authenticate`](Self::authenticate) for a token already taken from the request (with
    /// [`token_from`]), for adapters whose header types are not `http` 1.x.
    pub fn authenticate_token(
        &self,
        token: Option<&str>,
        max_age: Option<Duration>,
    ) -> Result<VerifiedPhone, GuardRejection> {
        let token = token.ok_or(GuardRejection::Required)?;
        let proof = self
            .inner
            .verifier
            .authenticate(token)
            .map_err(|e| match e {
                TokenError::Expired | TokenError::Invalid => GuardRejection::Required,
            })?;
        match max_age {
            Some(max_age) if !proof.is_fresh(max_age, self.inner.verifier.clock().now()) => {
                Err(GuardRejection::Stale)
            }
            _ => Ok(proof),
        }
    }
}

fn cookie_header(config: &WebConfig, token: &str, max_age: u64) -> HeaderValue {
    let secure = if config.cookie_secure { "; Secure" } else { "" };
    let value = format!(
        "{}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}",
        config.cookie_name
    );
    // Tokens are base64url and cookie names come from configuration; a name that cannot be a
    // header value falls back to the default name rather than failing every login.
    HeaderValue::try_from(value).unwrap_or_else(|_| {
        HeaderValue::try_from(format!(
            "{DEFAULT_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    })
}

fn provider_response(e: &crate::ProviderError) -> WebResponse {
    match e.kind() {
        ProviderErrorKind::Timeout => WebResponse::error(
            StatusCode::GATEWAY_TIMEOUT,
            "provider_timeout",
            "the SMS provider did not answer in time",
        ),
        _ => WebResponse::error(
            StatusCode::BAD_GATEWAY,
            "provider_error",
            "the SMS provider failed",
        ),
    }
}

fn store_unavailable() -> WebResponse {
    WebResponse::error_with(
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
        "verification is temporarily unavailable",
        Some(STORE_RETRY_AFTER),
        None,
    )
}

/// 429 `rate_limited` with `retry_after`, `Retry-After` and the refusing limit as `reason`.
fn rate_limited(
    e: &dyn std::fmt::Display,
    limit: crate::store::Limit,
    retry_after: u64,
) -> WebResponse {
    let message = e.to_string();
    let mut r = WebResponse::json(
        StatusCode::TOO_MANY_REQUESTS,
        &ErrorBody {
            error: "rate_limited",
            message: &message,
            retry_after: Some(retry_after),
            reason: Some(limit.as_str()),
            attempts_left: None,
        },
    );
    r.headers
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    r
}

/// The contract's response to a send error.
pub fn send_error(e: &SendError) -> WebResponse {
    let message = e.to_string();
    match e {
        SendError::InvalidPhone => WebResponse::error(StatusCode::BAD_REQUEST, e.code(), &message),
        SendError::PhoneNotAllowed { .. } => {
            WebResponse::error(StatusCode::FORBIDDEN, e.code(), &message)
        }
        SendError::ChannelUnsupported(_) => WebResponse::invalid_request(&message),
        SendError::RateLimited { limit, retry_after } => {
            rate_limited(e, *limit, retry_secs(*retry_after))
        }
        SendError::Provider(p) => provider_response(p),
        SendError::StoreUnavailable(_) => store_unavailable(),
    }
}

/// The contract's response to a verify error.
pub fn verify_error(e: &VerifyError) -> WebResponse {
    let message = e.to_string();
    match e {
        VerifyError::InvalidPhone | VerifyError::InvalidCode { .. } => {
            WebResponse::error(StatusCode::BAD_REQUEST, e.code(), &message)
        }
        VerifyError::PhoneNotAllowed { .. } => {
            WebResponse::error(StatusCode::FORBIDDEN, e.code(), &message)
        }
        VerifyError::NoLiveCode => WebResponse::error(StatusCode::GONE, e.code(), &message),
        VerifyError::Incorrect { attempts_left } => WebResponse::error_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.code(),
            &message,
            None,
            Some(*attempts_left),
        ),
        VerifyError::TooManyAttempts { retry_after } => WebResponse::error_with(
            StatusCode::TOO_MANY_REQUESTS,
            e.code(),
            &message,
            Some(retry_secs(*retry_after)),
            None,
        ),
        VerifyError::RateLimited { limit, retry_after } => {
            rate_limited(e, *limit, retry_secs(*retry_after))
        }
        VerifyError::Provider(p) => provider_response(p),
        VerifyError::StoreUnavailable(_) => store_unavailable(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::try_from(*k).unwrap(),
                HeaderValue::try_from(*v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn tokens_come_from_bearer_first_then_the_cookie() {
        let h = headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "twofactor_phone=def"),
        ]);
        assert_eq!(token(&h, DEFAULT_COOKIE), Some("abc"));
        let h = headers(&[("cookie", "a=1; twofactor_phone=def; b=2")]);
        assert_eq!(token(&h, DEFAULT_COOKIE), Some("def"));
        let h = headers(&[
            ("authorization", "Basic xyz"),
            ("cookie", "x=1"),
            ("cookie", "twofactor_phone=ghi"),
        ]);
        assert_eq!(token(&h, DEFAULT_COOKIE), Some("ghi"));
        assert_eq!(
            token(&headers(&[("cookie", "twofactor_phone=")]), DEFAULT_COOKIE),
            None
        );
        assert_eq!(token(&HeaderMap::new(), DEFAULT_COOKIE), None);
    }

    #[test]
    fn token_from_parts_matches_token_from_headers() {
        assert_eq!(
            token_from(Some("bearer abc "), ["twofactor_phone=def"], DEFAULT_COOKIE),
            Some("abc")
        );
        // A bearer scheme with no token does not fall back to the cookie, as with headers.
        assert_eq!(
            token_from(Some("Bearer "), ["twofactor_phone=def"], DEFAULT_COOKIE),
            None
        );
        assert_eq!(
            token_from(
                Some("Basic xyz"),
                ["x=1", "twofactor_phone=\"ghi\""],
                DEFAULT_COOKIE
            ),
            Some("ghi")
        );
        assert_eq!(token_from(None, [], DEFAULT_COOKIE), None);
    }

    #[test]
    fn client_ip_trusts_forwarded_for_only_when_told() {
        let peer = Some("10.0.0.1:5000".parse().unwrap());
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.2")]);
        assert_eq!(
            client_ip(&h, peer, false),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            client_ip(&h, peer, true),
            Some("198.51.100.2".parse().unwrap())
        );
        assert_eq!(
            client_ip(&headers(&[("x-forwarded-for", "junk")]), peer, true),
            Some("10.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(is_json(&headers(&[("content-type", ok)])), "{ok}");
        }
        for bad in ["text/plain", "application/jsonx", "multipart/form-data", ""] {
            assert!(!is_json(&headers(&[("content-type", bad)])), "{bad}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
