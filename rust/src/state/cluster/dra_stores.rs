//! The stores of the DRA kinds (`resource.k8s.io/v1`): DeviceClasses, ResourceSlices and
//! ResourceClaims, kept in `Dra`.

use crate::error::{CoreError, CoreResult};
use crate::state::cluster::{ChangeOutcome, ClusterState};
use crate::state::dra::claim::Claim;
use crate::state::dra::class::DeviceClass;
use crate::state::dra::error::DecodeError;
use crate::state::dra::read_object;
use crate::state::dra::slice::Slice;
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

pub(super) struct DeviceClassStore;

impl Store for DeviceClassStore {
    type Object = DraObject<DeviceClass>;

    fn decode(bytes: &[u8], deleted: bool, out: &mut ChangeOutcome) -> CoreResult<Self::Object> {
        decode(Kind::DeviceClass, bytes, deleted, out, DeviceClass::decode)
    }

    fn key(object: &Self::Object) -> Option<Box<str>> {
        key(object)
    }

    fn upsert(state: &mut ClusterState, object: Self::Object) -> bool {
        state
            .dra
            .upsert_class(&object.name, decoded(object.decoded));
        state.generation += 1;
        true
    }

    fn delete(state: &mut ClusterState, object: Self::Object) {
        state.dra.delete_class(&object.name);
        state.generation += 1;
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        state.dra.retain_classes(|k| seen.contains(k));
        state.generation += 1;
        Vec::new()
    }
}

pub(super) struct SliceStore;

impl Store for SliceStore {
    type Object = DraObject<Slice>;

    fn decode(bytes: &[u8], deleted: bool, out: &mut ChangeOutcome) -> CoreResult<Self::Object> {
        decode(Kind::ResourceSlice, bytes, deleted, out, Slice::decode)
    }

    fn key(object: &Self::Object) -> Option<Box<str>> {
        key(object)
    }

    fn upsert(state: &mut ClusterState, object: Self::Object) -> bool {
        state
            .dra
            .upsert_slice(&object.name, decoded(object.decoded));
        state.generation += 1;
        true
    }

    fn delete(state: &mut ClusterState, object: Self::Object) {
        state.dra.delete_slice(&object.name);
        state.generation += 1;
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        state.dra.retain_slices(|k| seen.contains(k));
        state.generation += 1;
        Vec::new()
    }
}

pub(super) struct ClaimStore;

impl Store for ClaimStore {
    type Object = DraObject<Claim>;

    fn decode(bytes: &[u8], deleted: bool, out: &mut ChangeOutcome) -> CoreResult<Self::Object> {
        decode(Kind::ResourceClaim, bytes, deleted, out, Claim::decode)
    }

    fn key(object: &Self::Object) -> Option<Box<str>> {
        key(object)
    }

    fn upsert(state: &mut ClusterState, object: Self::Object) -> bool {
        let claim = decoded(object.decoded);
        state
            .dra
            .upsert_claim(&object.namespace, &object.name, claim);
        state.generation += 1;
        true
    }

    fn delete(state: &mut ClusterState, object: Self::Object) {
        state.dra.delete_claim(&object.namespace, &object.name);
        state.generation += 1;
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        state.dra.retain_claims(|k| seen.contains(k));
        state.generation += 1;
        Vec::new()
    }
}
