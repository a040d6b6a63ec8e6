//! The dispatcher: each `surveys-due` message sends its case's survey, exactly once per case
//! and channel.
//!
//! Per message (about four AWS calls):
//! 1. One BatchGetItem reads the customer (opt-out) and the order (e-mail address, locale).
//!    A customer who opted out, or one we cannot reach (no e-mail, no webhook for the store),
//!    settles the survey as `opted_out` / `unreachable` with its counter; nothing is sent.
//! 2. A conditional UpdateItem claims the survey (`claimed_at`), writing each channel's link
//!    token hash unless an earlier attempt delivered that channel, and returns the survey.
//! 3. The e-mail (SES) and the store's signed webhook go out, each unless delivered before.
//! 4. One transaction records what was delivered, releases the claim and counts the survey as
//!    sent the first time something reached the customer. A channel that failed (SES error,
//!    webhook non-2xx or timeout: known not delivered) forgets its token and fails the message,
//!    so SQS retries it (and finally moves it to the DLQ); delivered channels are not sent again.
//!
//! A claim found older than [`CLAIM_LEASE`] belongs to an attempt that ended without a word
//! (crash, timeout): whether it sent anything is unknown, so the survey is settled as
//! `delivery_unknown`, logged at error and counted, and never sent again: the issue asks for
//! no duplicates, and one lost survey is the price.

use aftercare::clock::Clock;
use aftercare::store::{
    Settlement, StoreError, StoredSurvey, SurveyChannel, SurveyClaim, SurveyStore,
};
use aftercare::survey::{
    CLAIM_LEASE, ClaimedElsewhere, DispatchOutcome, SURVEY_LIFETIME, SurveyDue, SurveyEmail,
    SurveyLanguage, SurveyToken, SurveyWebhook, claimed_elsewhere, dispatch_counters, sign_webhook,
};
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use tracing::Instrument;

use crate::delivery::{NotDelivered, SurveyHooks, SurveyMail};
use crate::{Ports, SurveyDispatch};

/// The header that names a delivery (the case id): a receiver deduplicates on it.
pub const DELIVERY_HEADER: &str = "X-Aftercare-Delivery";

/// Why a message is retried.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("unreadable message: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    NotDelivered(#[from] NotDelivered),
    #[error("another attempt is sending this survey")]
    InFlight,
    #[error("no webhook secret for the store of {0}")]
    NoSecret(String),
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Settled now (or a channel retried and settled).
    Settled(DispatchOutcome),
    /// Settled before: a repeated message.
    AlreadySettled,
    /// No such survey.
    Unknown,
}

/// Handles each message; the ones that fail are reported for redelivery.
pub async fn dispatch_batch<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    batch: SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in batch.records {
        match dispatch_message(dispatch, &message).await {
            Ok((case_id, handled)) => {
                tracing::info!(message_id = ?message.message_id, %case_id, ?handled, "survey message done")
            }
            Err(error) => {
                tracing::warn!(message_id = ?message.message_id, %error, "survey message failed");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
    }
    tracing::info!(
        failed = response.batch_item_failures.len(),
        aws_calls = dispatch.aws_calls.total(),
        "survey batch"
    );
    response
}

async fn dispatch_message<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    message: &SqsMessage,
) -> Result<(String, Handled), DispatchError> {
    let body = message
        .body
        .as_deref()
        .ok_or_else(|| DispatchError::Unreadable("no body".into()))?;
    let due: SurveyDue =
        serde_json::from_str(body).map_err(|e| DispatchError::Unreadable(e.to_string()))?;
    let handled = send_survey(dispatch, &due).await?;
    Ok((due.case_id.to_string(), handled))
}

/// Sends one due survey (see the module documentation).
pub async fn send_survey<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    due: &SurveyDue,
) -> Result<Handled, DispatchError> {
    let span = tracing::info_span!("survey", case_id = %due.case_id);
    send_in_span(dispatch, due).instrument(span).await
}

async fn send_in_span<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    due: &SurveyDue,
) -> Result<Handled, DispatchError> {
    let now = dispatch.clock.now();
    let recipient = dispatch
        .surveys
        .recipient(&due.customer_id, &due.order_reference)
        .await?;
    let webhook = dispatch.webhook_targets.for_order(&due.order_reference);
    let unsent = if recipient.opted_out {
        Some(DispatchOutcome::OptedOut)
    } else if recipient.email.is_none() && webhook.is_none() {
        Some(DispatchOutcome::Unreachable)
    } else {
        None
    };
    if let Some(outcome) = unsent {
        let settlement = Settlement {
            outcome: Some(outcome),
            counters: dispatch_counters(&due.case_id, outcome, now),
            ..Settlement::default()
        };
        return match dispatch.surveys.settle(&due.case_id, &settlement).await {
            Ok(()) => Ok(Handled::Settled(outcome)),
            Err(StoreError::Conflict) => claimed_or_settled(dispatch, due, now).await,
            Err(err) => Err(err.into()),
        };
    }

    let language = SurveyLanguage::from_locale(recipient.locale.as_deref());
    let email_token = recipient.email.as_ref().map(|_| fresh_token());
    let webhook_token = webhook.map(|_| fresh_token());
    let claim = SurveyClaim {
        case_id: due.case_id,
        at: now,
        language,
        expires_at: now + SURVEY_LIFETIME,
        email_token: email_token.as_ref().map(SurveyToken::hash),
        webhook_token: webhook_token.as_ref().map(SurveyToken::hash),
    };
    let stored = match dispatch.surveys.claim(&claim).await {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            tracing::warn!("no survey for this case: message dropped");
            return Ok(Handled::Unknown);
        }
        Err(StoreError::Conflict) => return claimed_or_settled(dispatch, due, now).await,
        Err(err) => return Err(err.into()),
    };

    let mut delivered = Vec::new();
    let mut forget = Vec::new();
    let mut failure: Option<DispatchError> = None;
    // The e-mail.
    if let (Some(to), Some(token)) = (&recipient.email, &email_token)
        && !stored.delivered(SurveyChannel::Email)
    {
        if stored.survey.token_hash.as_ref() == Some(&token.hash()) {
            let email = SurveyEmail::render(stored.survey.language(), &dispatch.base_url, token);
            match dispatch.mail.send(to, &email).await {
                Ok(()) => delivered.push((SurveyChannel::Email, now)),
                Err(err) => {
                    forget.push(SurveyChannel::Email);
                    failure = Some(err.into());
                }
            }
        } else {
            tracing::error!("the e-mail link's token is not the claimed one: e-mail skipped");
        }
    }
    // The store's webhook.
    if let (Some((platform, store, url)), Some(token)) = (webhook, &webhook_token)
        && !stored.delivered(SurveyChannel::Webhook)
    {
        match post_webhook(dispatch, &stored, platform, store, url, token).await {
            Ok(()) => delivered.push((SurveyChannel::Webhook, now)),
            Err(err) => {
                forget.push(SurveyChannel::Webhook);
                failure = failure.or(Some(err));
            }
        }
    }

    let delivered_before =
        stored.delivered(SurveyChannel::Email) || stored.delivered(SurveyChannel::Webhook);
    let first_delivery = !delivered_before && !delivered.is_empty();
    let settlement = Settlement {
        claimed_at: Some(now),
        unsend: !delivered_before && delivered.is_empty(),
        outcome: failure.is_none().then_some(DispatchOutcome::Sent),
        counters: if first_delivery {
            dispatch_counters(&due.case_id, DispatchOutcome::Sent, now)
        } else {
            vec![]
        },
        delivered,
        forget_tokens: forget,
    };
    dispatch.surveys.settle(&due.case_id, &settlement).await?;
    match failure {
        Some(err) => Err(err),
        None => Ok(Handled::Settled(DispatchOutcome::Sent)),
    }
}

/// A link token from the operating system's CSPRNG.
fn fresh_token() -> SurveyToken {
    SurveyToken::from_bytes(rand::random())
}

async fn post_webhook<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    stored: &StoredSurvey,
    platform: aftercare::storefront::Platform,
    store: &str,
    url: &str,
    token: &SurveyToken,
) -> Result<(), DispatchError> {
    let secret = dispatch
        .webhook_secrets
        .secret_for(platform, store)
        .ok_or_else(|| DispatchError::NoSecret(stored.survey.order_reference.clone()))?;
    let body = SurveyWebhook::for_survey(&stored.survey, &dispatch.base_url, token)
        .map_err(|refusal| DispatchError::Unreadable(refusal.to_string()))
        .and_then(|webhook| {
            serde_json::to_vec(&webhook).map_err(|e| DispatchError::Unreadable(e.to_string()))
        })?;
    let signature = sign_webhook(secret, &body, dispatch.clock.now());
    let headers = [
        (
            aftercare::survey::message::SIGNATURE_HEADER,
            signature.signature,
        ),
        (
            aftercare::survey::message::TIMESTAMP_HEADER,
            signature.timestamp,
        ),
        (DELIVERY_HEADER, stored.survey.case_id.to_string()),
    ];
    dispatch.hooks.post(url, &headers, body).await?;
    Ok(())
}

/// The survey was claimed or settled by someone else: a repeated message is dropped, an
/// attempt in flight is waited for (the message is retried), and an abandoned claim is
/// settled as `delivery_unknown`.
async fn claimed_or_settled<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    due: &SurveyDue,
    now: DateTime<Utc>,
) -> Result<Handled, DispatchError> {
    let Some(stored) = dispatch.surveys.stored(&due.case_id).await? else {
        return Ok(Handled::Unknown);
    };
    if stored.outcome.is_some() {
        return Ok(Handled::AlreadySettled);
    }
    let Some(claimed_at) = stored.claimed_at else {
        // Released between our write and our read: try again.
        return Err(DispatchError::InFlight);
    };
    match claimed_elsewhere(claimed_at, now) {
        ClaimedElsewhere::InFlight => Err(DispatchError::InFlight),
        ClaimedElsewhere::Abandoned => {
            tracing::error!(
                %claimed_at,
                lease_seconds = CLAIM_LEASE.num_seconds(),
                "a survey attempt ended without reporting: delivery unknown, not sent again"
            );
            let outcome = DispatchOutcome::DeliveryUnknown;
            let settlement = Settlement {
                claimed_at: Some(claimed_at),
                outcome: Some(outcome),
                counters: dispatch_counters(&due.case_id, outcome, now),
                ..Settlement::default()
            };
            match dispatch.surveys.settle(&due.case_id, &settlement).await {
                Ok(()) => Ok(Handled::Settled(outcome)),
                Err(StoreError::Conflict) => Err(DispatchError::InFlight),
                Err(err) => Err(err.into()),
            }
        }
    }
}
