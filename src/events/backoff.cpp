#include "events/backoff.h"

#include <algorithm>
#include <vector>

namespace psvc::events {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      rng_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::Next() {
  std::chrono::milliseconds base = initial_;
  for (int i = 0; i < attempt_ && base < max_; ++i) base *= 2;
  base = std::min(base, max_);
  if (attempt_ < 62) ++attempt_;
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::chrono::milliseconds(
      std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(base.count()) * jitter(rng_))));
}

std::chrono::milliseconds RedeliveryDelay(int delivery_count, std::chrono::milliseconds initial,
                                          std::chrono::milliseconds max) {
  std::chrono::milliseconds d = initial;
  for (int i = 1; i < delivery_count && d < max; ++i) d *= 2;
  return std::min(d, max);
}

std::chrono::milliseconds WaitedBeforeDelivery(int delivery_count,
                                               std::chrono::milliseconds initial,
                                               std::chrono::milliseconds max) {
  std::chrono::milliseconds total{0};
  for (int n = 1; n < delivery_count; ++n) {
    std::chrono::milliseconds d = RedeliveryDelay(n, initial, max);
    total += d;
    if (d == max) {  // every later delay is max too: no need to loop per delivery
      total += max * (delivery_count - 1 - n);
      break;
    }
  }
  return total;
}

namespace {
std::vector<std::string_view> Tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}
}  // namespace

bool SubjectMatches(std::string_view pattern, std::string_view subject) {
  auto p = Tokens(pattern);
  auto s = Tokens(subject);
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == ">") return i + 1 == p.size() && s.size() > i;
    if (i >= s.size()) return false;
    if (p[i] != "*" && p[i] != s[i]) return false;
  }
  return p.size() == s.size();
}

}  // namespace psvc::events
