use crate::domain::metrics::Metric;
use crate::domain::TenantId;

/// Counts metrics per tenant; the adapter publishes them (CloudWatch EMF lines) when the Lambda
/// handler flushes at the end of an invocation, so a busy invocation writes one line per tenant.
pub trait Metrics: Send + Sync {
    fn add(&self, tenant: &TenantId, metric: Metric, value: u64);
    /// Publishes one line now, with log properties (a finished sync run, for instance).
    fn publish(&self, tenant: &TenantId, values: &[(Metric, u64)], properties: &[(&str, serde_json::Value)]);
}
