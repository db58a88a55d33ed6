//! The architecture, checked: `domain`, `ports` and `app` use no AWS, HTTP or Lambda crate, and
//! `domain` depends on nothing but itself. Only `adapters` (and the functions) talk to the outside.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed unwrap is a failed test
use std::fs;
use std::path::Path;

const OUTSIDE: [&str; 9] =
    ["aws_", "lambda_", "axum", "reqwest", "http::", "hyper", "serde_dynamo", "openidconnect", "tokio::net"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn violations(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(layer);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "layer {layer} has sources");
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("readable");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for f in forbidden {
                if code.contains(f) {
                    found.push(format!("{}:{}: uses {f}", file.display(), n + 1));
                }
            }
        }
    }
    found
}

#[test]
fn inner_layers_use_no_outside_crates() {
    let mut all = Vec::new();
    for layer in ["domain", "ports", "app", "fakes"] {
        all.extend(violations(layer, &OUTSIDE));
    }
    assert!(all.is_empty(), "layering violations:\n{}", all.join("\n"));
}

#[test]
fn domain_depends_on_no_other_layer() {
    let found = violations("domain", &["crate::ports", "crate::app", "crate::adapters", "crate::fakes"]);
    assert!(found.is_empty(), "domain reaches outward:\n{}", found.join("\n"));
}

#[test]
fn ports_and_app_do_not_reach_adapters() {
    let mut found = violations("ports", &["crate::app", "crate::adapters"]);
    found.extend(violations("app", &["crate::adapters"]));
    assert!(found.is_empty(), "{}", found.join("\n"));
}
