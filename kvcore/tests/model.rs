//! Random operation sequences against the store and a plain `HashMap` model, with a manual
//! clock that moves between operations; the two are compared after every step.

use std::collections::HashMap;
use std::time::Duration;

use kvcore::{Error, ExpireCondition, SetExpiry, SetOptions, Store, Ttl};
use proptest::prelude::*;

use crate::{T0, store};

const KEYS: [&str; 4] = ["a", "b", "c", "d"];
const VALUES: [&str; 5] = [
    "",
    "1",
    "x",
    "-5",
    "a value that is longer than thirty bytes!",
];

#[derive(Debug, Clone)]
enum Op {
    Set(usize, usize),
    SetPx(usize, usize, u64),
    SetNx(usize, usize),
    Get(usize),
    GetDel(usize),
    Del(Vec<usize>),
    Incr(usize),
    Append(usize, usize),
    Pexpire(usize, i64),
    Persist(usize),
    Rename(usize, usize),
    Copy(usize, usize, bool),
    MSetNx(Vec<(usize, usize)>),
    Advance(u64),
    ActiveExpire,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..KEYS.len();
    let v = 0..VALUES.len();
    prop_oneof![
        (k.clone(), v.clone()).prop_map(|(k, v)| Op::Set(k, v)),
        (k.clone(), v.clone(), 1..2000u64).prop_map(|(k, v, ms)| Op::SetPx(k, v, ms)),
        (k.clone(), v.clone()).prop_map(|(k, v)| Op::SetNx(k, v)),
        k.clone().prop_map(Op::Get),
        k.clone().prop_map(Op::GetDel),
        proptest::collection::vec(k.clone(), 0..4).prop_map(Op::Del),
        k.clone().prop_map(Op::Incr),
        (k.clone(), v.clone()).prop_map(|(k, v)| Op::Append(k, v)),
        (k.clone(), -100..2000i64).prop_map(|(k, ms)| Op::Pexpire(k, ms)),
        k.clone().prop_map(Op::Persist),
        (k.clone(), k.clone()).prop_map(|(a, b)| Op::Rename(a, b)),
        (k.clone(), k.clone(), any::<bool>()).prop_map(|(a, b, r)| Op::Copy(a, b, r)),
        proptest::collection::vec((k.clone(), v), 1..3).prop_map(Op::MSetNx),
        (0..1500u64).prop_map(Op::Advance),
        Just(Op::ActiveExpire),
    ]
}

/// What an operation answered, in one comparable shape.
#[derive(Debug, PartialEq)]
enum Out {
    Unit,
    Bool(bool),
    Bytes(Option<Vec<u8>>),
    Int(i64),
    Len(usize),
    Count(u64),
}

#[derive(Default)]
struct Model {
    map: HashMap<Vec<u8>, (Vec<u8>, Option<u64>)>,
    now: u64,
}

impl Model {
    fn purge(&mut self) {
        let now = self.now;
        self.map.retain(|_, (_, at)| at.is_none_or(|at| at > now));
    }

    fn apply(&mut self, op: &Op) -> Result<Out, Error> {
        self.purge();
        let key = |i: usize| KEYS[i].as_bytes().to_vec();
        let val = |i: usize| VALUES[i].as_bytes().to_vec();
        Ok(match *op {
            Op::Set(k, v) => {
                self.map.insert(key(k), (val(v), None));
                Out::Unit
            }
            Op::SetPx(k, v, ms) => {
                self.map.insert(key(k), (val(v), Some(self.now + ms)));
                Out::Unit
            }
            Op::SetNx(k, v) => {
                let fresh = !self.map.contains_key(&key(k));
                if fresh {
                    self.map.insert(key(k), (val(v), None));
                }
                Out::Bool(fresh)
            }
            Op::Get(k) => Out::Bytes(self.map.get(&key(k)).map(|(v, _)| v.clone())),
            Op::GetDel(k) => Out::Bytes(self.map.remove(&key(k)).map(|(v, _)| v)),
            Op::Del(ref ks) => Out::Count(
                ks.iter()
                    .filter(|&&k| self.map.remove(&key(k)).is_some())
                    .count() as u64,
            ),
            Op::Incr(k) => {
                let (old, at) = self
                    .map
                    .get(&key(k))
                    .cloned()
                    .unwrap_or((b"0".to_vec(), None));
                let text = String::from_utf8(old).map_err(|_| Error::NotInteger)?;
                let n: i64 = text.parse().map_err(|_| Error::NotInteger)?;
                if n.to_string() != text {
                    return Err(Error::NotInteger);
                }
                let n = n.checked_add(1).ok_or(Error::Overflow)?;
                self.map.insert(key(k), (n.to_string().into_bytes(), at));
                Out::Int(n)
            }
            Op::Append(k, v) => {
                let e = self.map.entry(key(k)).or_insert((Vec::new(), None));
                e.0.extend_from_slice(&val(v));
                Out::Len(e.0.len())
            }
            Op::Pexpire(k, ms) => match self.map.get_mut(&key(k)) {
                None => Out::Bool(false),
                Some(_) if ms <= 0 => {
                    self.map.remove(&key(k));
                    Out::Bool(true)
                }
                Some(e) => {
                    e.1 = Some(self.now + ms as u64);
                    Out::Bool(true)
                }
            },
            Op::Persist(k) => match self.map.get_mut(&key(k)) {
                Some(e) if e.1.is_some() => {
                    e.1 = None;
                    Out::Bool(true)
                }
                _ => Out::Bool(false),
            },
            Op::Rename(a, b) => {
                let e = self.map.remove(&key(a)).ok_or(Error::NoSuchKey)?;
                self.map.insert(key(b), e);
                Out::Unit
            }
            Op::Copy(a, b, replace) => {
                if a == b {
                    return Err(Error::SameObject);
                }
                match self.map.get(&key(a)).cloned() {
                    Some(e) if replace || !self.map.contains_key(&key(b)) => {
                        self.map.insert(key(b), e);
                        Out::Bool(true)
                    }
                    _ => Out::Bool(false),
                }
            }
            Op::MSetNx(ref pairs) => {
                if pairs.iter().any(|&(k, _)| self.map.contains_key(&key(k))) {
                    Out::Bool(false)
                } else {
                    for &(k, v) in pairs {
                        self.map.insert(key(k), (val(v), None));
                    }
                    Out::Bool(true)
                }
            }
            Op::Advance(ms) => {
                self.now += ms;
                Out::Unit
            }
            Op::ActiveExpire => Out::Unit,
        })
    }
}

fn run(
    db: &kvcore::Db,
    kv: &kvcore::Kv,
    clock: &kvcore::ManualClock,
    op: &Op,
) -> Result<Out, Error> {
    let key = |i: usize| KEYS[i];
    let val = |i: usize| VALUES[i];
    Ok(match *op {
        Op::Set(k, v) => db.set(key(k), val(v)).map(|()| Out::Unit)?,
        Op::SetPx(k, v, ms) => {
            let opts = SetOptions::new().expiry(SetExpiry::Px(ms as i64));
            db.set_with(key(k), val(v), &opts).map(|_| Out::Unit)?
        }
        Op::SetNx(k, v) => Out::Bool(db.setnx(key(k), val(v))?),
        Op::Get(k) => Out::Bytes(db.get(key(k))?),
        Op::GetDel(k) => Out::Bytes(db.getdel(key(k))?),
        Op::Del(ref ks) => Out::Count(db.del(&ks.iter().map(|&k| key(k)).collect::<Vec<_>>())?),
        Op::Incr(k) => Out::Int(db.incr(key(k))?),
        Op::Append(k, v) => Out::Len(db.append(key(k), val(v))?),
        Op::Pexpire(k, ms) => Out::Bool(db.pexpire(key(k), ms, ExpireCondition::None)?),
        Op::Persist(k) => Out::Bool(db.persist(key(k))?),
        Op::Rename(a, b) => db.rename(key(a), key(b)).map(|()| Out::Unit)?,
        Op::Copy(a, b, r) => Out::Bool(db.copy(key(a), key(b), None, r)?),
        Op::MSetNx(ref pairs) => {
            let pairs: Vec<_> = pairs.iter().map(|&(k, v)| (key(k), val(v))).collect();
            Out::Bool(db.msetnx(&pairs)?)
        }
        Op::Advance(ms) => {
            clock.advance(ms);
            Out::Unit
        }
        Op::ActiveExpire => {
            kv.active_expire_cycle(50);
            Out::Unit
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn store_matches_hashmap_model(ops in proptest::collection::vec(op(), 1..40)) {
        let (kv, db, clock) = store();
        let mut model = Model { now: T0, ..Model::default() };
        for (step, op) in ops.iter().enumerate() {
            let expected = model.apply(op);
            let got = run(&db, &kv, &clock, op);
            prop_assert_eq!(&got, &expected, "step {} {:?}", step, op);
            model.purge();
            for k in KEYS {
                let m = model.map.get(k.as_bytes());
                prop_assert_eq!(db.get(k).unwrap(), m.map(|(v, _)| v.clone()), "value of {} after step {} {:?}", k, step, op);
                let pttl = match m {
                    None => Ttl::Missing,
                    Some((_, None)) => Ttl::Persistent,
                    Some((_, Some(at))) => Ttl::ExpiresIn(Duration::from_millis(at - model.now)),
                };
                prop_assert_eq!(db.pttl(k), pttl, "pttl of {} after step {} {:?}", k, step, op);
            }
            let mut keys = db.keys("*");
            keys.sort();
            let mut mkeys: Vec<_> = model.map.keys().cloned().collect();
            mkeys.sort();
            prop_assert_eq!(keys, mkeys);
        }
    }
}
