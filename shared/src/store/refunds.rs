//! Refunds in the refunds table.
//!
//! Layout (table `RefundsTable`): key `refund_id` + `entry` (`"refund"`, `"audit#<ulid>"`);
//! index `refunds-by-status` (`status`, `requested_at`) is the finance queue, oldest first;
//! index `refunds-by-customer` (`customer_id`, `requested_at`) serves the return-history check;
//! index `payouts-unsent` (`payout_outbox`, `approved_at`) holds approved refunds whose payout
//! message is not yet confirmed sent.

use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::dynamo::{corrupt, store_error};

/// A refund waiting for a finance decision, as the queue lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRefund {
    pub refund_id: String,
    pub case_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub requested_at: DateTime<Utc>,
}

pub trait RefundStore: Send + Sync {
    /// The oldest refunds waiting for finance, at most `limit`.
    fn pending_refunds(
        &self,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<PendingRefund>, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoRefundStore {
    client: Client,
    table: String,
}

impl DynamoRefundStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoRefundStore {
            client,
            table: table.into(),
        }
    }
}

impl RefundStore for DynamoRefundStore {
    async fn pending_refunds(&self, limit: i32) -> Result<Vec<PendingRefund>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("refunds-by-status")
            .key_condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .scan_index_forward(true)
            .limit(limit)
            .send()
            .await
            .map_err(store_error)?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).map_err(corrupt))
            .collect()
    }
}
