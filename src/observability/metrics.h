#pragma once
/// Prometheus metrics: counters, gauges and histograms with labels, rendered in the text
/// exposition format (version 0.0.4) for GET /metrics.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace psvc::observability {

using Labels = std::vector<std::pair<std::string, std::string>>;

/// A monotonically increasing value.
class Counter {
 public:
  void Inc(double v = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Observations bucketed by upper bound (seconds, usually).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  ///< per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

/// Writes scrape-time values (pool sizes, backlog) from a collector callback.
class SampleWriter {
 public:
  /// `type` is "gauge" or "counter"; HELP/TYPE are written once per name.
  void Add(const std::string& name, const std::string& help, const char* type,
           const Labels& labels, double value);
  /// A histogram owned elsewhere: per-bucket counts (not cumulative), last one +Inf.
  void AddHistogram(const std::string& name, const std::string& help,
                    const std::vector<double>& bounds, const std::vector<uint64_t>& counts,
                    double sum);

 private:
  friend class MetricsRegistry;
  struct Family {
    std::string help, type;
    std::vector<std::pair<Labels, double>> samples;
    double histogram_sum = 0;
    uint64_t histogram_count = 0;
  };
  std::map<std::string, Family> families_;
};

/// Owns every metric; thread-safe. Metric references stay valid for the registry's life.
class MetricsRegistry {
 public:
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const Labels& labels = {}, std::vector<double> bounds = DefaultBounds());
  /// Called on every scrape to add values owned elsewhere.
  void AddCollector(std::function<void(SampleWriter&)> collector);
  std::string Render() const;

  /// 0.5 ms .. 10 s, for request latencies.
  static std::vector<double> DefaultBounds();

 private:
  struct CounterFamily {
    std::string help;
    std::map<Labels, std::unique_ptr<Counter>> children;
  };
  struct HistogramFamily {
    std::string help;
    std::vector<double> bounds;
    std::map<Labels, std::unique_ptr<Histogram>> children;
  };
  mutable std::mutex mu_;
  std::map<std::string, CounterFamily> counters_;
  std::map<std::string, HistogramFamily> histograms_;
  std::vector<std::function<void(SampleWriter&)>> collectors_;
};

/// Adds process CPU seconds, resident memory and open file descriptors.
void AddProcessCollector(MetricsRegistry& registry);

}  // namespace psvc::observability
