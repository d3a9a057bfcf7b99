// A webhook delivery as the maintenance system (or anyone who can reach the port) sends it: the
// X-Signature header's value on the first line, the body after it. The signature check and the
// payload parser must take any bytes, and a body signed with the secret must always check.
#include <string>
#include <variant>

#include "fuzz/fuzz_check.h"
#include "plugins/maintenance/delivery.h"
#include "plugins/maintenance/signature.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace propbridge::maintenance;
  using propbridge::fuzz::Require;
  constexpr std::string_view kSecret = "fuzz-secret";
  std::string_view text = propbridge::fuzz::AsText(data, size);
  std::size_t newline = text.find('\n');
  std::string_view header = newline == std::string_view::npos ? text : text.substr(0, newline);
  std::string_view body =
      newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);

  (void)CheckSignature(kSecret, body, header);
  std::string signature = std::string(kSignaturePrefix) + SignBody(kSecret, body);
  Require(CheckSignature(kSecret, body, signature) == SignatureCheck::kValid,
          "a body signed with the secret checks");
  Require(CheckSignature("another secret", body, signature) == SignatureCheck::kMismatch,
          "a signature under another secret does not");

  auto parsed = ParseDelivery(body);
  if (const auto* error = std::get_if<DeliveryError>(&parsed)) {
    Require(!error->reason.empty(), "a refusal says why");
  } else {
    const auto& event = std::get<propbridge::sdk::RawEvent>(parsed);
    Require(!event.source_event_id.empty() && event.kind.starts_with("maintenance."),
            "an event has an id and a maintenance kind");
  }
  return 0;
}
