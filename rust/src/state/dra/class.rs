//! A DeviceClass decoded once: its selectors (compiled on first use, see `matcher.rs`) and the
//! extended resource it backs, if any.

use std::sync::Arc;

use super::error::DecodeError;
use super::wire::DeviceClassWire;
use crate::intern::{Sym, sym};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceClass {
    pub name: Sym,
    pub selectors: Box<[Arc<str>]>,
    /// `spec.extendedResourceName` (DRAExtendedResource): pods asking this extended resource are
    /// served by the class's devices.
    pub extended_resource_name: Option<Sym>,
    /// `metadata.creationTimestamp` (microseconds since the epoch; 0 when unset): when two
    /// classes name the same extended resource, the newer one serves it, as in kube's cache.
    pub created: i64,
}

impl DeviceClass {
    pub fn decode(json: &str) -> Result<Self, DecodeError> {
        let w: DeviceClassWire<'_> = serde_json::from_str(json).map_err(|e| DecodeError {
            kind: "DeviceClass",
            name: String::new(),
            field: "(json)".into(),
            why: e.to_string(),
        })?;
        let selectors = w
            .spec
            .selectors
            .iter()
            .enumerate()
            .map(|(i, s)| match &s.cel {
                Some(c) => Ok(Arc::from(c.expression.as_str())),
                None => Err(DecodeError {
                    kind: "DeviceClass",
                    name: w.metadata.name.clone(),
                    field: format!("spec.selectors[{i}]"),
                    why: "only CEL selectors are supported".into(),
                }),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: sym(&w.metadata.name),
            selectors,
            extended_resource_name: w.spec.extended_resource_name.as_deref().map(sym),
            created: w
                .metadata
                .creation_timestamp
                .as_deref()
                .and_then(crate::state::pod::timestamp)
                .map_or(0, |t| (t * 1e6) as i64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::resolve;

    #[test]
    fn decodes_selectors_and_extended_resource() {
        let c = DeviceClass::decode(
            r#"{"metadata":{"name":"gpu.example.com"},"spec":{"selectors":[{"cel":{"expression":"device.driver == 'gpu.example.com'"}}],
                "extendedResourceName":"example.com/gpu"}}"#,
        )
        .unwrap();
        assert_eq!(resolve(c.name), "gpu.example.com");
        assert_eq!(&*c.selectors[0], "device.driver == 'gpu.example.com'");
        assert_eq!(
            c.extended_resource_name.map(resolve),
            Some("example.com/gpu")
        );
        let bad = DeviceClass::decode(r#"{"metadata":{"name":"x"},"spec":{"selectors":[{}]}}"#);
        assert!(bad.unwrap_err().to_string().contains("spec.selectors[0]"));
    }
}
