#include "graphql_api/graphql_api.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

#include "db/error.h"
#include "db/pool.h"
#include "graphql/engine.h"
#include "graphql/parser.h"
#include "graphql_api/graphql_loaders.h"
#include "graphql_api/graphql_statements.h"
#include "ids/uuid.h"
#include "write/event_applier.h"
#include "write/events.h"
#include "write/validate.h"
#include "write/view_counter.h"

namespace psvc::api {

using graphql::ResolveParams;
using graphql::Resolver;
using graphql::Value;
using graphql::ValueList;
using graphql::ValueMap;

namespace {

/// Everything a resolver needs for one request (the engine's context pointer).
struct RequestContext {
  RequestLoaders loaders;
  write::EventApplier& applier;
  const GraphqlApiOptions& options;
};

/// A client mistake: its message goes to the client as is.
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a client may learn about a database failure: the kind, never the SQL or server text.
std::string PublicMessage(db::ErrorKind kind) {
  switch (kind) {
    case db::ErrorKind::kTimeout:
      return "The query took too long and was cancelled (statement timeout).";
    case db::ErrorKind::kPoolExhausted:
    case db::ErrorKind::kUnavailable:
      return "The database is unavailable at the moment; try again.";
    case db::ErrorKind::kSerialization:
    case db::ErrorKind::kConflict:
      return "A concurrent change conflicted with this request; try again.";
    case db::ErrorKind::kInvalidInput:
      return "The database rejected a value of this request as invalid.";
    case db::ErrorKind::kInternal:
      break;
  }
  return "Internal error.";
}

using ContextResolver = std::function<std::vector<Value>(const ResolveParams&, RequestContext&)>;

// Every resolver that touches the database runs inside this guard: the executor would put an
// exception's what() into the response, and a DbError's text can carry SQL.
Resolver Guarded(ContextResolver fn) {
  return [fn = std::move(fn)](const ResolveParams& p) -> std::vector<Value> {
    auto fail = [&](std::string message) {
      return std::vector<Value>(p.parents.size(), Value::Error(std::move(message)));
    };
    try {
      return fn(p, *static_cast<RequestContext*>(p.context));
    } catch (const UserError& e) {
      return fail(e.what());
    } catch (const db::DbError& e) {
      spdlog::warn("graphql {}.{}: database error ({}): {}", p.parent_type.name, p.field.name,
                   db::ToString(e.kind()), e.what());
      return fail(PublicMessage(e.kind()));
    } catch (const std::exception& e) {
      spdlog::error("graphql {}.{}: {}", p.parent_type.name, p.field.name, e.what());
      return fail("Internal error.");
    }
  };
}

std::string RequireUuid(const Value& v, std::string_view what) {
  std::string_view text = v.AsString();
  auto id = ids::CanonicalUuid(text);
  if (!id) {
    throw UserError(std::string(what) + ": not a UUID: " + ids::QuoteForMessage(text));
  }
  return *id;
}

std::vector<std::string> RequireUuids(const Value& list, std::string_view what, int cap) {
  const ValueList& items = list.AsList();
  if (static_cast<int>(items.size()) > cap) {
    throw UserError(std::string(what) + ": at most " + std::to_string(cap) + " ids per request");
  }
  std::vector<std::string> out;
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    out.push_back(RequireUuid(items[i], std::string(what) + "[" + std::to_string(i) + "]"));
  }
  return out;
}

std::vector<std::string> ParentIds(const ResolveParams& p) {
  std::vector<std::string> ids;
  ids.reserve(p.parents.size());
  for (const Value* parent : p.parents) {
    ids.emplace_back(parent->Deref().Find("id")->AsString());
  }
  return ids;
}

int IntArg(const ResolveParams& p, std::string_view name, int lo, int hi) {
  const Value* v = p.Arg(name);
  int64_t n = v && !v->IsNull() ? v->AsInt() : lo;
  if (n < lo || n > hi) {
    throw UserError(std::string(name) + " must be between " + std::to_string(lo) + " and " +
                    std::to_string(hi) + ", got " + std::to_string(n));
  }
  return static_cast<int>(n);
}

PageRequest PageArgs(const ResolveParams& p, int cap) {
  PageRequest page;
  page.first = IntArg(p, "first", 0, cap);
  if (const Value* after = p.Arg("after"); after && !after->IsNull()) {
    auto cursor = DecodeCursor(after->AsString());
    if (!cursor) throw UserError("after: not a cursor returned by this API");
    page.after = *cursor;
    page.has_after = true;
  }
  return page;
}

std::optional<std::string> EnumArg(const ResolveParams& p, std::string_view name) {
  const Value* v = p.Arg(name);
  if (!v || v->IsNull()) return std::nullopt;
  return v->AsEnum();
}

std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// A root field answering one value for the (single) root parent.
std::vector<Value> Root(const ResolveParams& p, Value v) {
  return std::vector<Value>(p.parents.size(), std::move(v));
}

Value RefOrNull(const Value* v) { return v ? Value::Ref(*v) : Value(); }

// The entities of `ids`, in order, as references into the request's cache (null: none).
std::vector<Value> LoadRefs(RequestContext& ctx, EntityKind kind,
                            const std::vector<std::string>& ids) {
  std::vector<Value> out;
  for (const Value* v : ctx.loaders.Load(kind, ids)) out.push_back(RefOrNull(v));
  return out;
}

// For fields holding the id of one anime in their parent's `id_key`.
std::vector<Value> LoadParentsAnime(const ResolveParams& p, RequestContext& ctx,
                                    const char* id_key) {
  std::vector<std::string> ids;
  for (const Value* parent : p.parents) ids.emplace_back(parent->Deref().Find(id_key)->AsString());
  return LoadRefs(ctx, EntityKind::kAnime, ids);
}

// Query.<one>(id) and Query.<many>(ids) for one entity table.
void AddByIdRoots(graphql::TypeBuilder query, EntityKind kind, const std::string& type,
                  const std::string& one, const std::string& many) {
  query
      .Field(one, type, Guarded([kind](const ResolveParams& p, RequestContext& ctx) {
               std::string id = RequireUuid(*p.Arg("id"), "id");
               return Root(p, RefOrNull(ctx.loaders.Load(kind, {id})[0]));
             }))
      .Arg("id", "ID!")
      .Description("One " + type + " by id; null when there is none.");
  if (many.empty()) return;
  query
      .Field(many, "[" + type + "]!", Guarded([kind](const ResolveParams& p, RequestContext& ctx) {
               auto ids = RequireUuids(*p.Arg("ids"), "ids", ctx.options.max_page_size);
               return Root(p, Value(LoadRefs(ctx, kind, ids)));
             }))
      .Arg("ids", "[ID!]!")
      .Description("Several by id, in the order of `ids`; null for an id with no " + type + ".")
      .Cost(1, 20);
}

write::Event MakeEvent(decltype(write::Event::payload) payload) {
  write::Event e;
  e.event_id = ids::RandomUuid();
  e.occurred_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  e.producer = "graphql";
  e.payload = std::move(payload);
  return e;
}

// The write path names fields as events do ("anime_updated.fields.title_english"); a
// GraphQL client knows them as arguments ("input.titleEnglish").
std::string ToGraphqlNames(std::string message) {
  static const std::pair<std::string_view, std::string_view> kNames[] = {
      {"anime_updated.fields.", "input."},
      {"anime_updated.anime_id", "id"},
      {"anime_updated.expected_version", "expectedVersion"},
      {"anime_updated.field_mask", "input"},
      {"anime_viewed.anime_id", "animeId"},
      {"title_english", "titleEnglish"},
      {"title_japanese", "titleJapanese"},
      {"episode_count", "episodeCount"}};
  for (const auto& [from, to] : kNames) {
    for (size_t pos; (pos = message.find(from)) != std::string::npos;) {
      message.replace(pos, from.size(), to);
    }
  }
  return message;
}

// Runs one event through the write path, turning its expected failures into user errors.
// Mutations never follow a merge's redirect (docs/graphql.md): the error names the survivor so
// the client can send the mutation again for it; a removed anime is not found.
write::ApplyResult ApplyForClient(write::EventApplier& applier, write::Event event) {
  write::ApplyResult result;
  try {
    result = applier.Apply(std::move(event));
  } catch (const write::InvalidEvent& e) {
    throw UserError("Invalid input: " + ToGraphqlNames(e.what()));
  } catch (const write::AnimeNotFound&) {
    throw UserError("No anime with this id.");
  }
  if (!result.merged_into.empty()) {
    throw UserError("This anime was merged into " + result.merged_into +
                    "; nothing was changed: send the mutation for " + result.merged_into + ".");
  }
  if (result.removed) throw UserError("No anime with this id.");
  return result;
}

write::AnimeUpdated UpdateFromInput(const std::string& id, const Value& input, int64_t version) {
  write::AnimeUpdated u;
  u.anime_id = id;
  u.expected_version = version;
  write::AnimeFields& f = u.fields;
  auto require = [](const Value& v, const char* name) {
    if (v.IsNull()) throw UserError(std::string("input.") + name + " cannot be null");
  };
  auto opt_text = [](const Value& v) {
    return v.IsNull() ? std::nullopt : std::optional<std::string>(v.AsString());
  };
  auto opt_int = [](const Value& v) {
    return v.IsNull() ? std::nullopt : std::optional<int32_t>(static_cast<int32_t>(v.AsInt()));
  };
  // Present fields (explicit null included) make the mask; absent ones stay untouched.
  for (const auto& [name, v] : input.AsMap()) {
    if (name == "title") {
      require(v, "title");
      f.title = v.AsString();
      u.mask.push_back("title");
    } else if (name == "titleEnglish") {
      f.title_english = opt_text(v);
      u.mask.push_back("title_english");
    } else if (name == "titleJapanese") {
      f.title_japanese = opt_text(v);
      u.mask.push_back("title_japanese");
    } else if (name == "synonyms") {
      require(v, "synonyms");
      for (const Value& s : v.AsList()) f.synonyms.emplace_back(s.AsString());
      u.mask.push_back("synonyms");
    } else if (name == "type") {
      require(v, "type");
      f.type = v.AsEnum();
      u.mask.push_back("type");
    } else if (name == "status") {
      require(v, "status");
      f.status = v.AsEnum();
      u.mask.push_back("status");
    } else if (name == "season") {
      f.season = v.IsNull() ? std::nullopt : std::optional<std::string>(v.AsEnum());
      u.mask.push_back("season");
    } else if (name == "year") {
      f.year = opt_int(v);
      u.mask.push_back("year");
    } else if (name == "episodeCount") {
      f.episode_count = opt_int(v);
      u.mask.push_back("episode_count");
    } else if (name == "synopsis") {
      f.synopsis = opt_text(v);
      u.mask.push_back("synopsis");
    } else if (name == "score") {
      f.score = v.IsNull() ? std::nullopt : std::optional<double>(v.AsNumber());
      u.mask.push_back("score");
    }
  }
  if (u.mask.empty()) throw UserError("input: name at least one field to update");
  return u;
}

// UTF-8 code points of `s` (the search lane's minimum length is in characters, not bytes).
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The part of a search hit's entity its label gives: per member of SearchResult, its type
// name and the field holding the display name.
struct SearchCardShape {
  EntityKind kind;
  const char* type;
  const char* label_field;
};
constexpr SearchCardShape kCardShapes[] = {{EntityKind::kAnime, "Anime", "title"},
                                           {EntityKind::kCharacter, "Character", "name"},
                                           {EntityKind::kCompany, "Company", "name"}};

Value SearchCard(EntityKind kind, std::string_view id, std::string_view label) {
  for (const auto& shape : kCardShapes) {
    if (shape.kind != kind) continue;
    ValueMap m;
    m.emplace_back("__typename", Value(shape.type));
    m.emplace_back("id", Value(std::string(id)));
    m.emplace_back(shape.label_field, Value(std::string(label)));
    return Value(std::move(m));
  }
  return Value();
}

// Whether the `search` field's selection asks of `node` no more than a card holds (__typename,
// id and the display name), however it is spelled (aliases, fragments, merged fields): then
// the search need not read the entities. Anything else, relationship fields included, gets
// the hydrated entity.
bool CardsSuffice(const ResolveParams& p) {
  for (const auto& [key, hit_fields] : p.look_ahead.Collect("SearchHit", p.nodes)) {
    if (hit_fields.front()->name != "node") continue;
    for (const auto& shape : kCardShapes) {
      for (const auto& [k, fields] : p.look_ahead.Collect(shape.type, hit_fields)) {
        std::string_view name = fields.front()->name;
        if (name != "__typename" && name != "id" && name != shape.label_field) return false;
      }
    }
  }
  return true;
}

constexpr size_t kMaxTitlePrefix = 100;

// Query.animeList's `filter` argument, checked.
AnimeListFilter ListFilterArg(const ResolveParams& p) {
  AnimeListFilter f;
  const Value* arg = p.Arg("filter");
  if (!arg || arg->IsNull()) return f;
  for (const auto& [name, v] : arg->AsMap()) {
    if (v.IsNull()) continue;
    if (name == "yearMin") {
      f.year_min = v.AsInt();
    } else if (name == "yearMax") {
      f.year_max = v.AsInt();
    } else if (name == "season") {
      f.season = v.AsEnum();
    } else if (name == "types" || name == "statuses") {
      std::vector<std::string> values;
      for (const Value& e : v.AsList()) values.emplace_back(e.AsEnum());
      (name == "types" ? f.types : f.statuses) = std::move(values);
    } else if (name == "studio") {
      f.studio_id = RequireUuid(v, "filter.studio");
    } else if (name == "scoreMin") {
      f.score_min = v.AsNumber();
    } else if (name == "scoreMax") {
      f.score_max = v.AsNumber();
    } else if (name == "titlePrefix") {
      std::string_view prefix = v.AsString();
      if (prefix.empty() || prefix.find('\0') != std::string_view::npos ||
          CodePoints(prefix) > kMaxTitlePrefix) {
        throw UserError("filter.titlePrefix: 1 to " + std::to_string(kMaxTitlePrefix) +
                        " characters, no NUL");
      }
      f.title_prefix = std::string(prefix);
    }
  }
  return f;
}

// The `after` of animeList, Company.anime or Character.anime (`field`): a cursor this API
// issued for the same ordering. The nested lists paged only by year before they took
// animeList's orderings; their cursors of then ("<year>:<uuid>") still page YEAR_ASC.
ListCursor ListCursorArg(std::string_view text, const std::string& order,
                         std::string_view field = "animeList") {
  auto cursor = DecodeListCursor(text);
  if (!cursor && field != "animeList" && order == "YEAR_ASC") {
    if (auto old = DecodeCursor(text); old && old->key >= 0) {
      cursor = ListCursor{order, std::to_string(old->key), old->id};
    }
  }
  if (!cursor) throw UserError("after: not a cursor returned by " + std::string(field));
  if (cursor->order != order) {
    throw UserError("after: the cursor belongs to orderBy " + cursor->order + ", not " + order);
  }
  return std::move(*cursor);
}

// The arguments Company.anime and Character.anime share with animeList, checked.
struct NestedListArgs {
  AnimeListFilter filter;
  std::string order;
  int first = 20;
  std::optional<ListCursor> after;
};

NestedListArgs NestedListArgsOf(const ResolveParams& p, const RequestContext& ctx,
                                std::string_view field) {
  NestedListArgs a;
  a.first = IntArg(p, "first", 0, ctx.options.max_page_size);
  a.order = EnumArg(p, "orderBy").value_or("YEAR_ASC");
  a.filter = ListFilterArg(p);
  if (const Value* after = p.Arg("after"); after && !after->IsNull()) {
    a.after = ListCursorArg(after->AsString(), a.order, field);
  }
  return a;
}

constexpr int kMaxSearchLimit = 50;
constexpr size_t kMaxSearchLength = 100;
constexpr size_t kMinSearchLength = 2;

void AddEnums(graphql::SchemaBuilder& b) {
  auto e = b.Enum("AnimeType", "Format of an anime.");
  for (const char* v : {"TV", "MOVIE", "OVA", "ONA", "SPECIAL", "MUSIC", "UNKNOWN"}) e.AddValue(v);
  e = b.Enum("AnimeStatus", "Airing state.");
  for (const char* v : {"FINISHED", "AIRING", "UPCOMING", "UNKNOWN"}) e.AddValue(v);
  e = b.Enum("Season", "Broadcast season.");
  for (const char* v : {"WINTER", "SPRING", "SUMMER", "FALL"}) e.AddValue(v);
  e = b.Enum("CharacterRole", "Role of a character in an anime.");
  for (const char* v : {"MAIN", "SUPPORTING", "BACKGROUND"}) e.AddValue(v);
  e = b.Enum("CompanyRole", "What a company did for an anime.");
  for (const char* v : {"STUDIO", "PRODUCER", "LICENSOR"}) e.AddValue(v);
  e = b.Enum("RelationType", "How a related anime relates: `target` is the <type> of the anime.");
  for (const char* v : {"SEQUEL", "PREQUEL", "SIDE_STORY", "ALTERNATIVE", "SUMMARY", "FULL_STORY",
                        "CHARACTER", "SPIN_OFF", "ADAPTATION", "OTHER"}) {
    e.AddValue(v);
  }
  e = b.Enum("OriginalWorkKind", "Kind of work an anime adapts.");
  for (const char* v : {"MANGA", "LIGHT_NOVEL", "NOVEL", "VISUAL_NOVEL", "GAME", "WEB_MANGA",
                        "ORIGINAL", "OTHER"}) {
    e.AddValue(v);
  }
  b.Enum("SearchKind", "What the search lane looks through.")
      .AddValue("ANIME", "Titles in every language and synonyms.")
      .AddValue("CHARACTER", "Names and Japanese names.")
      .AddValue("COMPANY", "Studios, producers and licensors.");
  auto order = b.Enum("AnimeOrder",
                      "Order of animeList. Every ordering ends with the id as a tiebreaker, so it "
                      "is total and cursors are stable; an anime without a score sorts below "
                      "every score, one without a year before every year.");
  order.AddValue("POPULARITY_DESC", "Most viewed first.")
      .AddValue("POPULARITY_ASC", "Least viewed first.")
      .AddValue("SCORE_DESC", "Best scored first.")
      .AddValue("SCORE_ASC", "Worst scored first.")
      .AddValue("YEAR_DESC", "Newest first.")
      .AddValue("YEAR_ASC", "Oldest first.")
      .AddValue("TITLE_ASC", "By title, A to Z.")
      .AddValue("TITLE_DESC", "By title, Z to A.");
  auto kind = b.Enum("ChangeKind", "What a committed change did to an anime.");
  for (const auto& k : kChangeKinds) kind.AddValue(std::string(k.name), std::string(k.description));
  b.Enum("MatchType", "How a search hit matched, best first.")
      .AddValue("EXACT", "The whole name, ignoring case and accents.")
      .AddValue("PREFIX", "The name starts with the query.")
      .AddValue("FUZZY", "Trigram similarity to a word of the name (typos).");
}

// The Subscription root: each field resolves from the event the stream delivers (the root
// value, see GraphqlApi::ExecuteEvent); the streams themselves are api::SubscriptionHub's.
void AddSubscriptions(graphql::SchemaBuilder& b) {
  auto change = b.Object("AnimeChange",
                         "One committed change of an anime, delivered after its transaction "
                         "committed; the changes of one anime arrive in commit order.");
  change.Field("kind", "ChangeKind!");
  change.Field("animeId", "ID!")
      .Description("The anime the change is about (the id subscribed to).");
  change.Field("version", "Int")
      .Description(
          "The anime's version this change produced; null for a change that does not make one "
          "(MERGED, REMOVED, RESTORED).");
  change.Field("changeId", "ID!")
      .Description("Identifies the change: the id of its outbox row (docs/events.md).");
  change.Field("fields", "[String!]")
      .Description("UPDATED: the fields it changed (snake_case, as in the change stream).");
  change.Field("mergedInto", "ID").Description("MERGED: the anime that absorbed `animeId`.");
  change.Field("viewCount", "Int").Description("VIEWED: the anime's total views after it.");
  change
      .Field("anime", "Anime", Guarded([](const ResolveParams& p, RequestContext& ctx) {
               return LoadParentsAnime(p, ctx, "animeId");
             }))
      .Description(
          "The anime as read when the change is delivered (at least as new as `version`; "
          "null once removed; after MERGED, the anime it was merged into).");
  auto root = [](const ResolveParams& p) {
    std::vector<Value> out;
    for (const Value* parent : p.parents) out.push_back(Value::Ref(parent->Deref()));
    return out;
  };
  auto subscription = b.Object("Subscription");
  subscription.Field("animeChanged", "AnimeChange!", root)
      .Description(
          "Every committed change of the anime in `ids` (at most 100), optionally only those of "
          "`kinds`.")
      .Arg("ids", "[ID!]!")
      .Arg("kinds", "[ChangeKind!]", std::nullopt, "Default: every kind.");
  subscription.Field("catalogueChanged", "AnimeChange!", root)
      .Description("Every committed change of any anime, optionally only those of `kinds`.")
      .Arg("kinds", "[ChangeKind!]", std::nullopt, "Default: every kind.");
  b.SubscriptionType("Subscription");
}

std::unique_ptr<graphql::Schema> BuildSchema() {
  graphql::SchemaBuilder b;
  b.Description(
      "The anime catalogue: entities by id with batched nested loading, typeahead "
      "search, and mutations through the event write path.");
  AddEnums(b);

  b.Object("PageInfo", "Where a page ends and whether another follows.")
      .Field("hasNextPage", "Boolean!");
  b.Get("PageInfo")
      .Field("hasPreviousPage", "Boolean!")
      .Description(
          "Whether rows sort before this page: false on a first page; after a cursor, "
          "animeList checks, nested connections answer whether `after` was given.");
  b.Get("PageInfo").Field("startCursor", "String").Description("The first row's cursor.");
  b.Get("PageInfo")
      .Field("endCursor", "String")
      .Description("Pass as `after` to get the next page.");

  auto anime = b.Object("Anime", "An anime series, film or special.");
  anime.Field("id", "ID!");
  anime.Field("title", "String!").Description("Main title, romanised.");
  anime.Field("titleEnglish", "String");
  anime.Field("titleJapanese", "String");
  anime.Field("synonyms", "[String!]!");
  anime.Field("type", "AnimeType!");
  anime.Field("status", "AnimeStatus!");
  anime.Field("season", "Season");
  anime.Field("year", "Int");
  anime.Field("episodeCount", "Int");
  anime.Field("synopsis", "String");
  anime.Field("score", "Float");
  anime.Field("viewCount", "Int!");
  anime.Field("version", "Int!").Description("Pass as `expectedVersion` to updateAnime.");
  anime.Field("updatedAt", "String!").Description("ISO 8601 timestamp of the last change.");

  b.Object("Character", "A character appearing in one or more anime.");
  b.Get("Character").Field("id", "ID!");
  b.Get("Character").Field("name", "String!");
  b.Get("Character").Field("nameJapanese", "String");
  b.Get("Character").Field("description", "String");
  b.Get("Character").Field("favorites", "Int!");

  b.Object("Company", "A studio, producer or licensor.");
  b.Get("Company").Field("id", "ID!");
  b.Get("Company").Field("name", "String!");

  b.Object("Episode", "One episode of an anime.");
  b.Get("Episode").Field("id", "ID!");
  b.Get("Episode").Field("number", "Int!");
  b.Get("Episode").Field("title", "String");
  b.Get("Episode").Field("airedOn", "String").Description("YYYY-MM-DD.");
  b.Get("Episode").Field("durationSeconds", "Int");

  b.Object("OriginalWork", "A manga, novel, game... that anime adapt.");
  b.Get("OriginalWork").Field("id", "ID!");
  b.Get("OriginalWork").Field("title", "String!");
  b.Get("OriginalWork").Field("kind", "OriginalWorkKind!");
  b.Get("OriginalWork").Field("author", "String");

  b.Object("AnimeCharacter", "A character's credit in an anime.").Field("role", "CharacterRole!");
  b.Get("AnimeCharacter").Field("character", "Character!");
  b.Object("AnimeCompany", "A company's credit on an anime.").Field("role", "CompanyRole!");
  b.Get("AnimeCompany").Field("company", "Company!");
  b.Object("AnimeRelation", "A related anime: `target` is the <type> of the anime.")
      .Field("type", "RelationType!");
  b.Get("AnimeRelation").Field("target", "Anime!");
  b.Object("CharacterAppearance", "An anime a character appears in, with the role.")
      .Field("role", "CharacterRole!");
  b.Get("CharacterAppearance").Field("anime", "Anime!");

  b.Object("EpisodeConnection", "A page of episodes in episode-number order.")
      .Field("nodes", "[Episode!]!");
  b.Get("EpisodeConnection").Field("edges", "[EpisodeEdge!]!");
  b.Get("EpisodeConnection").Field("pageInfo", "PageInfo!");
  b.Object("EpisodeEdge", "An episode and its cursor.").Field("cursor", "String!");
  b.Get("EpisodeEdge").Field("node", "Episode!");
  b.Object("AnimeConnection",
           "A page of anime: animeList in its `orderBy`, a company's anime in (year, id) order.")
      .Field("nodes", "[Anime!]!");
  b.Get("AnimeConnection").Field("edges", "[AnimeEdge!]!");
  b.Get("AnimeConnection").Field("pageInfo", "PageInfo!");
  b.Object("AnimeEdge", "An anime and its cursor.").Field("cursor", "String!");
  b.Get("AnimeEdge").Field("node", "Anime!");
  b.Object("CharacterAppearanceConnection", "A page of a character's anime in (year, id) order.")
      .Field("nodes", "[CharacterAppearance!]!");
  b.Get("CharacterAppearanceConnection").Field("edges", "[CharacterAppearanceEdge!]!");
  b.Get("CharacterAppearanceConnection").Field("pageInfo", "PageInfo!");
  b.Object("CharacterAppearanceEdge", "A character's appearance and its cursor.")
      .Field("cursor", "String!");
  b.Get("CharacterAppearanceEdge").Field("node", "CharacterAppearance!");

  b.Input("AnimeFilter", "Which anime animeList returns; absent fields do not filter.")
      .InputField("yearMin", "Int", std::nullopt, "Aired in this year or later.")
      .InputField("yearMax", "Int", std::nullopt, "Aired in this year or earlier.")
      .InputField("season", "Season")
      .InputField("types", "[AnimeType!]", std::nullopt, "Any of these formats.")
      .InputField("statuses", "[AnimeStatus!]", std::nullopt, "Any of these airing states.")
      .InputField("studio", "ID", std::nullopt, "Made by this company (credited as studio).")
      .InputField("scoreMin", "Float", std::nullopt, "Scored at least this.")
      .InputField("scoreMax", "Float", std::nullopt, "Scored at most this.")
      .InputField("titlePrefix", "String", std::nullopt,
                  "The main title starts with this, ignoring case (1-100 characters).");

  // Relationship fields: one batched statement per field per nesting level.
  anime
      .Field("characters", "[AnimeCharacter!]!",
             Guarded([](const ResolveParams& p, RequestContext& ctx) {
               int first = IntArg(p, "first", 0, ctx.options.max_page_size);
               return ctx.loaders.AnimeCharacters(ParentIds(p), EnumArg(p, "role"), first);
             }))
      .Arg("role", "CharacterRole", std::nullopt, "Only credits with this role.")
      .Arg("first", "Int", "10", "How many, main roles first, then the most favourited.")
      .Cost(1, 10);
  anime
      .Field("studios", "[Company!]!", Guarded([](const ResolveParams& p, RequestContext& ctx) {
               return ctx.loaders.AnimeCompanies(ParentIds(p), "studio", true);
             }))
      .Cost(1, 2);
  anime
      .Field("companies", "[AnimeCompany!]!",
             Guarded([](const ResolveParams& p, RequestContext& ctx) {
               auto role = EnumArg(p, "role");
               if (role) role = Lower(*role);
               return ctx.loaders.AnimeCompanies(ParentIds(p), role, false);
             }))
      .Arg("role", "CompanyRole")
      .Cost(1, 5);
  anime
      .Field("relations", "[AnimeRelation!]!",
             Guarded([](const ResolveParams& p, RequestContext& ctx) {
               std::optional<std::vector<std::string>> types;
               if (const Value* t = p.Arg("types"); t && !t->IsNull()) {
                 types.emplace();
                 for (const Value& v : t->AsList()) types->push_back(v.AsEnum());
               }
               return ctx.loaders.AnimeRelations(ParentIds(p), types);
             }))
      .Arg("types", "[RelationType!]", std::nullopt, "Only these relation types.")
      .Cost(1, 5);
  anime
      .Field("originalWorks", "[OriginalWork!]!",
             Guarded([](const ResolveParams& p, RequestContext& ctx) {
               return ctx.loaders.AnimeOriginalWorks(ParentIds(p));
             }))
      .Cost(1, 2);
  anime
      .Field("episodes", "EpisodeConnection!",
             Guarded([](const ResolveParams& p, RequestContext& ctx) {
               return ctx.loaders.AnimeEpisodes(ParentIds(p),
                                                PageArgs(p, ctx.options.max_page_size));
             }))
      .Arg("first", "Int", "20")
      .Arg("after", "String")
      .Cost(1, 20);

  b.Get("Character")
      .Field("anime", "CharacterAppearanceConnection!",
             Guarded([](const ResolveParams& p, RequestContext& ctx) {
               NestedListArgs a = NestedListArgsOf(p, ctx, "Character.anime");
               return ctx.loaders.CharacterAnime(ParentIds(p), a.filter, a.order, a.first, a.after);
             }))
      .Arg("filter", "AnimeFilter")
      .Arg("orderBy", "AnimeOrder", "YEAR_ASC")
      .Arg("first", "Int", "20")
      .Arg("after", "String")
      .Cost(1, 5);
  b.Get("Company")
      .Field("anime", "AnimeConnection!", Guarded([](const ResolveParams& p, RequestContext& ctx) {
               std::string role = Lower(EnumArg(p, "role").value_or("STUDIO"));
               NestedListArgs a = NestedListArgsOf(p, ctx, "Company.anime");
               return ctx.loaders.CompanyAnime(ParentIds(p), role, a.filter, a.order, a.first,
                                               a.after);
             }))
      .Arg("role", "CompanyRole", "STUDIO")
      .Arg("filter", "AnimeFilter")
      .Arg("orderBy", "AnimeOrder", "YEAR_ASC")
      .Arg("first", "Int", "20")
      .Arg("after", "String")
      .Cost(1, 20);
  b.Get("Episode").Field("anime", "Anime!",
                         Guarded([](const ResolveParams& p, RequestContext& ctx) {
                           return LoadParentsAnime(p, ctx, "animeId");
                         }));
  b.Get("OriginalWork")
      .Field("anime", "[Anime!]!", Guarded([](const ResolveParams& p, RequestContext& ctx) {
               return ctx.loaders.OriginalWorkAnime(
                   ParentIds(p), IntArg(p, "first", 0, ctx.options.max_page_size));
             }))
      .Arg("first", "Int", "20")
      .Cost(1, 10);

  b.Union("SearchResult", "An entity found by the search lane.")
      .Member("Anime")
      .Member("Character")
      .Member("Company");
  auto hit = b.Object("SearchHit", "One typeahead suggestion.");
  hit.Field("kind", "SearchKind!");
  hit.Field("matched", "String!").Description("The name that matched, as written.");
  hit.Field("match", "MatchType!");
  hit.Field("node", "SearchResult", Guarded([](const ResolveParams& p, RequestContext& ctx) {
              // A hit with a label was searched for a selection the label answers (see
              // CardsSuffice). Otherwise the search cached every hit's entity; Load asks the
              // database only if a hit came without its row (search terms and catalogue out of
              // step; Load then applies the by-id rules, which follow merges).
              std::vector<Value> out(p.parents.size());
              for (size_t i = 0; i < p.parents.size(); ++i) {
                const Value& h = p.parents[i]->Deref();
                if (const Value* label = h.Find("_label")) {
                  out[i] = SearchCard(static_cast<EntityKind>(h.Find("_kind")->AsInt()),
                                      h.Find("_id")->AsString(), label->AsString());
                }
              }
              for (EntityKind kind :
                   {EntityKind::kAnime, EntityKind::kCharacter, EntityKind::kCompany}) {
                std::vector<size_t> at;
                std::vector<std::string> ids;
                for (size_t i = 0; i < p.parents.size(); ++i) {
                  const Value& h = p.parents[i]->Deref();
                  if (!h.Find("_label") && h.Find("_kind")->AsInt() == static_cast<int64_t>(kind)) {
                    at.push_back(i);
                    ids.emplace_back(h.Find("_id")->AsString());
                  }
                }
                if (ids.empty()) continue;
                auto loaded = LoadRefs(ctx, kind, ids);
                for (size_t j = 0; j < at.size(); ++j) out[at[j]] = std::move(loaded[j]);
              }
              return out;
            }))
      .Description("The entity, to hydrate; null if it was deleted since.");

  b.Object("RecordViewPayload", "The anime's counters after the view.").Field("animeId", "ID!");
  b.Get("RecordViewPayload").Field("viewCount", "Int!");
  b.Get("RecordViewPayload").Field("version", "Int!");
  b.Object("UpdateAnimePayload", "The anime after the update.").Field("version", "Int!");
  b.Get("UpdateAnimePayload")
      .Field("changeToken", "String!")
      .Description(
          "Names the update's committed transaction. Pass it unchanged as `min_change_token` of "
          "a gRPC graph call (PostgresGraphService) to get an answer that includes the update.");
  b.Get("UpdateAnimePayload")
      .Field("anime", "Anime", Guarded([](const ResolveParams& p, RequestContext& ctx) {
               return LoadParentsAnime(p, ctx, "_id");
             }))
      .Description("Read back from the read pool (a replica may lag behind the write).");

  b.Input("UpdateAnimeInput", "Fields to change; absent fields stay as they are, null clears.")
      .InputField("title", "String")
      .InputField("titleEnglish", "String")
      .InputField("titleJapanese", "String")
      .InputField("synonyms", "[String!]")
      .InputField("type", "AnimeType")
      .InputField("status", "AnimeStatus")
      .InputField("season", "Season")
      .InputField("year", "Int")
      .InputField("episodeCount", "Int")
      .InputField("synopsis", "String")
      .InputField("score", "Float");

  auto query = b.Object("Query");
  AddByIdRoots(query, EntityKind::kAnime, "Anime", "anime", "animes");
  AddByIdRoots(query, EntityKind::kCharacter, "Character", "character", "characters");
  AddByIdRoots(query, EntityKind::kEpisode, "Episode", "episode", "episodes");
  AddByIdRoots(query, EntityKind::kCompany, "Company", "company", "companies");
  AddByIdRoots(query, EntityKind::kOriginalWork, "OriginalWork", "originalWork", "");
  query
      .Field("animeList", "AnimeConnection!",
             Guarded([](const ResolveParams& p, RequestContext& ctx) {
               int first = IntArg(p, "first", 0, ctx.options.max_page_size);
               std::string order = EnumArg(p, "orderBy").value_or("POPULARITY_DESC");
               AnimeListFilter filter = ListFilterArg(p);
               std::optional<ListCursor> after;
               if (const Value* a = p.Arg("after"); a && !a->IsNull()) {
                 after = ListCursorArg(a->AsString(), order);
               }
               return Root(p, ctx.loaders.AnimeList(filter, order, first, after));
             }))
      .Description(
          "Browse the catalogue: anime matching `filter` in `orderBy` order, a page at a time "
          "(keyset cursors: a deep page costs what the first costs).")
      .Arg("filter", "AnimeFilter")
      .Arg("orderBy", "AnimeOrder", "POPULARITY_DESC")
      .Arg("first", "Int", "20", "Page size, at most 100.")
      .Arg("after", "String", std::nullopt, "An endCursor or edge cursor of the same ordering.")
      .Cost(1, 20);
  query
      .Field(
          "search", "[SearchHit!]!", Guarded([](const ResolveParams& p, RequestContext& ctx) {
            std::string_view q = Trim(p.Arg("query")->AsString());
            // libpq sends parameters as C strings: a NUL would silently cut the query.
            if (q.find('\0') != std::string_view::npos) {
              throw UserError("query: contains a NUL character");
            }
            int limit = IntArg(p, "limit", 1, kMaxSearchLimit);
            size_t length = CodePoints(q);
            if (length > kMaxSearchLength) {
              throw UserError("query: at most " + std::to_string(kMaxSearchLength) + " characters");
            }
            std::vector<int> kinds;
            if (const Value* k = p.Arg("kinds"); k && !k->IsNull()) {
              for (const Value& v : k->AsList()) {
                const std::string& name = v.AsEnum();
                kinds.push_back(name == "ANIME" ? 1 : name == "CHARACTER" ? 2 : 3);
              }
            } else {
              kinds = {1, 2, 3};
            }
            // Too short to mean anything: answer at once instead of scanning.
            if (length < kMinSearchLength || kinds.empty()) return Root(p, Value(ValueList{}));
            ValueList hits;
            bool cards = CardsSuffice(p);
            for (auto& row : ctx.loaders.Search(std::string(q), kinds, limit, !cards)) {
              static constexpr const char* kKinds[] = {"ANIME", "CHARACTER", "COMPANY"};
              static constexpr const char* kMatch[] = {"EXACT", "PREFIX", "FUZZY"};
              ValueMap h;
              h.emplace_back("kind", Value(kKinds[static_cast<int>(row.kind)]));
              h.emplace_back("matched", Value(std::move(row.matched)));
              h.emplace_back("match", Value(kMatch[std::clamp(row.match_class, 0, 2)]));
              h.emplace_back("_kind", Value(static_cast<int64_t>(row.kind)));
              h.emplace_back("_id", Value(std::move(row.id)));
              if (cards && row.label) h.emplace_back("_label", Value(std::move(*row.label)));
              hits.emplace_back(std::move(h));
            }
            return Root(p, Value(std::move(hits)));
          }))
      .Description(
          "Typeahead over anime titles and synonyms, character and company names: "
          "exact matches first, then prefixes, then similar spellings; popularity "
          "breaks ties. Queries shorter than 2 characters return nothing.")
      .Arg("query", "String!")
      .Arg("kinds", "[SearchKind!]", std::nullopt, "Default: all kinds.")
      .Arg("limit", "Int", "10", "At most 50.")
      .Cost(1, 10);

  auto mutation = b.Object("Mutation");
  mutation
      .Field("recordView", "RecordViewPayload!",
             Guarded([](const ResolveParams& p, RequestContext& ctx) {
               std::string id = RequireUuid(*p.Arg("animeId"), "animeId");
               std::string view_id;
               if (const Value* v = p.Arg("viewId"); v && !v->IsNull()) {
                 view_id = v->AsString();
                 if (view_id.empty() || view_id.size() > 128) {
                   throw UserError("Invalid input: viewId must be 1 to 128 characters");
                 }
               }
               int64_t view_count = 0, version = 0;
               if (ctx.options.views) {
                 auto r = ctx.options.views->Record(id, view_id);
                 if (r.outcome == write::ViewRecord::Outcome::kMerged) {
                   throw UserError("This anime was merged into " + r.merged_into +
                                   "; nothing was changed: send the mutation for " + r.merged_into +
                                   ".");
                 }
                 if (r.outcome == write::ViewRecord::Outcome::kNotFound) {
                   throw UserError("No anime with this id.");
                 }
                 if (r.outcome == write::ViewRecord::Outcome::kRefused) {
                   throw UserError(
                       "This view was not counted: the database has not taken this replica's "
                       "views for a while and it holds as many unwritten anime as it may "
                       "(serve --view-max-pending-anime); try again later.");
                 }
                 view_count = r.view_count;
                 version = r.version;
               } else {
                 auto result = ApplyForClient(ctx.applier, MakeEvent(write::AnimeViewed{id}));
                 ctx.loaders.Evict(EntityKind::kAnime, id);
                 view_count = std::stoll(result.message);
                 version = result.version;
               }
               ValueMap m;
               m.emplace_back("animeId", Value(id));
               m.emplace_back("viewCount", Value(view_count));
               m.emplace_back("version", Value(version));
               return Root(p, Value(std::move(m)));
             }))
      .Description(
          "Counts one view of an anime. Views are added to the catalogue in bulk every "
          "flush interval (serve --view-flush-ms); viewCount is the count as of this "
          "replica's last flush plus its views not yet written. A viewId seen by this replica "
          "within the deduplication window is not counted again.")
      .Arg("animeId", "ID!")
      .Arg("viewId", "String", std::nullopt,
           "Optional client key of this view (1-128 characters): a retry with the same key is "
           "counted once.");
  mutation
      .Field("updateAnime", "UpdateAnimePayload!",
             Guarded([](const ResolveParams& p, RequestContext& ctx) {
               std::string id = RequireUuid(*p.Arg("id"), "id");
               auto update =
                   UpdateFromInput(id, *p.Arg("input"), p.Arg("expectedVersion")->AsInt());
               auto result = ApplyForClient(ctx.applier, MakeEvent(std::move(update)));
               if (result.outcome == write::Outcome::kIgnoredStale) {
                 throw UserError("stale version: " + result.message + "; nothing was changed");
               }
               ctx.loaders.Evict(EntityKind::kAnime, id);
               ValueMap m;
               m.emplace_back("version", Value(result.version));
               // The text changes::FormatXid gives, as the gRPC write service returns it.
               m.emplace_back("changeToken", Value(std::to_string(result.change_token)));
               m.emplace_back("_id", Value(id));
               return Root(p, Value(std::move(m)));
             }))
      .Description(
          "Changes fields of an anime if it is still at `expectedVersion` (optimistic "
          "concurrency); otherwise fails with a stale-version error and writes nothing.")
      .Arg("id", "ID!")
      .Arg("input", "UpdateAnimeInput!")
      .Arg("expectedVersion", "Int!");
  b.MutationType("Mutation");

  AddSubscriptions(b);

  auto built = std::move(b).Build();
  if (!built.schema) throw std::logic_error("GraphQL API schema: " + built.error);
  return std::move(built.schema);
}

}  // namespace

GraphqlApi::GraphqlApi(GraphqlApiOptions options) : options_(options) {
  graphql::EngineOptions engine_options;
  engine_options.validation.max_depth = options_.max_depth;
  engine_options.validation.max_aliases = options_.max_aliases;
  engine_options.validation.max_cost = options_.max_cost;
  engine_options.validation.introspection = options_.introspection;
  engine_ = std::make_unique<graphql::Engine>(std::shared_ptr<const graphql::Schema>(BuildSchema()),
                                              engine_options);
}

GraphqlApi::~GraphqlApi() = default;

/// Loaders shared by the executions of one batch of changes: an anime several subscriptions
/// ask for is read once per batch.
struct EventScope {
  EventScope(db::Pool& pool, const GraphqlApiOptions& options)
      : ctx{RequestLoaders(pool, LoaderOptions{options.acquire_timeout, options.statement_timeout}),
            options.applier, options} {}
  RequestContext ctx;
};

std::shared_ptr<EventScope> GraphqlApi::NewEventScope() const {
  return std::make_shared<EventScope>(
      options_.event_pool ? *options_.event_pool : options_.read_pool, options_);
}

std::string GraphqlApi::ExecuteEvent(const GraphqlRequest& request, const graphql::Value& event,
                                     EventScope& scope) const {
  graphql::EngineRequest er;
  er.query = request.query;
  er.operation_name = request.operation_name;
  er.variables = request.variables;
  er.context = &scope.ctx;
  er.prepared = request.prepared;
  er.root_value = &event;
  return engine_->Execute(er).json;
}

SubscriptionStream GraphqlApi::ResolveSubscription(const graphql::PreparedDocument& prepared,
                                                   std::string_view operation_name,
                                                   const graphql::ValueMap* variables) const {
  SubscriptionStream stream;
  auto fail = [&](std::vector<graphql::Error> errors) {
    stream.error_json = "[";
    for (size_t i = 0; i < errors.size(); ++i) {
      if (i) stream.error_json += ',';
      graphql::AppendErrorJson(stream.error_json, errors[i]);
    }
    stream.error_json += ']';
    return std::move(stream);
  };
  if (prepared.parsed.error) return fail({*prepared.parsed.error});
  if (!prepared.validation_errors.empty()) return fail(prepared.validation_errors);
  auto field = graphql::ResolveSubscriptionField(engine_->schema(), *prepared.parsed.document,
                                                 operation_name, variables);
  if (!field.errors.empty()) return fail(std::move(field.errors));
  auto arg_error = [&](std::string message) {
    return fail({graphql::Error{std::move(message), {}, {field.response_key}}});
  };
  try {
    if (field.name == "animeChanged") {
      stream.field = SubscriptionStream::Field::kAnimeChanged;
      for (const auto& [k, v] : field.args) {
        if (k == "ids") stream.anime_ids = RequireUuids(v, "ids", options_.max_page_size);
      }
      if (stream.anime_ids.empty()) return arg_error("ids: name at least one anime");
    } else if (field.name == "catalogueChanged") {
      stream.field = SubscriptionStream::Field::kCatalogueChanged;
    } else {
      return arg_error("Unknown subscription field " + field.name + ".");
    }
  } catch (const UserError& e) {
    return arg_error(e.what());
  }
  for (const auto& [k, v] : field.args) {
    if (k != "kinds" || v.IsNull()) continue;
    stream.kinds_filtered = true;
    for (const Value& kind : v.AsList()) stream.kinds.emplace_back(kind.AsEnum());
  }
  return stream;
}

GraphqlResponse GraphqlApi::Execute(const GraphqlRequest& request) const {
  RequestContext ctx{RequestLoaders(options_.read_pool, LoaderOptions{options_.acquire_timeout,
                                                                      options_.statement_timeout}),
                     options_.applier, options_};
  graphql::EngineRequest er;
  er.query = request.query;
  er.operation_name = request.operation_name;
  er.variables = request.variables;
  er.context = &ctx;
  er.prepared = request.prepared;
  auto result = engine_->Execute(er);
  return GraphqlResponse{std::move(result.json), result.has_data, ctx.loaders.statements_sent(),
                         ctx.loaders.search_statement()};
}

std::shared_ptr<const graphql::PreparedDocument> GraphqlApi::Prepare(std::string_view query) const {
  return engine_->Prepare(query);
}

OperationKind GraphqlApi::Classify(const graphql::ParseResult& parsed,
                                   std::string_view operation_name) const {
  if (!parsed.document) return OperationKind::kUnknown;
  const graphql::OperationNode* op = nullptr;
  for (const auto& o : parsed.document->operations) {
    if (operation_name.empty() ? parsed.document->operations.size() == 1
                               : o.name == operation_name) {
      op = &o;
    }
  }
  if (!op) return OperationKind::kUnknown;
  switch (op->operation) {
    case graphql::OperationType::kQuery:
      return OperationKind::kQuery;
    case graphql::OperationType::kMutation:
      return OperationKind::kMutation;
    case graphql::OperationType::kSubscription:
      return OperationKind::kSubscription;
  }
  return OperationKind::kUnknown;
}

uint64_t GraphqlApi::documents_prepared() const { return engine_->documents_prepared(); }

std::string GraphqlApi::Sdl() const { return engine_->schema().PrintSdl(); }

std::vector<std::string> GraphqlSessionSetup() { return {std::string(db::kForceGenericPlans)}; }

int64_t RefreshSearchPopularity(db::Pool& primary) {
  auto conn = primary.Acquire(std::chrono::seconds(5));
  return conn->Execute(sql::kRefreshCompanyPopularity).GetInt64(0, 0);
}

db::StatementList SearchUpkeepStatements() {
  static constexpr const db::Statement* kAll[] = {&sql::kRefreshCompanyPopularity};
  return kAll;
}

}  // namespace psvc::api
