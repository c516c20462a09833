//! crossrec: cross-domain recommendations with BERT embeddings.
//!
//! The pipeline flows one way: [`data`] (CSV or Parquet + manifest) → [`embed`] (BERT
//! vectors, cached) → [`relate`] (profiles, mapping, graph, popularity) →
//! [`rank`] (scored, explained top-k) → [`evaluate`] (held-out metrics).
//! [`pipeline`] runs the encoder over a whole dataset, or takes a domain's
//! vectors from a file ([`vectors`]) and mines the items' entities for
//! the knowledge graph ([`entities`]); [`export`] writes what crossrec
//! computes, [`report`] a shareable HTML page of an evaluation; [`cli`] is
//! the command line on top of the library.

#[cfg(feature = "gui")]
pub mod app;
pub mod cli;
pub mod data;
pub mod embed;
pub mod entities;
pub mod evaluate;
pub mod explore;
pub mod export;
pub mod files;
pub mod names;
pub mod palette;
pub mod pipeline;
pub mod products;
pub mod project;
pub mod rank;
pub mod relate;
pub mod report;
pub mod sample;
pub mod service;
pub mod settings;
pub mod shards;
pub mod text;
pub mod vectors;
