//! Which AWS event a function was invoked with. Several functions answer more than one trigger
//! (an API route and a queue, say); they take the raw JSON and dispatch on its shape.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sqs::SqsEvent;
use serde_json::Value;

pub enum Trigger {
    /// An HTTP API request, payload format 2.0.
    Http(Box<ApiGatewayV2httpRequest>),
    /// A batch of SQS messages.
    Sqs(SqsEvent),
    /// S3 object notifications.
    S3(S3Event),
    /// An EventBridge event, such as a schedule's "Scheduled Event".
    EventBridge(Box<EventBridgeEvent<Value>>),
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("the event is not one this function is wired to: {0}")]
    Unrecognised(String),
    #[error("the {kind} event is malformed: {source}")]
    Malformed {
        kind: &'static str,
        source: serde_json::Error,
    },
}

impl Trigger {
    pub fn parse(event: Value) -> Result<Trigger, TriggerError> {
        fn decode<T: serde::de::DeserializeOwned>(
            kind: &'static str,
            event: Value,
        ) -> Result<T, TriggerError> {
            serde_json::from_value(event).map_err(|source| TriggerError::Malformed { kind, source })
        }
        if event.get("routeKey").is_some() && event.get("requestContext").is_some() {
            return decode("HTTP API", event).map(|r| Trigger::Http(Box::new(r)));
        }
        if event.get("detail-type").is_some() && event.get("source").is_some() {
            return decode("EventBridge", event).map(|e| Trigger::EventBridge(Box::new(e)));
        }
        let source = event
            .pointer("/Records/0/eventSource")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match source.as_deref() {
            Some("aws:sqs") => decode("SQS", event).map(Trigger::Sqs),
            Some("aws:s3") => decode("S3", event).map(Trigger::S3),
            _ => Err(TriggerError::Unrecognised(
                source.unwrap_or_else(|| "no known shape".to_owned()),
            )),
        }
    }

    /// A short name for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Http(_) => "http",
            Trigger::Sqs(_) => "sqs",
            Trigger::S3(_) => "s3",
            Trigger::EventBridge(_) => "eventbridge",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recognises_each_trigger_by_shape() {
        let sqs = json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": "{}"}]});
        assert_eq!(Trigger::parse(sqs).unwrap().kind(), "sqs");
        let s3 = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
            "awsRegion": "us-east-1", "eventTime": "2026-11-23T10:00:00.000Z",
            "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "A"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"}, "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                   "bucket": {"name": "b", "ownerIdentity": {"principalId": "A"}, "arn": "arn:aws:s3:::b"},
                   "object": {"key": "k", "size": 1, "eTag": "e", "sequencer": "1"}}}]});
        assert_eq!(Trigger::parse(s3).unwrap().kind(), "s3");
        let schedule = json!({"version": "0", "id": "1", "detail-type": "Scheduled Event",
            "source": "aws.events", "time": "2026-11-23T10:00:00Z", "detail": {}});
        assert_eq!(Trigger::parse(schedule).unwrap().kind(), "eventbridge");
        assert!(matches!(
            Trigger::parse(json!({"hello": "world"})),
            Err(TriggerError::Unrecognised(_))
        ));
    }
}
