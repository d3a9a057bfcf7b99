// Who calls the daemon's API and what their role lets them do. Plain values, thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace propbridge::auth {

// Each role may do everything the roles before it may.
enum class Role {
  kReader,    // timelines, watches, customer reads
  kOperator,  // and plugins and the quarantine
  kAdmin,     // and every change, customer links and splits included
};

// "reader", "operator", "admin".
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

// A caller as the configuration declares it, or anyone at all when no auth is configured.
struct CallerIdentity {
  enum class Kind { kAnyone, kToken, kCertificate };

  Kind kind = Kind::kAnyone;
  // The <name> of [api.auth.tokens.<name>] or [api.auth.certificates.<name>].
  std::string name;
  Role role = Role::kAdmin;
  // Whether personal data (names, phone numbers) reaches this caller unmasked.
  bool personal_data = true;

  bool Allows(Role needed) const { return role >= needed; }
  // For logs and records: "token crm-app", "certificate frontdesk-01", "anyone".
  std::string Describe() const;
};

}  // namespace propbridge::auth
