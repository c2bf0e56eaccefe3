//! The apply engine: a pure dispatcher that decides which step of which
//! server may start, and an executor that performs steps against the cloud.
