//! Training the learned components (the transfer model, `adapted`, and the
//! sequence model, `sequence`) inside an evaluation: the epoch kept is the
//! one with the best NDCG@10 of that component alone on the validation
//! users — never the test users — ranked as the protocol ranks the test
//! users (over every target item, or among each user's sampled or listed
//! candidates). The two train side by side, each on its own thread.

use std::sync::atomic::AtomicBool;

use rand::SeedableRng;
use rand::seq::index;
use rayon::prelude::*;

use super::metrics::user_metrics;
use super::scores::candidate_list;
use super::split::{Candidates, HeldOut};
use crate::embed::{Embeddings, dot};
use crate::pipeline::DatasetEmbeddings;
use crate::products::{Operand, Output, Threads, matmul};
use crate::rank::top_k;
use crate::relate::{
    AdaptError, AdaptOptions, Adapter, Relations, SequenceError, SequenceModel, SequenceOptions,
    Step, Towers,
};

/// Validation users the epoch check ranks for (a prefix), at most.
const MAX_CHECKED: usize = 800;

/// Validation users the epoch check ranks for, at least (when there are
/// that many).
const MIN_CHECKED: usize = 100;

/// The multiply-adds an epoch check may spend on scores: a catalogue too
/// large to rank for [`MAX_CHECKED`] users within it is checked on fewer
/// (never fewer than [`MIN_CHECKED`]), so an epoch's check stays a few
/// seconds at a million items.
const CHECK_WORK: usize = 80_000_000_000;

/// How many validation users an epoch check ranks over `items` items of
/// `dim` values each.
fn checked_users(items: usize, dim: usize) -> usize {
    (CHECK_WORK / (items * dim).max(1)).clamp(MIN_CHECKED, MAX_CHECKED)
}

/// Validation users scored together (one block of scores, `[users, items]`,
/// is held at a time).
const USERS_PER_BLOCK: usize = 32;

/// The target items an epoch check of a large catalogue scores first, for
/// every checked user: a user for whom ten of them (neither seen nor
/// relevant) score clearly above every relevant item has none in the whole
/// catalogue's top 10, and is not ranked over the whole catalogue.
const PRUNING_SAMPLE: usize = 100_000;

/// Catalogues of more target items than this are checked through a
/// [`PRUNING_SAMPLE`] first.
const PRUNED_ABOVE: usize = 4 * PRUNING_SAMPLE;

/// The rows (ascending) of the sample an epoch check of a catalogue of
/// `n` target items scores first (drawn with `seed`): `None` for a
/// catalogue small enough to rank whole for every user.
fn pruning_sample(n: usize, seed: u64) -> Option<Vec<u32>> {
    (n > PRUNED_ABOVE).then(|| {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut rows: Vec<u32> = index::sample(&mut rng, n, PRUNING_SAMPLE)
            .into_iter()
            .map(|j| j as u32)
            .collect();
        rows.sort_unstable();
        rows
    })
}

/// One validation user of an epoch check: the target items they have seen
/// (left out of the ranking, sorted), those to find (sorted), and what
/// they are ranked among (sorted; `None`: every target item).
struct UserCheck {
    seen: Vec<u32>,
    relevant: Vec<u32>,
    candidates: Option<Vec<u32>>,
}

/// The validation users each model's epoch check ranks for, with what it
/// reads of them: each model checks the first users it has a query for, as
/// many as [`checked_users`] allows, each ranked among the candidates the
/// protocol gives them.
struct Checks {
    /// Each checked user's source profile, for the transfer model.
    profiles: Vec<Vec<f32>>,
    /// Their seen and relevant items.
    adapter: Vec<UserCheck>,
    /// Each checked user's sequence, for the sequence model.
    sequences: Vec<Vec<Step>>,
    /// Their seen and relevant items.
    sequence: Vec<UserCheck>,
}

impl Checks {
    fn new(
        relations: &Relations,
        embeddings: &DatasetEmbeddings,
        (validation, candidates, seed): (&HeldOut, &Candidates, u64),
        (adapt, sequence): (Option<&AdaptOptions>, Option<&SequenceOptions>),
    ) -> Checks {
        let target = &embeddings.domains[relations.target];
        let users = || validation.users.iter().copied().zip(&validation.relevant);
        // Users are ranked among at most this many items each.
        let ranked = match candidates {
            &Candidates::Sampled { n, .. } => n.saturating_add(1).min(target.len()),
            _ => target.len(),
        };
        let check = |u: u32, relevant: &Vec<u32>| {
            let mut seen = relations.visible_target_items(u);
            // Seeded by the user's place among the validation users, as
            // the weight search's lists are.
            let position = validation.users.binary_search(&u).unwrap_or(0);
            let candidates = candidate_list(
                candidates,
                target.len(),
                (position, u),
                relevant,
                &mut seen,
                seed,
            );
            UserCheck {
                seen,
                relevant: relevant.clone(),
                candidates,
            }
        };
        let (profiles, adapter) = match adapt {
            Some(_) => users()
                .filter_map(|(u, relevant)| {
                    let profile = relations.source_profile(embeddings, u)?;
                    Some((profile, check(u, relevant)))
                })
                .take(checked_users(ranked, target.dim()))
                .unzip(),
            None => (Vec::new(), Vec::new()),
        };
        let (sequences, sequence) = match sequence {
            Some(options) => users()
                .filter(|(u, _)| !relations.sequences[*u as usize].is_empty())
                .map(|(u, relevant)| {
                    let sequence = relations.sequences[u as usize].clone();
                    (sequence, check(u, relevant))
                })
                .take(checked_users(ranked, options.dim))
                .unzip(),
            None => (Vec::new(), Vec::new()),
        };
        Checks {
            profiles,
            adapter,
            sequences,
            sequence,
        }
    }
}

/// Trains `relations`' transfer model, keeping the epoch that ranks the
/// users of `checks` best (the last epoch when there are none), a
/// catalogue above [`PRUNED_ABOVE`] items scored through `sample` first.
fn train_adapter(
    relations: &Relations,
    embeddings: &DatasetEmbeddings,
    (checks, sample): (&Checks, Option<&[u32]>),
    options: AdaptOptions,
    progress: &mut dyn FnMut(f64),
    cancel: &AtomicBool,
) -> Result<Adapter, AdaptError> {
    let target = &embeddings.domains[relations.target];
    let mut validate = |towers: &Towers| -> Option<f64> {
        // Nothing to validate on: no score, so the latest epoch is kept.
        (!checks.adapter.is_empty()).then(|| {
            // Scored in the text space: `Vᵀq · t / |V t|`, so no table of
            // tower vectors is made for an epoch.
            let queries: Vec<Option<Vec<f32>>> =
                checks.profiles.iter().map(|p| towers.query(p)).collect();
            let scored = Scored {
                items: target,
                scale: Some(towers.inv_norms()),
            };
            validation_ndcg(scored, &checks.adapter, &queries, sample)
        })
    };
    relations.fit_adapter(embeddings, options, Some(&mut validate), progress, cancel)
}

/// Trains `relations`' sequence model, keeping the epoch that ranks the
/// users of `checks` best (the last epoch when there are none), a
/// catalogue above [`PRUNED_ABOVE`] items scored through `sample` first.
fn train_sequence(
    relations: &Relations,
    embeddings: &DatasetEmbeddings,
    (checks, sample): (&Checks, Option<&[u32]>),
    options: SequenceOptions,
    progress: &mut dyn FnMut(f64),
    cancel: &AtomicBool,
) -> Result<SequenceModel, SequenceError> {
    let mut validate = |model: &SequenceModel| -> Option<f64> {
        // Nothing to validate on: no score, so the latest epoch is kept.
        (!checks.sequence.is_empty()).then(|| {
            let queries: Vec<Option<Vec<f32>>> =
                checks.sequences.iter().map(|s| model.query(s)).collect();
            let scored = Scored {
                items: model.items(),
                scale: None,
            };
            validation_ndcg(scored, &checks.sequence, &queries, sample)
        })
    };
    relations.fit_sequence(embeddings, options, Some(&mut validate), progress, cancel)
}

/// What an epoch check ranks: each item's value is its dot product with
/// the query, times its `scale` when there is one.
#[derive(Clone, Copy)]
struct Scored<'a> {
    items: &'a Embeddings,
    scale: Option<&'a [f32]>,
}

impl Scored<'_> {
    /// Item `j`'s value for `query` (of the items' width).
    fn value(&self, query: &[f32], j: usize) -> f32 {
        let value = dot(query, self.items.row(j));
        self.scale.map_or(value, |s| value * s[j])
    }

    /// The largest `|t| × scale` over the items `rows`.
    fn largest_length(&self, rows: impl Iterator<Item = u32>) -> f32 {
        rows.map(|j| {
            let t = self.items.row(j as usize);
            let length = dot(t, t).sqrt();
            self.scale.map_or(length, |s| length * s[j as usize].abs())
        })
        .fold(0.0, f32::max)
    }
}

/// Mean NDCG@10 over `checks` of the queries `queries` (one per check;
/// `None`, or one of another width than the items, scores nothing) against
/// the check's candidates, or else every item of `scored`: exactly the mean
/// of ranking each user as the protocol does. With a `sample` of the items
/// (sorted), the users ranked over every item are first scored against it:
/// a user for whom ten sampled items that are neither seen nor relevant
/// beat every relevant item by more than any rounding error could move two
/// scores has none in the catalogue's top 10 (NDCG 0), and is not ranked
/// over the whole catalogue.
fn validation_ndcg(
    scored: Scored<'_>,
    checks: &[UserCheck],
    queries: &[Option<Vec<f32>>],
    sample: Option<&[u32]>,
) -> f64 {
    let (n, dim) = (scored.items.len(), scored.items.dim());
    if n == 0 || dim == 0 || checks.is_empty() {
        return 0.0;
    }
    let scored = Scored {
        scale: scored.scale.filter(|s| s.len() == n),
        ..scored
    };
    let query = |i: usize| {
        queries
            .get(i)
            .and_then(|q| q.as_deref())
            .filter(|q| q.len() == dim)
    };
    let mut ndcg: Vec<f64> = (0..checks.len())
        .into_par_iter()
        .map(|i| match (&checks[i].candidates, query(i)) {
            (Some(list), Some(query)) => among(scored, query, list, &checks[i].relevant),
            _ => 0.0,
        })
        .collect();
    let whole = |i: &usize| checks[*i].candidates.is_none();
    // The sample prunes only users ranked over every item.
    let sample = sample
        .filter(|rows| rows.iter().all(|&j| (j as usize) < n))
        .filter(|_| (0..checks.len()).any(|i| whole(&i)));
    let ranked: Vec<usize> = match sample {
        Some(rows) => {
            let outside = outside_top_10(scored, checks, &query, rows);
            (0..checks.len())
                .filter(|&i| !outside[i])
                .filter(whole)
                .collect()
        }
        None => (0..checks.len()).filter(whole).collect(),
    };
    let block = USERS_PER_BLOCK.min(ranked.len()).max(1);
    let mut q = vec![0f32; block * dim];
    let mut scores = vec![0f32; block * n];
    for users in ranked.chunks(block) {
        let scores = score_block(scored.items, users, &query, &mut q, &mut scores);
        // Each user's NDCG lands in its own place, so the mean below sums
        // in user order and has the same bits on every run.
        let block_ndcg: Vec<f64> = scores
            .par_chunks_mut(n)
            .zip(users)
            .map(|(row, &i)| {
                if let Some(scale) = scored.scale {
                    row.iter_mut().zip(scale).for_each(|(s, f)| *s *= f);
                }
                let check = &checks[i];
                user_metrics(&top_k(row, 10, &check.seen), &check.relevant, 10).ndcg
            })
            .collect();
        for (&i, value) in users.iter().zip(block_ndcg) {
            ndcg[i] = value;
        }
    }
    ndcg.iter().sum::<f64>() / checks.len() as f64
}

/// NDCG@10 of ranking the items `list` (sorted; those out of range left
/// out) by their value for `query`, ties by item.
fn among(scored: Scored<'_>, query: &[f32], list: &[u32], relevant: &[u32]) -> f64 {
    let n = scored.items.len();
    let list: Vec<u32> = list.iter().copied().filter(|&j| (j as usize) < n).collect();
    let values: Vec<f32> = list
        .iter()
        .map(|&j| scored.value(query, j as usize))
        .collect();
    let ranked: Vec<u32> = top_k(&values, 10, &[])
        .into_iter()
        .map(|p| list[p as usize])
        .collect();
    user_metrics(&ranked, relevant, 10).ndcg
}

/// The scores `[users, items]` of the `users` (indices of `query`) against
/// every row of `items`, in `scores`: one product reads the item matrix
/// once for the whole block, on every core. `q` holds the block's queries
/// (a user without one scores 0 everywhere).
fn score_block<'s, 'q>(
    items: &Embeddings,
    users: &[usize],
    query: &(dyn Fn(usize) -> Option<&'q [f32]> + Sync),
    q: &mut [f32],
    scores: &'s mut [f32],
) -> &'s mut [f32] {
    let (n, dim) = (items.len(), items.dim());
    let q = &mut q[..users.len() * dim];
    q.fill(0.0);
    for (row, &i) in q.chunks_exact_mut(dim).zip(users) {
        if let Some(v) = query(i) {
            row.copy_from_slice(v);
        }
    }
    let scores = &mut scores[..users.len() * n];
    // `[items, users] = items · qᵀ`, written as `[users, items]`.
    matmul(
        n,
        users.len(),
        dim,
        Operand::rows(items.as_slice(), dim),
        Operand::transposed(q, dim),
        Output::transposed(scores, n),
        1.0,
        Threads::All,
    );
    scores
}

/// Per check, whether the sample `rows` (sorted) shows that no relevant
/// item of it can be in the whole catalogue's top 10: ten sampled items,
/// neither seen nor relevant, beat every relevant item by more than
/// twice the rounding error a dot product of this width can carry (so the
/// whole catalogue's ranking, with its own rounding, puts them above too).
/// A user with no query, or no relevant item they have not seen, is
/// ranked whole.
fn outside_top_10<'q>(
    scored: Scored<'_>,
    checks: &[UserCheck],
    query: &(dyn Fn(usize) -> Option<&'q [f32]> + Sync),
    rows: &[u32],
) -> Vec<bool> {
    let dim = scored.items.dim();
    let mut vectors = Vec::with_capacity(rows.len() * dim);
    for &j in rows {
        vectors.extend_from_slice(scored.items.row(j as usize));
    }
    let sample = Embeddings::new(dim, vectors);
    let scale: Option<Vec<f32>> = scored
        .scale
        .map(|s| rows.iter().map(|&j| s[j as usize]).collect());
    let sample_longest = scored.largest_length(rows.iter().copied());
    // A dot product of `dim` terms is off by at most `dim ε |q| |t|`; the
    // scale's product adds one more rounding.
    let error_per_length = (dim + 2) as f32 * f32::EPSILON;
    let users: Vec<usize> = (0..checks.len()).collect();
    let block = USERS_PER_BLOCK.min(users.len()).max(1);
    let mut q = vec![0f32; block * dim];
    let mut scores = vec![0f32; block * rows.len()];
    let mut outside = Vec::with_capacity(checks.len());
    for users in users.chunks(block) {
        let scores = score_block(&sample, users, query, &mut q, &mut scores);
        let block_outside: Vec<bool> = scores
            .par_chunks_mut(rows.len())
            .zip(users)
            .map(|(row, &i)| {
                let (Some(query), check) = (query(i), &checks[i]) else {
                    return false;
                };
                if let Some(scale) = &scale {
                    row.iter_mut().zip(scale).for_each(|(s, f)| *s *= f);
                }
                let unseen: Vec<u32> = check
                    .relevant
                    .iter()
                    .copied()
                    .filter(|j| check.seen.binary_search(j).is_err())
                    .collect();
                if unseen.is_empty() {
                    return false;
                }
                let best_relevant = unseen
                    .iter()
                    .map(|&j| scored.value(query, j as usize))
                    .fold(f32::NEG_INFINITY, f32::max);
                let longest = sample_longest.max(scored.largest_length(unseen.iter().copied()));
                let q_length = dot(query, query).sqrt();
                let margin = 8.0 * error_per_length * q_length * longest;
                let bar = best_relevant + margin;
                if !bar.is_finite() {
                    return false;
                }
                let above = row.iter().filter(|&&s| s > bar).count();
                // (A relevant item scores below the bar unless it is seen.)
                let excluded = check
                    .seen
                    .iter()
                    .filter_map(|j| rows.binary_search(j).ok())
                    .filter(|&p| row[p] > bar)
                    .count();
                above.saturating_sub(excluded) >= 10
            })
            .collect();
        outside.extend(block_outside);
    }
    outside
}

/// The learned components an evaluation trains.
#[derive(Debug)]
pub struct Learned {
    /// The transfer model, or why there is none.
    pub adapted: Result<Adapter, AdaptError>,
    /// The sequence model, or why there is none.
    pub sequence: Result<SequenceModel, SequenceError>,
    /// The validation users each model's epochs were chosen on.
    pub checked: CheckedUsers,
}

/// The validation users each learned model's epochs were chosen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedUsers {
    /// The transfer model's.
    pub adapted: usize,
    /// The sequence model's.
    pub sequence: usize,
}

/// Which learned component a progress report is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Training {
    Adapter,
    Sequence,
}

/// Trains the transfer model (`adapt`) and the sequence model (`sequence`)
/// of `relations` side by side, each on its own thread, each keeping the
/// epoch that ranks the validation users best among their `candidates`
/// (sampled with `seed`; a large catalogue ranked whole is scored through a
/// sample drawn with `seed` first); `None` trains
/// that one not at all. Called from a thread of a rayon pool (the window's
/// background pool), the two train one after the other on that thread, so
/// that their checks stay on that pool. Each model's training is seeded
/// and does not depend on the other's, so the models are those trained one
/// after the other. The sequence model's steps run on one core (see the
/// relations' one-thread pool) and the transfer model's products gain
/// little from a second, so side by side the two take about as long as the
/// longer one. `progress` gets one stage: the share of the epochs done,
/// over both.
pub fn train_learned(
    relations: &Relations,
    embeddings: &DatasetEmbeddings,
    (validation, candidates): (&HeldOut, &Candidates),
    (adapt, sequence): (Option<AdaptOptions>, Option<SequenceOptions>),
    seed: u64,
    progress: &mut dyn FnMut(&str, f64),
    cancel: &AtomicBool,
) -> Learned {
    let stage = match (adapt.is_some(), sequence.is_some()) {
        (true, true) => "training the transfer and sequence models",
        (true, false) => "training the transfer model",
        _ => "training the sequence model",
    };
    let trained = usize::from(adapt.is_some()) + usize::from(sequence.is_some());
    progress(stage, 0.0);
    let checks = Checks::new(
        relations,
        embeddings,
        (validation, candidates, seed),
        (adapt.as_ref(), sequence.as_ref()),
    );
    let checked = CheckedUsers {
        adapted: checks.adapter.len(),
        sequence: checks.sequence.len(),
    };
    let sample = pruning_sample(embeddings.domains[relations.target].len(), seed);
    let checking = (&checks, sample.as_deref());
    // Each model's training, given its options and where its progress goes
    // (copies of the shared references, so either runs on any thread).
    let adapter_of = move |options, report: &mut dyn FnMut(f64)| {
        train_adapter(relations, embeddings, checking, options, report, cancel)
    };
    let sequence_of = move |options, report: &mut dyn FnMut(f64)| {
        train_sequence(relations, embeddings, checking, options, report, cancel)
    };
    if rayon::current_thread_index().is_some() {
        // Inside a pool (the window's background pool, kept apart from the
        // pool its frames rank on): threads spawned here would run their
        // epoch checks on rayon's global pool, so the two models train one
        // after the other on this thread, their checks on this pool.
        let share = 1.0 / trained.max(1) as f64;
        let adapted = match adapt {
            Some(options) => adapter_of(options, &mut |f| progress(stage, f * share)),
            None => Err(AdaptError::NoEpochs),
        };
        let before = if adapt.is_some() { share } else { 0.0 };
        let sequence = match sequence {
            Some(options) => sequence_of(options, &mut |f| progress(stage, before + f * share)),
            None => Err(SequenceError::NoEpochs),
        };
        progress(stage, 1.0);
        return Learned {
            adapted,
            sequence,
            checked,
        };
    }
    let (sender, reports) = std::sync::mpsc::channel::<(Training, f64)>();
    std::thread::scope(|scope| {
        // A training's progress, sent to this thread (the receiver
        // outlives both trainings, so a send cannot fail).
        let reporter = |which: Training| {
            let sender = sender.clone();
            move |f: f64| {
                let _ = sender.send((which, f));
            }
        };
        let adapter = adapt.map(|options| {
            let mut report = reporter(Training::Adapter);
            scope.spawn(move || adapter_of(options, &mut report))
        });
        let sequence = sequence.map(|options| {
            let mut report = reporter(Training::Sequence);
            scope.spawn(move || sequence_of(options, &mut report))
        });
        // Every sender gone (both trainings ended) ends the reports.
        drop(sender);
        let mut done = (0.0, 0.0);
        for (which, fraction) in reports {
            match which {
                Training::Adapter => done.0 = fraction,
                Training::Sequence => done.1 = fraction,
            }
            progress(stage, (done.0 + done.1) / trained.max(1) as f64);
        }
        // Early stopping ends a training before its last epoch.
        progress(stage, 1.0);
        let stopped = "training stopped unexpectedly".to_string();
        Learned {
            adapted: match adapter {
                Some(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Err(AdaptError::Training(stopped.clone()))),
                None => Err(AdaptError::NoEpochs),
            },
            sequence: match sequence {
                Some(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Err(SequenceError::Training(stopped))),
                None => Err(SequenceError::NoEpochs),
            },
            checked,
        }
    })
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;

    /// `n` items of `dim` values: random, with runs of identical rows (ties)
    /// and zero rows.
    fn items(n: usize, dim: usize, rng: &mut impl Rng) -> Embeddings {
        let mut data: Vec<f32> = (0..n * dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        for j in (0..n).step_by(97) {
            // The next three rows repeat this one; every 389th is zero.
            for k in 1..4.min(n - j) {
                let (head, tail) = data.split_at_mut((j + k) * dim);
                tail[..dim].copy_from_slice(&head[j * dim..(j + 1) * dim]);
            }
        }
        for j in (0..n).step_by(389) {
            data[j * dim..(j + 1) * dim].fill(0.0);
        }
        Embeddings::new(dim, data)
    }

    /// Users with 1–3 relevant items, some seen items, and a query: near a
    /// relevant item (a hit likely), random, absent or of the wrong width.
    fn users(
        items: &Embeddings,
        count: usize,
        rng: &mut impl Rng,
    ) -> (Vec<UserCheck>, Vec<Option<Vec<f32>>>) {
        let (n, dim) = (items.len() as u32, items.dim());
        let mut checks = Vec::new();
        let mut queries = Vec::new();
        for u in 0..count {
            let mut relevant: Vec<u32> = (0..rng.random_range(1..4))
                .map(|_| rng.random_range(0..n))
                .collect();
            relevant.sort_unstable();
            relevant.dedup();
            let mut seen: Vec<u32> = (0..rng.random_range(0..20))
                .map(|_| rng.random_range(0..n))
                .collect();
            let query: Option<Vec<f32>> = match u % 5 {
                0..=2 if u > 3 => {
                    // Near a relevant item, nearer for some users than for
                    // others: its rank spreads over the first few dozen.
                    let noise = [0.2, 0.5, 0.8][u % 3];
                    let near = items.row(relevant[0] as usize).iter();
                    Some(near.map(|v| v + rng.random_range(-noise..noise)).collect())
                }
                2 => None,
                3 if u == 3 => Some(vec![1.0; dim + 1]),
                _ => Some((0..dim).map(|_| rng.random_range(-1.0..1.0)).collect()),
            };
            if let (Some(q), 0) = (&query, u % 7) {
                // The items that best fit the query seen, so that only the
                // unseen may rank.
                let mut best: Vec<(f32, u32)> = (0..n)
                    .filter(|j| relevant.binary_search(j).is_err())
                    .map(|j| (dot(q, items.row(j as usize)), j))
                    .collect();
                best.sort_by(|a, b| b.0.total_cmp(&a.0));
                seen.extend(best.iter().take(15).map(|&(_, j)| j));
            }
            if u % 11 == 0 {
                // Every relevant item seen too.
                seen.extend(&relevant);
            }
            seen.sort_unstable();
            seen.dedup();
            checks.push(UserCheck {
                seen,
                relevant,
                candidates: None,
            });
            queries.push(query);
        }
        (checks, queries)
    }

    #[test]
    fn a_check_through_a_sample_scores_every_user_as_ranking_the_whole_catalogue() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let items = items(5_000, 12, &mut rng);
        let scale: Vec<f32> = (0..items.len())
            .map(|_| rng.random_range(0.5..2.0))
            .collect();
        let (checks, queries) = users(&items, 90, &mut rng);
        let mut sample: Vec<u32> = index::sample(&mut rng, items.len(), 2_500)
            .into_iter()
            .map(|j| j as u32)
            .collect();
        sample.sort_unstable();
        for scale in [None, Some(scale.as_slice())] {
            let scored = Scored {
                items: &items,
                scale,
            };
            let whole = validation_ndcg(scored, &checks, &queries, None);
            let pruned = validation_ndcg(scored, &checks, &queries, Some(&sample));
            assert_eq!(whole.to_bits(), pruned.to_bits(), "{whole} vs {pruned}");
            assert!(whole > 0.05, "some users find their items: {whole}");
            let query = |i: usize| queries[i].as_deref().filter(|q| q.len() == items.dim());
            let outside = outside_top_10(scored, &checks, &query, &sample);
            let skipped = outside.iter().filter(|&&o| o).count();
            assert!(
                (30..checks.len()).contains(&skipped),
                "most users, not all, need no whole ranking: {skipped}"
            );
            // Those users have no relevant item in the top 10 of the whole.
            for (i, _) in outside.iter().enumerate().filter(|(_, o)| **o) {
                let one = validation_ndcg(scored, &checks[i..=i], &queries[i..=i], None);
                assert_eq!(one, 0.0, "user {i}");
            }
        }
    }

    #[test]
    fn a_user_with_candidates_is_ranked_among_them_alone() {
        // One-value items; the query 1 ranks them by value: 1, 3, 2, 0.
        let items = Embeddings::new(1, vec![0.1, 0.9, 0.5, 0.7]);
        let scored = Scored {
            items: &items,
            scale: None,
        };
        let user = |candidates: Option<Vec<u32>>| UserCheck {
            seen: vec![],
            relevant: vec![2],
            candidates,
        };
        let query = vec![Some(vec![1.0])];
        let ndcg = |check: UserCheck| validation_ndcg(scored, &[check], &query, None);
        // Over every item, item 2 is third: 1 / log2(4).
        assert!((ndcg(user(None)) - 0.5).abs() < 1e-12);
        // Among 0, 2 and 3 it is second: 1 / log2(3); item 1, the best of
        // the catalogue, is not a candidate, and an item out of range is
        // left out.
        let among = ndcg(user(Some(vec![0, 2, 3, 9])));
        assert!((among - 1.0 / 3f64.log2()).abs() < 1e-12, "{among}");
        // Without a query nothing is found.
        let none = validation_ndcg(scored, &[user(Some(vec![2]))], &[None], None);
        assert_eq!(none, 0.0);
    }

    #[test]
    fn only_a_catalogue_far_larger_than_the_sample_is_checked_through_one() {
        assert_eq!(pruning_sample(PRUNED_ABOVE, 1), None);
        let rows = pruning_sample(PRUNED_ABOVE + 1, 1).unwrap_or_default();
        assert_eq!(rows.len(), PRUNING_SAMPLE);
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "sorted, distinct");
        assert!(rows.iter().all(|&j| (j as usize) <= PRUNED_ABOVE));
        assert_eq!(pruning_sample(PRUNED_ABOVE + 1, 1), Some(rows), "seeded");
    }
}
