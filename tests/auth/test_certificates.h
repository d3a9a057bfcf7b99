// Certificates for the TLS tests, made at test time with the openssl command: a CA, a server
// certificate for 127.0.0.1 and localhost, client certificates from that CA, one from a foreign
// CA and an expired one. Not thread-safe; one per test.
#pragma once

#include <filesystem>
#include <string>

namespace propbridge::testing {

struct KeyPair {
  std::filesystem::path cert;
  std::filesystem::path key;
};

struct TestCertificates {
  std::filesystem::path ca;         // signs the server's and the clients' certificates
  KeyPair server;                   // CN=localhost; DNS:localhost, IP:127.0.0.1
  KeyPair frontdesk;                // CN=frontdesk
  KeyPair operations;               // CN=ops-console; DNS:ops.example.com
  KeyPair foreign;                  // CN=frontdesk, from another CA
  KeyPair expired;                  // CN=frontdesk, from the CA, expired yesterday
  std::filesystem::path other_key;  // a key of no certificate here

  // Makes them all in `dir`; fails the calling test (and returns what was made) when openssl
  // does.
  static TestCertificates Make(const std::filesystem::path& dir);
};

// The whole text of a file.
std::string ReadText(const std::filesystem::path& file);

}  // namespace propbridge::testing
