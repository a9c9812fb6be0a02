//! kube-sim driven by kubectl as the client.

mod common;

use common::Env;
use serde_json::Value;

const DEPLOY: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
"#;

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.gyre.dev
spec:
  group: example.gyre.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string, default: blue}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  properties:
                    name: {type: string}
                    port: {type: integer}
          status:
            type: object
            properties:
              ready: {type: boolean}
"#;

fn managers(obj: &Value) -> Vec<String> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["manager"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn fields_of<'a>(obj: &'a Value, manager: &str) -> &'a Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["manager"] == manager))
        .map(|e| &e["fieldsV1"])
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_managers_applying_the_same_field_conflict_until_one_forces() {
    let env = Env::start().await;
    let out = env
        .ok_stdin(&["apply", "--server-side", "-f", "-"], DEPLOY)
        .await;
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );

    let changed = DEPLOY.replace("replicas: 2", "replicas: 3");
    let o = env
        .kubectl_in(
            &["apply", "--server-side", "--field-manager=ops", "-f", "-"],
            Some(&changed),
        )
        .await;
    assert!(!o.ok, "a conflicting apply must fail");
    assert!(
        o.stderr.contains(
            r#"Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas"#
        ),
        "{}",
        o.stderr
    );
    let d = env
        .get_json(&["deployment", "web", "--show-managed-fields"])
        .await;
    assert_eq!(d["spec"]["replicas"], 2, "a failed apply changes nothing");

    env.ok_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=ops",
            "--force-conflicts",
            "-f",
            "-",
        ],
        &changed,
    )
    .await;
    let d = env
        .get_json(&["deployment", "web", "--show-managed-fields"])
        .await;
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(managers(&d), ["ops", "kubectl"]);
    assert!(fields_of(&d, "ops")["f:spec"]["f:replicas"].is_object());
    assert!(
        fields_of(&d, "kubectl")["f:spec"]
            .get("f:replicas")
            .is_none(),
        "forcing takes ownership away from the other manager"
    );
    // Both still co-own the fields they set to equal values.
    assert!(fields_of(&d, "kubectl")["f:spec"]["f:template"]["f:spec"]["f:containers"]
        [r#"k:{"name":"nginx"}"#]["f:image"]
        .is_object());
    assert_eq!(d["metadata"]["generation"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_that_stops_applying_a_field_removes_it_unless_someone_else_owns_it() {
    let env = Env::start().await;
    let v1 = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, labels: {a: x, b: 'y'}}\ndata: {one: '1', two: '2'}\n";
    env.ok_stdin(&["apply", "--server-side", "-f", "-"], v1)
        .await;
    env.ok_stdin(
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {two: '2'}\n",
    )
    .await;
    let v2 = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, labels: {a: x}}\ndata: {one: '1'}\n";
    env.ok_stdin(&["apply", "--server-side", "-f", "-"], v2)
        .await;
    let cm = env.get_json(&["configmap", "cfg"]).await;
    assert_eq!(cm["data"]["one"], "1");
    assert_eq!(cm["data"]["two"], "2", "co-owned by `other`, so it stays");
    assert_eq!(cm["metadata"]["labels"]["a"], "x");
    assert!(
        cm["metadata"]["labels"].get("b").is_none(),
        "b was only kubectl's: removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_yaml_shows_server_metadata_and_generation_moves_only_with_spec() {
    let env = Env::start().await;
    env.ok_stdin(&["apply", "--server-side", "-f", "-"], DEPLOY)
        .await;
    let yaml = env.ok(&["get", "deployment", "web", "-o", "yaml"]).await;
    let d: Value = serde_yaml::from_str(&yaml).expect("yaml");
    assert!(d["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(
        d["metadata"]["creationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    let rv1: u64 = d["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    env.ok(&["label", "deployment", "web", "team=a"]).await;
    let d = env.get_json(&["deployment", "web"]).await;
    assert_eq!(
        d["metadata"]["generation"], 1,
        "metadata changes do not bump generation"
    );
    let rv2: u64 = d["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv1);

    env.ok(&["scale", "deployment", "web", "--replicas=5"])
        .await;
    let d = env.get_json(&["deployment", "web"]).await;
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(d["metadata"]["generation"], 2);

    // A no-op apply writes nothing.
    env.ok(&["annotate", "deployment", "web", "x=y"]).await;
    let before = env.get_json(&["deployment", "web"]).await["metadata"]["resourceVersion"].clone();
    env.ok(&["annotate", "deployment", "web", "x=y", "--overwrite"])
        .await;
    let after = env.get_json(&["deployment", "web"]).await["metadata"]["resourceVersion"].clone();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_with_a_finalizer_marks_the_object_until_the_finalizer_is_removed() {
    let env = Env::start().await;
    env.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, finalizers: [example.com/hold]}\ndata: {a: b}\n",
    )
    .await;
    let out = env
        .ok(&["delete", "configmap", "held", "--wait=false"])
        .await;
    assert!(out.contains(r#"configmap "held" deleted"#), "{out}");
    let cm = env.get_json(&["configmap", "held"]).await;
    assert!(cm["metadata"]["deletionTimestamp"].is_string());
    env.ok(&[
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .await;
    let o = env.kubectl(&["get", "configmap", "held"]).await;
    assert!(!o.ok);
    assert!(
        o.stderr.contains(r#"configmaps "held" not found"#),
        "{}",
        o.stderr
    );

    // Without finalizers, kubectl delete (which waits) returns once it is gone.
    env.ok(&["create", "configmap", "plain", "--from-literal=a=b"])
        .await;
    env.ok(&["delete", "configmap", "plain"]).await;
    assert!(!env.kubectl(&["get", "configmap", "plain"]).await.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_owner_garbage_collects_its_dependents() {
    let env = Env::start().await;
    env.ok(&["create", "configmap", "owner", "--from-literal=a=b"])
        .await;
    let uid = env.get_json(&["configmap", "owner"]).await["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let dep = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: dep\n  ownerReferences:\n  - {{apiVersion: v1, kind: ConfigMap, name: owner, uid: {uid}}}\nstringData: {{k: v}}\n"
    );
    env.ok_stdin(&["apply", "--server-side", "-f", "-"], &dep)
        .await;
    assert_eq!(env.get_json(&["secret", "dep"]).await["data"]["k"], "dg==");
    env.ok(&["delete", "configmap", "owner"]).await;
    assert!(
        !env.kubectl(&["get", "secret", "dep"]).await.ok,
        "dependent was collected"
    );

    // Orphan propagation keeps the dependent and drops the ownerReference.
    env.ok(&["create", "configmap", "owner2", "--from-literal=a=b"])
        .await;
    let uid2 = env.get_json(&["configmap", "owner2"]).await["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    env.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        &dep.replace(&uid, &uid2)
            .replace("owner,", "owner2,")
            .replace("name: dep", "name: dep2"),
    )
    .await;
    env.ok(&["delete", "configmap", "owner2", "--cascade=orphan"])
        .await;
    let s = env.get_json(&["secret", "dep2"]).await;
    assert!(s["metadata"].get("ownerReferences").is_none(), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_is_established_and_its_kind_is_served_until_deleted() {
    let env = Env::start().await;
    env.ok_stdin(&["apply", "--server-side", "-f", "-"], CRD)
        .await;
    let out = env
        .ok(&[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.gyre.dev",
            "--timeout=20s",
        ])
        .await;
    assert!(out.contains("condition met"), "{out}");
    let res = env
        .ok(&["api-resources", "--api-group=example.gyre.dev"])
        .await;
    assert!(
        res.contains("widgets") && res.contains("wd") && res.contains("Widget"),
        "{res}"
    );

    let cr = "apiVersion: example.gyre.dev/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3, bogus: drop-me, ports: [{name: http, port: 80}]}\n";
    // kubectl validates strictly by default: undeclared fields are an error...
    let strict = env
        .kubectl_in(&["apply", "--server-side", "-f", "-"], Some(cr))
        .await;
    assert!(!strict.ok);
    assert!(
        strict
            .stderr
            .contains(".spec.bogus: field not declared in schema"),
        "{}",
        strict.stderr
    );
    // ...and with validation off they are pruned.
    env.ok_stdin(
        &["apply", "--server-side", "--validate=false", "-f", "-"],
        cr,
    )
    .await;
    let w = env.get_json(&["widget", "w1"]).await;
    assert_eq!(w["spec"]["size"], 3);
    assert_eq!(w["spec"]["color"], "blue", "schema default applied");
    assert!(w["spec"].get("bogus").is_none(), "unknown field pruned");
    assert_eq!(w["metadata"]["generation"], 1);
    let table = env.ok(&["get", "widgets"]).await;
    assert!(table.contains("SIZE") && table.contains("w1"), "{table}");

    // The other served version reads the same object.
    let old = env
        .get_json(&["widgets.v1beta1.example.gyre.dev", "w1"])
        .await;
    assert_eq!(old["apiVersion"], "example.gyre.dev/v1beta1");

    // Another manager adds a list-map item by key; both items are kept.
    env.ok_stdin(
        &["apply", "--server-side", "--field-manager=ops", "-f", "-"],
        "apiVersion: example.gyre.dev/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3, ports: [{name: metrics, port: 9090}]}\n",
    )
    .await;
    let w = env.get_json(&["widget", "w1"]).await;
    assert_eq!(w["spec"]["ports"].as_array().map(Vec::len), Some(2), "{w}");

    let bad = env
        .kubectl_in(
            &["apply", "--server-side", "-f", "-"],
            Some("apiVersion: example.gyre.dev/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {size: 0}\n"),
        )
        .await;
    assert!(!bad.ok);
    assert!(bad.stderr.contains("spec.size"), "{}", bad.stderr);

    // While an instance holds a finalizer, the CRD is terminating: still served, no creates.
    env.ok(&[
        "patch",
        "widget",
        "w1",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ])
    .await;
    env.ok(&["delete", "crd", "widgets.example.gyre.dev", "--wait=false"])
        .await;
    let o = env
        .kubectl_in(
            &["create", "-f", "-"],
            Some("apiVersion: example.gyre.dev/v1\nkind: Widget\nmetadata: {name: w3}\nspec: {size: 1}\n"),
        )
        .await;
    assert!(
        o.stderr
            .contains("create not allowed while custom resource definition is terminating"),
        "{}",
        o.stderr
    );
    env.ok(&[
        "patch",
        "widget",
        "w1",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .await;
    env.ok(&[
        "wait",
        "--for=delete",
        "crd/widgets.example.gyre.dev",
        "--timeout=10s",
    ])
    .await;
    let gone = env.kubectl(&["get", "widgets.example.gyre.dev"]).await;
    assert!(!gone.ok, "kind no longer served: {}", gone.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_resources_lists_the_builtin_kinds() {
    let env = Env::start().await;
    let out = env.ok(&["api-resources", "-o", "wide"]).await;
    for needle in [
        "namespaces",
        "configmaps",
        "secrets",
        "services",
        "serviceaccounts",
        "pods",
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
        "ingresses",
        "networkpolicies",
        "roles",
        "rolebindings",
        "clusterroles",
        "clusterrolebindings",
        "customresourcedefinitions",
        "leases",
        "persistentvolumeclaims",
        "horizontalpodautoscalers",
        "poddisruptionbudgets",
        "priorityclasses",
        "storageclasses",
        "events.k8s.io",
    ] {
        assert!(out.contains(needle), "missing {needle}:\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_server_side_shows_the_change_without_persisting_it() {
    let env = Env::start().await;
    env.ok_stdin(&["apply", "--server-side", "-f", "-"], DEPLOY)
        .await;
    let same = env
        .kubectl_in(&["diff", "--server-side", "-f", "-"], Some(DEPLOY))
        .await;
    assert!(same.ok, "no diff exits 0: {}{}", same.stdout, same.stderr);
    assert!(same.stdout.is_empty(), "{}", same.stdout);

    let changed = DEPLOY.replace("nginx:1.25", "nginx:1.27");
    let o = env
        .kubectl_in(&["diff", "--server-side", "-f", "-"], Some(&changed))
        .await;
    assert!(!o.ok, "a diff exits 1");
    assert!(
        o.stdout.contains("-      - image: nginx:1.25"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("+      - image: nginx:1.27"),
        "{}",
        o.stdout
    );
    let d = env.get_json(&["deployment", "web"]).await;
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_can_i_as_another_user_follows_role_bindings() {
    let env = Env::start().await;
    env.ok(&["create", "namespace", "tenant"]).await;
    env.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-reader, namespace: tenant}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-reads, namespace: tenant}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: sa-admin, namespace: tenant}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: ServiceAccount, name: deployer, namespace: tenant}
"#,
    )
    .await;
    let yes = env
        .kubectl(&[
            "auth",
            "can-i",
            "list",
            "configmaps",
            "-n",
            "tenant",
            "--as",
            "alice",
        ])
        .await;
    assert!(
        yes.ok && yes.stdout.trim() == "yes",
        "{}{}",
        yes.stdout,
        yes.stderr
    );
    let no = env
        .kubectl(&[
            "auth",
            "can-i",
            "delete",
            "configmaps",
            "-n",
            "tenant",
            "--as",
            "alice",
        ])
        .await;
    assert!(
        !no.ok && no.stdout.trim() == "no",
        "{}{}",
        no.stdout,
        no.stderr
    );
    let other_ns = env
        .kubectl(&[
            "auth",
            "can-i",
            "list",
            "configmaps",
            "-n",
            "default",
            "--as",
            "alice",
        ])
        .await;
    assert_eq!(other_ns.stdout.trim(), "no");
    let sa = env
        .kubectl(&[
            "auth",
            "can-i",
            "create",
            "deployments.apps",
            "-n",
            "tenant",
            "--as",
            "system:serviceaccount:tenant:deployer",
        ])
        .await;
    assert_eq!(sa.stdout.trim(), "yes", "{}", sa.stderr);
    let sa_out = env
        .kubectl(&[
            "auth",
            "can-i",
            "create",
            "deployments.apps",
            "-n",
            "default",
            "--as",
            "system:serviceaccount:tenant:deployer",
        ])
        .await;
    assert_eq!(sa_out.stdout.trim(), "no");

    // Aggregated ClusterRoles pick up rules from labelled ClusterRoles.
    env.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: leases-view
  labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
rules:
- {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: carol-view, namespace: tenant}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: carol}
"#,
    )
    .await;
    let can = |verb: &'static str, res: &'static str| {
        let env = &env;
        async move {
            env.kubectl(&["auth", "can-i", verb, res, "-n", "tenant", "--as", "carol"])
                .await
                .stdout
                .trim()
                .to_string()
        }
    };
    assert_eq!(can("get", "leases.coordination.k8s.io").await, "yes");
    assert_eq!(
        can("get", "secrets").await,
        "no",
        "view never grants secrets"
    );

    let denied = env
        .kubectl(&["get", "configmaps", "-n", "default", "--as", "alice"])
        .await;
    assert!(!denied.ok);
    assert!(
        denied.stderr.contains(r#"configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "default""#),
        "{}",
        denied.stderr
    );
    env.ok(&["get", "configmaps", "-n", "tenant", "--as", "alice"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_are_rejected_with_field_paths() {
    let env = Env::start().await;
    // Typos in built-in kinds: strict validation rejects, --validate=false drops them.
    let typo = DEPLOY.replace("replicas: 2", "replica: 2");
    let o = env
        .kubectl_in(&["apply", "--server-side", "-f", "-"], Some(&typo))
        .await;
    assert!(!o.ok);
    assert!(
        o.stderr
            .contains(".spec.replica: field not declared in schema"),
        "{}",
        o.stderr
    );
    let o = env.kubectl_in(&["create", "-f", "-"], Some(&typo)).await;
    assert!(
        o.stderr
            .contains(r#"strict decoding error: unknown field "spec.replica""#),
        "{}",
        o.stderr
    );
    env.ok_stdin(
        &["apply", "--server-side", "--validate=false", "-f", "-"],
        &typo,
    )
    .await;
    let d = env.get_json(&["deployment", "web"]).await;
    assert!(d["spec"].get("replica").is_none());
    assert_eq!(d["spec"]["replicas"], 1, "defaulted");
    env.ok(&["delete", "deployment", "web"]).await;
    let wrong_type = DEPLOY.replace("replicas: 2", "replicas: two");
    let o = env
        .kubectl_in(&["apply", "--server-side", "-f", "-"], Some(&wrong_type))
        .await;
    assert!(!o.ok);
    assert!(
        o.stderr.contains("cannot be handled as a Deployment"),
        "{}",
        o.stderr
    );

    let bad_labels = DEPLOY.replace("labels: {app: web}", "labels: {app: other}");
    let o = env
        .kubectl_in(&["apply", "--server-side", "-f", "-"], Some(&bad_labels))
        .await;
    assert!(!o.ok);
    assert!(
        o.stderr.contains("spec.template.metadata.labels"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains("`selector` does not match template `labels`"),
        "{}",
        o.stderr
    );

    let o = env
        .kubectl_in(
            &["apply", "--server-side", "-f", "-"],
            Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n"),
        )
        .await;
    assert!(!o.ok);
    assert!(
        o.stderr
            .contains("metadata.name: Invalid value: \"Bad_Name\""),
        "{}",
        o.stderr
    );

    env.ok_stdin(&["apply", "--server-side", "-f", "-"], DEPLOY)
        .await;
    let moved = DEPLOY.replace("{app: web}", "{app: web2}");
    let o = env
        .kubectl_in(&["apply", "--server-side", "-f", "-"], Some(&moved))
        .await;
    assert!(!o.ok);
    assert!(
        o.stderr.contains("spec.selector") && o.stderr.contains("field is immutable"),
        "{}",
        o.stderr
    );

    let o = env
        .kubectl_in(
            &["apply", "--server-side", "-f", "-"],
            Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: nowhere}\n"),
        )
        .await;
    assert!(!o.ok);
    assert!(
        o.stderr.contains(r#"namespaces "nowhere" not found"#),
        "{}",
        o.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_selectors_filter_lists_with_equality_and_set_requirements() {
    let env = Env::start().await;
    for (n, l) in [
        ("a", "tier=web,env=prod"),
        ("b", "tier=db,env=prod"),
        ("c", "tier=web"),
    ] {
        env.ok(&["create", "configmap", n]).await;
        let mut args = vec!["label", "configmap", n];
        let ls: Vec<&str> = l.split(',').collect();
        args.extend(ls);
        env.ok(&args).await;
    }
    let names = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(env.get_json(&["cm", "-l", "tier=web"]).await),
        ["a", "c"]
    );
    assert_eq!(
        names(env.get_json(&["cm", "-l", "tier in (db),env"]).await),
        ["b"]
    );
    assert_eq!(names(env.get_json(&["cm", "-l", "!env,tier"]).await), ["c"]);
    assert_eq!(
        names(env.get_json(&["cm", "-l", "tier!=web,env=prod"]).await),
        ["b"]
    );
    assert_eq!(
        names(
            env.get_json(&["cm", "--field-selector", "metadata.name=b"])
                .await
        ),
        ["b"]
    );
    // Paging through with a small chunk size gives every item once.
    assert_eq!(
        names(env.get_json(&["cm", "-l", "tier", "--chunk-size=1"]).await),
        ["a", "b", "c"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_wait_and_rollout_status_see_the_simulated_controllers() {
    let env = Env::start().await;
    env.sim.set_workload_mode(kube_sim::WorkloadMode::Ready);
    env.ok_stdin(&["apply", "--server-side", "-f", "-"], DEPLOY)
        .await;
    let out = env
        .ok(&["rollout", "status", "deployment/web", "--timeout=20s"])
        .await;
    assert!(
        out.contains(r#"deployment "web" successfully rolled out"#),
        "{out}"
    );
    env.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
    )
    .await;
    env.ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Bound",
        "pvc/data",
        "--timeout=20s",
    ])
    .await;

    // A stuck deployment never reports availability.
    let stuck = DEPLOY.replace(
        "name: web",
        "name: stuck\n  annotations: {kube-sim.gyre.dev/behavior: stuck}",
    );
    env.ok_stdin(&["apply", "--server-side", "-f", "-"], &stuck)
        .await;
    let o = env
        .kubectl(&[
            "wait",
            "--for=condition=Available",
            "deployment/stuck",
            "--timeout=2s",
        ])
        .await;
    assert!(!o.ok, "{}", o.stdout);

    // managedFields: [{}] resets ownership tracking.
    env.ok(&[
        "patch",
        "deployment",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"managedFields":[{}]}}"#,
    ])
    .await;
    let d = env
        .get_json(&["deployment", "web", "--show-managed-fields"])
        .await;
    assert!(
        d["metadata"].get("managedFields").is_none(),
        "{}",
        d["metadata"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_recorded_through_events_k8s_io_show_up_as_core_events() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let env = Env::start().await;
    env.ok(&["create", "configmap", "subject"]).await;
    let client = kube::Client::try_from(env.sim.client_config().await.unwrap()).unwrap();
    let reporter = Reporter {
        controller: "gyre".into(),
        instance: Some("gyre-0".into()),
    };
    let recorder = Recorder::new(client, reporter);
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("ConfigMap".into()),
        name: Some("subject".into()),
        namespace: Some("default".into()),
        ..Default::default()
    };
    let ev = Event {
        type_: EventType::Normal,
        reason: "ReconciliationSucceeded".into(),
        note: Some("applied 3 objects".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder.publish(&ev, &reference).await.unwrap();
    let core = env.get_json(&["events", "-n", "default"]).await;
    let item = &core["items"][0];
    assert_eq!(item["apiVersion"], "v1");
    assert_eq!(item["message"], "applied 3 objects");
    assert_eq!(item["involvedObject"]["name"], "subject");
    assert_eq!(item["reportingComponent"], "gyre");
    let new = env
        .get_json(&["events.v1.events.k8s.io", "-n", "default"])
        .await;
    assert_eq!(new["items"][0]["note"], "applied 3 objects");
    assert_eq!(new["items"][0]["regarding"]["kind"], "ConfigMap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_writes_a_kubeconfig_that_kubectl_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kube-sim"))
        .args([
            "--port",
            "0",
            "--tls",
            "--token",
            "s3cret",
            "--kubeconfig-out",
        ])
        .arg(&kc)
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("kube-sim binary starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !kc.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no kubeconfig written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let run = |args: &[&str]| {
        std::process::Command::new(common::kubectl_path())
            .arg("--kubeconfig")
            .arg(&kc)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(args)
            .env("HOME", dir.path())
            .output()
            .unwrap()
    };
    let out = run(&["get", "namespaces", "-o", "name"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("namespace/kube-system"));
    let rb = run(&[
        "create",
        "rolebinding",
        "rb",
        "--clusterrole=view",
        "--serviceaccount=default:default",
    ]);
    assert!(
        rb.status.success(),
        "{}",
        String::from_utf8_lossy(&rb.stderr)
    );
    let can = run(&[
        "auth",
        "can-i",
        "list",
        "pods",
        "--as",
        "system:serviceaccount:default:default",
    ]);
    assert_eq!(String::from_utf8_lossy(&can.stdout).trim(), "yes");
    child.kill().await.unwrap();
}
