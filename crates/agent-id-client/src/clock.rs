//! Where the library reads the time: proofs' `iat`, session expiry. Injectable so that tests
//! (and hosts with their own notion of time) can set it.

/// A source of the current Unix time in seconds.
pub trait Clock {
    fn now_s(&self) -> i64;
}

/// The system clock (`Date.now()` on wasm32, where `SystemTime::now()` panics).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[cfg(target_arch = "wasm32")]
    fn now_s(&self) -> i64 {
        (js_sys::Date::now() / 1000.0) as i64
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn now_s(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}
