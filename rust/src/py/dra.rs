//! Dynamic Resource Allocation across the boundary: a decision's claim reservations (what
//! DynamicResources' PreBind writes), handed back to `ClusterState.assume` as they came.

use pyo3::prelude::*;

use crate::intern::resolve;
use crate::state::dra::claim;

/// A claim of a placed pod not yet reserved for it: PreBind adds the pod to
/// `status.reservedFor`, and writes `status.allocation` first when `allocation` is set.
#[pyclass(frozen, module = "podium._core")]
#[derive(Clone)]
pub struct ResourceClaimReservation {
    pub(super) inner: claim::ClaimReservation,
}

#[pymethods]
impl ResourceClaimReservation {
    /// The ResourceClaim's name, in the pod's namespace.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    #[getter]
    fn uid(&self) -> &str {
        &self.inner.uid
    }

    /// `status.allocation` (without `devices.config`) as JSON bytes, or None when the claim is
    /// allocated already and only the reservation is missing.
    #[getter]
    fn allocation(&self) -> Option<Vec<u8>> {
        let a = self.inner.allocation.as_ref()?;
        Some(serde_json::to_vec(&a.to_json()).unwrap_or_default())
    }

    /// For the claim of the pod's extended resources served by DRA, which PreBind creates
    /// (`name` and `uid` are placeholders until then): `{"spec": ..., "requestMappings": [...]}`
    /// as JSON bytes; None for a claim that exists.
    #[getter]
    fn extended(&self) -> Option<Vec<u8>> {
        let e = self.inner.extended.as_ref()?;
        Some(serde_json::to_vec(&e.to_json()).unwrap_or_default())
    }

    /// The node the allocation is bound to, if any.
    #[getter]
    fn node(&self) -> Option<&'static str> {
        self.inner.allocation.as_ref()?.node.map(resolve)
    }

    /// The devices allocated, as `driver/pool/device`.
    #[getter]
    fn devices(&self) -> Vec<String> {
        self.inner
            .allocation
            .iter()
            .flat_map(|a| a.devices.iter().map(|d| d.key.to_string()))
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "ResourceClaimReservation({:?} allocate={:?})",
            self.inner.name,
            self.devices()
        )
    }
}

impl From<&claim::ClaimReservation> for ResourceClaimReservation {
    fn from(c: &claim::ClaimReservation) -> Self {
        Self { inner: c.clone() }
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ResourceClaimReservation>()
}
