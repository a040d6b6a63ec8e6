//! The parts of the template the twin runs, extracted once: tables, queues, the bucket, the
//! functions with their environment, and each trigger (routes, schedules, queues, S3).

use std::collections::HashMap;

use serde_json::Value;

use crate::TwinError;
use crate::template::{Template, scalar};

pub struct Stack {
    pub template: Template,
    pub tables: Vec<TableSpec>,
    pub queues: Vec<QueueSpec>,
    pub buckets: Vec<BucketSpec>,
    /// SES sender identities (`AWS::SES::EmailIdentity`): created, and so verified, in the
    /// emulator, which refuses to send from any other address.
    pub email_identities: Vec<String>,
    pub functions: Vec<FunctionSpec>,
    pub routes: Vec<Route>,
    pub authorizer: Option<JwtAuthorizer>,
    pub queue_sources: Vec<QueueSource>,
    pub schedules: Vec<Schedule>,
    pub s3_sources: Vec<S3Source>,
    /// Resource types present in the template that the twin does not emulate (alarms, keys...).
    pub not_emulated: Vec<String>,
}

pub struct TableSpec {
    pub logical: String,
    pub name: String,
    /// `AWS::DynamoDB::Table` properties, resolved.
    pub properties: Value,
}

pub struct QueueSpec {
    pub logical: String,
    pub name: String,
    pub url: String,
    /// SQS queue attributes as `CreateQueue` takes them.
    pub attributes: Vec<(String, String)>,
    pub dead_letter_queue: Option<String>,
}

pub struct BucketSpec {
    pub logical: String,
    pub name: String,
}

#[derive(Clone)]
pub struct FunctionSpec {
    pub logical: String,
    pub name: String,
    /// The cargo binary (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    pub environment: HashMap<String, String>,
    pub timeout_secs: u64,
    pub memory_mb: u64,
    pub log_level: String,
}

#[derive(Clone, Debug)]
pub struct Route {
    /// `GET`, `POST`, ... or `ANY`.
    pub method: String,
    /// `None` for the `$default` route.
    pub path: Option<String>,
    pub function: String,
    pub authorized: bool,
}

impl Route {
    /// The route key API Gateway puts in the event.
    pub fn key(&self) -> String {
        match &self.path {
            Some(path) => format!("{} {path}", self.method),
            None => "$default".into(),
        }
    }
}

#[derive(Clone)]
pub struct JwtAuthorizer {
    pub issuer: String,
    pub audience: Vec<String>,
}

pub struct QueueSource {
    pub function: String,
    pub queue: String,
    pub batch_size: i32,
    pub report_batch_item_failures: bool,
}

pub struct Schedule {
    pub function: String,
    pub name: String,
    pub expression: String,
    pub enabled: bool,
}

pub struct S3Source {
    pub function: String,
    pub bucket: String,
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

fn text(value: Option<&Value>) -> Option<String> {
    value.map(scalar)
}

fn number(value: Option<&Value>, default: u64) -> u64 {
    value
        .map(scalar)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The logical id a `!GetAtt X.Arn` or `!Ref X` (long form) points at.
fn target(value: Option<&Value>) -> Option<String> {
    let value = value?;
    if let Some(r) = value.get("Ref") {
        return Some(scalar(r));
    }
    match value.get("Fn::GetAtt")? {
        Value::Array(parts) => parts.first().map(scalar),
        Value::String(s) => s.split('.').next().map(str::to_owned),
        _ => None,
    }
}

impl Stack {
    pub fn from_template(template: Template) -> Result<Stack, TwinError> {
        let mut stack = Stack {
            tables: Vec::new(),
            queues: Vec::new(),
            buckets: Vec::new(),
            email_identities: Vec::new(),
            functions: Vec::new(),
            routes: Vec::new(),
            authorizer: None,
            queue_sources: Vec::new(),
            schedules: Vec::new(),
            s3_sources: Vec::new(),
            not_emulated: Vec::new(),
            template,
        };
        let t = &stack.template;

        for (logical, properties) in t.resources_of("AWS::DynamoDB::Table") {
            stack.tables.push(TableSpec {
                logical: logical.into(),
                name: t.physical_name(logical),
                properties: t.resolve(&Value::Object(properties.clone()))?,
            });
        }

        for (logical, properties) in t.resources_of("AWS::SQS::Queue") {
            let resolved = t.resolve(&Value::Object(properties.clone()))?;
            let mut attributes = Vec::new();
            for key in [
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds",
                "FifoQueue",
                "ContentBasedDeduplication",
                "MaximumMessageSize",
            ] {
                if let Some(value) = resolved.get(key) {
                    attributes.push((key.to_owned(), scalar(value)));
                }
            }
            let mut dead_letter_queue = None;
            if let Some(redrive) = resolved.get("RedrivePolicy") {
                let mut policy = redrive.clone();
                // maxReceiveCount arrives as a parameter string; SQS wants a number.
                if let Some(count) = policy.get("maxReceiveCount").map(scalar) {
                    policy["maxReceiveCount"] = Value::from(count.parse::<u64>().unwrap_or(5));
                }
                dead_letter_queue = target(
                    properties
                        .get("RedrivePolicy")
                        .and_then(|r| r.get("deadLetterTargetArn")),
                );
                attributes.push(("RedrivePolicy".into(), policy.to_string()));
            }
            stack.queues.push(QueueSpec {
                logical: logical.into(),
                name: t.physical_name(logical),
                url: t.queue_url(logical),
                attributes,
                dead_letter_queue,
            });
        }
        // Dead-letter queues first: a redrive policy names an existing queue.
        stack.queues.sort_by_key(|q| q.dead_letter_queue.is_some());

        for (logical, _) in t.resources_of("AWS::S3::Bucket") {
            stack.buckets.push(BucketSpec {
                logical: logical.into(),
                name: t.physical_name(logical),
            });
        }

        for (logical, properties) in t.resources_of("AWS::SES::EmailIdentity") {
            let resolved = t.resolve(&Value::Object(properties.clone()))?;
            let identity = text(resolved.get("EmailIdentity")).ok_or_else(|| {
                TwinError::Template(format!("{logical}: EmailIdentity is missing"))
            })?;
            stack.email_identities.push(identity);
        }

        for (logical, properties) in t.resources_of("AWS::Serverless::HttpApi") {
            let auth = properties.get("Auth");
            let default = auth.and_then(|a| a.get("DefaultAuthorizer")).map(scalar);
            if let (Some(default), Some(auth)) = (default, auth) {
                let config = auth
                    .get("Authorizers")
                    .and_then(|a| a.get(&default))
                    .and_then(|a| a.get("JwtConfiguration"))
                    .ok_or_else(|| {
                        TwinError::Template(format!(
                            "{logical}: authorizer {default} has no JwtConfiguration"
                        ))
                    })?;
                let config = t.resolve(config)?;
                stack.authorizer = Some(JwtAuthorizer {
                    issuer: text(config.get("issuer")).unwrap_or_default(),
                    audience: config
                        .get("audience")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().map(scalar).collect())
                        .unwrap_or_default(),
                });
            }
        }

        for (logical, _) in t.resources_of("AWS::Serverless::Function") {
            let properties = t.function_properties(logical);
            let binary = t
                .metadata(logical)
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .map(scalar)
                .ok_or_else(|| {
                    TwinError::Template(format!(
                        "{logical}: Metadata.BuildProperties.Binary names no binary"
                    ))
                })?;
            let log_level = properties
                .get("LoggingConfig")
                .and_then(|l| l.get("ApplicationLogLevel"))
                .map(scalar)
                .unwrap_or_else(|| "INFO".into());
            stack.functions.push(FunctionSpec {
                logical: logical.into(),
                name: t.physical_name(logical),
                binary,
                environment: t.function_environment(logical)?,
                timeout_secs: number(properties.get("Timeout"), 3),
                memory_mb: number(properties.get("MemorySize"), 128),
                log_level,
            });
            let events = properties
                .get("Events")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (event_name, event) in events {
                let kind = event.get("Type").map(scalar).unwrap_or_default();
                let props = t.resolve(event.get("Properties").unwrap_or(&Value::Null))?;
                let raw_props = event.get("Properties").cloned().unwrap_or(Value::Null);
                match kind.as_str() {
                    "HttpApi" => {
                        let authorizer = props.pointer("/Auth/Authorizer").map(scalar);
                        stack.routes.push(Route {
                            method: text(props.get("Method"))
                                .map(|m| m.to_uppercase())
                                .unwrap_or_else(|| "ANY".into()),
                            path: text(props.get("Path")),
                            function: logical.into(),
                            authorized: authorizer.as_deref() != Some("NONE"),
                        });
                    }
                    "SQS" => {
                        let queue = target(raw_props.get("Queue")).ok_or_else(|| {
                            TwinError::Template(format!(
                                "{logical}.{event_name}: Queue must be !GetAtt <Queue>.Arn"
                            ))
                        })?;
                        let responses =
                            props.get("FunctionResponseTypes").and_then(Value::as_array);
                        stack.queue_sources.push(QueueSource {
                            function: logical.into(),
                            queue,
                            batch_size: number(props.get("BatchSize"), 10) as i32,
                            report_batch_item_failures: responses
                                .is_some_and(|r| r.iter().any(|v| v == "ReportBatchItemFailures")),
                        });
                    }
                    "Schedule" | "ScheduleV2" => {
                        let expression =
                            text(props.get("Schedule").or(props.get("ScheduleExpression")))
                                .ok_or_else(|| {
                                    TwinError::Template(format!(
                                        "{logical}.{event_name}: no schedule expression"
                                    ))
                                })?;
                        stack.schedules.push(Schedule {
                            function: logical.into(),
                            name: format!("{logical}{event_name}"),
                            expression,
                            enabled: props.get("Enabled").map(scalar).as_deref() != Some("false")
                                && props.get("State").map(scalar).as_deref() != Some("DISABLED"),
                        });
                    }
                    "S3" => {
                        let bucket = target(raw_props.get("Bucket")).ok_or_else(|| {
                            TwinError::Template(format!(
                                "{logical}.{event_name}: Bucket must be !Ref <Bucket>"
                            ))
                        })?;
                        let events = match props.get("Events") {
                            Some(Value::Array(list)) => list.iter().map(scalar).collect(),
                            Some(one) => vec![scalar(one)],
                            None => vec![],
                        };
                        let rule = |name: &str| {
                            props
                                .pointer("/Filter/S3Key/Rules")
                                .and_then(Value::as_array)
                                .and_then(|rules| {
                                    rules.iter().find(|r| {
                                        r.get("Name")
                                            .map(scalar)
                                            .is_some_and(|n| n.eq_ignore_ascii_case(name))
                                    })
                                })
                                .and_then(|r| r.get("Value"))
                                .map(scalar)
                        };
                        stack.s3_sources.push(S3Source {
                            function: logical.into(),
                            bucket,
                            events,
                            prefix: rule("prefix"),
                            suffix: rule("suffix"),
                        });
                    }
                    other => {
                        return Err(TwinError::Template(format!(
                            "{logical}.{event_name}: event type {other} is not emulated by the twin"
                        )));
                    }
                }
            }
        }

        let emulated = [
            "AWS::DynamoDB::Table",
            "AWS::SQS::Queue",
            "AWS::S3::Bucket",
            "AWS::SES::EmailIdentity",
            "AWS::Serverless::Function",
            "AWS::Serverless::HttpApi",
        ];
        let mut others: Vec<String> = stack
            .template
            .resources_of_any()
            .into_iter()
            .filter(|kind| !emulated.contains(&kind.as_str()))
            .collect();
        others.sort();
        others.dedup();
        stack.not_emulated = others;
        Ok(stack)
    }

    pub fn function(&self, logical: &str) -> Option<&FunctionSpec> {
        self.functions.iter().find(|f| f.logical == logical)
    }

    pub fn queue(&self, logical: &str) -> Option<&QueueSpec> {
        self.queues.iter().find(|q| q.logical == logical)
    }

    pub fn bucket(&self, logical: &str) -> Option<&BucketSpec> {
        self.buckets.iter().find(|b| b.logical == logical)
    }
}
