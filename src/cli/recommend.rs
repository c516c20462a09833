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
use crate::rank::{COMPONENTS, Component, PerComponent, Ranking, Weights, recommend as rank};
use crate::relate::{AdaptOptions, Hidden, RelateOptions, Relations, StoredAdapter, domain_pair};
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
    #[arg(short, long, default_value_t = 10, value_parser = super::positive)]
    k: usize,
    /// Component weights, e.g. content=1,graph=0.5; components not named keep
    /// their default [default: the weights `eval --tune` or the window's
    /// auto-tune saved for this dataset and direction, else
    /// content=0.5,mapped=0.5,adapted=1,graph=1,popularity=1,history=1].
    #[arg(long, value_parser = parse_weights)]
    weights: Option<Weights>,
    /// Ridge strength of the mapping, a number ≥ 0 [default: the tuned one, else 10].
    #[arg(long, value_parser = parse_ridge)]
    ridge: Option<f32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub(crate) fn parse_weights(s: &str) -> Result<Weights, String> {
    s.parse()
}

pub(crate) fn parse_ridge(s: &str) -> Result<f32, String> {
    let value: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    crate::relate::check_ridge(value).map_err(|err| err.to_string())
}

/// The settings `recommend` ranks with.
pub(crate) struct Chosen {
    pub(crate) weights: Weights,
    pub(crate) ridge: f32,
    /// Epochs of the transfer model.
    pub(crate) adapted_epochs: usize,
}

/// Epochs of the transfer model when no tuning chose them (the validation
/// choice on both directions of the Amazon data was 2–4).
pub(crate) const DEFAULT_ADAPTED_EPOCHS: usize = 3;

/// Weights and ridge: explicit flags, else what `eval --tune` saved, else defaults.
pub(crate) fn choose_settings(
    dataset: &Dataset,
    manifest: &std::path::Path,
    from: &str,
    to: &str,
    weights: Option<Weights>,
    ridge: Option<f32>,
) -> Result<Chosen> {
    let store = SettingsStore::new(SettingsStore::default_root());
    let path = store.path(manifest, dataset.name(), from, to);
    let saved = store
        .load(&path)
        .map_err(|e| anyhow!("tuned settings: {e}"))?;
    if let Some(saved) = saved
        .as_ref()
        .filter(|_| weights.is_none() || ridge.is_none())
    {
        say!(
            "using tuned settings from {} (weights {}, ridge {})",
            path.display(),
            saved.weights(),
            saved.ridge
        );
    }
    let weights = weights
        .or(saved.as_ref().map(|s| s.weights()))
        .unwrap_or_default();
    let ridge = ridge
        .or(saved.as_ref().map(|s| s.ridge))
        .unwrap_or(RelateOptions::default().ridge);
    let adapted_epochs = saved
        .as_ref()
        .and_then(|s| s.adapted_epochs)
        .unwrap_or(DEFAULT_ADAPTED_EPOCHS);
    Ok(Chosen {
        weights,
        ridge,
        adapted_epochs,
    })
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
}

pub(crate) fn recommend(args: &RecommendArgs) -> Result<()> {
    let (dataset, embeddings) = super::encode::load(&args.dataset, &|d| {
        domain_pair(d, &args.from, &args.to)?;
        Ok(())
    })?;
    let (source, target) = domain_pair(&dataset, &args.from, &args.to)?;
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
    let (relations, weights) = fitted(
        &dataset,
        &embeddings,
        &args.dataset,
        (source, target),
        (&args.from, &args.to),
        (args.weights, args.ridge),
    )?;
    let ranking = rank(&relations, &embeddings, user, &weights, args.k);
    for (component, reason) in &ranking.unavailable {
        say!("note: {component} unavailable: {reason}");
    }
    let out = std::io::stdout().lock();
    match args.format {
        Format::Table => table(out, &dataset, &relations, &ranking, &weights),
        Format::Json => json(out, args, &dataset, &relations, &ranking, &weights),
        Format::Csv => csv_out(out, &dataset, &relations, &ranking),
    }
}

/// The relations `recommend` and `export --what recommendations` rank with:
/// the chosen settings (flags, else tuned, else defaults), the fitted
/// relations for `domains` (source, target; `names` as the user typed
/// them), and the transfer model trained or reused when it has weight.
pub(crate) fn fitted(
    dataset: &Dataset,
    embeddings: &crate::pipeline::DatasetEmbeddings,
    dataset_args: &DatasetArgs,
    domains: (usize, usize),
    names: (&str, &str),
    explicit: (Option<Weights>, Option<f32>),
) -> Result<(Relations, Weights)> {
    let Chosen {
        weights,
        ridge,
        adapted_epochs,
    } = choose_settings(
        dataset,
        &dataset_args.manifest()?,
        names.0,
        names.1,
        explicit.0,
        explicit.1,
    )?;
    if weights.is_zero() {
        anyhow::bail!("{}", crate::rank::ALL_ZERO);
    }
    let mut relations = Relations::fit(
        dataset,
        embeddings,
        domains.0,
        domains.1,
        &Hidden::nothing(dataset),
        RelateOptions { ridge },
    )?;
    if weights.get(Component::Adapted) != 0.0 && adapted_epochs > 0 {
        let started = std::time::Instant::now();
        let options = AdaptOptions {
            epochs: adapted_epochs,
            ..AdaptOptions::default()
        };
        let dir = dataset_args
            .cache_dir
            .clone()
            .unwrap_or_else(EmbeddingCache::default_root);
        let cancel = AtomicBool::new(false);
        match relations.train_adapter_stored(embeddings, options, &dir, &cancel) {
            StoredAdapter::Reused(path) => say!(
                "using the transfer model trained earlier on the same data: {}",
                path.display()
            ),
            StoredAdapter::Trained { saved, unreadable } => {
                if let Some(err) = unreadable {
                    say!("note: the stored transfer model was not used ({err}); trained anew");
                }
                say!(
                    "trained the transfer model ({adapted_epochs} epochs) in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                match saved {
                    Ok(path) => say!("saved it for the next run: {}", path.display()),
                    Err(err) => say!("warning: the transfer model was not saved: {err}"),
                }
            }
            StoredAdapter::NotTrained { unreadable } => {
                if let Some(err) = unreadable {
                    say!("note: the stored transfer model was not used ({err})");
                }
            }
        }
    }
    Ok((relations, weights))
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
        let because = rec.because_of.map_or_else(String::new, |b| {
            format!(
                "{} (cos {:.2}, link {:.2})",
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
                because_of: rec.because_of.map(|b| JsonBecause {
                    item_id: &s.items[b.item as usize].id,
                    text: &s.items[b.item as usize].text,
                    similarity: b.similarity,
                    graph_link: b.graph_link,
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
