//! The twin provisions exactly what the template declares, and the code agrees with the
//! template's routes.

use std::collections::BTreeSet;

use aftercare_e2e::twin;

#[tokio::test]
async fn the_emulator_holds_exactly_the_template_s_tables_queues_and_bucket() {
    let twin = twin();
    let stack = &twin.twin.stack;
    let aws = twin.aws().await;

    let tables: BTreeSet<String> = aws_sdk_dynamodb::Client::new(&aws)
        .list_tables()
        .send()
        .await
        .unwrap()
        .table_names
        .unwrap_or_default()
        .into_iter()
        .collect();
    let declared: BTreeSet<String> = stack.tables.iter().map(|t| t.name.clone()).collect();
    assert_eq!(tables, declared);
    assert_eq!(declared.len(), 9);

    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let cases = dynamodb
        .describe_table()
        .table_name(twin.name_of("CasesTable"))
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let indexes: BTreeSet<String> = cases
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name().map(str::to_owned))
        .collect();
    assert_eq!(
        indexes,
        ["cases-by-customer", "cases-by-queue", "sla-timers-due"]
            .map(String::from)
            .into()
    );
    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(twin.name_of("IdempotencyTable"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description.and_then(|d| d.attribute_name),
        Some("expires_at".into())
    );

    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queues: BTreeSet<String> = sqs
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls
        .unwrap_or_default()
        .into_iter()
        .filter(|url| !url.contains("-twin-"))
        .collect();
    let declared: BTreeSet<String> = stack.queues.iter().map(|q| q.url.clone()).collect();
    assert_eq!(queues, declared);
    for queue in stack.queues.iter().filter(|q| !q.logical.ends_with("DLQ")) {
        let dlq = queue
            .dead_letter_queue
            .as_deref()
            .unwrap_or_else(|| panic!("{} has a DLQ", queue.logical));
        assert!(stack.queue(dlq).is_some());
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .unwrap();
        let policy = attributes.attributes.unwrap_or_default();
        assert!(
            policy
                .values()
                .any(|p| p.contains(&stack.queue(dlq).unwrap().name)),
            "{} redrives to {dlq}",
            queue.logical
        );
    }

    let buckets: Vec<String> = aws_sdk_s3::Client::new(&aws)
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    let mut declared = vec![twin.name_of("PhotoBucket"), twin.name_of("ReportsBucket")];
    declared.sort();
    assert_eq!(buckets, declared);
}

#[test]
fn the_route_table_in_code_matches_the_template() {
    let twin = twin();
    let template: BTreeSet<String> = twin
        .twin
        .stack
        .routes
        .iter()
        .filter(|r| r.path.is_some())
        .map(|r| r.key())
        .collect();
    let code: BTreeSet<String> = aftercare::api::ROUTES
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(
        template, code,
        "aftercare::api::ROUTES lists the template's routes (the $default route answers 405 from it)"
    );
    assert!(
        twin.twin
            .stack
            .routes
            .iter()
            .any(|r| r.path.is_none() && !r.authorized),
        "a public $default route exists"
    );
}
