//! Event hooks: where the org delivers them, and the delivery of its pending events in envelopes
//! (with duplicates and shuffles on demand), as Okta's event hooks POST them.
use super::*;

#[derive(Debug, Clone)]
pub struct HookTarget {
    pub url: String,
    pub header: String,
    pub secret: String,
}

#[derive(Debug, Clone, Copy)]
pub struct DeliverOptions {
    /// Events per delivery envelope.
    pub batch: usize,
    /// Percent chance of sending an envelope twice (same `eventId`).
    pub duplicate_percent: u64,
    /// Percent chance of an event also appearing in a later envelope (same `uuid`).
    pub repeat_event_percent: u64,
    pub shuffle: bool,
    pub seed: u64,
}

impl Default for DeliverOptions {
    fn default() -> Self {
        Self { batch: 10, duplicate_percent: 0, repeat_event_percent: 0, shuffle: false, seed: 1 }
    }
}

impl OktaSim {
    /// Sends every pending event to the hook as Okta would, possibly duplicated and reordered.
    /// Returns the HTTP status of each delivery attempt.
    pub async fn deliver(&self, opts: DeliverOptions) -> Vec<u16> {
        let (targets, events) = self.with(|o| (o.hook_targets(), std::mem::take(&mut o.events)));
        if targets.is_empty() {
            return Vec::new();
        }
        let mut rng = Rng::new(opts.seed);
        let mut batches: Vec<Vec<Value>> = events.chunks(opts.batch.max(1)).map(<[Value]>::to_vec).collect();
        // Events repeated in a later envelope (same uuid, new eventId).
        let mut repeats = Vec::new();
        for e in &events {
            if rng.chance(opts.repeat_event_percent) {
                repeats.push(e.clone());
            }
        }
        if !repeats.is_empty() {
            batches.push(repeats);
        }
        let mut envelopes: Vec<Value> = batches
            .into_iter()
            .map(|mut evs| {
                if opts.shuffle {
                    rng.shuffle(&mut evs);
                }
                json!({"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
                    "source": format!("{}/api/v1/eventHooks/whosim", self.base_url), "eventId": uuid::Uuid::new_v4().to_string(),
                    "eventTime": ts(Utc::now()), "contentType": "application/json", "data": {"events": evs}})
            })
            .collect();
        let originals = envelopes.len();
        for i in 0..originals {
            if rng.chance(opts.duplicate_percent) {
                envelopes.push(envelopes[i].clone());
            }
        }
        if opts.shuffle {
            rng.shuffle(&mut envelopes);
        }
        let mut statuses = Vec::new();
        for hook in &targets {
            statuses.extend(self.send_all(hook, &envelopes).await);
        }
        statuses
    }

    /// Posts each envelope to one hook, retrying once after a 5xx or a timeout, as Okta does.
    async fn send_all(&self, hook: &HookTarget, envelopes: &[Value]) -> Vec<u16> {
        let mut statuses = Vec::new();
        for envelope in envelopes {
            let mut attempt = 0;
            loop {
                let sent = self
                    .http
                    .post(&hook.url)
                    .header("accept", "application/json")
                    .header("content-type", "application/json")
                    .header(hook.header.as_str(), hook.secret.as_str())
                    .body(envelope.to_string())
                    .send()
                    .await;
                let status = sent.map(|r| r.status().as_u16()).unwrap_or(599);
                statuses.push(status);
                // Okta retries once after a 5xx or a timeout, never after a 4xx.
                if status >= 500 && attempt == 0 {
                    attempt += 1;
                    continue;
                }
                break;
            }
        }
        statuses
    }
}
