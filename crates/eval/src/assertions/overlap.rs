//! Reference-overlap scores: `rouge-n` (ROUGE-1 F1 over treebank-style tokens) and
//! `bleu` (BLEU-4 with clipped counts and a brevity penalty), as promptfoo computes them.

use super::{Assertion, AssertionError, ComponentResult};
use crate::js_number;
use serde_json::Value as Json;
use std::collections::HashMap;

pub fn rouge_n(a: &Assertion, out: &str) -> Result<ComponentResult, AssertionError> {
    let Some(Json::String(reference)) = &a.value else {
        return Err(AssertionError(
            "\"rouge\" assertion type must be a string value".into(),
        ));
    };
    let score = rouge_1_f1(&out.to_lowercase(), &reference.to_lowercase());
    let threshold = a.threshold.unwrap_or(0.75);
    let above = score >= threshold;
    let verdict = if above {
        "greater than or equal to"
    } else {
        "less than"
    };
    // promptfoo sets this reason even when the assertion passes.
    let reason = format!(
        "ROUGE-N score {score:.2} is {verdict} threshold {}",
        js_number(threshold)
    );
    Ok(a.verdict(
        above != a.inverse,
        if a.inverse { 1.0 - score } else { score },
        reason,
        Default::default(),
    ))
}

pub fn bleu(a: &Assertion, out: &str) -> Result<ComponentResult, AssertionError> {
    let references: Vec<&str> = match &a.value {
        Some(Json::String(s)) => vec![s.as_str()],
        Some(Json::Array(items)) if items.iter().all(Json::is_string) && !items.is_empty() => {
            items.iter().filter_map(Json::as_str).collect()
        }
        _ => {
            return Err(AssertionError(
                "\"bleu\" assertion type must have a string or array of strings value".into(),
            ));
        }
    };
    let threshold = a.threshold.unwrap_or(0.5);
    let score = bleu_4(out, &references);
    let pass = (score >= threshold) != a.inverse;
    let reason = if pass {
        "Assertion passed".to_owned()
    } else {
        format!(
            "BLEU score {score:.4} is {} than threshold {}",
            if a.inverse { "greater" } else { "less" },
            js_number(threshold)
        )
    };
    Ok(a.verdict(
        pass,
        if a.inverse { 1.0 - score } else { score },
        reason,
        Default::default(),
    ))
}

/// ROUGE-1 F1 with clipped unigram counts.
fn rouge_1_f1(candidate: &str, reference: &str) -> f64 {
    let cand = treebank_tokens(candidate);
    let refs = treebank_tokens(reference);
    if cand.is_empty() || refs.is_empty() {
        return 0.0;
    }
    let overlap = clipped_overlap(&cand, &refs);
    if overlap == 0 {
        return 0.0;
    }
    let precision = overlap as f64 / cand.len() as f64;
    let recall = overlap as f64 / refs.len() as f64;
    if precision == recall {
        return precision;
    }
    2.0 * precision * recall / (precision + recall)
}

fn clipped_overlap<T: std::hash::Hash + Eq>(candidate: &[T], reference: &[T]) -> usize {
    let mut ref_counts: HashMap<&T, usize> = HashMap::new();
    for t in reference {
        *ref_counts.entry(t).or_default() += 1;
    }
    let mut cand_counts: HashMap<&T, usize> = HashMap::new();
    for t in candidate {
        *cand_counts.entry(t).or_default() += 1;
    }
    cand_counts
        .iter()
        .map(|(t, n)| (*n).min(ref_counts.get(t).copied().unwrap_or(0)))
        .sum()
}

/// Penn-Treebank-style tokens: punctuation and clitics (`'s`, `n't`) split from words.
fn treebank_tokens(text: &str) -> Vec<String> {
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut spaced = String::with_capacity(collapsed.len() * 2);
    let chars: Vec<char> = collapsed.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '.' if chars[i..].starts_with(&['.', '.', '.']) => {
                spaced.push_str(" ... ");
                i += 3;
                continue;
            }
            // A final period (possibly before closing brackets or quotes) is its own token.
            '.' if chars[i + 1..]
                .iter()
                .all(|c| matches!(c, ')' | ']' | '}' | '>' | '\'' | ' ')) =>
            {
                spaced.push_str(" . ");
            }
            ':' | ',' if !next.is_some_and(|n| n.is_ascii_digit()) => {
                spaced.push(' ');
                spaced.push(c);
                spaced.push(' ');
            }
            ';' | '@' | '#' | '$' | '%' | '&' | '?' | '!' | '(' | ')' | '[' | ']' | '{' | '}'
            | '<' | '>' | '"' => {
                spaced.push(' ');
                spaced.push(c);
                spaced.push(' ');
            }
            _ => spaced.push(c),
        }
        i += 1;
    }
    let mut tokens = Vec::new();
    for word in spaced.split_whitespace() {
        split_clitics(word, &mut tokens);
    }
    tokens
}

fn split_clitics(word: &str, tokens: &mut Vec<String>) {
    let lower = word.to_lowercase();
    for clitic in ["n't", "'ll", "'re", "'ve", "'s", "'m", "'d"] {
        if lower.len() > clitic.len() && lower.ends_with(clitic) {
            let cut = word.len() - clitic.len();
            tokens.push(word[..cut].to_owned());
            tokens.push(word[cut..].to_owned());
            return;
        }
    }
    if let Some(stem) = word.strip_suffix('\'').filter(|s| !s.is_empty()) {
        tokens.push(stem.to_owned());
        tokens.push("'".to_owned());
        return;
    }
    match lower.as_str() {
        "cannot" | "gonna" | "gotta" | "wanna" | "gimme" | "lemme" => {
            let cut = if lower == "cannot" {
                3
            } else {
                lower.len() - 2
            };
            tokens.push(word[..cut].to_owned());
            tokens.push(word[cut..].to_owned());
        }
        _ => tokens.push(word.to_owned()),
    }
}

/// BLEU-4 (uniform weights) of `candidate` against the closest-length reference.
fn bleu_4(candidate: &str, references: &[&str]) -> f64 {
    if candidate.trim().is_empty() {
        return 0.0;
    }
    let words = |s: &str| -> Vec<String> {
        s.to_lowercase()
            .trim()
            .split(char::is_whitespace)
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let cand = words(candidate);
    let refs: Vec<Vec<String>> = references.iter().map(|r| words(r)).collect();
    let closest = refs
        .iter()
        .map(Vec::len)
        .reduce(|best, len| {
            let (d_len, d_best) = (len.abs_diff(cand.len()), best.abs_diff(cand.len()));
            if d_len < d_best || (d_len == d_best && len < best) {
                len
            } else {
                best
            }
        })
        .unwrap_or(0);
    let mut log_sum = 0.0;
    let mut weight_sum = 0.0;
    for n in 1..=4 {
        let cand_grams = ngrams(&cand, n);
        if cand_grams.is_empty() {
            continue;
        }
        let best = refs
            .iter()
            .map(|r| clipped_overlap(&cand_grams, &ngrams(r, n)))
            .max()
            .unwrap_or(0);
        let precision = best as f64 / cand_grams.len() as f64;
        log_sum += 0.25
            * if precision == 0.0 {
                1e-7_f64
            } else {
                precision
            }
            .ln();
        weight_sum += 0.25;
    }
    if weight_sum == 0.0 {
        return 0.0;
    }
    let brevity = if cand.len() > closest {
        1.0
    } else {
        (1.0 - closest as f64 / cand.len() as f64).exp()
    };
    brevity * (log_sum / weight_sum).exp()
}

fn ngrams(words: &[String], n: usize) -> Vec<&[String]> {
    if n == 0 || n > words.len() {
        return Vec::new();
    }
    words.windows(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn rouge_scores() {
        assert!(close(rouge_1_f1("the cat sat", "the cat sat"), 1.0));
        // 2 of 3 candidate tokens match, 2 of 4 reference tokens: F1 = 2·(2/3·1/2)/(2/3+1/2).
        assert!(close(
            rouge_1_f1("the cat ran", "the cat sat down"),
            2.0 * (2.0 / 3.0) * 0.5 / (2.0 / 3.0 + 0.5)
        ));
        assert!(close(rouge_1_f1("a b", "c d"), 0.0));
        // Repeated words are clipped.
        assert!(close(
            rouge_1_f1("the the the", "the cat"),
            2.0 * (1.0 / 3.0) * 0.5 / (1.0 / 3.0 + 0.5)
        ));
        assert_eq!(
            treebank_tokens("Hello, world! It's John's (test)."),
            [
                "Hello", ",", "world", "!", "It", "'s", "John", "'s", "(", "test", ")", "."
            ]
        );
        assert_eq!(treebank_tokens("I can't go"), ["I", "ca", "n't", "go"]);
        assert_eq!(
            treebank_tokens("3,000 items: 1.5"),
            ["3,000", "items", ":", "1.5"]
        );
    }

    #[test]
    fn rouge_assertion() {
        let a = Assertion::new("rouge-n", Some(json!("The cat sat on the mat")));
        let r = rouge_n(&a, "the cat sat on the mat").unwrap();
        assert!(r.pass && close(r.score, 1.0));
        assert_eq!(
            r.reason,
            "ROUGE-N score 1.00 is greater than or equal to threshold 0.75"
        );
        let r = rouge_n(&a, "a dog").unwrap();
        assert!(!r.pass);
        assert_eq!(r.reason, "ROUGE-N score 0.00 is less than threshold 0.75");
        let inv = Assertion::new("not-rouge-n", Some(json!("The cat sat on the mat")));
        let r = rouge_n(&inv, "a dog").unwrap();
        assert!(r.pass && close(r.score, 1.0));
        assert!(rouge_n(&Assertion::new("rouge-n", Some(json!(["x"]))), "x").is_err());
    }

    #[test]
    fn bleu_scores() {
        assert!(close(
            bleu_4("the cat sat on the mat", &["the cat sat on the mat"]),
            1.0
        ));
        assert_eq!(bleu_4("   ", &["x"]), 0.0);
        // Too short for 3- and 4-grams: only the usable orders count.
        assert!(close(bleu_4("the cat", &["the cat"]), 1.0));
        // Brevity penalty: 2 words against a 4-word reference.
        let s = bleu_4("the cat", &["the cat sat down"]);
        assert!(close(s, (1.0f64 - 2.0).exp()), "{s}");
        // The closest reference length is used, and the best clipped count.
        let s = bleu_4("the cat sat down", &["the cat", "the cat sat down"]);
        assert!(close(s, 1.0), "{s}");
        let a = Assertion::new("bleu", Some(json!("the quick brown fox")));
        let r = bleu(&a, "a slow red dog").unwrap();
        assert!(!r.pass);
        assert!(r.reason.starts_with("BLEU score 0.0000"), "{}", r.reason);
        assert!(
            r.reason.ends_with("is less than threshold 0.5"),
            "{}",
            r.reason
        );
        let inv = Assertion::new("not-bleu", Some(json!("the quick brown fox")));
        assert!(bleu(&inv, "a slow red dog").unwrap().pass);
        assert!(bleu(&Assertion::new("bleu", Some(json!(3))), "x").is_err());
    }
}
