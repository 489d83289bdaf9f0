//! Files and runs from strangers: a bundle or a table never exhausts memory, never gives a silently
//! wrong model or score, and a run never loses work or leaves files behind (docs/robustness.md).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use da3d::synthetic::{SyntheticSpec, synthetic_csv};
use serde_json::{Value, json};

use crate::*;

/// A table of `rows` rows: two numeric columns that move together, a 0/1 `label` (every tenth row
/// an anomaly off the line), and the extra column `extra(i)` named `name` when given.
fn table(rows: usize, label: &str, extra: Option<(&str, &dyn Fn(usize) -> String)>) -> String {
    let mut text = format!("a,b,{label}");
    if let Some((name, _)) = extra {
        text.push_str(&format!(",{name}"));
    }
    text.push('\n');
    for i in 0..rows {
        let a = (i * 37 % 101) as f64 / 100.0;
        let anomaly = i % 10 == 3;
        let b = if anomaly { 1.0 - a } else { a * 0.5 + 0.1 };
        text.push_str(&format!("{a},{b},{}", anomaly as u8));
        if let Some((_, f)) = extra {
            text.push_str(&format!(",{}", f(i)));
        }
        text.push('\n');
    }
    text
}

/// The bundle at `path` with its header replaced by `edit(header)`, framed again with a correct
/// checksum (so that the loader's own checks, not the checksum, meet the edit).
fn edit_bundle(path: &str, out: &str, edit: impl FnOnce(&mut Value)) {
    let bytes = std::fs::read(path).unwrap();
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    let header_len = word(12);
    let mut header: Value = serde_json::from_slice(&bytes[20..20 + header_len]).unwrap();
    edit(&mut header);
    let weights_at = 20 + header_len;
    let weights = &bytes[weights_at + 8..bytes.len() - 8];
    write_framed(out, &bytes[8..12], &serde_json::to_vec(&header).unwrap(), weights);
}

/// A bundle of these parts: magic, version, lengths, FNV-1a checksum.
fn write_framed(out: &str, version: &[u8], header: &[u8], weights: &[u8]) {
    let mut framed = b"DA3DMODL".to_vec();
    framed.extend_from_slice(version);
    framed.extend_from_slice(&(header.len() as u64).to_le_bytes());
    framed.extend_from_slice(header);
    framed.extend_from_slice(&(weights.len() as u64).to_le_bytes());
    framed.extend_from_slice(weights);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in &framed {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    framed.extend_from_slice(&h.to_le_bytes());
    std::fs::write(out, framed).unwrap();
}

/// A small default model (two members, a short schedule) of the fixture.
fn small_model(dir: &Dir) -> (String, String) {
    let data = fixture(dir);
    let model = dir.path("m.da3d");
    let o = run(&["train", &data, "-o", &model, "--members", "2", "--epochs-aae", "5", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    (data, model)
}

/// Exit 1, and every one of `words` in the message.
fn refused(o: &std::process::Output, words: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    for w in words {
        assert!(e.contains(w), "missing {w:?} in: {e}");
    }
}

#[test]
fn a_label_column_spelled_label_or_label_in_capitals_is_the_label() {
    let dir = Dir::new("labelcase");
    for name in ["Label", "LABEL"] {
        let data = dir.file(&format!("{name}.csv"), &table(400, name, None));
        let model = dir.path(&format!("{name}.da3d"));
        let o = run(&["train", &data, "-o", &model, "--members", "1", "--epochs-aae", "3", "--quiet"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(&format!("the label column is '{name}'")) && e.contains("test: ROC AUC"), "{e}");
        let h = info_json(&model);
        assert_eq!(h["preprocessor"]["columns"].as_array().unwrap().len(), 2, "the label is no input");
        // Scoring the file reads the same column as the labels.
        let o = run(&["score", &model, &data]);
        assert!(stderr(&o).contains("labels found: ROC AUC"), "{}", stderr(&o));
    }
}

#[test]
fn a_column_that_looks_like_a_label_is_refused_unless_used_or_dropped() {
    let dir = Dir::new("labellike");
    let text = table(300, "Class", None);
    let data = dir.file("class.csv", &text.replace(",Class\n", ",Class\n"));
    let model = dir.path("m.da3d");
    let short = ["--members", "1", "--epochs-aae", "3", "--quiet"];
    let mut args = vec!["train", data.as_str(), "-o", model.as_str()];
    args.extend(short);
    refused(&run(&args), &["class.csv", "'Class'", "--label 'Class'", "--drop 'Class'"]);
    assert!(!Path::new(&model).exists());
    // used as the label: the protocol, a test AUC
    let o = run(&[&args[..], &["--label", "Class"]].concat());
    assert!(o.status.success() && stderr(&o).contains("test: ROC AUC"), "{}", stderr(&o));
    // left out: every row trains, two inputs
    let o = run(&[&args[..], &["--drop", "Class"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(info_json(&model)["networks"]["aae"]["d_input"], 2);
    // a column to drop that the file lacks is named
    refused(&run(&[&args[..], &["--drop", "nope"]].concat()), &["column to drop 'nope' not found"]);
}

#[test]
fn bundles_with_numbers_that_are_not_finite_are_refused_naming_them() {
    let dir = Dir::new("nonfinite");
    let (data, model) = small_model(&dir);
    let bad = dir.path("bad.da3d");
    // A threshold beyond the f32 range reads as infinity.
    edit_bundle(&model, &bad, |h| h["threshold"] = json!(1e39));
    refused(&run(&["score", &bad, &data]), &["bad.da3d", "the threshold is not a finite number"]);
    refused(&run(&["info", &bad]), &["the threshold is not a finite number"]);
    edit_bundle(&model, &bad, |h| h["scales"][0]["residual"][0] = json!([0.0, 1e39]));
    refused(&run(&["score", &bad, &data]), &["a score scale is not finite and positive"]);
    edit_bundle(&model, &bad, |h| h["neighbours"]["log_distance"] = json!([1e39, 1.0]));
    refused(&run(&["score", &bad, &data]), &["the neighbours term is not finite"]);
    edit_bundle(&model, &bad, |h| h["preprocessor"]["columns"][0]["max"] = json!(-1e30));
    refused(&run(&["score", &bad, &data]), &["column 'x1': its training range", "is not finite and ordered"]);
    // A weight that is not a number: every score would be one and no row flagged.
    let loaded = da3d::bundle::Model::from_bytes(&std::fs::read(&model).unwrap(), &burn::tensor::Device::flex()).unwrap();
    let weight = loaded.members[0].aae.encoder.layers[0].weight.val().into_data().try_to_vec::<f32>().unwrap()[0];
    let mut bytes = std::fs::read(&model).unwrap();
    let at = bytes.windows(4).position(|w| w == weight.to_le_bytes()).expect("the weight's bytes");
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let header_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let (header, weights) = (bytes[20..20 + header_len].to_vec(), bytes[28 + header_len..bytes.len() - 8].to_vec());
    write_framed(&bad, &bytes[8..12], &header, &weights);
    refused(&run(&["score", &bad, &data]), &["ensemble member 1: a weight is not a finite number"]);
}

#[test]
fn bundles_that_would_exhaust_memory_are_refused_before_they_allocate() {
    use std::io::Write;
    let dir = Dir::new("bomb");
    let (data, model) = small_model(&dir);
    let bad = dir.path("bomb.da3d");
    // 256 MB of zeros deflate to a quarter of a megabyte: the reference rows of a "small" file.
    let mut bomb = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        bomb.write_all(&zeros).unwrap();
    }
    let text = base64(&bomb.finish().unwrap());
    edit_bundle(&model, &bad, |h| h["neighbours"]["reference"] = json!(text));
    assert!(std::fs::metadata(&bad).unwrap().len() < 1 << 20);
    let started = Instant::now();
    for cmd in [&["info", bad.as_str()][..], &["score", &bad, &data]] {
        refused(&run(cmd), &["bomb.da3d", "more than 5000000 values"]);
    }
    assert!(started.elapsed() < Duration::from_secs(20), "refused at once");
    // The stored neighbour beyond what the config counts (each scored row would cost O(k²)).
    edit_bundle(&model, &bad, |h| h["neighbours"]["k"] = json!(200_000));
    for cmd in [&["info", bad.as_str()][..], &["score", &bad, &data]] {
        refused(&run(cmd), &["the neighbours term counts the 200000-th neighbour but the config asks for the 5-th"]);
    }
    // Networks of ten thousand layers are refused by the config's limit, not built.
    edit_bundle(&model, &bad, |h| h["config"]["architecture"]["alarm"] = json!(vec![2; 10_000]));
    for cmd in [&["info", bad.as_str()][..], &["score", &bad, &data]] {
        refused(&run(cmd), &["architecture.alarm", "10000 layers"]);
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            out.push(if i <= c.len() { A[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

#[test]
fn degenerate_training_rows_give_scores_of_the_order_of_the_rows_spread() {
    let dir = Dir::new("degenerate");
    let new_rows = dir.file("new.csv", "x,y\n0.5,0.5\n3,4\n-2,9\n0.1,0.2\n");
    // Every row present ten times (its 5th neighbour is a copy), and a table of two rows.
    let mut duplicated = String::from("x,y\n");
    for i in 0..200 {
        duplicated.push_str(&format!("{},{}\n", (i % 20) as f64 / 10.0, (i % 20 * 7 % 20) as f64 / 10.0));
    }
    for (name, text) in [("dup", duplicated), ("two", "x,y\n0,0\n1,2\n".to_string())] {
        let data = dir.file(&format!("{name}.csv"), &text);
        let model = dir.path(&format!("{name}.da3d"));
        let o = run(&["train", &data, "-o", &model, "--members", "2", "--epochs-aae", "20", "--quiet"]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let o = run(&["score", &model, &new_rows]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let scores = score_rows(&stdout(&o));
        assert!(scores.iter().all(|(_, s)| s.is_finite() && s.abs() < 1e3), "{name}: {scores:?}");
        // The far rows score above the training rows' own range.
        let h = info_json(&model);
        let top = h["train_score_quantiles"].as_array().unwrap().last().unwrap()[1].as_f64().unwrap();
        assert!(scores[1].1 as f64 > top && scores[2].1 as f64 > top, "{name}: {scores:?} against {top}");
    }
}

#[test]
fn identifier_columns_and_too_wide_tables_are_refused_naming_the_columns() {
    let dir = Dir::new("wide");
    let ids = dir.file("ids.csv", &table(300, "label", Some(("ip", &|i| format!("10.0.{}.{}", i / 200, i % 200)))));
    let model = dir.path("m.da3d");
    let short = ["--members", "1", "--epochs-aae", "2", "--quiet"];
    refused(&run(&[&["train", ids.as_str(), "-o", model.as_str()][..], &short].concat()), &["ids.csv", "'ip'", "distinct values", "--drop 'ip'"]);
    let o = run(&[&["train", ids.as_str(), "-o", model.as_str(), "--drop", "ip"][..], &short].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    // 20,001 numeric columns: more inputs than a model takes, the widest named before anything
    // is allocated for them.
    let n = 20_001;
    let header: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..n).map(|i| (i % 7).to_string()).collect();
    let text = format!("{}\n{}\n{}\n", header.join(","), row.join(","), row.join(","));
    let wide = dir.file("wide.csv", &text);
    refused(&run(&[&["train", wide.as_str(), "-o", model.as_str()][..], &short].concat()), &["wide.csv", "20001 inputs, more than 20000", "'c0' (1)"]);
}

#[test]
fn work_is_never_lost_to_what_can_be_known_before_training() {
    let dir = Dir::new("early");
    let data = fixture(&dir);
    // An output folder that does not exist: refused before the file is even read.
    let started = Instant::now();
    let o = run(&["train", &data, "-o", "/nonexistent-folder/m.da3d"]);
    refused(&o, &["cannot write /nonexistent-folder/m.da3d"]);
    assert!(!stderr(&o).contains("data:"), "refused before reading: {}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(10));
    let model = dir.path("m.da3d");
    // One row, and a column with no value: refused before training, naming the cause.
    let one = dir.file("one.csv", "a,b\n1,2\n");
    refused(&run(&["train", &one, "-o", &model]), &["one.csv", "1 training row", "at least 2"]);
    let empty = dir.file("empty.csv", "a,e,b\n1,,2\n2,,3\n3,,1\n");
    refused(&run(&["train", &empty, "-o", &model]), &["empty.csv", "line 2", "'e'", "no value in any row", "--drop 'e'"]);
    // A table the machine cannot hold: refused with its estimate before it is read.
    let o = bin().args(["train", &data, "-o", &model]).env("DA3D_MEMORY_AVAILABLE", "1000").output().unwrap();
    refused(&o, &["needs about", "GiB of memory", "GiB are free"]);
    assert!(!Path::new(&model).exists());
    // Every subcommand takes --quiet and --log-format.
    for args in [&["score", "x.da3d", "y.csv"][..], &["info", "x.da3d"], &["split", "y.csv"], &["synth", "--rows", "3"]] {
        let o = run(&[args, &["--quiet", "--log-format", "json"]].concat());
        assert_ne!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[cfg(unix)]
#[test]
fn worker_folders_are_private_and_removed_when_the_run_is_stopped() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new("sigterm");
    let tmp = dir.0.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let data = dir.file("big.csv", &synthetic_csv(&SyntheticSpec { rows: 4000, seed: 2, ..Default::default() }));
    let model = dir.path("m.da3d");
    let mut child = bin()
        .args(["train", &data, "-o", &model, "--members", "2", "--threads", "2", "--epochs-aae", "2000", "--quiet"])
        .env("TMPDIR", &tmp)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        let found = std::fs::read_dir(&tmp).unwrap().flatten().find(|e| e.file_name().to_string_lossy().starts_with("da3d-members-"));
        if let Some(e) = found
            && e.path().join("rows.f32").exists()
        {
            break e.path();
        }
        assert!(Instant::now() < deadline, "no job folder appeared");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(std::fs::metadata(&job).unwrap().permissions().mode() & 0o777, 0o700, "the job folder is private");
    assert_eq!(std::fs::metadata(job.join("rows.f32")).unwrap().permissions().mode() & 0o777, 0o600, "the rows are private");
    let name = job.file_name().unwrap().to_string_lossy().to_string();
    assert!(!name.contains(&child.id().to_string()), "the name is not the process id: {name}");
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status:?}");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(!Path::new(&model).exists());
}

#[test]
fn a_silent_worker_is_stopped_and_an_incomplete_one_fails_the_eval() {
    let dir = Dir::new("silent");
    let data = fixture(&dir);
    let model = dir.path("m.da3d");
    let started = Instant::now();
    let o = bin()
        .args(["train", &data, "-o", &model, "--members", "2", "--threads", "2", "--worker-timeout", "2", "--epochs-aae", "3"])
        .env("DA3D_TEST_WORKER_DELAY", "30")
        .output()
        .unwrap();
    refused(&o, &["member worker 1 reported nothing for 2 s", "--worker-timeout"]);
    assert!(started.elapsed() < Duration::from_secs(25), "stopped, not waited for");
    let o = bin()
        .args(["eval", &data, "--seeds", "0,1", "--contamination", "0", "--methods", "robust", "--threads", "2", "--epochs-aae", "2"])
        .env("DA3D_TEST_EVAL_SILENT_WORKER", "1")
        .output()
        .unwrap();
    refused(&o, &["eval failed (seed 0, contamination 0)", "without reporting every run"]);
}
