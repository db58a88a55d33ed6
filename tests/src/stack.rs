//! Creates the template's tables, queues and secrets in the local emulator, and the environment
//! each function gets, resolved from the template exactly as CloudFormation would resolve it.
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml::Value;
use shared::ports::Random;

use crate::template::{Bindings, Resource, Template, TemplateError};

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{resource}: {message}")]
    Aws { resource: String, message: String },
}

fn aws_err(resource: &str, e: Box<dyn std::error::Error + Send + Sync>) -> StackError {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    StackError::Aws { resource: resource.into(), message }
}

#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Names every resource, like a CloudFormation stack: `okta-bridge-{stage}-{LogicalId}`.
    pub stage: String,
    pub base_domain: String,
    /// The `PublicApiUrl` parameter: where the local server answers.
    pub public_api_url: String,
    /// Values for `GenerateSecretString` secrets, by logical id (else generated, or kept if present).
    pub secret_values: HashMap<String, String>,
    pub template: PathBuf,
}

impl StackOptions {
    pub fn new(stage: impl Into<String>) -> Self {
        Self {
            stage: stage.into(),
            base_domain: "localhost".into(),
            public_api_url: "http://127.0.0.1:3000".into(),
            secret_values: HashMap::new(),
            template: crate::template::default_path(),
        }
    }
}

/// What was created, and the environment of every function.
#[derive(Debug, Clone)]
pub struct LocalStack {
    pub stage: String,
    pub bindings: Bindings,
    /// Every function's variables merged (the dev server runs them in one process).
    pub env: HashMap<String, String>,
    pub function_env: BTreeMap<String, HashMap<String, String>>,
    /// Logical id → the value `!Ref` gives (table name, queue URL, secret name).
    pub created: BTreeMap<String, String>,
    pub secret_values: HashMap<String, String>,
}

impl LocalStack {
    pub async fn provision(sdk: &aws_config::SdkConfig, opts: StackOptions) -> Result<Self, StackError> {
        let template = Template::load(&opts.template)?;
        let mut bindings = Bindings::default();
        bindings.refs.extend(template.parameter_defaults());
        bindings.refs.insert("Stage".into(), opts.stage.clone());
        bindings.refs.insert("BaseDomain".into(), opts.base_domain.clone());
        bindings.refs.insert("PublicApiUrl".into(), opts.public_api_url.clone());
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
        for (k, v) in [
            ("AWS::Region", region.as_str()),
            ("AWS::AccountId", "123456789012"),
            ("AWS::Partition", "aws"),
            ("AWS::URLSuffix", "amazonaws.com"),
        ] {
            bindings.refs.insert(k.into(), v.into());
        }
        bindings.refs.insert("AWS::StackName".into(), format!("okta-bridge-{}", opts.stage));

        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let sm = aws_sdk_secretsmanager::Client::new(sdk);
        let mut pending: Vec<Resource> = template
            .resources()?
            .into_iter()
            .filter(|r| {
                matches!(r.kind.as_str(), "AWS::DynamoDB::Table" | "AWS::SQS::Queue" | "AWS::SecretsManager::Secret")
            })
            .collect();
        let mut created = BTreeMap::new();
        let mut secret_values = HashMap::new();
        // Create in dependency order: a resource waits until everything it references exists.
        while !pending.is_empty() {
            let before = pending.len();
            let mut waiting = Vec::new();
            for r in pending {
                let props = match bindings.resolve(&r.properties) {
                    Ok(p) => p,
                    Err(TemplateError::Unresolved(_)) => {
                        waiting.push(r);
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                let name = format!("okta-bridge-{}-{}", opts.stage, r.logical_id);
                match r.kind.as_str() {
                    "AWS::DynamoDB::Table" => {
                        let arn = create_table(&ddb, &name, &props).await.map_err(|e| aws_err(&r.logical_id, e))?;
                        bindings.refs.insert(r.logical_id.clone(), name.clone());
                        bindings.attrs.insert(format!("{}.Arn", r.logical_id), arn);
                        created.insert(r.logical_id.clone(), name);
                    }
                    "AWS::SQS::Queue" => {
                        let (url, arn) =
                            create_queue(&sqs, &name, &props).await.map_err(|e| aws_err(&r.logical_id, e))?;
                        bindings.refs.insert(r.logical_id.clone(), url.clone());
                        bindings.attrs.insert(format!("{}.Arn", r.logical_id), arn);
                        bindings.attrs.insert(format!("{}.QueueName", r.logical_id), name);
                        created.insert(r.logical_id.clone(), url);
                    }
                    _ => {
                        let secret_name = props.get("Name").and_then(Value::as_str).map(str::to_owned).unwrap_or(name);
                        let value = create_secret(&sm, &secret_name, &props, opts.secret_values.get(&r.logical_id))
                            .await
                            .map_err(|e| aws_err(&r.logical_id, e))?;
                        secret_values.insert(r.logical_id.clone(), value);
                        bindings.refs.insert(r.logical_id.clone(), secret_name.clone());
                        created.insert(r.logical_id.clone(), secret_name);
                    }
                }
            }
            if waiting.len() == before {
                let ids: Vec<_> = waiting.iter().map(|r| r.logical_id.clone()).collect();
                return Err(TemplateError::Shape(format!("cannot resolve the references of {ids:?}")).into());
            }
            pending = waiting;
        }

        let mut env = HashMap::new();
        let mut function_env = BTreeMap::new();
        for f in template.functions()? {
            let mut vars = HashMap::new();
            for (k, v) in template.function_env(&f) {
                vars.insert(k, bindings.resolve_string(&v)?);
            }
            env.extend(vars.clone());
            function_env.insert(f, vars);
        }
        Ok(Self { stage: opts.stage, bindings, env, function_env, created, secret_values })
    }

    pub fn env(&self, key: &str) -> &str {
        self.env.get(key).map(String::as_str).unwrap_or_default()
    }
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn key_schema(v: &Value) -> Vec<KeySchemaElement> {
    v.as_sequence()
        .into_iter()
        .flatten()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(s(k, "AttributeName").unwrap_or_default())
                .key_type(KeyType::from(s(k, "KeyType").unwrap_or("HASH")))
                .build()
                .expect("key schema element")
        })
        .collect()
}

async fn create_table(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
    props: &Value,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let attributes = props["AttributeDefinitions"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(s(a, "AttributeName").unwrap_or_default())
                .attribute_type(ScalarAttributeType::from(s(a, "AttributeType").unwrap_or("S")))
                .build()
                .expect("attribute definition")
        })
        .collect();
    let gsis = props
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .map(|g| {
            GlobalSecondaryIndex::builder()
                .index_name(s(g, "IndexName").unwrap_or_default())
                .set_key_schema(Some(key_schema(&g["KeySchema"])))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            g["Projection"].get("ProjectionType").and_then(Value::as_str).unwrap_or("ALL"),
                        ))
                        .build(),
                )
                .build()
                .expect("gsi")
        })
        .collect::<Vec<_>>();
    let result = ddb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(s(props, "BillingMode").unwrap_or("PAY_PER_REQUEST")))
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(&props["KeySchema"])))
        .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
        .send()
        .await;
    match result {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_in_use_exception()) => {}
        Err(e) => return Err(Box::new(e)),
    }
    if let Some(ttl) = props.get("TimeToLiveSpecification") {
        if ttl.get("Enabled").and_then(Value::as_bool) == Some(true) {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(s(ttl, "AttributeName").unwrap_or("ttl"))
                .enabled(true)
                .build()?;
            // Already enabled (a re-run of `make dev`) is fine.
            let _ = ddb.update_time_to_live().table_name(name).time_to_live_specification(spec).send().await;
        }
    }
    let described = ddb.describe_table().table_name(name).send().await?;
    Ok(described.table().and_then(|t| t.table_arn()).unwrap_or_default().to_owned())
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    props: &Value,
) -> Result<(String, String), Box<dyn std::error::Error + Send + Sync>> {
    let mut req = sqs.create_queue().queue_name(name);
    for (prop, attr) in [
        ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
        ("MessageRetentionPeriod", QueueAttributeName::MessageRetentionPeriod),
        ("DelaySeconds", QueueAttributeName::DelaySeconds),
        ("ReceiveMessageWaitTimeSeconds", QueueAttributeName::ReceiveMessageWaitTimeSeconds),
    ] {
        if let Some(v) = props.get(prop) {
            req = req.attributes(attr, scalar(v));
        }
    }
    if let Some(redrive) = props.get("RedrivePolicy") {
        let json: serde_json::Value = serde_yaml::from_value(redrive.clone())?;
        req = req.attributes(QueueAttributeName::RedrivePolicy, json.to_string());
    }
    let url = req.send().await?.queue_url.unwrap_or_default();
    let attrs = sqs.get_queue_attributes().queue_url(&url).attribute_names(QueueAttributeName::QueueArn).send().await?;
    let arn = attrs.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).cloned().unwrap_or_default();
    Ok((url, arn))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

async fn create_secret(
    sm: &aws_sdk_secretsmanager::Client,
    name: &str,
    props: &Value,
    wanted: Option<&String>,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    if let Ok(existing) = sm.get_secret_value().secret_id(name).send().await {
        let current = existing.secret_string.unwrap_or_default();
        if let Some(w) = wanted.filter(|w| **w != current) {
            sm.put_secret_value().secret_id(name).secret_string(w).send().await?;
            return Ok(w.clone());
        }
        return Ok(current);
    }
    let value = match wanted {
        Some(w) => w.clone(),
        None => {
            let len = props
                .get("GenerateSecretString")
                .and_then(|g| g.get("PasswordLength"))
                .and_then(Value::as_u64)
                .unwrap_or(32) as usize;
            generate(len)
        }
    };
    let mut req = sm.create_secret().name(name).secret_string(&value);
    if let Some(d) = s(props, "Description") {
        req = req.description(d);
    }
    req.send().await?;
    Ok(value)
}

/// Letters and digits, like `GenerateSecretString` with `ExcludePunctuation`.
pub fn generate(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let rng = shared::adapters::system::OsRandom;
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in rng.bytes32() {
            // 248 = 4 * 62: reject the tail to keep the choice uniform.
            if b < 248 && out.len() < len {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    out
}
