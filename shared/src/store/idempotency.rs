//! Idempotency records in the idempotency table (key `idempotency_key`, TTL `expires_at` in
//! epoch seconds). Other adapters put a record in the same transaction as the change it
//! guards ([`record_put`]); handlers read one back when that transaction says "already done".

use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::dynamo::{corrupt, store_error};
use crate::idempotency::{IdempotencyRecord, SavedResponse};

#[derive(Serialize, Deserialize)]
struct RecordItem {
    idempotency_key: String,
    payload_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<SavedResponse>,
    recorded_at: DateTime<Utc>,
    /// Epoch seconds, as DynamoDB's TTL wants them.
    expires_at: i64,
}

/// A conditional put of `record`: it succeeds only when the key is new, or its earlier
/// record has expired (TTL removes items lazily, up to days later).
pub(crate) fn record_put(table: &str, record: &IdempotencyRecord) -> Result<Put, StoreError> {
    let item = RecordItem {
        idempotency_key: record.key.clone(),
        payload_hash: record.payload_hash.clone(),
        response: record.response.clone(),
        recorded_at: record.recorded_at,
        expires_at: record.expires_at.timestamp(),
    };
    Put::builder()
        .table_name(table)
        .set_item(Some(serde_dynamo::to_item(item).map_err(corrupt)?))
        .condition_expression("attribute_not_exists(idempotency_key) OR expires_at <= :now")
        .expression_attribute_values(
            ":now",
            AttributeValue::N(record.recorded_at.timestamp().to_string()),
        )
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

pub trait IdempotencyStore: Send + Sync {
    /// The record kept under `key`, if any (expired ones included: the caller judges).
    fn record(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoIdempotencyStore {
    client: Client,
    table: String,
}

impl DynamoIdempotencyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoIdempotencyStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

impl IdempotencyStore for DynamoIdempotencyStore {
    async fn record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("idempotency_key", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let stored: RecordItem = serde_dynamo::from_item(item).map_err(corrupt)?;
        Ok(Some(IdempotencyRecord {
            key: stored.idempotency_key,
            payload_hash: stored.payload_hash,
            response: stored.response,
            recorded_at: stored.recorded_at,
            expires_at: DateTime::from_timestamp(stored.expires_at, 0)
                .ok_or_else(|| corrupt("expires_at out of range"))?,
        }))
    }
}
