//! The in-memory store, on `moka`: bounded, with per-entry expiry.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::ops::compute::Op;
use moka::sync::Cache;

use super::compact::CompactTicket;
use super::{
    AttemptDecision, AttemptLimits, AttemptResult, Buckets, CONVERSION_WINDOW_MS,
    ConversionFigures, Country, FinishOutcome, Limit, Pending, Revocation, RevocationBatch,
    RevocationCursor, SendAttempt, SendDecision, StoreError, VerificationStore, conversion_refuses,
    number_range, window_wait,
};
use crate::phone::PhoneNumber;
use crate::policy::{Policy, SEND_WINDOW};
use crate::provider::{Channel, Ticket};

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

/// A send log (one client address's, or one number block's): send times in the window,
/// oldest first.
#[derive(Debug, Clone, Default)]
struct Log {
    sends: Vec<u64>,
    keep_for_ms: u64,
}

impl Log {
    fn settle(&mut self, now: u64, window_ms: u64) {
        let dead = self
            .sends
            .partition_point(|t| t.saturating_add(window_ms) <= now);
        self.sends.drain(..dead);
    }

    fn record(&mut self, now: u64, window_ms: u64) {
        let at = self.sends.partition_point(|t| *t <= now);
        self.sends.insert(at, now);
        self.keep_for_ms = self
            .sends
            .last()
            .map_or(0, |t| t.saturating_add(window_ms).saturating_sub(now));
    }
}

/// The number blocks that share one moka entry, as phones share [`Bucket`]s: each block's
/// send log, its newest send inline.
#[derive(Debug, Clone, Default)]
struct BlockBucket {
    /// (block × 10 + range digits, its sends in the window).
    logs: Vec<(u64, SendLog)>,
    keep_for_ms: u64,
}

impl BlockBucket {
    /// Drops the sends (and blocks) that left the window; sets how long the entry is kept.
    fn settle(&mut self, now: u64, window_ms: u64) {
        self.logs.retain_mut(|(_, log)| {
            log.settle(now, window_ms);
            log.last().is_some()
        });
        self.logs.shrink_to_fit();
        self.keep_for_ms = self
            .logs
            .iter()
            .filter_map(|(_, log)| log.last())
            .max()
            .map_or(0, |t| t.saturating_add(window_ms).saturating_sub(now));
    }
}

/// One client address's verify budget.
#[derive(Debug, Clone, Default)]
struct VerifyRecord {
    buckets: Buckets,
    keep_for_ms: u64,
}

/// How long an entry is worth keeping from its last write (moka's per-entry expiry).
trait Kept {
    fn keep_for_ms(&self) -> u64;
}

impl Kept for Bucket {
    fn keep_for_ms(&self) -> u64 {
        self.keep_for_ms
    }
}

impl Kept for BlockBucket {
    fn keep_for_ms(&self) -> u64 {
        self.keep_for_ms
    }
}

impl Kept for Log {
    fn keep_for_ms(&self) -> u64 {
        self.keep_for_ms
    }
}

impl Kept for VerifyRecord {
    fn keep_for_ms(&self) -> u64 {
        self.keep_for_ms
    }
}

struct KeepFor;

impl<K, V: Kept> Expiry<K, V> for KeepFor {
    fn expire_after_create(&self, _: &K, v: &V, _: Instant) -> Option<Duration> {
        Some(Duration::from_millis(v.keep_for_ms()))
    }
    fn expire_after_update(
        &self,
        _: &K,
        v: &V,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(Duration::from_millis(v.keep_for_ms()))
    }
}

/// A sorted log of times.
fn insert_sorted(log: &mut VecDeque<u64>, t: u64) {
    let at = log.partition_point(|x| *x <= t);
    log.insert(at, t);
}

fn prune(log: &mut VecDeque<u64>, now: u64, window_ms: u64) {
    let dead = log.partition_point(|t| t.saturating_add(window_ms) <= now);
    log.drain(..dead);
}

fn remove_at(log: &mut VecDeque<u64>, t: u64) {
    if let Some(i) = log.iter().position(|x| *x == t) {
        log.remove(i);
    }
}

/// One country's conversion figures: exact logs of the sends let through and of the
/// verifications (there are never more of those than sends, so the overall cap bounds both).
#[derive(Debug, Default)]
struct ConversionLog {
    sends: VecDeque<u64>,
    verified: VecDeque<u64>,
}

impl ConversionLog {
    fn settle(&mut self, now: u64) -> ConversionFigures {
        prune(&mut self.sends, now, CONVERSION_WINDOW_MS);
        prune(&mut self.verified, now, CONVERSION_WINDOW_MS);
        ConversionFigures::new(self.sends.len() as u64, self.verified.len() as u64)
    }

    fn is_empty(&self) -> bool {
        self.sends.is_empty() && self.verified.is_empty()
    }
}

/// The store-wide counters, behind one mutex: there is one of each, so a map buys nothing.
#[derive(Debug, Default)]
struct Shared {
    global: VecDeque<u64>,
    voice: VecDeque<u64>,
    /// At most one entry per region code (a few hundred), each emptied by the window.
    countries: HashMap<Country, ConversionLog>,
    /// When to next drop what left the window from every country's logs, not only from the
    /// ones being sent to (a country sent to once would otherwise keep its send forever).
    sweep_at: u64,
}

impl Shared {
    fn sweep(&mut self, now: u64) {
        if now < self.sweep_at {
            return;
        }
        self.sweep_at = now.saturating_add(CONVERSION_WINDOW_MS / 60);
        self.countries.retain(|_, log| {
            log.settle(now);
            !log.is_empty()
        });
    }
}

/// The revocations, by sequence number, with an index by expiry to forget them in order.
#[derive(Debug, Default)]
struct Revocations {
    last_seq: u64,
    entries: BTreeMap<u64, Revocation>,
    by_expiry: BTreeSet<(u64, u64)>,
}

impl Revocations {
    fn forget_expired(&mut self, now: u64) {
        while let Some(&(expires, seq)) = self.by_expiry.first() {
            if expires > now {
                break;
            }
            self.by_expiry.pop_first();
            self.entries.remove(&seq);
        }
    }
}

/// The in-memory [`VerificationStore`]: one process, bounded capacity, per-entry expiry.
///
/// Each phone is one `moka` entry, and every store step is one `and_compute_with` on it, which
/// moka runs serially per key: the atomicity the engine relies on. A send also updates the
/// client address's log and the number block's log (each its own moka entry) and the
/// store-wide counters (overall, voice, the country's conversion figures) behind one mutex,
/// nested inside the phone's compute and always in the order phone → address → block →
/// store-wide, so no two steps can wait on each other. Each nested step records the send only
/// if everything inside it passed, so a refusal records nothing anywhere.
///
/// # Capacity
/// moka evicts the least useful entries when full, and an evicted phone would lose its lock
/// and counters. So the capacity must hold the working set the policy can create, and
/// [`check_policy`](VerificationStore::check_policy) (called when the engine is built)
/// refuses a policy it cannot hold:
///
/// - **phones**: a phone's record lives at most `L = max(1 h, code_ttl + max(lockout,
///   code_ttl))` after its last send (the code's life, then the lock or the attempt memory);
///   records share moka entries (below), and a dead one is dropped at its entry's next write,
///   so the store holds at most the phones sent to in the last `2 L`. The overall cap lets at
///   most `sends_per_hour` sends through in any hour, hence the rule
///   `max_phones ≥ sends_per_hour × ⌈2 L / 1 h⌉` (defaults: 1000 × 2 ≤ 1 000 000).
/// - **client addresses and number blocks**: an address's or a block's log lives one hour
///   after its newest send, so each table holds at most `sends_per_hour` of them:
///   `max_ips ≥ sends_per_hour`. (Blocks share moka entries as phones do, eight to one on
///   average, and their table has room for twice `max_ips` for the dead ones awaiting their
///   entry's next write: with random numbers nearly every send opens a block of its own.)
/// - [`MokaStoreBuilder::sized_for`] raises the capacities to what a policy needs; the
///   engine's default store is sized so.
/// - **verify budgets per address** are bounded by no cap (anyone may verify), so their table
///   (also `max_ips` entries) may fill up; it then evicts, with a warning logged (at most once
///   a minute). That is the lesser evil against failing closed for everyone: filling it takes
///   more distinct addresses in one hour than the table holds, and whoever has those has that
///   many budgets anyway; the phones' attempt budgets and locks, which are what the verify
///   budget protects, are never evicted.
///
/// Revocations are kept until they expire, in a map outside moka.
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
/// use twofactor_core::{Policy, VerificationStore};
/// use twofactor_core::store::MokaStore;
///
/// let store = MokaStore::builder().max_phones(10_000).build();
/// assert!(store.check_policy(&Policy::default()).is_ok());
/// let busy = Policy::builder().sends_per_hour(100_000).build().unwrap();
/// assert!(store.check_policy(&busy).is_err(), "100 000 sends an hour need more phones");
/// ```
#[derive(Clone)]
pub struct MokaStore {
    phones: Cache<u64, Bucket>,
    buckets: u64,
    max_phones: u64,
    max_ips: u64,
    ips: Cache<IpAddr, Log>,
    /// Number blocks' send logs, eight blocks to an entry on average (see [`BlockBucket`]).
    ranges: Cache<u64, BlockBucket>,
    range_buckets: u64,
    verifies: Cache<IpAddr, VerifyRecord>,
    shared: Arc<Mutex<Shared>>,
    revocations: Arc<Mutex<Revocations>>,
    /// When the verify table was last found full (Unix ms, real time), to warn once a minute.
    verifies_full_warned: Arc<AtomicU64>,
}

impl std::fmt::Debug for MokaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MokaStore")
            .field("phones", &self.phones.entry_count())
            .field("ips", &self.ips.entry_count())
            .field("ranges", &self.ranges.entry_count())
            .field("verifies", &self.verifies.entry_count())
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

fn log_cache<K: Hash + Eq + Send + Sync + 'static, V: Kept + Clone + Send + Sync + 'static>(
    capacity: u64,
) -> Cache<K, V> {
    Cache::builder()
        .max_capacity(capacity)
        .expire_after(KeepFor)
        .build()
}

impl MokaStoreBuilder {
    /// How many phones to keep at most (default 1 000 000; see [`MokaStore`] for the rule
    /// that relates it to the policy).
    pub fn max_phones(mut self, n: u64) -> Self {
        self.max_phones = n;
        self
    }

    /// How many client addresses (and, separately, number blocks and verify budgets) to keep
    /// at most (default 100 000).
    pub fn max_ips(mut self, n: u64) -> Self {
        self.max_ips = n;
        self
    }

    /// Raises the capacities (never lowers them) to what `policy` needs by the capacity rule
    /// (see [`MokaStore`]); the engine's default store is built this way. Capacities are
    /// bounds, not allocations: memory follows what is actually held.
    pub fn sized_for(mut self, policy: &Policy) -> Self {
        let need = Needs::of(policy);
        self.max_phones = self.max_phones.max(need.phones);
        self.max_ips = self.max_ips.max(need.ips);
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
            max_phones: self.max_phones,
            max_ips: self.max_ips,
            ips: log_cache(self.max_ips),
            // Blocks share entries, and a block whose sends all left the window is dropped at
            // its entry's next write: room for twice the blocks of one window.
            ranges: Cache::builder()
                .max_capacity(self.max_ips.saturating_mul(2))
                .weigher(|_, bucket: &BlockBucket| {
                    u32::try_from(bucket.logs.len()).unwrap_or(u32::MAX)
                })
                .expire_after(KeepFor)
                .build(),
            range_buckets: (self.max_ips / PHONES_PER_BUCKET).max(1),
            verifies: log_cache(self.max_ips),
            shared: Arc::default(),
            revocations: Arc::default(),
            verifies_full_warned: Arc::default(),
        }
    }
}

/// What a policy needs held, by the capacity rule (see [`MokaStore`]).
struct Needs {
    phones: u64,
    ips: u64,
    /// How long a phone's record lives after its last send, in milliseconds.
    life_ms: u64,
}

impl Needs {
    fn of(policy: &Policy) -> Self {
        let hour = super::millis(SEND_WINDOW);
        let code = super::millis(policy.code_ttl());
        let life_ms = hour.max(code.saturating_add(super::millis(policy.lockout()).max(code)));
        let global = u64::from(policy.sends_per_hour());
        Self {
            phones: global.saturating_mul(life_ms.saturating_mul(2).div_ceil(hour)),
            ips: global,
            life_ms,
        }
    }
}

fn refused(limit: Limit, retry_after_ms: u64) -> SendDecision {
    SendDecision::Refused {
        limit,
        retry_after_ms: retry_after_ms.max(1),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data behind these mutexes is consistent after every statement: a panic elsewhere
    // cannot leave it half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
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
        self.ranges.run_pending_tasks();
        self.verifies.run_pending_tasks();
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

    /// Checks `key`'s log against `cap`, then runs `inner`; records the send in the log only
    /// if both passed. Err is the refusal.
    fn through_log<K: Hash + Eq + Send + Sync + 'static>(
        cache: &Cache<K, Log>,
        key: K,
        (cap, limit): (u32, Limit),
        send: &SendAttempt,
        inner: impl FnOnce() -> Result<(), SendDecision>,
    ) -> Result<(), SendDecision> {
        let (now, window) = (send.now_ms, send.limits.window_ms);
        let mut result = None;
        cache.entry(key).and_compute_with(|entry| {
            let mut log = entry.map(|e| e.into_value()).unwrap_or_default();
            log.settle(now, window);
            if let Some(wait) = window_wait(&log.sends, cap, window, now) {
                result = Some(Err(refused(limit, wait)));
                return Op::Nop;
            }
            if let Err(refusal) = inner() {
                result = Some(Err(refusal));
                return Op::Nop;
            }
            log.record(now, window);
            result = Some(Ok(()));
            Op::Put(log)
        });
        result.unwrap_or_else(|| unreachable!("moka did not run the compute closure"))
    }

    /// The number block of `send` (with its size, so that sizes do not share counts) and the
    /// moka entry it lives in.
    fn block_of(&self, send: &SendAttempt) -> (u64, u64) {
        let digits = send.limits.range_digits;
        let block = number_range(send.phone, digits)
            .saturating_mul(10)
            .saturating_add(u64::from(digits));
        let key = (block.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16) % self.range_buckets;
        (block, key)
    }

    /// Checks the number block's log against the per-range cap, then runs `inner`; records
    /// the send only if both passed. Err is the refusal.
    fn through_block(
        &self,
        send: &SendAttempt,
        inner: impl FnOnce() -> Result<(), SendDecision>,
    ) -> Result<(), SendDecision> {
        let (now, l) = (send.now_ms, send.limits);
        let (block, key) = self.block_of(send);
        let mut result = None;
        self.ranges.entry(key).and_compute_with(|entry| {
            let mut bucket = entry.map(|e| e.into_value()).unwrap_or_default();
            bucket.settle(now, l.window_ms);
            let at = bucket.logs.iter().position(|(b, _)| *b == block);
            let mut sends = at.map_or_else(Vec::new, |i| bucket.logs[i].1.to_vec());
            if let Some(wait) = window_wait(&sends, l.per_range, l.window_ms, now) {
                result = Some(Err(refused(Limit::Range, wait)));
                return Op::Nop;
            }
            if let Err(refusal) = inner() {
                result = Some(Err(refusal));
                return Op::Nop;
            }
            let pos = sends.partition_point(|t| *t <= now);
            sends.insert(pos, now);
            let log = SendLog::from_vec(sends);
            match at {
                Some(i) => bucket.logs[i].1 = log,
                None => bucket.logs.push((block, log)),
            }
            bucket.settle(now, l.window_ms);
            result = Some(Ok(()));
            Op::Put(bucket)
        });
        result.unwrap_or_else(|| unreachable!("moka did not run the compute closure"))
    }

    /// Takes one send at `now` back from `send`'s number block.
    fn take_back_block(&self, send: &SendAttempt) {
        let (now, window) = (send.now_ms, send.limits.window_ms);
        let (block, key) = self.block_of(send);
        self.ranges.entry(key).and_compute_with(|entry| {
            let Some(e) = entry else {
                return Op::Nop;
            };
            let mut bucket = e.into_value();
            if let Some((_, log)) = bucket.logs.iter_mut().find(|(b, _)| *b == block) {
                let mut sends = log.to_vec();
                remove_one(&mut sends, now);
                *log = SendLog::from_vec(sends);
            }
            bucket.settle(now, window);
            if bucket.logs.is_empty() {
                Op::Remove
            } else {
                Op::Put(bucket)
            }
        });
    }

    /// The caps after the phone's: address → block → store-wide; Err is the refusal.
    fn reserve_caps(&self, send: &SendAttempt) -> Result<(), SendDecision> {
        let l = send.limits;
        let range_and_shared = || self.through_block(send, || self.reserve_shared(send));
        match send.client_ip {
            None => range_and_shared(),
            Some(ip) => {
                Self::through_log(&self.ips, ip, (l.per_ip, Limit::Ip), send, range_and_shared)
            }
        }
    }

    /// The store-wide caps: channel (voice), the country's conversion, overall.
    fn reserve_shared(&self, send: &SendAttempt) -> Result<(), SendDecision> {
        let (now, l) = (send.now_ms, send.limits);
        let mut shared = lock(&self.shared);
        shared.sweep(now);
        let Shared {
            global,
            voice,
            countries,
            ..
        } = &mut *shared;
        let is_voice = send.channel == Channel::Voice;
        if is_voice {
            prune(voice, now, l.window_ms);
            if let Some(wait) =
                window_wait(voice.make_contiguous(), l.voice_global, l.window_ms, now)
            {
                return Err(refused(Limit::Channel, wait));
            }
        }
        let country = countries.entry(send.country).or_default();
        let figures = country.settle(now);
        if conversion_refuses(figures, &l) {
            // The figures change by themselves first when the oldest send leaves the window.
            let oldest = country.sends.front().copied().unwrap_or(now);
            let wait = oldest
                .saturating_add(CONVERSION_WINDOW_MS)
                .saturating_sub(now);
            return Err(refused(Limit::Country, wait));
        }
        prune(global, now, l.window_ms);
        if let Some(wait) = window_wait(global.make_contiguous(), l.global, l.window_ms, now) {
            if country.is_empty() {
                countries.remove(&send.country);
            }
            return Err(refused(Limit::Global, wait));
        }
        insert_sorted(&mut country.sends, now);
        insert_sorted(global, now);
        if is_voice {
            insert_sorted(voice, now);
        }
        Ok(())
    }

    /// Warns (at most once a minute) when the verify table is full and starts evicting.
    fn warn_if_verifies_full(&self) {
        if self.verifies.entry_count() < self.max_ips {
            return;
        }
        let now = crate::clock::unix_millis(std::time::SystemTime::now());
        let last = self.verifies_full_warned.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60_000
            && self
                .verifies_full_warned
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                max_ips = self.max_ips,
                "twofactor: the in-memory store's verify-budget table is full; the least used \
                 addresses' verify counts are being forgotten (raise max_ips)"
            );
        }
    }
}

fn remove_one(log: &mut Vec<u64>, t: u64) {
    if let Some(i) = log.iter().position(|x| *x == t) {
        log.remove(i);
    }
}

fn take_back<K: Hash + Eq + Send + Sync + 'static>(cache: &Cache<K, Log>, key: K, t: u64) {
    cache.entry(key).and_compute_with(|entry| match entry {
        None => Op::Nop,
        Some(e) => {
            let mut log = e.into_value();
            remove_one(&mut log.sends, t);
            if log.sends.is_empty() {
                Op::Remove
            } else {
                Op::Put(log)
            }
        }
    });
}

#[async_trait]
impl VerificationStore for MokaStore {
    async fn reserve_send(&self, send: &SendAttempt) -> Result<SendDecision, StoreError> {
        let (now, l) = (send.now_ms, send.limits);
        Ok(self.update_phone(send.phone, now, l.window_ms, |rec| {
            rec.settle(now, l.window_ms);
            if rec.locked_until > now {
                return (false, refused(Limit::Locked, rec.locked_until - now));
            }
            if let Some(last) = rec.sends.last()
                && last.saturating_add(l.cooldown_ms) > now
            {
                return (false, refused(Limit::Cooldown, last + l.cooldown_ms - now));
            }
            let mut sends = rec.sends.to_vec();
            if let Some(wait) = window_wait(&sends, l.per_phone, l.window_ms, now) {
                return (false, refused(Limit::Phone, wait));
            }
            if let Err(refusal) = self.reserve_caps(send) {
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
            take_back(&self.ips, ip, now);
        }
        self.take_back_block(send);
        let mut shared = lock(&self.shared);
        remove_at(&mut shared.global, now);
        if send.channel == Channel::Voice {
            remove_at(&mut shared.voice, now);
        }
        if let Some(country) = shared.countries.get_mut(&send.country) {
            remove_at(&mut country.sends, now);
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
        let window = super::millis(SEND_WINDOW);
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
        client: Option<IpAddr>,
        now: u64,
        limits: &AttemptLimits,
    ) -> Result<AttemptDecision, StoreError> {
        if let Some(ip) = client {
            let mut wait = None;
            let mut created = false;
            self.verifies.entry(ip).and_compute_with(|entry| {
                created = entry.is_none();
                let mut rec = entry.map(|e| e.into_value()).unwrap_or_default();
                let (budget, window) = (limits.verifies_per_ip, limits.verify_window_ms);
                match rec.buckets.take(budget, window, now) {
                    Err(ms) => {
                        wait = Some(ms);
                        Op::Nop
                    }
                    Ok(()) => {
                        rec.keep_for_ms = rec.buckets.keep_for(window, now);
                        Op::Put(rec)
                    }
                }
            });
            if let Some(retry_after_ms) = wait {
                return Ok(AttemptDecision::RateLimited { retry_after_ms });
            }
            if created {
                self.warn_if_verifies_full();
            }
        }
        let window = super::millis(SEND_WINDOW);
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
        let window = super::millis(SEND_WINDOW);
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

    async fn record_verified(&self, country: Country, now_ms: u64) -> Result<(), StoreError> {
        let mut shared = lock(&self.shared);
        shared.sweep(now_ms);
        let log = shared.countries.entry(country).or_default();
        log.settle(now_ms);
        insert_sorted(&mut log.verified, now_ms);
        Ok(())
    }

    async fn conversion(
        &self,
        country: Country,
        now_ms: u64,
    ) -> Result<ConversionFigures, StoreError> {
        let mut shared = lock(&self.shared);
        let Some(log) = shared.countries.get_mut(&country) else {
            return Ok(ConversionFigures::default());
        };
        let figures = log.settle(now_ms);
        if log.is_empty() {
            shared.countries.remove(&country);
        }
        Ok(figures)
    }

    async fn revoke(&self, revocation: &Revocation, now_ms: u64) -> Result<(), StoreError> {
        let mut r = lock(&self.revocations);
        r.forget_expired(now_ms);
        let expires = revocation.expires_at_ms();
        if expires > now_ms {
            r.last_seq += 1;
            let seq = r.last_seq;
            r.entries.insert(seq, revocation.clone());
            r.by_expiry.insert((expires, seq));
        }
        Ok(())
    }

    async fn revocations(
        &self,
        since: &RevocationCursor,
        now_ms: u64,
    ) -> Result<RevocationBatch, StoreError> {
        let after = match since.position() {
            None => 0,
            Some(p) => p
                .parse::<u64>()
                .map_err(|_| StoreError::Corrupt("not a cursor of this store".into()))?,
        };
        let mut r = lock(&self.revocations);
        r.forget_expired(now_ms);
        let entries = r
            .entries
            .range(after.saturating_add(1)..)
            .map(|(_, rev)| rev.clone())
            .collect();
        let cursor = RevocationCursor::at(r.last_seq.max(after).to_string());
        Ok(RevocationBatch::new(entries, cursor))
    }

    fn check_policy(&self, policy: &Policy) -> Result<(), StoreError> {
        let need = Needs::of(policy);
        let global = policy.sends_per_hour();
        if self.max_phones < need.phones {
            return Err(StoreError::Capacity(format!(
                "max_phones is {} but sends_per_hour {global} can keep {} phones' records \
                 (each lives up to {} min after its last send; see MokaStore's capacity rule)",
                self.max_phones,
                need.phones,
                need.life_ms / 60_000,
            )));
        }
        if self.max_ips < need.ips {
            return Err(StoreError::Capacity(format!(
                "max_ips is {} but sends_per_hour {global} can keep {} client addresses' and \
                 number blocks' send logs",
                self.max_ips, need.ips
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capacity_rule_follows_the_policy() {
        let store = MokaStore::builder()
            .max_phones(2_000)
            .max_ips(1_000)
            .build();
        assert!(
            store.check_policy(&Policy::default()).is_ok(),
            "1000/h × 2 h"
        );
        let small = MokaStore::builder().max_phones(1_999).build();
        let err = small.check_policy(&Policy::default()).unwrap_err();
        assert!(matches!(err, StoreError::Capacity(_)));
        assert!(err.to_string().contains("max_phones is 1999"), "{err}");
        // A day's lock keeps records 24 h 10 min: 2 × that is 49 hours' sends.
        let long = Policy::builder()
            .lockout(Duration::from_secs(86_400))
            .build()
            .unwrap();
        assert!(store.check_policy(&long).is_err());
        let big = MokaStore::builder()
            .max_phones(49_000)
            .max_ips(1_000)
            .build();
        assert!(big.check_policy(&long).is_ok());
        let few_ips = MokaStore::builder().max_ips(999).build();
        let err = few_ips.check_policy(&Policy::default()).unwrap_err();
        assert!(err.to_string().contains("max_ips is 999"), "{err}");
        // Sized for a policy: enough, and never less than asked.
        let busy = Policy::builder()
            .sends_per_hour(10_000_000)
            .build()
            .unwrap();
        let sized = MokaStore::builder().sized_for(&busy).build();
        assert!(sized.check_policy(&busy).is_ok());
        assert_eq!((sized.max_phones, sized.max_ips), (20_000_000, 10_000_000));
        let kept = MokaStore::builder().sized_for(&Policy::default()).build();
        assert_eq!((kept.max_phones, kept.max_ips), (1_000_000, 100_000));
    }

    #[tokio::test]
    async fn countries_no_longer_sent_to_are_forgotten() {
        let store = MokaStore::default();
        let limits = super::super::SendLimits::from(&Policy::default());
        let phone = PhoneNumber::from_digits(919812345678).unwrap();
        for (i, code) in ["AA", "BB", "CC"].iter().enumerate() {
            let send = SendAttempt::new(phone, i as u64 * 60_000, limits)
                .with_country(Country::new(code).unwrap());
            store.reserve_send(&send).await.unwrap();
        }
        assert_eq!(lock(&store.shared).countries.len(), 3);
        store
            .record_verified(Country::new("DD").unwrap(), 2 * CONVERSION_WINDOW_MS)
            .await
            .unwrap();
        let shared = lock(&store.shared);
        assert_eq!(
            shared
                .countries
                .keys()
                .map(Country::as_str)
                .collect::<Vec<_>>(),
            ["DD"]
        );
    }

    #[tokio::test]
    async fn expired_revocations_leave_nothing_behind() {
        let store = MokaStore::default();
        for i in 0..100u64 {
            let r = Revocation::Token {
                id: [i as u8; 16],
                expires_at_ms: 1_000 + i,
            };
            store.revoke(&r, 0).await.unwrap();
        }
        let batch = store
            .revocations(&RevocationCursor::start(), 1_050)
            .await
            .unwrap();
        assert_eq!(batch.entries.len(), 49);
        store
            .revocations(&RevocationCursor::start(), 2_000)
            .await
            .unwrap();
        let r = lock(&store.revocations);
        assert!(r.entries.is_empty() && r.by_expiry.is_empty());
    }
}
