//! Helpers for the Redis test suites: the shared server, key prefixes, a dedicated
//! `redis-server` child process that a test may stop and restart, and a TLS server started
//! once for a whole test binary ([`shared_tls`]).
//!
//! Outside CI a Redis test skips, saying why, when it has no Redis; under `CI=true` it fails.
//!
//! The HTTP tests of the `tests` package include this module too (`#[path]`), for the TLS
//! server and the cluster.
#![allow(dead_code)]

pub mod certs;
pub mod cluster;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use twofactor_core::store::redis::{RedisStore, RedisStoreBuilder};

/// The shared test server (`TWOFACTOR_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`).
pub fn url() -> String {
    std::env::var("TWOFACTOR_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// Whether we run under CI, where a missing Redis is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.trim(), "true" | "1" | "yes"))
}

/// Skips the test with `reason` (returns `None`), or fails it under CI.
pub fn skip<T>(reason: &str) -> Option<T> {
    assert!(
        !in_ci(),
        "{reason} (CI=true: the Redis tests must run, not skip)"
    );
    eprintln!("skipping this Redis test: {reason}");
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

/// A fresh key prefix of our own on the shared server.
pub fn prefix() -> String {
    format!("twofactor-test:{}", random_hex())
}

/// A store on the shared server under `prefix`, or a skip.
pub async fn store(prefix: &str) -> Option<RedisStore> {
    connect(RedisStore::builder(&url()).prefix(prefix)).await
}

/// A store from `builder` (on the shared server), or a skip.
pub async fn connect(builder: RedisStoreBuilder) -> Option<RedisStore> {
    match builder.connect().await {
        Ok(store) => Some(store),
        Err(e) => skip(&format!(
            "no Redis at TWOFACTOR_TEST_REDIS_URL: {}",
            chain(&e)
        )),
    }
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

/// A raw connection to the shared server, for inspecting keys.
pub async fn raw() -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url()).ok()?;
    match client.get_multiplexed_async_connection().await {
        Ok(conn) => Some(conn),
        Err(e) => skip(&format!("no Redis at TWOFACTOR_TEST_REDIS_URL: {e}")),
    }
}

/// A free loopback port (free when asked; another process could take it, unlikely in tests).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// Whether `program --version` runs, or a skip saying it is not installed.
pub fn installed(program: &str) -> Option<()> {
    let runs = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if runs {
        Some(())
    } else {
        skip(&format!("the {program} binary is not installed"))
    }
}

/// A fresh directory of our own under the system's temporary directory.
pub fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twofactor-{what}-{}", random_hex()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

/// Kills processes and removes directories when this test process ends, however it ends
/// (tests failed, a panic, a SIGKILL): for servers kept in a `static`, which is never dropped.
/// A `sh` child blocks reading a pipe whose only writer is this process; the kernel closes the
/// pipe when the process goes, the read returns, and the shell cleans up.
#[derive(Debug)]
pub struct Reaper {
    _pipe: ChildStdin,
    _shell: Child,
}

/// A [`Reaper`] for `pids` and `dirs`.
pub fn reap_at_exit(pids: &[u32], dirs: &[&Path]) -> Reaper {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    let mut shell = Command::new("sh")
        .arg("-c")
        .arg(r#"read _; kill -KILL $1 2>/dev/null; shift; rm -rf "$@""#)
        .arg("sh")
        .arg(pids.join(" "))
        .args(dirs)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sh");
    let pipe = shell.stdin.take().expect("a piped stdin");
    Reaper {
        _pipe: pipe,
        _shell: shell,
    }
}

/// A TLS-only `redis-server` (certificate `certs.good`) with its certificates, started once
/// for the whole test binary by the first test that asks, and shared by every test that does
/// not stop it (each on a key prefix of its own).
#[derive(Debug)]
pub struct SharedTls {
    pub certs: certs::Certs,
    pub server: Server,
    _reaper: Reaper,
}

impl SharedTls {
    /// Its `rediss://` URL, by address.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.server.port())
    }

    /// A builder on it that verifies it with the test CA, under a fresh prefix.
    pub fn builder(&self) -> RedisStoreBuilder {
        RedisStore::builder(&self.url())
            .ca_file(&self.certs.ca)
            .prefix(prefix())
    }
}

/// The binary's [`SharedTls`], or a skip when `openssl` or `redis-server` is missing.
pub fn shared_tls() -> Option<&'static SharedTls> {
    static SHARED: OnceLock<Option<SharedTls>> = OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        let certs = certs::Certs::generate()?;
        let server = Server::start_tls(&certs.good, &[])?;
        let _reaper = reap_at_exit(&[server.pid()], &[&server.dir, certs.dir()]);
        Some(SharedTls {
            certs,
            server,
            _reaper,
        })
    });
    shared
        .as_ref()
        .or_else(|| skip("the shared TLS server could not start (see the first skip)"))
}

/// A `redis-server` of our own, on its own port, with no persistence; killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    /// Serves TLS only (no plain port).
    tls: bool,
}

impl Server {
    /// Starts one (extra arguments go to `redis-server`), or skips if the binary is missing.
    pub fn start(extra: &[&str]) -> Option<Self> {
        Self::start_with(extra, false)
    }

    /// Starts one that speaks TLS only, with this certificate (see [`certs::ServerCert`]).
    pub fn start_tls(cert: &certs::ServerCert, extra: &[&str]) -> Option<Self> {
        let mut args = cert.server_args();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Self::start_with(&args, true)
    }

    fn start_with(extra: &[&str], tls: bool) -> Option<Self> {
        installed("redis-server")?;
        let mut server = Self {
            child: None,
            port: free_port(),
            dir: temp_dir("redis"),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            tls,
        };
        server.restart();
        Some(server)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL (no password).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    /// Kills it (like a crash: no shutdown, connections just drop).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Wait until the port refuses connections.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "redis-server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it (again) on the same port and waits until it answers `PING`.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port.to_string();
        let ports = if self.tls {
            vec!["--port", "0", "--tls-port", &port]
        } else {
            vec!["--port", &port]
        };
        let child = Command::new("redis-server")
            .args(ports)
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // A TLS port cannot be PINGed in plain text: it is up when it accepts.
            let up = if self.tls {
                std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            } else {
                ping(self.port)
            };
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal (`-STOP`, `-CONT`) to it.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {sig} failed");
    }
}

/// Whether something on `port` answers `PING` (a `-NOAUTH` error counts: it is up).
pub fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if n > 0 && (buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH")))
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
