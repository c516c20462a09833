//! Gives the crate `CROSSREC_SOURCE_HASH`: a hash of its sources, manifest
//! and lock file, so files a build writes for itself alone (the fitted
//! snapshots) are never read by another build.

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let mut paths = vec![PathBuf::from("Cargo.toml"), PathBuf::from("Cargo.lock")];
    files(Path::new("src"), &mut paths);
    paths.sort();
    let mut h = DefaultHasher::new();
    for path in &paths {
        h.write(path.to_string_lossy().as_bytes());
        h.write(&std::fs::read(path).unwrap_or_default());
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rustc-env=CROSSREC_SOURCE_HASH={:016x}", h.finish());
}
