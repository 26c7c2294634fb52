#include "events/detail/nats_util.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace psvc::events::detail {

namespace {
std::string Describe(std::string_view what, natsStatus s, jsErrCode js_code) {
  std::string out(what);
  out += ": ";
  out += natsStatus_GetText(s);
  if (js_code != 0) out += " (jetstream error " + std::to_string(static_cast<int>(js_code)) + ")";
  // nats_GetLastError is per thread and carries the server's text (e.g. "stream not found").
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  if (text && *text && last == s) {
    out += ": ";
    out += text;
  }
  return out;
}
}  // namespace

NatsError::NatsError(std::string_view what, natsStatus status, jsErrCode js_code)
    : std::runtime_error(Describe(what, status, js_code)), status_(status), js_code_(js_code) {}

void Check(natsStatus s, std::string_view what, jsErrCode js_code) {
  if (s != NATS_OK) throw NatsError(what, s, js_code);
}

natsStatus SetServers(natsOptions* opts, const std::string& urls) {
  std::vector<std::string> list;
  for (size_t start = 0; start <= urls.size();) {
    size_t end = std::min(urls.find(',', start), urls.size());
    std::string one = urls.substr(start, end - start);
    one.erase(0, one.find_first_not_of(' '));
    one.erase(one.find_last_not_of(' ') + 1);
    if (!one.empty()) list.push_back(std::move(one));
    start = end + 1;
  }
  if (list.size() <= 1) return natsOptions_SetURL(opts, list.empty() ? nullptr : list[0].c_str());
  std::vector<const char*> servers;
  for (const auto& u : list) servers.push_back(u.c_str());
  return natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
}

NatsPtr<natsConnection> Connect(const std::string& url, const std::string& name,
                                std::chrono::milliseconds timeout) {
  natsOptions* raw = nullptr;
  Check(natsOptions_Create(&raw), "natsOptions_Create");
  NatsPtr<natsOptions> opts(raw);
  Check(SetServers(opts.get(), url), "natsOptions_SetServers");
  Check(natsOptions_SetName(opts.get(), name.c_str()), "natsOptions_SetName");
  Check(natsOptions_SetTimeout(opts.get(), timeout.count()), "natsOptions_SetTimeout");
  Check(natsOptions_SetMaxReconnect(opts.get(), -1), "natsOptions_SetMaxReconnect");
  Check(natsOptions_SetReconnectWait(opts.get(), 250), "natsOptions_SetReconnectWait");
  Check(natsOptions_SetReconnectBufSize(opts.get(), 1), "natsOptions_SetReconnectBufSize");
  natsConnection* nc = nullptr;
  Check(natsConnection_Connect(&nc, opts.get()), "connect to " + url);
  return NatsPtr<natsConnection>(nc);
}

NatsPtr<jsCtx> JetStream(natsConnection* nc, std::chrono::milliseconds wait) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = wait.count();
  jsCtx* js = nullptr;
  Check(natsConnection_JetStream(&js, nc, &o), "natsConnection_JetStream");
  return NatsPtr<jsCtx>(js);
}

void EnsureStream(jsCtx* js, const StreamSpec& spec) {
  std::vector<const char*> subjects;
  for (const auto& s : spec.subjects) subjects.push_back(s.c_str());

  jsStreamInfo* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&raw, js, spec.name.c_str(), nullptr, &jerr);
  NatsPtr<jsStreamInfo> info(raw);
  if (s == NATS_NOT_FOUND) {
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = spec.name.c_str();
    cfg.Subjects = subjects.data();
    cfg.SubjectsLen = static_cast<int>(subjects.size());
    cfg.Storage = js_FileStorage;
    cfg.Duplicates = spec.duplicate_window.count();
    jsStreamInfo* created = nullptr;
    s = js_AddStream(&created, js, &cfg, nullptr, &jerr);
    NatsPtr<jsStreamInfo> guard(created);
    // Another replica may have created it between our lookup and our add: that is fine.
    if (s != NATS_OK && jerr != JSStreamNameExistErr) Check(s, "create stream " + spec.name, jerr);
    spdlog::info("events: created stream {} (subjects {}, dedup window {} s)", spec.name,
                 fmt::join(spec.subjects, ","),
                 std::chrono::duration_cast<std::chrono::seconds>(spec.duplicate_window).count());
    return;
  }
  Check(s, "stream info " + spec.name, jerr);

  jsStreamConfig* have = info->Config;
  std::set<std::string> have_subjects(have->Subjects, have->Subjects + have->SubjectsLen);
  std::set<std::string> want_subjects(spec.subjects.begin(), spec.subjects.end());
  bool dup_ok =
      spec.duplicate_window.count() == 0 || have->Duplicates == spec.duplicate_window.count();
  if (have_subjects == want_subjects && dup_ok) return;

  spdlog::warn("events: updating stream {}: subjects/dedup window differ from the configuration",
               spec.name);
  jsStreamConfig cfg = *have;  // keeps retention, limits and storage as found
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  if (spec.duplicate_window.count() != 0) cfg.Duplicates = spec.duplicate_window.count();
  jsStreamInfo* updated = nullptr;
  s = js_UpdateStream(&updated, js, &cfg, nullptr, &jerr);
  NatsPtr<jsStreamInfo> guard(updated);
  Check(s, "update stream " + spec.name, jerr);
}

std::string Header(natsMsg* msg, const char* key) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(msg, key, &v) != NATS_OK || v == nullptr) return {};
  return v;
}

}  // namespace psvc::events::detail
