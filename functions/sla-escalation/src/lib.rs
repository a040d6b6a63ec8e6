//! SLA escalation: on the template's schedule, every case whose next SLA checkpoint has come is
//! escalated (see [`aftercare::escalation`]): warned at 80 %, breached at 100 %, escalated at
//! 200 % of each target.
//!
//! - Cost: one Query per timer shard on an index that projects the whole case, so a sweep reads
//!   the due cases and nothing else; then per case one send to the notifications queue and one
//!   transaction (the case and its timeline entries).
//! - Exactly once: the transaction is conditional on the version read; of two sweeps (or a
//!   sweep and an agent) only one records a step. Notifications go out before the write and are
//!   deduplicated by the FIFO queue, so a crash in between loses nothing and repeats nothing.
//! - Bounded: at most `SLA_SWEEP_BATCH_SIZE` cases a run, the oldest checkpoints of each shard
//!   first, and no new case is started once the invocation is within [`SAFETY_MARGIN`] of its
//!   timeout. What is left stays due for the next run.
//!
//! "Now" is the schedule's own `time` field, the instant EventBridge fired for, so a sweep that
//! starts late still judges lateness at its scheduled instant, and tests move time by sending a
//! later event instead of sleeping.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aftercare::aws_calls::AwsCallCounter;
use aftercare::clock::{Clock, SystemClock};
use aftercare::config::{self, ConfigError};
use aftercare::escalation::escalate;
use aftercare::notifications::{NotificationQueue, SqsNotificationQueue};
use aftercare::sla::TIMER_SHARDS;
use aftercare::store::{DynamoCaseStore, SlaTimerIndex, StoreError};
use aftercare::trigger::Trigger;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

/// Cases a run takes at most, unless `SLA_SWEEP_BATCH_SIZE` says otherwise.
pub const DEFAULT_BATCH_SIZE: u32 = 800;
/// How close to its timeout a run stops starting new cases.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(15);
/// Cases escalated at once: enough to hide the latency of each write, few enough not to
/// throttle a table.
const IN_FLIGHT: usize = 16;

/// What the sweep reads and writes.
pub trait Ports {
    type Timers: SlaTimerIndex;
    type Notifications: NotificationQueue;
    type Clock: Clock;
}

pub struct Aws;

impl Ports for Aws {
    type Timers = DynamoCaseStore;
    type Notifications = SqsNotificationQueue;
    type Clock = SystemClock;
}

pub struct Escalation<P: Ports> {
    pub timers: P::Timers,
    pub notifications: P::Notifications,
    pub clock: P::Clock,
    /// Cases per run.
    pub batch_size: u32,
    /// The DynamoDB calls and items read of the run, reported with it.
    pub aws_calls: AwsCallCounter,
}

impl Escalation<Aws> {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let table = config::required("CASES_TABLE")?;
        let queue_url = config::required("NOTIFICATIONS_QUEUE_URL")?;
        let metrics_table = config::required("METRICS_TABLE")?;
        let batch_size = match std::env::var("SLA_SWEEP_BATCH_SIZE") {
            Err(_) => DEFAULT_BATCH_SIZE,
            Ok(raw) => raw
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "SLA_SWEEP_BATCH_SIZE",
                    reason: format!("{raw:?} is not a number of cases from 1 to 10000"),
                })?,
        };
        let aws = config::aws().await;
        let aws_calls = AwsCallCounter::default();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&aws)
                .interceptor(aws_calls.clone())
                .build(),
        );
        Ok(Escalation {
            timers: DynamoCaseStore::new(dynamodb, table).with_metrics_table(metrics_table),
            notifications: SqsNotificationQueue::new(aws_sdk_sqs::Client::new(&aws), queue_url),
            clock: SystemClock,
            batch_size,
            aws_calls,
        })
    }
}

/// What one sweep did; returned to the scheduler and logged.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    pub swept_at: DateTime<Utc>,
    /// Due cases read from the index.
    pub due: usize,
    /// Cases escalated by this run.
    pub escalated: usize,
    /// Steps recorded (a case late by a lot takes several at once).
    pub steps: usize,
    /// Cases someone else changed first (another sweep, an agent): the next run looks again.
    pub conflicts: usize,
    /// Index entries that were stale: nothing was due on the case itself.
    pub nothing_due: usize,
    /// Cases left for the next run because this one neared its timeout.
    pub deferred: usize,
    /// Cases whose notifications or write failed; they stay due and are retried next run.
    pub failed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_due_at: Option<DateTime<Utc>>,
    /// DynamoDB calls of the run, and the items they read (the SDK interceptor's count).
    pub dynamodb_calls: u64,
    /// Of those, the writes (one transaction per escalated case).
    pub dynamodb_writes: u64,
    pub items_read: u64,
}

pub async fn handle<P: Ports>(
    escalation: &Escalation<P>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let span = tracing::info_span!("sla_sweep", request_id = %event.context.request_id);
    let stop_by = stop_by(event.context.deadline);
    async move {
        match Trigger::parse(event.payload)? {
            Trigger::EventBridge(scheduled) => {
                let at = scheduled.time.unwrap_or_else(|| escalation.clock.now());
                Ok(serde_json::to_value(sweep(escalation, at, stop_by).await?)?)
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

/// When a run must stop starting new cases: the invocation's deadline (epoch milliseconds)
/// less the safety margin.
fn stop_by(deadline_ms: u64) -> SystemTime {
    (UNIX_EPOCH + Duration::from_millis(deadline_ms))
        .checked_sub(SAFETY_MARGIN)
        .unwrap_or(UNIX_EPOCH)
}

/// One sweep at the instant `at`.
pub async fn sweep<P: Ports>(
    escalation: &Escalation<P>,
    at: DateTime<Utc>,
    stop_by: SystemTime,
) -> Result<SweepReport, Error> {
    escalation.aws_calls.reset();
    let per_shard = escalation.batch_size.div_ceil(u32::from(TIMER_SHARDS));
    let due = escalation
        .timers
        .due_cases(at, i32::try_from(per_shard).unwrap_or(i32::MAX))
        .await?;
    let mut report = SweepReport {
        swept_at: at,
        due: due.len(),
        oldest_due_at: due.first().and_then(|case| case.next_sla_checkpoint()),
        ..SweepReport::default()
    };
    let outcomes: Vec<Outcome> = futures_util::stream::iter(due)
        .map(|case| async move {
            if SystemTime::now() >= stop_by {
                return Outcome::Deferred;
            }
            let Some(change) = escalate(&case, at) else {
                return Outcome::NothingDue;
            };
            // Sent first: if the write then fails, the next run sends again and the queue
            // drops the repeat; if it were written first, a crash would lose the message.
            if let Err(err) = escalation.notifications.send(&change.notifications).await {
                tracing::warn!(case_id = %case.id, error = %err, "notifications not sent; retried next run");
                return Outcome::Failed;
            }
            match escalation.timers.record_escalation(&change).await {
                Ok(()) => {
                    for step in &change.steps {
                        tracing::info!(case_id = %case.id, target = step.target.as_str(), stage = step.stage.as_str(), "sla step");
                    }
                    Outcome::Escalated(change.steps.len())
                }
                Err(StoreError::Conflict) => Outcome::Conflict,
                Err(err) => {
                    tracing::warn!(case_id = %case.id, error = %err, "escalation not written; retried next run");
                    Outcome::Failed
                }
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome {
            Outcome::Escalated(steps) => {
                report.escalated += 1;
                report.steps += steps;
            }
            Outcome::Conflict => report.conflicts += 1,
            Outcome::NothingDue => report.nothing_due += 1,
            Outcome::Deferred => report.deferred += 1,
            Outcome::Failed => report.failed += 1,
        }
    }
    let calls = escalation.aws_calls.calls();
    report.dynamodb_calls = calls.values().sum();
    report.dynamodb_writes = calls
        .iter()
        .filter(|(operation, _)| {
            ["Write", "Put", "Update", "Delete"]
                .iter()
                .any(|verb| operation.contains(verb))
        })
        .map(|(_, n)| n)
        .sum();
    report.items_read = escalation.aws_calls.items_read();
    tracing::info!(
        due = report.due,
        dynamodb_calls = report.dynamodb_calls,
        items_read = report.items_read,
        escalated = report.escalated,
        steps = report.steps,
        conflicts = report.conflicts,
        deferred = report.deferred,
        failed = report.failed,
        "sla sweep"
    );
    Ok(report)
}

enum Outcome {
    Escalated(usize),
    Conflict,
    NothingDue,
    Deferred,
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftercare::assessment::Assessment;
    use aftercare::case::{Case, CaseDraft, NewCaseLine, NewCaseRequest};
    use aftercare::clock::FixedClock;
    use aftercare::escalation::{Escalation as Change, SlaNotification};
    use aftercare::notifications::NotificationError;
    use aftercare::sla::SlaPolicy;
    use chrono::TimeZone;
    use lambda_runtime::Context;
    use serde_json::json;
    use std::sync::Mutex;

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 11, 8, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
    }

    fn case() -> Case {
        let draft = CaseDraft::parse(NewCaseRequest {
            order_id: "o".into(),
            lines: vec![NewCaseLine {
                sku: "SERUM-30".into(),
                quantity: 1,
            }],
            description: "leaking".into(),
            opened: None,
        })
        .unwrap();
        Case::open(
            draft,
            "c-1",
            Assessment::of_text("the bottle is leaking", &Default::default(), t(0)),
            t(0),
            &SlaPolicy::default(),
        )
    }

    /// Due cases as given; records what was written.
    #[derive(Default)]
    struct Timers(Vec<Case>, Mutex<Vec<Change>>);

    impl SlaTimerIndex for Timers {
        async fn due_cases(&self, _: DateTime<Utc>, _: i32) -> Result<Vec<Case>, StoreError> {
            Ok(self.0.clone())
        }
        async fn record_escalation(&self, change: &Change) -> Result<(), StoreError> {
            self.1.lock().unwrap().push(change.clone());
            Ok(())
        }
    }

    /// A queue that is up or down.
    struct Queue(bool, Mutex<Vec<SlaNotification>>);

    impl NotificationQueue for Queue {
        async fn send(&self, sent: &[SlaNotification]) -> Result<(), NotificationError> {
            if !self.0 {
                return Err(NotificationError::NotSent("down".into()));
            }
            self.1.lock().unwrap().extend_from_slice(sent);
            Ok(())
        }
    }

    struct Fakes;
    impl Ports for Fakes {
        type Timers = Timers;
        type Notifications = Queue;
        type Clock = FixedClock;
    }

    fn sweeper(queue_up: bool) -> Escalation<Fakes> {
        Escalation {
            timers: Timers(vec![case()], Mutex::default()),
            notifications: Queue(queue_up, Mutex::default()),
            clock: FixedClock(t(0)),
            batch_size: 8,
            aws_calls: AwsCallCounter::default(),
        }
    }

    fn far_future() -> SystemTime {
        SystemTime::now() + Duration::from_secs(3600)
    }

    #[tokio::test]
    async fn notifies_then_records_each_due_step() {
        let sweeper = sweeper(true);
        let report = sweeper.sweep_at(t(60)).await;
        assert_eq!((report.due, report.escalated, report.steps), (1, 1, 2));
        assert_eq!(sweeper.notifications.1.lock().unwrap().len(), 2);
        assert_eq!(sweeper.timers.1.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_case_whose_notifications_were_not_sent_is_not_recorded_and_stays_due() {
        let sweeper = sweeper(false);
        let report = sweeper.sweep_at(t(60)).await;
        assert_eq!((report.escalated, report.failed), (0, 1));
        assert!(sweeper.timers.1.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_run_near_its_timeout_leaves_the_rest_for_the_next() {
        let sweeper = sweeper(true);
        let report = sweep(&sweeper, t(60), SystemTime::now()).await.unwrap();
        assert_eq!((report.escalated, report.deferred), (0, 1));
        assert!(sweeper.timers.1.lock().unwrap().is_empty());
    }

    #[test]
    fn the_stop_is_the_safety_margin_before_the_deadline() {
        let deadline_ms = 1_800_000_000_000;
        assert_eq!(
            stop_by(deadline_ms),
            UNIX_EPOCH + Duration::from_millis(deadline_ms) - SAFETY_MARGIN
        );
    }

    #[tokio::test]
    async fn judges_lateness_at_the_scheduled_instant_and_refuses_other_events() {
        let sweeper = sweeper(true);
        let scheduled = json!({"version": "0", "id": "e", "detail-type": "Scheduled Event",
            "source": "aws.events", "time": "2026-11-11T08:47:00Z", "resources": [], "detail": {}});
        let mut context = Context::default();
        context.deadline =
            u64::try_from((Utc::now() + chrono::Duration::minutes(1)).timestamp_millis()).unwrap();
        let report = handle(&sweeper, LambdaEvent::new(scheduled, context.clone()))
            .await
            .unwrap();
        // 08:47 is a minute before the 80 % mark of the first hour: nothing yet.
        assert_eq!(
            (report["due"].as_u64(), report["nothing_due"].as_u64()),
            (Some(1), Some(1))
        );
        let sqs = json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": "{}"}]});
        assert!(
            handle(&sweeper, LambdaEvent::new(sqs, context))
                .await
                .is_err()
        );
    }

    impl Escalation<Fakes> {
        async fn sweep_at(&self, at: DateTime<Utc>) -> SweepReport {
            sweep(self, at, far_future()).await.unwrap()
        }
    }
}
