//! The product catalogue: what a customer can read about a product (the "information
//! platform" of the source documents) and what remedy matching needs (shelf life, PAO, batch
//! manufacture dates, policy class).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Text in several languages, keyed by locale (`zh-CN`, `en`).
pub type LocalisedText = BTreeMap<String, String>;

/// How the no-reason return applies to a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PolicyClass {
    /// The 7-day no-reason return applies while unopened (or opened without the customer's
    /// recorded consent to exclude opened goods).
    #[default]
    Standard,
    /// Sealed for hygiene (lipsticks, eye care): a broken seal counts as opened.
    SealedHygiene,
    /// Made to order or a free gift: no no-reason return; quality claims stand as always.
    NoReasonReturnExcluded,
}

/// A product as the catalogue file and the API describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub sku: String,
    pub name: LocalisedText,
    /// INCI names, in the order printed on the pack.
    pub ingredients: Vec<String>,
    pub usage: LocalisedText,
    #[serde(default)]
    pub skin_types: Vec<String>,
    /// Months from manufacture to expiry, unopened.
    pub shelf_life_months: u32,
    /// Period after opening, in months (the open-jar symbol), when the pack states one.
    #[serde(default)]
    pub pao_months: Option<u32>,
    #[serde(default)]
    pub policy_class: PolicyClass,
    /// Warnings printed on the pack (patch test, not for infants...).
    #[serde(default)]
    pub warnings: LocalisedText,
}

/// A production batch (lot) of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub sku: String,
    pub batch: String,
    pub manufactured_on: NaiveDate,
}

/// What the catalogue file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub products: Vec<Product>,
    #[serde(default)]
    pub batches: Vec<Batch>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("product {sku}: {reason}")]
    Product { sku: String, reason: String },
    #[error("batch {batch} names SKU {sku}, which the catalogue does not list")]
    OrphanBatch { sku: String, batch: String },
}

impl Catalogue {
    /// Checks what JSON cannot: SKUs present and unique, a name in some language, a shelf
    /// life, every batch of a listed product.
    pub fn validate(&self) -> Result<(), CatalogueError> {
        let mut seen = std::collections::BTreeSet::new();
        for product in &self.products {
            let fail = |reason: &str| CatalogueError::Product {
                sku: product.sku.clone(),
                reason: reason.into(),
            };
            if product.sku.trim().is_empty() || product.sku.len() > 64 {
                return Err(fail("the SKU must have 1 to 64 characters"));
            }
            if !seen.insert(product.sku.as_str()) {
                return Err(fail("is listed twice"));
            }
            if product.name.values().all(|n| n.trim().is_empty()) {
                return Err(fail("needs a name in at least one language"));
            }
            if !(1..=120).contains(&product.shelf_life_months) {
                return Err(fail("shelf_life_months must be from 1 to 120"));
            }
            if product.pao_months.is_some_and(|m| !(1..=60).contains(&m)) {
                return Err(fail("pao_months must be from 1 to 60"));
            }
        }
        for batch in &self.batches {
            if !seen.contains(batch.sku.as_str()) {
                return Err(CatalogueError::OrphanBatch {
                    sku: batch.sku.clone(),
                    batch: batch.batch.clone(),
                });
            }
        }
        Ok(())
    }
}

impl PolicyClass {
    /// The after-sales policy as a customer reads it on the product page.
    pub fn summary(self) -> LocalisedText {
        let (zh, en) = match self {
            PolicyClass::Standard => (
                "签收后7天内（自签收次日起算）未拆封可无理由退货；已拆封仅在下单时您已确认排除的情况下不适用。质量问题、运输破损、错发漏发、过期及过敏等不良反应，在保质期内无论是否拆封均可申请退款或换货，不良反应另有护肤专家免费咨询。",
                "Unopened goods can be returned without a reason within 7 days, counted from the day after delivery; opened goods are excluded only if you confirmed that at purchase. Quality problems, transit damage, wrong or missing items, expired goods and adverse reactions are covered opened or not for the whole shelf life, with a refund or replacement; adverse reactions also get a free consultation with a skin-care expert.",
            ),
            PolicyClass::SealedHygiene => (
                "为卫生起见，本品封口一经打开即视为已拆封，不适用7天无理由退货；质量问题、运输破损、错发漏发、过期及不良反应在保质期内照常受理。",
                "For hygiene, a broken seal counts as opened, so the 7-day no-reason return applies only while sealed; quality problems, transit damage, wrong or missing items, expired goods and adverse reactions are covered for the whole shelf life.",
            ),
            PolicyClass::NoReasonReturnExcluded => (
                "本品（定制或赠品）不适用7天无理由退货；质量问题、运输破损、错发漏发、过期及不良反应在保质期内照常受理。",
                "This item (made to order or a gift) has no 7-day no-reason return; quality problems, transit damage, wrong or missing items, expired goods and adverse reactions are covered for the whole shelf life.",
            ),
        };
        [
            ("zh-CN".to_owned(), zh.to_owned()),
            ("en".to_owned(), en.to_owned()),
        ]
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(sku: &str) -> Product {
        Product {
            sku: sku.into(),
            name: [("en".to_owned(), "Serum".to_owned())].into(),
            ingredients: vec!["Aqua".into()],
            usage: LocalisedText::new(),
            skin_types: vec![],
            shelf_life_months: 36,
            pao_months: Some(12),
            policy_class: PolicyClass::Standard,
            warnings: LocalisedText::new(),
        }
    }

    #[test]
    fn every_policy_class_explains_itself_in_both_languages() {
        for class in [
            PolicyClass::Standard,
            PolicyClass::SealedHygiene,
            PolicyClass::NoReasonReturnExcluded,
        ] {
            let summary = class.summary();
            assert!(summary["zh-CN"].contains("7天"), "{class:?}");
            assert!(
                summary["en"].contains("7-day") || summary["en"].contains("7 days"),
                "{class:?}"
            );
            assert!(summary["en"].contains("shelf life"), "{class:?}");
        }
    }

    #[test]
    fn the_seed_catalogue_is_valid() {
        let text = include_str!("../../infra/local/seed/catalogue.json");
        let catalogue: Catalogue = serde_json::from_str(text).unwrap();
        assert_eq!(catalogue.validate(), Ok(()));
        assert!(catalogue.products.len() >= 5);
    }

    #[test]
    fn a_sound_catalogue_validates() {
        let catalogue = Catalogue {
            products: vec![product("SERUM-30")],
            batches: vec![Batch {
                sku: "SERUM-30".into(),
                batch: "B1".into(),
                manufactured_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            }],
        };
        assert_eq!(catalogue.validate(), Ok(()));
    }

    #[test]
    fn refuses_duplicates_orphans_and_missing_shelf_life() {
        let twice = Catalogue {
            products: vec![product("A"), product("A")],
            batches: vec![],
        };
        assert!(matches!(
            twice.validate(),
            Err(CatalogueError::Product { .. })
        ));
        let orphan = Catalogue {
            products: vec![product("A")],
            batches: vec![Batch {
                sku: "B".into(),
                batch: "1".into(),
                manufactured_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            }],
        };
        assert!(matches!(
            orphan.validate(),
            Err(CatalogueError::OrphanBatch { .. })
        ));
        let mut no_life = product("A");
        no_life.shelf_life_months = 0;
        assert!(
            Catalogue {
                products: vec![no_life],
                batches: vec![]
            }
            .validate()
            .is_err()
        );
        let unknown_field = r#"{"products": [], "batches": [], "discount": 1}"#;
        assert!(serde_json::from_str::<Catalogue>(unknown_field).is_err());
    }
}
