#include "daemon/auth/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace propbridge::auth {
namespace {

namespace fs = std::filesystem;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

Status FileError(const char* key, const fs::path& file, const std::string& what) {
  return InvalidArgument(std::string(key) + " " + file.string() + " " + what);
}

// PEM files are a few kilobytes; a bound keeps a misnamed device or log file from being read.
constexpr std::uintmax_t kMaxPemBytes = 1 << 20;

Result<std::string> ReadFile(const char* key, const fs::path& file) {
  std::error_code ec;
  const fs::file_status status = fs::status(file, ec);
  if (fs::exists(status)) {  // else opening it says why
    if (!fs::is_regular_file(status)) return FileError(key, file, "is not a regular file");
    const std::uintmax_t size = fs::file_size(file, ec);
    if (!ec && size > kMaxPemBytes) {
      return FileError(key, file, "is larger than 1 MiB: not a PEM certificate or key");
    }
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return FileError(key, file, std::string("cannot be read: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return FileError(key, file, std::string("cannot be read: ") + std::strerror(errno));
  return text.str();
}

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in the PEM text, in order; an error when there is none or one is broken.
Result<std::vector<Certificate>> ReadCertificates(const char* key, const fs::path& file,
                                                  const std::string& pem) {
  Bio bio = MemoryBio(pem);
  std::vector<Certificate> certificates;
  while (X509* x509 = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(x509);
  }
  unsigned long error = ERR_peek_last_error();
  bool clean_end =
      ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  if (certificates.empty()) return FileError(key, file, "holds no PEM certificate");
  if (!clean_end) return FileError(key, file, "holds a certificate that cannot be read");
  return certificates;
}

}  // namespace

Result<TlsMaterial> ReadTls(const TlsFiles& files) {
  TlsMaterial material;
  material.files = files;

  auto chain = ReadFile("cert_file", files.cert_file);
  if (!chain.ok()) return chain.status();
  auto certificates = ReadCertificates("cert_file", files.cert_file, *chain);
  if (!certificates.ok()) return certificates.status();

  auto key_pem = ReadFile("key_file", files.key_file);
  if (!key_pem.ok()) return key_pem.status();
  Bio key_bio = MemoryBio(*key_pem);
  // No passphrase callback: an encrypted key fails here rather than prompting.
  Key key(PEM_read_bio_PrivateKey(
      key_bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  ERR_clear_error();
  if (!key) {
    return FileError("key_file", files.key_file,
                     "holds no unencrypted PEM private key (to decrypt one: openssl pkey -in "
                     "<encrypted> -out <key>)");
  }
  if (X509_check_private_key(certificates->front().get(), key.get()) != 1) {
    ERR_clear_error();
    return FileError("key_file", files.key_file,
                     "does not belong to the certificate in " + files.cert_file.string());
  }
  material.cert_chain = std::move(*chain);
  material.private_key = std::move(*key_pem);

  if (!files.client_ca_file.empty()) {
    auto ca = ReadFile("client_ca_file", files.client_ca_file);
    if (!ca.ok()) return ca.status();
    auto authorities = ReadCertificates("client_ca_file", files.client_ca_file, *ca);
    if (!authorities.ok()) return authorities.status();
    material.client_ca = std::move(*ca);
  }
  return material;
}

}  // namespace propbridge::auth
