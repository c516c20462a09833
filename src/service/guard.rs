//! Outputs never replace inputs: [`Inputs`] lists every file a run reads
//! (the manifest and every file it names, the items' pictures, the model
//! folder's files, and whatever else the caller adds), and
//! [`Inputs::check`] refuses an output that is one of them — through a
//! symlink or another spelling of the path alike. Every export,
//! from the command line or the window, is checked through it.

use std::path::{Path, PathBuf};

use crate::data::Dataset;
use crate::embed::ModelFiles;
use crate::files::{WriteError, check_not_inputs};

/// The files a run reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs(Vec<PathBuf>);

impl Inputs {
    /// The dataset's files: its manifest (when it was read from one),
    /// every file the manifest names, and every item's picture.
    pub fn of_dataset(dataset: &Dataset, manifest: Option<&Path>) -> Inputs {
        let pictures = dataset
            .domains
            .iter()
            .flat_map(|d| d.items.iter().filter_map(|item| item.image.clone()));
        Inputs(
            manifest
                .map(Path::to_path_buf)
                .into_iter()
                .chain(dataset.manifest.files())
                .chain(pictures)
                .collect(),
        )
    }

    /// These inputs and every file of the model folder `model`.
    pub fn and_model(mut self, model: &ModelFiles) -> Inputs {
        self.0.extend(model.all_files());
        self
    }

    /// These inputs and every file of the model `spec` names (a folder or
    /// hub id), when it names one: when it names none, the run read no
    /// model file (every vector came from a file).
    pub fn and_model_named(self, spec: &str) -> Inputs {
        match crate::embed::resolve_model(spec) {
            Ok(model) => self.and_model(&model),
            Err(_) => self,
        }
    }

    /// These inputs and `path`.
    pub fn and(mut self, path: impl Into<PathBuf>) -> Inputs {
        self.0.push(path.into());
        self
    }

    /// Refuses `output` when writing it would replace one of the inputs.
    pub fn check(&self, output: &Path) -> Result<(), WriteError> {
        check_not_inputs(output, self.0.iter().map(PathBuf::as_path))
    }

    /// [`Inputs::check`], then removes the temporary files a killed run left
    /// in `output`'s folder — never one of these inputs, whatever its name.
    /// Called once the inputs are complete, just before the work.
    pub fn check_and_tidy(&self, output: &Path) -> Result<(), WriteError> {
        self.check(output)?;
        crate::files::remove_stale_temporaries(output, self.0.iter().map(PathBuf::as_path));
        Ok(())
    }

    /// Refuses the first of `outputs` that would replace an input (then tidies
    /// each one's folder, as [`Inputs::check_and_tidy`]).
    pub fn check_all<'a>(
        &self,
        outputs: impl IntoIterator<Item = &'a Path>,
    ) -> Result<(), WriteError> {
        outputs
            .into_iter()
            .try_for_each(|output| self.check_and_tidy(output))
    }
}
