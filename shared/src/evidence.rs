//! Photo evidence on a case: upload slots, what becomes of an upload, and where each photo lives
//! in the photo bucket. Pure: the photo function reads the case, this decides, the store writes
//! the result only if nobody changed the case meanwhile.
//!
//! A photo goes through two keys, so that nothing a customer can write is ever evidence:
//! - `uploads/cases/<case>/<photo>`: the one key a presigned PUT may write (5 minutes, type
//!   and length signed). Its ObjectCreated notification starts the verification; the bucket
//!   expires anything left here after a day (abandoned uploads).
//! - `cases/<case>/photos/<photo>`: the verified copy without metadata, written only by the
//!   photo function, kept for the evidence retention period and read through presigned GETs.
//! - `quarantine/cases/<case>/<photo>`: a rejected upload, kept a day for support to look at.
//!
//! A case holds at most [`MAX_PHOTOS_PER_CASE`] photos, counting those attached and the
//! uploads still allowed to arrive (a URL not yet expired), so a customer who asked for ten
//! URLs and sent nothing gets the slots back five minutes later.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::auth::Caller;
use crate::case::{Case, CaseId, CaseStatus, InvalidField, TimelineEntry};
use crate::photo::{InspectedPhoto, MAX_PHOTO_BYTES, MetadataKind, PhotoFormat, PhotoRejection};

/// The most photos one case holds (attached plus uploads under way).
pub const MAX_PHOTOS_PER_CASE: usize = 10;

/// How long a presigned upload URL is valid.
pub const UPLOAD_URL_LIFETIME: Duration = Duration::minutes(5);

/// How long a presigned download URL is valid.
pub const DOWNLOAD_URL_LIFETIME: Duration = Duration::minutes(5);

/// How long an upload is still accepted after its URL was issued: S3 checks the expiry when a
/// PUT starts, so a slow upload may complete later. After this the slot is forgotten (the
/// bucket has deleted any object left under `uploads/` by then).
pub const UPLOAD_ARRIVAL_WINDOW: Duration = Duration::hours(24);

/// A photo's id: a ULID, so a case's photos sort by the time their upload was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct PhotoId(Ulid);

impl PhotoId {
    pub fn from_instant(at: DateTime<Utc>) -> Self {
        PhotoId(Ulid::from_datetime(at.into()))
    }
}

impl FromStr for PhotoId {
    type Err = InvalidField;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ulid::from_string(raw)
            .map(PhotoId)
            .map_err(|_| InvalidField {
                field: "photo_id",
                reason: "is not a photo id".into(),
            })
    }
}

impl TryFrom<String> for PhotoId {
    type Error = InvalidField;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.parse()
    }
}

impl From<PhotoId> for String {
    fn from(id: PhotoId) -> String {
        id.to_string()
    }
}

impl fmt::Display for PhotoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The key a presigned PUT may write.
pub fn upload_key(case: &CaseId, photo: &PhotoId) -> String {
    format!("uploads/cases/{case}/{photo}")
}

/// The key of a verified photo.
pub fn evidence_key(case: &CaseId, photo: &PhotoId) -> String {
    format!("cases/{case}/photos/{photo}")
}

/// The key a rejected upload is moved to.
pub fn quarantine_key(case: &CaseId, photo: &PhotoId) -> String {
    format!("quarantine/cases/{case}/{photo}")
}

/// The case and photo of an upload key (decoded); `None` for any other key.
pub fn parse_upload_key(key: &str) -> Option<(CaseId, PhotoId)> {
    let rest = key.strip_prefix("uploads/cases/")?;
    let (case, photo) = rest.split_once('/')?;
    Some((case.parse().ok()?, photo.parse().ok()?))
}

/// `POST /cases/{id}/photos`, as the app sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhotoUploadRequest {
    pub content_type: String,
    pub content_length: i64,
}

/// An upload request that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadSpec {
    pub format: PhotoFormat,
    pub content_length: u64,
}

impl UploadSpec {
    pub fn parse(request: &PhotoUploadRequest) -> Result<UploadSpec, InvalidField> {
        let format =
            PhotoFormat::from_content_type(&request.content_type).ok_or_else(|| InvalidField {
                field: "content_type",
                reason: "must be image/jpeg, image/png, image/webp or image/heic".into(),
            })?;
        let content_length = u64::try_from(request.content_length)
            .ok()
            .filter(|n| (1..=MAX_PHOTO_BYTES).contains(n))
            .ok_or_else(|| InvalidField {
                field: "content_length",
                reason: format!(
                    "must be the photo's size in bytes, from 1 to {MAX_PHOTO_BYTES} (10 MiB)"
                ),
            })?;
        Ok(UploadSpec {
            format,
            content_length,
        })
    }
}

/// An upload URL issued and not yet used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPhoto {
    pub id: PhotoId,
    pub format: PhotoFormat,
    pub content_length: u64,
    /// `"<role>:<subject>"` of whoever asked for the URL: the photo is theirs.
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub url_expires_at: DateTime<Utc>,
}

/// A verified photo on the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedPhoto {
    pub id: PhotoId,
    pub format: PhotoFormat,
    /// Size after the metadata was removed.
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub uploaded_by: String,
    pub attached_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata_removed: Vec<MetadataKind>,
}

/// The photos of a case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasePhotos {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingPhoto>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached: Vec<AttachedPhoto>,
}

impl CasePhotos {
    /// Slots taken at `now`: attached photos and URLs that can still be used.
    pub fn slots_taken(&self, now: DateTime<Utc>) -> usize {
        self.attached.len()
            + self
                .pending
                .iter()
                .filter(|p| p.url_expires_at > now)
                .count()
    }

    pub fn pending(&self, id: &PhotoId) -> Option<&PendingPhoto> {
        self.pending.iter().find(|p| p.id == *id)
    }

    pub fn attached(&self, id: &PhotoId) -> Option<&AttachedPhoto> {
        self.attached.iter().find(|p| p.id == *id)
    }
}

/// Where a case stands on the photo evidence its remedy asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoEvidence {
    NotRequired,
    Missing,
    Attached,
}

impl PhotoEvidence {
    pub fn of(case: &Case) -> PhotoEvidence {
        match (case.photo_required(), case.photos.attached.is_empty()) {
            (false, _) => PhotoEvidence::NotRequired,
            (true, true) => PhotoEvidence::Missing,
            (true, false) => PhotoEvidence::Attached,
        }
    }
}

/// Why an upload URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoRefusal {
    #[error("a closed case takes no more photos")]
    CaseClosed,
    #[error("a case holds at most {MAX_PHOTOS_PER_CASE} photos")]
    LimitReached,
}

/// Issues an upload slot on `case` for `actor` at `now`: the changed case (version bumped),
/// the slot, and its timeline entry. Expired slots past their arrival window are forgotten.
pub fn request_upload(
    case: &Case,
    spec: UploadSpec,
    actor: &Caller,
    now: DateTime<Utc>,
) -> Result<(Case, PendingPhoto, TimelineEntry), PhotoRefusal> {
    if case.status == CaseStatus::Closed {
        return Err(PhotoRefusal::CaseClosed);
    }
    if case.photos.slots_taken(now) >= MAX_PHOTOS_PER_CASE {
        return Err(PhotoRefusal::LimitReached);
    }
    let pending = PendingPhoto {
        id: PhotoId::from_instant(now),
        format: spec.format,
        content_length: spec.content_length,
        requested_by: format!("{}:{}", actor.role, actor.subject),
        requested_at: now,
        url_expires_at: now + UPLOAD_URL_LIFETIME,
    };
    let mut next = case.clone();
    next.photos
        .pending
        .retain(|p| p.requested_at + UPLOAD_ARRIVAL_WINDOW > now);
    next.photos.pending.push(pending.clone());
    next.version = case.version + 1;
    let entry = TimelineEntry {
        at: now,
        actor: pending.requested_by.clone(),
        action: "photo_upload_requested".into(),
        note: Some(format!("photo {}", pending.id)),
    };
    Ok((next, pending, entry))
}

/// What becomes of an upload that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// Verified: the case (version bumped) with the photo attached, and the timeline entry.
    Attached(Case, TimelineEntry),
    /// Refused: the case (version bumped) without the slot, and the "rejected upload" entry
    /// the customer sees.
    Rejected(Case, TimelineEntry),
    /// No slot waits for this photo: already handled (a duplicate notification), or never
    /// issued. Nothing changes.
    NotPending,
}

/// Attaches the verified photo `id`, or rejects it when the case is full by now (a late
/// upload whose slot had expired and been reused).
pub fn attach(
    case: &Case,
    id: &PhotoId,
    inspected: &InspectedPhoto,
    now: DateTime<Utc>,
) -> Arrival {
    let Some(pending) = case.photos.pending(id).cloned() else {
        return Arrival::NotPending;
    };
    if case.photos.attached.len() >= MAX_PHOTOS_PER_CASE {
        return reject_with(
            case,
            &pending,
            "rejected upload: the case already holds 10 photos".into(),
            now,
        );
    }
    let mut next = case.clone();
    next.photos.pending.retain(|p| p.id != *id);
    next.photos.attached.push(AttachedPhoto {
        id: *id,
        format: inspected.format,
        bytes: inspected.bytes_out,
        width: inspected.width,
        height: inspected.height,
        uploaded_by: pending.requested_by.clone(),
        attached_at: now,
        metadata_removed: inspected.metadata_removed.clone(),
    });
    next.version = case.version + 1;
    let entry = TimelineEntry {
        at: now,
        actor: pending.requested_by,
        action: "photo_attached".into(),
        note: Some(format!("photo {id}")),
    };
    Arrival::Attached(next, entry)
}

/// Rejects the upload `id` for `why`; the reason goes on the timeline, in words the customer
/// understands.
pub fn reject(case: &Case, id: &PhotoId, why: &PhotoRejection, now: DateTime<Utc>) -> Arrival {
    match case.photos.pending(id).cloned() {
        Some(pending) => reject_with(case, &pending, format!("rejected upload: {why}"), now),
        None => Arrival::NotPending,
    }
}

fn reject_with(case: &Case, pending: &PendingPhoto, note: String, now: DateTime<Utc>) -> Arrival {
    let mut next = case.clone();
    next.photos.pending.retain(|p| p.id != pending.id);
    next.version = case.version + 1;
    let entry = TimelineEntry {
        at: now,
        actor: "system".into(),
        action: "photo_rejected".into(),
        note: Some(format!("{note} (photo {})", pending.id)),
    };
    Arrival::Rejected(next, entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assessment::Assessment;
    use crate::auth::Role;
    use crate::case::{CaseDraft, NewCaseLine, NewCaseRequest};
    use crate::sla::SlaPolicy;
    use chrono::TimeZone;

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 11, 8, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn case(description: &str) -> Case {
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
        Case::open(
            draft,
            "c-1",
            Assessment::of_text(description, &Default::default(), t(0)),
            t(0),
            &SlaPolicy::default(),
        )
    }

    fn owner() -> Caller {
        Caller {
            subject: "c-1".into(),
            role: Role::Customer,
        }
    }

    fn jpeg(bytes: u64) -> UploadSpec {
        UploadSpec {
            format: PhotoFormat::Jpeg,
            content_length: bytes,
        }
    }

    fn inspected() -> InspectedPhoto {
        InspectedPhoto {
            format: PhotoFormat::Jpeg,
            width: 640,
            height: 480,
            bytes_in: 1200,
            bytes_out: 1000,
            metadata_removed: vec![MetadataKind::Exif],
        }
    }

    #[test]
    fn keys_round_trip_and_nothing_else_parses_as_an_upload() {
        let case = CaseId::new();
        let photo = PhotoId::from_instant(t(0));
        assert_eq!(
            parse_upload_key(&upload_key(&case, &photo)),
            Some((case, photo))
        );
        assert_eq!(parse_upload_key(&evidence_key(&case, &photo)), None);
        assert_eq!(parse_upload_key(&quarantine_key(&case, &photo)), None);
        assert_eq!(parse_upload_key(&format!("uploads/cases/{case}/x")), None);
        assert_eq!(
            parse_upload_key(&format!("uploads/cases/{case}/{photo}/more")),
            None
        );
    }

    #[test]
    fn an_upload_request_names_an_allowed_type_and_a_size_up_to_10_mib() {
        let parse = |content_type: &str, content_length: i64| {
            UploadSpec::parse(&PhotoUploadRequest {
                content_type: content_type.into(),
                content_length,
            })
        };
        assert_eq!(parse("image/jpeg", 1).unwrap(), jpeg(1));
        assert_eq!(
            parse("image/heic", 10 * 1024 * 1024)
                .unwrap()
                .content_length,
            10_485_760
        );
        assert_eq!(
            parse("image/png", 10 * 1024 * 1024 + 1).unwrap_err().field,
            "content_length"
        );
        assert_eq!(parse("image/png", 0).unwrap_err().field, "content_length");
        assert_eq!(parse("image/png", -5).unwrap_err().field, "content_length");
        assert_eq!(parse("image/gif", 100).unwrap_err().field, "content_type");
        assert_eq!(
            parse("application/pdf", 100).unwrap_err().field,
            "content_type"
        );
    }

    #[test]
    fn ten_slots_per_case_and_expired_urls_give_theirs_back() {
        let second = |s: i64| t(0) + Duration::seconds(s);
        let mut current = case("the bottle arrived broken");
        for i in 0..10 {
            let (next, pending, entry) =
                request_upload(&current, jpeg(100), &owner(), second(i)).unwrap();
            assert_eq!(next.version, current.version + 1);
            assert_eq!(pending.url_expires_at, second(i) + UPLOAD_URL_LIFETIME);
            assert_eq!(entry.actor, "customer:c-1");
            current = next;
        }
        assert_eq!(
            request_upload(&current, jpeg(100), &owner(), second(60)).unwrap_err(),
            PhotoRefusal::LimitReached
        );
        // The first two URLs expired at 5:00 and 5:01; at 5:01 two slots are free again.
        let at = second(0) + UPLOAD_URL_LIFETIME + Duration::seconds(1);
        assert_eq!(current.photos.slots_taken(at), 8);
        let (next, _, _) = request_upload(&current, jpeg(100), &owner(), at).unwrap();
        assert_eq!(
            next.photos.pending.len(),
            11,
            "expired slots stay until their arrival window ends"
        );
        assert_eq!(next.photos.slots_taken(at), 9);
    }

    #[test]
    fn slots_past_their_arrival_window_are_forgotten() {
        let (with_one, _, _) = request_upload(&case("broken"), jpeg(100), &owner(), t(0)).unwrap();
        let later = t(0) + UPLOAD_ARRIVAL_WINDOW + Duration::minutes(1);
        let (next, fresh, _) = request_upload(&with_one, jpeg(100), &owner(), later).unwrap();
        assert_eq!(next.photos.pending, vec![fresh]);
    }

    #[test]
    fn a_closed_case_takes_no_photos_but_a_resolved_one_does() {
        let mut closed = case("broken");
        closed.status = CaseStatus::Closed;
        assert_eq!(
            request_upload(&closed, jpeg(100), &owner(), t(1)).unwrap_err(),
            PhotoRefusal::CaseClosed
        );
        let mut resolved = case("broken");
        resolved.status = CaseStatus::Resolved;
        assert!(request_upload(&resolved, jpeg(100), &owner(), t(1)).is_ok());
    }

    #[test]
    fn an_attached_photo_meets_the_photo_requirement_once() {
        let open = case("the serum bottle arrived broken and leaking");
        assert!(open.photo_required());
        assert_eq!(PhotoEvidence::of(&open), PhotoEvidence::Missing);
        let (requested, pending, _) = request_upload(&open, jpeg(1200), &owner(), t(1)).unwrap();
        let Arrival::Attached(attached, entry) =
            attach(&requested, &pending.id, &inspected(), t(2))
        else {
            panic!("a pending photo is attached");
        };
        assert_eq!(entry.action, "photo_attached");
        assert_eq!(entry.actor, "customer:c-1");
        assert_eq!(attached.version, requested.version + 1);
        assert!(attached.photos.pending.is_empty());
        assert_eq!(attached.photos.attached[0].width, 640);
        assert_eq!(attached.photos.attached[0].bytes, 1000);
        assert_eq!(PhotoEvidence::of(&attached), PhotoEvidence::Attached);
        // The same notification again changes nothing.
        assert_eq!(
            attach(&attached, &pending.id, &inspected(), t(3)),
            Arrival::NotPending
        );
        assert_eq!(
            reject(&attached, &pending.id, &PhotoRejection::NotAnImage, t(3)),
            Arrival::NotPending
        );
    }

    #[test]
    fn a_rejected_upload_frees_its_slot_and_says_why_on_the_timeline() {
        let (requested, pending, _) =
            request_upload(&case("broken"), jpeg(9), &owner(), t(1)).unwrap();
        let Arrival::Rejected(rejected, entry) =
            reject(&requested, &pending.id, &PhotoRejection::NotAnImage, t(2))
        else {
            panic!("a pending photo is rejected");
        };
        assert_eq!(entry.action, "photo_rejected");
        let note = entry.note.unwrap();
        assert!(note.starts_with("rejected upload: "), "{note}");
        assert!(
            note.contains(&PhotoRejection::NotAnImage.to_string()),
            "{note}"
        );
        assert!(rejected.photos.pending.is_empty() && rejected.photos.attached.is_empty());
        assert_eq!(rejected.photos.slots_taken(t(2)), 0);
    }

    #[test]
    fn a_late_upload_into_a_full_case_is_rejected_not_attached() {
        let (mut full, late, _) = request_upload(&case("broken"), jpeg(9), &owner(), t(0)).unwrap();
        for i in 0..10 {
            full.photos.attached.push(AttachedPhoto {
                id: PhotoId::from_instant(t(10 + i)),
                format: PhotoFormat::Png,
                bytes: 1,
                width: 1,
                height: 1,
                uploaded_by: "customer:c-1".into(),
                attached_at: t(10 + i),
                metadata_removed: vec![],
            });
        }
        let Arrival::Rejected(after, entry) = attach(&full, &late.id, &inspected(), t(30)) else {
            panic!("an 11th photo is never attached");
        };
        assert_eq!(after.photos.attached.len(), 10);
        assert!(entry.note.unwrap().contains("10 photos"));
    }
}
