//! Locking without `expect`: every mutex here guards a cache or a counter whose every update is
//! one map or field write, so a panic elsewhere while it was held cannot leave it half-written;
//! a poisoned lock is taken as it is rather than turning one panic into many.
use std::sync::{Mutex, MutexGuard, PoisonError};

pub trait Locked<T> {
    /// The guard, poisoned or not.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> Locked<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
