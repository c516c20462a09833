//! Parquet in and out: exports that other tools read (typed columns, a
//! vector column of fixed-size float32 lists) and that come back bit for
//! bit; datasets whose files are Parquet loading exactly as their CSV; and
//! bad Parquet files failing with the file, row and what was expected.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field};
use crossrec::data::Dataset;
use crossrec::embed::Embeddings;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::{TINY_DIM, TinySpec, crossrec, sample_manifest, tempdir, write_tiny_bert};

fn ok(run: &std::process::Output) {
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Every record batch of a Parquet file, concatenated.
fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let reader = builder.build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    arrow_select::concat::concat_batches(&schema, &batches).unwrap()
}

fn write_batch(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// A CSV file as Parquet: `rating` as float64, `timestamp` as int64 (as
/// pandas writes them), every other column as strings; an empty field is
/// null.
fn csv_to_parquet(csv: &Path, parquet: &Path) {
    let mut reader = csv::Reader::from_path(csv).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let columns: Vec<(&str, ArrayRef)> = headers
        .iter()
        .enumerate()
        .map(|(c, name)| {
            fn field(r: &csv::StringRecord, c: usize) -> Option<&str> {
                r.get(c).filter(|s| !s.is_empty())
            }
            let array: ArrayRef = match name.as_str() {
                "rating" => Arc::new(Float64Array::from_iter(
                    rows.iter()
                        .map(|r| field(r, c).map(|s| s.parse::<f64>().unwrap())),
                )),
                "timestamp" => Arc::new(Int64Array::from_iter(
                    rows.iter()
                        .map(|r| field(r, c).map(|s| s.parse::<i64>().unwrap())),
                )),
                _ => Arc::new(StringArray::from_iter(rows.iter().map(|r| field(r, c)))),
            };
            (name.as_str(), array)
        })
        .collect();
    write_batch(parquet, columns);
}

/// The bundled sample with every file converted to Parquet.
fn sample_as_parquet(dir: &Path) -> std::path::PathBuf {
    let from = sample_manifest();
    let from = from.parent().unwrap();
    for name in ["products", "articles", "interactions", "user_texts"] {
        csv_to_parquet(
            &from.join(format!("{name}.csv")),
            &dir.join(format!("{name}.parquet")),
        );
    }
    let manifest = std::fs::read_to_string(sample_manifest())
        .unwrap()
        .replace(".csv\"", ".parquet\"");
    let path = dir.join("crossrec.toml");
    std::fs::write(&path, manifest).unwrap();
    path
}

#[test]
fn a_dataset_in_parquet_loads_exactly_like_its_csv() {
    let dir = tempdir();
    let csv = Dataset::load(&sample_manifest()).unwrap();
    let parquet = Dataset::load(&sample_as_parquet(dir.path())).unwrap();
    assert_eq!(parquet.users, csv.users);
    assert_eq!(parquet.interactions, csv.interactions);
    assert_eq!(parquet.user_texts, csv.user_texts);
    for (p, c) in parquet.domains.iter().zip(&csv.domains) {
        assert_eq!(p.items, c.items);
    }
    assert!(parquet.report.is_clean(), "{}", parquet.report);
    for (p, c) in parquet.report.files.iter().zip(&csv.report.files) {
        assert_eq!((p.rows, p.used), (c.rows, c.used));
        assert_eq!(p.numbering, crossrec::data::Numbering::Rows);
    }
    let files = parquet.report.to_string();
    assert!(
        files.contains(&format!(
            "interactions.parquet: {n} rows, {n} used",
            n = csv.interactions.len()
        )),
        "{files}"
    );

    // A bad row is named by its row number, and counted.
    let interactions = dir.path().join("interactions.parquet");
    write_batch(
        &interactions,
        vec![
            (
                "user_id",
                Arc::new(StringArray::from(vec!["u001", "u001", "u002"])) as ArrayRef,
            ),
            (
                "domain",
                Arc::new(StringArray::from(vec!["products", "products", "articles"])),
            ),
            (
                "item_id",
                Arc::new(StringArray::from(vec!["P001", "P999", "A001"])),
            ),
            (
                "rating",
                Arc::new(Float64Array::from(vec![Some(5.0), Some(4.0), None])),
            ),
        ],
    );
    let dataset = Dataset::load(&dir.path().join("crossrec.toml")).unwrap();
    assert_eq!(dataset.interactions.len(), 2);
    // A null rating is counted and weighted with the file's median rating.
    assert_eq!(dataset.interactions[1].rating, Some(5.0));
    let report = dataset.report.to_string();
    assert!(
        report.contains("interactions.parquet: row 3: no rating (kept, weighted with the median"),
        "{report}"
    );
    assert!(
        report.contains(
            "interactions.parquet: row 2: unknown item (row skipped): 'P999' is not in domain \
             'products'"
        ),
        "{report}"
    );
    assert!(report.contains("3 rows, 2 used, 1 skipped"), "{report}");

    // Typed columns as pandas writes them: ids that became float64, a
    // timestamp column, dates; they read as the CSV's ids and Unix seconds.
    write_batch(
        &interactions,
        vec![
            (
                "user_id",
                Arc::new(Float64Array::from(vec![7.0, 7.0])) as ArrayRef,
            ),
            (
                "domain",
                Arc::new(StringArray::from(vec!["products", "articles"])),
            ),
            ("item_id", Arc::new(StringArray::from(vec!["P001", "A001"]))),
            (
                "timestamp",
                Arc::new(
                    arrow_array::TimestampNanosecondArray::from(vec![
                        1_700_000_000_123_456_789,
                        1_700_000_001_000_000_000,
                    ])
                    .with_timezone("UTC"),
                ),
            ),
        ],
    );
    let dataset = Dataset::load(&dir.path().join("crossrec.toml")).unwrap();
    assert_eq!(dataset.users[0], "7");
    let stamps: Vec<Option<i64>> = dataset.interactions.iter().map(|i| i.timestamp).collect();
    assert_eq!(stamps, [Some(1_700_000_000), Some(1_700_000_001)]);
    assert_eq!(
        dataset
            .report
            .count(crossrec::data::IssueKind::BadTimestamp),
        0,
        "{}",
        dataset.report
    );
}

#[test]
fn bad_parquet_inputs_are_clear_errors() {
    let dir = tempdir();
    let manifest = sample_as_parquet(dir.path());
    let load_error = || match Dataset::load(&manifest) {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    };
    let products = dir.path().join("products.parquet");
    let good = std::fs::read(&products).unwrap();

    // Cut short, as an interrupted copy leaves it.
    std::fs::write(&products, &good[..good.len() / 2]).unwrap();
    let e = load_error();
    assert!(
        e.contains("products.parquet: not a readable Parquet file"),
        "{e}"
    );

    // A text column that is not there, and a vector column mapped as text.
    write_batch(
        &products,
        vec![
            (
                "item_id",
                Arc::new(StringArray::from(vec!["P001"])) as ArrayRef,
            ),
            (
                "title",
                Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(vec![
                    Some(vec![Some(1.0)]),
                ])),
            ),
        ],
    );
    let e = load_error();
    assert!(
        e.contains("products.parquet: column 'title' (item text) holds List"),
        "{e}"
    );
    write_batch(
        &products,
        vec![(
            "item_id",
            Arc::new(StringArray::from(vec!["P001"])) as ArrayRef,
        )],
    );
    let e = load_error();
    assert!(
        e.contains("products.parquet: no column 'title' (item text); the file has: item_id"),
        "{e}"
    );

    // Text that is not UTF-8 is an error naming the column, not a blank.
    write_batch(
        &products,
        vec![
            (
                "item_id",
                Arc::new(StringArray::from(vec!["P001"])) as ArrayRef,
            ),
            (
                "title",
                Arc::new(arrow_array::BinaryArray::from(vec![&b"\xc3\x28"[..]])),
            ),
            ("description", Arc::new(StringArray::from(vec!["fine"]))),
            ("topic", Arc::new(StringArray::from(vec!["coffee"]))),
        ],
    );
    let e = load_error();
    assert!(
        e.contains("products.parquet: column 'title', row 1: not UTF-8 text"),
        "{e}"
    );

    // CSV text under a .parquet name is not called a cut-short file.
    std::fs::write(&products, "item_id,title\nP001,x\n").unwrap();
    let e = load_error();
    assert!(e.contains("not a Parquet file"), "{e}");
    assert!(e.contains("give it a .csv name"), "{e}");

    // A delimiter means nothing for Parquet.
    std::fs::write(&products, &good).unwrap();
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replacen(
            "items = \"products.parquet\"",
            "items = \"products.parquet\"\ndelimiter = \"semicolon\"",
            1,
        ),
    )
    .unwrap();
    let e = load_error();
    assert!(e.contains("a Parquet file has no delimiter"), "{e}");
}

#[test]
fn parquet_exports_are_typed_equal_the_csv_and_come_back_bit_exact() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let model = model.to_str().unwrap();
    let cache = dir.path().join("cache");
    let out = |name: &str| dir.path().join(name);
    let export = |extra: &[&str]| {
        let mut args = vec!["export", "--sample", "en", "--model", model];
        args.extend(extra);
        let run = crossrec(&args, &cache);
        ok(&run);
    };

    // Vectors: one fixed-size list of float32 per row, equal to the .npy.
    let vectors = out("vectors.parquet");
    export(&[
        "--what",
        "embeddings",
        "--output",
        vectors.to_str().unwrap(),
    ]);
    export(&[
        "--what",
        "embeddings",
        "--output",
        out("v.npy").to_str().unwrap(),
    ]);
    let matrix = Embeddings::read_npy(&out("v.npy")).unwrap();
    let batch = read_parquet(&vectors);
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["domain", "item_id", "embedding"]);
    assert_eq!(
        schema.field(2).data_type(),
        &DataType::FixedSizeList(
            Arc::new(Field::new("item", DataType::Float32, false)),
            TINY_DIM as i32
        )
    );
    let list = batch.column(2).as_fixed_size_list();
    let values = list.values().as_primitive::<Float32Type>().values();
    assert_eq!(&values[..], matrix.as_slice());
    let ids = batch.column(1).as_string::<i32>();
    assert_eq!((ids.value(0), ids.value(144)), ("P001", "A001"));

    // Each table export: the CSV's columns and values, typed.
    for (what, extra) in [
        ("projection", vec![]),
        ("neighbors", vec!["-k", "3"]),
        (
            "recommendations",
            vec!["--from", "products", "--to", "articles", "-k", "4"],
        ),
    ] {
        let csv_path = out(&format!("{what}.csv"));
        let parquet_path = out(&format!("{what}.parquet"));
        for path in [&csv_path, &parquet_path] {
            let mut args = vec!["--what", what, "--output", path.to_str().unwrap()];
            args.extend(&extra);
            export(&args);
        }
        let mut reader = csv::Reader::from_path(&csv_path).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let batch = read_parquet(&parquet_path);
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, header, "{what}");
        assert_eq!(batch.num_rows(), rows.len(), "{what}");
        for (c, field) in schema.fields().iter().enumerate() {
            let column = batch.column(c);
            for (r, row) in rows.iter().enumerate() {
                let text = &row[c];
                match field.data_type() {
                    DataType::Utf8 => {
                        let v = column.as_string::<i32>();
                        let got = if v.is_null(r) { "" } else { v.value(r) };
                        assert_eq!(got, text, "{what} {} row {r}", field.name());
                    }
                    DataType::Float32 => {
                        let v = column.as_primitive::<Float32Type>();
                        if v.is_null(r) {
                            assert_eq!(text, "", "{what} {} row {r}", field.name());
                        } else if what == "recommendations" {
                            // Scores are summed in parallel: equal to rounding.
                            let expected: f32 = text.parse().unwrap();
                            assert!((v.value(r) - expected).abs() <= 1e-5, "{what} row {r}");
                        } else {
                            assert_eq!(&v.value(r).to_string(), text, "{what} row {r}");
                        }
                    }
                    DataType::Int64 => {
                        let v = column.as_primitive::<Int64Type>();
                        assert_eq!(v.value(r).to_string(), text, "{what} {}", field.name());
                    }
                    other => panic!("{what}: unexpected column type {other}"),
                }
            }
        }
    }

    // An export never replaces the dataset's own files.
    let items = crate::common::sample_manifest()
        .parent()
        .unwrap()
        .join("products.csv");
    let before = std::fs::read(&items).unwrap();
    for target in [items.clone(), crate::common::sample_manifest()] {
        let run = crossrec(
            &[
                "export",
                "--dataset",
                crate::common::sample_manifest().to_str().unwrap(),
                "--model",
                model,
                "--what",
                "projection",
                "--output",
                target.to_str().unwrap(),
            ],
            &cache,
        );
        assert_eq!(run.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&run.stderr).contains("is also the input"));
    }
    assert_eq!(std::fs::read(&items).unwrap(), before);

    // Brought back through the manifest (one file, its domain column picks
    // each domain's rows; one domain's rows reversed): same recommendations.
    let data = out("data");
    std::fs::create_dir(&data).unwrap();
    let from = sample_manifest();
    for name in ["products", "articles", "interactions", "user_texts"] {
        std::fs::copy(
            from.parent().unwrap().join(format!("{name}.csv")),
            data.join(format!("{name}.csv")),
        )
        .unwrap();
    }
    let batch = read_parquet(&vectors);
    let reversed: Vec<u32> = (0..batch.num_rows() as u32).rev().collect();
    let reversed =
        arrow_select::take::take_record_batch(&batch, &arrow_array::UInt32Array::from(reversed))
            .unwrap();
    let file = std::fs::File::create(data.join("vectors.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(file, reversed.schema(), None).unwrap();
    writer.write(&reversed).unwrap();
    writer.close().unwrap();
    let mut manifest = std::fs::read_to_string(&from).unwrap();
    for domain in ["products", "articles"] {
        let items = format!("items = \"{domain}.csv\"");
        manifest = manifest.replace(
            &items,
            &format!("{items}\nembeddings = \"vectors.parquet\""),
        );
    }
    let manifest_path = data.join("crossrec.toml");
    std::fs::write(&manifest_path, manifest).unwrap();
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
            "adapted=0",
        ]);
        let run = crossrec(&args, &cache);
        ok(&run);
        (
            String::from_utf8_lossy(&run.stdout).into_owned(),
            String::from_utf8_lossy(&run.stderr).into_owned(),
        )
    };
    let (original, _) = recommend(&["--sample", "en"]);
    let (imported, stderr) = recommend(&["--dataset", manifest_path.to_str().unwrap()]);
    assert_eq!(imported, original);
    assert!(stderr.contains("articles: 144 vectors of"), "{stderr}");
    assert!(!stderr.contains("scaled"), "{stderr}");
}

#[test]
fn bad_parquet_vector_files_are_clear_errors() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let model = model.to_str().unwrap();
    let ids =
        |prefix: &str| -> Vec<String> { (1..=144).map(|i| format!("{prefix}{i:03}")).collect() };
    let list = |rows: Vec<Option<Vec<Option<f32>>>>| -> ArrayRef {
        Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(rows))
    };
    let good = |i: usize, dim: usize| -> Option<Vec<Option<f32>>> {
        Some(
            (0..dim)
                .map(|j| Some(((i * 7 + j) % 5) as f32 + 1.0))
                .collect(),
        )
    };
    let file = |ids: Vec<String>, vectors: ArrayRef| -> Vec<(&'static str, ArrayRef)> {
        vec![
            ("item_id", Arc::new(StringArray::from(ids)) as ArrayRef),
            ("embedding", vectors),
        ]
    };
    // (name, the products' vector file, what the user must read)
    type Columns = Vec<(&'static str, ArrayRef)>;
    let mut cases: Vec<(&str, Columns, &str)> = vec![
        (
            "null vector",
            file(
                ids("P"),
                list(
                    (0..144)
                        .map(|i| if i == 9 { None } else { good(i, TINY_DIM) })
                        .collect(),
                ),
            ),
            "products.parquet: row 10 has no vector (null)",
        ),
        (
            "ragged",
            file(
                ids("P"),
                list(
                    (0..144)
                        .map(|i| good(i, if i == 4 { 3 } else { TINY_DIM }))
                        .collect(),
                ),
            ),
            "row 5 has 3 values, earlier rows",
        ),
        (
            "NaN",
            file(
                ids("P"),
                list(
                    (0..144)
                        .map(|i| {
                            let mut v = good(i, TINY_DIM);
                            if i == 2 {
                                v.as_mut().unwrap()[1] = Some(f32::NAN);
                            }
                            v
                        })
                        .collect(),
                ),
            ),
            "(item 'P003') holds NaN at column 1",
        ),
        (
            "other dimension",
            file(ids("P"), list((0..144).map(|i| good(i, 5)).collect())),
            "must share one space",
        ),
        (
            "missing ids",
            file(
                ids("P")[..140].to_vec(),
                list((0..140).map(|i| good(i, TINY_DIM)).collect()),
            ),
            "4 items of domain 'products' have no vector: 'P141'",
        ),
        (
            "unknown id",
            file(
                ids("P")
                    .into_iter()
                    .map(|id| if id == "P007" { "X".into() } else { id })
                    .collect(),
                list((0..144).map(|i| good(i, TINY_DIM)).collect()),
            ),
            "1 ids are not items of domain 'products': row 7: 'X'",
        ),
        (
            "no vector column",
            vec![("item_id", Arc::new(StringArray::from(ids("P"))) as ArrayRef)],
            "no vector column 'embedding' (found: item_id); name it with embeddings_column",
        ),
        (
            "text, not vectors",
            vec![
                ("item_id", Arc::new(StringArray::from(ids("P"))) as ArrayRef),
                (
                    "embedding",
                    Arc::new(StringArray::from(ids("P"))) as ArrayRef,
                ),
            ],
            "column 'embedding' holds Utf8, not vectors",
        ),
    ];
    cases.push((
        "no rows",
        file(Vec::new(), list(Vec::new())),
        "products.parquet: no vectors: the file has no rows for this domain",
    ));
    cases.push((
        "truncated",
        Vec::new(),
        "products.parquet: not a readable Parquet file",
    ));
    let from = sample_manifest();
    for (name, columns, expected) in cases {
        let data = dir.path().join(name.replace([' ', ','], "-"));
        std::fs::create_dir_all(&data).unwrap();
        for file in ["products", "articles", "interactions", "user_texts"] {
            std::fs::copy(
                from.parent().unwrap().join(format!("{file}.csv")),
                data.join(format!("{file}.csv")),
            )
            .unwrap();
        }
        let mut manifest = std::fs::read_to_string(&from).unwrap();
        for domain in ["products", "articles"] {
            let items = format!("items = \"{domain}.csv\"");
            manifest = manifest.replace(
                &items,
                &format!("{items}\nembeddings = \"{domain}.parquet\""),
            );
        }
        std::fs::write(data.join("crossrec.toml"), manifest).unwrap();
        write_batch(
            &data.join("articles.parquet"),
            file(
                ids("A"),
                list((0..144).map(|i| good(i, TINY_DIM)).collect()),
            ),
        );
        if columns.is_empty() {
            write_batch(
                &data.join("products.parquet"),
                file(
                    ids("P"),
                    list((0..144).map(|i| good(i, TINY_DIM)).collect()),
                ),
            );
            let bytes = std::fs::read(data.join("products.parquet")).unwrap();
            std::fs::write(data.join("products.parquet"), &bytes[..bytes.len() - 20]).unwrap();
        } else {
            write_batch(&data.join("products.parquet"), columns);
        }
        let run = crossrec(
            &[
                "eval",
                "--dataset",
                data.join("crossrec.toml").to_str().unwrap(),
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
}
