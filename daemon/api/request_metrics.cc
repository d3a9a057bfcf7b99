#include "daemon/api/request_metrics.h"

#include <google/protobuf/descriptor.h>

#include <chrono>
#include <string>
#include <vector>

#include "propbridge/sdk/status.h"

namespace propbridge::api {
namespace {

using Clock = std::chrono::steady_clock;
using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

// "/propbridge.v1.TimelineService/GetTimeline" -> {"propbridge.v1.TimelineService",
// "GetTimeline"}, for a method of the schemas the daemon knows; any other name a client sends
// counts as {"unknown", "unknown"}, so that made-up names cannot make new series.
std::vector<std::string> ServiceAndMethod(const char* path) {
  const std::string_view name = path != nullptr ? path : "";
  const std::size_t slash = name.rfind('/');
  if (name.starts_with('/') && slash != std::string_view::npos && slash > 1) {
    std::string service(name.substr(1, slash - 1));
    std::string method(name.substr(slash + 1));
    if (google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(service + "." +
                                                                             method) != nullptr) {
      return {std::move(service), std::move(method)};
    }
  }
  return {"unknown", "unknown"};
}

}  // namespace

// One call: counted when its status is sent, or as CANCELLED when it ends without one.
class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(RequestMetrics& metrics, ServerRpcInfo* info)
      : metrics_(metrics),
        labels_(ServiceAndMethod(info->method())),
        unary_(info->type() == ServerRpcInfo::Type::UNARY),
        began_(Clock::now()) {
    if (!unary_) metrics_.streams_.With(labels_).Add(1);
  }

  ~MetricsInterceptor() override {
    if (!finished_) Finish(grpc::StatusCode::CANCELLED);
    if (!unary_) metrics_.streams_.With(labels_).Add(-1);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (!finished_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Finish(grpc::StatusCode code) {
    finished_ = true;
    std::vector<std::string> labels = labels_;
    labels.emplace_back(StatusCodeName(static_cast<StatusCode>(code)));
    metrics_.calls_.With(labels).Add();
    if (unary_) {
      metrics_.seconds_.With(labels_).Observe(
          std::chrono::duration<double>(Clock::now() - began_).count());
    }
  }

  RequestMetrics& metrics_;
  const std::vector<std::string> labels_;
  const bool unary_;
  const Clock::time_point began_;
  bool finished_ = false;  // gRPC runs a call's interceptor on one thread at a time
};

namespace {

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(RequestMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, info);
  }

 private:
  RequestMetrics& metrics_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RequestMetrics::InterceptorFactory() {
  return std::make_unique<Factory>(*this);
}

void RequestMetrics::Collect(metrics::Exposition& out) const {
  using metrics::Type;
  out.Begin("propbridge_grpc_requests_total", Type::kCounter,
            "gRPC calls the server finished, by service, method and status code.");
  calls_.ForEach([&out](const std::vector<std::string>& labels, const metrics::Counter& calls) {
    out.Sample({{"service", labels[0]}, {"method", labels[1]}, {"code", labels[2]}},
               static_cast<double>(calls.value()));
  });
  out.Begin("propbridge_grpc_request_duration_seconds", Type::kHistogram,
            "Time from a unary gRPC call's arrival to its status, in seconds.");
  seconds_.ForEach(
      [&out](const std::vector<std::string>& labels, const metrics::Histogram& seconds) {
        out.Sample({{"service", labels[0]}, {"method", labels[1]}}, seconds.Read());
      });
  out.Begin("propbridge_grpc_streams_open", Type::kGauge,
            "Streaming gRPC calls open now, by service and method.");
  streams_.ForEach([&out](const std::vector<std::string>& labels, const metrics::Gauge& open) {
    out.Sample({{"service", labels[0]}, {"method", labels[1]}}, static_cast<double>(open.value()));
  });
  // Among the streams, the watches, under the name an operator looks for.
  double watches = 0;
  streams_.ForEach([&watches](const std::vector<std::string>& labels, const metrics::Gauge& open) {
    if (labels[1] == "WatchTimeline") watches += static_cast<double>(open.value());
  });
  out.Single("propbridge_watches_open", Type::kGauge, "TimelineService.WatchTimeline streams open.",
             watches);
}

}  // namespace propbridge::api
