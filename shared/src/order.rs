//! Orders as Aftercare knows them: the storefront's latest snapshot, plus the deliveries and
//! refunds the storefront reported separately (webhooks arrive in any order, so each is kept
//! on its own and combined when read).

use chrono::{DateTime, Utc};

use crate::storefront::{Delivery, Platform, RecordedRefund, StoreOrder};

/// An order's reference in Aftercare, as apps send it in `POST /cases`:
/// `<platform>:<store>:<storefront order id>`, e.g. `shopify:brand.myshopify.com:450789469`.
/// The store is part of it because WooCommerce and custom sites number orders per site.
pub fn order_reference(platform: Platform, store: &str, order_id: &str) -> String {
    format!("{platform}:{}:{order_id}", store_key(store))
}

/// A line item's reference: returns name line items, not orders.
pub fn line_item_reference(platform: Platform, store: &str, line_item_id: &str) -> String {
    format!("{platform}:{}:{line_item_id}", store_key(store))
}

/// A store as part of a reference: the host of a URL (`https://shop.example.com/` ->
/// `shop.example.com`), lower-cased, so a trailing slash or scheme never splits one store in two.
pub fn store_key(store: &str) -> String {
    let trimmed = store.trim();
    let without_scheme = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .unwrap_or(trimmed);
    without_scheme
        .split('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Everything recorded under one order reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFile {
    pub reference: String,
    /// `None` while only a delivery or refund has arrived, ahead of the order itself.
    pub order: Option<StoreOrder>,
    pub deliveries: Vec<Delivery>,
    pub refunds: Vec<RecordedRefund>,
}

impl OrderFile {
    /// When the goods arrived: the last delivery reported (with several shipments, the order
    /// is complete at the last one, and the customer's 7 days start after it).
    pub fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.deliveries
            .iter()
            .map(|d| d.delivered_at)
            .chain(self.order.as_ref().and_then(|o| o.delivered_at))
            .max()
    }

    /// Whether `customer` (the token's subject) placed this order.
    pub fn placed_by(&self, customer: &str) -> bool {
        self.order
            .as_ref()
            .and_then(|o| o.customer_id.as_deref())
            .is_some_and(|id| id == customer)
    }

    /// What was refunded so far for one line, in minor units.
    pub fn refunded_minor(&self, line_item_id: &str) -> i64 {
        self.refunds
            .iter()
            .flat_map(|r| &r.lines)
            .filter(|l| l.line_item_id == line_item_id)
            .map(|l| l.amount_minor)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use crate::storefront::{RefundedLine, StoreOrderLine};
    use chrono::TimeZone;

    fn order(delivered_at: Option<DateTime<Utc>>) -> StoreOrder {
        StoreOrder {
            platform: Platform::Shopify,
            store: "brand.myshopify.com".into(),
            order_id: "1".into(),
            order_number: Some("#1001".into()),
            customer_id: Some("c-1".into()),
            customer_email: None,
            customer_locale: None,
            currency: Currency::parse("CNY").unwrap(),
            lines: vec![StoreOrderLine {
                line_item_id: "11".into(),
                sku: Some("SERUM-30".into()),
                title: "Serum".into(),
                quantity: 2,
                unit_price_minor: 19_900,
                paid_minor: 39_800,
                batch: None,
            }],
            placed_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            source_updated_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            delivered_at,
            opened_exclusion_consented: false,
        }
    }

    #[test]
    fn references_name_platform_store_and_id() {
        assert_eq!(
            order_reference(Platform::WooCommerce, "https://Shop.Example.com/", "727"),
            "woocommerce:shop.example.com:727"
        );
        assert_eq!(
            order_reference(Platform::Shopify, "brand.myshopify.com", "450789469"),
            "shopify:brand.myshopify.com:450789469"
        );
        assert_eq!(
            line_item_reference(Platform::Generic, "site-a", "L1"),
            "generic:site-a:L1"
        );
    }

    #[test]
    fn delivery_is_the_latest_reported_and_refunds_add_up_per_line() {
        let t = |d| Utc.with_ymd_and_hms(2026, 11, d, 8, 0, 0).unwrap();
        let file = OrderFile {
            reference: "r".into(),
            order: Some(order(Some(t(3)))),
            deliveries: vec![Delivery {
                order_id: "1".into(),
                delivered_at: t(5),
                source_updated_at: t(5),
            }],
            refunds: vec![RecordedRefund {
                refund_id: "r1".into(),
                order_id: "1".into(),
                lines: vec![RefundedLine {
                    line_item_id: "11".into(),
                    quantity: 1,
                    amount_minor: 19_900,
                }],
                amount_minor: 19_900,
                currency: Currency::parse("CNY").unwrap(),
                created_at: t(6),
            }],
        };
        assert_eq!(file.delivered_at(), Some(t(5)));
        assert_eq!(file.refunded_minor("11"), 19_900);
        assert_eq!(file.refunded_minor("12"), 0);
        assert!(file.placed_by("c-1"));
        assert!(!file.placed_by("c-2"));
        let early = OrderFile {
            order: None,
            ..file
        };
        assert!(
            !early.placed_by("c-1"),
            "nobody owns an order we have not seen"
        );
    }
}
