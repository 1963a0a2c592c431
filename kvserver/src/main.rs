//! kvserver: a Redis-compatible server over kvcore. See `kvserver --help`.

mod acl;
mod cmd;
mod conn;
mod histogram;
mod listener;
mod log;
mod memory;
mod monitor;
mod os;
mod params;
mod pubsub;
mod raft;
mod raft_tls;
mod registry;
mod repl;
mod replica;
mod replier;
mod rewrite;
mod settings;
mod shared;
mod signal;
mod stats;
mod tls;
mod tracking;
mod waiters;
mod wire;

use clap::Parser;

fn main() {
    // kvcore logs through the `log` facade; its records join the server's own lines.
    log::install();
    let mut cli = settings::Cli::parse();
    let rdb = match &cli.tool {
        Some(settings::Tool::Import { file }) => Some((true, file.clone())),
        Some(settings::Tool::Export { file }) => Some((false, file.clone())),
        _ => None,
    };
    if let Some(settings::Tool::Check { data_dir, repair }) = cli.tool.take() {
        match kvcore::check_data_dir(&data_dir, repair) {
            Ok(report) => {
                println!("{report}");
                // A torn tail is cut by the next open; other log damage needs --repair.
                let damaged =
                    report.problem.as_ref().is_some_and(|p| !p.torn_tail) && !report.repaired;
                let bad_snapshot = report.snapshots.iter().any(|s| s.keys.is_err());
                std::process::exit(if damaged || bad_snapshot { 1 } else { 0 });
            }
            Err(e) => {
                eprintln!("kvserver check: {}", log::Chain(&e));
                std::process::exit(1);
            }
        }
    }
    let cfg = match settings::Config::resolve(cli) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("kvserver: {e}");
            std::process::exit(2);
        }
    };
    if let Some((import, file)) = rdb {
        std::process::exit(if import {
            listener::import(&cfg, &file)
        } else {
            listener::export(&cfg, &file)
        });
    }
    if let Err(e) = listener::run(cfg) {
        log::warning!("fatal: {e}");
        eprintln!("kvserver: {e}");
        std::process::exit(1);
    }
}
