//! Model path -> place in the file. Rules report paths (`nodeGroups[1].efa`); the runner
//! turns them into line and column here, falling back to the nearest parent that is written in
//! the file when the value was defaulted (as cfn-lint does with its template paths).

use crate::finding::{Location, Subject};
use crate::yaml::{Kind, Node, Span};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct SourceMap {
    pub file: String,
    pub text: Arc<str>,
    spans: HashMap<String, Span>,
}

impl SourceMap {
    pub fn new(file: &str, text: &str, root: Option<&Node>) -> SourceMap {
        let mut spans = HashMap::new();
        if let Some(root) = root {
            let mut todo: Vec<(String, &Node)> = vec![(String::new(), root)];
            while let Some((path, node)) = todo.pop() {
                match &node.kind {
                    Kind::Scalar { .. } => {}
                    Kind::Seq(items) => {
                        for (i, item) in items.iter().enumerate() {
                            todo.push((format!("{path}[{i}]"), item));
                        }
                    }
                    Kind::Map(entries) => {
                        for (k, v) in entries {
                            if let Kind::Scalar { value, .. } = &k.kind {
                                let p = super::decode::join(&path, value);
                                // A key with an empty value points at the key itself.
                                let span = if v.is_null() { k.span } else { v.span };
                                todo.push((p.clone(), v));
                                spans.entry(p).or_insert(span);
                            }
                        }
                    }
                }
                if !path.is_empty() {
                    spans.entry(path).or_insert(node.span);
                }
            }
        }
        SourceMap {
            file: file.to_string(),
            text: Arc::from(text),
            spans,
        }
    }

    /// Is this exact path written in the file?
    pub fn contains(&self, path: &str) -> bool {
        self.spans.contains_key(path)
    }

    /// The span of a path, or of its nearest written parent (first line only).
    pub fn span(&self, path: &str) -> Option<Span> {
        if let Some(s) = self.spans.get(path) {
            return Some(*s);
        }
        let mut p = path;
        loop {
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
            if let Some(s) = self.spans.get(p) {
                let mut s = *s;
                if s.end.line != s.start.line {
                    s.end = s.start;
                }
                return Some(s);
            }
        }
    }

    /// Gives a subject its location in this file.
    pub fn locate(&self, subject: &mut Subject) {
        match &mut subject.location {
            Some(loc) if loc.file.is_empty() => loc.file = self.file.clone(),
            Some(_) => {}
            None => {
                if let Some(span) = subject.path.as_deref().and_then(|p| self.span(p)) {
                    subject.location = Some(Location {
                        file: self.file.clone(),
                        start: span.start,
                        end: span.end,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_values_and_fall_back_to_parents() {
        let text = "nodeGroups:\n  - name: gpu\n    count: 4\n";
        let root = crate::yaml::parse(text).unwrap().unwrap();
        let sm = SourceMap::new("c.yaml", text, Some(&root));
        let s = sm.span("nodeGroups[0].count").unwrap();
        assert_eq!((s.start.line, s.start.column), (3, 12));
        let s = sm.span("nodeGroups[0].efa").unwrap();
        assert_eq!((s.start.line, s.start.column), (2, 5));
        assert_eq!(s.end.line, 2, "parent fallback covers one line");
        assert!(sm.span("other").is_none());
    }
}
