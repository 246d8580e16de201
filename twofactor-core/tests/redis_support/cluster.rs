//! A Redis Cluster of our own: `redis-server` children with `--cluster-enabled yes` on free
//! ports (client and bus), joined and given their slots with `CLUSTER` commands (no
//! `redis-cli` needed), optionally with one replica per primary and over TLS. Every node is
//! killed on drop, so a panicking test leaves no server behind; the cluster a test binary
//! shares ([`shared`]) is killed when the binary exits.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::certs::ServerCert;
use super::{Reaper, free_port, installed, reap_at_exit, skip, temp_dir};

const SLOTS: u16 = 16_384;

/// The hash tag of a phone's keys (`{+91…}`): their slot is the tag's.
pub fn tag(phone: impl std::fmt::Display) -> String {
    format!("{{{phone}}}")
}

/// Three primaries, no replica, plain text, started once for the whole test binary by the first
/// test that asks, and shared by every test that neither stops a node nor moves a slot (each
/// on a key prefix of its own); `None` (skip) when `redis-server` is missing.
pub fn shared() -> Option<&'static Cluster> {
    static SHARED: OnceLock<Option<(Cluster, Reaper)>> = OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        let cluster = Cluster::start(3, 0, None)?;
        let pids: Vec<u32> = cluster.nodes.iter().map(Node::pid).collect();
        let dirs: Vec<&Path> = cluster.nodes.iter().map(|n| n.dir.as_path()).collect();
        let reaper = reap_at_exit(&pids, &dirs);
        Some((cluster, reaper))
    });
    match shared {
        Some((cluster, _)) => Some(cluster),
        None => skip("the shared cluster could not start (see the first skip)"),
    }
}

/// One node.
#[derive(Debug)]
pub struct Node {
    child: Option<Child>,
    pub port: u16,
    bus: u16,
    dir: PathBuf,
}

impl Node {
    /// The process id (while it runs).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the node runs").id()
    }
}

/// The cluster; its nodes die with it.
#[derive(Debug)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    /// Node ids, by index in `nodes`.
    ids: Vec<String>,
    masters: usize,
    tls: Option<ServerCert>,
    /// `cluster-node-timeout`, in milliseconds.
    node_timeout: u64,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            let _ = std::fs::remove_dir_all(&node.dir);
        }
    }
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "the cluster never got there: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Cluster {
    /// Starts `masters` primaries, each with `replicas` replicas, over TLS with `tls`; or skips
    /// when `redis-server` is missing. Returns once every node agrees the cluster is up and
    /// every replica is in sync.
    pub fn start(masters: usize, replicas: usize, tls: Option<&ServerCert>) -> Option<Self> {
        installed("redis-server")?;
        let count = masters * (1 + replicas);
        let mut cluster = Self {
            nodes: Vec::with_capacity(count),
            ids: Vec::new(),
            masters,
            tls: tls.cloned(),
            // Failure detection only matters where there is a replica to promote; elsewhere a
            // long timeout keeps a node that is slow to answer on a loaded machine from being
            // declared failed (which takes the whole cluster down).
            node_timeout: if replicas > 0 { 2_000 } else { 15_000 },
        };
        for _ in 0..count {
            let node = cluster.start_node();
            cluster.nodes.push(node);
        }
        cluster.ids = (0..count)
            .map(|i| cluster.query(i, &["CLUSTER", "MYID"]))
            .collect();

        // Slots to the primaries, in equal ranges.
        for m in 0..masters {
            let per = SLOTS as usize / masters;
            let first = m * per;
            let last = if m + 1 == masters {
                SLOTS as usize - 1
            } else {
                first + per - 1
            };
            cluster.exec(
                m,
                &[
                    "CLUSTER",
                    "ADDSLOTSRANGE",
                    &first.to_string(),
                    &last.to_string(),
                ],
            );
        }
        // Everyone meets node 0, and gossip does the rest.
        let bus = cluster.nodes[0].bus;
        for i in 1..count {
            let port = cluster.nodes[0].port.to_string();
            cluster.exec(
                i,
                &["CLUSTER", "MEET", "127.0.0.1", &port, &bus.to_string()],
            );
        }
        wait_until(
            "every node knows every other",
            Duration::from_secs(20),
            || {
                (0..count).all(|i| {
                    let nodes = cluster.query(i, &["CLUSTER", "NODES"]);
                    nodes.lines().count() == count && !nodes.contains("handshake")
                })
            },
        );
        for r in masters..count {
            let master = (r - masters) % masters;
            let id = cluster.ids[master].clone();
            cluster.exec(r, &["CLUSTER", "REPLICATE", &id]);
        }
        cluster.wait_healthy(Duration::from_secs(30));
        Some(cluster)
    }

    /// Starts a node process (its cluster state lives in `dir`, so a restart rejoins).
    /// A new node, up and accepting connections. Its ports were free when picked, but another
    /// test's outgoing connection can take one before `redis-server` binds it (ephemeral ports
    /// are shared): a node that exits at start is started again on fresh ports.
    fn start_node(&self) -> Node {
        for _ in 0..5 {
            let (port, bus, dir) = (free_port(), free_port(), temp_dir("redis-cluster"));
            let mut child = self.spawn(port, bus, &dir);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Node {
                        child: Some(child),
                        port,
                        bus,
                        dir,
                    };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&dir);
        }
        panic!("the cluster never got there: a node accepts connections (5 tries)");
    }

    fn spawn(&self, port: u16, bus: u16, dir: &PathBuf) -> Child {
        let port_text = port.to_string();
        let node_timeout = self.node_timeout.to_string();
        let mut args: Vec<String> = if self.tls.is_some() {
            vec!["--port", "0", "--tls-port", &port_text]
        } else {
            vec!["--port", &port_text]
        }
        .into_iter()
        .map(str::to_owned)
        .collect();
        for arg in [
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            &node_timeout,
            "--cluster-port",
            &bus.to_string(),
            // A replica takes over as soon as its primary is declared failed.
            "--cluster-replica-validity-factor",
            "0",
        ] {
            args.push(arg.to_owned());
        }
        if let Some(cert) = &self.tls {
            args.extend(cert.server_args());
            for arg in ["--tls-cluster", "yes", "--tls-replication", "yes"] {
                args.push(arg.to_owned());
            }
        }
        Command::new("redis-server")
            .args(&args)
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server")
    }

    /// Starts node `i` again after [`kill`](Self::kill), on its ports and with its cluster
    /// state (not its data): a primary that was replaced comes back as a replica.
    pub fn restart(&mut self, i: usize) {
        let (port, bus, dir) = (
            self.nodes[i].port,
            self.nodes[i].bus,
            self.nodes[i].dir.clone(),
        );
        let child = self.spawn(port, bus, &dir);
        self.nodes[i].child = Some(child);
        wait_until(
            "the node accepts connections",
            Duration::from_secs(10),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
    }

    /// The URL of node `i` (`rediss://` over TLS).
    pub fn url(&self, i: usize) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.nodes[i].port)
    }

    /// Every node's URL, as seeds.
    pub fn seeds(&self) -> Vec<String> {
        (0..self.nodes.len()).map(|i| self.url(i)).collect()
    }

    /// A plain (non-cluster) connection to node `i`, for administration.
    pub fn admin(&self, i: usize) -> redis::RedisResult<redis::Connection> {
        let client = match &self.tls {
            None => redis::Client::open(self.url(i))?,
            Some(cert) => redis::Client::build_with_tls(
                self.url(i),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(std::fs::read(&cert.ca).expect("read the CA")),
                },
            )?,
        };
        client.get_connection_with_timeout(Duration::from_secs(2))
    }

    fn command(args: &[&str]) -> redis::Cmd {
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd
    }

    /// Runs a command on node `i` and returns its reply as text.
    pub fn query(&self, i: usize, args: &[&str]) -> String {
        let mut conn = self.admin(i).expect("connect to a node");
        let value: redis::Value = Self::command(args)
            .query(&mut conn)
            .unwrap_or_else(|e| panic!("{args:?} on node {i}: {e}"));
        match value {
            redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            redis::Value::SimpleString(s) => s,
            redis::Value::VerbatimString { text, .. } => text,
            redis::Value::Int(n) => n.to_string(),
            other => format!("{other:?}"),
        }
    }

    /// Runs a command on node `i`, which must succeed.
    pub fn exec(&self, i: usize, args: &[&str]) {
        let _ = self.query(i, args);
    }

    fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].child.is_some())
            .collect()
    }

    /// Waits until every running node says the cluster is up, and every running replica is in
    /// sync with its primary.
    pub fn wait_healthy(&self, within: Duration) {
        let running = self.running();
        wait_until("cluster_state:ok and replicas in sync", within, || {
            running.iter().all(|&i| {
                let Ok(mut conn) = self.admin(i) else {
                    return false;
                };
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut conn)
                    .unwrap_or_default();
                let replication: String = redis::cmd("INFO")
                    .arg("replication")
                    .query(&mut conn)
                    .unwrap_or_default();
                info.contains("cluster_state:ok")
                    && (replication.contains("role:master")
                        || replication.contains("master_link_status:up"))
            })
        });
    }

    /// The index of the node id `id`.
    fn index_of(&self, id: &str) -> usize {
        self.ids
            .iter()
            .position(|i| i == id)
            .expect("a known node id")
    }

    /// The slot of `key`.
    pub fn slot(&self, key: &str) -> u16 {
        let i = self.running()[0];
        self.query(i, &["CLUSTER", "KEYSLOT", key])
            .parse()
            .expect("a slot")
    }

    /// `CLUSTER NODES` of the first running node, one line's fields per node.
    fn table(&self) -> Vec<Vec<String>> {
        let ask = self.running()[0];
        self.query(ask, &["CLUSTER", "NODES"])
            .lines()
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .collect()
    }

    /// The live primaries serving slots (indexes).
    pub fn primaries(&self) -> Vec<usize> {
        self.table()
            .iter()
            .filter(|f| f[2].contains("master") && !f[2].contains("fail") && f.len() > 8)
            .map(|f| self.index_of(&f[0]))
            .collect()
    }

    /// The primary serving `slot`.
    pub fn owner(&self, slot: u16) -> usize {
        for fields in self.table() {
            if !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            for range in fields.iter().skip(8).filter(|r| !r.starts_with('[')) {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                let (a, b): (u16, u16) = (a.parse().unwrap(), b.parse().unwrap());
                if (a..=b).contains(&slot) {
                    return self.index_of(&fields[0]);
                }
            }
        }
        panic!("no primary serves slot {slot}");
    }

    /// The replicas of primary `master` (indexes).
    pub fn replicas_of(&self, master: usize) -> Vec<usize> {
        let id = &self.ids[master];
        self.table()
            .iter()
            .filter(|f| &f[3] == id)
            .map(|f| self.index_of(&f[0]))
            .collect()
    }

    /// Whether node `i` is a primary now.
    pub fn is_primary(&self, i: usize) -> bool {
        self.query(i, &["INFO", "replication"])
            .contains("role:master")
    }

    /// Kills node `i` like a crash.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills every node like a crash: the whole cluster is down.
    pub fn kill_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }

    /// Starts every node killed, on its ports and with its cluster state (not its data), and
    /// waits until the cluster is up again.
    pub fn restart_all(&mut self) {
        let stopped: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].child.is_none())
            .collect();
        for i in stopped {
            self.restart(i);
        }
        self.wait_healthy(Duration::from_secs(30));
    }

    /// Sends a signal (`-STOP`, `-CONT`) to every node.
    pub fn signal_all(&self, sig: &str) {
        for i in 0..self.nodes.len() {
            self.signal(i, sig);
        }
    }

    /// Sends a signal (`-STOP`, `-CONT`) to node `i`.
    pub fn signal(&self, i: usize, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.nodes[i].pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Moves `slot` from primary `from` to primary `to` the way `redis-cli --cluster reshard`
    /// does: `IMPORTING`/`MIGRATING`, then `MIGRATE` of its keys, then `SETSLOT … NODE`
    /// everywhere. `pause` is held after each phase, so that traffic meets each state.
    pub fn migrate_slot(&self, slot: u16, from: usize, to: usize, pause: Duration) {
        let slot_text = slot.to_string();
        let (from_id, to_id) = (self.ids[from].clone(), self.ids[to].clone());
        self.exec(
            to,
            &["CLUSTER", "SETSLOT", &slot_text, "IMPORTING", &from_id],
        );
        self.exec(
            from,
            &["CLUSTER", "SETSLOT", &slot_text, "MIGRATING", &to_id],
        );
        std::thread::sleep(pause);
        let port = self.nodes[to].port.to_string();
        loop {
            let mut conn = self.admin(from).expect("connect to the source");
            let keys: Vec<String> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(slot)
                .arg(100)
                .query(&mut conn)
                .expect("GETKEYSINSLOT");
            if keys.is_empty() {
                break;
            }
            // All keys of the slot at once: a phone's two keys never sit on two nodes.
            let mut migrate = redis::cmd("MIGRATE");
            migrate
                .arg("127.0.0.1")
                .arg(&port)
                .arg("")
                .arg(0)
                .arg(5000)
                .arg("KEYS")
                .arg(&keys);
            let _: redis::Value = migrate.query(&mut conn).expect("MIGRATE");
            std::thread::sleep(pause);
        }
        // The new owner first, then the old one, then everyone else (as redis-cli does).
        let mut order: Vec<usize> = vec![to, from];
        order.extend(
            self.primaries()
                .into_iter()
                .filter(|&i| i != to && i != from),
        );
        for i in order {
            self.exec(i, &["CLUSTER", "SETSLOT", &slot_text, "NODE", &to_id]);
        }
    }
}
