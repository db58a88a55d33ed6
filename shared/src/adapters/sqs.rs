//! The user-fetch queue on SQS: `SendMessageBatch` in batches of 10, failed entries retried.
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use crate::ports::job_queue::QueueError;
use crate::ports::JobQueue;

/// SQS allows 10 entries per batch call.
pub const MAX_BATCH: usize = 10;
/// And at most 1 MiB per batch call in total; stay well inside it.
const MAX_BATCH_BYTES: usize = 256 * 1024;
const ATTEMPTS: u32 = 3;

pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Splits bodies into batches that respect both the count and the size limit.
    fn batches(bodies: &[String]) -> Vec<&[String]> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut bytes = 0;
        for (i, body) in bodies.iter().enumerate() {
            if i > start && (i - start == MAX_BATCH || bytes + body.len() > MAX_BATCH_BYTES) {
                out.push(&bodies[start..i]);
                start = i;
                bytes = 0;
            }
            bytes += body.len();
        }
        if start < bodies.len() {
            out.push(&bodies[start..]);
        }
        out
    }

    async fn send_batch(&self, batch: &[String]) -> Result<(), QueueError> {
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        let mut last_error: Option<String> = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 * 2u64.pow(attempt))).await;
            }
            let entries = pending
                .iter()
                .map(|&i| SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(&batch[i]).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| QueueError::Unavailable(Box::new(e)))?;
            match self.client.send_message_batch().queue_url(&self.url).set_entries(Some(entries)).send().await {
                Ok(out) => {
                    pending = out.failed().iter().filter_map(|f| f.id().parse().ok()).collect();
                    if let Some(f) = out.failed().first() {
                        last_error = Some(format!("{}: {}", f.code(), f.message().unwrap_or("")));
                        if !f.sender_fault() {
                            continue;
                        }
                        // A sender fault will not succeed on retry.
                        break;
                    }
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), attempt, "SendMessageBatch failed");
                    last_error = Some(e.to_string());
                }
            }
        }
        Err(QueueError::Partial {
            failed: pending.len(),
            total: batch.len(),
            cause: last_error.unwrap_or_else(|| "unknown".into()).into(),
        })
    }
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn enqueue(&self, bodies: &[String]) -> Result<(), QueueError> {
        let mut failed = 0;
        let mut cause = None;
        for batch in Self::batches(bodies) {
            if let Err(QueueError::Partial { failed: f, cause: c, .. }) = self.send_batch(batch).await {
                failed += f;
                cause = Some(c);
            }
        }
        match cause {
            None => Ok(()),
            Some(cause) => Err(QueueError::Partial { failed, total: bodies.len(), cause }),
        }
    }

    async fn enqueue_delayed(&self, body: &str, delay: Duration) -> Result<(), QueueError> {
        // SQS caps a message delay at 15 minutes; a longer wait is re-delayed by the consumer.
        let seconds = delay.as_secs().min(900) as i32;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(seconds)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| QueueError::Unavailable(Box::new(e)))
    }

    async fn retry_later(&self, receipt_handle: &str, after: Duration) -> Result<(), QueueError> {
        // SQS caps a message's visibility timeout at 12 hours.
        let seconds = after.as_secs().clamp(0, 43_200) as i32;
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| QueueError::Unavailable(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_count_and_size() {
        let small: Vec<String> = (0..23).map(|i| i.to_string()).collect();
        assert_eq!(SqsQueue::batches(&small).iter().map(|b| b.len()).collect::<Vec<_>>(), [10, 10, 3]);
        let big: Vec<String> = (0..3).map(|_| "x".repeat(100 * 1024)).collect();
        assert_eq!(SqsQueue::batches(&big).iter().map(|b| b.len()).collect::<Vec<_>>(), [2, 1]);
        assert!(SqsQueue::batches(&[]).is_empty());
    }
}
