//! The real adapters, through the AWS SDK against the emulator, pass the same contract suites as
//! the in-memory fakes (uniqueness, versions, paging, change log, secrets, queue).
use shared::adapters::secrets_manager::SecretsManagerStore;
use shared::adapters::sqs::SqsQueue;
use shared::fakes::contract;

use crate::helpers::{sdk, TestApp};

#[tokio::test]
async fn dynamodb_store_enforces_uniqueness_versions_and_change_order() {
    let app = TestApp::spawn().await;
    let store = app.functions.adapters.store.as_ref();
    // Same email in another case: refused atomically in one tenant, allowed in another; a
    // stale-version write is refused; concurrent creates with one email: one wins.
    contract::store_contract(store, store, store, store).await;
}

#[tokio::test]
async fn dynamodb_batch_reads_count_shards_and_list_positions() {
    let app = TestApp::spawn().await;
    let store = app.functions.adapters.store.as_ref();
    contract::batch_reads_and_positions_contract(store, store, store).await;
}

#[tokio::test]
async fn dynamodb_teams_pending_references_and_dedupe_records() {
    let app = TestApp::spawn().await;
    let store = app.functions.adapters.store.as_ref();
    contract::team_pending_dedupe_contract(store, store, store).await;
}

#[tokio::test]
async fn dynamodb_sync_runs_leases_and_seen_pages() {
    let app = TestApp::spawn().await;
    contract::sync_store_contract(app.functions.adapters.store.as_ref()).await;
}

#[tokio::test]
async fn dynamodb_token_records_are_conditional_and_never_undone() {
    let app = TestApp::spawn().await;
    contract::token_store_contract(app.functions.adapters.store.as_ref()).await;
}

#[tokio::test]
async fn dynamodb_login_states_are_single_use_and_expire() {
    let app = TestApp::spawn().await;
    contract::login_state_contract(app.functions.adapters.store.as_ref()).await;
}

#[tokio::test]
async fn dynamodb_activity_counts_by_the_hour_and_keeps_the_latest_instants() {
    let app = TestApp::spawn().await;
    contract::activity_store_contract(app.functions.adapters.store.as_ref()).await;
}

#[tokio::test]
async fn dynamodb_groups_keep_one_record_per_member_and_external_ids_unique() {
    let app = TestApp::spawn().await;
    let store = app.functions.adapters.store.as_ref();
    contract::group_contract(store, store, store).await;
}

#[tokio::test]
async fn secrets_manager_store_reads_writes_and_creates() {
    let store = SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(sdk().await));
    let name = format!("okta-bridge/{}/contract", crate::helpers::unique_stage());
    contract::secret_store_contract(&store, &name).await;
}

#[tokio::test]
async fn sqs_queue_sends_in_batches_and_loses_nothing() {
    let app = TestApp::spawn().await;
    let sqs = aws_sdk_sqs::Client::new(sdk().await);
    let url = app.stack.env("USER_FETCH_QUEUE_URL").to_owned();
    let queue = SqsQueue::new(sqs.clone(), url.clone());
    let mut sent = contract::queue_contract(&queue).await;
    let mut received = Vec::new();
    for _ in 0..10 {
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        let msgs = out.messages.unwrap_or_default();
        if msgs.is_empty() && received.len() == sent.len() {
            break;
        }
        for m in msgs {
            received.push(m.body.unwrap_or_default());
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(m.receipt_handle.unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
    sent.sort();
    received.sort();
    assert_eq!(received, sent, "every job arrives exactly once");
}
