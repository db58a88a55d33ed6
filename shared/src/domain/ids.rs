//! Identifiers, parsed once at the edge ("parse, don't validate").
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("tenant id must be 1-63 characters of a-z, 0-9 and '-'")]
    Tenant,
    #[error("user id is not a valid okta-bridge user id")]
    User,
    #[error("Okta user id must be 1-64 letters and digits")]
    OktaUser,
    #[error("group id is not a valid okta-bridge group id")]
    Group,
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $check:expr, $err:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, IdError> {
                let check: fn(&str) -> bool = $check;
                if check(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err($err)
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

string_id!(
    /// A tenant: `[a-z0-9-]{1,63}` (docs/behaviour/tenants-and-routing.md), usable as a DNS label and a path segment.
    TenantId,
    |s| !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
    IdError::Tenant
);

string_id!(
    /// okta-bridge's own opaque, stable user id (`usr_` + 32 hex digits).
    UserId,
    |s| s.len() == 36
        && s.starts_with("usr_")
        && s[4..].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
    IdError::User
);

string_id!(
    /// Okta's user id (`00u...`): letters and digits.
    OktaUserId,
    |s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric()),
    IdError::OktaUser
);

string_id!(
    /// okta-bridge's own opaque, stable group id (`grp_` + 32 hex digits).
    GroupId,
    |s| s.len() == 36
        && s.starts_with("grp_")
        && s[4..].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
    IdError::Group
);

impl GroupId {
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(format!("grp_{}", &UserId::from_random(bytes).0[4..]))
    }
}

impl OktaUserId {
    /// An id in the shape Okta gives users (`00u` and 17 more letters and digits): how a SCIM
    /// `externalId` is recognised as Okta's own user id, never a customer's employee number.
    pub fn parse_okta_shaped(value: &str) -> Option<Self> {
        (value.len() == 20 && value.starts_with("00u")).then(|| Self::parse(value).ok()).flatten()
    }
}

impl UserId {
    /// A new id from 16 random bytes (the caller injects the randomness).
    pub fn from_random(bytes: [u8; 16]) -> Self {
        let mut s = String::with_capacity(36);
        s.push_str("usr_");
        for b in bytes {
            s.push_str(&format!("{b:02x}"));
        }
        Self(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_follow_the_spec() {
        for ok in ["demo", "acme-corp", "a", "0", &"a".repeat(63)] {
            assert!(TenantId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Acme", "acme_corp", "acme.corp", "ac me", &"a".repeat(64), "ä"] {
            assert_eq!(TenantId::parse(bad), Err(IdError::Tenant), "{bad}");
        }
    }

    #[test]
    fn user_ids_round_trip() {
        let id = UserId::from_random([0xab; 16]);
        assert_eq!(UserId::parse(id.as_str()).unwrap(), id);
        assert!(UserId::parse("usr_ABABABABABABABABABABABABABABABAB").is_err());
        assert!(UserId::parse("00u1").is_err());
    }

    #[test]
    fn okta_ids_are_alphanumeric() {
        assert!(OktaUserId::parse("00ub0oNGTSWTBKOLGLNR").is_ok());
        assert!(OktaUserId::parse("00u/../x").is_err());
        assert!(OktaUserId::parse("").is_err());
        assert!(OktaUserId::parse_okta_shaped("00ujl29u0le5T6Aj10h7").is_some());
        for not_okta in
            ["701984", "00ujl29u0le5T6Aj10h", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef", "00g_l29u0le5T6Aj10h7"]
        {
            assert!(OktaUserId::parse_okta_shaped(not_okta).is_none(), "{not_okta}");
        }
    }
}
