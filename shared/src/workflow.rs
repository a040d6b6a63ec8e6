//! The case state machine: every action staff or the customer take on a case, who may take
//! it, from which states, and what it does to the SLA clock. Pure: the handler reads the
//! case, this decides, the store writes the result only if nobody changed the case meanwhile.
//!
//! ```text
//!  new ──reply(staff)──▶ in_progress ──wait──▶ waiting_on_customer ──reply(customer)──┐
//!   │                     ▲   │                       │                                │
//!   │                     └───┼───────────────────────┴────────────────────────────────┘
//!   └──resolve──────────────▶ resolved ──close──▶ closed
//!                             │  ▲                 │
//!        reopen / customer reply └──┴── reopen ◀───┘  (back to in_progress)
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::{Caller, Role};
use crate::case::{Case, CaseStatus, InvalidField, TimelineEntry};
use crate::remedy::Remedy;
use crate::sla::SlaPolicy;

/// The most a reply or note may hold, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// What someone does to a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseAction {
    Reply {
        message: String,
    },
    Assign {
        assignee: String,
    },
    WaitOnCustomer {
        message: Option<String>,
    },
    Resolve {
        remedy: Remedy,
        note: Option<String>,
        /// What a refund pays, in minor units: required for a partial refund (agreed with the
        /// customer); for a full refund at most what the claimed units cost, which it
        /// defaults to; refused for any other remedy.
        amount_minor: Option<i64>,
    },
    Close,
    Reopen {
        reason: String,
    },
}

impl CaseAction {
    pub fn name(&self) -> &'static str {
        match self {
            CaseAction::Reply { .. } => "replied",
            CaseAction::Assign { .. } => "assigned",
            CaseAction::WaitOnCustomer { .. } => "waiting_on_customer",
            CaseAction::Resolve { .. } => "resolved",
            CaseAction::Close => "closed",
            CaseAction::Reopen { .. } => "reopened",
        }
    }
}

/// How a case was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub remedy: Remedy,
    /// For a refund: what will be refunded (minor units): the remedy matching's amount for
    /// the claimed units, or what staff set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    /// The refund request a refund remedy opened (finance decides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The caller's role may not take this action.
    #[error("{0}")]
    NotAllowed(String),
    /// Not from the case's current state.
    #[error("a case that is {current:?} cannot be {action}")]
    IllegalTransition {
        current: CaseStatus,
        action: &'static str,
    },
    #[error(transparent)]
    Invalid(#[from] InvalidField),
}

fn text(field: &'static str, raw: &str) -> Result<String, InvalidField> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(InvalidField {
            field,
            reason: "must not be empty".into(),
        });
    }
    if trimmed.chars().count() > MAX_MESSAGE_CHARS {
        return Err(InvalidField {
            field,
            reason: format!("must be at most {MAX_MESSAGE_CHARS} characters"),
        });
    }
    Ok(trimmed.to_owned())
}

/// Takes `action` on `case` as `actor` at `now`: the changed case (version bumped) and its
/// timeline entry, or why not.
pub fn apply(
    case: &Case,
    action: &CaseAction,
    actor: &Caller,
    now: DateTime<Utc>,
    sla: &SlaPolicy,
) -> Result<(Case, TimelineEntry), Refusal> {
    use CaseStatus::*;
    let staff = actor.role.is_case_staff();
    let owner = actor.role == Role::Customer && actor.subject == case.customer_id;
    let illegal = || Refusal::IllegalTransition {
        current: case.status,
        action: action.name(),
    };
    let mut next = case.clone();
    let mut note = None;
    match action {
        CaseAction::Reply { message } => {
            note = Some(text("message", message)?);
            match (case.status, staff, owner) {
                (New, true, _) => {
                    next.status = InProgress;
                    first_response(&mut next, now, sla);
                }
                (InProgress | WaitingOnCustomer, true, _) | (New | InProgress, _, true) => {}
                (WaitingOnCustomer, _, true) => resume(&mut next, now, sla),
                // A customer writing on a solved case reopens it, as helpdesks do.
                (Resolved, _, true) => reopen(&mut next, now, sla),
                (Resolved | Closed, true, _) | (Closed, _, true) => return Err(illegal()),
                _ => {
                    return Err(Refusal::NotAllowed(
                        "Only the case's customer and staff reply on it.".into(),
                    ));
                }
            }
        }
        CaseAction::Assign { assignee } => {
            if !staff {
                return Err(Refusal::NotAllowed("Only staff assign cases.".into()));
            }
            let assignee = text("assignee", assignee)?;
            if assignee.chars().count() > 128 {
                return Err(InvalidField {
                    field: "assignee",
                    reason: "must be at most 128 characters".into(),
                }
                .into());
            }
            if !matches!(case.status, New | InProgress | WaitingOnCustomer) {
                return Err(illegal());
            }
            note = Some(format!("to {assignee}"));
            next.assignee = Some(assignee);
        }
        CaseAction::WaitOnCustomer { message } => {
            if !staff {
                return Err(Refusal::NotAllowed(
                    "Only staff put a case on hold for the customer.".into(),
                ));
            }
            note = message.as_deref().map(|m| text("message", m)).transpose()?;
            if case.status != InProgress {
                return Err(illegal());
            }
            next.status = WaitingOnCustomer;
            next.waiting_since = Some(now);
        }
        CaseAction::Resolve {
            remedy,
            note: resolution_note,
            amount_minor,
        } => {
            if !staff {
                return Err(Refusal::NotAllowed("Only staff resolve cases.".into()));
            }
            let resolution_note = resolution_note
                .as_deref()
                .map(|n| text("note", n))
                .transpose()?;
            let Some(eligible) = case.remedies.eligible.iter().find(|e| e.remedy == *remedy) else {
                return Err(InvalidField {
                    field: "remedy",
                    reason: format!("{remedy:?} is not among this case's eligible remedies"),
                }
                .into());
            };
            let full_refund_minor = case
                .remedies
                .eligible
                .iter()
                .find(|e| e.remedy == Remedy::Refund)
                .and_then(|e| e.amount_minor)
                .or(eligible.amount_minor);
            let amount_minor = refund_amount(*remedy, full_refund_minor, *amount_minor)?;
            match case.status {
                New => first_response(&mut next, now, sla),
                InProgress => {}
                WaitingOnCustomer => resume(&mut next, now, sla),
                Resolved | Closed => return Err(illegal()),
            }
            next.status = Resolved;
            next.sla.resolution_outcome =
                Some(next.sla.resolution.met_at(sla.calendar(case.queue), now));
            next.resolution = Some(Resolution {
                remedy: *remedy,
                amount_minor,
                refund_id: None,
                note: resolution_note.clone(),
                by: actor_name(actor),
                at: now,
            });
            note = Some(format!(
                "{remedy:?}{}",
                resolution_note
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ));
        }
        CaseAction::Close => {
            if !(staff || owner) {
                return Err(Refusal::NotAllowed(
                    "Only the case's customer and staff close it.".into(),
                ));
            }
            if case.status != Resolved {
                return Err(illegal());
            }
            next.status = Closed;
        }
        CaseAction::Reopen { reason } => {
            if !(staff || owner) {
                return Err(Refusal::NotAllowed(
                    "Only the case's customer and staff reopen it.".into(),
                ));
            }
            note = Some(text("reason", reason)?);
            if !matches!(case.status, Resolved | Closed) {
                return Err(illegal());
            }
            reopen(&mut next, now, sla);
        }
    }
    next.version = case.version + 1;
    let entry = TimelineEntry {
        at: now,
        actor: actor_name(actor),
        action: action.name().into(),
        note,
    };
    Ok((next, entry))
}

/// The amount a resolution pays: a full refund defaults to what the claimed units cost and
/// may be lowered, never raised; a partial refund needs its agreed amount, at most the full
/// refund's; other remedies pay nothing. The order and earlier refunds are checked again when
/// the refund is requested.
fn refund_amount(
    remedy: Remedy,
    full_refund_minor: Option<i64>,
    requested: Option<i64>,
) -> Result<Option<i64>, InvalidField> {
    let invalid = |reason: String| InvalidField {
        field: "amount_minor",
        reason,
    };
    match (remedy, requested) {
        (Remedy::Refund | Remedy::PartialRefund, Some(amount)) if amount <= 0 => {
            Err(invalid("must be a positive amount in minor units".into()))
        }
        (Remedy::Refund | Remedy::PartialRefund, Some(amount))
            if full_refund_minor.is_some_and(|full| amount > full) =>
        {
            Err(invalid(format!(
                "must be at most {} (what the claimed units cost)",
                full_refund_minor.unwrap_or_default()
            )))
        }
        (Remedy::Refund, requested) => Ok(requested.or(full_refund_minor)),
        (Remedy::PartialRefund, Some(amount)) => Ok(Some(amount)),
        (Remedy::PartialRefund, None) => Err(invalid(
            "a partial refund needs the amount agreed with the customer".into(),
        )),
        (_, Some(_)) => Err(invalid(
            "only a refund or partial refund pays an amount".into(),
        )),
        (_, None) => Ok(None),
    }
}

fn actor_name(actor: &Caller) -> String {
    format!("{}:{}", actor.role, actor.subject)
}

/// Staff answered for the first time: the first-response target is met, and how it was met
/// is kept for the case's SLA statistics.
fn first_response(case: &mut Case, now: DateTime<Utc>, sla: &SlaPolicy) {
    case.first_response_at = Some(now);
    case.sla.first_response_outcome = Some(
        case.sla
            .first_response
            .met_at(sla.calendar(case.queue), now),
    );
}

/// The customer answered: the paused resolution clock runs again, each checkpoint moved by
/// the business time spent waiting.
fn resume(case: &mut Case, now: DateTime<Utc>, sla: &SlaPolicy) {
    if let Some(since) = case.waiting_since.take() {
        case.sla
            .resolution
            .resume(sla.calendar(case.queue), since, now);
    }
    case.status = CaseStatus::InProgress;
}

/// Back to work with a fresh resolution target.
fn reopen(case: &mut Case, now: DateTime<Utc>, sla: &SlaPolicy) {
    case.status = CaseStatus::InProgress;
    case.resolution = None;
    case.waiting_since = None;
    case.sla.resolution = sla.restart_resolution(case.priority, case.queue, now);
    case.sla.resolution_outcome = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assessment::Assessment;
    use crate::case::{CaseDraft, NewCaseLine, NewCaseRequest};
    use CaseStatus::*;
    use chrono::{Duration, TimeZone};

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 11, 8, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn case(status: CaseStatus) -> Case {
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
        let mut case = Case::open(
            draft,
            "c-1",
            Assessment::of_text(
                "the serum bottle arrived broken and leaking",
                &Default::default(),
                t(0),
            ),
            t(0),
            &SlaPolicy::default(),
        );
        case.status = status;
        case
    }

    fn who(role: Role, subject: &str) -> Caller {
        Caller {
            subject: subject.into(),
            role,
        }
    }

    fn agent() -> Caller {
        who(Role::Agent, "a-1")
    }

    fn owner() -> Caller {
        who(Role::Customer, "c-1")
    }

    fn reply() -> CaseAction {
        CaseAction::Reply {
            message: "We are sending a new bottle today.".into(),
        }
    }

    fn go(case: &Case, action: CaseAction, actor: &Caller, at: i64) -> Result<Case, Refusal> {
        apply(case, &action, actor, t(at), &SlaPolicy::default()).map(|(c, _)| c)
    }

    #[test]
    fn the_first_staff_reply_meets_the_first_response_target() {
        let answered = go(&case(New), reply(), &agent(), 20).unwrap();
        assert_eq!(
            (answered.status, answered.first_response_at),
            (InProgress, Some(t(20)))
        );
        assert_eq!(
            answered.sla.first_response_outcome,
            Some(crate::sla::SlaOutcome {
                minutes_taken: 20,
                minutes_to_spare: 40
            })
        );
        assert_eq!(answered.version, 2);
        // A customer's own follow-up does not count as a response.
        let follow_up = go(&case(New), reply(), &owner(), 5).unwrap();
        assert_eq!((follow_up.status, follow_up.first_response_at), (New, None));
    }

    #[test]
    fn waiting_pauses_the_resolution_clock_and_the_customer_s_answer_resumes_it() {
        let working = go(&case(New), reply(), &agent(), 10).unwrap();
        let clock = working.sla.resolution;
        let waiting = go(
            &working,
            CaseAction::WaitOnCustomer {
                message: Some("Please send a photo.".into()),
            },
            &agent(),
            30,
        )
        .unwrap();
        assert_eq!(waiting.status, WaitingOnCustomer);
        assert_eq!(waiting.next_sla_checkpoint(), None, "paused");
        let resumed = go(&waiting, reply(), &owner(), 30 + 120).unwrap();
        assert_eq!(resumed.status, InProgress);
        for (before, after) in [
            (clock.at_risk_at, resumed.sla.resolution.at_risk_at),
            (clock.due_at, resumed.sla.resolution.due_at),
            (clock.escalate_at, resumed.sla.resolution.escalate_at),
        ] {
            assert_eq!(
                after,
                before + Duration::minutes(120),
                "moved by the two hours waited"
            );
        }
        assert_eq!(resumed.waiting_since, None);
    }

    #[test]
    fn a_refund_pays_at_most_what_the_claimed_units_cost_and_a_partial_one_needs_its_amount() {
        let mut working = go(&case(New), reply(), &agent(), 10).unwrap();
        for eligible in &mut working.remedies.eligible {
            if eligible.remedy == Remedy::Refund {
                eligible.amount_minor = Some(19_900);
            }
        }
        let resolve = |remedy, amount_minor| CaseAction::Resolve {
            remedy,
            note: None,
            amount_minor,
        };
        let paid =
            |action| go(&working, action, &agent(), 20).map(|c| c.resolution.unwrap().amount_minor);
        assert_eq!(paid(resolve(Remedy::Refund, None)), Ok(Some(19_900)));
        assert_eq!(
            paid(resolve(Remedy::Refund, Some(10_000))),
            Ok(Some(10_000))
        );
        assert_eq!(
            paid(resolve(Remedy::PartialRefund, Some(19_900))),
            Ok(Some(19_900))
        );
        assert_eq!(paid(resolve(Remedy::Replacement, None)), Ok(None));
        for refused in [
            resolve(Remedy::Refund, Some(19_901)),
            resolve(Remedy::Refund, Some(0)),
            resolve(Remedy::PartialRefund, None),
            resolve(Remedy::PartialRefund, Some(-1)),
            resolve(Remedy::Replacement, Some(100)),
        ] {
            match paid(refused.clone()) {
                Err(Refusal::Invalid(invalid)) => assert_eq!(invalid.field, "amount_minor"),
                other => panic!("{refused:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn resolving_needs_staff_and_an_eligible_remedy() {
        let working = go(&case(New), reply(), &agent(), 10).unwrap();
        let refund = CaseAction::Resolve {
            remedy: Remedy::Refund,
            note: None,
            amount_minor: None,
        };
        assert!(matches!(
            go(&working, refund.clone(), &owner(), 20),
            Err(Refusal::NotAllowed(_))
        ));
        let not_offered = CaseAction::Resolve {
            remedy: Remedy::Exchange,
            note: None,
            amount_minor: None,
        };
        assert!(matches!(
            go(&working, not_offered, &agent(), 20),
            Err(Refusal::Invalid(_))
        ));
        let resolved = go(&working, refund, &agent(), 20).unwrap();
        assert_eq!(resolved.status, Resolved);
        let resolution = resolved.resolution.unwrap();
        assert_eq!(
            (resolution.remedy, resolution.by.as_str(), resolution.at),
            (Remedy::Refund, "agent:a-1", t(20))
        );
    }

    #[test]
    fn every_illegal_transition_is_refused_with_the_current_state() {
        let cases: Vec<(CaseStatus, CaseAction, Caller)> = vec![
            (New, CaseAction::WaitOnCustomer { message: None }, agent()),
            (
                WaitingOnCustomer,
                CaseAction::WaitOnCustomer { message: None },
                agent(),
            ),
            (New, CaseAction::Close, agent()),
            (InProgress, CaseAction::Close, owner()),
            (
                New,
                CaseAction::Reopen {
                    reason: "again".into(),
                },
                agent(),
            ),
            (
                InProgress,
                CaseAction::Reopen {
                    reason: "again".into(),
                },
                owner(),
            ),
            (Resolved, reply(), agent()),
            (Closed, reply(), owner()),
            (
                Resolved,
                CaseAction::Assign {
                    assignee: "a-2".into(),
                },
                agent(),
            ),
            (
                Closed,
                CaseAction::Resolve {
                    remedy: Remedy::Refund,
                    note: None,
                    amount_minor: None,
                },
                agent(),
            ),
        ];
        for (status, action, actor) in cases {
            let refusal = go(&case(status), action.clone(), &actor, 5).unwrap_err();
            assert_eq!(
                refusal,
                Refusal::IllegalTransition {
                    current: status,
                    action: action.name()
                },
                "{status:?} {action:?}"
            );
        }
    }

    #[test]
    fn others_may_not_touch_the_case() {
        let stranger = who(Role::Customer, "c-2");
        assert!(matches!(
            go(&case(New), reply(), &stranger, 1),
            Err(Refusal::NotAllowed(_))
        ));
        assert!(matches!(
            go(
                &case(Resolved),
                CaseAction::Close,
                &who(Role::Finance, "f"),
                1
            ),
            Err(Refusal::NotAllowed(_))
        ));
        assert!(matches!(
            go(
                &case(New),
                CaseAction::Assign {
                    assignee: "x".into()
                },
                &owner(),
                1
            ),
            Err(Refusal::NotAllowed(_))
        ));
    }

    #[test]
    fn close_and_reopen_by_owner_or_staff_with_a_fresh_target() {
        let closed = go(&case(Resolved), CaseAction::Close, &owner(), 60).unwrap();
        assert_eq!(closed.status, Closed);
        let reopened = go(
            &closed,
            CaseAction::Reopen {
                reason: "It leaked again.".into(),
            },
            &owner(),
            600,
        )
        .unwrap();
        assert_eq!(reopened.status, InProgress);
        assert_eq!(reopened.sla.resolution.due_at, t(600) + Duration::hours(24));
        assert_eq!(reopened.sla.resolution.reached, None);
        // A customer writing on a resolved case reopens it too.
        assert_eq!(
            go(&case(Resolved), reply(), &owner(), 61).unwrap().status,
            InProgress
        );
    }

    #[test]
    fn messages_are_required_and_bounded() {
        let empty = CaseAction::Reply {
            message: "   ".into(),
        };
        assert!(matches!(
            go(&case(New), empty, &agent(), 1),
            Err(Refusal::Invalid(_))
        ));
        let long = CaseAction::Reply {
            message: "字".repeat(MAX_MESSAGE_CHARS + 1),
        };
        assert!(matches!(
            go(&case(New), long, &agent(), 1),
            Err(Refusal::Invalid(_))
        ));
        let assigned = go(
            &case(New),
            CaseAction::Assign {
                assignee: "expert-3".into(),
            },
            &agent(),
            1,
        )
        .unwrap();
        assert_eq!(
            (assigned.status, assigned.assignee.as_deref()),
            (New, Some("expert-3"))
        );
    }
}
