//! Vectors made elsewhere, for a domain whose manifest entry names
//! `embeddings = FILE` instead of being encoded: a float32 `[n, dim]` `.npy`
//! (rows in the items file's order, or named by an ids CSV), or a Parquet
//! file with an id column and a vector column (a list or fixed-size list of
//! float32 or float64; an optional `domain` column lets one file hold every
//! domain). Every item needs exactly one finite, non-zero vector; the checks
//! name the file and the line or row at fault, and vectors are scaled to unit
//! length (how many needed it is reported).

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, Float32Array};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::data::{Domain, DomainSpec, Manifest, ParquetTable, Table, TextEncoding};
use crate::embed::{EmbedError, Embeddings};

/// A vectors file that cannot be used: the file (or its ids file) and what
/// is wrong with it, with what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct VectorsError {
    /// The vectors file, or its ids file.
    pub path: PathBuf,
    /// What is wrong and what was expected.
    pub message: String,
}

impl From<VectorsError> for EmbedError {
    /// A vectors file's error where encoding's errors are reported.
    fn from(e: VectorsError) -> EmbedError {
        EmbedError::Vectors {
            path: e.path,
            message: e.message,
        }
    }
}

/// What reading one domain's vectors file did, for the load report.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorsRead {
    /// The file read.
    pub path: PathBuf,
    /// Vectors read (one per item).
    pub rows: usize,
    /// What the user should know (rows scaled to unit length, …).
    pub notes: Vec<String>,
}

/// The id column a Parquet vector file is read by, unless the manifest
/// names another (`embeddings_id_column`).
pub const DEFAULT_ID_COLUMN: &str = "item_id";
/// The vector column of a Parquet vector file, unless the manifest names
/// another (`embeddings_column`).
pub const DEFAULT_VECTOR_COLUMN: &str = "embedding";

/// Where one domain's vectors come from, as its manifest entry says.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorFile {
    /// The vectors.
    pub path: PathBuf,
    /// For a `.npy`: the CSV naming each row's item (`item_id` column).
    pub ids: Option<PathBuf>,
    /// For Parquet: the column of item ids.
    pub id_column: String,
    /// For Parquet: the column of vectors.
    pub vector_column: String,
}

/// One row of a vector file: where it is (for messages) and the item it names.
struct NamedRow {
    at: String,
    id: String,
}

impl VectorFile {
    /// The vector file of `spec` (whose `embeddings` is `file`), its paths
    /// resolved against the manifest's folder.
    pub fn of(manifest: &Manifest, spec: &DomainSpec, file: &Path) -> VectorFile {
        VectorFile {
            path: manifest.resolve(file),
            ids: spec.embeddings_ids.as_ref().map(|p| manifest.resolve(p)),
            id_column: spec
                .embeddings_id_column
                .clone()
                .unwrap_or_else(|| DEFAULT_ID_COLUMN.into()),
            vector_column: spec
                .embeddings_column
                .clone()
                .unwrap_or_else(|| DEFAULT_VECTOR_COLUMN.into()),
        }
    }

    fn error(&self, path: &Path, message: String) -> VectorsError {
        VectorsError {
            path: path.to_path_buf(),
            message,
        }
    }

    /// Reads and checks the vectors of `domain`, one unit-length row per
    /// item in item order, with what was done for the report.
    pub fn read(&self, domain: &Domain) -> Result<(Embeddings, VectorsRead), VectorsError> {
        let (matrix, named) = if crate::data::is_parquet(&self.path) {
            if let Some(ids) = &self.ids {
                return Err(self.error(
                    ids,
                    "a Parquet vector file names its rows itself (its id column); remove \
                     embeddings_ids"
                        .into(),
                ));
            }
            let (matrix, named) = self.read_parquet(&domain.name)?;
            (matrix, Some(named))
        } else {
            let matrix = Embeddings::read_npy(&self.path).map_err(|e| match e {
                EmbedError::ModelFile { message, .. } => self.error(&self.path, message),
                other => self.error(&self.path, other.to_string()),
            })?;
            let named = match &self.ids {
                None => None,
                Some(ids) => Some(self.read_ids(ids)?),
            };
            (matrix, named)
        };
        // Where each matrix row is, for messages: a Parquet file's own row
        // number, or the `.npy` row index (from 0, as numpy counts).
        let labels: Vec<String> = match (&named, crate::data::is_parquet(&self.path)) {
            (Some(named), true) => named.iter().map(|n| n.at.clone()).collect(),
            _ => (0..matrix.len()).map(|r| format!("row {r}")).collect(),
        };
        let rows = match named {
            None => {
                let n = domain.items.len();
                if matrix.len() != n {
                    return Err(self.error(
                        &self.path,
                        format!(
                            "{} rows, but domain '{}' has {n} items ({}); give one row per item \
                             in the items file's order, or name the rows with embeddings_ids",
                            matrix.len(),
                            domain.name,
                            domain.file.display()
                        ),
                    ));
                }
                (0..n).collect()
            }
            Some(named) => {
                let source = self.ids.as_deref().unwrap_or(&self.path);
                if named.len() != matrix.len() {
                    return Err(self.error(
                        source,
                        format!(
                            "{} ids for {} rows of vectors; expected one id per row",
                            named.len(),
                            matrix.len()
                        ),
                    ));
                }
                rows_by_id(domain, &named).map_err(|m| self.error(source, m))?
            }
        };
        self.unit_rows(domain, matrix, &rows, &labels)
    }

    /// The `item_id` column of the ids CSV, one id per row of the `.npy`.
    fn read_ids(&self, ids: &Path) -> Result<Vec<NamedRow>, VectorsError> {
        let bad = |e: crate::data::DataError| self.error(ids, e.to_string());
        let table = Table::open(ids, None, TextEncoding::Utf8).map_err(bad)?;
        let column = table.column(DEFAULT_ID_COLUMN, "item id").map_err(bad)?;
        let at = table.origin();
        table
            .rows(&[column])
            .map(|row| {
                let row = row.map_err(bad)?;
                Ok(NamedRow {
                    at: at.name_row(row.line),
                    id: row.fields.get(column).unwrap_or("").trim().to_string(),
                })
            })
            .collect()
    }

    /// The vectors of a Parquet file and the item each row names; with a
    /// `domain` column, only the rows of `domain`.
    fn read_parquet(&self, domain: &str) -> Result<(Embeddings, Vec<NamedRow>), VectorsError> {
        let path = &self.path;
        let bad = |message: String| self.error(path, message);
        // The ids (and the domain column) through the data layer's reader.
        // The data layer's errors name the file; this one names it once.
        let message = |e: crate::data::DataError| match e {
            crate::data::DataError::Parquet { message, .. } => message,
            other => other.to_string(),
        };
        // Only the ids and domains here; the vectors are read on their own.
        let table = ParquetTable::open_columns(path, &[self.id_column.as_str(), "domain"])
            .map_err(|e| bad(message(e)))?;
        let id_column = table
            .column(&self.id_column, "item id")
            .map_err(|e| bad(format!("{}; name it with embeddings_id_column", message(e))))?;
        let domain_column = table
            .optional_column("domain", "domain name")
            .map_err(|e| bad(message(e)))?;
        let mut keep = Vec::new();
        let mut named = Vec::new();
        let mut domains_seen = std::collections::BTreeSet::new();
        let wanted: Vec<usize> = std::iter::once(id_column).chain(domain_column).collect();
        for row in table.rows(&wanted) {
            let row = row.map_err(|e| bad(message(e)))?;
            let mine = match domain_column {
                None => true,
                Some(c) => {
                    let name = row.fields.get(c).unwrap_or("");
                    if name.trim().is_empty() {
                        // A null (or empty) domain belongs to no domain:
                        // say which row, not "an item has no vector".
                        return Err(bad(format!(
                            "row {}: the domain column is empty (null); every row needs the \
                             name of its domain",
                            row.line
                        )));
                    }
                    if domains_seen.len() < 20 {
                        domains_seen.insert(name.to_string());
                    }
                    name == domain
                }
            };
            keep.push(mine);
            if mine {
                named.push(NamedRow {
                    at: format!("row {}", row.line),
                    id: row.fields.get(id_column).unwrap_or("").trim().to_string(),
                });
            }
        }
        if named.is_empty() && domain_column.is_some() {
            return Err(bad(format!(
                "no row has '{domain}' in its domain column (found: {})",
                domains_seen.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        let matrix = self.parquet_vectors(&keep)?;
        Ok((matrix, named))
    }

    /// The rows of the vector column where `keep` is true, as one matrix.
    fn parquet_vectors(&self, keep: &[bool]) -> Result<Embeddings, VectorsError> {
        let path = &self.path;
        let bad = |message: String| self.error(path, message);
        let file = File::open(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| bad(crate::data::parquet_open_error(path, &e)))?;
        let schema = builder.schema().clone();
        let Some((index, field)) = schema.column_with_name(&self.vector_column) else {
            let found: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(bad(format!(
                "no vector column '{}' (found: {}); name it with embeddings_column",
                self.vector_column,
                found.join(", ")
            )));
        };
        if !matches!(
            field.data_type(),
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
        ) {
            return Err(bad(format!(
                "column '{}' holds {}, not vectors; expected a list of float32 or float64 per row",
                self.vector_column,
                field.data_type()
            )));
        }
        let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [index]);
        let reader = builder
            .with_projection(mask)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        let (mut data, mut dim, mut row) = (Vec::new(), None::<usize>, 0usize);
        for batch in reader {
            let batch = batch.map_err(|e| {
                bad(format!(
                    "cannot read the vectors: {}",
                    crate::data::parquet_read_error(&e)
                ))
            })?;
            let (values, ranges) = list_values(batch.column(0)).map_err(|e| bad(e.to_string()))?;
            for range in ranges {
                row += 1;
                if !keep.get(row - 1).copied().unwrap_or(false) {
                    continue;
                }
                let Some((start, end)) = range else {
                    return Err(bad(format!("row {row} has no vector (null)")));
                };
                match dim {
                    None if end == start => {
                        return Err(bad(format!("row {row} holds an empty vector")));
                    }
                    None => dim = Some(end - start),
                    Some(d) if d != end - start => {
                        return Err(bad(format!(
                            "row {row} has {} values, earlier rows {d}; every vector needs \
                             the same dimension",
                            end - start
                        )));
                    }
                    Some(_) => {}
                }
                if let Some(j) = (start..end).find(|&i| values.is_null(i)) {
                    return Err(bad(format!(
                        "row {row} has a null at position {}; every value must be a number",
                        j - start
                    )));
                }
                data.extend_from_slice(&values.values()[start..end]);
            }
        }
        match dim {
            Some(dim) => Ok(Embeddings::new(dim, data)),
            None => Err(bad(
                "no vectors: the file has no rows for this domain".into()
            )),
        }
    }

    /// Checks every item's row of `matrix` (finite, non-zero) and scales
    /// it to unit length; rows already in item order are scaled in place.
    fn unit_rows(
        &self,
        domain: &Domain,
        matrix: Embeddings,
        rows: &[usize],
        labels: &[String],
    ) -> Result<(Embeddings, VectorsRead), VectorsError> {
        let (path, n, dim) = (&self.path, domain.items.len(), matrix.dim());
        let in_order = rows.iter().enumerate().all(|(i, &r)| i == r) && matrix.len() == n;
        let mut data = if in_order {
            matrix.into_vec()
        } else {
            let mut data = Vec::with_capacity(n * dim);
            rows.iter()
                .for_each(|&r| data.extend_from_slice(matrix.row(r)));
            data
        };
        let (mut scaled, mut zero) = (0usize, Vec::new());
        for (item, &row) in rows.iter().enumerate() {
            let v = &mut data[item * dim..(item + 1) * dim];
            if let Some(j) = v.iter().position(|x| !x.is_finite()) {
                return Err(self.error(
                    path,
                    format!(
                        "{} (item '{}') holds {} at column {j}; every value must be \
                         finite",
                        labels[row], domain.items[item].id, v[j]
                    ),
                ));
            }
            let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            if norm == 0.0 {
                zero.push(format!("{} ('{}')", labels[row], domain.items[item].id));
                continue;
            }
            // Rows already of unit length (to float precision) are kept bit
            // for bit, so vectors crossrec exported come back exactly.
            if (norm - 1.0).abs() > 1e-5 {
                scaled += 1;
                v.iter_mut()
                    .for_each(|x| *x = (f64::from(*x) / norm) as f32);
            }
        }
        if !zero.is_empty() {
            return Err(self.error(
                path,
                format!(
                    "{} zero vectors (no direction, so no similarity): {}",
                    zero.len(),
                    list(&zero)
                ),
            ));
        }
        let mut notes = vec![format!(
            "{}: {n} vectors of {dim} dimensions from {} (not encoded)",
            domain.name,
            path.display()
        )];
        if scaled > 0 {
            notes.push(format!(
                "{}: {scaled} of {n} vectors were not unit length and were scaled to it",
                domain.name
            ));
        }
        let read = VectorsRead {
            path: path.clone(),
            rows: n,
            notes,
        };
        Ok((Embeddings::new(dim, data), read))
    }
}

/// The float32 values under a list column, and each row's range of them
/// (`None` for a null row).
type ListValues = (Float32Array, Vec<Option<(usize, usize)>>);

/// Why a vector column cannot be read as float vectors.
#[derive(Debug, thiserror::Error)]
enum ColumnError {
    /// The lists hold something other than floats.
    #[error("the vectors hold {0}; expected float32 or float64 values")]
    NotFloats(DataType),
    /// The column is not a list per row.
    #[error("expected a list of floats per row, found {0}")]
    NotList(DataType),
    /// Arrow could not cast the floats.
    #[error(transparent)]
    Cast(#[from] arrow_schema::ArrowError),
}

fn list_values(column: &ArrayRef) -> Result<ListValues, ColumnError> {
    let as_f32 = |values: &ArrayRef| match values.data_type() {
        DataType::Float32 | DataType::Float64 | DataType::Float16 => {
            arrow_cast::cast(values, &DataType::Float32)
                .map(|a| a.as_primitive::<arrow_array::types::Float32Type>().clone())
                .map_err(ColumnError::from)
        }
        other => Err(ColumnError::NotFloats(other.clone())),
    };
    let valid = |r: usize| column.is_valid(r);
    match column.data_type() {
        DataType::FixedSizeList(_, size) => {
            let list = column.as_fixed_size_list();
            let size = *size as usize;
            let ranges = (0..list.len())
                .map(|r| {
                    let start = list.value_offset_at(r);
                    valid(r).then_some((start, start + size))
                })
                .collect();
            Ok((as_f32(list.values())?, ranges))
        }
        DataType::List(_) => {
            let list = column.as_list::<i32>();
            let offsets = list.value_offsets();
            let ranges = (0..list.len())
                .map(|r| valid(r).then_some((offsets[r] as usize, offsets[r + 1] as usize)))
                .collect();
            Ok((as_f32(list.values())?, ranges))
        }
        DataType::LargeList(_) => {
            let list = column.as_list::<i64>();
            let offsets = list.value_offsets();
            let ranges = (0..list.len())
                .map(|r| valid(r).then_some((offsets[r] as usize, offsets[r + 1] as usize)))
                .collect();
            Ok((as_f32(list.values())?, ranges))
        }
        other => Err(ColumnError::NotList(other.clone())),
    }
}

/// The row of the vectors for each item of `domain`, from the id each row
/// names: every item exactly once, no unknown ids.
fn rows_by_id(domain: &Domain, named: &[NamedRow]) -> Result<Vec<usize>, String> {
    let mut rows: Vec<Option<usize>> = vec![None; domain.items.len()];
    let (mut unknown, mut repeated) = (Vec::new(), Vec::new());
    for (i, row) in named.iter().enumerate() {
        match domain.item_index(&row.id) {
            None if row.id.is_empty() => unknown.push(format!("{}: empty or null id", row.at)),
            None => unknown.push(format!("{}: '{}'", row.at, row.id)),
            Some(item) => match rows[item as usize] {
                Some(_) => repeated.push(format!("{}: '{}'", row.at, row.id)),
                None => rows[item as usize] = Some(i),
            },
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "{} ids are not items of domain '{}': {}",
            unknown.len(),
            domain.name,
            list(&unknown)
        ));
    }
    if !repeated.is_empty() {
        return Err(format!(
            "{} ids appear twice: {}",
            repeated.len(),
            list(&repeated)
        ));
    }
    let missing: Vec<String> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_none())
        .map(|(i, _)| format!("'{}'", domain.items[i].id))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} items of domain '{}' have no vector: {}",
            missing.len(),
            domain.name,
            list(&missing)
        ));
    }
    Ok(rows.into_iter().flatten().collect())
}

/// The first ten of `v`, then "…".
fn list(v: &[String]) -> String {
    let mut s = v.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > 10 {
        s.push_str(", …");
    }
    s
}
