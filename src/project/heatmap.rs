//! The domain-to-domain overview heatmap's numbers: the cosine between
//! every cluster centroid of a source domain and of a target domain, rows
//! in the order of the source clusters along the projection's first axis
//! and each target cluster placed next to the source cluster it is most
//! like, so matching clusters form a diagonal.

use super::{Clusters, Projection};
use crate::embed::dot;

/// The cluster overview of one (source, target) pair.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterMap {
    /// The source domain.
    pub source: usize,
    /// The target domain.
    pub target: usize,
    /// Source clusters, in row order.
    pub rows: Vec<usize>,
    /// Target clusters, in column order.
    pub cols: Vec<usize>,
    /// Cosines, row-major `[rows, cols]`.
    pub values: Vec<f32>,
}

/// The clusters of domain `d` in the order of their representatives along
/// the projection's first axis.
fn along_axis(clusters: &Clusters, projection: &Projection, d: usize) -> Vec<usize> {
    let x = |k: usize| {
        projection
            .points
            .get(d)
            .and_then(|p| p.get(clusters.representative[k] as usize))
            .map_or(0.0, |p| p[0])
    };
    let mut order: Vec<usize> = (0..clusters.sizes.len()).collect();
    order.sort_by(|&a, &b| x(a).total_cmp(&x(b)).then(a.cmp(&b)));
    order
}

/// The overview of `source` × `target` from their clusters.
pub fn cluster_map(
    projection: &Projection,
    clusters: &[Clusters],
    source: usize,
    target: usize,
) -> Option<ClusterMap> {
    let (cs, ct) = (clusters.get(source)?, clusters.get(target)?);
    let rows = along_axis(cs, projection, source);
    let sim = |a: usize, b: usize| dot(cs.centroids.row(a), ct.centroids.row(b));
    let best_row = |b: usize| {
        (0..rows.len())
            .max_by(|&x, &y| sim(rows[x], b).total_cmp(&sim(rows[y], b)).then(y.cmp(&x)))
            .unwrap_or(0)
    };
    let target_axis = along_axis(ct, projection, target);
    let axis_rank = |b: usize| target_axis.iter().position(|&k| k == b);
    let mut cols: Vec<usize> = (0..ct.sizes.len()).collect();
    cols.sort_by_key(|&b| (best_row(b), axis_rank(b)));
    let values = rows
        .iter()
        .flat_map(|&a| cols.iter().map(move |&b| sim(a, b)))
        .collect();
    Some(ClusterMap {
        source,
        target,
        rows,
        cols,
        values,
    })
}

/// The overview of every ordered pair of different domains.
pub fn cluster_maps(projection: &Projection, clusters: &[Clusters]) -> Vec<ClusterMap> {
    let n = clusters.len();
    (0..n)
        .flat_map(|s| (0..n).filter(move |&t| t != s).map(move |t| (s, t)))
        .filter_map(|(s, t)| cluster_map(projection, clusters, s, t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::Embeddings;

    fn clusters(centroids: Vec<f32>, representative: Vec<u32>) -> Clusters {
        let k = representative.len();
        Clusters {
            centroids: Embeddings::new(2, centroids),
            representative,
            sizes: vec![1; k],
        }
    }

    #[test]
    fn matching_clusters_form_a_diagonal() {
        // Source clusters at x = 1, 0 (so row order 1, 0); the target's
        // cluster 0 matches source 0, cluster 1 matches source 1.
        let source = clusters(vec![1.0, 0.0, 0.0, 1.0], vec![1, 0]);
        let target = clusters(vec![0.0, 1.0, 1.0, 0.0], vec![0, 1]);
        let projection = Projection {
            points: vec![vec![[0.0, 0.0], [1.0, 0.0]], vec![[0.0, 0.0], [1.0, 0.0]]],
            explained: [0.5, 0.5],
        };
        let map = cluster_map(&projection, &[source, target], 0, 1).unwrap();
        assert_eq!(map.rows, vec![1, 0], "rows along the first axis");
        assert_eq!(map.cols, vec![0, 1], "each column beside its best row");
        assert_eq!(
            map.values,
            vec![1.0, 0.0, 0.0, 1.0],
            "a diagonal of matches"
        );
        let both = [map.source, map.target];
        assert_eq!(both, [0, 1]);
    }
}
