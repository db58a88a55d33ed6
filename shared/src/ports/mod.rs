//! Traits shaped by what the use cases need. They speak domain types only; adapters implement them.
pub mod activity_store;
pub mod clock;
pub mod config_store;
pub mod group_store;
pub mod job_queue;
pub mod metrics;
pub mod okta;
pub mod secret_store;
pub mod sso;
pub mod sync_store;
pub mod team_store;
pub mod token_store;
pub mod user_store;

pub use activity_store::ActivityStore;
pub use clock::{Clock, Random};
pub use config_store::ConfigStore;
pub use group_store::GroupStore;
pub use job_queue::{JobQueue, QueueAdmin};
pub use metrics::Metrics;
pub use okta::OktaDirectory;
pub use secret_store::SecretStore;
pub use sso::{IdpMetadataSource, LoginStateStore, OidcProvider};
pub use sync_store::SyncStore;
pub use team_store::{DedupeStore, PendingStore, TeamStore};
pub use token_store::TokenStore;
pub use user_store::{ChangeLog, ListPositions, UserReader, UserWriter};

/// An error and every `source()` under it, `: `-joined, for one log field.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut chain = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    chain
}

/// A boxed error from the outside world, kept as a `#[source]` for the logs.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure of a store. Callers map it to their protocol's error once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record changed since it was read (optimistic concurrency).
    #[error("the record changed since it was read")]
    VersionConflict,
    /// Another record of the tenant already holds this unique value.
    #[error("{0} is already in use in this tenant")]
    Duplicate(UniqueField),
    /// A record with this id already exists.
    #[error("the record already exists")]
    AlreadyExists,
    #[error("the paging cursor is not valid")]
    InvalidCursor,
    #[error("the store is unavailable")]
    Unavailable(#[source] Cause),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Email,
    OktaId,
    ExternalId,
    UserName,
}

impl std::fmt::Display for UniqueField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Email => "email",
            Self::OktaId => "okta_id",
            Self::ExternalId => "external_id",
            Self::UserName => "user_name",
        })
    }
}

/// One page of a list and the opaque cursor of the next, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Opaque paging cursors: the last key of a page, base64url-encoded. Stores rebuild the full key
/// from the tenant they were asked about, so a cursor can never reach into another tenant.
pub mod cursor {
    use base64::Engine;

    use super::StoreError;

    pub fn encode(last_key: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last_key)
    }

    pub fn decode(cursor: &str) -> Result<String, StoreError> {
        let bytes =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::InvalidCursor)?;
        String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)
    }
}
