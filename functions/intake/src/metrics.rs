//! `GET /metrics?from=YYYY-MM-DD&to=YYYY-MM-DD` (supervisors): the service metrics of the
//! UTC days `from` to `to`, both included, at most [`MAX_DAYS`]: per day and for the period,
//! see [`aftercare::metrics::report`].
//!
//! Read from counters kept at write time, never from the cases: one Query per series over
//! the whole period.

use aftercare::api::{ApiError, HttpRequest, json_response};
use aftercare::auth::Role;
use aftercare::metrics::report::{MAX_DAYS, read};
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use chrono::NaiveDate;

use crate::{Intake, Ports};

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(422, "validation_failed", message)
}

/// A required day parameter.
fn day(http: &HttpRequest<'_>, name: &str) -> Result<NaiveDate, ApiError> {
    let raw = http
        .query(name)
        .ok_or_else(|| invalid(format!("{name}: required, a UTC day as YYYY-MM-DD")))?;
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        // chrono takes "2026-1-5"; only the canonical form names a day once.
        .filter(|day| day.format("%Y-%m-%d").to_string() == raw)
        .ok_or_else(|| invalid(format!("{name}: must be a UTC day as YYYY-MM-DD")))
}

/// The period asked for: both days given, `from` not after `to`, at most [`MAX_DAYS`].
pub fn period(http: &HttpRequest<'_>) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let from = day(http, "from")?;
    let to = day(http, "to")?;
    if from > to {
        return Err(invalid("from: must not be after to"));
    }
    if (to - from).num_days() + 1 > MAX_DAYS {
        return Err(invalid(format!(
            "to: the period covers at most {MAX_DAYS} days; ask for several"
        )));
    }
    Ok((from, to))
}

pub async fn service_metrics<P: Ports>(
    intake: &Intake<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = http.caller()?;
    if caller.role != Role::Supervisor {
        return Err(ApiError::forbidden(
            "The service metrics are for supervisors.",
        ));
    }
    let (from, to) = period(http)?;
    let report = read(&intake.counters, from, to).await?;
    Ok(json_response(200, &report))
}
