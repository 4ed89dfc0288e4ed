//! Completion scripts and man pages, generated from the clap definitions of
//! `lts` and `ltsd`. `cargo run --example gen-docs` writes them into
//! `completions/` and `man/`; a test regenerates them in memory and fails when
//! the committed files differ.

use clap::CommandFactory;
use clap_complete::Shell;
use std::collections::BTreeMap;
use std::path::Path;

/// Every generated file, by path relative to the repository root.
pub fn generate_all() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (name, mut cmd) in [
        ("lts", crate::cli::Cli::command()),
        ("ltsd", crate::daemon::args::Ltsd::command()),
    ] {
        for (shell, file) in [
            (Shell::Bash, format!("{name}.bash")),
            (Shell::Zsh, format!("_{name}")),
            (Shell::Fish, format!("{name}.fish")),
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, name, &mut out);
            files.insert(format!("completions/{file}"), out);
        }
        cmd.build();
        let mut pages = vec![(name.to_string(), cmd.clone())];
        for sub in cmd.get_subcommands() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            pages.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        for (page, sub) in pages {
            let mut out = Vec::new();
            let sub = sub.name(page.clone()).version(crate::VERSION);
            let envs = environment(&sub);
            if clap_mangen::Man::new(sub).render(&mut out).is_ok() {
                out.extend(extra_sections(name, &page, &envs).into_bytes());
                files.insert(format!("man/{page}.1"), out);
            }
        }
    }
    files
}

/// Text for roff: backslashes and leading dots or quotes escaped.
fn roff(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    match text.chars().next() {
        Some('.') | Some('\'') => format!("\\&{text}"),
        _ => text,
    }
}

/// The environment variables a page's options read, with what they set.
fn environment(cmd: &clap::Command) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = cmd
        .get_arguments()
        .filter_map(|a| {
            let env = a.get_env()?.to_string_lossy().into_owned();
            Some((env, format!("--{}", a.get_long().unwrap_or_default())))
        })
        .map(|(env, flag)| (env, format!("the same as {flag}")))
        .collect();
    vars.sort();
    vars.dedup_by(|a, b| a.0 == b.0);
    vars
}

/// ENVIRONMENT, EXIT STATUS and EXAMPLES, appended to every page.
fn extra_sections(program: &str, page: &str, envs: &[(String, String)]) -> String {
    let mut out = String::from(".SH ENVIRONMENT\n");
    let mut vars: Vec<(String, String)> = envs.to_vec();
    if program == "lts" {
        vars.push((
            "NO_COLOR".into(),
            "when set (and not empty), tables are printed without colour".into(),
        ));
        if page == "lts" || page == "lts-feedback" {
            vars.push((
                "LTS_CLIENT_GROUP".into(),
                "the client group of lts feedback, when --client-group is not given".into(),
            ));
        }
    } else {
        vars.push((
            "RUST_LOG".into(),
            "which log lines go to stderr (default info), as tracing's EnvFilter reads it".into(),
        ));
    }
    vars.push((
        "XDG_CONFIG_HOME".into(),
        "where lts/config.toml is looked for (tracker, registry, token, balance, tls_ca, client_group)"
            .into(),
    ));
    vars.sort();
    vars.dedup_by(|a, b| a.0 == b.0);
    for (var, what) in vars {
        out.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(&var), roff(&what)));
    }
    out.push_str(".SH \"EXIT STATUS\"\n");
    let codes: &[(&str, &str)] = if program == "lts" {
        &[
            ("0", "ok"),
            ("1", "the job or operation failed"),
            (
                "2",
                "bad usage or bad input (a bad cron, an unknown flag, a malformed file or address)",
            ),
            ("3", "not found (a job, a run)"),
            ("4", "no tracker or registry reachable"),
        ]
    } else {
        &[
            ("0", "stopped cleanly (SIGTERM or SIGINT), or the command did its work"),
            ("1", "the role could not start or failed (a data dir in use, a store that cannot be opened)"),
            ("2", "bad usage or bad input (an unknown flag, a non-loopback address without a token, bad TLS files)"),
        ]
    };
    for (code, what) in codes {
        out.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", roff(what)));
    }
    out.push_str(".SH EXAMPLES\n");
    for (command, what) in examples(page) {
        out.push_str(&format!(
            ".PP\n{}\n.RS\n.nf\n{}\n.fi\n.RE\n",
            roff(what),
            roff(command)
        ));
    }
    out
}

/// A few commands for each page, with what they do.
fn examples(page: &str) -> Vec<(&'static str, &'static str)> {
    match page {
        "lts" => vec![
            ("lts submit -g default -- sh -c 'echo hello'", "Run a command once on a worker of group default:"),
            ("lts jobs --state failed", "List the failed jobs:"),
            ("lts --tracker 10.0.0.1:7420 -o json job nightly", "One job and its runs as JSON, from another tracker:"),
        ],
        "lts-submit" => vec![
            ("lts submit -g default --task-id nightly --cron '0 0 3 * * ?' -- backup.sh", "Every night at 03:00:"),
            ("lts submit -g default --wait -- make test", "Wait for the run; exit 0 if it succeeded, 1 if not:"),
            ("lts submit --file jobs.jsonl", "Many jobs, one JSON object a line:"),
            ("lts submit -g etl --max-retries 2 --alert failed,timed_out --alert-to cmd:/usr/local/bin/page -- etl.sh", "Page when the job failed for good or timed out:"),
            ("lts submit -g web --broadcast -- sh -c 'rm -rf /var/cache/app/*'", "Run once on every live worker of group web:"),
            ("lts submit -g etl --shards 8 -- sh -c 'part.sh $LTS_SHARD $LTS_SHARDS'", "Eight runs, shard 0 to 7, spread over the group's workers:"),
            ("lts submit -g etl --task-id load --after extract-a,extract-b -- load.sh", "Wait (state waiting) until two jobs succeeded; cancelled if one fails:"),
        ],
        "lts-flow" => vec![
            ("lts flow submit examples/nightly-etl.toml", "Submit a flow and print its id:"),
            ("lts flow show 0mx37ra5j2fvv", "Its latest run as a graph, each step's state:"),
            ("lts flow cancel 0mx37ra5j2fvv", "Cancel its open run and stop its cron:"),
        ],
        "lts-jobs" => vec![
            ("lts jobs -g reports --state scheduled", "Scheduled jobs of group reports:"),
            ("lts jobs --limit 0 -o json", "Every job, as a JSON array:"),
        ],
        "lts-job" => vec![
            ("lts job nightly", "A job with its newest runs:"),
            ("lts job nightly --runs 20 --before 41", "The 20 runs before run 41:"),
        ],
        "lts-edit" => vec![
            ("lts edit nightly --cron '0 30 3 * * ?'", "Move a cron job to 03:30; its runs stay:"),
            ("lts edit nightly --param day=tue --timeout 10m", "Change a parameter and the timeout:"),
        ],
        "lts-logs" => vec![
            ("lts logs nightly --tail 50", "The last 50 lines of the latest run:"),
            ("lts logs nightly --run 3 --follow", "Follow run 3 until it ends:"),
        ],
        "lts-nodes" => vec![
            ("lts nodes --role worker", "The workers, with their slots:"),
            ("lts -o json nodes --watch --after 41", "Membership events after event 41, one JSON object a line:"),
        ],
        "lts-cancel" | "lts-suspend" | "lts-resume" => vec![
            ("lts suspend nightly", "One job:"),
            ("lts cancel --all -g reports --state queued --yes", "Every queued job of group reports, without asking:"),
        ],
        "lts-trigger" | "lts-retry" => vec![("lts trigger nightly", "Run a job once more now:")],
        "lts-purge" => vec![("lts purge --older-than 7d --state succeeded --yes", "Delete jobs that succeeded over a week ago:")],
        "lts-feedback" => vec![("LTS_CLIENT_GROUP=ops lts feedback --follow", "Follow the results of jobs submitted with --feedback --client-group ops:")],
        "lts-alerts" => vec![
            ("lts alerts -g reports", "The newest alerts of group reports, with their delivery:"),
            ("lts -o json alerts --follow", "Each alert as it is raised, folded, resolved or delivered, one JSON object a line:"),
        ],
        "lts-alert" => vec![
            ("lts alert add etl-down --when no-worker -g etl --for 2m --to https://hooks.example.com/lts", "Page when group etl has due work and no live worker for 2 minutes:"),
            ("lts alert add chat --when 'failures>=5/10m' --to https://hooks.slack.com/services/T/B/X --template slack.json", "A chat message through a template ({\"text\": \"{{text}}\"}):"),
            ("lts alert test chat", "Send a test alert and say how its delivery went:"),
        ],
        "lts-spool" => vec![("lts spool list", "The jobs kept while no tracker answered:"), ("lts spool flush", "Deliver them:")],
        "lts-stats" => vec![("lts stats -g reports", "Counts, throughput and queue age of group reports:")],
        "lts-status" => vec![("lts status", "Trackers, workers and queues at a glance:")],
        "lts-version" => vec![("lts version -o json", "This client's version and the tracker's, as JSON:")],
        "lts-cron" => vec![("lts cron '0 15 10 ? * 6L' --count 3", "The next three fire times of the last Friday of the month at 10:15:")],
        "lts-bench" => vec![("lts bench --standalone --jobs 20000 --clients 32", "Measure an in-process cluster:")],
        "lts-completions" => vec![("lts completions bash > ~/.local/share/bash-completion/completions/lts", "Install bash completions:")],
        "ltsd" | "ltsd-standalone" => vec![
            ("ltsd standalone --allow-commands", "A tracker and a worker in one process, console on http://127.0.0.1:7421:"),
        ],
        "ltsd-tracker" => vec![
            ("ltsd tracker --listen 0.0.0.0:7420 --token \"$LTS_TOKEN\" --store postgres://lts@db/lts", "A tracker sharing a PostgreSQL store:"),
        ],
        "ltsd-worker" => vec![
            ("ltsd worker --tracker t1:7420,t2:7420 --group reports --runner /usr/local/bin/report-runner", "A worker pulling from two trackers:"),
        ],
        "ltsd-registry" => vec![("ltsd registry --listen 127.0.0.1:7410", "A registry on loopback:")],
        "ltsd-cert" => vec![("ltsd cert --out /etc/lts/tls --san tracker.example.com", "A self-signed pair for TLS:")],
        _ => Vec::new(),
    }
}

/// Print the completion script for `shell` (used by `lts completions`).
pub fn print_completions(shell: Shell, out: &mut dyn std::io::Write) {
    clap_complete::generate(shell, &mut crate::cli::Cli::command(), "lts", out);
}

/// Write every generated file under `root`.
pub fn write_all(root: &Path) -> std::io::Result<()> {
    for (rel, body) in generate_all() {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, body)?;
    }
    Ok(())
}
