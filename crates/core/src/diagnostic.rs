//! Findings about a file: what is wrong, where, and how to fix it.
//!
//! Every rule has a stable code (`E012`, `W101`, ...) so CI logs, docs and
//! suppressions can refer to it. Codes are never reused for another meaning.

use serde::Serialize;
use std::fmt;

/// A 1-based line and column in a source file (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub const START: Pos = Pos { line: 1, column: 1 };

    pub fn new(line: u32, column: u32) -> Self {
        Pos { line, column }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $id:literal, $sev:ident, $title:literal; )*) => {
        /// Every rule `promptops validate` checks. The table in
        /// `docs/prompt-format.md` lists the same codes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $( $(#[$doc])* $variant, )* }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable identifier, e.g. `E012`.
            pub fn id(self) -> &'static str {
                match self { $( Code::$variant => $id, )* }
            }

            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$sev, )* }
            }

            /// One line saying what the rule is about.
            pub fn title(self) -> &'static str {
                match self { $( Code::$variant => $title, )* }
            }
        }
    };
}

codes! {
    Unreadable = "E001", Error, "the file cannot be read";
    EmptyFile = "E002", Error, "the file is empty";
    NotUtf8 = "E003", Error, "the file is not valid UTF-8";
    YamlSyntax = "E004", Error, "YAML syntax error (or a document over the size limits)";
    DuplicateKey = "E005", Error, "a key appears twice in one mapping";
    NotAMapping = "E006", Error, "the document is not a single YAML mapping";
    MissingField = "E007", Error, "a required field is missing";
    WrongType = "E008", Error, "a field has the wrong type";
    BadVersion = "E009", Error, "a version is not semver (MAJOR.MINOR.PATCH or a bare integer)";
    ParentNotLower = "E010", Error, "`parent` is not lower than `version`";
    IdMismatch = "E011", Error, "`id` is malformed or does not match the file's path";
    UndeclaredVariable = "E012", Error, "a template uses a variable that is not declared";
    DuplicateId = "E013", Error, "two files declare the same prompt id";
    TemplateOrMessages = "E014", Error, "a prompt needs exactly one of `template` or `messages`";
    BadMessage = "E015", Error, "a chat message has a bad role or shape";
    TemplateSyntax = "E016", Error, "template syntax error";
    ComplianceMissing = "E017", Error, "a compliance field required for the risk tier is missing";
    Secret = "E018", Error, "a secret (API key, private key, token) is in the file";
    InvalidValue = "E019", Error, "a value is outside what the field allows";
    BadModel = "E020", Error, "the model binding is malformed";
    BadVariable = "E021", Error, "a variable declaration is malformed";
    UnknownKey = "W101", Warning, "a key that promptops does not know (often a typo)";
    UnusedVariable = "W102", Warning, "a declared variable is never used";
    MissingDescription = "W103", Warning, "`description` is missing";
    RequiredWithDefault = "W104", Warning, "a variable is `required` but also has a `default`";
    InferredVariables = "W105", Warning, "no `variables` block: variables were inferred from the template";
    PersonalData = "W106", Warning, "personal data (an email, phone, card, IBAN, IP address, national id) is in the prompt's text";
    InjectionPhrase = "W107", Warning, "the prompt's text reads as a prompt-injection attempt";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// One finding, ready to print as `path:line:col: error[E012]: message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// How to fix it, when there is something more useful to say than the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(path: impl Into<String>, pos: Pos, code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.into(),
            line: pos.line,
            column: pos.column,
            code,
            severity: code.severity(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}[{}]: {}",
            self.path, self.line, self.column, self.severity, self.code, self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  = help: {hint}")?;
        }
        Ok(())
    }
}

/// Collects the findings for one file; every rule pushes here instead of returning early,
/// so a run reports everything at once.
#[derive(Debug, Default)]
pub struct Findings {
    path: String,
    items: Vec<Diagnostic>,
}

impl Findings {
    pub fn new(path: impl Into<String>) -> Self {
        Findings {
            path: path.into(),
            items: Vec::new(),
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn push(&mut self, pos: Pos, code: Code, message: impl Into<String>) {
        self.items
            .push(Diagnostic::new(self.path.clone(), pos, code, message));
    }

    pub fn push_hint(
        &mut self,
        pos: Pos,
        code: Code,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.items
            .push(Diagnostic::new(self.path.clone(), pos, code, message).with_hint(hint));
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn into_vec(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|a| (a.line, a.column, a.code));
        self.items
    }

    pub fn as_slice(&self) -> &[Diagnostic] {
        &self.items
    }
}

/// Suggests the closest known name for a misspelt one ("did you mean `owner`?").
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (c, strsim::jaro_winkler(word, c)))
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

/// A value someone sent, as quoted back in a message: whole if short, else its first 64
/// characters and its length (an attacker's megabyte-long name must not come back in
/// full).
pub fn shown(value: &str) -> String {
    const KEEP: usize = 64;
    match value.char_indices().nth(KEEP) {
        Some((at, _)) => format!("{}… ({} bytes)", &value[..at], value.len()),
        None => value.to_owned(),
    }
}
