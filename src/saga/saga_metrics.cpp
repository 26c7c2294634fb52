#include "saga/saga_metrics.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "observability/metrics.h"
#include "saga/saga_runner.h"
#include "saga/saga_store.h"

namespace psvc::saga {

void AddSagaMetrics(observability::MetricsRegistry& registry, const SagaRunner& runner,
                    SagaStore& store) {
  registry.AddCollector([&runner, &store](observability::SampleWriter& w) {
    // Every status is reported (0 when absent) so alerts on COMPENSATING see a series.
    std::vector<std::pair<std::string, double>> by_status = {
        {"RUNNING", 0}, {"COMPENSATING", 0}, {"COMPLETED", 0}, {"COMPENSATED", 0}};
    try {
      for (const auto& [status, n] : store.CountByStatus()) {
        for (auto& [s, v] : by_status) {
          if (s == status) v = static_cast<double>(n);
        }
      }
      for (const auto& [s, v] : by_status) {
        w.Add("psvc_sagas", "Sagas by status", "gauge", {{"status", s}}, v);
      }
    } catch (const std::exception& e) {
      spdlog::warn("saga metrics: counting sagas failed: {}", e.what());
    }
    auto st = runner.stats();
    auto counter = [&](const char* name, const char* help, uint64_t v) {
      w.Add(name, help, "counter", {}, static_cast<double>(v));
    };
    counter("psvc_saga_steps_done_total", "Saga steps completed", st.steps_done);
    counter("psvc_saga_steps_failed_total", "Saga steps that failed for good", st.steps_failed);
    counter("psvc_saga_compensations_total", "Saga step compensations completed",
            st.compensations_done);
    counter("psvc_saga_transient_failures_total", "Saga step attempts that will be retried",
            st.transient_failures);
    counter("psvc_saga_requests_sent_total", "Remote saga requests written to the outbox",
            st.requests_sent);
    counter("psvc_saga_replies_recorded_total", "Participant replies recorded", st.replies_recorded);
    counter("psvc_saga_replies_ignored_total", "Late, unknown or malformed replies",
            st.replies_ignored);
    counter("psvc_saga_remote_timeouts_total", "Remote steps whose reply deadline passed",
            st.remote_timeouts);
    counter("psvc_saga_completed_total", "Sagas completed by this runner", st.sagas_completed);
    counter("psvc_saga_compensated_total", "Sagas compensated by this runner", st.sagas_compensated);
    counter("psvc_saga_stuck_total",
            "Compensation attempts past the stuck threshold (alert on increase)", st.stuck);
    counter("psvc_saga_leases_lost_total", "Sagas another runner took over mid-drive",
            st.leases_lost);
    std::vector<double> bounds;
    for (double ms : SagaRunnerStats::kLatencyBucketsMs) bounds.push_back(ms / 1000.0);
    w.AddHistogram("psvc_saga_local_step_seconds", "Local saga step transaction latency", bounds,
                   {st.local_latency_buckets.begin(), st.local_latency_buckets.end()},
                   st.local_latency_sum_ms / 1000.0);
    w.AddHistogram("psvc_saga_remote_step_seconds",
                   "Remote saga step round trip (request committed -> reply acted on)", bounds,
                   {st.remote_latency_buckets.begin(), st.remote_latency_buckets.end()},
                   st.remote_latency_sum_ms / 1000.0);
  });
}

}  // namespace psvc::saga
