//! Analysis of a parsed handler.py, computed once and queried by every later stage: scopes,
//! call graph and value flows, can-pause, and the diagnostics derived from them (restrictions,
//! escapes, the handler's signature).

pub mod calls;
pub mod can_pause;
mod closures;
mod escape;
mod handler;
pub mod names;
mod restrictions;
pub mod rt_api;
pub mod scopes;
mod unfollowed;

use ruff_python_ast::ModModule;
use ruff_text_size::Ranged;

use crate::diagnostics::Diagnostic;
use crate::source::SourceFile;
use calls::{CallGraph, CallSite, Callee};
use can_pause::CanPause;
use scopes::{FunctionId, ScopeId, Scopes};

/// The facts about one module.
pub struct Analysis<'a> {
    pub scopes: Scopes<'a>,
    pub calls: CallGraph<'a>,
    pub can_pause: CanPause<'a>,
    /// Call sites of each function (indexed by function id), in source order.
    sites_by_function: Vec<Vec<usize>>,
}

impl<'a> Analysis<'a> {
    pub fn new(module: &'a ModModule) -> Analysis<'a> {
        let scopes = Scopes::collect(module);
        let calls = CallGraph::collect(&scopes, &module.body);
        let can_pause = CanPause::compute(&scopes, &calls);
        let mut sites_by_function = vec![Vec::new(); scopes.functions.len()];
        for (index, site) in calls.sites.iter().enumerate() {
            if let ScopeId::Function(id) = site.scope {
                sites_by_function[id.0 as usize].push(index);
            }
        }
        for sites in &mut sites_by_function {
            sites.sort_by_key(|&i| calls.sites[i].range.start());
        }
        Analysis {
            scopes,
            calls,
            can_pause,
            sites_by_function,
        }
    }

    pub fn site(&self, index: usize) -> &CallSite<'a> {
        &self.calls.sites[index]
    }

    /// The pause points of a function, in source order.
    pub fn pause_points_of(&self, id: FunctionId) -> impl Iterator<Item = usize> + '_ {
        self.sites_by_function[id.0 as usize]
            .iter()
            .copied()
            .filter(|&i| self.can_pause.is_pause_point(i))
    }

    /// All findings about this module as handler.py. `file` supplies text for messages.
    pub fn diagnostics(&self, file: &SourceFile) -> Vec<Diagnostic> {
        let ctx = Context {
            analysis: self,
            file,
        };
        let mut out = Vec::new();
        handler::check(&ctx, &mut out);
        let escaped = escape::check(&ctx, &mut out);
        restrictions::check(&ctx, &escaped, &mut out);
        closures::check(&ctx, &mut out);
        unfollowed::check(&ctx, &mut out);
        out
    }

    /// Coordinator calls anywhere in the module, for helper modules that are not compiled.
    pub fn coordinator_calls(&self) -> impl Iterator<Item = &CallSite<'a>> + '_ {
        self.calls
            .sites
            .iter()
            .filter(|site| matches!(site.callee, Callee::Coordinator(_)))
    }
}

/// What the diagnostic builders share: the facts and the file's text.
struct Context<'x, 'a> {
    analysis: &'x Analysis<'a>,
    file: &'x SourceFile,
}

impl<'x, 'a> Context<'x, 'a> {
    fn text(&self, range: impl Ranged) -> &'x str {
        self.file
            .text
            .get(range.range().to_std_range())
            .unwrap_or("?")
    }

    fn line(&self, range: impl Ranged) -> usize {
        self.file.line_of(range.range().start())
    }

    /// What the primary label at a pause point says.
    fn pause_label(&self, site: &CallSite<'a>) -> String {
        let callee = short(self.text(site.callee_range));
        match site.callee {
            Callee::Coordinator(_) => format!("`{callee}` is a coordinator call"),
            Callee::Variable(_) => format!("`{callee}` may hold a function that can pause"),
            Callee::MethodByName(_) => {
                format!("`{callee}` may call a method that can pause")
            }
            _ => format!("`{callee}` can pause"),
        }
    }

    /// Why a function can pause, as a chain of calls: "`f` can pause: it calls `g` (line 7),
    /// which calls `spawn` (line 3), a coordinator call". `None` when the function makes a
    /// coordinator call itself, which the primary label already shows.
    fn why_pauses(&self, id: FunctionId) -> Option<String> {
        let analysis = self.analysis;
        let direct = analysis
            .can_pause
            .witness(id)
            .is_some_and(|index| matches!(analysis.site(index).callee, Callee::Coordinator(_)));
        if direct {
            return None;
        }
        let mut text = format!("`{}` can pause:", analysis.scopes.function(id).qualname);
        let mut current = id;
        let mut seen = vec![id];
        let mut first = true;
        while let Some(index) = analysis.can_pause.witness(current) {
            let site = analysis.site(index);
            let callee = short(self.text(site.callee_range));
            text.push_str(&format!(
                " {} `{callee}` (line {})",
                if first { "it calls" } else { ", which calls" },
                self.line(site.range)
            ));
            first = false;
            let next = match site.callee {
                Callee::Function(next) | Callee::BoundMethod(next) => Some(next),
                Callee::Constructor(class) => analysis.scopes.lookup_method(class, "__init__"),
                Callee::Coordinator(_) => {
                    text.push_str(", a coordinator call");
                    None
                }
                Callee::Variable(_) | Callee::MethodByName(_) => {
                    text.push_str(", which may be a function that can pause");
                    None
                }
                _ => None,
            };
            match next {
                Some(next) if !seen.contains(&next) && seen.len() < 8 => {
                    seen.push(next);
                    current = next;
                }
                _ => break,
            }
        }
        Some(text.replace(" ,", ","))
    }
}

/// Long callee texts (a multi-line lambda, a chained call) are shortened for messages.
fn short(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 40 {
        let cut: String = one_line.chars().take(37).collect();
        format!("{cut}...")
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests;
