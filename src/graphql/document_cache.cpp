#include "graphql/document_cache.h"

namespace psvc::graphql {

DocumentCache::DocumentCache(size_t max_entries, size_t max_text_bytes)
    : max_entries_(max_entries), max_text_bytes_(max_text_bytes) {}

std::shared_ptr<const PreparedDocument> DocumentCache::Find(std::string_view text) {
  if (max_entries_ == 0 || text.size() > max_text_bytes_) return nullptr;
  std::lock_guard lock(mu_);
  auto it = index_.find(text);
  if (it == index_.end()) return nullptr;
  entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->document;
}

void DocumentCache::Insert(std::string_view text,
                           std::shared_ptr<const PreparedDocument> document) {
  if (max_entries_ == 0 || text.size() > max_text_bytes_) return;
  std::lock_guard lock(mu_);
  if (index_.contains(text)) return;  // another request prepared it meanwhile
  entries_.push_front(Entry{std::string(text), std::move(document)});
  index_.emplace(entries_.front().text, entries_.begin());
  while (entries_.size() > max_entries_) {
    index_.erase(entries_.back().text);
    entries_.pop_back();
  }
}

size_t DocumentCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace psvc::graphql
