//! Node records: what the scheduler keeps of a Node object.

use crate::bounded::quoted;
use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, resolve, sym};
use crate::quantity;
use crate::state::labels::Labels;
use crate::state::node_images::NodeImages;
use crate::state::object::{FieldError, LenientIdentity, ObjectRef, decode};
use crate::state::resources::{ResourceName, Resources};
use crate::state::taints::{Taint, TaintEffect};
use crate::state::wire::NodeWire;

#[derive(Debug, Clone)]
pub struct NodeRecord {
    pub name: Sym,
    pub uid: Box<str>,
    pub resource_version: Box<str>,
    pub labels: Labels,
    pub unschedulable: bool,
    pub taints: Box<[Taint]>,
    pub allocatable: Resources,
    /// `status.allocatable.pods`.
    pub allowed_pods: i64,
    /// `status.images`: every name an image is known by, with its size in bytes, sorted by
    /// name (ImageLocality).
    pub images: NodeImages,
    /// Set when part of the object was malformed: the node is then infeasible for every pod.
    pub error: Option<Box<str>>,
}

impl NodeRecord {
    pub fn name(&self) -> &'static str {
        resolve(self.name)
    }

    /// Whether `other` could schedule differently from `self`: heartbeats that only touch
    /// status conditions or the resourceVersion do not, and must not wake every parked pod.
    pub fn schedules_like(&self, other: &NodeRecord) -> bool {
        self.labels == other.labels
            && self.unschedulable == other.unschedulable
            && self.taints == other.taints
            && self.allocatable == other.allocatable
            && self.allowed_pods == other.allowed_pods
            && self.images == other.images
            && self.error == other.error
    }
}

/// A decoded record, or why none could be made (not even an identity).
pub type NodeParse = CoreResult<NodeRecord>;

pub fn parse_node(bytes: &[u8]) -> NodeParse {
    match decode::<NodeWire<'_>>(bytes) {
        Ok(wire) => Ok(from_wire(&wire)),
        Err(e) => {
            let id = LenientIdentity::read(bytes).unwrap_or_default();
            let err = FieldError::new(ObjectRef::new("Node", "", &id.name), e);
            if id.name.is_empty() {
                return Err(CoreError::Invalid(err.to_string()));
            }
            Ok(NodeRecord {
                name: sym(&id.name),
                uid: id.uid.into(),
                resource_version: id.resource_version.into(),
                labels: Labels::default(),
                unschedulable: false,
                taints: Box::default(),
                allocatable: Resources::default(),
                allowed_pods: 0,
                images: NodeImages::default(),
                error: Some(err.to_string().into()),
            })
        }
    }
}

fn from_wire(wire: &NodeWire<'_>) -> NodeRecord {
    let meta = &wire.metadata;
    let name = meta.name.as_deref().unwrap_or_default();
    let object = ObjectRef::new("Node", "", name);
    let mut errors: Vec<FieldError> = Vec::new();
    if name.is_empty() {
        errors.push(FieldError {
            object: object.clone(),
            path: "metadata.name".into(),
            message: "missing".into(),
        });
    }
    let spec = wire.spec.as_ref();
    let taints = spec
        .and_then(|s| s.taints.as_ref())
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    Taint::new(
                        t.key.as_deref().unwrap_or_default(),
                        t.value.as_deref().unwrap_or_default(),
                        TaintEffect::parse(t.effect.as_deref().unwrap_or_default()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();

    let mut allocatable = Resources::default();
    let mut allowed_pods = 0;
    if let Some(alloc) = wire.status.as_ref().and_then(|s| s.allocatable.as_ref()) {
        for (key, text) in alloc {
            let resource = ResourceName::parse(key);
            let parsed = if resource == ResourceName::Cpu {
                quantity::parse_milli_value(text)
            } else {
                quantity::parse_value(text)
            };
            match parsed {
                Ok(v) if v >= 0 => {
                    if resource == ResourceName::Pods {
                        allowed_pods = v;
                    } else {
                        allocatable.set(resource, v);
                    }
                }
                Ok(_) => errors.push(FieldError {
                    object: object.clone(),
                    path: format!("status.allocatable.{key}"),
                    message: format!("negative quantity {}", quoted(text)),
                }),
                Err(e) => errors.push(FieldError {
                    object: object.clone(),
                    path: format!("status.allocatable.{key}"),
                    message: e.to_string(),
                }),
            }
        }
    }
    allocatable.scalar.shrink_to_fit();
    NodeRecord {
        name: sym(name),
        uid: meta.uid.as_deref().unwrap_or_default().into(),
        resource_version: meta.resource_version.as_deref().unwrap_or_default().into(),
        labels: meta
            .labels
            .as_ref()
            .map(Labels::from_map)
            .unwrap_or_default(),
        unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
        taints,
        allocatable,
        allowed_pods,
        images: images(wire.status.as_ref().and_then(|s| s.images.as_deref())),
        error: join_errors(&errors),
    }
}

fn images(list: Option<&[crate::state::wire::ContainerImageWire<'_>]>) -> NodeImages {
    NodeImages::new(
        list.into_iter()
            .flatten()
            .flat_map(|image| {
                let size = image.size_bytes.unwrap_or(0).max(0);
                image.names.iter().flatten().map(move |n| (sym(n), size))
            })
            .collect(),
    )
}

pub fn join_errors(errors: &[FieldError]) -> Option<Box<str>> {
    if errors.is_empty() {
        return None;
    }
    let first = &errors[0];
    let rest: Vec<String> = errors[1..]
        .iter()
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect();
    let mut text = first.to_string();
    if !rest.is_empty() {
        text.push_str("; ");
        text.push_str(&rest.join("; "));
    }
    Some(text.into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(body: &str) -> NodeRecord {
        match parse_node(body.as_bytes()) {
            Ok(r) => r,
            Err(e) => panic!("unusable: {e}"),
        }
    }

    #[test]
    fn parses_the_fields_the_scheduler_needs() {
        let n = record(
            r#"{"metadata":{"name":"gpu-1","uid":"u","resourceVersion":"7","labels":{"zone":"a"}},
                "spec":{"unschedulable":true,"taints":[{"key":"gpu","value":"true","effect":"NoSchedule"}]},
                "status":{"allocatable":{"cpu":"95500m","memory":"512Gi","pods":"110","nvidia.com/gpu":"8"}}}"#,
        );
        assert_eq!(n.name(), "gpu-1");
        assert!(n.unschedulable);
        assert_eq!(n.taints.len(), 1);
        assert_eq!(n.allocatable.milli_cpu, 95_500);
        assert_eq!(n.allocatable.memory, 512 << 30);
        assert_eq!(n.allowed_pods, 110);
        assert_eq!(n.allocatable.scalar(sym("nvidia.com/gpu")), 8);
        assert_eq!(n.labels.get(sym("zone")), Some(sym("a")));
        assert!(n.error.is_none());
    }

    #[test]
    fn malformed_allocatable_names_node_and_field() {
        let n = record(
            r#"{"metadata":{"name":"bad-1"},"status":{"allocatable":{"cpu":"4x","memory":"1Gi"}}}"#,
        );
        let err = n.error.expect("error");
        assert_eq!(
            &*err,
            r#"Node bad-1: status.allocatable.cpu: invalid quantity "4x": unknown suffix"#
        );
        assert_eq!(n.allocatable.memory, 1 << 30, "the rest is still read");
    }

    #[test]
    fn wrong_types_keep_an_invalid_record() {
        let n = record(r#"{"metadata":{"name":"bad-2"},"spec":{"unschedulable":"yes"}}"#);
        assert!(
            n.error
                .expect("error")
                .starts_with("Node bad-2: spec.unschedulable: invalid type")
        );
        assert!(parse_node(b"{\"metadata\":{}, \"spec\": 3}").is_err());
        assert!(parse_node(b"not json").is_err());
    }
}
