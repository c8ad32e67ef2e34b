//! The `vestibule` command: parses the command line, starts logging and hands the command to
//! `cli`, which holds the clap tree and one file per command group.

mod cli;

use clap::Parser;
use vestibule::config::{Config, LogFormat};

// glibc's allocator spent about a tenth of the server's CPU in contended malloc/free under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging(config: &Config, format: Option<LogFormat>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VESTIBULE_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours for a person at a terminal; a file, journald or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format.unwrap_or(config.log.format) {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// mimalloc keeps freed memory and commits arenas eagerly; for a daemon that idles most of the
/// time (and frees argon2's blocks after each login) returning memory promptly matters more.
/// The numbers are mimalloc's option ids (mimalloc.h): arena_eager_commit = 4, purge_delay = 15.
/// Transparent huge pages are off for this process too: with the kernel's `always` mode, the
/// allocator's sparsely used arena sat in 2 MiB pages, 12 MB of an idle daemon's 35 MB.
fn tune_allocator() {
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table; prctl with
    // PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    unsafe {
        libmimalloc_sys::mi_option_set(4, 0);
        libmimalloc_sys::mi_option_set(15, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> anyhow::Result<()> {
    tune_allocator();
    let cli = cli::Cli::parse();
    // Secrets stay references here: only serve, migrate and apply resolve them (and fail on a
    // missing one); every other command runs without them.
    let config = Config::load_references(cli.config.as_deref())?;
    init_logging(&config, cli.log_format);
    cli::run(cli.command, config)
}
