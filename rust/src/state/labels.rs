//! Interned label sets (also used for node selectors): sorted (key, value) symbol pairs.

use std::collections::BTreeMap;

use crate::intern::{Sym, sym};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(Box<[(Sym, Sym)]>);

impl Labels {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut v: Vec<(Sym, Sym)> = pairs.into_iter().map(|(k, v)| (sym(k), sym(v))).collect();
        v.sort_unstable_by_key(|&(k, _)| k);
        v.dedup_by_key(|&mut (k, _)| k);
        Self(v.into_boxed_slice())
    }

    pub fn from_map<K: AsRef<str>, V: AsRef<str>>(map: &BTreeMap<K, V>) -> Self {
        Self::from_pairs(map.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
    }

    pub fn get(&self, key: Sym) -> Option<Sym> {
        self.0
            .binary_search_by_key(&key, |&(k, _)| k)
            .ok()
            .map(|i| self.0[i].1)
    }

    pub fn contains_key(&self, key: Sym) -> bool {
        self.get(key).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (Sym, Sym)> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Every pair of `self` is in `other` (nodeSelector semantics).
    pub fn is_subset_of(&self, other: &Labels) -> bool {
        self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_subset() {
        let node = Labels::from_pairs([("zone", "a"), ("gpu", "h100"), ("rack", "r1")]);
        assert_eq!(node.get(sym("zone")), Some(sym("a")));
        assert_eq!(node.get(sym("missing-key")), None);
        assert!(Labels::from_pairs([("gpu", "h100")]).is_subset_of(&node));
        assert!(!Labels::from_pairs([("gpu", "a100")]).is_subset_of(&node));
        assert!(Labels::default().is_subset_of(&node));
    }
}
