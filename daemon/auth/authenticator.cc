#include "daemon/auth/authenticator.h"

#include <algorithm>
#include <array>

#include "daemon/auth/token.h"

namespace propbridge::auth {
namespace {

struct SubjectForm {
  SubjectField field;
  std::string_view prefix;
};

constexpr std::array<SubjectForm, 5> kSubjectForms = {{
    {SubjectField::kCommonName, "CN="},
    {SubjectField::kDns, "DNS:"},
    {SubjectField::kUri, "URI:"},
    {SubjectField::kEmail, "email:"},
    {SubjectField::kIp, "IP:"},
}};

std::string Describe(const PeerCertificate& peer) {
  std::string text = "CN=" + peer.common_name;
  for (const auto& [field, value] : peer.alternative_names)
    text += ", " + FormatSubject(field, value);
  return text;
}

}  // namespace

Result<std::pair<SubjectField, std::string>> ParseSubject(std::string_view subject) {
  for (const SubjectForm& form : kSubjectForms) {
    if (subject.starts_with(form.prefix) && subject.size() > form.prefix.size()) {
      return std::pair(form.field, std::string(subject.substr(form.prefix.size())));
    }
  }
  return InvalidArgument(
      "must be CN=<common name>, DNS:<name>, URI:<uri>, email:<address> or "
      "IP:<address>, not '" +
      std::string(subject) + "'");
}

std::string FormatSubject(SubjectField field, std::string_view value) {
  for (const SubjectForm& form : kSubjectForms) {
    if (form.field == field) return std::string(form.prefix) + std::string(value);
  }
  return std::string(value);
}

Authenticator::Authenticator(const AuthRules& rules) {
  for (const TokenRule& rule : rules.tokens) {
    tokens_.push_back(
        {rule.sha256, {CallerIdentity::Kind::kToken, rule.name, rule.role, rule.personal_data}});
  }
  for (const CertificateRule& rule : rules.certificates) {
    certificates_.push_back(
        {rule.field,
         rule.value,
         {CallerIdentity::Kind::kCertificate, rule.name, rule.role, rule.personal_data}});
  }
}

const CallerIdentity* Authenticator::ByToken(std::string_view token) const {
  const Sha256 hash = HashToken(token);
  const CallerIdentity* found = nullptr;
  for (const Token& known : tokens_) {
    // Every hash is compared, the match or not: the time is the same wherever it is.
    if (SameHash(hash, known.sha256)) found = &known.identity;
  }
  return found;
}

Result<const CallerIdentity*> Authenticator::ByCertificate(const PeerCertificate& peer) const {
  const Certificate* found = nullptr;
  for (const Certificate& rule : certificates_) {
    bool matches =
        rule.field == SubjectField::kCommonName
            ? !peer.common_name.empty() && peer.common_name == rule.value
            : std::find(peer.alternative_names.begin(), peer.alternative_names.end(),
                        std::pair(rule.field, rule.value)) != peer.alternative_names.end();
    if (!matches) continue;
    if (found != nullptr) {
      return Status(StatusCode::kUnauthenticated,
                    "the client certificate (" + Describe(peer) +
                        ") matches more than one [api.auth.certificates] entry: " +
                        found->identity.name + " and " + rule.identity.name);
    }
    found = &rule;
  }
  if (found == nullptr) {
    return Status(
        StatusCode::kUnauthenticated,
        "no [api.auth.certificates] entry names the client certificate (" + Describe(peer) + ")");
  }
  return &found->identity;
}

const CallerIdentity& Authenticator::Anyone() {
  static const CallerIdentity anyone{CallerIdentity::Kind::kAnyone, "anyone", Role::kAdmin, true};
  return anyone;
}

}  // namespace propbridge::auth
