//! A customer's own cases, newest first with cursor pagination; the staff work queues; and
//! classification without writing.

use aftercare_e2e::{twin, unique};
use serde_json::json;

use crate::{answer, http, place_order};

#[tokio::test]
async fn a_customer_pages_through_their_own_cases_newest_first() {
    let twin = twin();
    let customer = unique("c");
    let order = place_order(&customer).await;
    let token = twin.token(&customer, "customer");
    let mut opened = Vec::new();
    for n in 0..5 {
        let body = json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}],
                          "description": format!("question {n}: how do I use this serum?")});
        let (status, case) = answer(
            http()
                .post(twin.api("/cases"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{case}");
        opened.push(case["id"].as_str().unwrap().to_owned());
    }
    // Someone else's case never shows.
    let stranger = unique("c");
    let their_order = place_order(&stranger).await;
    let body = json!({"order_id": their_order, "lines": [{"sku": "SERUM-30", "quantity": 1}], "description": "leaking"});
    assert_eq!(
        http()
            .post(twin.api("/cases"))
            .bearer_auth(twin.token(&stranger, "customer"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = twin.api("/cases?limit=2");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let (status, page) =
            answer(http().get(url).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    opened.reverse();
    assert_eq!(
        seen, opened,
        "all five, newest first, none twice, no one else's"
    );

    for bad in ["limit=0", "limit=101", "limit=x", "cursor=not-ours"] {
        let (status, body) = answer(
            http()
                .get(twin.api(&format!("/cases?{bad}")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

#[tokio::test]
async fn staff_see_work_queues_most_urgent_first() {
    let twin = twin();
    let customer = unique("c");
    let order = place_order(&customer).await;
    let token = twin.token(&customer, "customer");
    let open = |description: &str| {
        let body = json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}], "description": description});
        http()
            .post(twin.api("/cases"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let (_, normal) = answer(open("用了精华后脸上有点红，有点痒").await.unwrap()).await;
    let (_, urgent) = answer(
        open("用了精华后眼睛肿了，呼吸有点困难，刚去了医院")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (normal["queue"].as_str(), urgent["queue"].as_str()),
        (Some("expert"), Some("expert"))
    );
    assert_eq!(urgent["priority"], "urgent");

    let (status, queue) = answer(
        http()
            .get(twin.api("/queues/expert?limit=100"))
            .bearer_auth(twin.token(&unique("e"), "expert"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{queue}");
    let ids: Vec<&str> = queue["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let at = |id: &serde_json::Value| ids.iter().position(|i| *i == id.as_str().unwrap()).unwrap();
    assert!(
        at(&urgent["id"]) < at(&normal["id"]),
        "the urgent case comes first"
    );

    assert_eq!(
        http()
            .get(twin.api("/queues/expert"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        http()
            .get(twin.api("/queues/nowhere"))
            .bearer_auth(twin.token(&unique("a"), "agent"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn staff_classify_a_phone_complaint_without_writing_it() {
    let twin = twin();
    let agent = twin.token(&unique("a"), "agent");
    let body = json!({"description": "My baby got a rash with blisters after the baby cream; I will post it on Weibo"});
    let (status, answer_body) = answer(
        http()
            .post(twin.api("/classify"))
            .bearer_auth(&agent)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{answer_body}");
    assert_eq!(
        answer_body["classification"]["category"],
        "adverse_reaction"
    );
    assert_eq!(answer_body["classification"]["severity"], "urgent");
    assert_eq!(
        answer_body["classification"]["risk_flags"],
        json!(["public_opinion"])
    );
    assert!(
        !answer_body["classification"]["evidence"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(answer_body["queue"], "expert");

    let customer = twin.token(&unique("c"), "customer");
    assert_eq!(
        http()
            .post(twin.api("/classify"))
            .bearer_auth(&customer)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}
