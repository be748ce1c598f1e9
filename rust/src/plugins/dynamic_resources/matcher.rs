//! Whether a device satisfies a request's class selectors and its own selectors, remembered
//! per device: one `Matcher` per distinct (class, selectors) pair, shared by every pod whose
//! requests read the same (claims from one template), so CEL runs once per device and pair
//! while the inventory stands. Verdicts are computed lazily, in the allocator's order, so an
//! expression that fails on a device fails where kube's would: when that device is considered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use super::cel::{self, CelError, Selector, values::device_value};
use super::error::{CelFailure, SelectorSource};
use crate::intern::{Sym, resolve};
use crate::state::dra::class::DeviceClass;
use crate::state::dra::pools::{DevId, Inventory};

const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;
const ERROR: u8 = 3;

/// A selector that failed, on which device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchError {
    pub source: SelectorSource,
    pub expression: Arc<str>,
    pub error: CelError,
}

#[derive(Debug)]
pub struct Matcher {
    class: Vec<Arc<Selector>>,
    class_name: Sym,
    request: Vec<Arc<Selector>>,
    verdicts: Box<[AtomicU8]>,
    errors: Mutex<HashMap<DevId, MatchError>>,
}

fn compile_all(
    exprs: &[Arc<str>],
    source: &SelectorSource,
) -> Result<Vec<Arc<Selector>>, MatchError> {
    exprs
        .iter()
        .map(|e| {
            cel::compile(e).map_err(|error| MatchError {
                source: source.clone(),
                expression: e.clone(),
                error,
            })
        })
        .collect()
}

impl Matcher {
    /// Compiles the class's and the request's selectors; a compile error is the request's,
    /// whatever the node.
    pub fn new(
        class: &DeviceClass,
        request: &[Arc<str>],
        devices: usize,
    ) -> Result<Self, MatchError> {
        Ok(Self {
            class: compile_all(
                &class.selectors,
                &SelectorSource::Class(resolve(class.name).to_owned()),
            )?,
            class_name: class.name,
            request: compile_all(request, &SelectorSource::Request)?,
            verdicts: (0..devices).map(|_| AtomicU8::new(UNKNOWN)).collect(),
            errors: Mutex::new(HashMap::new()),
        })
    }

    /// The same selectors with what they found, for an inventory of the same lineage (an id
    /// means the same device there) with ids below `devices`.
    fn grown(&self, devices: usize) -> Self {
        let verdicts = (0..devices.max(self.verdicts.len()))
            .map(|i| {
                AtomicU8::new(
                    self.verdicts
                        .get(i)
                        .map_or(UNKNOWN, |v| v.load(Ordering::Relaxed)),
                )
            })
            .collect();
        Self {
            class: self.class.clone(),
            class_name: self.class_name,
            request: self.request.clone(),
            verdicts,
            errors: Mutex::new(
                self.errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            ),
        }
    }

    pub fn check(&self, inv: &Inventory, dev: DevId) -> Result<bool, MatchError> {
        let slot = &self.verdicts[dev as usize];
        match slot.load(Ordering::Relaxed) {
            YES => return Ok(true),
            NO => return Ok(false),
            ERROR => {
                if let Some(e) = self
                    .errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&dev)
                {
                    return Err(e.clone());
                }
            }
            _ => {}
        }
        let verdict = self.evaluate(inv, dev);
        match &verdict {
            Ok(true) => slot.store(YES, Ordering::Relaxed),
            Ok(false) => slot.store(NO, Ordering::Relaxed),
            Err(e) => {
                self.errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(dev, e.clone());
                slot.store(ERROR, Ordering::Relaxed);
            }
        }
        verdict
    }

    fn evaluate(&self, inv: &Inventory, dev: DevId) -> Result<bool, MatchError> {
        let device = inv.device(dev);
        let class_source = || SelectorSource::Class(resolve(self.class_name).to_owned());
        let value = device_value(device).map_err(|detail| MatchError {
            source: class_source(),
            expression: Arc::from(""),
            error: CelError {
                failure: CelFailure::Runtime,
                detail: detail.to_string(),
            },
        })?;
        // kube evaluates the class's selectors first and stops at the first false.
        for (selectors, source) in [
            (&self.class, class_source()),
            (&self.request, SelectorSource::Request),
        ] {
            for s in selectors {
                match s.matches(&value) {
                    Ok(true) => {}
                    Ok(false) => return Ok(false),
                    Err(error) => {
                        return Err(MatchError {
                            source,
                            expression: s.expression.clone(),
                            error,
                        });
                    }
                }
            }
        }
        Ok(true)
    }
}

/// (class, request selectors).
type MatcherKey = (Sym, Box<[Arc<str>]>);

/// The matchers of one inventory, by (class, request selectors).
#[derive(Debug, Default)]
pub struct Matchers {
    by_key: Mutex<HashMap<MatcherKey, Arc<Matcher>>>,
}

impl Matchers {
    /// The verdicts kept for an inventory of the same lineage as theirs and the same classes
    /// (a slice changed): devices republished alike keep their ids, so their verdicts hold;
    /// new ids have none yet.
    pub fn carried(&self, inv: &Inventory) -> Self {
        let by_key = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        Self {
            by_key: Mutex::new(
                by_key
                    .iter()
                    .map(|(k, m)| (k.clone(), Arc::new(m.grown(inv.id_bound()))))
                    .collect(),
            ),
        }
    }

    pub fn get(
        &self,
        inv: &Inventory,
        class: &DeviceClass,
        request: &[Arc<str>],
    ) -> Result<Arc<Matcher>, MatchError> {
        let key = (class.name, Box::<[Arc<str>]>::from(request));
        if let Some(m) = self
            .by_key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(m.clone());
        }
        let m = Arc::new(Matcher::new(class, request, inv.id_bound())?);
        self.by_key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, m.clone());
        Ok(m)
    }
}
