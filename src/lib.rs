//! crossrec: cross-domain recommendations with BERT embeddings.
//!
//! The pipeline flows one way: [`data`] (CSV + manifest) → [`embed`] (BERT
//! vectors, cached) → later stages. [`pipeline`] runs the stages over a whole
//! dataset; [`cli`] is the command line on top of the library.

pub mod cli;
pub mod data;
pub mod embed;
pub mod pipeline;
