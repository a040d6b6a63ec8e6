//! The authorisation matrix: every route of the template × every caller, against the status
//! the table below expects. One table, so a newcomer reads who may do what in one place, and a
//! route added to the template without a row fails the test.
//!
//! Callers: no token, an expired token, the customer who owns the case, another customer, the
//! four staff roles, finance and the payment integration. A case is invisible (404) to anyone
//! who may not see it, so another customer learns nothing, not even that it exists; a route
//! closed to a role answers 403. Every route that changes a case gets a fresh one, and after
//! every refused change the case is read back unchanged.

use std::collections::BTreeSet;

use aftercare::api::ROUTES;
use aftercare::survey::SurveyToken;
use aftercare_e2e::{TestTwin, place_order_on, twin, unique};
use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};

use crate::http;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    NoToken,
    Expired,
    Owner,
    OtherCustomer,
    Agent,
    Expert,
    Supervisor,
    Finance,
    Payments,
}

/// The columns of [`MATRIX`], in order.
const CALLERS: [Caller; 9] = [
    Caller::NoToken,
    Caller::Expired,
    Caller::Owner,
    Caller::OtherCustomer,
    Caller::Agent,
    Caller::Expert,
    Caller::Supervisor,
    Caller::Finance,
    Caller::Payments,
];

/// What each caller gets. Columns: no token, expired, owner, other customer, agent, expert,
/// supervisor, finance, payment integration.
///
/// Notes on the rows that are not plain allow/deny:
/// - `POST /cases` names the owner's order: another customer cannot open a case on it (404, the
///   order is not theirs), and staff do not open cases for customers.
/// - `POST /cases/{id}/close` and `/reopen` run on a resolved case, `/wait` on one a member of
///   staff has answered.
/// - `POST /refunds/{id}/settlement` reports a payout of a refund not yet approved: the payment
///   integration is let in and told the refund is not approved (409).
/// - Webhooks are not authorised by bearer tokens but by the storefront's signature: without
///   one every caller is refused alike. Products and surveys are public (a survey's link is its
///   own credential), so a token neither helps nor hurts: an unknown survey is 404 for everyone.
/// - `POST /quality/alerts/{id}/acknowledge` names an alert that does not exist: 404 to those
///   who may acknowledge, 403 to the rest.
#[rustfmt::skip]
const MATRIX: &[(&str, [u16; 9])] = &[
    //                                        none expd ownr othr agnt expt supv fin  pay
    ("POST /cases",                          [401, 401, 201, 404, 403, 403, 403, 403, 403]),
    ("GET /cases",                           [401, 401, 200, 200, 403, 403, 403, 403, 403]),
    ("GET /cases/{id}",                      [401, 401, 200, 404, 200, 200, 200, 404, 404]),
    ("POST /cases/{id}/replies",             [401, 401, 200, 404, 200, 200, 200, 404, 404]),
    ("POST /cases/{id}/assign",              [401, 401, 403, 404, 200, 200, 200, 404, 404]),
    ("POST /cases/{id}/wait",                [401, 401, 403, 404, 200, 200, 200, 404, 404]),
    ("POST /cases/{id}/resolve",             [401, 401, 403, 404, 200, 200, 200, 404, 404]),
    ("POST /cases/{id}/close",               [401, 401, 200, 404, 200, 200, 200, 404, 404]),
    ("POST /cases/{id}/reopen",              [401, 401, 200, 404, 200, 200, 200, 404, 404]),
    ("POST /cases/{id}/photos",              [401, 401, 201, 404, 201, 201, 201, 404, 404]),
    ("GET /cases/{id}/photos",               [401, 401, 200, 404, 200, 200, 200, 404, 404]),
    ("GET /queues/{queue}",                  [401, 401, 403, 403, 200, 200, 200, 403, 403]),
    ("GET /sla/overview",                    [401, 401, 403, 403, 403, 403, 200, 403, 403]),
    ("GET /metrics",                         [401, 401, 403, 403, 403, 403, 200, 403, 403]),
    ("POST /classify",                       [401, 401, 403, 403, 200, 200, 200, 403, 403]),
    ("GET /products/{sku}",                  [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /webhooks/shopify",               [401, 401, 401, 401, 401, 401, 401, 401, 401]),
    ("POST /webhooks/woocommerce",           [401, 401, 401, 401, 401, 401, 401, 401, 401]),
    ("POST /webhooks/generic",               [401, 401, 401, 401, 401, 401, 401, 401, 401]),
    ("GET /refunds",                         [401, 401, 403, 403, 403, 403, 403, 200, 403]),
    ("GET /refunds/export",                  [401, 401, 403, 403, 403, 403, 403, 200, 403]),
    ("GET /refunds/{id}",                    [401, 401, 403, 403, 403, 403, 403, 200, 403]),
    ("POST /refunds/{id}/approve",           [401, 401, 403, 403, 403, 403, 403, 200, 403]),
    ("POST /refunds/{id}/reject",            [401, 401, 403, 403, 403, 403, 403, 200, 403]),
    ("POST /refunds/{id}/settlement",        [401, 401, 403, 403, 403, 403, 403, 403, 409]),
    ("GET /surveys/{token}",                 [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST /surveys/{token}",                [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST /surveys/{token}/opt-out",        [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("PUT /customers/me/survey-preference",  [401, 401, 200, 200, 403, 403, 403, 403, 403]),
    ("GET /quality/alerts",                  [401, 401, 403, 403, 403, 200, 200, 403, 403]),
    ("POST /quality/alerts/{id}/acknowledge",[401, 401, 403, 403, 403, 404, 404, 403, 403]),
];

/// The people of one run: unique subjects, so other tests' data never shows up.
struct People {
    owner: String,
    other: String,
    run: String,
}

impl People {
    fn token(&self, twin: &TestTwin, caller: Caller) -> Option<String> {
        let (subject, role) = match caller {
            Caller::NoToken => return None,
            Caller::Expired => {
                // Expired two minutes ago: past any clock-skew leeway.
                return Some(
                    twin.twin
                        .token(&self.owner, "customer", -120)
                        .expect("token"),
                );
            }
            Caller::Owner => (self.owner.clone(), "customer"),
            Caller::OtherCustomer => (self.other.clone(), "customer"),
            Caller::Agent => (format!("agent-{}", self.run), "agent"),
            Caller::Expert => (format!("expert-{}", self.run), "expert"),
            Caller::Supervisor => (format!("supervisor-{}", self.run), "supervisor"),
            Caller::Finance => (format!("finance-{}", self.run), "finance"),
            Caller::Payments => (format!("payments-{}", self.run), "payment_integration"),
        };
        Some(twin.token(&subject, role))
    }
}

async fn call(
    twin: &TestTwin,
    method: &Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = http().request(method.clone(), twin.api(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    // The refund export answers CSV; everything else, and every refusal, JSON.
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

async fn open_case(twin: &TestTwin, people: &People, order: &str) -> String {
    let (status, case) = call(
        twin,
        &Method::POST,
        "/cases",
        Some(&twin.token(&people.owner, "customer")),
        Some(
            &json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}],
                     "description": "The serum bottle arrived cracked and leaking."}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    case["id"].as_str().unwrap().to_owned()
}

async fn resolve(twin: &TestTwin, people: &People, case: &str, body: Value) -> Value {
    let agent = twin.token(&format!("agent-{}", people.run), "agent");
    let path = format!("/cases/{case}/resolve");
    let (status, resolved) = call(twin, &Method::POST, &path, Some(&agent), Some(&body)).await;
    assert_eq!(status, 200, "{resolved}");
    resolved
}

/// A refund waiting for finance, on a fresh order and case of the owner (an order line is
/// refunded at most what was paid for it).
async fn pending_refund(twin: &TestTwin, people: &People) -> String {
    let order = place_order_on(twin, &people.owner, &unique("authz-order")).await;
    let case = open_case(twin, people, &order).await;
    let resolved = resolve(
        twin,
        people,
        &case,
        json!({"remedy": "partial_refund", "amount_minor": 5_000}),
    )
    .await;
    resolved["resolution"]["refund_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// What a case looks like to its owner, without the fields that move with the clock.
async fn case_as_owner(twin: &TestTwin, people: &People, case: &str) -> Value {
    let (status, mut body) = call(
        twin,
        &Method::GET,
        &format!("/cases/{case}"),
        Some(&twin.token(&people.owner, "customer")),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    if let Some(object) = body.as_object_mut() {
        object.remove("sla");
    }
    body
}

/// The request of one cell: path, body, and the case it may change (read back after a
/// refusal).
async fn request_for(
    twin: &TestTwin,
    people: &People,
    order: &str,
    route: &str,
    shared_case: &str,
    shared_refund: &str,
) -> (String, Option<Value>, Option<String>) {
    let today = Utc::now().date_naive();
    let survey = SurveyToken::from_bytes([7; SurveyToken::BYTES]);
    let survey = survey.as_str();
    let fresh_case = || open_case(twin, people, order);
    let fresh_resolved_case = || async {
        let case = open_case(twin, people, order).await;
        let body = json!({"remedy": "replacement", "note": "Reshipped SERUM-30"});
        resolve(twin, people, &case, body).await;
        case
    };
    match route {
        "POST /cases" => (
            "/cases".into(),
            Some(
                json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}],
                        "description": "The cream gave me a rash."}),
            ),
            None,
        ),
        "GET /cases" => ("/cases".into(), None, None),
        "GET /cases/{id}" => (format!("/cases/{shared_case}"), None, None),
        "GET /cases/{id}/photos" => (format!("/cases/{shared_case}/photos"), None, None),
        "POST /cases/{id}/photos" => (
            format!("/cases/{shared_case}/photos"),
            Some(json!({"content_type": "image/jpeg", "content_length": 2_048})),
            None,
        ),
        "POST /cases/{id}/replies" => {
            let case = fresh_case().await;
            (
                format!("/cases/{case}/replies"),
                Some(json!({"message": "Any news?"})),
                Some(case),
            )
        }
        "POST /cases/{id}/assign" => {
            let case = fresh_case().await;
            (
                format!("/cases/{case}/assign"),
                Some(json!({"assignee": "agent-7"})),
                Some(case),
            )
        }
        "POST /cases/{id}/wait" => {
            // Waiting on the customer follows a staff answer: a new case cannot wait.
            let case = fresh_case().await;
            let agent = twin.token(&format!("agent-{}", people.run), "agent");
            let path = format!("/cases/{case}/replies");
            let reply = json!({"message": "Could you tell us the batch number?"});
            let (status, body) = call(twin, &Method::POST, &path, Some(&agent), Some(&reply)).await;
            assert_eq!(status, 200, "{body}");
            (
                format!("/cases/{case}/wait"),
                Some(json!({"message": "Could you send a photo of the box?"})),
                Some(case),
            )
        }
        "POST /cases/{id}/resolve" => {
            let case = fresh_case().await;
            (
                format!("/cases/{case}/resolve"),
                Some(json!({"remedy": "replacement", "note": "Reshipped SERUM-30"})),
                Some(case),
            )
        }
        "POST /cases/{id}/close" => {
            let case = fresh_resolved_case().await;
            (format!("/cases/{case}/close"), Some(json!({})), Some(case))
        }
        "POST /cases/{id}/reopen" => {
            let case = fresh_resolved_case().await;
            (
                format!("/cases/{case}/reopen"),
                Some(json!({"reason": "The new one leaks too."})),
                Some(case),
            )
        }
        "GET /queues/{queue}" => ("/queues/service?limit=5".into(), None, None),
        "GET /sla/overview" => ("/sla/overview".into(), None, None),
        "GET /metrics" => (format!("/metrics?from={today}&to={today}"), None, None),
        "POST /classify" => (
            "/classify".into(),
            Some(json!({"description": "My face is swollen after the cream."})),
            None,
        ),
        "GET /products/{sku}" => ("/products/SERUM-30".into(), None, None),
        "POST /webhooks/shopify" => ("/webhooks/shopify".into(), Some(json!({"id": 1})), None),
        "POST /webhooks/woocommerce" => {
            ("/webhooks/woocommerce".into(), Some(json!({"id": 1})), None)
        }
        "POST /webhooks/generic" => ("/webhooks/generic".into(), Some(json!({"id": 1})), None),
        "GET /refunds" => ("/refunds".into(), None, None),
        "GET /refunds/export" => (
            format!("/refunds/export?from={today}&to={today}"),
            None,
            None,
        ),
        "GET /refunds/{id}" => (format!("/refunds/{shared_refund}"), None, None),
        "POST /refunds/{id}/approve" => {
            let refund = pending_refund(twin, people).await;
            (format!("/refunds/{refund}/approve"), Some(json!({})), None)
        }
        "POST /refunds/{id}/reject" => {
            let refund = pending_refund(twin, people).await;
            (
                format!("/refunds/{refund}/reject"),
                Some(json!({"reason": "Outside the policy."})),
                None,
            )
        }
        "POST /refunds/{id}/settlement" => (
            format!("/refunds/{shared_refund}/settlement"),
            Some(json!({"outcome": "paid", "provider_reference": unique("pay")})),
            None,
        ),
        "GET /surveys/{token}" => (format!("/surveys/{survey}"), None, None),
        "POST /surveys/{token}" => (format!("/surveys/{survey}"), Some(json!({"csat": 5})), None),
        "POST /surveys/{token}/opt-out" => {
            (format!("/surveys/{survey}/opt-out"), Some(json!({})), None)
        }
        "PUT /customers/me/survey-preference" => (
            "/customers/me/survey-preference".into(),
            Some(json!({"opted_out": false})),
            None,
        ),
        "GET /quality/alerts" => ("/quality/alerts".into(), None, None),
        "POST /quality/alerts/{id}/acknowledge" => (
            format!("/quality/alerts/{}/acknowledge", ulid::Ulid::new()),
            Some(json!({"note": "Batch pulled from sale."})),
            None,
        ),
        other => panic!("{other}: no request in the matrix; add a row and a request"),
    }
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_matrix_says() {
    let twin = twin();
    let run = unique("authz");
    let people = People {
        owner: format!("owner-{run}"),
        other: format!("other-{run}"),
        run: run.clone(),
    };
    crate::products::load_seed_catalogue().await;
    let order = place_order_on(twin, &people.owner, &unique("authz-order")).await;
    let shared_case = open_case(twin, &people, &order).await;
    let shared_refund = pending_refund(twin, &people).await;

    let in_matrix: BTreeSet<&str> = MATRIX.iter().map(|(route, _)| *route).collect();
    let in_code: BTreeSet<&str> = ROUTES.iter().copied().collect();
    assert_eq!(
        in_matrix, in_code,
        "the matrix and aftercare::api::ROUTES differ"
    );
    let in_template: BTreeSet<String> = twin
        .twin
        .stack
        .routes
        .iter()
        .filter(|route| route.path.is_some())
        .map(|route| route.key())
        .collect();
    assert_eq!(
        in_matrix
            .iter()
            .map(|r| r.to_string())
            .collect::<BTreeSet<_>>(),
        in_template,
        "the matrix and the template's routes differ"
    );

    let mut wrong = Vec::new();
    for (route, expected) in MATRIX {
        let method: Method = route.split(' ').next().unwrap().parse().unwrap();
        for (caller, expected) in CALLERS.iter().zip(expected) {
            let (path, body, case) =
                request_for(twin, &people, &order, route, &shared_case, &shared_refund).await;
            let before = match &case {
                Some(case) => Some(case_as_owner(twin, &people, case).await),
                None => None,
            };
            let token = people.token(twin, *caller);
            let (status, answer) =
                call(twin, &method, &path, token.as_deref(), body.as_ref()).await;
            if status != *expected {
                wrong.push(format!(
                    "{route} as {caller:?}: {status}, expected {expected}: {answer}"
                ));
            }
            if status >= 400 {
                assert!(
                    answer["error"]["code"].is_string() && answer["error"]["message"].is_string(),
                    "{route} as {caller:?}: a refusal without the error body: {answer}"
                );
                if let (Some(case), Some(before)) = (&case, &before) {
                    assert_eq!(
                        &case_as_owner(twin, &people, case).await,
                        before,
                        "{route} as {caller:?} was refused but changed the case"
                    );
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Another customer's listing never holds the owner's case.
    let (status, listing) = call(
        twin,
        &Method::GET,
        "/cases",
        people.token(twin, Caller::OtherCustomer).as_deref(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{listing}");
    assert!(
        !listing.to_string().contains(&shared_case),
        "another customer's listing shows the owner's case: {listing}"
    );
}
