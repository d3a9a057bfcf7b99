// What [api.tls] and [api.auth] configure: the files of the gRPC port's TLS, and the tokens
// and client certificates that name a caller. Plain values, thread-compatible.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "daemon/auth/caller.h"
#include "daemon/auth/personal_data.h"

namespace propbridge::auth {

using Sha256 = std::array<unsigned char, 32>;

// [api.auth.tokens.<name>]: a bearer token, known by its SHA-256 only.
struct TokenRule {
  std::string name;
  Sha256 sha256{};
  Role role = Role::kReader;
  bool personal_data = true;
};

// Which part of a verified client certificate names the caller.
enum class SubjectField {
  kCommonName,  // CN=frontdesk-01
  kDns,         // DNS:frontdesk.example.com, a subject alternative name
  kUri,         // URI:spiffe://example.com/frontdesk
  kEmail,       // email:it@example.com
  kIp,          // IP:10.0.0.7
};

// [api.auth.certificates.<name>]: a client certificate signed by api.tls.client_ca_file whose
// `field` is `value`.
struct CertificateRule {
  std::string name;
  SubjectField field = SubjectField::kCommonName;
  std::string value;
  Role role = Role::kReader;
  bool personal_data = true;
};

// [api.auth]. With neither tokens nor certificates, every caller is anyone, as admin.
struct AuthRules {
  std::vector<TokenRule> tokens;
  std::vector<CertificateRule> certificates;
  // [api.personal_data]: what callers without personal_data read masked.
  PersonalDataRules personal_data;

  bool empty() const { return tokens.empty() && certificates.empty(); }
};

// [api.tls], as configured (absolute paths).
struct TlsFiles {
  std::filesystem::path cert_file;       // the server's certificate, then its chain
  std::filesystem::path key_file;        // its private key, unencrypted
  std::filesystem::path client_ca_file;  // empty: clients need no certificate
};

// The same files read, checked and held for the server.
struct TlsMaterial {
  TlsFiles files;
  std::string cert_chain;   // PEM
  std::string private_key;  // PEM
  std::string client_ca;    // PEM; empty when files.client_ca_file is
};

}  // namespace propbridge::auth
