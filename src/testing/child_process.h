#pragma once
/// Child processes for tests that drive real servers: the service binary, nats-server,
/// PostgreSQL's pg_ctl. Output goes to a log file the test can read and print on failure.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace psvc::testing {

/// A free TCP port on 127.0.0.1 (bound, then released: good enough for tests).
int FreeTcpPort();
/// Whether something accepts TCP connections on 127.0.0.1:port.
bool AcceptsTcp(int port);

/// A spawned program with stdout and stderr appended to `log`; SIGKILLed on destruction.
class ChildProcess {
 public:
  /// `argv[0]` is looked up in PATH when it has no slash. Throws when it cannot start.
  ChildProcess(const std::vector<std::string>& argv, std::filesystem::path log);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  /// SIGKILL and reap; returns the signal that ended it (0 when it had already exited).
  int Kill();
  /// Waits for the exit; the exit code, or -1 when it had to be killed after `timeout`.
  int Wait(std::chrono::milliseconds timeout);
  bool Alive();
  pid_t pid() const { return pid_; }
  std::string Log() const;

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

/// Runs a program to completion (killed after `timeout`); its exit code, -1 when killed.
int RunProgram(const std::vector<std::string>& argv, const std::filesystem::path& log,
               std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace psvc::testing
