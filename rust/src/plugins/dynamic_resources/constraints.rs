//! A claim's constraints while devices are being picked: `matchAttribute` (every device of the
//! named requests has the same value, e.g. GPU and NIC on one `resource.kubernetes.io/pcieRoot`)
//! and `distinctAttribute` (no two share a value). A device lacking the attribute satisfies
//! neither. `add` and `remove` follow the search's picks and backtracking.

use crate::intern::Sym;
use crate::state::dra::claim::{Constraint, ConstraintKind};
use crate::state::dra::device::{AttrValue, Device};

#[derive(Debug, Clone)]
pub struct ConstraintState {
    requests: Box<[Sym]>,
    kind: ConstraintKind,
    values: Vec<AttrValue>,
}

impl ConstraintState {
    pub fn new(c: &Constraint) -> Self {
        Self {
            requests: c.requests.clone(),
            kind: c.kind,
            values: Vec::new(),
        }
    }

    /// `request` is the request's name, `full` the `req/sub` name of a subrequest (or the same).
    fn applies(&self, request: Sym, full: Sym) -> bool {
        self.requests.is_empty()
            || self.requests.contains(&request)
            || self.requests.contains(&full)
    }

    /// Records the device if it keeps the constraint; `false` (and nothing recorded) otherwise.
    pub fn add(&mut self, request: Sym, full: Sym, device: &Device) -> bool {
        if !self.applies(request, full) {
            return true;
        }
        let (ConstraintKind::MatchAttribute(name) | ConstraintKind::DistinctAttribute(name)) =
            self.kind;
        let Some(value) = device.attribute_named(name) else {
            return false;
        };
        let ok = match self.kind {
            ConstraintKind::MatchAttribute(_) => self.values.first().is_none_or(|v| *v == value),
            ConstraintKind::DistinctAttribute(_) => !self.values.contains(&value),
        };
        if ok {
            self.values.push(value);
        }
        ok
    }

    /// Undoes the `add` of the same device (the search undoes in reverse order).
    pub fn remove(&mut self, request: Sym, full: Sym) {
        if self.applies(request, full) {
            self.values.pop();
        }
    }
}
