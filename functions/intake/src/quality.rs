//! Batch quality alerts (rules: [`aftercare::quality_alert`]).
//!
//! - Opening a case ([`observe_opening`]): the case's (SKU, batch) windows are read in one
//!   BatchGetItem (with the batches' units sold), the case is observed, and the windows it
//!   changed and any alert it raised are written in the case's own transaction, conditional on
//!   the versions read. A window another opening moved first fails the transaction as
//!   [`StoreError::Stale`]; the opening is observed again, at most [`OBSERVE_ATTEMPTS`] times.
//!   A case of a batch with an alert open goes to the expert queue, whatever its category, with
//!   a `quality_alert_flag` timeline entry naming the alert.
//! - Telling the quality team: each alert is written unsent (an outbox), sent to the FIFO
//!   queue `quality-alerts` right after the commit ([`send_raised`], best effort) and taken
//!   out of the outbox; [`relay`], on `QualityAlertRelaySchedule`, sends whatever a crash or
//!   an SQS failure left. Intake runs the relay because it is the one function that raises
//!   alerts: one function holds the queue and the outbox, and the SLA sweep's time budget stays
//!   its own.
//! - Routes, for supervisors and experts (403 for anyone else): `GET /quality/alerts` and
//!   `POST /quality/alerts/{id}/acknowledge`.

use std::future::Future;

use aftercare::api::{ApiError, HttpRequest, json_response};
use aftercare::auth::{Caller, Role};
use aftercare::case::{Case, Queue, TimelineEntry};
use aftercare::clock::Clock;
use aftercare::config::ConfigError;
use aftercare::quality_alert::{
    AlertId, AlertPolicy, AlertStatus, BatchWindow, QualityAlert, QualityAlertError, QualityCase,
    acknowledge, batches_of_case, flags_for_expert_queue, observe,
};
use aftercare::sla::SlaPolicy;
use aftercare::store::{QualityObservation, QualityStore, StoreError};
use aftercare::storefront::StoreOrder;
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{Intake, Ports};

/// How many times an opening is observed in all when it keeps losing races on a window: as
/// many as intake instances may open cases of one batch at once in a burst.
pub const OBSERVE_ATTEMPTS: usize = 8;
/// Alerts one relay run sends at most.
pub const RELAY_BATCH: i32 = 100;
/// The longest acknowledgement note.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// The alert policy from `QUALITY_ALERT_MIN_CASES`, `QUALITY_ALERT_WINDOW_DAYS` and
/// `QUALITY_ALERT_SHARE_OF_UNITS` (the template's `QualityAlert*` parameters); unset or blank
/// keeps the default, anything else invalid stops the function at init.
pub fn alert_policy_from_env() -> Result<AlertPolicy, ConfigError> {
    let read = |name: &str| std::env::var(name).unwrap_or_default();
    AlertPolicy::parse(
        &read("QUALITY_ALERT_MIN_CASES"),
        &read("QUALITY_ALERT_WINDOW_DAYS"),
        &read("QUALITY_ALERT_SHARE_OF_UNITS"),
    )
    .map_err(|err| match err {
        QualityAlertError::InvalidPolicy { parameter, reason } => ConfigError::Invalid {
            name: match parameter {
                "min_cases" => "QUALITY_ALERT_MIN_CASES",
                "window_days" => "QUALITY_ALERT_WINDOW_DAYS",
                _ => "QUALITY_ALERT_SHARE_OF_UNITS",
            },
            reason,
        },
        other => ConfigError::Invalid {
            name: "QUALITY_ALERT_MIN_CASES",
            reason: other.to_string(),
        },
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the quality alert was not sent: {0}")]
pub struct AlertNotSent(pub String);

/// Where alerts go: the FIFO queue `quality-alerts`.
pub trait AlertQueue: Send + Sync {
    /// Puts `alert` on the queue, grouped by its batch, deduplicated by batch and sequence.
    fn send(&self, alert: &QualityAlert) -> impl Future<Output = Result<(), AlertNotSent>> + Send;
}

#[derive(Debug, Clone)]
pub struct SqsAlertQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsAlertQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsAlertQueue {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl AlertQueue for SqsAlertQueue {
    async fn send(&self, alert: &QualityAlert) -> Result<(), AlertNotSent> {
        let body = serde_json::to_string(alert).map_err(|e| AlertNotSent(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_group_id(alert.message_group_id())
            .message_deduplication_id(alert.deduplication_id())
            .send()
            .await
            .map_err(|e| AlertNotSent(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}

/// A case about to be opened, as its batches' quality windows make it.
pub struct Observed {
    /// The case, moved to the expert queue when a batch of it has an alert open.
    pub case: Case,
    pub observation: QualityObservation,
}

/// Observes an opening case in the windows of the batches its lines were bought from (`order`),
/// at `now`. Reads nothing when no line has a batch on record.
pub async fn observe_opening<P: Ports>(
    intake: &Intake<P>,
    case: &Case,
    order: Option<&StoreOrder>,
    now: DateTime<Utc>,
) -> Result<Observed, StoreError> {
    let batches = order
        .map(|order| batches_of_case(&case.lines, &order.lines))
        .unwrap_or_default();
    if batches.is_empty() {
        return Ok(Observed {
            case: case.clone(),
            observation: QualityObservation::default(),
        });
    }
    let windows = intake.quality.windows(&batches).await?;
    Ok(observe_in(
        case,
        &windows,
        &intake.alert_policy,
        &intake.sla,
        now,
    ))
}

/// The decision of [`observe_opening`], without I/O: the case observed in its batches'
/// `windows` as read at `now`.
pub fn observe_in(
    case: &Case,
    windows: &[BatchWindow],
    policy: &AlertPolicy,
    sla: &SlaPolicy,
    now: DateTime<Utc>,
) -> Observed {
    let mut case = case.clone();
    let mut observation = QualityObservation::default();
    let seen = QualityCase {
        case_id: case.id,
        category: case.classification.category,
        at: case.opened_at,
    };
    let mut open_alerts = Vec::new();
    for window in windows {
        let (next, alert) = observe(window, &seen, now, policy);
        if let (true, Some(id), Some(batch)) =
            (flags_for_expert_queue(&next), next.open_alert, &next.batch)
        {
            open_alerts.push(format!("{id} (SKU {}, batch {batch})", next.sku.as_str()));
        }
        if next.version != window.version {
            observation.windows.push(next);
        }
        observation.alerts.extend(alert);
    }
    if !open_alerts.is_empty() {
        if case.queue != Queue::Expert {
            case.queue = Queue::Expert;
            case.sla = sla.start(case.priority, Queue::Expert, case.opened_at);
        }
        observation.flag = Some(TimelineEntry {
            // A millisecond after the opening, so it sorts after it on the timeline.
            at: now + Duration::milliseconds(1),
            actor: "system".into(),
            action: "quality_alert_flag".into(),
            note: Some(format!(
                "Quality alert open on this batch: {}. Routed to the expert queue.",
                open_alerts.join("; ")
            )),
        });
    }
    Observed { case, observation }
}

/// Sends the alerts a committed opening raised and takes them out of the outbox. Best effort:
/// what fails here, the relay sends within a minute.
pub async fn send_raised<P: Ports>(intake: &Intake<P>, alerts: &[QualityAlert]) {
    for alert in alerts {
        tracing::warn!(
            alert_id = %alert.alert_id,
            sku = alert.sku.as_str(),
            batch = %alert.batch,
            rule = ?alert.rule,
            cases = alert.count_in_window,
            "quality alert raised"
        );
        let _ = send_one(intake, alert).await;
    }
}

enum Relayed {
    Sent,
    AlreadyCleared,
    Failed,
}

async fn send_one<P: Ports>(intake: &Intake<P>, alert: &QualityAlert) -> Relayed {
    if let Err(err) = intake.alert_queue.send(alert).await {
        tracing::warn!(alert_id = %alert.alert_id, error = %err, "quality alert not sent; the relay retries");
        return Relayed::Failed;
    }
    match intake.quality.alert_sent(&alert.alert_id).await {
        Ok(()) => Relayed::Sent,
        Err(StoreError::Conflict) => Relayed::AlreadyCleared,
        Err(err) => {
            tracing::warn!(alert_id = %alert.alert_id, error = %err, "quality alert sent but still in the outbox; the relay sends it again (deduplicated)");
            Relayed::Failed
        }
    }
}

/// What one relay run did; returned to the scheduler and logged.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct RelayReport {
    pub relayed_at: DateTime<Utc>,
    /// Alerts read from the outbox.
    pub unsent: usize,
    pub sent: usize,
    /// Sent, but another run had taken it out of the outbox already.
    pub already_cleared: usize,
    /// Not sent or not taken out: the next run sends them again.
    pub failed: usize,
}

/// One run of the alert relay at the scheduled instant `at`.
pub async fn relay<P: Ports>(
    intake: &Intake<P>,
    at: DateTime<Utc>,
) -> Result<RelayReport, StoreError> {
    let unsent = intake.quality.unsent_alerts(RELAY_BATCH).await?;
    let mut report = RelayReport {
        relayed_at: at,
        unsent: unsent.len(),
        ..RelayReport::default()
    };
    for alert in &unsent {
        match send_one(intake, alert).await {
            Relayed::Sent => report.sent += 1,
            Relayed::AlreadyCleared => report.already_cleared += 1,
            Relayed::Failed => report.failed += 1,
        }
    }
    tracing::info!(
        unsent = report.unsent,
        sent = report.sent,
        already_cleared = report.already_cleared,
        failed = report.failed,
        "quality alert relay"
    );
    Ok(report)
}

/// Supervisors and experts; anyone else is refused before anything is read.
fn quality_staff(http: &HttpRequest<'_>) -> Result<Caller, ApiError> {
    let caller = http.caller()?;
    match caller.role {
        Role::Supervisor | Role::Expert => Ok(caller),
        _ => Err(ApiError::forbidden(
            "Quality alerts are for supervisors and experts.",
        )),
    }
}

fn invalid_query(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "invalid_query", message)
}

const LIST_PARAMETERS: [&str; 3] = ["status", "limit", "cursor"];

#[derive(Serialize)]
struct AlertView<'a> {
    status: AlertStatus,
    #[serde(flatten)]
    alert: &'a QualityAlert,
}

#[derive(Serialize)]
struct AlertListing<'a> {
    alerts: Vec<AlertView<'a>>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<&'a str>,
}

/// `GET /quality/alerts`: newest first; `status` (`open`, `acknowledged`; default both),
/// `limit` (1 to 100, default 20), `cursor`.
pub async fn list_alerts<P: Ports>(
    intake: &Intake<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    quality_staff(http)?;
    for (name, _) in http.0.query_string_parameters.iter() {
        if !LIST_PARAMETERS.contains(&name) {
            return Err(invalid_query(format!(
                "Unknown query parameter {name}; GET /quality/alerts takes status, limit and cursor."
            )));
        }
    }
    let status = match http.query("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(
            AlertStatus::named(raw)
                .ok_or_else(|| invalid_query("status must be open or acknowledged."))?,
        ),
    };
    let limit = match http.query("limit").filter(|s| !s.is_empty()) {
        None => crate::listings::DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=crate::listings::MAX_PAGE).contains(n))
            .ok_or_else(|| {
                invalid_query(format!(
                    "limit must be a number from 1 to {}.",
                    crate::listings::MAX_PAGE
                ))
            })?,
    };
    let cursor = http.query("cursor").filter(|c| !c.is_empty());
    let page = intake.quality.alerts(status, limit, cursor).await?;
    Ok(json_response(
        200,
        &AlertListing {
            alerts: page
                .alerts
                .iter()
                .map(|alert| AlertView {
                    status: alert.status(),
                    alert,
                })
                .collect(),
            next_cursor: page.next.as_deref(),
        },
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AcknowledgeRequest {
    note: String,
}

/// `POST /quality/alerts/{id}/acknowledge` with `{"note"}`: closes the batch's open alert; the
/// batch counts afresh from now. 404 for an alert that does not exist, 409
/// `alert_already_acknowledged` (with who and when) for one acknowledged before, 409
/// `alert_not_open` for one that is not its batch's open alert.
pub async fn acknowledge_alert<P: Ports>(
    intake: &Intake<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = quality_staff(http)?;
    let id: AlertId = http
        .path_param("id")?
        .parse()
        .map_err(|_| ApiError::not_found("alert"))?;
    let request: AcknowledgeRequest = http.json_body()?;
    let note = request.note.trim();
    if note.is_empty() || note.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::new(
            422,
            "validation_failed",
            format!("note: must be 1 to {MAX_NOTE_CHARS} characters"),
        ));
    }
    let by = format!("{}:{}", caller.role.as_str(), caller.subject);
    for _ in 0..OBSERVE_ATTEMPTS {
        let alert = intake
            .quality
            .alert(&id)
            .await?
            .ok_or_else(|| ApiError::not_found("alert"))?;
        let window = intake
            .quality
            .windows(&[(alert.sku.clone(), alert.batch.clone())])
            .await?
            .pop()
            .ok_or_else(ApiError::internal)?;
        let now = intake.clock.now();
        let refused =
            |err: QualityAlertError| ApiError::new(err.status(), err.code(), err.to_string());
        if let Some(ack) = &alert.acknowledged {
            return Err(refused(QualityAlertError::AlreadyAcknowledged {
                alert_id: id,
                by: ack.by.clone(),
                at: ack.at,
            }));
        }
        let acknowledged = acknowledge(&window, id, &by, Some(note), now).map_err(refused)?;
        let record = acknowledged
            .acknowledged
            .clone()
            .ok_or_else(ApiError::internal)?;
        match intake
            .quality
            .record_acknowledgement(&acknowledged, &record)
            .await
        {
            Ok(()) => {
                tracing::info!(alert_id = %id, "quality alert acknowledged");
                let alert = QualityAlert {
                    acknowledged: Some(record),
                    ..alert
                };
                return Ok(json_response(
                    200,
                    &AlertView {
                        status: alert.status(),
                        alert: &alert,
                    },
                ));
            }
            // A case moved the window, or someone acknowledged first: read both again.
            Err(StoreError::Conflict) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::conflict(
        "The alert's batch kept changing; retry the acknowledgement.",
    ))
}

/// In-memory stand-ins for handler tests that do not look at quality: no batch has a window
/// yet, and nothing is ever unsent.
#[cfg(test)]
pub(crate) mod fakes {
    use super::*;
    use aftercare::case::Sku;
    use aftercare::quality_alert::{Acknowledgement, BatchNo};
    use aftercare::store::AlertPage;

    pub(crate) struct NoQualityHistory;

    impl QualityStore for NoQualityHistory {
        async fn windows(
            &self,
            batches: &[(Sku, BatchNo)],
        ) -> Result<Vec<BatchWindow>, StoreError> {
            Ok(batches
                .iter()
                .map(|(sku, batch)| BatchWindow::new(sku.clone(), Some(batch.clone()), 0))
                .collect())
        }
        async fn alert(&self, _: &AlertId) -> Result<Option<QualityAlert>, StoreError> {
            Ok(None)
        }
        async fn alerts(
            &self,
            _: Option<AlertStatus>,
            _: i32,
            _: Option<&str>,
        ) -> Result<AlertPage, StoreError> {
            Ok(AlertPage {
                alerts: vec![],
                next: None,
            })
        }
        async fn record_acknowledgement(
            &self,
            _: &BatchWindow,
            _: &Acknowledgement,
        ) -> Result<(), StoreError> {
            Err(StoreError::Conflict)
        }
        async fn unsent_alerts(&self, _: i32) -> Result<Vec<QualityAlert>, StoreError> {
            Ok(vec![])
        }
        async fn alert_sent(&self, _: &AlertId) -> Result<(), StoreError> {
            Err(StoreError::Conflict)
        }
    }

    pub(crate) struct NoAlertQueue;

    impl AlertQueue for NoAlertQueue {
        async fn send(&self, _: &QualityAlert) -> Result<(), AlertNotSent> {
            Err(AlertNotSent("no queue in handler tests".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftercare::assessment::Assessment;
    use aftercare::case::{CaseDraft, NewCaseLine, NewCaseRequest, Sku};
    use aftercare::clock::FixedClock;
    use aftercare::complaint::Category;
    use aftercare::quality_alert::{AlertRule, BatchNo};
    use chrono::TimeZone;

    const REACTION: &str = "I got an allergic reaction after using the serum: red rash";
    const WRONG_ITEM: &str = "I received the wrong item, I ordered a different product";

    fn day(days: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + Duration::days(days)
    }

    /// A case about SERUM-30 opened when `clock` says.
    fn case(description: &str, clock: &FixedClock) -> Case {
        let draft = CaseDraft::parse(NewCaseRequest {
            order_id: "1001".into(),
            lines: vec![NewCaseLine {
                sku: "SERUM-30".into(),
                quantity: 1,
            }],
            description: description.into(),
            opened: None,
        })
        .unwrap();
        let now = clock.now();
        Case::open(
            draft,
            "c-1",
            Assessment::of_text(description, &Default::default(), now),
            now,
            &SlaPolicy::default(),
        )
    }

    /// One batch's window and what its cases did to it, as the store would keep it.
    struct Batch {
        window: BatchWindow,
        alerts: Vec<QualityAlert>,
    }

    impl Batch {
        fn new() -> Batch {
            Batch {
                window: BatchWindow::new(
                    Sku::parse("SERUM-30").unwrap(),
                    Some(BatchNo::parse("S2411").unwrap()),
                    0,
                ),
                alerts: vec![],
            }
        }

        /// Opens a case at the clock's instant, committing what it observed.
        fn open(&mut self, description: &str, clock: &FixedClock) -> Observed {
            let opening = case(description, clock);
            let observed = observe_in(
                &opening,
                std::slice::from_ref(&self.window),
                &AlertPolicy::default(),
                &SlaPolicy::default(),
                clock.now(),
            );
            if let Some(next) = observed.observation.windows.first() {
                assert_eq!(next.version, self.window.version + 1, "one version up");
                self.window = next.clone();
            }
            self.alerts.extend(observed.observation.alerts.clone());
            observed
        }
    }

    #[test]
    fn the_window_rolls_with_the_clock_and_a_new_crossing_after_acknowledgement_alerts_again() {
        let mut batch = Batch::new();
        // Reactions on days 0 and 3; by day 8 the first has left the 7-day window.
        for at in [0, 3] {
            batch.open(REACTION, &FixedClock(day(at)));
        }
        let late = batch.open(REACTION, &FixedClock(day(8)));
        assert!(batch.alerts.is_empty(), "day 0 left the window by day 8");
        assert!(late.observation.flag.is_none());
        assert_eq!(
            late.case.queue,
            Queue::Expert,
            "a reaction goes there anyway"
        );

        // Day 9: days 3, 8 and 9 are three within seven days.
        let crossing = batch.open(REACTION, &FixedClock(day(9)));
        assert_eq!(batch.alerts.len(), 1);
        let first = batch.alerts[0].clone();
        assert_eq!((first.rule, first.sequence), (AlertRule::CaseCount, 1));
        assert_eq!(first.cases.len(), 3);
        assert_eq!(first.cases[2].case_id, crossing.case.id);
        assert_eq!(first.counted_since, day(2));
        assert_eq!(first.window_days, 7);

        // A wrong item of the batch while the alert is open: expert queue, flagged, on the
        // expert queue's clock.
        let clock = FixedClock(day(9) + Duration::hours(2));
        let flagged = batch.open(WRONG_ITEM, &clock);
        assert_eq!(flagged.case.classification.category, Category::WrongItem);
        assert_eq!(flagged.case.queue, Queue::Expert);
        assert_eq!(
            flagged.case.sla,
            SlaPolicy::default().start(flagged.case.priority, Queue::Expert, clock.now())
        );
        let flag = flagged.observation.flag.expect("flagged");
        assert_eq!(flag.action, "quality_alert_flag");
        assert!(flag.at > clock.now(), "after the opening on the timeline");
        assert!(flag.note.unwrap().contains(&first.alert_id.to_string()));
        assert!(
            flagged.observation.windows.is_empty(),
            "a wrong item does not count"
        );
        assert_eq!(batch.alerts.len(), 1, "one alert, not one per case");

        // Acknowledged on day 10: the next wrong item stays with service.
        batch.window = acknowledge(
            &batch.window,
            first.alert_id,
            "expert:e-1",
            Some("batch on hold"),
            day(10),
        )
        .unwrap();
        let after = batch.open(WRONG_ITEM, &FixedClock(day(10) + Duration::hours(1)));
        assert_eq!(after.case.queue, Queue::Service);
        assert!(after.observation.flag.is_none());

        // Two new reactions plus the acknowledged ones still in the window: no new crossing.
        for at in [11, 12] {
            batch.open(REACTION, &FixedClock(day(at)));
        }
        assert_eq!(batch.alerts.len(), 1);
        // The third new one is.
        batch.open(REACTION, &FixedClock(day(13)));
        assert_eq!(batch.alerts.len(), 2);
        let second = &batch.alerts[1];
        assert_eq!(second.sequence, 2);
        assert_eq!(
            second.cases.iter().map(|c| c.at).collect::<Vec<_>>(),
            [day(11), day(12), day(13)]
        );
        assert_eq!(second.counted_since, day(10));
        assert_ne!(second.deduplication_id(), first.deduplication_id());
    }

    #[test]
    fn a_case_with_no_batch_on_record_reads_and_writes_nothing() {
        let opening = case(REACTION, &FixedClock(day(0)));
        let observed = observe_in(
            &opening,
            &[],
            &AlertPolicy::default(),
            &SlaPolicy::default(),
            day(0),
        );
        assert!(observed.observation.is_empty());
        assert_eq!(observed.case, opening);
    }
}
