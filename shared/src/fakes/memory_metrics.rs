use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::domain::metrics::Metric;
use crate::domain::TenantId;
use crate::ports::Metrics;

/// Metrics summed in memory, for use-case tests to read back.
#[derive(Default)]
pub struct MemoryMetrics {
    totals: Mutex<BTreeMap<(TenantId, Metric), u64>>,
}

impl MemoryMetrics {
    pub fn get(&self, tenant: &TenantId, metric: Metric) -> u64 {
        self.totals.lock().expect("lock").get(&(tenant.clone(), metric)).copied().unwrap_or(0)
    }
}

impl Metrics for MemoryMetrics {
    fn add(&self, tenant: &TenantId, metric: Metric, value: u64) {
        *self.totals.lock().expect("lock").entry((tenant.clone(), metric)).or_default() += value;
    }

    fn publish(&self, tenant: &TenantId, values: &[(Metric, u64)], _properties: &[(&str, serde_json::Value)]) {
        for (m, v) in values {
            self.add(tenant, *m, *v);
        }
    }
}
