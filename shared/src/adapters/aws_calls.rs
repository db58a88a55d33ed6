//! Which AWS operations each function makes, as IAM sees them, for the least-privilege check
//! (`tests/src/bin/iam-check.rs` in `make test`): an SDK interceptor on every client writes one
//! JSON line per IAM request (`function`, `action`, `resource`) to `OKTA_BRIDGE_AWS_CALLS_FILE`.
//! Installed only when that variable is set (the test run), never in Lambda.
//!
//! IAM authorises a transaction per item (`PutItem`, `UpdateItem`, ...), a batch by its own action
//! on each table, and SQS batch calls by their single-message action: the lines say so.
use std::io::Write;
use std::sync::Mutex;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use serde_json::Value;

tokio::task_local! {
    static FUNCTION: &'static str;
}

/// Runs `f` as the named function (its template logical id): AWS calls it makes are labelled so.
pub async fn as_function<F: std::future::Future>(name: &'static str, f: F) -> F::Output {
    FUNCTION.scope(name, f).await
}

/// The function the current task runs as, if any.
pub fn current_function() -> Option<&'static str> {
    FUNCTION.try_with(|f| *f).ok()
}

/// The file calls are recorded to, when the test run asks for it.
pub fn recording_file() -> Option<String> {
    std::env::var("OKTA_BRIDGE_AWS_CALLS_FILE").ok().filter(|f| !f.is_empty())
}

#[derive(Debug)]
pub struct RecordCalls {
    file: String,
}

static WRITE: Mutex<()> = Mutex::new(());

impl RecordCalls {
    pub fn new(file: String) -> Self {
        Self { file }
    }
}

impl Intercept for RecordCalls {
    fn name(&self) -> &'static str {
        "RecordCalls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let body: Value = request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
        let function = current_function();
        let lines: Vec<String> = iam_requests(target, &body)
            .into_iter()
            .map(|(action, resource)| {
                serde_json::json!({"function": function, "action": action, "resource": resource}).to_string()
            })
            .collect();
        if lines.is_empty() {
            return Ok(());
        }
        let _guard = WRITE.lock();
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&self.file) {
            for line in lines {
                let _ = writeln!(f, "{line}");
            }
        }
        Ok(())
    }
}

/// The IAM requests one API call makes: `(service:Action, resource name)`.
pub fn iam_requests(target: &str, body: &Value) -> Vec<(String, String)> {
    let Some((service, op)) = target.split_once('.') else { return Vec::new() };
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    if service.starts_with("DynamoDB_") {
        let action = |a: &str| format!("dynamodb:{a}");
        return match op {
            "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| {
                    let (kind, inner) = item.as_object()?.iter().next()?;
                    let a = match kind.as_str() {
                        "Put" => "PutItem",
                        "Update" => "UpdateItem",
                        "Delete" => "DeleteItem",
                        "ConditionCheck" => "ConditionCheckItem",
                        "Get" => "GetItem",
                        _ => return None,
                    };
                    Some((action(a), s(&inner["TableName"])))
                })
                .collect(),
            "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(table, _)| (action(op), table.clone()))
                .collect(),
            _ => {
                let mut resource = s(&body["TableName"]);
                if let Some(index) = body["IndexName"].as_str() {
                    resource = format!("{resource}/index/{index}");
                }
                vec![(action(op), resource)]
            }
        };
    }
    if service == "AmazonSQS" {
        let op = op.trim_end_matches("Batch");
        return vec![(format!("sqs:{op}"), s(&body["QueueUrl"]))];
    }
    if service == "secretsmanager" {
        let id = body.get("SecretId").or_else(|| body.get("Name")).map(s).unwrap_or_default();
        return vec![(format!("secretsmanager:{op}"), id)];
    }
    vec![(format!("{service}:{op}"), String::new())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_and_batches_as_iam_sees_them() {
        let tx = serde_json::json!({"TransactItems": [
            {"Put": {"TableName": "t"}}, {"Update": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}]});
        assert_eq!(
            iam_requests("DynamoDB_20120810.TransactWriteItems", &tx),
            [("dynamodb:PutItem", "t"), ("dynamodb:UpdateItem", "t"), ("dynamodb:ConditionCheckItem", "t")]
                .map(|(a, r)| (a.to_owned(), r.to_owned()))
        );
        let q = serde_json::json!({"TableName": "t", "IndexName": "gsi1"});
        assert_eq!(iam_requests("DynamoDB_20120810.Query", &q), [("dynamodb:Query".into(), "t/index/gsi1".into())]);
        let b = serde_json::json!({"QueueUrl": "http://q/1/x", "Entries": []});
        assert_eq!(iam_requests("AmazonSQS.SendMessageBatch", &b), [("sqs:SendMessage".into(), "http://q/1/x".into())]);
        let g = serde_json::json!({"SecretId": "okta-bridge/dev/admin-token"});
        assert_eq!(
            iam_requests("secretsmanager.GetSecretValue", &g),
            [("secretsmanager:GetSecretValue".into(), "okta-bridge/dev/admin-token".into())]
        );
    }
}
