//! What the adapters share: mapping SDK errors (DynamoDB's and S3's) onto [`StoreError`].

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::StoreError;

/// Error codes that mean "try again later" rather than "this request is wrong".
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    // S3's.
    "SlowDown",
    "InternalError",
    "RequestTimeout",
];

/// Rounds of BatchGetItem [`batch_get_all`] sends before it gives up on unprocessed keys.
const BATCH_GET_ROUNDS: usize = 5;

/// The items of every key `wanted` names, by table: one BatchGetItem, resending at once what
/// DynamoDB leaves unprocessed (it returns what it has; a table under pressure is answered
/// `Unavailable` after a few rounds, and the caller's client retries later).
pub(crate) async fn batch_get_all(
    client: &aws_sdk_dynamodb::Client,
    mut wanted: HashMap<String, KeysAndAttributes>,
) -> Result<HashMap<String, Vec<HashMap<String, AttributeValue>>>, StoreError> {
    let mut found: HashMap<String, Vec<HashMap<String, AttributeValue>>> = HashMap::new();
    for _ in 0..BATCH_GET_ROUNDS {
        let output = client
            .batch_get_item()
            .set_request_items(Some(wanted))
            .send()
            .await
            .map_err(store_error)?;
        for (table, items) in output.responses.unwrap_or_default() {
            found.entry(table).or_default().extend(items);
        }
        wanted = output.unprocessed_keys.unwrap_or_default();
        wanted.retain(|_, keys| !keys.keys().is_empty());
        if wanted.is_empty() {
            return Ok(found);
        }
    }
    Err(StoreError::Unavailable(
        "BatchGetItem left keys unprocessed after retries".into(),
    ))
}

pub(crate) fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("Unknown");
            let message = inner.message().unwrap_or("");
            if code == "ConditionalCheckFailedException"
                || (code == "TransactionCanceledException"
                    && message.contains("ConditionalCheckFailed"))
            {
                StoreError::Conflict
            } else if RETRYABLE_CODES.contains(&code)
                || (code == "TransactionCanceledException"
                    && (message.contains("TransactionConflict") || message.contains("Throttling")))
            {
                StoreError::Unavailable(format!("{code}: {message}"))
            } else {
                StoreError::Rejected(format!("{code}: {message}"))
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{err:?}"))
        }
        _ => StoreError::Rejected(format!("{err:?}")),
    }
}

/// The positions of the items whose condition failed in a cancelled transaction (empty for
/// any other error).
pub(crate) fn failed_conditions<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Vec<usize> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match err {
        SdkError::ServiceError(service) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(cancelled) => cancelled
                .cancellation_reasons()
                .iter()
                .enumerate()
                .filter(|(_, reason)| reason.code() == Some("ConditionalCheckFailed"))
                .map(|(i, _)| i)
                .collect(),
            _ => vec![],
        },
        _ => vec![],
    }
}

pub(crate) fn corrupt(err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(err.to_string())
}
