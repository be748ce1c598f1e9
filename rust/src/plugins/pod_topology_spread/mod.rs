//! PodTopologySpread: `topologySpreadConstraints` with whenUnsatisfiable DoNotSchedule (filter)
//! and ScheduleAnyway (score), and the eligible domains and their counts computed once per
//! batch.

pub mod constraints;
pub mod counts;
pub mod domains;
pub mod filter;
pub mod score;
