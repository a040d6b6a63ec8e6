//! Refunds: the request a resolved case makes, the auto-approval policy, and finance's decisions.
//!
//! Modelled as Saleor models refunds: money is first *granted* (requested, then approved by the
//! policy or by finance) and only later *executed* by the brand's payment integration, which
//! reports the payout back. Every step records who decided and why in an append-only audit
//! trail. Pure: the handler reads the refund, this decides, the store writes the result only if
//! nobody changed the refund meanwhile (`version`).
//!
//! ```text
//!  request ─▶ pending ──approve (the last approval needed)──▶ approved ──settle(paid)──▶ paid
//!   (screen)   │  ▲                                              │
//!              │  └─────────── return_to_finance ─── failed ◀────┘ settle(failed)
//!              └──reject──▶ rejected
//! ```
//!
//! - [`policy`]: whether the policy may grant a refund without finance ([`decide`]), and how
//!   many finance approvers a refund needs.
//! - [`payout`]: the message approved refunds put on the `refunds-approved` FIFO queue.
//! - [`export`]: the CSV finance reconciles payouts with.

pub mod export;
pub mod payout;
pub mod policy;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::auth::{Caller, Role};
use crate::case::{Case, CaseId, CaseStatus, InvalidField, Quantity};
use crate::complaint::Category;
use crate::money::Currency;
use crate::order::OrderFile;
use crate::remedy::Remedy;
use crate::workflow::MAX_MESSAGE_CHARS;

pub use export::{CSV_COLUMNS, export_csv};
pub use payout::PayoutMessage;
pub use policy::{AutoApproval, AutoApprovalFacts, FinanceReason, RefundPolicy, decide};

/// The longest identifier (customer, line item, user, provider reference) a refund keeps.
const MAX_ID_CHARS: usize = 256;

/// A refund's id: a ULID, so refunds sort by the time they were requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct RefundId(Ulid);

impl RefundId {
    pub fn from_instant(at: DateTime<Utc>) -> Self {
        RefundId(Ulid::from_datetime(at.into()))
    }
}

impl FromStr for RefundId {
    type Err = InvalidField;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ulid::from_string(raw.trim())
            .map(RefundId)
            .map_err(|_| invalid("refund_id", "is not a refund id"))
    }
}

impl fmt::Display for RefundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TryFrom<String> for RefundId {
    type Error = InvalidField;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.parse()
    }
}

impl From<RefundId> for String {
    fn from(id: RefundId) -> Self {
        id.to_string()
    }
}

/// Who did something to a refund. Travels as one string, as case timelines name actors:
/// `"<role>:<user id>"` for staff, `"policy"` for the auto-approval policy,
/// `"payment-integration"` for the brand's payout system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Actor {
    Staff { user_id: String, role: Role },
    Policy,
    PaymentIntegration,
}

impl Actor {
    pub fn staff(user_id: impl Into<String>, role: Role) -> Actor {
        Actor::Staff {
            user_id: user_id.into(),
            role,
        }
    }

    /// The staff member's user id; `None` for the policy and the payment integration.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Actor::Staff { user_id, .. } => Some(user_id),
            Actor::Policy | Actor::PaymentIntegration => None,
        }
    }

    /// The name a reconciliation sheet shows: the user id, else `policy` or
    /// `payment-integration`.
    pub fn id(&self) -> &str {
        match self {
            Actor::Staff { user_id, .. } => user_id,
            Actor::Policy => "policy",
            Actor::PaymentIntegration => "payment-integration",
        }
    }

    fn is_finance(&self) -> bool {
        matches!(
            self,
            Actor::Staff {
                role: Role::Finance,
                ..
            }
        )
    }
}

impl From<&Caller> for Actor {
    fn from(caller: &Caller) -> Self {
        Actor::staff(caller.subject.clone(), caller.role)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Staff { user_id, role } => write!(f, "{role}:{user_id}"),
            Actor::Policy | Actor::PaymentIntegration => f.write_str(self.id()),
        }
    }
}

impl FromStr for Actor {
    type Err = InvalidField;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "policy" => Ok(Actor::Policy),
            "payment-integration" => Ok(Actor::PaymentIntegration),
            _ => {
                let bad = || {
                    invalid(
                        "actor",
                        format!(
                            "{raw:?} is not `<role>:<user id>`, `policy` or `payment-integration`"
                        ),
                    )
                };
                let (role, user_id) = raw.split_once(':').ok_or_else(bad)?;
                let role = Role::parse(role).ok_or_else(bad)?;
                Ok(Actor::staff(identifier("actor", user_id)?, role))
            }
        }
    }
}

impl TryFrom<String> for Actor {
    type Error = InvalidField;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.parse()
    }
}

impl From<Actor> for String {
    fn from(actor: Actor) -> Self {
        actor.to_string()
    }
}

/// An order line a refund concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLine {
    /// The storefront's line item id, as in [`crate::storefront::StoreOrderLine`].
    pub line_item_id: String,
    /// Units refunded; `None` when the refund is not counted in units (compensation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
}

/// What the complaint behind a refund rests on, as the case knew it when resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub category: Category,
    /// The remedy matching asked for a photo.
    pub photo_required: bool,
    /// Verified photos attached to the case.
    pub photos_attached: u32,
}

impl Evidence {
    /// Whether a photo proves this claim: asked for by the remedy, or by the category itself
    /// (whichever is stricter, so stale remedy data never waives a photo).
    pub fn photo_needed(&self) -> bool {
        self.photo_required || self.category.needs_photo()
    }

    /// No photo needed, or at least one attached.
    pub fn photo_evidence_complete(&self) -> bool {
        !self.photo_needed() || self.photos_attached > 0
    }
}

/// What the staff member resolving a case asks to refund. [`Refund::request`] checks it against
/// the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundDraft {
    pub case_id: CaseId,
    pub customer_id: String,
    pub lines: Vec<RefundLine>,
    pub amount_minor: i64,
    pub currency: Currency,
    /// Why the money goes back, in the staff member's words.
    pub reason: String,
    pub evidence: Evidence,
    /// The staff member who resolved the case: never one of its approvers.
    pub requested_by: Actor,
}

impl RefundDraft {
    /// The draft a case resolved with [`Remedy::Refund`] or [`Remedy::PartialRefund`] makes.
    /// `amount_minor` overrides the resolution's amount; a partial refund has none (its amount
    /// is agreed with the customer), so it must be given. The case's lines (by SKU) become
    /// the order's line items; `photos_attached` counts the case's verified photos.
    pub fn for_resolved_case(
        case: &Case,
        order: &OrderFile,
        amount_minor: Option<i64>,
        photos_attached: u32,
    ) -> Result<RefundDraft, RefundError> {
        let resolution = case
            .resolution
            .as_ref()
            .filter(|_| matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed))
            .filter(|r| matches!(r.remedy, Remedy::Refund | Remedy::PartialRefund))
            .ok_or_else(|| RefundError::NotARefundResolution {
                case_id: case.id.to_string(),
            })?;
        let store_order = order
            .order
            .as_ref()
            .ok_or_else(|| RefundError::OrderUnknown(order.reference.clone()))?;
        // A case names its order by Aftercare's reference (`<platform>:<store>:<order id>`).
        if order.reference != case.order_id.as_str() {
            return Err(RefundError::WrongOrder {
                case_order_id: case.order_id.as_str().to_owned(),
                order_reference: order.reference.clone(),
            });
        }
        // One order line per case line, by SKU; a SKU on two lines takes the next unused one.
        let mut used = HashSet::new();
        let lines = case
            .lines
            .iter()
            .map(|line| {
                let sku = line.sku.as_str();
                let found = store_order.lines.iter().find(|candidate| {
                    candidate.sku.as_deref() == Some(sku)
                        && !used.contains(candidate.line_item_id.as_str())
                });
                let found = found.ok_or_else(|| RefundError::SkuNotOnOrder {
                    sku: sku.to_owned(),
                    order_reference: order.reference.clone(),
                })?;
                used.insert(found.line_item_id.as_str());
                Ok(RefundLine {
                    line_item_id: found.line_item_id.clone(),
                    quantity: Some(line.quantity),
                })
            })
            .collect::<Result<Vec<_>, RefundError>>()?;
        let amount_minor = amount_minor
            .or(resolution.amount_minor)
            .ok_or(RefundError::AmountMissing)?;
        let category = case.classification.category;
        let remedy = match resolution.remedy {
            Remedy::PartialRefund => "partial refund",
            _ => "refund",
        };
        Ok(RefundDraft {
            case_id: case.id,
            customer_id: case.customer_id.clone(),
            lines,
            amount_minor,
            currency: store_order.currency,
            reason: resolution
                .note
                .clone()
                .unwrap_or_else(|| format!("{remedy} for a {category} claim")),
            evidence: Evidence {
                category,
                photo_required: case.remedies.photo_required,
                photos_attached,
            },
            requested_by: resolution.by.parse()?,
        })
    }
}

/// Where a refund stands. Stored as the snake_case name (the finance queue's index key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Waiting for finance (or for a second finance approver).
    Pending,
    /// Granted; the payout is not confirmed yet.
    Approved,
    Paid,
    /// The payout failed; finance returns it to the queue.
    Failed,
    /// Refused by finance, with a reason the customer is shown.
    Rejected,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Approved => "approved",
            RefundStatus::Paid => "paid",
            RefundStatus::Failed => "failed",
            RefundStatus::Rejected => "rejected",
        }
    }
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One approval of the current round: a finance member's, or the policy's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: Actor,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Shown to the customer.
    pub reason: String,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// What the payment integration reports for an approved refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Settlement {
    Paid {
        provider_reference: String,
    },
    Failed {
        provider_reference: String,
        /// The provider's error, kept for finance.
        error: String,
    },
}

impl Settlement {
    pub fn provider_reference(&self) -> &str {
        match self {
            Settlement::Paid { provider_reference }
            | Settlement::Failed {
                provider_reference, ..
            } => provider_reference,
        }
    }

    /// A redelivery of the same report: same outcome, same reference (the error's wording may
    /// differ between deliveries and does not make it another report).
    fn same_report(&self, other: &Settlement) -> bool {
        matches!(
            (self, other),
            (Settlement::Paid { .. }, Settlement::Paid { .. })
                | (Settlement::Failed { .. }, Settlement::Failed { .. })
        ) && self.provider_reference() == other.provider_reference()
    }

    fn checked(self) -> Result<Settlement, InvalidField> {
        Ok(match self {
            Settlement::Paid { provider_reference } => Settlement::Paid {
                provider_reference: identifier("provider_reference", &provider_reference)?,
            },
            Settlement::Failed {
                provider_reference,
                error,
            } => Settlement::Failed {
                provider_reference: identifier("provider_reference", &provider_reference)?,
                error: free_text("error", &error)?,
            },
        })
    }
}

impl fmt::Display for Settlement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Settlement::Paid { provider_reference } => {
                write!(f, "paid (provider reference {provider_reference})")
            }
            Settlement::Failed {
                provider_reference,
                error,
            } => write!(
                f,
                "failed (provider reference {provider_reference}): {error}"
            ),
        }
    }
}

/// A settlement as recorded: what was reported, by whom, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementRecord {
    pub settlement: Settlement,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Requested,
    /// The policy granted the refund.
    AutoApproved,
    /// The policy sent the refund to finance; the detail says why.
    QueuedForFinance,
    /// A finance approval: the only one needed, or the first of two.
    Approved,
    /// The second of two finance approvals, which grants the refund.
    SecondApproval,
    Rejected,
    Paid,
    Failed,
    /// A failed payout is back in the finance queue.
    ReturnedToFinance,
}

/// One entry of a refund's audit trail. Entries are only ever appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1 for the request, then one more per change: the store keys entries by it, so writing
    /// the same entry twice is caught.
    pub seq: u32,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: AuditAction,
    /// `None` for the request, which has no state before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<RefundStatus>,
    pub after: RefundStatus,
    pub detail: String,
}

/// A change to a refund: the refund as it is now (its last audit entry is `entry`), and the
/// entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Transition {
    pub refund: Refund,
    pub entry: AuditEntry,
}

/// What a settlement report did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Settled {
    Changed(Box<Transition>),
    /// The same report was already recorded: nothing to write, no audit entry.
    Unchanged,
}

/// Why a refund cannot be requested or changed. [`RefundError::status`] is the HTTP status the
/// API answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("a refund must name at least one order line")]
    NoLines,
    #[error("line {0} is named twice; name each line once")]
    DuplicateLine(String),
    #[error("no order is recorded under {0} yet; a refund needs the storefront's order")]
    OrderUnknown(String),
    #[error("line {line_item_id} is not on order {order_reference}")]
    LineNotOnOrder {
        line_item_id: String,
        order_reference: String,
    },
    #[error("line {line_item_id}: {requested} units to refund, but {ordered} were ordered")]
    QuantityExceedsLine {
        line_item_id: String,
        requested: u32,
        ordered: u32,
    },
    #[error("amount {amount_minor} must be more than zero")]
    AmountNotPositive { amount_minor: i64 },
    #[error("the refund is in {requested} but order {order_reference} was paid in {order}")]
    CurrencyMismatch {
        requested: Currency,
        order: Currency,
        order_reference: String,
    },
    #[error(
        "amount {} exceeds the {} still refundable on lines {} (paid {}, refunded or being refunded {})",
        money(.amount_minor, .currency),
        money(.refundable_minor, .currency),
        .lines.join(", "),
        money(.paid_minor, .currency),
        money(.refunded_minor, .currency)
    )]
    AmountExceedsRefundable {
        amount_minor: i64,
        refundable_minor: i64,
        paid_minor: i64,
        refunded_minor: i64,
        currency: Currency,
        lines: Vec<String>,
    },
    #[error("case {case_id} is not resolved with a refund or partial refund")]
    NotARefundResolution { case_id: String },
    #[error("the case is about order {case_order_id}, which is not {order_reference}")]
    WrongOrder {
        case_order_id: String,
        order_reference: String,
    },
    #[error("SKU {sku} of the case is on no unclaimed line of order {order_reference}")]
    SkuNotOnOrder {
        sku: String,
        order_reference: String,
    },
    #[error(
        "the amount to refund is not known: a partial refund's amount is agreed with the customer and must be given"
    )]
    AmountMissing,
    #[error("{actor} may not {action} a refund: {who}")]
    NotAllowed {
        actor: String,
        action: &'static str,
        who: &'static str,
    },
    #[error("{user_id} requested this refund and may not approve it; another finance member must")]
    OwnRefund { user_id: String },
    #[error(
        "{user_id} has already approved this refund; the second approval must come from another finance member"
    )]
    AlreadyApprovedBy { user_id: String },
    #[error("cannot {action} a refund that is {status}")]
    IllegalTransition {
        status: RefundStatus,
        action: &'static str,
    },
    #[error(
        "the auto-approval policy looks at a refund once, before finance does; this one has been screened or approved already"
    )]
    AlreadyScreened,
    #[error("the refund is already {recorded}; refusing the conflicting report: {received}")]
    SettlementConflict { recorded: String, received: String },
    #[error("{parameter}: `{part}` {reason}")]
    InvalidPolicy {
        parameter: &'static str,
        part: String,
        reason: String,
    },
}

impl RefundError {
    /// The HTTP status: 422 for a request that cannot be valid, 403 for who may not, 409 for
    /// what the refund's state forbids, 500 for a policy the template got wrong.
    pub fn status(&self) -> u16 {
        use RefundError::*;
        match self {
            NotAllowed { .. } | OwnRefund { .. } => 403,
            AlreadyApprovedBy { .. }
            | IllegalTransition { .. }
            | AlreadyScreened
            | SettlementConflict { .. } => 409,
            InvalidPolicy { .. } => 500,
            _ => 422,
        }
    }

    /// The machine-readable code of the API's error body.
    pub fn code(&self) -> &'static str {
        use RefundError::*;
        match self {
            Invalid(_) => "validation_failed",
            NoLines | DuplicateLine(_) | LineNotOnOrder { .. } | QuantityExceedsLine { .. } => {
                "refund_lines_invalid"
            }
            OrderUnknown(_) | WrongOrder { .. } | SkuNotOnOrder { .. } => "order_mismatch",
            AmountNotPositive { .. } | AmountMissing => "amount_invalid",
            CurrencyMismatch { .. } => "currency_mismatch",
            AmountExceedsRefundable { .. } => "amount_exceeds_refundable",
            NotARefundResolution { .. } => "not_a_refund",
            NotAllowed { .. } => "forbidden",
            OwnRefund { .. } => "own_refund",
            AlreadyApprovedBy { .. } => "already_approved_by_you",
            IllegalTransition { .. } | AlreadyScreened => "illegal_transition",
            SettlementConflict { .. } => "settlement_conflict",
            InvalidPolicy { .. } => "invalid_refund_policy",
        }
    }
}

/// What the lines of a refund can still give back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refundable {
    /// Paid for the lines.
    pub paid_minor: i64,
    /// Refunded by the storefront, plus every Aftercare refund of these lines not rejected.
    pub refunded_minor: i64,
}

impl Refundable {
    pub fn remaining_minor(&self) -> i64 {
        self.paid_minor.saturating_sub(self.refunded_minor).max(0)
    }
}

/// What `lines` of `order` can still give back, after the storefront's recorded refunds and the
/// earlier Aftercare refunds in `earlier` (any refund of the order; rejected ones do not count,
/// pending, approved, paid and failed ones do, as they may still be paid).
///
/// Two simplifications, both on the safe side:
/// - A refund's amount is not split per line, so an earlier Aftercare refund sharing any line
///   with `lines` counts in full.
/// - The cap is per line, not per unit: refunding 1 of 2 units may take up to the line's price.
///
/// A storefront refund whose id is the provider reference of a paid Aftercare refund is that
/// same payout (an integration that refunds through the storefront) and counts once.
pub fn refundable(
    order: &OrderFile,
    lines: &[RefundLine],
    earlier: &[Refund],
) -> Result<Refundable, RefundError> {
    let store_order = order
        .order
        .as_ref()
        .ok_or_else(|| RefundError::OrderUnknown(order.reference.clone()))?;
    if lines.is_empty() {
        return Err(RefundError::NoLines);
    }
    let mut ids = HashSet::new();
    let mut paid_minor = 0_i64;
    for line in lines {
        if !ids.insert(line.line_item_id.as_str()) {
            return Err(RefundError::DuplicateLine(line.line_item_id.clone()));
        }
        let ordered = store_order
            .lines
            .iter()
            .find(|candidate| candidate.line_item_id == line.line_item_id)
            .ok_or_else(|| RefundError::LineNotOnOrder {
                line_item_id: line.line_item_id.clone(),
                order_reference: order.reference.clone(),
            })?;
        if let Some(quantity) = line.quantity
            && quantity.get() > ordered.quantity
        {
            return Err(RefundError::QuantityExceedsLine {
                line_item_id: line.line_item_id.clone(),
                requested: quantity.get(),
                ordered: ordered.quantity,
            });
        }
        // A negative line is bad data, not money owed by the customer.
        paid_minor = paid_minor.saturating_add(ordered.paid_minor.max(0));
    }
    let ours: Vec<&Refund> = earlier
        .iter()
        .filter(|r| r.order_reference == order.reference && r.status != RefundStatus::Rejected)
        .collect();
    let paid_out: HashSet<&str> = ours
        .iter()
        .filter_map(|r| match &r.settlement {
            Some(SettlementRecord {
                settlement: Settlement::Paid { provider_reference },
                ..
            }) => Some(provider_reference.as_str()),
            _ => None,
        })
        .collect();
    let by_storefront = order
        .refunds
        .iter()
        .filter(|r| !paid_out.contains(r.refund_id.as_str()))
        .flat_map(|r| &r.lines)
        .filter(|l| ids.contains(l.line_item_id.as_str()))
        .map(|l| l.amount_minor.max(0))
        .fold(0_i64, i64::saturating_add);
    let by_aftercare = ours
        .iter()
        .filter(|r| {
            r.lines
                .iter()
                .any(|l| ids.contains(l.line_item_id.as_str()))
        })
        .map(|r| r.amount_minor.max(0))
        .fold(0_i64, i64::saturating_add);
    Ok(Refundable {
        paid_minor,
        refunded_minor: by_storefront.saturating_add(by_aftercare),
    })
}

/// A refund: what was asked, who decided, what the payment integration reported, and the audit
/// trail of all of it. Only the methods below change a refund, each returning a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    refund_id: RefundId,
    #[serde(with = "case_id_text")]
    case_id: CaseId,
    order_reference: String,
    customer_id: String,
    lines: Vec<RefundLine>,
    amount_minor: i64,
    currency: Currency,
    reason: String,
    evidence: Evidence,
    requested_by: Actor,
    requested_at: DateTime<Utc>,
    status: RefundStatus,
    /// 1, or 2 above the second-approver limit: fixed when requested, so a policy change never
    /// moves a refund's bar while finance looks at it.
    approvals_required: u8,
    /// The approvals of the current round (cleared when a failed payout returns to finance;
    /// the audit trail keeps them).
    #[serde(default)]
    approvals: Vec<Approval>,
    /// When the refund was last granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    approved_at: Option<DateTime<Utc>>,
    /// The policy's verdict, once screened: why it auto-approved, or why finance must look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    screening: Option<AutoApproval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rejection: Option<Rejection>,
    /// The last report on the current grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    settlement: Option<SettlementRecord>,
    /// Every failed payout, oldest first.
    #[serde(default)]
    failures: Vec<SettlementRecord>,
    audit: Vec<AuditEntry>,
    /// Bumped by every change; each write is conditional on the version read.
    version: u64,
}

impl Refund {
    /// Requests a refund: checks `draft` against the order and the refunds before it (see
    /// [`refundable`]) and opens it as pending, needing the number of approvals `policy` asks
    /// for its amount. The auto-approval policy is a separate step, [`Refund::screen`].
    pub fn request(
        draft: RefundDraft,
        order: &OrderFile,
        earlier: &[Refund],
        policy: &RefundPolicy,
        now: DateTime<Utc>,
    ) -> Result<Transition, RefundError> {
        let requested_by = draft.requested_by;
        if !matches!(&requested_by, Actor::Staff { role, .. } if *role != Role::Customer) {
            return Err(RefundError::NotAllowed {
                actor: requested_by.to_string(),
                action: "request",
                who: "only staff resolving a case may",
            });
        }
        let customer_id = identifier("customer_id", &draft.customer_id)?;
        let reason = free_text("reason", &draft.reason)?;
        let lines = draft
            .lines
            .into_iter()
            .map(|line| {
                Ok(RefundLine {
                    line_item_id: identifier("lines[].line_item_id", &line.line_item_id)?,
                    quantity: line.quantity,
                })
            })
            .collect::<Result<Vec<_>, InvalidField>>()?;
        if lines.is_empty() {
            return Err(RefundError::NoLines);
        }
        if draft.amount_minor <= 0 {
            return Err(RefundError::AmountNotPositive {
                amount_minor: draft.amount_minor,
            });
        }
        let store_order = order
            .order
            .as_ref()
            .ok_or_else(|| RefundError::OrderUnknown(order.reference.clone()))?;
        if draft.currency != store_order.currency {
            return Err(RefundError::CurrencyMismatch {
                requested: draft.currency,
                order: store_order.currency,
                order_reference: order.reference.clone(),
            });
        }
        let refundable = refundable(order, &lines, earlier)?;
        if draft.amount_minor > refundable.remaining_minor() {
            return Err(RefundError::AmountExceedsRefundable {
                amount_minor: draft.amount_minor,
                refundable_minor: refundable.remaining_minor(),
                paid_minor: refundable.paid_minor,
                refunded_minor: refundable.refunded_minor,
                currency: draft.currency,
                lines: lines.iter().map(|l| l.line_item_id.clone()).collect(),
            });
        }
        let approvals_required = policy.approvals_required(draft.amount_minor, draft.currency);
        let refund = Refund {
            refund_id: RefundId::from_instant(now),
            case_id: draft.case_id,
            order_reference: order.reference.clone(),
            customer_id,
            lines,
            amount_minor: draft.amount_minor,
            currency: draft.currency,
            reason,
            evidence: draft.evidence,
            requested_by: requested_by.clone(),
            requested_at: now,
            status: RefundStatus::Pending,
            approvals_required,
            approvals: vec![],
            approved_at: None,
            screening: None,
            rejection: None,
            settlement: None,
            failures: vec![],
            audit: vec![],
            version: 0,
        };
        let detail = format!(
            "{} for case {}; {} needed",
            money(&refund.amount_minor, &refund.currency),
            refund.case_id,
            if approvals_required > 1 {
                "two finance approvals"
            } else {
                "one approval"
            }
        );
        let entry = AuditEntry {
            seq: 1,
            at: now,
            actor: requested_by,
            action: AuditAction::Requested,
            before: None,
            after: RefundStatus::Pending,
            detail,
        };
        let mut refund = refund;
        refund.audit.push(entry.clone());
        refund.version = 1;
        Ok(Transition { refund, entry })
    }

    /// Runs the auto-approval policy once, right after the request. `earlier_refunds_at`: when
    /// the customer's other refunds that count (not rejected) were requested. Approved: the
    /// policy's approval is the single approval the refund needs. Otherwise it stays pending and
    /// the entry lists every reason finance must decide.
    pub fn screen(
        &self,
        policy: &RefundPolicy,
        earlier_refunds_at: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Result<Transition, RefundError> {
        self.expect(RefundStatus::Pending, "screen")?;
        if self.screening.is_some() || !self.approvals.is_empty() {
            return Err(RefundError::AlreadyScreened);
        }
        let facts = AutoApprovalFacts::for_refund(self, earlier_refunds_at, now);
        let decision = match decide(policy, &facts) {
            // The policy changed since the request and now lets an amount through that was
            // fixed to need two approvers: the stricter bar stands.
            AutoApproval::Approved { .. } if self.approvals_required > 1 => {
                AutoApproval::NeedsFinance {
                    reasons: vec![FinanceReason::TwoApproversRequired {
                        amount_minor: self.amount_minor,
                        currency: self.currency,
                    }],
                }
            }
            decision => decision,
        };
        let mut next = self.clone();
        let (action, detail) = match &decision {
            AutoApproval::Approved { reason } => {
                next.status = RefundStatus::Approved;
                next.approvals.push(Approval {
                    by: Actor::Policy,
                    at: now,
                });
                next.approved_at = Some(now);
                (AuditAction::AutoApproved, reason.clone())
            }
            AutoApproval::NeedsFinance { reasons } => (
                AuditAction::QueuedForFinance,
                format!("finance decides: {}", join(reasons, "; ")),
            ),
        };
        next.screening = Some(decision);
        Ok(self.record(next, Actor::Policy, action, detail, now))
    }

    /// A finance member's approval. Four eyes: never the requester's own refund; above the
    /// second-approver limit two different members, the first approval leaving it pending.
    pub fn approve(&self, actor: &Actor, now: DateTime<Utc>) -> Result<Transition, RefundError> {
        let user_id = self.finance_member(actor, "approve")?;
        self.expect(RefundStatus::Pending, "approve")?;
        if self.requested_by.user_id() == Some(user_id) {
            return Err(RefundError::OwnRefund {
                user_id: user_id.to_owned(),
            });
        }
        if self
            .approvals
            .iter()
            .any(|a| a.by.user_id() == Some(user_id))
        {
            return Err(RefundError::AlreadyApprovedBy {
                user_id: user_id.to_owned(),
            });
        }
        let mut next = self.clone();
        next.approvals.push(Approval {
            by: actor.clone(),
            at: now,
        });
        let given = next.approvals.len();
        let required = usize::from(self.approvals_required.max(1));
        let (action, detail) = if given >= required {
            next.status = RefundStatus::Approved;
            next.approved_at = Some(now);
            // A new grant: reports on an earlier one are history now (kept in `failures`).
            next.settlement = None;
            let action = if given > 1 {
                AuditAction::SecondApproval
            } else {
                AuditAction::Approved
            };
            (
                action,
                format!("approval {given}/{required}; granted, payout to follow"),
            )
        } else {
            (
                AuditAction::Approved,
                format!(
                    "approval {given}/{required}; above the second-approver limit, another finance member must approve"
                ),
            )
        };
        Ok(self.record(next, actor.clone(), action, detail, now))
    }

    /// Finance refuses the refund; `reason` is shown to the customer.
    pub fn reject(
        &self,
        actor: &Actor,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Transition, RefundError> {
        self.finance_member(actor, "reject")?;
        self.expect(RefundStatus::Pending, "reject")?;
        let reason = free_text("reason", reason)?;
        let mut next = self.clone();
        next.status = RefundStatus::Rejected;
        next.rejection = Some(Rejection {
            reason: reason.clone(),
            by: actor.clone(),
            at: now,
        });
        Ok(self.record(next, actor.clone(), AuditAction::Rejected, reason, now))
    }

    /// The payment integration's report on an approved refund (or finance's, for a payout made
    /// by hand). A redelivery of the report already recorded changes nothing; another report
    /// on a paid refund is a conflict.
    pub fn settle(
        &self,
        actor: &Actor,
        settlement: Settlement,
        now: DateTime<Utc>,
    ) -> Result<Settled, RefundError> {
        if !(actor.is_finance() || *actor == Actor::PaymentIntegration) {
            return Err(RefundError::NotAllowed {
                actor: actor.to_string(),
                action: "settle",
                who: "only the payment integration or finance may",
            });
        }
        let settlement = settlement.checked()?;
        if let Some(recorded) = &self.settlement
            && recorded.settlement.same_report(&settlement)
        {
            return Ok(Settled::Unchanged);
        }
        match (self.status, &self.settlement) {
            (RefundStatus::Approved, _) => {}
            (RefundStatus::Paid, Some(recorded)) => {
                return Err(RefundError::SettlementConflict {
                    recorded: recorded.settlement.to_string(),
                    received: settlement.to_string(),
                });
            }
            (status, _) => {
                return Err(RefundError::IllegalTransition {
                    status,
                    action: "settle",
                });
            }
        }
        let record = SettlementRecord {
            settlement: settlement.clone(),
            by: actor.clone(),
            at: now,
        };
        let mut next = self.clone();
        let action = match settlement {
            Settlement::Paid { .. } => {
                next.status = RefundStatus::Paid;
                AuditAction::Paid
            }
            Settlement::Failed { .. } => {
                next.status = RefundStatus::Failed;
                next.failures.push(record.clone());
                AuditAction::Failed
            }
        };
        next.settlement = Some(record);
        let detail = settlement.to_string();
        Ok(Settled::Changed(Box::new(self.record(
            next,
            actor.clone(),
            action,
            detail,
            now,
        ))))
    }

    /// A failed payout goes back to the finance queue, its error kept: finance approves again
    /// (a new round, the same number of approvals) or rejects.
    pub fn return_to_finance(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Transition, RefundError> {
        if !(actor.is_finance() || *actor == Actor::PaymentIntegration) {
            return Err(RefundError::NotAllowed {
                actor: actor.to_string(),
                action: "return to finance",
                who: "only the payment integration or finance may",
            });
        }
        self.expect(RefundStatus::Failed, "return to finance")?;
        let mut next = self.clone();
        next.status = RefundStatus::Pending;
        next.approvals.clear();
        next.approved_at = None;
        let detail = match &self.settlement {
            Some(record) => format!("payout {}; waiting for finance", record.settlement),
            None => "payout failed; waiting for finance".to_owned(),
        };
        Ok(self.record(
            next,
            actor.clone(),
            AuditAction::ReturnedToFinance,
            detail,
            now,
        ))
    }

    /// The user id of a finance member, or why `actor` may not `action`.
    fn finance_member<'a>(
        &self,
        actor: &'a Actor,
        action: &'static str,
    ) -> Result<&'a str, RefundError> {
        match actor {
            Actor::Staff {
                user_id,
                role: Role::Finance,
            } => Ok(user_id),
            _ => Err(RefundError::NotAllowed {
                actor: actor.to_string(),
                action,
                who: "only finance may",
            }),
        }
    }

    fn expect(&self, status: RefundStatus, action: &'static str) -> Result<(), RefundError> {
        if self.status == status {
            Ok(())
        } else {
            Err(RefundError::IllegalTransition {
                status: self.status,
                action,
            })
        }
    }

    /// Appends the entry of the change from `self` to `next`.
    fn record(
        &self,
        mut next: Refund,
        actor: Actor,
        action: AuditAction,
        detail: String,
        now: DateTime<Utc>,
    ) -> Transition {
        let entry = AuditEntry {
            seq: u32::try_from(self.audit.len() + 1).unwrap_or(u32::MAX),
            at: now,
            actor,
            action,
            before: Some(self.status),
            after: next.status,
            detail,
        };
        next.audit.push(entry.clone());
        next.version = self.version + 1;
        Transition {
            refund: next,
            entry,
        }
    }

    pub fn id(&self) -> RefundId {
        self.refund_id
    }
    pub fn case_id(&self) -> CaseId {
        self.case_id
    }
    pub fn order_reference(&self) -> &str {
        &self.order_reference
    }
    pub fn customer_id(&self) -> &str {
        &self.customer_id
    }
    pub fn lines(&self) -> &[RefundLine] {
        &self.lines
    }
    pub fn amount_minor(&self) -> i64 {
        self.amount_minor
    }
    pub fn currency(&self) -> Currency {
        self.currency
    }
    pub fn reason(&self) -> &str {
        &self.reason
    }
    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }
    pub fn requested_by(&self) -> &Actor {
        &self.requested_by
    }
    pub fn requested_at(&self) -> DateTime<Utc> {
        self.requested_at
    }
    pub fn status(&self) -> RefundStatus {
        self.status
    }
    pub fn approvals_required(&self) -> u8 {
        self.approvals_required
    }
    pub fn approvals(&self) -> &[Approval] {
        &self.approvals
    }
    pub fn approved_at(&self) -> Option<DateTime<Utc>> {
        self.approved_at
    }
    pub fn screening(&self) -> Option<&AutoApproval> {
        self.screening.as_ref()
    }
    pub fn rejection(&self) -> Option<&Rejection> {
        self.rejection.as_ref()
    }
    pub fn settlement(&self) -> Option<&SettlementRecord> {
        self.settlement.as_ref()
    }
    pub fn failures(&self) -> &[SettlementRecord] {
        &self.failures
    }
    pub fn audit(&self) -> &[AuditEntry] {
        &self.audit
    }
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the refund was decided: granted (approved, paid or failed) or rejected. `None`
    /// while pending, including between two approvals.
    pub fn decided_at(&self) -> Option<DateTime<Utc>> {
        match self.status {
            RefundStatus::Pending => None,
            RefundStatus::Rejected => self.rejection.as_ref().map(|r| r.at),
            RefundStatus::Approved | RefundStatus::Paid | RefundStatus::Failed => self.approved_at,
        }
    }

    /// Who decided: the approvers of the grant, or the finance member who rejected.
    pub fn decided_by(&self) -> Vec<&Actor> {
        match self.status {
            RefundStatus::Pending => vec![],
            RefundStatus::Rejected => self.rejection.iter().map(|r| &r.by).collect(),
            RefundStatus::Approved | RefundStatus::Paid | RefundStatus::Failed => {
                self.approvals.iter().map(|a| &a.by).collect()
            }
        }
    }

    /// 1 for the first payout, one more after each failed one.
    pub fn payout_attempt(&self) -> u32 {
        u32::try_from(self.failures.len() + 1).unwrap_or(u32::MAX)
    }
}

/// An amount for people: `CNY 200.00`.
struct Money(i64, Currency);

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.1, decimal(self.0, self.1))
    }
}

fn money(minor: &i64, currency: &Currency) -> Money {
    Money(*minor, *currency)
}

/// Minor units as exact decimal text (see [`crate::money::format_amount`]).
pub(crate) fn decimal(minor: i64, currency: Currency) -> String {
    crate::money::format_amount(minor, currency)
}

fn join<T: fmt::Display>(items: &[T], separator: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

fn invalid(field: &'static str, reason: impl Into<String>) -> InvalidField {
    InvalidField {
        field,
        reason: reason.into(),
    }
}

/// An id from elsewhere (customer, line item, user, provider reference): trimmed, bounded, no
/// control characters.
fn identifier(field: &'static str, raw: &str) -> Result<String, InvalidField> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if trimmed.chars().count() > MAX_ID_CHARS {
        return Err(invalid(
            field,
            format!("must be at most {MAX_ID_CHARS} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// Words for people (a reason, a provider's error): trimmed, not empty, bounded.
fn free_text(field: &'static str, raw: &str) -> Result<String, InvalidField> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if trimmed.chars().count() > MAX_MESSAGE_CHARS {
        return Err(invalid(
            field,
            format!("must be at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// `CaseId` travels as its ULID text.
pub(crate) mod case_id_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::case::CaseId;

    pub fn serialize<S: Serializer>(id: &CaseId, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(id)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<CaseId, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|_| D::Error::custom(format!("`{text}` is not a case id")))
    }
}

#[cfg(test)]
pub(crate) mod tests;
