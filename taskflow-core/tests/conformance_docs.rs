//! The crate docs' list of conformance scenarios is generated from
//! `conformance::SCENARIOS` (the list `store_conformance!` expands) and each scenario's doc
//! comment, so the documentation cannot drift from what runs; and every scenario function
//! is in that list, so none is written and never run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use taskflow_core::conformance::SCENARIOS;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/conformance")
}

fn group_source(group: &str) -> String {
    let path = conformance_dir().join(format!("{group}.rs"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The `///` comment above `pub async fn {name}(`, joined into one line.
fn summary(source: &str, name: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(&format!("pub async fn {name}(")))
        .unwrap_or_else(|| panic!("no `pub async fn {name}(`"));
    let mut doc: Vec<&str> = lines[..at]
        .iter()
        .rev()
        .take_while(|l| l.starts_with("///"))
        .map(|l| l.trim_start_matches("///").trim())
        .collect();
    doc.reverse();
    assert!(!doc.is_empty(), "scenario {name} has no doc comment");
    doc.join(" ")
}

/// Names of the functions `pub async fn name(store: Arc<dyn Store>)` in `source`: the
/// shape of a scenario.
fn scenario_functions(source: &str) -> Vec<String> {
    let flat = source.split_whitespace().collect::<Vec<_>>().join(" ");
    flat.split("pub async fn ")
        .skip(1)
        .filter_map(|rest| {
            let (name, params) = rest.split_once('(')?;
            let params = params.split_once(')')?.0.trim().trim_end_matches(',');
            (params == "store: Arc<dyn Store>").then(|| name.to_owned())
        })
        .collect()
}

fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&str> = SCENARIOS.iter().map(|s| s.group).collect();
    groups.dedup();
    groups
}

#[test]
fn the_crate_docs_list_every_scenario_that_runs() {
    let mut block = format!(
        "//! The suite has {} scenarios; each store crate runs all of them, raw and cached.\n//!\n",
        SCENARIOS.len()
    );
    for group in groups() {
        let source = group_source(group);
        block.push_str(&format!("//! - **{group}**\n"));
        for s in SCENARIOS.iter().filter(|s| s.group == group) {
            block.push_str(&format!(
                "//!   - `{}`: {}\n",
                s.name,
                summary(&source, s.name)
            ));
        }
    }
    taskflow_test_support::generated::check_block(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"),
        "<!-- conformance-scenarios:",
        "<!-- /conformance-scenarios -->",
        &block,
    );
}

#[test]
fn every_scenario_function_is_in_the_list_once() {
    let listed: BTreeSet<(&str, &str)> = SCENARIOS.iter().map(|s| (s.group, s.name)).collect();
    assert_eq!(listed.len(), SCENARIOS.len(), "a scenario is listed twice");

    let mut defined = BTreeSet::new();
    for entry in std::fs::read_dir(conformance_dir()).unwrap() {
        let path = entry.unwrap().path();
        let group = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if group == "mod" {
            continue;
        }
        for name in scenario_functions(&std::fs::read_to_string(&path).unwrap()) {
            defined.insert((group.clone(), name));
        }
    }
    let listed: BTreeSet<(String, String)> = listed
        .into_iter()
        .map(|(g, n)| (g.to_owned(), n.to_owned()))
        .collect();
    assert_eq!(
        defined, listed,
        "scenario functions of src/conformance/ vs. the list in __conformance_scenarios!"
    );
}
