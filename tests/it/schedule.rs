//! Scheduling end to end with the real binaries: cron ticks each second,
//! delays, repeats, suspend and resume, a tracker killed with SIGKILL (misfire
//! policies), overlap policies, trigger, retry, next fire times, the run
//! environment, bad schedules and `lts cron`.
//!
//! Every wait is bounded; where a test must show that nothing happens, it
//! polls the job until the clock has passed the window.

use super::harness::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const EVERY_SECOND: &str = "* * * * * ?";
const SECOND: i64 = 1000;
/// How late after its tick a run may start and still count as on time.
const ON_TIME: i64 = 1000;

/// The wall clock in milliseconds since the epoch (the daemons use the same).
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// An RFC 3339 text as milliseconds since the epoch.
#[track_caller]
fn parse_time(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("'{text}' is not RFC 3339: {e}"))
        .timestamp_millis()
}

/// A JSON time field as milliseconds since the epoch.
#[track_caller]
fn ms(v: &Value) -> i64 {
    parse_time(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
}

/// A JSON time field that may be null.
#[track_caller]
fn opt_ms(v: &Value) -> Option<i64> {
    v.as_str().map(parse_time)
}

fn reason(run: &Value) -> &str {
    run["reason"].as_str().unwrap_or("")
}

fn is_done(run: &Value) -> bool {
    run["state"] == "done"
}

fn succeeded(run: &Value) -> bool {
    run["outcome"] == "succeeded"
}

/// `lts submit -g default --task-id ID FLAGS -- sh -c SCRIPT`.
fn submit(home: &Path, addr: &str, id: &str, flags: &[&str], script: &str) -> Out {
    let mut args = vec!["submit", "-g", "default", "--task-id", id];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    lts(home, addr, &args)
}

/// A job's run records (`lts -o json job ID`), oldest first.
fn runs(home: &Path, addr: &str, id: &str) -> Vec<Value> {
    job_json(home, addr, id)["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Poll a job's runs until `done` holds for them.
#[track_caller]
fn wait_runs(
    home: &Path,
    addr: &str,
    id: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    eventually(&format!("{id}: {what}"), || {
        let runs = runs(home, addr, id);
        done(&runs).then_some(runs)
    })
}

/// Call `check` until the wall clock has passed `until` (bounded by PATIENCE).
#[track_caller]
fn watch_until(until: i64, mut check: impl FnMut()) {
    assert!(
        until - now() < PATIENCE.as_millis() as i64,
        "a watch window longer than PATIENCE"
    );
    while now() < until {
        check();
        std::thread::sleep(Duration::from_millis(50));
    }
    check();
}

/// The runs that actually ran, as (run, started_at, ended_at), by start.
fn executed(runs: &[Value]) -> Vec<(u64, i64, Option<i64>)> {
    let mut out: Vec<_> = runs
        .iter()
        .filter_map(|r| {
            let started = opt_ms(&r["started_at"])?;
            Some((r["run"].as_u64().unwrap(), started, opt_ms(&r["ended_at"])))
        })
        .collect();
    out.sort_by_key(|(_, started, _)| *started);
    out
}

/// Compact text of runs for assertion messages.
fn show(runs: &[Value]) -> String {
    runs.iter()
        .map(|r| {
            format!(
                "run {} attempt {} {} scheduled {} started {} ended {} outcome {} reason {}\n",
                r["run"],
                r["attempt"],
                r["state"],
                r["scheduled_at"],
                r["started_at"],
                r["ended_at"],
                r["outcome"],
                r["reason"]
            )
        })
        .collect()
}

/// A skipped record that stands for a range of missed ticks: its reason says
/// "N ticks from A to B ...; K not run" or "the tick at A ...; 1 not run".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    count: i64,
    from: i64,
    to: i64,
}

/// The span a misfire reason names, if it names one.
fn span(reason: &str) -> Option<Span> {
    if let Some((before, after)) = reason.split_once(" ticks from ") {
        let count = before.rsplit(' ').next()?.parse().ok()?;
        let (from, rest) = after.split_once(" to ")?;
        let to = rest.split(' ').next()?;
        return Some(Span {
            count,
            from: parse_time(from),
            to: parse_time(to),
        });
    }
    let (_, after) = reason.split_once("the tick at ")?;
    let at = parse_time(after.split(' ').next()?);
    Some(Span {
        count: 1,
        from: at,
        to: at,
    })
}

/// K in a reason ending "; K not run".
fn not_run(reason: &str) -> Option<i64> {
    reason
        .rsplit_once("; ")?
        .1
        .strip_suffix(" not run")?
        .parse()
        .ok()
}

/// A skipped misfire record summarising missed ticks.
fn is_summary(run: &Value) -> bool {
    run["outcome"] == "skipped"
        && reason(run).starts_with("misfire ")
        && not_run(reason(run)).is_some()
}

/// Check the run records of an every-second cron job: no two share a
/// `scheduled_at` and `attempt`; every later attempt belongs to a tick with a
/// first attempt; every whole second from the first tick to the last appears
/// exactly once, as a record of its own or inside a skipped summary's range,
/// and each summary's count and "K not run" agree with the records. Returns
/// which record covers each tick.
#[track_caller]
fn check_every_second(runs: &[Value]) -> BTreeMap<i64, String> {
    let all = show(runs);
    let mut keys = HashSet::new();
    for r in runs {
        let key = (ms(&r["scheduled_at"]), r["attempt"].as_u64().unwrap());
        assert!(keys.insert(key), "two records for tick {key:?}:\n{all}");
        assert_eq!(key.0 % SECOND, 0, "a tick off the whole second:\n{all}");
    }
    let own: BTreeMap<i64, u64> = runs
        .iter()
        .filter(|r| r["attempt"] == 1 && !is_summary(r))
        .map(|r| (ms(&r["scheduled_at"]), r["run"].as_u64().unwrap()))
        .collect();
    for r in runs.iter().filter(|r| r["attempt"] != 1) {
        assert!(
            own.contains_key(&ms(&r["scheduled_at"])),
            "a later attempt of a tick without a first one:\n{all}"
        );
    }
    let mut cover: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (tick, run) in &own {
        cover.entry(*tick).or_default().push(format!("run {run}"));
    }
    for r in runs.iter().filter(|r| is_summary(r)) {
        let why = reason(r);
        let s = span(why).unwrap_or_else(|| panic!("no span in '{why}'"));
        assert_eq!(
            ms(&r["scheduled_at"]),
            s.from,
            "summary at its first tick: {why}"
        );
        assert_eq!(
            s.count,
            (s.to - s.from) / SECOND + 1,
            "the count matches the range: {why}"
        );
        let mut covered = 0;
        for tick in (s.from..=s.to).step_by(SECOND as usize) {
            if !own.contains_key(&tick) {
                covered += 1;
                cover
                    .entry(tick)
                    .or_default()
                    .push(format!("summary run {}", r["run"]));
            }
        }
        assert_eq!(
            Some(covered),
            not_run(why),
            "'K not run' counts the ticks the summary stands for: {why}\n{all}"
        );
    }
    let (first, last) = match (cover.keys().next(), cover.keys().next_back()) {
        (Some(f), Some(l)) => (*f, *l),
        _ => return BTreeMap::new(),
    };
    let mut out = BTreeMap::new();
    for tick in (first..=last).step_by(SECOND as usize) {
        let by = cover.get(&tick).cloned().unwrap_or_default();
        assert_eq!(
            by.len(),
            1,
            "tick {tick} must appear exactly once, found {by:?}:\n{all}"
        );
        out.insert(tick, by[0].clone());
    }
    out
}

/// Read a file of lines a job's runs appended (empty when none ran yet).
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The error lines of a failed `lts` (its own `lts:` lines and clap's `error:`).
fn error_lines(out: &Out) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| l.starts_with("lts:") || l.starts_with("error"))
        .collect()
}

#[test]
fn an_every_second_cron_fires_once_each_second() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let fired = sb.path("fired");
    let before = now();
    submit(
        home,
        &d.addr,
        "tick",
        &["--cron", EVERY_SECOND],
        &format!("echo \"$LTS_SCHEDULED_AT\" >> {}", fired.display()),
    )
    .ok();
    let after = now();
    let runs = wait_runs(home, &d.addr, "tick", "five runs done", |runs| {
        runs.iter().filter(|r| is_done(r)).count() >= 5
    });
    let all = show(&runs);
    let ticks: Vec<i64> = runs.iter().map(|r| ms(&r["scheduled_at"])).collect();
    // The first tick is the first whole second at or after the submission.
    let ceil = |t: i64| (t + SECOND - 1) / SECOND * SECOND;
    assert!(
        (ceil(before)..=ceil(after)).contains(&ticks[0]),
        "first tick {} for a submission in [{before}, {after}]:\n{all}",
        ticks[0]
    );
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r["run"], i as u64 + 1, "runs numbered in order:\n{all}");
        assert_eq!(r["attempt"], 1, "{all}");
        assert_eq!(ticks[i] % SECOND, 0, "whole seconds:\n{all}");
        if i > 0 {
            assert_eq!(
                ticks[i] - ticks[i - 1],
                SECOND,
                "no gap, no duplicate:\n{all}"
            );
        }
        if is_done(r) {
            assert!(succeeded(r), "{all}");
            let started = ms(&r["started_at"]);
            assert!(
                (ticks[i]..ticks[i] + ON_TIME).contains(&started),
                "run {} started at {started}, its tick is {}:\n{all}",
                i + 1,
                ticks[i]
            );
        }
    }
    // Each done tick ran exactly once.
    let fired = lines(&fired);
    let mut seen = HashMap::new();
    for line in &fired {
        *seen.entry(parse_time(line)).or_insert(0) += 1;
    }
    for (r, tick) in runs.iter().zip(&ticks).filter(|(r, _)| is_done(r)) {
        assert_eq!(seen.get(tick), Some(&1), "tick of {r} ran once: {fired:?}");
    }
    assert!(
        seen.values().all(|n| *n == 1),
        "a tick ran twice: {fired:?}"
    );
}

#[test]
fn next_fires_lists_the_next_five_ticks() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let before = now();
    submit(home, &d.addr, "sec", &["--cron", EVERY_SECOND], "true").ok();
    // `-o` after the subcommand, as `lts job ID -o json`.
    let job = lts(home, &d.addr, &["job", "sec", "-o", "json"]).json();
    let fires: Vec<i64> = job["next_fires"]
        .as_array()
        .unwrap()
        .iter()
        .map(ms)
        .collect();
    assert_eq!(fires.len(), 5, "{job}");
    let ceil = |t: i64| (t + SECOND - 1) / SECOND * SECOND;
    assert!(fires[0] >= ceil(before), "{job}");
    assert!(fires[0] <= now() + 2 * SECOND, "{job}");
    for pair in fires.windows(2) {
        assert_eq!(pair[1] - pair[0], SECOND, "one second apart: {job}");
    }
    assert!(fires.iter().all(|t| t % SECOND == 0), "{job}");

    submit(
        home,
        &d.addr,
        "noon",
        &["--cron", "0 0 12 * * ?", "--tz", "UTC"],
        "true",
    )
    .ok();
    let job = job_json(home, &d.addr, "noon");
    let texts: Vec<&str> = job["next_fires"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 5, "{job}");
    let fires: Vec<i64> = texts.iter().map(|t| parse_time(t)).collect();
    assert!(fires[0] > now() && fires[0] <= now() + 86_400_000, "{job}");
    for (text, pair) in texts.iter().zip(fires.windows(2)) {
        assert!(text.contains("T12:00:00"), "noon UTC: {job}");
        assert_eq!(pair[1] - pair[0], 86_400_000, "a day apart: {job}");
    }
    assert_eq!(job["kind"], "cron");
    assert_eq!(job["state"], "scheduled");
}

#[test]
fn a_delay_runs_after_it_and_not_before() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let before = now();
    submit(home, &d.addr, "later", &["--delay", "2s"], "true").ok();
    let after = now();
    let job = job_json(home, &d.addr, "later");
    assert_eq!(job["kind"], "at", "{job}");
    let intended = ms(&job["next_fires"][0]);
    assert!(
        (before + 2000..=after + 2000).contains(&intended),
        "intended time {intended} for a submission in [{before}, {after}]: {job}"
    );
    // Nothing runs before the delay is over. A look that ends after the
    // intended time (a slow `lts job` on a loaded machine) may see it run.
    watch_until(before + 1900, || {
        let job = job_json(home, &d.addr, "later");
        if now() < intended {
            assert_eq!(job["state"], "scheduled", "before its time: {job}");
            assert_eq!(job["runs"].as_array().map(Vec::len), Some(0), "{job}");
        }
    });
    let job = wait_state(home, &d.addr, "later", "succeeded");
    let run = &job["runs"][0];
    assert_eq!(ms(&run["scheduled_at"]), intended, "{job}");
    let started = ms(&run["started_at"]);
    assert!(
        started >= before + 2000,
        "started {started}, submitted {before}: {job}"
    );
    assert!(
        (intended..intended + ON_TIME).contains(&started),
        "started {started} for {intended}: {job}"
    );
    assert_eq!(job["runs"].as_array().map(Vec::len), Some(1), "{job}");
}

#[test]
fn a_repeat_runs_its_count_an_interval_apart_then_succeeds() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    submit(
        home,
        &d.addr,
        "thrice",
        &["--repeat-count", "3", "--repeat-interval", "1s"],
        "true",
    )
    .ok();
    let job = wait_state(home, &d.addr, "thrice", "succeeded");
    assert_eq!(job["kind"], "repeat", "{job}");
    let runs = job["runs"].as_array().unwrap().clone();
    let all = show(&runs);
    assert_eq!(runs.len(), 3, "exactly three runs:\n{all}");
    let ticks: Vec<i64> = runs.iter().map(|r| ms(&r["scheduled_at"])).collect();
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r["run"], i as u64 + 1, "{all}");
        assert!(succeeded(r), "{all}");
        let started = ms(&r["started_at"]);
        assert!(
            (ticks[i]..ticks[i] + ON_TIME).contains(&started),
            "on time:\n{all}"
        );
    }
    assert_eq!(ticks[1] - ticks[0], 1000, "{all}");
    assert_eq!(ticks[2] - ticks[1], 1000, "{all}");
    assert_eq!(job["next_fires"], serde_json::json!([]), "{job}");
    // And no fourth run comes.
    watch_until(ticks[2] + 2 * SECOND, || {
        let job = job_json(home, &d.addr, "thrice");
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["runs"].as_array().map(Vec::len), Some(3), "{job}");
    });
}

#[test]
fn suspend_stops_ticks_and_resume_restarts_them_firing_once_for_the_missed() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    submit(home, &d.addr, "pausable", &["--cron", EVERY_SECOND], "true").ok();
    wait_runs(home, &d.addr, "pausable", "two runs done", |runs| {
        runs.iter().filter(|r| succeeded(r)).count() >= 2
    });
    let out = lts(home, &d.addr, &["suspend", "pausable"]);
    assert!(out.ok().contains("suspended"), "{out:?}");
    let suspended_at = now();
    let frozen = runs(home, &d.addr, "pausable");
    let last_before = ms(&frozen.last().unwrap()["scheduled_at"]);
    // No tick fires while suspended: watch for a bit over three ticks.
    watch_until(suspended_at + 3300, || {
        let job = job_json(home, &d.addr, "pausable");
        assert_eq!(job["state"], "suspended", "{job}");
        let now_runs = job["runs"].as_array().unwrap();
        assert_eq!(
            now_runs.len(),
            frozen.len(),
            "no new run while suspended:\n{}",
            show(now_runs)
        );
    });
    let resume_from = now();
    let out = lts(home, &d.addr, &["resume", "pausable"]);
    assert!(out.ok().contains("resumed"), "{out:?}");
    let resume_to = now();
    let runs = wait_runs(
        home,
        &d.addr,
        "pausable",
        "a regular tick after resume",
        |runs| {
            runs.iter()
                .any(|r| succeeded(r) && ms(&r["scheduled_at"]) > resume_to && reason(r).is_empty())
                && runs
                    .iter()
                    .all(|r| is_done(r) || ms(&r["scheduled_at"]) > resume_to)
        },
    );
    let all = show(&runs);
    check_every_second(&runs);
    let new: Vec<&Value> = runs[frozen.len()..].iter().collect();
    assert!(
        new.len() >= 3,
        "a summary, a catch-up, a regular run:\n{all}"
    );
    let summary = new[0];
    let catch_up = new[1];
    let why = reason(summary);
    assert_eq!(summary["outcome"], "skipped", "{all}");
    assert!(
        why.contains("suspended") && why.contains("fire-once"),
        "{all}"
    );
    let s = span(why).unwrap_or_else(|| panic!("no span: {all}"));
    assert_eq!(
        s.from,
        last_before + SECOND,
        "the missed ticks start after the last run:\n{all}"
    );
    let floor = |t: i64| t / SECOND * SECOND;
    assert!(
        (floor(resume_from)..=floor(resume_to)).contains(&s.to),
        "the missed ticks end at the resume ({resume_from}..{resume_to}):\n{all}"
    );
    assert!(s.count >= 3, "at least three ticks missed:\n{all}");
    assert_eq!(
        not_run(why),
        Some(s.count - 1),
        "all but one skipped:\n{all}"
    );
    assert!(succeeded(catch_up), "{all}");
    assert_eq!(
        ms(&catch_up["scheduled_at"]),
        s.to,
        "catch-up for the last:\n{all}"
    );
    assert!(
        reason(catch_up).contains("catch-up") && reason(catch_up).contains("suspended"),
        "{all}"
    );
    let catch_ups = runs
        .iter()
        .filter(|r| reason(r).contains("catch-up"))
        .count();
    assert_eq!(catch_ups, 1, "one catch-up run:\n{all}");
    for r in &new[2..] {
        assert!(
            reason(r).is_empty() && ms(&r["scheduled_at"]) > s.to,
            "then regular ticks:\n{all}"
        );
    }
}

/// SPEC: `--overlap skip` (the default) skips a tick that comes while the
/// previous run is still going. A catch-up run queued by `resume` is such a
/// tick: it must not run beside the run that is still going.
#[test]
fn a_catch_up_on_resume_does_not_run_beside_a_run_still_going() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    submit(home, &d.addr, "busy", &["--cron", EVERY_SECOND], "sleep 4").ok();
    wait_runs(home, &d.addr, "busy", "the first run going", |runs| {
        runs.iter().any(|r| r["state"] == "running")
    });
    lts(home, &d.addr, &["suspend", "busy"]).ok();
    let suspended_at = now();
    watch_until(suspended_at + 2100, || {
        assert_eq!(job_json(home, &d.addr, "busy")["state"], "suspended");
    });
    lts(home, &d.addr, &["resume", "busy"]).ok();
    let resumed_at = now();
    let runs = wait_runs(
        home,
        &d.addr,
        "busy",
        "the runs before the resume ended",
        |runs| {
            runs.iter()
                .filter(|r| ms(&r["scheduled_at"]) <= resumed_at)
                .all(is_done)
        },
    );
    let all = show(&runs);
    check_every_second(&runs);
    let ran = executed(&runs);
    for pair in ran.windows(2) {
        let (a, _, ended) = pair[0];
        let (b, started, _) = pair[1];
        assert!(
            ended.is_some_and(|e| e <= started),
            "runs {a} and {b} ran at once under --overlap skip:\n{all}"
        );
    }
}

#[test]
fn a_tracker_killed_and_restarted_fires_missed_ticks_by_policy_and_never_twice() {
    if ON_POSTGRES {
        // There another tracker leads and fires on: `scale_out` kills the
        // leader instead.
        return;
    }
    const JOBS: [(&str, &str); 3] = [("once", "fire-once"), ("skip", "skip"), ("all", "fire-all")];
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let ran = sb.path("ran");
    std::fs::create_dir_all(&ran).unwrap();
    let mut d = Daemon::standalone(home, &data, &[]);
    let addr = d.addr.clone();
    let script = format!(
        "echo \"$LTS_SCHEDULED_AT $LTS_ATTEMPT\" >> {}/$LTS_TASK_ID",
        ran.display()
    );
    for (id, policy) in JOBS {
        let flags = ["--cron", EVERY_SECOND, "--misfire", policy];
        submit(home, &addr, id, &flags, &script).ok();
    }
    // Kill in the middle of a second while no run is open, so that the
    // outage is the only disturbance.
    eventually("two runs of each job, all ended, mid-second", || {
        let quiet = JOBS.iter().all(|(id, _)| {
            let runs = runs(home, &addr, id);
            runs.iter().filter(|r| succeeded(r)).count() >= 2 && runs.iter().all(is_done)
        });
        (quiet && (200..650).contains(&(now() % SECOND))).then_some(())
    });
    d.kill();
    let killed_at = now();
    // A bounded, deliberate outage.
    std::thread::sleep(Duration::from_secs(3));
    let spawned_at = now();
    let args = [
        "standalone",
        "--listen",
        &addr,
        "--data",
        data.to_str().unwrap(),
        "--allow-commands",
    ];
    let restarted = Daemon::start(home, &args, true);
    let listening_at = now();
    assert_eq!(restarted.addr, addr, "the same address");

    let mut missed_by_job = Vec::new();
    for (id, policy) in JOBS {
        let runs = wait_runs(home, &addr, id, "a regular run after the restart", |runs| {
            runs.iter().any(|r| {
                succeeded(r) && ms(&r["scheduled_at"]) > listening_at && reason(r).is_empty()
            }) && runs
                .iter()
                .all(|r| is_done(r) || ms(&r["scheduled_at"]) > listening_at)
        });
        let all = show(&runs);
        let cover = check_every_second(&runs);
        let summaries: Vec<&Value> = runs.iter().filter(|r| is_summary(r)).collect();
        let catch_ups: Vec<&Value> = runs
            .iter()
            .filter(|r| reason(r).contains("catch-up"))
            .collect();
        for r in summaries.iter().chain(&catch_ups) {
            let why = reason(r);
            assert!(
                why.contains("no tracker") && why.contains(policy),
                "{id}: the reason says why: {why}"
            );
        }
        // The missed ticks, as the records name them.
        let s = match summaries.first().or(catch_ups.first()) {
            Some(r) => span(reason(r)).unwrap_or_else(|| panic!("{id}: no span:\n{all}")),
            None => panic!("{id}: no record of the missed ticks:\n{all}"),
        };
        let missed: Vec<i64> = (s.from..=s.to).step_by(SECOND as usize).collect();
        assert_eq!(s.count, missed.len() as i64, "{id}:\n{all}");
        for tick in &missed {
            assert!(
                *tick > killed_at - SECOND && *tick < listening_at,
                "{id}: tick {tick} missed outside the outage ({killed_at}..{listening_at}):\n{all}"
            );
        }
        for tick in cover.keys().filter(|t| **t > killed_at && **t < spawned_at) {
            assert!(
                missed.contains(tick),
                "{id}: tick {tick} in the outage not counted as missed:\n{all}"
            );
        }
        assert!(missed.len() >= 2, "{id}: a 3 s outage misses ticks:\n{all}");
        let caught: Vec<i64> = catch_ups.iter().map(|r| ms(&r["scheduled_at"])).collect();
        match policy {
            "fire-once" => {
                assert_eq!(summaries.len(), 1, "{id}: one summary:\n{all}");
                assert_eq!(not_run(reason(summaries[0])), Some(s.count - 1), "{all}");
                assert_eq!(
                    caught,
                    [s.to],
                    "{id}: one catch-up, for the last tick:\n{all}"
                );
            }
            "skip" => {
                assert_eq!(summaries.len(), 1, "{id}: one summary:\n{all}");
                assert_eq!(not_run(reason(summaries[0])), Some(s.count), "{all}");
                assert!(caught.is_empty(), "{id}: no catch-up run:\n{all}");
            }
            _ => {
                assert!(summaries.is_empty(), "{id}: nothing skipped:\n{all}");
                assert_eq!(caught, missed, "{id}: one run per missed tick:\n{all}");
            }
        }
        assert!(
            catch_ups.iter().all(|r| succeeded(r)),
            "{id}: catch-ups ran:\n{all}"
        );
        // Never twice: no (tick, attempt) ran more than once, and every
        // succeeded record did run.
        let ran_lines = lines(&ran.join(id));
        let mut executions: HashMap<(i64, String), usize> = HashMap::new();
        for line in &ran_lines {
            let (at, attempt) = line.split_once(' ').unwrap();
            *executions
                .entry((parse_time(at), attempt.to_string()))
                .or_default() += 1;
        }
        let twice: Vec<_> = executions.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "{id}: ran twice: {twice:?}\n{all}");
        for r in runs.iter().filter(|r| succeeded(r)) {
            let key = (ms(&r["scheduled_at"]), r["attempt"].to_string());
            assert!(
                executions.contains_key(&key),
                "{id}: {key:?} never ran:\n{all}"
            );
        }
        missed_by_job.push(s);
    }
    let s = missed_by_job[0];
    assert!(
        missed_by_job
            .iter()
            .all(|m| (m.from, m.to) == (s.from, s.to)),
        "every job missed the same ticks: {missed_by_job:?}"
    );
}

/// Submit an every-second cron whose runs take 2.5 s, under `overlap`.
fn long_runner(home: &Path, addr: &str, id: &str, overlap: &str) {
    let flags = ["--cron", EVERY_SECOND, "--overlap", overlap];
    submit(home, addr, id, &flags, "sleep 2.5").ok();
}

/// The number of a run a reason names after `prefix` ("run 3 ...").
fn named_run(why: &str, prefix: &str) -> Option<u64> {
    why.split_once(prefix)?
        .1
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn overlap_skip_skips_ticks_while_a_run_goes_and_never_runs_two_at_once() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    long_runner(home, &d.addr, "slow", "skip");
    let runs = wait_runs(home, &d.addr, "slow", "two runs done and a skip", |runs| {
        assert!(
            runs.iter().filter(|r| r["state"] == "running").count() <= 1,
            "two runs at once:\n{}",
            show(runs)
        );
        runs.iter().filter(|r| succeeded(r)).count() >= 2
            && runs.iter().any(|r| r["outcome"] == "skipped")
    });
    let all = show(&runs);
    check_every_second(&runs);
    let by_number: HashMap<u64, &Value> = runs
        .iter()
        .map(|r| (r["run"].as_u64().unwrap(), r))
        .collect();
    let mut while_running = 0;
    for r in runs.iter().filter(|r| r["outcome"] == "skipped") {
        let why = reason(r);
        assert!(why.starts_with("overlap skip"), "{all}");
        let n = named_run(why, "run ").unwrap_or_else(|| panic!("names no run: {why}"));
        if why.contains("still running") {
            while_running += 1;
            let other = by_number[&n];
            let tick = ms(&r["scheduled_at"]);
            let started = ms(&other["started_at"]);
            let ended = opt_ms(&other["ended_at"]).unwrap_or(i64::MAX);
            assert!(
                started <= tick && tick <= ended,
                "run {n} was running at tick {tick}:\n{all}"
            );
        } else {
            assert!(why.contains("still queued"), "{all}");
        }
    }
    assert!(while_running >= 1, "a skip names the running run:\n{all}");
    for pair in executed(&runs).windows(2) {
        let (_, _, ended) = pair[0];
        let (_, started, _) = pair[1];
        assert!(
            ended.is_some_and(|e| e <= started),
            "two runs at once:\n{all}"
        );
    }
}

#[test]
fn overlap_allow_runs_overlapping_ticks_side_by_side() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    long_runner(home, &d.addr, "slow", "allow");
    let runs = wait_runs(home, &d.addr, "slow", "two runs done", |runs| {
        runs.iter().filter(|r| succeeded(r)).count() >= 2
    });
    let all = show(&runs);
    check_every_second(&runs);
    assert!(
        runs.iter().all(|r| r["outcome"] != "skipped"),
        "nothing skipped:\n{all}"
    );
    let done: Vec<(i64, i64)> = runs
        .iter()
        .filter(|r| succeeded(r))
        .map(|r| (ms(&r["started_at"]), ms(&r["ended_at"])))
        .collect();
    let overlapping = done
        .iter()
        .enumerate()
        .any(|(i, a)| done[i + 1..].iter().any(|b| b.0 < a.1 && a.0 < b.1));
    assert!(overlapping, "runs whose intervals overlap:\n{all}");
}

#[test]
fn overlap_buffer_one_keeps_one_waiting_run_and_starts_it_when_the_last_ends() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    long_runner(home, &d.addr, "slow", "buffer-one");
    let runs = wait_runs(home, &d.addr, "slow", "a buffered run done", |runs| {
        let waiting = runs.iter().filter(|r| r["state"] == "queued").count();
        assert!(waiting <= 1, "at most one waiting run:\n{}", show(runs));
        assert!(
            runs.iter().filter(|r| r["state"] == "running").count() <= 1,
            "two runs at once:\n{}",
            show(runs)
        );
        runs.iter()
            .any(|r| succeeded(r) && reason(r).contains("buffered"))
            && runs.iter().any(|r| reason(r).contains("coalesced"))
    });
    let all = show(&runs);
    check_every_second(&runs);
    let numbers: HashSet<u64> = runs.iter().map(|r| r["run"].as_u64().unwrap()).collect();
    for r in runs.iter().filter(|r| r["outcome"] == "skipped") {
        let why = reason(r);
        assert!(why.contains("coalesced"), "{all}");
        let into = named_run(why, "coalesced into run ").unwrap();
        assert!(
            numbers.contains(&into),
            "coalesced into a run that exists:\n{all}"
        );
    }
    let ran = executed(&runs);
    for pair in ran.windows(2) {
        let (_, _, ended) = pair[0];
        let (_, started, _) = pair[1];
        assert!(
            ended.is_some_and(|e| e <= started),
            "two runs at once:\n{all}"
        );
    }
    let mut buffered_started = 0;
    for pair in ran.windows(2) {
        let (_, _, ended) = pair[0];
        let (n, started, _) = pair[1];
        let r = runs.iter().find(|r| r["run"] == n).unwrap();
        if reason(r).contains("buffered tick") {
            buffered_started += 1;
            let ended = ended.unwrap();
            assert!(
                started - ended < ON_TIME,
                "run {n} started {} ms after its predecessor ended:\n{all}",
                started - ended
            );
            assert!(
                started - ms(&r["scheduled_at"]) > SECOND,
                "it waited:\n{all}"
            );
        }
    }
    assert!(buffered_started >= 1, "{all}");
}

#[test]
fn overlap_replace_cancels_the_running_run_for_the_new_tick() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    long_runner(home, &d.addr, "slow", "replace");
    let runs = wait_runs(home, &d.addr, "slow", "two replaced runs", |runs| {
        runs.iter().filter(|r| r["outcome"] == "cancelled").count() >= 2
    });
    let all = show(&runs);
    check_every_second(&runs);
    let by_number: HashMap<u64, &Value> = runs
        .iter()
        .map(|r| (r["run"].as_u64().unwrap(), r))
        .collect();
    let mut replaced_while_running = 0;
    for r in runs.iter().filter(|r| r["outcome"] == "cancelled") {
        let why = reason(r);
        assert!(why.contains("replaced"), "{all}");
        let by = named_run(why, "replaced by run ").unwrap();
        let next = by_number
            .get(&by)
            .unwrap_or_else(|| panic!("no run {by}:\n{all}"));
        let n = r["run"].as_u64().unwrap();
        assert_eq!(by, n + 1, "replaced by the next tick:\n{all}");
        let ended = ms(&r["ended_at"]);
        let tick = ms(&next["scheduled_at"]);
        assert!(
            (tick..tick + ON_TIME).contains(&ended),
            "ended by the tick of run {by}:\n{all}"
        );
        if !r["started_at"].is_null() {
            replaced_while_running += 1;
        }
    }
    assert!(
        replaced_while_running >= 1,
        "a running run was replaced:\n{all}"
    );
    assert!(runs.iter().all(|r| r["outcome"] != "skipped"), "{all}");
}

#[test]
fn trigger_adds_one_run_now_and_leaves_the_schedule_alone() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    submit(
        home,
        &d.addr,
        "yearly",
        &["--cron", "0 0 0 1 1 ?", "--tz", "UTC"],
        "true",
    )
    .ok();
    let before = job_json(home, &d.addr, "yearly");
    let asked = now();
    lts(home, &d.addr, &["trigger", "yearly"]).ok();
    let runs = wait_runs(home, &d.addr, "yearly", "the triggered run done", |runs| {
        runs.iter().any(succeeded)
    });
    let job = wait_state(home, &d.addr, "yearly", "scheduled");
    assert_eq!(runs.len(), 1, "{}", show(&runs));
    let run = &runs[0];
    assert!(reason(run).contains("triggered"), "{run}");
    let at = ms(&run["scheduled_at"]);
    assert!(at >= asked - SECOND && at <= now(), "a tick of now: {run}");
    assert_eq!(
        job["next_fires"], before["next_fires"],
        "schedule untouched"
    );
    assert_eq!(job["runs"].as_array().map(Vec::len), Some(1), "{job}");

    // A finished job runs once more.
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "once",
            "--wait",
            "--",
            "true",
        ],
    )
    .ok();
    lts(home, &d.addr, &["trigger", "once"]).ok();
    let runs = wait_runs(home, &d.addr, "once", "a second run done", |runs| {
        runs.len() == 2 && runs.iter().all(succeeded)
    });
    let job = wait_state(home, &d.addr, "once", "succeeded");
    assert_eq!(runs[1]["run"], 2, "{}", show(&runs));
    assert_eq!(job["runs"].as_array().map(Vec::len), Some(2), "{job}");
}

#[test]
fn retry_reruns_a_failed_run_as_its_next_attempt_and_refuses_a_succeeded_job() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let mark = sb.path("mark");
    let script = format!(
        "if [ -e {m} ]; then exit 0; else touch {m}; exit 3; fi",
        m = mark.display()
    );
    submit(home, &d.addr, "flaky", &[], &script).ok();
    let failed = wait_state(home, &d.addr, "flaky", "failed");
    assert_eq!(failed["runs"][0]["exit_code"], 3, "{failed}");
    lts(home, &d.addr, &["retry", "flaky"]).ok();
    let job = wait_state(home, &d.addr, "flaky", "succeeded");
    let runs = job["runs"].as_array().unwrap();
    let all = show(runs);
    assert_eq!(runs.len(), 2, "{all}");
    assert_eq!(
        (&runs[0]["run"], &runs[0]["attempt"]),
        (&1.into(), &1.into()),
        "{all}"
    );
    assert_eq!(runs[0]["outcome"], "failed", "{all}");
    assert_eq!(
        (&runs[1]["run"], &runs[1]["attempt"]),
        (&1.into(), &2.into()),
        "{all}"
    );
    assert_eq!(runs[1]["outcome"], "succeeded", "{all}");
    assert_eq!(
        runs[1]["scheduled_at"], runs[0]["scheduled_at"],
        "the same tick: {all}"
    );

    let again = lts(home, &d.addr, &["retry", "flaky"]);
    assert_eq!(again.code, 1, "{again:?}");
    let errors = error_lines(&again);
    assert_eq!(errors.len(), 1, "one line: {again:?}");
    assert!(errors[0].contains("succeeded"), "{again:?}");
    let job = job_json(home, &d.addr, "flaky");
    assert_eq!(
        job["runs"].as_array().map(Vec::len),
        Some(2),
        "nothing queued: {job}"
    );
}

#[test]
fn each_run_sees_its_tick_and_a_run_id_kept_across_retries() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let env = sb.path("env");
    let script = format!(
        "echo \"$LTS_RUN $LTS_ATTEMPT $LTS_SCHEDULED_AT $LTS_RUN_ID\" >> {}; [ \"$LTS_ATTEMPT\" -gt 1 ]",
        env.display()
    );
    let flags = [
        "--repeat-count",
        "2",
        "--repeat-interval",
        "1s",
        "--max-retries",
        "1",
        "--retry-backoff",
        "100ms",
    ];
    submit(home, &d.addr, "envy", &flags, &script).ok();
    let job = wait_state(home, &d.addr, "envy", "succeeded");
    let runs = job["runs"].as_array().unwrap();
    let all = show(runs);
    let seen: Vec<Vec<String>> = lines(&env)
        .iter()
        .map(|l| l.split(' ').map(str::to_string).collect())
        .collect();
    assert_eq!(runs.len(), 4, "two ticks, two attempts each:\n{all}");
    assert_eq!(seen.len(), 4, "{seen:?}");
    let mut run_ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in runs {
        let (run, attempt) = (r["run"].to_string(), r["attempt"].to_string());
        let expected = if attempt == "1" {
            "failed"
        } else {
            "succeeded"
        };
        assert_eq!(r["outcome"], expected, "{all}");
        let line = seen
            .iter()
            .find(|l| l[0] == run && l[1] == attempt)
            .unwrap_or_else(|| panic!("run {run} attempt {attempt} left no env: {seen:?}"));
        assert_eq!(
            parse_time(&line[2]),
            ms(&r["scheduled_at"]),
            "LTS_SCHEDULED_AT is the run's scheduled_at: {seen:?}\n{all}"
        );
        assert!(!line[3].is_empty(), "{seen:?}");
        run_ids.entry(run).or_default().insert(line[3].clone());
    }
    assert_eq!(run_ids.len(), 2, "{run_ids:?}");
    for ids in run_ids.values() {
        assert_eq!(
            ids.len(),
            1,
            "one LTS_RUN_ID per tick across retries: {run_ids:?}"
        );
    }
    let distinct: BTreeSet<_> = run_ids.values().flatten().collect();
    assert_eq!(
        distinct.len(),
        2,
        "ticks have their own run id: {run_ids:?}"
    );
}

#[test]
fn bad_schedules_are_refused_naming_the_field_and_store_nothing() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let cases: [(&[&str], &[&str]); 5] = [
        (&["--cron", "61 * * * * ?"], &["--cron", "seconds"]),
        (
            &["--cron", EVERY_SECOND, "--tz", "Mars/Olympus"],
            &["--tz", "Mars/Olympus"],
        ),
        (
            &["--repeat-count", "3", "--repeat-interval", "0s"],
            &["--repeat-interval"],
        ),
        (
            &["--cron", EVERY_SECOND, "--at", "2030-01-01T00:00:00Z"],
            &["--cron", "--at"],
        ),
        (&["--cron", "0 0 12 * * ? 2020"], &["--cron"]),
    ];
    for (flags, names) in cases {
        let out = submit(home, &d.addr, "bad", flags, "true");
        assert_eq!(out.code, 2, "{flags:?}: {out:?}");
        let errors = error_lines(&out);
        assert_eq!(errors.len(), 1, "{flags:?}: one error line: {out:?}");
        for name in names {
            assert!(errors[0].contains(name), "{flags:?} names {name}: {out:?}");
        }
    }
    let jobs = lts(home, &d.addr, &["-o", "json", "jobs"]).json();
    assert_eq!(jobs, serde_json::json!([]), "nothing stored");
}

#[test]
fn at_in_the_past_runs_now_with_a_note() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let before = now();
    let out = submit(
        home,
        &d.addr,
        "late",
        &["--at", "2020-01-01T00:00:00Z"],
        "true",
    );
    assert_eq!(out.ok().trim(), "late");
    assert!(
        out.stderr.contains("note") && out.stderr.contains("past"),
        "a note on stderr: {out:?}"
    );
    let job = wait_state(home, &d.addr, "late", "succeeded");
    let run = &job["runs"][0];
    let started = ms(&run["started_at"]);
    assert!(started >= before && started < now(), "{job}");
    assert!(
        ms(&run["scheduled_at"]) >= before,
        "runs now, not in 2020: {job}"
    );
}

#[test]
fn cron_previews_fire_times_marking_dst_and_names_a_bad_field() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let args = [
        "cron",
        "0 30 2 * * ?",
        "--tz",
        "Europe/Paris",
        "--from",
        "2026-03-28T12:00:00Z",
        "-n",
        "3",
    ];
    let out = lts(home, "", &args);
    let shown: Vec<&str> = out.ok().lines().collect();
    assert_eq!(shown.len(), 3, "{out:?}");
    assert!(
        shown[0].starts_with("2026-03-29T03:00:00+02:00") && shown[0].contains("moved by DST"),
        "{out:?}"
    );
    assert_eq!(shown[1], "2026-03-30T02:30:00+02:00", "{out:?}");
    assert_eq!(shown[2], "2026-03-31T02:30:00+02:00", "{out:?}");

    let json = lts(home, "", &[&["-o", "json"][..], &args].concat()).json();
    let keys: BTreeSet<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["expr", "tz", "next"]), "{json}");
    assert_eq!(json["expr"], "0 30 2 * * ?");
    assert_eq!(json["tz"], "Europe/Paris");
    assert_eq!(
        json["next"],
        serde_json::json!([
            "2026-03-29T03:00:00+02:00",
            "2026-03-30T02:30:00+02:00",
            "2026-03-31T02:30:00+02:00"
        ])
    );

    let bad = lts(home, "", &["cron", "61 * * * * ?"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert_eq!(bad.stderr.trim().lines().count(), 1, "one line: {bad:?}");
    assert!(bad.stderr.contains("seconds"), "names the field: {bad:?}");
}

#[test]
fn resuming_while_the_run_still_goes_does_not_run_it_twice() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let gate = sb.path("gate");
    let script = format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display());
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "once",
            "--max-retries",
            "1",
            "--",
            "sh",
            "-c",
            &script,
        ],
    )
    .ok();
    wait_state(home, &d.addr, "once", "running");
    lts(home, &d.addr, &["suspend", "once"]).ok();
    lts(home, &d.addr, &["resume", "once"]).ok();
    std::fs::write(&gate, "").unwrap();
    let job = wait_state(home, &d.addr, "once", "succeeded");
    assert_eq!(
        job["runs"].as_array().map(Vec::len),
        Some(1),
        "one run, one attempt: {job}"
    );
}

#[test]
fn a_queued_at_job_suspended_and_resumed_is_queued_again() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "nobody",
            "--task-id",
            "at1",
            "--delay",
            "1s",
            "--",
            "true",
        ],
    )
    .ok();
    wait_state(home, &d.addr, "at1", "queued");
    lts(home, &d.addr, &["suspend", "at1"]).ok();
    // The run that had not started is held, not ended: no outcome yet.
    let job = lts(home, &d.addr, &["-o", "json", "job", "at1"]).json();
    let runs = job["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{job}");
    assert_eq!(runs[0]["state"], "held", "{job}");
    assert!(runs[0]["outcome"].is_null(), "{job}");
    let resumed = lts(home, &d.addr, &["-o", "json", "resume", "at1"]).json();
    assert_eq!(resumed["state"], "queued", "{resumed}");
    // The same run goes on: no second run, no second attempt.
    let job = lts(home, &d.addr, &["-o", "json", "job", "at1"]).json();
    let runs = job["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{job}");
    assert_eq!(runs[0]["state"], "queued", "{job}");
    assert_eq!(runs[0]["attempt"], 1, "{job}");
}
