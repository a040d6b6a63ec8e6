//! Storefront webhooks: Shopify, WooCommerce and our own generic signed JSON, parsed into one
//! set of domain events.
//!
//! Pure code: no I/O and no clock. The intake function verifies the signature over the raw body
//! first ([`verify_signature`]), then hands the body to the platform's parser.
//!
//! Storefronts add fields to their payloads without notice, so every parser reads
//! `serde_json::Value` and tolerates anything it does not know. A missing or ill-typed field it
//! needs is a [`WebhookError::Malformed`] that names the field by its path in the payload
//! (`line_items[1].quantity`).

pub mod generic;
pub mod shopify;
pub mod woocommerce;

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::money::{Currency, MoneyError, parse_json_amount};

/// Where a webhook came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Shopify,
    #[serde(rename = "woocommerce")]
    WooCommerce,
    Generic,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::WooCommerce => "woocommerce",
            Platform::Generic => "generic",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], raw_body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(raw_body);
    mac
}

/// Whether `signature_base64` is the base64 (standard alphabet) HMAC-SHA256 of the raw body
/// with `secret`: Shopify's `X-Shopify-Hmac-Sha256`, WooCommerce's `X-WC-Webhook-Signature`
/// and our `X-Aftercare-Signature` are all this. Compared in constant time. Surrounding
/// whitespace is ignored; an empty or undecodable signature is simply not valid.
pub fn verify_signature(secret: &[u8], raw_body: &[u8], signature_base64: &str) -> bool {
    match STANDARD.decode(signature_base64.trim()) {
        Ok(claimed) if !claimed.is_empty() => mac(secret, raw_body).verify_slice(&claimed).is_ok(),
        _ => false,
    }
}

/// The base64 HMAC-SHA256 of the raw body: what [`verify_signature`] accepts. For tests, the
/// generic format's documentation and our own outbound webhooks.
pub fn sign(secret: &[u8], raw_body: &[u8]) -> String {
    STANDARD.encode(mac(secret, raw_body).finalize().into_bytes())
}

/// The order as the storefront last described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreOrder {
    pub platform: Platform,
    /// Shopify shop domain / WooCommerce source URL / generic source id.
    pub store: String,
    /// The storefront's own order id, as text (`"450789469"`, `"727"`).
    pub order_id: String,
    /// What the customer sees (`"#1001"`, `"727"`).
    pub order_number: Option<String>,
    /// The storefront's customer id as text; `None` for guest checkouts.
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    /// `"zh-CN"`, `"en"`.
    pub customer_locale: Option<String>,
    pub currency: Currency,
    pub lines: Vec<StoreOrderLine>,
    pub placed_at: DateTime<Utc>,
    /// The storefront's own last-modified time: a webhook older than what we hold is stale.
    pub source_updated_at: DateTime<Utc>,
    /// When the order reached the customer, when the payload says so (the no-reason return
    /// window counts from here).
    pub delivered_at: Option<DateTime<Utc>>,
    /// The customer confirmed at purchase that opened cosmetics are excluded from no-reason
    /// returns.
    pub opened_exclusion_consented: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreOrderLine {
    pub line_item_id: String,
    /// Kept as sent, even when the catalogue does not know it; `None` when the line has none.
    pub sku: Option<String>,
    pub title: String,
    pub quantity: u32,
    /// Price of one unit in minor units of the order currency.
    pub unit_price_minor: i64,
    /// What was paid for the whole line after line discounts, in minor units.
    pub paid_minor: i64,
    /// Production batch (lot) the customer received, when the storefront records it.
    pub batch: Option<String>,
}

/// An order reached the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub order_id: String,
    pub delivered_at: DateTime<Utc>,
    pub source_updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnedLine {
    pub line_item_id: String,
    pub quantity: u32,
    pub reason: Option<String>,
    pub customer_note: Option<String>,
}

/// The customer asked the storefront to take goods back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRequest {
    pub return_id: String,
    /// When the payload names the order.
    pub order_id: Option<String>,
    pub lines: Vec<ReturnedLine>,
    pub requested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundedLine {
    pub line_item_id: String,
    pub quantity: u32,
    pub amount_minor: i64,
}

/// Money the storefront has returned to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRefund {
    pub refund_id: String,
    pub order_id: String,
    pub lines: Vec<RefundedLine>,
    /// Sum of the successful refund transactions, or of the lines when there are none.
    pub amount_minor: i64,
    pub currency: Currency,
    pub created_at: DateTime<Utc>,
}

/// What a storefront webhook means to us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StorefrontEvent {
    Order(StoreOrder),
    Delivered(Delivery),
    ReturnRequested(ReturnRequest),
    Refund(RecordedRefund),
    /// A topic we do not act on (answered 200, nothing written).
    Ignored {
        topic: String,
    },
}

/// Why a webhook body cannot be turned into an event. Both mean "answer 400": sending the same
/// body again will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Not JSON, or a field we need is missing or of the wrong type; the message names it.
    #[error("malformed webhook: {0}")]
    Malformed(String),
    #[error("webhook amount: {0}")]
    Money(#[from] MoneyError),
}

fn malformed(field: &str, reason: impl fmt::Display) -> WebhookError {
    WebhookError::Malformed(format!("{field}: {reason}"))
}

/// The body as a JSON object.
fn json_body(body: &[u8]) -> Result<Value, WebhookError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| malformed("body", format!("not JSON ({err})")))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(malformed("body", "not a JSON object"))
    }
}

/// How a payload writes its timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timestamps {
    /// RFC 3339 with an offset; nothing else is unambiguous.
    Rfc3339,
    /// WooCommerce's `*_gmt` fields: `2026-11-11T08:30:00`, no zone, and it is UTC. An RFC 3339
    /// value is accepted too.
    NaiveUtc,
}

/// A JSON object being read, with its path from the payload root for error messages.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    fn root(payload: &'a Value) -> Result<Fields<'a>, WebhookError> {
        Fields::at(payload, String::new())
    }

    fn at(value: &'a Value, path: String) -> Result<Fields<'a>, WebhookError> {
        match value {
            Value::Object(map) => Ok(Fields { map, path }),
            _ => Err(malformed(
                if path.is_empty() { "body" } else { &path },
                "must be an object",
            )),
        }
    }

    fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn error(&self, key: &str, reason: impl fmt::Display) -> WebhookError {
        malformed(&self.path_of(key), reason)
    }

    /// A present value; JSON `null` counts as absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    /// Text with surrounding whitespace removed; empty text counts as absent. A number is taken
    /// as its text (some plugins send SKUs and notes as numbers).
    fn opt_text(&self, key: &str) -> Result<Option<String>, WebhookError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => {
                let text = text.trim();
                Ok((!text.is_empty()).then(|| text.to_string()))
            }
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(_) => Err(self.error(key, "must be a string")),
        }
    }

    fn text(&self, key: &str) -> Result<String, WebhookError> {
        self.opt_text(key)?
            .ok_or_else(|| self.error(key, "is missing"))
    }

    /// An identifier: non-empty text, or an integer (storefronts send ids as JSON numbers, some
    /// beyond 2^53, which serde_json keeps exact).
    fn opt_id(&self, key: &str) -> Result<Option<String>, WebhookError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => {
                let text = text.trim();
                Ok((!text.is_empty()).then(|| text.to_string()))
            }
            Some(Value::Number(number)) if number.is_u64() || number.is_i64() => {
                Ok(Some(number.to_string()))
            }
            Some(_) => Err(self.error(key, "must be a string or an integer id")),
        }
    }

    fn id(&self, key: &str) -> Result<String, WebhookError> {
        self.opt_id(key)?
            .ok_or_else(|| self.error(key, "is missing"))
    }

    /// A count of units: a non-negative integer (digits in a string are accepted too).
    fn quantity(&self, key: &str) -> Result<u32, WebhookError> {
        let invalid = || self.error(key, "must be a whole number of units");
        match self.get(key) {
            None => Err(self.error(key, "is missing")),
            Some(Value::Number(number)) => number
                .as_u64()
                .and_then(|units| u32::try_from(units).ok())
                .ok_or_else(invalid),
            Some(Value::String(text)) => text.trim().parse::<u32>().map_err(|_| invalid()),
            Some(_) => Err(invalid()),
        }
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, WebhookError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(_) => Err(self.error(key, "must be true or false")),
        }
    }

    fn opt_time(
        &self,
        key: &str,
        format: Timestamps,
    ) -> Result<Option<DateTime<Utc>>, WebhookError> {
        let Some(text) = self.opt_text(key)? else {
            return Ok(None);
        };
        if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
            return Ok(Some(at.with_timezone(&Utc)));
        }
        match format {
            Timestamps::Rfc3339 => Err(self.error(
                key,
                format!("{text:?} is not an RFC 3339 timestamp with an offset"),
            )),
            Timestamps::NaiveUtc => NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
                .map(|naive| Some(naive.and_utc()))
                .map_err(|_| self.error(key, format!("{text:?} is not a timestamp"))),
        }
    }

    fn time(&self, key: &str, format: Timestamps) -> Result<DateTime<Utc>, WebhookError> {
        self.opt_time(key, format)?
            .ok_or_else(|| self.error(key, "is missing"))
    }

    fn currency(&self, key: &str) -> Result<Currency, WebhookError> {
        let code = self.text(key)?;
        Currency::parse(&code).map_err(|err| self.error(key, err))
    }

    /// An amount in minor units; a JSON string or number.
    fn opt_amount(&self, key: &str, currency: Currency) -> Result<Option<i64>, WebhookError> {
        self.get(key)
            .map(|value| parse_json_amount(value, currency))
            .transpose()
            .map_err(WebhookError::from)
    }

    fn amount(&self, key: &str, currency: Currency) -> Result<i64, WebhookError> {
        self.opt_amount(key, currency)?
            .ok_or_else(|| self.error(key, "is missing"))
    }

    fn opt_object(&self, key: &str) -> Result<Option<Fields<'a>>, WebhookError> {
        self.get(key)
            .map(|value| Fields::at(value, self.path_of(key)))
            .transpose()
    }

    fn object(&self, key: &str) -> Result<Fields<'a>, WebhookError> {
        self.opt_object(key)?
            .ok_or_else(|| self.error(key, "is missing"))
    }

    /// The objects of an array; a missing array is an empty one.
    fn list(&self, key: &str) -> Result<Vec<Fields<'a>>, WebhookError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| Fields::at(item, format!("{}[{index}]", self.path_of(key))))
                .collect(),
            Some(_) => Err(self.error(key, "must be an array")),
        }
    }
}

/// The value of the first `{name, value}` entry (Shopify properties and note attributes,
/// WooCommerce `{key, value}` meta data) whose name `wanted` accepts. Entries that are not of
/// that shape are skipped: they belong to other plugins.
fn named_value<'a>(
    entries: &[Fields<'a>],
    name_key: &str,
    wanted: impl Fn(&str) -> bool,
) -> Option<&'a Value> {
    entries.iter().find_map(|entry| match entry.get(name_key) {
        Some(Value::String(name)) if wanted(name) => entry.get("value"),
        _ => None,
    })
}

/// A batch (lot) number's field name, as merchants spell it: `batch`, `Batch`, `lot`,
/// `batch_number`, `Batch Number`, `lot-number`, `_batch` (Shopify hides underscored line
/// properties from the customer).
fn is_batch_name(name: &str) -> bool {
    let normalised: String = name
        .trim()
        .trim_start_matches('_')
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    matches!(
        normalised.as_str(),
        "batch" | "lot" | "batch_number" | "lot_number"
    )
}

/// The name under which checkout records the opened-cosmetics exclusion consent.
fn is_consent_name(name: &str) -> bool {
    name.trim().eq_ignore_ascii_case("opened_exclusion_consent")
}

/// A checkbox's "yes" as checkouts record it: `true`, `yes`, `1` or a ticked HTML checkbox's
/// default `on`, in any case; JSON `true` and `1` too.
fn is_affirmative(value: &Value) -> bool {
    match value {
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_u64() == Some(1),
        Value::String(text) => matches!(
            text.trim().to_ascii_lowercase().as_str(),
            "true" | "yes" | "1" | "on"
        ),
        _ => false,
    }
}

/// Text of a `{name, value}` entry's value (a batch may be typed as a number).
fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.trim().to_string()).filter(|text| !text.is_empty()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The store identity the caller took from a header; it keys the order, so it must be there.
fn store_identity(header: &str, raw: &str) -> Result<String, WebhookError> {
    let store = raw.trim();
    if store.is_empty() {
        Err(malformed(header, "is missing"))
    } else {
        Ok(store.to_string())
    }
}

/// `unit x quantity`, refusing overflow.
fn line_gross(unit_minor: i64, quantity: u32) -> Result<i64, WebhookError> {
    unit_minor
        .checked_mul(i64::from(quantity))
        .ok_or_else(|| MoneyError::Overflow(format!("{unit_minor} x {quantity}")).into())
}

/// Sum of minor amounts, refusing overflow.
fn total(amounts: impl IntoIterator<Item = i64>) -> Result<i64, WebhookError> {
    amounts
        .into_iter()
        .try_fold(0_i64, i64::checked_add)
        .ok_or_else(|| MoneyError::Overflow("sum of amounts".to_string()).into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const FOX: &[u8] = b"The quick brown fox jumps over the lazy dog";
    const FOX_SIGNATURE: &str = "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=";

    #[test]
    fn signs_the_known_vector() {
        assert_eq!(sign(b"key", FOX), FOX_SIGNATURE);
        assert!(verify_signature(b"key", FOX, FOX_SIGNATURE));
    }

    #[test]
    fn a_one_byte_change_in_body_or_secret_fails() {
        let mut body = FOX.to_vec();
        body[4] ^= 0x01;
        assert!(!verify_signature(b"key", &body, FOX_SIGNATURE));
        assert!(!verify_signature(b"kez", FOX, FOX_SIGNATURE));
        assert!(!verify_signature(b"key ", FOX, FOX_SIGNATURE));
        assert!(!verify_signature(
            b"key",
            &FOX[..FOX.len() - 1],
            FOX_SIGNATURE
        ));
    }

    #[test]
    fn empty_truncated_and_undecodable_signatures_fail() {
        for bad in [
            "",
            "   ",
            "not base64!",
            "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg",
            "97yD9DBThCSxMpjmqm-xQ-9NWaFJRhdZl0edvC0aPNg=",
            "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0a",
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
        ] {
            assert!(!verify_signature(b"key", FOX, bad), "{bad:?}");
        }
    }

    #[test]
    fn whitespace_around_the_signature_is_tolerated() {
        assert!(verify_signature(
            b"key",
            FOX,
            &format!("  {FOX_SIGNATURE}\r\n")
        ));
    }

    #[test]
    fn platforms_serialise_in_snake_case() {
        assert_eq!(
            serde_json::to_value(Platform::WooCommerce).unwrap(),
            json!("woocommerce")
        );
        assert_eq!(Platform::Shopify.as_str(), "shopify");
        assert_eq!(Platform::Generic.to_string(), "generic");
        assert_eq!(
            serde_json::from_value::<Platform>(json!("woocommerce")).unwrap(),
            Platform::WooCommerce
        );
    }

    #[test]
    fn events_serialise_with_a_tag() {
        let ignored = StorefrontEvent::Ignored {
            topic: "customers/create".into(),
        };
        let value = serde_json::to_value(&ignored).unwrap();
        assert_eq!(
            value,
            json!({"event": "ignored", "topic": "customers/create"})
        );
        assert_eq!(
            serde_json::from_value::<StorefrontEvent>(value).unwrap(),
            ignored
        );
    }

    #[test]
    fn batch_names_as_merchants_spell_them() {
        for name in [
            "batch",
            "Batch",
            "LOT",
            "batch_number",
            "Batch Number",
            "lot-number",
            "_batch",
        ] {
            assert!(is_batch_name(name), "{name}");
        }
        for name in ["batches", "engraving", "lottery", ""] {
            assert!(!is_batch_name(name), "{name}");
        }
    }

    #[test]
    fn affirmative_values() {
        for yes in [
            json!("true"),
            json!("Yes"),
            json!("1"),
            json!(" on "),
            json!(true),
            json!(1),
        ] {
            assert!(is_affirmative(&yes), "{yes}");
        }
        for no in [
            json!("false"),
            json!("no"),
            json!("0"),
            json!(""),
            json!(false),
            json!(0),
            json!(null),
        ] {
            assert!(!is_affirmative(&no), "{no}");
        }
    }

    #[test]
    fn fields_name_the_path_in_errors() {
        let payload = json!({"line_items": [{"quantity": 1}, {"quantity": -1}]});
        let root = Fields::root(&payload).unwrap();
        let lines = root.list("line_items").unwrap();
        assert_eq!(lines[0].quantity("quantity"), Ok(1));
        assert_eq!(
            lines[1].quantity("quantity"),
            Err(WebhookError::Malformed(
                "line_items[1].quantity: must be a whole number of units".into()
            ))
        );
        assert_eq!(
            lines[0].text("sku"),
            Err(WebhookError::Malformed(
                "line_items[0].sku: is missing".into()
            ))
        );
    }

    #[test]
    fn ids_are_text_or_integers() {
        let payload =
            json!({"a": 820982911946154508_u64, "b": " 727 ", "c": 1.5, "d": "", "e": null});
        let root = Fields::root(&payload).unwrap();
        assert_eq!(root.id("a").unwrap(), "820982911946154508");
        assert_eq!(root.id("b").unwrap(), "727");
        assert!(root.id("c").is_err());
        assert_eq!(root.opt_id("d"), Ok(None));
        assert_eq!(root.opt_id("e"), Ok(None));
    }

    #[test]
    fn timestamps() {
        let payload = json!({
            "offset": "2026-11-11T16:30:00+08:00",
            "naive": "2026-11-11T08:30:00",
            "fraction": "2026-11-11T08:30:00.250",
            "bad": "11/11/2026",
        });
        let root = Fields::root(&payload).unwrap();
        let expected: DateTime<Utc> = "2026-11-11T08:30:00Z".parse().unwrap();
        assert_eq!(root.time("offset", Timestamps::Rfc3339), Ok(expected));
        assert_eq!(root.time("offset", Timestamps::NaiveUtc), Ok(expected));
        assert_eq!(root.time("naive", Timestamps::NaiveUtc), Ok(expected));
        assert!(root.time("naive", Timestamps::Rfc3339).is_err());
        assert_eq!(
            root.time("fraction", Timestamps::NaiveUtc)
                .unwrap()
                .timestamp_millis(),
            expected.timestamp_millis() + 250
        );
        assert!(root.time("bad", Timestamps::NaiveUtc).is_err());
        assert!(
            root.opt_time("missing", Timestamps::NaiveUtc)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn not_json_and_not_an_object_are_malformed() {
        assert!(
            matches!(json_body(b"{"), Err(WebhookError::Malformed(m)) if m.starts_with("body: not JSON"))
        );
        assert_eq!(
            json_body(b"[1, 2]"),
            Err(WebhookError::Malformed("body: not a JSON object".into()))
        );
    }
}
