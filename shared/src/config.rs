//! What a function is configured with: only the environment variables the template gives it
//! (plus the SDK's own, such as `AWS_REGION`, and `AWS_ENDPOINT_URL` for the local twin).

use chrono::Duration;

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
    })
}

/// The one SDK configuration a function builds its clients from, once, at init.
pub async fn aws() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
