//! Batch quality alerts: when adverse-reaction and quality-defect cases of one SKU and batch
//! add up, the quality team hears of it once ("from passive problem solving to active
//! prevention").
//!
//! Per (SKU, batch) a [`BatchWindow`] keeps the counting cases of the rolling window. Each case
//! is [`observe`]d; the first time the window crosses the [`AlertPolicy`] (default: 3 cases
//! within 7 days, or 0.5 % of the batch's units sold) one [`QualityAlert`] is raised: the
//! `quality-alerts` message and the API's view. While it is open no further alert is raised and
//! new cases of the batch are flagged for the expert queue ([`flags_for_expert_queue`]). Once
//! it is [`acknowledge`]d, the batch starts counting afresh: only cases opened after the
//! acknowledgement count towards the next alert, so a new alert means a new crossing
//! (`min_cases` new cases within the window, or their share of the units sold), not the old
//! burst seen again.
//!
//! Decisions:
//! - Only [`Category::AdverseReaction`] and [`Category::QualityDefect`] count.
//! - A case is counted at the instant it was opened, not when it was observed, so late or
//!   out-of-order observations land where they belong. The window ends at `now` and is
//!   inclusive: a case exactly `window` old still counts. A case older than that is not kept.
//! - The share rule counts the cases in the window over the batch's units sold, exactly (in
//!   basis points, no floats); with no units sold known only the count rule applies.
//! - A case with no batch on record is kept in its SKU's unknown-batch window (so the API can
//!   show how many there are) but never raises an alert: "batch unknown" is no batch to recall,
//!   and unrelated cases would add up under it.
//!
//! Pure: the caller reads the window, calls these, and writes the result conditionally on
//! `version` together with the alert (an outbox), so two functions racing on one batch raise
//! one alert, and a crash between the write and the send loses none.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ulid::Ulid;

use crate::case::{CaseId, CaseLine, InvalidField, Sku};
use crate::complaint::Category;
use crate::storefront::StoreOrderLine;

/// The queue alerts go on (its name in the template).
pub const QUEUE: &str = "quality-alerts";

/// The most cases a window keeps (the newest). `min_cases` may not exceed it, so the count
/// rule always fires before the limit could hide a case.
pub const MAX_TRACKED_CASES: usize = 1_000;

/// The longest window the template may set.
pub const MAX_WINDOW_DAYS: i64 = 90;

/// Basis points in a whole: 10,000 = 100 %.
const WHOLE: u64 = 10_000;

/// Whether a case of `category` counts towards a batch's alert.
pub fn counts(category: Category) -> bool {
    matches!(
        category,
        Category::AdverseReaction | Category::QualityDefect
    )
}

/// A production batch (lot) number as the storefront recorded it: trimmed, 1 to 64 printable
/// characters. Kept as written: lot numbers are case-sensitive on some packs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BatchNo(String);

impl BatchNo {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<BatchNo, InvalidField> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidField::new("batch", "must not be empty"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(InvalidField::new(
                "batch",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidField::new(
                "batch",
                "must not contain control characters",
            ));
        }
        Ok(BatchNo(trimmed.to_owned()))
    }

    /// The batch of an order line, leniently: absent, blank or unusable is unknown (`None`),
    /// never an error, since a storefront's odd lot field must not stop a case.
    pub fn from_order_line(raw: Option<&str>) -> Option<BatchNo> {
        raw.and_then(|raw| BatchNo::parse(raw).ok())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BatchNo {
    type Error = InvalidField;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        BatchNo::parse(&raw)
    }
}

impl From<BatchNo> for String {
    fn from(batch: BatchNo) -> String {
        batch.0
    }
}

impl fmt::Display for BatchNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A share of a batch's units sold, in basis points (50 = 0.5 %): exact, unlike a float.
/// Zero turns the share rule off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct ShareOfUnits(u32);

impl ShareOfUnits {
    /// `None` above 100 %.
    pub fn from_basis_points(basis_points: u32) -> Option<ShareOfUnits> {
        (u64::from(basis_points) <= WHOLE).then_some(ShareOfUnits(basis_points))
    }

    /// A percentage with at most two decimals, `%` optional: `"0.5"`, `"0.5%"`, `"1.25 %"`,
    /// `"0"` (off), up to `"100"`.
    pub fn parse_percent(raw: &str) -> Result<ShareOfUnits, String> {
        let invalid = || {
            format!(
                "{raw:?} is not a percentage from 0 to 100 with at most two decimals (like 0.5%)"
            )
        };
        let number = raw.trim().trim_end_matches('%').trim_end();
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 3 || fraction.len() > 2 {
            return Err(invalid());
        }
        if !digits(whole) || !digits(fraction) || (number.contains('.') && fraction.is_empty()) {
            return Err(invalid());
        }
        let whole: u32 = whole.parse().map_err(|_| invalid())?;
        let fraction: u32 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
        whole
            .checked_mul(100)
            .and_then(|bp| bp.checked_add(fraction))
            .and_then(ShareOfUnits::from_basis_points)
            .ok_or_else(invalid)
    }

    pub fn basis_points(self) -> u32 {
        self.0
    }

    /// Whether `cases` out of `units_sold` reach this share: never when the rule is off or no
    /// units are known.
    pub fn is_reached(self, cases: u64, units_sold: u64) -> bool {
        self.0 > 0
            && units_sold > 0
            && u128::from(cases) * u128::from(WHOLE) >= u128::from(self.0) * u128::from(units_sold)
    }
}

impl TryFrom<u32> for ShareOfUnits {
    type Error = String;
    fn try_from(basis_points: u32) -> Result<Self, Self::Error> {
        ShareOfUnits::from_basis_points(basis_points)
            .ok_or_else(|| format!("{basis_points} basis points is more than 100 %"))
    }
}

impl From<ShareOfUnits> for u32 {
    fn from(share: ShareOfUnits) -> u32 {
        share.0
    }
}

impl fmt::Display for ShareOfUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}%", self.0 / 100, self.0 % 100)
    }
}

/// When a batch's cases make an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertPolicy {
    /// This many counting cases within the window raise an alert (1 to
    /// [`MAX_TRACKED_CASES`]).
    pub min_cases: u32,
    /// The rolling window, ending now.
    pub window: Duration,
    /// ...or this share of the batch's units sold.
    pub share_of_units: ShareOfUnits,
}

impl Default for AlertPolicy {
    /// The defaults: 3 cases within 7 days, or 0.5 % of the units of the batch sold.
    fn default() -> Self {
        AlertPolicy {
            min_cases: 3,
            window: Duration::days(7),
            share_of_units: ShareOfUnits(50),
        }
    }
}

impl AlertPolicy {
    /// The policy from the template's parameter strings; a blank one keeps its default.
    /// `min_cases`: 1 to 1,000; `window_days`: whole days, 1 to 90; `share_of_units`: a
    /// percentage ([`ShareOfUnits::parse_percent`]).
    pub fn parse(
        min_cases: &str,
        window_days: &str,
        share_of_units: &str,
    ) -> Result<AlertPolicy, QualityAlertError> {
        let default = AlertPolicy::default();
        let invalid = |parameter: &'static str, reason: String| QualityAlertError::InvalidPolicy {
            parameter,
            reason,
        };
        let min_cases = match min_cases.trim() {
            "" => default.min_cases,
            raw => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_TRACKED_CASES).contains(&(*n as usize)))
                .ok_or_else(|| {
                    invalid(
                        "min_cases",
                        format!("{raw:?} is not a number of cases from 1 to {MAX_TRACKED_CASES}"),
                    )
                })?,
        };
        let window = match window_days.trim() {
            "" => default.window,
            raw => raw
                .parse::<i64>()
                .ok()
                .filter(|days| (1..=MAX_WINDOW_DAYS).contains(days))
                .map(Duration::days)
                .ok_or_else(|| {
                    invalid(
                        "window_days",
                        format!("{raw:?} is not a number of days from 1 to {MAX_WINDOW_DAYS}"),
                    )
                })?,
        };
        let share_of_units = match share_of_units.trim() {
            "" => default.share_of_units,
            raw => ShareOfUnits::parse_percent(raw)
                .map_err(|reason| invalid("share_of_units", reason))?,
        };
        Ok(AlertPolicy {
            min_cases,
            window,
            share_of_units,
        })
    }

    /// The start of the window ending at `now` (inclusive).
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_sub_signed(self.window.max(Duration::zero()))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// A case as a batch's window sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityCase {
    #[serde(with = "crate::refund::case_id_text")]
    pub case_id: CaseId,
    pub category: Category,
    /// When the case was opened.
    pub at: DateTime<Utc>,
}

/// An alert's id: a ULID of the instant it was raised, so alerts list in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct AlertId(Ulid);

impl AlertId {
    /// The id of the `sequence`th alert of a batch, raised at `at`. The random part is
    /// derived from the batch and the sequence, so a retried computation of the same alert
    /// gets the same id.
    fn of(at: DateTime<Utc>, sku: &Sku, batch: &BatchNo, sequence: u32) -> AlertId {
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        let digest = Sha256::new()
            .chain_update(sku.as_str())
            .chain_update([0])
            .chain_update(batch.as_str())
            .chain_update([0])
            .chain_update(sequence.to_be_bytes())
            .finalize();
        let random = digest
            .iter()
            .take(16)
            .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
        AlertId(Ulid::from_parts(millis, random))
    }
}

impl FromStr for AlertId {
    type Err = InvalidField;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ulid::from_string(raw)
            .map(AlertId)
            .map_err(|_| InvalidField::new("alert_id", "is not an alert id"))
    }
}

impl TryFrom<String> for AlertId {
    type Error = InvalidField;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.parse()
    }
}

impl From<AlertId> for String {
    fn from(id: AlertId) -> String {
        id.to_string()
    }
}

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Who acknowledged an alert, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub alert_id: AlertId,
    /// `"<role>:<subject>"`.
    pub by: String,
    pub at: DateTime<Utc>,
    /// What the quality team found or did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What one (SKU, batch) has seen: the state [`observe`] and [`acknowledge`] change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchWindow {
    pub sku: Sku,
    /// `None`: the cases of this SKU with no batch on record (never alerted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchNo>,
    /// Units of the batch sold, from the orders (the caller keeps it current); 0 if unknown.
    #[serde(default)]
    pub units_sold: u64,
    /// The counting cases still in the window, oldest first (at most [`MAX_TRACKED_CASES`]).
    #[serde(default)]
    pub cases: Vec<QualityCase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_alert: Option<AlertId>,
    /// The last acknowledgement: only cases opened after it count towards the next alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledgement>,
    /// How many alerts this batch has raised.
    #[serde(default)]
    pub alerts_raised: u32,
    /// Bumped by every change; each write is conditional on the version read.
    #[serde(default)]
    pub version: u64,
}

impl BatchWindow {
    pub fn new(sku: Sku, batch: Option<BatchNo>, units_sold: u64) -> BatchWindow {
        BatchWindow {
            sku,
            batch,
            units_sold,
            cases: Vec::new(),
            open_alert: None,
            acknowledged: None,
            alerts_raised: 0,
            version: 0,
        }
    }

    /// From when cases count at `now`: the window's start, or after the last acknowledgement.
    fn counts_case(&self, case: &QualityCase, window_start: DateTime<Utc>) -> bool {
        case.at >= window_start
            && self
                .acknowledged
                .as_ref()
                .is_none_or(|ack| case.at > ack.at)
    }

    /// The cases that count towards the next alert at `now`, oldest first.
    pub fn counted(&self, now: DateTime<Utc>, policy: &AlertPolicy) -> Vec<QualityCase> {
        let start = policy.window_start(now);
        self.cases
            .iter()
            .filter(|case| self.counts_case(case, start))
            .copied()
            .collect()
    }

    /// How many cases of the batch are in the window at `now`, acknowledged or not.
    pub fn count_in_window(&self, now: DateTime<Utc>, policy: &AlertPolicy) -> u32 {
        let start = policy.window_start(now);
        let count = self.cases.iter().filter(|case| case.at >= start).count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

/// Which threshold an alert crossed (the count rule is named when both were).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertRule {
    CaseCount,
    ShareOfUnitsSold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCount {
    pub category: Category,
    pub cases: u32,
}

/// A batch crossed its threshold: the `quality-alerts` message body and what
/// `GET /quality/alerts` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityAlert {
    pub alert_id: AlertId,
    /// 1 for the batch's first alert, one more for each after an acknowledgement.
    pub sequence: u32,
    pub sku: Sku,
    pub batch: BatchNo,
    pub raised_at: DateTime<Utc>,
    pub rule: AlertRule,
    /// The evidence: the cases counted, oldest first.
    pub cases: Vec<QualityCase>,
    /// Counted cases per category, most serious first.
    pub categories: Vec<CategoryCount>,
    /// How many cases were counted (`cases.len()`).
    pub count_in_window: u32,
    /// Cases counted from this instant: the window's start, or the last acknowledgement.
    pub counted_since: DateTime<Utc>,
    /// The policy's rolling window, in days.
    #[serde(default)]
    pub window_days: i64,
    /// The policy's count threshold.
    pub min_cases: u32,
    pub units_sold: u64,
    /// Counted cases over units sold, in basis points rounded down; `None` with no units sold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_basis_points: Option<u64>,
    /// The policy's share threshold, in basis points (0: off).
    pub share_threshold_basis_points: u32,
    /// Set by the store when the alert is acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledgement>,
}

/// Where an alert stands: open until the quality team acknowledges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
        }
    }

    /// The status a name as [`AlertStatus::as_str`] spells it stands for.
    pub fn named(name: &str) -> Option<AlertStatus> {
        [AlertStatus::Open, AlertStatus::Acknowledged]
            .into_iter()
            .find(|status| status.as_str() == name)
    }
}

impl QualityAlert {
    pub fn status(&self) -> AlertStatus {
        if self.acknowledged.is_some() {
            AlertStatus::Acknowledged
        } else {
            AlertStatus::Open
        }
    }

    /// `<sku>#<batch>#<sequence>`: the same crossing computed twice (two functions racing, a
    /// retry) is one message. SHA-256 when SQS would refuse the characters or the length.
    pub fn deduplication_id(&self) -> String {
        sqs_safe(format!(
            "{}#{}#{}",
            self.sku.as_str(),
            self.batch,
            self.sequence
        ))
    }

    /// `<sku>#<batch>`: one batch's alerts reach the quality team in order. SHA-256 when SQS
    /// would refuse the characters or the length.
    pub fn message_group_id(&self) -> String {
        sqs_safe(format!("{}#{}", self.sku.as_str(), self.batch))
    }

    pub fn case_ids(&self) -> Vec<CaseId> {
        self.cases.iter().map(|case| case.case_id).collect()
    }
}

/// `raw` if SQS takes it as a FIFO group or deduplication id (printable ASCII, at most 128),
/// else its SHA-256.
fn sqs_safe(raw: String) -> String {
    let acceptable = raw.len() <= 128 && raw.bytes().all(|b| b.is_ascii_graphic());
    if acceptable {
        raw
    } else {
        let hex: String = Sha256::digest(raw.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("sha256:{hex}")
    }
}

/// Why a quality-alert operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QualityAlertError {
    /// A template parameter is not valid (a deployment error).
    #[error("quality alert parameter {parameter}: {reason}")]
    InvalidPolicy {
        parameter: &'static str,
        reason: String,
    },
    #[error("alert {alert_id} was already acknowledged by {by} at {at}")]
    AlreadyAcknowledged {
        alert_id: AlertId,
        by: String,
        at: DateTime<Utc>,
    },
    /// Not the batch's open alert (an older one, or none is open).
    #[error("alert {0} is not open")]
    NotOpen(AlertId),
}

impl QualityAlertError {
    pub fn status(&self) -> u16 {
        match self {
            QualityAlertError::InvalidPolicy { .. } => 500,
            QualityAlertError::AlreadyAcknowledged { .. } | QualityAlertError::NotOpen(_) => 409,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            QualityAlertError::InvalidPolicy { .. } => "invalid_quality_alert_policy",
            QualityAlertError::AlreadyAcknowledged { .. } => "alert_already_acknowledged",
            QualityAlertError::NotOpen(_) => "alert_not_open",
        }
    }
}

/// Takes `case` into the batch's window at `now`: the new window, and the alert if this case
/// makes the batch cross its threshold with no alert open.
///
/// A case seen again (a redelivered message) is not counted twice; one reclassified between the
/// two counting categories keeps its place with its new category; one reclassified to any other
/// category leaves the window. A case opened before the window is not kept.
pub fn observe(
    state: &BatchWindow,
    case: &QualityCase,
    now: DateTime<Utc>,
    policy: &AlertPolicy,
) -> (BatchWindow, Option<QualityAlert>) {
    let mut next = state.clone();
    let window_start = policy.window_start(now);
    next.cases.retain(|kept| kept.at >= window_start);
    let seen = next
        .cases
        .iter()
        .position(|kept| kept.case_id == case.case_id);
    match (counts(case.category), seen) {
        (false, None) => return (state.clone(), None),
        (false, Some(index)) => {
            next.cases.remove(index);
            next.version += 1;
            return (next, None);
        }
        (true, Some(index)) => {
            if next.cases[index].category == case.category {
                return (state.clone(), None);
            }
            next.cases[index].category = case.category;
            next.version += 1;
            return (next, None);
        }
        (true, None) if case.at < window_start => return (state.clone(), None),
        (true, None) => {}
    }
    next.cases.push(*case);
    next.cases
        .sort_by(|a, b| a.at.cmp(&b.at).then(a.case_id.cmp(&b.case_id)));
    let excess = next.cases.len().saturating_sub(MAX_TRACKED_CASES);
    next.cases.drain(..excess);
    next.version += 1;

    let Some(batch) = next.batch.clone() else {
        return (next, None);
    };
    if next.open_alert.is_some() {
        return (next, None);
    }
    let counted = next.counted(now, policy);
    let count = u32::try_from(counted.len()).unwrap_or(u32::MAX);
    let rule = if count >= policy.min_cases.max(1) {
        AlertRule::CaseCount
    } else if policy
        .share_of_units
        .is_reached(u64::from(count), next.units_sold)
    {
        AlertRule::ShareOfUnitsSold
    } else {
        return (next, None);
    };

    let sequence = next.alerts_raised.saturating_add(1);
    let alert_id = AlertId::of(now, &next.sku, &batch, sequence);
    let categories = Category::BY_SERIOUSNESS
        .into_iter()
        .filter_map(|category| {
            let cases = counted.iter().filter(|c| c.category == category).count();
            (cases > 0).then(|| CategoryCount {
                category,
                cases: u32::try_from(cases).unwrap_or(u32::MAX),
            })
        })
        .collect();
    let counted_since = match &next.acknowledged {
        Some(ack) if ack.at > window_start => ack.at,
        _ => window_start,
    };
    let alert = QualityAlert {
        alert_id,
        sequence,
        sku: next.sku.clone(),
        batch,
        raised_at: now,
        rule,
        cases: counted,
        categories,
        count_in_window: count,
        counted_since,
        window_days: policy.window.num_days(),
        min_cases: policy.min_cases,
        units_sold: next.units_sold,
        share_basis_points: (next.units_sold > 0)
            .then(|| u64::from(count).saturating_mul(WHOLE) / next.units_sold),
        share_threshold_basis_points: policy.share_of_units.basis_points(),
        acknowledged: None,
    };
    next.open_alert = Some(alert_id);
    next.alerts_raised = sequence;
    (next, Some(alert))
}

/// The quality team has seen alert `alert_id` of this batch: it closes, and the batch counts
/// afresh from `now`. Acknowledging it again is refused with who did it first; an alert that
/// is not the batch's open one is refused too.
pub fn acknowledge(
    state: &BatchWindow,
    alert_id: AlertId,
    by: &str,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<BatchWindow, QualityAlertError> {
    if state.open_alert != Some(alert_id) {
        return Err(match &state.acknowledged {
            Some(ack) if ack.alert_id == alert_id => QualityAlertError::AlreadyAcknowledged {
                alert_id,
                by: ack.by.clone(),
                at: ack.at,
            },
            _ => QualityAlertError::NotOpen(alert_id),
        });
    }
    let mut next = state.clone();
    next.open_alert = None;
    next.acknowledged = Some(Acknowledgement {
        alert_id,
        by: by.to_owned(),
        at: now,
        note: note.map(str::to_owned),
    });
    next.version += 1;
    Ok(next)
}

/// The batches a case is about: each case line's SKU with the batch of every order line of
/// that SKU that records one, once each, in order. A SKU bought from two batches in one order
/// counts for both: the case cannot say which unit it is about. Lines with no usable batch
/// are left out (no batch, no alert).
pub fn batches_of_case(lines: &[CaseLine], order_lines: &[StoreOrderLine]) -> Vec<(Sku, BatchNo)> {
    let mut batches: Vec<(Sku, BatchNo)> = lines
        .iter()
        .flat_map(|line| {
            order_lines
                .iter()
                .filter(|ordered| ordered.sku.as_deref().map(str::trim) == Some(line.sku.as_str()))
                .filter_map(|ordered| BatchNo::from_order_line(ordered.batch.as_deref()))
                .map(|batch| (line.sku.clone(), batch))
        })
        .collect();
    batches.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
    batches.dedup();
    batches
}

/// Whether a new case of this batch goes to the expert queue flagged: while the batch has an
/// alert open (raised and not yet acknowledged), whatever the case's category.
pub fn flags_for_expert_queue(state: &BatchWindow) -> bool {
    state.batch.is_some() && state.open_alert.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::hours(hours)
    }

    fn day(days: i64) -> DateTime<Utc> {
        t(24 * days)
    }

    fn window(units_sold: u64) -> BatchWindow {
        BatchWindow::new(
            Sku::parse("CREAM-50").unwrap(),
            Some(BatchNo::parse("B2411").unwrap()),
            units_sold,
        )
    }

    fn case(category: Category, at: DateTime<Utc>) -> QualityCase {
        QualityCase {
            case_id: CaseId::from_instant(at),
            category,
            at,
        }
    }

    fn reaction(at: DateTime<Utc>) -> QualityCase {
        case(Category::AdverseReaction, at)
    }

    /// Observes each case at its own instant; the alerts raised, in order.
    fn feed(
        state: BatchWindow,
        cases: &[QualityCase],
        policy: &AlertPolicy,
    ) -> (BatchWindow, Vec<QualityAlert>) {
        cases
            .iter()
            .fold((state, Vec::new()), |(state, mut alerts), c| {
                let (next, alert) = observe(&state, c, c.at, policy);
                alerts.extend(alert);
                (next, alerts)
            })
    }

    #[test]
    fn the_third_case_in_seven_days_raises_one_alert_and_the_fourth_none() {
        let policy = AlertPolicy::default();
        let cases = [
            reaction(day(0)),
            case(Category::QualityDefect, day(2)),
            reaction(day(5)),
            reaction(day(6)),
        ];
        let (two, alerts) = feed(window(0), &cases[..2], &policy);
        assert!(alerts.is_empty());
        assert!(!flags_for_expert_queue(&two));

        let (three, alert) = observe(&two, &cases[2], day(5), &policy);
        let alert = alert.expect("the third case crosses");
        assert_eq!(alert.rule, AlertRule::CaseCount);
        assert_eq!(alert.sequence, 1);
        assert_eq!(alert.count_in_window, 3);
        assert_eq!(
            alert.case_ids(),
            cases[..3].iter().map(|c| c.case_id).collect::<Vec<_>>()
        );
        assert_eq!(
            alert.categories,
            [
                CategoryCount {
                    category: Category::AdverseReaction,
                    cases: 2
                },
                CategoryCount {
                    category: Category::QualityDefect,
                    cases: 1
                }
            ]
        );
        assert_eq!(alert.raised_at, day(5));
        assert_eq!(alert.counted_since, day(-2));
        assert_eq!((alert.units_sold, alert.share_basis_points), (0, None));
        assert_eq!(three.open_alert, Some(alert.alert_id));
        assert!(flags_for_expert_queue(&three));

        let (four, none) = observe(&three, &cases[3], day(6), &policy);
        assert_eq!(none, None, "one alert, not one per case");
        assert_eq!(four.cases.len(), 4);
        assert_eq!(four.count_in_window(day(6), &policy), 4);
        assert!(flags_for_expert_queue(&four));
    }

    #[test]
    fn cases_outside_the_window_do_not_count() {
        let policy = AlertPolicy::default();
        // Day 0 is more than 7 days before day 7 plus an hour: it has left the window.
        let cases = [
            reaction(day(0)),
            reaction(day(3)),
            reaction(day(7) + Duration::hours(1)),
        ];
        let (state, alerts) = feed(window(0), &cases, &policy);
        assert!(alerts.is_empty());
        assert_eq!(state.cases.len(), 2, "the old case is no longer kept");
        // Exactly seven days old still counts.
        let (_, alerts) = feed(
            window(0),
            &[reaction(day(0)), reaction(day(3)), reaction(day(7))],
            &policy,
        );
        assert_eq!(alerts.len(), 1);
        // A case opened before the window, observed late, is not kept.
        let (late, alert) = observe(&window(0), &reaction(day(0)), day(8), &policy);
        assert_eq!((late.cases.len(), alert), (0, None));
    }

    #[test]
    fn out_of_order_cases_count_by_when_they_were_opened() {
        let policy = AlertPolicy::default();
        let now = day(6);
        let (one, _) = observe(&window(0), &reaction(day(5)), now, &policy);
        let (two, a) = observe(&one, &reaction(day(1)), now, &policy);
        let (three, b) = observe(&two, &reaction(day(3)), now, &policy);
        assert_eq!((a, b.is_some()), (None, true));
        let instants: Vec<_> = three.cases.iter().map(|c| c.at).collect();
        assert_eq!(instants, [day(1), day(3), day(5)], "kept oldest first");
        // A redelivered case is not counted twice.
        let (once, again) = observe(&one, &one.cases[0], now + Duration::hours(1), &policy);
        assert_eq!((once.cases.len(), again), (1, None));
        assert_eq!(once, one);
        let (dup, none) = observe(&two, &one.cases[0], now, &policy);
        assert_eq!((dup.cases.len(), none), (2, None));
    }

    #[test]
    fn other_categories_never_count_and_a_reclassified_case_leaves() {
        let policy = AlertPolicy::default();
        for category in Category::BY_SERIOUSNESS {
            assert_eq!(
                counts(category),
                matches!(
                    category,
                    Category::AdverseReaction | Category::QualityDefect
                )
            );
        }
        let others: Vec<_> = (0..10)
            .map(|h| {
                let category = [
                    Category::DamagedInTransit,
                    Category::NotAsExpected,
                    Category::CounterfeitSuspected,
                    Category::Inquiry,
                ][h % 4];
                case(category, t(h as i64))
            })
            .collect();
        let (state, alerts) = feed(window(10), &others, &policy);
        assert!(alerts.is_empty());
        assert!(state.cases.is_empty());
        assert_eq!(state.version, 0);

        let first = reaction(t(0));
        let (one, _) = observe(&state, &first, t(0), &policy);
        let as_defect = QualityCase {
            category: Category::QualityDefect,
            ..first
        };
        let (moved, _) = observe(&one, &as_defect, t(1), &policy);
        assert_eq!(moved.cases, [as_defect]);
        let as_transit = QualityCase {
            category: Category::DamagedInTransit,
            ..first
        };
        let (gone, _) = observe(&moved, &as_transit, t(2), &policy);
        assert!(gone.cases.is_empty());
        assert!(gone.version > moved.version);
    }

    #[test]
    fn the_share_rule_uses_the_units_sold_exactly() {
        let policy = AlertPolicy::default(); // 0.5 %
        // 2 cases of 400 units: exactly 0.5 %.
        let (state, alerts) = feed(window(400), &[reaction(t(0)), reaction(t(1))], &policy);
        let alert = alerts.first().expect("2 / 400 = 0.5 %");
        assert_eq!(alerts.len(), 1);
        assert_eq!(alert.rule, AlertRule::ShareOfUnitsSold);
        assert_eq!(alert.share_basis_points, Some(50));
        assert_eq!(alert.share_threshold_basis_points, 50);
        assert_eq!(alert.units_sold, 400);
        assert!(flags_for_expert_queue(&state));
        // 2 of 401 units is just under.
        let (_, alerts) = feed(window(401), &[reaction(t(0)), reaction(t(1))], &policy);
        assert!(alerts.is_empty());
        // With no units known only the count rule applies.
        let (_, alerts) = feed(window(0), &[reaction(t(0)), reaction(t(1))], &policy);
        assert!(alerts.is_empty());
        // Large batches: the count rule still fires at 3.
        let (_, alerts) = feed(
            window(1_000_000),
            &[reaction(t(0)), reaction(t(1)), reaction(t(2))],
            &policy,
        );
        assert_eq!(alerts[0].rule, AlertRule::CaseCount);
        assert_eq!(alerts[0].share_basis_points, Some(0));
        // The share rule off.
        let off = AlertPolicy {
            share_of_units: ShareOfUnits::from_basis_points(0).unwrap(),
            ..policy
        };
        let (_, alerts) = feed(window(1), &[reaction(t(0))], &off);
        assert!(alerts.is_empty());
        assert!(ShareOfUnits(50).is_reached(1, 200));
        assert!(!ShareOfUnits(50).is_reached(1, 201));
        assert!(ShareOfUnits(10_000).is_reached(u64::MAX, u64::MAX));
    }

    #[test]
    fn after_acknowledgement_a_new_crossing_raises_a_second_alert() {
        let policy = AlertPolicy::default();
        let (open, alerts) = feed(
            window(0),
            &[reaction(day(0)), reaction(day(1)), reaction(day(2))],
            &policy,
        );
        let first = alerts[0].alert_id;
        let acked =
            acknowledge(&open, first, "expert:e-1", Some("recall started"), day(3)).unwrap();
        assert_eq!(acked.open_alert, None);
        assert!(!flags_for_expert_queue(&acked));
        assert_eq!(
            acknowledge(&acked, first, "expert:e-2", None, day(3)),
            Err(QualityAlertError::AlreadyAcknowledged {
                alert_id: first,
                by: "expert:e-1".into(),
                at: day(3)
            })
        );

        // Two new cases plus the three acknowledged ones in the window: not a new crossing.
        let (two_new, alerts) = feed(acked, &[reaction(day(4)), reaction(day(5))], &policy);
        assert!(alerts.is_empty());
        assert_eq!(two_new.count_in_window(day(5), &policy), 5);
        // A late case opened before the acknowledgement does not count as new.
        let (late, none) = observe(
            &two_new,
            &reaction(day(2) + Duration::hours(5)),
            day(5),
            &policy,
        );
        assert_eq!(none, None);
        // The third new case does.
        let (again, second) = observe(&late, &reaction(day(6)), day(6), &policy);
        let second = second.expect("a new crossing after the acknowledgement");
        assert_eq!(second.sequence, 2);
        assert_ne!(second.alert_id, first);
        assert_eq!(second.count_in_window, 3);
        assert_eq!(second.counted_since, day(3));
        assert_eq!(
            second.cases.iter().map(|c| c.at).collect::<Vec<_>>(),
            [day(4), day(5), day(6)]
        );
        assert_eq!(second.deduplication_id(), "CREAM-50#B2411#2");
        assert_eq!(again.alerts_raised, 2);
        assert!(flags_for_expert_queue(&again));
    }

    #[test]
    fn acknowledging_an_alert_that_is_not_open_is_refused() {
        let policy = AlertPolicy::default();
        let stranger = AlertId::of(
            t(0),
            &Sku::parse("X").unwrap(),
            &BatchNo::parse("Y").unwrap(),
            1,
        );
        let err = acknowledge(&window(0), stranger, "expert:e-1", None, t(0)).unwrap_err();
        assert_eq!(err, QualityAlertError::NotOpen(stranger));
        assert_eq!((err.status(), err.code()), (409, "alert_not_open"));
        let (open, _) = feed(
            window(0),
            &[reaction(t(0)), reaction(t(1)), reaction(t(2))],
            &policy,
        );
        assert!(acknowledge(&open, stranger, "expert:e-1", None, t(3)).is_err());
    }

    #[test]
    fn an_unknown_batch_is_counted_per_sku_but_never_alerts() {
        let policy = AlertPolicy::default();
        let unknown = BatchWindow::new(Sku::parse("CREAM-50").unwrap(), None, 0);
        let cases: Vec<_> = (0..5).map(|h| reaction(t(h))).collect();
        let (state, alerts) = feed(unknown, &cases, &policy);
        assert!(alerts.is_empty());
        assert_eq!(state.count_in_window(t(5), &policy), 5);
        assert!(!flags_for_expert_queue(&state));
        assert_eq!(BatchNo::from_order_line(None), None);
        assert_eq!(BatchNo::from_order_line(Some("  ")), None);
        assert_eq!(BatchNo::from_order_line(Some("a\u{0}b")), None);
        assert_eq!(
            BatchNo::from_order_line(Some(" B2411 ")).map(String::from),
            Some("B2411".to_owned())
        );
        assert_eq!(BatchNo::parse(&"9".repeat(65)).unwrap_err().field, "batch");
    }

    #[test]
    fn the_same_crossing_gets_the_same_id_and_deduplication_id() {
        let policy = AlertPolicy::default();
        let (two, _) = feed(window(0), &[reaction(t(0)), reaction(t(1))], &policy);
        let (_, a) = observe(&two, &reaction(t(2)), t(2), &policy);
        let (_, b) = observe(&two, &reaction(t(2)), t(2), &policy);
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.alert_id, b.alert_id);
        assert_eq!(a.deduplication_id(), "CREAM-50#B2411#1");
        assert_eq!(a.deduplication_id(), b.deduplication_id());
        let odd = QualityAlert {
            batch: BatchNo::parse("批次 1").unwrap(),
            ..a.clone()
        };
        let id = odd.deduplication_id();
        assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");

        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["alert_id"], a.alert_id.to_string());
        assert_eq!(json["sku"], "CREAM-50");
        assert_eq!(json["batch"], "B2411");
        assert_eq!(json["rule"], "case_count");
        assert_eq!(json["categories"][0]["category"], "adverse_reaction");
        assert_eq!(json["cases"][0]["case_id"], a.cases[0].case_id.to_string());
        assert_eq!(serde_json::from_value::<QualityAlert>(json).unwrap(), a);
        assert_eq!(
            a.alert_id.to_string().parse::<AlertId>().unwrap(),
            a.alert_id
        );
        assert!("nope".parse::<AlertId>().is_err());
    }

    #[test]
    fn a_case_is_about_the_batches_its_skus_were_bought_from() {
        let ordered = |sku: Option<&str>, batch: Option<&str>| StoreOrderLine {
            line_item_id: "1".into(),
            sku: sku.map(Into::into),
            title: String::new(),
            quantity: 1,
            unit_price_minor: 100,
            paid_minor: 100,
            batch: batch.map(Into::into),
        };
        let line = |sku: &str| CaseLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: crate::case::Quantity::parse(1).unwrap(),
        };
        let order = [
            ordered(Some("CREAM-50"), Some("B2")),
            ordered(Some("CREAM-50"), Some(" B1 ")),
            ordered(Some("CREAM-50"), Some("B2")),
            ordered(Some("SERUM-30"), None),
            ordered(Some("TONER-200"), Some("T1")),
            ordered(None, Some("X")),
        ];
        let batches = batches_of_case(&[line("CREAM-50"), line("SERUM-30")], &order);
        let names: Vec<_> = batches
            .iter()
            .map(|(sku, batch)| format!("{}/{batch}", sku.as_str()))
            .collect();
        assert_eq!(names, ["CREAM-50/B1", "CREAM-50/B2"]);
        assert!(batches_of_case(&[line("SERUM-30")], &order).is_empty());
    }

    #[test]
    fn the_window_keeps_at_most_the_newest_cases() {
        let policy = AlertPolicy {
            min_cases: MAX_TRACKED_CASES as u32,
            share_of_units: ShareOfUnits(0),
            ..AlertPolicy::default()
        };
        let mut state = window(0);
        let mut raised = 0;
        for i in 0..(MAX_TRACKED_CASES as i64 + 20) {
            let at = t(0) + Duration::seconds(i);
            let (next, alert) = observe(&state, &reaction(at), at, &policy);
            raised += usize::from(alert.is_some());
            state = next;
        }
        assert_eq!(raised, 1);
        assert_eq!(state.cases.len(), MAX_TRACKED_CASES);
        assert_eq!(state.cases[0].at, t(0) + Duration::seconds(20));
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(serde_json::from_value::<BatchWindow>(json).unwrap(), state);
    }

    #[test]
    fn the_policy_parses_from_template_parameters() {
        assert_eq!(
            AlertPolicy::parse("", "", "").unwrap(),
            AlertPolicy::default()
        );
        let policy = AlertPolicy::parse(" 5 ", "14", "1.25%").unwrap();
        assert_eq!(policy.min_cases, 5);
        assert_eq!(policy.window, Duration::days(14));
        assert_eq!(policy.share_of_units.basis_points(), 125);
        assert_eq!(policy.share_of_units.to_string(), "1.25%");
        assert_eq!(ShareOfUnits(50).to_string(), "0.50%");
        assert_eq!(serde_json::to_value(ShareOfUnits(50)).unwrap(), 50);
        assert!(serde_json::from_str::<ShareOfUnits>("10001").is_err());
        for (raw, bp) in [
            ("0.5", 50),
            ("0.5 %", 50),
            ("0", 0),
            ("100", 10_000),
            ("0.05", 5),
            ("3", 300),
        ] {
            assert_eq!(
                ShareOfUnits::parse_percent(raw).unwrap().basis_points(),
                bp,
                "{raw}"
            );
        }
        for bad in [
            "100.01", "0.005", "-1", "abc", ".5", "2.", "1e2", "%", "1,5", "9999",
        ] {
            assert!(ShareOfUnits::parse_percent(bad).is_err(), "{bad}");
        }
        let err = |min: &str, days: &str, share: &str| match AlertPolicy::parse(min, days, share) {
            Err(QualityAlertError::InvalidPolicy { parameter, .. }) => parameter,
            other => panic!("{other:?}"),
        };
        assert_eq!(err("0", "", ""), "min_cases");
        assert_eq!(err("1001", "", ""), "min_cases");
        assert_eq!(err("three", "", ""), "min_cases");
        assert_eq!(err("", "0", ""), "window_days");
        assert_eq!(err("", "91", ""), "window_days");
        assert_eq!(err("", "7d", ""), "window_days");
        assert_eq!(err("", "", "0.5‰"), "share_of_units");
        assert!(AlertPolicy::parse("1000", "90", "100").is_ok());
        assert_eq!(
            QualityAlertError::InvalidPolicy {
                parameter: "min_cases",
                reason: String::new()
            }
            .status(),
            500
        );
    }

    #[test]
    fn no_input_makes_the_window_panic() {
        let policy = AlertPolicy {
            min_cases: 0,
            window: Duration::MAX,
            share_of_units: ShareOfUnits(10_000),
        };
        let edge = [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC];
        for now in edge {
            for at in edge {
                let case = QualityCase {
                    case_id: CaseId::from_instant(t(0)),
                    category: Category::QualityDefect,
                    at,
                };
                let (_, alert) = observe(&window(u64::MAX), &case, now, &policy);
                if let Some(alert) = alert {
                    assert_eq!(alert.sequence, 1);
                }
            }
        }
        let negative = AlertPolicy {
            window: Duration::days(-3),
            ..AlertPolicy::default()
        };
        assert_eq!(negative.window_start(t(0)), t(0));
    }
}
