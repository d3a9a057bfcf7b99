// Which configured caller a credential belongs to: a bearer token, or a client certificate that
// TLS has verified. Thread-safe: constant after construction.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/auth/caller.h"
#include "daemon/auth/rules.h"
#include "propbridge/sdk/status.h"

namespace propbridge::auth {

// What a verified client certificate says of its holder.
struct PeerCertificate {
  std::string common_name;
  std::vector<std::pair<SubjectField, std::string>> alternative_names;
};

// "CN=frontdesk-01", "DNS:app.example.com", "URI:spiffe://…", "email:…" or "IP:…" (the forms
// of [api.auth.certificates.<name>] subject); INVALID_ARGUMENT saying the forms otherwise.
Result<std::pair<SubjectField, std::string>> ParseSubject(std::string_view subject);
std::string FormatSubject(SubjectField field, std::string_view value);

class Authenticator final {
 public:
  explicit Authenticator(const AuthRules& rules);

  // Whether any token or certificate is configured; without, every caller is Anyone().
  bool enabled() const { return !tokens_.empty() || !certificates_.empty(); }

  // The caller whose token this is, or nullptr. Hashes the token and compares the hash with
  // every configured one in constant time, so the time taken says nothing of the token.
  const CallerIdentity* ByToken(std::string_view token) const;

  // The caller a verified certificate names, by its common name or an alternative name;
  // UNAUTHENTICATED, saying what the certificate names, when no rule or more than one rule
  // matches it.
  Result<const CallerIdentity*> ByCertificate(const PeerCertificate& peer) const;

  // Every caller when no auth is configured: an admin with personal data.
  static const CallerIdentity& Anyone();

 private:
  struct Token {
    Sha256 sha256;
    CallerIdentity identity;
  };
  struct Certificate {
    SubjectField field;
    std::string value;
    CallerIdentity identity;
  };

  std::vector<Token> tokens_;
  std::vector<Certificate> certificates_;
};

}  // namespace propbridge::auth
