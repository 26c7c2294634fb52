#include "graphql/testing/anime_schema.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "graphql/json.h"

#ifndef PSVC_SOURCE_DIR
#define PSVC_SOURCE_DIR "."
#endif

namespace psvc::graphql::testing {

Value* AnimeData::Find(std::string_view id) {
  auto it = by_id.find(std::string(id));
  return it == by_id.end() ? nullptr : it->second;
}

std::string DefaultAnimeDataPath() {
  return std::string(PSVC_SOURCE_DIR) + "/src/graphql/testdata/anime_data.json";
}

std::unique_ptr<AnimeData> LoadAnimeData(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string error;
  auto v = ParseJson(ss.str(), &error);
  if (!v || !v->IsMap()) throw std::runtime_error("bad data " + path + ": " + error);
  auto data = std::make_unique<AnimeData>();
  data->root = std::move(*v);
  for (auto& [key, list] : data->root.AsMap()) {
    if (!list.IsList()) continue;
    for (auto& rec : list.AsList()) {
      if (const Value* id = rec.Find("id")) data->by_id[std::string(id->AsString())] = &rec;
    }
  }
  for (const Value& a : data->root.Find("anime")->AsList()) {
    for (const Value& id : a.Find("characterIds")->AsList()) {
      auto& list = data->anime_by_character[std::string(id.AsString())];
      if (list.empty() || list.back() != &a) list.push_back(&a);
    }
    for (const Value& id : a.Find("studioIds")->AsList()) {
      auto& list = data->anime_by_studio[std::string(id.AsString())];
      if (list.empty() || list.back() != &a) list.push_back(&a);
    }
  }
  return data;
}

namespace {

AnimeData& Data(const ResolveParams& p) { return *static_cast<AnimeData*>(p.context); }

void Count(const ResolveParams& p) {
  ++Data(p).resolver_calls[p.parent_type.name + "." + p.field.name];
}

const ValueList& Table(AnimeData& d, std::string_view name) { return d.root.Find(name)->AsList(); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
    if (!dash && std::isupper(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

Value RefOrNull(Value* v) { return v ? Value::Ref(*v) : Value(); }

// Resolves an id list field of each parent (e.g. "characterIds") to the records.
std::vector<Value> RecordsById(const ResolveParams& p, std::string_view ids_field) {
  std::vector<Value> out;
  out.reserve(p.parents.size());
  for (const Value* parent : p.parents) {
    ValueList list;
    if (const Value* ids = parent->Deref().Find(ids_field)) {
      for (const Value& id : ids->AsList()) {
        if (Value* rec = Data(p).Find(id.AsString())) list.push_back(Value::Ref(*rec));
      }
    }
    out.emplace_back(std::move(list));
  }
  return out;
}

std::vector<Value> ReverseEdges(
    const ResolveParams& p,
    const std::unordered_map<std::string, std::vector<const Value*>>& index) {
  std::vector<Value> out;
  out.reserve(p.parents.size());
  for (const Value* parent : p.parents) {
    ValueList list;
    auto it = index.find(std::string(parent->Deref().Find("id")->AsString()));
    if (it != index.end()) {
      for (const Value* a : it->second) list.push_back(Value::Ref(*a));
    }
    out.emplace_back(std::move(list));
  }
  return out;
}

}  // namespace

std::unique_ptr<Schema> BuildAnimeSchema() {
  SchemaBuilder b;
  b.Interface("Node", "An object with a global id.").Field("id", "ID!");
  b.Scalar("UUID", "A UUID in canonical lowercase text form.")
      .SpecifiedBy("https://www.rfc-editor.org/rfc/rfc4122")
      .Serialize([](const Value& v) {
        if (v.IsString() && IsUuid(v.AsString())) return v;
        return Value::Error("UUID cannot represent value: " + Inspect(v));
      })
      .Parse([](const Value& v) {
        if (v.IsString() && IsUuid(v.AsString())) return Value(std::string(v.AsString()));
        return Value::Error("Invalid UUID: " + Inspect(v));
      });
  b.Enum("AnimeType", "Format of an anime.")
      .AddValue("TV", "A television series.")
      .AddValue("MOVIE")
      .AddValue("OVA")
      .AddValue("ONA")
      .AddValue("SPECIAL")
      .AddValue("MUSIC", "", std::string("Music videos are no longer catalogued."));
  b.Enum("Role").AddValue("MAIN").AddValue("SUPPORTING");

  auto anime = b.Object("Anime", "An anime series, film or special.");
  anime.Implements("Node");
  anime.Field("id", "ID!");
  anime.Field("uuid", "UUID!");
  anime.Field("title", "String!").Description("Main title, romanised.");
  anime.Field("synonyms", "[String!]!");
  anime.Field("type", "AnimeType!");
  anime.Field("episodes", "Int");
  anime.Field("score", "Float");
  anime.Field("airing", "Boolean!");
  anime.Field("views", "Int!");
  anime
      .Field("characters", "[Character!]!",
             [](const ResolveParams& p) {
               Count(p);
               const Value* role = p.Arg("role");
               int64_t first = p.Arg("first")->IsNull() ? 1000 : p.Arg("first")->AsInt();
               std::vector<Value> out = RecordsById(p, "characterIds");
               for (Value& v : out) {
                 ValueList kept;
                 for (Value& c : v.AsList()) {
                   if (role && !role->IsNull() &&
                       c.Deref().Find("role")->AsString() != role->AsEnum()) {
                     continue;
                   }
                   if (static_cast<int64_t>(kept.size()) < first) kept.push_back(std::move(c));
                 }
                 v = Value(std::move(kept));
               }
               return out;
             })
      .Arg("role", "Role")
      .Arg("first", "Int", "10", "How many to return.")
      .Cost(1, 5);
  anime
      .Field("studios", "[Studio!]!",
             [](const ResolveParams& p) {
               Count(p);
               return RecordsById(p, "studioIds");
             })
      .Cost(1, 2);
  anime.Field("legacyRating", "String").Deprecated();

  auto character = b.Object("Character");
  character.Implements("Node");
  character.Field("id", "ID!");
  character.Field("name", "String!");
  character.Field("role", "Role!");
  character.Field("nickname", "String");
  character
      .Field("appearsIn", "[Anime!]!",
             [](const ResolveParams& p) {
               Count(p);
               return ReverseEdges(p, Data(p).anime_by_character);
             })
      .Cost(1, 1);

  auto studio = b.Object("Studio");
  studio.Implements("Node");
  studio.Field("id", "ID!");
  studio.Field("name", "String!");
  studio
      .Field("anime", "[Anime!]!",
             [](const ResolveParams& p) {
               Count(p);
               return ReverseEdges(p, Data(p).anime_by_studio);
             })
      .Cost(1, 5);

  b.Union("SearchResult", "A typeahead hit.").Member("Anime").Member("Character").Member("Studio");

  b.Input("AnimeFilter")
      .InputField("type", "AnimeType")
      .InputField("minScore", "Float", "0")
      .InputField("airing", "Boolean")
      .InputField("titleContains", "String", std::nullopt, "Case-insensitive substring.");
  b.Input("UpdateAnimeInput")
      .InputField("id", "ID!")
      .InputField("title", "String")
      .InputField("score", "Float")
      .InputField("synonyms", "[String!]");

  auto query = b.Object("Query");
  query
      .Field("anime", "Anime",
             [](const ResolveParams& p) {
               Count(p);
               Value* v = Data(p).Find(p.Arg("id")->AsString());
               bool is_anime = v && v->Find("__typename")->AsString() == "Anime";
               return std::vector<Value>(p.parents.size(), is_anime ? Value::Ref(*v) : Value());
             })
      .Arg("id", "ID!");
  query
      .Field("animes", "[Anime]!",
             [](const ResolveParams& p) {
               Count(p);
               ValueList list;
               for (const Value& id : p.Arg("ids")->AsList()) {
                 Value* v = Data(p).Find(id.AsString());
                 list.push_back(v && v->Find("__typename")->AsString() == "Anime" ? Value::Ref(*v)
                                                                                  : Value());
               }
               return std::vector<Value>(p.parents.size(), Value(std::move(list)));
             })
      .Arg("ids", "[ID!]!")
      .Cost(1, 10);
  query
      .Field(
          "allAnime", "[Anime!]!",
          [](const ResolveParams& p) {
            Count(p);
            const Value* filter = p.Arg("filter");
            int64_t first = p.Arg("first")->IsNull() ? 1000 : p.Arg("first")->AsInt();
            ValueList list;
            for (const Value& a : Table(Data(p), "anime")) {
              if (filter && filter->IsMap()) {
                const Value* type = filter->Find("type");
                if (type && !type->IsNull() && a.Find("type")->AsString() != type->AsEnum())
                  continue;
                const Value* min = filter->Find("minScore");
                const Value* score = a.Find("score");
                if (min && !min->IsNull() &&
                    (score->IsNull() || score->AsNumber() < min->AsNumber())) {
                  continue;
                }
                const Value* airing = filter->Find("airing");
                if (airing && !airing->IsNull() && a.Find("airing")->AsBool() != airing->AsBool()) {
                  continue;
                }
                const Value* tc = filter->Find("titleContains");
                if (tc && !tc->IsNull() &&
                    Lower(a.Find("title")->AsString()).find(Lower(tc->AsString())) ==
                        std::string::npos) {
                  continue;
                }
              }
              if (static_cast<int64_t>(list.size()) < first) list.push_back(Value::Ref(a));
            }
            return std::vector<Value>(p.parents.size(), Value(std::move(list)));
          })
      .Arg("filter", "AnimeFilter")
      .Arg("first", "Int", "20")
      .Cost(1, 20);
  query
      .Field("node", "Node",
             [](const ResolveParams& p) {
               Count(p);
               return std::vector<Value>(p.parents.size(),
                                         RefOrNull(Data(p).Find(p.Arg("id")->AsString())));
             })
      .Arg("id", "ID!");
  query
      .Field("character", "Character",
             [](const ResolveParams& p) {
               Count(p);
               Value* v = Data(p).Find(p.Arg("id")->AsString());
               bool ok = v && v->Find("__typename")->AsString() == "Character";
               return std::vector<Value>(p.parents.size(), ok ? Value::Ref(*v) : Value());
             })
      .Arg("id", "ID!");
  query
      .Field("search", "[SearchResult!]!",
             [](const ResolveParams& p) {
               Count(p);
               std::string term = Lower(p.Arg("term")->AsString());
               int64_t limit = p.Arg("limit")->IsNull() ? 1000 : p.Arg("limit")->AsInt();
               ValueList list;
               for (std::string_view table : {"anime", "characters", "studios"}) {
                 for (const Value& rec : Table(Data(p), table)) {
                   const Value* name = rec.Find(table == "anime" ? "title" : "name");
                   if (Lower(name->AsString()).find(term) != std::string::npos &&
                       static_cast<int64_t>(list.size()) < limit) {
                     list.push_back(Value::Ref(rec));
                   }
                 }
               }
               return std::vector<Value>(p.parents.size(), Value(std::move(list)));
             })
      .Arg("term", "String!")
      .Arg("limit", "Int", "5")
      .Cost(1, 5);
  query
      .Field("echo", "String",
             [](const ResolveParams& p) {
               std::string json;
               AppendJson(json, Value(p.args));
               return std::vector<Value>(p.parents.size(), Value(std::move(json)));
             })
      .Description("Echoes the coerced arguments as JSON.")
      .Arg("text", "String")
      .Arg("num", "Int")
      .Arg("flt", "Float")
      .Arg("flag", "Boolean")
      .Arg("ident", "ID")
      .Arg("kind", "AnimeType")
      .Arg("list", "[Int]")
      .Arg("filter", "AnimeFilter")
      .Arg("uuid", "UUID")
      .Arg("text2", "String", "\"default \\\"quoted\\\"\"");
  query.Field("failing", "String",
              [](const ResolveParams&) -> std::vector<Value> { throw std::runtime_error("boom"); });
  query.Field("nonNullFailing", "String!",
              [](const ResolveParams& p) { return std::vector<Value>(p.parents.size(), Value()); });
  query
      .Field(
          "legacy", "String",
          [](const ResolveParams& p) { return std::vector<Value>(p.parents.size(), Value("old")); })
      .Deprecated("Use `echo`.");

  auto mutation = b.Object("Mutation");
  mutation
      .Field("updateAnime", "Anime",
             [](const ResolveParams& p) {
               const Value* input = p.Arg("input");
               Value* rec = Data(p).Find(input->Find("id")->AsString());
               if (!rec || rec->Find("__typename")->AsString() != "Anime") {
                 return std::vector<Value>(p.parents.size(),
                                           Value::Error("No anime with that id."));
               }
               for (auto& [k, v] : rec->AsMap()) {
                 if (const Value* nv = input->Find(k); nv && k != "id") v = *nv;
               }
               return std::vector<Value>(p.parents.size(), Value::Ref(*rec));
             })
      .Arg("input", "UpdateAnimeInput!");
  mutation
      .Field("recordView", "Int!",
             [](const ResolveParams& p) {
               Value* rec = Data(p).Find(p.Arg("id")->AsString());
               if (!rec || rec->Find("__typename")->AsString() != "Anime") {
                 return std::vector<Value>(p.parents.size(),
                                           Value::Error("No anime with that id."));
               }
               for (auto& [k, v] : rec->AsMap()) {
                 if (k == "views") v = Value(v.AsInt() + 1);
               }
               return std::vector<Value>(p.parents.size(), Value(rec->Find("views")->AsInt()));
             })
      .Arg("id", "ID!");

  b.MutationType("Mutation");
  auto built = std::move(b).Build();
  if (!built.schema) throw std::logic_error("anime schema: " + built.error);
  return std::move(built.schema);
}

}  // namespace psvc::graphql::testing
