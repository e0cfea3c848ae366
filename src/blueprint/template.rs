//! The manifest templates: loading `templates/*.yaml.mustache`, a lint that
//! finds template errors with their line (ramhorns's own parse errors carry
//! none) and refuses the mustache features the renderer does not support,
//! and compiling with ramhorns after applying the spec's standalone-line rule,
//! which ramhorns itself does not implement.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::context::{NAMES, NameUse};
use super::error::{At, BlueprintError};

/// The Kubernetes objects a service renders to, in apply order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    ConfigMap,
    Secret,
    Service,
    Deployment,
    PodDisruptionBudget,
    HorizontalPodAutoscaler,
    Ingress,
}

impl ObjectKind {
    /// Every kind, in apply order.
    pub const ALL: [ObjectKind; 7] = [
        ObjectKind::ConfigMap,
        ObjectKind::Secret,
        ObjectKind::Service,
        ObjectKind::Deployment,
        ObjectKind::PodDisruptionBudget,
        ObjectKind::HorizontalPodAutoscaler,
        ObjectKind::Ingress,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            ObjectKind::ConfigMap => "ConfigMap",
            ObjectKind::Secret => "Secret",
            ObjectKind::Service => "Service",
            ObjectKind::Deployment => "Deployment",
            ObjectKind::PodDisruptionBudget => "PodDisruptionBudget",
            ObjectKind::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            ObjectKind::Ingress => "Ingress",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            ObjectKind::ConfigMap | ObjectKind::Secret | ObjectKind::Service => "v1",
            ObjectKind::Deployment => "apps/v1",
            ObjectKind::PodDisruptionBudget => "policy/v1",
            ObjectKind::HorizontalPodAutoscaler => "autoscaling/v2",
            ObjectKind::Ingress => "networking.k8s.io/v1",
        }
    }

    /// The template file, inside `templates/`.
    pub fn file(self) -> &'static str {
        TEMPLATE_FILES[self as usize]
    }
}

/// The template files, in [`ObjectKind::ALL`] order.
pub const TEMPLATE_FILES: [&str; 7] = [
    "configmap.yaml.mustache",
    "secret.yaml.mustache",
    "service.yaml.mustache",
    "deployment.yaml.mustache",
    "pdb.yaml.mustache",
    "hpa.yaml.mustache",
    "ingress.yaml.mustache",
];

/// Deepest section nesting allowed: ramhorns keeps four contexts (the root
/// and three sections); a deeper lookup would silently miss.
pub const MAX_SECTION_DEPTH: usize = 3;

/// One compiled template and the file it came from.
pub struct Compiled {
    pub file: PathBuf,
    pub(crate) template: ramhorns::Template<'static>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("file", &self.file)
            .finish()
    }
}

/// The seven templates, linted and compiled.
#[derive(Debug)]
pub struct Templates {
    by_kind: BTreeMap<ObjectKind, Compiled>,
}

impl Templates {
    /// Loads every template of [`TEMPLATE_FILES`] from `dir`; reports every
    /// missing or faulty one.
    pub fn load(dir: &Path) -> Result<Templates, BlueprintError> {
        let mut by_kind = BTreeMap::new();
        let mut errors = Vec::new();
        for kind in ObjectKind::ALL {
            let file = dir.join(kind.file());
            let source = match std::fs::read_to_string(&file) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    errors.push(BlueprintError::MissingTemplate {
                        at: At::file(&file),
                    });
                    continue;
                }
                Err(source) => {
                    errors.push(BlueprintError::Io {
                        at: At::file(&file),
                        source,
                    });
                    continue;
                }
            };
            match lint(&source).and_then(|()| compile(&source)) {
                Ok(template) => {
                    by_kind.insert(kind, Compiled { file, template });
                }
                Err(e) => errors.push(BlueprintError::Template {
                    at: At::file(&file).line(e.line),
                    problem: e.problem,
                    fix: e.fix,
                }),
            }
        }
        match BlueprintError::collect(errors) {
            Some(e) => Err(e),
            None => Ok(Templates { by_kind }),
        }
    }

    pub fn get(&self, kind: ObjectKind) -> &Compiled {
        &self.by_kind[&kind]
    }
}

/// A template problem: the line (1-based) when known, what, and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateProblem {
    pub line: Option<usize>,
    pub problem: String,
    pub fix: String,
}

fn problem(line: usize, problem: impl Into<String>, fix: impl Into<String>) -> TemplateProblem {
    TemplateProblem {
        line: Some(line),
        problem: problem.into(),
        fix: fix.into(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagKind {
    /// `{{x}}`: HTML-escaped interpolation.
    Escaped,
    /// `{{{x}}}` or `{{&x}}`: interpolation as is.
    Raw,
    Section,
    Inverted,
    Close,
    Comment,
    Partial,
    Delimiter,
}

/// A tag found in a template: its kind, trimmed content, byte span and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub kind: TagKind,
    pub name: String,
    pub start: usize,
    pub end: usize,
    pub line: usize,
}

fn line_at(source: &str, pos: usize) -> usize {
    source[..pos].bytes().filter(|b| *b == b'\n').count() + 1
}

/// Finds every tag, with the default `{{ }}` delimiters.
pub fn scan(source: &str) -> Result<Vec<Tag>, TemplateProblem> {
    let mut tags = Vec::new();
    let mut pos = 0;
    while let Some(off) = source[pos..].find("{{") {
        let start = pos + off;
        let line = line_at(source, start);
        let after = &source[start + 2..];
        let (kind, body_start, closer) = match after.chars().next() {
            Some('{') => (TagKind::Raw, start + 3, "}}}"),
            Some('&') => (TagKind::Raw, start + 3, "}}"),
            Some('#') => (TagKind::Section, start + 3, "}}"),
            Some('^') => (TagKind::Inverted, start + 3, "}}"),
            Some('/') => (TagKind::Close, start + 3, "}}"),
            Some('!') => (TagKind::Comment, start + 3, "}}"),
            Some('>') => (TagKind::Partial, start + 3, "}}"),
            Some('=') => (TagKind::Delimiter, start + 3, "=}}"),
            _ => (TagKind::Escaped, start + 2, "}}"),
        };
        let Some(len) = source[body_start..].find(closer) else {
            return Err(problem(
                line,
                format!("a tag opened here is never closed with `{closer}`"),
                format!("close the tag with `{closer}`"),
            ));
        };
        let end = body_start + len + closer.len();
        tags.push(Tag {
            kind,
            name: source[body_start..body_start + len].trim().to_string(),
            start,
            end,
            line,
        });
        pos = end;
    }
    Ok(tags)
}

/// Checks a blueprint template: balanced sections, only triple-stash
/// interpolation, flat names the render context has, used the way the
/// context has them, no partials or delimiter changes, bounded nesting.
pub fn lint(source: &str) -> Result<(), TemplateProblem> {
    let tags = scan(source)?;
    let known = |name: &str| NAMES.iter().find(|(n, _)| *n == name).map(|(_, u)| *u);
    let mut open: Vec<&Tag> = Vec::new();
    for tag in &tags {
        let line = tag.line;
        let name = tag.name.as_str();
        match tag.kind {
            TagKind::Comment => continue,
            TagKind::Escaped => {
                return Err(problem(
                    line,
                    format!(
                        "`{{{{{name}}}}}` HTML-escapes its value (& becomes &amp;), which corrupts YAML"
                    ),
                    format!("use the triple mustache `{{{{{{{name}}}}}}}`"),
                ));
            }
            TagKind::Partial | TagKind::Delimiter => {
                return Err(problem(
                    line,
                    "partials and delimiter changes are not supported by the blueprint renderer",
                    "write the YAML in the template itself, with `{{ }}` delimiters",
                ));
            }
            _ => {}
        }
        if name.contains('.') {
            return Err(problem(
                line,
                format!(
                    "`{name}` is a dotted name (or the implicit iterator), which ramhorns does not resolve: it would render nothing"
                ),
                format!(
                    "use the flat name, e.g. `{}`; inside a section, the item's fields are in scope directly",
                    name.rsplit('.').find(|s| !s.is_empty()).unwrap_or("image")
                ),
            ));
        }
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(problem(
                line,
                format!(
                    "`{name}` is not a name of the render context (names are lower_snake_case, one word)"
                ),
                "use one of the context's names (see NAMES in src/blueprint/context.rs)",
            ));
        }
        let Some(usage) = known(name) else {
            let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
            return Err(problem(
                line,
                format!("`{name}` is not a name of the render context, so it would render nothing"),
                format!("use one of: {}", names.join(", ")),
            ));
        };
        match tag.kind {
            TagKind::Raw if usage == NameUse::Section => {
                return Err(problem(
                    line,
                    format!("`{name}` is a list or an optional group, not a value"),
                    format!("open it as a section: `{{{{#{name}}}}}…{{{{/{name}}}}}`"),
                ));
            }
            TagKind::Section | TagKind::Inverted if usage == NameUse::Value => {
                return Err(problem(
                    line,
                    format!("`{name}` is a value, not a list or an optional group"),
                    format!("interpolate it with `{{{{{{{name}}}}}}}`"),
                ));
            }
            TagKind::Section | TagKind::Inverted => {
                open.push(tag);
                if open.len() > MAX_SECTION_DEPTH {
                    return Err(problem(
                        line,
                        format!(
                            "sections nest {} deep here; ramhorns only looks {MAX_SECTION_DEPTH} sections up",
                            open.len()
                        ),
                        "flatten the sections",
                    ));
                }
            }
            TagKind::Close => match open.pop() {
                Some(o) if o.name == name => {}
                Some(o) => {
                    return Err(problem(
                        line,
                        format!(
                            "`{{{{/{name}}}}}` closes `{{{{{}{}}}}}` opened at line {}",
                            sigil(o),
                            o.name,
                            o.line
                        ),
                        format!("close `{}` first with `{{{{/{}}}}}`", o.name, o.name),
                    ));
                }
                None => {
                    return Err(problem(
                        line,
                        format!("`{{{{/{name}}}}}` closes a section that was never opened"),
                        format!("remove it, or open the section with `{{{{#{name}}}}}` above"),
                    ));
                }
            },
            _ => {}
        }
    }
    if let Some(o) = open.last() {
        return Err(problem(
            o.line,
            format!(
                "`{{{{{}{}}}}}` opened here is never closed",
                sigil(o),
                o.name
            ),
            format!("add `{{{{/{}}}}}` where the section ends", o.name),
        ));
    }
    Ok(())
}

fn sigil(tag: &Tag) -> &'static str {
    if tag.kind == TagKind::Inverted {
        "^"
    } else {
        "#"
    }
}

/// The spec's standalone rule: a section, inverted, closing, comment, partial
/// or delimiter tag alone on its line (only whitespace around it) takes the
/// whole line with it, indentation and line end included.
pub fn strip_standalone(source: &str, tags: &[Tag]) -> String {
    let mut out = String::with_capacity(source.len());
    let mut copied = 0;
    for tag in tags {
        if matches!(tag.kind, TagKind::Escaped | TagKind::Raw) {
            continue;
        }
        let line_start = source[..tag.start].rfind('\n').map_or(0, |i| i + 1);
        let before = &source[line_start..tag.start];
        let (after, newline) = match source[tag.end..].find('\n') {
            Some(i) => (&source[tag.end..tag.end + i], tag.end + i + 1),
            None => (&source[tag.end..], source.len()),
        };
        let blank = |s: &str| s.chars().all(|c| c == ' ' || c == '\t');
        let after = after.strip_suffix('\r').unwrap_or(after);
        if line_start < copied || !blank(before) || !blank(after) {
            continue;
        }
        out.push_str(&source[copied..line_start]);
        out.push_str(&source[tag.start..tag.end]);
        copied = newline;
    }
    out.push_str(&source[copied..]);
    out
}

/// ramhorns trims whitespace after the last tag; this comment, appended
/// after the source, keeps a template's final line end.
const END_SENTINEL: &str = "{{!end}}";

/// Compiles a template for rendering: standalone lines stripped, then
/// ramhorns. Any mustache source (lint is separate).
pub fn compile(source: &str) -> Result<ramhorns::Template<'static>, TemplateProblem> {
    let tags = scan(source)?;
    let mut stripped = strip_standalone(source, &tags);
    stripped.push_str(END_SENTINEL);
    ramhorns::Template::new(stripped).map_err(|e| TemplateProblem {
        line: None,
        problem: format!("ramhorns cannot parse it: {e}"),
        fix: "correct the template".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint_err(src: &str) -> TemplateProblem {
        lint(src).expect_err(src)
    }

    #[test]
    fn unclosed_section_is_found_with_its_line() {
        let e = lint_err("a: 1\n{{#labels}}\n  {{{key}}}: {{{value}}}\nb: 2\n");
        assert_eq!(e.line, Some(2));
        assert!(
            e.problem
                .contains("`{{#labels}}` opened here is never closed"),
            "{e:?}"
        );
        assert!(e.fix.contains("{{/labels}}"), "{e:?}");
        // ramhorns alone does not even notice: it renders the rest as the
        // section's body.
        assert!(ramhorns::Template::new("a: 1\n{{#labels}}\nb\n").is_ok());
    }

    #[test]
    fn mismatched_and_unopened_closings() {
        let e = lint_err("{{#labels}}\n{{^hpa}}\n{{/labels}}\n");
        assert_eq!(e.line, Some(3));
        assert!(e.problem.contains("opened at line 2"), "{e:?}");
        let e = lint_err("x\n\n{{/config}}\n");
        assert_eq!(e.line, Some(3));
        assert!(e.problem.contains("never opened"), "{e:?}");
    }

    #[test]
    fn unclosed_tag() {
        let e = lint_err("a\nimage: {{{image}}\n");
        assert_eq!(e.line, Some(2));
        assert!(e.problem.contains("never closed with `}}}`"), "{e:?}");
    }

    #[test]
    fn refused_features() {
        let e = lint_err("x: {{image}}\n");
        assert!(
            e.problem.contains("HTML-escapes") && e.fix.contains("{{{image}}}"),
            "{e:?}"
        );
        let e = lint_err("\n\nimage: {{{svc.image}}}\n");
        assert_eq!(e.line, Some(3));
        assert!(
            e.problem.contains("dotted name") && e.fix.contains("`image`"),
            "{e:?}"
        );
        assert!(
            lint_err("{{#labels}}{{{.}}}{{/labels}}")
                .problem
                .contains("implicit iterator")
        );
        assert!(lint_err("{{> labels}}").problem.contains("partials"));
        assert!(lint_err("{{=<% %>=}}").problem.contains("delimiter"));
        assert!(
            lint_err("{{{imgae}}}")
                .problem
                .contains("not a name of the render context")
        );
        assert!(lint_err("{{{labels}}}").fix.contains("{{#labels}}"));
        assert!(
            lint_err("{{#replicas}}x{{/replicas}}")
                .fix
                .contains("{{{replicas}}}")
        );
        assert!(lint_err("{{{site title}}}").problem.contains("not a name"));
    }

    #[test]
    fn standalone_lines_are_removed_and_inline_tags_kept() {
        let src = "a:\n{{#l}}\n  - x\n{{/l}}\nb: {{#l}}y{{/l}}\n  {{! note }}\nc\n";
        let tags = scan(src).unwrap();
        assert_eq!(
            strip_standalone(src, &tags),
            "a:\n{{#l}}  - x\n{{/l}}b: {{#l}}y{{/l}}\n{{! note }}c\n"
        );
    }

    #[test]
    fn final_newline_survives_compilation() {
        #[derive(ramhorns::Content)]
        struct C {
            x: u32,
        }
        let t = compile("x: {{{x}}}\n").unwrap();
        assert_eq!(t.render(&C { x: 1 }), "x: 1\n");
    }
}
