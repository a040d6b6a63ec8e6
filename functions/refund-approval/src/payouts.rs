//! The payout relay: on `PayoutRelaySchedule`, every approved refund still in the outbox gets
//! its payout message on the FIFO queue `refunds-approved`, then leaves the outbox.
//!
//! Exactly once, nothing lost:
//! - The approval wrote the refund and its place in the outbox in one transaction, so an
//!   approved refund is always either in the outbox or already sent.
//! - The relay sends first and clears the flag after, conditional on the attempt it sent (a
//!   refund approved again after a failed payout is a new attempt, not cleared by an old run).
//!   A crash in between leaves the flag: the next run sends the same message again, with the
//!   same deduplication id, and SQS drops it (within its 5-minute window; beyond it, the
//!   payment integration's idempotency key, refund id + attempt, catches it).
//! - Messages are grouped by order ([`PayoutMessage::message_group_id`]), so one order's
//!   payouts reach the integration in order, and deduplicated by refund and attempt
//!   ([`PayoutMessage::deduplication_id`]).
//!
//! One run reads one page of the outbox (the oldest approvals first); what it leaves is the
//! next run's, a minute later.

use std::future::Future;
use std::time::SystemTime;

use aftercare::refund::{PayoutMessage, Refund};
use aftercare::store::{RefundStore, StoreError};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;

use crate::{Ports, RefundApproval};

/// Approved refunds one run sends at most.
pub const RELAY_BATCH: i32 = 500;
/// Sends in flight at once.
const IN_FLIGHT: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayoutError {
    /// Throttled, timed out, unreachable or refused: the next run sends it again.
    #[error("the payout message was not sent: {0}")]
    NotSent(String),
}

/// Where payout messages go.
pub trait PayoutQueue: Send + Sync {
    /// Puts `message` on the queue, grouped by its order and deduplicated by its refund and
    /// attempt.
    fn send(&self, message: &PayoutMessage)
    -> impl Future<Output = Result<(), PayoutError>> + Send;
}

/// The FIFO queue `refunds-approved`.
#[derive(Debug, Clone)]
pub struct SqsPayoutQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsPayoutQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsPayoutQueue {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl PayoutQueue for SqsPayoutQueue {
    async fn send(&self, message: &PayoutMessage) -> Result<(), PayoutError> {
        let body =
            serde_json::to_string(message).map_err(|e| PayoutError::NotSent(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_group_id(message.message_group_id())
            .message_deduplication_id(message.deduplication_id())
            .send()
            .await
            .map_err(|e| {
                PayoutError::NotSent(format!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e)))
            })?;
        Ok(())
    }
}

/// What one relay run did; returned to the scheduler and logged.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct RelayReport {
    pub relayed_at: DateTime<Utc>,
    /// Refunds read from the outbox.
    pub unsent: usize,
    /// Payout messages sent and taken out of the outbox.
    pub sent: usize,
    /// Sent, but another run (or a newer approval) had changed the outbox entry already.
    pub already_cleared: usize,
    /// Not sent, or not taken out: the next run sends them again.
    pub failed: usize,
    /// Outbox entries of refunds no longer approved (the index lags the table a moment).
    pub stale: usize,
    /// Left for the next run because this one neared its timeout.
    pub deferred: usize,
    /// AWS calls of the run (SDK interceptor).
    pub aws_calls: u64,
}

enum Outcome {
    Sent,
    AlreadyCleared,
    Failed,
    Stale,
    Deferred,
}

/// One run of the relay at the scheduled instant `at`.
pub async fn relay<P: Ports>(
    approval: &RefundApproval<P>,
    at: DateTime<Utc>,
    stop_by: SystemTime,
) -> Result<RelayReport, StoreError> {
    approval.aws_calls.reset();
    let unsent = approval.refunds.unsent_payouts(RELAY_BATCH).await?;
    let mut report = RelayReport {
        relayed_at: at,
        unsent: unsent.len(),
        ..RelayReport::default()
    };
    let outcomes: Vec<Outcome> = futures_util::stream::iter(unsent)
        .map(|refund| async move {
            if SystemTime::now() >= stop_by {
                return Outcome::Deferred;
            }
            relay_one(approval, &refund).await
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome {
            Outcome::Sent => report.sent += 1,
            Outcome::AlreadyCleared => report.already_cleared += 1,
            Outcome::Failed => report.failed += 1,
            Outcome::Stale => report.stale += 1,
            Outcome::Deferred => report.deferred += 1,
        }
    }
    report.aws_calls = approval.aws_calls.total();
    tracing::info!(
        unsent = report.unsent,
        sent = report.sent,
        already_cleared = report.already_cleared,
        failed = report.failed,
        stale = report.stale,
        deferred = report.deferred,
        aws_calls = report.aws_calls,
        "payout relay"
    );
    Ok(report)
}

async fn relay_one<P: Ports>(approval: &RefundApproval<P>, refund: &Refund) -> Outcome {
    let id = refund.id();
    let Ok(message) = PayoutMessage::for_refund(refund) else {
        return Outcome::Stale;
    };
    if let Err(err) = approval.payouts.send(&message).await {
        tracing::warn!(refund_id = %id, error = %err, "payout not sent; the next run retries");
        return Outcome::Failed;
    }
    match approval.refunds.payout_sent(&id, message.attempt).await {
        Ok(()) => {
            tracing::info!(refund_id = %id, attempt = message.attempt, "payout message sent");
            Outcome::Sent
        }
        Err(StoreError::Conflict) => Outcome::AlreadyCleared,
        Err(err) => {
            tracing::warn!(refund_id = %id, error = %err, "payout sent but still in the outbox; the next run sends it again (deduplicated)");
            Outcome::Failed
        }
    }
}
