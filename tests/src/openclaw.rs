//! The real OpenClaw on a test host (placeholder, filled in next).
