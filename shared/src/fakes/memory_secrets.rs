use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::Secret;
use crate::ports::secret_store::SecretStoreError;
use crate::ports::SecretStore;

/// Secrets in a map; counts reads so cache behaviour can be tested.
#[derive(Default)]
pub struct MemorySecrets {
    values: Mutex<HashMap<String, Secret>>,
    reads: AtomicUsize,
}

impl MemorySecrets {
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SecretStore for MemorySecrets {
    async fn get_secret(&self, name: &str) -> Result<Option<Secret>, SecretStoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.values.lock().expect("lock").get(name).cloned())
    }

    async fn put_secret(&self, name: &str, value: &Secret) -> Result<(), SecretStoreError> {
        self.values.lock().expect("lock").insert(name.to_owned(), value.clone());
        Ok(())
    }
}
