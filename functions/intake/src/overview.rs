//! `GET /sla/overview?from=YYYY-MM-DD&to=YYYY-MM-DD` (supervisors): per queue, the cases at
//! risk and breached now, and over the period (UTC days, both included; the last 7 days by
//! default, at most 92) the p50 and p90 of first-response and resolution times and the share
//! within target.
//!
//! Read from counters kept at write time ([`aftercare::service_levels`]), never from the
//! cases: per queue one GetItem and two Queries over day items, whatever the number of cases.

use aftercare::api::{ApiError, HttpRequest, json_response};
use aftercare::auth::Role;
use aftercare::case::Queue;
use aftercare::clock::Clock;
use aftercare::response_times::{Measure, ResponseTimeCounters, ResponseTimeSummary};
use aftercare::service_levels::{NOW, response_time_series, standing_series};
use aftercare::store::CounterStore;
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::{Intake, Ports};

/// The longest period one request may cover.
pub const MAX_DAYS: i64 = 92;
const DEFAULT_DAYS: i64 = 7;

#[derive(Serialize)]
struct Overview {
    from: NaiveDate,
    to: NaiveDate,
    queues: Vec<QueueOverview>,
}

#[derive(Serialize)]
struct QueueOverview {
    queue: Queue,
    now: Standings,
    first_response: ResponseTimeSummary,
    resolution: ResponseTimeSummary,
}

#[derive(Serialize)]
struct Standings {
    at_risk: i64,
    breached: i64,
}

fn day(http: &HttpRequest<'_>, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    http.query(name)
        .map(|raw| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
                ApiError::new(
                    400,
                    "invalid_query",
                    format!("{name} must be a day as YYYY-MM-DD (UTC)."),
                )
            })
        })
        .transpose()
}

/// The period asked for: both days included, `from` not after `to`, at most [`MAX_DAYS`].
fn period(http: &HttpRequest<'_>, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let to = day(http, "to")?.unwrap_or(today);
    let from = day(http, "from")?.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
    if from > to {
        return Err(ApiError::new(
            400,
            "invalid_query",
            "from must not be after to.",
        ));
    }
    if (to - from).num_days() + 1 > MAX_DAYS {
        return Err(ApiError::new(
            400,
            "invalid_query",
            format!("The period covers at most {MAX_DAYS} days; ask for several."),
        ));
    }
    Ok((from, to))
}

pub async fn sla_overview<P: Ports>(
    intake: &Intake<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = http.caller()?;
    if caller.role != Role::Supervisor {
        return Err(ApiError::forbidden("The SLA overview is for supervisors."));
    }
    let (from, to) = period(http, intake.clock.now().date_naive())?;
    let (first, last) = (from.to_string(), to.to_string());
    let mut queues = Vec::with_capacity(Queue::ALL.len());
    for queue in Queue::ALL {
        let gauges = intake
            .counters
            .counters(&standing_series(queue), NOW)
            .await?;
        let mut summaries = Vec::with_capacity(2);
        for measure in [Measure::FirstResponse, Measure::Resolution] {
            let mut total = ResponseTimeCounters::default();
            for day in intake
                .counters
                .counters_between(&response_time_series(queue, measure), &first, &last)
                .await?
            {
                total.merge(&ResponseTimeCounters::from_attributes(
                    day.iter().map(|(name, n)| (name.as_str(), *n)),
                ));
            }
            summaries.push(total.summary());
        }
        let resolution = summaries.pop().expect("two measures");
        let first_response = summaries.pop().expect("two measures");
        queues.push(QueueOverview {
            queue,
            now: Standings {
                // Never below zero, even if a counter was ever corrected by hand.
                at_risk: gauges.get("at_risk").copied().unwrap_or(0).max(0),
                breached: gauges.get("breached").copied().unwrap_or(0).max(0),
            },
            first_response,
            resolution,
        });
    }
    Ok(json_response(200, &Overview { from, to, queues }))
}
