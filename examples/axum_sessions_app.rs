//! The sessions example on axum and tower-sessions: an app with its own users and login
//! session, and phone verification bound to the logged-in user (the routes and the flow are in
//! the [`crate::sessions`] docs).
//!
//! What it takes, in this file:
//!
//! - the handle keeps proofs in the session: `TwoFactor::builder(..).proofs_in_session()`,
//!   with the app's [`Hooks`] — `after_verify` binds the phone to the user in the session,
//!   `before_send` may demand a login;
//! - the layers, outermost last: tower-sessions' `SessionManagerLayer`, then `tf.layer()`;
//! - the app's routes read the user from the `Session` and the proof with the
//!   `VerifiedPhone` extractor, and check `phone.is_bound_to(&user)`;
//! - logout is the app's own: `session.flush()` ends the login and the proof with it, and
//!   `tf.sign_out` revokes a bearer token sent along.
//!
//! With Redis the sessions live in [`RecordsStore`], a tower-sessions store over the shared
//! [`SessionRecords`].

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_sessions::cookie::time::{Duration, OffsetDateTime};
use tower_sessions::cookie::{Key, SameSite};
use tower_sessions::service::SignedCookie;
use tower_sessions::session::{Id, Record};
use tower_sessions::{
    Expiry, MemoryStore, Session, SessionManagerLayer, SessionStore, session_store,
};
use twofactor_tower::{
    Approval, GuardRejection, Hooks, PhoneVerifier, Refusal, SendPreview, TwoFactor,
    TwoFactorError, VerifiedPhone, VerifiedPhoneRejection, WebConfig,
};

use crate::RECENT;
use crate::sessions::{
    self, AppError, SESSION_COOKIE, SESSION_TTL, SessionRecord, SessionRecords, Setup, USER_KEY,
    Users,
};

/// The handle: `verifier` and `web`, proofs in the app's session, the app's hooks.
pub fn two_factor(
    verifier: PhoneVerifier,
    web: WebConfig,
    setup: &Setup,
) -> Result<TwoFactor, TwoFactorError> {
    TwoFactor::builder(verifier)
        .web_config(web)
        .proofs_in_session()
        .hooks(AppHooks {
            users: setup.users.clone(),
            require_login: setup.require_login,
        })
        .build()
}

/// The app: its routes, the session layer (in memory, or over `setup.redis`), and `tf`.
pub fn app(tf: TwoFactor, setup: &Setup) -> Router {
    let routes = Router::new()
        .route("/health", get(health))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/protected", get(protected))
        .route("/protected/recent", get(protected_recent))
        .nest("/phone", twofactor_tower::router())
        .with_state(setup.users.clone());
    let key = Key::from(&sessions::cookie_key(tf.verifier()));
    let secure = tf.config().cookie().secure();
    let routes = match &setup.redis {
        None => routes.layer(session_layer(MemoryStore::default(), key, secure)),
        Some(records) => routes.layer(session_layer(RecordsStore(records.clone()), key, secure)),
    };
    // The TwoFactor layer outermost: the session layer runs inside it.
    routes.layer(tf.layer())
}

fn session_layer<S: SessionStore + Clone>(
    store: S,
    key: Key,
    secure: bool,
) -> SessionManagerLayer<S, SignedCookie> {
    SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_secure(secure)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(Duration::seconds(
            SESSION_TTL.as_secs().try_into().unwrap_or(i64::MAX),
        )))
        .with_signed(key)
}

/// The app's say in the endpoints.
struct AppHooks {
    users: Users,
    require_login: bool,
}

impl Hooks for AppHooks {
    async fn before_send(&self, request: &mut Parts, _send: SendPreview) -> Result<(), Refusal> {
        if !self.require_login {
            return Ok(());
        }
        match user_of(request.extensions.get::<Session>()).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(AppError::LoginRequired.refusal()),
            Err(e) => Err(e.refusal()),
        }
    }

    async fn after_verify(
        &self,
        request: &mut Parts,
        phone: &VerifiedPhone,
    ) -> Result<Approval, Refusal> {
        match user_of(request.extensions.get::<Session>()).await {
            // Bound in this very request: the proof the session gets is this user's only.
            Ok(Some(user)) => {
                self.users.record_phone(&user, phone);
                Ok(Approval::new().bind(user))
            }
            // Not logged in: a valid verification that belongs to no user.
            Ok(None) => Ok(Approval::new()),
            Err(e) => Err(e.refusal()),
        }
    }
}

/// The logged-in user of `session`, if any.
async fn user_of(session: Option<&Session>) -> Result<Option<String>, AppError> {
    let Some(session) = session else {
        return Ok(None);
    };
    session.get::<String>(USER_KEY).await.map_err(|e| {
        tracing::warn!(error = %e, "the session store failed");
        AppError::Unavailable
    })
}

async fn logged_in(session: &Session) -> Result<String, AppError> {
    user_of(Some(session)).await?.ok_or(AppError::LoginRequired)
}

async fn health() -> Response {
    json(StatusCode::OK, r#"{"ok":true}"#.to_owned())
}

async fn login(
    State(users): State<Users>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes);
    let user = match sessions::parse_login(content_type, &body) {
        Ok(user) => user,
        Err(e) => return error(e),
    };
    // A fresh session for every login: nothing of an earlier user (their proof) carries over,
    // and a new id, so that an id planted before the login (session fixation) is worth nothing.
    session.clear().await;
    let started = async {
        session.cycle_id().await?;
        session.insert(USER_KEY, &user).await
    };
    if let Err(e) = started.await {
        tracing::warn!(error = %e, "the session store failed");
        return error(AppError::Unavailable);
    }
    users.log_in(&user);
    StatusCode::NO_CONTENT.into_response()
}

async fn me(
    State(users): State<Users>,
    session: Session,
    phone: Option<VerifiedPhone>,
) -> Response {
    match logged_in(&session).await {
        Ok(user) => json(StatusCode::OK, users.me(&user, phone.as_deref())),
        Err(e) => error(e),
    }
}

async fn protected(
    tf: TwoFactor,
    session: Session,
    phone: Result<VerifiedPhone, VerifiedPhoneRejection>,
) -> Response {
    guarded(tf, session, phone, None).await
}

async fn protected_recent(
    tf: TwoFactor,
    session: Session,
    phone: Result<VerifiedPhone, VerifiedPhoneRejection>,
) -> Response {
    guarded(tf, session, phone, Some(RECENT)).await
}

/// The app's login first, then a proof bound to that user (fresh enough with `max_age`).
async fn guarded(
    tf: TwoFactor,
    session: Session,
    phone: Result<VerifiedPhone, VerifiedPhoneRejection>,
    max_age: Option<std::time::Duration>,
) -> Response {
    let user = match logged_in(&session).await {
        Ok(user) => user,
        Err(e) => return error(e),
    };
    let phone = match phone {
        Ok(phone) => phone,
        Err(rejection) => return rejection.into_response(),
    };
    match sessions::protected(&user, &phone, max_age, tf.verifier().clock().now()) {
        Ok(body) => json(StatusCode::OK, body),
        Err(rejection) => refused(rejection),
    }
}

async fn logout(tf: TwoFactor, session: Session, headers: HeaderMap) -> Response {
    // A bearer token sent along is revoked too, and the library's cookie cleared.
    let signed_out = tf.sign_out(&headers).await;
    // The login and the proof in the session end together.
    if let Err(e) = session.flush().await {
        tracing::warn!(error = %e, "the session store failed");
        return error(AppError::Unavailable);
    }
    if !signed_out.recorded() {
        return (signed_out, error(AppError::Unavailable)).into_response();
    }
    (signed_out, StatusCode::NO_CONTENT).into_response()
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(e: AppError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json(status, e.body());
    if let Some(secs) = e.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The guard's answer (401 `phone_verification_required` / `_stale`), as the library writes it.
fn refused(rejection: GuardRejection) -> Response {
    let answer = rejection.response();
    (answer.status, answer.headers, answer.body).into_response()
}

/// A tower-sessions store over [`SessionRecords`] (the sessions in Redis, shared by every
/// instance, in the format both examples read).
#[derive(Debug, Clone)]
pub struct RecordsStore(pub SessionRecords);

fn shared(record: &Record) -> SessionRecord {
    SessionRecord {
        data: record.data.clone(),
        expires_at: record.expiry_date.unix_timestamp(),
    }
}

fn backend(e: sessions::RecordsError) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

#[twofactor_tower::async_trait]
impl SessionStore for RecordsStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // 128 random bits do not collide in practice, but a taken id must never be overwritten.
        while !self
            .0
            .create(&record.id.to_string(), &shared(record))
            .await
            .map_err(backend)?
        {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.0
            .save(&record.id.to_string(), &shared(record))
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let record = self.0.load(&id.to_string()).await.map_err(backend)?;
        Ok(record.map(|r| Record {
            id: *id,
            data: r.data,
            expiry_date: OffsetDateTime::from_unix_timestamp(r.expires_at)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0.delete(&id.to_string()).await.map_err(backend)
    }
}
