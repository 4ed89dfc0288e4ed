//! `/metrics` on started daemons: counters move with real runs, the
//! standalone shows its worker's metrics too, a worker with `--http` serves
//! its own with health checks, and `contrib/`'s dashboard and alerting
//! rules name only metrics that exist (and pass `promtool check rules`).

use super::helpers::*;
use std::collections::BTreeSet;
use std::path::Path;

fn get(url: &str) -> (u16, String) {
    let response = reqwest::blocking::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap()
        .get(url)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (response.status().as_u16(), response.text().unwrap())
}

/// The value of the sample `name{labels}` (labels as printed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[test]
fn counters_move_with_real_runs() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let url = d.console_url();
    let (status, before) = get(&format!("{url}metrics"));
    assert_eq!(status, 200);
    assert_eq!(
        sample(
            &before,
            r#"lts_runs_ended_total{group="default",outcome="failed"}"#
        ),
        None,
        "nothing failed yet"
    );
    let bad = lts(
        home,
        &d.addr,
        &[
            "submit", "-g", "default", "--wait", "--", "sh", "-c", "exit 3",
        ],
    );
    assert_eq!(bad.code, 1, "{bad:?}");
    lts(
        home,
        &d.addr,
        &["submit", "-g", "default", "--wait", "--", "true"],
    )
    .ok();
    let text = eventually("the counters to move", || {
        let (_, text) = get(&format!("{url}metrics"));
        (sample(
            &text,
            r#"lts_runs_ended_total{group="default",outcome="succeeded"}"#,
        ) == Some(1.0))
        .then_some(text)
    });
    let expect = [
        (
            r#"lts_runs_ended_total{group="default",outcome="failed"}"#,
            1.0,
        ),
        ("lts_submits_total", 2.0),
        (r#"lts_jobs{group="default",state="failed"}"#, 1.0),
        (r#"lts_jobs{group="default",state="succeeded"}"#, 1.0),
        (
            r#"lts_run_duration_seconds_count{group="default",outcome="failed"}"#,
            1.0,
        ),
        (r#"lts_fire_lag_seconds_count{group="default"}"#, 2.0),
        (
            r#"lts_dispatch_latency_seconds_count{group="default"}"#,
            2.0,
        ),
        (r#"lts_workers{group="default"}"#, 1.0),
        ("lts_leader", 1.0),
        (r#"lts_worker_runs_total{outcome="failed"}"#, 1.0),
        (r#"lts_worker_slots{state="free"}"#, 4.0),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    assert!(
        text.contains("# TYPE lts_store_commit_seconds histogram"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics text ends with # EOF"
    );
    // No label names a task id.
    assert!(!text.contains("task_id"), "{text}");
}

#[test]
fn a_worker_with_http_serves_its_metrics_and_health() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let t = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    let w = Daemon::worker(
        home,
        &t.addr,
        "reports",
        &[
            "--http",
            "127.0.0.1:0",
            "--allow-commands",
            "--threads",
            "3",
        ],
    );
    let url = w.worker_http_url();
    assert_eq!(get(&format!("{url}healthz")).0, 200);
    eventually("the worker to be ready", || {
        (get(&format!("{url}readyz")).0 == 200).then_some(())
    });
    lts(
        home,
        &t.addr,
        &["submit", "-g", "reports", "--wait", "--", "true"],
    )
    .ok();
    let (status, text) = get(&format!("{url}metrics"));
    assert_eq!(status, 200);
    assert_eq!(
        sample(&text, r#"lts_worker_runs_total{outcome="succeeded"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"lts_worker_slots{state="free"}"#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(sample(&text, "lts_worker_spooled"), Some(0.0), "{text}");
    // A non-loopback --http needs a token.
    let refused = ltsd(
        home,
        &[
            "worker",
            "--group",
            "g",
            "--tracker",
            &t.addr,
            "--http",
            "0.0.0.0:0",
        ],
    );
    assert_eq!(refused.code, 2, "{refused:?}");
}

/// The metric families a scrape shows, by name (`# TYPE name kind`).
fn families(text: &str) -> BTreeSet<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

/// Whether `name` is a sample of one of `families`.
fn exists(name: &str, families: &BTreeSet<(String, String)>) -> bool {
    families.iter().any(|(family, kind)| {
        let suffixes: &[&str] = match kind.as_str() {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        suffixes.iter().any(|s| name == format!("{family}{s}"))
    })
}

/// Every `lts_...` name in `text`.
fn names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("lts_") {
        let start = i + at;
        let before_ok =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |e| start + e);
        if before_ok {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

#[test]
fn contrib_names_only_metrics_that_exist() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let t = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    let w = Daemon::worker(
        home,
        &t.addr,
        "g",
        &["--http", "127.0.0.1:0", "--allow-commands"],
    );
    let worker_url = w.worker_http_url();
    // A scrape shows a labelled family once it has a series: make each move.
    // A failed run, and ticks skipped while a run still goes.
    lts(
        home,
        &t.addr,
        &["submit", "-g", "g", "--wait", "--", "false"],
    );
    lts(
        home,
        &t.addr,
        &[
            "submit",
            "-g",
            "g",
            "--task-id",
            "busy",
            "--cron",
            "* * * * * ?",
            "--",
            "sleep",
            "3",
        ],
    )
    .ok();
    // An alert rule, so the firing gauge has a series.
    lts(
        home,
        &t.addr,
        &[
            "alert",
            "add",
            "fails",
            "--when",
            "failed",
            "--to",
            "cmd:/bin/true",
        ],
    )
    .ok();
    // Queued work for a group with no worker.
    lts(home, &t.addr, &["submit", "-g", "nobody", "--", "true"]).ok();
    // A run given back by a worker that stops at once: lost.
    let mut quitter = Daemon::worker(
        home,
        &t.addr,
        "quit",
        &["--allow-commands", "--grace", "0s"],
    );
    lts(
        home,
        &t.addr,
        &[
            "submit",
            "-g",
            "quit",
            "--task-id",
            "long",
            "--",
            "sleep",
            "30",
        ],
    )
    .ok();
    wait_state(home, &t.addr, "long", "running");
    quitter.term();
    let console = t.console_url();
    let mut known = eventually("every family to show", || {
        let text = get(&format!("{console}metrics")).1;
        let all = [
            "lts_ticks_skipped_total",
            "lts_leases_expired_total",
            "lts_alerts_firing",
        ];
        all.iter()
            .all(|name| text.contains(name))
            .then(|| families(&text))
    });
    known.extend(families(&get(&format!("{worker_url}metrics")).1));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib");
    let dashboard = std::fs::read_to_string(root.join("grafana-dashboard.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let exprs: Vec<String> = doc["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(String::from))
        .collect();
    assert!(exprs.len() >= 15, "the dashboard has its panels");
    let rules = std::fs::read_to_string(root.join("prometheus-rules.yml")).unwrap();
    let mut used = names(&exprs.join("\n"));
    used.extend(names(&rules));
    assert!(used.len() >= 10, "{used:?}");
    let missing: Vec<&String> = used.iter().filter(|n| !exists(n, &known)).collect();
    assert!(
        missing.is_empty(),
        "contrib/ names metrics that do not exist: {missing:?}\nknown: {known:?}"
    );
    // Prometheus's own check of the rules.
    let promtool = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(root.join("prometheus-rules.yml"))
        .output()
        .unwrap_or_else(|e| panic!("promtool is not installed ({e}): apt-get install prometheus, or run scripts/test.sh"));
    assert!(
        promtool.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );
}
