//! Event sources as Lambda runs them: SQS batches with partial failures and redrive to the
//! DLQ, S3 notifications of the photo bucket.

use std::time::{Duration, Instant};

use aftercare_e2e::{eventually, twin, unique};
use aws_sdk_sqs::types::QueueAttributeName;

async fn visible(sqs: &aws_sdk_sqs::Client, url: &str) -> (u64, u64) {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    let count = |name: QueueAttributeName| {
        attributes
            .get(&name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        count(QueueAttributeName::ApproximateNumberOfMessages),
        count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

#[tokio::test]
async fn a_poison_message_ends_in_the_dlq_while_the_rest_of_its_batch_succeeds() {
    let twin = twin();
    let sqs = aws_sdk_sqs::Client::new(&twin.aws().await);
    let queue = twin
        .twin
        .stack
        .queue("SurveysDueQueue")
        .unwrap()
        .url
        .clone();
    let dlq = twin.twin.stack.queue("SurveysDueDLQ").unwrap().url.clone();
    // A well-formed message for a survey that does not exist: handled (dropped) once.
    let case = aftercare::case::CaseId::from_instant(chrono::Utc::now()).to_string();
    let poison = format!("not a survey {case}");
    let due = serde_json::json!({"case_id": case, "customer_id": unique("c"),
        "order_reference": "generic:nowhere:1", "resolved_by": "agent:a",
        "resolved_at": "2026-11-11T08:00:00Z", "due_at": "2026-11-12T08:00:00Z"});
    sqs.send_message()
        .queue_url(&queue)
        .message_body(due.to_string())
        .send()
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(&queue)
        .message_body(&poison)
        .send()
        .await
        .unwrap();

    // The suite runs with QueueMaxReceiveCount=2 and a 1 s visibility timeout.
    let started = Instant::now();
    let mut in_dlq = Vec::new();
    while started.elapsed() < Duration::from_secs(30) && in_dlq.is_empty() {
        let received = sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            // Long polling: the emulator answers as soon as a message arrives.
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for message in received.messages.unwrap_or_default() {
            if message.body() == Some(poison.as_str()) {
                in_dlq.push(message);
            }
        }
    }
    assert_eq!(in_dlq.len(), 1, "the poison message reached the DLQ");
    let log = twin.function_log("SurveyDispatchFunction");
    let accepted = log
        .lines()
        .filter(|l| l.contains(&case) && l.contains("survey message done"))
        .count();
    assert_eq!(
        accepted, 1,
        "the good message was handled once and deleted, not redelivered"
    );
    let (waiting, in_flight) = visible(&sqs, &queue).await;
    assert_eq!((waiting, in_flight), (0, 0), "nothing is left on the queue");
}

#[tokio::test]
async fn an_object_in_the_photo_bucket_reaches_the_photo_function() {
    let twin = twin();
    let s3 = aws_sdk_s3::Client::new(&twin.aws().await);
    // A well-formed upload key for a case that does not exist: received, ignored and logged.
    let case = ulid::Ulid::new().to_string();
    let photo = ulid::Ulid::new().to_string();
    s3.put_object()
        .bucket(twin.name_of("PhotoBucket"))
        .key(format!("uploads/cases/{case}/{photo}"))
        .body(b"\xff\xd8\xff".to_vec().into())
        .send()
        .await
        .unwrap();
    eventually(
        twin,
        "PhotoUploadFunction",
        "the photo function seeing the object",
        Duration::from_secs(20),
        || async {
            twin.function_log("PhotoUploadFunction")
                .lines()
                .any(|l| l.contains(&case) && l.contains("upload for an unknown case ignored"))
                .then_some(())
        },
    )
    .await;
    // The template's prefix filter is what the bucket notifies with.
    let notifications = s3
        .get_bucket_notification_configuration()
        .bucket(twin.name_of("PhotoBucket"))
        .send()
        .await
        .unwrap();
    let rules: Vec<_> = notifications
        .queue_configurations()
        .iter()
        .flat_map(|q| {
            q.filter()
                .and_then(|f| f.key())
                .map(|k| k.filter_rules().to_vec())
                .unwrap_or_default()
        })
        .map(|rule| {
            (
                rule.name().map(|n| n.as_str().to_owned()),
                rule.value().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        rules,
        vec![(Some("prefix".to_owned()), Some("uploads/".to_owned()))]
    );
}
