//! Geo: positions kept as sorted-set scores, as Redis keeps them.
//!
//! A position is a 52-bit geohash: the longitude (-180..180) and the latitude (-85.05112878..
//! 85.05112878, the Web Mercator limits) each cut into 2^26 steps, their bits interleaved
//! (latitude on the even bits, longitude on the odd ones), stored as the member's score. A
//! score decodes to the centre of its cell, which is what GEOPOS reports. Searches cover the
//! search shape with the cell holding the centre and its eight neighbours, at a precision
//! chosen from the radius, and scan each cell's score range. Every step does Redis's floating
//! point operations in Redis's order, so scores, positions and distances agree bit for bit.

/// Bits per coordinate: 26 each, 52 in all.
pub(crate) const STEP_MAX: u8 = 26;
/// Redis's latitude limits (EPSG:900913).
pub(crate) const LAT_MIN: f64 = -85.05112878;
/// See [`LAT_MIN`].
pub(crate) const LAT_MAX: f64 = 85.05112878;
pub(crate) const LONG_MIN: f64 = -180.0;
pub(crate) const LONG_MAX: f64 = 180.0;

/// Redis's quadratic mean radius of the earth, in metres.
const EARTH_RADIUS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
/// Degrees to radians, computed as C computes `M_PI / 180.0`.
const D_R: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// A geohash of `step` bits per coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hash {
    bits: u64,
    step: u8,
}

impl Hash {
    /// Redis's "zero" hash: an excluded neighbour.
    const ZERO: Hash = Hash { bits: 0, step: 0 };

    fn is_zero(self) -> bool {
        self == Hash::ZERO
    }

    /// The hash shifted to 52 bits: the lowest score of its cell.
    fn align52(self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }
}

#[derive(Debug, Clone, Copy)]
struct Range {
    min: f64,
    max: f64,
}

const LONG_RANGE: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// A decoded cell: its bounds.
#[derive(Debug, Clone, Copy)]
struct Area {
    lon: Range,
    lat: Range,
}

/// Spreads the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// The inverse of [`spread`]: the even bits of `v`, packed.
fn squeeze(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Encodes a position in the given ranges; None outside Redis's limits or the ranges.
fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Hash> {
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let cells = (1u64 << step) as f64;
    let lat_offset = (lat - lat_r.min) / (lat_r.max - lat_r.min) * cells;
    let lon_offset = (lon - lon_r.min) / (lon_r.max - lon_r.min) * cells;
    // As C's conversion to uint32_t: truncation (the offsets are in 0..=2^step).
    Some(Hash {
        bits: spread(lat_offset as u32) | (spread(lon_offset as u32) << 1),
        step,
    })
}

fn decode(lon_r: Range, lat_r: Range, hash: Hash) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let lat_cell = squeeze(hash.bits);
    let lon_cell = squeeze(hash.bits >> 1);
    let cells = (1u64 << hash.step) as f64;
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    let at = |min: f64, cell: u32, scale: f64| min + (f64::from(cell) / cells) * scale;
    Some(Area {
        lat: Range {
            min: at(lat_r.min, lat_cell, lat_scale),
            max: at(lat_r.min, lat_cell.wrapping_add(1), lat_scale),
        },
        lon: Range {
            min: at(lon_r.min, lon_cell, lon_scale),
            max: at(lon_r.min, lon_cell.wrapping_add(1), lon_scale),
        },
    })
}

/// The centre of a cell, clamped to the limits.
fn centre(area: &Area) -> (f64, f64) {
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The score GEOADD stores for a position; None outside Redis's limits (the "invalid
/// longitude,latitude pair" error).
pub(crate) fn score(lon: f64, lat: f64) -> Option<f64> {
    let hash = encode(LONG_RANGE, LAT_RANGE, lon, lat, STEP_MAX)?;
    Some(hash.align52() as f64)
}

/// Whether a position is within Redis's limits.
pub(crate) fn valid(lon: f64, lat: f64) -> bool {
    (LONG_MIN..=LONG_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// The position (longitude, latitude) a score stands for: its cell's centre. None for a
/// score Redis cannot decode (0).
pub(crate) fn position(score: f64) -> Option<(f64, f64)> {
    let hash = Hash {
        bits: c_u64(score),
        step: STEP_MAX,
    };
    decode(LONG_RANGE, LAT_RANGE, hash).map(|a| centre(&a))
}

/// C's `(uint64_t)d` as x86-64 computes it, which is what Redis decodes a score with: a
/// negative score wraps (-5 becomes 2^64 - 5), and values C leaves undefined give what the
/// conversion instructions give.
fn c_u64(d: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    // `cvttsd2si`: truncation, and 2^63 for NaN and out-of-range values.
    let cvt = |v: f64| {
        if v.is_nan() || !(-TWO_63..TWO_63).contains(&v) {
            1u64 << 63
        } else {
            v as i64 as u64
        }
    };
    if d >= TWO_63 {
        cvt(d - TWO_63) ^ (1 << 63)
    } else {
        cvt(d)
    }
}

/// The standard 11-character geohash of a score (GEOHASH): the position re-encoded with
/// latitude range -90..90; the 11th character is always `0`, as in Redis.
pub(crate) fn hash_text(score: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = position(score)?;
    let world = Range {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode(LONG_RANGE, world, lon, lat, STEP_MAX).map_or(0, |h| h.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    Some(out)
}

/// Metres along a meridian between two latitudes.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The haversine distance in metres between two positions, as Redis computes it.
pub(crate) fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

/// A search area: a circle or an axis-aligned box around a centre. Sizes are in the unit
/// `to_meters` converts from, as the user gave them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeoShape {
    /// BYRADIUS radius.
    Radius(f64),
    /// BYBOX width height.
    Box(f64, f64),
}

/// A search: its centre, shape and unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Search {
    pub(crate) lon: f64,
    pub(crate) lat: f64,
    pub(crate) shape: GeoShape,
    /// Metres per unit.
    pub(crate) to_meters: f64,
}

/// Redis's estimate of the cell precision for a radius (`geohashEstimateStepsByRadius`).
fn steps_for(range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut range = range_meters;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// Moves a hash one cell east (`d > 0`) or west along the longitude bits.
fn move_x(h: &mut Hash, d: i8) {
    let bits = u32::from(h.step) * 2;
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> (64 - bits);
    let x = if d > 0 {
        x.wrapping_add(zz + 1)
    } else {
        (x | zz).wrapping_sub(zz + 1)
    };
    h.bits = (x & (0xaaaa_aaaa_aaaa_aaaau64 >> (64 - bits))) | y;
}

/// Moves a hash one cell north (`d > 0`) or south along the latitude bits.
fn move_y(h: &mut Hash, d: i8) {
    let bits = u32::from(h.step) * 2;
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - bits);
    let y = if d > 0 {
        y.wrapping_add(zz + 1)
    } else {
        (y | zz).wrapping_sub(zz + 1)
    };
    h.bits = x | (y & (0x5555_5555_5555_5555u64 >> (64 - bits)));
}

fn moved(h: Hash, dx: i8, dy: i8) -> Hash {
    let mut n = h;
    if dx != 0 {
        move_x(&mut n, dx);
    }
    if dy != 0 {
        move_y(&mut n, dy);
    }
    n
}

impl Search {
    /// The bounding box: (min lon, min lat, max lon, max lat).
    fn bounds(&self) -> [f64; 4] {
        let (height, width) = match self.shape {
            GeoShape::Radius(r) => (self.to_meters * r, self.to_meters * r),
            GeoShape::Box(w, h) => (self.to_meters * (h / 2.0), self.to_meters * (w / 2.0)),
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS);
        let lon_delta_top = rad_deg(width / EARTH_RADIUS / deg_rad(self.lat + lat_delta).cos());
        let lon_delta_bottom = rad_deg(width / EARTH_RADIUS / deg_rad(self.lat - lat_delta).cos());
        let lon_delta = if self.lat < 0.0 {
            lon_delta_bottom
        } else {
            lon_delta_top
        };
        [
            self.lon - lon_delta,
            self.lat - lat_delta,
            self.lon + lon_delta,
            self.lat + lat_delta,
        ]
    }

    /// The cells to scan, in Redis's order (centre, N, S, E, W, NE, NW, SE, SW), excluded
    /// ones zero.
    fn cells(&self) -> [Hash; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius = match self.shape {
            GeoShape::Radius(r) => r,
            GeoShape::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
        } * self.to_meters;
        let mut steps = steps_for(radius, self.lat);
        // The centre is within the limits (checked when it was parsed or decoded).
        let at = |steps: u8| {
            let hash =
                encode(LONG_RANGE, LAT_RANGE, self.lon, self.lat, steps).unwrap_or(Hash::ZERO);
            (hash, decode(LONG_RANGE, LAT_RANGE, hash))
        };
        let (mut hash, mut area) = at(steps);
        let dec = |h: Hash| decode(LONG_RANGE, LAT_RANGE, h);
        let too_coarse = {
            let north = dec(moved(hash, 0, 1));
            let south = dec(moved(hash, 0, -1));
            let east = dec(moved(hash, 1, 0));
            let west = dec(moved(hash, -1, 0));
            north.is_some_and(|a| a.lat.max < max_lat)
                || south.is_some_and(|a| a.lat.min > min_lat)
                || east.is_some_and(|a| a.lon.max < max_lon)
                || west.is_some_and(|a| a.lon.min > min_lon)
        };
        if steps > 1 && too_coarse {
            steps -= 1;
            (hash, area) = at(steps);
        }
        let mut n = [
            hash,
            moved(hash, 0, 1),
            moved(hash, 0, -1),
            moved(hash, 1, 0),
            moved(hash, -1, 0),
            moved(hash, 1, 1),
            moved(hash, -1, 1),
            moved(hash, 1, -1),
            moved(hash, -1, -1),
        ];
        const N: usize = 1;
        const S: usize = 2;
        const E: usize = 3;
        const W: usize = 4;
        const NE: usize = 5;
        const NW: usize = 6;
        const SE: usize = 7;
        const SW: usize = 8;
        if steps >= 2
            && let Some(area) = area
        {
            let mut zero = |ids: [usize; 3]| ids.iter().for_each(|&i| n[i] = Hash::ZERO);
            if area.lat.min < min_lat {
                zero([S, SW, SE]);
            }
            if area.lat.max > max_lat {
                zero([N, NE, NW]);
            }
            if area.lon.min < min_lon {
                zero([W, SW, NW]);
            }
            if area.lon.max > max_lon {
                zero([E, SE, NE]);
            }
        }
        n
    }

    /// The half-open score ranges to scan, in Redis's order: the cells not excluded, each
    /// skipped when it equals the last one scanned (huge radii make neighbours coincide).
    /// As in Redis, the centre cell is never compared: the index of the last scanned cell
    /// starts at 0, which Redis reads as "none yet".
    pub(crate) fn ranges(&self) -> Vec<(f64, f64)> {
        let cells = self.cells();
        let mut out = Vec::with_capacity(9);
        let mut last = 0;
        for (i, &h) in cells.iter().enumerate() {
            if h.is_zero() || (last != 0 && cells[last] == h) {
                continue;
            }
            let next = Hash {
                bits: h.bits + 1,
                step: h.step,
            };
            out.push((h.align52() as f64, next.align52() as f64));
            last = i;
        }
        out
    }

    /// The distance from the centre, in metres, of a member at `score` if it lies within the
    /// shape, with its decoded position.
    pub(crate) fn within(&self, score: f64) -> Option<(f64, f64, f64)> {
        let (lon, lat) = position(score)?;
        match self.shape {
            GeoShape::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.to_meters).then_some((d, lon, lat))
            }
            GeoShape::Box(w, h) => {
                let (width, height) = (w * self.to_meters, h * self.to_meters);
                if lat_distance(lat, self.lat) > height / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > width / 2.0 {
                    return None;
                }
                Some((distance(self.lon, self.lat, lon, lat), lon, lat))
            }
        }
    }
}

/// A distance as GEODIST and WITHDIST print it: rounded to 4 decimals (`llrint`, ties to
/// even), fixed notation.
pub(crate) fn format_distance(d: f64) -> String {
    let scaled = (d * 10000.0).round_ties_even();
    // Distances are finite and far below 2^63 / 10^4 metres in any unit.
    let v = scaled as i64;
    let (neg, v) = (v < 0, v.unsigned_abs());
    format!(
        "{}{}.{:04}",
        if neg { "-" } else { "" },
        v / 10000,
        v % 10000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LongDouble;

    fn human(v: f64) -> String {
        LongDouble::from(v).format_human()
    }

    /// Scores, positions and hashes as redis-server 7.0.15 gave them for GEOADD / ZSCORE /
    /// GEOPOS / GEOHASH.
    #[test]
    fn encode_and_decode_as_redis() {
        let cases: &[(f64, f64, f64, &str, &str, &str)] = &[
            (
                13.361389,
                38.115556,
                3479099956230698.0,
                "13.36138933897018433",
                "38.11555639549629859",
                "sqc8b49rny0",
            ),
            (
                15.087269,
                37.502669,
                3479447370796909.0,
                "15.08726745843887329",
                "37.50266842333162032",
                "sqdtr74hyu0",
            ),
        ];
        for &(lon, lat, want_score, want_lon, want_lat, want_hash) in cases {
            let s = score(lon, lat).expect("in range");
            assert_eq!(s, want_score);
            let (dlon, dlat) = position(s).expect("decodes");
            assert_eq!(
                (human(dlon), human(dlat)),
                (want_lon.into(), want_lat.into())
            );
            assert_eq!(&hash_text(s).expect("decodes"), want_hash.as_bytes());
        }
    }

    #[test]
    fn limits() {
        assert!(score(180.0, LAT_MAX).is_some());
        assert!(score(-180.0, LAT_MIN).is_some());
        assert!(score(180.0000001, 0.0).is_none());
        assert!(score(0.0, 85.05112879).is_none());
        assert!(score(f64::INFINITY, 0.0).is_none());
        // The corner cells clamp to the limits.
        let (lon, lat) = position(score(180.0, LAT_MAX).unwrap()).unwrap();
        assert_eq!((lon, lat), (180.0, LAT_MAX));
    }

    #[test]
    fn c_conversion_of_odd_scores() {
        assert_eq!(c_u64(-5.0), u64::MAX - 4);
        assert_eq!(c_u64(4503599627370496.0), 1 << 52);
        assert_eq!(c_u64(1.5), 1);
        assert_eq!(c_u64(f64::INFINITY), 0);
        assert_eq!(c_u64(1e19), 10_000_000_000_000_000_000);
    }

    #[test]
    fn spread_and_squeeze_invert() {
        for v in [0u32, 1, 0x3ff_ffff, 0xdead_beef, u32::MAX] {
            assert_eq!(squeeze(spread(v)), v);
            assert_eq!(spread(v) & 0xaaaa_aaaa_aaaa_aaaa, 0);
        }
    }

    #[test]
    fn distances_as_redis_prints_them() {
        let (p, c) = (
            position(3479099956230698.0).unwrap(),
            position(3479447370796909.0).unwrap(),
        );
        let d = distance(p.0, p.1, c.0, c.1);
        assert_eq!(format_distance(d), "166274.1516");
        assert_eq!(format_distance(d / 1000.0), "166.2742");
        assert_eq!(format_distance(d / 1609.34), "103.3182");
        assert_eq!(format_distance(d / 0.3048), "545518.8700");
        assert_eq!(format_distance(0.0), "0.0000");
        assert_eq!(format_distance(0.00005), "0.0000"); // ties to even, as llrint
        // Same longitude: the meridian shortcut.
        assert_eq!(distance(10.0, 0.0, 10.0, 1.0), lat_distance(0.0, 1.0));
    }

    #[test]
    fn search_cells_cover_the_centre() {
        let s = Search {
            lon: 15.0,
            lat: 37.0,
            shape: GeoShape::Radius(200.0),
            to_meters: 1000.0,
        };
        let centre = score(15.0, 37.0).unwrap();
        let ranges = s.ranges();
        assert!(!ranges.is_empty() && ranges.len() <= 9);
        assert!(ranges[0].0 <= centre && centre < ranges[0].1);
        let c = score(15.087269, 37.502669).unwrap();
        assert!(
            s.within(c)
                .is_some_and(|(d, _, _)| (d - 56441.2579).abs() < 0.01)
        );
        assert!(s.within(score(13.361389, 38.115556).unwrap()).is_some());
        assert!(s.within(score(0.0, 0.0).unwrap()).is_none());
    }
}
