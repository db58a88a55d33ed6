//! Activity records: one status item per tenant (`ACTIVITY`) with the latest instants, and hourly
//! counter items (`ACTIVITY#H#yyyymmddhh`, expiring after 30 days) updated with `ADD`, so
//! concurrent receivers never lose a count and nothing is read before it is written.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, SecondsFormat, Utc};

use super::codec::{n, s, unavailable, Item};
use super::{keys, DynamoStore};
use crate::domain::activity::{first_bucket_of_day, hour_bucket, Activity, ActivityEvent};
use crate::domain::TenantId;
use crate::ports::{ActivityStore, StoreError};

use super::keys::{ACTIVITY as STATUS, ACTIVITY_BUCKET_PREFIX as BUCKET_PREFIX};
const BUCKET_TTL: Duration = Duration::days(30);

/// Fixed-width UTC stamps, so the store's string comparison orders them by time.
fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn instant(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    item.get(name).and_then(|v| v.as_s().ok()).and_then(|v| v.parse().ok())
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

impl DynamoStore {
    /// Sets an instant on the status item unless a later one is already there.
    async fn set_latest(
        &self,
        tenant: &TenantId,
        name: &str,
        at: DateTime<Utc>,
        extra: Option<(&str, AttributeValue)>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::tenant(tenant)))
            .key("sk", s(STATUS))
            .condition_expression("attribute_not_exists(#a) OR #a <= :at")
            .expression_attribute_names("#a", name)
            .expression_attribute_values(":at", s(stamp(at)));
        update = match extra {
            Some((field, value)) => update
                .update_expression("SET #a = :at, #x = :x")
                .expression_attribute_names("#x", field)
                .expression_attribute_values(":x", value),
            None => update.update_expression("SET #a = :at"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            // A later instant is already recorded: nothing to do.
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl ActivityStore for DynamoStore {
    async fn record(&self, tenant: &TenantId, at: DateTime<Utc>, event: ActivityEvent) -> Result<(), StoreError> {
        match event {
            ActivityEvent::HookVerified => self.set_latest(tenant, "hook_verified_at", at, None).await,
            ActivityEvent::OktaTokenUsed => self.set_latest(tenant, "okta_token_used_at", at, None).await,
            ActivityEvent::JobDone { waited_seconds } => {
                self.set_latest(tenant, "last_job_at", at, Some(("last_job_waited_seconds", n(waited_seconds)))).await
            }
            ActivityEvent::OktaProblem(problem) => {
                self.set_latest(tenant, "okta_problem_at", at, Some(("okta_problem", s(problem.code())))).await
            }
            ActivityEvent::Delivery { events, jobs } => {
                // The bucket carries its own latest delivery, so one write records both.
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", s(keys::tenant(tenant)))
                    .key("sk", s(format!("{BUCKET_PREFIX}{}", hour_bucket(at))))
                    .update_expression("ADD events :e, jobs :j, deliveries :one SET last_at = :at, expires_at = :exp")
                    .expression_attribute_values(":e", n(events))
                    .expression_attribute_values(":j", n(jobs))
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":at", s(stamp(at)))
                    .expression_attribute_values(":exp", AttributeValue::N((at + BUCKET_TTL).timestamp().to_string()))
                    .send()
                    .await
                    .map_err(unavailable)?;
                Ok(())
            }
        }
    }

    async fn activity(&self, tenant: &TenantId, now: DateTime<Utc>) -> Result<Activity, StoreError> {
        let status = self.get(keys::tenant(tenant), STATUS.to_owned()).await?.unwrap_or_default();
        let mut activity = Activity {
            hook_verified_at: instant(&status, "hook_verified_at"),
            last_job_at: instant(&status, "last_job_at"),
            last_job_waited_seconds: number(&status, "last_job_waited_seconds"),
            okta_token_used_at: instant(&status, "okta_token_used_at"),
            okta_problem: status
                .get("okta_problem")
                .and_then(|v| v.as_s().ok())
                .and_then(|code| serde_json::from_value(serde_json::Value::String(code.clone())).ok()),
            okta_problem_at: instant(&status, "okta_problem_at"),
            ..Activity::default()
        };
        let day = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(keys::tenant(tenant)))
            .expression_attribute_values(":from", s(format!("{BUCKET_PREFIX}{}", first_bucket_of_day(now))))
            .expression_attribute_values(":to", s(format!("{BUCKET_PREFIX}{}", hour_bucket(now))))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        for bucket in day.items() {
            activity.events_24h += number(bucket, "events").unwrap_or(0);
            activity.jobs_24h += number(bucket, "jobs").unwrap_or(0);
        }
        // The latest bucket of all, however old: when did Okta last deliver?
        let latest = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::tenant(tenant)))
            .expression_attribute_values(":prefix", s(BUCKET_PREFIX))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        activity.last_delivery_at = latest.items().first().and_then(|b| instant(b, "last_at"));
        Ok(activity)
    }
}
