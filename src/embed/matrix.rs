//! The `[n, dim]` row-major float matrix of item embeddings and its `.npy`
//! form, and the two vector helpers everything above builds on: [`dot`]
//! and [`normalize`].

use std::path::Path;

use super::EmbedError;

/// The dot product, the one every score is made of (recommend and the
/// evaluation call it alike, so their scores agree bit for bit). Four
/// vectors of eight partial sums keep the loop in SIMD registers without
/// waiting on one running sum; the order of additions is fixed, so the same
/// two vectors give the same bits wherever it is called.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 32;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (chunks_a, rest_a) = a.split_at(n - n % LANES);
    let (chunks_b, rest_b) = b.split_at(n - n % LANES);
    for (x, y) in chunks_a
        .chunks_exact(LANES)
        .zip(chunks_b.chunks_exact(LANES))
    {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = rest_a.iter().zip(rest_b).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// Scales `v` to unit length; `None` for a zero vector.
pub fn normalize(mut v: Vec<f32>) -> Option<Vec<f32>> {
    let norm = dot(&v, &v).sqrt();
    if !norm.is_finite() || norm <= 1e-12 {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Some(v)
}

/// Row-major `[len, dim]` float32 vectors, one per text, in input order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "EmbeddingRows")]
pub struct Embeddings {
    dim: usize,
    #[serde(with = "float_bytes")]
    data: Vec<f32>,
}

/// Stored vectors, read back: kept only when they are whole rows of
/// finite values.
#[derive(serde::Deserialize)]
struct EmbeddingRows {
    dim: usize,
    #[serde(with = "float_bytes")]
    data: Vec<f32>,
}

/// Float32 values stored as one run of little-endian bytes: read back in
/// one pass into a vector of the right size, where a sequence of numbers
/// would grow it one value at a time.
pub mod float_bytes {
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    /// Writes `values` as bytes (in place on a little-endian machine).
    pub fn serialize<S: Serializer>(values: &[f32], out: S) -> Result<S::Ok, S::Error> {
        if cfg!(target_endian = "little") {
            out.serialize_bytes(bytemuck::cast_slice(values))
        } else {
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            out.serialize_bytes(&bytes)
        }
    }

    /// Reads values written by [`serialize`].
    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Vec<f32>, D::Error> {
        struct Floats;

        impl Visitor<'_> for Floats {
            type Value = Vec<f32>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("float32 values as little-endian bytes")
            }

            fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Vec<f32>, E> {
                if !bytes.len().is_multiple_of(4) {
                    return Err(E::custom(format!(
                        "{} bytes are not float32 values",
                        bytes.len()
                    )));
                }
                Ok(bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect())
            }
        }

        input.deserialize_bytes(Floats)
    }
}

impl TryFrom<EmbeddingRows> for Embeddings {
    type Error = String;

    fn try_from(rows: EmbeddingRows) -> Result<Embeddings, String> {
        if rows.dim == 0 || !rows.data.len().is_multiple_of(rows.dim) {
            return Err(format!(
                "{} values are not rows of {}",
                rows.data.len(),
                rows.dim
            ));
        }
        if !rows.data.iter().all(|v| v.is_finite()) {
            return Err("a vector holds a value that is not a finite number".into());
        }
        Ok(Embeddings {
            dim: rows.dim,
            data: rows.data,
        })
    }
}

impl Embeddings {
    /// Wraps `data` (length a multiple of `dim`).
    pub fn new(dim: usize, data: Vec<f32>) -> Embeddings {
        assert!(
            dim > 0 && data.len().is_multiple_of(dim),
            "data is not [n, {dim}]"
        );
        Embeddings { dim, data }
    }

    /// The vector size.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The number of vectors.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// True when there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Vector `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The values, row-major, without a copy.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Writes a NumPy `.npy` file (`<f4`, C order, shape `[n, dim]`)
    /// atomically (see [`crate::files::write_atomic`]); refuses to write a
    /// vector that is not finite.
    pub fn write_npy(&self, path: &Path) -> Result<(), EmbedError> {
        if let Some(row) = (0..self.len()).find(|&i| !self.row(i).iter().all(|x| x.is_finite())) {
            return Err(EmbedError::NonFiniteVector {
                index: row,
                text: String::new(),
            });
        }
        let array =
            ndarray::ArrayView2::from_shape((self.len(), self.dim), &self.data).map_err(|err| {
                crate::files::WriteError::Content {
                    path: path.to_path_buf(),
                    message: err.to_string(),
                }
            })?;
        crate::files::write_atomic(path, |out| {
            ndarray_npy::WriteNpyExt::write_npy(&array, out).map_err(std::io::Error::other)
        })?;
        Ok(())
    }

    /// Reads a `.npy` file of `<f4` values, shape `[n, dim]`.
    pub fn read_npy(path: &Path) -> Result<Embeddings, EmbedError> {
        let file = std::fs::File::open(path).map_err(EmbedError::io(path))?;
        let array: ndarray::Array2<f32> =
            ndarray_npy::ReadNpyExt::read_npy(file).map_err(|err| EmbedError::ModelFile {
                path: path.to_path_buf(),
                message: format!(
                    "not a float32 [n, dim] .npy file ({err}); crossrec reads one float32 row \
                     per item, so convert it with NumPy: \
                     np.save(\"out.npy\", a.astype(\"float32\").reshape(len(a), -1))"
                ),
            })?;
        let dim = array.ncols().max(1);
        // A C-order file is read in standard layout: keep its buffer
        // rather than copying a matrix that may take gigabytes.
        let data = if array.is_standard_layout() {
            let (data, offset) = array.into_raw_vec_and_offset();
            match offset {
                Some(0) | None => data,
                Some(start) => data[start..].to_vec(),
            }
        } else {
            array.as_standard_layout().iter().copied().collect()
        };
        Ok(Embeddings::new(dim, data))
    }
}
