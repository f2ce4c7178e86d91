//! Audits over ingested documents: each writes an attribute table keyed by document id and
//! records every document it drops with a reason. Audits never rewrite documents.
