use super::*;
use kube::CustomResourceExt as _;
use serde_json::{json, Value};

/// The committed CRD is the one the types generate.
#[test]
fn committed_crd_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds/codebase.yaml");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = crd_yaml().expect("the CRD serializes");
    assert!(
        committed == generated,
        "{} is stale (or missing): regenerate it with `{REGENERATE}` and review the diff",
        path.display()
    );
}

fn schema() -> Value {
    let crd = serde_json::to_value(Codebase::crd()).expect("the CRD serializes");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

#[test]
fn names_scope_and_subresources() {
    let crd = serde_json::to_value(Codebase::crd()).expect("the CRD serializes");
    assert_eq!(crd["metadata"]["name"], "codebases.pipy.dev");
    assert_eq!(crd["spec"]["group"], crate::GROUP);
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["cb"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"]["status"], json!({}));
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .expect("printer columns")
        .iter()
        .filter(|c| c.get("priority").is_none())
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        columns,
        ["Base", "Version", "Published", "Instances", "Ready", "Age"]
    );
}

#[test]
fn schema_is_structural_where_it_matters() {
    let s = schema();
    let spec = &s["properties"]["spec"]["properties"];
    assert_eq!(spec["files"]["type"], "object");
    assert_eq!(
        spec["files"]["additionalProperties"],
        json!({"type": "string"})
    );
    assert_eq!(spec["erase"]["x-kubernetes-list-type"], "set");
    assert_eq!(spec["configMaps"]["items"]["required"], json!(["name"]));
    let conditions = &s["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
    assert_eq!(
        conditions["items"]["properties"]["lastTransitionTime"]["format"],
        "date-time"
    );
    let by_version =
        &s["properties"]["status"]["properties"]["instances"]["properties"]["byVersion"];
    assert_eq!(by_version["additionalProperties"]["type"], "integer");
    // Structural: no references, no combinators, every property typed.
    let text = s.to_string();
    for banned in ["$ref", "anyOf", "oneOf", "allOf", "definitions", "$defs"] {
        assert!(!text.contains(banned), "schema contains {banned}");
    }
    fn typed(v: &Value, at: &str) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                let at = format!("{at}.{k}");
                assert!(
                    p.get("type").is_some() || p.get("x-kubernetes-int-or-string").is_some(),
                    "{at} has no type"
                );
                typed(p, &at);
            }
        }
        if let Some(items) = v.get("items") {
            typed(items, &format!("{at}[]"));
        }
    }
    typed(&s, "");
}

#[test]
fn spec_round_trips_with_defaults() {
    let cb: Codebase = serde_yaml::from_str(
        "apiVersion: pipy.dev/v1alpha1\nkind: Codebase\nmetadata: {name: a, namespace: ns}\n\
         spec:\n  files:\n    /main.js: pipy()\n",
    )
    .expect("a minimal codebase parses");
    assert_eq!(cb.spec.main, None);
    assert!(!cb.spec.paused);
    assert!(cb.spec.erase.is_empty());
    let back = serde_json::to_value(&cb.spec).expect("serializes");
    assert_eq!(back, json!({"files": {"/main.js": "pipy()"}}));
}
