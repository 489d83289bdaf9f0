//! Files users write: bad rows, delimiters, missing values, labels, configs, out-of-range numbers.

use std::path::Path;

use da3d::synthetic::{SyntheticSpec, synthetic_csv};

use crate::*;

#[test]
fn bad_input_gives_exit_code_1_and_names_file_and_line() {
    let dir = Dir::new("bad");
    let ragged = dir.file("ragged.csv", "a,b,label\n1,2,0\n3,4\n");
    let model = dir.path("m.da3d");
    let o = run(&["train", &ragged, "-o", &model]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("ragged.csv") && e.contains("line 3"), "{e}");
    assert!(!Path::new(&model).exists(), "no model written");

    let badlabel = dir.file("badlabel.csv", "a,label\n1,0\n2,yes\n");
    let o = run(&["train", &badlabel, "-o", &model]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("line 3") && stderr(&o).contains("'yes'"), "{}", stderr(&o));

    let notmodel = dir.file("notmodel.da3d", "hello");
    let o = run(&["score", &notmodel, &ragged]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("notmodel.da3d") && stderr(&o).contains("not a da3d model"), "{}", stderr(&o));

    let o = run(&["train", "/nonexistent/x.csv", "-o", &model]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/x.csv"));
}

#[test]
fn score_reports_bad_rows_and_can_skip_them() {
    let dir = Dir::new("skip");
    let data = fixture(&dir);
    let model = dir.path("m.da3d");
    assert!(train_fast(&data, &model, &[]).status.success());
    let mut text = std::fs::read_to_string(&data).unwrap();
    let header = text.lines().next().unwrap().to_string();
    let good = text.lines().nth(1).unwrap().to_string();
    text = format!("{header}\n{good}\nnot_a_number,1,2,3,4,5,a,0\n{good}\n");
    let bad = dir.file("bad.csv", &text);
    let out = dir.path("out.csv");
    let o = run(&["score", &model, &bad, "-o", &out]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad.csv") && stderr(&o).contains("line 3") && stderr(&o).contains("'x1'"), "{}", stderr(&o));
    assert!(!Path::new(&out).exists(), "no half-written output");
    let o = run(&["score", &model, &bad, "-o", &out, "--skip-bad-rows"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("skipped 1 bad rows"));
    let lines: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(String::from).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[2].starts_with("4,"));

    // a CSV without a column the model needs
    let other = dir.file("other.csv", "x1,label\n1,0\n");
    let o = run(&["score", &model, &other]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("'x2'"), "{}", stderr(&o));
}

#[test]
fn usage_errors_give_exit_code_2() {
    let o = run(&["train"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["train", "x.csv", "-o", "m", "--preset", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("invalid value 'nonsense'") && stderr(&o).contains("paper"), "{}", stderr(&o));
    let dir = Dir::new("usage");
    let data = fixture(&dir);
    let cfg = dir.file("cfg.json", r#"{"schedule": {"batch_size": 0}}"#);
    // an invalid value in a config file is a data error (1) naming the file and the field
    let o = run(&["train", &data, "-o", &dir.path("m"), "--config", &cfg]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("schedule.batch_size") && stderr(&o).contains("cfg.json"), "{}", stderr(&o));
    // the same value given as a flag is a usage error (2)
    let o = run(&["train", &data, "-o", &dir.path("m"), "--batch-size", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("schedule.batch_size"), "{}", stderr(&o));
    let cfg = dir.file("cfg2.json", r#"{"schedule": {"epochz": 3}}"#);
    let o = run(&["train", &data, "-o", &dir.path("m"), "--config", &cfg]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("schedule.epochz") && stderr(&o).contains("cfg2.json"), "{}", stderr(&o));
    for cmd in ["train", "score", "eval", "info", "bench"] {
        let o = run(&[cmd, "--help"]);
        assert!(o.status.success());
        assert!(stdout(&o).contains("Example"), "{cmd} --help has an example");
    }
}


#[test]
fn delimiters_are_sniffed_or_given_and_a_wrong_one_is_refused() {
    let dir = Dir::new("delim");
    let semi = dir.file("semi.csv", &mixed_table(200, ';'));
    let model = dir.path("m.da3d");
    let o = train_fast(&semi, &model, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("separated by ';'"), "{}", stderr(&o));
    let h = info_json(&model);
    assert_eq!(h["preprocessor"]["columns"].as_array().unwrap().len(), 3, "x1, x2, code: not one column");
    assert_eq!(h["read"]["delimiter"], b';' as u64);
    // the model scores the same file, and a comma file of the same columns
    let o = run(&["score", &model, &semi]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(score_rows(&stdout(&o)).len(), 200);
    let comma = dir.file("comma.csv", &mixed_table(50, ','));
    assert!(run(&["score", &model, &comma]).status.success());
    // tab, given by name
    let tab = dir.file("tab.tsv", &mixed_table(200, '\t'));
    let o = train_fast(&tab, &model, &["--delimiter", "tab"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // a delimiter forced wrongly: one header column holding ';' is refused, naming line 1
    let o = train_fast(&semi, &model, &["--delimiter", ","]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("semi.csv") && stderr(&o).contains("line 1") && stderr(&o).contains("--delimiter ';'"), "{}", stderr(&o));
    let o = run(&["train", &semi, "-o", &model, "--delimiter", "ab"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn missing_value_markers_keep_a_column_numeric_and_mostly_numeric_text_is_refused() {
    let dir = Dir::new("missing");
    let mut text = String::from("a,b,label\n");
    for i in 0..60 {
        let a = if i == 7 { "?".to_string() } else { format!("{}.5", i % 13) };
        let b = if i == 11 { "NA".to_string() } else { format!("{}", (i * 7) % 10) };
        text.push_str(&format!("{a},{b},0\n"));
    }
    let data = dir.file("q.csv", &text);
    let model = dir.path("m.da3d");
    let o = train_fast(&data, &model, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("2 cells hold a missing-value marker") && e.contains("line 9, column 'a'"), "{e}");
    assert!(e.contains("2 of 60 rows dropped"), "{e}");
    let h = info_json(&model);
    assert_eq!(h["networks"]["aae"]["d_input"], 2, "two numeric inputs, not one per distinct number");

    // a mostly numeric column with a text cell: refused, naming line, column and text
    let bad = dir.file("bad.csv", &text.replacen("3.5,", "three,", 1));
    let o = train_fast(&bad, &model, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("bad.csv") && e.contains("line 5") && e.contains("'a'") && e.contains("'three'") && e.contains("--categorical"), "{e}");
    // ... unless named categorical
    let o = train_fast(&bad, &model, &["--categorical", "a"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn normal_rows_only_train_with_a_note() {
    let dir = Dir::new("allnormal");
    let text = synthetic_csv(&SyntheticSpec { rows: 300, anomaly_rate: 0.0, seed: 4, ..Default::default() });
    let data = dir.file("normal.csv", &text);
    let model = dir.path("m.da3d");
    let o = train_fast(&data, &model, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("only normal rows") && stderr(&o).contains("no test evaluation"), "{}", stderr(&o));
    assert_eq!(info_json(&model)["training_rows"], 300);
    // contamination needs anomalies to mix in; so does an unlabelled file
    let o = train_fast(&data, &model, &["--contamination", "0.01"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("contamination"), "{}", stderr(&o));
    let unlabelled = dir.file("u.csv", &mixed_table(100, ','));
    let o = train_fast(&unlabelled, &model, &["--contamination", "0.05"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no label column"), "{}", stderr(&o));
}

#[test]
fn config_file_seed_and_method_are_kept_unless_flags_say_otherwise() {
    let dir = Dir::new("cfgseed");
    let data = fixture(&dir);
    let cfg = dir.file("c.json", r#"{"seed": 5, "method": "a3-noise"}"#);
    let model = dir.path("m.da3d");
    let o = train_fast(&data, &model, &["--config", &cfg]);
    assert!(o.status.success(), "{}", stderr(&o));
    let h = info_json(&model);
    assert_eq!((h["config"]["seed"].as_u64(), h["config"]["method"].as_str()), (Some(5), Some("a3-noise")));
    let o = train_fast(&data, &model, &["--config", &cfg, "--seed", "6", "--method", "da3d"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let h = info_json(&model);
    assert_eq!((h["config"]["seed"].as_u64(), h["config"]["method"].as_str()), (Some(6), Some("da3d")));
    // the bundle's metrics have one schema
    for key in ["roc_auc", "average_precision", "rows", "anomalies"] {
        assert!(h["metrics"][key].is_number(), "metrics.{key} in {}", h["metrics"]);
    }
}

#[test]
fn out_of_range_numbers_are_usage_errors_not_panics() {
    let dir = Dir::new("ranges");
    let data = fixture(&dir);
    let model = dir.path("m.da3d");
    for args in [
        vec!["score", &model, &data, "--batch-rows", "10000000000"],
        vec!["score", &model, &data, "--batch-rows", "0"],
        vec!["train", &data, "-o", &model, "--epochs", "18446744073709551615"],
        vec!["train", &data, "-o", &model, "--epochs-aae", "1000001"],
        vec!["train", &data, "-o", &model, "--threshold-rate", "0.9"],
        vec!["train", &data, "-o", &model, "--contamination", "-1"],
        vec!["train", &data, "-o", &model, "--batch-size", "100000000"],
        vec!["train", &data, "-o", &model, "--members", "0"],
        vec!["train", &data, "-o", &model, "--members", "65"],
        vec!["synth", "--rows", "1000000000000", "--anomaly-rate", "0.1"],
        vec!["synth", "--anomaly-rate", "2"],
        vec!["bench", "--epochs", "18446744073709551615"],
        vec!["bench", "--steps", "2", "--warmup", "0"],
        vec!["bench", "--warmup", "2"],
        vec!["eval", &data, "--checkpoints", "99999999999"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
    let cfg = dir.file("huge.json", r#"{"schedule": {"da3d_epochs": 18446744073709551615}}"#);
    let o = run(&["train", &data, "-o", &model, "--config", &cfg]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("huge.json") && stderr(&o).contains("schedule.da3d_epochs"), "{}", stderr(&o));
}
