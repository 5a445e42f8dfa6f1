//! Paths and globs in a suite (`tests: file://tests/*.yaml`, `prompts: prompts/*.txt`,
//! `file://articles/*` vars, `nunjucksFilters`), matched and **ordered** as promptfoo
//! 0.123.1's `globSync` (glob 13) gives them, because the order numbers tests (`testIdx`)
//! and prompts (`promptIdx`):
//!
//! - within a folder, entries come in **descending** byte order of their names (Node's
//!   `readdir` sorts them ascending; glob's walker hands them back reversed);
//! - a folder's matching entries come before anything inside its subfolders, which are
//!   walked depth first, in that same order (`**/*.yaml`: `b.yaml`, `a.yaml`, `z/x.yaml`,
//!   `m/y.yaml`);
//! - `{a,b}` alternatives that are plain paths come in the order written; with wildcards
//!   they are matched in one walk;
//! - `*`, `?` and `[...]` stay within one path segment and do not match a leading `.`
//!   unless the pattern segment starts with one; `**` matches any number of segments and
//!   does not enter dot folders or follow symbolic links to folders;
//! - `\` is a path separator, not an escape (`windowsPathsNoEscape`).
//!
//! Only files are returned. Checked against glob 13.0.6 itself (see `tests` below and
//! `docs/research/promptfoo-compat.md` §3.1).

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

/// Whether `pattern` has glob magic (`*`, `?`, `[`, or `{a,b}` alternatives).
pub(crate) fn has_magic(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[']) || expand_braces(pattern).len() > 1
}

/// The files `pattern` names relative to `base` (or absolute), in promptfoo's order.
/// A pattern without magic names at most one file.
pub(crate) fn glob_files(base: &Path, pattern: &str) -> Vec<PathBuf> {
    let pattern = pattern.replace('\\', "/");
    let alternatives = expand_braces(&pattern);
    let magic = alternatives.iter().any(|a| a.contains(['*', '?', '[']));
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    if !magic {
        for alternative in &alternatives {
            let path = base.join(alternative.strip_prefix("./").unwrap_or(alternative));
            if path.is_file() && seen.insert(normalize(&path)) {
                found.push(path);
            }
        }
        return found;
    }
    // Walk from the longest plain prefix that the alternatives share, as glob resolves
    // leading literal segments without reading folders.
    let compiled: Vec<Pattern> = alternatives.iter().map(|a| Pattern::new(a)).collect();
    let mut roots: Vec<(PathBuf, Vec<(usize, usize)>)> = Vec::new();
    for (p, pattern) in compiled.iter().enumerate() {
        let (prefix, first) = pattern.literal_prefix();
        let root = base.join(prefix);
        match roots.iter_mut().find(|(r, _)| *r == root) {
            Some((_, states)) => states.push((p, first)),
            None => roots.push((root, vec![(p, first)])),
        }
    }
    for (root, states) in roots {
        walk(&root, &compiled, states, &mut seen, &mut found);
    }
    found
}

/// One folder of the walk: its matching files, then its subfolders, depth first.
fn walk(
    dir: &Path,
    patterns: &[Pattern],
    states: Vec<(usize, usize)>,
    seen: &mut HashSet<PathBuf>,
    found: &mut Vec<PathBuf>,
) {
    // `**` may match no segment at all.
    let mut active: Vec<(usize, usize)> = Vec::new();
    let mut queue = states;
    while let Some((p, i)) = queue.pop() {
        if active.contains(&(p, i)) {
            continue;
        }
        active.push((p, i));
        if matches!(patterns[p].segments.get(i), Some(Segment::Globstar)) {
            queue.push((p, i + 1));
        }
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(String, std::fs::FileType, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some((name, e.file_type().ok()?, e.path()))
        })
        .collect();
    entries.sort_by(|a, b| b.0.as_bytes().cmp(a.0.as_bytes()));
    let mut subwalks: Vec<(PathBuf, Vec<(usize, usize)>)> = Vec::new();
    for (name, file_type, path) in &entries {
        let is_dir = file_type.is_dir() || (file_type.is_symlink() && path.is_dir());
        let mut next: Vec<(usize, usize)> = Vec::new();
        for &(p, i) in &active {
            let segments = &patterns[p].segments;
            let Some(segment) = segments.get(i) else {
                continue;
            };
            let last = i + 1 == segments.len();
            match segment {
                Segment::Globstar => {
                    // `**` goes on into real folders that are not hidden; at the end of
                    // a pattern it matches every file that is not hidden.
                    if name.starts_with('.') {
                        continue;
                    }
                    if file_type.is_dir() {
                        next.push((p, i));
                    } else if last && !is_dir && seen.insert(normalize(path)) {
                        found.push(path.clone());
                    }
                }
                Segment::Match(m) if m.matches(name) => {
                    if last {
                        if !is_dir && seen.insert(normalize(path)) {
                            found.push(path.clone());
                        }
                    } else if is_dir {
                        next.push((p, i + 1));
                    }
                }
                Segment::Match(_) => {}
            }
        }
        if !next.is_empty() {
            subwalks.push((path.clone(), next));
        }
    }
    for (path, next) in subwalks {
        walk(&path, patterns, next, seen, found);
    }
}

/// A path without `.` and `..` components, for telling matches apart.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

struct Pattern {
    segments: Vec<Segment>,
}

enum Segment {
    Globstar,
    Match(SegmentMatcher),
}

impl Pattern {
    fn new(pattern: &str) -> Pattern {
        let mut segments: Vec<Segment> = Vec::new();
        for (i, part) in pattern.split('/').enumerate() {
            if part.is_empty() && i > 0 {
                continue; // `a//b`, a trailing `/`
            }
            if part == "**" {
                if !matches!(segments.last(), Some(Segment::Globstar)) {
                    segments.push(Segment::Globstar);
                }
            } else {
                segments.push(Segment::Match(SegmentMatcher::new(part)));
            }
        }
        Pattern { segments }
    }

    /// The leading plain segments as a path (`/` for an absolute pattern), and the
    /// index of the first segment with magic.
    fn literal_prefix(&self) -> (PathBuf, usize) {
        let mut prefix = PathBuf::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Match(SegmentMatcher::Literal(text)) if i + 1 < self.segments.len() => {
                    match text.as_str() {
                        "" if i == 0 => prefix.push("/"),
                        "" | "." => {}
                        text => prefix.push(text),
                    }
                }
                _ => return (prefix, i),
            }
        }
        (prefix, self.segments.len())
    }
}

enum SegmentMatcher {
    Literal(String),
    Wild {
        regex: regex::Regex,
        /// Whether the segment may match a name starting with `.`.
        dot: bool,
    },
}

impl SegmentMatcher {
    fn new(part: &str) -> SegmentMatcher {
        if !part.contains(['*', '?', '[']) {
            return SegmentMatcher::Literal(part.to_owned());
        }
        let mut re = String::from("^");
        let chars: Vec<char> = part.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                '[' => match class(&chars[i + 1..]) {
                    Some((class, used)) => {
                        re.push_str(&class);
                        i += used;
                    }
                    None => re.push_str(r"\["),
                },
                c => re.push_str(&regex::escape(&c.to_string())),
            }
            i += 1;
        }
        re.push('$');
        match regex::Regex::new(&re) {
            Ok(regex) => SegmentMatcher::Wild {
                regex,
                dot: part.starts_with('.'),
            },
            Err(_) => SegmentMatcher::Literal(part.to_owned()),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            SegmentMatcher::Literal(text) => text == name,
            SegmentMatcher::Wild { regex, dot } => {
                (*dot || !name.starts_with('.')) && regex.is_match(name)
            }
        }
    }
}

/// `[...]` after its `[`: the regex class and how many characters it used (up to `]`).
fn class(rest: &[char]) -> Option<(String, usize)> {
    let mut out = String::from("[");
    let mut i = 0;
    if matches!(rest.first(), Some('!' | '^')) {
        out.push('^');
        i = 1;
    }
    let start = i;
    while i < rest.len() {
        let c = rest[i];
        if c == ']' && i > start {
            out.push(']');
            return Some((out, i + 1));
        }
        match c {
            '\\' | '[' | ']' | '^' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        i += 1;
    }
    None
}

/// `{a,b}` alternatives, expanded (nested too), in the order written.
fn expand_braces(pattern: &str) -> Vec<String> {
    let bytes = pattern.as_bytes();
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_owned()];
    };
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_owned()];
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    if commas.is_empty() {
        // `{a}` is not an alternative: keep it, and expand what follows.
        return expand_braces(tail)
            .into_iter()
            .map(|t| format!("{}{t}", &pattern[..=close]))
            .collect();
    }
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for pair in bounds.windows(2) {
        let choice = &pattern[pair[0] + 1..pair[1]];
        for expanded in expand_braces(&format!("{head}{choice}{tail}")) {
            if !out.contains(&expanded) {
                out.push(expanded);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let path = dir.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        dir
    }

    fn check(dir: &Path, pattern: &str, want: &[&str]) {
        let got: Vec<String> = glob_files(dir, pattern)
            .iter()
            .map(|p| {
                p.strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        assert_eq!(got, want, "{pattern}");
    }

    /// Every expectation below is what glob 13.0.6's `globSync` returned for the same
    /// tree (node 20, `windowsPathsNoEscape: true`).
    #[test]
    fn orders_as_glob_13_does() {
        let d = tree(&[
            "tests/zeta.yaml",
            "tests/alpha.yaml",
            "tests/Beta.yaml",
            "tests/_u.yaml",
            "tests/10.yaml",
            "tests/9.yaml",
            "tests/a-b.yaml",
            "tests/a.yaml",
            "tests/ab.yaml",
            "tests/sub/m.yaml",
            "tests/sub/a.yaml",
            "tests/B/n.yaml",
        ]);
        let d = d.path();
        let flat = [
            "tests/zeta.yaml",
            "tests/alpha.yaml",
            "tests/ab.yaml",
            "tests/a.yaml",
            "tests/a-b.yaml",
            "tests/_u.yaml",
            "tests/Beta.yaml",
            "tests/9.yaml",
            "tests/10.yaml",
        ];
        check(d, "tests/*.yaml", &flat);
        check(d, "./tests/*.yaml", &flat);
        let mut deep = flat.to_vec();
        deep.extend(["tests/sub/m.yaml", "tests/sub/a.yaml", "tests/B/n.yaml"]);
        check(d, "tests/**/*.yaml", &deep);
        check(d, "**/*.yaml", &deep);
        check(
            d,
            "tests/{zeta,alpha}.yaml",
            &["tests/zeta.yaml", "tests/alpha.yaml"],
        );
        check(
            d,
            "tests/[a-z]*.yaml",
            &[
                "tests/zeta.yaml",
                "tests/alpha.yaml",
                "tests/ab.yaml",
                "tests/a.yaml",
                "tests/a-b.yaml",
            ],
        );
    }

    #[test]
    fn walks_depth_first_with_a_folders_files_first() {
        let d = tree(&[
            "a.yaml",
            "b.yaml",
            "m.yaml",
            "z/b.yaml",
            "z/q.yaml",
            "z/y/d.yaml",
            "z/a/f.yaml",
            "m/c.yaml",
            "A/e.yaml",
            ".hidden/h.yaml",
            ".dot.yaml",
        ]);
        let d = d.path();
        check(
            d,
            "**/*.yaml",
            &[
                "m.yaml",
                "b.yaml",
                "a.yaml",
                "z/q.yaml",
                "z/b.yaml",
                "z/y/d.yaml",
                "z/a/f.yaml",
                "m/c.yaml",
                "A/e.yaml",
            ],
        );
        check(
            d,
            "*/*.yaml",
            &["z/q.yaml", "z/b.yaml", "m/c.yaml", "A/e.yaml"],
        );
        check(d, "**/b.yaml", &["b.yaml", "z/b.yaml"]);
        check(d, "{a,b,m}.yaml", &["a.yaml", "b.yaml", "m.yaml"]);
        check(d, "{m,a}.yaml", &["m.yaml", "a.yaml"]);
        check(
            d,
            "z/**",
            &["z/q.yaml", "z/b.yaml", "z/y/d.yaml", "z/a/f.yaml"],
        );
        check(d, "[!a]*.yaml", &["m.yaml", "b.yaml"]);
        check(d, "?.yaml", &["m.yaml", "b.yaml", "a.yaml"]);
        check(d, "m.yaml", &["m.yaml"]);
        check(d, ".*.yaml", &[".dot.yaml"]);
        check(d, "nothing/*.yaml", &[]);
    }

    #[test]
    fn braces_and_magic() {
        assert_eq!(
            expand_braces("a/{x,y{1,2}}.md"),
            ["a/x.md", "a/y1.md", "a/y2.md"]
        );
        assert_eq!(expand_braces("{solo}.md"), ["{solo}.md"]);
        assert!(has_magic("t/{a,b}.yaml") && has_magic("t/*.yaml") && !has_magic("t/a.yaml"));
    }
}
