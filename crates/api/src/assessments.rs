//! What is recorded about a version beyond its eval runs: red-team reports (attacks
//! run against the prompt, each mapped to an OWASP Top 10 for LLM Applications 2025
//! risk) and compatibility results (how the version does on each model).
//!
//! The server never takes a client's totals on trust: [`RedteamReport::tally`] and
//! [`CompatibilityThresholds::verdict`] recompute them from the cases and counts sent,
//! and a report whose stated summary disagrees is refused.

use promptops_core::prompt::Compatibility;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The `format` of a red-team report this version of promptops writes and reads.
pub const REDTEAM_FORMAT: &str = "promptops-redteam/1";

/// The OWASP Top 10 for LLM Applications 2025, id and name, in order.
pub const OWASP_LLM_2025: [(&str, &str); 10] = [
    ("LLM01", "Prompt Injection"),
    ("LLM02", "Sensitive Information Disclosure"),
    ("LLM03", "Supply Chain"),
    ("LLM04", "Data and Model Poisoning"),
    ("LLM05", "Improper Output Handling"),
    ("LLM06", "Excessive Agency"),
    ("LLM07", "System Prompt Leakage"),
    ("LLM08", "Vector and Embedding Weaknesses"),
    ("LLM09", "Misinformation"),
    ("LLM10", "Unbounded Consumption"),
];

/// The name of an OWASP LLM 2025 risk id (`LLM01` → "Prompt Injection").
pub fn owasp_name(id: &str) -> Option<&'static str> {
    OWASP_LLM_2025
        .iter()
        .find(|(risk, _)| *risk == id)
        .map(|(_, name)| *name)
}

/// How an attack reaches the model.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AttackTechnique {
    /// The attack is the user's own input.
    Direct,
    /// The attack hides in content the prompt retrieves (a document, a search result).
    Indirect,
    /// The attack is encoded (base64, rot13, leetspeak, homoglyphs) to slip past filters.
    Encoded,
    /// The attack is spread over several conversation turns.
    MultiTurn,
}

/// One attack and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RedteamCase {
    /// Unique within the report, e.g. `LLM01-direct-question-3`.
    pub id: String,
    /// The OWASP LLM 2025 risk id it probes (`LLM01`…`LLM10`).
    pub risk: String,
    pub technique: AttackTechnique,
    /// The prompt variable that carried the attack (`None`: not through a variable).
    #[serde(default)]
    pub variable: Option<String>,
    /// What the attack tries to make the model do, in a sentence.
    pub goal: String,
    /// What was sent: the variables, and for multi-turn attacks the earlier turns.
    #[schema(value_type = Object)]
    pub input: Json,
    /// What the model answered (`None` when the call failed).
    #[serde(default)]
    pub output: Option<String>,
    /// Whether the attack achieved its goal.
    pub succeeded: bool,
    /// Whether the answer leaked personal data the attack planted or asked for.
    #[serde(default)]
    pub pii_leak: bool,
    /// Why the case was judged as it was.
    pub reason: String,
    /// The provider's error when the call failed; such a case is neither a success nor
    /// a failure of the attack.
    #[serde(default)]
    pub error: Option<String>,
}

/// One risk's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RiskSummary {
    pub id: String,
    pub name: String,
    pub cases: u64,
    pub succeeded: u64,
    pub errors: u64,
    /// Successful attacks over judged cases (cases minus errors); `None` when none was
    /// judged.
    pub attack_success_rate: Option<f64>,
    /// Why the risk was not tested (`None`: it was).
    pub not_applicable: Option<String>,
}

/// A red-team report's totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RedteamSummary {
    pub cases: u64,
    pub succeeded: u64,
    pub errors: u64,
    /// Successful attacks over judged cases; `None` when none was judged.
    pub attack_success_rate: Option<f64>,
    /// Cases whose answer leaked personal data.
    pub pii_leaks: u64,
    /// Every OWASP LLM 2025 risk, in order.
    pub risks: Vec<RiskSummary>,
}

/// A red-team run against one prompt version: what `promptops redteam` writes and
/// `--publish` sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RedteamReport {
    /// Always [`REDTEAM_FORMAT`].
    pub format: String,
    pub prompt_id: String,
    pub version: String,
    /// The content hash of the version attacked.
    #[serde(default)]
    pub content_hash: Option<String>,
    /// The provider the attacks ran against, e.g. `openai:gpt-4o-mini`.
    pub provider: String,
    /// RFC 3339.
    pub generated_at: String,
    /// Risk id → why it was not tested (no retrieval variable for LLM08, …).
    #[serde(default)]
    pub not_applicable: BTreeMap<String, String>,
    pub cases: Vec<RedteamCase>,
    pub summary: RedteamSummary,
}

/// Why a red-team report cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportProblem {
    Format(String),
    UnknownRisk { case: String, risk: String },
    DuplicateCase(String),
    NotApplicableButTested(String),
    SummaryMismatch,
}

impl std::fmt::Display for ReportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportProblem::Format(found) => write!(
                f,
                "format is `{found}`, not `{REDTEAM_FORMAT}`; write the report with this version of promptops"
            ),
            ReportProblem::UnknownRisk { case, risk } => write!(
                f,
                "case `{case}` names risk `{risk}`, which is not an OWASP LLM 2025 id (LLM01…LLM10)"
            ),
            ReportProblem::DuplicateCase(id) => write!(f, "case id `{id}` appears twice"),
            ReportProblem::NotApplicableButTested(risk) => write!(
                f,
                "risk {risk} is marked not applicable but has cases; drop one or the other"
            ),
            ReportProblem::SummaryMismatch => f.write_str(
                "the summary does not match the cases (recomputed from the cases it differs); send the report as written",
            ),
        }
    }
}

impl RedteamReport {
    /// The summary of `cases`, every OWASP risk in order, those in `not_applicable`
    /// carrying their reason.
    pub fn tally(
        cases: &[RedteamCase],
        not_applicable: &BTreeMap<String, String>,
    ) -> RedteamSummary {
        let risks = OWASP_LLM_2025
            .iter()
            .map(|(id, name)| {
                let mine: Vec<&RedteamCase> = cases.iter().filter(|c| c.risk == *id).collect();
                let (succeeded, errors) = counts(&mine);
                RiskSummary {
                    id: (*id).to_owned(),
                    name: (*name).to_owned(),
                    cases: mine.len() as u64,
                    succeeded,
                    errors,
                    attack_success_rate: rate(succeeded, mine.len() as u64 - errors),
                    not_applicable: not_applicable.get(*id).cloned(),
                }
            })
            .collect();
        let all: Vec<&RedteamCase> = cases.iter().collect();
        let (succeeded, errors) = counts(&all);
        RedteamSummary {
            cases: cases.len() as u64,
            succeeded,
            errors,
            attack_success_rate: rate(succeeded, cases.len() as u64 - errors),
            pii_leaks: cases
                .iter()
                .filter(|c| c.pii_leak && c.error.is_none())
                .count() as u64,
            risks,
        }
    }

    /// Checks the report: its format, every case's risk, unique ids, and that the
    /// summary is what the cases add up to.
    pub fn check(&self) -> Result<(), ReportProblem> {
        if self.format != REDTEAM_FORMAT {
            return Err(ReportProblem::Format(self.format.clone()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for case in &self.cases {
            if owasp_name(&case.risk).is_none() {
                return Err(ReportProblem::UnknownRisk {
                    case: case.id.clone(),
                    risk: case.risk.clone(),
                });
            }
            if !seen.insert(case.id.as_str()) {
                return Err(ReportProblem::DuplicateCase(case.id.clone()));
            }
        }
        for risk in self.not_applicable.keys() {
            if owasp_name(risk).is_none() {
                return Err(ReportProblem::UnknownRisk {
                    case: "not_applicable".into(),
                    risk: risk.clone(),
                });
            }
            if self.cases.iter().any(|c| &c.risk == risk) {
                return Err(ReportProblem::NotApplicableButTested(risk.clone()));
            }
        }
        if !same_summary(
            &self.summary,
            &Self::tally(&self.cases, &self.not_applicable),
        ) {
            return Err(ReportProblem::SummaryMismatch);
        }
        Ok(())
    }
}

/// Successes and errors among `cases` (an errored case never counts as a success).
fn counts(cases: &[&RedteamCase]) -> (u64, u64) {
    let errors = cases.iter().filter(|c| c.error.is_some()).count() as u64;
    let succeeded = cases
        .iter()
        .filter(|c| c.error.is_none() && c.succeeded)
        .count() as u64;
    (succeeded, errors)
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Summaries compare with slack on the rates (they went through JSON).
fn same_summary(a: &RedteamSummary, b: &RedteamSummary) -> bool {
    let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        (None, None) => true,
        _ => false,
    };
    a.cases == b.cases
        && a.succeeded == b.succeeded
        && a.errors == b.errors
        && a.pii_leaks == b.pii_leaks
        && close(a.attack_success_rate, b.attack_success_rate)
        && a.risks.len() == b.risks.len()
        && a.risks.iter().zip(&b.risks).all(|(x, y)| {
            x.id == y.id
                && x.cases == y.cases
                && x.succeeded == y.succeeded
                && x.errors == y.errors
                && x.not_applicable == y.not_applicable
                && close(x.attack_success_rate, y.attack_success_rate)
        })
}

/// A stored red-team report's summary (the full report is at
/// `/v1/projects/{project}/redteam/{run}/report`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RedteamRun {
    pub id: u64,
    pub prompt_id: String,
    pub version: String,
    pub provider: String,
    pub summary: RedteamSummary,
    /// The user who attached it.
    pub actor: String,
    pub created_at: String,
}

// ----- compatibility -------------------------------------------------------------------

/// How a version does on a model: `works`, `needs-tuning` or `not-supported`, the words
/// a prompt file's `model.compatibility` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CompatibilityVerdict {
    Works,
    NeedsTuning,
    NotSupported,
}

impl CompatibilityVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityVerdict::Works => "works",
            CompatibilityVerdict::NeedsTuning => "needs-tuning",
            CompatibilityVerdict::NotSupported => "not-supported",
        }
    }
}

impl From<Compatibility> for CompatibilityVerdict {
    fn from(c: Compatibility) -> Self {
        match c {
            Compatibility::Works => CompatibilityVerdict::Works,
            Compatibility::NeedsTuning => CompatibilityVerdict::NeedsTuning,
            Compatibility::NotSupported => CompatibilityVerdict::NotSupported,
        }
    }
}

/// The pass rates that divide the verdicts: at least `works` → works, at least
/// `needs_tuning` → needs-tuning, below → not-supported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompatibilityThresholds {
    pub works: f64,
    pub needs_tuning: f64,
}

impl Default for CompatibilityThresholds {
    fn default() -> Self {
        CompatibilityThresholds {
            works: 0.9,
            needs_tuning: 0.6,
        }
    }
}

impl CompatibilityThresholds {
    /// Why these thresholds cannot be used, if they cannot.
    pub fn problem(&self) -> Option<String> {
        let in_range = |x: f64| (0.0..=1.0).contains(&x);
        if !in_range(self.works) || !in_range(self.needs_tuning) {
            return Some(format!(
                "thresholds must be pass rates between 0 and 1 (works {}, needs_tuning {})",
                self.works, self.needs_tuning
            ));
        }
        if self.needs_tuning > self.works {
            return Some(format!(
                "needs_tuning ({}) is above works ({}); it must be at most works",
                self.needs_tuning, self.works
            ));
        }
        None
    }

    /// The verdict for these counts. A model every case of which errored (an unknown
    /// model, a refused request) is not supported.
    pub fn verdict(&self, passed: u64, failed: u64, errors: u64) -> CompatibilityVerdict {
        let total = passed + failed + errors;
        if total == 0 || passed + failed == 0 {
            return CompatibilityVerdict::NotSupported;
        }
        let rate = passed as f64 / total as f64;
        if rate + 1e-9 >= self.works {
            CompatibilityVerdict::Works
        } else if rate + 1e-9 >= self.needs_tuning {
            CompatibilityVerdict::NeedsTuning
        } else {
            CompatibilityVerdict::NotSupported
        }
    }
}

/// One model's results in a matrix run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelResult {
    /// `provider:model`, e.g. `openai:gpt-4o-mini`.
    pub model: String,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    /// What the client concluded; the server recomputes it from the counts and the
    /// thresholds and refuses a disagreement.
    pub verdict: CompatibilityVerdict,
}

/// What `promptops eval --matrix --publish` sends for one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishCompatibility {
    /// The suite that was run (its path or description).
    pub suite: String,
    #[serde(default)]
    pub thresholds: CompatibilityThresholds,
    pub results: Vec<ModelResult>,
}

/// One recorded result of a version on a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompatibilityRecord {
    pub id: u64,
    pub model: String,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    pub pass_rate: Option<f64>,
    pub verdict: CompatibilityVerdict,
    pub thresholds: CompatibilityThresholds,
    pub suite: String,
    pub actor: String,
    pub created_at: String,
}

/// One model's row of a version's matrix: what was measured (newest) and what the
/// prompt file declares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MatrixCell {
    pub model: String,
    pub recorded: Option<CompatibilityRecord>,
    pub declared: Option<CompatibilityVerdict>,
    /// Whether the measured verdict is the declared one (`None`: one of them is missing).
    pub agrees: Option<bool>,
}

/// A version's compatibility matrix, one row per model recorded or declared, sorted by
/// model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompatibilityMatrix {
    pub prompt_id: String,
    pub version: String,
    pub models: Vec<MatrixCell>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn case(id: &str, risk: &str, succeeded: bool, error: bool, pii: bool) -> RedteamCase {
        RedteamCase {
            id: id.into(),
            risk: risk.into(),
            technique: AttackTechnique::Direct,
            variable: Some("question".into()),
            goal: "g".into(),
            input: json!({}),
            output: (!error).then(|| "o".to_owned()),
            succeeded,
            pii_leak: pii,
            reason: "r".into(),
            error: error.then(|| "timeout".to_owned()),
        }
    }

    #[test]
    fn tally_counts_per_risk_and_leaves_errors_out_of_the_rate() {
        let cases = [
            case("a", "LLM01", true, false, false),
            case("b", "LLM01", false, false, false),
            case("c", "LLM01", true, true, true),
            case("d", "LLM02", false, false, true),
        ];
        let na = BTreeMap::from([("LLM08".to_owned(), "no retrieval variable".to_owned())]);
        let s = RedteamReport::tally(&cases, &na);
        assert_eq!((s.cases, s.succeeded, s.errors, s.pii_leaks), (4, 1, 1, 1));
        assert_eq!(s.attack_success_rate, Some(1.0 / 3.0));
        assert_eq!(s.risks.len(), 10);
        assert_eq!(s.risks[0].attack_success_rate, Some(0.5));
        assert_eq!(s.risks[2].attack_success_rate, None);
        assert_eq!(
            s.risks[7].not_applicable.as_deref(),
            Some("no retrieval variable")
        );
    }

    #[test]
    fn check_refuses_a_summary_that_is_not_the_cases() {
        let cases = vec![case("a", "LLM01", true, false, false)];
        let mut report = RedteamReport {
            format: REDTEAM_FORMAT.into(),
            prompt_id: "p".into(),
            version: "1.0.0".into(),
            content_hash: None,
            provider: "echo".into(),
            generated_at: "2026-12-03T00:00:00Z".into(),
            not_applicable: BTreeMap::new(),
            summary: RedteamReport::tally(&cases, &BTreeMap::new()),
            cases,
        };
        assert_eq!(report.check(), Ok(()));
        report.summary.succeeded = 0;
        assert_eq!(report.check(), Err(ReportProblem::SummaryMismatch));
        report.summary = RedteamReport::tally(&report.cases, &BTreeMap::new());
        report.cases[0].risk = "LLM11".into();
        assert!(matches!(
            report.check(),
            Err(ReportProblem::UnknownRisk { .. })
        ));
    }

    #[test]
    fn verdicts_follow_the_thresholds() {
        let t = CompatibilityThresholds::default();
        assert_eq!(t.verdict(9, 1, 0), CompatibilityVerdict::Works);
        assert_eq!(t.verdict(6, 4, 0), CompatibilityVerdict::NeedsTuning);
        assert_eq!(t.verdict(5, 5, 0), CompatibilityVerdict::NotSupported);
        assert_eq!(t.verdict(0, 0, 3), CompatibilityVerdict::NotSupported);
        assert_eq!(t.verdict(0, 0, 0), CompatibilityVerdict::NotSupported);
        assert!(
            CompatibilityThresholds {
                works: 0.5,
                needs_tuning: 0.7
            }
            .problem()
            .is_some()
        );
        assert!(
            CompatibilityThresholds {
                works: 1.5,
                needs_tuning: 0.7
            }
            .problem()
            .is_some()
        );
    }
}
