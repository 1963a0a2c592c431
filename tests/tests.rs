//! End-to-end tests: the real `kvserver` binary on 127.0.0.1 (port 0), driven by the `redis`
//! crate and by raw RESP bytes.

mod e2e;
