//! Measuring rankings: the cold-start split of DESIGN.md (a seeded share of
//! the users present in both domains become test users whose target
//! interactions are hidden from every fitted part; a further share of the
//! rest is the validation set), ranking metrics at k, precomputed component
//! scores so a weight change re-scores the whole evaluation quickly,
//! baselines, the report, and the weight/ridge search on validation users.
//!
//! It knows nothing of the window or the command line.

mod metrics;
mod report;
mod scores;
mod split;
mod tune;

pub use metrics::{AtK, METRICS, Metric, MetricSummary, UserMetrics, user_metrics};
pub use report::{
    EvalError, EvalOptions, Evaluation, GraphStatus, MappingStatus, Report, ReportRow, evaluate,
};
pub use scores::{Cancelled, EvalScores, MemoryCap};
pub use split::Split;
pub use tune::{TuneOptions, Tuned, tune};

/// The cut-offs every report uses.
pub const KS: [usize; 3] = [5, 10, 20];
