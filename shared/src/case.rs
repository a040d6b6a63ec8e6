//! The after-sales case: what a customer asks for, parsed at the edge into types that cannot
//! hold an invalid value.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::assessment::Assessment;
use crate::classify::Classification;
use crate::evidence::CasePhotos;
use crate::remedy::RemedyDecision;
use crate::sla::{SlaClocks, SlaPolicy, SlaTarget};
use crate::workflow::Resolution;

/// Why a piece of a case request is not acceptable. `field` names the JSON field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidField {
    pub field: &'static str,
    pub reason: String,
}

impl InvalidField {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

/// A case's id: a ULID, so ids sort by the time the case was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseId(Ulid);

impl CaseId {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        CaseId(Ulid::new())
    }

    pub fn from_instant(at: DateTime<Utc>) -> Self {
        CaseId(Ulid::from_datetime(at.into()))
    }

    pub(crate) fn random_bits(&self) -> u128 {
        self.0.random()
    }

    /// The smallest id that can exist at this id's instant: the lower bound of "opened since".
    pub fn lowest_at_instant(&self) -> String {
        Ulid::from_parts(self.0.timestamp_ms(), 0).to_string()
    }
}

impl FromStr for CaseId {
    type Err = InvalidField;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ulid::from_string(raw)
            .map(CaseId)
            .map_err(|_| InvalidField::new("id", "is not a case id"))
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A storefront identifier (order id, SKU, customer id): printable, bounded, no surrounding space.
fn identifier(field: &'static str, raw: &str, max: usize) -> Result<String, InvalidField> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(InvalidField::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(InvalidField::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(InvalidField::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(String);

impl OrderId {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        identifier("order_id", raw, 128).map(OrderId)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        identifier("lines[].sku", raw, 64).map(Sku)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Units of one order line a case concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: u32 = 999;
    pub fn parse(raw: i64) -> Result<Self, InvalidField> {
        u32::try_from(raw)
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(Quantity)
            .ok_or_else(|| {
                InvalidField::new(
                    "lines[].quantity",
                    format!("must be from 1 to {}", Self::MAX),
                )
            })
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The customer's own words, in Chinese, English or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 2_000;
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidField::new("description", "must not be empty"));
        }
        // Characters, not bytes: 2,000 Chinese characters are 6,000 bytes of UTF-8.
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(InvalidField::new(
                "description",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Description(trimmed.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Opened, no staff reply yet: the first-response clock runs.
    New,
    /// Staff replied; the resolution clock runs.
    InProgress,
    /// Waiting on the customer: the resolution clock is paused.
    WaitingOnCustomer,
    Resolved,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Normal,
    Urgent,
}

/// The work queue a case waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Queue {
    /// Customer-service agents.
    Service,
    /// Skin-care experts: adverse reactions and quality defects.
    Expert,
}

impl Queue {
    pub const ALL: [Queue; 2] = [Queue::Service, Queue::Expert];

    pub fn as_str(self) -> &'static str {
        match self {
            Queue::Service => "service",
            Queue::Expert => "expert",
        }
    }

    /// The queue of a name as [`Queue::as_str`] spells it.
    pub fn named(name: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|queue| queue.as_str() == name)
    }
}

/// A customer's request to open a case, as the API receives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCaseRequest {
    pub order_id: String,
    pub lines: Vec<NewCaseLine>,
    pub description: String,
    #[serde(default)]
    pub opened: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCaseLine {
    pub sku: String,
    pub quantity: i64,
}

/// A request to open a case that has passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseDraft {
    pub order_id: OrderId,
    pub lines: Vec<CaseLine>,
    pub description: Description,
    pub opened: Option<bool>,
}

impl CaseDraft {
    pub const MAX_LINES: usize = 50;

    pub fn parse(request: NewCaseRequest) -> Result<Self, InvalidField> {
        if request.lines.is_empty() {
            return Err(InvalidField::new(
                "lines",
                "must name at least one order line",
            ));
        }
        if request.lines.len() > Self::MAX_LINES {
            return Err(InvalidField::new(
                "lines",
                format!("must name at most {} order lines", Self::MAX_LINES),
            ));
        }
        let lines = request
            .lines
            .into_iter()
            .map(|line| {
                Ok(CaseLine {
                    sku: Sku::parse(&line.sku)?,
                    quantity: Quantity::parse(line.quantity)?,
                })
            })
            .collect::<Result<Vec<_>, InvalidField>>()?;
        Ok(CaseDraft {
            order_id: OrderId::parse(&request.order_id)?,
            lines,
            description: Description::parse(&request.description)?,
            opened: request.opened,
        })
    }
}

/// An after-sales case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub id: CaseId,
    pub customer_id: String,
    pub order_id: OrderId,
    pub lines: Vec<CaseLine>,
    pub description: Description,
    pub opened: Option<bool>,
    pub status: CaseStatus,
    pub queue: Queue,
    pub priority: Priority,
    /// What the complaint is about, and the words that decided it.
    pub classification: Classification,
    /// What can be done, with reasons, and the suggestion.
    pub remedies: RemedyDecision,
    pub opened_at: DateTime<Utc>,
    /// The first-response and resolution clocks.
    pub sla: SlaClocks,
    /// 0, or 1 once a target was breached (the queue's supervisor knows), 2 once it ran to
    /// twice its time (the head of service knows).
    pub escalation_level: u8,
    /// When staff first answered: the first-response target is met then.
    pub first_response_at: Option<DateTime<Utc>>,
    /// The staff member working the case.
    pub assignee: Option<String>,
    /// Set while waiting on the customer: the resolution clock is paused since then.
    pub waiting_since: Option<DateTime<Utc>>,
    pub resolution: Option<Resolution>,
    /// Photo evidence: attached photos and uploads under way.
    pub photos: CasePhotos,
    /// Bumped by every change; each write is conditional on the version read.
    pub version: u64,
}

impl Case {
    /// Opens a case from a parsed request and its assessment: new, in the queue and at the
    /// priority the assessment chose, with its SLA clock started.
    pub fn open(
        draft: CaseDraft,
        customer_id: &str,
        assessment: Assessment,
        now: DateTime<Utc>,
        sla: &SlaPolicy,
    ) -> Case {
        Case {
            id: CaseId::from_instant(now),
            customer_id: customer_id.to_owned(),
            order_id: draft.order_id,
            lines: draft.lines,
            description: draft.description,
            opened: draft.opened,
            status: CaseStatus::New,
            queue: assessment.queue,
            priority: assessment.priority,
            classification: assessment.classification,
            remedies: assessment.remedies,
            opened_at: now,
            sla: sla.start(assessment.priority, assessment.queue, now),
            escalation_level: 0,
            first_response_at: None,
            assignee: None,
            waiting_since: None,
            resolution: None,
            photos: CasePhotos::default(),
            version: 1,
        }
    }

    /// Whether the remedy needs photo evidence (damage, reaction, defect).
    pub fn photo_required(&self) -> bool {
        self.remedies.photo_required
    }

    /// Public-opinion threats and repeat complainants are handled first, after urgent cases.
    pub fn risk_flagged(&self) -> bool {
        !self.classification.risk_flags.is_empty()
    }

    /// Whether the SLA clock runs: not once resolved or closed, and paused while waiting on the
    /// customer.
    pub fn sla_clock_running(&self) -> bool {
        matches!(self.status, CaseStatus::New | CaseStatus::InProgress)
    }

    /// The targets whose clock runs now: the first response until it is given, the resolution
    /// until the case is resolved; neither while waiting on the customer.
    pub fn running_sla_targets(&self) -> Vec<SlaTarget> {
        if !self.sla_clock_running() {
            return vec![];
        }
        let mut running = Vec::with_capacity(2);
        if self.first_response_at.is_none() {
            running.push(SlaTarget::FirstResponse);
        }
        running.push(SlaTarget::Resolution);
        running
    }

    /// The deadline (100 %) due next among the running clocks, else the resolution's: what
    /// work queues sort by.
    pub fn next_sla_deadline(&self) -> DateTime<Utc> {
        self.running_sla_targets()
            .into_iter()
            .map(|target| self.sla.clock(target).due_at)
            .min()
            .unwrap_or(self.sla.resolution.due_at)
    }

    /// The next instant the escalation sweep must look at this case: the earliest stage still
    /// pending of the running clocks. The SLA timer index is keyed by it.
    pub fn next_sla_checkpoint(&self) -> Option<DateTime<Utc>> {
        self.running_sla_targets()
            .into_iter()
            .filter_map(|target| self.sla.clock(target).next_checkpoint())
            .min()
    }
}

/// One entry of a case's timeline: who did what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// `"<role>:<subject>"`, or `"system"`.
    pub actor: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn request(description: &str, lines: Vec<(&str, i64)>) -> NewCaseRequest {
        NewCaseRequest {
            order_id: " 1001 ".into(),
            lines: lines
                .into_iter()
                .map(|(sku, quantity)| NewCaseLine {
                    sku: sku.into(),
                    quantity,
                })
                .collect(),
            description: description.into(),
            opened: Some(true),
        }
    }

    #[test]
    fn parses_a_valid_request_and_trims_it() {
        let draft = CaseDraft::parse(request("  精华液瓶子漏了 ", vec![("SERUM-30", 1)])).unwrap();
        assert_eq!(draft.order_id.as_str(), "1001");
        assert_eq!(draft.description.as_str(), "精华液瓶子漏了");
        assert_eq!(draft.lines[0].quantity.get(), 1);
    }

    #[test]
    fn description_limit_counts_characters_not_bytes() {
        let at_limit = "漏".repeat(Description::MAX_CHARS);
        assert!(Description::parse(&at_limit).is_ok());
        let over = "漏".repeat(Description::MAX_CHARS + 1);
        assert_eq!(Description::parse(&over).unwrap_err().field, "description");
        assert!(Description::parse("   ").is_err());
    }

    #[test]
    fn refuses_bad_lines() {
        assert_eq!(
            CaseDraft::parse(request("x", vec![])).unwrap_err().field,
            "lines"
        );
        assert_eq!(
            CaseDraft::parse(request("x", vec![("A", 0)]))
                .unwrap_err()
                .field,
            "lines[].quantity"
        );
        assert!(CaseDraft::parse(request("x", vec![("A", 1000)])).is_err());
        assert!(CaseDraft::parse(request("x", vec![("A", 999)])).is_ok());
        assert_eq!(
            CaseDraft::parse(request("x", vec![("", 1)]))
                .unwrap_err()
                .field,
            "lines[].sku"
        );
        assert!(CaseDraft::parse(request("x", vec![("A\u{0}B", 1)])).is_err());
    }

    #[test]
    fn the_sweep_looks_at_a_case_at_its_next_pending_checkpoint() {
        use chrono::Duration;
        let now = Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap();
        let draft = CaseDraft::parse(request("leaking bottle", vec![("SERUM-30", 1)])).unwrap();
        let mut case = Case::open(
            draft,
            "c-1",
            crate::assessment::Assessment::of_text("leaking bottle", &Default::default(), now),
            now,
            &SlaPolicy::default(),
        );
        assert_eq!(case.status, CaseStatus::New);
        // 80 % of the first hour.
        assert_eq!(
            case.next_sla_checkpoint(),
            Some(now + Duration::minutes(48))
        );
        case.sla.first_response.reached = Some(crate::sla::SlaStage::Escalated);
        // The first response is now past all its stages: the resolution clock's 80 % is next.
        assert_eq!(
            case.next_sla_checkpoint(),
            Some(now + Duration::minutes(24 * 60 * 4 / 5))
        );
        case.sla.first_response.reached = None;
        case.status = CaseStatus::InProgress;
        case.first_response_at = Some(now + Duration::minutes(5));
        assert_eq!(
            case.next_sla_checkpoint(),
            Some(now + Duration::minutes(24 * 60 * 4 / 5))
        );
        case.status = CaseStatus::WaitingOnCustomer;
        assert_eq!(case.next_sla_checkpoint(), None);
        case.status = CaseStatus::Resolved;
        assert_eq!(case.next_sla_checkpoint(), None);
    }

    #[test]
    fn case_ids_round_trip_and_refuse_garbage() {
        let id = CaseId::new();
        assert_eq!(id.to_string().parse::<CaseId>().unwrap(), id);
        assert!("not-a-case".parse::<CaseId>().is_err());
    }
}
