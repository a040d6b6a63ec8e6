//! A case resolved with a refund opens its refund request in the same transaction: approved by
//! the policy when it qualifies (a quality claim with its photo, within the limit), waiting for
//! finance otherwise, and refused when the order has nothing left to refund.

use aftercare::refund::RefundStatus;
use aftercare::store::{DynamoRefundStore, RefundStore};
use aftercare_e2e::{twin, unique};
use serde_json::{Value, json};

use crate::photos::{ask_upload, case_needing_a_photo, get, timeline_entry, upload};
use crate::{answer, http};

async fn resolve(case: &str, agent: &str, body: Value) -> (u16, Value) {
    answer(
        http()
            .post(twin().api(&format!("/cases/{case}/resolve")))
            .bearer_auth(twin().token(agent, "agent"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn refunds_of(customer: &str) -> Vec<aftercare::refund::Refund> {
    let twin = twin();
    DynamoRefundStore::new(
        aws_sdk_dynamodb::Client::new(&twin.aws().await),
        twin.name_of("RefundsTable"),
    )
    .refunds_of_customer(customer)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_quality_claim_with_its_photo_is_refunded_automatically_and_never_twice() {
    let twin = twin();
    let (case, customer) = case_needing_a_photo().await;
    let me = twin.token(&customer, "customer");
    let photo = aftercare::photo::samples::jpeg_with_gps(32, 32);
    let (_, grant) = ask_upload(&case, &me, "image/jpeg", photo.len()).await;
    upload(&grant, photo).await;
    timeline_entry(
        &case,
        &me,
        "photo_attached",
        grant["photo_id"].as_str().unwrap(),
    )
    .await;

    let agent = unique("a");
    let (status, resolved) = resolve(&case, &agent, json!({"remedy": "refund"})).await;
    assert_eq!(status, 200, "{resolved}");
    let refund_id = resolved["resolution"]["refund_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let note = resolved["timeline"].as_array().unwrap().last().unwrap()["note"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        note.contains(&refund_id) && note.contains("CNY 179.00") && note.contains("approved"),
        "{note}"
    );
    let refunds = refunds_of(&customer).await;
    assert_eq!(refunds.len(), 1);
    let refund = &refunds[0];
    assert_eq!(refund.id().to_string(), refund_id);
    assert_eq!(refund.status(), RefundStatus::Approved);
    assert_eq!(
        (refund.amount_minor(), refund.currency().as_str()),
        (17_900, "CNY")
    );
    assert_eq!(refund.requested_by().to_string(), format!("agent:{agent}"));
    assert_eq!(refund.evidence().photos_attached, 1);

    // A second case on the same serum: everything paid for it is being refunded already.
    let order = resolved["order_id"].as_str().unwrap();
    let (status, second) = answer(
        http()
            .post(twin.api("/cases"))
            .bearer_auth(&me)
            .json(
                &json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}],
                          "description": "the replacement pump is broken too and leaking"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    let second = second["id"].as_str().unwrap();
    let (_, before) = get(&format!("/cases/{second}"), &me).await;
    let (status, refused) = resolve(second, &agent, json!({"remedy": "refund"})).await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("refundable"),
        "{refused}"
    );
    let (_, after) = get(&format!("/cases/{second}"), &me).await;
    assert_eq!(
        after["version"], before["version"],
        "a refused resolution writes nothing"
    );
    assert_eq!(after["status"], before["status"]);
    assert_eq!(refunds_of(&customer).await.len(), 1, "no second refund");
}

#[tokio::test]
async fn a_refund_without_its_photo_waits_for_finance_and_a_partial_one_needs_its_amount() {
    let (case, customer) = case_needing_a_photo().await;
    let agent = unique("a");
    let (status, refused) = resolve(&case, &agent, json!({"remedy": "partial_refund"})).await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("amount_minor")
    );
    let (status, refused) = resolve(
        &case,
        &agent,
        json!({"remedy": "refund", "amount_minor": 17_901}),
    )
    .await;
    assert_eq!(status, 422, "more than the claimed serum cost: {refused}");
    assert!(
        refunds_of(&customer).await.is_empty(),
        "refusals write nothing"
    );

    let (status, resolved) = resolve(
        &case,
        &agent,
        json!({"remedy": "partial_refund", "amount_minor": 5_000}),
    )
    .await;
    assert_eq!(status, 200, "{resolved}");
    let refunds = refunds_of(&customer).await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].status(), RefundStatus::Pending);
    assert_eq!(refunds[0].amount_minor(), 5_000);
    let why = serde_json::to_string(refunds[0].screening().unwrap()).unwrap();
    assert!(
        why.contains("photo"),
        "finance sees the missing photo: {why}"
    );
}
