//! The SLA clock: the promise of a first answer and a resolution by set deadlines.
//!
//! Targets come from the template's parameters (normal 1 h / 24 h, urgent 15 min / 4 h by
//! default). The next deadline of a running clock is stored in a write-sharded time index so the
//! escalation sweep finds due cases with a Query per shard, never a Scan.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::case::{CaseId, Priority};

/// How many shards the SLA timer index is written across. A hot day spreads over this many
/// partitions; the sweep queries each. Changing it strands timers in dropped shards, so it is a
/// constant of the data model, not a setting.
pub const TIMER_SHARDS: u8 = 8;

/// First-response and resolution targets for one priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaTargets {
    pub first_response: Duration,
    pub resolution: Duration,
}

/// Targets per priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaPolicy {
    pub normal: SlaTargets,
    pub urgent: SlaTargets,
}

impl Default for SlaPolicy {
    /// The promise of the source documents: "1-hour response, 24-hour closed loop", and a
    /// quarter of that when the case is urgent.
    fn default() -> Self {
        SlaPolicy {
            normal: SlaTargets {
                first_response: Duration::hours(1),
                resolution: Duration::hours(24),
            },
            urgent: SlaTargets {
                first_response: Duration::minutes(15),
                resolution: Duration::hours(4),
            },
        }
    }
}

impl SlaPolicy {
    pub fn targets(&self, priority: Priority) -> SlaTargets {
        match priority {
            Priority::Normal => self.normal,
            Priority::Urgent => self.urgent,
        }
    }

    /// The deadlines of a case opened at `opened_at` with `priority`, around the clock.
    pub fn deadlines(&self, priority: Priority, opened_at: DateTime<Utc>) -> SlaDeadlines {
        let targets = self.targets(priority);
        SlaDeadlines {
            first_response_due: opened_at + targets.first_response,
            resolution_due: opened_at + targets.resolution,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaDeadlines {
    pub first_response_due: DateTime<Utc>,
    pub resolution_due: DateTime<Utc>,
}

impl SlaDeadlines {
    /// The deadline the escalation sweep watches next: the first response until it is given.
    pub fn next_due(&self, first_response_given: bool) -> DateTime<Utc> {
        if first_response_given {
            self.resolution_due
        } else {
            self.first_response_due
        }
    }
}

/// The shard of the SLA timer index a case's timer lives in: stable for the case's life, and
/// spread evenly because it comes from the random part of the case's ULID.
pub fn timer_shard(case: &CaseId) -> u8 {
    (case.random_bits() % u128::from(TIMER_SHARDS)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn normal_case_gets_one_hour_and_one_day() {
        let opened = Utc.with_ymd_and_hms(2026, 11, 11, 23, 30, 0).unwrap();
        let due = SlaPolicy::default().deadlines(Priority::Normal, opened);
        assert_eq!(
            due.first_response_due,
            Utc.with_ymd_and_hms(2026, 11, 12, 0, 30, 0).unwrap()
        );
        assert_eq!(
            due.resolution_due,
            Utc.with_ymd_and_hms(2026, 11, 12, 23, 30, 0).unwrap()
        );
        assert_eq!(due.next_due(false), due.first_response_due);
        assert_eq!(due.next_due(true), due.resolution_due);
    }

    #[test]
    fn urgent_case_gets_fifteen_minutes_and_four_hours() {
        let opened = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let due = SlaPolicy::default().deadlines(Priority::Urgent, opened);
        assert_eq!(due.first_response_due - opened, Duration::minutes(15));
        assert_eq!(due.resolution_due - opened, Duration::hours(4));
    }

    #[test]
    fn timer_shards_are_in_range_and_spread() {
        let mut seen = [0u32; TIMER_SHARDS as usize];
        for _ in 0..800 {
            let shard = timer_shard(&CaseId::new());
            seen[usize::from(shard)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 40), "uneven spread: {seen:?}");
    }
}
