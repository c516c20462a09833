//! Measuring rankings: the protocols (cold-start, warm, new-items, the
//! dataset's own split) and the seeded splits they draw, ranking metrics at
//! k and MRR, precomputed component scores so a weight change re-scores the
//! whole evaluation quickly, baselines, the report, and the weight/ridge
//! search on validation users.
//!
//! It knows nothing of the window or the command line.

mod adapt;
mod metrics;
mod report;
mod scores;
mod split;
mod tune;

pub use metrics::{AtK, METRICS, Metric, MetricSummary, UserMetrics, user_metrics};
pub use report::{
    AdaptedStatus, EvalError, EvalOptions, Evaluation, GraphStatus, KgStatus, MappingStatus,
    Method, NEW_ITEMS_SHARE, Report, ReportRow, SequenceStatus, WARM_HOLDOUT, evaluate,
};
pub use scores::{Cancelled, EvalScores, MemoryCap, Summary};
pub use split::{Candidates, HeldOut, Holdout, Negatives, Protocol, Shares, Split, SplitError};
pub use tune::{MIN_VALIDATION_USERS, TuneContext, TuneOptions, Tuned, Unreliable, tune};

/// The cut-offs every report uses (k = 1 is the hit rate at the top, HR@1).
pub const KS: [usize; 5] = [1, 3, 5, 10, 20];
