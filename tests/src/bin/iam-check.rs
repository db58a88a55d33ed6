//! Least privilege, checked (issue: IAM that the emulator cannot enforce). Reads the AWS calls the
//! end-to-end run recorded per function (`OKTA_BRIDGE_AWS_CALLS_FILE`, written by the SDK
//! interceptor in `shared::adapters::aws_calls`) and each function's `Policies` in
//! `template.yaml`, and fails when a function made a call its role does not grant (action and
//! resource pattern), or when a grant was never used.
//!
//! `cargo run -p okta-bridge-tests --bin iam-check -- .local/aws-calls.jsonl [template.yaml]`
use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use harness::template::{Bindings, Template};
use serde_yaml::Value;

/// One grant of a function's role: an action and a resource pattern (`table:Table`,
/// `table:Table/index/*`, `queue:SyncQueue`, `secret:okta-bridge/{stage}/tenants/*/okta-api-token*`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Grant {
    action: String,
    resource: String,
}

/// Symbolic values for the intrinsics, so grants come out as logical patterns.
fn bindings(template: &Template) -> Bindings {
    let mut b = Bindings::default();
    for (k, v) in [
        ("Stage", "{stage}"),
        ("AWS::Partition", "aws"),
        ("AWS::Region", "region"),
        ("AWS::AccountId", "account"),
        ("AWS::URLSuffix", "amazonaws.com"),
    ] {
        b.refs.insert(k.into(), v.into());
    }
    for r in template.resources().unwrap_or_default() {
        match r.kind.as_str() {
            "AWS::DynamoDB::Table" => {
                b.attrs.insert(format!("{}.Arn", r.logical_id), format!("table:{}", r.logical_id));
            }
            "AWS::SQS::Queue" => {
                b.attrs.insert(format!("{}.Arn", r.logical_id), format!("queue:{}", r.logical_id));
            }
            "AWS::SecretsManager::Secret" => {
                let name =
                    r.properties.get("Name").map(|n| b.resolve_string(n).unwrap_or_default()).unwrap_or_default();
                b.refs.insert(r.logical_id.clone(), format!("secret:{name}"));
            }
            _ => {}
        }
    }
    b
}

fn normalise_grant_resource(raw: &str) -> String {
    match raw.split_once(":secret:") {
        Some((_, name)) => format!("secret:{name}"),
        None => raw.to_owned(),
    }
}

fn grants(template: &Template, function: &str) -> Vec<Grant> {
    let b = bindings(template);
    let mut out = Vec::new();
    let policies =
        template.root["Resources"][function]["Properties"]["Policies"].as_sequence().cloned().unwrap_or_default();
    for policy in policies {
        for statement in policy["Statement"].as_sequence().cloned().unwrap_or_default() {
            let as_list = |v: &Value| match v {
                Value::Sequence(s) => s.clone(),
                other => vec![other.clone()],
            };
            let actions: Vec<String> =
                as_list(&statement["Action"]).iter().filter_map(|a| a.as_str().map(str::to_owned)).collect();
            let resources: Vec<String> = as_list(&statement["Resource"])
                .iter()
                .map(|r| normalise_grant_resource(&b.resolve_string(r).unwrap_or_default()))
                .collect();
            for a in &actions {
                for r in &resources {
                    out.push(Grant { action: a.clone(), resource: r.clone() });
                }
            }
        }
    }
    out
}

/// A recorded physical name as a logical one: `okta-bridge-<stage>-Table` → `table:Table`, a
/// queue URL → `queue:<LogicalId>`, `okta-bridge/<stage>/x` → `secret:okta-bridge/{stage}/x`.
fn normalise_call(action: &str, resource: &str) -> String {
    let logical = |name: &str| name.rsplit('-').next().unwrap_or(name).to_owned();
    if action.starts_with("dynamodb:") {
        return match resource.split_once("/index/") {
            Some((table, index)) => format!("table:{}/index/{index}", logical(table)),
            None => format!("table:{}", logical(resource)),
        };
    }
    if action.starts_with("sqs:") {
        return format!("queue:{}", logical(resource.rsplit('/').next().unwrap_or(resource)));
    }
    if action.starts_with("secretsmanager:") {
        let mut parts = resource.splitn(3, '/');
        let (root, _stage, rest) = (parts.next().unwrap_or(""), parts.next(), parts.next().unwrap_or(""));
        return format!("secret:{root}/{{stage}}/{rest}");
    }
    resource.to_owned()
}

/// `*` matches any run of characters (IAM's wildcard).
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else { return false };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Grants for code paths the end-to-end run does not reach, each with the path it serves. Kept
/// short on purpose: every other grant must be used by the run.
const RARE_PATHS: [(&str, &str, &str, &str); 8] = [
    (
        "UserFetchWorkerFunction",
        "dynamodb:BatchGetItem",
        "table:Table",
        "a hook-provisioned user resolving a SCIM group member that waits for them (a tenant that changed provisioning)",
    ),
    ("NightlySyncFunction", "dynamodb:BatchGetItem", "table:Table", "the same, when the sync creates that user"),
    ("SignInFunction", "dynamodb:BatchGetItem", "table:Table", "the same, when sign-in links that user"),
    (
        "ScimHandlerFunction",
        "dynamodb:BatchWriteItem",
        "table:Table",
        "deleting members added to a group while the group is being deleted",
    ),
    // A claim taken in a tenant an earlier build wrote to is also checked where that build kept
    // claims (tests/tests/e2e/change_log.rs plays it on the adapter; the functions' tenants here
    // are all new).
    ("UserFetchWorkerFunction", "dynamodb:ConditionCheckItem", "table:Table", "a claim in a tenant of an earlier build"),
    ("NightlySyncFunction", "dynamodb:ConditionCheckItem", "table:Table", "the same, when the sync creates a user"),
    ("ScimHandlerFunction", "dynamodb:ConditionCheckItem", "table:Table", "the same, for a SCIM create or rename"),
    ("SignInFunction", "dynamodb:ConditionCheckItem", "table:Table", "the same, for a user created at sign-in"),
];

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let calls_file = args.next().unwrap_or_else(|| ".local/aws-calls.jsonl".into());
    let template_path = args.next().map(std::path::PathBuf::from).unwrap_or_else(harness::template::default_path);
    let template = match Template::load(&template_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("iam-check: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = std::fs::read_to_string(&calls_file).unwrap_or_default();
    // function → (action, logical resource) → calls
    let mut calls: BTreeMap<String, BTreeMap<(String, String), u64>> = BTreeMap::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let (Some(function), Some(action), Some(resource)) =
            (v["function"].as_str(), v["action"].as_str(), v["resource"].as_str())
        else {
            continue;
        };
        *calls
            .entry(function.to_owned())
            .or_default()
            .entry((action.to_owned(), normalise_call(action, resource)))
            .or_default() += 1;
    }
    if calls.is_empty() {
        eprintln!("iam-check: no labelled AWS calls in {calls_file}: the end-to-end run recorded nothing");
        return ExitCode::FAILURE;
    }
    let functions = template.functions().unwrap_or_default();
    let mut problems = Vec::new();
    let mut used: BTreeSet<(String, Grant)> = BTreeSet::new();
    for (function, made) in &calls {
        if !functions.contains(function) {
            problems.push(format!("{function}: not a function of the template"));
            continue;
        }
        let granted = grants(&template, function);
        for ((action, resource), n) in made {
            let matching: Vec<&Grant> =
                granted.iter().filter(|g| glob(&g.action, action) && glob(&g.resource, resource)).collect();
            if matching.is_empty() {
                problems.push(format!("{function}: {action} on {resource} ({n} calls) is not granted"));
            }
            for g in matching {
                used.insert((function.clone(), g.clone()));
            }
        }
    }
    let mut grant_count = 0;
    for function in &functions {
        for g in grants(&template, function) {
            grant_count += 1;
            let rare = RARE_PATHS.iter().any(|(f, a, r, _)| f == function && *a == g.action && *r == g.resource);
            if !rare && !used.contains(&(function.clone(), g.clone())) {
                problems.push(format!("{function}: {} on {} is granted but never used", g.action, g.resource));
            }
        }
    }
    let total: u64 = calls.values().flat_map(|m| m.values()).sum();
    println!(
        "iam-check: {total} AWS calls by {} functions against {grant_count} grants in {}",
        calls.len(),
        template_path.display()
    );
    for (function, made) in &calls {
        let ops: BTreeSet<&str> = made.keys().map(|(a, _)| a.as_str()).collect();
        println!("  {function}: {}", ops.into_iter().collect::<Vec<_>>().join(", "));
    }
    if problems.is_empty() {
        println!("iam-check: every call granted, every grant used");
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            eprintln!("iam-check: {p}");
        }
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_names() {
        assert!(glob(
            "secret:okta-bridge/{stage}/tenants/*/okta-api-token*",
            "secret:okta-bridge/{stage}/tenants/acme/okta-api-token"
        ));
        assert!(!glob(
            "secret:okta-bridge/{stage}/tenants/*/okta-api-token*",
            "secret:okta-bridge/{stage}/tenants/acme/event-hook-secret"
        ));
        assert!(glob("table:Table/index/*", "table:Table/index/gsi1"));
        assert!(!glob("table:Table", "table:Table/index/gsi1"));
        assert_eq!(normalise_call("dynamodb:Query", "okta-bridge-t-123-Table/index/gsi1"), "table:Table/index/gsi1");
        assert_eq!(
            normalise_call("sqs:SendMessage", "http://127.0.0.1:4566/123/okta-bridge-x-SyncQueue"),
            "queue:SyncQueue"
        );
        assert_eq!(
            normalise_call("secretsmanager:GetSecretValue", "okta-bridge/t-9/tenants/acme/okta-api-token"),
            "secret:okta-bridge/{stage}/tenants/acme/okta-api-token"
        );
    }
}
