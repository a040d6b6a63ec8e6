//! Ports (what the domain needs stored) and their DynamoDB adapters.
//!
//! Each port is a trait the handlers are generic over; each adapter hides the SDK entirely and
//! maps its errors onto [`StoreError`]. Every read is a GetItem or a Query on a key or index
//! designed for it, every state change a conditional write.

mod cases;
mod catalogue;
mod customers;
mod dynamo;
mod idempotency;
mod metrics;
mod orders;
mod photos;
mod quality;
mod refund_history;
mod refunds;
mod reports;
mod surveys;

pub use cases::{
    CaseFile, CasePage, CaseStore, DynamoCaseStore, SlaTimerIndex, WrittenWith, case_item,
};
pub use catalogue::{CatalogueStore, DynamoCatalogueStore, ProductFile};
pub use idempotency::{DynamoIdempotencyStore, IdempotencyStore};
pub use metrics::{CounterStore, Counters, DynamoCounterStore};
pub use orders::{ComplaintFacts, DynamoOrderStore, OrderStore, WebhookOutcome};
pub use photos::{PhotoBucket, PhotoObject, S3PhotoBucket, SignedRequest, evidence_links};
pub use quality::{AlertPage, DynamoQualityStore, QualityObservation, QualityStore};
pub use refund_history::RefundHistory;
pub use refunds::{
    AuditRecord, DynamoRefundStore, RefundFile, RefundFilter, RefundPage, RefundStore,
};
pub use reports::{ReportBucket, S3ReportBucket, daily_report_key};
pub use surveys::{
    DynamoSurveyStore, MARK_QUEUED_AT_ONCE, Recipient, Settlement, StoredSurvey, SurveyChannel,
    SurveyClaim, SurveyStore, due_shard,
};

/// What can go wrong when reading or writing the store, in the terms a handler acts on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found the item changed (or already there).
    #[error("the item was changed concurrently or already exists")]
    Conflict,
    /// Throttled, timed out or unreachable: retrying later may succeed.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The store refused the request itself: a bug or a misconfiguration.
    #[error("the store refused the request: {0}")]
    Rejected(String),
    /// A pagination cursor that this service did not issue.
    #[error("the cursor is not one this service issued")]
    BadCursor,
    /// An item in the store does not have the shape we wrote.
    #[error("a stored item is unreadable: {0}")]
    Corrupt(String),
    /// A record the write was decided on (a batch's quality window) changed since it was
    /// read: read it again, decide again, write again.
    #[error("a record this write was decided on changed since it was read")]
    Stale,
}
