#pragma once
/// Persisted GraphQL documents: automatic persisted queries (the Apollo protocol: a client
/// names a document by the SHA-256 of its text in `extensions.persistedQuery`) and the
/// allowlist of a deployment that runs no ad-hoc documents.

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace psvc::graphql {
struct PreparedDocument;
}

namespace psvc::api {

class GraphqlApi;

/// A document a client may name by hash: its text, parsed and validated once.
struct PersistedDocument {
  std::string text;
  std::shared_ptr<const graphql::PreparedDocument> prepared;
};

/// Lower-case hex SHA-256 of `text` (OpenSSL).
std::string Sha256Hex(std::string_view text);

/// Documents by hash: an allowlist loaded at start (never evicted) and the documents clients
/// registered (least recently used dropped beyond `max_registered`). Thread-safe.
class PersistedQueryStore {
 public:
  explicit PersistedQueryStore(size_t max_registered);

  /// Loads every regular file of `dir` as an allowed document (hash: SHA-256 of the file's
  /// bytes), prepared by `api`. Throws std::runtime_error naming the file when one cannot be
  /// read or is not a valid document of the schema, or when `dir` is not a readable folder.
  void LoadAllowlist(const std::string& dir, const GraphqlApi& api);

  /// The document with this hash (allowlisted or registered), or nullptr.
  std::shared_ptr<const PersistedDocument> Find(const std::string& hash);
  /// Whether `hash` is on the allowlist.
  bool Allowed(const std::string& hash) const;
  /// Keeps a client's document under its (already checked) hash.
  void Register(const std::string& hash, std::shared_ptr<const PersistedDocument> document);

  size_t allowlisted() const { return allowlist_.size(); }
  size_t registered() const;

 private:
  size_t max_registered_;
  std::unordered_map<std::string, std::shared_ptr<const PersistedDocument>> allowlist_;
  mutable std::mutex mu_;
  using Entry = std::pair<std::string, std::shared_ptr<const PersistedDocument>>;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace psvc::api
