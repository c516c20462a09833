//! Exploring the shared space: the items of each domain nearest a vector
//! (a typed query's, or an item's own), an item's strongest links to
//! another domain's items through the users who have both ("users who had
//! this also had"), an item's card (both, for every domain, and the
//! knowledge graph's entities it shares with other items), and a box
//! selection on the 2-D projection with the clusters nearest it. All are
//! plain computations over a loaded dataset and its vectors; the command
//! line and the window present them.

use serde::Serialize;

use crate::data::Dataset;
use crate::embed::{Embeddings, dot};
use crate::pipeline::DatasetEmbeddings;
use crate::project::{Clusters, Projection};
use crate::rank::top_k;

/// One item of one domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ItemRef {
    /// The item's domain (index into `Dataset::domains`).
    pub domain: usize,
    /// The item (index in its domain).
    pub item: u32,
}

/// What is known about one item: its use, its nearest items in every
/// domain, and its links to every other domain.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemCard {
    /// The item.
    pub item: ItemRef,
    /// Interactions with it (every row of the interactions file).
    pub interactions: usize,
    /// Distinct users who had it.
    pub users: usize,
    /// Its nearest items per domain (itself left out), best first.
    pub neighbours: Vec<Vec<Neighbour>>,
    /// Its strongest links per domain through shared users (empty for its
    /// own domain).
    pub links: Vec<Vec<Link>>,
    /// The knowledge graph's entities it is linked to, each with the items
    /// of every domain that share it.
    pub entities: Vec<CardEntity>,
}

/// One entity on an item card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardEntity {
    /// As shown: `brand OXO`, `“cast iron”`.
    pub name: String,
    /// Its bare name (`OXO`, `cast iron`), as the projection's highlight
    /// finds it.
    pub label: String,
    /// Every item linked to it, in any domain (the card's item included).
    pub items: usize,
    /// The first [`CARD_ENTITY_ITEMS`] of the others, by domain then file
    /// order.
    pub shared_by: Vec<ItemRef>,
}

/// Items listed per entity on a card.
pub const CARD_ENTITY_ITEMS: usize = 100;

/// The card of `item` with `k` neighbours and links per domain; `None` when
/// the item is not in the dataset or has no vector.
pub fn card(
    dataset: &Dataset,
    embeddings: &DatasetEmbeddings,
    item: ItemRef,
    k: usize,
) -> Option<ItemCard> {
    let n_items = dataset.domains.get(item.domain)?.items.len();
    if item.item as usize >= n_items {
        return None;
    }
    let vectors = embeddings.domains.get(item.domain)?;
    if item.item as usize >= vectors.len() {
        return None;
    }
    let own = vectors.row(item.item as usize);
    let mut users: Vec<u32> = Vec::new();
    let mut interactions = 0;
    for i in &dataset.interactions {
        if i.domain as usize == item.domain && i.item == item.item {
            interactions += 1;
            users.push(i.user);
        }
    }
    users.sort_unstable();
    users.dedup();
    let knowledge = &embeddings.knowledge;
    let entities = knowledge
        .of_item(item.domain, item.item)
        .iter()
        .map(|&e| {
            let members = knowledge.members(e);
            CardEntity {
                name: knowledge.entity(e).to_string(),
                label: knowledge.entity(e).name.clone(),
                items: members.len(),
                shared_by: members
                    .iter()
                    .map(|&(domain, i)| ItemRef {
                        domain: domain as usize,
                        item: i,
                    })
                    .filter(|&r| r != item)
                    .take(CARD_ENTITY_ITEMS)
                    .collect(),
            }
        })
        .collect();
    let domains = 0..dataset.domains.len();
    Some(ItemCard {
        entities,
        item,
        interactions,
        users: users.len(),
        neighbours: domains
            .clone()
            .map(|d| {
                let skip = (d == item.domain).then_some(item.item);
                nearest(embeddings, d, own, k, skip)
            })
            .collect(),
        links: domains
            .map(|d| {
                if d == item.domain {
                    Vec::new()
                } else {
                    links(dataset, item.domain, item.item, d, k)
                }
            })
            .collect(),
    })
}

/// An item near a query.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Neighbour {
    /// The item's domain (index into `Dataset::domains`).
    pub domain: usize,
    /// The item (index in its domain).
    pub item: u32,
    /// Cosine between the query and the item.
    pub cosine: f32,
}

/// An item of another domain linked through shared users.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Link {
    /// The linked item's domain.
    pub domain: usize,
    /// The linked item (index in its domain).
    pub item: u32,
    /// Users who have both items.
    pub shared_users: u32,
    /// `shared / √(users of one · users of the other)`: the cosine of the
    /// two items' user sets, so a popular item does not link to everything.
    pub weight: f32,
}

/// The `k` items of `domain` nearest `query` (a unit vector), best first,
/// ties by item order; `skip` is left out (the item itself, for an item's
/// neighbours).
pub fn nearest(
    embeddings: &DatasetEmbeddings,
    domain: usize,
    query: &[f32],
    k: usize,
    skip: Option<u32>,
) -> Vec<Neighbour> {
    let Some(items) = embeddings.domains.get(domain) else {
        return Vec::new();
    };
    let scores: Vec<f32> = (0..items.len()).map(|j| dot(items.row(j), query)).collect();
    let skip: Vec<u32> = skip.into_iter().collect();
    top_k(&scores, k, &skip)
        .into_iter()
        .map(|item| Neighbour {
            domain,
            item,
            cosine: scores[item as usize],
        })
        .collect()
}

/// Rows of `domain` scored against all of `other` at once: a block of
/// query rows times the other domain's matrix, one matrix product.
const NEAREST_BLOCK: usize = 512;

/// For every item of `domain`, its `k` nearest items of `other` (itself
/// left out when the two are one domain), best first, ties by item order:
/// what [`nearest`] gives item by item, computed as blocked matrix
/// products (all cores) and 20–60× faster for a whole domain.
pub fn all_nearest(
    embeddings: &DatasetEmbeddings,
    domain: usize,
    other: usize,
    k: usize,
) -> Vec<Vec<Neighbour>> {
    use rayon::prelude::*;
    let (Some(a), Some(b)) = (
        embeddings.domains.get(domain),
        embeddings.domains.get(other),
    ) else {
        return Vec::new();
    };
    let dim = a.dim();
    let views = (
        ndarray::ArrayView2::from_shape((a.len(), dim), a.as_slice()),
        ndarray::ArrayView2::from_shape((b.len(), b.dim()), b.as_slice()),
    );
    let (Ok(queries), Ok(items)) = views else {
        return vec![Vec::new(); a.len()];
    };
    if b.dim() != dim {
        return vec![Vec::new(); a.len()];
    }
    let mut out = Vec::with_capacity(a.len());
    for start in (0..a.len()).step_by(NEAREST_BLOCK) {
        let end = (start + NEAREST_BLOCK).min(a.len());
        let scores = queries.slice(ndarray::s![start..end, ..]).dot(&items.t());
        let block: Vec<Vec<Neighbour>> = (start..end)
            .into_par_iter()
            .map(|i| {
                let view = scores.row(i - start);
                // The product is in standard layout, so its rows are slices.
                let row: std::borrow::Cow<'_, [f32]> = view
                    .as_slice()
                    .map_or_else(|| view.to_vec().into(), Into::into);
                let skip: Vec<u32> = (domain == other).then_some(i as u32).into_iter().collect();
                top_k(&row, k, &skip)
                    .into_iter()
                    .map(|item| Neighbour {
                        domain: other,
                        item,
                        cosine: row[item as usize],
                    })
                    .collect()
            })
            .collect();
        out.extend(block);
    }
    out
}

/// The `k` items of domain `other` most linked to `item` of `domain`
/// through users who have both, strongest first (ties by item order).
/// Items with no shared user are not links.
pub fn links(dataset: &Dataset, domain: usize, item: u32, other: usize, k: usize) -> Vec<Link> {
    let n_users = dataset.users.len();
    let mut has_item = vec![false; n_users];
    for i in &dataset.interactions {
        if i.domain as usize == domain && i.item == item {
            has_item[i.user as usize] = true;
        }
    }
    let item_users = has_item.iter().filter(|&&h| h).count();
    let n_other = dataset.domains.get(other).map_or(0, |d| d.items.len());
    if item_users == 0 || n_other == 0 || k == 0 {
        return Vec::new();
    }
    // Distinct (user, item) pairs of the other domain.
    let mut pairs: Vec<(u32, u32)> = dataset
        .interactions
        .iter()
        .filter(|i| i.domain as usize == other)
        .map(|i| (i.user, i.item))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut users_of = vec![0u32; n_other];
    let mut shared = vec![0u32; n_other];
    for &(u, j) in &pairs {
        users_of[j as usize] += 1;
        if has_item[u as usize] {
            shared[j as usize] += 1;
        }
    }
    let weight =
        |j: usize| shared[j] as f32 / ((item_users as f32) * users_of[j].max(1) as f32).sqrt();
    let scores: Vec<f32> = (0..n_other)
        .map(|j| {
            if shared[j] > 0 {
                weight(j)
            } else {
                f32::NEG_INFINITY
            }
        })
        .collect();
    top_k(&scores, k, &[])
        .into_iter()
        .filter(|&j| shared[j as usize] > 0)
        .map(|j| Link {
            domain: other,
            item: j,
            shared_users: shared[j as usize],
            weight: weight(j as usize),
        })
        .collect()
}

/// The items whose projected point lies in the box `min..=max` (any two
/// opposite corners), by domain then item.
pub fn in_box(projection: &Projection, a: [f64; 2], b: [f64; 2]) -> Vec<ItemRef> {
    let (lo, hi) = (
        [a[0].min(b[0]), a[1].min(b[1])],
        [a[0].max(b[0]), a[1].max(b[1])],
    );
    let inside = |p: &[f32; 2]| {
        let (x, y) = (f64::from(p[0]), f64::from(p[1]));
        x >= lo[0] && x <= hi[0] && y >= lo[1] && y <= hi[1]
    };
    projection
        .points
        .iter()
        .enumerate()
        .flat_map(|(domain, points)| {
            points
                .iter()
                .enumerate()
                .filter(move |(_, p)| inside(p))
                .map(move |(j, _)| ItemRef {
                    domain,
                    item: j as u32,
                })
        })
        .collect()
}

/// The `n` clusters of a domain nearest the mean vector of `items` (of
/// that domain), best first, with the cosine to each centroid; empty when
/// `items` is empty.
pub fn nearest_clusters(
    embeddings: &DatasetEmbeddings,
    domain: usize,
    clusters: &Clusters,
    items: &[u32],
    n: usize,
) -> Vec<(usize, f32)> {
    let Some(vectors) = embeddings.domains.get(domain) else {
        return Vec::new();
    };
    let mut mean = vec![0f32; vectors.dim()];
    let mut counted = 0;
    for &j in items.iter().filter(|&&j| (j as usize) < vectors.len()) {
        mean.iter_mut()
            .zip(vectors.row(j as usize))
            .for_each(|(m, v)| *m += v);
        counted += 1;
    }
    let Some(mean) = (counted > 0)
        .then_some(mean)
        .and_then(crate::embed::normalize)
    else {
        return Vec::new();
    };
    let scores: Vec<f32> = (0..clusters.centroids.len())
        .map(|c| dot(clusters.centroids.row(c), &mean))
        .collect();
    top_k(&scores, n, &[])
        .into_iter()
        .map(|c| (c as usize, scores[c as usize]))
        .collect()
}

/// The cosine of each `rows` item of `a` with each `cols` item of `b`,
/// row-major `[rows, cols]` (items past a matrix's end are 0).
pub fn similarity_grid(a: &Embeddings, rows: &[u32], b: &Embeddings, cols: &[u32]) -> Vec<f32> {
    let row = |m: &Embeddings, i: u32| (i as usize) < m.len();
    rows.iter()
        .flat_map(|&i| {
            cols.iter().map(move |&j| {
                if row(a, i) && row(b, j) {
                    dot(a.row(i as usize), b.row(j as usize))
                } else {
                    0.0
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn all_nearest_finds_what_nearest_finds_item_by_item() {
        use crate::embed::Embeddings;
        let mut state = 7u64;
        let mut unit_rows = |n: usize, dim: usize| {
            let mut data = Vec::with_capacity(n * dim);
            for _ in 0..n {
                let row: Vec<f32> = (0..dim)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                    })
                    .collect();
                let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                data.extend(row.iter().map(|x| x / norm));
            }
            Embeddings::new(dim, data)
        };
        let embeddings = DatasetEmbeddings {
            domains: vec![unit_rows(700, 16), unit_rows(300, 16)],
            user_texts: Embeddings::new(16, Vec::new()),
            summary: Vec::new(),
            knowledge: Default::default(),
        };
        for (d, o) in [(0, 0), (0, 1), (1, 0)] {
            let all = super::all_nearest(&embeddings, d, o, 5);
            assert_eq!(all.len(), embeddings.domains[d].len());
            for (i, found) in all.iter().enumerate() {
                let skip = (d == o).then_some(i as u32);
                let one = super::nearest(&embeddings, o, embeddings.domains[d].row(i), 5, skip);
                assert_eq!(found.len(), 5);
                assert!(found.iter().all(|n| Some(n.item) != skip && n.domain == o));
                // The same best cosines (the item order may differ only
                // between items whose cosines round differently).
                for (a, b) in found.iter().zip(&one) {
                    assert!((a.cosine - b.cosine).abs() < 1e-5, "item {i} of {d} in {o}");
                }
            }
        }
    }

    use super::*;
    use crate::embed::Embeddings;

    #[test]
    fn nearest_ranks_by_cosine_and_skips_the_item_itself() {
        let e = DatasetEmbeddings {
            domains: vec![Embeddings::new(
                2,
                vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8, 0.8, 0.6],
            )],
            user_texts: Embeddings::new(2, Vec::new()),
            summary: Vec::new(),
            knowledge: Default::default(),
        };
        let hits = nearest(&e, 0, &[1.0, 0.0], 3, None);
        let order: Vec<u32> = hits.iter().map(|h| h.item).collect();
        assert_eq!(order, vec![0, 3, 2]);
        assert!((hits[1].cosine - 0.8).abs() < 1e-6);
        let without = nearest(&e, 0, &[1.0, 0.0], 10, Some(0));
        assert_eq!(without.len(), 3);
        assert_eq!(without[0].item, 3);
        assert!(nearest(&e, 5, &[1.0, 0.0], 3, None).is_empty());
    }

    #[test]
    fn a_box_holds_the_points_inside_it_whichever_corners_are_given() {
        let projection = Projection {
            points: vec![
                vec![[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]],
                vec![[0.5, 0.5], [-1.0, 0.0]],
            ],
            explained: [0.5, 0.2],
        };
        let want = vec![
            ItemRef { domain: 0, item: 0 },
            ItemRef { domain: 0, item: 1 },
            ItemRef { domain: 1, item: 0 },
        ];
        assert_eq!(in_box(&projection, [0.0, 0.0], [1.0, 1.0]), want);
        assert_eq!(in_box(&projection, [1.0, 0.0], [0.0, 1.0]), want);
        assert!(in_box(&projection, [5.0, 5.0], [6.0, 6.0]).is_empty());
    }
}
