//! The PostgreSQL store (feature `postgres`): several app instances sharing one truth, on a
//! database they already run.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use twofactor_core::PhoneVerifier;
//! use twofactor_core::mock::MockProvider;
//! use twofactor_core::store::postgres::PostgresStore;
//!
//! let connected = PostgresStore::builder("postgres://postgres@127.0.0.1:5432/postgres")
//!     .schema("myapp_2fa")
//!     .timeout(Duration::from_millis(500))
//!     .connect()
//!     .await;
//! match connected {
//!     Ok(store) => {
//!         // One store per process, cloned wherever it is needed: it holds a few
//!         // connections, shared by every request, re-established when they break.
//!         let verifier = PhoneVerifier::builder(MockProvider::new()).store(store).build();
//!         assert!(verifier.is_ok());
//!     }
//!     // Start-up fails when the database is unreachable; the message never carries the URL.
//!     Err(e) => eprintln!("no PostgreSQL here: {e}"),
//! }
//! # }
//! ```
//!
//! # Schema
//!
//! Everything lives in one schema of its own (default `twofactor`), created on
//! [`connect`](PostgresStoreBuilder::connect) if missing; the store's connections put only it
//! on their `search_path`. Tables:
//!
//! | table | one row per | kept until |
//! |---|---|---|
//! | `phones` | phone with a live code, an attempt count or a lock (`pid`, `pexp`, `tkt`, `att`, `attu`, `locked_until`) | its last deadline |
//! | `send_log` | send in a phone's, a client address's, a number block's, a country's, the voice or the overall log, and verification in a country's verified log (`log`, `member`, `at`) | it leaves its window |
//! | `send_count` | log other than a phone's: how many rows it holds in `send_log` (`log`, `n`) | it is empty |
//! | `verify_budget` | client address and minute of its verify budget (`client`, `bucket`, `n`) | the bucket leaves the window |
//! | `revocations` | revocation, in the order recorded (`seq`, the readers' cursor) | its expiry |
//! | `schema_version` | applied schema version | — |
//!
//! Codes are never stored: the ticket is the provider's session id or, for codes checked
//! locally, a keyed hash ([`LocalOtp`](crate::local::LocalOtp)). Tickets are read back, never logged.
//!
//! ## Migrations
//!
//! `connect` takes an advisory lock for the schema (so instances starting together migrate
//! once), reads `schema_version`, applies the versions it lacks in one transaction, and
//! refuses to start ([`StoreError::Corrupt`], naming both versions) on a schema newer than
//! this code knows: an older instance must not write rows whose meaning has changed.
//! Version 2 ([`SCHEMA_VERSION`]) added `send_count` (filled from the rows of version 1)
//! and rewrote the functions for speed; they keep their names, arguments and results, so
//! instances of version 1 that are still running keep working beside it during an upgrade.
//!
//! # Steps, atomicity and round trips
//!
//! Each store step is **one call of one PL/pgSQL function, in one statement**: its own
//! transaction (autocommit), one round trip (a prepared statement). Single statements rather
//! than serialisable transactions, because a serialisable transaction that loses a race fails
//! and must be retried — 200 racing guesses would mostly retry, and a retry of a step that
//! may have run is exactly what a fail-closed store must not do. Instead each function, under
//! `READ COMMITTED`, first takes transaction-scoped advisory locks on the keys it touches (a
//! phone, a client address's verify budget, the shared caps, the revocation log), then reads
//! and writes; each statement inside a `VOLATILE` function reads a fresh snapshot, and a lock
//! is released only after its holder committed, so each step sees every write of the steps
//! before it on its keys: the steps on one key are serialised, exactly like one Lua script at
//! a time in Redis. Locks are always taken in one order (address budget, phone, caps) so that
//! no two steps wait on each other in a cycle.
//!
//! - `reserve_send`: the phone's lock, cooldown and cap and the shared caps (address, range,
//!   voice, country, overall), checked in the contract's order and recorded only if all pass:
//!   one round trip, nothing to take back. The phone's checks run under the phone's lock, the
//!   shared caps' under the caps' lock, taken after them (every send records the overall cap,
//!   so one lock for all shared caps costs no parallelism, but it serialises every send, so
//!   it covers only what needs it; the phone's checks still hold under it, as only time lifts
//!   them and the phone's lock keeps every other step off the phone).
//!   The caps are exact sliding windows over the logs' rows, but a shared cap is not counted
//!   row by row: the rows that left the window are deleted, then the log's counter in
//!   `send_count` is read (every statement that adds or deletes a row moves its log's
//!   counter in the same transaction), and only a full log is read further, for its
//!   `retry_after` (the cap-th newest send). A check costs the same at 10 sends an hour as
//!   at a million.
//! - `begin_attempt`: the address's budget, then the phone: one round trip (a wrong guess with
//!   attempts left needs nothing more). A match: one more to consume the code
//!   (`finish_attempt`), one to count it for the conversion guard (`record_verified`).
//! - `put_pending`, `finish_attempt`, `release_send`, `record_verified`, `conversion`,
//!   `revoke`: one round trip each. `revocations` reads in chunks of 1000 rows.
//!
//! Revocation ids come from an identity column, assigned under the revocation log's lock and
//! committed in the same order, so a reader that has seen id *n* has seen every id below it:
//! the cursor (the last id read) misses nothing recorded later by any instance. Ids are never
//! reused, even after every revocation expired.
//!
//! # Time
//!
//! As for the Redis store: by default ([`Clock::Server`]) every function reads the database
//! server's clock (`clock_timestamp()`), after taking its locks, and callers pass only
//! durations, so instances whose clocks disagree still share one lock deadline, one cooldown,
//! one code expiry; the engine's `now_ms` only converts the absolute times it hands in (a
//! code's or a revocation's expiry) into durations. [`Clock::Caller`] uses the engine's
//! `now_ms` instead: for tests with a simulated clock, and where the instances' clocks agree.
//!
//! # Expiry
//!
//! No job for the application to run. Every row carries the instant after which no rule needs
//! it, and every rule compares deadlines with the clock, so a stale row is ignored whether or
//! not it is gone. The steps delete what they find stale on their own keys (a settled phone
//! record, a log's sends past the window, a budget's old minutes, up to 1000 expired
//! revocations per `revoke`); for keys nobody touches again the store runs a purge of its own
//! (a Tokio task started by `connect`, every [`purge_every`](PostgresStoreBuilder::purge_every),
//! default a minute, up to 10 000 rows per table a run; it stops when the last clone of the
//! store is dropped). With [`Clock::Caller`] the purge is off unless asked for (it would go
//! by the system clock, not the caller's); [`PostgresStore::purge_expired`] runs one now.
//!
//! # Failing closed
//!
//! Every step is bounded by the store's timeout (default 1 s), on the client (connecting
//! included) and on the server (`statement_timeout`, so a step stuck behind a lock does not
//! run long after its caller gave up). Any error or timeout is a [`StoreError`] (the engine
//! answers "unavailable", 503 over HTTP). Nothing is retried: a step that may have run must
//! not run twice.
//!
//! The store holds a small pool of connections ([`connections`](PostgresStoreBuilder::connections),
//! default 4), used in turn; each pipelines the steps sent to it. A connection that broke is
//! replaced by the next step that picks it (that step waits for the new connection, within
//! its timeout), so the same process recovers by itself when the database comes back. No TLS
//! (`NoTls`): use a local socket, a private network or a TLS proxy; a URL that requires TLS
//! (`sslmode=require`) fails at connect.
//!
//! # Durability
//!
//! By default ([`Durability::Relaxed`]) the store's connections set `synchronous_commit =
//! off` for themselves: a step's commit is seen by every other step at once, as always, but
//! the step answers before its write-ahead log record is on disk; the server writes it within
//! three `wal_writer_delay`s (600 ms with the defaults). Waiting for the flush is what bounded
//! the store on the machine of BENCHMARKS.md (part g, 4 connections, a disk that flushes in
//! 3 ms: about 800 wrong-code verifications and 145 sends per second waiting, more than
//! 10 000 and 1 300 without). What it costs:
//!
//! - Only a crash of the database server or its machine loses anything: not a crash or a
//!   restart of the application, not a clean shutdown of PostgreSQL. The database then comes
//!   back as it was a moment before the crash: the log is replayed in order, so it is an
//!   earlier consistent state, never part of a step nor a step without the ones before it.
//! - What that moment held is forgotten: sends (the caps no longer count them), codes (their
//!   users are told there is no code, and ask for another), attempts (a guesser gets back the
//!   guesses of that moment, at most a phone's budget per crash), consumed codes (usable again
//!   until they expire, by whoever knows them).
//! - Revocations are never relaxed: `revoke` commits with the server's own setting, so a
//!   logout that answered survives the crash.
//! - That is what a Redis with `appendfsync everysec` keeps, and more than a Redis without
//!   persistence, which forgets everything when it restarts.
//!
//! [`Durability::Server`] (`TWOFACTOR_DATABASE_SYNCHRONOUS_COMMIT=true` from the environment)
//! leaves every step to the server's setting: with the default (`on`) a counted guess or a
//! recorded send survives a crash once the step answered. The relaxed setting also does not
//! wait for a synchronous standby; a replica promoted after a primary failure knows only what
//! was replicated to it: run [`Durability::Server`] with synchronous replication where a lost
//! guess count matters.
//!
//! The URL may carry a password: it appears in no error message and no `Debug` output.
//!
//! # From the environment
//!
//! [`Settings`](crate::config::Settings) reads `TWOFACTOR_DATABASE_URL`
//! (`postgres://user[:password]@host[:port]/database`); setting it together with
//! `TWOFACTOR_REDIS_URL` is a start-up error.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::{
    AttemptDecision, AttemptLimits, AttemptResult, CONVERSION_WINDOW_MS, ConversionFigures,
    Country, FinishOutcome, Limit, Pending, Revocation, RevocationBatch, RevocationCursor,
    SendAttempt, SendDecision, StoreError, VerificationStore, number_range,
};
use crate::phone::PhoneNumber;
use crate::provider::{Channel, Ticket};

/// The default schema.
pub const DEFAULT_SCHEMA: &str = "twofactor";
/// The default bound on one store step.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// The default number of connections.
pub const DEFAULT_CONNECTIONS: usize = 4;
/// The default interval of the store's own purge of expired rows.
pub const DEFAULT_PURGE_EVERY: Duration = Duration::from_secs(60);

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: i32 = 2;
/// The migrations, by version: entry `i` brings a schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; 2] = [
    include_str!("postgres/schema_v1.sql"),
    include_str!("postgres/schema_v2.sql"),
];

/// Durations handed to the functions are capped at a century (far from bigint's limits).
const MAX_SPAN_MS: u64 = 100 * 365 * 24 * 3_600_000;
/// Revocations read per call.
const REVOCATION_CHUNK: i32 = 1000;
/// Rows per table one purge run deletes at most.
const PURGE_LIMIT: i32 = 10_000;
/// Idle time before keep-alive probes.
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);
/// How long sent data may stay unacknowledged before the kernel drops the connection (Linux).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);

/// Which clock the store's functions go by; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Clock {
    /// The database server's clock: instances with skewed clocks still agree.
    #[default]
    Server,
    /// The `now_ms` the engine passes: for tests with a simulated clock.
    Caller,
}

/// How the store's steps wait for their commit to be durable; see the module docs
/// ("Durability").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// The counting steps (sends, codes, attempts, verifications) commit without waiting for
    /// the write-ahead log to reach the disk (`synchronous_commit = off` on the store's
    /// connections): a crash of the database server may lose the last fraction of a second
    /// of them, never a revocation, and never only part of a step.
    #[default]
    Relaxed,
    /// Every step commits as the server's `synchronous_commit` says (by default: waits for
    /// the flush).
    Server,
}

/// A failed database call; the operation names the store step. The driver's errors carry no
/// URL or password.
#[derive(Debug, thiserror::Error)]
#[error("postgres {op} failed")]
struct PgFailure {
    op: &'static str,
    #[source]
    source: tokio_postgres::Error,
}

/// The configuration itself is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadConfig(String);

/// SQLSTATE `query_canceled`: what `statement_timeout` raises.
const QUERY_CANCELED: &str = "57014";

fn pg_error(op: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |source| {
        if source.code().is_some_and(|c| c.code() == QUERY_CANCELED) {
            StoreError::Timeout
        } else {
            StoreError::unavailable(PgFailure { op, source })
        }
    }
}

fn corrupt(op: &str) -> StoreError {
    // Never the row itself: it may hold a ticket.
    StoreError::Corrupt(format!("unexpected reply to {op}"))
}

/// The prepared statements of one connection.
struct Statements {
    reserve_send: Statement,
    release_send: Statement,
    put_pending: Statement,
    begin_attempt: Statement,
    finish_attempt: Statement,
    record_verified: Statement,
    conversion: Statement,
    revoke: Statement,
    revocations: Statement,
    purge: Statement,
}

const SQL: [&str; 10] = [
    "SELECT limit_code, wait FROM tf_reserve_send($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
     $12, $13, $14, $15, $16, $17)",
    "SELECT tf_release_send($1, $2, $3, $4, $5)",
    "SELECT tf_put_pending($1, $2, $3, $4, $5)",
    "SELECT code, wait, pid, ticket, attempt, last FROM tf_begin_attempt($1, $2, $3, $4, $5, $6, \
     $7, $8)",
    "SELECT tf_finish_attempt($1, $2, $3, $4)",
    "SELECT tf_record_verified($1, $2, $3, $4)",
    "SELECT sends, verified FROM tf_conversion($1, $2, $3)",
    "SELECT tf_revoke($1, $2, $3, $4, $5, $6)",
    "SELECT seq, kind, a, b, x, live FROM tf_read_revocations($1, $2, $3)",
    "SELECT tf_purge($1, $2)",
];

/// One live connection and its statements.
struct Conn {
    client: Client,
    st: Statements,
}

/// A slot of the pool: the connection, and a gate so that one caller reconnects at a time.
struct Slot {
    conn: Mutex<Option<Arc<Conn>>>,
    connecting: tokio::sync::Mutex<()>,
}

impl Slot {
    fn live(&self) -> Option<Arc<Conn>> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.as_ref().filter(|c| !c.client.is_closed()).cloned()
    }
}

struct Pool {
    config: tokio_postgres::Config,
    /// Run on each new connection: the search path and the statement timeout.
    setup: String,
    slots: Vec<Slot>,
    next: AtomicUsize,
}

impl Pool {
    /// Opens one connection: connect, set the session up, prepare the statements.
    async fn open(&self) -> Result<Conn, StoreError> {
        let (client, connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(pg_error("connect"))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "twofactor: a PostgreSQL connection closed");
            }
        });
        client
            .batch_execute(&self.setup)
            .await
            .map_err(pg_error("connect"))?;
        let prepared = futures_util::future::try_join_all(SQL.iter().map(|q| client.prepare(q)))
            .await
            .map_err(pg_error("prepare"))?;
        let mut st = prepared.into_iter();
        let mut next = || st.next().ok_or_else(|| corrupt("prepare"));
        let st = Statements {
            reserve_send: next()?,
            release_send: next()?,
            put_pending: next()?,
            begin_attempt: next()?,
            finish_attempt: next()?,
            record_verified: next()?,
            conversion: next()?,
            revoke: next()?,
            revocations: next()?,
            purge: next()?,
        };
        Ok(Conn { client, st })
    }

    /// A live connection, in turn; a broken one is replaced first.
    async fn get(&self) -> Result<Arc<Conn>, StoreError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let slot = &self.slots[i];
        if let Some(conn) = slot.live() {
            return Ok(conn);
        }
        let _gate = slot.connecting.lock().await;
        if let Some(conn) = slot.live() {
            return Ok(conn);
        }
        let conn = Arc::new(self.open().await?);
        *slot.conn.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn.clone());
        Ok(conn)
    }
}

struct Inner {
    pool: Pool,
    timeout: Duration,
    clock: Clock,
    durability: Durability,
    schema: String,
    /// `host:port/database`, for `Debug` (never the credentials).
    server: String,
}

/// The PostgreSQL [`VerificationStore`]; cheap to clone (clones share the connections). See
/// the module docs for the schema, the steps and the failure behaviour.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("server", &self.inner.server)
            .field("schema", &self.inner.schema)
            .field("timeout", &self.inner.timeout)
            .field("clock", &self.inner.clock)
            .field("durability", &self.inner.durability)
            .field("connections", &self.inner.pool.slots.len())
            .finish_non_exhaustive()
    }
}

/// Builds a [`PostgresStore`]; see [`PostgresStore::builder`].
#[must_use]
pub struct PostgresStoreBuilder {
    url: SecretString,
    schema: String,
    timeout: Duration,
    clock: Clock,
    durability: Durability,
    connections: usize,
    purge_every: Option<Option<Duration>>,
}

impl fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStoreBuilder")
            .field("url", &"[REDACTED]")
            .field("schema", &self.schema)
            .field("timeout", &self.timeout)
            .field("clock", &self.clock)
            .field("durability", &self.durability)
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}

/// Whether `name` is a plain identifier we can quote without surprises.
fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

impl PostgresStoreBuilder {
    fn new(url: &str) -> Self {
        Self {
            url: SecretString::from(url),
            schema: DEFAULT_SCHEMA.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            clock: Clock::Server,
            durability: Durability::Relaxed,
            connections: DEFAULT_CONNECTIONS,
            purge_every: None,
        }
    }

    /// The schema the store's tables and functions live in (default `twofactor`; lower-case
    /// ASCII letters, digits and `_`, not starting with a digit), so that several apps or
    /// tests can share a database.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The longest one store step may take, reconnecting included (default 1 s; at least
    /// 1 ms). Past it the step fails with [`StoreError::Timeout`]. Connecting at start-up may
    /// take a few times as long (connect, migrate, prepare).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Which clock the functions go by (default [`Clock::Server`]; see the module docs).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Whether the counting steps wait for their commit to reach the disk (default
    /// [`Durability::Relaxed`]: they do not; see the module docs, "Durability").
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// How many connections the store holds (default 4, at least 1). With
    /// [`Durability::Server`] each step waits for its commit's flush, and the server flushes
    /// the commits of all connections together: more connections then mean more steps per
    /// flush (BENCHMARKS.md, part g).
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n.max(1);
        self
    }

    /// How often the store's own task deletes expired rows (`None`: never). Default: every
    /// minute with [`Clock::Server`], never with [`Clock::Caller`].
    pub fn purge_every(mut self, every: Option<Duration>) -> Self {
        self.purge_every = Some(every);
        self
    }

    /// Connects, creates or migrates the schema, and prepares the statements. Fails if the
    /// database cannot be reached or refuses us, if the URL or the schema name is unusable, or
    /// if the schema is newer than this code; the error never carries the URL.
    pub async fn connect(self) -> Result<PostgresStore, StoreError> {
        if !valid_schema(&self.schema) {
            return Err(StoreError::unavailable(BadConfig(format!(
                "the PostgreSQL schema name {:?} is not a lower-case identifier",
                self.schema
            ))));
        }
        let mut config =
            tokio_postgres::Config::from_str(self.url.expose_secret()).map_err(|_| {
                // The parser's message may quote the URL: say only that it is unusable.
                StoreError::unavailable(BadConfig("the PostgreSQL URL cannot be parsed".to_owned()))
            })?;
        config
            .connect_timeout(self.timeout)
            .keepalives(true)
            .keepalives_idle(TCP_KEEPALIVE)
            .tcp_user_timeout(TCP_USER_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name("twofactor");
        }
        let server = describe(&config);
        let mut setup = format!(
            "SET search_path TO \"{}\"; SET statement_timeout = {}",
            self.schema,
            self.timeout.as_millis().max(1)
        );
        if self.durability == Durability::Relaxed {
            // For this session only: tf_revoke sets the server's own value back for its
            // transaction.
            setup.push_str("; SET synchronous_commit = off");
        }
        let pool = Pool {
            config,
            setup,
            slots: (0..self.connections)
                .map(|_| Slot {
                    conn: Mutex::new(None),
                    connecting: tokio::sync::Mutex::new(()),
                })
                .collect(),
            next: AtomicUsize::new(0),
        };
        let start = async {
            migrate(&pool.config, &self.schema).await?;
            // The first connection now, so that start-up fails when the database is away.
            pool.get().await.map(drop)
        };
        tokio::time::timeout(self.timeout.saturating_mul(5), start)
            .await
            .map_err(|_| StoreError::Timeout)??;
        let inner = Arc::new(Inner {
            pool,
            timeout: self.timeout,
            clock: self.clock,
            durability: self.durability,
            schema: self.schema,
            server,
        });
        let purge_every = self.purge_every.unwrap_or(match self.clock {
            Clock::Server => Some(DEFAULT_PURGE_EVERY),
            Clock::Caller => None,
        });
        if let Some(every) = purge_every {
            spawn_purge(Arc::downgrade(&inner), every);
        }
        Ok(PostgresStore { inner })
    }
}

/// `host:port/database` of the first host, or the socket path.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or_default();
    format!("{host}:{port}/{db}")
}

/// The store's own purge: runs every `every` until the store is dropped.
fn spawn_purge(store: Weak<Inner>, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(inner) = store.upgrade() else {
                return;
            };
            let store = PostgresStore { inner };
            if let Err(e) = store.purge_at(None).await {
                tracing::debug!(error = %e, "twofactor: the PostgreSQL purge did not run");
            }
        }
    });
}

/// Creates or migrates `schema` on a connection of its own, in one transaction under an
/// advisory lock (instances that start together migrate once).
async fn migrate(config: &tokio_postgres::Config, schema: &str) -> Result<(), StoreError> {
    let (mut client, connection) = config.connect(NoTls).await.map_err(pg_error("connect"))?;
    let task = tokio::spawn(connection);
    let result = async {
        let tx = client.transaction().await.map_err(pg_error("migrate"))?;
        tx.batch_execute("SET LOCAL statement_timeout = 0")
            .await
            .map_err(pg_error("migrate"))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('twofactor-migrate:' || $1::text, 0))",
            &[&schema],
        )
        .await
        .map_err(pg_error("migrate"))?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; SET LOCAL search_path TO \"{schema}\"; \
             CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)"
        ))
        .await
        .map_err(pg_error("migrate"))?;
        let found: Option<i32> = tx
            .query_one("SELECT max(version) FROM schema_version", &[])
            .await
            .map_err(pg_error("migrate"))?
            .try_get(0)
            .map_err(|_| corrupt("schema_version"))?;
        let found = found.unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "the PostgreSQL schema \"{schema}\" is at version {found}, newer than this code \
                 knows (version {SCHEMA_VERSION}): upgrade the application"
            )));
        }
        let from = usize::try_from(found).map_err(|_| corrupt("schema_version"))?;
        for (i, step) in MIGRATIONS.iter().enumerate().skip(from) {
            tx.batch_execute(step).await.map_err(pg_error("migrate"))?;
            let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
            tx.execute("DELETE FROM schema_version", &[])
                .await
                .map_err(pg_error("migrate"))?;
            tx.execute("INSERT INTO schema_version VALUES ($1)", &[&version])
                .await
                .map_err(pg_error("migrate"))?;
        }
        tx.commit().await.map_err(pg_error("migrate"))
    }
    .await;
    drop(client);
    let _ = task.await;
    result
}

fn span(ms: u64) -> i64 {
    i64::try_from(ms.min(MAX_SPAN_MS)).unwrap_or(i64::MAX)
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A u64 stored bit for bit in a bigint, and back.
fn to_db(id: u64) -> i64 {
    i64::from_ne_bytes(id.to_ne_bytes())
}

fn from_db(id: i64) -> u64 {
    u64::from_ne_bytes(id.to_ne_bytes())
}

fn phone_db(phone: PhoneNumber) -> i64 {
    i64::try_from(phone.digits()).unwrap_or(i64::MAX)
}

/// The number block's log, as `reserve_send` and `release_send` both name it.
fn range_log(phone: PhoneNumber, digits: u8) -> String {
    let tail = "x".repeat(usize::from(digits));
    format!("r:{}{tail}", number_range(phone, digits))
}

fn wait_ms(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0).max(1)
}

fn limit_of(code: i32) -> Option<Limit> {
    Some(match code {
        1 => Limit::Locked,
        2 => Limit::Cooldown,
        3 => Limit::Phone,
        4 => Limit::Ip,
        5 => Limit::Range,
        6 => Limit::Channel,
        7 => Limit::Country,
        8 => Limit::Global,
        _ => return None,
    })
}

fn attempt_decision(row: &Row) -> Option<AttemptDecision> {
    let code: i32 = row.try_get(0).ok()?;
    let wait: Option<i64> = row.try_get(1).ok()?;
    match code {
        0 => Some(AttemptDecision::Locked {
            retry_after_ms: wait_ms(wait?),
        }),
        1 => Some(AttemptDecision::NoCode),
        3 => Some(AttemptDecision::RateLimited {
            retry_after_ms: wait_ms(wait?),
        }),
        2 => {
            let pid: i64 = row.try_get(2).ok()?;
            let ticket: Option<String> = row.try_get(3).ok()?;
            let attempt: i32 = row.try_get(4).ok()?;
            let last: bool = row.try_get(5).ok()?;
            Some(AttemptDecision::Proceed {
                pending_id: from_db(pid),
                ticket: Ticket::new(ticket.unwrap_or_default()),
                attempt: u32::try_from(attempt).ok()?,
                last,
            })
        }
        _ => None,
    }
}

fn revocation(row: &Row) -> Option<Revocation> {
    let kind: String = row.try_get(1).ok()?;
    let a: String = row.try_get(2).ok()?;
    let b: i64 = row.try_get(3).ok()?;
    let x: i64 = row.try_get(4).ok()?;
    let expires_at_ms = u64::try_from(x).ok()?;
    match kind.as_str() {
        "t" => {
            let mut id = [0u8; 16];
            hex::decode_to_slice(&a, &mut id).ok()?;
            Some(Revocation::Token { id, expires_at_ms })
        }
        "p" => Some(Revocation::Phone {
            phone: PhoneNumber::from_digits(a.parse().ok()?)?,
            before_ms: u64::try_from(b).ok()?,
            expires_at_ms,
        }),
        _ => None,
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`) with the default
    /// schema and timeout; see [`PostgresStoreBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// Starts a builder for the database at `url` (kept secret).
    pub fn builder(url: &str) -> PostgresStoreBuilder {
        PostgresStoreBuilder::new(url)
    }

    /// The clock the functions go by.
    pub fn clock(&self) -> Clock {
        self.inner.clock
    }

    /// Whether the counting steps wait for the disk.
    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// The schema.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// The bound on one store step.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Deletes the rows no rule needs any more at the server's clock (up to 10 000 per
    /// table), as the store's own purge task does; returns how many went.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        self.purge_at(None).await
    }

    async fn purge_at(&self, caller: Option<i64>) -> Result<u64, StoreError> {
        self.step("purge", |c| async move {
            let row = c
                .client
                .query_one(&c.st.purge, &[&caller, &PURGE_LIMIT])
                .await?;
            Ok(row)
        })
        .await
        .and_then(|row| {
            let n: i64 = row.try_get(0).map_err(|_| corrupt("purge"))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// The functions' clock argument: NULL for the server's clock, or the caller's `now_ms`.
    fn now_arg(&self, now_ms: u64) -> Option<i64> {
        match self.inner.clock {
            Clock::Server => None,
            Clock::Caller => Some(i64::try_from(now_ms).unwrap_or(i64::MAX)),
        }
    }

    /// Runs one store step (one call on a pooled connection) within the timeout.
    async fn step<T, F, Fut>(&self, op: &'static str, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(Arc<Conn>) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let run = async {
            let conn = self.inner.pool.get().await?;
            call(conn).await.map_err(pg_error(op))
        };
        tokio::time::timeout(self.inner.timeout, run)
            .await
            .unwrap_or(Err(StoreError::Timeout))
    }
}

#[async_trait]
impl VerificationStore for PostgresStore {
    async fn reserve_send(&self, send: &SendAttempt) -> Result<SendDecision, StoreError> {
        let l = send.limits;
        let now = self.now_arg(send.now_ms);
        let phone = phone_db(send.phone);
        let member = to_db(send.id());
        let (cooldown, window, cwindow) = (
            span(l.cooldown_ms),
            span(l.window_ms),
            span(CONVERSION_WINDOW_MS),
        );
        let ip = send.client_ip.map(|ip| ip.to_string());
        let range = range_log(send.phone, l.range_digits);
        let voice = send.channel == Channel::Voice;
        let country = send.country.as_str().to_owned();
        let (per_phone, per_ip, per_range, voice_cap, global) = (
            count(l.per_phone),
            count(l.per_ip),
            count(l.per_range),
            count(l.voice_global),
            count(l.global),
        );
        let (conv_min, conv_permille) = (
            count(l.conversion_min_sends),
            i32::from(l.conversion_min_permille),
        );
        let row = self
            .step("reserve_send", |c| async move {
                c.client
                    .query_one(
                        &c.st.reserve_send,
                        &[
                            &now,
                            &phone,
                            &member,
                            &cooldown,
                            &per_phone,
                            &window,
                            &ip,
                            &per_ip,
                            &range,
                            &per_range,
                            &voice_cap,
                            &voice,
                            &global,
                            &country,
                            &conv_min,
                            &conv_permille,
                            &cwindow,
                        ],
                    )
                    .await
            })
            .await?;
        let code: i32 = row.try_get(0).map_err(|_| corrupt("reserve_send"))?;
        let wait: i64 = row.try_get(1).map_err(|_| corrupt("reserve_send"))?;
        if code == 0 {
            return Ok(SendDecision::Granted);
        }
        Ok(SendDecision::Refused {
            limit: limit_of(code).ok_or_else(|| corrupt("reserve_send"))?,
            retry_after_ms: wait_ms(wait),
        })
    }

    async fn release_send(&self, send: &SendAttempt) -> Result<(), StoreError> {
        let phone = phone_db(send.phone);
        let member = to_db(send.id());
        let ip = send.client_ip.map(|ip| ip.to_string());
        let range = range_log(send.phone, send.limits.range_digits);
        let country = send.country.as_str().to_owned();
        self.step("release_send", |c| async move {
            c.client
                .execute(
                    &c.st.release_send,
                    &[&phone, &member, &ip, &range, &country],
                )
                .await
                .map(drop)
        })
        .await
    }

    async fn put_pending(
        &self,
        phone: PhoneNumber,
        pending: &Pending,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let now = self.now_arg(now_ms);
        let (p, id) = (phone_db(phone), to_db(pending.id));
        let life = span(pending.expires_at_ms.saturating_sub(now_ms));
        let ticket = pending.ticket.expose();
        self.step("put_pending", |c| async move {
            c.client
                .execute(&c.st.put_pending, &[&now, &p, &id, &life, &ticket])
                .await
                .map(drop)
        })
        .await
    }

    async fn begin_attempt(
        &self,
        phone: PhoneNumber,
        client: Option<IpAddr>,
        now_ms: u64,
        limits: &AttemptLimits,
    ) -> Result<AttemptDecision, StoreError> {
        let now = self.now_arg(now_ms);
        let p = phone_db(phone);
        let ip = client.map(|ip| ip.to_string());
        let (max, lockout, memory) = (
            count(limits.max_attempts),
            span(limits.lockout_ms),
            span(limits.memory_ms),
        );
        let (budget, window) = (count(limits.verifies_per_ip), span(limits.verify_window_ms));
        let row = self
            .step("begin_attempt", |c| async move {
                c.client
                    .query_one(
                        &c.st.begin_attempt,
                        &[&now, &p, &ip, &max, &lockout, &memory, &budget, &window],
                    )
                    .await
            })
            .await?;
        attempt_decision(&row).ok_or_else(|| corrupt("begin_attempt"))
    }

    async fn finish_attempt(
        &self,
        phone: PhoneNumber,
        pending_id: u64,
        result: AttemptResult,
        now_ms: u64,
    ) -> Result<FinishOutcome, StoreError> {
        let now = self.now_arg(now_ms);
        let (p, id) = (phone_db(phone), to_db(pending_id));
        let result: i32 = match result {
            AttemptResult::Matched => 1,
            AttemptResult::LastMismatch => 2,
        };
        let row = self
            .step("finish_attempt", |c| async move {
                c.client
                    .query_one(&c.st.finish_attempt, &[&now, &p, &id, &result])
                    .await
            })
            .await?;
        let gone: bool = row.try_get(0).map_err(|_| corrupt("finish_attempt"))?;
        Ok(if gone {
            FinishOutcome::Gone
        } else {
            FinishOutcome::Done
        })
    }

    async fn record_verified(&self, country: Country, now_ms: u64) -> Result<(), StoreError> {
        let now = self.now_arg(now_ms);
        let country = country.as_str().to_owned();
        let member = to_db(u64::from_le_bytes(crate::secret::random_bytes()));
        let window = span(CONVERSION_WINDOW_MS);
        self.step("record_verified", |c| async move {
            c.client
                .execute(&c.st.record_verified, &[&now, &country, &member, &window])
                .await
                .map(drop)
        })
        .await
    }

    async fn conversion(
        &self,
        country: Country,
        now_ms: u64,
    ) -> Result<ConversionFigures, StoreError> {
        let now = self.now_arg(now_ms);
        let country = country.as_str().to_owned();
        let window = span(CONVERSION_WINDOW_MS);
        let row = self
            .step("conversion", |c| async move {
                c.client
                    .query_one(&c.st.conversion, &[&now, &country, &window])
                    .await
            })
            .await?;
        let sends: i64 = row.try_get(0).map_err(|_| corrupt("conversion"))?;
        let verified: i64 = row.try_get(1).map_err(|_| corrupt("conversion"))?;
        Ok(ConversionFigures::new(
            u64::try_from(sends).unwrap_or(0),
            u64::try_from(verified).unwrap_or(0),
        ))
    }

    async fn revoke(&self, revocation: &Revocation, now_ms: u64) -> Result<(), StoreError> {
        let now = self.now_arg(now_ms);
        let expires = revocation.expires_at_ms();
        let life = span(expires.saturating_sub(now_ms));
        let x = i64::try_from(expires).unwrap_or(i64::MAX);
        let (kind, a, b) = match revocation {
            Revocation::Token { id, .. } => ("t", hex::encode(id), 0i64),
            Revocation::Phone {
                phone, before_ms, ..
            } => (
                "p",
                phone.digits().to_string(),
                i64::try_from(*before_ms).unwrap_or(i64::MAX),
            ),
        };
        self.step("revoke", |c| async move {
            c.client
                .execute(&c.st.revoke, &[&now, &life, &kind, &a, &b, &x])
                .await
                .map(drop)
        })
        .await
    }

    async fn revocations(
        &self,
        since: &RevocationCursor,
        now_ms: u64,
    ) -> Result<RevocationBatch, StoreError> {
        let now = self.now_arg(now_ms);
        let mut after: i64 = match since.position() {
            None => 0,
            Some(p) => p.parse().map_err(|_| corrupt("revocations cursor"))?,
        };
        let start = after;
        let rows_of = |after: i64| {
            self.step("revocations", move |c| async move {
                c.client
                    .query(&c.st.revocations, &[&now, &after, &REVOCATION_CHUNK])
                    .await
            })
        };
        let mut entries = Vec::new();
        loop {
            let rows = rows_of(after).await?;
            for row in &rows {
                after = row.try_get(0).map_err(|_| corrupt("revocations"))?;
                let live: bool = row.try_get(5).map_err(|_| corrupt("revocations"))?;
                if live {
                    entries.push(revocation(row).ok_or_else(|| corrupt("revocations"))?);
                }
            }
            if rows.len() < usize::try_from(REVOCATION_CHUNK).unwrap_or(usize::MAX) {
                break;
            }
        }
        let cursor = if after == 0 && start == 0 {
            RevocationCursor::start()
        } else {
            RevocationCursor::at(after.to_string())
        };
        Ok(RevocationBatch::new(entries, cursor))
    }
}
