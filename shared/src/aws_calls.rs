//! Counting the AWS calls a client makes: an SDK interceptor that benchmarks and tests attach
//! to a client's config (`.interceptor(counter.clone())`) to measure what a request costs.
//!
//! It counts attempts (what AWS bills and throttles), per `Service.Operation`, and the
//! DynamoDB items each read returned or examined (a Query's `ScannedCount`, the items a
//! GetItem or BatchGetItem returned), so a test can show that a sweep reads what is due and
//! no more.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;

#[derive(Debug, Default)]
struct Tally {
    calls: BTreeMap<String, u64>,
    items_read: u64,
}

/// Shared by every client it is attached to; clone it freely.
#[derive(Debug, Clone, Default)]
pub struct AwsCallCounter(Arc<Mutex<Tally>>);

impl AwsCallCounter {
    /// Calls so far per `Service.Operation`.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.0.lock().expect("counter lock").calls.clone()
    }

    /// Calls so far, all operations together.
    pub fn total(&self) -> u64 {
        self.calls().values().sum()
    }

    /// DynamoDB items read so far.
    pub fn items_read(&self) -> u64 {
        self.0.lock().expect("counter lock").items_read
    }

    /// Starts again from zero.
    pub fn reset(&self) {
        *self.0.lock().expect("counter lock") = Tally::default();
    }
}

impl Intercept for AwsCallCounter {
    fn name(&self) -> &'static str {
        "AwsCallCounter"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map(|m| format!("{}.{}", m.service(), m.name()))
            .unwrap_or_else(|| "unknown".into());
        *self
            .0
            .lock()
            .expect("counter lock")
            .calls
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let read = if let Some(query) = output.downcast_ref::<QueryOutput>() {
            query.scanned_count().max(0) as u64
        } else if let Some(get) = output.downcast_ref::<GetItemOutput>() {
            u64::from(get.item().is_some())
        } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
            batch
                .responses()
                .map(|tables| tables.values().map(|items| items.len() as u64).sum())
                .unwrap_or(0)
        } else {
            0
        };
        self.0.lock().expect("counter lock").items_read += read;
        Ok(())
    }
}
