//! Time and randomness, injected through the App so tests can freeze the clock.
//!
//! `SystemTime::now()` panics in wasm; the worker uses the JavaScript clock instead.

use std::cell::Cell;

/// A source of the current time in Unix milliseconds.
pub trait Clock {
    fn now_ms(&self) -> i64;

    fn now_s(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The JavaScript clock (`Date.now()`), used in workerd.
#[cfg(target_arch = "wasm32")]
pub struct JsClock;

#[cfg(target_arch = "wasm32")]
impl Clock for JsClock {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }
}

/// The operating system clock, for native runs.
#[cfg(not(target_arch = "wasm32"))]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to: deterministic tests of expiry and freshness.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: Cell<i64>,
}

impl ManualClock {
    pub fn at_secs(unix_s: i64) -> Self {
        Self {
            now_ms: Cell::new(unix_s * 1000),
        }
    }

    pub fn advance_secs(&self, secs: i64) {
        self.now_ms.set(self.now_ms.get() + secs * 1000);
    }

    pub fn set_ms(&self, ms: i64) {
        self.now_ms.set(ms);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.get()
    }
}

/// A source of cryptographically secure random bytes.
pub trait Entropy {
    /// Fills `buf`; failure is an internal error, never a weaker fallback.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The platform CSPRNG (`crypto.getRandomValues` in workerd, the OS natively).
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|_| RandomError)
    }
}

/// The CSPRNG failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomError;

impl std::fmt::Display for RandomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("random number generator failed")
    }
}
