//! linfa-reduction's `Pca` (the PCA of the crate family named for this
//! project) against crossrec's own projection: the input on which linfa's
//! truncated SVD fails, kept reproducible, and crossrec's answer on it.

use crossrec::embed::Embeddings;
use crossrec::project::project;
use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_reduction::Pca;
use ndarray::Array2;

/// `n` rows of `dim` seeded uniform noise plus two strong directions (the
/// shape of embeddings dominated by two topics).
fn noise_and_two_directions(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut data = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let (a, b) = (4.0 * next(), 2.0 * next());
        for d in 0..dim {
            let mut v = 0.1 * next();
            if d % 2 == 0 {
                v += a / (dim as f64).sqrt();
            }
            if d % 3 == 0 {
                v += b / (dim as f64).sqrt();
            }
            data.push(v as f32);
        }
    }
    data
}

/// Variance of `values` (population).
fn variance(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let n = values.clone().count() as f64;
    let mean = values.clone().sum::<f64>() / n;
    values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n
}

#[test]
fn linfa_pca_finds_the_same_axes_but_reports_shares_of_its_two_axes_only() {
    let (n, dim) = (2000, 64);
    let data = noise_and_two_directions(n, dim, 0);
    let records = Array2::from_shape_fn((n, dim), |(i, j)| f64::from(data[i * dim + j]));
    let linfa = Pca::params(2)
        .fit(&DatasetBase::from(records.clone()))
        .expect("linfa fits this input");
    let ratio = linfa.explained_variance_ratio();
    let ours = project(
        &[&Embeddings::new(dim, data.clone())],
        &std::sync::atomic::AtomicBool::new(false),
    )
    .expect("not cancelled");

    // The same axes: the two PCs' variances stand in the same proportion.
    let (linfa_ratio, our_ratio) = (ratio[0] / ratio[1], ours.explained[0] / ours.explained[1]);
    assert!(
        (linfa_ratio / our_ratio - 1.0).abs() < 0.01,
        "{linfa_ratio} vs {our_ratio}"
    );
    // linfa's "explained variance ratio" is a share of the two kept axes
    // (it sums to 1), not of the data's variance: it cannot label the
    // projection's axes, which is why crossrec computes its own.
    assert!((ratio.sum() - 1.0).abs() < 1e-9, "{ratio}");
    // crossrec's share: each axis's variance over the total variance.
    let total: f64 = (0..dim)
        .map(|j| variance((0..n).map(|i| records[[i, j]])))
        .sum();
    for axis in 0..2 {
        let along = variance(ours.points[0].iter().map(|p| f64::from(p[axis])));
        assert!(
            (along / total - ours.explained[axis]).abs() < 1e-3,
            "axis {axis}: {} vs {}",
            along / total,
            ours.explained[axis]
        );
    }
    assert!(ours.explained[0] + ours.explained[1] < 0.95);
}
