//! User-fetch worker (docs/behaviour/event-hooks.md): each SQS message is one job; each job reads Okta's truth for one
//! user and converges the stored user to it. A bad message fails alone (partial batch response);
//! a `429` makes the message visible again at Okta's reset time; other failures back off
//! (30 s doubling) until SQS moves the message to the DLQ after `maxReceiveCount` (5).
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use shared::adapters::aws::Adapters;
use shared::adapters::emf::EmfMetrics;
use shared::adapters::settings::SettingsError;
use shared::app::telemetry::Telemetry;
use shared::app::user_fetch::{backoff, FetchError, UserFetchService};
use shared::domain::activity::ActivityEvent;
use shared::domain::job::UserFetchJob;
use shared::domain::metrics::Metric;
use shared::ports::{error_chain, Clock, JobQueue};
use tracing::Instrument;

#[derive(Clone)]
pub struct State {
    pub service: Arc<UserFetchService>,
    pub queue: Arc<dyn JobQueue>,
    pub telemetry: Arc<Telemetry>,
    pub metrics: Arc<EmfMetrics>,
    pub clock: Arc<dyn Clock>,
}

/// `maxReceiveCount` of the user-fetch queue's redrive policy in template.yaml: a message that
/// fails on this receive goes to the DLQ.
pub const MAX_RECEIVE_COUNT: u32 = 5;

impl State {
    /// The worker takes jobs from, and reschedules them on, the user-fetch queue.
    pub fn from_adapters(a: &Adapters) -> Result<Self, SettingsError> {
        Ok(Self {
            service: Arc::new(a.root.user_fetch()),
            queue: a.user_fetch_queue()?,
            telemetry: a.root.telemetry.clone(),
            metrics: a.metrics.clone(),
            clock: a.root.ports.clock.clone(),
        })
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
        Ok(_) => {
            let waited_seconds = waited(record, state.clock.now());
            state.telemetry.record(&job.tenant, ActivityEvent::JobDone { waited_seconds }).await;
            return MessageResult::Done;
        }
        Err(FetchError::RateLimited(wait)) => {
            tracing::warn!(wait_s = wait.as_secs(), "Okta rate limit: job rescheduled for the reset");
            wait
        }
        Err(e @ FetchError::Retryable { .. }) => {
            tracing::warn!(receives, error = %error_chain(&e), "job failed; it will be retried");
            backoff(receives)
        }
        Err(FetchError::Config(failure)) => {
            tracing::error!(
                receives,
                code = failure.code(),
                "the tenant's Okta configuration is wrong; nobody is deactivated and the job is retried"
            );
            backoff(receives)
        }
        Err(e @ FetchError::Permanent { .. }) => {
            tracing::error!(
                receives,
                error = %error_chain(&e),
                "job cannot succeed; it will reach the DLQ for a person to look at"
            );
            backoff(receives)
        }
    };
    if receives >= MAX_RECEIVE_COUNT {
        tracing::error!(receives, "last attempt failed: the message goes to the DLQ");
        state.telemetry.count(&job.tenant, Metric::DlqSends, 1);
    }
    if !receipt.is_empty() {
        if let Err(e) = state.queue.retry_later(receipt, delay).await {
            tracing::warn!(error = %e, "could not reschedule the message; the queue's visibility timeout applies");
        }
    }
    MessageResult::Failed
}

/// How long the message waited in the queue (SQS's `SentTimestamp`, epoch milliseconds).
fn waited(record: &SqsMessage, now: chrono::DateTime<chrono::Utc>) -> u64 {
    let sent: Option<i64> = record.attributes.get("SentTimestamp").and_then(|t| t.parse().ok());
    sent.map_or(0, |ms| (now.timestamp_millis().saturating_sub(ms).max(0) / 1000) as u64)
}

/// Processes a batch's messages concurrently (a batch is at most 10); each fails alone.
pub async fn handle(event: LambdaEvent<SqsEvent>, state: &State) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let mut tasks = tokio::task::JoinSet::new();
    for record in event.payload.records {
        let state = state.clone();
        let span = tracing::info_span!("job", message_id = record.message_id.as_deref().unwrap_or_default());
        // Each job is its own task (a panic fails only it); the function's label for the AWS calls
        // it makes (recorded in tests) goes along.
        let job = async move { (process(&record, &state).await, record.message_id) }.instrument(span);
        match shared::adapters::aws_calls::current_function() {
            Some(f) => tasks.spawn(shared::adapters::aws_calls::as_function(f, job)),
            None => tasks.spawn(job),
        };
    }
    let mut response = SqsBatchResponse::default();
    let _flush = Flush(&state.metrics);
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

/// Writes the batch's metrics when the handler returns, whichever way it returns.
struct Flush<'a>(&'a EmfMetrics);

impl Drop for Flush<'_> {
    fn drop(&mut self) {
        self.0.flush();
    }
}
