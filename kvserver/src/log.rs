//! A tiny leveled logger that writes one line per event to stderr.
//!
//! The levels and their names follow Redis's `loglevel` setting (`debug`, `verbose`, `notice`,
//! `warning`, `nothing`) so a Redis config file's `loglevel` line works unchanged. The level can be
//! changed at run time (`CONFIG SET loglevel`), so it lives in an atomic.
//!
//! Libraries (kvcore) log through the `log` facade; [`install`] routes their records here, so
//! they get the same levels and line format, prefixed with the crate they came from.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How much the server says. Ordered from the most verbose to silence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Debug = 0,
    Verbose = 1,
    Notice = 2,
    Warning = 3,
    Nothing = 4,
}

impl Level {
    pub(crate) fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "debug" => Level::Debug,
            "verbose" => Level::Verbose,
            "notice" | "info" => Level::Notice,
            "warning" | "warn" => Level::Warning,
            "nothing" | "off" => Level::Nothing,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Verbose => "verbose",
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Nothing => "nothing",
        }
    }

    /// The level a `log` record of `level` is written at: error and warn are warnings, info
    /// is a notice, debug verbose and trace debug.
    fn of_record(level: ::log::Level) -> Level {
        match level {
            ::log::Level::Error | ::log::Level::Warn => Level::Warning,
            ::log::Level::Info => Level::Notice,
            ::log::Level::Debug => Level::Verbose,
            ::log::Level::Trace => Level::Debug,
        }
    }

    /// The most verbose `log` level that [`Level::of_record`] maps to this level or above.
    fn record_filter(self) -> ::log::LevelFilter {
        match self {
            Level::Debug => ::log::LevelFilter::Trace,
            Level::Verbose => ::log::LevelFilter::Debug,
            Level::Notice => ::log::LevelFilter::Info,
            Level::Warning => ::log::LevelFilter::Warn,
            Level::Nothing => ::log::LevelFilter::Off,
        }
    }

    fn from_u8(v: u8) -> Level {
        match v {
            0 => Level::Debug,
            1 => Level::Verbose,
            2 => Level::Notice,
            3 => Level::Warning,
            _ => Level::Nothing,
        }
    }

    /// The marker Redis puts before a message: `.` debug, `-` verbose, `*` notice, `#` warning.
    fn marker(self) -> &'static str {
        match self {
            Level::Debug => ".",
            Level::Verbose => "-",
            Level::Notice => "*",
            Level::Warning | Level::Nothing => "#",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Notice as u8);

pub(crate) fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
    // Records below the level are then dropped inside the `log` macros, before formatting.
    ::log::set_max_level(level.record_filter());
}

/// Routes the `log` records of the libraries the server uses into this logger.
struct Bridge;

impl ::log::Log for Bridge {
    fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
        enabled(Level::of_record(metadata.level()))
    }

    fn log(&self, record: &::log::Record<'_>) {
        let level = Level::of_record(record.level());
        if enabled(level) {
            write(
                level,
                format_args!("{}: {}", origin(record.target()), record.args()),
            );
        }
    }

    fn flush(&self) {}
}

/// The crate a record's target names (`kvcore::persist::api` → `kvcore`).
fn origin(target: &str) -> &str {
    target.split("::").next().unwrap_or(target)
}

/// Installs the bridge from the `log` facade (call once, first thing in `main`).
pub(crate) fn install() {
    static BRIDGE: Bridge = Bridge;
    // This fails only if a logger is already installed, and then that one keeps the records.
    let _ = ::log::set_logger(&BRIDGE);
    ::log::set_max_level(level().record_filter());
}

pub(crate) fn level() -> Level {
    Level::from_u8(LEVEL.load(Ordering::Relaxed))
}

pub(crate) fn enabled(level: Level) -> bool {
    level != Level::Nothing && level >= self::level()
}

/// Writes one line; called through the `error!`-style macros below, which check the level first
/// so that a disabled line costs one atomic load and formats nothing.
pub(crate) fn write(level: Level, args: fmt::Arguments<'_>) {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let line = format!(
        "{}:M {} {} {}\n",
        std::process::id(),
        format_utc(ms),
        level.marker(),
        args
    );
    // A failed write to stderr has nowhere to be reported; dropping the line is all we can do.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// An error followed by its sources, `: `-separated, on one line: kvcore's I/O errors say
/// what they were doing and leave the operating system's reason to their source.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

/// `2026-11-26 06:55:00.123` (UTC) from milliseconds since the Unix epoch.
pub(crate) fn format_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let sod = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        ms % 1000
    )
}

/// Proleptic Gregorian date from a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

macro_rules! log_at {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::write($level, format_args!($($arg)*));
        }
    };
}

macro_rules! warning { ($($arg:tt)*) => { $crate::log::log_at!($crate::log::Level::Warning, $($arg)*) }; }
macro_rules! notice { ($($arg:tt)*) => { $crate::log::log_at!($crate::log::Level::Notice, $($arg)*) }; }
macro_rules! verbose { ($($arg:tt)*) => { $crate::log::log_at!($crate::log::Level::Verbose, $($arg)*) }; }

pub(crate) use {log_at, notice, verbose, warning};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00.000");
        // 2000-02-29 12:34:56.789 UTC, a leap day.
        assert_eq!(format_utc(951_827_696_789), "2000-02-29 12:34:56.789");
        assert_eq!(format_utc(1_795_000_000_000), "2026-11-18 11:06:40.000");
    }

    #[test]
    fn library_records_map_onto_redis_levels() {
        let cases = [
            (::log::Level::Error, Level::Warning),
            (::log::Level::Warn, Level::Warning),
            (::log::Level::Info, Level::Notice),
            (::log::Level::Debug, Level::Verbose),
            (::log::Level::Trace, Level::Debug),
        ];
        for (record, level) in cases {
            assert_eq!(Level::of_record(record), level, "{record}");
            assert!(
                record <= level.record_filter(),
                "{record} passes the filter of {level:?}"
            );
        }
        assert_eq!(Level::Nothing.record_filter(), ::log::LevelFilter::Off);
        assert_eq!(origin("kvcore::persist::wal::writer"), "kvcore");
        assert_eq!(origin("kvcore"), "kvcore");
    }

    #[test]
    fn parses_redis_level_names() {
        assert_eq!(Level::parse("NOTICE"), Some(Level::Notice));
        assert_eq!(Level::parse("warning"), Some(Level::Warning));
        assert_eq!(Level::parse("loud"), None);
        assert!(Level::Debug < Level::Warning);
    }
}
