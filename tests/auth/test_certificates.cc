#include "tests/auth/test_certificates.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;

// EC keys, so that making them takes milliseconds.
constexpr const char* kScript = R"(set -e
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() { key "$1.key"; openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 30 -subj "/CN=$2"; }
# cert NAME SUBJECT CA DAYS [EXTENSIONS]
cert() {
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "$2"
  printf '%s\n' "$5" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -days "$4" \
    -extfile "$1.ext" -out "$1.crt"
}
ca ca "propbridge test CA"
ca foreign-ca "another CA"
cert server /CN=localhost ca 30 "subjectAltName=DNS:localhost,IP:127.0.0.1"
cert frontdesk /CN=frontdesk ca 30 "extendedKeyUsage=clientAuth"
cert operations /CN=ops-console ca 30 "subjectAltName=DNS:ops.example.com"
cert foreign /CN=frontdesk foreign-ca 30 "extendedKeyUsage=clientAuth"
cert expired /CN=frontdesk ca -1 "extendedKeyUsage=clientAuth"
key other.key
)";

KeyPair Pair(const fs::path& dir, const std::string& name) {
  return {dir / (name + ".crt"), dir / (name + ".key")};
}

}  // namespace

TestCertificates TestCertificates::Make(const fs::path& dir) {
  WriteFile(dir / "make-certificates.sh", kScript);
  std::string command = "cd '" + dir.string() + "' && sh make-certificates.sh > openssl.log 2>&1";
  if (std::system(command.c_str()) != 0) {
    ADD_FAILURE() << "openssl could not make the test certificates:\n"
                  << ReadText(dir / "openssl.log");
  }
  return {dir / "ca.crt",          Pair(dir, "server"),  Pair(dir, "frontdesk"),
          Pair(dir, "operations"), Pair(dir, "foreign"), Pair(dir, "expired"),
          dir / "other.key"};
}

std::string ReadText(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace propbridge::testing
