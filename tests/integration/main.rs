//! crossrec's integration tests, in one binary: the data layer on fixtures
//! and on the real dataset, the encoder on a tiny random BERT and on the real
//! model, the embedding cache, and the command line.

mod analysis;
#[cfg(feature = "gui")]
mod app;
mod cache;
mod cli;
mod common;
mod corpus;
mod data_layer;
mod embed_real;
mod embed_tiny;
mod extremes;
mod families;
mod fuzz;
mod knowledge;
mod layering;
mod parquet;
mod pca_peer;
mod real_ranking;
mod recommend;
mod shards;
