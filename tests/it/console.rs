//! The console in a real browser: headless Chromium driven through
//! chromedriver (WebDriver) with fantoccini, against real daemons and the
//! real `lts`. Each test starts its own chromedriver on a free port and one
//! browser session; every wait is bounded and polls the page or the CLI.
//! Each page visited is saved as a PNG under `target/tmp/console/<test>/`
//! (the path is printed) so the pages can be looked at.

use crate::helpers::*;
use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "console-test-token-0123456789";

/// The first of `candidates` that exists, or a failure naming the package.
fn find_binary(candidates: &[&str], package_note: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    for name in candidates {
        let path = Path::new(name);
        if path.is_absolute() {
            if path.exists() {
                return path.to_path_buf();
            }
        } else if let Some(found) = on_path.iter().map(|d| d.join(name)).find(|p| p.exists()) {
            return found;
        }
    }
    panic!("{package_note}");
}

/// A free TCP port on the loopback interface (bound, then released).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// chromedriver, started in a process group of its own so that the browser
/// it starts goes with it.
struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
    profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        let driver = find_binary(
            &[
                "chromedriver",
                "/usr/bin/chromedriver",
                "/usr/lib/chromium/chromedriver",
            ],
            "chromium-driver is not installed (apt-get install chromium chromium-driver)",
        );
        let chromium = find_binary(
            &["/usr/bin/chromium", "chromium", "chromium-browser"],
            "chromium is not installed (apt-get install chromium chromium-driver)",
        );
        let profile = tempfile::tempdir().expect("browser profile dir");
        let port = free_port();
        let mut cmd = Command::new(driver);
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let child = cmd.spawn().expect("start chromedriver");
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port} within {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
            profile,
        }
    }

    async fn session(&self) -> Client {
        let profile = self.profile.path().to_str().expect("utf-8 profile path");
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={profile}"), "--window-size=1366,900",
                ],
            },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("a JSON object")
        };
        // chromedriver speaks plain HTTP; the connector still wants one provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = ClientBuilder::rustls().expect("rustls connector");
        builder.capabilities(caps);
        let deadline = Instant::now() + PATIENCE;
        loop {
            match builder.connect(&self.url).await {
                Ok(client) => return client,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("chromedriver not ready yet: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no browser session from chromedriver: {e}"),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: signalling the process group of a child this test started.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// A standalone daemon with its console, and where screenshots go.
struct Console {
    sb: Sandbox,
    d: Daemon,
    url: String,
    shots: PathBuf,
    taken: std::cell::Cell<u32>,
    token: Option<&'static str>,
}

impl Console {
    fn start(test: &str, token: Option<&'static str>) -> Console {
        let sb = Sandbox::new();
        let extra: &[&str] = match &token {
            Some(token) => &["--token", token],
            None => &[],
        };
        let d = Daemon::standalone(sb.dir.path(), &sb.path("data"), extra);
        let url = d.wait_for_log("console listening", |line| {
            let url = line.split("url=").nth(1)?.trim();
            Some(url.trim_end_matches('/').to_string())
        });
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("console")
            .join(test);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        Console {
            sb,
            d,
            url,
            shots,
            taken: std::cell::Cell::new(0),
            token,
        }
    }

    fn home(&self) -> &Path {
        self.sb.dir.path()
    }

    /// `lts ARGS` against this daemon (with its token when it has one).
    fn lts(&self, args: &[&str]) -> Out {
        let env: Vec<(&str, &str)> = self.token.iter().map(|t| ("LTS_TOKEN", *t)).collect();
        lts_env(self.home(), &self.d.addr, &env, args)
    }

    async fn shot(&self, c: &Client, name: &str) {
        let n = self.taken.get() + 1;
        self.taken.set(n);
        let png = c.screenshot().await.expect("screenshot");
        let path = self.shots.join(format!("{n:02}-{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        println!("screenshot: {}", path.display());
    }
}

/// Run a browser test: one session, closed whatever happens, then the
/// test's own failure, if any.
fn browse<F, Fut>(test: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    use futures::FutureExt;
    let driver = Driver::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = rt.block_on(async {
        let client = driver.session().await;
        let outcome = std::panic::AssertUnwindSafe(test(client.clone()))
            .catch_unwind()
            .await;
        let _ = client.close().await;
        outcome
    });
    drop(driver);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Poll `check` until it gives a value, for at most `PATIENCE`.
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn find(c: &Client, css: &str) -> Element {
    until(&format!("an element '{css}'"), || async move {
        c.find(Locator::Css(css)).await.ok()
    })
    .await
}

async fn text_of(c: &Client, css: &str) -> String {
    find(c, css).await.text().await.unwrap_or_default()
}

/// Wait until the element `css` shows `needle`; its whole text.
async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    until(&format!("'{needle}' in '{css}'"), || async move {
        let el = c.find(Locator::Css(css)).await.ok()?;
        let text = el.text().await.ok()?;
        text.contains(needle).then_some(text)
    })
    .await
}

async fn path_of(c: &Client) -> String {
    c.current_url()
        .await
        .expect("current url")
        .path()
        .to_string()
}

async fn no_dialog(c: &Client) {
    if let Ok(text) = c.get_alert_text().await {
        panic!("a dialog opened: {text:?}");
    }
}

#[test]
fn login_with_the_token_then_the_jobs_page_lists_a_job_from_lts() {
    let con = Console::start("login", Some(TOKEN));
    // Some history for the overview's chart: runs that succeeded and one that failed.
    for cmd in ["true", "true", "false"] {
        let out = con.lts(&["submit", "--wait", "-g", "default", "--", cmd]);
        assert_eq!(out.code, if cmd == "true" { 0 } else { 1 }, "{out:?}");
    }
    let id = con.lts(&[
        "submit",
        "-g",
        "default",
        "--task-id",
        "from-cli",
        "--cron",
        "0 0 3 * * ?",
        "--param",
        "region=eu",
        "--",
        "echo",
        "nightly",
    ]);
    assert_eq!(id.ok().trim(), "from-cli");
    browse(|c| async move {
        let c = &c;
        c.goto(&format!("{}/jobs", con.url))
            .await
            .expect("open the console");
        // No session yet: the login page, which comes back to /jobs.
        find(c, "input#token").await;
        assert_eq!(path_of(c).await, "/login");
        con.shot(c, "login").await;
        find(c, "input#token")
            .await
            .send_keys("not-the-token-at-all")
            .await
            .expect("type");
        find(c, "form.login button")
            .await
            .click()
            .await
            .expect("log in");
        wait_text(c, "p.error", "not the cluster token").await;
        let field = find(c, "input#token").await;
        field.clear().await.expect("clear");
        field.send_keys(TOKEN).await.expect("type the token");
        find(c, "form.login button")
            .await
            .click()
            .await
            .expect("log in");
        let row = wait_text(c, "table.list", "from-cli").await;
        assert!(row.contains("scheduled"), "{row}");
        assert_eq!(path_of(c).await, "/jobs");
        find(c, "form.logout button").await;
        con.shot(c, "jobs").await;
        for (path, needle) in [
            ("/", "default"),
            ("/nodes", "master"),
            ("/alerts", "No rules"),
            ("/submit", "Submit a job"),
        ] {
            c.goto(&format!("{}{path}", con.url))
                .await
                .expect("open a page");
            wait_text(c, "main", needle).await;
            let name = if path == "/" { "overview" } else { &path[1..] };
            con.shot(c, name).await;
        }
        // The overview counted the runs of the last hour.
        c.goto(&con.url).await.expect("overview");
        let group = wait_text(c, "section.group", "3 runs").await;
        assert!(group.contains("1 failed"), "{group}");
        assert_eq!(
            c.find_all(Locator::Css("svg g.bar"))
                .await
                .expect("bars")
                .len(),
            60
        );
        // Logging out ends the session.
        find(c, "form.logout button")
            .await
            .click()
            .await
            .expect("log out");
        find(c, "input#token").await;
        c.goto(&format!("{}/jobs", con.url)).await.expect("open");
        find(c, "input#token").await;
    });
}

#[test]
fn suspend_from_the_job_page_and_lts_job_says_suspended() {
    let con = Console::start("suspend", None);
    con.lts(&[
        "submit",
        "-g",
        "default",
        "--task-id",
        "to-suspend",
        "--cron",
        "0 0 3 * * ?",
        "--",
        "true",
    ])
    .ok();
    browse(|c| async move {
        let c = &c;
        c.goto(&format!("{}/jobs/default/to-suspend", con.url))
            .await
            .expect("open");
        wait_text(c, ".page-head", "scheduled").await;
        find(c, r#"form[action$="/suspend"] button"#)
            .await
            .click()
            .await
            .expect("suspend");
        let flash = wait_text(c, "p.flash", "Suspended").await;
        assert!(flash.contains("suspended now"), "{flash}");
        assert_eq!(path_of(c).await, "/jobs/default/to-suspend");
        wait_text(c, ".page-head", "suspended").await;
        con.shot(c, "job-suspended").await;
        let job = con.lts(&["-o", "json", "job", "to-suspend"]).json();
        assert_eq!(job["state"], "suspended");
        // The flash is shown once.
        c.refresh().await.expect("reload");
        find(c, ".page-head").await;
        assert!(c.find(Locator::Css("p.flash")).await.is_err());
        // Resume is the action that applies now; suspend is not.
        let suspend = find(c, r#"form[action$="/suspend"] button"#).await;
        assert_eq!(
            suspend.attr("disabled").await.expect("attr").as_deref(),
            Some("true")
        );
        // Many at once: select it in the list and resume it from there.
        c.goto(&format!("{}/jobs?state=suspended", con.url))
            .await
            .expect("list");
        let resume = find(c, r#"button[value="resume"]"#).await;
        assert!(
            !resume.is_enabled().await.expect("enabled"),
            "nothing selected yet"
        );
        find(c, r#"input[name="job"][value="default/to-suspend"]"#)
            .await
            .click()
            .await
            .expect("select");
        wait_text(c, "[data-selected-count]", "1 selected").await;
        resume.click().await.expect("resume");
        wait_text(c, "p.flash", "Resumed 1 job.").await;
        assert_eq!(path_of(c).await, "/jobs");
        let job = con.lts(&["-o", "json", "job", "to-suspend"]).json();
        assert_eq!(job["state"], "scheduled");
    });
}

#[test]
fn the_job_page_follows_a_running_runs_log() {
    let con = Console::start("live-log", None);
    let go = con.sb.path("go");
    let script = format!(
        "echo first-line; while [ ! -e '{}' ]; do sleep 0.1; done; echo later-line; sleep 1",
        go.display()
    );
    con.lts(&[
        "submit",
        "-g",
        "default",
        "--task-id",
        "tail-me",
        "--",
        "sh",
        "-c",
        &script,
    ])
    .ok();
    wait_state(con.home(), &con.d.addr, "tail-me", "running");
    browse(|c| async move {
        let c = &c;
        c.goto(&format!("{}/jobs/default/tail-me", con.url))
            .await
            .expect("open");
        wait_text(c, "div.log", "first-line").await;
        wait_text(c, "[data-live-status]", "following live").await;
        let before = text_of(c, "div.log").await;
        assert!(!before.contains("later-line"), "{before}");
        std::fs::write(&go, "").expect("let the run go on");
        let log = wait_text(c, "div.log", "later-line").await;
        assert!(log.contains("first-line"), "the replayed lines stay: {log}");
        con.shot(c, "job-live-log").await;
        wait_text(c, "[data-live-status]", "ended").await;
    });
}

#[test]
fn markup_in_a_job_shows_as_text() {
    let con = Console::start("escaping", None);
    let img = "<img src=x onerror=alert(1)>";
    let script = "<script>alert(2)</script>";
    con.lts(&[
        "submit",
        "--wait",
        "-g",
        "default",
        "--task-id",
        "markup",
        "--param",
        &format!("html={img}"),
        "--param",
        &format!("js={script}"),
        "--",
        "sh",
        "-c",
        "echo '<script>alert(3)</script>'; echo '<img src=y onerror=alert(4)>' >&2",
    ])
    .ok();
    browse(|c| async move {
        let c = &c;
        c.goto(&format!("{}/jobs/default/markup", con.url))
            .await
            .expect("open");
        let params = wait_text(c, "table.params", img).await;
        assert!(params.contains(script), "{params}");
        let command = text_of(c, "code.command").await;
        assert!(command.contains("<script>alert(3)</script>"), "{command}");
        let log = wait_text(c, "div.log", "<script>alert(3)</script>").await;
        assert!(log.contains("<img src=y onerror=alert(4)>"), "{log}");
        no_dialog(c).await;
        assert!(c
            .find_all(Locator::Css("main img"))
            .await
            .expect("imgs")
            .is_empty());
        assert_eq!(
            c.find_all(Locator::Css("script"))
                .await
                .expect("scripts")
                .len(),
            1
        );
        con.shot(c, "job-markup").await;

        c.goto(&format!(
            "{}/jobs/default/%3Cscript%3Ealert(5)%3C%2Fscript%3E",
            con.url
        ))
        .await
        .expect("open a missing job");
        let missing = wait_text(c, "main", "No such job").await;
        assert!(missing.contains("<script>alert(5)</script>"), "{missing}");
        no_dialog(c).await;
        con.shot(c, "job-missing").await;
        c.goto(&format!("{}/jobs?q=%3Cscript%3E", con.url))
            .await
            .expect("search");
        let search = find(c, r#"input[name="q"]"#).await;
        assert_eq!(
            search.prop("value").await.expect("value").as_deref(),
            Some("<script>")
        );
        no_dialog(c).await;
    });
}

#[test]
fn the_submit_page_previews_cron_as_you_type_and_submits() {
    let con = Console::start("submit", None);
    browse(|c| async move {
        let c = &c;
        c.goto(&format!("{}/submit", con.url)).await.expect("open");
        find(c, r#"select[name="when"]"#)
            .await
            .select_by_value("cron")
            .await
            .expect("cron");
        let cron = find(c, "#cron").await;
        assert!(
            cron.is_displayed().await.expect("displayed"),
            "the cron field shows"
        );
        cron.send_keys("0 30 6 * * ?").await.expect("type");
        wait_text(c, ".cron-preview", "06:30:00").await;
        find(c, "#tz")
            .await
            .send_keys("Asia/Tokyo")
            .await
            .expect("type a zone");
        wait_text(c, ".cron-preview", "+09:00").await;
        cron.clear().await.expect("clear");
        cron.send_keys("0 30 25 * * ?").await.expect("type");
        wait_text(c, ".cron-preview", "invalid cron expression").await;
        cron.clear().await.expect("clear");
        cron.send_keys("0 15 7 * * ?").await.expect("type");
        let preview = wait_text(c, ".cron-preview", "07:15:00").await;
        assert!(preview.contains("Asia/Tokyo"), "{preview}");
        find(c, r#"input[name="group"]"#)
            .await
            .send_keys("default")
            .await
            .expect("group");
        find(c, r#"input[name="task_id"]"#)
            .await
            .send_keys("from-form")
            .await
            .expect("id");
        find(c, r#"input[name="command"]"#)
            .await
            .send_keys("sh -c 'echo from the form'")
            .await
            .expect("cmd");
        find(c, r#"textarea[name="params"]"#)
            .await
            .send_keys("color=blue")
            .await
            .expect("params");
        con.shot(c, "submit-cron").await;
        find(c, "form.submit button.primary")
            .await
            .click()
            .await
            .expect("submit");
        wait_text(c, "p.flash", "Submitted from-form").await;
        assert_eq!(path_of(c).await, "/jobs/default/from-form");
        let fires = text_of(c, "ol.fires").await;
        assert!(
            fires.contains("07:15:00"),
            "next fires in the job's zone: {fires}"
        );
        con.shot(c, "job-from-form").await;
        let job = con.lts(&["-o", "json", "job", "from-form"]).json();
        assert_eq!(job["kind"], "cron");
        assert_eq!(job["schedule"], "cron 0 15 7 * * ? (Asia/Tokyo)");
        assert_eq!(job["params"]["color"], "blue");
        assert_eq!(
            job["command"],
            serde_json::json!(["sh", "-c", "echo from the form"])
        );

        // A refusal shows the form again, filled in, with the reason.
        c.goto(&format!("{}/submit", con.url)).await.expect("open");
        find(c, r#"input[name="group"]"#)
            .await
            .send_keys("default")
            .await
            .expect("group");
        find(c, r#"input[name="task_id"]"#)
            .await
            .send_keys("from-form")
            .await
            .expect("id");
        find(c, "form.submit button.primary")
            .await
            .click()
            .await
            .expect("submit");
        let error = wait_text(c, "p.flash.error", "already exists").await;
        assert!(error.contains("from-form"), "{error}");
        let kept = find(c, r#"input[name="task_id"]"#)
            .await
            .prop("value")
            .await
            .expect("value");
        assert_eq!(kept.as_deref(), Some("from-form"));
    });
}

#[test]
fn edit_a_job_from_its_page_and_lts_job_shows_the_change() {
    let con = Console::start("edit", None);
    con.lts(&[
        "submit",
        "-g",
        "default",
        "--task-id",
        "to-edit",
        "--cron",
        "0 0 3 * * ?",
        "--param",
        "day=mon",
        "--",
        "true",
    ])
    .ok();
    browse(|c| async move {
        let c = &c;
        c.goto(&format!("{}/jobs/default/to-edit", con.url))
            .await
            .expect("open");
        find(c, r#"a[href$="/edit"]"#)
            .await
            .click()
            .await
            .expect("edit");
        wait_text(c, ".page-head", "Edit").await;
        let cron = find(c, "input[name=cron]").await;
        cron.clear().await.expect("clear");
        cron.send_keys("0 30 4 * * ?").await.expect("type");
        wait_text(c, ".cron-preview", "04:30").await;
        let params = find(c, "textarea[name=params]").await;
        params.clear().await.expect("clear");
        params.send_keys("day=tue").await.expect("type");
        con.shot(c, "edit").await;
        find(c, "button.primary").await.click().await.expect("save");
        wait_text(c, "p.flash", "Changed").await;
        assert_eq!(path_of(c).await, "/jobs/default/to-edit");
        let job = con.lts(&["-o", "json", "job", "to-edit"]).json();
        assert!(
            job["schedule"].as_str().unwrap().contains("0 30 4 * * ?"),
            "{job}"
        );
        assert_eq!(job["params"]["day"], "tue", "{job}");
        // Nothing changed is said so, and changes nothing.
        c.goto(&format!("{}/jobs/default/to-edit/edit", con.url))
            .await
            .expect("open");
        find(c, "button.primary").await.click().await.expect("save");
        wait_text(c, "p.flash.error", "Nothing was changed").await;
    });
}

#[test]
fn the_flow_page_draws_the_graph_with_each_steps_state_and_links() {
    let con = Console::start("flow", None);
    let gate = con.sb.path("gate");
    let file = con.sb.path("etl.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"etl\"\n\
             [[step]]\nname = \"extract\"\ngroup = \"default\"\ncommand = [\"true\"]\n\
             [[step]]\nname = \"transform\"\ngroup = \"default\"\nafter = [\"extract\"]\n\
             command = [\"sh\", \"-c\", \"while [ ! -e '{}' ]; do sleep 0.1; done\"]\n\
             [[step]]\nname = \"load\"\ngroup = \"default\"\nafter = [\"transform\"]\ncommand = [\"true\"]\n",
            gate.display()
        ),
    )
    .expect("write the flow");
    let id = con
        .lts(&["flow", "submit", file.to_str().unwrap()])
        .ok()
        .trim()
        .to_string();
    wait_state(
        con.home(),
        &con.d.addr,
        &format!("{id}.1.transform"),
        "running",
    );
    let (home, addr) = (con.home().to_path_buf(), con.d.addr.clone());
    browse(|c| async move {
        let c = &c;
        c.goto(&format!("{}/flows/{id}", con.url))
            .await
            .expect("open the flow page");
        let svg = find(c, "svg.flow-graph").await;
        // One box per step, in its state's colour class, and an arrow per `after`.
        for (step, state) in [
            ("extract", "succeeded"),
            ("transform", "running"),
            ("load", "waiting"),
        ] {
            let node = find(c, &format!("svg.flow-graph g.node.st-{state}")).await;
            let text = node.text().await.unwrap_or_default();
            assert!(text.contains(step), "{step}: {text}");
        }
        let edges = c
            .find_all(Locator::Css("svg.flow-graph path.edge"))
            .await
            .expect("edges");
        assert_eq!(edges.len(), 2);
        assert!(svg.text().await.unwrap_or_default().contains("transform"));
        con.shot(c, "flow-running").await;
        // A step's box links to its job's page, which links back to the flow.
        let link = find(c, "svg.flow-graph a").await;
        let href = link.attr("href").await.expect("href").expect("a link");
        assert_eq!(href, format!("/jobs/default/{id}.1.extract"));
        c.goto(&format!("{}{href}", con.url))
            .await
            .expect("open the step");
        let back = wait_text(c, "p.flow-link", "of flow").await;
        assert!(back.contains("extract") && back.contains(&id), "{back}");
        find(c, "p.flow-link a")
            .await
            .click()
            .await
            .expect("back to the flow");
        find(c, "svg.flow-graph").await;
        assert_eq!(path_of(c).await, format!("/flows/{id}"));
        // The submit form takes --after too: a job that waits for the load step.
        c.goto(&format!("{}/submit", con.url))
            .await
            .expect("open submit");
        for (field, text) in [
            ("group", "default".to_string()),
            ("task_id", "after-form".to_string()),
            ("command", "true".to_string()),
            ("after", format!("{id}.1.load")),
        ] {
            find(c, &format!(r#"input[name="{field}"]"#))
                .await
                .send_keys(&text)
                .await
                .expect("type");
        }
        find(c, "form.submit button.primary")
            .await
            .click()
            .await
            .expect("submit");
        wait_text(c, "p.flash", "Submitted after-form").await;
        wait_text(c, "div.page-head", "waiting").await;
        c.goto(&format!("{}/flows/{id}", con.url))
            .await
            .expect("back to the flow");
        find(c, "svg.flow-graph").await;
        std::fs::write(&gate, "").expect("let transform end");
        until("every step to succeed", || async move {
            c.refresh().await.ok()?;
            let n = c
                .find_all(Locator::Css("svg.flow-graph g.node.st-succeeded"))
                .await
                .ok()?
                .len();
            (n == 3).then_some(())
        })
        .await;
        wait_text(c, "div.page-head", "done").await;
        con.shot(c, "flow-done").await;
        no_dialog(c).await;
        // The job from the form was released by the flow's last step.
        until("after-form to succeed", || {
            let (home, addr) = (home.clone(), addr.clone());
            async move {
                (job_json(&home, &addr, "after-form")["state"] == "succeeded").then_some(())
            }
        })
        .await;
    });
}
