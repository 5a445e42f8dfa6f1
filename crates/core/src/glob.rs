//! Shell-style path patterns (`*`, `?`, `**`), compiled to one regex.

use regex::Regex;

#[derive(Debug, Clone)]
pub struct Glob {
    pattern: String,
    regex: Regex,
    /// A pattern without `/` matches the file name alone, as in `.gitignore`.
    name_only: bool,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let mut re = String::from("^");
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    if chars.peek() == Some(&'/') {
                        chars.next();
                        re.push_str("(?:.*/)?");
                    } else {
                        re.push_str(".*");
                    }
                }
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        let regex = Regex::new(&re).map_err(|e| format!("bad glob pattern `{pattern}`: {e}"))?;
        Ok(Glob {
            pattern: pattern.to_owned(),
            regex,
            name_only: !pattern.contains('/'),
        })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether `path` (with `/` separators) matches. A path matches `a/*.yml` when the
    /// pattern matches it or any of its trailing parts (`x/a/b.yml` matches `a/*.yml`).
    pub fn matches(&self, path: &str) -> bool {
        let path = path.strip_prefix("./").unwrap_or(path);
        if self.name_only {
            let name = path.rsplit('/').next().unwrap_or(path);
            return self.regex.is_match(name);
        }
        if self.regex.is_match(path) {
            return true;
        }
        path.match_indices('/')
            .any(|(i, _)| self.regex.is_match(&path[i + 1..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let cases = [
            ("*.yml", "a/b/card.yml", true),
            ("*.yml", "a/b/card.yaml", false),
            ("prompt-card.yml", "prompts/x/prompt-card.yml", true),
            ("**/evalsuite*.yml", "prompts/x/evalsuite.mock.yml", true),
            ("**/evalsuite*.yml", "evalsuite.yml", true),
            ("x/*.yml", "prompts/x/a.yml", true),
            ("x/*.yml", "prompts/x/y/a.yml", false),
            ("x/**", "prompts/x/y/a.yml", true),
            ("a?.yml", "a1.yml", true),
            ("a[1].yml", "a[1].yml", true),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(
                Glob::new(pattern).unwrap().matches(path),
                want,
                "{pattern} vs {path}"
            );
        }
    }
}
