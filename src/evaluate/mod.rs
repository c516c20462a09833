//! Measuring rankings: the protocols (cold-start, warm, new-items, the
//! dataset's own split) and the seeded splits they draw, ranking metrics at
//! k and MRR, precomputed component scores so a weight change re-scores the
//! whole evaluation quickly, baselines, the report, and the weight/ridge
//! search on validation users; breakdowns by segment; comparing two
//! rankings on the same users.
//!
//! It knows nothing of the window or the command line.

mod adapt;
mod compare;
mod metrics;
mod report;
mod scores;
mod segments;
mod split;
mod tune;

pub use compare::{
    CompareError, Comparison, MOVERS_K, Measure, Paired, RankMove, Side, UserChange, compare,
    measures,
};
pub use metrics::{AtK, METRICS, Metric, MetricSummary, UserMetrics, user_metrics};
pub use report::{
    AdaptedStatus, EvalError, EvalOptions, Evaluation, GraphStatus, KgStatus, MappingStatus,
    Method, MethodOutcomes, NEW_ITEMS_SHARE, Report, ReportRow, SequenceStatus, TrainingRun,
    WARM_HOLDOUT, evaluate,
};
pub use scores::{Cancelled, EvalScores, MemoryCap, Summary, TargetRank, UserOutcome};
pub use segments::{
    BREAKDOWNS, Breakdown, Coverage, Length, Popularity, Segment, SegmentAtK, SegmentRow,
    SegmentScores, SegmentTable, Unit, UserSegments,
};
pub use split::{Candidates, HeldOut, Holdout, Negatives, Protocol, Shares, Split, SplitError};
pub use tune::{Declined, MIN_VALIDATION_USERS, TuneContext, TuneOptions, Tuned, Unreliable, tune};

/// The cut-offs every report uses (k = 1 is the hit rate at the top, HR@1).
pub const KS: [usize; 5] = [1, 3, 5, 10, 20];
