//! Go text/template and Sprig semantics, checked against what Go and Helm produce.

use gyre_helm::value::Value;
use rstest::rstest;

fn values() -> Value {
    let yaml = r#"
name: demo
count: 3
ratio: 1.5
big: 1000000
flag: true
empty: ""
list: [b, a, c]
map: {z: 1, a: 2}
nested: {inner: {leaf: x}}
nothing: null
"#;
    let v = gyre_helm::yaml::parse(yaml, true).expect("valid yaml");
    let mut top = gyre_helm::value::Map::new();
    top.insert("Values".into(), v);
    let mut t = gyre_helm::value::Map::new();
    t.insert("Name".into(), Value::str("t"));
    top.insert("Template".into(), Value::map(t));
    Value::map(top)
}

fn run(text: &str) -> Result<String, String> {
    gyre_helm::execute("t", text, &values()).map_err(|e| e.to_string())
}

#[rstest]
#[case::text("hello", "hello")]
#[case::field("{{ .Values.name }}", "demo")]
#[case::float_prints_like_go(
    "{{ .Values.big }} {{ .Values.count }} {{ .Values.ratio }}",
    "1e+06 3 1.5"
)]
#[case::missing_key_is_no_value("{{ .Values.missing }}", "<no value>")]
#[case::trim_markers("a  {{- 1 -}}  b", "a1b")]
#[case::comment("a{{/* c */}}b{{- /* d */ -}} c", "abc")]
#[case::if_else_if(
    "{{ if .Values.empty }}1{{ else if .Values.flag }}2{{ else }}3{{ end }}",
    "2"
)]
#[case::with_else("{{ with .Values.nothing }}x{{ else }}none{{ end }}", "none")]
#[case::range_map_sorted(
    "{{ range $k, $v := .Values.map }}{{ $k }}={{ $v }};{{ end }}",
    "a=2;z=1;"
)]
#[case::range_list_index(
    "{{ range $i, $e := .Values.list }}{{ $i }}{{ $e }}{{ end }}",
    "0b1a2c"
)]
#[case::range_int("{{ range 3 }}{{ . }}{{ end }}", "012")]
#[case::range_else("{{ range .Values.nothing }}x{{ else }}empty{{ end }}", "empty")]
#[case::break_continue(
    "{{ range $i := until 6 }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ if eq $i 4 }}{{ break }}{{ end }}{{ $i }}{{ end }}",
    "023"
)]
#[case::variable_scope(
    "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}",
    "2"
)]
#[case::define_include(
    r#"{{ define "a" }}[{{ . }}]{{ end }}{{ include "a" "x" | upper }}"#,
    "[X]"
)]
#[case::template_action(
    r#"{{ define "b" }}<{{ .Values.name }}>{{ end }}{{ template "b" . }}"#,
    "<demo>"
)]
#[case::block(r#"{{ block "c" . }}default{{ end }}"#, "default")]
#[case::and_or_short_circuit("{{ and 1 0 2 }} {{ or 0 \"\" \"x\" }}", "0 x")]
#[case::printf_verbs(
    r#"{{ printf "%s-%d-%v-%q-%5.2f-%x" "a" 7 true "q" 3.14159 255 }}"#,
    "a-7-true-\"q\"- 3.14-ff"
)]
#[case::print_spacing(r#"{{ print 1 2 "a" "b" 3 }}"#, "1 2ab3")]
#[case::index_slice("{{ index .Values.list 1 }} {{ slice .Values.list 1 2 }}", "a [a]")]
#[case::len("{{ len .Values.list }}", "3")]
#[case::comparisons(
    "{{ lt 1 2 }} {{ ge \"b\" \"a\" }} {{ eq .Values.name \"demo\" \"x\" }} {{ ne 1 2 }}",
    "true true true true"
)]
#[case::default_empty(
    r#"{{ .Values.empty | default "d" }} {{ empty .Values.map }}"#,
    "d false"
)]
#[case::quote_nil_skipped(r#"[{{ quote .Values.missing }}]"#, "[]")]
#[case::nindent(r#"{{ "a\nb" | nindent 2 }}"#, "\n  a\n  b")]
#[case::trunc_trim(
    r#"{{ "abcdef" | trunc 3 }} {{ trimSuffix "-" "x-" }} {{ trimAll "$" "$5$" }}"#,
    "abc x 5"
)]
#[case::case_helpers(r#"{{ snakecase "FooBar" }} {{ kebabcase "FooBar" }} {{ camelcase "foo_bar" }} {{ title "hello world" }}"#, "foo_bar foo-bar FooBar Hello World")]
#[case::lists(r#"{{ list 3 1 2 | sortAlpha | join "," }} {{ without (list 1 2 3) 2 }} {{ has 2 (list 1 2) }} {{ uniq (list 1 1 2) }}"#, "1,2,3 [1 3] true [1 2]")]
#[case::dicts(r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "b" 2 }}{{ keys $d | sortAlpha }} {{ hasKey $d "b" }} {{ get $d "zz" | quote }}"#, "[a b] true \"\"")]
#[case::merge_mutates(
    r#"{{ $a := dict "x" 1 }}{{ $_ := merge $a (dict "x" 2 "y" 3) }}{{ $a.x }}{{ $a.y }}"#,
    "13"
)]
#[case::math(
    "{{ add 1 2 3 }} {{ sub 5 2 }} {{ mul 2 3 }} {{ div 7 2 }} {{ mod 7 2 }} {{ max 1 5 3 }} {{ add1 .Values.count }}",
    "6 3 6 3 1 5 4"
)]
#[case::floatmath(
    "{{ addf 1.5 1 }} {{ mulf 2 1.25 }} {{ floor 1.7 }} {{ round 2.345 2 }}",
    "2.5 2.5 1 2.35"
)]
#[case::regex(r#"{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }} {{ regexMatch "^[a-z]+$" "abc" }} {{ regexFindAll "[0-9]" "a1b2" -1 }}"#, "-W-xxW- true [1 2]")]
#[case::encoding(
    r#"{{ b64enc "hi" }} {{ b64dec "aGk=" }} {{ sha256sum "a" | trunc 8 }} {{ adler32sum "a" }}"#,
    "aGk= hi ca978112 6422626"
)]
#[case::semver(r#"{{ semverCompare ">=1.21-0" "v1.31.0" }} {{ semverCompare "~1.2.0" "1.3.0" }} {{ semverCompare "^1.2" "1.9.9" }}"#, "true false true")]
#[case::to_json_html_escaped(
    r#"{{ dict "a" "<b>" "n" 1.0 | toJson }}"#,
    r#"{"a":"\u003cb\u003e","n":1}"#
)]
#[case::to_yaml(r#"{{ .Values.nested | toYaml }}"#, "inner:\n  leaf: x")]
#[case::to_yaml_quotes_ambiguous(
    r#"{{ list "yes" "1" "" "a: b" "x" | toYaml }}"#,
    "- \"yes\"\n- \"1\"\n- \"\"\n- 'a: b'\n- x"
)]
#[case::from_yaml(r#"{{ (fromYaml "a: [1, 2]").a }}"#, "[1 2]")]
#[case::tpl(r#"{{ tpl "{{ .Values.name }}-x" . }}"#, "demo-x")]
#[case::ternary_coalesce(
    r#"{{ ternary "y" "n" true }} {{ coalesce .Values.missing "" "c" }}"#,
    "y c"
)]
#[case::type_of(
    r#"{{ typeOf .Values.count }} {{ kindOf .Values.list }} {{ typeOf 1 }}"#,
    "float64 slice int"
)]
#[case::chain_on_nil_pipeline_is_nil("{{ (.Values.missing).x }}", "<no value>")]
#[case::dig(
    r#"{{ dig "nested" "inner" "leaf" "d" .Values }} {{ dig "nested" "nope" "d" .Values }}"#,
    "x d"
)]
fn engine_matches_go(#[case] text: &str, #[case] want: &str) {
    assert_eq!(run(text).as_deref(), Ok(want));
}

#[rstest]
#[case::nil_pointer("{{ .Values.missing.x }}", "nil pointer evaluating interface {}.x")]
#[case::int_float_eq("{{ eq .Values.count 3 }}", "incompatible types for comparison")]
#[case::undefined_function("{{ nosuchfunc 1 }}", "function \"nosuchfunc\" not defined")]
#[case::fail(r#"{{ fail "boom" }}"#, "boom")]
#[case::required(r#"{{ required "need it" .Values.missing }}"#, "need it")]
#[case::div_zero("{{ div 1 0 }}", "integer divide by zero")]
#[case::index_oob("{{ index .Values.list 9 }}", "index out of range: 9")]
#[case::string_param_nil("{{ upper .Values.missing }}", "invalid value; expected string")]
#[case::unclosed("{{ .Values.name ", "unclosed action")]
#[case::missing_template(r#"{{ template "nope" }}"#, "template \"nope\" not defined")]
fn engine_errors_like_go(#[case] text: &str, #[case] want: &str) {
    let err = run(text).expect_err("must fail");
    assert!(err.contains(want), "{err:?} does not contain {want:?}");
}

#[test]
fn errors_name_file_line_column_and_expression() {
    let err = run("a\nb: {{ .Values.missing.x }}").expect_err("must fail");
    assert!(
        err.starts_with("template: t:2:13: executing \"t\" at <.Values.missing.x>:"),
        "{err}"
    );
}

#[test]
fn set_flags_type_values_like_helm() {
    let read = |_: &str| -> Result<String, String> { Ok("file-content".into()) };
    let sets = vec![
        (
            "--set".to_string(),
            "a=1,b=true,c=01,d=x,e.f=null,l={1,2},m[1]=z".to_string(),
        ),
        ("--set-string".to_string(), "s=12".to_string()),
        ("--set-json".to_string(), r#"j={"k":[1,"2"]}"#.to_string()),
        ("--set-literal".to_string(), "lit=a,b=c".to_string()),
        ("--set-file".to_string(), "f=whatever.txt".to_string()),
    ];
    let v = gyre_helm::build_values(&[], &sets, &read).expect("valid flags");
    let j = gyre_helm::json::encode(&Value::map(v), None);
    assert_eq!(
        j,
        r#"{"a":1,"b":true,"c":"01","d":"x","e":{"f":null},"f":"file-content","j":{"k":[1,"2"]},"l":[1,2],"lit":"a,b=c","m":[null,"z"],"s":"12"}"#
    );
}
