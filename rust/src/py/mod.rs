//! The Python boundary (`podium._core`): classes and conversions only, one module per family;
//! the logic is in the modules below it. Nothing else in the crate imports this module.

mod cluster_state;
mod decisions;
mod dra;
mod enums;
mod errors;
mod evaluate;
mod pending_pod;
mod plugins;
mod pod_group;
mod profile;
mod quota;
mod snapshot;
mod volumes;

use pyo3::prelude::*;

/// Adds every class, enum and exception of `podium._core` to `m`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    enums::register(m)?;
    cluster_state::register(m)?;
    pending_pod::register(m)?;
    pod_group::register(m)?;
    profile::register(m)?;
    snapshot::register(m)?;
    decisions::register(m)?;
    dra::register(m)?;
    evaluate::register(m)?;
    volumes::register(m)?;
    quota::register(m)?;
    plugins::register(m)
}
