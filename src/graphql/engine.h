#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "graphql/document_cache.h"
#include "graphql/executor.h"
#include "graphql/parser.h"
#include "graphql/schema.h"
#include "graphql/validator.h"

namespace psvc::graphql {

/// Limits and switches for the whole pipeline.
struct EngineOptions {
  ParseOptions parse;
  ValidationOptions validation;         // validation.introspection also gates execution of __schema
  size_t document_cache_entries = 512;  // prepared documents kept by query text; 0: none
  size_t document_cache_max_bytes = 16 * 1024;  // longer query texts are prepared every time
};

/// One GraphQL request as it arrives over HTTP.
struct EngineRequest {
  std::string_view query;
  std::string_view operation_name;
  std::string_view variables_json;             // JSON object text, or empty
  const ValueMap* variables = nullptr;         // alternative to variables_json, already decoded
  void* context = nullptr;                     // handed to every resolver
  const PreparedDocument* prepared = nullptr;  // `query` from Engine::Prepare, or nullptr
  const Value* root_value = nullptr;           // subscription events: the event
};

/// The response body and whether execution started (false: parse/validation/variable errors).
struct EngineResponse {
  std::string json;
  bool has_data = false;
};

/// Parse + validate + execute against one schema; thread-safe (the schema is immutable, the
/// document cache locks).
class Engine {
 public:
  explicit Engine(std::shared_ptr<const Schema> schema, EngineOptions options = {});

  EngineResponse Execute(const EngineRequest& request) const;
  /// Parses and validates with this engine's limits, or finds the result of an earlier call
  /// with the same text; for a caller that looks at the document before executing it.
  std::shared_ptr<const PreparedDocument> Prepare(std::string_view query) const;

  const Schema& schema() const { return *schema_; }
  /// Documents parsed and validated so far (those found in the cache are not counted): shows
  /// that a cached or persisted document is not parsed again.
  uint64_t documents_prepared() const {
    return documents_prepared_.load(std::memory_order_relaxed);
  }
  const EngineOptions& options() const { return options_; }

 private:
  std::shared_ptr<const Schema> schema_;
  EngineOptions options_;
  std::unique_ptr<DocumentCache> cache_;
  mutable std::atomic<uint64_t> documents_prepared_{0};
};

}  // namespace psvc::graphql
