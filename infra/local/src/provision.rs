//! Creates in the emulator exactly the tables, queues, bucket and SES sender identities the
//! template declares.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType,
    SseSpecification, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::TwinError;
use crate::stack::{Stack, TableSpec};
use crate::template::scalar;

fn fail(what: &str, err: impl std::fmt::Debug) -> TwinError {
    TwinError::Provision(format!("{what}: {err:?}"))
}

fn key_schema(value: Option<&Value>) -> Result<Vec<KeySchemaElement>, TwinError> {
    value
        .and_then(Value::as_array)
        .ok_or_else(|| TwinError::Provision("KeySchema missing".into()))?
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(k.get("AttributeName").map(scalar).unwrap_or_default())
                .key_type(KeyType::from(
                    k.get("KeyType").map(scalar).unwrap_or_default().as_str(),
                ))
                .build()
                .map_err(|e| fail("key schema", e))
        })
        .collect()
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &TableSpec,
) -> Result<(), TwinError> {
    let p = &table.properties;
    let mut request = client
        .create_table()
        .table_name(&table.name)
        .set_key_schema(Some(key_schema(p.get("KeySchema"))?))
        .billing_mode(BillingMode::from(
            p.get("BillingMode")
                .map(scalar)
                .unwrap_or_else(|| "PAY_PER_REQUEST".into())
                .as_str(),
        ));
    for def in p
        .get("AttributeDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(def.get("AttributeName").map(scalar).unwrap_or_default())
                .attribute_type(ScalarAttributeType::from(
                    def.get("AttributeType")
                        .map(scalar)
                        .unwrap_or_default()
                        .as_str(),
                ))
                .build()
                .map_err(|e| fail("attribute definition", e))?,
        );
    }
    for index in p
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let projection = index.get("Projection");
        let mut projection_builder = Projection::builder().projection_type(ProjectionType::from(
            projection
                .and_then(|p| p.get("ProjectionType"))
                .map(scalar)
                .unwrap_or_else(|| "ALL".into())
                .as_str(),
        ));
        for attr in projection
            .and_then(|p| p.get("NonKeyAttributes"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            projection_builder = projection_builder.non_key_attributes(scalar(attr));
        }
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.get("IndexName").map(scalar).unwrap_or_default())
                .set_key_schema(Some(key_schema(index.get("KeySchema"))?))
                .projection(projection_builder.build())
                .build()
                .map_err(|e| fail("index", e))?,
        );
    }
    if p.pointer("/SSESpecification/SSEEnabled")
        .map(scalar)
        .as_deref()
        == Some("true")
    {
        request = request.sse_specification(SseSpecification::builder().enabled(true).build());
    }
    request
        .send()
        .await
        .map_err(|e| fail(&format!("create table {}", table.name), e))?;

    if let Some(ttl) = p.get("TimeToLiveSpecification") {
        client
            .update_time_to_live()
            .table_name(&table.name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(ttl.get("AttributeName").map(scalar).unwrap_or_default())
                    .enabled(ttl.get("Enabled").map(scalar).as_deref() == Some("true"))
                    .build()
                    .map_err(|e| fail("ttl", e))?,
            )
            .send()
            .await
            .map_err(|e| fail(&format!("ttl of {}", table.name), e))?;
    }
    if p.pointer("/PointInTimeRecoverySpecification/PointInTimeRecoveryEnabled")
        .map(scalar)
        .as_deref()
        == Some("true")
    {
        client
            .update_continuous_backups()
            .table_name(&table.name)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .map_err(|e| fail("pitr", e))?,
            )
            .send()
            .await
            .map_err(|e| fail(&format!("point-in-time recovery of {}", table.name), e))?;
    }
    Ok(())
}

/// Creates every table, queue, bucket and SES sender identity of the stack.
pub async fn provision(stack: &Stack, aws: &aws_config::SdkConfig) -> Result<(), TwinError> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    for table in &stack.tables {
        create_table(&dynamodb, table).await?;
    }
    let sqs = aws_sdk_sqs::Client::new(aws);
    for queue in &stack.queues {
        let mut request = sqs.create_queue().queue_name(&queue.name);
        for (name, value) in &queue.attributes {
            request = request.attributes(QueueAttributeName::from(name.as_str()), value);
        }
        request
            .send()
            .await
            .map_err(|e| fail(&format!("create queue {}", queue.name), e))?;
    }
    let s3 = aws_sdk_s3::Client::new(aws);
    for bucket in &stack.buckets {
        s3.create_bucket()
            .bucket(&bucket.name)
            .send()
            .await
            .map_err(|e| fail(&format!("create bucket {}", bucket.name), e))?;
    }
    // moto sends only from identities it knows, and treats every one it knows as verified.
    let ses = aws_sdk_sesv2::Client::new(aws);
    for identity in &stack.email_identities {
        ses.create_email_identity()
            .email_identity(identity)
            .send()
            .await
            .map_err(|e| fail(&format!("create SES identity {identity}"), e))?;
    }
    Ok(())
}
