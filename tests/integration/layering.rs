//! The pipeline's layering: computation modules never depend on the window.

use std::path::Path;

/// Modules that compute; the window (`app`) may use them, never the reverse.
const COMPUTATION: &[&str] = &[
    "data", "embed", "project", "relate", "rank", "evaluate", "pipeline", "explore", "export",
    "settings", "files", "sample",
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
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

#[test]
fn computation_modules_do_not_use_egui_eframe_or_the_app() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for module in COMPUTATION {
        let mut files = Vec::new();
        sources(&src.join(module), &mut files);
        files.push(src.join(format!("{module}.rs")));
        for file in files.iter().filter(|f| f.is_file()) {
            let text = std::fs::read_to_string(file).unwrap();
            for banned in ["egui", "eframe", "crate::app", "crate::cli", "rfd::"] {
                assert!(
                    !text.contains(banned),
                    "{} mentions `{banned}`: computation must not depend on the UI",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "only {checked} files checked: did the layout change?"
    );
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
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
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
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for front in ["app", "cli"] {
        let mut files = Vec::new();
        sources(&src.join(front), &mut files);
        for file in &files {
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
