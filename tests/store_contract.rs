//! The store contract: every test below takes `&mut dyn Store` and runs
//! twice, on a fresh SQLite file and on a fresh PostgreSQL database (see
//! `support/pg.rs` for how the server is found), so both backends behave the
//! same in every way the tracker can see. PostgreSQL-only properties (two
//! stores on one database, notifications, opening errors) follow.

#[path = "support/pg.rs"]
mod pg;

use lts::model::{
    Alert, AlertQuery, AlertRule, Condition, Delivery, FeedbackItem, FlowSpec, FlowState, FlowStep,
    JobKind, JobSpec, JobState, Millis, OnFailure, Overlap, Part, RunOutcome, RunState, Schedule,
    Stream,
};
use lts::store::{
    FlowRecord, JobQuery, JobRecord, LogRecord, LogStats, PostgresStore, RunRecord, SqliteStore,
    StartClaim, Store, StoreError,
};

/// End a run as the tracker does.
fn end(r: &mut RunRecord, outcome: RunOutcome, at: Millis) {
    r.state = RunState::Done;
    r.outcome = Some(outcome);
    r.ended_at = Some(at);
    r.lease_until = None;
    r.reason = Some("done".into());
}

fn job(group: &str, task: &str, schedule: Schedule, state: JobState, at: Millis) -> JobRecord {
    let mut spec = JobSpec::new(group, task);
    spec.schedule = schedule;
    JobRecord {
        id: 0,
        spec,
        state,
        submitted_at: at,
        updated_at: at,
        next_fire: None,
        run_count: 0,
        note: None,
    }
}

fn now_job(group: &str, task: &str) -> JobRecord {
    job(group, task, Schedule::Now, JobState::Queued, 1_000)
}

fn insert(s: &mut dyn Store, mut j: JobRecord) -> JobRecord {
    j.id = s.insert_job(&j).unwrap().expect("the key is free");
    j
}

fn add_run(s: &mut dyn Store, j: &JobRecord, run: u32, at: Millis) -> RunRecord {
    let mut r = RunRecord::queued(j, run, at);
    r.id = s.insert_run(&r).unwrap();
    r
}

fn log(run_id: i64, seq: u64, line: &str) -> LogRecord {
    LogRecord {
        run_id,
        seq,
        stream: if seq.is_multiple_of(2) {
            Stream::Stdout
        } else {
            Stream::Stderr
        },
        line: line.into(),
        at: 5_000 + seq as i64,
    }
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> i64) -> Vec<i64> {
    items.iter().map(id).collect()
}

fn jobs_insert_lookup_update_delete(s: &mut dyn Store) {
    s.begin().unwrap();
    let mut a = insert(
        s,
        job(
            "g",
            "a",
            Schedule::Cron {
                expr: "0 * * * * ?".into(),
                tz: None,
            },
            JobState::Scheduled,
            10,
        ),
    );
    assert_eq!(s.job_by_id(a.id).unwrap(), Some(a.clone()));
    assert_eq!(s.job_by_key("g", "a").unwrap(), Some(a.clone()));
    assert_eq!(s.job_by_key("other", "a").unwrap(), None);
    // The key is taken: nothing changes.
    let mut dup = now_job("g", "a");
    dup.note = Some("second".into());
    assert_eq!(s.insert_job(&dup).unwrap(), None);
    assert_eq!(s.job_by_key("g", "a").unwrap(), Some(a.clone()));

    a.state = JobState::Suspended;
    a.updated_at = 20;
    a.next_fire = Some(60_000);
    a.run_count = 7;
    a.note = Some("paused by ops ✓".into());
    s.update_job(&a).unwrap();
    assert_eq!(s.job_by_id(a.id).unwrap(), Some(a.clone()));

    let b = insert(s, now_job("h", "a"));
    let c = insert(s, now_job("a-first", "a"));
    assert_eq!(
        ids(&s.jobs_by_task_id("a").unwrap(), |j| j.id),
        vec![c.id, a.id, b.id]
    );
    s.delete_job(a.id).unwrap();
    assert_eq!(s.job_by_id(a.id).unwrap(), None);
    assert_eq!(
        ids(&s.jobs_by_task_id("a").unwrap(), |j| j.id),
        vec![c.id, b.id]
    );
    s.commit().unwrap();
    assert_eq!(s.job_by_key("h", "a").unwrap(), Some(b));
}

fn list_jobs_filters_and_limits(s: &mut dyn Store) {
    s.begin().unwrap();
    let a = insert(s, now_job("g1", "a"));
    let b = insert(
        s,
        job("g2", "b", Schedule::At { at_ms: 9 }, JobState::Scheduled, 2),
    );
    let c = insert(
        s,
        job(
            "g1",
            "c",
            Schedule::Repeat {
                count: 3,
                interval_ms: 10,
            },
            JobState::Scheduled,
            3,
        ),
    );
    let d = insert(s, job("g1", "d", Schedule::Now, JobState::Succeeded, 4));
    let all = |limit| JobQuery {
        limit,
        ..JobQuery::default()
    };
    assert_eq!(
        ids(&s.list_jobs(&all(0)).unwrap(), |j| j.id),
        vec![a.id, b.id, c.id, d.id]
    );
    // A limit keeps the newest, still oldest first.
    assert_eq!(
        ids(&s.list_jobs(&all(2)).unwrap(), |j| j.id),
        vec![c.id, d.id]
    );
    let q = JobQuery {
        group: Some("g1".into()),
        ..all(0)
    };
    assert_eq!(
        ids(&s.list_jobs(&q).unwrap(), |j| j.id),
        vec![a.id, c.id, d.id]
    );
    let q = JobQuery {
        state: Some(JobState::Scheduled),
        ..all(0)
    };
    assert_eq!(ids(&s.list_jobs(&q).unwrap(), |j| j.id), vec![b.id, c.id]);
    let q = JobQuery {
        kind: Some(JobKind::Now),
        ..all(0)
    };
    assert_eq!(ids(&s.list_jobs(&q).unwrap(), |j| j.id), vec![a.id, d.id]);
    let q = JobQuery {
        group: Some("g1".into()),
        state: Some(JobState::Scheduled),
        kind: Some(JobKind::Repeat),
        limit: 5,
        ..JobQuery::default()
    };
    assert_eq!(ids(&s.list_jobs(&q).unwrap(), |j| j.id), vec![c.id]);
    // Counts ignore the limit and the cursor; the cursor pages to older jobs.
    assert_eq!(s.count_jobs(&all(2)).unwrap(), 4);
    let page2 = JobQuery {
        before_id: Some(c.id),
        ..all(2)
    };
    assert_eq!(
        ids(&s.list_jobs(&page2).unwrap(), |j| j.id),
        vec![a.id, b.id]
    );
    assert_eq!(s.count_jobs(&page2).unwrap(), 4);
    // Task-id text matches anywhere in the id.
    let text = |t: &str| JobQuery {
        text: Some(t.into()),
        ..all(0)
    };
    assert_eq!(ids(&s.list_jobs(&text("c")).unwrap(), |j| j.id), vec![c.id]);
    assert_eq!(s.count_jobs(&text("zz")).unwrap(), 0);
    let q = JobQuery {
        group: Some("none".into()),
        ..all(0)
    };
    assert!(s.list_jobs(&q).unwrap().is_empty());
    s.commit().unwrap();
}

fn runs_and_their_orders(s: &mut dyn Store) {
    s.begin().unwrap();
    let j = insert(s, now_job("g", "a"));
    let r1 = add_run(s, &j, 1, 100);
    let mut r1b = RunRecord {
        attempt: 2,
        due_at: 150,
        ..r1.clone()
    };
    r1b.id = s.insert_run(&r1b).unwrap();
    let r2 = add_run(s, &j, 2, 200);
    let r3 = add_run(s, &j, 3, 300);
    assert_eq!(s.run_by_id(r1.id).unwrap(), Some(r1.clone()));
    assert_eq!(s.run_by_id(r3.id + 1000).unwrap(), None);
    assert_eq!(
        ids(&s.recent_runs(j.id, 10).unwrap(), |r| r.id),
        vec![r1.id, r1b.id, r2.id, r3.id]
    );
    assert_eq!(
        ids(&s.recent_runs(j.id, 2).unwrap(), |r| r.id),
        vec![r2.id, r3.id]
    );
    assert_eq!(
        ids(&s.runs_before(j.id, Some(3), 2).unwrap(), |r| r.id),
        vec![r1b.id, r2.id]
    );
    assert_eq!(
        ids(&s.runs_before(j.id, Some(2), 10).unwrap(), |r| r.id),
        vec![r1.id, r1b.id]
    );
    assert_eq!(
        ids(&s.runs_numbered(j.id, 1).unwrap(), |r| r.id),
        vec![r1.id, r1b.id]
    );
    assert!(s.runs_numbered(j.id, 9).unwrap().is_empty());
    assert!(s.tick_exists(j.id, 200).unwrap());
    assert!(!s.tick_exists(j.id, 250).unwrap());

    // Every field round-trips through update_run.
    let mut done = r1.clone();
    done.state = RunState::Done;
    done.outcome = Some(RunOutcome::TimedOut);
    done.exit_code = Some(-9);
    done.worker = Some("w1".into());
    done.started_at = Some(110);
    done.ended_at = Some(120);
    done.lease_until = Some(130);
    done.fence = 42;
    done.reason = Some("killed after 1s".into());
    done.priority = 5;
    done.due_at = 111;
    s.update_run(&done).unwrap();
    assert_eq!(s.run_by_id(r1.id).unwrap(), Some(done));
    assert_eq!(
        ids(&s.open_runs(j.id).unwrap(), |r| r.id),
        vec![r1b.id, r2.id, r3.id]
    );

    // A run for a taken (run, attempt) or (tick, attempt) is a Conflict, and
    // the transaction goes on unharmed.
    let again = RunRecord::queued(&j, 2, 999);
    assert!(matches!(s.insert_run(&again), Err(StoreError::Conflict(_))));
    let same_tick = RunRecord::queued(&j, 4, 300);
    assert!(matches!(
        s.insert_run(&same_tick),
        Err(StoreError::Conflict(_))
    ));
    let r4 = add_run(s, &j, 4, 400);
    s.commit().unwrap();
    assert_eq!(s.run_by_id(r4.id).unwrap().map(|r| r.run), Some(4));
}

fn due_jobs_and_next_fire(s: &mut dyn Store) {
    s.begin().unwrap();
    let cron = Schedule::Cron {
        expr: "* * * * * ?".into(),
        tz: None,
    };
    let mut a = job("g", "a", cron.clone(), JobState::Scheduled, 1);
    a.next_fire = Some(300);
    let a = insert(s, a);
    let mut b = job("g", "b", cron.clone(), JobState::Scheduled, 1);
    b.next_fire = Some(100);
    let b = insert(s, b);
    let mut c = job("g", "c", cron.clone(), JobState::Suspended, 1);
    c.next_fire = Some(50);
    insert(s, c);
    let mut d = job("g", "d", cron, JobState::Scheduled, 1);
    d.next_fire = Some(1_000);
    let d = insert(s, d);
    insert(s, now_job("g", "e"));
    assert_eq!(s.next_fire_at().unwrap(), Some(100));
    assert_eq!(
        ids(&s.due_jobs(500, 10).unwrap(), |j| j.id),
        vec![b.id, a.id]
    );
    assert_eq!(ids(&s.due_jobs(500, 1).unwrap(), |j| j.id), vec![b.id]);
    assert!(s.due_jobs(99, 10).unwrap().is_empty());
    assert_eq!(
        ids(&s.due_jobs(1_000, 10).unwrap(), |j| j.id),
        vec![b.id, a.id, d.id]
    );
    s.commit().unwrap();
}

fn due_runs_by_priority_then_age(s: &mut dyn Store) {
    s.begin().unwrap();
    let mut hi = now_job("g", "hi");
    hi.spec.priority = 9;
    let hi = insert(s, hi);
    let lo = insert(s, now_job("g", "lo"));
    let other = insert(s, now_job("other", "x"));
    assert_eq!(s.next_due_at("g", "w").unwrap(), None);
    let l1 = add_run(s, &lo, 1, 100);
    let h1 = add_run(s, &hi, 1, 200);
    let l2 = add_run(s, &lo, 2, 150);
    let _future = add_run(s, &lo, 3, 10_000);
    let mut buffered = RunRecord::queued(&lo, 4, 160);
    buffered.state = RunState::Buffered;
    s.insert_run(&buffered).unwrap();
    let mut running = add_run(s, &hi, 2, 50);
    running.state = RunState::Running;
    s.update_run(&running).unwrap();
    add_run(s, &other, 1, 10);

    assert_eq!(
        ids(&s.due_runs("g", 1_000, 10).unwrap(), |r| r.id),
        vec![h1.id, l1.id, l2.id]
    );
    assert_eq!(
        ids(&s.due_runs("g", 1_000, 2).unwrap(), |r| r.id),
        vec![h1.id, l1.id]
    );
    assert_eq!(
        ids(&s.due_runs("g", 120, 10).unwrap(), |r| r.id),
        vec![l1.id]
    );
    assert!(s.due_runs("nobody", 1_000, 10).unwrap().is_empty());
    // Buffered runs wait for their predecessor, not for a time.
    assert_eq!(s.next_due_at("g", "w").unwrap(), Some(100));
    assert_eq!(s.next_due_at("other", "w").unwrap(), Some(10));
    // A claim starts the due runs in the same order, set-based, with their jobs.
    let claim = StartClaim {
        group: "g".into(),
        worker: "w1".into(),
        now: 1_000,
        lease_until: 9_000,
        fence: 77,
        limit: 2,
    };
    let started = s.start_runs(&claim).unwrap();
    assert_eq!(ids(&started.runs, |(r, _)| r.id), vec![h1.id, l1.id]);
    assert_eq!(ids(&started.runs, |(_, j)| j.id), vec![hi.id, lo.id]);
    for (r, _) in &started.runs {
        assert_eq!(r.state, RunState::Running);
        assert_eq!(r.worker.as_deref(), Some("w1"));
        assert_eq!(
            (r.started_at, r.lease_until, r.fence),
            (Some(1_000), Some(9_000), 77)
        );
        assert_eq!(s.run_by_id(r.id).unwrap().as_ref(), Some(r));
    }
    assert_eq!(
        ids(&s.due_runs("g", 1_000, 10).unwrap(), |r| r.id),
        vec![l2.id]
    );
    // Their jobs move together, only from the states named.
    s.move_jobs(
        &[hi.id, lo.id],
        &[JobState::Queued],
        JobState::Running,
        1_000,
    )
    .unwrap();
    let moved = |s: &mut dyn Store, id| s.job_by_id(id).unwrap().unwrap();
    assert_eq!(moved(s, hi.id).state, JobState::Running);
    assert_eq!(moved(s, hi.id).updated_at, 1_000);
    s.move_jobs(&[lo.id], &[JobState::Succeeded], JobState::Failed, 2_000)
        .unwrap();
    assert_eq!(moved(s, lo.id).state, JobState::Running);
    s.commit().unwrap();
}

fn batch_reads_and_writes(s: &mut dyn Store) {
    s.begin().unwrap();
    let a = insert(s, now_job("g", "a"));
    let b = insert(s, now_job("g", "b"));
    let a1 = add_run(s, &a, 1, 10);
    let a2 = add_run(s, &a, 2, 20);
    let mut b1 = add_run(s, &b, 1, 30);
    end(&mut b1, RunOutcome::Failed, 40);
    s.update_run(&b1).unwrap();
    let jobs = s.jobs_of_runs(&[a2.id, b1.id, a1.id]).unwrap();
    assert_eq!(ids(&jobs, |j| j.id), vec![a.id, b.id]);
    assert_eq!(
        ids(&s.runs_by_ids(&[b1.id, a1.id]).unwrap(), |r| r.id),
        vec![a1.id, b1.id]
    );
    assert!(s.runs_by_ids(&[]).unwrap().is_empty());
    assert_eq!(
        ids(&s.open_runs_of(&[b.id, a.id]).unwrap(), |r| r.id),
        vec![a1.id, a2.id]
    );
    // Many rows in one statement, with every kind of value a run holds.
    let mut x = a1.clone();
    x.state = RunState::Done;
    x.outcome = Some(RunOutcome::TimedOut);
    x.exit_code = Some(-9);
    x.worker = Some("w \"1\" ü".into());
    x.started_at = Some(11);
    x.ended_at = Some(12);
    x.fence = i64::MAX;
    x.reason = Some("it's a 'quote', a \\ and\na newline".into());
    x.priority = -3;
    let mut y = a2.clone();
    y.state = RunState::Held;
    y.due_at = 21;
    y.lease_until = None;
    s.update_runs(&[x.clone(), y.clone()]).unwrap();
    assert_eq!(s.run_by_id(x.id).unwrap().unwrap(), x);
    assert_eq!(s.run_by_id(y.id).unwrap().unwrap(), y);
    s.update_runs(&[]).unwrap();
    let mut ja = a.clone();
    ja.state = JobState::Failed;
    ja.updated_at = 99;
    ja.next_fire = None;
    ja.run_count = 7;
    ja.note = Some("ü \"note\"".into());
    let mut jb = b.clone();
    jb.state = JobState::Scheduled;
    jb.next_fire = Some(i64::MAX - 1);
    s.update_jobs(&[ja.clone(), jb.clone()]).unwrap();
    assert_eq!(s.job_by_id(a.id).unwrap().unwrap(), ja);
    assert_eq!(s.job_by_id(b.id).unwrap().unwrap(), jb);
    s.commit().unwrap();
}

fn leases_and_workers(s: &mut dyn Store) {
    s.begin().unwrap();
    let j = insert(s, now_job("g", "a"));
    assert_eq!(s.next_lease_expiry().unwrap(), None);
    let mut runs = Vec::new();
    for (n, (worker, lease)) in [("w1", 500), ("w2", 300), ("w1", 900), ("w2", 100)]
        .into_iter()
        .enumerate()
    {
        let mut r = add_run(s, &j, n as u32 + 1, n as i64 * 10);
        r.state = RunState::Running;
        r.worker = Some(worker.into());
        r.lease_until = Some(lease);
        s.update_run(&r).unwrap();
        runs.push(r);
    }
    add_run(s, &j, 9, 90);
    assert_eq!(s.next_lease_expiry().unwrap(), Some(100));
    assert_eq!(
        ids(&s.expired_runs(600, 10).unwrap(), |r| r.id),
        vec![runs[3].id, runs[1].id, runs[0].id]
    );
    assert_eq!(
        ids(&s.expired_runs(600, 1).unwrap(), |r| r.id),
        vec![runs[3].id]
    );
    assert!(s.expired_runs(100, 10).unwrap().is_empty());
    let mut of_w1 = ids(&s.running_runs_of("w1").unwrap(), |r| r.id);
    of_w1.sort();
    assert_eq!(of_w1, vec![runs[0].id, runs[2].id]);
    assert!(s.running_runs_of("w9").unwrap().is_empty());
    s.commit().unwrap();
}

fn fences_increase(s: &mut dyn Store) {
    s.begin().unwrap();
    let a = s.reserve_fences(3).unwrap();
    let b = s.reserve_fences(1).unwrap();
    s.commit().unwrap();
    s.begin().unwrap();
    let c = s.reserve_fences(5).unwrap();
    s.commit().unwrap();
    assert!(a > 0, "fences start above 0 (the unset value)");
    assert!(b >= a + 3, "{a}..{} then {b}", a + 3);
    assert!(c > b, "{b} then {c}");
}

fn feedback_push_after_ack(s: &mut dyn Store) {
    s.begin().unwrap();
    let item = |cg: &str, task: &str| FeedbackItem {
        id: 0,
        client_group: cg.into(),
        task_id: task.into(),
        group: "g".into(),
        run: 3,
        attempt: 2,
        outcome: RunOutcome::Failed,
        exit_code: Some(7),
        reason: Some("exit 7".into()),
        ended_at: 1234,
    };
    let a = s.push_feedback(&item("c1", "a")).unwrap();
    let x = s.push_feedback(&item("c2", "x")).unwrap();
    let b = s.push_feedback(&item("c1", "b")).unwrap();
    let c = s.push_feedback(&item("c1", "c")).unwrap();
    assert!(a < x && x < b && b < c);
    let got = s.feedback_after("c1", 0, 10).unwrap();
    assert_eq!(got.iter().map(|f| f.id).collect::<Vec<_>>(), vec![a, b, c]);
    assert_eq!(
        got[0],
        FeedbackItem {
            id: a,
            ..item("c1", "a")
        }
    );
    assert_eq!(
        ids(&s.feedback_after("c1", a, 1).unwrap(), |f| f.id),
        vec![b]
    );
    assert_eq!(s.ack_feedback("c1", b).unwrap(), 2);
    assert_eq!(s.ack_feedback("c1", b).unwrap(), 0);
    assert_eq!(
        ids(&s.feedback_after("c1", 0, 10).unwrap(), |f| f.id),
        vec![c]
    );
    assert_eq!(
        ids(&s.feedback_after("c2", 0, 10).unwrap(), |f| f.id),
        vec![x]
    );
    s.commit().unwrap();
}

fn prune_jobs_and_runs(s: &mut dyn Store) {
    s.begin().unwrap();
    let old_done = insert(s, job("g", "old", Schedule::Now, JobState::Succeeded, 100));
    let old_at = insert(
        s,
        job(
            "g",
            "old-at",
            Schedule::At { at_ms: 1 },
            JobState::Cancelled,
            200,
        ),
    );
    let young = insert(s, job("g", "young", Schedule::Now, JobState::Failed, 5_000));
    let running = insert(
        s,
        job("g", "running", Schedule::Now, JobState::Running, 100),
    );
    let cron = insert(
        s,
        job(
            "g",
            "cron",
            Schedule::Cron {
                expr: "* * * * * ?".into(),
                tz: None,
            },
            JobState::Failed,
            100,
        ),
    );
    let r = add_run(s, &old_done, 1, 100);
    s.append_logs(&[log(r.id, 1, "x")]).unwrap();
    assert_eq!(s.prune_jobs(1_000, 1).unwrap(), 1);
    assert_eq!(s.job_by_id(old_done.id).unwrap(), None);
    assert_eq!(s.run_by_id(r.id).unwrap(), None);
    assert!(s.logs_tail(r.id, 10).unwrap().is_empty());
    assert_eq!(s.prune_jobs(1_000, 10).unwrap(), 1);
    assert_eq!(s.job_by_id(old_at.id).unwrap(), None);
    for kept in [&young, &running, &cron] {
        assert!(s.job_by_id(kept.id).unwrap().is_some());
    }

    // Runs: ended before the cutoff go, with their log lines and stats.
    let mut ended = |n: u32, at: Option<Millis>| {
        let mut r = add_run(s, &cron, n, n as i64 * 10);
        if let Some(at) = at {
            end(&mut r, RunOutcome::Succeeded, at);
            s.update_run(&r).unwrap();
        }
        r
    };
    let e1 = ended(1, Some(100));
    let e2 = ended(2, Some(50));
    let e3 = ended(3, Some(2_000));
    let open = ended(4, None);
    s.append_logs(&[log(e1.id, 1, "a"), log(e2.id, 1, "b")])
        .unwrap();
    s.set_log_stats(
        e1.id,
        &LogStats {
            head_bytes: 2,
            ..LogStats::default()
        },
    )
    .unwrap();
    assert_eq!(s.prune_runs(1_000, 1).unwrap(), 1);
    assert_eq!(
        s.run_by_id(e2.id).unwrap(),
        None,
        "the oldest ended goes first"
    );
    assert_eq!(s.prune_runs(1_000, 10).unwrap(), 1);
    assert_eq!(s.run_by_id(e1.id).unwrap(), None);
    assert!(s.logs_tail(e1.id, 10).unwrap().is_empty());
    assert_eq!(s.log_stats(e1.id).unwrap(), LogStats::default());
    assert!(s.run_by_id(e3.id).unwrap().is_some());
    assert!(s.run_by_id(open.id).unwrap().is_some());
    assert_eq!(s.prune_runs(1_000, 10).unwrap(), 0);
    s.commit().unwrap();
}

fn logs_append_read_trim(s: &mut dyn Store) {
    s.begin().unwrap();
    let j = insert(s, now_job("g", "a"));
    let r = add_run(s, &j, 1, 1);
    let other = add_run(s, &j, 2, 2);
    assert!(s.logs_tail(r.id, 5).unwrap().is_empty());
    let lines: Vec<LogRecord> = (0..6)
        .map(|i| log(r.id, i, &format!("line {i} ✓")))
        .collect();
    s.append_logs(&lines[..4]).unwrap();
    // Same run and seq: ignored, whatever the text; new ones are kept.
    let mut dup = lines[1].clone();
    dup.line = "changed".into();
    s.append_logs(&[dup, lines[4].clone(), lines[5].clone(), lines[5].clone()])
        .unwrap();
    s.append_logs(&[log(other.id, 0, "nul \0 and tab\t")])
        .unwrap();
    s.append_logs(&[]).unwrap();
    assert_eq!(s.logs_after(r.id, None, 100).unwrap(), lines);
    assert_eq!(
        s.logs_after(r.id, Some(1), 2).unwrap(),
        lines[2..4].to_vec()
    );
    assert!(s.logs_after(r.id, Some(5), 10).unwrap().is_empty());
    assert_eq!(s.logs_tail(r.id, 2).unwrap(), lines[4..].to_vec());
    assert_eq!(
        s.logs_tail(other.id, 9).unwrap()[0].line,
        "nul \0 and tab\t"
    );

    // Trim after seq 1 until 12 bytes are gone: each line counts its
    // bytes and a newline ("line 2 ✓" is 10 + 1).
    let len = |i: usize| lines[i].line.len() as u64 + 1;
    assert_eq!(s.trim_logs(r.id, 1, 12).unwrap(), (2, len(2) + len(3)));
    assert_eq!(
        ids(&s.logs_after(r.id, None, 100).unwrap(), |l| l.seq as i64),
        vec![0, 1, 4, 5]
    );
    assert_eq!(s.trim_logs(r.id, 1, 1).unwrap(), (1, len(4)));
    assert_eq!(s.trim_logs(r.id, 5, 100).unwrap(), (0, 0));

    assert_eq!(s.log_stats(r.id).unwrap(), LogStats::default());
    let stats = LogStats {
        head_bytes: 10,
        head_last: Some(1),
        tail_bytes: 20,
        dropped_lines: 3,
        dropped_bytes: 33,
    };
    s.set_log_stats(r.id, &stats).unwrap();
    assert_eq!(s.log_stats(r.id).unwrap(), stats);
    let stats2 = LogStats {
        head_last: None,
        tail_bytes: 1,
        ..stats
    };
    s.set_log_stats(r.id, &stats2).unwrap();
    assert_eq!(s.log_stats(r.id).unwrap(), stats2);

    // Deleting the job takes its runs' lines and stats with it.
    s.delete_job(j.id).unwrap();
    assert!(s.logs_tail(r.id, 10).unwrap().is_empty());
    assert_eq!(s.log_stats(r.id).unwrap(), LogStats::default());
    s.commit().unwrap();
}

fn savepoints_and_rollback(s: &mut dyn Store) {
    s.begin().unwrap();
    s.savepoint().unwrap();
    let a = insert(s, now_job("g", "a"));
    s.release_savepoint().unwrap();
    s.savepoint().unwrap();
    let b = insert(s, now_job("g", "b"));
    // A failed statement inside the savepoint, as a failing caller's op may leave.
    let _ = s.insert_run(&RunRecord::queued(&b, 1, 1));
    let _ = s.insert_run(&RunRecord::queued(&b, 1, 1));
    s.rollback_to_savepoint().unwrap();
    s.release_savepoint().unwrap();
    s.savepoint().unwrap();
    let c = insert(s, now_job("g", "c"));
    s.release_savepoint().unwrap();
    s.commit().unwrap();
    assert!(s.job_by_id(a.id).unwrap().is_some());
    assert!(s.job_by_key("g", "b").unwrap().is_none());
    assert!(s.job_by_id(c.id).unwrap().is_some());

    s.begin().unwrap();
    insert(s, now_job("g", "d"));
    s.rollback().unwrap();
    assert!(s.job_by_key("g", "d").unwrap().is_none());
    // Rolling back with no transaction open is harmless.
    s.rollback().unwrap();
}

fn leader_lease(s: &mut dyn Store) {
    s.begin().unwrap();
    assert!(!s.check_leader("t1", 1, 0).unwrap(), "nobody leads yet");
    assert_eq!(s.acquire_leadership("t1", 1_000, 500).unwrap(), Some(1));
    assert!(s.check_leader("t1", 1, 1_499).unwrap());
    assert!(!s.check_leader("t1", 1, 1_500).unwrap(), "expired");
    assert!(!s.check_leader("t2", 1, 1_100).unwrap());
    // Renewing keeps the epoch; another holder is refused while it is live.
    assert_eq!(s.acquire_leadership("t1", 1_200, 500).unwrap(), Some(1));
    assert_eq!(s.acquire_leadership("t2", 1_600, 500).unwrap(), None);
    assert!(s.check_leader("t1", 1, 1_600).unwrap());
    s.commit().unwrap();
    s.begin().unwrap();
    // Once it has expired, another holder takes over with the next epoch.
    assert_eq!(s.acquire_leadership("t2", 1_700, 500).unwrap(), Some(2));
    assert!(
        !s.check_leader("t1", 1, 1_701).unwrap(),
        "the old epoch is fenced off"
    );
    assert!(s.check_leader("t2", 2, 1_701).unwrap());
    assert_eq!(s.acquire_leadership("t1", 1_800, 500).unwrap(), None);
    assert_eq!(s.acquire_leadership("t2", 2_100, 500).unwrap(), Some(2));
    assert_eq!(s.acquire_leadership("t1", 2_600, 500).unwrap(), Some(3));
    // The same holder coming back after expiry keeps its epoch.
    assert_eq!(s.acquire_leadership("t1", 9_000, 500).unwrap(), Some(3));
    s.commit().unwrap();
}

/// One `#[test]` per contract function and backend.
fn stats_by_group_state_queue_and_window(s: &mut dyn Store) {
    s.begin().unwrap();
    let empty = s.stats(10_000, 60_000).unwrap();
    assert!(empty.jobs.is_empty() && empty.queues.is_empty() && empty.ended.is_empty());
    let a1 = insert(s, now_job("a", "1"));
    let a2 = insert(s, now_job("a", "2"));
    insert(s, job("a", "3", Schedule::Now, JobState::Failed, 1_000));
    let b1 = insert(s, job("b", "1", Schedule::Now, JobState::Running, 1_000));
    // Group a: two runs due (the oldest at 300), one not due yet, one buffered.
    add_run(s, &a1, 1, 500);
    add_run(s, &a2, 1, 300);
    add_run(s, &a2, 2, 90_000);
    let mut buffered = RunRecord::queued(&a1, 2, 200);
    buffered.state = RunState::Buffered;
    s.insert_run(&buffered).unwrap();
    // Group b: one running, runs ended inside and outside the window.
    let mut running = add_run(s, &b1, 1, 100);
    running.state = RunState::Running;
    s.update_run(&running).unwrap();
    for (n, (outcome, ended)) in [
        (RunOutcome::Succeeded, 9_000),
        (RunOutcome::Succeeded, 5_000),
        (RunOutcome::Failed, 8_000),
        (RunOutcome::Succeeded, 1_000),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = add_run(s, &b1, n as u32 + 2, 200 + n as i64);
        end(&mut r, outcome, ended);
        s.update_run(&r).unwrap();
    }

    let st = s.stats(10_000, 6_000).unwrap();
    assert_eq!((st.at, st.window_ms), (10_000, 6_000));
    let jobs: Vec<_> = st
        .jobs
        .iter()
        .map(|c| (c.group.as_str(), c.state, c.count))
        .collect();
    let mut sorted = jobs;
    sorted.sort_by_key(|&(g, st, _)| (g.to_string(), st.as_str()));
    assert_eq!(
        sorted,
        vec![
            ("a", JobState::Failed, 1),
            ("a", JobState::Queued, 2),
            ("b", JobState::Running, 1),
        ]
    );
    let queues: Vec<_> = st
        .queues
        .iter()
        .map(|q| (q.group.as_str(), q.runs, q.oldest_due))
        .collect();
    assert_eq!(queues, vec![("a", 3, Some(300))]);
    let ended: Vec<_> = st
        .ended
        .iter()
        .map(|e| (e.group.as_str(), e.outcome, e.count))
        .collect();
    assert_eq!(
        ended,
        vec![
            ("b", RunOutcome::Failed, 1),
            ("b", RunOutcome::Succeeded, 2)
        ]
    );
    // Nothing due yet: the queue is counted but has no age.
    let early = s.stats(100, 60_000).unwrap();
    assert_eq!(early.queues[0].oldest_due, None);
    assert_eq!(early.queues[0].runs, 3);
    assert_eq!(st.clone().only("b").queues, vec![]);
    s.commit().unwrap();
}

fn runs_by_minute_with_fire_lag(s: &mut dyn Store) {
    const M: Millis = 60_000;
    s.begin().unwrap();
    assert!(s.runs_by_minute(0).unwrap().is_empty());
    let a = insert(s, now_job("a", "1"));
    let b = insert(s, now_job("b", "1"));
    // (job, run, attempt, tick, started, ended, outcome)
    let rows = [
        (
            &a,
            1,
            1,
            10 * M,
            Some(10 * M + 500),
            10 * M + 1_000,
            RunOutcome::Succeeded,
        ),
        (
            &a,
            2,
            1,
            10 * M + 100,
            Some(10 * M + 1_600),
            10 * M + 59_999,
            RunOutcome::Succeeded,
        ),
        // A retry waited for its backoff, not for a worker: no fire lag.
        (
            &a,
            2,
            2,
            10 * M + 100,
            Some(11 * M),
            11 * M + 10,
            RunOutcome::Failed,
        ),
        (&a, 3, 1, 11 * M, None, 11 * M + 20, RunOutcome::Skipped),
        (
            &b,
            1,
            1,
            9 * M,
            Some(11 * M + 5),
            11 * M + 30,
            RunOutcome::TimedOut,
        ),
        // Before the window.
        (
            &a,
            4,
            1,
            8 * M,
            Some(8 * M),
            10 * M - 1,
            RunOutcome::Succeeded,
        ),
    ];
    for (j, run, attempt, tick, started, ended, outcome) in rows {
        let mut r = RunRecord::queued(j, run, tick);
        r.attempt = attempt;
        r.started_at = started;
        r.id = s.insert_run(&r).unwrap();
        end(&mut r, outcome, ended);
        s.update_run(&r).unwrap();
    }
    // A run still going is not counted.
    let mut running = add_run(s, &b, 2, 11 * M);
    running.state = RunState::Running;
    running.started_at = Some(11 * M + 1);
    s.update_run(&running).unwrap();

    let got: Vec<_> = s
        .runs_by_minute(10 * M)
        .unwrap()
        .into_iter()
        .map(|m| {
            (
                m.group,
                m.minute / M,
                m.outcome,
                m.count,
                m.started,
                m.lag_total_ms,
                m.lag_max_ms,
            )
        })
        .collect();
    let a = || "a".to_string();
    assert_eq!(
        got,
        vec![
            (a(), 10, RunOutcome::Succeeded, 2, 2, 2_000, 1_500),
            (a(), 11, RunOutcome::Failed, 1, 0, 0, 0),
            (a(), 11, RunOutcome::Skipped, 1, 0, 0, 0),
            (
                "b".into(),
                11,
                RunOutcome::TimedOut,
                1,
                1,
                2 * M + 5,
                2 * M + 5
            ),
        ]
    );
    s.commit().unwrap();
}

fn alert(key: &str, group: &str, raised_at: Millis, state: bool) -> Alert {
    Alert {
        id: 0,
        key: key.into(),
        rule: Some("r".into()),
        group: Some(group.into()),
        task_id: None,
        run: None,
        condition: if state { "no-worker" } else { "failed" }.into(),
        message: format!("{key} at {raised_at}"),
        raised_at,
        resolved_at: None,
        state,
        silence_until: raised_at + 300_000,
        folded: 0,
        sent_folded: 0,
        target: "http://127.0.0.1:9/hook".into(),
        deliveries: Vec::new(),
        next_attempt_at: Some(raised_at),
        attempts: 0,
        seq: 0,
    }
}

fn alert_rules_and_alerts(s: &mut dyn Store) {
    s.begin().unwrap();
    let mut rule = AlertRule {
        name: "etl-failed".into(),
        when: Condition::FailuresAtLeast {
            n: 3,
            window_ms: 600_000,
        },
        group: Some("etl".into()),
        for_ms: 0,
        silence_ms: 300_000,
        to: "https://hooks.example.com/x".into(),
        template: Some("{\"text\": \"{{message}}\"}".into()),
    };
    assert!(s.put_rule(&rule, false).unwrap());
    rule.to = "cmd:/bin/true".into();
    assert!(!s.put_rule(&rule, false).unwrap(), "a name is taken once");
    assert_eq!(s.rules().unwrap()[0].to, "https://hooks.example.com/x");
    assert!(s.put_rule(&rule, true).unwrap());
    let mut other = rule.clone();
    other.name = "a-first".into();
    other.when = Condition::NoWorker;
    assert!(s.put_rule(&other, false).unwrap());
    let rules = s.rules().unwrap();
    assert_eq!(rules, vec![other.clone(), rule.clone()], "by name");
    assert!(s.delete_rule("a-first").unwrap());
    assert!(!s.delete_rule("a-first").unwrap());
    assert_eq!(s.rules().unwrap(), vec![rule]);

    let mut a = alert("k1", "etl", 1_000, false);
    a.id = s.insert_alert(&a).unwrap();
    let mut b = alert("k1", "etl", 2_000, false);
    b.task_id = Some("t".into());
    b.run = Some(4);
    b.id = s.insert_alert(&b).unwrap();
    let mut c = alert("k2", "web", 3_000, true);
    c.next_attempt_at = Some(9_000);
    c.id = s.insert_alert(&c).unwrap();
    let latest = s.latest_alert("k1").unwrap().unwrap();
    assert_eq!(
        (latest.id, latest.task_id.as_deref(), latest.run),
        (b.id, Some("t"), Some(4))
    );
    assert!(s.latest_alert("nope").unwrap().is_none());
    let stored = s.alert_by_id(a.id).unwrap().unwrap();
    assert_eq!(stored.message, a.message);
    assert!(stored.seq > 0);

    // Due deliveries, earliest first; the next one due.
    let due = s.due_alerts(5_000, 10).unwrap();
    assert_eq!(ids(&due, |x| x.id), vec![a.id, b.id]);
    assert_eq!(s.due_alerts(5_000, 1).unwrap().len(), 1);
    assert_eq!(s.next_alert_attempt().unwrap(), Some(1_000));

    // A delivery and a fold are stored, and move the alert's seq past all.
    let before = s.alert_by_id(c.id).unwrap().unwrap().seq;
    let mut a2 = stored.clone();
    a2.record(Delivery {
        target: a2.target.clone(),
        at: 1_500,
        ok: true,
        error: None,
    });
    a2.folded = 7;
    a2.sent_folded = 7;
    a2.next_attempt_at = None;
    s.update_alert(&a2).unwrap();
    let a3 = s.alert_by_id(a.id).unwrap().unwrap();
    assert_eq!(a3.deliveries, a2.deliveries);
    assert_eq!(
        (a3.folded, a3.sent_folded, a3.next_attempt_at),
        (7, 7, None)
    );
    assert!(a3.seq > before);
    assert_eq!(s.next_alert_attempt().unwrap(), Some(2_000));

    // Lists: newest first, by group; changes after a cursor, oldest change first.
    let all = s.list_alerts(&AlertQuery::default()).unwrap();
    assert_eq!(ids(&all, |x| x.id), vec![c.id, b.id, a.id]);
    let web = AlertQuery {
        group: Some("web".into()),
        ..AlertQuery::default()
    };
    assert_eq!(ids(&s.list_alerts(&web).unwrap(), |x| x.id), vec![c.id]);
    let changed = s
        .list_alerts(&AlertQuery {
            after_seq: Some(before),
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(ids(&changed, |x| x.id), vec![a.id]);
    let limited = AlertQuery {
        limit: 2,
        ..AlertQuery::default()
    };
    assert_eq!(s.list_alerts(&limited).unwrap().len(), 2);

    // Open state alerts; resolving one closes it.
    assert_eq!(ids(&s.open_state_alerts().unwrap(), |x| x.id), vec![c.id]);
    let mut c2 = s.alert_by_id(c.id).unwrap().unwrap();
    c2.resolved_at = Some(4_000);
    s.update_alert(&c2).unwrap();
    assert!(s.open_state_alerts().unwrap().is_empty());

    // Pruning takes old alerts that need nothing more: a (delivered), and
    // c once delivered; never b (its delivery is pending).
    assert_eq!(s.prune_alerts(10_000, 100).unwrap(), 1);
    assert!(s.alert_by_id(a.id).unwrap().is_none());
    c2.next_attempt_at = None;
    s.update_alert(&c2).unwrap();
    assert_eq!(s.prune_alerts(10_000, 100).unwrap(), 1);
    assert_eq!(
        ids(&s.list_alerts(&AlertQuery::default()).unwrap(), |x| x.id),
        vec![b.id]
    );
    s.commit().unwrap();
}

/// Whether `ids` increase along the slice, as one by one they would.
fn increasing(ids: &[i64]) -> bool {
    ids.windows(2).all(|w| w[0] < w[1])
}

fn insert_jobs_in_one_batch(s: &mut dyn Store) {
    s.begin().unwrap();
    let taken = insert(s, now_job("g", "taken"));
    let mut odd = job(
        "h",
        "quo'te \"x\" ✓",
        Schedule::At { at_ms: 9 },
        JobState::Scheduled,
        7,
    );
    odd.spec.command = vec!["sh".into(), "-c".into(), "echo '{\"a\": 1}' \\ ✓".into()];
    odd.spec.params.insert("k".into(), "v\nw".into());
    odd.spec.priority = -3;
    odd.next_fire = Some(i64::MAX);
    odd.run_count = u32::MAX;
    odd.note = Some("a note".into());
    let mut repeat = now_job("g", "a");
    repeat.note = Some("second".into());
    let mut batch = vec![
        now_job("g", "a"),
        // Taken by a stored job, then by an earlier job of the batch.
        now_job("g", "taken"),
        odd,
        repeat,
        now_job("g", "c"),
    ];
    let got = s.insert_jobs(&batch).unwrap();
    assert_eq!(got.len(), batch.len());
    assert_eq!((got[1], got[3]), (None, None));
    let new: Vec<i64> = [0, 2, 4].iter().filter_map(|&i| got[i]).collect();
    assert_eq!(new.len(), 3);
    assert!(increasing(&new), "{new:?}");
    // Every field round-trips, and the first job of a repeated key is stored.
    for (&i, &id) in [0, 2, 4].iter().zip(&new) {
        batch[i].id = id;
        assert_eq!(s.job_by_id(id).unwrap(), Some(batch[i].clone()));
    }
    assert_eq!(s.job_by_key("g", "a").unwrap().map(|j| j.note), Some(None));
    assert_eq!(s.job_by_key("g", "taken").unwrap(), Some(taken));
    assert_eq!(s.count_jobs(&JobQuery::default()).unwrap(), 4);

    assert!(s.insert_jobs(&[]).unwrap().is_empty());
    assert_eq!(s.insert_jobs(&batch[..2]).unwrap(), vec![None, None]);
    s.commit().unwrap();
    assert_eq!(s.job_by_key("g", "c").unwrap(), Some(batch[4].clone()));
}

/// A job with idempotency key `key`.
fn keyed(group: &str, task: &str, key: &str) -> JobRecord {
    let mut j = now_job(group, task);
    j.spec.idempotency_key = Some(key.into());
    j
}

fn idempotency_keys_are_unique_and_found(s: &mut dyn Store) {
    s.begin().unwrap();
    let first = insert(s, keyed("g", "first", "k1"));
    assert_eq!(s.job_by_idempotency_key("k1").unwrap(), Some(first.clone()));
    assert_eq!(s.job_by_idempotency_key("k2").unwrap(), None);
    // A second job with the key is not stored, one by one or in a batch,
    // and the transaction goes on (no error aborts it on PostgreSQL).
    assert_eq!(s.insert_job(&keyed("h", "second", "k1")).unwrap(), None);
    let got = s
        .insert_jobs(&[
            keyed("g", "third", "k1"),
            keyed("g", "fourth", "k4"),
            keyed("g", "fifth", "k4"),
            now_job("g", "keyless-1"),
            now_job("g", "keyless-2"),
        ])
        .unwrap();
    assert_eq!(got[0], None);
    assert!(got[1].is_some() && got[2].is_none(), "{got:?}");
    assert!(got[3].is_some() && got[4].is_some(), "{got:?}");
    s.commit().unwrap();
    assert_eq!(s.count_jobs(&JobQuery::default()).unwrap(), 4);
    let fourth = s.job_by_idempotency_key("k4").unwrap().expect("stored");
    assert_eq!(fourth.spec.task_id, "fourth");
    // The key lives as long as the job row.
    s.begin().unwrap();
    s.delete_job(first.id).unwrap();
    assert_eq!(s.job_by_idempotency_key("k1").unwrap(), None);
    assert!(s.insert_job(&keyed("h", "second", "k1")).unwrap().is_some());
    s.commit().unwrap();
}

fn insert_runs_in_one_batch(s: &mut dyn Store) {
    s.begin().unwrap();
    let a = insert(s, now_job("g", "a"));
    let b = insert(s, now_job("h", "b"));
    let stored = add_run(s, &a, 1, 100);
    let mut ended = RunRecord::queued(&b, 2, 250);
    end(&mut ended, RunOutcome::Failed, 300);
    ended.attempt = 3;
    ended.due_at = 260;
    ended.exit_code = Some(-9);
    ended.worker = Some("w ✓".into());
    ended.started_at = Some(270);
    ended.lease_until = Some(i64::MAX);
    ended.fence = 42;
    ended.priority = -5;
    let mut runs = vec![
        RunRecord::queued(&a, 2, 200),
        RunRecord::queued(&b, 1, 100),
        ended,
    ];
    let new = s.insert_runs(&runs).unwrap();
    assert_eq!(new.len(), runs.len());
    assert!(increasing(&new), "{new:?}");
    assert!(new[0] > stored.id);
    for (r, id) in runs.iter_mut().zip(&new) {
        r.id = *id;
        assert_eq!(s.run_by_id(*id).unwrap(), Some(r.clone()));
    }
    assert!(s.insert_runs(&[]).unwrap().is_empty());

    // A run of a taken (run, attempt) or (tick, attempt), or one the batch
    // repeats, is a Conflict; the savepoint undoes the rest of the batch.
    let refused = [
        vec![RunRecord::queued(&a, 3, 300), RunRecord::queued(&a, 1, 999)],
        vec![RunRecord::queued(&a, 3, 300), RunRecord::queued(&a, 4, 200)],
        vec![RunRecord::queued(&b, 3, 300), RunRecord::queued(&b, 3, 301)],
    ];
    for batch in refused {
        s.savepoint().unwrap();
        let got = s.insert_runs(&batch);
        assert!(matches!(got, Err(StoreError::Conflict(_))), "{got:?}");
        s.rollback_to_savepoint().unwrap();
        s.release_savepoint().unwrap();
    }
    assert!(s.runs_numbered(a.id, 3).unwrap().is_empty());
    assert!(s.runs_numbered(b.id, 3).unwrap().is_empty());
    let later = s.insert_runs(&[RunRecord::queued(&b, 3, 300)]).unwrap();
    s.commit().unwrap();
    assert_eq!(
        ids(&s.open_runs(b.id).unwrap(), |r| r.id),
        vec![new[1], later[0]]
    );
}

fn flow_record(id: &str, next_fire: Option<Millis>, state: FlowState) -> FlowRecord {
    let mut step = JobSpec::new("g", "x");
    step.command = vec!["true".into()];
    FlowRecord {
        id: id.into(),
        spec: FlowSpec {
            name: format!("flow-{id}"),
            cron: next_fire.map(|_| "* * * * * ?".to_string()),
            tz: None,
            on_failure: OnFailure::Continue,
            overlap: Overlap::Allow,
            steps: vec![FlowStep {
                name: "x".into(),
                after: Vec::new(),
                job: step,
            }],
        },
        state,
        created_at: 10,
        updated_at: 10,
        next_fire,
        run_count: 0,
        note: None,
    }
}

fn dependencies_and_flows(s: &mut dyn Store) {
    s.begin().unwrap();
    let a = insert(s, now_job("g", "a"));
    let b = insert(s, now_job("h", "b"));
    let w = insert(s, job("g", "w", Schedule::Now, JobState::Waiting, 1));
    let v = insert(s, job("g", "v", Schedule::Now, JobState::Waiting, 1));
    s.insert_dep(w.id, a.id).unwrap();
    s.insert_dep(w.id, b.id).unwrap();
    s.insert_dep(w.id, b.id).unwrap(); // once is enough
    s.insert_dep(v.id, b.id).unwrap();
    assert_eq!(
        ids(&s.dependencies(w.id).unwrap(), |j| j.id),
        vec![a.id, b.id]
    );
    assert!(s.dependencies(a.id).unwrap().is_empty());
    // Who waits for a job, read both ways round, and for several at once.
    assert_eq!(ids(&s.dependents(&[a.id]).unwrap(), |j| j.id), vec![w.id]);
    assert_eq!(
        ids(&s.dependents(&[b.id, a.id]).unwrap(), |j| j.id),
        vec![w.id, v.id]
    );
    assert!(s.dependents(&[]).unwrap().is_empty());
    assert_eq!(s.dependents(&[a.id]).unwrap()[0].state, JobState::Waiting);
    // A replaced job keeps its waiters; a deleted one takes its links along.
    let b2 = insert(s, now_job("h", "b2"));
    s.repoint_deps(b.id, b2.id).unwrap();
    assert!(s.dependents(&[b.id]).unwrap().is_empty());
    assert_eq!(
        ids(&s.dependents(&[b2.id]).unwrap(), |j| j.id),
        vec![w.id, v.id]
    );
    s.delete_job(a.id).unwrap();
    assert_eq!(ids(&s.dependencies(w.id).unwrap(), |j| j.id), vec![b2.id]);

    // Flows: stored, listed newest first, due by their tick, with their steps' jobs.
    assert_eq!(s.next_fire_at().unwrap(), None);
    let mut f1 = flow_record("f1", Some(500), FlowState::Active);
    s.insert_flow(&f1).unwrap();
    s.insert_flow(&flow_record("f2", None, FlowState::Active))
        .unwrap();
    s.insert_flow(&flow_record("f3", Some(100), FlowState::Cancelled))
        .unwrap();
    assert_eq!(s.flow_by_id("f1").unwrap(), Some(f1.clone()));
    assert_eq!(s.flow_by_id("nope").unwrap(), None);
    let listed: Vec<String> = s.list_flows(0).unwrap().into_iter().map(|f| f.id).collect();
    assert_eq!(listed, ["f3", "f2", "f1"]);
    assert_eq!(s.list_flows(1).unwrap().len(), 1);
    assert_eq!(s.next_fire_at().unwrap(), Some(100));
    let due: Vec<String> = s
        .due_flows(1_000, 10)
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(due, ["f1"], "cancelled flows are not due");
    assert!(s.due_flows(499, 10).unwrap().is_empty());
    f1.run_count = 1;
    f1.next_fire = Some(2_000);
    f1.note = Some("a tick was skipped".into());
    f1.updated_at = 600;
    s.update_flow(&f1).unwrap();
    assert_eq!(s.flow_by_id("f1").unwrap(), Some(f1.clone()));
    s.insert_flow_step("f1", 1, "w", w.id).unwrap();
    s.insert_flow_step("f1", 1, "v", v.id).unwrap();
    let steps: Vec<(String, i64)> = s
        .flow_jobs("f1", 1)
        .unwrap()
        .into_iter()
        .map(|(step, j)| (step, j.id))
        .collect();
    assert_eq!(steps, [("w".to_string(), w.id), ("v".to_string(), v.id)]);
    assert!(s.flow_jobs("f1", 2).unwrap().is_empty());
    // The read-only twins answer the same.
    assert_eq!(s.read_flow("f1").unwrap(), Some(f1.clone()));
    assert_eq!(s.read_flow("nope").unwrap(), None);
    let read: Vec<i64> = s
        .read_flow_jobs("f1", 1)
        .unwrap()
        .into_iter()
        .map(|(_, j)| j.id)
        .collect();
    assert_eq!(read, [w.id, v.id]);
    // A step whose job is deleted (retention) leaves its run.
    s.delete_job(v.id).unwrap();
    assert_eq!(s.flow_jobs("f1", 1).unwrap().len(), 1);
    s.commit().unwrap();
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let mut store = lts::store::SqliteStore::open(&dir.path().join("lts.db")).unwrap();
                    super::$name(&mut store);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    let Some(db) = super::pg::TestDb::create() else { return };
                    let mut store = lts::store::PostgresStore::open(&db.url).unwrap();
                    super::$name(&mut store);
                }
            )*
        }
    };
}

/// A fanned-out tick: its runs share the tick, each its own part; they
/// round-trip through every write; a run pinned to a worker is claimed by
/// that worker only and counts as due for it alone.
fn fanned_out_ticks_and_pinned_runs(s: &mut dyn Store) {
    s.begin().unwrap();
    let j = insert(s, now_job("g", "fan"));
    let part = |n: u32, part: Part| {
        let mut r = RunRecord::queued(&j, n, 100);
        r.part = part;
        r
    };
    let mut shards: Vec<RunRecord> = (0..3)
        .map(|i| part(i + 1, Part::Shard { index: i, of: 3 }))
        .collect();
    let ids = s.insert_runs(&shards).unwrap();
    for (r, id) in shards.iter_mut().zip(ids) {
        r.id = id;
        assert_eq!(s.run_by_id(id).unwrap(), Some(r.clone()));
    }
    // A part the tick already has, at that attempt, is refused.
    s.savepoint().unwrap();
    let again = s.insert_run(&part(9, Part::Shard { index: 1, of: 3 }));
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    s.rollback_to_savepoint().unwrap();
    s.release_savepoint().unwrap();
    let mut retry = shards[1].clone();
    retry.attempt = 2;
    retry.id = s.insert_run(&retry).unwrap();
    let tick = s.tick_runs(j.id, 100).unwrap();
    assert_eq!(
        ids_of(&tick),
        vec![shards[0].id, shards[1].id, retry.id, shards[2].id]
    );
    assert!(s.tick_runs(j.id, 101).unwrap().is_empty());

    // A broadcast tick, given out: one run pinned to each worker.
    let other = insert(s, job("b", "cast", Schedule::Now, JobState::Queued, 1_000));
    let mut pending = RunRecord::queued(&other, 1, 50);
    pending.part = Part::Broadcast;
    pending.id = s.insert_run(&pending).unwrap();
    assert_eq!(s.run_by_id(pending.id).unwrap(), Some(pending.clone()));
    pending.part = Part::Pinned {
        index: 0,
        worker: "w1".into(),
    };
    s.update_run(&pending).unwrap();
    let mut w2 = RunRecord::queued(&other, 2, 50);
    w2.part = Part::Pinned {
        index: 1,
        worker: "w2 ✓".into(),
    };
    w2.id = s.insert_run(&w2).unwrap();
    let plain = add_run(s, &other, 3, 60);
    assert_eq!(s.run_by_id(pending.id).unwrap(), Some(pending.clone()));
    assert_eq!(
        ids_of(&s.queued_pinned("b").unwrap()),
        vec![pending.id, w2.id]
    );
    assert!(s.queued_pinned("g").unwrap().is_empty());
    assert_eq!(s.next_due_at("b", "w3").unwrap(), Some(60));
    assert_eq!(s.next_due_at("b", "w1").unwrap(), Some(50));

    let claim = |worker: &str| StartClaim {
        group: "b".into(),
        worker: worker.into(),
        now: 1_000,
        lease_until: 2_000,
        fence: 7,
        limit: 10,
    };
    let started = s.start_runs(&claim("w3")).unwrap();
    let got: Vec<i64> = started.runs.iter().map(|(r, _)| r.id).collect();
    assert_eq!(got, vec![plain.id], "w3 may take no pinned run");
    let started = s.start_runs(&claim("w2 ✓")).unwrap();
    let (run, _) = &started.runs[0];
    assert_eq!((started.runs.len(), run.id), (1, w2.id));
    assert_eq!(run.part, w2.part);
    assert_eq!(ids_of(&s.queued_pinned("b").unwrap()), vec![pending.id]);
    // Many rows at once keep the parts too.
    let mut ended = s.runs_by_ids(&[pending.id, w2.id]).unwrap();
    for r in &mut ended {
        end(r, RunOutcome::Succeeded, 3_000);
    }
    s.update_runs(&ended).unwrap();
    assert_eq!(s.runs_by_ids(&[pending.id, w2.id]).unwrap(), ended);
    assert!(s.queued_pinned("b").unwrap().is_empty());
    s.commit().unwrap();
}

fn ids_of(runs: &[RunRecord]) -> Vec<i64> {
    runs.iter().map(|r| r.id).collect()
}

contract!(
    jobs_insert_lookup_update_delete,
    list_jobs_filters_and_limits,
    runs_and_their_orders,
    due_jobs_and_next_fire,
    due_runs_by_priority_then_age,
    leases_and_workers,
    batch_reads_and_writes,
    fences_increase,
    feedback_push_after_ack,
    prune_jobs_and_runs,
    logs_append_read_trim,
    savepoints_and_rollback,
    leader_lease,
    stats_by_group_state_queue_and_window,
    runs_by_minute_with_fire_lag,
    alert_rules_and_alerts,
    insert_jobs_in_one_batch,
    insert_runs_in_one_batch,
    fanned_out_ticks_and_pinned_runs,
    dependencies_and_flows,
    idempotency_keys_are_unique_and_found,
);

#[test]
fn sqlite_store_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lts.db");
    let mut s = SqliteStore::open(&path).unwrap();
    s.begin().unwrap();
    let j = insert(&mut s, now_job("g", "a"));
    s.commit().unwrap();
    drop(s);
    let mut s = SqliteStore::open(&path).unwrap();
    assert!(s.job_by_id(j.id).unwrap().is_some());
}

#[test]
fn postgres_two_stores_claim_disjoint_runs() {
    let Some(db) = pg::TestDb::create() else {
        return;
    };
    let mut a = PostgresStore::open(&db.url).unwrap();
    let mut b = PostgresStore::open(&db.url).unwrap();
    a.begin().unwrap();
    let j = insert(&mut a, now_job("g", "a"));
    let runs: Vec<i64> = (1..=5)
        .map(|n| add_run(&mut a, &j, n, n as i64).id)
        .collect();
    a.commit().unwrap();

    // Each in its own open transaction: the second never sees the first's claims.
    a.begin().unwrap();
    b.begin().unwrap();
    let first = ids(&a.due_runs("g", 100, 2).unwrap(), |r| r.id);
    let second = ids(&b.due_runs("g", 100, 10).unwrap(), |r| r.id);
    assert_eq!(first, runs[..2].to_vec());
    assert_eq!(second, runs[2..].to_vec());
    // Expired leases likewise: one tracker re-queues each.
    b.commit().unwrap();
    a.commit().unwrap();
}

#[test]
fn postgres_two_stores_start_disjoint_runs_and_pass_busy_jobs() {
    let Some(db) = pg::TestDb::create() else {
        return;
    };
    let mut a = PostgresStore::open(&db.url).unwrap();
    let mut b = PostgresStore::open(&db.url).unwrap();
    a.begin().unwrap();
    // A job each: a claim locks the jobs of the runs it starts.
    let runs: Vec<i64> = (1..=5)
        .map(|n| {
            let j = insert(&mut a, now_job("g", &format!("j{n}")));
            add_run(&mut a, &j, 1, n as i64).id
        })
        .collect();
    let busy = insert(&mut a, now_job("g", "busy"));
    let busy_run = add_run(&mut a, &busy, 1, 0).id;
    a.commit().unwrap();
    let claim = |worker: &str, limit| StartClaim {
        group: "g".into(),
        worker: worker.into(),
        now: 100,
        lease_until: 200,
        fence: 1,
        limit,
    };
    // A cancel holds one job; two trackers claim at once: neither waits,
    // neither starts a run the other did, and the busy job's run stays.
    let mut c = PostgresStore::open(&db.url).unwrap();
    c.begin().unwrap();
    assert!(c.job_by_id(busy.id).unwrap().is_some());
    a.begin().unwrap();
    b.begin().unwrap();
    let first = a.start_runs(&claim("wa", 2)).unwrap();
    let second = b.start_runs(&claim("wb", 10)).unwrap();
    let first = ids(&first.runs, |(r, _)| r.id);
    let second = ids(&second.runs, |(r, _)| r.id);
    assert_eq!(first, runs[..2].to_vec());
    assert_eq!(second, runs[2..].to_vec());
    a.commit().unwrap();
    b.commit().unwrap();
    c.commit().unwrap();
    a.begin().unwrap();
    assert_eq!(
        ids(&a.due_runs("g", 100, 10).unwrap(), |r| r.id),
        vec![busy_run]
    );
    a.commit().unwrap();
}

#[test]
fn postgres_a_claim_need_not_wait_for_a_busy_job() {
    let Some(db) = pg::TestDb::create() else {
        return;
    };
    let mut a = PostgresStore::open(&db.url).unwrap();
    let mut b = PostgresStore::open(&db.url).unwrap();
    a.begin().unwrap();
    let j = insert(&mut a, now_job("g", "a"));
    let run = add_run(&mut a, &j, 1, 1).id;
    a.commit().unwrap();

    // A cancel's order: the job, then its run. Another tracker holding the
    // run is told the job is busy rather than made to wait for it.
    a.begin().unwrap();
    assert_eq!(a.job_of_run(run).unwrap().map(|j| j.id), Some(j.id));
    b.begin().unwrap();
    assert!(b.run_exists(run).unwrap());
    assert!(b.job_if_free(j.id).unwrap().is_none());
    a.commit().unwrap();
    assert_eq!(b.job_if_free(j.id).unwrap().map(|j| j.id), Some(j.id));
    b.commit().unwrap();
}

#[test]
fn postgres_check_leader_locks_the_lease_until_commit() {
    let Some(db) = pg::TestDb::create() else {
        return;
    };
    let mut a = PostgresStore::open(&db.url).unwrap();
    a.begin().unwrap();
    assert_eq!(a.acquire_leadership("t1", 1_000, 500).unwrap(), Some(1));
    a.commit().unwrap();
    a.begin().unwrap();
    assert!(a.check_leader("t1", 1, 1_100).unwrap());
    let mut other = db.client();
    let err = other
        .batch_execute("SELECT 1 FROM leader FOR UPDATE NOWAIT")
        .expect_err("the lease row is locked while the leader's transaction is open");
    assert!(
        err.to_string().contains("lock") || err.as_db_error().is_some(),
        "{err}"
    );
    a.commit().unwrap();
    other
        .batch_execute("SELECT 1 FROM leader FOR UPDATE NOWAIT")
        .unwrap();
}

#[test]
fn postgres_fences_are_unique_across_stores() {
    let Some(db) = pg::TestDb::create() else {
        return;
    };
    let mut a = PostgresStore::open(&db.url).unwrap();
    let mut b = PostgresStore::open(&db.url).unwrap();
    a.begin().unwrap();
    b.begin().unwrap();
    let fa = a.reserve_fences(10).unwrap();
    let fb = b.reserve_fences(10).unwrap();
    assert!(fb >= fa + 10, "{fa}..{} and {fb}", fa + 10);
    b.commit().unwrap();
    a.rollback().unwrap();
    a.begin().unwrap();
    assert!(
        a.reserve_fences(1).unwrap() >= fb + 10,
        "fences never go back, even after a rollback"
    );
    a.commit().unwrap();
}

#[test]
fn postgres_work_notifications_reach_every_listener() {
    let Some(db) = pg::TestDb::create() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, mut b) = rt.block_on(async {
        let a = lts::store::postgres::listen_work(&db.url).await.unwrap();
        let b = lts::store::postgres::listen_work(&db.url).await.unwrap();
        (a, b)
    });
    rt.block_on(a.notify("g1")).unwrap();
    let got = rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(30), b.recv()).await
    });
    assert_eq!(got.unwrap().as_deref(), Some("g1"));
}

#[test]
fn postgres_reopen_migrates_once_and_refuses_newer_schemas() {
    let Some(db) = pg::TestDb::create() else {
        return;
    };
    let mut s = PostgresStore::open(&db.url).unwrap();
    s.begin().unwrap();
    let j = insert(&mut s, now_job("g", "a"));
    s.commit().unwrap();
    drop(s);
    let mut s = PostgresStore::open(&db.url).unwrap();
    assert!(s.job_by_id(j.id).unwrap().is_some());
    drop(s);
    db.client()
        .batch_execute("UPDATE schema_version SET version = 999")
        .unwrap();
    match PostgresStore::open(&db.url) {
        Err(e @ StoreError::NewerSchema { .. }) => assert!(e.to_string().contains("999"), "{e}"),
        other => panic!("expected NewerSchema, got {:?}", other.err()),
    }
}

#[test]
fn postgres_foreign_tables_are_refused() {
    let Some(db) = pg::TestDb::create() else {
        return;
    };
    db.client()
        .batch_execute("CREATE TABLE jobs (x INT)")
        .unwrap();
    assert!(matches!(
        PostgresStore::open(&db.url),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn postgres_open_failures_are_one_line() {
    // These need no server.
    for url in [
        "postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=5",
        "postgres://127.0.0.1:5432/x?sslmode=bogus",
    ] {
        match PostgresStore::open(url) {
            Err(e @ StoreError::Open { .. }) => {
                let text = e.to_string();
                assert!(!text.contains('\n'), "{text}");
                assert!(
                    !text.contains("secret"),
                    "the password is not shown: {text}"
                );
            }
            other => panic!("{url}: expected Open, got {:?}", other.err()),
        }
    }
    // A database that does not exist on a server that does.
    let Some(server) = pg::server() else { return };
    let url = pg::with_database(&server, "lts_t_missing_database");
    match PostgresStore::open(&url) {
        Err(e @ StoreError::Open { .. }) => {
            assert!(e.to_string().contains("does not exist"), "{e}")
        }
        other => panic!("expected Open, got {:?}", other.err()),
    }
}

#[test]
fn postgres_lost_connection_is_an_error_then_reconnects() {
    let Some(db) = pg::TestDb::create() else {
        return;
    };
    let mut s = PostgresStore::open(&db.url).unwrap();
    s.begin().unwrap();
    let j = insert(&mut s, now_job("g", "a"));
    s.commit().unwrap();
    let terminate = || {
        db.client()
            .batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'ltsd' AND datname = current_database()",
            )
            .unwrap()
    };
    // Lost while idle (a server restart): the next transaction notices at
    // BEGIN, before doing anything, and starts on a new connection.
    terminate();
    s.begin().unwrap();
    assert!(s.job_by_id(j.id).unwrap().is_some());
    s.commit().unwrap();
    // Lost inside a transaction: that transaction fails, without a panic...
    s.begin().unwrap();
    terminate();
    let failed = s.job_by_id(j.id);
    assert!(failed.is_err(), "{failed:?}");
    let _ = s.rollback();
    // ...and the next one runs on a new connection.
    s.begin().unwrap();
    assert!(s.job_by_id(j.id).unwrap().is_some());
    s.commit().unwrap();
}
