//! `/`: the cluster at a glance. Per group: jobs by state, the queue's depth
//! and age, runs and failures per minute over the last hour as a chart
//! (inline SVG drawn here, no script), fire lag, live workers and slots; and
//! the alerts firing.

use super::fmt;
use super::layout::{badge, Ctx, Nav};
use crate::model::{JobState, Millis, MinuteCount, NodeView, Role, RunOutcome, StoreStats};
use crate::store::MINUTE_MS;
use axum::response::Response;
use maud::{html, Markup};
use std::collections::BTreeMap;

/// Minutes in the chart, the current one included.
const MINUTES: usize = 60;

/// One minute of a group's chart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bar {
    ok: u64,
    bad: u64,
    other: u64,
}

impl Bar {
    fn total(&self) -> u64 {
        self.ok + self.bad + self.other
    }
}

/// Everything the overview shows about one group.
#[derive(Debug, Clone)]
struct Group {
    states: BTreeMap<JobState, u64>,
    queued: u64,
    oldest_due: Option<Millis>,
    bars: Vec<Bar>,
    lagged: u64,
    lag_total_ms: i64,
    lag_max_ms: i64,
    workers_up: u32,
    workers_down: u32,
    slots_used: u32,
    slots_free: u32,
}

impl Default for Group {
    fn default() -> Group {
        Group {
            states: BTreeMap::new(),
            queued: 0,
            oldest_due: None,
            bars: vec![Bar::default(); MINUTES],
            lagged: 0,
            lag_total_ms: 0,
            lag_max_ms: 0,
            workers_up: 0,
            workers_down: 0,
            slots_used: 0,
            slots_free: 0,
        }
    }
}

impl Group {
    fn jobs(&self) -> u64 {
        self.states.values().sum()
    }

    fn runs(&self) -> u64 {
        self.bars.iter().map(Bar::total).sum()
    }

    fn failures(&self) -> u64 {
        self.bars.iter().map(|b| b.bad).sum()
    }
}

/// A failure for the chart: the run did not do its work.
fn is_failure(outcome: RunOutcome) -> bool {
    matches!(
        outcome,
        RunOutcome::Failed | RunOutcome::TimedOut | RunOutcome::Lost
    )
}

/// The first instant of the chart's first minute.
fn chart_start(now: Millis) -> Millis {
    now - now.rem_euclid(MINUTE_MS) - (MINUTES as i64 - 1) * MINUTE_MS
}

/// Gather the stats, the per-minute counts and the nodes by group.
fn by_group(
    now: Millis,
    stats: &StoreStats,
    minutes: &[MinuteCount],
    nodes: &[NodeView],
) -> BTreeMap<String, Group> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    fn entry<'a>(groups: &'a mut BTreeMap<String, Group>, name: &str) -> &'a mut Group {
        groups.entry(name.to_string()).or_default()
    }
    for c in &stats.jobs {
        *entry(&mut groups, &c.group)
            .states
            .entry(c.state)
            .or_default() += c.count;
    }
    for q in &stats.queues {
        let g = entry(&mut groups, &q.group);
        g.queued = q.runs;
        g.oldest_due = q.oldest_due;
    }
    let start = chart_start(now);
    for m in minutes {
        let g = entry(&mut groups, &m.group);
        let i = (m.minute - start).div_euclid(MINUTE_MS);
        let Some(bar) = usize::try_from(i).ok().and_then(|i| g.bars.get_mut(i)) else {
            continue;
        };
        match m.outcome {
            RunOutcome::Succeeded => bar.ok += m.count,
            o if is_failure(o) => bar.bad += m.count,
            _ => bar.other += m.count,
        }
        g.lagged += m.started;
        g.lag_total_ms += m.lag_total_ms;
        g.lag_max_ms = g.lag_max_ms.max(m.lag_max_ms);
    }
    for n in nodes.iter().filter(|n| n.role == Role::Worker) {
        let g = entry(&mut groups, &n.group);
        if n.state == "up" {
            g.workers_up += 1;
            g.slots_used += n.slots_used;
            g.slots_free += n.slots_free;
        } else {
            g.workers_down += 1;
        }
    }
    groups
}

pub async fn page(ctx: Ctx) -> Response {
    let t = &ctx.app.t;
    let (stats, minutes, firing) = tokio::join!(
        t.stats(None, MINUTES as i64 * MINUTE_MS),
        t.runs_by_minute(MINUTES as u32 - 1),
        t.firing_alerts()
    );
    let (stats, minutes, firing) = match (stats, minutes, firing) {
        (Ok(s), Ok(m), Ok(f)) => (s, m, f),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return ctx.failure(Some(Nav::Overview), e)
        }
    };
    let nodes = t.nodes();
    let groups = by_group(ctx.now, &stats, &minutes, &nodes);
    let total =
        |state: JobState| -> u64 { groups.values().filter_map(|g| g.states.get(&state)).sum() };
    let jobs: u64 = groups.values().map(Group::jobs).sum();
    let workers: u32 = groups.values().map(|g| g.workers_up).sum();
    let free: u32 = groups.values().map(|g| g.slots_free).sum();
    let failures: u64 = groups.values().map(Group::failures).sum();
    let body = html! {
        div.page-head {
            h1 { "Overview" }
            p.muted { "Runs over the last hour, by minute; times in " (ctx.zone().name()) "." }
        }
        section.summary aria-label="Cluster" {
            (figure("jobs", jobs, "/jobs"))
            (figure("running", total(JobState::Running), "/jobs?state=running"))
            (figure("queued", total(JobState::Queued), "/jobs?state=queued"))
            (figure("failed", total(JobState::Failed), "/jobs?state=failed"))
            (figure("failures last hour", failures, "/jobs?state=failed"))
            (figure("live workers", u64::from(workers), "/nodes"))
            (figure("free slots", u64::from(free), "/nodes"))
        }
        section.alerts-firing aria-labelledby="alerts-h" {
            h2 #alerts-h { "Alerts firing" }
            @if firing.is_empty() {
                p.muted { "None. " a href="/alerts" { "See every alert raised and the rules" } "." }
            } @else {
                ul {
                    @for a in &firing {
                        li {
                            span class="badge st-failed" { "firing" } " "
                            strong { (a.rule.as_deref().unwrap_or("job")) } ": " (a.message)
                            " · since " (ctx.time(a.raised_at))
                        }
                    }
                }
                p { a href="/alerts" { "Alerts and their delivery" } }
            }
        }
        @if groups.is_empty() {
            section.empty {
                h2 { "No jobs yet" }
                p { "Submit one on the " a href="/submit" { "Submit page" } ", or with "
                    code { "lts submit -g default -- echo hello" } "." }
            }
        }
        @for (name, g) in &groups {
            (group_panel(&ctx, name, g))
        }
    };
    ctx.page(Some(Nav::Overview), "Overview", body)
}

fn figure(label: &str, value: u64, href: &str) -> Markup {
    html! {
        a.figure href=(href) {
            span.value { (value) }
            span.label { (label) }
        }
    }
}

fn jobs_link(group: &str, state: Option<JobState>) -> String {
    let mut href = format!("/jobs?group={}", super::super::auth::encode(group));
    if let Some(state) = state {
        href.push_str("&state=");
        href.push_str(state.as_str());
    }
    href
}

fn group_panel(ctx: &Ctx, name: &str, g: &Group) -> Markup {
    let slots = g.slots_used + g.slots_free;
    html! {
        section.group aria-label={ "Group " (name) } {
            header {
                h2 { a href=(jobs_link(name, None)) { (name) } }
                span.muted { (g.jobs()) " jobs" }
            }
            div.group-body {
                div.facts {
                    div.states {
                        @for (state, count) in &g.states {
                            a.chip href=(jobs_link(name, Some(*state))) {
                                (badge(state.as_str())) " " strong { (count) }
                            }
                        }
                        @if g.states.is_empty() { span.muted { "no jobs" } }
                    }
                    dl.kv {
                        dt { "Queue" }
                        dd {
                            (g.queued) " runs"
                            @if let Some(due) = g.oldest_due {
                                ", oldest waiting " (fmt::duration(ctx.now - due))
                            }
                        }
                        dt { "Last hour" }
                        dd {
                            (g.runs()) " runs, "
                            @if g.failures() > 0 {
                                strong.bad { (g.failures()) " failed" }
                            } @else {
                                "0 failed"
                            }
                        }
                        dt { "Fire lag" }
                        dd {
                            @if g.lagged > 0 {
                                "avg " (fmt::duration(g.lag_total_ms / g.lagged as i64))
                                ", max " (fmt::duration(g.lag_max_ms))
                            } @else {
                                span.muted { "no runs started" }
                            }
                        }
                        dt { "Workers" }
                        dd {
                            @if g.workers_up == 0 {
                                strong.bad { "none live" }
                            } @else {
                                (g.workers_up) " live"
                            }
                            @if g.workers_down > 0 { ", " (g.workers_down) " down" }
                        }
                        dt { "Slots" }
                        dd {
                            @if slots > 0 {
                                meter min="0" max=(slots) value=(g.slots_used) {}
                                " " (g.slots_used) " busy of " (slots)
                            } @else {
                                span.muted { "–" }
                            }
                        }
                    }
                }
                (chart(ctx, name, &g.bars))
            }
        }
    }
}

/// The nearest "nice" number (1, 2 or 5 times a power of ten) at or above `n`.
fn nice_ceiling(n: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= n {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// Runs per minute as stacked bars: succeeded, failed, skipped or cancelled.
fn chart(ctx: &Ctx, group: &str, bars: &[Bar]) -> Markup {
    const W: f64 = 600.0;
    const H: f64 = 120.0;
    const LEFT: f64 = 30.0;
    const TOP: f64 = 8.0;
    const BOTTOM: f64 = 100.0;
    let top = nice_ceiling(bars.iter().map(Bar::total).max().unwrap_or(0).max(1));
    let scale = (BOTTOM - TOP) / top as f64;
    let slot = (W - LEFT) / bars.len().max(1) as f64;
    let start = chart_start(ctx.now);
    let zone = ctx.zone();
    let total: u64 = bars.iter().map(Bar::total).sum();
    let label = format!("Runs per minute of group {group} over the last hour: {total} runs");
    let y = |v: f64| BOTTOM - v * scale;
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (W) " " (H) } role="img" aria-label=(label) {
                line.axis x1=(LEFT) y1=(BOTTOM) x2=(W) y2=(BOTTOM) {}
                line.grid x1=(LEFT) y1=(TOP) x2=(W) y2=(TOP) {}
                line.grid x1=(LEFT) y1=(y(top as f64 / 2.0)) x2=(W) y2=(y(top as f64 / 2.0)) {}
                text.tick x=(LEFT - 4.0) y=(TOP + 4.0) text-anchor="end" { (top) }
                @if top > 1 {
                    text.tick x=(LEFT - 4.0) y=(y(top as f64 / 2.0) + 4.0) text-anchor="end" { (top as f64 / 2.0) }
                }
                text.tick x=(LEFT - 4.0) y=(BOTTOM + 4.0) text-anchor="end" { "0" }
                @for (i, bar) in bars.iter().enumerate() {
                    @let x = LEFT + i as f64 * slot;
                    @let minute = start + i as i64 * MINUTE_MS;
                    g.bar {
                        title {
                            (fmt::clock(minute, zone)) ": " (bar.ok) " succeeded, "
                            (bar.bad) " failed, " (bar.other) " skipped or cancelled"
                        }
                        rect.hit x=(r1(x)) y=(TOP) width=(r1(slot)) height=(BOTTOM - TOP) {}
                        @for (class, top, h) in stack(bar, BOTTOM, scale) {
                            rect class=(class) x=(r1(x + 1.0)) y=(r1(top)) width=(r1((slot - 2.0).max(1.0))) height=(r1(h)) {}
                        }
                    }
                }
                @for i in [0usize, 15, 30, 45, 59] {
                    @let minute = start + i as i64 * MINUTE_MS;
                    @let anchor = if i == 0 { "start" } else if i == 59 { "end" } else { "middle" };
                    @let x = if i == 59 { W } else { LEFT + (i as f64 + 0.5) * slot };
                    text.tick x=(r1(x)) y=(H - 4.0) text-anchor=(anchor) { (fmt::clock(minute, zone).get(..5).unwrap_or("")) }
                }
                @if total == 0 {
                    text.empty x=(LEFT + (W - LEFT) / 2.0) y=(TOP + (BOTTOM - TOP) / 2.0) text-anchor="middle" { "no runs ended in the last hour" }
                }
            }
            figcaption {
                span.key.ok {} "succeeded "
                span.key.bad {} "failed, timed out or lost "
                span.key.other {} "skipped or cancelled"
            }
        }
    }
}

/// A bar's parts from the bottom up: (class, top, height).
fn stack(bar: &Bar, bottom: f64, scale: f64) -> Vec<(&'static str, f64, f64)> {
    let mut base = bottom;
    let mut parts = Vec::new();
    for (class, n) in [("ok", bar.ok), ("bad", bar.bad), ("other", bar.other)] {
        if n > 0 {
            let h = n as f64 * scale;
            base -= h;
            parts.push((class, base, h));
        }
    }
    parts
}

/// A coordinate to one decimal.
fn r1(v: f64) -> String {
    format!("{:.1}", v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{QueueCount, StateCount};

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(101), 200);
    }

    #[test]
    fn minutes_land_in_their_bar() {
        let now = 100 * MINUTE_MS + 30_000;
        let minute = |m: i64, outcome, count| MinuteCount {
            group: "g".into(),
            minute: m * MINUTE_MS,
            outcome,
            count,
            started: count,
            lag_total_ms: 10 * count as i64,
            lag_max_ms: 20,
        };
        let stats = StoreStats {
            jobs: vec![StateCount {
                group: "g".into(),
                state: JobState::Queued,
                count: 3,
            }],
            queues: vec![QueueCount {
                group: "g".into(),
                runs: 3,
                oldest_due: Some(now - 5_000),
            }],
            ..StoreStats::default()
        };
        let groups = by_group(
            now,
            &stats,
            &[
                minute(41, RunOutcome::Succeeded, 2),
                minute(100, RunOutcome::Failed, 1),
                minute(100, RunOutcome::Skipped, 4),
                minute(40, RunOutcome::Succeeded, 9),
            ],
            &[],
        );
        let g = &groups["g"];
        assert_eq!(g.bars.len(), MINUTES);
        assert_eq!(
            g.bars[0],
            Bar {
                ok: 2,
                bad: 0,
                other: 0
            }
        );
        assert_eq!(
            g.bars[59],
            Bar {
                ok: 0,
                bad: 1,
                other: 4
            }
        );
        assert_eq!((g.runs(), g.failures(), g.jobs()), (7, 1, 3));
        // A minute before the chart's first is left out of everything.
        assert_eq!(g.lagged, 7);
    }
}
