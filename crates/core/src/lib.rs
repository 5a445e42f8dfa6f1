//! promptops core: the prompt file format, validation, canonical hashing, rendering and
//! diff. No network, no database, no terminal: the CLI, server and tests all use this.
//!
//! ```
//! use promptops_core::validate::{check_source, Rules};
//! use promptops_core::canonical::content_hash;
//!
//! let file = "id: support.greet\nversion: 2\nowner: team\ndescription: Greets.\n\
//!             model: openai:gpt-4o-mini\ntemplate: \"Hello {{ name }}\"\n\
//!             variables: {name: string}\n";
//! let report = check_source("prompts/support/greet.yaml", Some("support.greet"), file.as_bytes(), &Rules::default());
//! assert!(report.diagnostics.is_empty());
//! let prompt = report.valid_prompt().unwrap();
//! assert_eq!(prompt.version.to_string(), "2.0.0");
//! assert_eq!(content_hash(prompt).to_string().len(), 64);
//!
//! // An undeclared variable is an error with its line and column.
//! let broken = file.replace("{{ name }}", "{{ user }}");
//! let report = check_source("prompts/support/greet.yaml", None, broken.as_bytes(), &Rules::default());
//! let d = report.diagnostics.iter().find(|d| d.code.id() == "E012").unwrap();
//! assert_eq!((d.line, d.column), (6, 21));
//! ```

pub mod canonical;
pub mod chart;
pub mod clock;
pub mod config;
pub mod diagnostic;
pub mod diff;
pub mod discover;
pub mod glob;
pub mod html;
pub mod injection;
pub mod langfuse;
pub mod pii;
pub mod policy;
pub mod pricing;
pub mod prompt;
pub mod redact;
pub mod render;
pub mod role;
pub mod secrets;
pub mod stats;
pub mod template;
pub mod validate;
pub mod yaml;
