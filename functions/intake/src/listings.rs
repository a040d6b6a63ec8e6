//! Listings: a customer's own cases (`GET /cases`), staff work queues (`GET /queues/{queue}`),
//! and `POST /classify`, which shows staff how a phone or chat complaint would be classified
//! and what remedies it would get, without writing anything.

use aftercare::api::{ApiError, HttpRequest, json_response};
use aftercare::assessment::{Assessment, assess};
use aftercare::auth::Role;
use aftercare::case::{Case, CaseDraft, CaseStatus, Description, OrderId, Priority, Queue};
use aftercare::classify::{Classification, ComplaintContext};
use aftercare::clock::Clock;
use aftercare::remedy::RemedyDecision;
use aftercare::store::{CasePage, CaseStore, OrderStore};
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Intake, Ports};

pub const DEFAULT_PAGE: i32 = 20;
pub const MAX_PAGE: i32 = 100;

/// A case in a listing: enough to pick it, not its whole history.
#[derive(Serialize)]
struct CaseSummary<'a> {
    id: String,
    status: CaseStatus,
    queue: Queue,
    priority: Priority,
    category: aftercare::complaint::Category,
    risk_flags: &'a [aftercare::complaint::RiskFlag],
    order_id: &'a str,
    opened_at: DateTime<Utc>,
    first_response_due: DateTime<Utc>,
    resolution_due: DateTime<Utc>,
    photo_required: bool,
    photo_evidence: aftercare::evidence::PhotoEvidence,
}

impl<'a> From<&'a Case> for CaseSummary<'a> {
    fn from(case: &'a Case) -> Self {
        CaseSummary {
            id: case.id.to_string(),
            status: case.status,
            queue: case.queue,
            priority: case.priority,
            category: case.classification.category,
            risk_flags: &case.classification.risk_flags,
            order_id: case.order_id.as_str(),
            opened_at: case.opened_at,
            first_response_due: case.sla.first_response.due_at,
            resolution_due: case.sla.resolution.due_at,
            photo_required: case.photo_required(),
            photo_evidence: aftercare::evidence::PhotoEvidence::of(case),
        }
    }
}

#[derive(Serialize)]
struct Listing<'a> {
    cases: Vec<CaseSummary<'a>>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<&'a str>,
}

fn listing(page: &CasePage) -> ApiGatewayV2httpResponse {
    json_response(
        200,
        &Listing {
            cases: page.cases.iter().map(CaseSummary::from).collect(),
            next_cursor: page.next.as_deref(),
        },
    )
}

/// `limit` (1 to 100, default 20) and `cursor` from the query string.
fn paging<'a>(http: &HttpRequest<'a>) -> Result<(i32, Option<&'a str>), ApiError> {
    let limit = match http.query("limit") {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::new(
                    400,
                    "invalid_query",
                    format!("limit must be a number from 1 to {MAX_PAGE}."),
                )
            })?,
    };
    Ok((limit, http.query("cursor").filter(|c| !c.is_empty())))
}

pub async fn own_cases<P: Ports>(
    intake: &Intake<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = http.caller()?;
    if caller.role != Role::Customer {
        return Err(ApiError::forbidden(
            "GET /cases lists a customer's own cases; staff use GET /queues/{queue}.",
        ));
    }
    let (limit, cursor) = paging(http)?;
    let page = intake
        .cases
        .cases_of_customer(&caller.subject, limit, cursor)
        .await?;
    Ok(listing(&page))
}

pub async fn work_queue<P: Ports>(
    intake: &Intake<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = http.caller()?;
    if !caller.role.is_case_staff() {
        return Err(ApiError::forbidden(
            "Work queues are for agents, experts and supervisors.",
        ));
    }
    let queue = Queue::named(http.path_param("queue")?).ok_or_else(|| {
        ApiError::new(
            404,
            "not_found",
            "There are two queues: service and expert.",
        )
    })?;
    let (limit, cursor) = paging(http)?;
    let page = intake.cases.work_queue(queue, limit, cursor).await?;
    Ok(listing(&page))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifyRequest {
    description: String,
    #[serde(default)]
    order_id: Option<String>,
}

#[derive(Serialize)]
struct ClassifyAnswer<'a> {
    classification: &'a Classification,
    remedies: &'a RemedyDecision,
    queue: Queue,
    priority: Priority,
}

pub async fn classify<P: Ports>(
    intake: &Intake<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = http.caller()?;
    if !caller.role.is_case_staff() {
        return Err(ApiError::forbidden(
            "Classification is a tool for agents, experts and supervisors.",
        ));
    }
    let request: ClassifyRequest = http.json_body()?;
    let description = Description::parse(&request.description)?;
    let now = intake.clock.now();
    let assessment: Assessment = match request.order_id.as_deref() {
        None => Assessment::of_text(description.as_str(), &ComplaintContext::default(), now),
        Some(raw) => {
            let order_id = OrderId::parse(raw)?;
            let order = intake
                .orders
                .order_file(order_id.as_str())
                .await?
                .ok_or_else(|| ApiError::not_found("order"))?;
            // Every line of the order, as if the whole order were claimed.
            let lines = order
                .order
                .as_ref()
                .map(|o| {
                    o.lines
                        .iter()
                        .filter_map(|l| l.sku.clone().map(|sku| (sku, l.quantity)))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let mut merged: std::collections::BTreeMap<String, i64> =
                std::collections::BTreeMap::new();
            for (sku, quantity) in lines {
                *merged.entry(sku).or_default() += i64::from(quantity);
            }
            let draft = CaseDraft::parse(aftercare::case::NewCaseRequest {
                order_id: order_id.as_str().to_owned(),
                lines: merged
                    .into_iter()
                    .map(|(sku, quantity)| aftercare::case::NewCaseLine {
                        sku,
                        quantity: quantity.min(999),
                    })
                    .collect(),
                description: description.as_str().to_owned(),
                opened: None,
            })?;
            let products = intake
                .products
                .of_lines(&intake.catalogue, &draft, now)
                .await?;
            assess(&draft, &order, &products, &ComplaintContext::default(), now)?
        }
    };
    Ok(json_response(
        200,
        &ClassifyAnswer {
            classification: &assessment.classification,
            remedies: &assessment.remedies,
            queue: assessment.queue,
            priority: assessment.priority,
        },
    ))
}
