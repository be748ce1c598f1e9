//! One store per kind the cache holds, behind one trait: how an object of the kind is decoded,
//! kept (upsert), dropped (delete) and forgotten at the end of a relist. `ClusterState` only
//! routes a kind to its store (`ClusterState::store`), so adding a kind is adding a store and
//! its line there.

use std::collections::HashSet;

use crate::error::CoreResult;
use crate::state::cluster::{ChangeOutcome, ClusterState};
use crate::state::object::LenientIdentity;

/// The keys (node names, pod uids, `namespace/name`) a relist saw.
pub(super) type Seen = HashSet<Box<str>>;

/// One kind's store in the cache.
pub(super) trait Store {
    /// What `decode` makes of one object: what `upsert` keeps or `delete` drops.
    type Object;

    /// Decodes one object from its wire bytes, filling `out`'s identity and any error with which
    /// the object is still kept (an invalid pod still counts on its node). When `deleted`, only
    /// what finds the kept object is needed. `Err`: nothing could be read; the object is skipped
    /// and the error reported.
    fn decode(bytes: &[u8], deleted: bool, out: &mut ChangeOutcome) -> CoreResult<Self::Object>;

    /// The key a relist remembers the object by (`end_relist` is handed the keys seen); None
    /// when the object has no name to remember.
    fn key(object: &Self::Object) -> Option<Box<str>>;

    /// Keeps an added or modified object; false when nothing scheduling reads changed (a node's
    /// heartbeat).
    fn upsert(state: &mut ClusterState, object: Self::Object) -> bool;

    fn delete(state: &mut ClusterState, object: Self::Object);

    /// The end of a relist: drops what it did not see; returns the uids of pending pods that
    /// vanished.
    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String>;
}

/// A `Store` as `ClusterState` calls it, whatever its `Object`.
pub(super) trait KindStore: Sync {
    fn apply(&self, state: &mut ClusterState, deleted: bool, bytes: &[u8], out: &mut ChangeOutcome);
    fn end_relist(&self, state: &mut ClusterState, seen: &Seen) -> Vec<String>;
}

impl<S: Store + Sync> KindStore for S {
    fn apply(
        &self,
        state: &mut ClusterState,
        deleted: bool,
        bytes: &[u8],
        out: &mut ChangeOutcome,
    ) {
        let object = match S::decode(bytes, deleted, out) {
            Ok(object) => object,
            Err(e) => {
                out.error = Some(e.to_string());
                return;
            }
        };
        let relisting = out.kind.and_then(|kind| state.relisting.get_mut(&kind));
        if let (Some(seen), Some(key)) = (relisting, S::key(&object)) {
            seen.insert(key);
        }
        if deleted {
            S::delete(state, object);
        } else {
            out.relevant = S::upsert(state, object);
        }
    }

    fn end_relist(&self, state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        S::end_relist(state, seen)
    }
}

/// The key of a namespaced object in a relist's `Seen`.
pub(super) fn namespaced_key(namespace: &str, name: &str) -> Box<str> {
    format!("{namespace}/{name}").into()
}

/// Fills `out`'s uid and resourceVersion for a kind whose record keeps neither.
pub(super) fn read_identity(bytes: &[u8], out: &mut ChangeOutcome) {
    if let Some(id) = LenientIdentity::read(bytes) {
        out.uid = id.uid;
        out.resource_version = id.resource_version;
    }
}
