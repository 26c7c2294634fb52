#pragma once
/// A private nats-server (JetStream) process for one test: killed and restarted on the same
/// store directory to inject outages without disturbing the shared stack's server.

#include <sys/types.h>

#include <string>

namespace psvc::events::testing {

/// Starts `nats-server -a 127.0.0.1 -p <free port> -js -sd <fresh temp dir>`; the port and
/// the store survive Kill()/Start(). The store is removed on destruction.
class NatsServerProcess {
 public:
  NatsServerProcess();
  NatsServerProcess(const NatsServerProcess&) = delete;
  NatsServerProcess& operator=(const NatsServerProcess&) = delete;
  ~NatsServerProcess();

  /// Spawns the server and waits until it accepts connections (throws after 10 s).
  void Start();
  /// SIGKILL (no graceful shutdown: the harshest outage) and reap.
  void Kill();
  bool running() const { return pid_ > 0; }
  std::string url() const;
  int port() const { return port_; }

 private:
  int port_ = 0;
  std::string store_dir_;
  pid_t pid_ = -1;
};

/// The shared stack's NATS URL (NATS_URL), failing loudly when unset.
std::string SharedNatsUrl();

}  // namespace psvc::events::testing
