//! raft-rs logs through slog; this drain hands its records to the `log` facade, so the host
//! decides where they go (kvserver's log file), as for kvcore's own records.

use slog::{Drain, KV, OwnedKVList, Record, Serializer};

/// A slog drain that forwards to `log`.
struct ToLog;

/// Collects a record's key-value pairs as ` key=value` text.
struct Pairs(String);

impl Serializer for Pairs {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        use std::fmt::Write;
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

impl Drain for ToLog {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let level = match record.level() {
            slog::Level::Critical | slog::Level::Error => log::Level::Error,
            slog::Level::Warning => log::Level::Warn,
            slog::Level::Info => log::Level::Info,
            slog::Level::Debug => log::Level::Debug,
            slog::Level::Trace => log::Level::Trace,
        };
        if !log::log_enabled!(target: "raft", level) {
            return Ok(());
        }
        let mut pairs = Pairs(String::new());
        let _ = record.kv().serialize(record, &mut pairs);
        let _ = values.serialize(record, &mut pairs);
        log::log!(target: "raft", level, "{}{}", record.msg(), pairs.0);
        Ok(())
    }
}

/// The logger raft-rs gets: its records go to `log` with target `raft`.
pub(crate) fn logger() -> slog::Logger {
    slog::Logger::root(ToLog.fuse(), slog::o!())
}
