#include "grpc_api/event_codec.h"

#include "anime/events/v1/events.pb.h"
#include "write/validate.h"

namespace psvc::api {

namespace {

namespace pb = anime::events::v1;

template <size_t N>
std::string EnumText(int value, const char* const (&names)[N], const std::string& field) {
  if (value < 0 || static_cast<size_t>(value) >= N || names[value] == nullptr) {
    throw write::InvalidEvent(field + ": unknown enum value " + std::to_string(value));
  }
  return names[value];
}

std::optional<std::string> NonEmpty(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

write::AnimeFields Fields(const pb::AnimeFields& f, const std::string& p) {
  static const char* const kTypes[] = {"UNKNOWN", "TV", "MOVIE", "OVA", "ONA", "SPECIAL", "MUSIC"};
  static const char* const kStatus[] = {"UNKNOWN", "FINISHED", "AIRING", "UPCOMING"};
  static const char* const kSeasons[] = {"", "WINTER", "SPRING", "SUMMER", "FALL"};
  write::AnimeFields out;
  out.title = f.title();
  out.title_english = NonEmpty(f.title_english());
  out.title_japanese = NonEmpty(f.title_japanese());
  out.synonyms.assign(f.synonyms().begin(), f.synonyms().end());
  out.type = EnumText(f.type(), kTypes, p + "type");
  out.status = EnumText(f.status(), kStatus, p + "status");
  out.season = NonEmpty(EnumText(f.season(), kSeasons, p + "season"));
  if (f.year() != 0) out.year = f.year();
  out.episode_count = f.episode_count();
  out.synopsis = NonEmpty(f.synopsis());
  if (f.score() != 0) out.score = f.score();
  return out;
}

}  // namespace

write::Event DecodeEnvelope(const pb::EventEnvelope& env) {
  static const char* const kRelations[] = {nullptr,      "SEQUEL",     "PREQUEL",   "SIDE_STORY",
                                           "ALTERNATIVE", "SUMMARY",   "FULL_STORY", "CHARACTER",
                                           "SPIN_OFF",   "ADAPTATION", "OTHER"};
  static const char* const kCharacterRoles[] = {"SUPPORTING", "MAIN", "SUPPORTING", "BACKGROUND"};
  static const char* const kCompanyRoles[] = {nullptr, "studio", "producer", "licensor"};
  static const char* const kWorkKinds[] = {"OTHER",  "MANGA",     "LIGHT_NOVEL", "NOVEL", "VISUAL_NOVEL",
                                           "GAME",   "WEB_MANGA", "ORIGINAL",    "OTHER"};
  if (env.schema_version() != 1) {
    throw write::InvalidEvent("schema_version: unsupported value " +
                              std::to_string(env.schema_version()) + " (this service speaks 1)");
  }
  write::Event out;
  out.event_id = env.event_id();
  if (env.has_occurred_at()) {
    out.occurred_at_ms = env.occurred_at().seconds() * 1000 + env.occurred_at().nanos() / 1'000'000;
  }
  out.producer = env.producer();
  switch (env.payload_case()) {
    case pb::EventEnvelope::kAnimeEnriched: {
      const auto& e = env.anime_enriched();
      const std::string p = "anime_enriched.";
      write::AnimeEnriched a;
      a.anime_id = e.anime_id();
      a.fields = Fields(e.fields(), p + "fields.");
      for (int i = 0; i < e.characters_size(); ++i) {
        const auto& c = e.characters(i);
        a.characters.push_back(
            {c.character_id(), c.name(), NonEmpty(c.name_japanese()),
             EnumText(c.role(), kCharacterRoles, p + "characters[" + std::to_string(i) + "].role"),
             c.favorites()});
      }
      for (int i = 0; i < e.companies_size(); ++i) {
        const auto& c = e.companies(i);
        a.companies.push_back(
            {c.company_id(), c.name(),
             EnumText(c.role(), kCompanyRoles, p + "companies[" + std::to_string(i) + "].role")});
      }
      for (int i = 0; i < e.relations_size(); ++i) {
        const auto& r = e.relations(i);
        a.relations.push_back(
            {r.related_anime_id(),
             EnumText(r.relation_type(), kRelations,
                      p + "relations[" + std::to_string(i) + "].relation_type")});
      }
      for (int i = 0; i < e.original_works_size(); ++i) {
        const auto& w = e.original_works(i);
        a.original_works.push_back(
            {w.original_work_id(), w.title(),
             EnumText(w.kind(), kWorkKinds, p + "original_works[" + std::to_string(i) + "].kind"),
             NonEmpty(w.author())});
      }
      out.payload = std::move(a);
      break;
    }
    case pb::EventEnvelope::kEpisodeAired: {
      const auto& e = env.episode_aired();
      write::EpisodeAired ep;
      ep.anime_id = e.anime_id();
      ep.episode_id = e.episode_id();
      ep.number = e.number();
      ep.title = NonEmpty(e.title());
      ep.aired_on = NonEmpty(e.aired_on());
      if (e.duration_seconds() != 0) ep.duration_seconds = e.duration_seconds();
      out.payload = std::move(ep);
      break;
    }
    case pb::EventEnvelope::kAnimeUpdated: {
      const auto& e = env.anime_updated();
      write::AnimeUpdated u;
      u.anime_id = e.anime_id();
      u.mask.assign(e.field_mask().begin(), e.field_mask().end());
      u.fields = Fields(e.fields(), "anime_updated.fields.");
      u.expected_version = e.expected_version();
      out.payload = std::move(u);
      break;
    }
    case pb::EventEnvelope::PAYLOAD_NOT_SET:
      throw write::InvalidEvent("payload: required (anime_enriched, episode_aired or anime_updated)");
  }
  return out;
}

write::Event DecodeEnvelope(std::string_view bytes) {
  pb::EventEnvelope env;
  if (!env.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw write::InvalidEvent("not a serialized anime.events.v1.EventEnvelope (" +
                              std::to_string(bytes.size()) + " bytes)");
  }
  return DecodeEnvelope(env);
}

}  // namespace psvc::api
