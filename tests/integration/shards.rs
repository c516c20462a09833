//! Encoding past one machine: shards split the texts once, joined they fill
//! the cache with the vectors a whole encode makes, and every way a set of
//! shards can be wrong is refused with what to do.

use std::path::{Path, PathBuf};

use crossrec::embed::Embeddings;

use crate::common::{TinySpec, crossrec, sample_with_vector_files, tempdir, write_tiny_bert};

fn stdout_of(run: &std::process::Output) -> String {
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).into_owned()
}

fn fails_with(run: &std::process::Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected «{expected}» in: {stderr}"
    );
}

/// A copy of the sample (CSV) in `dir`, returning its manifest.
fn sample_copy(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let manifest = sample_with_vector_files(dir, false);
    // Encoded by the model, not read from vector files.
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("embeddings"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&manifest, text).unwrap();
    manifest
}

/// Every vector of the dataset, from `crossrec export` (cache only when
/// the cache already holds them all).
fn vectors(manifest: &Path, model: &str, cache: &Path, out: &Path) -> Embeddings {
    stdout_of(&crossrec(
        &[
            "export",
            "--dataset",
            manifest.to_str().unwrap(),
            "--model",
            model,
            "--what",
            "embeddings",
            "--output",
            out.to_str().unwrap(),
        ],
        cache,
    ));
    Embeddings::read_npy(out).unwrap()
}

#[test]
fn shards_cover_every_text_once_and_fill_the_cache_like_a_whole_encode() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let model = model.to_str().unwrap();
    let manifest = sample_copy(&dir.path().join("data"));
    let manifest_arg = manifest.to_str().unwrap();
    let shard_cache = dir.path().join("shard-cache");
    let mut paths = Vec::new();
    let mut encoded = 0;
    for i in 1..=3 {
        let path = dir.path().join(format!("shard-{i}.parquet"));
        let out = stdout_of(&crossrec(
            &[
                "encode",
                "--dataset",
                manifest_arg,
                "--model",
                model,
                "--shard",
                &format!("{i}/3"),
                "--output",
                path.to_str().unwrap(),
            ],
            &shard_cache,
        ));
        // "shard 1/3: 110 of 323 distinct texts encoded → …"
        let counts: Vec<usize> = out
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(counts[..2], [i, 3], "{out}");
        encoded += counts[2];
        assert_eq!(counts[3], 323, "{out}");
        assert!(counts[2] > 60, "an uneven split: {out}");
        paths.push(path);
    }
    assert_eq!(encoded, 323, "every distinct text in exactly one shard");
    // Nothing went to the cache yet.
    assert!(!shard_cache.exists() || std::fs::read_dir(&shard_cache).unwrap().count() == 0);

    let mut args = vec!["import-shards", "--dataset", manifest_arg, "--model", model];
    args.extend(paths.iter().rev().map(|p| p.to_str().unwrap()));
    let out = stdout_of(&crossrec(&args, &shard_cache));
    assert!(out.contains("imported 323 vectors from 3 shards"), "{out}");
    // The cache now holds everything: encoding does nothing.
    let out = stdout_of(&crossrec(
        &["encode", "--dataset", manifest_arg, "--model", model],
        &shard_cache,
    ));
    assert!(out.contains("products: 0 encoded, 144 from cache"), "{out}");
    assert!(
        out.contains("user texts: 0 encoded, 37 from cache"),
        "{out}"
    );
    // And they are the vectors a whole encode makes.
    let from_shards = vectors(&manifest, model, &shard_cache, &dir.path().join("a.npy"));
    let whole = vectors(
        &manifest,
        model,
        &dir.path().join("whole-cache"),
        &dir.path().join("b.npy"),
    );
    assert_eq!(from_shards.len(), whole.len());
    for i in 0..whole.len() {
        let cos: f32 = from_shards
            .row(i)
            .iter()
            .zip(whole.row(i))
            .map(|(a, b)| a * b)
            .sum();
        assert!(cos > 0.99999, "row {i}: cosine {cos}");
    }
}

#[test]
fn shards_that_do_not_make_one_whole_are_refused() {
    let dir = tempdir();
    let model_dir = dir.path().join("model");
    write_tiny_bert(&model_dir, TinySpec::default());
    let model = model_dir.to_str().unwrap();
    let other_model = dir.path().join("other-model");
    write_tiny_bert(
        &other_model,
        TinySpec {
            seed: 99,
            ..TinySpec::default()
        },
    );
    let manifest = sample_copy(&dir.path().join("data"));
    let manifest_arg = manifest.to_str().unwrap();
    let cache = dir.path().join("cache");
    let shard = |i: usize, n: usize, model: &str| {
        let path = dir
            .path()
            .join(format!("s{i}of{n}-{}.parquet", model.len()));
        stdout_of(&crossrec(
            &[
                "encode",
                "--dataset",
                manifest_arg,
                "--model",
                model,
                "--shard",
                &format!("{i}/{n}"),
                "--output",
                path.to_str().unwrap(),
            ],
            &cache,
        ));
        path
    };
    let import = |paths: &[&Path]| {
        let mut args = vec!["import-shards", "--dataset", manifest_arg, "--model", model];
        args.extend(paths.iter().map(|p| p.to_str().unwrap()));
        crossrec(&args, &cache)
    };
    let (a, b) = (shard(1, 2, model), shard(2, 2, model));
    fails_with(&import(&[&a]), "1 of 2 shards missing: 2/2");
    fails_with(&import(&[&a, &a, &b]), "shard 1/2 is given twice");
    let c = shard(1, 3, model);
    fails_with(&import(&[&a, &b, &c]), "shards of different splits");
    let d = shard(2, 2, other_model.to_str().unwrap());
    fails_with(&import(&[&a, &d]), "made by another model or settings");
    // A vector zeroed (or otherwise edited) in a shard, metadata kept.
    let zeroed = dir.path().join("zeroed.parquet");
    let (schema, batch) = {
        let file = std::fs::File::open(&b).unwrap();
        let builder =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        // The builder's schema holds the file's metadata (the fingerprint).
        let schema = builder.schema().clone();
        let batches: Vec<_> = builder.build().unwrap().map(Result::unwrap).collect();
        let batch = arrow_select::concat::concat_batches(&schema, &batches).unwrap();
        (schema, batch)
    };
    let vectors = arrow_array::cast::AsArray::as_fixed_size_list(batch.column(2).as_ref());
    let mut values: Vec<f32> = arrow_array::cast::AsArray::as_primitive::<
        arrow_array::types::Float32Type,
    >(vectors.values().as_ref())
    .values()
    .to_vec();
    let dim = vectors.value_length() as usize;
    values[dim..2 * dim].iter_mut().for_each(|x| *x = 0.0);
    let field = match batch.schema().field(2).data_type() {
        arrow_schema::DataType::FixedSizeList(field, _) => field.clone(),
        other => panic!("{other}"),
    };
    let edited = arrow_array::FixedSizeListArray::new(
        field,
        dim as i32,
        std::sync::Arc::new(arrow_array::Float32Array::from(values)),
        None,
    );
    let mut columns = batch.columns().to_vec();
    columns[2] = std::sync::Arc::new(edited);
    let batch = arrow_array::RecordBatch::try_new(schema, columns).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&zeroed).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    fails_with(
        &import(&[&a, &zeroed]),
        "row 2 holds a vector of length 0.0000, not 1",
    );
    // Not a shard: vectors exported for the manifest route.
    let exported = dir.path().join("exported.parquet");
    stdout_of(&crossrec(
        &[
            "export",
            "--dataset",
            manifest_arg,
            "--model",
            model,
            "--what",
            "embeddings",
            "--output",
            exported.to_str().unwrap(),
        ],
        &cache,
    ));
    fails_with(&import(&[&a, &exported]), "not an encoding shard");
    // Cut short.
    let bytes = std::fs::read(&b).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    fails_with(&import(&[&a, &cut]), "not a readable Parquet file");
    // The data changed after the shards were made.
    let products = manifest.parent().unwrap().join("products.csv");
    let text = std::fs::read_to_string(&products).unwrap();
    std::fs::write(
        &products,
        text.replacen("Burr coffee grinder", "Blade coffee grinder", 1),
    )
    .unwrap();
    fails_with(
        &import(&[&a, &b]),
        "the shards were made from another version of the data",
    );
    // A shard argument that is not I/N.
    for bad in ["0/2", "3/2", "one/two"] {
        let run = crossrec(
            &[
                "encode",
                "--dataset",
                manifest_arg,
                "--model",
                model,
                "--shard",
                bad,
                "--output",
                "x.parquet",
            ],
            &cache,
        );
        assert_eq!(run.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&run.stderr).contains("write I/N"));
    }
}
