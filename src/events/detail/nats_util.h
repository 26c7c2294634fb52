#pragma once
/// nats.c handles as RAII types and the few JetStream set-up calls both event loops share.
/// Internal: includes <nats/nats.h>, so only src/events/*.cpp include it.

#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace psvc::events::detail {

/// Destroys any nats.c object through the matching *_Destroy function.
struct NatsDeleter {
  void operator()(natsConnection* p) const { natsConnection_Destroy(p); }
  void operator()(natsOptions* p) const { natsOptions_Destroy(p); }
  void operator()(jsCtx* p) const { jsCtx_Destroy(p); }
  void operator()(natsSubscription* p) const { natsSubscription_Destroy(p); }
  void operator()(natsMsg* p) const { natsMsg_Destroy(p); }
  void operator()(jsStreamInfo* p) const { jsStreamInfo_Destroy(p); }
  void operator()(jsConsumerInfo* p) const { jsConsumerInfo_Destroy(p); }
  void operator()(jsPubAck* p) const { jsPubAck_Destroy(p); }
  void operator()(jsMsgMetaData* p) const { jsMsgMetaData_Destroy(p); }
};
template <class T>
using NatsPtr = std::unique_ptr<T, NatsDeleter>;

/// A fetched batch; destroys the messages still owned by the list.
class MsgList {
 public:
  MsgList() = default;
  MsgList(const MsgList&) = delete;
  MsgList& operator=(const MsgList&) = delete;
  ~MsgList() { natsMsgList_Destroy(&list_); }
  natsMsgList* get() { return &list_; }
  int size() const { return list_.Count; }
  /// Takes message i out of the list (the list no longer destroys it).
  NatsPtr<natsMsg> Take(int i) {
    NatsPtr<natsMsg> m(list_.Msgs[i]);
    list_.Msgs[i] = nullptr;
    return m;
  }

 private:
  natsMsgList list_{};
};

/// A failed NATS call: the status, the JetStream error code (0 when none) and the text.
class NatsError : public std::runtime_error {
 public:
  NatsError(std::string_view what, natsStatus status,
            jsErrCode js_code = static_cast<jsErrCode>(0));
  natsStatus status() const { return status_; }
  jsErrCode js_code() const { return js_code_; }

 private:
  natsStatus status_;
  jsErrCode js_code_;
};

/// Throws NatsError unless s == NATS_OK.
void Check(natsStatus s, std::string_view what, jsErrCode js_code = static_cast<jsErrCode>(0));

/// Sets the servers of `opts` from a URL or a comma-separated list of URLs (a NATS cluster).
/// natsOptions_SetURL takes one URL only: a list there fails every connect.
natsStatus SetServers(natsOptions* opts, const std::string& urls);

/// Connects with reconnects forever; publishes during a disconnect fail fast instead of
/// being buffered (a buffered publish would reach the stream long after we gave up on it).
NatsPtr<natsConnection> Connect(const std::string& url, const std::string& name,
                                std::chrono::milliseconds timeout);

/// A JetStream context whose API calls wait at most `wait`.
NatsPtr<jsCtx> JetStream(natsConnection* nc, std::chrono::milliseconds wait);

/// What a stream must look like; created when missing, updated when subjects or the
/// de-duplication window differ (other settings an operator changed are left alone).
struct StreamSpec {
  std::string name;
  std::vector<std::string> subjects;
  std::chrono::nanoseconds duplicate_window{0};  ///< 0 = server default (2 min)
};
void EnsureStream(jsCtx* js, const StreamSpec& spec);

/// Value of a header, empty when absent.
std::string Header(natsMsg* msg, const char* key);

}  // namespace psvc::events::detail
