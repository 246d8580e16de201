//! What the two sessions examples (`axum_sessions`, `actix_sessions`) share: the app's users,
//! its own JSON answers, its settings, and where its sessions live.
//!
//! These examples show the library inside an app that already has users and a login session:
//!
//! | route | |
//! |---|---|
//! | `POST /login` `{"user":"alice"}` | 204; a fresh session of the app's own (cookie [`SESSION_COOKIE`], new id) |
//! | `GET /me` | 401 `login_required` without a login; else `{"user":"alice","phone":null}`, or once verified `{"user":"alice","phone":"+91…","phone_verified_at":<unix s>}` |
//! | `POST /logout` | 204; ends the session (and the proof in it), revokes a bearer token sent along |
//! | `GET /protected` | the app's login **and** a verified phone bound to that user: `{"phone":…,"verified_at":…}` |
//! | `GET /protected/recent` | the same, verified within the last 5 minutes |
//! | `GET /health` | `{"ok":true}` |
//! | `/phone/*` | the library's endpoints; the proof is kept in the app's session |
//!
//! The flow: log in, `POST /phone/send`, `POST /phone/verify` with the code. The verify
//! request itself binds the phone to the logged-in user (the `after_verify` hook answers
//! `Approval::bind(user)`) and writes the proof into the app's session, after giving the
//! session a new id. From then on `GET /me` and `GET /protected` need nothing but the session
//! cookie. A proof is only ever the phone of the user it was bound to: a proof verified
//! without a login, or by another user, never shows on `/me` nor opens `/protected`.
//!
//! Sending and verifying without a login still work (the HTTP contract holds on these
//! examples too) and bind nothing. To refuse sends without a login, set
//! `TWOFACTOR_EXAMPLE_REQUIRE_LOGIN=true` ([`Setup::require_login`]): the `before_send` hook
//! then answers 401 `login_required`.
//!
//! # Several instances
//!
//! With `TWOFACTOR_REDIS_URL` the verification state lives in Redis (the library's store) and
//! so do the app's sessions ([`SessionRecords::redis`]): instances behind one load balancer
//! share logins and proofs, whichever framework serves them. Both examples store a session the
//! same way — one JSON record per session id, the id in tower-sessions' format, the cookie
//! signed with a key derived from `TWOFACTOR_SIGNING_KEY` — so an axum instance and an actix
//! instance can even share one login. Set the same `TWOFACTOR_SIGNING_KEY` on every instance.
//!
//! The user table ([`Users`]) stands in for the app's database and is per process: it records
//! the phone each user verified. What `/me` and `/protected` answer comes from the session's
//! proof, never from the table, so every instance answers alike; a real app shares its
//! database too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use twofactor_tower::{GuardRejection, PhoneProof, PhoneVerifier, Refusal};

use crate::Protected;

/// The name of the app's own session cookie (the library's cookie is not used in session mode).
pub const SESSION_COOKIE: &str = "app_session";

/// The session key holding the logged-in user's name.
pub const USER_KEY: &str = "user";

/// How long a login lasts without activity.
pub const SESSION_TTL: Duration = Duration::from_secs(86_400);

/// The message of `login_required`, for the app's routes and the `before_send` hook alike.
pub const LOGIN_REQUIRED: &str = "log in first";

/// Where the sessions live in Redis: `{prefix}{session id}`.
pub const REDIS_PREFIX: &str = "twofactor-example:session:";

/// The longest user name `/login` takes.
pub const MAX_USER_LEN: usize = 64;

/// How a sessions example runs: its users, whether sends need a login, where sessions live.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The app's users.
    pub users: Users,
    /// Refuse `POST /phone/send` without a login (`TWOFACTOR_EXAMPLE_REQUIRE_LOGIN`, default
    /// false: the contract holds without a session).
    pub require_login: bool,
    /// Where the sessions live; `None`: the framework's in-memory store.
    pub redis: Option<SessionRecords>,
}

impl Setup {
    /// From the environment: `TWOFACTOR_EXAMPLE_REQUIRE_LOGIN` (`true`/`false`), and
    /// `TWOFACTOR_REDIS_URL` for the sessions too.
    pub async fn from_env() -> Result<Self, String> {
        let require_login = match std::env::var("TWOFACTOR_EXAMPLE_REQUIRE_LOGIN") {
            Err(_) => false,
            Ok(text) => match text.trim() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" | "" => false,
                _ => {
                    return Err(format!(
                        "TWOFACTOR_EXAMPLE_REQUIRE_LOGIN: expected true or false, got {text:?}"
                    ));
                }
            },
        };
        let redis = match std::env::var("TWOFACTOR_REDIS_URL") {
            Err(_) => None,
            Ok(url) => Some(SessionRecords::redis(&url, REDIS_PREFIX).await?),
        };
        Ok(Self {
            users: Users::default(),
            require_login,
            redis,
        })
    }
}

/// The secret that signs the session cookie: derived from the engine's signing key, so that
/// every instance configured with the same `TWOFACTOR_SIGNING_KEY` accepts the same cookies.
pub fn cookie_key(verifier: &PhoneVerifier) -> [u8; 64] {
    let primary = verifier.keys().primary();
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(&primary.derive("twofactor-examples session cookie signing"));
    key[32..].copy_from_slice(&primary.derive("twofactor-examples session cookie encryption"));
    key
}

/// What the app knows of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct User {
    /// The phone the user last verified, E.164.
    pub phone: Option<String>,
    /// When, Unix seconds.
    pub phone_verified_at: Option<u64>,
}

/// The app's user table, in memory (a stand-in for its database). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Users(Arc<Mutex<HashMap<String, User>>>);

impl Users {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, User>> {
        // A panic elsewhere while holding the lock leaves a table that is still consistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `user` logged in: known from now on.
    pub fn log_in(&self, user: &str) {
        self.table().entry(user.to_owned()).or_default();
    }

    /// `user` verified `proof`'s phone.
    pub fn record_phone(&self, user: &str, proof: &PhoneProof) {
        let mut table = self.table();
        let entry = table.entry(user.to_owned()).or_default();
        entry.phone = Some(proof.phone().e164());
        entry.phone_verified_at = Some(proof.verified_at_unix());
    }

    /// What the app knows of `user`.
    pub fn get(&self, user: &str) -> Option<User> {
        self.table().get(user).cloned()
    }

    /// The body of `GET /me` for the logged-in `user` and the request's proof: its phone only if
    /// the proof is bound to `user`. The table follows what the session says (it is a cache of
    /// it on this instance).
    pub fn me(&self, user: &str, proof: Option<&PhoneProof>) -> String {
        let proof = proof.filter(|p| p.is_bound_to(user));
        match proof {
            Some(proof) => self.record_phone(user, proof),
            None => self.log_in(user),
        }
        let body = Me {
            user,
            phone: proof.map(|p| p.phone().e164()),
            phone_verified_at: proof.map(|p| p.verified_at_unix()),
        };
        serde_json::to_string(&body).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct Me<'a> {
    user: &'a str,
    phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_verified_at: Option<u64>,
}

/// The body of `GET /protected` if `proof` is the logged-in `user`'s (bound to them) and, with
/// `max_age`, verified recently enough at `now`; else the guard's refusal.
pub fn protected(
    user: &str,
    proof: &PhoneProof,
    max_age: Option<Duration>,
    now: SystemTime,
) -> Result<String, GuardRejection> {
    if !proof.is_bound_to(user) {
        return Err(GuardRejection::Required);
    }
    match max_age {
        Some(max_age) if !proof.is_fresh(max_age, now) => Err(GuardRejection::Stale),
        _ => Ok(Protected::from(proof).to_json()),
    }
}

/// The app's own refusals, in the contract's error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppError {
    /// 401 `login_required`.
    LoginRequired,
    /// 400 `invalid_request`.
    InvalidRequest(&'static str),
    /// 413 `payload_too_large`.
    PayloadTooLarge,
    /// 503 `service_unavailable` (the session store failed).
    Unavailable,
}

impl AppError {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Self::LoginRequired => 401,
            Self::InvalidRequest(_) => 400,
            Self::PayloadTooLarge => 413,
            Self::Unavailable => 503,
        }
    }

    /// `Retry-After` seconds, if any.
    pub fn retry_after(self) -> Option<u64> {
        (self == Self::Unavailable).then_some(5)
    }

    /// The error code and the human message.
    pub fn code_and_message(self) -> (&'static str, &'static str) {
        match self {
            Self::LoginRequired => ("login_required", LOGIN_REQUIRED),
            Self::InvalidRequest(message) => ("invalid_request", message),
            Self::PayloadTooLarge => (
                "payload_too_large",
                "request bodies are limited to 4096 bytes",
            ),
            Self::Unavailable => (
                "service_unavailable",
                "sessions are temporarily unavailable",
            ),
        }
    }

    /// The JSON body.
    pub fn body(self) -> String {
        let (error, message) = self.code_and_message();
        serde_json::json!({ "error": error, "message": message }).to_string()
    }

    /// The same answer from a hook (`before_send`, `after_verify`).
    pub fn refusal(self) -> Refusal {
        let (code, message) = self.code_and_message();
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::FORBIDDEN);
        Refusal::new(status, code, message)
    }
}

/// The user name of a `POST /login` body `{"user": "alice"}`: JSON, at most 4 KiB, a name of
/// 1 to [`MAX_USER_LEN`] ASCII letters, digits, `.`, `_`, `-` or `@`.
pub fn parse_login(content_type: Option<&[u8]>, body: &[u8]) -> Result<String, AppError> {
    #[derive(Deserialize)]
    struct Login {
        user: String,
    }
    if body.len() > 4096 {
        return Err(AppError::PayloadTooLarge);
    }
    let json = content_type
        .and_then(|ct| std::str::from_utf8(ct).ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| ct.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(AppError::InvalidRequest(
            "send a JSON body with Content-Type: application/json",
        ));
    }
    let login: Login = serde_json::from_slice(body)
        .map_err(|_| AppError::InvalidRequest(r#"expected {"user": "<name>"}"#))?;
    let valid = (1..=MAX_USER_LEN).contains(&login.user.len())
        && login
            .user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if valid {
        Ok(login.user)
    } else {
        Err(AppError::InvalidRequest(
            "a user name is 1 to 64 ASCII letters, digits, '.', '_', '-' or '@'",
        ))
    }
}

/// A new session id: 128 random bits in tower-sessions' format (what its cookie carries), so
/// that both examples can read each other's sessions. An actix-only app can use
/// `actix_session::storage::generate_session_key()` instead.
pub fn new_session_id() -> String {
    tower_sessions::session::Id::default().to_string()
}

/// One session as both examples store it: the session's values (JSON) and when it expires.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session's values by key (`user`, `twofactor.proof`, …).
    pub data: HashMap<String, Value>,
    /// Unix seconds.
    pub expires_at: i64,
}

impl SessionRecord {
    fn is_live(&self) -> bool {
        self.expires_at > unix_now()
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Where the sessions' records live: in this process, or in Redis (shared by every instance).
/// Both examples' session stores are thin adapters over this. Cheap to clone.
#[derive(Clone)]
pub struct SessionRecords(Backend);

#[derive(Clone)]
enum Backend {
    Memory(Arc<Mutex<HashMap<String, SessionRecord>>>),
    Redis {
        connection: redis::aio::ConnectionManager,
        prefix: Arc<str>,
    },
}

impl std::fmt::Debug for SessionRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Backend::Memory(_) => f.write_str("SessionRecords(memory)"),
            Backend::Redis { prefix, .. } => write!(f, "SessionRecords(redis, {prefix:?})"),
        }
    }
}

/// A session store failure (Redis unreachable, or a record that does not parse).
#[derive(Debug, thiserror::Error)]
#[error("session store: {0}")]
pub struct RecordsError(String);

impl SessionRecords {
    /// In this process only.
    pub fn memory() -> Self {
        Self(Backend::Memory(Arc::default()))
    }

    /// In the Redis at `url`, under keys `{prefix}{id}`. Connects now, so that a wrong URL is
    /// a start-up error (which never shows the URL: it may hold a password).
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url)
            .map_err(|e| format!("TWOFACTOR_REDIS_URL (sessions): {:?}", e.kind()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(2))
            .set_number_of_retries(1);
        let connection = redis::aio::ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| {
                format!(
                    "TWOFACTOR_REDIS_URL (sessions): cannot connect ({:?})",
                    e.kind()
                )
            })?;
        Ok(Self(Backend::Redis {
            connection,
            prefix: prefix.into(),
        }))
    }

    /// Writes a new session under `id`, unless that id is taken (then `false`: pick another).
    pub async fn create(&self, id: &str, record: &SessionRecord) -> Result<bool, RecordsError> {
        match &self.0 {
            Backend::Memory(map) => {
                let mut map = lock(map);
                // Expired sessions go when new ones come: the map does not grow without end.
                map.retain(|_, r| r.is_live());
                if map.contains_key(id) {
                    return Ok(false);
                }
                map.insert(id.to_owned(), record.clone());
                Ok(true)
            }
            Backend::Redis { connection, prefix } => {
                let created: Option<String> = redis::cmd("SET")
                    .arg(format!("{prefix}{id}"))
                    .arg(encode(record)?)
                    .arg("NX")
                    .arg("EXAT")
                    .arg(record.expires_at)
                    .query_async(&mut connection.clone())
                    .await
                    .map_err(redis_error)?;
                Ok(created.is_some())
            }
        }
    }

    /// Writes the session `id`, created or replaced.
    pub async fn save(&self, id: &str, record: &SessionRecord) -> Result<(), RecordsError> {
        match &self.0 {
            Backend::Memory(map) => {
                lock(map).insert(id.to_owned(), record.clone());
                Ok(())
            }
            Backend::Redis { connection, prefix } => redis::cmd("SET")
                .arg(format!("{prefix}{id}"))
                .arg(encode(record)?)
                .arg("EXAT")
                .arg(record.expires_at)
                .query_async::<()>(&mut connection.clone())
                .await
                .map_err(redis_error),
        }
    }

    /// The live session `id`, if any.
    pub async fn load(&self, id: &str) -> Result<Option<SessionRecord>, RecordsError> {
        let record = match &self.0 {
            Backend::Memory(map) => lock(map).get(id).cloned(),
            Backend::Redis { connection, prefix } => {
                let text: Option<String> = redis::cmd("GET")
                    .arg(format!("{prefix}{id}"))
                    .query_async(&mut connection.clone())
                    .await
                    .map_err(redis_error)?;
                match text {
                    None => None,
                    Some(text) => Some(
                        serde_json::from_str(&text)
                            .map_err(|_| RecordsError("a session record does not parse".into()))?,
                    ),
                }
            }
        };
        Ok(record.filter(SessionRecord::is_live))
    }

    /// Moves the expiry of session `id` to `expires_at` (Unix seconds).
    pub async fn touch(&self, id: &str, expires_at: i64) -> Result<(), RecordsError> {
        // The record carries its expiry: rewrite it rather than only the key's TTL.
        if let Some(mut record) = self.load(id).await? {
            record.expires_at = expires_at;
            self.save(id, &record).await?;
        }
        Ok(())
    }

    /// Deletes session `id`.
    pub async fn delete(&self, id: &str) -> Result<(), RecordsError> {
        match &self.0 {
            Backend::Memory(map) => {
                lock(map).remove(id);
                Ok(())
            }
            Backend::Redis { connection, prefix } => redis::cmd("DEL")
                .arg(format!("{prefix}{id}"))
                .query_async::<()>(&mut connection.clone())
                .await
                .map_err(redis_error),
        }
    }
}

/// Unix seconds `ttl` from now.
pub fn expires_in(ttl: Duration) -> i64 {
    unix_now().saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn encode(record: &SessionRecord) -> Result<String, RecordsError> {
    serde_json::to_string(record).map_err(|_| RecordsError("a session does not serialize".into()))
}

fn redis_error(e: redis::RedisError) -> RecordsError {
    // The kind only: a Redis error can quote the URL it was given.
    RecordsError(format!("redis: {:?}", e.kind()))
}
