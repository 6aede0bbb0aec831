//! Exports for Excel users and integrators: CSV in UTF-8 with a byte-order
//! mark and Chinese headers (Excel opens it without an import dialog), or
//! the same rows as JSON.

use actix_web::http::header;
use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The most rows one export answers; narrow the filters for more.
pub const MAX_ROWS: usize = 100_000;

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// UTF-8 with BOM, CRLF line ends, Chinese headers.
    #[default]
    Csv,
    Json,
}

/// A cell whose text could start a spreadsheet formula is prefixed with an
/// apostrophe, as OWASP advises, so that opening an export runs nothing.
/// Amounts and numbers are never touched.
fn cell(value: &str, text: bool) -> String {
    let guarded = if text && value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// One column of an export: its Chinese header and whether it holds free text.
pub struct Column {
    pub header: &'static str,
    pub text: bool,
}

pub const fn col(header: &'static str) -> Column {
    Column { header, text: false }
}

pub const fn text(header: &'static str) -> Column {
    Column { header, text: true }
}

/// Renders rows as CSV: BOM, header line, CRLF.
pub fn csv(columns: &[Column], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let headers: Vec<String> = columns.iter().map(|c| cell(c.header, false)).collect();
    out.push_str(&headers.join(","));
    out.push_str("\r\n");
    for row in rows {
        let cells: Vec<String> = row.iter().zip(columns).map(|(value, c)| cell(value, c.text)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The response of an export: a CSV attachment or a JSON array.
pub fn respond<T: Serialize>(
    format: Format,
    name: &str,
    columns: &[Column],
    items: &[T],
    row: impl Fn(&T) -> Vec<String>,
) -> HttpResponse {
    match format {
        Format::Json => HttpResponse::Ok().json(items),
        Format::Csv => {
            let rows: Vec<Vec<String>> = items.iter().map(row).collect();
            HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.csv\""),
                ))
                .body(csv(columns, &rows))
        }
    }
}

/// An optional value as a cell.
pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_starts_with_a_bom_and_quotes_what_needs_quoting() {
        let columns = [col("编号"), text("原因")];
        let rows = vec![
            vec!["1".into(), "机时, 补录".into()],
            vec!["-30.00".into(), "=HYPERLINK(\"x\")".into()],
        ];
        let out = String::from_utf8(csv(&columns, &rows)).unwrap_or_default();
        assert_eq!(
            out,
            "\u{feff}编号,原因\r\n1,\"机时, 补录\"\r\n-30.00,\"'=HYPERLINK(\"\"x\"\")\"\r\n"
        );
    }
}
