//! Time, injectable: the engine, the stores and the failover breaker read the time through a
//! [`Clock`], so tests can move time forward instead of sleeping.
//!
//! ```
//! use std::time::Duration;
//! use twofactor_core::clock::{Clock, ManualClock};
//!
//! let clock = ManualClock::new();
//! let before = clock.now();
//! clock.advance(Duration::from_secs(30));
//! assert_eq!(clock.now().duration_since(before).unwrap(), Duration::from_secs(30));
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> SystemTime;

    /// Now, in milliseconds since the Unix epoch (what stores keep).
    fn now_millis(&self) -> u64 {
        unix_millis(self.now())
    }
}

/// Milliseconds since the Unix epoch (0 for times before it).
#[inline]
pub fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The system clock now, in Unix milliseconds, whatever clock the engine was given: what
/// measures how old the in-process copy of the revocations is (see `revocation.rs`).
#[inline]
pub(crate) fn system_millis() -> u64 {
    unix_millis(SystemTime::now())
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock set to the current system time.
    pub fn new() -> Self {
        Self::at(SystemTime::now())
    }

    /// A clock set to `t`.
    pub fn at(t: SystemTime) -> Self {
        Self(Arc::new(AtomicU64::new(unix_millis(t))))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, t: SystemTime) {
        self.0.store(unix_millis(t), Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock")
            .field(&self.now_millis())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
    fn now_millis(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
    fn now_millis(&self) -> u64 {
        (**self).now_millis()
    }
}
