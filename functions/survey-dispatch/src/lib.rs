//! Survey dispatch: satisfaction surveys from due to answered.
//!
//! - `SurveySweepSchedule` ([`sweep`]): queries the `surveys-due` index (one Query per shard)
//!   for the surveys due at the scheduled event's time, puts one [`SurveyDue`] message per
//!   survey on `surveys-due` (10 per SendMessageBatch), and only then takes them out of the
//!   index. A crash in between queues them again on the next run; the dispatcher is idempotent.
//! - The `surveys-due` queue ([`dispatch`]): sends each survey once per case and channel (the
//!   e-mail through SES, the store's signed webhook), reporting failed messages in
//!   `batchItemFailures`, so they are retried and finally moved to the DLQ without redelivering
//!   the rest of their batch.
//! - HTTP API routes ([`routes`], no login but the last): `GET /surveys/{token}`,
//!   `POST /surveys/{token}`, `POST /surveys/{token}/opt-out` and, for customers,
//!   `PUT /customers/me/survey-preference`.
//!
//! [`SurveyDue`]: aftercare::survey::SurveyDue

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aftercare::api::HttpRequest;
use aftercare::aws_calls::AwsCallCounter;
use aftercare::clock::{Clock, SystemClock};
use aftercare::config::{self, ConfigError, WebhookSecrets};
use aftercare::store::{DynamoSurveyStore, SurveyStore};
use aftercare::survey::{SurveyBaseUrl, SurveyWebhookTargets};
use aftercare::trigger::Trigger;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use tracing::Instrument;

pub mod delivery;
pub mod dispatch;
pub mod routes;
pub mod sweep;

use delivery::{DueQueue, HyperHooks, SesMail, SqsDueQueue, SurveyHooks, SurveyMail};

/// What the function reads, writes and sends through: the AWS adapters when deployed.
pub trait Ports {
    type Surveys: SurveyStore;
    type Mail: SurveyMail;
    type Hooks: SurveyHooks;
    type Queue: DueQueue;
    type Clock: Clock;
}

/// The ports of the deployed function.
pub struct Aws;

impl Ports for Aws {
    type Surveys = DynamoSurveyStore;
    type Mail = SesMail;
    type Hooks = HyperHooks;
    type Queue = SqsDueQueue;
    type Clock = SystemClock;
}

/// The function's dependencies, built once per Lambda instance.
pub struct SurveyDispatch<P: Ports> {
    pub surveys: P::Surveys,
    pub mail: P::Mail,
    pub hooks: P::Hooks,
    pub queue: P::Queue,
    pub clock: P::Clock,
    /// Where survey links point (`SurveyBaseUrl`).
    pub base_url: SurveyBaseUrl,
    /// The stores that announce surveys themselves (`SurveyWebhookUrls`).
    pub webhook_targets: SurveyWebhookTargets,
    /// The stores' webhook secrets: a store's survey webhook is signed with its own.
    pub webhook_secrets: WebhookSecrets,
    /// The AWS calls of the invocation under way (one at a time per instance).
    pub aws_calls: AwsCallCounter,
}

fn invalid(name: &'static str, reason: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.to_string(),
    }
}

impl SurveyDispatch<Aws> {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let surveys_table = config::required("SURVEYS_TABLE")?;
        let customers_table = config::required("CUSTOMERS_TABLE")?;
        let orders_table = config::required("ORDERS_TABLE")?;
        let metrics_table = config::required("METRICS_TABLE")?;
        let queue_url = config::required("SURVEYS_DUE_QUEUE_URL")?;
        let sender = config::required("SURVEY_SENDER_ADDRESS")?;
        let base_url = SurveyBaseUrl::parse(&config::required("SURVEY_BASE_URL")?)
            .map_err(|e| invalid("SURVEY_BASE_URL", e))?;
        let webhook_targets =
            SurveyWebhookTargets::parse(&std::env::var("SURVEY_WEBHOOK_URLS").unwrap_or_default())
                .map_err(|e| invalid("SURVEY_WEBHOOK_URLS", e))?;
        let webhook_secrets = WebhookSecrets::from_env()?;
        // A store whose webhook cannot be signed is a deployment mistake: refuse to start.
        if let Some((platform, store)) = webhook_targets
            .stores()
            .find(|(platform, store)| webhook_secrets.secret_for(*platform, store).is_none())
        {
            return Err(invalid(
                "SURVEY_WEBHOOK_URLS",
                format!("{platform}:{store} has no webhook secret in WEBHOOK_SECRETS"),
            ));
        }
        let aws = config::aws().await;
        let aws_calls = AwsCallCounter::default();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&aws)
                .interceptor(aws_calls.clone())
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&aws)
                .interceptor(aws_calls.clone())
                .build(),
        );
        let ses = aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(&aws)
                .interceptor(aws_calls.clone())
                .build(),
        );
        Ok(SurveyDispatch {
            surveys: DynamoSurveyStore::new(
                dynamodb,
                surveys_table,
                customers_table,
                orders_table,
                metrics_table,
            ),
            mail: SesMail::new(ses, sender),
            hooks: HyperHooks::new(),
            queue: SqsDueQueue::new(sqs, queue_url),
            clock: SystemClock,
            base_url,
            webhook_targets,
            webhook_secrets,
            aws_calls,
        })
    }
}

/// The Lambda entrypoint: the survey routes, the surveys-due queue and the sweep's schedule.
pub async fn handle<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let span = tracing::info_span!("survey_dispatch", request_id = %event.context.request_id);
    let stop_by = stop_by(event.context.deadline);
    async move {
        dispatch.aws_calls.reset();
        match Trigger::parse(event.payload)? {
            Trigger::Http(request) => {
                let response = routes::respond(dispatch, &request).await;
                tracing::info!(
                    route = HttpRequest(&request).route_key(),
                    status = response.status_code,
                    aws_calls = dispatch.aws_calls.total(),
                    "answered"
                );
                Ok(serde_json::to_value(response)?)
            }
            Trigger::Sqs(batch) => Ok(serde_json::to_value(
                dispatch::dispatch_batch(dispatch, batch).await,
            )?),
            Trigger::EventBridge(scheduled) => {
                let at = scheduled.time.unwrap_or_else(|| dispatch.clock.now());
                Ok(serde_json::to_value(
                    sweep::sweep(dispatch, at, stop_by).await?,
                )?)
            }
            other => Err(format!(
                "survey-dispatch answers survey routes, its queue and its sweep, not {} events",
                other.kind()
            )
            .into()),
        }
    }
    .instrument(span)
    .await
}

/// How close to its timeout a run stops starting new work.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(5);

/// When a run must stop starting new work: the invocation's deadline (epoch milliseconds)
/// less the safety margin.
fn stop_by(deadline_ms: u64) -> SystemTime {
    (UNIX_EPOCH + Duration::from_millis(deadline_ms))
        .checked_sub(SAFETY_MARGIN)
        .unwrap_or(UNIX_EPOCH)
}
