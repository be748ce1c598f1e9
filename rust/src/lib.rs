//! podium's scheduling core, and `podium._core`, its Python module.
//!
//! The modules stand in layers, each importing only those below it: `quantity`, `intern` and
//! `topology` (NUMA placement) at the bottom; `state` (the cache: records decoded once);
//! `framework` (codes, statuses, one trait per extension point, cycle and batch state, the
//! nominator); `plugins` (one folder per plugin); `runtime` (the registry, profiles, running a
//! profile's plugins over nodes); the scheduling above them (`cycle`, `gang`, `preemption`,
//! `reservation`, `explain`, `evaluate`); and `py`, the Python boundary, on top. This module
//! only registers `py`'s classes.

pub mod bounded;
pub mod cycle;
pub mod diagnosis;
#[cfg(test)]
mod dra_tests;
pub mod error;
pub mod evaluate;
pub mod explain;
pub mod framework;
pub mod gang;
#[cfg(test)]
mod index_equivalence_tests;
pub mod intern;
pub mod plugins;
pub mod preemption;
mod py;
pub mod quantity;
#[cfg(test)]
mod quota_tests;
pub mod reservation;
#[cfg(test)]
mod reuse_tests;
pub mod runtime;
#[cfg(test)]
mod spread_batch_tests;
pub mod state;
#[cfg(test)]
mod testutil;
pub mod topology;
#[cfg(test)]
mod workload_gang_tests;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    py::register(m)
}
