//! Property tests of the parsers a user or a peer feeds: cron expressions,
//! durations, times, a `--file` line, and the spool's file format. Each
//! takes any input without panicking; where a value is written and read
//! back, it comes back the same. (`fuzz/` drives the same entry points with
//! cargo-fuzz.)

use lts::model::{format_duration, parse_duration, rfc3339, JobSpec, Schedule, Stream};
use lts::protocol::{RunResult, Upstream};
use lts::schedule::CronExpr;
use proptest::prelude::*;
use std::time::Duration;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Strings that look like cron fields: digits, names, and every operator.
fn cronish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        "[0-9]{1,3}",
        Just("*".to_string()),
        Just("?".to_string()),
        Just("L".to_string()),
        Just("W".to_string()),
        Just("LW".to_string()),
        "[0-9]{1,2}[LW#/-][0-9]{0,2}",
        "(MON|TUE|SUN|JAN|DEC|FRI)",
        "[0-9]{1,2}-[0-9]{1,2}(/[0-9]{1,2})?",
        "[*?,/#LW0-9-]{1,6}",
        Just("@daily".to_string()),
        Just("@hourly".to_string()),
    ];
    prop::collection::vec(token, 1..9).prop_map(|fields| fields.join(" "))
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn cron_parsing_never_panics(expr in any::<String>()) {
        let _ = CronExpr::parse(&expr);
    }

    #[test]
    fn cron_fire_times_never_panic_and_move_forward(expr in cronish(), start in 0i64..4_000_000_000_000) {
        if let Ok(cron) = CronExpr::parse(&expr) {
            let after = chrono::DateTime::from_timestamp_millis(start).unwrap_or_default();
            for zone in [chrono_tz::UTC, chrono_tz::Europe::Berlin, chrono_tz::Australia::Lord_Howe] {
                if let Some(fire) = cron.next_after(after, &zone) {
                    prop_assert!(fire.at > after, "{expr}: {} after {after}", fire.at);
                }
            }
            // What it says it is parses to the same expression.
            let again = CronExpr::parse(cron.as_str()).expect("its own text parses");
            prop_assert_eq!(
                again.next_after(after, &chrono_tz::UTC).map(|f| f.at),
                cron.next_after(after, &chrono_tz::UTC).map(|f| f.at)
            );
        }
    }

    #[test]
    fn duration_parsing_never_panics(text in any::<String>()) {
        let _ = parse_duration(&text);
    }

    #[test]
    fn durations_round_trip(ms in 0u64..3_155_760_000_000) {
        let d = Duration::from_millis(ms);
        let shown = format_duration(d);
        prop_assert_eq!(parse_duration(&shown), Ok(d), "{}", shown);
    }

    #[test]
    fn times_round_trip_through_a_file_line(ms in 0i64..253_402_300_799_000) {
        let at = rfc3339(ms);
        let line = serde_json::json!({"group": "g", "task_id": "t", "at": at}).to_string();
        let job = lts::jobline::parse_job_line(&line).map_err(|e| TestCaseError::fail(e.0))?;
        prop_assert_eq!(job.schedule, Schedule::At { at_ms: ms }, "{}", at);
    }

    #[test]
    fn a_file_line_never_panics(line in any::<String>()) {
        let _ = lts::jobline::parse_job_line(&line);
    }

    #[test]
    fn a_file_line_of_any_values_never_panics(
        keys in prop::collection::vec(prop_oneof![
            Just("task_id"), Just("group"), Just("params"), Just("command"), Just("cron"),
            Just("tz"), Just("at"), Just("delay"), Just("repeat_count"), Just("repeat_interval"),
            Just("priority"), Just("max_retries"), Just("retry_backoff"), Just("timeout"),
            Just("overlap"), Just("misfire"), Just("catch_up_window"), Just("feedback"),
            Just("client_group"), Just("replace"),
        ], 0..8),
        values in prop::collection::vec(prop_oneof![
            any::<String>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
            "[0-9]{1,4}(ms|s|m|h|d)".prop_map(serde_json::Value::from),
            cronish().prop_map(serde_json::Value::from),
            Just(serde_json::json!({"k": "v", "n": 1})),
            Just(serde_json::json!(["sh", "-c", "true"])),
        ], 8),
    ) {
        let line: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .zip(values)
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let _ = lts::jobline::parse_job_line(&serde_json::Value::Object(line).to_string());
    }

    #[test]
    fn a_valid_file_line_keeps_its_fields(
        task_id in "[a-z0-9][a-z0-9_.-]{0,30}",
        group in "[a-z][a-z0-9-]{0,20}",
        priority in any::<i32>(),
        params in prop::collection::btree_map("[a-z]{1,8}", "[^\u{0}]{0,16}", 0..4),
    ) {
        let line = serde_json::json!({
            "task_id": task_id, "group": group, "priority": priority, "params": params,
            "command": ["true"],
        });
        let job = lts::jobline::parse_job_line(&line.to_string()).map_err(|e| TestCaseError::fail(e.0))?;
        prop_assert_eq!(job.task_id, task_id);
        prop_assert_eq!(job.group, group);
        prop_assert_eq!(job.priority, priority);
        prop_assert_eq!(job.params, params);
    }

    #[test]
    fn a_spool_item_never_panics_the_reader(body in any::<String>()) {
        let _ = serde_json::from_str::<Upstream>(&body);
        let _ = serde_json::from_str::<JobSpec>(&body);
    }

    #[test]
    fn worker_spool_items_round_trip(
        run_id in any::<i64>(),
        seq in any::<u64>(),
        line in any::<String>(),
        at in any::<i64>(),
        stderr in any::<bool>(),
        reason in proptest::option::of(any::<String>()),
        exit_code in proptest::option::of(any::<i32>()),
    ) {
        let stream = if stderr { Stream::Stderr } else { Stream::Stdout };
        let items = vec![
            Upstream::Log { run_id, seq, stream, line, at },
            Upstream::Done(RunResult {
                run_id,
                fence: run_id.wrapping_add(1),
                outcome: lts::model::RunOutcome::Failed,
                exit_code,
                ended_at: at,
                reason,
            }),
        ];
        for item in items {
            let body = serde_json::to_string(&item).expect("serialize");
            let back: Upstream = serde_json::from_str(&body).expect("deserialize");
            prop_assert_eq!(back, item);
        }
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// The client spool's file keeps a job exactly as it was pushed.
    #[test]
    fn client_spool_jobs_round_trip(
        task_id in "[a-z0-9][a-z0-9_.-]{0,30}",
        params in prop::collection::btree_map("[a-z]{1,8}", "[^\u{0}]{0,32}", 0..4),
        command in prop::collection::vec("[^\u{0}]{0,16}", 0..4),
        priority in any::<i32>(),
        at_ms in proptest::option::of(0i64..253_402_300_799_000),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let spool = lts::spool::Spool::open(dir.path()).expect("open the spool");
        let mut job = JobSpec::new("g", task_id);
        job.params = params;
        job.command = command;
        job.priority = priority;
        if let Some(at_ms) = at_ms {
            job.schedule = Schedule::At { at_ms };
        }
        if lts::model::validate_job(&job).is_err() {
            return Ok(());
        }
        // A job is spooled with its idempotency key (one is made up for a
        // job without), so give it one to compare it whole.
        let job = job.keyed();
        spool.push(&job).expect("push");
        drop(spool);
        let spool = lts::spool::Spool::open_read_only(dir.path())
            .expect("reopen")
            .expect("a spool is there");
        let listed = spool.list().expect("list");
        prop_assert_eq!(listed.len(), 1);
        prop_assert_eq!(&listed[0].job, &job);
    }
}
