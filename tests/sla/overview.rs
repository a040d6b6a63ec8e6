//! `GET /sla/overview` against what the sweep and the agents really wrote.

use aftercare_e2e::{answer, http, twin, unique};
use serde_json::{Value, json};

use crate::{SWEEP, TURN, instant, open_case, second_after};

async fn overview() -> Value {
    let twin = twin();
    let (status, body) = answer(
        http()
            .get(twin.api("/sla/overview"))
            .bearer_auth(twin.token("supervisor-1", "supervisor"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn service(overview: &Value) -> &Value {
    overview["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "service")
        .unwrap()
}

fn number(value: &Value) -> i64 {
    value.as_i64().unwrap()
}

#[tokio::test]
async fn the_overview_counts_breaches_now_and_response_times_from_what_was_written() {
    let _turn = TURN.lock().await;
    let twin = twin();
    let before = overview().await;
    let case = open_case(twin, &unique("c")).await;
    assert_eq!(case["queue"], "service");
    let id = case["id"].as_str().unwrap();
    twin.fire_schedule(
        SWEEP,
        second_after(instant(&case["sla"]["first_response_due"])),
    )
    .await
    .unwrap();
    let breached = overview().await;
    assert_eq!(
        number(&service(&breached)["now"]["breached"]),
        number(&service(&before)["now"]["breached"]) + 1
    );
    assert_eq!(
        service(&breached)["now"]["at_risk"],
        service(&before)["now"]["at_risk"],
        "at risk and breached in one sweep: counted as breached only"
    );

    // The first response (given now, well within the hour of real time) ends the breach of
    // that target and is one more observation of today.
    let (status, _) = answer(
        http()
            .post(twin.api(&format!("/cases/{id}/replies")))
            .bearer_auth(twin.token("agent-1", "agent"))
            .json(&json!({"message": "So sorry, a replacement is on its way."}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let answered = overview().await;
    assert_eq!(
        service(&answered)["now"]["breached"],
        service(&before)["now"]["breached"]
    );
    let count = |o: &Value| number(&service(o)["first_response"]["count"]);
    assert_eq!(count(&answered), count(&before) + 1);
    assert!(service(&answered)["first_response"]["p50_minutes_at_most"].is_i64());
}
