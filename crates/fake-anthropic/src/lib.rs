//! A local fake of the Anthropic API (see ../shared/reference/anthropic-api.md §1.8).
