//! Business calendars: SLA clocks that count working time only.
//!
//! SLA targets run around the clock by default, as the product promises. A brand may give a
//! queue a business calendar instead (a timezone, working hours per weekday, holidays); that
//! queue's deadlines and elapsed times then count business time only. Calendars are
//! configuration, read from one JSON document (an environment variable) keyed by queue name
//! (`aftercare::case::Queue` serialises to `"service"` / `"expert"`); a queue not named keeps
//! the around-the-clock clock:
//!
//! ```json
//! {
//!   "service": {
//!     "timezone": "Asia/Shanghai",
//!     "hours": {
//!       "mon": ["09:00-12:00", "13:00-18:00"],
//!       "tue": ["09:00-18:00"], "wed": ["09:00-18:00"], "thu": ["09:00-18:00"],
//!       "fri": ["09:00-18:00"], "sat": ["10:00-16:00"]
//!     },
//!     "holidays": ["2026-10-01", "2026-10-02"]
//!   }
//! }
//! ```
//!
//! - `timezone` (required): an IANA name; working hours and holidays are in its local time.
//! - `hours` (required): keys `mon` .. `sun`; a day left out is closed. Each interval is
//!   `"HH:MM-HH:MM"` local wall-clock time, end after start, `24:00` allowed as an end; the
//!   intervals of a day may come in any order but must not overlap. A week with no working
//!   time at all is refused: its deadlines would never fall due.
//! - `holidays` (optional): local dates `YYYY-MM-DD`, closed all day.
//! - Unknown fields are refused, so a typo cannot silently mean "around the clock".
//!
//! An empty document (or `{}`) leaves every queue around the clock.
//!
//! Instants in and out are UTC; local time exists only inside. Across a daylight-saving change
//! the hours stay wall-clock hours: a local time that does not exist (clocks jumped forward) is
//! skipped, an ambiguous one (clocks went back) is its earlier instant.
//!
//! The walk through the calendar is day by day and stops after [`HORIZON_DAYS`] local days, so
//! a holiday list that closes years on end cannot make it run forever: what lies beyond the
//! horizon is not counted (see [`BusinessCalendar::add`] and [`BusinessCalendar::between`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{
    DateTime, Datelike, Duration, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, Utc,
};
use serde::Deserialize;

use crate::timezone::Timezone;

/// How many local days one walk through a calendar covers at most: about ten years, far beyond
/// any SLA, yet a bound on the work a pathological holiday list can cause.
pub const HORIZON_DAYS: usize = 3660;

const MINUTES_PER_DAY: u16 = 24 * 60;

/// When a queue's SLA clock runs.
#[derive(Clone, Debug, PartialEq)]
pub struct BusinessCalendar {
    /// `None` is around the clock, the default, so the common case carries no schedule at all.
    schedule: Option<Schedule>,
}

/// Working hours in one timezone.
#[derive(Clone, Debug, PartialEq)]
struct Schedule {
    timezone: Timezone,
    /// Openings per weekday, Monday first; each day's sorted and disjoint.
    week: [Vec<Opening>; 7],
    holidays: BTreeSet<NaiveDate>,
}

/// One working interval of a day, in minutes after local midnight (`end` up to 24:00).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Opening {
    start: u16,
    end: u16,
}

/// One stretch of business time as instants: `(open, close)` with `open < close`.
type Span = (DateTime<Utc>, DateTime<Utc>);

impl Default for BusinessCalendar {
    fn default() -> Self {
        Self::around_the_clock()
    }
}

impl BusinessCalendar {
    /// Around the clock: every instant is business time (the default, as the product promises).
    pub const fn around_the_clock() -> Self {
        Self { schedule: None }
    }

    pub fn is_around_the_clock(&self) -> bool {
        self.schedule.is_none()
    }

    /// The instant at which `business` of business time has elapsed after `from`.
    /// Negative `business` goes backwards (the instant `|business|` of business time before `from`).
    /// Zero returns `from` unchanged (even outside working hours).
    ///
    /// A deadline falling exactly at closing time is the closing instant, not the next opening.
    /// If the amount is not reached within [`HORIZON_DAYS`] local days, the answer is the last
    /// closing (backwards: opening) instant reached, or `from` if the horizon has no working
    /// time at all. Around the clock, the result saturates at the ends of chrono's range.
    pub fn add(&self, from: DateTime<Utc>, business: Duration) -> DateTime<Utc> {
        if business.is_zero() {
            return from;
        }
        match &self.schedule {
            None => saturating_add(from, business),
            Some(schedule) if business > Duration::zero() => schedule.forward(from, business),
            // `Duration::MIN` is `-Duration::MAX`, so the negation cannot overflow.
            Some(schedule) => schedule.backward(from, -business),
        }
    }

    /// Business time elapsed from `from` to `to`; negative when `to` is before `from`.
    ///
    /// Counts at most [`HORIZON_DAYS`] local days from the earlier instant, like [`Self::add`],
    /// so `between(x, add(x, d)) == d` holds whenever `add` reached its amount.
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to < from {
            return -self.between(to, from);
        }
        match &self.schedule {
            None => to - from,
            Some(schedule) => schedule.open_between(from, to),
        }
    }
}

impl Schedule {
    fn forward(&self, from: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        let mut remaining = amount;
        let mut reached = from;
        for (open, close) in self.spans_after(from) {
            let available = close - open;
            // `>=`: a deadline landing on closing time is that instant, not tomorrow's opening.
            if available >= remaining {
                return open + remaining;
            }
            remaining -= available;
            reached = close;
        }
        reached
    }

    fn backward(&self, from: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        let mut remaining = amount;
        let mut reached = from;
        for (open, close) in self.spans_before(from) {
            let available = close - open;
            if available >= remaining {
                return close - remaining;
            }
            remaining -= available;
            reached = open;
        }
        reached
    }

    fn open_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        self.spans_after(from)
            .take_while(|(open, _)| *open < to)
            .map(|(open, close)| close.min(to) - open)
            .sum()
    }

    /// Business time from `from` on, in order, the first span clipped to start at `from`.
    fn spans_after(&self, from: DateTime<Utc>) -> impl Iterator<Item = Span> + '_ {
        // Start a day early: with ambiguous midnights a span of the previous local day can
        // still end after `from`.
        let first = local_date(&self.timezone, from).pred_opt();
        walk_days(first, NaiveDate::succ_opt)
            .flat_map(move |day| self.spans_of(day))
            .filter(move |(_, close)| *close > from)
            .map(move |(open, close)| (open.max(from), close))
    }

    /// Business time before `from`, latest first, the first span clipped to end at `from`.
    fn spans_before(&self, from: DateTime<Utc>) -> impl Iterator<Item = Span> + '_ {
        let first = local_date(&self.timezone, from).succ_opt();
        walk_days(first, NaiveDate::pred_opt)
            .flat_map(move |day| self.spans_of(day).rev())
            .filter(move |(open, _)| *open < from)
            .map(move |(open, close)| (open, close.min(from)))
    }

    /// The spans of one local day, in order. Wall-clock to instant is monotonic, so spans stay
    /// sorted and disjoint across days too; one wholly inside a DST gap comes out empty and is
    /// dropped.
    fn spans_of(&self, day: NaiveDate) -> impl DoubleEndedIterator<Item = Span> + '_ {
        let openings: &[Opening] = if self.holidays.contains(&day) {
            &[]
        } else {
            &self.week[weekday_index(day)]
        };
        openings.iter().filter_map(move |opening| {
            let open = instant_at(&self.timezone, day, opening.start)?;
            let close = instant_at(&self.timezone, day, opening.end)?;
            (open < close).then_some((open, close))
        })
    }
}

/// Up to [`HORIZON_DAYS`] days from `first` on (`step` goes forward or backward), staying a
/// year clear of chrono's range so local-time arithmetic never overflows. A missing `first`
/// (at the very edge of the range) walks no day.
fn walk_days(
    first: Option<NaiveDate>,
    step: fn(&NaiveDate) -> Option<NaiveDate>,
) -> impl Iterator<Item = NaiveDate> {
    let safe_years = NaiveDate::MIN.year() + 1..NaiveDate::MAX.year();
    std::iter::successors(first, step)
        .take(HORIZON_DAYS)
        .take_while(move |day| safe_years.contains(&day.year()))
}

fn weekday_index(day: NaiveDate) -> usize {
    usize::try_from(day.weekday().num_days_from_monday()).expect("a weekday index is below 7")
}

/// The local date of `instant` in `timezone` (the UTC date at the very edge of chrono's range,
/// where the walk does not go anyway).
fn local_date(timezone: &Timezone, instant: DateTime<Utc>) -> NaiveDate {
    wall_clock(timezone, instant.naive_utc()).map_or(instant.date_naive(), |local| local.date())
}

/// The wall-clock reading in `timezone` at the UTC time `utc`, if representable.
fn wall_clock(timezone: &Timezone, utc: NaiveDateTime) -> Option<NaiveDateTime> {
    let offset = timezone.utc_offset(utc);
    utc.checked_add_signed(Duration::seconds(offset.into()))
}

/// The instant the wall clock of `timezone` reads `minute` minutes after midnight of `day`.
fn instant_at(timezone: &Timezone, day: NaiveDate, minute: u16) -> Option<DateTime<Utc>> {
    let local = day
        .and_time(NaiveTime::MIN)
        .checked_add_signed(Duration::minutes(minute.into()))?;
    match timezone.instants(local) {
        MappedLocalTime::Single(instant) => Some(instant),
        // Clocks went back: the reading happens twice; working hours begin at the first.
        MappedLocalTime::Ambiguous(one, other) => Some(one.min(other)),
        // Clocks jumped over the reading: the time in the gap does not exist, so it is skipped.
        MappedLocalTime::None => end_of_gap(timezone, local),
    }
}

/// The instant the clocks jumped over the non-existent reading `local`: the first instant whose
/// wall clock reads later. Offsets are under a day, so it lies within 25 h of `local` read as
/// UTC; bisect on whole seconds (zone transitions have no finer resolution).
fn end_of_gap(timezone: &Timezone, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    const MARGIN: i64 = 25 * 3600;
    let reads_later = |second: i64| -> Option<bool> {
        let utc = DateTime::from_timestamp(second, 0)?.naive_utc();
        Some(wall_clock(timezone, utc)? > local)
    };
    // Invariant: the wall clock reads earlier than `local` at `before`, later at `after`.
    let mut before = local.and_utc().timestamp() - MARGIN;
    let mut after = local.and_utc().timestamp() + MARGIN;
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        if reads_later(middle)? {
            after = middle;
        } else {
            before = middle;
        }
    }
    DateTime::from_timestamp(after, 0)
}

fn saturating_add(from: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
    from.checked_add_signed(amount)
        .unwrap_or(if amount > Duration::zero() {
            DateTime::<Utc>::MAX_UTC
        } else {
            DateTime::<Utc>::MIN_UTC
        })
}

/// Calendars per queue name, with around-the-clock for queues not named.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlaCalendars {
    queues: BTreeMap<String, BusinessCalendar>,
}

/// What [`SlaCalendars::for_queue`] lends for a queue without a calendar.
static AROUND_THE_CLOCK: BusinessCalendar = BusinessCalendar::around_the_clock();

impl SlaCalendars {
    /// Parses the JSON configuration (see the module documentation). Empty string or "{}" = all
    /// around the clock.
    pub fn parse(json: &str) -> Result<Self, CalendarError> {
        // An unset variable often arrives as "" (or a lone newline): the default, not an error.
        if json.trim().is_empty() {
            return Ok(Self::default());
        }
        // Queue by queue, so every error can name its queue.
        let raw: BTreeMap<String, serde_json::Value> = serde_json::from_str(json)
            .map_err(|error| CalendarError::NotJson(error.to_string()))?;
        let queues = raw
            .into_iter()
            .map(|(queue, value)| {
                let calendar = parse_calendar(&queue, value)?;
                Ok((queue, calendar))
            })
            .collect::<Result<_, CalendarError>>()?;
        Ok(Self { queues })
    }

    pub fn for_queue(&self, queue: &str) -> &BusinessCalendar {
        self.queues.get(queue).unwrap_or(&AROUND_THE_CLOCK)
    }

    /// The queues that have a calendar.
    pub fn queues(&self) -> impl Iterator<Item = &str> {
        self.queues.keys().map(String::as_str)
    }
}

/// Why a calendar configuration was refused; each names the queue and the offending field.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CalendarError {
    #[error("calendar configuration is not a JSON object of queue calendars: {0}")]
    NotJson(String),
    /// Wrong shape: unknown or missing field, wrong type.
    #[error("calendar of queue `{queue}`: {reason}")]
    Invalid { queue: String, reason: String },
    #[error("calendar of queue `{queue}`: timezone `{timezone}` is not an IANA timezone name")]
    UnknownTimezone { queue: String, timezone: String },
    #[error(
        "calendar of queue `{queue}`: working hours `{hours}` on {day} are not HH:MM-HH:MM between 00:00 and 24:00"
    )]
    MalformedHours {
        queue: String,
        day: &'static str,
        hours: String,
    },
    #[error("calendar of queue `{queue}`: working hours `{hours}` on {day} end before they start")]
    EndBeforeStart {
        queue: String,
        day: &'static str,
        hours: String,
    },
    #[error("calendar of queue `{queue}`: working hours `{hours}` on {day} are empty")]
    EmptyHours {
        queue: String,
        day: &'static str,
        hours: String,
    },
    #[error("calendar of queue `{queue}`: working hours `{first}` and `{second}` on {day} overlap")]
    OverlappingHours {
        queue: String,
        day: &'static str,
        first: String,
        second: String,
    },
    #[error("calendar of queue `{queue}`: holiday `{holiday}` is not a date YYYY-MM-DD")]
    MalformedHoliday { queue: String, holiday: String },
    #[error(
        "calendar of queue `{queue}`: hours give no working time on any weekday, so its deadlines would never fall due"
    )]
    NeverOpen { queue: String },
}

/// One queue's calendar as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    timezone: String,
    hours: RawWeek,
    #[serde(default)]
    holidays: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeek {
    #[serde(default)]
    mon: Vec<String>,
    #[serde(default)]
    tue: Vec<String>,
    #[serde(default)]
    wed: Vec<String>,
    #[serde(default)]
    thu: Vec<String>,
    #[serde(default)]
    fri: Vec<String>,
    #[serde(default)]
    sat: Vec<String>,
    #[serde(default)]
    sun: Vec<String>,
}

fn parse_calendar(
    queue: &str,
    value: serde_json::Value,
) -> Result<BusinessCalendar, CalendarError> {
    let raw: RawCalendar =
        serde_json::from_value(value).map_err(|error| CalendarError::Invalid {
            queue: queue.to_owned(),
            reason: error.to_string(),
        })?;
    let timezone =
        Timezone::named(&raw.timezone).ok_or_else(|| CalendarError::UnknownTimezone {
            queue: queue.to_owned(),
            timezone: raw.timezone.clone(),
        })?;
    let RawWeek {
        mon,
        tue,
        wed,
        thu,
        fri,
        sat,
        sun,
    } = raw.hours;
    let week = [
        parse_day(queue, "mon", &mon)?,
        parse_day(queue, "tue", &tue)?,
        parse_day(queue, "wed", &wed)?,
        parse_day(queue, "thu", &thu)?,
        parse_day(queue, "fri", &fri)?,
        parse_day(queue, "sat", &sat)?,
        parse_day(queue, "sun", &sun)?,
    ];
    if week.iter().all(Vec::is_empty) {
        return Err(CalendarError::NeverOpen {
            queue: queue.to_owned(),
        });
    }
    let holidays = raw
        .holidays
        .iter()
        .map(|holiday| {
            parse_date(holiday).ok_or_else(|| CalendarError::MalformedHoliday {
                queue: queue.to_owned(),
                holiday: holiday.clone(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(BusinessCalendar {
        schedule: Some(Schedule {
            timezone,
            week,
            holidays,
        }),
    })
}

/// One weekday's intervals, sorted, refusing overlaps (touching is fine: no time is counted twice).
fn parse_day(
    queue: &str,
    day: &'static str,
    texts: &[String],
) -> Result<Vec<Opening>, CalendarError> {
    let mut openings = texts
        .iter()
        .map(|text| parse_opening(queue, day, text).map(|opening| (opening, text)))
        .collect::<Result<Vec<_>, _>>()?;
    openings.sort_by_key(|(opening, _)| opening.start);
    if let Some(pair) = openings
        .windows(2)
        .find(|pair| pair[1].0.start < pair[0].0.end)
    {
        return Err(CalendarError::OverlappingHours {
            queue: queue.to_owned(),
            day,
            first: pair[0].1.clone(),
            second: pair[1].1.clone(),
        });
    }
    Ok(openings.into_iter().map(|(opening, _)| opening).collect())
}

fn parse_opening(queue: &str, day: &'static str, text: &str) -> Result<Opening, CalendarError> {
    let context = || (queue.to_owned(), day, text.to_owned());
    let malformed = || {
        let (queue, day, hours) = context();
        CalendarError::MalformedHours { queue, day, hours }
    };
    let (start, end) = text.split_once('-').ok_or_else(malformed)?;
    let start = parse_clock(start)
        .filter(|start| *start < MINUTES_PER_DAY)
        .ok_or_else(malformed)?;
    let end = parse_clock(end).ok_or_else(malformed)?;
    if end < start {
        let (queue, day, hours) = context();
        return Err(CalendarError::EndBeforeStart { queue, day, hours });
    }
    if end == start {
        let (queue, day, hours) = context();
        return Err(CalendarError::EmptyHours { queue, day, hours });
    }
    Ok(Opening { start, end })
}

/// Minutes after midnight of a strict "HH:MM", "24:00" included (it ends a day).
fn parse_clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return None;
    }
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    let minute = hours * 60 + minutes;
    (minutes < 60 && minute <= MINUTES_PER_DAY).then_some(minute)
}

/// A strict "YYYY-MM-DD" (chrono alone would take "2026-1-1").
fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    /// Mon-Fri 09:00-18:00 in Shanghai (UTC+8 all year, so local times convert by hand).
    const OFFICE: &str = r#"{"timezone": "Asia/Shanghai", "hours": {
        "mon": ["09:00-18:00"], "tue": ["09:00-18:00"], "wed": ["09:00-18:00"],
        "thu": ["09:00-18:00"], "fri": ["09:00-18:00"]}}"#;

    /// The office with a lunch break on Monday.
    const LUNCH: &str = r#"{"timezone": "Asia/Shanghai", "hours": {
        "mon": ["09:00-12:00", "13:00-18:00"], "tue": ["09:00-18:00"]}}"#;

    /// Office hours in a zone with daylight saving time.
    const PARIS_OFFICE: &str = r#"{"timezone": "Europe/Paris", "hours": {
        "mon": ["09:00-18:00"], "tue": ["09:00-18:00"], "wed": ["09:00-18:00"],
        "thu": ["09:00-18:00"], "fri": ["09:00-18:00"]}}"#;

    /// The module documentation's example.
    const DOC_EXAMPLE: &str = r#"{
      "service": {
        "timezone": "Asia/Shanghai",
        "hours": {
          "mon": ["09:00-12:00", "13:00-18:00"],
          "tue": ["09:00-18:00"], "wed": ["09:00-18:00"], "thu": ["09:00-18:00"],
          "fri": ["09:00-18:00"], "sat": ["10:00-16:00"]
        },
        "holidays": ["2026-10-01", "2026-10-02"]
      }
    }"#;

    /// An RFC 3339 instant with any offset, as UTC.
    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test instants are RFC 3339")
            .with_timezone(&Utc)
    }

    fn calendar(json: &str) -> BusinessCalendar {
        let calendars = SlaCalendars::parse(&format!(r#"{{"service": {json}}}"#))
            .expect("test calendars are valid");
        calendars.for_queue("service").clone()
    }

    fn hours(n: i64) -> Duration {
        Duration::hours(n)
    }

    fn parse_error(json: &str) -> CalendarError {
        SlaCalendars::parse(&format!(r#"{{"service": {json}}}"#))
            .expect_err("the calendar is invalid")
    }

    #[test]
    fn around_the_clock_adds_plain_time() {
        let clock = BusinessCalendar::around_the_clock();
        let saturday = at("2026-11-21T03:00:00Z");
        assert!(clock.is_around_the_clock());
        assert_eq!(clock.add(saturday, hours(1)), at("2026-11-21T04:00:00Z"));
        assert_eq!(clock.add(saturday, hours(-30)), at("2026-11-19T21:00:00Z"));
        assert_eq!(clock.add(saturday, Duration::zero()), saturday);
    }

    #[test]
    fn around_the_clock_counts_plain_elapsed_time() {
        let clock = BusinessCalendar::default();
        let (a, b) = (at("2026-11-20T17:30:00Z"), at("2026-11-23T09:30:00Z"));
        assert_eq!(clock.between(a, b), b - a);
        assert_eq!(clock.between(b, a), a - b);
    }

    #[test]
    fn around_the_clock_saturates_instead_of_overflowing() {
        let clock = BusinessCalendar::around_the_clock();
        let now = at("2026-11-20T00:00:00Z");
        assert_eq!(clock.add(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(clock.add(now, Duration::MIN), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn empty_configuration_leaves_every_queue_around_the_clock() {
        for json in ["", "  \n", "{}", " { } "] {
            let calendars = SlaCalendars::parse(json).expect("empty configuration is valid");
            assert_eq!(calendars, SlaCalendars::default());
            assert!(calendars.for_queue("service").is_around_the_clock());
        }
    }

    #[test]
    fn queue_not_named_is_around_the_clock() {
        let calendars = SlaCalendars::parse(DOC_EXAMPLE).expect("the documented example is valid");
        assert!(!calendars.for_queue("service").is_around_the_clock());
        assert!(calendars.for_queue("expert").is_around_the_clock());
    }

    #[test]
    fn friday_evening_hour_lands_on_monday_morning() {
        let office = calendar(OFFICE);
        assert_eq!(
            office.add(at("2026-11-20T17:30:00+08:00"), hours(1)),
            at("2026-11-23T09:30:00+08:00"),
        );
        // The same in UTC, to be explicit about the conversion: 09:30 Z Friday -> 01:30 Z Monday.
        assert_eq!(
            office.add(at("2026-11-20T09:30:00Z"), hours(1)),
            at("2026-11-23T01:30:00Z"),
        );
    }

    #[test]
    fn clock_starts_at_the_next_opening_when_started_outside_hours() {
        let office = calendar(OFFICE);
        let early_monday = at("2026-11-23T07:00:00+08:00");
        assert_eq!(
            office.add(early_monday, Duration::minutes(30)),
            at("2026-11-23T09:30:00+08:00"),
        );
        let saturday_noon = at("2026-11-21T12:00:00+08:00");
        assert_eq!(
            office.add(saturday_noon, hours(1)),
            at("2026-11-23T10:00:00+08:00"),
        );
    }

    #[test]
    fn lunch_break_is_skipped() {
        let lunch = calendar(LUNCH);
        let monday = |time: &str| at(&format!("2026-11-23T{time}+08:00"));
        assert_eq!(lunch.add(monday("11:30:00"), hours(1)), monday("13:30:00"));
        assert_eq!(lunch.add(monday("12:30:00"), hours(1)), monday("14:00:00"));
        assert_eq!(
            lunch.between(monday("11:00:00"), monday("14:00:00")),
            hours(2)
        );
    }

    #[test]
    fn holidays_are_skipped() {
        let office = calendar(
            r#"{"timezone": "Asia/Shanghai", "hours": {
                "mon": ["09:00-18:00"], "tue": ["09:00-18:00"], "fri": ["09:00-18:00"]},
                "holidays": ["2026-11-23"]}"#,
        );
        let friday = at("2026-11-20T17:30:00+08:00");
        let tuesday = at("2026-11-24T09:30:00+08:00");
        assert_eq!(office.add(friday, hours(1)), tuesday);
        assert_eq!(office.between(friday, tuesday), hours(1));
    }

    #[test]
    fn adding_zero_returns_from_even_outside_hours() {
        let office = calendar(OFFICE);
        for from in [
            at("2026-11-21T12:00:00+08:00"),
            at("2026-11-23T18:00:00+08:00"),
            at("2026-11-23T08:59:59.999+08:00"),
        ] {
            assert_eq!(office.add(from, Duration::zero()), from);
        }
    }

    #[test]
    fn adding_at_closing_time_continues_at_the_next_opening() {
        let office = calendar(OFFICE);
        assert_eq!(
            office.add(at("2026-11-23T18:00:00+08:00"), Duration::minutes(1)),
            at("2026-11-24T09:01:00+08:00"),
        );
    }

    #[test]
    fn deadline_falling_at_closing_time_is_the_closing_instant() {
        let office = calendar(OFFICE);
        assert_eq!(
            office.add(at("2026-11-23T09:00:00+08:00"), hours(9)),
            at("2026-11-23T18:00:00+08:00"),
        );
        // Also when the walk reaches that closing from an earlier day.
        assert_eq!(
            office.add(at("2026-11-23T17:00:00+08:00"), hours(10)),
            at("2026-11-24T18:00:00+08:00"),
        );
    }

    #[test]
    fn negative_amounts_walk_backwards() {
        let office = calendar(OFFICE);
        assert_eq!(
            office.add(at("2026-11-23T09:30:00+08:00"), hours(-1)),
            at("2026-11-20T17:30:00+08:00"),
        );
        // Backwards, a deadline falling at opening time is the opening instant.
        assert_eq!(
            office.add(at("2026-11-23T10:00:00+08:00"), hours(-1)),
            at("2026-11-23T09:00:00+08:00"),
        );
        // From outside hours, the backward clock starts at the last closing.
        assert_eq!(
            office.add(at("2026-11-21T12:00:00+08:00"), hours(-1)),
            at("2026-11-20T17:00:00+08:00"),
        );
    }

    #[test]
    fn large_amounts_skip_whole_days() {
        let office = calendar(OFFICE);
        let monday = at("2026-11-23T09:00:00+08:00");
        // Five 9-hour days make 45 hours; the last 3 fall on the next Monday.
        let due = at("2026-11-30T12:00:00+08:00");
        assert_eq!(office.add(monday, hours(48)), due);
        assert_eq!(office.between(monday, due), hours(48));
        assert_eq!(office.add(due, hours(-48)), monday);
        // A year of business time is still a short walk.
        let year_later = office.add(monday, hours(9 * 5 * 52));
        assert_eq!(year_later, at("2027-11-19T18:00:00+08:00"));
    }

    #[test]
    fn durations_keep_millisecond_precision() {
        let office = calendar(OFFICE);
        let before_closing = at("2026-11-23T17:59:59.999+08:00");
        let after_opening = at("2026-11-24T09:00:00.001+08:00");
        assert_eq!(
            office.add(before_closing, Duration::milliseconds(2)),
            after_opening
        );
        assert_eq!(
            office.between(before_closing, after_opening),
            Duration::milliseconds(2)
        );
        assert_eq!(
            office.add(after_opening, Duration::milliseconds(-2)),
            before_closing
        );
    }

    #[test]
    fn between_counts_business_time_only() {
        let office = calendar(OFFICE);
        let friday = at("2026-11-20T17:00:00+08:00");
        let monday = at("2026-11-23T10:00:00+08:00");
        assert_eq!(office.between(friday, monday), hours(2));
        assert_eq!(office.between(monday, friday), hours(-2));
        assert_eq!(office.between(friday, friday), Duration::zero());
    }

    #[test]
    fn between_two_instants_of_a_weekend_is_zero() {
        let office = calendar(OFFICE);
        assert_eq!(
            office.between(
                at("2026-11-21T08:00:00+08:00"),
                at("2026-11-22T20:00:00+08:00")
            ),
            Duration::zero(),
        );
    }

    #[test]
    fn office_hours_stay_wall_clock_hours_across_daylight_saving_changes() {
        let paris = calendar(PARIS_OFFICE);
        // Spring forward on Sunday 29 March 2026: Friday is CET (+01:00), Monday CEST (+02:00).
        let friday = at("2026-03-27T17:00:00+01:00");
        let monday = at("2026-03-30T10:00:00+02:00");
        assert_eq!(paris.add(friday, hours(2)), monday);
        assert_eq!(monday, at("2026-03-30T08:00:00Z"));
        assert_eq!(paris.between(friday, monday), hours(2));
        // Fall back on Sunday 25 October 2026.
        assert_eq!(
            paris.add(at("2026-10-23T17:00:00+02:00"), hours(2)),
            at("2026-10-26T09:00:00Z"),
        );
    }

    #[test]
    fn daylight_saving_sundays_last_23_and_25_hours() {
        let sundays =
            calendar(r#"{"timezone": "Europe/Paris", "hours": {"sun": ["00:00-24:00"]}}"#);
        assert_eq!(
            sundays.between(
                at("2026-03-29T00:00:00+01:00"),
                at("2026-03-30T00:00:00+02:00")
            ),
            hours(23),
        );
        assert_eq!(
            sundays.between(
                at("2026-10-25T00:00:00+02:00"),
                at("2026-10-26T00:00:00+01:00")
            ),
            hours(25),
        );
        assert_eq!(
            sundays.add(at("2026-03-28T12:00:00Z"), hours(23)),
            at("2026-03-29T22:00:00Z"),
        );
    }

    #[test]
    fn local_times_skipped_by_spring_forward_are_not_business_time() {
        // 02:00-03:00 does not exist on 29 March 2026 in Paris; the clock opens at 03:00 CEST.
        let night = calendar(r#"{"timezone": "Europe/Paris", "hours": {"sun": ["02:00-04:00"]}}"#);
        let saturday = at("2026-03-28T12:00:00Z");
        assert_eq!(
            night.add(saturday, Duration::minutes(30)),
            at("2026-03-29T03:30:00+02:00"),
        );
        assert_eq!(
            night.between(saturday, at("2026-03-29T12:00:00Z")),
            hours(1)
        );
        // A Sunday without a change has both hours.
        assert_eq!(
            night.between(at("2026-03-21T12:00:00Z"), at("2026-03-22T12:00:00Z")),
            hours(2)
        );
    }

    #[test]
    fn ambiguous_local_times_of_fall_back_take_the_earlier_instant() {
        // 02:30 happens twice on 25 October 2026 in Paris: working time starts at the first.
        let night = calendar(r#"{"timezone": "Europe/Paris", "hours": {"sun": ["02:30-04:00"]}}"#);
        let saturday = at("2026-10-24T12:00:00Z");
        assert_eq!(
            night.add(saturday, Duration::milliseconds(1)),
            at("2026-10-25T02:30:00.001+02:00"),
        );
        assert_eq!(
            night.between(saturday, at("2026-10-25T12:00:00Z")),
            Duration::minutes(150)
        );
    }

    #[test]
    fn walk_stops_at_the_horizon_when_holidays_close_every_working_day() {
        // Open on Mondays only, and every Monday for eleven years is a holiday.
        let first_monday = NaiveDate::from_ymd_opt(2026, 1, 5).expect("a valid date");
        let holidays: Vec<String> = (0..52 * 11)
            .map(|week| (first_monday + Duration::weeks(week)).to_string())
            .collect();
        let closed = calendar(&format!(
            r#"{{"timezone": "UTC", "hours": {{"mon": ["09:00-18:00"]}}, "holidays": {}}}"#,
            serde_json::to_string(&holidays).expect("strings serialise"),
        ));
        let from = at("2026-01-01T00:00:00Z");
        assert_eq!(closed.add(from, hours(1)), from);
        // Backwards, the Monday before the holidays is still open.
        assert_eq!(closed.add(from, hours(-1)), at("2025-12-29T17:00:00Z"));
        assert_eq!(
            closed.between(from, at("2040-01-01T00:00:00Z")),
            Duration::zero()
        );
    }

    #[test]
    fn amount_beyond_the_horizon_stops_at_the_last_closing_reached() {
        let office = calendar(&OFFICE.replace("Asia/Shanghai", "UTC"));
        let from = at("2026-01-01T00:00:00Z");
        // The walk covers 3660 local days from 31 December 2025: its last is Monday 7 January 2036.
        let reached = office.add(from, Duration::days(365 * 20));
        assert_eq!(reached, at("2036-01-07T18:00:00Z"));
        assert_eq!(
            office.add(reached, -office.between(from, reached)),
            at("2026-01-01T09:00:00Z")
        );
    }

    /// Mon-Sun with a lunch break, an evening to midnight, nights across both daylight-saving
    /// changes (Sunday 01:30-03:00 covers the gap and the repeated hour) and holidays.
    const PROPERTY_CALENDAR: &str = r#"{"timezone": "Europe/Paris", "hours": {
        "mon": ["09:00-12:00", "13:00-18:00"], "tue": ["09:00-18:00"],
        "wed": ["14:00-24:00", "08:30-12:00"], "thu": ["09:00-18:00"], "fri": ["09:00-17:00"],
        "sat": ["00:00-03:30"], "sun": ["01:30-03:00"]},
        "holidays": ["2026-04-06", "2026-05-01", "2026-12-25", "2027-01-01"]}"#;

    /// Paris wall-clock time by the EU's rule, independently of the timezone database: summer
    /// time (UTC+2) from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday
    /// of October, else UTC+1.
    fn paris(instant: DateTime<Utc>) -> NaiveDateTime {
        let last_sunday_at_one = |month: u32| {
            let last = NaiveDate::from_ymd_opt(instant.year(), month, 31).unwrap();
            let back = i64::from(last.weekday().num_days_from_sunday());
            (last - Duration::days(back))
                .and_hms_opt(1, 0, 0)
                .unwrap()
                .and_utc()
        };
        let summer = (last_sunday_at_one(3)..last_sunday_at_one(10)).contains(&instant);
        instant.naive_utc() + Duration::hours(if summer { 2 } else { 1 })
    }

    #[test]
    fn the_paris_oracle_knows_the_2026_changes() {
        assert_eq!(
            paris(at("2026-03-29T00:59:59Z")).to_string(),
            "2026-03-29 01:59:59"
        );
        assert_eq!(
            paris(at("2026-03-29T01:00:00Z")).to_string(),
            "2026-03-29 03:00:00"
        );
        assert_eq!(
            paris(at("2026-10-25T00:59:59Z")).to_string(),
            "2026-10-25 02:59:59"
        );
        assert_eq!(
            paris(at("2026-10-25T01:00:00Z")).to_string(),
            "2026-10-25 02:00:00"
        );
    }

    /// Whether `instant` is working time, read off the wall clock independently of the walk.
    fn wall_clock_says_open(instant: DateTime<Utc>) -> bool {
        let local = paris(instant);
        let date = local.date();
        let holidays = ["2026-04-06", "2026-05-01", "2026-12-25", "2027-01-01"];
        if holidays.contains(&date.to_string().as_str()) {
            return false;
        }
        let hours: &[(u32, u32)] = match local.weekday() {
            chrono::Weekday::Mon => &[(540, 720), (780, 1080)],
            chrono::Weekday::Tue | chrono::Weekday::Thu => &[(540, 1080)],
            chrono::Weekday::Wed => &[(510, 720), (840, 1440)],
            chrono::Weekday::Fri => &[(540, 1020)],
            chrono::Weekday::Sat => &[(0, 210)],
            chrono::Weekday::Sun => &[(90, 180)],
        };
        let minute = local.hour() * 60 + local.minute();
        hours
            .iter()
            .any(|(start, end)| (*start..*end).contains(&minute))
    }

    /// A fixed-seed linear congruential generator: reproducible samples, no dependency.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, bound: i64) -> i64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let bound = u64::try_from(bound).expect("bounds are positive");
            i64::try_from((self.0 >> 11) % bound).expect("below a positive i64")
        }

        /// Instants over two years, half of them within two days of a daylight-saving change.
        fn instant(&mut self) -> DateTime<Utc> {
            const FOUR_DAYS_MS: i64 = 4 * 24 * 3600 * 1000;
            if self.below(2) == 0 {
                let start = at("2026-01-01T00:00:00Z");
                start + Duration::milliseconds(self.below(2 * 365 * 24 * 3600 * 1000))
            } else {
                let changes = [
                    "2026-03-27T00:00:00Z",
                    "2026-10-23T00:00:00Z",
                    "2027-03-26T00:00:00Z",
                    "2027-10-29T00:00:00Z",
                ];
                let index = usize::try_from(self.below(4)).expect("an index below 4");
                at(changes[index]) + Duration::milliseconds(self.below(FOUR_DAYS_MS))
            }
        }

        /// Up to 120 hours, to the millisecond.
        fn amount(&mut self) -> Duration {
            Duration::milliseconds(self.below(120 * 3600 * 1000))
        }
    }

    /// A few hundred instants inside working hours, always the same ones.
    fn open_instants(rng: &mut Lcg) -> Vec<DateTime<Utc>> {
        let candidates = (0..20_000).map(|_| rng.instant());
        let open: Vec<_> = candidates
            .filter(|instant| wall_clock_says_open(*instant))
            .take(400)
            .collect();
        assert_eq!(open.len(), 400, "the generator yields enough open instants");
        open
    }

    #[test]
    fn walk_agrees_with_the_wall_clock_about_what_is_open() {
        let calendar = calendar(PROPERTY_CALENDAR);
        let mut rng = Lcg(7);
        for _ in 0..2_000 {
            let instant = rng.instant();
            let counted = calendar.between(instant, instant + Duration::milliseconds(1));
            assert_eq!(
                counted == Duration::milliseconds(1),
                wall_clock_says_open(instant),
                "at {instant}"
            );
        }
    }

    #[test]
    fn subtracting_what_was_added_returns_to_an_open_start() {
        let calendar = calendar(PROPERTY_CALENDAR);
        let mut rng = Lcg(42);
        for start in open_instants(&mut rng) {
            let amount = rng.amount();
            let due = calendar.add(start, amount);
            assert_eq!(calendar.add(due, -amount), start, "{start} + {amount}");
        }
    }

    #[test]
    fn between_measures_exactly_what_add_added() {
        let calendar = calendar(PROPERTY_CALENDAR);
        let mut rng = Lcg(2026);
        for start in open_instants(&mut rng) {
            let amount = rng.amount();
            let due = calendar.add(start, amount);
            assert_eq!(calendar.between(start, due), amount, "{start} + {amount}");
            assert_eq!(calendar.between(due, start), -amount, "{start} + {amount}");
        }
    }

    #[test]
    fn documented_example_has_lunch_saturdays_and_holidays() {
        let calendars = SlaCalendars::parse(DOC_EXAMPLE).expect("the documented example is valid");
        let service = calendars.for_queue("service");
        assert_eq!(
            service.add(at("2026-09-28T11:30:00+08:00"), hours(1)),
            at("2026-09-28T13:30:00+08:00"),
        );
        // 1 and 2 October are holidays; Saturday opens at 10:00.
        assert_eq!(
            service.add(at("2026-09-30T17:30:00+08:00"), hours(1)),
            at("2026-10-03T10:30:00+08:00"),
        );
    }

    #[test]
    fn intervals_may_be_listed_in_any_order_and_end_at_midnight() {
        let listed = calendar(
            r#"{"timezone": "UTC", "hours": {"mon": ["20:00-24:00", "09:00-12:00", "12:00-13:00"]}}"#,
        );
        let sorted = calendar(
            r#"{"timezone": "UTC", "hours": {"mon": ["09:00-12:00", "12:00-13:00", "20:00-24:00"]}}"#,
        );
        assert_eq!(listed, sorted);
        assert_eq!(
            listed.add(at("2026-11-23T23:00:00Z"), hours(2)),
            at("2026-11-30T10:00:00Z"),
        );
    }

    #[test]
    fn unknown_timezone_is_refused() {
        assert_eq!(
            parse_error(r#"{"timezone": "Mars/Olympus", "hours": {"mon": ["09:00-18:00"]}}"#),
            CalendarError::UnknownTimezone {
                queue: "service".into(),
                timezone: "Mars/Olympus".into(),
            },
        );
    }

    #[test]
    fn hours_ending_before_they_start_are_refused_with_a_clear_message() {
        let error = parse_error(r#"{"timezone": "UTC", "hours": {"mon": ["18:00-09:00"]}}"#);
        assert_eq!(
            error,
            CalendarError::EndBeforeStart {
                queue: "service".into(),
                day: "mon",
                hours: "18:00-09:00".into(),
            },
        );
        assert_eq!(
            error.to_string(),
            "calendar of queue `service`: working hours `18:00-09:00` on mon end before they start",
        );
    }

    #[test]
    fn empty_hours_are_refused() {
        assert_eq!(
            parse_error(r#"{"timezone": "UTC", "hours": {"tue": ["09:00-09:00"]}}"#),
            CalendarError::EmptyHours {
                queue: "service".into(),
                day: "tue",
                hours: "09:00-09:00".into(),
            },
        );
    }

    #[test]
    fn malformed_hours_are_refused() {
        for hours in [
            "9:00-18:00",
            "09:00-25:00",
            "09:60-10:00",
            "24:00-24:00",
            "09:00",
            "09:00-18:00-19:00",
            "09h00-18h00",
            " 09:00-18:00",
        ] {
            let json = format!(r#"{{"timezone": "UTC", "hours": {{"wed": ["{hours}"]}}}}"#);
            assert_eq!(
                parse_error(&json),
                CalendarError::MalformedHours {
                    queue: "service".into(),
                    day: "wed",
                    hours: hours.into(),
                },
                "{hours}"
            );
        }
    }

    #[test]
    fn overlapping_hours_are_refused() {
        assert_eq!(
            parse_error(r#"{"timezone": "UTC", "hours": {"fri": ["12:00-18:00", "09:00-12:30"]}}"#),
            CalendarError::OverlappingHours {
                queue: "service".into(),
                day: "fri",
                first: "09:00-12:30".into(),
                second: "12:00-18:00".into(),
            },
        );
    }

    #[test]
    fn malformed_holidays_are_refused() {
        for holiday in ["2026-02-30", "2026-1-01", "01/10/2026", "2026-10-01T00:00"] {
            let json = format!(
                r#"{{"timezone": "UTC", "hours": {{"mon": ["09:00-18:00"]}}, "holidays": ["{holiday}"]}}"#
            );
            assert_eq!(
                parse_error(&json),
                CalendarError::MalformedHoliday {
                    queue: "service".into(),
                    holiday: holiday.into(),
                },
                "{holiday}"
            );
        }
    }

    #[test]
    fn week_without_working_time_is_refused() {
        assert_eq!(
            parse_error(r#"{"timezone": "UTC", "hours": {"sat": []}}"#),
            CalendarError::NeverOpen {
                queue: "service".into()
            },
        );
    }

    #[test]
    fn unknown_and_missing_fields_are_refused_naming_queue_and_field() {
        let cases = [
            (
                r#"{"timezone": "UTC", "hours": {"mon": ["09:00-18:00"]}, "holiday": []}"#,
                "unknown field `holiday`",
            ),
            (
                r#"{"timezone": "UTC", "hours": {"monday": ["09:00-18:00"]}}"#,
                "unknown field `monday`",
            ),
            (
                r#"{"hours": {"mon": ["09:00-18:00"]}}"#,
                "missing field `timezone`",
            ),
            (r#"{"timezone": "UTC"}"#, "missing field `hours`"),
            (r#""around_the_clock""#, "invalid type"),
        ];
        for (json, expected) in cases {
            match parse_error(json) {
                CalendarError::Invalid { queue, reason } => {
                    assert_eq!(queue, "service");
                    assert!(reason.contains(expected), "{reason}");
                }
                other => panic!("{json}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn configuration_that_is_not_an_object_of_calendars_is_refused() {
        for json in ["not json", "[]", "null", r#"{"service": {"#] {
            assert!(
                matches!(SlaCalendars::parse(json), Err(CalendarError::NotJson(_))),
                "{json}"
            );
        }
    }
}
