//! integration.
