//! The container data types (lists, hashes, sets, sorted sets) as plain data structures.
// Wired into the store by issue 6; until then nothing outside this module uses them.
#![allow(dead_code)]
