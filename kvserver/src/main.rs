//! kvserver: a Redis-compatible server over kvcore. See `kvserver --help`.

mod blocking;
mod client;
mod cmd;
mod config;
mod conn;
mod glob;
mod log;
mod server;
mod signal;
mod stats;

use clap::Parser;

fn main() {
    let cli = config::Cli::parse();
    let cfg = match config::Config::resolve(cli) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("kvserver: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = server::run(cfg) {
        log::warning!("fatal: {e}");
        eprintln!("kvserver: {e}");
        std::process::exit(1);
    }
}
