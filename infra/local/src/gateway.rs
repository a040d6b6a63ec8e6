//! API Gateway's HTTP API, emulated: route matching as the template declares the routes, the
//! JWT authorizer, the payload format 2.0 event, and the mapping of the function's answer.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use crate::jwt::SigningKey;
use crate::lambda::{FunctionPool, InvokeError, Outcome};
use crate::stack::{JwtAuthorizer, Route};
use crate::template::ACCOUNT;

/// API Gateway's limit on a request payload.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

pub struct Gateway {
    pub routes: Vec<Route>,
    pub authorizer: Option<JwtAuthorizer>,
    pub key: Arc<SigningKey>,
    pub pools: Arc<HashMap<String, Arc<FunctionPool>>>,
}

/// The route API Gateway would pick: the most specific matching path, else `$default`.
pub fn match_route<'a>(
    routes: &'a [Route],
    method: &str,
    path: &str,
) -> Option<(&'a Route, BTreeMap<String, String>)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut best: Option<(usize, &Route, BTreeMap<String, String>)> = None;
    for route in routes {
        let Some(pattern) = &route.path else { continue };
        if route.method != "ANY" && route.method != method {
            continue;
        }
        let wanted: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
        let mut params = BTreeMap::new();
        let mut literal = 0;
        let mut matched = true;
        for (i, want) in wanted.iter().enumerate() {
            if let Some(name) = want.strip_prefix('{').and_then(|w| w.strip_suffix("+}")) {
                let rest = segments.get(i..).map(|s| s.join("/")).unwrap_or_default();
                matched = !rest.is_empty();
                params.insert(name.to_owned(), rest);
                break;
            }
            match segments.get(i) {
                Some(got) if want.starts_with('{') && want.ends_with('}') && !got.is_empty() => {
                    params.insert(want[1..want.len() - 1].to_owned(), percent_decode(got));
                }
                Some(got) if got == want => literal += 1,
                _ => {
                    matched = false;
                    break;
                }
            }
            if i == wanted.len() - 1 && segments.len() != wanted.len() {
                matched = false;
            }
        }
        if matched && best.as_ref().is_none_or(|(score, _, _)| literal > *score) {
            best = Some((literal, route, params));
        }
    }
    best.map(|(_, route, params)| (route, params)).or_else(|| {
        routes
            .iter()
            .find(|r| r.path.is_none())
            .map(|r| (r, BTreeMap::new()))
    })
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| text.to_owned())
}

fn message(status: StatusCode, text: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({ "message": text }).to_string(),
    )
        .into_response()
}

/// Answers one HTTP request the way the deployed HTTP API would.
pub async fn serve(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(body) => body,
        Err(_) => return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
    };
    let path = parts.uri.path().to_owned();
    let method = parts.method.as_str().to_owned();
    let Some((route, path_parameters)) = match_route(&gateway.routes, &method, &path) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };

    let mut claims = None;
    if route.authorized && parts.method != Method::OPTIONS {
        let authorizer = gateway
            .authorizer
            .as_ref()
            .expect("authorized routes have an authorizer");
        let header = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        match gateway.key.verify(authorizer, header) {
            Ok(verified) => claims = Some(verified),
            // API Gateway answers 401 here itself. Its body, {"message":"Unauthorized"}, cannot
            // be customised on HTTP APIs; locally we give our documented error body instead
            // (see README, "Differences from AWS").
            Err(reason) => {
                let body = json!({"error": {"code": "unauthorized", "message": format!("Sign in again: {reason}.")}});
                return (
                    StatusCode::UNAUTHORIZED,
                    [
                        ("content-type", "application/json".to_owned()),
                        (
                            "www-authenticate",
                            format!(
                                "Bearer error=\"invalid_token\" error_description=\"{reason}\""
                            ),
                        ),
                    ],
                    body.to_string(),
                )
                    .into_response();
            }
        }
    }

    let event = event_v2(
        route,
        &parts.method,
        &parts.uri,
        &parts.headers,
        path_parameters,
        claims,
        &body,
    );
    let pool = gateway
        .pools
        .get(&route.function)
        .expect("every route's function has a pool");
    let payload = Bytes::from(serde_json::to_vec(&event).expect("events serialise"));
    match pool.invoke(payload).await {
        Ok(Outcome::Response(output)) => function_response(&output),
        Ok(Outcome::FunctionError(error)) => {
            tracing::warn!(function = %route.function, %error, "function error");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        Err(InvokeError::PayloadTooLarge(_)) => {
            message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
        }
        Err(InvokeError::Timeout(_)) => {
            message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        Err(err) => {
            tracing::warn!(function = %route.function, error = %err, "invocation failed");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return true };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/")
        || mime.ends_with("json")
        || mime.ends_with("+json")
        || mime.ends_with("xml")
        || mime == "application/x-www-form-urlencoded"
        || mime == "application/javascript"
}

/// The payload format 2.0 event API Gateway sends to the function.
pub fn event_v2(
    route: &Route,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    path_parameters: BTreeMap<String, String>,
    claims: Option<BTreeMap<String, String>>,
    body: &Bytes,
) -> Value {
    let mut header_map: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        header_map
            .entry(name.as_str().to_owned())
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    let raw_query = uri.query().unwrap_or("").to_owned();
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        query
            .entry(k.into_owned())
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    let now = chrono::Utc::now();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    let (body_text, base64) = if body.is_empty() {
        (None, false)
    } else {
        match std::str::from_utf8(body) {
            Ok(text) if is_text(content_type) => (Some(text.to_owned()), false),
            _ => (
                Some(base64::engine::general_purpose::STANDARD.encode(body)),
                true,
            ),
        }
    };
    let request_id = ulid::Ulid::new().to_string();
    let mut context = json!({
        "accountId": ACCOUNT,
        "apiId": "local",
        "domainName": header_map.get("host").cloned().unwrap_or_else(|| "127.0.0.1".into()),
        "domainPrefix": "local",
        "http": {
            "method": method.as_str(),
            "path": uri.path(),
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": header_map.get("user-agent").cloned().unwrap_or_default(),
        },
        "requestId": request_id,
        "routeKey": route.key(),
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });
    if let Some(claims) = claims {
        context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": uri.path(),
        "rawQueryString": raw_query,
        "headers": header_map,
        "requestContext": context,
        "isBase64Encoded": base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !path_parameters.is_empty() {
        event["pathParameters"] = json!(path_parameters);
    }
    if let Some(body) = body_text {
        event["body"] = Value::String(body);
    }
    event
}

/// The HTTP answer for a function's output, as payload format 2.0 defines it: a structured
/// `{statusCode, headers, cookies, body, isBase64Encoded}`, or any other JSON as a 200 body.
pub fn function_response(output: &[u8]) -> Response {
    let Ok(value) = serde_json::from_slice::<Value>(output) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let Some(status) = value.get("statusCode").and_then(Value::as_u64) else {
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            output.to_vec(),
        )
            .into_response();
    };
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status as u16).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if let Some(headers) = value.get("headers").and_then(Value::as_object) {
        for (name, v) in headers {
            let text = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            if let (Ok(name), Ok(v)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(text),
            ) {
                builder = builder.header(name, v);
            }
        }
    }
    for cookie in value
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(Ok(v)) = cookie.as_str().map(HeaderValue::try_from) {
            builder = builder.header("set-cookie", v);
        }
    }
    let body = value.get("body").and_then(Value::as_str).unwrap_or("");
    let bytes = if value.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    };
    builder
        .body(Body::from(bytes))
        .unwrap_or_else(|_| message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: Option<&str>) -> Route {
        Route {
            method: method.into(),
            path: path.map(Into::into),
            function: "F".into(),
            authorized: true,
        }
    }

    #[test]
    fn picks_the_most_specific_route_then_default() {
        let routes = vec![
            route("GET", Some("/cases/{id}")),
            route("GET", Some("/cases/mine")),
            route("POST", Some("/cases")),
            route("ANY", None),
        ];
        let (r, params) = match_route(&routes, "GET", "/cases/01ABC").unwrap();
        assert_eq!(
            (r.key(), params["id"].as_str()),
            ("GET /cases/{id}".into(), "01ABC")
        );
        assert_eq!(
            match_route(&routes, "GET", "/cases/mine").unwrap().0.key(),
            "GET /cases/mine"
        );
        assert_eq!(
            match_route(&routes, "DELETE", "/cases/1").unwrap().0.key(),
            "$default"
        );
        assert_eq!(
            match_route(&routes, "GET", "/cases/1/photos")
                .unwrap()
                .0
                .key(),
            "$default"
        );
        assert_eq!(
            match_route(&routes, "GET", "/cases/").unwrap().0.key(),
            "$default"
        );
        assert!(match_route(&routes[..3], "GET", "/nowhere").is_none());
    }

    #[test]
    fn builds_a_v2_event_with_claims_query_and_binary_body() {
        let r = route("POST", Some("/cases/{id}"));
        let uri: axum::http::Uri = "/cases/1?a=1&a=2&b=%E6%BC%8F".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("image/png"));
        headers.insert("cookie", HeaderValue::from_static("s=1; t=2"));
        let claims = BTreeMap::from([("sub".to_owned(), "c-1".to_owned())]);
        let params = BTreeMap::from([("id".to_owned(), "1".to_owned())]);
        let event = event_v2(
            &r,
            &Method::POST,
            &uri,
            &headers,
            params,
            Some(claims),
            &Bytes::from_static(&[0xff, 0x00]),
        );
        assert_eq!(event["routeKey"], "POST /cases/{id}");
        assert_eq!(event["queryStringParameters"]["a"], "1,2");
        assert_eq!(event["queryStringParameters"]["b"], "漏");
        assert_eq!(event["cookies"], json!(["s=1", "t=2"]));
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "/wA=");
        assert_eq!(
            event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"],
            "c-1"
        );
        assert!(event["headers"].get("cookie").is_none());
    }
}
