//! `crossrec search` (the items of each domain nearest a typed text) and
//! `crossrec neighbors` (an item's nearest items in each domain and its
//! strongest links through shared users), as a table, JSON or CSV.

use std::io::Write;
use std::sync::atomic::AtomicBool;

use anyhow::{Result, anyhow, bail};
use clap::Args;
use serde::Serialize;

use super::{DatasetArgs, Format, pad, truncate};
use crate::data::Dataset;
use crate::explore::{ItemRef, Link, Neighbour, card};

/// `crossrec search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    dataset: DatasetArgs,
    /// The text to look for (encoded with the model).
    #[arg(long)]
    query: String,
    /// Only this domain [default: every domain].
    #[arg(long)]
    domain: Option<String>,
    /// How many items per domain (at least 1).
    #[arg(short, long, default_value_t = 10, value_parser = super::positive, allow_negative_numbers = true)]
    k: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// `crossrec neighbors`.
#[derive(Debug, Args)]
pub struct NeighborsArgs {
    #[command(flatten)]
    dataset: DatasetArgs,
    /// The item's id.
    #[arg(long)]
    item: String,
    /// The item's domain.
    #[arg(long)]
    domain: String,
    /// How many neighbours and links per domain (at least 1).
    #[arg(short, long, default_value_t = 10, value_parser = super::positive, allow_negative_numbers = true)]
    k: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// What one found item is to the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Relation {
    /// Near in the text space.
    Neighbour,
    /// Linked through users who have both.
    Link,
}

/// One found item, as printed.
#[derive(Debug, Serialize)]
struct Found<'a> {
    relation: Relation,
    domain: &'a str,
    rank: usize,
    item_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cosine: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_users: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    link_weight: Option<f32>,
    text: &'a str,
}

impl<'a> Found<'a> {
    /// Item `item` of domain `domain` at `rank`, its values to be filled in.
    fn item(
        dataset: &'a Dataset,
        relation: Relation,
        domain: usize,
        item: u32,
        rank: usize,
    ) -> Found<'a> {
        let domain = &dataset.domains[domain];
        let item = &domain.items[item as usize];
        Found {
            relation,
            domain: &domain.name,
            rank,
            item_id: &item.id,
            cosine: None,
            shared_users: None,
            link_weight: None,
            text: &item.text,
        }
    }

    fn neighbour(dataset: &'a Dataset, rank: usize, n: &Neighbour) -> Found<'a> {
        Found {
            cosine: Some(n.cosine),
            ..Found::item(dataset, Relation::Neighbour, n.domain, n.item, rank)
        }
    }

    fn link(dataset: &'a Dataset, rank: usize, l: &Link) -> Found<'a> {
        Found {
            shared_users: Some(l.shared_users),
            link_weight: Some(l.weight),
            ..Found::item(dataset, Relation::Link, l.domain, l.item, rank)
        }
    }
}

/// The domains asked for: the one named, or all.
pub(super) fn domains(dataset: &Dataset, name: Option<&str>) -> Result<Vec<usize>> {
    match name {
        None => Ok((0..dataset.domains.len()).collect()),
        Some(name) => dataset.domain_index(name).map(|d| vec![d]).ok_or_else(|| {
            let known: Vec<&str> = dataset.domains.iter().map(|d| d.name.as_str()).collect();
            anyhow!(
                "unknown domain '{name}'; the dataset has: {}",
                known.join(", ")
            )
        }),
    }
}

pub(crate) fn search(args: &SearchArgs) -> Result<()> {
    if crate::text::is_blank(&args.query) {
        bail!("the query is empty; give some text to look for, e.g. --query \"espresso\"");
    }
    let (dataset, embeddings, encoder) = super::encode::load_with_encoder(&args.dataset, &|d| {
        domains(d, args.domain.as_deref()).map(|_| ())
    })?;
    let wanted = domains(&dataset, args.domain.as_deref())?;
    let cancel = AtomicBool::new(false);
    let found = crate::service::explore::search(
        &dataset,
        &embeddings,
        &encoder,
        &args.query,
        &wanted,
        args.k,
        &cancel,
    )?;
    say!("encoded the query in {:.0} ms", found.encode_millis);
    let query = found.query.as_str();
    let found: Vec<Found<'_>> = found
        .hits
        .iter()
        .flat_map(|(_, hits)| {
            hits.iter()
                .enumerate()
                .map(|(r, n)| Found::neighbour(&dataset, r + 1, n))
                .collect::<Vec<_>>()
        })
        .collect();
    #[derive(Serialize)]
    struct JsonOut<'a> {
        dataset: &'a str,
        query: &'a str,
        k: usize,
        results: &'a [Found<'a>],
    }
    let out = std::io::stdout().lock();
    match args.format {
        Format::Table => table(out, &format!("query \"{}\"", truncate(query, 60)), &found),
        Format::Json => json(
            out,
            &JsonOut {
                dataset: dataset.name(),
                query,
                k: args.k,
                results: &found,
            },
        ),
        Format::Csv => csv_out(out, &found),
    }
}

pub(crate) fn neighbors(args: &NeighborsArgs) -> Result<()> {
    let (dataset, embeddings) = super::encode::load(&args.dataset, &|d| {
        domains(d, Some(&args.domain)).map(|_| ())
    })?;
    let domain = domains(&dataset, Some(&args.domain))?[0];
    let items = &dataset.domains[domain];
    let item = items.item_index(&args.item).ok_or_else(|| {
        anyhow!(
            "unknown item '{}' in domain '{}' ({} items, from {})",
            args.item,
            items.name,
            items.items.len(),
            items.file.display()
        )
    })?;
    let card = card(&dataset, &embeddings, ItemRef { domain, item }, args.k)
        .ok_or_else(|| anyhow!("item '{}' of '{}' has no vector", args.item, items.name))?;
    let mut found: Vec<Found<'_>> = Vec::new();
    for neighbours in &card.neighbours {
        found.extend(
            neighbours
                .iter()
                .enumerate()
                .map(|(r, n)| Found::neighbour(&dataset, r + 1, n)),
        );
    }
    for links in &card.links {
        found.extend(
            links
                .iter()
                .enumerate()
                .map(|(r, l)| Found::link(&dataset, r + 1, l)),
        );
    }
    let interactions = card.interactions;
    let it = &items.items[item as usize];
    #[derive(Serialize)]
    struct JsonOut<'a> {
        dataset: &'a str,
        domain: &'a str,
        item_id: &'a str,
        text: &'a str,
        interactions: usize,
        k: usize,
        results: &'a [Found<'a>],
    }
    let out = std::io::stdout().lock();
    match args.format {
        Format::Table => table(
            out,
            &format!(
                "{} {} ({interactions} interactions): {}",
                items.name,
                it.id,
                truncate(&it.text, 60)
            ),
            &found,
        ),
        Format::Json => json(
            out,
            &JsonOut {
                dataset: dataset.name(),
                domain: &items.name,
                item_id: &it.id,
                text: &it.text,
                interactions,
                k: args.k,
                results: &found,
            },
        ),
        Format::Csv => csv_out(out, &found),
    }
}

fn table(mut out: impl Write, title: &str, found: &[Found<'_>]) -> Result<()> {
    writeln!(out, "{title}")?;
    let id_width = found
        .iter()
        .map(|f| crate::text::width(f.item_id))
        .fold(14, usize::max);
    let mut block = None;
    for f in found {
        if block != Some((f.relation, f.domain)) {
            block = Some((f.relation, f.domain));
            let what = match f.relation {
                Relation::Neighbour => format!("nearest in {} (cosine)", f.domain),
                Relation::Link => format!(
                    "linked in {} through shared users (users, weight)",
                    f.domain
                ),
            };
            writeln!(out, "\n{what}")?;
        }
        let value = match (f.cosine, f.shared_users, f.link_weight) {
            (Some(c), _, _) => format!("{c:>7.3}"),
            (None, Some(u), Some(w)) => format!("{u:>4} {w:>6.3}"),
            _ => String::new(),
        };
        writeln!(
            out,
            "{:>4}  {} {value}  {}",
            f.rank,
            pad(f.item_id, id_width),
            truncate(f.text, 70)
        )?;
    }
    if found.is_empty() {
        writeln!(out, "\nnothing found")?;
    }
    Ok(())
}

fn json(mut out: impl Write, doc: &impl Serialize) -> Result<()> {
    serde_json::to_writer_pretty(&mut out, doc)?;
    writeln!(out)?;
    Ok(())
}

fn csv_out(out: impl Write, found: &[Found<'_>]) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "relation",
        "domain",
        "rank",
        "item_id",
        "cosine",
        "shared_users",
        "link_weight",
        "text",
    ])?;
    let num = |v: Option<String>| v.unwrap_or_default();
    for f in found {
        let relation = match f.relation {
            Relation::Neighbour => "neighbour",
            Relation::Link => "link",
        };
        w.write_record([
            relation,
            f.domain,
            &f.rank.to_string(),
            f.item_id,
            &num(f.cosine.map(|c| c.to_string())),
            &num(f.shared_users.map(|u| u.to_string())),
            &num(f.link_weight.map(|v| v.to_string())),
            f.text,
        ])?;
    }
    w.flush()?;
    Ok(())
}
