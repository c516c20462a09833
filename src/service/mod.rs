//! The use cases both front ends run, as library calls: the command line
//! and the window only turn flags and clicks into these calls and word what
//! comes back. [`encode`] loads the model and encodes a dataset through the
//! cache; [`recommend`] chooses a direction's settings, fits what ranks
//! (with the one transfer-model policy) and ranks users; [`evaluate`]
//! evaluates and keeps a weight search's result; [`compare`] measures two
//! settings on the same users; [`report`] writes an evaluation's HTML
//! report; [`explore`]
//! searches the shared space; [`guard`] keeps every output from replacing a
//! file the run reads.

pub mod compare;
pub mod encode;
pub mod evaluate;
pub mod explore;
pub mod guard;
pub mod recommend;
pub mod report;
pub mod snapshot;
