//! Secrets Manager as the secret store. Values never reach an error message or a log line:
//! SDK errors carry only codes and request metadata.
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use crate::domain::Secret;
use crate::ports::secret_store::SecretStoreError;
use crate::ports::SecretStore;

pub struct SecretsManagerStore {
    client: Client,
}

impl SecretsManagerStore {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> SecretStoreError {
    SecretStoreError::Unavailable(Box::new(e))
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn get_secret(&self, name: &str) -> Result<Option<Secret>, SecretStoreError> {
        match self.client.get_secret_value().secret_id(name).send().await {
            Ok(out) => Ok(out.secret_string.map(Secret::new)),
            Err(e) => match e.as_service_error() {
                Some(se) if se.is_resource_not_found_exception() => Ok(None),
                // Scheduled for deletion: treat as absent.
                Some(se) if se.is_invalid_request_exception() => Ok(None),
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn put_secret(&self, name: &str, value: &Secret) -> Result<(), SecretStoreError> {
        let put = self.client.put_secret_value().secret_id(name).secret_string(value.expose()).send().await;
        match put {
            Ok(_) => return Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_not_found_exception()) => {}
            Err(e) => return Err(unavailable(e)),
        }
        let created = self
            .client
            .create_secret()
            .name(name)
            .secret_string(value.expose())
            .description("okta-bridge tenant secret")
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // Created concurrently by another writer: set our value on top.
            Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_exists_exception()) => self
                .client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value.expose())
                .send()
                .await
                .map(|_| ())
                .map_err(unavailable),
            Err(e) => Err(unavailable(e)),
        }
    }
}
