//! CloudWatch Embedded Metric Format on stdout: counts are summed per tenant during an invocation
//! and written as one line per tenant when the handler calls [`EmfMetrics::flush`]. In Lambda,
//! CloudWatch Logs turns each line into metrics; locally the lines are plain JSON on stdout.
use crate::locks::Locked;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::domain::metrics::{emf_line, Metric};
use crate::domain::TenantId;
use crate::ports::{Clock, Metrics};

type Sink = Box<dyn Fn(String) + Send + Sync>;

pub struct EmfMetrics {
    pending: Mutex<BTreeMap<TenantId, BTreeMap<Metric, u64>>>,
    clock: Arc<dyn Clock>,
    sink: Sink,
    /// The last lines written, for the dev server and the end-to-end tests to look at.
    recent: Mutex<std::collections::VecDeque<String>>,
}

const RECENT: usize = 500;

impl EmfMetrics {
    pub fn stdout(clock: Arc<dyn Clock>) -> Self {
        Self::with_sink(clock, Box::new(|line| println!("{line}")))
    }

    pub fn with_sink(clock: Arc<dyn Clock>, sink: Sink) -> Self {
        Self { pending: Mutex::new(BTreeMap::new()), clock, sink, recent: Mutex::new(Default::default()) }
    }

    fn write(&self, line: String) {
        {
            let mut recent = self.recent.locked();
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(line.clone());
        }
        (self.sink)(line);
    }

    /// The most recent lines written (at most 500), oldest first.
    pub fn recent(&self) -> Vec<String> {
        self.recent.locked().iter().cloned().collect()
    }

    /// Writes what was counted since the last flush, one line per tenant.
    pub fn flush(&self) {
        let pending = std::mem::take(&mut *self.pending.locked());
        let now = self.clock.now();
        for (tenant, values) in pending {
            self.write(emf_line(tenant.as_str(), &values, &[], now).to_string());
        }
    }
}

impl Metrics for EmfMetrics {
    fn add(&self, tenant: &TenantId, metric: Metric, value: u64) {
        if value > 0 {
            *self.pending.locked().entry(tenant.clone()).or_default().entry(metric).or_default() += value;
        }
    }

    fn publish(&self, tenant: &TenantId, values: &[(Metric, u64)], properties: &[(&str, serde_json::Value)]) {
        let values: BTreeMap<Metric, u64> = values.iter().copied().collect();
        self.write(emf_line(tenant.as_str(), &values, properties, self.clock.now()).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::system::SystemClock;

    #[test]
    fn counts_are_summed_per_tenant_and_flushed_once() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = lines.clone();
        let m = EmfMetrics::with_sink(Arc::new(SystemClock), Box::new(move |l| out.lock().unwrap().push(l)));
        let (a, b) = (TenantId::parse("a").unwrap(), TenantId::parse("b").unwrap());
        m.add(&a, Metric::OktaCalls, 2);
        m.add(&a, Metric::OktaCalls, 3);
        m.add(&b, Metric::UsersCreated, 1);
        m.add(&b, Metric::DlqSends, 0);
        m.flush();
        m.flush();
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 2, "one line per tenant, nothing on an empty flush");
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!((first["Tenant"].as_str(), first["OktaCalls"].as_u64()), (Some("a"), Some(5)));
        let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert!(second.get("DlqSends").is_none(), "zero counts are not published");
    }
}
