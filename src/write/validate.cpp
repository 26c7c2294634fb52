#include "write/validate.h"

#include <cmath>
#include <ctime>
#include <set>

#include "ids/uuid.h"

namespace psvc::write {

namespace {

/// Collects the first error; later checks are skipped once one failed.
class Checker {
 public:
  bool ok() const { return !error_; }
  std::optional<std::string> error() const { return error_; }

  void Fail(const std::string& path, const std::string& what) {
    if (!error_) error_ = path + ": " + what;
  }

  void Uuid(std::string& value, const std::string& path) {
    if (value.empty()) return Fail(path, "required (a UUID)");
    auto id = ids::CanonicalUuid(value);
    if (!id) return Fail(path, "not a UUID: " + ids::QuoteForMessage(value));
    value = *id;
  }

  void Text(const std::string& value, const std::string& path, size_t max, bool required) {
    if (required && value.find_first_not_of(" \t\r\n") == std::string::npos) {
      return Fail(path, "required (not blank)");
    }
    if (value.find('\0') != std::string::npos) return Fail(path, "contains a NUL character");
    // Length in characters, as the database counts them (UTF-8 continuation bytes skipped).
    size_t chars = 0;
    for (unsigned char c : value) chars += (c & 0xC0) != 0x80;
    if (chars > max) {
      Fail(path, "too long (" + std::to_string(chars) + " characters, at most " +
                     std::to_string(max) + ")");
    }
  }

  void OptText(const std::optional<std::string>& value, const std::string& path, size_t max) {
    if (value) Text(*value, path, max, false);
  }

  void OneOf(const std::string& value, const std::string& path,
             std::initializer_list<const char*> allowed) {
    for (const char* a : allowed) {
      if (value == a) return;
    }
    std::string list;
    for (const char* a : allowed) list += std::string(list.empty() ? "" : " ") + a;
    Fail(path, "unknown value " + ids::QuoteForMessage(value) + "; expected one of " + list);
  }

  void Range(int64_t value, const std::string& path, int64_t lo, int64_t hi) {
    if (value < lo || value > hi) {
      Fail(path, "out of range (" + std::to_string(value) + "; expected " + std::to_string(lo) +
                     ".." + std::to_string(hi) + ")");
    }
  }

 private:
  std::optional<std::string> error_;
};

void CheckFields(Checker& c, const AnimeFields& f, const std::string& p,
                 const std::set<std::string>* only) {
  auto want = [&](const char* name) { return !only || only->contains(name); };
  if (want("title")) c.Text(f.title, p + "title", 500, true);
  if (want("title_english")) c.OptText(f.title_english, p + "title_english", 500);
  if (want("title_japanese")) c.OptText(f.title_japanese, p + "title_japanese", 500);
  if (want("synonyms")) {
    if (f.synonyms.size() > 100) c.Fail(p + "synonyms", "at most 100 synonyms");
    for (size_t i = 0; i < f.synonyms.size(); ++i) {
      c.Text(f.synonyms[i], p + "synonyms[" + std::to_string(i) + "]", 500, true);
    }
  }
  if (want("type")) {
    c.OneOf(f.type, p + "type", {"TV", "MOVIE", "OVA", "ONA", "SPECIAL", "MUSIC", "UNKNOWN"});
  }
  if (want("status")) {
    c.OneOf(f.status, p + "status", {"FINISHED", "AIRING", "UPCOMING", "UNKNOWN"});
  }
  if (want("season") && f.season) {
    c.OneOf(*f.season, p + "season", {"WINTER", "SPRING", "SUMMER", "FALL"});
    // A season without a year means nothing (and the schema refuses it).
    if (!f.year && want("year")) c.Fail(p + "season", "requires year");
  }
  if (want("year") && f.year) c.Range(*f.year, p + "year", 1900, 2100);
  if (want("episode_count") && f.episode_count) {
    c.Range(*f.episode_count, p + "episode_count", 0, 100000);
  }
  if (want("synopsis")) c.OptText(f.synopsis, p + "synopsis", 20000);
  if (want("score") && f.score && (!std::isfinite(*f.score) || *f.score < 0 || *f.score > 10)) {
    c.Fail(p + "score", "out of range (expected 0..10)");
  }
}

bool ValidDate(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (int i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  int y = std::stoi(s.substr(0, 4)), m = std::stoi(s.substr(5, 2)), d = std::stoi(s.substr(8, 2));
  if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= (m == 2 ? (leap ? 29 : 28) : kDays[m - 1]);
}

constexpr size_t kMaxSetSize = 5000;

void Check(Checker& c, AnimeEnriched& e) {
  const std::string p = "anime_enriched.";
  c.Uuid(e.anime_id, p + "anime_id");
  CheckFields(c, e.fields, p + "fields.", nullptr);
  if (e.characters.size() > kMaxSetSize) c.Fail(p + "characters", "too many entries");
  std::set<std::string> seen;
  for (size_t i = 0; i < e.characters.size(); ++i) {
    auto& ch = e.characters[i];
    auto q = p + "characters[" + std::to_string(i) + "].";
    c.Uuid(ch.character_id, q + "character_id");
    c.Text(ch.name, q + "name", 300, true);
    c.OptText(ch.name_japanese, q + "name_japanese", 300);
    c.OneOf(ch.role, q + "role", {"MAIN", "SUPPORTING", "BACKGROUND"});
    if (ch.favorites < 0) c.Fail(q + "favorites", "must not be negative");
    if (c.ok() && !seen.insert(ch.character_id).second) c.Fail(q + "character_id", "duplicate");
  }
  if (e.companies.size() > kMaxSetSize) c.Fail(p + "companies", "too many entries");
  seen.clear();
  for (size_t i = 0; i < e.companies.size(); ++i) {
    auto& co = e.companies[i];
    auto q = p + "companies[" + std::to_string(i) + "].";
    c.Uuid(co.company_id, q + "company_id");
    c.Text(co.name, q + "name", 300, true);
    c.OneOf(co.role, q + "role", {"studio", "producer", "licensor"});
    if (c.ok() && !seen.insert(co.company_id + co.role).second) {
      c.Fail(q + "company_id", "duplicate (same company and role)");
    }
  }
  if (e.relations.size() > kMaxSetSize) c.Fail(p + "relations", "too many entries");
  seen.clear();
  for (size_t i = 0; i < e.relations.size(); ++i) {
    auto& r = e.relations[i];
    auto q = p + "relations[" + std::to_string(i) + "].";
    c.Uuid(r.related_anime_id, q + "related_anime_id");
    if (c.ok() && r.related_anime_id == e.anime_id) {
      c.Fail(q + "related_anime_id", "an anime cannot be related to itself");
    }
    c.OneOf(r.relation_type, q + "relation_type",
            {"SEQUEL", "PREQUEL", "SIDE_STORY", "ALTERNATIVE", "SUMMARY", "FULL_STORY",
             "CHARACTER", "SPIN_OFF", "ADAPTATION", "OTHER"});
    if (c.ok() && !seen.insert(r.related_anime_id + r.relation_type).second) {
      c.Fail(q + "related_anime_id", "duplicate relation");
    }
  }
  if (e.original_works.size() > kMaxSetSize) c.Fail(p + "original_works", "too many entries");
  seen.clear();
  for (size_t i = 0; i < e.original_works.size(); ++i) {
    auto& w = e.original_works[i];
    auto q = p + "original_works[" + std::to_string(i) + "].";
    c.Uuid(w.original_work_id, q + "original_work_id");
    c.Text(w.title, q + "title", 500, true);
    c.OneOf(w.kind, q + "kind",
            {"MANGA", "LIGHT_NOVEL", "NOVEL", "VISUAL_NOVEL", "GAME", "WEB_MANGA", "ORIGINAL",
             "OTHER"});
    c.OptText(w.author, q + "author", 300);
    if (c.ok() && !seen.insert(w.original_work_id).second) {
      c.Fail(q + "original_work_id", "duplicate");
    }
  }
}

void Check(Checker& c, EpisodeAired& e) {
  const std::string p = "episode_aired.";
  c.Uuid(e.anime_id, p + "anime_id");
  c.Uuid(e.episode_id, p + "episode_id");
  c.Range(e.number, p + "number", 0, 100000);
  c.OptText(e.title, p + "title", 500);
  if (e.aired_on && !ValidDate(*e.aired_on)) {
    c.Fail(p + "aired_on", "not a date YYYY-MM-DD: " + ids::QuoteForMessage(*e.aired_on));
  }
  if (e.duration_seconds) c.Range(*e.duration_seconds, p + "duration_seconds", 1, 86400);
}

const std::set<std::string>& UpdatableFields() {
  static const std::set<std::string> kFields = {
      "title", "title_english", "title_japanese", "synonyms", "type",  "status",
      "season", "year",         "episode_count",  "synopsis", "score"};
  return kFields;
}

void Check(Checker& c, AnimeUpdated& e) {
  const std::string p = "anime_updated.";
  c.Uuid(e.anime_id, p + "anime_id");
  if (e.mask.empty()) c.Fail(p + "field_mask", "empty: name at least one field to update");
  std::set<std::string> mask;
  for (size_t i = 0; i < e.mask.size(); ++i) {
    if (!UpdatableFields().contains(e.mask[i])) {
      c.Fail(p + "field_mask[" + std::to_string(i) + "]",
             "unknown field " + ids::QuoteForMessage(e.mask[i]));
    } else if (!mask.insert(e.mask[i]).second) {
      c.Fail(p + "field_mask[" + std::to_string(i) + "]", "duplicate field");
    }
  }
  if (e.expected_version < 1) c.Fail(p + "expected_version", "must be at least 1");
  if (c.ok()) CheckFields(c, e.fields, p + "fields.", &mask);
}

void Check(Checker& c, AnimeViewed& e) { c.Uuid(e.anime_id, "anime_viewed.anime_id"); }

}  // namespace

const char* ToString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kApplied: return "APPLIED";
    case Outcome::kAlreadyApplied: return "ALREADY_APPLIED";
    case Outcome::kIgnoredStale: return "IGNORED_STALE";
  }
  return "APPLIED";
}

const char* EventTypeName(const Event& event) {
  static constexpr const char* kNames[] = {"AnimeEnriched", "EpisodeAired", "AnimeUpdated",
                                           "AnimeViewed"};
  return kNames[event.payload.index()];
}

std::optional<std::string> ValidateEvent(Event& event) {
  Checker c;
  c.Uuid(event.event_id, "event_id");
  if (event.occurred_at_ms <= 0) {
    c.Fail("occurred_at", "required");
  } else {
    // A producer clock a little ahead is tolerated; a day ahead is a bug upstream.
    int64_t now_ms = static_cast<int64_t>(std::time(nullptr)) * 1000;
    if (event.occurred_at_ms > now_ms + 86'400'000) c.Fail("occurred_at", "more than a day in the future");
  }
  c.Text(event.producer, "producer", 100, false);
  std::visit([&](auto& payload) { Check(c, payload); }, event.payload);
  return c.error();
}

}  // namespace psvc::write
