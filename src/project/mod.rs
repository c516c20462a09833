//! Views of the embedding space for the window: a 2-D PCA projection fitted
//! jointly on both domains, and a cluster overview (k-means centroids per
//! domain and their cross-domain similarity).
//!
//! It knows nothing of the window; it returns plain numbers.

mod clusters;
mod heatmap;
mod pca;

pub use clusters::{Clusters, kmeans};
pub use heatmap::{ClusterMap, cluster_map, cluster_maps};
pub use pca::{Projection, project};
