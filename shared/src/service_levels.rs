//! What the supervisors' SLA overview counts, kept at write time so reading it never scans:
//!
//! - per queue, how many open cases are at risk or breached *now*: a gauge item per queue
//!   (`sla-standing#<queue>`, period `now`), moved by every case write that changes a case's
//!   standing, in the same transaction as the case;
//! - per queue, measure and UTC day, the response-time histogram of [`crate::response_times`]
//!   (`response-times#<queue>#<measure>`, period `YYYY-MM-DD`), incremented when a case gets
//!   its first response or is resolved.
//!
//! Pure: [`counter_changes`] says what a case change adds to which counter item; the store
//! writes it.

use serde::Serialize;

use crate::case::{Case, CaseStatus, Queue};
use crate::response_times::{Measure, increments};
use crate::sla::{SlaOutcome, SlaStage};

/// The period of the gauge items.
pub const NOW: &str = "now";

/// Where an open case stands against its promises: the worst stage reached by a target not
/// yet met. A case waiting on the customer keeps its standing; a resolved or closed one has
/// none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    OnTrack,
    AtRisk,
    Breached,
}

impl Standing {
    /// The gauge attribute counting cases of this standing (none for on track).
    pub fn counter(self) -> Option<&'static str> {
        match self {
            Standing::OnTrack => None,
            Standing::AtRisk => Some("at_risk"),
            Standing::Breached => Some("breached"),
        }
    }
}

pub fn standing(case: &Case) -> Option<Standing> {
    if matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed) {
        return None;
    }
    let unmet = [
        case.first_response_at
            .is_none()
            .then_some(case.sla.first_response.reached),
        Some(case.sla.resolution.reached),
    ];
    let worst = unmet.into_iter().flatten().flatten().max();
    Some(match worst {
        None => Standing::OnTrack,
        Some(SlaStage::AtRisk) => Standing::AtRisk,
        Some(SlaStage::Breached | SlaStage::Escalated) => Standing::Breached,
    })
}

/// The gauge item of a queue.
pub fn standing_series(queue: Queue) -> String {
    format!("sla-standing#{}", queue.as_str())
}

/// The histogram items of a queue and measure, one per UTC day.
pub fn response_time_series(queue: Queue, measure: Measure) -> String {
    format!("response-times#{}#{}", queue.as_str(), measure.as_str())
}

/// Atomic additions to one counter item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterChange {
    pub series: String,
    pub period: String,
    /// Attribute and amount; at most one entry per attribute.
    pub adds: Vec<(String, i64)>,
}

/// What changing `before` into `after` adds to the counters (`before` is `None` for a new
/// case). At most one change per item, as a DynamoDB transaction allows.
pub fn counter_changes(before: Option<&Case>, after: &Case) -> Vec<CounterChange> {
    let mut changes: Vec<CounterChange> = Vec::new();
    let mut add = |series: String, period: String, attribute: &str, amount: i64| match changes
        .iter_mut()
        .find(|c| c.series == series && c.period == period)
    {
        Some(change) => match change.adds.iter_mut().find(|(a, _)| a == attribute) {
            Some((_, total)) => *total += amount,
            None => change.adds.push((attribute.to_owned(), amount)),
        },
        None => changes.push(CounterChange {
            series,
            period,
            adds: vec![(attribute.to_owned(), amount)],
        }),
    };
    let was = before.and_then(|case| standing(case).map(|s| (case.queue, s)));
    let is = standing(after).map(|s| (after.queue, s));
    if was != is {
        for (sign, side) in [(-1, was), (1, is)] {
            if let Some((queue, standing)) = side
                && let Some(counter) = standing.counter()
            {
                add(standing_series(queue), NOW.into(), counter, sign);
            }
        }
    }
    let newly = |old: Option<SlaOutcome>, new: Option<SlaOutcome>| match (old, new) {
        (None, Some(outcome)) => Some(outcome),
        _ => None,
    };
    let observations = [
        (
            Measure::FirstResponse,
            newly(
                before.and_then(|c| c.sla.first_response_outcome),
                after.sla.first_response_outcome,
            ),
            after.first_response_at,
        ),
        (
            Measure::Resolution,
            newly(
                before.and_then(|c| c.sla.resolution_outcome),
                after.sla.resolution_outcome,
            ),
            after.resolution.as_ref().map(|r| r.at),
        ),
    ];
    for (measure, outcome, at) in observations {
        if let (Some(outcome), Some(at)) = (outcome, at) {
            let day = at.format("%Y-%m-%d").to_string();
            for (attribute, amount) in increments(outcome.minutes_taken, outcome.within_target()) {
                add(
                    response_time_series(after.queue, measure),
                    day.clone(),
                    attribute,
                    amount,
                );
            }
        }
    }
    changes.retain(|c| c.adds.iter().any(|(_, n)| *n != 0));
    for change in &mut changes {
        change.adds.retain(|(_, n)| *n != 0);
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assessment::Assessment;
    use crate::case::{CaseDraft, NewCaseLine, NewCaseRequest};
    use crate::sla::SlaPolicy;
    use chrono::{DateTime, Duration, TimeZone, Utc};

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

    fn gauge(changes: &[CounterChange]) -> Vec<(String, i64)> {
        changes
            .iter()
            .filter(|c| c.period == NOW)
            .flat_map(|c| c.adds.clone())
            .collect()
    }

    #[test]
    fn a_new_case_is_on_track_and_counts_nowhere() {
        assert_eq!(counter_changes(None, &case()), vec![]);
        assert_eq!(standing(&case()), Some(Standing::OnTrack));
    }

    #[test]
    fn moving_from_at_risk_to_breached_moves_one_count_on_one_item() {
        let open = case();
        let risky = crate::escalation::escalate(&open, t(50)).unwrap().case;
        assert_eq!(
            counter_changes(Some(&open), &risky),
            vec![CounterChange {
                series: "sla-standing#service".into(),
                period: NOW.into(),
                adds: vec![("at_risk".into(), 1)]
            }]
        );
        let breached = crate::escalation::escalate(&risky, t(61)).unwrap().case;
        assert_eq!(
            gauge(&counter_changes(Some(&risky), &breached)),
            vec![("at_risk".into(), -1), ("breached".into(), 1)]
        );
        // Escalated is still breached: no change.
        let escalated = crate::escalation::escalate(&breached, t(121)).unwrap().case;
        assert_eq!(counter_changes(Some(&breached), &escalated), vec![]);
    }

    #[test]
    fn a_late_first_response_leaves_the_breached_count_and_lands_in_the_histogram() {
        let breached = crate::escalation::escalate(&case(), t(61)).unwrap().case;
        let mut answered = breached.clone();
        answered.status = CaseStatus::InProgress;
        answered.first_response_at = Some(t(75));
        answered.sla.first_response_outcome = Some(SlaOutcome {
            minutes_taken: 75,
            minutes_to_spare: -15,
        });
        let changes = counter_changes(Some(&breached), &answered);
        assert_eq!(gauge(&changes), vec![("breached".into(), -1)]);
        let histogram = changes
            .iter()
            .find(|c| c.series == "response-times#service#first_response")
            .unwrap();
        assert_eq!(histogram.period, "2026-11-11");
        assert_eq!(
            histogram.adds,
            vec![("count".into(), 1), ("le_90".into(), 1)],
            "within_target adds 0 and is left out"
        );
    }

    #[test]
    fn resolving_removes_the_case_from_the_gauges() {
        let risky = crate::escalation::escalate(&case(), t(50)).unwrap().case;
        let mut resolved = risky.clone();
        resolved.status = CaseStatus::Resolved;
        assert_eq!(standing(&resolved), None);
        assert_eq!(
            gauge(&counter_changes(Some(&risky), &resolved)),
            vec![("at_risk".into(), -1)]
        );
    }
}
