//! What the adapters share: mapping SDK errors (DynamoDB's and S3's) onto [`StoreError`].

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

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
