//! Geo commands over sorted sets: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH and its STORE
//! form (GEORADIUS and GEORADIUSBYMEMBER are searches too). A position is its member's score
//! (see `types/geo.rs`); writes are sorted-set writes, journaled as ZADD's.

use crate::error::{Error, Result};
use crate::kv::Db;
use crate::ops::container::read;
use crate::ops::zset::{ZSetStore, store};
use crate::types::geo::{self, Search};
use crate::types::{ScoreRange, ZAddFlags, ZSet};

pub use crate::types::geo::GeoShape;

/// Where a search is centred.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeoFrom<'a> {
    /// FROMMEMBER (GEORADIUSBYMEMBER): the position of a member of the searched set.
    Member(&'a [u8]),
    /// FROMLONLAT (GEORADIUS): a longitude and a latitude.
    LonLat(f64, f64),
}

/// How search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GeoOrder {
    /// As found: cell by cell, each in score order (Redis's order without ASC/DESC).
    #[default]
    Unsorted,
    /// Nearest first.
    Asc,
    /// Farthest first.
    Desc,
}

/// A GEOSEARCH (or GEORADIUS) request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoQuery<'a> {
    from: GeoFrom<'a>,
    shape: GeoShape,
    to_meters: f64,
    order: GeoOrder,
    count: Option<(usize, bool)>,
    legacy: bool,
}

impl<'a> GeoQuery<'a> {
    /// A search around `from` within `shape`, whose sizes are in units of `to_meters` metres
    /// (1 for m, 1000 for km, 0.3048 for ft, 1609.34 for mi); distances come back in that unit.
    pub fn new(from: GeoFrom<'a>, shape: GeoShape, to_meters: f64) -> Self {
        GeoQuery {
            from,
            shape,
            to_meters,
            order: GeoOrder::Unsorted,
            count: None,
            legacy: false,
        }
    }

    /// Marks a GEORADIUS / GEORADIUSBYMEMBER search: its STORE form notifies
    /// `georadiusstore` rather than `geosearchstore`, as Redis does.
    pub fn legacy(mut self) -> Self {
        self.legacy = true;
        self
    }

    /// ASC / DESC.
    pub fn order(mut self, order: GeoOrder) -> Self {
        self.order = order;
        self
    }

    /// COUNT `n` (at least 1), with ANY when `any`: stop at the first `n` found instead of
    /// returning the `n` nearest. COUNT without ANY and without an order sorts nearest first,
    /// as Redis does.
    pub fn count(mut self, n: usize, any: bool) -> Self {
        self.count = Some((n.max(1), any));
        self
    }
}

/// A member found by a search.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoPoint {
    /// The member.
    pub member: Vec<u8>,
    /// Its distance from the centre, in the query's unit.
    pub distance: f64,
    /// Its score: the 52-bit geohash (WITHHASH).
    pub score: f64,
    /// Its longitude: the centre of its cell.
    pub longitude: f64,
    /// Its latitude: the centre of its cell.
    pub latitude: f64,
}

/// Whether `(longitude, latitude)` can be stored: longitude in -180..=180, latitude in
/// -85.05112878..=85.05112878 (Redis's limits).
pub fn geo_valid(longitude: f64, latitude: f64) -> bool {
    geo::valid(longitude, latitude)
}

/// A distance as Redis prints it (GEODIST, WITHDIST): 4 decimals, fixed notation.
pub fn format_distance(d: f64) -> String {
    geo::format_distance(d)
}

/// Geo operations over sorted sets, as Redis's commands.
///
/// Every method fails with [`Error::WrongType`] when the key holds something other than a
/// sorted set. Any sorted set works: a member whose score is not a valid geohash decodes to
/// wherever its bits point, as in Redis.
///
/// ```
/// use kvcore::{GeoFrom, GeoOrder, GeoQuery, GeoShape, GeoStore, Kv, Options, format_distance};
///
/// let db = Kv::in_memory(Options::default()).db(0)?;
/// let places = [(13.361389, 38.115556, "Palermo"), (15.087269, 37.502669, "Catania")];
/// assert_eq!(db.geoadd("sicily", &places, &Default::default())?, 2);
/// let d = db.geodist("sicily", "Palermo", "Catania")?.unwrap();
/// assert_eq!(format_distance(d / 1000.0), "166.2742");
/// let q = GeoQuery::new(GeoFrom::LonLat(15.0, 37.0), GeoShape::Radius(100.0), 1000.0)
///     .order(GeoOrder::Asc);
/// let near = db.geosearch("sicily", &q)?;
/// assert_eq!(near.len(), 1);
/// assert_eq!(near[0].member, b"Catania");
/// assert_eq!(db.geohash("sicily", &["Palermo"])?[0].as_deref(), Some(&b"sqc8b49rny0"[..]));
/// # Ok::<(), kvcore::Error>(())
/// ```
pub trait GeoStore {
    /// GEOADD: adds or updates members at `(longitude, latitude)`; `flags` may carry NX, XX
    /// and CH (the others are ignored). Returns how many members were added (with CH: added
    /// or moved).
    ///
    /// # Errors
    /// [`Error::InvalidCoordinates`] for a position outside Redis's limits (nothing is
    /// added), [`Error::IncompatibleOptions`] for NX with XX.
    fn geoadd<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        items: &[(f64, f64, M)],
        flags: &ZAddFlags,
    ) -> Result<usize>;
    /// GEOPOS: each member's (longitude, latitude), None for a missing one.
    fn geopos<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<Option<(f64, f64)>>>;
    /// GEODIST: the distance in metres between two members, None if either is missing.
    fn geodist(
        &self,
        key: impl AsRef<[u8]>,
        member1: impl AsRef<[u8]>,
        member2: impl AsRef<[u8]>,
    ) -> Result<Option<f64>>;
    /// GEOHASH: each member's 11-character standard geohash, None for a missing one.
    fn geohash<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<Option<Vec<u8>>>>;
    /// GEOSEARCH / GEORADIUS / GEORADIUSBYMEMBER: the members within the query's shape.
    /// A missing key has none.
    ///
    /// # Errors
    /// [`Error::NoSuchMember`] when the search is centred on a member the set lacks.
    fn geosearch(&self, key: impl AsRef<[u8]>, query: &GeoQuery<'_>) -> Result<Vec<GeoPoint>>;
    /// GEOSEARCHSTORE / the STORE and STOREDIST options: stores the result at `dst` as a
    /// sorted set, scored by geohash or, with `store_dist`, by distance (deleting `dst` when
    /// nothing is found); how many members it holds.
    ///
    /// # Errors
    /// As [`geosearch`](GeoStore::geosearch).
    fn geosearchstore(
        &self,
        dst: impl AsRef<[u8]>,
        src: impl AsRef<[u8]>,
        query: &GeoQuery<'_>,
        store_dist: bool,
    ) -> Result<usize>;
}

/// Runs `query` over `z` (Redis's `georadiusGeneric` after parsing).
fn search(z: &ZSet, query: &GeoQuery<'_>) -> Result<Vec<GeoPoint>> {
    let (lon, lat) = match query.from {
        GeoFrom::LonLat(lon, lat) => (lon, lat),
        GeoFrom::Member(m) => z
            .score(m)
            .and_then(geo::position)
            .ok_or(Error::NoSuchMember)?,
    };
    let s = Search {
        lon,
        lat,
        shape: query.shape,
        to_meters: query.to_meters,
    };
    let limit = match query.count {
        Some((n, true)) => n,
        _ => usize::MAX,
    };
    let mut found: Vec<GeoPoint> = Vec::new();
    'cells: for (min, max) in s.ranges() {
        if found.len() >= limit {
            break;
        }
        let range = ScoreRange::new(min, false, max, true);
        for (m, score) in z.range_by_score(&range, false, 0, -1) {
            if let Some((d, lon, lat)) = s.within(score) {
                found.push(GeoPoint {
                    member: m.to_vec(),
                    distance: d,
                    score,
                    longitude: lon,
                    latitude: lat,
                });
                if found.len() >= limit {
                    continue 'cells;
                }
            }
        }
    }
    let order = match (query.order, query.count) {
        (GeoOrder::Unsorted, Some((_, false))) => GeoOrder::Asc,
        (o, _) => o,
    };
    // Stable, as glibc's qsort (a merge sort) is for Redis's full sorts.
    match order {
        GeoOrder::Unsorted => {}
        GeoOrder::Asc => found.sort_by(|a, b| a.distance.total_cmp(&b.distance)),
        GeoOrder::Desc => found.sort_by(|a, b| b.distance.total_cmp(&a.distance)),
    }
    if let Some((n, _)) = query.count {
        found.truncate(n);
    }
    for p in &mut found {
        p.distance /= query.to_meters;
    }
    Ok(found)
}

impl GeoStore for Db {
    fn geoadd<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        items: &[(f64, f64, M)],
        flags: &ZAddFlags,
    ) -> Result<usize> {
        let flags = ZAddFlags {
            nx: flags.nx,
            xx: flags.xx,
            ch: flags.ch,
            ..ZAddFlags::default()
        };
        flags.validate(items.len())?;
        let pairs = items
            .iter()
            .map(|(lon, lat, m)| Ok((geo::score(*lon, *lat).ok_or(Error::InvalidCoordinates)?, m)))
            .collect::<Result<Vec<_>>>()?;
        self.zadd(key, &pairs, &flags)
    }

    fn geopos<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<Option<(f64, f64)>>> {
        read(self, key.as_ref(), |z: Option<&ZSet>| {
            members
                .iter()
                .map(|m| z.and_then(|z| z.score(m.as_ref())).and_then(geo::position))
                .collect()
        })
    }

    fn geodist(
        &self,
        key: impl AsRef<[u8]>,
        member1: impl AsRef<[u8]>,
        member2: impl AsRef<[u8]>,
    ) -> Result<Option<f64>> {
        let pos = self.geopos(key, &[member1.as_ref(), member2.as_ref()])?;
        Ok(match (pos[0], pos[1]) {
            (Some((lon1, lat1)), Some((lon2, lat2))) => Some(geo::distance(lon1, lat1, lon2, lat2)),
            _ => None,
        })
    }

    fn geohash<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        read(self, key.as_ref(), |z: Option<&ZSet>| {
            members
                .iter()
                .map(|m| {
                    let score = z.and_then(|z| z.score(m.as_ref()))?;
                    geo::hash_text(score).map(|h| h.to_vec())
                })
                .collect()
        })
    }

    fn geosearch(&self, key: impl AsRef<[u8]>, query: &GeoQuery<'_>) -> Result<Vec<GeoPoint>> {
        read(self, key.as_ref(), |z: Option<&ZSet>| match z {
            Some(z) => search(z, query),
            None => Ok(Vec::new()),
        })?
    }

    fn geosearchstore(
        &self,
        dst: impl AsRef<[u8]>,
        src: impl AsRef<[u8]>,
        query: &GeoQuery<'_>,
        store_dist: bool,
    ) -> Result<usize> {
        let (dst, src, d) = (dst.as_ref(), src.as_ref(), self.index);
        self.write_many(&[(d, src), (d, dst)], |locked| {
            let result = {
                let mut out = ZSet::new();
                if let Some(e) = locked.source(d, src) {
                    let z = <ZSet as crate::ops::container::Container>::of(&e.value)?;
                    for p in search(z, query)? {
                        let score = if store_dist { p.distance } else { p.score };
                        out.add(score, &p.member, &ZAddFlags::default())?;
                    }
                }
                out
            };
            let event = if query.legacy {
                "georadiusstore"
            } else {
                "geosearchstore"
            };
            store(&mut locked.slot(d, dst), result, event)
        })
    }
}
