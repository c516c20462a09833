//! Opening a model's weights safely: `model.safetensors` (memory-mapped), or
//! a PyTorch `pytorch_model.bin` whose pickle is first checked against an
//! allow-list of the few globals a saved `state_dict` uses (as
//! `torch.load(weights_only=True)` does) and then read by candle's pickle
//! reader, which interprets the pickle without executing anything. Every
//! floating-point tensor must be finite.

use std::collections::HashMap;
use std::path::Path;

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::error::message;
use super::{EmbedError, WeightsFile};

/// The globals a PyTorch `state_dict` pickle may name: containers and the
/// functions that rebuild tensors from their storages.
const ALLOWED_GLOBALS: [(&str, &str); 17] = [
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch", "FloatStorage"),
    ("torch", "HalfStorage"),
    ("torch", "BFloat16Storage"),
    ("torch", "DoubleStorage"),
    ("torch", "LongStorage"),
    ("torch", "IntStorage"),
    ("torch", "ShortStorage"),
    ("torch", "CharStorage"),
    ("torch", "ByteStorage"),
    ("torch", "BoolStorage"),
    ("torch", "Size"),
    ("torch", "float32"),
    ("torch.storage", "UntypedStorage"),
];

/// The one-line conversion of a trusted PyTorch checkpoint to safetensors.
const CONVERT: &str = "python3 -c \"import torch; from safetensors.torch import save_file; \
     save_file({k: v.contiguous() for k, v in torch.load('pytorch_model.bin').items()}, \
     'model.safetensors')\"";

/// Opened weights: the names of their tensors and a builder over them.
pub struct Weights<'a> {
    /// Every tensor's name.
    pub names: Vec<String>,
    /// The builder candle's models load from.
    pub builder: VarBuilder<'a>,
}

/// Opens `file` in CPU memory, checking it first.
pub fn open_weights(file: &WeightsFile) -> Result<Weights<'static>, EmbedError> {
    let device = &Device::Cpu;
    match file {
        WeightsFile::Safetensors(path) => {
            let names = safetensors_names(path)?;
            check_safetensors_finite(path)?;
            // SAFETY: the weights file is memory-mapped read-only; like every
            // mmap-based loader, this assumes no one truncates it while loaded.
            let builder =
                unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, device) }
                    .map_err(|err| {
                        bad(path, format!("unreadable safetensors: {}", message(err)))
                    })?;
            Ok(Weights { names, builder })
        }
        WeightsFile::Pickle(path) => {
            check_pickle_globals(path)?;
            let tensors = candle_core::pickle::read_all(path).map_err(|err| {
                bad(
                    path,
                    format!("not a readable PyTorch state_dict: {}", message(err)),
                )
            })?;
            if tensors.is_empty() {
                return Err(bad(
                    path,
                    "holds no tensors; expected a PyTorch state_dict saved with torch.save".into(),
                ));
            }
            for (name, tensor) in &tensors {
                check_finite(path, name, tensor)?;
            }
            let names = tensors.iter().map(|(n, _)| n.clone()).collect();
            let map: HashMap<String, Tensor> = tensors.into_iter().collect();
            let builder = VarBuilder::from_tensors(map, DType::F32, device);
            Ok(Weights { names, builder })
        }
    }
}

fn bad(path: &Path, message: String) -> EmbedError {
    EmbedError::ModelFile {
        path: path.to_path_buf(),
        message,
    }
}

/// Refuses a pickle that names any global outside [`ALLOWED_GLOBALS`]: in
/// Python such a pickle runs that function when loaded (`os.system`, …).
fn check_pickle_globals(path: &Path) -> Result<(), EmbedError> {
    let file = std::fs::File::open(path).map_err(EmbedError::io(path))?;
    let mut head = [0u8; 2];
    let legacy = std::io::Read::read_exact(&mut &file, &mut head).is_ok() && head == [0x80, 0x02];
    if legacy {
        return Err(bad(
            path,
            format!(
                "saved in PyTorch's legacy format (before torch 1.6), which crossrec does not \
                 read; convert weights you trust once with Python: {CONVERT}"
            ),
        ));
    }
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(&file)).map_err(|err| {
        bad(
            path,
            format!("not a PyTorch zip archive ({err}); expected a file saved by torch.save"),
        )
    })?;
    let names: Vec<String> = archive
        .file_names()
        .map(|name| name.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|err| bad(path, format!("unreadable PyTorch zip archive: {err}")))?;
    let pickles: Vec<&String> = names.iter().filter(|n| n.ends_with("data.pkl")).collect();
    if pickles.is_empty() {
        return Err(bad(
            path,
            "has no data.pkl; expected a PyTorch archive saved by torch.save".into(),
        ));
    }
    for name in pickles {
        let entry = archive
            .by_name(name)
            .map_err(|err| bad(path, format!("{name}: {err}")))?;
        let mut reader = std::io::BufReader::new(entry);
        let mut stack = Stack::empty();
        let unreadable = |err| {
            bad(
                path,
                format!(
                    "{name}: unreadable pickle ({}); crossrec reads what torch.save writes by \
                     default (pickle protocol 2). Convert weights you trust to \
                     model.safetensors: {CONVERT}",
                    message(err)
                ),
            )
        };
        stack.read_loop(&mut reader).map_err(unreadable)?;
        let object = stack.finalize().map_err(unreadable)?;
        if let Some((module, class)) = forbidden_global(&object) {
            return Err(bad(
                path,
                format!(
                    "refused: its pickle calls {module}.{class}, which a saved state_dict never \
                     needs (in Python, loading this file would run it); crossrec only reads \
                     tensors from pickles. Convert weights you trust to model.safetensors: \
                     {CONVERT}"
                ),
            ));
        }
    }
    Ok(())
}

/// The first global in `object` that is not allowed.
fn forbidden_global(object: &Object) -> Option<(String, String)> {
    match object {
        Object::Class {
            module_name,
            class_name,
        } => (!ALLOWED_GLOBALS.contains(&(module_name.as_str(), class_name.as_str())))
            .then(|| (module_name.clone(), class_name.clone())),
        Object::Reduce { callable, args } | Object::Build { callable, args } => {
            forbidden_global(callable).or_else(|| forbidden_global(args))
        }
        Object::PersistentLoad(inner) => forbidden_global(inner),
        Object::Tuple(items) | Object::List(items) => items.iter().find_map(forbidden_global),
        Object::Dict(pairs) => pairs
            .iter()
            .find_map(|(k, v)| forbidden_global(k).or_else(|| forbidden_global(v))),
        _ => None,
    }
}

/// Checks that a tensor is finite: a NaN or infinity in the weights would
/// make NaN vectors for every text. Summed in f64 (no finite f32 tensor of a
/// realistic size can overflow it), so the check runs in candle's kernels.
fn check_finite(path: &Path, name: &str, tensor: &Tensor) -> Result<(), EmbedError> {
    if !tensor.dtype().is_float() {
        return Ok(());
    }
    let sum = tensor
        .to_dtype(DType::F64)
        .and_then(|t| t.sum_all()?.to_scalar::<f64>())
        .map_err(|err| bad(path, format!("tensor '{name}': {}", message(err))))?;
    if sum.is_finite() {
        Ok(())
    } else {
        Err(bad(
            path,
            format!(
                "tensor '{name}' holds NaN or infinite values; the weights are corrupt \
                 (re-download or re-export the model)"
            ),
        ))
    }
}

fn check_safetensors_finite(path: &Path) -> Result<(), EmbedError> {
    let unreadable =
        |err: candle_core::Error| bad(path, format!("unreadable safetensors: {}", message(err)));
    // SAFETY: read-only map of the weights file; see `open_weights`.
    let tensors =
        unsafe { candle_core::safetensors::MmapedSafetensors::new(path) }.map_err(unreadable)?;
    for (name, view) in tensors.tensors() {
        if !matches!(
            view.dtype(),
            safetensors::Dtype::F16
                | safetensors::Dtype::BF16
                | safetensors::Dtype::F32
                | safetensors::Dtype::F64
        ) {
            continue;
        }
        let tensor = tensors.load(&name, &Device::Cpu).map_err(unreadable)?;
        check_finite(path, &name, &tensor)?;
    }
    Ok(())
}

/// The tensor names in a safetensors file (reading only its header), or an
/// error saying the file is not a complete safetensors file.
fn safetensors_names(path: &Path) -> Result<Vec<String>, EmbedError> {
    let file = std::fs::File::open(path).map_err(EmbedError::io(path))?;
    let size = file.metadata().map_err(EmbedError::io(path))?.len();
    // SAFETY: read-only map of the weights file; see `open_weights`.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(EmbedError::io(path))?;
    let tensors = safetensors::SafeTensors::deserialize(&map).map_err(|err| {
        if map.starts_with(b"version https://git-lfs.github.com/spec/") {
            return bad(
                path,
                "a Git LFS pointer, not the weights: the repository was cloned without \
                 its large files; run `git lfs install && git lfs pull` in the model folder \
                 (or download the file itself)"
                    .to_string(),
            );
        }
        bad(
            path,
            format!("not a complete safetensors file ({size} bytes): {err}"),
        )
    })?;
    Ok(tensors.names().into_iter().map(str::to_string).collect())
}
