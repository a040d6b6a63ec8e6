//! Work on a case: `POST /cases/{id}/replies`, `/assign`, `/wait`, `/resolve`, `/close`,
//! `/reopen`. The state machine ([`aftercare::workflow`]) decides; the change is written only
//! if the case is still the version that was read, so of two concurrent edits one wins and
//! the other gets 409.

use aftercare::api::{ApiError, HttpRequest};
use aftercare::clock::Clock;
use aftercare::idempotency::{
    IdempotencyRecord, REQUEST_KEY_LIFETIME, SavedResponse, payload_hash,
};
use aftercare::remedy::Remedy;
use aftercare::service_levels::counter_changes;
use aftercare::store::{CaseFile, CaseStore, StoreError};
use aftercare::workflow::{CaseAction, Refusal, apply};
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
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
    let (changed, entry) = match apply(&file.case, &action, &caller, now, &intake.sla) {
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
    // What the change moves on the SLA overview's counters, written with it.
    let counters = counter_changes(Some(&file.case), &changed);
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
        .record_change(&view.case, &entry, guard.as_ref(), &counters)
        .await
    {
        Ok(()) => {
            tracing::info!(action = action.name(), status = ?view.case.status, "case changed");
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
