//! A seeded synthetic dataset with a 1,000,000-item target domain and its
//! vectors written as `.npy` (so nothing is encoded): a source domain of
//! 20,000 items, 20,000 users who each follow one of 500 topics with 6
//! source and 3 target interactions in it, and 384-dimensional vectors
//! drawn around one random direction per topic. Written once into a folder
//! and reused (a `done` file marks a finished dataset).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Items in the target domain.
pub const TARGET_ITEMS: usize = 1_000_000;
const SOURCE_ITEMS: usize = 20_000;
const USERS: usize = 20_000;
const TOPICS: usize = 500;
const DIM: usize = 384;

/// A xorshift generator: seeded, fast, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A standard normal value (Box–Muller).
    fn normal(&mut self) -> f32 {
        let u = ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let v = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

/// The topic of item `j` of a domain with `n` items: items of a topic are
/// `t, t + TOPICS, t + 2·TOPICS, …`.
fn topic(j: usize) -> usize {
    j % TOPICS
}

fn write_vectors(path: &Path, n: usize, centroids: &[Vec<f32>], rng: &mut Rng) {
    let mut data = Vec::with_capacity(n * DIM);
    for j in 0..n {
        let c = &centroids[topic(j)];
        let start = data.len();
        data.extend(
            c.iter()
                .map(|x| x + 0.9 * rng.normal() / (DIM as f32).sqrt()),
        );
        let norm = data[start..].iter().map(|x| x * x).sum::<f32>().sqrt();
        data[start..].iter_mut().for_each(|x| *x /= norm);
    }
    let array = ndarray::Array2::from_shape_vec((n, DIM), data).expect("shape");
    ndarray_npy::write_npy(path, &array).expect("vectors written");
}

fn write_items(path: &Path, prefix: &str, n: usize) {
    let mut items = String::with_capacity(n * 40);
    items.push_str("item_id,title\n");
    for j in 0..n {
        let _ = writeln!(items, "{prefix}{j},{prefix} item {j} of topic {}", topic(j));
    }
    std::fs::write(path, items).expect("items written");
}

/// The dataset in `dir` (written first if it is not there): its manifest.
pub fn million(dir: &Path) -> PathBuf {
    let manifest = dir.join("crossrec.toml");
    if dir.join("done").is_file() {
        return manifest;
    }
    std::fs::create_dir_all(dir).expect("folder");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let centroids: Vec<Vec<f32>> = (0..TOPICS)
        .map(|_| {
            let v: Vec<f32> = (0..DIM).map(|_| rng.normal()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect();
    write_items(&dir.join("source.csv"), "s", SOURCE_ITEMS);
    write_items(&dir.join("target.csv"), "t", TARGET_ITEMS);
    write_vectors(&dir.join("source.npy"), SOURCE_ITEMS, &centroids, &mut rng);
    write_vectors(&dir.join("target.npy"), TARGET_ITEMS, &centroids, &mut rng);
    let mut interactions = String::from("user_id,domain,item_id,rating,timestamp\n");
    for u in 0..USERS {
        let t = rng.below(TOPICS);
        for (domain, prefix, n, count) in [
            ("source", "s", SOURCE_ITEMS, 6),
            ("target", "t", TARGET_ITEMS, 3),
        ] {
            let mut seen = Vec::new();
            while seen.len() < count {
                let j = t + TOPICS * rng.below(n / TOPICS);
                if !seen.contains(&j) {
                    seen.push(j);
                    let _ = writeln!(
                        interactions,
                        "u{u},{domain},{prefix}{j},{},{}",
                        3 + rng.below(3),
                        1_700_000_000 + rng.below(10_000_000)
                    );
                }
            }
        }
    }
    std::fs::write(dir.join("interactions.csv"), interactions).expect("interactions");
    std::fs::write(
        &manifest,
        "name = \"million\"\n\
         [[domain]]\nname = \"source\"\nitems = \"source.csv\"\ntext_columns = [\"title\"]\n\
         embeddings = \"source.npy\"\n\
         [[domain]]\nname = \"target\"\nitems = \"target.csv\"\ntext_columns = [\"title\"]\n\
         embeddings = \"target.npy\"\n\
         [interactions]\npath = \"interactions.csv\"\n",
    )
    .expect("manifest");
    std::fs::write(dir.join("done"), "").expect("marker");
    manifest
}
