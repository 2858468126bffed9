//! The one table of what each command may do to a container in each status, with the words
//! runc uses when it refuses (callers such as containerd and conformance suites match them).

use super::state::Status;

/// A command that acts on an existing container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Start,
    Exec {
        ignore_paused: bool,
    },
    Kill,
    Pause,
    Resume,
    Delete {
        force: bool,
    },
    Update,
    Ps,
    Events,
    /// `checkpoint` (CRIU dumps a live container, frozen or not).
    Checkpoint,
}

/// What the table says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Go,
    /// Allowed once the init is gone: SIGKILL it, wait, then go on (delete of a created
    /// container, or `delete --force` of a live one).
    KillInitFirst,
    /// Refused; the text may hold `{id}` and `{status}`.
    Refuse(&'static str),
}

/// The table.
pub fn decide(op: Operation, status: Status) -> Decision {
    use Decision::*;
    use Status::*;
    match (op, status) {
        (Operation::Start, Created) => Go,
        (Operation::Start, Stopped) => Refuse("cannot start a container that has stopped"),
        (Operation::Start, Running) => Refuse("cannot start an already running container"),
        (Operation::Start, _) => Refuse("cannot start a container in the {status} state"),

        (Operation::Exec { .. }, Running | Created) => Go,
        (
            Operation::Exec {
                ignore_paused: true,
            },
            Paused,
        ) => Go,
        (Operation::Exec { .. }, Paused) => {
            Refuse("cannot exec in a paused container (use --ignore-paused to override)")
        }
        (Operation::Exec { .. }, _) => Refuse("cannot exec in a stopped container"),

        (Operation::Kill | Operation::Update | Operation::Ps, Stopped) => {
            Refuse("container not running")
        }
        (Operation::Kill | Operation::Update | Operation::Ps, _) => Go,

        (Operation::Pause, Running | Created) => Go,
        (Operation::Pause, Paused) => Refuse("container already paused"),
        (Operation::Pause, _) => Refuse("container not running"),

        (Operation::Resume, Paused) => Go,
        (Operation::Resume, _) => Refuse("container not paused"),

        (Operation::Delete { .. }, Stopped) => Go,
        (Operation::Delete { .. }, Created) => KillInitFirst,
        (Operation::Delete { force: true }, _) => KillInitFirst,
        (Operation::Delete { force: false }, _) => {
            Refuse("cannot delete container {id} that is not stopped: {status}")
        }

        (Operation::Events, Stopped) => Refuse("container with id {id} is not running"),
        (Operation::Events, _) => Go,

        (Operation::Checkpoint, Running | Paused) => Go,
        (Operation::Checkpoint, _) => Refuse("Container cannot be checkpointed in {status} state"),
    }
}

/// A refusal's text with its placeholders filled in.
pub fn refusal_text(template: &str, id: &str, status: Status) -> String {
    template
        .replace("{id}", id)
        .replace("{status}", &status.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    const ALL: [Status; 5] = [Creating, Created, Running, Paused, Stopped];

    fn allowed(op: Operation) -> Vec<Status> {
        ALL.into_iter()
            .filter(|s| !matches!(decide(op, *s), Decision::Refuse(_)))
            .collect()
    }

    #[test]
    fn which_status_allows_what() {
        assert_eq!(allowed(Operation::Start), [Created]);
        assert_eq!(
            allowed(Operation::Exec {
                ignore_paused: false
            }),
            [Created, Running]
        );
        assert_eq!(
            allowed(Operation::Exec {
                ignore_paused: true
            }),
            [Created, Running, Paused]
        );
        for op in [
            Operation::Kill,
            Operation::Update,
            Operation::Ps,
            Operation::Events,
        ] {
            assert_eq!(allowed(op), [Creating, Created, Running, Paused], "{op:?}");
        }
        assert_eq!(allowed(Operation::Pause), [Created, Running]);
        assert_eq!(allowed(Operation::Resume), [Paused]);
        assert_eq!(
            allowed(Operation::Delete { force: false }),
            [Created, Stopped]
        );
        assert_eq!(allowed(Operation::Delete { force: true }), ALL);
        assert_eq!(allowed(Operation::Checkpoint), [Running, Paused]);
    }

    #[test]
    fn delete_kills_a_live_init_first() {
        let d = |force, s| decide(Operation::Delete { force }, s);
        assert_eq!(d(false, Stopped), Decision::Go);
        assert_eq!(d(true, Stopped), Decision::Go);
        assert_eq!(d(false, Created), Decision::KillInitFirst);
        for s in [Creating, Running, Paused] {
            assert_eq!(d(true, s), Decision::KillInitFirst, "{s}");
        }
    }

    /// The phrases callers match (runc's).
    #[test]
    fn refusals_use_runcs_words() {
        let text = |op, s| match decide(op, s) {
            Decision::Refuse(t) => refusal_text(t, "c1", s),
            d => panic!("{op:?} in {s}: {d:?}"),
        };
        assert_eq!(text(Operation::Kill, Stopped), "container not running");
        assert_eq!(
            text(Operation::Start, Stopped),
            "cannot start a container that has stopped"
        );
        assert_eq!(
            text(Operation::Start, Paused),
            "cannot start a container in the paused state"
        );
        assert_eq!(
            text(Operation::Delete { force: false }, Running),
            "cannot delete container c1 that is not stopped: running"
        );
        assert_eq!(
            text(Operation::Events, Stopped),
            "container with id c1 is not running"
        );
        assert_eq!(text(Operation::Resume, Running), "container not paused");
        assert_eq!(
            text(Operation::Checkpoint, Created),
            "Container cannot be checkpointed in created state"
        );
    }
}
