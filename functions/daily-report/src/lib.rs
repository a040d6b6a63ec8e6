//! The daily report: at 00:15 UTC (`DailyReportSchedule`), the service metrics of the UTC day
//! that just ended, the same figures `GET /metrics?from=<day>&to=<day>` answers, written to
//! the reports bucket as `reports/daily/<day>.json` (that answer's body) and
//! `reports/daily/<day>.csv` (one row per metric, see [`aftercare::metrics::report::to_csv`]).
//!
//! A function of its own rather than a second schedule on the SLA sweep or on intake: it needs
//! only to read the metrics table and to write the reports bucket, so neither the public API
//! nor the sweep gets S3 write access, and one schedule per function leaves nothing to tell
//! apart by rule name. The figures are computed by the shared code intake's route uses.
//!
//! "Now" is the schedule's own `time` field: the day reported is the one before it, so a run
//! that starts late, or is fired again by hand with a chosen time, reports the day it was
//! meant for. Writing a day's report again replaces it with the same content (idempotent),
//! unless a case of that day was since reopened or an order of it recorded late.

use aftercare::clock::{Clock, SystemClock};
use aftercare::config::{self, ConfigError};
use aftercare::metrics::report::{read, to_csv};
use aftercare::store::{
    CounterStore, DynamoCounterStore, ReportBucket, S3ReportBucket, StoreError, daily_report_key,
};
use aftercare::trigger::{Trigger, TriggerError};
use chrono::{DateTime, Days, NaiveDate, Utc};
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

/// What the report reads and writes.
pub trait Ports {
    type Counters: CounterStore;
    type Reports: ReportBucket;
    type Clock: Clock;
}

pub struct Aws;

impl Ports for Aws {
    type Counters = DynamoCounterStore;
    type Reports = S3ReportBucket;
    type Clock = SystemClock;
}

pub struct Reporter<P: Ports> {
    pub counters: P::Counters,
    pub reports: P::Reports,
    pub clock: P::Clock,
}

impl Reporter<Aws> {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let metrics_table = config::required("METRICS_TABLE")?;
        let bucket = config::required("REPORTS_BUCKET")?;
        let aws = config::aws().await;
        Ok(Reporter {
            counters: DynamoCounterStore::new(aws_sdk_dynamodb::Client::new(&aws), metrics_table),
            reports: S3ReportBucket::new(aws_sdk_s3::Client::new(&aws), bucket),
            clock: SystemClock,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error("the daily report is wired to its schedule only, not {0} events")]
    NotScheduled(&'static str),
    #[error("reading or writing the report failed: {0}")]
    Store(#[from] StoreError),
    #[error("the report could not be encoded: {0}")]
    Encoding(#[from] serde_json::Error),
}

/// What a run wrote; returned to the scheduler and logged.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Written {
    pub day: NaiveDate,
    pub json_key: String,
    pub csv_key: String,
}

/// The day a run at `at` reports: the UTC day before.
pub fn day_reported(at: DateTime<Utc>) -> NaiveDate {
    at.date_naive() - Days::new(1)
}

pub async fn handle<P: Ports>(
    reporter: &Reporter<P>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let span = tracing::info_span!("daily_report", request_id = %event.context.request_id);
    async move {
        let written = run(reporter, event.payload).await?;
        tracing::info!(day = %written.day, "daily report written");
        Ok(serde_json::to_value(written)?)
    }
    .instrument(span)
    .await
}

/// Writes the report of the day before the schedule's time.
pub async fn run<P: Ports>(reporter: &Reporter<P>, event: Value) -> Result<Written, ReportError> {
    let at = match Trigger::parse(event)? {
        Trigger::EventBridge(scheduled) => scheduled.time.unwrap_or_else(|| reporter.clock.now()),
        other => return Err(ReportError::NotScheduled(other.kind())),
    };
    let day = day_reported(at);
    let report = read(&reporter.counters, day, day).await?;
    let written = Written {
        day,
        json_key: daily_report_key(day, "json"),
        csv_key: daily_report_key(day, "csv"),
    };
    reporter
        .reports
        .put(
            &written.json_key,
            "application/json",
            serde_json::to_vec(&report)?,
        )
        .await?;
    reporter
        .reports
        .put(
            &written.csv_key,
            "text/csv; charset=utf-8",
            to_csv(&report).into_bytes(),
        )
        .await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftercare::clock::FixedClock;
    use aftercare::store::Counters;
    use chrono::TimeZone;
    use serde_json::json;
    use std::sync::Mutex;

    /// One day of counters on the 11th: two cases opened, four orders.
    struct OneDay;

    impl CounterStore for OneDay {
        async fn counters(&self, _: &str, _: &str) -> Result<Counters, StoreError> {
            Ok(Counters::new())
        }
        async fn counters_between(
            &self,
            _: &str,
            _: &str,
            _: &str,
        ) -> Result<Vec<Counters>, StoreError> {
            unreachable!("the report reads items with their periods")
        }
        async fn counter_items_between(
            &self,
            series: &str,
            from: &str,
            to: &str,
        ) -> Result<Vec<(String, Counters)>, StoreError> {
            let period = "2026-11-11#3";
            if !(from <= period && period <= to) {
                return Ok(vec![]);
            }
            Ok(match series {
                "cases" => vec![(
                    period.into(),
                    [("opened".to_owned(), 2), ("complaints".to_owned(), 1)].into(),
                )],
                "sales" => vec![(period.into(), [("orders".to_owned(), 4)].into())],
                _ => vec![],
            })
        }
    }

    #[derive(Default)]
    struct Bucket(Mutex<Vec<(String, String, Vec<u8>)>>);

    impl ReportBucket for Bucket {
        async fn put(
            &self,
            key: &str,
            content_type: &str,
            body: Vec<u8>,
        ) -> Result<(), StoreError> {
            self.0
                .lock()
                .unwrap()
                .push((key.into(), content_type.into(), body));
            Ok(())
        }
    }

    struct Memory;

    impl Ports for Memory {
        type Counters = OneDay;
        type Reports = Bucket;
        type Clock = FixedClock;
    }

    fn reporter() -> Reporter<Memory> {
        Reporter {
            counters: OneDay,
            reports: Bucket::default(),
            clock: FixedClock(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()),
        }
    }

    fn schedule(time: &str) -> Value {
        json!({"version": "0", "id": "1", "detail-type": "Scheduled Event",
            "source": "aws.events", "time": time, "detail": {}})
    }

    #[test]
    fn a_run_reports_the_utc_day_before_it() {
        let at = Utc.with_ymd_and_hms(2026, 11, 12, 0, 15, 0).unwrap();
        assert_eq!(
            day_reported(at),
            NaiveDate::from_ymd_opt(2026, 11, 11).unwrap()
        );
        let midnight = Utc.with_ymd_and_hms(2026, 11, 12, 0, 0, 0).unwrap();
        assert_eq!(
            day_reported(midnight),
            NaiveDate::from_ymd_opt(2026, 11, 11).unwrap()
        );
    }

    #[tokio::test]
    async fn the_schedule_writes_json_and_csv_of_the_day_before_and_again_the_same() {
        let reporter = reporter();
        let written = run(&reporter, schedule("2026-11-12T00:15:00Z"))
            .await
            .unwrap();
        assert_eq!(written.json_key, "reports/daily/2026-11-11.json");
        let again = run(&reporter, schedule("2026-11-12T00:15:00Z"))
            .await
            .unwrap();
        assert_eq!(again, written);
        let puts = reporter.reports.0.lock().unwrap();
        assert_eq!(puts.len(), 4);
        assert_eq!(puts[0].2, puts[2].2, "the same JSON again");
        assert_eq!(puts[1].2, puts[3].2, "the same CSV again");
        let report: Value = serde_json::from_slice(&puts[0].2).unwrap();
        assert_eq!(report["from"], "2026-11-11");
        assert_eq!(report["period"]["cases"]["opened"], 2);
        assert_eq!(
            report["days"][0]["complaint_rate"],
            json!({"rate": 0.25, "numerator": 1, "denominator": 4})
        );
        assert_eq!(puts[1].0, "reports/daily/2026-11-11.csv");
        assert_eq!(puts[1].1, "text/csv; charset=utf-8");
        let csv = String::from_utf8(puts[1].2.clone()).unwrap();
        assert!(
            csv.contains("\r\n2026-11-11,complaint_rate,,0.25,1,4\r\n"),
            "{csv}"
        );
    }

    #[tokio::test]
    async fn anything_but_a_schedule_is_refused_and_writes_nothing() {
        let reporter = reporter();
        let sqs = json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": "{}"}]});
        assert!(matches!(
            run(&reporter, sqs).await,
            Err(ReportError::NotScheduled("sqs"))
        ));
        assert!(reporter.reports.0.lock().unwrap().is_empty());
    }
}
