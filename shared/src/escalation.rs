//! SLA escalation: what the sweep does to a case whose checkpoint has come.
//!
//! For each running target (first response, resolution), every stage whose instant has passed
//! and that was not reached before is reached now, in order:
//! - at risk (80 %): the assignee is warned (the queue, when nobody is assigned);
//! - breached (100 %): escalation level 1, the queue's supervisor is notified;
//! - escalated (200 %): escalation level 2, the head of service is notified and the case is
//!   raised to urgent, so it goes to the top of its queue.
//!
//! A sweep after an outage may find a case past several stages: each is recorded and notified
//! once, oldest first. Pure: the sweep writes the result with a version-conditional write, so
//! of two sweeps acting on one case only one records the steps.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::case::{Case, CaseStatus, Priority, Queue, TimelineEntry};
use crate::clock::rfc3339;
use crate::service_levels::{CounterChange, counter_changes};
use crate::sla::{SlaStage, SlaTarget};

/// The actor of the sweep's timeline entries.
pub const SWEEP_ACTOR: &str = "system:sla-escalation";

/// One stage reached by one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaStep {
    pub target: SlaTarget,
    pub stage: SlaStage,
    /// When the stage was due (not when the sweep noticed).
    pub due_at: DateTime<Utc>,
}

/// Who a notification is for. The brand's messaging integration maps roles and queues to
/// people, so staffing changes need no deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "role")]
pub enum Recipient {
    Assignee {
        id: String,
    },
    /// Nobody is assigned: whoever watches the queue.
    Queue {
        queue: Queue,
    },
    Supervisor {
        queue: Queue,
    },
    HeadOfService,
}

/// A message on the notifications queue. `notification_id` is unique per case, target and
/// stage; it is the queue's deduplication id, and consumers can rely on it too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaNotification {
    pub notification_id: String,
    /// `sla_at_risk`, `sla_breached`, `sla_escalated`.
    pub kind: String,
    pub case_id: String,
    pub queue: Queue,
    pub priority: Priority,
    pub target: SlaTarget,
    pub stage: SlaStage,
    pub escalation_level: u8,
    pub due_at: DateTime<Utc>,
    /// The target's deadline (100 %).
    pub deadline: DateTime<Utc>,
    pub recipient: Recipient,
    pub noticed_at: DateTime<Utc>,
}

/// A case changed by the sweep, with what to record and whom to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub case: Case,
    pub steps: Vec<SlaStep>,
    pub timeline: Vec<TimelineEntry>,
    pub notifications: Vec<SlaNotification>,
    /// What the change adds to the SLA overview's counters.
    pub counters: Vec<CounterChange>,
}

/// The steps due on `case` at `now`, applied; `None` when nothing is due (the index entry was
/// stale, or the clock stopped since).
pub fn escalate(case: &Case, now: DateTime<Utc>) -> Option<Escalation> {
    let mut steps: Vec<SlaStep> = case
        .running_sla_targets()
        .into_iter()
        .flat_map(|target| {
            let clock = case.sla.clock(target);
            clock.stages_due(now).into_iter().map(move |stage| SlaStep {
                target,
                stage,
                due_at: clock.instant_of(stage),
            })
        })
        .collect();
    if steps.is_empty() {
        return None;
    }
    steps.sort_by_key(|step| (step.due_at, step.target, step.stage));
    let mut next = case.clone();
    let mut timeline = Vec::with_capacity(steps.len());
    let mut notifications = Vec::with_capacity(steps.len());
    for step in &steps {
        next.sla.clock_mut(step.target).reached = Some(step.stage);
        next.escalation_level = next.escalation_level.max(step.stage.escalation_level());
        if step.stage == SlaStage::Escalated {
            next.priority = Priority::Urgent;
        }
        let deadline = next.sla.clock(step.target).due_at;
        timeline.push(TimelineEntry {
            at: now,
            actor: SWEEP_ACTOR.into(),
            action: format!("sla_{}", step.stage.as_str()),
            note: Some(format!(
                "{} due {}",
                step.target.as_str().replace('_', " "),
                rfc3339(deadline)
            )),
        });
        let recipient = match step.stage {
            SlaStage::AtRisk => match &case.assignee {
                Some(id) => Recipient::Assignee { id: id.clone() },
                None => Recipient::Queue { queue: case.queue },
            },
            SlaStage::Breached => Recipient::Supervisor { queue: case.queue },
            SlaStage::Escalated => Recipient::HeadOfService,
        };
        notifications.push(SlaNotification {
            notification_id: format!(
                "{}:{}:{}",
                case.id,
                step.target.as_str(),
                step.stage.as_str()
            ),
            kind: format!("sla_{}", step.stage.as_str()),
            case_id: case.id.to_string(),
            queue: case.queue,
            priority: next.priority,
            target: step.target,
            stage: step.stage,
            escalation_level: next.escalation_level,
            due_at: step.due_at,
            deadline,
            recipient,
            noticed_at: now,
        });
    }
    next.version = case.version + 1;
    debug_assert!(matches!(
        next.status,
        CaseStatus::New | CaseStatus::InProgress
    ));
    Some(Escalation {
        counters: counter_changes(Some(case), &next),
        case: next,
        steps,
        timeline,
        notifications,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assessment::Assessment;
    use crate::case::{CaseDraft, NewCaseLine, NewCaseRequest};
    use crate::sla::SlaPolicy;
    use chrono::{Duration, TimeZone};

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 11, 8, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn case() -> Case {
        let draft = CaseDraft::parse(NewCaseRequest {
            order_id: "o".into(),
            lines: vec![NewCaseLine {
                sku: "SERUM-30".into(),
                quantity: 1,
            }],
            description: "the serum bottle arrived broken and leaking".into(),
            opened: None,
        })
        .unwrap();
        Case::open(
            draft,
            "c-1",
            Assessment::of_text("the serum bottle arrived broken", &Default::default(), t(0)),
            t(0),
            &SlaPolicy::default(),
        )
    }

    fn stages(escalation: &Escalation) -> Vec<(SlaTarget, SlaStage)> {
        escalation
            .steps
            .iter()
            .map(|s| (s.target, s.stage))
            .collect()
    }

    #[test]
    fn at_eighty_percent_exactly_the_case_is_at_risk_and_not_a_moment_before() {
        let case = case();
        let at_risk = t(48);
        assert_eq!(escalate(&case, at_risk - Duration::milliseconds(1)), None);
        let escalation = escalate(&case, at_risk).unwrap();
        assert_eq!(
            stages(&escalation),
            vec![(SlaTarget::FirstResponse, SlaStage::AtRisk)]
        );
        assert_eq!(escalation.case.escalation_level, 0);
        assert_eq!(
            escalation.notifications[0].recipient,
            Recipient::Queue { queue: case.queue }
        );
        assert_eq!(escalation.case.version, case.version + 1);
        // Done once: the same instant again finds nothing.
        assert_eq!(escalate(&escalation.case, at_risk), None);
        assert_eq!(escalation.case.next_sla_checkpoint(), Some(t(60)));
    }

    #[test]
    fn a_breach_goes_to_the_supervisor_and_twice_the_time_to_the_head_of_service() {
        let mut case = case();
        case.assignee = Some("agent-7".into());
        let risk = escalate(&case, t(50)).unwrap();
        assert_eq!(
            risk.notifications[0].recipient,
            Recipient::Assignee {
                id: "agent-7".into()
            }
        );
        let breach = escalate(&risk.case, t(60)).unwrap();
        assert_eq!(
            stages(&breach),
            vec![(SlaTarget::FirstResponse, SlaStage::Breached)]
        );
        assert_eq!(breach.case.escalation_level, 1);
        assert_eq!(
            breach.notifications[0].recipient,
            Recipient::Supervisor { queue: case.queue }
        );
        assert_eq!(breach.case.priority, Priority::Normal);
        let escalated = escalate(&breach.case, t(120)).unwrap();
        assert_eq!(escalated.case.escalation_level, 2);
        assert_eq!(escalated.case.priority, Priority::Urgent, "raised");
        assert_eq!(
            escalated.notifications[0].recipient,
            Recipient::HeadOfService
        );
        assert_eq!(
            escalated.notifications[0].notification_id,
            format!("{}:first_response:escalated", case.id)
        );
        // Priority raised, but the deadlines stay the promised ones.
        assert_eq!(escalated.case.sla, {
            let mut sla = breach.case.sla;
            sla.first_response.reached = Some(SlaStage::Escalated);
            sla
        });
    }

    #[test]
    fn a_sweep_after_an_outage_records_every_missed_stage_once_in_order() {
        let case = case();
        let late = escalate(&case, t(20 * 60)).unwrap();
        assert_eq!(
            stages(&late),
            vec![
                (SlaTarget::FirstResponse, SlaStage::AtRisk),
                (SlaTarget::FirstResponse, SlaStage::Breached),
                (SlaTarget::FirstResponse, SlaStage::Escalated),
                (SlaTarget::Resolution, SlaStage::AtRisk),
            ]
        );
        assert_eq!(late.timeline.len(), 4);
        assert_eq!(late.notifications.len(), 4);
        assert_eq!(late.case.version, case.version + 1, "one change, one write");
        assert_eq!(late.case.next_sla_checkpoint(), Some(t(24 * 60)));
    }

    #[test]
    fn nothing_happens_to_a_waiting_or_resolved_case() {
        let mut waiting = case();
        waiting.status = CaseStatus::WaitingOnCustomer;
        assert_eq!(escalate(&waiting, t(10_000)), None);
        let mut resolved = case();
        resolved.status = CaseStatus::Resolved;
        assert_eq!(escalate(&resolved, t(10_000)), None);
    }

    #[test]
    fn a_first_response_stops_its_clock_but_not_the_resolution_s() {
        let mut answered = case();
        answered.status = CaseStatus::InProgress;
        answered.first_response_at = Some(t(30));
        assert_eq!(escalate(&answered, t(120)), None);
        let escalation = escalate(&answered, t(24 * 60 * 4 / 5)).unwrap();
        assert_eq!(
            stages(&escalation),
            vec![(SlaTarget::Resolution, SlaStage::AtRisk)]
        );
    }
}
