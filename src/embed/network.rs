//! The encoder network behind one call, on the device it was loaded for:
//! crossrec's own CPU forward pass ([`super::cpu`]), or — in builds with the
//! `cuda` feature — candle's BERT and XLM-RoBERTa on a CUDA GPU. Checkpoints
//! saved with or without their task head's prefix (`bert.`, `roberta.`)
//! both load.

use candle_nn::VarBuilder;

use super::config::Architecture;
use super::cpu::{Kernels, Transformer, Workspace};
use super::runtime::{Device, Precision};
use super::{EmbedError, Pooling};

/// A loaded encoder network.
pub enum Network {
    /// On the CPU.
    Cpu(Transformer),
    /// On a CUDA GPU.
    #[cfg(feature = "cuda")]
    Gpu {
        /// candle's model.
        model: gpu::Model,
        /// The GPU.
        device: candle_core::Device,
    },
}

/// `weights` narrowed past a task head's prefix when the checkpoint has one.
fn body<'a>(
    architecture: &Architecture,
    weights: VarBuilder<'a>,
    names: &[String],
) -> VarBuilder<'a> {
    let prefix = match architecture {
        Architecture::Bert(_) => "bert",
        Architecture::XlmRoberta(_) => "roberta",
    };
    let under = names
        .iter()
        .any(|n| n.starts_with(&format!("{prefix}.embeddings.")));
    if under { weights.pp(prefix) } else { weights }
}

/// The weights must hold exactly the layers config.json names: fewer fail
/// to load, and more would silently build a partial model.
fn check_layers(architecture: &Architecture, names: &[String]) -> Result<(), NetworkError> {
    let layer_of = |name: &str| -> Option<usize> {
        let at = name.find("encoder.layer.")? + "encoder.layer.".len();
        name[at..].split('.').next()?.parse().ok()
    };
    let weights = names
        .iter()
        .filter_map(|n| layer_of(n))
        .max()
        .map_or(0, |n| n + 1);
    let config = architecture.dimensions().layers;
    if weights == config {
        Ok(())
    } else {
        Err(NetworkError::Layers { config, weights })
    }
}

/// Why the network could not be built from a model's weights.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A tensor is missing, or its shape is not what config.json says.
    #[error("{0}")]
    Weights(String),
    /// config.json and the weights disagree on the number of layers (a
    /// partial model is never built).
    #[error(
        "config.json's num_hidden_layers is {config}, but the weights hold {weights} layers \
         (encoder.layer.0–{}); they belong to different models",
        weights.saturating_sub(1)
    )]
    Layers {
        /// Layers config.json names.
        config: usize,
        /// Layers in the weights.
        weights: usize,
    },
    /// config.json names an activation crossrec does not run.
    #[error(
        "hidden_act {0} is not supported; crossrec runs gelu, gelu_new, gelu_pytorch_tanh, \
         relu and silu"
    )]
    Activation(String),
    /// The GPU could not be used.
    #[error("cuda:{device}: {message}")]
    Cuda {
        /// The GPU's number.
        device: usize,
        /// What CUDA said (or that this build has none).
        message: String,
    },
}

impl Network {
    /// Builds the network `architecture` describes from `weights` (whose
    /// tensor names are `names`) for `device`.
    pub fn load(
        architecture: &Architecture,
        weights: VarBuilder,
        names: &[String],
        device: Device,
        precision: Precision,
        kernels: Kernels,
    ) -> Result<Network, NetworkError> {
        check_layers(architecture, names)?;
        let weights = body(architecture, weights, names);
        match device {
            Device::Cpu => Ok(Network::Cpu(Transformer::load(
                architecture,
                weights,
                precision,
                kernels,
            )?)),
            #[cfg(feature = "cuda")]
            Device::Cuda(n) => gpu::load(architecture, weights, n),
            #[cfg(not(feature = "cuda"))]
            Device::Cuda(n) => Err(NetworkError::Cuda {
                device: n,
                message: "this build has no CUDA".into(),
            }),
        }
    }

    /// The pooled, L2-normalised vector of each token sequence in `batch`,
    /// `[batch.len(), dim]` row-major. A worker passes the same `workspace`
    /// to every call.
    pub fn encode(
        &self,
        batch: &[&[u32]],
        pad_id: u32,
        pooling: Pooling,
        workspace: &mut Workspace,
    ) -> Result<Vec<f32>, EmbedError> {
        match self {
            Network::Cpu(transformer) => {
                let _ = pad_id;
                transformer.encode(batch, pooling, workspace)
            }
            #[cfg(feature = "cuda")]
            Network::Gpu { model, device } => {
                Ok(gpu::encode(model, device, batch, pad_id, pooling)?)
            }
        }
    }
}

/// candle's networks on a CUDA GPU, on padded batches.
#[cfg(feature = "cuda")]
pub mod gpu {
    use candle_core::{D, DType, Tensor};
    use candle_nn::VarBuilder;
    use candle_transformers::models::bert::BertModel;
    use candle_transformers::models::xlm_roberta::XLMRobertaModel;

    use super::{Architecture, Network, NetworkError, Pooling};

    /// candle's model.
    pub enum Model {
        /// BERT.
        Bert(BertModel),
        /// XLM-RoBERTa.
        XlmRoberta(XLMRobertaModel),
    }

    pub(super) fn load(
        architecture: &Architecture,
        weights: VarBuilder,
        n: usize,
    ) -> Result<Network, NetworkError> {
        let device = candle_core::Device::new_cuda(n).map_err(|e| NetworkError::Cuda {
            device: n,
            message: e.to_string(),
        })?;
        let weights = weights.set_device(device.clone());
        let model = match architecture {
            Architecture::Bert(config) => BertModel::load(weights, config).map(Model::Bert),
            Architecture::XlmRoberta(config) => {
                XLMRobertaModel::new(config, weights).map(Model::XlmRoberta)
            }
        }
        .map_err(|e| NetworkError::Weights(e.to_string()))?;
        Ok(Network::Gpu { model, device })
    }

    pub(super) fn encode(
        model: &Model,
        device: &candle_core::Device,
        batch: &[&[u32]],
        pad_id: u32,
        pooling: Pooling,
    ) -> candle_core::Result<Vec<f32>> {
        let rows = batch.len();
        let width = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        let mut input = vec![pad_id; rows * width];
        let mut mask = vec![0u32; rows * width];
        for (r, ids) in batch.iter().enumerate() {
            input[r * width..r * width + ids.len()].copy_from_slice(ids);
            mask[r * width..r * width + ids.len()].fill(1);
        }
        let input = Tensor::from_vec(input, (rows, width), device)?;
        let mask = Tensor::from_vec(mask, (rows, width), device)?;
        let types = input.zeros_like()?;
        let hidden = match model {
            Model::Bert(m) => m.forward(&input, &types, Some(&mask))?,
            Model::XlmRoberta(m) => m.forward(&input, &mask, &types, None, None, None)?,
        };
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
        let pooled = match pooling {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Mean | Pooling::MeanSqrtLen => {
                let sum = hidden.broadcast_mul(&mask)?.sum(1)?;
                let count = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
                let count = if pooling == Pooling::Mean {
                    count
                } else {
                    count.sqrt()?
                };
                sum.broadcast_div(&count)?
            }
            Pooling::Max => {
                let penalty = ((mask.ones_like()? - &mask)? * -1e9)?;
                hidden.broadcast_add(&penalty)?.max(1)?
            }
        };
        let norm = pooled
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        pooled.broadcast_div(&norm)?.flatten_all()?.to_vec1::<f32>()
    }
}
