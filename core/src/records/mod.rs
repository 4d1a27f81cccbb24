//! Streaming record splitters (being written).
