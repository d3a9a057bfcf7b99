// A plugin whose Start throws: the exception must stop at the plugin boundary.
#include <propbridge/sdk/sdk.h>

#include <stdexcept>

namespace {

class ThrowingPlugin final : public propbridge::sdk::Plugin {
 public:
  propbridge::Status Start(propbridge::sdk::Context&) override {
    throw std::runtime_error("vendor code failed");
  }
  void Stop(propbridge::sdk::Deadline) override {}
};

}  // namespace

PROPBRIDGE_REGISTER_PLUGIN(ThrowingPlugin)
