#pragma once
/// Prometheus metrics of sagas: counts by status (read at scrape time), runner counters and
/// step latency histograms.

namespace psvc::observability {
class MetricsRegistry;
}

namespace psvc::saga {

class SagaRunner;
class SagaStore;

/// Registers a collector; `runner` and `store` must outlive `registry`'s scrapes.
void AddSagaMetrics(observability::MetricsRegistry& registry, const SagaRunner& runner,
                    SagaStore& store);

}  // namespace psvc::saga
