use async_trait::async_trait;

use super::Cause;
use crate::domain::Secret;

/// Named secret values (Secrets Manager). Names are built by `app::secrets`, never by callers.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The current value, or `None` if the secret does not exist (or is scheduled for deletion).
    async fn get_secret(&self, name: &str) -> Result<Option<Secret>, SecretStoreError>;

    /// Sets the current value, creating the secret if needed.
    async fn put_secret(&self, name: &str, value: &Secret) -> Result<(), SecretStoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    #[error("the secret store is unavailable")]
    Unavailable(#[source] Cause),
}
