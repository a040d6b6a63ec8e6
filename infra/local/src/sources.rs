//! Event sources, as Lambda runs them: SQS event source mappings (batches, partial batch
//! failures, redrive by the queue's own policy), EventBridge schedules, and S3 notifications.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use axum::body::Bytes;
use serde_json::{Value, json};

use crate::TwinError;
use crate::lambda::{FunctionPool, Outcome};
use crate::stack::{QueueSource, S3Source, Schedule, Stack};
use crate::template::{ACCOUNT, REGION};

/// How long an empty poll waits before the next.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// Which messages of a delivered batch to delete, as Lambda decides from the function's
/// answer: all on success; all but the reported failures with `ReportBatchItemFailures`;
/// none when the function failed or its answer names a message not in the batch.
pub fn messages_to_delete(
    batch_ids: &[String],
    outcome: &Result<Outcome, String>,
    report_failures: bool,
) -> Vec<String> {
    let Ok(Outcome::Response(body)) = outcome else {
        return Vec::new();
    };
    if !report_failures {
        return batch_ids.to_vec();
    }
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let failures = match parsed.get("batchItemFailures") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut ids = Vec::new();
            for item in items {
                match item.get("itemIdentifier").and_then(Value::as_str) {
                    Some(id) if !id.is_empty() && batch_ids.iter().any(|b| b == id) => {
                        ids.push(id.to_owned())
                    }
                    _ => return Vec::new(),
                }
            }
            ids
        }
        Some(_) => return Vec::new(),
    };
    batch_ids
        .iter()
        .filter(|id| !failures.contains(id))
        .cloned()
        .collect()
}

/// The SQS event Lambda builds for a batch of received messages.
pub fn sqs_event(queue_arn: &str, messages: &[aws_sdk_sqs::types::Message]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: HashMap<String, String> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let message_attributes: HashMap<String, Value> = m
                .message_attributes()
                .map(|attrs| {
                    attrs
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                json!({"stringValue": v.string_value(), "dataType": v.data_type(),
                                "stringListValues": [], "binaryListValues": []}),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// Polls one queue for one function until the task is aborted.
pub async fn run_queue_source(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    source: QueueSourceConfig,
    pool: Arc<FunctionPool>,
) {
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(source.batch_size.clamp(1, 10))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await;
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(err) => {
                tracing::warn!(queue = %queue_url, error = ?err, "receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        let event = sqs_event(&queue_arn, &messages);
        let outcome = pool
            .invoke(Bytes::from(
                serde_json::to_vec(&event).expect("events serialise"),
            ))
            .await
            .map_err(|e| e.to_string());
        if let Ok(Outcome::FunctionError(error)) = &outcome {
            tracing::warn!(function = %source.function, %error, "batch failed; messages return after the visibility timeout");
        }
        let ids: Vec<String> = messages
            .iter()
            .filter_map(|m| m.message_id().map(str::to_owned))
            .collect();
        let delete = messages_to_delete(&ids, &outcome, source.report_batch_item_failures);
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| {
                m.message_id()
                    .is_some_and(|id| delete.iter().any(|d| d == id))
            })
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        if !entries.is_empty()
            && let Err(err) = sqs
                .delete_message_batch()
                .queue_url(&queue_url)
                .set_entries(Some(entries))
                .send()
                .await
        {
            tracing::warn!(queue = %queue_url, error = ?err, "delete failed; messages will be redelivered");
        }
    }
}

#[derive(Clone)]
pub struct QueueSourceConfig {
    pub function: String,
    pub batch_size: i32,
    pub report_batch_item_failures: bool,
}

impl From<&QueueSource> for QueueSourceConfig {
    fn from(source: &QueueSource) -> Self {
        QueueSourceConfig {
            function: source.function.clone(),
            batch_size: source.batch_size,
            report_batch_item_failures: source.report_batch_item_failures,
        }
    }
}

/// The interval of a `rate(...)` expression; `cron(...)` is not run on a timer locally.
pub fn rate_interval(expression: &str) -> Option<Duration> {
    let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (count, unit) = inner.trim().split_once(' ')?;
    let count: u64 = count.parse().ok().filter(|c| *c > 0)?;
    let seconds = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(count * seconds))
}

/// The "Scheduled Event" EventBridge sends for a schedule firing at `at`.
pub fn scheduled_event(schedule_name: &str, at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "version": "0",
        "id": ulid::Ulid::new().to_string().to_lowercase(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{schedule_name}")],
        "detail": {}
    })
}

/// Fires a schedule on its rate until aborted.
pub async fn run_schedule(schedule_name: String, interval: Duration, pool: Arc<FunctionPool>) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let event = scheduled_event(&schedule_name, chrono::Utc::now());
        match pool.invoke(Bytes::from(event.to_string())).await {
            Ok(Outcome::Response(body)) => {
                tracing::info!(schedule = %schedule_name, result = %String::from_utf8_lossy(&body), "schedule fired")
            }
            Ok(Outcome::FunctionError(error)) => {
                tracing::warn!(schedule = %schedule_name, %error, "scheduled run failed")
            }
            Err(err) => {
                tracing::warn!(schedule = %schedule_name, error = %err, "scheduled run failed")
            }
        }
    }
}

pub fn schedule_by_name<'a>(stack: &'a Stack, name: &str) -> Option<&'a Schedule> {
    stack
        .schedules
        .iter()
        .find(|s| s.name == name || s.function == name)
}

/// The internal queue through which the emulator's S3 notifications reach a function.
pub fn s3_relay_queue_name(stack: &Stack, source: &S3Source) -> String {
    format!("{}-twin-s3-{}", stack.template.stack_name, source.function)
}

/// Configures the bucket to notify the relay queue of every S3 source of the stack.
pub async fn configure_s3_notifications(
    stack: &Stack,
    aws: &aws_config::SdkConfig,
) -> Result<Vec<(String, String)>, TwinError> {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    let sqs = aws_sdk_sqs::Client::new(aws);
    let s3 = aws_sdk_s3::Client::new(aws);
    let mut relays = Vec::new();
    let mut per_bucket: HashMap<String, Vec<QueueConfiguration>> = HashMap::new();
    for source in &stack.s3_sources {
        let name = s3_relay_queue_name(stack, source);
        let url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .map_err(|e| TwinError::Provision(format!("relay queue {name}: {e:?}")))?
            .queue_url
            .unwrap_or_default();
        let mut rules = Vec::new();
        if let Some(prefix) = &source.prefix {
            rules.push(
                FilterRule::builder()
                    .name(FilterRuleName::Prefix)
                    .value(prefix)
                    .build(),
            );
        }
        if let Some(suffix) = &source.suffix {
            rules.push(
                FilterRule::builder()
                    .name(FilterRuleName::Suffix)
                    .value(suffix)
                    .build(),
            );
        }
        let bucket = stack.bucket(&source.bucket).ok_or_else(|| {
            TwinError::Template(format!("{}: no bucket {}", source.function, source.bucket))
        })?;
        let config = QueueConfiguration::builder()
            .id(format!("{}-relay", source.function))
            .queue_arn(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"))
            .set_events(Some(
                source
                    .events
                    .iter()
                    .map(|e| Event::from(e.as_str()))
                    .collect(),
            ))
            .filter(
                NotificationConfigurationFilter::builder()
                    .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                    .build(),
            )
            .build()
            .map_err(|e| TwinError::Provision(format!("notification: {e:?}")))?;
        per_bucket
            .entry(bucket.name.clone())
            .or_default()
            .push(config);
        relays.push((source.function.clone(), url));
    }
    for (bucket, configs) in per_bucket {
        s3.put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .set_queue_configurations(Some(configs))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| TwinError::Provision(format!("notifications of {bucket}: {e:?}")))?;
    }
    Ok(relays)
}

/// Completes moto's S3 notification to the shape S3 sends Lambda: moto leaves out
/// `userIdentity`, `requestParameters`, `responseElements`, the bucket's `ownerIdentity` and
/// the object's `sequencer`, which AWS always sends (and typed consumers require).
pub fn normalise_s3_event(mut event: Value) -> Value {
    if let Some(records) = event.get_mut("Records").and_then(Value::as_array_mut) {
        for record in records {
            let Some(record) = record.as_object_mut() else {
                continue;
            };
            record
                .entry("userIdentity")
                .or_insert_with(|| json!({"principalId": "AWS:LOCALTWIN"}));
            record
                .entry("requestParameters")
                .or_insert_with(|| json!({"sourceIPAddress": "127.0.0.1"}));
            record.entry("responseElements").or_insert_with(|| {
                json!({"x-amz-request-id": ulid::Ulid::new().to_string(), "x-amz-id-2": "local-twin"})
            });
            if let Some(bucket) = record
                .get_mut("s3")
                .and_then(|s| s.get_mut("bucket"))
                .and_then(Value::as_object_mut)
            {
                bucket
                    .entry("ownerIdentity")
                    .or_insert_with(|| json!({"principalId": "LOCALTWIN"}));
            }
            if let Some(object) = record
                .get_mut("s3")
                .and_then(|s| s.get_mut("object"))
                .and_then(Value::as_object_mut)
            {
                object.entry("sequencer").or_insert_with(|| {
                    Value::String(format!("{:016X}", chrono::Utc::now().timestamp_micros()))
                });
            }
        }
    }
    event
}

/// Delivers the S3 notifications arriving on a relay queue to the function, as S3 invokes it
/// (asynchronously: retried twice on failure, then dropped with a log line).
pub async fn run_s3_relay(sqs: aws_sdk_sqs::Client, relay_url: String, pool: Arc<FunctionPool>) {
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&relay_url)
            .max_number_of_messages(10)
            .visibility_timeout(5)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await;
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        for message in messages {
            let body = message.body().unwrap_or_default();
            let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let delivered = if parsed.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
                || parsed.get("Records").is_none()
            {
                true
            } else {
                let event = normalise_s3_event(parsed);
                matches!(
                    pool.invoke(Bytes::from(event.to_string())).await,
                    Ok(Outcome::Response(_))
                )
            };
            let receives: u32 = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            if delivered || receives >= 3 {
                if !delivered {
                    tracing::warn!(function = %pool.launcher.spec.logical, "S3 notification failed 3 times; dropped as Lambda's async retries would");
                }
                let _ = sqs
                    .delete_message()
                    .queue_url(&relay_url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    fn answer(body: Value) -> Result<Outcome, String> {
        Ok(Outcome::Response(Bytes::from(body.to_string())))
    }

    #[test]
    fn deletes_what_lambda_would_delete() {
        assert_eq!(
            messages_to_delete(&ids(), &answer(json!({"batchItemFailures": []})), true),
            ids()
        );
        assert_eq!(
            messages_to_delete(&ids(), &answer(json!(null)), true),
            ids()
        );
        assert_eq!(
            messages_to_delete(
                &ids(),
                &answer(json!({"batchItemFailures": [{"itemIdentifier": "b"}]})),
                true
            ),
            vec!["a".to_owned(), "c".to_owned()]
        );
        // A failure naming a message not in the batch fails the whole batch.
        assert!(
            messages_to_delete(
                &ids(),
                &answer(json!({"batchItemFailures": [{"itemIdentifier": "z"}]})),
                true
            )
            .is_empty()
        );
        assert!(
            messages_to_delete(
                &ids(),
                &answer(json!({"batchItemFailures": [{"itemIdentifier": ""}]})),
                true
            )
            .is_empty()
        );
        assert!(
            messages_to_delete(&ids(), &Ok(Outcome::FunctionError(json!({}))), true).is_empty()
        );
        assert!(messages_to_delete(&ids(), &Err("crashed".into()), true).is_empty());
        // Without ReportBatchItemFailures the answer's content does not matter.
        assert_eq!(
            messages_to_delete(
                &ids(),
                &answer(json!({"batchItemFailures": [{"itemIdentifier": "b"}]})),
                false
            ),
            ids()
        );
    }

    #[test]
    fn completes_moto_s3_records_to_the_aws_shape() {
        let moto = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-23T12:16:45.334Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c", "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
                   "object": {"key": "a%2Fb", "size": 1, "eTag": "e"}}}]});
        let event = normalise_s3_event(moto);
        let record = &event["Records"][0];
        for field in ["userIdentity", "requestParameters", "responseElements"] {
            assert!(record.get(field).is_some(), "{field}");
        }
        assert!(record["s3"]["bucket"]["ownerIdentity"]["principalId"].is_string());
        assert!(record["s3"]["object"]["sequencer"].is_string());
        assert_eq!(
            record["s3"]["object"]["key"], "a%2Fb",
            "keys stay URL-encoded, as S3 sends them"
        );
    }

    #[test]
    fn reads_rate_expressions() {
        assert_eq!(
            rate_interval("rate(1 minute)"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            rate_interval("rate(5 minutes)"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            rate_interval("rate(2 hours)"),
            Some(Duration::from_secs(7200))
        );
        assert_eq!(rate_interval("rate(0 minutes)"), None);
        assert_eq!(rate_interval("cron(0 12 * * ? *)"), None);
    }
}
