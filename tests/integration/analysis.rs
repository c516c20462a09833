//! The analyst's questions: where each target landed, the segment
//! breakdowns (their weighted means are the overall means), comparing two
//! settings on the same users, and the per-user table — in the library and
//! through the command line.

use crossrec::evaluate::{Breakdown, KS, Measure, Method, Metric, Side, Unit, compare, measures};
use crossrec::export::per_user_table;
use crossrec::rank::{Component, Weights, better};

use crate::common::{TinySpec, crossrec, sample_manifest, tempdir, write_tiny_bert};
use crate::recommend::evaluations;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn each_targets_rank_is_its_place_in_the_full_ranking() {
    for (_, _, evaluation) in evaluations() {
        let scores = &evaluation.scores;
        let weights = Weights::default();
        let outcomes = scores.outcomes(&weights, &KS);
        let mut scratch = Vec::new();
        for (i, outcome) in outcomes.iter().enumerate() {
            scores.score(i, &weights, &mut scratch);
            // Every item the user is ranked among, best first, by brute force.
            let ranked: Vec<u32> = match scores.candidates_of(i) {
                Some(c) => c.to_vec(),
                None => {
                    let seen = evaluation.relations.visible_target_items(scores.users[i]);
                    (0..scores.n_items() as u32)
                        .filter(|j| seen.binary_search(j).is_err())
                        .collect()
                }
            };
            let mut order = ranked.clone();
            order.sort_by(|&a, &b| {
                if better((scratch[a as usize], a), (scratch[b as usize], b)) {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                }
            });
            let relevant = scores.relevant(i);
            assert_eq!(outcome.targets.len(), relevant.len());
            for t in &outcome.targets {
                let place = order.iter().position(|&j| j == t.item).unwrap() + 1;
                assert_eq!(t.rank as usize, place, "user {i} item {}", t.item);
                let others_ahead = order[..place - 1]
                    .iter()
                    .filter(|j| relevant.contains(j))
                    .count();
                assert_eq!(t.rank_alone as usize, place - others_ahead);
            }
            let best = outcome.targets.iter().map(|t| t.rank).min().unwrap();
            assert!(close(outcome.reciprocal_rank, 1.0 / f64::from(best)));
            // HR@k agrees with the best rank.
            for (a, &k) in KS.iter().enumerate() {
                assert_eq!(outcome.at[a].hit_rate == 1.0, best as usize <= k);
            }
        }
    }
}

#[test]
fn segment_means_weighted_by_size_are_the_overall_means() {
    for (_, _, evaluation) in evaluations() {
        let report = &evaluation.report;
        assert_eq!(report.segments.len(), 4, "every breakdown is reported");
        for table in &report.segments {
            let total: usize = table.rows.iter().map(|r| r.size).sum();
            match table.unit {
                Unit::Users => assert_eq!(total, report.evaluated_users, "{:?}", table.breakdown),
                Unit::Targets => assert_eq!(
                    total,
                    (0..evaluation.scores.len())
                        .map(|i| evaluation.scores.relevant(i).len())
                        .sum::<usize>()
                ),
            }
            for (m, overall) in table.overall.iter().enumerate() {
                for (a, &k) in KS.iter().enumerate() {
                    let weighted: f64 = table
                        .rows
                        .iter()
                        .map(|r| r.size as f64 * r.methods[m].at[a].ndcg.mean)
                        .sum::<f64>()
                        / total as f64;
                    assert!(
                        close(weighted, overall.at[a].ndcg.mean),
                        "{:?} {} @{k}",
                        table.breakdown,
                        overall.method
                    );
                    let hits: f64 = table
                        .rows
                        .iter()
                        .map(|r| r.size as f64 * r.methods[m].at[a].hit_rate.mean)
                        .sum::<f64>()
                        / total as f64;
                    assert!(close(hits, overall.at[a].hit_rate.mean));
                    if table.unit == Unit::Users {
                        // Over users, the overall is the report's own row.
                        let row = report.row(overall.method).unwrap();
                        assert!(close(overall.at[a].ndcg.mean, row.metrics[a].ndcg.mean));
                        assert!(close(
                            overall.at[a].hit_rate.mean,
                            row.metrics[a].hit_rate.mean
                        ));
                    }
                }
                if table.unit == Unit::Users {
                    let row = report.row(overall.method).unwrap();
                    assert!(close(overall.mrr.mean, row.mrr.mean));
                }
            }
        }
        // Cold-start users have no visible target history.
        if report.protocol == crossrec::evaluate::Protocol::ColdStart {
            let target = report
                .segments
                .iter()
                .find(|t| t.breakdown == Breakdown::TargetHistory)
                .unwrap();
            assert_eq!(target.rows.len(), 1);
            assert_eq!(target.rows[0].segment.to_string(), "0");
        }
    }
}

#[test]
fn a_comparison_pairs_users_and_its_differences_are_the_rows_differences() {
    let (dataset, _, evaluation) = &evaluations()[0];
    let target = &dataset.domains[evaluation.relations.target];
    let side = |label, weights| Side {
        label,
        scores: &evaluation.scores,
        weights,
        user_ids: &dataset.users,
        target,
    };
    let content = Weights::only(Component::Content);
    let hybrid = evaluation
        .report
        .row(Method::Hybrid)
        .unwrap()
        .weights
        .unwrap();
    let (a, b) = (side("A", content), side("B", hybrid));
    let c = compare(&a, &b, None, 3).unwrap();
    assert_eq!(c.paired_users, evaluation.scores.len());
    assert_eq!((c.only_a, c.only_b), (0, 0));
    assert_eq!(c.measures.len(), measures().len());
    let (row_a, row_b) = (
        evaluation
            .report
            .row(Method::Only(Component::Content))
            .unwrap(),
        evaluation.report.row(Method::Hybrid).unwrap(),
    );
    for (i, &k) in KS.iter().enumerate() {
        let p = c.get(Measure::At(Metric::Ndcg, k)).unwrap();
        assert!(close(p.a.mean, row_a.metrics[i].ndcg.mean));
        assert!(close(p.b.mean, row_b.metrics[i].ndcg.mean));
        assert!(close(p.difference.mean, p.b.mean - p.a.mean));
    }
    // The paired interval is the interval of the per-user differences.
    let outcomes_a = evaluation.scores.outcomes(&content, &KS);
    let outcomes_b = evaluation.scores.outcomes(&hybrid, &KS);
    let at10 = KS.iter().position(|&k| k == 10).unwrap();
    let d: Vec<f64> = outcomes_a
        .iter()
        .zip(&outcomes_b)
        .map(|(x, y)| y.at[at10].ndcg - x.at[at10].ndcg)
        .collect();
    let n = d.len() as f64;
    let mean = d.iter().sum::<f64>() / n;
    let sd = (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let p10 = c.get(Measure::At(Metric::Ndcg, 10)).unwrap();
    assert!(close(p10.difference.ci95.unwrap(), 1.96 * sd / n.sqrt()));
    assert_eq!(
        c.gained + c.lost + c.same,
        c.paired_users,
        "every user gains, loses or stays"
    );
    assert_eq!(c.gained, d.iter().filter(|&&v| v > 0.0).count());
    // Movers: largest gain first, each with both lists and what changed.
    assert!(c.gains.len() <= 3 && c.losses.len() <= 3);
    for w in c.gains.windows(2) {
        assert!(w[0].b_ndcg - w[0].a_ndcg >= w[1].b_ndcg - w[1].a_ndcg);
    }
    for u in c.gains.iter().chain(&c.losses) {
        assert!(u.a_top.len() <= 10 && u.b_top.len() <= 10);
        for item in &u.came_in {
            assert!(u.b_top.contains(item) && !u.a_top.contains(item));
        }
        for item in &u.went_out {
            assert!(u.a_top.contains(item) && !u.b_top.contains(item));
        }
        for m in &u.moved {
            assert_eq!(u.a_top[m.a - 1], m.item);
            assert_eq!(u.b_top[m.b - 1], m.item);
        }
    }
    // A setting against itself: no difference, no movers.
    let same = compare(&a, &side("A again", content), None, 3).unwrap();
    assert!(same.measures.iter().all(|p| p.difference.mean == 0.0));
    assert_eq!(same.same, same.paired_users);
    assert!(same.gains.is_empty() && same.losses.is_empty());
    // Swapped sides negate every difference.
    let swapped = compare(&b, &a, None, 3).unwrap();
    for (p, q) in c.measures.iter().zip(&swapped.measures) {
        assert!(close(p.difference.mean, -q.difference.mean));
    }
    assert_eq!((swapped.gained, swapped.lost), (c.lost, c.gained));
}

#[test]
fn the_per_user_table_has_a_row_per_user_and_method_and_means_that_match() {
    let (dataset, _, evaluation) = &evaluations()[1];
    let table = per_user_table(dataset, evaluation);
    let users = evaluation.scores.len();
    assert_eq!(table.rows(), users * evaluation.methods.len());
    let mut csv = Vec::new();
    table.write_csv(&mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (method, ndcg10, targets, ranks, target_n) = (
        col("method"),
        col("ndcg@10"),
        col("targets"),
        col("target_ranks"),
        col("target_interactions"),
    );
    let mut hybrid = Vec::new();
    for record in reader.records() {
        let r = record.unwrap();
        assert_eq!(
            r[targets].split(';').count(),
            r[ranks].split(';').count(),
            "a rank per target"
        );
        assert!(
            r[target_n].parse::<usize>().unwrap() >= 1,
            "warm users keep a history"
        );
        if &r[method] == "hybrid" {
            hybrid.push(r[ndcg10].parse::<f64>().unwrap());
        }
    }
    assert_eq!(hybrid.len(), users);
    let mean = hybrid.iter().sum::<f64>() / users as f64;
    let row = evaluation.report.row(Method::Hybrid).unwrap();
    assert!((mean - row.at(10).unwrap().ndcg.mean).abs() < 1e-6);
}

#[test]
fn compare_and_per_user_on_the_command_line() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let manifest = sample_manifest();
    let (model, manifest) = (model.to_str().unwrap(), manifest.to_str().unwrap());
    let cache = dir.path().join("cache");
    let base = [
        "--dataset",
        manifest,
        "--model",
        model,
        "--from",
        "products",
        "--to",
        "articles",
        "--adapt-epochs",
        "0",
        "--sequence-epochs",
        "0",
    ];
    let run = |sub: &str, extra: &[&str]| {
        let mut args = vec![sub];
        args.extend(base);
        args.extend(extra);
        crossrec(&args, &cache)
    };
    let out = run(
        "compare",
        &["--b", "weights=graph=0,kg=2", "--format", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["a"], "A: weights=default");
    assert_eq!(json["only_a"], 0);
    assert!(json["paired_users"].as_u64().unwrap() > 0);
    assert_eq!(json["b_weights"]["kg"], 2.0);
    let ndcg10 = json["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["measure"] == "NDCG@10")
        .unwrap();
    assert!(ndcg10["difference"]["ci95"].is_number());
    // Another protocol: B is evaluated under it, and the users both
    // evaluated are paired (A's others are counted, not dropped silently).
    let out = run("compare", &["--b", "protocol=warm", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let warm: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(warm["protocol"]["name"], "cold-start");
    assert_eq!(warm["b_protocol"]["name"], "warm");
    let paired = warm["paired_users"].as_u64().unwrap();
    assert!(paired > 0);
    let cold = run("eval", &["--format", "json"]);
    let cold: serde_json::Value = serde_json::from_slice(&cold.stdout).unwrap();
    assert_eq!(
        paired + warm["only_a"].as_u64().unwrap(),
        cold["evaluated_users"].as_u64().unwrap()
    );
    assert!(json.get("b_protocol").is_none());
    // CSV: one row per measure.
    let out = run("compare", &["--b", "weights=kg=2", "--format", "csv"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("measure,a,a_ci95,b,b_ci95,difference,difference_ci95\n"));
    assert_eq!(text.lines().count(), 1 + measures().len());
    // Bad sides are named before any work.
    for (b, want) in [
        ("weights", "not key=value"),
        ("colour=red", "unknown key 'colour'"),
        ("weights=kg=2;weights=graph=1", "given twice"),
        ("precision=fp16", "expected one of"),
        ("protocol=sideways", "expected one of cold-start, warm"),
        ("weights=tuned", "no tuned settings are saved"),
        (
            "weights=kg=0,graph=0,content=0,mapped=0,adapted=0,sequence=0,popularity=0,history=0",
            "every weight is 0",
        ),
    ] {
        let out = run("compare", &["--b", b]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{b}");
        assert!(stderr.contains(want), "{b}: {stderr}");
    }
    // eval --per-user writes the table, and never over an input.
    let per_user = dir.path().join("users.parquet");
    let out = run("eval", &["--per-user", per_user.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("NDCG@10 by target item popularity"),
        "{stdout}"
    );
    assert!(std::fs::metadata(&per_user).unwrap().len() > 0);
    let before = std::fs::read(manifest).unwrap();
    let out = run("eval", &["--per-user", manifest]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(manifest).unwrap(), before);
    let out = run("eval", &["--per-user", "x.npy"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("writes a table"));
}

#[test]
fn the_learned_models_choose_their_epochs_ranking_validation_users_as_the_test_users() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let manifest = sample_manifest();
    let (model, manifest) = (model.to_str().unwrap(), manifest.to_str().unwrap());
    let cache = dir.path().join("cache");
    let eval = |candidates: &str| {
        let args = [
            "eval",
            "--dataset",
            manifest,
            "--model",
            model,
            "--from",
            "products",
            "--to",
            "articles",
            "--format",
            "json",
            "--adapt-epochs",
            "2",
            "--sequence-epochs",
            "2",
            "--candidates",
            candidates,
        ];
        let out = crossrec(&args, &cache);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let (all, sampled) = (eval("all"), eval("sampled:3"));
    for model in ["adapted", "sequence"] {
        let curve = |r: &serde_json::Value| -> Vec<f64> {
            let by_epoch = r[model]["validation_by_epoch"].as_array().unwrap();
            by_epoch.iter().map(|v| v.as_f64().unwrap()).collect()
        };
        let (whole, among) = (curve(&all), curve(&sampled));
        // Every epoch run is listed (the transfer model's start first).
        let first = usize::from(model == "sequence");
        let run = sampled[model]["epochs_run"].as_u64().unwrap() as usize;
        assert_eq!(among.len() + first, run + 1, "{model}");
        // The same seeded training, ranked among 1 + 3 items instead of
        // every item: no user ranks lower, and some rank higher.
        for (w, a) in whole.iter().zip(&among) {
            assert!(a >= w, "{model}: {a} below {w}");
        }
        assert!(
            among.iter().sum::<f64>() > whole.iter().sum::<f64>(),
            "{model}: {among:?} vs {whole:?}"
        );
        let kept = sampled[model]["validation_ndcg10"].as_f64().unwrap();
        assert_eq!(kept, among.iter().copied().fold(f64::MIN, f64::max));
    }
}

#[test]
fn candidate_lists_from_a_file_rank_as_the_lists_they_were_written_from() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let manifest = sample_manifest();
    let (model, manifest) = (model.to_str().unwrap(), manifest.to_str().unwrap());
    let cache = dir.path().join("cache");
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--dataset",
            manifest,
            "--model",
            model,
            "--from",
            "products",
            "--to",
            "articles",
            "--format",
            "json",
            // The learned models choose their epochs on the validation
            // users ranked as the test users are: among sampled lists in
            // the first run, over every item in the others (the file lists
            // the test users alone), so they are left out here.
            "--sequence-epochs",
            "0",
            "--adapt-epochs",
            "0",
        ];
        args.extend(extra);
        crossrec(&args, &cache)
    };
    // Sampled lists written out, then read back as a file: the same ranking.
    let lists = dir.path().join("lists.csv");
    let sampled = eval(&[
        "--candidates",
        "sampled:7",
        "--write-candidates",
        lists.to_str().unwrap(),
    ]);
    assert!(
        sampled.status.success(),
        "{}",
        String::from_utf8_lossy(&sampled.stderr)
    );
    let file = format!("file:{}", lists.display());
    let listed = eval(&["--candidates", &file]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&sampled.stdout).unwrap(),
        serde_json::from_slice(&listed.stdout).unwrap(),
    );
    assert_eq!(b["candidates"]["listed"]["users"], a["evaluated_users"]);
    assert_eq!(a["evaluated_users"], b["evaluated_users"]);
    for method in ["content", "graph", "hybrid"] {
        let ndcg = |r: &serde_json::Value| {
            r["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|row| row["name"] == method)
                .map(|row| row["metrics"][3]["ndcg"]["mean"].as_f64().unwrap())
                .unwrap()
        };
        assert!((ndcg(&a) - ndcg(&b)).abs() < 1e-12, "{method}");
    }
    // The candidate file is an input: no output of the run replaces it.
    let before = std::fs::read(&lists).unwrap();
    let out = eval(&["--candidates", &file, "--per-user", lists.to_str().unwrap()]);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("lists.csv: is also the input"), "{error}");
    assert_eq!(std::fs::read(&lists).unwrap(), before);
    // A file listing one test user: only that user is evaluated, and the
    // report says how many were left out and how many targets the lists missed.
    let text = std::fs::read_to_string(&lists).unwrap();
    let first_user = text.lines().nth(1).unwrap().split(',').next().unwrap();
    let one = dir.path().join("one.csv");
    std::fs::write(
        &one,
        format!("user_id,item_id\n{first_user},A001\nghost,A001\n{first_user},NOPE\n"),
    )
    .unwrap();
    let out = eval(&["--candidates", &format!("file:{}", one.display())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["evaluated_users"], 1);
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("have no list there and are not evaluated"),
        "{notes}"
    );
    assert!(notes.contains("2 rows of"), "{notes}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("one.csv:3: unknown user"), "{stderr}");
    assert!(stderr.contains("one.csv:4: unknown item"), "{stderr}");
    // recommend ranks only the listed items.
    let two = dir.path().join("two.csv");
    std::fs::write(&two, "user_id,item_id\nu002,A120\nu002,A121\nu003,A001\n").unwrap();
    let out = crossrec(
        &[
            "recommend",
            "--dataset",
            manifest,
            "--model",
            model,
            "--from",
            "products",
            "--to",
            "articles",
            "--user",
            "u002",
            "--format",
            "csv",
            "--candidates",
            &format!("file:{}", two.display()),
        ],
        &cache,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    let items: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert!(!items.is_empty() && items.len() <= 2, "{csv}");
    assert!(items.iter().all(|i| *i == "A120" || *i == "A121"), "{csv}");
}

#[test]
fn the_report_is_one_page_with_every_section_and_it_reproduces_from_its_own_command() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let manifest = sample_manifest();
    let (model, manifest) = (model.to_str().unwrap(), manifest.to_str().unwrap());
    let cache = dir.path().join("cache");
    let page = dir.path().join("report.html");
    let args = [
        "report",
        "--dataset",
        manifest,
        "--model",
        model,
        "--from",
        "products",
        "--to",
        "articles",
        "--protocol",
        "warm",
        // Budgets no busy machine reaches: both runs train the same epochs.
        "--adapt-seconds",
        "100000",
        "--sequence-seconds",
        "100000",
        "--output",
        page.to_str().unwrap(),
    ];
    let out = crossrec(&args, &cache);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = std::fs::read_to_string(&page).unwrap();
    for section in [
        "<h2>Dataset</h2>",
        "<h2>Evaluation</h2>",
        "NDCG@10 of each method",
        "target item popularity",
        "The shared space",
        "Example held-out users",
        "<h3>Learned components</h3>",
        "adapted: kept epoch",
        "sequence: kept epoch",
        "validation NDCG@10 by epoch from 0: ",
        "validation NDCG@10 by epoch from 1: ",
    ] {
        assert!(first.contains(section), "{section}");
    }
    // Self-contained: inline SVG charts, nothing fetched.
    assert!(first.matches("<svg").count() >= 7);
    for remote in ["http://", "https://", "<script", "<link", "src="] {
        let outside_svg = first.replace("http://www.w3.org/2000/svg", "");
        assert!(!outside_svg.contains(remote), "{remote}");
    }
    // Its command, run as written, makes the same page (timings aside).
    let start = first.find("<pre>").unwrap() + 5;
    let end = first[start..].find("</pre>").unwrap() + start;
    let command = first[start..end]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let words = shlex::split(&command).unwrap();
    assert_eq!(words[0], "crossrec");
    std::fs::remove_file(&page).unwrap();
    let words: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    let out = crossrec(&words, &cache);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = std::fs::read_to_string(&page).unwrap();
    // The evaluation line's "…; 1.6 s." is the only clock reading.
    let strip = |s: &str| {
        let mut out = String::new();
        let mut rest = s;
        while let Some(at) = rest.find(" s.</p>") {
            let cut = rest[..at].rfind(' ').unwrap_or(at);
            out.push_str(&rest[..cut]);
            out.push_str(" s.</p>");
            rest = &rest[at + " s.</p>".len()..];
        }
        out.push_str(rest);
        out
    };
    assert_eq!(strip(&first), strip(&again));
    // Never over an input.
    let before = std::fs::read(manifest).unwrap();
    let mut bad = args.to_vec();
    let last = bad.len() - 1;
    bad[last] = manifest;
    let out = crossrec(&bad, &cache);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(manifest).unwrap(), before);
}

#[test]
fn another_dataset_version_is_paired_by_id_and_reads_the_candidate_file_itself() {
    let dir = tempdir();
    let model = dir.path().join("model");
    write_tiny_bert(&model, TinySpec::default());
    let manifest = sample_manifest();
    let (model, manifest) = (model.to_str().unwrap(), manifest.to_str().unwrap());
    let cache = dir.path().join("cache");
    // The same data with the articles in reverse file order: every item has
    // another position, so a list read against A's positions would be wrong.
    let sample = std::path::Path::new(manifest).parent().unwrap();
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    for entry in std::fs::read_dir(sample).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, other.join(path.file_name().unwrap())).unwrap();
        }
    }
    let articles = std::fs::read_to_string(sample.join("articles.csv")).unwrap();
    let mut lines: Vec<&str> = articles.lines().collect();
    lines[1..].reverse();
    std::fs::write(other.join("articles.csv"), lines.join("\n") + "\n").unwrap();
    let lists = dir.path().join("lists.csv");
    let out = crossrec(
        &[
            "eval",
            "--dataset",
            manifest,
            "--model",
            model,
            "--from",
            "products",
            "--to",
            "articles",
            "--candidates",
            "sampled:9",
            "--write-candidates",
            lists.to_str().unwrap(),
            "--adapt-epochs",
            "0",
            "--sequence-epochs",
            "0",
        ],
        &cache,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = format!(
        "weights=content=1,mapped=0,adapted=0,sequence=0,graph=0,kg=0,popularity=0,history=0;dataset={}",
        other.join("crossrec.toml").display()
    );
    let out = crossrec(
        &[
            "compare",
            "--dataset",
            manifest,
            "--model",
            model,
            "--from",
            "products",
            "--to",
            "articles",
            "--candidates",
            &format!("file:{}", lists.display()),
            "--adapt-epochs",
            "0",
            "--sequence-epochs",
            "0",
            "--a",
            "weights=content=1,mapped=0,adapted=0,sequence=0,graph=0,kg=0,popularity=0,history=0",
            "--b",
            &b,
            "--format",
            "json",
        ],
        &cache,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["paired_users"].as_u64().unwrap() > 0);
    assert_eq!(
        (json["only_a"].as_u64(), json["only_b"].as_u64()),
        (Some(0), Some(0))
    );
    for m in json["measures"].as_array().unwrap() {
        let d = m["difference"]["mean"].as_f64().unwrap();
        assert!(d.abs() < 1e-6, "{}: {d}", m["measure"]);
    }
}
