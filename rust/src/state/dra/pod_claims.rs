//! A pod's `spec.resourceClaims`, resolved to claim names as kube's `resourceclaim.Name` does:
//! a claim named directly, or one the controller-manager generated from a template, whose name
//! the pod's `status.resourceClaimStatuses` reports once it exists.

use crate::intern::{Sym, sym};
use crate::state::wire::{PodResourceClaimStatusWire, PodResourceClaimWire};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodClaimSource {
    /// `resourceClaimName`, or a template's claim once generated.
    Claim(Sym),
    /// A template whose claim the controller has not created (or reported) yet.
    NotCreatedYet,
    /// A template entry whose status says no claim is needed.
    NotNeeded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodResourceClaim {
    /// The entry's name in `spec.resourceClaims` (what containers refer to).
    pub name: Sym,
    pub source: PodClaimSource,
}

pub fn resolve_pod_claims(
    spec: &[PodResourceClaimWire<'_>],
    status: &[PodResourceClaimStatusWire<'_>],
) -> Box<[PodResourceClaim]> {
    spec.iter()
        .map(|c| {
            let source = match (&c.resource_claim_name, &c.resource_claim_template_name) {
                (Some(n), _) => PodClaimSource::Claim(sym(n)),
                (None, _) => match status.iter().find(|s| s.name == c.name) {
                    Some(s) => match &s.resource_claim_name {
                        Some(n) => PodClaimSource::Claim(sym(n)),
                        None => PodClaimSource::NotNeeded,
                    },
                    None => PodClaimSource::NotCreatedYet,
                },
            };
            PodResourceClaim {
                name: sym(&c.name),
                source,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::pod::parse_pod;

    #[test]
    fn claims_resolve_by_name_or_from_the_status() {
        let pod = parse_pod(
            br#"{"metadata":{"name":"p","namespace":"ns","uid":"u"},
                "spec":{"resourceClaims":[
                    {"name":"direct","resourceClaimName":"shared-gpus"},
                    {"name":"made","resourceClaimTemplateName":"gpu-template"},
                    {"name":"pending","resourceClaimTemplateName":"gpu-template"},
                    {"name":"skipped","resourceClaimTemplateName":"gpu-template"}],
                  "containers":[{"name":"c"}]},
                "status":{"resourceClaimStatuses":[
                    {"name":"made","resourceClaimName":"p-made-x7k2"},
                    {"name":"skipped"}]}}"#,
        )
        .unwrap();
        let sources: Vec<PodClaimSource> = pod.resource_claims.iter().map(|c| c.source).collect();
        assert_eq!(
            sources,
            [
                PodClaimSource::Claim(sym("shared-gpus")),
                PodClaimSource::Claim(sym("p-made-x7k2")),
                PodClaimSource::NotCreatedYet,
                PodClaimSource::NotNeeded,
            ]
        );
        assert_eq!(pod.resource_claims[0].name, sym("direct"));
    }
}
