//! Refunds and their audit trails in the refunds table, and the payout outbox.
//!
//! Layout (table `RefundsTable` in `infra/template.yaml`), key `refund_id` + `entry`:
//! - `entry = "refund"`: the refund (every field of [`Refund`], its audit trail included, and
//!   `version`); `requested_at` and `approved_at` are written as fixed-width RFC 3339 (UTC,
//!   nanoseconds) so the indexes sort them as times. While the refund is approved and its
//!   payout message is not confirmed sent, it also carries `payout_outbox = "unsent"` and
//!   `payout_attempt` (the attempt to send).
//! - `entry = "audit#<seq, 6 digits>"`: one audit entry each, with finance's optional `note`.
//!   Written with `attribute_not_exists` in the same transaction as the change it records,
//!   and never updated: the trail is append-only, and a second writer of the same step fails.
//!
//! Indexes (audit items carry none of their keys, so only refunds are in them):
//! - `refunds-by-status` (`status`, `requested_at`, all attributes): the finance queue, oldest
//!   first, and the reconciliation export (one Query per status over a time range);
//! - `refunds-by-customer` (`customer_id`, `requested_at`, all attributes): a customer's
//!   refunds in one Query, for the refundable amount and the 90-day count at request time;
//! - `payouts-unsent` (`payout_outbox`, `approved_at`, all attributes; sparse): the outbox.
//!
//! **The payout outbox.** Approving never sends the payout message itself: the approval's one
//! transaction sets `payout_outbox`, so the grant and the duty to pay it are written together
//! or not at all. A relay ([`RefundStore::unsent_payouts`], then [`RefundStore::payout_sent`])
//! sends each to the FIFO queue and then clears the flag, conditional on the attempt it sent;
//! a crash in between sends again on the next run, which SQS drops as a duplicate within its
//! 5-minute deduplication window (and the payment integration dedupes on refund id + attempt
//! beyond it).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::cases::timeline_put;
use super::dynamo::{corrupt, store_error};
use crate::case::TimelineEntry;
use crate::complaint::Category;
use crate::money::Currency;
use crate::refund::{AuditEntry, Refund, RefundId, RefundStatus, Transition};

const REFUND_ENTRY: &str = "refund";
const AUDIT_PREFIX: &str = "audit#";
const OUTBOX_UNSENT: &str = "unsent";
const BY_STATUS: &str = "refunds-by-status";
const BY_CUSTOMER: &str = "refunds-by-customer";
const PAYOUTS_UNSENT: &str = "payouts-unsent";

/// Every status, for reads across the whole finance index (the export).
const STATUSES: [RefundStatus; 5] = [
    RefundStatus::Pending,
    RefundStatus::Approved,
    RefundStatus::Paid,
    RefundStatus::Failed,
    RefundStatus::Rejected,
];

/// Items one filtered read of the finance queue examines at most, and how many such reads one
/// page may take: a page is filled across reads, so a filter that matches few refunds still
/// gets a full page unless the queue ends (or this many items were examined: then the page is
/// shorter and its cursor continues where the reads stopped).
const FILTERED_READ: i32 = 200;
const FILTERED_READS_PER_PAGE: usize = 8;

/// What the finance queue is narrowed to. Currency, amount and category are applied by
/// DynamoDB as a `FilterExpression` (the index has one sort key, the request time; these
/// are too many combinations for an index each, and the queue is short-lived); the age is
/// part of the key condition, so it costs nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefundFilter {
    pub currency: Option<Currency>,
    /// Minor units, inclusive.
    pub min_amount_minor: Option<i64>,
    /// Minor units, inclusive.
    pub max_amount_minor: Option<i64>,
    pub category: Option<Category>,
    /// Only refunds requested at or before this instant (older than an age).
    pub requested_before: Option<DateTime<Utc>>,
}

impl RefundFilter {
    fn filters_attributes(&self) -> bool {
        self.currency.is_some()
            || self.min_amount_minor.is_some()
            || self.max_amount_minor.is_some()
            || self.category.is_some()
    }
}

/// One page of refunds, and where the next starts (opaque to clients).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundPage {
    pub refunds: Vec<Refund>,
    pub next: Option<String>,
}

/// One audit entry as stored: the domain's entry and finance's note on it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    #[serde(flatten)]
    pub entry: AuditEntry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A refund with its audit trail as the append-only audit items hold it, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundFile {
    pub refund: Refund,
    pub audit: Vec<AuditRecord>,
}

/// Where refunds live.
pub trait RefundStore: Send + Sync {
    /// Stores a new refund (as [`Refund::request`] and [`Refund::screen`] made it) with an
    /// audit item per entry it holds, in one transaction; `Conflict` if it exists. An approved
    /// refund (auto-approved) enters the payout outbox.
    fn open_refund(&self, refund: &Refund) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The refund (one strongly consistent GetItem), or `None`.
    fn refund(
        &self,
        id: &RefundId,
    ) -> impl Future<Output = Result<Option<Refund>, StoreError>> + Send;

    /// The refund with its stored audit items (one strongly consistent Query), or `None`.
    fn refund_file(
        &self,
        id: &RefundId,
    ) -> impl Future<Output = Result<Option<RefundFile>, StoreError>> + Send;

    /// Every refund of a customer, newest first (one Query on `refunds-by-customer`, more
    /// pages only past 1 MB).
    fn refunds_of_customer(
        &self,
        customer_id: &str,
    ) -> impl Future<Output = Result<Vec<Refund>, StoreError>> + Send;

    /// Refunds in `status`, oldest request first, narrowed by `filter`, `limit` at a time from
    /// `cursor` (a page's `next`); `BadCursor` for a cursor this store did not issue for the
    /// same status.
    fn refunds_by_status(
        &self,
        status: RefundStatus,
        filter: &RefundFilter,
        limit: i32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<RefundPage, StoreError>> + Send;

    /// Writes a change of one refund in one transaction: the refund as the last step left it,
    /// if it is still the version the first step was made from; an audit item per step (the
    /// last one with `note`); and, when given, `customer_note` on the case's timeline.
    /// `Conflict` if the refund changed since it was read (another decision won).
    ///
    /// Several steps are one change when they belong together: a failed payout is recorded
    /// and goes back to finance in one write.
    fn record(
        &self,
        steps: &[Transition],
        note: Option<&str>,
        customer_note: Option<&TimelineEntry>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Approved refunds whose payout message is not confirmed sent, longest approved first, at
    /// most `limit` (one Query on the sparse `payouts-unsent` index).
    fn unsent_payouts(
        &self,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<Refund>, StoreError>> + Send;

    /// Takes the refund out of the outbox once the payout message of `attempt` was sent;
    /// `Conflict` if it is not (or no longer) waiting for that attempt.
    fn payout_sent(
        &self,
        id: &RefundId,
        attempt: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every refund requested in `from..=to`, whatever its status, oldest first: one Query per
    /// status on `refunds-by-status` (more pages only past 1 MB each).
    fn refunds_requested_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Refund>, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoRefundStore {
    client: Client,
    table: String,
    cases_table: Option<String>,
}

impl DynamoRefundStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoRefundStore {
            client,
            table: table.into(),
            cases_table: None,
        }
    }

    /// Where the cases are: a decision the customer must see (a rejection's reason) goes on
    /// the case's timeline in the same transaction.
    pub fn with_cases_table(mut self, table: impl Into<String>) -> Self {
        self.cases_table = Some(table.into());
        self
    }
}

/// A time as the indexes sort it: RFC 3339 in UTC with all nine fractional digits, so equal
/// widths compare as instants and nothing is lost.
fn index_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The refund item: the refund, its index attributes, and the outbox flag while approved.
///
/// The flag is set on every write of an approved refund; today only the approval itself
/// writes one (nothing changes an approved refund but its settlement, which leaves
/// `approved`), so a refund enters the outbox once per grant.
fn refund_item(refund: &Refund) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(refund).map_err(corrupt)?;
    item.insert("entry".into(), AttributeValue::S(REFUND_ENTRY.into()));
    item.insert(
        "requested_at".into(),
        AttributeValue::S(index_time(refund.requested_at())),
    );
    if let Some(approved_at) = refund.approved_at() {
        item.insert(
            "approved_at".into(),
            AttributeValue::S(index_time(approved_at)),
        );
    }
    if refund.status() == RefundStatus::Approved {
        item.insert(
            "payout_outbox".into(),
            AttributeValue::S(OUTBOX_UNSENT.into()),
        );
        item.insert(
            "payout_attempt".into(),
            AttributeValue::N(refund.payout_attempt().to_string()),
        );
    }
    Ok(item)
}

fn refund_of(item: HashMap<String, AttributeValue>) -> Result<Refund, StoreError> {
    serde_dynamo::from_item(item).map_err(corrupt)
}

#[derive(Serialize, Deserialize)]
struct AuditItem {
    refund_id: String,
    entry: String,
    #[serde(flatten)]
    record: AuditRecord,
}

fn audit_key(seq: u32) -> String {
    format!("{AUDIT_PREFIX}{seq:06}")
}

/// A put of one audit entry that never overwrites one.
fn audit_put(
    table: &str,
    refund: &RefundId,
    entry: &AuditEntry,
    note: Option<&str>,
) -> Result<Put, StoreError> {
    let item = AuditItem {
        refund_id: refund.to_string(),
        entry: audit_key(entry.seq),
        record: AuditRecord {
            entry: entry.clone(),
            note: note.map(str::to_owned),
        },
    };
    Put::builder()
        .table_name(table)
        .set_item(Some(serde_dynamo::to_item(item).map_err(corrupt)?))
        .condition_expression("attribute_not_exists(refund_id)")
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

/// The writes that open `refund`: the refund item (only if no refund has its id) and one audit
/// item per entry it holds. For transactions that open a refund together with something else
/// (the case resolution that requests it); [`RefundStore::open_refund`] sends them alone.
pub(crate) fn opening_writes(
    table: &str,
    refund: &Refund,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let refund_put = Put::builder()
        .table_name(table)
        .set_item(Some(refund_item(refund)?))
        .condition_expression("attribute_not_exists(refund_id)")
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))?;
    let mut writes = vec![TransactWriteItem::builder().put(refund_put).build()];
    for entry in refund.audit() {
        writes.push(
            TransactWriteItem::builder()
                .put(audit_put(table, &refund.id(), entry, None)?)
                .build(),
        );
    }
    Ok(writes)
}

/// The writes of a change (see [`RefundStore::record`]), without the case's timeline entry.
fn change_writes(
    table: &str,
    steps: &[Transition],
    note: Option<&str>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let (Some(first), Some(last)) = (steps.first(), steps.last()) else {
        return Err(StoreError::Rejected("a refund change has no step".into()));
    };
    let id = first.refund.id();
    let consecutive = steps.windows(2).all(|pair| {
        pair[1].refund.id() == id && pair[1].refund.version() == pair[0].refund.version() + 1
    });
    let read_version = first
        .refund
        .version()
        .checked_sub(1)
        .filter(|_| consecutive)
        .ok_or_else(|| {
            StoreError::Rejected("the steps of a refund change do not follow each other".into())
        })?;
    let refund_put = Put::builder()
        .table_name(table)
        .set_item(Some(refund_item(&last.refund)?))
        .condition_expression("version = :read")
        .expression_attribute_values(":read", AttributeValue::N(read_version.to_string()))
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))?;
    let mut writes = vec![TransactWriteItem::builder().put(refund_put).build()];
    for (i, step) in steps.iter().enumerate() {
        let note = note.filter(|_| i == steps.len() - 1);
        writes.push(
            TransactWriteItem::builder()
                .put(audit_put(table, &id, &step.entry, note)?)
                .build(),
        );
    }
    Ok(writes)
}

impl DynamoRefundStore {
    async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Every refund of one status requested in `from..=to`, oldest first.
    async fn requested_between_in(
        &self,
        status: RefundStatus,
        from: &str,
        to: &str,
    ) -> Result<Vec<Refund>, StoreError> {
        every_refund(
            self.client
                .query()
                .table_name(&self.table)
                .index_name(BY_STATUS)
                .key_condition_expression(
                    "#status = :status AND requested_at BETWEEN :from AND :to",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", AttributeValue::S(status.as_str().into()))
                .expression_attribute_values(":from", AttributeValue::S(from.into()))
                .expression_attribute_values(":to", AttributeValue::S(to.into()))
                .scan_index_forward(true),
        )
        .await
    }
}

/// Every refund a query on an index of refund items returns, page after page.
async fn every_refund(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<Refund>, StoreError> {
    let mut pages = query.into_paginator().items().send();
    let mut refunds = Vec::new();
    while let Some(item) = pages.next().await {
        refunds.push(refund_of(item.map_err(store_error)?)?);
    }
    Ok(refunds)
}

impl RefundStore for DynamoRefundStore {
    async fn open_refund(&self, refund: &Refund) -> Result<(), StoreError> {
        self.transact(opening_writes(&self.table, refund)?).await
    }

    async fn refund(&self, id: &RefundId) -> Result<Option<Refund>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("refund_id", AttributeValue::S(id.to_string()))
            .key("entry", AttributeValue::S(REFUND_ENTRY.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output.item.map(refund_of).transpose()
    }

    async fn refund_file(&self, id: &RefundId) -> Result<Option<RefundFile>, StoreError> {
        let mut refund = None;
        let mut audit = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("refund_id = :id")
            .expression_attribute_values(":id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(store_error)?;
            let entry = item.get("entry").and_then(|v| v.as_s().ok()).cloned();
            match entry.as_deref() {
                Some(REFUND_ENTRY) => refund = Some(refund_of(item)?),
                Some(e) if e.starts_with(AUDIT_PREFIX) => {
                    let stored: AuditItem = serde_dynamo::from_item(item).map_err(corrupt)?;
                    audit.push(stored.record);
                }
                _ => {}
            }
        }
        // The sort key orders them already; sorting again keeps that true for any reader.
        audit.sort_by_key(|record| record.entry.seq);
        Ok(refund.map(|refund| RefundFile { refund, audit }))
    }

    async fn refunds_of_customer(&self, customer_id: &str) -> Result<Vec<Refund>, StoreError> {
        every_refund(
            self.client
                .query()
                .table_name(&self.table)
                .index_name(BY_CUSTOMER)
                .key_condition_expression("customer_id = :customer")
                .expression_attribute_values(":customer", AttributeValue::S(customer_id.into()))
                .scan_index_forward(false),
        )
        .await
    }

    async fn refunds_by_status(
        &self,
        status: RefundStatus,
        filter: &RefundFilter,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<RefundPage, StoreError> {
        let wanted = usize::try_from(limit.max(1)).unwrap_or(1);
        let mut start = cursor
            .map(|cursor| decode_cursor(cursor, status))
            .transpose()?;
        let filtered = filter.filters_attributes();
        let mut refunds = Vec::with_capacity(wanted);
        let mut overflow = false;
        let mut last_key = None;
        for _ in 0..FILTERED_READS_PER_PAGE {
            let mut key_condition = "#status = :status".to_owned();
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_STATUS)
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", AttributeValue::S(status.as_str().into()))
                .scan_index_forward(true)
                .limit(if filtered {
                    FILTERED_READ.max(limit)
                } else {
                    limit.max(1)
                })
                .set_exclusive_start_key(start.take());
            if let Some(before) = filter.requested_before {
                key_condition.push_str(" AND requested_at <= :before");
                query = query
                    .expression_attribute_values(":before", AttributeValue::S(index_time(before)));
            }
            let mut conditions = Vec::new();
            if let Some(currency) = filter.currency {
                conditions.push("currency = :currency");
                query = query.expression_attribute_values(
                    ":currency",
                    AttributeValue::S(currency.as_str().into()),
                );
            }
            if let Some(min) = filter.min_amount_minor {
                conditions.push("amount_minor >= :min");
                query =
                    query.expression_attribute_values(":min", AttributeValue::N(min.to_string()));
            }
            if let Some(max) = filter.max_amount_minor {
                conditions.push("amount_minor <= :max");
                query =
                    query.expression_attribute_values(":max", AttributeValue::N(max.to_string()));
            }
            if let Some(category) = filter.category {
                conditions.push("#evidence.#category = :category");
                query = query
                    .expression_attribute_names("#evidence", "evidence")
                    .expression_attribute_names("#category", "category")
                    .expression_attribute_values(
                        ":category",
                        AttributeValue::S(category.as_str().into()),
                    );
            }
            if !conditions.is_empty() {
                query = query.filter_expression(conditions.join(" AND "));
            }
            let output = query
                .key_condition_expression(key_condition)
                .send()
                .await
                .map_err(store_error)?;
            for item in output.items.unwrap_or_default() {
                if refunds.len() < wanted {
                    refunds.push(refund_of(item)?);
                } else {
                    overflow = true;
                }
            }
            last_key = output.last_evaluated_key;
            if refunds.len() >= wanted || last_key.is_none() {
                break;
            }
            start = last_key.clone();
        }
        let next = if refunds.len() >= wanted && (overflow || last_key.is_some()) {
            // A full page: the next starts after its last refund (the reads may have looked
            // further, at refunds the page had no room for).
            refunds.last().map(|refund| {
                cursor_of(
                    status,
                    &refund.id().to_string(),
                    &index_time(refund.requested_at()),
                )
            })
        } else {
            // A short page: the reads stopped at `last_key` (the queue ended if it is `None`).
            last_key.and_then(|key| {
                let id = key.get("refund_id").and_then(|v| v.as_s().ok())?;
                let at = key.get("requested_at").and_then(|v| v.as_s().ok())?;
                Some(cursor_of(status, id, at))
            })
        };
        Ok(RefundPage { refunds, next })
    }

    async fn record(
        &self,
        steps: &[Transition],
        note: Option<&str>,
        customer_note: Option<&TimelineEntry>,
    ) -> Result<(), StoreError> {
        let mut writes = change_writes(&self.table, steps, note)?;
        if let Some(entry) = customer_note {
            let cases = self.cases_table.as_deref().ok_or_else(|| {
                StoreError::Rejected("no cases table configured for the refund store".into())
            })?;
            let case = steps[0].refund.case_id();
            writes.push(
                TransactWriteItem::builder()
                    .put(timeline_put(cases, &case, entry)?)
                    .build(),
            );
        }
        self.transact(writes).await
    }

    async fn unsent_payouts(&self, limit: i32) -> Result<Vec<Refund>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PAYOUTS_UNSENT)
            .key_condition_expression("payout_outbox = :unsent")
            .expression_attribute_values(":unsent", AttributeValue::S(OUTBOX_UNSENT.into()))
            .scan_index_forward(true)
            .limit(limit.max(1))
            .send()
            .await
            .map_err(store_error)?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(refund_of)
            .collect()
    }

    async fn payout_sent(&self, id: &RefundId, attempt: u32) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("refund_id", AttributeValue::S(id.to_string()))
            .key("entry", AttributeValue::S(REFUND_ENTRY.into()))
            .update_expression("REMOVE payout_outbox, payout_attempt")
            .condition_expression("payout_attempt = :attempt")
            .expression_attribute_values(":attempt", AttributeValue::N(attempt.to_string()))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn refunds_requested_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Refund>, StoreError> {
        let (from, to) = (index_time(from), index_time(to));
        let reads = STATUSES.map(|status| self.requested_between_in(status, &from, &to));
        let mut refunds = Vec::new();
        for read in futures_util::future::join_all(reads).await {
            refunds.extend(read?);
        }
        refunds.sort_by_key(|refund| (refund.requested_at(), refund.id()));
        Ok(refunds)
    }
}

/// The opaque cursor of a finance-queue page: where it stopped in the status index.
fn cursor_of(status: RefundStatus, refund_id: &str, requested_at: &str) -> String {
    let key = BTreeMap::from([
        ("status", status.as_str()),
        ("refund_id", refund_id),
        ("requested_at", requested_at),
    ]);
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&key).expect("a map of strings serialises"))
}

/// A cursor back into the index key it was made of, if this store issued it for `status`.
fn decode_cursor(
    cursor: &str,
    status: RefundStatus,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    let mut key: BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    let (Some(cursor_status), Some(refund_id), Some(requested_at)) = (
        key.remove("status"),
        key.remove("refund_id"),
        key.remove("requested_at"),
    ) else {
        return Err(StoreError::BadCursor);
    };
    if cursor_status != status.as_str()
        || refund_id.parse::<RefundId>().is_err()
        || DateTime::parse_from_rfc3339(&requested_at).is_err()
    {
        return Err(StoreError::BadCursor);
    }
    Ok(HashMap::from([
        ("status".to_owned(), AttributeValue::S(cursor_status)),
        ("requested_at".to_owned(), AttributeValue::S(requested_at)),
        ("refund_id".to_owned(), AttributeValue::S(refund_id)),
        (
            "entry".to_owned(),
            AttributeValue::S(REFUND_ENTRY.to_owned()),
        ),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refund::tests::{finance, pending, t};

    fn attribute<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    }

    #[test]
    fn refund_items_round_trip_with_sortable_index_times() {
        let refund = pending(15_000);
        let item = refund_item(&refund).unwrap();
        assert_eq!(attribute(&item, "entry"), Some("refund"));
        assert_eq!(attribute(&item, "status"), Some("pending"));
        assert_eq!(
            attribute(&item, "requested_at"),
            Some("2026-11-11T08:00:00.000000000Z")
        );
        assert_eq!(attribute(&item, "customer_id"), Some("c-1"));
        assert!(!item.contains_key("payout_outbox"));
        assert_eq!(refund_of(item).unwrap(), refund);
        // Fixed width: a later instant always sorts later, whatever its fraction.
        let whole = index_time(t(0));
        let fraction = index_time(t(0) + chrono::Duration::microseconds(1));
        assert!(whole < fraction);
        assert_eq!(whole.len(), fraction.len());
    }

    #[test]
    fn an_approved_refund_enters_the_payout_outbox_and_leaves_it_when_settled() {
        let approved = pending(15_000).approve(&finance("f-1"), t(10)).unwrap();
        let item = refund_item(&approved.refund).unwrap();
        assert_eq!(attribute(&item, "payout_outbox"), Some("unsent"));
        assert_eq!(item["payout_attempt"], AttributeValue::N("1".into()));
        assert_eq!(
            attribute(&item, "approved_at"),
            Some("2026-11-11T08:10:00.000000000Z")
        );
        let crate::refund::Settled::Changed(paid) = approved
            .refund
            .settle(
                &crate::refund::Actor::PaymentIntegration,
                crate::refund::Settlement::Paid {
                    provider_reference: "pay-1".into(),
                },
                t(20),
            )
            .unwrap()
        else {
            panic!("paid");
        };
        assert!(
            !refund_item(&paid.refund)
                .unwrap()
                .contains_key("payout_outbox")
        );
    }

    #[test]
    fn a_change_is_conditional_on_the_version_read_and_appends_one_audit_item_per_step() {
        let refund = pending(15_000);
        let approved = refund.approve(&finance("f-1"), t(10)).unwrap();
        let writes = change_writes("refunds", std::slice::from_ref(&approved), Some("ok")).unwrap();
        assert_eq!(writes.len(), 2);
        let put = writes[0].put().unwrap();
        assert_eq!(put.condition_expression(), Some("version = :read"));
        assert_eq!(
            put.expression_attribute_values().unwrap()[":read"],
            AttributeValue::N(refund.version().to_string())
        );
        let audit = writes[1].put().unwrap();
        assert_eq!(
            audit.condition_expression(),
            Some("attribute_not_exists(refund_id)")
        );
        assert_eq!(
            attribute(audit.item(), "entry"),
            Some(audit_key(approved.entry.seq).as_str())
        );
        assert_eq!(attribute(audit.item(), "note"), Some("ok"));
        assert!(
            !audit.item().contains_key("status"),
            "not in the finance index"
        );
        assert!(
            !audit.item().contains_key("customer_id"),
            "not in the customer index"
        );

        // Two steps that do not follow each other are refused before anything is sent.
        let other = pending(15_000).approve(&finance("f-2"), t(10)).unwrap();
        assert!(change_writes("refunds", &[approved.clone(), other], None).is_err());
        assert!(change_writes("refunds", &[], None).is_err());
    }

    #[test]
    fn opening_writes_put_the_refund_once_and_each_audit_entry() {
        let refund = pending(15_000);
        let writes = opening_writes("refunds", &refund).unwrap();
        assert_eq!(writes.len(), 1 + refund.audit().len());
        for write in &writes {
            assert_eq!(
                write.put().unwrap().condition_expression(),
                Some("attribute_not_exists(refund_id)")
            );
        }
        assert_eq!(audit_key(1), "audit#000001");
    }

    #[test]
    fn cursors_round_trip_and_are_refused_for_another_status_or_when_forged() {
        let id = pending(15_000).id().to_string();
        let at = index_time(t(0));
        let cursor = cursor_of(RefundStatus::Pending, &id, &at);
        let key = decode_cursor(&cursor, RefundStatus::Pending).unwrap();
        assert_eq!(key["refund_id"], AttributeValue::S(id.clone()));
        assert_eq!(key["entry"], AttributeValue::S("refund".into()));
        assert_eq!(
            decode_cursor(&cursor, RefundStatus::Approved),
            Err(StoreError::BadCursor)
        );
        for forged in [
            "not base64!".to_owned(),
            URL_SAFE_NO_PAD.encode(b"[]"),
            cursor_of(RefundStatus::Pending, "x", &at),
            cursor_of(RefundStatus::Pending, &id, "yesterday"),
        ] {
            assert_eq!(
                decode_cursor(&forged, RefundStatus::Pending),
                Err(StoreError::BadCursor),
                "{forged}"
            );
        }
    }
}
