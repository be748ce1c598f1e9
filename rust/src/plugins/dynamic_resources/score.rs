//! Packing beyond kube-scheduler, for DRA devices: among feasible device sets the allocator
//! keeps the one that strands the fewest devices, and the Score extension point prefers nodes
//! it fills. Devices are grouped by PCIe root (`resource.kubernetes.io/pcieRoot`), the unit a
//! large aligned request needs whole.

use crate::intern::Sym;
use crate::state::dra::device::{AttrValue, QualifiedName};
use crate::state::dra::ledger::InUse;
use crate::state::dra::pools::{DevId, Inventory};

/// The attribute podium packs by: devices behind one PCIe root.
pub const PCIE_ROOT: &str = "resource.kubernetes.io/pcieRoot";

/// `PCIE_ROOT` as a name, interned once.
pub fn pcie_root() -> QualifiedName {
    static ROOT: std::sync::LazyLock<QualifiedName> =
        std::sync::LazyLock::new(|| QualifiedName::parse(PCIE_ROOT));
    *ROOT
}

/// (wholly free groups that `picked` breaks, free devices left in partly used groups), grouping
/// the node's devices by driver and the `attr` attribute; devices without it are not counted. Lower
/// is better on both, compared in that order.
pub fn root_measure(
    inv: &Inventory,
    in_use: &InUse,
    node_devs: &[DevId],
    attr: QualifiedName,
    picked: impl Fn(DevId) -> bool,
) -> (u32, u32) {
    // ((driver, value), devices, free before, free after): a driver's devices are measured
    // apart, so a free NIC does not count as a stranded GPU.
    let mut groups: Vec<((Sym, AttrValue), u32, u32, u32)> = Vec::new();
    for &dev in node_devs {
        let device = inv.device(dev);
        let Some(v) = device.attribute_named(attr) else {
            continue;
        };
        let v = (device.key.driver, v);
        let free = !in_use.dedicated(dev) && !in_use.shared(dev);
        let after = free && !picked(dev);
        match groups.iter_mut().find(|g| g.0 == v) {
            Some(g) => {
                g.1 += 1;
                g.2 += u32::from(free);
                g.3 += u32::from(after);
            }
            None => groups.push((v, 1, u32::from(free), u32::from(after))),
        }
    }
    let broken = groups.iter().filter(|g| g.2 == g.1 && g.3 < g.1).count() as u32;
    let stranded = groups.iter().filter(|g| g.3 < g.1).map(|g| g.3).sum();
    (broken, stranded)
}

/// 0..=100: how full the node's devices are after the allocation (three quarters: filling
/// used nodes first keeps whole nodes free), and how few devices it strands (one quarter).
pub fn node_score(
    in_use: &InUse,
    node_devs: &[DevId],
    picked: impl Fn(DevId) -> bool,
    stranded: u32,
) -> i64 {
    let total = node_devs.len() as i64;
    if total == 0 {
        return 0;
    }
    let used_after = node_devs
        .iter()
        .filter(|&&d| in_use.dedicated(d) || in_use.shared(d) || picked(d))
        .count() as i64;
    let kept = total - i64::from(stranded).min(total);
    (75 * used_after / total + 25 * kept / total).clamp(0, 100)
}
