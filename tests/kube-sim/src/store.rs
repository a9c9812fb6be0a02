//! The object store: objects keyed by group/resource/namespace/name, a global monotonic
//! resourceVersion, the event history watches resume from, and garbage collection
//! (finalizers, ownerReferences, namespace and CRD cleanup).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

/// Where an object lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// API group.
    pub group: String,
    /// Plural resource.
    pub resource: String,
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl Key {
    /// Builds a key.
    pub fn new(group: &str, resource: &str, namespace: &str, name: &str) -> Key {
        Key {
            group: group.into(),
            resource: resource.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// Watch event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// ADDED
    Added,
    /// MODIFIED
    Modified,
    /// DELETED
    Deleted,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change to the store.
#[derive(Debug)]
pub struct Change {
    /// The resourceVersion this change produced.
    pub rv: u64,
    /// Event type.
    pub etype: EventType,
    /// Where.
    pub key: Key,
    /// The object after the change (for deletes, the last state).
    pub obj: Value,
    /// The object before the change, for modifications.
    pub old: Option<Value>,
}

/// All objects and history.
pub struct Store {
    /// The last resourceVersion handed out.
    pub rv: u64,
    /// Objects in storage form.
    pub objects: BTreeMap<Key, Value>,
    /// Recent changes, oldest first.
    pub history: VecDeque<Arc<Change>>,
    /// Max length of `history`.
    pub history_cap: usize,
    /// Watches can resume from any resourceVersion >= this.
    pub oldest_rv: u64,
    /// Live change feed.
    pub tx: broadcast::Sender<Arc<Change>>,
    /// Counter for allocating ClusterIPs.
    pub next_ip: u32,
}

/// The `metav1.Time` format.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Store {
    /// An empty store.
    pub fn new(history_cap: usize) -> Store {
        let (tx, _) = broadcast::channel(4096);
        Store {
            rv: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_cap,
            oldest_rv: 1,
            tx,
            next_ip: 10,
        }
    }

    fn record(&mut self, change: Change) {
        let c = Arc::new(change);
        self.history.push_back(c.clone());
        while self.history.len() > self.history_cap {
            if let Some(old) = self.history.pop_front() {
                self.oldest_rv = old.rv;
            }
        }
        let _ = self.tx.send(c);
    }

    /// Forgets all history: watches and continue tokens from before now get 410 Gone.
    pub fn compact(&mut self) {
        self.history.clear();
        self.oldest_rv = self.rv;
    }

    /// Writes an object (create or update), assigning a new resourceVersion.
    pub fn put(&mut self, key: Key, mut obj: Value) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let old = self.objects.insert(key.clone(), obj.clone());
        let etype = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(Change {
            rv: self.rv,
            etype,
            key,
            obj: obj.clone(),
            old,
        });
        obj
    }

    /// Removes an object, emitting DELETED.
    pub fn remove(&mut self, key: &Key) -> Option<Value> {
        let mut obj = self.objects.remove(key)?;
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(Change {
            rv: self.rv,
            etype: EventType::Deleted,
            key: key.clone(),
            obj: obj.clone(),
            old: None,
        });
        Some(obj)
    }

    /// Objects of one resource, optionally in one namespace.
    pub fn list(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> Vec<(&Key, &Value)> {
        self.objects
            .iter()
            .filter(|(k, _)| {
                k.group == group
                    && k.resource == resource
                    && namespace.is_none_or(|ns| k.namespace == ns)
            })
            .collect()
    }

    /// Marks an object for deletion (deletionTimestamp) or removes it when no finalizer
    /// holds it. Returns the object's state afterwards and whether it is gone.
    pub fn delete_object(
        &mut self,
        key: &Key,
        add_finalizer: Option<&str>,
    ) -> Option<(Value, bool)> {
        let mut obj = self.objects.get(key)?.clone();
        if let Some(f) = add_finalizer {
            let fins = obj["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !fins.iter().any(|x| x == f) && obj["metadata"]["deletionTimestamp"].is_null() {
                let mut fins = fins;
                fins.push(json!(f));
                obj["metadata"]["finalizers"] = json!(fins);
            }
        }
        if key.group.is_empty() && key.resource == "namespaces" {
            obj["status"]["phase"] = json!("Terminating");
        }
        let has_fins = obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
            || (key.group.is_empty()
                && key.resource == "namespaces"
                && obj["spec"]["finalizers"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty()));
        if has_fins {
            if obj["metadata"]["deletionTimestamp"].is_null() {
                obj["metadata"]["deletionTimestamp"] = json!(now());
                obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                let o = self.put(key.clone(), obj);
                self.gc();
                let cur = self.objects.get(key).cloned();
                return Some(match cur {
                    Some(c) => (c, false),
                    None => (o, true),
                });
            }
            return Some((obj, false));
        }
        let o = self.remove(key)?;
        self.gc();
        Some((o, true))
    }

    /// Runs garbage collection to a fixpoint: removes objects whose finalizers are done,
    /// deletes dependents of deleted owners, empties terminating namespaces, cleans up
    /// instances of deleted CRDs.
    pub fn gc(&mut self) {
        for _ in 0..100 {
            if !self.gc_step() {
                return;
            }
        }
    }

    fn gc_step(&mut self) -> bool {
        let uids: BTreeMap<String, Key> = self
            .objects
            .iter()
            .filter_map(|(k, v)| {
                v["metadata"]["uid"]
                    .as_str()
                    .map(|u| (u.to_string(), k.clone()))
            })
            .collect();
        let mut changed = false;
        // Only objects with owners or a pending deletion can need work.
        let keys: Vec<Key> = self
            .objects
            .iter()
            .filter(|(_, v)| {
                let m = &v["metadata"];
                !m["deletionTimestamp"].is_null()
                    || m["ownerReferences"]
                        .as_array()
                        .is_some_and(|a| !a.is_empty())
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            let Some(obj) = self.objects.get(&key).cloned() else {
                continue;
            };
            let meta = &obj["metadata"];
            let deleting = !meta["deletionTimestamp"].is_null();
            let fins: Vec<String> = meta["finalizers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let uid = meta["uid"].as_str().unwrap_or_default().to_string();
            // Dependents whose owners are all gone are deleted (background).
            if let Some(refs) = meta["ownerReferences"].as_array()
                && !refs.is_empty()
                && !deleting
            {
                let live_owner = refs.iter().any(|r| {
                    r["uid"].as_str().is_some_and(|u| {
                        uids.get(u).is_some_and(|ok| {
                            let o = &self.objects[ok];
                            let fg = o["metadata"]["finalizers"]
                                .as_array()
                                .is_some_and(|f| f.iter().any(|x| x == "foregroundDeletion"));
                            !fg || o["metadata"]["deletionTimestamp"].is_null()
                        })
                    })
                });
                if !live_owner {
                    self.delete_object_nogc(&key);
                    changed = true;
                    continue;
                }
            }
            if !deleting {
                continue;
            }
            let mut new_fins = fins.clone();
            let dependents: Vec<Key> = self
                .objects
                .iter()
                .filter(|(_, v)| {
                    v["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|rs| rs.iter().any(|r| r["uid"] == uid.as_str()))
                })
                .map(|(k, _)| k.clone())
                .collect();
            if fins.iter().any(|f| f == "orphan") {
                for d in &dependents {
                    if let Some(mut dv) = self.objects.get(d).cloned() {
                        if let Some(rs) = dv["metadata"]["ownerReferences"].as_array_mut() {
                            rs.retain(|r| r["uid"] != uid.as_str());
                            if rs.is_empty() {
                                dv["metadata"]
                                    .as_object_mut()
                                    .map(|m| m.remove("ownerReferences"));
                            }
                        }
                        self.put(d.clone(), dv);
                    }
                }
                new_fins.retain(|f| f != "orphan");
            }
            if fins.iter().any(|f| f == "foregroundDeletion") && !fins.iter().any(|f| f == "orphan")
            {
                if dependents.is_empty() {
                    new_fins.retain(|f| f != "foregroundDeletion");
                } else {
                    for d in &dependents {
                        let dv = &self.objects[d];
                        if dv["metadata"]["deletionTimestamp"].is_null() {
                            self.delete_object_nogc(d);
                            changed = true;
                        }
                    }
                }
            }
            if key.group.is_empty() && key.resource == "namespaces" {
                let contents: Vec<Key> = self
                    .objects
                    .keys()
                    .filter(|k| k.namespace == key.name)
                    .cloned()
                    .collect();
                if contents.is_empty() {
                    if obj["spec"]["finalizers"]
                        .as_array()
                        .is_some_and(|a| !a.is_empty())
                    {
                        let mut o = obj.clone();
                        o["spec"]["finalizers"] = json!([]);
                        self.put(key.clone(), o);
                        changed = true;
                        continue;
                    }
                } else {
                    for c in contents {
                        if self.objects[&c]["metadata"]["deletionTimestamp"].is_null() {
                            self.delete_object_nogc(&c);
                            changed = true;
                        }
                    }
                }
            }
            if key.group == "apiextensions.k8s.io"
                && fins
                    .iter()
                    .any(|f| f == "customresourcecleanup.apiextensions.k8s.io")
            {
                let g = obj["spec"]["group"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let plural = obj["spec"]["names"]["plural"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let instances: Vec<Key> = self
                    .objects
                    .keys()
                    .filter(|k| k.group == g && k.resource == plural)
                    .cloned()
                    .collect();
                if instances.is_empty() {
                    new_fins.retain(|f| f != "customresourcecleanup.apiextensions.k8s.io");
                } else {
                    for i in instances {
                        if self.objects[&i]["metadata"]["deletionTimestamp"].is_null() {
                            self.delete_object_nogc(&i);
                            changed = true;
                        }
                    }
                }
            }
            let ns_fins_empty = !(key.group.is_empty() && key.resource == "namespaces")
                || obj["spec"]["finalizers"]
                    .as_array()
                    .is_none_or(|a| a.is_empty());
            if new_fins != fins {
                let mut o = obj.clone();
                o["metadata"]["finalizers"] = json!(new_fins);
                if new_fins.is_empty() {
                    o["metadata"]
                        .as_object_mut()
                        .map(|m| m.remove("finalizers"));
                }
                self.put(key.clone(), o);
                changed = true;
            } else if new_fins.is_empty() && ns_fins_empty {
                self.remove(&key);
                changed = true;
            }
        }
        changed
    }

    fn delete_object_nogc(&mut self, key: &Key) {
        let Some(mut obj) = self.objects.get(key).cloned() else {
            return;
        };
        let has_fins = obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
            || (key.group.is_empty() && key.resource == "namespaces");
        if has_fins {
            if obj["metadata"]["deletionTimestamp"].is_null() {
                obj["metadata"]["deletionTimestamp"] = json!(now());
                obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                self.put(key.clone(), obj);
            }
        } else {
            self.remove(key);
        }
    }

    /// Names of all namespaces.
    pub fn namespaces(&self) -> BTreeSet<String> {
        self.objects
            .keys()
            .filter(|k| k.group.is_empty() && k.resource == "namespaces")
            .map(|k| k.name.clone())
            .collect()
    }
}
