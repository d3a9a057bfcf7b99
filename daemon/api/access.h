// Who may call which method of the API, and who is calling. The role each method needs is in
// one table (MethodTable); when auth is configured, the server's credentials check every call
// against it before a handler runs, and a handler asks CallerOf for the identity it serves.
#pragma once

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/server_context.h>

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "daemon/auth/authenticator.h"
#include "daemon/auth/caller.h"
#include "daemon/auth/rules.h"

namespace propbridge::api {

// What calling a method takes, by its full name ("/propbridge.v1.AdminService/StopPlugin").
struct MethodAccess {
  std::string_view method;
  // The least role that may call it; nullopt: anyone, without a credential (health checks).
  std::optional<auth::Role> role;
};

// Every method the server serves. Once auth is configured, a method missing here is refused to
// everyone, so a method added to the API does nothing until it is given a role.
std::span<const MethodAccess> MethodTable();
// The entry for `method`, or nullptr.
const MethodAccess* FindMethod(std::string_view method);

// Identifies callers and enforces MethodTable. Thread-safe: constant after construction.
class AccessControl final {
 public:
  explicit AccessControl(const auth::AuthRules& rules);

  // Whether callers must identify themselves. Without, every caller is auth::Authenticator::
  // Anyone(), an admin, and the server needs no processor.
  bool enabled() const { return authenticator_->enabled(); }

  // For the server's credentials when enabled(): answers each call that is not open with
  // UNAUTHENTICATED (no credential, or one nobody holds) or PERMISSION_DENIED (a caller
  // without the method's role), logging why without the token, or lets it through. It runs
  // inline on gRPC's threads and shares the rules, so it may outlive this object.
  std::shared_ptr<grpc::AuthMetadataProcessor> Processor() const;

  // Who makes a call that a handler serves: its token's or certificate's caller, or Anyone()
  // without auth. nullptr only for an open method called without a credential.
  const auth::CallerIdentity* CallerOf(const grpc::ServerContextBase& context) const;

  // Who the call's caller is for the limits each caller has a share of: their identity
  // ("token crm-app"), or empty without auth, when everyone is one anonymous caller.
  std::string ShareholderOf(const grpc::ServerContextBase& context) const;

  // What the call's caller reads masked: nullptr when they may read personal data, else the
  // rules that say which data is personal (for a caller without one, too).
  const auth::PersonalDataRules* MaskFor(const grpc::ServerContextBase& context) const;

 private:
  std::shared_ptr<const auth::Authenticator> authenticator_;
  const auth::PersonalDataRules personal_data_;
};

}  // namespace propbridge::api
