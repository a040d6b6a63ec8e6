//! Photo evidence: upload URLs for the app, and verification of what arrives in the bucket.
//!
//! - `POST /cases/{id}/photos` and `GET /cases/{id}/photos` ([`routes`]): presigned PUTs for
//!   one photo each, and short-lived links to the attached photos; the case's customer and
//!   staff only, 404 to anyone else.
//! - S3 `ObjectCreated` under `uploads/` ([`arrivals`]): each upload is streamed through the
//!   [`aftercare::photo::PhotoScrubber`], and either attached to its case without metadata
//!   or quarantined with the reason on the case's timeline.
//!
//! The key layout and the slot rules are in [`aftercare::evidence`]. Keys and URLs never reach
//! the logs: they are logged as case and photo ids.

use std::path::PathBuf;

use aftercare::clock::{Clock, SystemClock};
use aftercare::config::{self, ConfigError};
use aftercare::store::{CaseStore, DynamoCaseStore, PhotoBucket, S3PhotoBucket};
use aftercare::trigger::Trigger;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use tracing::Instrument;

pub mod arrivals;
pub mod routes;

/// What the photo function reads and writes.
pub trait Ports {
    type Cases: CaseStore;
    type Bucket: PhotoBucket;
    type Clock: Clock;
}

/// The ports of the deployed function.
pub struct Aws;

impl Ports for Aws {
    type Cases = DynamoCaseStore;
    type Bucket = S3PhotoBucket;
    type Clock = SystemClock;
}

pub struct Photos<P: Ports> {
    pub cases: P::Cases,
    pub bucket: P::Bucket,
    /// The bucket's name: notifications from any other bucket are ignored.
    pub bucket_name: String,
    pub clock: P::Clock,
    /// Where an upload is written without its metadata before it is stored as evidence
    /// (Lambda's `/tmp`): the photo is streamed, never held in memory whole.
    pub scratch_dir: PathBuf,
}

impl Photos<Aws> {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let table = config::required("CASES_TABLE")?;
        let bucket_name = config::required("PHOTO_BUCKET")?;
        let aws = config::aws().await;
        Ok(Photos {
            cases: DynamoCaseStore::new(aws_sdk_dynamodb::Client::new(&aws), table),
            bucket: S3PhotoBucket::new(aws_sdk_s3::Client::new(&aws), &bucket_name),
            bucket_name,
            clock: SystemClock,
            scratch_dir: std::env::temp_dir(),
        })
    }
}

/// The Lambda entrypoint: photo routes of the HTTP API, and S3 notifications.
pub async fn handle<P: Ports>(
    photos: &Photos<P>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let span = tracing::info_span!(
        "photo_upload",
        request_id = %event.context.request_id,
        case_id = tracing::field::Empty,
        photo_id = tracing::field::Empty
    );
    async move {
        match Trigger::parse(event.payload)? {
            Trigger::Http(request) => Ok(serde_json::to_value(
                routes::respond(photos, &request).await,
            )?),
            Trigger::S3(notification) => Ok(serde_json::to_value(
                arrivals::verify_all(photos, notification).await?,
            )?),
            other => Err(format!(
                "photo-upload answers photo routes and S3 notifications, not {} events",
                other.kind()
            )
            .into()),
        }
    }
    .instrument(span)
    .await
}
