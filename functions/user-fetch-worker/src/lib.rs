//! User-fetch worker (SPEC §5): SQS batches of jobs from the event-hook receiver.
//!
//! This release does not process jobs yet: it reports every message of a batch as failed, so SQS
//! keeps them (and, after `maxReceiveCount`, moves them to the DLQ for redrive). Nothing is lost
//! and nothing is acknowledged without being done.
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::adapters::aws::Adapters;

#[derive(Clone, Default)]
pub struct State;

impl State {
    pub fn from_adapters(_: &Adapters) -> Self {
        Self
    }
}

pub async fn handle(event: LambdaEvent<SqsEvent>, _state: &State) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let mut response = SqsBatchResponse::default();
    let mut count = 0usize;
    for record in event.payload.records {
        if let Some(id) = record.message_id {
            response.add_failure(id);
            count += 1;
        }
    }
    tracing::error!(count, "user-fetch jobs left on the queue: processing is not available in this release");
    Ok(response)
}
