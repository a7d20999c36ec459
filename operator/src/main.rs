//! `pipy-operator`: wiring of the controller, the repo API and the webhooks.

fn main() {
    eprintln!("pipy-operator: not wired yet");
    std::process::exit(2);
}
