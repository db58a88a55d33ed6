//! Email addresses: validated once; uniqueness uses Unicode NFC then lowercase (docs/behaviour/data.md).
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid email address")]
pub struct EmailError;

/// An email as the person wrote it (trimmed, NFC), with its uniqueness key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email {
    value: String,
    key: String,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let value: String = raw.trim().nfc().collect();
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError);
        }
        let (local, domain) = value.rsplit_once('@').ok_or(EmailError)?;
        let domain_ok = !domain.is_empty()
            && domain.len() <= 253
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@')
            && domain.split('.').all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(EmailError);
        }
        let key = value.to_lowercase().nfc().collect();
        Ok(Self { value, key })
    }

    /// As written (NFC-normalised, trimmed).
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The per-tenant uniqueness key: NFC, then lowercase.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn same_address(&self, other: &Email) -> bool {
        self.key == other.key
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl fmt::Debug for Email {
    // Emails are personal data: debug output never shows them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email([personal])")
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Email::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_and_unicode_form() {
        let composed = Email::parse("José@Example.com").unwrap();
        let decomposed = Email::parse("jose\u{301}@example.COM").unwrap();
        assert_eq!(composed.key(), decomposed.key());
        assert!(composed.same_address(&decomposed));
        assert_eq!(composed.as_str(), "José@Example.com");
        assert_eq!(Email::parse("  a@b.co ").unwrap().as_str(), "a@b.co");
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in ["", "a", "@b.co", "a@", "a@b..co", "a b@c.co", "a@.b", "a@b-.co", "a@@b.co"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_address() {
        assert!(!format!("{:?}", Email::parse("x@y.co").unwrap()).contains("x@y"));
    }
}
