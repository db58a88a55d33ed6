//! Operator views of an SQS queue and its DLQ: depths from `GetQueueAttributes`, and redrive by
//! receive → send to the source queue → delete from the DLQ, batch by batch.
use async_trait::async_trait;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};
use aws_sdk_sqs::Client;

use super::sqs::SqsQueue;
use crate::ports::job_queue::{QueueAdmin, QueueDepth, QueueError};
use crate::ports::JobQueue;

pub struct SqsQueueAdmin {
    client: Client,
    queue: SqsQueue,
    dlq_url: String,
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> QueueError {
    QueueError::Unavailable(Box::new(e))
}

impl SqsQueueAdmin {
    pub fn new(client: Client, queue_url: impl Into<String>, dlq_url: impl Into<String>) -> Self {
        Self { queue: SqsQueue::new(client.clone(), queue_url), client, dlq_url: dlq_url.into() }
    }

    async fn depth(&self, url: &str) -> Result<QueueDepth, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let attrs = out.attributes.unwrap_or_default();
        let get = |name: QueueAttributeName| attrs.get(&name).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(QueueDepth {
            messages: get(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }
}

#[async_trait]
impl QueueAdmin for SqsQueueAdmin {
    async fn depths(&self) -> Result<(QueueDepth, QueueDepth), QueueError> {
        Ok((self.depth(self.queue.url()).await?, self.depth(&self.dlq_url).await?))
    }

    async fn redrive(&self, max: usize) -> Result<u64, QueueError> {
        let mut moved = 0u64;
        while (moved as usize) < max {
            let want = (max - moved as usize).min(10) as i32;
            let out = self
                .client
                .receive_message()
                .queue_url(&self.dlq_url)
                .max_number_of_messages(want)
                // Long enough to send and delete the batch; if we die, the messages reappear in the DLQ.
                .visibility_timeout(60)
                .wait_time_seconds(0)
                .send()
                .await
                .map_err(|e| unavailable(e.into_service_error()))?;
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            let bodies: Vec<String> = messages.iter().filter_map(|m| m.body.clone()).collect();
            // Durably in the source queue first; only then out of the DLQ.
            self.queue.enqueue(&bodies).await?;
            let entries: Vec<_> = messages
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .set_receipt_handle(m.receipt_handle.clone())
                        .build()
                        .ok()
                })
                .collect();
            let deleted = self
                .client
                .delete_message_batch()
                .queue_url(&self.dlq_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| unavailable(e.into_service_error()))?;
            if !deleted.failed.is_empty() {
                tracing::warn!(
                    failed = deleted.failed.len(),
                    "redriven messages not deleted from the DLQ; they may be redriven twice"
                );
            }
            moved += messages.len() as u64;
        }
        tracing::info!(moved, "DLQ redriven");
        Ok(moved)
    }
}
