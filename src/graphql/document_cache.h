#pragma once
/// Parsed and validated documents by query text, shared between requests: clients send the same
/// few documents over and over, and parsing plus validation were ~2% of the GraphQL server's
/// CPU on typeahead (docs/benchmarks.md, GraphQL API).

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graphql/error.h"
#include "graphql/parser.h"

namespace psvc::graphql {

/// A document as the engine needs it before execution: parsed (or the parse error) and, when
/// it parsed, its validation errors against the engine's schema and options. Immutable.
struct PreparedDocument {
  ParseResult parsed;
  std::vector<Error> validation_errors;
};

/// Least-recently-used cache of prepared documents, bounded by entries; thread-safe.
class DocumentCache {
 public:
  /// `max_entries` 0 disables caching; texts longer than `max_text_bytes` are never kept.
  DocumentCache(size_t max_entries, size_t max_text_bytes);

  std::shared_ptr<const PreparedDocument> Find(std::string_view text);
  void Insert(std::string_view text, std::shared_ptr<const PreparedDocument> document);
  size_t size() const;

 private:
  struct Entry {
    std::string text;
    std::shared_ptr<const PreparedDocument> document;
  };
  size_t max_entries_;
  size_t max_text_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // views Entry::text
};

}  // namespace psvc::graphql
