//! Batch quality windows and alerts in the quality table, with the alerts' outbox.
//!
//! Layout (table `QualityTable` in `infra/template.yaml`), key `scope` + `entry`:
//! - `scope = "sku#<sku>"`, `entry = "batch#<batch>"`: one (SKU, batch)'s [`BatchWindow`]
//!   (every field, `version` included). Written only with an UpdateItem that SETs the window's
//!   own attributes, conditional on the version read, so of two cases observed at once one
//!   wins and the other is observed again ([`StoreError::Stale`]), and nothing another writer
//!   adds to the item is clobbered.
//! - `scope = "alert#<alert id>"`, `entry = "alert"`: one [`QualityAlert`] (`alert`, a map),
//!   with `alert_id`, `alert_list = "alerts"`, `alert_status` (`open`, `acknowledged`),
//!   `acknowledged` once it is, and `outbox = "unsent"` until its message is confirmed sent.
//!
//! Indexes (windows carry none of their keys, so only alerts are in them; all project the
//! whole item):
//! - `alerts-newest` (`alert_list`, `alert_id`): every alert, newest first (alert ids are
//!   ULIDs of when they were raised). One partition: alerts are rare (a handful a day even in a
//!   bad week), far below a partition's limits.
//! - `alerts-by-status` (`alert_status`, `alert_id`): open or acknowledged alerts, newest first.
//! - `alerts-unsent` (`outbox`, `alert_id`; sparse): the outbox.
//!
//! **The outbox.** An alert is written in the transaction that opens the case raising it, with
//! `outbox = "unsent"`: the case, the window and the duty to tell the quality team are written
//! together or not at all. Intake sends it right after the commit and clears the flag
//! ([`QualityStore::alert_sent`]); what a crash or an SQS failure leaves, the relay
//! ([`QualityStore::unsent_alerts`]) sends on the next run. The FIFO queue drops a repeat
//! within 5 minutes by the alert's deduplication id.
//!
//! Units sold per (SKU, batch) are read from the metrics table
//! ([`crate::metrics::units_sold_series`], attribute `units`) in the same BatchGetItem as the
//! windows.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::dynamo::{batch_get_all, corrupt, store_error};
use crate::case::{Sku, TimelineEntry};
use crate::metrics::{ALL_TIME, units_sold_series};
use crate::quality_alert::{
    Acknowledgement, AlertId, AlertStatus, BatchNo, BatchWindow, QualityAlert,
};

const ALERT_ENTRY: &str = "alert";
const ALERT_LIST: &str = "alerts";
const OUTBOX_UNSENT: &str = "unsent";
const NEWEST: &str = "alerts-newest";
const BY_STATUS: &str = "alerts-by-status";
const UNSENT: &str = "alerts-unsent";

/// What opening a case writes about quality, in the case's own transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QualityObservation {
    /// The windows the case changed, each exactly one version above the version read.
    pub windows: Vec<BatchWindow>,
    /// The alerts the case raised (written unsent: the outbox).
    pub alerts: Vec<QualityAlert>,
    /// The case's timeline entry saying why it went to the expert queue: its batch has an
    /// alert open.
    pub flag: Option<TimelineEntry>,
}

impl QualityObservation {
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.alerts.is_empty() && self.flag.is_none()
    }
}

/// One page of alerts, newest first, and where the next starts (opaque to clients).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertPage {
    pub alerts: Vec<QualityAlert>,
    pub next: Option<String>,
}

/// Where batch windows and quality alerts live.
pub trait QualityStore: Send + Sync {
    /// The windows of `batches` (a new, empty one for a batch never seen), with the units
    /// sold of each as the metrics hold them: one strongly consistent BatchGetItem.
    fn windows(
        &self,
        batches: &[(Sku, BatchNo)],
    ) -> impl Future<Output = Result<Vec<BatchWindow>, StoreError>> + Send;

    /// One alert, or `None`.
    fn alert(
        &self,
        id: &AlertId,
    ) -> impl Future<Output = Result<Option<QualityAlert>, StoreError>> + Send;

    /// Alerts newest first, of one status or all, `limit` at a time from `after`.
    fn alerts(
        &self,
        status: Option<AlertStatus>,
        limit: i32,
        after: Option<&str>,
    ) -> impl Future<Output = Result<AlertPage, StoreError>> + Send;

    /// Stores an acknowledgement: the window (one version above the version read) and the
    /// alert's `acknowledged`, in one transaction; `Conflict` if the window changed or the
    /// alert was acknowledged since they were read.
    fn record_acknowledgement(
        &self,
        window: &BatchWindow,
        acknowledgement: &Acknowledgement,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Alerts whose message is not confirmed sent, oldest first, at most `limit`.
    fn unsent_alerts(
        &self,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<QualityAlert>, StoreError>> + Send;

    /// Takes a sent alert out of the outbox; `Conflict` if it was already.
    fn alert_sent(&self, id: &AlertId) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoQualityStore {
    client: Client,
    table: String,
    metrics_table: String,
}

impl DynamoQualityStore {
    pub fn new(client: Client, table: impl Into<String>, metrics_table: impl Into<String>) -> Self {
        DynamoQualityStore {
            client,
            table: table.into(),
            metrics_table: metrics_table.into(),
        }
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn window_key(sku: &Sku, batch: Option<&BatchNo>) -> HashMap<String, AttributeValue> {
    let batch = batch.map(BatchNo::as_str).unwrap_or_default();
    HashMap::from([
        ("scope".to_owned(), s(format!("sku#{}", sku.as_str()))),
        ("entry".to_owned(), s(format!("batch#{batch}"))),
    ])
}

fn alert_key(id: &AlertId) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("scope".to_owned(), s(format!("alert#{id}"))),
        ("entry".to_owned(), s(ALERT_ENTRY)),
    ])
}

/// The stored shape of an alert.
#[derive(Debug, Serialize, Deserialize)]
struct AlertItem {
    scope: String,
    entry: String,
    alert_id: String,
    alert_list: String,
    alert_status: AlertStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outbox: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acknowledged: Option<Acknowledgement>,
    alert: QualityAlert,
}

fn alert_of(item: HashMap<String, AttributeValue>) -> Result<QualityAlert, StoreError> {
    let stored: AlertItem = serde_dynamo::from_item(item).map_err(corrupt)?;
    let mut alert = stored.alert;
    alert.acknowledged = stored.acknowledged;
    Ok(alert)
}

fn window_of(mut item: HashMap<String, AttributeValue>) -> Result<BatchWindow, StoreError> {
    item.remove("scope");
    item.remove("entry");
    serde_dynamo::from_item(item).map_err(corrupt)
}

/// The conditional update of a window one version above the version read: SETs its own
/// attributes, REMOVEs the optional ones it no longer has.
pub(crate) fn window_update(table: &str, window: &BatchWindow) -> Result<Update, StoreError> {
    let read = window
        .version
        .checked_sub(1)
        .ok_or_else(|| StoreError::Rejected("a changed window has version 1 or more".into()))?;
    let attributes: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(window).map_err(corrupt)?;
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(window_key(&window.sku, window.batch.as_ref())));
    let mut sets = Vec::new();
    for (i, (name, value)) in attributes.into_iter().enumerate() {
        sets.push(format!("#a{i} = :a{i}"));
        update = update
            .expression_attribute_names(format!("#a{i}"), name)
            .expression_attribute_values(format!(":a{i}"), value);
    }
    let mut removes = Vec::new();
    for (name, absent) in [
        ("open_alert", window.open_alert.is_none()),
        ("acknowledged", window.acknowledged.is_none()),
    ] {
        if absent {
            removes.push(format!("#r_{name}"));
            update = update.expression_attribute_names(format!("#r_{name}"), name);
        }
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    // The version attribute is among the SETs; its name placeholder for the condition:
    update = update.expression_attribute_names("#version", "version");
    let condition = if read == 0 {
        "attribute_not_exists(#version)".to_owned()
    } else {
        update = update.expression_attribute_values(":read", AttributeValue::N(read.to_string()));
        "#version = :read".to_owned()
    };
    update
        .update_expression(expression)
        .condition_expression(condition)
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

/// The put of a newly raised alert, unsent (in the outbox), never overwriting one.
pub(crate) fn alert_put(table: &str, alert: &QualityAlert) -> Result<Put, StoreError> {
    let id = alert.alert_id;
    let item = AlertItem {
        scope: format!("alert#{id}"),
        entry: ALERT_ENTRY.to_owned(),
        alert_id: id.to_string(),
        alert_list: ALERT_LIST.to_owned(),
        alert_status: AlertStatus::Open,
        outbox: Some(OUTBOX_UNSENT.to_owned()),
        acknowledged: None,
        alert: QualityAlert {
            acknowledged: None,
            ..alert.clone()
        },
    };
    Put::builder()
        .table_name(table)
        .set_item(Some(serde_dynamo::to_item(item).map_err(corrupt)?))
        .condition_expression("attribute_not_exists(#scope)")
        .expression_attribute_names("#scope", "scope")
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

/// The transaction items of a case's quality observation.
pub(crate) fn observation_writes(
    table: &str,
    observation: &QualityObservation,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut writes = Vec::new();
    for window in &observation.windows {
        writes.push(
            TransactWriteItem::builder()
                .update(window_update(table, window)?)
                .build(),
        );
    }
    for alert in &observation.alerts {
        writes.push(
            TransactWriteItem::builder()
                .put(alert_put(table, alert)?)
                .build(),
        );
    }
    Ok(writes)
}

/// Whether a transaction item writes a window of the quality table `table` (so its failed
/// condition means "observed on a stale window", not "already done").
pub(crate) fn is_window_write(item: &TransactWriteItem, table: &str) -> bool {
    let on_window = |key: &HashMap<String, AttributeValue>| {
        key.get("entry")
            .and_then(|v| v.as_s().ok())
            .is_some_and(|entry| entry.starts_with("batch#"))
    };
    if let Some(update) = item.update() {
        return update.table_name() == table && on_window(update.key());
    }
    if let Some(put) = item.put() {
        // An alert's id is derived from its batch and sequence: it exists only if the same
        // crossing was written already, which the window's version also caught.
        return put.table_name() == table;
    }
    false
}

impl QualityStore for DynamoQualityStore {
    async fn windows(&self, batches: &[(Sku, BatchNo)]) -> Result<Vec<BatchWindow>, StoreError> {
        if batches.is_empty() {
            return Ok(vec![]);
        }
        let window_keys: Vec<_> = batches
            .iter()
            .map(|(sku, batch)| window_key(sku, Some(batch)))
            .collect();
        let unit_keys: Vec<_> = batches
            .iter()
            .map(|(sku, batch)| {
                HashMap::from([
                    ("series".to_owned(), s(units_sold_series(sku, batch))),
                    ("period".to_owned(), s(ALL_TIME)),
                ])
            })
            .collect();
        let request = HashMap::from([
            (
                self.table.clone(),
                KeysAndAttributes::builder()
                    .set_keys(Some(window_keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Rejected(e.to_string()))?,
            ),
            (
                self.metrics_table.clone(),
                KeysAndAttributes::builder()
                    .set_keys(Some(unit_keys))
                    .build()
                    .map_err(|e| StoreError::Rejected(e.to_string()))?,
            ),
        ]);
        let mut windows: HashMap<(String, String), BatchWindow> = HashMap::new();
        let mut units: HashMap<String, u64> = HashMap::new();
        let mut found = batch_get_all(&self.client, request).await?;
        for item in found.remove(&self.table).unwrap_or_default() {
            let window = window_of(item)?;
            let batch = window
                .batch
                .as_ref()
                .map(|b| b.to_string())
                .unwrap_or_default();
            windows.insert((window.sku.as_str().to_owned(), batch), window);
        }
        for item in found.remove(&self.metrics_table).unwrap_or_default() {
            let series = item.get("series").and_then(|v| v.as_s().ok()).cloned();
            let sold = item
                .get("units")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
                .unwrap_or(0);
            if let Some(series) = series {
                units.insert(series, u64::try_from(sold).unwrap_or(0));
            }
        }
        Ok(batches
            .iter()
            .map(|(sku, batch)| {
                let sold = units
                    .get(&units_sold_series(sku, batch))
                    .copied()
                    .unwrap_or(0);
                let mut window = windows
                    .remove(&(sku.as_str().to_owned(), batch.to_string()))
                    .unwrap_or_else(|| BatchWindow::new(sku.clone(), Some(batch.clone()), 0));
                window.units_sold = sold;
                window
            })
            .collect())
    }

    async fn alert(&self, id: &AlertId) -> Result<Option<QualityAlert>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(alert_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output.item.map(alert_of).transpose()
    }

    async fn alerts(
        &self,
        status: Option<AlertStatus>,
        limit: i32,
        after: Option<&str>,
    ) -> Result<AlertPage, StoreError> {
        let (index, partition, value) = match status {
            Some(status) => (BY_STATUS, "alert_status", status.as_str()),
            None => (NEWEST, "alert_list", ALERT_LIST),
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", partition)
            .expression_attribute_values(":p", s(value))
            .scan_index_forward(false)
            .limit(limit.max(1));
        if let Some(cursor) = after {
            let id = decode_cursor(cursor)?;
            let mut start = alert_key(&id);
            start.insert("alert_id".to_owned(), s(id.to_string()));
            start.insert(partition.to_owned(), s(value));
            query = query.set_exclusive_start_key(Some(start));
        }
        let output = query.send().await.map_err(store_error)?;
        let alerts = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(alert_of)
            .collect::<Result<Vec<_>, _>>()?;
        let next = output
            .last_evaluated_key
            .and_then(|key| key.get("alert_id").and_then(|v| v.as_s().ok()).cloned())
            .map(|id| encode_cursor(&id));
        Ok(AlertPage { alerts, next })
    }

    async fn record_acknowledgement(
        &self,
        window: &BatchWindow,
        acknowledgement: &Acknowledgement,
    ) -> Result<(), StoreError> {
        let alert = Update::builder()
            .table_name(&self.table)
            .set_key(Some(alert_key(&acknowledgement.alert_id)))
            .update_expression("SET acknowledged = :ack, alert_status = :status")
            .condition_expression("attribute_exists(#scope) AND attribute_not_exists(acknowledged)")
            .expression_attribute_names("#scope", "scope")
            .expression_attribute_values(
                ":ack",
                AttributeValue::M(serde_dynamo::to_item(acknowledgement).map_err(corrupt)?),
            )
            .expression_attribute_values(":status", s(AlertStatus::Acknowledged.as_str()))
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))?;
        self.client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(window_update(&self.table, window)?)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(alert).build())
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn unsent_alerts(&self, limit: i32) -> Result<Vec<QualityAlert>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(UNSENT)
            .key_condition_expression("outbox = :unsent")
            .expression_attribute_values(":unsent", s(OUTBOX_UNSENT))
            .scan_index_forward(true)
            .limit(limit.max(1))
            .send()
            .await
            .map_err(store_error)?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(alert_of)
            .collect()
    }

    async fn alert_sent(&self, id: &AlertId) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(alert_key(id)))
            .update_expression("REMOVE outbox")
            .condition_expression("outbox = :unsent")
            .expression_attribute_values(":unsent", s(OUTBOX_UNSENT))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

fn encode_cursor(alert_id: &str) -> String {
    let key = BTreeMap::from([("alert_id", alert_id)]);
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&key).expect("a map of strings serialises"))
}

/// A cursor back into the alert id it was made of; anything else is a bad cursor.
fn decode_cursor(cursor: &str) -> Result<AlertId, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    let key: BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    key.get("alert_id")
        .and_then(|id| id.parse().ok())
        .ok_or(StoreError::BadCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> BatchWindow {
        BatchWindow::new(
            Sku::parse("CREAM-50").unwrap(),
            Some(BatchNo::parse("B2411").unwrap()),
            400,
        )
    }

    #[test]
    fn a_window_round_trips_through_its_item() {
        let mut stored = window();
        stored.version = 3;
        let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&stored).unwrap();
        item.extend(window_key(&stored.sku, stored.batch.as_ref()));
        assert_eq!(window_of(item).unwrap(), stored);
    }

    #[test]
    fn a_window_update_is_conditional_on_the_version_read() {
        let mut first = window();
        first.version = 1;
        let update = window_update("q", &first).unwrap();
        assert_eq!(
            update.condition_expression(),
            Some("attribute_not_exists(#version)")
        );
        assert!(update.update_expression().contains("REMOVE"));
        first.version = 4;
        let update = window_update("q", &first).unwrap();
        assert_eq!(update.condition_expression(), Some("#version = :read"));
        assert_eq!(
            update.expression_attribute_values().unwrap()[":read"],
            AttributeValue::N("3".into())
        );
        assert!(
            window_update("q", &window()).is_err(),
            "version 0 is unwritten"
        );
        let item = TransactWriteItem::builder().update(update).build();
        assert!(is_window_write(&item, "q"));
        assert!(!is_window_write(&item, "cases"));
    }

    #[test]
    fn cursors_carry_an_alert_id_only() {
        let id = "01JD0000000000000000000000";
        assert_eq!(decode_cursor(&encode_cursor(id)).unwrap().to_string(), id);
        assert_eq!(decode_cursor("nope"), Err(StoreError::BadCursor));
        assert_eq!(
            decode_cursor(&encode_cursor("not-an-id")),
            Err(StoreError::BadCursor)
        );
    }
}
