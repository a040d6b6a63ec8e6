//! Every sample event in `events/` (as AWS sends it) fed to the real binary it is for.

use aftercare_e2e::{twin, workspace};
use serde_json::Value;

/// Which function each sample is for, by file-name prefix.
const FUNCTIONS: &[(&str, &str)] = &[
    ("intake-", "IntakeFunction"),
    ("photo-upload-", "PhotoUploadFunction"),
    ("sla-escalation-", "SlaEscalationFunction"),
    ("refund-approval-", "RefundApprovalFunction"),
    ("survey-dispatch-", "SurveyDispatchFunction"),
    ("daily-report-", "DailyReportFunction"),
];

fn samples() -> Vec<(String, &'static str, Value)> {
    let mut samples = Vec::new();
    for entry in std::fs::read_dir(workspace().join("events")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let function = FUNCTIONS
            .iter()
            .find(|(prefix, _)| name.starts_with(prefix))
            .map(|(_, f)| *f)
            .unwrap_or_else(|| panic!("events/{name} names no function by its prefix"));
        let event = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        samples.push((name, function, event));
    }
    samples.sort_by(|a, b| a.0.cmp(&b.0));
    samples
}

fn body(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().expect("a body")).expect("a JSON body")
}

#[tokio::test]
async fn every_sample_event_gets_a_well_formed_answer_from_its_binary() {
    let twin = twin();
    // The sample request opens a case on this order of its customer.
    crate::place_order_as("c-sample-1", "SAMPLE-1001").await;
    let samples = samples();
    let functions: Vec<&str> = samples.iter().map(|s| s.1).collect();
    for (_, function) in FUNCTIONS {
        assert!(
            functions.contains(function),
            "no sample event for {function}"
        );
    }
    for (name, function, event) in samples {
        let answer = twin
            .invoke(function, event)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        match name.as_str() {
            "intake-open-case.json" => {
                assert_eq!(answer["statusCode"], 201, "{name}: {answer}");
                assert_eq!(body(&answer)["customer_id"], "c-sample-1");
            }
            "intake-get-case.json" => {
                assert_eq!(answer["statusCode"], 404, "{name}: {answer}");
                assert_eq!(body(&answer)["error"]["code"], "not_found");
            }
            "intake-no-route.json" => assert_eq!(answer["statusCode"], 405, "{name}: {answer}"),
            "intake-quality-alert-relay.json" => {
                assert_eq!(
                    answer["relayed_at"], "2026-11-23T10:02:00Z",
                    "{name}: {answer}"
                );
                assert!(answer["sent"].is_u64() && answer["failed"].is_u64());
            }
            "refund-approval-list-refunds.json" => {
                assert_eq!(answer["statusCode"], 200, "{name}: {answer}");
                assert!(body(&answer)["refunds"].is_array());
            }
            "refund-approval-payout-relay.json" => {
                assert_eq!(
                    answer["relayed_at"], "2026-11-23T10:01:00Z",
                    "{name}: {answer}"
                );
                assert!(answer["sent"].is_u64() && answer["failed"].is_u64());
            }
            "survey-dispatch-sqs-batch.json" => {
                let failures = answer["batchItemFailures"]
                    .as_array()
                    .expect("a batch response");
                assert_eq!(
                    failures.len(),
                    1,
                    "{name}: only the unreadable message fails: {answer}"
                );
                assert_eq!(
                    failures[0]["itemIdentifier"],
                    "2e1424d4-f796-459a-8184-9c92662be6da"
                );
            }
            "survey-dispatch-sweep.json" => {
                assert_eq!(
                    answer["swept_at"], "2026-11-23T10:05:00Z",
                    "{name}: {answer}"
                );
                assert!(answer["due"].is_u64(), "{name}: {answer}");
            }
            "daily-report-scheduled.json" => {
                assert_eq!(answer["day"], "2026-11-22", "{name}: {answer}");
                assert_eq!(answer["json_key"], "reports/daily/2026-11-22.json");
                assert_eq!(answer["csv_key"], "reports/daily/2026-11-22.csv");
            }
            "sla-escalation-scheduled.json" => {
                assert_eq!(
                    answer["swept_at"], "2026-11-23T10:00:00Z",
                    "{name}: {answer}"
                );
                assert!(answer["due"].is_u64());
            }
            "photo-upload-s3-created.json" => {
                assert_eq!(answer["received"], 1, "{name}: {answer}");
                assert_eq!(
                    answer["ignored"], 1,
                    "{name}: a foreign bucket is ignored: {answer}"
                );
            }
            other => panic!("events/{other} has no expectation here; add one"),
        }
    }
}

#[tokio::test]
async fn a_function_refuses_an_event_of_a_trigger_it_is_not_wired_to() {
    let twin = twin();
    // Intake answers HTTP requests and its alert relay's schedule, nothing else.
    let notification = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("events/photo-upload-s3-created.json")).unwrap(),
    )
    .unwrap();
    let error = twin
        .invoke("IntakeFunction", notification)
        .await
        .unwrap_err();
    assert!(error.contains("not s3 events"), "{error}");
}
