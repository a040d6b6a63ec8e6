//! A backlog: 5,000 cases due among 50,000 not yet due. The sweep works it off over successive
//! runs of its default batch (100 cases per timer shard), reading the due cases and nothing
//! else, and escalates each once.
//!
//! The cases are written straight into the cases table. They were opened in 2020, long before
//! any case of the other tests (opened now), so the sweep fired at 2020-03-01 touches only the
//! backlog; and they are removed at the end, or the not-yet-due ones (due in 2020 still) would
//! be the oldest checkpoints of every later sweep of the other tests.

use std::time::Instant;

use aftercare::case::Case;
use aftercare::sla::TIMER_SHARDS;
use aftercare_e2e::{
    TestTwin, batch_write_cases, load_cases, sweep_until_drained, synthetic_case, twin,
};
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, Select, WriteRequest};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

const DUE: usize = 5_000;
const NOT_YET_DUE: usize = 50_000;
/// 5,000 cases at 100 per shard and run take 7 or 8 runs and one that finds nothing left; far
/// more means the backlog does not drain.
const MAX_RUNS: usize = 200;
/// Cases of each kind read back one by one.
const SAMPLE: usize = 20;

fn key(case_id: &str, entry: &str) -> [(String, AttributeValue); 2] {
    [
        ("case_id".to_owned(), AttributeValue::S(case_id.to_owned())),
        ("entry".to_owned(), AttributeValue::S(entry.to_owned())),
    ]
}

/// The stored case item's `escalation_level` and `version`.
async fn stored_level_and_version(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    case: &Case,
) -> (u64, u64) {
    let item = dynamodb
        .get_item()
        .table_name(table)
        .set_key(Some(key(&case.id.to_string(), "case").into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("case {} is not in the table", case.id));
    let number = |name: &str| -> u64 {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("case {}: no {name} in {item:?}", case.id))
    };
    (number("escalation_level"), number("version"))
}

/// Every `len / SAMPLE`th case.
fn sample(cases: &[Case]) -> impl Iterator<Item = &Case> {
    cases
        .iter()
        .step_by((cases.len() / SAMPLE).max(1))
        .take(SAMPLE)
}

/// Entries of the timer index due by `at`, over all shards.
async fn timers_due(dynamodb: &aws_sdk_dynamodb::Client, table: &str, at: DateTime<Utc>) -> i32 {
    let mut due = 0;
    for shard in 0..TIMER_SHARDS {
        let mut pages = dynamodb
            .query()
            .table_name(table)
            .index_name("sla-timers-due")
            .key_condition_expression("sla_shard = :shard AND sla_due_at <= :at")
            .expression_attribute_values(":shard", AttributeValue::S(format!("{shard:02}")))
            .expression_attribute_values(":at", AttributeValue::S(aftercare::clock::rfc3339(at)))
            .select(Select::Count)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            due += page.unwrap().count;
        }
    }
    due
}

/// Removes the backlog: its case items, and the timeline entries the sweep wrote at `at`.
async fn remove(twin: &TestTwin, cases: &[&Case], at: DateTime<Utc>) {
    let delete = |case_id: String, entry: String| {
        WriteRequest::builder()
            .delete_request(
                DeleteRequest::builder()
                    .set_key(Some(key(&case_id, &entry).into()))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let cases = cases
        .iter()
        .map(|case| delete(case.id.to_string(), "case".into()))
        .collect();
    batch_write_cases(twin, cases).await;
    // Timeline entries are keyed `timeline#<ulid of their instant>`: the sweep's are the ones
    // of `at`, and no other test writes any in 2020.
    let prefix = format!(
        "timeline#{}",
        &ulid::Ulid::from_parts(at.timestamp_millis() as u64, 0).to_string()[..10]
    );
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let mut pages = dynamodb
        .scan()
        .table_name(twin.name_of("CasesTable"))
        .filter_expression("begins_with(#entry, :prefix)")
        .projection_expression("case_id, #entry")
        .expression_attribute_names("#entry", "entry")
        .expression_attribute_values(":prefix", AttributeValue::S(prefix))
        .into_paginator()
        .items()
        .send();
    let mut entries = Vec::new();
    while let Some(item) = pages.next().await {
        let item = item.unwrap();
        let string = |name: &str| item[name].as_s().unwrap().clone();
        entries.push(delete(string("case_id"), string("entry")));
    }
    batch_write_cases(twin, entries).await;
    // And the sweep's notifications: the other tests read the queue from end to end.
    let sqs = aws_sdk_sqs::Client::new(&twin.aws().await);
    let queue = sqs
        .get_queue_url()
        .queue_name(twin.name_of("NotificationsQueue"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.purge_queue().queue_url(queue).send().await.unwrap();
}

#[tokio::test]
async fn a_backlog_of_5000_due_among_50000_not_yet_due_is_escalated_reading_only_what_is_due() {
    let _turn = crate::TURN.lock().await;
    let twin = twin();
    let at = Utc.with_ymd_and_hms(2020, 3, 1, 0, 0, 0).unwrap();
    let second = TimeDelta::seconds;

    let opened = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    let due: Vec<Case> = (0..DUE as i64)
        .map(|i| synthetic_case("backlog-due", opened + second(i)))
        .collect();
    // Opened from the sweep's instant on: their first checkpoints are minutes after it.
    let not_yet_due: Vec<Case> = (0..NOT_YET_DUE as i64)
        .map(|i| synthetic_case("backlog-not-yet-due", at + second(i)))
        .collect();
    for case in &due {
        let sla = &case.sla;
        assert!(
            sla.first_response
                .escalate_at
                .max(sla.resolution.escalate_at)
                <= at,
            "every stage of {} has come by {at}",
            case.id
        );
    }
    for case in &not_yet_due {
        assert!(case.next_sla_checkpoint().is_some_and(|next| next > at));
    }

    let loading = Instant::now();
    load_cases(twin, &due).await;
    load_cases(twin, &not_yet_due).await;
    let loading = loading.elapsed();
    eprintln!(
        "backlog: loaded {} cases in {:.1} s",
        DUE + NOT_YET_DUE,
        loading.as_secs_f64()
    );

    let totals = sweep_until_drained(twin, at, MAX_RUNS).await;
    eprintln!(
        "backlog: {} runs in {:.1} s (slowest {:.1} s); escalated {} of {DUE} ({} steps); \
         read {} items, {:.3} x the cases due; {} DynamoDB calls, {} writes, {:.2} writes per \
         escalated case; deferred {}, failed {}, conflicts {}, nothing due {}; error: {:?}",
        totals.runs,
        totals.wall_time.as_secs_f64(),
        totals.slowest_run.as_secs_f64(),
        totals.escalated,
        totals.steps,
        totals.items_read,
        totals.items_read as f64 / DUE as f64,
        totals.dynamodb_calls,
        totals.dynamodb_writes,
        totals.dynamodb_writes as f64 / totals.escalated.max(1) as f64,
        totals.deferred,
        totals.failed,
        totals.conflicts,
        totals.nothing_due,
        totals.error,
    );

    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let table = twin.name_of("CasesTable");
    let left_due = timers_due(&dynamodb, &table, at).await;
    let mut due_levels = Vec::new();
    for case in sample(&due) {
        due_levels.push((
            case.id.to_string(),
            stored_level_and_version(&dynamodb, &table, case).await,
        ));
    }
    let mut not_yet_due_levels = Vec::new();
    for case in sample(&not_yet_due) {
        not_yet_due_levels.push((
            case.id.to_string(),
            stored_level_and_version(&dynamodb, &table, case).await,
        ));
    }

    // Before asserting, so that a failed test still leaves the other tests a clean twin.
    let removing = Instant::now();
    let all: Vec<&Case> = due.iter().chain(&not_yet_due).collect();
    remove(twin, &all, at).await;
    eprintln!(
        "backlog: removed in {:.1} s",
        removing.elapsed().as_secs_f64()
    );

    assert_eq!(totals.error, None, "a run of the sweep failed: {totals:?}");
    assert!(
        totals.drained,
        "the backlog did not drain in {MAX_RUNS} runs of the sweep: {totals:?}"
    );
    assert_eq!(
        (totals.escalated, totals.failed),
        (DUE as u64, 0),
        "{totals:?}"
    );
    assert_eq!(
        totals.steps,
        6 * DUE as u64,
        "three stages of two clocks, each recorded once: {totals:?}"
    );
    assert!(
        totals.items_read * 10 <= DUE as u64 * 11,
        "the sweep read {} items for {DUE} cases due, more than 1.1 x: {totals:?}",
        totals.items_read
    );
    assert_eq!(left_due, 0, "timer index entries still due at {at}");
    for (id, (level, _)) in &due_levels {
        assert_eq!(*level, 2, "due case {id} escalated to the head of service");
    }
    for (id, level_and_version) in &not_yet_due_levels {
        assert_eq!(
            *level_and_version,
            (0, 1),
            "not-yet-due case {id} untouched (escalation level, version)"
        );
    }
}
