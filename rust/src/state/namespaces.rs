//! What the cache knows per namespace: its labels, for pod affinity terms'
//! `namespaceSelector`, and its quota and what its pods use (`quota`). Persistent, so a
//! snapshot shares it in O(1).

use std::sync::LazyLock;

use serde::Deserialize;

use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, sym};
use crate::state::labels::Labels;
use crate::state::object::decode;
use crate::state::quota::Quotas;
use crate::state::wire::ObjectMetaWire;

#[derive(Debug, Clone, Default)]
pub struct Namespaces {
    labels: imbl::HashMap<Sym, Labels>,
    /// ElasticQuotas and the use they limit.
    pub quotas: Quotas,
}

static NO_LABELS: LazyLock<Labels> = LazyLock::new(Labels::default);

impl Namespaces {
    /// The labels of `namespace`; none when the cache has not seen it (as kube's lister).
    pub fn labels(&self, namespace: Sym) -> &Labels {
        self.labels.get(&namespace).unwrap_or(&NO_LABELS)
    }

    pub fn set(&mut self, name: Sym, labels: Labels) {
        self.labels.insert(name, labels);
    }

    pub fn remove(&mut self, name: Sym) {
        self.labels.remove(&name);
    }

    pub fn names(&self) -> impl Iterator<Item = Sym> + '_ {
        self.labels.keys().copied()
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

#[derive(Deserialize)]
struct NamespaceWire<'a> {
    #[serde(borrow, default)]
    metadata: ObjectMetaWire<'a>,
}

/// A Namespace object's name and labels, or a message naming the bad field.
pub fn parse_namespace(bytes: &[u8]) -> CoreResult<(Sym, Labels)> {
    let wire: NamespaceWire<'_> = decode(bytes).map_err(|e| e.in_object("Namespace"))?;
    let name = wire.metadata.name.as_deref().unwrap_or_default();
    if name.is_empty() {
        return Err(CoreError::Invalid(
            "Namespace: metadata.name: missing".into(),
        ));
    }
    let labels = wire
        .metadata
        .labels
        .as_ref()
        .map(Labels::from_map)
        .unwrap_or_default();
    Ok((sym(name), labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_looks_up() {
        let (name, labels) =
            parse_namespace(br#"{"metadata":{"name":"team-a","labels":{"env":"prod"}}}"#).unwrap();
        let mut ns = Namespaces::default();
        ns.set(name, labels);
        assert_eq!(ns.labels(sym("team-a")).get(sym("env")), Some(sym("prod")));
        assert!(ns.labels(sym("unknown-ns")).is_empty());
        ns.remove(name);
        assert!(ns.is_empty());
        assert!(
            parse_namespace(br#"{"metadata":{}}"#)
                .unwrap_err()
                .to_string()
                .contains("metadata.name")
        );
        assert!(
            parse_namespace(br#"{"metadata":{"name":"x","labels":{"a":1}}}"#)
                .unwrap_err()
                .to_string()
                .contains("metadata.labels")
        );
    }
}
