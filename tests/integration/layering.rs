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
