//! Workflows: a flow is named steps, each a job, that run after one another
//! (`after`), once or on the flow's cron; and the graph a flow run draws.
//! Plain data and the pure checks on it (names, references, cycles); the
//! tracker turns a flow run into jobs linked by `--after`.

use super::{valid_name, JobSpec, JobState, Millis, Overlap, Schedule};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// The most steps a flow may have.
pub const MAX_STEPS: usize = 500;

/// What a failed step does to the rest of its flow run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Cancel every step of the run that has not ended (the default).
    #[default]
    Stop,
    /// Cancel only the steps that run after the failed one; the others go on.
    Continue,
}

impl OnFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Stop => "stop",
            OnFailure::Continue => "continue",
        }
    }

    pub fn parse(s: &str) -> Option<OnFailure> {
        [OnFailure::Stop, OnFailure::Continue]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// One step of a flow: a job (its task id is given per flow run) and the
/// steps it runs after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowStep {
    pub name: String,
    pub after: Vec<String>,
    pub job: JobSpec,
}

/// A flow as submitted (`lts flow submit FILE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSpec {
    pub name: String,
    /// Each tick starts a flow run; without one, a single run starts now.
    pub cron: Option<String>,
    pub tz: Option<String>,
    pub on_failure: OnFailure,
    /// What a tick does while an earlier run of the flow is still open:
    /// `skip` it (the default) or `allow` another run beside it.
    #[serde(default)]
    pub overlap: Overlap,
    pub steps: Vec<FlowStep>,
}

/// A job that is a step of a flow run: which one, and what its failure
/// does to the rest of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRef {
    pub flow: String,
    pub run: u32,
    pub step: String,
    pub on_failure: OnFailure,
}

/// Why a flow is not acceptable: one line naming the step.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct FlowError(pub String);

fn shown(text: &str) -> String {
    super::cut(text, 60)
}

impl FlowSpec {
    /// The steps in topological layers (each step after every step it
    /// runs after), by index; or why the flow is not acceptable: a bad or
    /// repeated name, an unknown step in `after`, a cycle.
    pub fn layers(&self) -> Result<Vec<Vec<usize>>, FlowError> {
        if !valid_name(&self.name, 64) {
            return Err(FlowError(format!(
                "name: '{}' is not a valid flow name: 1-64 ASCII letters, digits, '-', '_', '.', \
                 ':' or '@'",
                shown(&self.name)
            )));
        }
        if self.steps.is_empty() {
            return Err(FlowError("a flow needs at least one [[step]]".into()));
        }
        if !matches!(self.overlap, Overlap::Skip | Overlap::Allow) {
            return Err(FlowError(
                "overlap: a flow takes skip (the default) or allow".into(),
            ));
        }
        if self.steps.len() > MAX_STEPS {
            return Err(FlowError(format!(
                "a flow has at most {MAX_STEPS} steps, not {}",
                self.steps.len()
            )));
        }
        let mut index = BTreeMap::new();
        for (i, step) in self.steps.iter().enumerate() {
            if !valid_name(&step.name, 64) {
                return Err(FlowError(format!(
                    "step '{}': not a valid step name: 1-64 ASCII letters, digits, '-', '_', \
                     '.', ':' or '@'",
                    shown(&step.name)
                )));
            }
            if index.insert(step.name.as_str(), i).is_some() {
                return Err(FlowError(format!(
                    "step '{}' is named twice",
                    shown(&step.name)
                )));
            }
        }
        let mut before: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); self.steps.len()];
        for (i, step) in self.steps.iter().enumerate() {
            for name in &step.after {
                let Some(&j) = index.get(name.as_str()) else {
                    return Err(FlowError(format!(
                        "step '{}': after names '{}', which is no step of this flow",
                        shown(&step.name),
                        shown(name)
                    )));
                };
                before[i].insert(j);
            }
        }
        // Kahn's algorithm, a layer at a time; what is left is a cycle.
        let mut placed = vec![false; self.steps.len()];
        let mut layers = Vec::new();
        loop {
            let layer: Vec<usize> = (0..self.steps.len())
                .filter(|&i| !placed[i] && before[i].iter().all(|&j| placed[j]))
                .collect();
            if layer.is_empty() {
                break;
            }
            for &i in &layer {
                placed[i] = true;
            }
            layers.push(layer);
        }
        if let Some(stuck) = (0..self.steps.len()).find(|&i| !placed[i]) {
            let cycle = self.cycle_through(stuck, &before, &placed);
            return Err(FlowError(format!("the steps form a cycle: {cycle}")));
        }
        Ok(layers)
    }

    /// A cycle among the unplaced steps, from `start`, as `a -> b -> a`.
    fn cycle_through(&self, start: usize, before: &[BTreeSet<usize>], placed: &[bool]) -> String {
        // Every unplaced step has an unplaced predecessor: walk back until a
        // step repeats.
        let mut path = vec![start];
        let mut at = start;
        while let Some(&next) = before[at].iter().find(|&&j| !placed[j]) {
            if let Some(pos) = path.iter().position(|&p| p == next) {
                let mut cycle: Vec<&str> = path[pos..]
                    .iter()
                    .rev()
                    .map(|&i| self.steps[i].name.as_str())
                    .collect();
                cycle.push(&self.steps[next].name);
                return cycle
                    .iter()
                    .map(|n| shown(n))
                    .collect::<Vec<_>>()
                    .join(" -> ");
            }
            path.push(next);
            at = next;
        }
        shown(&self.steps[start].name)
    }

    /// The task id of a step's job in flow run `run` of flow `id`.
    pub fn task_id(id: &str, run: u32, step: &str) -> String {
        format!("{id}.{run}.{step}")
    }

    /// The schedule of the whole flow, when it has a cron.
    pub fn schedule(&self) -> Option<Schedule> {
        self.cron.as_ref().map(|expr| Schedule::Cron {
            expr: expr.clone(),
            tz: self.tz.clone(),
        })
    }
}

/// Whether a flow still starts runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowState {
    /// Its run is going, or its cron starts more.
    Active,
    /// Its run has ended, every step succeeded, and no cron starts another.
    Done,
    /// Its run has ended with a step that did not succeed, and no cron
    /// starts another.
    Failed,
    /// A user cancelled it.
    Cancelled,
}

impl FlowState {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::Active => "active",
            FlowState::Done => "done",
            FlowState::Failed => "failed",
            FlowState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<FlowState> {
        [
            FlowState::Active,
            FlowState::Done,
            FlowState::Failed,
            FlowState::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// One step of a flow run as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    pub name: String,
    pub after: Vec<String>,
    /// Its topological layer, from 0.
    pub layer: u32,
    pub group: String,
    /// The step's job in the shown run; `None` before the flow's first run
    /// (or once retention deleted it).
    pub task_id: Option<String>,
    pub state: Option<JobState>,
    pub note: Option<String>,
}

/// A flow, its schedule, and its latest run's steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowView {
    pub id: String,
    pub name: String,
    pub cron: Option<String>,
    pub tz: Option<String>,
    pub on_failure: OnFailure,
    pub overlap: Overlap,
    pub state: FlowState,
    pub created_at: Millis,
    pub next_fire: Option<Millis>,
    /// How many flow runs it has started.
    pub runs: u32,
    /// The run `steps` shows (the latest), if one started.
    pub run: Option<u32>,
    /// Whether that run has a step that has not ended.
    pub run_open: bool,
    /// In topological order.
    pub steps: Vec<StepView>,
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(steps: &[(&str, &[&str])]) -> FlowSpec {
        FlowSpec {
            name: "f".into(),
            cron: None,
            tz: None,
            on_failure: OnFailure::Stop,
            overlap: Overlap::Skip,
            steps: steps
                .iter()
                .map(|(name, after)| FlowStep {
                    name: name.to_string(),
                    after: after.iter().map(|a| a.to_string()).collect(),
                    job: JobSpec::new("g", "x"),
                })
                .collect(),
        }
    }

    #[test]
    fn a_diamond_is_three_layers() {
        let f = flow(&[("d", &["b", "c"]), ("b", &["a"]), ("c", &["a"]), ("a", &[])]);
        assert_eq!(f.layers().unwrap(), vec![vec![3], vec![1, 2], vec![0]]);
    }

    #[test]
    fn bad_flows_are_refused_naming_the_step() {
        let e = flow(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])])
            .layers()
            .unwrap_err();
        assert!(e.0.contains("cycle") && e.0.contains("a -> "), "{e}");
        let e = flow(&[("a", &[]), ("a", &[])]).layers().unwrap_err();
        assert!(e.0.contains("'a' is named twice"), "{e}");
        let e = flow(&[("a", &["zz"])]).layers().unwrap_err();
        assert!(e.0.contains("'zz'"), "{e}");
        let e = flow(&[("a", &["a"])]).layers().unwrap_err();
        assert!(e.0.contains("cycle: a -> a"), "{e}");
    }
}
