//! Reading one Parquet file as a table of text fields, so that items,
//! interactions and user texts may be Parquet with the same column mapping,
//! validation and load report as CSV. Each column the loader asks for is
//! cast to text by arrow-cast (strings, dictionary-encoded strings, integers,
//! reals, booleans, dates and times); a null is an empty field; rows are
//! numbered from 1 in messages. A column that cannot be text (a list, say a
//! vector column) may be present, but not mapped.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::DataError;
use super::csv_file::{Row, printable};

/// A Parquet file held in memory as Arrow record batches (every column, or
/// the ones asked for).
#[derive(Debug)]
pub struct ParquetTable {
    path: PathBuf,
    headers: Vec<String>,
    types: Vec<DataType>,
    /// Per header, its column in `batches` (`None`: not read).
    loaded: Vec<Option<usize>>,
    batches: Vec<RecordBatch>,
    rows: u64,
}

/// Whether a column of `data_type` holds one text-like value per row
/// (strings, numbers, booleans, dates, times): what a column mapping may
/// name. Lists, structs and maps could be printed, but not meant as a text.
fn is_text_like(data_type: &DataType) -> bool {
    let scalar = match data_type {
        DataType::Dictionary(_, values) => !values.is_nested(),
        other => !other.is_nested(),
    };
    scalar && arrow_cast::can_cast_types(data_type, &DataType::Utf8)
}

/// One column of a record batch as text, `None` for a null: strings as
/// they are (bytes that are not UTF-8 are an error, not a null);
/// whole-valued reals without a fraction (an id column that pandas turned
/// into float64 reads "7", as in the other files, not "7.0"); timestamps and
/// dates as Unix seconds, which is what the loader reads as a timestamp;
/// anything else as arrow-cast writes it.
fn column_text(column: &ArrayRef, first_row: u64) -> Result<Vec<Option<String>>, ArrowError> {
    use arrow_array::types::{Date32Type, Float32Type, Float64Type, Int64Type};
    use arrow_schema::TimeUnit;
    let rows = 0..column.len();
    let whole = |x: f64| x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15;
    Ok(match column.data_type() {
        DataType::Float16 | DataType::Float32 => {
            let values = arrow_cast::cast(column, &DataType::Float32)?;
            let values = values.as_primitive::<Float32Type>();
            rows.map(|r| {
                values.is_valid(r).then(|| {
                    let x = values.value(r);
                    if whole(f64::from(x)) {
                        format!("{}", x as i64)
                    } else {
                        x.to_string()
                    }
                })
            })
            .collect()
        }
        DataType::Float64 => {
            let values = column.as_primitive::<Float64Type>();
            rows.map(|r| {
                values.is_valid(r).then(|| {
                    let x = values.value(r);
                    if whole(x) {
                        format!("{}", x as i64)
                    } else {
                        x.to_string()
                    }
                })
            })
            .collect()
        }
        DataType::Timestamp(..) | DataType::Date64 => {
            let per_second = match column.data_type() {
                DataType::Timestamp(TimeUnit::Second, _) => 1,
                DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000_000,
                DataType::Timestamp(TimeUnit::Nanosecond, _) => 1_000_000_000,
                _ => 1_000,
            };
            let values = arrow_cast::cast(column, &DataType::Int64)?;
            let values = values.as_primitive::<Int64Type>();
            rows.map(|r| {
                values
                    .is_valid(r)
                    .then(|| values.value(r).div_euclid(per_second).to_string())
            })
            .collect()
        }
        DataType::Date32 => {
            let values = column.as_primitive::<Date32Type>();
            rows.map(|r| {
                values
                    .is_valid(r)
                    .then(|| (i64::from(values.value(r)) * 86_400).to_string())
            })
            .collect()
        }
        DataType::Binary | DataType::LargeBinary => {
            let utf8 = |r: usize, bytes: &[u8]| {
                String::from_utf8(bytes.to_vec()).map_err(|e| {
                    ArrowError::InvalidArgumentError(format!(
                        "row {}: not UTF-8 text (byte {} is not); re-save the column as UTF-8 \
                         strings",
                        first_row + r as u64 + 1,
                        e.utf8_error().valid_up_to() + 1
                    ))
                })
            };
            let values: Vec<Option<&[u8]>> = if let Some(b) = column.as_binary_opt::<i32>() {
                rows.map(|r| b.is_valid(r).then(|| b.value(r))).collect()
            } else {
                let b = column.as_binary::<i64>();
                rows.map(|r| b.is_valid(r).then(|| b.value(r))).collect()
            };
            values
                .into_iter()
                .enumerate()
                .map(|(r, v)| v.map(|bytes| utf8(r, bytes)).transpose())
                .collect::<Result<_, _>>()?
        }
        _ => {
            let options = arrow_cast::CastOptions {
                safe: false,
                ..Default::default()
            };
            let text = arrow_cast::cast_with_options(column, &DataType::Utf8, &options)?;
            let text = text.as_string::<i32>();
            rows.map(|r| text.is_valid(r).then(|| text.value(r).to_string()))
                .collect()
        }
    })
}

/// Why `path` could not be opened as Parquet, in the user's terms: not
/// Parquet at all (text, say), or a Parquet file cut short.
pub fn open_error(path: &Path, error: &dyn std::fmt::Display) -> String {
    use std::io::Read;
    let mut head = [0u8; 4];
    let read = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    if error.to_string().contains("encrypted footer") {
        "an encrypted Parquet file (Parquet modular encryption), which crossrec cannot read; \
         write it again without encryption"
            .to_string()
    } else if read == 4 && &head == b"PAR1" {
        format!(
            "not a readable Parquet file ({error}); a file cut short (an interrupted copy or \
             download) looks like this"
        )
    } else if read > 0
        && head[..read]
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        "not a Parquet file (it does not start with PAR1, and it starts like text): if it \
         is CSV, give it a .csv name"
            .to_string()
    } else {
        format!("not a Parquet file (it does not start with PAR1): {error}")
    }
}

/// What a Parquet read error means for the user: a compression codec this
/// build leaves out (brotli) says how to re-save the file; anything else is
/// most likely damage.
pub fn read_error(error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    if text.contains("Disabled feature") || text.contains("not supported") {
        format!(
            "{text}: the file is compressed with a codec crossrec does not read (it reads \
             Snappy, Zstandard, LZ4 and gzip); re-save it with one of those, e.g. pandas \
             to_parquet(path, compression=\"snappy\")"
        )
    } else {
        format!("{text}; the file may be damaged")
    }
}

/// Whether `path` is a Parquet file: named `.parquet`/`.pq`, or starting
/// with Parquet's magic bytes `PAR1`.
pub fn is_parquet(path: &Path) -> bool {
    use std::io::Read;
    let named = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"));
    let mut magic = [0u8; 4];
    named
        || File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok_and(|()| &magic == b"PAR1")
}

impl ParquetTable {
    /// Reads every row group of `path`.
    pub fn open(path: &Path) -> Result<ParquetTable, DataError> {
        Self::open_limited(path, None, None)
    }

    /// Reads the first `rows` rows of `path` (for a preview).
    pub fn open_head(path: &Path, rows: usize) -> Result<ParquetTable, DataError> {
        Self::open_limited(path, Some(rows), None)
    }

    /// Reads only the columns named `only` (those it has); the others are
    /// known by name and type, and their fields read as empty.
    pub fn open_columns(path: &Path, only: &[&str]) -> Result<ParquetTable, DataError> {
        Self::open_limited(path, None, Some(only))
    }

    fn open_limited(
        path: &Path,
        limit: Option<usize>,
        only: Option<&[&str]>,
    ) -> Result<ParquetTable, DataError> {
        let bad = |message: String| DataError::Parquet {
            path: path.to_path_buf(),
            message,
        };
        let file = File::open(path).map_err(|error| DataError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| bad(open_error(path, &e)))?;
        let schema = builder.schema().clone();
        let builder = match limit {
            Some(n) => builder.with_limit(n),
            None => builder,
        };
        let read: Vec<usize> = (0..schema.fields().len())
            .filter(|&c| only.is_none_or(|names| names.contains(&schema.field(c).name().as_str())))
            .collect();
        let mut loaded = vec![None; schema.fields().len()];
        for (at, &c) in read.iter().enumerate() {
            loaded[c] = Some(at);
        }
        let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), read);
        let builder = builder.with_projection(mask);
        let reader = builder
            .build()
            .map_err(|e| bad(format!("cannot read its rows: {e}")))?;
        let mut batches = Vec::new();
        let mut rows = 0u64;
        for batch in reader {
            let batch = batch.map_err(|e| {
                bad(format!(
                    "cannot read the rows after row {rows}: {}",
                    read_error(&e)
                ))
            })?;
            rows += batch.num_rows() as u64;
            batches.push(batch);
        }
        if schema.fields().is_empty() {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(ParquetTable {
            path: path.to_path_buf(),
            headers: schema.fields().iter().map(|f| f.name().clone()).collect(),
            types: schema
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect(),
            loaded,
            batches,
            rows,
        })
    }

    /// The file this table was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The column names.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Data rows in the file.
    pub fn row_count(&self) -> u64 {
        self.rows
    }

    /// The index of column `name`, or an error naming the file, the column,
    /// its `role` and the columns that exist; a column whose values cannot be
    /// read as text is an error naming its type.
    pub fn column(&self, name: &str, role: &'static str) -> Result<usize, DataError> {
        let mut at = self.headers.iter().enumerate().filter(|(_, h)| *h == name);
        let i = match (at.next(), at.next()) {
            (Some((i, _)), None) => i,
            (Some((first, _)), Some((second, _))) => {
                return Err(DataError::Parquet {
                    path: self.path.clone(),
                    message: format!(
                        "the file names column '{}' twice (columns {} and {}); rename one",
                        printable(name),
                        first + 1,
                        second + 1
                    ),
                });
            }
            _ => {
                return Err(DataError::Parquet {
                    path: self.path.clone(),
                    message: format!(
                        "no column '{}' ({role}); the file has: {}",
                        printable(name),
                        printable(&crate::text::list_some(&self.headers, 30))
                    ),
                });
            }
        };
        if !is_text_like(&self.types[i]) {
            return Err(DataError::Parquet {
                path: self.path.clone(),
                message: format!(
                    "column '{}' ({role}) holds {}, which cannot be read as text; map a \
                     column of strings or numbers",
                    printable(name),
                    self.types[i]
                ),
            });
        }
        Ok(i)
    }

    /// The index of column `name` if the file has it; `None` for the empty
    /// name, which means the column is not used.
    pub fn optional_column(
        &self,
        name: &str,
        role: &'static str,
    ) -> Result<Option<usize>, DataError> {
        if !name.is_empty() && self.headers.iter().any(|h| h == name) {
            self.column(name, role).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The first `n` rows, every column that can be text (others show
    /// their type), for previews.
    pub fn preview(&self, n: usize) -> Vec<Vec<String>> {
        let readable: Vec<usize> = (0..self.headers.len())
            .filter(|&c| is_text_like(&self.types[c]))
            .collect();
        self.rows(&readable)
            .take(n)
            .filter_map(Result::ok)
            .map(|row| {
                (0..self.headers.len())
                    .map(|c| match readable.contains(&c) {
                        true => row.fields.get(c).unwrap_or("").to_string(),
                        false => format!("({})", self.types[c]),
                    })
                    .collect()
            })
            .collect()
    }

    /// Every row in file order, numbered from 1, with the fields of the
    /// `wanted` columns as text (other fields are empty).
    pub fn rows(&self, wanted: &[usize]) -> impl Iterator<Item = Result<Row, DataError>> + '_ {
        let wanted = wanted.to_vec();
        let width = self.headers.len();
        let mut first_row = 0u64;
        self.batches.iter().flat_map(move |batch| {
            let start = first_row;
            first_row += batch.num_rows() as u64;
            let columns: Result<Vec<Option<Vec<Option<String>>>>, DataError> = (0..width)
                .map(|c| {
                    let Some(at) = self.loaded[c].filter(|_| wanted.contains(&c)) else {
                        return Ok(None);
                    };
                    column_text(batch.column(at), start)
                        .map(Some)
                        .map_err(|e| DataError::Parquet {
                            path: self.path.clone(),
                            message: match e {
                                // A message that already names its row.
                                ArrowError::InvalidArgumentError(m) if m.starts_with("row ") => {
                                    format!("column '{}', {m}", printable(&self.headers[c]))
                                }
                                e => format!(
                                    "column '{}' in rows {}–{}: {e}",
                                    printable(&self.headers[c]),
                                    start + 1,
                                    start + batch.num_rows() as u64
                                ),
                            },
                        })
                })
                .collect();
            let batch_rows = batch.num_rows();
            let rows: Box<dyn Iterator<Item = Result<Row, DataError>>> = match columns {
                Err(e) => Box::new(std::iter::once(Err(e))),
                Ok(columns) => Box::new((0..batch_rows).map(move |r| {
                    let fields: Vec<&str> = columns
                        .iter()
                        .map(|column| column.as_ref().and_then(|c| c[r].as_deref()).unwrap_or(""))
                        .collect();
                    let line = start + r as u64 + 1;
                    Ok(Row {
                        line,
                        end_line: line,
                        unclosed_quote: false,
                        fields: csv::StringRecord::from(fields),
                    })
                })),
            };
            rows
        })
    }
}
