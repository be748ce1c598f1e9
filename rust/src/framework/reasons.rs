//! Reasons built from interned parts (`Insufficient nvidia.com/gpu`), formatted once per
//! distinct value and then shared: a failing node costs a table lookup, not a fresh string.

use std::sync::LazyLock;

use dashmap::DashMap;

use crate::intern::{Sym, resolve, sym};

/// What a cached reason is built from: a per-plugin tag and up to two interned strings.
type Key = (&'static str, Sym, Option<Sym>);

static CACHE: LazyLock<DashMap<Key, &'static str, ahash::RandomState>> =
    LazyLock::new(DashMap::default);

/// The reason for `(tag, a, b)`, rendering it the first time it is needed.
pub fn cached(
    tag: &'static str,
    a: Sym,
    b: Option<Sym>,
    render: impl FnOnce() -> String,
) -> &'static str {
    if let Some(r) = CACHE.get(&(tag, a, b)) {
        return *r;
    }
    // Interned strings live as long as the process: the cache hands out &'static str.
    let text = resolve(sym(&render()));
    CACHE.insert((tag, a, b), text);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_once_per_key() {
        let gpu = sym("nvidia.com/gpu");
        let mut calls = 0;
        let first = cached("test", gpu, None, || {
            calls += 1;
            format!("Insufficient {}", resolve(gpu))
        });
        let second = cached("test", gpu, None, || unreachable!("cached"));
        assert_eq!(
            (first, second, calls),
            ("Insufficient nvidia.com/gpu", first, 1)
        );
        assert_ne!(cached("other", gpu, None, || "x".into()), first);
    }
}
