//! Time and randomness, injected so TTLs, leases, rotation windows and ids are testable.
use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub trait Random: Send + Sync {
    fn bytes16(&self) -> [u8; 16];
    fn bytes32(&self) -> [u8; 32];
}
