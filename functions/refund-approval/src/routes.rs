//! The refund routes of the HTTP API.
//!
//! Who: finance for everything but `POST /refunds/{id}/settlement`, which only the
//! `payment_integration` role may call; anyone else gets 403 before anything is read. Bad
//! input gets 400 (`invalid_query`, `invalid_request`, `malformed_json`) or 422
//! (`validation_failed`) and writes nothing; what the refund's state forbids gets 409 with the
//! rule's code (`illegal_transition`, `already_approved_by_you`, `settlement_conflict`), the
//! requester approving their own refund 403 `own_refund`, and a decision that lost a race to
//! another 409 `conflict`.

use aftercare::api::{ApiError, HttpRequest, json_response};
use aftercare::auth::{Caller, Role};
use aftercare::case::{Case, CaseStatus, Priority, Queue, TimelineEntry};
use aftercare::classify::Classification;
use aftercare::clock::{Clock, rfc3339};
use aftercare::complaint::Category;
use aftercare::evidence::PhotoEvidence;
use aftercare::money::{Currency, format_amount};
use aftercare::refund::{
    Actor, Refund, RefundId, RefundStatus, Settled, Settlement, SettlementRecord, Transition,
    export_csv,
};
use aftercare::store::{
    AuditRecord, CaseStore, RefundFilter, RefundStore, StoreError, evidence_links,
};
use aftercare::workflow::MAX_MESSAGE_CHARS;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Ports, RefundApproval};

pub const DEFAULT_PAGE: i32 = 20;
pub const MAX_PAGE: i32 = 100;
/// The longest period one export covers.
pub const MAX_EXPORT_DAYS: i64 = 92;
/// The oldest age filter: ten years.
const MAX_AGE_HOURS: i64 = 24 * 366 * 10;
/// How often a settlement re-reads the refund when another write won the race (a redelivered
/// report racing the first one is answered as the repeat it is).
const SETTLEMENT_ATTEMPTS: u32 = 3;

/// Every status, by its name in the API.
const STATUSES: [RefundStatus; 5] = [
    RefundStatus::Pending,
    RefundStatus::Approved,
    RefundStatus::Paid,
    RefundStatus::Failed,
    RefundStatus::Rejected,
];

/// The query parameters `GET /refunds` knows; any other is a client bug (400).
const LIST_PARAMETERS: [&str; 8] = [
    "status",
    "limit",
    "cursor",
    "currency",
    "min_amount",
    "max_amount",
    "category",
    "older_than_hours",
];

pub async fn respond<P: Ports>(
    approval: &RefundApproval<P>,
    request: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    let http = HttpRequest(request);
    let result = match http.route_key() {
        "GET /refunds" => list(approval, &http).await,
        "GET /refunds/export" => export(approval, &http).await,
        "GET /refunds/{id}" => detail(approval, &http).await,
        "POST /refunds/{id}/approve" => approve(approval, &http).await,
        "POST /refunds/{id}/reject" => reject(approval, &http).await,
        "POST /refunds/{id}/settlement" => settlement(approval, &http).await,
        _ => Err(ApiError::no_route(http.method(), http.path())),
    };
    result.unwrap_or_else(|err| {
        tracing::info!(status = err.status, code = err.code, "request refused");
        err.into_response()
    })
}

/// The caller, if finance; 403 for anyone else.
fn finance(http: &HttpRequest<'_>) -> Result<Caller, ApiError> {
    let caller = http.caller()?;
    if caller.role != Role::Finance {
        return Err(ApiError::forbidden(
            "Refunds are reviewed and decided by finance only.",
        ));
    }
    Ok(caller)
}

/// The refund id of the path; 404 for anything that cannot be one.
fn refund_id(http: &HttpRequest<'_>) -> Result<RefundId, ApiError> {
    let id: RefundId = http
        .path_param("id")?
        .parse()
        .map_err(|_| ApiError::not_found("refund"))?;
    tracing::Span::current().record("refund_id", tracing::field::display(id));
    Ok(id)
}

async fn read_refund<P: Ports>(
    approval: &RefundApproval<P>,
    id: &RefundId,
) -> Result<Refund, ApiError> {
    approval
        .refunds
        .refund(id)
        .await?
        .ok_or_else(|| ApiError::not_found("refund"))
}

fn invalid_query(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "invalid_query", message)
}

/// `GET /refunds`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub status: RefundStatus,
    pub limit: i32,
    pub cursor: Option<String>,
    pub filter: RefundFilter,
}

/// Reads `GET /refunds`'s query: `status` (default `pending`), `limit` (1 to 100, default 20),
/// `cursor`, `currency`, `min_amount` and `max_amount` (minor units, inclusive),
/// `category`, `older_than_hours` (requested at least that long before `now`). An empty
/// value is no value; an unknown parameter or a bad value is 400 `invalid_query`.
pub fn list_query(http: &HttpRequest<'_>, now: DateTime<Utc>) -> Result<ListQuery, ApiError> {
    for (name, _) in http.0.query_string_parameters.iter() {
        if !LIST_PARAMETERS.contains(&name) {
            return Err(invalid_query(format!(
                "Unknown query parameter {name}; GET /refunds takes {}.",
                LIST_PARAMETERS.join(", ")
            )));
        }
    }
    let value = |name: &str| http.query(name).map(str::trim).filter(|v| !v.is_empty());
    let status = match value("status") {
        None => RefundStatus::Pending,
        Some(raw) => STATUSES
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                invalid_query("status must be pending, approved, paid, failed or rejected.")
            })?,
    };
    let limit = match value("limit") {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                invalid_query(format!("limit must be a number from 1 to {MAX_PAGE}."))
            })?,
    };
    let currency = value("currency")
        .map(|raw| {
            Currency::parse(raw)
                .map_err(|_| invalid_query("currency must be an ISO 4217 code such as CNY."))
        })
        .transpose()?;
    let amount = |name: &str| {
        value(name)
            .map(|raw| {
                raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    invalid_query(format!(
                        "{name} must be a whole number of minor units (fen, cents), 0 or more."
                    ))
                })
            })
            .transpose()
    };
    let (min_amount_minor, max_amount_minor) = (amount("min_amount")?, amount("max_amount")?);
    if let (Some(min), Some(max)) = (min_amount_minor, max_amount_minor)
        && min > max
    {
        return Err(invalid_query("min_amount must not be above max_amount."));
    }
    let category = value("category")
        .map(|raw| {
            Category::BY_SERIOUSNESS
                .into_iter()
                .find(|c| c.as_str() == raw)
                .ok_or_else(|| {
                    invalid_query(format!(
                        "category must be one of {}.",
                        Category::BY_SERIOUSNESS.map(Category::as_str).join(", ")
                    ))
                })
        })
        .transpose()?;
    let requested_before = value("older_than_hours")
        .map(|raw| {
            raw.parse::<i64>()
                .ok()
                .filter(|h| (0..=MAX_AGE_HOURS).contains(h))
                .map(|hours| now - Duration::hours(hours))
                .ok_or_else(|| {
                    invalid_query(format!(
                        "older_than_hours must be a whole number of hours from 0 to {MAX_AGE_HOURS}."
                    ))
                })
        })
        .transpose()?;
    Ok(ListQuery {
        status,
        limit,
        cursor: value("cursor").map(str::to_owned),
        filter: RefundFilter {
            currency,
            min_amount_minor,
            max_amount_minor,
            category,
            requested_before,
        },
    })
}

#[derive(Serialize)]
struct Listing {
    refunds: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

async fn list<P: Ports>(
    approval: &RefundApproval<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    finance(http)?;
    let query = list_query(http, approval.clock.now())?;
    let page = approval
        .refunds
        .refunds_by_status(
            query.status,
            &query.filter,
            query.limit,
            query.cursor.as_deref(),
        )
        .await?;
    Ok(json_response(
        200,
        &Listing {
            refunds: page.refunds.iter().map(refund_view).collect(),
            next_cursor: page.next,
        },
    ))
}

/// A refund as the API shows it: every field of the refund but its audit trail (shown by
/// `GET /refunds/{id}`), with the amount also as exact decimal text in the currency's unit.
fn refund_view(refund: &Refund) -> Value {
    let mut view = serde_json::to_value(refund).unwrap_or_default();
    if let Value::Object(fields) = &mut view {
        fields.remove("audit");
        fields.insert(
            "amount".into(),
            Value::from(format_amount(refund.amount_minor(), refund.currency())),
        );
    }
    view
}

/// The case behind a refund, as finance needs it to decide.
#[derive(Serialize)]
struct CaseSummary<'a> {
    id: String,
    status: CaseStatus,
    queue: Queue,
    priority: Priority,
    order_id: &'a str,
    category: Category,
    classification: &'a Classification,
    photo_required: bool,
    photo_evidence: PhotoEvidence,
    /// The attached photos, each with a link valid for 5 minutes.
    photos: Vec<PhotoLink>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<&'a aftercare::workflow::Resolution>,
}

#[derive(Serialize)]
struct PhotoLink {
    photo_id: String,
    content_type: &'static str,
    url: String,
    url_expires_at: String,
}

async fn case_summary<'a, P: Ports>(
    approval: &RefundApproval<P>,
    case: &'a Case,
    now: DateTime<Utc>,
) -> Result<CaseSummary<'a>, ApiError> {
    let photos = evidence_links(&approval.bucket, case, now)
        .await?
        .into_iter()
        .map(|(photo, signed)| PhotoLink {
            photo_id: photo.id.to_string(),
            content_type: photo.format.content_type(),
            url: signed.url,
            url_expires_at: rfc3339(signed.expires_at),
        })
        .collect();
    Ok(CaseSummary {
        id: case.id.to_string(),
        status: case.status,
        queue: case.queue,
        priority: case.priority,
        order_id: case.order_id.as_str(),
        category: case.classification.category,
        classification: &case.classification,
        photo_required: case.photo_required(),
        photo_evidence: PhotoEvidence::of(case),
        photos,
        resolution: case.resolution.as_ref(),
    })
}

/// `GET /refunds/{id}`: the refund, its audit trail as stored (append-only, with finance's
/// notes), and the case summary with short-lived photo links (`case` is null if the case is
/// gone).
async fn detail<P: Ports>(
    approval: &RefundApproval<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    finance(http)?;
    let id = refund_id(http)?;
    let file = approval
        .refunds
        .refund_file(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("refund"))?;
    let case = approval.cases.case(&file.refund.case_id()).await?;
    let summary = match &case {
        Some(case) => Some(case_summary(approval, case, approval.clock.now()).await?),
        None => None,
    };
    let mut view = refund_view(&file.refund);
    if let Value::Object(fields) = &mut view {
        fields.insert(
            "audit".into(),
            serde_json::to_value(&file.audit).unwrap_or_default(),
        );
        fields.insert(
            "case".into(),
            serde_json::to_value(&summary).unwrap_or_default(),
        );
    }
    Ok(json_response(200, &view))
}

/// The answer to a decision or report: the refund as it is now, and the audit entries this
/// request wrote (none for a repeated report).
fn decided(refund: &Refund, steps: &[Transition], note: Option<&str>) -> ApiGatewayV2httpResponse {
    let recorded: Vec<AuditRecord> = steps
        .iter()
        .enumerate()
        .map(|(i, step)| AuditRecord {
            entry: step.entry.clone(),
            note: note.filter(|_| i == steps.len() - 1).map(str::to_owned),
        })
        .collect();
    let mut view = refund_view(refund);
    if let Value::Object(fields) = &mut view {
        fields.insert(
            "recorded".into(),
            serde_json::to_value(&recorded).unwrap_or_default(),
        );
    }
    json_response(200, &view)
}

/// A body that may be left out entirely.
fn optional_body<T: serde::de::DeserializeOwned + Default>(
    http: &HttpRequest<'_>,
) -> Result<T, ApiError> {
    if http.body_bytes()?.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        http.json_body()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    /// For the other approvers and the audit trail, not the customer.
    #[serde(default)]
    note: Option<String>,
}

/// A note: trimmed, not blank, at most [`MAX_MESSAGE_CHARS`].
fn note(raw: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let note = raw.trim();
    if note.is_empty() {
        return Err(ApiError::new(
            422,
            "validation_failed",
            "note: must not be empty (leave it out instead)",
        ));
    }
    if note.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::new(
            422,
            "validation_failed",
            format!("note: must be at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Ok(Some(note.to_owned()))
}

/// Writes a decision; a lost race is 409 `conflict` (the refund changed since it was read).
async fn write<P: Ports>(
    approval: &RefundApproval<P>,
    steps: &[Transition],
    note: Option<&str>,
    customer_note: Option<&TimelineEntry>,
) -> Result<(), ApiError> {
    match approval.refunds.record(steps, note, customer_note).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict) => Err(ApiError::conflict(
            "Someone else decided on this refund at the same moment; read it again.",
        )),
        Err(err) => Err(err.into()),
    }
}

/// `POST /refunds/{id}/approve` (`{}` or `{"note": "…"}`, or no body): one approval. The last
/// one needed grants the refund and puts its payout in the outbox.
async fn approve<P: Ports>(
    approval: &RefundApproval<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = finance(http)?;
    let id = refund_id(http)?;
    let note = note(optional_body::<ApproveBody>(http)?.note)?;
    let refund = read_refund(approval, &id).await?;
    let step = refund.approve(&Actor::from(&caller), approval.clock.now())?;
    write(approval, std::slice::from_ref(&step), note.as_deref(), None).await?;
    tracing::info!(status = %step.refund.status(), approvals = step.refund.approvals().len(), "refund approval recorded");
    Ok(decided(
        &step.refund,
        std::slice::from_ref(&step),
        note.as_deref(),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    /// Shown to the customer on the case.
    reason: String,
}

/// `POST /refunds/{id}/reject` (`{"reason": "…"}`): refuses the refund; the reason goes on the
/// case's timeline, in the same transaction, where the customer reads it.
async fn reject<P: Ports>(
    approval: &RefundApproval<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = finance(http)?;
    let id = refund_id(http)?;
    let body: RejectBody = http.json_body()?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::new(
            422,
            "validation_failed",
            "reason: must not be empty; the customer is told why",
        ));
    }
    let refund = read_refund(approval, &id).await?;
    let now = approval.clock.now();
    let step = refund.reject(&Actor::from(&caller), &body.reason, now)?;
    let reason = step
        .refund
        .rejection()
        .map(|r| r.reason.clone())
        .unwrap_or_default();
    let told = TimelineEntry {
        at: now,
        actor: format!("{}:{}", caller.role, caller.subject),
        action: "refund_rejected".into(),
        note: Some(format!(
            "Refund of {} {} not granted: {reason}",
            refund.currency(),
            format_amount(refund.amount_minor(), refund.currency())
        )),
    };
    write(approval, std::slice::from_ref(&step), None, Some(&told)).await?;
    tracing::info!("refund rejected");
    Ok(decided(&step.refund, std::slice::from_ref(&step), None))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Paid,
    Failed,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettlementBody {
    outcome: Outcome,
    provider_reference: String,
    #[serde(default)]
    error: Option<String>,
}

/// The report of a settlement body: `error` is required for a failure and refused for a
/// payment.
fn settlement_of(body: SettlementBody) -> Result<Settlement, ApiError> {
    let error = body.error.filter(|e| !e.trim().is_empty());
    match (body.outcome, error) {
        (Outcome::Paid, None) => Ok(Settlement::Paid {
            provider_reference: body.provider_reference,
        }),
        (Outcome::Paid, Some(_)) => Err(ApiError::new(
            422,
            "validation_failed",
            "error: only a failed payout has an error",
        )),
        (Outcome::Failed, Some(error)) => Ok(Settlement::Failed {
            provider_reference: body.provider_reference,
            error,
        }),
        (Outcome::Failed, None) => Err(ApiError::new(
            422,
            "validation_failed",
            "error: a failed payout needs the provider's error, for finance",
        )),
    }
}

/// Whether `settlement` repeats a failure already recorded on an earlier attempt: a
/// redelivery arriving after the refund was approved again is not a failure of the new attempt.
fn repeats_earlier_failure(refund: &Refund, settlement: &Settlement) -> bool {
    let same = |record: &SettlementRecord| {
        matches!(record.settlement, Settlement::Failed { .. })
            && record.settlement.provider_reference() == settlement.provider_reference()
    };
    matches!(settlement, Settlement::Failed { .. }) && refund.failures().iter().any(same)
}

/// `POST /refunds/{id}/settlement` (payment integration): records `paid`, or `failed` and puts
/// the refund back in the finance queue with the error (both steps in one write). The same
/// report again answers 200 with the refund and writes nothing.
async fn settlement<P: Ports>(
    approval: &RefundApproval<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = http.caller()?;
    if caller.role != Role::PaymentIntegration {
        return Err(ApiError::forbidden(
            "Settlements are reported by the payment integration only.",
        ));
    }
    let id = refund_id(http)?;
    let settlement = settlement_of(http.json_body()?)?;
    let actor = Actor::PaymentIntegration;
    for _ in 0..SETTLEMENT_ATTEMPTS {
        let refund = read_refund(approval, &id).await?;
        if repeats_earlier_failure(&refund, &settlement) {
            return Ok(decided(&refund, &[], None));
        }
        let now = approval.clock.now();
        let steps = match refund.settle(&actor, settlement.clone(), now)? {
            Settled::Unchanged => {
                tracing::info!("settlement repeated; nothing to record");
                return Ok(decided(&refund, &[], None));
            }
            Settled::Changed(step) => {
                let step = *step;
                if step.refund.status() == RefundStatus::Failed {
                    let back = step.refund.return_to_finance(&actor, now)?;
                    vec![step, back]
                } else {
                    vec![step]
                }
            }
        };
        match approval.refunds.record(&steps, None, None).await {
            Ok(()) => {
                let now_is = steps.last().expect("one step at least");
                tracing::info!(status = %now_is.refund.status(), "settlement recorded");
                return Ok(decided(&now_is.refund, &steps, None));
            }
            // Another write came first (most likely this same report, delivered twice at
            // once): read again and answer from what is there now.
            Err(StoreError::Conflict) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::conflict(
        "The refund is changing too quickly to record this report; retry it.",
    ))
}

/// The days of `GET /refunds/export`: `from` and `to` as `YYYY-MM-DD` (UTC, both included),
/// `from` not after `to`, at most [`MAX_EXPORT_DAYS`] days.
pub fn export_period(http: &HttpRequest<'_>) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let day = |name: &str| {
        let raw = http.query(name).ok_or_else(|| {
            invalid_query(format!("{name} is required, a day as YYYY-MM-DD (UTC)."))
        })?;
        NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
            .map_err(|_| invalid_query(format!("{name} must be a day as YYYY-MM-DD (UTC).")))
    };
    let (from, to) = (day("from")?, day("to")?);
    if from > to {
        return Err(invalid_query("from must not be after to."));
    }
    if (to - from).num_days() + 1 > MAX_EXPORT_DAYS {
        return Err(invalid_query(format!(
            "An export covers at most {MAX_EXPORT_DAYS} days; ask for several."
        )));
    }
    Ok((from, to))
}

/// `GET /refunds/export?from=&to=`: every refund requested on those days, whatever its status,
/// oldest first, as CSV for reconciliation ([`aftercare::refund::export`]).
async fn export<P: Ports>(
    approval: &RefundApproval<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    finance(http)?;
    let (from, to) = export_period(http)?;
    let start = from.and_time(NaiveTime::MIN).and_utc();
    let end =
        (to + Duration::days(1)).and_time(NaiveTime::MIN).and_utc() - Duration::nanoseconds(1);
    let refunds = approval
        .refunds
        .refunds_requested_between(start, end)
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(disposition) =
        HeaderValue::from_str(&format!("attachment; filename=\"refunds-{from}-{to}.csv\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = 200;
    response.headers = headers;
    response.body = Some(Body::Text(export_csv(&refunds)));
    tracing::info!(refunds = refunds.len(), "refunds exported");
    Ok(response)
}

#[cfg(test)]
mod tests {
    //! The handlers' own rules: who may call what, and what a request must look like. The
    //! function runs with its real AWS adapters pointed at a closed port, so a request that
    //! reached the store would fail with 503: each refusal here is given before anything is
    //! read or written. The end-to-end suite covers the rest against the twin.

    use super::*;
    use crate::{Aws, SqsPayoutQueue};
    use aftercare::aws_calls::AwsCallCounter;
    use aftercare::clock::SystemClock;
    use aftercare::store::{DynamoCaseStore, DynamoRefundStore, S3PhotoBucket};
    use chrono::TimeZone;
    use serde_json::json;

    const NOWHERE: &str = "http://127.0.0.1:9";

    fn offline() -> RefundApproval<Aws> {
        let region = aws_sdk_dynamodb::config::Region::new("us-east-1");
        let credentials =
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test");
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version_latest()
                .region(region.clone())
                .credentials_provider(credentials.clone())
                .endpoint_url(NOWHERE)
                .build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version_latest()
                .region(region.clone())
                .credentials_provider(credentials.clone())
                .endpoint_url(NOWHERE)
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version_latest()
                .region(region)
                .credentials_provider(credentials)
                .endpoint_url(NOWHERE)
                .build(),
        );
        RefundApproval {
            refunds: DynamoRefundStore::new(dynamodb.clone(), "refunds").with_cases_table("cases"),
            cases: DynamoCaseStore::new(dynamodb, "cases"),
            bucket: S3PhotoBucket::new(s3, "photos"),
            payouts: SqsPayoutQueue::new(sqs, NOWHERE),
            clock: SystemClock,
            aws_calls: AwsCallCounter::default(),
        }
    }

    const ID: &str = "01JD8X3Y4Z5A6B7C8D9E0F1G2H";

    fn request(
        route: &str,
        role: Option<&str>,
        query: Value,
        body: Option<&str>,
    ) -> ApiGatewayV2httpRequest {
        let (method, pattern) = route.split_once(' ').unwrap();
        let path = pattern.replace("{id}", ID);
        let mut event = json!({
            "version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "queryStringParameters": query,
            "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1", "userAgent": "t"}, "routeKey": route,
                "stage": "$default", "requestId": "r", "timeEpoch": 0},
            "body": body, "isBase64Encoded": false
        });
        if pattern.contains("{id}") {
            event["pathParameters"] = json!({"id": ID});
        }
        if let Some(role) = role {
            event["requestContext"]["authorizer"] =
                json!({"jwt": {"claims": {"sub": "u-1", "role": role}, "scopes": null}});
        }
        serde_json::from_value(event).unwrap()
    }

    async fn status_and_code(request: &ApiGatewayV2httpRequest) -> (i64, String) {
        let response = respond(&offline(), request).await;
        let code = match &response.body {
            Some(Body::Text(text)) => serde_json::from_str::<Value>(text).unwrap()["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        (response.status_code, code)
    }

    const ROUTES: [(&str, Option<&str>); 6] = [
        ("GET /refunds", None),
        ("GET /refunds/export", None),
        ("GET /refunds/{id}", None),
        ("POST /refunds/{id}/approve", Some("{}")),
        ("POST /refunds/{id}/reject", Some(r#"{"reason": "no"}"#)),
        (
            "POST /refunds/{id}/settlement",
            Some(r#"{"outcome": "paid", "provider_reference": "p-1"}"#),
        ),
    ];

    #[tokio::test]
    async fn finance_routes_refuse_every_other_role_and_settlement_everyone_but_the_integration() {
        let query = json!({"from": "2026-11-01", "to": "2026-11-30"});
        for (route, body) in ROUTES {
            let allowed = if route.ends_with("/settlement") {
                "payment_integration"
            } else {
                "finance"
            };
            for role in [
                "customer",
                "agent",
                "expert",
                "supervisor",
                "finance",
                "payment_integration",
                "admin",
            ] {
                if role == allowed {
                    continue;
                }
                let answer =
                    status_and_code(&request(route, Some(role), query.clone(), body)).await;
                assert_eq!(answer, (403, "forbidden".into()), "{route} as {role}");
            }
            let answer = status_and_code(&request(route, None, query.clone(), body)).await;
            assert_eq!(
                answer,
                (401, "unauthorized".into()),
                "{route} without claims"
            );
        }
    }

    #[tokio::test]
    async fn bad_bodies_are_refused_before_anything_is_read() {
        let cases = [
            (
                "POST /refunds/{id}/approve",
                r#"{"note": "ok", "amount": 1}"#,
                400,
                "invalid_request",
            ),
            (
                "POST /refunds/{id}/approve",
                r#"{"note": "   "}"#,
                422,
                "validation_failed",
            ),
            (
                "POST /refunds/{id}/approve",
                r#"{"note": "#,
                400,
                "malformed_json",
            ),
            ("POST /refunds/{id}/reject", "{}", 400, "invalid_request"),
            (
                "POST /refunds/{id}/reject",
                r#"{"reason": "  "}"#,
                422,
                "validation_failed",
            ),
        ];
        for (route, body, status, code) in cases {
            let answer =
                status_and_code(&request(route, Some("finance"), json!({}), Some(body))).await;
            assert_eq!(answer, (status, code.into()), "{route} {body}");
        }
        let settlements = [
            (
                r#"{"outcome": "refunded", "provider_reference": "p"}"#,
                400,
                "invalid_request",
            ),
            (r#"{"outcome": "paid"}"#, 400, "invalid_request"),
            (
                r#"{"outcome": "paid", "provider_reference": "p", "error": "x"}"#,
                422,
                "validation_failed",
            ),
            (
                r#"{"outcome": "failed", "provider_reference": "p"}"#,
                422,
                "validation_failed",
            ),
            (
                r#"{"outcome": "failed", "provider_reference": "p", "error": " "}"#,
                422,
                "validation_failed",
            ),
        ];
        for (body, status, code) in settlements {
            let route = "POST /refunds/{id}/settlement";
            let answer = status_and_code(&request(
                route,
                Some("payment_integration"),
                json!({}),
                Some(body),
            ))
            .await;
            assert_eq!(answer, (status, code.into()), "{body}");
        }
    }

    #[tokio::test]
    async fn an_id_that_cannot_be_a_refund_is_not_found_without_a_read() {
        let mut request = request("GET /refunds/{id}", Some("finance"), json!({}), None);
        request.path_parameters.insert("id".into(), "nope".into());
        assert_eq!(status_and_code(&request).await, (404, "not_found".into()));
    }

    fn parse_list(query: Value) -> Result<ListQuery, ApiError> {
        let request = request("GET /refunds", Some("finance"), query, None);
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        list_query(&HttpRequest(&request), now)
    }

    #[test]
    fn the_queue_defaults_to_pending_twenty_at_a_time() {
        let query = parse_list(json!({})).unwrap();
        assert_eq!(query.status, RefundStatus::Pending);
        assert_eq!(query.limit, DEFAULT_PAGE);
        assert_eq!(query.cursor, None);
        assert_eq!(query.filter, RefundFilter::default());
        // Empty values count as absent, as apps send them.
        assert_eq!(
            parse_list(json!({"status": "", "currency": ""})).unwrap(),
            query
        );
    }

    #[test]
    fn filters_are_read_into_the_store_s_terms() {
        let query = parse_list(json!({
            "status": "failed", "limit": "100", "cursor": "abc", "currency": "cny",
            "min_amount": "0", "max_amount": "20000", "category": "damaged_in_transit",
            "older_than_hours": "24"
        }))
        .unwrap();
        assert_eq!(query.status, RefundStatus::Failed);
        assert_eq!(query.limit, 100);
        assert_eq!(query.cursor.as_deref(), Some("abc"));
        assert_eq!(
            query.filter,
            RefundFilter {
                currency: Some(Currency::parse("CNY").unwrap()),
                min_amount_minor: Some(0),
                max_amount_minor: Some(20_000),
                category: Some(Category::DamagedInTransit),
                requested_before: Some(Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()),
            }
        );
    }

    #[test]
    fn a_bad_query_is_400_invalid_query() {
        for query in [
            json!({"status": "granted"}),
            json!({"limit": "0"}),
            json!({"limit": "101"}),
            json!({"limit": "ten"}),
            json!({"currency": "yuan"}),
            json!({"min_amount": "-1"}),
            json!({"max_amount": "1.50"}),
            json!({"min_amount": "300", "max_amount": "200"}),
            json!({"category": "broken"}),
            json!({"older_than_hours": "-2"}),
            json!({"older_than_hours": "soon"}),
            json!({"sort": "newest"}),
        ] {
            let err = parse_list(query.clone()).unwrap_err();
            assert_eq!((err.status, err.code), (400, "invalid_query"), "{query}");
        }
    }

    fn period(query: Value) -> Result<(NaiveDate, NaiveDate), ApiError> {
        let request = request("GET /refunds/export", Some("finance"), query, None);
        export_period(&HttpRequest(&request))
    }

    #[test]
    fn an_export_covers_one_to_ninety_two_whole_days() {
        let day = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            period(json!({"from": "2026-11-01", "to": "2026-11-01"})).unwrap(),
            (day("2026-11-01"), day("2026-11-01"))
        );
        assert!(
            period(json!({"from": "2026-09-01", "to": "2026-12-01"})).is_ok(),
            "92 days"
        );
        for query in [
            json!({"from": "2026-09-01", "to": "2026-12-02"}),
            json!({"from": "2026-11-02", "to": "2026-11-01"}),
            json!({"from": "2026-11-01"}),
            json!({"to": "2026-11-01"}),
            json!({"from": "01/11/2026", "to": "2026-11-30"}),
        ] {
            let err = period(query.clone()).unwrap_err();
            assert_eq!((err.status, err.code), (400, "invalid_query"), "{query}");
        }
    }
}
