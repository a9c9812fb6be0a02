//! `gen_bench OUT_DIR [APPS]`: writes a large kustomize tree for benchmarks:
//! a base of APPS apps (default 200; 5 objects each = 1,000 resources,
//! with config/secret generators), then three overlay levels (`staging`,
//! `prod`, `prod-eu`) adding prefixes, namespaces, labels, images,
//! replicas, generator merges, 50 strategic-merge and JSON patches.
//! Build `OUT_DIR/prod-eu` with `kubectl kustomize` and with Gyre.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, text).expect("write");
}

const K: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n";

fn app(i: usize) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: app{i}
  labels:
    app: app{i}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: app{i}
  template:
    metadata:
      labels:
        app: app{i}
    spec:
      serviceAccountName: app{i}
      containers:
      - name: main
        image: registry.example.com/app{i}:1.0.0
        ports:
        - containerPort: 8080
        envFrom:
        - configMapRef:
            name: app{i}-config
        env:
        - name: PASSWORD
          valueFrom:
            secretKeyRef:
              name: app{i}-secret
              key: password
        volumeMounts:
        - name: data
          mountPath: /data
      volumes:
      - name: data
        persistentVolumeClaim:
          claimName: app{i}-data
---
apiVersion: v1
kind: Service
metadata:
  name: app{i}
spec:
  selector:
    app: app{i}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app{i}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: app{i}-data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app{i}
spec:
  rules:
  - host: app{i}.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: app{i}
            port:
              number: 80
"
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| {
        eprintln!("usage: gen_bench OUT_DIR [APPS]");
        std::process::exit(2);
    });
    let apps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let root = Path::new(&out);
    // Base: apps in groups of 20 files; generators for config and secrets.
    let mut base = String::from(K);
    base.push_str("resources:\n");
    for g in 0..apps.div_ceil(20) {
        let mut text = String::new();
        for i in g * 20..((g + 1) * 20).min(apps) {
            if !text.is_empty() {
                text.push_str("---\n");
            }
            text.push_str(&app(i));
        }
        write(root, &format!("base/apps-{g}.yaml"), &text);
        let _ = writeln!(base, "- apps-{g}.yaml");
    }
    base.push_str("configMapGenerator:\n");
    for i in 0..apps {
        let _ = writeln!(
            base,
            "- name: app{i}-config\n  literals:\n  - APP=app{i}\n  - LOG_LEVEL=info"
        );
    }
    base.push_str("secretGenerator:\n");
    for i in 0..apps {
        let _ = writeln!(
            base,
            "- name: app{i}-secret\n  literals:\n  - password=pw{i}"
        );
    }
    write(root, "base/kustomization.yaml", &base);
    // Level 1: staging.
    let mut staging = format!(
        "{K}resources:\n- ../base\nnamePrefix: stg-\nlabels:\n- pairs:\n    env: staging\n  includeSelectors: true\ncommonAnnotations:\n  owner: platform\npatches:\n"
    );
    for i in 0..25 {
        let a = i * apps / 25;
        write(
            root,
            &format!("staging/patch-{i}.yaml"),
            &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app{a}\nspec:\n  template:\n    spec:\n      containers:\n      - name: main\n        resources:\n          limits:\n            memory: 256Mi\n        env:\n        - name: STAGE\n          value: staging\n"
            ),
        );
        let _ = writeln!(staging, "- path: patch-{i}.yaml");
    }
    staging.push_str("configMapGenerator:\n");
    for i in (0..apps).step_by(10) {
        let _ = writeln!(
            staging,
            "- name: app{i}-config\n  behavior: merge\n  literals:\n  - LOG_LEVEL=debug"
        );
    }
    write(root, "staging/kustomization.yaml", &staging);
    // Level 2: prod.
    let mut prod = format!(
        "{K}resources:\n- ../staging\nnamespace: prod\nnameSuffix: -p\nimages:\n- name: registry.example.com/app0\n  newTag: 2.0.0\nreplicas:\n"
    );
    for i in (0..apps).step_by(7) {
        let _ = writeln!(prod, "- name: stg-app{i}\n  count: 3");
    }
    prod.push_str("patches:\n");
    for i in 0..25 {
        let _ = writeln!(
            prod,
            "- target:\n    kind: Deployment\n    name: stg-app{}\n  patch: |-\n    - op: add\n      path: /spec/template/metadata/annotations\n      value:\n        patched: \"{i}\"",
            (i * 3) % apps
        );
    }
    write(root, "prod/kustomization.yaml", &prod);
    // Level 3: prod-eu.
    write(
        root,
        "prod-eu/kustomization.yaml",
        &format!(
            "{K}resources:\n- ../prod\nnamePrefix: eu-\nlabels:\n- pairs:\n    region: eu\nconfigMapGenerator:\n- name: region\n  literals:\n  - REGION=eu-west-1\n"
        ),
    );
    eprintln!(
        "wrote {} apps ({} resources + {} generated) under {}",
        apps,
        apps * 5,
        apps * 2 + 1,
        root.display()
    );
}
