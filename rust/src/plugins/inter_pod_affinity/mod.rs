//! InterPodAffinity: required pod affinity and anti-affinity (filter), preferred terms (score),
//! and the per-batch counts both keep of pods per topology domain.

pub mod filter;
pub mod score;
pub mod term_counts;
pub mod topology_pairs;
