//! The nightly EventBridge schedule, locally: `cron(0 3 * * ? *)` read from the template.
use chrono::{DateTime, Duration, NaiveTime, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use tokio::sync::watch;

/// The next time a daily `cron(M H * * ? *)` fires after `now`.
pub fn next_daily(now: DateTime<Utc>, hour: u32, minute: u32) -> DateTime<Utc> {
    let at = NaiveTime::from_hms_opt(hour, minute, 0).expect("valid time");
    let today = now.date_naive().and_time(at).and_utc();
    if today > now {
        today
    } else {
        today + Duration::days(1)
    }
}

/// Parses the `cron(M H * * ? *)` expressions this project uses (daily at a fixed time).
pub fn parse_daily_cron(expr: &str) -> Option<(u32, u32)> {
    let inner = expr.strip_prefix("cron(")?.strip_suffix(')')?;
    let fields: Vec<&str> = inner.split_whitespace().collect();
    if fields.len() != 6 || fields[2..] != ["*", "*", "?", "*"] {
        return None;
    }
    Some((fields[1].parse().ok()?, fields[0].parse().ok()?))
}

/// The scheduled event EventBridge sends.
pub fn scheduled_event(at: DateTime<Utc>) -> serde_json::Value {
    json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/okta-bridge-nightly"], "detail": {}
    })
}

pub async fn run(state: nightly_sync::State, hour: u32, minute: u32, mut stop: watch::Receiver<bool>) {
    loop {
        let now = Utc::now();
        let next = next_daily(now, hour, minute);
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(wait) => {
                let event = serde_json::from_value(scheduled_event(next)).expect("scheduled event parses");
                match shared::adapters::aws_calls::as_function(
                    "NightlySyncFunction",
                    nightly_sync::handle(LambdaEvent::new(event, Context::default()), &state),
                )
                .await
                {
                    Ok(_) => tracing::info!("nightly sync invocation finished"),
                    Err(e) => tracing::error!(error = %e, "nightly sync invocation failed"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_cron() {
        assert_eq!(parse_daily_cron("cron(0 3 * * ? *)"), Some((3, 0)));
        assert_eq!(parse_daily_cron("cron(0 3 * *)"), None);
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(next_daily(t("2026-11-25T02:59:59Z"), 3, 0), t("2026-11-25T03:00:00Z"));
        assert_eq!(next_daily(t("2026-11-25T03:00:00Z"), 3, 0), t("2026-11-26T03:00:00Z"));
    }
}
