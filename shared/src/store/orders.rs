//! Orders in the orders table. Key `order_id` (Aftercare's order reference) + `entry`:
//! - `"order"`: one item with everything a complaint is judged against: the storefront's
//!   latest snapshot (`snapshot`, newest wins by the storefront's own update time), and one
//!   attribute per delivery (`delivery:<time>`) and per refund (`refund:<id>`). Webhooks
//!   arrive in any order, so each writes only its own attributes (UpdateItem), and one GetItem
//!   reads the whole order;
//! - `"line#<id>"`: joins a line item to its order through the `orders-by-line-item` index
//!   (returns name line items).
//!
//! Every webhook is written in one transaction together with its idempotency record, so a
//! redelivery changes nothing and a crash never leaves half an order.
//!
//! The first recording of an order's snapshot also adds the order to the sales counters
//! ([`crate::metrics::order_counter_changes`]) in that transaction, conditional on the order
//! having no snapshot yet: updates, redeliveries and a second first-recording racing this one
//! (it fails the condition and is written again as an update) never count it twice.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::cases::counter_update;
use super::customers::{case_history, customer_key};
use super::dynamo::{batch_get_all, corrupt, store_error};
use super::idempotency::record_put;
use crate::clock::rfc3339;
use crate::customer::CaseHistory;
use crate::idempotency::IdempotencyRecord;
use crate::order::{OrderFile, line_item_reference, order_reference};
use crate::service_levels::CounterChange;
use crate::storefront::{Delivery, Platform, RecordedRefund, StoreOrder};

const ORDER_ENTRY: &str = "order";
const LINE_PREFIX: &str = "line#";
const DELIVERY_PREFIX: &str = "delivery:";
const REFUND_PREFIX: &str = "refund:";
const SNAPSHOT: &str = "snapshot";
/// DynamoDB takes 100 items per transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// Attempts at a first recording whose transaction collided with another on a counter.
const CONFLICT_ATTEMPTS: u32 = 4;

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

/// What a new complaint is judged against: the order (if known) and the customer's earlier
/// cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintFacts {
    pub order: Option<OrderFile>,
    pub history: CaseHistory,
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

    /// The order and the customer's case history, read together (one BatchGetItem).
    fn complaint_facts(
        &self,
        reference: &str,
        customer_id: &str,
    ) -> impl Future<Output = Result<ComplaintFacts, StoreError>> + Send;

    /// The customer's case history alone (when the order had to be read first to find them).
    fn case_history(
        &self,
        customer_id: &str,
    ) -> impl Future<Output = Result<CaseHistory, StoreError>> + Send;

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
    customers_table: String,
    metrics_table: Option<String>,
}

impl DynamoOrderStore {
    pub fn new(
        client: Client,
        table: impl Into<String>,
        idempotency_table: impl Into<String>,
        customers_table: impl Into<String>,
    ) -> Self {
        DynamoOrderStore {
            client,
            table: table.into(),
            idempotency_table: idempotency_table.into(),
            customers_table: customers_table.into(),
            metrics_table: None,
        }
    }

    /// Where the sales counters go (written with an order's first snapshot); without it
    /// orders are not counted.
    pub fn with_metrics_table(mut self, table: impl Into<String>) -> Self {
        self.metrics_table = Some(table.into());
        self
    }

    /// Whether the order's snapshot was recorded before (one strongly consistent GetItem of
    /// one attribute).
    async fn recorded_before(&self, reference: &str) -> Result<bool, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::order_key(reference)))
            .projection_expression("source_updated_at")
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(output
            .item
            .is_some_and(|item| item.contains_key("source_updated_at")))
    }

    fn order_key(reference: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (
                "order_id".to_owned(),
                AttributeValue::S(reference.to_owned()),
            ),
            (
                "entry".to_owned(),
                AttributeValue::S(ORDER_ENTRY.to_owned()),
            ),
        ])
    }

    /// Sets `attributes` on the order item (creating it if needed), under `condition`.
    fn order_update(
        &self,
        reference: &str,
        attributes: Vec<(String, AttributeValue)>,
        condition: Option<(&str, Vec<(&str, AttributeValue)>)>,
    ) -> Result<Update, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::order_key(reference)));
        let mut assignments = Vec::new();
        for (i, (name, value)) in attributes.into_iter().enumerate() {
            assignments.push(format!("#a{i} = :a{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), value);
        }
        update = update.update_expression(format!("SET {}", assignments.join(", ")));
        if let Some((expression, values)) = condition {
            update = update.condition_expression(expression);
            for (placeholder, value) in values {
                update = update.expression_attribute_values(placeholder, value);
            }
        }
        update
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))
    }
}

#[derive(Serialize, Deserialize)]
struct LineItem {
    order_id: String,
    entry: String,
    line_item_key: String,
}

fn put(table: &str, item: impl Serialize) -> Result<Put, StoreError> {
    Put::builder()
        .table_name(table)
        .set_item(Some(serde_dynamo::to_item(item).map_err(corrupt)?))
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

fn attribute(value: &impl Serialize) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(corrupt)
}

/// The order file of an order item (`None` when there is no item).
fn order_file_of(
    reference: &str,
    item: Option<HashMap<String, AttributeValue>>,
) -> Result<Option<OrderFile>, StoreError> {
    let Some(item) = item else {
        return Ok(None);
    };
    let mut file = OrderFile {
        reference: reference.to_owned(),
        order: None,
        deliveries: vec![],
        refunds: vec![],
    };
    for (name, value) in item {
        if name == SNAPSHOT {
            file.order = Some(serde_dynamo::from_attribute_value(value).map_err(corrupt)?);
        } else if name.starts_with(DELIVERY_PREFIX) {
            file.deliveries
                .push(serde_dynamo::from_attribute_value(value).map_err(corrupt)?);
        } else if name.starts_with(REFUND_PREFIX) {
            file.refunds
                .push(serde_dynamo::from_attribute_value(value).map_err(corrupt)?);
        }
    }
    // Attribute maps have no order; keep the file's stable for callers and tests.
    file.deliveries.sort_by_key(|d| d.delivered_at);
    file.refunds.sort_by(|a, b| a.refund_id.cmp(&b.refund_id));
    Ok(Some(file))
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
        items: Vec<TransactWriteItem>,
    ) -> Result<WebhookOutcome, StoreError> {
        let guarded = TransactWriteItem::builder()
            .put(record_put(&self.idempotency_table, key)?)
            .build();
        let transaction = self
            .client
            .transact_write_items()
            .set_transact_items(Some(std::iter::once(guarded).chain(items).collect()));
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

    /// Writes the order's snapshot with its line joins; with `first`, as its first recording
    /// (conditional on no snapshot being stored) together with its sales counters.
    async fn write_order(
        &self,
        order: &StoreOrder,
        reference: &str,
        key: &IdempotencyRecord,
        first: Option<(&str, &[CounterChange])>,
    ) -> Result<WebhookOutcome, StoreError> {
        let updated = AttributeValue::S(rfc3339(order.source_updated_at));
        let mut attributes = vec![
            (SNAPSHOT.to_owned(), attribute(order)?),
            (
                "ordered_at".to_owned(),
                AttributeValue::S(rfc3339(order.placed_at)),
            ),
            ("source_updated_at".to_owned(), updated.clone()),
        ];
        if let Some(customer) = &order.customer_id {
            attributes.push((
                "customer_id".to_owned(),
                AttributeValue::S(customer.clone()),
            ));
        }
        // Deliveries and refunds may have arrived first: the update keeps their attributes.
        let condition = match first {
            Some(_) => ("attribute_not_exists(source_updated_at)", vec![]),
            None => (
                "attribute_not_exists(source_updated_at) OR source_updated_at < :updated",
                vec![(":updated", updated)],
            ),
        };
        let order_update = self.order_update(reference, attributes, Some(condition))?;
        let mut items = vec![TransactWriteItem::builder().update(order_update).build()];
        if let Some((table, counters)) = first {
            for change in counters {
                items.push(
                    TransactWriteItem::builder()
                        .update(counter_update(table, change)?)
                        .build(),
                );
            }
        }
        // The idempotency record is the last of the 100 items a transaction takes.
        let room = MAX_TRANSACTION_ITEMS.saturating_sub(items.len() + 1);
        for line in order.lines.iter().take(room) {
            let join = put(
                &self.table,
                LineItem {
                    order_id: reference.to_owned(),
                    entry: format!("{LINE_PREFIX}{}", line.line_item_id),
                    line_item_key: line_item_reference(
                        order.platform,
                        &order.store,
                        &line.line_item_id,
                    ),
                },
            )?;
            items.push(TransactWriteItem::builder().put(join).build());
        }
        if order.lines.len() > room {
            tracing::warn!(
                lines = order.lines.len(),
                "order has more lines than one transaction joins; returns of the rest need the order id"
            );
        }
        // The counter items are shared by every order of a day shard (and of a batch), so in a
        // burst two orders' transactions may collide: DynamoDB cancels one, which is retried
        // here a few times before the storefront is asked to deliver again (503).
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.write(key, items.clone()).await {
                // At once: of colliding transactions DynamoDB lets one through, so every
                // round has a winner.
                Err(StoreError::Unavailable(reason))
                    if first.is_some()
                        && attempt < CONFLICT_ATTEMPTS
                        && reason.contains("TransactionConflict") => {}
                outcome => return outcome,
            }
        }
    }

    /// Sets one delivery's or refund's attribute on the order item, with the idempotency record.
    async fn write_attribute(
        &self,
        reference: &str,
        name: String,
        value: AttributeValue,
        key: &IdempotencyRecord,
    ) -> Result<WebhookOutcome, StoreError> {
        let update = self.order_update(reference, vec![(name, value)], None)?;
        self.write(
            key,
            vec![TransactWriteItem::builder().update(update).build()],
        )
        .await
    }
}

impl OrderStore for DynamoOrderStore {
    async fn record_order(
        &self,
        order: &StoreOrder,
        key: &IdempotencyRecord,
    ) -> Result<WebhookOutcome, StoreError> {
        let reference = order_reference(order.platform, &order.store, &order.order_id);
        if let Some(metrics) = self.metrics_table.as_deref()
            && !self.recorded_before(&reference).await?
        {
            let counters = crate::metrics::order_counter_changes(order, &reference);
            let counted = self
                .write_order(order, &reference, key, Some((metrics, &counters)))
                .await?;
            // Stale here means another delivery recorded the order first: it was counted
            // there, and this one is an update like any other.
            if counted != WebhookOutcome::Stale {
                return Ok(counted);
            }
        }
        self.write_order(order, &reference, key, None).await
    }

    async fn record_delivery(
        &self,
        platform: Platform,
        store: &str,
        delivery: &Delivery,
        key: &IdempotencyRecord,
    ) -> Result<WebhookOutcome, StoreError> {
        self.write_attribute(
            &order_reference(platform, store, &delivery.order_id),
            format!("{DELIVERY_PREFIX}{}", rfc3339(delivery.delivered_at)),
            attribute(delivery)?,
            key,
        )
        .await
    }

    async fn record_refund(
        &self,
        platform: Platform,
        store: &str,
        refund: &RecordedRefund,
        key: &IdempotencyRecord,
    ) -> Result<WebhookOutcome, StoreError> {
        self.write_attribute(
            &order_reference(platform, store, &refund.order_id),
            format!("{REFUND_PREFIX}{}", refund.refund_id),
            attribute(refund)?,
            key,
        )
        .await
    }

    async fn order_file(&self, reference: &str) -> Result<Option<OrderFile>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::order_key(reference)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        order_file_of(reference, output.item)
    }

    async fn complaint_facts(
        &self,
        reference: &str,
        customer_id: &str,
    ) -> Result<ComplaintFacts, StoreError> {
        let keys = |key: HashMap<String, AttributeValue>| {
            KeysAndAttributes::builder()
                .keys(key)
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Rejected(e.to_string()))
        };
        let wanted = HashMap::from([
            (self.table.clone(), keys(Self::order_key(reference))?),
            (
                self.customers_table.clone(),
                keys(customer_key(customer_id))?,
            ),
        ]);
        let mut found = batch_get_all(&self.client, wanted).await?;
        let order = found.remove(&self.table).and_then(|mut i| i.pop());
        let customer = found
            .remove(&self.customers_table)
            .and_then(|mut i| i.pop());
        Ok(ComplaintFacts {
            order: order_file_of(reference, order)?,
            history: case_history(customer.as_ref())?,
        })
    }

    async fn case_history(&self, customer_id: &str) -> Result<CaseHistory, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.customers_table)
            .set_key(Some(customer_key(customer_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        case_history(output.item.as_ref())
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
