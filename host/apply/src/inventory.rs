//! The inventory of applied objects in Flux's format (kustomize-controller's
//! `status.inventory`), and the pure set math prune is built on.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::changeset::{Action, ChangeSet};
use crate::object::ObjectRef;

/// Separates the fields of an id.
const SEP: char = '_';
/// How a `:` in a name (RBAC names such as `system:controller`) is spelled in an id, as
/// cli-utils does, so that the id still splits into four fields.
const COLON: &str = "__";

/// One inventory entry: `{id: "<ns>_<name>_<group>_<kind>", v: "<version>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InventoryEntry {
    /// `<namespace>_<name>_<group>_<kind>`.
    pub id: String,
    /// The version the object was applied at.
    pub v: String,
}

/// A Kustomization's inventory: the objects it applied, sorted by id. Serializes exactly
/// as Flux's `status.inventory` (`{"entries": [...]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The entries, sorted by id, one per object.
    pub entries: Vec<InventoryEntry>,
}

/// The inventory id of an object: `<namespace>_<name>_<group>_<kind>`.
pub fn object_id(r: &ObjectRef) -> String {
    format!(
        "{}{SEP}{}{SEP}{}{SEP}{}",
        r.namespace,
        r.name.replace(':', COLON),
        r.group,
        r.kind
    )
}

/// Parses an inventory id. Namespaces, groups and kinds never contain `_`, so the first
/// field is the namespace and the last two are group and kind; the rest is the name.
pub fn parse_id(id: &str) -> Option<ObjectRef> {
    let (namespace, rest) = id.split_once(SEP)?;
    let (rest, kind) = rest.rsplit_once(SEP)?;
    let (name, group) = rest.rsplit_once(SEP)?;
    if name.is_empty() || kind.is_empty() {
        return None;
    }
    Some(ObjectRef::new(
        group,
        kind,
        namespace,
        &name.replace(COLON, ":"),
    ))
}

impl Inventory {
    /// An inventory of objects and their versions.
    pub fn from_refs<'a>(refs: impl IntoIterator<Item = (&'a ObjectRef, &'a str)>) -> Inventory {
        let map: BTreeMap<String, String> = refs
            .into_iter()
            .map(|(r, v)| (object_id(r), v.to_string()))
            .collect();
        Inventory {
            entries: map
                .into_iter()
                .map(|(id, v)| InventoryEntry { id, v })
                .collect(),
        }
    }

    /// Every object of a change set, whatever its action, except deleted ones — as Flux
    /// builds the new inventory from the apply change set (skipped objects stay in it, so
    /// that they are pruned once they leave the source).
    pub fn from_change_set(cs: &ChangeSet) -> Inventory {
        Inventory::from_refs(
            cs.entries
                .iter()
                .filter(|e| e.action != Action::Deleted)
                .map(|e| (&e.object, e.version.as_str())),
        )
    }

    /// The objects and versions, in id order. Entries whose id does not parse are left out.
    pub fn refs(&self) -> Vec<(ObjectRef, String)> {
        self.entries
            .iter()
            .filter_map(|e| parse_id(&e.id).map(|r| (r, e.v.clone())))
            .collect()
    }

    /// Entries of `self` whose object is not in `newer` (the version is not part of the
    /// identity): what prune deletes.
    pub fn diff(&self, newer: &Inventory) -> Vec<(ObjectRef, String)> {
        let keep: BTreeSet<&str> = newer.entries.iter().map(|e| e.id.as_str()).collect();
        self.entries
            .iter()
            .filter(|e| !keep.contains(e.id.as_str()))
            .filter_map(|e| parse_id(&e.id).map(|r| (r, e.v.clone())))
            .collect()
    }

    /// Both inventories; where both name an object, `other`'s version wins.
    pub fn union(&self, other: &Inventory) -> Inventory {
        let mut map: BTreeMap<String, String> = self
            .entries
            .iter()
            .map(|e| (e.id.clone(), e.v.clone()))
            .collect();
        for e in &other.entries {
            map.insert(e.id.clone(), e.v.clone());
        }
        Inventory {
            entries: map
                .into_iter()
                .map(|(id, v)| InventoryEntry { id, v })
                .collect(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_namespace_name_group_kind_with_empty_fields_kept() {
        assert_eq!(
            object_id(&ObjectRef::new("apps", "Deployment", "default", "podinfo")),
            "default_podinfo_apps_Deployment"
        );
        assert_eq!(
            object_id(&ObjectRef::new("", "Namespace", "", "apps")),
            "_apps__Namespace"
        );
        assert_eq!(
            object_id(&ObjectRef::new("", "ConfigMap", "a", "cm")),
            "a_cm__ConfigMap"
        );
    }

    #[test]
    fn colons_in_rbac_names_are_spelled_as_double_underscores_and_parsed_back() {
        let r = ObjectRef::new(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            "",
            "system:gyre:reader",
        );
        let id = object_id(&r);
        assert_eq!(
            id,
            "_system__gyre__reader_rbac.authorization.k8s.io_ClusterRole"
        );
        assert_eq!(parse_id(&id), Some(r));
    }

    #[test]
    fn every_id_parses_back_to_its_object() {
        for r in [
            ObjectRef::new("", "Namespace", "", "apps"),
            ObjectRef::new("", "Service", "default", "my-svc"),
            ObjectRef::new(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                "",
                "a.b.c",
            ),
            ObjectRef::new(
                "source.toolkit.fluxcd.io",
                "GitRepository",
                "flux-system",
                "x.y",
            ),
        ] {
            assert_eq!(parse_id(&object_id(&r)).as_ref(), Some(&r));
        }
        assert_eq!(parse_id("garbage"), None);
    }

    #[test]
    fn diff_lists_what_left_the_inventory_ignoring_version_changes() {
        let a = ObjectRef::new("", "ConfigMap", "ns", "a");
        let b = ObjectRef::new("apps", "Deployment", "ns", "b");
        let c = ObjectRef::new("", "Namespace", "", "ns");
        let old = Inventory::from_refs([(&a, "v1"), (&b, "v1beta1"), (&c, "v1")]);
        let new = Inventory::from_refs([(&b, "v1"), (&c, "v1")]);
        assert_eq!(old.diff(&new), vec![(a.clone(), "v1".to_string())]);
        assert!(new.diff(&old).is_empty());
        let u = new.union(&old);
        assert_eq!(u.len(), 3);
        assert_eq!(
            u.entries.iter().find(|e| e.id == object_id(&b)).unwrap().v,
            "v1beta1"
        );
    }

    #[test]
    fn the_inventory_serializes_exactly_as_flux_status_inventory() {
        let a = ObjectRef::new("apps", "Deployment", "default", "podinfo");
        let inv = Inventory::from_refs([(&a, "v1")]);
        assert_eq!(
            serde_json::to_string(&inv).unwrap(),
            r#"{"entries":[{"id":"default_podinfo_apps_Deployment","v":"v1"}]}"#
        );
    }
}
