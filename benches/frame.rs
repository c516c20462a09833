//! Frame time of the window while a weight slider is dragged and while the
//! projection is panned: each frame sets the slider to a new value (or
//! moves the pointer of a drag on the plot), runs the app's `logic` and
//! `ui` (egui_kittest, headless), and tessellates the frame's shapes, which
//! is the CPU work eframe does per frame before handing triangles to the
//! GPU. Two datasets: the real one (36k points; needs the real model and
//! the embedding cache filled by `cargo bench --bench encode`) and a
//! synthetic one with 100,000 items per domain, encoded by a tiny random
//! BERT written on the spot (the frame cost depends on the number of
//! points, not on the model).
//!
//! `cargo bench --bench frame` prints one JSON line per measurement.

#[path = "../tests/support/tiny_bert.rs"]
mod tiny_bert;
#[path = "support/window.rs"]
mod window;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crossrec::app::StartOptions;
use crossrec::embed::DEFAULT_MODEL;

/// A dataset of two domains of `n` items each (titles of 3–6 words of the
/// tiny vocabulary) and `users` users with 8 items in each domain, seeded.
fn synthetic(dir: &Path, n: usize, users: usize) -> PathBuf {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below as u64) as usize
    };
    let words: Vec<&str> = tiny_bert::WORDS
        .iter()
        .copied()
        .filter(|w| w.is_ascii())
        .collect();
    for domain in ["a", "b"] {
        let mut items = String::from("item_id,title\n");
        for j in 0..n {
            let title: Vec<&str> = (0..3 + next(4)).map(|_| words[next(words.len())]).collect();
            let _ = writeln!(items, "{domain}{j},{}", title.join(" "));
        }
        std::fs::write(dir.join(format!("{domain}.csv")), items).expect("items");
    }
    let mut interactions = String::from("user_id,domain,item_id\n");
    for u in 0..users {
        for domain in ["a", "b"] {
            for _ in 0..8 {
                let _ = writeln!(interactions, "u{u},{domain},{domain}{}", next(n));
            }
        }
    }
    std::fs::write(dir.join("interactions.csv"), interactions).expect("interactions");
    let manifest = dir.join("crossrec.toml");
    std::fs::write(
        &manifest,
        "name = \"synthetic\"\n\
         [[domain]]\nname = \"a\"\nitems = \"a.csv\"\ntext_columns = [\"title\"]\n\
         [[domain]]\nname = \"b\"\nitems = \"b.csv\"\ntext_columns = [\"title\"]\n\
         [interactions]\npath = \"interactions.csv\"\n",
    )
    .expect("manifest");
    manifest
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = root.join("assets/sample/crossrec.toml");

    let real = root.join("../shared/data/amazon-food-kitchen/crossrec.toml");
    if real.is_file() && crossrec::embed::resolve_model(DEFAULT_MODEL).is_ok() {
        window::measure(
            "amazon-food-kitchen",
            StartOptions {
                manifest: Some(real),
                model: Some(DEFAULT_MODEL.to_string()),
                precision: None,
                device: None,
                cache_dir: root.join("target/bench-cache"),
                sample: sample.clone(),
                // Tuned on the first run (in the background), reused after.
                settings_dir: root.join("target/bench-settings"),
                font: None,
                off_frame_items: crossrec::app::OFF_FRAME_ITEMS,
            },
        );
    } else {
        eprintln!("skipped the real dataset: needs ../shared/data and the real model");
    }

    let dir = root.join("target/bench-frame-synthetic");
    std::fs::create_dir_all(&dir).expect("bench folder");
    let manifest = synthetic(&dir, 100_000, 5_000);
    let model = dir.join("tiny-bert");
    tiny_bert::write_tiny_bert(&model, tiny_bert::TinySpec::default());
    window::measure(
        "synthetic-100k-per-domain",
        StartOptions {
            manifest: Some(manifest),
            model: Some(model.display().to_string()),
            precision: None,
            device: None,
            cache_dir: dir.join("cache"),
            sample,
            settings_dir: dir.join("settings"),
            font: None,
            off_frame_items: crossrec::app::OFF_FRAME_ITEMS,
        },
    );
}
