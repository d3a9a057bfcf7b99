// The smallest plugin a vendor could write: on Start it emits one event and returns.
#include <propbridge/sdk/sdk.h>

namespace vendor {

class EchoPlugin final : public propbridge::sdk::Plugin {
 public:
  propbridge::Status Start(propbridge::sdk::Context& context) override {
    propbridge::sdk::Batch batch;
    batch.events.push_back(propbridge::sdk::EventBuilder("echo.started", "echo-1")
                               .At(propbridge::sdk::ParseDateTime("2026-11-02 09:30").value())
                               .Identify("account", "A-1001")
                               .Summary("Echo plugin started")
                               .Build());
    batch.checkpoint = "echo-1";
    return context.Emit(std::move(batch));
  }

  void Stop(propbridge::sdk::Deadline) override {}
};

}  // namespace vendor

PROPBRIDGE_REGISTER_PLUGIN(vendor::EchoPlugin)
