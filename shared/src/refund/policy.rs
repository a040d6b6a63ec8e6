//! The auto-approval policy: which refunds the policy grants without finance, and how many
//! finance approvers the others need.
//!
//! The policy grants a refund only when every condition holds: the amount is at most the
//! currency's auto limit, the complaint is a quality claim with its required photo attached, the
//! customer had fewer than [`MAX_RECENT_REFUNDS`] refunds in the last
//! [`RECENT_REFUND_WINDOW`], and the customer is not blocked. Anything else goes to finance with
//! every failed condition listed, so finance sees why a refund is in their queue.
//!
//! A currency without limits is one nobody set a bar for: amounts in it are never compared with
//! another currency's limit (20000 fen and 20000 yen are far apart). So it never auto-approves,
//! and every refund in it needs two finance approvers: a forgotten currency costs finance a
//! second look, never a large refund on one person's word. Configure the currency to relax it.

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Evidence, Refund, RefundError, identifier, money};
use crate::complaint::Category;
use crate::money::{Currency, parse_amount};

/// Refunds up to this many fen the policy may grant alone: CNY 200.00.
pub const DEFAULT_CNY_AUTO_LIMIT_MINOR: i64 = 20_000;
/// Refunds above this many fen need two finance approvers: CNY 2,000.00.
pub const DEFAULT_CNY_SECOND_APPROVER_LIMIT_MINOR: i64 = 200_000;
/// How far back a customer's earlier refunds count.
pub const RECENT_REFUND_WINDOW: Duration = Duration::days(90);
/// A customer with this many refunds in the window, or more, goes to finance.
pub const MAX_RECENT_REFUNDS: u32 = 3;

/// The names the parameters have in errors (the template's parameters they come from).
const AUTO_LIMITS: &str = "auto-approval limits";
const SECOND_APPROVER_LIMITS: &str = "second-approver limits";
const BLOCKED_CUSTOMERS: &str = "blocked customers";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundPolicy {
    /// Per currency, in minor units: at most this, the policy may grant the refund.
    pub auto_limits: HashMap<Currency, i64>,
    /// Per currency, in minor units: above this, two different finance members approve.
    /// A currency missing here needs two for every refund.
    pub second_approver_limits: HashMap<Currency, i64>,
    pub recent_window: Duration,
    /// Fewer refunds than this in `recent_window` qualify.
    pub max_recent_refunds: u32,
    /// Customer ids the policy never grants a refund to.
    pub blocked_customers: HashSet<String>,
}

impl Default for RefundPolicy {
    /// CNY only: auto up to CNY 200.00, two approvers above CNY 2,000.00; 90 days, 3 refunds.
    fn default() -> Self {
        let cny = Currency::parse("CNY").expect("CNY is a currency code");
        RefundPolicy {
            auto_limits: HashMap::from([(cny, DEFAULT_CNY_AUTO_LIMIT_MINOR)]),
            second_approver_limits: HashMap::from([(cny, DEFAULT_CNY_SECOND_APPROVER_LIMIT_MINOR)]),
            recent_window: RECENT_REFUND_WINDOW,
            max_recent_refunds: MAX_RECENT_REFUNDS,
            blocked_customers: HashSet::new(),
        }
    }
}

impl RefundPolicy {
    /// A policy from the template's parameters: limits as `"CNY:200.00,USD:30.00"` (decimal
    /// amounts in each currency's own unit) and a comma-separated block list. An empty text
    /// configures nothing: no currency auto-approves, or every refund needs two approvers, or
    /// nobody is blocked (the caller uses [`RefundPolicy::default`] for an unset parameter).
    /// Each currency with an auto limit needs a second-approver limit at least as high, so
    /// the policy's approval is always the single approval a refund needs.
    pub fn parse(
        auto_limits: &str,
        second_approver_limits: &str,
        blocked_customers: &str,
    ) -> Result<RefundPolicy, RefundError> {
        let policy = RefundPolicy {
            auto_limits: parse_limits(AUTO_LIMITS, auto_limits)?,
            second_approver_limits: parse_limits(SECOND_APPROVER_LIMITS, second_approver_limits)?,
            blocked_customers: parse_block_list(blocked_customers)?,
            ..RefundPolicy::default()
        };
        for (&currency, &auto) in &policy.auto_limits {
            let bad = |reason: String| RefundError::InvalidPolicy {
                parameter: AUTO_LIMITS,
                part: format!("{currency}:{}", super::decimal(auto, currency)),
                reason,
            };
            match policy.second_approver_limit(currency) {
                None => {
                    return Err(bad(format!(
                        "has no second-approver limit for {currency}; without one every {currency} refund needs two approvers, so none can be auto-approved"
                    )));
                }
                Some(second) if second < auto => {
                    return Err(bad(format!(
                        "is above the second-approver limit {}; the policy's approval counts as one",
                        money(&second, &currency)
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(policy)
    }

    pub fn auto_limit(&self, currency: Currency) -> Option<i64> {
        self.auto_limits.get(&currency).copied()
    }

    pub fn second_approver_limit(&self, currency: Currency) -> Option<i64> {
        self.second_approver_limits.get(&currency).copied()
    }

    /// 1 up to and including the currency's second-approver limit, else 2 (also for a currency
    /// without one).
    pub fn approvals_required(&self, amount_minor: i64, currency: Currency) -> u8 {
        match self.second_approver_limit(currency) {
            Some(limit) if amount_minor <= limit => 1,
            _ => 2,
        }
    }

    pub fn is_blocked(&self, customer_id: &str) -> bool {
        self.blocked_customers.contains(customer_id.trim())
    }
}

/// `"CNY:200.00,USD:30.00"` to minor units per currency. Spaces around entries are ignored;
/// an empty entry, a currency named twice, or an amount the currency cannot hold exactly is an
/// error naming the entry.
pub fn parse_limits(
    parameter: &'static str,
    raw: &str,
) -> Result<HashMap<Currency, i64>, RefundError> {
    let mut limits = HashMap::new();
    if raw.trim().is_empty() {
        return Ok(limits);
    }
    for part in raw.split(',') {
        let entry = part.trim();
        let bad = |reason: String| RefundError::InvalidPolicy {
            parameter,
            part: entry.to_owned(),
            reason,
        };
        if entry.is_empty() {
            return Err(bad(
                "is an empty entry; write `CUR:amount,CUR:amount`".into()
            ));
        }
        let (code, amount) = entry
            .split_once(':')
            .ok_or_else(|| bad("is not `CUR:amount`, such as `CNY:200.00`".into()))?;
        let currency = Currency::parse(code.trim()).map_err(|e| bad(e.to_string()))?;
        let minor = parse_amount(amount, currency).map_err(|e| bad(e.to_string()))?;
        if limits.insert(currency, minor).is_some() {
            return Err(bad(format!("names {currency} a second time")));
        }
    }
    Ok(limits)
}

/// `"c-1, c-2"` to the set of customer ids; an empty entry or an unusable id is an error naming
/// it.
pub fn parse_block_list(raw: &str) -> Result<HashSet<String>, RefundError> {
    if raw.trim().is_empty() {
        return Ok(HashSet::new());
    }
    raw.split(',')
        .map(|part| {
            identifier("customer_id", part).map_err(|e| RefundError::InvalidPolicy {
                parameter: BLOCKED_CUSTOMERS,
                part: part.trim().to_owned(),
                reason: if part.trim().is_empty() {
                    "is an empty entry; write `id,id`".into()
                } else {
                    format!("is not a customer id: {}", e.reason)
                },
            })
        })
        .collect()
}

/// What the policy looks at for one refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoApprovalFacts {
    pub amount_minor: i64,
    pub currency: Currency,
    pub evidence: Evidence,
    pub customer_id: String,
    /// When the customer's other refunds that count (not rejected, not this one) were
    /// requested; those within the policy's window count.
    pub earlier_refunds_at: Vec<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

impl AutoApprovalFacts {
    pub fn for_refund(
        refund: &Refund,
        earlier_refunds_at: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Self {
        AutoApprovalFacts {
            amount_minor: refund.amount_minor(),
            currency: refund.currency(),
            evidence: refund.evidence().clone(),
            customer_id: refund.customer_id().to_owned(),
            earlier_refunds_at: earlier_refunds_at.to_vec(),
            now,
        }
    }

    /// Refunds requested at or after `now - window` (a little after `now`, clock skew between
    /// writers, still counts).
    pub fn recent_refunds(&self, window: Duration) -> u32 {
        let since = self.now - window;
        let count = self
            .earlier_refunds_at
            .iter()
            .filter(|at| **at >= since)
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

/// A condition of auto-approval that failed: why finance must decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum FinanceReason {
    NoAutoLimit {
        currency: Currency,
    },
    AboveAutoLimit {
        amount_minor: i64,
        limit_minor: i64,
        currency: Currency,
    },
    NotAQualityClaim {
        category: Category,
    },
    PhotoMissing {
        category: Category,
    },
    FrequentRefunds {
        recent: u32,
        max: u32,
        window_days: i64,
    },
    CustomerBlocked,
    /// The refund was fixed to need two approvers when requested.
    TwoApproversRequired {
        amount_minor: i64,
        currency: Currency,
    },
}

impl fmt::Display for FinanceReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FinanceReason::NoAutoLimit { currency } => {
                write!(f, "no auto-approval limit is set for {currency}")
            }
            FinanceReason::AboveAutoLimit {
                amount_minor,
                limit_minor,
                currency,
            } => write!(
                f,
                "{} is above the auto-approval limit of {}",
                money(amount_minor, currency),
                money(limit_minor, currency)
            ),
            FinanceReason::NotAQualityClaim { category } => {
                write!(f, "{category} is not a quality claim")
            }
            FinanceReason::PhotoMissing { category } => {
                write!(f, "{category}: a photo is required and none is attached")
            }
            FinanceReason::FrequentRefunds {
                recent,
                max,
                window_days,
            } => write!(
                f,
                "the customer had {recent} refunds in the last {window_days} days (auto-approval needs fewer than {max})"
            ),
            FinanceReason::CustomerBlocked => {
                f.write_str("the customer is on the refund block list")
            }
            FinanceReason::TwoApproversRequired {
                amount_minor,
                currency,
            } => write!(
                f,
                "{} needs two finance approvers",
                money(amount_minor, currency)
            ),
        }
    }
}

/// The policy's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AutoApproval {
    /// `reason` starts with `auto:` and lists every condition that held.
    Approved { reason: String },
    /// Every condition that failed, in the order the policy checks them.
    NeedsFinance { reasons: Vec<FinanceReason> },
}

/// Whether the policy grants a refund without finance.
pub fn decide(policy: &RefundPolicy, facts: &AutoApprovalFacts) -> AutoApproval {
    let mut held = Vec::new();
    let mut failed = Vec::new();
    let currency = facts.currency;
    match policy.auto_limit(currency) {
        None => failed.push(FinanceReason::NoAutoLimit { currency }),
        Some(limit) if facts.amount_minor > limit => failed.push(FinanceReason::AboveAutoLimit {
            amount_minor: facts.amount_minor,
            limit_minor: limit,
            currency,
        }),
        Some(limit) => held.push(format!(
            "{} is within the auto-approval limit of {}",
            money(&facts.amount_minor, &currency),
            money(&limit, &currency)
        )),
    }
    let category = facts.evidence.category;
    if category.is_quality_claim() {
        held.push(format!("{category} is a quality claim"));
    } else {
        failed.push(FinanceReason::NotAQualityClaim { category });
    }
    if !facts.evidence.photo_needed() {
        held.push("no photo needed".into());
    } else if facts.evidence.photo_evidence_complete() {
        held.push(format!(
            "the required photo is attached ({} photos)",
            facts.evidence.photos_attached
        ));
    } else {
        failed.push(FinanceReason::PhotoMissing { category });
    }
    let recent = facts.recent_refunds(policy.recent_window);
    let window_days = policy.recent_window.num_days();
    if recent < policy.max_recent_refunds {
        held.push(format!(
            "{recent} earlier refunds in the last {window_days} days (fewer than {})",
            policy.max_recent_refunds
        ));
    } else {
        failed.push(FinanceReason::FrequentRefunds {
            recent,
            max: policy.max_recent_refunds,
            window_days,
        });
    }
    if policy.is_blocked(&facts.customer_id) {
        failed.push(FinanceReason::CustomerBlocked);
    } else {
        held.push("the customer is not blocked".into());
    }
    if failed.is_empty() {
        AutoApproval::Approved {
            reason: format!("auto: {}", held.join("; ")),
        }
    } else {
        AutoApproval::NeedsFinance { reasons: failed }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 11, 8, 0, 0).unwrap()
    }

    /// A refund every condition lets through: CNY 150.00 for a leaking bottle with a photo.
    fn facts() -> AutoApprovalFacts {
        AutoApprovalFacts {
            amount_minor: 15_000,
            currency: currency("CNY"),
            evidence: Evidence {
                category: Category::DamagedInTransit,
                photo_required: true,
                photos_attached: 2,
            },
            customer_id: "c-1".into(),
            earlier_refunds_at: vec![],
            now: now(),
        }
    }

    fn reasons(policy: &RefundPolicy, facts: &AutoApprovalFacts) -> Vec<FinanceReason> {
        match decide(policy, facts) {
            AutoApproval::Approved { reason } => panic!("approved: {reason}"),
            AutoApproval::NeedsFinance { reasons } => reasons,
        }
    }

    fn approved(policy: &RefundPolicy, facts: &AutoApprovalFacts) -> bool {
        matches!(decide(policy, facts), AutoApproval::Approved { .. })
    }

    #[test]
    fn the_auto_limit_includes_its_own_amount() {
        let policy = RefundPolicy::default();
        let at_limit = AutoApprovalFacts {
            amount_minor: 20_000,
            ..facts()
        };
        let AutoApproval::Approved { reason } = decide(&policy, &at_limit) else {
            panic!("CNY 200.00 is at the limit");
        };
        assert_eq!(
            reason,
            "auto: CNY 200.00 is within the auto-approval limit of CNY 200.00; \
             damaged_in_transit is a quality claim; the required photo is attached (2 photos); \
             0 earlier refunds in the last 90 days (fewer than 3); the customer is not blocked"
        );
        let one_fen_more = AutoApprovalFacts {
            amount_minor: 20_001,
            ..facts()
        };
        assert_eq!(
            reasons(&policy, &one_fen_more),
            vec![FinanceReason::AboveAutoLimit {
                amount_minor: 20_001,
                limit_minor: 20_000,
                currency: currency("CNY")
            }]
        );
    }

    #[test]
    fn fewer_than_three_refunds_in_ninety_days_qualify() {
        let policy = RefundPolicy::default();
        let two = AutoApprovalFacts {
            earlier_refunds_at: vec![
                now() - Duration::days(90),
                now() - Duration::days(1),
                // Outside the window: does not count.
                now() - Duration::days(90) - Duration::seconds(1),
            ],
            ..facts()
        };
        assert_eq!(two.recent_refunds(RECENT_REFUND_WINDOW), 2);
        assert!(approved(&policy, &two));
        let mut three = two.clone();
        three.earlier_refunds_at.push(now() - Duration::days(30));
        assert_eq!(
            reasons(&policy, &three),
            vec![FinanceReason::FrequentRefunds {
                recent: 3,
                max: 3,
                window_days: 90
            }]
        );
    }

    #[test]
    fn blocked_customers_go_to_finance() {
        let policy = RefundPolicy::parse("CNY:200", "CNY:2000", "c-9, c-1").unwrap();
        assert_eq!(
            reasons(&policy, &facts()),
            vec![FinanceReason::CustomerBlocked]
        );
        let other = AutoApprovalFacts {
            customer_id: "c-2".into(),
            ..facts()
        };
        assert!(approved(&policy, &other));
    }

    #[test]
    fn a_required_photo_must_be_attached() {
        let policy = RefundPolicy::default();
        let no_photo = AutoApprovalFacts {
            evidence: Evidence {
                photos_attached: 0,
                ..facts().evidence
            },
            ..facts()
        };
        assert_eq!(
            reasons(&policy, &no_photo),
            vec![FinanceReason::PhotoMissing {
                category: Category::DamagedInTransit
            }]
        );
        // The category asks for a photo even when the remedy data says otherwise.
        let stale = AutoApprovalFacts {
            evidence: Evidence {
                category: Category::QualityDefect,
                photo_required: false,
                photos_attached: 0,
            },
            ..facts()
        };
        assert!(!approved(&policy, &stale));
        // A missing item is a quality claim proven without a photo.
        let missing = AutoApprovalFacts {
            evidence: Evidence {
                category: Category::MissingItem,
                photo_required: false,
                photos_attached: 0,
            },
            ..facts()
        };
        assert!(approved(&policy, &missing));
    }

    #[test]
    fn only_quality_claims_are_auto_approved() {
        let policy = RefundPolicy::default();
        let no_reason_return = AutoApprovalFacts {
            evidence: Evidence {
                category: Category::NotAsExpected,
                photo_required: false,
                photos_attached: 0,
            },
            ..facts()
        };
        assert_eq!(
            reasons(&policy, &no_reason_return),
            vec![FinanceReason::NotAQualityClaim {
                category: Category::NotAsExpected
            }]
        );
    }

    #[test]
    fn a_currency_without_limits_never_auto_approves_and_needs_two_approvers() {
        let policy = RefundPolicy::default();
        let usd = AutoApprovalFacts {
            amount_minor: 1,
            currency: currency("USD"),
            ..facts()
        };
        assert_eq!(
            reasons(&policy, &usd),
            vec![FinanceReason::NoAutoLimit {
                currency: currency("USD")
            }]
        );
        assert_eq!(policy.approvals_required(1, currency("USD")), 2);
    }

    #[test]
    fn every_failed_condition_is_listed_in_order() {
        let policy = RefundPolicy::parse("CNY:200", "CNY:2000", "c-1").unwrap();
        let everything_wrong = AutoApprovalFacts {
            amount_minor: 50_000,
            evidence: Evidence {
                category: Category::Inquiry,
                photo_required: true,
                photos_attached: 0,
            },
            earlier_refunds_at: vec![now(); 4],
            ..facts()
        };
        let reasons = reasons(&policy, &everything_wrong);
        let messages: Vec<String> = reasons.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            vec![
                "CNY 500.00 is above the auto-approval limit of CNY 200.00",
                "inquiry is not a quality claim",
                "inquiry: a photo is required and none is attached",
                "the customer had 4 refunds in the last 90 days (auto-approval needs fewer than 3)",
                "the customer is on the refund block list",
            ]
        );
        assert_eq!(
            serde_json::to_value(&reasons[0]).unwrap(),
            serde_json::json!({"code": "above_auto_limit", "amount_minor": 50000,
                "limit_minor": 20000, "currency": "CNY"})
        );
    }

    #[test]
    fn the_second_approver_limit_includes_its_own_amount() {
        let policy = RefundPolicy::default();
        let cny = currency("CNY");
        assert_eq!(policy.approvals_required(200_000, cny), 1);
        assert_eq!(policy.approvals_required(200_001, cny), 2);
    }

    #[test]
    fn parses_the_template_parameters() {
        let policy =
            RefundPolicy::parse(" CNY:200.00, usd:30 ", "CNY:2000,USD:300.5,JPY:50000", "")
                .unwrap();
        assert_eq!(policy.auto_limit(currency("CNY")), Some(20_000));
        assert_eq!(policy.auto_limit(currency("USD")), Some(3_000));
        assert_eq!(policy.auto_limit(currency("JPY")), None);
        assert_eq!(policy.second_approver_limit(currency("USD")), Some(30_050));
        assert_eq!(policy.second_approver_limit(currency("JPY")), Some(50_000));
        assert!(policy.blocked_customers.is_empty());
        assert_eq!(policy.recent_window, RECENT_REFUND_WINDOW);
        let none = RefundPolicy::parse("", "", "").unwrap();
        assert!(none.auto_limits.is_empty() && none.second_approver_limits.is_empty());
        assert_eq!(
            parse_block_list(" c-1 ,c-2").unwrap(),
            HashSet::from(["c-1".to_owned(), "c-2".to_owned()])
        );
    }

    #[test]
    fn parse_errors_name_the_bad_part() {
        let error = |auto: &str, second: &str, blocked: &str| {
            RefundPolicy::parse(auto, second, blocked)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error("CNY:200,USD 30", "CNY:2000,USD:300", ""),
            "auto-approval limits: `USD 30` is not `CUR:amount`, such as `CNY:200.00`"
        );
        assert_eq!(
            error("CNY:200,,USD:30", "", ""),
            "auto-approval limits: `` is an empty entry; write `CUR:amount,CUR:amount`"
        );
        assert_eq!(
            error("CNY:200", "CNY:2000,RMBX:1", ""),
            "second-approver limits: `RMBX:1` currency \"RMBX\" is not a three-letter ISO 4217 code"
        );
        assert_eq!(
            error("CNY:2.001", "CNY:2000", ""),
            "auto-approval limits: `CNY:2.001` amount \"2.001\" has more decimal places than CNY has (2); refusing to round"
        );
        assert_eq!(
            error("CNY:abc", "CNY:2000", ""),
            "auto-approval limits: `CNY:abc` amount \"abc\" is not a plain decimal number (digits, optionally a point and digits)"
        );
        assert_eq!(
            error("", "CNY:2000,cny:3000", ""),
            "second-approver limits: `cny:3000` names CNY a second time"
        );
        assert_eq!(
            error("CNY:-1", "CNY:2000", ""),
            "auto-approval limits: `CNY:-1` amount \"-1\" is negative"
        );
        assert_eq!(
            error("", "", "c-1,,c-2"),
            "blocked customers: `` is an empty entry; write `id,id`"
        );
        assert_eq!(
            error("", "", "c-1,c\u{7}2"),
            "blocked customers: `c\u{7}2` is not a customer id: must not contain control characters"
        );
    }

    #[test]
    fn auto_limits_need_a_second_approver_limit_at_least_as_high() {
        let err = RefundPolicy::parse("CNY:200,USD:30", "CNY:2000", "").unwrap_err();
        assert!(matches!(
            &err,
            RefundError::InvalidPolicy { parameter: "auto-approval limits", part, .. } if part == "USD:30.00"
        ));
        assert_eq!(err.status(), 500);
        let err = RefundPolicy::parse("CNY:2000.01", "CNY:2000", "").unwrap_err();
        assert_eq!(
            err.to_string(),
            "auto-approval limits: `CNY:2000.01` is above the second-approver limit CNY 2000.00; the policy's approval counts as one"
        );
        assert!(RefundPolicy::parse("CNY:2000", "CNY:2000", "").is_ok());
    }
}
