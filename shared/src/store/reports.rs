//! Where the daily service report is kept: an S3 bucket, `reports/daily/YYYY-MM-DD.json` and
//! `.csv`. A report of a day is a plain PutObject under a key of that day, so writing it
//! again replaces it: the schedule can run twice, or be run again by hand, safely.

use std::future::Future;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use chrono::NaiveDate;

use super::StoreError;
use super::dynamo::store_error;

/// The key of a day's report in one format (`json` or `csv`).
pub fn daily_report_key(day: NaiveDate, extension: &str) -> String {
    format!("reports/daily/{}.{extension}", day.format("%Y-%m-%d"))
}

pub trait ReportBucket: Send + Sync {
    /// Stores (or replaces) one object.
    fn put(
        &self,
        key: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct S3ReportBucket {
    client: Client,
    bucket: String,
}

impl S3ReportBucket {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3ReportBucket {
            client,
            bucket: bucket.into(),
        }
    }
}

impl ReportBucket for S3ReportBucket {
    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_days_reports_have_one_key_per_format() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 11).unwrap();
        assert_eq!(
            daily_report_key(day, "json"),
            "reports/daily/2026-11-11.json"
        );
        assert_eq!(daily_report_key(day, "csv"), "reports/daily/2026-11-11.csv");
    }
}
