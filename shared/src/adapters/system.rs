//! The real clock and the operating system's randomness.
use chrono::{DateTime, Utc};

use crate::ports::{Clock, Random};

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

pub struct OsRandom;

/// Without the OS random source no token, state or id can be made safely: the process stops
/// rather than going on with weaker values.
#[allow(clippy::expect_used, reason = "no secure randomness: refuse to go on")]
impl Random for OsRandom {
    fn bytes16(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).expect("the OS random source is available");
        b
    }

    fn bytes32(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).expect("the OS random source is available");
        b
    }
}
