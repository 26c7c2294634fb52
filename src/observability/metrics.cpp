#include "observability/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace psvc::observability {

namespace {

void AtomicAdd(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  // Shortest text that reads back as the same double (0.0005, not 0.00050000000000000001).
  char buf[40];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// Label values escape backslash, double quote and newline (exposition format).
void AppendLabels(std::string& out, const Labels& labels, const char* extra_key = nullptr,
                  const std::string& extra_value = {}) {
  if (labels.empty() && !extra_key) return;
  out += '{';
  bool first = true;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '\\') out += "\\\\";
      else if (c == '"') out += "\\\"";
      else if (c == '\n') out += "\\n";
      else out += c;
    }
    out += '"';
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (extra_key) add(extra_key, extra_value);
  out += '}';
}

void AppendHelp(std::string& out, const std::string& name, const std::string& help,
                const char* type) {
  out += "# HELP " + name + " ";
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  out += "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

void Counter::Inc(double v) { AtomicAdd(value_, v); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  s.count = running;  // consistent with the buckets even under concurrent updates
  return s;
}

void SampleWriter::Add(const std::string& name, const std::string& help, const char* type,
                       const Labels& labels, double value) {
  auto& f = families_[name];
  if (f.type.empty()) {
    f.help = help;
    f.type = type;
  }
  f.samples.emplace_back(labels, value);
}

void SampleWriter::AddHistogram(const std::string& name, const std::string& help,
                                const std::vector<double>& bounds,
                                const std::vector<uint64_t>& counts, double sum) {
  auto& f = families_[name];
  f.help = help;
  f.type = "histogram";
  uint64_t running = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    running += counts[i];
    f.samples.emplace_back(Labels{{"le", i < bounds.size() ? FormatValue(bounds[i]) : "+Inf"}},
                           static_cast<double>(running));
  }
  f.histogram_sum = sum;
  f.histogram_count = running;
}

Counter& MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& f = counters_[name];
  if (f.help.empty()) f.help = help;
  auto& c = f.children[labels];
  if (!c) c = std::make_unique<Counter>();
  return *c;
}

Histogram& MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const Labels& labels, std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto& f = histograms_[name];
  if (f.help.empty()) {
    f.help = help;
    f.bounds = std::move(bounds);
  }
  auto& h = f.children[labels];
  if (!h) h = std::make_unique<Histogram>(f.bounds);
  return *h;
}

void MetricsRegistry::AddCollector(std::function<void(SampleWriter&)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::vector<double> MetricsRegistry::DefaultBounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::string MetricsRegistry::Render() const {
  std::string out;
  std::vector<std::function<void(SampleWriter&)>> collectors;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, f] : counters_) {
      AppendHelp(out, name, f.help, "counter");
      for (const auto& [labels, c] : f.children) {
        out += name;
        AppendLabels(out, labels);
        out += ' ' + FormatValue(c->value()) + '\n';
      }
    }
    for (const auto& [name, f] : histograms_) {
      AppendHelp(out, name, f.help, "histogram");
      for (const auto& [labels, h] : f.children) {
        auto s = h->snapshot();
        for (size_t i = 0; i <= s.bounds.size(); ++i) {
          out += name + "_bucket";
          AppendLabels(out, labels, "le", i < s.bounds.size() ? FormatValue(s.bounds[i]) : "+Inf");
          out += ' ' + std::to_string(s.cumulative[i]) + '\n';
        }
        out += name + "_sum";
        AppendLabels(out, labels);
        out += ' ' + FormatValue(s.sum) + '\n';
        out += name + "_count";
        AppendLabels(out, labels);
        out += ' ' + std::to_string(s.count) + '\n';
      }
    }
    collectors = collectors_;
  }
  // Collectors run outside the lock: they may take locks of their own (pool, relay).
  SampleWriter writer;
  for (const auto& c : collectors) c(writer);
  for (const auto& [name, f] : writer.families_) {
    AppendHelp(out, name, f.help, f.type.c_str());
    bool histogram = f.type == "histogram";
    for (const auto& [labels, v] : f.samples) {
      out += histogram ? name + "_bucket" : name;
      AppendLabels(out, labels);
      out += ' ' + FormatValue(v) + '\n';
    }
    if (histogram) {
      out += name + "_sum " + FormatValue(f.histogram_sum) + '\n';
      out += name + "_count " + std::to_string(f.histogram_count) + '\n';
    }
  }
  return out;
}

void AddProcessCollector(MetricsRegistry& registry) {
  registry.AddCollector([](SampleWriter& w) {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
                 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    w.Add("process_cpu_seconds_total", "User and system CPU time spent", "counter", {}, cpu);
    long pages = 0, resident = 0;
    std::ifstream statm("/proc/self/statm");
    if (statm >> pages >> resident) {
      w.Add("process_resident_memory_bytes", "Resident memory size", "gauge", {},
            static_cast<double>(resident) * sysconf(_SC_PAGESIZE));
      w.Add("process_virtual_memory_bytes", "Virtual memory size", "gauge", {},
            static_cast<double>(pages) * sysconf(_SC_PAGESIZE));
    }
    int fds = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
      while (readdir(d)) ++fds;
      closedir(d);
      w.Add("process_open_fds", "Open file descriptors", "gauge", {}, fds - 2);  // . and ..
    }
  });
}

}  // namespace psvc::observability
