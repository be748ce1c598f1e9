//! The stores of the DRA kinds (`resource.k8s.io/v1`): DeviceClasses, ResourceSlices and
//! ResourceClaims, kept in `Dra`.

use std::marker::PhantomData;

use crate::error::{CoreError, CoreResult};
use crate::state::cluster::{ChangeOutcome, ClusterState};
use crate::state::dra::claim::Claim;
use crate::state::dra::class::DeviceClass;
use crate::state::dra::error::DecodeError;
use crate::state::dra::slice::Slice;
use crate::state::dra::{Dra, read_object};
use crate::state::kind::Kind;

use super::store::{Seen, Store, namespaced_key, read_identity};

/// One DRA object: its namespace, name, and the record decoded from it (`None` when deleted:
/// only the name is read), or the decode error its kind reports.
pub(super) struct DraObject<T> {
    namespace: String,
    name: String,
    decoded: Option<CoreResult<T>>,
}

fn decode<T>(
    kind: Kind,
    bytes: &[u8],
    deleted: bool,
    out: &mut ChangeOutcome,
    decode: fn(&str) -> Result<T, DecodeError>,
) -> CoreResult<DraObject<T>> {
    let (namespace, name, text) = read_object(kind, bytes)?;
    read_identity(bytes, out);
    let decoded = (!deleted).then(|| decode(text).map_err(CoreError::from));
    out.error = decoded
        .as_ref()
        .and_then(|d| d.as_ref().err().map(ToString::to_string));
    out.namespace.clone_from(&namespace);
    out.name.clone_from(&name);
    Ok(DraObject {
        namespace,
        name,
        decoded,
    })
}

fn key<T>(object: &DraObject<T>) -> Option<Box<str>> {
    Some(if object.namespace.is_empty() {
        object.name.as_str().into()
    } else {
        namespaced_key(&object.namespace, &object.name)
    })
}

/// What an upsert keeps: the record, or the decode error (only a deleted object is not
/// decoded, and it is never upserted).
fn decoded<T>(decoded: Option<CoreResult<T>>) -> CoreResult<T> {
    decoded.unwrap_or_else(|| Err(CoreError::Internal("a deleted object upserted".into())))
}

/// What sets one DRA kind's store apart: its record, how it is decoded and kept in `Dra`.
pub(super) trait DraKind: Sync {
    const KIND: Kind;
    type Record;
    fn decode(text: &str) -> Result<Self::Record, DecodeError>;
    fn upsert(dra: &mut Dra, namespace: &str, name: &str, record: CoreResult<Self::Record>);
    fn delete(dra: &mut Dra, namespace: &str, name: &str);
    /// The end of a relist; `seen` is handed the key `key` makes.
    fn retain(dra: &mut Dra, seen: &Seen);
}

/// The store of the DRA kind `K`.
pub(super) struct DraStore<K>(PhantomData<K>);

impl<K> DraStore<K> {
    pub(super) const NEW: Self = Self(PhantomData);
}

impl<K: DraKind> Store for DraStore<K> {
    type Object = DraObject<K::Record>;

    fn decode(bytes: &[u8], deleted: bool, out: &mut ChangeOutcome) -> CoreResult<Self::Object> {
        decode(K::KIND, bytes, deleted, out, K::decode)
    }

    fn key(object: &Self::Object) -> Option<Box<str>> {
        key(object)
    }

    fn upsert(state: &mut ClusterState, object: Self::Object) -> bool {
        let record = decoded(object.decoded);
        K::upsert(&mut state.dra, &object.namespace, &object.name, record);
        state.generation += 1;
        true
    }

    fn delete(state: &mut ClusterState, object: Self::Object) {
        K::delete(&mut state.dra, &object.namespace, &object.name);
        state.generation += 1;
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        K::retain(&mut state.dra, seen);
        state.generation += 1;
        Vec::new()
    }
}

pub(super) struct DeviceClasses;

impl DraKind for DeviceClasses {
    const KIND: Kind = Kind::DeviceClass;
    type Record = DeviceClass;

    fn decode(text: &str) -> Result<DeviceClass, DecodeError> {
        DeviceClass::decode(text)
    }

    fn upsert(dra: &mut Dra, _namespace: &str, name: &str, class: CoreResult<DeviceClass>) {
        dra.upsert_class(name, class);
    }

    fn delete(dra: &mut Dra, _namespace: &str, name: &str) {
        dra.delete_class(name);
    }

    fn retain(dra: &mut Dra, seen: &Seen) {
        dra.retain_classes(|k| seen.contains(k));
    }
}

pub(super) struct Slices;

impl DraKind for Slices {
    const KIND: Kind = Kind::ResourceSlice;
    type Record = Slice;

    fn decode(text: &str) -> Result<Slice, DecodeError> {
        Slice::decode(text)
    }

    fn upsert(dra: &mut Dra, _namespace: &str, name: &str, slice: CoreResult<Slice>) {
        dra.upsert_slice(name, slice);
    }

    fn delete(dra: &mut Dra, _namespace: &str, name: &str) {
        dra.delete_slice(name);
    }

    fn retain(dra: &mut Dra, seen: &Seen) {
        dra.retain_slices(|k| seen.contains(k));
    }
}

pub(super) struct Claims;

impl DraKind for Claims {
    const KIND: Kind = Kind::ResourceClaim;
    type Record = Claim;

    fn decode(text: &str) -> Result<Claim, DecodeError> {
        Claim::decode(text)
    }

    fn upsert(dra: &mut Dra, namespace: &str, name: &str, claim: CoreResult<Claim>) {
        dra.upsert_claim(namespace, name, claim);
    }

    fn delete(dra: &mut Dra, namespace: &str, name: &str) {
        dra.delete_claim(namespace, name);
    }

    fn retain(dra: &mut Dra, seen: &Seen) {
        dra.retain_claims(|k| seen.contains(k));
    }
}
