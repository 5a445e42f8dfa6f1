//! Printing: diagnostics in the compiler-like text form (colour on a terminal) and
//! JSON documents.

use anstream::{eprintln, println};
use anstyle::{AnsiColor, Style};
use promptops_core::diagnostic::{Diagnostic, Severity};
use serde::Serialize;

pub const BOLD: Style = Style::new().bold();
pub const RED: Style = AnsiColor::Red.on_default().bold();
pub const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
pub const GREEN: Style = AnsiColor::Green.on_default();
pub const CYAN: Style = AnsiColor::Cyan.on_default();
pub const DIM: Style = Style::new().dimmed();

/// `path:line:col: error[E012]: message` plus its `= help:` line.
pub fn diagnostic(d: &Diagnostic) {
    let sev = match d.severity {
        Severity::Error => RED,
        Severity::Warning => YELLOW,
    };
    println!(
        "{BOLD}{}:{}:{}:{BOLD:#} {sev}{}[{}]{sev:#}: {}",
        d.path, d.line, d.column, d.severity, d.code, d.message
    );
    if let Some(hint) = &d.hint {
        println!("  {CYAN}= help:{CYAN:#} {hint}");
    }
}

pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

pub fn warn(message: impl std::fmt::Display) {
    eprintln!("{YELLOW}warning{YELLOW:#}: {message}");
}

pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A unified diff, one line at a time, coloured by what the line is.
pub fn unified_diff(text: &str) {
    for line in text.lines() {
        let style = if line.starts_with("+++") || line.starts_with("---") {
            BOLD
        } else if line.starts_with('+') {
            GREEN
        } else if line.starts_with('-') {
            RED
        } else if line.starts_with("@@") {
            CYAN
        } else {
            Style::new()
        };
        println!("{style}{line}{style:#}");
    }
}
