//! `score = Σ weight · component`, written once. A [`Scorer`] holds one
//! user's weighted terms in [`COMPONENTS`] order and adds them in that
//! order, each dense value one [`dot`] of the user's query and the item's
//! vector. The evaluation's precomputed scores ([`crate::evaluate`]) store
//! the same `dot`s and add them with [`add_term`] in the same order, so a
//! held-out user's scores are bit for bit those `recommend` computes.
//!
//! Adding a component: a [`Component`] variant, its query or values in
//! [`UserQuery`] (or [`Relations`]) and its arm in [`Scorer::new`] — the
//! sum, the top k, the breakdown and the evaluation follow.

use rayon::prelude::*;

use super::{COMPONENTS, Component, UserQuery, Weights};
use crate::embed::{Embeddings, dot};
use crate::relate::Relations;

/// Items per parallel block of a scan.
pub(super) const BLOCK: usize = 2048;

/// Which item vectors a dense component's query scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Space {
    /// The target items' text vectors (`content`, `mapped`, `history`).
    Text,
    /// The target items' text vectors, each dot product scaled by the item's
    /// `1 / |V t|` (the transfer model's query is folded into the text
    /// space).
    Adapted,
    /// The sequence model's own item table (the compact scan reads a
    /// 4-bit copy of it when its cache holds one).
    Sequence,
}

impl Space {
    /// The space of a dense component.
    fn of(component: Component) -> Space {
        match component {
            Component::Adapted => Space::Adapted,
            Component::Sequence => Space::Sequence,
            _ => Space::Text,
        }
    }
}

/// The item vectors a dense component's query is scored against, and the
/// per-item factor of its value when it has one.
#[derive(Debug, Clone, Copy)]
pub struct DenseItems<'a> {
    /// One vector per target item.
    pub vectors: &'a Embeddings,
    /// Per target item, the factor of its dot product (the transfer
    /// model's `1 / |V t|`).
    pub scale: Option<&'a [f32]>,
}

impl DenseItems<'_> {
    /// The component's value of item `j` for `query`: the one formula every
    /// scan and the evaluation's stored scores use.
    #[inline]
    pub fn value(&self, query: &[f32], j: usize) -> f32 {
        let d = dot(query, self.vectors.row(j));
        match self.scale {
            Some(scale) => d * scale[j],
            None => d,
        }
    }
}

/// The items a dense `component`'s query is scored against: the target
/// domain's text vectors `target` (scaled per item for the transfer model),
/// or the sequence model's own table of the target items (`None` when that
/// model is not trained).
pub fn dense_items<'a>(
    component: Component,
    target: &'a Embeddings,
    relations: &'a Relations,
) -> Option<DenseItems<'a>> {
    let vectors = |vectors| DenseItems {
        vectors,
        scale: None,
    };
    match Space::of(component) {
        Space::Text => Some(vectors(target)),
        Space::Adapted => relations.adapted.as_ref().ok().map(|a| DenseItems {
            vectors: target,
            scale: Some(a.inv_norms()),
        }),
        Space::Sequence => relations.sequence.as_ref().ok().map(|m| vectors(m.items())),
    }
}

/// One weighted component of one user's score.
pub(super) enum Term<'a> {
    /// `weight · items.value(query, j)`.
    Dense {
        weight: f32,
        query: &'a [f32],
        items: DenseItems<'a>,
        space: Space,
    },
    /// `weight · scores[j]` where the user reaches `j` (the co-interaction
    /// graph, the knowledge graph; sorted by item).
    Sparse {
        weight: f32,
        scores: &'a [(u32, f32)],
    },
    /// `weight · popularity[j]`.
    Popularity { weight: f32, values: &'a [f32] },
}

/// Adds one term of the sum to `total`: the one addition every score is
/// made of.
#[inline]
pub fn add_term(total: f32, weight: f32, value: f32) -> f32 {
    total + weight * value
}

/// The most sparse terms a score has (`graph`, `kg`).
pub(super) const MAX_SPARSE: usize = 2;

/// One user's weighted terms, ready to score target items.
pub struct Scorer<'a> {
    pub(super) n_items: usize,
    /// The user's terms with a weight other than 0, in [`COMPONENTS`] order.
    pub(super) terms: Vec<Term<'a>>,
}

impl<'a> Scorer<'a> {
    /// The scorer of `query` under `weights` over the target items
    /// `target` (their text vectors).
    pub fn new(
        query: &'a UserQuery,
        target: &'a Embeddings,
        relations: &'a Relations,
        weights: &Weights,
    ) -> Scorer<'a> {
        let terms: Vec<Term<'a>> = COMPONENTS
            .into_iter()
            .filter(|&c| weights.get(c) != 0.0)
            .filter_map(|c| {
                let weight = weights.get(c);
                match c {
                    Component::Graph | Component::Kg => query
                        .sparse(c)
                        .map(|scores| Term::Sparse { weight, scores }),
                    Component::Popularity => Some(Term::Popularity {
                        weight,
                        values: &relations.popularity,
                    }),
                    Component::Content
                    | Component::Mapped
                    | Component::Adapted
                    | Component::Sequence
                    | Component::History => Some(Term::Dense {
                        weight,
                        query: query.dense(c)?,
                        items: dense_items(c, target, relations)?,
                        space: Space::of(c),
                    }),
                }
            })
            .collect();
        Scorer {
            n_items: target.len(),
            terms,
        }
    }

    /// The score of item `j` given the value of each sparse term, in term
    /// order (`None` where the user does not reach it).
    #[inline]
    fn sum(&self, j: usize, sparse: &[Option<f32>]) -> f32 {
        let mut v = 0.0;
        let mut next_sparse = 0;
        for term in &self.terms {
            v = match *term {
                Term::Dense {
                    weight,
                    query,
                    items,
                    ..
                } => add_term(v, weight, items.value(query, j)),
                Term::Sparse { weight, .. } => {
                    next_sparse += 1;
                    match sparse[next_sparse - 1] {
                        Some(s) => add_term(v, weight, s),
                        None => v,
                    }
                }
                Term::Popularity { weight, values } => add_term(v, weight, values[j]),
            };
        }
        v
    }

    /// The user's sparse terms, `(weight, scores)` in term order.
    fn sparse_terms(&self) -> impl Iterator<Item = (f32, &'a [(u32, f32)])> + '_ {
        self.terms.iter().filter_map(|t| match *t {
            Term::Sparse { weight, scores } => Some((weight, scores)),
            _ => None,
        })
    }

    /// The user's sparse terms, collected (a scan walks them per block).
    pub(super) fn sparse(&self) -> Vec<(f32, &'a [(u32, f32)])> {
        self.sparse_terms().collect()
    }

    /// The score of item `j`, bit for bit as [`Scorer::all`] computes it.
    pub fn one(&self, j: u32) -> f32 {
        let mut values = [None; MAX_SPARSE];
        for (value, (_, scores)) in values.iter_mut().zip(self.sparse_terms()) {
            *value = scores
                .binary_search_by_key(&j, |&(t, _)| t)
                .ok()
                .map(|i| scores[i].1);
        }
        self.sum(j as usize, &values)
    }

    /// The score of every item.
    pub fn all(&self) -> Vec<f32> {
        let mut scores = vec![0f32; self.n_items];
        let sparse = self.sparse();
        // Memory-bound: each item vector is read once, in parallel blocks.
        scores
            .par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(block, chunk)| {
                let start = block * BLOCK;
                let mut cursors: Vec<SparseCursor<'_>> = sparse
                    .iter()
                    .map(|&(_, scores)| SparseCursor::new(scores, start))
                    .collect();
                let mut values = [None; MAX_SPARSE];
                for (r, s) in chunk.iter_mut().enumerate() {
                    let j = start + r;
                    for (value, cursor) in values.iter_mut().zip(&mut cursors) {
                        *value = cursor.at(j);
                    }
                    *s = self.sum(j, &values);
                }
            });
        scores
    }
}

/// Walks a sorted sparse list item by item, from a block's first item.
pub(super) struct SparseCursor<'a> {
    rest: &'a [(u32, f32)],
}

impl<'a> SparseCursor<'a> {
    /// The cursor over `scores` at item `start`.
    pub(super) fn new(scores: &'a [(u32, f32)], start: usize) -> SparseCursor<'a> {
        SparseCursor {
            rest: &scores[scores.partition_point(|&(t, _)| (t as usize) < start)..],
        }
    }

    /// The value at item `j` (items asked in increasing order).
    #[inline]
    pub(super) fn at(&mut self, j: usize) -> Option<f32> {
        while let Some(&(t, v)) = self.rest.first() {
            if t as usize > j {
                return None;
            }
            self.rest = &self.rest[1..];
            if t as usize == j {
                return Some(v);
            }
        }
        None
    }
}

/// Fills `rows[q][j]` with `items.value(queries[q], j)` for every item `j`:
/// the dense values of several users at once, each exactly as a [`Scorer`]
/// computes it (the evaluation stores these). Blocks of items are shared
/// among the threads, so each item vector is read from memory once for all
/// the queries.
pub fn dots_into(items: DenseItems<'_>, queries: &[&[f32]], rows: Vec<&mut [f32]>) {
    const ITEMS: usize = 256;
    let n_items = items.vectors.len();
    let n_blocks = n_items.div_ceil(ITEMS);
    let mut per_block: Vec<Vec<(&[f32], &mut [f32])>> = (0..n_blocks)
        .map(|_| Vec::with_capacity(queries.len()))
        .collect();
    for (&query, row) in queries.iter().zip(rows) {
        for (b, piece) in row[..n_items].chunks_mut(ITEMS).enumerate() {
            per_block[b].push((query, piece));
        }
    }
    per_block
        .into_par_iter()
        .enumerate()
        .for_each(|(b, mut pieces)| {
            let start = b * ITEMS;
            for (query, piece) in &mut pieces {
                for (r, value) in piece.iter_mut().enumerate() {
                    *value = items.value(query, start + r);
                }
            }
        });
}
