//! Plugins, one folder each, named as kube-scheduler names them (snake_case of the plugin's
//! name): a plugin's filter, score, per-batch state (PreFilter counts, caches), add/remove-pod
//! hooks and tests live together in `plugins/<name>/`. Plugins import `state/` and `framework/`,
//! never each other's internals nor anything above them (the registry, the cycle, `py/`).
pub mod dynamic_resources;
