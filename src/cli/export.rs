//! `crossrec export`: a dataset's item vectors, 2-D projection, every
//! item's nearest neighbours, or recommendations for many users, as files
//! other tools open (CSV, Parquet; `.npy` float32 `[n, dim]` with an ids
//! file beside it).

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::Args;

use super::DatasetArgs;
use crate::data::Dataset;
use crate::export::{DatasetExport, ExportSource, FileFormat, ids_path, write_dataset_export};
use crate::rank::Weights;
use crate::relate::domain_pair;
use crate::service::guard::Inputs;

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Export {
    /// Every item's vector.
    Embeddings,
    /// Every item's place in the joint 2-D PCA projection of all domains.
    Projection,
    /// Every item's nearest items in each domain (cosine).
    Neighbors,
    /// The knowledge graph: triples, and each item's entity in a second
    /// file beside them (`g.kg` + `g.link` for RecBole, `g.link.csv`,
    /// `g.link.parquet`).
    Kg,
    /// Ranked target items, with every component, for users of --from.
    Recommendations,
}

/// `crossrec export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    dataset: DatasetArgs,
    /// What to write.
    #[arg(long, value_enum)]
    what: Export,
    /// The file format [default: from the output's extension (.npy,
    /// .parquet), else csv].
    #[arg(long, value_parser = super::named::<FileFormat>())]
    format: Option<FileFormat>,
    /// The file to write (replaced atomically).
    #[arg(long)]
    output: PathBuf,
    /// Only this domain [default: every domain] (embeddings, projection,
    /// neighbors).
    #[arg(long)]
    domain: Option<String>,
    /// Neighbours per domain, or recommendations per user (at least 1).
    #[arg(short, long, default_value_t = 10, value_parser = super::positive, allow_negative_numbers = true)]
    k: usize,
    /// The source domain (recommendations).
    #[arg(long = "from")]
    from: Option<String>,
    /// The target domain (recommendations).
    #[arg(long = "to")]
    to: Option<String>,
    /// Only these users, comma-separated [default: every user with history
    /// in --from] (recommendations).
    #[arg(long, value_delimiter = ',')]
    users: Vec<String>,
    /// Component weights, as for `recommend` (recommendations).
    #[arg(long, value_parser = super::recommend::parse_weights)]
    weights: Option<Weights>,
    /// Ridge strength of the mapping, as for `recommend` (recommendations).
    #[arg(long, value_parser = super::recommend::parse_ridge, allow_negative_numbers = true)]
    ridge: Option<f32>,
    #[command(flatten)]
    train: super::recommend::TrainArg,
}

impl ExportArgs {
    fn format(&self) -> FileFormat {
        self.format.unwrap_or_else(|| FileFormat::of(&self.output))
    }

    /// The whole-dataset export asked for (`None`: recommendations).
    fn kind(&self) -> Option<DatasetExport> {
        match self.what {
            Export::Embeddings => Some(DatasetExport::Embeddings),
            Export::Projection => Some(DatasetExport::Projection),
            Export::Neighbors => Some(DatasetExport::Neighbors),
            Export::Kg => Some(DatasetExport::Kg),
            Export::Recommendations => None,
        }
    }

    /// Checks what can be checked before loading anything.
    fn check(&self) -> Result<()> {
        let format = self.format();
        if format == FileFormat::Npy && !self.kind().is_some_and(|k| k.allows(format)) {
            bail!(
                "--what {} is a table, not a matrix: use --format csv or --format parquet",
                self.name()
            );
        }
        if format == FileFormat::RecBole && self.what != Export::Kg {
            bail!(
                "--format recbole (a .kg file) holds only the knowledge graph (--what kg); \
                 use csv or parquet for --what {}",
                self.name()
            );
        }
        if self.what == Export::Recommendations && (self.from.is_none() || self.to.is_none()) {
            bail!("--what recommendations needs --from SOURCE and --to TARGET");
        }
        if self.what != Export::Recommendations
            && (self.from.is_some()
                || self.to.is_some()
                || !self.users.is_empty()
                || self.train.train)
        {
            bail!("--from, --to, --users and --train are for --what recommendations");
        }
        if self.what == Export::Recommendations && self.domain.is_some() {
            bail!("--domain is not for --what recommendations; --to names the target domain");
        }
        for file in self.files() {
            crate::files::check_output(&file)?;
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        self.kind().map_or("recommendations", DatasetExport::name)
    }

    /// Every file the export writes.
    fn files(&self) -> Vec<PathBuf> {
        match self.kind() {
            Some(kind) => kind.files(self.format(), &self.output),
            None => vec![self.output.clone()],
        }
    }

    /// The domains to export, checked against the dataset.
    fn domains(&self, dataset: &Dataset) -> Result<Vec<usize>> {
        super::explore::domains(dataset, self.domain.as_deref())
    }

    /// The users to recommend for: those named, else every user with
    /// history in the source domain.
    fn users(&self, dataset: &Dataset, source_users: &[bool]) -> Result<Vec<u32>> {
        if self.users.is_empty() {
            return Ok((0..dataset.users.len() as u32)
                .filter(|&u| source_users[u as usize])
                .collect());
        }
        self.users
            .iter()
            .map(|name| {
                dataset
                    .user_index(name.trim())
                    .ok_or_else(|| anyhow!("unknown user '{name}' in --users"))
            })
            .collect()
    }
}

pub(crate) fn export(args: &ExportArgs) -> Result<()> {
    args.check()?;
    let (dataset, embeddings) = super::encode::load(&args.dataset, &|d| {
        args.domains(d)?;
        if let (Some(from), Some(to)) = (&args.from, &args.to) {
            domain_pair(d, from, to)?;
        }
        Ok(())
    })?;
    let domains = args.domains(&dataset)?;
    let format = args.format();
    // Never replace the dataset's own files.
    let inputs = Inputs::of_dataset(&dataset, Some(&args.dataset.manifest()?))
        .and_model_named(&args.dataset.model.model);
    let files = args.files();
    inputs.check_all(files.iter().map(PathBuf::as_path))?;
    let rows: usize = match args.what {
        Export::Recommendations => 0,
        _ => domains
            .iter()
            .map(|&d| dataset.domains[d].items.len())
            .sum(),
    };
    match args.kind() {
        Some(kind) => {
            let source = ExportSource {
                dataset: &dataset,
                embeddings: &embeddings,
                projection: None,
            };
            write_dataset_export(kind, format, &args.output, &source, &domains, args.k)?;
        }
        None => {
            let (from, to) = (
                args.from.as_deref().unwrap_or_default(),
                args.to.as_deref().unwrap_or_default(),
            );
            let (source, target) = domain_pair(&dataset, from, to)?;
            let settings = super::recommend::settings_for(
                &args.dataset,
                dataset.name(),
                (from, to),
                (args.weights, args.ridge),
            )?;
            let (fitted, _) = super::recommend::fitted(
                &dataset,
                &embeddings,
                &args.dataset,
                (source, target),
                &settings,
                &args.train,
            )?;
            let has_history: Vec<bool> = fitted
                .relations
                .source_history
                .iter()
                .map(|h| !h.is_empty())
                .collect();
            let users = args.users(&dataset, &has_history)?;
            let rankings: Vec<_> = users
                .iter()
                .map(|&u| fitted.rank(&embeddings, u, args.k))
                .collect();
            let table = crate::export::rankings_table(&dataset, &fitted.relations, &rankings, true);
            format.write_table(&args.output, &table)?;
            say!(
                "wrote {} recommendations for {} users of {from} to {}",
                rankings.iter().map(|r| r.items.len()).sum::<usize>(),
                rankings.len(),
                args.output.display()
            );
            return Ok(());
        }
    }
    match args.what {
        Export::Kg => {
            let k = &embeddings.knowledge;
            say!(
                "wrote the knowledge graph of {rows} items ({} entities, {} item links, {} \
                 triples between entities) to {} and {}",
                k.entities().len(),
                k.summary.domains.iter().map(|d| d.links).sum::<usize>(),
                k.triples().count(),
                args.output.display(),
                files[1].display()
            );
            return Ok(());
        }
        Export::Neighbors => say!(
            "wrote up to {} nearest items in each of {} domains for {rows} items to {}",
            args.k,
            domains.len(),
            args.output.display()
        ),
        _ => say!(
            "wrote {} of {rows} items to {}",
            args.name(),
            args.output.display()
        ),
    }
    if format == FileFormat::Npy {
        say!("row ids: {}", ids_path(&args.output).display());
    }
    Ok(())
}
