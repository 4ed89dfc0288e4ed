//! Submit: a job is stored with its first tick, or, when it runs now,
//! with its first run queued, in the transaction that acknowledges it; a
//! job that runs after others (`--after`) is stored waiting for them
//! (`deps`). A job whose idempotency key is stored already was sent
//! before: it is answered as it was then (`answer_again`), or refused when
//! the key came with another job. A batch is stored set-based: its jobs in
//! one statement, the first runs of those that run now in another, whatever
//! its size.

use super::{deps, tick_runs, tick_size, Outcome};
use crate::model::{validate_job, JobSpec, JobState, Millis, Schedule};
use crate::protocol::{SubmitAck, WireError};
use crate::schedule::Plan;
use crate::store::{JobRecord, RunEvent, Store, StoreError};
use chrono_tz::Tz;
use std::collections::{BTreeSet, HashMap};

/// Store submitted jobs. Each job gets its own answer (a refusal is that
/// job's alone; `Err` is a store failure, and the whole batch fails); the
/// groups that got runs to dispatch are returned so their workers can be
/// woken.
pub fn submit(
    s: &mut dyn Store,
    jobs: Vec<JobSpec>,
    now: Millis,
    zone: Tz,
) -> Outcome<(Vec<Outcome<SubmitAck>>, BTreeSet<String>)> {
    let mut acks = Vec::with_capacity(jobs.len());
    // The valid jobs, and where in `acks` each one's answer is.
    let mut records = Vec::with_capacity(jobs.len());
    let mut places = Vec::with_capacity(jobs.len());
    for spec in jobs {
        let place = acks.len();
        acks.push(record(spec, now, zone).map(|job| {
            let ack = SubmitAck {
                task_id: job.spec.task_id.clone(),
                group: job.spec.group.clone(),
                state: job.state,
                replaced: false,
            };
            places.push(place);
            records.push(job);
            ack
        }));
    }
    // The keys are usually free: store every job at once, and look at the
    // job holding a key only where it is not.
    let ids = s.insert_jobs(&records)?;
    // The batch's jobs still stored, by id: a later job of the batch may
    // replace one, which then gets no run.
    let mut stored = HashMap::new();
    // Answers to jobs sent before: no new submit, nothing to wake.
    let mut repeats = std::collections::HashSet::new();
    for (i, (job, id)) in records.iter_mut().zip(ids).enumerate() {
        let first = match (&id, &job.spec.idempotency_key) {
            (None, Some(key)) => s.job_by_idempotency_key(key)?,
            _ => None,
        };
        if let Some(first) = first {
            // Sent before under this key: answered as then, or refused
            // when the key now comes with another job.
            acks[places[i]] = answer_again(&first, &job.spec);
            repeats.insert(places[i]);
            continue;
        }
        let mut replaced = None;
        let mut linked = None;
        match id {
            Some(id) => job.id = id,
            None if !job.spec.replace => {
                acks[places[i]] = Err(WireError::Exists {
                    task_id: job.spec.task_id.clone(),
                    group: job.spec.group.clone(),
                });
                continue;
            }
            None => {
                // Only now, with the new job known to be good, may the old
                // one go.
                if let Some(old) = s.job_by_key(&job.spec.group, &job.spec.task_id)? {
                    if !job.spec.after.is_empty() {
                        match deps::resolve(s, &job.spec, None, Some(old.id))? {
                            Ok(found) => linked = Some(found),
                            Err(e) => {
                                acks[places[i]] = Err(e);
                                continue;
                            }
                        }
                    }
                    s.delete_job(old.id)?;
                    stored.remove(&old.id);
                    replaced = Some(old.id);
                }
                job.id = s.insert_job(job)?.ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "job {} in group {} kept its key after being replaced",
                        job.spec.task_id, job.spec.group
                    ))
                })?;
                if let Ok(ack) = &mut acks[places[i]] {
                    ack.replaced = true;
                }
            }
        }
        if !job.spec.after.is_empty() {
            let found = match linked {
                Some(found) => found,
                None => match deps::resolve(s, &job.spec, Some(job.id), None)? {
                    Ok(found) => found,
                    Err(e) => {
                        s.delete_job(job.id)?;
                        acks[places[i]] = Err(e);
                        continue;
                    }
                },
            };
            deps::attach(s, job, &found, now)?;
            if let Ok(ack) = &mut acks[places[i]] {
                ack.state = job.state;
            }
        }
        if let Some(old) = replaced {
            // The jobs that waited for the replaced job wait for this one.
            s.repoint_deps(old, job.id)?;
        }
        stored.insert(job.id, i);
    }
    // The first tick's runs of each job that runs now (run 1, or runs 1 to
    // N of a sharded job), already counted in the stored job, in the
    // batch's order: run ids follow it, and so does dispatch.
    let mut kept: Vec<usize> = stored.into_values().collect();
    kept.sort_unstable();
    let first_runs: Vec<_> = kept
        .into_iter()
        .map(|i| &records[i])
        .filter(|job| job.spec.schedule == Schedule::Now && job.state == JobState::Queued)
        .flat_map(|job| tick_runs(job, 1, now))
        .collect();
    s.insert_runs(&first_runs)?;

    let mut woken = BTreeSet::new();
    let new_acks = acks
        .iter()
        .enumerate()
        .filter(|(place, _)| !repeats.contains(place))
        .filter_map(|(_, ack)| ack.as_ref().ok());
    for ack in new_acks {
        s.journal().push(RunEvent::Submitted {
            group: ack.group.clone(),
        });
        if ack.state == JobState::Queued {
            woken.insert(ack.group.clone());
        }
    }
    Ok((acks, woken))
}

/// The answer to a job sent again with the idempotency key of `first`, a
/// job stored before: the answer its own submit had when it is the same
/// job (`JobSpec::same_job`), else the refusal of a key taken by another.
fn answer_again(first: &JobRecord, sent: &JobSpec) -> Outcome<SubmitAck> {
    if !first.spec.same_job(sent) {
        return Err(WireError::KeyReused {
            key: sent.idempotency_key.clone().unwrap_or_default(),
            task_id: first.spec.task_id.clone(),
            group: first.spec.group.clone(),
        });
    }
    Ok(SubmitAck {
        task_id: first.spec.task_id.clone(),
        group: first.spec.group.clone(),
        state: submitted_state(&first.spec),
        replaced: false,
    })
}

/// The state a job is stored in when it is submitted.
fn submitted_state(spec: &JobSpec) -> JobState {
    match spec.schedule {
        Schedule::Now => JobState::Queued,
        _ => JobState::Scheduled,
    }
}

/// A submitted job as stored: its state and first tick, or the refusal of
/// a job that is invalid or whose schedule never fires.
fn record(spec: JobSpec, now: Millis, zone: Tz) -> Outcome<JobRecord> {
    if let Err(e) = validate_job(&spec) {
        return Err(WireError::InvalidInput(e.to_string()));
    }
    let (state, next_fire) = first_tick(&spec, now, zone)?;
    // A job that runs now has its first tick's runs counted (one per shard).
    let first_runs = if spec.schedule == Schedule::Now {
        tick_size(&spec)
    } else {
        0
    };
    Ok(JobRecord {
        id: 0,
        spec,
        state,
        submitted_at: now,
        updated_at: now,
        next_fire,
        run_count: first_runs,
        note: None,
    })
}

/// Where a job starts at `now`: queued (it runs now) or scheduled for its
/// first tick; or why its schedule never fires.
pub fn first_tick(spec: &JobSpec, now: Millis, zone: Tz) -> Outcome<(JobState, Option<Millis>)> {
    let next_fire = match &spec.schedule {
        Schedule::Now => None,
        // An --at in the past runs now rather than as a missed tick.
        Schedule::At { at_ms } => Some((*at_ms).max(now)),
        Schedule::Cron { .. } | Schedule::Repeat { .. } => {
            let plan = Plan::new(&spec.schedule, now, zone)
                .map_err(|e| WireError::InvalidInput(e.to_string()))?;
            let first = plan.first(now).ok_or_else(|| {
                WireError::InvalidInput("--cron: the schedule never fires again".into())
            })?;
            Some(first)
        }
    };
    Ok((submitted_state(spec), next_fire))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    fn spec(task_id: &str, replace: bool) -> JobSpec {
        let mut spec = JobSpec::new("g", task_id);
        spec.replace = replace;
        spec
    }

    #[test]
    fn a_batch_is_answered_job_by_job_as_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("lts.db")).unwrap();
        let mut bad = spec("bad", false);
        bad.params.insert("a=b".into(), "c".into());
        let mut newer = spec("k", true);
        newer.params.insert("v".into(), "2".into());
        let mut at = spec("at", false);
        at.group = "h".into();
        at.schedule = Schedule::At { at_ms: 5_000 };
        let batch = vec![
            spec("k", false),
            bad,
            // Replaces the first job of the batch, whose run goes with it.
            newer,
            spec("k", false),
            at,
            spec("other", false),
        ];
        let (acks, woken) = submit(&mut s, batch, 1_000, chrono_tz::UTC).unwrap();
        assert!(matches!(&acks[0], Ok(a) if !a.replaced && a.state == JobState::Queued));
        assert!(matches!(&acks[1], Err(WireError::InvalidInput(_))));
        assert!(matches!(&acks[2], Ok(a) if a.replaced));
        assert!(matches!(&acks[3], Err(WireError::Exists { task_id, .. }) if task_id == "k"));
        assert!(matches!(&acks[4], Ok(a) if a.state == JobState::Scheduled));
        assert!(matches!(&acks[5], Ok(a) if a.task_id == "other"));
        assert_eq!(woken, BTreeSet::from(["g".to_string()]));
        assert_eq!(s.journal().events().len(), 4);

        let k = s.job_by_key("g", "k").unwrap().unwrap();
        assert_eq!(k.spec.params.get("v").map(String::as_str), Some("2"));
        let other = s.job_by_key("g", "other").unwrap().unwrap();
        let at = s.job_by_key("h", "at").unwrap().unwrap();
        assert_eq!(at.next_fire, Some(5_000));
        assert!(s.recent_runs(at.id, 9).unwrap().is_empty());
        // One first run each, in the batch's order: the replacing job's first.
        let (kr, or) = (
            s.recent_runs(k.id, 9).unwrap(),
            s.recent_runs(other.id, 9).unwrap(),
        );
        assert_eq!((kr.len(), or.len()), (1, 1));
        assert!(kr[0].id < or[0].id);
        assert_eq!(s.stats(1_000, 1).unwrap().queues[0].runs, 2);
    }

    #[test]
    fn a_job_sent_again_with_its_key_is_answered_as_the_first_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("lts.db")).unwrap();
        let mut keyed = spec("k", false);
        keyed.idempotency_key = Some("key-1".into());
        let (first, _) = submit(&mut s, vec![keyed.clone()], 1_000, chrono_tz::UTC).unwrap();
        let mut other = keyed.clone();
        other.task_id = "other".into();
        let mut plain = spec("k", false);
        plain.idempotency_key = Some("key-2".into());
        let batch = vec![keyed.clone(), other, plain];
        let (again, woken) = submit(&mut s, batch, 2_000, chrono_tz::UTC).unwrap();
        assert_eq!(again[0], first[0], "answered as the first time");
        assert!(
            matches!(&again[1], Err(WireError::KeyReused { key, task_id, .. }) if key == "key-1" && task_id == "k")
        );
        assert!(matches!(&again[2], Err(WireError::Exists { .. })));
        assert!(woken.is_empty());
        let job = s.job_by_key("g", "k").unwrap().unwrap();
        assert_eq!(s.recent_runs(job.id, 9).unwrap().len(), 1, "no second run");
    }

    #[test]
    fn an_empty_batch_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("lts.db")).unwrap();
        let (acks, woken) = submit(&mut s, Vec::new(), 1_000, chrono_tz::UTC).unwrap();
        assert!(acks.is_empty() && woken.is_empty());
    }
}
