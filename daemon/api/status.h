// Where a daemon Status leaves as a gRPC status: the one place the two meet.
#pragma once

#include <grpcpp/support/status.h>

#include "propbridge/sdk/status.h"

namespace propbridge::api {

inline grpc::Status ToGrpc(const Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
}

}  // namespace propbridge::api
