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
