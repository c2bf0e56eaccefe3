//! Output formats for plans and reports: text, markdown, JSON.
