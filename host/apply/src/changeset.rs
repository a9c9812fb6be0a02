//! Change sets: what a run did to each object, as data (Flux's `ssa.ChangeSet`).

use std::fmt;

use crate::object::ObjectRef;

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// It did not exist and was created (or was recreated because an immutable field
    /// changed).
    Created,
    /// It existed and differed; it was updated.
    Configured,
    /// It existed and matched; nothing was written.
    Unchanged,
    /// It was deleted (prune).
    Deleted,
    /// Left alone on purpose: `ssa: Ignore`, `ssa: IfNotPresent` when it exists, `prune:
    /// disabled`, or owned by another Kustomization.
    Skipped,
}

impl fmt::Display for Action {
    /// Flux's spelling: `created`, `configured`, `unchanged`, `deleted`, `skipped`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Deleted => "deleted",
            Action::Skipped => "skipped",
        })
    }
}

/// One object's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetEntry {
    /// The object.
    pub object: ObjectRef,
    /// The version it was handled at.
    pub version: String,
    /// What happened.
    pub action: Action,
}

impl fmt::Display for ChangeSetEntry {
    /// `Kind/namespace/name action`, as Flux prints change sets in events.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.object, self.action)
    }
}

/// The outcome of a run, in the order objects were handled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// One entry per object.
    pub entries: Vec<ChangeSetEntry>,
}

impl ChangeSet {
    /// Adds an entry.
    pub fn add(&mut self, object: ObjectRef, version: &str, action: Action) {
        self.entries.push(ChangeSetEntry {
            object,
            version: version.to_string(),
            action,
        });
    }

    /// Appends another change set.
    pub fn extend(&mut self, other: ChangeSet) {
        self.entries.extend(other.entries);
    }

    /// Whether anything was created, configured or deleted.
    pub fn has_changes(&self) -> bool {
        self.entries.iter().any(|e| {
            matches!(
                e.action,
                Action::Created | Action::Configured | Action::Deleted
            )
        })
    }

    /// Entries with a given action.
    pub fn with_action(&self, action: Action) -> impl Iterator<Item = &ChangeSetEntry> {
        self.entries.iter().filter(move |e| e.action == action)
    }

    /// The entry of an object.
    pub fn get(&self, object: &ObjectRef) -> Option<&ChangeSetEntry> {
        self.entries.iter().find(|e| &e.object == object)
    }

    /// The changes only (no unchanged or skipped objects), one per line — the text of a
    /// Flux `Progressing` event.
    pub fn summary(&self) -> String {
        self.entries
            .iter()
            .filter(|e| {
                matches!(
                    e.action,
                    Action::Created | Action::Configured | Action::Deleted
                )
            })
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_lists_only_changes_in_flux_wording() {
        let mut cs = ChangeSet::default();
        cs.add(
            ObjectRef::new("", "ConfigMap", "a", "x"),
            "v1",
            Action::Unchanged,
        );
        assert!(!cs.has_changes());
        cs.add(
            ObjectRef::new("", "Namespace", "", "a"),
            "v1",
            Action::Created,
        );
        cs.add(
            ObjectRef::new("apps", "Deployment", "a", "d"),
            "v1",
            Action::Configured,
        );
        assert!(cs.has_changes());
        assert_eq!(
            cs.summary(),
            "Namespace/a created\nDeployment/a/d configured"
        );
    }
}
