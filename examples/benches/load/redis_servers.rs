//! The Redis servers of part (f) beside the shared one: a plain `redis-server`, one that speaks
//! TLS only, with a CA and a certificate made by `openssl` in a temporary directory, and a
//! Redis Cluster of 3 primaries (`--cluster-enabled yes`), each on free ports, killed when
//! dropped. The plain one is the baseline of the others' ratios: the same binary and settings,
//! and no other client (the shared Redis serves the other developers' tests too).
//!
//! Both come from the Redis tests' own support code (`twofactor-core/tests/redis_support`,
//! included by `main.rs` with `#[path]`), so that the harness starts them exactly as the TLS
//! and cluster tests do: the cluster's nodes are joined and given their slots with `CLUSTER
//! MEET` and `CLUSTER ADDSLOTSRANGE` (what `redis-cli --cluster create` sends), no `redis-cli`
//! needed. Where `redis-server` or `openssl` is missing, they are skipped with the reason.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use twofactor_core::store::redis::RedisStore;

use crate::redis_store::{
    Bursts, PREFIX, Report, add_round_trips, counting_proxy, counting_proxy_into, rates,
};
use crate::redis_support::Server;
use crate::redis_support::certs::Certs;
use crate::redis_support::cluster::Cluster;

/// Why `program` cannot run here (`None`: it runs).
fn missing(program: &str, version_arg: &str) -> Option<String> {
    let runs = Command::new(program)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!runs).then(|| format!("`{program}` is not installed"))
}

/// Runs `start`, turning a panic of the support code (a server that never came up) into the
/// reason.
fn started<T>(what: &str, start: impl FnOnce() -> Option<T>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(start)) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(format!("{what} could not be started")),
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(format!("{what} did not come up: {why}"))
        }
    }
}

/// A `redis-server` of the harness's own: plain, or TLS only with the certificates it serves
/// (for `127.0.0.1`).
pub struct Single {
    // Dropped first: the server, then its certificates' directory.
    server: Server,
    certs: Option<Certs>,
}

impl Single {
    /// Starts a plain one (the cluster's and the TLS server's settings otherwise: no
    /// persistence, no other client), or says why it cannot.
    pub fn start_plain() -> Result<Self, String> {
        if let Some(why) = missing("redis-server", "--version") {
            return Err(why);
        }
        let server = started("a redis-server", || Server::start(&[]))?;
        Ok(Self {
            server,
            certs: None,
        })
    }

    /// Starts one that speaks TLS only, or says why it cannot.
    pub fn start_tls() -> Result<Self, String> {
        if let Some(why) =
            missing("redis-server", "--version").or_else(|| missing("openssl", "version"))
        {
            return Err(why);
        }
        let certs = started("openssl", Certs::generate)?;
        let server = started("a TLS redis-server", || Server::start_tls(&certs.good, &[]))?;
        Ok(Self {
            server,
            certs: Some(certs),
        })
    }

    /// The server's process.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// A store on this server.
    pub async fn connect(&self) -> Result<RedisStore, String> {
        self.store(self.server.port()).await
    }

    async fn store(&self, port: u16) -> Result<RedisStore, String> {
        let builder = match &self.certs {
            None => RedisStore::builder(&format!("redis://127.0.0.1:{port}")),
            Some(certs) => {
                RedisStore::builder(&format!("rediss://127.0.0.1:{port}")).ca_pem(certs.ca_pem())
            }
        };
        builder
            .prefix(PREFIX)
            .connect()
            .await
            .map_err(|e| format!("the store did not connect: {e}"))
    }

    /// Part (f)'s figures on this server (over TLS: rustls, the server verified against the
    /// generated CA).
    pub async fn measure(&self, duration: Duration, in_flight: usize) -> Result<Report, String> {
        let port = self.server.port();
        let mut report = rates(&self.store(port).await?, duration, in_flight).await?;
        let upstream: SocketAddr = ([127, 0, 0, 1], port).into();
        let (proxy, bursts) = counting_proxy(upstream).await.map_err(|e| e.to_string())?;
        // The certificate names 127.0.0.1, which the proxy's address is too.
        add_round_trips(&mut report, &self.store(proxy.port()).await?, &bursts).await?;
        Ok(report)
    }
}

/// Starts a Redis Cluster of 3 primaries without replicas, or says why it cannot.
pub fn start_cluster() -> Result<Cluster, String> {
    if let Some(why) = missing("redis-server", "--version") {
        return Err(why);
    }
    started("a Redis Cluster", || Cluster::start(3, 0, None))
}

/// Part (f)'s figures on `cluster`. The rates go straight to the nodes; the round trips go
/// through a counting proxy in front of each node, which the nodes then announce as their
/// address (`cluster-announce-port`), so that a fresh cluster client, which learns the nodes
/// from the cluster itself, reaches every node through its proxy.
pub async fn measure_cluster(
    cluster: &Cluster,
    duration: Duration,
    in_flight: usize,
) -> Result<Report, String> {
    let mut report = rates(&connect_cluster(cluster).await?, duration, in_flight).await?;

    let bursts = Arc::new(Bursts::default());
    let mut proxies = Vec::new();
    for node in &cluster.nodes {
        let upstream: SocketAddr = ([127, 0, 0, 1], node.port).into();
        let proxy = counting_proxy_into(upstream, bursts.clone())
            .await
            .map_err(|e| e.to_string())?;
        proxies.push(proxy.port());
    }
    // Blocking calls of the support code: off the runtime's worker meanwhile.
    tokio::task::block_in_place(|| announce(cluster, &proxies))?;
    let seeds: Vec<String> = proxies
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect();
    let counted = RedisStore::cluster_builder(seeds)
        .prefix(PREFIX)
        .connect()
        .await
        .map_err(|e| format!("the cluster store did not connect through the proxies: {e}"))?;
    add_round_trips(&mut report, &counted, &bursts).await?;
    Ok(report)
}

/// A store on `cluster`, straight to its nodes. Connect it before [`measure_cluster`] has the
/// nodes announce their proxies, or it goes through them.
pub async fn connect_cluster(cluster: &Cluster) -> Result<RedisStore, String> {
    RedisStore::cluster_builder(cluster.seeds())
        .prefix(PREFIX)
        .connect()
        .await
        .map_err(|e| format!("the cluster store did not connect: {e}"))
}

/// Makes every node announce `ports` (by node) and waits until every node's view of the
/// cluster shows them.
fn announce(cluster: &Cluster, ports: &[u16]) -> Result<(), String> {
    let nodes = cluster.nodes.len();
    let set = || -> Result<(), String> {
        for (i, port) in ports.iter().enumerate() {
            cluster.exec(
                i,
                &["CONFIG", "SET", "cluster-announce-port", &port.to_string()],
            );
        }
        Ok(())
    };
    started("cluster-announce-port", || set().ok())?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = started("CLUSTER NODES", || {
            Some((0..nodes).all(|i| {
                let table = cluster.query(i, &["CLUSTER", "NODES"]);
                ports
                    .iter()
                    .all(|p| table.contains(&format!("127.0.0.1:{p}@")))
            }))
        })?;
        if seen {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the nodes never announced their proxies to each other".to_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// CPU time a process has used so far (user and system), from `/proc` (Linux; `None`
/// elsewhere or once it is gone).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (in parentheses, which may hold spaces): state is field 3,
    // utime and stime fields 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}
