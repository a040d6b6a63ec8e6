//! Counter items in the metrics table (key `series` + `period`), as the reports read them.
//! Writers add to them inside their own transactions (see the case store); nothing here
//! writes.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;
use super::dynamo::store_error;

/// The numeric attributes of one counter item.
pub type Counters = BTreeMap<String, i64>;

pub trait CounterStore: Send + Sync {
    /// One item's counters (empty when it was never written).
    fn counters(
        &self,
        series: &str,
        period: &str,
    ) -> impl Future<Output = Result<Counters, StoreError>> + Send;

    /// The counters of every period of a series from `from` to `to`, both included (periods
    /// compare as strings, so days as `YYYY-MM-DD`).
    fn counters_between(
        &self,
        series: &str,
        from: &str,
        to: &str,
    ) -> impl Future<Output = Result<Vec<Counters>, StoreError>> + Send;

    /// As [`CounterStore::counters_between`], each item with its period (for figures per
    /// day); one Query, paginated.
    fn counter_items_between(
        &self,
        series: &str,
        from: &str,
        to: &str,
    ) -> impl Future<Output = Result<Vec<(String, Counters)>, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoCounterStore {
    client: Client,
    table: String,
}

impl DynamoCounterStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoCounterStore {
            client,
            table: table.into(),
        }
    }
}

/// The numbers of an item; keys and anything not a number are left out.
fn numbers(item: std::collections::HashMap<String, AttributeValue>) -> Counters {
    item.into_iter()
        .filter_map(|(name, value)| match value {
            AttributeValue::N(n) => n.parse::<i64>().ok().map(|n| (name, n)),
            _ => None,
        })
        .collect()
}

impl CounterStore for DynamoCounterStore {
    async fn counters(&self, series: &str, period: &str) -> Result<Counters, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("series", AttributeValue::S(series.to_owned()))
            .key("period", AttributeValue::S(period.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(output.item.map(numbers).unwrap_or_default())
    }

    async fn counters_between(
        &self,
        series: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<Counters>, StoreError> {
        Ok(self
            .counter_items_between(series, from, to)
            .await?
            .into_iter()
            .map(|(_, counters)| counters)
            .collect())
    }

    async fn counter_items_between(
        &self,
        series: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<(String, Counters)>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("series = :series AND #period BETWEEN :from AND :to")
            .expression_attribute_names("#period", "period")
            .expression_attribute_values(":series", AttributeValue::S(series.to_owned()))
            .expression_attribute_values(":from", AttributeValue::S(from.to_owned()))
            .expression_attribute_values(":to", AttributeValue::S(to.to_owned()))
            .into_paginator()
            .items()
            .send();
        let mut all = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(store_error)?;
            let period = match item.get("period") {
                Some(AttributeValue::S(period)) => period.clone(),
                _ => {
                    return Err(StoreError::Corrupt(
                        "a counter item without a period".into(),
                    ));
                }
            };
            all.push((period, numbers(item)));
        }
        Ok(all)
    }
}
