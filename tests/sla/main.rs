//! The SLA escalation sweep end to end: the real sla-escalation binary on its schedule, the
//! cases table's timer index and the FIFO notifications queue in moto.
//!
//! A sweep fired at a future instant escalates every case of the twin that is due by then, so
//! this binary has its own twin (see `aftercare_e2e::twin`), and its tests take turns.

mod backlog;
mod overview;

use std::collections::BTreeMap;

use aftercare_e2e::{TestTwin, answer, http, place_order_on, twin, unique};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// One test at a time: each moves the sweep's time for every case in the twin.
pub static TURN: Mutex<()> = Mutex::const_new(());

pub const SWEEP: &str = "SlaEscalationFunction";

pub async fn open_case(twin: &TestTwin, customer: &str) -> Value {
    let order = place_order_on(twin, customer, &unique("order")).await;
    let (status, case) = answer(
        http()
            .post(twin.api("/cases"))
            .bearer_auth(twin.token(customer, "customer"))
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
    case
}

async fn read_case(twin: &TestTwin, id: &str) -> Value {
    let (status, case) = answer(
        http()
            .get(twin.api(&format!("/cases/{id}")))
            .bearer_auth(twin.token("supervisor-1", "supervisor"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{case}");
    case
}

pub fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// Scheduled events carry whole seconds, as EventBridge sends them.
fn second_before(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::seconds(1)).unwrap() - TimeDelta::seconds(1)
}

pub fn second_after(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::seconds(1)).unwrap() + TimeDelta::seconds(1)
}

/// How often each SLA action is on the case's timeline.
fn sla_steps(case: &Value) -> BTreeMap<String, usize> {
    let mut steps = BTreeMap::new();
    for entry in case["timeline"].as_array().unwrap() {
        let action = entry["action"].as_str().unwrap();
        if action.starts_with("sla_") {
            *steps.entry(action.to_owned()).or_default() += 1;
        }
    }
    steps
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Every notification on the queue so far, read and deleted.
async fn drain_notifications(twin: &TestTwin) -> Vec<Value> {
    aftercare_e2e::drain_queue(twin, "NotificationsQueue")
        .await
        .iter()
        .map(|body| serde_json::from_str(body).unwrap())
        .collect()
}

fn notifications_of<'a>(all: &'a [Value], case: &str) -> Vec<&'a str> {
    let mut kinds: Vec<&str> = all
        .iter()
        .filter(|n| n["case_id"] == case)
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    kinds
}

#[tokio::test]
async fn a_late_case_is_warned_breached_and_escalated_each_once_when_its_time_comes() {
    let _turn = TURN.lock().await;
    let twin = twin();
    drain_notifications(twin).await;
    let case = open_case(twin, &unique("c")).await;
    let id = case["id"].as_str().unwrap();
    let opened = instant(&case["opened_at"]);
    let due = instant(&case["sla"]["first_response_due"]);
    let at_risk = opened + (due - opened) * 4 / 5;
    let escalate_at = opened + (due - opened) * 2;

    twin.fire_schedule(SWEEP, second_before(at_risk))
        .await
        .unwrap();
    assert_eq!(
        sla_steps(&read_case(twin, id).await),
        counts(&[]),
        "not yet"
    );

    for _ in 0..2 {
        twin.fire_schedule(SWEEP, second_after(at_risk))
            .await
            .unwrap();
    }
    let warned = read_case(twin, id).await;
    assert_eq!(sla_steps(&warned), counts(&[("sla_at_risk", 1)]));
    assert_eq!(warned["sla"]["first_response_stage"], "at_risk");
    assert_eq!(warned["sla"]["escalation_level"], 0);

    twin.fire_schedule(SWEEP, second_after(due)).await.unwrap();
    let breached = read_case(twin, id).await;
    assert_eq!(breached["sla"]["escalation_level"], 1);
    assert_eq!(breached["priority"], "normal");

    twin.fire_schedule(SWEEP, second_after(escalate_at))
        .await
        .unwrap();
    twin.fire_schedule(SWEEP, second_after(escalate_at))
        .await
        .unwrap();
    let escalated = read_case(twin, id).await;
    assert_eq!(
        sla_steps(&escalated),
        counts(&[
            ("sla_at_risk", 1),
            ("sla_breached", 1),
            ("sla_escalated", 1)
        ])
    );
    assert_eq!(escalated["sla"]["escalation_level"], 2);
    assert_eq!(
        escalated["priority"], "urgent",
        "raised at twice the target"
    );

    let notifications = drain_notifications(twin).await;
    assert_eq!(
        notifications_of(&notifications, id),
        vec!["sla_at_risk", "sla_breached", "sla_escalated"]
    );
    let escalation = notifications
        .iter()
        .find(|n| n["case_id"] == id && n["kind"] == "sla_escalated")
        .unwrap();
    assert_eq!(escalation["recipient"], json!({"role": "head_of_service"}));
    assert_eq!(
        escalation["notification_id"],
        format!("{id}:first_response:escalated")
    );
}

#[tokio::test]
async fn waiting_on_the_customer_pauses_the_clock_and_answering_resumes_it() {
    let _turn = TURN.lock().await;
    let twin = twin();
    let customer = unique("c");
    let case = open_case(twin, &customer).await;
    let id = case["id"].as_str().unwrap();
    let act = |action: &str, token: String, body: Value| {
        let url = twin.api(&format!("/cases/{id}/{action}"));
        async move {
            let (status, case) = answer(
                http()
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 200, "{case}");
            case
        }
    };
    let agent = twin.token("agent-1", "agent");
    act(
        "replies",
        agent.clone(),
        json!({"message": "Sorry! Could you send a photo?"}),
    )
    .await;
    let waiting = act("wait", agent.clone(), json!({})).await;
    let resolution_due = instant(&waiting["sla"]["resolution_due"]);
    // Paused: even far past every deadline the sweep leaves the case alone.
    twin.fire_schedule(SWEEP, resolution_due + TimeDelta::days(3))
        .await
        .unwrap();
    assert_eq!(sla_steps(&read_case(twin, id).await), counts(&[]));

    let resumed = act(
        "replies",
        twin.token(&customer, "customer"),
        json!({"message": "Here it is."}),
    )
    .await;
    let entries = resumed["timeline"].as_array().unwrap();
    let waited =
        instant(&entries[entries.len() - 1]["at"]) - instant(&entries[entries.len() - 2]["at"]);
    assert_eq!(resumed["status"], "in_progress");
    assert_eq!(
        instant(&resumed["sla"]["resolution_due"]) - resolution_due,
        waited,
        "the deadline moved by the time spent waiting"
    );
    // And the clock runs again.
    twin.fire_schedule(
        SWEEP,
        second_after(instant(&resumed["sla"]["resolution_due"])),
    )
    .await
    .unwrap();
    assert_eq!(
        sla_steps(&read_case(twin, id).await),
        counts(&[("sla_at_risk", 1), ("sla_breached", 1)])
    );
}

#[tokio::test]
async fn four_concurrent_sweeps_escalate_each_case_once() {
    let _turn = TURN.lock().await;
    let twin = twin();
    drain_notifications(twin).await;
    let mut ids = Vec::new();
    let mut latest_escalation = None;
    for _ in 0..12 {
        let case = open_case(twin, &unique("c")).await;
        let opened = instant(&case["opened_at"]);
        let due = instant(&case["sla"]["first_response_due"]);
        let escalate_at = opened + (due - opened) * 2;
        latest_escalation = latest_escalation.max(Some(escalate_at));
        ids.push(case["id"].as_str().unwrap().to_owned());
    }
    let at = second_after(latest_escalation.unwrap());
    let sweeps = (0..4).map(|_| twin.fire_schedule(SWEEP, at));
    let reports = futures_util::future::join_all(sweeps).await;
    let mut escalated = 0;
    for report in reports {
        escalated += report.unwrap()["escalated"].as_u64().unwrap();
    }
    let notifications = drain_notifications(twin).await;
    for id in &ids {
        assert_eq!(
            sla_steps(&read_case(twin, id).await),
            counts(&[
                ("sla_at_risk", 1),
                ("sla_breached", 1),
                ("sla_escalated", 1)
            ]),
            "case {id}"
        );
        assert_eq!(
            notifications_of(&notifications, id),
            vec!["sla_at_risk", "sla_breached", "sla_escalated"],
            "case {id}"
        );
    }
    assert!(
        escalated >= ids.len() as u64,
        "every case was escalated by one of the sweeps"
    );
}
