//! Survey dispatch: takes "survey due" messages from the surveys-due queue.
//!
//! Each message is handled on its own and reported in `batchItemFailures` when it fails, so
//! one bad message is retried (and finally lands in the DLQ) without redelivering the rest.

use aftercare::config::{self, ConfigError};
use aftercare::trigger::Trigger;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{Error, LambdaEvent};
use serde::Deserialize;
use serde_json::Value;
use tracing::Instrument;

pub struct SurveyDispatch {
    /// Where the survey's state lives (`SURVEYS_TABLE`).
    pub surveys_table: String,
}

impl SurveyDispatch {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(SurveyDispatch {
            surveys_table: config::required("SURVEYS_TABLE")?,
        })
    }
}

/// The body of a surveys-due message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyDue {
    pub case_id: String,
}

pub async fn handle(dispatch: &SurveyDispatch, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let span = tracing::info_span!("survey_dispatch", request_id = %event.context.request_id);
    async move {
        match Trigger::parse(event.payload)? {
            Trigger::Sqs(batch) => Ok(serde_json::to_value(dispatch_batch(dispatch, batch))?),
            other => Err(format!(
                "survey-dispatch is wired to its queue only, not {} events",
                other.kind()
            )
            .into()),
        }
    }
    .instrument(span)
    .await
}

/// Handles each message; the ones that fail are reported for redelivery.
pub fn dispatch_batch(dispatch: &SurveyDispatch, batch: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in batch.records {
        if let Err(reason) = accept(dispatch, &message) {
            tracing::warn!(message_id = ?message.message_id, %reason, "survey message failed");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

fn accept(dispatch: &SurveyDispatch, message: &SqsMessage) -> Result<SurveyDue, String> {
    let body = message.body.as_deref().ok_or("the message has no body")?;
    let due: SurveyDue = serde_json::from_str(body).map_err(|e| format!("unreadable body: {e}"))?;
    tracing::info!(case_id = %due.case_id, table = %dispatch.surveys_table, "survey due received");
    Ok(due)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_only_the_unreadable_messages() {
        let batch: SqsEvent = serde_json::from_value(json!({"Records": [
            {"messageId": "ok", "eventSource": "aws:sqs", "body": "{\"case_id\":\"01J\"}"},
            {"messageId": "bad", "eventSource": "aws:sqs", "body": "not json"},
            {"messageId": "odd", "eventSource": "aws:sqs", "body": "{\"case\":1}"}
        ]}))
        .unwrap();
        let dispatch = SurveyDispatch {
            surveys_table: "t".into(),
        };
        let failed: Vec<_> = dispatch_batch(&dispatch, batch)
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        assert_eq!(failed, ["bad", "odd"]);
    }
}
