//! What Aftercare remembers of a customer across orders and storefronts.

use chrono::{DateTime, Duration, Utc};

use crate::classify::ComplaintContext;

/// How far back earlier cases count towards the repeat-complainant flag.
pub const REPEAT_WINDOW: Duration = Duration::days(90);

/// When the customer opened cases, oldest first. Kept on the customer's record (one read
/// beside the order's) rather than counted from the case index on every new case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseHistory {
    pub opened: Vec<DateTime<Utc>>,
}

impl CaseHistory {
    /// How many cases the customer opened at or after `since`.
    pub fn opened_since(&self, since: DateTime<Utc>) -> u32 {
        let count = self.opened.iter().filter(|at| **at >= since).count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// What the classifier needs to know of this history for a complaint made `now`.
    pub fn complaint_context(&self, now: DateTime<Utc>) -> ComplaintContext {
        ComplaintContext {
            earlier_cases_90d: self.opened_since(now - REPEAT_WINDOW),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn only_cases_within_ninety_days_count_towards_a_repeat_complaint() {
        let now = Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap();
        let history = CaseHistory {
            opened: vec![
                now - Duration::days(91),
                now - REPEAT_WINDOW,
                now - Duration::days(3),
            ],
        };
        assert_eq!(history.complaint_context(now).earlier_cases_90d, 2);
        assert_eq!(CaseHistory::default().opened_since(now), 0);
    }
}
