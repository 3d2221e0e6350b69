//! rustc-style text: the offending lines of cluster.yaml with the value underlined, a help
//! line and the rule id. Colour is the caller's choice (only on a terminal).

use crate::finding::{Counts, Finding, Severity};
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

pub struct HumanOptions {
    pub color: bool,
}

/// Renders findings about one source text (the spec). `source` is the file's text; findings
/// whose location names another file, or none, are printed without a snippet.
pub fn render(findings: &[Finding], source: Option<(&str, &str)>, opts: &HumanOptions) -> String {
    let renderer = if opts.color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for f in findings {
        let level = level(f.severity);
        let title = level.primary_title(f.message.as_str()).id(f.rule.as_str());
        let mut group: Group<'_> = match (&f.subject.location, source) {
            (Some(loc), Some((file, text))) if loc.file == file => {
                let (window, first_line, range) = window(text, loc.start.offset, loc.end.offset);
                title.element(
                    Snippet::source(window)
                        .line_start(first_line)
                        .path(file)
                        .annotation(AnnotationKind::Primary.span(range).label(f.name.as_str())),
                )
            }
            _ => {
                let at = match &f.subject.location {
                    Some(l) => format!("{}:{}:{}", l.file, l.start.line, l.start.column),
                    None => f.subject.label(),
                };
                title.element(Level::NOTE.message(format!("at {at} ({})", f.name)))
            }
        };
        if let Some(h) = &f.help {
            group = group.element(Level::HELP.message(h.as_str()));
        }
        out.push_str(&renderer.render(&[group]));
        out.push_str("\n\n");
    }
    out.push_str(&summary(findings));
    out.push('\n');
    out
}

fn level(s: Severity) -> Level<'static> {
    match s {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Info => Level::INFO,
    }
}

/// One line: "2 errors, 1 warning" or "no findings".
pub fn summary(findings: &[Finding]) -> String {
    let c = Counts::of(findings);
    if findings.is_empty() {
        return "no findings".into();
    }
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if c.errors > 0 {
        parts.push(plural(c.errors, "error"));
    }
    if c.warnings > 0 {
        parts.push(plural(c.warnings, "warning"));
    }
    if c.infos > 0 {
        parts.push(plural(c.infos, "note"));
    }
    parts.join(", ")
}

/// The lines around a byte range (at most five), the first line's number, and the range
/// relative to the window. A zero-width range grows to the end of its word so that the caret
/// has something to underline.
fn window(text: &str, start: usize, end: usize) -> (&str, usize, std::ops::Range<usize>) {
    let start = floor_char(text, start.min(text.len()));
    let mut end = floor_char(text, end.min(text.len())).max(start);
    if end == start {
        end = text[start..]
            .find(['\n', ' ', ',', ']', '}'])
            .map(|i| start + i)
            .unwrap_or(text.len());
        if end == start && end < text.len() {
            end = start + text[start..].chars().next().map_or(0, char::len_utf8);
        }
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let first_line = text[..line_start].matches('\n').count() + 1;
    // Limit the window to five lines so a finding on a big mapping stays readable.
    let mut line_end = line_start;
    let mut lines = 0;
    while lines < 5 {
        match text[line_end..].find('\n') {
            Some(i) => {
                line_end += i + 1;
                lines += 1;
                if line_end > end {
                    break;
                }
            }
            None => {
                line_end = text.len();
                break;
            }
        }
    }
    let win = text[line_start..line_end].trim_end_matches('\n');
    let rel_end = (end - line_start).min(win.len());
    let rel_start = (start - line_start).min(rel_end);
    (win, first_line, rel_start..rel_end)
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_the_span_lines() {
        let text = "a: 1\nb: two\nc: 3\n";
        let (w, line, r) = window(text, 8, 11);
        assert_eq!(w, "b: two");
        assert_eq!(line, 2);
        assert_eq!(&w[r], "two");
        let (w, _, r) = window(text, 8, 8);
        assert_eq!(&w[r], "two");
    }

    #[test]
    fn a_finding_on_a_long_line_renders_short() {
        // A 1 MB line (a minified document, a pasted key) prints as a short snippet.
        use crate::finding::{Category, Location, Subject};
        use crate::yaml::Pos;
        let text = format!("name: {}\n", "y".repeat(1 << 20));
        let pos = |offset: usize| Pos {
            line: 1,
            column: offset as u32 + 1,
            offset,
        };
        let f = Finding {
            rule: "SPEC003".into(),
            name: "invalid-value".into(),
            severity: Severity::Error,
            category: Category::Input,
            subject: Subject {
                location: Some(Location {
                    file: "c.yaml".into(),
                    start: pos(6),
                    end: pos(text.len() - 1),
                }),
                ..Subject::default()
            },
            message: "too long".into(),
            help: None,
        };
        let out = render(
            &[f],
            Some(("c.yaml", &text)),
            &HumanOptions { color: false },
        );
        // annotate-snippets cuts a long line around the annotation itself.
        assert!(out.len() < 4096, "{} bytes", out.len());
        assert!(out.contains("..."), "{out}");
    }
}
