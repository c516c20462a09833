//! The library's layering, checked on the source tree: every top-level
//! module has a place in [`LAYERS`] and imports only modules below it (no
//! upward arrow); computation never mentions the window or the CLI; every
//! file is written atomically; the front ends leave the maths to the
//! library.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The top-level modules from the bottom up: each may import only modules
/// before it. A module added to `src/` must be placed here.
const LAYERS: &[&str] = &[
    "products", "names", "palette", "text", "files", "data", "sample", "embed", "vectors",
    "entities", "pipeline", "relate", "project", "rank", "evaluate", "explore", "export", "shards",
    "settings", "report", "service", "app", "cli",
];

/// The front ends: the only modules that may know egui, eframe, rfd or clap.
const FRONT_ENDS: &[&str] = &["app", "cli"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules in the tree (a `name.rs` or a `name/` folder),
/// read from `src/`, not from a list.
fn modules_in_tree() -> BTreeSet<String> {
    std::fs::read_dir(src())
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            let name = path.file_stem()?.to_str()?.to_string();
            let module = path.is_dir() || path.extension().is_some_and(|e| e == "rs");
            (module && name != "lib" && name != "main").then_some(name)
        })
        .collect()
}

/// The source files of top-level module `module`.
fn files_of(module: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    sources(&src().join(module), &mut files);
    let single = src().join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    files
}

/// The code of `file` without its comments (doc links are not imports).
fn code_without_comments(file: &Path) -> String {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names through `crate::` (alone or in a
/// `crate::{…}` group).
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group
                .split('}')
                .next()
                .unwrap_or("")
                .split(',')
                .map(|n| n.trim().split("::").next().unwrap_or("").trim())
                .collect(),
            None => vec![
                rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or(""),
            ],
        };
        found.extend(
            names
                .into_iter()
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        );
    }
    found
}

#[test]
fn every_module_in_the_tree_has_a_layer() {
    let tree = modules_in_tree();
    let listed: BTreeSet<String> = LAYERS.iter().map(|m| m.to_string()).collect();
    assert_eq!(tree, listed, "src/ and LAYERS name different modules");
}

#[test]
fn no_module_imports_one_above_it() {
    let mut checked = 0;
    for (layer, module) in LAYERS.iter().enumerate() {
        for file in files_of(module) {
            let code = code_without_comments(&file);
            for import in imports(&code) {
                if import == *module {
                    continue;
                }
                let Some(at) = LAYERS.iter().position(|m| *m == import) else {
                    continue; // an item of lib.rs, not a module
                };
                assert!(
                    at < layer,
                    "{} (layer of `{module}`) imports `{import}`, which is above it",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} files checked");
}

#[test]
fn computation_modules_do_not_use_egui_eframe_rfd_clap_or_the_front_ends() {
    let mut checked = 0;
    for module in LAYERS.iter().filter(|m| !FRONT_ENDS.contains(m)) {
        for file in files_of(module) {
            let code = code_without_comments(&file);
            for banned in [
                "egui",
                "eframe",
                "crate::app",
                "crate::cli",
                "rfd::",
                "clap",
            ] {
                assert!(
                    !code.contains(banned),
                    "{} mentions `{banned}`: computation must not depend on a front end",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} files checked");
}

#[test]
fn the_import_scanner_sees_single_and_grouped_imports() {
    let code = "use crate::rank::Weights;\nuse crate::{data::Dataset, embed};\nlet x = crate::files::write_atomic;";
    let found: Vec<String> = imports(code).into_iter().collect();
    assert_eq!(found, ["data", "embed", "files", "rank"]);
}

/// The text of `file` before its unit-test module (tests may write
/// fixtures directly).
fn code_of(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[test]
fn every_file_is_written_through_files_write_atomic() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    assert!(files.len() > 30, "only {} sources found", files.len());
    for file in files.iter().filter(|f| !f.ends_with("files.rs")) {
        let code = code_of(file);
        for banned in ["fs::write(", "File::create(", "OpenOptions"] {
            assert!(
                !code.contains(banned),
                "{} writes with `{banned}`: every output goes through files::write_atomic",
                file.display()
            );
        }
    }
}

#[test]
fn the_window_and_the_cli_leave_the_maths_to_the_library() {
    let mut checked = 0;
    for front in FRONT_ENDS {
        for file in &files_of(front) {
            let code = code_of(file);
            for banned in [
                "ndarray",
                "candle_core",
                "candle_nn",
                "linfa",
                "safetensors",
            ] {
                assert!(
                    !code.contains(banned),
                    "{} uses `{banned}`: computation belongs in the library",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} files checked");
}
