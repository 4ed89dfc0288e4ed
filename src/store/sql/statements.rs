//! The statements and index definitions both stores run, built once per
//! dialect: written here with `?N` parameters and the model's state names,
//! finished by `Dialect` (placeholders, locks, index hints).

use super::{quoted, Dialect};
use crate::model::{JobKind, JobState, RunState};
use crate::store::MINUTE_MS;

/// A job's columns as `sql::job` reads them; its key comes last, read
/// apart from the spec so that a row whose spec cannot be read still names
/// its job.
pub const JOB_COLUMNS: &str =
    "id, spec, state, submitted_at, updated_at, next_fire, run_count, note, grp, task_id";
/// The columns of `jobs` a job is inserted with (its id is assigned).
const JOB_FIELDS: &str = "grp, task_id, kind, state, spec, submitted_at, updated_at, next_fire, \
     run_count, note, idem_key";
/// The columns of `runs` but `id`, in `RUN_COLUMNS`' order.
const RUN_FIELDS: &str = "job_id, grp, priority, run, attempt, state, scheduled_at, due_at, \
     outcome, exit_code, worker, started_at, ended_at, lease_until, fence, reason, \
     fan, part, part_of, pinned";
pub const FLOW_COLUMNS: &str =
    "id, spec, state, created_at, updated_at, next_fire, run_count, note";
pub const LOG_COLUMNS: &str = "run_id, seq, stream, line, at";
const LOG_STATS_COLUMNS: &str = "head_bytes, head_last, tail_bytes, dropped_lines, dropped_bytes";
const FEEDBACK_FIELDS: &str =
    "client_group, task_id, grp, run, attempt, outcome, exit_code, reason, ended_at";
/// The columns of `alerts` but `id`, in `ALERT_COLUMNS`' order.
const ALERT_FIELDS: &str = "key, rule, grp, task_id, run, condition, message, raised_at, \
     resolved_at, state, silence_until, folded, sent_folded, target, deliveries, next_attempt_at, \
     attempts, seq";

/// The runs whose fire lag `runs_by_minute` measures: first attempts that started.
const LAGGED: &str = "attempt = 1 AND started_at IS NOT NULL";

/// `?1, ?2, .., ?n`.
fn params(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `columns`, each of the table aliased `alias`.
fn of(alias: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The indexes both schemas define alike, by name. A migration names one
/// as `{name}` (see `expand`), since queries name them too (`INDEXED BY`,
/// SQLite) and must state a partial index's WHERE clause to the letter.
pub struct Indexes(Vec<(&'static str, String)>);

impl Indexes {
    /// `migration` with each `{name}` replaced by that index's definition.
    pub fn expand(&self, migration: &str) -> Result<String, String> {
        let mut out = String::with_capacity(migration.len());
        let mut rest = migration;
        while let Some(start) = rest.find('{') {
            let end = rest[start..]
                .find('}')
                .map(|end| start + end)
                .ok_or("an unclosed '{'")?;
            let name = &rest[start + 1..end];
            out.push_str(&rest[..start]);
            out.push_str(self.get(name).ok_or(format!("no shared index '{name}'"))?);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The `CREATE INDEX` statement of the index `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, ddl)| ddl.as_str())
    }
}

/// Every statement the shared `Store` implementation runs, in one dialect.
/// Parameters are numbered in the order the field's comment gives.
pub struct Statements {
    /// grp, task_id, kind, state, spec, submitted_at, updated_at, next_fire,
    /// run_count, note, idem_key; returns the id, or nothing when the key
    /// (or the idempotency key) is taken.
    pub insert_job: String,
    /// id, state, updated_at, next_fire, run_count, note.
    pub update_job: String,
    /// id, spec, kind.
    pub update_spec: String,
    /// id, note, updated_at: set aside a job whose row cannot be read.
    pub quarantine_job: String,
    /// id.
    pub delete_job: String,
    /// grp, task_id.
    pub job_by_key: String,
    /// id.
    pub job_by_id: String,
    /// idem_key.
    pub job_by_idempotency_key: String,
    /// id.
    pub job_if_free: String,
    /// task_id.
    pub jobs_by_task_id: String,
    /// The `JobQuery` filters (group, state, kind, text), before id, limit.
    pub list_jobs: String,
    /// The `JobQuery` filters.
    pub count_jobs: String,
    /// run id.
    pub job_of_run: String,
    /// now, limit.
    pub due_jobs: String,
    pub next_fire_at: String,

    /// The `RUN_FIELDS`; returns the id, or nothing on a conflict.
    pub insert_run: String,
    /// id, state, due_at, outcome, exit_code, worker, started_at, ended_at,
    /// lease_until, fence, reason, priority, fan, part, part_of, pinned.
    pub update_run: String,
    /// id.
    pub run_by_id: String,
    /// id.
    pub run_exists: String,
    /// job id, before run (or NULL), limit.
    pub runs_before: String,
    /// job id, run.
    pub runs_numbered: String,
    /// job id.
    pub open_runs: String,
    /// job id, scheduled_at.
    pub tick_exists: String,
    /// job id, scheduled_at: every attempt of the tick's runs.
    pub tick_runs: String,
    /// grp, now, limit.
    pub due_runs: String,
    /// worker, now, lease until, fence, group, limit: start due runs, set-based.
    pub start_runs: String,
    /// JSON array of job ids: those jobs, by id.
    pub jobs_by_ids: String,
    /// new state, now, JSON array of job ids, JSON array of the states moved from.
    pub move_jobs: String,
    /// JSON array of run ids: their jobs, by id, locked.
    pub jobs_of_runs: String,
    /// JSON array of run ids: those runs, by id, locked.
    pub runs_by_ids: String,
    /// JSON array of job ids: their open runs, by job, run and attempt.
    pub open_runs_of: String,
    /// JSON array of `update_run`'s parameters, one array per run.
    pub update_runs: String,
    /// JSON array of `update_job`'s parameters, one array per job.
    pub update_jobs: String,
    /// grp, worker: the earliest due time of the runs it may claim.
    pub next_due_at: String,
    /// grp: its queued runs pinned to a worker.
    pub queued_pinned: String,
    /// now, limit.
    pub expired_runs: String,
    /// worker.
    pub running_runs_of: String,
    pub next_lease_expiry: String,

    /// (grp, state, count) of jobs.
    pub job_counts: String,
    /// now; (grp, count, oldest due time at now) of queued runs.
    pub queue_counts: String,
    /// since; (grp, outcome, count) of runs ended after it.
    pub ended_counts: String,
    /// since; `MinuteRow`s.
    pub runs_by_minute: String,

    /// The `FEEDBACK_FIELDS`; returns the id.
    pub push_feedback: String,
    /// client_group, after id, limit.
    pub feedback_after: String,
    /// client_group, up to id.
    pub ack_feedback: String,

    /// cutoff, limit.
    pub prune_jobs: String,
    /// cutoff, limit.
    pub prune_runs: String,
    /// cutoff, limit.
    pub prune_alerts: String,

    /// run id.
    pub log_stats: String,
    /// run id, then the `LOG_STATS_COLUMNS`.
    pub set_log_stats: String,
    /// run id, after seq, limit.
    pub logs_after: String,
    /// run id, limit.
    pub logs_tail: String,

    /// name, rule: replacing one of the same name.
    pub replace_rule: String,
    /// name, rule: leaving one of the same name.
    pub add_rule: String,
    /// name.
    pub delete_rule: String,
    pub rules: String,

    /// The `ALERT_FIELDS`; returns the id.
    pub insert_alert: String,
    /// id, message, resolved_at, silence_until, folded, sent_folded,
    /// deliveries, next_attempt_at, attempts, seq, run, task_id.
    pub update_alert: String,
    /// key.
    pub latest_alert: String,
    /// id.
    pub alert_by_id: String,
    /// after seq, grp (or NULL), limit.
    pub alerts_after_seq: String,
    /// grp (or NULL), limit.
    pub newest_alerts: String,
    /// now, limit.
    pub due_alerts: String,
    pub next_alert_attempt: String,
    pub open_state_alerts: String,

    /// holder, now, ttl; returns the epoch when `holder` holds the lease.
    pub acquire_leadership: String,
    /// holder, epoch, now.
    pub check_leader: String,

    /// The indexes both schemas define alike.
    pub indexes: Indexes,
    /// `Dialect::batch_rows`.
    pub batch_rows: bool,

    /// JSON array of jobs, each an object of the `JOB_FIELDS`; returns
    /// (id, grp, task_id) of each job inserted, in no order: one whose key
    /// is taken is left out.
    pub insert_jobs: String,
    /// JSON array of runs, each an object of the `RUN_FIELDS`; returns
    /// (id, job_id, run, attempt) of each run inserted, in no order: one
    /// that conflicts is left out.
    pub insert_runs: String,

    /// job id, the id of a job it runs after.
    pub insert_dep: String,
    /// job id: the jobs it runs after, by id.
    pub dependencies: String,
    /// JSON array of job ids: the jobs that run after any of them, by id, locked.
    pub dependents: String,
    /// old job id, new job id: the jobs waiting for the old one wait for the new.
    pub repoint_deps: String,

    /// The `FLOW_COLUMNS`, then the flow's name.
    pub insert_flow: String,
    /// id, state, updated_at, next_fire, run_count, note.
    pub update_flow: String,
    /// id.
    pub flow_by_id: String,
    /// limit: the newest flows.
    pub list_flows: String,
    /// now, limit.
    pub due_flows: String,
    /// flow id, run, step, job id.
    pub insert_flow_step: String,
    /// flow id, run: the steps' jobs (`JOB_COLUMNS`, then the step's name), locked.
    pub flow_jobs: String,
    /// id: a flow, read only (nothing locked).
    pub read_flow: String,
    /// flow id, run: `flow_jobs`, read only (nothing locked).
    pub read_flow_jobs: String,
}

impl Statements {
    pub fn new(d: &Dialect) -> Self {
        let quoted_list = |names: &mut dyn Iterator<Item = &'static str>| {
            names.map(quoted).collect::<Vec<_>>().join(", ")
        };
        let queued = quoted(RunState::Queued.as_str());
        let running = quoted(RunState::Running.as_str());
        let done = quoted(RunState::Done.as_str());
        let suspended = quoted(JobState::Suspended.as_str());
        let one_off = quoted_list(&mut [JobKind::Now, JobKind::At].iter().map(|k| k.as_str()));
        // Named as the `jobs_finished` index names them, to the letter.
        let finished = quoted_list(&mut JobState::ENDED.iter().map(|s| s.as_str()));
        let index =
            |name: &'static str, on: String| (name, format!("CREATE INDEX {name} ON {on};"));
        let ix = |name: &str| d.index(name);
        // A statement, written with `?N` parameters, in the dialect.
        macro_rules! sql {
            ($($text:tt)*) => { d.finish(format!($($text)*)) };
        }
        let (lock, skip) = (d.for_update, d.skip_locked);
        let job_filter = format!(
            "(CAST(?1 AS TEXT) IS NULL OR grp = ?1) AND (CAST(?2 AS TEXT) IS NULL OR state = ?2) \
             AND (CAST(?3 AS TEXT) IS NULL OR kind = ?3) \
             AND (CAST(?4 AS TEXT) IS NULL OR {}(task_id, ?4) > 0)",
            d.instr
        );
        let jobs = format!("SELECT {JOB_COLUMNS} FROM jobs");
        let runs = format!("SELECT id, {RUN_FIELDS} FROM runs");
        let logs = format!("SELECT {LOG_COLUMNS} FROM run_logs");
        let alerts = format!("SELECT id, {ALERT_FIELDS} FROM alerts");
        let ended = format!("FROM runs{} WHERE state = {done}", ix("runs_ended"));
        let flows = format!("SELECT {FLOW_COLUMNS} FROM flows");
        let active = quoted(crate::model::FlowState::Active.as_str());
        Statements {
            insert_dep: sql!(
                "INSERT INTO job_deps (job_id, after_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
            ),
            dependencies: sql!(
                "SELECT {} FROM jobs j JOIN job_deps d ON j.id = d.after_id \
                 WHERE d.job_id = ?1 ORDER BY j.id",
                of("j", JOB_COLUMNS)
            ),
            dependents: sql!(
                "{jobs} WHERE {} ORDER BY id{lock}",
                d.in_set(
                    "id",
                    &format!(
                        "SELECT job_id FROM job_deps WHERE {}",
                        d.in_set("after_id", &d.json_ints.replace("{}", "?1"))
                    )
                )
            ),
            repoint_deps: sql!("UPDATE job_deps SET after_id = ?2 WHERE after_id = ?1"),
            insert_flow: sql!(
                "INSERT INTO flows ({FLOW_COLUMNS}, name) VALUES ({})",
                params(9)
            ),
            update_flow: sql!(
                "UPDATE flows SET state = ?2, updated_at = ?3, next_fire = ?4, run_count = ?5, \
                 note = ?6 WHERE id = ?1"
            ),
            flow_by_id: sql!("{flows} WHERE id = ?1{lock}"),
            list_flows: sql!("{flows} ORDER BY id DESC LIMIT ?1"),
            due_flows: sql!(
                "{flows} WHERE next_fire IS NOT NULL AND next_fire <= ?1 AND state = {active} \
                 ORDER BY next_fire LIMIT ?2{lock}"
            ),
            insert_flow_step: sql!(
                "INSERT INTO flow_steps (flow_id, run, step, job_id) VALUES (?1, ?2, ?3, ?4)"
            ),
            flow_jobs: sql!(
                "SELECT {}, s.step FROM flow_steps s JOIN jobs j ON j.id = s.job_id \
                 WHERE s.flow_id = ?1 AND s.run = ?2 ORDER BY j.id{lock}",
                of("j", JOB_COLUMNS)
            ),
            read_flow: sql!("{flows} WHERE id = ?1"),
            read_flow_jobs: sql!(
                "SELECT {}, s.step FROM flow_steps s JOIN jobs j ON j.id = s.job_id \
                 WHERE s.flow_id = ?1 AND s.run = ?2 ORDER BY j.id",
                of("j", JOB_COLUMNS)
            ),
            insert_job: sql!(
                "INSERT INTO jobs ({JOB_FIELDS}) VALUES ({}) \
                 ON CONFLICT DO NOTHING{}",
                params(11),
                d.returning_id
            ),
            update_job: sql!(
                "UPDATE jobs SET state = ?2, updated_at = ?3, next_fire = ?4, \
                         run_count = ?5, note = ?6 WHERE id = ?1"
            ),
            update_spec: sql!("UPDATE jobs SET spec = ?2, kind = ?3 WHERE id = ?1"),
            quarantine_job: sql!(
                "UPDATE jobs SET state = {}, note = ?2, next_fire = NULL, updated_at = ?3 \
                 WHERE id = ?1",
                quoted(JobState::Broken.as_str())
            ),
            delete_job: sql!("DELETE FROM jobs WHERE id = ?1"),
            job_by_key: sql!("{jobs} WHERE grp = ?1 AND task_id = ?2{lock}"),
            job_by_id: sql!("{jobs} WHERE id = ?1{lock}"),
            job_by_idempotency_key: sql!("{jobs} WHERE idem_key = ?1{lock}"),
            job_if_free: sql!("{jobs} WHERE id = ?1{skip}"),
            jobs_by_task_id: sql!("{jobs} WHERE task_id = ?1 ORDER BY grp{lock}"),
            list_jobs: sql!("{jobs} WHERE {job_filter} AND id < ?5 ORDER BY id DESC LIMIT ?6"),
            count_jobs: sql!("SELECT count(*) FROM jobs WHERE {job_filter}"),
            job_of_run: sql!("{jobs} WHERE id = (SELECT job_id FROM runs WHERE id = ?1){lock}"),
            due_jobs: sql!(
                "SELECT {JOB_COLUMNS} FROM jobs{} \
                 WHERE next_fire IS NOT NULL AND state != {suspended} AND next_fire <= ?1 \
                 ORDER BY next_fire LIMIT ?2{lock}",
                ix("jobs_next_fire")
            ),
            // A job's tick or a flow's, whichever comes first.
            next_fire_at: sql!(
                "SELECT min(t) FROM (SELECT min(next_fire) AS t FROM jobs{} \
                 WHERE next_fire IS NOT NULL AND state != {suspended} \
                 UNION ALL SELECT min(next_fire) AS t FROM flows \
                 WHERE next_fire IS NOT NULL) AS x",
                ix("jobs_next_fire")
            ),

            // DO NOTHING rather than an error: a unique violation would
            // abort the whole transaction on PostgreSQL.
            insert_run: sql!(
                "INSERT INTO runs ({RUN_FIELDS}) VALUES ({}) ON CONFLICT DO NOTHING{}",
                params(20),
                d.returning_id
            ),
            update_run: sql!(
                "UPDATE runs SET state = ?2, due_at = ?3, outcome = ?4, exit_code = ?5, \
                         worker = ?6, started_at = ?7, ended_at = ?8, lease_until = ?9, \
                         fence = ?10, reason = ?11, priority = ?12, fan = ?13, part = ?14, \
                         part_of = ?15, pinned = ?16 WHERE id = ?1"
            ),
            run_by_id: sql!("{runs} WHERE id = ?1{lock}"),
            run_exists: sql!("SELECT 1 FROM runs WHERE id = ?1"),
            runs_before: sql!(
                "{runs} WHERE job_id = ?1 AND (CAST(?2 AS BIGINT) IS NULL OR run < ?2) \
                 ORDER BY run DESC, attempt DESC LIMIT ?3"
            ),
            runs_numbered: sql!("{runs} WHERE job_id = ?1 AND run = ?2 ORDER BY attempt"),
            open_runs: sql!(
                "SELECT id, {RUN_FIELDS} FROM runs{} WHERE job_id = ?1 AND state != {done} \
                 ORDER BY run, attempt",
                ix("runs_open")
            ),
            tick_exists: sql!("SELECT 1 FROM runs WHERE job_id = ?1 AND scheduled_at = ?2 LIMIT 1"),
            tick_runs: sql!("{runs} WHERE job_id = ?1 AND scheduled_at = ?2 ORDER BY run, attempt"),
            due_runs: sql!(
                "SELECT id, {RUN_FIELDS} FROM runs{} \
                 WHERE grp = ?1 AND state = {queued} AND due_at <= ?2 \
                 ORDER BY priority DESC, id LIMIT ?3{skip}",
                ix("runs_queue")
            ),
            start_runs: sql!(
                "UPDATE runs SET state = {running}, worker = ?1, started_at = ?2, \
                 lease_until = ?3, fence = ?4 \
                 WHERE id IN (SELECT r.id FROM runs r{} JOIN jobs j ON j.id = r.job_id \
                 WHERE r.grp = ?5 AND r.state = {queued} AND r.due_at <= ?2 \
                 AND (r.pinned IS NULL OR r.pinned = ?1) \
                 ORDER BY r.priority DESC, r.id LIMIT ?6{}) \
                 RETURNING id, {RUN_FIELDS}",
                ix("runs_queue"),
                d.skip_locked_runs_and_jobs
            ),
            jobs_by_ids: sql!(
                "{jobs} WHERE {} ORDER BY id",
                d.in_set("id", &d.json_ints.replace("{}", "?1"))
            ),
            move_jobs: sql!(
                "UPDATE jobs SET state = ?1, note = NULL, updated_at = ?2 WHERE {} AND {}",
                d.in_set("id", &d.json_ints.replace("{}", "?3")),
                d.in_set("state", &d.json_texts.replace("{}", "?4"))
            ),
            jobs_of_runs: sql!(
                "{jobs} WHERE {} ORDER BY id{lock}",
                d.in_set(
                    "id",
                    &format!(
                        "SELECT job_id FROM runs WHERE {}",
                        d.in_set("id", &d.json_ints.replace("{}", "?1"))
                    )
                )
            ),
            runs_by_ids: sql!(
                "{runs} WHERE {} ORDER BY id{lock}",
                d.in_set("id", &d.json_ints.replace("{}", "?1"))
            ),
            open_runs_of: sql!(
                "SELECT id, {RUN_FIELDS} FROM runs{} WHERE {} AND state != {done} \
                 ORDER BY job_id, run, attempt",
                ix("runs_open"),
                d.in_set("job_id", &d.json_ints.replace("{}", "?1"))
            ),
            update_runs: sql!(
                "UPDATE runs SET state = x.state, due_at = x.due_at, outcome = x.outcome, \
                 exit_code = x.exit_code, worker = x.worker, started_at = x.started_at, \
                 ended_at = x.ended_at, lease_until = x.lease_until, fence = x.fence, \
                 reason = x.reason, priority = x.priority, fan = x.fan, part = x.part, \
                 part_of = x.part_of, pinned = x.pinned \
                 FROM (SELECT CAST(value->>0 AS BIGINT) AS id, value->>1 AS state, \
                 CAST(value->>2 AS BIGINT) AS due_at, value->>3 AS outcome, \
                 CAST(value->>4 AS INTEGER) AS exit_code, value->>5 AS worker, \
                 CAST(value->>6 AS BIGINT) AS started_at, CAST(value->>7 AS BIGINT) AS ended_at, \
                 CAST(value->>8 AS BIGINT) AS lease_until, CAST(value->>9 AS BIGINT) AS fence, \
                 value->>10 AS reason, CAST(value->>11 AS INTEGER) AS priority, \
                 value->>12 AS fan, CAST(value->>13 AS INTEGER) AS part, \
                 CAST(value->>14 AS INTEGER) AS part_of, value->>15 AS pinned FROM {}) AS x \
                 WHERE runs.id = x.id",
                d.json_rows.replace("{}", "?1")
            ),
            update_jobs: sql!(
                "UPDATE jobs SET state = x.state, updated_at = x.updated_at, \
                 next_fire = x.next_fire, run_count = x.run_count, note = x.note \
                 FROM (SELECT CAST(value->>0 AS BIGINT) AS id, value->>1 AS state, \
                 CAST(value->>2 AS BIGINT) AS updated_at, CAST(value->>3 AS BIGINT) AS next_fire, \
                 CAST(value->>4 AS BIGINT) AS run_count, value->>5 AS note FROM {}) AS x \
                 WHERE jobs.id = x.id",
                d.json_rows.replace("{}", "?1")
            ),
            next_due_at: sql!(
                "SELECT min(due_at) FROM runs{} WHERE grp = ?1 AND state = {queued} \
                 AND (pinned IS NULL OR pinned = ?2)",
                ix("runs_due")
            ),
            queued_pinned: sql!(
                "SELECT id, {RUN_FIELDS} FROM runs{} WHERE grp = ?1 AND state = {queued} \
                 AND pinned IS NOT NULL ORDER BY id",
                ix("runs_pinned")
            ),
            // With their jobs: a lost run is queued again, which changes its job.
            expired_runs: sql!(
                "SELECT r.id, {} FROM runs r JOIN jobs j ON j.id = r.job_id \
                 WHERE r.state = {running} AND r.lease_until < ?1 \
                 ORDER BY r.lease_until LIMIT ?2{}",
                of("r", RUN_FIELDS),
                d.skip_locked_runs_and_jobs
            ),
            running_runs_of: sql!(
                "SELECT id, {RUN_FIELDS} FROM runs{} WHERE state = {running} AND worker = ?1 \
                 ORDER BY id{lock}",
                ix("runs_leases")
            ),
            next_lease_expiry: sql!("SELECT min(lease_until) FROM runs WHERE state = {running}"),

            job_counts: sql!(
                "SELECT grp, state, count(*) FROM jobs{} GROUP BY grp, state ORDER BY grp, state",
                ix("jobs_by_group_state")
            ),
            queue_counts: sql!(
                "SELECT grp, count(*), min(due_at) FILTER (WHERE due_at <= ?1) FROM runs{} \
                 WHERE state = {queued} GROUP BY grp ORDER BY grp",
                ix("runs_due")
            ),
            ended_counts: sql!(
                "SELECT grp, outcome, count(*) {ended} AND ended_at > ?1 AND outcome IS NOT NULL \
                 GROUP BY grp, outcome ORDER BY grp, outcome"
            ),
            runs_by_minute: sql!(
                "SELECT grp, ended_at - ended_at % {MINUTE_MS} AS minute, outcome, count(*), \
                 count(*) FILTER (WHERE {LAGGED}), \
                 CAST(coalesce(sum(started_at - scheduled_at) FILTER (WHERE {LAGGED}), 0) \
                 AS BIGINT), \
                 coalesce(max(started_at - scheduled_at) FILTER (WHERE {LAGGED}), 0) \
                 {ended} AND ended_at >= ?1 AND outcome IS NOT NULL \
                 GROUP BY grp, minute, outcome ORDER BY grp, minute, outcome"
            ),

            push_feedback: sql!(
                "INSERT INTO feedback ({FEEDBACK_FIELDS}) VALUES ({}) RETURNING id",
                params(9)
            ),
            feedback_after: sql!(
                "SELECT id, {FEEDBACK_FIELDS} FROM feedback \
                 WHERE client_group = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
            ),
            ack_feedback: sql!("DELETE FROM feedback WHERE client_group = ?1 AND id <= ?2"),

            prune_jobs: sql!(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs{} \
                 WHERE kind IN ({one_off}) AND state IN ({finished}) \
                 AND updated_at < ?1 ORDER BY updated_at LIMIT ?2{skip})",
                ix("jobs_finished")
            ),
            prune_runs: sql!(
                "DELETE FROM runs WHERE id IN (SELECT id {ended} AND ended_at < ?1 \
                 ORDER BY ended_at LIMIT ?2{skip})"
            ),
            prune_alerts: sql!(
                "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts{} \
                 WHERE raised_at < ?1 AND next_attempt_at IS NULL \
                 AND ({} OR resolved_at IS NOT NULL) ORDER BY raised_at LIMIT ?2{skip})",
                ix("alerts_by_raised"),
                d.not_firing
            ),

            log_stats: sql!("SELECT {LOG_STATS_COLUMNS} FROM run_log_stats WHERE run_id = ?1"),
            set_log_stats: sql!(
                "INSERT INTO run_log_stats (run_id, {LOG_STATS_COLUMNS}) VALUES ({}) \
                 ON CONFLICT (run_id) DO UPDATE SET head_bytes = excluded.head_bytes, \
                 head_last = excluded.head_last, tail_bytes = excluded.tail_bytes, \
                 dropped_lines = excluded.dropped_lines, dropped_bytes = excluded.dropped_bytes",
                params(6)
            ),
            logs_after: sql!("{logs} WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"),
            logs_tail: sql!("{logs} WHERE run_id = ?1 ORDER BY seq DESC LIMIT ?2"),

            replace_rule: sql!(
                "INSERT INTO alert_rules (name, rule) VALUES (?1, ?2) \
                           ON CONFLICT (name) DO UPDATE SET rule = excluded.rule"
            ),
            add_rule: sql!(
                "INSERT INTO alert_rules (name, rule) VALUES (?1, ?2) \
                       ON CONFLICT (name) DO NOTHING"
            ),
            delete_rule: sql!("DELETE FROM alert_rules WHERE name = ?1"),
            rules: sql!("SELECT rule FROM alert_rules ORDER BY name"),

            insert_alert: sql!(
                "INSERT INTO alerts ({ALERT_FIELDS}) VALUES ({}) RETURNING id",
                params(18)
            ),
            update_alert: sql!(
                "UPDATE alerts SET message = ?2, resolved_at = ?3, silence_until = ?4, \
                           folded = ?5, sent_folded = ?6, deliveries = ?7, next_attempt_at = ?8, \
                           attempts = ?9, seq = ?10, run = ?11, task_id = ?12 WHERE id = ?1"
            ),
            latest_alert: sql!("{alerts} WHERE key = ?1 ORDER BY id DESC LIMIT 1{lock}"),
            alert_by_id: sql!("{alerts} WHERE id = ?1{lock}"),
            alerts_after_seq: sql!(
                "{alerts} WHERE seq > ?1 AND (CAST(?2 AS TEXT) IS NULL OR grp = ?2) \
                 ORDER BY seq LIMIT ?3"
            ),
            newest_alerts: sql!(
                "{alerts} WHERE (CAST(?1 AS TEXT) IS NULL OR grp = ?1) ORDER BY id DESC LIMIT ?2"
            ),
            due_alerts: sql!(
                "SELECT id, {ALERT_FIELDS} FROM alerts{} WHERE next_attempt_at IS NOT NULL \
                 AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?2",
                ix("alerts_due")
            ),
            next_alert_attempt: sql!(
                "SELECT min(next_attempt_at) FROM alerts{} WHERE next_attempt_at IS NOT NULL",
                ix("alerts_due")
            ),
            open_state_alerts: sql!(
                "SELECT id, {ALERT_FIELDS} FROM alerts{} WHERE {} AND resolved_at IS NULL \
                 ORDER BY id",
                ix("alerts_open"),
                d.firing
            ),

            acquire_leadership: sql!(
                "INSERT INTO leader (id, holder, epoch, expires_at) \
                 VALUES (1, ?1, 1, CAST(?2 AS BIGINT) + CAST(?3 AS BIGINT)) \
                 ON CONFLICT (id) DO UPDATE SET \
                     epoch = CASE WHEN leader.holder = excluded.holder THEN leader.epoch \
                             ELSE leader.epoch + 1 END, \
                     holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE leader.holder = excluded.holder OR leader.expires_at <= ?2 \
                 RETURNING epoch"
            ),
            check_leader: sql!(
                "SELECT 1 FROM leader WHERE id = 1 AND holder = ?1 AND epoch = ?2 \
                 AND expires_at > ?3{lock}"
            ),

            batch_rows: d.batch_rows,
            indexes: Indexes(vec![
                index("jobs_by_task_id", "jobs (task_id)".into()),
                index("jobs_by_state", "jobs (state, id)".into()),
                index(
                    "jobs_next_fire",
                    format!(
                        "jobs (next_fire) WHERE next_fire IS NOT NULL AND state != {suspended}"
                    ),
                ),
                index(
                    "jobs_finished",
                    format!(
                        "jobs (updated_at) WHERE kind IN ({one_off}) AND state IN ({finished})"
                    ),
                ),
                index("jobs_by_group_state", "jobs (grp, state)".into()),
                (
                    "jobs_idem_key",
                    "CREATE UNIQUE INDEX jobs_idem_key ON jobs (idem_key);".into(),
                ),
                (
                    "runs_tick",
                    "CREATE UNIQUE INDEX runs_tick ON runs (job_id, scheduled_at, attempt);".into(),
                ),
                index(
                    "runs_pinned",
                    format!("runs (grp) WHERE state = {queued} AND pinned IS NOT NULL"),
                ),
                (
                    "runs_tick_part",
                    "CREATE UNIQUE INDEX runs_tick_part ON runs \
                     (job_id, scheduled_at, part, attempt);"
                        .into(),
                ),
                index(
                    "runs_queue",
                    format!("runs (grp, priority DESC, id) WHERE state = {queued}"),
                ),
                index(
                    "runs_due",
                    format!("runs (grp, due_at) WHERE state = {queued}"),
                ),
                index(
                    "runs_leases",
                    format!("runs (lease_until) WHERE state = {running}"),
                ),
                index(
                    "runs_workers",
                    format!("runs (worker) WHERE state = {running}"),
                ),
                index("runs_open", format!("runs (job_id) WHERE state != {done}")),
                index(
                    "runs_ended",
                    format!("runs (ended_at) WHERE state = {done}"),
                ),
                index("feedback_by_group", "feedback (client_group, id)".into()),
                index("alerts_by_key", "alerts (key, id)".into()),
                index(
                    "alerts_due",
                    "alerts (next_attempt_at) WHERE next_attempt_at IS NOT NULL".into(),
                ),
                index(
                    "alerts_open",
                    format!("alerts (id) WHERE {} AND resolved_at IS NULL", d.firing),
                ),
                index("alerts_by_seq", "alerts (seq)".into()),
                index("alerts_by_raised", "alerts (raised_at)".into()),
            ]),

            // `WHERE true`: SQLite would read the ON of ON CONFLICT as a join's.
            insert_jobs: sql!(
                "INSERT INTO jobs ({JOB_FIELDS}) SELECT {} FROM {} WHERE true \
                 ON CONFLICT DO NOTHING RETURNING id, grp, task_id",
                json_fields(JOB_FIELDS, JOB_FIELD_TYPES),
                d.json_rows.replace("{}", "?1")
            ),
            insert_runs: sql!(
                "INSERT INTO runs ({RUN_FIELDS}) SELECT {} FROM {} WHERE true \
                 ON CONFLICT DO NOTHING RETURNING id, job_id, run, attempt",
                json_fields(RUN_FIELDS, RUN_FIELD_TYPES),
                d.json_rows.replace("{}", "?1")
            ),
        }
    }
}

/// The SQL types of `JOB_FIELDS`, in order (PostgreSQL's; SQLite reads
/// them as the same affinities).
const JOB_FIELD_TYPES: &[&str] = &[
    "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "BIGINT", "BIGINT", "BIGINT", "BIGINT", "TEXT", "TEXT",
];
/// The SQL types of `RUN_FIELDS`, in order.
const RUN_FIELD_TYPES: &[&str] = &[
    "BIGINT", "TEXT", "INTEGER", "BIGINT", "BIGINT", "TEXT", "BIGINT", "BIGINT", "TEXT", "INTEGER",
    "TEXT", "BIGINT", "BIGINT", "BIGINT", "BIGINT", "TEXT", "TEXT", "INTEGER", "INTEGER", "TEXT",
];

/// The select list reading the columns `fields` from the objects of a
/// `Dialect::json_rows` source, a field of each name, as `types` says.
fn json_fields(fields: &str, types: &[&str]) -> String {
    fields
        .split(',')
        .zip(types)
        .map(|(f, ty)| format!("CAST(value ->> '{}' AS {ty})", f.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::postgres::DIALECT as POSTGRES;
    use crate::store::sqlite::DIALECT as SQLITE;

    /// What stored databases hold: SQLite's `INDEXED BY` fails unless a
    /// query states a partial index's WHERE clause as the file has it, so
    /// the names formatted in must give exactly this text.
    const STORED: &[&str] = &[
        "CREATE INDEX jobs_next_fire ON jobs (next_fire) \
         WHERE next_fire IS NOT NULL AND state != 'suspended';",
        "CREATE INDEX jobs_finished ON jobs (updated_at) \
         WHERE kind IN ('now', 'at') AND state IN ('succeeded', 'failed', 'cancelled');",
        "CREATE INDEX runs_queue ON runs (grp, priority DESC, id) WHERE state = 'queued';",
        "CREATE INDEX runs_due ON runs (grp, due_at) WHERE state = 'queued';",
        "CREATE INDEX runs_leases ON runs (lease_until) WHERE state = 'running';",
        "CREATE INDEX runs_open ON runs (job_id) WHERE state != 'done';",
        "CREATE INDEX runs_ended ON runs (ended_at) WHERE state = 'done';",
        "CREATE INDEX alerts_open ON alerts (id) WHERE state = 1 AND resolved_at IS NULL;",
    ];

    #[test]
    fn migrations_hold_the_stored_index_text() {
        let backends = [
            (Statements::new(&SQLITE), crate::store::sqlite::MIGRATIONS),
            (
                Statements::new(&POSTGRES),
                crate::store::postgres::MIGRATIONS,
            ),
        ];
        for (statements, migrations) in backends {
            let schema = migrations
                .iter()
                .map(|m| statements.indexes.expand(m))
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
                .concat();
            let schema = schema.split_whitespace().collect::<Vec<_>>().join(" ");
            for stored in STORED.iter().filter(|s| !s.contains("alerts_open")) {
                assert!(schema.contains(stored), "{stored}");
            }
        }
        let sqlite = Statements::new(&SQLITE).indexes;
        assert_eq!(sqlite.get("alerts_open"), STORED.last().copied());
        assert!(sqlite.expand("{runs_queue} {nothing}").is_err());
    }

    #[test]
    fn queries_state_what_their_index_does() {
        let s = Statements::new(&SQLITE);
        assert!(s
            .due_runs
            .contains("INDEXED BY runs_queue WHERE grp = ?1 AND state = 'queued'"));
        assert!(s.prune_jobs.contains(
            "WHERE kind IN ('now', 'at') AND state IN ('succeeded', 'failed', 'cancelled')"
        ));
        let pg = Statements::new(&POSTGRES);
        assert!(pg
            .due_runs
            .contains("FROM runs WHERE grp = $1 AND state = 'queued' AND due_at <= $2"));
        assert!(!pg.due_runs.contains('?'));
    }

    #[test]
    fn json_rows_read_every_field_with_its_type() {
        for (fields, types) in [(JOB_FIELDS, JOB_FIELD_TYPES), (RUN_FIELDS, RUN_FIELD_TYPES)] {
            assert_eq!(fields.split(',').count(), types.len(), "{fields}");
        }
        let s = Statements::new(&SQLITE);
        assert!(s.insert_runs.contains(
            "CAST(value ->> 'job_id' AS BIGINT), CAST(value ->> 'grp' AS TEXT), \
             CAST(value ->> 'priority' AS INTEGER)"
        ));
        assert!(s.insert_jobs.contains("FROM json_each(?1) WHERE true"));
        let pg = Statements::new(&POSTGRES);
        assert!(pg
            .insert_jobs
            .contains("FROM json_array_elements(CAST(CAST($1 AS TEXT) AS JSON)) WHERE true"));
    }
}
