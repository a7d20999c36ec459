//! The Kubernetes half against a real control plane (see `pipy_e2e::ControlPlane`).

use pipy_e2e::*;

#[test]
fn control_plane_starts() {
    let plane = ControlPlane::start();
    let out = plane.kubectl(&["get", "namespaces", "-o", "name"]);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("namespace/default"), "{}", out.stdout);
}
