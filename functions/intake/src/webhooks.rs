//! Storefront webhooks: `POST /webhooks/shopify`, `/webhooks/woocommerce`, `/webhooks/generic`.
//!
//! Each is authenticated by its HMAC-SHA256 signature over the raw body (constant-time
//! comparison), with the secret of the store that sent it; a missing or wrong signature gets
//! 401 and nothing is written. A redelivery (same event id) or a delivery older than what is
//! stored answers 200 and changes nothing, so storefront retries are always safe. Unknown
//! fields are tolerated: storefronts add fields.

use aftercare::api::{ApiError, HttpRequest, json_response};
use aftercare::clock::Clock;
use aftercare::idempotency::{
    IdempotencyRecord, WEBHOOK_KEY_LIFETIME, payload_hash, webhook_record_key,
};
use aftercare::order::store_key;
use aftercare::store::{CaseStore, CatalogueStore, IdempotencyStore, OrderStore, WebhookOutcome};
use aftercare::storefront::{
    Platform, StorefrontEvent, WebhookError, generic, shopify, verify_signature, woocommerce,
};
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde::Serialize;

use crate::Intake;

#[derive(Serialize)]
struct Receipt<'a> {
    /// `applied`, `duplicate`, `stale` or `ignored`.
    status: &'a str,
}

fn receipt(status: &str) -> ApiGatewayV2httpResponse {
    json_response(200, &Receipt { status })
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(401, "invalid_signature", message)
}

fn malformed(err: WebhookError) -> ApiError {
    ApiError::new(
        400,
        "malformed_webhook",
        format!("The webhook could not be read: {err}."),
    )
}

fn required<'a>(http: &HttpRequest<'a>, header: &str) -> Result<&'a str, ApiError> {
    http.header(header)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "missing_header",
                format!("The webhook needs the {header} header."),
            )
        })
}

/// Checks the signature of `body` with the store's secret.
fn authenticate<S, I, O, K, C>(
    intake: &Intake<S, I, O, K, C>,
    platform: Platform,
    store: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), ApiError> {
    let signature = signature.ok_or_else(|| unauthorized("The webhook is not signed."))?;
    let secret = intake
        .webhook_secrets
        .secret_for(platform, store)
        .ok_or_else(|| unauthorized("No secret is configured for this store."))?;
    if verify_signature(secret, body, signature) {
        Ok(())
    } else {
        tracing::warn!(platform = %platform, "webhook signature mismatch");
        Err(unauthorized(
            "The webhook signature does not match its body.",
        ))
    }
}

pub async fn shopify<
    S: CaseStore,
    I: IdempotencyStore,
    O: OrderStore,
    K: CatalogueStore,
    C: Clock,
>(
    intake: &Intake<S, I, O, K, C>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let body = http.body_bytes()?;
    let shop = http
        .header("x-shopify-shop-domain")
        .map(str::trim)
        .unwrap_or_default();
    authenticate(
        intake,
        Platform::Shopify,
        shop,
        http.header("x-shopify-hmac-sha256"),
        &body,
    )?;
    let topic = required(http, "x-shopify-topic")?;
    // The event id repeats on every redelivery of one event; the webhook id too.
    let event_id = http
        .header("x-shopify-event-id")
        .or_else(|| http.header("x-shopify-webhook-id"))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "missing_header",
                "The webhook needs X-Shopify-Event-Id or X-Shopify-Webhook-Id.",
            )
        })?;
    let triggered_at = http
        .header("x-shopify-triggered-at")
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.to_utc());
    let event =
        shopify::parse_with_triggered_at(topic, shop, triggered_at, &body).map_err(malformed)?;
    apply(intake, Platform::Shopify, shop, event_id, &body, event).await
}

pub async fn woocommerce<
    S: CaseStore,
    I: IdempotencyStore,
    O: OrderStore,
    K: CatalogueStore,
    C: Clock,
>(
    intake: &Intake<S, I, O, K, C>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let body = http.body_bytes()?;
    // WooCommerce checks a new webhook with an unsigned ping and disables webhooks that fail.
    if woocommerce::is_ping(http.header("content-type"), &body) {
        return Ok(receipt("ignored"));
    }
    let source = http
        .header("x-wc-webhook-source")
        .map(str::trim)
        .unwrap_or_default();
    authenticate(
        intake,
        Platform::WooCommerce,
        source,
        http.header("x-wc-webhook-signature"),
        &body,
    )?;
    let topic = required(http, "x-wc-webhook-topic")?;
    let event = woocommerce::parse(topic, source, &body).map_err(malformed)?;
    // A delivery id is new on every delivery, so deduplicate on the resource and its version.
    let event_id = match &event {
        StorefrontEvent::Order(order) => format!(
            "order-{}-{}",
            order.order_id,
            order.source_updated_at.timestamp_millis()
        ),
        _ => required(http, "x-wc-webhook-delivery-id")?.to_owned(),
    };
    apply(
        intake,
        Platform::WooCommerce,
        source,
        &event_id,
        &body,
        event,
    )
    .await
}

pub async fn generic<
    S: CaseStore,
    I: IdempotencyStore,
    O: OrderStore,
    K: CatalogueStore,
    C: Clock,
>(
    intake: &Intake<S, I, O, K, C>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let body = http.body_bytes()?;
    let source = http
        .header("x-aftercare-source")
        .map(str::trim)
        .unwrap_or_default();
    authenticate(
        intake,
        Platform::Generic,
        source,
        http.header("x-aftercare-signature"),
        &body,
    )?;
    let delivery = generic::parse_delivery(&body).map_err(malformed)?;
    if store_key(&delivery.source) != store_key(source) {
        return Err(ApiError::new(
            400,
            "malformed_webhook",
            "The body's source differs from the X-Aftercare-Source header that chose the secret.",
        ));
    }
    apply(
        intake,
        Platform::Generic,
        source,
        &delivery.event_id,
        &body,
        delivery.event,
    )
    .await
}

/// Records one authenticated event with its idempotency record.
async fn apply<S: CaseStore, I: IdempotencyStore, O: OrderStore, K: CatalogueStore, C: Clock>(
    intake: &Intake<S, I, O, K, C>,
    platform: Platform,
    store: &str,
    event_id: &str,
    body: &[u8],
    event: StorefrontEvent,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let now = intake.clock.now();
    let key = IdempotencyRecord {
        key: webhook_record_key(platform.as_str(), &store_key(store), event_id),
        payload_hash: payload_hash(body),
        response: None,
        recorded_at: now,
        expires_at: now + WEBHOOK_KEY_LIFETIME,
    };
    let outcome = match &event {
        StorefrontEvent::Order(order) => intake.orders.record_order(order, &key).await?,
        StorefrontEvent::Delivered(delivery) => {
            intake
                .orders
                .record_delivery(platform, store, delivery, &key)
                .await?
        }
        StorefrontEvent::Refund(refund) => {
            intake
                .orders
                .record_refund(platform, store, refund, &key)
                .await?
        }
        StorefrontEvent::ReturnRequested(_) => {
            return Err(ApiError::new(
                501,
                "not_implemented",
                "Return requests are not handled yet; the storefront will retry.",
            ));
        }
        StorefrontEvent::Ignored { topic } => {
            tracing::info!(platform = %platform, %topic, "webhook topic ignored");
            return Ok(receipt("ignored"));
        }
    };
    let status = match outcome {
        WebhookOutcome::Applied => "applied",
        WebhookOutcome::Duplicate => "duplicate",
        WebhookOutcome::Stale => "stale",
    };
    tracing::info!(platform = %platform, status, "webhook recorded");
    Ok(receipt(status))
}
