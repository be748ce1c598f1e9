//! Why a gang could not be placed, in one message for all its members: per level tried, the
//! domains and what the pruned ones lack; then the trial that came closest.

use std::fmt::Write as _;

use crate::cycle::Decision;
use crate::framework::code::Code;
use crate::intern::{Sym, resolve};
use crate::state::pod::PodRecord;
use crate::state::pod_group::TopologyMode;

use super::domains::Lack;
use super::trial::{Slices, Stuck};

/// What happened at one level.
pub(super) struct LevelReport {
    /// None: the whole cluster.
    pub key: Option<Sym>,
    /// Domains of the level (before pinning).
    pub domains: usize,
    /// The domain members already placed keep the gang to.
    pub pinned: Option<Sym>,
    /// What each pruned domain lacks.
    pub lacks: Vec<Lack>,
    /// Domains with a trial placement.
    pub tried: usize,
}

impl LevelReport {
    pub fn new(key: Option<Sym>, domains: usize) -> Self {
        Self {
            key,
            domains,
            pinned: None,
            lacks: Vec::new(),
            tried: 0,
        }
    }
}

pub(super) struct GangFailure {
    pub group: String,
    pub members: usize,
    /// Members that must be placed (the pruning figures count these).
    pub needed: usize,
    pub mode: Option<TopologyMode>,
    pub slices: Option<Slices>,
    pub reports: Vec<LevelReport>,
    pub closest: Option<Stuck>,
}

impl GangFailure {
    pub fn message(&self) -> String {
        let n = self.members;
        let mut out = self.group.clone();
        let first = self.reports.first();
        match (self.mode, first.and_then(|r| r.key.map(|k| (k, r)))) {
            (Some(TopologyMode::Required), Some((key, report))) if report.domains == 0 => {
                let _ = write!(
                    out,
                    ": {n} pod(s) must share a {} domain, and no node has the label {}",
                    resolve(key),
                    resolve(key)
                );
                return out;
            }
            (Some(TopologyMode::Required), Some((_, report))) => {
                let _ = write!(out, ": {}", self.level(report, n));
            }
            _ => {
                let _ = write!(out, ": the {n} pod(s) do not all fit at once");
                let said: Vec<String> = self
                    .reports
                    .iter()
                    .filter(|r| r.key.is_some() || !r.lacks.is_empty())
                    .map(|r| self.level(r, n))
                    .collect();
                if !said.is_empty() {
                    let _ = write!(out, ": {}", said.join("; "));
                }
            }
        }
        if let Some(stuck) = &self.closest {
            let place = stuck.domain.map_or(String::new(), |(key, value)| {
                format!(" in {} {}", resolve(key), resolve(value))
            });
            let _ = write!(out, "; closest: {}/{n}{place}", stuck.placed);
            if let Some(note) = &stuck.note {
                let _ = write!(out, ", {note}");
            }
            if stuck.note.as_deref() != Some(stuck.failed.message.as_str()) {
                let _ = write!(
                    out,
                    ", then pod {}: {}",
                    stuck.failed.name, stuck.failed.message
                );
            }
        }
        out
    }

    /// One level's part: `no <level> domain (of N) fits the n pod(s): 3 lack cpu (...)`, or
    /// for the whole cluster what it lacks.
    fn level(&self, report: &LevelReport, n: usize) -> String {
        let mut out = match report.key {
            Some(key) => {
                let mut s = format!(
                    "no {} domain (of {}) fits the {n} pod(s)",
                    resolve(key),
                    report.domains
                );
                if let Some(pin) = report.pinned {
                    let _ = write!(
                        s,
                        " (its placed members keep it to {} {})",
                        resolve(key),
                        resolve(pin)
                    );
                }
                s
            }
            None => "the cluster".to_owned(),
        };
        let lacks = self.lacks(&report.lacks, report.key.is_none());
        if !lacks.is_empty() {
            out.push_str(if report.key.is_some() { ": " } else { " " });
            out.push_str(&lacks);
        }
        out
    }

    /// Pruned domains grouped by what they lack, each with the closest figures.
    fn lacks(&self, lacks: &[Lack], cluster: bool) -> String {
        let mut kinds: Vec<(String, Vec<&Lack>)> = Vec::new();
        for lack in lacks {
            let kind = lack.kind();
            match kinds.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, all)) => all.push(lack),
                None => kinds.push((kind, vec![lack])),
            }
        }
        kinds
            .into_iter()
            .map(|(kind, all)| {
                let count = if cluster {
                    String::new()
                } else {
                    format!("{} ", all.len())
                };
                let verb = if cluster || all.len() == 1 {
                    kind.replacen("lack", "lacks", 1)
                        .replace(" their ", " its ")
                } else {
                    kind
                };
                format!("{count}{verb} ({})", self.detail(&all))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The figures of the domain that came closest among `all` (one kind of lack).
    fn detail(&self, all: &[&Lack]) -> String {
        let n = self.members;
        match all.first() {
            Some(Lack::Resource { name, need, .. }) => {
                let most = all
                    .iter()
                    .filter_map(|l| match l {
                        Lack::Resource { free, .. } => Some(*free),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0);
                let most = amount(name, most);
                if all.len() == 1 {
                    format!("need {}, {most} free", amount(name, *need))
                } else {
                    format!("need {}, at most {most} free", amount(name, *need))
                }
            }
            Some(Lack::Hosts { .. }) => {
                let most = all
                    .iter()
                    .filter_map(|l| match l {
                        Lack::Hosts { nodes } => Some(*nodes),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0);
                format!("{n} pod(s) need distinct hosts, at most {most} node(s)")
            }
            Some(Lack::Room { .. }) => {
                let most = all
                    .iter()
                    .filter_map(|l| match l {
                        Lack::Room { room } => Some(*room),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0);
                format!("room for at most {most} of {} pod(s)", self.needed)
            }
            Some(Lack::Slices { slices, .. }) => {
                let most = all
                    .iter()
                    .filter_map(|l| match l {
                        Lack::Slices { fit, .. } => Some(*fit),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0);
                let (size, key) = self.slices.map_or((0, ""), |s| (s.size, resolve(s.key)));
                format!(
                    "{slices} slice(s) of {size} pod(s) each in one {key} domain, room for at most {most}"
                )
            }
            None => String::new(),
        }
    }

    /// A member's decision: unschedulable with the gang's message, and the closest trial's
    /// node failures when there was one.
    pub fn decision(&self, pod: &PodRecord, message: &str) -> Decision {
        let mut d = Decision::for_pod(pod);
        d.code = Code::Unschedulable;
        d.message = message.to_owned();
        if let Some(stuck) = &self.closest {
            d.reasons = stuck.failed.reasons.clone();
            d.evaluated_nodes = stuck.failed.evaluated_nodes;
        }
        d
    }
}

/// An amount of resource `name` as users write it: cpu in millicores (`4500m`), the rest in
/// units (bytes for memory).
fn amount(name: &str, value: i64) -> String {
    if name == crate::state::resources::CPU {
        format!("{value}m")
    } else {
        value.to_string()
    }
}
