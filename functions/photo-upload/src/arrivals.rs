//! What arrives under `uploads/`: each upload is verified and attached, or quarantined.
//!
//! Every step can be repeated (S3 may notify twice, and Lambda retries a failed invocation),
//! so the order is chosen for that: the evidence copy is written first, then the case records
//! the photo (a version-conditional write), then the upload is deleted. A repeat finds the
//! slot gone and changes nothing; a crash before the case write is redone by the retry.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use aftercare::case::{Case, CaseId};
use aftercare::evidence::{
    Arrival, PhotoId, attach, evidence_key, parse_upload_key, quarantine_key, reject, upload_key,
};
use aftercare::photo::{MAX_PHOTO_BYTES, PhotoRejection, PhotoScrubber};
use aftercare::store::{CaseStore, PhotoBucket, StoreError, WrittenWith};
use aws_lambda_events::s3::S3Event;
use lambda_runtime::Error;
use serde::Serialize;

use crate::{Photos, Ports};

/// How often recording an arrival re-reads the case when another change won the race.
/// Every round of racing writers has a winner, so a case's worth of arrivals at once gets through.
const ATTEMPTS: usize = aftercare::evidence::MAX_PHOTOS_PER_CASE + 2;

/// What became of each object of one notification.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct ArrivalReport {
    pub received: usize,
    pub attached: usize,
    pub rejected: usize,
    /// Already handled: a repeated notification.
    pub duplicates: usize,
    /// Not an upload Aftercare issued (another bucket or key, no such case or slot).
    pub ignored: usize,
}

/// What became of one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Attached,
    Rejected,
    Duplicate,
    Ignored,
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

/// Verifies every upload of a notification. An error (the store or bucket unavailable) fails
/// the invocation, and Lambda retries it; whatever was done already is not done twice.
pub async fn verify_all<P: Ports>(
    photos: &Photos<P>,
    event: S3Event,
) -> Result<ArrivalReport, Error> {
    let mut report = ArrivalReport::default();
    for record in event.records {
        report.received += 1;
        let bucket = record.s3.bucket.name.as_deref().unwrap_or_default();
        let upload = record
            .s3
            .object
            .key
            .as_deref()
            .and_then(decode_event_key)
            .filter(|_| bucket == photos.bucket_name)
            .and_then(|key| parse_upload_key(&key));
        let outcome = match upload {
            Some((case_id, photo_id)) => {
                let span = tracing::Span::current();
                span.record("case_id", tracing::field::display(case_id));
                span.record("photo_id", tracing::field::display(photo_id));
                verify(photos, case_id, photo_id).await?
            }
            None => {
                tracing::warn!("object outside the upload layout ignored");
                Outcome::Ignored
            }
        };
        match outcome {
            Outcome::Attached => report.attached += 1,
            Outcome::Rejected => report.rejected += 1,
            Outcome::Duplicate => report.duplicates += 1,
            Outcome::Ignored => report.ignored += 1,
        }
    }
    tracing::info!(
        received = report.received,
        attached = report.attached,
        rejected = report.rejected,
        duplicates = report.duplicates,
        ignored = report.ignored,
        "uploads verified"
    );
    Ok(report)
}

async fn verify<P: Ports>(
    photos: &Photos<P>,
    case_id: CaseId,
    photo_id: PhotoId,
) -> Result<Outcome, Error> {
    let Some(case) = photos.cases.case(&case_id).await? else {
        tracing::warn!("upload for an unknown case ignored");
        return Ok(Outcome::Ignored);
    };
    let Some(pending) = case.photos.pending(&photo_id).cloned() else {
        return Ok(if case.photos.attached(&photo_id).is_some() {
            tracing::info!("photo already attached; repeated notification");
            Outcome::Duplicate
        } else {
            tracing::warn!("upload with no pending slot ignored");
            Outcome::Ignored
        });
    };
    let upload = upload_key(&case_id, &photo_id);
    let Some(mut object) = photos.bucket.open(&upload).await? else {
        // Handled and deleted by a notification that ran at the same time.
        tracing::info!("upload already gone; repeated notification");
        return Ok(Outcome::Duplicate);
    };
    let scratch = Scratch(
        photos
            .scratch_dir
            .join(format!("aftercare-photo-{photo_id}")),
    );
    // S3 enforces the signed length; checking it again costs nothing and covers any store
    // that does not (the local emulator ignores signatures).
    let inspected = if object.len > MAX_PHOTO_BYTES {
        Err(PhotoRejection::TooLarge {
            bytes: object.len,
            max: MAX_PHOTO_BYTES,
        })
    } else if object.len != pending.content_length {
        Err(PhotoRejection::SizeMismatch {
            expected: pending.content_length,
            actual: object.len,
        })
    } else {
        let file = BufWriter::new(File::create(&scratch.0)?);
        let mut scrubber = PhotoScrubber::new(pending.format, object.len, file);
        let mut refused = None;
        while let Some(chunk) = object.next_chunk().await? {
            if let Err(rejection) = scrubber.push(&chunk) {
                refused = Some(rejection);
                break;
            }
        }
        match refused {
            Some(rejection) => Err(rejection),
            None => scrubber.finish().and_then(|(inspected, mut file)| {
                use std::io::Write;
                file.flush()
                    .map_err(|e| PhotoRejection::Unreadable(e.to_string()))?;
                Ok(inspected)
            }),
        }
    };
    drop(object);
    let outcome = match inspected {
        Ok(inspected) => {
            photos
                .bucket
                .put_file(
                    &evidence_key(&case_id, &photo_id),
                    inspected.format,
                    &scratch.0,
                )
                .await?;
            record(photos, case, |case, now| {
                attach(case, &photo_id, &inspected, now)
            })
            .await?
        }
        // Our scratch disk failed, not the customer's photo: fail, and Lambda's retry redoes it.
        Err(PhotoRejection::WriteFailed(kind)) => {
            return Err(format!("writing the scrubbed photo failed: {kind:?}").into());
        }
        Err(rejection) => {
            tracing::warn!(reason = rejection.code(), "upload rejected");
            photos
                .bucket
                .copy(&upload, &quarantine_key(&case_id, &photo_id))
                .await?;
            record(photos, case, |case, now| {
                reject(case, &photo_id, &rejection, now)
            })
            .await?
        }
    };
    if outcome != Outcome::Duplicate {
        photos.bucket.delete(&upload).await?;
    }
    Ok(outcome)
}

/// Records what `decide` makes of the arrival on the case, re-reading the case when another
/// change won the race.
async fn record<P: Ports>(
    photos: &Photos<P>,
    mut case: Case,
    decide: impl Fn(&Case, chrono::DateTime<chrono::Utc>) -> Arrival,
) -> Result<Outcome, Error> {
    use aftercare::clock::Clock;
    for _ in 0..ATTEMPTS {
        let (changed, entry, outcome) = match decide(&case, photos.clock.now()) {
            Arrival::Attached(changed, entry) => (changed, entry, Outcome::Attached),
            Arrival::Rejected(changed, entry) => (changed, entry, Outcome::Rejected),
            Arrival::NotPending => return Ok(Outcome::Duplicate),
        };
        match photos
            .cases
            .record_change(&changed, &entry, WrittenWith::default())
            .await
        {
            Ok(()) => {
                tracing::info!(action = %entry.action, "upload recorded on the case");
                return Ok(outcome);
            }
            Err(StoreError::Conflict) => match photos.cases.case(&case.id).await? {
                Some(fresh) => case = fresh,
                None => return Ok(Outcome::Ignored),
            },
            Err(err) => return Err(err.into()),
        }
    }
    Err("the case kept changing while a photo was recorded; the retry will finish it".into())
}

/// The scrubbed copy on local disk, removed whatever happens.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_keys_as_s3_notifications_encode_them() {
        assert_eq!(
            decode_event_key("uploads%2Fcases%2F01J%2Fa+b").as_deref(),
            Some("uploads/cases/01J/a b")
        );
        assert_eq!(
            decode_event_key("cases/01J/photos/%E7%85%A7").as_deref(),
            Some("cases/01J/photos/照")
        );
        assert_eq!(decode_event_key("bad%2"), None);
        assert_eq!(decode_event_key("bad%zz"), None);
    }
}

#[cfg(test)]
mod handler_tests {
    //! The arrival rules that the end-to-end tests cannot provoke on demand: a notification
    //! racing another one for the same upload.
    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::Mutex;

    use aftercare::assessment::Assessment;
    use aftercare::auth::{Caller, Role};
    use aftercare::case::{CaseDraft, NewCaseLine, NewCaseRequest, TimelineEntry};
    use aftercare::clock::FixedClock;
    use aftercare::evidence::{UploadSpec, request_upload};
    use aftercare::photo::{PhotoFormat, samples};
    use aftercare::sla::SlaPolicy;
    use aftercare::store::{CaseFile, CasePage, PhotoObject, SignedRequest};
    use chrono::{DateTime, Duration, TimeZone, Utc};

    use super::*;
    use crate::Photos;

    /// One case; `interfere` runs once, just before the first write, as another notification
    /// handling the same upload would.
    struct OneCase {
        case: Mutex<Case>,
        interfere: Mutex<Option<Case>>,
        writes: Mutex<usize>,
    }

    impl CaseStore for OneCase {
        async fn open_case(
            &self,
            _: &Case,
            _: &TimelineEntry,
            _: WrittenWith<'_>,
        ) -> Result<(), StoreError> {
            Err(StoreError::Rejected("not used".into()))
        }
        async fn record_change(
            &self,
            case: &Case,
            _: &TimelineEntry,
            _: WrittenWith<'_>,
        ) -> Result<(), StoreError> {
            if let Some(winner) = self.interfere.lock().unwrap().take() {
                *self.case.lock().unwrap() = winner;
            }
            let mut stored = self.case.lock().unwrap();
            if stored.version + 1 != case.version {
                return Err(StoreError::Conflict);
            }
            *stored = case.clone();
            *self.writes.lock().unwrap() += 1;
            Ok(())
        }
        async fn cases_of_customer(
            &self,
            _: &str,
            _: i32,
            _: Option<&str>,
        ) -> Result<CasePage, StoreError> {
            Ok(CasePage {
                cases: vec![],
                next: None,
            })
        }
        async fn work_queue(
            &self,
            _: aftercare::case::Queue,
            _: i32,
            _: Option<&str>,
        ) -> Result<CasePage, StoreError> {
            Ok(CasePage {
                cases: vec![],
                next: None,
            })
        }
        async fn case(&self, id: &CaseId) -> Result<Option<Case>, StoreError> {
            let case = self.case.lock().unwrap().clone();
            Ok((case.id == *id).then_some(case))
        }
        async fn case_file(&self, id: &CaseId) -> Result<Option<CaseFile>, StoreError> {
            Ok(self.case(id).await?.map(|case| CaseFile {
                case,
                timeline: vec![],
            }))
        }
    }

    /// Objects in memory; what was written where.
    #[derive(Default)]
    struct Bucket {
        objects: Mutex<HashMap<String, Vec<u8>>>,
    }

    impl PhotoBucket for Bucket {
        async fn upload_url(
            &self,
            _: &str,
            _: PhotoFormat,
            _: u64,
            _: DateTime<Utc>,
            _: Duration,
        ) -> Result<SignedRequest, StoreError> {
            Err(StoreError::Rejected("not used".into()))
        }
        async fn download_url(
            &self,
            _: &str,
            _: DateTime<Utc>,
            _: Duration,
        ) -> Result<SignedRequest, StoreError> {
            Err(StoreError::Rejected("not used".into()))
        }
        async fn open(&self, key: &str) -> Result<Option<PhotoObject>, StoreError> {
            Ok(self
                .objects
                .lock()
                .unwrap()
                .get(key)
                .map(|bytes| PhotoObject::from_bytes(bytes.clone())))
        }
        async fn put_file(&self, key: &str, _: PhotoFormat, path: &Path) -> Result<(), StoreError> {
            let bytes = std::fs::read(path).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            self.objects.lock().unwrap().insert(key.to_owned(), bytes);
            Ok(())
        }
        async fn copy(&self, from: &str, to: &str) -> Result<(), StoreError> {
            let mut objects = self.objects.lock().unwrap();
            let bytes = objects.get(from).cloned().unwrap_or_default();
            objects.insert(to.to_owned(), bytes);
            Ok(())
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.objects.lock().unwrap().remove(key);
            Ok(())
        }
    }

    struct Fakes;
    impl crate::Ports for Fakes {
        type Cases = OneCase;
        type Bucket = Bucket;
        type Clock = FixedClock;
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 11, 8, 0, 0).unwrap()
    }

    /// A case with one upload slot for `photo`, and the photo function over it.
    fn photos_with_slot(photo: &[u8]) -> (Photos<Fakes>, Case, PhotoId) {
        let description = "the serum bottle arrived broken and leaking";
        let draft = CaseDraft::parse(NewCaseRequest {
            order_id: "o".into(),
            lines: vec![NewCaseLine {
                sku: "SERUM-30".into(),
                quantity: 1,
            }],
            description: description.into(),
            opened: None,
        })
        .unwrap();
        let opened = Case::open(
            draft,
            "c-1",
            Assessment::of_text(description, &Default::default(), now()),
            now(),
            &SlaPolicy::default(),
        );
        let customer = Caller {
            subject: "c-1".into(),
            role: Role::Customer,
        };
        let spec = UploadSpec {
            format: PhotoFormat::Jpeg,
            content_length: photo.len() as u64,
        };
        let (case, pending, _) = request_upload(&opened, spec, &customer, now()).unwrap();
        let bucket = Bucket::default();
        bucket
            .objects
            .lock()
            .unwrap()
            .insert(upload_key(&case.id, &pending.id), photo.to_vec());
        let photos = Photos {
            cases: OneCase {
                case: Mutex::new(case.clone()),
                interfere: Mutex::new(None),
                writes: Mutex::new(0),
            },
            bucket,
            bucket_name: "photos".into(),
            clock: FixedClock(now()),
            scratch_dir: std::env::temp_dir(),
        };
        (photos, case, pending.id)
    }

    #[tokio::test]
    async fn a_notification_that_loses_the_race_to_a_duplicate_changes_nothing_more() {
        let jpeg = samples::jpeg_with_gps(16, 16);
        let (photos, case, photo) = photos_with_slot(&jpeg);
        // The other notification attaches the same photo between our read and our write.
        let inspected = aftercare::photo::InspectedPhoto {
            format: PhotoFormat::Jpeg,
            width: 16,
            height: 16,
            bytes_in: jpeg.len() as u64,
            bytes_out: 1,
            metadata_removed: vec![],
        };
        let Arrival::Attached(winner, _) = attach(&case, &photo, &inspected, now()) else {
            panic!("the slot is pending");
        };
        *photos.cases.interfere.lock().unwrap() = Some(winner.clone());

        let outcome = verify(&photos, case.id, photo).await.unwrap();
        assert_eq!(outcome, Outcome::Duplicate);
        assert_eq!(
            *photos.cases.writes.lock().unwrap(),
            0,
            "nothing written twice"
        );
        assert_eq!(*photos.cases.case.lock().unwrap(), winner);
        let objects = photos.bucket.objects.lock().unwrap();
        assert!(
            objects.contains_key(&upload_key(&case.id, &photo)),
            "the winner deletes the upload, not the loser"
        );
        assert!(!samples::has_gps_exif(
            &objects[&evidence_key(&case.id, &photo)]
        ));
    }

    #[tokio::test]
    async fn a_failure_on_our_side_is_retried_never_blamed_on_the_photo() {
        let jpeg = samples::jpeg_with_gps(16, 16);
        let (mut photos, case, photo) = photos_with_slot(&jpeg);
        photos.scratch_dir = std::env::temp_dir()
            .join("aftercare-no-such-dir")
            .join("deeper");
        assert!(
            verify(&photos, case.id, photo).await.is_err(),
            "Lambda retries it"
        );
        let stored = photos.cases.case.lock().unwrap().clone();
        assert_eq!(stored, case, "the slot still waits for the retry");
        let objects = photos.bucket.objects.lock().unwrap();
        assert!(objects.contains_key(&upload_key(&case.id, &photo)));
        assert!(!objects.contains_key(&quarantine_key(&case.id, &photo)));
    }

    #[tokio::test]
    async fn an_upload_of_another_size_than_granted_is_quarantined_unread() {
        let jpeg = samples::jpeg_with_gps(16, 16);
        let (photos, case, photo) = photos_with_slot(&jpeg);
        photos.bucket.objects.lock().unwrap().insert(
            upload_key(&case.id, &photo),
            [jpeg.clone(), vec![0; 10]].concat(),
        );
        assert_eq!(
            verify(&photos, case.id, photo).await.unwrap(),
            Outcome::Rejected
        );
        let stored = photos.cases.case.lock().unwrap().clone();
        assert!(stored.photos.pending.is_empty() && stored.photos.attached.is_empty());
        let objects = photos.bucket.objects.lock().unwrap();
        assert!(objects.contains_key(&quarantine_key(&case.id, &photo)));
        assert!(!objects.contains_key(&upload_key(&case.id, &photo)));
        assert!(!objects.contains_key(&evidence_key(&case.id, &photo)));
    }
}
