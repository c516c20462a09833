//! The bundled sample dataset (`assets/sample`), compiled into the binary so
//! that `crossrec` opens on it from anywhere: written to the user's data
//! folder on first use (and rewritten if a file there went missing).

use std::path::PathBuf;

const FILES: [(&str, &str); 5] = [
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

/// The sample's manifest: `assets/sample/crossrec.toml` when running from
/// the source tree, else a copy under `$CROSSREC_DATA_DIR` (default: the
/// user data folder + `crossrec/sample`).
pub fn manifest() -> std::io::Result<PathBuf> {
    let in_tree = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/sample/crossrec.toml");
    if in_tree.is_file() {
        return Ok(in_tree);
    }
    let dir = crate::files::env_dir("CROSSREC_DATA_DIR")
        .unwrap_or_else(|| {
            dirs::data_dir()
                .unwrap_or_else(std::env::temp_dir)
                .join("crossrec")
        })
        .join("sample");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in FILES {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
            crate::files::write_atomic(&path, |out| out.write_all(text.as_bytes()))
                .map_err(std::io::Error::other)?;
        }
    }
    Ok(dir.join("crossrec.toml"))
}
