//! Storefront webhooks: `POST /webhooks/shopify`, `/webhooks/woocommerce`, `/webhooks/generic`.
//!
//! Each is authenticated by its HMAC-SHA256 signature over the raw body (constant-time
//! comparison), with the secret of the store that sent it; a missing or wrong signature gets
//! 401 and nothing is written. A redelivery (same event id) or a delivery older than what is
//! stored answers 200 and changes nothing, so storefront retries are always safe. Unknown
//! fields are tolerated: storefronts add fields.

use aftercare::api::{ApiError, HttpRequest, json_response};
use aftercare::assessment::assess;
use aftercare::case::{Case, CaseDraft, Description, NewCaseLine, NewCaseRequest, TimelineEntry};
use aftercare::clock::Clock;
use aftercare::idempotency::{
    IdempotencyRecord, WEBHOOK_KEY_LIFETIME, payload_hash, webhook_record_key,
};
use aftercare::order::{line_item_reference, order_reference, store_key};
use aftercare::store::{CaseStore, OrderStore, StoreError, WebhookOutcome, WrittenWith};
use aftercare::storefront::{
    Platform, ReturnRequest, StorefrontEvent, WebhookError, generic, shopify, verify_signature,
    woocommerce,
};
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde::Serialize;

use crate::{Intake, Ports};

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
fn authenticate<P: Ports>(
    intake: &Intake<P>,
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

pub async fn shopify<P: Ports>(
    intake: &Intake<P>,
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

pub async fn woocommerce<P: Ports>(
    intake: &Intake<P>,
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

pub async fn generic<P: Ports>(
    intake: &Intake<P>,
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

/// A return requested in the storefront opens a case for the returned lines, joined to the
/// earlier order by line item id, on behalf of the order's customer. The case is written in
/// one transaction with the delivery's idempotency record, so a redelivery opens nothing.
async fn open_return_case<P: Ports>(
    intake: &Intake<P>,
    platform: Platform,
    store: &str,
    request: &ReturnRequest,
    key: IdempotencyRecord,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let not_yet = || {
        // The order's own webhook may still be on its way: ask the storefront to retry.
        ApiError::new(
            503,
            "order_not_yet_known",
            "The returned order is not known yet; retry later.",
        )
    };
    let reference = match &request.order_id {
        Some(order_id) => order_reference(platform, store, order_id),
        None => {
            let first = request.lines.first().ok_or_else(|| {
                malformed(WebhookError::Malformed(
                    "the return names no line items".into(),
                ))
            })?;
            intake
                .orders
                .order_of_line_item(&line_item_reference(platform, store, &first.line_item_id))
                .await?
                .ok_or_else(not_yet)?
        }
    };
    let order = intake
        .orders
        .order_file(&reference)
        .await?
        .ok_or_else(not_yet)?;
    let snapshot = order.order.as_ref().ok_or_else(not_yet)?;
    let customer = snapshot.customer_id.clone().ok_or_else(|| {
        ApiError::new(
            422,
            "guest_order",
            "A guest order has no customer to open a case for.",
        )
    })?;
    let mut lines = Vec::new();
    let mut words = Vec::new();
    for returned in &request.lines {
        let line = snapshot
            .lines
            .iter()
            .find(|l| l.line_item_id == returned.line_item_id);
        match line.and_then(|l| l.sku.clone()) {
            Some(sku) => lines.push(NewCaseLine {
                sku,
                quantity: i64::from(returned.quantity),
            }),
            None => tracing::warn!("returned line without a known SKU left out of the case"),
        }
        words.extend(returned.reason.iter().map(|r| r.replace('_', " ")));
        words.extend(
            returned
                .customer_note
                .iter()
                .filter(|n| !n.trim().is_empty())
                .cloned(),
        );
    }
    let description = if words.is_empty() {
        "return requested in the store".to_owned()
    } else {
        words.join(". ")
    };
    let description: String = description.chars().take(Description::MAX_CHARS).collect();
    let draft = CaseDraft::parse(NewCaseRequest {
        order_id: reference.clone(),
        lines,
        description,
        opened: None,
    })?;
    let now = intake.clock.now();
    let products = intake
        .products
        .of_lines(&intake.catalogue, &draft, now)
        .await?;
    // The payload names no customer: their history can only be read once the order is.
    let context = intake
        .orders
        .case_history(&customer)
        .await?
        .complaint_context(now);
    let assessment = assess(&draft, &order, &products, &context, now)?;
    let case = Case::open(draft, &customer, assessment, now, &intake.sla);
    let opened = TimelineEntry {
        at: now,
        actor: format!("storefront:{platform}"),
        action: "opened".into(),
        note: Some(format!(
            "return {} requested in the store",
            request.return_id
        )),
    };
    // Observed in its batches' quality windows like any case; a window another case moved
    // first means observing again.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let observed =
            crate::quality::observe_opening(intake, &case, order.order.as_ref(), now).await?;
        // The service metrics' counters, written with the case.
        let counters = aftercare::metrics::case_counter_changes(None, &observed.case);
        match intake
            .cases
            .open_case(
                &observed.case,
                &opened,
                WrittenWith {
                    idempotency: Some(&key),
                    quality: Some(&observed.observation),
                    counters: &counters,
                    ..WrittenWith::default()
                },
            )
            .await
        {
            Ok(()) => {
                tracing::info!(case_id = %case.id, "case opened from a return request");
                crate::quality::send_raised(intake, &observed.observation.alerts).await;
                return Ok(receipt("applied"));
            }
            Err(StoreError::Stale) if attempts < crate::quality::OBSERVE_ATTEMPTS => continue,
            Err(StoreError::Conflict) => return Ok(receipt("duplicate")),
            Err(err) => return Err(err.into()),
        }
    }
}

/// Records one authenticated event with its idempotency record.
async fn apply<P: Ports>(
    intake: &Intake<P>,
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
        StorefrontEvent::ReturnRequested(request) => {
            return open_return_case(intake, platform, store, request, key).await;
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
