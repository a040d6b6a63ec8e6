//! Reads `infra/template.yaml` into the stack the twin runs: the one source of truth for
//! tables, queues, the bucket, functions, routes, schedules and event sources.
//!
//! CloudFormation's short-form tags (`!Ref`, `!GetAtt`, `!Sub`) are turned into their long
//! form and resolved against the parameters (defaults, then overrides as `sam deploy
//! --parameter-overrides` gives them) and the local physical names of the resources.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::TwinError;

pub const REGION: &str = "us-east-1";
/// moto's default account.
pub const ACCOUNT: &str = "123456789012";

/// The template, parsed, with parameters fixed.
pub struct Template {
    pub stack_name: String,
    resources: Map<String, Value>,
    globals_function: Map<String, Value>,
    parameters: BTreeMap<String, String>,
    queue_endpoint: String,
    /// Secrets Manager secrets by name, for `{{resolve:secretsmanager:...}}` references:
    /// development values from `infra/local/secrets.json`.
    local_secrets: Map<String, Value>,
}

/// Where the twin's development secrets live, beside the template.
pub fn local_secrets_path(template: &Path) -> std::path::PathBuf {
    template
        .parent()
        .unwrap_or(Path::new("."))
        .join("local/secrets.json")
}

impl Template {
    /// Loads the template; `overrides` are `Name=Value` pairs; `queue_endpoint` is where queue
    /// URLs point (the emulator).
    pub fn load(
        path: &Path,
        stack_name: &str,
        overrides: &[(String, String)],
        queue_endpoint: &str,
    ) -> Result<Template, TwinError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TwinError::Template(format!("cannot read {}: {e}", path.display())))?;
        let yaml: serde_norway::Value = serde_norway::from_str(&text).map_err(|e| {
            TwinError::Template(format!("{} is not valid YAML: {e}", path.display()))
        })?;
        let doc = long_form(yaml);
        let resources = doc
            .get("Resources")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| TwinError::Template("the template has no Resources".into()))?;
        let globals_function = doc
            .pointer("/Globals/Function")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut parameters = BTreeMap::new();
        if let Some(declared) = doc.get("Parameters").and_then(Value::as_object) {
            for (name, spec) in declared {
                if let Some(default) = spec.get("Default") {
                    parameters.insert(name.clone(), scalar(default));
                }
            }
            for (name, value) in overrides {
                if !declared.contains_key(name) {
                    return Err(TwinError::Template(format!(
                        "parameter {name} is not declared in the template (declared: {})",
                        declared.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                }
                parameters.insert(name.clone(), value.clone());
            }
            if let Some(missing) = declared.keys().find(|name| !parameters.contains_key(*name)) {
                return Err(TwinError::Template(format!(
                    "parameter {missing} has no default; give it with PARAMS=\"{missing}=...\""
                )));
            }
        }
        let local_secrets = match std::fs::read_to_string(local_secrets_path(path)) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| TwinError::Template(format!("infra/local/secrets.json: {e}")))?,
            Err(_) => Map::new(),
        };
        Ok(Template {
            stack_name: stack_name.to_owned(),
            resources,
            globals_function,
            parameters,
            queue_endpoint: queue_endpoint.trim_end_matches('/').to_owned(),
            local_secrets,
        })
    }

    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.get(name).map(String::as_str)
    }

    /// Logical ids of the resources of a type, in template order.
    pub fn resources_of(&self, kind: &str) -> Vec<(&str, &Map<String, Value>)> {
        self.resources
            .iter()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .map(|(id, r)| {
                (
                    id.as_str(),
                    r.get("Properties")
                        .and_then(Value::as_object)
                        .unwrap_or(&EMPTY),
                )
            })
            .collect()
    }

    pub fn resource(&self, logical: &str) -> Option<&Map<String, Value>> {
        self.resources.get(logical).and_then(Value::as_object)
    }

    pub fn resource_type(&self, logical: &str) -> Option<&str> {
        self.resource(logical)?.get("Type")?.as_str()
    }

    pub fn metadata(&self, logical: &str) -> Option<&Map<String, Value>> {
        self.resource(logical)?.get("Metadata")?.as_object()
    }

    /// The properties of a serverless function merged over `Globals.Function`.
    pub fn function_properties(&self, logical: &str) -> Map<String, Value> {
        let mut merged = self.globals_function.clone();
        let own = self
            .resource(logical)
            .and_then(|r| r.get("Properties"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, value) in own {
            match (merged.get_mut(&key), value) {
                // SAM merges maps (Environment.Variables) and lets the function win.
                (Some(Value::Object(base)), Value::Object(overlay)) => merge(base, overlay),
                (_, value) => {
                    merged.insert(key, value);
                }
            }
        }
        merged
    }

    /// The local physical name of a resource, as `Ref` gives it for tables, buckets and
    /// functions, and the queue name for queues.
    pub fn physical_name(&self, logical: &str) -> String {
        let base = format!("{}-{logical}", self.stack_name);
        match self.resource_type(logical) {
            Some("AWS::S3::Bucket") => base.to_lowercase(),
            Some("AWS::SQS::Queue") => {
                let fifo = self
                    .resource(logical)
                    .and_then(|r| r.get("Properties"))
                    .and_then(|p| p.get("FifoQueue"))
                    .is_some_and(|v| v == &Value::Bool(true) || v == "true");
                if fifo { format!("{base}.fifo") } else { base }
            }
            _ => base,
        }
    }

    pub fn queue_url(&self, logical: &str) -> String {
        format!(
            "{}/{ACCOUNT}/{}",
            self.queue_endpoint,
            self.physical_name(logical)
        )
    }

    fn reference(&self, name: &str) -> Result<String, TwinError> {
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        if let Some(value) = pseudo_parameter(name, &self.stack_name) {
            return Ok(value);
        }
        match self.resource_type(name) {
            Some("AWS::SQS::Queue") => Ok(self.queue_url(name)),
            Some("AWS::Serverless::HttpApi") => Ok("local".into()),
            Some(_) => Ok(self.physical_name(name)),
            None => Err(TwinError::Template(format!(
                "!Ref {name}: no such parameter or resource"
            ))),
        }
    }

    fn attribute(&self, logical: &str, attribute: &str) -> Result<String, TwinError> {
        let name = self.physical_name(logical);
        let kind = self.resource_type(logical).unwrap_or_default();
        Ok(match (kind, attribute) {
            ("AWS::DynamoDB::Table", "Arn") => {
                format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")
            }
            ("AWS::SQS::Queue", "Arn") => format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"),
            ("AWS::SQS::Queue", "QueueName") => name,
            ("AWS::SQS::Queue", "QueueUrl") => self.queue_url(logical),
            ("AWS::S3::Bucket", "Arn") => format!("arn:aws:s3:::{name}"),
            ("AWS::Serverless::Function", "Arn") => {
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
            }
            ("AWS::Logs::LogGroup", "Arn") => {
                format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}")
            }
            ("AWS::KMS::Key", "Arn") => format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{name}"),
            _ => {
                return Err(TwinError::Template(format!(
                    "!GetAtt {logical}.{attribute} is not emulated"
                )));
            }
        })
    }

    /// Resolves every intrinsic function in `value` to plain JSON.
    pub fn resolve(&self, value: &Value) -> Result<Value, TwinError> {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().expect("one entry");
                match key.as_str() {
                    "Ref" => Ok(Value::String(self.reference(&scalar(arg))?)),
                    "Fn::GetAtt" => {
                        let (logical, attribute) = match arg {
                            Value::String(s) => s
                                .split_once('.')
                                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                                .ok_or_else(|| TwinError::Template(format!("!GetAtt {s}")))?,
                            Value::Array(parts) if parts.len() == 2 => {
                                (scalar(&parts[0]), scalar(&parts[1]))
                            }
                            other => return Err(TwinError::Template(format!("!GetAtt {other}"))),
                        };
                        Ok(Value::String(self.attribute(&logical, &attribute)?))
                    }
                    "Fn::Sub" => {
                        let (text, vars) = match arg {
                            Value::String(s) => (s.clone(), Map::new()),
                            Value::Array(parts) if parts.len() == 2 => (
                                scalar(&parts[0]),
                                parts[1].as_object().cloned().unwrap_or_default(),
                            ),
                            other => return Err(TwinError::Template(format!("!Sub {other}"))),
                        };
                        Ok(Value::String(self.substitute(&text, &vars)?))
                    }
                    "Fn::Join" => {
                        let parts = arg.as_array().filter(|p| p.len() == 2);
                        let Some(parts) = parts else {
                            return Err(TwinError::Template(format!("!Join {arg}")));
                        };
                        let items = self.resolve(&parts[1])?;
                        let joined = items
                            .as_array()
                            .map(|items| items.iter().map(scalar).collect::<Vec<_>>())
                            .unwrap_or_default()
                            .join(&scalar(&parts[0]));
                        Ok(Value::String(joined))
                    }
                    _ => Ok(Value::Object(
                        [(key.clone(), self.resolve(arg)?)].into_iter().collect(),
                    )),
                }
            }
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| Ok((k.clone(), self.resolve(v)?)))
                .collect::<Result<Map<_, _>, _>>()
                .map(Value::Object),
            Value::Array(items) => items
                .iter()
                .map(|v| self.resolve(v))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    fn substitute(&self, text: &str, vars: &Map<String, Value>) -> Result<String, TwinError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| TwinError::Template(format!("unclosed ${{ in !Sub {text}")))?;
            let name = &after[..end];
            let value = if let Some(var) = vars.get(name) {
                scalar(&self.resolve(var)?)
            } else if let Some((logical, attribute)) = name.split_once('.') {
                self.attribute(logical, attribute)?
            } else {
                self.reference(name)?
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Resolved environment variables of a function, as Lambda would set them.
    pub fn function_environment(
        &self,
        logical: &str,
    ) -> Result<HashMap<String, String>, TwinError> {
        let properties = self.function_properties(logical);
        let variables = properties
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .cloned()
            .unwrap_or(json!({}));
        let resolved = self.resolve(&variables)?;
        resolved
            .as_object()
            .map(|vars| {
                vars.iter()
                    .map(|(k, v)| Ok((k.clone(), self.dynamic_reference(&scalar(v))?)))
                    .collect()
            })
            .unwrap_or_else(|| Ok(HashMap::new()))
    }

    /// Resolves a CloudFormation dynamic reference to Secrets Manager
    /// (`{{resolve:secretsmanager:NAME:SecretString}}`) from the twin's development secrets;
    /// other text is returned as it is.
    fn dynamic_reference(&self, text: &str) -> Result<String, TwinError> {
        let Some(reference) = text
            .trim()
            .strip_prefix("{{resolve:secretsmanager:")
            .and_then(|r| r.strip_suffix("}}"))
        else {
            return Ok(text.to_owned());
        };
        let name = reference.split(":SecretString").next().unwrap_or(reference);
        match self.local_secrets.get(name) {
            Some(Value::String(secret)) => Ok(secret.clone()),
            Some(other) => Ok(other.to_string()),
            None => Err(TwinError::Template(format!(
                "the template reads secret {name:?}; give it a development value in infra/local/secrets.json"
            ))),
        }
    }
}

impl Template {
    /// The type of every resource, for the twin's report of what it does not emulate.
    pub fn resources_of_any(&self) -> Vec<String> {
        self.resources
            .values()
            .filter_map(|r| r.get("Type").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

fn merge(base: &mut Map<String, Value>, overlay: Map<String, Value>) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(b)), Value::Object(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn pseudo_parameter(name: &str, stack: &str) -> Option<String> {
    Some(match name {
        "AWS::Region" => REGION.into(),
        "AWS::AccountId" => ACCOUNT.into(),
        "AWS::StackName" => stack.into(),
        "AWS::Partition" => "aws".into(),
        "AWS::URLSuffix" => "amazonaws.com".into(),
        "AWS::NoValue" => String::new(),
        _ => return None,
    })
}

/// A scalar's text, as CloudFormation passes parameters and environment variables.
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// YAML with CloudFormation short-form tags -> JSON with the long form.
fn long_form(yaml: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(long_form).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match long_form(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, long_form(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = if name == "Ref" {
                "Ref".to_owned()
            } else {
                format!("Fn::{name}")
            };
            let value = long_form(tagged.value);
            let value = match (name, value) {
                ("GetAtt", Value::String(s)) => match s.split_once('.') {
                    Some((a, b)) => json!([a, b]),
                    None => Value::String(s),
                },
                (_, v) => v,
            };
            json!({ key: value })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str, overrides: &[(&str, &str)]) -> Result<Template, TwinError> {
        let dir = std::env::temp_dir().join(format!("twin-template-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("template.yaml");
        std::fs::write(&path, text).unwrap();
        let overrides: Vec<_> = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Template::load(&path, "stack", &overrides, "http://127.0.0.1:5000")
    }

    const TEXT: &str = r#"
Parameters:
  Minutes: { Type: Number, Default: 60 }
Globals:
  Function:
    Timeout: 10
    Environment: { Variables: { SHARED: one } }
Resources:
  Cases: { Type: AWS::DynamoDB::Table, Properties: {} }
  Due: { Type: AWS::SQS::Queue, Properties: { FifoQueue: true } }
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 30
      Environment:
        Variables:
          TABLE: !Ref Cases
          QUEUE: !Ref Due
          QUEUE_ARN: !GetAtt Due.Arn
          MINUTES: !Ref Minutes
          WHERE: !Sub "${AWS::Region}/${Cases}/${Cases.Arn}"
"#;

    #[test]
    fn resolves_refs_attributes_subs_and_globals() {
        let t = template(TEXT, &[]).unwrap();
        let env = t.function_environment("Fn").unwrap();
        assert_eq!(env["TABLE"], "stack-Cases");
        assert_eq!(
            env["QUEUE"],
            "http://127.0.0.1:5000/123456789012/stack-Due.fifo"
        );
        assert_eq!(
            env["QUEUE_ARN"],
            "arn:aws:sqs:us-east-1:123456789012:stack-Due.fifo"
        );
        assert_eq!(env["MINUTES"], "60");
        assert_eq!(env["SHARED"], "one");
        assert_eq!(
            env["WHERE"],
            "us-east-1/stack-Cases/arn:aws:dynamodb:us-east-1:123456789012:table/stack-Cases"
        );
        assert_eq!(t.function_properties("Fn")["Timeout"], 30);
    }

    #[test]
    fn resolves_secrets_manager_references_from_the_development_secrets() {
        let text = r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          SECRETS: "{{resolve:secretsmanager:app/webhooks:SecretString}}"
          MISSING: "{{resolve:secretsmanager:app/other:SecretString}}"
"#;
        let dir = std::env::temp_dir().join(format!("twin-secrets-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(dir.join("local")).unwrap();
        std::fs::write(dir.join("template.yaml"), text).unwrap();
        std::fs::write(
            dir.join("local/secrets.json"),
            r#"{"app/webhooks": {"shopify": {"*": "s"}}}"#,
        )
        .unwrap();
        let t = Template::load(
            &dir.join("template.yaml"),
            "stack",
            &[],
            "http://127.0.0.1:5000",
        )
        .unwrap();
        let err = t.function_environment("Fn").unwrap_err();
        assert!(err.to_string().contains("app/other"), "{err}");
        std::fs::write(
            dir.join("local/secrets.json"),
            r#"{"app/webhooks": {"shopify": {"*": "s"}}, "app/other": "plain"}"#,
        )
        .unwrap();
        let t = Template::load(
            &dir.join("template.yaml"),
            "stack",
            &[],
            "http://127.0.0.1:5000",
        )
        .unwrap();
        let env = t.function_environment("Fn").unwrap();
        assert_eq!(env["SECRETS"], r#"{"shopify":{"*":"s"}}"#);
        assert_eq!(env["MISSING"], "plain");
    }

    #[test]
    fn overrides_parameters_like_sam_deploy() {
        let t = template(TEXT, &[("Minutes", "1")]).unwrap();
        assert_eq!(t.function_environment("Fn").unwrap()["MINUTES"], "1");
        assert!(matches!(
            template(TEXT, &[("Nope", "1")]),
            Err(TwinError::Template(_))
        ));
    }
}
