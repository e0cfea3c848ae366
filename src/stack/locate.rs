//! Where things are in a stack file. serde_yaml_ng values carry no spans,
//! so lines are found by scanning the text's indentation structure
//! ([`Locator`]): the line of `resources[3]`, of
//! `resources[3].properties.versioning`, and so on. Flow-style YAML
//! (`{...}`) falls back to the nearest enclosing line found.

/// A step of a path into the document: a mapping key or a list index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Item(usize),
}

/// One meaningful (non-blank, non-comment) line of the text.
#[derive(Debug)]
struct Line {
    /// 1-based line number.
    no: usize,
    indent: usize,
    /// Starts with `- `: a list item.
    item: bool,
    /// Column of the content (after `- ` for items); `None` for a bare `-`.
    col: Option<usize>,
    /// The mapping key on this line, if any.
    key: Option<String>,
}

/// Finds the line of a path (`resources[2].properties.x`) in YAML text by
/// its indentation structure.
pub(crate) struct Locator<'t> {
    lines: Vec<Line>,
    text: &'t str,
}

impl<'t> Locator<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        let mut lines = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let trimmed = raw.trim_start_matches(' ');
            if trimmed.trim().is_empty()
                || trimmed.starts_with('#')
                || trimmed.starts_with("---")
                || trimmed.starts_with("...")
            {
                continue;
            }
            let indent = raw.len() - trimmed.len();
            let (item, col, content) = match trimmed.strip_prefix('-') {
                Some(after) if after.is_empty() || after.starts_with([' ', '\t']) => {
                    let inner = after.trim_start();
                    if inner.is_empty() || inner.starts_with('#') {
                        (true, None, "")
                    } else {
                        (true, Some(indent + 1 + after.len() - inner.len()), inner)
                    }
                }
                _ => (false, Some(indent), trimmed),
            };
            lines.push(Line {
                no: n + 1,
                indent,
                item,
                col,
                key: key_of(content),
            });
        }
        Self { lines, text }
    }

    /// The line of `path`, or of the deepest prefix of it that was found;
    /// 0 when not even the first step was found.
    pub(crate) fn line(&self, path: &[Seg]) -> usize {
        self.walk(path).0
    }

    /// The lines of every item of the list at `path` (empty when there is
    /// no block-style list there): one pass for all resources.
    pub(crate) fn items(&self, path: &[Seg]) -> Vec<usize> {
        let (_, steps, (lo, hi)) = self.walk(path);
        if steps < path.len() || lo >= hi || !self.lines[lo].item {
            return Vec::new();
        }
        let d = self.lines[lo].indent;
        self.lines[lo..hi]
            .iter()
            .filter(|l| l.item && l.indent == d)
            .map(|l| l.no)
            .collect()
    }

    /// The line of the deepest prefix found, how many steps it has, and the
    /// range of lines below it.
    fn walk(&self, path: &[Seg]) -> (usize, usize, (usize, usize)) {
        let (mut lo, mut hi) = (0, self.lines.len());
        let mut best = 0;
        let mut steps = 0;
        for seg in path {
            if lo >= hi {
                break;
            }
            match *seg {
                Seg::Key(k) => {
                    let col = match self.lines[lo].col {
                        Some(c) => Some(c),
                        None => self.lines.get(lo + 1).and_then(|l| l.col),
                    };
                    let Some(j) = (lo..hi).find(|&j| {
                        self.lines[j].col == col && self.lines[j].key.as_deref() == Some(k)
                    }) else {
                        break;
                    };
                    best = self.lines[j].no;
                    let c = self.lines[j].col.unwrap_or(0);
                    let end = (j + 1..hi)
                        .find(|&e| {
                            let l = &self.lines[e];
                            l.indent < c || (l.indent == c && !l.item)
                        })
                        .unwrap_or(hi);
                    (lo, hi) = (j + 1, end);
                }
                Seg::Item(n) => {
                    let first = &self.lines[lo];
                    if !first.item {
                        break;
                    }
                    let d = first.indent;
                    let starts: Vec<usize> = (lo..hi)
                        .filter(|&j| self.lines[j].item && self.lines[j].indent == d)
                        .collect();
                    let Some(&j) = starts.get(n) else {
                        break;
                    };
                    best = self.lines[j].no;
                    (lo, hi) = (j, starts.get(n + 1).copied().unwrap_or(hi));
                }
            }
            steps += 1;
        }
        (best, steps, (lo, hi))
    }

    /// The line of the `nth` (0-based) `id: <id>` in the text, 0 if none:
    /// a fallback for resources written in flow style.
    pub(crate) fn id_line(&self, id: &str, nth: usize) -> usize {
        let mut seen = 0;
        for (n, line) in self.text.lines().enumerate() {
            let mut rest = line;
            while let Some(pos) = rest.find("id:") {
                let before = rest[..pos].chars().last();
                let value = rest[pos + 3..]
                    .trim_start()
                    .split([',', '}', '#', ' '])
                    .next()
                    .unwrap_or("")
                    .trim_matches(['"', '\'']);
                if matches!(before, None | Some(' ' | '{' | ',' | '-')) && value == id {
                    if seen == nth {
                        return n + 1;
                    }
                    seen += 1;
                }
                rest = &rest[pos + 3..];
            }
        }
        0
    }
}

/// The mapping key at the start of `content` (`key: value`, `"key": value`,
/// `key:`), if any.
fn key_of(content: &str) -> Option<String> {
    if let Some(q) = content.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let close = content[1..].find(q)? + 1;
        let after = &content[close + 1..];
        let after = after.strip_prefix(':')?;
        return (after.is_empty() || after.starts_with([' ', '\t']))
            .then(|| content[1..close].to_string());
    }
    if content.starts_with(['{', '[', '&', '*', '!', '|', '>']) {
        return None;
    }
    let bytes = content.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && i > 0 && bytes[i - 1] == b' ' {
            return None;
        }
        if b == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' ' || bytes[i + 1] == b'\t') {
            let key = content[..i].trim_end();
            return (!key.is_empty()).then(|| key.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locator_follows_common_yaml_layouts() {
        let text = "\
resources:
- id: a            # dash at the key's column
  properties:
    \"quoted\": 1
    url: http://x:80/y
-
  id: b            # bare dash
  publish:
  - output: o
    key: K
  -   output: p
      key: L
";
        let loc = Locator::new(text);
        let l = |p: &[Seg]| loc.line(p);
        use Seg::{Item, Key};
        assert_eq!(l(&[Key("resources"), Item(0)]), 2);
        assert_eq!(
            l(&[Key("resources"), Item(0), Key("properties"), Key("quoted")]),
            4
        );
        assert_eq!(
            l(&[Key("resources"), Item(0), Key("properties"), Key("url")]),
            5
        );
        assert_eq!(l(&[Key("resources"), Item(1)]), 6);
        assert_eq!(l(&[Key("resources"), Item(1), Key("id")]), 7);
        assert_eq!(
            l(&[
                Key("resources"),
                Item(1),
                Key("publish"),
                Item(1),
                Key("key")
            ]),
            12
        );
        // Not found: the deepest line found.
        assert_eq!(l(&[Key("resources"), Item(1), Key("publish"), Item(5)]), 8);
        assert_eq!(l(&[Key("resources"), Item(0), Key("publish")]), 2);
        assert_eq!(l(&[Key("nothing")]), 0);
    }
}
