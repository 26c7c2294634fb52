#include "events/testing/nats_server_process.h"

#include "testing/child_process.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace psvc::events::testing {

using psvc::testing::AcceptsTcp;
using psvc::testing::FreeTcpPort;

NatsServerProcess::NatsServerProcess() : port_(FreeTcpPort()) {
  char tmpl[] = "/tmp/psvc-nats-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("NatsServerProcess: mkdtemp");
  store_dir_ = tmpl;
  Start();
}

NatsServerProcess::~NatsServerProcess() {
  Kill();
  std::error_code ec;
  std::filesystem::remove_all(store_dir_, ec);
}

void NatsServerProcess::Start() {
  if (pid_ > 0) return;
  std::string port = std::to_string(port_);
  std::vector<std::string> args = {
      "nats-server", "-a",  "127.0.0.1", "-p", port,
      "-js",         "-sd", store_dir_,  "-l", store_dir_ + "/nats.log"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, "nats-server", nullptr, nullptr, argv.data(), environ) != 0) {
    throw std::runtime_error("NatsServerProcess: cannot spawn nats-server");
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!AcceptsTcp(port_)) {
    if (std::chrono::steady_clock::now() > deadline) {
      Kill();
      throw std::runtime_error("NatsServerProcess: nats-server did not start; see " + store_dir_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void NatsServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string NatsServerProcess::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

std::string SharedNatsUrl() {
  const char* url = std::getenv("NATS_URL");
  if (!url || !*url) {
    throw std::runtime_error("NATS_URL is not set: run `eval \"$(scripts/stack env)\"`");
  }
  return url;
}

}  // namespace psvc::events::testing
