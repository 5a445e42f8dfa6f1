//! The list splitter promptfoo uses for `contains-any: "a, b"` and CSV shorthands:
//! comma-separated, blanks around fields ignored, empty fields skipped, `"…"` keeps
//! commas, and inside quotes `\"`, `\\` and `""` are escapes.

use super::AssertionError;

pub fn split_list(text: &str) -> Result<Vec<String>, AssertionError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut field = String::new();
        if first == '"' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(e) => field.push(e),
                        None => break,
                    },
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => field.push(c),
                }
            }
            if !closed {
                return Err(AssertionError(format!(
                    "unterminated quote in list `{text}`"
                )));
            }
            while chars.peek().is_some_and(|c| *c != ',') {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                field.push(c);
                chars.next();
            }
            field = field.trim().to_owned();
        }
        out.push(field);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        let cases: &[(&str, &[&str])] = &[
            ("a, b,c", &["a", "b", "c"]),
            ("  a ,, b ,", &["a", "b"]),
            (r#""x, y", z"#, &["x, y", "z"]),
            (r#""say ""hi""", "a\"b""#, &["say \"hi\"", "a\"b"]),
            ("", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(split_list(input).unwrap(), *want, "{input}");
        }
        assert!(split_list("\"open").is_err());
    }
}
