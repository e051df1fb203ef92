//! Suppression comments, with ruff's conventions: `# noqa` (every warning on its line),
//! `# noqa: K042, K050` (those codes), and kappac's own `# kappac: ignore[K042]`. Only
//! warnings can be suppressed: an error is code kappac cannot compile, which no comment
//! changes (a comment naming an error's code leaves the error in place).

use ruff_python_ast::token::{TokenKind, Tokens};
use ruff_text_size::Ranged;
use rustc_hash::FxHashMap;

use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Severity};
use crate::source::SourceFile;

/// What the comment on one line suppresses.
enum Suppressed {
    All,
    Codes(Vec<Code>),
}

/// The suppression comments of one file, by 0-based line.
pub struct Suppressions {
    lines: FxHashMap<usize, Suppressed>,
}

impl Suppressions {
    /// Reads the comments among `tokens` (so that `#` inside a string is not a comment).
    pub fn of(file: &SourceFile, tokens: &Tokens) -> Self {
        let mut lines = FxHashMap::default();
        for token in tokens.iter() {
            if token.kind() != TokenKind::Comment {
                continue;
            }
            let Some(text) = file.text.get(token.range().to_std_range()) else {
                continue;
            };
            if let Some(suppressed) = parse_comment(text) {
                lines.insert(file.line_index(usize::from(token.start())), suppressed);
            }
        }
        Suppressions { lines }
    }

    /// Drops the warnings a comment on their first line suppresses.
    pub fn apply(&self, file: &SourceFile, diagnostics: &mut Vec<Diagnostic>) {
        if self.lines.is_empty() {
            return;
        }
        diagnostics.retain(|d| {
            if d.severity() != Severity::Warning {
                return true;
            }
            let line = file.line_index(usize::from(d.primary.range.start()));
            match self.lines.get(&line) {
                Some(Suppressed::All) => false,
                Some(Suppressed::Codes(codes)) => !codes.contains(&d.code),
                None => true,
            }
        });
    }
}

/// `# noqa`, `# noqa: K1, K2`, `# kappac: ignore[K1, K2]` anywhere in a comment (after other
/// text too, as in `# type: ignore  # noqa: K042`).
fn parse_comment(comment: &str) -> Option<Suppressed> {
    let lower = comment.to_ascii_lowercase();
    if let Some(at) = lower.find("kappac: ignore[") {
        let rest = &comment[at + "kappac: ignore[".len()..];
        let inside = rest.split(']').next().unwrap_or_default();
        return Some(Suppressed::Codes(codes(inside)));
    }
    let at = lower.find("noqa")?;
    let rest = comment[at + "noqa".len()..].trim_start();
    match rest.strip_prefix(':') {
        Some(list) => Some(Suppressed::Codes(codes(list))),
        None => Some(Suppressed::All),
    }
}

/// The codes in a comma- or space-separated list, up to the first word that is not one.
fn codes(list: &str) -> Vec<Code> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .map_while(Code::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(comment: &str) -> Option<Vec<&'static str>> {
        parse_comment(comment).map(|s| match s {
            Suppressed::All => vec!["all"],
            Suppressed::Codes(codes) => codes.iter().map(|c| c.as_str()).collect(),
        })
    }

    #[test]
    fn comments_name_codes_as_ruff_and_kappac_write_them() {
        assert_eq!(parsed("# noqa"), Some(vec!["all"]));
        assert_eq!(parsed("# NOQA: K042"), Some(vec!["K042"]));
        assert_eq!(
            parsed("# noqa: K042, K050 because"),
            Some(vec!["K042", "K050"])
        );
        assert_eq!(parsed("# type: ignore  # noqa:K050"), Some(vec!["K050"]));
        assert_eq!(
            parsed("# kappac: ignore[K042,K050]"),
            Some(vec!["K042", "K050"])
        );
        assert_eq!(parsed("# just a comment"), None);
    }
}
