#include "graphql_api/persisted_queries.h"

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "graphql_api/graphql_api.h"
#include "graphql/document_cache.h"

namespace psvc::api {

std::string Sha256Hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

PersistedQueryStore::PersistedQueryStore(size_t max_registered) : max_registered_(max_registered) {}

void PersistedQueryStore::LoadAllowlist(const std::string& dir, const GraphqlApi& api) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec)
    throw std::runtime_error("persisted documents: cannot read folder " + dir + ": " +
                             ec.message());
  for (const auto& entry : it) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) throw std::runtime_error("persisted documents: cannot read " + entry.path().string());
    auto document = std::make_shared<PersistedDocument>();
    document->text = text.str();
    document->prepared = api.Prepare(document->text);
    const auto& prepared = *document->prepared;
    std::string why = prepared.parsed.error                ? prepared.parsed.error->message
                      : prepared.validation_errors.empty() ? std::string()
                                                           : prepared.validation_errors[0].message;
    if (!why.empty()) {
      throw std::runtime_error("persisted documents: " + entry.path().string() + ": " + why);
    }
    allowlist_[Sha256Hex(document->text)] = std::move(document);
  }
}

std::shared_ptr<const PersistedDocument> PersistedQueryStore::Find(const std::string& hash) {
  if (auto it = allowlist_.find(hash); it != allowlist_.end()) return it->second;
  std::lock_guard lock(mu_);
  auto it = index_.find(hash);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

bool PersistedQueryStore::Allowed(const std::string& hash) const {
  return allowlist_.contains(hash);
}

void PersistedQueryStore::Register(const std::string& hash,
                                   std::shared_ptr<const PersistedDocument> document) {
  if (max_registered_ == 0 || allowlist_.contains(hash)) return;
  std::lock_guard lock(mu_);
  if (auto it = index_.find(hash); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(hash, std::move(document));
  index_[hash] = lru_.begin();
  if (lru_.size() > max_registered_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

size_t PersistedQueryStore::registered() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace psvc::api
