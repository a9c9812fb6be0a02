//! Authentication (bearer tokens), impersonation and an RBAC authorizer over
//! Role/ClusterRole(Binding) objects in the store.

use serde_json::{Value, json};

use crate::status::{ApiError, qualified};
use crate::store::Store;

/// An authenticated (or impersonated) user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// User name.
    pub name: String,
    /// Groups.
    pub groups: Vec<String>,
}

impl User {
    /// A user with the given groups plus `system:authenticated`.
    pub fn new(name: &str, groups: &[&str]) -> User {
        let mut g: Vec<String> = groups.iter().map(|s| s.to_string()).collect();
        if !g.iter().any(|x| x == "system:authenticated") {
            g.push("system:authenticated".into());
        }
        User {
            name: name.into(),
            groups: g,
        }
    }

    /// The built-in administrator (member of `system:masters`).
    pub fn admin() -> User {
        User::new("kube-sim-admin", &["system:masters"])
    }
}

/// What is being accessed.
#[derive(Debug, Clone, Default)]
pub struct Attrs {
    /// Verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, `impersonate`, …).
    pub verb: String,
    /// API group.
    pub group: String,
    /// Plural resource.
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// Namespace, empty at the cluster scope.
    pub namespace: String,
    /// Object name, if any.
    pub name: String,
    /// Non-resource path (e.g. `/healthz`), if this is not a resource request.
    pub path: Option<String>,
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn rule_allows(rule: &Value, a: &Attrs) -> bool {
    let verbs = strs(&rule["verbs"]);
    if !verbs.iter().any(|v| *v == "*" || *v == a.verb) {
        return false;
    }
    if let Some(path) = &a.path {
        return strs(&rule["nonResourceURLs"]).iter().any(|u| {
            *u == "*" || *u == path || (u.ends_with('*') && path.starts_with(&u[..u.len() - 1]))
        });
    }
    let groups = strs(&rule["apiGroups"]);
    if !groups.iter().any(|g| *g == "*" || *g == a.group) {
        return false;
    }
    let res = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let resources = strs(&rule["resources"]);
    let res_ok = resources.iter().any(|r| {
        *r == "*"
            || *r == res
            || (!a.subresource.is_empty() && *r == format!("*/{}", a.subresource))
    });
    if !res_ok {
        return false;
    }
    let names = strs(&rule["resourceNames"]);
    names.is_empty() || (!a.name.is_empty() && names.contains(&a.name.as_str()))
}

fn subject_matches(s: &Value, u: &User) -> bool {
    let name = s["name"].as_str().unwrap_or_default();
    match s["kind"].as_str().unwrap_or_default() {
        "User" => name == u.name,
        "Group" => u.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = s["namespace"].as_str().unwrap_or_default();
            u.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

fn role_rules(st: &Store, kind: &str, name: &str, ns: &str) -> Vec<Value> {
    let (res, ns) = if kind == "ClusterRole" {
        ("clusterroles", "")
    } else {
        ("roles", ns)
    };
    let Some(role) = st.objects.get(&crate::store::Key::new(
        "rbac.authorization.k8s.io",
        res,
        ns,
        name,
    )) else {
        return vec![];
    };
    let mut rules: Vec<Value> = role["rules"].as_array().cloned().unwrap_or_default();
    // Aggregated ClusterRoles: the real controller copies the rules of every ClusterRole
    // matching a selector into this one; computing it on read gives the same answer.
    if let Some(sels) = role["aggregationRule"]["clusterRoleSelectors"].as_array() {
        for sel in sels {
            let sel = crate::selector::LabelSelector::from_object(sel);
            for (k, other) in st.list("rbac.authorization.k8s.io", "clusterroles", None) {
                if k.name != name && sel.matches(&other["metadata"]["labels"]) {
                    rules.extend(other["rules"].as_array().cloned().unwrap_or_default());
                }
            }
        }
    }
    rules
}

/// Whether RBAC allows the access.
pub fn allowed(st: &Store, u: &User, a: &Attrs) -> bool {
    if u.groups.iter().any(|g| g == "system:masters") {
        return true;
    }
    // The default bootstrap policy: discovery and self-reviews for every authenticated user.
    if u.groups.iter().any(|g| g == "system:authenticated") {
        if let Some(p) = &a.path
            && (a.verb == "get" || a.verb == "head")
            && (p == "/api"
                || p.starts_with("/api/")
                || p == "/apis"
                || p.starts_with("/apis/")
                || p.starts_with("/openapi")
                || p == "/version"
                || p.starts_with("/healthz")
                || p.starts_with("/livez")
                || p.starts_with("/readyz"))
        {
            return true;
        }
        if a.group == "authorization.k8s.io"
            && a.verb == "create"
            && (a.resource == "selfsubjectaccessreviews" || a.resource == "selfsubjectrulesreviews")
        {
            return true;
        }
    }
    for (k, b) in st.list("rbac.authorization.k8s.io", "clusterrolebindings", None) {
        let _ = k;
        if strs_subjects(b).iter().any(|s| subject_matches(s, u))
            && role_rules(
                st,
                "ClusterRole",
                b["roleRef"]["name"].as_str().unwrap_or_default(),
                "",
            )
            .iter()
            .any(|r| rule_allows(r, a))
        {
            return true;
        }
    }
    if !a.namespace.is_empty() {
        for (_, b) in st.list(
            "rbac.authorization.k8s.io",
            "rolebindings",
            Some(&a.namespace),
        ) {
            if strs_subjects(b).iter().any(|s| subject_matches(s, u))
                && role_rules(
                    st,
                    b["roleRef"]["kind"].as_str().unwrap_or_default(),
                    b["roleRef"]["name"].as_str().unwrap_or_default(),
                    &a.namespace,
                )
                .iter()
                .any(|r| rule_allows(r, a))
            {
                return true;
            }
        }
    }
    false
}

fn strs_subjects(b: &Value) -> Vec<&Value> {
    b["subjects"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// The 403 the real authorizer returns.
pub fn forbidden(u: &User, a: &Attrs) -> ApiError {
    if let Some(p) = &a.path {
        return ApiError::forbidden_plain(format!(
            "forbidden: User \"{}\" cannot {} path \"{p}\"",
            u.name, a.verb
        ));
    }
    let res = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let what = if a.name.is_empty() {
        qualified(&a.group, &a.resource)
    } else {
        format!("{} \"{}\"", qualified(&a.group, &a.resource), a.name)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    ApiError::forbidden(
        &a.group,
        &a.resource,
        &a.name,
        format!(
            "{what} is forbidden: User \"{}\" cannot {} resource \"{res}\" in API group \"{}\" {scope}",
            u.name, a.verb, a.group
        ),
    )
}

/// Applies `Impersonate-*` headers: checks the caller may impersonate and returns the
/// impersonated user.
///
/// # Errors
/// 403 when the caller may not impersonate the requested user or groups.
pub fn impersonate(
    st: &Store,
    caller: &User,
    user: Option<&str>,
    groups: &[String],
) -> Result<User, ApiError> {
    let Some(name) = user else {
        if groups.is_empty() {
            return Ok(caller.clone());
        }
        return Err(ApiError::bad_request(
            "requested [{Group ...}] without impersonating a user",
        ));
    };
    let mut checks = vec![];
    if let Some(rest) = name.strip_prefix("system:serviceaccount:") {
        let (ns, sa) = rest.split_once(':').unwrap_or(("", rest));
        checks.push(Attrs {
            verb: "impersonate".into(),
            resource: "serviceaccounts".into(),
            namespace: ns.into(),
            name: sa.into(),
            ..Default::default()
        });
    } else {
        checks.push(Attrs {
            verb: "impersonate".into(),
            resource: "users".into(),
            name: name.into(),
            ..Default::default()
        });
    }
    for g in groups {
        checks.push(Attrs {
            verb: "impersonate".into(),
            resource: "groups".into(),
            name: g.clone(),
            ..Default::default()
        });
    }
    for a in &checks {
        if !allowed(st, caller, a) {
            return Err(forbidden(caller, a));
        }
    }
    let mut g: Vec<String> = groups.to_vec();
    if let Some(rest) = name.strip_prefix("system:serviceaccount:") {
        let ns = rest.split(':').next().unwrap_or_default();
        g.push("system:serviceaccounts".into());
        g.push(format!("system:serviceaccounts:{ns}"));
    }
    if name != "system:anonymous" && !g.iter().any(|x| x == "system:authenticated") {
        g.push("system:authenticated".into());
    }
    Ok(User {
        name: name.into(),
        groups: g,
    })
}

/// The RBAC objects a fresh cluster has.
pub fn bootstrap_objects() -> Vec<Value> {
    let read = json!(["get", "list", "watch"]);
    let write = json!(["create", "update", "patch", "delete", "deletecollection"]);
    let common = json!([
        "pods",
        "services",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "persistentvolumeclaims",
        "events",
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
        "ingresses",
        "networkpolicies",
        "horizontalpodautoscalers",
        "poddisruptionbudgets",
        "leases",
        "deployments/status",
        "pods/log"
    ]);
    let view_resources = json!([
        "pods",
        "services",
        "configmaps",
        "serviceaccounts",
        "persistentvolumeclaims",
        "events",
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
        "ingresses",
        "networkpolicies",
        "horizontalpodautoscalers",
        "poddisruptionbudgets",
        "namespaces"
    ]);
    let cr = |name: &str, rules: Value| {
        let mut r = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
               "rules": rules});
        if matches!(name, "admin" | "edit" | "view") {
            r["aggregationRule"] = json!({"clusterRoleSelectors": [
                {"matchLabels": {format!("rbac.authorization.k8s.io/aggregate-to-{name}"): "true"}}]});
        }
        r
    };
    vec![
        cr(
            "cluster-admin",
            json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                   {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        ),
        cr(
            "admin",
            json!([{"apiGroups": ["*"], "resources": view_resources, "verbs": read},
                   {"apiGroups": ["*"], "resources": common, "verbs": read},
                   {"apiGroups": ["*"], "resources": common, "verbs": write},
                   {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["*"]}]),
        ),
        cr(
            "edit",
            json!([{"apiGroups": ["*"], "resources": view_resources, "verbs": read},
                   {"apiGroups": ["*"], "resources": common, "verbs": read},
                   {"apiGroups": ["*"], "resources": common, "verbs": write}]),
        ),
        cr(
            "view",
            json!([{"apiGroups": ["*"], "resources": view_resources, "verbs": read}]),
        ),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]}),
    ]
}

fn covered(st: &Store, u: &User, ns: &str, rule: &Value) -> Vec<String> {
    let mut missing = vec![];
    let verbs = strs(&rule["verbs"]);
    if let Some(urls) = rule["nonResourceURLs"].as_array() {
        for url in urls.iter().filter_map(Value::as_str) {
            for v in &verbs {
                let a = Attrs {
                    verb: (*v).into(),
                    path: Some(url.into()),
                    ..Default::default()
                };
                if !allowed(st, u, &a) {
                    missing.push(format!("{{NonResourceURLs:[\"{url}\"], Verbs:[\"{v}\"]}}"));
                }
            }
        }
        return missing;
    }
    let groups = strs(&rule["apiGroups"]);
    let names = strs(&rule["resourceNames"]);
    let names: Vec<&str> = if names.is_empty() { vec![""] } else { names };
    for g in &groups {
        for r in strs(&rule["resources"]) {
            let (res, sub) = r.split_once('/').unwrap_or((r, ""));
            for v in &verbs {
                for n in &names {
                    let a = Attrs {
                        verb: (*v).into(),
                        group: (*g).into(),
                        resource: res.into(),
                        subresource: sub.into(),
                        namespace: ns.into(),
                        name: (*n).into(),
                        path: None,
                    };
                    if !allowed(st, u, &a) {
                        missing.push(format!(
                            "{{APIGroups:[\"{g}\"], Resources:[\"{r}\"], Verbs:[\"{v}\"]}}"
                        ));
                    }
                }
            }
        }
    }
    missing
}

/// RBAC's escalation prevention: a user may only create or change a Role/ClusterRole with
/// permissions they hold (or with `escalate`), and only bind a role whose permissions they
/// hold (or with `bind` on it).
///
/// # Errors
/// 403 naming the permissions not currently held.
pub fn check_escalation(
    st: &Store,
    u: &User,
    kind: &str,
    obj: &Value,
    ns: &str,
) -> Result<(), ApiError> {
    if u.groups.iter().any(|g| g == "system:masters") {
        return Ok(());
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let (plural, rules) = match kind {
        "Role" | "ClusterRole" => {
            let res = if kind == "Role" {
                "roles"
            } else {
                "clusterroles"
            };
            let esc = Attrs {
                verb: "escalate".into(),
                group: "rbac.authorization.k8s.io".into(),
                resource: res.into(),
                namespace: ns.into(),
                name: name.into(),
                ..Default::default()
            };
            if allowed(st, u, &esc) {
                return Ok(());
            }
            (res, obj["rules"].as_array().cloned().unwrap_or_default())
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            let rk = obj["roleRef"]["kind"].as_str().unwrap_or_default();
            let rn = obj["roleRef"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let res = if rk == "Role" {
                "roles"
            } else {
                "clusterroles"
            };
            let bind = Attrs {
                verb: "bind".into(),
                group: "rbac.authorization.k8s.io".into(),
                resource: res.into(),
                namespace: if rk == "Role" {
                    ns.into()
                } else {
                    String::new()
                },
                name: rn.clone(),
                ..Default::default()
            };
            if allowed(st, u, &bind) {
                return Ok(());
            }
            let plural = if kind == "RoleBinding" {
                "rolebindings"
            } else {
                "clusterrolebindings"
            };
            (plural, role_rules(st, rk, &rn, ns))
        }
        _ => return Ok(()),
    };
    let missing: Vec<String> = rules.iter().flat_map(|r| covered(st, u, ns, r)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let groups: Vec<String> = u.groups.iter().map(|g| format!("\"{g}\"")).collect();
    Err(ApiError::forbidden(
        "rbac.authorization.k8s.io",
        plural,
        name,
        format!(
            "{plural}.rbac.authorization.k8s.io \"{name}\" is forbidden: user \"{}\" (groups=[{}]) is attempting to grant RBAC permissions not currently held:\n{}",
            u.name,
            groups.join(" "),
            missing.join("\n")
        ),
    ))
}
