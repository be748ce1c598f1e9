//! Volumes across the boundary: a decision's claim bindings (what VolumeBinding's PreBind
//! carries out), and claims and PVs as the cache has them (what PreBind checks).

use pyo3::prelude::*;

use crate::intern::resolve;
use crate::state::volumes::{PvRecord, PvcRecord};

/// One unbound claim of a placed pod: the PV it is bound to, or None to provision it on the
/// pod's node.
#[pyclass(frozen, get_all, module = "podium._core")]
#[derive(Clone)]
pub struct ClaimBinding {
    pub(super) claim: String,
    pub(super) volume: Option<String>,
}

#[pymethods]
impl ClaimBinding {
    #[new]
    #[pyo3(signature = (claim, volume))]
    fn new(claim: String, volume: Option<String>) -> Self {
        Self { claim, volume }
    }

    fn __repr__(&self) -> String {
        format!("ClaimBinding({:?} -> {:?})", self.claim, self.volume)
    }
}

impl From<&crate::state::volume_binder::ClaimBinding> for ClaimBinding {
    fn from(b: &crate::state::volume_binder::ClaimBinding) -> Self {
        Self {
            claim: resolve(b.claim.1).to_owned(),
            volume: b.volume.map(|v| resolve(v).to_owned()),
        }
    }
}

/// A PersistentVolumeClaim as the cache has it.
#[pyclass(frozen, get_all, module = "podium._core")]
pub struct ClaimInfo {
    namespace: String,
    name: String,
    uid: String,
    resource_version: u64,
    volume_name: Option<String>,
    selected_node: Option<String>,
    fully_bound: bool,
}

impl From<&PvcRecord> for ClaimInfo {
    fn from(c: &PvcRecord) -> Self {
        Self {
            namespace: resolve(c.namespace).to_owned(),
            name: resolve(c.name).to_owned(),
            uid: c.uid.to_string(),
            resource_version: c.resource_version,
            volume_name: c.volume_name.map(|v| resolve(v).to_owned()),
            selected_node: c.selected_node.map(|v| resolve(v).to_owned()),
            fully_bound: c.fully_bound(),
        }
    }
}

/// A PersistentVolume as the cache has it.
#[pyclass(frozen, get_all, module = "podium._core")]
pub struct VolumeInfo {
    name: String,
    resource_version: u64,
    /// `spec.claimRef` as (namespace, name, uid); uid is "" when unset.
    claim: Option<(String, String, String)>,
}

impl From<&PvRecord> for VolumeInfo {
    fn from(v: &PvRecord) -> Self {
        Self {
            name: resolve(v.name).to_owned(),
            resource_version: v.resource_version,
            claim: v.claim.map(|(ns, n)| {
                (
                    resolve(ns).to_owned(),
                    resolve(n).to_owned(),
                    v.claim_uid.to_string(),
                )
            }),
        }
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ClaimBinding>()?;
    m.add_class::<ClaimInfo>()?;
    m.add_class::<VolumeInfo>()
}
