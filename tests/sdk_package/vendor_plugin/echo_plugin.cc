// A small plugin a vendor could write: on Start it emits one event and returns. It formats
// with std::to_chars and an std::ostringstream on purpose: they bring the standard library's
// template statics, vtables and type info into the plugin, which must still export nothing
// but its two registration symbols.
#include <propbridge/sdk/sdk.h>

#include <charconv>
#include <sstream>
#include <string>

namespace vendor {

// "A-1001" for 1001.
std::string AccountNumber(int number) {
  char digits[16];
  auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
  return "A-" + std::string(digits, end);
}

class EchoPlugin final : public propbridge::sdk::Plugin {
 public:
  propbridge::Status Start(propbridge::sdk::Context& context) override {
    std::ostringstream summary;
    summary << "Echo plugin started, " << 1 << " event";
    propbridge::sdk::Batch batch;
    batch.events.push_back(propbridge::sdk::EventBuilder("echo.started", "echo-1")
                               .At(propbridge::sdk::ParseDateTime("2026-11-02 09:30").value())
                               .Identify("account", AccountNumber(1001))
                               .Summary(summary.str())
                               .Build());
    batch.checkpoint = "echo-1";
    return context.Emit(std::move(batch));
  }

  void Stop(propbridge::sdk::Deadline) override {}
};

}  // namespace vendor

PROPBRIDGE_REGISTER_PLUGIN(vendor::EchoPlugin)
