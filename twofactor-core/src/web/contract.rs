//! [`Contract`]: the four endpoints and the guard's check, framework-free. The adapters read a
//! request, call one function here, and write the [`WebResponse`] it returns; the app's hooks
//! and the app's session are reached through closures the adapter passes in, so that every
//! decision — what is checked in which order, which status and body answer it, which cookie
//! is set — is taken here, once.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;

use super::config::{ProofStorage, WebConfig};
use super::errors::{ErrorCode, GuardRejection};
use super::hooks::{Approval, Refusal, SendPreview};
use super::request::{SendBody, VerifyBody, announces_too_large, parse_json, token};
use super::response::{ErrorExtras, WebResponse, append_fields};
use crate::outcome::{SendError, VerifyError, retry_secs};
use crate::provider::ProviderErrorKind;
use crate::token::PhoneProof;
use crate::verifier::{Context, PhoneVerifier};

/// The app's session could not be used, in session mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Its store could not be read or written: answered 503, like the library's own store.
    #[error("the app's session store is unavailable")]
    Unavailable,
    /// The request carries no session: the app's session layer or middleware is not
    /// installed (the adapter logs how to fix it). Answered with an opaque 500.
    #[error("the app's session layer is not installed")]
    NotInstalled,
}

impl SessionError {
    fn response(self) -> WebResponse {
        match self {
            Self::Unavailable => WebResponse::unavailable(),
            Self::NotInstalled => WebResponse::internal(),
        }
    }
}

/// One of the four endpoints, for an app that mounts only some of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST {prefix}/send`.
    Send,
    /// `POST {prefix}/verify`.
    Verify,
    /// `GET {prefix}/status`.
    Status,
    /// `POST {prefix}/logout`.
    Logout,
}

impl Endpoint {
    /// All four.
    pub const ALL: [Self; 4] = [Self::Send, Self::Verify, Self::Status, Self::Logout];

    /// The path under the prefix (`/send`, …).
    pub fn path(self) -> &'static str {
        match self {
            Self::Send => "/send",
            Self::Verify => "/verify",
            Self::Status => "/status",
            Self::Logout => "/logout",
        }
    }

    /// The `Allow` header of the endpoint.
    pub fn allow(self) -> &'static str {
        match self {
            Self::Status => super::adapter::ALLOW_STATUS,
            _ => super::adapter::ALLOW_POST,
        }
    }
}

/// The endpoints of the contract over one engine, with their HTTP configuration: what both
/// adapters mount. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Contract {
    // One `Arc` for everything: the handle is cloned into every request's extensions, and one
    // atomic increment is cheaper than one per field.
    inner: Arc<Shared>,
}

struct Shared {
    verifier: PhoneVerifier,
    config: WebConfig,
    // Precomputed: the header value of the cookie that logs out.
    clear_cookie: HeaderValue,
}

impl fmt::Debug for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contract")
            .field("verifier", &self.inner.verifier)
            .field("config", &self.inner.config)
            .finish()
    }
}

// The 200 bodies. With the `openapi` feature the document's schemas are derived from these very
// types (see `openapi.rs`), so a field added here is a field documented there.

/// `"pending"`: the only `status` of a send's 200.
#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) enum Pending {
    Pending,
}

/// `"verified"`: the only `status` of a verification's 200.
#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) enum Verified {
    Verified,
}

/// A code was sent.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = twofactor::SendResponse))]
pub(crate) struct SentBody {
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub(crate) status: Pending,
    /// The phone, normalised to E.164.
    #[cfg_attr(feature = "openapi", schema(example = "+919812345678"))]
    pub(crate) phone: String,
    /// Seconds until the code expires.
    pub(crate) expires_in: u64,
    /// Seconds until another code may be asked for.
    pub(crate) resend_in: u64,
}

/// The code matched: the proof, as a token (an app may add fields after these).
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = twofactor::VerifyResponse))]
pub(crate) struct VerifiedBody<'a> {
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub(crate) status: Verified,
    /// The verified phone, E.164.
    #[cfg_attr(feature = "openapi", schema(example = "+919812345678"))]
    pub(crate) phone: String,
    /// The proof: send it as `Authorization: Bearer <token>` (the cookie carries it too).
    pub(crate) token: &'a str,
    /// Seconds until the token expires.
    pub(crate) expires_in: u64,
}

/// Whether the request carries a valid proof: one of two shapes.
#[derive(Serialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = twofactor::StatusResponse))]
pub(crate) enum StatusBody {
    Verified(StatusVerified),
    Unverified(StatusUnverified),
}

/// A valid proof.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = twofactor::StatusVerified))]
pub(crate) struct StatusVerified {
    /// Always `true` in this shape.
    #[cfg_attr(feature = "openapi", schema(schema_with = always_true))]
    pub(crate) verified: bool,
    /// The verified phone, E.164.
    #[cfg_attr(feature = "openapi", schema(example = "+919812345678"))]
    pub(crate) phone: String,
    /// When it was verified, Unix seconds.
    pub(crate) verified_at: u64,
    /// Seconds until the proof expires.
    pub(crate) expires_in: u64,
}

/// No valid proof (none, or tampered, expired or revoked).
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = twofactor::StatusUnverified))]
pub(crate) struct StatusUnverified {
    /// Always `false` in this shape.
    #[cfg_attr(feature = "openapi", schema(schema_with = always_false))]
    pub(crate) verified: bool,
}

impl Contract {
    /// The endpoints over `verifier`, with the default [`WebConfig`].
    pub fn new(verifier: PhoneVerifier) -> Self {
        Self::with_config(verifier, WebConfig::default())
    }

    /// The endpoints over `verifier` with `config`.
    pub fn with_config(verifier: PhoneVerifier, config: WebConfig) -> Self {
        let clear_cookie = config.cookie.clear();
        Self {
            inner: Arc::new(Shared {
                verifier,
                config,
                clear_cookie,
            }),
        }
    }

    /// The engine.
    pub fn verifier(&self) -> &PhoneVerifier {
        &self.inner.verifier
    }

    /// The HTTP configuration.
    pub fn config(&self) -> &WebConfig {
        &self.inner.config
    }

    /// The grouped client address of a request (see the `client_addr` docs). Without a peer
    /// address and without trusted proxies the per-address caps cannot work; that is said
    /// loudly, once.
    pub fn client_address(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        let addressing = &self.inner.config.client;
        let ip = addressing.resolve(headers, peer);
        if ip.is_none() {
            crate::warn::once(
                "no-client-address",
                "twofactor: a request came without the client's address, so the per-address \
                 send and verify caps cannot apply; with axum serve the app with \
                 `into_make_service_with_connect_info::<SocketAddr>()`, or trust your proxy \
                 (TWOFACTOR_TRUST_FORWARDED_FOR / TWOFACTOR_CLIENT_IP_HEADER)",
            );
        }
        ip
    }

    /// `POST {prefix}/send`: the body is read, the phone parsed and allowed, then the app's
    /// `before_send` may refuse, then the engine applies its caps and sends.
    pub async fn send<H, F>(
        &self,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        body: &[u8],
        before_send: H,
    ) -> WebResponse
    where
        H: FnOnce(SendPreview) -> F,
        F: Future<Output = Result<(), Refusal>>,
    {
        let req = match parse_json::<SendBody>(headers, body) {
            Ok(req) => req,
            Err(r) => return r,
        };
        let verifier = &self.inner.verifier;
        let channel = req.channel.unwrap_or_default();
        let phone = match verifier.phone_parser().parse(&req.phone) {
            Ok(phone) => phone,
            Err(e) => return send_error(&SendError::from(e)),
        };
        if let Err(refusal) = before_send(SendPreview { phone, channel }).await {
            tracing::info!(phone = %phone.masked(), code = refusal.code(), "twofactor: the app refused a send");
            return refusal.response();
        }
        let ctx = Context::new()
            .with_client_ip(self.client_address(headers, peer))
            .with_channel(channel);
        match verifier.send_to(phone, &ctx).await {
            Ok(sent) => WebResponse::json(
                StatusCode::OK,
                &SentBody {
                    status: Pending::Pending,
                    phone: sent.phone.e164(),
                    expires_in: sent.expires_in.as_secs(),
                    resend_in: sent.resend_in.as_secs(),
                },
            ),
            Err(e) => send_error(&e),
        }
    }

    /// `POST {prefix}/verify`: the engine checks and, on a match, consumes the code; then the
    /// app's `after_verify` may refuse (the code stays consumed — see the `hooks` docs), bind
    /// the proof to a user or add fields; with [`ProofStorage::Session`] the proof is handed to
    /// `save_proof` for the app's session; then the answer: the token in the body and, with
    /// [`ProofStorage::Token`], in the cookie.
    pub async fn verify<A, AF, S, SF>(
        &self,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        body: &[u8],
        after_verify: A,
        save_proof: S,
    ) -> WebResponse
    where
        A: FnOnce(PhoneProof) -> AF,
        AF: Future<Output = Result<Approval, Refusal>>,
        S: FnOnce(PhoneProof) -> SF,
        SF: Future<Output = Result<(), SessionError>>,
    {
        let req = match parse_json::<VerifyBody>(headers, body) {
            Ok(req) => req,
            Err(r) => return r,
        };
        let ctx = Context::new().with_client_ip(self.client_address(headers, peer));
        let verifier = &self.inner.verifier;
        let verified = match verifier.verify(&req.phone, &req.code, &ctx).await {
            Ok(v) => v,
            Err(e) => return verify_error(&e),
        };
        let approval = match after_verify(verified.proof).await {
            Ok(approval) => approval,
            Err(refusal) => {
                tracing::info!(
                    phone = %verified.proof.phone().masked(),
                    code = refusal.code(),
                    "twofactor: the app refused a verification (the code is consumed)"
                );
                return refusal.response();
            }
        };
        let proof = match approval.subject() {
            Some(subject) => verified.proof.bound_to(subject),
            None => verified.proof,
        };
        let session = self.inner.config.proofs == ProofStorage::Session;
        if session && let Err(e) = save_proof(proof).await {
            return e.response();
        }
        let token = verifier.sign(&proof);
        let expires_in = verified.expires_in.as_secs();
        let mut response = WebResponse::json(
            StatusCode::OK,
            &VerifiedBody {
                status: Verified::Verified,
                phone: proof.phone().e164(),
                token: &token,
                expires_in,
            },
        );
        let mut fields = approval.fields().peekable();
        if fields.peek().is_some() {
            response.body = append_fields(&response.body, fields);
        }
        if !session {
            response.headers.insert(
                header::SET_COOKIE,
                self.inner.config.cookie.set(&token, expires_in),
            );
        }
        response
    }

    /// `GET {prefix}/status`, for the result of [`authenticate`](Self::authenticate).
    pub fn status(&self, proof: Result<PhoneProof, GuardRejection>) -> WebResponse {
        let span = tracing::info_span!(
            "twofactor.status",
            phone = tracing::field::Empty,
            outcome = tracing::field::Empty
        );
        let _entered = span.enter();
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
            Ok(proof) => StatusBody::Verified(StatusVerified {
                verified: true,
                phone: proof.phone().e164(),
                verified_at: proof.verified_at_unix(),
                expires_in: proof
                    .expires_in(self.inner.verifier.clock().now())
                    .as_secs(),
            }),
            Err(e @ (GuardRejection::Unavailable | GuardRejection::Misconfigured)) => {
                return e.response();
            }
            Err(_) => StatusBody::Unverified(StatusUnverified { verified: false }),
        };
        WebResponse::json(StatusCode::OK, &body)
    }

    /// `POST {prefix}/logout`: revokes the token the request carries (bearer or cookie), drops
    /// the session's proof with [`ProofStorage::Session`] (through `drop_session_proof`), and
    /// answers 204 with a cookie that clears the token's. No body is needed, so none is read;
    /// one announced as over the limit is still refused, as on every endpoint. If the
    /// revocation cannot be recorded in the store, the answer is 503: the token is refused on
    /// this instance already, but the client must know the logout is not yet everywhere.
    pub async fn logout<D, DF>(&self, headers: &HeaderMap, drop_session_proof: D) -> WebResponse
    where
        D: FnOnce() -> DF,
        DF: Future<Output = Result<(), SessionError>>,
    {
        if announces_too_large(headers) {
            return WebResponse::payload_too_large();
        }
        let mut failed = false;
        if self.inner.config.proofs == ProofStorage::Session
            && let Err(e) = drop_session_proof().await
        {
            if e == SessionError::NotInstalled {
                return e.response();
            }
            failed = true;
        }
        failed |= self
            .revoke_token(token(headers, &self.inner.config.cookie.name))
            .await
            .is_err();
        let mut response = if failed {
            WebResponse::unavailable()
        } else {
            WebResponse::empty(StatusCode::NO_CONTENT)
        };
        response
            .headers
            .insert(header::SET_COOKIE, self.inner.clear_cookie.clone());
        tracing::info!(
            outcome = if failed { "unavailable" } else { "logged_out" },
            "twofactor.logout"
        );
        response
    }

    /// Revokes `token` if it is one of ours and unexpired (a logout, the app's own logout):
    /// at once on this instance, within a second everywhere. An error means the store did not
    /// record it: the token is refused here, but not yet on other instances.
    pub async fn revoke_token(&self, token: Option<&[u8]>) -> Result<(), crate::store::StoreError> {
        let verifier = &self.inner.verifier;
        match token.map(|t| {
            verifier
                .keys()
                .verify_bytes(t, verifier.clock().now_millis())
        }) {
            // An expired or foreign token has nothing left to revoke.
            Some(Ok(proof)) => verifier.revoke(&proof).await,
            _ => Ok(()),
        }
    }

    /// The `Set-Cookie` value that clears the twofactor cookie (for an app's own logout).
    pub fn clear_cookie(&self) -> HeaderValue {
        self.inner.clear_cookie.clone()
    }

    /// The token a request carries: `Authorization: Bearer` if present, else the cookie; its
    /// bytes as the request has them (the checks refuse whatever is not a token).
    pub fn token<'h>(&self, headers: &'h HeaderMap) -> Option<&'h [u8]> {
        token(headers, &self.inner.config.cookie.name)
    }

    /// The guard's and the extractors' fast path: the check of `token` (bearer or cookie, as
    /// [`token`](Self::token) finds it), fresh enough if `max_age` is given, when it can be
    /// answered now with no I/O — proofs live in tokens (not in the app's session, which must
    /// be read) and the revocations are recent enough not to need a refresh from the store.
    /// `None` otherwise: then call [`authenticate`](Self::authenticate). The clock is read
    /// once, for the revocations' freshness and the proof's expiry alike.
    #[inline]
    pub fn check_now(
        &self,
        token: Option<&[u8]>,
        max_age: Option<Duration>,
    ) -> Option<Result<PhoneProof, GuardRejection>> {
        if self.inner.config.proofs != ProofStorage::Token {
            return None;
        }
        let verifier = &self.inner.verifier;
        let time = verifier.check_time();
        if !verifier.revocations_current_at(time.system_ms) {
            return None;
        }
        Some(counted(self.check_at(None, token, max_age, time.engine_ms)))
    }

    /// The check against the revocations as this process knows them, whatever their age: the
    /// first valid proof of `session_proof` (the app's session, in session mode) and `token`
    /// (bearer or cookie), fresh enough if `max_age` is given.
    pub fn check(
        &self,
        session_proof: Option<PhoneProof>,
        token: Option<&[u8]>,
        max_age: Option<Duration>,
    ) -> Result<PhoneProof, GuardRejection> {
        let now_ms = self.inner.verifier.clock().now_millis();
        counted(self.check_at(session_proof, token, max_age, now_ms))
    }

    /// [`check`](Self::check) at `now_ms` (the engine's clock, Unix ms), with no metrics.
    #[inline]
    fn check_at(
        &self,
        session_proof: Option<PhoneProof>,
        token: Option<&[u8]>,
        max_age: Option<Duration>,
        now_ms: u64,
    ) -> Result<PhoneProof, GuardRejection> {
        let verifier = &self.inner.verifier;
        let proof = session_proof
            .filter(|p| verifier.check_proof_at(p, now_ms).is_ok())
            .or_else(|| token.and_then(|t| verifier.authenticate_bytes(t, now_ms).ok()))
            .ok_or(GuardRejection::Required)?;
        match max_age {
            Some(max_age) if !proof.is_fresh_at(max_age, now_ms) => Err(GuardRejection::Stale),
            _ => Ok(proof),
        }
    }

    /// [`check`](Self::check), after bringing the revocations up to date when due; refuses
    /// with [`GuardRejection::Unavailable`] if they are too old and the store cannot be read.
    pub async fn authenticate(
        &self,
        session_proof: Option<PhoneProof>,
        token: Option<&[u8]>,
        max_age: Option<Duration>,
    ) -> Result<PhoneProof, GuardRejection> {
        if self.inner.verifier.refresh_revocations().await.is_err() {
            #[cfg(feature = "metrics")]
            crate::metrics::count_guard_rejection(GuardRejection::Unavailable);
            return Err(GuardRejection::Unavailable);
        }
        self.check(session_proof, token, max_age)
    }
}

/// A guard check's result, counted in the metrics when it is a refusal.
#[inline]
fn counted(checked: Result<PhoneProof, GuardRejection>) -> Result<PhoneProof, GuardRejection> {
    #[cfg(feature = "metrics")]
    if let Err(rejection) = checked {
        crate::metrics::count_guard_rejection(rejection);
    }
    checked
}

fn provider_response(e: &crate::provider::ProviderError) -> WebResponse {
    match e.kind() {
        ProviderErrorKind::Timeout => WebResponse::error(
            ErrorCode::ProviderTimeout,
            "the SMS provider did not answer in time",
        ),
        _ => WebResponse::error(ErrorCode::ProviderError, "the SMS provider failed"),
    }
}

/// The contract's response to a send error.
pub fn send_error(e: &SendError) -> WebResponse {
    let message = e.to_string();
    match e {
        SendError::RateLimited { retry_after, limit } => WebResponse::error_with(
            e.code(),
            &message,
            ErrorExtras {
                retry_after: Some(retry_secs(*retry_after)),
                reason: Some(limit.as_str()),
                attempts_left: None,
            },
        ),
        SendError::Provider(p) => provider_response(p),
        SendError::StoreUnavailable(_) => WebResponse::unavailable(),
        _ => WebResponse::error(e.code(), &message),
    }
}

/// The contract's response to a verify error.
pub fn verify_error(e: &VerifyError) -> WebResponse {
    let message = e.to_string();
    match e {
        VerifyError::Incorrect { attempts_left } => WebResponse::error_with(
            e.code(),
            &message,
            ErrorExtras {
                attempts_left: Some(*attempts_left),
                ..ErrorExtras::default()
            },
        ),
        VerifyError::TooManyAttempts { retry_after } => WebResponse::error_with(
            e.code(),
            &message,
            ErrorExtras {
                retry_after: Some(retry_secs(*retry_after)),
                ..ErrorExtras::default()
            },
        ),
        VerifyError::RateLimited { limit, retry_after } => WebResponse::error_with(
            e.code(),
            &message,
            ErrorExtras {
                retry_after: Some(retry_secs(*retry_after)),
                reason: Some(limit.as_str()),
                attempts_left: None,
            },
        ),
        VerifyError::Provider(p) => provider_response(p),
        VerifyError::StoreUnavailable(_) => WebResponse::unavailable(),
        _ => WebResponse::error(e.code(), &message),
    }
}

// The `verified` field's schemas (constant booleans) of the status body's two shapes.
/// The schema of a `verified` that is always `true` (a status body's first shape).
#[cfg(feature = "openapi")]
fn always_true() -> utoipa::openapi::schema::Schema {
    constant_bool(true)
}

/// The schema of a `verified` that is always `false` (a status body's second shape).
#[cfg(feature = "openapi")]
fn always_false() -> utoipa::openapi::schema::Schema {
    constant_bool(false)
}

#[cfg(feature = "openapi")]
fn constant_bool(value: bool) -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Boolean)
        .enum_values(Some([value]))
        .into()
}
