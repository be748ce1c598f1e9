//! The stores of the objects the cycle reads beside nodes and pods: Namespaces (labels),
//! ElasticQuotas, PriorityClasses, PodDisruptionBudgets and PodGroups (either API).

use crate::error::CoreResult;
use crate::intern::{Sym, resolve, sym};
use crate::state::cluster::{ChangeOutcome, ClusterState};
use crate::state::disruption::{self, Budget};
use crate::state::labels::Labels;
use crate::state::namespaces::parse_namespace;
use crate::state::object::LenientIdentity;
use crate::state::pod_group::{GroupApi, PodGroupRecord, parse_pod_group};
use crate::state::pod_groups::GroupKey;
use crate::state::priority::{PriorityClass, parse_priority_class};
use crate::state::quota::{Quota, parse_quota};
use crate::state::workload_pod_group::parse_workload_pod_group;

use super::store::{Seen, Store, namespaced_key, read_identity};

pub(super) struct NamespaceStore;

impl Store for NamespaceStore {
    type Object = (Sym, Labels);

    fn decode(bytes: &[u8], _deleted: bool, out: &mut ChangeOutcome) -> CoreResult<(Sym, Labels)> {
        let (name, labels) = parse_namespace(bytes)?;
        out.name = resolve(name).to_owned();
        read_identity(bytes, out);
        Ok((name, labels))
    }

    fn key(&(name, _): &(Sym, Labels)) -> Option<Box<str>> {
        Some(resolve(name).into())
    }

    fn upsert(state: &mut ClusterState, (name, labels): (Sym, Labels)) -> bool {
        state.namespaces.set(name, labels);
        state.generation += 1;
        true
    }

    fn delete(state: &mut ClusterState, (name, _): (Sym, Labels)) {
        state.namespaces.remove(name);
        state.generation += 1;
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        let gone: Vec<Sym> = state
            .namespaces
            .names()
            .filter(|name| !seen.contains(resolve(*name)))
            .collect();
        for name in gone {
            state.namespaces.remove(name);
            state.generation += 1;
        }
        Vec::new()
    }
}

pub(super) struct QuotaStore;

impl Store for QuotaStore {
    type Object = Quota;

    fn decode(bytes: &[u8], _deleted: bool, out: &mut ChangeOutcome) -> CoreResult<Quota> {
        let quota = parse_quota(bytes)?;
        out.namespace = resolve(quota.namespace).to_owned();
        out.name = resolve(quota.name).to_owned();
        read_identity(bytes, out);
        Ok(quota)
    }

    fn key(quota: &Quota) -> Option<Box<str>> {
        Some(namespaced_key(
            resolve(quota.namespace),
            resolve(quota.name),
        ))
    }

    fn upsert(state: &mut ClusterState, quota: Quota) -> bool {
        state.namespaces.quotas.set(quota);
        state.generation += 1;
        true
    }

    fn delete(state: &mut ClusterState, quota: Quota) {
        state.namespaces.quotas.remove(quota.namespace, quota.name);
        state.generation += 1;
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        state
            .namespaces
            .quotas
            .retain(|q| seen.contains(&namespaced_key(resolve(q.namespace), resolve(q.name))));
        state.generation += 1;
        Vec::new()
    }
}

pub(super) struct PriorityClassStore;

/// A PriorityClass by name, and what its spec says (not read when deleted): a class the
/// apiserver would never have admitted is an error.
pub(super) type NamedClass = (Sym, Option<CoreResult<PriorityClass>>);

impl Store for PriorityClassStore {
    type Object = NamedClass;

    fn decode(bytes: &[u8], deleted: bool, out: &mut ChangeOutcome) -> CoreResult<NamedClass> {
        if let Some(id) = LenientIdentity::read(bytes) {
            out.name = id.name;
            out.uid = id.uid;
            out.resource_version = id.resource_version;
        }
        let class = (!deleted).then(|| parse_priority_class(bytes).map(|(_, class)| class));
        if let Some(Err(err)) = &class {
            out.error = Some(err.to_string());
        }
        Ok((sym(&out.name), class))
    }

    fn key(&(name, _): &NamedClass) -> Option<Box<str>> {
        Some(resolve(name).into())
    }

    fn upsert(state: &mut ClusterState, (name, class): NamedClass) -> bool {
        match class {
            Some(Ok(class)) => state.priorities.set(name, class),
            // Forget any older version rather than keep a value the object no longer says.
            _ => state.priorities.remove(name),
        }
        state.generation += 1;
        true
    }

    fn delete(state: &mut ClusterState, (name, _): NamedClass) {
        state.priorities.remove(name);
        state.generation += 1;
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        let gone: Vec<Sym> = state
            .priorities
            .names()
            .filter(|name| !seen.contains(resolve(*name)))
            .collect();
        for name in gone {
            state.priorities.remove(name);
        }
        state.generation += 1;
        Vec::new()
    }
}

pub(super) struct BudgetStore;

/// A PodDisruptionBudget by key (None without a name), and what its spec says (not read when
/// deleted). Without a valid selector the budget protects nothing podium can tell: it is
/// dropped, its error naming the object and field.
pub(super) type KeyedBudget = (Option<Box<str>>, Option<CoreResult<Budget>>);

impl Store for BudgetStore {
    type Object = KeyedBudget;

    fn decode(bytes: &[u8], deleted: bool, out: &mut ChangeOutcome) -> CoreResult<KeyedBudget> {
        if let Some(id) = LenientIdentity::read(bytes) {
            out.namespace = id.namespace;
            out.name = id.name;
            out.uid = id.uid;
            out.resource_version = id.resource_version;
        }
        let budget = (!deleted).then(|| disruption::parse_budget(bytes));
        if let Some(Err(err)) = &budget {
            out.error = Some(err.to_string());
        }
        Ok((disruption::budget_key(bytes), budget))
    }

    fn key((key, _): &KeyedBudget) -> Option<Box<str>> {
        key.clone()
    }

    fn upsert(state: &mut ClusterState, (key, budget): KeyedBudget) -> bool {
        Self::delete(state, (key, None));
        if let Some(Ok(budget)) = budget {
            state.budgets.set(budget);
        }
        true
    }

    fn delete(state: &mut ClusterState, (key, _): KeyedBudget) {
        if let Some(key) = &key {
            state.budgets.remove(key);
        }
        state.generation += 1;
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        let gone: Vec<Box<str>> = state
            .budgets
            .keys()
            .filter(|key| !seen.contains(*key))
            .map(Box::from)
            .collect();
        for key in gone {
            state.budgets.remove(&key);
        }
        state.generation += 1;
        Vec::new()
    }
}

/// The PodGroups of one API (`WORKLOAD`: the Workload API's, else scheduler-plugins'), kept in
/// one name space per namespace with the other's (`PodGroups`).
pub(super) struct GroupStore<const WORKLOAD: bool>;

impl<const WORKLOAD: bool> GroupStore<WORKLOAD> {
    const API: GroupApi = if WORKLOAD {
        GroupApi::Workload
    } else {
        GroupApi::SchedulerPlugins
    };
}

impl<const WORKLOAD: bool> Store for GroupStore<WORKLOAD> {
    type Object = PodGroupRecord;

    fn decode(bytes: &[u8], _deleted: bool, out: &mut ChangeOutcome) -> CoreResult<PodGroupRecord> {
        let group = if WORKLOAD {
            parse_workload_pod_group(bytes)
        } else {
            parse_pod_group(bytes)
        }?;
        out.namespace = group.namespace().to_owned();
        out.name = group.name().to_owned();
        out.uid = group.uid.to_string();
        out.resource_version = group.resource_version.to_string();
        out.error = group.error.as_deref().map(str::to_owned);
        Ok(group)
    }

    fn key(group: &PodGroupRecord) -> Option<Box<str>> {
        Some(namespaced_key(group.namespace(), group.name()))
    }

    fn upsert(state: &mut ClusterState, group: PodGroupRecord) -> bool {
        state.groups.set(group);
        true
    }

    fn delete(state: &mut ClusterState, group: PodGroupRecord) {
        state
            .groups
            .remove((group.namespace, group.name), Self::API);
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        let gone: Vec<GroupKey> = state
            .groups
            .keys(Self::API)
            .filter(|&(ns, name)| !seen.contains(&namespaced_key(resolve(ns), resolve(name))))
            .collect();
        for key in gone {
            state.groups.remove(key, Self::API);
        }
        Vec::new()
    }
}
