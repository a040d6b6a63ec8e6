//! Every fixture under `tests/fixtures/webhooks/` goes through what the intake function does:
//! check the signature over the raw body, then parse with the topic and store its
//! `<name>.headers.json` names. Each fixture must have its expectations below, so a new
//! payload shape cannot be added without saying what it means.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use aftercare::money::Currency;
use aftercare::storefront::{
    Delivery, Platform, RecordedRefund, RefundedLine, ReturnRequest, ReturnedLine, StoreOrder,
    StoreOrderLine, StorefrontEvent, WebhookError, generic, shopify, sign, verify_signature,
    woocommerce,
};
use chrono::{DateTime, Utc};

/// Fixtures are signed here, as the platform would, with a secret that exists only in tests.
const SECRET: &[u8] = b"whsec_aftercare_fixture_secret";

struct Fixture {
    name: String,
    body: Vec<u8>,
    /// Header names lower-cased: HTTP header names are case-insensitive.
    headers: BTreeMap<String, String>,
}

impl Fixture {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn required_header(&self, name: &str) -> &str {
        self.header(name)
            .unwrap_or_else(|| panic!("{}: headers file lacks {name}", self.name))
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webhooks")
}

fn fixtures() -> Vec<Fixture> {
    let mut fixtures: Vec<Fixture> = fs::read_dir(fixtures_dir())
        .expect("the fixtures directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            !name.ends_with(".headers.json")
        })
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let headers_path = fixtures_dir().join(format!("{stem}.headers.json"));
            let headers_text = fs::read_to_string(&headers_path)
                .unwrap_or_else(|err| panic!("{name}: {} ({err})", headers_path.display()));
            let headers: BTreeMap<String, String> = serde_json::from_str(&headers_text)
                .unwrap_or_else(|err| panic!("{name}: headers are not a JSON object ({err})"));
            Fixture {
                body: fs::read(&path).unwrap(),
                headers: headers
                    .into_iter()
                    .map(|(key, value)| (key.to_ascii_lowercase(), value))
                    .collect(),
                name,
            }
        })
        .collect();
    fixtures.sort_by(|a, b| a.name.cmp(&b.name));
    fixtures
}

/// What the intake function would make of the delivery: `None` for a WooCommerce ping, else
/// the event and, for the generic format, its event id.
fn deliver(fixture: &Fixture) -> Option<(StorefrontEvent, Option<String>)> {
    if woocommerce::is_ping(fixture.header("Content-Type"), &fixture.body) {
        return None;
    }
    let signature = sign(SECRET, &fixture.body);
    assert!(verify_signature(SECRET, &fixture.body, &signature));

    let parsed = if let Some(topic) = fixture.header("X-Shopify-Topic") {
        let triggered_at =
            DateTime::parse_from_rfc3339(fixture.required_header("X-Shopify-Triggered-At"))
                .expect("X-Shopify-Triggered-At is RFC 3339")
                .with_timezone(&Utc);
        shopify::parse_with_triggered_at(
            topic,
            fixture.required_header("X-Shopify-Shop-Domain"),
            Some(triggered_at),
            &fixture.body,
        )
        .map(|event| (event, None))
    } else if let Some(topic) = fixture.header("X-WC-Webhook-Topic") {
        assert_eq!(fixture.header("X-WC-Webhook-Resource"), Some("order"));
        woocommerce::parse(
            topic,
            fixture.required_header("X-WC-Webhook-Source"),
            &fixture.body,
        )
        .map(|event| (event, None))
    } else if let Some(source) = fixture.header("X-Aftercare-Source") {
        generic::parse_delivery(&fixture.body).map(|delivery| {
            assert_eq!(delivery.source, source, "the body's source is the header's");
            (delivery.event, Some(delivery.event_id))
        })
    } else {
        panic!("{}: its headers name no platform", fixture.name);
    };
    assert_eq!(
        fixture.header("Content-Type"),
        Some("application/json"),
        "{}",
        fixture.name
    );
    Some(parsed.unwrap_or_else(|err| panic!("{}: {err}", fixture.name)))
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn currency(code: &str) -> Currency {
    Currency::parse(code).unwrap()
}

fn order(event: StorefrontEvent) -> StoreOrder {
    match event {
        StorefrontEvent::Order(order) => order,
        other => panic!("expected an order, got {other:?}"),
    }
}

fn line(
    line_item_id: &str,
    sku: &str,
    title: &str,
    quantity: u32,
    unit_price_minor: i64,
    paid_minor: i64,
    batch: Option<&str>,
) -> StoreOrderLine {
    StoreOrderLine {
        line_item_id: line_item_id.into(),
        sku: Some(sku.into()),
        title: title.into(),
        quantity,
        unit_price_minor,
        paid_minor,
        batch: batch.map(Into::into),
    }
}

fn glow_lab_shopify_lines() -> Vec<StoreOrderLine> {
    vec![
        line(
            "14372311711831",
            "SERUM-30",
            "Hydrating Hyaluronic Serum 30ml",
            2,
            19900,
            2 * 19900 - 3980,
            Some("S2409A"),
        ),
        line(
            "14372311744599",
            "CREAM-50",
            "Barrier Repair Cream 50ml",
            1,
            26800,
            26800 - 2680,
            None,
        ),
        line(
            "14372311777367",
            "BABY-CREAM-75",
            "Gentle Baby Cream 75ml",
            1,
            12900,
            12900,
            Some("B2410C"),
        ),
    ]
}

fn shopify_order(event: StorefrontEvent, updated_at: &str, delivered_at: Option<&str>) {
    let order = order(event);
    assert_eq!(
        order,
        StoreOrder {
            platform: Platform::Shopify,
            store: "glow-lab.myshopify.com".into(),
            order_id: "5730582593623".into(),
            order_number: Some("#1001".into()),
            customer_id: Some("7190148120663".into()),
            customer_email: Some("mei.lin@example.com".into()),
            customer_locale: Some("zh-CN".into()),
            currency: currency("CNY"),
            lines: glow_lab_shopify_lines(),
            placed_at: at("2026-11-11T02:02:11Z"),
            source_updated_at: at(updated_at),
            delivered_at: delivered_at.map(at),
            opened_exclusion_consented: true,
        }
    );
    // The lines account for the order's total_price ("728.40", no shipping).
    let paid: i64 = order.lines.iter().map(|line| line.paid_minor).sum();
    assert_eq!(paid, 72840);
}

fn expect(name: &str, event: Option<(StorefrontEvent, Option<String>)>) {
    let Some((event, event_id)) = event else {
        assert_eq!(
            name, "woocommerce-ping.txt",
            "only the ping parses to nothing"
        );
        return;
    };
    match name {
        "shopify-orders-create.json" => {
            shopify_order(event, "2026-11-11T02:02:15Z", None);
        }
        "shopify-orders-updated.json" => {
            shopify_order(event, "2026-11-14T07:25:02Z", Some("2026-11-14T07:20:41Z"));
        }
        "shopify-fulfillments-update-delivered.json" => assert_eq!(
            event,
            StorefrontEvent::Delivered(Delivery {
                order_id: "5730582593623".into(),
                delivered_at: at("2026-11-14T07:20:41Z"),
                source_updated_at: at("2026-11-14T07:20:41Z"),
            })
        ),
        "shopify-returns-request.json" => assert_eq!(
            event,
            StorefrontEvent::ReturnRequested(ReturnRequest {
                return_id: "9043574871".into(),
                order_id: Some("5730582593623".into()),
                lines: vec![
                    ReturnedLine {
                        line_item_id: "14372311711831".into(),
                        quantity: 1,
                        reason: Some("defective".into()),
                        customer_note: Some("泵头按不下去，精华漏在盒子里".into()),
                    },
                    ReturnedLine {
                        line_item_id: "14372311777367".into(),
                        quantity: 1,
                        reason: Some("unwanted".into()),
                        customer_note: None,
                    },
                ],
                // The payload states no time: X-Shopify-Triggered-At dates it.
                requested_at: at("2026-11-18T02:31:07.512004113Z"),
            })
        ),
        "shopify-refunds-create.json" => assert_eq!(
            event,
            StorefrontEvent::Refund(RecordedRefund {
                refund_id: "1017625346135".into(),
                order_id: "5730582593623".into(),
                lines: vec![RefundedLine {
                    line_item_id: "14372311711831".into(),
                    quantity: 1,
                    amount_minor: 17910,
                }],
                amount_minor: 17910,
                currency: currency("CNY"),
                created_at: at("2026-11-19T03:04:55Z"),
            })
        ),
        "woocommerce-order-created.json" => assert_eq!(
            order(event),
            StoreOrder {
                platform: Platform::WooCommerce,
                store: "https://shop.example.com/".into(),
                order_id: "727".into(),
                order_number: Some("727".into()),
                customer_id: None,
                customer_email: Some("jordan.reyes@example.com".into()),
                customer_locale: None,
                currency: currency("USD"),
                lines: vec![
                    line(
                        "315",
                        "TONER-200",
                        "Calming Toner 200ml",
                        2,
                        1710,
                        3420,
                        Some("T2408B"),
                    ),
                    line(
                        "316",
                        "SERUM-30",
                        "Hydrating Hyaluronic Serum 30ml",
                        1,
                        3780,
                        3780,
                        None,
                    ),
                ],
                placed_at: at("2026-11-11T11:30:00Z"),
                source_updated_at: at("2026-11-11T11:30:04Z"),
                delivered_at: None,
                opened_exclusion_consented: true,
            }
        ),
        "woocommerce-order-updated-completed.json" => assert_eq!(
            order(event),
            StoreOrder {
                platform: Platform::WooCommerce,
                store: "https://shop.example.com/".into(),
                order_id: "731".into(),
                order_number: Some("731".into()),
                customer_id: Some("58".into()),
                customer_email: Some("amelia.ng@example.com".into()),
                customer_locale: Some("en".into()),
                currency: currency("USD"),
                lines: vec![
                    line(
                        "402",
                        "CREAM-50",
                        "Barrier Repair Cream 50ml",
                        3,
                        4500,
                        13500,
                        Some("C2409F"),
                    ),
                    // price arrives as 16.666666666666668: recomputed from total "50.00".
                    line(
                        "403",
                        "BABY-CREAM-75",
                        "Gentle Baby Cream 75ml",
                        3,
                        1667,
                        5000,
                        None,
                    ),
                ],
                placed_at: at("2026-11-13T02:05:41Z"),
                source_updated_at: at("2026-11-16T03:12:40Z"),
                delivered_at: Some(at("2026-11-16T03:12:40Z")),
                opened_exclusion_consented: true,
            }
        ),
        "generic-order-upserted.json" => {
            assert_eq!(
                event_id.as_deref(),
                Some("tmall-bridge:order:4021987730011:v3")
            );
            assert_eq!(
                order(event),
                StoreOrder {
                    platform: Platform::Generic,
                    store: "glow-lab-tmall".into(),
                    order_id: "4021987730011".into(),
                    order_number: Some("4021987730011".into()),
                    customer_id: Some("tb_2208841".into()),
                    customer_email: None,
                    customer_locale: Some("zh-CN".into()),
                    currency: currency("CNY"),
                    lines: vec![
                        line(
                            "4021987730011-1",
                            "SERUM-30",
                            "玻尿酸保湿精华 30ml",
                            1,
                            19900,
                            17900,
                            Some("S2409A"),
                        ),
                        line(
                            "4021987730011-2",
                            "TONER-200",
                            "舒缓爽肤水 200ml",
                            2,
                            15900,
                            28620,
                            None,
                        ),
                    ],
                    placed_at: at("2026-11-10T16:09:31Z"),
                    source_updated_at: at("2026-11-10T16:14:50Z"),
                    delivered_at: None,
                    opened_exclusion_consented: true,
                }
            );
        }
        "generic-order-delivered.json" => assert_eq!(
            event,
            StorefrontEvent::Delivered(Delivery {
                order_id: "4021987730011".into(),
                delivered_at: at("2026-11-13T08:41:17Z"),
                source_updated_at: at("2026-11-13T08:48:00Z"),
            })
        ),
        "generic-return-requested.json" => assert_eq!(
            event,
            StorefrontEvent::ReturnRequested(ReturnRequest {
                return_id: "RT-88120437".into(),
                order_id: Some("4021987730011".into()),
                lines: vec![ReturnedLine {
                    line_item_id: "4021987730011-1".into(),
                    quantity: 1,
                    reason: Some("allergic_reaction".into()),
                    customer_note: Some("用了两次脸颊发红发痒，已停用".into()),
                }],
                requested_at: at("2026-11-16T13:03:20Z"),
            })
        ),
        "generic-refund-created.json" => assert_eq!(
            event,
            StorefrontEvent::Refund(RecordedRefund {
                refund_id: "RF-55310964".into(),
                order_id: "4021987730011".into(),
                lines: vec![RefundedLine {
                    line_item_id: "4021987730011-1".into(),
                    quantity: 1,
                    amount_minor: 17900,
                }],
                amount_minor: 17900,
                currency: currency("CNY"),
                created_at: at("2026-11-17T02:22:38Z"),
            })
        ),
        other => panic!("fixture {other} has no expectations in tests/webhooks.rs"),
    }
}

#[test]
fn every_fixture_parses_into_what_it_describes() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 12, "found {} fixtures", fixtures.len());
    for fixture in &fixtures {
        eprintln!("checking {}", fixture.name);
        expect(&fixture.name, deliver(fixture));
    }
}

#[test]
fn the_required_fixtures_are_all_there() {
    let names: Vec<String> = fixtures().into_iter().map(|fixture| fixture.name).collect();
    for required in [
        "shopify-orders-create.json",
        "shopify-orders-updated.json",
        "shopify-fulfillments-update-delivered.json",
        "shopify-returns-request.json",
        "shopify-refunds-create.json",
        "woocommerce-order-created.json",
        "woocommerce-order-updated-completed.json",
        "woocommerce-ping.txt",
        "generic-order-upserted.json",
        "generic-order-delivered.json",
        "generic-return-requested.json",
        "generic-refund-created.json",
    ] {
        assert!(names.iter().any(|name| name == required), "{required}");
    }
}

#[test]
fn json_fixtures_are_json_and_headers_carry_no_signature() {
    for fixture in fixtures() {
        if fixture.name.ends_with(".json") {
            serde_json::from_slice::<serde_json::Value>(&fixture.body)
                .unwrap_or_else(|err| panic!("{}: {err}", fixture.name));
        }
        for header in fixture.headers.keys() {
            assert!(
                !header.contains("hmac") && !header.contains("signature"),
                "{}: signatures are computed by the tests, not stored ({header})",
                fixture.name
            );
        }
    }
}

#[test]
fn a_one_byte_change_to_any_fixture_breaks_its_signature() {
    for fixture in fixtures() {
        let signature = sign(SECRET, &fixture.body);
        let mut tampered = fixture.body.clone();
        let middle = tampered.len() / 2;
        tampered[middle] ^= 0x20;
        assert!(
            !verify_signature(SECRET, &tampered, &signature),
            "{}",
            fixture.name
        );
        assert!(
            !verify_signature(b"another brand's secret", &fixture.body, &signature),
            "{}",
            fixture.name
        );
    }
}

#[test]
fn the_ping_is_unsigned_form_data_and_is_not_an_order() {
    let ping = fixtures()
        .into_iter()
        .find(|fixture| fixture.name == "woocommerce-ping.txt")
        .unwrap();
    assert!(woocommerce::is_ping(
        ping.header("Content-Type"),
        &ping.body
    ));
    assert!(matches!(
        woocommerce::parse("order.created", "https://shop.example.com/", &ping.body),
        Err(WebhookError::Malformed(_))
    ));
    // A real order is never mistaken for a ping, whatever content type it claims.
    for fixture in fixtures() {
        if fixture.name.ends_with(".json") {
            assert!(!woocommerce::is_ping(
                Some("application/x-www-form-urlencoded"),
                &fixture.body
            ));
        }
    }
}

#[test]
fn the_returns_request_fixture_needs_its_triggered_at_header() {
    let fixture = fixtures()
        .into_iter()
        .find(|fixture| fixture.name == "shopify-returns-request.json")
        .unwrap();
    assert!(matches!(
        shopify::parse(
            fixture.required_header("X-Shopify-Topic"),
            fixture.required_header("X-Shopify-Shop-Domain"),
            &fixture.body
        ),
        Err(WebhookError::Malformed(message)) if message.starts_with("requested_at:")
    ));
}
