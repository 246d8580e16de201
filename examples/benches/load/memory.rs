//! Part (e): resident memory per pending verification in the moka store.
//!
//! Measured in a child process of the harness (`--memory-child N`), so that nothing the other
//! parts allocated and freed can be reused and hide the store's growth: the child reads its
//! `VmRSS`, fills a default [`MokaStore`] through the [`VerificationStore`] API exactly as the
//! engine does for a send (reserve, then the pending code with a realistic ticket), runs moka's
//! maintenance, and reads `VmRSS` again.

use std::process::Command;

use twofactor_core::policy::MAX_CAP;
use twofactor_core::store::{MokaStore, Pending, SendAttempt, SendLimits};
use twofactor_core::{PhoneNumber, Policy, Ticket, VerificationStore};

/// What the child reports.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub entries: u64,
    pub rss_before: u64,
    pub rss_after: u64,
}

impl Memory {
    pub fn bytes_per_entry(&self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.entries.max(1) as f64
    }
}

/// Resident set size of this process, in bytes.
pub fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A 2Factor session id (a UUID) with the engine's `p:` prefix and the provider's `sms:` one,
/// as the store holds it in provider mode; distinct for every `n`.
pub fn provider_ticket(n: u64) -> String {
    let x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    format!(
        "p:sms:{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        (x >> 32) as u32,
        (x >> 16) as u16,
        (x >> 4) as u16 & 0xfff,
        n as u16 & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

/// Fills a store with `n` pending verifications and reports the memory; runs in the child.
pub async fn child(n: u64) -> Memory {
    let policy = Policy::builder()
        .sends_per_hour(MAX_CAP)
        .sends_per_ip_per_hour(MAX_CAP)
        .sends_per_range_per_hour(MAX_CAP)
        .conversion_min_sends(0)
        .build()
        .expect("policy");
    let limits = SendLimits::from(&policy);
    let store = MokaStore::default();
    store.run_pending_tasks();
    let rss_before = rss();
    let now = 1_700_000_000_000u64;
    for i in 0..n {
        let phone = PhoneNumber::from_digits(919_000_000_000 + i).expect("phone");
        // Sends spread over the last ten minutes, as a million sign-ups would be.
        let at = now + i * 600_000 / n.max(1);
        let send = SendAttempt::new(phone, at, limits);
        store.reserve_send(&send).await.expect("reserve");
        let pending = Pending::new(
            i ^ 0x5bd1_e995,
            Ticket::new(provider_ticket(i)),
            at + 600_000,
        );
        store.put_pending(phone, &pending, at).await.expect("put");
    }
    store.run_pending_tasks();
    let rss_after = rss();
    Memory {
        entries: store.phone_count(),
        rss_before,
        rss_after,
    }
}

/// Runs the child and reads its report.
pub fn measure(n: u64) -> Result<Memory, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg("--memory-child")
        .arg(n.to_string())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("memory-child "))
        .ok_or_else(|| {
            format!(
                "the memory child failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let nums: Vec<u64> = line.split(' ').filter_map(|v| v.parse().ok()).collect();
    match nums[..] {
        [entries, rss_before, rss_after] => Ok(Memory {
            entries,
            rss_before,
            rss_after,
        }),
        _ => Err(format!("unreadable memory report: {line}")),
    }
}

/// The child's entry point: prints `memory-child <entries> <rss before> <rss after>`.
pub fn child_main(n: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let m = rt.block_on(child(n));
    println!(
        "memory-child {} {} {}",
        m.entries, m.rss_before, m.rss_after
    );
}
