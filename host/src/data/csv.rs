//! A minimal RFC 4180 CSV reader and writer for the lits-png index files.
//!
//! The index files are small (one row per slice) and simple (pandas `to_csv` output: commas,
//! optional double quotes, `""` escapes, LF or CRLF). A full CSV crate would be a dependency for
//! a few dozen lines; this module also turns every problem into a [`DataError`] that names the
//! file, the line and the column.

use super::error::DataError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A parsed CSV table: a header and rows of fields, with the source line of each row.
#[derive(Debug, Clone)]
pub struct Table {
    path: PathBuf,
    columns: HashMap<String, usize>,
    rows: Vec<(usize, Vec<String>)>,
}

/// Splits `text` into records of fields, honouring quotes (which may contain commas and newlines).
/// Returns `(line number where the record starts, fields)`; blank lines are skipped.
fn parse_records(path: &Path, text: &str) -> Result<Vec<(usize, Vec<String>)>, DataError> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut line = 1usize;
    let mut record_line = 1usize;
    let mut chars = text.chars().peekable();
    // A record is "blank" if it has no fields and no content: skip those.
    let mut touched = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                in_quotes = true;
                touched = true;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                touched = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                if touched || !field.is_empty() {
                    fields.push(std::mem::take(&mut field));
                    records.push((record_line, std::mem::take(&mut fields)));
                }
                touched = false;
                line += 1;
                record_line = line;
            }
            _ => {
                field.push(c);
                touched = true;
            }
        }
    }
    if in_quotes {
        return Err(DataError::BadCsv {
            path: path.to_path_buf(),
            line: record_line,
            detail: "unterminated quoted field".into(),
        });
    }
    if touched || !field.is_empty() {
        fields.push(field);
        records.push((record_line, fields));
    }
    Ok(records)
}

impl Table {
    /// Parses CSV `text` read from `path` (the path is only used in error messages).
    pub fn parse(path: &Path, text: &str) -> Result<Table, DataError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut records = parse_records(path, text)?.into_iter();
        let Some((_, header)) = records.next() else {
            return Err(DataError::EmptyDataset {
                path: path.to_path_buf(),
                detail: "the CSV file has no header row".into(),
            });
        };
        let columns = header
            .iter()
            .enumerate()
            .map(|(i, name)| (name.trim().to_string(), i))
            .collect();
        let width = header.len();
        let mut rows = Vec::new();
        for (line, fields) in records {
            if fields.len() != width {
                return Err(DataError::BadCsv {
                    path: path.to_path_buf(),
                    line,
                    detail: format!("{} fields, the header has {width}", fields.len()),
                });
            }
            rows.push((line, fields));
        }
        Ok(Table {
            path: path.to_path_buf(),
            columns,
            rows,
        })
    }

    /// Reads and parses the CSV file at `path`.
    pub fn read(path: &Path) -> Result<Table, DataError> {
        let bytes = std::fs::read(path).map_err(|e| DataError::read(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| DataError::BadCsv {
            path: path.to_path_buf(),
            line: 1,
            detail: format!("not UTF-8 text: {e}"),
        })?;
        Table::parse(path, &text)
    }

    /// The index of column `name`, or [`DataError::MissingColumn`].
    pub fn column(&self, name: &str) -> Result<usize, DataError> {
        self.columns
            .get(name)
            .copied()
            .ok_or_else(|| DataError::MissingColumn {
                path: self.path.clone(),
                column: name.to_string(),
            })
    }

    /// The rows as `(line number, fields)`.
    pub fn rows(&self) -> &[(usize, Vec<String>)] {
        &self.rows
    }

    /// The file this table came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Parses field `col` of a row as a non-negative integer. Accepts `"12"` and pandas' float
    /// rendering `"12.0"`.
    pub fn integer(&self, line: usize, fields: &[String], col: usize) -> Result<u32, DataError> {
        let raw = fields.get(col).map(|s| s.trim()).unwrap_or("");
        let bad = || DataError::BadCsv {
            path: self.path.clone(),
            line,
            detail: format!("`{raw}` is not a non-negative integer"),
        };
        if let Ok(v) = raw.parse::<u32>() {
            return Ok(v);
        }
        let f: f64 = raw.parse().map_err(|_| bad())?;
        if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) {
            Ok(f as u32)
        } else {
            Err(bad())
        }
    }
}

/// Quotes a field when it needs it (comma, quote, newline).
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Renders a header and rows as CSV text (LF line ends).
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = header
        .iter()
        .map(|h| quote(h))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for row in rows {
        out.push_str(&row.iter().map(|f| quote(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quotes_crlf_and_bom() {
        let p = Path::new("x.csv");
        let t = Table::parse(
            p,
            "\u{feff},a,b\r\n0,\"x,1\",\"say \"\"hi\"\"\"\r\n\r\n1,plain,\"multi\nline\"\n",
        )
        .unwrap();
        assert_eq!(t.column("a").unwrap(), 1);
        assert_eq!(t.column("").unwrap(), 0);
        assert_eq!(t.rows().len(), 2);
        assert_eq!(t.rows()[0].1, vec!["0", "x,1", "say \"hi\""]);
        assert_eq!(t.rows()[1].0, 4);
        assert_eq!(t.rows()[1].1[2], "multi\nline");
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let p = Path::new("idx.csv");
        let e = Table::parse(p, "a,b\n1,2,3\n").unwrap_err();
        assert!(matches!(e, DataError::BadCsv { line: 2, .. }), "{e}");
        assert!(e.to_string().starts_with("idx.csv:2:"), "{e}");
        let t = Table::parse(p, "a,b\n1,2\n").unwrap();
        let e = t.column("filepath").unwrap_err();
        assert!(e.to_string().contains("idx.csv") && e.to_string().contains("filepath"));
        assert!(matches!(
            Table::parse(p, "a\n\"open\n"),
            Err(DataError::BadCsv { .. })
        ));
        assert!(matches!(
            Table::parse(p, ""),
            Err(DataError::EmptyDataset { .. })
        ));
    }

    #[test]
    fn integers_accept_pandas_floats() {
        let p = Path::new("i.csv");
        let t = Table::parse(p, "n\n7\n7.0\n-1\n2.5\nx\n").unwrap();
        let get = |i: usize| {
            let (line, f) = &t.rows()[i];
            t.integer(*line, f, 0)
        };
        assert_eq!(get(0).unwrap(), 7);
        assert_eq!(get(1).unwrap(), 7);
        assert!(get(2).is_err() && get(3).is_err() && get(4).is_err());
    }

    #[test]
    fn render_round_trips() {
        let rows = vec![vec!["a,b".to_string(), "q\"".to_string()]];
        let text = render(&["x", "y"], &rows);
        let t = Table::parse(Path::new("r.csv"), &text).unwrap();
        assert_eq!(t.rows()[0].1, rows[0]);
    }
}
