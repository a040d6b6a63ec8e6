//! Aftercare's own webhook format, for a brand's own site or marketplace middleware
//! (`docs/generic-webhook.md` is the contract for the sender's engineers).
//!
//! ```json
//! {"event_id": "...", "type": "order.upserted", "source": "...", "occurred_at": "...", "data": {...}}
//! ```
//!
//! Amounts are decimal strings in the order's currency, never JSON numbers: a float cannot hold
//! 19.99 exactly, and a refund must match what was paid to the minor unit. Timestamps are RFC
//! 3339 with an offset. Unknown fields are ignored; an unknown `type` is acknowledged and
//! ignored, so senders can add event types before we act on them.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    Delivery, Fields, Platform, RecordedRefund, RefundedLine, ReturnRequest, ReturnedLine,
    StoreOrder, StoreOrderLine, StorefrontEvent, Timestamps, WebhookError, json_body, total,
};
use crate::money::{Currency, parse_amount};

/// Event types this format defines.
pub const ORDER_UPSERTED: &str = "order.upserted";
pub const ORDER_DELIVERED: &str = "order.delivered";
pub const RETURN_REQUESTED: &str = "return.requested";
pub const REFUND_CREATED: &str = "refund.created";

/// A whole generic delivery: the envelope and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericDelivery {
    /// Unique per event and stable across retries: the deduplication key.
    pub event_id: String,
    /// The sender's source id; it selects the signing secret and is the order's store.
    pub source: String,
    pub occurred_at: DateTime<Utc>,
    pub event: StorefrontEvent,
}

/// The source id and the event of a generic webhook body.
pub fn parse(body: &[u8]) -> Result<(String, StorefrontEvent), WebhookError> {
    parse_delivery(body).map(|delivery| (delivery.source, delivery.event))
}

/// The envelope and event of a generic webhook body, `event_id` included for deduplication.
pub fn parse_delivery(body: &[u8]) -> Result<GenericDelivery, WebhookError> {
    let payload = json_body(body)?;
    let envelope = Fields::root(&payload)?;
    let event_id = envelope.text("event_id")?;
    let event_type = envelope.text("type")?;
    let source = envelope.text("source")?;
    let occurred_at = envelope.time("occurred_at", Timestamps::Rfc3339)?;
    let event = match event_type.as_str() {
        ORDER_UPSERTED => StorefrontEvent::Order(order(&source, &envelope.object("data")?)?),
        ORDER_DELIVERED => {
            StorefrontEvent::Delivered(delivery(&envelope.object("data")?, occurred_at)?)
        }
        RETURN_REQUESTED => StorefrontEvent::ReturnRequested(return_request(
            &envelope.object("data")?,
            occurred_at,
        )?),
        REFUND_CREATED => StorefrontEvent::Refund(refund(&envelope.object("data")?, occurred_at)?),
        _ => StorefrontEvent::Ignored { topic: event_type },
    };
    Ok(GenericDelivery {
        event_id,
        source,
        occurred_at,
        event,
    })
}

/// An amount as this format requires it: a decimal string. A JSON number is refused with a
/// message that says why, so the sender fixes it before a float ever rounds a refund.
fn money(fields: &Fields, key: &str, currency: Currency) -> Result<i64, WebhookError> {
    match opt_money(fields, key, currency)? {
        Some(amount) => Ok(amount),
        None => Err(fields.error(key, "is missing")),
    }
}

fn opt_money(fields: &Fields, key: &str, currency: Currency) -> Result<Option<i64>, WebhookError> {
    match fields.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(parse_amount(text, currency)?)),
        Some(_) => Err(fields.error(
            key,
            format!("must be a decimal string in {currency}, e.g. \"19.90\", not a JSON number"),
        )),
    }
}

fn order(source: &str, data: &Fields) -> Result<StoreOrder, WebhookError> {
    let currency = data.currency("currency")?;
    let lines = data
        .list("lines")?
        .iter()
        .map(|line| {
            Ok(StoreOrderLine {
                line_item_id: line.id("line_item_id")?,
                sku: line.opt_text("sku")?,
                title: line.text("title")?,
                quantity: line.quantity("quantity")?,
                unit_price_minor: money(line, "unit_price", currency)?,
                paid_minor: money(line, "paid", currency)?,
                batch: line.opt_text("batch")?,
            })
        })
        .collect::<Result<Vec<_>, WebhookError>>()?;
    Ok(StoreOrder {
        platform: Platform::Generic,
        store: source.to_string(),
        order_id: data.id("order_id")?,
        order_number: data.opt_id("order_number")?,
        customer_id: data.opt_id("customer_id")?,
        customer_email: data.opt_text("customer_email")?,
        customer_locale: data.opt_text("customer_locale")?,
        currency,
        lines,
        placed_at: data.time("placed_at", Timestamps::Rfc3339)?,
        source_updated_at: data.time("updated_at", Timestamps::Rfc3339)?,
        delivered_at: data.opt_time("delivered_at", Timestamps::Rfc3339)?,
        opened_exclusion_consented: data
            .opt_bool("opened_exclusion_consented")?
            .unwrap_or(false),
    })
}

fn delivery(data: &Fields, occurred_at: DateTime<Utc>) -> Result<Delivery, WebhookError> {
    Ok(Delivery {
        order_id: data.id("order_id")?,
        delivered_at: data.time("delivered_at", Timestamps::Rfc3339)?,
        source_updated_at: data
            .opt_time("updated_at", Timestamps::Rfc3339)?
            .unwrap_or(occurred_at),
    })
}

fn return_request(
    data: &Fields,
    occurred_at: DateTime<Utc>,
) -> Result<ReturnRequest, WebhookError> {
    let lines = data
        .list("lines")?
        .iter()
        .map(|line| {
            Ok(ReturnedLine {
                line_item_id: line.id("line_item_id")?,
                quantity: line.quantity("quantity")?,
                reason: line.opt_text("reason")?,
                customer_note: line.opt_text("customer_note")?,
            })
        })
        .collect::<Result<Vec<_>, WebhookError>>()?;
    Ok(ReturnRequest {
        return_id: data.id("return_id")?,
        order_id: data.opt_id("order_id")?,
        lines,
        requested_at: data
            .opt_time("requested_at", Timestamps::Rfc3339)?
            .unwrap_or(occurred_at),
    })
}

fn refund(data: &Fields, occurred_at: DateTime<Utc>) -> Result<RecordedRefund, WebhookError> {
    let currency = data.currency("currency")?;
    let lines = data
        .list("lines")?
        .iter()
        .map(|line| {
            Ok(RefundedLine {
                line_item_id: line.id("line_item_id")?,
                quantity: line.quantity("quantity")?,
                amount_minor: money(line, "amount", currency)?,
            })
        })
        .collect::<Result<Vec<_>, WebhookError>>()?;
    let amount_minor = match opt_money(data, "amount", currency)? {
        Some(amount) => amount,
        None => total(lines.iter().map(|line| line.amount_minor))?,
    };
    Ok(RecordedRefund {
        refund_id: data.id("refund_id")?,
        order_id: data.id("order_id")?,
        lines,
        amount_minor,
        currency,
        created_at: data
            .opt_time("created_at", Timestamps::Rfc3339)?
            .unwrap_or(occurred_at),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::money::MoneyError;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn envelope(event_type: &str, data: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "event_id": "evt_01JD5K8Q2W",
            "type": event_type,
            "source": "glow-lab-cn",
            "occurred_at": "2026-11-11T10:00:05+08:00",
            "data": data,
            "schema_note": "senders may add fields"
        }))
        .unwrap()
    }

    fn order_data() -> Value {
        json!({
            "order_id": "GL-20261111-0042",
            "order_number": "0042",
            "customer_id": "c_8812",
            "customer_email": "mei@example.com",
            "customer_locale": "zh-CN",
            "currency": "CNY",
            "placed_at": "2026-11-11T10:00:00+08:00",
            "updated_at": "2026-11-11T10:00:05+08:00",
            "delivered_at": null,
            "opened_exclusion_consented": true,
            "lines": [{
                "line_item_id": "1",
                "sku": "BABY-CREAM-75",
                "title": "Gentle Baby Cream 75ml",
                "quantity": 2,
                "unit_price": "129.00",
                "paid": "238.00",
                "batch": "B2410C",
                "gift_wrap": false
            }]
        })
    }

    #[test]
    fn maps_an_order_and_its_envelope() {
        let delivery = parse_delivery(&envelope(ORDER_UPSERTED, order_data())).unwrap();
        assert_eq!(delivery.event_id, "evt_01JD5K8Q2W");
        assert_eq!(delivery.source, "glow-lab-cn");
        assert_eq!(delivery.occurred_at, at("2026-11-11T02:00:05Z"));
        let StorefrontEvent::Order(order) = delivery.event else {
            panic!("expected an order");
        };
        assert_eq!(order.platform, Platform::Generic);
        assert_eq!(order.store, "glow-lab-cn");
        assert_eq!(order.order_id, "GL-20261111-0042");
        assert_eq!(order.order_number.as_deref(), Some("0042"));
        assert_eq!(order.customer_id.as_deref(), Some("c_8812"));
        assert_eq!(order.customer_locale.as_deref(), Some("zh-CN"));
        assert_eq!(order.placed_at, at("2026-11-11T02:00:00Z"));
        assert_eq!(order.source_updated_at, at("2026-11-11T02:00:05Z"));
        assert_eq!(order.delivered_at, None);
        assert!(order.opened_exclusion_consented);
        assert_eq!(
            order.lines,
            vec![StoreOrderLine {
                line_item_id: "1".into(),
                sku: Some("BABY-CREAM-75".into()),
                title: "Gentle Baby Cream 75ml".into(),
                quantity: 2,
                unit_price_minor: 12900,
                paid_minor: 23800,
                batch: Some("B2410C".into()),
            }]
        );
    }

    #[test]
    fn guest_orders_and_missing_optional_fields() {
        let mut data = order_data();
        let object = data.as_object_mut().unwrap();
        for key in [
            "order_number",
            "customer_id",
            "customer_email",
            "customer_locale",
            "delivered_at",
            "opened_exclusion_consented",
        ] {
            object.remove(key);
        }
        object["lines"][0].as_object_mut().unwrap().remove("batch");
        object["lines"][0]["sku"] = json!("");
        let (source, event) = parse(&envelope(ORDER_UPSERTED, data)).unwrap();
        assert_eq!(source, "glow-lab-cn");
        let StorefrontEvent::Order(order) = event else {
            panic!("expected an order");
        };
        assert_eq!(order.customer_id, None);
        assert_eq!(order.customer_email, None);
        assert!(!order.opened_exclusion_consented);
        assert_eq!(order.lines[0].sku, None);
        assert_eq!(order.lines[0].batch, None);
    }

    #[test]
    fn amounts_must_be_decimal_strings() {
        let mut data = order_data();
        data["lines"][0]["paid"] = json!(238.0);
        assert_eq!(
            parse(&envelope(ORDER_UPSERTED, data)),
            Err(WebhookError::Malformed(
                "data.lines[0].paid: must be a decimal string in CNY, e.g. \"19.90\", not a JSON \
                 number"
                    .into()
            ))
        );

        let mut data = order_data();
        data["lines"][0]["unit_price"] = json!("129.001");
        assert!(matches!(
            parse(&envelope(ORDER_UPSERTED, data)),
            Err(WebhookError::Money(MoneyError::TooPrecise { .. }))
        ));
    }

    #[test]
    fn the_envelope_is_required() {
        for key in ["event_id", "type", "source", "occurred_at"] {
            let mut value: Value =
                serde_json::from_slice(&envelope(ORDER_UPSERTED, order_data())).unwrap();
            value.as_object_mut().unwrap().remove(key);
            assert_eq!(
                parse(&serde_json::to_vec(&value).unwrap()),
                Err(WebhookError::Malformed(format!("{key}: is missing"))),
            );
        }
        assert_eq!(
            parse(&envelope(ORDER_UPSERTED, json!(null))),
            Err(WebhookError::Malformed("data: is missing".into()))
        );
        assert_eq!(
            parse(&envelope(ORDER_UPSERTED, json!([1]))),
            Err(WebhookError::Malformed("data: must be an object".into()))
        );
        assert!(matches!(
            parse(b"order.upserted"),
            Err(WebhookError::Malformed(_))
        ));
    }

    #[test]
    fn timestamps_need_an_offset() {
        let mut data = order_data();
        data["placed_at"] = json!("2026-11-11T10:00:00");
        assert!(matches!(
            parse(&envelope(ORDER_UPSERTED, data)),
            Err(WebhookError::Malformed(m)) if m.starts_with("data.placed_at:")
        ));
    }

    #[test]
    fn unknown_types_are_ignored_without_reading_data() {
        assert_eq!(
            parse(&envelope("customer.merged", json!("whatever"))),
            Ok((
                "glow-lab-cn".into(),
                StorefrontEvent::Ignored {
                    topic: "customer.merged".into()
                }
            ))
        );
    }

    #[test]
    fn deliveries_default_their_update_time_to_the_event() {
        let (_, event) = parse(&envelope(
            ORDER_DELIVERED,
            json!({"order_id": "GL-20261111-0042", "delivered_at": "2026-11-14T15:20:00+08:00"}),
        ))
        .unwrap();
        assert_eq!(
            event,
            StorefrontEvent::Delivered(Delivery {
                order_id: "GL-20261111-0042".into(),
                delivered_at: at("2026-11-14T07:20:00Z"),
                source_updated_at: at("2026-11-11T02:00:05Z"),
            })
        );
    }

    #[test]
    fn maps_a_return_request() {
        let (_, event) = parse(&envelope(
            RETURN_REQUESTED,
            json!({
                "return_id": "R-0042-1",
                "order_id": "GL-20261111-0042",
                "requested_at": "2026-11-20T09:00:00+08:00",
                "lines": [{"line_item_id": "1", "quantity": 1, "reason": "allergic_reaction",
                           "customer_note": "Redness after first use"}]
            }),
        ))
        .unwrap();
        assert_eq!(
            event,
            StorefrontEvent::ReturnRequested(ReturnRequest {
                return_id: "R-0042-1".into(),
                order_id: Some("GL-20261111-0042".into()),
                lines: vec![ReturnedLine {
                    line_item_id: "1".into(),
                    quantity: 1,
                    reason: Some("allergic_reaction".into()),
                    customer_note: Some("Redness after first use".into()),
                }],
                requested_at: at("2026-11-20T01:00:00Z"),
            })
        );
    }

    #[test]
    fn the_documented_signing_example_holds() {
        // docs/generic-webhook.md, "Signing": keep the two in step.
        let body = br#"{"event_id":"evt_20261113_0001","type":"order.delivered","source":"glow-lab-site","occurred_at":"2026-11-13T16:48:03+08:00","data":{"order_id":"GL-100231","delivered_at":"2026-11-13T16:41:17+08:00"}}"#;
        let signature = "6wIavIlBBas13mgXVVoumFl3sH3JSLv1FNv3odAgtTQ=";
        assert_eq!(body.len(), 199);
        assert_eq!(
            crate::storefront::sign(b"whsec_example_do_not_use", body),
            signature
        );
        let (source, event) = parse(body).unwrap();
        assert_eq!(source, "glow-lab-site");
        assert!(matches!(event, StorefrontEvent::Delivered(_)));
    }

    #[test]
    fn a_refund_without_a_total_sums_its_lines() {
        let (_, event) = parse(&envelope(
            REFUND_CREATED,
            json!({
                "refund_id": "RF-0042-1",
                "order_id": "GL-20261111-0042",
                "currency": "cny",
                "lines": [{"line_item_id": "1", "quantity": 1, "amount": "119.00"}]
            }),
        ))
        .unwrap();
        let StorefrontEvent::Refund(refund) = event else {
            panic!("expected a refund");
        };
        assert_eq!(refund.currency.as_str(), "CNY");
        assert_eq!(refund.amount_minor, 11900);
        assert_eq!(refund.created_at, at("2026-11-11T02:00:05Z"));
    }
}
