//! First-response and resolution times for the supervisors' SLA overview, from counters.
//!
//! The overview shows, per queue and over a period of days, the p50 and p90 of each measure and
//! the share within target. Scanning cases to compute that would grow with the case count, so
//! the numbers come from counters kept at write time instead: when a case gets its first response
//! or is resolved, the item of its (queue, measure, UTC day) gets atomic ADDs of [`increments`]
//! (`count`, `within_target` and one histogram bucket) in a single update, so the three always
//! agree. Reading back a period merges its day items and summarises them.
//!
//! Pure: the bucket scheme, the increments, merging and the percentile arithmetic. The adapter
//! owns keys, the UpdateItem and the reads.
//!
//! Percentiles use the nearest-rank method over the histogram: the p-th percentile is the
//! smallest bucket bound `B` such that the number of observations `<= B` is at least
//! `ceil(p / 100 * count)`. A histogram only knows which bucket holds that observation, so the
//! answer is an upper bound ("at most B minutes"), never an interpolated guess.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Upper bounds (inclusive) of the histogram buckets, in whole minutes; a last open bucket holds
/// anything above. Fine where SLA targets sit (15 min to 4 h), coarse over days; the bounds are
/// part of the stored data, so changing them splits history into incomparable halves.
pub const BUCKET_BOUNDS_MINUTES: &[i64] = &[
    1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 960, 1440, 2160, 2880, 4320,
    7200, 10080,
];

/// The counter attribute of each bounded bucket, index for index with [`BUCKET_BOUNDS_MINUTES`]
/// (spelled out because attribute names are `&'static str`; a test checks they agree).
const BUCKET_NAMES: &[&str] = &[
    "le_1", "le_2", "le_5", "le_10", "le_15", "le_20", "le_30", "le_45", "le_60", "le_90",
    "le_120", "le_180", "le_240", "le_360", "le_480", "le_720", "le_960", "le_1440", "le_2160",
    "le_2880", "le_4320", "le_7200", "le_10080",
];

const _: () = assert!(BUCKET_NAMES.len() == BUCKET_BOUNDS_MINUTES.len());

/// The counter attribute of the open bucket above the last bound.
const OPEN_BUCKET: &str = "le_inf";
/// The counter attribute of the number of observations.
const COUNT: &str = "count";
/// The counter attribute of the number of observations within their target.
const WITHIN_TARGET: &str = "within_target";

/// Which time is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// From the case being opened to its first response.
    FirstResponse,
    /// From the case being opened to its resolution.
    Resolution,
}

impl Measure {
    /// The stable name used in counter item keys (same spelling as the serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::FirstResponse => "first_response",
            Measure::Resolution => "resolution",
        }
    }
}

/// The name of the counter attribute of a bucket: "le_<bound>" for bounded buckets, "le_inf" for
/// the open one. Which bucket an observation of `minutes` falls in: the first whose bound is at
/// least `minutes`; 0 or negative minutes (clock skew) go to the first bucket. Callers should
/// round partial minutes up, so that "at most B minutes" stays true of every observation.
pub fn bucket_name(minutes: i64) -> &'static str {
    let index = BUCKET_BOUNDS_MINUTES.partition_point(|&bound| bound < minutes);
    BUCKET_NAMES.get(index).copied().unwrap_or(OPEN_BUCKET)
}

/// One observation as the counter increments it causes: `[("count", 1), ("within_target", 0 or
/// 1), (bucket_name, 1)]`. Meant for one UpdateItem of ADDs, so the counters never disagree.
pub fn increments(minutes_taken: i64, within_target: bool) -> Vec<(&'static str, i64)> {
    vec![
        (COUNT, 1),
        (WITHIN_TARGET, i64::from(within_target)),
        (bucket_name(minutes_taken), 1),
    ]
}

/// Counters of one (queue, measure) over some days, as read back (attribute name -> value).
/// `buckets` holds only non-zero counters, so equal histograms compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseTimeCounters {
    pub count: i64,
    pub within_target: i64,
    pub buckets: BTreeMap<String, i64>,
}

impl ResponseTimeCounters {
    /// From the numeric attributes of one stored day item (unknown attributes ignored, so keys,
    /// TTLs and future counters on the same item do no harm; names as [`increments`] writes them).
    pub fn from_attributes<'a>(attributes: impl IntoIterator<Item = (&'a str, i64)>) -> Self {
        let mut counters = ResponseTimeCounters::default();
        for (name, value) in attributes {
            match name {
                COUNT => counters.count += value,
                WITHIN_TARGET => counters.within_target += value,
                _ if is_bucket_name(name) => counters.add_to_bucket(name, value),
                _ => {}
            }
        }
        counters
    }

    /// Adds another day's counters (counters are plain sums, so days merge in any order).
    pub fn merge(&mut self, other: &ResponseTimeCounters) {
        self.count += other.count;
        self.within_target += other.within_target;
        for (name, value) in &other.buckets {
            self.add_to_bucket(name, *value);
        }
    }

    /// The summary shown to supervisors.
    pub fn summary(&self) -> ResponseTimeSummary {
        if self.count <= 0 {
            return ResponseTimeSummary {
                count: 0,
                p50_minutes_at_most: None,
                p90_minutes_at_most: None,
                share_within_target: None,
                beyond_last_bucket: false,
            };
        }
        let p90 = self.percentile_at_most(90);
        let share = self.within_target as f64 / self.count as f64;
        ResponseTimeSummary {
            count: self.count,
            p50_minutes_at_most: self.percentile_at_most(50),
            p90_minutes_at_most: p90,
            share_within_target: Some((share * 10_000.0).round() / 10_000.0),
            beyond_last_bucket: p90.is_none(),
        }
    }

    /// Nearest rank: the smallest bound whose cumulative count reaches `ceil(percent * count /
    /// 100)`; None when that rank lies in the open bucket. The open bucket's own counter is not
    /// needed: whatever the bounded buckets do not reach is above the last bound.
    fn percentile_at_most(&self, percent: i64) -> Option<i64> {
        let rank = (percent * self.count + 99) / 100;
        let mut observations_at_most = 0;
        for (bound, name) in BUCKET_BOUNDS_MINUTES.iter().zip(BUCKET_NAMES) {
            observations_at_most += self.buckets.get(*name).copied().unwrap_or(0);
            if observations_at_most >= rank {
                return Some(*bound);
            }
        }
        None
    }

    fn add_to_bucket(&mut self, name: &str, value: i64) {
        if value == 0 {
            return;
        }
        let total = self.buckets.entry(name.to_string()).or_insert(0);
        *total += value;
        if *total == 0 {
            self.buckets.remove(name);
        }
    }
}

fn is_bucket_name(name: &str) -> bool {
    name == OPEN_BUCKET || BUCKET_NAMES.contains(&name)
}

/// What the SLA overview shows for one (queue, measure) over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseTimeSummary {
    pub count: i64,
    /// Upper bound in minutes of the bucket holding the median (the true p50 is at most this);
    /// None when count is 0 or the bucket is the open one.
    pub p50_minutes_at_most: Option<i64>,
    /// Upper bound in minutes of the bucket holding the 90th percentile; None as for p50.
    pub p90_minutes_at_most: Option<i64>,
    /// within_target / count, rounded to 4 decimals; None when count is 0.
    pub share_within_target: Option<f64>,
    /// True when p90 falls into the open bucket (above the last bound), so the overview can say
    /// "over a week" instead of showing nothing.
    pub beyond_last_bucket: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What DynamoDB ADDs leave on one item after these observations.
    fn stored_item(observations: &[(i64, bool)]) -> BTreeMap<&'static str, i64> {
        let mut item = BTreeMap::new();
        for &(minutes, within) in observations {
            for (name, value) in increments(minutes, within) {
                *item.entry(name).or_insert(0) += value;
            }
        }
        item
    }

    fn counters_of(observations: &[(i64, bool)]) -> ResponseTimeCounters {
        ResponseTimeCounters::from_attributes(stored_item(observations))
    }

    fn repeated(times: usize, minutes: i64, within: bool) -> Vec<(i64, bool)> {
        vec![(minutes, within); times]
    }

    #[test]
    fn bucket_names_spell_out_the_bounds_in_ascending_order() {
        for (bound, name) in BUCKET_BOUNDS_MINUTES.iter().zip(BUCKET_NAMES) {
            assert_eq!(*name, format!("le_{bound}"));
        }
        assert!(
            BUCKET_BOUNDS_MINUTES
                .windows(2)
                .all(|pair| pair[0] < pair[1])
        );
    }

    #[test]
    fn observations_land_in_the_first_bucket_whose_bound_is_not_below_them() {
        let cases = [
            (0, "le_1"),
            (1, "le_1"),
            (2, "le_2"),
            (3, "le_5"),
            (60, "le_60"),
            (61, "le_90"),
            (1440, "le_1440"),
            (10080, "le_10080"),
            (10081, "le_inf"),
        ];
        for (minutes, expected) in cases {
            assert_eq!(bucket_name(minutes), expected, "{minutes} minutes");
        }
    }

    #[test]
    fn negative_minutes_from_clock_skew_land_in_the_first_bucket() {
        assert_eq!(bucket_name(-5), "le_1");
        assert_eq!(bucket_name(i64::MIN), "le_1");
        assert_eq!(bucket_name(i64::MAX), "le_inf");
    }

    #[test]
    fn an_observation_within_target_counts_once_and_as_within() {
        assert_eq!(
            increments(12, true),
            vec![("count", 1), ("within_target", 1), ("le_15", 1)]
        );
    }

    #[test]
    fn a_late_observation_counts_once_but_not_as_within() {
        assert_eq!(
            increments(300, false),
            vec![("count", 1), ("within_target", 0), ("le_360", 1)]
        );
    }

    #[test]
    fn measures_have_stable_snake_case_names() {
        assert_eq!(Measure::FirstResponse.as_str(), "first_response");
        assert_eq!(Measure::Resolution.as_str(), "resolution");
        assert_eq!(
            serde_json::to_string(&Measure::FirstResponse).unwrap(),
            "\"first_response\""
        );
        assert_eq!(
            serde_json::from_str::<Measure>("\"resolution\"").unwrap(),
            Measure::Resolution
        );
    }

    #[test]
    fn percentiles_and_share_of_a_known_distribution() {
        // 21 observations: p50 rank = ceil(10.5) = 11, p90 rank = ceil(18.9) = 19.
        // At most 5 min: 10 (< 11); at most 60 min: 20 (>= 11 and >= 19).
        let mut observations = repeated(10, 5, true);
        observations.extend(repeated(7, 60, true));
        observations.extend(repeated(3, 60, false));
        observations.push((1000, false));
        let summary = counters_of(&observations).summary();
        assert_eq!(
            summary,
            ResponseTimeSummary {
                count: 21,
                p50_minutes_at_most: Some(60),
                p90_minutes_at_most: Some(60),
                // 17 / 21 = 0.809523...
                share_within_target: Some(0.8095),
                beyond_last_bucket: false,
            }
        );
    }

    #[test]
    fn a_rank_exactly_at_a_cumulative_count_stays_in_that_bucket() {
        // 100 observations: 50 at most 5 min, 90 at most 30 min, 100 at most 240 min.
        // p50 rank 50 is reached at le_5, p90 rank 90 at le_30.
        let mut observations = repeated(50, 3, true);
        observations.extend(repeated(40, 25, true));
        observations.extend(repeated(10, 200, false));
        let summary = counters_of(&observations).summary();
        assert_eq!(summary.p50_minutes_at_most, Some(5));
        assert_eq!(summary.p90_minutes_at_most, Some(30));
        assert_eq!(summary.share_within_target, Some(0.9));

        // One more slow observation: 101 observations, so both ranks step past a boundary:
        // p50 rank ceil(50.5) = 51 > 50 and p90 rank ceil(90.9) = 91 > 90.
        observations.push((200, false));
        let summary = counters_of(&observations).summary();
        assert_eq!(summary.p50_minutes_at_most, Some(30));
        assert_eq!(summary.p90_minutes_at_most, Some(240));
        // 90 / 101 = 0.891089...
        assert_eq!(summary.share_within_target, Some(0.8911));
    }

    #[test]
    fn a_single_observation_is_every_percentile() {
        let summary = counters_of(&[(7, true)]).summary();
        assert_eq!(
            summary,
            ResponseTimeSummary {
                count: 1,
                p50_minutes_at_most: Some(10),
                p90_minutes_at_most: Some(10),
                share_within_target: Some(1.0),
                beyond_last_bucket: false,
            }
        );
    }

    #[test]
    fn empty_counters_summarise_to_nothing() {
        assert_eq!(
            ResponseTimeCounters::default().summary(),
            ResponseTimeSummary {
                count: 0,
                p50_minutes_at_most: None,
                p90_minutes_at_most: None,
                share_within_target: None,
                beyond_last_bucket: false,
            }
        );
    }

    #[test]
    fn p90_in_the_open_bucket_is_unknown_and_flagged() {
        // 10 observations: p50 rank 5 is reached at le_5; p90 rank 9 is past the 8 bounded ones.
        let mut observations = repeated(8, 5, true);
        observations.extend(repeated(2, 20_000, false));
        let summary = counters_of(&observations).summary();
        assert_eq!(
            summary,
            ResponseTimeSummary {
                count: 10,
                p50_minutes_at_most: Some(5),
                p90_minutes_at_most: None,
                share_within_target: Some(0.8),
                beyond_last_bucket: true,
            }
        );
    }

    #[test]
    fn everything_in_the_open_bucket_leaves_both_percentiles_unknown() {
        let summary = counters_of(&repeated(3, 10_081, false)).summary();
        assert_eq!(summary.count, 3);
        assert_eq!(summary.p50_minutes_at_most, None);
        assert_eq!(summary.p90_minutes_at_most, None);
        assert_eq!(summary.share_within_target, Some(0.0));
        assert!(summary.beyond_last_bucket);
    }

    #[test]
    fn the_summary_serialises_with_its_field_names() {
        let json = serde_json::to_value(counters_of(&[(7, true)]).summary()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "count": 1,
                "p50_minutes_at_most": 10,
                "p90_minutes_at_most": 10,
                "share_within_target": 1.0,
                "beyond_last_bucket": false,
            })
        );
    }

    #[test]
    fn merging_days_equals_counting_all_observations_at_once() {
        // A fixed-seed LCG (Knuth's MMIX constants): reproducible without a dependency.
        let mut state: u64 = 0x5EED_2026;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let mut days: Vec<Vec<(i64, bool)>> = vec![Vec::new(); 7];
        let mut all = Vec::new();
        for _ in 0..400 {
            // Minutes from -2 to 12_000: every bucket, the open one and clock skew.
            let minutes = (next() % 12_003) as i64 - 2;
            let within = next() % 3 != 0;
            let day = (next() % 7) as usize;
            days[day].push((minutes, within));
            all.push((minutes, within));
        }

        let mut merged = ResponseTimeCounters::default();
        for day in &days {
            merged.merge(&counters_of(day));
        }
        let at_once = counters_of(&all);

        assert_eq!(merged, at_once);
        assert_eq!(merged.summary(), at_once.summary());
        assert_eq!(merged.count, 400);
        assert_eq!(merged.buckets.values().sum::<i64>(), 400);
    }

    #[test]
    fn merging_into_empty_counters_copies_them() {
        let day = counters_of(&[(3, true), (100, false)]);
        let mut period = ResponseTimeCounters::default();
        period.merge(&day);
        assert_eq!(period, day);
    }

    #[test]
    fn from_attributes_reads_back_what_increments_wrote() {
        let counters = counters_of(&[(3, true), (4, false), (61, true), (20_000, false)]);
        assert_eq!(
            counters,
            ResponseTimeCounters {
                count: 4,
                within_target: 2,
                buckets: BTreeMap::from([
                    ("le_5".to_string(), 2),
                    ("le_90".to_string(), 1),
                    ("le_inf".to_string(), 1),
                ]),
            }
        );
    }

    #[test]
    fn from_attributes_ignores_unknown_attributes() {
        let attributes = [
            ("count", 2),
            ("within_target", 1),
            ("le_15", 2),
            ("expires_at", 1_790_000_000),
            ("le_3", 9),
            ("schema_version", 1),
        ];
        assert_eq!(
            ResponseTimeCounters::from_attributes(attributes),
            ResponseTimeCounters {
                count: 2,
                within_target: 1,
                buckets: BTreeMap::from([("le_15".to_string(), 2)]),
            }
        );
    }
}
