// The maintenance bridge: serves the webhook the maintenance system posts its work orders,
// rule-violation notices and complaints to, and emits each delivery as a timeline event.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>

#include "endpoint_config.h"
#include "propbridge/sdk/sdk.h"
#include "webhook_endpoint.h"

namespace propbridge::maintenance {
namespace {

namespace fs = std::filesystem;

// Writes "HOST:PORT" to `path` through a temporary file, so a reader never sees half of it.
Status WriteAddressFile(const fs::path& path, const std::string& address) {
  fs::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << address << "\n";
    if (!out.flush()) return FailedPrecondition("cannot write " + temporary.string());
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) return FailedPrecondition("cannot write " + path.string() + ": " + ec.message());
  return Status::Ok();
}

class MaintenancePlugin final : public sdk::Plugin {
 public:
  Status Start(sdk::Context& context) override {
    Result<EndpointConfig> config = ReadEndpointConfig(context.Config());
    if (!config.ok()) return config.status();
    port_file_ = config->port_file;
    const std::string serving =
        config->path + (config->tls_cert_file.empty() ? " over HTTP" : " over HTTPS") + " (" +
        (config->signature.require_timestamp ? "signed timestamps required"
                                             : "signed timestamps optional") +
        ", replay window " + std::to_string(config->signature.replay_window.count()) +
        " s; at most " + std::to_string(config->max_in_flight) +
        " deliveries in flight, bodies up to " + std::to_string(config->max_body_bytes) +
        " bytes, " + std::to_string(config->max_connections) + " connections, " +
        std::to_string(config->max_connections_per_address) + " per client, each request within " +
        std::to_string(config->request_timeout.count()) + " ms)";

    Result<std::unique_ptr<WebhookEndpoint>> endpoint =
        WebhookEndpoint::Start(std::move(*config), context);
    if (!endpoint.ok()) return endpoint.status();
    endpoint_ = std::move(*endpoint);
    context_ = &context;
    if (!port_file_.empty()) {
      Status written = WriteAddressFile(port_file_, endpoint_->address());
      if (!written.ok()) {
        endpoint_.reset();
        return written;
      }
    }
    context.Log().Info("listening on " + endpoint_->address() + ", path " + serving);
    return Status::Ok();
  }

  void Stop(sdk::Deadline) override {
    if (!endpoint_) return;
    endpoint_->Stop();
    if (!port_file_.empty()) {
      std::error_code ec;
      fs::remove(port_file_, ec);
    }
    context_->Log().Info("stopped listening on " + endpoint_->address());
  }

 private:
  sdk::Context* context_ = nullptr;
  std::string port_file_;
  std::unique_ptr<WebhookEndpoint> endpoint_;
};

}  // namespace
}  // namespace propbridge::maintenance

PROPBRIDGE_REGISTER_PLUGIN(propbridge::maintenance::MaintenancePlugin)
