//! kvproto: a sans-IO RESP2/RESP3 and inline protocol codec.
#![warn(missing_docs)]
