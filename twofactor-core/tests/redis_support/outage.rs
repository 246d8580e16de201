//! The Redis servers of [`redis_support`](crate::redis_support) as [`Outage`]s, for the shared
//! outage checks. Not a submodule of `redis_support` (the `tests` package includes that without
//! `store_checks`): the Redis test files that run the outage checks include it next to both,
//! with `#[path = "redis_support/outage.rs"] mod redis_outage;`.

use crate::redis_support::Server;
use crate::redis_support::cluster::Cluster;
use crate::store_checks::outage::Outage;

/// One `redis-server` without persistence: killed with SIGKILL, frozen with SIGSTOP, restarted
/// empty on its port.
impl Outage for Server {
    fn kill(&mut self) {
        self.stop();
    }
    fn restart(&mut self) {
        Server::restart(self);
    }
    fn freeze(&mut self, frozen: bool) {
        self.signal(if frozen { "-STOP" } else { "-CONT" });
    }
    fn keeps_data(&self) -> bool {
        false
    }
}

/// The whole cluster: every node killed, frozen or restarted (with its cluster state, not its
/// data; the restart returns once the cluster is up). One primary lost, and its replica
/// promoted, is the failover test's business (`redis_cluster.rs`).
impl Outage for Cluster {
    fn kill(&mut self) {
        self.kill_all();
    }
    fn restart(&mut self) {
        self.restart_all();
    }
    fn freeze(&mut self, frozen: bool) {
        self.signal_all(if frozen { "-STOP" } else { "-CONT" });
    }
    fn keeps_data(&self) -> bool {
        false
    }
}
