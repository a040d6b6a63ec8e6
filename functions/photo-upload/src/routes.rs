//! `POST /cases/{id}/photos` and `GET /cases/{id}/photos`.

use aftercare::api::{ApiError, HttpRequest, json_response};
use aftercare::auth::Caller;
use aftercare::case::{Case, CaseId};
use aftercare::clock::{Clock, rfc3339};
use aftercare::evidence::{
    PhotoEvidence, PhotoRefusal, PhotoUploadRequest, UPLOAD_URL_LIFETIME, UploadSpec,
    request_upload, upload_key,
};
use aftercare::store::{CaseStore, PhotoBucket, StoreError, WrittenWith, evidence_links};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use serde::Serialize;
use std::collections::BTreeMap;

use crate::{Photos, Ports};

/// How often a photo request re-reads the case when another change won the race (an app
/// sending a batch of photos asks for all their URLs at once). Every round of racing
/// requests has a winner, so this lets a full case's worth of requests at once all through.
const ATTEMPTS: usize = aftercare::evidence::MAX_PHOTOS_PER_CASE + 2;

pub async fn respond<P: Ports>(
    photos: &Photos<P>,
    request: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    let http = HttpRequest(request);
    let result = match http.route_key() {
        "POST /cases/{id}/photos" => request_photo(photos, &http).await,
        "GET /cases/{id}/photos" => list_photos(photos, &http).await,
        _ => Err(ApiError::no_route(http.method(), http.path())),
    };
    let response = result.unwrap_or_else(|err| {
        tracing::info!(status = err.status, code = err.code, "request refused");
        err.into_response()
    });
    tracing::info!(
        route = http.route_key(),
        status = response.status_code,
        "answered"
    );
    response
}

/// The case of the `{id}` path parameter if `caller` may see it; 404 otherwise, so another
/// customer's case cannot be told from a missing one.
async fn visible_case<P: Ports>(
    photos: &Photos<P>,
    http: &HttpRequest<'_>,
    caller: &Caller,
) -> Result<Case, ApiError> {
    let id: CaseId = http
        .path_param("id")?
        .parse()
        .map_err(|_| ApiError::not_found("case"))?;
    tracing::Span::current().record("case_id", tracing::field::display(id));
    photos
        .cases
        .case(&id)
        .await?
        .filter(|case| caller.may_see_case_of(&case.customer_id))
        .ok_or_else(|| ApiError::not_found("case"))
}

/// The answer to `POST /cases/{id}/photos`: one upload, exactly as the app must send it.
#[derive(Debug, Serialize)]
struct UploadGrant {
    photo_id: String,
    upload_url: String,
    method: String,
    /// Send exactly these headers: S3 checks them against the signature.
    headers: BTreeMap<String, String>,
    expires_at: String,
}

async fn request_photo<P: Ports>(
    photos: &Photos<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = http.caller()?;
    let spec = UploadSpec::parse(&http.json_body::<PhotoUploadRequest>()?)?;
    for _ in 0..ATTEMPTS {
        let case = visible_case(photos, http, &caller).await?;
        let now = photos.clock.now();
        let (changed, pending, entry) =
            request_upload(&case, spec, &caller, now).map_err(refused)?;
        match photos
            .cases
            .record_change(&changed, &entry, WrittenWith::default())
            .await
        {
            Ok(()) => {
                tracing::Span::current().record("photo_id", tracing::field::display(pending.id));
                let signed = photos
                    .bucket
                    .upload_url(
                        &upload_key(&case.id, &pending.id),
                        pending.format,
                        pending.content_length,
                        now,
                        UPLOAD_URL_LIFETIME,
                    )
                    .await?;
                tracing::info!("photo upload granted");
                return Ok(json_response(
                    201,
                    &UploadGrant {
                        photo_id: pending.id.to_string(),
                        upload_url: signed.url,
                        method: signed.method,
                        headers: signed.headers,
                        expires_at: rfc3339(signed.expires_at),
                    },
                ));
            }
            Err(StoreError::Conflict) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::conflict(
        "This case is changing too quickly to add a photo; retry in a moment.",
    ))
}

fn refused(refusal: PhotoRefusal) -> ApiError {
    match refusal {
        PhotoRefusal::CaseClosed => ApiError::new(
            409,
            "case_closed",
            "This case is closed; it takes no more photos. Reopen it or open a new case.",
        ),
        PhotoRefusal::LimitReached => ApiError::new(
            409,
            "photo_limit_reached",
            "This case already holds 10 photos (or uploads under way).",
        ),
    }
}

/// One attached photo, with a link valid for a few minutes.
#[derive(Debug, Serialize)]
struct PhotoView {
    photo_id: String,
    content_type: &'static str,
    bytes: u64,
    width: u32,
    height: u32,
    attached_at: String,
    url: String,
    url_expires_at: String,
}

#[derive(Debug, Serialize)]
struct PhotoList {
    photos: Vec<PhotoView>,
    /// Upload URLs issued and not yet used or expired.
    uploads_pending: usize,
    photo_evidence: PhotoEvidence,
}

async fn list_photos<P: Ports>(
    photos: &Photos<P>,
    http: &HttpRequest<'_>,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = http.caller()?;
    let case = visible_case(photos, http, &caller).await?;
    let now = photos.clock.now();
    let views = evidence_links(&photos.bucket, &case, now)
        .await?
        .into_iter()
        .map(|(photo, signed)| PhotoView {
            photo_id: photo.id.to_string(),
            content_type: photo.format.content_type(),
            bytes: photo.bytes,
            width: photo.width,
            height: photo.height,
            attached_at: rfc3339(photo.attached_at),
            url: signed.url,
            url_expires_at: rfc3339(signed.expires_at),
        })
        .collect();
    Ok(json_response(
        200,
        &PhotoList {
            photos: views,
            uploads_pending: case
                .photos
                .pending
                .iter()
                .filter(|p| p.url_expires_at > now)
                .count(),
            photo_evidence: PhotoEvidence::of(&case),
        },
    ))
}
