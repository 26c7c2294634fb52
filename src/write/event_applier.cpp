#include "write/event_applier.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

#include "db/array_literal.h"
#include "db/error.h"
#include "db/pool.h"
#include "json/json_string.h"
#include "write/write_statements.h"

namespace psvc::write {

namespace {

using db::Param;

/// The outbox payload: enough for the Qdrant Sync Service to know what to re-read.
std::string OutboxPayload(const std::string& anime_id, const char* type, const Event& cause,
                          int64_t version, const std::vector<std::string>& fields = {}) {
  std::string out = "{\"schema\":1,\"event_type\":" + json::Quoted(type) +
                    ",\"anime_id\":" + json::Quoted(anime_id) +
                    ",\"cause_event_id\":" + json::Quoted(cause.event_id) +
                    ",\"occurred_at_ms\":" + std::to_string(cause.occurred_at_ms) +
                    ",\"version\":" + std::to_string(version);
  if (!fields.empty()) {
    out += ",\"fields\":[";
    for (size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + json::Quoted(fields[i]);
    out += "]";
  }
  return out + "}";
}

Param Opt(const std::optional<std::string>& v) { return v ? Param(*v) : Param(std::nullopt); }

std::optional<std::string> OptInt(const std::optional<int32_t>& v) {
  return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
}

std::optional<std::string> OptDouble(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", *v);
  return std::string(buf);
}

void Outbox(db::Connection& conn, const std::string& anime_id, const char* type,
            const std::string& payload) {
  conn.Execute(sql::kInsertOutbox, {anime_id, type, payload});
}

/// An anime that takes no more events because a saga finished with it: merged into
/// `merged_into`, or removed (empty).
struct Retired {
  std::string merged_into;
};

/// The IGNORED_STALE result for an event naming a retired anime. A merged id is never
/// redirected for the anime an event is about: the survivor has its own source document, and
/// applying the duplicate's to it would overwrite it. The caller learns the survivor's id.
ApplyResult RetiredResult(const std::string& anime_id, const Retired& r) {
  if (r.merged_into.empty()) {
    return {Outcome::kIgnoredStale, 0,
            "anime " + anime_id + " was removed: events for it are ignored", "", true};
  }
  return {Outcome::kIgnoredStale, 0,
          "anime " + anime_id + " was merged into " + r.merged_into +
              ": events naming it are not applied; send them for " + r.merged_into,
          r.merged_into};
}

/// Worth running again from the start: a deadlock or serialization failure rolled everything
/// back, or a foreign key's target was deleted by a transaction we waited for (a saga purging a
/// relation target: the next attempt sees its redirect or tombstone and routes the edge there).
bool Retryable(const db::DbError& e) {
  return e.kind() == db::ErrorKind::kSerialization || e.sqlstate() == "23503";
}

/// Sets the change token of each result of a transaction about to commit (see
/// ApplyResult::change_token): its own id for what it applied; for the rest the newest
/// transaction that had finished by now (or its own id, when later: an event applied earlier in
/// this same transaction).
void SetChangeTokens(db::Connection& conn, std::span<ApplyResult* const> results) {
  if (results.empty()) return;
  auto r = conn.Execute(sql::kChangeTokens, {});
  auto parse = [&](int col) {
    uint64_t v = 0;
    if (r.IsNull(0, col)) return v;
    std::string_view text = r.Get(0, col);
    std::from_chars(text.data(), text.data() + text.size(), v);
    return v;
  };
  const uint64_t own = parse(0);
  const uint64_t finished = parse(1) - 1;  // the snapshot's xmax: nothing at or above finished
  for (ApplyResult* result : results) {
    result->change_token =
        result->outcome == Outcome::kApplied && own != 0 ? own : std::max(own, finished);
  }
}

const std::string& AnimeIdOf(const Event& e) {
  return std::visit([](const auto& p) -> const std::string& { return p.anime_id; }, e.payload);
}

}  // namespace

EventApplier::EventApplier(db::Pool& pool, ApplierOptions options)
    : pool_(pool), options_(std::move(options)) {}

db::StatementList EventApplier::Statements() { return sql::kAll; }

ApplyResult EventApplier::Apply(Event event) {
  if (auto error = ValidateEvent(event)) throw InvalidEvent(*error);
  auto conn = pool_.Acquire(options_.acquire_timeout);
  for (int attempt = 0;; ++attempt) {
    try {
      db::Transaction tx(*conn);
      auto result = ApplyInTransaction(*conn, event);
      ApplyResult* results[] = {&result};
      SetChangeTokens(*conn, results);
      tx.Commit();
      return result;
    } catch (const db::DbError& e) {
      if (!Retryable(e) || attempt >= options_.retries) throw;
    }
  }
}

std::vector<BatchItem> EventApplier::ApplyBatch(std::vector<Event> events) {
  std::vector<BatchItem> items(events.size());
  std::vector<size_t> valid;
  for (size_t i = 0; i < events.size(); ++i) {
    if (auto error = ValidateEvent(events[i])) {
      items[i] = {std::nullopt, BatchItem::Error::kInvalid, *error};
    } else {
      valid.push_back(i);
    }
  }
  if (valid.empty()) return items;
  auto conn = pool_.Acquire(options_.acquire_timeout);
  db::Transaction tx(*conn);
  for (size_t k = 0; k < valid.size();) {
    // A run: consecutive AnimeEnriched events, each anime and event id once. Anything else
    // (other event types, a second event for the same anime) goes one by one, in order.
    std::vector<size_t> run;
    std::unordered_set<std::string> anime, event_ids;
    for (; k < valid.size(); ++k) {
      const Event& e = events[valid[k]];
      const auto* enriched = std::get_if<AnimeEnriched>(&e.payload);
      if (enriched == nullptr || anime.count(enriched->anime_id) || event_ids.count(e.event_id)) {
        break;
      }
      anime.insert(enriched->anime_id);
      event_ids.insert(e.event_id);
      run.push_back(valid[k]);
    }
    if (run.empty()) {
      ApplyEachInSavepoints(*conn, events, {valid[k++]}, items);
      continue;
    }
    conn->Exec("SAVEPOINT run");
    try {
      ApplyEnrichedRun(*conn, events, run, items);
      conn->Exec("RELEASE SAVEPOINT run");
    } catch (const db::DbError&) {
      if (!conn->Healthy()) throw;  // the connection is gone: the caller retries the batch
      // Something in the run failed (a row the database refuses, a deadlock): undo the run
      // and apply its events one by one, so each gets its own outcome.
      conn->Exec("ROLLBACK TO SAVEPOINT run");
      conn->Exec("RELEASE SAVEPOINT run");
      for (size_t i : run) items[i] = {};
      PreinsertSharedEntities(*conn, events, run);
      ApplyEachInSavepoints(*conn, events, run, items);
    }
  }
  std::vector<ApplyResult*> results;
  for (auto& item : items) {
    if (item.result) results.push_back(&*item.result);
  }
  SetChangeTokens(*conn, results);
  tx.Commit();
  return items;
}

void EventApplier::PreinsertSharedEntities(db::Connection& conn, const std::vector<Event>& events,
                                           const std::vector<size_t>& which) {
  std::vector<std::string> company_ids, company_names, character_ids, character_names, work_ids,
      work_titles;
  for (size_t i : which) {
    if (const auto* e = std::get_if<AnimeEnriched>(&events[i].payload)) {
      for (const auto& c : e->companies)
        company_ids.push_back(c.company_id), company_names.push_back(c.name);
      for (const auto& c : e->characters)
        character_ids.push_back(c.character_id), character_names.push_back(c.name);
      for (const auto& w : e->original_works)
        work_ids.push_back(w.original_work_id), work_titles.push_back(w.title);
    }
  }
  if (!company_ids.empty()) {
    conn.Execute(sql::kPreinsertCompanies,
                 {db::ArrayLiteral(company_ids), db::ArrayLiteral(company_names)});
  }
  if (!character_ids.empty()) {
    conn.Execute(sql::kPreinsertCharacters,
                 {db::ArrayLiteral(character_ids), db::ArrayLiteral(character_names)});
  }
  if (!work_ids.empty()) {
    conn.Execute(sql::kPreinsertWorks, {db::ArrayLiteral(work_ids), db::ArrayLiteral(work_titles)});
  }
}

void EventApplier::ApplyEachInSavepoints(db::Connection& conn, const std::vector<Event>& events,
                                         const std::vector<size_t>& which,
                                         std::vector<BatchItem>& items) {
  for (size_t i : which) {
    // A savepoint per event: one event's failure rolls back that event only, and the whole
    // batch pays for one commit (one WAL flush) instead of one per event.
    for (int attempt = 0;; ++attempt) {
      conn.Exec("SAVEPOINT event");
      try {
        items[i].result = ApplyInTransaction(conn, events[i]);
        conn.Exec("RELEASE SAVEPOINT event");
        break;
      } catch (const AnimeNotFound& e) {
        conn.Exec("ROLLBACK TO SAVEPOINT event");
        items[i] = {std::nullopt, BatchItem::Error::kNotFound, e.what()};
        break;
      } catch (const db::DbError& e) {
        if (!conn.Healthy()) throw;  // the connection is gone: the caller retries the batch
        conn.Exec("ROLLBACK TO SAVEPOINT event");
        if (Retryable(e) && attempt < options_.retries) continue;
        items[i] = {std::nullopt,
                    e.kind() == db::ErrorKind::kInvalidInput ? BatchItem::Error::kInvalid
                                                             : BatchItem::Error::kTransient,
                    std::string(db::ToString(e.kind())), e.kind()};
        break;
      }
    }
  }
}

void EventApplier::ApplyEnrichedRun(db::Connection& conn, std::span<const Event> events,
                                    const std::vector<size_t>& run, std::vector<BatchItem>& items) {
  auto enriched = [&](size_t i) -> const AnimeEnriched& {
    return std::get<AnimeEnriched>(events[i].payload);
  };
  constexpr const char* kType = "AnimeEnriched";

  // 1. Claim the event ids; the others were processed before and change nothing.
  std::vector<std::string> event_ids, anime_ids;
  for (size_t i : run) {
    event_ids.push_back(events[i].event_id);
    anime_ids.push_back(enriched(i).anime_id);
  }
  auto claimed_rows = conn.Execute(
      sql::kRunClaimEvents, {db::ArrayLiteral(event_ids), db::ArrayLiteral(anime_ids), kType});
  std::unordered_set<std::string> claimed;
  for (int r = 0; r < claimed_rows.rows(); ++r) claimed.emplace(claimed_rows.Get(r, 0));
  std::vector<size_t> todo;
  std::vector<std::string> unclaimed;
  for (size_t i : run) {
    if (claimed.count(events[i].event_id)) {
      todo.push_back(i);
    } else {
      unclaimed.push_back(events[i].event_id);
    }
  }
  if (!unclaimed.empty()) {
    auto prev = conn.Execute(sql::kRunPreviousOutcomes, {db::ArrayLiteral(unclaimed)});
    std::unordered_map<std::string, std::string> outcome;
    for (int r = 0; r < prev.rows(); ++r) outcome.emplace(prev.Get(r, 0), prev.Get(r, 1));
    for (size_t i : run) {
      if (claimed.count(events[i].event_id)) continue;
      auto it = outcome.find(events[i].event_id);
      items[i].result = ApplyResult{Outcome::kAlreadyApplied, 0,
                                    "event " + events[i].event_id + " was processed before (" +
                                        (it == outcome.end() ? "?" : it->second) + ")",
                                    ""};
    }
  }
  if (todo.empty()) return;

  // 2. Lock the anime that exist (id order); learn which are newer or retired.
  std::vector<std::string> ids, ats;
  for (size_t i : todo) {
    ids.push_back(enriched(i).anime_id);
    ats.push_back(std::to_string(events[i].occurred_at_ms));
  }
  auto locked = conn.Execute(sql::kRunLockAnime, {db::ArrayLiteral(ids), db::ArrayLiteral(ats)});
  std::unordered_map<std::string, Retired> retired;
  std::unordered_set<std::string> existing, newer;
  for (int r = 0; r < locked.rows(); ++r) {
    std::string id(locked.Get(r, 0));
    existing.insert(id);
    if (locked.GetBool(r, 1)) newer.insert(id);
    if (!locked.IsNull(r, 2)) retired.emplace(id, Retired{std::string(locked.Get(r, 2))});
  }
  if (existing.size() < ids.size()) {
    std::vector<std::string> missing;
    for (const auto& id : ids) {
      if (!existing.count(id)) missing.push_back(id);
    }
    auto gone = conn.Execute(sql::kRunRetiredIds, {db::ArrayLiteral(missing)});
    for (int r = 0; r < gone.rows(); ++r) {
      retired.emplace(gone.Get(r, 0),
                      Retired{gone.IsNull(r, 1) ? std::string() : std::string(gone.Get(r, 1))});
    }
  }

  // 3. Stale events are recorded with the reason and change nothing (rules as in
  //    ApplyInTransaction).
  std::vector<size_t> apply;
  std::vector<std::string> stale_ids, stale_why;
  for (size_t i : todo) {
    const std::string& id = enriched(i).anime_id;
    ApplyResult stale{Outcome::kIgnoredStale, 0, "", ""};
    if (auto it = retired.find(id); it != retired.end()) {
      stale = RetiredResult(id, it->second);
    } else if (newer.count(id)) {
      stale.message = "a newer event for this anime was applied before (occurred_at is older)";
    } else {
      apply.push_back(i);
      continue;
    }
    stale_ids.push_back(events[i].event_id);
    stale_why.push_back(stale.message);
    items[i].result = std::move(stale);
  }
  if (!stale_ids.empty()) {
    conn.Execute(sql::kRunMarkStale, {db::ArrayLiteral(stale_ids), db::ArrayLiteral(stale_why)});
  }
  if (apply.empty()) return;

  // 4. The anime rows.
  std::vector<std::string> a_ids, titles, synonyms, types, statuses, a_at;
  std::vector<std::optional<std::string>> english, japanese, seasons, years, counts, synopses,
      scores;
  for (size_t i : apply) {
    const auto& f = enriched(i).fields;
    a_ids.push_back(enriched(i).anime_id);
    titles.push_back(f.title);
    english.push_back(f.title_english);
    japanese.push_back(f.title_japanese);
    synonyms.push_back(db::ArrayLiteral(f.synonyms));
    types.push_back(f.type);
    statuses.push_back(f.status);
    seasons.push_back(f.season);
    years.push_back(OptInt(f.year));
    counts.push_back(OptInt(f.episode_count));
    synopses.push_back(f.synopsis);
    scores.push_back(OptDouble(f.score));
    a_at.push_back(std::to_string(events[i].occurred_at_ms));
  }
  auto upserted =
      conn.Execute(sql::kRunUpsertAnime,
                   {db::ArrayLiteral(a_ids), db::ArrayLiteral(titles), db::ArrayLiteral(english),
                    db::ArrayLiteral(japanese), db::ArrayLiteral(synonyms), db::ArrayLiteral(types),
                    db::ArrayLiteral(statuses), db::ArrayLiteral(seasons), db::ArrayLiteral(years),
                    db::ArrayLiteral(counts), db::ArrayLiteral(synopses), db::ArrayLiteral(scores),
                    db::ArrayLiteral(a_at)});
  std::unordered_map<std::string, int64_t> version;
  for (int r = 0; r < upserted.rows(); ++r)
    version.emplace(upserted.Get(r, 0), upserted.GetInt64(r, 1));

  // 5. Shared entities (the last mention in the run wins) and the replaced sets.
  std::vector<std::string> co_anime, co_ids, co_names, co_roles;
  std::vector<std::string> ch_anime, ch_ids, ch_names, ch_favorites, ch_roles;
  std::vector<std::optional<std::string>> ch_japanese, w_authors;
  std::vector<std::string> w_anime, w_ids, w_titles, w_kinds;
  std::vector<std::string> r_source, r_related, r_types;
  for (size_t i : apply) {
    const auto& e = enriched(i);
    for (const auto& c : e.companies) {
      co_anime.push_back(e.anime_id);
      co_ids.push_back(c.company_id);
      co_names.push_back(c.name);
      co_roles.push_back(c.role);
    }
    for (const auto& c : e.characters) {
      ch_anime.push_back(e.anime_id);
      ch_ids.push_back(c.character_id);
      ch_names.push_back(c.name);
      ch_japanese.push_back(c.name_japanese);
      ch_favorites.push_back(std::to_string(c.favorites));
      ch_roles.push_back(c.role);
    }
    for (const auto& w : e.original_works) {
      w_anime.push_back(e.anime_id);
      w_ids.push_back(w.original_work_id);
      w_titles.push_back(w.title);
      w_kinds.push_back(w.kind);
      w_authors.push_back(w.author);
    }
    for (const auto& r : e.relations) {
      r_source.push_back(e.anime_id);
      r_related.push_back(r.related_anime_id);
      r_types.push_back(r.relation_type);
    }
  }
  if (!co_ids.empty()) {
    conn.Execute(sql::kRunUpsertCompanies, {db::ArrayLiteral(co_ids), db::ArrayLiteral(co_names)});
  }
  if (!ch_ids.empty()) {
    conn.Execute(sql::kRunUpsertCharacters,
                 {db::ArrayLiteral(ch_ids), db::ArrayLiteral(ch_names),
                  db::ArrayLiteral(ch_japanese), db::ArrayLiteral(ch_favorites)});
  }
  if (!w_ids.empty()) {
    conn.Execute(sql::kRunUpsertWorks, {db::ArrayLiteral(w_ids), db::ArrayLiteral(w_titles),
                                        db::ArrayLiteral(w_kinds), db::ArrayLiteral(w_authors)});
  }
  const std::string applied_ids = db::ArrayLiteral(a_ids);
  conn.Execute(sql::kRunDeleteSets, {applied_ids});
  if (!co_ids.empty() || !ch_ids.empty() || !w_ids.empty()) {
    conn.Execute(sql::kRunInsertLinks,
                 {db::ArrayLiteral(co_anime), db::ArrayLiteral(co_ids), db::ArrayLiteral(co_roles),
                  db::ArrayLiteral(ch_anime), db::ArrayLiteral(ch_ids), db::ArrayLiteral(ch_roles),
                  db::ArrayLiteral(w_anime), db::ArrayLiteral(w_ids), applied_ids});
  }
  if (!r_source.empty()) {
    conn.Execute(sql::kRunInsertRelations, {db::ArrayLiteral(r_source), db::ArrayLiteral(r_related),
                                            db::ArrayLiteral(r_types)});
  }

  // 6. Relations that waited for these anime, then the outbox: changed sources first, as the
  //    one-by-one path writes them, then one row per event in order.
  auto sources = conn.Execute(sql::kRunMaterializePending, {applied_ids});
  std::unordered_map<std::string, size_t> event_of;
  for (size_t i : apply) event_of.emplace(enriched(i).anime_id, i);
  std::vector<std::string> o_ids, o_types, o_payloads;
  for (int r = 0; r < sources.rows(); ++r) {
    std::string source(sources.Get(r, 0));
    const Event& cause = events[event_of.at(std::string(sources.Get(r, 1)))];
    o_ids.push_back(source);
    o_types.push_back("AnimeRelationsChanged");
    o_payloads.push_back(OutboxPayload(source, "AnimeRelationsChanged", cause, 0));
  }
  for (size_t i : apply) {
    const std::string& id = enriched(i).anime_id;
    o_ids.push_back(id);
    o_types.push_back(kType);
    o_payloads.push_back(OutboxPayload(id, kType, events[i], version.at(id)));
  }
  conn.Execute(sql::kRunInsertOutbox,
               {db::ArrayLiteral(o_ids), db::ArrayLiteral(o_types), db::ArrayLiteral(o_payloads)});

  for (size_t i : apply) {
    if (options_.before_commit) options_.before_commit(events[i]);
    items[i].result = ApplyResult{Outcome::kApplied, version.at(enriched(i).anime_id), "", ""};
  }
}

int EventApplier::MaterializeStrandedRelations() {
  auto conn = pool_.Acquire(options_.acquire_timeout);
  db::Transaction tx(*conn);
  auto sources = conn->Execute(sql::kMaterializeStranded, {});
  for (int i = 0; i < sources.rows(); ++i) {
    std::string source(sources.Get(i, 0));
    Event cause{"", 0, "postgres-service", AnimeViewed{source}};
    Outbox(*conn, source, "AnimeRelationsChanged",
           OutboxPayload(source, "AnimeRelationsChanged", cause, 0));
  }
  tx.Commit();
  return sources.rows();
}

ApplyResult EventApplier::ApplyInTransaction(db::Connection& conn, const Event& event) {
  if (std::holds_alternative<AnimeEnriched>(event.payload)) {
    // One code path for enrichments, alone or many at a time: a run of one.
    std::vector<BatchItem> items(1);
    ApplyEnrichedRun(conn, std::span<const Event>(&event, 1), {0}, items);
    return *items[0].result;
  }
  const std::string& anime_id = AnimeIdOf(event);
  const char* type = EventTypeName(event);
  const std::string occurred = std::to_string(event.occurred_at_ms);
  ApplyResult result;

  if (!std::holds_alternative<AnimeViewed>(event.payload)) {
    auto claim = conn.Execute(sql::kClaimEvent, {event.event_id, type, anime_id});
    if (claim.rows() == 0) {
      auto prev = conn.Execute(sql::kPreviousOutcome, {event.event_id});
      result.outcome = Outcome::kAlreadyApplied;
      result.message = "event " + event.event_id + " was processed before (" +
                       std::string(prev.rows() ? prev.Get(0, 0) : "?") + ")";
      return result;  // nothing was written
    }
  }

  auto stale = [&](ApplyResult result) {
    conn.Execute(sql::kMarkStale, {event.event_id, result.message});
    return result;
  };
  auto not_found = [&](const char* field) -> AnimeNotFound {
    return AnimeNotFound(std::string(field) + ": no anime with id " + anime_id);
  };
  // Rule (docs/events.md): an anime that a saga merged into another or removed takes no more
  // events. They are recorded as IGNORED_STALE with the reason (and the survivor's id) and
  // change nothing (redelivery-safe, never dead-lettered). An anime a saga is still working on
  // takes events as usual (docs/sagas.md). `current` is the kLockAnime row (locked, so a saga
  // step that committed meanwhile is seen).
  auto retired = [&](const db::Result& current) -> std::optional<Retired> {
    if (current.rows() == 1) {
      if (current.IsNull(0, 2)) return std::nullopt;
      return Retired{std::string(current.Get(0, 2))};
    }
    auto gone = conn.Execute(sql::kRetiredId, {anime_id});
    if (gone.rows() == 0) return std::nullopt;
    return Retired{gone.IsNull(0, 0) ? std::string() : std::string(gone.Get(0, 0))};
  };
  auto ignore_retired = [&](const Retired& r) { return stale(RetiredResult(anime_id, r)); };

  if (const auto* ep = std::get_if<EpisodeAired>(&event.payload)) {
    auto current = conn.Execute(sql::kLockAnime, {ep->anime_id, occurred});
    if (auto why = retired(current)) return ignore_retired(*why);
    if (current.rows() == 0) throw not_found("episode_aired.anime_id");
    conn.Execute(sql::kUpsertEpisode,
                 {ep->episode_id, ep->anime_id, std::to_string(ep->number), Opt(ep->title),
                  Opt(ep->aired_on), Opt(OptInt(ep->duration_seconds))});
    auto version = conn.Execute(sql::kBumpForEpisode, {ep->anime_id, std::to_string(ep->number)});
    result.version = version.GetInt64(0, 0);
    Outbox(conn, ep->anime_id, type, OutboxPayload(ep->anime_id, type, event, result.version));
  } else if (const auto* u = std::get_if<AnimeUpdated>(&event.payload)) {
    auto current = conn.Execute(sql::kLockAnime, {u->anime_id, occurred});
    if (auto why = retired(current)) return ignore_retired(*why);
    if (current.rows() == 0) throw not_found("anime_updated.anime_id");
    int64_t stored = current.GetInt64(0, 0);
    if (stored != u->expected_version) {
      return stale({Outcome::kIgnoredStale, 0,
                    "based on version " + std::to_string(u->expected_version) +
                        " but the anime is at version " + std::to_string(stored),
                    ""});
    }
    auto has = [&](const char* name) {
      return std::find(u->mask.begin(), u->mask.end(), name) != u->mask.end() ? "true" : "false";
    };
    const auto& f = u->fields;
    auto version = conn.Execute(sql::kUpdateAnime, {u->anime_id,
                                                    has("title"),
                                                    f.title,
                                                    has("title_english"),
                                                    Opt(f.title_english),
                                                    has("title_japanese"),
                                                    Opt(f.title_japanese),
                                                    has("synonyms"),
                                                    db::ArrayLiteral(f.synonyms),
                                                    has("type"),
                                                    f.type,
                                                    has("status"),
                                                    f.status,
                                                    has("season"),
                                                    Opt(f.season),
                                                    has("year"),
                                                    Opt(OptInt(f.year)),
                                                    has("episode_count"),
                                                    Opt(OptInt(f.episode_count)),
                                                    has("synopsis"),
                                                    Opt(f.synopsis),
                                                    has("score"),
                                                    Opt(OptDouble(f.score)),
                                                    occurred});
    result.version = version.GetInt64(0, 0);
    Outbox(conn, u->anime_id, type,
           OutboxPayload(u->anime_id, type, event, result.version, u->mask));
  } else if (const auto* v = std::get_if<AnimeViewed>(&event.payload)) {
    // Views keep no processed-event record: a merged id answers IGNORED_STALE with the
    // survivor's id (nothing recorded), a removed or unknown one is not found.
    auto row = conn.Execute(sql::kRecordView, {v->anime_id});
    if (row.rows() == 0) {
      auto why = retired(row);
      if (why && !why->merged_into.empty()) return RetiredResult(anime_id, *why);
      throw not_found("anime_viewed.anime_id");
    }
    result.version = row.GetInt64(0, 0);
    result.message = std::string(row.Get(0, 1));  // the new view count
    Outbox(conn, v->anime_id, type, OutboxPayload(v->anime_id, type, event, result.version));
  }

  if (options_.before_commit) options_.before_commit(event);
  result.outcome = Outcome::kApplied;
  return result;
}

}  // namespace psvc::write
