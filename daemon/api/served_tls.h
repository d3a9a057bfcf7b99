// What the TLS port serves, as the files gRPC's certificate watcher reads: the daemon writes
// there only material it has checked (auth::ReadTls), each file whole, and gRPC takes it up
// within kTlsFilesRefresh. So a renewal reaches the port through a reload, which checks it
// first, and one half done (a new certificate beside the old key) is never served. gRPC's
// watcher reads a pair from two files and would serve such a mismatch; here the key and its
// chain are one file, replaced in one rename.
//
// Files of the data folder, the daemon user's alone (0600), never written through a symbolic
// link: "tls-identity.pem" (the private key, then the certificate chain) and
// "tls-client-ca.pem" when clients must prove who they are. Thread-compatible.
#pragma once

#include <chrono>
#include <filesystem>

#include "daemon/auth/rules.h"
#include "propbridge/sdk/status.h"

namespace propbridge::api {

// How often the TLS port reads its files again: how long a reloaded certificate can wait
// before the port serves it.
inline constexpr std::chrono::seconds kTlsFilesRefresh{2};

class ServedTls {
 public:
  // Writes `material` into `folder`, which must exist.
  static Result<ServedTls> Write(const std::filesystem::path& folder,
                                 const auth::TlsMaterial& material);

  // Writes a renewed certificate, key or client CA, for the handshakes to come; the files stay
  // as they were on an error. Whether clients must present a certificate is fixed at Write.
  Status Replace(const auth::TlsMaterial& material) const;

  std::filesystem::path identity_file() const { return folder_ / "tls-identity.pem"; }
  // Empty when clients need no certificate.
  std::filesystem::path client_ca_file() const;

 private:
  ServedTls(std::filesystem::path folder, bool clients_prove)
      : folder_(std::move(folder)), clients_prove_(clients_prove) {}

  std::filesystem::path folder_;
  bool clients_prove_ = false;
};

}  // namespace propbridge::api
