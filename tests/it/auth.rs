//! Securing a cluster: the cluster token's challenge-response between `lts`,
//! workers and the tracker, the refusal to listen beyond loopback without a
//! token, and TLS with a pair made by `ltsd cert`.

use crate::helpers::*;
use std::path::{Path, PathBuf};

const TOKEN: &str = "correct horse battery staple";

/// The lines of `stderr` that say something.
fn lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// Assert `out` failed with `code` and exactly one line on stderr containing every needle.
#[track_caller]
fn assert_one_line_error(out: &Out, code: i32, needles: &[&str]) {
    assert_eq!(out.code, code, "{out:?}");
    let lines = lines(&out.stderr);
    assert_eq!(lines.len(), 1, "one error line: {out:?}");
    for needle in needles {
        assert!(lines[0].contains(needle), "'{needle}' in {out:?}");
    }
}

/// `ltsd cert --out DIR`: the certificate's path.
fn make_cert(home: &Path, dir: &Path) -> PathBuf {
    let out = ltsd(home, &["cert", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("cert.pem"), "{out:?}");
    dir.join("cert.pem")
}

/// The run that executed `id`, by which worker.
fn run_worker(home: &Path, tracker: &str, id: &str, token: &str) -> String {
    let out = lts(home, tracker, &["--token", token, "-o", "json", "job", id]);
    let job = out.json();
    job["runs"][0]["worker"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn lts_works_with_the_trackers_token_and_is_refused_without_it() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &["--token", TOKEN]);

    let ok = lts(
        home,
        &d.addr,
        &[
            "--token", TOKEN, "submit", "--wait", "-g", "default", "--", "true",
        ],
    );
    assert_eq!(
        ok.code, 0,
        "the standalone's own worker proves the token too: {ok:?}"
    );

    let wrong = lts(
        home,
        &d.addr,
        &["--token", "a wrong guess at the token", "jobs"],
    );
    assert_one_line_error(&wrong, 1, &["wrong or missing cluster token", &d.addr]);
    d.wait_for_log("client presented a wrong cluster token", |_| Some(()));

    let none = lts(home, &d.addr, &["jobs"]);
    assert_one_line_error(
        &none,
        1,
        &["wrong or missing cluster token", "--token", "LTS_TOKEN"],
    );
    d.wait_for_log("client presented no cluster token", |_| Some(()));

    // The token may also come from the environment or the config file.
    let by_env = lts_env(home, &d.addr, &[("LTS_TOKEN", TOKEN)], &["jobs"]);
    assert_eq!(by_env.code, 0, "{by_env:?}");
    std::fs::create_dir_all(sb.path("config/lts")).unwrap();
    std::fs::write(
        sb.path("config/lts/config.toml"),
        format!("token = \"{TOKEN}\"\n"),
    )
    .unwrap();
    let by_file = lts(home, &d.addr, &["jobs"]);
    assert_eq!(by_file.code, 0, "{by_file:?}");
    assert!(!d.log().contains(TOKEN), "the token never shows in the log");
}

#[test]
fn a_client_with_a_token_refuses_a_tracker_that_cannot_prove_it() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let out = lts(home, &d.addr, &["--token", TOKEN, "jobs"]);
    assert_one_line_error(&out, 1, &["does not ask for the cluster token"]);
    // An empty token is bad usage, not "no token".
    let empty = lts(home, &d.addr, &["--token", " ", "jobs"]);
    assert_one_line_error(&empty, 2, &["--token", "empty"]);
}

#[test]
fn a_worker_with_a_wrong_token_is_refused_and_never_runs_a_job() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let tracker = Daemon::tracker_with(home, &data, "127.0.0.1:0", &["--token", TOKEN]);
    let wrong = Daemon::worker(
        home,
        &tracker.addr,
        "g",
        &[
            "--allow-commands",
            "--token",
            "not the cluster token at all",
        ],
    );
    let tokenless = Daemon::worker(home, &tracker.addr, "g", &["--allow-commands"]);
    tracker.wait_for_log("worker presented a wrong cluster token", |_| Some(()));
    tracker.wait_for_log("worker presented no cluster token", |_| Some(()));
    wrong.wait_for_log("wrong or missing cluster token", |_| Some(()));
    tokenless.wait_for_log("wrong or missing cluster token", |_| Some(()));

    let submitted = lts(
        home,
        &tracker.addr,
        &[
            "--token",
            TOKEN,
            "submit",
            "-g",
            "g",
            "--task-id",
            "guarded",
            "--",
            "true",
        ],
    );
    assert_eq!(submitted.code, 0, "{submitted:?}");
    let job = lts(
        home,
        &tracker.addr,
        &["--token", TOKEN, "-o", "json", "job", "guarded"],
    )
    .json();
    assert_eq!(job["state"], "queued", "no refused worker took it: {job}");

    let right = Daemon::worker(
        home,
        &tracker.addr,
        "g",
        &["--allow-commands", "--token", TOKEN],
    );
    eventually("the job to succeed on the worker with the token", || {
        let out = lts(
            home,
            &tracker.addr,
            &["--token", TOKEN, "-o", "json", "job", "guarded"],
        );
        (out.json()["state"] == "succeeded").then_some(())
    });
    let ran_on = run_worker(home, &tracker.addr, "guarded", TOKEN);
    assert!(
        ran_on.ends_with(&format!("-{}", right.pid())),
        "ran on the right worker ({}), not {ran_on}",
        right.pid()
    );
    for refused in [&wrong, &tokenless] {
        assert!(
            !ran_on.ends_with(&format!("-{}", refused.pid())),
            "a refused worker ran it"
        );
    }
}

#[test]
fn listening_beyond_loopback_needs_a_token() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let data = data.to_str().unwrap();

    let refused = ltsd(home, &["tracker", "--listen", "0.0.0.0:0", "--data", data]);
    assert_one_line_error(&refused, 2, &["0.0.0.0:0", "requires a cluster token"]);
    let refused = ltsd(
        home,
        &["standalone", "--listen", "0.0.0.0:0", "--data", data],
    );
    assert_one_line_error(&refused, 2, &["requires a cluster token"]);

    let d = Daemon::start(
        home,
        &[
            "standalone",
            "--listen",
            "0.0.0.0:0",
            "--data",
            data,
            "--token",
            TOKEN,
            "--allow-commands",
        ],
        true,
    );
    let port = d.addr.rsplit(':').next().unwrap();
    let local = format!("127.0.0.1:{port}");
    let out = lts(
        home,
        &local,
        &[
            "--token", TOKEN, "submit", "--wait", "-g", "default", "--", "true",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}\n{}", d.log());
    drop(d);

    // The token may come from the config file as well.
    std::fs::create_dir_all(sb.path("config/lts")).unwrap();
    std::fs::write(
        sb.path("config/lts/config.toml"),
        format!("token = \"{TOKEN}\"\n"),
    )
    .unwrap();
    let d = Daemon::start(
        home,
        &["tracker", "--listen", "0.0.0.0:0", "--data", data],
        true,
    );
    assert!(d.log().contains("token=true"), "{}", d.log());
}

#[test]
fn ltsd_cert_makes_a_pair_for_a_tls_tracker_and_its_workers() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let cert = make_cert(home, &sb.path("tls"));
    let key = sb.path("tls/key.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is its owner's only");
    }
    let again = ltsd(home, &["cert", "--out", sb.path("tls").to_str().unwrap()]);
    assert_one_line_error(&again, 2, &["already exists"]);

    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let data = sb.path("data");
    let tracker = Daemon::tracker_with(
        home,
        &data,
        "127.0.0.1:0",
        &["--token", TOKEN, "--tls-cert", cert, "--tls-key", key],
    );
    assert!(tracker.log().contains("tls=true"), "{}", tracker.log());
    let _worker = Daemon::worker(
        home,
        &tracker.addr,
        "g",
        &["--allow-commands", "--token", TOKEN, "--tls-ca", cert],
    );
    let out = lts(
        home,
        &tracker.addr,
        &[
            "--token",
            TOKEN,
            "--tls-ca",
            cert,
            "submit",
            "--wait",
            "-g",
            "g",
            "--task-id",
            "over-tls",
            "--",
            "echo",
            "sealed",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}\n{}", tracker.log());
    let logs = lts_env(
        home,
        &tracker.addr,
        &[("LTS_TOKEN", TOKEN), ("LTS_TLS_CA", cert)],
        &["logs", "over-tls"],
    );
    assert_eq!(logs.ok(), "sealed\n");

    // A worker given the cluster's pair, as SPEC gives every role, trusts
    // its certificate.
    let _paired = Daemon::worker(
        home,
        &tracker.addr,
        "h",
        &[
            "--allow-commands",
            "--token",
            TOKEN,
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ],
    );
    let out = lts_env(
        home,
        &tracker.addr,
        &[("LTS_TOKEN", TOKEN), ("LTS_TLS_CA", cert)],
        &["submit", "--wait", "-g", "h", "--", "true"],
    );
    assert_eq!(out.code, 0, "{out:?}\n{}", tracker.log());

    // Without the CA, lts speaks plain TCP and the tracker says it needs TLS.
    let plain = lts(home, &tracker.addr, &["--token", TOKEN, "jobs"]);
    assert_one_line_error(&plain, 1, &["serves TLS only", "--tls-ca"]);

    // A CA that did not sign the tracker's certificate is not trusted.
    let other = make_cert(home, &sb.path("other"));
    let untrusted = lts(
        home,
        &tracker.addr,
        &[
            "--token",
            TOKEN,
            "--tls-ca",
            other.to_str().unwrap(),
            "jobs",
        ],
    );
    assert_one_line_error(&untrusted, 1, &["TLS handshake failed", "--tls-ca"]);
}

#[test]
fn a_tls_standalone_runs_jobs_and_a_plain_one_refuses_tls() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let cert = make_cert(home, &sb.path("tls"));
    let key = sb.path("tls/key.pem");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());

    let secure = Daemon::standalone(
        home,
        &sb.path("secure"),
        &["--tls-cert", cert, "--tls-key", key],
    );
    let out = lts(
        home,
        &secure.addr,
        &[
            "--tls-ca", cert, "submit", "--wait", "-g", "default", "--", "true",
        ],
    );
    assert_eq!(
        out.code, 0,
        "its own worker trusts its certificate: {out:?}"
    );

    let plain = Daemon::standalone(home, &sb.path("plain"), &[]);
    let out = lts(home, &plain.addr, &["--tls-ca", cert, "jobs"]);
    assert_one_line_error(&out, 1, &["does not seem to serve TLS"]);
    plain.wait_for_log("the peer speaks TLS", |_| Some(()));
}

#[test]
fn unusable_tls_files_are_bad_usage() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let data = data.to_str().unwrap();
    let missing = ltsd(
        home,
        &[
            "tracker",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data,
            "--tls-cert",
            "/does/not/exist.pem",
            "--tls-key",
            "/does/not/exist.pem",
        ],
    );
    assert_one_line_error(&missing, 2, &["--tls-cert", "/does/not/exist.pem"]);
    let no_key = ltsd(home, &["tracker", "--data", data, "--tls-cert", "/x.pem"]);
    assert_eq!(no_key.code, 2, "{no_key:?}");
    assert!(no_key.stderr.contains("--tls-key"), "{no_key:?}");
    let not_pem = sb.script("not-a-cert", "echo hi");
    let out = lts(
        home,
        "127.0.0.1:1",
        &["--tls-ca", not_pem.to_str().unwrap(), "jobs"],
    );
    assert_one_line_error(&out, 2, &["--tls-ca", "no certificate"]);
}

#[test]
fn a_short_token_is_refused_with_a_way_to_make_one() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let out = ltsd(
        home,
        &[
            "standalone",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
            "--token",
            "a",
        ],
    );
    assert_one_line_error(&out, 2, &["--token", "at least 16", "ltsd token"]);
    let out = lts(home, "127.0.0.1:9", &["--token", "fifteen bytes!!", "jobs"]);
    assert_one_line_error(&out, 2, &["at least 16", "ltsd token"]);

    let made = ltsd(home, &["token"]);
    assert_eq!(made.code, 0, "{made:?}");
    let token = made.stdout.trim();
    assert!(
        token.len() >= 32 && token.chars().all(|c| c.is_ascii_hexdigit()),
        "{made:?}"
    );
    assert_ne!(
        ltsd(home, &["token"]).stdout.trim(),
        token,
        "fresh each time"
    );
    let d = Daemon::standalone(home, &data, &["--token", token]);
    assert_eq!(lts(home, &d.addr, &["--token", token, "jobs"]).code, 0);
}

#[test]
fn guessing_the_token_slows_down_and_is_logged_as_a_count() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::tracker_with(home, &sb.path("data"), "127.0.0.1:0", &["--token", TOKEN]);
    // Guess until the tracker stops checking guesses from this address.
    let mut guesses = 0;
    let barred = loop {
        guesses += 1;
        assert!(
            guesses < 40,
            "never barred after {guesses} guesses:\n{}",
            d.log()
        );
        let out = lts(
            home,
            &d.addr,
            &[
                "--token",
                &format!("guess number {guesses:04} at it"),
                "jobs",
            ],
        );
        assert_eq!(out.code, 1, "{out:?}");
        if out.stderr.contains("too many wrong cluster tokens") {
            break out;
        }
    };
    assert!(guesses > 5, "a few typos are free: barred after {guesses}");
    assert_one_line_error(
        &barred,
        1,
        &["too many wrong cluster tokens", "try again in"],
    );
    // While barred, even the right token waits; afterwards it works.
    eventually("the right token to be taken again", || {
        (lts(home, &d.addr, &["--token", TOKEN, "jobs"]).code == 0).then_some(())
    });
    // One line at once, and the rest counted, not a line per guess.
    let log = d.log();
    let wrong = log
        .lines()
        .filter(|l| l.contains("presented a wrong cluster token"))
        .count();
    assert!(wrong <= 2, "{wrong} lines for {guesses} guesses:\n{log}");
    d.wait_for_log("more in the last", |_| Some(()));
    assert!(!d.log().contains(TOKEN));
}

#[test]
fn the_read_token_reads_and_changes_nothing() {
    const READ: &str = "a token for dashboards only";
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let d = Daemon::standalone(home, &data, &["--token", TOKEN, "--read-token", READ]);
    let submitted = lts(
        home,
        &d.addr,
        &[
            "--token",
            TOKEN,
            "submit",
            "--wait",
            "-g",
            "default",
            "--task-id",
            "seen",
            "--",
            "echo",
            "hi",
        ],
    );
    assert_eq!(submitted.code, 0, "{submitted:?}");

    // It reads jobs, one job, its logs, nodes and stats.
    for args in [
        &["jobs"][..],
        &["job", "seen"],
        &["logs", "seen"],
        &["nodes"],
        &["stats"],
    ] {
        let out = lts(home, &d.addr, &[&["--token", READ][..], args].concat());
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
    }
    // It changes nothing: each refusal is one line, exit 1.
    for args in [
        &["submit", "-g", "default", "--", "true"][..],
        &["cancel", "seen"],
        &["trigger", "seen"],
        &["retry", "seen"],
        &["suspend", "seen"],
    ] {
        let out = lts(home, &d.addr, &[&["--token", READ][..], args].concat());
        assert_one_line_error(&out, 1, &["read-only token"]);
    }
    let job = lts(
        home,
        &d.addr,
        &["--token", TOKEN, "-o", "json", "job", "seen"],
    )
    .json();
    assert_eq!(job["state"], "succeeded", "{job}");

    // It needs a cluster token, and must not be it.
    let alone = ltsd(
        home,
        &[
            "tracker",
            "--listen",
            "127.0.0.1:0",
            "--data",
            sb.path("d2").to_str().unwrap(),
            "--read-token",
            READ,
        ],
    );
    assert_one_line_error(&alone, 2, &["--read-token", "cluster token"]);
    let same = ltsd(
        home,
        &[
            "tracker",
            "--listen",
            "127.0.0.1:0",
            "--data",
            sb.path("d3").to_str().unwrap(),
            "--token",
            TOKEN,
            "--read-token",
            TOKEN,
        ],
    );
    assert_one_line_error(&same, 2, &["--read-token", "differ"]);
}
