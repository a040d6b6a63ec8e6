//! Refund approval: finance's queue and decisions, the payment integration's reports, and the
//! payout messages. The rules are [`aftercare::refund`]'s; this function reads, lets them
//! decide, and writes.
//!
//! - HTTP API routes ([`routes`]), finance only unless said otherwise, everyone else 403:
//!   `GET /refunds` (the queue, oldest first, filtered and paged), `GET /refunds/{id}` (with
//!   the audit trail and the case: classification and 5-minute photo links),
//!   `POST /refunds/{id}/approve`, `POST /refunds/{id}/reject`, `GET /refunds/export` (CSV),
//!   and `POST /refunds/{id}/settlement` for the `payment_integration` role alone.
//! - The `PayoutRelaySchedule` ([`payouts`]): sends the payout message of every approved
//!   refund still in the outbox to the FIFO queue `refunds-approved`, then takes it out.
//!
//! Every decision is one DynamoDB transaction conditional on the refund's version, so of
//! concurrent decisions one wins and the others get 409 `conflict`; an approval costs two
//! AWS calls (the GetItem of the refund and that transaction), counted by the SDK interceptor
//! and logged as `aws_calls` with each answer. Approving never sends the payout message: the
//! transaction puts the refund in the outbox, and the relay sends it within a minute, so no
//! approval is lost to a crash between the write and the message (see
//! [`aftercare::store::RefundStore`]). The payment integration must treat the refund id with
//! the attempt (the message's deduplication id) as its idempotency key: SQS drops a repeat
//! only within 5 minutes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aftercare::api::HttpRequest;
use aftercare::aws_calls::AwsCallCounter;
use aftercare::clock::{Clock, SystemClock};
use aftercare::config::{self, ConfigError};
use aftercare::store::{
    CaseStore, DynamoCaseStore, DynamoRefundStore, PhotoBucket, RefundStore, S3PhotoBucket,
};
use aftercare::trigger::Trigger;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use tracing::Instrument;

pub mod payouts;
pub mod routes;

pub use payouts::{PayoutError, PayoutQueue, RelayReport, SqsPayoutQueue};

/// What the function reads and writes: the AWS adapters when deployed ([`Aws`]).
pub trait Ports {
    type Refunds: RefundStore;
    type Cases: CaseStore;
    type Bucket: PhotoBucket;
    type Payouts: PayoutQueue;
    type Clock: Clock;
}

/// The ports of the deployed function.
pub struct Aws;

impl Ports for Aws {
    type Refunds = DynamoRefundStore;
    type Cases = DynamoCaseStore;
    type Bucket = S3PhotoBucket;
    type Payouts = SqsPayoutQueue;
    type Clock = SystemClock;
}

/// The function's dependencies, built once per Lambda instance.
pub struct RefundApproval<P: Ports> {
    pub refunds: P::Refunds,
    /// Read for the case summary of `GET /refunds/{id}`.
    pub cases: P::Cases,
    /// Signs the short-lived links to the case's photos.
    pub bucket: P::Bucket,
    pub payouts: P::Payouts,
    pub clock: P::Clock,
    /// The AWS calls of the request or run under way (a Lambda instance serves one at a time).
    pub aws_calls: AwsCallCounter,
}

impl RefundApproval<Aws> {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let refunds_table = config::required("REFUNDS_TABLE")?;
        let cases_table = config::required("CASES_TABLE")?;
        let bucket = config::required("PHOTO_BUCKET")?;
        let queue_url = config::required("REFUNDS_APPROVED_QUEUE_URL")?;
        let aws = config::aws().await;
        let aws_calls = AwsCallCounter::default();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&aws)
                .interceptor(aws_calls.clone())
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&aws)
                .interceptor(aws_calls.clone())
                .build(),
        );
        Ok(RefundApproval {
            refunds: DynamoRefundStore::new(dynamodb.clone(), refunds_table)
                .with_cases_table(&cases_table),
            cases: DynamoCaseStore::new(dynamodb, cases_table),
            // Presigning a link is local: no call to count.
            bucket: S3PhotoBucket::new(aws_sdk_s3::Client::new(&aws), bucket),
            payouts: SqsPayoutQueue::new(sqs, queue_url),
            clock: SystemClock,
            aws_calls,
        })
    }
}

/// The Lambda entrypoint: the refund routes of the HTTP API, and the payout relay's schedule.
pub async fn handle<P: Ports>(
    approval: &RefundApproval<P>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let span = tracing::info_span!(
        "refund_approval",
        request_id = %event.context.request_id,
        refund_id = tracing::field::Empty
    );
    let stop_by = stop_by(event.context.deadline);
    async move {
        match Trigger::parse(event.payload)? {
            Trigger::Http(request) => {
                approval.aws_calls.reset();
                let response = routes::respond(approval, &request).await;
                tracing::info!(
                    route = HttpRequest(&request).route_key(),
                    status = response.status_code,
                    aws_calls = approval.aws_calls.total(),
                    "answered"
                );
                Ok(serde_json::to_value(response)?)
            }
            Trigger::EventBridge(scheduled) => {
                let at = scheduled.time.unwrap_or_else(|| approval.clock.now());
                Ok(serde_json::to_value(
                    payouts::relay(approval, at, stop_by).await?,
                )?)
            }
            other => Err(format!(
                "refund-approval answers refund routes and its payout schedule, not {} events",
                other.kind()
            )
            .into()),
        }
    }
    .instrument(span)
    .await
}

/// How close to its timeout a relay run stops starting new sends.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(3);

/// When a run must stop starting new work: the invocation's deadline (epoch milliseconds)
/// less the safety margin.
fn stop_by(deadline_ms: u64) -> SystemTime {
    (UNIX_EPOCH + Duration::from_millis(deadline_ms))
        .checked_sub(SAFETY_MARGIN)
        .unwrap_or(UNIX_EPOCH)
}
