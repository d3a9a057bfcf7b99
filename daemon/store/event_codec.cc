#include "daemon/store/event_codec.h"

#include <nlohmann/json.hpp>

#include "daemon/identity/text.h"

namespace propbridge::store {
namespace {

// The shape the store itself writes (AttributesToJson) when no value needs an escape:
// {"key":"value",...} with no spaces, distinct keys, and strings of well-formed UTF-8 without
// '"', '\\' or control characters. Reads that shape straight into the scratch; false for
// anything else, which the general reading then decides.
bool ReadPlainAttributes(std::string_view text, AttributeScratch& out) {
  auto take = [&text](char c) {
    if (text.empty() || text.front() != c) return false;
    text.remove_prefix(1);
    return true;
  };
  auto take_string = [&](std::string_view& value) {
    if (!take('"')) return false;
    std::size_t end = 0;
    for (; end < text.size() && text[end] != '"'; ++end) {
      if (text[end] == '\\' || static_cast<unsigned char>(text[end]) < 0x20) return false;
    }
    if (end == text.size()) return false;
    value = text.substr(0, end);
    text.remove_prefix(end + 1);
    return identity::IsUtf8(value);
  };
  if (!take('{')) return false;
  if (take('}')) return text.empty();
  do {
    std::string_view key, value;
    if (!take_string(key) || !take(':') || !take_string(value) || out.Has(key)) return false;
    out.Add(key, value);
  } while (take(','));
  return take('}') && text.empty();
}

}  // namespace

std::string AttributesToJson(const std::vector<std::pair<std::string, std::string>>& attributes) {
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (const auto& [key, value] : attributes) object[key] = value;
  return object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<std::vector<std::pair<std::string, std::string>>> AttributesFromJson(std::string_view text) {
  auto object = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return Status(StatusCode::kDataLoss, "attributes are not a JSON object");
  std::vector<std::pair<std::string, std::string>> attributes;
  attributes.reserve(object.size());
  for (auto& [key, value] : object.items()) {
    attributes.emplace_back(
        key, value.is_string()
                 ? value.get<std::string>()
                 : value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  }
  return attributes;
}

Status DecodeAttributes(std::string_view text, AttributeScratch& out) {
  out.Clear();
  if (ReadPlainAttributes(text, out)) return Status::Ok();
  auto attributes = AttributesFromJson(text);
  if (!attributes.ok()) return attributes.status();
  out.Clear();
  for (const auto& [key, value] : *attributes) out.Add(key, value);
  return Status::Ok();
}

std::string IdentifierLines(const std::vector<identity::Identifier>& identifiers) {
  std::string lines;
  for (const identity::Identifier& id : identifiers) {
    if (!lines.empty()) lines += '\n';
    lines += id.Text();
  }
  return lines;
}

Status ParseIdentifierLines(std::string_view lines, std::vector<identity::Identifier>& out) {
  while (!lines.empty()) {
    std::size_t end = lines.find('\n');
    auto id = identity::Identifier::FromText(lines.substr(0, end));
    if (!id.ok()) return id.status();
    out.push_back(std::move(id).value());
    lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 1);
  }
  return Status::Ok();
}

}  // namespace propbridge::store
