// Reads the files of [api.tls] and checks them before gRPC gets them, so that a mistake stops
// the start with the file named rather than failing every handshake later. Thread-safe.
#pragma once

#include "daemon/auth/rules.h"
#include "propbridge/sdk/status.h"

namespace propbridge::auth {

// INVALID_ARGUMENT naming the key and the file at fault when a file cannot be read, holds no
// PEM certificate or key, the key is encrypted, or the key is not the certificate's:
// "key_file /etc/propbridge/tls/server.key does not belong to the certificate in …".
Result<TlsMaterial> ReadTls(const TlsFiles& files);

}  // namespace propbridge::auth
