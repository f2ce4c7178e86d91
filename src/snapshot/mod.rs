//! The columnar store: Parquet tables written through Polars, atomically.
