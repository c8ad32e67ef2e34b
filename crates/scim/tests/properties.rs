//! The fuzzer's generators and checks (`crates/scim/fuzz`), run briefly on every `cargo test`:
//! deep, long and random filters and PATCH bodies, on a 2 MiB stack like a server worker's.

#[path = "../fuzz/src/targets.rs"]
mod targets;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn run<S: Strategy<Value = String> + 'static>(cases: u32, strategy: fn() -> S, check: fn(&str)) {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let config = Config {
                cases,
                failure_persistence: None,
                ..Config::default()
            };
            let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
            let mut runner = TestRunner::new_with_rng(config, rng);
            if let Err(failure) = runner.run(&strategy(), |input| {
                check(&input);
                Ok(())
            }) {
                panic!("{failure}");
            }
        })
        .expect("spawn")
        .join()
        .expect("no property broke");
}

#[test]
fn generated_filters_parse_or_are_refused() {
    run(1_000, targets::filter_input, targets::check_filter);
}

#[test]
fn generated_patch_bodies_apply_or_are_refused() {
    run(100, targets::patch_input, targets::check_patch);
}
