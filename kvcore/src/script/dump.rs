//! FUNCTION DUMP and FUNCTION RESTORE: every library in Redis's DUMP payload format (an
//! RDB function opcode and the library's code per library, then the RDB version and a
//! CRC-64), so payloads move between kv and Redis in both directions.

use std::collections::BTreeMap;

use super::engine::Engine;
use super::function::{Catalog, LOAD_TIMEOUT, Library, Policy, load_code, metadata};
use super::value::Value;
use crate::rdb;

fn err(text: impl Into<String>) -> Value {
    Value::Error(format!("ERR {}", text.into()).into_bytes())
}

/// The error for a part of the payload that does not decode.
fn failed(what: &'static str) -> impl Fn(rdb::Corrupt) -> Value {
    move |_| err(format!("Failed loading {what}"))
}

/// The libraries' code in a payload, in payload order. Libraries written by Redis 7.0's
/// release candidates (a name, an engine and a description apart from the code) get the
/// `#!<engine> name=<name>` line the current format carries.
fn codes(payload: &[u8]) -> Result<Vec<Vec<u8>>, Value> {
    rdb::open(payload).ok_or_else(|| err("DUMP payload version or checksum are wrong"))?;
    // Redis reads the items from the whole payload while more than the footer remains, so
    // an item may run into the footer (what it then finds decides the error).
    let mut r = rdb::Reader::new(payload);
    let mut out = Vec::new();
    while r.remaining() > 10 {
        match r.byte().map_err(failed("data type"))? {
            rdb::OPCODE_FUNCTION2 => out.push(r.string().map_err(failed("library payload"))?),
            rdb::OPCODE_FUNCTION => {
                let name = r.string().map_err(failed("library name"))?;
                let engine = r.string().map_err(failed("engine name"))?;
                let has_description = r.len().map_err(failed("library description indicator"))?;
                if has_description != 0 {
                    r.string().map_err(failed("library description"))?;
                }
                let code = r.string().map_err(failed("library blob"))?;
                out.push([b"#!", &engine[..], b" name=", &name, b"\n", &code].concat());
            }
            _ => return Err(err("given type is not a function")),
        }
    }
    Ok(out)
}

impl Engine {
    /// FUNCTION DUMP: every library, in name order, as a DUMP payload.
    pub fn function_dump(&self) -> Vec<u8> {
        let catalog = self.libraries.read();
        let mut out = Vec::new();
        for library in catalog.libraries.values() {
            out.push(rdb::OPCODE_FUNCTION2);
            rdb::put_string(&mut out, &library.code);
        }
        rdb::seal(&mut out);
        out
    }

    /// FUNCTION RESTORE: loads every library of a DUMP `payload` (Redis's or kv's) and, unless
    /// one fails or collides with what is loaded, calls `persist` with whether everything
    /// loaded before goes (`Policy::Flush`) and the libraries' names and code (to keep them),
    /// then installs them. Nothing changes if any step fails.
    ///
    /// # Errors
    /// Redis's error replies: a damaged payload, a library that does not compile or register,
    /// a library or function name that collides (with `Policy::Append`, or a function of a
    /// library not replaced), or `persist`'s.
    pub fn function_restore(
        &self,
        payload: &[u8],
        policy: Policy,
        persist: impl FnOnce(bool, &[(String, Vec<u8>)]) -> Result<(), Value>,
    ) -> Result<(), Value> {
        let codes = codes(payload)?;
        let (loader, catalog) = self.libraries.change();
        // Every library loads on its own first, as into an empty set of libraries.
        let mut loaded: Vec<(String, Library)> = Vec::new();
        let mut owners: BTreeMap<String, String> = BTreeMap::new();
        for code in codes {
            let (name, body) = metadata(&code)?;
            if loaded.iter().any(|(n, _)| *n == name) {
                return Err(err(format!("Library '{name}' already exists")));
            }
            let registered = load_code(&loader, body, Some(LOAD_TIMEOUT))?;
            if registered.is_empty() {
                return Err(err("No functions registered"));
            }
            for (function, _) in &registered {
                if owners.insert(function.clone(), name.clone()).is_some() {
                    return Err(err(format!("Function {function} already exists")));
                }
            }
            loaded.push((name, Library::new(code, registered)));
        }
        // Then they join what is loaded.
        let flush = policy == Policy::Flush;
        if !flush {
            for (name, _) in &loaded {
                if policy == Policy::Append && catalog.libraries.contains_key(name) {
                    return Err(err(format!("Library {name} already exists")));
                }
            }
            for function in owners.keys() {
                if let Some(owner) = catalog.index.get(function)
                    && !loaded.iter().any(|(n, _)| n == owner)
                {
                    return Err(err(format!("Function {function} already exists")));
                }
            }
        }
        let kept: Vec<(String, Vec<u8>)> = loaded
            .iter()
            .map(|(n, l)| (n.clone(), l.code.clone()))
            .collect();
        persist(flush, &kept)?;
        let mut next = if flush {
            catalog.cleared()
        } else {
            Catalog::clone(&catalog)
        };
        for (name, library) in loaded {
            next.insert(name, library);
        }
        self.libraries.publish(&loader, next);
        Ok(())
    }
}
