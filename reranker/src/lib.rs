//! Cross-encoder rerankers. Filled in by the reranker issue.
