#include "daemon/auth/caller.h"

namespace propbridge::auth {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kReader:
      return "reader";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role role : {Role::kReader, Role::kOperator, Role::kAdmin}) {
    if (RoleName(role) == name) return role;
  }
  return std::nullopt;
}

std::string CallerIdentity::Describe() const {
  switch (kind) {
    case Kind::kAnyone:
      return "anyone";
    case Kind::kToken:
      return "token " + name;
    case Kind::kCertificate:
      return "certificate " + name;
  }
  return name;
}

}  // namespace propbridge::auth
