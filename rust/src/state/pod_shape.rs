//! Pods of one shape: pending pods that every node-local filter and score judges alike, so a
//! batch may decide the second by what it learned deciding the first (kube's pod signature for
//! opportunistic batching).

use crate::state::dra::pod_claims::PodResourceClaim;
use crate::state::pod::PodRecord;

/// Do `a` and `b` ask for the same thing from the same place? Everything a plugin reads from a
/// pending pod counts; identity, timestamps and what only bound pods carry do not.
///
/// The destructuring is exhaustive on purpose: a field added to `PodRecord` does not compile
/// here until it is sorted into one of the two lists.
pub fn same_shape(a: &PodRecord, b: &PodRecord) -> bool {
    same_identity(a, b) && same_but_identity(a, b)
}

/// Do `a` and `b` carry the same labels, namespace and owner: what only some plugins read
/// (inter-pod affinity and topology spread match labels, quotas and claims live in the
/// namespace)?
pub fn same_identity(a: &PodRecord, b: &PodRecord) -> bool {
    a.namespace == b.namespace && a.owner == b.owner && a.labels == b.labels
}

/// `same_shape` but for labels, namespace and owner: pods of different apps and teams asking
/// the same of a node (see `Filter::reads_identity`).
pub fn same_but_identity(a: &PodRecord, b: &PodRecord) -> bool {
    let PodRecord {
        // Identity and bookkeeping: no plugin judges a node by them.
        uid: _,
        name: _,
        resource_version: _,
        created: _,
        started: _,
        terminal: _,
        deleting: _,
        gated: _,
        running: _,
        allocation: _,
        // Compared by `same_identity`.
        namespace: _,
        owner: _,
        labels: _,
        // What placement reads.
        scheduler_name,
        node_name,
        priority,
        priority_set,
        priority_class,
        never_preempts,
        nominated_node,
        pod_group,
        requests,
        extended_requests,
        non_zero_requests,
        host_ports,
        node_selector,
        required_affinity,
        preferred_affinity,
        pod_affinity,
        spread,
        tolerations,
        claims,
        resource_claims,
        images,
        numa_policy,
        error,
    } = a;
    *scheduler_name == b.scheduler_name
        && *node_name == b.node_name
        && *priority == b.priority
        && *priority_set == b.priority_set
        && *priority_class == b.priority_class
        && *never_preempts == b.never_preempts
        && *nominated_node == b.nominated_node
        && *pod_group == b.pod_group
        && *requests == b.requests
        && *extended_requests == b.extended_requests
        && *non_zero_requests == b.non_zero_requests
        && *host_ports == b.host_ports
        && *node_selector == b.node_selector
        && *required_affinity == b.required_affinity
        && *preferred_affinity == b.preferred_affinity
        && *pod_affinity == b.pod_affinity
        && *spread == b.spread
        && *tolerations == b.tolerations
        && *claims == b.claims
        && same_claim_entries(resource_claims, &b.resource_claims)
        && *images == b.images
        && *numa_policy == b.numa_policy
        && *error == b.error
}

/// The same `spec.resourceClaims` entries, each resolved the same way, whatever claims they
/// name: pods made from one template each have a claim of their own. What the claims ask is
/// not in the pod record; DynamicResources compares it (`Filter::shape_key`).
fn same_claim_entries(a: &[PodResourceClaim], b: &[PodResourceClaim]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.name == y.name
                && std::mem::discriminant(&x.source) == std::mem::discriminant(&y.source)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::state::resources::ResourceName;

    fn pod(uid: &str) -> PodRecord {
        let mut p = PodRecord::empty(uid, "team", uid);
        p.requests.set(ResourceName::parse("cpu"), 500);
        p
    }

    #[test]
    fn identity_does_not_count_but_requests_and_labels_do() {
        let (a, mut b) = (pod("a"), pod("b"));
        b.created = 42.0;
        assert!(same_shape(&a, &b));
        b.requests.set(ResourceName::parse("cpu"), 600);
        assert!(!same_shape(&a, &b));
        let mut c = pod("c");
        c.labels = crate::state::labels::Labels::from_pairs([("app", "x")]);
        assert!(!same_shape(&a, &c));
        let mut d = pod("d");
        d.namespace = sym("other");
        assert!(!same_shape(&a, &d));
        assert!(same_but_identity(&a, &c) && same_but_identity(&a, &d));
    }
}
