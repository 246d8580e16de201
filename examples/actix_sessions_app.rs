//! The sessions example on actix-web and actix-session: an app with its own users and login
//! session, and phone verification bound to the logged-in user (the routes and the flow are in
//! the [`crate::sessions`] docs).
//!
//! What it takes, in this file:
//!
//! - the handle keeps proofs in the session: `TwoFactor::builder(..).proofs_in_session()`,
//!   with the app's [`Hooks`] — `after_verify` binds the phone to the user in the session,
//!   `before_send` may demand a login;
//! - the middleware: actix-session's `SessionMiddleware` and `tf.middleware()`;
//! - the app's routes read the user from the `Session` and the proof with the
//!   `VerifiedPhone` extractor, and check `phone.is_bound_to(&user)`;
//! - logout is the app's own: `session.purge()` ends the login and the proof with it, and
//!   `tf.sign_out` revokes a bearer token sent along.
//!
//! actix-session ships no in-memory store: [`RecordsStore`] is a small one over the shared
//! [`SessionRecords`], in this process or in Redis.

use std::collections::HashMap;
use std::net::TcpListener;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_session::{Session, SessionExt, SessionMiddleware};
use actix_web::cookie::time::Duration;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use serde_json::Value;
use twofactor_actix::{
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

/// Registers the app's routes on `cfg` (see [`server`] for the middleware they need).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/login", web::post().to(login))
        .route("/me", web::get().to(me))
        .route("/logout", web::post().to(logout))
        .route("/protected", web::get().to(protected))
        .route("/protected/recent", web::get().to(protected_recent))
        .service(twofactor_actix::scope("/phone"));
}

/// The app on `listener` with `workers` worker threads: the routes, the session middleware (in
/// memory, or over `setup.redis`) and `tf`. Await the returned [`Server`] inside an actix system.
pub fn server(
    listener: TcpListener,
    tf: TwoFactor,
    setup: &Setup,
    workers: usize,
) -> std::io::Result<Server> {
    // One store for all workers: a session started on one is found by the others.
    let store = RecordsStore(setup.redis.clone().unwrap_or_else(SessionRecords::memory));
    let key = Key::from(&sessions::cookie_key(tf.verifier()));
    let secure = tf.config().cookie().secure();
    let users = web::Data::new(setup.users.clone());
    let ttl = Duration::seconds(SESSION_TTL.as_secs().try_into().unwrap_or(i64::MAX));
    Ok(HttpServer::new(move || {
        let session = SessionMiddleware::builder(store.clone(), key.clone())
            .cookie_name(SESSION_COOKIE.to_owned())
            .cookie_secure(secure)
            .cookie_same_site(SameSite::Lax)
            .cookie_content_security(CookieContentSecurity::Signed)
            .session_lifecycle(PersistentSession::default().session_ttl(ttl))
            .build();
        App::new()
            .app_data(users.clone())
            .wrap(session)
            .wrap(tf.middleware())
            .configure(configure)
    })
    .workers(workers.max(1))
    .listen(listener)?
    .run())
}

/// The app's say in the endpoints.
struct AppHooks {
    users: Users,
    require_login: bool,
}

impl Hooks for AppHooks {
    async fn before_send(&self, request: &HttpRequest, _send: SendPreview) -> Result<(), Refusal> {
        if self.require_login && user_of(&request.get_session()).is_none() {
            return Err(AppError::LoginRequired.refusal());
        }
        Ok(())
    }

    async fn after_verify(
        &self,
        request: &HttpRequest,
        phone: &VerifiedPhone,
    ) -> Result<Approval, Refusal> {
        match user_of(&request.get_session()) {
            // Bound in this very request: the proof the session gets is this user's only.
            Some(user) => {
                self.users.record_phone(&user, phone);
                Ok(Approval::new().bind(user))
            }
            // Not logged in: a valid verification that belongs to no user.
            None => Ok(Approval::new()),
        }
    }
}

/// The logged-in user of `session`, if any (actix-session loaded it before the handler ran).
fn user_of(session: &Session) -> Option<String> {
    session.get::<String>(USER_KEY).ok().flatten()
}

fn logged_in(session: &Session) -> Result<String, AppError> {
    user_of(session).ok_or(AppError::LoginRequired)
}

async fn health() -> HttpResponse {
    json(StatusCode::OK, r#"{"ok":true}"#.to_owned())
}

async fn login(
    req: HttpRequest,
    session: Session,
    users: web::Data<Users>,
    body: web::Bytes,
) -> HttpResponse {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.as_bytes());
    let user = match sessions::parse_login(content_type, &body) {
        Ok(user) => user,
        Err(e) => return error(e),
    };
    // A fresh session for every login: nothing of an earlier user (their proof) carries over,
    // and a new key, so that a key planted before the login (session fixation) is worth nothing.
    session.clear();
    session.renew();
    if session.insert(USER_KEY, &user).is_err() {
        return error(AppError::Unavailable);
    }
    users.log_in(&user);
    HttpResponse::NoContent().finish()
}

async fn me(
    session: Session,
    users: web::Data<Users>,
    phone: Option<VerifiedPhone>,
) -> HttpResponse {
    match logged_in(&session) {
        Ok(user) => json(StatusCode::OK, users.me(&user, phone.as_deref())),
        Err(e) => error(e),
    }
}

async fn protected(
    tf: TwoFactor,
    session: Session,
    phone: Result<VerifiedPhone, VerifiedPhoneRejection>,
) -> HttpResponse {
    guarded(&tf, &session, phone, None)
}

async fn protected_recent(
    tf: TwoFactor,
    session: Session,
    phone: Result<VerifiedPhone, VerifiedPhoneRejection>,
) -> HttpResponse {
    guarded(&tf, &session, phone, Some(RECENT))
}

/// The app's login first, then a proof bound to that user (fresh enough with `max_age`).
fn guarded(
    tf: &TwoFactor,
    session: &Session,
    phone: Result<VerifiedPhone, VerifiedPhoneRejection>,
    max_age: Option<std::time::Duration>,
) -> HttpResponse {
    let user = match logged_in(session) {
        Ok(user) => user,
        Err(e) => return error(e),
    };
    let phone = match phone {
        Ok(phone) => phone,
        Err(rejection) => return rejection.error_response(),
    };
    match sessions::protected(&user, &phone, max_age, tf.verifier().clock().now()) {
        Ok(body) => json(StatusCode::OK, body),
        Err(rejection) => refused(rejection),
    }
}

async fn logout(tf: TwoFactor, req: HttpRequest, session: Session) -> HttpResponse {
    // A bearer token sent along is revoked too, and the library's cookie cleared.
    let signed_out = tf.sign_out(&req).await;
    // The login and the proof in the session end together.
    session.purge();
    if !signed_out.recorded() {
        let mut response = error(AppError::Unavailable);
        let (name, value) = signed_out.header();
        response.headers_mut().append(name, value);
        return response;
    }
    HttpResponse::NoContent()
        .append_header(signed_out.header())
        .finish()
}

fn json(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body)
}

fn error(e: AppError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if let Some(secs) = e.retry_after() {
        response.insert_header((header::RETRY_AFTER, secs));
    }
    response.content_type("application/json").body(e.body())
}

/// The guard's answer (401 `phone_verification_required` / `_stale`), as the library writes it.
fn refused(rejection: GuardRejection) -> HttpResponse {
    VerifiedPhoneRejection::from(rejection).error_response()
}

/// An actix-session store over [`SessionRecords`]: in this process, or in Redis (shared by
/// every instance, in the format both examples read). actix-session keeps each value as JSON
/// text; the records keep JSON values, as tower-sessions does.
#[derive(Debug, Clone)]
pub struct RecordsStore(pub SessionRecords);

fn record(state: HashMap<String, String>, ttl: &Duration) -> SessionRecord {
    let ttl = std::time::Duration::from_secs(ttl.whole_seconds().try_into().unwrap_or(0));
    SessionRecord {
        data: state
            .into_iter()
            .map(|(k, v)| {
                let value = serde_json::from_str(&v).unwrap_or(Value::String(v));
                (k, value)
            })
            .collect(),
        expires_at: sessions::expires_in(ttl),
    }
}

impl SessionStore for RecordsStore {
    async fn load(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<HashMap<String, String>>, LoadError> {
        let record = self
            .0
            .load(session_key.as_ref())
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        Ok(record.map(|r| {
            r.data
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect()
        }))
    }

    async fn save(
        &self,
        session_state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, SaveError> {
        let record = record(session_state, ttl);
        loop {
            let id = sessions::new_session_id();
            // A taken id is never overwritten: draw another.
            if self
                .0
                .create(&id, &record)
                .await
                .map_err(|e| SaveError::Other(e.into()))?
            {
                return SessionKey::try_from(id).map_err(|e| SaveError::Other(e.into()));
            }
        }
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        self.0
            .save(session_key.as_ref(), &record(session_state, ttl))
            .await
            .map_err(|e| UpdateError::Other(e.into()))?;
        Ok(session_key)
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let ttl = std::time::Duration::from_secs(ttl.whole_seconds().try_into().unwrap_or(0));
        Ok(self
            .0
            .touch(session_key.as_ref(), sessions::expires_in(ttl))
            .await?)
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        Ok(self.0.delete(session_key.as_ref()).await?)
    }
}
