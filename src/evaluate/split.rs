//! The seeded cold-start split.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::data::Dataset;

/// Which users are held out, and from what.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Split {
    /// The seed that drew it.
    pub seed: u64,
    /// Users present in both domains.
    pub overlap: usize,
    /// Test users (their T interactions are the relevant sets).
    pub test: Vec<u32>,
    /// Validation users (for tuning; also hidden).
    pub validation: Vec<u32>,
    /// Per user: are their T interactions hidden from fitting?
    #[serde(skip)]
    pub hidden: Vec<bool>,
}

impl Split {
    /// Draws `test_share` of the users with interactions in both `source`
    /// and `target` as test users and `validation_share` of the rest as
    /// validation users; both have their `target` interactions hidden.
    pub fn draw(
        dataset: &Dataset,
        source: usize,
        target: usize,
        seed: u64,
        test_share: f64,
        validation_share: f64,
    ) -> Split {
        let users = dataset.users.len();
        let mut in_source = vec![false; users];
        let mut in_target = vec![false; users];
        for event in &dataset.interactions {
            if event.domain as usize == source {
                in_source[event.user as usize] = true;
            } else if event.domain as usize == target {
                in_target[event.user as usize] = true;
            }
        }
        let mut overlap: Vec<u32> = (0..users as u32)
            .filter(|&u| in_source[u as usize] && in_target[u as usize])
            .collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        overlap.shuffle(&mut rng);
        let n_test = ((overlap.len() as f64) * test_share.clamp(0.0, 1.0)).round() as usize;
        let rest = overlap.len() - n_test;
        let n_val = ((rest as f64) * validation_share.clamp(0.0, 1.0)).round() as usize;
        let mut test = overlap[..n_test].to_vec();
        let mut validation = overlap[n_test..n_test + n_val].to_vec();
        test.sort_unstable();
        validation.sort_unstable();
        let mut hidden = vec![false; users];
        for &u in test.iter().chain(&validation) {
            hidden[u as usize] = true;
        }
        Split {
            seed,
            overlap: overlap.len(),
            test,
            validation,
            hidden,
        }
    }
}
