//! Inputs found by the fuzz targets (fuzz/), kept so the bugs stay fixed.
