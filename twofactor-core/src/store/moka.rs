//! The in-memory store, on `moka`: bounded, with per-entry expiry.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::ops::compute::Op;
use moka::sync::Cache;

use super::compact::CompactTicket;
use super::{
    AttemptDecision, AttemptLimits, AttemptResult, FinishOutcome, Limit, Pending, Revocation,
    RevocationBatch, RevocationCursor, SendAttempt, SendDecision, StoreError, VerificationStore,
    window_wait,
};
use crate::{PhoneNumber, Ticket};

/// Default number of phones kept.
const DEFAULT_MAX_PHONES: u64 = 1_000_000;
/// Default number of client IPs kept for the per-IP cap.
const DEFAULT_MAX_IPS: u64 = 100_000;
/// Phones per moka entry, on average, when the store is full (see [`MokaStore`]).
const PHONES_PER_BUCKET: u64 = 8;

/// Everything the store knows about one phone, so that each step is one atomic compute on the
/// entry that holds it. Fixed-size except for resends and unusual tickets: about 100 bytes.
#[derive(Debug, Clone)]
struct PhoneRecord {
    /// The phone's E.164 digits.
    phone: u64,
    pending: Option<PendingSlot>,
    sends: SendLog,
    attempts: u32,
    attempts_until: u64,
    locked_until: u64,
}

#[derive(Clone)]
struct PendingSlot {
    id: u64,
    expires_at: u64,
    ticket: CompactTicket,
}

impl std::fmt::Debug for PendingSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSlot")
            .field("id", &self.id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A phone's send times within the window, oldest first. Nearly every phone has sent once
/// within the hour, so the newest time is kept inline and only resends cost an allocation.
#[derive(Debug, Clone, Default)]
struct SendLog {
    /// The newest send time.
    newest: Option<u64>,
    /// The sends before it, oldest first.
    older: Box<[u64]>,
}

impl SendLog {
    fn from_vec(mut times: Vec<u64>) -> Self {
        match times.pop() {
            None => Self::default(),
            Some(newest) => Self {
                newest: Some(newest),
                older: times.into_boxed_slice(),
            },
        }
    }

    fn to_vec(&self) -> Vec<u64> {
        let mut times = Vec::with_capacity(self.older.len() + 2);
        times.extend_from_slice(&self.older);
        times.extend(self.last());
        times
    }

    fn last(&self) -> Option<u64> {
        self.newest
    }

    /// Drops the sends that left the window.
    fn settle(&mut self, now: u64, window_ms: u64) {
        let live = |t: &u64| t.saturating_add(window_ms) > now;
        if self.last().is_some_and(|t| !live(&t)) {
            *self = Self::default();
        } else if self.older.first().is_some_and(|t| !live(t)) {
            self.older = self.older.iter().copied().filter(live).collect();
        }
    }
}

impl PhoneRecord {
    fn new(phone: u64) -> Self {
        Self {
            phone,
            pending: None,
            sends: SendLog::default(),
            attempts: 0,
            attempts_until: 0,
            locked_until: 0,
        }
    }

    /// Drops what has aged out at `now` and returns until when the rest is worth keeping
    /// (0: nothing is).
    fn settle(&mut self, now: u64, window_ms: u64) -> u64 {
        if self.pending.as_ref().is_some_and(|p| p.expires_at <= now) {
            self.pending = None;
        }
        if self.locked_until != 0 && self.locked_until <= now {
            // A lock that ran out gives a fresh budget.
            self.locked_until = 0;
            self.attempts = 0;
        }
        if self.attempts != 0 && self.attempts_until <= now {
            self.attempts = 0;
        }
        self.sends.settle(now, window_ms);
        let until = [
            self.pending.as_ref().map_or(0, |p| p.expires_at),
            self.locked_until,
            if self.attempts != 0 {
                self.attempts_until
            } else {
                0
            },
            self.sends.last().map_or(0, |t| t.saturating_add(window_ms)),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        if until > now { until } else { 0 }
    }
}

/// The phones that share one moka entry.
#[derive(Debug, Clone, Default)]
struct Bucket {
    records: Vec<PhoneRecord>,
    /// How long the entry is worth keeping from its last write (moka's per-entry expiry): as
    /// long as its longest-lived phone.
    keep_for_ms: u64,
}

/// Client IP send log.
#[derive(Debug, Clone, Default)]
struct IpRecord {
    sends: Vec<u64>,
    keep_for_ms: u64,
}

struct KeepFor;

impl Expiry<u64, Bucket> for KeepFor {
    fn expire_after_create(&self, _: &u64, v: &Bucket, _: Instant) -> Option<Duration> {
        Some(Duration::from_millis(v.keep_for_ms))
    }
    fn expire_after_update(
        &self,
        _: &u64,
        v: &Bucket,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(Duration::from_millis(v.keep_for_ms))
    }
}

impl Expiry<IpAddr, IpRecord> for KeepFor {
    fn expire_after_create(&self, _: &IpAddr, v: &IpRecord, _: Instant) -> Option<Duration> {
        Some(Duration::from_millis(v.keep_for_ms))
    }
    fn expire_after_update(
        &self,
        _: &IpAddr,
        v: &IpRecord,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(Duration::from_millis(v.keep_for_ms))
    }
}

/// The in-memory [`VerificationStore`]: one process, bounded capacity, per-entry expiry.
///
/// Each phone is one `moka` entry, and every store step is one `and_compute_with` on it, which
/// moka runs serially per key: the atomicity the engine relies on. A send also updates the
/// client IP's entry (nested inside the phone's compute, always in the order phone → IP →
/// overall, so no two steps can wait on each other) and the overall log behind a mutex.
///
/// When the capacity is reached, moka evicts the least useful entries; an evicted phone loses
/// its pending code and counters, so size the capacity above the phones you expect to be
/// verifying at once (the default, a million, takes about 200 MB when full).
///
/// # Memory
/// A moka entry costs about 340 bytes of its own (hash table slot, deque and timer nodes,
/// entry metadata), more than the 256 bytes a whole pending verification is allowed. So phones
/// share entries: a phone's record goes into one of `max_phones / 8` buckets chosen by a hash
/// of the number, and moka holds the buckets, weighed by how many phones each holds (the
/// capacity still counts phones). A full store thus pays moka's overhead once per eight phones.
/// Records are compact (~100 bytes: the phone as an integer, the ticket as fixed-size bytes
/// where its shape allows, the newest send inline). A step on a phone is a compute on its
/// bucket, so steps on phones of one bucket run one after the other (they are short), and
/// moka's eviction drops a whole bucket at a time.
///
/// ```
/// use twofactor_core::store::MokaStore;
/// let store = MokaStore::builder().max_phones(10_000).build();
/// # let _ = store;
/// ```
#[derive(Clone)]
pub struct MokaStore {
    phones: Cache<u64, Bucket>,
    buckets: u64,
    ips: Cache<IpAddr, IpRecord>,
    global: Arc<Mutex<VecDeque<u64>>>,
    revoked: Arc<Mutex<RevocationLog>>,
}

/// Revocations in order of arrival; the cursor is the next sequence number.
#[derive(Debug, Default)]
struct RevocationLog {
    next: u64,
    entries: std::collections::BTreeMap<u64, Revocation>,
}

impl std::fmt::Debug for MokaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MokaStore")
            .field("phones", &self.phones.entry_count())
            .field("ips", &self.ips.entry_count())
            .finish_non_exhaustive()
    }
}

impl Default for MokaStore {
    fn default() -> Self {
        Self::builder().build()
    }
}

/// Builds a [`MokaStore`].
#[derive(Debug, Clone)]
#[must_use]
pub struct MokaStoreBuilder {
    max_phones: u64,
    max_ips: u64,
}

impl MokaStoreBuilder {
    /// How many phones to keep at most (default 1 000 000).
    pub fn max_phones(mut self, n: u64) -> Self {
        self.max_phones = n;
        self
    }

    /// How many client IPs to keep at most for the per-IP cap (default 100 000).
    pub fn max_ips(mut self, n: u64) -> Self {
        self.max_ips = n;
        self
    }

    /// The store.
    pub fn build(self) -> MokaStore {
        MokaStore {
            phones: Cache::builder()
                .max_capacity(self.max_phones)
                .weigher(|_, bucket: &Bucket| {
                    u32::try_from(bucket.records.len()).unwrap_or(u32::MAX)
                })
                .expire_after(KeepFor)
                .build(),
            buckets: (self.max_phones / PHONES_PER_BUCKET).max(1),
            ips: Cache::builder()
                .max_capacity(self.max_ips)
                .expire_after(KeepFor)
                .build(),
            global: Arc::new(Mutex::new(VecDeque::new())),
            revoked: Arc::default(),
        }
    }
}

impl MokaStore {
    /// Starts a builder with the default capacities.
    pub fn builder() -> MokaStoreBuilder {
        MokaStoreBuilder {
            max_phones: DEFAULT_MAX_PHONES,
            max_ips: DEFAULT_MAX_IPS,
        }
    }

    /// Phones currently held (approximate until moka's pending maintenance has run).
    pub fn phone_count(&self) -> u64 {
        self.phones.weighted_size()
    }

    /// Runs moka's pending maintenance (evictions, expirations) now; for tests and metrics.
    pub fn run_pending_tasks(&self) {
        self.phones.run_pending_tasks();
        self.ips.run_pending_tasks();
    }

    fn update_phone<R>(
        &self,
        phone: PhoneNumber,
        now: u64,
        window_ms: u64,
        f: impl FnOnce(&mut PhoneRecord) -> (bool, R),
    ) -> R {
        let digits = phone.digits();
        // Fibonacci hashing spreads neighbouring numbers over the buckets.
        let key = (digits.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16) % self.buckets;
        let mut out = None;
        self.phones.entry(key).and_compute_with(|entry| {
            let bucket_existed = entry.is_some();
            let mut bucket = entry.map(|e| e.into_value()).unwrap_or_default();
            let found = bucket.records.iter().position(|r| r.phone == digits);
            let existed = found.is_some();
            let mut rec = match found {
                Some(i) => bucket.records.swap_remove(i),
                None => PhoneRecord::new(digits),
            };
            let (changed, result) = f(&mut rec);
            out = Some(result);
            let keep_rec = rec.settle(now, window_ms) != 0 && (changed || existed);
            if keep_rec {
                bucket.records.push(rec);
            }
            // The other phones of the bucket shed what has aged out too.
            let mut until = 0;
            bucket.records.retain_mut(|r| {
                let u = r.settle(now, window_ms);
                until = until.max(u);
                u != 0
            });
            bucket.records.shrink_to_fit();
            bucket.keep_for_ms = until.saturating_sub(now);
            match (bucket.records.is_empty(), bucket_existed) {
                (true, true) => Op::Remove,
                (true, false) => Op::Nop,
                (false, true) => Op::Put(bucket),
                (false, false) if keep_rec => Op::Put(bucket),
                (false, false) => Op::Nop,
            }
        });
        // The closure always runs exactly once.
        out.unwrap_or_else(|| unreachable!("moka did not run the compute closure"))
    }

    /// Checks and records the IP and overall caps; Err is the refusal.
    fn reserve_ip_and_global(&self, send: &SendAttempt) -> Result<(), SendDecision> {
        let (now, l) = (send.now_ms, send.limits);
        let mut refusal = None;
        let reserve = |refusal: &mut Option<SendDecision>| {
            let mut global = self.global.lock().unwrap_or_else(|e| e.into_inner());
            let live = global.partition_point(|t| t.saturating_add(l.window_ms) <= now);
            global.drain(..live);
            let log = global.make_contiguous();
            if let Some(wait) = window_wait(log, l.global, l.window_ms, now) {
                *refusal = Some(SendDecision::Refused {
                    limit: Limit::GlobalHourly,
                    retry_after_ms: wait,
                });
                return false;
            }
            let at = global.partition_point(|t| *t <= now);
            global.insert(at, now);
            true
        };
        match send.client_ip {
            None => {
                reserve(&mut refusal);
            }
            Some(ip) => {
                self.ips.entry(ip).and_compute_with(|entry| {
                    let mut rec = entry.map(|e| e.into_value()).unwrap_or_default();
                    let live = rec
                        .sends
                        .partition_point(|t| t.saturating_add(l.window_ms) <= now);
                    rec.sends.drain(..live);
                    if let Some(wait) = window_wait(&rec.sends, l.per_ip, l.window_ms, now) {
                        refusal = Some(SendDecision::Refused {
                            limit: Limit::IpHourly,
                            retry_after_ms: wait,
                        });
                        return Op::Nop;
                    }
                    if !reserve(&mut refusal) {
                        return Op::Nop;
                    }
                    let at = rec.sends.partition_point(|t| *t <= now);
                    rec.sends.insert(at, now);
                    rec.keep_for_ms = rec.sends.last().map_or(0, |t| t + l.window_ms - now);
                    Op::Put(rec)
                });
            }
        }
        refusal.map_or(Ok(()), Err)
    }
}

fn remove_one(log: &mut Vec<u64>, t: u64) {
    if let Some(i) = log.iter().position(|x| *x == t) {
        log.remove(i);
    }
}

#[async_trait]
impl VerificationStore for MokaStore {
    async fn reserve_send(&self, send: &SendAttempt) -> Result<SendDecision, StoreError> {
        let (now, l) = (send.now_ms, send.limits);
        Ok(self.update_phone(send.phone, now, l.window_ms, |rec| {
            rec.settle(now, l.window_ms);
            if rec.locked_until > now {
                let wait = rec.locked_until - now;
                return (
                    false,
                    SendDecision::Refused {
                        limit: Limit::Locked,
                        retry_after_ms: wait,
                    },
                );
            }
            if let Some(last) = rec.sends.last()
                && last.saturating_add(l.cooldown_ms) > now
            {
                let wait = last + l.cooldown_ms - now;
                return (
                    false,
                    SendDecision::Refused {
                        limit: Limit::Cooldown,
                        retry_after_ms: wait,
                    },
                );
            }
            let mut sends = rec.sends.to_vec();
            if let Some(wait) = window_wait(&sends, l.per_phone, l.window_ms, now) {
                return (
                    false,
                    SendDecision::Refused {
                        limit: Limit::PhoneHourly,
                        retry_after_ms: wait,
                    },
                );
            }
            if let Err(refusal) = self.reserve_ip_and_global(send) {
                return (false, refusal);
            }
            let at = sends.partition_point(|t| *t <= now);
            sends.insert(at, now);
            rec.sends = SendLog::from_vec(sends);
            (true, SendDecision::Granted)
        }))
    }

    async fn release_send(&self, send: &SendAttempt) -> Result<(), StoreError> {
        let (now, l) = (send.now_ms, send.limits);
        self.update_phone(send.phone, now, l.window_ms, |rec| {
            let mut sends = rec.sends.to_vec();
            remove_one(&mut sends, now);
            rec.sends = SendLog::from_vec(sends);
            (true, ())
        });
        if let Some(ip) = send.client_ip {
            self.ips.entry(ip).and_compute_with(|entry| match entry {
                None => Op::Nop,
                Some(e) => {
                    let mut rec = e.into_value();
                    remove_one(&mut rec.sends, now);
                    Op::Put(rec)
                }
            });
        }
        let mut global = self.global.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = global.iter().position(|x| *x == now) {
            global.remove(i);
        }
        Ok(())
    }

    async fn put_pending(
        &self,
        phone: PhoneNumber,
        pending: &Pending,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        // The send window only matters for how long the record is kept; an hour is the cap's.
        let window = super::millis(crate::policy::SEND_WINDOW);
        self.update_phone(phone, now_ms, window, |rec| {
            rec.pending = Some(PendingSlot {
                id: pending.id,
                expires_at: pending.expires_at_ms,
                ticket: CompactTicket::new(pending.ticket.expose()),
            });
            (true, ())
        });
        Ok(())
    }

    async fn begin_attempt(
        &self,
        phone: PhoneNumber,
        now: u64,
        limits: &AttemptLimits,
    ) -> Result<AttemptDecision, StoreError> {
        let window = super::millis(crate::policy::SEND_WINDOW);
        Ok(self.update_phone(phone, now, window, |rec| {
            rec.settle(now, window);
            if rec.locked_until > now {
                return (
                    false,
                    AttemptDecision::Locked {
                        retry_after_ms: rec.locked_until - now,
                    },
                );
            }
            let Some(pending) = &rec.pending else {
                return (false, AttemptDecision::NoCode);
            };
            let (pending_id, ticket) = (pending.id, Ticket::new(pending.ticket.unpack()));
            rec.attempts += 1;
            rec.attempts_until = now.saturating_add(limits.memory_ms);
            let last = rec.attempts >= limits.max_attempts;
            if last {
                rec.locked_until = now.saturating_add(limits.lockout_ms);
            }
            (
                true,
                AttemptDecision::Proceed {
                    pending_id,
                    ticket,
                    attempt: rec.attempts,
                    last,
                },
            )
        }))
    }

    async fn finish_attempt(
        &self,
        phone: PhoneNumber,
        pending_id: u64,
        result: AttemptResult,
        now: u64,
    ) -> Result<FinishOutcome, StoreError> {
        let window = super::millis(crate::policy::SEND_WINDOW);
        Ok(self.update_phone(phone, now, window, |rec| {
            let current = rec.pending.as_ref().is_some_and(|p| p.id == pending_id);
            match result {
                AttemptResult::Matched if current => {
                    rec.pending = None;
                    rec.attempts = 0;
                    rec.locked_until = 0;
                    (true, FinishOutcome::Done)
                }
                AttemptResult::Matched => (false, FinishOutcome::Gone),
                AttemptResult::LastMismatch => {
                    // The lock cancels whatever code is pending.
                    rec.pending = None;
                    (true, FinishOutcome::Done)
                }
            }
        }))
    }

    async fn revoke(&self, revocation: &Revocation, now: u64) -> Result<(), StoreError> {
        let mut log = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
        log.entries.retain(|_, r| r.expires_at_ms() > now);
        let seq = log.next;
        log.next += 1;
        log.entries.insert(seq, revocation.clone());
        Ok(())
    }

    async fn revocations(
        &self,
        since: &RevocationCursor,
        now: u64,
    ) -> Result<RevocationBatch, StoreError> {
        let from = if since.0.is_empty() {
            0
        } else {
            since
                .0
                .parse::<u64>()
                .map_err(|_| StoreError::Corrupt("revocation cursor".into()))?
        };
        let mut log = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
        log.entries.retain(|_, r| r.expires_at_ms() > now);
        Ok(RevocationBatch {
            entries: log.entries.range(from..).map(|(_, r)| r.clone()).collect(),
            cursor: RevocationCursor(log.next.to_string()),
        })
    }
}
