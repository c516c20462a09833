//! One export as named, typed columns, and its two encodings: CSV (a header
//! row; a vector column spreads over `v0`…`v{dim-1}`, an absent value is an
//! empty field) and Parquet (Snappy-compressed; text as UTF-8 strings, whole
//! numbers as int64, reals as float32, a vector as one fixed-size list of
//! float32, an absent value as null). Every export of crossrec is built once
//! as a [`Table`], so its CSV and Parquet forms cannot drift apart.

use std::io::Write;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// The values of one column, one per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Text, `None` where the row has none.
    Text(Vec<Option<String>>),
    /// Whole numbers (ranks, row numbers).
    Int(Vec<i64>),
    /// Reals, `None` where the row has none (a component that does not apply).
    Real(Vec<Option<f32>>),
    /// One vector of `dim` values per row, row after row.
    Vector {
        /// Values per row.
        dim: usize,
        /// `rows × dim` values.
        values: Vec<f32>,
    },
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Real(v) => v.len(),
            Values::Vector { dim, values } => values.len().checked_div(*dim).unwrap_or(0),
        }
    }
}

/// Named columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    columns: Vec<(String, Values)>,
    /// Key–value pairs stored in a Parquet file's schema (not in CSV).
    metadata: std::collections::HashMap<String, String>,
}

impl Table {
    /// An empty table (no columns).
    pub fn new() -> Table {
        Table::default()
    }

    /// Adds a column; every column must have as many rows as the first.
    pub fn with(mut self, name: &str, values: Values) -> Table {
        debug_assert!(
            self.columns
                .first()
                .is_none_or(|(_, v)| v.len() == values.len()),
            "column '{name}' has another row count"
        );
        self.columns.push((name.to_string(), values));
        self
    }

    /// Adds a key–value pair to the Parquet schema's metadata.
    pub fn with_metadata(mut self, key: &str, value: &str) -> Table {
        self.metadata.insert(key.to_string(), value.to_string());
        self
    }

    /// Adds a text column where every row has a value.
    pub fn with_text(self, name: &str, values: impl IntoIterator<Item = String>) -> Table {
        self.with(name, Values::Text(values.into_iter().map(Some).collect()))
    }

    /// Rows in the table.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, v)| v.len())
    }

    /// The CSV header: column names, a vector column as `v0`…`v{dim-1}`.
    fn csv_header(&self) -> Vec<String> {
        let mut header = Vec::new();
        for (name, values) in &self.columns {
            match values {
                Values::Vector { dim, .. } => header.extend((0..*dim).map(|i| format!("v{i}"))),
                _ => header.push(name.clone()),
            }
        }
        header
    }

    /// Writes the table as CSV with a header row.
    pub fn write_csv(&self, out: impl Write) -> csv::Result<()> {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(self.csv_header())?;
        let mut record: Vec<String> = Vec::new();
        for row in 0..self.rows() {
            record.clear();
            for (_, values) in &self.columns {
                match values {
                    Values::Text(v) => record.push(v[row].clone().unwrap_or_default()),
                    Values::Int(v) => record.push(v[row].to_string()),
                    Values::Real(v) => {
                        record.push(v[row].map_or_else(String::new, |x| x.to_string()))
                    }
                    Values::Vector { dim, values } => record.extend(
                        values[row * dim..(row + 1) * dim]
                            .iter()
                            .map(f32::to_string),
                    ),
                }
            }
            writer.write_record(&record)?;
        }
        writer.flush()?;
        Ok(())
    }

    /// The table without column `name`.
    pub fn without(mut self, name: &str) -> Table {
        self.columns.retain(|(n, _)| n != name);
        self
    }

    /// Writes the table as a RecBole atomic file: tab-separated, every
    /// column a `token` field (`name:token` in the header), no quoting (a
    /// tab or line break in a value becomes a space).
    pub fn write_recbole(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let clean = |text: &str| -> String {
            text.chars()
                .map(|c| {
                    if matches!(c, '\t' | '\n' | '\r') {
                        ' '
                    } else {
                        c
                    }
                })
                .collect()
        };
        let header: Vec<String> = self
            .columns
            .iter()
            .map(|(name, _)| format!("{}:token", clean(name)))
            .collect();
        writeln!(out, "{}", header.join("\t"))?;
        for row in 0..self.rows() {
            let fields: Vec<String> = self
                .columns
                .iter()
                .map(|(_, values)| match values {
                    Values::Text(v) => clean(v[row].as_deref().unwrap_or_default()),
                    Values::Int(v) => v[row].to_string(),
                    Values::Real(v) => v[row].map_or_else(String::new, |x| x.to_string()),
                    Values::Vector { dim, values } => values[row * dim..(row + 1) * dim]
                        .iter()
                        .map(f32::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                })
                .collect();
            writeln!(out, "{}", fields.join("\t"))?;
        }
        Ok(())
    }

    /// The table as one Arrow record batch.
    fn record_batch(&self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for (name, values) in &self.columns {
            let (data_type, nullable, array): (DataType, bool, ArrayRef) = match values {
                Values::Text(v) => (
                    DataType::Utf8,
                    v.iter().any(Option::is_none),
                    Arc::new(StringArray::from_iter(v.iter().map(|s| s.as_deref()))),
                ),
                Values::Int(v) => (
                    DataType::Int64,
                    false,
                    Arc::new(Int64Array::from(v.clone())),
                ),
                Values::Real(v) => (
                    DataType::Float32,
                    v.iter().any(Option::is_none),
                    Arc::new(Float32Array::from(v.clone())),
                ),
                Values::Vector { dim, values } => {
                    let item = Arc::new(Field::new("item", DataType::Float32, false));
                    let list = FixedSizeListArray::try_new(
                        item.clone(),
                        *dim as i32,
                        Arc::new(Float32Array::from(values.clone())),
                        None,
                    )?;
                    (
                        DataType::FixedSizeList(item, *dim as i32),
                        false,
                        Arc::new(list),
                    )
                }
            };
            fields.push(Field::new(name, data_type, nullable));
            arrays.push(array);
        }
        let schema = Schema::new(fields).with_metadata(self.metadata.clone());
        RecordBatch::try_new(Arc::new(schema), arrays)
    }

    /// Writes the table as a Parquet file (Snappy compression).
    pub fn write_parquet(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let invalid = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
        let batch = self.record_batch().map_err(|e| invalid(&e))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        // The writer needs a `Send` sink; the file is assembled in memory.
        let mut bytes = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties))
            .map_err(|e| invalid(&e))?;
        writer.write(&batch).map_err(|e| invalid(&e))?;
        writer.close().map_err(|e| invalid(&e))?;
        out.write_all(&bytes)
    }
}
