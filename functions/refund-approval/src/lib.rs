//! Refund approval: the finance queue. Finance lists the refunds that wait for a human
//! decision, oldest first (`GET /refunds`); only the `finance` role may.

use aftercare::api::{ApiError, HttpRequest, json_response};
use aftercare::auth::Role;
use aftercare::config::{self, ConfigError};
use aftercare::store::{DynamoRefundStore, PendingRefund, RefundStore};
use aftercare::trigger::Trigger;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

/// The most refunds one page of the finance queue lists.
pub const PAGE_SIZE: i32 = 50;

pub struct RefundApproval<R> {
    pub refunds: R,
}

impl RefundApproval<DynamoRefundStore> {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let table = config::required("REFUNDS_TABLE")?;
        let aws = config::aws().await;
        Ok(RefundApproval {
            refunds: DynamoRefundStore::new(aws_sdk_dynamodb::Client::new(&aws), table),
        })
    }
}

pub async fn handle<R: RefundStore>(
    approval: &RefundApproval<R>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let span = tracing::info_span!("refund_approval", request_id = %event.context.request_id);
    async move {
        match Trigger::parse(event.payload)? {
            Trigger::Http(request) => Ok(serde_json::to_value(respond(approval, &request).await)?),
            other => Err(format!(
                "refund-approval is wired to HTTP API routes only, not {} events",
                other.kind()
            )
            .into()),
        }
    }
    .instrument(span)
    .await
}

pub async fn respond<R: RefundStore>(
    approval: &RefundApproval<R>,
    request: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    let http = HttpRequest(request);
    let result = match http.route_key() {
        "GET /refunds" => finance_queue(approval, &http).await,
        _ => Err(ApiError::no_route(http.method(), http.path())),
    };
    result.unwrap_or_else(ApiError::into_response)
}

#[derive(Serialize)]
struct FinanceQueue {
    refunds: Vec<PendingRefund>,
}

async fn finance_queue<R: RefundStore>(
    approval: &RefundApproval<R>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = http.caller()?;
    if caller.role != Role::Finance {
        return Err(ApiError::forbidden(
            "Only finance may review the refund queue.",
        ));
    }
    let refunds = approval.refunds.pending_refunds(PAGE_SIZE).await?;
    Ok(json_response(200, &FinanceQueue { refunds }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftercare::store::StoreError;
    use serde_json::json;

    struct Queue(Vec<PendingRefund>);

    impl RefundStore for Queue {
        async fn pending_refunds(&self, limit: i32) -> Result<Vec<PendingRefund>, StoreError> {
            Ok(self.0.iter().take(limit as usize).cloned().collect())
        }
    }

    fn list_as(role: &str) -> ApiGatewayV2httpRequest {
        serde_json::from_value(json!({
            "version": "2.0", "routeKey": "GET /refunds", "rawPath": "/refunds", "rawQueryString": "",
            "headers": {},
            "requestContext": {"http": {"method": "GET", "path": "/refunds", "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1", "userAgent": "t"}, "routeKey": "GET /refunds",
                "authorizer": {"jwt": {"claims": {"sub": "u-1", "role": role}, "scopes": null}},
                "stage": "$default", "requestId": "r", "timeEpoch": 0},
            "isBase64Encoded": false
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn only_finance_sees_the_queue() {
        let approval = RefundApproval {
            refunds: Queue(vec![PendingRefund {
                refund_id: "r-1".into(),
                case_id: "c".into(),
                amount_minor: 12_900,
                currency: "CNY".into(),
                requested_at: chrono::Utc::now(),
            }]),
        };
        let response = respond(&approval, &list_as("finance")).await;
        assert_eq!(response.status_code, 200);
        for role in ["customer", "agent", "expert", "supervisor"] {
            assert_eq!(
                respond(&approval, &list_as(role)).await.status_code,
                403,
                "{role}"
            );
        }
    }
}
