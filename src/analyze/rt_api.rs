//! The runtime's public API as the compiler knows it: which names `rt` exports and which of them
//! are coordinator calls (pause points).

/// Every public name of the `rt` module.
pub const NAMES: &[&str] = &[
    "checkpoint",
    "pause",
    "maybe_pause",
    "spawn",
    "spawn_many",
    "map_spawn",
    "create_queue",
    "create_queues",
    "exit",
    "exit_process",
    "on_coordinator",
    "Future",
    "Queue",
    "run",
];

/// Functions of `rt` whose call is a coordinator call.
pub const COORDINATOR_FUNCTIONS: &[&str] = &[
    "checkpoint",
    "pause",
    "maybe_pause",
    "spawn",
    "spawn_many",
    "map_spawn",
    "create_queue",
    "create_queues",
    "exit",
    "exit_process",
];

/// Methods of runtime objects (`Future.wait`, `Queue.enqueue`, `Queue.dequeue`) whose call is a
/// coordinator call. kappac does not know types, so any call of a method with one of these
/// names on a value of unknown type counts.
pub const COORDINATOR_METHODS: &[&str] = &["wait", "enqueue", "dequeue"];

/// Coordinator functions whose first argument is the function a new task runs.
pub const SPAWNING_FUNCTIONS: &[&str] = &["spawn", "spawn_many", "map_spawn"];

pub fn is_coordinator_function(name: &str) -> bool {
    COORDINATOR_FUNCTIONS.contains(&name)
}

pub fn is_coordinator_method(name: &str) -> bool {
    COORDINATOR_METHODS.contains(&name)
}

#[cfg(test)]
mod tests {
    /// The compiler's list of `rt` names and the runtime's `__all__` must agree.
    #[test]
    fn names_match_the_runtime() {
        let runtime = include_str!("../../runtime_py/rt/__init__.py");
        let start = runtime.find("__all__ = [").expect("rt defines __all__");
        let end = start + runtime[start..].find(']').expect("__all__ ends");
        let mut exported: Vec<&str> = runtime[start..end].split('"').skip(1).step_by(2).collect();
        exported.sort_unstable();
        let mut known: Vec<&str> = super::NAMES.to_vec();
        known.sort_unstable();
        assert_eq!(known, exported);
        for name in super::COORDINATOR_FUNCTIONS {
            assert!(exported.contains(name), "{name} is not exported by rt");
        }
    }
}
