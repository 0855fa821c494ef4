//! Tables as spreadsheet files: written as CSV or XLSX, read from XLSX.
//!
//! CSV starts with a UTF-8 byte-order mark: without it the spreadsheet
//! programs offices use read the Chinese headers as mojibake. Reading turns
//! every cell into the text a clerk sees, so the domain's validation sees
//! the same strings whatever the cell's type: a day typed as a date is
//! `YYYY-MM-DD`, a 12-digit area code typed as a number is its digits.

use std::io::Write as _;
use std::path::Path;

use calamine::{Data, Reader as _, Xlsx, open_workbook};
use jiff::civil::Date;
use rust_xlsxwriter::{Format, Workbook};

use crate::args::LedgerFormat;
use crate::error::Error;

/// One cell to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    /// Written as a number, so a spreadsheet can sum it.
    Count(u64),
}

/// A table to write: a named sheet, its headers, its rows.
#[derive(Debug)]
pub struct Table {
    pub sheet: &'static str,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
}

/// Writes `table` to `path` as `format`, replacing the file.
pub fn write(table: &Table, format: LedgerFormat, path: &Path) -> Result<(), Error> {
    let what = || format!("cannot write {}", path.display());
    match format {
        LedgerFormat::Csv => {
            let mut out = Vec::from("\u{feff}".as_bytes());
            {
                let mut csv = csv::Writer::from_writer(&mut out);
                csv.write_record(&table.header)
                    .map_err(|e| Error::Failed(format!("{}: {e}", what())))?;
                for row in &table.rows {
                    csv.write_record(row.iter().map(|v| match v {
                        Value::Text(text) => text.clone(),
                        Value::Count(n) => n.to_string(),
                    }))
                    .map_err(|e| Error::Failed(format!("{}: {e}", what())))?;
                }
                csv.flush().map_err(Error::io(what()))?;
            }
            std::fs::File::create(path)
                .and_then(|mut file| file.write_all(&out))
                .map_err(Error::io(what()))
        }
        LedgerFormat::Xlsx => {
            write_xlsx(table, path).map_err(|e| Error::Failed(format!("{}: {e}", what())))
        }
    }
}

fn write_xlsx(table: &Table, path: &Path) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(table.sheet)?;
    let bold = Format::new().set_bold();
    for (col, header) in (0u16..).zip(&table.header) {
        sheet.write_string_with_format(0, col, *header, &bold)?;
        sheet.set_column_width(col, 14)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (row, cells) in (1u32..).zip(&table.rows) {
        for (col, cell) in (0u16..).zip(cells) {
            match cell {
                Value::Text(text) if text.is_empty() => {}
                Value::Text(text) => {
                    sheet.write_string(row, col, text)?;
                }
                // Counts stay far below 2^53: exact as a float.
                Value::Count(n) => {
                    sheet.write_number(row, col, *n as f64)?;
                }
            }
        }
    }
    book.save(path)
}

/// A sheet read back: its headers and its rows as text, each with its row
/// number as the spreadsheet shows it (the header is row 1).
#[derive(Debug)]
pub struct Sheet {
    pub header: Vec<String>,
    pub rows: Vec<(u32, Vec<String>)>,
}

/// Reads the sheet named `preferred` of the XLSX file at `path`, or its
/// first sheet; rows with nothing in them are skipped.
pub fn read_xlsx(path: &Path, preferred: &str) -> Result<Sheet, Error> {
    let fail = |reason: String| Error::Failed(format!("cannot read {}: {reason}", path.display()));
    let mut book: Xlsx<_> =
        open_workbook(path).map_err(|e: calamine::XlsxError| fail(e.to_string()))?;
    let names = book.sheet_names();
    let name = names
        .iter()
        .find(|n| *n == preferred)
        .or_else(|| names.first())
        .cloned()
        .ok_or_else(|| fail("it has no sheet".into()))?;
    let range = book
        .worksheet_range(&name)
        .map_err(|e| fail(format!("sheet {name}: {e}")))?;
    let (first_row, first_col) = range.start().unwrap_or((0, 0));
    // Cells left of the used range are empty: pad so columns keep their place.
    let pad = |cells: &[Data]| -> Vec<String> {
        std::iter::repeat_n(String::new(), first_col as usize)
            .chain(cells.iter().map(text))
            .collect()
    };
    let mut rows = (first_row + 1..).zip(range.rows());
    let header = rows
        .by_ref()
        .find(|(_, cells)| cells.iter().any(|c| *c != Data::Empty))
        .map(|(_, cells)| pad(cells))
        .ok_or_else(|| fail(format!("sheet {name} is empty")))?;
    let rows = rows
        .filter(|(_, cells)| cells.iter().any(|c| *c != Data::Empty))
        .map(|(n, cells)| (n, pad(cells)))
        .collect();
    Ok(Sheet { header, rows })
}

/// A cell as the text a clerk sees in it.
fn text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_string(),
        Data::Int(n) => n.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(dt) if dt.is_datetime() => excel_day(dt.as_f64()),
        Data::DateTime(dt) => dt.as_f64().to_string(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// The day of an Excel serial date (1900 date system: day 0 is 1899-12-30,
/// counting Excel's phantom 1900-02-29, so every day from March 1900 on is
/// right).
fn excel_day(serial: f64) -> String {
    let epoch = Date::constant(1899, 12, 30);
    let days = serial.floor() as i64;
    jiff::Span::new()
        .try_days(days)
        .ok()
        .and_then(|span| epoch.checked_add(span).ok())
        .map_or_else(|| serial.to_string(), |day| day.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_table_reads_back_cell_for_cell() {
        let dir = tempfile::tempdir().unwrap();
        let table = Table {
            sheet: "台账",
            header: vec!["编号", "标题", "件数"],
            rows: vec![
                vec![
                    Value::Text("r-1".into()),
                    Value::Text("营区道路, \"维修\"".into()),
                    Value::Count(3),
                ],
                vec![
                    Value::Text("r-2".into()),
                    Value::Text(String::new()),
                    Value::Count(0),
                ],
            ],
        };
        let xlsx = dir.path().join("t.xlsx");
        write(&table, LedgerFormat::Xlsx, &xlsx).unwrap();
        let sheet = read_xlsx(&xlsx, "台账").unwrap();
        assert_eq!(sheet.header, ["编号", "标题", "件数"]);
        assert_eq!(
            sheet.rows,
            [
                (
                    2,
                    vec!["r-1".into(), "营区道路, \"维修\"".into(), "3".into()]
                ),
                (3, vec!["r-2".into(), String::new(), "0".into()]),
            ]
        );
        let csv = dir.path().join("t.csv");
        write(&table, LedgerFormat::Csv, &csv).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        assert!(text.starts_with("\u{feff}编号,标题,件数\n"), "{text}");
        assert!(
            text.contains("r-1,\"营区道路, \"\"维修\"\"\",3\n"),
            "{text}"
        );
    }

    #[test]
    fn serial_dates_are_days() {
        assert_eq!(excel_day(46_397.0), "2027-01-10");
        assert_eq!(excel_day(46_397.75), "2027-01-10");
    }
}
