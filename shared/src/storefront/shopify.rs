//! Shopify webhooks (REST-shaped JSON payloads; the topic arrives in `X-Shopify-Topic`, the
//! shop in `X-Shopify-Shop-Domain`, the signature in `X-Shopify-Hmac-Sha256`).
//!
//! Money fields are decimal strings in the shop currency (`currency`; `presentment_currency` is
//! what the customer saw and is not used). Ids arrive as JSON numbers and as
//! `admin_graphql_api_id` strings (`gid://shopify/LineItem/123`); both become `"123"`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    Delivery, Fields, Platform, RecordedRefund, RefundedLine, ReturnRequest, ReturnedLine,
    StoreOrder, StoreOrderLine, StorefrontEvent, Timestamps, WebhookError, is_affirmative,
    is_batch_name, is_consent_name, json_body, line_gross, malformed, named_value, store_identity,
    total, value_text,
};
use crate::money::Currency;

/// Parse a webhook of `topic` from `shop_domain`.
///
/// `returns/request` payloads carry no timestamp of their own; use
/// [`parse_with_triggered_at`] with the `X-Shopify-Triggered-At` header to date them.
pub fn parse(topic: &str, shop_domain: &str, body: &[u8]) -> Result<StorefrontEvent, WebhookError> {
    parse_with_triggered_at(topic, shop_domain, None, body)
}

/// [`parse`], with the time Shopify says the event happened (`X-Shopify-Triggered-At`): the
/// request time of a return whose payload does not state one.
pub fn parse_with_triggered_at(
    topic: &str,
    shop_domain: &str,
    triggered_at: Option<DateTime<Utc>>,
    body: &[u8],
) -> Result<StorefrontEvent, WebhookError> {
    let topic = topic.trim();
    match topic {
        "orders/create" | "orders/updated" => {
            let store = store_identity("X-Shopify-Shop-Domain", shop_domain)?;
            order(store, &json_body(body)?).map(StorefrontEvent::Order)
        }
        "fulfillments/create" | "fulfillments/update" => fulfillment(topic, &json_body(body)?),
        "returns/request" => {
            return_request(&json_body(body)?, triggered_at).map(StorefrontEvent::ReturnRequested)
        }
        "refunds/create" => refund(&json_body(body)?).map(StorefrontEvent::Refund),
        other => Ok(StorefrontEvent::Ignored {
            topic: other.to_string(),
        }),
    }
}

/// `"123"` from `123`, `"123"` or `"gid://shopify/LineItem/123"`.
fn numeric_id(fields: &Fields, key: &str, raw: &str) -> Result<String, WebhookError> {
    let tail = match raw.strip_prefix("gid://") {
        // A gid may carry parameters: gid://shopify/LineItem/123?foo=bar
        Some(gid) => gid
            .rsplit('/')
            .next()
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or(""),
        None => raw,
    };
    if !tail.is_empty() && tail.bytes().all(|byte| byte.is_ascii_digit()) {
        Ok(tail.to_string())
    } else {
        Err(fields.error(key, format!("{raw:?} is not a Shopify id")))
    }
}

fn opt_id_at(fields: &Fields, key: &str) -> Result<Option<String>, WebhookError> {
    fields
        .opt_id(key)?
        .map(|raw| numeric_id(fields, key, &raw))
        .transpose()
}

/// A resource's own id: `id`, else its `admin_graphql_api_id`.
fn opt_resource_id(fields: &Fields) -> Result<Option<String>, WebhookError> {
    match opt_id_at(fields, "id")? {
        Some(id) => Ok(Some(id)),
        None => opt_id_at(fields, "admin_graphql_api_id"),
    }
}

fn resource_id(fields: &Fields) -> Result<String, WebhookError> {
    opt_resource_id(fields)?.ok_or_else(|| fields.error("id", "is missing"))
}

fn order(store: String, payload: &Value) -> Result<StoreOrder, WebhookError> {
    let order = Fields::root(payload)?;
    let currency = order.currency("currency")?;
    let customer = order.opt_object("customer")?;
    let customer_id = match &customer {
        Some(customer) => opt_resource_id(customer)?,
        None => None,
    };
    let customer_email = match customer
        .as_ref()
        .map(|customer| customer.opt_text("email"))
        .transpose()?
        .flatten()
    {
        Some(email) => Some(email),
        None => match order.opt_text("email")? {
            Some(email) => Some(email),
            None => order.opt_text("contact_email")?,
        },
    };
    let order_number = match order.opt_text("name")? {
        Some(name) => Some(name),
        None => order.opt_id("order_number")?,
    };
    // processed_at is the date Shopify shows on the order (imported orders carry the original
    // purchase date there); created_at is when the record was made.
    let placed_at = match order.opt_time("processed_at", Timestamps::Rfc3339)? {
        Some(at) => at,
        None => order.time("created_at", Timestamps::Rfc3339)?,
    };
    let lines = order
        .list("line_items")?
        .iter()
        .map(|line| order_line(line, currency))
        .collect::<Result<Vec<_>, _>>()?;
    let consent = named_value(&order.list("note_attributes")?, "name", is_consent_name);

    Ok(StoreOrder {
        platform: Platform::Shopify,
        store,
        order_id: resource_id(&order)?,
        order_number,
        customer_id,
        customer_email,
        customer_locale: order.opt_text("customer_locale")?,
        currency,
        lines,
        placed_at,
        source_updated_at: order.time("updated_at", Timestamps::Rfc3339)?,
        delivered_at: delivered_at(&order)?,
        opened_exclusion_consented: consent.is_some_and(is_affirmative),
    })
}

/// When the last parcel the carrier reports delivered arrived: the return window should not
/// start before the customer has everything.
fn delivered_at(order: &Fields) -> Result<Option<DateTime<Utc>>, WebhookError> {
    let mut latest = None;
    for fulfillment in order.list("fulfillments")? {
        if is_delivered(&fulfillment)? {
            let at = fulfillment.time("updated_at", Timestamps::Rfc3339)?;
            latest = latest.max(Some(at));
        }
    }
    Ok(latest)
}

fn is_delivered(fulfillment: &Fields) -> Result<bool, WebhookError> {
    Ok(fulfillment
        .opt_text("shipment_status")?
        .is_some_and(|status| status.eq_ignore_ascii_case("delivered")))
}

fn order_line(line: &Fields, currency: Currency) -> Result<StoreOrderLine, WebhookError> {
    let quantity = line.quantity("quantity")?;
    let unit_price_minor = line.amount("price", currency)?;
    let gross = line_gross(unit_price_minor, quantity)?;
    // Newer API versions leave total_discount at 0 and put line discounts in
    // discount_allocations; when that array is there it is the truth.
    let discount = if line.get("discount_allocations").is_some() {
        total(
            line.list("discount_allocations")?
                .iter()
                .map(|allocation| allocation.amount("amount", currency))
                .collect::<Result<Vec<_>, _>>()?,
        )?
    } else {
        line.opt_amount("total_discount", currency)?.unwrap_or(0)
    };
    let paid_minor = gross
        .checked_sub(discount)
        .filter(|paid| *paid >= 0)
        .ok_or_else(|| {
            malformed(
                &line.path,
                format!("discounts ({discount}) exceed the line price ({gross})"),
            )
        })?;
    let title = match line.opt_text("title")? {
        Some(title) => title,
        None => line.text("name")?,
    };
    Ok(StoreOrderLine {
        line_item_id: resource_id(line)?,
        sku: line.opt_text("sku")?,
        title,
        quantity,
        unit_price_minor,
        paid_minor,
        batch: line_property_batch(line)?,
    })
}

/// Line item properties are `[{name, value}]` in order payloads; the cart's `{name: value}`
/// object form is accepted too.
fn line_property_batch(line: &Fields) -> Result<Option<String>, WebhookError> {
    match line.get("properties") {
        Some(Value::Object(properties)) => Ok(properties
            .iter()
            .find(|(name, _)| is_batch_name(name))
            .and_then(|(_, value)| value_text(value))),
        Some(_) => {
            Ok(named_value(&line.list("properties")?, "name", is_batch_name).and_then(value_text))
        }
        None => Ok(None),
    }
}

/// A fulfillment webhook matters only once the carrier reports the parcel delivered.
fn fulfillment(topic: &str, payload: &Value) -> Result<StorefrontEvent, WebhookError> {
    let fulfillment = Fields::root(payload)?;
    if !is_delivered(&fulfillment)? {
        return Ok(StorefrontEvent::Ignored {
            topic: topic.to_string(),
        });
    }
    let order_id = opt_id_at(&fulfillment, "order_id")?
        .ok_or_else(|| fulfillment.error("order_id", "is missing"))?;
    let updated_at = fulfillment.time("updated_at", Timestamps::Rfc3339)?;
    Ok(StorefrontEvent::Delivered(Delivery {
        order_id,
        delivered_at: updated_at,
        source_updated_at: updated_at,
    }))
}

fn return_request(
    payload: &Value,
    triggered_at: Option<DateTime<Utc>>,
) -> Result<ReturnRequest, WebhookError> {
    let ret = Fields::root(payload)?;
    let order_id = match ret.opt_object("order")? {
        Some(order) => opt_resource_id(&order)?,
        None => opt_id_at(&ret, "order_id")?,
    };
    let lines = ret
        .list("return_line_items")?
        .iter()
        .map(|line| {
            let line_item = line.object("fulfillment_line_item")?.object("line_item")?;
            let customer_note = match line.opt_text("customer_note")? {
                Some(note) => Some(note),
                None => line.opt_text("return_reason_note")?,
            };
            Ok(ReturnedLine {
                line_item_id: resource_id(&line_item)?,
                quantity: line.quantity("quantity")?,
                reason: line.opt_text("return_reason")?,
                customer_note,
            })
        })
        .collect::<Result<Vec<_>, WebhookError>>()?;
    let stated = match ret.opt_time("requested_at", Timestamps::Rfc3339)? {
        Some(at) => Some(at),
        None => ret.opt_time("created_at", Timestamps::Rfc3339)?,
    };
    let requested_at = stated.or(triggered_at).ok_or_else(|| {
        ret.error(
            "requested_at",
            "the payload states no time (requested_at, created_at) and no \
             X-Shopify-Triggered-At was given",
        )
    })?;
    Ok(ReturnRequest {
        return_id: resource_id(&ret)?,
        order_id,
        lines,
        requested_at,
    })
}

fn refund(payload: &Value) -> Result<RecordedRefund, WebhookError> {
    let refund = Fields::root(payload)?;
    let successful = refund
        .list("transactions")?
        .into_iter()
        .filter(|transaction| {
            transaction
                .opt_text("kind")
                .ok()
                .flatten()
                .is_some_and(|kind| kind == "refund")
                && transaction
                    .opt_text("status")
                    .ok()
                    .flatten()
                    .is_some_and(|status| status == "success")
        })
        .collect::<Vec<_>>();
    let refund_lines = refund.list("refund_line_items")?;
    let currency = refund_currency(&successful, &refund_lines)?;

    let lines = refund_lines
        .iter()
        .map(|line| {
            let line_item_id = match opt_id_at(line, "line_item_id")? {
                Some(id) => id,
                None => resource_id(&line.object("line_item")?)?,
            };
            let amount_minor = match line.opt_object("subtotal_set")? {
                Some(set) => match amount_in(&set, currency)? {
                    Some(amount) => amount,
                    None => line.amount("subtotal", currency)?,
                },
                None => line.amount("subtotal", currency)?,
            };
            Ok(RefundedLine {
                line_item_id,
                quantity: line.quantity("quantity")?,
                amount_minor,
            })
        })
        .collect::<Result<Vec<_>, WebhookError>>()?;

    let amount_minor = if successful.is_empty() {
        total(lines.iter().map(|line| line.amount_minor))?
    } else {
        total(
            successful
                .iter()
                .map(|transaction| transaction.amount("amount", currency))
                .collect::<Result<Vec<_>, _>>()?,
        )?
    };
    let created_at = match refund.opt_time("created_at", Timestamps::Rfc3339)? {
        Some(at) => at,
        None => refund.time("processed_at", Timestamps::Rfc3339)?,
    };
    Ok(RecordedRefund {
        refund_id: resource_id(&refund)?,
        order_id: opt_id_at(&refund, "order_id")?
            .ok_or_else(|| refund.error("order_id", "is missing"))?,
        lines,
        amount_minor,
        currency,
        created_at,
    })
}

/// A refund states no currency of its own: the money moved (successful transactions) decides;
/// failing that, the shop money of its lines.
fn refund_currency(successful: &[Fields], lines: &[Fields]) -> Result<Currency, WebhookError> {
    let mut from_transactions = None;
    for transaction in successful {
        let currency = transaction.currency("currency")?;
        match from_transactions {
            None => from_transactions = Some(currency),
            Some(first) if first != currency => {
                return Err(transaction.error(
                    "currency",
                    format!("{currency} differs from the refund's other transactions ({first})"),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(currency) = from_transactions {
        return Ok(currency);
    }
    for line in lines {
        if let Some(shop_money) = line
            .opt_object("subtotal_set")?
            .map(|set| set.opt_object("shop_money"))
            .transpose()?
            .flatten()
        {
            return shop_money.currency("currency_code");
        }
    }
    Err(malformed(
        "currency",
        "the refund has no successful transaction and no line with subtotal_set to take it from",
    ))
}

/// The amount of a Shopify money set (`{shop_money, presentment_money}`) in `currency`.
fn amount_in(set: &Fields, currency: Currency) -> Result<Option<i64>, WebhookError> {
    for side in ["shop_money", "presentment_money"] {
        if let Some(money) = set.opt_object(side)?
            && money.currency("currency_code")? == currency
        {
            return money.amount("amount", currency).map(Some);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::money::MoneyError;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn body(value: &Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap()
    }

    fn order_payload() -> Value {
        json!({
            "id": 450789469_u64,
            "admin_graphql_api_id": "gid://shopify/Order/450789469",
            "name": "#1001",
            "order_number": 1001,
            "email": "order-level@example.com",
            "created_at": "2026-11-11T10:00:00+08:00",
            "processed_at": "2026-11-11T09:59:58+08:00",
            "updated_at": "2026-11-11T10:00:05+08:00",
            "currency": "CNY",
            "presentment_currency": "USD",
            "customer_locale": "zh-CN",
            "customer": {"id": 207119551, "email": "mei@example.com"},
            "note_attributes": [{"name": "gift_message", "value": "Happy birthday"},
                                {"name": "opened_exclusion_consent", "value": "true"}],
            "line_items": [
                {
                    "id": 466157049, "sku": "SERUM-30", "title": "Hydrating Serum 30ml",
                    "quantity": 2, "price": "199.00", "total_discount": "0.00",
                    "discount_allocations": [{"amount": "19.90", "discount_application_index": 0}],
                    "properties": [{"name": "Batch", "value": "S2409A"}]
                },
                {
                    "id": 518995019, "sku": "", "title": "Gift pouch",
                    "quantity": 1, "price": "0.00", "total_discount": "0.00",
                    "properties": []
                }
            ],
            "fulfillments": [],
            "some_new_field": {"shopify": "adds these"}
        })
    }

    fn parse_order(payload: &Value) -> Result<StoreOrder, WebhookError> {
        match parse("orders/create", "glow-lab.myshopify.com", &body(payload))? {
            StorefrontEvent::Order(order) => Ok(order),
            other => panic!("expected an order, got {other:?}"),
        }
    }

    #[test]
    fn maps_an_order() {
        let order = parse_order(&order_payload()).unwrap();
        assert_eq!(order.platform, Platform::Shopify);
        assert_eq!(order.store, "glow-lab.myshopify.com");
        assert_eq!(order.order_id, "450789469");
        assert_eq!(order.order_number.as_deref(), Some("#1001"));
        assert_eq!(order.customer_id.as_deref(), Some("207119551"));
        assert_eq!(order.customer_email.as_deref(), Some("mei@example.com"));
        assert_eq!(order.customer_locale.as_deref(), Some("zh-CN"));
        assert_eq!(order.currency.as_str(), "CNY");
        assert_eq!(order.placed_at, at("2026-11-11T01:59:58Z"));
        assert_eq!(order.source_updated_at, at("2026-11-11T02:00:05Z"));
        assert_eq!(order.delivered_at, None);
        assert!(order.opened_exclusion_consented);
        assert_eq!(
            order.lines[0],
            StoreOrderLine {
                line_item_id: "466157049".into(),
                sku: Some("SERUM-30".into()),
                title: "Hydrating Serum 30ml".into(),
                quantity: 2,
                unit_price_minor: 19900,
                paid_minor: 39800 - 1990,
                batch: Some("S2409A".into()),
            }
        );
        assert_eq!(order.lines[1].sku, None);
        assert_eq!(order.lines[1].batch, None);
        assert_eq!(order.lines[1].paid_minor, 0);
    }

    #[test]
    fn total_discount_applies_when_there_are_no_allocations() {
        let mut payload = order_payload();
        let line = &mut payload["line_items"][0];
        line.as_object_mut().unwrap().remove("discount_allocations");
        line["total_discount"] = json!("40.00");
        let order = parse_order(&payload).unwrap();
        assert_eq!(order.lines[0].paid_minor, 39800 - 4000);
    }

    #[test]
    fn discounts_beyond_the_price_are_malformed() {
        let mut payload = order_payload();
        payload["line_items"][0]["discount_allocations"] = json!([{"amount": "400.00"}]);
        assert!(matches!(
            parse_order(&payload),
            Err(WebhookError::Malformed(m)) if m.starts_with("line_items[0]: discounts")
        ));
    }

    #[test]
    fn guest_orders_fall_back_to_the_order_email() {
        let mut payload = order_payload();
        payload["customer"] = Value::Null;
        let order = parse_order(&payload).unwrap();
        assert_eq!(order.customer_id, None);
        assert_eq!(
            order.customer_email.as_deref(),
            Some("order-level@example.com")
        );

        payload.as_object_mut().unwrap().remove("customer");
        payload.as_object_mut().unwrap().remove("email");
        payload["contact_email"] = json!("contact@example.com");
        let order = parse_order(&payload).unwrap();
        assert_eq!(order.customer_email.as_deref(), Some("contact@example.com"));
    }

    #[test]
    fn missing_optional_fields() {
        let mut payload = order_payload();
        let object = payload.as_object_mut().unwrap();
        for key in [
            "name",
            "order_number",
            "email",
            "customer",
            "customer_locale",
            "note_attributes",
            "fulfillments",
            "processed_at",
        ] {
            object.remove(key);
        }
        let order = parse_order(&payload).unwrap();
        assert_eq!(order.order_number, None);
        assert_eq!(order.customer_email, None);
        assert_eq!(order.customer_locale, None);
        assert!(!order.opened_exclusion_consented);
        assert_eq!(order.placed_at, at("2026-11-11T02:00:00Z"));
    }

    #[test]
    fn batch_property_names_and_shapes() {
        for (properties, expected) in [
            (json!([{"name": "lot", "value": "L-77"}]), Some("L-77")),
            (
                json!([{"name": "batch_number", "value": 240915}]),
                Some("240915"),
            ),
            (json!([{"name": "_batch", "value": "S1"}]), Some("S1")),
            (json!({"Batch": "OBJ-1"}), Some("OBJ-1")),
            (json!([{"name": "engraving", "value": "MEI"}]), None),
            (json!([{"name": "batch", "value": ""}]), None),
            (json!(null), None),
        ] {
            let mut payload = order_payload();
            payload["line_items"][0]["properties"] = properties.clone();
            let order = parse_order(&payload).unwrap();
            assert_eq!(order.lines[0].batch.as_deref(), expected, "{properties}");
        }
    }

    #[test]
    fn consent_must_be_affirmative() {
        let mut payload = order_payload();
        payload["note_attributes"] = json!([{"name": "opened_exclusion_consent", "value": "no"}]);
        assert!(!parse_order(&payload).unwrap().opened_exclusion_consented);
        payload["note_attributes"] = json!([{"name": "Opened_Exclusion_Consent", "value": "YES"}]);
        assert!(parse_order(&payload).unwrap().opened_exclusion_consented);
    }

    #[test]
    fn gid_only_ids_are_normalised() {
        let mut payload = order_payload();
        let object = payload.as_object_mut().unwrap();
        object.remove("id");
        object["line_items"][0]
            .as_object_mut()
            .unwrap()
            .remove("id");
        object["line_items"][0]["admin_graphql_api_id"] = json!("gid://shopify/LineItem/466157049");
        object["line_items"][1]["id"] = json!("gid://shopify/LineItem/518995019?x=1");
        let order = parse_order(&payload).unwrap();
        assert_eq!(order.order_id, "450789469");
        assert_eq!(order.lines[0].line_item_id, "466157049");
        assert_eq!(order.lines[1].line_item_id, "518995019");

        payload["line_items"][1]["id"] = json!("gid://shopify/LineItem/");
        assert!(matches!(
            parse_order(&payload),
            Err(WebhookError::Malformed(m)) if m.starts_with("line_items[1].id:")
        ));
    }

    #[test]
    fn an_order_with_a_delivered_fulfillment_is_delivered() {
        let mut payload = order_payload();
        payload["fulfillments"] = json!([
            {"id": 1, "shipment_status": "in_transit", "updated_at": "2026-11-13T09:00:00+08:00"},
            {"id": 2, "shipment_status": "delivered", "updated_at": "2026-11-14T15:20:00+08:00"},
            {"id": 3, "shipment_status": "delivered", "updated_at": "2026-11-13T11:00:00+08:00"}
        ]);
        let order = parse_order(&payload).unwrap();
        assert_eq!(order.delivered_at, Some(at("2026-11-14T07:20:00Z")));
    }

    #[test]
    fn money_errors_and_malformed_fields() {
        let mut payload = order_payload();
        payload["line_items"][0]["price"] = json!("199.001");
        assert!(matches!(
            parse_order(&payload),
            Err(WebhookError::Money(MoneyError::TooPrecise { .. }))
        ));

        let mut payload = order_payload();
        payload["currency"] = json!("yuan");
        assert!(matches!(
            parse_order(&payload),
            Err(WebhookError::Malformed(m)) if m.starts_with("currency:")
        ));

        let mut payload = order_payload();
        payload.as_object_mut().unwrap().remove("updated_at");
        assert_eq!(
            parse_order(&payload),
            Err(WebhookError::Malformed("updated_at: is missing".into()))
        );

        let mut payload = order_payload();
        payload["line_items"][1]["quantity"] = json!("two");
        assert_eq!(
            parse_order(&payload),
            Err(WebhookError::Malformed(
                "line_items[1].quantity: must be a whole number of units".into()
            ))
        );

        assert!(matches!(
            parse("orders/create", "glow-lab.myshopify.com", b"<html>"),
            Err(WebhookError::Malformed(m)) if m.starts_with("body: not JSON")
        ));
        assert_eq!(
            parse("orders/create", " ", &body(&order_payload())),
            Err(WebhookError::Malformed(
                "X-Shopify-Shop-Domain: is missing".into()
            ))
        );
    }

    #[test]
    fn unknown_topics_are_ignored_without_reading_the_body() {
        assert_eq!(
            parse(
                "customers/create",
                "glow-lab.myshopify.com",
                b"not even json"
            ),
            Ok(StorefrontEvent::Ignored {
                topic: "customers/create".into()
            })
        );
    }

    fn fulfillment_payload(status: Value) -> Value {
        json!({
            "id": 255858046,
            "order_id": 450789469_u64,
            "status": "success",
            "shipment_status": status,
            "created_at": "2026-11-12T09:00:00+08:00",
            "updated_at": "2026-11-14T15:20:00+08:00",
            "tracking_company": "SF Express",
            "tracking_number": "SF1234567890"
        })
    }

    #[test]
    fn delivered_fulfillments_are_deliveries() {
        let event = parse(
            "fulfillments/update",
            "glow-lab.myshopify.com",
            &body(&fulfillment_payload(json!("delivered"))),
        )
        .unwrap();
        assert_eq!(
            event,
            StorefrontEvent::Delivered(Delivery {
                order_id: "450789469".into(),
                delivered_at: at("2026-11-14T07:20:00Z"),
                source_updated_at: at("2026-11-14T07:20:00Z"),
            })
        );
    }

    #[test]
    fn undelivered_fulfillments_are_ignored() {
        for status in [json!("in_transit"), json!("out_for_delivery"), Value::Null] {
            assert_eq!(
                parse(
                    "fulfillments/create",
                    "glow-lab.myshopify.com",
                    &body(&fulfillment_payload(status))
                ),
                Ok(StorefrontEvent::Ignored {
                    topic: "fulfillments/create".into()
                })
            );
        }
    }

    fn return_payload() -> Value {
        json!({
            "id": 3547267221_u64,
            "admin_graphql_api_id": "gid://shopify/Return/3547267221",
            "status": "requested",
            "order": {"id": 450789469, "admin_graphql_api_id": "gid://shopify/Order/450789469"},
            "total_return_line_items": 1,
            "name": "#1001-R1",
            "return_line_items": [{
                "id": 6200524949_u64,
                "fulfillment_line_item": {
                    "id": 10736341352597_u64,
                    "line_item": {"id": 466157049, "admin_graphql_api_id": "gid://shopify/LineItem/466157049"}
                },
                "quantity": 1,
                "return_reason": "defective",
                "return_reason_note": "",
                "customer_note": "The pump is broken"
            }]
        })
    }

    fn parse_return(
        payload: &Value,
        triggered: Option<&str>,
    ) -> Result<ReturnRequest, WebhookError> {
        match parse_with_triggered_at(
            "returns/request",
            "glow-lab.myshopify.com",
            triggered.map(at),
            &body(payload),
        )? {
            StorefrontEvent::ReturnRequested(request) => Ok(request),
            other => panic!("expected a return request, got {other:?}"),
        }
    }

    #[test]
    fn maps_a_return_request() {
        let request = parse_return(&return_payload(), Some("2026-11-20T03:00:00Z")).unwrap();
        assert_eq!(
            request,
            ReturnRequest {
                return_id: "3547267221".into(),
                order_id: Some("450789469".into()),
                lines: vec![ReturnedLine {
                    line_item_id: "466157049".into(),
                    quantity: 1,
                    reason: Some("defective".into()),
                    customer_note: Some("The pump is broken".into()),
                }],
                requested_at: at("2026-11-20T03:00:00Z"),
            }
        );
    }

    #[test]
    fn return_ids_may_be_gids_only() {
        let mut payload = return_payload();
        payload["id"] = Value::Null;
        payload["order"] = json!({"admin_graphql_api_id": "gid://shopify/Order/450789469"});
        payload["return_line_items"][0]["fulfillment_line_item"]["line_item"] =
            json!({"admin_graphql_api_id": "gid://shopify/LineItem/466157049"});
        payload["return_line_items"][0]["customer_note"] = Value::Null;
        payload["return_line_items"][0]["return_reason_note"] = json!("Leaked in the box");
        let request = parse_return(&payload, Some("2026-11-20T03:00:00Z")).unwrap();
        assert_eq!(request.return_id, "3547267221");
        assert_eq!(request.order_id.as_deref(), Some("450789469"));
        assert_eq!(request.lines[0].line_item_id, "466157049");
        assert_eq!(
            request.lines[0].customer_note.as_deref(),
            Some("Leaked in the box")
        );
    }

    #[test]
    fn a_stated_request_time_wins_and_none_at_all_is_malformed() {
        let mut payload = return_payload();
        payload["created_at"] = json!("2026-11-19T10:00:00+08:00");
        let request = parse_return(&payload, Some("2026-11-20T03:00:00Z")).unwrap();
        assert_eq!(request.requested_at, at("2026-11-19T02:00:00Z"));

        assert!(matches!(
            parse_return(&return_payload(), None),
            Err(WebhookError::Malformed(m)) if m.starts_with("requested_at:")
        ));
    }

    #[test]
    fn a_return_line_without_its_line_item_is_malformed() {
        let mut payload = return_payload();
        payload["return_line_items"][0]["fulfillment_line_item"] = json!({"id": 1});
        assert_eq!(
            parse_return(&payload, Some("2026-11-20T03:00:00Z")),
            Err(WebhookError::Malformed(
                "return_line_items[0].fulfillment_line_item.line_item: is missing".into()
            ))
        );
    }

    fn refund_payload() -> Value {
        json!({
            "id": 929361464,
            "order_id": 450789469,
            "created_at": "2026-11-21T10:00:00+08:00",
            "note": "Leaking pump",
            "refund_line_items": [{
                "id": 1058498311,
                "line_item_id": 466157049,
                "quantity": 1,
                "subtotal": 179.1,
                "subtotal_set": {
                    "shop_money": {"amount": "179.10", "currency_code": "CNY"},
                    "presentment_money": {"amount": "24.90", "currency_code": "USD"}
                }
            }],
            "transactions": [
                {"id": 1, "kind": "refund", "status": "success", "amount": "179.10", "currency": "CNY"},
                {"id": 2, "kind": "refund", "status": "failure", "amount": "179.10", "currency": "CNY"}
            ]
        })
    }

    fn parse_refund(payload: &Value) -> Result<RecordedRefund, WebhookError> {
        match parse("refunds/create", "glow-lab.myshopify.com", &body(payload))? {
            StorefrontEvent::Refund(refund) => Ok(refund),
            other => panic!("expected a refund, got {other:?}"),
        }
    }

    #[test]
    fn maps_a_refund() {
        let refund = parse_refund(&refund_payload()).unwrap();
        assert_eq!(
            refund,
            RecordedRefund {
                refund_id: "929361464".into(),
                order_id: "450789469".into(),
                lines: vec![RefundedLine {
                    line_item_id: "466157049".into(),
                    quantity: 1,
                    amount_minor: 17910,
                }],
                amount_minor: 17910,
                currency: Currency::parse("CNY").unwrap(),
                created_at: at("2026-11-21T02:00:00Z"),
            }
        );
    }

    #[test]
    fn a_refund_without_transactions_sums_its_lines_from_numbers() {
        let mut payload = refund_payload();
        payload["transactions"] = json!([]);
        payload["refund_line_items"][0]
            .as_object_mut()
            .unwrap()
            .remove("subtotal_set");
        payload["refund_line_items"][0]["line_item"] = json!({"id": 466157049});
        // Without subtotal_set or a transaction nothing says which currency this is.
        assert!(matches!(
            parse_refund(&payload),
            Err(WebhookError::Malformed(m)) if m.starts_with("currency:")
        ));

        payload["refund_line_items"][0]["subtotal_set"] =
            json!({"shop_money": {"amount": "179.10", "currency_code": "CNY"}});
        payload["refund_line_items"]
            .as_array_mut()
            .unwrap()
            .push(json!({"line_item": {"id": 518995019}, "quantity": 1, "subtotal": 35}));
        let refund = parse_refund(&payload).unwrap();
        assert_eq!(refund.lines[1].line_item_id, "518995019");
        assert_eq!(refund.lines[1].amount_minor, 3500);
        assert_eq!(refund.amount_minor, 17910 + 3500);
    }

    #[test]
    fn refund_transactions_in_the_presentment_currency_price_the_lines_in_it() {
        let mut payload = refund_payload();
        payload["transactions"] =
            json!([{"kind": "refund", "status": "success", "amount": "24.90", "currency": "USD"}]);
        let refund = parse_refund(&payload).unwrap();
        assert_eq!(refund.currency.as_str(), "USD");
        assert_eq!(refund.amount_minor, 2490);
        assert_eq!(refund.lines[0].amount_minor, 2490);
    }

    #[test]
    fn refund_transactions_in_two_currencies_are_malformed() {
        let mut payload = refund_payload();
        payload["transactions"] = json!([
            {"kind": "refund", "status": "success", "amount": "24.90", "currency": "USD"},
            {"kind": "refund", "status": "success", "amount": "1.00", "currency": "CNY"}
        ]);
        assert!(matches!(
            parse_refund(&payload),
            Err(WebhookError::Malformed(m)) if m.starts_with("transactions[1].currency:")
        ));
    }
}
