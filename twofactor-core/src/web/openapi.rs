//! The OpenAPI 3.1 document of the HTTP contract (feature `openapi`), for an app to merge into
//! its own.
//!
//! Why generated, not written: the schemas come from the very types the endpoints serialize
//! and deserialize (the request bodies, the 200 bodies, the error body, [`Channel`]), derived
//! with utoipa, so the document cannot drift from what the server reads and writes; the
//! contract's own tests validate real responses against it. What a type cannot say — which
//! codes a status carries, which extras it always has, which headers come with it — is added
//! here from the same sources the endpoints use ([`ErrorCode`], the limits, the cookie
//! settings).
//!
//! What the document holds, under the prefix the app mounts the endpoints at:
//!
//! - `POST {prefix}/send`, `POST {prefix}/verify`, `GET {prefix}/status`,
//!   `POST {prefix}/logout`, each with every status of the contract, the body schema of each,
//!   the `error` field narrowed to the codes that status can carry, and the headers
//!   (`Retry-After`, `Set-Cookie`);
//! - components: the schemas (named `twofactor.*`, so they cannot collide with the app's), the
//!   responses [`NOT_FOUND`] and [`METHOD_NOT_ALLOWED`] (unknown paths under the prefix, and
//!   other methods on the endpoints' paths, with `Allow`), and two security schemes,
//!   [`BEARER_SCHEME`] and [`COOKIE_SCHEME`];
//! - [`guarded`] adds what the guard answers (401 with `WWW-Authenticate`, 503) and the
//!   security requirement to one of the app's own operations.
//!
//! Error bodies leave room for fields an app adds (`Refusal::with_field`,
//! `Approval::with_field` on the verify 200): clients ignore fields they do not know.
//!
//! ```
//! use twofactor_core::web::openapi;
//! use utoipa::openapi::{OpenApi, OpenApiBuilder, PathItem, Paths};
//! use utoipa::openapi::path::{HttpMethod, OperationBuilder};
//! use utoipa::openapi::response::ResponseBuilder;
//!
//! let mut app: OpenApi = OpenApiBuilder::new()
//!     .paths(Paths::builder().path(
//!         "/protected",
//!         PathItem::new(
//!             HttpMethod::Get,
//!             openapi::guarded(
//!                 OperationBuilder::new().response("200", ResponseBuilder::new().description("ok")),
//!             ),
//!         ),
//!     ))
//!     .build();
//! app.merge(openapi::document("/phone"));
//! assert!(app.paths.paths.contains_key("/phone/send"));
//! assert!(app.paths.paths.contains_key("/protected"));
//! ```

use utoipa::ToSchema;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    AllOfBuilder, ComponentsBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    InfoBuilder, OpenApi, OpenApiBuilder, PathItem, Paths, Ref, RefOr, Required, Tag,
};

pub use utoipa;

use super::config::{ProofStorage, WebConfig};
use super::contract::{
    Contract, Endpoint, SentBody, StatusBody, StatusUnverified, StatusVerified, VerifiedBody,
};
use super::errors::ErrorCode;
use super::request::{MAX_BODY, SendBody, VerifyBody};
use super::response::{ErrorBody, STORE_RETRY_AFTER};
use crate::provider::Channel;
use crate::store::Limit;

/// The security scheme of `Authorization: Bearer <token>` (the token of a verification).
pub const BEARER_SCHEME: &str = "twofactor_bearer";
/// The security scheme of the twofactor cookie.
pub const COOKIE_SCHEME: &str = "twofactor_cookie";
/// The component response of an unknown path under the prefix: 404 `not_found`.
pub const NOT_FOUND: &str = "twofactor.NotFound";
/// The component response of another method on an endpoint's path: 405
/// `method_not_allowed` with `Allow`.
pub const METHOD_NOT_ALLOWED: &str = "twofactor.MethodNotAllowed";
/// The tag of the four endpoints.
pub const TAG: &str = "twofactor";

const JSON: &str = "application/json";

/// The document of the four endpoints under `prefix` (`"/phone"`, `""` for the root), with the
/// default [`WebConfig`]. Merge it into the app's own with [`OpenApi::merge`].
pub fn document(prefix: &str) -> OpenApi {
    document_for(prefix, &WebConfig::default())
}

/// [`document`] for the endpoints as `config` sets them up: the cookie's name, and whether the
/// verify answer sets it (not when proofs live in the app's session).
pub fn document_for(prefix: &str, config: &WebConfig) -> OpenApi {
    let prefix = prefix.trim_end_matches('/');
    let prefix = if prefix.is_empty() || prefix.starts_with('/') {
        prefix.to_owned()
    } else {
        format!("/{prefix}")
    };
    let cookie = config.cookie.name.as_str();
    let token_cookie = config.proofs == ProofStorage::Token;
    let mut paths = Paths::builder();
    for endpoint in Endpoint::ALL {
        let (method, operation) = match endpoint {
            Endpoint::Send => (HttpMethod::Post, send()),
            Endpoint::Verify => (HttpMethod::Post, verify(cookie, token_cookie)),
            Endpoint::Status => (HttpMethod::Get, status()),
            Endpoint::Logout => (HttpMethod::Post, logout(cookie)),
        };
        paths = paths.path(
            format!("{prefix}{}", endpoint.path()),
            PathItem::new(method, operation),
        );
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("twofactor-rs phone verification")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Phone verification by SMS one-time code. Every body is JSON; every error \
                     body is {\"error\": code, \"message\": text, ...}. An unknown path under \
                     the prefix answers the twofactor.NotFound response, another method on an \
                     endpoint's path twofactor.MethodNotAllowed (with Allow).",
                )),
        )
        .paths(paths)
        .components(Some(components(cookie)))
        .tags(Some([Tag::new(TAG)]))
        .build()
}

/// `operation` as a route behind the guard: the security requirement (bearer token or cookie)
/// and the guard's answers, 401 `phone_verification_required` / `phone_verification_stale`
/// with `WWW-Authenticate: Bearer realm="phone"`, and 503 `service_unavailable` when no proof
/// can be checked. The security schemes it names are in [`document`]'s components.
pub fn guarded(operation: OperationBuilder) -> OperationBuilder {
    operation
        .securities(Some([
            SecurityRequirement::new(BEARER_SCHEME, [""; 0]),
            SecurityRequirement::new(COOKIE_SCHEME, [""; 0]),
        ]))
        .response(
            "401",
            error_response(
                "No valid proof (missing, tampered, expired, revoked or signed with an unknown \
                 key), or one older than the route allows.",
                error_schema(
                    &[
                        ErrorCode::PhoneVerificationRequired,
                        ErrorCode::PhoneVerificationStale,
                    ],
                    &[],
                ),
            )
            .header(
                "WWW-Authenticate",
                required_header(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["Bearer realm=\"phone\""])),
                    "The scheme to authenticate with.",
                ),
            ),
        )
        .response("503", unavailable())
}

fn components(cookie: &str) -> utoipa::openapi::Components {
    ComponentsBuilder::new()
        .schema_from::<SendBody>()
        .schema_from::<VerifyBody>()
        .schema_from::<Channel>()
        .schema_from::<SentBody>()
        .schema_from::<VerifiedBody<'static>>()
        // The shapes of the status body: the enum's schema refers to them, without them.
        .schema_from::<StatusBody>()
        .schema_from::<StatusVerified>()
        .schema_from::<StatusUnverified>()
        .schema_from::<ErrorBody<'static>>()
        .response(
            NOT_FOUND,
            error_response(
                "No such endpoint under the prefix.",
                error_schema(&[ErrorCode::NotFound], &[]),
            ),
        )
        .response(
            METHOD_NOT_ALLOWED,
            error_response(
                "The path is an endpoint's, the method is not.",
                error_schema(&[ErrorCode::MethodNotAllowed], &[]),
            )
            .header(
                "Allow",
                required_header(
                    ObjectBuilder::new().schema_type(Type::String),
                    "The methods of the path.",
                ),
            ),
        )
        .security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The token of a verification (POST /verify)."))
                    .build(),
            ),
        )
        .security_scheme(
            COOKIE_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                cookie,
                "The cookie a verification sets.",
            ))),
        )
        .build()
}

fn send() -> OperationBuilder {
    OperationBuilder::new()
        .tag(TAG)
        .operation_id(Some("twofactor_send"))
        .summary(Some("Send a code to a phone"))
        .request_body(Some(json_body::<SendBody>()))
        .response(
            "200",
            json_response::<SentBody>(
                "A code was sent (the phone echoed normalised; durations in seconds).",
            ),
        )
        .response(
            "400",
            error_response(
                "invalid_request: malformed JSON, not an object, a missing or ill-typed field, \
                 an unknown channel, no JSON Content-Type. invalid_phone: not a valid number, or \
                 one whose type cannot take the channel.",
                error_schema(&[ErrorCode::InvalidRequest, ErrorCode::InvalidPhone], &[]),
            ),
        )
        .response(
            "403",
            error_response(
                "The number's country is not allowed, or the channel is switched off.",
                error_schema(
                    &[ErrorCode::PhoneNotAllowed, ErrorCode::ChannelNotAllowed],
                    &[],
                ),
            ),
        )
        .response("413", too_large())
        .response(
            "429",
            error_response(
                "A send limit refused (the first in the order of `reason`); a refused send \
                 spends no cap.",
                rate_limited(send_reasons()),
            )
            .header("Retry-After", retry_after()),
        )
        .response("502", provider_error())
        .response("503", unavailable())
        .response("504", provider_timeout())
}

fn verify(cookie: &str, token_cookie: bool) -> OperationBuilder {
    let mut verified = json_response::<VerifiedBody<'static>>(
        "The code matched and is consumed. The app may add fields after these.",
    );
    if token_cookie {
        verified = verified.header(
            "Set-Cookie",
            required_header(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(format!("^{}=[^;]+;", regex_escape(cookie)))),
                "The token as an HttpOnly cookie, Max-Age its lifetime.",
            ),
        );
    }
    OperationBuilder::new()
        .tag(TAG)
        .operation_id(Some("twofactor_verify"))
        .summary(Some("Check a code"))
        .request_body(Some(json_body::<VerifyBody>()))
        .response("200", verified)
        .response(
            "400",
            error_response(
                "invalid_request: malformed, as for send. invalid_phone: not a valid number. \
                 invalid_code: not the configured code shape (costs no attempt).",
                error_schema(
                    &[
                        ErrorCode::InvalidRequest,
                        ErrorCode::InvalidPhone,
                        ErrorCode::InvalidCode,
                    ],
                    &[],
                ),
            ),
        )
        .response(
            "403",
            error_response(
                "The number's country is not allowed.",
                error_schema(&[ErrorCode::PhoneNotAllowed], &[]),
            ),
        )
        .response(
            "410",
            error_response(
                "No live code for this phone (never sent, expired, used or cancelled).",
                error_schema(&[ErrorCode::CodeExpired], &[]),
            ),
        )
        .response("413", too_large())
        .response(
            "422",
            error_response(
                "A wrong code; `attempts_left` (at least 1) remain.",
                error_schema(&[ErrorCode::IncorrectCode], &["attempts_left"]),
            ),
        )
        .response(
            "429",
            error_response(
                "too_many_attempts: the attempt budget is spent, the code is cancelled and even \
                 the right one is refused until the lock lifts. rate_limited: the client \
                 address spent its verify budget.",
                OneOfBuilder::new()
                    .item(error_schema(
                        &[ErrorCode::TooManyAttempts],
                        &["retry_after"],
                    ))
                    .item(rate_limited(verify_reasons()))
                    .into(),
            )
            .header("Retry-After", retry_after()),
        )
        .response("502", provider_error())
        .response("503", unavailable())
        .response("504", provider_timeout())
}

fn status() -> OperationBuilder {
    OperationBuilder::new()
        .tag(TAG)
        .operation_id(Some("twofactor_status"))
        .summary(Some("Whether the request carries a valid proof"))
        .securities(Some(optional_auth()))
        .response(
            "200",
            json_response::<StatusBody>(
                "The proof's phone and times, or {\"verified\": false} without a valid one.",
            ),
        )
        .response("503", unavailable())
}

fn logout(cookie: &str) -> OperationBuilder {
    let clear_cookie = || {
        required_header(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(format!("^{}=;.*Max-Age=0", regex_escape(cookie)))),
            "Clears the twofactor cookie.",
        )
    };
    OperationBuilder::new()
        .tag(TAG)
        .operation_id(Some("twofactor_logout"))
        .summary(Some("Revoke the token the request carries"))
        .description(Some(
            "No body needed. The token (bearer or cookie) is refused at once on this instance \
             and within a second on every instance sharing the store.",
        ))
        .securities(Some(optional_auth()))
        .response(
            "204",
            ResponseBuilder::new()
                .description("Logged out.")
                .header("Set-Cookie", clear_cookie()),
        )
        .response("413", too_large())
        .response(
            "503",
            unavailable()
                .description(
                    "The revocation could not be recorded in the store: the token is refused \
                     on this instance, not yet on others. Try again.",
                )
                .header("Set-Cookie", clear_cookie()),
        )
}

/// The reasons a send's 429 can name, in the order they are checked.
fn send_reasons() -> Vec<&'static str> {
    // Exhaustive on purpose: a new limit does not compile until it is listed here.
    let listed = |limit: Limit| match limit {
        Limit::Locked
        | Limit::Cooldown
        | Limit::Phone
        | Limit::Ip
        | Limit::Range
        | Limit::Channel
        | Limit::Country
        | Limit::Global => limit.as_str(),
    };
    [
        Limit::Locked,
        Limit::Cooldown,
        Limit::Phone,
        Limit::Ip,
        Limit::Range,
        Limit::Channel,
        Limit::Country,
        Limit::Global,
    ]
    .map(listed)
    .to_vec()
}

/// The reasons a verify's `rate_limited` can name: the client address's verify budget.
fn verify_reasons() -> Vec<&'static str> {
    vec![Limit::Ip.as_str()]
}

fn optional_auth() -> [SecurityRequirement; 3] {
    [
        // `{}`: the operation also answers without credentials.
        SecurityRequirement::default(),
        SecurityRequirement::new(BEARER_SCHEME, [""; 0]),
        SecurityRequirement::new(COOKIE_SCHEME, [""; 0]),
    ]
}

fn schema_ref<T: ToSchema>() -> Ref {
    Ref::from_schema_name(T::name())
}

fn json_body<T: ToSchema>() -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .description(Some(format!(
            "JSON (Content-Type application/json), at most {MAX_BODY} bytes."
        )))
        .content(
            JSON,
            ContentBuilder::new()
                .schema(Some(schema_ref::<T>()))
                .build(),
        )
        .required(Some(Required::True))
        .build()
}

fn json_response<T: ToSchema>(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        JSON,
        ContentBuilder::new()
            .schema(Some(schema_ref::<T>()))
            .build(),
    )
}

fn error_response(description: &str, schema: RefOr<Schema>) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content(JSON, ContentBuilder::new().schema(Some(schema)).build())
}

/// The error body with `error` one of `codes` and the extras `required` present.
fn error_schema(codes: &[ErrorCode], required: &[&str]) -> RefOr<Schema> {
    narrowed(codes, required, None)
}

/// 429 `rate_limited`: `retry_after` and `reason`, one of `reasons`.
fn rate_limited(reasons: Vec<&'static str>) -> RefOr<Schema> {
    narrowed(
        &[ErrorCode::RateLimited],
        &["retry_after", "reason"],
        Some(reasons),
    )
}

fn narrowed(
    codes: &[ErrorCode],
    required: &[&str],
    reasons: Option<Vec<&'static str>>,
) -> RefOr<Schema> {
    let mut narrow = ObjectBuilder::new().property(
        "error",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(codes.iter().map(|c| c.as_str()))),
    );
    if let Some(reasons) = reasons {
        narrow = narrow.property(
            "reason",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(reasons)),
        );
    }
    for field in required {
        narrow = narrow.required(*field);
    }
    AllOfBuilder::new()
        .item(schema_ref::<ErrorBody<'static>>())
        .item(narrow)
        .into()
}

fn too_large() -> ResponseBuilder {
    error_response(
        "The body is over the limit (announced or sent).",
        error_schema(&[ErrorCode::PayloadTooLarge], &[]),
    )
}

fn provider_error() -> ResponseBuilder {
    error_response(
        "The provider failed, refused our credentials, or answered something unusable.",
        error_schema(&[ErrorCode::ProviderError], &[]),
    )
}

fn provider_timeout() -> ResponseBuilder {
    error_response(
        "The provider did not answer in time.",
        error_schema(&[ErrorCode::ProviderTimeout], &[]),
    )
}

fn unavailable() -> ResponseBuilder {
    error_response(
        "The store cannot be reached (fail closed); retry after `retry_after` seconds.",
        error_schema(&[ErrorCode::ServiceUnavailable], &["retry_after"]),
    )
    .header(
        "Retry-After",
        required_header(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .examples([STORE_RETRY_AFTER]),
            "Seconds to wait before retrying.",
        ),
    )
}

fn retry_after() -> Header {
    required_header(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1)),
        "Whole seconds until the limit lifts, as `retry_after`.",
    )
}

/// A header the response always carries. utoipa's header type has no `required` field; the
/// document says it with the same JSON key, through the header's extension map.
fn required_header(schema: ObjectBuilder, description: &str) -> Header {
    let mut header = HeaderBuilder::new()
        .schema(Some(schema))
        .description(Some(description))
        .build();
    header
        .extensions
        .get_or_insert_with(Default::default)
        .insert("required".to_owned(), true.into());
    header
}

/// `name`, quoted for a regular expression (a cookie name may hold `.`, `+`, `*`…).
fn regex_escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if ".^$*+?()[]{}|\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

// The contract's `openapi` method lives here, apart from the rest of `Contract`'s impl: the
// document is built from the contract's body types, so this file imports `contract.rs` and
// `contract.rs` never imports this one.
impl Contract {
    /// The OpenAPI document of these endpoints mounted under `prefix`, with this contract's
    /// cookie settings (see [`document_for`]).
    pub fn openapi(&self, prefix: &str) -> utoipa::openapi::OpenApi {
        document_for(prefix, self.config())
    }
}
