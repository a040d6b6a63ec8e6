//! Service metrics (`GET /metrics`, the daily report): the counter items every write adds to,
//! and how a period's figures are read back from them, never by scanning cases.
//!
//! Daily counters live in the metrics table under a `series` and a period of the UTC day,
//! split over [`COUNTER_SHARDS`] items per day (`YYYY-MM-DD#<shard>`, the shard taken from the
//! case id): writers add inside their own transactions, and a transaction that touches an item
//! conflicts with any other touching it at the same time, so one item per day would turn a
//! Singles' Day burst into retries. A reader queries `YYYY-MM-DD` to `YYYY-MM-DD#~` and sums.
//!
//! Series and their attributes (all counts):
//! - [`SURVEYS`]: `sent`, `opted_out` (a due survey not sent because the customer opted out),
//!   `answered`, `satisfied` (CSAT 4 or 5), `csat_1` … `csat_5`, `nps_answers`,
//!   `nps_promoters` (9–10), `nps_detractors` (0–6); each on the day it happened.
//! - [`surveys_by_agent`]: per agent credited with the rating (the survey's `resolved_by`):
//!   `answered`, `satisfied`, `csat_sum`.

use chrono::NaiveDate;

use crate::case::CaseId;

/// Items per series and day.
pub const COUNTER_SHARDS: u8 = 8;

/// Survey outcomes per day.
pub const SURVEYS: &str = "surveys";

/// Survey answers credited to one agent (`"<role>:<subject>"`), per day.
pub fn surveys_by_agent(agent: &str) -> String {
    format!("surveys-by-agent#{agent}")
}

/// The period item a change about `case` on `day` adds to.
pub fn day_period(day: NaiveDate, case: &CaseId) -> String {
    let shard = case.random_bits() % u128::from(COUNTER_SHARDS);
    format!("{}#{shard}", day.format("%Y-%m-%d"))
}

/// The day a period item counts (`YYYY-MM-DD` or `YYYY-MM-DD#<shard>`).
pub fn day_of(period: &str) -> Option<NaiveDate> {
    let day = period.split_once('#').map_or(period, |(day, _)| day);
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// The period bounds that select every shard of the days `from` to `to`, both included.
pub fn period_bounds(from: NaiveDate, to: NaiveDate) -> (String, String) {
    (
        from.format("%Y-%m-%d").to_string(),
        format!("{}#~", to.format("%Y-%m-%d")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_days_shards_sort_between_its_bounds_and_name_their_day() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 11).unwrap();
        let (from, to) = period_bounds(day, day);
        let mut shards = std::collections::BTreeSet::new();
        for hour in 0..200 {
            let case = CaseId::from_instant(Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap());
            let period = day_period(day, &case);
            assert!(period.as_str() >= from.as_str() && period.as_str() <= to.as_str());
            assert_eq!(day_of(&period), Some(day), "{hour}");
            shards.insert(period);
        }
        assert!(shards.len() > 1, "case ids spread over shards: {shards:?}");
        let next = NaiveDate::from_ymd_opt(2026, 11, 12).unwrap();
        assert!(day_period(next, &CaseId::from_instant(Utc::now())).as_str() > to.as_str());
        assert_eq!(day_of("2026-11-11"), Some(day));
        assert_eq!(day_of("now"), None);
    }
}
