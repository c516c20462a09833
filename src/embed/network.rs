//! The encoder networks crossrec runs, behind one forward pass: candle's
//! BERT and XLM-RoBERTa, loaded from checkpoints saved with or without their
//! task head's prefix (`bert.`, `roberta.`).

use candle_core::Tensor;
use candle_nn::VarBuilder;
use candle_transformers::models::bert::BertModel;
use candle_transformers::models::xlm_roberta::XLMRobertaModel;

use super::config::Architecture;

/// A loaded encoder network.
pub enum Network {
    /// BERT.
    Bert(BertModel),
    /// XLM-RoBERTa.
    XlmRoberta(XLMRobertaModel),
}

impl Network {
    /// Builds the network `architecture` describes from `weights` (whose
    /// tensor names are `names`).
    pub fn load(
        architecture: &Architecture,
        weights: VarBuilder,
        names: &[String],
    ) -> candle_core::Result<Network> {
        let under = |prefix: &str| {
            names
                .iter()
                .any(|n| n.starts_with(&format!("{prefix}.embeddings.")))
        };
        Ok(match architecture {
            Architecture::Bert(config) => {
                let vb = if under("bert") {
                    weights.pp("bert")
                } else {
                    weights
                };
                Network::Bert(BertModel::load(vb, config)?)
            }
            Architecture::XlmRoberta(config) => {
                let vb = if under("roberta") {
                    weights.pp("roberta")
                } else {
                    weights
                };
                Network::XlmRoberta(XLMRobertaModel::new(config, vb)?)
            }
        })
    }

    /// Token vectors `[batch, len, hidden]` for `input` ids `[batch, len]`
    /// under `mask` (1 for real tokens, 0 for padding).
    pub fn forward(&self, input: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let types = input.zeros_like()?;
        match self {
            Network::Bert(model) => model.forward(input, &types, Some(mask)),
            Network::XlmRoberta(model) => model.forward(input, mask, &types, None, None, None),
        }
    }
}
