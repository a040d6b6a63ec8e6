//! A short-lived cache of product terms inside one Lambda instance: the catalogue changes
//! rarely and every case needs the terms of its products, so a warm instance reads each
//! product at most once per [`ProductCache::LIFETIME`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use aftercare::case::CaseDraft;
use aftercare::store::{CatalogueStore, ProductFile, StoreError};
use chrono::{DateTime, Duration, Utc};

/// When a product was read, and what was found (`None`: not in the catalogue).
type CachedProduct = (DateTime<Utc>, Option<ProductFile>);

#[derive(Default)]
pub struct ProductCache {
    entries: Mutex<HashMap<String, CachedProduct>>,
}

impl ProductCache {
    pub const LIFETIME: Duration = Duration::minutes(5);

    /// The catalogue files of the products a case names (unknown SKUs are simply absent).
    pub async fn of_lines<K: CatalogueStore>(
        &self,
        catalogue: &K,
        draft: &CaseDraft,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, ProductFile>, StoreError> {
        let mut found = BTreeMap::new();
        for line in &draft.lines {
            let sku = line.sku.as_str();
            let cached = self
                .entries
                .lock()
                .expect("cache lock")
                .get(sku)
                .filter(|(at, _)| now - *at < Self::LIFETIME)
                .map(|(_, file)| file.clone());
            let file = match cached {
                Some(file) => file,
                None => {
                    let file = catalogue.product_file(sku).await?;
                    self.entries
                        .lock()
                        .expect("cache lock")
                        .insert(sku.to_owned(), (now, file.clone()));
                    file
                }
            };
            if let Some(file) = file {
                found.insert(sku.to_owned(), file);
            }
        }
        Ok(found)
    }
}
