//! WooCommerce webhooks (the order resource as the REST API v3 renders it; the topic arrives in
//! `X-WC-Webhook-Topic`, the site in `X-WC-Webhook-Source`, the signature in
//! `X-WC-Webhook-Signature`).
//!
//! Line totals are decimal strings, but a line's `price` is a JSON number that WooCommerce
//! computes as `total / quantity` in PHP floating point. The `*_gmt` dates carry no zone and
//! are UTC.

use serde_json::Value;

use super::{
    Fields, Platform, StoreOrder, StoreOrderLine, StorefrontEvent, Timestamps, WebhookError,
    is_affirmative, is_batch_name, is_consent_name, json_body, named_value, store_identity,
    value_text,
};
use crate::money::{Currency, MoneyError};

/// Parse a webhook of `topic` from the site `source` (`X-WC-Webhook-Source`).
pub fn parse(topic: &str, source: &str, body: &[u8]) -> Result<StorefrontEvent, WebhookError> {
    match topic.trim() {
        "order.created" | "order.updated" => {
            let store = store_identity("X-WC-Webhook-Source", source)?;
            order(store, &json_body(body)?).map(StorefrontEvent::Order)
        }
        other => Ok(StorefrontEvent::Ignored {
            topic: other.to_string(),
        }),
    }
}

/// WooCommerce tests a new webhook's URL with an unsigned form post `webhook_id=<digits>`; it
/// expects a 2xx and nothing else. Recognises exactly that, so nothing else can skip the
/// signature check by looking like a ping.
pub fn is_ping(content_type: Option<&str>, body: &[u8]) -> bool {
    let is_form = content_type
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| {
            media_type
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let is_webhook_id = body
        .strip_prefix(b"webhook_id=")
        .is_some_and(|id| !id.is_empty() && id.iter().all(u8::is_ascii_digit));
    is_form && is_webhook_id
}

fn order(store: String, payload: &Value) -> Result<StoreOrder, WebhookError> {
    let order = Fields::root(payload)?;
    let currency = order.currency("currency")?;
    // customer_id 0 is a guest checkout.
    let customer_id = order.opt_id("customer_id")?.filter(|id| id != "0");
    let customer_email = match order.opt_object("billing")? {
        Some(billing) => billing.opt_text("email")?,
        None => None,
    };
    let meta = order.list("meta_data")?;
    let consent = named_value(&meta, "key", is_consent_name);
    // WooCommerce records no locale; our checkout snippet and WPML store one in order meta.
    let customer_locale = named_value(&meta, "key", |key| {
        matches!(key, "customer_locale" | "wpml_language")
    })
    .and_then(value_text);
    let status = order.opt_text("status")?;
    let delivered_at = if status.as_deref() == Some("completed") {
        order.opt_time("date_completed_gmt", Timestamps::NaiveUtc)?
    } else {
        None
    };
    let lines = order
        .list("line_items")?
        .iter()
        .map(|line| order_line(line, currency))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(StoreOrder {
        platform: Platform::WooCommerce,
        store,
        order_id: order.id("id")?,
        order_number: order.opt_id("number")?,
        customer_id,
        customer_email,
        customer_locale,
        currency,
        lines,
        placed_at: order.time("date_created_gmt", Timestamps::NaiveUtc)?,
        source_updated_at: order.time("date_modified_gmt", Timestamps::NaiveUtc)?,
        delivered_at,
        opened_exclusion_consented: consent.is_some_and(is_affirmative),
    })
}

fn order_line(line: &Fields, currency: Currency) -> Result<StoreOrderLine, WebhookError> {
    let quantity = line.quantity("quantity")?;
    let paid_minor = line.amount("total", currency)?;
    Ok(StoreOrderLine {
        line_item_id: line.id("id")?,
        sku: line.opt_text("sku")?,
        title: line.text("name")?,
        quantity,
        unit_price_minor: unit_price(line, currency, quantity, paid_minor)?,
        paid_minor,
        batch: named_value(&line.list("meta_data")?, "key", is_batch_name).and_then(value_text),
    })
}

/// WooCommerce's `price` is `total / quantity` computed in floating point: exact for most
/// lines, but 3 for 50.00 arrives as 16.666666666666668. An exact price is taken as sent;
/// an inexact one is recomputed from the exact `total` in integers, rounded half up, rather
/// than refusing a real order over an informational figure (refunds use `paid_minor`).
fn unit_price(
    line: &Fields,
    currency: Currency,
    quantity: u32,
    paid_minor: i64,
) -> Result<i64, WebhookError> {
    match line.opt_amount("price", currency) {
        Ok(Some(price)) => Ok(price),
        Err(WebhookError::Money(MoneyError::TooPrecise { .. })) | Ok(None) if quantity > 0 => {
            let quantity = i64::from(quantity);
            Ok((paid_minor + quantity / 2) / quantity)
        }
        Ok(None) => Ok(paid_minor),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::*;

    const SOURCE: &str = "https://shop.example.com/";

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn order_payload() -> Value {
        json!({
            "id": 727,
            "parent_id": 0,
            "number": "727",
            "order_key": "wc_order_58d2d042d1d",
            "status": "processing",
            "currency": "USD",
            "date_created": "2026-11-11T16:30:00",
            "date_created_gmt": "2026-11-11T08:30:00",
            "date_modified": "2026-11-11T16:31:12",
            "date_modified_gmt": "2026-11-11T08:31:12",
            "date_completed": null,
            "date_completed_gmt": null,
            "total": "59.97",
            "customer_id": 0,
            "billing": {"first_name": "Mei", "email": "mei@example.com"},
            "meta_data": [
                {"id": 1, "key": "opened_exclusion_consent", "value": "yes"},
                {"id": 2, "key": "wpml_language", "value": "zh-hans"}
            ],
            "line_items": [{
                "id": 315,
                "name": "Hydrating Serum 30ml",
                "product_id": 93,
                "quantity": 3,
                "subtotal": "59.97",
                "total": "53.97",
                "sku": "SERUM-30",
                "price": 17.99,
                "meta_data": [{"id": 9, "key": "lot", "value": "S2409A", "display_key": "Lot"}]
            }],
            "_links": {"self": [{"href": "https://shop.example.com/wp-json/wc/v3/orders/727"}]}
        })
    }

    fn parse_order(payload: &Value) -> Result<StoreOrder, WebhookError> {
        match parse(
            "order.updated",
            SOURCE,
            &serde_json::to_vec(payload).unwrap(),
        )? {
            StorefrontEvent::Order(order) => Ok(order),
            other => panic!("expected an order, got {other:?}"),
        }
    }

    #[test]
    fn maps_a_guest_order() {
        let order = parse_order(&order_payload()).unwrap();
        assert_eq!(order.platform, Platform::WooCommerce);
        assert_eq!(order.store, SOURCE);
        assert_eq!(order.order_id, "727");
        assert_eq!(order.order_number.as_deref(), Some("727"));
        assert_eq!(order.customer_id, None);
        assert_eq!(order.customer_email.as_deref(), Some("mei@example.com"));
        assert_eq!(order.customer_locale.as_deref(), Some("zh-hans"));
        assert_eq!(order.currency.as_str(), "USD");
        assert_eq!(order.placed_at, at("2026-11-11T08:30:00Z"));
        assert_eq!(order.source_updated_at, at("2026-11-11T08:31:12Z"));
        assert_eq!(order.delivered_at, None);
        assert!(order.opened_exclusion_consented);
        assert_eq!(
            order.lines,
            vec![StoreOrderLine {
                line_item_id: "315".into(),
                sku: Some("SERUM-30".into()),
                title: "Hydrating Serum 30ml".into(),
                quantity: 3,
                unit_price_minor: 1799,
                paid_minor: 5397,
                batch: Some("S2409A".into()),
            }]
        );
    }

    #[test]
    fn a_registered_customer_and_a_completed_order() {
        let mut payload = order_payload();
        payload["customer_id"] = json!(58);
        payload["status"] = json!("completed");
        payload["date_completed_gmt"] = json!("2026-11-14T07:20:00");
        let order = parse_order(&payload).unwrap();
        assert_eq!(order.customer_id.as_deref(), Some("58"));
        assert_eq!(order.delivered_at, Some(at("2026-11-14T07:20:00Z")));

        // A completion date on an order no longer completed is history, not a delivery.
        payload["status"] = json!("refunded");
        assert_eq!(parse_order(&payload).unwrap().delivered_at, None);
    }

    #[test]
    fn an_inexact_float_price_is_recomputed_from_the_total() {
        let mut payload = order_payload();
        payload["line_items"][0]["total"] = json!("50.00");
        payload["line_items"][0]["price"] = json!(50.0 / 3.0);
        let order = parse_order(&payload).unwrap();
        assert_eq!(order.lines[0].unit_price_minor, 1667);
        assert_eq!(order.lines[0].paid_minor, 5000);

        payload["line_items"][0]["price"] = json!("abc");
        assert!(matches!(
            parse_order(&payload),
            Err(WebhookError::Money(MoneyError::NotDecimal(_)))
        ));
    }

    #[test]
    fn missing_optional_fields() {
        let mut payload = order_payload();
        let object = payload.as_object_mut().unwrap();
        for key in ["number", "billing", "meta_data", "customer_id", "status"] {
            object.remove(key);
        }
        object["line_items"][0]["sku"] = json!("");
        object["line_items"][0]["meta_data"] = json!([]);
        let order = parse_order(&payload).unwrap();
        assert_eq!(order.order_number, None);
        assert_eq!(order.customer_id, None);
        assert_eq!(order.customer_email, None);
        assert_eq!(order.customer_locale, None);
        assert!(!order.opened_exclusion_consented);
        assert_eq!(order.lines[0].sku, None);
        assert_eq!(order.lines[0].batch, None);
    }

    #[test]
    fn batch_meta_names() {
        for key in ["batch", "Batch", "batch_number", "LOT"] {
            let mut payload = order_payload();
            payload["line_items"][0]["meta_data"] = json!([{"key": key, "value": "B-1"}]);
            assert_eq!(
                parse_order(&payload).unwrap().lines[0].batch.as_deref(),
                Some("B-1"),
                "{key}"
            );
        }
    }

    #[test]
    fn malformed_fields_are_named() {
        let mut payload = order_payload();
        payload.as_object_mut().unwrap().remove("date_modified_gmt");
        assert_eq!(
            parse_order(&payload),
            Err(WebhookError::Malformed(
                "date_modified_gmt: is missing".into()
            ))
        );

        let mut payload = order_payload();
        payload["line_items"][0]["total"] = json!(null);
        assert_eq!(
            parse_order(&payload),
            Err(WebhookError::Malformed(
                "line_items[0].total: is missing".into()
            ))
        );

        let mut payload = order_payload();
        payload["date_created_gmt"] = json!("yesterday");
        assert!(matches!(
            parse_order(&payload),
            Err(WebhookError::Malformed(m)) if m.starts_with("date_created_gmt:")
        ));

        assert!(matches!(
            parse("order.created", SOURCE, b"webhook_id=12"),
            Err(WebhookError::Malformed(m)) if m.starts_with("body: not JSON")
        ));
    }

    #[test]
    fn other_topics_are_ignored() {
        for topic in ["order.deleted", "product.updated", "customer.created"] {
            assert_eq!(
                parse(topic, SOURCE, b"{}"),
                Ok(StorefrontEvent::Ignored {
                    topic: topic.into()
                })
            );
        }
    }

    #[test]
    fn recognises_exactly_the_ping() {
        let form = Some("application/x-www-form-urlencoded");
        assert!(is_ping(form, b"webhook_id=12"));
        assert!(is_ping(
            Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            b"webhook_id=4021"
        ));
        assert!(!is_ping(None, b"webhook_id=12"));
        assert!(!is_ping(Some("application/json"), b"webhook_id=12"));
        assert!(!is_ping(form, b"webhook_id="));
        assert!(!is_ping(form, b"webhook_id=12&status=active"));
        assert!(!is_ping(form, b"webhook_id=12x"));
        assert!(!is_ping(form, b"{\"webhook_id\": 12}"));
        assert!(!is_ping(form, b""));
    }
}
