//! Cron expressions. Quartz's form (`sec min hour dom mon dow [year]`, with
//! `?`, `L`, `L-n`, `W`, `LW`, `L-nW`, `nL`, `n#m`, steps, ranges, lists,
//! names and day-of-week 1 = SUN), the 5-field Unix form with Vixie cron's
//! meaning (`min hour dom mon dow`, 0 or 7 = SUN, day-of-month OR
//! day-of-week when both are restricted), and the macros `@yearly` ..
//! `@hourly`.
//!
//! Where Quartz 2's `CronExpression` refuses (a step past the field's
//! largest value, a backwards year range, `L` in a day list) we refuse too;
//! where it accepts something and then mis-fires (`2W,16` fires on 2W alone,
//! `1-5W` on days 1-5, `L-30W` never answers) we refuse or define it.
//!
//! Fire times are computed in a time zone: a local time skipped by a DST
//! change fires at the first instant after the gap (`moved_by_dst`); a
//! repeated local time fires once, at its first occurrence.

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
    Weekday,
};
use thiserror::Error;

/// A field of an expression that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {reason}")]
pub struct CronError {
    /// `seconds`, `minutes`, `hours`, `day-of-month`, `month`,
    /// `day-of-week`, `year` or `expression`.
    pub field: &'static str,
    pub reason: String,
}

/// One fire time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fire {
    /// The instant it fires.
    pub at: DateTime<Utc>,
    /// The local time the expression named (differs from `at`'s local time
    /// when a DST gap moved it).
    pub local: NaiveDateTime,
    /// A DST gap skipped `local`, so it fires at the first instant after.
    pub moved_by_dst: bool,
}

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    source: String,
    seconds: Vec<u32>,
    minutes: Vec<u32>,
    hours: Vec<u32>,
    months: u16,
    /// Allowed years; `None` means every year.
    years: Option<Vec<i32>>,
    /// The day-of-month rule; `None` means no restriction.
    dom: Option<DomRule>,
    /// The day-of-week rule; `None` means no restriction.
    dow: Option<DowRule>,
    /// Vixie cron: a day matches if either restricted day field matches.
    either_day: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DomRule {
    /// Bit n set: day n of the month.
    Days(u32),
    /// `L` (0) or `L-n`: the last day of the month, less `n`.
    Last(u32),
    /// `nW`: the weekday nearest day n, within the month.
    NearestWeekday(u32),
    /// `LW` (0) or `L-nW`: the weekday nearest the last day of the month
    /// less `n`, within the month.
    LastWeekday(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DowRule {
    /// Bit n set (0 = Sunday .. 6 = Saturday).
    Days(u8),
    /// `nL`: the last such weekday of the month.
    Last(u32),
    /// `n#m`: the m-th such weekday of the month.
    Nth { weekday: u32, nth: u32 },
}

/// The macros and the Quartz expressions they stand for (as Vixie cron's:
/// `@weekly` is Sunday midnight, `@hourly` minute 0 of each hour).
/// `@reboot` and `@every` are refused.
const MACROS: [(&str, &str); 7] = [
    ("@yearly", "0 0 0 1 1 ? *"),
    ("@annually", "0 0 0 1 1 ? *"),
    ("@monthly", "0 0 0 1 * ?"),
    ("@weekly", "0 0 0 ? * SUN"),
    ("@daily", "0 0 0 * * ?"),
    ("@midnight", "0 0 0 * * ?"),
    ("@hourly", "0 0 * * * ?"),
];

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// How many years ahead a search looks before it says "never".
const SEARCH_YEARS: i32 = 400;

/// The longest reason a cron error gives: it quotes parts of the
/// expression, and those may be anything.
const MAX_REASON: usize = 300;

fn err(field: &'static str, reason: impl Into<String>) -> CronError {
    CronError {
        field,
        reason: crate::model::cut(&reason.into(), MAX_REASON),
    }
}

/// The numeric range and names of one field.
struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for values `names_base`, `names_base + 1`, ..
    names: &'static [&'static str],
    names_base: u32,
    what: &'static str,
    /// A range may run backwards through the end of the field (`22-2`,
    /// `FRI-MON`); not so for years, where Quartz refuses it.
    wraps: bool,
}

const SECONDS: FieldSpec = FieldSpec {
    name: "seconds",
    min: 0,
    max: 59,
    names: &[],
    names_base: 0,
    what: "a second (0-59)",
    wraps: true,
};
const MINUTES: FieldSpec = FieldSpec {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
    names_base: 0,
    what: "a minute (0-59)",
    wraps: true,
};
const HOURS: FieldSpec = FieldSpec {
    name: "hours",
    min: 0,
    max: 23,
    names: &[],
    names_base: 0,
    what: "an hour (0-23)",
    wraps: true,
};
const DAYS_OF_MONTH: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    names_base: 0,
    what: "a day of the month (1-31)",
    wraps: true,
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &MONTHS,
    names_base: 1,
    what: "a month (1-12 or JAN-DEC)",
    wraps: true,
};
const QUARTZ_DOW: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &DAYS,
    names_base: 1,
    what: "a day of the week (1-7 or SUN-SAT, 1 = SUN)",
    wraps: true,
};
const UNIX_DOW: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &DAYS,
    names_base: 0,
    what: "a day of the week (0-7 or SUN-SAT, 0 and 7 = SUN)",
    wraps: true,
};
const YEAR: FieldSpec = FieldSpec {
    name: "year",
    min: 1970,
    max: 2099,
    names: &[],
    names_base: 0,
    what: "a year (1970-2099)",
    wraps: false,
};

impl FieldSpec {
    fn value(&self, text: &str) -> Result<u32, CronError> {
        if let Ok(n) = text.parse::<u32>() {
            if n < self.min || n > self.max {
                return Err(err(
                    self.name,
                    format!("{n} is out of range {}-{}", self.min, self.max),
                ));
            }
            return Ok(n);
        }
        let upper = text.to_ascii_uppercase();
        match self.names.iter().position(|n| *n == upper) {
            Some(i) => Ok(i as u32 + self.names_base),
            None => Err(err(
                self.name,
                format!("'{}' is not {}", q(text), self.what),
            )),
        }
    }

    /// Parse a list of `*`, `a`, `a-b`, with optional `/step`, into sorted values.
    fn values(&self, field: &str, steps: Steps) -> Result<Vec<u32>, CronError> {
        let mut out = Vec::new();
        for item in field.split(',') {
            if item.is_empty() {
                return Err(err(self.name, format!("empty item in '{}'", q(field))));
            }
            if item.contains('?') {
                return Err(err(
                    self.name,
                    format!(
                        "'?' is only allowed in day-of-month and day-of-week (in '{}')",
                        q(field)
                    ),
                ));
            }
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => (range, Some(self.step(item, step, steps)?)),
                None => (item, None),
            };
            let (start, end) = if range == "*" {
                (self.min, self.max)
            } else if let Some((a, b)) = range.split_once('-') {
                let (a, b) = (self.value(a)?, self.value(b)?);
                if b < a && !self.wraps {
                    return Err(err(
                        self.name,
                        format!(
                            "'{}' goes backwards: a {} range runs from the earlier to the later",
                            q(item),
                            self.name
                        ),
                    ));
                }
                (a, b)
            } else {
                let a = self.value(range)?;
                // `a/step` runs from a to the end of the field.
                (a, if step.is_some() { self.max } else { a })
            };
            let span = self.max - self.min + 1;
            let length = (end + span - start) % span + 1;
            let step = step.unwrap_or(1);
            let mut offset = 0;
            while offset < length {
                out.push(self.min + (start - self.min + offset) % span);
                offset += step;
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The step after `/` in `item`.
    fn step(&self, item: &str, step: &str, steps: Steps) -> Result<u32, CronError> {
        let n: u32 = step.parse().map_err(|_| {
            err(
                self.name,
                format!(
                    "'{}' in '{}' is not a step (a whole number)",
                    q(step),
                    q(item)
                ),
            )
        })?;
        if n == 0 {
            return Err(err(
                self.name,
                format!("step 0 in '{}' must be at least 1", q(item)),
            ));
        }
        if steps == Steps::UpToMax && n > self.max {
            return Err(err(
                self.name,
                format!(
                    "step {n} in '{}' is more than {}: a step counts within one {}",
                    q(item),
                    self.max,
                    self.unit()
                ),
            ));
        }
        Ok(n)
    }

    /// What one round of this field spans, for messages.
    fn unit(&self) -> &'static str {
        match self.name {
            "seconds" => "minute",
            "minutes" => "hour",
            "hours" => "day",
            "day-of-month" => "month",
            "month" => "year",
            "day-of-week" => "week",
            _ => "field",
        }
    }
}

/// Which steps (`/n`) a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Steps {
    /// Quartz: at most the field's largest value (59 for seconds, 23 for
    /// hours, 31 for days of the month, 12 for months, 7 for days of the
    /// week); a larger one is an error, as in Quartz's `CronExpression`.
    UpToMax,
    /// Vixie cron, and Quartz's year field: any step; one that leaves the
    /// range gives the start alone.
    Any,
}

/// User text quoted in a message: control characters escaped, cut to a
/// readable length.
fn q(text: &str) -> String {
    crate::model::cut(text, 40)
}

fn is_star(field: &str) -> bool {
    field == "*"
}

impl CronExpr {
    /// Parse a Quartz (6 or 7 fields) or Unix (5 fields) expression, or a
    /// macro (`@daily`, ..; see `MACROS`).
    pub fn parse(expr: &str) -> Result<CronExpr, CronError> {
        if expr.trim_start().starts_with('@') {
            return Self::parse_macro(expr.trim());
        }
        let fields: Vec<&str> = expr.split_whitespace().collect();
        match fields.len() {
            5 => Self::parse_unix(expr, &fields),
            6 | 7 => Self::parse_quartz(expr, &fields),
            n => Err(err(
                "expression",
                format!(
                    "expected 6 or 7 fields (Quartz: sec min hour day-of-month month day-of-week [year]) \
                     or 5 (Unix: min hour day-of-month month day-of-week), got {n}"
                ),
            )),
        }
    }

    fn parse_macro(text: &str) -> Result<CronExpr, CronError> {
        let mut words = text.split_whitespace();
        let name = words.next().unwrap_or_default();
        let lower = name.to_ascii_lowercase();
        let Some((_, expansion)) = MACROS.iter().find(|(m, _)| *m == lower) else {
            let why = match lower.as_str() {
                "@reboot" => format!(
                    "'{}' is not supported: lts fires on a clock, not when a machine starts",
                    q(name)
                ),
                "@every" => format!(
                    "'{}' is not supported: use a repeat schedule (--repeat-count -1 --repeat-interval DUR)",
                    q(name)
                ),
                _ => format!(
                    "unknown macro '{}': expected {}",
                    q(name),
                    MACROS.map(|(m, _)| m).join(", ")
                ),
            };
            return Err(err("expression", why));
        };
        if let Some(extra) = words.next() {
            return Err(err(
                "expression",
                format!(
                    "{lower} stands alone, with nothing after it (got '{}')",
                    q(extra)
                ),
            ));
        }
        let mut cron = Self::parse(expansion)?;
        cron.source = text.to_string();
        Ok(cron)
    }

    fn parse_quartz(expr: &str, f: &[&str]) -> Result<CronExpr, CronError> {
        let seconds = SECONDS.values(f[0], Steps::UpToMax)?;
        let minutes = MINUTES.values(f[1], Steps::UpToMax)?;
        let hours = HOURS.values(f[2], Steps::UpToMax)?;
        let months = MONTH.values(f[4], Steps::UpToMax)?;
        let years = match f.get(6) {
            None => None,
            Some(y) if is_star(y) => None,
            Some(y) => Some(
                YEAR.values(y, Steps::Any)?
                    .into_iter()
                    .map(|y| y as i32)
                    .collect(),
            ),
        };
        let (dom_text, dow_text) = (f[3], f[5]);
        let dom_free = dom_text == "?" || is_star(dom_text);
        let dow_free = dow_text == "?" || is_star(dow_text);
        if dom_text == "?" && dow_text == "?" {
            return Err(err(
                "day-of-month",
                "'?' in both day fields: give a value in one of them",
            ));
        }
        if !dom_free && !dow_free {
            return Err(err(
                "day-of-week",
                format!(
                    "a value in both day-of-month ('{}') and day-of-week ('{}') is not supported; put ? in one of them",
                    q(dom_text),
                    q(dow_text)
                ),
            ));
        }
        let dom = if dom_free {
            None
        } else {
            Some(parse_dom(dom_text)?)
        };
        let dow = if dow_free {
            None
        } else {
            Some(parse_quartz_dow(dow_text)?)
        };
        Ok(CronExpr {
            source: expr.trim().to_string(),
            seconds,
            minutes,
            hours,
            months: month_bits(&months),
            years,
            dom,
            dow,
            either_day: false,
        })
    }

    fn parse_unix(expr: &str, f: &[&str]) -> Result<CronExpr, CronError> {
        for (field, text) in [("day-of-month", f[2]), ("day-of-week", f[4])] {
            if let Some(c) = text.chars().find(|c| matches!(c, '?' | '#')) {
                return Err(err(field, format!("'{c}' is a Quartz form: use the 6-field Quartz syntax (with seconds) for it")));
            }
        }
        let minutes = MINUTES.values(f[0], Steps::Any)?;
        let hours = HOURS.values(f[1], Steps::Any)?;
        let dom_days = DAYS_OF_MONTH.values(f[2], Steps::Any)?;
        let months = MONTH.values(f[3], Steps::Any)?;
        let dow_days = UNIX_DOW.values(f[4], Steps::Any)?;
        // Vixie cron: both day fields always apply; when neither starts with
        // '*', a day matches if either does (OR), otherwise both must (AND).
        let dom = Some(DomRule::Days(dom_days.iter().fold(0, |b, d| b | 1 << d)));
        let dow = Some(DowRule::Days(
            dow_days.iter().fold(0, |b, d| b | 1 << (d % 7)),
        ));
        let either_day = !f[2].starts_with('*') && !f[4].starts_with('*');
        Ok(CronExpr {
            source: expr.trim().to_string(),
            seconds: vec![0],
            minutes,
            hours,
            months: month_bits(&months),
            years: None,
            either_day,
            dom,
            dow,
        })
    }

    /// The expression as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The first fire time strictly after `after`, in `tz`; `None` when it
    /// never fires again (a year field in the past, or Feb 30).
    pub fn next_after<Z: TimeZone>(&self, after: DateTime<Utc>, tz: &Z) -> Option<Fire> {
        // Scan from the wall time of `after` itself (to the second), not of
        // the second after it: that one may already be past a DST gap whose
        // skipped times must still fire. `resolve` keeps only fires > after.
        let start = DateTime::<Utc>::from_timestamp(after.timestamp(), 0)?;
        let local_start = start.with_timezone(tz).naive_local();
        let (sy, sm, sd) = (local_start.year(), local_start.month(), local_start.day());
        let last_year = match &self.years {
            Some(years) => *years.last()?,
            None => sy + SEARCH_YEARS,
        };
        for year in sy..=last_year {
            if self
                .years
                .as_ref()
                .is_some_and(|ys| ys.binary_search(&year).is_err())
            {
                continue;
            }
            let first_month = if year == sy { sm } else { 1 };
            for month in first_month..=12 {
                if self.months & (1 << month) == 0 {
                    continue;
                }
                let dim = days_in_month(year, month);
                let first_day = if year == sy && month == sm { sd } else { 1 };
                for day in first_day..=dim {
                    let date = NaiveDate::from_ymd_opt(year, month, day)?;
                    if !self.day_matches(date, dim) {
                        continue;
                    }
                    let floor = (date == local_start.date()).then(|| local_start.time());
                    if let Some(fire) = self.first_time_on(date, floor, after, tz) {
                        return Some(fire);
                    }
                }
            }
        }
        None
    }

    fn day_matches(&self, date: NaiveDate, dim: u32) -> bool {
        let dom = self.dom.as_ref().map(|r| dom_matches(r, date, dim));
        let dow = self.dow.as_ref().map(|r| dow_matches(r, date, dim));
        match (dom, dow) {
            (None, None) => true,
            (Some(d), None) => d,
            (None, Some(w)) => w,
            (Some(d), Some(w)) => {
                if self.either_day {
                    d || w
                } else {
                    d && w
                }
            }
        }
    }

    /// The first matching time on `date` at or after `floor` that fires after `after`.
    fn first_time_on<Z: TimeZone>(
        &self,
        date: NaiveDate,
        floor: Option<NaiveTime>,
        after: DateTime<Utc>,
        tz: &Z,
    ) -> Option<Fire> {
        let (fh, fm, fs) = floor.map_or((0, 0, 0), |t| (t.hour(), t.minute(), t.second()));
        for &h in self.hours.iter().filter(|h| **h >= fh) {
            let min_floor = if h == fh { fm } else { 0 };
            for &m in self.minutes.iter().filter(|m| **m >= min_floor) {
                let sec_floor = if h == fh && m == fm { fs } else { 0 };
                for &s in self.seconds.iter().filter(|s| **s >= sec_floor) {
                    let local = date.and_hms_opt(h, m, s)?;
                    if let Some(fire) = resolve(local, after, tz) {
                        return Some(fire);
                    }
                }
            }
        }
        None
    }
}

/// Where a local time falls: once, twice (fire at the first), or in a gap
/// (fire at the first instant after it). `None` when that is not after `after`.
fn resolve<Z: TimeZone>(local: NaiveDateTime, after: DateTime<Utc>, tz: &Z) -> Option<Fire> {
    let (at, moved_by_dst) = match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => (t.with_timezone(&Utc), false),
        LocalResult::Ambiguous(first, _) => (first.with_timezone(&Utc), false),
        LocalResult::None => (gap_end(local, tz)?, true),
    };
    (at > after).then_some(Fire {
        at,
        local,
        moved_by_dst,
    })
}

/// The first instant whose local time is at or after `local` (which a DST
/// gap skipped): the end of the gap.
fn gap_end<Z: TimeZone>(local: NaiveDateTime, tz: &Z) -> Option<DateTime<Utc>> {
    let as_utc = local.and_utc().timestamp();
    let (mut lo, mut hi) = (as_utc - 27 * 3600, as_utc + 27 * 3600);
    let local_at =
        |t: i64| DateTime::<Utc>::from_timestamp(t, 0).map(|u| u.with_timezone(tz).naive_local());
    // Invariant: local_at(lo) < local <= local_at(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local_at(mid)? >= local {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::<Utc>::from_timestamp(hi, 0)
}

fn dom_matches(rule: &DomRule, date: NaiveDate, dim: u32) -> bool {
    let day = date.day();
    match rule {
        DomRule::Days(bits) => bits & (1 << day) != 0,
        DomRule::Last(offset) => dim > *offset && day == dim - offset,
        DomRule::NearestWeekday(n) => *n <= dim && day == nearest_weekday(date, *n, dim),
        DomRule::LastWeekday(offset) => {
            dim > *offset && day == nearest_weekday(date, dim - offset, dim)
        }
    }
}

/// The weekday nearest day `n` of `date`'s month, never leaving the month.
fn nearest_weekday(date: NaiveDate, n: u32, dim: u32) -> u32 {
    let Some(target) = date.with_day(n) else {
        return 0;
    };
    match target.weekday() {
        Weekday::Sat if n == 1 => 3,
        Weekday::Sat => n - 1,
        Weekday::Sun if n == dim => n - 2,
        Weekday::Sun => n + 1,
        _ => n,
    }
}

fn dow_matches(rule: &DowRule, date: NaiveDate, dim: u32) -> bool {
    let weekday = date.weekday().num_days_from_sunday();
    match rule {
        DowRule::Days(bits) => bits & (1 << weekday) != 0,
        DowRule::Last(w) => weekday == *w && date.day() + 7 > dim,
        DowRule::Nth { weekday: w, nth } => weekday == *w && (date.day() - 1) / 7 + 1 == *nth,
    }
}

fn month_bits(months: &[u32]) -> u16 {
    months.iter().fold(0, |b, m| b | 1 << m)
}

fn parse_dom(text: &str) -> Result<DomRule, CronError> {
    let upper = text.to_ascii_uppercase();
    let bad = |why: String| Err(err("day-of-month", format!("'{}': {why}", q(text))));
    if upper.contains('#') {
        return bad("'#' is only allowed in day-of-week".into());
    }
    if upper.contains(['L', 'W']) && upper.contains(',') {
        // Quartz refuses L in a list ("not implemented"), and takes nW in
        // one but then fires on the nW day alone, dropping the others.
        return bad(
            "L, L-n, LW, L-nW and nW stand alone in day-of-month, not in a list with other days"
                .into(),
        );
    }
    if let Some(rest) = upper.strip_prefix('L') {
        // L, LW, L-n, L-nW.
        let (offset, weekday) = match rest.strip_suffix('W') {
            Some(offset) => (offset, true),
            None => (rest, false),
        };
        let offset = match offset {
            "" => Some(0),
            _ => offset
                .strip_prefix('-')
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n <= 30),
        };
        return match (offset, weekday) {
            (Some(n), false) => Ok(DomRule::Last(n)),
            (Some(n), true) => Ok(DomRule::LastWeekday(n)),
            (None, _) => bad("expected L, L-n, LW or L-nW, with n from 0 to 30".into()),
        };
    }
    if let Some(n) = upper.strip_suffix('W') {
        if n.contains(['-', '/', '*']) {
            return bad("W takes one day, not a range or step".into());
        }
        return Ok(DomRule::NearestWeekday(DAYS_OF_MONTH.value(n)?));
    }
    if upper.contains(['L', 'W']) {
        return bad("L and W cannot be combined with ranges or steps".into());
    }
    let days = DAYS_OF_MONTH.values(text, Steps::UpToMax)?;
    Ok(DomRule::Days(days.iter().fold(0, |b, d| b | 1 << d)))
}

fn parse_quartz_dow(text: &str) -> Result<DowRule, CronError> {
    let upper = text.to_ascii_uppercase();
    if upper.contains('W') && !DAYS.iter().any(|d| upper.contains(d) && d.contains('W')) {
        return Err(err(
            "day-of-week",
            format!("'W' is only allowed in day-of-month (in '{}')", q(text)),
        ));
    }
    if upper == "L" {
        return Ok(DowRule::Days(1 << 6));
    }
    if let Some((day, nth)) = upper.split_once('#') {
        let weekday = QUARTZ_DOW.value(day)? - 1;
        let nth: u32 = nth
            .parse()
            .ok()
            .filter(|n| (1..=5).contains(n))
            .ok_or_else(|| {
                err(
                    "day-of-week",
                    format!("'{}': expected DAY#N with N from 1 to 5", q(text)),
                )
            })?;
        return Ok(DowRule::Nth { weekday, nth });
    }
    if let Some(day) = upper.strip_suffix('L') {
        if day.contains([',', '-', '/', '*']) {
            return Err(err(
                "day-of-week",
                format!("'{}': L takes one day, not a list or range", q(text)),
            ));
        }
        return Ok(DowRule::Last(QUARTZ_DOW.value(day)? - 1));
    }
    let days = QUARTZ_DOW.values(text, Steps::UpToMax)?;
    Ok(DowRule::Days(days.iter().fold(0, |b, d| b | 1 << (d - 1))))
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}
