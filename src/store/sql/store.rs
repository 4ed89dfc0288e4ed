//! `Store`, written once for every `SqlBackend`: the shared statements with
//! their parameters and decoders; what only a dialect can say is the
//! backend's (`SqlBackend`'s hooks).

use super::{
    alert, feedback, flow, job, json, log, log_stats, named, part_columns, run, to_json, values,
    SqlBackend, Tx, Value,
};
use crate::model::{
    Alert, AlertQuery, AlertRule, FeedbackItem, JobState, Millis, MinuteCount, OutcomeCount,
    QueueCount, RunOutcome, StateCount, StoreStats,
};
use crate::store::{
    FlowRecord, JobQuery, JobRecord, Journal, LogRecord, LogStats, Result, RunEvent, RunRecord,
    StartClaim, Started, Store, StoreError,
};

/// Write `items`: as one statement `sql` taking their rows as one JSON
/// array where the dialect batches rows (`Dialect::batch_rows`), else one
/// by one with `one`.
fn write_rows<B: SqlBackend, T>(
    b: &mut B,
    items: &[T],
    sql: &str,
    one: fn(&mut B, &T) -> Result<()>,
    row: impl Fn(&T) -> serde_json::Value,
) -> Result<()> {
    if !b.statements().batch_rows {
        return items.iter().try_for_each(|item| one(b, item));
    }
    if items.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = items.iter().map(row).collect();
    b.execute(sql, &values![to_json(&rows)?]).map(drop)
}

/// The jobs `sql` selects (rows of `JOB_COLUMNS`). A row that cannot be
/// read as a job comes back `broken` and is set aside in the store at once
/// (`quarantine_job`: never fired nor claimed again), with one warning;
/// the other rows are unharmed.
fn query_jobs<B: SqlBackend>(b: &mut B, sql: &str, params: &[Value<'_>]) -> Result<Vec<JobRecord>> {
    let rows = b.query(sql, params, job)?;
    let mut jobs = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(why) = &row.unreadable {
            let j = &row.job;
            let params = values![j.id, why, crate::model::now_ms()];
            b.execute(&b.statements().quarantine_job, &params)?;
            // Whoever waits on the job (`submit --wait`) hears it stopped.
            Store::journal(b).push(RunEvent::JobStopped { job_id: j.id });
            tracing::warn!(
                job = j.id,
                group = %crate::model::cut(&j.spec.group, 80),
                task_id = %crate::model::cut(&j.spec.task_id, 80),
                "job set aside as broken: {why}"
            );
        }
        jobs.push(row.job);
    }
    Ok(jobs)
}

/// The first job `sql` selects, as `query_jobs` reads it.
fn query_job<B: SqlBackend>(
    b: &mut B,
    sql: &str,
    params: &[Value<'_>],
) -> Result<Option<JobRecord>> {
    Ok(query_jobs(b, sql, params)?.into_iter().next())
}

/// Where a flow step's name is in a row of `flow_jobs`: after the job's columns.
const STEP_COLUMN: usize = 10;

/// A `LIMIT` of `n` rows, where 0 means no limit.
fn limit_or_all(n: usize) -> i64 {
    if n == 0 {
        i64::MAX
    } else {
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

/// `Store`'s transaction methods, each one step of `SqlBackend::transaction`.
macro_rules! tx_steps {
    ($($method:ident => $step:ident),* $(,)?) => {
        $(fn $method(&mut self) -> Result<()> {
            self.transaction(Tx::$step)
        })*
    };
}

impl<B: SqlBackend> Store for B {
    fn journal(&mut self) -> &mut Journal {
        self.journal_mut()
    }

    tx_steps! {
        begin => Begin,
        commit => Commit,
        rollback => Rollback,
        savepoint => Savepoint,
        release_savepoint => ReleaseSavepoint,
        rollback_to_savepoint => RollbackToSavepoint,
    }

    fn retryable_failure(&self) -> Option<StoreError> {
        self.retryable()
    }

    fn insert_job(&mut self, j: &JobRecord) -> Result<Option<i64>> {
        let params = values![
            &j.spec.group,
            &j.spec.task_id,
            j.spec.schedule.kind().as_str(),
            j.state.as_str(),
            to_json(&j.spec)?,
            j.submitted_at,
            j.updated_at,
            j.next_fire,
            j.run_count,
            &j.note,
            &j.spec.idempotency_key,
        ];
        self.insert_id(&self.statements().insert_job, &params)
    }

    fn update_job(&mut self, j: &JobRecord) -> Result<()> {
        // The spec never changes here (`update_spec` and --replace aside).
        let params = values![
            j.id,
            j.state.as_str(),
            j.updated_at,
            j.next_fire,
            j.run_count,
            &j.note
        ];
        self.execute(&self.statements().update_job, &params)
            .map(drop)
    }

    fn update_spec(&mut self, j: &JobRecord) -> Result<()> {
        let params = values![j.id, to_json(&j.spec)?, j.spec.schedule.kind().as_str()];
        self.execute(&self.statements().update_spec, &params)
            .map(drop)
    }

    fn delete_job(&mut self, id: i64) -> Result<()> {
        self.execute(&self.statements().delete_job, &values![id])
            .map(drop)
    }

    fn job_by_key(&mut self, group: &str, task_id: &str) -> Result<Option<JobRecord>> {
        query_job(
            self,
            &self.statements().job_by_key,
            &values![group, task_id],
        )
    }

    fn job_by_idempotency_key(&mut self, key: &str) -> Result<Option<JobRecord>> {
        let sql = &self.statements().job_by_idempotency_key;
        query_job(self, sql, &values![key])
    }

    fn job_by_id(&mut self, id: i64) -> Result<Option<JobRecord>> {
        query_job(self, &self.statements().job_by_id, &values![id])
    }

    fn jobs_by_task_id(&mut self, task_id: &str) -> Result<Vec<JobRecord>> {
        query_jobs(self, &self.statements().jobs_by_task_id, &values![task_id])
    }

    fn list_jobs(&mut self, q: &JobQuery) -> Result<Vec<JobRecord>> {
        let params = values![
            q.group.as_deref(),
            q.state.map(|s| s.as_str()),
            q.kind.map(|k| k.as_str()),
            q.text.as_deref(),
            // Always a range on the key, so a deep page starts where it
            // should rather than scanning to it.
            q.before_id.unwrap_or(i64::MAX),
            limit_or_all(q.limit),
        ];
        let mut jobs = query_jobs(self, &self.statements().list_jobs, &params)?;
        jobs.reverse();
        Ok(jobs)
    }

    fn count_jobs(&mut self, q: &JobQuery) -> Result<u64> {
        let params = values![
            q.group.as_deref(),
            q.state.map(|s| s.as_str()),
            q.kind.map(|k| k.as_str()),
            q.text.as_deref(),
        ];
        self.query_one(&self.statements().count_jobs, &params, |r| r.count(0))
    }

    fn insert_run(&mut self, r: &RunRecord) -> Result<i64> {
        let (fan, part, part_of, pinned) = part_columns(&r.part);
        let params = values![
            r.job_id,
            &r.group,
            r.priority,
            r.run,
            r.attempt,
            r.state.as_str(),
            r.scheduled_at,
            r.due_at,
            r.outcome.map(|o| o.as_str()),
            r.exit_code,
            &r.worker,
            r.started_at,
            r.ended_at,
            r.lease_until,
            r.fence,
            &r.reason,
            fan,
            part,
            part_of,
            pinned,
        ];
        self.insert_id(&self.statements().insert_run, &params)?
            .ok_or_else(|| {
                StoreError::Conflict(format!(
                    "job {} already has run {} attempt {} (or a run for the tick at {})",
                    r.job_id, r.run, r.attempt, r.scheduled_at
                ))
            })
    }

    fn update_run(&mut self, r: &RunRecord) -> Result<()> {
        let (fan, part, part_of, pinned) = part_columns(&r.part);
        let params = values![
            r.id,
            r.state.as_str(),
            r.due_at,
            r.outcome.map(|o| o.as_str()),
            r.exit_code,
            &r.worker,
            r.started_at,
            r.ended_at,
            r.lease_until,
            r.fence,
            &r.reason,
            r.priority,
            fan,
            part,
            part_of,
            pinned,
        ];
        self.execute(&self.statements().update_run, &params)
            .map(drop)
    }

    fn run_by_id(&mut self, id: i64) -> Result<Option<RunRecord>> {
        self.query_opt(&self.statements().run_by_id, &values![id], run)
    }

    fn run_exists(&mut self, id: i64) -> Result<bool> {
        self.exists(&self.statements().run_exists, &values![id])
    }

    fn job_if_free(&mut self, id: i64) -> Result<Option<JobRecord>> {
        query_job(self, &self.statements().job_if_free, &values![id])
    }

    fn job_of_run(&mut self, run_id: i64) -> Result<Option<JobRecord>> {
        query_job(self, &self.statements().job_of_run, &values![run_id])
    }

    fn runs_before(
        &mut self,
        job_id: i64,
        before: Option<u32>,
        limit: usize,
    ) -> Result<Vec<RunRecord>> {
        let params = values![job_id, before, limit];
        let mut runs = self.query(&self.statements().runs_before, &params, run)?;
        runs.reverse();
        Ok(runs)
    }

    fn runs_numbered(&mut self, job_id: i64, number: u32) -> Result<Vec<RunRecord>> {
        self.query(
            &self.statements().runs_numbered,
            &values![job_id, number],
            run,
        )
    }

    fn open_runs(&mut self, job_id: i64) -> Result<Vec<RunRecord>> {
        self.query(&self.statements().open_runs, &values![job_id], run)
    }

    fn tick_exists(&mut self, job_id: i64, scheduled_at: Millis) -> Result<bool> {
        let params = values![job_id, scheduled_at];
        self.exists(&self.statements().tick_exists, &params)
    }

    fn tick_runs(&mut self, job_id: i64, scheduled_at: Millis) -> Result<Vec<RunRecord>> {
        let params = values![job_id, scheduled_at];
        self.query(&self.statements().tick_runs, &params, run)
    }

    fn due_jobs(&mut self, now: Millis, limit: usize) -> Result<Vec<JobRecord>> {
        // Locked where the dialect can: a second tracker firing at the same
        // moment waits, then sees the job's moved `next_fire` and leaves it.
        query_jobs(self, &self.statements().due_jobs, &values![now, limit])
    }

    fn next_fire_at(&mut self) -> Result<Option<Millis>> {
        self.query_one(&self.statements().next_fire_at, &[], |r| r.opt_i64(0))
    }

    fn due_runs(&mut self, group: &str, now: Millis, limit: usize) -> Result<Vec<RunRecord>> {
        let params = values![group, now, limit];
        self.query(&self.statements().due_runs, &params, run)
    }

    fn start_runs(&mut self, c: &StartClaim) -> Result<Started> {
        let st = self.statements();
        let params = values![&c.worker, c.now, c.lease_until, c.fence, &c.group, c.limit];
        let mut runs = self.query(&st.start_runs, &params, run)?;
        // RETURNING keeps no order: the claim's is priority, then age.
        runs.sort_by_key(|r| (std::cmp::Reverse(r.priority), r.id));
        let mut ids: Vec<i64> = runs.iter().map(|r| r.job_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let jobs = query_jobs(self, &st.jobs_by_ids, &values![to_json(&ids)?])?;
        let runs = runs
            .into_iter()
            .map(|r| {
                let j = jobs
                    .binary_search_by_key(&r.job_id, |j| j.id)
                    .map_err(|_| StoreError::Invalid(format!("run {} has no job", r.id)))?;
                Ok((r, jobs[j].clone()))
            })
            .collect::<Result<_>>()?;
        Ok(Started {
            runs,
            busy: false,
            fanned_out: false,
        })
    }

    fn move_jobs(
        &mut self,
        ids: &[i64],
        from: &[JobState],
        to: JobState,
        now: Millis,
    ) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let params = values![to.as_str(), now, to_json(&ids)?, to_json(&from)?];
        self.execute(&self.statements().move_jobs, &params)?;
        Ok(())
    }

    fn jobs_of_runs(&mut self, run_ids: &[i64]) -> Result<Vec<JobRecord>> {
        query_jobs(
            self,
            &self.statements().jobs_of_runs,
            &values![to_json(run_ids)?],
        )
    }

    fn runs_by_ids(&mut self, ids: &[i64]) -> Result<Vec<RunRecord>> {
        self.query(&self.statements().runs_by_ids, &values![to_json(ids)?], run)
    }

    fn open_runs_of(&mut self, job_ids: &[i64]) -> Result<Vec<RunRecord>> {
        self.query(
            &self.statements().open_runs_of,
            &values![to_json(job_ids)?],
            run,
        )
    }

    fn update_runs(&mut self, runs: &[RunRecord]) -> Result<()> {
        let sql = &self.statements().update_runs;
        write_rows(self, runs, sql, B::update_run, |r| {
            let (fan, part, part_of, pinned) = part_columns(&r.part);
            serde_json::json!([
                r.id,
                r.state.as_str(),
                r.due_at,
                r.outcome.map(|o| o.as_str()),
                r.exit_code,
                r.worker,
                r.started_at,
                r.ended_at,
                r.lease_until,
                r.fence,
                r.reason,
                r.priority,
                fan,
                part,
                part_of,
                pinned
            ])
        })
    }

    fn update_jobs(&mut self, jobs: &[JobRecord]) -> Result<()> {
        let sql = &self.statements().update_jobs;
        write_rows(self, jobs, sql, B::update_job, |j| {
            serde_json::json!([
                j.id,
                j.state.as_str(),
                j.updated_at,
                j.next_fire,
                j.run_count,
                j.note
            ])
        })
    }

    fn next_due_at(&mut self, group: &str, worker: &str) -> Result<Option<Millis>> {
        let params = values![group, worker];
        self.query_one(&self.statements().next_due_at, &params, |r| r.opt_i64(0))
    }

    fn queued_pinned(&mut self, group: &str) -> Result<Vec<RunRecord>> {
        self.query(&self.statements().queued_pinned, &values![group], run)
    }

    fn stats(&mut self, now: Millis, window_ms: i64) -> Result<StoreStats> {
        let s = self.statements();
        let jobs = self.query(&s.job_counts, &[], |r| {
            Ok(StateCount {
                group: r.text(0)?,
                // A state no build knows is a row set aside as broken
                // once it is read; counting it so already keeps stats up.
                state: JobState::parse(&r.text(1)?).unwrap_or(JobState::Broken),
                count: r.count(2)?,
            })
        })?;
        let queues = self.query(&s.queue_counts, &values![now], |r| {
            Ok(QueueCount {
                group: r.text(0)?,
                runs: r.count(1)?,
                oldest_due: r.opt_i64(2)?,
            })
        })?;
        let ended = self.query(&s.ended_counts, &values![now - window_ms], |r| {
            Ok(OutcomeCount {
                group: r.text(0)?,
                outcome: named(r, 1, "run outcome", RunOutcome::parse)?,
                count: r.count(2)?,
            })
        })?;
        Ok(StoreStats {
            at: now,
            window_ms,
            jobs,
            queues,
            ended,
        })
    }

    fn runs_by_minute(&mut self, since: Millis) -> Result<Vec<MinuteCount>> {
        self.query(&self.statements().runs_by_minute, &values![since], |r| {
            Ok(MinuteCount {
                group: r.text(0)?,
                minute: r.i64(1)?,
                outcome: named(r, 2, "run outcome", RunOutcome::parse)?,
                count: r.count(3)?,
                started: r.count(4)?,
                lag_total_ms: r.i64(5)?.max(0),
                lag_max_ms: r.i64(6)?.max(0),
            })
        })
    }

    fn expired_runs(&mut self, now: Millis, limit: usize) -> Result<Vec<RunRecord>> {
        self.query(&self.statements().expired_runs, &values![now, limit], run)
    }

    fn running_runs_of(&mut self, worker: &str) -> Result<Vec<RunRecord>> {
        self.query(&self.statements().running_runs_of, &values![worker], run)
    }

    fn next_lease_expiry(&mut self) -> Result<Option<Millis>> {
        self.query_one(&self.statements().next_lease_expiry, &[], |r| r.opt_i64(0))
    }

    fn reserve_fences(&mut self, n: i64) -> Result<i64> {
        self.next_fences(n)
    }

    fn push_feedback(&mut self, f: &FeedbackItem) -> Result<i64> {
        let params = values![
            &f.client_group,
            &f.task_id,
            &f.group,
            f.run,
            f.attempt,
            f.outcome.as_str(),
            f.exit_code,
            &f.reason,
            f.ended_at,
        ];
        self.query_one(&self.statements().push_feedback, &params, |r| r.i64(0))
    }

    fn feedback_after(
        &mut self,
        client_group: &str,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<FeedbackItem>> {
        let params = values![client_group, after_id, limit];
        self.query(&self.statements().feedback_after, &params, feedback)
    }

    fn ack_feedback(&mut self, client_group: &str, up_to: i64) -> Result<usize> {
        let params = values![client_group, up_to];
        let n = self.execute(&self.statements().ack_feedback, &params)?;
        Ok(n as usize)
    }

    fn prune_jobs(&mut self, cutoff: Millis, limit: usize) -> Result<usize> {
        let n = self.execute(&self.statements().prune_jobs, &values![cutoff, limit])?;
        Ok(n as usize)
    }

    fn prune_runs(&mut self, cutoff: Millis, limit: usize) -> Result<usize> {
        let n = self.execute(&self.statements().prune_runs, &values![cutoff, limit])?;
        Ok(n as usize)
    }

    fn log_stats(&mut self, run_id: i64) -> Result<LogStats> {
        let stats = self.query_opt(&self.statements().log_stats, &values![run_id], log_stats)?;
        Ok(stats.unwrap_or_default())
    }

    fn set_log_stats(&mut self, run_id: i64, s: &LogStats) -> Result<()> {
        let params = values![
            run_id,
            s.head_bytes,
            s.head_last,
            s.tail_bytes,
            s.dropped_lines,
            s.dropped_bytes,
        ];
        self.execute(&self.statements().set_log_stats, &params)
            .map(drop)
    }

    fn trim_logs(&mut self, run_id: i64, after_seq: u64, bytes: u64) -> Result<(u64, u64)> {
        self.delete_log_head(run_id, after_seq, bytes)
    }

    fn append_logs(&mut self, lines: &[LogRecord]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        self.insert_log_lines(lines)
    }

    fn logs_after(
        &mut self,
        run_id: i64,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<LogRecord>> {
        let after = after_seq.map_or(-1, |s| i64::try_from(s).unwrap_or(i64::MAX));
        let params = values![run_id, after, limit];
        self.query(&self.statements().logs_after, &params, log)
    }

    fn logs_tail(&mut self, run_id: i64, n: usize) -> Result<Vec<LogRecord>> {
        let mut lines = self.query(&self.statements().logs_tail, &values![run_id, n], log)?;
        lines.reverse();
        Ok(lines)
    }

    fn put_rule(&mut self, rule: &AlertRule, replace: bool) -> Result<bool> {
        let s = self.statements();
        let sql = if replace {
            &s.replace_rule
        } else {
            &s.add_rule
        };
        Ok(self.execute(sql, &values![&rule.name, to_json(rule)?])? == 1)
    }

    fn delete_rule(&mut self, name: &str) -> Result<bool> {
        Ok(self.execute(&self.statements().delete_rule, &values![name])? == 1)
    }

    fn rules(&mut self) -> Result<Vec<AlertRule>> {
        self.query(&self.statements().rules, &[], |r| json(r, 0, "alert rule"))
    }

    fn insert_alert(&mut self, a: &Alert) -> Result<i64> {
        let seq = self.next_alert_seq()?;
        let params = values![
            &a.key,
            &a.rule,
            &a.group,
            &a.task_id,
            a.run,
            &a.condition,
            &a.message,
            a.raised_at,
            a.resolved_at,
            a.state,
            a.silence_until,
            a.folded,
            a.sent_folded,
            &a.target,
            to_json(&a.deliveries)?,
            a.next_attempt_at,
            a.attempts,
            seq,
        ];
        self.query_one(&self.statements().insert_alert, &params, |r| r.i64(0))
    }

    fn update_alert(&mut self, a: &Alert) -> Result<()> {
        let seq = self.next_alert_seq()?;
        let params = values![
            a.id,
            &a.message,
            a.resolved_at,
            a.silence_until,
            a.folded,
            a.sent_folded,
            to_json(&a.deliveries)?,
            a.next_attempt_at,
            a.attempts,
            seq,
            a.run,
            &a.task_id,
        ];
        self.execute(&self.statements().update_alert, &params)
            .map(drop)
    }

    fn latest_alert(&mut self, key: &str) -> Result<Option<Alert>> {
        // Trackers raising the same alert at once take turns until commit,
        // so the second sees the first's row and folds into it.
        self.lock_alert_key(key)?;
        self.query_opt(&self.statements().latest_alert, &values![key], alert)
    }

    fn alert_by_id(&mut self, id: i64) -> Result<Option<Alert>> {
        // Read to be written back (a delivery, a resolution): where the
        // dialect locks, another tracker's fold waits rather than being
        // overwritten.
        self.query_opt(&self.statements().alert_by_id, &values![id], alert)
    }

    fn list_alerts(&mut self, q: &AlertQuery) -> Result<Vec<Alert>> {
        let s = self.statements();
        let limit = limit_or_all(q.limit as usize);
        match q.after_seq {
            Some(after) => {
                let params = values![after, q.group.as_deref(), limit];
                self.query(&s.alerts_after_seq, &params, alert)
            }
            None => {
                let params = values![q.group.as_deref(), limit];
                self.query(&s.newest_alerts, &params, alert)
            }
        }
    }

    fn due_alerts(&mut self, now: Millis, limit: usize) -> Result<Vec<Alert>> {
        self.query(&self.statements().due_alerts, &values![now, limit], alert)
    }

    fn next_alert_attempt(&mut self) -> Result<Option<Millis>> {
        self.query_one(&self.statements().next_alert_attempt, &[], |r| r.opt_i64(0))
    }

    fn open_state_alerts(&mut self) -> Result<Vec<Alert>> {
        self.query(&self.statements().open_state_alerts, &[], alert)
    }

    fn prune_alerts(&mut self, cutoff: Millis, limit: usize) -> Result<usize> {
        let n = self.execute(&self.statements().prune_alerts, &values![cutoff, limit])?;
        Ok(n as usize)
    }

    fn insert_dep(&mut self, job_id: i64, after_id: i64) -> Result<()> {
        self.execute(&self.statements().insert_dep, &values![job_id, after_id])
            .map(drop)
    }

    fn dependencies(&mut self, job_id: i64) -> Result<Vec<JobRecord>> {
        query_jobs(self, &self.statements().dependencies, &values![job_id])
    }

    fn dependents(&mut self, job_ids: &[i64]) -> Result<Vec<JobRecord>> {
        if job_ids.is_empty() {
            return Ok(Vec::new());
        }
        query_jobs(
            self,
            &self.statements().dependents,
            &values![to_json(job_ids)?],
        )
    }

    fn repoint_deps(&mut self, old: i64, new: i64) -> Result<()> {
        self.execute(&self.statements().repoint_deps, &values![old, new])
            .map(drop)
    }

    fn insert_flow(&mut self, f: &FlowRecord) -> Result<()> {
        let params = values![
            &f.id,
            to_json(&f.spec)?,
            f.state.as_str(),
            f.created_at,
            f.updated_at,
            f.next_fire,
            f.run_count,
            &f.note,
            &f.spec.name,
        ];
        self.execute(&self.statements().insert_flow, &params)
            .map(drop)
    }

    fn update_flow(&mut self, f: &FlowRecord) -> Result<()> {
        let params = values![
            &f.id,
            f.state.as_str(),
            f.updated_at,
            f.next_fire,
            f.run_count,
            &f.note,
        ];
        self.execute(&self.statements().update_flow, &params)
            .map(drop)
    }

    fn flow_by_id(&mut self, id: &str) -> Result<Option<FlowRecord>> {
        self.query_opt(&self.statements().flow_by_id, &values![id], flow)
    }

    fn list_flows(&mut self, limit: usize) -> Result<Vec<FlowRecord>> {
        self.query(
            &self.statements().list_flows,
            &values![limit_or_all(limit)],
            flow,
        )
    }

    fn due_flows(&mut self, now: Millis, limit: usize) -> Result<Vec<FlowRecord>> {
        self.query(
            &self.statements().due_flows,
            &values![now, limit_or_all(limit)],
            flow,
        )
    }

    fn insert_flow_step(&mut self, flow_id: &str, run: u32, step: &str, job_id: i64) -> Result<()> {
        let params = values![flow_id, run, step, job_id];
        self.execute(&self.statements().insert_flow_step, &params)
            .map(drop)
    }

    fn flow_jobs(&mut self, flow_id: &str, run: u32) -> Result<Vec<(String, JobRecord)>> {
        self.query(&self.statements().flow_jobs, &values![flow_id, run], |r| {
            Ok((r.text(STEP_COLUMN)?, job(r)?.job))
        })
    }

    fn read_flow(&mut self, id: &str) -> Result<Option<FlowRecord>> {
        self.query_opt(&self.statements().read_flow, &values![id], flow)
    }

    fn read_flow_jobs(&mut self, flow_id: &str, run: u32) -> Result<Vec<(String, JobRecord)>> {
        self.query(
            &self.statements().read_flow_jobs,
            &values![flow_id, run],
            |r| Ok((r.text(STEP_COLUMN)?, job(r)?.job)),
        )
    }

    fn acquire_leadership(
        &mut self,
        holder: &str,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<Option<i64>> {
        let params = values![holder, now, ttl_ms];
        self.query_opt(&self.statements().acquire_leadership, &params, |r| r.i64(0))
    }

    fn check_leader(&mut self, holder: &str, epoch: i64, now: Millis) -> Result<bool> {
        // Locked where the dialect can until the transaction ends: nobody
        // takes the lease over before what it writes is committed (fencing).
        let params = values![holder, epoch, now];
        self.exists(&self.statements().check_leader, &params)
    }

    fn insert_jobs(&mut self, jobs: &[JobRecord]) -> Result<Vec<Option<i64>>> {
        if !self.statements().batch_rows {
            return jobs.iter().map(|j| self.insert_job(j)).collect();
        }
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        // Each key once, with its first job: which of two jobs of a key one
        // INSERT stores is not for the database to pick.
        let mut keys = std::collections::HashSet::new();
        let rows = jobs
            .iter()
            .filter(|j| keys.insert((j.spec.group.as_str(), j.spec.task_id.as_str())))
            .map(JobRow::of)
            .collect::<Result<Vec<_>>>()?;
        let params = values![to_json(&rows)?];
        let mut ids: std::collections::HashMap<(String, String), i64> = self
            .query(&self.statements().insert_jobs, &params, |r| {
                Ok(((r.text(1)?, r.text(2)?), r.i64(0)?))
            })?
            .into_iter()
            .collect();
        // RETURNING keeps no order: back to `jobs`' by key, where the first
        // job of a key takes its id and a repeat finds it gone.
        Ok(jobs
            .iter()
            .map(|j| ids.remove(&(j.spec.group.clone(), j.spec.task_id.clone())))
            .collect())
    }

    fn insert_runs(&mut self, runs: &[RunRecord]) -> Result<Vec<i64>> {
        if !self.statements().batch_rows {
            return runs.iter().map(|r| self.insert_run(r)).collect();
        }
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<RunRow> = runs.iter().map(RunRow::of).collect();
        let params = values![to_json(&rows)?];
        let mut ids: std::collections::HashMap<(i64, u32, u32), i64> = self
            .query(&self.statements().insert_runs, &params, |r| {
                Ok(((r.i64(1)?, r.u32(2)?, r.u32(3)?), r.i64(0)?))
            })?
            .into_iter()
            .collect();
        // Back to `runs`' order by (job, run, attempt), which is unique: a
        // run left out, or repeated in `runs`, finds no id.
        runs.iter()
            .map(|r| {
                ids.remove(&(r.job_id, r.run, r.attempt)).ok_or_else(|| {
                    StoreError::Conflict(format!(
                        "run {} attempt {} of job {} (tick {}) is stored already",
                        r.run, r.attempt, r.job_id, r.scheduled_at
                    ))
                })
            })
            .collect()
    }
}

/// A job as `insert_jobs` sends it: an object of the `JOB_FIELDS`.
#[derive(serde::Serialize)]
struct JobRow<'a> {
    grp: &'a str,
    task_id: &'a str,
    kind: &'static str,
    state: &'static str,
    /// The spec's JSON, as the column holds it.
    spec: String,
    submitted_at: Millis,
    updated_at: Millis,
    next_fire: Option<Millis>,
    run_count: u32,
    note: Option<&'a str>,
    idem_key: Option<&'a str>,
}

impl<'a> JobRow<'a> {
    fn of(j: &'a JobRecord) -> Result<Self> {
        Ok(JobRow {
            grp: &j.spec.group,
            task_id: &j.spec.task_id,
            kind: j.spec.schedule.kind().as_str(),
            state: j.state.as_str(),
            spec: to_json(&j.spec)?,
            submitted_at: j.submitted_at,
            updated_at: j.updated_at,
            next_fire: j.next_fire,
            run_count: j.run_count,
            note: j.note.as_deref(),
            idem_key: j.spec.idempotency_key.as_deref(),
        })
    }
}

/// A run as `insert_runs` sends it: an object of the `RUN_FIELDS`.
#[derive(serde::Serialize)]
struct RunRow<'a> {
    job_id: i64,
    grp: &'a str,
    priority: i32,
    run: u32,
    attempt: u32,
    state: &'static str,
    scheduled_at: Millis,
    due_at: Millis,
    outcome: Option<&'static str>,
    exit_code: Option<i32>,
    worker: Option<&'a str>,
    started_at: Option<Millis>,
    ended_at: Option<Millis>,
    lease_until: Option<Millis>,
    fence: i64,
    reason: Option<&'a str>,
    fan: Option<&'static str>,
    part: u32,
    part_of: Option<u32>,
    pinned: Option<&'a str>,
}

impl<'a> RunRow<'a> {
    fn of(r: &'a RunRecord) -> Self {
        let (fan, part, part_of, pinned) = part_columns(&r.part);
        RunRow {
            fan,
            part,
            part_of,
            pinned,
            job_id: r.job_id,
            grp: &r.group,
            priority: r.priority,
            run: r.run,
            attempt: r.attempt,
            state: r.state.as_str(),
            scheduled_at: r.scheduled_at,
            due_at: r.due_at,
            outcome: r.outcome.map(|o| o.as_str()),
            exit_code: r.exit_code,
            worker: r.worker.as_deref(),
            started_at: r.started_at,
            ended_at: r.ended_at,
            lease_until: r.lease_until,
            fence: r.fence,
            reason: r.reason.as_deref(),
        }
    }
}
