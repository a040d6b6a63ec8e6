//! Idempotent triggers: a retried POST with the same `Idempotency-Key` and body gets the first
//! answer again; the same key with another body is refused (422); a redelivered webhook changes
//! nothing. The semantics of the Powertools idempotency utility, small: the record is written in
//! the same transaction as the change it guards, so it can never say "done" for a change that
//! was not made, nor miss one that was.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::case::InvalidField;

/// How long a request's key is remembered: a client retries within minutes, a day is ample.
pub const REQUEST_KEY_LIFETIME: Duration = Duration::hours(24);
/// How long a webhook delivery is remembered: Shopify retries for 4 hours; a week covers
/// manual replays from a storefront's admin too.
pub const WEBHOOK_KEY_LIFETIME: Duration = Duration::days(7);

/// The client's `Idempotency-Key` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let key = raw.trim();
        let valid = !key.is_empty()
            && key.len() <= Self::MAX_LEN
            && key.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(IdempotencyKey(key.to_owned()))
        } else {
            Err(InvalidField {
                field: "Idempotency-Key",
                reason: format!("must be 1 to {} visible ASCII characters", Self::MAX_LEN),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The stored key of a request: scoped to the caller and the route, so two clients (or two
/// routes) can never collide on the same key.
pub fn request_record_key(subject: &str, route: &str, key: &IdempotencyKey) -> String {
    format!("request#{subject}#{route}#{}", key.as_str())
}

/// The stored key of a webhook delivery, by the platform's event id.
pub fn webhook_record_key(platform: &str, store: &str, event_id: &str) -> String {
    format!("webhook#{platform}#{store}#{event_id}")
}

/// A fingerprint of a request body: JSON is compared by meaning (key order and spacing do not
/// matter), anything else byte for byte.
pub fn payload_hash(body: &[u8]) -> String {
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .map(|value| value.to_string().into_bytes())
        .unwrap_or_else(|_| body.to_vec());
    Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The answer given the first time, kept to be given again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedResponse {
    pub status: u16,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// What is remembered of a completed request or delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub key: String,
    pub payload_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<SavedResponse>,
    /// When the guarded change was made; an earlier record under the key that expired by
    /// then may be replaced.
    pub recorded_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What to do with a request whose key was seen before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Same body: answer as the first time.
    Same(Option<SavedResponse>),
    /// Another body under the same key: a client bug, refused.
    DifferentPayload,
    /// The record expired (TTL deletes lazily): treat the request as new.
    Expired,
}

impl IdempotencyRecord {
    pub fn replay(&self, payload_hash: &str, now: DateTime<Utc>) -> Replay {
        if self.expires_at <= now {
            Replay::Expired
        } else if self.payload_hash == payload_hash {
            Replay::Same(self.response.clone())
        } else {
            Replay::DifferentPayload
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_are_bounded_visible_ascii() {
        assert!(IdempotencyKey::parse("7f1c-2b").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(128)).is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(129)).is_err());
        assert!(IdempotencyKey::parse("  ").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("键").is_err());
    }

    #[test]
    fn record_keys_are_scoped_to_caller_and_route() {
        let key = IdempotencyKey::parse("k1").unwrap();
        assert_ne!(
            request_record_key("c-1", "POST /cases", &key),
            request_record_key("c-2", "POST /cases", &key)
        );
        assert_ne!(
            request_record_key("c-1", "POST /cases", &key),
            request_record_key("c-1", "POST /cases/{id}/replies", &key)
        );
    }

    #[test]
    fn json_bodies_hash_by_meaning() {
        assert_eq!(
            payload_hash(br#"{"a":1,"b":[1,2]}"#),
            payload_hash(b"{ \"b\": [1, 2], \"a\": 1 }")
        );
        assert_ne!(payload_hash(br#"{"a":1}"#), payload_hash(br#"{"a":2}"#));
        assert_ne!(payload_hash(b"not json"), payload_hash(b"not json!"));
        assert_eq!(payload_hash(b"").len(), 64);
    }

    #[test]
    fn replays_same_refuses_different_and_forgets_expired() {
        let now = Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap();
        let saved = SavedResponse {
            status: 201,
            body: "{}".into(),
            location: Some("/cases/1".into()),
        };
        let record = IdempotencyRecord {
            key: "k".into(),
            payload_hash: payload_hash(b"{}"),
            response: Some(saved.clone()),
            recorded_at: now,
            expires_at: now + REQUEST_KEY_LIFETIME,
        };
        assert_eq!(
            record.replay(&payload_hash(b"{}"), now),
            Replay::Same(Some(saved))
        );
        assert_eq!(
            record.replay(&payload_hash(b"[]"), now),
            Replay::DifferentPayload
        );
        assert_eq!(
            record.replay(&payload_hash(b"{}"), now + REQUEST_KEY_LIFETIME),
            Replay::Expired
        );
    }
}
