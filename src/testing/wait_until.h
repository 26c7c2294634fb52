#pragma once
/// Polling for tests that wait on another thread or process.

#include <chrono>
#include <thread>

namespace psvc::testing {

/// Calls `done` every `poll` until it returns true (then true) or `timeout` passes (false).
template <class F>
bool WaitUntil(F done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

}  // namespace psvc::testing
