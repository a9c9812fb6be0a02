//! Unit tests for post-build substitution: the expression language (cases taken from
//! drone/envsubst's and Flux's behaviour) and the YAML round trip.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn lenient(text: &str, pairs: &[(&str, &str)]) -> Result<String, ExprError> {
    expand(text, &vars(pairs), &Options::default())
}

fn strict(text: &str, pairs: &[(&str, &str)]) -> Result<String, ExprError> {
    expand(text, &vars(pairs), &Options { strict: true })
}

fn deployment(replicas: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "apps"},
        "spec": {"replicas": replicas}
    })
}

// --- the expression language -----------------------------------------------------------

#[test]
fn braced_variable_is_replaced() {
    assert_eq!(lenient("a ${x} b", &[("x", "1")]).unwrap(), "a 1 b");
    assert_eq!(lenient("${x}${x}", &[("x", "ab")]).unwrap(), "abab");
}

#[test]
fn plain_dollar_variable_is_not_substituted() {
    assert_eq!(
        lenient("$x and $x_y", &[("x", "1")]).unwrap(),
        "$x and $x_y"
    );
}

#[test]
fn unset_variable_expands_to_empty_when_not_strict() {
    assert_eq!(lenient("[${missing}]", &[]).unwrap(), "[]");
}

#[test]
fn unset_variable_is_an_error_naming_it_when_strict() {
    let err = strict("a: ${missing}", &[("other", "1")]).unwrap_err();
    assert_eq!(err, ExprError::VarNotSet("missing".into()));
    assert_eq!(
        err.to_string(),
        "variable not set (strict mode): \"missing\""
    );
}

#[test]
fn set_but_empty_variable_is_not_an_error_when_strict() {
    assert_eq!(strict("[${x}]", &[("x", "")]).unwrap(), "[]");
}

#[test]
fn colon_equals_and_colon_dash_use_the_default_when_unset_or_empty() {
    for op in [":=", ":-", "="] {
        let text = format!("${{x{op}dflt}}");
        assert_eq!(lenient(&text, &[]).unwrap(), "dflt", "{text} unset");
        assert_eq!(
            lenient(&text, &[("x", "")]).unwrap(),
            "dflt",
            "{text} empty"
        );
        assert_eq!(lenient(&text, &[("x", "v")]).unwrap(), "v", "{text} set");
        assert_eq!(strict(&text, &[]).unwrap(), "dflt", "{text} strict, unset");
    }
}

#[test]
fn equals_without_colon_makes_no_empty_versus_unset_distinction() {
    // drone/envsubst (and so Flux) treats an empty value like an unset one for `=` too,
    // unlike bash.
    assert_eq!(lenient("${x=d}", &[("x", "")]).unwrap(), "d");
}

#[test]
fn dash_without_colon_is_a_parse_error_as_in_flux() {
    assert_eq!(
        lenient("${x-default}", &[("x", "v")]).unwrap_err(),
        ExprError::MissingClosingBrace
    );
}

#[test]
fn default_may_contain_spaces_colons_and_dollars() {
    assert_eq!(
        lenient("${x:=a b:c $d}", &[]).unwrap(),
        "a b:c $d",
        "only a closing brace or a nested expression ends a default"
    );
}

#[test]
fn double_dollar_escapes_a_substitution() {
    assert_eq!(lenient("$${x}", &[("x", "1")]).unwrap(), "${x}");
    assert_eq!(lenient("a$$b", &[]).unwrap(), "a$b", "$$ always collapses");
    assert_eq!(
        lenient("$${x:=${y}}", &[("y", "foo")]).unwrap(),
        "${x:=foo}",
        "the escape covers only the outer expression"
    );
}

#[test]
fn drone_envsubst_mixed_escape_case_matches() {
    // The exact case from drone/envsubst's test table.
    assert_eq!(
        lenient(
            "some text ${var01}$${var$${var01}$var01${var01}",
            &[("var01", "abcdEFGH28ij")]
        )
        .unwrap(),
        "some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij"
    );
}

#[test]
fn nested_default_is_expanded() {
    assert_eq!(lenient("${a:=${b}}", &[("b", "B")]).unwrap(), "B");
    assert_eq!(lenient("${a:=x${b}y}", &[("b", "B")]).unwrap(), "xBy");
    assert_eq!(
        lenient("${a:=${b}}", &[("a", "A"), ("b", "B")]).unwrap(),
        "A"
    );
    assert_eq!(lenient("${a=${b^^}}", &[("b", "low")]).unwrap(), "LOW");
}

#[test]
fn nested_default_is_evaluated_even_when_unused_so_strict_fails_on_it() {
    // Flux evaluates arguments before looking the variable up.
    assert_eq!(
        strict("${a:=${b}}", &[("a", "A")]).unwrap_err(),
        ExprError::VarNotSet("b".into())
    );
}

#[test]
fn unterminated_expressions_are_errors() {
    assert_eq!(
        lenient("x: ${", &[("a", "1")]).unwrap_err(),
        ExprError::ParseVariableName
    );
    assert_eq!(
        lenient("x: ${abc", &[]).unwrap_err(),
        ExprError::MissingClosingBrace
    );
    assert_eq!(
        lenient("x: ${a:=abc", &[]).unwrap_err(),
        ExprError::ParseFuncSubstitution
    );
    assert_eq!(
        lenient("${a:", &[]).unwrap_err(),
        ExprError::BadSubstitution
    );
    assert_eq!(
        lenient("${}", &[]).unwrap_err(),
        ExprError::ParseVariableName
    );
    assert_eq!(
        lenient("${ a}", &[]).unwrap_err(),
        ExprError::ParseVariableName
    );
}

#[test]
fn lone_dollar_and_brace_are_text() {
    assert_eq!(lenient("$ { } $", &[]).unwrap(), "$ { } $");
    assert_eq!(lenient("price: 5$", &[]).unwrap(), "price: 5$");
}

#[test]
fn huge_default_is_handled() {
    let big = "x".repeat(1 << 20);
    let out = lenient(&format!("${{v:={big}}}"), &[]).unwrap();
    assert_eq!(out.len(), 1 << 20);
}

#[test]
fn many_escapes_are_linear_not_quadratic() {
    let text = "$$".repeat(200_000);
    let start = std::time::Instant::now();
    let out = lenient(&text, &[]).unwrap();
    assert_eq!(out.len(), 200_000);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn deep_nesting_is_refused_instead_of_overflowing_the_stack() {
    let depth = 10_000;
    let text = format!("{}x{}", "${a:=".repeat(depth), "}".repeat(depth));
    assert_eq!(lenient(&text, &[]).unwrap_err(), ExprError::TooDeep);
    // Shallow nesting still works.
    let text = format!("{}x{}", "${a:=".repeat(10), "}".repeat(10));
    assert_eq!(lenient(&text, &[]).unwrap(), "x");
}

#[test]
fn string_functions_match_drone_envsubst() {
    let v = &[("v", "abcdEFGH28ij")];
    assert_eq!(lenient("${#v}", v).unwrap(), "12");
    assert_eq!(lenient("${v^}", v).unwrap(), "AbcdEFGH28ij");
    assert_eq!(lenient("${v^^}", v).unwrap(), "ABCDEFGH28IJ");
    assert_eq!(lenient("${v,,}", &[("v", "ABC")]).unwrap(), "abc");
    assert_eq!(lenient("${v,}", &[("v", "ABC")]).unwrap(), "aBC");
    let p = &[("p", "/home/bozo/ideas/thoughts.for.today")];
    assert_eq!(lenient("${p:11}", p).unwrap(), "ideas/thoughts.for.today");
    assert_eq!(lenient("${p:11:5}", p).unwrap(), "ideas");
    assert_eq!(
        lenient("${p:-5}", p).unwrap(),
        "/home/bozo/ideas/thoughts.for.today"
    );
    assert_eq!(lenient("${p:100}", p).unwrap(), "");
    let z = &[("z", "abcABC123ABCabc")];
    assert_eq!(lenient("${z/%abc/XYZ}", z).unwrap(), "abcABC123ABCXYZ");
    assert_eq!(lenient("${z/#abc/XYZ}", z).unwrap(), "XYZABC123ABCabc");
    assert_eq!(lenient("${z//abc/xyz}", z).unwrap(), "xyzABC123ABCxyz");
    assert_eq!(lenient("${z/abc/xyz}", z).unwrap(), "xyzABC123ABCabc");
    assert_eq!(lenient("${z/#/pre-}", z).unwrap(), "pre-abcABC123ABCabc");
    assert_eq!(
        lenient(r"${s/\//-}", &[("s", "foo/bar")]).unwrap(),
        "foo-bar"
    );
    assert_eq!(lenient(r"${s//\//-}", &[("s", "a/b/c")]).unwrap(), "a-b-c");
    assert_eq!(lenient("${s/./}", &[("s", "foo.bar")]).unwrap(), "foobar");
    let f = &[("f", "bash.string.txt")];
    assert_eq!(lenient("${f#*.}", f).unwrap(), "string.txt");
    assert_eq!(lenient("${f##*.}", f).unwrap(), "txt");
    assert_eq!(lenient("${f%.*}", f).unwrap(), "bash.string");
    assert_eq!(lenient("${f%%.*}", f).unwrap(), "bash");
    assert_eq!(
        lenient("${f##*/}", &[("f", "/path/to/file")]).unwrap(),
        "file"
    );
}

#[test]
fn transformations_of_an_unset_variable_fail_in_strict_mode() {
    // Regression coverage Flux added for fluxcd/flux2#5836.
    for text in [
        "${#m}", "${m^^}", "${m,}", "${m:0}", "${m/a/b}", "${m#a}", "${m%%a}",
    ] {
        assert_eq!(
            strict(text, &[]).unwrap_err(),
            ExprError::VarNotSet("m".into()),
            "{text}"
        );
    }
}

#[test]
fn backslash_outside_an_expression_is_kept() {
    assert_eq!(lenient(r"\\x ${v}", &[("v", "1")]).unwrap(), r"\\x 1");
}

// --- objects -----------------------------------------------------------------------------

#[test]
fn integer_field_substitution_yields_an_integer() {
    let mut objects = vec![deployment(json!("${n}"))];
    substitute(&mut objects, &vars(&[("n", "3")]), &Options::default()).unwrap();
    assert_eq!(objects[0]["spec"]["replicas"], json!(3));
}

#[test]
fn booleans_and_floats_are_typed_after_substitution() {
    let mut objects = vec![json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "spec": {"enabled": "${flag}", "ratio": "${ratio}", "tag": "${tag}", "text": "v=${tag}"}
    })];
    let v = vars(&[("flag", "true"), ("ratio", "0.5"), ("tag", "1.0")]);
    substitute(&mut objects, &v, &Options::default()).unwrap();
    let spec = &objects[0]["spec"];
    assert_eq!(spec["enabled"], json!(true));
    assert_eq!(spec["ratio"], json!(0.5));
    // As in Flux: the source's quotes are gone by the time the YAML is re-emitted, so a
    // whole-field `${tag}` that looks like a number becomes one …
    assert_eq!(spec["tag"], json!(1.0));
    // … while text around it keeps the field a string.
    assert_eq!(spec["text"], json!("v=1.0"));
}

#[test]
fn quoted_value_stays_a_string() {
    // To keep a string, the value itself carries YAML quotes (the Flux workaround).
    let mut objects = vec![deployment(json!("${n}"))];
    substitute(&mut objects, &vars(&[("n", "\"3\"")]), &Options::default()).unwrap();
    assert_eq!(objects[0]["spec"]["replicas"], json!("3"));
}

#[test]
fn multi_line_strings_are_substituted_line_by_line() {
    let mut objects = vec![json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "script", "namespace": "ns"},
        "data": {"run.sh": "#!/bin/sh\necho ${greeting}\nexit 0\n"}
    })];
    substitute(
        &mut objects,
        &vars(&[("greeting", "hi")]),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(
        objects[0]["data"]["run.sh"],
        json!("#!/bin/sh\necho hi\nexit 0\n")
    );
}

#[test]
fn newlines_in_values_are_removed_as_flux_does() {
    let mut objects = vec![json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"k": "${v}"}
    })];
    substitute(&mut objects, &vars(&[("v", "a\nb\n")]), &Options::default()).unwrap();
    assert_eq!(objects[0]["data"]["k"], json!("ab"));
}

#[test]
fn names_and_labels_are_substituted() {
    let mut objects = vec![json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "${env}-apps", "labels": {"env": "${env}"}}
    })];
    substitute(&mut objects, &vars(&[("env", "prod")]), &Options::default()).unwrap();
    assert_eq!(objects[0]["metadata"]["name"], json!("prod-apps"));
    assert_eq!(objects[0]["metadata"]["labels"]["env"], json!("prod"));
}

#[test]
fn objects_labelled_or_annotated_disabled_are_skipped() {
    let by_label = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "labels": {SUBSTITUTE_KEY: DISABLED}},
        "data": {"k": "${v}"}
    });
    let by_annotation = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "b", "annotations": {SUBSTITUTE_KEY: DISABLED}},
        "data": {"k": "${v}"}
    });
    let enabled = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {SUBSTITUTE_KEY: "enabled"}},
        "data": {"k": "${v}"}
    });
    let mut objects = vec![by_label.clone(), by_annotation.clone(), enabled];
    substitute(
        &mut objects,
        &vars(&[("v", "1")]),
        &Options { strict: true },
    )
    .unwrap();
    assert_eq!(objects[0], by_label);
    assert_eq!(objects[1], by_annotation);
    assert_eq!(objects[2]["data"]["k"], json!(1));
}

#[test]
fn disabled_objects_are_not_checked_in_strict_mode() {
    let mut objects = vec![json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "dash", "annotations": {SUBSTITUTE_KEY: DISABLED}},
        "data": {"k": "${grafana_var} ${"}
    })];
    substitute(
        &mut objects,
        &vars(&[("v", "1")]),
        &Options { strict: true },
    )
    .unwrap();
}

#[test]
fn strict_error_names_the_object_and_the_variable() {
    let mut objects = vec![deployment(json!("${n}"))];
    let err = substitute(
        &mut objects,
        &vars(&[("other", "1")]),
        &Options { strict: true },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Deployment/apps/app variable substitution failed"
    );
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(cause, "variable not set (strict mode): \"n\"");
}

#[test]
fn lenient_mode_expands_unset_to_empty_in_objects() {
    let mut objects = vec![json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"k": "x${missing}y"}
    })];
    substitute(&mut objects, &vars(&[("other", "1")]), &Options::default()).unwrap();
    assert_eq!(objects[0]["data"]["k"], json!("xy"));
}

#[test]
fn without_any_variables_nothing_is_touched_even_in_strict_mode() {
    let original = json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"k": "$${kept} ${unset}"}
    });
    let mut objects = vec![original.clone()];
    substitute(&mut objects, &BTreeMap::new(), &Options { strict: true }).unwrap();
    assert_eq!(objects[0], original);
}

#[test]
fn escaped_reference_survives_as_literal_in_objects() {
    let mut objects = vec![json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"k": "$${datasource} ${v}"}
    })];
    substitute(
        &mut objects,
        &vars(&[("v", "1")]),
        &Options { strict: true },
    )
    .unwrap();
    assert_eq!(objects[0]["data"]["k"], json!("${datasource} 1"));
}

#[test]
fn invalid_variable_names_are_rejected_like_flux() {
    let mut objects = vec![deployment(json!("${n}"))];
    let err = substitute(&mut objects, &vars(&[("x-y", "1")]), &Options::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "'x-y' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'"
    );
    for bad in ["1abc", "a.b", "", "é"] {
        let err = substitute(&mut objects, &vars(&[(bad, "1")]), &Options::default());
        assert!(matches!(err, Err(Error::InvalidVarName { .. })), "{bad:?}");
    }
    for good in ["_", "a1", "A_B_9", "_x"] {
        substitute(
            &mut [json!({"kind": "X", "metadata": {"name": "x"}})],
            &vars(&[(good, "1")]),
            &Options::default(),
        )
        .unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

#[test]
fn value_that_breaks_the_yaml_is_an_error_naming_the_object() {
    let mut objects = vec![deployment(json!("${n}"))];
    let err = substitute(
        &mut objects,
        &vars(&[("n", "[unclosed")]),
        &Options::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::ReparseFailed { .. }), "{err:?}");
    assert!(err.to_string().starts_with("Deployment/apps/app "), "{err}");
}

#[test]
fn malformed_expression_is_an_error_naming_the_object() {
    let mut objects = vec![deployment(json!("${n"))];
    let err = substitute(&mut objects, &vars(&[("n", "1")]), &Options::default()).unwrap_err();
    assert!(
        matches!(&err, Error::SubstituteFailed { object, source: ExprError::MissingClosingBrace } if object == "Deployment/apps/app"),
        "{err:?}"
    );
}

#[test]
fn a_failure_leaves_every_object_unchanged() {
    let good = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "${v}"}});
    let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"k": "${missing}"}});
    let mut objects = vec![good.clone(), bad.clone()];
    substitute(
        &mut objects,
        &vars(&[("v", "1")]),
        &Options { strict: true },
    )
    .unwrap_err();
    assert_eq!(objects, vec![good, bad]);
}

#[test]
fn later_layers_win_and_inline_wins_over_all() {
    let from_cm = vars(&[("a", "cm"), ("b", "cm"), ("c", "cm")]);
    let from_secret = vars(&[("b", "secret"), ("c", "secret")]);
    let inline = vars(&[("c", "inline")]);
    let merged = merge_vars([from_cm, from_secret, inline]);
    assert_eq!(
        merged,
        vars(&[("a", "cm"), ("b", "secret"), ("c", "inline")])
    );
}

#[test]
fn glob_classes_and_escapes_work_in_trims() {
    let v = &[("v", "v1.2.3-rc1")];
    assert_eq!(lenient("${v#[a-z]}", v).unwrap(), "1.2.3-rc1");
    assert_eq!(lenient("${v#[^0-9]}", v).unwrap(), "1.2.3-rc1");
    assert_eq!(lenient("${v%-*}", v).unwrap(), "v1.2.3");
    assert_eq!(lenient("${v#v?.}", v).unwrap(), "2.3-rc1");
    assert_eq!(lenient(r"${v#*\.}", v).unwrap(), "2.3-rc1");
    // A malformed glob leaves the value alone, as in envsubst.
    assert_eq!(lenient("${v#[a-}", v).unwrap(), "v1.2.3-rc1");
}

#[test]
fn pathological_globs_do_not_backtrack_exponentially() {
    let value = "a".repeat(2_000);
    let start = std::time::Instant::now();
    let out = lenient("${v##*a*a*a*a*a*a*a*a*b}", &[("v", &value)]).unwrap();
    assert_eq!(out, value, "no match, value unchanged");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn untouched_fields_keep_their_types_through_the_yaml_round_trip() {
    // Strings that look like other YAML types must come back as the same strings.
    let tricky = [
        "3",
        "0755",
        "1e3",
        "0x1F",
        "0o17",
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "null",
        "~",
        "",
        " ",
        "-",
        "- a",
        ": x",
        "a: b",
        "#c",
        "*alias",
        "&anchor",
        "!tag",
        "@at",
        "`tick",
        "'q'",
        "\"dq\"",
        "[a]",
        "{a: 1}",
        "1.0",
        ".inf",
        ".nan",
        "-.inf",
        "2024-01-01",
        "12:30",
        "multi\nline\n",
        "trailing ",
        "\ttab",
        "é ü",
        "a\u{0}b",
        "%percent",
        "$dollar",
        "${not-a-var",
        "\\back",
    ];
    let data: serde_json::Map<String, Value> = tricky
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("k{i}"), json!(s)))
        .collect();
    let original = json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": {"a": "${v}"}},
        "data": data,
        "numbers": {"int": 3, "neg": -7, "float": 0.25, "big": 9007199254740993_u64, "bool": true, "null": null},
        "list": [1, "1", true, "true", null, "null", {"nested": ["x"]}]
    });
    let mut objects = vec![original.clone()];
    // `${not-a-var` would be a parse error if present, so drop it for this run.
    objects[0]["data"]
        .as_object_mut()
        .unwrap()
        .retain(|_, v| v != "${not-a-var");
    let mut expected = objects[0].clone();
    expected["metadata"]["annotations"]["a"] = json!("x");
    substitute(&mut objects, &vars(&[("v", "x")]), &Options::default()).unwrap();
    assert_eq!(objects[0], expected);
}

#[test]
fn long_lines_with_spaced_defaults_survive_yaml_line_folding() {
    let words = "lorem ipsum dolor sit amet ".repeat(8);
    let text = format!("{words}${{greeting:=hello big wide world}} {words}");
    let mut objects = vec![json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"long": text, "other": "${v}"}
    })];
    substitute(&mut objects, &vars(&[("v", "1")]), &Options::default()).unwrap();
    assert_eq!(
        objects[0]["data"]["long"],
        json!(format!("{words}hello big wide world {words}"))
    );
}
