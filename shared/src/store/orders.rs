//! Orders in the orders table. Key `order_id` (Aftercare's order reference) + `entry`:
//! `"order"` (the storefront's latest snapshot, newest wins by the storefront's own update
//! time), `"line#<id>"` (joins a line item to its order through the `orders-by-line-item`
//! index), `"delivery#<time>"`, `"refund#<id>"`. One Query reads the whole order.
//!
//! Every webhook is written in one transaction together with its idempotency record, so a
//! redelivery changes nothing and a crash never leaves half an order.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::dynamo::{corrupt, store_error};
use super::idempotency::record_put;
use crate::clock::rfc3339;
use crate::idempotency::IdempotencyRecord;
use crate::order::{OrderFile, line_item_reference, order_reference};
use crate::storefront::{Delivery, Platform, RecordedRefund, StoreOrder};

const ORDER_ENTRY: &str = "order";
const LINE_PREFIX: &str = "line#";
const DELIVERY_PREFIX: &str = "delivery#";
const REFUND_PREFIX: &str = "refund#";
/// DynamoDB takes 100 items per transaction; the order and the idempotency record take two.
const MAX_JOINED_LINES: usize = 98;

/// What a webhook did to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    Applied,
    /// The same delivery (or event) was recorded before: nothing changed.
    Duplicate,
    /// Older than what is stored: nothing changed.
    Stale,
}

pub trait OrderStore: Send + Sync {
    /// Stores the storefront's snapshot of an order unless a newer one is stored.
    fn record_order(
        &self,
        order: &StoreOrder,
        delivery: &IdempotencyRecord,
    ) -> impl Future<Output = Result<WebhookOutcome, StoreError>> + Send;

    fn record_delivery(
        &self,
        platform: Platform,
        store: &str,
        delivery: &Delivery,
        key: &IdempotencyRecord,
    ) -> impl Future<Output = Result<WebhookOutcome, StoreError>> + Send;

    fn record_refund(
        &self,
        platform: Platform,
        store: &str,
        refund: &RecordedRefund,
        key: &IdempotencyRecord,
    ) -> impl Future<Output = Result<WebhookOutcome, StoreError>> + Send;

    fn order_file(
        &self,
        reference: &str,
    ) -> impl Future<Output = Result<Option<OrderFile>, StoreError>> + Send;

    /// The order reference a line item belongs to.
    fn order_of_line_item(
        &self,
        line_item_reference: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoOrderStore {
    client: Client,
    table: String,
    idempotency_table: String,
}

impl DynamoOrderStore {
    pub fn new(
        client: Client,
        table: impl Into<String>,
        idempotency_table: impl Into<String>,
    ) -> Self {
        DynamoOrderStore {
            client,
            table: table.into(),
            idempotency_table: idempotency_table.into(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct OrderItem {
    order_id: String,
    entry: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customer_id: Option<String>,
    ordered_at: String,
    /// The storefront's own update time, compared so an older delivery never overwrites.
    source_updated_at: String,
    snapshot: StoreOrder,
}

#[derive(Serialize, Deserialize)]
struct LineItem {
    order_id: String,
    entry: String,
    line_item_key: String,
}

#[derive(Serialize, Deserialize)]
struct DeliveryItem {
    order_id: String,
    entry: String,
    delivery: Delivery,
}

#[derive(Serialize, Deserialize)]
struct RefundItem {
    order_id: String,
    entry: String,
    refund: RecordedRefund,
}

fn put(table: &str, item: impl Serialize) -> Result<Put, StoreError> {
    Put::builder()
        .table_name(table)
        .set_item(Some(serde_dynamo::to_item(item).map_err(corrupt)?))
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

/// The cancellation reason codes of a failed transaction, one per item, when it was cancelled.
fn cancellation_codes(
    err: &SdkError<TransactWriteItemsError, aws_smithy_runtime_api::http::Response>,
) -> Option<Vec<String>> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => Some(
            cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect(),
        ),
        _ => None,
    }
}

impl DynamoOrderStore {
    /// Writes `items` after the idempotency record, in one transaction; item 1 may carry the
    /// staleness condition.
    async fn write(
        &self,
        key: &IdempotencyRecord,
        items: Vec<Put>,
    ) -> Result<WebhookOutcome, StoreError> {
        let mut transaction = self.client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .put(record_put(&self.idempotency_table, key)?)
                .build(),
        );
        for item in items {
            transaction =
                transaction.transact_items(TransactWriteItem::builder().put(item).build());
        }
        match transaction.send().await {
            Ok(_) => Ok(WebhookOutcome::Applied),
            Err(err) => match cancellation_codes(&err) {
                Some(codes)
                    if codes.first().map(String::as_str) == Some("ConditionalCheckFailed") =>
                {
                    Ok(WebhookOutcome::Duplicate)
                }
                Some(codes)
                    if codes.get(1).map(String::as_str) == Some("ConditionalCheckFailed") =>
                {
                    Ok(WebhookOutcome::Stale)
                }
                _ => Err(store_error(err)),
            },
        }
    }
}

impl OrderStore for DynamoOrderStore {
    async fn record_order(
        &self,
        order: &StoreOrder,
        key: &IdempotencyRecord,
    ) -> Result<WebhookOutcome, StoreError> {
        let reference = order_reference(order.platform, &order.store, &order.order_id);
        let item = OrderItem {
            order_id: reference.clone(),
            entry: ORDER_ENTRY.into(),
            customer_id: order.customer_id.clone(),
            ordered_at: rfc3339(order.placed_at),
            source_updated_at: rfc3339(order.source_updated_at),
            snapshot: order.clone(),
        };
        let order_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(item).map_err(corrupt)?))
            .condition_expression("attribute_not_exists(order_id) OR source_updated_at < :updated")
            .expression_attribute_values(
                ":updated",
                AttributeValue::S(rfc3339(order.source_updated_at)),
            )
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))?;
        let mut items = vec![order_put];
        for line in order.lines.iter().take(MAX_JOINED_LINES) {
            items.push(put(
                &self.table,
                LineItem {
                    order_id: reference.clone(),
                    entry: format!("{LINE_PREFIX}{}", line.line_item_id),
                    line_item_key: line_item_reference(
                        order.platform,
                        &order.store,
                        &line.line_item_id,
                    ),
                },
            )?);
        }
        if order.lines.len() > MAX_JOINED_LINES {
            tracing::warn!(
                lines = order.lines.len(),
                "order has more lines than one transaction joins; returns of the rest need the order id"
            );
        }
        self.write(key, items).await
    }

    async fn record_delivery(
        &self,
        platform: Platform,
        store: &str,
        delivery: &Delivery,
        key: &IdempotencyRecord,
    ) -> Result<WebhookOutcome, StoreError> {
        let item = DeliveryItem {
            order_id: order_reference(platform, store, &delivery.order_id),
            entry: format!("{DELIVERY_PREFIX}{}", rfc3339(delivery.delivered_at)),
            delivery: delivery.clone(),
        };
        self.write(key, vec![put(&self.table, item)?]).await
    }

    async fn record_refund(
        &self,
        platform: Platform,
        store: &str,
        refund: &RecordedRefund,
        key: &IdempotencyRecord,
    ) -> Result<WebhookOutcome, StoreError> {
        let item = RefundItem {
            order_id: order_reference(platform, store, &refund.order_id),
            entry: format!("{REFUND_PREFIX}{}", refund.refund_id),
            refund: refund.clone(),
        };
        self.write(key, vec![put(&self.table, item)?]).await
    }

    async fn order_file(&self, reference: &str) -> Result<Option<OrderFile>, StoreError> {
        let mut file = OrderFile {
            reference: reference.to_owned(),
            order: None,
            deliveries: vec![],
            refunds: vec![],
        };
        let mut found = false;
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("order_id = :id")
            .expression_attribute_values(":id", AttributeValue::S(reference.to_owned()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item: HashMap<String, AttributeValue> = item.map_err(store_error)?;
            found = true;
            let entry = item
                .get("entry")
                .and_then(|e| e.as_s().ok())
                .cloned()
                .unwrap_or_default();
            if entry == ORDER_ENTRY {
                let stored: OrderItem = serde_dynamo::from_item(item).map_err(corrupt)?;
                file.order = Some(stored.snapshot);
            } else if entry.starts_with(DELIVERY_PREFIX) {
                let stored: DeliveryItem = serde_dynamo::from_item(item).map_err(corrupt)?;
                file.deliveries.push(stored.delivery);
            } else if entry.starts_with(REFUND_PREFIX) {
                let stored: RefundItem = serde_dynamo::from_item(item).map_err(corrupt)?;
                file.refunds.push(stored.refund);
            }
        }
        Ok(found.then_some(file))
    }

    async fn order_of_line_item(
        &self,
        line_item_reference: &str,
    ) -> Result<Option<String>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("orders-by-line-item")
            .key_condition_expression("line_item_key = :line")
            .expression_attribute_values(":line", AttributeValue::S(line_item_reference.to_owned()))
            .limit(1)
            .send()
            .await
            .map_err(store_error)?;
        Ok(output
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|item| item.get("order_id").and_then(|v| v.as_s().ok()).cloned()))
    }
}
