//! SLA escalation: on the template's schedule, find the cases whose SLA deadline has passed.
//!
//! "Now" is the schedule's own `time` field, the instant EventBridge fired for, so a sweep that
//! starts late still judges lateness at its scheduled instant, and tests move time by sending a
//! later event instead of sleeping.

use aftercare::clock::{Clock, SystemClock};
use aftercare::config::{self, ConfigError};
use aftercare::store::{DynamoCaseStore, SlaTimerIndex};
use aftercare::trigger::Trigger;
use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

/// How many due timers one sweep reads from each shard: bounded, so a backlog after an outage
/// is worked off over successive runs.
pub const SWEEP_LIMIT_PER_SHARD: i32 = 100;

pub struct Escalation<T, C> {
    pub timers: T,
    pub clock: C,
}

impl Escalation<DynamoCaseStore, SystemClock> {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let table = config::required("CASES_TABLE")?;
        let aws = config::aws().await;
        Ok(Escalation {
            timers: DynamoCaseStore::new(aws_sdk_dynamodb::Client::new(&aws), table),
            clock: SystemClock,
        })
    }
}

/// What one sweep saw; returned to the scheduler and logged.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    pub swept_at: DateTime<Utc>,
    pub due: usize,
    pub oldest_due_at: Option<DateTime<Utc>>,
}

pub async fn handle<T: SlaTimerIndex, C: Clock>(
    escalation: &Escalation<T, C>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let span = tracing::info_span!("sla_sweep", request_id = %event.context.request_id);
    async move {
        match Trigger::parse(event.payload)? {
            Trigger::EventBridge(scheduled) => {
                let at = scheduled.time.unwrap_or_else(|| escalation.clock.now());
                Ok(serde_json::to_value(sweep(escalation, at).await?)?)
            }
            other => Err(format!(
                "sla-escalation is wired to its schedule only, not {} events",
                other.kind()
            )
            .into()),
        }
    }
    .instrument(span)
    .await
}

pub async fn sweep<T: SlaTimerIndex, C: Clock>(
    escalation: &Escalation<T, C>,
    at: DateTime<Utc>,
) -> Result<SweepReport, Error> {
    let due = escalation
        .timers
        .due_timers(at, SWEEP_LIMIT_PER_SHARD)
        .await?;
    let report = SweepReport {
        swept_at: at,
        due: due.len(),
        oldest_due_at: due.first().map(|timer| timer.due_at),
    };
    tracing::info!(due = report.due, "sla sweep");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftercare::case::CaseId;
    use aftercare::clock::FixedClock;
    use aftercare::store::{DueTimer, StoreError};
    use chrono::TimeZone;
    use lambda_runtime::Context;
    use serde_json::json;

    /// Timers due at fixed instants; answers like the index would.
    struct Timers(Vec<DateTime<Utc>>);

    impl SlaTimerIndex for Timers {
        async fn due_timers(
            &self,
            now: DateTime<Utc>,
            limit: i32,
        ) -> Result<Vec<DueTimer>, StoreError> {
            let mut due: Vec<_> = self.0.iter().filter(|at| **at <= now).copied().collect();
            due.sort();
            due.truncate(limit as usize);
            Ok(due
                .into_iter()
                .map(|due_at| DueTimer {
                    case_id: CaseId::new(),
                    due_at,
                })
                .collect())
        }
    }

    #[tokio::test]
    async fn judges_lateness_at_the_scheduled_instant() {
        let t = |h, m| Utc.with_ymd_and_hms(2026, 11, 11, h, m, 0).unwrap();
        let escalation = Escalation {
            timers: Timers(vec![t(9, 0), t(10, 0), t(8, 30)]),
            clock: FixedClock(t(23, 0)),
        };
        let event = json!({"version": "0", "id": "e", "detail-type": "Scheduled Event",
            "source": "aws.events", "time": "2026-11-11T09:59:00Z", "resources": [], "detail": {}});
        let report = handle(&escalation, LambdaEvent::new(event, Context::default()))
            .await
            .unwrap();
        assert_eq!(report["due"], 2);
        assert_eq!(report["oldest_due_at"], "2026-11-11T08:30:00Z");
    }

    #[tokio::test]
    async fn refuses_events_it_is_not_wired_to() {
        let escalation = Escalation {
            timers: Timers(vec![]),
            clock: FixedClock(Utc::now()),
        };
        let sqs = json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": "{}"}]});
        assert!(
            handle(&escalation, LambdaEvent::new(sqs, Context::default()))
                .await
                .is_err()
        );
    }
}
