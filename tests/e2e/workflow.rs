//! Working a case end to end: every transition through the real binary, refusals with the
//! current state, and concurrent edits of which the losers get 409 with nothing half-written.

use aftercare_e2e::{twin, unique};
use serde_json::{Value, json};

use crate::{answer, http, place_order};

async fn open_case(customer: &str) -> String {
    let twin = twin();
    let order = place_order(customer).await;
    let body = json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}],
                      "description": "the serum bottle arrived broken and leaking"});
    let (status, case) = answer(
        http()
            .post(twin.api("/cases"))
            .bearer_auth(twin.token(customer, "customer"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    case["id"].as_str().unwrap().to_owned()
}

async fn act(case: &str, action: &str, token: &str, body: Value) -> (u16, Value) {
    let url = twin().api(&format!("/cases/{case}/{action}"));
    answer(
        http()
            .post(url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_case_walks_through_its_life_and_refuses_what_its_state_forbids() {
    let twin = twin();
    let customer = unique("c");
    let case = open_case(&customer).await;
    let agent = twin.token(&unique("a"), "agent");
    let me = twin.token(&customer, "customer");

    let (status, refused) = act(&case, "close", &me, json!({})).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("illegal_transition")),
        "{refused}"
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("new")
    );

    let steps = [
        (
            "replies",
            &agent,
            json!({"message": "Sorry! A new bottle ships today."}),
            "in_progress",
        ),
        (
            "assign",
            &agent,
            json!({"assignee": "agent-7"}),
            "in_progress",
        ),
        (
            "wait",
            &agent,
            json!({"message": "Could you send a photo of the box?"}),
            "waiting_on_customer",
        ),
        (
            "replies",
            &me,
            json!({"message": "Photo attached in the app."}),
            "in_progress",
        ),
        (
            "resolve",
            &agent,
            json!({"remedy": "replacement", "note": "Reshipped SERUM-30"}),
            "resolved",
        ),
        ("close", &me, json!({}), "closed"),
        (
            "reopen",
            &me,
            json!({"reason": "The new one leaks too."}),
            "in_progress",
        ),
    ];
    for (action, token, body, expected) in steps {
        let (status, after) = act(&case, action, token, body).await;
        assert_eq!(
            (status, after["status"].as_str()),
            (200, Some(expected)),
            "{action}: {after}"
        );
    }
    let (_, file) = answer(
        http()
            .get(twin.api(&format!("/cases/{case}")))
            .bearer_auth(&me)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let actions: Vec<&str> = file["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "opened",
            "replied",
            "assigned",
            "waiting_on_customer",
            "replied",
            "resolved",
            "closed",
            "reopened"
        ]
    );
    assert!(file["sla"]["first_response_at"].is_string());
    assert_eq!(file["assignee"], "agent-7");

    // Someone else's case does not exist for them; a remedy not offered is refused.
    let (status, _) = act(
        &case,
        "replies",
        &twin.token(&unique("c"), "customer"),
        json!({"message": "hi"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = act(&case, "resolve", &agent, json!({"remedy": "exchange"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("validation_failed")),
        "{body}"
    );
    let (status, body) = act(
        &case,
        "assign",
        &agent,
        json!({"assignee": "a", "extra": 1}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
}

#[tokio::test]
async fn of_concurrent_edits_the_losers_get_409_and_nothing_is_half_written() {
    let twin = twin();
    let customer = unique("c");
    let case = open_case(&customer).await;
    let edits: Vec<_> = (0..10)
        .map(|n| {
            let token = twin.token(&format!("agent-{n}"), "agent");
            let case = case.clone();
            tokio::spawn(async move {
                act(
                    &case,
                    "assign",
                    &token,
                    json!({"assignee": format!("agent-{n}")}),
                )
                .await
            })
        })
        .collect();
    let (mut won, mut lost) = (0, 0);
    for edit in edits {
        match edit.await.unwrap() {
            (200, _) => won += 1,
            (409, body) => {
                assert_eq!(body["error"]["code"], "conflict", "{body}");
                lost += 1;
            }
            (status, body) => panic!("unexpected {status}: {body}"),
        }
    }
    assert_eq!(won + lost, 10);
    assert!(won >= 1);
    let (_, file) = answer(
        http()
            .get(twin.api(&format!("/cases/{case}")))
            .bearer_auth(twin.token(&customer, "customer"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(file["version"], 1 + won, "one version per accepted edit");
    assert_eq!(
        file["timeline"].as_array().unwrap().len(),
        1 + won as usize,
        "one entry per accepted edit, none for the refused"
    );
}
