//! Secret values: redacted in every debug or display output, compared in constant time.
use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// A secret value. `Debug` and `Display` print `[redacted]`; it has no `Serialize`, so it cannot be
/// put in a response or a log field by accident; memory is wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it (an HTTP header, a hash).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time equality with a presented value. Both sides are hashed first, so neither the
    /// content nor the length of the secret leaks through timing.
    pub fn matches(&self, presented: &str) -> bool {
        digest_eq(&sha256(self.0.as_bytes()), &sha256(presented.as_bytes()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    sha256(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison of two digests.
pub fn digest_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

/// Does `presented` match any of `candidates`? Every candidate is compared (no early exit).
pub fn matches_any<'a>(candidates: impl IntoIterator<Item = &'a Secret>, presented: &str) -> bool {
    let presented = sha256(presented.as_bytes());
    let mut hit = subtle::Choice::from(0);
    for c in candidates {
        hit |= sha256(c.expose().as_bytes()).ct_eq(&presented);
    }
    hit.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
    }

    #[test]
    fn compares_by_value() {
        let s = Secret::new("hunter2");
        assert!(s.matches("hunter2"));
        assert!(!s.matches("hunter3"));
        assert!(!s.matches(""));
        let other = Secret::new("other");
        assert!(matches_any([&other, &s], "hunter2"));
        assert!(!matches_any([&other], "hunter2"));
        assert!(!matches_any([], "hunter2"));
    }
}
