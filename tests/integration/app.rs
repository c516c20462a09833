//! The window, driven through egui_kittest by accessible labels: open the
//! sample, wait for the jobs (tiny test model), pick a user, move a weight
//! slider, cancel a job, open a broken dataset and read the error; and the
//! exploration features (search, item cards, box selection, a held-out
//! user's ground truth) on the real model when it is installed; the Chinese
//! sample with a CJK font (every glyph real) and without one (a note says
//! how to install one).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossrec::app::{Command, CrossrecApp, JobKind, ModelChoice, StartOptions};
use crossrec::data::Dataset;
use crossrec::explore::ItemRef;
use crossrec::rank::Component;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crossrec::embed::{DEFAULT_MODEL, Precision};

use crate::common::{TinySpec, real_model, sample_manifest, tempdir, write_tiny_bert};

fn harness(dir: &Path, manifest: PathBuf) -> Harness<'static, CrossrecApp> {
    harness_with_cache(dir, manifest, dir.join("cache"))
}

fn harness_with_cache(
    dir: &Path,
    manifest: PathBuf,
    cache_dir: PathBuf,
) -> Harness<'static, CrossrecApp> {
    harness_built(dir, manifest, cache_dir, Harness::builder())
}

fn harness_built(
    dir: &Path,
    manifest: PathBuf,
    cache_dir: PathBuf,
    builder: egui_kittest::HarnessBuilder<CrossrecApp>,
) -> Harness<'static, CrossrecApp> {
    harness_ranking_off_frame_from(
        dir,
        manifest,
        cache_dir,
        builder,
        crossrec::app::OFF_FRAME_ITEMS,
    )
}

/// The window with the tiny model, ranking off the frame from
/// `off_frame_items` target items.
fn harness_ranking_off_frame_from(
    dir: &Path,
    manifest: PathBuf,
    cache_dir: PathBuf,
    builder: egui_kittest::HarnessBuilder<CrossrecApp>,
    off_frame_items: usize,
) -> Harness<'static, CrossrecApp> {
    let model = dir.join("tiny-bert");
    write_tiny_bert(&model, TinySpec::default());
    let start = StartOptions {
        manifest: Some(manifest),
        model: Some(model.display().to_string()),
        precision: None,
        device: None,
        cache_dir,
        sample: sample_manifest(),
        settings_dir: dir.join("settings"),
        font: None,
        off_frame_items,
    };
    builder
        .with_size(egui::vec2(1600.0, 1300.0))
        .build_eframe(move |cc| CrossrecApp::new(cc, start))
}

/// The window on the sample with the real model when it is installed (as
/// CI requires), else with the tiny one: for the exploration features,
/// whose assertions hold with any model.
fn feature_harness(dir: &Path) -> Harness<'static, CrossrecApp> {
    if real_model().is_none() {
        return harness(dir, sample_manifest());
    }
    let start = StartOptions {
        manifest: Some(sample_manifest()),
        model: Some(DEFAULT_MODEL.to_string()),
        precision: None,
        device: None,
        cache_dir: dir.join("cache"),
        sample: sample_manifest(),
        settings_dir: dir.join("settings"),
        font: None,
        off_frame_items: crossrec::app::OFF_FRAME_ITEMS,
    };
    Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .build_eframe(move |cc| CrossrecApp::new(cc, start))
}

/// A few frames, for clicks to take effect and the next view to draw.
fn settle(harness: &mut Harness<'_, CrossrecApp>) {
    for _ in 0..3 {
        harness.step();
    }
}

/// Steps the window until `done` holds (jobs run on their own threads).
/// The wait ends on the jobs' own completion, not on the clock: it fails
/// only when no job has been running for a while and `done` still does not
/// hold (the job ended without it), so a busy machine only makes it slower.
/// A safety limit of half an hour catches a job that never ends.
fn wait_for(
    harness: &mut Harness<'_, CrossrecApp>,
    what: &str,
    done: impl Fn(&CrossrecApp) -> bool,
) {
    let start = Instant::now();
    let mut idle_since: Option<Instant> = None;
    while !done(harness.state()) {
        if harness.state().running_jobs().is_empty() {
            let idle = *idle_since.get_or_insert_with(Instant::now);
            assert!(
                idle.elapsed() < Duration::from_secs(20),
                "no job is running and {what} never came"
            );
        } else {
            idle_since = None;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1800),
            "timed out waiting for {what} (jobs still running: {:?})",
            harness.state().running_jobs()
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.step();
}

/// The components the shown ranking leaves out.
fn left_out(app: &CrossrecApp) -> Vec<Component> {
    let ranking = app.ranking().expect("a ranking");
    ranking.unavailable.iter().map(|(c, _)| *c).collect()
}

/// The first ranking comes from the direction fitted at once, not from the
/// evaluation: with auto-tune cancelled as soon as it starts (it waits for
/// that fit, so no race), the list still shows, leaving out the learned
/// models, none being stored for this data.
#[test]
fn the_first_ranking_shows_before_the_evaluation() {
    let dir = tempdir();
    let mut h = harness(dir.path(), sample_manifest());
    wait_for(&mut h, "auto-tune to start", |app| {
        app.running_jobs().contains(&JobKind::AutoTune)
    });
    let ctx = h.ctx.clone();
    h.state_mut()
        .handle(&ctx, Command::Cancel(JobKind::AutoTune));
    wait_for(&mut h, "the first ranking", |app| app.ranking().is_some());
    assert!(h.state().analysis().is_none(), "no evaluation ran");
    let first = left_out(h.state());
    assert!(
        first.contains(&Component::Adapted) && first.contains(&Component::Sequence),
        "{first:?}"
    );
}

#[test]
fn the_window_opens_the_sample_ranks_and_reacts_to_sliders() {
    let dir = tempdir();
    let mut h = harness(dir.path(), sample_manifest());
    wait_for(&mut h, "the first ranking", |app| app.ranking().is_some());
    wait_for(&mut h, "live metrics", |app| {
        app.live_metrics().is_some() && app.running_jobs().is_empty()
    });
    // Once evaluated, the ranking has the learned models the evaluation
    // trained.
    let evaluated = left_out(h.state());
    assert!(
        !evaluated.contains(&Component::Adapted) && !evaluated.contains(&Component::Sequence),
        "{evaluated:?}"
    );

    // A direction without tuned settings is tuned in the background on
    // open, and the result is saved where `crossrec recommend` reads it.
    let texts = |app: &CrossrecApp| -> Vec<String> {
        app.notifications().iter().map(|n| n.text.clone()).collect()
    };
    let notes = texts(h.state());
    assert!(
        notes
            .iter()
            .any(|t| t.contains("has no tuned settings yet")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|t| t.starts_with("auto-tune:")),
        "{notes:?}"
    );
    // The sample has too few validation users for a trustworthy search: it
    // ranks for now, is not saved unasked, and the Weights panel offers to.
    assert!(
        notes
            .iter()
            .any(|t| t.starts_with("auto-tune is unreliable (tuned on")),
        "{notes:?}"
    );
    let tuned_files = || -> usize {
        std::fs::read_dir(dir.path().join("settings/tuned"))
            .map(|d| d.flatten().count())
            .unwrap_or(0)
    };
    assert_eq!(tuned_files(), 0, "nothing saved unasked");
    h.get_by_label("Keep as default").click();
    settle(&mut h);
    assert_eq!(
        tuned_files(),
        1,
        "one file for sample shop → blog: {:?}",
        texts(h.state())
    );
    assert!(h.query_by_label("Keep as default").is_none(), "kept once");
    let tuned_weights = h.state().settings().weights;

    // A second window on the same dataset uses the saved settings at once.
    let mut second = harness(dir.path(), sample_manifest());
    wait_for(&mut second, "the second window's evaluation", |app| {
        app.analysis().is_some() && app.running_jobs().is_empty()
    });
    let notes = texts(second.state());
    assert!(
        notes.iter().any(|t| t.contains("using the tuned settings")),
        "{notes:?}"
    );
    assert!(
        !notes.iter().any(|t| t.starts_with("auto-tune:")),
        "{notes:?}"
    );
    assert_eq!(second.state().settings().weights, tuned_weights);
    drop(second);

    // Every panel is there.
    h.get_by_label("Recommendations");
    h.get_by_label("Projection").click();
    settle(&mut h);
    h.get_by_label_contains("Highlight items containing");
    h.get_by_label("Heatmap").click();
    settle(&mut h);
    h.get_by_label("User: history × recommendations");
    h.get_by_label("Domains: cluster overview").click();
    settle(&mut h);
    h.get_by_label_contains("cosine similarity");
    h.get_by_label_contains("Load report");
    h.get_by_label_contains("in use:");
    h.get_by_label("Auto-tune");

    // Pick another user: their ranking is shown.
    h.get_by_label("u002  (in both domains)").click();
    settle(&mut h);
    let user = h.state().dataset().unwrap().user_index("u002").unwrap();
    let before = h.state().ranking().unwrap().clone();
    assert_eq!(before.user, user);
    assert_eq!(before.items.len(), 10);
    h.get_by_label_contains("because of");

    // Move the popularity slider: the ranking changes within the frame,
    // the live metrics once re-scored.
    let metrics_before = h.state().live_metrics().unwrap().clone();
    h.get_by_role_and_label(Role::Slider, "popularity")
        .set_value_accesskit(3.0);
    h.step();
    h.step();
    assert_eq!(
        h.state()
            .settings()
            .weights
            .get(crossrec::rank::Component::Popularity),
        3.0
    );
    let after = h.state().ranking().unwrap().clone();
    assert_ne!(before.items, after.items, "the ranking follows the weights");
    wait_for(&mut h, "re-scored metrics", |app| {
        app.live_metrics()
            .is_some_and(|m| m.weights.get(crossrec::rank::Component::Popularity) == 3.0)
    });
    assert_ne!(
        h.state().live_metrics().unwrap().hybrid,
        metrics_before.hybrid
    );

    // Auto-tune runs as a job and applies what it found.
    let tunes = |app: &CrossrecApp| -> Vec<String> {
        texts(app)
            .into_iter()
            .filter(|t| t.starts_with("auto-tune:"))
            .collect()
    };
    let before_click = tunes(h.state()).len();
    h.get_by_label("Auto-tune").click();
    settle(&mut h);
    wait_for(&mut h, "auto-tune", |app| tunes(app).len() > before_click);
    let applied = h.state().settings().weights.to_string();
    let note = tunes(h.state()).pop().unwrap_or_default();
    assert!(
        note.contains(&applied),
        "the tuned weights are applied: {note} vs {applied}"
    );

    // int8 from the Model panel re-encodes the tiny model; the ranking follows.
    h.get_by_label("Model precision").click();
    settle(&mut h);
    h.get_by_label("int8 (faster, CPU)").click();
    settle(&mut h);
    h.get_by_label("Use this model (re-encode)").click();
    settle(&mut h);
    wait_for(&mut h, "the int8 encode", |app| {
        !app.running_jobs().contains(&JobKind::Encode)
    });
    assert_eq!(h.state().settings().precision, Precision::Int8);
    // The old model's relations went with its vectors; the new ones rank.
    wait_for(&mut h, "the int8 ranking", |app| app.ranking().is_some());
    assert!(h.state().dataset().is_some());
    assert!(
        !h.state()
            .notifications()
            .iter()
            .any(|n| n.text.contains("encod") && n.text.contains("error")),
        "the int8 encode succeeded"
    );

    // Switch to the real model (a long encode) and cancel it.
    if real_model().is_none() {
        return;
    }
    let field = h
        .get_all_by_role(Role::TextInput)
        .find(|n| n.value().is_some_and(|v| v.ends_with("tiny-bert")))
        .expect("the model field");
    field.set_text_value_accesskit(DEFAULT_MODEL);
    settle(&mut h);
    h.get_by_label("Use this model (re-encode)").click();
    settle(&mut h);
    assert!(h.state().running_jobs().contains(&JobKind::Encode));
    h.get_by_label("Cancel encode").click();
    wait_for(&mut h, "the cancel", |app| {
        !app.running_jobs().contains(&JobKind::Encode)
    });
    let texts: Vec<String> = h
        .state()
        .notifications()
        .iter()
        .map(|n| n.text.clone())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("encoding stopped: cancelled")),
        "{texts:?}"
    );
    assert!(
        h.state().ranking().is_some(),
        "the previous results stay on screen"
    );
}

#[test]
fn a_broken_csv_shows_its_file_and_line() {
    let dir = tempdir();
    let data = dir.path().join("broken");
    std::fs::create_dir_all(&data).unwrap();
    for name in [
        "crossrec.toml",
        "products.csv",
        "interactions.csv",
        "user_texts.csv",
    ] {
        std::fs::copy(sample_manifest().with_file_name(name), data.join(name)).unwrap();
    }
    std::fs::write(
        data.join("articles.csv"),
        b"item_id,title,body,topic\nA1,Ok,Fine,x\nA2,Caf\xe9,latin-1,x\n",
    )
    .unwrap();
    let mut h = harness(dir.path(), sample_manifest());
    wait_for(&mut h, "the sample", |app| app.dataset().is_some());
    let field = h
        .get_all_by_role(Role::TextInput)
        .find(|n| {
            n.value()
                .is_some_and(|v| v.ends_with("sample/crossrec.toml"))
        })
        .expect("the manifest field, showing the sample");
    field.set_text_value_accesskit(&data.join("crossrec.toml").display().to_string());
    settle(&mut h);
    h.get_by_label("Open").click();
    wait_for(&mut h, "the error", |app| {
        app.notifications().iter().any(|n| n.error)
    });
    let error = h
        .state()
        .notifications()
        .iter()
        .find(|n| n.error)
        .unwrap()
        .text
        .clone();
    assert!(
        error.contains("articles.csv:3:") && error.contains("UTF-8"),
        "{error}"
    );
    h.get_by_label_contains("articles.csv:3:");
}

#[test]
fn the_live_metrics_switch_protocol() {
    let dir = tempdir();
    let mut h = harness(dir.path(), sample_manifest());
    wait_for(&mut h, "the first evaluation", |app| {
        app.analysis().is_some() && app.running_jobs().is_empty()
    });
    let protocol = |app: &CrossrecApp| app.analysis().map(|a| a.evaluation.report.protocol.name());
    assert_eq!(protocol(h.state()), Some("cold-start"));
    h.get_by_label("Evaluation protocol").click();
    settle(&mut h);
    // The sample marks no split of its own: `given` is offered but disabled.
    h.get_by_label("warm").click();
    wait_for(&mut h, "the warm evaluation", |app| {
        protocol(app) == Some("warm") && app.running_jobs().is_empty()
    });
    h.get_by_label_contains("Held-out users (warm)");
    assert_eq!(h.state().settings().protocol.name(), "warm");
}

#[test]
fn the_live_metrics_rank_among_sampled_candidates_or_the_users_own_lists() {
    use crossrec::evaluate::{Candidates, Method, Negatives};
    let dir = tempdir();
    let mut h = harness(dir.path(), sample_manifest());
    wait_for(&mut h, "the first evaluation", |app| {
        app.analysis().is_some() && app.running_jobs().is_empty()
    });
    let candidates = |app: &CrossrecApp| {
        app.analysis()
            .map(|a| a.evaluation.report.candidates.clone())
    };
    assert_eq!(candidates(h.state()), Some(Candidates::All));
    // Targets + 99 sampled, negatives the users do not have.
    h.get_by_label("Candidates").click();
    settle(&mut h);
    h.get_by_label("targets + 99 sampled").click();
    let unseen = Candidates::Sampled {
        n: 99,
        negatives: Negatives::Unseen,
    };
    wait_for(&mut h, "the sampled evaluation", |app| {
        candidates(app) == Some(unseen.clone()) && app.running_jobs().is_empty()
    });
    h.get_by_label_contains("ranked among targets + 99 sampled (unseen negatives)");
    // A held-out user's list is the evaluation's: from their candidates.
    let ctx = h.ctx.clone();
    let analysis = h.state().analysis().unwrap().clone();
    let held = analysis.evaluation.scores.users[0];
    h.state_mut().handle(&ctx, Command::SelectUser(held));
    settle(&mut h);
    let their = analysis.evaluation.scores.candidates_of(0).unwrap();
    let ranking = h.state().ranking().unwrap().clone();
    assert_eq!(ranking.among, Some(their.len()));
    assert!(ranking.items.iter().all(|r| their.contains(&r.item)));
    h.get_by_label_contains(&format!(
        "ranked among the evaluation's {} candidates for them: targets + 99 sampled",
        their.len()
    ));
    // Negatives drawn as LLMCDSR draws them.
    h.get_by_label("any").click();
    wait_for(&mut h, "the LLMCDSR-sampled evaluation", |app| {
        candidates(app)
            == Some(Candidates::Sampled {
                n: 99,
                negatives: Negatives::Any,
            })
            && app.running_jobs().is_empty()
    });
    h.get_by_label("unseen").click();
    wait_for(&mut h, "the sampled evaluation again", |app| {
        candidates(app) == Some(unseen.clone()) && app.running_jobs().is_empty()
    });
    // The lists it ranked, written as a user's own candidate file (with a
    // row naming nobody), rank the same: popularity's metrics are equal.
    let dataset = Dataset::load(&sample_manifest()).unwrap();
    let analysis = h.state().analysis().unwrap().clone();
    let popularity = Method::Only(Component::Popularity);
    let sampled = analysis.evaluation.report.row(popularity).unwrap().clone();
    let scores = &analysis.evaluation.scores;
    let target = analysis.fitted.relations.target;
    let mut file = String::from("user_id,item_id\n");
    for (i, &user) in scores.users.iter().enumerate() {
        for &item in scores.candidates_of(i).unwrap() {
            file.push_str(&format!(
                "{},{}\n",
                dataset.users[user as usize], dataset.domains[target].items[item as usize].id
            ));
        }
    }
    // A user the evaluation does not hold out, with a list of three items.
    let relations = &analysis.fitted.relations;
    let other = (0..dataset.users.len() as u32)
        .find(|&u| scores.position(u).is_none() && !relations.source_history[u as usize].is_empty())
        .unwrap();
    let owned = relations.visible_target_items(other);
    let three: Vec<u32> = (0..dataset.domains[target].items.len() as u32)
        .filter(|j| owned.binary_search(j).is_err())
        .take(3)
        .collect();
    for &item in &three {
        file.push_str(&format!(
            "{},{}\n",
            dataset.users[other as usize], dataset.domains[target].items[item as usize].id
        ));
    }
    file.push_str("nobody-at-all,x\n");
    let lists = dir.path().join("retrieval.csv");
    std::fs::write(&lists, file).unwrap();
    h.state_mut().handle(
        &ctx,
        Command::SetCandidates(crossrec::app::CandidateChoice::File(lists.clone())),
    );
    wait_for(&mut h, "the evaluation on listed candidates", |app| {
        matches!(candidates(app), Some(Candidates::Listed(_))) && app.running_jobs().is_empty()
    });
    let listed = h.state().analysis().unwrap().evaluation.report.clone();
    assert_eq!(listed.evaluated_users, scores.users.len());
    let listed_row = listed.row(popularity).unwrap();
    for (a, b) in sampled.metrics.iter().zip(&listed_row.metrics) {
        assert_eq!(a.ndcg.mean, b.ndcg.mean, "NDCG@{}", a.k);
        assert_eq!(a.hit_rate.mean, b.hit_rate.mean, "HR@{}", a.k);
    }
    h.get_by_label_contains("ranked among their lists in retrieval.csv");
    // A user with a list of their own, not held out, is ranked among it.
    h.state_mut().handle(&ctx, Command::SelectUser(other));
    settle(&mut h);
    let ranking = h.state().ranking().unwrap().clone();
    assert_eq!(ranking.among, Some(3));
    let mut shown: Vec<u32> = ranking.items.iter().map(|r| r.item).collect();
    shown.sort_unstable();
    assert_eq!(shown, three);
    h.get_by_label_contains("ranked among the 3 items of their list in");
    // The unknown user is reported with its file and line.
    let read = h
        .state()
        .notifications()
        .iter()
        .find(|n| n.text.starts_with("candidates:"))
        .expect("a note on the lists read")
        .clone();
    // The header, every list's rows, then the unknown user's.
    let last_line = (0..scores.users.len())
        .map(|i| scores.candidates_of(i).unwrap().len())
        .sum::<usize>()
        + three.len()
        + 2;
    assert!(
        read.error,
        "a skipped row is shown as an error: {}",
        read.text
    );
    assert!(
        read.text.contains(&format!("retrieval.csv:{last_line}:")),
        "line {last_line}: {}",
        read.text
    );
    // A missing file is an error naming it; the window goes on.
    let missing = dir.path().join("no-such-lists.csv");
    h.state_mut().handle(
        &ctx,
        Command::SetCandidates(crossrec::app::CandidateChoice::File(missing)),
    );
    wait_for(&mut h, "the refused lists", |app| {
        app.running_jobs().is_empty()
            && app.notifications().iter().any(|n| {
                n.error && n.text.contains("no-such-lists.csv") && n.text.contains("Ranked among")
            })
    });
    assert!(h.state().ranking().is_some());
}

#[test]
fn an_unwritable_cache_is_an_error_in_the_status_area_and_the_window_goes_on() {
    let dir = tempdir();
    // A file where the cache folder should be: nothing can be saved there.
    let cache = dir.path().join("cache-is-a-file");
    std::fs::write(&cache, b"").unwrap();
    let mut h = harness_with_cache(dir.path(), sample_manifest(), cache);
    wait_for(&mut h, "the first ranking", |app| app.ranking().is_some());
    let error = h
        .state()
        .notifications()
        .iter()
        .find(|n| n.error)
        .map(|n| n.text.clone())
        .expect("an error about the cache");
    assert!(
        error.contains("the embedding cache was not saved") && error.contains("cache-is-a-file"),
        "{error}"
    );
    // Shown in the status area (the text may appear in more than one node).
    assert!(
        h.query_all_by_label_contains("the embedding cache was not saved")
            .next()
            .is_some()
    );
}

/// A file dropped on the window, as the windowing layer hands it to egui.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn dropped_csv_and_parquet_files_become_a_saved_and_loaded_manifest() {
    let dir = tempdir();
    let data = dir.path().join("mine");
    std::fs::create_dir_all(&data).unwrap();
    // A semicolon file with its own column names, to be mapped by hand.
    std::fs::write(
        data.join("films.csv"),
        "code;name;plot\nf1;Heat;Cops and robbers\nf2;Up;A flying house\n",
    )
    .unwrap();
    // A Parquet file, with a number column besides the text.
    let books = arrow_array::RecordBatch::try_from_iter([
        (
            "item_id",
            std::sync::Arc::new(arrow_array::StringArray::from(vec!["b1", "b2"]))
                as arrow_array::ArrayRef,
        ),
        (
            "title",
            std::sync::Arc::new(arrow_array::StringArray::from(vec!["Dune", "Emma"])),
        ),
        (
            "year",
            std::sync::Arc::new(arrow_array::Int64Array::from(vec![1965, 1815])),
        ),
    ])
    .unwrap();
    let file = std::fs::File::create(data.join("books.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, books.schema(), None).unwrap();
    writer.write(&books).unwrap();
    writer.close().unwrap();
    std::fs::write(
        data.join("events.csv"),
        "user_id,domain,item_id\nann,films,f1\nann,books,b1\nbob,films,f2\nbob,books,b2\n",
    )
    .unwrap();
    let mut h = harness(dir.path(), sample_manifest());
    wait_for(&mut h, "the sample", |app| app.dataset().is_some());
    for name in ["films.csv", "books.parquet", "events.csv"] {
        let file: egui::DroppedFileHandle = std::sync::Arc::new(Dropped(data.join(name)));
        h.input_mut().dropped_files.push(file);
        h.step();
    }
    // Each file's head is read on a thread of its own.
    let start = Instant::now();
    while ["Cops and robbers", "Dune", "1965", "Parquet"]
        .iter()
        .any(|label| h.query_by_label(label).is_none())
    {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the previews never came"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    // The column-mapping view shows each file's header and first rows.
    h.get_by_label("Cops and robbers");
    h.get_by_label("Dune");
    h.get_by_label("1965");
    // A Parquet file has no delimiter to choose.
    h.get_by_label("Parquet");
    // Each items file offers its columns as knowledge-graph entities too:
    // books' "year" is ticked (the second "year" box; the first is text).
    assert_eq!(
        h.get_all_by_label("entity columns (knowledge graph):")
            .count(),
        2
    );
    h.get_all_by_role_and_label(Role::CheckBox, "year")
        .nth(1)
        .expect("an entity box for year")
        .click_accesskit();
    h.step();
    // films.csv has no item_id column: the id guess is its first column ("code").
    // The button is below the fold of the left panel: press it the way
    // assistive technology does, which needs no pointer position.
    h.get_by_label("Save manifest and load").click_accesskit();
    wait_for(&mut h, "the new dataset", |app| {
        app.dataset().is_some_and(|d| d.name() == "mine")
    });
    let dataset = h.state().dataset().unwrap();
    assert_eq!(dataset.domains.len(), 2);
    assert_eq!(dataset.domains[0].name, "films");
    assert_eq!(dataset.domains[0].items[0].text, "Heat. Cops and robbers");
    assert_eq!(dataset.interactions.len(), 4);
    assert_eq!(dataset.domains[1].name, "books");
    assert_eq!(dataset.domains[1].items[1].id, "b2");
    let saved = crossrec::data::Manifest::load(&data.join("crossrec.toml")).unwrap();
    assert_eq!(saved.domains[0].id_column, "code");
    assert_eq!(saved.domains[1].entity_columns, vec!["year".to_string()]);
    let books = &h.state().dataset().unwrap().domains[1];
    assert_eq!(books.items[0].entities[0].value, "1965");
}

#[test]
fn search_finds_an_item_and_its_card_navigates_to_neighbours_and_back() {
    let dir = tempdir();
    let mut h = feature_harness(dir.path());
    wait_for(&mut h, "the first ranking", |app| {
        app.ranking().is_some() && app.running_jobs().is_empty()
    });

    // Semantic search: an item's own text finds that item first (with any
    // model), listed with its cosine and marked on the projection.
    let (domain, item, text) = {
        let dataset = h.state().dataset().unwrap();
        let d = dataset
            .domain_index("articles")
            .expect("the sample's articles domain");
        let planted = 7;
        (
            d,
            planted,
            dataset.domains[d].items[planted as usize].text.clone(),
        )
    };
    h.get_by_label("Projection").click();
    settle(&mut h);
    h.get_by_label("Semantic search").click();
    settle(&mut h);
    h.get_by_role_and_label(Role::TextInput, "Search query")
        .set_text_value_accesskit(&text);
    settle(&mut h);
    h.get_by_label("Search").click();
    wait_for(&mut h, "the search", |app| app.search_result().is_some());
    let found = h.state().search_result().unwrap().clone();
    assert_eq!(found.query, text.trim());
    assert_eq!(found.hits.len(), 2, "hits for every domain");
    assert_eq!(found.hits[domain][0].item, item, "the planted item first");
    assert!(found.hits[domain][0].cosine > 0.999);
    h.get_by_label_contains("Nearest to");
    h.get_by_label_contains("search hits in articles");
    h.get_by_label("Clear search").click();
    settle(&mut h);
    assert!(h.state().search_result().is_none());

    // A recommendation opens its card; a neighbour navigates; Back returns.
    let (first, label) = {
        let app = h.state();
        let ranking = app.ranking().unwrap();
        let analysis = app.analysis().unwrap();
        let t = &app.dataset().unwrap().domains[analysis.fitted.relations.target];
        let rec = ranking.items[0].item;
        let text = &t.items[rec as usize].text;
        // As the list shows it: 47 characters and an ellipsis.
        let shown = if text.chars().count() <= 48 {
            text.clone()
        } else {
            text.chars().take(47).chain(['…']).collect()
        };
        (rec, shown)
    };
    h.get_by_label(&label).click();
    wait_for(&mut h, "the item card", |app| {
        app.item_card().is_some_and(|c| c.item.item == first)
    });
    let card = h.state().item_card().unwrap().clone();
    assert!(card.neighbours.iter().all(|n| !n.is_empty()));
    assert!(
        !card.neighbours[card.item.domain]
            .iter()
            .any(|n| n.item == first),
        "an item is not its own neighbour"
    );
    h.get_by_label_contains("interactions by");
    h.get_by_label_contains("Users who had this also had");
    // Its knowledge-graph entities (the sample links items by topic), each
    // listing the items that share it; one click highlights them all.
    let entity = card
        .entities
        .first()
        .expect("the sample's items have a topic")
        .clone();
    assert!(entity.name.starts_with("topic "), "{}", entity.name);
    assert_eq!(entity.shared_by.len(), entity.items - 1);
    h.get_by_label(&format!(
        "{} · {} other items",
        entity.name,
        entity.items - 1
    ))
    .click_accesskit();
    settle(&mut h);
    h.get_by_label("Highlight in the projection")
        .click_accesskit();
    settle(&mut h);
    h.get_by_label(&format!("{} matches", entity.items));
    let next = card.neighbours[card.item.domain][0];
    let next_id = {
        let dataset = h.state().dataset().unwrap();
        dataset.domains[next.domain].items[next.item as usize]
            .id
            .clone()
    };
    // Through accesskit (as a keyboard or screen reader would): the row
    // may be scrolled out of the card's view.
    h.get_by_label_contains(&format!("{:.3}  {next_id}  ", next.cosine))
        .click_accesskit();
    wait_for(&mut h, "the neighbour's card", |app| {
        app.item_card().is_some_and(|c| c.item.item == next.item)
    });
    h.get_by_label("Back").click();
    wait_for(&mut h, "the first card again", |app| {
        app.item_card().is_some_and(|c| c.item.item == first)
    });
    h.get_by_label("Close").click();
    settle(&mut h);
    assert!(h.state().item_card().is_none());
}

#[test]
fn a_held_out_users_hits_are_marked_as_the_evaluation_has_them() {
    let dir = tempdir();
    let mut h = feature_harness(dir.path());
    wait_for(&mut h, "live metrics", |app| {
        app.live_metrics().is_some() && app.running_jobs().is_empty()
    });
    let app = h.state();
    let analysis = app.analysis().unwrap();
    let scores = &analysis.evaluation.scores;
    let per_user = app.live_metrics().unwrap().per_user.clone();
    assert_eq!(per_user.len(), scores.users.len());
    let dataset = app.dataset().unwrap();
    let name = |u: u32| dataset.users[u as usize].clone();
    // The worst-first list starts with the lowest NDCG@10.
    let worst = (0..per_user.len())
        .min_by(|&a, &b| {
            per_user[a]
                .ndcg
                .total_cmp(&per_user[b].ndcg)
                .then(a.cmp(&b))
        })
        .unwrap();
    let worst_label = format!(
        "{}  NDCG@10 {:.3}",
        name(scores.users[worst]),
        per_user[worst].ndcg
    );
    // A held-out user the current weights find something for.
    let found = (0..per_user.len())
        .find(|&i| per_user[i].ndcg > 0.0)
        .expect("a held-out user with a hit in the top 10");
    let user = scores.users[found];
    let user_name = name(user);
    let relevant = scores.relevant(found).to_vec();
    let weights = app.settings().weights;
    let evaluated = scores.rank(found, &weights, app.settings().k, &mut Vec::new());

    h.get_by_label("Held-out users, worst NDCG@10 first")
        .click();
    settle(&mut h);
    h.get_by_label(&worst_label);
    h.get_by_label("Held-out users, worst NDCG@10 first")
        .click();
    settle(&mut h);

    // Pick the user through the id search of the ordinary list.
    h.get_by_role_and_label(Role::TextInput, "User id")
        .set_text_value_accesskit(&user_name);
    settle(&mut h);
    h.get_by_label(&format!("{user_name}  (held out)")).click();
    wait_for(&mut h, "the held-out user's ranking", |app| {
        app.ranking().is_some_and(|r| r.user == user)
    });
    let app = h.state();
    let truth = app.ground_truth().expect("ground truth of a held-out user");
    assert_eq!(truth.relevant, relevant);
    assert!((truth.at_k.ndcg - per_user[found].ndcg).abs() < 1e-12);
    // The list is the evaluation's ranking, and its hits are the items of
    // the relevant set in it.
    let ranking = app.ranking().unwrap();
    let shown: Vec<u32> = ranking.items.iter().map(|r| r.item).collect();
    assert_eq!(shown, evaluated);
    let hits = shown
        .iter()
        .filter(|j| relevant.binary_search(j).is_ok())
        .count();
    assert!(hits > 0);
    assert_eq!(h.query_all_by_label_contains(" hit").count(), hits);
    h.get_by_label_contains("Held out by the evaluation");
    h.get_by_label_contains("What they really took in articles");

    // Exporting the list (the save dialog's answer handed over as its
    // command) writes the shown items in order.
    let path = dir.path().join("recommendations.csv");
    let ctx = h.ctx.clone();
    h.state_mut()
        .handle(&ctx, crossrec::app::Command::ExportRanking(path.clone()));
    let mut reader = csv::Reader::from_path(&path).expect("the exported CSV");
    let ids: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[1].to_string())
        .collect();
    let dataset = h.state().dataset().unwrap();
    let articles = dataset.domain_index("articles").unwrap();
    let want: Vec<String> = shown
        .iter()
        .map(|&j| dataset.domains[articles].items[j as usize].id.clone())
        .collect();
    assert_eq!(ids, want);
    assert!(h.state().notifications().iter().any(|n| {
        n.text
            .starts_with(&format!("exported {} recommendations", want.len()))
    }));
}

#[test]
fn a_box_selection_lists_counts_names_clusters_and_exports_its_rows() {
    let dir = tempdir();
    let mut h = feature_harness(dir.path());
    wait_for(&mut h, "the projection", |app| {
        app.projection().is_some() && app.running_jobs().is_empty()
    });
    h.get_by_label("Projection").click();
    settle(&mut h);
    h.get_by_label("Box select").click();
    settle(&mut h);
    // The middle half of the plot in both directions (what a drag from one
    // corner to the other selects).
    let projection = h.state().projection().unwrap().clone();
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for p in projection.points.iter().flatten() {
        for a in 0..2 {
            lo[a] = lo[a].min(f64::from(p[a]));
            hi[a] = hi[a].max(f64::from(p[a]));
        }
    }
    let quarter = |a: usize, f: f64| lo[a] + (hi[a] - lo[a]) * f;
    let corners = [
        [quarter(0, 0.75), quarter(1, 0.25)],
        [quarter(0, 0.25), quarter(1, 0.75)],
    ];
    let expected = crossrec::explore::in_box(&projection, corners[0], corners[1]);
    let ctx = h.ctx.clone();
    h.state_mut()
        .handle(&ctx, crossrec::app::Command::SelectBox(corners));
    settle(&mut h);
    let selection = h.state().selection().expect("a selection").clone();
    assert_eq!(selection.items, expected);
    assert!(
        selection.per_domain.iter().all(|&n| n > 0),
        "{:?}",
        selection.per_domain
    );
    for (d, &n) in selection.per_domain.iter().enumerate() {
        assert_eq!(n, expected.iter().filter(|r| r.domain == d).count());
        assert!(
            !selection.clusters[d].is_empty(),
            "clusters named for domain {d}"
        );
    }
    h.get_by_label_contains(&format!(
        "{} items: {} in products, {} in articles",
        expected.len(),
        selection.per_domain[0],
        selection.per_domain[1]
    ));
    assert_eq!(
        h.query_all_by_label_contains("near products cluster")
            .count(),
        selection.clusters[0].len()
    );

    // The export (the dialog's answer handed over as its command) writes
    // one row per selected item.
    let path = dir.path().join("selection.csv");
    h.state_mut()
        .handle(&ctx, crossrec::app::Command::ExportSelection(path.clone()));
    let mut reader = csv::Reader::from_path(&path).expect("the exported CSV");
    assert_eq!(
        reader.headers().unwrap(),
        vec!["domain", "item_id", "x", "y", "text"]
    );
    let dataset = h.state().dataset().unwrap();
    let rows: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string())
        })
        .collect();
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|r| {
            let d = &dataset.domains[r.domain];
            (d.name.clone(), d.items[r.item as usize].id.clone())
        })
        .collect();
    assert_eq!(rows, want);
    h.get_by_label("Clear selection").click();
    settle(&mut h);
    assert!(h.state().selection().is_none());
}

#[test]
fn semantic_search_with_the_real_model_finds_the_items_a_reader_would() {
    if real_model().is_none() {
        return;
    }
    let dir = tempdir();
    let mut h = feature_harness(dir.path());
    wait_for(&mut h, "the sample encoded with the real model", |app| {
        app.projection().is_some() && app.running_jobs().is_empty()
    });
    h.get_by_label("Projection").click();
    settle(&mut h);
    h.get_by_label("Semantic search").click();
    settle(&mut h);
    // The article never says "skillet" or "how": it is found by meaning.
    h.get_by_role_and_label(Role::TextInput, "Search query")
        .set_text_value_accesskit("how do I season a cast iron skillet");
    settle(&mut h);
    h.get_by_label("Search").click();
    wait_for(&mut h, "the search", |app| app.search_result().is_some());
    let app = h.state();
    let dataset = app.dataset().unwrap();
    let found = app.search_result().unwrap();
    let first = |domain: &str| {
        let d = dataset.domain_index(domain).unwrap();
        dataset.domains[d].items[found.hits[d][0].item as usize]
            .id
            .clone()
    };
    assert_eq!(
        first("articles"),
        "A086",
        "Seasoning and caring for cast iron"
    );
    assert_eq!(first("products"), "P086", "Cast iron skillet");
}

/// The window on the Chinese sample with the tiny model, and `font` added;
/// a character without a glyph fails the test unless `boxes` (then it draws
/// as a box, as in the real window).
fn chinese_harness(
    dir: &Path,
    font: Option<PathBuf>,
    boxes: bool,
) -> Harness<'static, CrossrecApp> {
    let model = dir.join("tiny-bert");
    write_tiny_bert(&model, TinySpec::default());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-zh/crossrec.toml");
    let start = StartOptions {
        manifest: Some(manifest),
        model: Some(model.display().to_string()),
        precision: None,
        device: None,
        cache_dir: dir.join("cache"),
        sample: sample_manifest(),
        settings_dir: dir.join("settings"),
        font,
        off_frame_items: crossrec::app::OFF_FRAME_ITEMS,
    };
    let builder = Harness::builder().with_size(egui::vec2(1600.0, 1000.0));
    let builder = if boxes {
        builder.allow_missing_glyphs()
    } else {
        builder
    };
    builder.build_eframe(move |cc| CrossrecApp::new(cc, start))
}

/// Opens the Chinese sample, ranks for a user, shows the heatmap and hovers
/// over the plots, so every Chinese label the window draws is laid out.
fn show_chinese_everywhere(h: &mut Harness<'_, CrossrecApp>) -> Vec<String> {
    wait_for(h, "the first ranking", |app| app.ranking().is_some());
    wait_for(h, "the jobs", |app| app.running_jobs().is_empty());
    let ranked = h.state().ranking().map_or(0, |r| r.items.len());
    assert!(ranked > 0, "no recommendations");
    for tab in ["Projection", "Heatmap"] {
        h.get_by_label(tab).click();
        settle(h);
        for (x, y) in [
            (800.0, 400.0),
            (900.0, 500.0),
            (700.0, 300.0),
            (1000.0, 600.0),
        ] {
            h.input_mut()
                .events
                .push(egui::Event::PointerMoved(egui::pos2(x, y)));
            settle(h);
        }
    }
    h.state()
        .notifications()
        .iter()
        .map(|n| n.text.clone())
        .collect()
}

#[test]
fn chinese_text_renders_with_real_glyphs_given_a_cjk_font() {
    let dir = tempdir();
    let font =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fonts/wqy-microhei-subset.ttf");
    let mut h = chinese_harness(dir.path(), Some(font), false);
    let notes = show_chinese_everywhere(&mut h);
    assert!(
        !notes.iter().any(|n| n.contains("no installed font has")),
        "a Chinese character had no glyph: {notes:?}"
    );
    let dataset = h.state().dataset().expect("the Chinese sample").clone();
    let texts: Vec<String> = dataset
        .domains
        .iter()
        .flat_map(|d| d.items.iter().map(|i| i.text.clone()))
        .collect();
    assert_eq!(dataset.domains[0].name, "商品");
    h.ctx.fonts_mut(|fonts| {
        for text in &texts {
            assert!(
                fonts.has_glyphs(&egui::FontId::proportional(14.0), text),
                "no glyph for some character of {text:?}"
            );
        }
    });
    // The item texts are on screen: the recommendation list shows them.
    let first = &h.state().ranking().expect("a ranking").items[0];
    let target = &dataset.domains[1].items[first.item as usize];
    let shown = target.text.chars().take(6).collect::<String>();
    assert!(
        h.query_all_by_label_contains(&shown).next().is_some(),
        "the top recommendation {shown:?} is not shown"
    );
}

#[test]
fn without_a_cjk_font_the_window_says_how_to_install_one() {
    let dir = tempdir();
    let mut h = chinese_harness(dir.path(), None, true);
    let notes = show_chinese_everywhere(&mut h);
    let note = notes
        .iter()
        .find(|n| n.contains("no installed font has"))
        .unwrap_or_else(|| panic!("no font note: {notes:?}"));
    assert!(note.contains("fonts-wqy-microhei"), "{note}");
    assert!(note.contains("--font"), "{note}");
    assert!(note.contains("U+"), "{note}");

    // A file that is not a font is an error, and the window goes on.
    let dir = tempdir();
    let bogus = dir.path().join("font.ttf");
    std::fs::write(&bogus, "not a font").unwrap();
    let h = chinese_harness(dir.path(), Some(bogus), true);
    let notes: Vec<String> = h
        .state()
        .notifications()
        .iter()
        .map(|n| n.text.clone())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("font.ttf: not a usable font")),
        "{notes:?}"
    );
}

/// The screenshot the window asked its viewport for in the last frame, if
/// it asked for one (the harness has no renderer to take it).
fn screenshot_request(h: &Harness<'_, CrossrecApp>) -> Option<egui::ScreenshotCallback> {
    h.output()
        .viewport_output
        .values()
        .flat_map(|v| &v.commands)
        .find_map(|c| match c {
            egui::ViewportCommand::Screenshot(callback) => Some(callback.clone()),
            _ => None,
        })
}

#[test]
fn plots_save_as_png_pictures_of_what_is_on_screen_and_never_over_an_input() {
    let dir = tempdir();
    let mut h = harness(dir.path(), sample_manifest());
    wait_for(&mut h, "the window at rest", |app| {
        app.analysis().is_some() && app.running_jobs().is_empty()
    });
    // Each plot has its button, enabled once the plot is drawn.
    let enabled = |h: &Harness<'_, CrossrecApp>| {
        use egui_kittest::kittest::NodeT;
        !h.get_by_label("PNG…").accesskit_node().is_disabled()
    };
    assert!(enabled(&h), "the projection's");
    for tab in ["Heatmap", "Evaluation"] {
        h.get_by_label(tab).click();
        settle(&mut h);
        assert!(enabled(&h), "the {tab} tab's");
    }
    h.get_by_label("Projection").click();
    settle(&mut h);
    // The file is picked: the next frame asks for a screenshot, and the
    // plot's rectangle of it is written (a screenshot whose every pixel
    // says where it is stands in for the renderer's).
    let ctx = h.ctx.clone();
    let ppp = ctx.pixels_per_point();
    let png = dir.path().join("plot.png");
    let region = egui::Rect::from_min_max(egui::pos2(100.0, 120.0), egui::pos2(340.0, 270.0));
    h.state_mut()
        .handle(&ctx, Command::SavePicture(png.clone(), region));
    h.step();
    let callback = screenshot_request(&h).expect("a screenshot asked for");
    let (width, height) = (1600.0 * ppp, 1300.0 * ppp);
    let (width, height) = (width as usize, height as usize);
    let pixels = (0..width * height)
        .map(|i| egui::Color32::from_rgb((i % width % 251) as u8, (i / width % 241) as u8, 9))
        .collect();
    callback.complete(std::sync::Arc::new(egui::ColorImage::new(
        [width, height],
        pixels,
    )));
    wait_for(&mut h, "the picture", |app| {
        app.running_jobs().is_empty() && png.exists()
    });
    let picture = image::open(&png).unwrap().to_rgba8();
    let (w, h_px) = ((240.0 * ppp) as u32, (150.0 * ppp) as u32);
    assert_eq!((picture.width(), picture.height()), (w, h_px));
    let (x0, y0) = ((100.0 * ppp) as usize, (120.0 * ppp) as usize);
    assert_eq!(
        picture.get_pixel(0, 0).0,
        [(x0 % 251) as u8, (y0 % 241) as u8, 9, 255]
    );
    let (x1, y1) = (x0 + w as usize - 1, y0 + h_px as usize - 1);
    assert_eq!(
        picture.get_pixel(w - 1, h_px - 1).0,
        [(x1 % 251) as u8, (y1 % 241) as u8, 9, 255]
    );
    let note = h.state().notifications().last().unwrap().clone();
    assert!(
        !note.error && note.text.contains("plot.png"),
        "{}",
        note.text
    );
    // Over the manifest: refused at once, the manifest untouched, and no
    // screenshot asked for.
    let manifest = sample_manifest();
    let before = std::fs::read(&manifest).unwrap();
    h.state_mut()
        .handle(&ctx, Command::SavePicture(manifest.clone(), region));
    h.step();
    assert!(screenshot_request(&h).is_none());
    let refused = h.state().notifications().last().unwrap().clone();
    assert!(
        refused.error && refused.text.contains("is also the input"),
        "{}",
        refused.text
    );
    assert_eq!(std::fs::read(&manifest).unwrap(), before);
    // A screenshot the window never takes is an error, not a silent nothing.
    let lost = dir.path().join("lost.png");
    h.state_mut()
        .handle(&ctx, Command::SavePicture(lost.clone(), region));
    h.step();
    drop(screenshot_request(&h).expect("a screenshot asked for"));
    settle(&mut h);
    let error = h.state().notifications().last().unwrap().clone();
    assert!(
        error.error && error.text.contains("took no screenshot"),
        "{}",
        error.text
    );
    assert!(!lost.exists());
}

#[test]
fn the_whole_dataset_exports_from_the_window_as_a_background_job() {
    use crossrec::export::DatasetExport;
    let dir = tempdir();
    let mut h = harness(dir.path(), sample_manifest());
    wait_for(&mut h, "the projection", |app| {
        app.ranking().is_some() && app.running_jobs().is_empty()
    });
    // The buttons are there once the items are encoded.
    for label in ["Vectors…", "Projection…", "Neighbours…"] {
        h.get_by_label(label);
    }
    // The dialog's answer, handed over as its command.
    let ctx = h.ctx.clone();
    let npy = dir.path().join("vectors.npy");
    let neighbours = dir.path().join("neighbors.csv");
    let projection = dir.path().join("projection.parquet");
    h.state_mut().handle(
        &ctx,
        crossrec::app::Command::ExportDataset(DatasetExport::Embeddings, npy.clone()),
    );
    wait_for(&mut h, "the vectors export", |app| {
        app.running_jobs().is_empty()
    });
    h.state_mut().handle(
        &ctx,
        crossrec::app::Command::ExportDataset(DatasetExport::Neighbors, neighbours.clone()),
    );
    wait_for(&mut h, "the neighbours export", |app| {
        app.running_jobs().is_empty()
    });
    // The file name picks the format: Parquet here.
    h.state_mut().handle(
        &ctx,
        crossrec::app::Command::ExportDataset(DatasetExport::Projection, projection.clone()),
    );
    wait_for(&mut h, "the projection export", |app| {
        app.running_jobs().is_empty()
    });
    let table = crossrec::data::ParquetTable::open(&projection).unwrap();
    assert_eq!(table.headers(), ["item_id", "domain", "x", "y", "text"]);
    assert_eq!(table.row_count(), 288);
    let matrix = crossrec::embed::Embeddings::read_npy(&npy).unwrap();
    assert_eq!(matrix.len(), 288);
    assert!(dir.path().join("vectors.ids.csv").is_file());
    let rows = csv::Reader::from_path(&neighbours)
        .unwrap()
        .records()
        .count();
    assert_eq!(rows, 288 * 2 * 10);
    let notes: Vec<String> = h
        .state()
        .notifications()
        .iter()
        .map(|n| n.text.clone())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("exported the embeddings of 288 items")),
        "{notes:?}"
    );
    // A folder that does not exist is an error in the status area.
    h.state_mut().handle(
        &ctx,
        crossrec::app::Command::ExportDataset(
            DatasetExport::Projection,
            dir.path().join("no/such/folder/p.csv"),
        ),
    );
    wait_for(&mut h, "the failing export", |app| {
        app.running_jobs().is_empty()
    });
    assert!(
        h.state()
            .notifications()
            .iter()
            .any(|n| n.error && n.text.starts_with("export:"))
    );
}

#[test]
fn vectors_from_files_are_shown_as_such_and_not_searched() {
    let dir = tempdir();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let manifest = crate::common::sample_with_vector_files(&data, false);
    for (domain, seed) in [("products", 3), ("articles", 5)] {
        let rows: Vec<f32> = (0..144 * crate::common::TINY_DIM)
            .map(|i| ((i * seed) % 11) as f32 + 1.0)
            .collect();
        crossrec::embed::Embeddings::new(crate::common::TINY_DIM, rows)
            .write_npy(&data.join(format!("{domain}.npy")))
            .unwrap();
    }
    let mut h = harness(dir.path(), manifest);
    wait_for(&mut h, "the first ranking", |app| app.ranking().is_some());
    h.get_by_label_contains("products: vectors from file (products.npy), not encoded");
    let ctx = h.ctx.clone();
    h.state_mut()
        .handle(&ctx, crossrec::app::Command::Search("tea".into()));
    settle(&mut h);
    assert!(
        h.state()
            .notifications()
            .iter()
            .any(|n| n.error && n.text.contains("without the model that made them")),
        "the search was not refused"
    );
}

/// Where the window is when a switch happens: each kind of job that works
/// from the open dataset, started and still unapplied.
#[derive(Debug, Clone, Copy)]
enum Running {
    Load,
    Encode,
    Project,
    Analyse,
    Metrics,
    Search,
    Item,
}

/// Brings the window on the English sample to the moment `running` has
/// just been started (its result not yet applied).
fn start_job(h: &mut Harness<'_, CrossrecApp>, running: Running) {
    let ctx = h.ctx.clone();
    let encoded = |app: &CrossrecApp| app.projection().is_some() && app.search_result().is_none();
    match running {
        Running::Load => {
            wait_for(h, "the dataset", |app| app.dataset().is_some());
            h.state_mut()
                .handle(&ctx, Command::OpenManifest(sample_manifest()));
        }
        Running::Encode => {
            // The encode starts the moment the dataset lands.
            wait_for(h, "the dataset", |app| app.dataset().is_some());
        }
        Running::Project | Running::Analyse => {
            // Both start the moment the vectors land; step until they have.
            wait_for(h, "the vectors", |app| {
                app.running_jobs().contains(&JobKind::Project)
                    || app.running_jobs().contains(&JobKind::AutoTune)
                    || app.running_jobs().contains(&JobKind::Evaluate)
            });
        }
        Running::Metrics => {
            wait_for(h, "the analysis", |app| app.analysis().is_some());
            let mut weights = h.state().settings().weights;
            weights.set(Component::Popularity, 0.25);
            h.state_mut().handle(&ctx, Command::SetWeights(weights));
            // The next frame starts the re-scoring; its result lands later.
            h.step();
        }
        Running::Search => {
            wait_for(h, "the vectors", encoded);
            h.state_mut()
                .handle(&ctx, Command::Search("coffee".to_string()));
        }
        Running::Item => {
            wait_for(h, "the vectors", encoded);
            h.state_mut()
                .handle(&ctx, Command::OpenItem(ItemRef { domain: 0, item: 0 }));
        }
    }
}

/// Lets the jobs of the old state and the first job of the new one finish
/// without a frame between them, so their results reach the window in the
/// same frame: the case where only the generations tell them apart.
fn land_together(h: &mut Harness<'_, CrossrecApp>) {
    std::thread::sleep(Duration::from_millis(1500));
    h.step();
}

/// Everything on screen describes the dataset called `name`, its vectors
/// and the chosen direction: no result of what was open before.
fn assert_all_of(app: &CrossrecApp, name: &str, pair: (usize, usize)) {
    let dataset = app.dataset().expect("a dataset");
    assert_eq!(dataset.name(), name);
    let analysis = app.analysis().expect("the analysis");
    let relations = &analysis.fitted.relations;
    assert_eq!((relations.source, relations.target), pair);
    assert_eq!(relations.source_history.len(), dataset.users.len());
    let n_target = dataset.domains[pair.1].items.len();
    let projection = app.projection().expect("the projection");
    let sizes: Vec<usize> = dataset.domains.iter().map(|d| d.items.len()).collect();
    let drawn: Vec<usize> = projection.points.iter().map(Vec::len).collect();
    assert_eq!(drawn, sizes, "the projection is of this dataset");
    let ranking = app.ranking().expect("a ranking");
    assert!((ranking.user as usize) < dataset.users.len());
    assert!(ranking.items.iter().all(|r| (r.item as usize) < n_target));
    let metrics = app.live_metrics().expect("live metrics");
    assert_eq!(metrics.per_user.len(), analysis.evaluation.scores.len());
    assert!(
        app.search_result().is_none(),
        "no search of the old vectors"
    );
    assert!(app.item_card().is_none(), "no card of the old vectors");
    assert!(app.selection().is_none());
}

/// Switching the dataset, the model or the direction while each kind of
/// job is running: what the old state's jobs finish is never shown beside
/// the new state, and nothing panics.
#[test]
fn switching_while_any_job_runs_shows_nothing_of_what_was_open_before() {
    let zh = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-zh/crossrec.toml");
    let settled = |app: &CrossrecApp| {
        app.running_jobs().is_empty() && app.live_metrics().is_some() && app.projection().is_some()
    };
    for running in [
        Running::Load,
        Running::Encode,
        Running::Project,
        Running::Analyse,
        Running::Metrics,
        Running::Search,
        Running::Item,
    ] {
        // Another dataset (Chinese: drawn without a CJK font here).
        let dir = tempdir();
        let builder = Harness::builder().allow_missing_glyphs();
        let mut h = harness_built(
            dir.path(),
            sample_manifest(),
            dir.path().join("cache"),
            builder,
        );
        start_job(&mut h, running);
        let ctx = h.ctx.clone();
        h.state_mut()
            .handle(&ctx, Command::OpenManifest(zh.clone()));
        let name = Dataset::load(&zh).unwrap().name().to_string();
        wait_for(&mut h, "the Chinese dataset", |app| {
            app.dataset().is_some_and(|d| d.name() == name)
        });
        land_together(&mut h);
        wait_for(&mut h, "the Chinese sample", settled);
        assert_all_of(h.state(), &name, (0, 1));

        // Another model (the same tiny one at int8: other vectors).
        let dir = tempdir();
        let mut h = harness(dir.path(), sample_manifest());
        start_job(&mut h, running);
        let choice = ModelChoice {
            spec: h.state().settings().model.clone(),
            precision: Precision::Int8,
            device: h.state().settings().device,
        };
        let ctx = h.ctx.clone();
        h.state_mut().handle(&ctx, Command::SetModel(choice));
        land_together(&mut h);
        wait_for(&mut h, "the int8 vectors", settled);
        let name = Dataset::load(&sample_manifest())
            .unwrap()
            .name()
            .to_string();
        assert_all_of(h.state(), &name, (0, 1));

        // The other direction.
        let dir = tempdir();
        let mut h = harness(dir.path(), sample_manifest());
        start_job(&mut h, running);
        let ctx = h.ctx.clone();
        h.state_mut().handle(&ctx, Command::SetPair(1, 0));
        land_together(&mut h);
        wait_for(&mut h, "the reverse direction", settled);
        let search_or_card = matches!(running, Running::Search | Running::Item);
        if !search_or_card {
            assert_all_of(h.state(), &name, (1, 0));
        } else {
            // A search or card of the same vectors stays valid.
            let app = h.state();
            let relations = &app.analysis().expect("the analysis").fitted.relations;
            assert_eq!((relations.source, relations.target), (1, 0));
        }
    }
}

/// Each use case run from the command line and from the window gives the
/// same answer: the same user's recommendations under the same weights and
/// ridge (the library's one recommend service; the learned models are left
/// out, as the window reuses its evaluation's and the command line its
/// stored ones), and the same refusal to write over the dataset's manifest.
#[test]
fn the_command_line_and_the_window_run_the_same_use_cases() {
    let dir = tempdir();
    // A copy of the sample, so that a failed guard could harm only the copy.
    let data = dir.path().join("sample");
    std::fs::create_dir_all(&data).unwrap();
    for entry in std::fs::read_dir(sample_manifest().parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, data.join(path.file_name().unwrap())).unwrap();
    }
    let manifest = data.join("crossrec.toml");
    let mut h = harness(dir.path(), manifest.clone());
    wait_for(&mut h, "the analysis", |app| {
        app.analysis().is_some() && app.running_jobs().is_empty()
    });
    let weights: crossrec::rank::Weights =
        "content=0.6,mapped=0.4,adapted=0,sequence=0,graph=1,popularity=0.3,history=1"
            .parse()
            .unwrap();
    let ctx = h.ctx.clone();
    let ridge = h.state().settings().ridge;
    h.state_mut().handle(&ctx, Command::SetWeights(weights));
    let dataset = Dataset::load(&manifest).unwrap();
    let analysis = h.state().analysis().unwrap();
    let (s, t) = (
        analysis.fitted.relations.source,
        analysis.fitted.relations.target,
    );
    // A user who is not held out, so the window ranks them as recommend does.
    let held = &analysis.evaluation.scores;
    let user = (0..dataset.users.len() as u32)
        .find(|&u| {
            held.position(u).is_none()
                && !analysis.fitted.relations.source_history[u as usize].is_empty()
        })
        .expect("a user the evaluation did not hold out");
    h.state_mut().handle(&ctx, Command::SelectUser(user));
    h.state_mut().handle(&ctx, Command::SetK(10));
    let window: Vec<String> = h
        .state()
        .ranking()
        .expect("a ranking")
        .items
        .iter()
        .map(|r| dataset.domains[t].items[r.item as usize].id.clone())
        .collect();

    let model = dir.path().join("tiny-bert");
    let ridge = ridge.to_string();
    let weights = weights.to_string();
    let args = [
        "recommend",
        "--dataset",
        manifest.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--from",
        &dataset.domains[s].name,
        "--to",
        &dataset.domains[t].name,
        "--user",
        &dataset.users[user as usize],
        "--weights",
        &weights,
        "--ridge",
        &ridge,
        "--format",
        "json",
    ];
    let out = crate::common::crossrec(&args, &dir.path().join("cli-cache"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cli: Vec<String> = json["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["item_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(cli, window, "the same recommendations from both front ends");

    // The same search finds the same items, domain by domain.
    h.state_mut()
        .handle(&ctx, Command::Search("coffee grinder".to_string()));
    wait_for(&mut h, "the search", |app| app.search_result().is_some());
    let window: Vec<(String, String)> = h
        .state()
        .search_result()
        .unwrap()
        .hits
        .iter()
        .flatten()
        .map(|n| {
            let domain = &dataset.domains[n.domain];
            (
                domain.name.clone(),
                domain.items[n.item as usize].id.clone(),
            )
        })
        .collect();
    let search = [
        "search",
        "--dataset",
        manifest.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--query",
        "coffee grinder",
        "--format",
        "json",
    ];
    let out = crate::common::crossrec(&search, &dir.path().join("cli-cache"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cli: Vec<(String, String)> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap().to_string();
            (text("domain"), text("item_id"))
        })
        .collect();
    assert_eq!(cli, window, "the same search hits from both front ends");

    // Neither writes over the manifest.
    let before = std::fs::read(&manifest).unwrap();
    let export = [
        "export",
        "--dataset",
        manifest.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--what",
        "recommendations",
        "--from",
        &dataset.domains[s].name,
        "--to",
        &dataset.domains[t].name,
        "--output",
        manifest.to_str().unwrap(),
    ];
    let out = crate::common::crossrec(&export, &dir.path().join("cli-cache"));
    assert!(!out.status.success());
    let cli_error = String::from_utf8_lossy(&out.stderr).to_string();
    h.state_mut()
        .handle(&ctx, Command::ExportRanking(manifest.clone()));
    let window_error = h
        .state()
        .notifications()
        .last()
        .filter(|n| n.error)
        .map(|n| n.text.clone())
        .expect("the window refuses too");
    assert_eq!(
        std::fs::read(&manifest).unwrap(),
        before,
        "the manifest is untouched"
    );
    for error in [&cli_error, &window_error] {
        assert!(error.contains("crossrec.toml"), "{error}");
    }
}

#[test]
fn the_evaluation_tab_breaks_down_by_segment_and_pinned_weights_compare_live() {
    let dir = tempdir();
    let mut h = harness(dir.path(), sample_manifest());
    wait_for(&mut h, "the first evaluation", |app| {
        app.live_metrics().is_some() && app.running_jobs().is_empty()
    });
    h.get_by_label("Evaluation").click();
    settle(&mut h);
    for breakdown in [
        "visible source interactions",
        "visible target interactions",
        "domains in the user's visible history",
        "target item popularity",
    ] {
        h.get_by_label(breakdown);
    }
    h.get_by_label("Per-user results…");
    h.get_by_label("HTML report…");
    // Each learned component's epochs, as the evaluation chose them.
    h.get_by_label("Learned components, epoch by epoch");
    let report = &h.state().analysis().unwrap().evaluation.report;
    for (component, training) in report.trainings() {
        let shown = match training {
            Ok(run) => {
                assert!(!run.by_epoch.is_empty(), "{component} validated");
                format!(
                    "{component}: kept epoch {} of {}",
                    run.best_epoch, run.epochs_run
                )
            }
            Err(reason) => format!("{component}: not trained ({reason})"),
        };
        h.get_by_label_contains(&shown);
    }
    // Pin the current weights as A, then move the sliders (B). Through
    // accesskit: the Weights panel may be scrolled.
    h.get_by_label("Pin as A").click_accesskit();
    settle(&mut h);
    h.get_by_label("Unpin");
    let ctx = h.ctx.clone();
    let mut b = h.state().settings().weights;
    b.set(Component::Graph, 0.0);
    b.set(Component::Kg, 3.0);
    h.state_mut().handle(&ctx, Command::SetWeights(b));
    wait_for(&mut h, "B against A", |app| {
        app.live_metrics()
            .is_some_and(|m| m.weights == b && m.comparison.is_some())
    });
    h.get_by_label_contains("B (sliders) against A (pinned) on");
    h.get_by_label("B - A (paired)");
    let comparison = h
        .state()
        .live_metrics()
        .and_then(|m| m.comparison.clone())
        .unwrap();
    assert_eq!(
        comparison.paired_users,
        h.state().analysis().unwrap().evaluation.scores.len()
    );
    assert!(
        comparison.gained + comparison.lost > 0,
        "moving two weights changes someone's list"
    );
    // A user who gains or loses opens with both lists side by side.
    let (header, mover) = match comparison.gains.first() {
        Some(u) => ("Users B helps most", u),
        None => ("Users B hurts most", &comparison.losses[0]),
    };
    // Through accesskit: the Weights panel may be scrolled.
    h.get_by_label_contains(header).click_accesskit();
    // The section opens with an animation.
    for _ in 0..20 {
        h.step();
    }
    h.get_by_label(&format!(
        "{}  {:.3} -> {:.3}",
        mover.user, mover.a_ndcg, mover.b_ndcg
    ))
    .click_accesskit();
    settle(&mut h);
    let user = h
        .state()
        .dataset()
        .unwrap()
        .user_index(&mover.user)
        .unwrap();
    assert_eq!(h.state().ranking().map(|r| r.user), Some(user));
    assert_eq!(h.state().pinned_ranking().map(|r| r.user), Some(user));
    h.get_by_label("A (pinned) and B (sliders) side by side");
    // Unpinning drops the comparison.
    h.get_by_label("Unpin").click_accesskit();
    settle(&mut h);
    assert!(h.state().pinned_ranking().is_none());
    h.get_by_label("Pin as A");
    // The per-user results and the report, through the dialogs' commands.
    let per_user = dir.path().join("per-user.csv");
    let report = dir.path().join("report.html");
    h.state_mut()
        .handle(&ctx, Command::ExportPerUser(per_user.clone()));
    wait_for(&mut h, "the per-user export", |app| {
        app.running_jobs().is_empty() && per_user.exists()
    });
    let text = std::fs::read_to_string(&per_user).unwrap();
    assert!(text.starts_with("user_id,method,source_interactions"));
    h.state_mut()
        .handle(&ctx, Command::ExportReport(report.clone()));
    wait_for(&mut h, "the report", |app| {
        app.running_jobs().is_empty() && report.exists()
    });
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("<svg") && page.contains("crossrec report --dataset"));
    assert!(page.contains("The shared space") && page.contains("Example held-out users"));
    // Never over an input: the manifest stays as it was, and the window says why.
    let manifest = sample_manifest();
    let before = std::fs::read(&manifest).unwrap();
    let notes = h.state().notifications().len();
    h.state_mut()
        .handle(&ctx, Command::ExportReport(manifest.clone()));
    wait_for(&mut h, "the refused report", |app| {
        app.running_jobs().is_empty() && app.notifications().len() > notes
    });
    assert!(h.state().notifications().last().unwrap().error);
    assert_eq!(std::fs::read(&manifest).unwrap(), before);
}

#[test]
fn a_model_pinned_as_a_is_compared_with_another_precision_on_the_same_users() {
    use crossrec::evaluate::{Measure, Metric};
    let dir = tempdir();
    let mut h = harness(dir.path(), sample_manifest());
    let compared = |app: &CrossrecApp| {
        app.running_jobs().is_empty()
            && app
                .live_metrics()
                .is_some_and(|m| m.comparison.is_some() && m.weights == app.settings().weights)
    };
    wait_for(&mut h, "the evaluation", |app| {
        app.analysis().is_some() && app.running_jobs().is_empty()
    });
    let ctx = h.ctx.clone();
    h.state_mut().handle(&ctx, Command::PinWeights(true));
    wait_for(&mut h, "A against itself", compared);
    let a_analysis = h.state().analysis().unwrap().clone();
    let weights = h.state().settings().weights;
    let ndcg = Measure::At(Metric::Ndcg, 10);
    let before = h
        .state()
        .live_metrics()
        .unwrap()
        .comparison
        .clone()
        .unwrap();
    assert_eq!(before.get(ndcg).unwrap().difference.mean, 0.0);
    // B: the same model at int8 (other vectors, a new evaluation).
    let choice = ModelChoice {
        spec: h.state().settings().model.clone(),
        precision: Precision::Int8,
        device: h.state().settings().device,
    };
    h.state_mut().handle(&ctx, Command::SetModel(choice));
    wait_for(&mut h, "the int8 evaluation against A", |app| {
        compared(app)
            && app
                .live_metrics()
                .and_then(|m| m.comparison.as_ref())
                .is_some_and(|c| c.b.contains("int8"))
    });
    let metrics = h.state().live_metrics().unwrap().clone();
    let c = metrics.comparison.clone().unwrap();
    assert!(
        c.a.contains("fp32") && c.b.contains("int8"),
        "{} / {}",
        c.a,
        c.b
    );
    // The same held-out users; A as measured before, B the new evaluation.
    let b_analysis = h.state().analysis().unwrap();
    assert_eq!(
        b_analysis.evaluation.scores.users,
        a_analysis.evaluation.scores.users
    );
    assert_eq!(c.paired_users, a_analysis.evaluation.scores.len());
    assert_eq!(
        c.get(ndcg).unwrap().a.mean,
        before.get(ndcg).unwrap().a.mean
    );
    let k10 = crossrec::evaluate::KS
        .iter()
        .position(|&k| k == 10)
        .unwrap();
    assert_eq!(c.get(ndcg).unwrap().b.mean, metrics.hybrid[k10].ndcg.mean);
    h.get_by_label_contains("B (sliders, ");
    // A held-out user's A list is the fp32 evaluation's; B's the int8 one's.
    let user = a_analysis.evaluation.scores.users[0];
    h.state_mut().handle(&ctx, Command::SelectUser(user));
    settle(&mut h);
    let k = h.state().settings().k;
    let items = |r: Option<&crossrec::rank::Ranking>| -> Vec<u32> {
        r.unwrap().items.iter().map(|x| x.item).collect()
    };
    let a_list = a_analysis
        .evaluation
        .scores
        .rank(0, &weights, k, &mut Vec::new());
    assert_eq!(items(h.state().pinned_ranking()), a_list);
    // B is ranked by the sliders, which now hold B's own tuned weights.
    let b_weights = h.state().settings().weights;
    let b_list =
        h.state()
            .analysis()
            .unwrap()
            .evaluation
            .scores
            .rank(0, &b_weights, k, &mut Vec::new());
    assert_eq!(items(h.state().ranking()), b_list);
    // Another protocol does not pair with A: the pin goes, and says why.
    h.state_mut().handle(
        &ctx,
        Command::SetProtocol(crossrec::evaluate::Protocol::Warm {
            holdout: crossrec::evaluate::Holdout::Count(2),
        }),
    );
    assert!(h.state().pinned_ranking().is_none());
    let note = h.state().notifications().last().unwrap().text.clone();
    assert_eq!(note, "A is unpinned: the protocol changed");
    wait_for(&mut h, "the warm evaluation", |app| {
        app.analysis()
            .is_some_and(|a| a.evaluation.report.protocol.name() == "warm")
            && app.running_jobs().is_empty()
    });
    assert!(h.state().pinned_ranking().is_none());
    h.get_by_label("Pin as A");
}

#[test]
fn item_pictures_show_in_the_card_and_lists_and_a_missing_one_is_a_grey_box() {
    let dir = tempdir();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("pics")).unwrap();
    // A real picture, written with the image crate egui's loaders decode.
    let picture =
        image::RgbImage::from_fn(32, 24, |x, y| image::Rgb([x as u8 * 8, y as u8 * 10, 90]));
    picture.save(data.join("pics/p1.png")).unwrap();
    let mut shop = String::from("item_id,title,picture\n");
    let mut blog = String::from("item_id,title\n");
    let mut interactions = String::from("user_id,domain,item_id\n");
    for i in 0..12 {
        let file = if i == 1 {
            "pics/p1.png"
        } else {
            "pics/none.png"
        };
        shop.push_str(&format!("p{i},coffee item {i},{file}\n"));
        blog.push_str(&format!("b{i},tea note {i}\n"));
    }
    for u in 0..30 {
        interactions.push_str(&format!(
            "u{u},shop,p{}\nu{u},shop,p1\nu{u},blog,b{}\n",
            u % 12,
            (u * 5) % 12
        ));
    }
    std::fs::write(data.join("shop.csv"), shop).unwrap();
    std::fs::write(data.join("blog.csv"), blog).unwrap();
    std::fs::write(data.join("interactions.csv"), interactions).unwrap();
    std::fs::write(
        data.join("crossrec.toml"),
        "name = \"pictures\"\n[[domain]]\nname = \"shop\"\nitems = \"shop.csv\"\n\
         text_columns = [\"title\"]\nimage_column = \"picture\"\n[[domain]]\nname = \"blog\"\n\
         items = \"blog.csv\"\ntext_columns = [\"title\"]\n[interactions]\npath = \"interactions.csv\"\n",
    )
    .unwrap();
    let mut h = harness(dir.path(), data.join("crossrec.toml"));
    wait_for(&mut h, "the analysis", |app| {
        app.analysis().is_some() && app.running_jobs().is_empty()
    });
    // Eleven pictures are missing: counted in the load report.
    h.get_by_label_contains("11 × picture not found");
    let ctx = h.ctx.clone();
    h.state_mut()
        .handle(&ctx, Command::OpenItem(ItemRef { domain: 0, item: 1 }));
    wait_for(&mut h, "the card", |app| app.item_card().is_some());
    // The picture loads on the loaders' threads; the window keeps drawing.
    // (Only a safety limit: a busy machine just takes longer.)
    let start = Instant::now();
    while h.query_by_label("picture of p1").is_none() {
        assert!(start.elapsed() < Duration::from_secs(1800), "no picture");
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.get_by_label("picture of p1");
    // An item's picture is an input: no export replaces it.
    let p1 = data.join("pics/p1.png");
    let before = std::fs::read(&p1).unwrap();
    let ctx = h.ctx.clone();
    let region = egui::Rect::from_min_size(egui::pos2(0.0, 0.0), egui::vec2(50.0, 50.0));
    h.state_mut()
        .handle(&ctx, Command::SavePicture(p1.clone(), region));
    let refused = h.state().notifications().last().unwrap().clone();
    assert!(
        refused.error && refused.text.contains("is also the input"),
        "{}",
        refused.text
    );
    h.state_mut()
        .handle(&ctx, Command::ExportRanking(p1.clone()));
    assert!(h.state().notifications().last().unwrap().error);
    assert_eq!(std::fs::read(&p1).unwrap(), before);
}

/// A large catalogue ranks as a background job: the list on screen stays
/// until the new one lands, and the new one is the list the frame itself
/// would have ranked.
#[test]
fn a_ranking_off_the_frame_keeps_the_list_until_it_lands_and_ranks_the_same() {
    let dir = tempdir();
    let open = |name: &str, off_frame_items: usize| {
        let dir = dir.path().join(name);
        let mut h = harness_ranking_off_frame_from(
            &dir,
            sample_manifest(),
            dir.join("cache"),
            Harness::builder(),
            off_frame_items,
        );
        wait_for(&mut h, "the evaluated window at rest", |app| {
            app.analysis().is_some() && app.ranking().is_some() && app.running_jobs().is_empty()
        });
        h
    };
    let mut off = open("off-frame", 0);
    let mut inside = open("in-frame", usize::MAX);
    let before = off.state().ranking().expect("a ranking").clone();
    for h in [&mut off, &mut inside] {
        h.get_by_role_and_label(Role::Slider, "popularity")
            .set_value_accesskit(3.0);
        h.step();
    }
    // The frame that moved the slider started the job; its list is not in yet.
    assert_eq!(off.state().ranking(), Some(&before));
    assert_ne!(
        inside.state().ranking().map(|r| &r.items),
        Some(&before.items),
        "the frame itself re-ranks a small catalogue"
    );
    wait_for(&mut off, "the ranking off the frame", |app| {
        app.ranking().is_some_and(|r| r.items != before.items)
    });
    assert_eq!(off.state().ranking(), inside.state().ranking());
}

/// Whether a notification of the window holds `text`.
fn notified(app: &CrossrecApp, text: &str) -> bool {
    app.notifications().iter().any(|n| n.text.contains(text))
}

#[test]
fn a_start_reads_the_fitted_direction_recommend_or_an_earlier_start_kept() {
    let dir = tempdir();
    let cache = dir.path().join("cache");
    let model = dir.path().join("tiny-bert");
    write_tiny_bert(&model, TinySpec::default());
    // `recommend --train` stores the learned models and keeps the fit.
    let manifest = sample_manifest();
    let out = crate::common::crossrec(
        &[
            "recommend",
            "--dataset",
            manifest.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--from",
            "products",
            "--to",
            "articles",
            "--user",
            "u001",
            "--train",
        ],
        &cache,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshots = || -> Vec<PathBuf> {
        std::fs::read_dir(cache.join("fitted"))
            .map(|e| e.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    assert_eq!(snapshots().len(), 1);
    // Each start begins with no tuned settings (auto-tune saves some, and
    // they would change the fit): the first list ranks with the defaults.
    let start = |dir: &Path| {
        let _ = std::fs::remove_dir_all(dir.join("settings"));
        let mut h = harness_with_cache(dir, sample_manifest(), cache.clone());
        wait_for(&mut h, "the first ranking", |app| app.ranking().is_some());
        let first = h.state().ranking().map(|r| r.items.clone());
        (h, first)
    };
    let finish = |mut h: Harness<'static, CrossrecApp>| {
        wait_for(&mut h, "every job done", |app| {
            app.running_jobs().is_empty()
        });
    };

    // The window reads it: the dataset and its vectors when it opens, the
    // fitted relations for the first list.
    let (h, read) = start(dir.path());
    assert!(
        notified(h.state(), "read the dataset and its vectors from")
            && notified(h.state(), "read the fitted direction from"),
        "{:?}",
        h.state().notifications()
    );
    finish(h);

    // Without it, the window fits, ranks the same, and keeps the fit.
    std::fs::remove_file(&snapshots()[0]).unwrap();
    let (mut h, fitted) = start(dir.path());
    assert!(!notified(h.state(), "read the fitted direction from"));
    assert!(!notified(
        h.state(),
        "read the dataset and its vectors from"
    ));
    assert_eq!(fitted, read);
    wait_for(&mut h, "the fit kept", |app| {
        notified(app, "kept the fitted direction")
    });
    finish(h);
    assert_eq!(snapshots().len(), 1);

    // The next start reads what the window kept.
    let (h, again) = start(dir.path());
    assert!(
        notified(h.state(), "read the dataset and its vectors from")
            && notified(h.state(), "read the fitted direction from")
    );
    assert_eq!(again, read);
    finish(h);
}
