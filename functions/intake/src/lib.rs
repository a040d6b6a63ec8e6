//! Intake: every after-sales request enters here. Customers open cases and read them back;
//! staff read any case.
//!
//! Routes (see `infra/template.yaml`): `POST /cases`, `GET /cases/{id}`, and the API's
//! `$default` route, which answers unknown paths (404) and wrong methods (405) with the
//! documented error body.

use aftercare::api::{ApiError, HttpRequest, json_response};
use aftercare::assessment::assess;
use aftercare::auth::{Caller, Role};
use aftercare::aws_calls::AwsCallCounter;
use aftercare::case::{
    Case, CaseDraft, CaseId, CaseLine, CaseStatus, NewCaseRequest, Priority, Queue, TimelineEntry,
};
use aftercare::clock::{Clock, SystemClock};
use aftercare::config::{self, ConfigError, WebhookSecrets};
use aftercare::evidence::PhotoEvidence;
use aftercare::idempotency::{
    IdempotencyKey, IdempotencyRecord, REQUEST_KEY_LIFETIME, Replay, SavedResponse, payload_hash,
    request_record_key,
};
use aftercare::quality_alert::AlertPolicy;
use aftercare::refund::RefundPolicy;
use aftercare::sla::{SlaOutcome, SlaPolicy, SlaStage};
use aftercare::store::{
    CaseFile, CaseStore, CatalogueStore, CounterStore, DynamoCaseStore, DynamoCatalogueStore,
    DynamoCounterStore, DynamoIdempotencyStore, DynamoOrderStore, DynamoRefundStore,
    IdempotencyStore, OrderStore, RefundHistory, StoreError, WrittenWith,
};
use aftercare::store::{DynamoQualityStore, QualityStore};
use aftercare::trigger::Trigger;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

mod actions;
mod listings;
mod metrics;
mod overview;
mod product_cache;
mod products;
pub mod quality;

pub use product_cache::ProductCache;
mod webhooks;

/// What intake reads and writes: the Lambda uses the DynamoDB adapters ([`Aws`]), handler
/// tests use fakes.
pub trait Ports {
    type Cases: CaseStore;
    type Idempotency: IdempotencyStore;
    type Orders: OrderStore;
    type Catalogue: CatalogueStore;
    type Counters: CounterStore;
    type Refunds: RefundHistory;
    type Clock: Clock;
    /// Batch quality windows and alerts.
    type Quality: QualityStore;
    /// The `quality-alerts` queue.
    type AlertQueue: quality::AlertQueue;
}

/// The ports of the deployed function.
pub struct Aws;

impl Ports for Aws {
    type Cases = DynamoCaseStore;
    type Idempotency = DynamoIdempotencyStore;
    type Orders = DynamoOrderStore;
    type Catalogue = DynamoCatalogueStore;
    type Counters = DynamoCounterStore;
    type Refunds = DynamoRefundStore;
    type Clock = SystemClock;
    type Quality = DynamoQualityStore;
    type AlertQueue = quality::SqsAlertQueue;
}

/// The intake function's dependencies, built once per Lambda instance.
pub struct Intake<P: Ports> {
    pub cases: P::Cases,
    pub idempotency: P::Idempotency,
    pub orders: P::Orders,
    pub catalogue: P::Catalogue,
    /// The SLA overview's counters (written by the case store with each change).
    pub counters: P::Counters,
    /// A customer's refunds: what was refunded before, for the refund a resolution requests.
    pub refunds: P::Refunds,
    /// Auto-approval limits, second-approver limits, block list (template parameters).
    pub refund_policy: RefundPolicy,
    /// Product terms read recently: the catalogue changes rarely, cases arrive often.
    pub products: ProductCache,
    pub clock: P::Clock,
    pub sla: SlaPolicy,
    /// How long after a resolution its survey is due (`SurveyDelayMinutes`).
    pub survey_delay: chrono::Duration,
    pub webhook_secrets: WebhookSecrets,
    /// The AWS calls of the request being answered, logged with its answer (a Lambda instance
    /// answers one request at a time).
    pub aws_calls: AwsCallCounter,
    /// Batch quality windows and alerts (written with the opening case by the case store).
    pub quality: P::Quality,
    pub alert_queue: P::AlertQueue,
    /// When a batch's cases raise an alert (`QualityAlert*` template parameters).
    pub alert_policy: AlertPolicy,
}

impl Intake<Aws> {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let aws_calls = AwsCallCounter::default();
        let aws = config::aws().await;
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&aws)
                .interceptor(aws_calls.clone())
                .build(),
        );
        let cases_table = config::required("CASES_TABLE")?;
        let orders_table = config::required("ORDERS_TABLE")?;
        let catalogue_table = config::required("CATALOGUE_TABLE")?;
        let idempotency_table = config::required("IDEMPOTENCY_TABLE")?;
        let customers_table = config::required("CUSTOMERS_TABLE")?;
        let metrics_table = config::required("METRICS_TABLE")?;
        let refunds_table = config::required("REFUNDS_TABLE")?;
        let refund_policy = config::refund_policy()?;
        let webhook_secrets = WebhookSecrets::from_env()?;
        let sla = config::sla_policy()?;
        let surveys_table = config::required("SURVEYS_TABLE")?;
        let survey_delay = aftercare::survey::parse_delay_minutes(
            &std::env::var("SURVEY_DELAY_MINUTES").unwrap_or_default(),
        )
        .map_err(|e| ConfigError::Invalid {
            name: "SURVEY_DELAY_MINUTES",
            reason: e.to_string(),
        })?;
        // Batch quality alerts: windows and alerts in their table, messages on their queue.
        let quality_table = config::required("QUALITY_TABLE")?;
        let alert_queue = quality::SqsAlertQueue::new(
            aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(&aws)
                    .interceptor(aws_calls.clone())
                    .build(),
            ),
            config::required("QUALITY_ALERTS_QUEUE_URL")?,
        );
        let alert_policy = quality::alert_policy_from_env()?;
        let quality = DynamoQualityStore::new(dynamodb.clone(), &quality_table, &metrics_table);
        Ok(Intake {
            quality,
            alert_queue,
            alert_policy,
            cases: DynamoCaseStore::new(dynamodb.clone(), cases_table)
                .with_quality_table(&quality_table)
                .with_idempotency_table(&idempotency_table)
                .with_customers_table(&customers_table)
                .with_metrics_table(&metrics_table)
                .with_refunds_table(&refunds_table)
                .with_surveys_table(surveys_table),
            orders: DynamoOrderStore::new(
                dynamodb.clone(),
                orders_table,
                &idempotency_table,
                customers_table,
            )
            // Orders and units sold are counted when an order is first recorded.
            .with_metrics_table(&metrics_table),
            catalogue: DynamoCatalogueStore::new(dynamodb.clone(), catalogue_table),
            counters: DynamoCounterStore::new(dynamodb.clone(), &metrics_table),
            refunds: DynamoRefundStore::new(dynamodb.clone(), refunds_table),
            refund_policy,
            products: ProductCache::default(),
            idempotency: DynamoIdempotencyStore::new(dynamodb, idempotency_table),
            clock: SystemClock,
            sla,
            survey_delay,
            webhook_secrets,
            aws_calls,
        })
    }
}

/// The Lambda entrypoint: intake answers HTTP API requests, and runs the quality alert relay
/// on its schedule.
pub async fn handle<P: Ports>(
    intake: &Intake<P>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let span = tracing::info_span!("intake", request_id = %event.context.request_id, case_id = tracing::field::Empty);
    async move {
        match Trigger::parse(event.payload)? {
            Trigger::Http(request) => {
                intake.aws_calls.reset();
                let response = respond(intake, &request).await;
                tracing::info!(
                    route = HttpRequest(&request).route_key(),
                    status = response.status_code,
                    aws_calls = intake.aws_calls.total(),
                    "answered"
                );
                Ok(serde_json::to_value(response)?)
            }
            // The quality alert relay's schedule (the only one intake has).
            Trigger::EventBridge(scheduled) => {
                intake.aws_calls.reset();
                let at = scheduled.time.unwrap_or_else(|| intake.clock.now());
                Ok(serde_json::to_value(quality::relay(intake, at).await?)?)
            }
            other => Err(format!(
                "intake is wired to HTTP API routes and its alert relay schedule, not {} events",
                other.kind()
            )
            .into()),
        }
    }
    .instrument(span)
    .await
}

/// Routes one HTTP API request and always answers: errors become the documented error body.
pub async fn respond<P: Ports>(
    intake: &Intake<P>,
    request: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    let http = HttpRequest(request);
    let result = match http.route_key() {
        "POST /cases" => open_case(intake, &http).await,
        "GET /cases" => listings::own_cases(intake, &http).await,
        "GET /cases/{id}" => get_case(intake, &http).await,
        "GET /queues/{queue}" => listings::work_queue(intake, &http).await,
        "GET /sla/overview" => overview::sla_overview(intake, &http).await,
        "GET /metrics" => metrics::service_metrics(intake, &http).await,
        "POST /cases/{id}/replies" => actions::act(intake, &http, "replies").await,
        "POST /cases/{id}/assign" => actions::act(intake, &http, "assign").await,
        "POST /cases/{id}/wait" => actions::act(intake, &http, "wait").await,
        "POST /cases/{id}/resolve" => actions::act(intake, &http, "resolve").await,
        "POST /cases/{id}/close" => actions::act(intake, &http, "close").await,
        "POST /cases/{id}/reopen" => actions::act(intake, &http, "reopen").await,
        "POST /classify" => listings::classify(intake, &http).await,
        "GET /products/{sku}" => products::product(intake, &http).await,
        "POST /webhooks/shopify" => webhooks::shopify(intake, &http).await,
        "POST /webhooks/woocommerce" => webhooks::woocommerce(intake, &http).await,
        "POST /webhooks/generic" => webhooks::generic(intake, &http).await,
        "GET /quality/alerts" => quality::list_alerts(intake, &http).await,
        "POST /quality/alerts/{id}/acknowledge" => quality::acknowledge_alert(intake, &http).await,
        _ => Err(ApiError::no_route(http.method(), http.path())),
    };
    result.unwrap_or_else(|err| {
        tracing::info!(status = err.status, code = err.code, "request refused");
        err.into_response()
    })
}

async fn open_case<P: Ports>(
    intake: &Intake<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = http.caller()?;
    if caller.role != Role::Customer {
        return Err(ApiError::forbidden(
            "Only customers open cases; staff record phone and chat complaints on the customer's behalf later.",
        ));
    }
    let key = idempotency_record_key(http, &caller)?;
    let draft = CaseDraft::parse(http.json_body::<NewCaseRequest>()?)?;
    let now = intake.clock.now();
    // Only the customer who placed the order may complain about it; to anyone else the order
    // does not exist.
    let facts = intake
        .orders
        .complaint_facts(draft.order_id.as_str(), &caller.subject)
        .await?;
    let order = facts
        .order
        .filter(|order| order.placed_by(&caller.subject))
        .ok_or_else(|| ApiError::not_found("order"))?;
    let products = intake
        .products
        .of_lines(&intake.catalogue, &draft, now)
        .await?;
    let context = facts.history.complaint_context(now);
    let assessment = assess(&draft, &order, &products, &context, now)?;
    let assessed = Case::open(draft, &caller.subject, assessment, now, &intake.sla);
    tracing::Span::current().record("case_id", tracing::field::display(assessed.id));
    let opened = TimelineEntry {
        at: now,
        actor: format!("customer:{}", caller.subject),
        action: "opened".into(),
        note: None,
    };
    let location = format!("/cases/{}", assessed.id);
    let payload = payload_hash(&http.body_bytes()?);
    // Observed in its batches' quality windows and written with them; a window another case
    // moved first means observing again.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let observed =
            quality::observe_opening(intake, &assessed, order.order.as_ref(), now).await?;
        let mut timeline = vec![opened.clone()];
        timeline.extend(observed.observation.flag.clone());
        let file = CaseFile {
            case: observed.case,
            timeline,
        };
        let body =
            serde_json::to_string(&CaseView::from(&file)).map_err(|_| ApiError::internal())?;
        // The service metrics' counters (cases, categories, SKUs), written with the case.
        let counters = aftercare::metrics::case_counter_changes(None, &file.case);
        let guard = key.clone().map(|key| IdempotencyRecord {
            key,
            payload_hash: payload.clone(),
            response: Some(SavedResponse {
                status: 201,
                body: body.clone(),
                location: Some(location.clone()),
            }),
            recorded_at: now,
            expires_at: now + REQUEST_KEY_LIFETIME,
        });
        match intake
            .cases
            .open_case(
                &file.case,
                &file.timeline[0],
                WrittenWith {
                    idempotency: guard.as_ref(),
                    quality: Some(&observed.observation),
                    counters: &counters,
                    ..WrittenWith::default()
                },
            )
            .await
        {
            Ok(()) => {
                tracing::info!(queue = ?file.case.queue, priority = ?file.case.priority, "case opened");
                quality::send_raised(intake, &observed.observation.alerts).await;
                return Ok(saved_response(&SavedResponse {
                    status: 201,
                    body,
                    location: Some(location),
                }));
            }
            Err(StoreError::Stale) if attempts < quality::OBSERVE_ATTEMPTS => continue,
            // The key was used before: answer as then, or refuse a different request under it.
            Err(StoreError::Conflict) if guard.is_some() => {
                let guard = guard.expect("checked");
                return earlier_answer(intake, &guard.key, &payload, now)
                    .await?
                    .ok_or_else(|| {
                        ApiError::conflict(
                            "The request collided with another; retry it with the same Idempotency-Key.",
                        )
                    });
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// The request's `Idempotency-Key`, if it sent one, as the key of its record: scoped to the
/// caller and the request's path, so the same key on two cases never collides.
pub(crate) fn idempotency_record_key(
    http: &HttpRequest<'_>,
    caller: &Caller,
) -> Result<Option<String>, ApiError> {
    let Some(raw) = http.header("idempotency-key") else {
        return Ok(None);
    };
    let key = IdempotencyKey::parse(raw)?;
    let scope = format!("{} {}", http.method(), http.path());
    Ok(Some(request_record_key(&caller.subject, &scope, &key)))
}

/// The answer given earlier under an idempotency key, when there is one for this request:
/// the saved response for the same body, 422 for another body, `None` when the key is unused
/// (or its record expired).
pub(crate) async fn earlier_answer<P: Ports>(
    intake: &Intake<P>,
    record_key: &str,
    payload: &str,
    now: DateTime<Utc>,
) -> Result<Option<ApiGatewayV2httpResponse>, ApiError> {
    let stored = intake.idempotency.record(record_key).await?;
    match stored.map(|record| record.replay(payload, now)) {
        Some(Replay::Same(Some(saved))) => {
            tracing::info!("idempotent replay");
            Ok(Some(saved_response(&saved)))
        }
        Some(Replay::DifferentPayload) => Err(ApiError::new(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request; use a new key for a new request.",
        )),
        _ => Ok(None),
    }
}

/// The HTTP answer for a response saved under an idempotency key (or about to be).
pub(crate) fn saved_response(saved: &SavedResponse) -> ApiGatewayV2httpResponse {
    let mut response = json_response(saved.status, &serde_json::Value::Null);
    response.body = Some(aws_lambda_events::encodings::Body::Text(saved.body.clone()));
    if let Some(location) = saved.location.as_deref().and_then(|l| l.parse().ok()) {
        response.headers.insert("location", location);
    }
    response
}

async fn get_case<P: Ports>(
    intake: &Intake<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let (_, file) = visible_case_file(intake, http).await?;
    Ok(json_response(200, &CaseView::from(&file)))
}

/// The caller and the case of the `{id}` path parameter, when the caller may see it (its
/// customer, or staff). An id that cannot exist, a missing case and another customer's case
/// are all answered 404, so nothing can be probed.
pub(crate) async fn visible_case_file<P: Ports>(
    intake: &Intake<P>,
    http: &HttpRequest<'_>,
) -> Result<(Caller, CaseFile), ApiError> {
    let caller = http.caller()?;
    let id: CaseId = http
        .path_param("id")?
        .parse()
        .map_err(|_| ApiError::not_found("case"))?;
    tracing::Span::current().record("case_id", tracing::field::display(id));
    let file = intake
        .cases
        .case_file(&id)
        .await?
        .filter(|file| caller.may_see_case_of(&file.case.customer_id))
        .ok_or_else(|| ApiError::not_found("case"))?;
    Ok((caller, file))
}

/// A case as the API shows it.
#[derive(Debug, Serialize)]
pub struct CaseView<'a> {
    pub id: String,
    pub status: CaseStatus,
    pub queue: Queue,
    pub priority: Priority,
    pub classification: &'a aftercare::classify::Classification,
    pub remedies: &'a aftercare::remedy::RemedyDecision,
    pub photo_required: bool,
    /// Whether the photo evidence the remedy needs is there: `not_required`, `missing`,
    /// `attached` (photos themselves: `GET /cases/{id}/photos`).
    pub photo_evidence: PhotoEvidence,
    pub photos_attached: usize,
    pub customer_id: &'a str,
    pub order_id: &'a str,
    pub lines: &'a [CaseLine],
    pub description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opened: Option<bool>,
    pub opened_at: DateTime<Utc>,
    pub sla: SlaView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<&'a aftercare::workflow::Resolution>,
    pub timeline: &'a [TimelineEntry],
    pub version: u64,
}

#[derive(Debug, Serialize)]
pub struct SlaView {
    pub first_response_due: DateTime<Utc>,
    pub resolution_due: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<DateTime<Utc>>,
    /// The deadline being watched now; absent while the clock is paused or stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_due: Option<DateTime<Utc>>,
    /// How late each target got: `at_risk`, `breached`, `escalated`; absent while on track.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_response_stage: Option<SlaStage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_stage: Option<SlaStage>,
    /// 0; 1 once breached (the queue's supervisor was told); 2 at twice the target (the head
    /// of service was told).
    pub escalation_level: u8,
    /// How each met target was met: business minutes taken and to spare (negative: late).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_response_outcome: Option<SlaOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_outcome: Option<SlaOutcome>,
}

impl<'a> From<&'a CaseFile> for CaseView<'a> {
    fn from(file: &'a CaseFile) -> Self {
        let case = &file.case;
        CaseView {
            id: case.id.to_string(),
            status: case.status,
            queue: case.queue,
            priority: case.priority,
            classification: &case.classification,
            remedies: &case.remedies,
            photo_required: case.photo_required(),
            photo_evidence: PhotoEvidence::of(case),
            photos_attached: case.photos.attached.len(),
            customer_id: &case.customer_id,
            order_id: case.order_id.as_str(),
            lines: &case.lines,
            description: case.description.as_str(),
            opened: case.opened,
            opened_at: case.opened_at,
            sla: SlaView {
                first_response_due: case.sla.first_response.due_at,
                resolution_due: case.sla.resolution.due_at,
                first_response_at: case.first_response_at,
                next_due: case.sla_clock_running().then(|| case.next_sla_deadline()),
                first_response_stage: case.sla.first_response.reached,
                resolution_stage: case.sla.resolution.reached,
                escalation_level: case.escalation_level,
                first_response_outcome: case.sla.first_response_outcome,
                resolution_outcome: case.sla.resolution_outcome,
            },
            assignee: case.assignee.as_deref(),
            resolution: case.resolution.as_ref(),
            timeline: &file.timeline,
            version: case.version,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Handler tests: parsing, authorisation and answers, with an in-memory case store standing
    //! in for DynamoDB. The end-to-end suite runs the same paths against the real binary.

    use super::*;
    use aftercare::clock::FixedClock;
    use aftercare::store::StoreError;
    use aws_lambda_events::encodings::Body;
    use chrono::TimeZone;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    /// Cases and idempotency records in memory, written together as the transaction would.
    #[derive(Default)]
    struct MemoryCases(Mutex<Vec<CaseFile>>, Arc<Mutex<Vec<IdempotencyRecord>>>);

    struct MemoryRecords(Arc<Mutex<Vec<IdempotencyRecord>>>);

    impl IdempotencyStore for MemoryRecords {
        async fn record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .iter()
                .find(|r| r.key == key)
                .cloned())
        }
    }

    impl CaseStore for MemoryCases {
        async fn open_case(
            &self,
            case: &Case,
            first: &TimelineEntry,
            written_with: WrittenWith<'_>,
        ) -> Result<(), StoreError> {
            let mut cases = self.0.lock().unwrap();
            let mut records = self.1.lock().unwrap();
            if cases.iter().any(|f| f.case.id == case.id) {
                return Err(StoreError::Conflict);
            }
            if let Some(record) = written_with.idempotency {
                if records.iter().any(|r| r.key == record.key) {
                    return Err(StoreError::Conflict);
                }
                records.push(record.clone());
            }
            cases.push(CaseFile {
                case: case.clone(),
                timeline: vec![first.clone()],
            });
            Ok(())
        }
        async fn record_change(
            &self,
            case: &Case,
            entry: &TimelineEntry,
            written_with: WrittenWith<'_>,
        ) -> Result<(), StoreError> {
            let idempotency = written_with.idempotency;
            let mut cases = self.0.lock().unwrap();
            let mut records = self.1.lock().unwrap();
            let file = cases
                .iter_mut()
                .find(|f| f.case.id == case.id)
                .ok_or(StoreError::Conflict)?;
            if file.case.version + 1 != case.version {
                return Err(StoreError::Conflict);
            }
            if let Some(record) = idempotency {
                if records.iter().any(|r| r.key == record.key) {
                    return Err(StoreError::Conflict);
                }
                records.push(record.clone());
            }
            file.case = case.clone();
            file.timeline.push(entry.clone());
            Ok(())
        }
        async fn cases_of_customer(
            &self,
            customer_id: &str,
            limit: i32,
            after: Option<&str>,
        ) -> Result<aftercare::store::CasePage, StoreError> {
            let mut cases: Vec<Case> = self
                .0
                .lock()
                .unwrap()
                .iter()
                .map(|f| f.case.clone())
                .filter(|c| c.customer_id == customer_id)
                .collect();
            cases.sort_by_key(|c| std::cmp::Reverse(c.id));
            let start = after
                .map(|a| {
                    cases
                        .iter()
                        .position(|c| c.id.to_string() == a)
                        .map_or(cases.len(), |p| p + 1)
                })
                .unwrap_or(0);
            let page: Vec<Case> = cases
                .iter()
                .skip(start)
                .take(limit as usize)
                .cloned()
                .collect();
            let next =
                (start + page.len() < cases.len()).then(|| page.last().unwrap().id.to_string());
            Ok(aftercare::store::CasePage { cases: page, next })
        }
        async fn work_queue(
            &self,
            queue: Queue,
            limit: i32,
            _: Option<&str>,
        ) -> Result<aftercare::store::CasePage, StoreError> {
            let cases = self
                .0
                .lock()
                .unwrap()
                .iter()
                .map(|f| f.case.clone())
                .filter(|c| c.queue == queue)
                .take(limit as usize)
                .collect();
            Ok(aftercare::store::CasePage { cases, next: None })
        }
        async fn case(&self, id: &CaseId) -> Result<Option<Case>, StoreError> {
            Ok(self.case_file(id).await?.map(|file| file.case))
        }
        async fn case_file(&self, id: &CaseId) -> Result<Option<CaseFile>, StoreError> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .iter()
                .find(|f| f.case.id == *id)
                .cloned())
        }
    }

    /// Orders the webhooks wrote, in memory.
    /// An order of a serum (2) and a cream (1), delivered on 2026-11-09.
    fn order(id: &str, customer: &str) -> aftercare::storefront::StoreOrder {
        serde_json::from_value(json!({
            "platform": "shopify", "store": "brand.myshopify.com", "order_id": id,
            "order_number": format!("#{id}"), "customer_id": customer, "customer_email": null,
            "customer_locale": "zh-CN", "currency": "CNY",
            "lines": [
                {"line_item_id": "1", "sku": "SERUM-30", "title": "Serum", "quantity": 2,
                 "unit_price_minor": 19900, "paid_minor": 39800, "batch": "S2409A"},
                {"line_item_id": "2", "sku": "CREAM-50", "title": "Cream", "quantity": 1,
                 "unit_price_minor": 25900, "paid_minor": 25900, "batch": null}
            ],
            "placed_at": "2026-11-05T02:00:00Z", "source_updated_at": "2026-11-05T02:00:00Z",
            "delivered_at": "2026-11-09T06:00:00Z", "opened_exclusion_consented": false
        }))
        .unwrap()
    }

    struct MemoryOrders(Mutex<Vec<String>>, Vec<aftercare::storefront::StoreOrder>);

    impl OrderStore for MemoryOrders {
        async fn record_order(
            &self,
            order: &aftercare::storefront::StoreOrder,
            _: &IdempotencyRecord,
        ) -> Result<aftercare::store::WebhookOutcome, StoreError> {
            self.0.lock().unwrap().push(order.order_id.clone());
            Ok(aftercare::store::WebhookOutcome::Applied)
        }
        async fn record_delivery(
            &self,
            _: aftercare::storefront::Platform,
            _: &str,
            delivery: &aftercare::storefront::Delivery,
            _: &IdempotencyRecord,
        ) -> Result<aftercare::store::WebhookOutcome, StoreError> {
            self.0.lock().unwrap().push(delivery.order_id.clone());
            Ok(aftercare::store::WebhookOutcome::Applied)
        }
        async fn record_refund(
            &self,
            _: aftercare::storefront::Platform,
            _: &str,
            refund: &aftercare::storefront::RecordedRefund,
            _: &IdempotencyRecord,
        ) -> Result<aftercare::store::WebhookOutcome, StoreError> {
            self.0.lock().unwrap().push(refund.order_id.clone());
            Ok(aftercare::store::WebhookOutcome::Applied)
        }
        async fn order_file(
            &self,
            reference: &str,
        ) -> Result<Option<aftercare::order::OrderFile>, StoreError> {
            Ok(self
                .1
                .iter()
                .find(|o| {
                    aftercare::order::order_reference(o.platform, &o.store, &o.order_id)
                        == reference
                })
                .map(|o| aftercare::order::OrderFile {
                    reference: reference.to_owned(),
                    order: Some(o.clone()),
                    deliveries: vec![],
                    refunds: vec![],
                }))
        }
        async fn complaint_facts(
            &self,
            reference: &str,
            customer_id: &str,
        ) -> Result<aftercare::store::ComplaintFacts, StoreError> {
            Ok(aftercare::store::ComplaintFacts {
                order: self.order_file(reference).await?,
                history: self.case_history(customer_id).await?,
            })
        }
        async fn case_history(
            &self,
            _: &str,
        ) -> Result<aftercare::customer::CaseHistory, StoreError> {
            Ok(Default::default())
        }
        async fn order_of_line_item(&self, _: &str) -> Result<Option<String>, StoreError> {
            Ok(None)
        }
    }

    /// One product with one batch.
    struct OneProduct;

    impl CatalogueStore for OneProduct {
        async fn product_file(
            &self,
            sku: &str,
        ) -> Result<Option<aftercare::store::ProductFile>, StoreError> {
            let catalogue: aftercare::catalogue::Catalogue = serde_json::from_value(json!({
                "products": [{"sku": "SERUM-30", "name": {"en": "Serum"}, "ingredients": ["Aqua"],
                    "usage": {"en": "Pat in."}, "shelf_life_months": 36, "pao_months": 12}],
                "batches": [{"sku": "SERUM-30", "batch": "S2409A", "manufactured_on": "2024-09-12"}]
            }))
            .unwrap();
            Ok((sku == "SERUM-30").then(|| aftercare::store::ProductFile {
                product: catalogue.products[0].clone(),
                batches: catalogue.batches.clone(),
            }))
        }
        async fn load(&self, _: &aftercare::catalogue::Catalogue) -> Result<usize, StoreError> {
            unreachable!("intake never loads the catalogue")
        }
    }

    /// Counters as the overview reads them: two breached service cases, and one first
    /// response in 75 minutes (late) on each of two days.
    struct FixedCounters;

    impl CounterStore for FixedCounters {
        async fn counters(
            &self,
            series: &str,
            _: &str,
        ) -> Result<aftercare::store::Counters, StoreError> {
            Ok(if series == "sla-standing#service" {
                [("breached".to_owned(), 2), ("at_risk".to_owned(), 0)].into()
            } else {
                Default::default()
            })
        }
        async fn counters_between(
            &self,
            series: &str,
            from: &str,
            to: &str,
        ) -> Result<Vec<aftercare::store::Counters>, StoreError> {
            let day: aftercare::store::Counters =
                [("count".to_owned(), 1), ("le_90".to_owned(), 1)].into();
            Ok(
                if series == "response-times#service#first_response"
                    && from <= "2026-11-10"
                    && to >= "2026-11-11"
                {
                    vec![day.clone(), day]
                } else {
                    vec![]
                },
            )
        }
        async fn counter_items_between(
            &self,
            _: &str,
            _: &str,
            _: &str,
        ) -> Result<Vec<(String, aftercare::store::Counters)>, StoreError> {
            Ok(vec![])
        }
    }

    /// The fakes above, as intake's ports.
    struct Memory;

    impl Ports for Memory {
        type Cases = MemoryCases;
        type Idempotency = MemoryRecords;
        type Orders = MemoryOrders;
        type Catalogue = OneProduct;
        type Counters = FixedCounters;
        type Refunds = NoEarlierRefunds;
        type Clock = FixedClock;
        type Quality = quality::fakes::NoQualityHistory;
        type AlertQueue = quality::fakes::NoAlertQueue;
    }

    /// Customers who never had a refund.
    struct NoEarlierRefunds;

    impl RefundHistory for NoEarlierRefunds {
        async fn refund_history(
            &self,
            _: &str,
        ) -> Result<Vec<aftercare::refund::Refund>, StoreError> {
            Ok(vec![])
        }
    }

    fn intake() -> Intake<Memory> {
        let cases = MemoryCases::default();
        let records = MemoryRecords(cases.1.clone());
        Intake {
            cases,
            idempotency: records,
            orders: MemoryOrders(Mutex::default(), vec![order("1001", "c-1"), order("2001", "c-2")]),
            catalogue: OneProduct,
            counters: FixedCounters,
            refunds: NoEarlierRefunds,
            refund_policy: RefundPolicy::default(),
            products: ProductCache::default(),
            clock: FixedClock(Utc.with_ymd_and_hms(2026, 11, 11, 0, 5, 0).unwrap()),
            sla: SlaPolicy::default(),
            survey_delay: aftercare::survey::DEFAULT_DELAY,
            aws_calls: AwsCallCounter::default(),
            quality: quality::fakes::NoQualityHistory,
            alert_queue: quality::fakes::NoAlertQueue,
            alert_policy: AlertPolicy::default(),
            webhook_secrets: WebhookSecrets::parse(
                r#"{"shopify": {"*": "dev-shopify-secret"}, "woocommerce": {"*": "dev-woo-secret"}}"#,
            )
            .unwrap(),
        }
    }

    fn webhook(route: &str, headers: serde_json::Value, body: &str) -> ApiGatewayV2httpRequest {
        let path = route.split_once(' ').unwrap().1;
        serde_json::from_value(json!({
            "version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": "",
            "headers": headers,
            "requestContext": {"http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1", "userAgent": "Shopify-Captain-Hook"},
                "routeKey": route, "stage": "$default", "requestId": "r", "timeEpoch": 0},
            "body": body, "isBase64Encoded": false
        }))
        .unwrap()
    }

    const ORDER: &str = r##"{"id": 450789469, "name": "#1001", "email": "a@example.com", "currency": "CNY",
        "created_at": "2026-11-01T10:00:00+08:00", "updated_at": "2026-11-01T10:00:00+08:00",
        "customer": {"id": 207119551}, "line_items": [{"id": 866550311766439020, "sku": "SERUM-30",
        "title": "Serum", "quantity": 1, "price": "199.00", "total_discount": "0.00", "properties": []}]}"##;

    #[tokio::test]
    async fn a_webhook_with_a_missing_or_wrong_signature_is_refused_and_writes_nothing() {
        let intake = intake();
        let signed = aftercare::storefront::sign(b"dev-shopify-secret", ORDER.as_bytes());
        let headers = |signature: Option<&str>| {
            let mut h = json!({"content-type": "application/json", "x-shopify-topic": "orders/create",
                "x-shopify-shop-domain": "brand.myshopify.com", "x-shopify-event-id": "e-1"});
            if let Some(signature) = signature {
                h["x-shopify-hmac-sha256"] = json!(signature);
            }
            h
        };
        for signature in [None, Some("bm9wZQ=="), Some("not base64!")] {
            let response = respond(
                &intake,
                &webhook("POST /webhooks/shopify", headers(signature), ORDER),
            )
            .await;
            assert_eq!(
                (
                    response.status_code,
                    body(&response)["error"]["code"].clone()
                ),
                (401, json!("invalid_signature"))
            );
        }
        let tampered = ORDER.replace("199.00", "1.00");
        let response = respond(
            &intake,
            &webhook("POST /webhooks/shopify", headers(Some(&signed)), &tampered),
        )
        .await;
        assert_eq!(response.status_code, 401);
        assert!(intake.orders.0.lock().unwrap().is_empty());

        let response = respond(
            &intake,
            &webhook("POST /webhooks/shopify", headers(Some(&signed)), ORDER),
        )
        .await;
        assert_eq!(
            (response.status_code, body(&response)["status"].clone()),
            (200, json!("applied"))
        );
        assert_eq!(
            *intake.orders.0.lock().unwrap(),
            vec!["450789469".to_owned()]
        );
    }

    #[tokio::test]
    async fn a_product_page_is_public_with_expiry_per_batch_and_the_policy() {
        let intake = intake();
        let get = |sku: &str| {
            let path = format!("/products/{sku}");
            let mut r = request("GET /products/{sku}", &path, None, None);
            r.path_parameters.insert("sku".into(), sku.into());
            r
        };
        let response = respond(&intake, &get("SERUM-30")).await;
        assert_eq!(response.status_code, 200);
        assert_eq!(response.headers["cache-control"], "public, max-age=300");
        let page = body(&response);
        assert_eq!(page["batches"][0]["expires_on"], "2027-09-12");
        assert_eq!(page["pao_months"], 12);
        assert!(
            page["after_sales_policy"]["zh-CN"]
                .as_str()
                .unwrap()
                .contains("7天")
        );
        let missing = respond(&intake, &get("NOPE")).await;
        assert_eq!(
            (missing.status_code, body(&missing)["error"]["code"].clone()),
            (404, json!("not_found"))
        );
    }

    #[tokio::test]
    async fn the_woocommerce_creation_ping_is_answered_unsigned() {
        let intake = intake();
        let ping = webhook(
            "POST /webhooks/woocommerce",
            json!({"content-type": "application/x-www-form-urlencoded", "x-wc-webhook-source": "https://shop.example.com/"}),
            "webhook_id=42",
        );
        assert_eq!(respond(&intake, &ping).await.status_code, 200);
        let unsigned_order = webhook(
            "POST /webhooks/woocommerce",
            json!({"content-type": "application/json", "x-wc-webhook-source": "https://shop.example.com/", "x-wc-webhook-topic": "order.created"}),
            "{}",
        );
        assert_eq!(respond(&intake, &unsigned_order).await.status_code, 401);
        assert!(intake.orders.0.lock().unwrap().is_empty());
    }

    fn request(
        route: &str,
        path: &str,
        claims: Option<(&str, &str)>,
        body: Option<&str>,
    ) -> ApiGatewayV2httpRequest {
        let (method, _) = route.split_once(' ').unwrap_or(("GET", ""));
        let mut context = json!({
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
            "routeKey": route, "stage": "$default", "requestId": "r", "timeEpoch": 0
        });
        if let Some((sub, role)) = claims {
            context["authorizer"] =
                json!({"jwt": {"claims": {"sub": sub, "role": role}, "scopes": null}});
        }
        let id = path.rsplit('/').next().unwrap_or("");
        serde_json::from_value(json!({
            "version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "pathParameters": if route.contains("{id}") { json!({"id": id}) } else { json!(null) },
            "requestContext": context, "body": body, "isBase64Encoded": false
        }))
        .unwrap()
    }

    fn body(response: &ApiGatewayV2httpResponse) -> Value {
        match &response.body {
            Some(Body::Text(text)) => serde_json::from_str(text).unwrap(),
            other => panic!("expected a text body, got {other:?}"),
        }
    }

    const LEAK: &str = r#"{"order_id":"shopify:brand.myshopify.com:1001","lines":[{"sku":"SERUM-30","quantity":1}],"description":"快递到了精华液瓶子漏了一半"}"#;
    const LEAK_OF_C2: &str = r#"{"order_id":"shopify:brand.myshopify.com:2001","lines":[{"sku":"SERUM-30","quantity":1}],"description":"快递到了精华液瓶子漏了一半"}"#;

    #[tokio::test]
    async fn a_customer_opens_a_case_with_its_sla_clock() {
        let intake = intake();
        let response = respond(
            &intake,
            &request(
                "POST /cases",
                "/cases",
                Some(("c-1", "customer")),
                Some(LEAK),
            ),
        )
        .await;
        assert_eq!(response.status_code, 201);
        let case = body(&response);
        assert_eq!(case["status"], "new");
        assert_eq!(case["customer_id"], "c-1");
        assert_eq!(case["sla"]["first_response_due"], "2026-11-11T01:05:00Z");
        assert_eq!(case["sla"]["resolution_due"], "2026-11-12T00:05:00Z");
        assert_eq!(case["timeline"][0]["action"], "opened");
        assert_eq!(
            response.headers["location"],
            format!("/cases/{}", case["id"].as_str().unwrap())
        );
        assert_eq!(intake.cases.0.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn bad_input_is_refused_and_nothing_is_written() {
        let intake = intake();
        let customer = Some(("c-1", "customer"));
        let cases = [
            (Some("{"), 400, "malformed_json"),
            (Some(r#"{"order_id":"1"}"#), 400, "invalid_request"),
            (
                Some(
                    r#"{"order_id":"1","lines":[{"sku":"A","quantity":1}],"description":"x","extra":1}"#,
                ),
                400,
                "invalid_request",
            ),
            (
                Some(r#"{"order_id":"1","lines":[],"description":"x"}"#),
                422,
                "validation_failed",
            ),
            (None, 400, "missing_body"),
        ];
        for (payload, status, code) in cases {
            let response = respond(
                &intake,
                &request("POST /cases", "/cases", customer, payload),
            )
            .await;
            assert_eq!(response.status_code, status, "{payload:?}");
            assert_eq!(body(&response)["error"]["code"], code, "{payload:?}");
        }
        assert!(intake.cases.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn only_customers_open_cases() {
        let intake = intake();
        let response = respond(
            &intake,
            &request("POST /cases", "/cases", Some(("a-1", "agent")), Some(LEAK)),
        )
        .await;
        assert_eq!(response.status_code, 403);
        let response = respond(&intake, &request("POST /cases", "/cases", None, Some(LEAK))).await;
        assert_eq!(response.status_code, 401);
        assert!(intake.cases.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_case_is_visible_to_its_owner_and_staff_only() {
        let intake = intake();
        let created = respond(
            &intake,
            &request(
                "POST /cases",
                "/cases",
                Some(("c-1", "customer")),
                Some(LEAK),
            ),
        )
        .await;
        let path = format!("/cases/{}", body(&created)["id"].as_str().unwrap());
        let get = |who| request("GET /cases/{id}", &path, Some(who), None);
        assert_eq!(
            respond(&intake, &get(("c-1", "customer")))
                .await
                .status_code,
            200
        );
        assert_eq!(
            respond(&intake, &get(("a-7", "agent"))).await.status_code,
            200
        );
        let other = respond(&intake, &get(("c-2", "customer"))).await;
        assert_eq!(
            (other.status_code, body(&other)["error"]["code"].clone()),
            (404, json!("not_found"))
        );
        assert_eq!(
            respond(&intake, &get(("f-1", "finance"))).await.status_code,
            404
        );
        let garbage = request(
            "GET /cases/{id}",
            "/cases/not-an-id",
            Some(("c-1", "customer")),
            None,
        );
        assert_eq!(respond(&intake, &garbage).await.status_code, 404);
    }

    #[tokio::test]
    async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body() {
        let intake = intake();
        let mut first = request(
            "POST /cases",
            "/cases",
            Some(("c-1", "customer")),
            Some(LEAK),
        );
        first
            .headers
            .insert("idempotency-key", "k-1".parse().unwrap());
        let created = respond(&intake, &first).await;
        assert_eq!(created.status_code, 201);
        let replayed = respond(&intake, &first).await;
        assert_eq!(replayed.status_code, 201);
        assert_eq!(body(&replayed)["id"], body(&created)["id"]);
        assert_eq!(replayed.headers["location"], created.headers["location"]);
        assert_eq!(
            intake.cases.0.lock().unwrap().len(),
            1,
            "the retry wrote nothing"
        );

        let mut other = request(
            "POST /cases",
            "/cases",
            Some(("c-1", "customer")),
            Some(
                r#"{"order_id":"shopify:brand.myshopify.com:1001","lines":[{"sku":"CREAM-50","quantity":1}],"description":"用了面霜过敏"}"#,
            ),
        );
        other
            .headers
            .insert("idempotency-key", "k-1".parse().unwrap());
        let refused = respond(&intake, &other).await;
        assert_eq!(
            (refused.status_code, body(&refused)["error"]["code"].clone()),
            (422, json!("idempotency_key_reused"))
        );

        // The same key from another customer is another key.
        let mut someone_else = request(
            "POST /cases",
            "/cases",
            Some(("c-2", "customer")),
            Some(LEAK_OF_C2),
        );
        someone_else
            .headers
            .insert("idempotency-key", "k-1".parse().unwrap());
        assert_eq!(respond(&intake, &someone_else).await.status_code, 201);
        assert_eq!(intake.cases.0.lock().unwrap().len(), 2);

        let mut bad_key = request(
            "POST /cases",
            "/cases",
            Some(("c-1", "customer")),
            Some(LEAK),
        );
        bad_key
            .headers
            .insert("idempotency-key", "has space".parse().unwrap());
        assert_eq!(respond(&intake, &bad_key).await.status_code, 422);
    }

    #[tokio::test]
    async fn a_retried_case_action_under_its_key_is_answered_as_the_first_time() {
        let intake = intake();
        let open = request(
            "POST /cases",
            "/cases",
            Some(("c-1", "customer")),
            Some(LEAK),
        );
        let first_case = body(&respond(&intake, &open).await)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let second_case = body(&respond(&intake, &open).await)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let act = |case: &str, action: &str, key: Option<&str>, message: &str| {
            let mut r = request(
                &format!("POST /cases/{{id}}/{action}"),
                &format!("/cases/{case}/{action}"),
                Some(("agent-7", "agent")),
                Some(message),
            );
            r.path_parameters.insert("id".into(), case.to_owned());
            if let Some(key) = key {
                r.headers.insert("idempotency-key", key.parse().unwrap());
            }
            r
        };
        let replies = |case: &str| {
            let cases = intake.cases.0.lock().unwrap();
            let file = cases
                .iter()
                .find(|f| f.case.id.to_string() == case)
                .unwrap();
            file.timeline
                .iter()
                .filter(|e| e.action == "replied")
                .count()
        };

        let hello = r#"{"message": "We are sorry; a replacement is on its way."}"#;
        let first = respond(&intake, &act(&first_case, "replies", Some("r-1"), hello)).await;
        assert_eq!(first.status_code, 200, "{:?}", body(&first));
        let retried = respond(&intake, &act(&first_case, "replies", Some("r-1"), hello)).await;
        assert_eq!((retried.status_code, body(&retried)), (200, body(&first)));
        assert_eq!(replies(&first_case), 1, "the retry wrote nothing");

        let other = respond(
            &intake,
            &act(
                &first_case,
                "replies",
                Some("r-1"),
                r#"{"message": "Another reply"}"#,
            ),
        )
        .await;
        assert_eq!(
            (other.status_code, body(&other)["error"]["code"].clone()),
            (422, json!("idempotency_key_reused"))
        );

        // Waiting twice is illegal, but a retry under the key gets its first answer.
        let waiting = respond(&intake, &act(&first_case, "wait", Some("w-1"), "")).await;
        assert_eq!(waiting.status_code, 200, "{:?}", body(&waiting));
        let again = respond(&intake, &act(&first_case, "wait", Some("w-1"), "")).await;
        assert_eq!((again.status_code, body(&again)), (200, body(&waiting)));
        let unkeyed = respond(&intake, &act(&first_case, "wait", None, "")).await;
        assert_eq!(unkeyed.status_code, 409);

        // The same key on another case is another request.
        let elsewhere = respond(&intake, &act(&second_case, "replies", Some("r-1"), hello)).await;
        assert_eq!(elsewhere.status_code, 200);
        assert_eq!(replies(&second_case), 1);
    }

    #[tokio::test]
    async fn the_sla_overview_is_for_supervisors_over_a_bounded_period() {
        let intake = intake();
        let overview = |who: (&str, &str), query: &str| {
            let mut r = request("GET /sla/overview", "/sla/overview", Some(who), None);
            r.raw_query_string = Some(query.to_owned());
            r.query_string_parameters = query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect::<std::collections::HashMap<String, String>>()
                .into();
            r
        };
        let response = respond(&intake, &overview(("s-1", "supervisor"), "")).await;
        assert_eq!(response.status_code, 200, "{:?}", body(&response));
        let answer = body(&response);
        // The last 7 days up to the clock's day.
        assert_eq!(
            (answer["from"].clone(), answer["to"].clone()),
            (json!("2026-11-05"), json!("2026-11-11"))
        );
        let service = &answer["queues"][0];
        assert_eq!(service["queue"], "service");
        assert_eq!(service["now"], json!({"at_risk": 0, "breached": 2}));
        assert_eq!(service["first_response"]["count"], 2);
        assert_eq!(service["first_response"]["p50_minutes_at_most"], 90);
        assert_eq!(service["first_response"]["share_within_target"], 0.0);
        assert_eq!(service["resolution"]["count"], 0);
        assert_eq!(
            answer["queues"][1]["now"],
            json!({"at_risk": 0, "breached": 0})
        );

        for role in ["agent", "expert", "customer", "finance"] {
            let refused = respond(&intake, &overview(("x", role), "")).await;
            assert_eq!(refused.status_code, 403, "{role}");
        }
        for query in [
            "from=2026-11-12&to=2026-11-11",
            "from=2026-01-01&to=2026-11-11",
            "from=yesterday",
            "to=2026-13-01",
        ] {
            let refused = respond(&intake, &overview(("s-1", "supervisor"), query)).await;
            assert_eq!(
                (refused.status_code, body(&refused)["error"]["code"].clone()),
                (400, json!("invalid_query")),
                "{query}"
            );
        }
        let longest = respond(
            &intake,
            &overview(("s-1", "supervisor"), "from=2026-08-12&to=2026-11-11"),
        )
        .await;
        assert_eq!(longest.status_code, 200, "92 days are allowed");
    }

    #[tokio::test]
    async fn the_service_metrics_are_for_supervisors_over_a_valid_period() {
        let intake = intake();
        let metrics = |who: Option<(&str, &str)>, query: &str| {
            let mut r = request("GET /metrics", "/metrics", who, None);
            r.raw_query_string = Some(query.to_owned());
            r.query_string_parameters = query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect::<std::collections::HashMap<String, String>>()
                .into();
            r
        };
        let week = "from=2026-11-05&to=2026-11-11";
        let response = respond(&intake, &metrics(Some(("s-1", "supervisor")), week)).await;
        assert_eq!(response.status_code, 200, "{:?}", body(&response));
        let answer = body(&response);
        assert_eq!(answer["days"].as_array().unwrap().len(), 7);
        assert_eq!(answer["days"][6]["day"], "2026-11-11");
        assert_eq!(
            answer["period"]["satisfaction_rate"],
            json!({"rate": null, "numerator": 0, "denominator": 0})
        );

        assert_eq!(
            respond(&intake, &metrics(None, week)).await.status_code,
            401
        );
        for role in ["agent", "expert", "customer", "finance"] {
            let refused = respond(&intake, &metrics(Some(("x", role)), week)).await;
            assert_eq!(
                (refused.status_code, body(&refused)["error"]["code"].clone()),
                (403, json!("forbidden")),
                "{role}"
            );
        }
        for query in [
            "",
            "from=2026-11-05",
            "to=2026-11-05",
            "from=2026-11-5&to=2026-11-11",
            "from=yesterday&to=2026-11-11",
            "from=2026-11-12&to=2026-11-11",
            "from=2025-11-10&to=2026-11-11",
        ] {
            let refused = respond(&intake, &metrics(Some(("s-1", "supervisor")), query)).await;
            assert_eq!(
                (refused.status_code, body(&refused)["error"]["code"].clone()),
                (422, json!("validation_failed")),
                "{query}"
            );
        }
        let year = respond(
            &intake,
            &metrics(Some(("s-1", "supervisor")), "from=2024-01-01&to=2024-12-31"),
        )
        .await;
        assert_eq!(year.status_code, 200, "366 days (a leap year) are allowed");
    }

    #[tokio::test]
    async fn a_case_is_only_opened_on_the_caller_s_own_order_and_lines() {
        let intake = intake();
        let open = |who: &str, body: &str| {
            request("POST /cases", "/cases", Some((who, "customer")), Some(body)).clone()
        };
        // Another customer's order does not exist for the caller.
        let other = respond(&intake, &open("c-2", LEAK)).await;
        assert_eq!(
            (other.status_code, body(&other)["error"]["code"].clone()),
            (404, json!("not_found"))
        );
        let unknown = LEAK.replace(":1001", ":9999");
        assert_eq!(
            respond(&intake, &open("c-1", &unknown)).await.status_code,
            404
        );
        let not_bought = LEAK.replace("SERUM-30", "TONER-200");
        let refused = respond(&intake, &open("c-1", &not_bought)).await;
        assert_eq!(refused.status_code, 422);
        assert!(
            body(&refused)["error"]["message"]
                .as_str()
                .unwrap()
                .contains("TONER-200")
        );
        let too_many = LEAK.replace(r#""quantity":1"#, r#""quantity":3"#);
        assert_eq!(
            respond(&intake, &open("c-1", &too_many)).await.status_code,
            422
        );
        assert!(
            intake.cases.0.lock().unwrap().is_empty(),
            "no refused request wrote a case"
        );
    }

    #[tokio::test]
    async fn a_case_is_classified_routed_and_given_remedies() {
        let intake = intake();
        let leak = body(
            &respond(
                &intake,
                &request(
                    "POST /cases",
                    "/cases",
                    Some(("c-1", "customer")),
                    Some(LEAK),
                ),
            )
            .await,
        );
        assert_eq!(leak["classification"]["category"], "damaged_in_transit");
        assert_eq!(leak["queue"], "service");
        assert_eq!(leak["photo_required"], true);
        assert_eq!(leak["remedies"]["suggested"], "replacement");
        // Half of the 398.00 paid for two serums: what one claimed unit cost.
        let refund = leak["remedies"]["eligible"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["remedy"] == "refund")
            .unwrap();
        assert_eq!(refund["amount_minor"], 19_900);

        let baby = r#"{"order_id":"shopify:brand.myshopify.com:1001","lines":[{"sku":"CREAM-50","quantity":1}],
            "description":"宝宝用了这个面霜后脸上起了很多红疹，还有点肿，已经带去医院了"}"#;
        let urgent = body(
            &respond(
                &intake,
                &request(
                    "POST /cases",
                    "/cases",
                    Some(("c-1", "customer")),
                    Some(baby),
                ),
            )
            .await,
        );
        assert_eq!(urgent["classification"]["category"], "adverse_reaction");
        assert_eq!(urgent["classification"]["severity"], "urgent");
        assert_eq!(urgent["queue"], "expert");
        assert_eq!(urgent["priority"], "urgent");
        // Urgent: 15 minutes to a first answer (the clock stands at 00:05).
        assert_eq!(urgent["sla"]["first_response_due"], "2026-11-11T00:20:00Z");
        let remedies: Vec<_> = urgent["remedies"]["eligible"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["remedy"].clone())
            .collect();
        assert!(
            remedies.contains(&json!("expert_consultation")) && remedies.contains(&json!("refund"))
        );
    }

    #[tokio::test]
    async fn the_default_route_answers_unknown_paths_and_methods() {
        let intake = intake();
        let unknown = respond(&intake, &request("$default", "/nowhere", None, None)).await;
        assert_eq!(
            (unknown.status_code, body(&unknown)["error"]["code"].clone()),
            (404, json!("route_not_found"))
        );
        let mut wrong = request("$default", "/cases", None, None);
        wrong.request_context.http.method = aws_lambda_events::http::Method::DELETE;
        let wrong = respond(&intake, &wrong).await;
        assert_eq!(
            (wrong.status_code, body(&wrong)["error"]["code"].clone()),
            (405, json!("method_not_allowed"))
        );
    }
}
