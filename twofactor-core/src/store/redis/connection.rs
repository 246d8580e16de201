//! How the Redis store reaches Redis: one endpoint ([`ConnectionManager`]) or a Redis Cluster
//! (feature `redis-cluster`), either over TLS (feature `redis-tls`).
//!
//! The store talks to a [`Connection`] through the `redis` crate's own [`ConnectionLike`]
//! trait, so its steps read the same in both modes; this type adds what a store step needs on
//! top of the `redis` crate's connections:
//!
//! - **`NOSCRIPT`**: the node that answered has no copy of the script (a restarted Redis, a
//!   promoted replica, a node that took over a slot). The same call is sent again as `EVAL`
//!   with the full source, to the same node: that runs it (nothing ran the first time) and
//!   caches it there. A `SCRIPT LOAD` instead would go to every node of a cluster and fail
//!   while any node is down.
//! - **Redirects** (cluster): the `redis` crate's cluster client may retry a request itself,
//!   but it does so after a broken connection or a response timeout too, when the step may
//!   already have run: a guess counted twice, a code consumed twice. So its retries are off,
//!   and this type follows only the answers that guarantee nothing ran: `MOVED` (sent to the
//!   named node; the crate refreshes its slot map in the background), `ASK` (sent to the
//!   importing node after `ASKING`, in one pipeline on one connection) and `TRYAGAIN` (a
//!   phone's two keys on two nodes mid-migration: after a short pause). Any other failure is
//!   returned, and the engine fails closed.
//! - **Replica acknowledgements** (optional, off by default): Redis replicates asynchronously,
//!   so a primary that dies right after answering may take its last writes with it, and the
//!   promoted replica would not know of a guess just counted. With `wait_for_replicas(n)`
//!   every script call is followed, in the same pipeline and so the same round trip, by
//!   `WAIT n t`; fewer than `n` acknowledgements within `t` (half the store's timeout) make
//!   the step fail closed. What a failover can then lose was never confirmed to the engine: a
//!   guess is compared only once its count is on a replica.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Arg, Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo};
use redis::{Pipeline, RedisError, RedisFuture, RedisResult, Value};
use secrecy::{ExposeSecret, SecretString};

use crate::store::StoreError;

/// How many times one script call may be re-sent after answers that say it did not run.
const MAX_SENDS: usize = 5;
/// The pause before re-sending after `TRYAGAIN` (a slot migration in progress).
const TRY_AGAIN_PAUSE: Duration = Duration::from_millis(20);

/// What to connect to and how; see the store's builder.
pub(super) struct Target<'a> {
    /// One URL, or a cluster's seed nodes.
    pub(super) urls: &'a [SecretString],
    /// Whether `urls` are Redis Cluster seeds.
    pub(super) cluster: bool,
    /// The CA (PEM) to verify the server with, instead of the system's roots.
    pub(super) ca_pem: Option<&'a [u8]>,
    /// The bound on one step.
    pub(super) timeout: Duration,
    /// Replica acknowledgements required after each script call (0: none).
    pub(super) wait_for_replicas: u32,
}

/// Too few replicas acknowledged: at start-up, a setting the deployment cannot meet.
#[derive(Debug, thiserror::Error)]
#[error(
    "wait_for_replicas is {wanted} but only {acked} replica(s) acknowledged within {ms} ms: add \
     replicas, or lower it (0 accepts that a failover may lose the last writes)"
)]
struct TooFewReplicas {
    wanted: u32,
    acked: i64,
    ms: u64,
}

/// The store's connection; cheap to clone (clones share the underlying connections).
#[derive(Clone)]
pub(super) struct Connection {
    link: Link,
    /// The scripts' sources by SHA-1 (lower-case hex), for `NOSCRIPT`.
    sources: Arc<HashMap<String, Arc<str>>>,
    /// `WAIT` after each script call.
    wait: Option<Wait>,
}

#[derive(Clone, Copy)]
struct Wait {
    replicas: u32,
    timeout_ms: u64,
}

#[derive(Clone)]
enum Link {
    Single(ConnectionManager),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

/// Where the next send of a script call goes.
// Without a cluster client the redirect targets are parsed but never followed.
#[cfg_attr(not(feature = "redis-cluster"), allow(dead_code))]
enum Hop {
    /// Wherever the key's slot is (the only hop of a single endpoint).
    Slot,
    /// To this node (`host:port`), after `MOVED`.
    Moved(String),
    /// To this node, after `ASK`: preceded by `ASKING`.
    Ask(String),
}

impl Connection {
    /// Connects (without loading the scripts). Returns the connection and a description of
    /// the server for `Debug` (addresses only, never credentials).
    pub(super) async fn open(
        target: &Target<'_>,
        sources: &[String],
    ) -> Result<(Self, String), StoreError> {
        let sources = sources
            .iter()
            .map(|source| {
                let hash = redis::Script::new(source).get_hash().to_ascii_lowercase();
                (hash, Arc::<str>::from(source.as_str()))
            })
            .collect();
        let wait = (target.wait_for_replicas > 0).then(|| Wait {
            replicas: target.wait_for_replicas,
            timeout_ms: u64::try_from((target.timeout / 2).as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
        });
        let (link, server) = if target.cluster {
            open_cluster(target).await?
        } else {
            open_single(target).await?
        };
        Ok((
            Self {
                link,
                sources: Arc::new(sources),
                wait,
            },
            server,
        ))
    }

    /// `SCRIPT LOAD`s every source and returns the hashes Redis computed: in one pipeline on
    /// a single endpoint, on every node of a cluster.
    pub(super) async fn load_scripts(&mut self, sources: &[String]) -> RedisResult<Vec<String>> {
        match &mut self.link {
            Link::Single(conn) => {
                let mut pipe = redis::pipe();
                for source in sources {
                    pipe.cmd("SCRIPT").arg("LOAD").arg(source.as_str());
                }
                pipe.query_async(conn).await
            }
            #[cfg(feature = "redis-cluster")]
            Link::Cluster(conn) => {
                // `SCRIPT LOAD` is routed to every node; the loads run concurrently.
                let loads = sources.iter().map(|source| {
                    let mut conn = conn.clone();
                    async move {
                        redis::cmd("SCRIPT")
                            .arg("LOAD")
                            .arg(source.as_str())
                            .query_async::<String>(&mut conn)
                            .await
                    }
                });
                futures_util::future::join_all(loads)
                    .await
                    .into_iter()
                    .collect()
            }
        }
    }

    /// With `wait_for_replicas(n)`, checks at start-up that every primary has `n` replicas
    /// acknowledging (in a cluster `WAIT` goes to every primary and answers the least count).
    pub(super) async fn check_replicas(&mut self) -> Result<(), StoreError> {
        let Some(wait) = self.wait else {
            return Ok(());
        };
        let mut wait_cmd = redis::cmd("WAIT");
        wait_cmd.arg(wait.replicas).arg(wait.timeout_ms);
        let acked: i64 = match &mut self.link {
            Link::Single(conn) => wait_cmd.query_async(conn).await,
            #[cfg(feature = "redis-cluster")]
            Link::Cluster(conn) => wait_cmd.query_async(conn).await,
        }
        .map_err(redis_error("WAIT"))?;
        if acked < i64::from(wait.replicas) {
            return Err(StoreError::unavailable(TooFewReplicas {
                wanted: wait.replicas,
                acked,
                ms: wait.timeout_ms,
            }));
        }
        Ok(())
    }

    fn is_cluster(&self) -> bool {
        !matches!(self.link, Link::Single(_))
    }

    /// One script call: `EVALSHA`, followed where needed as the module docs say.
    async fn script(&mut self, first: &Cmd) -> RedisResult<Value> {
        let mut cmd = Cow::Borrowed(first);
        let mut hop = Hop::Slot;
        let mut evaled = false;
        let mut last = None;
        for _ in 0..MAX_SENDS {
            let err = match self.send(&cmd, &hop).await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            match err.kind() {
                ErrorKind::NoScriptError if !evaled => match self.as_eval(&cmd) {
                    Some(eval) => {
                        cmd = Cow::Owned(eval);
                        evaled = true;
                    }
                    None => return Err(err),
                },
                ErrorKind::Moved | ErrorKind::Ask if self.is_cluster() => {
                    let Some((node, _slot)) = err.redirect_node() else {
                        return Err(err);
                    };
                    hop = if err.kind() == ErrorKind::Ask {
                        Hop::Ask(node.to_owned())
                    } else {
                        Hop::Moved(node.to_owned())
                    };
                }
                ErrorKind::TryAgain if self.is_cluster() => {
                    tokio::time::sleep(TRY_AGAIN_PAUSE).await;
                    hop = Hop::Slot;
                }
                _ => return Err(err),
            }
            last = Some(err);
        }
        Err(last.unwrap_or_else(|| RedisError::from((ErrorKind::ClientError, "no send"))))
    }

    /// `EVALSHA sha n keys… args…` as `EVAL source n keys… args…`, if the script is ours.
    fn as_eval(&self, cmd: &Cmd) -> Option<Cmd> {
        let mut args = cmd.args_iter();
        let _evalsha = args.next()?;
        let Arg::Simple(hash) = args.next()? else {
            return None;
        };
        let hash = std::str::from_utf8(hash).ok()?.to_ascii_lowercase();
        let source = self.sources.get(&hash)?;
        let mut eval = redis::cmd("EVAL");
        eval.arg(source.as_bytes());
        for arg in args {
            match arg {
                Arg::Simple(bytes) => eval.arg(bytes),
                Arg::Cursor => return None,
            };
        }
        Some(eval)
    }

    /// Sends `cmd` once (with `ASKING` before and `WAIT` after, where due) and returns its reply.
    async fn send(&mut self, cmd: &Cmd, hop: &Hop) -> RedisResult<Value> {
        let asking = matches!(hop, Hop::Ask(_));
        if !asking && self.wait.is_none() {
            return match (&mut self.link, hop) {
                (Link::Single(conn), _) => conn.req_packed_command(cmd).await,
                #[cfg(feature = "redis-cluster")]
                (Link::Cluster(conn), Hop::Slot) => conn.req_packed_command(cmd).await,
                #[cfg(feature = "redis-cluster")]
                (Link::Cluster(conn), Hop::Moved(node) | Hop::Ask(node)) => {
                    let route = redis::cluster_routing::RoutingInfo::SingleNode(by_address(node)?);
                    conn.route_command(cmd, route).await
                }
            }
            .and_then(Value::extract_error);
        }
        let mut pipe = redis::pipe();
        if asking {
            pipe.cmd("ASKING");
        }
        pipe.add_command(cmd.clone());
        if let Some(wait) = self.wait {
            pipe.cmd("WAIT").arg(wait.replicas).arg(wait.timeout_ms);
        }
        let offset = usize::from(asking);
        let count = pipe.len() - offset;
        let replies = match (&mut self.link, hop) {
            (Link::Single(conn), _) => conn.req_packed_commands(&pipe, offset, count).await?,
            #[cfg(feature = "redis-cluster")]
            (Link::Cluster(conn), Hop::Slot) => {
                // Routed by the script's key; WAIT has none and goes along.
                conn.req_packed_commands(&pipe, offset, count).await?
            }
            #[cfg(feature = "redis-cluster")]
            (Link::Cluster(conn), Hop::Moved(node) | Hop::Ask(node)) => {
                conn.route_pipeline(&pipe, offset, count, by_address(node)?)
                    .await?
            }
        };
        let mut replies = replies.into_iter().map(Value::extract_error);
        let reply = replies.next().ok_or_else(no_reply)??;
        if let Some(wait) = self.wait {
            let acked = match replies.next().ok_or_else(no_reply)?? {
                Value::Int(n) => n,
                _ => return Err(no_reply()),
            };
            if acked < i64::from(wait.replicas) {
                return Err(RedisError::from((
                    ErrorKind::ResponseError,
                    "too few replicas acknowledged the write",
                    format!("{acked} of {} within {} ms", wait.replicas, wait.timeout_ms),
                )));
            }
        }
        Ok(reply)
    }
}

fn no_reply() -> RedisError {
    RedisError::from((ErrorKind::ParseError, "a reply is missing"))
}

#[cfg(feature = "redis-cluster")]
fn by_address(node: &str) -> RedisResult<redis::cluster_routing::SingleNodeRoutingInfo> {
    let (host, port) = node
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse().ok()?)))
        .ok_or_else(|| RedisError::from((ErrorKind::ParseError, "a redirect without a node")))?;
    Ok(redis::cluster_routing::SingleNodeRoutingInfo::ByAddress {
        host: host.to_owned(),
        port,
    })
}

fn is_script(cmd: &Cmd) -> bool {
    matches!(cmd.args_iter().next(), Some(Arg::Simple(name)) if name.eq_ignore_ascii_case(b"EVALSHA"))
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        if is_script(cmd) {
            return Box::pin(self.script(cmd));
        }
        match &mut self.link {
            Link::Single(conn) => conn.req_packed_command(cmd),
            #[cfg(feature = "redis-cluster")]
            Link::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipe: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.link {
            Link::Single(conn) => conn.req_packed_commands(pipe, offset, count),
            #[cfg(feature = "redis-cluster")]
            Link::Cluster(conn) => conn.req_packed_commands(pipe, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.link {
            Link::Single(conn) => conn.get_db(),
            #[cfg(feature = "redis-cluster")]
            Link::Cluster(_) => 0,
        }
    }
}

/// Parses one URL, refusing what would weaken or skip the server's verification.
fn parse(url: &SecretString, ca_pem: Option<&[u8]>) -> Result<ConnectionInfo, StoreError> {
    let text = url.expose_secret().trim();
    let tls_scheme = text
        .get(..9)
        .is_some_and(|s| s.eq_ignore_ascii_case("rediss://"));
    if tls_scheme && !cfg!(feature = "redis-tls") {
        return Err(StoreError::unavailable(BadConfig(
            "a rediss:// URL needs twofactor-core's `redis-tls` feature",
        )));
    }
    let info = text
        .into_connection_info()
        .map_err(redis_error("open the URL"))?;
    match &info.addr {
        ConnectionAddr::TcpTls { insecure: true, .. } => Err(StoreError::unavailable(BadConfig(
            "the #insecure URL fragment is refused: the server's certificate is always verified",
        ))),
        ConnectionAddr::TcpTls { .. } => Ok(info),
        _ if ca_pem.is_some() => Err(StoreError::unavailable(BadConfig(
            "a CA certificate is set but the URL is not rediss:// (TLS)",
        ))),
        _ => Ok(info),
    }
}

/// The `redis` crate's TLS settings for a CA in PEM.
#[cfg(feature = "redis-tls")]
fn certificates(ca_pem: Option<&[u8]>) -> Option<redis::TlsCertificates> {
    ca_pem.map(|pem| redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(pem.to_vec()),
    })
}

/// rustls needs a process-wide crypto provider; when the application has not chosen one, this
/// picks ring (which reqwest already uses here), so that two providers compiled into one
/// program never leave rustls unable to choose.
#[cfg(feature = "redis-tls")]
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race against another installer is fine: a provider is installed either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Checks that `pem` holds at least one certificate and nothing unreadable; returns how many.
#[cfg(feature = "redis-tls")]
pub(crate) fn check_ca_pem(pem: &[u8]) -> Result<usize, &'static str> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        cert.map_err(|_| "the CA file is not readable PEM")?;
        count += 1;
    }
    if count == 0 {
        return Err("the CA file holds no PEM certificate");
    }
    Ok(count)
}

fn check_ca(ca_pem: Option<&[u8]>) -> Result<(), StoreError> {
    #[cfg(feature = "redis-tls")]
    if let Some(pem) = ca_pem {
        check_ca_pem(pem).map_err(|reason| StoreError::unavailable(BadConfig(reason)))?;
        ensure_crypto_provider();
    }
    #[cfg(not(feature = "redis-tls"))]
    if ca_pem.is_some() {
        return Err(StoreError::unavailable(BadConfig(
            "a CA certificate needs twofactor-core's `redis-tls` feature",
        )));
    }
    Ok(())
}

async fn open_single(target: &Target<'_>) -> Result<(Link, String), StoreError> {
    let [url] = target.urls else {
        return Err(StoreError::unavailable(BadConfig(
            "a single Redis takes one URL (several are a cluster's seeds)",
        )));
    };
    check_ca(target.ca_pem)?;
    let info = parse(url, target.ca_pem)?;
    let server = format!("{}/{}", info.addr, info.redis.db);
    #[cfg(feature = "redis-tls")]
    let client = match (&info.addr, certificates(target.ca_pem)) {
        (ConnectionAddr::TcpTls { .. }, Some(certs)) => redis::Client::build_with_tls(info, certs),
        (ConnectionAddr::TcpTls { .. }, None) => {
            ensure_crypto_provider();
            redis::Client::open(info)
        }
        _ => redis::Client::open(info),
    };
    #[cfg(not(feature = "redis-tls"))]
    let client = redis::Client::open(info);
    let client = client.map_err(redis_error("open the URL"))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(target.timeout)
        .set_response_timeout(target.timeout)
        // One attempt per reconnection, none delayed: the next call starts the next
        // attempt, so recovery follows Redis's return at once, and no call waits on a
        // backoff longer than the timeout.
        .set_number_of_retries(0)
        .set_tcp_settings(tcp_settings());
    let conn = ConnectionManager::new_with_config(client, config)
        .await
        .map_err(redis_error("connect"))?;
    Ok((Link::Single(conn), server))
}

#[cfg(not(feature = "redis-cluster"))]
async fn open_cluster(_: &Target<'_>) -> Result<(Link, String), StoreError> {
    Err(StoreError::unavailable(BadConfig(
        "Redis Cluster needs twofactor-core's `redis-cluster` feature",
    )))
}

#[cfg(feature = "redis-cluster")]
async fn open_cluster(target: &Target<'_>) -> Result<(Link, String), StoreError> {
    use redis::cluster::ClusterClientBuilder;
    if target.urls.is_empty() {
        return Err(StoreError::unavailable(BadConfig(
            "a Redis Cluster needs at least one seed URL",
        )));
    }
    check_ca(target.ca_pem)?;
    let mut seeds = Vec::with_capacity(target.urls.len());
    for url in target.urls {
        let info = parse(url, target.ca_pem)?;
        if info.redis.db != 0 {
            return Err(StoreError::unavailable(BadConfig(
                "a Redis Cluster has only database 0",
            )));
        }
        seeds.push(info);
    }
    let tls = seeds
        .iter()
        .filter(|s| matches!(s.addr, ConnectionAddr::TcpTls { .. }))
        .count();
    if tls != 0 && tls != seeds.len() {
        return Err(StoreError::unavailable(BadConfig(
            "the cluster's seed URLs mix rediss:// and redis://",
        )));
    }
    #[cfg(feature = "redis-tls")]
    if tls != 0 {
        ensure_crypto_provider();
    }
    let server = format!(
        "cluster {}",
        seeds
            .iter()
            .map(|s| s.addr.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let builder = ClusterClientBuilder::new(seeds)
        // No retries inside the client: see the module docs.
        .retries(0)
        .connection_timeout(target.timeout)
        .response_timeout(target.timeout)
        .tcp_settings(tcp_settings());
    #[cfg(feature = "redis-tls")]
    let builder = match certificates(target.ca_pem) {
        Some(certs) => builder.certs(certs),
        None => builder,
    };
    let client = builder.build().map_err(redis_error("open the URLs"))?;
    let conn = client
        .get_async_connection()
        .await
        .map_err(redis_error("connect"))?;
    Ok((Link::Cluster(conn), server))
}

// What the store and the connection both use, defined here, below the store.

/// How long sent data may stay unacknowledged before the kernel drops the connection (Linux).
#[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle time before keep-alive probes (also keeps middleboxes from dropping an idle flow).
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// A failed Redis call; the operation names the store step. Redis errors carry no URL.
#[derive(Debug, thiserror::Error)]
#[error("redis {op} failed")]
struct RedisFailure {
    op: &'static str,
    #[source]
    source: RedisError,
}

/// The configuration itself is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct BadConfig(pub(super) &'static str);

pub(super) fn redis_error(op: &'static str) -> impl FnOnce(RedisError) -> StoreError {
    move |source| {
        if source.is_timeout() {
            StoreError::Timeout
        } else {
            StoreError::unavailable(RedisFailure { op, source })
        }
    }
}

pub(super) fn tcp_settings() -> redis::io::tcp::TcpSettings {
    use redis::io::tcp::{TcpSettings, socket2::TcpKeepalive};
    let settings = TcpSettings::default()
        .set_nodelay(true)
        .set_keepalive(TcpKeepalive::new().with_time(TCP_KEEPALIVE));
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    let settings = settings.set_user_timeout(TCP_USER_TIMEOUT);
    settings
}
