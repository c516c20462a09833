//! The data layer: every kind of bad input gives a clear message naming the
//! file and line, or a counted, reported skip; good input in its common
//! variants (BOM, CRLF, `;`/tab separators, quoted newlines) loads exactly.

use std::path::Path;

use crossrec::data::{DataError, Dataset, IssueKind, Manifest};

use crate::common::{sample_manifest, shared_data, tempdir};

const MANIFEST: &str = r#"
name = "t"
[[domain]]
name = "shop"
items = "shop.csv"
id_column = "item_id"
text_columns = ["title", "description"]
[[domain]]
name = "blog"
items = "blog.csv"
text_columns = ["title"]
[interactions]
path = "interactions.csv"
"#;

/// Writes the standard fixture into `dir`, with `overrides` replacing files.
fn fixture(dir: &Path, overrides: &[(&str, &[u8])]) -> std::path::PathBuf {
    let files: [(&str, &[u8]); 4] = [
        ("crossrec.toml", MANIFEST.as_bytes()),
        ("shop.csv", b"item_id,title,description\np1,Red kettle,Boils fast\np2,Blue pan,\n"),
        ("blog.csv", b"item_id,title\na1,How to boil water\na2,Pans explained\n"),
        (
            "interactions.csv",
            b"user_id,domain,item_id,rating,timestamp\nu1,shop,p1,5,100\nu1,blog,a1,4,200\nu2,shop,p2,3,300\n",
        ),
    ];
    for (name, content) in files {
        let content = overrides
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(content, |(_, c)| *c);
        std::fs::write(dir.join(name), content).unwrap();
    }
    dir.join("crossrec.toml")
}

fn load_with(overrides: &[(&str, &[u8])]) -> (tempfile::TempDir, Result<Dataset, DataError>) {
    let dir = tempdir();
    let manifest = fixture(dir.path(), overrides);
    let result = Dataset::load(&manifest);
    (dir, result)
}

fn first_issue(dataset: &Dataset, kind: IssueKind) -> String {
    dataset
        .report
        .issues
        .iter()
        .find(|i| i.kind == kind)
        .map(|i| i.to_string())
        .unwrap_or_else(|| panic!("no {kind:?} issue in {}", dataset.report))
}

#[test]
fn a_clean_fixture_loads_exactly() {
    let (_dir, result) = load_with(&[]);
    let dataset = result.unwrap();
    assert_eq!(dataset.domains.len(), 2);
    assert_eq!(dataset.domains[0].items[0].text, "Red kettle. Boils fast");
    assert_eq!(
        dataset.domains[0].items[1].text, "Blue pan",
        "empty columns are not joined"
    );
    assert_eq!(dataset.users, vec!["u1", "u2"]);
    assert_eq!(dataset.interactions.len(), 3);
    assert_eq!(dataset.interactions[1].rating, Some(4.0));
    assert_eq!(dataset.interactions[1].timestamp, Some(200));
    assert!(dataset.report.is_clean(), "{}", dataset.report);
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempdir();
    let manifest = fixture(dir.path(), &[]);
    std::fs::remove_file(dir.path().join("blog.csv")).unwrap();
    let message = Dataset::load(&manifest).unwrap_err().to_string();
    assert!(
        message.contains("blog.csv") && message.contains("cannot read"),
        "{message}"
    );
}

#[test]
fn a_missing_column_names_file_line_and_the_columns_found() {
    let (_dir, result) = load_with(&[("shop.csv", b"id,title,description\np1,a,b\n")]);
    let message = result.unwrap_err().to_string();
    assert!(message.contains("shop.csv:1:"), "{message}");
    assert!(message.contains("no column 'item_id'"), "{message}");
    assert!(message.contains("id, title, description"), "{message}");
}

#[test]
fn a_non_utf8_file_names_the_line_of_the_first_bad_byte() {
    let (_dir, result) = load_with(&[("blog.csv", b"item_id,title\na1,ok\na2,caf\xe9 latin-1\n")]);
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("blog.csv:3:") && message.contains("UTF-8"),
        "{message}"
    );
}

#[test]
fn an_empty_file_asks_for_a_header() {
    let (_dir, result) = load_with(&[("blog.csv", b"")]);
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("blog.csv:1:") && message.contains("header"),
        "{message}"
    );
}

#[test]
fn ragged_rows_are_skipped_and_reported_with_their_line() {
    let (_dir, result) = load_with(&[(
        "shop.csv",
        b"item_id,title,description\np1,Kettle,Fast\np2,Pan\np3,Pot,Big,extra\np4,Lid,Glass\n",
    )]);
    let dataset = result.unwrap();
    assert_eq!(dataset.domains[0].items.len(), 2);
    assert_eq!(dataset.report.count(IssueKind::RaggedRow), 2);
    let issue = first_issue(&dataset, IssueKind::RaggedRow);
    assert!(
        issue.contains("shop.csv:3:") && issue.contains("expected 3 fields"),
        "{issue}"
    );
    // The interaction naming the skipped p2 is reported too, not dropped silently.
    assert_eq!(dataset.report.count(IssueKind::UnknownItem), 1);
    assert_eq!(dataset.report.skipped_rows(), 3);
}

#[test]
fn empty_and_duplicate_item_ids_are_skipped_and_reported() {
    let (_dir, result) = load_with(&[(
        "shop.csv",
        b"item_id,title,description\np1,Kettle,Fast\n ,Nameless,x\np1,Kettle again,y\np2,Pan,z\n",
    )]);
    let dataset = result.unwrap();
    let ids: Vec<&str> = dataset.domains[0]
        .items
        .iter()
        .map(|i| i.id.as_str())
        .collect();
    assert_eq!(ids, vec!["p1", "p2"]);
    assert_eq!(
        dataset.domains[0].items[0].text, "Kettle. Fast",
        "the first row wins"
    );
    assert!(first_issue(&dataset, IssueKind::EmptyId).contains("shop.csv:3:"));
    let dup = first_issue(&dataset, IssueKind::DuplicateItem);
    assert!(dup.contains("shop.csv:4:") && dup.contains("'p1'"), "{dup}");
}

#[test]
fn an_item_with_no_text_is_kept_and_reported() {
    let (_dir, result) = load_with(&[("shop.csv", b"item_id,title,description\np1,,\np2,Pan,\n")]);
    let dataset = result.unwrap();
    assert_eq!(dataset.domains[0].items.len(), 2);
    assert_eq!(dataset.domains[0].items[0].text, "");
    assert!(first_issue(&dataset, IssueKind::EmptyText).contains("shop.csv:2:"));
}

#[test]
fn interactions_with_unknown_domains_items_or_bad_values_are_reported() {
    let (_dir, result) = load_with(&[(
        "interactions.csv",
        b"user_id,domain,item_id,rating,timestamp\n\
          u1,shop,p1,5,100\n\
          u1,films,f1,5,100\n\
          u1,shop,p9,5,100\n\
          u2,shop,p2,great,100\n\
          u2,blog,a2,4,yesterday\n\
          u1,shop,p1,2,500\n\
          ,shop,p1,2,500\n",
    )]);
    let dataset = result.unwrap();
    let issue = first_issue(&dataset, IssueKind::UnknownDomain);
    assert!(
        issue.contains("interactions.csv:3:") && issue.contains("'films'"),
        "{issue}"
    );
    assert!(
        issue.contains("shop, blog"),
        "lists the known domains: {issue}"
    );
    let issue = first_issue(&dataset, IssueKind::UnknownItem);
    assert!(
        issue.contains("interactions.csv:4:") && issue.contains("'p9'"),
        "{issue}"
    );
    assert!(first_issue(&dataset, IssueKind::BadRating).contains("interactions.csv:5:"));
    assert!(first_issue(&dataset, IssueKind::BadTimestamp).contains("interactions.csv:6:"));
    assert!(first_issue(&dataset, IssueKind::DuplicateInteraction).contains("interactions.csv:7:"));
    assert!(first_issue(&dataset, IssueKind::EmptyId).contains("interactions.csv:8:"));
    // Kept: the first u1–p1, and u2–a2 without its timestamp.
    assert_eq!(dataset.interactions.len(), 2);
    assert_eq!(
        dataset.interactions[0].rating,
        Some(5.0),
        "the first of a repeated pair wins"
    );
    assert_eq!(dataset.interactions[1].timestamp, None);
    assert_eq!(
        dataset.report.skipped_rows(),
        4,
        "the repeated pair is merged, not skipped"
    );
    let shown = dataset.report.to_string();
    assert!(shown.contains("unknown domain (row skipped)"), "{shown}");
}

#[test]
fn bom_crlf_semicolons_tabs_and_quoted_newlines_load() {
    let (_dir, result) = load_with(&[
        (
            "shop.csv",
            "\u{feff}item_id;title;description\r\np1;\"Kettle; steel\";\"Boils\r\nfast\"\r\np2;Pan;Cast iron\r\n"
                .as_bytes(),
        ),
        ("blog.csv", b"item_id\ttitle\na1\tHow to boil water\na2\tPans\n"),
    ]);
    let dataset = result.unwrap();
    let shop = &dataset.domains[0];
    assert_eq!(shop.items.len(), 2);
    assert_eq!(
        shop.items[0].id, "p1",
        "the BOM is not part of the first column"
    );
    assert_eq!(shop.items[0].text, "Kettle; steel. Boils\r\nfast");
    assert_eq!(dataset.domains[1].items[1].text, "Pans");
    // The only note: p1's quoted line break, on the lines it really spans
    // (the CSV reader's own positions are one line early in CRLF files).
    assert_eq!(dataset.report.totals.len(), 1, "{}", dataset.report);
    let shown = dataset.report.to_string();
    assert!(
        shown.contains("shop.csv:2: row spans several lines"),
        "{shown}"
    );
    assert!(shown.contains("lines 2–3"), "{shown}");
}

#[test]
fn line_numbers_count_quoted_newlines() {
    let (_dir, result) = load_with(&[(
        "shop.csv",
        b"item_id,title,description\np1,\"Kettle\",\"line one\nline two\nline three\"\np2,Pan\n",
    )]);
    let dataset = result.unwrap();
    let issue = first_issue(&dataset, IssueKind::RaggedRow);
    assert!(issue.contains("shop.csv:5:"), "{issue}");
}

#[test]
fn a_delimiter_set_in_the_manifest_overrides_sniffing() {
    let manifest = MANIFEST.replace(
        "items = \"blog.csv\"",
        "items = \"blog.csv\"\ndelimiter = \"semicolon\"",
    );
    let (_dir, result) = load_with(&[
        ("crossrec.toml", manifest.as_bytes()),
        (
            "blog.csv",
            b"item_id;title\na1;Boil, then simmer\na2;Pans\n",
        ),
    ]);
    let dataset = result.unwrap();
    assert_eq!(dataset.domains[1].items[0].text, "Boil, then simmer");
}

#[test]
fn manifest_errors_say_what_is_wrong() {
    let path = Path::new("m.toml");
    let parse = |text: &str| {
        Manifest::parse(text, path, ".".into())
            .unwrap_err()
            .to_string()
    };
    let message = parse("name = \"x\"\n[[domain]]\nname = \"a\"\n");
    assert!(
        message.contains("m.toml") && message.contains("items"),
        "{message}"
    );
    let message = parse("name = \"x\"\ndomain = []\n[interactions]\npath = \"i.csv\"\n");
    assert!(message.contains("at least one"), "{message}");
    let message = parse(&MANIFEST.replace("text_columns = [\"title\"]", "text_columns = []"));
    assert!(message.contains("text_columns is empty"), "{message}");
    let message = parse(&MANIFEST.replace("name = \"blog\"", "name = \"shop\""));
    assert!(message.contains("used twice"), "{message}");
    let message = parse(&MANIFEST.replace("id_column = \"item_id\"", "id_colum = \"item_id\""));
    assert!(
        message.contains("id_colum"),
        "unknown keys are rejected: {message}"
    );
}

#[test]
fn a_manifest_round_trips_through_save() {
    let dir = tempdir();
    let manifest_path = fixture(dir.path(), &[]);
    let manifest = Manifest::load(&manifest_path).unwrap();
    let copy = dir.path().join("copy.toml");
    manifest.save(&copy).unwrap();
    assert_eq!(Manifest::load(&copy).unwrap(), manifest);
}

#[test]
fn the_bundled_sample_loads_cleanly() {
    let dataset = Dataset::load(&sample_manifest()).unwrap();
    assert!(dataset.report.is_clean(), "{}", dataset.report);
    assert_eq!(dataset.domains.len(), 2);
    assert!(dataset.domains.iter().all(|d| d.items.len() >= 140));
    assert!(dataset.users.len() >= 90);
    assert!(!dataset.user_texts.is_empty());
}

#[test]
fn the_real_amazon_dataset_loads_with_exact_counts() {
    let Some(dir) = shared_data("amazon-food-kitchen") else {
        return;
    };
    let dataset = Dataset::load(&dir.join("crossrec.toml")).unwrap();
    let food = dataset.domain_index("food").unwrap();
    let kitchen = dataset.domain_index("kitchen").unwrap();
    assert_eq!(dataset.domains[food].items.len(), 8_661);
    assert_eq!(dataset.domains[kitchen].items.len(), 27_637);
    assert_eq!(dataset.interactions.len(), 436_127);
    assert_eq!(dataset.users.len(), 53_061);
    // Three titles hold a quoted line break: kept, and reported with their lines.
    assert_eq!(dataset.report.totals.len(), 1, "{}", dataset.report);
    assert_eq!(dataset.report.count(IssueKind::MultiLineRecord), 3);
    assert_eq!(dataset.report.skipped_rows(), 0);
    let shown = dataset.report.to_string();
    assert!(shown.contains("items_food.csv:3496:"), "{shown}");
    assert!(shown.contains("lines 3496–3497"), "{shown}");
}

/// The Chinese sample copied into `dir` with every CSV file re-encoded as
/// GB18030 (as Excel saves CSV on Chinese systems); `encoding` is added to
/// each table of the manifest when given.
fn chinese_sample_in_gb18030(dir: &Path, encoding: Option<&str>) -> std::path::PathBuf {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-zh");
    for name in ["商品.csv", "帖子.csv", "interactions.csv", "user_texts.csv"] {
        let text = std::fs::read_to_string(sample.join(name)).unwrap();
        let (bytes, _, unmappable) = encoding_rs::GB18030.encode(&text);
        assert!(!unmappable);
        std::fs::write(dir.join(name), &bytes).unwrap();
    }
    let mut manifest = std::fs::read_to_string(sample.join("crossrec.toml")).unwrap();
    if let Some(encoding) = encoding {
        for key in [
            "text_columns = [\"标题\", \"描述\"]",
            "text_columns = [\"标题\", \"正文\"]",
        ] {
            manifest = manifest.replace(key, &format!("{key}\nencoding = \"{encoding}\""));
        }
        for key in ["path = \"interactions.csv\"", "path = \"user_texts.csv\""] {
            manifest = manifest.replace(key, &format!("{key}\nencoding = \"{encoding}\""));
        }
    }
    let path = dir.join("crossrec.toml");
    std::fs::write(&path, manifest).unwrap();
    path
}

#[test]
fn a_gbk_file_is_named_as_such_and_loads_when_the_manifest_says_gb18030() {
    let dir = tempdir();
    let err = Dataset::load(&chinese_sample_in_gb18030(dir.path(), None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("商品.csv:1: not valid UTF-8"), "{err}");
    assert!(err.contains("GB18030/GBK"), "{err}");
    assert!(err.contains("encoding = \"gb18030\""), "{err}");

    for name in ["gb18030", "gbk"] {
        let dir = tempdir();
        let gbk = Dataset::load(&chinese_sample_in_gb18030(dir.path(), Some(name))).unwrap();
        let utf8 = Dataset::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-zh/crossrec.toml"),
        )
        .unwrap();
        assert_eq!(gbk.domains.len(), 2);
        for (a, b) in gbk.domains.iter().zip(&utf8.domains) {
            assert_eq!(a.name, b.name);
            let texts = |d: &crossrec::data::Domain| -> Vec<(String, String)> {
                d.items
                    .iter()
                    .map(|i| (i.id.clone(), i.text.clone()))
                    .collect()
            };
            assert_eq!(texts(a), texts(b));
        }
        assert_eq!(gbk.interactions.len(), utf8.interactions.len());
    }

    // Bytes GB18030 does not allow are an error naming the line.
    let dir = tempdir();
    let manifest = chinese_sample_in_gb18030(dir.path(), Some("gb18030"));
    let mut bytes = std::fs::read(dir.path().join("帖子.csv")).unwrap();
    let second_line = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    bytes.insert(second_line, 0xFF);
    std::fs::write(dir.path().join("帖子.csv"), bytes).unwrap();
    let err = match Dataset::load(&manifest) {
        Ok(_) => panic!("a byte GB18030 does not allow was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("帖子.csv:2: not valid GB18030 text"), "{err}");
}

#[test]
fn encodings_are_told_apart_and_named() {
    // Windows-1252 French is not taken for Chinese.
    let dir = tempdir();
    let latin: &[u8] = b"item_id,title,description\np1,Cr\xe8me br\xfbl\xe9e,d\xe9licieuse\np2,Th\xe9 vert,tr\xe8s bon\n";
    let err = Dataset::load(&fixture(dir.path(), &[("shop.csv", latin)]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("shop.csv:2: not valid UTF-8"), "{err}");
    assert!(!err.contains("GB18030"), "{err}");

    // A UTF-8 file declared gb18030 is refused, not garbled.
    let dir = tempdir();
    let manifest = chinese_sample_in_gb18030(dir.path(), Some("gb18030"));
    let utf8 = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-zh/interactions.csv");
    std::fs::copy(utf8, dir.path().join("interactions.csv")).unwrap();
    let err = Dataset::load(&manifest).unwrap_err().to_string();
    assert!(
        err.contains(
            "interactions.csv: the manifest says encoding = \"gb18030\", but the file is UTF-8"
        ),
        "{err}"
    );

    // Names in any case; unknown ones list what is read.
    let dir = tempdir();
    let manifest = chinese_sample_in_gb18030(dir.path(), Some("GB2312"));
    assert_eq!(
        Dataset::load(&manifest).unwrap().domains[0].items.len(),
        144
    );
    let dir = tempdir();
    let manifest = chinese_sample_in_gb18030(dir.path(), Some("latin1"));
    let err = Dataset::load(&manifest).unwrap_err().to_string();
    assert!(err.contains("unknown encoding 'latin1'"), "{err}");
    assert!(err.contains("\"gb18030\""), "{err}");
}

#[test]
fn a_domain_name_with_hidden_characters_is_refused() {
    for name in ["帖子\u{1b}[2J", "a\u{202e}b", "x\u{200b}y"] {
        let dir = tempdir();
        // As TOML escapes, so the raw characters are in the name.
        let escaped: String = name
            .chars()
            .map(|c| format!("\\U{:08X}", c as u32))
            .collect();
        let manifest = MANIFEST.replace("name = \"blog\"", &format!("name = \"{escaped}\""));
        let path = fixture(dir.path(), &[("crossrec.toml", manifest.as_bytes())]);
        let err = Dataset::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("holds control, invisible or line-break characters"),
            "{name:?}: {err}"
        );
    }
}

/// A 1 × 1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[test]
fn item_pictures_are_local_files_and_a_missing_one_is_counted_with_its_line() {
    let dir = tempdir();
    std::fs::create_dir_all(dir.path().join("pics")).unwrap();
    std::fs::write(dir.path().join("pics/kettle.png"), PNG).unwrap();
    let absolute = dir.path().join("pan.png");
    std::fs::write(&absolute, PNG).unwrap();
    let url = url::Url::from_file_path(&absolute).unwrap().to_string();
    let shop = format!(
        "item_id,title,description,picture\n\
         p1,Red kettle,Boils fast,pics/kettle.png\n\
         p2,Blue pan,,{url}\n\
         p3,Green mug,,pics/gone.png\n\
         p4,Grey bowl,,https://example.com/bowl.jpg\n\
         p5,Plain plate,,\n"
    );
    let manifest = MANIFEST.replace(
        "text_columns = [\"title\", \"description\"]",
        "text_columns = [\"title\", \"description\"]\nimage_column = \"picture\"",
    );
    let path = fixture(
        dir.path(),
        &[
            ("crossrec.toml", manifest.as_bytes()),
            ("shop.csv", shop.as_bytes()),
        ],
    );
    let dataset = Dataset::load(&path).unwrap();
    let images: Vec<Option<std::path::PathBuf>> = dataset.domains[0]
        .items
        .iter()
        .map(|i| i.image.clone())
        .collect();
    assert_eq!(images[0], Some(dir.path().join("pics").join("kettle.png")));
    assert_eq!(images[1].as_deref(), Some(absolute.as_path()));
    assert_eq!(images[2..], [None, None, None], "missing, remote, empty");
    assert_eq!(dataset.domains[0].items.len(), 5, "every item is kept");
    assert_eq!(dataset.report.count(IssueKind::ImageUnavailable), 2);
    let first = first_issue(&dataset, IssueKind::ImageUnavailable);
    assert!(
        first.contains("shop.csv:4") && first.contains("gone.png does not exist"),
        "{first}"
    );
    assert!(
        dataset.report.to_string().contains("never the network"),
        "{}",
        dataset.report
    );
    // A named column the file lacks is an error naming it.
    let bad = manifest.replace("image_column = \"picture\"", "image_column = \"photo\"");
    let (_dir, result) = load_with(&[("crossrec.toml", bad.as_bytes())]);
    let err = result.unwrap_err().to_string();
    assert!(err.contains("photo"), "{err}");
}
