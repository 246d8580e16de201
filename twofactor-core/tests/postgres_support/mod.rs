//! Helpers for the PostgreSQL tests: the test database, a schema of its own for each test
//! (dropped when the test ends), and a TCP proxy a test can stop, restart or freeze to play
//! an outage.
//!
//! Outside CI a PostgreSQL test skips, saying why, when it has no database; under `CI=true`
//! it fails.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use twofactor_core::store::postgres::{PostgresStore, PostgresStoreBuilder};

/// The test database (`TWOFACTOR_TEST_DATABASE_URL`, default
/// `postgres://postgres@127.0.0.1:5432/postgres`).
pub fn url() -> String {
    std::env::var("TWOFACTOR_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Whether we run under CI, where a missing database is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.trim(), "true" | "1" | "yes"))
}

/// Skips the test with `reason` (returns `None`), or fails it under CI.
pub fn skip<T>(reason: &str) -> Option<T> {
    assert!(
        !in_ci(),
        "{reason} (CI=true: the PostgreSQL tests must run, not skip)"
    );
    eprintln!("skipping this PostgreSQL test: {reason}");
    None
}

/// A random hex string.
pub fn random_hex() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("{:016x}", h.finish())
}

/// An error and its sources, on one line.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        text.push_str(": ");
        text.push_str(&e.to_string());
        next = e.source();
    }
    text
}

/// A schema of the test's own, dropped (with everything in it) when this goes.
pub struct Schema {
    pub name: String,
}

impl Schema {
    pub fn new() -> Self {
        Self {
            name: format!("tf_test_{}", random_hex()),
        }
    }

    /// A builder on the test database in this schema.
    pub fn builder(&self) -> PostgresStoreBuilder {
        PostgresStore::builder(&url()).schema(&self.name)
    }

    /// A store in this schema (server clock), or a skip.
    pub async fn store(&self) -> Option<PostgresStore> {
        connect(self.builder()).await
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: a thread with a runtime of its own does it.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Some(client) = raw().await {
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A store from `builder`, or a skip.
pub async fn connect(builder: PostgresStoreBuilder) -> Option<PostgresStore> {
    match builder.connect().await {
        Ok(store) => Some(store),
        Err(e) => skip(&format!(
            "no PostgreSQL at TWOFACTOR_TEST_DATABASE_URL: {}",
            chain(&e)
        )),
    }
}

/// A raw client on the test database (its connection driven by a task), or `None`.
pub async fn raw() -> Option<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(connection);
    Some(client)
}

/// The test database's address (host and port of its URL).
pub fn server_addr() -> SocketAddr {
    let config: tokio_postgres::Config = url().parse().expect("a valid test URL");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let host = if host == "localhost" {
        "127.0.0.1".to_owned()
    } else {
        host
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}").parse().expect("a numeric host")
}

/// The test URL with its host and port replaced by `addr`.
pub fn url_via(addr: SocketAddr) -> String {
    let server = server_addr();
    url().replacen(&server.port().to_string(), &addr.port().to_string(), 1)
}

/// A TCP proxy in front of the test database: `stop` closes it and every connection through
/// it (the database is "killed"), `start` listens again on the same port, `freeze` stops
/// passing bytes with the connections left open (a hung server).
pub struct Proxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    frozen: Arc<AtomicBool>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start_new() -> Self {
        let mut proxy = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            upstream: server_addr(),
            frozen: Arc::default(),
            tasks: Arc::default(),
        };
        proxy.start();
        proxy
    }

    pub fn start(&mut self) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(self.addr).unwrap();
        let listener = socket.listen(64).unwrap();
        self.addr = listener.local_addr().unwrap();
        let (upstream, frozen, tasks) = (self.upstream, self.frozen.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let up = tokio::spawn(pump(cr, sw, frozen.clone()));
                let down = tokio::spawn(pump(sr, cw, frozen.clone()));
                tasks.lock().unwrap().extend([up, down]);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    pub fn stop(&mut self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub fn freeze(&self, on: bool) {
        self.frozen.store(on, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
