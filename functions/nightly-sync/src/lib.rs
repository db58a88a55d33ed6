//! Nightly reconciliation (docs/behaviour/sync.md). Three triggers: the 03:00 UTC EventBridge schedule (a run per
//! tenant with event-hook provisioning), and the sync queue, which carries "start" messages from
//! the admin's "Sync users" and the continuation messages a run sends itself after each
//! checkpoint, so no Lambda time limit bounds a run.
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use shared::adapters::aws::Adapters;
use shared::adapters::settings::SettingsError;
use shared::app::sync::{SyncMessage, SyncOptions, SyncService};

#[derive(Clone)]
pub struct State {
    pub sync: Arc<SyncService>,
    pub metrics: Arc<shared::adapters::emf::EmfMetrics>,
    pub clock: Arc<dyn shared::ports::Clock>,
}

impl State {
    /// A run continues itself through the sync queue.
    pub fn from_adapters(a: &Adapters) -> Result<Self, SettingsError> {
        Ok(Self {
            sync: Arc::new(a.root.sync(a.sync_queue()?, SyncOptions::default())),
            metrics: a.metrics.clone(),
            clock: a.root.ports.clock.clone(),
        })
    }
}

/// What can start or continue a run.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Trigger {
    Queue(SqsEvent),
    Schedule(Box<EventBridgeEvent<serde_json::Value>>),
}

#[derive(Debug, thiserror::Error)]
pub enum NightlyError {
    #[error("the nightly fan-out failed")]
    FanOut(#[source] shared::app::sync::SyncError),
}

/// The invocation's deadline, from Lambda's context (none outside Lambda).
fn deadline(ctx: &lambda_runtime::Context, now: chrono::DateTime<chrono::Utc>) -> Option<Instant> {
    let now_ms = u64::try_from(now.timestamp_millis()).ok()?;
    (ctx.deadline > now_ms).then(|| Instant::now() + Duration::from_millis(ctx.deadline - now_ms))
}

pub async fn handle(event: LambdaEvent<Trigger>, state: &State) -> Result<serde_json::Value, lambda_runtime::Error> {
    let deadline = deadline(&event.context, state.clock.now());
    let result = run(event.payload, deadline, state).await;
    state.metrics.flush();
    result
}

async fn run(
    payload: Trigger,
    deadline: Option<Instant>,
    state: &State,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    match payload {
        Trigger::Schedule(e) => {
            tracing::info!(detail_type = %e.detail_type, "nightly sync: starting a run per tenant");
            let started = state.sync.start_nightly().await.map_err(|e| {
                let e = NightlyError::FanOut(e);
                tracing::error!(error = %shared::ports::error_chain(&e), "nightly fan-out failed");
                Box::new(e)
            })?;
            Ok(serde_json::json!({ "started": started.len() }))
        }
        Trigger::Queue(batch) => {
            let mut response = SqsBatchResponse::default();
            for record in batch.records {
                let id = record.message_id.clone().unwrap_or_default();
                let message = record.body.as_deref().map(serde_json::from_str::<SyncMessage>);
                let result = match message {
                    Some(Ok(msg)) => {
                        state.sync.resume(&msg, deadline).await.map(|step| tracing::info!(?step, "sync step"))
                    }
                    _ => {
                        tracing::error!("unreadable sync message; it will go to the sync DLQ");
                        response.add_failure(id);
                        continue;
                    }
                };
                if let Err(e) = result {
                    tracing::warn!(
                        error = %shared::ports::error_chain(&e),
                        "sync step failed; the message will be retried from the last checkpoint"
                    );
                    response.add_failure(id);
                }
            }
            Ok(serde_json::to_value(response)?)
        }
    }
}
