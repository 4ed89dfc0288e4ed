//! Alerts end to end: a webhook server inside the test receives what the
//! tracker delivers for a failed job (its own `--alert`) and for rules
//! (`--when failed`, with a template; `no-worker` only after `--for`);
//! a flood within `--silence` is one delivery with a fold count; an alert
//! raised before a SIGKILL is delivered after the restart; a `cmd:` target
//! gets the alert JSON on stdin; and the CLI's errors. `on_postgres` runs
//! them again on a shared store, where another tracker leads and delivers.

use super::harness::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the webhook server received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    content_type: String,
    body: String,
    at: Instant,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A webhook receiver: answers every request 200 and keeps it.
struct HookServer {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl HookServer {
    fn start() -> HookServer {
        HookServer::listen(TcpListener::bind("127.0.0.1:0").expect("bind"))
    }

    fn on_port(port: u16) -> HookServer {
        HookServer::listen(TcpListener::bind(("127.0.0.1", port)).expect("bind the hook port"))
    }

    fn listen(listener: TcpListener) -> HookServer {
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let sink = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                if let Some(received) = serve(stream) {
                    sink.lock().unwrap().push(received);
                }
            }
        });
        HookServer { url, got }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn to(&self, path: &str) -> Vec<Received> {
        self.got().into_iter().filter(|r| r.path == path).collect()
    }
}

/// Read one request (headers, then Content-Length bytes) and answer 200.
fn serve(stream: TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(PATIENCE)).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let path = request_line.split_whitespace().nth(1)?.to_string();
    let (mut length, mut content_type) = (0usize, String::new());
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().ok()?,
                "content-type" => content_type = value.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = stream;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    Some(Received {
        path,
        content_type,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    })
}

fn alerts(home: &Path, tracker: &str) -> Vec<Value> {
    lts(home, tracker, &["-o", "json", "alerts"])
        .json()
        .as_array()
        .cloned()
        .expect("an array of alerts")
}

/// Wait for the webhook server to hold `n` requests to `path`.
#[track_caller]
fn wait_received(hook: &HookServer, path: &str, n: usize) -> Vec<Received> {
    eventually(&format!("{n} deliveries to {path}"), || {
        let got = hook.to(path);
        (got.len() >= n).then_some(got)
    })
}

#[test]
fn a_failed_job_and_a_failed_rule_reach_the_webhook() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let hook = HookServer::start();
    let template = sb.path("chat.json");
    std::fs::write(&template, r#"{"text": "{{text}} ({{condition}})"}"#).unwrap();
    let rule_to = format!("{}/rule", hook.url);
    let chat_to = format!("{}/chat", hook.url);
    lts(
        home,
        &d.addr,
        &[
            "alert", "add", "fails", "--when", "failed", "--to", &rule_to,
        ],
    )
    .ok();
    lts(
        home,
        &d.addr,
        &[
            "alert",
            "add",
            "chat",
            "--when",
            "failed",
            "--to",
            &chat_to,
            "--template",
            template.to_str().unwrap(),
        ],
    )
    .ok();
    let rules = lts(home, &d.addr, &["-o", "json", "alert", "list"]).json();
    assert_eq!(rules.as_array().map(Vec::len), Some(2), "{rules}");
    let job_to = format!("{}/job", hook.url);
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "breaks",
            "--alert",
            "failed,timed_out",
            "--alert-to",
            &job_to,
            "--",
            "sh",
            "-c",
            "exit 3",
        ],
    )
    .ok();
    let job = wait_state(home, &d.addr, "breaks", "failed");
    assert_eq!(job["alert"], serde_json::json!(["failed", "timed_out"]));

    let body = wait_received(&hook, "/job", 1)[0].json();
    assert_eq!(body["task_id"], "breaks");
    assert_eq!(body["group"], "default");
    assert_eq!(body["condition"], "failed");
    assert_eq!(body["rule"], Value::Null);
    assert_eq!(body["run"], 1);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("breaks") && message.contains("exit 3"),
        "{message}"
    );
    let by_rule = wait_received(&hook, "/rule", 1)[0].json();
    assert_eq!(
        (&by_rule["rule"], &by_rule["task_id"]),
        (&"fails".into(), &"breaks".into())
    );
    let chat = &wait_received(&hook, "/chat", 1)[0];
    assert!(
        chat.content_type.starts_with("application/json"),
        "{chat:?}"
    );
    let text = chat.json()["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("job 'breaks' in group 'default' failed") && text.ends_with("(failed)"),
        "{text}"
    );

    // `failed` counts once retries are spent: one alert for a job that
    // failed twice.
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "retried",
            "--max-retries",
            "1",
            "--retry-backoff",
            "100ms",
            "--alert",
            "failed",
            "--alert-to",
            &job_to,
            "--",
            "sh",
            "-c",
            "exit 4",
        ],
    )
    .ok();
    let job = wait_state(home, &d.addr, "retried", "failed");
    assert_eq!(job["runs"].as_array().map(Vec::len), Some(2), "{job}");
    let got = wait_received(&hook, "/job", 2);
    let retried: Vec<Value> = got
        .iter()
        .map(Received::json)
        .filter(|b| b["task_id"] == "retried")
        .collect();
    assert_eq!(retried.len(), 1, "{retried:?}");

    // `lts alerts` shows each alert and its delivery.
    let shown = eventually("every delivery recorded", || {
        let all = alerts(home, &d.addr);
        all.iter()
            .all(|a| a["deliveries"].as_array().is_some_and(|d| !d.is_empty()))
            .then_some(all)
    });
    assert!(shown.len() >= 4, "{shown:?}");
    for a in &shown {
        let d = &a["deliveries"][0];
        assert_eq!(d["ok"], true, "{a}");
        assert!(d["target"].as_str().unwrap().starts_with(&hook.url), "{a}");
    }
    let table = lts(home, &d.addr, &["alerts"]).ok().to_string();
    assert!(
        table.contains("CONDITION") && table.contains("sent"),
        "{table}"
    );
    // The API answers the same alerts, and the console lists them.
    let api: Value = reqwest::blocking::get(format!("{}api/v1/alerts", d.console_url()))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(api.as_array().map(Vec::len), Some(shown.len()));
    let page = reqwest::blocking::get(format!("{}alerts", d.console_url()))
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("chat") && page.contains("breaks") && page.contains("sent"));
}

#[test]
fn no_worker_is_raised_only_after_for_and_resolves_when_a_worker_comes() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    // The standalone's own worker serves group default, not lonely.
    let t = Daemon::standalone(home, &sb.path("t"), &["--lease", "5s"]);
    let hook = HookServer::start();
    let to = format!("{}/nw", hook.url);
    lts(
        home,
        &t.addr,
        &[
            "alert",
            "add",
            "stuck",
            "--when",
            "no-worker",
            "--for",
            "3s",
            "--to",
            &to,
        ],
    )
    .ok();
    let submitted = Instant::now();
    lts(
        home,
        &t.addr,
        &["submit", "-g", "lonely", "--task-id", "w", "--", "true"],
    )
    .ok();
    let got = wait_received(&hook, "/nw", 1);
    assert!(
        got[0].at - submitted >= Duration::from_secs(3),
        "raised {:?} after the work was due, before --for",
        got[0].at - submitted
    );
    let body = got[0].json();
    assert_eq!(
        (&body["rule"], &body["group"]),
        (&"stuck".into(), &"lonely".into())
    );
    assert_eq!(body["condition"], "no-worker");
    assert_eq!(body["resolved_at"], Value::Null);
    assert!(
        body["message"].as_str().unwrap().contains("no live worker"),
        "{body}"
    );
    // `lts status` names what is firing.
    let status = lts(home, &t.addr, &["-o", "json", "status"]).json();
    assert_eq!(status["alerts_firing"][0]["rule"], "stuck", "{status}");
    let table = lts(home, &t.addr, &["status"]);
    assert!(table.ok().contains("1 alert(s) firing"), "{table:?}");

    let _w = crate::helpers::Daemon::worker(home, &t.addr, "lonely", &["--allow-commands"]);
    wait_state(home, &t.addr, "w", "succeeded");
    let resolved = eventually("the alert to resolve", || {
        alerts(home, &t.addr)
            .into_iter()
            .find(|a| a["rule"] == "stuck" && a["resolved_at"].is_string())
    });
    assert_eq!(resolved["folded"], 0);
    assert_eq!(hook.to("/nw").len(), 1, "resolving sends nothing");
}

#[test]
fn a_flood_within_silence_is_one_delivery_that_counts_the_rest() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &["--threads", "8"]);
    let hook = HookServer::start();
    let to = format!("{}/flood", hook.url);
    lts(
        home,
        &d.addr,
        &[
            "alert",
            "add",
            "flood",
            "--when",
            "failed",
            "--silence",
            "1h",
            "--to",
            &to,
        ],
    )
    .ok();
    let n = 40;
    let lines: String = (0..n)
        .map(|i| {
            format!("{{\"group\": \"default\", \"task_id\": \"f{i}\", \"command\": [\"false\"]}}\n")
        })
        .collect();
    let file = sb.path("flood.jsonl");
    std::fs::write(&file, lines).unwrap();
    lts(home, &d.addr, &["submit", "--file", file.to_str().unwrap()]).ok();
    let deadline = Instant::now() + PATIENCE;
    let alert = loop {
        let all = alerts(home, &d.addr);
        let found = all.iter().find(|a| a["rule"] == "flood").cloned();
        if let Some(a) = found.filter(|a| {
            let delivered = a["deliveries"].as_array().is_some_and(|d| !d.is_empty());
            a["folded"] == n - 1 && delivered
        }) {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "the flood was not folded into one delivered alert: {all:?}\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        alerts(home, &d.addr).len(),
        1,
        "one alert for the whole flood"
    );
    assert_eq!(alert["deliveries"].as_array().map(Vec::len), Some(1));
    let text = alert["text"].as_str().unwrap();
    assert!(text.contains(&format!("{} more", n - 1)), "{text}");
    let got = hook.to("/flood");
    assert_eq!(
        got.len(),
        1,
        "exactly one delivery within the silence window"
    );
    assert!(got[0].json()["folded"].is_u64());
}

#[test]
fn an_alert_raised_before_a_sigkill_is_delivered_after_the_restart() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    // A port nobody listens on yet: deliveries fail until the server starts.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let to = format!("http://127.0.0.1:{port}/late");
    let mut d = Daemon::standalone(home, &sb.path("data"), &[]);
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "doomed",
            "--alert",
            "failed",
            "--alert-to",
            &to,
            "--",
            "false",
        ],
    )
    .ok();
    let failed = eventually("a failed delivery", || {
        alerts(home, &d.addr).into_iter().find(|a| {
            a["deliveries"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x["ok"] == false))
        })
    });
    assert!(failed["deliveries"][0]["error"].is_string(), "{failed}");
    assert_eq!(failed["pending"], true);
    d.signal(libc::SIGKILL);
    d.wait_exit(PATIENCE);
    let hook = HookServer::on_port(port);
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let body = wait_received(&hook, "/late", 1)[0].json();
    assert_eq!(
        (&body["task_id"], &body["id"]),
        (&"doomed".into(), &failed["id"])
    );
    let done = eventually("the delivery recorded", || {
        alerts(home, &d.addr)
            .into_iter()
            .find(|a| a["id"] == failed["id"] && a["pending"] == false)
    });
    let deliveries = done["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.last().unwrap()["ok"], true, "{done}");
    assert!(deliveries.len() >= 2, "{done}");
}

#[test]
fn a_cmd_target_gets_the_alert_json_on_stdin() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let out = sb.path("got");
    std::fs::create_dir(&out).unwrap();
    let script = sb.script(
        "page.sh",
        &format!("cat > {}/$$.json", out.to_str().unwrap()),
    );
    let to = format!("cmd:{}", script.to_str().unwrap());
    lts(
        home,
        &d.addr,
        &["alert", "add", "pager", "--when", "timed_out", "--to", &to],
    )
    .ok();
    // `lts alert test` goes through the same delivery and says how it went.
    let tested = lts(home, &d.addr, &["-o", "json", "alert", "test", "pager"]).json();
    assert_eq!(tested["condition"], "test");
    assert_eq!(tested["deliveries"][0]["ok"], true, "{tested}");
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "slow",
            "--timeout",
            "1s",
            "--",
            "sleep",
            "30",
        ],
    )
    .ok();
    let got = eventually("two alerts on stdin", || {
        let files: Vec<Value> = std::fs::read_dir(&out)
            .ok()?
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .filter_map(|text| serde_json::from_str(text.trim()).ok())
            .collect();
        (files.len() >= 2).then_some(files)
    });
    assert!(got
        .iter()
        .any(|a| a["condition"] == "test" && a["rule"] == "pager"));
    let timed_out = got
        .iter()
        .find(|a| a["condition"] == "timed_out")
        .expect("the timed-out run's alert");
    assert_eq!(timed_out["task_id"], "slow");

    // A target that fails: the test says so (exit 1), with the program's words.
    let bad = sb.script("bad.sh", "echo 'no pager today' >&2; exit 7");
    let to = format!("cmd:{}", bad.to_str().unwrap());
    lts(
        home,
        &d.addr,
        &["alert", "add", "broken", "--when", "lost", "--to", &to],
    )
    .ok();
    let failed = lts(home, &d.addr, &["alert", "test", "broken"]);
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(
        failed.stderr.contains("exited with code 7") && failed.stderr.contains("no pager today"),
        "{failed:?}"
    );
    assert_eq!(failed.stderr.trim().lines().count(), 1, "{failed:?}");
}

#[test]
fn alert_commands_refuse_bad_input_with_spec_exit_codes() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let missing = lts(home, &d.addr, &["alert", "rm", "nope"]);
    assert_eq!(missing.code, 3, "{missing:?}");
    assert!(
        missing.stderr.contains("no alert rule 'nope'"),
        "{missing:?}"
    );
    assert_eq!(lts(home, &d.addr, &["alert", "test", "nope"]).code, 3);
    for (args, needle) in [
        (
            vec!["--when", "cpu>90", "--to", "http://x"],
            "not a condition",
        ),
        (
            vec!["--when", "failures>=0/1m", "--to", "http://x"],
            "N must be",
        ),
        (vec!["--when", "failed", "--to", "ftp://x"], "--to"),
        (
            vec!["--when", "failed", "--for", "1m", "--to", "http://x"],
            "--for",
        ),
    ] {
        let out = lts(
            home,
            &d.addr,
            &[&["alert", "add", "r"][..], &args[..]].concat(),
        );
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(needle), "{args:?}: {out:?}");
    }
    let add = [
        "alert",
        "add",
        "r",
        "--when",
        "queue-age>5m",
        "--to",
        "http://x",
    ];
    lts(home, &d.addr, &add).ok();
    let again = lts(home, &d.addr, &add);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("--replace"), "{again:?}");
    lts(
        home,
        &d.addr,
        &[&add[..], &["--replace", "--silence", "1m"]].concat(),
    )
    .ok();
    let rules = lts(home, &d.addr, &["-o", "json", "alert", "list"]).json();
    assert_eq!(rules[0]["silence"], "1m", "{rules}");
    lts(home, &d.addr, &["alert", "rm", "r"]).ok();
    assert_eq!(
        lts(home, &d.addr, &["-o", "json", "alert", "list"]).json(),
        Value::Array(vec![])
    );
    for (args, needle) in [
        (vec!["--alert", "failed"], "--alert-to"),
        (
            vec!["--alert", "succeeded", "--alert-to", "http://x"],
            "succeeded",
        ),
        (
            vec!["--alert", "failed", "--alert-to", "mailto:x"],
            "--alert-to",
        ),
    ] {
        let out = lts(
            home,
            &d.addr,
            &[&["submit", "-g", "g"][..], &args[..], &["--", "true"]].concat(),
        );
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(needle), "{args:?}: {out:?}");
    }
    assert_eq!(
        lts(home, &d.addr, &["-o", "json", "alerts"]).json(),
        Value::Array(vec![])
    );
}

#[test]
fn an_edited_job_alerts_from_then_on_and_stops_with_no_alert() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let hook = HookServer::start();
    let to = format!("{}/edited", hook.url);
    let cron = [
        "-g",
        "default",
        "--task-id",
        "hourly",
        "--cron",
        "0 0 * * * ?",
    ];
    let submit = [&["submit"][..], &cron[..], &["--", "false"][..]].concat();
    lts(home, &d.addr, &submit).ok();
    // An outcome with no target, or a target with no outcome, is refused.
    let half = lts(home, &d.addr, &["edit", "hourly", "--alert", "failed"]);
    assert_eq!(half.code, 2, "{half:?}");
    assert!(half.stderr.contains("--alert-to"), "{half:?}");
    let edit = ["edit", "hourly", "--alert", "failed", "--alert-to", &to];
    lts(home, &d.addr, &edit).ok();
    let job = job_json(home, &d.addr, "hourly");
    assert_eq!(job["alert"], serde_json::json!(["failed"]), "{job}");
    assert_eq!(job["alert_to"], to.as_str(), "{job}");
    // A run that fails now reaches the target the edit gave.
    lts(home, &d.addr, &["trigger", "hourly"]).ok();
    let got = wait_received(&hook, "/edited", 1);
    assert!(got[0].body.contains("hourly"), "{}", got[0].body);
    lts(home, &d.addr, &["edit", "hourly", "--no-alert"]).ok();
    let job = job_json(home, &d.addr, "hourly");
    assert_eq!(job["alert"], serde_json::json!([]), "{job}");
    assert!(job["alert_to"].is_null(), "{job}");
}
