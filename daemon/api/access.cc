#include "daemon/api/access.h"

#include <grpc/grpc_security_constants.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstddef>

#include "daemon/identity/text.h"
#include "daemon/sync/mutex.h"

namespace propbridge::api {
namespace {

using auth::Role;
using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

// The table. README.md shows the same in "Serving other hosts"; tests/auth checks every
// method the daemon serves against it.
constexpr std::array<MethodAccess, 18> kMethods = {{
    {"/propbridge.v1.TimelineService/GetTimeline", Role::kReader},
    {"/propbridge.v1.TimelineService/WatchTimeline", Role::kReader},
    {"/propbridge.v1.CustomerService/GetCustomer", Role::kReader},
    {"/propbridge.v1.CustomerService/FindCustomers", Role::kReader},
    {"/propbridge.v1.CustomerService/ListOutreach", Role::kReader},
    {"/propbridge.v1.CustomerService/GetCommunityFigures", Role::kReader},
    {"/propbridge.v1.AdminService/ListPlugins", Role::kOperator},
    {"/propbridge.v1.AdminService/ListQuarantine", Role::kOperator},
    {"/propbridge.v1.AdminService/RestartPlugin", Role::kOperator},
    {"/propbridge.v1.AdminService/StopPlugin", Role::kOperator},
    {"/propbridge.v1.AdminService/GetStatus", Role::kOperator},
    {"/propbridge.v1.AdminService/LinkCustomers", Role::kAdmin},
    {"/propbridge.v1.AdminService/SplitCustomer", Role::kAdmin},
    {"/propbridge.v1.AdminService/ListAuditRecords", Role::kAdmin},
    {"/propbridge.v1.AdminService/BackupStore", Role::kAdmin},
    {"/grpc.health.v1.Health/Check", std::nullopt},
    {"/grpc.health.v1.Health/Watch", std::nullopt},
    // Any caller at all: every role is a reader at least.
    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Role::kReader},
}};

std::string_view View(grpc::string_ref ref) { return {ref.data(), ref.size()}; }

Status Unauthenticated(std::string message) {
  return Status(StatusCode::kUnauthenticated, std::move(message));
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

// What a verified client certificate says, from the connection's auth context; nullopt when
// the client presented none.
std::optional<auth::PeerCertificate> PeerCertificateOf(const grpc::AuthContext& peer) {
  auth::PeerCertificate certificate;
  for (const grpc::string_ref& value : peer.FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
    certificate.common_name = std::string(View(value));
  }
  static constexpr std::array<std::pair<auth::SubjectField, const char*>, 4> kNames = {{
      {auth::SubjectField::kDns, GRPC_PEER_DNS_PROPERTY_NAME},
      {auth::SubjectField::kUri, GRPC_PEER_URI_PROPERTY_NAME},
      {auth::SubjectField::kEmail, GRPC_PEER_EMAIL_PROPERTY_NAME},
      {auth::SubjectField::kIp, GRPC_PEER_IP_PROPERTY_NAME},
  }};
  for (const auto& [field, property] : kNames) {
    for (const grpc::string_ref& value : peer.FindPropertyValues(property)) {
      certificate.alternative_names.emplace_back(field, std::string(View(value)));
    }
  }
  if (certificate.common_name.empty() && certificate.alternative_names.empty()) {
    return std::nullopt;
  }
  return certificate;
}

// The caller that a call's credential names: its bearer token when it sends one (a token
// that is not known is refused, whatever certificate comes with it), else its client
// certificate.
Result<const auth::CallerIdentity*> Identify(const auth::Authenticator& authenticator,
                                             const Metadata& metadata,
                                             const grpc::AuthContext& peer) {
  auto [first, last] = metadata.equal_range("authorization");
  if (first != last) {
    if (std::next(first) != last)
      return Unauthenticated("send one authorization header, not several");
    std::string_view value = View(first->second);
    constexpr std::string_view kScheme = "Bearer ";
    if (!StartsWithNoCase(value, kScheme)) {
      return Unauthenticated("the authorization header must be 'Bearer <token>'");
    }
    const auth::CallerIdentity* caller = authenticator.ByToken(value.substr(kScheme.size()));
    if (caller == nullptr) return Unauthenticated("the bearer token is not one this daemon knows");
    return caller;
  }
  if (auto certificate = PeerCertificateOf(peer)) return authenticator.ByCertificate(*certificate);
  return Unauthenticated(
      "this daemon needs a credential: send the header 'authorization: Bearer <token>' or "
      "present a client certificate");
}

// The warnings of refused calls, at most kLines a minute: a client that sends bad credentials
// in a loop must not fill the journal, nor push out what else it holds. The lines left out are
// counted in the first line of the next minute. Thread-safe.
class RefusalLog {
 public:
  void Warn(const std::string& line) ABSL_LOCKS_EXCLUDED(mu_) {
    const auto now = std::chrono::steady_clock::now();
    std::size_t left_out = 0;
    {
      sync::MutexLock lock(mu_);
      if (now - window_start_ >= kWindow) {
        left_out = std::exchange(left_out_, 0);
        window_start_ = now;
        lines_ = 0;
      }
      if (lines_ == kLines) {
        if (left_out_++ == 0) {
          spdlog::warn(
              "more than {} calls refused within a minute: the rest of this minute's are "
              "counted, not logged",
              kLines);
        }
        return;
      }
      ++lines_;
    }
    if (left_out > 0) {
      spdlog::warn("{} ({} more refused calls were not logged in the minute before)", line,
                   left_out);
    } else {
      spdlog::warn("{}", line);
    }
  }

 private:
  static constexpr std::size_t kLines = 20;
  static constexpr std::chrono::minutes kWindow{1};

  sync::Mutex mu_;
  std::chrono::steady_clock::time_point window_start_ ABSL_GUARDED_BY(mu_);
  std::size_t lines_ ABSL_GUARDED_BY(mu_) = 0;
  std::size_t left_out_ ABSL_GUARDED_BY(mu_) = 0;
};

// A method name as a client sent it, fit for a log line: valid UTF-8, at most 200 bytes.
std::string Printable(std::string_view method) {
  constexpr std::size_t kMaxBytes = 200;
  std::string printable = identity::ValidUtf8(identity::CutUtf8(method, kMaxBytes));
  if (printable.size() < method.size()) printable += "…";
  return printable;
}

class Processor final : public grpc::AuthMetadataProcessor {
 public:
  explicit Processor(std::shared_ptr<const auth::Authenticator> authenticator)
      : authenticator_(std::move(authenticator)) {}

  // A hash and a few comparisons: no reason to hop to another thread.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* peer, OutputMetadata*,
                       OutputMetadata*) override {
    auto path = metadata.find(":path");
    std::string_view method = path == metadata.end() ? "" : View(path->second);
    const MethodAccess* access = FindMethod(method);
    if (access != nullptr && !access->role) return grpc::Status::OK;

    auto caller = Identify(*authenticator_, metadata, *peer);
    if (!caller.ok()) {
      log_.Warn("refused " + Printable(method) + ": " + caller.status().message());
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, caller.status().message());
    }
    const auth::CallerIdentity& who = **caller;
    if (access == nullptr) {
      log_.Warn("refused " + Printable(method) + " to " + who.Describe() +
                ": no role may call a method the daemon does not list");
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          Printable(method) + " is not a method of this daemon");
    }
    if (!who.Allows(*access->role)) {
      std::string why = std::string(method) + " needs the " +
                        std::string(auth::RoleName(*access->role)) + " role; " + who.Describe() +
                        " is " + std::string(auth::RoleName(who.role));
      log_.Warn("denied: " + why);
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, why);
    }
    return grpc::Status::OK;
  }

 private:
  const std::shared_ptr<const auth::Authenticator> authenticator_;
  RefusalLog log_;
};

}  // namespace

std::span<const MethodAccess> MethodTable() { return kMethods; }

const MethodAccess* FindMethod(std::string_view method) {
  for (const MethodAccess& access : kMethods) {
    if (access.method == method) return &access;
  }
  return nullptr;
}

AccessControl::AccessControl(const auth::AuthRules& rules)
    : authenticator_(std::make_shared<const auth::Authenticator>(rules)),
      personal_data_(rules.personal_data) {}

std::shared_ptr<grpc::AuthMetadataProcessor> AccessControl::Processor() const {
  return std::make_shared<api::Processor>(authenticator_);
}

const auth::CallerIdentity* AccessControl::CallerOf(const grpc::ServerContextBase& context) const {
  if (!enabled()) return &auth::Authenticator::Anyone();
  auto caller = Identify(*authenticator_, context.client_metadata(), *context.auth_context());
  return caller.ok() ? *caller : nullptr;
}

std::string AccessControl::ShareholderOf(const grpc::ServerContextBase& context) const {
  if (!enabled()) return {};
  const auth::CallerIdentity* caller = CallerOf(context);
  return caller != nullptr ? caller->Describe() : std::string();
}

const auth::PersonalDataRules* AccessControl::MaskFor(
    const grpc::ServerContextBase& context) const {
  const auth::CallerIdentity* caller = CallerOf(context);
  return caller != nullptr && caller->personal_data ? nullptr : &personal_data_;
}

}  // namespace propbridge::api
