// The standard gRPC health check (grpc.health.v1.Health/Check, whole server), called the way a
// load balancer or `grpc_health_probe` calls it, without generated health stubs.
#pragma once

#include <optional>
#include <string>

namespace propbridge::testing {

// True for SERVING, false for any other status; nullopt when the call itself failed.
std::optional<bool> CheckServing(const std::string& address);

}  // namespace propbridge::testing
