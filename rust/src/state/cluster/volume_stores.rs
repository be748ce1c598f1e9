//! The stores of PersistentVolumes, PersistentVolumeClaims and StorageClasses (`Volumes`).
//! A malformed PV is kept with its error (never matched), a malformed claim too (its pods fail
//! with the error).

use crate::error::CoreResult;
use crate::intern::resolve;
use crate::state::cluster::{ChangeOutcome, ClusterState};
use crate::state::volumes::{ClassRecord, PvRecord, PvcRecord, parse_class, parse_pv, parse_pvc};

use super::store::{Seen, Store, namespaced_key, read_identity};

pub(super) struct PvStore;

impl Store for PvStore {
    type Object = PvRecord;

    fn decode(bytes: &[u8], _deleted: bool, out: &mut ChangeOutcome) -> CoreResult<PvRecord> {
        let pv = parse_pv(bytes)?;
        out.name = resolve(pv.name).to_owned();
        out.error = pv.error.as_deref().map(str::to_owned);
        read_identity(bytes, out);
        Ok(pv)
    }

    fn key(pv: &PvRecord) -> Option<Box<str>> {
        Some(resolve(pv.name).into())
    }

    fn upsert(state: &mut ClusterState, pv: PvRecord) -> bool {
        state.volumes.upsert_pv(pv);
        state.generation += 1;
        true
    }

    fn delete(state: &mut ClusterState, pv: PvRecord) {
        state.volumes.delete_pv(pv.name);
        state.generation += 1;
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        state.volumes.retain_pvs(|k| seen.contains(k));
        state.generation += 1;
        Vec::new()
    }
}

pub(super) struct PvcStore;

impl Store for PvcStore {
    type Object = PvcRecord;

    fn decode(bytes: &[u8], _deleted: bool, out: &mut ChangeOutcome) -> CoreResult<PvcRecord> {
        let pvc = parse_pvc(bytes)?;
        out.namespace = resolve(pvc.namespace).to_owned();
        out.name = resolve(pvc.name).to_owned();
        out.error = pvc.error.as_deref().map(str::to_owned);
        read_identity(bytes, out);
        Ok(pvc)
    }

    fn key(pvc: &PvcRecord) -> Option<Box<str>> {
        Some(namespaced_key(resolve(pvc.namespace), resolve(pvc.name)))
    }

    fn upsert(state: &mut ClusterState, pvc: PvcRecord) -> bool {
        state.volumes.upsert_pvc(pvc);
        state.generation += 1;
        true
    }

    fn delete(state: &mut ClusterState, pvc: PvcRecord) {
        state.volumes.delete_pvc(pvc.key());
        state.generation += 1;
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        state.volumes.retain_pvcs(|k| seen.contains(k));
        state.generation += 1;
        Vec::new()
    }
}

pub(super) struct StorageClassStore;

impl Store for StorageClassStore {
    type Object = ClassRecord;

    fn decode(bytes: &[u8], _deleted: bool, out: &mut ChangeOutcome) -> CoreResult<ClassRecord> {
        let class = parse_class(bytes)?;
        out.name = resolve(class.name).to_owned();
        read_identity(bytes, out);
        Ok(class)
    }

    fn key(class: &ClassRecord) -> Option<Box<str>> {
        Some(resolve(class.name).into())
    }

    fn upsert(state: &mut ClusterState, class: ClassRecord) -> bool {
        state.volumes.upsert_class(class);
        state.generation += 1;
        true
    }

    fn delete(state: &mut ClusterState, class: ClassRecord) {
        state.volumes.delete_class(class.name);
        state.generation += 1;
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        state.volumes.retain_classes(|k| seen.contains(k));
        state.generation += 1;
        Vec::new()
    }
}
