//! ImageLocality: prefer nodes that already hold the pod's container images, weighted by the
//! images' sizes and by how widely each image is spread (an image on every node says little
//! about this one; that keeps pods from piling onto the few nodes with a rare big image).
//!
//! As kube: each container's image found on the node adds `size × nodes with it / all nodes`;
//! the sum is clamped to `23Mi ..= 1000Mi × containers` and scaled linearly to 0..=100. No
//! normalization step.

use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::plugin::{MAX_NODE_SCORE, Plugin, PodContext, PreScore, Prepared, Score};
use crate::intern::Sym;
use crate::state::node::NodeRecord;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

pub const NAME: &str = "ImageLocality";

const MB: i64 = 1024 * 1024;
/// Below this, a node's images are not worth a point.
const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container: more than this does not score higher.
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

pub struct ImageLocality;

/// Per pod image: on how many of the snapshot's nodes it is, and out of how many.
struct Spread {
    nodes_with: Vec<(Sym, usize)>,
    total: usize,
}

fn image_size(node: &NodeRecord, image: Sym) -> Option<i64> {
    node.images.size(image)
}

/// kube's `calculatePriority`.
fn priority(sum: i64, containers: usize) -> i64 {
    let max = MAX_CONTAINER_THRESHOLD.saturating_mul(i64::try_from(containers).unwrap_or(i64::MAX));
    if max <= MIN_THRESHOLD {
        return 0;
    }
    let sum = sum.clamp(MIN_THRESHOLD, max);
    MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD)
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreScore for ImageLocality {
    fn pre_score(
        &self,
        ctx: &PodContext<'_>,
        _feasible: &[&NodeInfo],
        _filters: FilterStates<'_>,
    ) -> Prepared {
        if ctx.pod.images.is_empty() {
            return Prepared::Skip;
        }
        let mut nodes_with: Vec<(Sym, usize)> = ctx.pod.images.iter().map(|&i| (i, 0)).collect();
        nodes_with.sort_unstable_by_key(|&(i, _)| i);
        nodes_with.dedup_by_key(|&mut (i, _)| i);
        if let Some(index) = ctx.index {
            for (image, count) in &mut nodes_with {
                *count = index.pods.nodes_with_image(*image);
            }
            return Prepared::Run(Some(Box::new(Spread {
                nodes_with,
                total: index.nodes,
            })));
        }
        let mut total = 0;
        // Spread is over every node of the snapshot, not only the feasible ones, as kube.
        for node in ctx.nodes.iter().filter_map(|n| n.node.as_deref()) {
            total += 1;
            for (image, count) in &mut nodes_with {
                if image_size(node, *image).is_some() {
                    *count += 1;
                }
            }
        }
        Prepared::Run(Some(Box::new(Spread { nodes_with, total })))
    }
}

impl Score for ImageLocality {
    fn normalizes(&self) -> bool {
        false
    }

    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn score(&self, state: Option<&PluginState>, pod: &PodRecord, info: &NodeInfo) -> i64 {
        let (Some(spread), Some(node)) = (
            state.and_then(|s| s.downcast_ref::<Spread>()),
            info.node.as_deref(),
        ) else {
            return 0;
        };
        if spread.total == 0 {
            return 0;
        }
        let mut sum: i64 = 0;
        for &image in pod.images.iter() {
            let Some(size) = image_size(node, image) else {
                continue;
            };
            let with = spread
                .nodes_with
                .binary_search_by_key(&image, |&(i, _)| i)
                .map_or(0, |k| spread.nodes_with[k].1);
            // kube scales in floating point and truncates.
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            let scaled = (size as f64 * with as f64 / spread.total as f64) as i64;
            sum = sum.saturating_add(scaled);
        }
        priority(sum, pod.images.len())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::intern::sym;
    use crate::state::namespaces::Namespaces;
    use crate::state::node_images::normalized_image_name;
    use crate::testutil::{context, node, pod};

    fn with_images(name: &str, images: &[(&str, i64)]) -> Arc<NodeInfo> {
        let mut n = node(name, 1000, 1 << 30);
        let mut list: Vec<(Sym, i64)> = images.iter().map(|&(i, s)| (sym(i), s)).collect();
        list.sort_unstable_by_key(|&(i, _)| i);
        n.record.images = crate::state::node_images::NodeImages::new(list);
        Arc::new(n.build())
    }

    fn scores(nodes: &[Arc<NodeInfo>], images: &[&str]) -> Vec<i64> {
        let mut p = pod("p");
        p.images = images
            .iter()
            .map(|i| sym(&normalized_image_name(i)))
            .collect();
        let ns = Namespaces::default();
        let ctx = context(&p, nodes, &ns);
        let state = match ImageLocality.pre_score(&ctx, &[], FilterStates::none()) {
            Prepared::Run(s) => s,
            Prepared::Skip => return vec![0; nodes.len()],
            Prepared::Reject(_) => panic!("no reject"),
        };
        nodes
            .iter()
            .map(|n| ImageLocality.score(state.as_ref(), &p, n))
            .collect()
    }

    #[test]
    fn names_are_normalized_like_kube() {
        assert_eq!(normalized_image_name("nginx"), "nginx:latest");
        assert_eq!(normalized_image_name("nginx:1.25"), "nginx:1.25");
        assert_eq!(
            normalized_image_name("registry:5000/team/app"),
            "registry:5000/team/app:latest"
        );
        assert_eq!(
            normalized_image_name("registry:5000/app:v1"),
            "registry:5000/app:v1"
        );
    }

    #[test]
    fn big_image_on_half_the_nodes() {
        // 2000Mi on 1 of 2 nodes: scaled 1000Mi, one container: max 1000Mi -> 100.
        let nodes = [
            with_images("a", &[("big:latest", 2000 * MB)]),
            with_images("b", &[]),
        ];
        assert_eq!(scores(&nodes, &["big"]), vec![100, 0]);
    }

    #[test]
    fn spread_lowers_the_score_and_small_images_count_nothing() {
        // 500Mi on 1 of 4 nodes: 125Mi -> 100 * (125-23) / (1000-23) = 10.
        let nodes = [
            with_images("a", &[("app:v1", 500 * MB), ("tiny:latest", 10 * MB)]),
            with_images("b", &[("tiny:latest", 10 * MB)]),
            with_images("c", &[]),
            with_images("d", &[]),
        ];
        assert_eq!(scores(&nodes, &["app:v1"]), vec![10, 0, 0, 0]);
        assert_eq!(scores(&nodes, &["tiny"]), vec![0, 0, 0, 0]);
        // Two containers double the ceiling: 125Mi + 5Mi over 2000Mi.
        assert_eq!(
            scores(&nodes, &["app:v1", "tiny"]),
            vec![
                100 * (130 * MB - MIN_THRESHOLD) / (2000 * MB - MIN_THRESHOLD),
                0,
                0,
                0
            ]
        );
    }

    #[test]
    fn pods_without_images_and_empty_clusters() {
        let nodes = [with_images("a", &[("x:latest", 900 * MB)])];
        assert_eq!(scores(&nodes, &[]), vec![0]);
        assert_eq!(scores(&[], &["x"]), Vec::<i64>::new());
        assert_eq!(priority(0, 0), 0);
    }
}
