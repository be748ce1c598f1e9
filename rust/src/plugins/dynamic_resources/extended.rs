//! Extended resources backed by DRA (kube's DRAExtendedResource): a pod asking an extended
//! resource (`nvidia.com/gpu: 2`) that a DeviceClass serves (its `extendedResourceName`, or the
//! implicit `deviceclass.resource.kubernetes.io/<class>`) gets it from DRA devices on a node
//! without the resource in its allocatable (no device plugin). NodeResourcesFit leaves such
//! resources to this plugin on those nodes; here they become one more claim to allocate, made
//! per node as kube's `filterExtendedResources` makes it, and created by PreBind.

use std::sync::Arc;

use crate::intern::{Sym, resolve, sym};
use crate::state::dra::claim::{
    AllocationMode, Alternative, Claim, EXTENDED_CLAIM_NAME, ExtendedClaim, Request, RequestMapping,
};
use crate::state::pod::{ContainerExtendedRequest, PodRecord};

/// The placeholder uid of the claim for `pod_uid`'s extended resources until it is created.
pub fn placeholder_uid(pod_uid: &str) -> String {
    format!("{EXTENDED_CLAIM_NAME}:{pod_uid}")
}

fn request(name: Sym, class: Sym, count: i64) -> Request {
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    Request {
        name,
        alternatives: Box::new([Alternative {
            name,
            class,
            selectors: Box::default(),
            mode: AllocationMode::ExactCount(count),
            admin_access: false,
            tolerations: Box::default(),
            capacity: Box::default(),
        }]),
        first_available: false,
    }
}

fn request_name(r: &ContainerExtendedRequest) -> Sym {
    sym(&format!("container-{}-request-{}", r.container, r.index))
}

fn mapping(r: &ContainerExtendedRequest, request: Sym) -> RequestMapping {
    RequestMapping {
        container: r.container_name.clone(),
        resource: r.resource,
        request,
    }
}

/// The claim for `resources` (resource, class; sorted by name) of `pod` on a node where DRA
/// serves them, as kube's `createRequestsAndMappings` writes it: a request per container and
/// resource (`container-<i>-request-<j>`: the container's index among init and regular
/// containers, the resource's among its requests); an init container that runs to completion
/// first reuses the devices of containers started after it, and such init containers share
/// the largest of their requests, since they run one at a time.
pub fn extended_claim(pod: &PodRecord, resources: &[(Sym, Sym)]) -> ExtendedClaim {
    let mut requests: Vec<Request> = Vec::new();
    let mut mappings: Vec<RequestMapping> = Vec::new();
    for &(resource, class) in resources {
        let asks: Vec<&ContainerExtendedRequest> = pod
            .extended_requests
            .iter()
            .filter(|r| r.resource == resource)
            .collect();
        // Long-lived containers (regular ones and sidecars): a request each.
        let long: Vec<(&ContainerExtendedRequest, Sym)> = asks
            .iter()
            .filter(|r| !r.short_lived)
            .map(|r| (*r, request_name(r)))
            .collect();
        let mut short_mappings: Vec<RequestMapping> = Vec::new();
        let mut short_names: Vec<Sym> = Vec::new();
        let mut largest: Option<(Sym, i64)> = None;
        for r in asks.iter().filter(|r| r.short_lived) {
            let mut sum = 0;
            let mut covered = false;
            for (l, name) in long.iter().filter(|(l, _)| l.container >= r.container) {
                sum += l.count;
                short_mappings.push(mapping(r, *name));
                if sum >= r.count {
                    covered = true;
                    break;
                }
            }
            if covered {
                continue;
            }
            let name = request_name(r);
            let count = r.count - sum;
            short_mappings.push(mapping(r, name));
            short_names.push(name);
            if largest.is_none_or(|(_, c)| c < count) {
                largest = Some((name, count));
            }
        }
        if let Some((name, count)) = largest {
            if short_names.len() > 1 {
                for m in &mut short_mappings {
                    if m.request != name && short_names.contains(&m.request) {
                        m.request = name;
                    }
                }
            }
            requests.push(request(name, class, count));
        }
        for (l, name) in &long {
            requests.push(request(*name, class, l.count));
        }
        mappings.extend(long.iter().map(|(l, name)| mapping(l, *name)));
        mappings.extend(short_mappings);
    }
    requests.sort_by(|a, b| resolve(a.name).cmp(resolve(b.name)));
    let claim = Claim {
        namespace: pod.namespace,
        name: EXTENDED_CLAIM_NAME.to_owned(),
        uid: placeholder_uid(&pod.uid),
        requests: requests.into(),
        constraints: Arc::default(),
        allocation: None,
        reserved_for: Box::default(),
        extended_for: Some(pod.uid.clone()),
    };
    ExtendedClaim {
        claim: Arc::new(claim),
        mappings: mappings.into_boxed_slice(),
        replaces: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::pod::parse_pod;

    fn names(c: &ExtendedClaim) -> Vec<(String, u32)> {
        c.claim
            .requests
            .iter()
            .map(|r| match r.alternatives[0].mode {
                AllocationMode::ExactCount(n) => (resolve(r.name).to_owned(), n),
                AllocationMode::All => (resolve(r.name).to_owned(), 0),
            })
            .collect()
    }

    fn maps(c: &ExtendedClaim) -> Vec<(String, String)> {
        c.mappings
            .iter()
            .map(|m| (m.container.to_string(), resolve(m.request).to_owned()))
            .collect()
    }

    #[test]
    fn a_request_per_container_named_as_kube_names_it() {
        let pod = parse_pod(
            br#"{"metadata":{"name":"p","namespace":"ns","uid":"u1"},"spec":{
                "initContainers":[
                    {"name":"setup","resources":{"requests":{"example.com/gpu":"3"}}},
                    {"name":"prep","resources":{"requests":{"example.com/gpu":"1"}}},
                    {"name":"side","restartPolicy":"Always","resources":{"requests":{"example.com/gpu":"1"}}}],
                "containers":[
                    {"name":"main","resources":{"requests":{"cpu":"1","example.com/gpu":"2","memory":"1Gi"}}},
                    {"name":"cpu-only","resources":{"requests":{"cpu":"1"}}}]}}"#,
        )
        .unwrap();
        let gpu = sym("example.com/gpu");
        let c = extended_claim(&pod, &[(gpu, sym("gpu.example.com"))]);
        // main (index 3) asks 2 as its 2nd resource by name; the sidecar (2) 1; setup needs 3,
        // reuses side + main (3): covered; prep needs 1, reuses side: covered.
        assert_eq!(
            names(&c),
            [
                ("container-2-request-0".to_owned(), 1),
                ("container-3-request-1".to_owned(), 2)
            ]
        );
        assert_eq!(
            maps(&c),
            [
                ("side".to_owned(), "container-2-request-0".to_owned()),
                ("main".to_owned(), "container-3-request-1".to_owned()),
                ("setup".to_owned(), "container-2-request-0".to_owned()),
                ("setup".to_owned(), "container-3-request-1".to_owned()),
                ("prep".to_owned(), "container-2-request-0".to_owned()),
            ]
        );
        assert_eq!(c.claim.uid, "<extended-resources>:u1");
    }

    #[test]
    fn init_containers_share_their_largest_uncovered_request() {
        let pod = parse_pod(
            br#"{"metadata":{"name":"p","namespace":"ns","uid":"u1"},"spec":{
                "initContainers":[
                    {"name":"a","resources":{"requests":{"example.com/gpu":"4"}}},
                    {"name":"b","resources":{"requests":{"example.com/gpu":"6"}}}],
                "containers":[{"name":"main","resources":{"requests":{"example.com/gpu":"1"}}}]}}"#,
        )
        .unwrap();
        let c = extended_claim(&pod, &[(sym("example.com/gpu"), sym("g"))]);
        assert_eq!(
            names(&c),
            [
                ("container-1-request-0".to_owned(), 5),
                ("container-2-request-0".to_owned(), 1)
            ]
        );
        assert_eq!(
            maps(&c),
            [
                ("main".to_owned(), "container-2-request-0".to_owned()),
                ("a".to_owned(), "container-2-request-0".to_owned()),
                ("a".to_owned(), "container-1-request-0".to_owned()),
                ("b".to_owned(), "container-2-request-0".to_owned()),
                ("b".to_owned(), "container-1-request-0".to_owned()),
            ]
        );
    }
}
