//! Aftercare's domain crate.
//!
//! - Pure rules, no I/O: [`case`], [`sla`], [`auth`] (who may do what).
//! - The edge every function shares: [`api`] (API Gateway HTTP API requests and error bodies),
//!   [`trigger`] (which AWS event a function was invoked with), [`telemetry`].
//! - Ports and their AWS adapters: [`store`]; [`config`] reads what the template gives a function.
//!
//! Data flows one way: trigger -> entrypoint (parse, authorise) -> domain decision -> adapter
//! writes -> response. Domain modules never see an SDK type; adapters never decide policy.

pub mod api;
pub mod assessment;
pub mod auth;
pub mod aws_calls;
pub mod business_calendar;
pub mod case;
pub mod catalogue;
pub mod classify;
pub mod clock;
pub mod complaint;
pub mod config;
pub mod customer;
pub mod escalation;
pub mod evidence;
pub mod idempotency;
pub mod metrics;
pub mod money;
pub mod notifications;
pub mod order;
pub mod photo;
pub mod quality_alert;
pub mod refund;
pub mod remedy;
pub mod response_times;
pub mod service_levels;
pub mod sla;
pub mod store;
pub mod storefront;
pub mod survey;
pub mod telemetry;
mod timezone;
pub mod trigger;
pub mod workflow;
