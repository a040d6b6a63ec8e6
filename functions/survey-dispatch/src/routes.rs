//! The survey routes. The link's token is the only credential of the first three, so a
//! malformed token, an unknown one and one whose survey was never sent all get the same 404.
//!
//! - `GET /surveys/{token}`: the questions in the survey's language (410 once expired, 409 once
//!   answered).
//! - `POST /surveys/{token}`: one answer per case, written conditionally with the day's survey
//!   counters and the credited agent's in one transaction: of two racing answers one is
//!   recorded, the other gets 409.
//! - `POST /surveys/{token}/opt-out`: the e-mail footer's link; no more surveys.
//! - `PUT /customers/me/survey-preference`: the customer's own choice, `{"opted_out": bool}`.

use aftercare::api::{ApiError, HttpRequest, json_response};
use aftercare::auth::Role;
use aftercare::clock::Clock;
use aftercare::store::{StoreError, SurveyStore};
use aftercare::survey::{
    Survey, SurveyRefusal, SurveyResponse, SurveyResponseRequest, SurveyToken, answer,
    answer_counters, questions,
};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::{Ports, SurveyDispatch};

/// Routes one request and always answers: errors become the documented error body.
pub async fn respond<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    request: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    let http = HttpRequest(request);
    let result = match http.route_key() {
        "GET /surveys/{token}" => show(dispatch, &http).await,
        "POST /surveys/{token}" => record(dispatch, &http).await,
        "POST /surveys/{token}/opt-out" => opt_out(dispatch, &http).await,
        "PUT /customers/me/survey-preference" => preference(dispatch, &http).await,
        _ => Err(ApiError::no_route(http.method(), http.path())),
    };
    result.unwrap_or_else(|err| {
        tracing::info!(status = err.status, code = err.code, "request refused");
        err.into_response()
    })
}

fn refused(refusal: SurveyRefusal) -> ApiError {
    ApiError::new(refusal.status(), refusal.code(), refusal.to_string())
}

/// The survey of the path's token, or the one 404 for every link that is not a sent survey's.
async fn survey_of<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    http: &HttpRequest<'_>,
) -> Result<Survey, ApiError> {
    let not_found = || refused(SurveyRefusal::NotSent);
    let token = SurveyToken::parse(http.path_param("token")?).map_err(|_| not_found())?;
    let survey = dispatch
        .surveys
        .by_token(&token)
        .await?
        .filter(|survey| survey.token_matches(&token) && survey.is_sent())
        .ok_or_else(not_found)?;
    Ok(survey)
}

async fn show<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let survey = survey_of(dispatch, http).await?;
    survey.check_open(dispatch.clock.now()).map_err(refused)?;
    Ok(json_response(
        200,
        &json!({
            "language": survey.language(),
            "expires_at": survey.expires_at,
            "questions": questions(survey.language()),
        }),
    ))
}

async fn record<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let survey = survey_of(dispatch, http).await?;
    let request: SurveyResponseRequest = http.json_body()?;
    let response = SurveyResponse::parse(request)?;
    let answered = answer(&survey, response, dispatch.clock.now()).map_err(refused)?;
    match dispatch
        .surveys
        .record_answer(&answered, &answer_counters(&answered))
        .await
    {
        Ok(()) => {
            tracing::info!(case_id = %answered.case_id, "survey answered");
            Ok(json_response(
                201,
                &json!({
                    "status": "recorded",
                    "response": answered.response,
                    "answered_at": answered.answered_at,
                }),
            ))
        }
        // Answered by a concurrent request between our read and our write.
        Err(StoreError::Conflict) => Err(refused(SurveyRefusal::AlreadyAnswered)),
        Err(err) => Err(err.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EmptyBody {}

async fn opt_out<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let survey = survey_of(dispatch, http).await?;
    // An empty body or `{}`: the link is the whole request.
    if !http.body_bytes()?.iter().all(u8::is_ascii_whitespace) {
        http.json_body::<EmptyBody>()?;
    }
    dispatch
        .surveys
        .set_opted_out(&survey.customer_id, true, dispatch.clock.now())
        .await?;
    tracing::info!(case_id = %survey.case_id, "customer opted out of surveys from a link");
    Ok(json_response(200, &json!({"opted_out": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreferenceBody {
    opted_out: bool,
}

async fn preference<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = http.caller()?;
    if caller.role != Role::Customer {
        return Err(ApiError::forbidden(
            "Only customers choose whether they receive surveys.",
        ));
    }
    let body: PreferenceBody = http.json_body()?;
    dispatch
        .surveys
        .set_opted_out(&caller.subject, body.opted_out, dispatch.clock.now())
        .await?;
    Ok(json_response(200, &json!({"opted_out": body.opted_out})))
}
