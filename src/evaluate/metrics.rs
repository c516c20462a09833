//! Ranking metrics for one user, and their mean with a 95 % confidence
//! interval over users. Relevance is binary (the user interacted or not).

use serde::Serialize;

/// A metric reported at each k.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Hits in the top k / k.
    Precision,
    /// Hits in the top k / relevant items.
    Recall,
    /// Per user 2PR/(P+R) (0 when both are 0), then averaged over users.
    F1,
    /// DCG of the top k / the best possible DCG (binary gains, log2 discount).
    Ndcg,
    /// 1 if any relevant item is in the top k.
    HitRate,
}

/// Every metric, in report order.
pub const METRICS: [Metric; 5] = [
    Metric::Ndcg,
    Metric::Recall,
    Metric::HitRate,
    Metric::Precision,
    Metric::F1,
];

impl Metric {
    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Precision => "P",
            Metric::Recall => "Recall",
            Metric::F1 => "F1",
            Metric::Ndcg => "NDCG",
            Metric::HitRate => "HR",
        }
    }
}

/// One user's metrics at one k.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct UserMetrics {
    /// Precision@k.
    pub precision: f64,
    /// Recall@k.
    pub recall: f64,
    /// F1@k (per user).
    pub f1: f64,
    /// NDCG@k.
    pub ndcg: f64,
    /// Hit rate@k.
    pub hit_rate: f64,
}

impl UserMetrics {
    /// The value of `metric`.
    pub fn get(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Precision => self.precision,
            Metric::Recall => self.recall,
            Metric::F1 => self.f1,
            Metric::Ndcg => self.ndcg,
            Metric::HitRate => self.hit_rate,
        }
    }
}

/// Metrics of `ranked` (best first) against `relevant` (sorted) at `k`.
/// A user with no relevant items scores 0 on everything.
pub fn user_metrics(ranked: &[u32], relevant: &[u32], k: usize) -> UserMetrics {
    if relevant.is_empty() || k == 0 {
        return UserMetrics::default();
    }
    let mut hits = 0usize;
    let mut dcg = 0f64;
    for (rank, item) in ranked.iter().take(k).enumerate() {
        if relevant.binary_search(item).is_ok() {
            hits += 1;
            dcg += 1.0 / ((rank + 2) as f64).log2();
        }
    }
    let ideal: f64 = (0..relevant.len().min(k))
        .map(|rank| 1.0 / ((rank + 2) as f64).log2())
        .sum();
    let precision = hits as f64 / k as f64;
    let recall = hits as f64 / relevant.len() as f64;
    let f1 = if hits == 0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    UserMetrics {
        precision,
        recall,
        f1,
        ndcg: dcg / ideal,
        hit_rate: if hits > 0 { 1.0 } else { 0.0 },
    }
}

/// A mean over users with its 95 % confidence interval half-width
/// (normal approximation, 1.96 standard errors).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct MetricSummary {
    /// The mean.
    pub mean: f64,
    /// Half-width of the 95 % confidence interval (`None` with fewer than
    /// two users, where it is undefined).
    pub ci95: Option<f64>,
}

impl std::fmt::Display for MetricSummary {
    /// `mean ± half-width`, four decimals (`± n/a` for a single user).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ci95 {
            Some(ci) => write!(f, "{:.4} ± {:.4}", self.mean, ci),
            None => write!(f, "{:.4} ± n/a", self.mean),
        }
    }
}

impl MetricSummary {
    /// Summarises per-user values.
    pub fn of(values: impl Iterator<Item = f64> + Clone) -> MetricSummary {
        let n = values.clone().count();
        if n == 0 {
            return MetricSummary::default();
        }
        let mean = values.clone().sum::<f64>() / n as f64;
        if n < 2 {
            return MetricSummary { mean, ci95: None };
        }
        let var = values.map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        MetricSummary {
            mean,
            ci95: Some(1.96 * (var / n as f64).sqrt()),
        }
    }
}

/// Every metric's mean at one cut-off k.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct AtK {
    /// The cut-off.
    pub k: usize,
    /// NDCG@k.
    pub ndcg: MetricSummary,
    /// Recall@k.
    pub recall: MetricSummary,
    /// Hit rate@k.
    pub hit_rate: MetricSummary,
    /// Precision@k.
    pub precision: MetricSummary,
    /// F1@k, per user then averaged.
    pub f1: MetricSummary,
}

impl AtK {
    /// Summarises `per_user[u][i]`, the metrics of user u at `ks[i]`.
    pub fn summarise(per_user: &[Vec<UserMetrics>], ks: &[usize]) -> Vec<AtK> {
        ks.iter()
            .enumerate()
            .map(|(i, &k)| {
                let of = |m: Metric| MetricSummary::of(per_user.iter().map(move |u| u[i].get(m)));
                AtK {
                    k,
                    ndcg: of(Metric::Ndcg),
                    recall: of(Metric::Recall),
                    hit_rate: of(Metric::HitRate),
                    precision: of(Metric::Precision),
                    f1: of(Metric::F1),
                }
            })
            .collect()
    }

    /// The summary of `metric`.
    pub fn get(&self, metric: Metric) -> MetricSummary {
        match metric {
            Metric::Precision => self.precision,
            Metric::Recall => self.recall,
            Metric::F1 => self.f1,
            Metric::Ndcg => self.ndcg,
            Metric::HitRate => self.hit_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_computed_metrics_at_k() {
        // Ranked 10, 20, 30, 40, 50; relevant {20, 50, 99}.
        let m = user_metrics(&[10, 20, 30, 40, 50], &[20, 50, 99], 5);
        assert!(close(m.precision, 2.0 / 5.0));
        assert!(close(m.recall, 2.0 / 3.0));
        assert!(close(m.f1, 2.0 * 0.4 * (2.0 / 3.0) / (0.4 + 2.0 / 3.0)));
        let dcg = 1.0 / 3f64.log2() + 1.0 / 6f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!(close(m.ndcg, dcg / idcg));
        assert!(close(m.hit_rate, 1.0));
        // At k = 1 nothing is hit.
        let m1 = user_metrics(&[10, 20, 30, 40, 50], &[20, 50, 99], 1);
        assert_eq!(m1, UserMetrics::default());
    }

    #[test]
    fn fewer_relevant_items_than_k_can_still_reach_ndcg_one() {
        let m = user_metrics(&[7, 3, 1, 2, 4], &[3, 7], 5);
        assert!(close(m.ndcg, 1.0), "both relevant items on top: {m:?}");
        assert!(close(m.recall, 1.0));
        assert!(close(m.precision, 2.0 / 5.0));
    }

    #[test]
    fn a_user_with_no_relevant_items_scores_zero() {
        assert_eq!(user_metrics(&[1, 2, 3], &[], 3), UserMetrics::default());
    }

    #[test]
    fn summaries_have_a_95_percent_interval() {
        let s = MetricSummary::of([0.0, 1.0, 0.0, 1.0].into_iter());
        assert!(close(s.mean, 0.5));
        let sd = (1.0f64 / 3.0).sqrt();
        assert!(close(s.ci95.unwrap(), 1.96 * sd / 2.0));
        assert_eq!(
            MetricSummary::of([0.3].into_iter()).ci95,
            None,
            "one user: undefined"
        );
        assert_eq!(
            MetricSummary::of(std::iter::empty()),
            MetricSummary::default()
        );
    }
}
