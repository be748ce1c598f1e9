//! A profile's topology levels for gangs: node labels, widest first (by default
//! `topology.kubernetes.io/block` → the rack label → `kubernetes.io/hostname`). A gang asks for
//! one of them (or any other label); `preferred` falls back to the level above it. Checked once,
//! when the profile is built.

use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, resolve, sym};
use crate::state::pod_group::{Level, label_key};

pub const BLOCK_LABEL: &str = "topology.kubernetes.io/block";
pub const DEFAULT_RACK_LABEL: &str = "topology.kubernetes.io/rack";
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyLevels {
    /// Widest first.
    keys: Vec<Sym>,
    /// The label `podium.dev/rack` names.
    rack: Sym,
}

impl Default for TopologyLevels {
    fn default() -> Self {
        Self::new(None, None).expect("the default levels are valid")
    }
}

impl TopologyLevels {
    /// From `podium.rackLabel` and `podium.topologyLevels` (None: the defaults). Err names the
    /// field and the entry.
    pub fn new(rack_label: Option<&str>, levels: Option<&[String]>) -> CoreResult<Self> {
        let rack = rack_label
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_RACK_LABEL);
        label_key(rack)
            .map_err(|why| CoreError::Invalid(format!("podium.rackLabel: {rack:?} {why}")))?;
        let keys: Vec<Sym> = match levels {
            None => vec![sym(BLOCK_LABEL), sym(rack), sym(HOSTNAME_LABEL)],
            Some(levels) => {
                let mut keys = Vec::with_capacity(levels.len());
                for (i, key) in levels.iter().enumerate() {
                    label_key(key).map_err(|why| {
                        CoreError::Invalid(format!("podium.topologyLevels[{i}]: {key:?} {why}"))
                    })?;
                    let key = sym(key);
                    if let Some(j) = keys.iter().position(|&k| k == key) {
                        return Err(CoreError::Invalid(format!(
                            "podium.topologyLevels[{i}]: {:?} is already level {j}",
                            resolve(key)
                        )));
                    }
                    keys.push(key);
                }
                keys
            }
        };
        Ok(Self {
            keys,
            rack: sym(rack),
        })
    }

    /// The levels, widest first.
    pub fn keys(&self) -> &[Sym] {
        &self.keys
    }

    pub fn rack_label(&self) -> Sym {
        self.rack
    }

    /// The label `level` reads.
    pub fn key(&self, level: Level) -> Sym {
        level.key(self.rack)
    }

    /// Where `key` is in the list (0: widest), None for a label outside it.
    pub fn position(&self, key: Sym) -> Option<usize> {
        self.keys.iter().position(|&k| k == key)
    }

    /// The levels a `preferred` request at `key` tries, narrowest first: `key`, then every
    /// level above it in the list (a label outside the list has none above it).
    pub fn widening(&self, key: Sym) -> Vec<Sym> {
        match self.position(key) {
            Some(at) => self.keys[..=at].iter().rev().copied().collect(),
            None => vec![key],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_block_rack_host() {
        let levels = TopologyLevels::default();
        let names: Vec<&str> = levels.keys().iter().map(|&k| resolve(k)).collect();
        assert_eq!(names, [BLOCK_LABEL, DEFAULT_RACK_LABEL, HOSTNAME_LABEL]);
        assert_eq!(levels.key(Level::Rack), sym(DEFAULT_RACK_LABEL));
        let up: Vec<&str> = levels
            .widening(sym(DEFAULT_RACK_LABEL))
            .iter()
            .map(|&k| resolve(k))
            .collect();
        assert_eq!(up, [DEFAULT_RACK_LABEL, BLOCK_LABEL]);
        assert_eq!(levels.widening(sym("other/label")), [sym("other/label")]);
    }

    #[test]
    fn the_rack_label_takes_the_rack_place_by_default() {
        let levels = TopologyLevels::new(Some("corp.com/rack-id"), None).expect("valid");
        assert_eq!(levels.keys()[1], sym("corp.com/rack-id"));
        assert_eq!(levels.key(Level::Rack), sym("corp.com/rack-id"));
    }

    #[test]
    fn bad_levels_name_the_entry() {
        let err = |levels: &[&str]| {
            let owned: Vec<String> = levels.iter().map(|s| (*s).to_owned()).collect();
            TopologyLevels::new(None, Some(&owned))
                .expect_err("invalid")
                .to_string()
        };
        let e = err(&["a/b", "bad key"]);
        assert!(
            e.contains("podium.topologyLevels[1]: \"bad key\" is not a label key"),
            "{e}"
        );
        let e = err(&["a/b", "c", "a/b"]);
        assert!(
            e.contains("podium.topologyLevels[2]: \"a/b\" is already level 0"),
            "{e}"
        );
        let e = TopologyLevels::new(Some("-x"), None)
            .expect_err("invalid")
            .to_string();
        assert!(
            e.contains("podium.rackLabel: \"-x\" is not a label key"),
            "{e}"
        );
    }
}
