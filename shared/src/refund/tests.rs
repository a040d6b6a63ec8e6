//! Tests of the refund state machine, and the fixtures the submodules' tests share.

use chrono::{Duration, TimeZone};

use super::*;
use crate::storefront::{Platform, RecordedRefund, RefundedLine, StoreOrder, StoreOrderLine};

pub(crate) fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 11, 8, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn cny() -> Currency {
    Currency::parse("CNY").unwrap()
}

pub(crate) fn finance(user_id: &str) -> Actor {
    Actor::staff(user_id, Role::Finance)
}

fn agent() -> Actor {
    Actor::staff("a-1", Role::Agent)
}

const ORDER: &str = "shopify:brand.myshopify.com:1001";

fn line(id: &str, sku: &str, quantity: u32, paid_minor: i64) -> StoreOrderLine {
    StoreOrderLine {
        line_item_id: id.into(),
        sku: Some(sku.into()),
        title: sku.into(),
        quantity,
        unit_price_minor: paid_minor / i64::from(quantity),
        paid_minor,
        batch: None,
    }
}

/// Order 1001: two serums (CNY 398.00), a cream (CNY 100.00), a device (CNY 5,000.00).
fn order_file(refunds: Vec<RecordedRefund>) -> OrderFile {
    OrderFile {
        reference: ORDER.into(),
        order: Some(StoreOrder {
            platform: Platform::Shopify,
            store: "brand.myshopify.com".into(),
            order_id: "1001".into(),
            order_number: Some("#1001".into()),
            customer_id: Some("c-1".into()),
            customer_email: None,
            customer_locale: None,
            currency: cny(),
            lines: vec![
                line("11", "SERUM-30", 2, 39_800),
                line("12", "CREAM-50", 1, 10_000),
                line("13", "DEVICE-1", 1, 500_000),
            ],
            placed_at: t(-10_000),
            source_updated_at: t(-10_000),
            delivered_at: None,
            opened_exclusion_consented: false,
        }),
        deliveries: vec![],
        refunds,
    }
}

fn storefront_refund(id: &str, line_item_id: &str, amount_minor: i64) -> RecordedRefund {
    RecordedRefund {
        refund_id: id.into(),
        order_id: "1001".into(),
        lines: vec![RefundedLine {
            line_item_id: line_item_id.into(),
            quantity: 1,
            amount_minor,
        }],
        amount_minor,
        currency: cny(),
        created_at: t(-100),
    }
}

fn refund_line(id: &str) -> RefundLine {
    RefundLine {
        line_item_id: id.into(),
        quantity: None,
    }
}

fn draft(amount_minor: i64, lines: &[&str]) -> RefundDraft {
    RefundDraft {
        case_id: CaseId::from_instant(t(-60)),
        customer_id: "c-1".into(),
        lines: lines.iter().map(|id| refund_line(id)).collect(),
        amount_minor,
        currency: cny(),
        reason: "The serum bottle arrived broken.".into(),
        evidence: Evidence {
            category: Category::DamagedInTransit,
            photo_required: true,
            photos_attached: 1,
        },
        requested_by: agent(),
    }
}

fn request(draft: RefundDraft, earlier: &[Refund]) -> Result<Refund, RefundError> {
    Refund::request(
        draft,
        &order_file(vec![]),
        earlier,
        &RefundPolicy::default(),
        t(0),
    )
    .map(|transition| transition.refund)
}

/// A pending refund on the device line, requested by agent a-1 at t(0), not screened.
pub(crate) fn pending(amount_minor: i64) -> Refund {
    pending_with(amount_minor, |_| {})
}

pub(crate) fn pending_with(amount_minor: i64, change: impl FnOnce(&mut RefundDraft)) -> Refund {
    let mut draft = draft(amount_minor, &["13"]);
    change(&mut draft);
    request(draft, &[]).unwrap()
}

fn paid_report(reference: &str) -> Settlement {
    Settlement::Paid {
        provider_reference: reference.into(),
    }
}

fn failed_report(reference: &str) -> Settlement {
    Settlement::Failed {
        provider_reference: reference.into(),
        error: "account closed".into(),
    }
}

fn settled(refund: &Refund, settlement: Settlement, at: i64) -> Refund {
    match refund
        .settle(&Actor::PaymentIntegration, settlement, t(at))
        .unwrap()
    {
        Settled::Changed(transition) => transition.refund,
        Settled::Unchanged => panic!("unchanged"),
    }
}

fn approved() -> Refund {
    pending(15_000)
        .approve(&finance("f-1"), t(10))
        .unwrap()
        .refund
}

fn failed() -> Refund {
    settled(&approved(), failed_report("pay-1"), 20)
}

#[test]
fn a_request_opens_a_pending_refund_with_its_first_entry() {
    let transition = Refund::request(
        draft(15_000, &["11"]),
        &order_file(vec![]),
        &[],
        &RefundPolicy::default(),
        t(0),
    )
    .unwrap();
    let refund = &transition.refund;
    assert_eq!(refund.status(), RefundStatus::Pending);
    assert_eq!(refund.order_reference(), ORDER);
    assert_eq!((refund.amount_minor(), refund.currency()), (15_000, cny()));
    assert_eq!(refund.approvals_required(), 1);
    assert_eq!(refund.version(), 1);
    assert_eq!(refund.audit(), std::slice::from_ref(&transition.entry));
    assert_eq!(
        transition.entry,
        AuditEntry {
            seq: 1,
            at: t(0),
            actor: agent(),
            action: AuditAction::Requested,
            before: None,
            after: RefundStatus::Pending,
            detail: format!(
                "CNY 150.00 for case {}; one approval needed",
                refund.case_id()
            ),
        }
    );
    assert_eq!(refund.id().to_string().parse::<RefundId>(), Ok(refund.id()));
    assert_eq!(
        "not-a-ulid".parse::<RefundId>().unwrap_err().field,
        "refund_id"
    );
}

#[test]
fn refunds_serialise_with_snake_case_statuses_and_round_trip() {
    let refund = settled(&approved(), paid_report("pay-1"), 20);
    let json = serde_json::to_value(&refund).unwrap();
    assert_eq!(json["status"], "paid");
    assert_eq!(json["refund_id"], refund.id().to_string());
    assert_eq!(json["case_id"], refund.case_id().to_string());
    assert_eq!(json["requested_by"], "agent:a-1");
    assert_eq!(json["approvals"][0]["by"], "finance:f-1");
    assert_eq!(
        json["settlement"]["settlement"],
        serde_json::json!({"outcome": "paid", "provider_reference": "pay-1"})
    );
    assert_eq!(json["audit"][2]["action"], "paid");
    assert_eq!(json["audit"][2]["before"], "approved");
    assert_eq!(json["evidence"]["category"], "damaged_in_transit");
    assert_eq!(serde_json::from_value::<Refund>(json).unwrap(), refund);
    // Index keys that do not apply yet are absent, not null.
    let pending = serde_json::to_value(pending(15_000)).unwrap();
    assert!(pending.get("approved_at").is_none());
    assert!(pending["audit"][0].get("before").is_none());
    for actor in [finance("f-1"), Actor::Policy, Actor::PaymentIntegration] {
        assert_eq!(actor.to_string().parse::<Actor>(), Ok(actor));
    }
    assert!("root:x".parse::<Actor>().is_err());
    assert!("finance:".parse::<Actor>().is_err());
}

#[test]
fn the_amount_must_be_more_than_zero() {
    for amount in [0, -1] {
        assert_eq!(
            request(draft(amount, &["11"]), &[]),
            Err(RefundError::AmountNotPositive {
                amount_minor: amount
            })
        );
    }
}

#[test]
fn the_currency_must_be_the_order_s() {
    let usd = RefundDraft {
        currency: Currency::parse("USD").unwrap(),
        ..draft(100, &["11"])
    };
    let err = request(usd, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the refund is in USD but order shopify:brand.myshopify.com:1001 was paid in CNY"
    );
    assert_eq!((err.status(), err.code()), (422, "currency_mismatch"));
}

#[test]
fn the_lines_must_be_on_the_order() {
    assert_eq!(
        request(draft(100, &["11", "99"]), &[]),
        Err(RefundError::LineNotOnOrder {
            line_item_id: "99".into(),
            order_reference: ORDER.into()
        })
    );
    assert_eq!(request(draft(100, &[]), &[]), Err(RefundError::NoLines));
    assert_eq!(
        request(draft(100, &["11", " 11 "]), &[]),
        Err(RefundError::DuplicateLine("11".into()))
    );
    let three_serums = RefundDraft {
        lines: vec![RefundLine {
            line_item_id: "11".into(),
            quantity: Some(Quantity::parse(3).unwrap()),
        }],
        ..draft(100, &[])
    };
    assert_eq!(
        request(three_serums, &[]),
        Err(RefundError::QuantityExceedsLine {
            line_item_id: "11".into(),
            requested: 3,
            ordered: 2
        })
    );
    let no_order = OrderFile {
        order: None,
        ..order_file(vec![])
    };
    assert_eq!(
        Refund::request(
            draft(100, &["11"]),
            &no_order,
            &[],
            &RefundPolicy::default(),
            t(0)
        )
        .unwrap_err(),
        RefundError::OrderUnknown(ORDER.into())
    );
}

#[test]
fn the_amount_is_capped_by_what_is_left_after_earlier_refunds() {
    // Paid 398.00 for the serums; the storefront refunded 100.00 of it.
    let order = order_file(vec![storefront_refund("shop-r1", "11", 10_000)]);
    let ask = |amount, earlier: &[Refund]| {
        Refund::request(
            draft(amount, &["11"]),
            &order,
            earlier,
            &RefundPolicy::default(),
            t(0),
        )
        .map(|transition| transition.refund)
    };
    assert!(ask(29_800, &[]).is_ok());
    // An earlier Aftercare refund of 50.00 on the same line, still pending.
    let earlier = ask(5_000, &[]).unwrap();
    assert!(ask(24_800, std::slice::from_ref(&earlier)).is_ok());
    let err = ask(24_801, std::slice::from_ref(&earlier)).unwrap_err();
    assert_eq!(
        err,
        RefundError::AmountExceedsRefundable {
            amount_minor: 24_801,
            refundable_minor: 24_800,
            paid_minor: 39_800,
            refunded_minor: 15_000,
            currency: cny(),
            lines: vec!["11".into()],
        }
    );
    assert_eq!(
        err.to_string(),
        "amount CNY 248.01 exceeds the CNY 248.00 still refundable on lines 11 \
         (paid CNY 398.00, refunded or being refunded CNY 150.00)"
    );
    assert_eq!(
        (err.status(), err.code()),
        (422, "amount_exceeds_refundable")
    );
    // A rejected refund gave nothing back.
    let rejected = earlier
        .reject(&finance("f-1"), "Not covered.", t(5))
        .unwrap()
        .refund;
    assert!(ask(29_800, std::slice::from_ref(&rejected)).is_ok());
    // A refund of another line, or of another order, does not count.
    let other_line = Refund::request(
        draft(5_000, &["12"]),
        &order,
        &[],
        &RefundPolicy::default(),
        t(0),
    )
    .unwrap()
    .refund;
    let mut other_order = earlier.clone();
    other_order.order_reference = "shopify:brand.myshopify.com:1002".into();
    assert!(ask(29_800, &[other_line, other_order]).is_ok());
}

#[test]
fn a_payout_the_storefront_recorded_too_counts_once() {
    // Aftercare paid 100.00 on the serums through the storefront, which reported it back.
    let ours = settled(
        &pending_with(10_000, |d| d.lines = vec![refund_line("11")])
            .approve(&finance("f-1"), t(1))
            .unwrap()
            .refund,
        paid_report("shop-r1"),
        2,
    );
    let order = order_file(vec![storefront_refund("shop-r1", "11", 10_000)]);
    let left = refundable(&order, &[refund_line("11")], std::slice::from_ref(&ours)).unwrap();
    assert_eq!(left.remaining_minor(), 29_800);
}

#[test]
fn the_requester_never_approves_their_own_refund() {
    let refund = pending(15_000);
    // The agent who resolved the case, also holding a finance role.
    assert_eq!(
        refund.approve(&Actor::staff("a-1", Role::Finance), t(1)),
        Err(RefundError::OwnRefund {
            user_id: "a-1".into()
        })
    );
    let err = refund
        .approve(&Actor::staff("s-1", Role::Supervisor), t(1))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "supervisor:s-1 may not approve a refund: only finance may"
    );
    assert_eq!(err.status(), 403);
    assert!(matches!(
        refund.reject(&agent(), "no", t(1)),
        Err(RefundError::NotAllowed {
            action: "reject",
            ..
        })
    ));
    assert!(matches!(
        refund.approve(&Actor::Policy, t(1)),
        Err(RefundError::NotAllowed { .. })
    ));
}

#[test]
fn above_the_second_approver_limit_two_different_members_approve() {
    let refund = pending(200_001);
    assert_eq!(refund.approvals_required(), 2);
    let once = refund.approve(&finance("f-1"), t(1)).unwrap();
    assert_eq!(once.refund.status(), RefundStatus::Pending);
    assert_eq!(once.refund.approvals().len(), 1);
    assert_eq!(once.entry.action, AuditAction::Approved);
    assert_eq!(
        once.entry.detail,
        "approval 1/2; above the second-approver limit, another finance member must approve"
    );
    assert_eq!(once.refund.decided_at(), None);
    assert!(PayoutMessage::for_refund(&once.refund).is_err());
    let err = once.refund.approve(&finance("f-1"), t(2)).unwrap_err();
    assert_eq!(
        err,
        RefundError::AlreadyApprovedBy {
            user_id: "f-1".into()
        }
    );
    assert_eq!(err.status(), 409);
    let twice = once.refund.approve(&finance("f-2"), t(3)).unwrap();
    assert_eq!(twice.refund.status(), RefundStatus::Approved);
    assert_eq!(twice.entry.action, AuditAction::SecondApproval);
    assert_eq!(twice.refund.approved_at(), Some(t(3)));
    let message = PayoutMessage::for_refund(&twice.refund).unwrap();
    assert_eq!(message.approvers, vec![finance("f-1"), finance("f-2")]);
}

#[test]
fn exactly_at_the_second_approver_limit_one_approval_grants() {
    let refund = pending(200_000);
    assert_eq!(refund.approvals_required(), 1);
    let granted = refund.approve(&finance("f-1"), t(1)).unwrap();
    assert_eq!(granted.refund.status(), RefundStatus::Approved);
    assert_eq!(granted.entry.action, AuditAction::Approved);
    assert_eq!(
        granted.entry.detail,
        "approval 1/1; granted, payout to follow"
    );
}

#[test]
fn the_policy_s_approval_is_the_single_approval() {
    let refund = pending(20_000);
    let screened = refund.screen(&RefundPolicy::default(), &[], t(1)).unwrap();
    assert_eq!(screened.refund.status(), RefundStatus::Approved);
    assert_eq!(screened.entry.actor, Actor::Policy);
    assert_eq!(screened.entry.action, AuditAction::AutoApproved);
    assert!(
        screened
            .entry
            .detail
            .starts_with("auto: CNY 200.00 is within")
    );
    let message = PayoutMessage::for_refund(&screened.refund).unwrap();
    assert_eq!(message.approvers, vec![Actor::Policy]);
    assert_eq!(
        serde_json::to_value(&message).unwrap()["approvers"],
        serde_json::json!(["policy"])
    );
}

#[test]
fn what_the_policy_does_not_grant_waits_for_finance_with_the_reasons() {
    let refund = pending(20_001);
    let screened = refund
        .screen(&RefundPolicy::default(), &[t(-5), t(-4), t(-3)], t(1))
        .unwrap();
    assert_eq!(screened.refund.status(), RefundStatus::Pending);
    assert_eq!(screened.entry.action, AuditAction::QueuedForFinance);
    assert_eq!(
        screened.entry.detail,
        "finance decides: CNY 200.01 is above the auto-approval limit of CNY 200.00; \
         the customer had 3 refunds in the last 90 days (auto-approval needs fewer than 3)"
    );
    assert!(matches!(
        screened.refund.screening(),
        Some(AutoApproval::NeedsFinance { reasons }) if reasons.len() == 2
    ));
    assert_eq!(
        screened.refund.screen(&RefundPolicy::default(), &[], t(2)),
        Err(RefundError::AlreadyScreened)
    );
    let granted = screened.refund.approve(&finance("f-1"), t(3)).unwrap();
    assert_eq!(granted.refund.status(), RefundStatus::Approved);
}

#[test]
fn a_refund_fixed_to_need_two_approvers_is_never_auto_approved() {
    let strict = RefundPolicy::parse("CNY:100", "CNY:100", "").unwrap();
    let refund = Refund::request(
        draft(15_000, &["13"]),
        &order_file(vec![]),
        &[],
        &strict,
        t(0),
    )
    .unwrap()
    .refund;
    assert_eq!(refund.approvals_required(), 2);
    // The policy was relaxed before the screening: the bar set at the request stands.
    let screened = refund.screen(&RefundPolicy::default(), &[], t(1)).unwrap();
    assert_eq!(screened.refund.status(), RefundStatus::Pending);
    assert_eq!(
        screened.entry.detail,
        "finance decides: CNY 150.00 needs two finance approvers"
    );
}

#[test]
fn every_illegal_transition_is_refused_and_changes_nothing() {
    use RefundStatus::*;
    let paid = settled(&approved(), paid_report("pay-1"), 20);
    let rejected = pending(15_000)
        .reject(&finance("f-1"), "Not covered.", t(5))
        .unwrap()
        .refund;
    let by_status = [
        (Pending, pending(15_000)),
        (Approved, approved()),
        (Paid, paid),
        (Failed, failed()),
        (Rejected, rejected),
    ];
    type Step = fn(&Refund) -> Result<Refund, RefundError>;
    let steps: [(&str, Step, &[RefundStatus]); 5] = [
        (
            "approve",
            |r| r.approve(&finance("f-9"), t(50)).map(|x| x.refund),
            &[Pending],
        ),
        (
            "reject",
            |r| r.reject(&finance("f-9"), "No.", t(50)).map(|x| x.refund),
            &[Pending],
        ),
        (
            "settle",
            |r| match r.settle(&Actor::PaymentIntegration, failed_report("pay-9"), t(50))? {
                Settled::Changed(x) => Ok(x.refund),
                Settled::Unchanged => Ok(r.clone()),
            },
            &[Approved],
        ),
        (
            "return to finance",
            |r| {
                r.return_to_finance(&finance("f-9"), t(50))
                    .map(|x| x.refund)
            },
            &[Failed],
        ),
        (
            "screen",
            |r| {
                r.screen(&RefundPolicy::default(), &[], t(50))
                    .map(|x| x.refund)
            },
            &[Pending],
        ),
    ];
    for (status, refund) in &by_status {
        assert_eq!(refund.status(), *status);
        for (action, step, allowed_from) in &steps {
            let before = refund.clone();
            let outcome = step(refund);
            assert_eq!(*refund, before, "{action} on {status}");
            if allowed_from.contains(status) {
                assert!(outcome.is_ok(), "{action} on {status}: {outcome:?}");
                continue;
            }
            let err = outcome.unwrap_err();
            if (*action, *status) == ("settle", Paid) {
                assert_eq!(
                    err,
                    RefundError::SettlementConflict {
                        recorded: "paid (provider reference pay-1)".into(),
                        received: "failed (provider reference pay-9): account closed".into()
                    }
                );
            } else {
                assert_eq!(
                    err,
                    RefundError::IllegalTransition {
                        status: *status,
                        action
                    },
                    "{action} on {status}"
                );
                assert_eq!(
                    err.to_string(),
                    format!("cannot {action} a refund that is {status}")
                );
            }
            assert_eq!(err.status(), 409);
        }
    }
}

#[test]
fn a_rejection_needs_a_reason_the_customer_is_shown() {
    let refund = pending(15_000);
    let err = refund.reject(&finance("f-1"), "   ", t(1)).unwrap_err();
    assert_eq!(err.to_string(), "reason: must not be empty");
    assert_eq!(err.status(), 422);
    let rejected = refund
        .reject(&finance("f-1"), " Outside the 7-day return window. ", t(1))
        .unwrap();
    let rejection = rejected.refund.rejection().unwrap();
    assert_eq!(rejection.reason, "Outside the 7-day return window.");
    assert_eq!(rejected.refund.decided_by(), vec![&finance("f-1")]);
    assert_eq!(rejected.entry.detail, "Outside the 7-day return window.");
}

#[test]
fn a_repeated_settlement_changes_nothing_and_a_different_one_conflicts() {
    let paid = settled(&approved(), paid_report("pay-1"), 20);
    assert_eq!(paid.status(), RefundStatus::Paid);
    assert_eq!(
        paid.settle(&Actor::PaymentIntegration, paid_report(" pay-1 "), t(21)),
        Ok(Settled::Unchanged)
    );
    let conflict = paid
        .settle(&Actor::PaymentIntegration, paid_report("pay-2"), t(21))
        .unwrap_err();
    assert_eq!(conflict.status(), 409);
    assert_eq!(
        conflict.to_string(),
        "the refund is already paid (provider reference pay-1); refusing the conflicting report: \
         paid (provider reference pay-2)"
    );
    let failed = failed();
    assert_eq!(
        failed.settle(&Actor::PaymentIntegration, failed_report("pay-1"), t(21)),
        Ok(Settled::Unchanged)
    );
    assert!(matches!(
        approved().settle(&agent(), paid_report("pay-1"), t(21)),
        Err(RefundError::NotAllowed { .. })
    ));
    assert!(matches!(
        approved().settle(&finance("f-1"), paid_report(""), t(21)),
        Err(RefundError::Invalid(InvalidField {
            field: "provider_reference",
            ..
        }))
    ));
}

#[test]
fn a_failed_payout_returns_to_finance_with_its_error() {
    let failed = failed();
    assert_eq!(failed.status(), RefundStatus::Failed);
    let back = failed
        .return_to_finance(&Actor::PaymentIntegration, t(21))
        .unwrap();
    let refund = back.refund;
    assert_eq!(refund.status(), RefundStatus::Pending);
    assert!(refund.approvals().is_empty());
    assert_eq!(refund.approved_at(), None);
    assert_eq!(refund.failures().len(), 1);
    assert_eq!(back.entry.action, AuditAction::ReturnedToFinance);
    assert_eq!(
        back.entry.detail,
        "payout failed (provider reference pay-1): account closed; waiting for finance"
    );
    // A late redelivery of the failure changes nothing.
    assert_eq!(
        refund.settle(&Actor::PaymentIntegration, failed_report("pay-1"), t(22)),
        Ok(Settled::Unchanged)
    );
    // Finance approves again; the first approver may approve again, the requester still not.
    assert!(
        refund
            .approve(&Actor::staff("a-1", Role::Finance), t(23))
            .is_err()
    );
    let again = refund.approve(&finance("f-1"), t(23)).unwrap().refund;
    assert_eq!(again.status(), RefundStatus::Approved);
    assert_eq!(again.settlement(), None);
    let message = PayoutMessage::for_refund(&again).unwrap();
    assert_eq!(message.attempt, 2);
    assert_eq!(message.deduplication_id(), format!("{}#2", again.id()));
    // The retry may fail under the same provider reference: a new report, not a repeat.
    let failed_again = settled(&again, failed_report("pay-1"), 24);
    assert_eq!(failed_again.failures().len(), 2);
}

#[test]
fn the_audit_trail_grows_by_one_entry_per_change() {
    let mut refund = pending(200_001);
    let mut trail = refund.audit().to_vec();
    assert_eq!(trail.len(), 1);
    type Step = Box<dyn Fn(&Refund) -> Transition>;
    let steps: Vec<Step> = vec![
        Box::new(|r| r.screen(&RefundPolicy::default(), &[], t(1)).unwrap()),
        Box::new(|r| r.approve(&finance("f-1"), t(2)).unwrap()),
        Box::new(|r| r.approve(&finance("f-2"), t(3)).unwrap()),
        Box::new(|r| {
            match r
                .settle(&Actor::PaymentIntegration, failed_report("pay-1"), t(4))
                .unwrap()
            {
                Settled::Changed(x) => *x,
                Settled::Unchanged => panic!("unchanged"),
            }
        }),
        Box::new(|r| r.return_to_finance(&finance("f-1"), t(5)).unwrap()),
        Box::new(|r| {
            r.reject(&finance("f-2"), "Paid by bank transfer instead.", t(6))
                .unwrap()
        }),
    ];
    for step in steps {
        let before = refund.status();
        let transition = step(&refund);
        // The old entries are untouched, one is appended, and it is the one returned.
        assert_eq!(&transition.refund.audit()[..trail.len()], &trail[..]);
        assert_eq!(transition.refund.audit().len(), trail.len() + 1);
        assert_eq!(transition.refund.audit().last(), Some(&transition.entry));
        assert_eq!(transition.entry.seq as usize, trail.len() + 1);
        assert_eq!(transition.entry.before, Some(before));
        assert_eq!(transition.entry.after, transition.refund.status());
        assert_eq!(transition.refund.version(), refund.version() + 1);
        trail.push(transition.entry);
        refund = transition.refund;
    }
    let actions: Vec<AuditAction> = refund.audit().iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::Requested,
            AuditAction::QueuedForFinance,
            AuditAction::Approved,
            AuditAction::SecondApproval,
            AuditAction::Failed,
            AuditAction::ReturnedToFinance,
            AuditAction::Rejected,
        ]
    );
    // Refusals and repeats add nothing.
    assert!(refund.approve(&finance("f-3"), t(7)).is_err());
    assert_eq!(refund.audit().len(), 7);
}

#[test]
fn a_case_resolved_with_a_refund_drafts_its_refund() {
    use crate::assessment::Assessment;
    use crate::auth::Caller;
    use crate::case::{CaseDraft, NewCaseLine, NewCaseRequest};
    use crate::sla::SlaPolicy;
    use crate::workflow::{CaseAction, apply};

    let text = "the serum bottle arrived broken and leaking";
    let opened = Case::open(
        CaseDraft::parse(NewCaseRequest {
            order_id: ORDER.into(),
            lines: vec![NewCaseLine {
                sku: "SERUM-30".into(),
                quantity: 1,
            }],
            description: text.into(),
            opened: None,
        })
        .unwrap(),
        "c-1",
        Assessment::of_text(text, &Default::default(), t(0)),
        t(0),
        &SlaPolicy::default(),
    );
    let order = order_file(vec![]);
    assert_eq!(
        RefundDraft::for_resolved_case(&opened, &order, Some(19_900), 1),
        Err(RefundError::NotARefundResolution {
            case_id: opened.id.to_string()
        })
    );
    let agent_a1 = Caller {
        subject: "a-1".into(),
        role: Role::Agent,
    };
    let resolve = CaseAction::Resolve {
        remedy: Remedy::Refund,
        note: Some("Broken in transit.".into()),
        amount_minor: None,
    };
    let (resolved, _) = apply(&opened, &resolve, &agent_a1, t(30), &SlaPolicy::default()).unwrap();
    let draft = RefundDraft::for_resolved_case(&resolved, &order, Some(19_900), 2).unwrap();
    assert_eq!(
        draft,
        RefundDraft {
            case_id: resolved.id,
            customer_id: "c-1".into(),
            lines: vec![RefundLine {
                line_item_id: "11".into(),
                quantity: Some(Quantity::parse(1).unwrap()),
            }],
            amount_minor: 19_900,
            currency: cny(),
            reason: "Broken in transit.".into(),
            evidence: Evidence {
                category: Category::DamagedInTransit,
                photo_required: true,
                photos_attached: 2,
            },
            requested_by: agent(),
        }
    );
    let refund = Refund::request(draft, &order, &[], &RefundPolicy::default(), t(31)).unwrap();
    assert_eq!(refund.refund.requested_by(), &agent());
    let elsewhere = OrderFile {
        reference: "shopify:brand.myshopify.com:1002".into(),
        order: order.order.clone().map(|o| StoreOrder {
            order_id: "1002".into(),
            ..o
        }),
        ..order.clone()
    };
    assert!(matches!(
        RefundDraft::for_resolved_case(&resolved, &elsewhere, Some(19_900), 2),
        Err(RefundError::WrongOrder { .. })
    ));
}
