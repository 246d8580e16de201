//! The Redis store (feature `redis`): several app instances sharing one truth.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use twofactor_core::PhoneVerifier;
//! use twofactor_core::mock::MockProvider;
//! use twofactor_core::store::redis::RedisStore;
//!
//! let connected = RedisStore::builder("redis://127.0.0.1:6379/0")
//!     .prefix("myapp:2fa")
//!     .timeout(Duration::from_millis(500))
//!     .connect()
//!     .await;
//! match connected {
//!     Ok(store) => {
//!         // One store per process, cloned wherever it is needed: it holds one
//!         // auto-reconnecting connection, shared by every request.
//!         let verifier = PhoneVerifier::builder(MockProvider::new()).store(store).build();
//!         assert!(verifier.is_ok());
//!     }
//!     // Start-up fails when Redis is unreachable; the message never carries the URL.
//!     Err(e) => eprintln!("no Redis here: {e}"),
//! }
//! # }
//! ```
//!
//! # Keys
//!
//! With the prefix `P` (default `twofactor`) and a phone `+919812345678`:
//!
//! | key | type | holds | TTL |
//! |---|---|---|---|
//! | `P:{+919812345678}` | hash | the live code (`pid` id, `pexp` expiry, `tkt` ticket), the attempt count (`att`, `attu`) and the lock (`lock`) | until the last of those deadlines |
//! | `P:{+919812345678}:sends` | sorted set | the phone's sends in the last hour, scored by time | until the newest leaves the window |
//! | `P:{caps}:ip:<address>` | sorted set | one client address's sends in the last hour | the same |
//! | `P:{caps}:range:919812345xxx` | sorted set | one number block's sends in the last hour (the `x`s are the block's trailing digits) | the same |
//! | `P:{caps}:voice` | sorted set | every voice send in the last hour | the same |
//! | `P:{caps}:all` | sorted set | every send in the last hour (the spend guard) | the same |
//! | `P:{caps}:conv:IN:sends` | sorted set | the sends to one country let through in the last hour (conversion guard) | the same |
//! | `P:{caps}:conv:IN:verified` | sorted set | that country's successful verifications in the last hour | the same |
//! | `P:{caps}:vip:<address>` | hash | one client address's verifies, counted by minute (field: the minute's index) | until the newest minute leaves the window |
//! | `P:{revocations}` | stream | every revocation not yet expired (fields `k` kind, `a` token id or phone, `b` before, `x` expiry, `sx` expiry in the store's clock) | until the last revocation expires |
//! | `P:{revocations}:exp` | sorted set | the stream's ids by expiry, to forget expired entries in order | the same |
//!
//! The braces are Redis Cluster hash tags: the two keys of a phone share a slot, the caps
//! share another (`{caps}`), the revocations a third, so each script below touches one slot
//! (but one, see `begin_attempt`). Every key carries a TTL, so nothing grows without bound: a
//! send log holds at most a cap's worth of entries, a verify budget at most 60 counts, and the
//! revocation stream only what has not expired (each `revoke` forgets up to 1000 expired
//! entries, and both keys go when the last one expires).
//! Codes are never stored: the ticket is the provider's session id or, for codes checked
//! locally, a keyed hash ([`LocalOtp`](crate::local::LocalOtp)). Tickets are read back, never logged.
//!
//! # Steps and round trips
//!
//! Each store step is a Lua script, loaded once at start-up (`SCRIPT LOAD`) and called by its
//! SHA (`EVALSHA`, which Redis runs atomically). After a Redis restart the script cache is
//! empty: the call gets `NOSCRIPT` (meaning nothing ran) and is sent again as `EVAL` with the
//! script's source, which runs it and caches it on that node.
//!
//! - `put_pending`, `finish_attempt`: one script each on the phone's slot.
//! - `begin_attempt` with a client address must first spend the address's verify budget (in
//!   `{caps}`), then touch the phone. On a standalone server it is one script over both slots
//!   — a wrong guess with attempts left is one round trip in all (a match: one more to
//!   consume the code, and one to count the verification for the conversion guard). Redis
//!   Cluster refuses cross-slot scripts, so
//!   [`RedisStoreBuilder::cluster_safe_scripts`] (on by default for
//!   [`RedisStore::cluster_builder`]) switches to two one-slot scripts, the address's first,
//!   then the phone's: one round trip more. Without an address only the phone's script runs.
//! - `reserve_send` must check the phone (lock, cooldown, per-phone cap) *and* the shared caps
//!   (address, range, voice, country, overall), and those live in different slots: one script
//!   over all of them would be a cross-slot script, refused by Redis Cluster. So a send runs
//!   two scripts, the phone's and the caps', each atomic and each recording the send only if
//!   its own checks pass. Both are sent at once on the multiplexed connection — one round
//!   trip. If both grant, the send is granted; if one refuses (or fails), the other's record
//!   is taken back (the `release` script removes this send's unique member, the
//!   [`SendAttempt::id`], from each of its logs) and the refusal is returned, with the phone's
//!   refusal first, as its limits come first in the contract's order. A successful send is therefore
//!   two round trips (reserve, then `put_pending` after the provider), three `EVALSHA`s; the
//!   compensating step happens only on the refusal path, which sends no SMS.
//!
//!   Why this holds the caps: each counter is checked and incremented atomically, and a send
//!   goes ahead only when every counter has recorded it, so no cap can be exceeded. The price
//!   is on the safe side: between a refusal and its compensation (one round trip), a concurrent
//!   request may see one send too many and be refused too. Alternatives were worse: checking
//!   the phone, then the caps in sequence costs a third round trip on every send; putting all
//!   keys under one hash tag makes every phone share one Cluster slot.
//! - `release_send`: the `release` script on each slot, at once.
//! - `revoke` appends to the stream; `revocations` reads it from the cursor (the last stream
//!   id read) in chunks of 1000. Stream ids only grow, so a reader misses nothing appended
//!   after its cursor, by any instance. (If the stream expires entirely, new ids start from
//!   the server's clock again: a cursor stays valid as long as that clock does not go back.)
//!
//! # Time
//!
//! By default ([`Clock::Server`]) every script reads the Redis server's clock (`TIME`), and
//! callers pass only durations: instances whose clocks disagree by minutes still share one
//! lock deadline, one cooldown, one code expiry. The engine's `now_ms` then only matters for
//! converting absolute times it hands in (a code's or a revocation's expiry) into durations,
//! so a skewed instance shifts those by its skew, and nothing else.
//! [`Clock::Caller`] uses the engine's `now_ms` instead, as the in-memory store does: for
//! tests that move a simulated clock (the conformance suite), and only where the instances'
//! clocks are known to agree.
//!
//! # Eviction
//!
//! Redis under memory pressure evicts keys by its `maxmemory-policy`, and every key here has a
//! TTL — so `volatile-*` policies can evict them as well as `allkeys-*` ones, and an evicted
//! lock or counter is silently gone. At connect time the store reads the policy (`INFO
//! memory`, falling back to `CONFIG GET` where `INFO` is refused) and, unless it is
//! `noeviction` or there is no memory limit, logs a warning; [`RedisStore::eviction`] tells
//! what it found.
//!
//! # Failing closed
//!
//! Every call is bounded by the store's timeout (default 1 s): the connection's connect and
//! response timeouts, plus a backstop around each store step. Any error or timeout is a
//! [`StoreError`] (so the engine answers "unavailable", 503 over HTTP): no code is sent without
//! its record, and no guess is compared without its count. Nothing is retried automatically
//! (a step that may have run must not run twice); only the answers that mean it did not run:
//! `NOSCRIPT`, and on a cluster `MOVED`, `ASK` and `TRYAGAIN`.
//!
//! On a single endpoint the connection is a `redis` crate `ConnectionManager`: created once
//! per store, cloned for each call, and re-established in the background after it breaks,
//! with no delay between attempts, so the same process recovers when Redis comes back. The call that finds the connection broken
//! fails (closed) and starts the reconnection; the calls after it use the new connection.
//! `TCP_NODELAY` keeps the two scripts of a send from waiting on each other; keep-alive and,
//! on Linux, `TCP_USER_TIMEOUT` make a silently dead connection (a vanished host) break within
//! seconds instead of the kernel's quarter of an hour.
//!
//! The URL may carry a password: it appears in no error message and no `Debug` output.
//!
//! # TLS (feature `redis-tls`)
//!
//! A `rediss://` URL connects over TLS (rustls, with the ring provider that the HTTP client
//! already brings; installed as the process default only if the application chose none). The
//! server's certificate is always verified, against the system's roots (read at connect, by
//! `rustls-native-certs`: no bundled list to go stale) or against a CA given in PEM with
//! [`RedisStoreBuilder::ca_file`] or [`ca_pem`](RedisStoreBuilder::ca_pem), and for the host
//! name in the URL. Nothing downgrades: a certificate that does not verify, or names another
//! host, fails [`connect`](RedisStoreBuilder::connect) with the reason (`UnknownIssuer`,
//! `certificate not valid for name …`); the `redis` crate's `#insecure` URL fragment is
//! refused, and so is a CA given for a `redis://` URL (it would go unused). Without the
//! feature a `rediss://` URL is refused with a message naming it; plain-text users build
//! neither rustls's client side nor the root loading.
//!
//! # Redis Cluster (feature `redis-cluster`)
//!
//! [`RedisStore::cluster_builder`] takes seed URLs (any node will do; all `redis://` or all
//! `rediss://`, with the same CA for every node). Each script touches one slot, as the key
//! table shows: the cluster builder turns on
//! [`cluster_safe_scripts`](RedisStoreBuilder::cluster_safe_scripts), so a verify with a
//! client address spends its budget and counts the attempt in two scripts.
//!
//! ```no_run
//! # async fn demo() -> Result<(), twofactor_core::store::StoreError> {
//! use twofactor_core::store::redis::RedisStore;
//!
//! let store = RedisStore::cluster_builder([
//!     "rediss://:password@10.0.0.1:6379",
//!     "rediss://:password@10.0.0.2:6379",
//! ])
//! .ca_file("/etc/redis/ca.pem")
//! .connect()
//! .await?;
//! # drop(store); Ok(()) }
//! ```
//!
//! The `redis` crate's cluster client routes each call to its slot's primary and keeps the
//! slot map; the store follows the answers that prove a call did not run —
//! `MOVED`, `ASK` and `TRYAGAIN` — and nothing else: its client does not re-send a call whose
//! connection broke or timed out (it may have run). A script the node does not hold
//! (`NOSCRIPT`: a restarted node, a promoted replica, a node that took over a slot) is sent
//! again as `EVAL` with its source, to the same node, which runs and caches it.
//!
//! While a slot migrates, Redis answers `TRYAGAIN` to a step whose keys are split between the
//! two nodes (a phone's record moved, its send log not yet): the store retries a few times
//! within a hundred milliseconds, then fails closed. Move a slot's keys together (`MIGRATE …
//! KEYS` with all of them; `redis-cli --cluster reshard` moves up to `--cluster-pipeline`
//! keys at once). The scripts never delete a key and write it again in one run, which Redis
//! would refuse halfway during a migration.
//!
//! # Replication
//!
//! Redis replicates asynchronously: a primary that dies just after answering can take its
//! last writes along, and the replica promoted in its place would not know of a guess just
//! counted (a free extra guess), a code just consumed, or a send just recorded. The window is
//! the replication lag — on a healthy link well under a second; Redis's own
//! `min-replicas-max-lag` bounds how stale a primary lets its replicas get before it refuses
//! writes — and it opens only when a primary dies. That is the default (`0` below): a failover
//! costs a few seconds of fail-closed answers, then the store serves again by itself.
//!
//! With [`wait_for_replicas(n)`](RedisStoreBuilder::wait_for_replicas) each script call is
//! followed, in the same round trip, by `WAIT n t` (`t` half the timeout), and the step counts
//! only once `n` replicas have its writes; otherwise it fails closed (it may have run on the
//! primary: the safe side, as for any failure). A failover then loses nothing the engine acted
//! on, and connecting checks that every primary has `n` replicas answering. The price:
//!
//! - availability: a primary without `n` live replicas — including the replica just promoted
//!   after its primary died — refuses every step until replicas join again; run `n + 1`
//!   replicas per primary to keep serving through a failover;
//! - throughput: `WAIT` holds the node's connection until the replicas answer, so the calls
//!   on one node no longer overlap (measured on one small machine: 0.4× the wrong guesses per
//!   second of the default).
//!
//! # From the environment
//!
//! [`Settings`](crate::config::Settings) reads `TWOFACTOR_REDIS_URL` (with
//! `TWOFACTOR_REDIS_CLUSTER=true`, a comma-separated list of seed URLs),
//! `TWOFACTOR_REDIS_CA_FILE` (PEM, checked when read) and `TWOFACTOR_REDIS_WAIT_REPLICAS`.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::{Script, ScriptInvocation, Value};
use secrecy::SecretString;

use self::connection::{BadConfig, Connection, Target, redis_error};

use super::{
    AttemptDecision, AttemptLimits, AttemptResult, CONVERSION_WINDOW_MS, ConversionFigures,
    Country, FinishOutcome, Limit, Pending, Revocation, RevocationBatch, RevocationCursor,
    SendAttempt, SendDecision, StoreError, VerificationStore, number_range,
};
use crate::phone::PhoneNumber;
use crate::provider::{Channel, Ticket};

mod connection;

#[cfg(feature = "redis-tls")]
pub(crate) use self::connection::check_ca_pem;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "twofactor";
/// The default bound on one store step.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// Durations handed to the scripts are capped at a century: the scripts compute in doubles,
/// exact to 2^53 milliseconds, and Redis refuses TTLs past 2^63.
const MAX_SPAN_MS: u64 = 100 * 365 * 24 * 3_600_000;

const PRELUDE: &str = include_str!("redis/prelude.lua");

// Reply codes of the scripts (see prelude.lua).
const GRANTED: i64 = 0;
const REFUSED: i64 = 1;
/// Revocations read per script call.
const REVOCATION_CHUNK: usize = 1000;

/// Which clock the store's scripts go by; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Clock {
    /// The Redis server's clock (`TIME`): instances with skewed clocks still agree.
    #[default]
    Server,
    /// The `now_ms` the engine passes: for tests with a simulated clock.
    Caller,
}

/// Whether Redis may evict this store's keys under memory pressure, as read at connect time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Eviction {
    /// `maxmemory-policy` is `noeviction`, or there is no memory limit (`maxmemory 0`).
    Never,
    /// The policy may evict keys (every key here has a TTL, so `volatile-*` ones too).
    Possible {
        /// The `maxmemory-policy`.
        policy: String,
    },
    /// The server would not say (`INFO` and `CONFIG` both refused).
    Unknown,
}

fn corrupt(op: &str) -> StoreError {
    // Never the reply itself: it may hold a ticket.
    StoreError::Corrupt(format!("unexpected reply to {op}"))
}

macro_rules! scripts {
    ($($name:ident),* $(,)?) => {
        /// The scripts, each prefixed with the shared prelude.
        struct Scripts {
            $($name: Script,)*
            /// The full sources, for `SCRIPT LOAD` at start-up.
            sources: Vec<String>,
        }

        impl Scripts {
            fn new() -> Self {
                let sources: Vec<String> = [
                    $(include_str!(concat!("redis/", stringify!($name), ".lua")),)*
                ]
                .iter()
                .map(|body| format!("{PRELUDE}\n{body}"))
                .collect();
                let mut each = sources.iter();
                // One source per script, in order: the iterator cannot run short.
                let mut next = || Script::new(each.next().map_or("", String::as_str));
                Self {
                    $($name: next(),)*
                    sources,
                }
            }

            fn all(&self) -> Vec<&Script> {
                vec![$(&self.$name),*]
            }
        }
    };
}

scripts!(
    reserve_phone,
    reserve_caps,
    release,
    put_pending,
    begin_attempt,
    verify_budget,
    finish_attempt,
    record_verified,
    conversion,
    revoke,
    revocations,
);

impl Scripts {
    /// Loads every script (in one round trip on a single endpoint, on every node of a cluster).
    async fn load(&self, conn: &mut Connection) -> Result<(), StoreError> {
        let hashes: Vec<String> = conn
            .load_scripts(&self.sources)
            .await
            .map_err(redis_error("script load"))?;
        let expected = self.all();
        let same = hashes.len() == expected.len()
            && hashes
                .iter()
                .zip(expected)
                .all(|(got, script)| got.eq_ignore_ascii_case(script.get_hash()));
        if same {
            Ok(())
        } else {
            Err(corrupt("SCRIPT LOAD"))
        }
    }
}

/// Every text in a reply, in order: a single server's `INFO` is one, a cluster's is one per
/// node (a map), `CONFIG GET` gives name, value pairs.
fn texts(reply: Value, out: &mut Vec<String>) {
    match reply {
        Value::BulkString(bytes) => out.push(String::from_utf8_lossy(&bytes).into_owned()),
        Value::SimpleString(text) => out.push(text),
        Value::VerbatimString { text, .. } => out.push(text),
        Value::Array(items) | Value::Set(items) => {
            for item in items {
                texts(item, out);
            }
        }
        Value::Map(pairs) => {
            for (_, value) in pairs {
                texts(value, out);
            }
        }
        _ => {}
    }
}

/// What one server's `maxmemory-policy` and `maxmemory` mean for our keys.
fn eviction_of(policy: &str, limit: &str) -> Eviction {
    if policy == "noeviction" || limit == "0" {
        Eviction::Never
    } else {
        Eviction::Possible {
            policy: policy.to_owned(),
        }
    }
}

/// Reads the server's eviction policy (see the module docs); never fails. On a cluster every
/// node answers, and one that may evict is enough for a warning.
async fn read_eviction<C: redis::aio::ConnectionLike + Send>(conn: &mut C) -> Eviction {
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_owned())
    };
    let mut found = Vec::new();
    if let Ok(reply) = redis::cmd("INFO")
        .arg("memory")
        .query_async::<Value>(conn)
        .await
    {
        let mut infos = Vec::new();
        texts(reply, &mut infos);
        for info in &infos {
            if let (Some(policy), Some(limit)) =
                (field(info, "maxmemory_policy"), field(info, "maxmemory"))
            {
                found.push(eviction_of(&policy, &limit));
            }
        }
    }
    if found.is_empty() {
        let get = |name: &'static str| {
            let mut cmd = redis::cmd("CONFIG");
            cmd.arg("GET").arg(name);
            cmd
        };
        let (policy, limit) = (get("maxmemory-policy"), get("maxmemory"));
        if let (Ok(policy), Ok(limit)) = (
            policy.query_async::<Value>(conn).await,
            limit.query_async::<Value>(conn).await,
        ) {
            let (mut p, mut l) = (Vec::new(), Vec::new());
            texts(policy, &mut p);
            texts(limit, &mut l);
            // Name, value pairs: the values are the odd ones.
            let values = |v: Vec<String>| v.into_iter().skip(1).step_by(2).collect::<Vec<_>>();
            for (policy, limit) in values(p).iter().zip(values(l).iter()) {
                found.push(eviction_of(policy, limit));
            }
        }
    }
    if found.is_empty() {
        return Eviction::Unknown;
    }
    found
        .into_iter()
        .find(|e| *e != Eviction::Never)
        .unwrap_or(Eviction::Never)
}

fn warn_eviction(eviction: &Eviction) {
    match eviction {
        Eviction::Never => {}
        Eviction::Possible { policy } => tracing::warn!(
            maxmemory_policy = %policy,
            "twofactor: Redis may evict this store's keys under memory pressure (locks, attempt \
             and send counters, codes would be silently forgotten); set maxmemory-policy \
             noeviction"
        ),
        Eviction::Unknown => tracing::warn!(
            "twofactor: could not read Redis's maxmemory-policy (INFO and CONFIG refused); make \
             sure it is noeviction, or locks and counters may be evicted"
        ),
    }
}

/// Key names; see the module docs.
#[derive(Clone)]
struct Keys {
    prefix: Arc<str>,
}

impl Keys {
    fn phone(&self, phone: PhoneNumber) -> String {
        format!("{}:{{{phone}}}", self.prefix)
    }
    fn phone_sends(&self, phone: PhoneNumber) -> String {
        format!("{}:{{{phone}}}:sends", self.prefix)
    }
    fn cap(&self, name: impl fmt::Display) -> String {
        format!("{}:{{caps}}:{name}", self.prefix)
    }
    fn range(&self, phone: PhoneNumber, digits: u8) -> String {
        let block = number_range(phone, digits);
        let tail = "x".repeat(usize::from(digits));
        self.cap(format_args!("range:{block}{tail}"))
    }
    fn country(&self, country: Country, which: &str) -> String {
        self.cap(format_args!("conv:{country}:{which}"))
    }
    fn verify_budget(&self, ip: IpAddr) -> String {
        self.cap(format_args!("vip:{ip}"))
    }
    /// The cap logs a send touches, in the order reserve_caps.lua takes them.
    fn caps(&self, send: &SendAttempt) -> Vec<String> {
        let mut keys = vec![
            self.cap("all"),
            self.cap("voice"),
            self.country(send.country, "sends"),
            self.country(send.country, "verified"),
            self.range(send.phone, send.limits.range_digits),
        ];
        keys.extend(send.client_ip.map(|ip| self.cap(format_args!("ip:{ip}"))));
        keys
    }
    fn revocations(&self) -> [String; 2] {
        [
            format!("{}:{{revocations}}", self.prefix),
            format!("{}:{{revocations}}:exp", self.prefix),
        ]
    }
}

/// The Redis [`VerificationStore`]; cheap to clone (clones share the connection). See the
/// module docs for the key layout, the scripts and the failure behaviour.
#[derive(Clone)]
pub struct RedisStore {
    conn: Connection,
    scripts: Arc<Scripts>,
    keys: Keys,
    timeout: Duration,
    clock: Clock,
    cluster_safe: bool,
    eviction: Arc<Eviction>,
    /// `host:port/db` (or `cluster host:port,…`), for `Debug` (never the credentials).
    server: Arc<str>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.server)
            .field("prefix", &self.keys.prefix)
            .field("timeout", &self.timeout)
            .field("clock", &self.clock)
            .field("cluster_safe", &self.cluster_safe)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RedisStore`]; see [`RedisStore::builder`] (one endpoint) and
/// [`RedisStore::cluster_builder`] (a Redis Cluster).
#[must_use]
pub struct RedisStoreBuilder {
    /// One URL, or a cluster's seeds.
    urls: Vec<SecretString>,
    cluster: bool,
    ca: Option<Ca>,
    wait_for_replicas: Option<u32>,
    prefix: String,
    timeout: Duration,
    clock: Clock,
    cluster_safe: bool,
}

/// Where the CA certificate comes from.
enum Ca {
    Pem(Vec<u8>),
    File(PathBuf),
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &"[REDACTED]")
            .field("cluster", &self.cluster)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("clock", &self.clock)
            .field("cluster_safe", &self.cluster_safe)
            .finish_non_exhaustive()
    }
}

/// The CA file could not be read; the message names the file, which is no secret.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the Redis CA file {path}")]
struct UnreadableCa {
    path: String,
    #[source]
    source: std::io::Error,
}

impl RedisStoreBuilder {
    fn new(urls: Vec<SecretString>, cluster: bool) -> Self {
        Self {
            urls,
            cluster,
            ca: None,
            wait_for_replicas: None,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            clock: Clock::Server,
            cluster_safe: cluster,
        }
    }

    /// The key prefix (default `twofactor`), so that several apps or tests can share a Redis
    /// database. It must not contain `{` or `}` (they would break the hash tags).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest one store step may take, reconnecting included (default 1 s; at least
    /// 1 ms). Past it the step fails with [`StoreError::Timeout`]. Connecting at start-up may
    /// take twice as long (connect, then load the scripts).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Which clock the scripts go by (default [`Clock::Server`]; see the module docs).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Whether every script must stay within one Cluster slot: a verify with a client address
    /// then takes two sequential scripts instead of one (see the module docs). Default: on for
    /// [`RedisStore::cluster_builder`], off for one endpoint (a proxy in front of a cluster
    /// needs it on).
    pub fn cluster_safe_scripts(mut self, on: bool) -> Self {
        self.cluster_safe = on;
        self
    }

    /// Verifies the server's certificate against this CA (PEM, one certificate or more)
    /// instead of the system's roots (feature `redis-tls`; the URL must be `rediss://`).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca = Some(Ca::Pem(pem.into()));
        self
    }

    /// Like [`ca_pem`](Self::ca_pem), with the PEM read from `path` when connecting.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca = Some(Ca::File(path.into()));
        self
    }

    /// How many replicas must acknowledge each step's writes (`WAIT`) before it counts
    /// (default 0: Redis's asynchronous replication). See the module docs, "Replication", for
    /// what a failover may lose without it and what it costs. With `n > 0` connecting fails
    /// unless every primary has `n` replicas answering.
    pub fn wait_for_replicas(mut self, n: u32) -> Self {
        self.wait_for_replicas = Some(n);
        self
    }

    /// Connects and loads the scripts. Fails if Redis cannot be reached or refuses us (a
    /// certificate it cannot verify included), or if the URL, the CA or the prefix is unusable;
    /// the error never carries the URL.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        if self.prefix.contains(['{', '}']) {
            return Err(StoreError::unavailable(BadConfig(
                "the Redis key prefix must not contain '{' or '}'",
            )));
        }
        let ca_pem = match self.ca {
            None => None,
            Some(Ca::Pem(pem)) => Some(pem),
            Some(Ca::File(path)) => Some(std::fs::read(&path).map_err(|source| {
                StoreError::unavailable(UnreadableCa {
                    path: path.display().to_string(),
                    source,
                })
            })?),
        };
        let target = Target {
            urls: &self.urls,
            cluster: self.cluster,
            ca_pem: ca_pem.as_deref(),
            timeout: self.timeout,
            wait_for_replicas: self.wait_for_replicas.unwrap_or(0),
        };
        let scripts = Scripts::new();
        let connect = async {
            let (mut conn, server) = Connection::open(&target, &scripts.sources).await?;
            scripts.load(&mut conn).await?;
            conn.check_replicas().await?;
            let eviction = read_eviction(&mut conn).await;
            Ok::<_, StoreError>((conn, server, eviction))
        };
        let (conn, server, eviction) =
            tokio::time::timeout(self.timeout.saturating_mul(2), connect)
                .await
                .map_err(|_| StoreError::Timeout)??;
        warn_eviction(&eviction);
        Ok(RedisStore {
            conn,
            scripts: Arc::new(scripts),
            keys: Keys {
                prefix: self.prefix.into(),
            },
            timeout: self.timeout,
            clock: self.clock,
            cluster_safe: self.cluster_safe,
            eviction: Arc::new(eviction),
            server: server.into(),
        })
    }
}

fn span(ms: u64) -> u64 {
    ms.min(MAX_SPAN_MS)
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

fn wait_ms(v: &Value) -> Option<u64> {
    int(v).map(|ms| u64::try_from(ms).unwrap_or(0).max(1))
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

/// Reads a reservation reply: `{0}` granted, `{1, limit, wait}` refused.
fn send_decision(reply: &Value) -> Option<SendDecision> {
    let Value::Array(items) = reply else {
        return None;
    };
    match (items.first().and_then(int)?, items.get(1), items.get(2)) {
        (GRANTED, None, None) => Some(SendDecision::Granted),
        (REFUSED, Some(limit), Some(wait)) => Some(SendDecision::Refused {
            limit: match int(limit)? {
                1 => Limit::Locked,
                2 => Limit::Cooldown,
                3 => Limit::Phone,
                4 => Limit::Ip,
                5 => Limit::Range,
                6 => Limit::Channel,
                7 => Limit::Country,
                8 => Limit::Global,
                _ => return None,
            },
            retry_after_ms: wait_ms(wait)?,
        }),
        _ => None,
    }
}

/// Reads a `begin_attempt` reply (see begin_attempt.lua).
fn attempt_decision(reply: Value) -> Option<AttemptDecision> {
    let Value::Array(items) = reply else {
        return None;
    };
    let mut items = items.into_iter();
    match items.next().as_ref().and_then(int)? {
        0 => Some(AttemptDecision::Locked {
            retry_after_ms: wait_ms(&items.next()?)?,
        }),
        1 => Some(AttemptDecision::NoCode),
        3 => Some(AttemptDecision::RateLimited {
            retry_after_ms: wait_ms(&items.next()?)?,
        }),
        2 => {
            let pending_id = text(items.next()?)?.parse().ok()?;
            let ticket = Ticket::new(text(items.next()?)?);
            let attempt = u32::try_from(int(&items.next()?)?).ok()?;
            let last = int(&items.next()?)? == 1;
            Some(AttemptDecision::Proceed {
                pending_id,
                ticket,
                attempt,
                last,
            })
        }
        _ => None,
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`) with the default prefix
    /// and timeout; see [`RedisStoreBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// Starts a builder for the Redis at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `rediss://…` for TLS with the `redis-tls` feature; the URL is kept secret).
    pub fn builder(url: &str) -> RedisStoreBuilder {
        RedisStoreBuilder::new(vec![SecretString::from(url)], false)
    }

    /// Starts a builder for a Redis Cluster (feature `redis-cluster`) reached through any of
    /// `seeds` (`redis://[user:password@]host:port` each, or all `rediss://`); the client
    /// learns the other nodes from them.
    pub fn cluster_builder<S: AsRef<str>>(seeds: impl IntoIterator<Item = S>) -> RedisStoreBuilder {
        let urls = seeds
            .into_iter()
            .map(|s| SecretString::from(s.as_ref()))
            .collect();
        RedisStoreBuilder::new(urls, true)
    }

    /// What the server's `maxmemory-policy` allows (read at connect time; see the module
    /// docs).
    pub fn eviction(&self) -> &Eviction {
        &self.eviction
    }

    /// The clock the scripts go by.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Whether every script stays within one Cluster slot.
    pub fn cluster_safe_scripts(&self) -> bool {
        self.cluster_safe
    }

    /// The scripts' first argument: the server's clock, or the caller's `now_ms`.
    fn now_arg(&self, now_ms: u64) -> String {
        match self.clock {
            Clock::Server => "server".to_owned(),
            Clock::Caller => now_ms.to_string(),
        }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.keys.prefix
    }

    /// The bound on one store step.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs one store step within the timeout.
    async fn bounded<T>(
        &self,
        step: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, step)
            .await
            .unwrap_or(Err(StoreError::Timeout))
    }

    /// Runs a prepared script call (one `EVALSHA`; on `NOSCRIPT`, `EVAL` with the source).
    async fn eval(
        &self,
        op: &'static str,
        invocation: ScriptInvocation<'_>,
    ) -> Result<Value, StoreError> {
        let mut conn = self.conn.clone();
        invocation
            .invoke_async(&mut conn)
            .await
            .map_err(redis_error(op))
    }

    /// Takes this send's records back from `keys` (the other half refused it or failed).
    async fn forget(&self, keys: &[String], member: &str) {
        let mut release = call(&self.scripts.release, keys);
        release.arg(member);
        if let Err(e) = self.eval("release_send", release).await {
            // The record stays until it leaves the window: a cap counts one send too many,
            // which is the safe side.
            tracing::warn!(error = %e, "twofactor: could not take back a refused send's record");
        }
    }

    /// Runs `begin_attempt` as one script (standalone) or two (Cluster-safe).
    async fn attempt(
        &self,
        phone: PhoneNumber,
        client: Option<IpAddr>,
        now_ms: u64,
        limits: &AttemptLimits,
    ) -> Result<AttemptDecision, StoreError> {
        let now = self.now_arg(now_ms);
        let window = span(limits.verify_window_ms);
        let mut keys = vec![self.keys.phone(phone)];
        if let Some(ip) = client {
            let budget = self.keys.verify_budget(ip);
            if self.cluster_safe {
                let mut first = call(&self.scripts.verify_budget, &[budget]);
                first.arg(&now).arg(limits.verifies_per_ip).arg(window);
                let reply = self.eval("begin_attempt", first).await?;
                match int(&reply) {
                    Some(0) => {}
                    Some(_) => {
                        return Ok(AttemptDecision::RateLimited {
                            retry_after_ms: wait_ms(&reply)
                                .ok_or_else(|| corrupt("begin_attempt"))?,
                        });
                    }
                    None => return Err(corrupt("begin_attempt")),
                }
            } else {
                keys.push(budget);
            }
        }
        let mut begin = call(&self.scripts.begin_attempt, &keys);
        begin
            .arg(&now)
            .arg(limits.max_attempts)
            .arg(span(limits.lockout_ms))
            .arg(span(limits.memory_ms))
            .arg(limits.verifies_per_ip)
            .arg(window);
        let reply = self.eval("begin_attempt", begin).await?;
        attempt_decision(reply).ok_or_else(|| corrupt("begin_attempt"))
    }
}

/// Reads one revocation as revocations.lua returns it: `{kind, a, b, x}`.
fn revocation(entry: Value) -> Option<Revocation> {
    let Value::Array(fields) = entry else {
        return None;
    };
    let mut fields = fields.into_iter().map(text);
    let (kind, a, b, x) = (
        fields.next()??,
        fields.next()??,
        fields.next()??,
        fields.next()??,
    );
    let expires_at_ms = x.parse().ok()?;
    match kind.as_str() {
        "t" => {
            let mut id = [0u8; 16];
            hex::decode_to_slice(&a, &mut id).ok()?;
            Some(Revocation::Token { id, expires_at_ms })
        }
        "p" => Some(Revocation::Phone {
            phone: PhoneNumber::from_digits(a.parse().ok()?)?,
            before_ms: b.parse().ok()?,
            expires_at_ms,
        }),
        _ => None,
    }
}

/// A call of `script` on `keys`.
fn call<'s>(script: &'s Script, keys: &[String]) -> ScriptInvocation<'s> {
    let mut invocation = script.prepare_invoke();
    for key in keys {
        invocation.key(key.as_str());
    }
    invocation
}

#[async_trait]
impl VerificationStore for RedisStore {
    async fn reserve_send(&self, send: &SendAttempt) -> Result<SendDecision, StoreError> {
        let l = send.limits;
        let now = self.now_arg(send.now_ms);
        let phone_keys = [
            self.keys.phone(send.phone),
            self.keys.phone_sends(send.phone),
        ];
        let cap_keys = self.keys.caps(send);
        // The send's member in every log: its id, so that a release removes exactly it.
        let member = format!("{:016x}", send.id());
        let window = span(l.window_ms);
        let mut phone = call(&self.scripts.reserve_phone, &phone_keys);
        phone
            .arg(&now)
            .arg(span(l.cooldown_ms))
            .arg(l.per_phone)
            .arg(window)
            .arg(&member);
        let mut caps = call(&self.scripts.reserve_caps, &cap_keys);
        caps.arg(&now)
            .arg(window)
            .arg(l.per_ip)
            .arg(l.per_range)
            .arg(l.voice_global)
            .arg(u8::from(send.channel == Channel::Voice))
            .arg(l.global)
            .arg(l.conversion_min_sends)
            .arg(l.conversion_min_permille)
            .arg(CONVERSION_WINDOW_MS)
            .arg(&member);
        self.bounded(async {
            // Both in flight at once on the multiplexed connection: one round trip.
            let (phone, caps) = tokio::join!(
                self.eval("reserve_send", phone),
                self.eval("reserve_send", caps)
            );
            let decide = |reply: Result<Value, StoreError>| {
                reply.and_then(|v| send_decision(&v).ok_or_else(|| corrupt("reserve_send")))
            };
            let (phone, caps) = (decide(phone), decide(caps));
            let granted =
                |d: &Result<SendDecision, StoreError>| matches!(d, Ok(SendDecision::Granted));
            // No send unless both halves granted; a half that recorded it takes it back.
            match (granted(&phone), granted(&caps)) {
                (true, true) => return Ok(SendDecision::Granted),
                (true, false) => self.forget(&phone_keys[1..], &member).await,
                (false, true) => self.forget(&cap_keys, &member).await,
                (false, false) => {}
            }
            // The phone's refusal (or failure) first: its limits come first.
            match phone {
                Ok(SendDecision::Granted) => caps,
                other => other,
            }
        })
        .await
    }

    async fn release_send(&self, send: &SendAttempt) -> Result<(), StoreError> {
        let member = format!("{:016x}", send.id());
        let phone_keys = [self.keys.phone_sends(send.phone)];
        let cap_keys = self.keys.caps(send);
        let mut phone = call(&self.scripts.release, &phone_keys);
        phone.arg(&member);
        let mut caps = call(&self.scripts.release, &cap_keys);
        caps.arg(&member);
        self.bounded(async {
            let (phone, caps) = tokio::join!(
                self.eval("release_send", phone),
                self.eval("release_send", caps)
            );
            phone?;
            caps?;
            Ok(())
        })
        .await
    }

    async fn put_pending(
        &self,
        phone: PhoneNumber,
        pending: &Pending,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let keys = [self.keys.phone(phone)];
        let life = span(pending.expires_at_ms.saturating_sub(now_ms));
        let mut put = call(&self.scripts.put_pending, &keys);
        put.arg(self.now_arg(now_ms))
            .arg(pending.id)
            .arg(life)
            .arg(pending.ticket.expose());
        self.bounded(async { self.eval("put_pending", put).await.map(drop) })
            .await
    }

    async fn begin_attempt(
        &self,
        phone: PhoneNumber,
        client: Option<IpAddr>,
        now_ms: u64,
        limits: &AttemptLimits,
    ) -> Result<AttemptDecision, StoreError> {
        self.bounded(self.attempt(phone, client, now_ms, limits))
            .await
    }

    async fn finish_attempt(
        &self,
        phone: PhoneNumber,
        pending_id: u64,
        result: AttemptResult,
        now_ms: u64,
    ) -> Result<FinishOutcome, StoreError> {
        let keys = [self.keys.phone(phone)];
        let result: u8 = match result {
            AttemptResult::Matched => 1,
            AttemptResult::LastMismatch => 2,
        };
        let mut finish = call(&self.scripts.finish_attempt, &keys);
        finish.arg(pending_id).arg(result).arg(self.now_arg(now_ms));
        self.bounded(async {
            let reply = self.eval("finish_attempt", finish).await?;
            match int(&reply) {
                Some(0) => Ok(FinishOutcome::Done),
                Some(1) => Ok(FinishOutcome::Gone),
                _ => Err(corrupt("finish_attempt")),
            }
        })
        .await
    }

    async fn record_verified(&self, country: Country, now_ms: u64) -> Result<(), StoreError> {
        let keys = [self.keys.country(country, "verified")];
        let member = hex::encode(crate::secret::random_bytes::<8>());
        let mut record = call(&self.scripts.record_verified, &keys);
        record
            .arg(self.now_arg(now_ms))
            .arg(CONVERSION_WINDOW_MS)
            .arg(member);
        self.bounded(async { self.eval("record_verified", record).await.map(drop) })
            .await
    }

    async fn conversion(
        &self,
        country: Country,
        now_ms: u64,
    ) -> Result<ConversionFigures, StoreError> {
        let keys = [
            self.keys.country(country, "sends"),
            self.keys.country(country, "verified"),
        ];
        let mut read = call(&self.scripts.conversion, &keys);
        read.arg(self.now_arg(now_ms)).arg(CONVERSION_WINDOW_MS);
        self.bounded(async {
            let reply = self.eval("conversion", read).await?;
            let count = |v: Option<&Value>| v.and_then(int).and_then(|n| u64::try_from(n).ok());
            match &reply {
                Value::Array(items) => count(items.first())
                    .zip(count(items.get(1)))
                    .map(|(sends, verified)| ConversionFigures::new(sends, verified))
                    .ok_or_else(|| corrupt("conversion")),
                _ => Err(corrupt("conversion")),
            }
        })
        .await
    }

    async fn revoke(&self, revocation: &Revocation, now_ms: u64) -> Result<(), StoreError> {
        let keys = self.keys.revocations();
        let expires = revocation.expires_at_ms();
        let (kind, a, b) = match revocation {
            Revocation::Token { id, .. } => ("t", hex::encode(id), String::new()),
            Revocation::Phone {
                phone, before_ms, ..
            } => ("p", phone.digits().to_string(), before_ms.to_string()),
        };
        let mut revoke = call(&self.scripts.revoke, &keys);
        revoke
            .arg(self.now_arg(now_ms))
            .arg(span(expires.saturating_sub(now_ms)))
            .arg(kind)
            .arg(a)
            .arg(b)
            .arg(expires);
        self.bounded(async { self.eval("revoke", revoke).await.map(drop) })
            .await
    }

    async fn revocations(
        &self,
        since: &RevocationCursor,
        now_ms: u64,
    ) -> Result<RevocationBatch, StoreError> {
        let [stream, _] = self.keys.revocations();
        let keys = [stream];
        let now = self.now_arg(now_ms);
        self.bounded(async {
            let mut cursor = since.position().unwrap_or_default().to_owned();
            let mut entries = Vec::new();
            loop {
                let mut read = call(&self.scripts.revocations, &keys);
                read.arg(&now).arg(&cursor).arg(REVOCATION_CHUNK);
                let reply = self.eval("revocations", read).await?;
                let Value::Array(items) = reply else {
                    return Err(corrupt("revocations"));
                };
                let mut items = items.into_iter();
                let (last, read_count, found) = (items.next(), items.next(), items.next());
                let last = last.and_then(text).ok_or_else(|| corrupt("revocations"))?;
                let read_count = read_count
                    .as_ref()
                    .and_then(int)
                    .ok_or_else(|| corrupt("revocations"))?;
                match found {
                    Some(Value::Array(found)) => {
                        for entry in found {
                            entries.push(revocation(entry).ok_or_else(|| corrupt("revocations"))?);
                        }
                    }
                    _ => return Err(corrupt("revocations")),
                }
                cursor = last;
                if usize::try_from(read_count).unwrap_or(0) < REVOCATION_CHUNK {
                    break;
                }
            }
            let cursor = if cursor.is_empty() {
                RevocationCursor::start()
            } else {
                RevocationCursor::at(cursor)
            };
            Ok(RevocationBatch::new(entries, cursor))
        })
        .await
    }
}
