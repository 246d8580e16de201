//! Pins the calling thread to one CPU, so that the server under test and the load generator
//! each keep a core of their own for a whole run.
//!
//! Unpinned, the scheduler sometimes puts both on one core for a while, and a round then runs at
//! a fraction of its speed: on this 2-core machine two rounds of the very same route differed by
//! up to ±10 %, more than the guard's whole cost. Pinning is done with `taskset` (util-linux) on
//! the thread's id, which needs neither `unsafe` nor a dependency; where it is missing, or on a
//! machine with one CPU, the thread stays unpinned and the harness says so once.

use std::sync::Once;

/// The CPU of the server under test.
pub const SERVER: usize = 0;
/// The CPU of the load generator.
pub const LOAD: usize = 1;

/// Pins the calling thread to `cpu`.
pub fn current_thread(cpu: usize) {
    static WARNED: Once = Once::new();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = cpus > cpu
        && std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|p| p.file_name().map(|t| t.to_string_lossy().into_owned()))
            .is_some_and(|tid| {
                std::process::Command::new("taskset")
                    .args(["-p", "-c", &cpu.to_string(), &tid])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
    if !pinned {
        WARNED.call_once(|| {
            eprintln!("load harness: threads are not pinned (no taskset, or one CPU)")
        });
    }
}
