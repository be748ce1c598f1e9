//! The CEL values a DRA selector sees: `device` (driver, attributes, capacity,
//! allowMultipleAllocations) built from a decoded device, and kube's two extension types,
//! `kubernetes.Quantity` and `kubernetes.Semver`.
//!
//! As in kube, `device.attributes[domain]` of a domain the device lacks is an empty map, so
//! `device.attributes["x"].model` fails (no such key) rather than the domain lookup.

use std::any::Any;
use std::cmp::Ordering;
use std::collections::HashMap;

use cel::ExecutionError;
use cel::common::traits::{Comparer, Container, Indexer};
use cel::common::types::{self, CelBool, CelInt, CelMap, CelMapKey, CelString, Type};
use cel::common::value::{CowVal, StaticVal, Val};

use super::semver::Semver;
use crate::error::{CoreError, CoreResult};
use crate::intern::resolve;
use crate::state::dra::device::{AttrValue, Device};

pub static QUANTITY_TYPE: Type = Type::new_unspecified_type("kubernetes.Quantity");
pub static SEMVER_TYPE: Type = Type::new_unspecified_type("kubernetes.Semver");

/// A quantity in milli-units (what `quantity.rs` parses exactly for DRA's sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantityVal(pub i64);

impl Val for QuantityVal {
    fn get_type(&self) -> &Type {
        &QUANTITY_TYPE
    }
    fn cel_type() -> &'static Type {
        &QUANTITY_TYPE
    }
    fn equals(&self, other: &dyn Val) -> bool {
        other.downcast_ref::<QuantityVal>() == Some(self)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(*self)
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}
impl StaticVal for QuantityVal {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemverVal(pub Semver);

impl Val for SemverVal {
    fn get_type(&self) -> &Type {
        &SEMVER_TYPE
    }
    fn cel_type() -> &'static Type {
        &SEMVER_TYPE
    }
    fn equals(&self, other: &dyn Val) -> bool {
        other
            .downcast_ref::<SemverVal>()
            .is_some_and(|o| o.0.cmp(&self.0) == Ordering::Equal)
    }
    fn as_comparer(&self) -> Option<&dyn Comparer> {
        Some(self)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}
impl StaticVal for SemverVal {}

impl Comparer for SemverVal {
    fn compare(&self, rhs: &dyn Val) -> Result<Ordering, ExecutionError> {
        match rhs.downcast_ref::<SemverVal>() {
            Some(o) => Ok(self.0.cmp(&o.0)),
            None => Err(ExecutionError::no_such_overload(
                "compare",
                vec![
                    SEMVER_TYPE.name().to_owned(),
                    rhs.get_type().name().to_owned(),
                ],
            )),
        }
    }
}

/// `device.attributes` / `device.capacity`: domain → (id → value), a missing domain reading
/// as an empty map.
#[derive(Debug, Default, Clone)]
pub struct DomainMap {
    domains: HashMap<String, CelMap<'static>>,
    empty: CelMap<'static>,
}

impl DomainMap {
    fn insert(&mut self, domain: &str, id: &str, value: Box<dyn Val>) {
        let inner = self.domains.entry(domain.to_owned()).or_default();
        let mut entries = std::mem::take(inner).into_inner();
        entries.insert(CelMapKey::from(id.to_owned()), value);
        *inner = CelMap::from(entries);
    }
}

impl Val for DomainMap {
    fn get_type(&self) -> &Type {
        &types::MAP_TYPE
    }
    fn cel_type() -> &'static Type {
        &types::MAP_TYPE
    }
    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }
    fn as_container(&self) -> Option<&dyn Container> {
        Some(self)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}
impl StaticVal for DomainMap {}

impl Indexer for DomainMap {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let Some(key) = idx.downcast_ref::<CelString>() else {
            return Err(ExecutionError::UnexpectedType {
                got: idx.get_type().name().to_owned(),
                want: "string".to_owned(),
            });
        };
        Ok(CowVal::Borrowed(
            self.domains.get(key.inner()).unwrap_or(&self.empty),
        ))
    }

    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

impl Container for DomainMap {
    fn contains(&self, value: &dyn Val) -> Result<bool, ExecutionError> {
        Ok(value
            .downcast_ref::<CelString>()
            .is_some_and(|k| self.domains.contains_key(k.inner())))
    }
}

fn attribute_value(value: AttrValue) -> CoreResult<Box<dyn Val>> {
    Ok(match value {
        AttrValue::Int(i) => Box::new(CelInt::from(i)),
        AttrValue::Bool(b) => Box::new(CelBool::from(b)),
        AttrValue::Str(s) => Box::new(CelString::from(resolve(s).to_owned())),
        AttrValue::Version(v) => {
            Box::new(SemverVal(Semver::parse(resolve(v)).map_err(|e| {
                CoreError::Invalid(format!("parse semantic version: {e}"))
            })?))
        }
    })
}

/// The `device` variable for one device: built when a selector's verdict on the device is not
/// cached yet (see `candidates.rs`), so its cost is paid once per device and expression.
pub fn device_value(device: &Device) -> CoreResult<CelMap<'static>> {
    let mut attributes = DomainMap::default();
    for a in &device.attributes {
        let value = attribute_value(a.value).map_err(|e| {
            CoreError::Invalid(format!(
                "attribute {}/{}: {e}",
                resolve(a.domain),
                resolve(a.id)
            ))
        })?;
        attributes.insert(resolve(a.domain), resolve(a.id), value);
    }
    let mut capacity = DomainMap::default();
    for c in &device.capacity {
        capacity.insert(
            resolve(c.domain),
            resolve(c.id),
            Box::new(QuantityVal(c.value)),
        );
    }
    let mut fields: HashMap<CelMapKey<'static>, Box<dyn Val>> = HashMap::new();
    fields.insert(
        CelMapKey::from("driver".to_owned()),
        Box::new(CelString::from(resolve(device.key.driver).to_owned())),
    );
    fields.insert(
        CelMapKey::from("allowMultipleAllocations".to_owned()),
        Box::new(CelBool::from(device.allow_multiple_allocations)),
    );
    fields.insert(
        CelMapKey::from("attributes".to_owned()),
        Box::new(attributes),
    );
    fields.insert(CelMapKey::from("capacity".to_owned()), Box::new(capacity));
    Ok(CelMap::from(fields))
}
