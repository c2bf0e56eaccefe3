//! Observation: reads the cloud in bulk (paginated list calls) into a
//! [`crate::plan::inventory::Inventory`] for the pure planner.
