//! Text made safe for HTML, for the reports and pages promptops writes.

/// Text for HTML content or a quoted attribute: `& < > " '` as entities; control
/// characters other than tab and line breaks (which HTML does not allow) replaced.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_and_controls_are_neutralised() {
        assert_eq!(
            super::escape("<a href=\"x\">O'Brien & co</a>\u{7}\n"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; co&lt;/a&gt;\u{FFFD}\n"
        );
    }
}
