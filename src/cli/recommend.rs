//! `crossrec recommend`: one user's ranked target items with the breakdown,
//! as a table, JSON or CSV.

use std::io::Write;
use std::sync::atomic::AtomicBool;

use anyhow::{Result, anyhow};
use clap::Args;
use serde::Serialize;

use super::{DatasetArgs, Format, pad, truncate};
use crate::data::Dataset;
use crate::embed::EmbeddingCache;
use crate::rank::{COMPONENTS, PerComponent, Ranking, Weights};
use crate::relate::{IfUnstored, Relations, StoredModel, domain_pair};
use crate::service::recommend::{
    self as service, Fitted, LearnedFiles, LearnedOutcome, LearnedSource, RankSettings,
};
use crate::service::snapshot::{self, DataKey, InputsKey, ModelIdentity, ModelKey, SnapshotKey};
use crate::settings::SettingsStore;

/// `crossrec recommend`.
#[derive(Debug, Args)]
pub struct RecommendArgs {
    #[command(flatten)]
    dataset: DatasetArgs,
    /// The user id.
    #[arg(long)]
    user: String,
    /// The source domain (the user's behaviour).
    #[arg(long = "from")]
    from: String,
    /// The target domain (what to recommend).
    #[arg(long = "to")]
    to: String,
    /// How many items (at least 1).
    #[arg(short, long, default_value_t = 10, value_parser = super::positive, allow_negative_numbers = true)]
    k: usize,
    /// Component weights, e.g. content=1,graph=0.5; components not named keep
    /// their default [default: the weights `eval --tune` or the window's
    /// auto-tune saved for this dataset and direction, else
    /// content=0.5,mapped=0.5,adapted=1,sequence=1,graph=1,kg=0.5,popularity=1,history=1].
    #[arg(long, value_parser = parse_weights)]
    weights: Option<Weights>,
    /// Ridge strength of the mapping, a number ≥ 0 [default: the tuned one, else 10].
    #[arg(long, value_parser = parse_ridge, allow_negative_numbers = true)]
    ridge: Option<f32>,
    /// Rank only the user's own list from a file (file:PATH; user_id,item_id,
    /// CSV or Parquet, e.g. a retrieval stage's output) instead of every item.
    #[arg(long, value_name = "file:PATH", value_parser = candidate_file)]
    candidates: Option<std::path::PathBuf>,
    #[command(flatten)]
    train: TrainArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// `--train`, shared by `recommend` and `export --what recommendations`.
#[derive(Debug, Args)]
pub(crate) struct TrainArg {
    /// Train the learned models (the transfer model and the sequence model)
    /// now when none is stored for this data, and store them for every later
    /// run (minutes on a large dataset). Without it, a model not stored yet
    /// is left out of the ranking, which comes at once (recommendations).
    #[arg(long)]
    pub(crate) train: bool,
}

impl TrainArg {
    fn if_unstored(&self) -> IfUnstored {
        if self.train {
            IfUnstored::Train
        } else {
            IfUnstored::Skip
        }
    }
}

/// `file:PATH` as typed after `recommend --candidates`.
fn candidate_file(text: &str) -> Result<std::path::PathBuf, String> {
    match text.trim().strip_prefix("file:").map(str::trim) {
        Some(path) if !path.is_empty() => Ok(std::path::PathBuf::from(path)),
        _ => Err(format!(
            "'{text}' is not file:PATH; recommend ranks every item unless given a file of \
             candidates (file:candidates.csv)"
        )),
    }
}

pub(crate) fn parse_weights(s: &str) -> Result<Weights, String> {
    s.parse()
        .map_err(|e: crate::rank::WeightsError| e.to_string())
}

pub(crate) fn parse_ridge(s: &str) -> Result<f32, String> {
    let value: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    crate::relate::check_ridge(value).map_err(|err| err.to_string())
}

#[derive(Serialize)]
struct JsonOut<'a> {
    dataset: &'a str,
    user: &'a str,
    from: &'a str,
    to: &'a str,
    k: usize,
    weights: Weights,
    unavailable: Vec<JsonUnavailable<'a>>,
    source_history: Vec<JsonItem<'a>>,
    excluded_already_seen: usize,
    recommendations: Vec<JsonRec<'a>>,
}

#[derive(Serialize)]
struct JsonUnavailable<'a> {
    component: &'static str,
    reason: &'a str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    item_id: &'a str,
    text: &'a str,
    weight: f32,
}

#[derive(Serialize)]
struct JsonRec<'a> {
    rank: usize,
    item_id: &'a str,
    text: &'a str,
    score: f32,
    components: PerComponent<Option<f32>>,
    contributions: PerComponent<f32>,
    because_of: Option<JsonBecause<'a>>,
}

#[derive(Serialize)]
struct JsonBecause<'a> {
    item_id: &'a str,
    text: &'a str,
    similarity: f32,
    graph_link: f32,
    kg_link: f32,
    shared_entities: &'a [String],
}

pub(crate) fn recommend(args: &RecommendArgs) -> Result<()> {
    let manifest_path = args.dataset.manifest()?;
    let names = (args.from.as_str(), args.to.as_str());
    let dir = args
        .dataset
        .cache_dir
        .clone()
        .unwrap_or_else(EmbeddingCache::default_root);
    // The manifest is read first only to find the settings and a snapshot;
    // loading the dataset reads (and checks) it again. The key hashes the
    // files before they are loaded, so a file changed while this run reads
    // it never matches what the run keeps.
    let mut settings = None;
    let mut stored = None;
    let mut key = None;
    if let Ok(manifest) = crate::data::Manifest::load(&manifest_path)
        && let Ok(chosen) = settings_for(&args.dataset, &manifest.name, names, given(args))
    {
        key = snapshot_key(&args.dataset, &manifest_path, &manifest, names, &chosen);
        let found = match &key {
            Some(key) => match snapshot::read(&dir, key, manifest) {
                Ok(found) => found.filter(|snap| {
                    let relates = domain_pair(&snap.dataset, &args.from, &args.to).ok()
                        == Some((snap.fit.relations.source, snap.fit.relations.target));
                    if !relates {
                        say!(
                            "note: the stored fitted direction {} relates other domains; \
                             fitting anew",
                            snap.path.display()
                        );
                    }
                    relates
                }),
                Err(err) => {
                    // Removed, so it is not read (and reported) again.
                    snapshot::discard(&dir, key);
                    say!("note: the stored fitted direction was not used ({err}); fitting anew");
                    None
                }
            },
            None => None,
        };
        match found {
            Some(snap) => stored = Some((snap, chosen)),
            None => settings = Some(chosen),
        }
    }
    let mut keep = None;
    let (dataset, embeddings, fitted, user, listed) = match stored {
        Some((snap, settings)) => {
            let (_, target) = domain_pair(&snap.dataset, &args.from, &args.to)?;
            super::encode::print_load_summary(&snap.dataset);
            let (user, listed) = user_and_list(args, &snap.dataset, target)?;
            for (what, from) in [
                ("transfer model", &snap.fit.learned.adapted),
                ("sequence model", &snap.fit.learned.sequence),
            ] {
                if let Some(path) = from {
                    say!(
                        "using the {what} trained earlier on the same data: {}",
                        path.display()
                    );
                }
            }
            say!(
                "read the dataset, its vectors and the fitted relations from {} (none of its \
                 inputs changed since it was written)",
                snap.path.display()
            );
            let fitted = Fitted::new(snap.fit.relations, settings.weights, &snap.embeddings);
            (snap.dataset, snap.embeddings, fitted, user, listed)
        }
        None => {
            let (dataset, embeddings) = super::encode::load(&args.dataset, &|d| {
                domain_pair(d, &args.from, &args.to)?;
                Ok(())
            })?;
            let (source, target) = domain_pair(&dataset, &args.from, &args.to)?;
            // The user and their list are checked before the fitting.
            let (user, listed) = user_and_list(args, &dataset, target)?;
            let settings = match settings {
                Some(settings) => settings,
                None => settings_for(&args.dataset, dataset.name(), names, given(args))?,
            };
            let (fitted, files) = fitted(
                &dataset,
                &embeddings,
                &args.dataset,
                (source, target),
                &settings,
                &args.train,
            )?;
            keep = key.zip(files);
            (dataset, embeddings, fitted, user, listed)
        }
    };
    let ranking = match &listed {
        Some(list) => fitted.rank_among(&embeddings, user, args.k, list),
        None => fitted.rank(&embeddings, user, args.k),
    };
    let (relations, weights) = (&fitted.relations, &fitted.weights);
    for (component, reason) in &ranking.unavailable {
        say!("note: {component} unavailable: {reason}");
    }
    if ranking.items.is_empty() {
        let t = &dataset.domains[fitted.relations.target];
        say!(
            "note: nothing to recommend: user '{}' already has {} of the {} items of {}, and \
             those are never recommended again",
            args.user,
            ranking.excluded,
            t.items.len(),
            t.name
        );
    }
    let out = std::io::stdout().lock();
    match args.format {
        Format::Table => table(out, &dataset, relations, &ranking, weights),
        Format::Json => json(out, args, &dataset, relations, &ranking, weights),
        Format::Csv => csv_out(out, &dataset, relations, &ranking),
    }?;
    // Kept once the answer is out: this run's answer does not depend on it.
    if let Some((key, learned)) = keep {
        store_snapshot(
            &args.dataset,
            &manifest_path,
            &dir,
            &key,
            snapshot::Fit {
                dataset: &dataset,
                embeddings: &embeddings,
                relations: &fitted.relations,
                learned: &learned,
            },
        );
    }
    Ok(())
}

/// The weights and ridge the flags give.
fn given(args: &RecommendArgs) -> (Option<Weights>, Option<f32>) {
    (args.weights, args.ridge)
}

/// The user `--user` names and the list `--candidates` gives them (read,
/// and a user without one refused, before any fitting).
fn user_and_list(
    args: &RecommendArgs,
    dataset: &Dataset,
    target: usize,
) -> Result<(u32, Option<Vec<u32>>)> {
    let user = dataset.user_index(&args.user).ok_or_else(|| {
        let mut files = vec![dataset.manifest.interactions.path.display().to_string()];
        if let Some(texts) = &dataset.manifest.user_texts {
            files.push(texts.path.display().to_string());
        }
        anyhow!(
            "unknown user '{}': no row of {} names them",
            args.user,
            files.join(" or ")
        )
    })?;
    let Some(path) = &args.candidates else {
        return Ok((user, None));
    };
    let lists = crate::data::CandidateLists::read(path, dataset, target)?;
    if !lists.report.is_clean() {
        super::write_stderr(format_args!("{}", lists.report));
    }
    let Some(list) = lists.of(user) else {
        anyhow::bail!(
            "{} lists no candidate for user '{}' ({} users listed)",
            path.display(),
            args.user,
            lists.users()
        );
    };
    say!(
        "ranking the {} candidates {} lists for '{}'",
        list.len(),
        path.display(),
        args.user
    );
    Ok((user, Some(list.to_vec())))
}

/// The key of the fitted direction's snapshot, when its inputs can be
/// hashed and are kept (else the direction is fitted, and whatever cannot
/// be read is reported by the loading).
fn snapshot_key(
    dataset_args: &DatasetArgs,
    manifest_path: &std::path::Path,
    manifest: &crate::data::Manifest,
    names: (&str, &str),
    settings: &RankSettings,
) -> Option<SnapshotKey> {
    let inputs = InputsKey::new(manifest_path, manifest).ok()?;
    let spec = &dataset_args.model.model;
    let options = dataset_args.model.options();
    let files = crate::embed::local_model(spec).and_then(Result::ok);
    let model = match &files {
        Some(files) => ModelIdentity::Local(files, &options),
        None => ModelIdentity::Unresolved(spec),
    };
    let model = ModelKey::new(model).ok()?;
    Some(SnapshotKey::new(
        &DataKey::new(&inputs, &model),
        names,
        settings,
    ))
}

/// Stores the fitted direction under `key` (taken before anything was
/// read) for the next run with the same inputs; a failure is a warning.
fn store_snapshot(
    dataset_args: &DatasetArgs,
    manifest_path: &std::path::Path,
    dir: &std::path::Path,
    key: &SnapshotKey,
    fit: snapshot::Fit<'_>,
) {
    // The model folder on this machine only: nothing is fetched after the
    // answer.
    let mut inputs = crate::service::guard::Inputs::of_dataset(fit.dataset, Some(manifest_path));
    if let Some(Ok(files)) = crate::embed::local_model(&dataset_args.model.model) {
        inputs = inputs.and_model(&files);
    }
    if let Err(err) = inputs.check_and_tidy(&key.path(dir)) {
        say!("warning: the fitted direction was not stored: {err}");
        return;
    }
    match snapshot::write(dir, key, fit) {
        Ok(path) => say!(
            "stored the fitted direction for the next run on the same inputs: {}",
            path.display()
        ),
        Err(err) => say!("warning: the fitted direction was not stored: {err}"),
    }
}

/// The settings direction `names` of the dataset `dataset_name` ranks with:
/// the flags', else tuned, else defaults; where they came from is said on
/// stderr.
pub(crate) fn settings_for(
    dataset_args: &DatasetArgs,
    dataset_name: &str,
    names: (&str, &str),
    given: (Option<Weights>, Option<f32>),
) -> Result<RankSettings> {
    let store = SettingsStore::new(SettingsStore::default_root());
    let settings = service::choose(
        &store,
        &dataset_args.manifest()?,
        dataset_name,
        names,
        given,
    )?;
    if let Some(err) = &settings.unreadable {
        say!("note: the tuned settings were not read ({err}); the given weights and ridge rank");
    }
    if let Some(path) = settings
        .tuned_from
        .as_ref()
        .filter(|_| given.0.is_none() || given.1.is_none())
    {
        say!(
            "using tuned settings from {} (weights {}, ridge {})",
            path.display(),
            settings.weights,
            settings.ridge
        );
    }
    Ok(settings)
}

/// What `recommend` and `export --what recommendations` rank with: the
/// library's recommend service under `settings`, with the learned models
/// stored beside the embedding cache (trained now when missing only with
/// `--train`); what it did is said on stderr. Also the stored files of the
/// learned models in use when the fit can be kept ([`snapshot::keepable`]).
pub(crate) fn fitted(
    dataset: &Dataset,
    embeddings: &crate::pipeline::DatasetEmbeddings,
    dataset_args: &DatasetArgs,
    domains: (usize, usize),
    settings: &RankSettings,
    train: &TrainArg,
) -> Result<(Fitted, Option<LearnedFiles>)> {
    let dir = dataset_args
        .cache_dir
        .clone()
        .unwrap_or_else(EmbeddingCache::default_root);
    let started = std::time::Instant::now();
    let cancel = AtomicBool::new(false);
    let (fitted, outcomes) = service::fit(
        dataset,
        embeddings,
        domains,
        settings,
        LearnedSource::Stored {
            dir: &dir,
            if_unstored: train.if_unstored(),
        },
        &cancel,
    )?;
    let files = snapshot::keepable(&outcomes, embeddings);
    let mut skipped = Vec::new();
    for (what, epochs, outcome) in [
        ("transfer model", settings.adapted_epochs, outcomes.adapted),
        (
            "sequence model",
            settings.sequence_epochs,
            outcomes.sequence,
        ),
    ] {
        match outcome {
            LearnedOutcome::Stored(StoredModel::Reused(path)) => say!(
                "using the {what} trained earlier on the same data: {}",
                path.display()
            ),
            LearnedOutcome::Stored(StoredModel::Trained { saved, unreadable }) => {
                if let Some(err) = unreadable {
                    say!("note: the stored {what} was not used ({err}); trained anew");
                }
                say!(
                    "trained the {what} ({epochs} epochs); {:.1} s since fitting began",
                    started.elapsed().as_secs_f64()
                );
                match saved {
                    Ok(path) => say!("saved it for the next run: {}", path.display()),
                    Err(err) => say!("warning: the {what} was not saved: {err}"),
                }
            }
            LearnedOutcome::Stored(StoredModel::NotTrained { unreadable }) => {
                if let Some(err) = unreadable {
                    say!("note: the stored {what} was not used ({err})");
                }
            }
            LearnedOutcome::Stored(StoredModel::Skipped { unreadable }) => {
                if let Some(err) = unreadable {
                    say!("note: the stored {what} was not used ({err})");
                }
                skipped.push(what);
            }
            LearnedOutcome::Unweighted | LearnedOutcome::Evaluated => {}
        }
    }
    if !skipped.is_empty() {
        say!(
            "note: no {} is stored for this data yet, so this ranking leaves {them} out and \
             may be weaker for it; add --train to train {them} now and store {them} for every \
             later run (minutes on a large dataset)",
            skipped.join(" or "),
            them = if skipped.len() == 1 { "it" } else { "them" },
        );
    }
    Ok((fitted, files))
}

fn value(v: Option<f32>) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"))
}

fn table(
    mut out: impl Write,
    dataset: &Dataset,
    relations: &Relations,
    ranking: &Ranking,
    weights: &Weights,
) -> Result<()> {
    let (s, t) = (
        &dataset.domains[relations.source],
        &dataset.domains[relations.target],
    );
    let user = &dataset.users[ranking.user as usize];
    let history = &relations.source_history[ranking.user as usize];
    // Wide enough for every id shown, at least 14 columns.
    let id_width = history
        .iter()
        .take(10)
        .map(|&(i, _)| &s.items[i as usize].id)
        .chain(ranking.items.iter().map(|r| &t.items[r.item as usize].id))
        .map(|id| crate::text::width(id))
        .fold(14, usize::max);
    let unweighted = if !history.is_empty() && history.iter().all(|&(_, w)| w <= 0.0) {
        " (all rated ≤ 0, so they carry no weight in the profile)"
    } else {
        ""
    };
    writeln!(
        out,
        "user {user}: {} items in {}{unweighted}; weights {weights}",
        history.len(),
        s.name
    )?;
    for &(i, _) in history.iter().take(10) {
        writeln!(
            out,
            "  {} {}",
            pad(&s.items[i as usize].id, id_width),
            truncate(&s.items[i as usize].text, 70)
        )?;
    }
    if history.len() > 10 {
        writeln!(out, "  … and {} more", history.len() - 10)?;
    }
    writeln!(out)?;
    write!(
        out,
        "{:>4}  {} {:>7}",
        "rank",
        pad("item", id_width),
        "score"
    )?;
    for c in COMPONENTS {
        let name = c.name();
        write!(out, " {:>7}", &name[..name.len().min(7)])?;
    }
    writeln!(out, "  {}  because of", pad("text", 40))?;
    for (r, rec) in ranking.items.iter().enumerate() {
        let c = &rec.components;
        let because = rec.because_of.as_ref().map_or_else(String::new, |b| {
            let shared = if b.shared.is_empty() {
                String::new()
            } else {
                format!(
                    "; both {}",
                    truncate(&b.shared[..b.shared.len().min(3)].join(", "), 48)
                )
            };
            format!(
                "{} (cos {:.2}, link {:.2}{shared})",
                truncate(&s.items[b.item as usize].text, 36),
                b.similarity,
                b.graph_link
            )
        });
        write!(
            out,
            "{:>4}  {} {:>7.3}",
            r + 1,
            pad(&t.items[rec.item as usize].id, id_width),
            rec.score
        )?;
        for (_, v) in c.iter() {
            write!(out, " {:>7}", value(*v))?;
        }
        writeln!(
            out,
            "  {}  {because}",
            pad(&truncate(&t.items[rec.item as usize].text, 40), 40)
        )?;
    }
    Ok(())
}

fn json(
    mut out: impl Write,
    args: &RecommendArgs,
    dataset: &Dataset,
    relations: &Relations,
    ranking: &Ranking,
    weights: &Weights,
) -> Result<()> {
    let (s, t) = (
        &dataset.domains[relations.source],
        &dataset.domains[relations.target],
    );
    let doc = JsonOut {
        dataset: dataset.name(),
        user: &dataset.users[ranking.user as usize],
        from: &s.name,
        to: &t.name,
        k: args.k,
        weights: *weights,
        unavailable: ranking
            .unavailable
            .iter()
            .map(|(c, reason)| JsonUnavailable {
                component: c.name(),
                reason,
            })
            .collect(),
        source_history: relations.source_history[ranking.user as usize]
            .iter()
            .map(|&(i, weight)| JsonItem {
                item_id: &s.items[i as usize].id,
                text: &s.items[i as usize].text,
                weight,
            })
            .collect(),
        excluded_already_seen: ranking.excluded,
        recommendations: ranking
            .items
            .iter()
            .enumerate()
            .map(|(r, rec)| JsonRec {
                rank: r + 1,
                item_id: &t.items[rec.item as usize].id,
                text: &t.items[rec.item as usize].text,
                score: rec.score,
                components: rec.components,
                contributions: rec.contributions,
                because_of: rec.because_of.as_ref().map(|b| JsonBecause {
                    item_id: &s.items[b.item as usize].id,
                    text: &s.items[b.item as usize].text,
                    similarity: b.similarity,
                    graph_link: b.graph_link,
                    kg_link: b.kg_link,
                    shared_entities: &b.shared,
                }),
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut out, &doc)?;
    writeln!(out)?;
    Ok(())
}

fn csv_out(
    out: impl Write,
    dataset: &Dataset,
    relations: &Relations,
    ranking: &Ranking,
) -> Result<()> {
    crate::export::ranking_csv(out, dataset, relations, ranking)?;
    Ok(())
}
