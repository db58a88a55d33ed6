use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use crate::ports::{Clock, Random};

/// A clock that moves only when told to. Starts at 2026-01-01T00:00:00Z.
pub struct FakeClock(Mutex<DateTime<Utc>>);

impl Default for FakeClock {
    fn default() -> Self {
        Self(Mutex::new(DateTime::from_timestamp(1_767_225_600, 0).expect("valid start")))
    }
}

impl FakeClock {
    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock lock") += by;
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = at;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// Deterministic "randomness": a counter spread over the bytes, different on every call.
#[derive(Default)]
pub struct FakeRandom(AtomicU64);

impl FakeRandom {
    fn next(&self) -> [u8; 8] {
        (self.0.fetch_add(1, Ordering::SeqCst) + 1).to_be_bytes()
    }
}

impl Random for FakeRandom {
    fn bytes16(&self) -> [u8; 16] {
        let n = self.next();
        let mut out = [0u8; 16];
        out[8..].copy_from_slice(&n);
        out
    }

    fn bytes32(&self) -> [u8; 32] {
        let n = self.next();
        let mut out = [0x5a; 32];
        out[24..].copy_from_slice(&n);
        out
    }
}
