//! Accuracy of the complaint classifier on the labelled set `data/labelled_complaints.jsonl`.
//!
//! Run with `cargo test -p aftercare-shared --test classification -- --nocapture` to see the
//! table. The bar: 90% of categories right overall, and every urgent case found (a missed
//! swollen face or a baby's rash is the one mistake the desk cannot afford).

use aftercare::classify::{ComplaintContext, classify};
use aftercare::complaint::{Category, Severity};
use serde::Deserialize;

const LABELLED_SET: &str = include_str!("../data/labelled_complaints.jsonl");

const MIN_ACCURACY: f64 = 0.90;
const MIN_URGENT_RECALL: f64 = 1.0;

#[derive(Debug, Deserialize)]
struct Labelled {
    text: String,
    category: Category,
    severity: Severity,
    lang: Lang,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Lang {
    Zh,
    En,
    Mixed,
}

fn labelled_set() -> Vec<Labelled> {
    LABELLED_SET
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("line {}: {err}: {line}", number + 1))
        })
        .collect()
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        100.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

#[test]
fn the_labelled_set_covers_every_category_and_language() {
    let set = labelled_set();
    assert!(
        set.len() >= 120,
        "{} labelled complaints, want 120",
        set.len()
    );
    for category in Category::BY_SERIOUSNESS {
        let count = set.iter().filter(|l| l.category == category).count();
        assert!(count >= 8, "{category}: {count} examples, want 8");
    }
    let urgent = set
        .iter()
        .filter(|l| l.severity == Severity::Urgent)
        .count();
    assert!(urgent >= 15, "{urgent} urgent examples, want 15");
    for lang in [Lang::Zh, Lang::En, Lang::Mixed] {
        assert!(set.iter().any(|l| l.lang == lang), "no {lang:?} examples");
    }
    // Urgency is for reactions only: a label saying otherwise is a labelling mistake.
    for labelled in &set {
        assert!(
            labelled.severity == Severity::Normal || labelled.category == Category::AdverseReaction,
            "urgent but not an adverse reaction: {}",
            labelled.text
        );
    }
}

#[test]
fn classifier_accuracy_on_the_labelled_set() {
    let set = labelled_set();
    let context = ComplaintContext::default();

    let mut per_category = [(0usize, 0usize); Category::BY_SERIOUSNESS.len()];
    let (mut urgent_found, mut urgent_missed, mut urgent_false) = (0usize, 0usize, 0usize);
    let mut mistakes = Vec::new();
    for labelled in &set {
        let result = classify(&labelled.text, &context);
        let rank = Category::BY_SERIOUSNESS
            .iter()
            .position(|&c| c == labelled.category)
            .expect("every category is ranked");
        per_category[rank].1 += 1;
        if result.category == labelled.category {
            per_category[rank].0 += 1;
        }
        match (labelled.severity, result.severity) {
            (Severity::Urgent, Severity::Urgent) => urgent_found += 1,
            (Severity::Urgent, Severity::Normal) => urgent_missed += 1,
            (Severity::Normal, Severity::Urgent) => urgent_false += 1,
            (Severity::Normal, Severity::Normal) => {}
        }
        if result.category != labelled.category || result.severity != labelled.severity {
            mistakes.push((labelled, result));
        }
    }

    println!();
    println!("{:<24} {:>9} {:>8}", "category", "correct", "percent");
    for (category, (correct, total)) in Category::BY_SERIOUSNESS.into_iter().zip(per_category) {
        println!(
            "{:<24} {:>4}/{:<4} {:>7.1}%",
            category.as_str(),
            correct,
            total,
            percent(correct, total)
        );
    }
    let correct: usize = per_category.iter().map(|(correct, _)| correct).sum();
    let accuracy = percent(correct, set.len());
    println!(
        "{:<24} {:>4}/{:<4} {:>7.1}%",
        "overall",
        correct,
        set.len(),
        accuracy
    );
    let urgent_recall = percent(urgent_found, urgent_found + urgent_missed);
    let urgent_precision = percent(urgent_found, urgent_found + urgent_false);
    println!(
        "urgent recall {urgent_found}/{} = {urgent_recall:.1}%, precision {urgent_found}/{} = {urgent_precision:.1}%",
        urgent_found + urgent_missed,
        urgent_found + urgent_false,
    );
    if !mistakes.is_empty() {
        println!("\nmisclassified ({}):", mistakes.len());
        for (labelled, result) in &mistakes {
            println!(
                "  want {}/{:?}, got {}/{:?} {:?}: {}",
                labelled.category,
                labelled.severity,
                result.category,
                result.severity,
                result.evidence,
                labelled.text
            );
        }
    }

    assert!(
        accuracy >= MIN_ACCURACY * 100.0,
        "category accuracy {accuracy:.1}% is below {:.0}%",
        MIN_ACCURACY * 100.0
    );
    assert!(
        urgent_recall >= MIN_URGENT_RECALL * 100.0,
        "urgent recall {urgent_recall:.1}% is below {:.0}%",
        MIN_URGENT_RECALL * 100.0
    );
}
