//! The product catalogue in the catalogue table: key `sku` + `entry` (`"product"`, or
//! `"batch#<lot>"`), so one Query reads a product with all its batches.

use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::dynamo::{corrupt, store_error};
use crate::catalogue::{Batch, Catalogue, Product};

const PRODUCT_ENTRY: &str = "product";
const BATCH_PREFIX: &str = "batch#";

/// A product with every batch the catalogue knows, oldest batch first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFile {
    pub product: Product,
    pub batches: Vec<Batch>,
}

pub trait CatalogueStore: Send + Sync {
    fn product_file(
        &self,
        sku: &str,
    ) -> impl Future<Output = Result<Option<ProductFile>, StoreError>> + Send;

    /// Writes (or overwrites) every product and batch of a validated catalogue; returns how
    /// many items were written.
    fn load(&self, catalogue: &Catalogue)
    -> impl Future<Output = Result<usize, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoCatalogueStore {
    client: Client,
    table: String,
}

impl DynamoCatalogueStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoCatalogueStore {
            client,
            table: table.into(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct ProductItem {
    entry: String,
    #[serde(flatten)]
    product: Product,
}

#[derive(Serialize, Deserialize)]
struct BatchItem {
    entry: String,
    #[serde(flatten)]
    batch: Batch,
}

impl CatalogueStore for DynamoCatalogueStore {
    async fn product_file(&self, sku: &str) -> Result<Option<ProductFile>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("sku = :sku")
            .expression_attribute_values(":sku", AttributeValue::S(sku.to_owned()))
            .send()
            .await
            .map_err(store_error)?;
        let mut product = None;
        let mut batches = Vec::new();
        for item in output.items.unwrap_or_default() {
            match item
                .get("entry")
                .and_then(|e| e.as_s().ok())
                .map(String::as_str)
            {
                Some(PRODUCT_ENTRY) => {
                    let stored: ProductItem = serde_dynamo::from_item(item).map_err(corrupt)?;
                    product = Some(stored.product);
                }
                Some(entry) if entry.starts_with(BATCH_PREFIX) => {
                    let stored: BatchItem = serde_dynamo::from_item(item).map_err(corrupt)?;
                    batches.push(stored.batch);
                }
                _ => {}
            }
        }
        batches.sort_by_key(|b| b.manufactured_on);
        Ok(product.map(|product| ProductFile { product, batches }))
    }

    async fn load(&self, catalogue: &Catalogue) -> Result<usize, StoreError> {
        let mut requests: Vec<std::collections::HashMap<String, AttributeValue>> = Vec::new();
        for product in &catalogue.products {
            let item = ProductItem {
                entry: PRODUCT_ENTRY.into(),
                product: product.clone(),
            };
            requests.push(serde_dynamo::to_item(item).map_err(corrupt)?);
        }
        for batch in &catalogue.batches {
            let item = BatchItem {
                entry: format!("{BATCH_PREFIX}{}", batch.batch),
                batch: batch.clone(),
            };
            requests.push(serde_dynamo::to_item(item).map_err(corrupt)?);
        }
        let written = requests.len();
        // BatchWriteItem takes 25 at a time and may leave some unprocessed: resend those.
        for chunk in requests.chunks(25) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map_err(|e| StoreError::Rejected(e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<_, StoreError>>()?;
            for attempt in 0..8 {
                if pending.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(store_error)?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable(
                    "catalogue items stayed unprocessed after retries".into(),
                ));
            }
        }
        Ok(written)
    }
}
