use async_trait::async_trait;

use super::Cause;

/// A queue of JSON jobs (the user-fetch queue).
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Queues every body durably or fails; never a silent partial success. Bodies are sent in
    /// batches as large as the queue allows, and entries the queue refused are retried.
    async fn enqueue(&self, bodies: &[String]) -> Result<(), QueueError>;

    /// Queues one body that becomes visible only after `delay` (at most 15 minutes).
    async fn enqueue_delayed(&self, body: &str, delay: std::time::Duration) -> Result<(), QueueError>;

    /// Makes a received message visible again only after `after` (a rate-limit reset, a backoff).
    async fn retry_later(&self, receipt_handle: &str, after: std::time::Duration) -> Result<(), QueueError>;
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{failed} of {total} jobs could not be queued")]
    Partial {
        failed: usize,
        total: usize,
        #[source]
        cause: Cause,
    },
    #[error("the queue is unavailable")]
    Unavailable(#[source] Cause),
}

/// A work queue and its dead-letter queue, as an operator sees them.
#[async_trait]
pub trait QueueAdmin: Send + Sync {
    /// Depth of the queue and of its DLQ.
    async fn depths(&self) -> Result<(QueueDepth, QueueDepth), QueueError>;
    /// Moves up to `max` messages from the DLQ back to the queue, each sent before it is deleted
    /// (a crash in between duplicates a job, which the worker tolerates, and never loses one).
    /// Returns how many moved.
    async fn redrive(&self, max: usize) -> Result<u64, QueueError>;
}

pub use crate::domain::health::QueueDepth;
