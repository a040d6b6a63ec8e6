//! Cases and their timelines in the cases table.
//!
//! Layout (table `CasesTable` in `infra/template.yaml`):
//! - key `case_id` + `entry`: `entry = "case"` is the case itself, `entry = "timeline#<ulid>"`
//!   one timeline entry, so one Query returns a case with its whole history;
//! - index `cases-by-customer` (`customer_id`, `case_id`): a customer's cases, newest first
//!   (case ids are ULIDs);
//! - index `cases-by-queue` (`queue`, `queue_rank`): a work queue, most urgent and oldest due
//!   first; only open cases carry `queue_rank`, so closed ones leave the index;
//! - index `sla-timers-due` (`sla_shard`, `sla_due_at`): running SLA clocks by next deadline,
//!   written across [`crate::sla::TIMER_SHARDS`] shards; a stopped clock removes the attributes.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::StoreError;
use super::customers::record_opening;
use super::dynamo::{corrupt, failed_conditions, store_error};
use super::idempotency::record_put;
use super::quality::{QualityObservation, is_window_write, observation_writes};
use super::refunds::opening_writes;
use super::surveys::scheduling_update;
use crate::case::{
    Case, CaseId, CaseLine, CaseStatus, Description, OrderId, Priority, Queue, TimelineEntry,
};
use crate::classify::Classification;
use crate::clock::rfc3339;
use crate::escalation::Escalation;
use crate::evidence::CasePhotos;
use crate::idempotency::IdempotencyRecord;
use crate::refund::Refund;
use crate::remedy::RemedyDecision;
use crate::service_levels::CounterChange;
use crate::sla::{SlaClocks, TIMER_SHARDS, timer_shard};
use crate::survey::Survey;
use crate::workflow::Resolution;

const CASE_ENTRY: &str = "case";
const TIMELINE_PREFIX: &str = "timeline#";

/// A case with its timeline, oldest entry first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFile {
    pub case: Case,
    pub timeline: Vec<TimelineEntry>,
}

/// One page of a listing, and where the next page starts (opaque to clients).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasePage {
    pub cases: Vec<Case>,
    pub next: Option<String>,
}

/// The SLA timer index: running clocks by their next checkpoint, and the sweep's writes.
pub trait SlaTimerIndex: Send + Sync {
    /// Cases whose next checkpoint is at or before `now`, oldest first within each shard, at
    /// most `limit_per_shard` from each. One Query per shard on an index that projects the
    /// whole case, so the sweep reads only what is due, and each due case once.
    fn due_cases(
        &self,
        now: DateTime<Utc>,
        limit_per_shard: i32,
    ) -> impl Future<Output = Result<Vec<Case>, StoreError>> + Send;

    /// Stores an escalated case with its timeline entries, in one transaction, if the case is
    /// still the version the sweep read; `Conflict` otherwise (another sweep or a person
    /// changed it first).
    fn record_escalation(
        &self,
        escalation: &Escalation,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What a case write stores beside the case and its timeline entry, in the same transaction:
/// all of it or none. Each part that a change has nothing for stays empty (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct WrittenWith<'a> {
    /// The record of the request's answer, when it carried an `Idempotency-Key`.
    pub idempotency: Option<&'a IdempotencyRecord>,
    /// What the change adds to the metrics counters.
    pub counters: &'a [CounterChange],
    /// The refund request a refund resolution opens.
    pub refund: Option<&'a Refund>,
    /// What opening the case changed in its batches' quality windows, and the alerts it
    /// raised (see [`QualityObservation`]).
    pub quality: Option<&'a QualityObservation>,
    /// The satisfaction survey a resolution schedules (kept as it is if the case has one).
    pub survey: Option<&'a Survey>,
}

/// Where cases live.
pub trait CaseStore: Send + Sync {
    /// Stores a newly opened case, its first timeline entry, the opening in the customer's case
    /// history and what it is `written_with`, atomically; `Conflict` if a case with that id
    /// exists or the idempotency key was used before.
    fn open_case(
        &self,
        case: &Case,
        first_entry: &TimelineEntry,
        written_with: WrittenWith<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a changed case (its `version` one above the version read) with the timeline
    /// entry of the change and what it is `written_with`, in one transaction; `Conflict` if the
    /// case changed since it was read or the idempotency key was used.
    fn record_change(
        &self,
        case: &Case,
        entry: &TimelineEntry,
        written_with: WrittenWith<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A customer's cases, newest first, `limit` at a time from `after` (a page's `next`).
    fn cases_of_customer(
        &self,
        customer_id: &str,
        limit: i32,
        after: Option<&str>,
    ) -> impl Future<Output = Result<CasePage, StoreError>> + Send;

    /// A work queue: urgent first, then risk-flagged, then by the deadline due next.
    fn work_queue(
        &self,
        queue: Queue,
        limit: i32,
        after: Option<&str>,
    ) -> impl Future<Output = Result<CasePage, StoreError>> + Send;

    /// The case alone (one strongly consistent GetItem), or `None`: for changes that need no
    /// history.
    fn case(&self, id: &CaseId) -> impl Future<Output = Result<Option<Case>, StoreError>> + Send;

    /// The case with its timeline, or `None`.
    fn case_file(
        &self,
        id: &CaseId,
    ) -> impl Future<Output = Result<Option<CaseFile>, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoCaseStore {
    client: Client,
    table: String,
    idempotency_table: Option<String>,
    customers_table: Option<String>,
    metrics_table: Option<String>,
    refunds_table: Option<String>,
    quality_table: Option<String>,
    surveys_table: Option<String>,
}

impl DynamoCaseStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoCaseStore {
            client,
            table: table.into(),
            idempotency_table: None,
            customers_table: None,
            metrics_table: None,
            refunds_table: None,
            quality_table: None,
            surveys_table: None,
        }
    }

    /// Where the quality windows and alerts an opened case changes are written (in the
    /// case's transaction).
    pub fn with_quality_table(mut self, table: impl Into<String>) -> Self {
        self.quality_table = Some(table.into());
        self
    }

    /// Where the SLA overview's counters go: every case change that moves them writes them in
    /// its own transaction.
    pub fn with_metrics_table(mut self, table: impl Into<String>) -> Self {
        self.metrics_table = Some(table.into());
        self
    }

    /// The counter updates of a change, as transaction items.
    fn counter_updates(
        &self,
        counters: &[CounterChange],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        if counters.is_empty() {
            return Ok(vec![]);
        }
        let table = self.metrics_table.as_deref().ok_or_else(|| {
            StoreError::Rejected("no metrics table configured for the case store".into())
        })?;
        counters
            .iter()
            .map(|change| {
                Ok(TransactWriteItem::builder()
                    .update(counter_update(table, change)?)
                    .build())
            })
            .collect()
    }

    /// The transaction items of what a case write is written with.
    fn companion_writes(
        &self,
        written_with: WrittenWith<'_>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut writes = Vec::new();
        if let Some(record) = written_with.idempotency {
            writes.push(
                TransactWriteItem::builder()
                    .put(record_put(self.idempotency_table()?, record)?)
                    .build(),
            );
        }
        writes.extend(self.counter_updates(written_with.counters)?);
        if let Some(refund) = written_with.refund {
            let table = self.refunds_table.as_deref().ok_or_else(|| {
                StoreError::Rejected("no refunds table configured for the case store".into())
            })?;
            writes.extend(opening_writes(table, refund)?);
        }
        if let Some(observation) = written_with.quality.filter(|o| !o.is_empty()) {
            let table = self.quality_table.as_deref().ok_or_else(|| {
                StoreError::Rejected("no quality table configured for the case store".into())
            })?;
            writes.extend(observation_writes(table, observation)?);
        }
        if let Some(survey) = written_with.survey {
            let table = self.surveys_table.as_deref().ok_or_else(|| {
                StoreError::Rejected("no surveys table configured for the case store".into())
            })?;
            writes.push(
                TransactWriteItem::builder()
                    .update(scheduling_update(table, survey)?)
                    .build(),
            );
        }
        Ok(writes)
    }

    fn idempotency_table(&self) -> Result<&str, StoreError> {
        self.idempotency_table.as_deref().ok_or_else(|| {
            StoreError::Rejected("no idempotency table configured for the case store".into())
        })
    }

    /// Where the customers' case histories go: opening a case appends to its customer's.
    /// Where a refund resolution's request is written (with the case, in one transaction).
    pub fn with_refunds_table(mut self, table: impl Into<String>) -> Self {
        self.refunds_table = Some(table.into());
        self
    }

    /// Where a resolution's survey is scheduled (with the case, in one transaction).
    pub fn with_surveys_table(mut self, table: impl Into<String>) -> Self {
        self.surveys_table = Some(table.into());
        self
    }

    pub fn with_customers_table(mut self, table: impl Into<String>) -> Self {
        self.customers_table = Some(table.into());
        self
    }

    /// Where idempotency records written with a case go.
    pub fn with_idempotency_table(mut self, table: impl Into<String>) -> Self {
        self.idempotency_table = Some(table.into());
        self
    }
}

/// The stored shape of a case; separate from [`Case`] so storage can evolve on its own.
#[derive(Debug, Serialize, Deserialize)]
struct CaseItem {
    case_id: String,
    entry: String,
    customer_id: String,
    order_id: OrderId,
    lines: Vec<CaseLine>,
    description: Description,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    opened: Option<bool>,
    status: CaseStatus,
    queue: Queue,
    priority: Priority,
    classification: Classification,
    remedies: RemedyDecision,
    opened_at: DateTime<Utc>,
    sla: SlaClocks,
    #[serde(default)]
    escalation_level: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_response_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    waiting_since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolution: Option<Resolution>,
    /// Absent on cases stored before photo evidence existed.
    #[serde(default)]
    photos: CasePhotos,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queue_rank: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sla_shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sla_due_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TimelineItem {
    case_id: String,
    entry: String,
    #[serde(flatten)]
    timeline: TimelineEntry,
}

/// The sort key of the work-queue index: urgent first, then risk-flagged (public-opinion
/// threats, repeat complainants), then by the deadline that is due next.
fn queue_rank(case: &Case, due: DateTime<Utc>) -> String {
    let urgency = match (case.priority, case.risk_flagged()) {
        (Priority::Urgent, _) => 0,
        (Priority::Normal, true) => 1,
        (Priority::Normal, false) => 2,
    };
    format!("{urgency}#{}#{}", rfc3339(due), case.id)
}

impl From<&Case> for CaseItem {
    fn from(case: &Case) -> Self {
        let checkpoint = case.next_sla_checkpoint();
        let open = !matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed);
        CaseItem {
            case_id: case.id.to_string(),
            entry: CASE_ENTRY.to_owned(),
            customer_id: case.customer_id.clone(),
            order_id: case.order_id.clone(),
            lines: case.lines.clone(),
            description: case.description.clone(),
            opened: case.opened,
            status: case.status,
            queue: case.queue,
            priority: case.priority,
            classification: case.classification.clone(),
            remedies: case.remedies.clone(),
            opened_at: case.opened_at,
            sla: case.sla,
            escalation_level: case.escalation_level,
            first_response_at: case.first_response_at,
            assignee: case.assignee.clone(),
            waiting_since: case.waiting_since,
            resolution: case.resolution.clone(),
            photos: case.photos.clone(),
            version: case.version,
            queue_rank: open.then(|| queue_rank(case, case.next_sla_deadline())),
            sla_shard: checkpoint.map(|_| format!("{:02}", timer_shard(&case.id))),
            sla_due_at: checkpoint.map(rfc3339),
        }
    }
}

impl TryFrom<CaseItem> for Case {
    type Error = StoreError;
    fn try_from(item: CaseItem) -> Result<Self, StoreError> {
        Ok(Case {
            id: item.case_id.parse().map_err(corrupt)?,
            customer_id: item.customer_id,
            order_id: item.order_id,
            lines: item.lines,
            description: item.description,
            opened: item.opened,
            status: item.status,
            queue: item.queue,
            priority: item.priority,
            classification: item.classification,
            remedies: item.remedies,
            opened_at: item.opened_at,
            sla: item.sla,
            escalation_level: item.escalation_level,
            first_response_at: item.first_response_at,
            assignee: item.assignee,
            waiting_since: item.waiting_since,
            resolution: item.resolution,
            photos: item.photos,
            version: item.version,
        })
    }
}

/// Atomic additions to one counter item of the metrics table (key `series`, `period`).
pub(crate) fn counter_update(table: &str, change: &CounterChange) -> Result<Update, StoreError> {
    let mut update = Update::builder()
        .table_name(table)
        .key("series", AttributeValue::S(change.series.clone()))
        .key("period", AttributeValue::S(change.period.clone()));
    let mut adds = Vec::with_capacity(change.adds.len());
    for (i, (attribute, amount)) in change.adds.iter().enumerate() {
        adds.push(format!("#c{i} :c{i}"));
        update = update
            .expression_attribute_names(format!("#c{i}"), attribute)
            .expression_attribute_values(format!(":c{i}"), AttributeValue::N(amount.to_string()));
    }
    update
        .update_expression(format!("ADD {}", adds.join(", ")))
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

/// A case as stored, for bulk loads (benchmarks, migrations) that write with BatchWriteItem
/// rather than one transaction per case.
pub fn case_item(case: &Case) -> Result<HashMap<String, AttributeValue>, StoreError> {
    serde_dynamo::to_item(CaseItem::from(case)).map_err(corrupt)
}

/// A put of a changed case (its `version` one above the version read), conditional on the
/// stored case still being the version read: of two concurrent changes one wins.
fn changed_case_put(table: &str, case: &Case) -> Result<Put, StoreError> {
    let read_version = case
        .version
        .checked_sub(1)
        .ok_or_else(|| StoreError::Rejected("a changed case has version 2 or more".into()))?;
    Put::builder()
        .table_name(table)
        .set_item(Some(
            serde_dynamo::to_item(CaseItem::from(case)).map_err(corrupt)?,
        ))
        .condition_expression("version = :read")
        .expression_attribute_values(":read", AttributeValue::N(read_version.to_string()))
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

/// A put of one timeline entry of `case` (never overwriting one): for other adapters that
/// write a case's history in their own transactions (a refund decision the customer sees).
pub(crate) fn timeline_put(
    table: &str,
    case: &CaseId,
    entry: &TimelineEntry,
) -> Result<Put, StoreError> {
    let item = TimelineItem {
        case_id: case.to_string(),
        entry: format!("{TIMELINE_PREFIX}{}", Ulid::from_datetime(entry.at.into())),
        timeline: entry.clone(),
    };
    Put::builder()
        .table_name(table)
        .set_item(Some(serde_dynamo::to_item(item).map_err(corrupt)?))
        .condition_expression("attribute_not_exists(case_id)")
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

impl CaseStore for DynamoCaseStore {
    async fn open_case(
        &self,
        case: &Case,
        first_entry: &TimelineEntry,
        written_with: WrittenWith<'_>,
    ) -> Result<(), StoreError> {
        let case_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(
                serde_dynamo::to_item(CaseItem::from(case)).map_err(corrupt)?,
            ))
            .condition_expression("attribute_not_exists(case_id)")
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))?;
        let mut items = vec![
            TransactWriteItem::builder().put(case_put).build(),
            TransactWriteItem::builder()
                .put(timeline_put(&self.table, &case.id, first_entry)?)
                .build(),
        ];
        let customers = self.customers_table.as_deref().ok_or_else(|| {
            StoreError::Rejected("no customers table configured for the case store".into())
        })?;
        items.push(
            TransactWriteItem::builder()
                .update(record_opening(
                    customers,
                    &case.customer_id,
                    case.opened_at,
                )?)
                .build(),
        );
        if let Some(flag) = written_with.quality.and_then(|q| q.flag.as_ref()) {
            items.push(
                TransactWriteItem::builder()
                    .put(timeline_put(&self.table, &case.id, flag)?)
                    .build(),
            );
        }
        items.extend(self.companion_writes(written_with)?);
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(err) => {
                // A window observed at a version another opening has since moved is no
                // "already exists": the caller observes again and retries.
                let failed = failed_conditions(&err);
                let stale = self.quality_table.as_deref().is_some_and(|table| {
                    !failed.is_empty()
                        && failed.iter().all(|&i| {
                            items
                                .get(i)
                                .is_some_and(|item| is_window_write(item, table))
                        })
                });
                Err(if stale {
                    StoreError::Stale
                } else {
                    store_error(err)
                })
            }
        }
    }

    async fn record_change(
        &self,
        case: &Case,
        entry: &TimelineEntry,
        written_with: WrittenWith<'_>,
    ) -> Result<(), StoreError> {
        let case_put = changed_case_put(&self.table, case)?;
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(case_put).build())
            .transact_items(
                TransactWriteItem::builder()
                    .put(timeline_put(&self.table, &case.id, entry)?)
                    .build(),
            );
        for write in self.companion_writes(written_with)? {
            transaction = transaction.transact_items(write);
        }
        transaction.send().await.map_err(store_error)?;
        Ok(())
    }

    async fn cases_of_customer(
        &self,
        customer_id: &str,
        limit: i32,
        after: Option<&str>,
    ) -> Result<CasePage, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("cases-by-customer")
            .key_condition_expression("customer_id = :c")
            .expression_attribute_values(":c", AttributeValue::S(customer_id.to_owned()))
            .scan_index_forward(false)
            .limit(limit);
        if let Some(cursor) = after {
            let case_id = decode_cursor(cursor)?
                .remove("case_id")
                .ok_or(StoreError::BadCursor)?;
            query = query.set_exclusive_start_key(Some(HashMap::from([
                (
                    "customer_id".to_owned(),
                    AttributeValue::S(customer_id.to_owned()),
                ),
                ("case_id".to_owned(), AttributeValue::S(case_id)),
                ("entry".to_owned(), AttributeValue::S(CASE_ENTRY.to_owned())),
            ])));
        }
        let output = query.send().await.map_err(store_error)?;
        page(
            output.items.unwrap_or_default(),
            output.last_evaluated_key,
            &["case_id"],
        )
    }

    async fn work_queue(
        &self,
        queue: Queue,
        limit: i32,
        after: Option<&str>,
    ) -> Result<CasePage, StoreError> {
        let queue_name = serde_json::to_value(queue)
            .map_err(corrupt)?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("cases-by-queue")
            .key_condition_expression("#queue = :q")
            .expression_attribute_names("#queue", "queue")
            .expression_attribute_values(":q", AttributeValue::S(queue_name.clone()))
            .scan_index_forward(true)
            .limit(limit);
        if let Some(cursor) = after {
            let mut key = decode_cursor(cursor)?;
            let (Some(rank), Some(case_id)) = (key.remove("queue_rank"), key.remove("case_id"))
            else {
                return Err(StoreError::BadCursor);
            };
            query = query.set_exclusive_start_key(Some(HashMap::from([
                ("queue".to_owned(), AttributeValue::S(queue_name)),
                ("queue_rank".to_owned(), AttributeValue::S(rank)),
                ("case_id".to_owned(), AttributeValue::S(case_id)),
                ("entry".to_owned(), AttributeValue::S(CASE_ENTRY.to_owned())),
            ])));
        }
        let output = query.send().await.map_err(store_error)?;
        page(
            output.items.unwrap_or_default(),
            output.last_evaluated_key,
            &["queue_rank", "case_id"],
        )
    }

    async fn case(&self, id: &CaseId) -> Result<Option<Case>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("case_id", AttributeValue::S(id.to_string()))
            .key("entry", AttributeValue::S(CASE_ENTRY.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output
            .item
            .map(|item| {
                let stored: CaseItem = serde_dynamo::from_item(item).map_err(corrupt)?;
                Case::try_from(stored)
            })
            .transpose()
    }

    async fn case_file(&self, id: &CaseId) -> Result<Option<CaseFile>, StoreError> {
        let mut case = None;
        let mut timeline = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("case_id = :id")
            .expression_attribute_values(":id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(store_error)?;
            let entry = item.get("entry").and_then(|v| v.as_s().ok()).cloned();
            match entry.as_deref() {
                Some(CASE_ENTRY) => {
                    let stored: CaseItem = serde_dynamo::from_item(item).map_err(corrupt)?;
                    case = Some(Case::try_from(stored)?);
                }
                Some(e) if e.starts_with(TIMELINE_PREFIX) => {
                    let stored: TimelineItem = serde_dynamo::from_item(item).map_err(corrupt)?;
                    timeline.push(stored.timeline);
                }
                // Entries of later features (photos, ...) are read by their own adapters.
                _ => {}
            }
        }
        Ok(case.map(|case| CaseFile { case, timeline }))
    }
}

/// A page of case items, with the cursor built from the `fields` of the last evaluated key.
fn page(
    items: Vec<HashMap<String, AttributeValue>>,
    last: Option<HashMap<String, AttributeValue>>,
    fields: &[&str],
) -> Result<CasePage, StoreError> {
    let cases = items
        .into_iter()
        .map(|item| {
            serde_dynamo::from_item::<_, CaseItem>(item)
                .map_err(corrupt)
                .and_then(Case::try_from)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let next = last.map(|key| {
        let wanted: BTreeMap<&str, &str> = fields
            .iter()
            .filter_map(|f| {
                key.get(*f)
                    .and_then(|v| v.as_s().ok())
                    .map(|v| (*f, v.as_str()))
            })
            .collect();
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wanted).expect("a map of strings serialises"))
    });
    Ok(CasePage { cases, next })
}

/// A cursor back into the key fields it was made of; anything else is a bad cursor.
fn decode_cursor(cursor: &str) -> Result<BTreeMap<String, String>, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    let key: BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    if key
        .get("case_id")
        .is_none_or(|id| id.parse::<CaseId>().is_err())
    {
        return Err(StoreError::BadCursor);
    }
    Ok(key)
}

impl SlaTimerIndex for DynamoCaseStore {
    async fn due_cases(
        &self,
        now: DateTime<Utc>,
        limit_per_shard: i32,
    ) -> Result<Vec<Case>, StoreError> {
        let queries = (0..TIMER_SHARDS).map(|shard| {
            self.client
                .query()
                .table_name(&self.table)
                .index_name("sla-timers-due")
                .key_condition_expression("sla_shard = :shard AND sla_due_at <= :now")
                .expression_attribute_values(":shard", AttributeValue::S(format!("{shard:02}")))
                .expression_attribute_values(":now", AttributeValue::S(rfc3339(now)))
                .scan_index_forward(true)
                .limit(limit_per_shard)
                .send()
        });
        let mut due = Vec::new();
        for output in futures_util::future::join_all(queries).await {
            for item in output.map_err(store_error)?.items.unwrap_or_default() {
                let stored: CaseItem = serde_dynamo::from_item(item).map_err(corrupt)?;
                due.push(Case::try_from(stored)?);
            }
        }
        due.sort_by_key(|case| case.next_sla_checkpoint());
        Ok(due)
    }

    async fn record_escalation(&self, escalation: &Escalation) -> Result<(), StoreError> {
        let case = &escalation.case;
        let case_put = changed_case_put(&self.table, case)?;
        let mut items = vec![TransactWriteItem::builder().put(case_put).build()];
        for entry in &escalation.timeline {
            items.push(
                TransactWriteItem::builder()
                    .put(timeline_put(&self.table, &case.id, entry)?)
                    .build(),
            );
        }
        items.extend(self.counter_updates(&escalation.counters)?);
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{CaseDraft, NewCaseLine, NewCaseRequest};
    use crate::sla::SlaPolicy;
    use chrono::TimeZone;

    fn case(status: CaseStatus) -> Case {
        let draft = CaseDraft::parse(NewCaseRequest {
            order_id: "1001".into(),
            lines: vec![NewCaseLine {
                sku: "SERUM-30".into(),
                quantity: 1,
            }],
            description: "leaking".into(),
            opened: None,
        })
        .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 11, 8, 0, 0).unwrap();
        let mut case = Case::open(
            draft,
            "c-1",
            crate::assessment::Assessment::of_text("leaking bottle", &Default::default(), now),
            now,
            &SlaPolicy::default(),
        );
        case.status = status;
        case
    }

    #[test]
    fn a_running_clock_is_in_the_timer_index_and_the_queue() {
        let item = CaseItem::from(&case(CaseStatus::New));
        // The index holds the next checkpoint (80 % of the first hour); the queue sorts by the
        // deadline itself.
        assert_eq!(item.sla_due_at.as_deref(), Some("2026-11-11T08:48:00.000Z"));
        assert_eq!(item.sla_shard.as_ref().map(String::len), Some(2));
        assert!(
            item.queue_rank
                .unwrap()
                .starts_with("2#2026-11-11T09:00:00.000Z#")
        );
    }

    #[test]
    fn urgent_then_risk_flagged_cases_rank_first_in_their_queue() {
        let mut urgent = case(CaseStatus::New);
        urgent.priority = Priority::Urgent;
        let mut flagged = case(CaseStatus::New);
        flagged.classification.risk_flags = vec![crate::complaint::RiskFlag::PublicOpinion];
        let normal = case(CaseStatus::New);
        let rank = |c: &Case| CaseItem::from(c).queue_rank.unwrap();
        assert!(rank(&urgent) < rank(&flagged));
        assert!(rank(&flagged) < rank(&normal));
    }

    #[test]
    fn a_paused_clock_leaves_the_timer_index_but_not_the_queue() {
        let item = CaseItem::from(&case(CaseStatus::WaitingOnCustomer));
        assert_eq!(item.sla_due_at, None);
        assert_eq!(item.sla_shard, None);
        assert!(item.queue_rank.is_some());
    }

    #[test]
    fn a_closed_case_leaves_both_indexes() {
        let item = CaseItem::from(&case(CaseStatus::Closed));
        assert_eq!((item.sla_due_at, item.queue_rank), (None, None));
    }

    #[test]
    fn case_items_round_trip() {
        let original = case(CaseStatus::InProgress);
        let item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(CaseItem::from(&original)).unwrap();
        let back: CaseItem = serde_dynamo::from_item(item).unwrap();
        assert_eq!(Case::try_from(back).unwrap(), original);
    }
}
