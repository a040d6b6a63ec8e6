//! The SLA clock: the promise of a first answer and a resolution by set deadlines.
//!
//! Targets come from the template's parameters (normal 1 h / 24 h, urgent 15 min / 4 h by
//! default). The next deadline of a running clock is stored in a write-sharded time index so the
//! escalation sweep finds due cases with a Query per shard, never a Scan.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::business_calendar::{BusinessCalendar, SlaCalendars};
use crate::case::{CaseId, Priority, Queue};

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

/// Targets per priority, and the business calendar of each queue (around the clock unless
/// configured).
#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicy {
    pub normal: SlaTargets,
    pub urgent: SlaTargets,
    pub calendars: SlaCalendars,
}

impl Default for SlaPolicy {
    /// The promise of the source documents: "1-hour response, 24-hour closed loop", and a
    /// quarter of that when the case is urgent, around the clock.
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
            calendars: SlaCalendars::default(),
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

    pub fn calendar(&self, queue: Queue) -> &BusinessCalendar {
        self.calendars.for_queue(queue.as_str())
    }

    /// Both clocks of a case opened at `opened_at`.
    pub fn start(&self, priority: Priority, queue: Queue, opened_at: DateTime<Utc>) -> SlaClocks {
        let targets = self.targets(priority);
        let calendar = self.calendar(queue);
        SlaClocks {
            first_response: SlaClock::start(calendar, opened_at, targets.first_response),
            resolution: SlaClock::start(calendar, opened_at, targets.resolution),
            first_response_outcome: None,
            resolution_outcome: None,
        }
    }

    /// A fresh resolution clock from `now` (a reopened case).
    pub fn restart_resolution(
        &self,
        priority: Priority,
        queue: Queue,
        now: DateTime<Utc>,
    ) -> SlaClock {
        SlaClock::start(self.calendar(queue), now, self.targets(priority).resolution)
    }
}

/// The two promises of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaTarget {
    FirstResponse,
    Resolution,
}

impl SlaTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaTarget::FirstResponse => "first_response",
            SlaTarget::Resolution => "resolution",
        }
    }
}

/// How late a target is. Each stage is reached at a share of the target's time: at risk at
/// 80 %, breached at 100 %, escalated to the head of service at 200 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaStage {
    AtRisk,
    Breached,
    Escalated,
}

impl SlaStage {
    pub const ALL: [SlaStage; 3] = [SlaStage::AtRisk, SlaStage::Breached, SlaStage::Escalated];

    pub fn as_str(self) -> &'static str {
        match self {
            SlaStage::AtRisk => "at_risk",
            SlaStage::Breached => "breached",
            SlaStage::Escalated => "escalated",
        }
    }

    /// The escalation level a case reaches with this stage: 0 (the assignee is warned), 1
    /// (the queue's supervisor), 2 (the head of service).
    pub fn escalation_level(self) -> u8 {
        match self {
            SlaStage::AtRisk => 0,
            SlaStage::Breached => 1,
            SlaStage::Escalated => 2,
        }
    }
}

/// One target's clock: its checkpoints in time and the stage it has reached. Checkpoints are
/// business time after the start (80 %, 100 %, 200 % of the target), so pausing moves them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClock {
    pub target_minutes: i64,
    pub at_risk_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub escalate_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached: Option<SlaStage>,
}

impl SlaClock {
    pub fn start(calendar: &BusinessCalendar, start: DateTime<Utc>, target: Duration) -> Self {
        SlaClock {
            target_minutes: target.num_minutes(),
            at_risk_at: calendar.add(start, target * 4 / 5),
            due_at: calendar.add(start, target),
            escalate_at: calendar.add(start, target * 2),
            reached: None,
        }
    }

    pub fn target(&self) -> Duration {
        Duration::minutes(self.target_minutes)
    }

    /// When `stage` is reached.
    pub fn instant_of(&self, stage: SlaStage) -> DateTime<Utc> {
        match stage {
            SlaStage::AtRisk => self.at_risk_at,
            SlaStage::Breached => self.due_at,
            SlaStage::Escalated => self.escalate_at,
        }
    }

    /// The stages not yet reached.
    fn pending(&self) -> impl Iterator<Item = SlaStage> + '_ {
        SlaStage::ALL
            .into_iter()
            .filter(move |stage| self.reached.is_none_or(|reached| *stage > reached))
    }

    /// When the next stage is reached, if one is left.
    pub fn next_checkpoint(&self) -> Option<DateTime<Utc>> {
        self.pending().next().map(|stage| self.instant_of(stage))
    }

    /// The stages whose instant has come by `now` and that were not reached yet, in order.
    pub fn stages_due(&self, now: DateTime<Utc>) -> Vec<SlaStage> {
        self.pending()
            .filter(|stage| self.instant_of(*stage) <= now)
            .collect()
    }

    /// The clock was paused from `since` to `now`: every checkpoint still ahead at `since`
    /// keeps the business time it had left then.
    pub fn resume(
        &mut self,
        calendar: &BusinessCalendar,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        for instant in [
            &mut self.at_risk_at,
            &mut self.due_at,
            &mut self.escalate_at,
        ] {
            if *instant > since {
                *instant = calendar.add(now, calendar.between(since, *instant));
            }
        }
    }

    /// Minutes taken when the target was met at `at`, and the minutes to spare (negative when
    /// late), in business time, pauses excluded: what Zammad records per ticket.
    pub fn met_at(&self, calendar: &BusinessCalendar, at: DateTime<Utc>) -> SlaOutcome {
        let spare = calendar.between(at, self.due_at).num_minutes();
        SlaOutcome {
            minutes_taken: self.target_minutes - spare,
            minutes_to_spare: spare,
        }
    }
}

/// How a target was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaOutcome {
    pub minutes_taken: i64,
    /// Positive: early; negative: late by that much.
    pub minutes_to_spare: i64,
}

impl SlaOutcome {
    pub fn within_target(&self) -> bool {
        self.minutes_to_spare >= 0
    }
}

/// Both clocks of a case, and how each target was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClocks {
    pub first_response: SlaClock,
    pub resolution: SlaClock,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_outcome: Option<SlaOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_outcome: Option<SlaOutcome>,
}

impl SlaClocks {
    pub fn clock(&self, target: SlaTarget) -> &SlaClock {
        match target {
            SlaTarget::FirstResponse => &self.first_response,
            SlaTarget::Resolution => &self.resolution,
        }
    }

    pub fn clock_mut(&mut self, target: SlaTarget) -> &mut SlaClock {
        match target {
            SlaTarget::FirstResponse => &mut self.first_response,
            SlaTarget::Resolution => &mut self.resolution,
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

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 11, h, m, 0).unwrap()
    }

    #[test]
    fn a_normal_case_gets_one_hour_and_one_day_with_checkpoints_at_80_and_200_percent() {
        let opened = t(8, 0);
        let clocks = SlaPolicy::default().start(Priority::Normal, Queue::Service, opened);
        let first = clocks.first_response;
        assert_eq!(
            (first.at_risk_at, first.due_at, first.escalate_at),
            (t(8, 48), t(9, 0), t(10, 0))
        );
        assert_eq!(clocks.resolution.due_at, opened + Duration::hours(24));
        assert_eq!(
            clocks.resolution.at_risk_at,
            opened + Duration::minutes(1152)
        );
        assert_eq!(first.next_checkpoint(), Some(t(8, 48)));
    }

    #[test]
    fn an_urgent_case_gets_fifteen_minutes_and_four_hours() {
        let opened = t(0, 0);
        let clocks = SlaPolicy::default().start(Priority::Urgent, Queue::Expert, opened);
        assert_eq!(clocks.first_response.due_at - opened, Duration::minutes(15));
        assert_eq!(
            clocks.first_response.at_risk_at - opened,
            Duration::minutes(12)
        );
        assert_eq!(clocks.resolution.due_at - opened, Duration::hours(4));
    }

    #[test]
    fn stages_come_due_in_order_and_each_once() {
        let mut clock = SlaClock::start(
            &BusinessCalendar::around_the_clock(),
            t(8, 0),
            Duration::hours(1),
        );
        assert_eq!(clock.stages_due(t(8, 47)), vec![]);
        assert_eq!(
            clock.stages_due(t(9, 0)),
            vec![SlaStage::AtRisk, SlaStage::Breached]
        );
        clock.reached = Some(SlaStage::Breached);
        assert_eq!(clock.stages_due(t(9, 59)), vec![]);
        assert_eq!(clock.next_checkpoint(), Some(t(10, 0)));
        clock.reached = Some(SlaStage::Escalated);
        assert_eq!(clock.next_checkpoint(), None);
        assert_eq!(clock.stages_due(t(23, 0)), vec![]);
    }

    #[test]
    fn a_pause_moves_only_the_checkpoints_still_ahead() {
        let calendar = BusinessCalendar::around_the_clock();
        let mut clock = SlaClock::start(&calendar, t(8, 0), Duration::hours(1));
        // Paused at 08:50 (after the 80 % mark) for 30 minutes.
        clock.resume(&calendar, t(8, 50), t(9, 20));
        assert_eq!(clock.at_risk_at, t(8, 48), "already passed: stays");
        assert_eq!(clock.due_at, t(9, 30));
        assert_eq!(clock.escalate_at, t(10, 30));
    }

    #[test]
    fn outcomes_count_business_minutes_and_the_minutes_to_spare() {
        let calendar = BusinessCalendar::around_the_clock();
        let clock = SlaClock::start(&calendar, t(8, 0), Duration::hours(1));
        let early = clock.met_at(&calendar, t(8, 20));
        assert_eq!((early.minutes_taken, early.minutes_to_spare), (20, 40));
        assert!(early.within_target());
        let late = clock.met_at(&calendar, t(9, 15));
        assert_eq!((late.minutes_taken, late.minutes_to_spare), (75, -15));
        assert!(!late.within_target());
    }

    #[test]
    fn a_queue_with_working_hours_counts_only_business_time() {
        let calendars = SlaCalendars::parse(
            r#"{"service": {"timezone": "Asia/Shanghai", "hours": {"mon": ["09:00-18:00"], "tue": ["09:00-18:00"], "wed": ["09:00-18:00"], "thu": ["09:00-18:00"], "fri": ["09:00-18:00"]}}}"#,
        )
        .unwrap();
        let policy = SlaPolicy {
            calendars,
            ..SlaPolicy::default()
        };
        // Friday 2026-11-13 17:30 in Shanghai (09:30 UTC): 30 minutes today, 30 on Monday.
        let opened = Utc.with_ymd_and_hms(2026, 11, 13, 9, 30, 0).unwrap();
        let service = policy.start(Priority::Normal, Queue::Service, opened);
        assert_eq!(
            service.first_response.due_at,
            Utc.with_ymd_and_hms(2026, 11, 16, 1, 30, 0).unwrap(),
            "Monday 09:30 in Shanghai"
        );
        // The expert queue has no calendar: around the clock.
        let expert = policy.start(Priority::Normal, Queue::Expert, opened);
        assert_eq!(expert.first_response.due_at, opened + Duration::hours(1));
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
