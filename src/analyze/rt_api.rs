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
