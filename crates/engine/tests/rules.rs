//! `docs/RULES.md` is the project's statement of its rules, and the code, the
//! tests and the docs cite them by ID. This keeps the three in step:
//!
//! - the rules RULES.md lists as built are exactly the variants of [`Rule`];
//! - every rule ID cited anywhere in the code or the tests is listed there;
//! - every rule listed as built is named by at least one test;
//! - no Rust code outside `lifecycle/rule.rs`, and no UI code, spells a rule
//!   ID as a string literal: decisions, history and logs carry a [`Rule`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use switchboard_engine::lifecycle::Rule;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A rule section of RULES.md: `### A-1 · Title`, with ` (planned)` at the
/// end for a rule of the contract that is not built yet.
#[derive(Debug)]
struct Listed {
    planned: bool,
}

fn listed_rules() -> BTreeMap<String, Listed> {
    let text = std::fs::read_to_string(repository().join("docs/RULES.md")).expect("docs/RULES.md exists");
    let mut rules = BTreeMap::new();
    for line in text.lines() {
        let Some(heading) = line.strip_prefix("### ") else { continue };
        let (id, title) =
            heading.split_once(" · ").unwrap_or_else(|| panic!("a rule heading is `### X-N · Title`: {line}"));
        assert!(rule_ids(id).first().is_some_and(|found| found == id), "not a rule ID: {line}");
        let planned = title.ends_with(" (planned)");
        assert!(rules.insert(id.to_owned(), Listed { planned }).is_none(), "{id} is listed twice");
    }
    rules
}

/// Every rule ID in `text`: a letter of a rule family, a dash and a number,
/// standing as a word of its own ("A-3", not "UTF-8" or "X-A-3").
fn rule_ids(text: &str) -> Vec<String> {
    const FAMILIES: &[u8] = b"ALDRQPOFHB";
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        let starts_word =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b'-');
        if !starts_word || !FAMILIES.contains(&b) || bytes.get(i + 1) != Some(&b'-') {
            continue;
        }
        let digits = bytes[i + 2..].iter().take_while(|c| c.is_ascii_digit()).count();
        let end = i + 2 + digits;
        let ends_word = bytes.get(end).is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'));
        if digits > 0 && ends_word {
            found.push(text[i..end].to_owned());
        }
    }
    found
}

/// The project's source files: Rust and TypeScript, without build output,
/// installed packages or generated files.
fn source_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if path.is_dir() {
                if !matches!(name.as_ref(), "target" | "node_modules" | "dist" | "gen" | ".git" | "test-output") {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") || (name.ends_with(".ts") && name != "bindings.ts") {
                out.push(path);
            }
        }
    }
    let root = repository();
    let mut files = Vec::new();
    for top in ["crates", "src-tauri", "tests", "ui/src", "ui/tests"] {
        if root.join(top).is_dir() {
            walk(&root.join(top), &mut files);
        }
    }
    assert!(files.len() > 20, "the sources were found under {}", root.display());
    files
}

/// The part of a file that is test code: a whole file under a `tests`
/// directory or named `*_tests.rs`, else whatever follows `#[cfg(test)]`.
fn test_code(path: &Path, text: &str) -> Option<String> {
    let in_tests_dir = path.components().any(|c| c.as_os_str() == "tests");
    let name = path.file_name().unwrap().to_string_lossy();
    if in_tests_dir || name.ends_with("_tests.rs") {
        return Some(text.to_owned());
    }
    text.find("#[cfg(test)]").map(|at| text[at..].to_owned())
}

#[test]
fn the_rules_listed_as_built_are_exactly_the_rule_type() {
    let listed = listed_rules();
    let built: Vec<&str> = listed.iter().filter(|(_, l)| !l.planned).map(|(id, _)| id.as_str()).collect();
    let typed: BTreeSet<&str> = Rule::ALL.iter().map(|rule| rule.id()).collect();
    assert_eq!(built.iter().copied().collect::<BTreeSet<_>>(), typed, "docs/RULES.md and `Rule` disagree");
}

#[test]
fn every_rule_id_cited_in_code_or_tests_is_in_rules_md() {
    let listed = listed_rules();
    let mut missing = BTreeMap::new();
    for path in source_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for id in rule_ids(&text) {
            if !listed.contains_key(&id) {
                missing.entry(id).or_insert_with(|| path.display().to_string());
            }
        }
    }
    assert!(missing.is_empty(), "rule IDs cited but missing from docs/RULES.md: {missing:?}");
}

#[test]
fn every_built_rule_has_a_test_that_names_it() {
    let mut tested = BTreeSet::new();
    for path in source_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        if let Some(code) = test_code(&path, &text) {
            tested.extend(rule_ids(&code));
        }
    }
    let untested: Vec<&str> = Rule::ALL.iter().map(|rule| rule.id()).filter(|id| !tested.contains(*id)).collect();
    assert!(untested.is_empty(), "built rules that no test names: {untested:?}");
}

#[test]
fn no_rule_id_is_a_string_literal_outside_the_rule_type() {
    let mut offenders = Vec::new();
    for path in source_files() {
        if path.ends_with("crates/engine/src/lifecycle/rule.rs") || path.ends_with("tests/rules.rs") {
            continue;
        }
        let in_ui_tests =
            path.components().any(|c| c.as_os_str() == "ui") && path.components().any(|c| c.as_os_str() == "tests");
        if in_ui_tests {
            // Test fixtures build typed DTOs, whose `rule` is the generated `RuleId` union.
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for id in rule_ids(&text) {
            for quote in ['"', '\''] {
                if text.contains(&format!("{quote}{id}{quote}")) {
                    offenders.push(format!("{}: {quote}{id}{quote}", path.display()));
                }
            }
        }
    }
    offenders.dedup();
    assert!(offenders.is_empty(), "rule IDs as string literals (use `Rule`): {offenders:#?}");
}

#[test]
fn the_rule_id_scanner_finds_ids_as_words_only() {
    assert_eq!(rule_ids("A-3, (L-2) and R-6."), ["A-3", "L-2", "R-6"]);
    assert!(rule_ids("UTF-8 X-A-3 A-b a-1 A3 BA-1 A-1x").is_empty());
}
