//! Reads `template.yaml`: resources, parameters, function environments and HTTP API routes, with
//! the CloudFormation intrinsics the template uses (`!Ref`, `!GetAtt`, `!Sub`) resolved locally.
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_yaml::Value;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("template: {0}")]
    Shape(String),
    #[error("unresolved reference {0}")]
    Unresolved(String),
}

/// The repository's `template.yaml`.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("template.yaml")
}

#[derive(Debug, Clone)]
pub struct Template {
    pub root: Value,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub logical_id: String,
    pub kind: String,
    pub properties: Value,
}

/// One HTTP API route of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub function: String,
    pub method: String,
    pub path: String,
}

/// What `!Ref`/`!GetAtt` resolve to; filled as resources are created.
#[derive(Debug, Default, Clone)]
pub struct Bindings {
    pub refs: HashMap<String, String>,
    pub attrs: HashMap<String, String>,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|e| TemplateError::Read(path.to_owned(), e))?;
        Ok(Self { root: serde_yaml::from_str(&text)? })
    }

    pub fn resources(&self) -> Result<Vec<Resource>, TemplateError> {
        let map = self
            .root
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| TemplateError::Shape("no Resources".into()))?;
        map.iter()
            .map(|(k, v)| {
                Ok(Resource {
                    logical_id: k.as_str().ok_or_else(|| TemplateError::Shape("resource id".into()))?.to_owned(),
                    kind: v
                        .get("Type")
                        .and_then(Value::as_str)
                        .ok_or_else(|| TemplateError::Shape(format!("{k:?} has no Type")))?
                        .to_owned(),
                    properties: v.get("Properties").cloned().unwrap_or(Value::Null),
                })
            })
            .collect()
    }

    /// Parameter defaults.
    pub fn parameter_defaults(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(params) = self.root.get("Parameters").and_then(Value::as_mapping) {
            for (k, v) in params {
                if let (Some(k), Some(d)) = (k.as_str(), v.get("Default")) {
                    out.insert(k.to_owned(), d.as_str().map(str::to_owned).unwrap_or_else(|| yaml_scalar(d)));
                }
            }
        }
        out
    }

    /// The environment of one function: `Globals` merged with its own variables, unresolved.
    pub fn function_env(&self, function: &str) -> BTreeMap<String, Value> {
        let mut env = BTreeMap::new();
        let vars = |v: Option<&Value>| -> Vec<(String, Value)> {
            v.and_then(|e| e.get("Environment"))
                .and_then(|e| e.get("Variables"))
                .and_then(Value::as_mapping)
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone()))).collect())
                .unwrap_or_default()
        };
        env.extend(vars(self.root.get("Globals").and_then(|g| g.get("Function"))));
        let props = self.root.get("Resources").and_then(|r| r.get(function)).and_then(|f| f.get("Properties"));
        env.extend(vars(props));
        env
    }

    pub fn functions(&self) -> Result<Vec<String>, TemplateError> {
        Ok(self
            .resources()?
            .into_iter()
            .filter(|r| r.kind == "AWS::Serverless::Function")
            .map(|r| r.logical_id)
            .collect())
    }

    /// Every `HttpApi` event of every function.
    pub fn routes(&self) -> Result<Vec<Route>, TemplateError> {
        let mut out = Vec::new();
        for r in self.resources()? {
            if r.kind != "AWS::Serverless::Function" {
                continue;
            }
            let Some(events) = r.properties.get("Events").and_then(Value::as_mapping) else { continue };
            for (_, event) in events {
                if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                    continue;
                }
                let p = event
                    .get("Properties")
                    .ok_or_else(|| TemplateError::Shape("HttpApi event without Properties".into()))?;
                out.push(Route {
                    function: r.logical_id.clone(),
                    method: p.get("Method").and_then(Value::as_str).unwrap_or("ANY").to_uppercase(),
                    path: p
                        .get("Path")
                        .and_then(Value::as_str)
                        .ok_or_else(|| TemplateError::Shape("HttpApi event without Path".into()))?
                        .to_owned(),
                });
            }
        }
        Ok(out)
    }
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

impl Bindings {
    /// Resolves intrinsics in a value, recursively.
    pub fn resolve(&self, v: &Value) -> Result<Value, TemplateError> {
        Ok(match v {
            Value::Tagged(t) => {
                let tag = t.tag.to_string();
                self.intrinsic(tag.trim_start_matches('!'), &t.value)?
            }
            Value::Mapping(m) if m.len() == 1 => {
                let (k, inner) = m.iter().next().expect("one entry");
                match k.as_str() {
                    Some("Ref") => self.intrinsic("Ref", inner)?,
                    Some("Fn::GetAtt") => self.intrinsic("GetAtt", inner)?,
                    Some("Fn::Sub") => self.intrinsic("Sub", inner)?,
                    _ => Value::Mapping(self.resolve_map(m)?),
                }
            }
            Value::Mapping(m) => Value::Mapping(self.resolve_map(m)?),
            Value::Sequence(s) => Value::Sequence(s.iter().map(|x| self.resolve(x)).collect::<Result<_, _>>()?),
            other => other.clone(),
        })
    }

    fn resolve_map(&self, m: &serde_yaml::Mapping) -> Result<serde_yaml::Mapping, TemplateError> {
        m.iter().map(|(k, v)| Ok((k.clone(), self.resolve(v)?))).collect()
    }

    pub fn resolve_string(&self, v: &Value) -> Result<String, TemplateError> {
        Ok(yaml_scalar(&self.resolve(v)?))
    }

    fn intrinsic(&self, name: &str, arg: &Value) -> Result<Value, TemplateError> {
        match name {
            "Ref" => {
                let id = arg.as_str().ok_or_else(|| TemplateError::Shape("!Ref takes a name".into()))?;
                self.refs.get(id).map(|s| Value::String(s.clone())).ok_or_else(|| TemplateError::Unresolved(id.into()))
            }
            "GetAtt" => {
                let key = match arg {
                    Value::String(s) => s.clone(),
                    Value::Sequence(parts) => parts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("."),
                    _ => return Err(TemplateError::Shape("!GetAtt takes Resource.Attribute".into())),
                };
                self.attrs.get(&key).map(|s| Value::String(s.clone())).ok_or(TemplateError::Unresolved(key))
            }
            "Sub" => {
                let text = arg.as_str().ok_or_else(|| TemplateError::Shape("!Sub takes a string".into()))?;
                let mut out = String::new();
                let mut rest = text;
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let end = rest[start..]
                        .find('}')
                        .ok_or_else(|| TemplateError::Shape(format!("unclosed ${{ in {text}")))?
                        + start;
                    let var = &rest[start + 2..end];
                    let value = if var.contains('.') { self.attrs.get(var) } else { self.refs.get(var) };
                    out.push_str(value.ok_or_else(|| TemplateError::Unresolved(var.into()))?);
                    rest = &rest[end + 1..];
                }
                out.push_str(rest);
                Ok(Value::String(out))
            }
            other => Err(TemplateError::Shape(format!("unsupported intrinsic {other}"))),
        }
    }
}

impl Template {
    /// The `Schedule` expression of a function's scheduled event, if any.
    pub fn schedule_of(&self, function: &str) -> Option<String> {
        let events = self.root.get("Resources")?.get(function)?.get("Properties")?.get("Events")?.as_mapping()?;
        events.values().find_map(|e| {
            (e.get("Type")?.as_str()? == "Schedule")
                .then(|| e.get("Properties")?.get("Schedule")?.as_str().map(str::to_owned))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_template() {
        let t = Template::load(&default_path()).unwrap();
        let functions = t.functions().unwrap();
        assert_eq!(functions.len(), 6, "{functions:?}");
        assert!(t.routes().unwrap().iter().any(|r| r.path == "/webhooks/okta" && r.method == "POST"));
        assert_eq!(t.parameter_defaults()["Stage"], "prod");
        assert!(t.function_env("WebhookReceiverFunction").contains_key("USER_FETCH_QUEUE_URL"));
        assert!(t.function_env("WebhookReceiverFunction").contains_key("TABLE_NAME"));
    }

    #[test]
    fn resolves_intrinsics() {
        let mut b = Bindings::default();
        b.refs.insert("Stage".into(), "dev".into());
        b.attrs.insert("Q.Arn".into(), "arn:q".into());
        let v: Value = serde_yaml::from_str(
            "a: !Sub okta-bridge/${Stage}/x\nb: !GetAtt Q.Arn\nc: { Ref: Stage }\nd: !Sub \"${Q.Arn}/i\"",
        )
        .unwrap();
        let r = b.resolve(&v).unwrap();
        assert_eq!(r["a"], Value::String("okta-bridge/dev/x".into()));
        assert_eq!(r["b"], Value::String("arn:q".into()));
        assert_eq!(r["c"], Value::String("dev".into()));
        assert_eq!(r["d"], Value::String("arn:q/i".into()));
        assert!(b.resolve(&serde_yaml::from_str::<Value>("!Ref Missing").unwrap()).is_err());
    }
}
