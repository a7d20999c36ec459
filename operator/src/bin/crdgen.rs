//! Prints the CustomResourceDefinition YAML of the project's resources:
//! `cargo run -p pipy-operator --bin crdgen > crds/codebase.yaml`.

fn main() -> Result<(), serde_yaml::Error> {
    print!("{}", pipy_operator::crd::crd_yaml()?);
    Ok(())
}
