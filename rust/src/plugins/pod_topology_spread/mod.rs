//! PodTopologySpread: `topologySpreadConstraints` with whenUnsatisfiable DoNotSchedule (filter)
//! and ScheduleAnyway (score), and the eligible domains computed once per batch.

pub mod constraints;
pub mod domains;
pub mod filter;
pub mod score;
