//! Photo evidence end to end: a presigned URL, a real HTTP PUT to the emulator, the bucket's
//! notification, verification in the photo function, and the case and its photo links after.
//! What the URLs sign is checked by unit tests (`aftercare::store` photos): the emulator does
//! not check signatures.

use std::time::Duration;

use aftercare::photo::samples;
use aftercare_e2e::{eventually, twin, unique};
use serde_json::{Value, json};

use crate::{answer, http, place_order};

/// A case whose remedy needs photo evidence (a broken, leaking bottle), and its customer.
pub(crate) async fn case_needing_a_photo() -> (String, String) {
    let twin = twin();
    let customer = unique("c");
    let order = place_order(&customer).await;
    let body = json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}],
                      "description": "the serum bottle arrived broken and leaking"});
    let (status, case) = answer(
        http()
            .post(twin.api("/cases"))
            .bearer_auth(twin.token(&customer, "customer"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    assert_eq!(case["photo_evidence"], "missing", "{case}");
    (case["id"].as_str().unwrap().to_owned(), customer)
}

pub(crate) async fn ask_upload(
    case: &str,
    token: &str,
    content_type: &str,
    length: usize,
) -> (u16, Value) {
    answer(
        http()
            .post(twin().api(&format!("/cases/{case}/photos")))
            .bearer_auth(token)
            .json(&json!({"content_type": content_type, "content_length": length}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// PUTs `bytes` exactly as the grant says, as the app would.
pub(crate) async fn upload(grant: &Value, bytes: Vec<u8>) {
    assert_eq!(grant["method"], "PUT");
    let mut request = http().put(grant["upload_url"].as_str().unwrap());
    for (name, value) in grant["headers"].as_object().unwrap() {
        // reqwest sets Content-Length from the body; the signed value must match it.
        if name != "content-length" {
            request = request.header(name, value.as_str().unwrap());
        }
    }
    let response = request.body(bytes).send().await.unwrap();
    assert!(response.status().is_success(), "PUT: {}", response.status());
}

pub(crate) async fn get(path: &str, token: &str) -> (u16, Value) {
    answer(
        http()
            .get(twin().api(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The case's timeline entry of `action` for `photo`, once the photo function has written it.
pub(crate) async fn timeline_entry(case: &str, token: &str, action: &str, photo: &str) -> Value {
    eventually(
        twin(),
        "PhotoUploadFunction",
        &format!("{action} of photo {photo}"),
        Duration::from_secs(30),
        || async {
            let (_, file) = get(&format!("/cases/{case}"), token).await;
            file["timeline"].as_array().and_then(|entries| {
                entries
                    .iter()
                    .find(|e| {
                        e["action"] == action
                            && e["note"].as_str().is_some_and(|n| n.contains(photo))
                    })
                    .cloned()
            })
        },
    )
    .await
}

async fn object_exists(key: String) -> bool {
    let twin = twin();
    aws_sdk_s3::Client::new(&twin.aws().await)
        .head_object()
        .bucket(twin.name_of("PhotoBucket"))
        .key(key)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn a_photo_with_gps_is_uploaded_verified_and_attached_without_its_metadata() {
    let twin = twin();
    let (case, customer) = case_needing_a_photo().await;
    let me = twin.token(&customer, "customer");
    let photo = samples::jpeg_with_gps(64, 48);
    assert!(
        samples::has_gps_exif(&photo),
        "the sample carries GPS to remove"
    );

    let before = chrono::Utc::now();
    let (status, grant) = ask_upload(&case, &me, "image/jpeg", photo.len()).await;
    assert_eq!(status, 201, "{grant}");
    assert_eq!(grant["headers"]["content-type"], "image/jpeg");
    assert_eq!(grant["headers"]["content-length"], photo.len().to_string());
    let expires: chrono::DateTime<chrono::Utc> =
        grant["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires <= before + chrono::Duration::minutes(5) + chrono::Duration::seconds(2));
    let photo_id = grant["photo_id"].as_str().unwrap().to_owned();
    assert!(
        grant["upload_url"]
            .as_str()
            .unwrap()
            .contains(&format!("uploads/cases/{case}/{photo_id}")),
        "one key under the case's upload prefix"
    );

    upload(&grant, photo.clone()).await;
    let entry = timeline_entry(&case, &me, "photo_attached", &photo_id).await;
    assert_eq!(entry["actor"], format!("customer:{customer}"));

    let (status, listed) = get(&format!("/cases/{case}/photos"), &me).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["photo_evidence"], "attached");
    let photos = listed["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 1, "{listed}");
    assert_eq!(
        (photos[0]["width"].as_u64(), photos[0]["height"].as_u64()),
        (Some(64), Some(48))
    );
    let stored = http()
        .get(photos[0]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(stored.starts_with(&[0xFF, 0xD8]), "still a JPEG");
    assert!(!samples::has_gps_exif(&stored), "the GPS position is gone");
    assert!(stored.len() < photo.len(), "the metadata was cut out");
    assert_eq!(photos[0]["bytes"].as_u64(), Some(stored.len() as u64));

    // The case now shows the evidence its remedy needs; the upload itself is gone.
    let (_, file) = get(&format!("/cases/{case}"), &me).await;
    assert_eq!(
        (
            file["photo_evidence"].as_str(),
            file["photos_attached"].as_u64()
        ),
        (Some("attached"), Some(1))
    );
    assert!(!object_exists(format!("uploads/cases/{case}/{photo_id}")).await);

    // Staff see the photo; another customer and finance do not even see the case.
    let agent = twin.token(&unique("a"), "agent");
    assert_eq!(get(&format!("/cases/{case}/photos"), &agent).await.0, 200);
    for stranger in [
        twin.token(&unique("c"), "customer"),
        twin.token(&unique("f"), "finance"),
    ] {
        let (status, refused) = get(&format!("/cases/{case}/photos"), &stranger).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (404, Some("not_found"))
        );
        let (status, _) = ask_upload(&case, &stranger, "image/jpeg", 100).await;
        assert_eq!(status, 404);
    }

    // The same notification again (S3 may deliver twice) changes nothing.
    let version = file["version"].as_u64().unwrap();
    let repeat = twin
        .invoke(
            "PhotoUploadFunction",
            notification(&format!("uploads/cases/{case}/{photo_id}")),
        )
        .await
        .unwrap();
    assert_eq!(
        (repeat["received"].as_u64(), repeat["duplicates"].as_u64()),
        (Some(1), Some(1)),
        "{repeat}"
    );
    let (_, after) = get(&format!("/cases/{case}"), &me).await;
    assert_eq!(after["version"].as_u64(), Some(version));
    assert_eq!(after["photos_attached"].as_u64(), Some(1));
}

/// An S3 notification of `key` in the photo bucket, as S3 sends it.
fn notification(key: &str) -> Value {
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(
            aftercare_e2e::workspace().join("events/photo-upload-s3-created.json"),
        )
        .unwrap(),
    )
    .unwrap();
    event["Records"][0]["s3"]["bucket"]["name"] = Value::from(twin().name_of("PhotoBucket"));
    event["Records"][0]["s3"]["object"]["key"] = Value::from(key.replace('/', "%2F"));
    event
}

#[tokio::test]
async fn a_text_file_renamed_jpg_and_an_oversize_object_are_quarantined_never_attached() {
    let twin = twin();
    let (case, customer) = case_needing_a_photo().await;
    let me = twin.token(&customer, "customer");

    let text = b"this is not a photo at all, just text renamed leak.jpg".to_vec();
    let (_, grant) = ask_upload(&case, &me, "image/jpeg", text.len()).await;
    let fake = grant["photo_id"].as_str().unwrap().to_owned();
    upload(&grant, text).await;

    // Declared 1 KiB, sent 10 MiB + 1: S3 refuses that against the signature; the emulator
    // does not, so the function's own check is what is tested here.
    let (_, grant) = ask_upload(&case, &me, "image/jpeg", 1024).await;
    let oversize = grant["photo_id"].as_str().unwrap().to_owned();
    let mut big = samples::jpeg_with_gps(16, 16);
    big.resize(10 * 1024 * 1024 + 1, 0);
    let mut request = http().put(grant["upload_url"].as_str().unwrap());
    request = request.header("content-type", "image/jpeg");
    assert!(
        request
            .body(big)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );

    for (photo, words) in [(&fake, "not"), (&oversize, "10 MiB")] {
        let entry = timeline_entry(&case, &me, "photo_rejected", photo).await;
        let note = entry["note"].as_str().unwrap();
        assert!(note.starts_with("rejected upload: "), "{note}");
        assert!(note.contains(words), "the reason is said: {note}");
        assert!(object_exists(format!("quarantine/cases/{case}/{photo}")).await);
        assert!(!object_exists(format!("uploads/cases/{case}/{photo}")).await);
        assert!(!object_exists(format!("cases/{case}/photos/{photo}")).await);
    }
    let (_, listed) = get(&format!("/cases/{case}/photos"), &me).await;
    assert_eq!(listed["photos"], json!([]), "{listed}");
    assert_eq!(listed["photo_evidence"], "missing");
    assert_eq!(
        listed["uploads_pending"], 0,
        "rejected uploads give their slots back"
    );
}

#[tokio::test]
async fn a_case_takes_ten_photos_a_closed_case_none_and_bad_requests_write_nothing() {
    let twin = twin();
    let (case, customer) = case_needing_a_photo().await;
    let me = twin.token(&customer, "customer");
    let version = |file: &Value| file["version"].as_u64().unwrap();
    let (_, start) = get(&format!("/cases/{case}"), &me).await;

    for (content_type, length, field) in [
        ("image/gif", 100, "content_type"),
        ("image/jpeg", 10 * 1024 * 1024 + 1, "content_length"),
        ("image/png", 0, "content_length"),
    ] {
        let (status, refused) = ask_upload(&case, &me, content_type, length).await;
        assert_eq!(status, 422, "{refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{refused}"
        );
    }
    let (status, _) = answer(
        http()
            .post(twin.api(&format!("/cases/{case}/photos")))
            .bearer_auth(&me)
            .json(&json!({"content_type": "image/png", "content_length": 5, "url": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "unknown fields are refused");
    let (status, _) = answer(
        http()
            .post(twin.api(&format!("/cases/{case}/photos")))
            .json(&json!({"content_type": "image/png", "content_length": 5}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let (_, unchanged) = get(&format!("/cases/{case}"), &me).await;
    assert_eq!(
        version(&unchanged),
        version(&start),
        "refusals write nothing"
    );

    // Ten at once, as an app sending a batch would: each gets its own slot.
    let grants =
        futures_util::future::join_all((0..10).map(|_| ask_upload(&case, &me, "image/png", 2_000)))
            .await;
    for (status, grant) in &grants {
        assert_eq!(*status, 201, "{grant}");
    }
    let (status, refused) = ask_upload(&case, &me, "image/png", 2_000).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("photo_limit_reached"))
    );

    let (case2, customer2) = case_needing_a_photo().await;
    let me2 = twin.token(&customer2, "customer");
    let agent = twin.token(&unique("a"), "agent");
    for (action, body) in [
        (
            "resolve",
            json!({"remedy": "replacement", "note": "a new bottle ships today"}),
        ),
        ("close", json!({})),
    ] {
        let (status, answer) = answer(
            http()
                .post(twin.api(&format!("/cases/{case2}/{action}")))
                .bearer_auth(&agent)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{action}: {answer}");
    }
    let (status, refused) = ask_upload(&case2, &me2, "image/jpeg", 100).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("case_closed")),
        "{refused}"
    );
}

#[tokio::test]
async fn an_upload_no_slot_was_issued_for_is_ignored_and_logged() {
    let twin = twin();
    let (case, customer) = case_needing_a_photo().await;
    let photo = ulid::Ulid::new().to_string();
    let s3 = aws_sdk_s3::Client::new(&twin.aws().await);
    s3.put_object()
        .bucket(twin.name_of("PhotoBucket"))
        .key(format!("uploads/cases/{case}/{photo}"))
        .body(samples::jpeg_with_gps(8, 8).into())
        .send()
        .await
        .unwrap();
    eventually(
        twin,
        "PhotoUploadFunction",
        "the unexpected upload being logged",
        Duration::from_secs(30),
        || async {
            twin.function_log("PhotoUploadFunction")
                .lines()
                .any(|l| l.contains(&photo) && l.contains("upload with no pending slot ignored"))
                .then_some(())
        },
    )
    .await;
    let (_, file) = get(
        &format!("/cases/{case}"),
        &twin.token(&customer, "customer"),
    )
    .await;
    assert_eq!(file["photos_attached"], 0);
    let log = twin.function_log("PhotoUploadFunction");
    assert!(!log.contains("uploads/cases/"), "keys never reach the log");
    assert!(!log.contains("X-Amz-Signature"), "URLs never reach the log");
}
