//! The bundled sample datasets (`assets/sample`, English, and
//! `assets/sample-zh`, Chinese), compiled into the binary so that `crossrec`
//! opens on them from anywhere: written to the user's data folder on first
//! use (and rewritten if a file there went missing or changed).

use std::path::PathBuf;

/// A bundled sample dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sample {
    /// A shop's products and a blog's articles, in English.
    #[default]
    English,
    /// 网店的商品与社交平台的帖子: an online shop's products and a social
    /// platform's posts, in Chinese.
    Chinese,
}

const ENGLISH: [(&str, &str); 5] = [
    (
        "crossrec.toml",
        include_str!("../assets/sample/crossrec.toml"),
    ),
    (
        "products.csv",
        include_str!("../assets/sample/products.csv"),
    ),
    (
        "articles.csv",
        include_str!("../assets/sample/articles.csv"),
    ),
    (
        "interactions.csv",
        include_str!("../assets/sample/interactions.csv"),
    ),
    (
        "user_texts.csv",
        include_str!("../assets/sample/user_texts.csv"),
    ),
];

const CHINESE: [(&str, &str); 5] = [
    (
        "crossrec.toml",
        include_str!("../assets/sample-zh/crossrec.toml"),
    ),
    ("商品.csv", include_str!("../assets/sample-zh/商品.csv")),
    ("帖子.csv", include_str!("../assets/sample-zh/帖子.csv")),
    (
        "interactions.csv",
        include_str!("../assets/sample-zh/interactions.csv"),
    ),
    (
        "user_texts.csv",
        include_str!("../assets/sample-zh/user_texts.csv"),
    ),
];

impl crate::names::Named for Sample {
    const ALL: &'static [Sample] = &Sample::ALL;

    /// `en` or `zh`, as `--sample` takes them.
    fn name(self) -> &'static str {
        match self {
            Sample::English => "en",
            Sample::Chinese => "zh",
        }
    }
}

impl Sample {
    /// Every sample, in the order the window lists them.
    pub const ALL: [Sample; 2] = [Sample::English, Sample::Chinese];

    /// The name shown in the window.
    pub fn label(self) -> &'static str {
        match self {
            Sample::English => "English sample (products × articles)",
            Sample::Chinese => "Chinese sample (products × posts)",
        }
    }

    /// Its folder under `assets/` and under the data folder.
    fn folder(self) -> &'static str {
        match self {
            Sample::English => "sample",
            Sample::Chinese => "sample-zh",
        }
    }

    fn files(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Sample::English => &ENGLISH,
            Sample::Chinese => &CHINESE,
        }
    }

    /// The sample's manifest: `assets/<folder>/crossrec.toml` when running
    /// from the source tree, else a copy under `$CROSSREC_DATA_DIR` (default:
    /// the user data folder + `crossrec`).
    pub fn manifest(self) -> std::io::Result<PathBuf> {
        let in_tree = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(self.folder())
            .join("crossrec.toml");
        if in_tree.is_file() {
            return Ok(in_tree);
        }
        let dir = crate::files::env_dir("CROSSREC_DATA_DIR")
            .unwrap_or_else(|| {
                dirs::data_dir()
                    .unwrap_or_else(std::env::temp_dir)
                    .join("crossrec")
            })
            .join(self.folder());
        std::fs::create_dir_all(&dir)?;
        for (name, text) in self.files() {
            let path = dir.join(name);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(*text) {
                crate::files::write_atomic(&path, |out| out.write_all(text.as_bytes()))
                    .map_err(std::io::Error::other)?;
            }
        }
        Ok(dir.join("crossrec.toml"))
    }
}
