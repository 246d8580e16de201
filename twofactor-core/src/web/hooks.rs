//! What an app's hooks answer: [`Approval`] after a verification, [`Refusal`] to stop a send or
//! a verification, and what they are shown ([`SendPreview`]).
//!
//! The hooks themselves are traits of each adapter (`twofactor_tower::Hooks`,
//! `twofactor_actix::Hooks`), because they receive the framework's request; what they answer is
//! decided here, once, so that both adapters write the same bytes.
//!
//! The order, for `POST {prefix}/verify`: the body and the code are checked, the engine counts
//! the attempt and compares the code, a match **consumes the code**, then the app's
//! `after_verify` runs. The code is consumed first on purpose: only the single winner of a race
//! of right guesses gets to run the hook, so its side effects (binding the phone to a user,
//! logging a user in) happen at most once per code. A refusal after the match therefore costs
//! the code: the user asks for a new one.

use http::StatusCode;
use serde_json::{Map, Value};

use super::response::{ErrorExtras, WebResponse, append_fields};
use crate::phone::PhoneNumber;
use crate::provider::Channel;

/// What a send is about to do, for the app's `before_send` hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendPreview {
    /// The phone, parsed and allowed.
    pub phone: PhoneNumber,
    /// The channel asked for.
    pub channel: Channel,
}

/// The app accepts a verification: optionally binding the proof to one of its users, and
/// optionally adding fields to the 200 body.
///
/// ```
/// use twofactor_core::web::Approval;
///
/// let approval = Approval::new().bind("user-42").with_field("account", "user-42");
/// assert_eq!(approval.subject(), Some("user-42"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct Approval {
    subject: Option<String>,
    fields: Vec<(String, Value)>,
}

/// Names the contract writes itself; an app's field of the same name is dropped (with a
/// warning) rather than overwrite them.
const RESERVED: [&str; 6] = ["status", "phone", "token", "expires_in", "error", "message"];

impl Approval {
    /// Accepts the verification as it is.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds the proof to `subject`, the app's id of the user it belongs to: the token and the
    /// session proof then carry it, and `VerifiedPhone::is_bound_to(subject)` holds for them
    /// only. A proof obtained by one user can never pass as another's.
    pub fn bind(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Adds `name: value` to the 200 body, after the contract's own fields. The contract's
    /// names (`status`, `phone`, `token`, `expires_in`, `error`, `message`) are reserved.
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// The subject the proof will be bound to.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    pub(crate) fn fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields.iter().filter_map(|(name, value)| {
            if RESERVED.contains(&name.as_str()) {
                crate::warn::once(
                    "approval-reserved-field",
                    "twofactor: an Approval field uses a name the contract reserves \
                     (status, phone, token, expires_in, error, message); it was left out",
                );
                None
            } else {
                Some((name.as_str(), value))
            }
        })
    }
}

/// The app refuses a send or a verification: the client gets the contract's error body
/// `{"error": code, "message": message, ...fields}` with the app's status.
///
/// ```
/// use http::StatusCode;
/// use twofactor_core::web::Refusal;
///
/// let refusal = Refusal::new(StatusCode::UNAUTHORIZED, "login_required", "log in first");
/// let response = refusal.response();
/// assert_eq!(response.status, StatusCode::UNAUTHORIZED);
/// assert_eq!(&response.body[..], br#"{"error":"login_required","message":"log in first"}"#);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    status: StatusCode,
    code: String,
    message: String,
    fields: Map<String, Value>,
}

impl Refusal {
    /// A refusal with `status` (a 4xx or 5xx; anything else becomes 403, since a refusal that
    /// answers 2xx or 3xx would read as a success), a snake_case `code` and a human `message`.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            StatusCode::FORBIDDEN
        };
        Self {
            status,
            code: code.into(),
            message: message.into(),
            fields: Map::new(),
        }
    }

    /// [`new`](Self::new) with the status as a number (for apps whose framework has its own
    /// status type, as actix-web has): an unknown or non-error status becomes 403.
    pub fn with_status(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN),
            code,
            message,
        )
    }

    /// 403 with `code` and `message`.
    pub fn forbidden(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 401 with `code` and `message`.
    pub fn unauthorized(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// Adds `name: value` to the error body (after `error` and `message`, which it cannot
    /// replace).
    #[must_use]
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let name = name.into();
        if name != "error" && name != "message" {
            self.fields.insert(name, value.into());
        }
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The response the client gets.
    pub fn response(&self) -> WebResponse {
        let mut response = WebResponse::error_body(
            self.status,
            &self.code,
            &self.message,
            ErrorExtras::default(),
        );
        if !self.fields.is_empty() {
            response.body = append_fields(
                &response.body,
                self.fields.iter().map(|(k, v)| (k.as_str(), v)),
            );
        }
        response
    }
}
