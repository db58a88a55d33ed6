//! The metrics okta-bridge publishes (docs/behaviour/observability.md), by name and unit, and their Embedded Metric
//! Format line. Pure: building the line is here, writing it out is an adapter's job.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// CloudWatch namespace of every okta-bridge metric (the alarms in template.yaml use it).
pub const NAMESPACE: &str = "okta-bridge";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    EventsReceived,
    EventsEnqueued,
    EventsDeduplicated,
    JobsQueued,
    UsersCreated,
    UsersUpdated,
    UsersDeactivated,
    UsersReactivated,
    OktaCalls,
    OktaRateLimited,
    DlqSends,
    SyncDuration,
    SyncFailed,
    SyncOktaCalls,
    SyncErrors,
    InvitationsSent,
}

impl Metric {
    pub const ALL: [Metric; 16] = [
        Metric::EventsReceived,
        Metric::EventsEnqueued,
        Metric::EventsDeduplicated,
        Metric::JobsQueued,
        Metric::UsersCreated,
        Metric::UsersUpdated,
        Metric::UsersDeactivated,
        Metric::UsersReactivated,
        Metric::OktaCalls,
        Metric::OktaRateLimited,
        Metric::DlqSends,
        Metric::SyncDuration,
        Metric::SyncFailed,
        Metric::SyncOktaCalls,
        Metric::SyncErrors,
        Metric::InvitationsSent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::EventsReceived => "EventsReceived",
            Self::EventsEnqueued => "EventsEnqueued",
            Self::EventsDeduplicated => "EventsDeduplicated",
            Self::JobsQueued => "JobsQueued",
            Self::UsersCreated => "UsersCreated",
            Self::UsersUpdated => "UsersUpdated",
            Self::UsersDeactivated => "UsersDeactivated",
            Self::UsersReactivated => "UsersReactivated",
            Self::OktaCalls => "OktaCalls",
            Self::OktaRateLimited => "OktaRateLimited",
            Self::DlqSends => "DlqSends",
            Self::SyncDuration => "SyncDuration",
            Self::SyncFailed => "SyncFailed",
            Self::SyncOktaCalls => "SyncOktaCalls",
            Self::SyncErrors => "SyncErrors",
            Self::InvitationsSent => "InvitationsSent",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Self::SyncDuration => "Milliseconds",
            _ => "Count",
        }
    }
}

/// One EMF line: the tenant's metrics, published per tenant and summed over the deployment (the
/// empty dimension set), with `properties` as searchable log fields.
pub fn emf_line(
    tenant: &str,
    values: &BTreeMap<Metric, u64>,
    properties: &[(&str, Value)],
    at: DateTime<Utc>,
) -> Value {
    let definitions: Vec<Value> = values.keys().map(|m| json!({"Name": m.name(), "Unit": m.unit()})).collect();
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({"Timestamp": at.timestamp_millis(), "CloudWatchMetrics": [{
            "Namespace": NAMESPACE, "Dimensions": [["Tenant"], []], "Metrics": definitions}]}),
    );
    line.insert("Tenant".into(), json!(tenant));
    for (k, v) in properties {
        line.insert((*k).into(), v.clone());
    }
    for (m, v) in values {
        line.insert(m.name().into(), json!(v));
    }
    Value::Object(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_declares_every_value_it_carries() {
        let values = BTreeMap::from([(Metric::UsersCreated, 3), (Metric::SyncDuration, 1200)]);
        let at: DateTime<Utc> = "2026-11-25T03:00:00Z".parse().unwrap();
        let line = emf_line("acme", &values, &[("RunId", json!("run_1"))], at);
        let defs = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(defs["Namespace"], "okta-bridge");
        assert_eq!(defs["Dimensions"], json!([["Tenant"], []]));
        assert_eq!(defs["Metrics"].as_array().unwrap().len(), 2);
        assert_eq!((line["UsersCreated"].as_u64(), line["SyncDuration"].as_u64()), (Some(3), Some(1200)));
        assert_eq!((line["Tenant"].as_str(), line["RunId"].as_str()), (Some("acme"), Some("run_1")));
        assert_eq!(line["_aws"]["Timestamp"], at.timestamp_millis());
        assert!(Metric::ALL.iter().all(|m| !m.name().is_empty()));
    }
}
