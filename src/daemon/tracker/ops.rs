//! What a caller can ask of a tracker, whatever the transport: the tarpc
//! service (`service`) and the HTTP API (`http`) both call these, so a page,
//! an API call and `lts` go through the same rules and the same wakeups.
//! Each runs one `lifecycle` rule (or a `views` read) in the store and wakes whoever waits;
//! long polls wait on `Wake`, never on a timer loop.

use super::lifecycle::{control, flows, submit, Fleet};
use super::{views, Tracker};
use crate::model::{
    now_ms, Alert, AlertQuery, AlertRule, FeedbackItem, FlowSpec, FlowView, JobDetail, JobSpec,
    JobState, JobView, MinuteCount, NodeView, Role, StoreStats,
};
use crate::protocol::registry::EventPage;
use crate::protocol::{
    BulkAction, BulkOutcome, JobEdit, JobFilter, JobPage, JobRef, LogPage, LogQuery, PurgeFilter,
    RunsPage, Skipped, SubmitAck, TrackerStatus, WireError, PROTOCOL_VERSION,
};
use crate::store::{JobQuery, JobRecord};
use std::time::Duration;
use tokio::sync::Notify;

/// The longest any long poll waits before answering.
pub(super) const MAX_WAIT: Duration = Duration::from_secs(30);
/// Log lines per page.
const LOG_PAGE: usize = 1000;
/// Jobs a bulk action or a purge handles per transaction.
const BULK_PAGE: usize = 500;
/// How many skipped jobs a bulk answer names.
const SKIPPED_SHOWN: usize = 100;
/// Membership events per watch answer.
const EVENT_PAGE: usize = 1000;

/// A change a caller asks for on one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Suspend,
    Resume,
    Cancel,
    Trigger,
    Retry,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Suspend,
        Action::Resume,
        Action::Cancel,
        Action::Trigger,
        Action::Retry,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Cancel => "cancel",
            Action::Trigger => "trigger",
            Action::Retry => "retry",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Wait for `notified` until `deadline`, or until the tracker stops.
/// Returns false when there is no point waiting again.
pub(super) async fn wait_for(
    notified: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    deadline: tokio::time::Instant,
    t: &Tracker,
) -> bool {
    tokio::select! {
        _ = notified => true,
        _ = tokio::time::sleep_until(deadline) => false,
        _ = t.shutdown.wait() => false,
    }
}

pub(super) fn deadline_in(wait_ms: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_millis(wait_ms).min(MAX_WAIT)
}

/// A `Notified` registered before the store is read, so no wakeup between
/// the read and the wait is missed.
pub(super) fn armed(notify: &Notify) -> std::pin::Pin<Box<tokio::sync::futures::Notified<'_>>> {
    let mut notified = Box::pin(notify.notified());
    notified.as_mut().enable();
    notified
}

impl Tracker {
    pub(super) fn stopping(&self) -> bool {
        self.shutdown.is_triggered()
    }

    /// Say why a job waits, when no worker could take it.
    fn annotate(&self, view: &mut JobView) {
        if matches!(view.state, JobState::Queued | JobState::Retrying)
            && !self
                .nodes
                .has_live_worker(&view.spec.group, now_ms(), self.lease_ms)
        {
            view.note = Some(format!(
                "no worker of group '{}' is connected",
                view.spec.group
            ));
        }
    }

    /// A job as callers see it: next fire times and a note on why it waits.
    fn shown(&self, job: &JobRecord) -> JobView {
        let mut view = views::view(job, self.zone);
        self.annotate(&mut view);
        view
    }

    /// Store jobs; each gets its own answer, only once committed.
    pub async fn submit(&self, jobs: Vec<JobSpec>) -> Vec<Result<SubmitAck, WireError>> {
        if self.stopping() {
            return jobs.iter().map(|_| Err(WireError::ShuttingDown)).collect();
        }
        let count = jobs.len();
        let (now, zone) = (now_ms(), self.zone);
        match self
            .store
            // Cloned: a transaction lost to a concurrent one runs again.
            .call(move |s| submit::submit(s, jobs.clone(), now, zone))
            .await
        {
            Ok((acks, woken)) => {
                self.wake.work_for(&woken);
                if acks
                    .iter()
                    .any(|a| matches!(a, Ok(ack) if ack.state == JobState::Scheduled))
                {
                    self.wake.schedule_changed();
                }
                acks
            }
            Err(e) => vec![Err(e); count],
        }
    }

    /// A page of jobs, with how many match in all.
    pub async fn jobs(&self, filter: JobFilter) -> Result<JobPage, WireError> {
        let query = JobQuery {
            group: filter.group,
            state: filter.state,
            kind: filter.kind,
            text: filter.text.filter(|t| !t.is_empty()),
            before_id: filter.cursor,
            limit: filter.limit as usize,
        };
        let (mut jobs, total) = self
            .store
            .call(move |s| Ok::<_, WireError>((s.list_jobs(&query)?, s.count_jobs(&query)?)))
            .await?;
        let full = filter.limit != 0 && jobs.len() == filter.limit as usize;
        // A page carries at most so much payload: keep the newest that fit.
        let mut bytes = 0;
        let keep = jobs
            .iter()
            .rev()
            .take_while(|j| {
                bytes += crate::model::payload_bytes(&j.spec);
                bytes <= crate::model::MAX_CALL_PAYLOAD_BYTES
            })
            .count()
            .max(1)
            .min(jobs.len());
        let cut = keep < jobs.len();
        let jobs = jobs.split_off(jobs.len() - keep);
        let next = jobs.first().filter(|_| full || cut).map(|j| j.id);
        Ok(JobPage {
            jobs: jobs.iter().map(|j| self.shown(j)).collect(),
            total,
            next,
        })
    }

    /// A job with a page of its runs and its next fire times.
    pub async fn job(&self, job: JobRef, runs: RunsPage) -> Result<JobDetail, WireError> {
        let zone = self.zone;
        let mut detail = self
            .store
            .call(move |s| views::detail(s, &job, zone, runs))
            .await?;
        self.annotate(&mut detail.job);
        Ok(detail)
    }

    /// Suspend, resume, cancel, trigger or retry one job; the job as it is after.
    pub async fn act(&self, job: JobRef, action: Action) -> Result<JobView, WireError> {
        let (now, zone) = (now_ms(), self.zone);
        type Rule = fn(
            &mut dyn crate::store::Store,
            &JobRef,
            crate::model::Millis,
        ) -> Result<JobRecord, WireError>;
        let rule: Rule = match action {
            Action::Resume => {
                let (job, queued) = self
                    .store
                    .call(move |s| control::resume(s, &job, now, zone))
                    .await?;
                if queued {
                    self.wake.work_for([&job.spec.group]);
                }
                self.wake.changed();
                self.wake.schedule_changed();
                return Ok(self.shown(&job));
            }
            Action::Cancel => {
                let job = self
                    .store
                    .call(move |s| control::cancel(s, &job, now, zone))
                    .await?;
                self.wake.changed();
                return Ok(self.shown(&job));
            }
            Action::Suspend => control::suspend,
            Action::Trigger => control::trigger,
            Action::Retry => control::retry,
        };
        let job = self.store.call(move |s| rule(s, &job, now)).await?;
        match action {
            // A trigger or a retry queued a run for the group's workers.
            Action::Trigger | Action::Retry => self.wake.work_for([&job.spec.group]),
            _ => self.wake.changed(),
        }
        Ok(self.shown(&job))
    }

    /// Wait up to `wait_ms` for the job's first run to end; the job as it is
    /// then. Once the job is known, the wait is on that job's own notifier
    /// (on a single tracker): other jobs' runs ending do not wake it.
    pub async fn wait(&self, job: JobRef, wait_ms: u64) -> Result<JobDetail, WireError> {
        let deadline = deadline_in(wait_ms);
        let mut waiting_on = None;
        loop {
            let keyed = waiting_on.map(|id| self.wake.jobs.get(id));
            let mut notified = armed(keyed.as_deref().unwrap_or(&self.wake.changes));
            let (query, zone) = (job.clone(), self.zone);
            let (id, mut detail) = self
                .store
                .call(move |s| {
                    let job = views::resolve(s, &query)?;
                    Ok::<_, WireError>((
                        job.id,
                        views::detail_of(s, &job, zone, RunsPage::default())?,
                    ))
                })
                .await?;
            let ended = detail.first_run_ended();
            if !ended && !self.shared_store && waiting_on != Some(id) {
                // Wait on the job just found; read once more after arming.
                waiting_on = Some(id);
                continue;
            }
            if ended || !wait_for(notified.as_mut(), deadline, self).await {
                self.annotate(&mut detail.job);
                return Ok(detail);
            }
        }
    }

    /// Log lines after the query's cursor, waiting up to `wait_ms` for some.
    /// Once the run is known, the wait is on that run's own notifier (on a
    /// single tracker): a follower of a quiet run costs the store nothing.
    pub async fn logs(&self, query: LogQuery) -> Result<LogPage, WireError> {
        let deadline = deadline_in(query.wait_ms);
        let mut following = None;
        loop {
            let keyed = following
                .filter(|_| !self.shared_store)
                .map(|id| self.wake.runs.get(id));
            let mut notified = armed(keyed.as_deref().unwrap_or(&self.wake.changes));
            let q = query.clone();
            let slice = self
                .store
                .call(move |s| views::read_logs(s, &q, LOG_PAGE))
                .await?;
            let quiet = slice.lines.is_empty() && !slice.done && query.wait_ms > 0;
            if quiet && slice.run_id.is_some() && slice.run_id != following {
                // Wait on the run just found; read once more after arming.
                following = slice.run_id;
                continue;
            }
            if !quiet || !wait_for(notified.as_mut(), deadline, self).await {
                return Ok(LogPage {
                    lines: slice.lines,
                    run: slice.run,
                    attempt: slice.attempt,
                    done: slice.done,
                });
            }
        }
    }

    pub async fn stats(
        &self,
        group: Option<String>,
        window_ms: i64,
    ) -> Result<StoreStats, WireError> {
        if window_ms <= 0 {
            return Err(WireError::InvalidInput(format!(
                "the stats window must be positive, not {window_ms} ms"
            )));
        }
        let now = now_ms();
        let stats = self
            .store
            .call(move |s| Ok::<_, WireError>(s.stats(now, window_ms)?))
            .await?;
        Ok(match group {
            Some(group) => stats.only(&group),
            None => stats,
        })
    }

    /// Runs that ended in the last `minutes` whole minutes and the current
    /// one, by group, minute and outcome, with fire lag: the console's chart.
    pub async fn runs_by_minute(&self, minutes: u32) -> Result<Vec<MinuteCount>, WireError> {
        let step = crate::store::MINUTE_MS;
        let now = now_ms();
        let since = now - now.rem_euclid(step) - i64::from(minutes) * step;
        self.store
            .call(move |s| Ok::<_, WireError>(s.runs_by_minute(since)?))
            .await
    }

    /// `group`'s live workers, for a claim (`lifecycle::Fleet`): once this
    /// tracker has run for a lease, every live worker has spoken to it, so
    /// one it does not list is gone.
    pub fn fleet(&self, group: &str, now: crate::model::Millis) -> Fleet {
        Fleet {
            live: self.nodes.live_workers(group, now, self.lease_ms),
            settled: now - self.started_at > self.lease_ms as i64,
        }
    }

    /// This tracker and the workers it knows.
    pub fn nodes(&self) -> Vec<NodeView> {
        let now = now_ms();
        let mut nodes = vec![NodeView {
            id: self.id.clone(),
            role: Role::Tracker,
            group: "tracker".into(),
            address: self.address.clone(),
            state: "up".into(),
            master: true,
            slots_used: 0,
            slots_free: 0,
            version: crate::VERSION.into(),
            last_seen: now,
        }];
        nodes.extend(self.nodes.list(now, self.lease_ms));
        nodes
    }

    /// A client group's feedback after `after_id`, waiting up to `wait_ms`.
    pub async fn feedback(
        &self,
        client_group: String,
        after_id: i64,
        wait_ms: u64,
    ) -> Result<Vec<FeedbackItem>, WireError> {
        let deadline = deadline_in(wait_ms);
        // On a single tracker, only this client group's feedback wakes it.
        let keyed = (!self.shared_store).then(|| self.wake.feedback.get(client_group.clone()));
        loop {
            let mut notified = armed(keyed.as_deref().unwrap_or(&self.wake.changes));
            let group = client_group.clone();
            let items = self
                .store
                .call(move |s| Ok::<_, WireError>(s.feedback_after(&group, after_id, LOG_PAGE)?))
                .await?;
            if !items.is_empty()
                || wait_ms == 0
                || !wait_for(notified.as_mut(), deadline, self).await
            {
                return Ok(items);
            }
        }
    }

    /// Change a job's schedule, params, command or limits; its runs stay.
    pub async fn edit(&self, job: JobRef, edit: JobEdit) -> Result<JobView, WireError> {
        if edit.is_empty() {
            return Err(WireError::InvalidInput(
                "nothing to change: give a schedule, --param, a command or a limit".into(),
            ));
        }
        let (now, zone) = (now_ms(), self.zone);
        let job = self
            .store
            .call(move |s| control::edit(s, &job, &edit, now, zone))
            .await?;
        self.wake.changed();
        self.wake.schedule_changed();
        Ok(self.shown(&job))
    }

    /// Store a flow; without a cron its one run starts now.
    pub async fn flow_submit(&self, spec: FlowSpec) -> Result<FlowView, WireError> {
        if self.stopping() {
            return Err(WireError::ShuttingDown);
        }
        let (now, zone) = (now_ms(), self.zone);
        let (view, woken) = self
            .store
            .call(move |s| {
                let (flow, woken) = flows::submit(s, spec.clone(), now, zone)?;
                Ok::<_, WireError>((views::flow(s, &flow.id)?, woken))
            })
            .await?;
        self.wake.work_for(&woken);
        self.wake.changed();
        self.wake.schedule_changed();
        Ok(view)
    }

    /// A flow with its latest run's steps.
    pub async fn flow(&self, id: String) -> Result<FlowView, WireError> {
        self.store.call(move |s| views::flow(s, &id)).await
    }

    /// The newest `limit` flows (0: all).
    pub async fn flows(&self, limit: u32) -> Result<Vec<FlowView>, WireError> {
        self.store
            .call(move |s| views::flows(s, limit as usize))
            .await
    }

    /// Cancel a flow's open run and stop its cron.
    pub async fn flow_cancel(&self, id: String) -> Result<FlowView, WireError> {
        let (now, zone) = (now_ms(), self.zone);
        let view = self
            .store
            .call(move |s| {
                let flow = flows::cancel(s, &id, now, zone)?;
                views::flow(s, &flow.id)
            })
            .await?;
        self.wake.changed();
        self.wake.schedule_changed();
        Ok(view)
    }

    /// Suspend, resume or cancel every job the filter selects that the
    /// action applies to (a finished job cannot be cancelled, so it is not
    /// selected), a page per transaction; with `dry_run`, only count them.
    pub async fn act_all(
        &self,
        filter: JobFilter,
        action: BulkAction,
        dry_run: bool,
    ) -> Result<BulkOutcome, WireError> {
        let mut out = BulkOutcome::default();
        let mut cursor = None;
        let mut groups = std::collections::BTreeSet::new();
        loop {
            let query = JobQuery {
                group: filter.group.clone(),
                state: filter.state,
                kind: filter.kind,
                text: filter.text.clone().filter(|t| !t.is_empty()),
                before_id: cursor,
                limit: BULK_PAGE,
            };
            let (now, zone) = (now_ms(), self.zone);
            let (seen, next, page) = self
                .store
                .call(move |s| {
                    let jobs = s.list_jobs(&query)?;
                    let next = jobs.first().map(|j| j.id);
                    let mut page = Vec::new();
                    for job in jobs
                        .iter()
                        .filter(|j| control::bulk_applies(action, j.state))
                    {
                        let r = JobRef {
                            task_id: job.spec.task_id.clone(),
                            group: Some(job.spec.group.clone()),
                        };
                        let done = if dry_run {
                            Ok(false)
                        } else {
                            match action {
                                BulkAction::Cancel => {
                                    control::cancel(s, &r, now, zone).map(|_| false)
                                }
                                BulkAction::Suspend => control::suspend(s, &r, now).map(|_| false),
                                BulkAction::Resume => {
                                    control::resume(s, &r, now, zone).map(|(_, queued)| queued)
                                }
                            }
                        };
                        match done {
                            Ok(queued) => page.push((r, Ok(queued))),
                            Err(e @ (WireError::Store(_) | WireError::ShuttingDown)) => {
                                return Err(e)
                            }
                            Err(e) => page.push((r, Err(e.to_string()))),
                        }
                    }
                    Ok::<_, WireError>((jobs.len(), next, page))
                })
                .await?;
            for (r, done) in page {
                out.matched += 1;
                match done {
                    Ok(queued) => {
                        out.done += u64::from(!dry_run);
                        if queued {
                            groups.insert(r.group.unwrap_or_default());
                        }
                    }
                    Err(reason) => {
                        out.skipped_count += 1;
                        if out.skipped.len() < SKIPPED_SHOWN {
                            out.skipped.push(Skipped {
                                task_id: r.task_id,
                                group: r.group.unwrap_or_default(),
                                reason,
                            });
                        }
                    }
                }
            }
            if seen < BULK_PAGE || next.is_none() {
                break;
            }
            cursor = next;
        }
        if out.done > 0 {
            self.wake.work_for(&groups);
            self.wake.changed();
            self.wake.schedule_changed();
        }
        Ok(out)
    }

    /// Delete ended jobs (succeeded, failed, cancelled, broken) of the filter's
    /// group and state that last changed before `filter.before`, with their
    /// runs and log lines, a page per transaction; with `dry_run`, only
    /// count them.
    pub async fn purge(
        &self,
        filter: PurgeFilter,
        dry_run: bool,
    ) -> Result<BulkOutcome, WireError> {
        if let Some(state) = filter.state.filter(|s| !s.is_final()) {
            return Err(WireError::InvalidInput(format!(
                "--state {state}: only ended jobs are purged (succeeded, failed, cancelled or broken)"
            )));
        }
        let mut out = BulkOutcome::default();
        let mut cursor = None;
        loop {
            let query = JobQuery {
                group: filter.group.clone(),
                state: filter.state,
                before_id: cursor,
                limit: BULK_PAGE,
                ..JobQuery::default()
            };
            let before = filter.before;
            let (seen, next, deleted) = self
                .store
                .call(move |s| {
                    let jobs = s.list_jobs(&query)?;
                    let next = jobs.first().map(|j| j.id);
                    let mut deleted = 0u64;
                    for job in jobs
                        .iter()
                        .filter(|j| j.state.is_final() && j.updated_at < before)
                    {
                        if !dry_run {
                            s.delete_job(job.id)?;
                        }
                        deleted += 1;
                    }
                    Ok::<_, WireError>((jobs.len(), next, deleted))
                })
                .await?;
            out.matched += deleted;
            if !dry_run {
                out.done += deleted;
            }
            if seen < BULK_PAGE || next.is_none() {
                break;
            }
            cursor = next;
        }
        Ok(out)
    }

    /// This tracker's version, store, leadership and addresses.
    pub fn status(&self) -> TrackerStatus {
        TrackerStatus {
            id: self.id.clone(),
            version: crate::VERSION.into(),
            protocol: PROTOCOL_VERSION,
            address: self.address.clone(),
            http: self.http_address.clone(),
            store: self.store_name.clone(),
            leader: self.leader.current().is_some(),
            started_at: self.started_at,
            now: now_ms(),
        }
    }

    /// Membership events after `after` (`None`: from now), waiting up to
    /// `wait_ms` for one; wakes when a worker joins or leaves, and when the
    /// next membership runs out.
    pub async fn watch_nodes(&self, after: Option<u64>, wait_ms: u64) -> EventPage {
        let deadline = deadline_in(wait_ms);
        loop {
            let mut notified = armed(&self.nodes.events);
            let page = self.nodes.events_after(after, now_ms(), EVENT_PAGE);
            if !page.events.is_empty() || page.reset || after.is_none() || wait_ms == 0 {
                return page;
            }
            let until = match self.nodes.next_expiry() {
                Some(at) => deadline.min(
                    tokio::time::Instant::now()
                        + Duration::from_millis((at - now_ms()).max(0) as u64 + 1),
                ),
                None => deadline,
            };
            if !wait_for(notified.as_mut(), until, self).await
                && (tokio::time::Instant::now() >= deadline || self.stopping())
            {
                return self.nodes.events_after(after, now_ms(), EVENT_PAGE);
            }
        }
    }

    /// Every alert rule, by name.
    pub async fn alert_rules(&self) -> Result<Vec<AlertRule>, WireError> {
        self.store.call(|s| Ok::<_, WireError>(s.rules()?)).await
    }

    /// Store a rule; with `replace`, one of the same name is replaced.
    /// Returns whether one was replaced.
    pub async fn add_alert_rule(&self, rule: AlertRule, replace: bool) -> Result<bool, WireError> {
        rule.validate().map_err(WireError::InvalidInput)?;
        let name = rule.name.clone();
        let (stored, existed) = self
            .store
            .call(move |s| {
                let existed = s.rules()?.iter().any(|r| r.name == rule.name);
                Ok::<_, WireError>((s.put_rule(&rule, replace)?, existed))
            })
            .await?;
        if !stored {
            return Err(WireError::Conflict(format!(
                "alert rule '{}' already exists (pass --replace to replace it)",
                crate::model::cut(&name, 80)
            )));
        }
        self.wake.alerts_changed();
        Ok(existed)
    }

    /// Delete a rule; its alerts stay (state alerts of it resolve).
    pub async fn remove_alert_rule(&self, name: String) -> Result<(), WireError> {
        let shown = crate::model::cut(&name, 80);
        let removed = self
            .store
            .call(move |s| Ok::<_, WireError>(s.delete_rule(&name)?))
            .await?;
        if !removed {
            return Err(WireError::Missing(format!("no alert rule '{shown}'")));
        }
        self.wake.alerts_changed();
        Ok(())
    }

    /// Raise a test alert for rule `name` through the delivery path, and
    /// wait up to `wait_ms` for its first delivery attempt.
    pub async fn test_alert(&self, name: String, wait_ms: u64) -> Result<Alert, WireError> {
        let shown = crate::model::cut(&name, 80);
        let now = now_ms();
        let alert = self
            .store
            .call(move |s| {
                let rule = s
                    .rules()?
                    .into_iter()
                    .find(|r| r.name == name)
                    .ok_or_else(|| WireError::Missing(format!("no alert rule '{shown}'")))?;
                super::alerts::raise_test(s, &rule, now)
            })
            .await?;
        let deadline = deadline_in(wait_ms);
        loop {
            let mut notified = armed(&self.wake.alerts);
            let id = alert.id;
            let now = self
                .store
                .call(move |s| Ok::<_, WireError>(s.alert_by_id(id)?))
                .await?;
            let Some(now) = now else {
                return Ok(alert);
            };
            if !now.deliveries.is_empty() || !wait_for(notified.as_mut(), deadline, self).await {
                return Ok(now);
            }
        }
    }

    /// State alerts whose condition holds now.
    pub async fn firing_alerts(&self) -> Result<Vec<Alert>, WireError> {
        self.store
            .call(|s| Ok::<_, WireError>(s.open_state_alerts()?))
            .await
    }

    /// Alerts: the newest (`query.after_seq` unset), or those changed after
    /// the cursor, waiting up to `wait_ms` for one.
    pub async fn alerts(&self, query: AlertQuery, wait_ms: u64) -> Result<Vec<Alert>, WireError> {
        let deadline = deadline_in(wait_ms);
        loop {
            let mut notified = armed(&self.wake.alerts);
            let q = query.clone();
            let alerts = self
                .store
                .call(move |s| Ok::<_, WireError>(s.list_alerts(&q)?))
                .await?;
            if !alerts.is_empty()
                || query.after_seq.is_none()
                || wait_ms == 0
                || !wait_for(notified.as_mut(), deadline, self).await
            {
                return Ok(alerts);
            }
        }
    }

    pub async fn ack_feedback(&self, client_group: String, up_to: i64) -> Result<u64, WireError> {
        let removed = self
            .store
            .call(move |s| Ok::<_, WireError>(s.ack_feedback(&client_group, up_to)?))
            .await?;
        Ok(removed as u64)
    }
}
