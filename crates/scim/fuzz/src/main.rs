//! `cargo run --release -- <filter|patch> <seconds> [seed]`: runs one target's generated inputs
//! for a bounded time on a 2 MiB stack (a server worker's), saves any input whose check panics
//! under `crashes/`, and prints the executions, the time and the crashes.

mod targets;

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn run<S: Strategy<Value = String>>(
    target: &str,
    strategy: S,
    check: fn(&str),
    budget: Duration,
    seed: u64,
) -> (u64, u64) {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let log = std::env::var_os("FUZZ_LOG");
    let deadline = Instant::now() + budget;
    let (mut execs, mut crashes) = (0u64, 0u64);
    while Instant::now() < deadline {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        let input = tree.current();
        if let Some(path) = &log {
            // Kept before the run: a stack overflow aborts without unwinding.
            let _ = std::fs::write(path, &input);
        }
        execs += 1;
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            crashes += 1;
            let _ = std::fs::create_dir_all("crashes");
            let name = format!("crashes/{target}-{seed}-{execs}.txt");
            if let Ok(mut f) = std::fs::File::create(&name) {
                let _ = f.write_all(input.as_bytes());
            }
            eprintln!("crash saved in {name}");
        }
    }
    (execs, crashes)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let target = args.get(1).cloned().unwrap_or_default();
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let budget = Duration::from_secs(seconds);
    let started = Instant::now();
    let worker = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || match target.as_str() {
            "filter" => run(
                "filter",
                targets::filter_input(),
                targets::check_filter,
                budget,
                seed,
            ),
            "patch" => run(
                "patch",
                targets::patch_input(),
                targets::check_patch,
                budget,
                seed,
            ),
            other => {
                eprintln!("unknown target {other:?}: filter or patch");
                std::process::exit(2);
            }
        })
        .expect("spawn the worker");
    let (execs, crashes) = worker.join().expect("the worker finished");
    let wall = started.elapsed().as_secs_f64();
    println!(
        "{} seed {seed}: {execs} execs in {wall:.0} s ({:.0}/s), {crashes} crashes",
        args.get(1).map_or("", String::as_str),
        execs as f64 / wall
    );
    if crashes > 0 {
        std::process::exit(1);
    }
}
