//! User-fetch worker (SPEC §5): each SQS message is one job; each job reads Okta's truth for one
//! user and converges the stored user to it. A bad message fails alone (partial batch response);
//! a `429` makes the message visible again at Okta's reset time; other failures back off
//! (30 s doubling) until SQS moves the message to the DLQ after `maxReceiveCount` (5).
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use shared::adapters::aws::Adapters;
use shared::app::user_fetch::{backoff, FetchError, UserFetchService};
use shared::domain::job::UserFetchJob;
use shared::ports::JobQueue;
use tracing::Instrument;

#[derive(Clone)]
pub struct State {
    pub service: Arc<UserFetchService>,
    pub queue: Arc<dyn JobQueue>,
}

impl State {
    pub fn from_adapters(a: &Adapters) -> Self {
        Self { service: Arc::new(a.user_fetch_service()), queue: a.queue() }
    }
}

/// What happened to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageResult {
    Done,
    Failed,
}

async fn process(record: &SqsMessage, state: &State) -> MessageResult {
    let receipt = record.receipt_handle.as_deref().unwrap_or_default();
    let receives: u32 = record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
    let job = match record.body.as_deref().map(UserFetchJob::from_body) {
        Some(Ok(job)) => job,
        _ => {
            tracing::error!(receives, "unreadable user-fetch message; it will go to the DLQ");
            return MessageResult::Failed;
        }
    };
    let delay = match state.service.process(&job).await {
        Ok(_) => return MessageResult::Done,
        Err(FetchError::RateLimited(wait)) => {
            tracing::warn!(wait_s = wait.as_secs(), "Okta rate limit: job rescheduled for the reset");
            wait
        }
        Err(FetchError::Retryable(why)) => {
            tracing::warn!(receives, error = %why, "job failed; it will be retried");
            backoff(receives)
        }
        Err(FetchError::Permanent(why)) => {
            tracing::error!(receives, error = %why, "job cannot succeed; it will reach the DLQ for a person to look at");
            backoff(receives)
        }
    };
    if !receipt.is_empty() {
        if let Err(e) = state.queue.retry_later(receipt, delay).await {
            tracing::warn!(error = %e, "could not reschedule the message; the queue's visibility timeout applies");
        }
    }
    MessageResult::Failed
}

/// Processes a batch's messages concurrently (a batch is at most 10); each fails alone.
pub async fn handle(event: LambdaEvent<SqsEvent>, state: &State) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let mut tasks = tokio::task::JoinSet::new();
    for record in event.payload.records {
        let state = state.clone();
        let span = tracing::info_span!("job", message_id = record.message_id.as_deref().unwrap_or_default());
        tasks.spawn(async move { (process(&record, &state).await, record.message_id) }.instrument(span));
    }
    let mut response = SqsBatchResponse::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((MessageResult::Done, _)) => {}
            Ok((MessageResult::Failed, Some(id))) => response.add_failure(id),
            Ok((MessageResult::Failed, None)) => {}
            // A panicking job must not take its batch-mates down; report the whole batch as failed.
            Err(e) => return Err(Box::new(e)),
        }
    }
    Ok(response)
}
