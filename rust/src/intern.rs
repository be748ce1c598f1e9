//! Process-wide string interning for the strings the cluster repeats endlessly: label keys and
//! values, taint and toleration fields, resource names, node names, namespaces.
//!
//! A symbol is a `u32`, so records stay small and comparisons in the filters are integer
//! compares. The table only grows; uids and pod names (unique per object) are never interned.

use std::sync::LazyLock;

use lasso::{Spur, ThreadedRodeo};

/// An interned string.
pub type Sym = Spur;

static TABLE: LazyLock<ThreadedRodeo<Spur>> = LazyLock::new(ThreadedRodeo::new);

/// The symbol for `s`, adding it if new.
pub fn sym(s: &str) -> Sym {
    TABLE.get_or_intern(s)
}

/// The symbol for `s` if it was ever interned (lookups that must not grow the table).
pub fn lookup(s: &str) -> Option<Sym> {
    TABLE.get(s)
}

/// The string behind a symbol.
pub fn resolve(s: Sym) -> &'static str {
    // The table is static and never shrinks, so its strings live as long as the process.
    TABLE.resolve(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_dedups() {
        let a = sym("nvidia.com/gpu");
        let b = sym("nvidia.com/gpu");
        assert_eq!(a, b);
        assert_eq!(resolve(a), "nvidia.com/gpu");
        assert_ne!(sym("cpu-x"), a);
        assert_eq!(lookup("nvidia.com/gpu"), Some(a));
        assert_eq!(lookup("never-interned-anywhere"), None);
    }
}
