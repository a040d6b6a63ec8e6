//! Surveys in the surveys table (key `case_id`), one item per case.
//!
//! Attributes: the [`Survey`] (`customer_id`, `order_reference`, `resolved_by`, `resolved_at`,
//! `due_at`, `language`, `token_hash`, `webhook_token_hash`, `sent_at`, `expires_at`,
//! `response`, `answered_at`; times as [`rfc3339`] text, so they compare as strings) and the
//! dispatcher's bookkeeping: `due_shard` while the survey waits to be queued (the sparse
//! `surveys-due` index), `claimed_at` while an attempt sends it, `email_sent_at` and
//! `webhook_sent_at` per channel delivered, `outcome` once it is settled.
//!
//! Indexes (all project the whole item): `surveys-due` (`due_shard`, `due_at`),
//! `surveys-by-token` (`token_hash`, the e-mail link's) and `surveys-by-webhook-token`
//! (`webhook_token_hash`, the webhook link's).

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValue, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::StoreError;
use super::cases::counter_update;
use super::customers::customer_key;
use super::dynamo::{batch_get_all, corrupt, store_error};
use crate::case::CaseId;
use crate::clock::rfc3339;
use crate::service_levels::CounterChange;
use crate::sla::{TIMER_SHARDS, timer_shard};
use crate::survey::{
    DispatchOutcome, Survey, SurveyDue, SurveyLanguage, SurveyResponse, SurveyToken, TokenHash,
};

const DUE_INDEX: &str = "surveys-due";
const TOKEN_INDEX: &str = "surveys-by-token";
const WEBHOOK_TOKEN_INDEX: &str = "surveys-by-webhook-token";
/// The customer item's survey preference.
const OPTED_OUT: &str = "survey_opted_out";

/// The two ways a survey reaches the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SurveyChannel {
    Email,
    Webhook,
}

impl SurveyChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            SurveyChannel::Email => "email",
            SurveyChannel::Webhook => "webhook",
        }
    }

    fn sent_attribute(self) -> &'static str {
        match self {
            SurveyChannel::Email => "email_sent_at",
            SurveyChannel::Webhook => "webhook_sent_at",
        }
    }

    fn token_attribute(self) -> &'static str {
        match self {
            SurveyChannel::Email => "token_hash",
            SurveyChannel::Webhook => "webhook_token_hash",
        }
    }
}

/// Whether the claim standing on `stored` is `claim` itself: the same instant (as stored, to
/// the millisecond) and, for every channel the claim names, the hash of the fresh random token
/// it issued. Another attempt cannot have written those hashes, so a claim refused because it
/// already holds is told apart from one refused because another attempt holds it.
pub fn is_own_claim(stored: &StoredSurvey, claim: &SurveyClaim) -> bool {
    let issued = [
        (&claim.email_token, &stored.survey.token_hash),
        (&claim.webhook_token, &stored.survey.webhook_token_hash),
    ];
    let names_a_token = issued.iter().any(|(mine, _)| mine.is_some());
    stored.outcome.is_none()
        && stored.claimed_at.map(rfc3339) == Some(rfc3339(claim.at))
        && names_a_token
        && issued
            .iter()
            .all(|(mine, standing)| mine.is_none() || mine == standing)
}

/// A survey with where its dispatch stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSurvey {
    pub survey: Survey,
    /// Set while an attempt is sending it.
    pub claimed_at: Option<DateTime<Utc>>,
    pub email_sent_at: Option<DateTime<Utc>>,
    pub webhook_sent_at: Option<DateTime<Utc>>,
    pub outcome: Option<DispatchOutcome>,
}

impl StoredSurvey {
    pub fn delivered(&self, channel: SurveyChannel) -> bool {
        match channel {
            SurveyChannel::Email => self.email_sent_at.is_some(),
            SurveyChannel::Webhook => self.webhook_sent_at.is_some(),
        }
    }
}

/// What a dispatch attempt writes when it claims a survey: the links' token hashes of the
/// channels it will use (kept when an earlier attempt delivered that channel), the language and
/// the validity.
#[derive(Debug, Clone)]
pub struct SurveyClaim {
    pub case_id: CaseId,
    pub at: DateTime<Utc>,
    pub language: SurveyLanguage,
    pub expires_at: DateTime<Utc>,
    pub email_token: Option<TokenHash>,
    pub webhook_token: Option<TokenHash>,
}

/// How an attempt (or a decision without one) leaves a survey.
#[derive(Debug, Clone, Default)]
pub struct Settlement {
    /// The attempt's claim, which must still stand; `None` for a survey settled without a
    /// claim (opted out, unreachable), which must be neither claimed nor settled.
    pub claimed_at: Option<DateTime<Utc>>,
    /// Channels delivered by this attempt.
    pub delivered: Vec<(SurveyChannel, DateTime<Utc>)>,
    /// Channels this attempt claimed and did not deliver: their link's token is forgotten, and
    /// a retry issues a new one.
    pub forget_tokens: Vec<SurveyChannel>,
    /// Nothing was ever delivered: the survey is unsent again.
    pub unsend: bool,
    /// The final word, or `None` to leave the survey to a retry.
    pub outcome: Option<DispatchOutcome>,
    /// Counter additions written in the same transaction.
    pub counters: Vec<CounterChange>,
}

/// What the dispatcher needs to know about the customer and the order to send a survey.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipient {
    pub opted_out: bool,
    pub email: Option<String>,
    pub locale: Option<String>,
}

/// Where surveys live.
pub trait SurveyStore: Send + Sync {
    /// Surveys due at `at` and not yet queued, at most `limit_per_shard` from each shard.
    fn due_surveys(
        &self,
        at: DateTime<Utc>,
        limit_per_shard: i32,
    ) -> impl Future<Output = Result<Vec<SurveyDue>, StoreError>> + Send;

    /// Takes queued surveys (at most [`MARK_QUEUED_AT_ONCE`]) out of the due index; the ones
    /// taken out, or gone meanwhile.
    fn mark_queued(
        &self,
        cases: &[CaseId],
    ) -> impl Future<Output = Vec<Result<(), StoreError>>> + Send;

    /// The customer's opt-out and the order's e-mail address and locale, in one read.
    fn recipient(
        &self,
        customer_id: &str,
        order_reference: &str,
    ) -> impl Future<Output = Result<Recipient, StoreError>> + Send;

    /// Claims a survey for one attempt; `Conflict` when it is claimed or settled already,
    /// `None` when there is no such survey.
    fn claim(
        &self,
        claim: &SurveyClaim,
    ) -> impl Future<Output = Result<Option<StoredSurvey>, StoreError>> + Send;

    /// Settles (or releases) a survey; `Conflict` when the claim no longer stands (or, without
    /// a claim, when the survey was claimed or settled meanwhile).
    fn settle(
        &self,
        case: &CaseId,
        settlement: &Settlement,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The survey as stored (strongly consistent).
    fn stored(
        &self,
        case: &CaseId,
    ) -> impl Future<Output = Result<Option<StoredSurvey>, StoreError>> + Send;

    /// The survey a link's token belongs to (through the token indexes, eventually
    /// consistent: check [`Survey::token_matches`]).
    fn by_token(
        &self,
        token: &SurveyToken,
    ) -> impl Future<Output = Result<Option<Survey>, StoreError>> + Send;

    /// Records an answer with its counters, once: `Conflict` if the survey was answered.
    fn record_answer(
        &self,
        answered: &Survey,
        counters: &[CounterChange],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores whether the customer wants surveys.
    fn set_opted_out(
        &self,
        customer_id: &str,
        opted_out: bool,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoSurveyStore {
    client: Client,
    table: String,
    customers_table: String,
    orders_table: String,
    metrics_table: String,
}

impl DynamoSurveyStore {
    pub fn new(
        client: Client,
        table: impl Into<String>,
        customers_table: impl Into<String>,
        orders_table: impl Into<String>,
        metrics_table: impl Into<String>,
    ) -> Self {
        DynamoSurveyStore {
            client,
            table: table.into(),
            customers_table: customers_table.into(),
            orders_table: orders_table.into(),
            metrics_table: metrics_table.into(),
        }
    }

    fn key(case: &CaseId) -> HashMap<String, AttributeValue> {
        HashMap::from([("case_id".to_owned(), AttributeValue::S(case.to_string()))])
    }

    async fn query_token(
        &self,
        index: &str,
        attribute: &str,
        hash: &TokenHash,
    ) -> Result<Option<Survey>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#hash = :hash")
            .expression_attribute_names("#hash", attribute)
            .expression_attribute_values(":hash", AttributeValue::S(hash.to_string()))
            .limit(1)
            .send()
            .await
            .map_err(store_error)?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(|item| stored_survey(item).map(|s| s.survey))
            .transpose()
    }

    fn counter_writes(
        &self,
        counters: &[CounterChange],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        counters
            .iter()
            .map(|change| {
                Ok(TransactWriteItem::builder()
                    .update(counter_update(&self.metrics_table, change)?)
                    .build())
            })
            .collect()
    }

    async fn write(&self, update: Update, counters: &[CounterChange]) -> Result<(), StoreError> {
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        items.extend(self.counter_writes(counters)?);
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// Builds `SET`/`REMOVE` expressions with numbered placeholders.
#[derive(Default)]
struct Expression {
    sets: Vec<String>,
    removes: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expression {
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn set(&mut self, attribute: &str, value: AttributeValue) {
        let (name, value) = (self.name(attribute), self.value(value));
        self.sets.push(format!("{name} = {value}"));
    }

    /// Sets the attribute unless it has a value already.
    fn set_once(&mut self, attribute: &str, value: AttributeValue) {
        let (name, value) = (self.name(attribute), self.value(value));
        self.sets
            .push(format!("{name} = if_not_exists({name}, {value})"));
    }

    fn remove(&mut self, attribute: &str) {
        let name = self.name(attribute);
        self.removes.push(name);
    }

    fn update_expression(&self) -> String {
        let mut parts = Vec::new();
        if !self.sets.is_empty() {
            parts.push(format!("SET {}", self.sets.join(", ")));
        }
        if !self.removes.is_empty() {
            parts.push(format!("REMOVE {}", self.removes.join(", ")));
        }
        parts.join(" ")
    }

    fn update(
        self,
        table: &str,
        key: HashMap<String, AttributeValue>,
        condition: &str,
    ) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(self.update_expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))
    }
}

fn text(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn time(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::S(rfc3339(at))
}

/// The write that schedules a case's survey, in the transaction that resolves the case. One
/// survey per case: every attribute is set only if absent, so resolving a case again after a
/// reopening keeps its first survey and never fails the resolution. (A survey already queued
/// gets its `due_shard` back and is queued once more; the dispatcher finds it settled and drops
/// the message.)
pub(crate) fn scheduling_update(table: &str, survey: &Survey) -> Result<Update, StoreError> {
    let mut expression = Expression::default();
    expression.set_once("customer_id", text(&survey.customer_id));
    expression.set_once("order_reference", text(&survey.order_reference));
    expression.set_once("resolved_by", text(&survey.resolved_by));
    expression.set_once("resolved_at", time(survey.resolved_at));
    expression.set_once("due_at", time(survey.due_at));
    expression.set_once("due_shard", text(due_shard(&survey.case_id)));
    // No condition: an UpdateItem without one never fails the case's transaction.
    Update::builder()
        .table_name(table)
        .set_key(Some(DynamoSurveyStore::key(&survey.case_id)))
        .update_expression(expression.update_expression())
        .set_expression_attribute_names(Some(expression.names))
        .set_expression_attribute_values(Some(expression.values))
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

/// The `surveys-due` shard of a case: spread like the SLA timers.
pub fn due_shard(case: &CaseId) -> String {
    format!("{:02}", timer_shard(case))
}

/// The stored shape; times are RFC 3339 text.
#[derive(Debug, Deserialize)]
struct SurveyItem {
    case_id: String,
    customer_id: String,
    order_reference: String,
    resolved_by: String,
    resolved_at: String,
    due_at: String,
    #[serde(default)]
    language: Option<SurveyLanguage>,
    #[serde(default)]
    token_hash: Option<TokenHash>,
    #[serde(default)]
    webhook_token_hash: Option<TokenHash>,
    #[serde(default)]
    sent_at: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    response: Option<SurveyResponse>,
    #[serde(default)]
    answered_at: Option<String>,
    #[serde(default)]
    claimed_at: Option<String>,
    #[serde(default)]
    email_sent_at: Option<String>,
    #[serde(default)]
    webhook_sent_at: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
}

fn parse_time(raw: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.to_utc())
        .map_err(corrupt)
}

fn parse_opt_time(raw: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    raw.as_deref().map(parse_time).transpose()
}

fn stored_survey(item: HashMap<String, AttributeValue>) -> Result<StoredSurvey, StoreError> {
    let item: SurveyItem = serde_dynamo::from_item(item).map_err(corrupt)?;
    let outcome = match item.outcome.as_deref() {
        Some(raw) => Some(
            DispatchOutcome::parse(raw)
                .ok_or_else(|| corrupt(format!("unknown survey outcome {raw:?}")))?,
        ),
        None => None,
    };
    Ok(StoredSurvey {
        survey: Survey {
            case_id: item.case_id.parse().map_err(corrupt)?,
            customer_id: item.customer_id,
            order_reference: item.order_reference,
            language: item.language,
            resolved_by: item.resolved_by,
            resolved_at: parse_time(&item.resolved_at)?,
            due_at: parse_time(&item.due_at)?,
            token_hash: item.token_hash,
            webhook_token_hash: item.webhook_token_hash,
            sent_at: parse_opt_time(item.sent_at)?,
            expires_at: parse_opt_time(item.expires_at)?,
            response: item.response,
            answered_at: parse_opt_time(item.answered_at)?,
        },
        claimed_at: parse_opt_time(item.claimed_at)?,
        email_sent_at: parse_opt_time(item.email_sent_at)?,
        webhook_sent_at: parse_opt_time(item.webhook_sent_at)?,
        outcome,
    })
}

/// What the dispatcher reads of an order: its contact fields (the snapshot has more).
#[derive(Deserialize)]
struct OrderContact {
    #[serde(default)]
    customer_email: Option<String>,
    #[serde(default)]
    customer_locale: Option<String>,
}

/// Surveys [`SurveyStore::mark_queued`] takes out of the due index in one call (a
/// SendMessageBatch's worth).
pub const MARK_QUEUED_AT_ONCE: usize = 10;

impl SurveyStore for DynamoSurveyStore {
    async fn due_surveys(
        &self,
        at: DateTime<Utc>,
        limit_per_shard: i32,
    ) -> Result<Vec<SurveyDue>, StoreError> {
        let queries = (0..TIMER_SHARDS).map(|shard| {
            self.client
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .key_condition_expression("due_shard = :shard AND due_at <= :at")
                .expression_attribute_values(":shard", AttributeValue::S(format!("{shard:02}")))
                .expression_attribute_values(":at", time(at))
                .limit(limit_per_shard)
                .send()
        });
        let mut due = Vec::new();
        for output in futures_util::future::join_all(queries).await {
            for item in output.map_err(store_error)?.items.unwrap_or_default() {
                let survey = stored_survey(item)?.survey;
                due.push(SurveyDue {
                    case_id: survey.case_id,
                    customer_id: survey.customer_id,
                    order_reference: survey.order_reference,
                    resolved_by: survey.resolved_by,
                    resolved_at: survey.resolved_at,
                    due_at: survey.due_at,
                });
            }
        }
        due.sort_by_key(|d| d.due_at);
        Ok(due)
    }

    async fn mark_queued(&self, cases: &[CaseId]) -> Vec<Result<(), StoreError>> {
        // One transaction for a whole SendMessageBatch: a tenth of a call per survey. Any item
        // it cannot take (gone, or written by the dispatcher at that moment) cancels it, and
        // then each goes on its own.
        let unindex = |case: &CaseId| {
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(case)))
                .update_expression("REMOVE due_shard")
                .condition_expression("attribute_exists(case_id)")
                .build()
                .map_err(|e| StoreError::Rejected(e.to_string()))
        };
        if cases.len() > 1 && cases.len() <= MARK_QUEUED_AT_ONCE {
            let updates: Result<Vec<_>, _> = cases.iter().map(unindex).collect();
            if let Ok(updates) = updates {
                let together = self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(
                        updates
                            .into_iter()
                            .map(|u| TransactWriteItem::builder().update(u).build())
                            .collect(),
                    ))
                    .send()
                    .await;
                if together.is_ok() {
                    return cases.iter().map(|_| Ok(())).collect();
                }
            }
        }
        let mut results = Vec::with_capacity(cases.len());
        for case in cases {
            let result = match unindex(case) {
                Ok(update) => self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(update.key))
                    .update_expression(update.update_expression)
                    .set_condition_expression(update.condition_expression)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(store_error),
                Err(err) => Err(err),
            };
            results.push(match result {
                // Gone meanwhile: nothing left to take out.
                Ok(()) | Err(StoreError::Conflict) => Ok(()),
                Err(err) => Err(err),
            });
        }
        results
    }

    async fn recipient(
        &self,
        customer_id: &str,
        order_reference: &str,
    ) -> Result<Recipient, StoreError> {
        // Both names are DynamoDB reserved words ("snapshot" is): always placeholders.
        let keys = |key: HashMap<String, AttributeValue>, projection: &str| {
            KeysAndAttributes::builder()
                .keys(key)
                .projection_expression("#wanted")
                .expression_attribute_names("#wanted", projection)
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Rejected(e.to_string()))
        };
        let order_key = HashMap::from([
            ("order_id".to_owned(), text(order_reference)),
            ("entry".to_owned(), text("order")),
        ]);
        let wanted = HashMap::from([
            (self.orders_table.clone(), keys(order_key, "snapshot")?),
            (
                self.customers_table.clone(),
                keys(customer_key(customer_id), OPTED_OUT)?,
            ),
        ]);
        let mut found = batch_get_all(&self.client, wanted).await?;
        let mut recipient = Recipient::default();
        if let Some(mut order) = found.remove(&self.orders_table).and_then(|mut i| i.pop())
            && let Some(snapshot) = order.remove("snapshot")
        {
            let contact: OrderContact =
                serde_dynamo::from_attribute_value(snapshot).map_err(corrupt)?;
            recipient.email = contact.customer_email.filter(|e| !e.trim().is_empty());
            recipient.locale = contact.customer_locale;
        }
        if let Some(customer) = found
            .remove(&self.customers_table)
            .and_then(|mut i| i.pop())
        {
            recipient.opted_out =
                matches!(customer.get(OPTED_OUT), Some(AttributeValue::Bool(true)));
        }
        Ok(recipient)
    }

    async fn claim(&self, claim: &SurveyClaim) -> Result<Option<StoredSurvey>, StoreError> {
        let mut expression = Expression::default();
        expression.set("claimed_at", time(claim.at));
        expression.set_once("language", text(claim.language.as_str()));
        expression.set_once("sent_at", time(claim.at));
        expression.set_once("expires_at", time(claim.expires_at));
        for (channel, hash) in [
            (SurveyChannel::Email, &claim.email_token),
            (SurveyChannel::Webhook, &claim.webhook_token),
        ] {
            if let Some(hash) = hash {
                expression.set_once(channel.token_attribute(), text(hash.as_str()));
            }
        }
        // Queued and being sent: no longer due.
        expression.remove("due_shard");
        let names = expression.names.clone();
        let condition = "attribute_exists(case_id) AND attribute_not_exists(claimed_at) \
                         AND attribute_not_exists(outcome)";
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&claim.case_id)))
            .update_expression(expression.update_expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(expression.values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(store_error);
        match result {
            Ok(output) => {
                let item = output
                    .attributes
                    .ok_or_else(|| corrupt("the claim returned no survey"))?;
                Ok(Some(stored_survey(item)?))
            }
            Err(StoreError::Conflict) => match self.stored(&claim.case_id).await? {
                None => Ok(None),
                // The SDK resent a claim whose first try was applied but never answered (a
                // timeout, a dropped connection): the claim standing is this attempt's own.
                Some(stored) if is_own_claim(&stored, claim) => Ok(Some(stored)),
                Some(_) => Err(StoreError::Conflict),
            },
            Err(err) => Err(err),
        }
    }

    async fn settle(&self, case: &CaseId, settlement: &Settlement) -> Result<(), StoreError> {
        let mut expression = Expression::default();
        for (channel, at) in &settlement.delivered {
            expression.set(channel.sent_attribute(), time(*at));
        }
        if let Some(outcome) = settlement.outcome {
            expression.set("outcome", text(outcome.as_str()));
        }
        for channel in &settlement.forget_tokens {
            expression.remove(channel.token_attribute());
        }
        if settlement.unsend {
            for attribute in ["sent_at", "expires_at", "language"] {
                expression.remove(attribute);
            }
        }
        expression.remove("due_shard");
        let condition = match settlement.claimed_at {
            Some(claimed_at) => {
                expression.remove("claimed_at");
                let value = expression.value(time(claimed_at));
                format!("claimed_at = {value}")
            }
            None => "attribute_exists(case_id) AND attribute_not_exists(claimed_at) \
                     AND attribute_not_exists(outcome)"
                .to_owned(),
        };
        let update = expression.update(&self.table, Self::key(case), &condition)?;
        self.write(update, &settlement.counters).await
    }

    async fn stored(&self, case: &CaseId) -> Result<Option<StoredSurvey>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(case)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output.item.map(stored_survey).transpose()
    }

    async fn by_token(&self, token: &SurveyToken) -> Result<Option<Survey>, StoreError> {
        let hash = token.hash();
        // Most links are the e-mail's; a webhook's link is looked up second.
        if let Some(survey) = self.query_token(TOKEN_INDEX, "token_hash", &hash).await? {
            return Ok(Some(survey));
        }
        self.query_token(WEBHOOK_TOKEN_INDEX, "webhook_token_hash", &hash)
            .await
    }

    async fn record_answer(
        &self,
        answered: &Survey,
        counters: &[CounterChange],
    ) -> Result<(), StoreError> {
        let (Some(response), Some(at)) = (&answered.response, answered.answered_at) else {
            return Err(StoreError::Rejected(
                "an answer needs a response and its time".into(),
            ));
        };
        let mut expression = Expression::default();
        expression.set(
            "response",
            serde_dynamo::to_attribute_value(response).map_err(corrupt)?,
        );
        expression.set("answered_at", time(at));
        let update = expression.update(
            &self.table,
            Self::key(&answered.case_id),
            "attribute_exists(case_id) AND attribute_not_exists(answered_at)",
        )?;
        self.write(update, counters).await
    }

    async fn set_opted_out(
        &self,
        customer_id: &str,
        opted_out: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.customers_table)
            .set_key(Some(customer_key(customer_id)))
            .update_expression("SET #opted_out = :opted_out, #at = :at")
            .expression_attribute_names("#opted_out", OPTED_OUT)
            .expression_attribute_names("#at", "survey_preference_at")
            .expression_attribute_values(":opted_out", AttributeValue::Bool(opted_out))
            .expression_attribute_values(":at", time(at))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn survey() -> Survey {
        let at = Utc.with_ymd_and_hms(2026, 11, 11, 8, 0, 0).unwrap();
        let due = crate::survey::schedule(
            CaseId::from_instant(at),
            "c-1",
            "generic:glow-lab:1",
            "agent:a-1",
            at,
            crate::survey::DEFAULT_DELAY,
            false,
        )
        .unwrap();
        Survey::due(&due)
    }

    #[test]
    fn scheduling_sets_each_attribute_only_once_and_never_fails() {
        let survey = survey();
        let update = scheduling_update("surveys", &survey).unwrap();
        let expression = update.update_expression();
        assert_eq!(
            expression.matches("if_not_exists").count(),
            6,
            "{expression}"
        );
        assert_eq!(update.condition_expression(), None);
        let values = update.expression_attribute_values().unwrap();
        assert!(
            values
                .values()
                .any(|v| v == &text("2026-11-12T08:00:00.000Z"))
        );
        assert!(
            values
                .values()
                .any(|v| v == &text(due_shard(&survey.case_id)))
        );
    }

    #[test]
    fn a_stored_survey_reads_back_with_its_dispatch_state() {
        let survey = survey();
        let mut item = HashMap::from([
            ("case_id".to_owned(), text(survey.case_id.to_string())),
            ("customer_id".to_owned(), text("c-1")),
            ("order_reference".to_owned(), text("generic:glow-lab:1")),
            ("resolved_by".to_owned(), text("agent:a-1")),
            ("resolved_at".to_owned(), time(survey.resolved_at)),
            ("due_at".to_owned(), time(survey.due_at)),
        ]);
        let pending = stored_survey(item.clone()).unwrap();
        assert_eq!(pending.survey, survey);
        assert_eq!((pending.claimed_at, pending.outcome), (None, None));
        item.insert("outcome".into(), text("opted_out"));
        item.insert("email_sent_at".into(), time(survey.due_at));
        let settled = stored_survey(item.clone()).unwrap();
        assert_eq!(settled.outcome, Some(DispatchOutcome::OptedOut));
        assert!(settled.delivered(SurveyChannel::Email));
        assert!(!settled.delivered(SurveyChannel::Webhook));
        item.insert("outcome".into(), text("lost"));
        assert!(matches!(stored_survey(item), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_claim_recognises_itself_and_no_other() {
        let at = Utc.with_ymd_and_hms(2026, 11, 12, 8, 0, 0).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        let hash = |digit: char| TokenHash::parse(&digit.to_string().repeat(64)).unwrap();
        let claim = SurveyClaim {
            case_id: survey().case_id,
            at,
            language: SurveyLanguage::ZhCn,
            expires_at: at + chrono::Duration::days(7),
            email_token: Some(hash('a')),
            webhook_token: None,
        };
        let mut stored = StoredSurvey {
            survey: survey(),
            // Stored to the millisecond.
            claimed_at: Some(parse_time(&rfc3339(at)).unwrap()),
            email_sent_at: None,
            webhook_sent_at: None,
            outcome: None,
        };
        stored.survey.token_hash = Some(hash('a'));
        stored.survey.webhook_token_hash = Some(hash('c'));
        assert!(is_own_claim(&stored, &claim));

        let mut other = stored.clone();
        other.survey.token_hash = Some(hash('b'));
        assert!(!is_own_claim(&other, &claim), "another attempt's token");
        let mut later = stored.clone();
        later.claimed_at = Some(at + chrono::Duration::seconds(1));
        assert!(!is_own_claim(&later, &claim), "another attempt's instant");
        let mut settled = stored.clone();
        settled.outcome = Some(DispatchOutcome::Sent);
        assert!(!is_own_claim(&settled, &claim), "settled since");
        let mut released = stored.clone();
        released.claimed_at = None;
        assert!(!is_own_claim(&released, &claim));
        let tokenless = SurveyClaim {
            email_token: None,
            ..claim.clone()
        };
        assert!(!is_own_claim(&stored, &tokenless), "nothing proves it ours");
    }

    #[test]
    fn expressions_number_their_placeholders() {
        let mut expression = Expression::default();
        expression.set("a", text("1"));
        expression.set_once("b", text("2"));
        expression.remove("c");
        assert_eq!(
            expression.update_expression(),
            "SET #n0 = :v0, #n1 = if_not_exists(#n1, :v1) REMOVE #n2"
        );
    }
}
