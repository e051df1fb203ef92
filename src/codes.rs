//! The registry of diagnostic codes: each code once, with its name, severity, summary and the
//! long explanation that `kappac explain` prints (kept in `docs/diagnostics/<CODE>.md`).

use serde::{Serialize, Serializer};

/// How bad a code is: an error is code kappac cannot compile; a warning, code it compiles but
/// that may not behave as the user expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $name:literal, $severity:ident, $summary:literal;)*) => {
        /// A diagnostic code. Codes are never reused: a retired code stays retired.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as printed: `K020`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// The rule's name, describing the pattern it finds: `pause-in-generator`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// One line saying what the code finds.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }

            /// The long explanation: What it does / Why / Example / How to fix.
            pub fn explanation(self) -> &'static str {
                match self {
                    $(Code::$variant => include_str!(concat!("../docs/diagnostics/", $code, ".md")),)*
                }
            }
        }
    };
}

codes! {
    SyntaxError = "K001", "syntax-error", Error, "the file is not valid Python";
    SyntaxNewerThanTarget = "K002", "syntax-newer-than-target", Error, "syntax that the target Python version does not have";
    UndecodableSource = "K003", "undecodable-source", Error, "the file's bytes are not text in a supported encoding";
    UnreadablePath = "K004", "unreadable-path", Error, "a path given to kappac does not exist, cannot be read, or is not an app";
    MissingHandler = "K010", "missing-handler", Error, "handler.py defines no `handler(event, context)` function";
    HandlerSignature = "K011", "handler-signature", Error, "`handler` cannot be called as `handler(event, context)`";
    PauseInGenerator = "K020", "pause-in-generator", Error, "a generator function can pause";
    PauseInAsyncFunction = "K021", "pause-in-async-function", Error, "an `async def` function can pause";
    PauseInMagicMethod = "K022", "pause-in-magic-method", Error, "a magic method other than `__init__` can pause";
    GlobalWriteInPausingFunction = "K023", "global-write-in-pausing-function", Error, "a function that can pause assigns a `global` or `nonlocal` name";
    PauseAtModuleLevel = "K024", "pause-at-module-level", Error, "a coordinator call runs at import time, outside any task";
    PauseInIgnoredFunction = "K025", "pause-in-ignored-function", Error, "a function marked `kappa:ignore` can pause";
    UnknownRtFunction = "K026", "unknown-rt-function", Error, "a call of an `rt` attribute that the runtime does not define";
    PauseInTry = "K030", "pause-in-try", Error, "(retired) a pause point inside `try`";
    PauseInWith = "K031", "pause-in-with", Error, "(retired) a pause point inside a `with` block";
    PausingNestedFunction = "K032", "pausing-nested-function", Error, "a lambda that does more after its pausing call, or a method of a class defined in a function, can pause";
    PauseInGeneratorExpression = "K033", "pause-in-generator-expression", Error, "a pause point inside a generator expression";
    PauseInLoopElse = "K034", "pause-in-loop-else", Error, "(retired) a pause point inside a loop that has an `else` clause";
    PausingDecoratedFunction = "K035", "pausing-decorated-function", Error, "a function that can pause has a decorator imported from another module (its wrapper would be skipped on resume)";
    SpawnOfNestedFunction = "K036", "spawn-of-nested-function", Error, "(retired) a nested function or lambda is spawned as a task";
    PauseInUnsupportedPosition = "K037", "pause-in-unsupported-position", Error, "a pause point where the transform cannot yet put one (an f-string, a `match` statement, an assignment target ...)";
    PauseInFinally = "K038", "pause-in-finally", Error, "(retired) a pause point inside a `finally` block";
    UnpicklableContextManager = "K039", "unpicklable-context-manager", Warning, "a resource that cannot be saved in a checkpoint (a file, a lock) is held across a pause point, in a `with` block or a variable";
    PausingFunctionEscapes = "K040", "pausing-function-escapes", Error, "a function that can pause is passed to code kappac cannot transform";
    CapturedVariableReassigned = "K041", "captured-variable-reassigned", Error, "a function that can pause has a variable captured by a nested function or lambda and changed after its creation";
    UnfollowedCall = "K042", "unfollowed-call", Warning, "a call of a value kappac cannot follow, in a module whose functions can pause";
    CoordinatorCallOutsideHandler = "K050", "coordinator-call-outside-handler", Warning, "a helper module calls the coordinator, but only handler.py is compiled";
}

/// Codes no longer reported, with the version that retired them. They stay in the registry
/// (codes are never reused) so that `kappac explain` still answers for them.
const RETIRED: &[(Code, &str)] = &[
    (Code::PauseInTry, "0.1.0"),
    (Code::PauseInWith, "0.1.0"),
    (Code::PauseInLoopElse, "0.1.0"),
    (Code::SpawnOfNestedFunction, "0.2.0"),
    (Code::PauseInFinally, "0.2.0"),
];

impl Code {
    /// The kappac version that stopped reporting this code, if it did.
    pub fn retired_in(self) -> Option<&'static str> {
        RETIRED.iter().find(|(c, _)| *c == self).map(|(_, v)| *v)
    }

    /// Looks a code up by its printed form (`K020`, case-insensitive) or its name.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|code| code.as_str().eq_ignore_ascii_case(text) || code.name() == text)
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_ordered() {
        let printed: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let mut sorted = printed.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(printed, sorted, "codes must be unique and listed in order");
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Code::ALL.len(), "rule names must be unique");
    }

    #[test]
    fn every_explanation_has_the_required_sections() {
        for code in Code::ALL {
            let doc = code.explanation();
            assert!(
                doc.starts_with(&format!("# {} ({})", code.as_str(), code.name())),
                "{} doc must start with `# {} ({})`",
                code.as_str(),
                code.as_str(),
                code.name()
            );
            for section in ["## What it does", "## Why", "## Example", "## How to fix"] {
                assert!(
                    doc.contains(section),
                    "{} doc lacks section `{section}`",
                    code.as_str()
                );
            }
            let example = doc
                .split("## Example")
                .nth(1)
                .and_then(|rest| rest.split("## How to fix").next())
                .unwrap_or("");
            assert!(
                example.contains("```"),
                "{} doc's Example has no code block",
                code.as_str()
            );
        }
    }

    #[test]
    fn parse_accepts_code_and_name() {
        assert_eq!(Code::parse("k020"), Some(Code::PauseInGenerator));
        assert_eq!(
            Code::parse("pause-in-generator"),
            Some(Code::PauseInGenerator)
        );
        assert_eq!(Code::parse("K999"), None);
    }
}
