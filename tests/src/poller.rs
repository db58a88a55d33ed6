//! Drives the user-fetch worker from SQS the way Lambda's event-source mapping does: batches of up
//! to 10, the handler's `batchItemFailures` left on the queue (visible again after the visibility
//! timeout, and moved to the DLQ by the queue's redrive policy), the rest deleted.
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use tokio::sync::watch;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollStats {
    pub batches: usize,
    pub received: usize,
    pub deleted: usize,
    /// Receipt handles of the messages the handler reported as failed (left on the queue).
    pub failed: Vec<String>,
}

/// Turns SQS messages into the event Lambda would deliver.
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message], queue_arn: &str, region: &str) -> SqsEvent {
    let records: Vec<_> = messages
        .iter()
        .map(|m| {
            let attrs: serde_json::Map<String, serde_json::Value> = m
                .attributes()
                .map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), json!(v))).collect())
                .unwrap_or_default();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "md5OfBody": m.md5_of_body(),
                "attributes": attrs,
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("an SQS event has Lambda's shape")
}

/// The function an SQS event-source mapping invokes.
#[derive(Clone)]
pub enum Target {
    Worker(user_fetch_worker::State),
    Sync(nightly_sync::State),
}

impl Target {
    /// Invokes the handler; `Ok(failed message ids)`, or `Err` when the invocation itself failed.
    async fn invoke(&self, event: SqsEvent) -> Result<Vec<String>, String> {
        match self {
            Self::Worker(state) => shared::adapters::aws_calls::as_function(
                "UserFetchWorkerFunction",
                user_fetch_worker::handle(LambdaEvent::new(event, Context::default()), state),
            )
            .await
            .map(|r| r.batch_item_failures.into_iter().map(|f| f.item_identifier).collect())
            .map_err(|e| e.to_string()),
            Self::Sync(state) => {
                let out = shared::adapters::aws_calls::as_function(
                    "NightlySyncFunction",
                    nightly_sync::handle(
                        LambdaEvent::new(nightly_sync::Trigger::Queue(event), Context::default()),
                        state,
                    ),
                )
                .await
                .map_err(|e| e.to_string())?;
                Ok(out["batchItemFailures"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned)).collect())
                    .unwrap_or_default())
            }
        }
    }
}

/// One receive → handle → delete cycle. Returns what happened.
pub async fn poll_once(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    queue_arn: &str,
    wait: Duration,
    target: &Target,
) -> Result<PollStats, aws_sdk_sqs::Error> {
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait.as_secs() as i32)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await?;
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(PollStats::default());
    }
    let event = sqs_event(&messages, queue_arn, "us-east-1");
    let failed: Vec<String> = match target.invoke(event).await {
        Ok(failed) => failed,
        Err(e) => {
            // A failed invocation returns the whole batch to the queue.
            tracing::error!(error = %e, "worker invocation failed; the whole batch will be retried");
            messages.iter().filter_map(|m| m.message_id().map(str::to_owned)).collect()
        }
    };
    let done: Vec<_> = messages
        .iter()
        .filter(|m| m.message_id().is_some_and(|id| !failed.iter().any(|f| f == id)))
        .enumerate()
        .map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .build()
                .expect("entry")
        })
        .collect();
    let deleted = done.len();
    if !done.is_empty() {
        sqs.delete_message_batch().queue_url(queue_url).set_entries(Some(done)).send().await?;
    }
    let failed_receipts = messages
        .iter()
        .filter(|m| m.message_id().is_some_and(|id| failed.iter().any(|f| f == id)))
        .filter_map(|m| m.receipt_handle().map(str::to_owned))
        .collect();
    Ok(PollStats { batches: 1, received: messages.len(), deleted, failed: failed_receipts })
}

/// Polls until `stop` turns true.
pub async fn run(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    target: Target,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            result = poll_once(&sqs, &queue_url, &queue_arn, Duration::from_secs(2), &target) => {
                if let Err(e) = result {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "SQS poll failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        if *stop.borrow() {
            return;
        }
    }
}
