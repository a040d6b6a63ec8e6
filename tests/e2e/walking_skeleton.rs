//! A case goes through every layer: API -> JWT -> intake binary -> DynamoDB, and back.

use aftercare_e2e::{twin, unique};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

use crate::{answer, http, place_order};

fn leak_report(order: &str) -> serde_json::Value {
    json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}],
           "description": "快递到的时候精华液瓶子漏了 the serum leaked", "opened": false})
}

#[tokio::test]
async fn a_customer_opens_a_case_and_only_they_and_staff_read_it() {
    let twin = twin();
    let customer = unique("c");
    let order = place_order(&customer).await;
    let response = http()
        .post(twin.api("/cases"))
        .bearer_auth(twin.token(&customer, "customer"))
        .json(&leak_report(&order))
        .send()
        .await
        .unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, case) = answer(response).await;
    assert_eq!(status, 201, "{case}");
    let id = case["id"].as_str().unwrap().to_owned();
    assert_eq!(location.as_deref(), Some(format!("/cases/{id}").as_str()));
    assert_eq!(case["status"], "new");
    assert_eq!(case["customer_id"], customer.as_str());
    assert_eq!(case["timeline"][0]["actor"], format!("customer:{customer}"));

    // Durably written, with its SLA timer in the sharded index.
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let stored = dynamodb
        .get_item()
        .table_name(twin.name_of("CasesTable"))
        .key("case_id", AttributeValue::S(id.clone()))
        .key("entry", AttributeValue::S("case".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the case is stored");
    assert_eq!(stored["customer_id"].as_s().unwrap(), &customer);
    assert!(stored["sla_shard"].as_s().unwrap().len() == 2);
    // The index holds the next checkpoint: 80 % of the first-response target.
    let opened: chrono::DateTime<chrono::Utc> =
        case["opened_at"].as_str().unwrap().parse().unwrap();
    let due: chrono::DateTime<chrono::Utc> = case["sla"]["first_response_due"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        stored["sla_due_at"].as_s().unwrap(),
        &aftercare::clock::rfc3339(opened + (due - opened) * 4 / 5)
    );

    let get = |sub: &str, role: &str| {
        http()
            .get(twin.api(&format!("/cases/{id}")))
            .bearer_auth(twin.token(sub, role))
            .send()
    };
    let (status, own) = answer(get(&customer, "customer").await.unwrap()).await;
    assert_eq!((status, &own["id"]), (200, &case["id"]));
    assert_eq!(own["timeline"].as_array().unwrap().len(), 1);
    let (status, other) = answer(get(&unique("c"), "customer").await.unwrap()).await;
    assert_eq!(
        (status, other["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    for role in ["agent", "expert", "supervisor"] {
        assert_eq!(
            get(&unique("s"), role).await.unwrap().status(),
            200,
            "{role}"
        );
    }
    assert_eq!(get(&unique("f"), "finance").await.unwrap().status(), 404);
}

#[tokio::test]
async fn twenty_concurrent_cases_are_all_kept() {
    let twin = twin();
    let customer = unique("c");
    let order = place_order(&customer).await;
    let token = twin.token(&customer, "customer");
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let request = http()
                .post(twin.api("/cases"))
                .bearer_auth(&token)
                .json(&leak_report(&order));
            tokio::spawn(async move { answer(request.send().await.unwrap()).await })
        })
        .collect();
    let mut answers = Vec::new();
    for request in requests {
        answers.push(request.await.unwrap());
    }
    let mut ids: Vec<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 201, "{body}");
            body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);

    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let stored = dynamodb
        .query()
        .table_name(twin.name_of("CasesTable"))
        .index_name("cases-by-customer")
        .key_condition_expression("customer_id = :c")
        .expression_attribute_values(":c", AttributeValue::S(customer))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.count, 20);
}

#[tokio::test]
async fn retries_with_one_idempotency_key_open_one_case() {
    let twin = twin();
    let customer = unique("c");
    let order = place_order(&customer).await;
    let token = twin.token(&customer, "customer");
    let key = unique("key");
    // Twenty copies of the same request at once, as a flaky mobile network might send them.
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let request = http()
                .post(twin.api("/cases"))
                .bearer_auth(&token)
                .header("idempotency-key", &key)
                .json(&leak_report(&order));
            tokio::spawn(async move { answer(request.send().await.unwrap()).await })
        })
        .collect();
    let mut ids = Vec::new();
    for request in requests {
        let (status, body) = request.await.unwrap();
        match status {
            201 => ids.push(body["id"].as_str().unwrap().to_owned()),
            // Lost the race while the winner's transaction was in flight: safe to retry.
            409 => assert_eq!(body["error"]["code"], "conflict"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every success names the same case: {ids:?}");

    // A later retry replays the first answer.
    let (status, replay) = answer(
        http()
            .post(twin.api("/cases"))
            .bearer_auth(&token)
            .header("idempotency-key", &key)
            .json(&leak_report(&order))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, replay["id"].as_str().unwrap()),
        (201, ids[0].as_str())
    );

    // The same key with another body is refused, and writes nothing.
    let mut other = leak_report(&order);
    other["description"] = json!("a different complaint");
    let (status, refused) = answer(
        http()
            .post(twin.api("/cases"))
            .bearer_auth(&token)
            .header("idempotency-key", &key)
            .json(&other)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );

    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let stored = dynamodb
        .query()
        .table_name(twin.name_of("CasesTable"))
        .index_name("cases-by-customer")
        .key_condition_expression("customer_id = :c")
        .expression_attribute_values(":c", AttributeValue::S(customer))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.count, 1, "one case for one key");
}

#[tokio::test]
async fn a_customer_s_third_case_within_ninety_days_is_flagged_as_a_repeat_complaint() {
    let twin = twin();
    let customer = unique("c");
    let mut flags = Vec::new();
    // Across different orders: the history is the customer's, not the order's.
    for _ in 0..3 {
        let order = place_order(&customer).await;
        let (status, case) = answer(
            http()
                .post(twin.api("/cases"))
                .bearer_auth(twin.token(&customer, "customer"))
                .json(&leak_report(&order))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{case}");
        flags.push(case["classification"]["risk_flags"].clone());
    }
    assert_eq!(
        flags,
        vec![json!([]), json!([]), json!(["repeat_complainant"])]
    );
}
