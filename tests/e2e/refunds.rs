//! Refund approval end to end: the refund-approval binary behind the twin's HTTP API and
//! schedule, against moto. Refunds are seeded as a case resolution opens them: a real order
//! (the signed generic webhook), a real case (`POST /cases`), then the refund request and the
//! policy's screening from the domain, written with `DynamoRefundStore::open_refund`; the
//! requester is the agent who resolved the case.

use std::collections::BTreeSet;

use aftercare::auth::Role;
use aftercare::case::{CaseId, Quantity};
use aftercare::complaint::Category;
use aftercare::money::Currency;
use aftercare::refund::{Actor, Evidence, Refund, RefundDraft, RefundLine, RefundPolicy};
use aftercare::store::{DynamoOrderStore, DynamoRefundStore, OrderStore, RefundStore};
use aftercare_e2e::{twin, unique};
use chrono::Utc;
use serde_json::{Value, json};

use crate::{answer, http};

/// A refund waiting for finance, and who is around it.
struct Seeded {
    id: String,
    case: String,
    customer: String,
    /// The agent who resolved the case and asked for the refund.
    requester: String,
    order: String,
}

/// What to seed: the order's first line (SERUM-30) costs `paid` in `currency`; the refund asks
/// for `amount_minor` of it on a claim of `category` with no photo attached, so the policy
/// leaves it to finance.
struct Seed {
    amount_minor: i64,
    paid: &'static str,
    currency: &'static str,
    category: Category,
}

impl Seed {
    fn cny(amount_minor: i64) -> Seed {
        Seed {
            amount_minor,
            paid: "179.00",
            currency: "CNY",
            category: Category::DamagedInTransit,
        }
    }
}

/// Places an order for `customer` through the signed generic webhook (the
/// `generic-order-upserted` fixture with its first line costing `paid` in `currency`).
async fn place_order(customer: &str, paid: &str, currency: &str) -> String {
    aftercare_e2e::place_order_with(twin(), customer, &unique("order"), |data| {
        data["currency"] = Value::from(currency);
        data["lines"][0]["unit_price"] = Value::from(paid);
        data["lines"][0]["paid"] = Value::from(paid);
    })
    .await
}

async fn refund_store() -> DynamoRefundStore {
    let twin = twin();
    DynamoRefundStore::new(
        aws_sdk_dynamodb::Client::new(&twin.aws().await),
        twin.name_of("RefundsTable"),
    )
    .with_cases_table(twin.name_of("CasesTable"))
}

async fn seed(spec: Seed) -> Seeded {
    let twin = twin();
    let customer = unique("c");
    let order = place_order(&customer, spec.paid, spec.currency).await;
    let (status, case) = answer(
        http()
            .post(twin.api("/cases"))
            .bearer_auth(twin.token(&customer, "customer"))
            .json(
                &json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}],
                          "description": "the serum bottle arrived broken and leaking"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    let case = case["id"].as_str().unwrap().to_owned();

    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let orders = DynamoOrderStore::new(
        dynamodb,
        twin.name_of("OrdersTable"),
        twin.name_of("IdempotencyTable"),
        twin.name_of("CustomersTable"),
    );
    let file = orders.order_file(&order).await.unwrap().expect("the order");
    let line = file.order.as_ref().unwrap().lines[0].line_item_id.clone();
    let requester = unique("agent");
    let draft = RefundDraft {
        case_id: case.parse::<CaseId>().unwrap(),
        customer_id: customer.clone(),
        lines: vec![RefundLine {
            line_item_id: line,
            quantity: Some(Quantity::parse(1).unwrap()),
        }],
        amount_minor: spec.amount_minor,
        currency: Currency::parse(spec.currency).unwrap(),
        reason: "The serum bottle arrived broken.".into(),
        evidence: Evidence {
            category: spec.category,
            photo_required: true,
            photos_attached: 0,
        },
        requested_by: Actor::staff(&requester, Role::Agent),
    };
    let policy = RefundPolicy::default();
    let now = Utc::now();
    let requested = Refund::request(draft, &file, &[], &policy, now)
        .unwrap()
        .refund;
    let screened = requested.screen(&policy, &[], now).unwrap().refund;
    assert_eq!(screened.status().as_str(), "pending", "finance decides");
    refund_store().await.open_refund(&screened).await.unwrap();
    Seeded {
        id: screened.id().to_string(),
        case,
        customer,
        requester,
        order,
    }
}

async fn get(path: &str, token: &str) -> (u16, Value) {
    answer(
        http()
            .get(twin().api(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn post(path: &str, token: &str, body: Value) -> (u16, Value) {
    answer(
        http()
            .post(twin().api(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn finance(user: &str) -> String {
    twin().token(user, "finance")
}

fn payments() -> String {
    twin().token("payments-1", "payment_integration")
}

async fn approve(refund: &str, user: &str) -> (u16, Value) {
    post(
        &format!("/refunds/{refund}/approve"),
        &finance(user),
        json!({}),
    )
    .await
}

async fn settle(refund: &str, body: Value) -> (u16, Value) {
    post(&format!("/refunds/{refund}/settlement"), &payments(), body).await
}

/// The refund as finance reads it (with its audit trail and case).
async fn read(refund: &str) -> Value {
    let (status, body) = get(&format!("/refunds/{refund}"), &finance("f-reader")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

fn actions(refund: &Value) -> Vec<&str> {
    refund["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn finance_alone_works_the_refunds_and_the_payment_integration_alone_settles() {
    let twin = twin();
    let refund = seed(Seed::cny(15_000)).await;
    let id = &refund.id;
    let today = Utc::now().date_naive();
    let export = format!("/refunds/export?from={today}&to={today}");
    let gets = [
        "/refunds".to_owned(),
        export.clone(),
        format!("/refunds/{id}"),
    ];
    let posts = [
        (format!("/refunds/{id}/approve"), json!({})),
        (format!("/refunds/{id}/reject"), json!({"reason": "no"})),
        (
            format!("/refunds/{id}/settlement"),
            json!({"outcome": "paid", "provider_reference": "pay-x"}),
        ),
    ];
    let roles = [
        "customer",
        "agent",
        "expert",
        "supervisor",
        "finance",
        "payment_integration",
    ];
    for role in roles {
        let token = twin.token(&format!("{role}-matrix"), role);
        for path in &gets {
            let response = http()
                .get(twin.api(path))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let expected = if role == "finance" { 200 } else { 403 };
            assert_eq!(response.status(), expected, "GET {path} as {role}");
        }
        for (path, body) in &posts {
            let allowed = if path.ends_with("/settlement") {
                "payment_integration"
            } else {
                "finance"
            };
            if role == allowed {
                continue;
            }
            let (status, answer) = post(path, &token, body.clone()).await;
            assert_eq!(
                (status, code(&answer)),
                (403, "forbidden"),
                "POST {path} as {role}"
            );
        }
    }
    for path in &gets {
        let response = http().get(twin.api(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "GET {path} without a token");
    }
    for (path, body) in &posts {
        let response = http().post(twin.api(path)).json(body).send().await.unwrap();
        assert_eq!(response.status(), 401, "POST {path} without a token");
    }
    // Nothing above changed the refund.
    let untouched = read(id).await;
    assert_eq!(untouched["status"], "pending");
    assert_eq!(actions(&untouched), ["requested", "queued_for_finance"]);

    // The allowed callers: finance approves, the integration reports the payout.
    let (status, approved) = approve(id, "f-matrix").await;
    assert_eq!(
        (status, approved["status"].as_str()),
        (200, Some("approved")),
        "{approved}"
    );
    let (status, paid) = settle(
        id,
        json!({"outcome": "paid", "provider_reference": "pay-1"}),
    )
    .await;
    assert_eq!(
        (status, paid["status"].as_str()),
        (200, Some("paid")),
        "{paid}"
    );
}

#[tokio::test]
async fn four_eyes_the_requester_never_approves_and_large_refunds_need_two_finance_members() {
    // The agent who asked for it also holds a finance login: still not theirs to approve.
    let small = seed(Seed::cny(15_000)).await;
    let (status, refused) = approve(&small.id, &small.requester).await;
    assert_eq!((status, code(&refused)), (403, "own_refund"), "{refused}");
    assert_eq!(read(&small.id).await["status"], "pending");

    // CNY 2,500.00 is above the default second-approver limit (CNY 2,000.00).
    let large = seed(Seed {
        amount_minor: 250_000,
        paid: "2999.00",
        currency: "CNY",
        category: Category::DamagedInTransit,
    })
    .await;
    assert_eq!(read(&large.id).await["approvals_required"], 2);
    let (status, first) = approve(&large.id, "f-first").await;
    assert_eq!(
        (status, first["status"].as_str()),
        (200, Some("pending")),
        "{first}"
    );
    assert_eq!(first["approvals"].as_array().unwrap().len(), 1);
    let (status, again) = approve(&large.id, "f-first").await;
    assert_eq!(
        (status, code(&again)),
        (409, "already_approved_by_you"),
        "{again}"
    );
    let (status, second) = approve(&large.id, "f-second").await;
    assert_eq!(
        (status, second["status"].as_str()),
        (200, Some("approved")),
        "{second}"
    );
    let approvers: Vec<&str> = second["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["by"].as_str().unwrap())
        .collect();
    assert_eq!(approvers, ["finance:f-first", "finance:f-second"]);
    assert_eq!(
        actions(&read(&large.id).await),
        [
            "requested",
            "queued_for_finance",
            "approved",
            "second_approval"
        ]
    );
}

#[tokio::test]
async fn of_twenty_concurrent_approvals_exactly_one_moves_the_refund() {
    let refund = seed(Seed::cny(15_000)).await;
    let before = actions(&read(&refund.id).await).len();
    let approvals: Vec<_> = (0..20)
        .map(|n| {
            let id = refund.id.clone();
            tokio::spawn(async move { approve(&id, &format!("f-race-{n}")).await })
        })
        .collect();
    let (mut won, mut lost) = (0, 0);
    for approval in approvals {
        match approval.await.unwrap() {
            (200, body) => {
                assert_eq!(body["status"], "approved", "{body}");
                won += 1;
            }
            (409, body) => {
                assert!(
                    ["conflict", "illegal_transition"].contains(&code(&body)),
                    "{body}"
                );
                lost += 1;
            }
            (status, body) => panic!("unexpected {status}: {body}"),
        }
    }
    assert_eq!((won, lost), (1, 19));
    let after = read(&refund.id).await;
    assert_eq!(after["status"], "approved");
    assert_eq!(after["approvals"].as_array().unwrap().len(), 1);
    assert_eq!(
        actions(&after).len(),
        before + 1,
        "exactly one audit entry added"
    );
}

#[tokio::test]
async fn an_approval_costs_two_aws_calls() {
    let twin = twin();
    let refund = seed(Seed::cny(15_000)).await;
    let (status, body) = approve(&refund.id, "f-calls").await;
    assert_eq!(status, 200, "{body}");
    // The twin hands the log file to the function, so the line is there before the answer.
    let line = twin
        .function_log("RefundApprovalFunction")
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| {
            line["message"] == "answered"
                && line["route"] == "POST /refunds/{id}/approve"
                && line.to_string().contains(&refund.id)
        })
        .expect("the approval's answered line");
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["aws_calls"], 2, "GetItem + TransactWriteItems: {line}");
}

#[tokio::test]
async fn a_rejected_or_paid_refund_cannot_be_approved_or_rejected() {
    let rejected = seed(Seed::cny(15_000)).await;
    let (status, body) = post(
        &format!("/refunds/{}/reject", rejected.id),
        &finance("f-1"),
        json!({"reason": "Outside the policy."}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );
    let (status, body) = approve(&rejected.id, "f-2").await;
    assert_eq!((status, code(&body)), (409, "illegal_transition"), "{body}");

    let paid = seed(Seed::cny(15_000)).await;
    assert_eq!(approve(&paid.id, "f-1").await.0, 200);
    let (status, _) = settle(
        &paid.id,
        json!({"outcome": "paid", "provider_reference": "pay-9"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = approve(&paid.id, "f-2").await;
    assert_eq!((status, code(&body)), (409, "illegal_transition"), "{body}");
    let (status, body) = post(
        &format!("/refunds/{}/reject", paid.id),
        &finance("f-2"),
        json!({"reason": "Too late."}),
    )
    .await;
    assert_eq!((status, code(&body)), (409, "illegal_transition"), "{body}");
    assert_eq!(read(&paid.id).await["status"], "paid");

    // Unknown refunds are 404, and so are ids that cannot be one.
    let (status, body) = approve("01JD8X3Y4Z5A6B7C8D9E0F1G2H", "f-1").await;
    assert_eq!((status, code(&body)), (404, "not_found"), "{body}");
    let (status, _) = get("/refunds/not-a-refund", &finance("f-1")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_the_customer_reads_it_on_the_case() {
    let refund = seed(Seed::cny(15_000)).await;
    let path = format!("/refunds/{}/reject", refund.id);
    let (status, body) = post(&path, &finance("f-1"), json!({})).await;
    assert_eq!((status, code(&body)), (400, "invalid_request"), "{body}");
    let (status, body) = post(&path, &finance("f-1"), json!({"reason": "   "})).await;
    assert_eq!((status, code(&body)), (422, "validation_failed"), "{body}");
    let untouched = read(&refund.id).await;
    assert_eq!(untouched["status"], "pending");
    assert_eq!(untouched["version"], 2, "bad input wrote nothing");

    let reason = "The photos show the seal intact; the leak is not from delivery.";
    let (status, body) = post(&path, &finance("f-1"), json!({"reason": reason})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );
    assert_eq!(body["rejection"]["reason"], reason);

    let (status, case) = get(
        &format!("/cases/{}", refund.case),
        &twin().token(&refund.customer, "customer"),
    )
    .await;
    assert_eq!(status, 200, "{case}");
    let told = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "refund_rejected")
        .unwrap_or_else(|| panic!("no refund_rejected on the timeline: {case}"));
    assert!(told["note"].as_str().unwrap().contains(reason), "{told}");
    assert!(
        told["note"].as_str().unwrap().contains("CNY 150.00"),
        "{told}"
    );
}

/// Every message on the payout queue now, each received once and hidden for a minute; those
/// of `refund` are deleted (nothing else here reads the queue).
async fn drain_payouts_of(refund: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let twin = twin();
    let sqs = aws_sdk_sqs::Client::new(&twin.aws().await);
    let url = twin
        .twin
        .stack
        .queue("RefundsApprovedQueue")
        .expect("the queue")
        .url
        .clone();
    let mut mine = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if received.is_empty() {
            return mine;
        }
        for message in received {
            let body: Value = serde_json::from_str(message.body().unwrap()).unwrap();
            if body["refund_id"] == refund {
                sqs.delete_message()
                    .queue_url(&url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
                mine.push(message);
            }
        }
    }
}

fn system_attribute<'a>(message: &'a aws_sdk_sqs::types::Message, name: &str) -> &'a str {
    message
        .attributes()
        .and_then(|attributes| {
            attributes
                .iter()
                .find(|(key, _)| key.as_str() == name)
                .map(|(_, value)| value.as_str())
        })
        .unwrap_or_default()
}

async fn relay() -> Value {
    twin()
        .fire_schedule("RefundApprovalFunctionPayoutRelaySchedule", Utc::now())
        .await
        .expect("the relay ran")
}

#[tokio::test]
async fn each_approval_puts_one_payout_message_on_the_fifo_queue() {
    let refund = seed(Seed::cny(15_000)).await;
    // The approval only puts the payout in the outbox (see `an_approval_costs_two_aws_calls`:
    // no call to SQS); the relay sends it.
    assert_eq!(approve(&refund.id, "f-pay").await.0, 200);

    let report = relay().await;
    assert_eq!(report["failed"], 0, "{report}");
    let sent = drain_payouts_of(&refund.id).await;
    assert_eq!(sent.len(), 1, "one message per approval");
    let message = &sent[0];
    assert_eq!(system_attribute(message, "MessageGroupId"), refund.order);
    assert_eq!(
        system_attribute(message, "MessageDeduplicationId"),
        refund.id
    );
    let body: Value = serde_json::from_str(message.body().unwrap()).unwrap();
    assert_eq!(body["amount_minor"], 15_000);
    assert_eq!(body["amount"], "150.00");
    assert_eq!(body["currency"], "CNY");
    assert_eq!(body["order_reference"], refund.order);
    assert_eq!(body["approvers"], json!(["finance:f-pay"]));
    assert_eq!(body["attempt"], 1);

    // The outbox was cleared: another run sends nothing more for it.
    relay().await;
    assert!(drain_payouts_of(&refund.id).await.is_empty());

    // A failed payout approved again is a new payout, with its own deduplication id.
    let (status, back) = settle(
        &refund.id,
        json!({"outcome": "failed", "provider_reference": "pay-f1", "error": "card expired"}),
    )
    .await;
    assert_eq!(
        (status, back["status"].as_str()),
        (200, Some("pending")),
        "{back}"
    );
    relay().await;
    assert!(
        drain_payouts_of(&refund.id).await.is_empty(),
        "nothing to pay while pending"
    );
    assert_eq!(approve(&refund.id, "f-pay").await.0, 200);
    relay().await;
    let again = drain_payouts_of(&refund.id).await;
    assert_eq!(again.len(), 1);
    assert_eq!(
        system_attribute(&again[0], "MessageDeduplicationId"),
        format!("{}#2", refund.id)
    );
    let body: Value = serde_json::from_str(again[0].body().unwrap()).unwrap();
    assert_eq!(body["attempt"], 2);
}

#[tokio::test]
async fn settlements_are_recorded_once_and_a_failure_goes_back_to_finance() {
    let paid = seed(Seed::cny(15_000)).await;
    let (status, body) = settle(
        &paid.id,
        json!({"outcome": "paid", "provider_reference": "p"}),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (409, "illegal_transition"),
        "not approved yet: {body}"
    );
    assert_eq!(approve(&paid.id, "f-1").await.0, 200);
    let report = json!({"outcome": "paid", "provider_reference": "pay-777"});
    let (status, first) = settle(&paid.id, report.clone()).await;
    assert_eq!(
        (status, first["status"].as_str()),
        (200, Some("paid")),
        "{first}"
    );
    assert_eq!(first["recorded"].as_array().unwrap().len(), 1);
    let (status, repeat) = settle(&paid.id, report).await;
    assert_eq!(
        (status, repeat["status"].as_str()),
        (200, Some("paid")),
        "{repeat}"
    );
    assert_eq!(repeat["recorded"], json!([]), "a repeat writes nothing");
    assert_eq!(repeat["version"], first["version"]);
    let (status, other) = settle(
        &paid.id,
        json!({"outcome": "paid", "provider_reference": "pay-778"}),
    )
    .await;
    assert_eq!(
        (status, code(&other)),
        (409, "settlement_conflict"),
        "{other}"
    );
    assert_eq!(
        actions(&read(&paid.id).await),
        ["requested", "queued_for_finance", "approved", "paid"]
    );

    let failed = seed(Seed::cny(12_000)).await;
    assert_eq!(approve(&failed.id, "f-1").await.0, 200);
    let report = json!({"outcome": "failed", "provider_reference": "pay-900",
                        "error": "the customer's account is closed"});
    let (status, back) = settle(&failed.id, report.clone()).await;
    assert_eq!(
        (status, back["status"].as_str()),
        (200, Some("pending")),
        "{back}"
    );
    assert_eq!(
        back["failures"][0]["settlement"]["error"],
        "the customer's account is closed"
    );
    assert_eq!(back["approvals"], json!([]), "a new round of approvals");
    let (status, repeat) = settle(&failed.id, report).await;
    assert_eq!(
        (status, repeat["status"].as_str()),
        (200, Some("pending")),
        "{repeat}"
    );
    assert_eq!(repeat["version"], back["version"]);
    let trail = read(&failed.id).await;
    assert_eq!(
        actions(&trail),
        [
            "requested",
            "queued_for_finance",
            "approved",
            "failed",
            "returned_to_finance"
        ]
    );

    // It is back in finance's queue, with the error.
    let mut cursor: Option<String> = None;
    let found = loop {
        let mut path =
            "/refunds?status=pending&currency=CNY&min_amount=12000&max_amount=12000&limit=100"
                .to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = get(&path, &finance("f-1")).await;
        assert_eq!(status, 200, "{page}");
        if let Some(refund) = page["refunds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["refund_id"] == failed.id.as_str())
        {
            break refund.clone();
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => panic!("the failed refund is not in the pending queue"),
        }
    };
    assert_eq!(
        found["failures"][0]["settlement"]["provider_reference"],
        "pay-900"
    );
}

#[tokio::test]
async fn the_queue_is_oldest_first_paged_and_filtered() {
    // Hong Kong dollars: no other test's refunds are in them.
    let mut seeded = Vec::new();
    for (amount, category) in [
        (1_001, Category::DamagedInTransit),
        (1_002, Category::QualityDefect),
        (1_003, Category::DamagedInTransit),
        (1_004, Category::QualityDefect),
        (1_005, Category::DamagedInTransit),
    ] {
        let refund = seed(Seed {
            amount_minor: amount,
            paid: "100.00",
            currency: "HKD",
            category,
        })
        .await;
        seeded.push(refund.id);
    }
    let token = finance("f-queue");
    let pages = |query: &'static str| {
        let token = token.clone();
        async move {
            let mut ids = Vec::new();
            let mut cursor: Option<String> = None;
            let mut pages = 0;
            loop {
                let mut path = format!("/refunds?{query}");
                if let Some(cursor) = &cursor {
                    path.push_str(&format!("&cursor={cursor}"));
                }
                let (status, page) = get(&path, &token).await;
                assert_eq!(status, 200, "{path}: {page}");
                pages += 1;
                for refund in page["refunds"].as_array().unwrap() {
                    assert_eq!(refund["status"], "pending");
                    ids.push(refund["refund_id"].as_str().unwrap().to_owned());
                }
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => return (ids, pages),
                }
            }
        }
    };
    // Two at a time, oldest first, across pages.
    let (ids, count) = pages("currency=HKD&min_amount=1001&max_amount=1005&limit=2").await;
    assert_eq!(ids, seeded);
    assert!(count >= 3, "{count} pages of at most 2");
    let (ids, _) = pages("currency=hkd&category=quality_defect").await;
    assert_eq!(ids, [seeded[1].clone(), seeded[3].clone()]);
    let (ids, _) = pages("currency=HKD&min_amount=1002&max_amount=1003").await;
    assert_eq!(ids, seeded[1..3]);
    let (ids, _) = pages("currency=HKD&older_than_hours=1").await;
    assert!(
        ids.iter().all(|id| !seeded.contains(id)),
        "requested just now"
    );
    let (ids, _) = pages("status=approved&currency=HKD&min_amount=1001&max_amount=1005").await;
    assert!(ids.is_empty());

    // Without filters the default queue pages too (other tests' refunds are in it).
    let (status, page) = get("/refunds?limit=1", &token).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["refunds"].as_array().unwrap().len(), 1);
    assert!(page["next_cursor"].is_string());
    let (status, next) = get(
        &format!(
            "/refunds?limit=1&cursor={}",
            page["next_cursor"].as_str().unwrap()
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(
        next["refunds"][0]["refund_id"],
        page["refunds"][0]["refund_id"]
    );
    let at = |page: &Value| -> chrono::DateTime<Utc> {
        page["refunds"][0]["requested_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(at(&next) >= at(&page), "oldest first");

    for bad in [
        "/refunds?status=granted",
        "/refunds?limit=500",
        "/refunds?min_amount=5&max_amount=1",
        "/refunds?category=broken",
        "/refunds?sort=newest",
    ] {
        let (status, body) = get(bad, &token).await;
        assert_eq!(
            (status, code(&body)),
            (400, "invalid_query"),
            "{bad}: {body}"
        );
    }
    let (status, body) = get("/refunds?cursor=forged", &token).await;
    assert_eq!((status, code(&body)), (400, "invalid_cursor"), "{body}");
    let (status, body) = get(
        &format!(
            "/refunds?status=approved&cursor={}",
            page["next_cursor"].as_str().unwrap()
        ),
        &token,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (400, "invalid_cursor"),
        "another status's: {body}"
    );
}

#[tokio::test]
async fn the_export_is_csv_of_the_refunds_requested_on_the_days_asked_for() {
    let twin = twin();
    let waiting = seed(Seed::cny(13_100)).await;
    let rejected = seed(Seed::cny(13_200)).await;
    let (status, _) = post(
        &format!("/refunds/{}/reject", rejected.id),
        &finance("f-exp"),
        json!({"reason": "Duplicate of an earlier refund."}),
    )
    .await;
    assert_eq!(status, 200);
    let requested_at: chrono::DateTime<Utc> = read(&waiting.id).await["requested_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let day = requested_at.date_naive();

    let response = http()
        .get(twin.api(&format!("/refunds/export?from={day}&to={day}")))
        .bearer_auth(finance("f-exp"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await.unwrap();
    let rows: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert!(rows[0].starts_with("refund_id,case_id,order_reference,customer_id,currency"));
    let row_of = |id: &str| {
        rows.iter()
            .find(|row| row.starts_with(id))
            .unwrap_or_else(|| panic!("no row for {id} in {csv}"))
            .to_string()
    };
    let row = row_of(&waiting.id);
    assert!(row.contains(",CNY,13100,131.00,pending,"), "{row}");
    assert!(row.contains(&waiting.requester), "{row}");
    let row = row_of(&rejected.id);
    assert!(row.contains(",CNY,13200,132.00,rejected,"), "{row}");
    assert!(row.contains(",f-exp,"), "decided by: {row}");
    // Oldest first.
    let position = |id: &str| rows.iter().position(|row| row.starts_with(id)).unwrap();
    assert!(position(&waiting.id) < position(&rejected.id));

    // Other days hold none of them; a period over 92 days is refused.
    let next = day + chrono::Duration::days(1);
    let later = http()
        .get(twin.api(&format!("/refunds/export?from={next}&to={next}")))
        .bearer_auth(finance("f-exp"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!later.contains(&waiting.id));
    let (status, body) = get(
        &format!(
            "/refunds/export?from={}&to={day}",
            day - chrono::Duration::days(92)
        ),
        &finance("f-exp"),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "invalid_query"), "{body}");
}

#[tokio::test]
async fn a_refund_shows_its_trail_and_its_case_with_short_lived_photo_links() {
    use aftercare::evidence::{AttachedPhoto, PhotoId, evidence_key};
    use aftercare::photo::PhotoFormat;
    use aftercare::store::{CaseStore, DynamoCaseStore, WrittenWith};

    let twin = twin();
    let refund = seed(Seed::cny(15_000)).await;
    // A verified photo on the case, as the photo function leaves it: the evidence object and
    // the case's record of it.
    let aws = twin.aws().await;
    let cases = DynamoCaseStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        twin.name_of("CasesTable"),
    );
    let case_id: CaseId = refund.case.parse().unwrap();
    let mut case = cases.case(&case_id).await.unwrap().unwrap();
    let now = Utc::now();
    let photo = PhotoId::from_instant(now);
    let bytes = b"\xff\xd8\xff\xe0 not really a jpeg".to_vec();
    aws_sdk_s3::Client::new(&aws)
        .put_object()
        .bucket(twin.name_of("PhotoBucket"))
        .key(evidence_key(&case_id, &photo))
        .content_type("image/jpeg")
        .body(bytes.clone().into())
        .send()
        .await
        .unwrap();
    case.photos.attached.push(AttachedPhoto {
        id: photo,
        format: PhotoFormat::Jpeg,
        bytes: bytes.len() as u64,
        width: 640,
        height: 480,
        uploaded_by: format!("customer:{}", refund.customer),
        attached_at: now,
        metadata_removed: vec![],
    });
    case.version += 1;
    let entry = aftercare::case::TimelineEntry {
        at: now,
        actor: format!("customer:{}", refund.customer),
        action: "photo_attached".into(),
        note: Some(format!("photo {photo}")),
    };
    cases
        .record_change(&case, &entry, WrittenWith::default())
        .await
        .unwrap();

    let shown = read(&refund.id).await;
    assert_eq!(shown["refund_id"], refund.id.as_str());
    assert_eq!(shown["amount"], "150.00");
    assert_eq!(shown["requested_by"], format!("agent:{}", refund.requester));
    assert_eq!(actions(&shown), ["requested", "queued_for_finance"]);
    assert!(
        shown["audit"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("photo"),
        "why finance decides: {shown}"
    );
    let summary = &shown["case"];
    assert_eq!(summary["id"], refund.case.as_str());
    assert_eq!(summary["category"], "damaged_in_transit");
    assert_eq!(summary["classification"]["category"], "damaged_in_transit");
    assert_eq!(summary["photo_evidence"], "attached");
    let link = &summary["photos"][0];
    assert_eq!(link["photo_id"], photo.to_string());
    let url = link["url"].as_str().unwrap();
    assert!(
        url.contains("X-Amz-Expires=300"),
        "valid for 5 minutes: {url}"
    );
    let fetched = http().get(url).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // A note on an approval stays on its audit entry.
    let (status, approved) = post(
        &format!("/refunds/{}/approve", refund.id),
        &finance("f-note"),
        json!({"note": "Photo shows the cracked bottle."}),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(
        approved["recorded"][0]["note"],
        "Photo shows the cracked bottle."
    );
    let audit = read(&refund.id).await["audit"].clone();
    let notes: BTreeSet<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["note"].as_str())
        .collect();
    assert_eq!(notes, BTreeSet::from(["Photo shows the cracked bottle."]));
}
