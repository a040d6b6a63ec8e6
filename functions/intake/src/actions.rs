//! Work on a case: `POST /cases/{id}/replies`, `/assign`, `/wait`, `/resolve`, `/close`,
//! `/reopen`. The state machine ([`aftercare::workflow`]) decides; the change is written only
//! if the case is still the version that was read, so of two concurrent edits one wins and
//! the other gets 409.

use aftercare::api::{ApiError, HttpRequest};
use aftercare::case::{Case, TimelineEntry};
use aftercare::clock::Clock;
use aftercare::idempotency::{
    IdempotencyRecord, REQUEST_KEY_LIFETIME, SavedResponse, payload_hash,
};
use aftercare::refund::{Refund, RefundDraft, RefundError, RefundStatus};
use aftercare::remedy::Remedy;
use aftercare::service_levels::counter_changes;
use aftercare::store::{CaseFile, CaseStore, OrderStore, RefundHistory, StoreError, WrittenWith};
use aftercare::survey::{Survey, schedule_for_case};
use aftercare::workflow::{CaseAction, Refusal, apply};
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{
    CaseView, Intake, Ports, earlier_answer, idempotency_record_key, saved_response,
    visible_case_file,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    assignee: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WaitBody {
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    remedy: Remedy,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    amount_minor: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CloseBody {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReopenBody {
    reason: String,
}

/// A body that may be left out entirely.
fn optional_body<T: DeserializeOwned + Default>(http: &HttpRequest<'_>) -> Result<T, ApiError> {
    if http.body_bytes()?.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        http.json_body()
    }
}

fn parse_action(route: &str, http: &HttpRequest<'_>) -> Result<CaseAction, ApiError> {
    Ok(match route {
        "replies" => CaseAction::Reply {
            message: http.json_body::<ReplyBody>()?.message,
        },
        "assign" => CaseAction::Assign {
            assignee: http.json_body::<AssignBody>()?.assignee,
        },
        "wait" => CaseAction::WaitOnCustomer {
            message: optional_body::<WaitBody>(http)?.message,
        },
        "resolve" => {
            let body: ResolveBody = http.json_body()?;
            CaseAction::Resolve {
                remedy: body.remedy,
                note: body.note,
                amount_minor: body.amount_minor,
            }
        }
        "close" => {
            optional_body::<CloseBody>(http)?;
            CaseAction::Close
        }
        "reopen" => CaseAction::Reopen {
            reason: http.json_body::<ReopenBody>()?.reason,
        },
        other => unreachable!("no route for case action {other}"),
    })
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::NotAllowed(message) => ApiError::forbidden(message),
        Refusal::IllegalTransition { current, action } => {
            let state = serde_json::to_value(current)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            ApiError::new(
                409,
                "illegal_transition",
                format!("The case is {state}; it cannot be {action} now."),
            )
        }
        Refusal::Invalid(invalid) => invalid.into(),
    }
}

pub async fn act<P: Ports>(
    intake: &Intake<P>,
    http: &HttpRequest<'_>,
    route: &str,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let (caller, file) = visible_case_file(intake, http).await?;
    let key = idempotency_record_key(http, &caller)?;
    let payload = payload_hash(&http.body_bytes()?);
    let action = parse_action(route, http)?;
    let now = intake.clock.now();
    let (mut changed, mut entry) = match apply(&file.case, &action, &caller, now, &intake.sla) {
        Ok(change) => change,
        // A retry of a change that was made may now be illegal (resolving a resolved case):
        // under its key it gets the first answer again.
        Err(refusal) => {
            return match &key {
                Some(key) => earlier_answer(intake, key, &payload, now)
                    .await?
                    .ok_or_else(|| refused(refusal)),
                None => Err(refused(refusal)),
            };
        }
    };
    let refund = match action {
        CaseAction::Resolve { .. } => refund_request(intake, &mut changed, &mut entry, now).await?,
        _ => None,
    };
    // A resolution schedules the customer's survey, written with it. Whether the customer
    // opted out, and in which language, is decided when it is sent.
    let survey = match action {
        CaseAction::Resolve { .. } => {
            schedule_for_case(&changed, intake.survey_delay, false).map(|due| Survey::due(&due))
        }
        _ => None,
    };
    // What the change moves on the SLA overview's counters, written with it, and on the
    // service metrics' (resolutions by remedy and SKU), merged into one change per
    // counter item as the transaction needs.
    let counters = aftercare::metrics::merged(
        counter_changes(Some(&file.case), &changed)
            .into_iter()
            .chain(aftercare::metrics::case_counter_changes(
                Some(&file.case),
                &changed,
            )),
    );
    let mut timeline = file.timeline;
    timeline.push(entry.clone());
    let view = CaseFile {
        case: changed,
        timeline,
    };
    let body = serde_json::to_string(&CaseView::from(&view)).map_err(|_| ApiError::internal())?;
    let guard = key.as_ref().map(|key| IdempotencyRecord {
        key: key.clone(),
        payload_hash: payload.clone(),
        response: Some(SavedResponse {
            status: 200,
            body: body.clone(),
            location: None,
        }),
        recorded_at: now,
        expires_at: now + REQUEST_KEY_LIFETIME,
    });
    match intake
        .cases
        .record_change(
            &view.case,
            &entry,
            WrittenWith {
                idempotency: guard.as_ref(),
                counters: &counters,
                refund: refund.as_ref(),
                survey: survey.as_ref(),
                ..WrittenWith::default()
            },
        )
        .await
    {
        Ok(()) => {
            tracing::info!(action = action.name(), status = ?view.case.status, "case changed");
            if let Some(refund) = &refund {
                tracing::info!(refund_id = %refund.id(), refund_status = refund.status().as_str(), "refund requested");
            }
            Ok(saved_response(&SavedResponse {
                status: 200,
                body,
                location: None,
            }))
        }
        Err(StoreError::Conflict) => {
            let earlier = match &key {
                Some(key) => earlier_answer(intake, key, &payload, now).await?,
                None => None,
            };
            earlier.ok_or_else(|| {
                ApiError::conflict(
                    "Someone changed this case at the same moment; read it again and retry.",
                )
            })
        }
        Err(err) => Err(err.into()),
    }
}

/// The refund request a case resolved with a refund opens, written with the resolution: checked
/// against the order and the customer's earlier refunds (422 when it cannot be paid), then
/// screened by the auto-approval policy, so it is either approved (its payout message follows)
/// or waiting in finance's queue. The resolution and its timeline entry name it.
async fn refund_request<P: Ports>(
    intake: &Intake<P>,
    changed: &mut Case,
    entry: &mut TimelineEntry,
    now: DateTime<Utc>,
) -> Result<Option<Refund>, ApiError> {
    let pays = changed
        .resolution
        .as_ref()
        .is_some_and(|r| matches!(r.remedy, Remedy::Refund | Remedy::PartialRefund));
    if !pays {
        return Ok(None);
    }
    let reference = changed.order_id.as_str().to_owned();
    let order = intake
        .orders
        .order_file(&reference)
        .await?
        .ok_or(RefundError::OrderUnknown(reference))?;
    let customer_refunds = intake.refunds.refund_history(&changed.customer_id).await?;
    let earlier_on_order: Vec<Refund> = customer_refunds
        .iter()
        .filter(|r| r.order_reference() == order.reference)
        .cloned()
        .collect();
    let photos = u32::try_from(changed.photos.attached.len()).unwrap_or(u32::MAX);
    let draft = RefundDraft::for_resolved_case(changed, &order, None, photos)?;
    let requested = Refund::request(draft, &order, &earlier_on_order, &intake.refund_policy, now)?;
    // Rejected refunds paid nothing: they do not count towards "3 in 90 days".
    let counted: Vec<DateTime<Utc>> = customer_refunds
        .iter()
        .filter(|r| r.status() != RefundStatus::Rejected)
        .map(Refund::requested_at)
        .collect();
    let refund = requested
        .refund
        .screen(&intake.refund_policy, &counted, now)?
        .refund;
    if let Some(resolution) = changed.resolution.as_mut() {
        resolution.refund_id = Some(refund.id().to_string());
    }
    let decision = match refund.status() {
        RefundStatus::Approved => "approved",
        _ => "waiting for finance",
    };
    let said = format!(
        "refund {} of {} {}: {decision}",
        refund.id(),
        refund.currency(),
        aftercare::money::format_amount(refund.amount_minor(), refund.currency()),
    );
    entry.note = Some(match entry.note.take() {
        Some(note) => format!("{note}; {said}"),
        None => said,
    });
    Ok(Some(refund))
}
