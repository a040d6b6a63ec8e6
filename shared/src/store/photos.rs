//! The photo bucket (S3): presigned URLs for the app, and the photo function's reads and writes.
//! Key layout in [`crate::evidence`]. Keys and URLs are never logged here or by callers: they
//! name a customer's case and grant access to health data.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::SystemTime;

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::StoreError;
use super::dynamo::store_error;
use crate::case::Case;
use crate::evidence::{AttachedPhoto, DOWNLOAD_URL_LIFETIME, evidence_key};
use crate::photo::PhotoFormat;

/// A request the app (or a browser) makes itself, exactly as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedRequest {
    pub url: String,
    pub method: String,
    /// Headers the request must carry with these values, or S3 refuses it.
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// An object being read, chunk by chunk: never the whole object in memory.
pub struct PhotoObject {
    /// The object's size as S3 stores it.
    pub len: u64,
    body: ByteStream,
}

impl PhotoObject {
    /// An object held in memory: for tests of the code that reads objects.
    pub fn from_bytes(bytes: Vec<u8>) -> PhotoObject {
        PhotoObject {
            len: bytes.len() as u64,
            body: ByteStream::from(bytes),
        }
    }

    /// The next chunk, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<bytes::Bytes>, StoreError> {
        self.body
            .try_next()
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading a photo: {e}")))
    }
}

pub trait PhotoBucket: Send + Sync {
    /// A PUT of exactly `content_length` bytes of `format` to `key`, valid from `now` for
    /// `lifetime`; the type and length are signed, so S3 refuses any other.
    fn upload_url(
        &self,
        key: &str,
        format: PhotoFormat,
        content_length: u64,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> impl Future<Output = Result<SignedRequest, StoreError>> + Send;

    /// A GET of `key`, valid from `now` for `lifetime`.
    fn download_url(
        &self,
        key: &str,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> impl Future<Output = Result<SignedRequest, StoreError>> + Send;

    /// The object at `key`, to stream; `None` if there is none (already moved).
    fn open(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<PhotoObject>, StoreError>> + Send;

    /// Writes the file at `path` to `key` as `format`.
    fn put_file(
        &self,
        key: &str,
        format: PhotoFormat,
        path: &Path,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Copies `from` to `to` inside the bucket (S3 copies; nothing passes through here).
    fn copy(&self, from: &str, to: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes `key`; deleting a missing key succeeds (S3's own semantics).
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A link valid for [`DOWNLOAD_URL_LIFETIME`] from `now` to each photo attached to `case`, in
/// the order they were attached: what every view of a case's evidence shows.
pub async fn evidence_links<'c, B: PhotoBucket>(
    bucket: &B,
    case: &'c Case,
    now: DateTime<Utc>,
) -> Result<Vec<(&'c AttachedPhoto, SignedRequest)>, StoreError> {
    let mut links = Vec::with_capacity(case.photos.attached.len());
    for photo in &case.photos.attached {
        let signed = bucket
            .download_url(
                &evidence_key(&case.id, &photo.id),
                now,
                DOWNLOAD_URL_LIFETIME,
            )
            .await?;
        links.push((photo, signed));
    }
    Ok(links)
}

#[derive(Debug, Clone)]
pub struct S3PhotoBucket {
    client: Client,
    bucket: String,
}

impl S3PhotoBucket {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3PhotoBucket {
            client,
            bucket: bucket.into(),
        }
    }
}

fn presigning(now: DateTime<Utc>, lifetime: Duration) -> Result<PresigningConfig, StoreError> {
    let lifetime = lifetime
        .to_std()
        .map_err(|e| StoreError::Rejected(format!("a URL lifetime: {e}")))?;
    PresigningConfig::builder()
        .start_time(SystemTime::from(now))
        .expires_in(lifetime)
        .build()
        .map_err(|e| StoreError::Rejected(format!("presigning: {e}")))
}

fn signed(request: PresignedRequest, expires_at: DateTime<Utc>) -> SignedRequest {
    SignedRequest {
        url: request.uri().to_owned(),
        method: request.method().to_owned(),
        headers: request
            .headers()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect(),
        expires_at,
    }
}

impl PhotoBucket for S3PhotoBucket {
    async fn upload_url(
        &self,
        key: &str,
        format: PhotoFormat,
        content_length: u64,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Result<SignedRequest, StoreError> {
        let length = i64::try_from(content_length)
            .map_err(|_| StoreError::Rejected("a photo's length".into()))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(format.content_type())
            .content_length(length)
            .presigned(presigning(now, lifetime)?)
            .await
            .map_err(store_error)?;
        Ok(signed(request, now + lifetime))
    }

    async fn download_url(
        &self,
        key: &str,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Result<SignedRequest, StoreError> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(now, lifetime)?)
            .await
            .map_err(store_error)?;
        Ok(signed(request, now + lifetime))
    }

    async fn open(&self, key: &str) -> Result<Option<PhotoObject>, StoreError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(PhotoObject {
                len: output
                    .content_length
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or_default(),
                body: output.body,
            })),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(err) => Err(store_error(err)),
        }
    }

    async fn put_file(
        &self,
        key: &str,
        format: PhotoFormat,
        path: &Path,
    ) -> Result<(), StoreError> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading a scrubbed photo: {e}")))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(format.content_type())
            .body(body)
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), StoreError> {
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
            .key(to)
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The emulator does not check signatures, so what each URL signs is checked here.
    use super::*;
    use crate::case::CaseId;
    use crate::evidence::{
        DOWNLOAD_URL_LIFETIME, PhotoId, UPLOAD_URL_LIFETIME, evidence_key, upload_key,
    };
    use aws_sdk_s3::config::{Credentials, Region};
    use chrono::TimeZone;

    fn bucket() -> S3PhotoBucket {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "not-a-secret",
                None,
                None,
                "test",
            ))
            .build();
        S3PhotoBucket::new(Client::from_conf(config), "aftercare-photos")
    }

    fn query(url: &str) -> BTreeMap<String, String> {
        url.split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.replace("%3B", ";").replace("%2F", "/")))
            .collect()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 11, 8, 30, 0).unwrap()
    }

    #[tokio::test]
    async fn an_upload_url_signs_the_key_the_type_the_length_and_five_minutes() {
        let case = CaseId::new();
        let photo = PhotoId::from_instant(now());
        let key = upload_key(&case, &photo);
        let signed = bucket()
            .upload_url(&key, PhotoFormat::Heic, 123_456, now(), UPLOAD_URL_LIFETIME)
            .await
            .unwrap();
        assert_eq!(signed.method, "PUT");
        let (target, _) = signed.url.split_once('?').unwrap();
        assert_eq!(
            target,
            format!("https://aftercare-photos.s3.eu-west-1.amazonaws.com/{key}")
        );
        let query = query(&signed.url);
        assert_eq!(query["X-Amz-Expires"], "300");
        assert_eq!(query["X-Amz-Date"], "20261111T083000Z");
        let signed_headers: Vec<&str> = query["X-Amz-SignedHeaders"].split(';').collect();
        for header in ["content-length", "content-type", "host"] {
            assert!(
                signed_headers.contains(&header),
                "{header} not signed: {signed_headers:?}"
            );
        }
        assert_eq!(signed.headers["content-type"], "image/heic");
        assert_eq!(signed.headers["content-length"], "123456");
        assert_eq!(signed.expires_at, now() + Duration::minutes(5));
    }

    #[tokio::test]
    async fn a_download_url_reads_one_evidence_key_for_five_minutes() {
        let case = CaseId::new();
        let photo = PhotoId::from_instant(now());
        let key = evidence_key(&case, &photo);
        let signed = bucket()
            .download_url(&key, now(), DOWNLOAD_URL_LIFETIME)
            .await
            .unwrap();
        assert_eq!(signed.method, "GET");
        assert!(signed.url.starts_with(&format!(
            "https://aftercare-photos.s3.eu-west-1.amazonaws.com/{key}?"
        )));
        let query = query(&signed.url);
        assert_eq!(query["X-Amz-Expires"], "300");
        assert_eq!(query["X-Amz-SignedHeaders"], "host");
        assert_eq!(signed.expires_at, now() + Duration::minutes(5));
    }
}
