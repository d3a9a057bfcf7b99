// What the gRPC server shows a metrics scrape: every call it finished, by service, method and
// status code; the latency of unary calls (a stream's length says nothing of the server's
// speed); and the streams open now, WatchTimeline's among them. Measured by an interceptor, so
// no service needs to know. Thread-safe.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "daemon/metrics/exposition.h"
#include "daemon/metrics/metric.h"

namespace propbridge::api {

class RequestMetrics {
 public:
  // For grpc::ServerBuilder::experimental().SetInterceptorCreators. What it makes refers to
  // this, which must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  void Collect(metrics::Exposition& out) const;

 private:
  friend class MetricsInterceptor;

  // Label values: service, method, code.
  metrics::Family<metrics::Counter> calls_;
  // Service, method.
  metrics::Family<metrics::Histogram> seconds_{
      [] { return std::make_unique<metrics::Histogram>(metrics::LatencyBuckets()); }};
  metrics::Family<metrics::Gauge> streams_;
};

}  // namespace propbridge::api
