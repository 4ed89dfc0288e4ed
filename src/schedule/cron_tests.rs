//! Table tests for the cron evaluator.
//!
//! Expected fire times are literal and were derived by hand from Quartz's
//! documented rules (the CronTrigger tutorial and `CronExpression`'s
//! documentation), Vixie cron's day rule and SPEC's DST rules. Calendar facts
//! used throughout: 2026-01-01 is a Thursday, 2027-01-01 a Friday, 2028-01-01
//! a Saturday (2028 is a leap year). Europe/Paris goes CET -> CEST at
//! 2026-03-29T01:00Z and back at 2026-10-25T01:00Z; America/New_York goes
//! EST -> EDT at 2026-03-08T07:00Z and back at 2026-11-01T06:00Z.
//!
//! Each table row becomes its own `#[test]`, so one failing row does not hide
//! the others. A `"never"` entry in a list of expected fire times means
//! `next_after` must return `None` at that point.

use super::cron::{CronError, CronExpr, Fire};
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone,
    Timelike, Utc,
};
use chrono_tz::America::New_York;
use chrono_tz::Europe::Paris;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// `MOVED`/`EXACT`: the expected `moved_by_dst` of a fire.
const MOVED: bool = true;
const EXACT: bool = false;

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad RFC 3339 literal {s:?}: {e}"))
        .with_timezone(&Utc)
}

fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .unwrap_or_else(|e| panic!("bad local time literal {s:?}: {e}"))
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn parse(expr: &str) -> CronExpr {
    CronExpr::parse(expr).unwrap_or_else(|e| panic!("{expr:?} should parse, got error {e}"))
}

fn show(fire: Option<Fire>) -> String {
    match fire {
        None => "never (None)".to_string(),
        Some(f) => format!(
            "{} (local {}, moved_by_dst {})",
            rfc(f.at),
            f.local.format("%Y-%m-%dT%H:%M:%S"),
            f.moved_by_dst
        ),
    }
}

/// Successive fire times of `expr` in UTC from `after`, compared with
/// `expected` (RFC 3339 instants, or `"never"` for `None`, which must be
/// last). In UTC nothing is ever moved, and `local` is `at`'s wall time.
fn check_utc(expr: &str, after: &str, expected: &[&str]) {
    let cron = parse(expr);
    let mut cursor = instant(after);
    for (i, want) in expected.iter().enumerate() {
        let got = cron.next_after(cursor, &chrono_tz::UTC);
        let ctx = format!("{expr:?}: fire #{} after {}", i + 1, rfc(cursor));
        if *want == "never" {
            assert!(got.is_none(), "{ctx}: expected never, got {}", show(got));
            assert_eq!(i + 1, expected.len(), "\"never\" must be the last entry");
            return;
        }
        let want_at = instant(want);
        let Some(fire) = got else {
            panic!("{ctx}: expected {}, got never (None)", rfc(want_at));
        };
        assert_eq!(
            fire.at,
            want_at,
            "{ctx}: expected {}, got {}",
            rfc(want_at),
            show(got)
        );
        assert!(
            !fire.moved_by_dst,
            "{ctx}: moved_by_dst in UTC: {}",
            show(got)
        );
        assert_eq!(
            fire.local,
            fire.at.naive_utc(),
            "{ctx}: local differs from the UTC wall time: {}",
            show(got)
        );
        cursor = fire.at;
    }
}

/// Successive fire times of `expr` in `tz` from `after`: each is
/// (`at` in RFC 3339, `local` wall time named by the expression, moved).
fn check_tz<Z: TimeZone>(expr: &str, tz: &Z, after: &str, expected: &[(&str, &str, bool)]) {
    let cron = parse(expr);
    let mut cursor = instant(after);
    for (i, (want_at, want_local, want_moved)) in expected.iter().enumerate() {
        let want = Fire {
            at: instant(want_at),
            local: local(want_local),
            moved_by_dst: *want_moved,
        };
        let got = cron.next_after(cursor, tz);
        assert_eq!(
            got,
            Some(want),
            "{expr:?}: fire #{} after {}: expected {}, got {}",
            i + 1,
            rfc(cursor),
            show(Some(want)),
            show(got)
        );
        cursor = want.at;
    }
}

/// `expr` must not parse, and the error must name one of `fields`.
fn check_error(expr: &str, fields: &[&str]) {
    let err: CronError = match CronExpr::parse(expr) {
        Ok(cron) => panic!(
            "{expr:?} should be rejected naming {fields:?}, but it parsed as {:?}",
            cron.as_str()
        ),
        Err(e) => e,
    };
    assert!(
        fields.contains(&err.field),
        "{expr:?}: error names field {:?} (\"{err}\"), expected one of {fields:?}",
        err.field
    );
    assert!(!err.reason.is_empty(), "{expr:?}: empty reason");
    assert_eq!(err.to_string(), format!("{}: {}", err.field, err.reason));
}

/// One `#[test]` per row: `name: "expr", "after" => ["fire", ...];` in UTC.
macro_rules! utc_table {
    ($($name:ident: $expr:literal, $after:literal => [$($want:literal),* $(,)?];)*) => {
        $(
            #[test]
            fn $name() {
                super::check_utc($expr, $after, &[$($want),*]);
            }
        )*
    };
}

/// One `#[test]` per row: `name: "expr", tz, "after" => [("at", "local", moved), ...];`.
macro_rules! tz_table {
    ($($name:ident: $expr:literal, $tz:expr, $after:literal
        => [$(($at:literal, $local:literal, $moved:expr)),* $(,)?];)*) => {
        $(
            #[test]
            fn $name() {
                super::check_tz($expr, &$tz, $after, &[$(($at, $local, $moved)),*]);
            }
        )*
    };
}

/// One `#[test]` per row: `name: "expr" => ["field", ...];`.
macro_rules! error_table {
    ($($name:ident: $expr:literal => [$($field:literal),+ $(,)?];)*) => {
        $(
            #[test]
            fn $name() {
                super::check_error($expr, &[$($field),+]);
            }
        )*
    };
}

// ---------------------------------------------------------------------------
// 1. The examples of Quartz's CronTrigger tutorial
// ---------------------------------------------------------------------------

mod quartz_examples {
    utc_table! {
        noon_every_day: "0 0 12 * * ?", "2026-01-01T11:59:59Z" => [
            "2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z", "2026-01-03T12:00:00Z",
        ];
        noon_every_day_strictly_after_a_fire: "0 0 12 * * ?", "2026-01-31T12:00:00Z" => [
            "2026-02-01T12:00:00Z", "2026-02-02T12:00:00Z", "2026-02-03T12:00:00Z",
        ];
        ten_fifteen_every_day_dow_star: "0 15 10 ? * *", "2026-12-31T10:15:00Z" => [
            "2027-01-01T10:15:00Z", "2027-01-02T10:15:00Z", "2027-01-03T10:15:00Z",
        ];
        ten_fifteen_every_day_dom_star: "0 15 10 * * ?", "2026-12-31T10:15:00Z" => [
            "2027-01-01T10:15:00Z", "2027-01-02T10:15:00Z", "2027-01-03T10:15:00Z",
        ];
        ten_fifteen_every_day_year_star: "0 15 10 * * ? *", "2026-12-31T10:15:00Z" => [
            "2027-01-01T10:15:00Z", "2027-01-02T10:15:00Z", "2027-01-03T10:15:00Z",
        ];
        every_day_during_2027: "0 15 10 * * ? 2027", "2026-06-15T00:00:00Z" => [
            "2027-01-01T10:15:00Z", "2027-01-02T10:15:00Z", "2027-01-03T10:15:00Z",
        ];
        every_day_during_2027_ends: "0 15 10 * * ? 2027", "2027-12-30T12:00:00Z" => [
            "2027-12-31T10:15:00Z", "never",
        ];
        every_minute_from_2pm: "0 * 14 * * ?", "2026-01-01T14:57:30Z" => [
            "2026-01-01T14:58:00Z", "2026-01-01T14:59:00Z",
            "2026-01-02T14:00:00Z", "2026-01-02T14:01:00Z",
        ];
        every_5_minutes_from_2pm: "0 0/5 14 * * ?", "2026-01-01T14:50:00Z" => [
            "2026-01-01T14:55:00Z", "2026-01-02T14:00:00Z",
            "2026-01-02T14:05:00Z", "2026-01-02T14:10:00Z",
        ];
        every_5_minutes_from_2pm_and_6pm: "0 0/5 14,18 * * ?", "2026-01-01T14:52:00Z" => [
            "2026-01-01T14:55:00Z", "2026-01-01T18:00:00Z",
            "2026-01-01T18:05:00Z", "2026-01-01T18:10:00Z",
        ];
        every_5_minutes_from_2pm_and_6pm_next_day: "0 0/5 14,18 * * ?", "2026-01-01T18:50:00Z" => [
            "2026-01-01T18:55:00Z", "2026-01-02T14:00:00Z", "2026-01-02T14:05:00Z",
        ];
        minutes_0_to_5_of_2pm: "0 0-5 14 * * ?", "2026-01-01T14:03:00Z" => [
            "2026-01-01T14:04:00Z", "2026-01-01T14:05:00Z",
            "2026-01-02T14:00:00Z", "2026-01-02T14:01:00Z",
        ];
        wednesdays_in_march: "0 10,44 14 ? 3 WED", "2026-01-01T00:00:00Z" => [
            "2026-03-04T14:10:00Z", "2026-03-04T14:44:00Z",
            "2026-03-11T14:10:00Z", "2026-03-11T14:44:00Z", "2026-03-18T14:10:00Z",
        ];
        wednesdays_in_march_next_year: "0 10,44 14 ? 3 WED", "2026-03-25T14:44:00Z" => [
            "2027-03-03T14:10:00Z", "2027-03-03T14:44:00Z", "2027-03-10T14:10:00Z",
        ];
        monday_to_friday: "0 15 10 ? * MON-FRI", "2026-01-02T10:15:00Z" => [
            "2026-01-05T10:15:00Z", "2026-01-06T10:15:00Z", "2026-01-07T10:15:00Z",
            "2026-01-08T10:15:00Z", "2026-01-09T10:15:00Z",
        ];
        fifteenth_of_the_month: "0 15 10 15 * ?", "2026-01-15T10:15:00Z" => [
            "2026-02-15T10:15:00Z", "2026-03-15T10:15:00Z", "2026-04-15T10:15:00Z",
        ];
        last_day_of_the_month: "0 15 10 L * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-31T10:15:00Z", "2026-02-28T10:15:00Z", "2026-03-31T10:15:00Z",
            "2026-04-30T10:15:00Z", "2026-05-31T10:15:00Z",
        ];
        // L-2: two days before the last day (Quartz: last day minus offset).
        last_day_minus_2: "0 15 10 L-2 * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-29T10:15:00Z", "2026-02-26T10:15:00Z", "2026-03-29T10:15:00Z",
            "2026-04-28T10:15:00Z", "2026-05-29T10:15:00Z",
        ];
        last_friday: "0 15 10 ? * 6L", "2026-01-01T00:00:00Z" => [
            "2026-01-30T10:15:00Z", "2026-02-27T10:15:00Z", "2026-03-27T10:15:00Z",
            "2026-04-24T10:15:00Z", "2026-05-29T10:15:00Z",
        ];
        last_friday_2026_to_2027_starts: "0 15 10 ? * 6L 2026-2027", "2025-06-01T00:00:00Z" => [
            "2026-01-30T10:15:00Z", "2026-02-27T10:15:00Z", "2026-03-27T10:15:00Z",
        ];
        last_friday_2026_to_2027_ends: "0 15 10 ? * 6L 2026-2027", "2027-10-01T00:00:00Z" => [
            "2027-10-29T10:15:00Z", "2027-11-26T10:15:00Z", "2027-12-31T10:15:00Z", "never",
        ];
        third_friday: "0 15 10 ? * 6#3", "2026-01-01T00:00:00Z" => [
            "2026-01-16T10:15:00Z", "2026-02-20T10:15:00Z", "2026-03-20T10:15:00Z",
            "2026-04-17T10:15:00Z", "2026-05-15T10:15:00Z",
        ];
        every_5_days_from_the_1st: "0 0 12 1/5 * ?", "2026-01-25T00:00:00Z" => [
            "2026-01-26T12:00:00Z", "2026-01-31T12:00:00Z", "2026-02-01T12:00:00Z",
            "2026-02-06T12:00:00Z", "2026-02-11T12:00:00Z",
        ];
        november_11th: "0 11 11 11 11 ?", "2026-01-01T00:00:00Z" => [
            "2026-11-11T11:11:00Z", "2027-11-11T11:11:00Z", "2028-11-11T11:11:00Z",
        ];
        // The tutorial's four introductory examples.
        every_5_minutes: "0 0/5 * * * ?", "2026-01-01T23:52:00Z" => [
            "2026-01-01T23:55:00Z", "2026-01-02T00:00:00Z", "2026-01-02T00:05:00Z",
        ];
        every_5_minutes_at_10_seconds: "10 0/5 * * * ?", "2026-01-01T00:00:10Z" => [
            "2026-01-01T00:05:10Z", "2026-01-01T00:10:10Z", "2026-01-01T00:15:10Z",
        ];
        half_past_10_to_13_wed_fri: "0 30 10-13 ? * WED,FRI", "2026-01-01T00:00:00Z" => [
            "2026-01-02T10:30:00Z", "2026-01-02T11:30:00Z", "2026-01-02T12:30:00Z",
            "2026-01-02T13:30:00Z", "2026-01-07T10:30:00Z",
        ];
        half_hours_8_to_10_on_5th_and_20th: "0 0/30 8-9 5,20 * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-05T08:00:00Z", "2026-01-05T08:30:00Z", "2026-01-05T09:00:00Z",
            "2026-01-05T09:30:00Z", "2026-01-20T08:00:00Z",
        ];
    }
}

// ---------------------------------------------------------------------------
// 2. Rules derived from Quartz's documentation
// ---------------------------------------------------------------------------

mod quartz_rules {
    // Month lengths and leap years.
    utc_table! {
        day_31_only_in_31_day_months: "0 0 0 31 * ?", "2026-03-01T00:00:00Z" => [
            "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z",
            "2026-08-31T00:00:00Z", "2026-10-31T00:00:00Z",
        ];
        day_30_skips_february: "0 0 0 30 * ?", "2026-01-30T00:00:00Z" => [
            "2026-03-30T00:00:00Z", "2026-04-30T00:00:00Z",
        ];
        february_29th_waits_for_a_leap_year: "0 0 0 29 2 ?", "2026-01-01T00:00:00Z" => [
            "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z",
        ];
        february_30th_never: "0 0 0 30 2 ?", "2026-01-01T00:00:00Z" => ["never"];
        last_day_of_february: "0 0 0 L 2 ?", "2026-01-01T00:00:00Z" => [
            "2026-02-28T00:00:00Z", "2027-02-28T00:00:00Z",
            "2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z",
        ];
        l_minus_3_in_february: "0 0 0 L-3 2 ?", "2026-01-01T00:00:00Z" => [
            "2026-02-25T00:00:00Z", "2027-02-25T00:00:00Z",
            "2028-02-26T00:00:00Z", "2029-02-25T00:00:00Z",
        ];
        l_minus_1_across_a_leap_february: "0 0 0 L-1 * ?", "2027-12-01T00:00:00Z" => [
            "2027-12-30T00:00:00Z", "2028-01-30T00:00:00Z", "2028-02-28T00:00:00Z",
            "2028-03-30T00:00:00Z", "2028-04-29T00:00:00Z",
        ];
    }

    // W: the nearest weekday, never leaving the month.
    utc_table! {
        w_1st_on_weekdays_and_sundays: "0 0 0 1W * ?", "2025-12-31T12:00:00Z" => [
            "2026-01-01T00:00:00Z", // Thursday
            "2026-02-02T00:00:00Z", // the 1st is a Sunday -> Monday 2nd
            "2026-03-02T00:00:00Z", // the 1st is a Sunday -> Monday 2nd
            "2026-04-01T00:00:00Z", // Wednesday
            "2026-05-01T00:00:00Z", // Friday
        ];
        w_1st_on_a_saturday_is_monday_3rd: "0 0 0 1W * ?", "2026-07-15T00:00:00Z" => [
            "2026-08-03T00:00:00Z", "2026-09-01T00:00:00Z",
            "2026-10-01T00:00:00Z", "2026-11-02T00:00:00Z",
        ];
        w_1st_fires_after_the_nominal_day: "0 0 0 1W * ?", "2026-08-02T00:00:00Z" => [
            "2026-08-03T00:00:00Z", "2026-09-01T00:00:00Z",
        ];
        w_31st_on_weekend_last_days: "0 0 0 31W 1,3,5 ?", "2026-01-01T00:00:00Z" => [
            "2026-01-30T00:00:00Z", // 31st is a Saturday -> Friday 30th
            "2026-03-31T00:00:00Z", // Tuesday
            "2026-05-29T00:00:00Z", // 31st is a Sunday -> Friday 29th
            "2027-01-29T00:00:00Z", // 31st is a Sunday -> Friday 29th
        ];
        w_31st_skips_months_without_a_31st: "0 0 0 31W * ?", "2026-01-31T00:00:00Z" => [
            "2026-03-31T00:00:00Z", "2026-05-29T00:00:00Z",
            "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z",
        ];
        w_30th_as_last_day: "0 0 0 30W 4,6,9,11 ?", "2028-01-01T00:00:00Z" => [
            "2028-04-28T00:00:00Z", // 30th is a Sunday and the last day -> Friday 28th
            "2028-06-30T00:00:00Z", // Friday
            "2028-09-29T00:00:00Z", // 30th is a Saturday -> Friday 29th
            "2028-11-30T00:00:00Z", // Thursday
        ];
        w_30th_sunday_in_a_31_day_month: "0 0 0 30W 8 ?", "2026-01-01T00:00:00Z" => [
            "2026-08-31T00:00:00Z", // 30th is a Sunday -> Monday 31st
            "2027-08-30T00:00:00Z", "2028-08-30T00:00:00Z",
        ];
        w_15th_mid_month: "0 0 0 15W * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-15T00:00:00Z",
            "2026-02-16T00:00:00Z", // 15th is a Sunday -> Monday 16th
            "2026-03-16T00:00:00Z", // 15th is a Sunday -> Monday 16th
            "2026-04-15T00:00:00Z", "2026-05-15T00:00:00Z",
        ];
        w_15th_on_a_saturday_is_friday_14th: "0 0 0 15W * ?", "2026-07-20T00:00:00Z" => [
            "2026-08-14T00:00:00Z", "2026-09-15T00:00:00Z",
            "2026-10-15T00:00:00Z", "2026-11-16T00:00:00Z",
        ];
        w_15th_already_past_when_moved_back: "0 0 0 15W * ?", "2026-08-14T12:00:00Z" => [
            "2026-09-15T00:00:00Z",
        ];
        lw_last_weekday: "0 0 18 LW * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-30T18:00:00Z", "2026-02-27T18:00:00Z", "2026-03-31T18:00:00Z",
            "2026-04-30T18:00:00Z", "2026-05-29T18:00:00Z",
        ];
        lw_lower_case: "0 0 18 lw * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-30T18:00:00Z", "2026-02-27T18:00:00Z",
        ];
    }

    // nL and n#m in day-of-week.
    utc_table! {
        fifth_monday_only_in_months_that_have_one: "0 0 9 ? * 2#5", "2026-01-01T00:00:00Z" => [
            "2026-03-30T09:00:00Z", "2026-06-29T09:00:00Z",
            "2026-08-31T09:00:00Z", "2026-11-30T09:00:00Z",
        ];
        first_monday: "0 0 9 ? * 2#1", "2026-01-01T00:00:00Z" => [
            "2026-01-05T09:00:00Z", "2026-02-02T09:00:00Z",
            "2026-03-02T09:00:00Z", "2026-04-06T09:00:00Z",
        ];
        last_sunday: "0 0 9 ? * 1L", "2026-01-01T00:00:00Z" => [
            "2026-01-25T09:00:00Z", "2026-02-22T09:00:00Z",
            "2026-03-29T09:00:00Z", "2026-04-26T09:00:00Z",
        ];
        last_friday_with_star_day_of_month: "0 15 10 * * 6L", "2026-01-01T00:00:00Z" => [
            "2026-01-30T10:15:00Z", "2026-02-27T10:15:00Z",
        ];
    }

    // The year field.
    utc_table! {
        year_range: "0 0 0 1 1 ? 2030-2032", "2026-01-01T00:00:00Z" => [
            "2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z", "2032-01-01T00:00:00Z", "never",
        ];
        year_list: "0 0 0 1 1 ? 2027,2029,2035", "2026-01-01T00:00:00Z" => [
            "2027-01-01T00:00:00Z", "2029-01-01T00:00:00Z", "2035-01-01T00:00:00Z", "never",
        ];
        year_step: "0 0 0 1 1 ? 2026/4", "2026-01-01T00:00:00Z" => [
            "2030-01-01T00:00:00Z", "2034-01-01T00:00:00Z", "2038-01-01T00:00:00Z",
        ];
        year_step_runs_out_at_2099: "0 0 0 1 1 ? 2090/5", "2026-01-01T00:00:00Z" => [
            "2090-01-01T00:00:00Z", "2095-01-01T00:00:00Z", "never",
        ];
        year_2099_is_the_last: "0 0 0 31 12 ? 2099", "2026-01-01T00:00:00Z" => [
            "2099-12-31T00:00:00Z", "never",
        ];
        year_in_the_past: "0 0 0 1 1 ? 2020", "2026-01-01T00:00:00Z" => ["never"];
        year_in_the_past_daily: "0 0 12 * * ? 2025", "2026-01-01T00:00:00Z" => ["never"];
    }

    // Wrap-around ranges (Quartz: "22-2", "NOV-FEB").
    utc_table! {
        wrap_hours: "0 0 22-2 * * ?", "2026-01-01T20:00:00Z" => [
            "2026-01-01T22:00:00Z", "2026-01-01T23:00:00Z", "2026-01-02T00:00:00Z",
            "2026-01-02T01:00:00Z", "2026-01-02T02:00:00Z", "2026-01-02T22:00:00Z",
        ];
        wrap_hours_with_step: "0 0 22-2/2 * * ?", "2026-01-01T12:00:00Z" => [
            "2026-01-01T22:00:00Z", "2026-01-02T00:00:00Z",
            "2026-01-02T02:00:00Z", "2026-01-02T22:00:00Z",
        ];
        wrap_minutes: "0 55-5 10 * * ?", "2026-01-01T10:03:00Z" => [
            "2026-01-01T10:04:00Z", "2026-01-01T10:05:00Z",
            "2026-01-01T10:55:00Z", "2026-01-01T10:56:00Z",
        ];
        wrap_day_names: "0 0 12 ? * FRI-MON", "2026-01-01T00:00:00Z" => [
            "2026-01-02T12:00:00Z", "2026-01-03T12:00:00Z", "2026-01-04T12:00:00Z",
            "2026-01-05T12:00:00Z", "2026-01-09T12:00:00Z",
        ];
        wrap_day_numbers: "0 0 12 ? * 6-2", "2026-01-01T00:00:00Z" => [
            "2026-01-02T12:00:00Z", "2026-01-03T12:00:00Z", "2026-01-04T12:00:00Z",
            "2026-01-05T12:00:00Z", "2026-01-09T12:00:00Z",
        ];
        wrap_month_names: "0 0 0 1 NOV-FEB ?", "2026-01-15T00:00:00Z" => [
            "2026-02-01T00:00:00Z", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z",
            "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z",
        ];
    }

    // Names, numbering, `*` as `?`, `L` alone.
    utc_table! {
        names_case_insensitive: "0 0 9 ? jan,Jul mon", "2026-01-20T00:00:00Z" => [
            "2026-01-26T09:00:00Z", "2026-07-06T09:00:00Z", "2026-07-13T09:00:00Z",
            "2026-07-20T09:00:00Z", "2026-07-27T09:00:00Z",
        ];
        day_name_list: "0 0 9 ? * sun,SAT", "2026-01-01T00:00:00Z" => [
            "2026-01-03T09:00:00Z", "2026-01-04T09:00:00Z",
            "2026-01-10T09:00:00Z", "2026-01-11T09:00:00Z",
        ];
        month_name_range: "0 0 0 1 MAR-MAY ?", "2026-01-01T00:00:00Z" => [
            "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z",
            "2026-05-01T00:00:00Z", "2027-03-01T00:00:00Z",
        ];
        // Quartz reads a name before `#` and `L` too (CronExpression's parser).
        third_friday_by_name: "0 15 10 ? * FRI#3", "2026-01-01T00:00:00Z" => [
            "2026-01-16T10:15:00Z", "2026-02-20T10:15:00Z",
        ];
        last_friday_by_name: "0 15 10 ? * friL", "2026-01-01T00:00:00Z" => [
            "2026-01-30T10:15:00Z", "2026-02-27T10:15:00Z",
        ];
        day_of_week_1_is_sunday: "0 0 9 ? * 1", "2026-01-01T00:00:00Z" => [
            "2026-01-04T09:00:00Z", "2026-01-11T09:00:00Z",
        ];
        day_of_week_7_is_saturday: "0 0 9 ? * 7", "2026-01-01T00:00:00Z" => [
            "2026-01-03T09:00:00Z", "2026-01-10T09:00:00Z",
        ];
        l_alone_in_day_of_week_is_saturday: "0 0 9 ? * L", "2026-01-01T00:00:00Z" => [
            "2026-01-03T09:00:00Z", "2026-01-10T09:00:00Z", "2026-01-17T09:00:00Z",
        ];
        star_day_of_month_means_question: "0 0 9 * * MON", "2026-01-01T00:00:00Z" => [
            "2026-01-05T09:00:00Z", "2026-01-12T09:00:00Z", "2026-01-19T09:00:00Z",
        ];
        star_day_of_week_means_question: "0 0 9 15 * *", "2026-01-01T00:00:00Z" => [
            "2026-01-15T09:00:00Z", "2026-02-15T09:00:00Z", "2026-03-15T09:00:00Z",
        ];
        star_in_both_day_fields_is_every_day: "0 0 9 * * *", "2026-01-01T00:00:00Z" => [
            "2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z", "2026-01-03T09:00:00Z",
        ];
    }

    // Steps.
    utc_table! {
        seconds_every_20: "*/20 * * * * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z",
            "2026-01-01T00:01:00Z", "2026-01-01T00:01:20Z",
        ];
        seconds_0_every_15: "0/15 * * * * ?", "2026-01-01T00:00:50Z" => [
            "2026-01-01T00:01:00Z", "2026-01-01T00:01:15Z", "2026-01-01T00:01:30Z",
        ];
        seconds_5_every_15: "5/15 * * * * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-01T00:00:05Z", "2026-01-01T00:00:20Z", "2026-01-01T00:00:35Z",
            "2026-01-01T00:00:50Z", "2026-01-01T00:01:05Z",
        ];
        seconds_range_with_step: "10-40/10 * * * * ?", "2026-01-01T00:00:40Z" => [
            "2026-01-01T00:01:10Z", "2026-01-01T00:01:20Z", "2026-01-01T00:01:30Z",
            "2026-01-01T00:01:40Z", "2026-01-01T00:02:10Z",
        ];
        every_second_from_a_fraction: "* * * * * ?", "2026-01-01T00:00:00.500Z" => [
            "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z",
        ];
        minutes_every_10: "0 */10 * * * ?", "2026-01-01T00:55:00Z" => [
            "2026-01-01T01:00:00Z", "2026-01-01T01:10:00Z",
        ];
        day_of_month_every_10: "0 0 0 */10 * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-11T00:00:00Z", "2026-01-21T00:00:00Z",
            "2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z",
        ];
        month_every_4: "0 0 0 1 */4 ?", "2026-01-01T00:00:00Z" => [
            "2026-05-01T00:00:00Z", "2026-09-01T00:00:00Z", "2027-01-01T00:00:00Z",
        ];
        // Documented: "7/6" in the month field only turns on month 7.
        month_7_every_6_is_only_july: "0 0 0 1 7/6 ?", "2026-01-01T00:00:00Z" => [
            "2026-07-01T00:00:00Z", "2027-07-01T00:00:00Z",
        ];
    }
}

// ---------------------------------------------------------------------------
// 3. The 5-field Unix form, with Vixie cron's meaning
// ---------------------------------------------------------------------------

mod unix {
    utc_table! {
        every_15_minutes: "*/15 * * * *", "2026-01-01T00:07:00Z" => [
            "2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z",
            "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z",
        ];
        monday_to_friday_unix_numbering: "0 9 * * 1-5", "2026-01-02T09:00:00Z" => [
            "2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z", "2026-01-07T09:00:00Z",
            "2026-01-08T09:00:00Z", "2026-01-09T09:00:00Z",
        ];
        monday_to_friday_names: "0 9 * * mon-fri", "2026-01-02T09:00:00Z" => [
            "2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z", "2026-01-07T09:00:00Z",
            "2026-01-08T09:00:00Z", "2026-01-09T09:00:00Z",
        ];
        dom_or_dow_when_both_restricted: "0 0 1,15 * 3", "2026-01-01T00:00:00Z" => [
            "2026-01-07T00:00:00Z", // Wednesday
            "2026-01-14T00:00:00Z", // Wednesday
            "2026-01-15T00:00:00Z", // the 15th (a Thursday)
            "2026-01-21T00:00:00Z", "2026-01-28T00:00:00Z",
            "2026-02-01T00:00:00Z", // the 1st (a Sunday)
        ];
        the_13th_or_a_friday: "0 0 13 * 5", "2026-01-01T00:00:00Z" => [
            "2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z",
            "2026-01-16T00:00:00Z", "2026-01-23T00:00:00Z",
        ];
        sunday_as_0: "0 0 * * 0", "2026-01-01T00:00:00Z" => [
            "2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z",
        ];
        sunday_as_7: "0 0 * * 7", "2026-01-01T00:00:00Z" => [
            "2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z",
        ];
        friday_to_sunday_with_7: "0 0 * * 5-7", "2026-01-01T00:00:00Z" => [
            "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z",
            "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z",
        ];
        day_of_month_only: "0 0 13 * *", "2026-01-01T00:00:00Z" => [
            "2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z", "2026-03-13T00:00:00Z",
        ];
        day_of_week_only: "30 8 * * 3", "2026-01-01T00:00:00Z" => [
            "2026-01-07T08:30:00Z", "2026-01-14T08:30:00Z", "2026-01-21T08:30:00Z",
        ];
        month_names: "0 0 1 jan,jul *", "2026-01-01T00:00:00Z" => [
            "2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z",
        ];
        // Vixie: `*/2` is a step over the whole range, not "any day".
        day_of_month_star_step: "0 0 */2 * *", "2026-01-28T12:00:00Z" => [
            "2026-01-29T00:00:00Z", "2026-01-31T00:00:00Z",
            "2026-02-01T00:00:00Z", "2026-02-03T00:00:00Z",
        ];
        day_of_week_star_step: "0 0 * * */2", "2026-01-01T00:00:00Z" => [
            "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-06T00:00:00Z",
            "2026-01-08T00:00:00Z", "2026-01-10T00:00:00Z",
        ];
        // Vixie: a day-of-week starting with `*` (here `*/2` = SUN,TUE,THU,SAT)
        // is not "restricted", so the two day fields are ANDed, not ORed.
        star_step_day_of_week_is_anded: "0 12 1-7 * */2", "2026-01-01T00:00:00Z" => [
            "2026-01-01T12:00:00Z", "2026-01-03T12:00:00Z", "2026-01-04T12:00:00Z",
            "2026-01-06T12:00:00Z", "2026-02-01T12:00:00Z", "2026-02-03T12:00:00Z",
        ];
    }
}

// ---------------------------------------------------------------------------
// 4. Parse errors, and the field they name
// ---------------------------------------------------------------------------

mod parse_errors {
    error_table! {
        empty: "" => ["expression"];
        blank: "   " => ["expression"];
        four_fields: "0 0 12 *" => ["expression"];
        eight_fields: "0 0 12 * * ? 2026 1" => ["expression"];

        second_60: "60 0 12 * * ?" => ["seconds"];
        second_range_to_60: "0-60 0 12 * * ?" => ["seconds"];
        second_negative: "-1 0 12 * * ?" => ["seconds"];
        minute_60: "0 60 12 * * ?" => ["minutes"];
        hour_24: "0 0 24 * * ?" => ["hours"];
        hour_range_to_24: "0 0 20-24 * * ?" => ["hours"];
        day_of_month_32: "0 0 12 32 * ?" => ["day-of-month"];
        day_of_month_0: "0 0 12 0 * ?" => ["day-of-month"];
        month_13: "0 0 12 ? 13 *" => ["month"];
        month_0: "0 0 12 ? 0 *" => ["month"];
        day_of_week_8: "0 0 12 ? * 8" => ["day-of-week"];
        day_of_week_0_in_quartz: "0 0 12 ? * 0" => ["day-of-week"];
        day_of_week_range_to_8: "0 0 12 ? * 1-8" => ["day-of-week"];
        year_1969: "0 0 12 * * ? 1969" => ["year"];
        year_2100: "0 0 12 * * ? 2100" => ["year"];

        unix_minute_60: "60 * * * *" => ["minutes"];
        unix_hour_24: "* 24 * * *" => ["hours"];
        unix_day_of_month_32: "* * 32 * *" => ["day-of-month"];
        unix_month_13: "* * * 13 *" => ["month"];
        unix_day_of_week_8: "* * * * 8" => ["day-of-week"];

        question_in_seconds: "? 0 12 * * ?" => ["seconds"];
        question_in_minutes: "0 ? 12 * * ?" => ["minutes"];
        question_in_hours: "0 0 ? * * ?" => ["hours"];
        question_in_month: "0 0 12 ? ? *" => ["month"];
        question_in_year: "0 0 12 * * ? ?" => ["year"];

        both_day_fields_restricted: "0 0 2 1 * MON" => ["day-of-week", "day-of-month"];
        both_day_fields_restricted_l: "0 0 12 15 * 6L" => ["day-of-week", "day-of-month"];
        both_day_fields_restricted_hash: "0 0 12 L * 2#1" => ["day-of-week", "day-of-month"];
        both_day_fields_question: "0 0 12 ? * ?" => ["day-of-week", "day-of-month"];

        unknown_day_name: "0 0 12 ? * FOO" => ["day-of-week"];
        unknown_month_name: "0 0 12 ? FOO *" => ["month"];
        unknown_month_name_in_range: "0 0 12 1 JAN-FOO ?" => ["month"];
        name_in_hours: "0 0 JAN * * ?" => ["hours"];

        step_zero: "0/0 * * * * ?" => ["seconds"];
        star_step_zero: "0 */0 * * * ?" => ["minutes"];
        step_missing: "*/ * * * * ?" => ["seconds"];

        w_in_day_of_week: "0 0 12 ? * 2W" => ["day-of-week"];
        two_hashes: "0 0 12 ? * 2#1,6#3" => ["day-of-week"];
        l_with_other_days: "0 0 12 ? * 6L,2" => ["day-of-week"];
        hash_in_day_of_month: "0 0 12 1#2 * ?" => ["day-of-month"];
        hash_6th: "0 0 12 ? * 6#6" => ["day-of-week"];
        hash_0th: "0 0 12 ? * 6#0" => ["day-of-week"];
        hash_day_8: "0 0 12 ? * 8#1" => ["day-of-week"];
        l_in_hours: "0 0 L * * ?" => ["hours"];
        l_in_month: "0 0 12 ? L *" => ["month"];
        l_offset_over_30: "0 0 12 L-31 * ?" => ["day-of-month"];
        w_with_a_range: "0 0 12 1-5W * ?" => ["day-of-month"];
        w_on_day_32: "0 0 12 32W * ?" => ["day-of-month"];

        garbage: "a b c d e f" => ["seconds"];
        garbage_year: "0 0 12 * * ? abc" => ["year"];
        decimal_hour: "0 0 1.5 * * ?" => ["hours"];
    }
}

// ---------------------------------------------------------------------------
// 5. Time zones and DST
// ---------------------------------------------------------------------------

mod dst {
    use super::{EXACT, MOVED};
    use chrono::{FixedOffset, Utc};
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Paris;

    fn ist() -> FixedOffset {
        FixedOffset::east_opt(5 * 3600 + 1800).unwrap()
    }

    tz_table! {
        // Europe/Paris, 2026-03-29: 02:00-02:59 local does not exist.
        paris_spring_daily_0230: "0 30 2 * * ?", Paris, "2026-03-28T00:00:00Z" => [
            ("2026-03-28T01:30:00Z", "2026-03-28T02:30:00", EXACT),
            ("2026-03-29T01:00:00Z", "2026-03-29T02:30:00", MOVED),
            ("2026-03-30T00:30:00Z", "2026-03-30T02:30:00", EXACT),
        ];
        paris_spring_daily_0230_strictly_after_the_moved_fire: "0 30 2 * * ?", Paris,
            "2026-03-29T01:00:00Z" => [
            ("2026-03-30T00:30:00Z", "2026-03-30T02:30:00", EXACT),
        ];
        // From the last second before the gap, the 02:30 fire (moved to
        // 01:00Z) is still ahead.
        paris_spring_daily_0230_one_second_before_the_gap: "0 30 2 * * ?", Paris,
            "2026-03-29T00:59:59Z" => [
            ("2026-03-29T01:00:00Z", "2026-03-29T02:30:00", MOVED),
            ("2026-03-30T00:30:00Z", "2026-03-30T02:30:00", EXACT),
        ];
        paris_spring_daily_0230_half_a_second_before_the_gap: "0 30 2 * * ?", Paris,
            "2026-03-29T00:59:59.500Z" => [
            ("2026-03-29T01:00:00Z", "2026-03-29T02:30:00", MOVED),
        ];
        // 01:59:59 CET fires at 00:59:59Z; 02:59:59 does not exist and fires
        // at 01:00:00Z, one second later.
        paris_spring_hourly_at_59_59: "59 59 * * * ?", Paris, "2026-03-29T00:00:00Z" => [
            ("2026-03-29T00:59:59Z", "2026-03-29T01:59:59", EXACT),
            ("2026-03-29T01:00:00Z", "2026-03-29T02:59:59", MOVED),
            ("2026-03-29T01:59:59Z", "2026-03-29T03:59:59", EXACT),
        ];
        paris_spring_every_15_minutes: "0 0/15 * * * ?", Paris, "2026-03-29T00:30:00Z" => [
            ("2026-03-29T00:45:00Z", "2026-03-29T01:45:00", EXACT),
            ("2026-03-29T01:00:00Z", "2026-03-29T02:00:00", MOVED),
            ("2026-03-29T01:15:00Z", "2026-03-29T03:15:00", EXACT),
            ("2026-03-29T01:30:00Z", "2026-03-29T03:30:00", EXACT),
        ];
        // 02:00, 02:15, 02:30 and 02:45 all land on 03:00 CEST: one fire.
        paris_spring_every_15_minutes_of_2am_fires_once: "0 0/15 2 * * ?", Paris,
            "2026-03-28T12:00:00Z" => [
            ("2026-03-29T01:00:00Z", "2026-03-29T02:00:00", MOVED),
            ("2026-03-30T00:00:00Z", "2026-03-30T02:00:00", EXACT),
            ("2026-03-30T00:15:00Z", "2026-03-30T02:15:00", EXACT),
        ];
        paris_spring_unix_form: "30 2 * * *", Paris, "2026-03-28T12:00:00Z" => [
            ("2026-03-29T01:00:00Z", "2026-03-29T02:30:00", MOVED),
            ("2026-03-30T00:30:00Z", "2026-03-30T02:30:00", EXACT),
        ];

        // Europe/Paris, 2026-10-25: 02:00-02:59 local happens twice
        // (00:00-00:59Z in CEST, then 01:00-01:59Z in CET).
        paris_fall_daily_0230: "0 30 2 * * ?", Paris, "2026-10-24T12:00:00Z" => [
            ("2026-10-25T00:30:00Z", "2026-10-25T02:30:00", EXACT),
            ("2026-10-26T01:30:00Z", "2026-10-26T02:30:00", EXACT),
        ];
        paris_fall_daily_0230_not_again_at_the_second_occurrence: "0 30 2 * * ?", Paris,
            "2026-10-25T00:30:00Z" => [
            ("2026-10-26T01:30:00Z", "2026-10-26T02:30:00", EXACT),
        ];
        paris_fall_daily_0230_from_inside_the_second_occurrence: "0 30 2 * * ?", Paris,
            "2026-10-25T01:10:00Z" => [
            ("2026-10-26T01:30:00Z", "2026-10-26T02:30:00", EXACT),
        ];
        paris_fall_every_15_minutes: "0 0/15 * * * ?", Paris, "2026-10-24T23:40:00Z" => [
            ("2026-10-24T23:45:00Z", "2026-10-25T01:45:00", EXACT),
            ("2026-10-25T00:00:00Z", "2026-10-25T02:00:00", EXACT),
            ("2026-10-25T00:15:00Z", "2026-10-25T02:15:00", EXACT),
            ("2026-10-25T00:30:00Z", "2026-10-25T02:30:00", EXACT),
            ("2026-10-25T00:45:00Z", "2026-10-25T02:45:00", EXACT),
            ("2026-10-25T02:00:00Z", "2026-10-25T03:00:00", EXACT),
            ("2026-10-25T02:15:00Z", "2026-10-25T03:15:00", EXACT),
        ];
        paris_fall_every_15_minutes_from_inside_the_second_occurrence: "0 0/15 * * * ?", Paris,
            "2026-10-25T01:10:00Z" => [
            ("2026-10-25T02:00:00Z", "2026-10-25T03:00:00", EXACT),
        ];

        // America/New_York, 2026-03-08: 02:00-02:59 local does not exist.
        new_york_spring_daily_0230: "0 30 2 * * ?", New_York, "2026-03-07T00:00:00Z" => [
            ("2026-03-07T07:30:00Z", "2026-03-07T02:30:00", EXACT),
            ("2026-03-08T07:00:00Z", "2026-03-08T02:30:00", MOVED),
            ("2026-03-09T06:30:00Z", "2026-03-09T02:30:00", EXACT),
        ];
        new_york_spring_daily_0230_one_second_before_the_gap: "0 30 2 * * ?", New_York,
            "2026-03-08T06:59:59Z" => [
            ("2026-03-08T07:00:00Z", "2026-03-08T02:30:00", MOVED),
            ("2026-03-09T06:30:00Z", "2026-03-09T02:30:00", EXACT),
        ];
        new_york_spring_every_15_minutes: "0 */15 * * * ?", New_York, "2026-03-08T06:30:00Z" => [
            ("2026-03-08T06:45:00Z", "2026-03-08T01:45:00", EXACT),
            ("2026-03-08T07:00:00Z", "2026-03-08T02:00:00", MOVED),
            ("2026-03-08T07:15:00Z", "2026-03-08T03:15:00", EXACT),
            ("2026-03-08T07:30:00Z", "2026-03-08T03:30:00", EXACT),
        ];

        // America/New_York, 2026-11-01: 01:00-01:59 local happens twice
        // (05:00-05:59Z in EDT, then 06:00-06:59Z in EST).
        new_york_fall_daily_0130: "0 30 1 * * ?", New_York, "2026-10-31T00:00:00Z" => [
            ("2026-10-31T05:30:00Z", "2026-10-31T01:30:00", EXACT),
            ("2026-11-01T05:30:00Z", "2026-11-01T01:30:00", EXACT),
            ("2026-11-02T06:30:00Z", "2026-11-02T01:30:00", EXACT),
        ];
        new_york_fall_daily_0230_is_unambiguous: "0 30 2 * * ?", New_York,
            "2026-10-31T12:00:00Z" => [
            ("2026-11-01T07:30:00Z", "2026-11-01T02:30:00", EXACT),
            ("2026-11-02T07:30:00Z", "2026-11-02T02:30:00", EXACT),
        ];
        new_york_fall_every_15_minutes: "0 */15 * * * ?", New_York, "2026-11-01T05:30:00Z" => [
            ("2026-11-01T05:45:00Z", "2026-11-01T01:45:00", EXACT),
            ("2026-11-01T07:00:00Z", "2026-11-01T02:00:00", EXACT),
            ("2026-11-01T07:15:00Z", "2026-11-01T02:15:00", EXACT),
        ];
        new_york_fall_every_15_minutes_from_inside_the_second_occurrence: "0 */15 * * * ?",
            New_York, "2026-11-01T06:20:00Z" => [
            ("2026-11-01T07:00:00Z", "2026-11-01T02:00:00", EXACT),
        ];

        // Other `TimeZone` implementations.
        fixed_offset_zone: "0 0 12 * * ?", ist(), "2026-01-01T00:00:00Z" => [
            ("2026-01-01T06:30:00Z", "2026-01-01T12:00:00", EXACT),
            ("2026-01-02T06:30:00Z", "2026-01-02T12:00:00", EXACT),
        ];
        chrono_utc_zone: "0 0 12 * * ?", Utc, "2026-01-01T00:00:00Z" => [
            ("2026-01-01T12:00:00Z", "2026-01-01T12:00:00", EXACT),
            ("2026-01-02T12:00:00Z", "2026-01-02T12:00:00", EXACT),
        ];
    }
}

// ---------------------------------------------------------------------------
// Misc API
// ---------------------------------------------------------------------------

#[test]
fn as_str_is_the_trimmed_expression() {
    assert_eq!(parse("  0 0 12 * * ?\t").as_str(), "0 0 12 * * ?");
    assert_eq!(parse("*/15 * * * *").as_str(), "*/15 * * * *");
}

#[test]
fn parse_is_deterministic() {
    assert_eq!(parse("0 15 10 ? * 6L"), parse("0 15 10 ? * 6L"));
}

// ---------------------------------------------------------------------------
// 6. Properties, checked against an independent brute-force evaluator
// ---------------------------------------------------------------------------

/// A brute-force reading of simple expressions: numbers, `*`, `?`, ranges
/// (wrapping around as Quartz does), steps and lists. No names, `L`, `W`
/// or `#`.
struct Simple {
    unix: bool,
    seconds: Vec<bool>,
    minutes: Vec<bool>,
    hours: Vec<bool>,
    dom: Vec<bool>,
    months: Vec<bool>,
    /// Quartz: index 1..=7, 1 = SUN. Unix: index 0..=7, 0 and 7 = SUN.
    dow: Vec<bool>,
    dom_star: bool,
    dow_star: bool,
}

/// The values a field turns on, as a table indexed by value.
/// `modulus` is the wrap-around size; `one_based` fields map 0 to `modulus`.
fn simple_field(spec: &str, min: u32, max: u32, modulus: u32, one_based: bool) -> Vec<bool> {
    let mut on = vec![false; max as usize + 1];
    for item in spec.split(',') {
        if item == "*" || item == "?" {
            on[min as usize..].fill(true);
            continue;
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s.parse::<u32>().unwrap())),
            None => (item, None),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (a.parse().unwrap(), b.parse().unwrap())
        } else {
            let a: u32 = range.parse().unwrap();
            (a, if step.is_some() { max } else { a })
        };
        let hi = if hi < lo { hi + modulus } else { hi };
        let mut i = lo;
        while i <= hi {
            let mut v = if i > max { i % modulus } else { i };
            if one_based && v == 0 {
                v = modulus;
            }
            on[v as usize] = true;
            i += step.unwrap_or(1);
        }
    }
    on
}

impl Simple {
    fn new(expr: &str) -> Simple {
        let f: Vec<&str> = expr.split_whitespace().collect();
        match f.len() {
            6 => Simple {
                unix: false,
                seconds: simple_field(f[0], 0, 59, 60, false),
                minutes: simple_field(f[1], 0, 59, 60, false),
                hours: simple_field(f[2], 0, 23, 24, false),
                dom: simple_field(f[3], 1, 31, 31, true),
                months: simple_field(f[4], 1, 12, 12, true),
                dow: simple_field(f[5], 1, 7, 7, true),
                dom_star: f[3].starts_with(['*', '?']),
                dow_star: f[5].starts_with(['*', '?']),
            },
            5 => Simple {
                unix: true,
                seconds: simple_field("0", 0, 59, 60, false),
                minutes: simple_field(f[0], 0, 59, 60, false),
                hours: simple_field(f[1], 0, 23, 24, false),
                dom: simple_field(f[2], 1, 31, 31, true),
                months: simple_field(f[3], 1, 12, 12, true),
                dow: simple_field(f[4], 0, 7, 8, false),
                dom_star: f[2].starts_with('*'),
                dow_star: f[4].starts_with('*'),
            },
            n => panic!("the checker takes 5 or 6 fields, not {n}"),
        }
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        if !self.months[d.month() as usize] {
            return false;
        }
        let dom = self.dom[d.day() as usize];
        let sunday0 = d.weekday().num_days_from_sunday() as usize;
        if self.unix {
            let dow = self.dow[sunday0] || (sunday0 == 0 && self.dow[7]);
            if self.dom_star || self.dow_star {
                dom && dow
            } else {
                dom || dow
            }
        } else {
            // Quartz: one of the two is `?` or `*`, i.e. all days.
            dom && self.dow[sunday0 + 1]
        }
    }

    fn matches(&self, t: NaiveDateTime) -> bool {
        self.day_matches(t.date())
            && self.hours[t.hour() as usize]
            && self.minutes[t.minute() as usize]
            && self.seconds[t.second() as usize]
    }

    /// The first `n` fires after `after` in `tz`, by walking every local
    /// day and applying SPEC's DST rules: a skipped local time fires at
    /// the first instant after the gap, a repeated one at its first
    /// occurrence; fires landing on the same instant count once.
    fn fires<Z: TimeZone>(&self, tz: &Z, after: DateTime<Utc>, n: usize) -> Vec<Fire> {
        let mut out: Vec<Fire> = Vec::new();
        let mut day = after.with_timezone(tz).date_naive().pred_opt().unwrap();
        let limit = day + Duration::days(366 * 30);
        while out.len() < n && day < limit {
            if self.day_matches(day) {
                for h in (0..24).filter(|&h| self.hours[h as usize]) {
                    for m in (0..60).filter(|&m| self.minutes[m as usize]) {
                        for s in (0..60).filter(|&s| self.seconds[s as usize]) {
                            let l = day.and_hms_opt(h, m, s).unwrap();
                            let (at, moved) = resolve(tz, l);
                            let last = out.last().map(|f| f.at);
                            if at <= after || last.is_some_and(|p| at <= p) {
                                continue;
                            }
                            out.push(Fire {
                                at,
                                local: l,
                                moved_by_dst: moved,
                            });
                            if out.len() == n {
                                return out;
                            }
                        }
                    }
                }
            }
            day = day.succ_opt().unwrap();
        }
        out
    }
}

/// The instant a local wall time names in `tz` under SPEC's rules.
fn resolve<Z: TimeZone>(tz: &Z, l: NaiveDateTime) -> (DateTime<Utc>, bool) {
    match tz.from_local_datetime(&l) {
        LocalResult::Single(t) => (t.with_timezone(&Utc), false),
        LocalResult::Ambiguous(a, b) => (a.with_timezone(&Utc).min(b.with_timezone(&Utc)), false),
        LocalResult::None => {
            // The first instant whose wall time is past `l` (binary search
            // by seconds over two days around it; no fall-back there).
            let wall = |secs: i64| {
                let t = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
                t.with_timezone(tz).naive_local()
            };
            let mut lo = l.and_utc().timestamp() - 86_400;
            let mut hi = l.and_utc().timestamp() + 86_400;
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if wall(mid) > l {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            (DateTime::<Utc>::from_timestamp(hi, 0).unwrap(), true)
        }
    }
}

fn check_properties<Z: TimeZone>(expr: &str, tz: &Z, after: &str) {
    const N: usize = 200;
    let cron = parse(expr);
    let simple = Simple::new(expr);
    let start = instant(after);

    let mut got = Vec::with_capacity(N);
    let mut cursor = start;
    while got.len() < N {
        let Some(fire) = cron.next_after(cursor, tz) else {
            panic!(
                "{expr:?}: no fire after {} (fire #{})",
                rfc(cursor),
                got.len() + 1
            );
        };
        assert!(
            fire.at > cursor,
            "{expr:?}: next_after({}) = {} is not strictly later",
            rfc(cursor),
            show(Some(fire))
        );
        assert!(
            simple.matches(fire.local),
            "{expr:?}: {} names a local time the expression does not match",
            show(Some(fire))
        );
        let wall = fire.at.with_timezone(tz).naive_local();
        if fire.moved_by_dst {
            assert!(
                matches!(tz.from_local_datetime(&fire.local), LocalResult::None),
                "{expr:?}: {} is marked moved but its local time exists",
                show(Some(fire))
            );
            assert!(
                wall > fire.local,
                "{expr:?}: moved backwards: {}",
                show(Some(fire))
            );
        } else {
            assert_eq!(
                wall,
                fire.local,
                "{expr:?}: {} is not at its local time",
                show(Some(fire))
            );
            assert!(simple.matches(wall));
        }
        cursor = fire.at;
        got.push(fire);
    }

    let want = simple.fires(tz, start, N);
    assert_eq!(want.len(), N, "checker found too few fires for {expr:?}");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            g,
            w,
            "{expr:?} after {after}: fire #{}: expected {}, got {}",
            i + 1,
            show(Some(*w)),
            show(Some(*g))
        );
    }
}

/// `next_after` from every `step`-th second in [`from`, `to`) must give the
/// instant the checker gives. Chained calls only ever start from a fire
/// time; this starts from everywhere, including the seconds next to a DST
/// change. Returns a description of the disagreements.
fn window_errors<Z: TimeZone>(expr: &str, tz: &Z, from: &str, to: &str, step: i64) -> Vec<String> {
    let cron = parse(expr);
    let simple = Simple::new(expr);
    let (from, to) = (instant(from), instant(to));
    let mut wrong = Vec::new();
    let mut t = from;
    while t < to {
        let want = simple.fires(tz, t, 1);
        let got = cron.next_after(t, tz);
        if got.map(|f| f.at) != want.first().map(|f| f.at) {
            wrong.push(format!(
                "{expr:?} after {}: expected {}, got {}",
                rfc(t),
                show(want.first().copied()),
                show(got)
            ));
        }
        t += Duration::seconds(step);
    }
    wrong
}

/// Runs `window_errors` for each expression over each (from, to, step)
/// window and fails listing every disagreement (at most 3 per expression).
fn check_windows<Z: TimeZone>(exprs: &[&str], tz: &Z, windows: &[(&str, &str, i64)]) {
    let mut report = Vec::new();
    for expr in exprs {
        let mut wrong = Vec::new();
        for (from, to, step) in windows {
            wrong.extend(window_errors(expr, tz, from, to, *step));
        }
        if !wrong.is_empty() {
            report.push(format!("{} wrong start(s), e.g.", wrong.len()));
            report.extend(wrong.into_iter().take(3).map(|w| format!("  {w}")));
        }
    }
    assert!(report.is_empty(), "\n{}", report.join("\n"));
}

mod properties {
    use super::{check_properties, check_windows};
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Paris;
    use chrono_tz::UTC;

    #[test]
    fn seconds_and_minutes_steps() {
        check_properties("*/7 */13 * * * ?", &UTC, "2026-01-01T00:00:00Z");
    }

    #[test]
    fn business_hours_monday_to_friday() {
        check_properties("0 0/5 9-17 ? * 2-6", &UTC, "2026-01-02T16:00:00Z");
    }

    #[test]
    fn twice_a_month_for_years() {
        check_properties("30 15 10 1,15 * ?", &UTC, "2026-01-01T00:00:00Z");
    }

    #[test]
    fn sundays_in_february_and_march() {
        check_properties("0 0 0 ? 2,3 1", &UTC, "2026-01-01T00:00:00Z");
    }

    #[test]
    fn wrap_around_hours() {
        check_properties("0 0 22-2 * * ?", &UTC, "2026-01-01T00:00:00Z");
    }

    #[test]
    fn steps_in_day_and_month_fields() {
        check_properties("15,45 */20 8-10 */10 */3 ?", &UTC, "2026-01-01T00:00:00Z");
    }

    #[test]
    fn wrap_around_months_and_day_step() {
        check_properties("0 0 12 ? 11-2 1-7/2", &UTC, "2026-01-01T00:00:00Z");
    }

    #[test]
    fn paris_quarter_hours_across_spring_forward() {
        check_properties("0 0/15 * * * ?", &Paris, "2026-03-28T12:00:00Z");
    }

    #[test]
    fn paris_quarter_hours_across_fall_back() {
        check_properties("0 0/15 * * * ?", &Paris, "2026-10-24T12:00:00Z");
    }

    #[test]
    fn paris_night_jobs_across_both_changes() {
        check_properties("0 0,30 1-3 * * ?", &Paris, "2026-03-01T00:00:00Z");
        check_properties("0 0,30 1-3 * * ?", &Paris, "2026-10-01T00:00:00Z");
    }

    #[test]
    fn new_york_night_jobs_across_both_changes() {
        check_properties("0 30 1,2 * * ?", &New_York, "2026-02-20T00:00:00Z");
        check_properties("0 30 1,2 * * ?", &New_York, "2026-10-01T00:00:00Z");
    }

    #[test]
    fn paris_hourly_at_59_59_across_spring_forward() {
        check_properties("59 59 * * * ?", &Paris, "2026-03-28T12:00:00Z");
    }

    const AROUND_DST: [&str; 6] = [
        "0 30 2 * * ?",
        "0 0/15 * * * ?",
        "59 59 * * * ?",
        "0 * * * * ?",
        "30 2 * * *",
        "0 30 1 * * ?",
    ];

    #[test]
    fn every_start_around_paris_spring_forward() {
        check_windows(
            &AROUND_DST,
            &Paris,
            &[
                ("2026-03-29T00:55:00Z", "2026-03-29T01:05:00Z", 1),
                ("2026-03-28T22:00:00Z", "2026-03-29T04:00:00Z", 37),
            ],
        );
    }

    #[test]
    fn every_start_around_paris_fall_back() {
        check_windows(
            &AROUND_DST,
            &Paris,
            &[
                ("2026-10-24T23:55:00Z", "2026-10-25T00:05:00Z", 1),
                ("2026-10-25T00:55:00Z", "2026-10-25T01:05:00Z", 1),
                ("2026-10-24T22:00:00Z", "2026-10-25T04:00:00Z", 37),
            ],
        );
    }

    #[test]
    fn every_start_around_new_york_spring_forward() {
        check_windows(
            &AROUND_DST,
            &New_York,
            &[
                ("2026-03-08T06:55:00Z", "2026-03-08T07:05:00Z", 1),
                ("2026-03-08T04:00:00Z", "2026-03-08T10:00:00Z", 37),
            ],
        );
    }

    #[test]
    fn every_start_around_new_york_fall_back() {
        check_windows(
            &AROUND_DST,
            &New_York,
            &[
                ("2026-11-01T04:55:00Z", "2026-11-01T05:05:00Z", 1),
                ("2026-11-01T05:55:00Z", "2026-11-01T06:05:00Z", 1),
                ("2026-11-01T03:00:00Z", "2026-11-01T09:00:00Z", 37),
            ],
        );
    }

    #[test]
    fn unix_every_15_minutes() {
        check_properties("*/15 * * * *", &UTC, "2026-01-01T00:00:00Z");
    }

    #[test]
    fn unix_weekdays() {
        check_properties("0 9 * * 1-5", &UTC, "2026-01-01T00:00:00Z");
    }

    #[test]
    fn unix_day_of_month_or_day_of_week() {
        check_properties("0 0 1,15 * 3", &UTC, "2026-01-01T00:00:00Z");
    }

    #[test]
    fn unix_star_steps_in_day_fields() {
        check_properties("0 6 */3 * *", &UTC, "2026-01-01T00:00:00Z");
        check_properties("0 6 * * */3", &UTC, "2026-01-01T00:00:00Z");
        check_properties("0 6 1-10 * */2", &UTC, "2026-01-01T00:00:00Z");
    }

    #[test]
    fn unix_sunday_as_7_in_new_york() {
        check_properties("30 2 * * 7", &New_York, "2026-01-01T00:00:00Z");
    }
}

/// The checker itself must agree with a few hand-derived facts, or the
/// property tests prove nothing.
#[test]
fn checker_self_test() {
    let s = Simple::new("0 0 22-2 * * ?");
    let hours: Vec<usize> = (0..24).filter(|&h| s.hours[h]).collect();
    assert_eq!(hours, vec![0, 1, 2, 22, 23]);
    let s = Simple::new("0 0 12 ? 11-2 1-7/2");
    let months: Vec<usize> = (1..=12).filter(|&m| s.months[m]).collect();
    assert_eq!(months, vec![1, 2, 11, 12]);
    let days: Vec<usize> = (1..=7).filter(|&d| s.dow[d]).collect();
    assert_eq!(days, vec![1, 3, 5, 7]);

    let fires =
        Simple::new("0 0 1,15 * 3").fires(&chrono_tz::UTC, instant("2026-01-01T00:00:00Z"), 3);
    let ats: Vec<String> = fires.iter().map(|f| rfc(f.at)).collect();
    assert_eq!(
        ats,
        [
            "2026-01-07T00:00:00Z",
            "2026-01-14T00:00:00Z",
            "2026-01-15T00:00:00Z"
        ]
    );

    let fires = Simple::new("0 30 2 * * ?").fires(&Paris, instant("2026-03-28T12:00:00Z"), 2);
    assert_eq!(fires[0].at, instant("2026-03-29T01:00:00Z"));
    assert!(fires[0].moved_by_dst);
    assert_eq!(fires[1].at, instant("2026-03-30T00:30:00Z"));

    let fires = Simple::new("0 30 1 * * ?").fires(&New_York, instant("2026-10-31T12:00:00Z"), 2);
    assert_eq!(fires[0].at, instant("2026-11-01T05:30:00Z"));
    assert_eq!(fires[1].at, instant("2026-11-02T06:30:00Z"));
}

// ---------------------------------------------------------------------------
// 7. Checked against Quartz 2's CronExpression (2.3.2, Debian's
//    libquartz2-java 2.3.2-4, on OpenJDK 17): each expected list below is
//    what `getNextValidTimeAfter` printed from the same instant in the same
//    zone, and each error row is an expression Quartz refuses. Where Quartz
//    answers wrongly or not at all, or SPEC says otherwise, the row says so
//    and gives our answer.
// ---------------------------------------------------------------------------

mod against_quartz {
    use super::{EXACT, MOVED};
    use chrono_tz::Europe::Paris;

    // L-nW: the weekday nearest (last day - n), within the month.
    utc_table! {
        l_minus_3_w: "0 0 12 L-3W * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-28T12:00:00Z", "2026-02-25T12:00:00Z",
            "2026-03-27T12:00:00Z", // the 28th is a Saturday -> Friday 27th
            "2026-04-27T12:00:00Z", "2026-05-28T12:00:00Z",
            "2026-06-26T12:00:00Z", // the 27th is a Saturday -> Friday 26th
        ];
        l_minus_3_w_lower_case: "0 0 12 l-3w * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-28T12:00:00Z", "2026-02-25T12:00:00Z", "2026-03-27T12:00:00Z",
        ];
        l_minus_0_w_is_lw: "0 0 12 L-0W * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-30T12:00:00Z", "2026-02-27T12:00:00Z", "2026-03-31T12:00:00Z",
            "2026-04-30T12:00:00Z", "2026-05-29T12:00:00Z", "2026-06-30T12:00:00Z",
        ];
        lw_unchanged: "0 0 12 LW * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-30T12:00:00Z", "2026-02-27T12:00:00Z", "2026-03-31T12:00:00Z",
            "2026-04-30T12:00:00Z", "2026-05-29T12:00:00Z", "2026-06-30T12:00:00Z",
        ];
        l_minus_1_w: "0 0 12 L-1W * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-30T12:00:00Z", "2026-02-27T12:00:00Z", "2026-03-30T12:00:00Z",
            "2026-04-29T12:00:00Z", "2026-05-29T12:00:00Z", "2026-06-29T12:00:00Z",
        ];
        l_minus_2_w: "0 0 12 L-2W * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-29T12:00:00Z", "2026-02-26T12:00:00Z", "2026-03-30T12:00:00Z",
            "2026-04-28T12:00:00Z", "2026-05-29T12:00:00Z", "2026-06-29T12:00:00Z",
        ];
        // Near the start of the month: a Sunday moves forward to Monday.
        l_minus_27_w: "0 0 12 L-27W * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-05T12:00:00Z", "2026-02-02T12:00:00Z", "2026-03-04T12:00:00Z",
            "2026-04-03T12:00:00Z", "2026-05-04T12:00:00Z", "2026-06-03T12:00:00Z",
        ];
        l_minus_3_w_in_february: "0 0 12 L-3W 2 ?", "2026-01-01T00:00:00Z" => [
            "2026-02-25T12:00:00Z", "2027-02-25T12:00:00Z", "2028-02-25T12:00:00Z",
            "2029-02-26T12:00:00Z", "2030-02-25T12:00:00Z", "2031-02-25T12:00:00Z",
        ];
        // L-30: only months of 31 days have a day 31 - 30.
        l_minus_30: "0 0 12 L-30 * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-01T12:00:00Z", "2026-03-01T12:00:00Z", "2026-05-01T12:00:00Z",
            "2026-07-01T12:00:00Z", "2026-08-01T12:00:00Z", "2026-10-01T12:00:00Z",
        ];
        // Quartz never answers for L-30W (its search loops); ours is 1W in
        // the months of 31 days, by the rule of the rows above.
        l_minus_30_w_ours: "0 0 12 L-30W * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-01T12:00:00Z",
            "2026-03-02T12:00:00Z", // the 1st is a Sunday -> Monday 2nd
            "2026-05-01T12:00:00Z", "2026-07-01T12:00:00Z",
            "2026-08-03T12:00:00Z", // the 1st is a Saturday -> Monday 3rd
            "2026-10-01T12:00:00Z",
        ];
    }

    tz_table! {
        // The day is the local one: 00:30 in Paris is the evening before in UTC.
        l_minus_3_w_in_paris: "0 30 0 L-3W * ?", Paris, "2026-01-01T00:00:00Z" => [
            ("2026-01-27T23:30:00Z", "2026-01-28T00:30:00", EXACT),
            ("2026-02-24T23:30:00Z", "2026-02-25T00:30:00", EXACT),
            ("2026-03-26T23:30:00Z", "2026-03-27T00:30:00", EXACT),
            ("2026-04-26T22:30:00Z", "2026-04-27T00:30:00", EXACT),
            ("2026-05-27T22:30:00Z", "2026-05-28T00:30:00", EXACT),
            ("2026-06-25T22:30:00Z", "2026-06-26T00:30:00", EXACT),
        ];
        lw_in_paris: "0 30 0 LW * ?", Paris, "2026-01-01T00:00:00Z" => [
            ("2026-01-29T23:30:00Z", "2026-01-30T00:30:00", EXACT),
            ("2026-02-26T23:30:00Z", "2026-02-27T00:30:00", EXACT),
            ("2026-03-30T22:30:00Z", "2026-03-31T00:30:00", EXACT),
        ];
        // Quartz skips 02:30 on 2026-03-29 (in the DST gap) and answers
        // 2027-03-29T00:30Z first; SPEC fires at the end of the gap.
        l_minus_2_in_the_paris_gap_spec_wins: "0 30 2 L-2 3 ?", Paris, "2026-01-01T00:00:00Z" => [
            ("2026-03-29T01:00:00Z", "2026-03-29T02:30:00", MOVED),
            ("2027-03-29T00:30:00Z", "2027-03-29T02:30:00", EXACT),
            ("2028-03-29T00:30:00Z", "2028-03-29T02:30:00", EXACT),
        ];
    }

    // Steps up to the field's largest value are taken (a step that leaves
    // the range gives the start alone); larger ones are errors below.
    utc_table! {
        seconds_step_59: "0/59 * * * * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-01T00:00:59Z", "2026-01-01T00:01:00Z",
            "2026-01-01T00:01:59Z", "2026-01-01T00:02:00Z",
        ];
        seconds_30_step_59: "30/59 * * * * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-01T00:00:30Z", "2026-01-01T00:01:30Z", "2026-01-01T00:02:30Z",
        ];
        minutes_step_59: "0 0/59 * * * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-01T00:59:00Z", "2026-01-01T01:00:00Z",
            "2026-01-01T01:59:00Z", "2026-01-01T02:00:00Z",
        ];
        hours_step_23: "0 0 0/23 * * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-01T23:00:00Z", "2026-01-02T00:00:00Z",
            "2026-01-02T23:00:00Z", "2026-01-03T00:00:00Z",
        ];
        day_of_month_step_31: "0 0 0 1/31 * ?", "2026-01-01T00:00:00Z" => [
            "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z",
        ];
        month_step_12: "0 0 0 1 1/12 ?", "2026-01-01T00:00:00Z" => [
            "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z",
        ];
        day_of_week_step_7: "0 0 0 ? * 1/7", "2026-01-01T00:00:00Z" => [
            "2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z",
        ];
        range_step_past_its_end: "0 0-30/45 * * * ?", "2026-01-01T00:00:00Z" => [
            "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z",
        ];
        year_range_of_one: "0 0 0 1 1 ? 2030-2030", "2026-01-01T00:00:00Z" => [
            "2030-01-01T00:00:00Z", "never",
        ];
        year_range_forwards: "0 0 0 1 1 ? 2025-2030", "2026-01-01T00:00:00Z" => [
            "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z",
            "2029-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "never",
        ];
        // Vixie cron takes any step (Debian's cron 3.0pl1-162 installs
        // `*/90 * * * *`); `*/90` over minutes is minute 0 alone.
        unix_step_past_the_range_is_vixie: "*/90 * * * *", "2026-01-01T00:00:00Z" => [
            "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z",
        ];
        unix_hours_step_past_the_range: "0 */25 * * *", "2026-01-01T00:00:00Z" => [
            "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z",
        ];
    }

    // The macros are not Quartz's; the rows are Quartz's answers for the
    // expressions they stand for.
    utc_table! {
        macro_yearly: "@yearly", "2026-01-01T00:00:00Z" => [
            "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z",
        ];
        macro_annually: "@annually", "2026-06-01T00:00:00Z" => [
            "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z",
        ];
        macro_monthly: "@monthly", "2026-01-01T00:00:00Z" => [
            "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z",
        ];
        macro_weekly_is_sunday_midnight: "@weekly", "2026-01-01T00:00:00Z" => [
            "2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z",
        ];
        macro_daily: "@daily", "2026-01-01T00:00:00Z" => [
            "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z",
        ];
        macro_midnight: "@midnight", "2026-01-01T00:00:00Z" => [
            "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z",
        ];
        macro_hourly_is_minute_0: "@hourly", "2026-01-01T00:00:00Z" => [
            "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z",
        ];
        macro_any_case_and_blanks: "  @Daily ", "2026-01-01T00:00:00Z" => [
            "2026-01-02T00:00:00Z",
        ];
    }

    tz_table! {
        macro_daily_in_paris: "@daily", Paris, "2026-01-01T00:00:00Z" => [
            ("2026-01-01T23:00:00Z", "2026-01-02T00:00:00", EXACT),
            ("2026-01-02T23:00:00Z", "2026-01-03T00:00:00", EXACT),
        ];
        macro_weekly_in_paris: "@weekly", Paris, "2026-01-01T00:00:00Z" => [
            ("2026-01-03T23:00:00Z", "2026-01-04T00:00:00", EXACT),
            ("2026-01-10T23:00:00Z", "2026-01-11T00:00:00", EXACT),
        ];
        // Quartz: 01:00Z, 02:00Z, 03:00Z; the same instants, and SPEC names
        // the skipped 02:00 as the first (moved to the end of the gap).
        macro_hourly_across_paris_spring_forward: "@hourly", Paris, "2026-03-29T00:00:00Z" => [
            ("2026-03-29T01:00:00Z", "2026-03-29T02:00:00", MOVED),
            ("2026-03-29T02:00:00Z", "2026-03-29T04:00:00", EXACT),
            ("2026-03-29T03:00:00Z", "2026-03-29T05:00:00", EXACT),
        ];
        // Quartz: 02:00Z, 03:00Z; 02:00 local comes twice and fires once,
        // at its first occurrence (00:00Z, before the start here).
        macro_hourly_across_paris_fall_back: "@hourly", Paris, "2026-10-25T00:00:00Z" => [
            ("2026-10-25T02:00:00Z", "2026-10-25T03:00:00", EXACT),
            ("2026-10-25T03:00:00Z", "2026-10-25T04:00:00", EXACT),
        ];
    }

    error_table! {
        // Quartz: "Increment > 60 : 120", and so on for each field.
        seconds_step_120: "0/120 * * * * ?" => ["seconds"];
        seconds_step_60: "0/60 * * * * ?" => ["seconds"];
        seconds_star_step_60: "*/60 * * * * ?" => ["seconds"];
        minutes_step_61: "0 0/61 * * * ?" => ["minutes"];
        minutes_step_60: "0 0/60 * * * ?" => ["minutes"];
        hours_step_25: "0 0 0/25 * * ?" => ["hours"];
        hours_step_24: "0 0 0/24 * * ?" => ["hours"];
        day_of_month_step_32: "0 0 0 1/32 * ?" => ["day-of-month"];
        month_step_13: "0 0 0 * 1/13 ?" => ["month"];
        day_of_week_step_8: "0 0 0 ? * 1/8" => ["day-of-week"];
        // Quartz: "Start year must be less than stop year".
        year_range_backwards: "0 0 0 1 1 ? 2030-2025" => ["year"];
        year_range_backwards_whole: "0 0 0 1 1 ? 2099-1970" => ["year"];
        // Quartz: "Support for specifying 'L' and 'LW' with other days of
        // the month is not implemented".
        l_in_a_day_list: "0 0 12 1,L * ?" => ["day-of-month"];
        l_first_in_a_day_list: "0 0 12 L,1 * ?" => ["day-of-month"];
        lw_in_a_day_list: "0 0 12 LW,1 * ?" => ["day-of-month"];
        l_minus_n_in_a_day_list: "0 0 12 L-3,5 * ?" => ["day-of-month"];
        day_list_then_l_minus_n: "0 0 12 1,L-3 * ?" => ["day-of-month"];
        // Quartz: "Offset from last day must be <= 30".
        l_minus_31_w: "0 0 12 L-31W * ?" => ["day-of-month"];
        // Quartz: "Illegal characters for this position".
        lw_minus_3: "0 0 12 LW-3 * ?" => ["day-of-month"];
        l_minus_3_ww: "0 0 12 L-3WW * ?" => ["day-of-month"];
        // Quartz takes these and fires on 2W alone (Jan 2, Feb 2, Mar 2,
        // Apr 2, May 1, ..), dropping the 16th; its documentation says W
        // takes a single day. We refuse rather than drop a day.
        w_in_a_day_list: "0 0 12 2W,16 * ?" => ["day-of-month"];
        w_last_in_a_day_list: "0 0 12 16,2W * ?" => ["day-of-month"];
        w_after_a_day_list: "0 0 12 2,16W * ?" => ["day-of-month"];
        // Quartz reads `L-W` as LW; we want the offset written.
        l_minus_nothing_w: "0 0 12 L-W * ?" => ["day-of-month"];
        // Macros lts does not have.
        macro_reboot: "@reboot" => ["expression"];
        macro_every: "@every 5m" => ["expression"];
        macro_unknown: "@fortnightly" => ["expression"];
        macro_bare_at: "@" => ["expression"];
        macro_with_fields_after: "@daily 0 0" => ["expression"];
    }
}

#[test]
fn a_macro_keeps_its_name_and_fires_as_its_expansion() {
    for (name, expansion) in [
        ("@yearly", "0 0 0 1 1 ? *"),
        ("@annually", "0 0 0 1 1 ? *"),
        ("@monthly", "0 0 0 1 * ?"),
        ("@weekly", "0 0 0 ? * SUN"),
        ("@daily", "0 0 0 * * ?"),
        ("@midnight", "0 0 0 * * ?"),
        ("@hourly", "0 0 * * * ?"),
    ] {
        let (m, e) = (parse(name), parse(expansion));
        assert_eq!(m.as_str(), name);
        let mut at = instant("2026-03-01T00:00:00Z");
        for _ in 0..60 {
            let (a, b) = (m.next_after(at, &Paris), e.next_after(at, &Paris));
            assert_eq!(a, b, "{name} vs {expansion:?} after {}", rfc(at));
            at = a.expect("fires").at;
        }
    }
}

#[test]
fn errors_are_one_line_quoting_the_text_cut() {
    let long = format!("0 0 12 {}x * ?", "1,".repeat(200));
    let e = CronExpr::parse(&long).expect_err("x is no day");
    assert_eq!(e.field, "day-of-month");
    let e = CronExpr::parse(&format!("0 0 12 L-3W,{} * ?", "1".repeat(200)))
        .expect_err("L-nW in a list");
    assert!(e.reason.contains('…'), "cut: {e}");
    assert!(e.reason.len() < 200, "cut: {e}");
    let e = CronExpr::parse("@\u{7}bell").expect_err("control character");
    assert!(e.reason.contains("\\u{7}"), "escaped: {e}");
    for bad in [
        "0/120 * * * * ?",
        "0 0 0 1 1 ? 2030-2025",
        "0 0 12 1,L * ?",
        "@every 5m",
    ] {
        let e = CronExpr::parse(bad).expect_err(bad);
        let line = e.to_string();
        assert!(!line.contains('\n'), "{bad:?}: {line}");
        let quoted = bad
            .split_whitespace()
            .find(|w| line.contains(&format!("'{w}'")));
        assert!(quoted.is_some(), "{bad:?}: quotes none of its text: {line}");
    }
}
