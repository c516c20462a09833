//! The co-interaction graph: S item i and T item j are linked by the users
//! who interacted with both (a user–item graph, two hops). Each link is
//! normalised by the square root of both items' degrees among those users,
//! so popular items do not swamp it. Stored sparse, per S item.

use super::History;

/// Why no graph could be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum GraphError {
    /// No user links the two domains.
    #[error("no user has visible interactions in both domains")]
    NoSharedUsers,
}

/// Sparse, degree-normalised links from S items to T items.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CoGraph {
    links: Vec<Vec<(u32, f32)>>,
    /// Users who contributed links.
    pub users: usize,
    /// Number of (S item, T item) links.
    pub edges: usize,
}

impl CoGraph {
    /// Whether a stored graph links `n_source` items to `n_target` items.
    pub fn fits(&self, n_source: usize, n_target: usize) -> bool {
        self.links.len() == n_source
            && self
                .links
                .iter()
                .flatten()
                .all(|&(j, w)| (j as usize) < n_target && w.is_finite())
    }

    /// Builds the graph from the visible histories of every user.
    pub fn fit(
        source: &[History],
        target: &[History],
        n_source: usize,
    ) -> Result<CoGraph, GraphError> {
        let mut counts: Vec<std::collections::HashMap<u32, f32>> =
            vec![Default::default(); n_source];
        let mut degree_s = vec![0f32; n_source];
        let mut degree_t = std::collections::HashMap::<u32, f32>::new();
        let mut users = 0;
        for (s_items, t_items) in source.iter().zip(target) {
            if s_items.is_empty() || t_items.is_empty() {
                continue;
            }
            users += 1;
            for &(i, _) in s_items {
                degree_s[i as usize] += 1.0;
                let row = &mut counts[i as usize];
                for &(j, _) in t_items {
                    *row.entry(j).or_insert(0.0) += 1.0;
                }
            }
            for &(j, _) in t_items {
                *degree_t.entry(j).or_insert(0.0) += 1.0;
            }
        }
        if users == 0 {
            return Err(GraphError::NoSharedUsers);
        }
        let mut edges = 0;
        let links = counts
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let mut row: Vec<(u32, f32)> = row
                    .into_iter()
                    .map(|(j, c)| (j, c / (degree_s[i] * degree_t[&j]).sqrt()))
                    .collect();
                row.sort_unstable_by_key(|&(j, _)| j);
                edges += row.len();
                row
            })
            .collect();
        Ok(CoGraph {
            links,
            users,
            edges,
        })
    }

    /// The T items linked to S item `i`, sorted by item, with their weights.
    pub fn links(&self, i: u32) -> &[(u32, f32)] {
        self.links.get(i as usize).map_or(&[], Vec::as_slice)
    }

    /// The weight of the link i → j (0 when absent).
    pub fn weight(&self, i: u32, j: u32) -> f32 {
        let row = self.links(i);
        row.binary_search_by_key(&j, |&(t, _)| t)
            .map_or(0.0, |k| row[k].1)
    }

    /// u's graph score for every linked T item: the history-weighted mean of
    /// the link weights from u's S items, scaled so u's best item has 1.
    pub fn scores(&self, history: &[(u32, f32)]) -> Vec<(u32, f32)> {
        let total: f32 = history.iter().map(|&(_, w)| w).sum();
        if total <= 0.0 {
            return Vec::new();
        }
        // The rows are sorted by T item: merge them (a heap over the rows'
        // heads) and sum each item's contributions as it comes.
        let rows: Vec<(&[(u32, f32)], f32)> = history
            .iter()
            .map(|&(i, w)| (self.links(i), w / total))
            .filter(|(row, _)| !row.is_empty())
            .collect();
        let mut heads: std::collections::BinaryHeap<std::cmp::Reverse<(u32, usize, usize)>> = rows
            .iter()
            .enumerate()
            .map(|(r, (row, _))| std::cmp::Reverse((row[0].0, r, 0)))
            .collect();
        let mut scores: Vec<(u32, f32)> = Vec::new();
        while let Some(std::cmp::Reverse((j, r, k))) = heads.pop() {
            let (row, w) = rows[r];
            let add = w * row[k].1;
            match scores.last_mut() {
                Some((last, s)) if *last == j => *s += add,
                _ => scores.push((j, add)),
            }
            if let Some(&(next, _)) = row.get(k + 1) {
                heads.push(std::cmp::Reverse((next, r, k + 1)));
            }
        }
        let max = scores.iter().map(|&(_, s)| s).fold(0.0, f32::max);
        if max > 0.0 {
            scores.iter_mut().for_each(|(_, s)| *s /= max);
        } else {
            scores.iter_mut().for_each(|(_, s)| *s = 0.0);
        }
        scores
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_made_graph_gives_hand_computed_scores() {
        // Users: a has S{0,1} T{0}; b has S{0} T{0,1}; c has S{2} only (no link).
        let source = vec![vec![(0, 1.0), (1, 1.0)], vec![(0, 1.0)], vec![(2, 1.0)]];
        let target = vec![vec![(0, 1.0)], vec![(0, 1.0), (1, 1.0)], vec![]];
        let g = CoGraph::fit(&source, &target, 3).unwrap();
        assert_eq!((g.users, g.edges), (2, 3));
        // deg_S: 0→2, 1→1; deg_T: 0→2, 1→1. Counts: (0,0)=2, (0,1)=1, (1,0)=1.
        assert!((g.weight(0, 0) - 2.0 / (2.0f32 * 2.0).sqrt()).abs() < 1e-6);
        assert!((g.weight(0, 1) - 1.0 / 2.0f32.sqrt()).abs() < 1e-6);
        assert!((g.weight(1, 0) - 1.0 / 2.0f32.sqrt()).abs() < 1e-6);
        assert_eq!(g.weight(2, 0), 0.0);
        // A user with S{0, 1}: T0 = (1 + 0.7071)/2, T1 = 0.7071/2, scaled by the max.
        let scores = g.scores(&[(0, 1.0), (1, 1.0)]);
        let t0 = (1.0 + 1.0 / 2.0f32.sqrt()) / 2.0;
        let t1 = (1.0 / 2.0f32.sqrt()) / 2.0;
        assert_eq!(scores.len(), 2);
        assert!((scores[0].1 - 1.0).abs() < 1e-6);
        assert!((scores[1].1 - t1 / t0).abs() < 1e-6);
    }

    #[test]
    fn no_shared_user_means_no_graph() {
        let err = CoGraph::fit(&[vec![(0, 1.0)]], &[vec![]], 1).unwrap_err();
        assert_eq!(err, GraphError::NoSharedUsers);
    }
}
