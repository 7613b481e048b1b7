//! The test world shared by every end-to-end test: SSH test hosts, the fake API, CLI helpers.
