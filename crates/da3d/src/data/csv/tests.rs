//! Reading whole tables: columns, kinds, labels, missing values, delimiters, refusals.

use super::*;
use crate::error::Result;

fn read(s: &str) -> Result<Table> {
    read_table_bytes(s.as_bytes(), &ReadOptions::default())
}

#[test]
fn basic_numeric_and_categorical() {
    let t = read("a,b,label\n1,x,0\n2.5,y,1\n-3,x,0\n").unwrap();
    assert_eq!(t.n_rows(), 3);
    assert_eq!(t.columns[0].kind, ColumnKind::Numeric);
    assert_eq!(t.columns[0].numbers, vec![1.0, 2.5, -3.0]);
    assert_eq!(t.columns[1].kind, ColumnKind::Categorical);
    assert_eq!(t.columns[1].category(2), "x");
    assert_eq!(t.labels, Some(vec![0, 1, 0]));
    assert_eq!(t.lines, vec![2, 3, 4]);
}

#[test]
fn quotes_bom_crlf() {
    let t = read("\u{feff}\"a\",\"b, with comma\",label\r\n\"1\",\"multi\nline\",0\r\n2,\"he said \"\"hi\"\"\",1\r\n").unwrap();
    assert_eq!(t.columns[0].name, "a");
    assert_eq!(t.columns[1].name, "b, with comma");
    assert_eq!(t.columns[1].category(0), "multi\nline");
    assert_eq!(t.columns[1].category(1), "he said \"hi\"");
    // the second record starts on line 4 because the quoted field holds a newline
    assert_eq!(t.lines, vec![2, 4]);
}

#[test]
fn ragged_row_names_the_line() {
    let e = read("a,b,label\n1,2,0\n1,2\n").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("line 3"), "{msg}");
    assert!(msg.contains("expected 3 fields"), "{msg}");
}

#[test]
fn empty_cells_drop_rows_in_numeric_columns() {
    let t = read("a,b,label\n1,2,0\n,3,0\n4,5,1\n").unwrap();
    assert_eq!(t.n_rows(), 2);
    assert_eq!(t.report.rows_dropped_missing, 1);
    assert_eq!(t.report.first_dropped_line, Some(3));
    assert_eq!(t.lines, vec![2, 4]);
    assert_eq!(t.labels, Some(vec![0, 1]));
}

#[test]
fn nan_literals_are_missing_values() {
    let t = read("a,b,label\n1,NaN,0\nnan,2,0\n3,4,1\n").unwrap();
    assert_eq!(t.n_rows(), 1);
    assert_eq!(t.report.rows_dropped_missing, 2);
}

#[test]
fn thousands_of_columns() {
    let n = 3000;
    let header: Vec<String> = (0..n).map(|i| format!("c{i}")).chain(["label".to_string()]).collect();
    let row: Vec<String> = (0..n).map(|i| format!("{}", i % 7)).chain(["0".to_string()]).collect();
    let text = format!("{}\n{}\n{}\n", header.join(","), row.join(","), row.join(","));
    let t = read(&text).unwrap();
    assert_eq!(t.columns.len(), n);
    assert_eq!(t.n_rows(), 2);
}

#[test]
fn empty_cells_are_a_category_in_text_columns() {
    let t = read("a,b,label\n1,x,0\n2,,0\n").unwrap();
    assert_eq!(t.n_rows(), 2);
    assert_eq!(t.columns[1].category(1), "(missing)");
}

#[test]
fn bad_label_names_value_line_and_column() {
    let e = read("a,label\n1,0\n2,yes\n").unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("'label'") && e.contains("'yes'"), "{e}");
}

#[test]
fn non_utf8_names_line_and_column() {
    let bytes = b"a,b,label\n1,\xff\xfe,0\n";
    let e = read_table_bytes(bytes, &ReadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("'b'") && e.contains("UTF-8"), "{e}");
}

#[test]
fn infinite_and_huge_values_are_errors() {
    let e = read("a,label\n1,0\ninf,0\n").unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("infinite"), "{e}");
    let e = read("a,label\n1e39,0\n").unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("f32 range"), "{e}");
}

#[test]
fn non_finite_values_drop_their_row_when_asked() {
    let opts = ReadOptions { non_finite_as_missing: true, ..Default::default() };
    let t = read_table_bytes(b"a,b,label\n1,2,0\nInfinity,3,0\n4,-inf,1\n5,1e39,0\n6,7,1\n", &opts).unwrap();
    assert_eq!(t.n_rows(), 2);
    assert_eq!(t.lines, vec![2, 6]);
    assert_eq!(t.report.rows_dropped_missing, 3);
    assert_eq!(t.report.first_dropped_line, Some(3));
    assert_eq!(t.labels, Some(vec![0, 1]));
}

#[test]
fn text_labels_map_to_normal_and_anomaly() {
    let values = LabelValues { normal: vec!["benign".into()], anomaly: vec!["phishing".into(), "spam".into()] };
    let opts = ReadOptions { label: Some("kind".into()), label_values: Some(values), ..Default::default() };
    let t = read_table_bytes(b"a,kind\n1,benign\n2,Phishing\n3, SPAM \n4,Benign\n", &opts).unwrap();
    assert_eq!(t.labels, Some(vec![0, 1, 1, 0]));
    let e = read_table_bytes(b"a,kind\n1,benign\n2,malware\n", &opts).unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("'kind'") && e.contains("'malware'") && e.contains("benign"), "{e}");
    // 0/1 are not class names here.
    assert!(read_table_bytes(b"a,kind\n1,0\n", &opts).is_err());
}

#[test]
fn required_columns_name_what_is_missing() {
    let opts = ReadOptions { required_columns: vec!["a".into(), "FlowBytesSent".into()], ..Default::default() };
    let e = read_table_bytes(b"a,b,label\n1,2,0\n", &opts).unwrap_err().to_string();
    assert!(e.contains("FlowBytesSent") && e.contains("expected layout") && !e.contains("column(s) of the expected layout: a"), "{e}");
}

#[test]
fn empty_and_header_only() {
    assert!(read("").unwrap_err().to_string().contains("empty"));
    assert!(read("a,b,label\n").unwrap_err().to_string().contains("no data rows"));
}

#[test]
fn duplicate_header() {
    let e = read("a,a,label\n1,2,0\n").unwrap_err().to_string();
    assert!(e.contains("duplicate") && e.contains("line 1"), "{e}");
}

#[test]
fn ignore_prefix_and_forced_categorical() {
    let opts = ReadOptions {
        ignore: vec!["meta_".into()],
        categorical: vec!["code".into()],
        ..Default::default()
    };
    let t = read_table_bytes(b"code,meta_x,meta_y,v,label\n1,a,b,0.5,0\n2,c,d,0.7,1\n", &opts).unwrap();
    assert_eq!(t.columns.len(), 2);
    assert_eq!(t.columns[0].kind, ColumnKind::Categorical);
    assert_eq!(t.report.ignored_columns, vec!["meta_x", "meta_y"]);
}

#[test]
fn gzip_is_read_directly() {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(b"a,label\n1,0\n2,1\n").unwrap();
    let gz = enc.finish().unwrap();
    let t = read_table_bytes(&gz, &ReadOptions::default()).unwrap();
    assert_eq!(t.n_rows(), 2);
}

#[test]
fn split_column() {
    let opts = ReadOptions { split_column: Some("s".into()), ..Default::default() };
    let t = read_table_bytes(b"a,s,label\n1,train,0\n2,test,1\n", &opts).unwrap();
    assert_eq!(t.split, Some(vec![SplitTag::Train, SplitTag::Test]));
    let e = read_table_bytes(b"a,s,label\n1,foo,0\n", &opts).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("'s'"), "{e}");
}

#[test]
fn a_sniffed_delimiter_is_kept_in_the_report() {
    let t = read("a;b;label\n1;2;0\n3;4;1\n").unwrap();
    assert_eq!(t.columns.len(), 2);
    assert_eq!(t.report.delimiter, b';');
    assert_eq!(t.columns[0].kind, ColumnKind::Numeric);
}

#[test]
fn a_one_column_header_holding_a_delimiter_is_refused() {
    let opts = ReadOptions { delimiter: Some(b','), ..Default::default() };
    let e = read_table_bytes(b"a;b;label\n1;2;0\n", &opts).unwrap_err().to_string();
    assert!(e.contains("line 1") && e.contains("one column") && e.contains("--delimiter ';'"), "{e}");
}

#[test]
fn question_marks_are_missing_values_and_counted() {
    let t = read("a,b,label\n1,2,0\n?,3,0\n4,NA,1\n5,6,0\n").unwrap();
    assert_eq!(t.columns[0].kind, ColumnKind::Numeric);
    assert_eq!(t.n_rows(), 2);
    assert_eq!(t.report.missing_cells, 2);
    assert_eq!(t.report.first_missing, Some((3, "a".to_string())));
}

#[test]
fn a_mostly_numeric_column_with_text_is_refused_naming_the_first_text_cell() {
    let e = read("a,b,label\n1,2,0\n2,x,0\n3,4,1\n5,6,0\n").unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("'b'") && e.contains("'x'") && e.contains("--categorical"), "{e}");
    // mostly text: categorical; named categorical: categorical
    let t = read("a,b,label\n1,x,0\n2,y,0\n3,4,1\n").unwrap();
    assert_eq!(t.columns[1].kind, ColumnKind::Categorical);
    let opts = ReadOptions { categorical: vec!["b".into()], ..Default::default() };
    let t = read_table_bytes(b"a,b,label\n1,2,0\n2,x,0\n3,4,1\n5,6,0\n", &opts).unwrap();
    assert_eq!(t.columns[1].kind, ColumnKind::Categorical);
}

#[test]
fn category_keys_are_one_rule_for_every_column() {
    let opts = ReadOptions { categorical: vec!["c".into()], ..Default::default() };
    let t = read_table_bytes(b"c,label\n1.0,0\n1,0\n02,0\n,0\n", &opts).unwrap();
    assert_eq!(t.columns[0].dictionary, vec!["1", "2", MISSING_CATEGORY]);
}
