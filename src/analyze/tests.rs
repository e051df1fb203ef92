//! Unit tests of the analyses: one `check` helper, many tiny programs.

use ruff_python_parser::parse_module;

use super::calls::Callee;
use super::scopes::ScopeId;
use super::Analysis;
use crate::codes::Code;
use crate::source::SourceFile;

/// Facts about a program: the qualnames of functions that can pause, the source text of every
/// pause point, and the codes diagnosed.
struct Facts {
    pausing: Vec<String>,
    pause_points: Vec<String>,
    codes: Vec<Code>,
}

fn facts(source: &str) -> Facts {
    let parsed = parse_module(source).expect("test program parses");
    let analysis = Analysis::new(parsed.syntax());
    let mut pausing: Vec<String> = analysis
        .scopes
        .function_ids()
        .filter(|id| analysis.can_pause.function_can_pause(*id))
        .map(|id| analysis.scopes.function(id).qualname.clone())
        .collect();
    pausing.sort();
    let pause_points = analysis
        .calls
        .sites
        .iter()
        .enumerate()
        .filter(|(i, _)| analysis.can_pause.is_pause_point(*i))
        .map(|(_, site)| source[site.range.to_std_range()].to_owned())
        .collect();
    let file = SourceFile::new("t.py", source);
    let mut codes: Vec<Code> = analysis.diagnostics(&file).iter().map(|d| d.code).collect();
    codes.sort();
    Facts {
        pausing,
        pause_points,
        codes,
    }
}

const HANDLER: &str = "\ndef handler(event, context):\n    return 0\n";

fn with_handler(source: &str) -> String {
    format!("{source}{HANDLER}")
}

#[test]
fn pausing_is_transitive() {
    let f = facts(&with_handler(
        "from rt import checkpoint\ndef a():\n    checkpoint()\ndef b():\n    a()\ndef c():\n    b()\ndef d():\n    return len([])\n",
    ));
    assert_eq!(f.pausing, ["a", "b", "c"]);
    assert_eq!(f.pause_points, ["checkpoint()", "a()", "b()"]);
}

#[test]
fn builtins_and_other_modules_are_not_pause_points() {
    let f = facts(&with_handler(
        "import rt, os\ndef a(xs):\n    print(len(xs))\n    os.getcwd()\n    xs.append(1)\n    rt.checkpoint()\n",
    ));
    assert_eq!(f.pause_points, ["rt.checkpoint()"]);
}

#[test]
fn all_import_forms_of_rt() {
    for import in [
        "import rt\nP = rt.pause",
        "import rt as r\nP = r.pause",
        "from rt import pause as P",
        "from rt import *\nP = pause",
    ] {
        let call = if import.contains('=') {
            import.rsplit(" = ").next().unwrap_or("").to_owned()
        } else {
            "P".to_owned()
        };
        let source = format!(
            "{}\ndef a():\n    {call}()\n",
            import.lines().next().unwrap_or("")
        );
        let f = facts(&with_handler(&source));
        assert_eq!(f.pausing, ["a"], "{import}");
    }
}

#[test]
fn methods_on_self_and_constructors_resolve() {
    let f = facts(&with_handler(
        "import rt\nclass W:\n    def __init__(self, q):\n        self.q = q\n        self.step()\n    def step(self):\n        self.q.enqueue(1)\n    def quiet(self):\n        return 1\ndef make(q):\n    return W(q)\n",
    ));
    assert_eq!(f.pausing, ["W.__init__", "W.step", "make"]);
}

#[test]
fn inherited_methods_resolve_through_bases() {
    let f = facts(&with_handler(
        "import rt\nclass A:\n    def go(self):\n        rt.checkpoint()\nclass B(A):\n    def run(self):\n        self.go()\n",
    ));
    assert_eq!(f.pausing, ["A.go", "B.run"]);
}

#[test]
fn parameter_holding_a_pausing_function_is_a_pause_point() {
    let f = facts(&with_handler(
        "import rt\ndef p(x):\n    rt.checkpoint()\ndef q(x):\n    return x\ndef apply(f, x):\n    return f(x)\ndef apply2(g, x):\n    return g(x)\ndef main():\n    apply(p, 1)\n    apply2(q, 1)\n",
    ));
    assert!(f.pausing.contains(&"apply".to_owned()));
    assert!(!f.pausing.contains(&"apply2".to_owned()), "{:?}", f.pausing);
    assert!(f.pause_points.contains(&"f(x)".to_owned()));
}

#[test]
fn keyword_and_spawned_arguments_reach_parameters() {
    let f = facts(&with_handler(
        "import rt\ndef p(x):\n    rt.checkpoint()\ndef apply(x, f=None):\n    return f(x)\ndef task(g):\n    return g(1)\ndef main():\n    apply(1, f=p)\n    rt.spawn(task, (p,))\n",
    ));
    assert!(f.pausing.contains(&"apply".to_owned()), "{:?}", f.pausing);
    assert!(f.pausing.contains(&"task".to_owned()), "{:?}", f.pausing);
}

#[test]
fn functions_in_containers_and_aliases() {
    let f = facts(&with_handler(
        "import rt\ndef p():\n    rt.checkpoint()\ndef run_all():\n    fs = [p, len]\n    for f in fs:\n        f()\ndef alias():\n    g = p\n    g()\ndef pick():\n    return {'a': p}['a']()\n",
    ));
    assert_eq!(f.pausing, ["alias", "p", "pick", "run_all"]);
}

#[test]
fn returned_functions_are_tracked() {
    let f = facts(&with_handler(
        "import rt\ndef p():\n    rt.checkpoint()\ndef get():\n    return p\ndef main():\n    h = get()\n    h()\n",
    ));
    assert!(f.pausing.contains(&"main".to_owned()), "{:?}", f.pausing);
}

#[test]
fn ignored_functions_do_not_pause_but_are_reported() {
    let f = facts(&with_handler(
        "import rt\ndef quiet():\n    '''kappa:ignore'''\n    rt.checkpoint()\ndef caller():\n    quiet()\n",
    ));
    assert!(f.pausing.is_empty(), "{:?}", f.pausing);
    assert_eq!(f.codes, [Code::PauseInIgnoredFunction]);
}

#[test]
fn shadowing_a_pausing_name_with_a_parameter() {
    // `spawn` here is a parameter, not the runtime's function.
    let f = facts(&with_handler(
        "from rt import spawn\ndef a(spawn):\n    return spawn(1)\n",
    ));
    assert!(f.pausing.is_empty(), "{:?}", f.pausing);
}

#[test]
fn comprehension_variables_shadow_in_the_comprehension_only() {
    let f = facts(&with_handler(
        "from rt import spawn\ndef a(fs):\n    return [spawn() for spawn in fs]\n",
    ));
    assert!(f.pausing.is_empty(), "{:?}", f.pausing);
}

#[test]
fn coordinator_methods_need_rt() {
    let without = facts(&with_handler(
        "import threading\ndef a(c):\n    with c:\n        c.wait()\n",
    ));
    assert!(without.pausing.is_empty());
    assert!(without.codes.is_empty());
    let with = facts(&with_handler(
        "import rt\ndef a(c):\n    with c:\n        c.wait()\n",
    ));
    assert_eq!(with.pausing, ["a"]);
    assert!(with.codes.is_empty(), "{:?}", with.codes);
}

#[test]
fn restrictions_apply_only_where_a_pause_can_happen() {
    // A module that pauses (`p`), with generators and coroutines that do not: nothing to
    // report. The same constructs calling `p` are reported, so the checks run on this module
    // and it is their guard that keeps the first ones quiet.
    let pausing = "import rt\ndef p():\n    rt.checkpoint()\n";
    let quiet = format!("{pausing}def g():\n    yield 1\nasync def h():\n    await x\ndef t():\n    return sum(i for i in [])\n");
    let quiet_facts = facts(&with_handler(&quiet));
    assert!(quiet_facts.codes.is_empty(), "{:?}", quiet_facts.codes);
    let loud =
        format!("{pausing}def g():\n    yield 1\n    p()\nasync def h():\n    await x\n    p()\n");
    let loud_facts = facts(&with_handler(&loud));
    assert_eq!(loud_facts.codes.len(), 2, "{:?}", loud_facts.codes);
}

#[test]
fn one_diagnostic_per_construct() {
    let f = facts(&with_handler(
        "import rt\ndef t(a, b):\n    g = (x.wait() + b.wait() for x in a)\n    return g\n",
    ));
    assert_eq!(f.codes, [Code::PauseInGeneratorExpression]);
}

#[test]
fn escape_through_unknown_method_receiver_is_not_reported() {
    let f = facts(&with_handler(
        "import rt\ndef p():\n    rt.checkpoint()\ndef a(pool):\n    pool.submit(p)\n",
    ));
    assert!(f.codes.is_empty(), "{:?}", f.codes);
}

#[test]
fn escape_into_module_attribute() {
    let f = facts(&with_handler(
        "import rt, helpers\ndef p():\n    rt.checkpoint()\ndef a():\n    helpers.callback = p\n",
    ));
    assert_eq!(f.codes, [Code::PausingFunctionEscapes]);
}

#[test]
fn pausing_class_passed_to_map_escapes() {
    let f = facts(&with_handler(
        "import rt\nclass C:\n    def __init__(self, x):\n        rt.checkpoint()\ndef a(xs):\n    return list(map(C, xs))\n",
    ));
    assert_eq!(f.codes, [Code::PausingFunctionEscapes]);
}

#[test]
fn method_called_on_unknown_receiver_may_pause() {
    let f = facts(&with_handler(
        "import rt\nclass C:\n    def fetch(self):\n        rt.checkpoint()\ndef a(obj):\n    return obj.fetch()\n",
    ));
    assert!(f.pausing.contains(&"a".to_owned()), "{:?}", f.pausing);
}

#[test]
fn module_level_sites_belong_to_the_module_scope() {
    let parsed = parse_module("import rt\nx = rt.create_queue(1)\n").expect("parses");
    let analysis = Analysis::new(parsed.syntax());
    let site = &analysis.calls.sites[0];
    assert_eq!(site.scope, ScopeId::Module);
    assert_eq!(site.callee, Callee::Coordinator("create_queue"));
}

#[test]
fn deep_call_chains_are_followed_without_recursion() {
    // 20,000 functions each calling the next, on a test thread's 2 MiB stack: a pass that
    // recursed along the chain would overflow. (That the worklist is linear is measured by
    // the benchmark, `scripts/bench`, not here: a test must not depend on the machine's speed.)
    const N: usize = 20_000;
    let mut source = String::from("import rt\n");
    for i in 0..N {
        source.push_str(&format!("def f{i}():\n    f{}()\n", i + 1));
    }
    source.push_str(&format!("def f{N}():\n    rt.checkpoint()\n"));
    let f = facts(&with_handler(&source));
    assert_eq!(f.pausing.len(), N + 1);
}
