//! The HTTP API over real HTTP against a started `ltsd`: every route its
//! OpenAPI document lists answers with the documented status and shape, each
//! error code, auth on and off (bearer, session cookie, other origins), the
//! live log tail, HTTPS, and the refusal to serve a non-loopback console
//! without a token.

use super::helpers::*;
use reqwest::blocking::{Client, Response};
use reqwest::header;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

const TOKEN: &str = "api-test-token-0123456789";

fn client() -> Client {
    Client::builder()
        .timeout(PATIENCE)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// A standalone cluster with its console, and the console's URL.
fn cluster(sb: &Sandbox, extra: &[&str]) -> (Daemon, String) {
    let d = Daemon::standalone(sb.dir.path(), &sb.path("data"), extra);
    let url = d.console_url();
    (d, url)
}

fn json_of(response: Response) -> Value {
    let text = response.text().expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Assert an error answer: the status and SPEC's `{"error", "code"}`.
#[track_caller]
fn assert_error(response: Response, status: u16, code: &str) -> String {
    assert_eq!(response.status().as_u16(), status, "status");
    let body = json_of(response);
    assert_eq!(body["code"], code, "{body}");
    let message = body["error"]
        .as_str()
        .expect("an error message")
        .to_string();
    assert!(!message.is_empty() && !message.contains('\n'), "{body}");
    message
}

/// A validator for `schema` (a response schema of the document), resolving
/// its `$ref`s against the whole document.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = doc.clone();
    let object = root.as_object_mut().expect("the document is an object");
    object.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    for (key, value) in schema.as_object().expect("a schema object") {
        object.insert(key.clone(), value.clone());
    }
    jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("bad schema {schema}: {e}"))
}

#[test]
fn every_documented_route_answers_with_its_documented_shape() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let (d, url) = cluster(&sb, &[]);
    let http = client();
    // Something to look at: a cron job with a run and a log, and a failed job.
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "tick",
            "--cron",
            "0/1 * * * * ?",
            "--",
            "sh",
            "-c",
            "echo tick",
        ],
    )
    .ok();
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "bad",
            "--wait",
            // An alert with a delivery that fails (nothing listens on port 1).
            "--alert",
            "failed",
            "--alert-to",
            "http://127.0.0.1:1/hook",
            "--",
            "sh",
            "-c",
            "echo oops; exit 3",
        ],
    );
    eventually("the cron job to have run", || {
        (job_json(home, &d.addr, "tick")["run_count"].as_u64() >= Some(1)).then_some(())
    });
    eventually("the alert's first delivery attempt", || {
        let alerts = lts(home, &d.addr, &["-o", "json", "alerts"]).json();
        (alerts[0]["deliveries"][0]["ok"] == false).then_some(())
    });

    let doc = json_of(
        http.get(format!("{url}api/v1/openapi.json"))
            .send()
            .unwrap(),
    );
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, item) in paths {
        for method in ["get", "post", "patch"] {
            let Some(op) = item.get(method) else { continue };
            // Actions change the job: suspend before resume, cancel last.
            let target = path.replace("{group}", "default").replace(
                "{task_id}",
                if path.ends_with("/retry") {
                    "bad"
                } else {
                    "tick"
                },
            );
            let address = format!("{url}{}", target.trim_start_matches('/'));
            let mut request = match method {
                "get" => http.get(address),
                "patch" => http
                    .patch(address)
                    .json(&json!({"priority": 7, "params": {"k": "v"}})),
                _ => http.post(address),
            };
            if path == "/api/v1/cron" {
                request = request.query(&[("expr", "0 0 3 * * ?"), ("count", "3")]);
            }
            if path == "/api/v1/jobs" && method == "post" {
                request = request
                    .json(&json!({"group": "default", "task_id": "posted", "command": ["true"]}));
            }
            if path.ends_with("/cancel") {
                continue; // checked last, below
            }
            let response = request
                .send()
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            check(&doc, op, method, path, response);
            checked += 1;
        }
    }
    let cancel = &paths["/api/v1/jobs/{group}/{task_id}/cancel"]["post"];
    let response = http
        .post(format!("{url}api/v1/jobs/default/tick/cancel"))
        .send()
        .unwrap();
    check(&doc, cancel, "post", "cancel", response);
    assert!(checked >= 16, "only {checked} routes checked");
    // The actions did what they say.
    let tick = job_json(home, &d.addr, "tick");
    assert_eq!(tick["state"], "cancelled");
    assert_eq!(
        (&tick["priority"], &tick["params"]["k"]),
        (&json!(7), &json!("v")),
        "{tick}"
    );
    assert_eq!(job_json(home, &d.addr, "posted")["group"], "default");
}

/// Assert that `response` has a status `op` documents and a body of its schema.
#[track_caller]
fn check(doc: &Value, op: &Value, method: &str, path: &str, response: Response) {
    let status = response.status().as_u16().to_string();
    let documented = &op["responses"][&status];
    assert!(
        documented.is_object(),
        "{method} {path} answered {status}, which its document does not list"
    );
    let Some(content) = documented["content"].as_object() else {
        return;
    };
    let ctype = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.text().unwrap();
    if let Some(schema) = content.get("application/json").map(|c| &c["schema"]) {
        if ctype.starts_with("application/json") {
            let value: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body}"));
            let v = validator(doc, schema);
            let errors: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
            assert!(
                errors.is_empty(),
                "{method} {path} ({status}) does not match its schema: {errors:?}\n{value}"
            );
            return;
        }
    }
    let types: Vec<&String> = content.keys().collect();
    assert!(
        content.keys().any(|t| ctype.starts_with(t.as_str())),
        "{method} {path}: content type {ctype} is not one of {types:?}"
    );
}

#[test]
fn errors_are_one_object_with_the_status_their_code_names() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let (d, url) = cluster(&sb, &[]);
    let http = client();
    lts(
        home,
        &d.addr,
        &["submit", "-g", "default", "--task-id", "one", "--", "true"],
    )
    .ok();

    let m = assert_error(
        http.get(format!("{url}api/v1/jobs?state=sleepy"))
            .send()
            .unwrap(),
        400,
        "bad_request",
    );
    assert!(m.contains("state") && m.contains("sleepy"), "{m}");
    assert_error(
        http.get(format!("{url}api/v1/jobs?limit=0"))
            .send()
            .unwrap(),
        400,
        "bad_request",
    );
    let m = assert_error(
        http.get(format!("{url}api/v1/cron?expr=61+*+*+*+*+%3F"))
            .send()
            .unwrap(),
        400,
        "bad_request",
    );
    assert!(m.contains("61"), "{m}");
    // User text in an error is cut, and stays on one line.
    let long = format!("{}\nx", "a".repeat(5000));
    let m = assert_error(
        http.get(format!("{url}api/v1/cron"))
            .query(&[("expr", long.as_str())])
            .send()
            .unwrap(),
        400,
        "bad_request",
    );
    assert!(m.len() < 400, "{m}");
    let m = assert_error(
        http.post(format!("{url}api/v1/jobs"))
            .body("{not json")
            .send()
            .unwrap(),
        400,
        "bad_request",
    );
    assert!(m.contains("JSON"), "{m}");
    assert_error(
        http.post(format!("{url}api/v1/jobs"))
            .json(&json!({"group": "default", "cron": "nope"}))
            .send()
            .unwrap(),
        400,
        "bad_request",
    );
    let m = assert_error(
        http.get(format!("{url}api/v1/jobs/default/ghost"))
            .send()
            .unwrap(),
        404,
        "not_found",
    );
    assert!(m.contains("ghost"), "{m}");
    assert_error(
        http.post(format!("{url}api/v1/jobs/default/ghost/suspend"))
            .send()
            .unwrap(),
        404,
        "not_found",
    );
    assert_error(
        http.post(format!("{url}api/v1/jobs/default/one/explode"))
            .send()
            .unwrap(),
        404,
        "not_found",
    );
    assert_error(
        http.get(format!("{url}api/v1/nothing-here"))
            .send()
            .unwrap(),
        404,
        "not_found",
    );
    let m = assert_error(
        http.post(format!("{url}api/v1/jobs"))
            .json(&json!({"group": "default", "task_id": "one", "command": ["true"]}))
            .send()
            .unwrap(),
        409,
        "conflict",
    );
    assert!(m.contains("one") && m.contains("exists"), "{m}");
    // A job still stored, and still one.
    let list = json_of(http.get(format!("{url}api/v1/jobs?q=one")).send().unwrap());
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    // Health needs no store; readiness asks it.
    assert_eq!(
        http.get(format!("{url}healthz")).send().unwrap().status(),
        200
    );
    assert_eq!(
        http.get(format!("{url}readyz")).send().unwrap().status(),
        200
    );
}

#[test]
fn jobs_page_with_a_total_and_a_cursor() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let (d, url) = cluster(&sb, &[]);
    let lines: String = (0..25)
        .map(|i| {
            format!(
                "{{\"group\": \"g{}\", \"task_id\": \"job-{i:02}\", \"delay\": \"1h\"}}\n",
                i % 2
            )
        })
        .collect();
    let file = sb.path("jobs.jsonl");
    std::fs::write(&file, lines).unwrap();
    lts(home, &d.addr, &["submit", "--file", file.to_str().unwrap()]).ok();
    let http = client();
    let mut seen = Vec::new();
    let mut next = format!("{url}api/v1/jobs?limit=10");
    for _ in 0..5 {
        let response = http.get(&next).send().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-total-count"], "25");
        let link = response
            .headers()
            .get(header::LINK)
            .map(|v| v.to_str().unwrap().to_string());
        let page = json_of(response);
        seen.extend(
            page.as_array()
                .unwrap()
                .iter()
                .map(|j| j["task_id"].as_str().unwrap().to_string()),
        );
        match link {
            Some(link) => {
                let target = link
                    .split('<')
                    .nth(1)
                    .and_then(|l| l.split('>').next())
                    .unwrap();
                next = format!("{url}{}", target.trim_start_matches('/'));
            }
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("job-{i:02}")).collect();
    assert_eq!(seen, expected, "every job once, newest first");
    // Filters: a group, text in the task id, a state.
    let g1 = http
        .get(format!("{url}api/v1/jobs?group=g1&limit=100"))
        .send()
        .unwrap();
    assert_eq!(g1.headers()["x-total-count"], "12");
    let text = json_of(http.get(format!("{url}api/v1/jobs?q=-1")).send().unwrap());
    assert_eq!(text.as_array().unwrap().len(), 10, "job-10..job-19: {text}");
    let queued = http
        .get(format!("{url}api/v1/jobs?state=queued"))
        .send()
        .unwrap();
    assert_eq!(queued.headers()["x-total-count"], "0");
    // A job's runs page too.
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "rep",
            "--repeat-count",
            "4",
            "--repeat-interval",
            "1s",
            "--",
            "true",
        ],
    )
    .ok();
    eventually("four runs", || {
        let job = json_of(
            http.get(format!("{url}api/v1/jobs/default/rep"))
                .send()
                .unwrap(),
        );
        (job["state"] == "succeeded").then_some(())
    });
    let page = json_of(
        http.get(format!("{url}api/v1/jobs/default/rep?runs=2&before=3"))
            .send()
            .unwrap(),
    );
    let runs: Vec<u64> = page["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"].as_u64().unwrap())
        .collect();
    assert_eq!(runs.len(), 2, "{page}");
    assert!(runs.iter().all(|r| *r < 3), "{page}");
    assert_eq!(page["run_count"], 4);
}

#[test]
fn the_live_tail_streams_a_line_printed_after_it_connected() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let (d, url) = cluster(&sb, &[]);
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "slow",
            "--",
            "sh",
            "-c",
            "echo early; sleep 2; echo late-line; sleep 1; echo last",
        ],
    )
    .ok();
    wait_state(home, &d.addr, "slow", "running");
    let connected = chrono::Utc::now();
    let response = client()
        .get(format!("{url}api/v1/jobs/default/slow/logs"))
        .header(header::ACCEPT, "text/event-stream")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut events: Vec<(String, Value)> = Vec::new();
    let mut event = String::new();
    let deadline = Instant::now() + PATIENCE;
    for line in BufReader::new(response).lines() {
        assert!(
            Instant::now() < deadline,
            "the tail did not end: {events:?}"
        );
        let line = line.expect("stream");
        if let Some(name) = line.strip_prefix("event: ") {
            event = name.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            events.push((event.clone(), serde_json::from_str(data).unwrap()));
            if event == "end" {
                break;
            }
        }
    }
    let lines: Vec<&str> = events
        .iter()
        .filter(|(e, _)| e == "line")
        .map(|(_, v)| v["line"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["early", "late-line", "last"], "{events:?}");
    let late = events
        .iter()
        .find(|(_, v)| v["line"] == "late-line")
        .unwrap();
    let at: chrono::DateTime<chrono::Utc> = late.1["at"].as_str().unwrap().parse().unwrap();
    assert!(
        at > connected,
        "late-line was printed after the tail connected"
    );
    assert_eq!(events.last().map(|(e, _)| e.as_str()), Some("end"));
    // Without the header: the same lines as JSON.
    let lines = json_of(
        client()
            .get(format!("{url}api/v1/jobs/default/slow/logs?tail=1"))
            .send()
            .unwrap(),
    );
    assert_eq!(lines[0]["line"], "last", "{lines}");
}

#[test]
fn with_a_token_every_call_needs_it() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let (d, url) = cluster(&sb, &["--token", TOKEN]);
    let http = client();
    let jobs = format!("{url}api/v1/jobs");
    assert_error(http.get(&jobs).send().unwrap(), 401, "unauthorized");
    assert_error(
        http.get(&jobs)
            .bearer_auth("wrong-token-0123456789")
            .send()
            .unwrap(),
        401,
        "unauthorized",
    );
    assert_error(
        http.get(format!("{url}api/v1/openapi.json"))
            .send()
            .unwrap(),
        401,
        "unauthorized",
    );
    assert_eq!(
        http.get(&jobs).bearer_auth(TOKEN).send().unwrap().status(),
        200
    );
    // Pages send a browser to the login page, keeping where it was going.
    let page = http.get(format!("{url}?from=here")).send().unwrap();
    assert_eq!(page.status().as_u16(), 303, "a redirect");
    let to = page.headers()[header::LOCATION].to_str().unwrap();
    assert_eq!(to, "/login?next=/%3Ffrom%3Dhere");
    // A wrong token gets no cookie; the right one a strict, HttpOnly one.
    let wrong = http
        .post(format!("{url}login"))
        .form(&[("token", "nope"), ("next", "/jobs")])
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get(header::SET_COOKIE).is_none());
    let login = http
        .post(format!("{url}login"))
        .form(&[("token", TOKEN), ("next", "/jobs")])
        .send()
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    assert_eq!(login.headers()[header::LOCATION], "/jobs");
    let cookie = login.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Max-Age=", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_string();
    assert_eq!(
        http.get(&jobs)
            .header(header::COOKIE, &session)
            .send()
            .unwrap()
            .status(),
        200
    );
    // A cookie signed otherwise is refused.
    let forged = format!("{}0", &session[..session.len() - 1]);
    let forged = if forged == session {
        format!("{}1", &session[..session.len() - 1])
    } else {
        forged
    };
    assert_error(
        http.get(&jobs)
            .header(header::COOKIE, forged)
            .send()
            .unwrap(),
        401,
        "unauthorized",
    );
    // An open redirect after login is not possible.
    let away = http
        .post(format!("{url}login"))
        .form(&[("token", TOKEN), ("next", "//evil.example/")])
        .send()
        .unwrap();
    assert_eq!(away.headers()[header::LOCATION], "/");
    // Changes from a page of another origin are refused, even with the cookie.
    lts_env(
        home,
        &d.addr,
        &[("LTS_TOKEN", TOKEN)],
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "later",
            "--delay",
            "1h",
            "--",
            "true",
        ],
    )
    .ok();
    let cross = http
        .post(format!("{url}api/v1/jobs/default/later/cancel"))
        .header(header::COOKIE, &session)
        .header(header::ORIGIN, "http://evil.example")
        .send()
        .unwrap();
    assert_error(cross, 401, "unauthorized");
    let same = http
        .post(format!("{url}api/v1/jobs/default/later/suspend"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(same.status(), 200);
    assert_eq!(json_of(same)["state"], "suspended");
    // Health checks answer without the token.
    assert_eq!(
        http.get(format!("{url}healthz")).send().unwrap().status(),
        200
    );
    // Log out: the cookie is cleared.
    let out = http
        .post(format!("{url}logout"))
        .header(header::COOKIE, &session)
        .send()
        .unwrap();
    assert!(out.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}

#[test]
fn a_non_loopback_console_needs_a_token_and_tls_makes_it_https() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let data = data.to_str().unwrap();
    let refused = ltsd(
        home,
        &[
            "standalone",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "0.0.0.0:0",
            "--data",
            data,
        ],
    );
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("--http") && refused.stderr.contains("token"),
        "{refused:?}"
    );
    let bad = ltsd(
        home,
        &[
            "standalone",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "localhost",
            "--data",
            data,
        ],
    );
    assert_eq!(bad.code, 2, "{bad:?}");
    // HTTPS with the tracker's certificate.
    let certs = sb.path("certs");
    ltsd(home, &["cert", "--out", certs.to_str().unwrap()]).ok();
    let cert = certs.join("cert.pem");
    let key = certs.join("key.pem");
    let (_d, url) = cluster(
        &sb,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(url.starts_with("https://"), "{url}");
    let pem = std::fs::read(&cert).unwrap();
    let https = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(PATIENCE)
        .build()
        .unwrap();
    let url = url.replace("127.0.0.1", "localhost");
    assert_eq!(
        https
            .get(format!("{url}api/v1/jobs"))
            .send()
            .unwrap()
            .status(),
        200
    );
    // Plain HTTP on the same port gets no answer.
    let plain = url.replace("https://", "http://");
    let answer = Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{plain}api/v1/jobs"))
        .send();
    assert!(answer.is_err() || !answer.unwrap().status().is_success());
}

#[test]
fn every_tracker_on_a_shared_store_serves_the_whole_console() {
    let Some(db) = crate::pg::TestDb::create() else {
        return; // said once by the pg module: no PostgreSQL configured
    };
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let start = |name: &str| {
        let data = sb.path(name);
        Daemon::start(
            home,
            &[
                "tracker",
                "--listen",
                "127.0.0.1:0",
                "--data",
                data.to_str().unwrap(),
                "--store",
                &db.url,
                "--token",
                TOKEN,
            ],
            true,
        )
    };
    let a = start("a");
    let b = start("b");
    let (url_a, url_b) = (a.console_url(), b.console_url());
    let http = client();
    let posted = http
        .post(format!("{url_a}api/v1/jobs"))
        .bearer_auth(TOKEN)
        .json(&json!({"group": "etl", "task_id": "shared", "delay": "1h"}))
        .send()
        .unwrap();
    assert_eq!(posted.status(), 201);
    let seen = json_of(
        http.get(format!("{url_b}api/v1/jobs/etl/shared"))
            .bearer_auth(TOKEN)
            .send()
            .unwrap(),
    );
    assert_eq!(seen["state"], "scheduled", "{seen}");
    // A session one tracker signed is good on the other.
    let login = http
        .post(format!("{url_a}login"))
        .form(&[("token", TOKEN)])
        .send()
        .unwrap();
    let cookie = login.headers()[header::SET_COOKIE].to_str().unwrap();
    let session = cookie.split(';').next().unwrap();
    let via_b = http
        .get(format!("{url_b}api/v1/jobs"))
        .header(header::COOKIE, session)
        .send()
        .unwrap();
    assert_eq!(via_b.status(), 200);
    assert_eq!(via_b.headers()["x-total-count"], "1");
    // An action on one is seen by the other.
    let suspended = http
        .post(format!("{url_b}api/v1/jobs/etl/shared/suspend"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(suspended.status(), 200);
    let on_a = json_of(
        http.get(format!("{url_a}api/v1/jobs/etl/shared"))
            .bearer_auth(TOKEN)
            .send()
            .unwrap(),
    );
    assert_eq!(on_a["state"], "suspended");
}

#[test]
fn the_read_token_reads_the_console_and_changes_nothing() {
    const READ: &str = "api-read-only-token-98765";
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let (d, url) = cluster(&sb, &["--token", TOKEN, "--read-token", READ]);
    lts_env(
        home,
        &d.addr,
        &[("LTS_TOKEN", TOKEN)],
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "kept",
            "--delay",
            "1h",
            "--",
            "true",
        ],
    )
    .ok();
    let http = client();
    let job = format!("{url}api/v1/jobs/default/kept");
    assert_eq!(
        http.get(&job).bearer_auth(READ).send().unwrap().status(),
        200
    );
    let m = assert_error(
        http.post(format!("{job}/cancel"))
            .bearer_auth(READ)
            .send()
            .unwrap(),
        401,
        "unauthorized",
    );
    assert!(m.contains("read-only"), "{m}");
    // A session from the read token is read-only too.
    let login = http
        .post(format!("{url}login"))
        .form(&[("token", READ)])
        .send()
        .unwrap();
    let session = login.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        http.get(&job)
            .header(header::COOKIE, &session)
            .send()
            .unwrap()
            .status(),
        200
    );
    assert_error(
        http.post(format!("{job}/suspend"))
            .header(header::COOKIE, &session)
            .send()
            .unwrap(),
        401,
        "unauthorized",
    );
    assert_eq!(
        json_of(http.get(&job).bearer_auth(TOKEN).send().unwrap())["state"],
        "scheduled"
    );
    // The full token still changes things.
    assert_eq!(
        http.post(format!("{job}/cancel"))
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
            .status(),
        200
    );
}

#[test]
fn guessing_the_token_over_http_is_slowed_down() {
    let sb = Sandbox::new();
    let (_d, url) = cluster(&sb, &["--token", TOKEN]);
    let http = client();
    let jobs = format!("{url}api/v1/jobs");
    // A few wrong tokens are free (typos); then the address waits, and while
    // it waits even the right token is not checked.
    let mut barred = None;
    for i in 0..10 {
        let m = assert_error(
            http.get(&jobs)
                .bearer_auth(format!("wrong-token-guess-{i:04}"))
                .send()
                .unwrap(),
            401,
            "unauthorized",
        );
        if m.contains("try again") {
            barred = Some(i);
            break;
        }
    }
    let barred = barred.expect("wrong tokens are slowed down");
    assert!(
        barred >= 5,
        "the first wrong tokens are free, barred after {barred}"
    );
    let m = assert_error(
        http.get(&jobs).bearer_auth(TOKEN).send().unwrap(),
        401,
        "unauthorized",
    );
    assert!(m.contains("try again"), "{m}");
    let login = http
        .post(format!("{url}login"))
        .form(&[("token", TOKEN)])
        .send()
        .unwrap();
    assert_eq!(login.status(), 401);
    assert!(login.text().unwrap().contains("try again"));
    // Once the wait is over the right token works again.
    eventually("the address to be let in again", || {
        (http.get(&jobs).bearer_auth(TOKEN).send().unwrap().status() == 200).then_some(())
    });
}
