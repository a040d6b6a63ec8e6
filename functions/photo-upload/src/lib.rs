//! Photo upload: what arrives in the photo bucket.
//!
//! Objects are keyed `cases/<case id>/photos/<photo id>`; the S3 ObjectCreated notification
//! brings each one here. An object whose key fits no case is ignored and logged (by id only:
//! keys and URLs never reach the logs).

use aftercare::case::CaseId;
use aftercare::config::{self, ConfigError};
use aftercare::store::{CaseStore, DynamoCaseStore};
use aftercare::trigger::Trigger;
use aws_lambda_events::s3::S3Event;
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

pub struct PhotoUpload<S> {
    pub cases: S,
    pub bucket: String,
}

impl PhotoUpload<DynamoCaseStore> {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let table = config::required("CASES_TABLE")?;
        let bucket = config::required("PHOTO_BUCKET")?;
        let aws = config::aws().await;
        Ok(PhotoUpload {
            cases: DynamoCaseStore::new(aws_sdk_dynamodb::Client::new(&aws), table),
            bucket,
        })
    }
}

/// An object key as S3 notifications carry it: URL-encoded, with `+` for space.
pub fn decode_event_key(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = encoded.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The case a photo object belongs to, from its (decoded) key; `None` for any other key.
pub fn case_of_photo_key(key: &str) -> Option<CaseId> {
    let mut parts = key.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("cases"), Some(case), Some("photos"), Some(photo), None) if !photo.is_empty() => {
            case.parse().ok()
        }
        _ => None,
    }
}

/// What became of each object of one notification.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct ArrivalReport {
    pub received: usize,
    pub ignored: usize,
}

pub async fn handle<S: CaseStore>(
    photos: &PhotoUpload<S>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let span = tracing::info_span!("photo_upload", request_id = %event.context.request_id, case_id = tracing::field::Empty);
    async move {
        match Trigger::parse(event.payload)? {
            Trigger::S3(notification) => {
                Ok(serde_json::to_value(arrivals(photos, notification).await?)?)
            }
            other => Err(format!(
                "photo-upload is wired to S3 notifications only, not {} events",
                other.kind()
            )
            .into()),
        }
    }
    .instrument(span)
    .await
}

pub async fn arrivals<S: CaseStore>(
    photos: &PhotoUpload<S>,
    event: S3Event,
) -> Result<ArrivalReport, Error> {
    let mut report = ArrivalReport::default();
    for record in event.records {
        report.received += 1;
        let bucket = record.s3.bucket.name.as_deref().unwrap_or_default();
        let key = record.s3.object.key.as_deref().and_then(decode_event_key);
        let case = match key {
            Some(key) if bucket == photos.bucket => case_of_photo_key(&key),
            _ => None,
        };
        let Some(case_id) = case else {
            tracing::warn!("object outside the photo layout ignored");
            report.ignored += 1;
            continue;
        };
        tracing::Span::current().record("case_id", tracing::field::display(case_id));
        // Photos are attached only against a pending upload of an existing case.
        if photos.cases.case_file(&case_id).await?.is_none() {
            tracing::warn!("photo for an unknown case ignored");
        } else {
            tracing::warn!("photo with no pending upload ignored");
        }
        report.ignored += 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_case_from_a_photo_key() {
        let id = CaseId::new();
        assert_eq!(
            case_of_photo_key(&format!("cases/{id}/photos/p1")),
            Some(id)
        );
        assert_eq!(case_of_photo_key(&format!("cases/{id}/photos/")), None);
        assert_eq!(case_of_photo_key(&format!("cases/{id}/other/p1")), None);
        assert_eq!(case_of_photo_key("cases/not-an-id/photos/p1"), None);
        assert_eq!(
            case_of_photo_key(&format!("quarantine/cases/{id}/photos/p1")),
            None
        );
    }

    #[test]
    fn decodes_keys_as_s3_notifications_encode_them() {
        assert_eq!(
            decode_event_key("cases%2F01J%2Fphotos%2Fa+b.jpg").as_deref(),
            Some("cases/01J/photos/a b.jpg")
        );
        assert_eq!(
            decode_event_key("cases/01J/photos/%E7%85%A7").as_deref(),
            Some("cases/01J/photos/照")
        );
        assert_eq!(decode_event_key("bad%2"), None);
        assert_eq!(decode_event_key("bad%zz"), None);
    }
}
