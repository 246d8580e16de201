//! The CPU time the servers under test used, read from `/proc/self/task/*/stat`.
//!
//! Throughput on this 2-core machine moves by several percent from one round to the next (the
//! kernel's TCP work, which is most of a loopback request, and whatever else runs), so a ratio of
//! two throughputs cannot resolve a difference of a few percent. The CPU time the server's
//! threads spend per request answered is steadier: when the server is the bottleneck, as in
//! parts a and b, its throughput is the inverse of that time, so the ratio of the two CPU times
//! estimates the throughput ratio without the noise of what the rest of the machine did.
//!
//! Server threads are the ones named `server-…` (the harness's), `actix-rt…` (actix's workers)
//! and `actix-server…` (its acceptor); the load generator's and the harness's own threads are
//! left out.
//! Linux reports the times in clock ticks of 10 ms (`USER_HZ` is 100 on every Linux the
//! harness runs on), so a 1-second round is read to about 1 %, and a median of 16 rounds better.

use std::time::Duration;

const TICK: Duration = Duration::from_millis(10);

/// CPU time used by the server threads: in all, and the kernel's part of it (system time; on
/// loopback, mostly TCP). Linux splits a thread's time between the two by sampling at each
/// tick, so the part is an estimate, good over many ticks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Used {
    pub total: Duration,
    pub system: Duration,
}

impl Used {
    /// What was used since `before`.
    pub fn since(self, before: Used) -> Used {
        Used {
            total: self.total.saturating_sub(before.total),
            system: self.system.saturating_sub(before.system),
        }
    }
}

/// CPU time used so far by the server threads of this process; zero where `/proc` cannot be
/// read.
pub fn servers() -> Used {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Used::default();
    };
    let (mut user, mut system) = (0u64, 0u64);
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`: the name may hold spaces, so split at the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        if !["server-", "actix-rt", "actix-server"]
            .iter()
            .any(|prefix| comm.starts_with(prefix))
        {
            continue;
        }
        // After the name: state is field 3, utime 14 and stime 15 (1-based, as in proc(5)).
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        user += field(14).unwrap_or(0);
        system += field(15).unwrap_or(0);
    }
    let ticks = |n: u64| TICK * u32::try_from(n).unwrap_or(u32::MAX);
    Used {
        total: ticks(user + system),
        system: ticks(system),
    }
}
