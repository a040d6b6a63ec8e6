//! What a function is configured with: only the environment variables the template gives it
//! (plus the SDK's own, such as `AWS_REGION`, and `AWS_ENDPOINT_URL` for the local twin).

use chrono::Duration;

use crate::business_calendar::SlaCalendars;
use crate::case::Queue;
use crate::sla::{SlaPolicy, SlaTargets};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "environment variable {0} is not set; the template sets it for every function that needs it"
    )]
    Missing(&'static str),
    #[error("environment variable {name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A required variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

fn minutes(name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(raw) => raw
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|m| (1..=60 * 24 * 60).contains(m))
            .map(Duration::minutes)
            .ok_or_else(|| ConfigError::Invalid {
                name,
                reason: format!("{raw:?} is not a number of minutes from 1 to 86400"),
            }),
    }
}

/// The refund policy from the template's `RefundAutoApprovalLimits`,
/// `RefundSecondApproverLimits` and `RefundBlockedCustomers` (format in
/// [`crate::refund::RefundPolicy::parse`]). With both limit variables unset, the documented
/// defaults: auto-approval up to CNY 200.00, a second approver above CNY 2,000.00.
pub fn refund_policy() -> Result<crate::refund::RefundPolicy, ConfigError> {
    let read = |name| std::env::var(name).unwrap_or_default();
    let (auto, second, blocked) = (
        read("REFUND_AUTO_APPROVAL_LIMITS"),
        read("REFUND_SECOND_APPROVER_LIMITS"),
        read("REFUND_BLOCKED_CUSTOMERS"),
    );
    let mut policy = if auto.trim().is_empty() && second.trim().is_empty() {
        crate::refund::RefundPolicy::default()
    } else {
        crate::refund::RefundPolicy::parse(&auto, &second, "").map_err(|e| {
            ConfigError::Invalid {
                name: "REFUND_AUTO_APPROVAL_LIMITS",
                reason: e.to_string(),
            }
        })?
    };
    policy.blocked_customers =
        crate::refund::policy::parse_block_list(&blocked).map_err(|e| ConfigError::Invalid {
            name: "REFUND_BLOCKED_CUSTOMERS",
            reason: e.to_string(),
        })?;
    Ok(policy)
}

/// SLA targets from the template's parameters, defaulting to the promise of 1 h / 24 h (normal)
/// and 15 min / 4 h (urgent).
pub fn sla_policy() -> Result<SlaPolicy, ConfigError> {
    let default = SlaPolicy::default();
    Ok(SlaPolicy {
        normal: SlaTargets {
            first_response: minutes(
                "SLA_NORMAL_FIRST_RESPONSE_MINUTES",
                default.normal.first_response,
            )?,
            resolution: minutes("SLA_NORMAL_RESOLUTION_MINUTES", default.normal.resolution)?,
        },
        urgent: SlaTargets {
            first_response: minutes(
                "SLA_URGENT_FIRST_RESPONSE_MINUTES",
                default.urgent.first_response,
            )?,
            resolution: minutes("SLA_URGENT_RESOLUTION_MINUTES", default.urgent.resolution)?,
        },
        calendars: sla_calendars()?,
    })
}

/// Business calendars per queue from `SLA_CALENDARS` (the template's `SlaCalendars`
/// parameter; format in [`crate::business_calendar`]). Unset or empty: around the clock. A
/// calendar naming a queue that does not exist is refused, so a typo cannot silently leave a
/// queue around the clock.
fn sla_calendars() -> Result<SlaCalendars, ConfigError> {
    let raw = std::env::var("SLA_CALENDARS").unwrap_or_default();
    let invalid = |reason: String| ConfigError::Invalid {
        name: "SLA_CALENDARS",
        reason,
    };
    let calendars = SlaCalendars::parse(&raw).map_err(|e| invalid(e.to_string()))?;
    if let Some(unknown) = calendars.queues().find(|name| Queue::named(name).is_none()) {
        return Err(invalid(format!(
            "no queue is called `{unknown}` (queues: service, expert)"
        )));
    }
    Ok(calendars)
}

/// How long one attempt of an AWS call may take before the SDK gives up on it and retries,
/// unless `AWS_ATTEMPT_TIMEOUT_MS` says otherwise (the template's `AwsAttemptTimeoutMillis`).
///
/// Without it a call whose connection hangs waits until the Lambda's own timeout kills the whole
/// invocation. DynamoDB and SQS answer in milliseconds; 3 s also covers S3 moving a 10 MB photo
/// within the region. A timed-out write may still have happened: every write is conditional or
/// idempotent, so its retry finds it done (the fault-injection test holds calls past this).
pub const DEFAULT_AWS_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Opening a connection to an AWS endpoint: a healthy one is there in milliseconds.
pub const AWS_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// The attempt timeout `AWS_ATTEMPT_TIMEOUT_MS` names, or the default when it is unset. The
/// template bounds the value (100 to 60,000), so anything else is a hand-made environment.
pub fn aws_attempt_timeout() -> Result<std::time::Duration, ConfigError> {
    match std::env::var("AWS_ATTEMPT_TIMEOUT_MS") {
        Err(_) => Ok(DEFAULT_AWS_ATTEMPT_TIMEOUT),
        Ok(raw) => raw
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|millis| (100..=60_000).contains(millis))
            .map(std::time::Duration::from_millis)
            .ok_or(ConfigError::Invalid {
                name: "AWS_ATTEMPT_TIMEOUT_MS",
                reason: format!("{raw:?} is not a number of milliseconds from 100 to 60000"),
            }),
    }
}

/// The one SDK configuration a function builds its clients from, once, at init: the default
/// chain (region, credentials, endpoint), standard retries (3 attempts with backoff), and the
/// timeouts above. An invalid `AWS_ATTEMPT_TIMEOUT_MS` is logged and the default used: a
/// function that cannot reach AWS at all would be worse than one with the usual bound.
pub async fn aws() -> aws_config::SdkConfig {
    let attempt = aws_attempt_timeout().unwrap_or_else(|err| {
        tracing::error!(error = %err, "using the default AWS attempt timeout");
        DEFAULT_AWS_ATTEMPT_TIMEOUT
    });
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(AWS_CONNECT_TIMEOUT)
                .operation_attempt_timeout(attempt)
                .build(),
        )
        .load()
        .await
}

/// The secrets storefronts sign their webhooks with, one per store, from `WEBHOOK_SECRETS`:
/// `{"shopify": {"brand.myshopify.com": "..."}, "woocommerce": {"shop.example.com": "..."},
/// "generic": {"<source id>": "..."}}`. A `"*"` entry serves any store of that platform (the
/// local twin's development secrets use it). In AWS the template fills the variable from a
/// Secrets Manager secret; it is never in the repository or the template.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSecrets {
    #[serde(default)]
    shopify: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    woocommerce: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    generic: std::collections::BTreeMap<String, String>,
}

impl WebhookSecrets {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let secrets: WebhookSecrets =
            serde_json::from_str(raw).map_err(|e| ConfigError::Invalid {
                name: "WEBHOOK_SECRETS",
                reason: format!("not the documented JSON document ({e})"),
            })?;
        let all = secrets
            .shopify
            .values()
            .chain(secrets.woocommerce.values())
            .chain(secrets.generic.values());
        if all.clone().any(|secret| secret.len() < 12) {
            return Err(ConfigError::Invalid {
                name: "WEBHOOK_SECRETS",
                reason: "every secret needs at least 12 characters".into(),
            });
        }
        Ok(secrets)
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::parse(&required("WEBHOOK_SECRETS")?)
    }

    /// The secret of one store (its key as [`crate::order::store_key`] writes it), else the
    /// platform's `"*"` secret.
    pub fn secret_for(&self, platform: crate::storefront::Platform, store: &str) -> Option<&[u8]> {
        use crate::storefront::Platform;
        let secrets = match platform {
            Platform::Shopify => &self.shopify,
            Platform::WooCommerce => &self.woocommerce,
            Platform::Generic => &self.generic,
        };
        let store = crate::order::store_key(store);
        secrets
            .iter()
            .find(|(name, _)| crate::order::store_key(name) == store)
            .or_else(|| secrets.get_key_value("*"))
            .map(|(_, secret)| secret.as_bytes())
    }
}

/// The system CA bundles, Amazon Linux 2023 (Lambda's `provided.al2023`) first.
const CA_BUNDLES: [&str; 2] = [
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
];

/// Points `SSL_CERT_FILE` at the system's CA bundle when nothing set it, so the SDK's TLS
/// setup reads that one file instead of also scanning the certificate directory file by file:
/// that scan was 2.4 ms of a 6 ms cold start. The trusted roots are the same.
///
/// Call it first thing in `main`, before the runtime starts any thread.
pub fn prefer_ca_bundle() {
    if std::env::var_os("SSL_CERT_FILE").is_some() {
        return;
    }
    if let Some(bundle) = CA_BUNDLES
        .iter()
        .find(|path| std::path::Path::new(path).is_file())
    {
        // SAFETY: called at the start of `main`, while the process has a single thread.
        unsafe { std::env::set_var("SSL_CERT_FILE", bundle) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storefront::Platform;

    #[test]
    fn webhook_secrets_by_store_then_wildcard() {
        let secrets = WebhookSecrets::parse(
            r#"{"shopify": {"brand.myshopify.com": "shopify-brand-secret-1", "*": "shopify-any-store-secret"},
                "woocommerce": {"https://shop.example.com/": "woo-shop-example-secret"}}"#,
        )
        .unwrap();
        assert_eq!(
            secrets.secret_for(Platform::Shopify, "Brand.myshopify.com"),
            Some(&b"shopify-brand-secret-1"[..])
        );
        assert_eq!(
            secrets.secret_for(Platform::Shopify, "other.myshopify.com"),
            Some(&b"shopify-any-store-secret"[..])
        );
        assert_eq!(
            secrets.secret_for(Platform::WooCommerce, "shop.example.com"),
            Some(&b"woo-shop-example-secret"[..])
        );
        assert_eq!(
            secrets.secret_for(Platform::WooCommerce, "elsewhere.example.com"),
            None
        );
        assert_eq!(secrets.secret_for(Platform::Generic, "site"), None);
    }

    #[test]
    fn refuses_short_secrets_and_unknown_platforms() {
        assert!(WebhookSecrets::parse(r#"{"shopify": {"*": "short"}}"#).is_err());
        assert!(WebhookSecrets::parse(r#"{"magento": {}}"#).is_err());
        assert!(WebhookSecrets::parse("not json").is_err());
    }
}
