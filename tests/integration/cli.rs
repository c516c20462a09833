//! The command line, run as a user would: exit codes, stdout, stderr, files.

use std::path::{Path, PathBuf};

use crossrec::embed::Embeddings;

use crate::common::{
    TinySpec, crossrec, crossrec_command, sample_manifest, sample_with_vector_files, tempdir,
    write_tiny_bert,
};

/// `crossrec embed --model M --input I --output O`.
fn embed_args<'a>(model: &'a Path, input: &'a Path, output: &'a Path) -> Vec<&'a str> {
    let path = |p: &'a Path| p.to_str().expect("test paths are UTF-8");
    vec![
        "embed",
        "--model",
        path(model),
        "--input",
        path(input),
        "--output",
        path(output),
    ]
}

#[test]
fn embed_writes_an_npy_matrix_in_input_order() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let input = dir.path().join("texts.txt");
    std::fs::write(&input, "coffee\r\n\nhiking boots\n猫 and tea\n").unwrap();
    let output = dir.path().join("out.npy");
    let run = crossrec(&embed_args(&model, &input, &output), dir.path());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("texts.txt:2: empty text"), "{stderr}");
    let matrix = Embeddings::read_npy(&output).unwrap();
    assert_eq!((matrix.len(), matrix.dim()), (4, crate::common::TINY_DIM));

    let single = dir.path().join("one.npy");
    std::fs::write(&input, "hiking boots\n").unwrap();
    let run = crossrec(&embed_args(&model, &input, &single), dir.path());
    assert!(run.status.success());
    let one = Embeddings::read_npy(&single).unwrap();
    assert!(crate::common::max_abs_diff(one.row(0), matrix.row(2)) < 1e-5);
}

/// `embed` with each kernel cap (the fallbacks forced through the
/// environment, as a user with an older processor gets them) and each
/// precision; bad devices, caps and precisions are clear errors, never a
/// silent fallback.
#[test]
fn every_kernel_level_and_precision_runs_and_bad_choices_are_refused() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let input = dir.path().join("texts.txt");
    std::fs::write(&input, "coffee beans\nhiking boots\ncast iron pan\n").unwrap();
    let run = |args: &[&str], cap: Option<&str>| {
        let output = dir.path().join("out.npy");
        let mut all = embed_args(&model, &input, &output);
        all.extend(args);
        let mut command = crossrec_command(dir.path());
        command.args(&all);
        if let Some(cap) = cap {
            command.env("CROSSREC_CPU_KERNELS", cap);
        }
        let result = command.output().expect("the binary runs");
        let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
        let matrix = result
            .status
            .success()
            .then(|| Embeddings::read_npy(&output).unwrap());
        (matrix, stderr)
    };
    let (best, _) = run(&[], None);
    let best = best.expect("the default runs");
    for cap in ["portable", "avx2", "avx512", "amx"] {
        for precision in ["fp32", "int8"] {
            let (matrix, stderr) = run(&["--precision", precision, "--device", "cpu"], Some(cap));
            let matrix = matrix.unwrap_or_else(|| panic!("{cap} {precision}: {stderr}"));
            let bound = if precision == "fp32" { 0.9999 } else { 0.99 };
            for i in 0..3 {
                let c = crate::common::cosine(matrix.row(i), best.row(i));
                assert!(c >= bound, "{cap} {precision}: row {i} cosine {c}");
            }
        }
    }
    let (failed, stderr) = run(&["--device", "cuda:1"], None);
    assert!(failed.is_none());
    assert!(
        stderr.contains("built without CUDA") && stderr.contains("--features cuda"),
        "{stderr}"
    );
    let (failed, stderr) = run(&["--device", "gpu"], None);
    assert!(failed.is_none());
    assert!(
        stderr.contains("expected auto, cpu, cuda or cuda:N"),
        "{stderr}"
    );
    let (failed, stderr) = run(&["--precision", "fp16"], None);
    assert!(failed.is_none());
    assert!(
        stderr.contains("fp32") && stderr.contains("int8"),
        "{stderr}"
    );
    let (failed, stderr) = run(&[], Some("sse"));
    assert!(failed.is_none());
    assert!(
        stderr.contains("CROSSREC_CPU_KERNELS is \"sse\"") && stderr.contains("portable"),
        "{stderr}"
    );
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
    for sub in [
        "embed",
        "encode",
        "recommend",
        "eval",
        "search",
        "neighbors",
    ] {
        let run = crossrec(&[sub, "--help"], dir.path());
        assert!(run.status.success());
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(stdout.contains("--model"), "{sub}: {stdout}");
    }
}

fn tiny_sample_args<'a>(sub: &'a str, model: &'a str, manifest: &'a str) -> Vec<&'a str> {
    vec![
        sub,
        "--dataset",
        manifest,
        "--model",
        model,
        "--from",
        "products",
        "--to",
        "articles",
    ]
}

#[test]
fn recommend_prints_a_table_json_and_csv_with_the_breakdown() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let manifest = sample_manifest();
    let (model, manifest) = (model.to_str().unwrap(), manifest.to_str().unwrap());
    let mut args = tiny_sample_args("recommend", model, manifest);
    args.extend(["--user", "u001", "-k", "5"]);
    let cache = dir.path().join("cache");

    let table = crossrec(&args, &cache);
    let stdout = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.status.success(),
        "{}",
        String::from_utf8_lossy(&table.stderr)
    );
    assert!(
        stdout.contains("content") && stdout.contains("because of"),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(char::is_numeric))
            .count(),
        5
    );

    // The first run answers without the learned models, says so, and
    // trains nothing; `--train` trains and stores them, and every later run
    // reuses them and ranks the same; a damaged file is reported and
    // replaced.
    let stderr = String::from_utf8_lossy(&table.stderr);
    assert!(
        stderr.contains("no transfer model or sequence model is stored for this data yet")
            && stderr
                .contains("adapted unavailable: no transfer model: not trained for this data yet")
            && stderr.contains("--train"),
        "{stderr}"
    );
    assert!(!cache.join("adapters").exists());
    let mut train_args = args.clone();
    train_args.push("--train");
    let table = crossrec(&train_args, &cache);
    let stderr = String::from_utf8_lossy(&table.stderr);
    assert!(
        table.status.success() && stderr.contains("saved it for the next run"),
        "{stderr}"
    );
    let again = crossrec(&args, &cache);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("using the transfer model trained earlier"),
        "{stderr}"
    );
    assert_eq!(again.stdout, table.stdout);
    let stored: Vec<_> = std::fs::read_dir(cache.join("adapters"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(stored.len(), 1);
    std::fs::write(&stored[0], b"not a model").unwrap();
    let damaged = crossrec(&args, &cache);
    let stderr = String::from_utf8_lossy(&damaged.stderr);
    assert!(
        damaged.status.success()
            && stderr.contains("was not used")
            && stderr.contains("no transfer model is stored for this data yet"),
        "{stderr}"
    );
    let repaired = crossrec(&train_args, &cache);
    let stderr = String::from_utf8_lossy(&repaired.stderr);
    assert!(
        stderr.contains("was not used") && stderr.contains("not a safetensors file"),
        "{stderr}"
    );
    assert_eq!(repaired.stdout, table.stdout);
    assert!(crossrec(&args, &cache).status.success());

    let mut json_args = args.clone();
    json_args.extend(["--format", "json"]);
    let json = crossrec(&json_args, &cache);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    let recs = doc["recommendations"].as_array().unwrap();
    assert_eq!(recs.len(), 5);
    assert_eq!(doc["user"], "u001");
    assert!(recs[0]["components"]["content"].is_number());
    assert!(
        recs[0]["because_of"]["item_id"]
            .as_str()
            .unwrap()
            .starts_with('P')
    );
    let sum: f64 = recs[0]["contributions"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((sum - recs[0]["score"].as_f64().unwrap()).abs() < 1e-4);

    let mut csv_args = args.clone();
    csv_args.extend(["--format", "csv", "--weights", "popularity=1,content=0"]);
    let csv = crossrec(&csv_args, &cache);
    let text = String::from_utf8_lossy(&csv.stdout);
    assert!(
        text.starts_with(
            "rank,item_id,score,content,mapped,adapted,sequence,graph,kg,popularity,history,"
        ),
        "{text}"
    );
    assert_eq!(text.lines().count(), 6);

    let mut unknown = tiny_sample_args("recommend", model, manifest);
    unknown.extend(["--user", "nobody"]);
    let run = crossrec(&unknown, &cache);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("unknown user 'nobody'"));

    let mut bad = args.clone();
    bad.extend(["--weights", "colour=2"]);
    let run = crossrec(&bad, &cache);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("not a component"));
}

/// The fitted-direction snapshots in `cache`.
fn snapshots(cache: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache.join("fitted"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn recommend_reads_its_fitted_direction_back_only_while_every_input_is_unchanged() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for file in [
        "crossrec.toml",
        "products.csv",
        "articles.csv",
        "interactions.csv",
        "user_texts.csv",
    ] {
        std::fs::copy(sample_manifest().with_file_name(file), data.join(file)).unwrap();
    }
    let manifest = data.join("crossrec.toml");
    let (model, manifest) = (model.to_str().unwrap(), manifest.to_str().unwrap());
    let mut args = tiny_sample_args("recommend", model, manifest);
    args.extend(["--user", "u001", "-k", "5", "--format", "csv"]);
    let cache = dir.path().join("cache");
    let run = |args: &[&str]| {
        let out = crossrec(args, &cache);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{stderr}");
        (String::from_utf8_lossy(&out.stdout).to_string(), stderr)
    };

    // Without the learned models stored, nothing is kept: the next run
    // (with them) must fit again.
    let (_, stderr) = run(&args);
    assert!(!stderr.contains("stored the fitted direction"), "{stderr}");
    assert!(snapshots(&cache).is_empty());
    let mut train = args.clone();
    train.push("--train");
    let (trained, stderr) = run(&train);
    assert!(stderr.contains("stored the fitted direction"), "{stderr}");
    assert_eq!(snapshots(&cache).len(), 1);

    // Read back: the same answer, said where it came from, nothing fitted.
    let (read, stderr) = run(&args);
    assert_eq!(read, trained);
    assert!(
        stderr.contains("read the dataset, its vectors and the fitted relations from")
            && stderr.contains("using the transfer model trained earlier")
            && !stderr.contains("stored the fitted direction"),
        "{stderr}"
    );
    // Other weights rank what it holds, exactly as a full fit would.
    let mut weighted = args.clone();
    weighted.extend(["--weights", "popularity=2,content=0"]);
    let (from_snapshot, stderr) = run(&weighted);
    assert!(stderr.contains("fitted relations from"), "{stderr}");
    let fresh_cache = dir.path().join("fresh");
    std::fs::create_dir_all(&fresh_cache).unwrap();
    for sub in ["adapters", "sequence-models"] {
        let to = fresh_cache.join(sub);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(cache.join(sub)).unwrap().flatten() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    let mut fresh = weighted.clone();
    let fresh_dir = fresh_cache.to_str().unwrap().to_string();
    fresh.extend(["--cache-dir", &fresh_dir]);
    let (fitted, stderr) = run(&fresh);
    assert!(!stderr.contains("fitted relations from"), "{stderr}");
    assert_eq!(from_snapshot, fitted);

    // A corrupt or cut snapshot is reported and replaced, never used.
    let snapshot = snapshots(&cache).remove(0);
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&snapshot, &bytes).unwrap();
    let (answer, stderr) = run(&args);
    assert_eq!(answer, trained);
    assert!(
        stderr.contains("the stored fitted direction was not used")
            && stderr.contains("checksum mismatch")
            && stderr.contains("stored the fitted direction"),
        "{stderr}"
    );
    let bytes = std::fs::read(&snapshot).unwrap();
    std::fs::write(&snapshot, &bytes[..bytes.len() / 3]).unwrap();
    let (answer, stderr) = run(&args);
    assert_eq!(answer, trained);
    assert!(stderr.contains("cut short"), "{stderr}");
    // Not a file at all: refused unopened, and not written over.
    std::fs::remove_file(&snapshot).unwrap();
    std::fs::create_dir(&snapshot).unwrap();
    let (answer, stderr) = run(&args);
    assert_eq!(answer, trained);
    assert!(
        stderr.contains("not a regular file")
            && stderr.contains("warning: the fitted direction was not stored"),
        "{stderr}"
    );
    std::fs::remove_dir(&snapshot).unwrap();
    run(&args);

    // A learned model replaced since makes it stale.
    let adapter = std::fs::read_dir(cache.join("adapters"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::write(&adapter, b"not a model").unwrap();
    let (_, stderr) = run(&args);
    assert!(
        stderr.contains("changed since it was written")
            && stderr.contains("no transfer model is stored for this data yet"),
        "{stderr}"
    );
    // Said once: the stale snapshot is gone, not read again.
    let (_, stderr) = run(&args);
    assert!(
        !stderr.contains("fitted direction was not used") && snapshots(&cache).is_empty(),
        "{stderr}"
    );
    run(&train);

    // A changed input file gets a new snapshot in place of the old one.
    let interactions = data.join("interactions.csv");
    let mut text = std::fs::read_to_string(&interactions).unwrap();
    text.push_str("u001,articles,A001,5,1700000000\n");
    std::fs::write(&interactions, text).unwrap();
    let old = snapshots(&cache);
    let (after, stderr) = run(&train);
    assert!(
        !stderr.contains("fitted relations from") && stderr.contains("stored the fitted direction"),
        "{stderr}"
    );
    assert!(!after.contains(",A001,"), "{after}");
    let new = snapshots(&cache);
    assert_eq!(new.len(), 1);
    assert_ne!(new, old);
}

#[test]
fn eval_tune_saves_weights_that_recommend_then_uses() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let manifest = sample_manifest();
    let (model, manifest) = (model.to_str().unwrap(), manifest.to_str().unwrap());
    let cache = dir.path().join("cache");
    let run = |args: &[&str]| crossrec(args, &cache);
    let mut args = tiny_sample_args("eval", model, manifest);
    args.extend(["--format", "json", "--tune"]);
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let names: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "random",
            "content",
            "mapped",
            "adapted",
            "sequence",
            "graph",
            "kg",
            "popularity",
            "hybrid",
            "tuned hybrid"
        ]
    );
    assert_eq!(report["seed"], 42);
    assert_eq!(report["rows"][0]["metrics"][3]["k"], 10);
    assert!(report["rows"][0]["metrics"][3]["ndcg"]["mean"].is_number());
    assert_eq!(report["sequence"]["status"], "trained");
    assert!(report["rows"][0]["mrr"]["mean"].is_number());
    assert_eq!(report["protocol"]["name"], "cold-start");
    assert_eq!(report["adapted"]["status"], "trained");
    // The sample has far fewer than 30 validation users: the search is
    // reported as unreliable, with its interval, and not saved unasked.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the search is unreliable: tuned on"),
        "{stderr}"
    );
    assert!(!stderr.contains("saved the tuned weights"), "{stderr}");
    let notes = report["notes"].to_string();
    assert!(notes.contains("tuning is unreliable"), "{notes}");
    assert!(notes.contains("gain over the starting weights"), "{notes}");
    let mut rec = tiny_sample_args("recommend", model, manifest);
    rec.extend(["--user", "u002"]);
    let out = run(&rec);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("using tuned settings"));
    // Asked to, it keeps them.
    args.push("--save-unreliable");
    let out = run(&args);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("saved the tuned weights"));

    let mut rec = tiny_sample_args("recommend", model, manifest);
    rec.extend(["--user", "u002"]);
    let out = run(&rec);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("using tuned settings"));

    let mut table = tiny_sample_args("eval", model, manifest);
    table.extend(["--seed", "7"]);
    let out = run(&table);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("NDCG@10") && stdout.contains("seed 7"),
        "{stdout}"
    );
    // Each learned model's line, and its validation score epoch by epoch
    // (the transfer model's from its start).
    for line in [
        "adapted: trained on ",
        "sequence: trained on ",
        "adapted: validation NDCG@10 by epoch from 0: ",
        "sequence: validation NDCG@10 by epoch from 1: ",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
}

#[test]
fn eval_writes_the_sampled_candidate_lists_it_ranked() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let manifest = sample_manifest();
    let (model, manifest) = (model.to_str().unwrap(), manifest.to_str().unwrap());
    let cache = dir.path().join("cache");
    let lists = dir.path().join("candidates.csv");
    let mut args = tiny_sample_args("eval", model, manifest);
    args.extend([
        "--format",
        "json",
        "--candidates",
        "sampled:5",
        "--negatives",
        "any",
        "--write-candidates",
        lists.to_str().unwrap(),
    ]);
    let out = crossrec(&args, &cache);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(report["candidates"]["sampled"]["n"], 5);
    assert_eq!(report["candidates"]["sampled"]["negatives"], "any");
    assert!(
        report["notes"].to_string().contains("as LLMCDSR samples"),
        "{}",
        report["notes"]
    );
    let text = std::fs::read_to_string(&lists).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("user_id,domain,item_id,is_target"));
    let mut per_user: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 4, "{line}");
        let entry = per_user.entry(f[0]).or_default();
        entry.0 += 1;
        entry.1 += usize::from(f[3] == "1");
    }
    assert_eq!(
        per_user.len() as u64,
        report["evaluated_users"].as_u64().unwrap(),
        "one list per evaluated user"
    );
    for (user, (rows, targets)) in per_user {
        assert!(targets >= 1, "{user} has a target");
        assert_eq!(rows, targets + 5, "{user}: its targets and 5 negatives");
    }
    // Only sampled lists can be written, as a table, and never over an input.
    for (extra, want) in [
        (vec!["--write-candidates", "x.csv"], "sampled:N"),
        (
            vec!["--candidates", "sampled:5", "--write-candidates", "x.npy"],
            "writes a table",
        ),
        (
            vec!["--candidates", "sampled:5", "--write-candidates", manifest],
            "",
        ),
    ] {
        let mut args = tiny_sample_args("eval", model, manifest);
        args.extend(extra);
        let out = crossrec(&args, &cache);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        std::fs::read_to_string(manifest)
            .unwrap()
            .contains("[[domain]]")
    );
}

#[test]
fn search_and_neighbors_print_tables_json_and_csv_and_refuse_bad_input() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let manifest = sample_manifest();
    let (model, manifest) = (model.to_str().unwrap(), manifest.to_str().unwrap());
    let cache = dir.path().join("cache");
    let base = |sub: &'static str| vec![sub, "--dataset", manifest, "--model", model];
    let ok = |args: &[&str]| {
        let out = crossrec(args, &cache);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let mut search = base("search");
    search.extend(["--query", "espresso machine", "-k", "3"]);
    let table = ok(&search);
    assert!(
        table.contains("nearest in products") && table.contains("nearest in articles"),
        "{table}"
    );
    let mut json = search.clone();
    json.extend(["--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&ok(&json)).expect("valid JSON");
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 6, "3 per domain");
    assert_eq!(doc["query"], "espresso machine");
    let cosines: Vec<f64> = results[..3]
        .iter()
        .map(|r| r["cosine"].as_f64().unwrap())
        .collect();
    assert!(cosines.windows(2).all(|w| w[0] >= w[1]), "{cosines:?}");
    let mut one = search.clone();
    one.extend(["--domain", "articles", "--format", "csv"]);
    let csv = ok(&one);
    assert!(
        csv.starts_with("relation,domain,rank,item_id,cosine,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 4);
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.starts_with("neighbour,articles,"))
    );

    let mut neighbors = base("neighbors");
    neighbors.extend(["--item", "P005", "--domain", "products", "-k", "4"]);
    let table = ok(&neighbors);
    assert!(
        table.contains("linked in articles through shared users"),
        "{table}"
    );
    let mut json = neighbors.clone();
    json.extend(["--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&ok(&json)).expect("valid JSON");
    assert_eq!(doc["item_id"], "P005");
    assert!(doc["interactions"].as_u64().unwrap() > 0);
    let results = doc["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .all(|r| r["item_id"] != "P005" || r["domain"] != "products"),
        "an item is not its own neighbour"
    );
    let links: Vec<&serde_json::Value> =
        results.iter().filter(|r| r["relation"] == "link").collect();
    assert!(!links.is_empty());
    assert!(
        links
            .iter()
            .all(|l| l["domain"] == "articles" && l["shared_users"].as_u64() > Some(0))
    );

    // Bad input: clear errors, non-zero exit.
    let fails = |args: &[&str], expected: &str| {
        let out = crossrec(args, &cache);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    };
    let mut unknown = base("neighbors");
    unknown.extend(["--item", "P999", "--domain", "products"]);
    fails(&unknown, "unknown item 'P999' in domain 'products'");
    let mut wrong_domain = base("neighbors");
    wrong_domain.extend(["--item", "P005", "--domain", "films"]);
    fails(
        &wrong_domain,
        "unknown domain 'films'; the dataset has: products, articles",
    );
    let mut empty = base("search");
    empty.extend(["--query", "   "]);
    fails(&empty, "the query is empty");
    let mut zero = base("search");
    zero.extend(["--query", "tea", "-k", "0"]);
    fails(&zero, "must be at least 1");
}

#[test]
fn search_with_the_real_model_finds_the_planted_items() {
    if crate::common::real_model().is_none() {
        return;
    }
    let dir = tempdir();
    let manifest = sample_manifest();
    let args = [
        "search",
        "--dataset",
        manifest.to_str().unwrap(),
        "--query",
        "espresso machine",
        "-k",
        "3",
        "--format",
        "json",
    ];
    let out = crossrec(&args, &dir.path().join("cache"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["item_id"].as_str().unwrap())
        .collect();
    // P005 is the sample's espresso machine, A008 its article on choosing one.
    assert!(ids[..3].contains(&"P005"), "{ids:?}");
    assert!(ids[3..].contains(&"A008"), "{ids:?}");
}

#[test]
fn the_chinese_sample_ranks_with_columns_aligned_in_terminal_width() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let model = model.to_str().unwrap();
    let args = [
        "recommend",
        "--sample",
        "zh",
        "--model",
        model,
        "--from",
        "商品",
        "--to",
        "帖子",
        "--user",
        "u001",
        "-k",
        "5",
    ];
    let run = crossrec(&args, &dir.path().join("cache"));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let header = stdout
        .lines()
        .find(|l| l.starts_with("rank"))
        .unwrap_or_else(|| panic!("no header: {stdout}"));
    let column = crossrec::text::width(&header[..header.find("because of").unwrap()]);
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(char::is_numeric))
        .collect();
    assert_eq!(rows.len(), 5, "{stdout}");
    for row in rows {
        assert!(row.contains("TZ"), "{row}");
        // The "because of" text starts at the header's column, after the
        // padded Chinese title, in every row.
        let mut used = 0;
        let at = row
            .char_indices()
            .find(|&(_, c)| {
                let reached = used >= column;
                used += crossrec::text::width(c.encode_utf8(&mut [0; 4]));
                reached
            })
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("row shorter than the header: {row}"));
        assert!(
            row[..at].ends_with("  ") && !row[at..].starts_with(' '),
            "misaligned: {row:?} at column {column}"
        );
    }

    // --sample and --dataset exclude each other.
    let manifest = sample_manifest();
    let both = crossrec(
        &[
            "eval",
            "--sample",
            "zh",
            "--dataset",
            manifest.to_str().unwrap(),
            "--from",
            "商品",
            "--to",
            "帖子",
        ],
        &dir.path().join("cache"),
    );
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr).contains("cannot be used with"));
}

#[test]
fn an_unknown_domain_is_reported_before_the_model_is_loaded() {
    let dir = tempdir();
    for sub in ["recommend", "eval"] {
        let mut args = vec![
            sub,
            "--sample",
            "en",
            "--model",
            "/no/such/model",
            "--from",
            "商品",
            "--to",
            "articles",
        ];
        if sub == "recommend" {
            args.extend(["--user", "u001"]);
        }
        let run = crossrec(&args, &dir.path().join("cache"));
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("商品"), "{stderr}");
        assert!(
            !stderr.contains("/no/such/model"),
            "{sub} loaded the model first: {stderr}"
        );
    }
}

/// Reads a CSV file as records (header first).
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn export_writes_vectors_projection_neighbours_and_recommendations() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let model = model.to_str().unwrap();
    let cache = dir.path().join("cache");
    let out = |name: &str| dir.path().join(name);
    let export = |extra: &[&str]| {
        let mut args = vec!["export", "--sample", "en", "--model", model];
        args.extend(extra);
        crossrec(&args, &cache)
    };
    let ok = |run: std::process::Output| {
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    };

    // Vectors: .npy + ids, and CSV with the same values to the last bit.
    let npy = out("vectors.npy");
    ok(export(&[
        "--what",
        "embeddings",
        "--output",
        npy.to_str().unwrap(),
    ]));
    let matrix = crossrec::embed::Embeddings::read_npy(&npy).unwrap();
    assert_eq!((matrix.len(), matrix.dim()), (288, crate::common::TINY_DIM));
    let ids = csv_rows(&out("vectors.ids.csv"));
    assert_eq!(ids[0], ["row", "domain", "item_id"]);
    assert_eq!(ids[1], ["0", "products", "P001"]);
    assert_eq!(ids[145], ["144", "articles", "A001"]);
    let vectors_csv = out("vectors.csv");
    ok(export(&[
        "--what",
        "embeddings",
        "--output",
        vectors_csv.to_str().unwrap(),
    ]));
    let rows = csv_rows(&vectors_csv);
    assert_eq!(rows.len(), 289);
    for (i, row) in rows[1..].iter().enumerate() {
        assert_eq!(row[..2], ids[i + 1][1..]);
        let values: Vec<f32> = row[2..].iter().map(|v| v.parse().unwrap()).collect();
        assert_eq!(values, matrix.row(i), "row {i}");
    }

    // The projection of one domain.
    let projection = out("projection.csv");
    ok(export(&[
        "--what",
        "projection",
        "--domain",
        "articles",
        "--output",
        projection.to_str().unwrap(),
    ]));
    let rows = csv_rows(&projection);
    assert_eq!(rows[0], ["item_id", "domain", "x", "y", "text"]);
    assert_eq!(rows.len(), 145);
    assert!(
        rows[1..]
            .iter()
            .all(|r| r[1] == "articles" && r[2].parse::<f32>().is_ok())
    );

    // Neighbours: k per item and domain, best first, never the item itself.
    let neighbours = out("neighbours.csv");
    ok(export(&[
        "--what",
        "neighbors",
        "-k",
        "3",
        "--output",
        neighbours.to_str().unwrap(),
    ]));
    let rows = csv_rows(&neighbours);
    assert_eq!(rows.len(), 1 + 288 * 2 * 3);
    for group in rows[1..].chunks(3) {
        let cosines: Vec<f32> = group.iter().map(|r| r[5].parse().unwrap()).collect();
        assert!(cosines.windows(2).all(|w| w[0] >= w[1]), "{group:?}");
        assert!(
            group.iter().all(|r| (&r[0], &r[1]) != (&r[3], &r[4])),
            "{group:?}"
        );
    }

    // Recommendations: the rows `recommend --format csv` prints, per user.
    let recs = out("recs.csv");
    ok(export(&[
        "--what",
        "recommendations",
        "--from",
        "products",
        "--to",
        "articles",
        "--users",
        "u001,u002",
        "-k",
        "4",
        "--output",
        recs.to_str().unwrap(),
    ]));
    let rows = csv_rows(&recs);
    assert_eq!(rows[0][0], "user_id");
    assert_eq!(rows.len(), 1 + 2 * 4);
    let single = crossrec(
        &[
            "recommend",
            "--sample",
            "en",
            "--model",
            model,
            "--from",
            "products",
            "--to",
            "articles",
            "--user",
            "u001",
            "-k",
            "4",
            "--format",
            "csv",
        ],
        &cache,
    );
    let expected: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(single.stdout.as_slice())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    // Equal, numbers to within float rounding (the scores are summed in
    // parallel).
    for (ours, theirs) in rows[1..5].iter().zip(&expected[1..]) {
        assert_eq!(ours[0], "u001");
        assert_eq!(ours.len(), theirs.len() + 1);
        for (a, b) in ours[1..].iter().zip(theirs) {
            match (a.parse::<f32>(), b.parse::<f32>()) {
                (Ok(x), Ok(y)) => assert!((x - y).abs() <= 1e-5, "{ours:?} vs {theirs:?}"),
                _ => assert_eq!(a, b),
            }
        }
    }

    // What cannot be done says why, before any work.
    let x = out("x.csv");
    for (extra, expected) in [
        (
            vec!["--what", "neighbors", "--format", "npy"],
            "is a table, not a matrix",
        ),
        (
            vec!["--what", "recommendations"],
            "needs --from SOURCE and --to TARGET",
        ),
        (
            vec!["--what", "embeddings", "--domain", "films"],
            "unknown domain 'films'",
        ),
        (
            vec!["--what", "embeddings", "--users", "u001"],
            "are for --what recommendations",
        ),
        (
            vec!["--what", "neighbors", "--train"],
            "are for --what recommendations",
        ),
    ] {
        let mut args = extra.clone();
        args.extend(["--output", x.to_str().unwrap()]);
        let run = export(&args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
    }
    let run = export(&["--what", "embeddings", "--output", "/no/such/folder/x.csv"]);
    assert_eq!(run.status.code(), Some(1));
}

#[test]
fn vectors_exported_and_brought_back_give_the_same_recommendations() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let model = model.to_str().unwrap();
    let cache = dir.path().join("cache");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let manifest = sample_with_vector_files(&data, true);
    for domain in ["products", "articles"] {
        let out = data.join(format!("{domain}.npy"));
        let run = crossrec(
            &[
                "export",
                "--sample",
                "en",
                "--model",
                model,
                "--what",
                "embeddings",
                "--domain",
                domain,
                "--output",
                out.to_str().unwrap(),
            ],
            &cache,
        );
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    // Shuffle one domain's rows (and its ids with them): ids decide.
    let ids_path = data.join("articles.ids.csv");
    let ids = std::fs::read_to_string(&ids_path).unwrap();
    let mut lines: Vec<&str> = ids.lines().collect();
    let matrix = crossrec::embed::Embeddings::read_npy(&data.join("articles.npy")).unwrap();
    let order: Vec<usize> = (0..matrix.len()).rev().collect();
    let shuffled: Vec<f32> = order.iter().flat_map(|&i| matrix.row(i).to_vec()).collect();
    crossrec::embed::Embeddings::new(matrix.dim(), shuffled)
        .write_npy(&data.join("articles.npy"))
        .unwrap();
    lines[1..].reverse();
    std::fs::write(&ids_path, lines.join("\n")).unwrap();

    let recommend = |dataset: &[&str]| {
        let mut args = vec!["recommend"];
        args.extend(dataset);
        args.extend([
            "--model",
            model,
            "--from",
            "products",
            "--to",
            "articles",
            "--user",
            "u001",
            "--format",
            "csv",
            "--weights",
            "adapted=0,kg=0",
        ]);
        let run = crossrec(&args, &cache);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        (
            String::from_utf8_lossy(&run.stdout).into_owned(),
            run.stderr,
        )
    };
    // Entities of a domain whose vectors came from a file are chosen by
    // rarity, not by the model (whose space they may not share), so the
    // knowledge graph's explanation columns may differ; the rest may not.
    let without_kg = |csv: &str| -> Vec<String> {
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let keep: Vec<usize> = (0..headers.len())
            .filter(|&c| !["because_of_kg_link", "because_of_entities"].contains(&&headers[c]))
            .collect();
        reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                keep.iter().map(|&c| &r[c]).collect::<Vec<_>>().join(",")
            })
            .collect()
    };
    let (original, _) = recommend(&["--sample", "en"]);
    let (imported, stderr) = recommend(&["--dataset", manifest.to_str().unwrap()]);
    assert_eq!(without_kg(&imported), without_kg(&original));
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(stderr.contains("articles: 144 vectors of"), "{stderr}");

    // A query cannot be encoded into vectors made elsewhere.
    let run = crossrec(
        &[
            "search",
            "--dataset",
            manifest.to_str().unwrap(),
            "--model",
            model,
            "--query",
            "tea",
        ],
        &cache,
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("without the model that made them"));
}

#[test]
fn bad_vector_files_are_clear_errors() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let model = model.to_str().unwrap();
    let write = |path: &Path, rows: usize, dim: usize, value: &dyn Fn(usize, usize) -> f32| {
        let array = ndarray::Array2::from_shape_fn((rows, dim), |(i, j)| value(i, j));
        ndarray_npy::write_npy(path, &array).unwrap();
    };
    // (name, how to break the products' vectors, what the user must read)
    type Case<'a> = (&'a str, Box<dyn Fn(&Path) + 'a>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "wrong count",
            Box::new(|d: &Path| {
                write(&d.join("products.npy"), 10, 8, &|i, j| (i + j + 1) as f32);
            }),
            "products.npy: 10 rows, but domain 'products' has 144 items",
        ),
        (
            "other dimension",
            Box::new(|d: &Path| {
                write(&d.join("products.npy"), 144, 5, &|i, j| (i + j + 1) as f32);
            }),
            "must share one space",
        ),
        (
            "NaN",
            Box::new(|d: &Path| {
                write(
                    &d.join("products.npy"),
                    144,
                    crate::common::TINY_DIM,
                    &|i, j| {
                        if i == 3 && j == 2 { f32::NAN } else { 1.0 }
                    },
                );
            }),
            "row 3 (item 'P004') holds NaN at column 2",
        ),
        (
            "zero",
            Box::new(|d: &Path| {
                write(
                    &d.join("products.npy"),
                    144,
                    crate::common::TINY_DIM,
                    &|i, _| {
                        if i == 7 { 0.0 } else { 1.0 }
                    },
                );
            }),
            "1 zero vectors (no direction, so no similarity): row 7 ('P008')",
        ),
        (
            "not npy",
            Box::new(|d: &Path| {
                std::fs::write(d.join("products.npy"), "not numpy").unwrap();
            }),
            "products.npy: not a float32 [n, dim] .npy file",
        ),
    ];
    for (name, setup, expected) in cases {
        let data = dir.path().join(name.replace(' ', "-"));
        std::fs::create_dir_all(&data).unwrap();
        let manifest = sample_with_vector_files(&data, false);
        // articles keep a good file; products get the bad one.
        write(
            &data.join("articles.npy"),
            144,
            crate::common::TINY_DIM,
            &|i, j| ((i * 7 + j) % 5) as f32 + 1.0,
        );
        setup(&data);
        let run = crossrec(
            &[
                "eval",
                "--dataset",
                manifest.to_str().unwrap(),
                "--model",
                model,
                "--from",
                "products",
                "--to",
                "articles",
            ],
            &dir.path().join("cache"),
        );
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }

    // Ids that do not match the items are counted and listed with their line.
    let data = dir.path().join("ids");
    std::fs::create_dir_all(&data).unwrap();
    let manifest = sample_with_vector_files(&data, true);
    for domain in ["products", "articles"] {
        write(
            &data.join(format!("{domain}.npy")),
            144,
            crate::common::TINY_DIM,
            &|i, j| ((i * 3 + j) % 7) as f32 + 1.0,
        );
        let prefix = if domain == "products" { "P" } else { "A" };
        let mut ids = String::from("row,item_id\n");
        for i in 1..=144 {
            let id = if domain == "products" && i == 5 {
                "NOPE".to_string()
            } else {
                format!("{prefix}{i:03}")
            };
            ids.push_str(&format!("{},{id}\n", i - 1));
        }
        std::fs::write(data.join(format!("{domain}.ids.csv")), ids).unwrap();
    }
    let run = crossrec(
        &[
            "eval",
            "--dataset",
            manifest.to_str().unwrap(),
            "--model",
            model,
            "--from",
            "products",
            "--to",
            "articles",
        ],
        &dir.path().join("cache"),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr
            .contains("products.ids.csv: 1 ids are not items of domain 'products': line 6: 'NOPE'"),
        "{stderr}"
    );

    // Good vectors of any length are scaled to unit length, and it is said.
    let data = dir.path().join("good");
    std::fs::create_dir_all(&data).unwrap();
    let manifest = sample_with_vector_files(&data, false);
    for domain in ["products", "articles"] {
        write(
            &data.join(format!("{domain}.npy")),
            144,
            crate::common::TINY_DIM,
            &|i, j| ((i * 5 + j) % 9) as f32 + 1.0,
        );
    }
    let run = crossrec(
        &[
            "recommend",
            "--dataset",
            manifest.to_str().unwrap(),
            "--model",
            model,
            "--from",
            "products",
            "--to",
            "articles",
            "--user",
            "u001",
        ],
        &dir.path().join("cache"),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("products: 144 of 144 vectors were not unit length and were scaled to it"),
        "{stderr}"
    );
}
