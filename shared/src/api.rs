//! The HTTP edge shared by every function behind the HTTP API (payload format 2.0): reading a
//! request safely, and answering with JSON or with the one error body every client can rely on:
//! `{"error": {"code": "<snake_case>", "message": "<human sentence>"}}`.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::{AuthError, Caller};
use crate::case::InvalidField;
use crate::refund::RefundError;
use crate::store::StoreError;

/// The largest request body we read. Complaints are short; anything bigger is a client bug or
/// an attack, refused before parsing.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Every route of the HTTP API, as the template declares it (`METHOD /path/{param}`). The
/// catch-all `$default` route uses it to tell "no such path" (404) from "wrong method" (405);
/// a test keeps it equal to the template's routes.
pub const ROUTES: &[&str] = &[
    "POST /cases",
    "GET /cases",
    "GET /cases/{id}",
    "POST /cases/{id}/replies",
    "POST /cases/{id}/assign",
    "POST /cases/{id}/wait",
    "POST /cases/{id}/resolve",
    "POST /cases/{id}/close",
    "POST /cases/{id}/reopen",
    "POST /cases/{id}/photos",
    "GET /cases/{id}/photos",
    "GET /queues/{queue}",
    "GET /sla/overview",
    "GET /metrics",
    "POST /classify",
    "GET /products/{sku}",
    "POST /webhooks/shopify",
    "POST /webhooks/woocommerce",
    "POST /webhooks/generic",
    "GET /refunds",
    "GET /refunds/export",
    "GET /refunds/{id}",
    "POST /refunds/{id}/approve",
    "POST /refunds/{id}/reject",
    "POST /refunds/{id}/settlement",
    "GET /surveys/{token}",
    "POST /surveys/{token}",
    "POST /surveys/{token}/opt-out",
    "PUT /customers/me/survey-preference",
    "GET /quality/alerts",
    "POST /quality/alerts/{id}/acknowledge",
];

/// A refusal, with the HTTP status and the machine-readable code a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(404, "not_found", format!("No {what} with that id exists."))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(403, "forbidden", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::new(409, "conflict", message)
    }

    pub fn internal() -> Self {
        ApiError::new(
            500,
            "internal_error",
            "Something went wrong on our side; nothing was changed. Please retry.",
        )
    }

    /// The answer of the `$default` route: 405 when the path exists with other methods.
    pub fn no_route(method: &str, path: &str) -> Self {
        let allowed: Vec<&str> = ROUTES
            .iter()
            .filter_map(|route| route.split_once(' '))
            .filter(|(_, pattern)| path_matches(pattern, path))
            .map(|(route_method, _)| route_method)
            .collect();
        if allowed.is_empty() {
            ApiError::new(
                404,
                "route_not_found",
                format!("There is no route {method} {path}."),
            )
        } else {
            ApiError::new(
                405,
                "method_not_allowed",
                format!(
                    "{path} does not accept {method}; it accepts {}.",
                    allowed.join(", ")
                ),
            )
        }
    }

    pub fn into_response(self) -> ApiGatewayV2httpResponse {
        #[derive(Serialize)]
        struct ErrorBody<'a> {
            error: ErrorDetail<'a>,
        }
        #[derive(Serialize)]
        struct ErrorDetail<'a> {
            code: &'a str,
            message: &'a str,
        }
        json_response(
            self.status,
            &ErrorBody {
                error: ErrorDetail {
                    code: self.code,
                    message: &self.message,
                },
            },
        )
    }
}

impl From<InvalidField> for ApiError {
    fn from(invalid: InvalidField) -> Self {
        ApiError::new(422, "validation_failed", invalid.to_string())
    }
}

impl From<RefundError> for ApiError {
    /// The refund rules' own status and code: 422 for a request that cannot be valid, 403 for
    /// who may not (`own_refund` for the four-eyes rule), 409 for what the refund's state
    /// forbids.
    fn from(err: RefundError) -> Self {
        if err.status() >= 500 {
            tracing::error!(error = %err, "refund rules misconfigured");
        }
        ApiError::new(err.status(), err.code(), err.to_string())
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unauthenticated => ApiError::new(401, "unauthorized", err.to_string()),
            AuthError::UnknownRole => ApiError::forbidden(err.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict => {
                ApiError::conflict("The item was changed by someone else; read it again and retry.")
            }
            StoreError::BadCursor => ApiError::new(
                400,
                "invalid_cursor",
                "The cursor is not one this service issued; start again without it.",
            ),
            StoreError::Unavailable(_) | StoreError::Stale => ApiError::new(
                503,
                "service_unavailable",
                "The service is busy; nothing was changed. Please retry shortly.",
            ),
            StoreError::Rejected(_) | StoreError::Corrupt(_) => {
                tracing::error!(error = %err, "store failure");
                ApiError::internal()
            }
        }
    }
}

/// Does a route's path pattern (`/cases/{id}`) match a concrete path?
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.trim_matches('/').split('/');
    let mut got = path.trim_matches('/').split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

/// A JSON answer with the headers every API response carries.
pub fn json_response(status: u16, body: &impl Serialize) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Case data is personal: no shared cache may keep it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    response.body = Some(Body::Text(
        serde_json::to_string(body).expect("response bodies serialise"),
    ));
    response
}

/// Read access to one API Gateway HTTP API request.
pub struct HttpRequest<'a>(pub &'a ApiGatewayV2httpRequest);

impl<'a> HttpRequest<'a> {
    /// `METHOD /path/{param}` as the template declares the route, or `$default`.
    pub fn route_key(&self) -> &str {
        self.0
            .route_key
            .as_deref()
            .or(self.0.request_context.route_key.as_deref())
            .unwrap_or("$default")
    }

    pub fn method(&self) -> &str {
        self.0.request_context.http.method.as_str()
    }

    pub fn path(&self) -> &str {
        self.0
            .raw_path
            .as_deref()
            .or(self.0.request_context.http.path.as_deref())
            .unwrap_or("/")
    }

    pub fn path_param(&self, name: &str) -> Result<&'a str, ApiError> {
        self.0
            .path_parameters
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| {
                ApiError::new(400, "missing_parameter", format!("The path needs {name}."))
            })
    }

    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.0.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query(&self, name: &str) -> Option<&'a str> {
        self.0.query_string_parameters.first(name)
    }

    /// The caller, from the claims the JWT authorizer verified.
    pub fn caller(&self) -> Result<Caller, ApiError> {
        let empty = HashMap::new();
        let claims = self
            .0
            .request_context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims)
            .unwrap_or(&empty);
        Ok(Caller::from_claims(claims)?)
    }

    /// The raw body bytes, base64-decoded when API Gateway encoded them, within the size limit.
    pub fn body_bytes(&self) -> Result<Vec<u8>, ApiError> {
        let raw = self.0.body.as_deref().unwrap_or("");
        let bytes = if self.0.is_base64_encoded {
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|_| {
                    ApiError::new(400, "malformed_body", "The body is not valid base64.")
                })?
        } else {
            raw.as_bytes().to_vec()
        };
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(
                413,
                "payload_too_large",
                format!("The body is larger than {MAX_BODY_BYTES} bytes."),
            ));
        }
        Ok(bytes)
    }

    /// The body as a JSON request of type `T`: it must be declared JSON, within the size limit,
    /// well formed, with every required field and no unknown one (our own API refuses fields it
    /// does not know: they signal a client bug).
    pub fn json_body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let declared_json = self
            .header("content-type")
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !declared_json {
            return Err(ApiError::new(
                415,
                "unsupported_media_type",
                "Send the body as JSON with Content-Type: application/json.",
            ));
        }
        let bytes = self.body_bytes()?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                400,
                "missing_body",
                "The request needs a JSON body.",
            ));
        }
        serde_json::from_slice(&bytes).map_err(|err| match err.classify() {
            serde_json::error::Category::Data => ApiError::new(
                400,
                "invalid_request",
                format!("The body does not fit: {err}."),
            ),
            _ => ApiError::new(
                400,
                "malformed_json",
                format!("The body is not valid JSON: {err}."),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    fn request(
        headers: serde_json::Value,
        body: Option<&str>,
        base64: bool,
    ) -> ApiGatewayV2httpRequest {
        serde_json::from_value(json!({
            "version": "2.0",
            "routeKey": "POST /cases",
            "rawPath": "/cases",
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "http": {"method": "POST", "path": "/cases", "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.1", "userAgent": "test"},
                "routeKey": "POST /cases", "stage": "$default", "requestId": "r",
                "timeEpoch": 0
            },
            "body": body,
            "isBase64Encoded": base64
        }))
        .unwrap()
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
    }

    fn parse(headers: serde_json::Value, body: Option<&str>) -> Result<Sample, ApiError> {
        HttpRequest(&request(headers, body, false)).json_body()
    }

    const JSON: fn() -> serde_json::Value =
        || json!({"content-type": "application/json; charset=utf-8"});

    #[test]
    fn reads_a_json_body() {
        assert_eq!(parse(JSON(), Some(r#"{"name":"a"}"#)).unwrap().name, "a");
    }

    #[test]
    fn refuses_each_kind_of_bad_body_with_its_code() {
        let code = |h, b| parse(h, b).unwrap_err().code;
        assert_eq!(
            code(json!({"content-type": "text/plain"}), Some("{}")),
            "unsupported_media_type"
        );
        assert_eq!(code(json!({}), Some("{}")), "unsupported_media_type");
        assert_eq!(code(JSON(), None), "missing_body");
        assert_eq!(code(JSON(), Some("{\"name\":")), "malformed_json");
        assert_eq!(code(JSON(), Some("{}")), "invalid_request");
        assert_eq!(
            code(JSON(), Some(r#"{"name":"a","admin":true}"#)),
            "invalid_request"
        );
        let big = format!(r#"{{"name":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        let err = parse(JSON(), Some(&big)).unwrap_err();
        assert_eq!((err.status, err.code), (413, "payload_too_large"));
    }

    #[test]
    fn decodes_base64_bodies() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(r#"{"name":"b"}"#);
        let req = request(JSON(), Some(&encoded), true);
        assert_eq!(HttpRequest(&req).json_body::<Sample>().unwrap().name, "b");
        let bad = request(JSON(), Some("%%%"), true);
        assert_eq!(
            HttpRequest(&bad).json_body::<Sample>().unwrap_err().code,
            "malformed_body"
        );
    }

    #[test]
    fn error_body_has_the_documented_shape() {
        let response = ApiError::not_found("case").into_response();
        assert_eq!(response.status_code, 404);
        let Some(Body::Text(text)) = response.body else {
            panic!("text body")
        };
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"]["code"], "not_found");
        assert!(body["error"]["message"].as_str().unwrap().ends_with('.'));
        assert_eq!(response.headers["content-type"], "application/json");
    }

    #[test]
    fn default_route_tells_unknown_path_from_wrong_method() {
        assert_eq!(ApiError::no_route("GET", "/nowhere").status, 404);
        let wrong = ApiError::no_route("DELETE", "/cases/01J0000000000000000000000");
        assert_eq!((wrong.status, wrong.code), (405, "method_not_allowed"));
        assert!(wrong.message.contains("GET"));
        assert!(path_matches("/cases/{id}", "/cases/abc"));
        assert!(!path_matches("/cases/{id}", "/cases"));
        assert!(!path_matches("/cases/{id}", "/cases/abc/photos"));
        assert!(!path_matches("/cases/{id}", "/cases//"));
    }
}
