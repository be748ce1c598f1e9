//! NodeAffinity: `nodeSelector` and required node affinity (filter), preferred terms (score).

pub mod filter;
pub mod score;
