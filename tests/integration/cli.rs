//! The command line, run as a user would: exit codes, stdout, stderr, files.

use std::path::Path;
use std::process::Command;

use crossrec::embed::Embeddings;

use crate::common::{TinySpec, sample_manifest, tempdir, write_tiny_bert};

fn crossrec(args: &[&str], cache: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crossrec"))
        .args(args)
        .env("CROSSREC_CACHE_DIR", cache)
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("the binary runs")
}

#[test]
fn embed_writes_an_npy_matrix_in_input_order() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let input = dir.path().join("texts.txt");
    std::fs::write(&input, "coffee\r\n\nhiking boots\n猫 and tea\n").unwrap();
    let output = dir.path().join("out.npy");
    let run = crossrec(
        &[
            "embed",
            "--model",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("texts.txt:2: empty text"), "{stderr}");
    let matrix = Embeddings::read_npy(&output).unwrap();
    assert_eq!((matrix.len(), matrix.dim()), (4, crate::common::TINY_DIM));

    let single = dir.path().join("one.npy");
    std::fs::write(&input, "hiking boots\n").unwrap();
    let run = crossrec(
        &[
            "embed",
            "--model",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            single.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(run.status.success());
    let one = Embeddings::read_npy(&single).unwrap();
    assert!(crate::common::max_abs_diff(one.row(0), matrix.row(2)) < 1e-5);
}

#[test]
fn encode_fills_the_cache_for_the_sample_and_then_reuses_it() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let manifest = sample_manifest();
    let args = [
        "encode",
        "--dataset",
        manifest.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ];
    let cache = dir.path().join("cache");
    let first = crossrec(&args, &cache);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains("products: 144 encoded, 0 from cache"),
        "{stdout}"
    );
    assert!(stdout.contains("user texts:"), "{stdout}");
    let second = crossrec(&args, &cache);
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        stdout.contains("products: 0 encoded, 144 from cache"),
        "{stdout}"
    );
    assert!(
        stdout.contains("articles: 0 encoded, 144 from cache"),
        "{stdout}"
    );
}

#[test]
fn errors_go_to_stderr_with_a_non_zero_exit() {
    let dir = tempdir();
    let missing = dir.path().join("nope.toml");
    let run = crossrec(
        &["encode", "--dataset", missing.to_str().unwrap()],
        dir.path(),
    );
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("nope.toml"),
        "{stderr}"
    );

    let input = dir.path().join("t.txt");
    std::fs::write(&input, "ok\n").unwrap();
    let run = crossrec(
        &[
            "embed",
            "--model",
            "./definitely/not/here",
            "--input",
            input.to_str().unwrap(),
            "--output",
            "x.npy",
        ],
        dir.path(),
    );
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("not found") && stderr.contains("install_model.py"),
        "{stderr}"
    );
}

#[test]
fn every_subcommand_has_help() {
    let dir = tempdir();
    for sub in ["embed", "encode"] {
        let run = crossrec(&[sub, "--help"], dir.path());
        assert!(run.status.success());
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(stdout.contains("--model"), "{sub}: {stdout}");
    }
}
